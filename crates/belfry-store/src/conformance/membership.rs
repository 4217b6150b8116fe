//! Conformance cases for channel memberships: single and batch adds, reads, listings, removal,
//! and a user's own memberships across channels.

use std::sync::Arc;

use belfry_core::model::{ChannelPrivacy, Membership, MembershipType, UserMembership};
use belfry_core::store::{Limit, StoreError as F};
use belfry_core::store::{MembershipLimits, Store};
use belfry_core::time::Timestamp;

use super::{ckey, idem, is, new_channel, setup, ukey, uref, user_ids, walk, ROOMY};

/// The membership a create at `at` makes, with both names as `setup` gave them.
fn membership(
    ch: &str,
    member: &str,
    invited_by: &str,
    kind: MembershipType,
    at: i64,
) -> Membership {
    Membership {
        channel: ckey("app", ch),
        member: uref("app", member),
        invited_by: uref("app", invited_by),
        kind,
        created: Timestamp(at),
        updated: Timestamp(at),
        read_marker: None,
    }
}

/// Memberships: create (DEFAULT and HIDDEN) with names resolved from users; duplicate, missing
/// user or channel, ban and both quotas refused without storing anything; get; listing by type
/// in creation order over a keyset; delete returns the membership, after which it is gone.
pub async fn memberships(s: Arc<dyn Store>) {
    let people = [
        "owner", "alice", "bob", "carol", "dave", "erin", "frank", "banned",
    ];
    setup(&s, "app", &people).await;
    for (i, ch) in ["c", "c2", "c3"].into_iter().enumerate() {
        s.create_channel(
            new_channel("app", ch, "owner", ChannelPrivacy::Public),
            idem("ch", &format!("t{i}"), "f"),
            10,
            ROOMY,
        )
        .await
        .unwrap();
    }
    let c = ckey("app", "c");
    let u = |id: &str| ukey("app", id);
    let owner = u("owner");
    let add = |ch: &str, id: &str, kind: MembershipType, at: i64, limits: MembershipLimits| {
        let (s, ch, id, owner) = (s.clone(), ckey("app", ch), u(id), owner.clone());
        async move {
            s.create_membership(&ch, &id, kind, &owner, Timestamp(at), limits)
                .await
                .map(|(m, _)| m)
        }
    };

    // DEFAULT and HIDDEN: the result carries both users' names, the type, created == updated
    // == now, and no read marker; get returns the same.
    let alice = add("c", "alice", MembershipType::Default, 10, ROOMY)
        .await
        .unwrap();
    assert_eq!(
        alice,
        membership("c", "alice", "owner", MembershipType::Default, 10)
    );
    assert_eq!(
        s.get_membership(&c, &u("alice")).await.unwrap(),
        Some(alice.clone())
    );
    let bob = add("c", "bob", MembershipType::Hidden, 11, ROOMY)
        .await
        .unwrap();
    assert_eq!(
        bob,
        membership("c", "bob", "owner", MembershipType::Hidden, 11)
    );
    assert_eq!(s.get_membership(&c, &u("bob")).await.unwrap(), Some(bob));
    assert_eq!(
        s.roles(&c, &u("bob")).await.unwrap().member,
        Some(MembershipType::Hidden)
    );

    // Names are the users' current names, not copies taken at create time.
    s.update_user(&u("alice"), "Alice II".into(), "".into(), Timestamp(12))
        .await
        .unwrap();
    let renamed = s.get_membership(&c, &u("alice")).await.unwrap().unwrap();
    assert_eq!(renamed.member.name.as_deref(), Some("Alice II"));
    assert_eq!(renamed.invited_by.name.as_deref(), Some("owner name"));
    s.update_user(&u("alice"), "alice name".into(), "".into(), Timestamp(13))
        .await
        .unwrap();

    // Already a member, of either type: Conflict, and the membership is unchanged.
    is(
        add("c", "alice", MembershipType::Hidden, 14, ROOMY).await,
        F::AlreadyMember {
            user: "alice".into(),
            channel: "c".into(),
        },
    );
    assert_eq!(
        s.get_membership(&c, &u("alice")).await.unwrap(),
        Some(alice.clone())
    );

    // User or channel missing: NotFound.
    is(
        add("c", "ghost", MembershipType::Default, 15, ROOMY).await,
        F::NoUser("ghost".into()),
    );
    assert!(s.get_membership(&c, &u("ghost")).await.unwrap().is_none());
    is(
        add("nope", "carol", MembershipType::Default, 15, ROOMY).await,
        F::NoChannel("nope".into()),
    );
    assert!(s
        .list_user_memberships(&u("carol"), None, 10)
        .await
        .unwrap()
        .is_empty());

    // Banned: Forbidden, and nothing stored.
    assert_eq!(
        s.create_ban(&c, &u("banned"), &owner, Timestamp(16))
            .await
            .unwrap()
            .1,
        None
    );
    is(
        add("c", "banned", MembershipType::Default, 17, ROOMY).await,
        F::Banned {
            user: "banned".into(),
            channel: "c".into(),
        },
    );
    assert!(s.get_membership(&c, &u("banned")).await.unwrap().is_none());

    // Per channel: `c` holds alice (DEFAULT) and bob (HIDDEN); both count, so a limit of 2 is
    // full and a limit of 3 is not.
    let channel_limit = |n| MembershipLimits {
        per_channel: n,
        per_user: 1000,
    };
    is(
        add("c", "carol", MembershipType::Default, 18, channel_limit(2)).await,
        F::Limit(Limit::ChannelMembers {
            channel: "c".into(),
            max: 2,
        }),
    );
    assert!(s.get_membership(&c, &u("carol")).await.unwrap().is_none());
    let carol = add("c", "carol", MembershipType::Default, 19, channel_limit(3))
        .await
        .unwrap();

    // Per user: alice is in one channel, so a limit of 1 refuses a second, 2 admits it and
    // then refuses a third.
    let user_limit = |n| MembershipLimits {
        per_channel: 1000,
        per_user: n,
    };
    is(
        add("c2", "alice", MembershipType::Default, 20, user_limit(1)).await,
        F::Limit(Limit::UserChannels {
            user: "alice".into(),
            max: 1,
        }),
    );
    assert!(s
        .get_membership(&ckey("app", "c2"), &u("alice"))
        .await
        .unwrap()
        .is_none());
    add("c2", "alice", MembershipType::Hidden, 21, user_limit(2))
        .await
        .unwrap();
    is(
        add("c3", "alice", MembershipType::Default, 22, user_limit(2)).await,
        F::Limit(Limit::UserChannels {
            user: "alice".into(),
            max: 2,
        }),
    );
    assert!(s
        .get_membership(&ckey("app", "c3"), &u("alice"))
        .await
        .unwrap()
        .is_none());

    // Listing: one type at a time, creation order, keyset-paged without repeats or gaps.
    for (id, at) in [("dave", 23), ("erin", 24), ("frank", 25)] {
        add("c", id, MembershipType::Default, at, ROOMY)
            .await
            .unwrap();
    }
    let first = s
        .list_memberships(&c, MembershipType::Default, None, 2)
        .await
        .unwrap();
    assert_eq!(user_ids(&first), ["alice", "carol"]);
    assert_eq!(first[0].value, uref("app", "alice"), "listed with name");
    let second = s
        .list_memberships(&c, MembershipType::Default, Some(first[1].seq), 2)
        .await
        .unwrap();
    assert_eq!(user_ids(&second), ["dave", "erin"]);
    let walked = walk(1, |after, limit| {
        let (s, c) = (s.clone(), c.clone());
        async move {
            s.list_memberships(&c, MembershipType::Default, after, limit)
                .await
        }
    })
    .await;
    assert_eq!(
        user_ids(&walked),
        ["alice", "carol", "dave", "erin", "frank"]
    );
    let hidden = s
        .list_memberships(&c, MembershipType::Hidden, None, 10)
        .await
        .unwrap();
    assert_eq!(user_ids(&hidden), ["bob"]);
    assert!(s
        .list_memberships(&c, MembershipType::Hidden, Some(hidden[0].seq), 10)
        .await
        .unwrap()
        .is_empty());

    // Delete returns the membership as it was; then it is gone and a second delete is NotFound.
    assert_eq!(s.delete_membership(&c, &u("carol")).await.unwrap().0, carol);
    assert!(s.get_membership(&c, &u("carol")).await.unwrap().is_none());
    assert_eq!(s.roles(&c, &u("carol")).await.unwrap().member, None);
    is(
        s.delete_membership(&c, &u("carol")).await,
        F::NotMember {
            user: "carol".into(),
            channel: "c".into(),
        },
    );
    is(
        s.delete_membership(&c, &u("owner")).await,
        F::NotMember {
            user: "owner".into(),
            channel: "c".into(),
        },
    );
    let left = s
        .list_memberships(&c, MembershipType::Default, None, 10)
        .await
        .unwrap();
    assert_eq!(user_ids(&left), ["alice", "dave", "erin", "frank"]);
    assert_eq!(
        s.get_membership(&c, &u("alice")).await.unwrap(),
        Some(alice)
    );
}

