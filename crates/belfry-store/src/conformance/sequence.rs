//! Conformance cases for the channels' event sequence numbers (what orders a channel's events
//! for realtime delivery) and for `session_channels`, which a connecting session reads them
//! with.

use std::future::Future;
use std::sync::Arc;

use belfry_core::arn::ChannelKey;
use belfry_core::model::{
    ChannelMessage, ChannelPrivacy, ChannelUpdate, MembershipType, MessageChange, Persistence, Tag,
    TagKind, TagTarget,
};
use belfry_core::store::StoreError as F;
use belfry_core::store::{SessionChannel, Store};
use belfry_core::time::Timestamp;
use belfry_core::CoreError;

use super::message::{actor, allow, mid, plain, req, to};
use super::{ckey, idem, is, new_channel, setup, ukey, ROOMY};

/// Creates channel `ch` of "app" by "owner" with `members` (as CreateChannel passes them).
pub(super) async fn channel_with(s: &Arc<dyn Store>, ch: &str, members: &[&str]) {
    let mut nc = new_channel("app", ch, "owner", ChannelPrivacy::Public);
    nc.members = members.iter().map(|m| ukey("app", m)).collect();
    s.create_channel(nc, idem("ch", ch, "f"), 10, ROOMY)
        .await
        .unwrap();
}

/// The channel's current event number, as a session of `member` reads it.
pub(super) async fn current(s: &Arc<dyn Store>, member: &str, ch: &ChannelKey) -> u64 {
    s.session_channels(&ukey("app", member))
        .await
        .unwrap()
        .into_iter()
        .find(|sc| sc.channel == *ch)
        .map(|sc| sc.event_seq)
        .unwrap_or_else(|| panic!("{member} is not in {ch:?}"))
}

/// Sends a PERSISTENT message (`target`ed if given) and returns the number it took.
async fn send(s: &Arc<dyn Store>, n: u64, target: Option<&str>) -> Option<u64> {
    let mut m = plain("c", n, "a", 5000 + n as i64);
    if let Some(t) = target {
        m = to(m, t);
    }
    s.send_message(req(m, &format!("tok-{n}"), "f"), allow())
        .await
        .unwrap()
        .event_seq
}

