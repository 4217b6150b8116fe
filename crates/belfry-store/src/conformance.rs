//! The Store conformance suite: what every adapter must do, in domain terms. Each case gets a
//! fresh, empty store, and asserts the exact fact (`StoreError`) a refused write reports.
//! `conformance_cases!` makes one test per case: SQLite runs them in this crate's tests; the
//! PostgreSQL adapter runs the very same cases.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::Future;
use std::sync::Arc;

use belfry_core::arn::{ChannelKey, UserKey};
use belfry_core::model::{
    AppInstance, AppInstanceUser, Channel, ChannelMode, ChannelPrivacy, ChannelUpdate, Idempotency,
    MembershipType, NewChannel, Tag, TagKind, TagTarget, UserRef,
};
use belfry_core::store::{Limit, StoreError as F, StoreResult};
use belfry_core::store::{MembershipLimits, Seq, Store};
use belfry_core::time::Timestamp;

mod contracts;
mod keys;
mod membership;
pub(crate) mod message;
mod message_change;
mod moderation;
mod policy;
mod sequence;

pub use contracts::{
    contract_concurrent_sends_page_in_commit_order, contract_creation_times_never_go_backwards,
    contract_non_persistent_messages_are_not_stored,
    contract_targeted_messages_leave_last_message_alone,
};
pub use keys::keys_and_settings;
pub use membership::{batch_memberships, creation_memberships, memberships, user_memberships};
pub use message::{
    messages_context_is_current, messages_idempotency, messages_listing, messages_send,
};
pub use message_change::{channel_access, messages_change, messages_delete, read_markers};
pub use moderation::{bans, moderators, role_cascades};
pub use policy::{channel_writes_refuse_a_right_lost_before_them, channel_writes_run_their_policy};
pub use sequence::{event_sequence, session_channels};

/// Generates one test per conformance case, so a failing case names itself. `$fresh` is an
/// async fn returning a new, empty store and whatever must live as long as it (a temporary
/// directory, a database); each test gets its own. An adapter invokes this once, in a module
/// of its tests:
///
/// ```ignore
/// mod conformance { belfry_store::conformance_cases!(super::fresh_store); }
/// ```
#[macro_export]
macro_rules! conformance_cases {
    ($fresh:path) => {
        $crate::conformance_cases!(@each $fresh;
            app_instances, users, admins, channels, roles, tags, cascades,
            memberships, batch_memberships, creation_memberships, user_memberships,
            moderators, bans, role_cascades,
            messages_send, messages_idempotency, messages_context_is_current,
            messages_listing, messages_change, messages_delete, read_markers, channel_access,
            channel_writes_run_their_policy, channel_writes_refuse_a_right_lost_before_them,
            event_sequence_without_restart, session_channels,
            concurrent_writes_and_isolated_failures,
            contract_concurrent_sends_page_in_commit_order,
            contract_creation_times_never_go_backwards,
            contract_non_persistent_messages_are_not_stored,
            contract_targeted_messages_leave_last_message_alone,
            keys_and_settings,
        );
    };
    (@each $fresh:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let (store, _keep) = $fresh().await;
                $crate::conformance::$case(store).await;
            }
        )*
    };
}

/// `event_sequence` on a store that is not restarted (adapters that can restart one run it
/// with a real `reopen` as well).
pub async fn event_sequence_without_restart(s: Arc<dyn Store>) {
    event_sequence(s, |s| async move { s }).await;
}

pub(crate) fn idem(scope: &str, token: &str, fp: &str) -> Idempotency {
    Idempotency {
        scope: scope.into(),
        token: token.into(),
        fingerprint: fp.into(),
    }
}

fn app(id: &str) -> AppInstance {
    AppInstance {
        id: id.into(),
        name: format!("name-{id}"),
        metadata: Some("m".into()),
        created: Timestamp(1000),
        updated: Timestamp(1000),
    }
}

pub(crate) fn ukey(app: &str, user: &str) -> UserKey {
    UserKey {
        app_instance_id: app.into(),
        user_id: user.into(),
    }
}

fn user(app: &str, id: &str) -> AppInstanceUser {
    AppInstanceUser {
        key: ukey(app, id),
        name: format!("{id} name"),
        metadata: None,
        created: Timestamp(2000),
        updated: Timestamp(2000),
        expiration: None,
    }
}

pub(crate) fn ckey(app: &str, ch: &str) -> ChannelKey {
    ChannelKey {
        app_instance_id: app.into(),
        channel_id: ch.into(),
    }
}