/// Batch adds: one outcome per input, in input order, each as a single add would report it;
/// the accepted members are stored and the refused ones are not; the per-channel quota counts
/// members added earlier in the same batch.
pub async fn batch_memberships(s: Arc<dyn Store>) {
    setup(&s, "app", &["owner", "a", "b", "c", "old", "banned"]).await;
    for (i, ch) in ["ch", "small"].into_iter().enumerate() {
        s.create_channel(
            new_channel("app", ch, "owner", ChannelPrivacy::Private),
            idem("ch", &format!("t{i}"), "f"),
            10,
            ROOMY,
        )
        .await
        .unwrap();
    }
    let u = |id: &str| ukey("app", id);
    let owner = u("owner");
    let ch = ckey("app", "ch");
    let old = s
        .create_membership(
            &ch,
            &u("old"),
            MembershipType::Default,
            &owner,
            Timestamp(5),
            ROOMY,
        )
        .await
        .unwrap()
        .0;
    s.create_ban(&ch, &u("banned"), &owner, Timestamp(6))
        .await
        .unwrap();

    let input = ["a", "old", "banned", "ghost", "b", "a"];
    let (out, seq) = s
        .batch_create_memberships(
            &ch,
            input.iter().map(|id| u(id)).collect(),
            MembershipType::Hidden,
            &owner,
            Timestamp(50),
            ROOMY,
        )
        .await
        .unwrap();
    assert_eq!(out.len(), input.len(), "one outcome per input: {out:?}");
    // One event for the batch, after old's membership (the ban kicked no one).
    assert_eq!(seq, Some(2));
    let mut out = out.into_iter();
    let mut next = || out.next().unwrap();
    assert_eq!(
        next().unwrap(),
        membership("ch", "a", "owner", MembershipType::Hidden, 50)
    );
    is(
        next(),
        F::AlreadyMember {
            user: "old".into(),
            channel: "ch".into(),
        },
    );
    is(
        next(),
        F::Banned {
            user: "banned".into(),
            channel: "ch".into(),
        },
    );
    is(next(), F::NoUser("ghost".into()));
    assert_eq!(
        next().unwrap(),
        membership("ch", "b", "owner", MembershipType::Hidden, 50)
    );
    // The same user twice: the second is already a member by the time it is reached.
    is(
        next(),
        F::AlreadyMember {
            user: "a".into(),
            channel: "ch".into(),
        },
    );

    // What was accepted is stored; what was refused left nothing behind.
    assert_eq!(
        s.get_membership(&ch, &u("a")).await.unwrap(),
        Some(membership("ch", "a", "owner", MembershipType::Hidden, 50))
    );
    assert!(s.get_membership(&ch, &u("b")).await.unwrap().is_some());
    assert_eq!(s.get_membership(&ch, &u("old")).await.unwrap(), Some(old));
    assert!(s.get_membership(&ch, &u("banned")).await.unwrap().is_none());
    assert!(s.get_membership(&ch, &u("ghost")).await.unwrap().is_none());
    let hidden = s
        .list_memberships(&ch, MembershipType::Hidden, None, 10)
        .await
        .unwrap();
    assert_eq!(user_ids(&hidden), ["a", "b"]);
    let default = s
        .list_memberships(&ch, MembershipType::Default, None, 10)
        .await
        .unwrap();
    assert_eq!(user_ids(&default), ["old"]);
    assert!(s.roles(&ch, &u("banned")).await.unwrap().banned, "ban kept");

    // An empty channel with room for two: the third of the batch finds it full.
    let small = ckey("app", "small");
    let (out, seq) = s
        .batch_create_memberships(
            &small,
            vec![u("a"), u("b"), u("c")],
            MembershipType::Default,
            &owner,
            Timestamp(60),
            MembershipLimits {
                per_channel: 2,
                per_user: 1000,
            },
        )
        .await
        .unwrap();
    assert_eq!((out.len(), seq), (3, Some(1)));
    assert!(out[0].is_ok() && out[1].is_ok(), "{out:?}");
    assert!(
        out[2]
            == Err(F::Limit(Limit::ChannelMembers {
                channel: "small".into(),
                max: 2
            })),
        "{out:?}"
    );
    let stored = s
        .list_memberships(&small, MembershipType::Default, None, 10)
        .await
        .unwrap();
    assert_eq!(user_ids(&stored), ["a", "b"]);
    assert!(s.get_membership(&small, &u("c")).await.unwrap().is_none());
}

