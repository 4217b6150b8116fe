//! Conformance cases for what happens to messages after they are sent (edits, redactions,
//! deletes, and their fate when the channel goes), for read markers, and for `channel_access`.

use std::sync::Arc;

use belfry_core::model::{
    ChannelMessage, ChannelPrivacy, MembershipType, MessageChange, MessageQuery, SortOrder,
};
use belfry_core::perm::Roles;
use belfry_core::store::StoreError as F;
use belfry_core::store::{ChannelView, Sent, Store};
use belfry_core::time::Timestamp;

use super::message::{actor, allow, history, mid, mids, named, plain, req, rich, send, to};
use super::{ckey, idem, is, new_channel, setup, ukey, ROOMY};

/// Channels "c" and "c2", both with `members`.
async fn channels(s: &Arc<dyn Store>, members: &[&str]) {
    for ch in ["c", "c2"] {
        let mut nc = new_channel("app", ch, "owner", ChannelPrivacy::Public);
        nc.members = members.iter().map(|m| ukey("app", m)).collect();
        s.create_channel(nc, idem("ch", ch, "f"), 10, ROOMY)
            .await
            .unwrap();
    }
}

fn edit(content: &str, metadata: Option<&str>, content_type: Option<&str>) -> MessageChange {
    MessageChange::Edit {
        content: content.into(),
        metadata: metadata.map(str::to_string),
        content_type: content_type.map(str::to_string),
    }
}

/// Change: an edit replaces the content, and metadata and content type only when given, and
/// sets edited == updated == now; a redaction clears content, metadata and attributes, marks
/// the message and leaves the rest; a redacted message cannot be edited; an unknown message
/// (or one of another channel) is NotFound. Reads see each change.
pub async fn messages_change(s: Arc<dyn Store>) {
    setup(&s, "app", &["owner", "alice", "bob"]).await;
    channels(&s, &["alice", "bob"]).await;
    let c = ckey("app", "c");
    let original = send(&s, to(rich("c", 1, "alice", 5000), "bob")).await;
    let bystander = send(&s, plain("c", 2, "bob", 5100)).await;
    let other = send(&s, plain("c2", 3, "alice", 5200)).await;

    // Content only: metadata and content type stay. Each change takes the channel's next event
    // number (after two members and two messages).
    let (first, seq) = s
        .change_message(
            &c,
            &mid(1),
            &actor(),
            edit("edited", None, None),
            Timestamp(6000),
            allow(),
        )
        .await
        .unwrap();
    assert_eq!(seq, 5);
    let want = ChannelMessage {
        content: Some("edited".into()),
        edited: Some(Timestamp(6000)),
        updated: Timestamp(6000),
        ..original.clone()
    };
    assert_eq!(first, want);
    assert_eq!(s.get_message(&c, &mid(1)).await.unwrap(), Some(want));

    // All three given: all three replaced.
    let (second, seq) = s
        .change_message(
            &c,
            &mid(1),
            &actor(),
            edit("again", Some("md2"), Some("text/plain")),
            Timestamp(7000),
            allow(),
        )
        .await
        .unwrap();
    assert_eq!(seq, 6);
    let want = ChannelMessage {
        content: Some("again".into()),
        metadata: Some("md2".into()),
        content_type: Some("text/plain".into()),
        edited: Some(Timestamp(7000)),
        updated: Timestamp(7000),
        ..original.clone()
    };
    assert_eq!(second, want);
    assert_eq!(
        s.get_message(&c, &mid(1)).await.unwrap(),
        Some(want.clone())
    );
    assert_eq!(s.get_message(&c, &mid(2)).await.unwrap(), Some(bystander));

    // Redaction: content, metadata and attributes gone, marked redacted, updated == now; the
    // sender, target, type, push settings, times and last edit stay. Listings show the same.
    let (redacted, seq) = s
        .change_message(
            &c,
            &mid(1),
            &actor(),
            MessageChange::Redact,
            Timestamp(8000),
            allow(),
        )
        .await
        .unwrap();
    assert_eq!(seq, 7);
    assert_eq!(
        redacted,
        ChannelMessage {
            content: None,
            metadata: None,
            attributes: Vec::new(),
            redacted: true,
            updated: Timestamp(8000),
            content_type: redacted.content_type.clone(),
            ..want
        }
    );
    assert_eq!(
        s.get_message(&c, &mid(1)).await.unwrap(),
        Some(redacted.clone())
    );
    let listed = s
        .list_messages(
            &c,
            &ukey("app", "bob"),
            MessageQuery {
                not_before: None,
                not_after: None,
                order: SortOrder::Ascending,
            },
            None,
            10,
        )
        .await
        .unwrap();
    assert_eq!(listed[0].1, redacted);

    // A redacted message cannot be edited, and stays as it is.
    is(
        s.change_message(
            &c,
            &mid(1),
            &actor(),
            edit("back", None, None),
            Timestamp(9000),
            allow(),
        )
        .await,
        F::Redacted(mid(1)),
    );
    assert_eq!(s.get_message(&c, &mid(1)).await.unwrap(), Some(redacted));

    // Unknown message, a message of another channel, a missing channel: NotFound.
    for change in [edit("x", None, None), MessageChange::Redact] {
        is(
            s.change_message(
                &c,
                &mid(99),
                &actor(),
                change.clone(),
                Timestamp(9000),
                allow(),
            )
            .await,
            F::NoMessage(mid(99)),
        );
        is(
            s.change_message(
                &c,
                &mid(3),
                &actor(),
                change.clone(),
                Timestamp(9000),
                allow(),
            )
            .await,
            F::NoMessage(mid(3)),
        );
        is(
            s.change_message(
                &ckey("app", "nope"),
                &mid(1),
                &actor(),
                change,
                Timestamp(9000),
                allow(),
            )
            .await,
            F::NoMessage(mid(1)),
        );
    }
    assert!(s.get_message(&c, &mid(99)).await.unwrap().is_none());
    assert_eq!(
        s.get_message(&ckey("app", "c2"), &mid(3)).await.unwrap(),
        Some(other)
    );
}

