//! Conformance cases for the contracts `MessageStore` states in its doc comments: per-channel
//! commit order of (created, seq) paging under concurrent senders, creation times that never go
//! backwards, NON_PERSISTENT messages outside storage, and targeted messages outside
//! LastMessageTimestamp. (The per-channel event sequence has its own cases in `sequence.rs`.)

use std::collections::HashSet;
use std::sync::Arc;

use belfry_core::model::{ChannelMessage, MessageQuery, Persistence, SortOrder};
use belfry_core::store::Store;
use belfry_core::time::Timestamp;

use super::message::{allow, history, mid, mids, named, plain, req, send, to, walk_messages};
use super::sequence::channel_with;
use super::{ckey, setup, ukey};

async fn last_message(s: &Arc<dyn Store>, ch: &str) -> Option<Timestamp> {
    s.get_channel(&ckey("app", ch))
        .await
        .unwrap()
        .unwrap()
        .last_message
}

/// Asserts that a page walk saw `want`, naming the first place it did not (the lists are long).
fn same_order(walk: &str, got: &[String], want: &[String]) {
    if let Some(i) = (0..got.len().max(want.len())).find(|&i| got.get(i) != want.get(i)) {
        panic!(
            "{walk} walk departs from commit order at row {i} of {}: got {:?}, want {:?}",
            want.len(),
            got.get(i),
            want.get(i)
        );
    }
}

fn query(order: SortOrder) -> MessageQuery {
    MessageQuery {
        not_before: None,
        not_after: None,
        order,
    }
}

/// Many senders at once into one channel, with clocks that disagree: a full forward and a full
/// backward page walk (as ListChannelMessages pages) each see every message exactly once, in
/// commit order (the order of the event numbers the sends took), with creation times that never
/// decrease along it.
pub async fn contract_concurrent_sends_page_in_commit_order(s: Arc<dyn Store>) {
    const SENDERS: u64 = 8;
    const EACH: u64 = 25;
    let senders: Vec<String> = (0..SENDERS).map(|i| format!("s{i}")).collect();
    let mut users: Vec<&str> = senders.iter().map(String::as_str).collect();
    users.push("owner");
    setup(&s, "app", &users).await;
    channel_with(&s, "c", &users[..SENDERS as usize]).await;

    let mut tasks = Vec::new();
    for (i, sender) in senders.iter().enumerate() {
        let (s, sender) = (s.clone(), sender.clone());
        tasks.push(tokio::spawn(async move {
            let mut sent = Vec::new();
            for k in 0..EACH {
                let n = i as u64 * 1000 + k;
                // Clock readings that jump back and forth, across senders and within one.
                let at = 10_000 + ((n * 7919) % 500) as i64;
                let r = s
                    .send_message(
                        req(plain("c", n, &sender, at), &format!("t{n}"), "f"),
                        allow(),
                    )
                    .await
                    .unwrap();
                sent.push((r.event_seq.unwrap(), r.message.message_id));
            }
            sent
        }));
    }
    let mut committed = Vec::new();
    for t in tasks {
        committed.extend(t.await.unwrap());
    }
    committed.sort();
    let total = (SENDERS * EACH) as usize;
    assert_eq!(committed.len(), total);
    // Each send took its own number, and the numbers have no gaps.
    let first = committed[0].0;
    let numbers: Vec<u64> = committed.iter().map(|(seq, _)| *seq).collect();
    assert_eq!(numbers, (first..first + total as u64).collect::<Vec<_>>());
    let commit_order: Vec<String> = committed.into_iter().map(|(_, id)| id).collect();

    for (walk, order) in [
        ("forward", SortOrder::Ascending),
        ("backward", SortOrder::Descending),
    ] {
        let mut seen = walk_messages(
            &s,
            &ckey("app", "c"),
            &ukey("app", "owner"),
            query(order),
            7,
        )
        .await;
        if order == SortOrder::Descending {
            seen.reverse();
        }
        let ids: Vec<String> = seen.iter().map(|m| m.message_id.clone()).collect();
        assert_eq!(
            ids.iter().collect::<HashSet<_>>().len(),
            total,
            "{walk}: a message twice"
        );
        same_order(walk, &ids, &commit_order);
        assert!(
            seen.windows(2).all(|w| w[0].created <= w[1].created),
            "{walk}: creation times go backwards along commit order"
        );
    }
}

