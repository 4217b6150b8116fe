//! Conformance cases for channel messages: sending under a policy, idempotent retries, and
//! keyset listings with their time window and targeted-message visibility.

use std::sync::{Arc, Mutex};

use belfry_core::arn::{ChannelKey, UserKey};
use belfry_core::model::{
    Channel, ChannelMessage, ChannelMode, ChannelPrivacy, ChannelUpdate, MembershipType,
    MessageQuery, MessageType, NewMessage, Persistence, PushNotification, PushType, SortOrder,
    UserRef,
};
use belfry_core::perm::Roles;
use belfry_core::store::StoreError as F;
use belfry_core::store::{ChannelContext, ChannelPolicy, Sent, Store};
use belfry_core::time::Timestamp;
use belfry_core::{CoreError, CoreResult};

use super::{ckey, idem, is, new_channel, setup, ukey, ROOMY};

/// Message `n`'s id, shaped as the service makes them: 64 lowercase hex characters.
pub(super) fn mid(n: u64) -> String {
    format!("{n:064x}")
}

/// The ids of messages `ns`, in that order.
pub(super) fn mids(ns: &[u64]) -> Vec<String> {
    ns.iter().map(|n| mid(*n)).collect()
}

/// The ids of a list of messages, in order.
pub(super) fn ids(ms: &[ChannelMessage]) -> Vec<String> {
    ms.iter().map(|m| m.message_id.clone()).collect()
}

/// A PERSISTENT STANDARD message `n` from `sender` in channel `ch` of "app", sent at `at`, with
/// no optional field set.
pub(crate) fn plain(ch: &str, n: u64, sender: &str, at: i64) -> ChannelMessage {
    ChannelMessage {
        channel: ckey("app", ch),
        message_id: mid(n),
        content: Some(format!("content {n}")),
        metadata: None,
        kind: MessageType::Standard,
        persistence: Persistence::Persistent,
        created: Timestamp(at),
        updated: Timestamp(at),
        edited: None,
        sender: UserRef {
            key: ukey("app", sender),
            name: None,
        },
        redacted: false,
        attributes: Vec::new(),
        content_type: None,
        target: None,
        push: None,
    }
}

/// `plain` with every optional field set (attributes in name order, as the service sorts them).
pub(super) fn rich(ch: &str, n: u64, sender: &str, at: i64) -> ChannelMessage {
    ChannelMessage {
        metadata: Some(format!("metadata {n}")),
        kind: MessageType::Control,
        attributes: vec![
            ("alpha".into(), vec!["2".into(), "1".into()]),
            ("beta".into(), vec!["x".into()]),
            ("gamma".into(), vec![]),
        ],
        content_type: Some("text/markdown".into()),
        push: Some(PushNotification {
            title: Some("title".into()),
            body: Some("body".into()),
            kind: Some(PushType::Voip),
        }),
        ..plain(ch, n, sender, at)
    }
}

/// `m` addressed to `target` alone.
pub(super) fn to(mut m: ChannelMessage, target: &str) -> ChannelMessage {
    m.target = Some(ukey("app", target));
    m
}

/// The message as the store returns it: with the sender's name (`"<id> name"`, as `setup`
/// makes users).
pub(super) fn named(mut m: ChannelMessage) -> ChannelMessage {
    m.sender.name = Some(format!("{} name", m.sender.key.user_id));
    m
}

/// A send request for `m`.
pub(crate) fn req(m: ChannelMessage, token: &str, fingerprint: &str) -> NewMessage {
    NewMessage {
        message: m,
        client_request_token: token.into(),
        fingerprint: fingerprint.into(),
    }
}

/// A policy that lets everything through.
pub(crate) fn allow() -> ChannelPolicy {
    Box::new(|_| Ok(()))
}

/// The actor of a write under `allow` (who it is changes nothing there).
pub(crate) fn actor() -> UserKey {
    ukey("app", "owner")
}