pub(crate) fn new_channel(
    app: &str,
    ch: &str,
    creator: &str,
    privacy: ChannelPrivacy,
) -> NewChannel {
    NewChannel {
        channel: Channel {
            key: ckey(app, ch),
            name: format!("channel {ch}"),
            mode: ChannelMode::Unrestricted,
            privacy,
            metadata: None,
            created_by: UserRef {
                key: ukey(app, creator),
                name: None,
            },
            created: Timestamp(3000),
            updated: Timestamp(3000),
            last_message: None,
            expiration: None,
        },
        moderators: vec![ukey(app, creator)],
        members: Vec::new(),
        tags: Vec::new(),
    }
}

pub(crate) async fn setup(s: &Arc<dyn Store>, app_id: &str, users: &[&str]) {
    s.create_app_instance(app(app_id), vec![], idem("a", app_id, "f"), 100)
        .await
        .unwrap();
    for u in users {
        s.create_user(user(app_id, u), vec![], idem(app_id, u, "f"), 1000)
            .await
            .unwrap();
    }
}

/// Limits no case reaches unless it means to.
pub(crate) const ROOMY: MembershipLimits = MembershipLimits {
    per_channel: 1000,
    per_user: 1000,
};

/// A user as a listing shows it: key and current name (`"<id> name"` as `user` makes it).
fn uref(app: &str, id: &str) -> UserRef {
    UserRef {
        key: ukey(app, id),
        name: Some(format!("{id} name")),
    }
}

/// The user ids of a listing, in order.
fn user_ids(rows: &[Seq<UserRef>]) -> Vec<String> {
    rows.iter().map(|r| r.value.key.user_id.clone()).collect()
}

/// Walks a keyset-paged listing `page` rows at a time (`after` = the last seq of the previous
/// page) and returns every row. Each page holds at most `page` rows, and positions only grow,
/// so no row comes twice.
async fn walk<T, F, Fut>(page: usize, mut list: F) -> Vec<Seq<T>>
where
    F: FnMut(Option<i64>, usize) -> Fut,
    Fut: Future<Output = StoreResult<Vec<Seq<T>>>>,
{
    let mut all: Vec<Seq<T>> = Vec::new();
    let mut after = None;
    for _ in 0..1000 {
        let rows = list(after, page).await.unwrap();
        assert!(rows.len() <= page, "page longer than its limit");
        let Some(last) = rows.last() else {
            return all;
        };
        after = Some(last.seq);
        for r in rows {
            if let Some(prev) = all.last() {
                assert!(
                    r.seq > prev.seq,
                    "positions must grow: {} then {}",
                    prev.seq,
                    r.seq
                );
            }
            all.push(r);
        }
    }
    panic!("listing did not end");
}

/// Asserts that a store refused with exactly this fact.
#[track_caller]
fn is<T: std::fmt::Debug>(r: StoreResult<T>, want: F) {
    match r {
        Err(e) if e == want => {}
        other => panic!("expected Err({want:?}), got {other:?}"),
    }
}

/// AppInstances: idempotent create, quota, get, keyset listing, update, delete.
pub async fn app_instances(s: Arc<dyn Store>) {
    let c = s
        .create_app_instance(app("a1"), vec![], idem("s", "t1", "f1"), 3)
        .await
        .unwrap();
    assert_eq!((c.id.as_str(), c.replayed), ("a1", false));
    let replay = s
        .create_app_instance(app("other"), vec![], idem("s", "t1", "f1"), 3)
        .await
        .unwrap();
    assert_eq!((replay.id.as_str(), replay.replayed), ("a1", true));
    is(
        s.create_app_instance(app("x"), vec![], idem("s", "t1", "changed"), 3)
            .await,
        F::TokenReused,
    );
    for id in ["a2", "a3"] {
        s.create_app_instance(app(id), vec![], idem("s", id, "f"), 3)
            .await
            .unwrap();
    }
    is(
        s.create_app_instance(app("a4"), vec![], idem("s", "a4", "f"), 3)
            .await,
        F::Limit(Limit::AppInstances(3)),
    );
    assert_eq!(s.get_app_instance("a1").await.unwrap().unwrap(), app("a1"));
    assert!(s.get_app_instance("nope").await.unwrap().is_none());
    let first = s.list_app_instances(None, 2).await.unwrap();
    assert_eq!(
        first
            .iter()
            .map(|r| r.value.id.as_str())
            .collect::<Vec<_>>(),
        ["a1", "a2"]
    );
    let rest = s.list_app_instances(Some(first[1].seq), 2).await.unwrap();
    assert_eq!(
        rest.iter().map(|r| r.value.id.as_str()).collect::<Vec<_>>(),
        ["a3"]
    );
    s.update_app_instance("a1", "new".into(), "meta".into(), Timestamp(5000))
        .await
        .unwrap();
    let a = s.get_app_instance("a1").await.unwrap().unwrap();
    assert_eq!(
        (a.name.as_str(), a.metadata.as_deref(), a.updated, a.created),
        ("new", Some("meta"), Timestamp(5000), Timestamp(1000))
    );
    is(
        s.update_app_instance("nope", "n".into(), "".into(), Timestamp(1))
            .await,
        F::NoAppInstance("nope".into()),
    );
    s.delete_app_instance("a2").await.unwrap();
    assert!(s.get_app_instance("a2").await.unwrap().is_none());
    is(
        s.delete_app_instance("a2").await,
        F::NoAppInstance("a2".into()),
    );
}

