//! Conformance cases for channel moderators and bans, and for what deleting a channel or a user
//! does to memberships, moderator roles and bans.

use std::sync::Arc;

use belfry_core::model::{Ban, ChannelPrivacy, Membership, MembershipType, Moderator};
use belfry_core::perm::Roles;
use belfry_core::store::Store;
use belfry_core::store::{Limit, StoreError as F};
use belfry_core::time::Timestamp;

use super::{ckey, idem, is, new_channel, setup, ukey, uref, user_ids, walk, ROOMY};

async fn channel(s: &Arc<dyn Store>, id: &str, token: &str) {
    s.create_channel(
        new_channel("app", id, "owner", ChannelPrivacy::Public),
        idem("ch", token, "f"),
        10,
        ROOMY,
    )
    .await
    .unwrap();
}

async fn join(s: &Arc<dyn Store>, ch: &str, user: &str, kind: MembershipType) -> Membership {
    s.create_membership(
        &ckey("app", ch),
        &ukey("app", user),
        kind,
        &ukey("app", "owner"),
        Timestamp(10),
        ROOMY,
    )
    .await
    .unwrap()
    .0
}

/// Moderators: the creator's role from `create_channel`; grant with names and time; duplicate,
/// banned user, missing user and quota refused; keyset listing in grant order; the channels a
/// user moderates; revoke; and the role is independent of membership.
pub async fn moderators(s: Arc<dyn Store>) {
    setup(&s, "app", &["owner", "m1", "m2", "banned", "member"]).await;
    channel(&s, "c", "t1").await;
    channel(&s, "c2", "t2").await;
    let c = ckey("app", "c");
    let c2 = ckey("app", "c2");
    let u = |id: &str| ukey("app", id);
    let owner = u("owner");

    // The creator's moderator role, made by create_channel at the channel's creation time.
    assert_eq!(
        s.get_moderator(&c, &owner).await.unwrap(),
        Some(Moderator {
            channel: c.clone(),
            moderator: uref("app", "owner"),
            created_by: uref("app", "owner"),
            created: Timestamp(3000),
        })
    );

    // The create returns the role as stored: what a read finds.
    let granted = s
        .create_moderator(&c, &u("m1"), &owner, Timestamp(50), 10)
        .await
        .unwrap();
    let want = Moderator {
        channel: c.clone(),
        moderator: uref("app", "m1"),
        created_by: uref("app", "owner"),
        created: Timestamp(50),
    };
    assert_eq!(granted, want);
    assert_eq!(s.get_moderator(&c, &u("m1")).await.unwrap(), Some(want));
    assert!(s.roles(&c, &u("m1")).await.unwrap().moderator);
    assert!(s.get_moderator(&c2, &u("m1")).await.unwrap().is_none());

    // Already a moderator: Conflict, and the role keeps its original grant.
    is(
        s.create_moderator(&c, &u("m1"), &u("m2"), Timestamp(51), 10)
            .await,
        F::AlreadyModerator {
            user: "m1".into(),
            channel: "c".into(),
        },
    );
    assert_eq!(
        s.get_moderator(&c, &u("m1"))
            .await
            .unwrap()
            .unwrap()
            .created,
        Timestamp(50)
    );
    // User missing: NotFound.
    is(
        s.create_moderator(&c, &u("ghost"), &owner, Timestamp(52), 10)
            .await,
        F::NoUser("ghost".into()),
    );
    // Banned: BadRequest (the ban must be lifted first), and no role.
    s.create_ban(&c, &u("banned"), &owner, Timestamp(53))
        .await
        .unwrap();
    is(
        s.create_moderator(&c, &u("banned"), &owner, Timestamp(54), 10)
            .await,
        F::Banned {
            user: "banned".into(),
            channel: "c".into(),
        },
    );
    assert!(s.get_moderator(&c, &u("banned")).await.unwrap().is_none());
    // Quota: owner and m1 fill a channel of two moderators.
    is(
        s.create_moderator(&c, &u("m2"), &owner, Timestamp(55), 2)
            .await,
        F::Limit(Limit::Moderators {
            channel: "c".into(),
            max: 2,
        }),
    );
    assert!(s.get_moderator(&c, &u("m2")).await.unwrap().is_none());
    s.create_moderator(&c, &u("m2"), &owner, Timestamp(56), 3)
        .await
        .unwrap();

    // Listing in grant order, keyset-paged, with current names.
    let first = s.list_moderators(&c, None, 2).await.unwrap();
    assert_eq!(user_ids(&first), ["owner", "m1"]);
    assert_eq!(first[1].value, uref("app", "m1"));
    let rest = s.list_moderators(&c, Some(first[1].seq), 2).await.unwrap();
    assert_eq!(user_ids(&rest), ["m2"]);
    let walked = walk(1, |after, limit| {
        let (s, c) = (s.clone(), c.clone());
        async move { s.list_moderators(&c, after, limit).await }
    })
    .await;
    assert_eq!(user_ids(&walked), ["owner", "m1", "m2"]);

    // The channels a user moderates, in grant order, as get_channel shows them.
    s.create_moderator(&c2, &u("m1"), &owner, Timestamp(57), 10)
        .await
        .unwrap();
    let want = vec![
        s.get_channel(&c).await.unwrap().unwrap(),
        s.get_channel(&c2).await.unwrap().unwrap(),
    ];
    let moderated = |who: &str| {
        let (s, who) = (s.clone(), u(who));
        move |after, limit| {
            let (s, who) = (s.clone(), who.clone());
            async move { s.list_moderated_channels(&who, after, limit).await }
        }
    };
    let mine = walk(1, moderated("m1")).await;
    assert_eq!(mine.into_iter().map(|r| r.value).collect::<Vec<_>>(), want);
    let owners = walk(1, moderated("owner")).await;
    assert_eq!(
        owners.into_iter().map(|r| r.value).collect::<Vec<_>>(),
        want,
        "the creator's roles from create_channel"
    );
    assert!(walk(10, moderated("member")).await.is_empty());

    // Revoke: gone, a second revoke is NotFound, and the channel leaves the user's list.
    s.delete_moderator(&c, &u("m1")).await.unwrap();
    assert!(s.get_moderator(&c, &u("m1")).await.unwrap().is_none());
    assert!(!s.roles(&c, &u("m1")).await.unwrap().moderator);
    is(
        s.delete_moderator(&c, &u("m1")).await,
        F::NotModerator {
            user: "m1".into(),
            channel: "c".into(),
        },
    );
    is(
        s.delete_moderator(&c, &u("member")).await,
        F::NotModerator {
            user: "member".into(),
            channel: "c".into(),
        },
    );
    let mine = walk(10, moderated("m1")).await;
    assert_eq!(
        mine.into_iter()
            .map(|r| r.value.key.channel_id)
            .collect::<Vec<_>>(),
        ["c2"]
    );
    assert_eq!(
        user_ids(&s.list_moderators(&c, None, 10).await.unwrap()),
        ["owner", "m2"]
    );

    // Moderator and member are separate roles: removing either leaves the other.
    join(&s, "c", "member", MembershipType::Default).await;
    s.create_moderator(&c, &u("member"), &owner, Timestamp(60), 10)
        .await
        .unwrap();
    s.delete_membership(&c, &u("member")).await.unwrap();
    assert!(s.get_moderator(&c, &u("member")).await.unwrap().is_some());
    assert_eq!(
        s.roles(&c, &u("member")).await.unwrap(),
        Roles {
            moderator: true,
            ..Default::default()
        }
    );
    join(&s, "c", "member", MembershipType::Hidden).await;
    s.delete_moderator(&c, &u("member")).await.unwrap();
    assert!(s.get_membership(&c, &u("member")).await.unwrap().is_some());
    assert_eq!(
        s.roles(&c, &u("member")).await.unwrap(),
        Roles {
            member: Some(MembershipType::Hidden),
            ..Default::default()
        }
    );
}