/// Sends `m` under `allow`, with a token of its own, and checks it was stored anew.
pub(super) async fn send(s: &Arc<dyn Store>, m: ChannelMessage) -> ChannelMessage {
    let token = format!("token-{}", m.message_id);
    let sent = s
        .send_message(req(m.clone(), &token, "f"), allow())
        .await
        .unwrap();
    assert!(
        sent.event_seq.is_some(),
        "a stored message takes an event number"
    );
    assert_eq!(
        sent,
        Sent {
            message: named(m),
            replayed: false,
            event_seq: sent.event_seq
        }
    );
    sent.message
}

/// A policy that records the context it is given and then answers `answer`.
pub(super) fn recording(
    answer: CoreResult<()>,
) -> (ChannelPolicy, Arc<Mutex<Option<ChannelContext>>>) {
    let seen = Arc::new(Mutex::new(None));
    let out = seen.clone();
    let policy: ChannelPolicy = Box::new(move |ctx: &ChannelContext| {
        *out.lock().unwrap() = Some(ctx.clone());
        answer
    });
    (policy, seen)
}

pub(super) fn taken(seen: &Arc<Mutex<Option<ChannelContext>>>) -> ChannelContext {
    seen.lock()
        .unwrap()
        .take()
        .expect("the policy was not called")
}

/// The channel without its creator's name: the policy decides on the channel's settings, and an
/// adapter need not resolve the creator's name for it.
pub(super) fn settings(ch: Option<Channel>) -> Option<Channel> {
    ch.map(|mut ch| {
        ch.created_by.name = None;
        ch
    })
}

async fn last_message(s: &Arc<dyn Store>, ch: &ChannelKey) -> Option<Timestamp> {
    s.get_channel(ch).await.unwrap().unwrap().last_message
}

/// Every message `viewer` sees in `ch` under `query`, walked `page` rows at a time with `after`
/// = the cursor of the previous page's last row.
pub(super) async fn walk_messages(
    s: &Arc<dyn Store>,
    ch: &ChannelKey,
    viewer: &UserKey,
    query: MessageQuery,
    page: usize,
) -> Vec<ChannelMessage> {
    let mut all = Vec::new();
    let mut after = None;
    for _ in 0..1000 {
        let rows = s
            .list_messages(ch, viewer, query, after, page)
            .await
            .unwrap();
        assert!(rows.len() <= page, "page longer than its limit");
        let Some((last, _)) = rows.last() else {
            return all;
        };
        after = Some(*last);
        for (cursor, m) in rows {
            assert_eq!(cursor.created, m.created, "a cursor holds its row's time");
            all.push(m);
        }
    }
    panic!("listing did not end");
}

/// The whole, unwindowed history `viewer` sees, oldest first.
pub(super) async fn history(s: &Arc<dyn Store>, ch: &str, viewer: &str) -> Vec<String> {
    let q = MessageQuery {
        not_before: None,
        not_after: None,
        order: SortOrder::Ascending,
    };
    ids(&walk_messages(s, &ckey("app", ch), &ukey("app", viewer), q, 100).await)
}

