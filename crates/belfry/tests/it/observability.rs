//! `GET /metrics` (its series, where it is served) and the request id on every log line a
//! request causes.
//!
//! The Prometheus recorder is process-wide, so counters here also count other tests' work:
//! the checks compare a scrape after this test's work with one before it.

use std::io::Write;
use std::sync::{Arc, Mutex};

use aws_sdk_chimesdkmessaging::operation::RequestId;
use aws_sdk_chimesdkmessaging::types::ChannelPrivacy;
use belfry::MetricsMode;
use belfry_core::events::{EventBus, Published};

use crate::harness::*;
use crate::messages::{send, Room};
use crate::ws::Ws;

/// The scrape of `/metrics` at `base` (`http://host:port`).
pub(crate) async fn scrape(base: &str) -> String {
    let res = reqwest::get(format!("{base}/metrics")).await.unwrap();
    assert_eq!(res.status(), 200);
    let kind = res.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(kind.starts_with("text/plain; version=0.0.4"), "{kind}");
    res.text().await.unwrap()
}

/// The sum of the samples of `name` whose labels include every one of `labels`.
pub(crate) fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, v) = l.rsplit_once(' ')?;
            let (n, rest) = match series.split_once('{') {
                Some((n, rest)) => (n, rest),
                None => (series, ""),
            };
            let all = labels
                .iter()
                .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")));
            (n == name && all).then(|| v.parse::<f64>().ok())?
        })
        .sum()
}

#[tokio::test]
async fn metrics_count_requests_sessions_frames_and_store_writes() {
    let s = TestServer::start().await;
    let r = Room::new(&s, &["owner", "ann"], ChannelPrivacy::Private).await;
    let before = scrape(&s.endpoint).await;
    let mut ann = Ws::established(&s, r.user(1), "m1").await;
    send(&s.messaging(), &r.ch, r.user(0), "counted")
        .send()
        .await
        .unwrap();
    ann.expect("CREATE_CHANNEL_MESSAGE").await;
    // A second socket with the same sessionId replaces the first, which is closed 4003.
    let _again = Ws::established(&s, r.user(1), "m1").await;
    assert_eq!(ann.closed().await, 4003);
    // One the server does not know: counted under "-", never under a label of its own.
    let unknown = reqwest::get(format!("{}/no-such-route", s.endpoint))
        .await
        .unwrap();
    assert_ne!(unknown.status(), 200);
    let after = scrape(&s.endpoint).await;

    let grew = |name: &str, labels: &[(&str, &str)]| {
        value(&after, name, labels) - value(&before, name, labels)
    };
    let send_op = [("operation", "SendChannelMessage"), ("status", "201")];
    assert!(grew("belfry_requests_total", &send_op) >= 1.0, "{after}");
    assert!(grew("belfry_requests_total", &[("operation", "-")]) >= 1.0);
    assert!(
        !after.contains("no-such-route"),
        "a path never becomes a label"
    );
    let sends = [("operation", "SendChannelMessage")];
    assert!(grew("belfry_request_duration_seconds_count", &sends) >= 1.0);
    assert!(
        value(
            &after,
            "belfry_request_duration_seconds_bucket",
            &[("operation", "SendChannelMessage"), ("le", "+Inf")]
        ) >= 1.0,
        "a histogram with buckets, not a summary: {after}"
    );
    assert!(grew("belfry_frames_written_total", &[]) >= 1.0);
    assert!(grew("belfry_frames_queued_total", &[]) >= 1.0);
    assert!(grew("belfry_sessions_closed_total", &[("reason", "replaced")]) >= 1.0);
    assert!(grew("belfry_store_write_seconds_count", &[("store", "sqlite")]) >= 1.0);
    // Read from this server's atomics at scrape time.
    for gauge in [
        "belfry_websocket_sessions_open",
        "belfry_connections_open",
        "belfry_hub_inbox_events",
        "belfry_sqlite_writer_queue_jobs",
        "belfry_throttle_buckets",
    ] {
        assert!(
            after.lines().any(|l| l.starts_with(gauge)),
            "{gauge} in {after}"
        );
    }
    assert!(value(&after, "belfry_connections_accepted_total", &[]) >= 1.0);
    for series in [
        "belfry_throttled_total{class=\"read\"}",
        "belfry_connections_evicted_total",
        "belfry_connections_limit_reached_total",
        "belfry_hub_gap_resets_total",
    ] {
        assert!(after.contains(series), "{series} in {after}");
    }
    s.stop().await;
}