/// Bans: banning a member removes the membership in the same call and returns it; a non-member
/// is banned with nothing to return; admins and moderators cannot be banned; no double ban;
/// get with its author; keyset listing; lifting a ban does not restore the membership but lets
/// the user be added again.
pub async fn bans(s: Arc<dyn Store>) {
    setup(
        &s,
        "app",
        &["owner", "mem", "hid", "outsider", "adm", "moder"],
    )
    .await;
    channel(&s, "c", "t1").await;
    let c = ckey("app", "c");
    let u = |id: &str| ukey("app", id);
    let owner = u("owner");
    let mem = join(&s, "c", "mem", MembershipType::Default).await;
    let hid = join(&s, "c", "hid", MembershipType::Hidden).await;
    s.create_admin(&u("adm"), Timestamp(1), 10).await.unwrap();
    let adm = join(&s, "c", "adm", MembershipType::Default).await;
    s.create_moderator(&c, &u("moder"), &owner, Timestamp(2), 10)
        .await
        .unwrap();

    // A member: the ban returns the membership it removed, with the removal's event number
    // (after three joins), and the user is banned, not a member.
    // The create returns the ban as stored (what a read finds), with both users' names.
    let (ban, kicked) = s
        .create_ban(&c, &u("mem"), &owner, Timestamp(60))
        .await
        .unwrap();
    assert_eq!(kicked, Some((mem, 4)));
    assert_eq!(s.get_ban(&c, &u("mem")).await.unwrap().as_ref(), Some(&ban));
    assert_eq!(
        (
            ban.member.name.as_deref(),
            ban.created_by.key.user_id.as_str(),
            ban.created
        ),
        (Some("mem name"), "owner", Timestamp(60))
    );
    assert!(s.get_membership(&c, &u("mem")).await.unwrap().is_none());
    assert_eq!(
        s.roles(&c, &u("mem")).await.unwrap(),
        Roles {
            banned: true,
            ..Default::default()
        }
    );
    assert!(!user_ids(
        &s.list_memberships(&c, MembershipType::Default, None, 10)
            .await
            .unwrap()
    )
    .contains(&"mem".to_string()));
    // A non-member: banned, nothing to return.
    assert_eq!(
        s.create_ban(&c, &u("outsider"), &owner, Timestamp(61))
            .await
            .unwrap()
            .1,
        None
    );
    assert!(s.roles(&c, &u("outsider")).await.unwrap().banned);
    // A HIDDEN member is removed just the same. (Banning a non-member published nothing, so
    // took no number.)
    assert_eq!(
        s.create_ban(&c, &u("hid"), &owner, Timestamp(62))
            .await
            .unwrap()
            .1,
        Some((hid, 5))
    );
    assert!(s.get_membership(&c, &u("hid")).await.unwrap().is_none());

    // AppInstanceAdmins and moderators (the creator included) cannot be banned: BadRequest,
    // and a refused ban leaves their membership in place.
    for who in ["adm", "moder", "owner"] {
        is(
            s.create_ban(&c, &u(who), &owner, Timestamp(63)).await,
            F::Privileged {
                user: who.into(),
                channel: "c".into(),
            },
        );
        assert!(s.get_ban(&c, &u(who)).await.unwrap().is_none(), "{who}");
        assert!(!s.roles(&c, &u(who)).await.unwrap().banned, "{who}");
    }
    assert_eq!(s.get_membership(&c, &u("adm")).await.unwrap(), Some(adm));
    // Already banned: Conflict, and the first ban stands. User missing: NotFound.
    is(
        s.create_ban(&c, &u("mem"), &u("moder"), Timestamp(64))
            .await,
        F::AlreadyBanned {
            user: "mem".into(),
            channel: "c".into(),
        },
    );
    is(
        s.create_ban(&c, &u("ghost"), &owner, Timestamp(64)).await,
        F::NoUser("ghost".into()),
    );

    assert_eq!(
        s.get_ban(&c, &u("mem")).await.unwrap(),
        Some(Ban {
            channel: c.clone(),
            member: uref("app", "mem"),
            created_by: uref("app", "owner"),
            created: Timestamp(60),
        })
    );
    assert!(s.get_ban(&c, &u("adm")).await.unwrap().is_none());

    // Listing in ban order, keyset-paged.
    let first = s.list_bans(&c, None, 2).await.unwrap();
    assert_eq!(user_ids(&first), ["mem", "outsider"]);
    assert_eq!(first[0].value, uref("app", "mem"));
    let rest = s.list_bans(&c, Some(first[1].seq), 2).await.unwrap();
    assert_eq!(user_ids(&rest), ["hid"]);
    let walked = walk(1, |after, limit| {
        let (s, c) = (s.clone(), c.clone());
        async move { s.list_bans(&c, after, limit).await }
    })
    .await;
    assert_eq!(user_ids(&walked), ["mem", "outsider", "hid"]);

    // Lifting a ban: gone, a second lift is NotFound, and the membership is not restored.
    s.delete_ban(&c, &u("mem")).await.unwrap();
    assert!(s.get_ban(&c, &u("mem")).await.unwrap().is_none());
    is(
        s.delete_ban(&c, &u("mem")).await,
        F::NotBanned {
            user: "mem".into(),
            channel: "c".into(),
        },
    );
    is(
        s.delete_ban(&c, &u("adm")).await,
        F::NotBanned {
            user: "adm".into(),
            channel: "c".into(),
        },
    );
    assert!(s.get_membership(&c, &u("mem")).await.unwrap().is_none());
    assert_eq!(s.roles(&c, &u("mem")).await.unwrap(), Roles::default());
    assert_eq!(
        user_ids(&s.list_bans(&c, None, 10).await.unwrap()),
        ["outsider", "hid"]
    );
    // Once the ban is lifted the user may be added again.
    let back = s
        .create_membership(
            &c,
            &u("mem"),
            MembershipType::Default,
            &owner,
            Timestamp(70),
            ROOMY,
        )
        .await
        .unwrap()
        .0;
    assert_eq!(back.created, Timestamp(70));
    assert_eq!(
        s.roles(&c, &u("mem")).await.unwrap().member,
        Some(MembershipType::Default)
    );
}

