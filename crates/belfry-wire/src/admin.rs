//! Belfry's own admin API (not an AWS operation): access keys kept in the store, so every node
//! accepts them at once. Signed with SigV4 like any request, by an admin key.
//!
//! - `GET /admin/keys` lists stored keys (no secrets);
//! - `POST /admin/keys` with `{"Bearers": ["arn:…/user/alice"]}` makes a scoped key and answers
//!   its id and secret, the only time the secret is shown;
//! - `DELETE /admin/keys/{id}` revokes one (keys of the config file cannot be: remove them
//!   there): requests it signs are refused from then on, and the websocket sessions it opened
//!   are closed with 4401 on every node;
//! - `POST /admin/backup` answers a consistent copy of the embedded SQLite database, made
//!   while the server keeps serving (`application/vnd.sqlite3`); on PostgreSQL, 400: use
//!   `pg_dump`.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::response::Response;
use belfry_core::auth::Grant;
use belfry_core::store::StoredKey;
use belfry_core::CoreError;
use http::{HeaderValue, StatusCode};
use rand::distributions::{Alphanumeric, DistString};
use serde::Deserialize;

use crate::error::ApiError;
use crate::server::{authenticate_request, error_response, json, stamp, AppState};

/// ARN patterns one key may carry at most, and their length.
const MAX_BEARERS: usize = 100;
const MAX_PATTERN_LEN: usize = 1600;

/// Reads the bounded body and verifies the signature; only admin keys pass.
async fn admin_request(state: &AppState, req: Request) -> Result<Bytes, ApiError> {
    let (parts, body) = req.into_parts();
    let body = crate::body::read(body, state.max_body, state.body_timeout).await?;
    let caller =
        authenticate_request(state, &parts.method, &parts.uri, &parts.headers, &body).await?;
    if !matches!(caller.grant, Grant::Admin) {
        return Err(CoreError::forbidden(format!(
            "The access key {} is not an admin key; managing keys needs one.",
            caller.access_key_id
        ))
        .into());
    }
    Ok(body)
}

fn answer(result: Result<Response, ApiError>, action: &str) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    match result {
        Ok(mut res) => {
            stamp(&mut res, &request_id);
            tracing::info!(request_id = %request_id, action, status = res.status().as_u16(), "admin");
            res
        }
        Err(e) => {
            let rendered = e.render();
            tracing::info!(request_id = %request_id, action, status = rendered.status.as_u16(), error = rendered.error_type, "admin");
            error_response(&rendered, &request_id)
        }
    }
}

/// `GET /admin/keys`.
pub(crate) async fn list_keys(State(state): State<Arc<AppState>>, req: Request) -> Response {
    answer(list(&state, req).await, "ListAccessKeys")
}