/// Event sequence: the members added by `create_channel` take 1..=n; every later write that
/// publishes a channel event (sends of PERSISTENT messages, targeted or not; edits, redactions
/// and deletes of messages; membership creates, batches and deletes; bans that remove a
/// member; channel updates and the delete) takes exactly the next number and returns it; writes
/// that publish nothing about the channel (refusals, replays, NON_PERSISTENT messages, empty
/// batches, bans of non-members, moderators, read markers, tags) take none; channels count on
/// their own; concurrent writes get distinct consecutive numbers; the count survives `reopen`
/// (a restart, for adapters that can; the identity otherwise).
pub async fn event_sequence<R, Fut>(s: Arc<dyn Store>, reopen: R)
where
    R: FnOnce(Arc<dyn Store>) -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    setup(&s, "app", &["owner", "a", "b", "c", "d", "e", "f", "g"]).await;
    let u = |id: &str| ukey("app", id);
    let owner = u("owner");
    let c = ckey("app", "c");
    channel_with(&s, "c", &["owner", "a"]).await;
    assert_eq!(current(&s, "owner", &c).await, 2, "one number per member");
    let mut want = 2;
    let mut next = || {
        want += 1;
        want
    };

    // Memberships.
    let (_, seq) = s
        .create_membership(
            &c,
            &u("b"),
            MembershipType::Default,
            &owner,
            Timestamp(1),
            ROOMY,
        )
        .await
        .unwrap();
    assert_eq!(seq, next());
    let (out, seq) = s
        .batch_create_memberships(
            &c,
            vec![u("c"), u("d"), u("a"), u("e")],
            MembershipType::Default,
            &owner,
            Timestamp(2),
            ROOMY,
        )
        .await
        .unwrap();
    assert!(out[2].is_err(), "a is a member already");
    assert_eq!(seq, Some(next()), "one number for the batch");
    let (out, seq) = s
        .batch_create_memberships(
            &c,
            vec![u("a"), u("ghost")],
            MembershipType::Default,
            &owner,
            Timestamp(3),
            ROOMY,
        )
        .await
        .unwrap();
    assert!(out.iter().all(Result::is_err));
    assert_eq!(seq, None, "a batch that added no one takes no number");
    is(
        s.create_membership(
            &c,
            &u("a"),
            MembershipType::Default,
            &owner,
            Timestamp(4),
            ROOMY,
        )
        .await,
        F::AlreadyMember {
            user: "a".into(),
            channel: "c".into(),
        },
    );
    is(
        s.delete_membership(&c, &u("ghost")).await,
        F::NotMember {
            user: "ghost".into(),
            channel: "c".into(),
        },
    );

    // Messages: stored ones take a number, targeted or not; NON_PERSISTENT ones, replays and
    // refusals do not.
    assert_eq!(send(&s, 1, None).await, Some(next()));
    assert_eq!(send(&s, 2, Some("b")).await, Some(next()));
    let fleeting = ChannelMessage {
        persistence: Persistence::NonPersistent,
        ..plain("c", 3, "a", 5003)
    };
    let sent = s
        .send_message(req(fleeting, "tok-3", "f"), allow())
        .await
        .unwrap();
    assert_eq!(sent.event_seq, None);
    let replay = s
        .send_message(req(plain("c", 4, "a", 5004), "tok-1", "f"), allow())
        .await
        .unwrap();
    assert_eq!((replay.replayed, replay.event_seq), (true, None));
    is(
        s.send_message(
            req(plain("c", 5, "a", 5005), "tok-5", "f"),
            Box::new(|_| Err(CoreError::forbidden("no"))),
        )
        .await,
        F::Refused(CoreError::forbidden("no")),
    );
    let edit = MessageChange::Edit {
        content: "edited".into(),
        metadata: None,
        content_type: None,
    };
    let (_, seq) = s
        .change_message(&c, &mid(1), &actor(), edit.clone(), Timestamp(6), allow())
        .await
        .unwrap();
    assert_eq!(seq, next());
    let (_, seq) = s
        .change_message(
            &c,
            &mid(1),
            &actor(),
            MessageChange::Redact,
            Timestamp(7),
            allow(),
        )
        .await
        .unwrap();
    assert_eq!(seq, next());
    is(
        s.change_message(&c, &mid(1), &actor(), edit, Timestamp(8), allow())
            .await,
        F::Redacted(mid(1)),
    );
    let (_, seq) = s
        .delete_message(&c, &mid(2), &actor(), allow())
        .await
        .unwrap();
    assert_eq!(seq, next());
    is(
        s.delete_message(&c, &mid(2), &actor(), allow()).await,
        F::NoMessage(mid(2)),
    );

    // The channel, a removal, a ban that removes a member; and what publishes nothing.
    let (_, seq) = s
        .update_channel(&c, ChannelUpdate::default(), Timestamp(9))
        .await
        .unwrap();
    assert_eq!(seq, next());
    let (_, seq) = s.delete_membership(&c, &u("d")).await.unwrap();
    assert_eq!(seq, next());
    let kicked = s.create_ban(&c, &u("e"), &owner, Timestamp(10)).await;
    assert_eq!(kicked.unwrap().1.map(|(_, seq)| seq), Some(next()));
    assert_eq!(
        s.create_ban(&c, &u("f"), &owner, Timestamp(11))
            .await
            .unwrap()
            .1,
        None,
        "f was no member"
    );
    s.create_moderator(&c, &u("g"), &owner, Timestamp(12), 10)
        .await
        .unwrap();
    s.delete_moderator(&c, &u("g")).await.unwrap();
    s.update_read_marker(&c, &u("a"), Timestamp(13), allow())
        .await
        .unwrap();
    let tags = TagTarget {
        app_instance_id: "app".into(),
        kind: TagKind::Channel,
        id: "c".into(),
    };
    let tag = Tag {
        key: "k".into(),
        value: "v".into(),
    };
    s.tag_resource(&tags, vec![tag], 50).await.unwrap();
    assert_eq!(current(&s, "owner", &c).await, want);

    // Another channel counts on its own.
    let c2 = ckey("app", "c2");
    channel_with(&s, "c2", &["owner"]).await;
    let (_, seq) = s
        .update_channel(&c2, ChannelUpdate::default(), Timestamp(14))
        .await
        .unwrap();
    assert_eq!(seq, 2);
    assert_eq!(current(&s, "owner", &c).await, want);

    // Concurrent writes to one channel: distinct numbers, none skipped.
    let mut tasks = Vec::new();
    for n in 100..140u64 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let m = plain("c", n, "a", 9000);
            s.send_message(req(m, &format!("tok-{n}"), "f"), allow())
                .await
                .unwrap()
                .event_seq
                .unwrap()
        }));
    }
    let mut seqs = Vec::new();
    for t in tasks {
        seqs.push(t.await.unwrap());
    }
    seqs.sort_unstable();
    assert_eq!(seqs, ((want + 1)..=(want + 40)).collect::<Vec<_>>());
    want += 40;

    // The count survives a restart, and the last event of a channel is its delete.
    let s = reopen(s).await;
    assert_eq!(current(&s, "owner", &c).await, want);
    let (_, seq) = s
        .update_channel(&c, ChannelUpdate::default(), Timestamp(15))
        .await
        .unwrap();
    assert_eq!(seq, want + 1);
    let (_, seq) = s.delete_channel(&c).await.unwrap();
    assert_eq!(seq, want + 2);
    is(s.delete_channel(&c).await, F::NoChannel("c".into()));
    assert_eq!(current(&s, "owner", &c2).await, 2);
}