/// Delete: returns the message as it was; afterwards it is not read, not listed, not changed,
/// a second delete is NotFound, and its id and token are free again; a message of another
/// channel cannot be deleted through this one. Deleting the channel takes its messages (and
/// their ids and tokens) with it: a channel re-created under the same id starts empty.
pub async fn messages_delete(s: Arc<dyn Store>) {
    setup(&s, "app", &["owner", "alice", "bob"]).await;
    channels(&s, &["alice", "bob"]).await;
    let c = ckey("app", "c");
    let c2 = ckey("app", "c2");
    send(&s, rich("c", 1, "alice", 5000)).await;
    let kept = send(&s, plain("c", 2, "bob", 5100)).await;
    let other = send(&s, plain("c2", 3, "alice", 5200)).await;
    s.change_message(
        &c,
        &mid(1),
        &actor(),
        edit("edited", None, None),
        Timestamp(6000),
        allow(),
    )
    .await
    .unwrap();
    let before = s.get_message(&c, &mid(1)).await.unwrap().unwrap();

    // Two members, two messages, one edit: the delete is the sixth event.
    assert_eq!(
        s.delete_message(&c, &mid(1), &actor(), allow())
            .await
            .unwrap(),
        (before, 6)
    );
    assert!(s.get_message(&c, &mid(1)).await.unwrap().is_none());
    assert_eq!(history(&s, "c", "alice").await, mids(&[2]));
    is(
        s.delete_message(&c, &mid(1), &actor(), allow()).await,
        F::NoMessage(mid(1)),
    );
    is(
        s.change_message(
            &c,
            &mid(1),
            &actor(),
            MessageChange::Redact,
            Timestamp(7000),
            allow(),
        )
        .await,
        F::NoMessage(mid(1)),
    );
    is(
        s.delete_message(&c, &mid(3), &actor(), allow()).await,
        F::NoMessage(mid(3)),
    );
    assert_eq!(s.get_message(&c2, &mid(3)).await.unwrap(), Some(other));
    assert_eq!(s.get_message(&c, &mid(2)).await.unwrap(), Some(kept));

    // A deleted message leaves nothing behind: its id can be stored again.
    let reborn = plain("c", 1, "alice", 8000);
    send(&s, reborn.clone()).await;
    assert_eq!(
        s.get_message(&c, &mid(1)).await.unwrap(),
        Some(named(reborn))
    );
    assert_eq!(history(&s, "c", "alice").await, mids(&[2, 1]));

    // The channel goes with its messages; one re-created under the same id starts empty, and
    // the old channel's tokens mean nothing in it.
    s.delete_channel(&c).await.unwrap();
    s.create_channel(
        new_channel("app", "c", "owner", ChannelPrivacy::Public),
        idem("ch", "again", "f"),
        10,
        ROOMY,
    )
    .await
    .unwrap();
    assert!(s.get_message(&c, &mid(2)).await.unwrap().is_none());
    assert!(history(&s, "c", "owner").await.is_empty());
    assert!(history(&s, "c", "bob").await.is_empty());
    assert_eq!(s.get_channel(&c).await.unwrap().unwrap().last_message, None);
    is(
        s.delete_message(&c, &mid(2), &actor(), allow()).await,
        F::NoMessage(mid(2)),
    );
    // Nothing of the old messages is left behind: a message under the id and token of one of
    // them (with another fingerprint) is stored anew.
    let fresh = plain("c", 2, "bob", 9000);
    let token = format!("token-{}", mid(2));
    let sent = s
        .send_message(req(fresh.clone(), &token, "different"), allow())
        .await
        .unwrap();
    // The new channel numbers its events afresh.
    assert_eq!(
        sent,
        Sent {
            message: named(fresh),
            replayed: false,
            event_seq: Some(1),
        }
    );
    assert_eq!(history(&s, "c", "owner").await, mids(&[2]));
    assert_eq!(history(&s, "c2", "owner").await, mids(&[3]));
}

