//! PostgreSQL-only tests of memberships, moderation and messages: the events their writes leave
//! in the outbox (and the writes that leave none), and two nodes sending to one channel at once.

use std::sync::Arc;
use std::time::Duration;

use belfry_core::events::{DomainEvent, Published};
use belfry_core::model::{
    ChannelMessage, ChannelPrivacy, MembershipType, MessageChange, Persistence,
};
use belfry_core::store::{Limit, MembershipLimits, Store, StoreError};
use belfry_core::time::Timestamp;
use belfry_core::CoreError;

use super::tests::{channel, drain, fresh_pg, history, named, nodes, Schema};
use crate::conformance::message::{allow, plain, req};
use crate::conformance::{ckey, idem, new_channel, setup, ukey, ROOMY};

fn refuse() -> belfry_core::store::ChannelPolicy {
    Box::new(|_| Err(CoreError::forbidden("no")))
}

/// Each numbered write of this part leaves exactly the event the service would publish, with
/// the number the write returned; refused, replayed, unnumbered and NON_PERSISTENT writes leave
/// nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn membership_moderation_and_message_writes_fill_the_outbox() {
    let (pg, _schema) = fresh_pg(true).await;
    let pg = Arc::new(pg);
    let s: Arc<dyn Store> = pg.clone();
    setup(&s, "app", &["owner", "alice", "bob", "carol", "dave"]).await;
    channel(&s, &["alice"]).await;
    let c = ckey("app", "c");
    let (owner, u) = (ukey("app", "owner"), |id: &str| ukey("app", id));
    drain(&pg).await;
    let mut want = Vec::new();

    let (m, seq) = s
        .create_membership(
            &c,
            &u("bob"),
            MembershipType::Default,
            &owner,
            Timestamp(10),
            ROOMY,
        )
        .await
        .unwrap();
    want.push(Published::at(seq, DomainEvent::MembershipCreated(m)));
    // Refused: already a member. Nothing.
    let again = s
        .create_membership(
            &c,
            &u("bob"),
            MembershipType::Default,
            &owner,
            Timestamp(11),
            ROOMY,
        )
        .await;
    assert!(matches!(again, Err(StoreError::AlreadyMember { .. })));

    let (outcomes, seq) = s
        .batch_create_memberships(
            &c,
            vec![u("carol"), u("bob"), u("dave")],
            MembershipType::Hidden,
            &owner,
            Timestamp(12),
            ROOMY,
        )
        .await
        .unwrap();
    assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 2);
    want.push(Published::at(
        seq.unwrap(),
        DomainEvent::MembershipsBatchCreated {
            channel: s.get_channel(&c).await.unwrap().unwrap(),
            invited_by: named("owner"),
            kind: MembershipType::Hidden,
            members: vec![named("carol"), named("dave")],
        },
    ));
    // A batch that adds nobody takes no number and leaves nothing.
    let (_, none) = s
        .batch_create_memberships(
            &c,
            vec![u("bob")],
            MembershipType::Default,
            &owner,
            Timestamp(13),
            ROOMY,
        )
        .await
        .unwrap();
    assert_eq!(none, None);

    let sent = s
        .send_message(req(plain("c", 1, "alice", 100), "t1", "f"), allow())
        .await
        .unwrap();
    want.push(Published::at(
        sent.event_seq.unwrap(),
        DomainEvent::MessageCreated(sent.message.clone()),
    ));
    // A replay, a refusal and a NON_PERSISTENT message: nothing.
    let replay = s
        .send_message(req(plain("c", 2, "alice", 200), "t1", "f"), allow())
        .await
        .unwrap();
    assert!(replay.replayed);
    let refused = s
        .send_message(req(plain("c", 3, "alice", 300), "t3", "f"), refuse())
        .await;
    assert!(matches!(refused, Err(StoreError::Refused(_))));
    let fleeting = ChannelMessage {
        persistence: Persistence::NonPersistent,
        ..plain("c", 4, "alice", 400)
    };
    let fleeting = s
        .send_message(req(fleeting, "t4", "f"), allow())
        .await
        .unwrap();
    assert_eq!(fleeting.event_seq, None);

    let id = sent.message.message_id.clone();
    let edit = MessageChange::Edit {
        content: "edited".into(),
        metadata: None,
        content_type: None,
    };
    let refused = s
        .change_message(&c, &id, &u("alice"), edit.clone(), Timestamp(500), refuse())
        .await;
    assert!(matches!(refused, Err(StoreError::Refused(_))));
    let (edited, seq) = s
        .change_message(&c, &id, &u("alice"), edit, Timestamp(500), allow())
        .await
        .unwrap();
    want.push(Published::at(seq, DomainEvent::MessageUpdated(edited)));
    let (redacted, seq) = s
        .change_message(
            &c,
            &id,
            &u("alice"),
            MessageChange::Redact,
            Timestamp(600),
            allow(),
        )
        .await
        .unwrap();
    want.push(Published::at(seq, DomainEvent::MessageRedacted(redacted)));
    // A read marker publishes nothing to the outbox.
    s.update_read_marker(&c, &u("alice"), Timestamp(650), allow())
        .await
        .unwrap();
    let (deleted, seq) = s.delete_message(&c, &id, &owner, allow()).await.unwrap();
    want.push(Published::at(seq, DomainEvent::MessageDeleted(deleted)));

    let (removed, seq) = s.delete_membership(&c, &u("dave")).await.unwrap();
    want.push(Published::at(seq, DomainEvent::MembershipDeleted(removed)));
    // Moderators and a ban without a kick are not channel events.
    s.create_moderator(&c, &u("bob"), &owner, Timestamp(700), 10)
        .await
        .unwrap();
    let (_, kicked) = s
        .create_ban(&c, &u("dave"), &owner, Timestamp(710))
        .await
        .unwrap();
    assert_eq!(kicked, None);
    let (_, kicked) = s
        .create_ban(&c, &u("carol"), &owner, Timestamp(720))
        .await
        .unwrap();
    let (m, seq) = kicked.unwrap();
    want.push(Published::at(seq, DomainEvent::MembershipDeleted(m)));

    let got = drain(&pg).await;
    assert_eq!(got, want);
    // Consecutive numbers: no write above took one without leaving its event.
    let numbers: Vec<u64> = got.iter().filter_map(|p| p.seq).collect();
    let first = numbers[0];
    assert_eq!(
        numbers,
        (first..first + numbers.len() as u64).collect::<Vec<_>>()
    );
}

