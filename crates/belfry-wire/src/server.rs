//! The HTTP face: `/health`, Belfry's admin API (`admin`), and one dispatcher for every AWS operation,
//! all behind the CORS policy (`cors`). The dispatcher reads
//! the bounded body, verifies SigV4, routes on the raw path, runs the handler and renders the
//! reply or the AWS error, stamping `x-amzn-RequestId` and `Date` on every response and logging
//! one line per request. Each request runs inside a `request` span carrying its request id (and
//! its operation once routed), so every line logged on its behalf, however deep, names it.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use axum::routing::{delete, get, post};
use axum::Router;
use belfry_core::auth::Caller;
use belfry_core::time::Clock;
use belfry_core::{CoreError, Services};
use belfry_sigv4::RequestParts;
use http::header::{CONTENT_TYPE, DATE};
use http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use tokio_util::sync::CancellationToken;
use tower_http::catch_panic::CatchPanicLayer;
use tracing::Instrument;

use crate::auth::Authenticator;
use crate::error::{ApiError, Rendered};
use crate::handlers::{self, Reply};
use crate::ops::Op;
use crate::request::{ApiRequest, BEARER_HEADER};
use crate::router::{self, NoRoute};
use crate::session::Realtime;
use crate::throttle::{Class, Throttle, Throttled};

/// Everything a request needs, shared by all requests.
pub struct AppState {
    /// The domain services.
    pub services: Services,
    /// Who may call.
    pub auth: Authenticator,
    /// Largest accepted request body, in bytes.
    pub max_body: usize,
    /// How long a request body may take to arrive.
    pub body_timeout: Duration,
    /// Websocket sessions.
    pub realtime: Realtime,
    /// Request rate limits.
    pub throttle: Throttle,
    /// Origins a browser page may call from (CORS).
    pub cors: crate::cors::CorsOrigins,
    /// Where "now" comes from for the SigV4 signature window (the services hold the same
    /// clock for timestamps).
    pub clock: Arc<dyn Clock>,
    /// Cancelled when the server is asked to stop (SIGTERM/SIGINT, or a test): the listener
    /// stops accepting and drains its requests, and the realtime hub closes every session.
    pub shutdown: CancellationToken,
    /// What `/health` asks: the store, the bus.
    pub probes: Vec<Arc<dyn crate::health::Probe>>,
    /// `/metrics`, unless it is off.
    pub metrics: Option<crate::metrics::Metrics>,
}

/// The axum router for the whole API. CORS wraps everything, the panic guard included, so
/// that a browser can read every answer (errors above all) from an allowed origin.
pub fn router(state: Arc<AppState>) -> Router {
    let cors = crate::cors::layer(state.cors.clone());
    let mut r = Router::new();
    if state.metrics.as_ref().is_some_and(|m| m.on_main) {
        r = r.route("/metrics", get(crate::metrics::scrape));
    }
    r.route("/health", get(crate::health::health))
        .route(
            "/admin/keys",
            get(crate::admin::list_keys).post(crate::admin::create_key),
        )
        .route("/admin/keys/{id}", delete(crate::admin::delete_key))
        .route("/admin/backup", post(crate::admin::backup))
        .route("/connect", get(crate::session::connect))
        .route("/realtime/stats", get(crate::session::stats))
        .fallback(dispatch)
        .with_state(state)
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(cors)
        .layer(axum::middleware::from_fn(crate::cors::gate))
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("handler panicked");
    let rendered = ApiError::Core(CoreError::internal("panic")).render();
    error_response(&rendered, &uuid::Uuid::new_v4().to_string())
}

async fn dispatch(State(state): State<Arc<AppState>>, req: Request) -> Response {
    // Runs on its own task so that a client hanging up cannot cancel a write between its
    // commit and the publishing of its event: the realtime hub would wait for that event.
    let request_id = uuid::Uuid::new_v4().to_string();
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        operation = tracing::field::Empty
    );
    match tokio::spawn(respond(state, req, request_id).instrument(span)).await {
        Ok(response) => response,
        Err(e) => panic_response(Box::new(e.to_string())),
    }
}

async fn respond(state: Arc<AppState>, req: Request, request_id: String) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let (op, result) = process(&state, req).await;
    let op_name = op.map(Op::name).unwrap_or("-");
    let (mut response, error_type) = match result {
        Ok((status, Reply::Json(body))) => {
            let mut res = Response::new(Body::from(body));
            *res.status_mut() = status;
            res.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            (res, "")
        }
        Ok((status, Reply::Empty)) => {
            let mut res = Response::new(Body::empty());
            *res.status_mut() = status;
            (res, "")
        }
        Err(e) => {
            let rendered = e.render();
            if let Some(detail) = &rendered.log_detail {
                tracing::error!(request_id = %request_id, detail = %detail, "internal error");
            }
            (error_response(&rendered, &request_id), rendered.error_type)
        }
    };
    stamp(&mut response, &request_id);
    let took = started.elapsed();
    let status = response.status().as_u16();
    crate::metrics::record_request(op_name, status, took);
    tracing::info!(
        request_id = %request_id,
        operation = op_name,
        method = %method,
        status,
        error = error_type,
        latency_us = took.as_micros() as u64,
        "request"
    );
    response
}