/// Read markers: set on the member's membership (DEFAULT or HIDDEN), seen by `get_membership`
/// and `list_user_memberships`, moved by a later call, one channel at a time; for a user who is
/// not a member (a moderator who never joined, an outsider, a missing user, a missing channel)
/// NotFound, creating nothing.
pub async fn read_markers(s: Arc<dyn Store>) {
    setup(&s, "app", &["owner", "alice", "bob", "carol"]).await;
    channels(&s, &["alice"]).await;
    let c = ckey("app", "c");
    let u = |id: &str| ukey("app", id);
    let hidden = MembershipType::Hidden;
    s.create_membership(&c, &u("bob"), hidden, &u("owner"), Timestamp(4000), ROOMY)
        .await
        .unwrap();
    let before = s.get_membership(&c, &u("alice")).await.unwrap().unwrap();
    assert_eq!(before.read_marker, None);
    let marker = |ch: &str, id: &str| {
        let (s, ch, id) = (s.clone(), ckey("app", ch), u(id));
        async move {
            let m = s.get_membership(&ch, &id).await.unwrap().unwrap();
            let listed = s.list_user_memberships(&id, None, 100).await.unwrap();
            let row = listed
                .iter()
                .find(|r| r.value.channel.key == ch)
                .expect("membership listed");
            assert_eq!(row.value.read_marker, m.read_marker, "both reads agree");
            m.read_marker
        }
    };

    s.update_read_marker(&c, &u("alice"), Timestamp(7000), allow())
        .await
        .unwrap();
    assert_eq!(marker("c", "alice").await, Some(Timestamp(7000)));
    assert_eq!(marker("c2", "alice").await, None, "only that channel");
    let after = s.get_membership(&c, &u("alice")).await.unwrap().unwrap();
    assert_eq!(
        (after.member, after.kind, after.created),
        (before.member, before.kind, before.created)
    );

    s.update_read_marker(&c, &u("alice"), Timestamp(8000), allow())
        .await
        .unwrap();
    assert_eq!(marker("c", "alice").await, Some(Timestamp(8000)));
    s.update_read_marker(&c, &u("bob"), Timestamp(7500), allow())
        .await
        .unwrap();
    assert_eq!(marker("c", "bob").await, Some(Timestamp(7500)));
    assert_eq!(marker("c", "alice").await, Some(Timestamp(8000)));

    for id in ["owner", "carol", "ghost"] {
        is(
            s.update_read_marker(&c, &u(id), Timestamp(9000), allow())
                .await,
            F::NotMember {
                user: id.into(),
                channel: "c".into(),
            },
        );
        assert!(s.get_membership(&c, &u(id)).await.unwrap().is_none());
    }
    is(
        s.update_read_marker(&ckey("app", "nope"), &u("alice"), Timestamp(9000), allow())
            .await,
        F::NotMember {
            user: "alice".into(),
            channel: "nope".into(),
        },
    );
}