/// Users: create, duplicate id, missing AppInstance, quota, list, update, delete.
pub async fn users(s: Arc<dyn Store>) {
    setup(&s, "app", &[]).await;
    s.create_user(user("app", "u1"), vec![], idem("app", "t1", "f"), 2)
        .await
        .unwrap();
    is(
        s.create_user(user("app", "u1"), vec![], idem("app", "t2", "f"), 2)
            .await,
        F::UserExists("u1".into()),
    );
    is(
        s.create_user(user("ghost", "u1"), vec![], idem("ghost", "t", "f"), 2)
            .await,
        F::NoAppInstance("ghost".into()),
    );
    s.create_user(user("app", "u2"), vec![], idem("app", "t3", "f"), 2)
        .await
        .unwrap();
    is(
        s.create_user(user("app", "u3"), vec![], idem("app", "t4", "f"), 2)
            .await,
        F::Limit(Limit::Users(2)),
    );
    assert_eq!(
        s.get_user(&ukey("app", "u1")).await.unwrap().unwrap(),
        user("app", "u1")
    );
    let list = s.list_users("app", None, 10).await.unwrap();
    assert_eq!(
        list.iter()
            .map(|r| r.value.key.user_id.as_str())
            .collect::<Vec<_>>(),
        ["u1", "u2"]
    );
    assert!(s
        .list_users("app", Some(list[1].seq), 10)
        .await
        .unwrap()
        .is_empty());
    s.update_user(&ukey("app", "u1"), "N".into(), "M".into(), Timestamp(9))
        .await
        .unwrap();
    let u = s.get_user(&ukey("app", "u1")).await.unwrap().unwrap();
    assert_eq!((u.name.as_str(), u.metadata.as_deref()), ("N", Some("M")));
    s.delete_user(&ukey("app", "u1")).await.unwrap();
    assert!(s.get_user(&ukey("app", "u1")).await.unwrap().is_none());
    is(
        s.delete_user(&ukey("app", "u1")).await,
        F::NoUser("u1".into()),
    );
    is(
        s.update_user(&ukey("app", "u1"), "n".into(), "".into(), Timestamp(1))
            .await,
        F::NoUser("u1".into()),
    );
}

/// Admins: grant, conflict, quota, get with current name, list, revoke.
pub async fn admins(s: Arc<dyn Store>) {
    setup(&s, "app", &["a", "b", "c"]).await;
    // The create returns the role as stored: what a read finds.
    let granted = s
        .create_admin(&ukey("app", "a"), Timestamp(7), 2)
        .await
        .unwrap();
    assert_eq!(
        (granted.admin.clone(), granted.created),
        (uref("app", "a"), Timestamp(7))
    );
    assert_eq!(s.get_admin(&ukey("app", "a")).await.unwrap(), Some(granted));
    is(
        s.create_admin(&ukey("app", "a"), Timestamp(7), 2).await,
        F::AlreadyAdmin("a".into()),
    );
    is(
        s.create_admin(&ukey("app", "ghost"), Timestamp(7), 2).await,
        F::NoUser("ghost".into()),
    );
    s.create_admin(&ukey("app", "b"), Timestamp(8), 2)
        .await
        .unwrap();
    is(
        s.create_admin(&ukey("app", "c"), Timestamp(9), 2).await,
        F::Limit(Limit::Admins(2)),
    );
    let a = s.get_admin(&ukey("app", "a")).await.unwrap().unwrap();
    assert_eq!(
        (a.admin.name.as_deref(), a.created),
        (Some("a name"), Timestamp(7))
    );
    assert!(s.is_admin(&ukey("app", "a")).await.unwrap());
    assert!(!s.is_admin(&ukey("app", "c")).await.unwrap());
    let list = s.list_admins("app", None, 1).await.unwrap();
    assert_eq!(list.len(), 1);
    let rest = s.list_admins("app", Some(list[0].seq), 5).await.unwrap();
    assert_eq!(rest[0].value.admin.key.user_id, "b");
    s.delete_admin(&ukey("app", "a")).await.unwrap();
    is(
        s.delete_admin(&ukey("app", "a")).await,
        F::NotAdmin("a".into()),
    );
    assert!(s.get_admin(&ukey("app", "a")).await.unwrap().is_none());
}