type Outcome = Result<(StatusCode, Reply), ApiError>;

async fn process(state: &AppState, req: Request) -> (Option<Op>, Outcome) {
    let (parts, body) = req.into_parts();
    let body = match crate::body::read(body, state.max_body, state.body_timeout).await {
        Ok(b) => b,
        Err(e) => return (None, Err(e)),
    };
    let raw_path = parts.uri.path();
    let raw_query = parts.uri.query().unwrap_or("");
    let caller =
        match authenticate_request(state, &parts.method, &parts.uri, &parts.headers, &body).await {
            Ok(c) => c,
            Err(e) => return (None, Err(e)),
        };
    let Some(query) = router::parse_query(raw_query) else {
        return (
            None,
            Err(CoreError::bad("The query string is not valid percent-encoded UTF-8.").into()),
        );
    };
    let matched = match router::find(&parts.method, raw_path, &query) {
        Ok(m) => m,
        Err(NoRoute::UnknownOperation(what)) => {
            return (None, Err(ApiError::UnknownOperation(what)))
        }
        // After the signature, before the throttle and anything else.
        Err(NoRoute::NotImplemented(name)) => return (None, Err(ApiError::NotImplemented(name))),
        Err(NoRoute::UnknownPath | NoRoute::MethodNotAllowed) => {
            return (
                None,
                Err(ApiError::UnknownOperation(format!(
                    "{} {}",
                    parts.method, raw_path
                ))),
            )
        }
    };
    let op = matched.route.op;
    tracing::Span::current().record("operation", op.name());
    // After the signature, so that only a key's holder can spend its buckets (or a bearer's
    // it may act as); after routing, which is pure, to tell reads from writes. The body was
    // read before, bounded, because the signature covers it.
    let bearer = parts
        .headers
        .get(BEARER_HEADER)
        .and_then(|v| v.to_str().ok());
    let class = Class::of(op, &matched.route.method);
    if let Err(Throttled(message)) = state
        .throttle
        .request(&caller, bearer, class, Instant::now())
    {
        return (Some(op), Err(CoreError::Throttled(message).into()));
    }
    let status = StatusCode::from_u16(matched.route.status).unwrap_or(StatusCode::OK);
    let api = ApiRequest {
        labels: matched.labels,
        query,
        headers: parts.headers,
        body,
        caller,
    };
    let result = handlers::handle(op, state, &api).await;
    (Some(op), result.map(|reply| (status, reply)))
}

/// Verifies a request's SigV4 signature (header or presigned) against the server's clock and
/// returns who signed it: the one check every signed entry point makes.
pub(crate) async fn authenticate_request(
    state: &AppState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Caller, ApiError> {
    let texts = crate::request::header_texts(headers);
    let pairs: Vec<(&str, &str)> = texts.iter().map(|(k, v)| (*k, v.as_ref())).collect();
    let signed = RequestParts {
        method: method.as_str(),
        raw_path: uri.path(),
        raw_query: uri.query().unwrap_or(""),
        headers: &pairs,
        body,
    };
    state
        .auth
        .authenticate(&signed, state.clock.now().system_time())
        .await
}

/// A JSON answer with `status`.
pub(crate) fn json(status: StatusCode, value: serde_json::Value) -> Response {
    let mut res = Response::new(Body::from(value.to_string()));
    *res.status_mut() = status;
    res.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    res
}

pub(crate) fn error_response(r: &Rendered, request_id: &str) -> Response {
    let body = serde_json::json!({ "Code": r.code, "Message": r.message });
    let mut res = Response::new(Body::from(body.to_string()));
    *res.status_mut() = r.status;
    let headers = res.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert("x-amzn-ErrorType", HeaderValue::from_static(r.error_type));
    stamp(&mut res, request_id);
    res
}

/// Sets `x-amzn-RequestId` and `Date`, which every answer carries.
pub(crate) fn stamp(res: &mut Response, request_id: &str) {
    let headers = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-RequestId", v);
    }
    if let Ok(v) = HeaderValue::from_str(&httpdate::fmt_http_date(SystemTime::now())) {
        headers.insert(DATE, v);
    }
}

/// Default clock skew a signature may have (AWS's five minutes).
pub const DEFAULT_MAX_SKEW: Duration = Duration::from_secs(300);