/// channel_access: whether the user exists, the channel as `get_channel` reads it (None when
/// missing) and the user's roles as `roles` reads them, for a member, a hidden member, a
/// moderator, an admin, a banned user, an outsider and a missing user.
pub async fn channel_access(s: Arc<dyn Store>) {
    let people = ["owner", "mem", "hid", "adm", "banned", "outsider"];
    setup(&s, "app", &people).await;
    let mut nc = new_channel("app", "c", "owner", ChannelPrivacy::Private);
    nc.members = vec![ukey("app", "mem"), ukey("app", "banned")];
    s.create_channel(nc, idem("ch", "c", "f"), 10, ROOMY)
        .await
        .unwrap();
    let c = ckey("app", "c");
    let u = |id: &str| ukey("app", id);
    let hidden = MembershipType::Hidden;
    s.create_membership(&c, &u("hid"), hidden, &u("owner"), Timestamp(4000), ROOMY)
        .await
        .unwrap();
    s.create_admin(&u("adm"), Timestamp(4000), 10)
        .await
        .unwrap();
    s.create_ban(&c, &u("banned"), &u("owner"), Timestamp(4000))
        .await
        .unwrap();
    send(&s, plain("c", 1, "mem", 5000)).await;
    let channel = s.get_channel(&c).await.unwrap();
    assert_eq!(
        channel.as_ref().map(|ch| ch.last_message),
        Some(Some(Timestamp(5000)))
    );

    let member = |kind| Roles {
        member: Some(kind),
        ..Roles::default()
    };
    let cases = [
        ("mem", true, member(MembershipType::Default)),
        ("hid", true, member(MembershipType::Hidden)),
        (
            "owner",
            true,
            Roles {
                moderator: true,
                ..Roles::default()
            },
        ),
        (
            "adm",
            true,
            Roles {
                admin: true,
                ..Roles::default()
            },
        ),
        (
            "banned",
            true,
            Roles {
                banned: true,
                ..Roles::default()
            },
        ),
        ("outsider", true, Roles::default()),
        ("ghost", false, Roles::default()),
    ];
    for (id, user_exists, roles) in cases {
        let view = s.channel_access(&c, &u(id)).await.unwrap();
        assert_eq!(
            view,
            ChannelView {
                user_exists,
                channel: channel.clone(),
                roles,
            },
            "{id}"
        );
        assert_eq!(view.roles, s.roles(&c, &u(id)).await.unwrap(), "{id}");
    }

    // A missing channel: no channel, and roles as `roles` reads them.
    let nope = ckey("app", "nope");
    for (id, user_exists) in [("mem", true), ("adm", true), ("ghost", false)] {
        let view = s.channel_access(&nope, &u(id)).await.unwrap();
        assert_eq!(
            (view.user_exists, view.channel, view.roles),
            (user_exists, None, s.roles(&nope, &u(id)).await.unwrap()),
            "{id}"
        );
    }
    let view = s.channel_access(&nope, &u("mem")).await.unwrap();
    assert_eq!(view.roles, Roles::default());

    // The view follows changes: a member who leaves has no roles left.
    s.delete_membership(&c, &u("mem")).await.unwrap();
    let view = s.channel_access(&c, &u("mem")).await.unwrap();
    assert_eq!((view.user_exists, view.roles), (true, Roles::default()));
}