/// A user's memberships: each with its channel as `get_channel` shows it and the membership
/// type, in membership creation order (not channel order), keyset-paged; nothing of other
/// users or of another AppInstance's user with the same id.
pub async fn user_memberships(s: Arc<dyn Store>) {
    setup(&s, "app", &["owner", "u", "other"]).await;
    setup(&s, "app2", &["owner", "u"]).await;
    let channels = [
        ("app", "pub", ChannelPrivacy::Public),
        ("app", "priv", ChannelPrivacy::Private),
        ("app", "late", ChannelPrivacy::Public),
        ("app", "notmine", ChannelPrivacy::Public),
        ("app2", "elsewhere", ChannelPrivacy::Public),
    ];
    for (i, (app, ch, privacy)) in channels.into_iter().enumerate() {
        s.create_channel(
            new_channel(app, ch, "owner", privacy),
            idem(app, &format!("t{i}"), "f"),
            10,
            ROOMY,
        )
        .await
        .unwrap();
    }
    let add = |app: &str, ch: &str, user: &str, kind: MembershipType| {
        let (s, ch, user, by) = (
            s.clone(),
            ckey(app, ch),
            ukey(app, user),
            ukey(app, "owner"),
        );
        async move {
            s.create_membership(&ch, &user, kind, &by, Timestamp(100), ROOMY)
                .await
                .unwrap();
        }
    };
    // Joined in an order unlike the channels' creation order.
    add("app", "priv", "u", MembershipType::Hidden).await;
    add("app", "notmine", "other", MembershipType::Default).await;
    add("app", "pub", "other", MembershipType::Default).await;
    add("app", "pub", "u", MembershipType::Default).await;
    add("app2", "elsewhere", "u", MembershipType::Default).await;
    add("app", "late", "u", MembershipType::Default).await;
    // The channel comes as it is now, not as it was when the user joined.
    s.update_channel(
        &ckey("app", "pub"),
        belfry_core::model::ChannelUpdate {
            name: Some("renamed".into()),
            ..Default::default()
        },
        Timestamp(200),
    )
    .await
    .unwrap();

    let expected = |ch: &str, kind: MembershipType| {
        let s = s.clone();
        let key = ckey("app", ch);
        async move {
            UserMembership {
                channel: s.get_channel(&key).await.unwrap().unwrap(),
                kind,
                read_marker: None,
            }
        }
    };
    let want = vec![
        expected("priv", MembershipType::Hidden).await,
        expected("pub", MembershipType::Default).await,
        expected("late", MembershipType::Default).await,
    ];
    assert_eq!(want[0].channel.privacy, ChannelPrivacy::Private);
    assert_eq!(want[1].channel.name, "renamed");
    assert_eq!(
        want[1].channel.created_by.name.as_deref(),
        Some("owner name")
    );

    let me = ukey("app", "u");
    let all = s.list_user_memberships(&me, None, 10).await.unwrap();
    assert_eq!(
        all.iter().map(|r| r.value.clone()).collect::<Vec<_>>(),
        want
    );
    let first = s.list_user_memberships(&me, None, 2).await.unwrap();
    assert_eq!(first.len(), 2);
    let rest = s
        .list_user_memberships(&me, Some(first[1].seq), 2)
        .await
        .unwrap();
    assert_eq!(
        rest.iter().map(|r| r.value.clone()).collect::<Vec<_>>(),
        want[2..]
    );
    let walked = walk(1, |after, limit| {
        let (s, me) = (s.clone(), me.clone());
        async move { s.list_user_memberships(&me, after, limit).await }
    })
    .await;
    assert_eq!(
        walked.into_iter().map(|r| r.value).collect::<Vec<_>>(),
        want
    );

    // The same user id in the other AppInstance is another user with its own memberships.
    let there = s
        .list_user_memberships(&ukey("app2", "u"), None, 10)
        .await
        .unwrap();
    assert_eq!(there.len(), 1);
    assert_eq!(there[0].value.channel.key, ckey("app2", "elsewhere"));
    let others = s
        .list_user_memberships(&ukey("app", "other"), None, 10)
        .await
        .unwrap();
    assert_eq!(
        others
            .iter()
            .map(|r| r.value.channel.key.channel_id.as_str())
            .collect::<Vec<_>>(),
        ["notmine", "pub"]
    );
    assert!(s
        .list_user_memberships(&ukey("app", "owner"), None, 10)
        .await
        .unwrap()
        .is_empty());
}

