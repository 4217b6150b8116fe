//! PostgreSQL-only tests of the per-channel group commit (`message::send`): many senders into
//! one channel, and one batch mixing every outcome a send can have.

use std::sync::Arc;
use std::time::Duration;

use belfry_core::arn::ChannelKey;
use belfry_core::model::{ChannelMessage, NewMessage};
use belfry_core::store::{ChannelPolicy, Sent, Store, StoreError, StoreResult};
use belfry_core::CoreError;

use super::tests::{channel, fresh_pg, history};
use super::PgStore;
use crate::conformance::message::{allow, plain, req};
use crate::conformance::{ckey, setup};

/// Waits (up to 5 s) until `check` holds.
async fn until(what: &str, check: impl Fn() -> bool) {
    for _ in 0..500 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting until {what}");
}

/// 64 tasks × 20 sends into one channel from one store, with clocks that disagree: every send
/// is stored with its own number, the numbers have no gaps, the history lists the messages in
/// number order with creation times that never go backwards, and the sends shared
/// transactions. When the sends are done the channel's queue is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_senders_into_one_channel_share_transactions_in_event_order() {
    let (pg, _schema) = fresh_pg(true).await;
    let pg = Arc::new(pg);
    let s: Arc<dyn Store> = pg.clone();
    let senders: Vec<String> = (0..8).map(|i| format!("s{i}")).collect();
    let mut users: Vec<&str> = senders.iter().map(String::as_str).collect();
    users.push("owner");
    setup(&s, "app", &users).await;
    channel(&s, &users[..8]).await;
    let before = pg.sends.counts();
    let mut tasks = Vec::new();
    for i in 0..64u64 {
        let s = s.clone();
        let sender = senders[(i % 8) as usize].clone();
        tasks.push(tokio::spawn(async move {
            let mut sent = Vec::new();
            for k in 0..20u64 {
                let n = i * 1000 + k;
                let at = 10_000 + ((n * 7919) % 300) as i64;
                let r = s
                    .send_message(
                        req(plain("c", n, &sender, at), &format!("t{n}"), "f"),
                        allow(),
                    )
                    .await
                    .unwrap();
                assert!(!r.replayed);
                sent.push((r.event_seq.unwrap(), r.message));
            }
            sent
        }));
    }
    let mut committed = Vec::new();
    for t in tasks {
        committed.extend(t.await.unwrap());
    }
    committed.sort_by_key(|(n, _)| *n);
    let numbers: Vec<u64> = committed.iter().map(|(n, _)| *n).collect();
    let first = numbers[0];
    assert_eq!(numbers, (first..first + 1280).collect::<Vec<_>>());
    let in_order: Vec<ChannelMessage> = committed.into_iter().map(|(_, m)| m).collect();
    let listed = history(&s, "owner", 100).await;
    assert_eq!(
        listed, in_order,
        "the history is not the messages as sent, in event order"
    );
    assert!(listed.windows(2).all(|w| w[0].created <= w[1].created));
    let (transactions, carried) = pg.sends.counts();
    let (transactions, carried) = (transactions - before.0, carried - before.1);
    assert_eq!(carried, 1280);
    assert!(
        transactions < 1280,
        "no batch formed: {transactions} transactions for 1280 sends"
    );
    let ch = ckey("app", "c");
    until("the channel's queue is removed", || !pg.sends.busy(&ch)).await;
}

/// Queues `new` on `pg` behind the channel's running transaction, and waits until it is the
/// `nth` send waiting (so the batch keeps this order).
async fn queue(
    pg: &Arc<PgStore>,
    nth: usize,
    new: NewMessage,
    policy: ChannelPolicy,
) -> tokio::task::JoinHandle<StoreResult<Sent>> {
    let s: Arc<dyn Store> = pg.clone();
    let task = tokio::spawn(async move { s.send_message(new, policy).await });
    let ch: ChannelKey = ckey("app", "c");
    until("the send is queued", || pg.sends.waiting(&ch) == nth).await;
    task
}

