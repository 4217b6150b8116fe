//! Events from the outbox (and NON_PERSISTENT ones) reach every node's sessions, in order,
//! once.

use std::sync::Arc;
use std::time::Duration;

use belfry_core::events::{DomainEvent, Published};
use belfry_core::model::Persistence;
use belfry_core::store::Outbox;
use belfry_core::time::Timestamp;
use bytes::Bytes;
use tokio::time::Instant;

use super::outbox::MemOutbox;
use super::{config, frames, more, nats_url, ready_node, subject, wait_until, Node};
use crate::tests::{chan, msg, send, user};
use crate::{BusConfig, Hub, Session};

async fn session(hub: &Hub, who: &str, channels: &[(&str, u64)]) -> Session {
    let mut s = hub
        .open(user(who), "1".into())
        .expect("the hub accepts sessions");
    s.subscribe(channels.iter().map(|(c, q)| (chan(c), *q)).collect())
        .await;
    s
}

fn texts(seqs: impl IntoIterator<Item = u64>) -> Vec<String> {
    seqs.into_iter().map(|i| format!("msg {i}")).collect()
}

/// A write on `node` commits channel event `seq`: its row goes in the outbox, then the node's
/// publisher is told.
fn commit(outbox: &MemOutbox, node: &Node, seq: u64) {
    let event = send("c", seq, "ann", &seq.to_string());
    outbox.put(event.clone());
    node.bus.publisher().publish(event);
}

#[tokio::test]
async fn events_relayed_by_two_nodes_reach_each_session_once_and_in_order() {
    let (url, subject) = (nats_url(), subject());
    let outbox = Arc::new(MemOutbox::default());
    // Small batches, so the two relays take turns.
    let small = BusConfig {
        relay_batch: 5,
        ..config(&url, &subject)
    };
    let a = ready_node(small.clone(), outbox.clone()).await;
    let b = ready_node(small, outbox.clone()).await;
    let mut on_a = session(&a.hub, "ann", &[("c", 0)]).await;
    let mut on_b = session(&b.hub, "bob", &[("c", 0)]).await;

    // Both nodes commit; their rows land in the outbox out of sequence order, as concurrent
    // transactions' rows do.
    for i in 1..=100u64 {
        let seq = i * 37 % 101;
        commit(&outbox, if seq % 2 == 0 { &a } else { &b }, seq);
    }

    assert_eq!(frames(&mut on_b, 100).await, texts(1..=100));
    assert_eq!(frames(&mut on_a, 100).await, texts(1..=100));
    wait_until("the outbox is drained", || outbox.len() == 0).await;
    assert!(more(&mut on_b, Duration::from_millis(300)).await.is_empty());
    assert!(more(&mut on_a, Duration::from_millis(10)).await.is_empty());
    let (sa, sb) = (a.bus.stats(), b.bus.stats());
    assert!(
        sa.relayed > 0 && sb.relayed > 0,
        "both relays published: {sa:?} {sb:?}"
    );
    assert_eq!(sa.relayed + sb.relayed, 100, "{sa:?} {sb:?}");
    assert_eq!((sa.received, sb.received), (100, 100));
}

#[tokio::test]
async fn a_dead_relay_s_entries_are_relayed_by_another_node_when_its_lease_runs_out() {
    let (url, subject) = (nats_url(), subject());
    let outbox = Arc::new(MemOutbox::default());
    for seq in 1..=3 {
        outbox.put(send("c", seq, "ann", &seq.to_string()));
    }
    // A relay leased them, then its node died before acknowledging.
    let dead_lease = Duration::from_secs(1);
    let leased_at = Instant::now();
    let held = outbox.lease_events(10, dead_lease).await.unwrap();
    assert_eq!(held.len(), 3);

    let b = ready_node(config(&url, &subject), outbox.clone()).await;
    let mut on_b = session(&b.hub, "bob", &[("c", 0)]).await;
    assert_eq!(frames(&mut on_b, 3).await, texts(1..=3));
    assert!(
        leased_at.elapsed() >= dead_lease,
        "relayed only after the dead relay's lease ran out"
    );
    wait_until("the outbox is drained", || outbox.len() == 0).await;
    assert_eq!(b.bus.stats().relayed, 3);
}

#[tokio::test]
async fn non_persistent_messages_cross_nodes_without_the_outbox() {
    let (url, subject) = (nats_url(), subject());
    let outbox = Arc::new(MemOutbox::default());
    let a = ready_node(config(&url, &subject), outbox.clone()).await;
    let b = ready_node(config(&url, &subject), outbox.clone()).await;
    let mut on_b = session(&b.hub, "bob", &[("c", 0)]).await;

    let mut fleeting = msg("c", "ann", "fleeting", None);
    fleeting.persistence = Persistence::NonPersistent;
    let publisher = a.bus.publisher();
    publisher.publish(Published::unordered(DomainEvent::MessageCreated(fleeting)));
    // Read markers have no websocket form: they go nowhere.
    publisher.publish(Published::unordered(DomainEvent::ReadMarkerUpdated {
        channel: chan("c"),
        user: user("ann"),
        at: Timestamp(5),
    }));

    assert_eq!(frames(&mut on_b, 1).await, ["msg fleeting"]);
    assert!(more(&mut on_b, Duration::from_millis(200)).await.is_empty());
    assert_eq!(outbox.len(), 0);
    let (sa, sb) = (a.bus.stats(), b.bus.stats());
    assert_eq!((sa.direct_sent, sa.direct_dropped, sa.relayed), (1, 0, 0));
    assert_eq!(sb.received, 1, "the read marker was not published");
}

#[tokio::test]
async fn an_entry_relayed_twice_is_delivered_once() {
    let (url, subject) = (nats_url(), subject());
    let outbox = Arc::new(MemOutbox::default());
    let n = ready_node(config(&url, &subject), outbox.clone()).await;
    let mut s = session(&n.hub, "ann", &[("c", 0)]).await;
    // The same rows twice, as after a relay whose ack was lost.
    for seq in [1, 2, 1, 2, 2] {
        outbox.put(send("c", seq, "ann", &seq.to_string()));
    }
    n.bus.publisher().publish(send("c", 2, "ann", "2"));
    assert_eq!(frames(&mut s, 2).await, texts(1..=2));
    wait_until("the outbox is drained", || outbox.len() == 0).await;
    assert!(more(&mut s, Duration::from_millis(300)).await.is_empty());
    let stats = n.bus.stats();
    assert_eq!((stats.relayed, stats.received), (5, 5));
}

#[tokio::test]
async fn a_message_that_is_not_an_event_is_counted_and_skipped() {
    let (url, subject) = (nats_url(), subject());
    let outbox = Arc::new(MemOutbox::default());
    let n = ready_node(config(&url, &subject), outbox.clone()).await;
    let mut s = session(&n.hub, "ann", &[("c", 0)]).await;
    let stranger = async_nats::connect(url.as_str()).await.unwrap();
    stranger
        .publish(subject.clone(), Bytes::from_static(b"{not an event"))
        .await
        .unwrap();
    stranger.flush().await.unwrap();
    wait_until("the message is counted", || n.bus.stats().undecodable == 1).await;
    commit(&outbox, &n, 1);
    assert_eq!(frames(&mut s, 1).await, ["msg 1"]);
    assert!(n.bus.stats().last_error.is_none());
}