/// Send: the policy sees, read in the transaction, the sender's name (None when the sender is
/// missing), the channel (None when missing) and the sender's and target's roles; its refusal
/// is returned as is and stores nothing; a PERSISTENT message is stored exactly as sent and
/// moves the channel's last message time; a NON_PERSISTENT one is returned but not stored.
pub async fn messages_send(s: Arc<dyn Store>) {
    let people = ["owner", "mem", "hid", "modr", "banned", "outsider"];
    setup(&s, "app", &people).await;
    let mut nc = new_channel("app", "c", "owner", ChannelPrivacy::Public);
    nc.members = vec![ukey("app", "mem"), ukey("app", "banned")];
    s.create_channel(nc, idem("ch", "c", "f"), 10, ROOMY)
        .await
        .unwrap();
    let c = ckey("app", "c");
    let u = |id: &str| ukey("app", id);
    let owner = u("owner");
    let hidden = MembershipType::Hidden;
    s.create_membership(&c, &u("hid"), hidden, &owner, Timestamp(4000), ROOMY)
        .await
        .unwrap();
    s.create_admin(&u("hid"), Timestamp(4000), 10)
        .await
        .unwrap();
    s.create_moderator(&c, &u("modr"), &owner, Timestamp(4000), 10)
        .await
        .unwrap();
    s.create_ban(&c, &u("banned"), &owner, Timestamp(4000))
        .await
        .unwrap();
    let channel = s.get_channel(&c).await.unwrap();
    assert_eq!(channel.as_ref().unwrap().last_message, None);
    let member = |kind| Roles {
        member: Some(kind),
        ..Roles::default()
    };

    // An admin with a HIDDEN membership sends a targeted message with every field set: the
    // policy sees both parties; the message is stored as sent, with the sender's name.
    let first = to(rich("c", 1, "hid", 5000), "mem");
    let (policy, seen) = recording(Ok(()));
    let sent = s
        .send_message(req(first.clone(), "t1", "f1"), policy)
        .await
        .unwrap();
    let ctx = taken(&seen);
    assert_eq!(settings(ctx.channel), settings(channel.clone()));
    assert_eq!(
        (ctx.actor_name.as_deref(), ctx.actor, ctx.target),
        (
            Some("hid name"),
            Roles {
                admin: true,
                ..member(MembershipType::Hidden)
            },
            Some(member(MembershipType::Default))
        )
    );
    let stored = named(first.clone());
    assert_eq!(
        sent,
        Sent {
            message: stored.clone(),
            replayed: false,
            event_seq: Some(5)
        }
    );
    assert_eq!(stored.created, stored.updated);
    assert_eq!(
        stored.attributes.iter().map(|a| &a.0).collect::<Vec<_>>(),
        ["alpha", "beta", "gamma"]
    );
    assert_eq!(s.get_message(&c, &mid(1)).await.unwrap(), Some(stored));
    // Only sender and target see a targeted message: it does not move LastMessageTimestamp.
    assert_eq!(last_message(&s, &c).await, None);

    // A moderator who is not a member, untargeted: no target roles.
    let (policy, seen) = recording(Ok(()));
    let second = plain("c", 2, "modr", 5100);
    s.send_message(req(second.clone(), "t2", "f2"), policy)
        .await
        .unwrap();
    let ctx = taken(&seen);
    let moderator = Roles {
        moderator: true,
        ..Roles::default()
    };
    assert_eq!(
        (ctx.actor_name.as_deref(), ctx.actor, ctx.target),
        (Some("modr name"), moderator, None)
    );
    assert_eq!(
        s.get_message(&c, &mid(2)).await.unwrap(),
        Some(named(second))
    );
    assert_eq!(last_message(&s, &c).await, Some(Timestamp(5100)));

    // NON_PERSISTENT: the policy runs and the message comes back with the sender's name, but
    // nothing is stored and the channel's last message time stays.
    let (policy, seen) = recording(Ok(()));
    let fleeting = ChannelMessage {
        persistence: Persistence::NonPersistent,
        ..rich("c", 3, "mem", 6000)
    };
    let sent = s
        .send_message(req(fleeting.clone(), "t3", "f3"), policy)
        .await
        .unwrap();
    let ctx = taken(&seen);
    assert_eq!(
        (ctx.actor_name.as_deref(), ctx.actor, ctx.target),
        (Some("mem name"), member(MembershipType::Default), None)
    );
    assert_eq!(
        sent,
        Sent {
            message: named(fleeting),
            replayed: false,
            event_seq: None
        }
    );
    assert!(s.get_message(&c, &mid(3)).await.unwrap().is_none());
    assert_eq!(last_message(&s, &c).await, Some(Timestamp(5100)));
    assert_eq!(history(&s, "c", "hid").await, mids(&[1, 2]));

    // A banned user targets an outsider; the policy refuses: its error comes back unchanged,
    // nothing is stored, and the token stays free.
    let (policy, seen) = recording(Err(CoreError::forbidden("no, says the policy")));
    let refused = to(plain("c", 4, "banned", 7000), "outsider");
    let r = s.send_message(req(refused, "t4", "f4"), policy).await;
    assert_eq!(
        r,
        Err(F::Refused(CoreError::forbidden("no, says the policy")))
    );
    let ctx = taken(&seen);
    let banned = Roles {
        banned: true,
        ..Roles::default()
    };
    // The refusal changed nothing, so the channel the policy saw is the channel as it is.
    let now_channel = s.get_channel(&c).await.unwrap();
    assert_eq!(settings(ctx.channel), settings(now_channel));
    assert_eq!(
        (ctx.actor_name.as_deref(), ctx.actor, ctx.target),
        (Some("banned name"), banned, Some(Roles::default()))
    );
    assert!(s.get_message(&c, &mid(4)).await.unwrap().is_none());
    assert_eq!(last_message(&s, &c).await, Some(Timestamp(5100)));
    let retry = plain("c", 5, "banned", 7100);
    let sent = s
        .send_message(req(retry.clone(), "t4", "other"), allow())
        .await
        .unwrap();
    assert_eq!(
        sent,
        Sent {
            message: named(retry),
            replayed: false,
            event_seq: Some(7)
        }
    );

    // A sender that does not exist: no name, no roles.
    let (policy, seen) = recording(Err(CoreError::not_found("who?")));
    let ghostly = plain("c", 6, "ghost", 7200);
    let r = s.send_message(req(ghostly, "t6", "f6"), policy).await;
    assert_eq!(r, Err(F::Refused(CoreError::not_found("who?"))));
    let ctx = taken(&seen);
    assert_eq!(
        settings(ctx.channel),
        settings(s.get_channel(&c).await.unwrap())
    );
    assert_eq!(
        (ctx.actor_name, ctx.actor, ctx.target),
        (None, Roles::default(), None)
    );
    assert!(s.get_message(&c, &mid(6)).await.unwrap().is_none());

    // A channel that does not exist: no channel, no roles, and the target has none there.
    let (policy, seen) = recording(Err(CoreError::not_found("where?")));
    let lost = to(plain("nope", 7, "mem", 7300), "outsider");
    let r = s.send_message(req(lost, "t7", "f7"), policy).await;
    assert_eq!(r, Err(F::Refused(CoreError::not_found("where?"))));
    let ctx = taken(&seen);
    assert_eq!(
        (
            ctx.actor_name.as_deref(),
            ctx.channel,
            ctx.actor,
            ctx.target
        ),
        (
            Some("mem name"),
            None,
            Roles::default(),
            Some(Roles::default())
        )
    );
    assert!(s
        .get_message(&ckey("app", "nope"), &mid(7))
        .await
        .unwrap()
        .is_none());
    assert_eq!(history(&s, "c", "owner").await, mids(&[2, 5]));
    assert_eq!(last_message(&s, &c).await, Some(Timestamp(7100)));
}