/// Channels: create with roles and tags, replay, duplicate id, get, update, list, delete.
pub async fn channels(s: Arc<dyn Store>) {
    setup(&s, "app", &["owner", "m1"]).await;
    let mut nc = new_channel("app", "c1", "owner", ChannelPrivacy::Public);
    nc.members = vec![ukey("app", "m1")];
    nc.tags = vec![Tag {
        key: "k".into(),
        value: "v".into(),
    }];
    let created = s
        .create_channel(nc.clone(), idem("ch", "t1", "f"), 10, ROOMY)
        .await
        .unwrap();
    assert_eq!(created.id, "c1");
    assert!(
        s.create_channel(nc.clone(), idem("ch", "t1", "f"), 10, ROOMY)
            .await
            .unwrap()
            .replayed
    );
    is(
        s.create_channel(nc, idem("ch", "t2", "f"), 10, ROOMY).await,
        F::ChannelExists("c1".into()),
    );
    let c = s.get_channel(&ckey("app", "c1")).await.unwrap().unwrap();
    assert_eq!(c.created_by.name.as_deref(), Some("owner name"));
    assert_eq!(c.privacy, ChannelPrivacy::Public);
    let tags = s
        .list_tags(&TagTarget {
            app_instance_id: "app".into(),
            kind: TagKind::Channel,
            id: "c1".into(),
        })
        .await
        .unwrap();
    assert_eq!(tags.len(), 1);
    let up = s
        .update_channel(
            &ckey("app", "c1"),
            ChannelUpdate {
                name: None,
                mode: Some(ChannelMode::Restricted),
                metadata: Some("md".into()),
            },
            Timestamp(4000),
        )
        .await
        .unwrap()
        .0;
    assert_eq!(
        (
            up.name.as_str(),
            up.mode,
            up.metadata.as_deref(),
            up.updated
        ),
        (
            "channel c1",
            ChannelMode::Restricted,
            Some("md"),
            Timestamp(4000)
        )
    );
    is(
        s.update_channel(&ckey("app", "nope"), ChannelUpdate::default(), Timestamp(1))
            .await,
        F::NoChannel("nope".into()),
    );
    s.create_channel(
        new_channel("app", "p1", "owner", ChannelPrivacy::Private),
        idem("ch", "t3", "f"),
        10,
        ROOMY,
    )
    .await
    .unwrap();
    s.create_channel(
        new_channel("app", "c2", "owner", ChannelPrivacy::Public),
        idem("ch", "t4", "f"),
        10,
        ROOMY,
    )
    .await
    .unwrap();
    let public = s
        .list_channels("app", ChannelPrivacy::Public, None, 10)
        .await
        .unwrap();
    assert_eq!(
        public
            .iter()
            .map(|r| r.value.key.channel_id.as_str())
            .collect::<Vec<_>>(),
        ["c1", "c2"]
    );
    let after = s
        .list_channels("app", ChannelPrivacy::Public, Some(public[0].seq), 10)
        .await
        .unwrap();
    assert_eq!(after.len(), 1);
    let private = s
        .list_channels("app", ChannelPrivacy::Private, None, 10)
        .await
        .unwrap();
    assert_eq!(private[0].value.key.channel_id, "p1");
    is(
        s.create_channel(
            new_channel("app", "c3", "owner", ChannelPrivacy::Public),
            idem("ch", "t5", "f"),
            3,
            ROOMY,
        )
        .await,
        F::Limit(Limit::Channels(3)),
    );
    let (gone, _) = s.delete_channel(&ckey("app", "c1")).await.unwrap();
    assert_eq!(gone.key.channel_id, "c1");
    assert!(s.get_channel(&ckey("app", "c1")).await.unwrap().is_none());
    is(
        s.delete_channel(&ckey("app", "c1")).await,
        F::NoChannel("c1".into()),
    );
}

