//! `GET /health`: unsigned readiness for load balancers and orchestrators. 200 when every probe
//! (the store, the bus when there is one) answers, else 503; the body says which is not ready.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use http::StatusCode;

use crate::server::AppState;

/// Something the node needs in order to serve: asked on every `/health`.
#[async_trait::async_trait]
pub trait Probe: Send + Sync + 'static {
    /// The name it reports under (`store`, `bus`).
    fn name(&self) -> &'static str;
    /// Ready, with a short description, or the reason it is not.
    async fn check(&self) -> Result<String, String>;
}

/// How long one probe may take before it counts as not ready.
const PROBE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

pub(crate) async fn health(State(state): State<Arc<AppState>>) -> Response {
    let mut ready = true;
    let mut parts = serde_json::Map::new();
    for probe in &state.probes {
        let outcome = match tokio::time::timeout(PROBE_TIMEOUT, probe.check()).await {
            Ok(r) => r,
            Err(_) => Err(format!("no answer within {} s", PROBE_TIMEOUT.as_secs())),
        };
        let value = match outcome {
            Ok(detail) => serde_json::json!({ "ready": true, "detail": detail }),
            Err(reason) => {
                ready = false;
                serde_json::json!({ "ready": false, "detail": reason })
            }
        };
        parts.insert(probe.name().to_owned(), value);
    }
    let body = serde_json::json!({
        "status": if ready { "ok" } else { "unavailable" },
        "checks": parts,
    });
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    crate::server::json(status, body)
}