/// Idempotency: the same (channel, sender, token) with the same fingerprint replays the message
/// first stored, without storing or moving anything; with another fingerprint it is a Conflict;
/// the same token from another sender or in another channel is a new message.
pub async fn messages_idempotency(s: Arc<dyn Store>) {
    setup(&s, "app", &["owner", "alice", "bob"]).await;
    for ch in ["c", "c2"] {
        let mut nc = new_channel("app", ch, "owner", ChannelPrivacy::Public);
        nc.members = vec![ukey("app", "alice"), ukey("app", "bob")];
        s.create_channel(nc, idem("ch", ch, "f"), 10, ROOMY)
            .await
            .unwrap();
    }
    let c = ckey("app", "c");
    let first = rich("c", 1, "alice", 5000);
    let sent = s
        .send_message(req(first.clone(), "tok", "fp"), allow())
        .await
        .unwrap();
    assert!(!sent.replayed);

    // A retry carries a new id and time; the store answers with the first message.
    let again = s
        .send_message(req(rich("c", 2, "alice", 6000), "tok", "fp"), allow())
        .await
        .unwrap();
    assert_eq!(
        again,
        Sent {
            message: named(first.clone()),
            replayed: true,
            event_seq: None
        }
    );
    assert_eq!(again.message.message_id, mid(1));
    assert!(s.get_message(&c, &mid(2)).await.unwrap().is_none());
    assert_eq!(last_message(&s, &c).await, Some(Timestamp(5000)));

    // Same token, different request: Conflict, nothing stored.
    is(
        s.send_message(req(plain("c", 3, "alice", 7000), "tok", "other"), allow())
            .await,
        F::TokenReused,
    );
    assert!(s.get_message(&c, &mid(3)).await.unwrap().is_none());
    assert_eq!(last_message(&s, &c).await, Some(Timestamp(5000)));
    assert_eq!(history(&s, "c", "alice").await, mids(&[1]));

    // Another sender, or another channel: the token is theirs to use.
    let bobs = plain("c", 4, "bob", 7100);
    let sent = s
        .send_message(req(bobs.clone(), "tok", "other"), allow())
        .await
        .unwrap();
    assert_eq!(
        sent,
        Sent {
            message: named(bobs.clone()),
            replayed: false,
            event_seq: Some(4)
        }
    );
    let elsewhere = plain("c2", 5, "alice", 7200);
    let sent = s
        .send_message(req(elsewhere.clone(), "tok", "other"), allow())
        .await
        .unwrap();
    assert_eq!(
        sent,
        Sent {
            message: named(elsewhere.clone()),
            replayed: false,
            event_seq: Some(3)
        }
    );

    // Each of those replays on its own.
    let r = s
        .send_message(req(plain("c", 6, "bob", 8000), "tok", "other"), allow())
        .await
        .unwrap();
    assert_eq!(
        r,
        Sent {
            message: named(bobs),
            replayed: true,
            event_seq: None
        }
    );
    let r = s
        .send_message(req(plain("c2", 7, "alice", 8000), "tok", "other"), allow())
        .await
        .unwrap();
    assert_eq!(
        r,
        Sent {
            message: named(elsewhere),
            replayed: true,
            event_seq: None
        }
    );
    assert_eq!(history(&s, "c", "owner").await, mids(&[1, 4]));
    assert_eq!(history(&s, "c2", "owner").await, mids(&[5]));
    assert_eq!(
        s.get_message(&c, &mid(1)).await.unwrap(),
        Some(named(first))
    );
}