async fn list(state: &AppState, req: Request) -> Result<Response, ApiError> {
    admin_request(state, req).await?;
    let keys = state
        .services
        .store()
        .list_access_keys()
        .await
        .map_err(CoreError::from)?;
    let keys: Vec<serde_json::Value> = keys
        .into_iter()
        .map(|k| {
            serde_json::json!({
                "AccessKeyId": k.id,
                "Bearers": k.bearers,
                "CreatedTimestamp": k.created.0 as f64 / 1000.0,
            })
        })
        .collect();
    Ok(json(
        StatusCode::OK,
        serde_json::json!({ "AccessKeys": keys }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateKey {
    #[serde(rename = "Bearers")]
    bearers: Vec<String>,
}

/// `POST /admin/keys`.
pub(crate) async fn create_key(State(state): State<Arc<AppState>>, req: Request) -> Response {
    answer(create(&state, req).await, "CreateAccessKey")
}

async fn create(state: &AppState, req: Request) -> Result<Response, ApiError> {
    let body = admin_request(state, req).await?;
    let input: CreateKey = serde_json::from_slice(&body).map_err(|e| {
        CoreError::bad(format!(
            "The body must be {{\"Bearers\": [\"<AppInstanceUser ARN pattern>\", …]}}: {e}"
        ))
    })?;
    if input.bearers.is_empty() || input.bearers.len() > MAX_BEARERS {
        return Err(CoreError::bad(format!(
            "Bearers must hold between 1 and {MAX_BEARERS} ARN patterns."
        ))
        .into());
    }
    if let Some(p) = input
        .bearers
        .iter()
        .find(|p| p.is_empty() || p.len() > MAX_PATTERN_LEN)
    {
        return Err(CoreError::bad(format!(
            "Each Bearers pattern must be 1 to {MAX_PATTERN_LEN} characters long ({} is not).",
            p.len()
        ))
        .into());
    }
    // The thread's generator is not Send: draw before the first await.
    let (id, secret) = {
        let mut rng = rand::thread_rng();
        (
            format!(
                "AKIA{}",
                Alphanumeric.sample_string(&mut rng, 16).to_uppercase()
            ),
            Alphanumeric.sample_string(&mut rng, 40),
        )
    };
    let key = StoredKey {
        id,
        secret,
        bearers: Some(input.bearers),
        created: state.clock.now(),
    };
    state
        .services
        .store()
        .create_access_key(key.clone())
        .await
        .map_err(CoreError::from)?;
    Ok(json(
        StatusCode::CREATED,
        serde_json::json!({
            "AccessKeyId": key.id,
            "SecretAccessKey": key.secret,
            "Bearers": key.bearers,
        }),
    ))
}

/// `DELETE /admin/keys/{id}`.
pub(crate) async fn delete_key(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    req: Request,
) -> Response {
    answer(delete(&state, &id, req).await, "DeleteAccessKey")
}

async fn delete(state: &AppState, id: &str, req: Request) -> Result<Response, ApiError> {
    admin_request(state, req).await?;
    if state.auth.is_configured(id) {
        return Err(CoreError::bad(format!(
            "The access key {id} comes from the configuration file or the environment; remove it there."
        ))
        .into());
    }
    let deleted = state.services.revoke_access_key(id).await?;
    if !deleted {
        return Err(CoreError::NotFound(format!("The access key {id} does not exist.")).into());
    }
    let mut res = Response::new(Body::empty());
    *res.status_mut() = StatusCode::NO_CONTENT;
    Ok(res)
}

/// `POST /admin/backup`.
pub(crate) async fn backup(State(state): State<Arc<AppState>>, req: Request) -> Response {
    answer(make_backup(&state, req).await, "Backup")
}

async fn make_backup(state: &AppState, req: Request) -> Result<Response, ApiError> {
    admin_request(state, req).await?;
    let Some(path) = state
        .services
        .store()
        .backup()
        .await
        .map_err(CoreError::from)?
    else {
        return Err(CoreError::bad(
            "This server's store is PostgreSQL: back it up with pg_dump (every node shares it).",
        )
        .into());
    };
    let opened = tokio::fs::File::open(&path).await;
    // Unlinked at once: the open file stays readable, and nothing is left behind if the
    // client goes away mid-stream.
    let _ = tokio::fs::remove_file(&path).await;
    let file = opened.map_err(|e| CoreError::internal(format!("opening the backup: {e}")))?;
    let len = file
        .metadata()
        .await
        .map_err(|e| CoreError::internal(format!("reading the backup's size: {e}")))?
        .len();
    let chunks = tokio_util::io::ReaderStream::with_capacity(file, 256 << 10);
    let mut res = Response::new(Body::from_stream(chunks));
    res.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/vnd.sqlite3"),
    );
    res.headers_mut()
        .insert(http::header::CONTENT_LENGTH, HeaderValue::from(len));
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A success carries the same `x-amzn-RequestId` and `Date` an error does (hyper would add
    /// a `Date` on the wire anyway, but not to the response the router hands on).
    #[test]
    fn successes_and_errors_are_stamped_alike() {
        let ok = answer(Ok(json(StatusCode::OK, serde_json::json!({}))), "Test");
        let err = answer(
            Err(CoreError::NotFound("no such key".into()).into()),
            "Test",
        );
        for res in [&ok, &err] {
            let id = res.headers().get("x-amzn-RequestId");
            assert_eq!(id.map(|v| v.len()), Some(36), "{:?}", res.headers());
            let date = res.headers().get(http::header::DATE);
            let date = date.and_then(|v| v.to_str().ok()).unwrap_or_default();
            assert!(httpdate::parse_http_date(date).is_ok(), "{date:?}");
        }
        assert_eq!(ok.status(), StatusCode::OK);
        assert_eq!(err.status(), StatusCode::NOT_FOUND);
    }
}