/// A message sent with an older clock reading than the channel's newest is stored no earlier
/// than it (per channel: another channel keeps its own times).
pub async fn contract_creation_times_never_go_backwards(s: Arc<dyn Store>) {
    setup(&s, "app", &["owner", "alice"]).await;
    channel_with(&s, "c", &["alice"]).await;
    channel_with(&s, "c2", &["alice"]).await;
    send(&s, plain("c", 1, "alice", 5000)).await;
    let late = s
        .send_message(req(plain("c", 2, "alice", 4000), "late", "f"), allow())
        .await
        .unwrap()
        .message;
    assert_eq!(
        (late.created, late.updated),
        (Timestamp(5000), Timestamp(5000))
    );
    assert_eq!(
        s.get_message(&ckey("app", "c"), &mid(2)).await.unwrap(),
        Some(late)
    );
    assert_eq!(history(&s, "c", "alice").await, mids(&[1, 2]));
    assert_eq!(last_message(&s, "c").await, Some(Timestamp(5000)));
    let elsewhere = send(&s, plain("c2", 3, "alice", 3000)).await;
    assert_eq!(elsewhere.created, Timestamp(3000));
}

/// A NON_PERSISTENT message is answered as sent but never stored: no event number, no place in
/// the history, no LastMessageTimestamp, and its token is not remembered.
pub async fn contract_non_persistent_messages_are_not_stored(s: Arc<dyn Store>) {
    setup(&s, "app", &["owner", "alice"]).await;
    channel_with(&s, "c", &["alice"]).await;
    let first = s
        .send_message(req(plain("c", 1, "alice", 5000), "t1", "f"), allow())
        .await
        .unwrap();
    let fleeting = ChannelMessage {
        persistence: Persistence::NonPersistent,
        ..plain("c", 2, "alice", 6000)
    };
    let sent = s
        .send_message(req(fleeting.clone(), "tok", "f"), allow())
        .await
        .unwrap();
    assert_eq!(
        (sent.message, sent.replayed, sent.event_seq),
        (named(fleeting), false, None)
    );
    assert_eq!(
        s.get_message(&ckey("app", "c"), &mid(2)).await.unwrap(),
        None
    );
    assert_eq!(history(&s, "c", "alice").await, mids(&[1]));
    assert_eq!(last_message(&s, "c").await, Some(Timestamp(5000)));
    // The same token and fingerprint for a stored message: a new message, not a replay, and
    // the next number after the first message's.
    let after = s
        .send_message(req(plain("c", 3, "alice", 7000), "tok", "f"), allow())
        .await
        .unwrap();
    assert!(!after.replayed);
    assert_eq!(after.event_seq, first.event_seq.map(|n| n + 1));
}

/// A targeted message is stored and numbered like any other, seen only by its sender and
/// target, and does not move LastMessageTimestamp (which every member sees).
pub async fn contract_targeted_messages_leave_last_message_alone(s: Arc<dyn Store>) {
    setup(&s, "app", &["owner", "alice", "bob"]).await;
    channel_with(&s, "c", &["alice", "bob"]).await;
    let first = s
        .send_message(req(plain("c", 1, "alice", 5000), "t1", "f"), allow())
        .await
        .unwrap();
    let whisper = s
        .send_message(
            req(to(plain("c", 2, "alice", 6000), "bob"), "t2", "f"),
            allow(),
        )
        .await
        .unwrap();
    assert_eq!(whisper.event_seq, first.event_seq.map(|n| n + 1));
    assert_eq!(
        s.get_message(&ckey("app", "c"), &mid(2)).await.unwrap(),
        Some(whisper.message)
    );
    assert_eq!(last_message(&s, "c").await, Some(Timestamp(5000)));
    assert_eq!(history(&s, "c", "owner").await, mids(&[1]));
    assert_eq!(history(&s, "c", "alice").await, mids(&[1, 2]));
    assert_eq!(history(&s, "c", "bob").await, mids(&[1, 2]));
}