/// Listing: (creation time, insertion) order both ways over a keyset walk of any page size, an
/// inclusive time window, targeted messages only for their sender and target, and nothing from
/// other channels.
pub async fn messages_listing(s: Arc<dyn Store>) {
    setup(&s, "app", &["owner", "alice", "bob", "carol"]).await;
    for ch in ["c", "c2"] {
        let mut nc = new_channel("app", ch, "owner", ChannelPrivacy::Public);
        nc.members = vec![
            ukey("app", "alice"),
            ukey("app", "bob"),
            ukey("app", "carol"),
        ];
        s.create_channel(nc, idem("ch", ch, "f"), 10, ROOMY)
            .await
            .unwrap();
    }
    // In sending order; 1–3 share a time, 5–6 too.
    let sends = [
        plain("c", 1, "alice", 5000),
        plain("c", 2, "bob", 5000),
        to(plain("c", 3, "alice", 5000), "bob"),
        to(plain("c", 4, "carol", 6000), "alice"),
        to(plain("c", 5, "bob", 7000), "carol"),
        plain("c", 6, "carol", 7000),
        rich("c", 7, "alice", 8000),
        plain("c2", 9, "alice", 5000),
        to(plain("c2", 10, "bob", 6000), "alice"),
    ];
    for m in sends {
        send(&s, m).await;
    }
    // Sent last with an older clock reading: stamped no earlier than the channel's newest
    // message, so (created, position) order stays the order of sending and nothing is skipped.
    let late = s
        .send_message(req(plain("c", 8, "bob", 4000), "token-late", "f"), allow())
        .await
        .unwrap();
    assert_eq!(
        (late.message.created, late.message.updated),
        (Timestamp(8000), Timestamp(8000))
    );
    let c = ckey("app", "c");
    // Oldest first, per viewer: everyone sees the untargeted ones; a targeted one only its
    // sender and target.
    let sees = [
        ("owner", vec![1, 2, 6, 7, 8]),
        ("alice", vec![1, 2, 3, 4, 6, 7, 8]),
        ("bob", vec![1, 2, 3, 5, 6, 7, 8]),
        ("carol", vec![1, 2, 4, 5, 6, 7, 8]),
    ];
    let window = |not_before: Option<i64>, not_after: Option<i64>, order| MessageQuery {
        not_before: not_before.map(Timestamp),
        not_after: not_after.map(Timestamp),
        order,
    };
    for (viewer, ascending) in &sees {
        let v = ukey("app", viewer);
        let descending: Vec<u64> = ascending.iter().rev().copied().collect();
        for page in [1, 2, 3, 100] {
            let asc = walk_messages(&s, &c, &v, window(None, None, SortOrder::Ascending), page);
            assert_eq!(ids(&asc.await), mids(ascending), "{viewer} ASC by {page}");
            let desc = walk_messages(&s, &c, &v, window(None, None, SortOrder::Descending), page);
            assert_eq!(
                ids(&desc.await),
                mids(&descending),
                "{viewer} DESC by {page}"
            );
        }
        // Both bounds inclusive: [5000, 7000] keeps 5000 and 7000, drops 8000.
        let inner: Vec<u64> = ascending
            .iter()
            .copied()
            .filter(|n| ![7, 8].contains(n))
            .collect();
        let inner_desc: Vec<u64> = inner.iter().rev().copied().collect();
        for page in [1, 2, 100] {
            let q = window(Some(5000), Some(7000), SortOrder::Ascending);
            let asc = walk_messages(&s, &c, &v, q, page).await;
            assert_eq!(ids(&asc), mids(&inner), "{viewer} windowed ASC by {page}");
            let q = window(Some(5000), Some(7000), SortOrder::Descending);
            let desc = walk_messages(&s, &c, &v, q, page).await;
            assert_eq!(ids(&desc), mids(&inner_desc), "{viewer} windowed DESC");
        }
    }
    // One-sided and single-instant windows, and one with nothing in it.
    let alice = ukey("app", "alice");
    let q = window(Some(7000), None, SortOrder::Ascending);
    let rows = walk_messages(&s, &c, &alice, q, 2).await;
    assert_eq!(ids(&rows), mids(&[6, 7, 8]));
    let q = window(None, Some(5000), SortOrder::Descending);
    let rows = walk_messages(&s, &c, &alice, q, 2).await;
    assert_eq!(ids(&rows), mids(&[3, 2, 1]));
    let q = window(Some(5000), Some(5000), SortOrder::Ascending);
    let rows = walk_messages(&s, &c, &alice, q, 1).await;
    assert_eq!(ids(&rows), mids(&[1, 2, 3]));
    let q = window(Some(5001), Some(5999), SortOrder::Descending);
    assert!(walk_messages(&s, &c, &alice, q, 10).await.is_empty());

    // Listed rows are the stored messages, sender names included.
    let q = window(None, None, SortOrder::Descending);
    for m in walk_messages(&s, &c, &alice, q, 100).await {
        assert_eq!(s.get_message(&c, &m.message_id).await.unwrap(), Some(m));
    }
    // The other channel holds its own.
    assert_eq!(history(&s, "c2", "alice").await, mids(&[9, 10]));
    assert_eq!(history(&s, "c2", "carol").await, mids(&[9]));
}