/// Four senders on two nodes, 50 sends each into one channel, with clocks that disagree: every
/// send takes its own number, the numbers have no gaps, and the history lists the messages in
/// the order of their numbers with creation times that never go backwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_sending_to_one_channel_list_in_event_order() {
    let (a, b, _schema) = nodes().await;
    let senders = ["s0", "s1", "s2", "s3"];
    setup(&a, "app", &["owner", "s0", "s1", "s2", "s3"]).await;
    channel(&a, &senders).await;
    let mut tasks = Vec::new();
    for (i, sender) in senders.iter().enumerate() {
        let s = if i % 2 == 0 { a.clone() } else { b.clone() };
        let sender = sender.to_string();
        tasks.push(tokio::spawn(async move {
            let mut sent = Vec::new();
            for k in 0..50u64 {
                let n = i as u64 * 1000 + k;
                let at = 10_000 + ((n * 7919) % 300) as i64;
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
    let numbers: Vec<u64> = committed.iter().map(|(n, _)| *n).collect();
    let first = numbers[0];
    assert_eq!(numbers, (first..first + 200).collect::<Vec<_>>());
    let in_order: Vec<String> = committed.into_iter().map(|(_, id)| id).collect();
    for (node, s) in [("first", &a), ("second", &b)] {
        let listed = history(s, "owner", 17).await;
        let ids: Vec<String> = listed.iter().map(|m| m.message_id.clone()).collect();
        assert_eq!(
            ids, in_order,
            "{node} node: the history is not in event order"
        );
        assert!(listed.windows(2).all(|w| w[0].created <= w[1].created));
    }
}

/// Eight sends with one ClientRequestToken racing on two nodes store one message; the other
/// seven are replays of it. A different request with the token afterwards is `TokenReused`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_sends_with_one_token_store_one_message() {
    let (a, b, _schema) = nodes().await;
    setup(&a, "app", &["owner", "alice"]).await;
    channel(&a, &["alice"]).await;
    let mut tasks = Vec::new();
    for n in 0..8u64 {
        let s = if n % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            s.send_message(req(plain("c", n, "alice", 1000), "same", "f"), allow())
                .await
                .unwrap()
        }));
    }
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap());
    }
    let stored: Vec<_> = results.iter().filter(|r| !r.replayed).collect();
    assert_eq!(stored.len(), 1, "exactly one send stores the message");
    let first = stored[0];
    assert!(first.event_seq.is_some());
    for r in results.iter().filter(|r| r.replayed) {
        assert_eq!((&r.message, r.event_seq), (&first.message, None));
    }
    let listed = history(&b, "alice", 10).await;
    assert_eq!(listed, vec![first.message.clone()]);
    let other = a
        .send_message(req(plain("c", 99, "alice", 2000), "same", "g"), allow())
        .await;
    assert_eq!(other, Err(StoreError::TokenReused));
}

