//! Losing NATS, or messages in the client: sessions are closed (1013) rather than left to
//! miss events, and none are accepted until the bus is back.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::outbox::MemOutbox;
use super::proxy::Proxy;
use super::{config, frames, nats_url, node, ready_node, subject, wait_until, NATS};
use crate::tests::{chan, closed_with, send, user};
use crate::{BusConfig, CloseReason, Hub, Refused, Session};

async fn session(hub: &Hub, channels: &[(&str, u64)]) -> Session {
    let mut s = hub
        .open(user("ann"), "1".into())
        .expect("the hub accepts sessions");
    s.subscribe(channels.iter().map(|(c, q)| (chan(c), *q)).collect())
        .await;
    s
}

fn refused(hub: &Hub) -> Option<Refused> {
    hub.open(user("ann"), "probe".into()).err()
}

#[tokio::test]
async fn a_node_cut_off_from_nats_closes_its_sessions_and_refuses_new_ones_until_it_is_back() {
    let (url, subject) = (nats_url(), subject());
    let outbox = Arc::new(MemOutbox::default());
    let proxy = Proxy::start(NATS).await;
    let b = ready_node(config(&url, &subject), outbox.clone()).await;
    let commit_on_b = |seq: u64| {
        let event = send("c", seq, "bob", &seq.to_string());
        outbox.put(event.clone());
        b.bus.publisher().publish(event);
    };

    // A node starts while NATS is unreachable: it is up, its bus is not.
    proxy.cut();
    let a = node(config(&proxy.url(), &subject), outbox.clone()).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!a.bus.ready());
    assert_eq!(refused(&a.hub), Some(Refused::Unavailable));

    proxy.restore();
    wait_until("node a connects", || a.bus.ready()).await;
    let mut s = session(&a.hub, &[("c", 0)]).await;
    commit_on_b(1);
    assert_eq!(frames(&mut s, 1).await, ["msg 1"]);

    proxy.cut();
    assert_eq!(closed_with(&mut s).await, CloseReason::BUS_UNAVAILABLE);
    assert!(!a.bus.ready());
    assert_eq!(refused(&a.hub), Some(Refused::Unavailable));
    let stats = a.bus.stats();
    assert!(stats.disconnects >= 1, "{stats:?}");
    assert!(stats.last_error.is_some(), "{stats:?}");

    // The other node goes on meanwhile.
    commit_on_b(2);
    wait_until("node b relays", || outbox.len() == 0).await;

    proxy.restore();
    wait_until("node a reconnects", || a.bus.ready()).await;
    // A client reconnecting reads its state again (the channel at 2), then gets what follows,
    // relayed by node a this time.
    let mut s = session(&a.hub, &[("c", 2)]).await;
    let event = send("c", 3, "bob", "3");
    outbox.put(event.clone());
    a.bus.publisher().publish(event);
    assert_eq!(frames(&mut s, 1).await, ["msg 3"]);
}

#[tokio::test]
async fn messages_dropped_by_the_client_reset_every_session() {
    let (url, subject) = (nats_url(), subject());
    let outbox = Arc::new(MemOutbox::default());
    let tiny = BusConfig {
        subscription_capacity: 1,
        ..config(&url, &subject)
    };
    let n = ready_node(tiny, outbox).await;
    let mut s = session(&n.hub, &[("c", 0)]).await;
    let flood = async_nats::connect(url.as_str()).await.unwrap();
    for _ in 0..20_000 {
        flood
            .publish(subject.clone(), Bytes::from_static(b"x"))
            .await
            .unwrap();
    }
    flood.flush().await.unwrap();
    assert_eq!(closed_with(&mut s).await, CloseReason::BUS_UNAVAILABLE);
    let stats = n.bus.stats();
    assert!(stats.slow_consumers >= 1, "{stats:?}");
    assert!(
        stats.undecodable < 20_000,
        "some messages were dropped: {stats:?}"
    );
    // Still connected: nothing was lost after this point.
    assert!(n.bus.ready());
}

#[tokio::test]
async fn a_bad_configuration_fails_to_start_and_leaves_the_hub_alone() {
    let hub = Hub::start(crate::HubConfig::default(), Arc::new(crate::tests::Names));
    let outbox = Arc::new(MemOutbox::default());
    let url = "nats://127.0.0.1:4222";
    for (config, says) in [
        (config(url, "belfry.*"), "subject"),
        (config(url, ""), "subject"),
        (config("not a url at all://", "belfry.events"), "cannot use"),
        (
            BusConfig {
                relay_batch: 0,
                ..config(url, "belfry.events")
            },
            "relay_batch",
        ),
    ] {
        let started = crate::Bus::start(config.clone(), outbox.clone(), hub.clone()).await;
        let error = started.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(error.contains(says), "{config:?}: {error:?}");
    }
    assert!(hub.is_available());
}
