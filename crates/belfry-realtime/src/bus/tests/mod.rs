//! The bus against the real NATS server on 127.0.0.1:4222 (each test on its own subject), with
//! an in-memory outbox shared by the nodes and a TCP proxy to cut a node off.

mod fanout;
mod outage;
mod outbox;
mod proxy;

use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use belfry_core::store::Outbox;

use crate::tests::Names;
use crate::{Bus, BusConfig, Delivery, Hub, HubConfig, Session};

pub(super) const NATS: &str = "127.0.0.1:4222";

/// The server must be there: a test that cannot reach it fails, saying what to install.
pub(super) fn nats_url() -> String {
    if let Err(e) = TcpStream::connect_timeout(
        &NATS.parse().expect("a socket address"),
        Duration::from_secs(2),
    ) {
        panic!(
            "NATS is not reachable at {NATS} ({e}): install the Debian package `nats-server` \
             and run `nats-server -js` (these tests need a real server; they are never skipped)"
        );
    }
    format!("nats://{NATS}")
}

/// A subject of this test's own, so parallel tests (and runs) do not see each other's events.
pub(super) fn subject() -> String {
    format!("belfry.test.{}", uuid::Uuid::new_v4().simple())
}

pub(super) fn config(url: &str, subject: &str) -> BusConfig {
    BusConfig {
        url: url.into(),
        subject: subject.into(),
        relay_tick: Duration::from_millis(50),
        lease: Duration::from_millis(300),
        reconnect_max_delay: Duration::from_millis(50),
        round_trip_timeout: Duration::from_secs(1),
        ..BusConfig::default()
    }
}

/// One node: its hub and its bus.
pub(super) struct Node {
    pub(super) hub: Hub,
    pub(super) bus: Bus,
}

pub(super) async fn node(config: BusConfig, outbox: Arc<dyn Outbox>) -> Node {
    let hub = Hub::start(HubConfig::default(), Arc::new(Names));
    let bus = Bus::start(config, outbox, hub.clone())
        .await
        .expect("the bus starts");
    Node { hub, bus }
}

/// A node whose bus is connected.
pub(super) async fn ready_node(config: BusConfig, outbox: Arc<dyn Outbox>) -> Node {
    let n = node(config, outbox).await;
    wait_until("the bus is ready", || n.bus.ready()).await;
    n
}

pub(super) async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The next `n` frames of `s`, as text; fails on a close or if they do not come.
pub(super) async fn frames(s: &mut Session, n: usize) -> Vec<String> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        match tokio::time::timeout(Duration::from_secs(10), s.next()).await {
            Ok(Delivery::Frame(f)) => {
                out.push(String::from_utf8(f.bytes.to_vec()).expect("text"));
                f.written();
            }
            Ok(Delivery::Close(r)) => panic!("closed with {r:?} after {out:?}"),
            Err(_) => panic!("only {} of {n} frames came: {out:?}", out.len()),
        }
    }
    out
}

/// Whatever reaches `s` within `window` (to show nothing more comes).
pub(super) async fn more(s: &mut Session, window: Duration) -> Vec<String> {
    let mut out = Vec::new();
    let _ = tokio::time::timeout(window, async {
        loop {
            match s.next().await {
                Delivery::Frame(f) => {
                    out.push(String::from_utf8(f.bytes.to_vec()).expect("text"));
                    f.written();
                }
                Delivery::Close(r) => {
                    out.push(format!("closed {r:?}"));
                    return;
                }
            }
        }
    })
    .await;
    out
}