/// The store's own reading of the sender's roles and of channel "c", then the context the
/// policy saw when message `n` from `sender` was sent right after (allowed).
async fn context_at(
    s: &Arc<dyn Store>,
    n: u64,
    sender: &str,
) -> (ChannelContext, Roles, Option<Channel>) {
    let c = ckey("app", "c");
    let roles = s.roles(&c, &ukey("app", sender)).await.unwrap();
    let channel = s.get_channel(&c).await.unwrap();
    let (policy, seen) = recording(Ok(()));
    let m = plain("c", n, sender, 10_000 + n as i64);
    s.send_message(req(m, &format!("ctx-{n}"), "f"), policy)
        .await
        .unwrap();
    (taken(&seen), roles, channel)
}

/// The context of every send is the database as it is at that send: a change of the sender's
/// roles or name, or of the channel, between two sends shows in the second (an adapter that
/// keeps contexts between sends must forget them on every such change).
pub async fn messages_context_is_current(s: Arc<dyn Store>) {
    setup(&s, "app", &["owner", "mem"]).await;
    let mut nc = new_channel("app", "c", "owner", ChannelPrivacy::Public);
    nc.members = vec![ukey("app", "mem")];
    s.create_channel(nc, idem("ch", "c", "f"), 10, ROOMY)
        .await
        .unwrap();
    let (c, mem, owner) = (ckey("app", "c"), ukey("app", "mem"), ukey("app", "owner"));
    let member = Roles {
        member: Some(MembershipType::Default),
        ..Roles::default()
    };

    let mut n = 0;
    let mut expect = |ctx: ChannelContext, roles: Roles, channel: Option<Channel>, want: Roles| {
        n += 1;
        assert_eq!(ctx.actor, want, "step {n}");
        assert_eq!(
            ctx.actor, roles,
            "step {n}: the context is the store's reading"
        );
        assert_eq!(settings(ctx.channel), settings(channel), "step {n}");
    };
    let (ctx, roles, ch) = context_at(&s, 1, "mem").await;
    expect(ctx, roles, ch, member);
    // Twice in a row: a second send must not see a stale picture of the first.
    let (ctx, roles, ch) = context_at(&s, 2, "mem").await;
    expect(ctx, roles, ch, member);

    s.create_ban(&c, &mem, &owner, Timestamp(20)).await.unwrap();
    let (ctx, roles, ch) = context_at(&s, 3, "mem").await;
    let banned = Roles {
        banned: true,
        ..Roles::default()
    };
    expect(ctx, roles, ch, banned);

    s.delete_ban(&c, &mem).await.unwrap();
    s.create_membership(
        &c,
        &mem,
        MembershipType::Hidden,
        &owner,
        Timestamp(30),
        ROOMY,
    )
    .await
    .unwrap();
    let (ctx, roles, ch) = context_at(&s, 4, "mem").await;
    let hidden = Roles {
        member: Some(MembershipType::Hidden),
        ..Roles::default()
    };
    expect(ctx, roles, ch, hidden);

    s.create_admin(&mem, Timestamp(40), 10).await.unwrap();
    s.create_moderator(&c, &mem, &owner, Timestamp(41), 10)
        .await
        .unwrap();
    let (ctx, roles, ch) = context_at(&s, 5, "mem").await;
    let runs = Roles {
        admin: true,
        moderator: true,
        ..hidden
    };
    expect(ctx, roles, ch, runs);

    let update = ChannelUpdate {
        name: Some("renamed".into()),
        mode: Some(ChannelMode::Restricted),
        metadata: Some("m".into()),
    };
    s.update_channel(&c, update, Timestamp(50)).await.unwrap();
    s.update_user(&mem, "new name".into(), "md".into(), Timestamp(51))
        .await
        .unwrap();
    let (ctx, roles, ch) = context_at(&s, 6, "mem").await;
    assert_eq!(ctx.actor_name.as_deref(), Some("new name"));
    assert_eq!(
        ctx.channel.as_ref().map(|c| c.mode),
        Some(ChannelMode::Restricted)
    );
    expect(ctx, roles, ch, runs);

    s.delete_membership(&c, &mem).await.unwrap();
    s.delete_moderator(&c, &mem).await.unwrap();
    s.delete_admin(&mem).await.unwrap();
    let (ctx, roles, ch) = context_at(&s, 7, "mem").await;
    expect(ctx, roles, ch, Roles::default());

    s.delete_channel(&c).await.unwrap();
    let (policy, seen) = recording(Err(CoreError::not_found("gone")));
    let r = s
        .send_message(req(plain("c", 8, "mem", 20_000), "ctx-8", "f"), policy)
        .await;
    assert_eq!(r, Err(F::Refused(CoreError::not_found("gone"))));
    assert_eq!(taken(&seen).channel, None);
}