/// One user added to two channels at once on two nodes, allowed one channel: one add wins,
/// the other is `Limit(UserChannels)` (the user's row lock serializes the quota).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_adds_of_one_user_hold_the_user_quota() {
    let (a, b, _schema) = nodes().await;
    setup(&a, "app", &["owner", "alice"]).await;
    for ch in ["c1", "c2", "c3", "c4"] {
        a.create_channel(
            new_channel("app", ch, "owner", ChannelPrivacy::Public),
            idem("ch", ch, "f"),
            10,
            ROOMY,
        )
        .await
        .unwrap();
    }
    let limits = MembershipLimits {
        per_channel: 100,
        per_user: 2,
    };
    let mut tasks = Vec::new();
    for (i, ch) in ["c1", "c2", "c3", "c4"].into_iter().enumerate() {
        let s = if i % 2 == 0 { a.clone() } else { b.clone() };
        tasks.push(tokio::spawn(async move {
            s.create_membership(
                &ckey("app", ch),
                &ukey("app", "alice"),
                MembershipType::Default,
                &ukey("app", "owner"),
                Timestamp(10),
                limits,
            )
            .await
        }));
    }
    let mut added = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => added += 1,
            Err(e) => assert_eq!(
                e,
                StoreError::Limit(Limit::UserChannels {
                    user: "alice".into(),
                    max: 2
                })
            ),
        }
    }
    assert_eq!(added, 2);
    let mine = b
        .list_user_memberships(&ukey("app", "alice"), None, 10)
        .await
        .unwrap();
    assert_eq!(mine.len(), 2);
}

/// A send whose policy panics between its two round trips (the policy runs on the channel's
/// send task, inside the transaction) fails alone: it leaves neither its channel lock nor an
/// open transaction behind, so the other node sends to the channel at once, and the first
/// node's queue and pool keep serving sends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abandoned_send_releases_its_lock_and_its_connection() {
    // The schema is declared first so it is dropped last: were a transaction left open in a
    // pool, the nodes must close it before DROP SCHEMA waits on its locks.
    let _schema: Schema;
    let (a, b) = {
        let (a, b, schema) = nodes().await;
        _schema = schema;
        (a, b)
    };
    setup(&a, "app", &["owner", "alice"]).await;
    channel(&a, &["alice"]).await;
    let policy: belfry_core::store::ChannelPolicy =
        Box::new(|_| panic!("the policy gives up mid-send"));
    let abandoned = tokio::time::timeout(
        Duration::from_secs(5),
        a.send_message(req(plain("c", 1, "alice", 100), "t1", "f"), policy),
    )
    .await
    .expect("a send with a panicking policy never answered");
    assert!(
        matches!(abandoned, Err(StoreError::Internal(_))),
        "{abandoned:?}"
    );
    for (n, s) in [(2, &b), (3, &a), (4, &a), (5, &b)] {
        let sent = tokio::time::timeout(
            Duration::from_secs(5),
            s.send_message(
                req(plain("c", n, "alice", 200), &format!("t{n}"), "f"),
                allow(),
            ),
        )
        .await
        .expect("a send waited on a lock nobody releases")
        .unwrap();
        assert!(!sent.replayed);
    }
    let listed = history(&a, "alice", 10).await;
    assert_eq!(listed.len(), 4, "the abandoned send stored nothing");
}