/// A send held inside its transaction while nine more queue behind it; the nine then share one
/// transaction, in which each gets what it would alone, in queue order: allowed sends are
/// stored with consecutive numbers (and clamped creation times), a refusal and a panicking
/// policy store nothing, a token stored before or earlier in the batch replays with its
/// fingerprint and is `TokenReused` with another.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_batch_gives_each_send_its_own_outcome() {
    let (pg, _schema) = fresh_pg(true).await;
    let pg = Arc::new(pg);
    let s: Arc<dyn Store> = pg.clone();
    setup(&s, "app", &["owner", "alice", "bob"]).await;
    channel(&s, &["alice", "bob"]).await;
    let old = s
        .send_message(req(plain("c", 1, "alice", 1000), "old", "f"), allow())
        .await
        .unwrap();
    let base = old.event_seq.unwrap();
    let before = pg.sends.counts();

    // The holder: its policy runs inside its transaction, under the channel lock, and waits.
    let (entered, in_policy) = tokio::sync::oneshot::channel::<()>();
    let (release, released) = std::sync::mpsc::channel::<()>();
    let hold: ChannelPolicy = Box::new(move |_| {
        let _ = entered.send(());
        let _ = released.recv();
        Ok(())
    });
    let holder = {
        let s = s.clone();
        tokio::spawn(async move {
            s.send_message(req(plain("c", 2, "alice", 3000), "h", "f"), hold)
                .await
        })
    };
    in_policy.await.unwrap();

    let refuse: ChannelPolicy = Box::new(|_| Err(CoreError::forbidden("no")));
    let panics: ChannelPolicy = Box::new(|_| panic!("a policy gives up mid-batch"));
    let sends = vec![
        // An early clock: stored after the holder, so stamped with its time.
        (req(plain("c", 3, "alice", 2000), "a", "f"), allow()),
        (req(plain("c", 4, "bob", 3100), "r", "f"), refuse),
        (req(plain("c", 5, "alice", 3100), "old", "f"), allow()),
        (req(plain("c", 6, "alice", 3100), "old", "g"), allow()),
        (req(plain("c", 7, "bob", 3200), "b", "f"), allow()),
        (req(plain("c", 8, "alice", 3300), "a", "f"), allow()),
        (req(plain("c", 9, "alice", 3300), "a", "other"), allow()),
        (req(plain("c", 10, "bob", 3300), "p", "f"), panics),
        (req(plain("c", 11, "alice", 3400), "c", "f"), allow()),
    ];
    let mut tasks = Vec::new();
    for (i, (new, policy)) in sends.into_iter().enumerate() {
        tasks.push(queue(&pg, i + 1, new, policy).await);
    }
    release.send(()).unwrap();
    let held = holder.await.unwrap().unwrap();
    let mut got = Vec::new();
    for t in tasks {
        got.push(t.await.unwrap());
    }

    assert_eq!(held.event_seq, Some(base + 1));
    let stored = |r: &StoreResult<Sent>, seq: u64, at: i64| {
        let r = r.as_ref().unwrap();
        assert!(!r.replayed);
        assert_eq!(r.event_seq, Some(seq));
        assert_eq!(r.message.created.0, at);
        r.message.clone()
    };
    let a = stored(&got[0], base + 2, 3000);
    assert!(
        matches!(&got[1], Err(StoreError::Refused(_))),
        "{:?}",
        got[1]
    );
    assert_eq!(
        got[2],
        Ok(Sent {
            message: old.message.clone(),
            replayed: true,
            event_seq: None
        })
    );
    assert_eq!(got[3], Err(StoreError::TokenReused));
    let b = stored(&got[4], base + 3, 3200);
    assert_eq!(
        got[5],
        Ok(Sent {
            message: a.clone(),
            replayed: true,
            event_seq: None
        })
    );
    assert_eq!(got[6], Err(StoreError::TokenReused));
    assert!(
        matches!(&got[7], Err(StoreError::Internal(_))),
        "{:?}",
        got[7]
    );
    let c = stored(&got[8], base + 4, 3400);

    let (transactions, carried) = pg.sends.counts();
    assert_eq!(
        (transactions - before.0, carried - before.1),
        (2, 10),
        "the holder's transaction, then one for the nine queued behind it"
    );
    let listed = history(&s, "owner", 3).await;
    assert_eq!(listed, vec![old.message, held.message, a, b, c.clone()]);
    let channel = s.get_channel(&ckey("app", "c")).await.unwrap().unwrap();
    assert_eq!(channel.last_message.map(|t| t.0), Some(3400));
    // Nothing was stored for the refused send's token: it stores anew.
    let again = s
        .send_message(req(plain("c", 12, "bob", 3500), "r", "f"), allow())
        .await
        .unwrap();
    assert_eq!(again.event_seq, Some(base + 5));
    assert_eq!(c.created.0, 3400);
}