/// Deleting a channel removes its memberships, moderator roles and bans (a channel re-created
/// with the same id starts without them); deleting a user removes their memberships, moderator
/// roles and bans everywhere, but not the memberships they invited others to.
pub async fn role_cascades(s: Arc<dyn Store>) {
    setup(&s, "app", &["owner", "u", "v", "w", "x"]).await;
    channel(&s, "c", "t1").await;
    channel(&s, "d", "t2").await;
    let (c, d) = (ckey("app", "c"), ckey("app", "d"));
    let u = |id: &str| ukey("app", id);
    let owner = u("owner");
    for ch in [&c, &d] {
        s.create_membership(
            ch,
            &u("u"),
            MembershipType::Default,
            &owner,
            Timestamp(10),
            ROOMY,
        )
        .await
        .unwrap();
        s.create_moderator(ch, &u("u"), &owner, Timestamp(11), 10)
            .await
            .unwrap();
        s.create_ban(ch, &u("v"), &owner, Timestamp(12))
            .await
            .unwrap();
    }
    // x was added to d by w.
    s.create_membership(
        &d,
        &u("x"),
        MembershipType::Hidden,
        &u("w"),
        Timestamp(13),
        ROOMY,
    )
    .await
    .unwrap();
    s.create_ban(&d, &u("w"), &owner, Timestamp(14))
        .await
        .unwrap();

    // Channel c goes: nothing of it remains in the users' lists.
    s.delete_channel(&c).await.unwrap();
    let joined = |who: &str| {
        let (s, who) = (s.clone(), u(who));
        async move {
            s.list_user_memberships(&who, None, 10)
                .await
                .unwrap()
                .into_iter()
                .map(|r| r.value.channel.key.channel_id)
                .collect::<Vec<_>>()
        }
    };
    let moderated = |who: &str| {
        let (s, who) = (s.clone(), u(who));
        async move {
            s.list_moderated_channels(&who, None, 10)
                .await
                .unwrap()
                .into_iter()
                .map(|r| r.value.key.channel_id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(joined("u").await, ["d"]);
    assert_eq!(moderated("u").await, ["d"]);
    assert_eq!(moderated("owner").await, ["d"]);

    // Re-created with the same id, c has only its new creator's role.
    channel(&s, "c", "t3").await;
    assert!(s.get_membership(&c, &u("u")).await.unwrap().is_none());
    assert!(s.get_moderator(&c, &u("u")).await.unwrap().is_none());
    assert!(s.get_ban(&c, &u("v")).await.unwrap().is_none());
    for kind in [MembershipType::Default, MembershipType::Hidden] {
        assert!(s
            .list_memberships(&c, kind, None, 10)
            .await
            .unwrap()
            .is_empty());
    }
    assert_eq!(
        user_ids(&s.list_moderators(&c, None, 10).await.unwrap()),
        ["owner"]
    );
    assert!(s.list_bans(&c, None, 10).await.unwrap().is_empty());
    assert_eq!(s.roles(&c, &u("u")).await.unwrap(), Roles::default());
    assert_eq!(s.roles(&c, &u("v")).await.unwrap(), Roles::default());
    assert_eq!(joined("u").await, ["d"]);
    assert_eq!(moderated("u").await, ["d"]);
    // v is no longer banned from the new c.
    s.create_membership(
        &c,
        &u("v"),
        MembershipType::Default,
        &owner,
        Timestamp(20),
        ROOMY,
    )
    .await
    .unwrap();

    // Users go: u's membership and role in d, and the bans of v and w, disappear from d.
    s.delete_user(&u("u")).await.unwrap();
    s.delete_user(&u("v")).await.unwrap();
    s.delete_user(&u("w")).await.unwrap();
    assert_eq!(
        user_ids(
            &s.list_memberships(&d, MembershipType::Default, None, 10)
                .await
                .unwrap()
        ),
        Vec::<String>::new()
    );
    assert_eq!(
        user_ids(&s.list_moderators(&d, None, 10).await.unwrap()),
        ["owner"]
    );
    assert!(s.list_bans(&d, None, 10).await.unwrap().is_empty());
    assert!(s.get_membership(&d, &u("u")).await.unwrap().is_none());
    assert!(s.get_moderator(&d, &u("u")).await.unwrap().is_none());
    assert!(s.get_ban(&d, &u("v")).await.unwrap().is_none());
    assert!(s
        .list_memberships(&c, MembershipType::Default, None, 10)
        .await
        .unwrap()
        .is_empty());
    // x's membership stays although w, who added x, is gone; w's name is no longer known.
    let x = s.get_membership(&d, &u("x")).await.unwrap().unwrap();
    assert_eq!(x.invited_by.key, u("w"));
    assert_eq!(x.invited_by.name, None);
    assert_eq!(
        user_ids(
            &s.list_memberships(&d, MembershipType::Hidden, None, 10)
                .await
                .unwrap()
        ),
        ["x"]
    );

    // Re-created with the same ids, the users start with nothing.
    for (i, who) in ["u", "v"].into_iter().enumerate() {
        s.create_user(
            super::user("app", who),
            vec![],
            idem("again", &i.to_string(), "f"),
            100,
        )
        .await
        .unwrap();
    }
    assert!(joined("u").await.is_empty());
    assert!(moderated("u").await.is_empty());
    assert_eq!(s.roles(&d, &u("u")).await.unwrap(), Roles::default());
    assert_eq!(s.roles(&d, &u("v")).await.unwrap(), Roles::default());
}