/// Members added by `create_channel` (the creator first, as CreateChannel passes them): DEFAULT,
/// invited by the creator, at the channel's creation time, and counted against both membership
/// quotas like any membership; over a quota nothing of the channel is stored and its token is
/// not used up.
pub async fn creation_memberships(s: Arc<dyn Store>) {
    setup(&s, "app", &["owner", "m1"]).await;
    let u = |id: &str| ukey("app", id);
    let with_members = |ch: &str, members: &[&str]| {
        let mut nc = new_channel("app", ch, "owner", ChannelPrivacy::Public);
        nc.members = members.iter().map(|m| u(m)).collect();
        nc
    };
    s.create_channel(
        with_members("c", &["owner", "m1"]),
        idem("ch", "c", "f"),
        10,
        ROOMY,
    )
    .await
    .unwrap();
    let c = ckey("app", "c");
    assert_eq!(
        s.get_membership(&c, &u("owner")).await.unwrap(),
        Some(membership(
            "c",
            "owner",
            "owner",
            MembershipType::Default,
            3000
        ))
    );
    let roles = s.roles(&c, &u("owner")).await.unwrap();
    assert!(roles.moderator && roles.member == Some(MembershipType::Default));
    let listed = s
        .list_memberships(&c, MembershipType::Default, None, 10)
        .await
        .unwrap();
    assert_eq!(user_ids(&listed), ["owner", "m1"]);

    // The owner is in one channel: a per-user limit of 1 refuses a second one whole.
    let limits = |per_channel, per_user| MembershipLimits {
        per_channel,
        per_user,
    };
    is(
        s.create_channel(
            with_members("d", &["owner"]),
            idem("ch", "d", "f"),
            10,
            limits(1000, 1),
        )
        .await,
        F::Limit(Limit::UserChannels {
            user: "owner".into(),
            max: 1,
        }),
    );
    assert!(s.get_channel(&ckey("app", "d")).await.unwrap().is_none());
    assert_eq!(
        s.roles(&ckey("app", "d"), &u("owner")).await.unwrap(),
        Default::default()
    );
    // Two members in a channel that takes one.
    is(
        s.create_channel(
            with_members("d", &["owner", "m1"]),
            idem("ch", "d", "f"),
            10,
            limits(1, 1000),
        )
        .await,
        F::Limit(Limit::ChannelMembers {
            channel: "d".into(),
            max: 1,
        }),
    );
    assert!(s.get_channel(&ckey("app", "d")).await.unwrap().is_none());
    // The same token then creates the channel: the refusals remembered nothing.
    let created = s
        .create_channel(
            with_members("d", &["owner", "m1"]),
            idem("ch", "d", "f"),
            10,
            limits(2, 2),
        )
        .await
        .unwrap();
    assert_eq!((created.id.as_str(), created.replayed), ("d", false));
    assert_eq!(
        s.list_user_memberships(&u("owner"), None, 10)
            .await
            .unwrap()
            .len(),
        2
    );
}