/// Session channels: every membership of the user, HIDDEN ones included, each with the
/// channel's current event number, LastMessageTimestamp and the user's read marker; nothing of
/// channels the user is not in (or has left) or of a same-named user of another AppInstance.
pub async fn session_channels(s: Arc<dyn Store>) {
    setup(&s, "app", &["owner", "u", "other"]).await;
    setup(&s, "app2", &["owner", "u"]).await;
    let u = ukey("app", "u");
    let owner = ukey("app", "owner");
    for ch in ["pub", "hid", "left", "notmine"] {
        channel_with(&s, ch, &["owner"]).await;
    }
    let mut nc = new_channel("app2", "elsewhere", "owner", ChannelPrivacy::Public);
    nc.members = vec![ukey("app2", "owner"), ukey("app2", "u")];
    s.create_channel(nc, idem("app2", "e", "f"), 10, ROOMY)
        .await
        .unwrap();
    assert!(s.session_channels(&u).await.unwrap().is_empty());

    let join = |ch: &str, kind| {
        let (s, ch, u, owner) = (s.clone(), ckey("app", ch), u.clone(), owner.clone());
        async move {
            s.create_membership(&ch, &u, kind, &owner, Timestamp(10), ROOMY)
                .await
                .unwrap()
                .1
        }
    };
    assert_eq!(join("pub", MembershipType::Default).await, 2);
    assert_eq!(join("hid", MembershipType::Hidden).await, 2);
    assert_eq!(join("left", MembershipType::Default).await, 2);
    let m = plain("pub", 1, "owner", 5000);
    let sent = s.send_message(req(m, "t1", "f"), allow()).await.unwrap();
    assert_eq!(sent.event_seq, Some(3));
    s.update_read_marker(&ckey("app", "pub"), &u, Timestamp(6000), allow())
        .await
        .unwrap();
    let (_, seq) = s
        .update_channel(&ckey("app", "hid"), ChannelUpdate::default(), Timestamp(7))
        .await
        .unwrap();
    assert_eq!(seq, 3);
    s.delete_membership(&ckey("app", "left"), &u).await.unwrap();
    // A message only its sender and target see moves no LastMessageTimestamp, but it is an
    // event of the channel.
    let aside = to(plain("hid", 2, "owner", 8000), "owner");
    s.send_message(req(aside, "t2", "f"), allow())
        .await
        .unwrap();

    let mut got = s.session_channels(&u).await.unwrap();
    got.sort_by(|a, b| a.channel.channel_id.cmp(&b.channel.channel_id));
    assert_eq!(
        got,
        vec![
            SessionChannel {
                channel: ckey("app", "hid"),
                kind: MembershipType::Hidden,
                event_seq: 4,
                last_message: None,
                read_marker: None,
            },
            SessionChannel {
                channel: ckey("app", "pub"),
                kind: MembershipType::Default,
                event_seq: 3,
                last_message: Some(Timestamp(5000)),
                read_marker: Some(Timestamp(6000)),
            },
        ]
    );
    // The same user id in another AppInstance is another user.
    let there = s.session_channels(&ukey("app2", "u")).await.unwrap();
    assert_eq!(
        there
            .iter()
            .map(|sc| sc.channel.clone())
            .collect::<Vec<_>>(),
        [ckey("app2", "elsewhere")]
    );
    assert_eq!(there[0].event_seq, 2);
    assert!(s
        .session_channels(&ukey("app", "other"))
        .await
        .unwrap()
        .is_empty());
    assert!(s
        .session_channels(&ukey("app", "ghost"))
        .await
        .unwrap()
        .is_empty());
}