#[tokio::test]
async fn metrics_on_a_listener_of_its_own_are_not_served_on_the_api_one() {
    let s =
        TestServer::configured(|c| c.metrics = MetricsMode::Listen("127.0.0.1:0".parse().unwrap()))
            .await;
    let own = s.metrics_addr.expect("a metrics listener");
    assert_ne!(own, s.addr);
    let text = scrape(&format!("http://{own}")).await;
    assert!(text.contains("belfry_connections_open"), "{text}");
    let main = reqwest::get(format!("{}/metrics", s.endpoint))
        .await
        .unwrap();
    assert_ne!(main.status(), 200);
    assert!(!main.text().await.unwrap().contains("belfry_"));
    s.stop().await;

    let off = TestServer::configured(|c| c.metrics = MetricsMode::Off).await;
    assert_eq!(off.metrics_addr, None);
    let main = reqwest::get(format!("{}/metrics", off.endpoint))
        .await
        .unwrap();
    assert_ne!(main.status(), 200);
    off.stop().await;
}

/// A log buffer the JSON subscriber writes to.
#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// An event bus that logs from inside the services, the way a warning deep in a request would.
struct Deep;

impl EventBus for Deep {
    fn publish(&self, event: Published) {
        tracing::warn!(seq = ?event.seq, "deep inside the request: event published");
    }
}

// One thread: the subscriber set for this test is the thread's default, and every task of the
// server (each request runs on a task of its own) runs on this thread.
#[tokio::test(flavor = "current_thread")]
async fn every_line_logged_inside_a_request_carries_its_request_id() {
    // While only one dispatcher exists, tracing caches a callsite's interest from the default
    // of whichever thread hits it first: a callsite first hit by a test running beside this one
    // (no subscriber there) would stay off. A second, silent dispatcher keeps tracing asking
    // every dispatcher instead.
    let _second = tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default());
    let buf = Buf::default();
    let writer = buf.clone();
    let subscriber =
        belfry::logging::json_subscriber(tracing_subscriber::EnvFilter::new("info"), move || {
            writer.clone()
        });
    let _default = tracing::subscriber::set_default(subscriber);
    let s = TestServer::start_with_events(Arc::new(Deep)).await;
    let r = Room::new(&s, &["owner", "ann"], ChannelPrivacy::Private).await;
    let sent = send(&s.messaging(), &r.ch, r.user(0), "traced")
        .send()
        .await
        .unwrap();
    let request_id = sent.request_id().expect("x-amzn-RequestId").to_owned();
    s.stop().await;

    let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let of_request: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| l["span"]["request_id"] == request_id.as_str())
        .collect();
    let deep = of_request
        .iter()
        .find(|l| l["message"] == "deep inside the request: event published")
        .unwrap_or_else(|| panic!("no deep line with request id {request_id} in {text}"));
    assert_eq!(deep["span"]["operation"], "SendChannelMessage");
    assert_eq!(deep["level"], "WARN");
    // The request's own line too, and no line of another request claims this id.
    assert!(of_request.iter().any(|l| l["message"] == "request"));
    let deep_lines = lines
        .iter()
        .filter(|l| l["message"] == "deep inside the request: event published")
        .count();
    assert!(deep_lines > 1, "the room's memberships were published too");
    assert_eq!(
        of_request
            .iter()
            .filter(|l| l["message"] == "deep inside the request: event published")
            .count(),
        1
    );
}