/// Roles: admin, moderator (the creator), member, none.
pub async fn roles(s: Arc<dyn Store>) {
    setup(&s, "app", &["owner", "mem", "adm", "none"]).await;
    let mut nc = new_channel("app", "c", "owner", ChannelPrivacy::Private);
    nc.members = vec![ukey("app", "mem")];
    s.create_channel(nc, idem("ch", "t", "f"), 10, ROOMY)
        .await
        .unwrap();
    s.create_admin(&ukey("app", "adm"), Timestamp(1), 10)
        .await
        .unwrap();
    let r = |u: &'static str| {
        let s = s.clone();
        async move { s.roles(&ckey("app", "c"), &ukey("app", u)).await.unwrap() }
    };
    let owner = r("owner").await;
    assert!(owner.moderator && !owner.admin && owner.member.is_none());
    assert_eq!(r("mem").await.member, Some(MembershipType::Default));
    assert!(r("adm").await.admin);
    assert_eq!(r("none").await, Default::default());
}

/// Tags: upsert, quota with rollback, order, untag.
pub async fn tags(s: Arc<dyn Store>) {
    setup(&s, "app", &[]).await;
    let t = TagTarget {
        app_instance_id: "app".into(),
        kind: TagKind::AppInstance,
        id: "app".into(),
    };
    let tag = |k: &str, v: &str| Tag {
        key: k.into(),
        value: v.into(),
    };
    s.tag_resource(&t, vec![tag("b", "1"), tag("a", "1")], 3)
        .await
        .unwrap();
    s.tag_resource(&t, vec![tag("a", "2")], 3).await.unwrap();
    is(
        s.tag_resource(&t, vec![tag("c", "1"), tag("d", "1")], 3)
            .await,
        F::Limit(Limit::Tags(3)),
    );
    assert_eq!(
        s.list_tags(&t).await.unwrap(),
        vec![tag("a", "2"), tag("b", "1")],
        "over-quota write rolled back"
    );
    s.untag_resource(&t, vec!["a".into(), "zzz".into()])
        .await
        .unwrap();
    assert_eq!(s.list_tags(&t).await.unwrap(), vec![tag("b", "1")]);
}

/// Deletes leave nothing behind: user → roles; channel → roles, tags; AppInstance → all.
pub async fn cascades(s: Arc<dyn Store>) {
    setup(&s, "app", &["owner", "mem"]).await;
    let mut nc = new_channel("app", "c", "owner", ChannelPrivacy::Public);
    nc.members = vec![ukey("app", "mem")];
    s.create_channel(nc, idem("ch", "t", "f"), 10, ROOMY)
        .await
        .unwrap();
    s.create_admin(&ukey("app", "mem"), Timestamp(1), 10)
        .await
        .unwrap();
    let user_tags = TagTarget {
        app_instance_id: "app".into(),
        kind: TagKind::User,
        id: "mem".into(),
    };
    s.tag_resource(
        &user_tags,
        vec![Tag {
            key: "k".into(),
            value: "v".into(),
        }],
        50,
    )
    .await
    .unwrap();
    s.delete_user(&ukey("app", "mem")).await.unwrap();
    assert_eq!(
        s.roles(&ckey("app", "c"), &ukey("app", "mem"))
            .await
            .unwrap(),
        Default::default()
    );
    assert!(s.list_tags(&user_tags).await.unwrap().is_empty());
    // A user re-created with the same id starts with no roles.
    s.create_user(user("app", "mem"), vec![], idem("app", "again", "f"), 10)
        .await
        .unwrap();
    assert_eq!(
        s.roles(&ckey("app", "c"), &ukey("app", "mem"))
            .await
            .unwrap(),
        Default::default()
    );
    s.delete_app_instance("app").await.unwrap();
    assert!(s.get_user(&ukey("app", "owner")).await.unwrap().is_none());
    assert!(s.get_channel(&ckey("app", "c")).await.unwrap().is_none());
    assert!(s
        .list_channels("app", ChannelPrivacy::Public, None, 10)
        .await
        .unwrap()
        .is_empty());
    assert!(s.list_admins("app", None, 10).await.unwrap().is_empty());
}

/// Many concurrent writes all land; one failing write does not disturb the others.
pub async fn concurrent_writes_and_isolated_failures(s: Arc<dyn Store>) {
    setup(&s, "app", &[]).await;
    let mut tasks = Vec::new();
    for i in 0..200 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            // Every tenth write collides with an existing id and must fail alone.
            let id = if i % 10 == 0 {
                "dup".to_string()
            } else {
                format!("u{i}")
            };
            s.create_user(
                user("app", &id),
                vec![],
                idem("app", &format!("t{i}"), "f"),
                10_000,
            )
            .await
        }));
    }
    let mut ok = 0;
    let mut conflicts = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(F::UserExists(id)) if id == "dup" => conflicts += 1,
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!((ok, conflicts), (181, 19));
    assert_eq!(s.list_users("app", None, 1000).await.unwrap().len(), 181);
}
