//! `GET /metrics`: Prometheus text, unsigned. The names the wire layer records itself (requests,
//! session ends, frames written) are recorded where they happen through the `metrics` facade;
//! the hub's and the throttle's counters are kept as atomics and read here, at scrape time.
//! Rendering belongs to the binary, which installs the recorder ([`Exporter`]).
//!
//! Every label set is bounded: operations come from the `Op` table ("-" for anything not
//! routed), statuses are HTTP codes, close reasons a fixed list.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use http::header::CONTENT_TYPE;
use http::HeaderValue;

use crate::server::AppState;

/// Requests answered, by `operation` and `status`.
pub const REQUESTS: &str = "belfry_requests_total";
/// Seconds from the request's arrival at the dispatcher to its answer, by `operation`.
pub const REQUEST_DURATION: &str = "belfry_request_duration_seconds";
/// Websocket sessions ended, by `reason`.
pub const SESSIONS_CLOSED: &str = "belfry_sessions_closed_total";
/// Frames written to websockets (and flushed).
pub const FRAMES_WRITTEN: &str = "belfry_frames_written_total";

/// Renders what the process's recorder holds, after the binary's own gauges are refreshed.
pub trait Exporter: Send + Sync {
    /// Adds something to run before each render (copying counters kept elsewhere, such as the
    /// accept loop's, into the recorder).
    fn watch(&self, refresh: Box<dyn Fn() + Send + Sync>);
    /// The Prometheus text exposition.
    fn render(&self) -> String;
}

/// Where `/metrics` is served.
pub struct Metrics {
    /// What renders the text.
    pub exporter: Arc<dyn Exporter>,
    /// On the main listener (else on a listener of its own, see [`router`]).
    pub on_main: bool,
}

/// A router serving only `/metrics`, for a listener of its own.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .with_state(state)
}

/// Records one answered request.
pub(crate) fn record_request(operation: &'static str, status: u16, took: Duration) {
    metrics::counter!(REQUESTS, "operation" => operation, "status" => status.to_string())
        .increment(1);
    metrics::histogram!(REQUEST_DURATION, "operation" => operation).record(took.as_secs_f64());
}

/// Records the end of a websocket session.
pub(crate) fn record_session_end(reason: &'static str) {
    metrics::counter!(SESSIONS_CLOSED, "reason" => reason).increment(1);
}

/// `GET /metrics`.
pub(crate) async fn scrape(State(state): State<Arc<AppState>>) -> Response {
    let Some(m) = &state.metrics else {
        let mut res = Response::new(axum::body::Body::empty());
        *res.status_mut() = http::StatusCode::NOT_FOUND;
        return res;
    };
    refresh(&state);
    let mut res = Response::new(axum::body::Body::from(m.exporter.render()));
    res.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    res
}

/// Copies the hub's and the throttle's atomics into the recorder.
fn refresh(state: &AppState) {
    let hub = &state.realtime.hub;
    let s = hub.stats();
    metrics::gauge!("belfry_websocket_sessions_open").set(hub.open_sessions() as f64);
    metrics::gauge!("belfry_hub_inbox_events").set(hub.inbox_len() as f64);
    for (name, value) in [
        ("belfry_frames_queued_total", &s.frames_queued),
        ("belfry_hub_sessions_too_slow_total", &s.sessions_too_slow),
        ("belfry_hub_sessions_refused_total", &s.sessions_refused),
        ("belfry_hub_inbox_overflows_total", &s.inbox_overflows),
        ("belfry_hub_gap_resets_total", &s.gap_resets),
        ("belfry_hub_connect_resyncs_total", &s.connect_resyncs),
    ] {
        metrics::counter!(name).absolute(value.load(Relaxed));
    }
    let t = state.throttle.stats();
    for (class, value) in [
        ("read", &t.reads),
        ("write", &t.writes),
        ("session_endpoint", &t.session_endpoint),
        ("connect", &t.connects),
        ("no_room", &t.no_room),
    ] {
        metrics::counter!("belfry_throttled_total", "class" => class).absolute(value.load(Relaxed));
    }
    metrics::counter!("belfry_throttle_buckets_evicted_total").absolute(t.evicted.load(Relaxed));
    metrics::gauge!("belfry_throttle_buckets").set(state.throttle.buckets() as f64);
}
