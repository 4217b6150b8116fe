//! The PostgreSQL adapter against the conformance suite. Each test gets its own schema in the
//! database named by `BELFRY_TEST_POSTGRES` (default: the `test` database on 127.0.0.1:5432),
//! so parallel test runs do not collide. Without a reachable server the tests fail, saying
//! what to install: a silent skip would pass a backend nobody tested.

use std::sync::Arc;
use std::time::Duration;

use belfry_core::events::Published;
use belfry_core::model::{ChannelMessage, ChannelPrivacy, MessageQuery, SortOrder, UserRef};
use belfry_core::store::{Outbox, Store};

use super::{PgOptions, PgStore};
use crate::conformance::{ckey, idem, new_channel, ukey, ROOMY};

/// The test database's URL.
pub(crate) fn test_url() -> String {
    std::env::var("BELFRY_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// Drops the test's schema when the test ends.
pub(crate) struct Schema {
    url: String,
    name: String,
}

impl Schema {
    /// A guard for the schema `name` in the test database.
    pub(crate) fn named(name: &str) -> Schema {
        Schema {
            url: test_url(),
            name: name.to_string(),
        }
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let (url, name) = (self.url.clone(), self.name.clone());
        // Drop runs inside the test's runtime: do the cleanup on a thread of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(rt) = rt {
                rt.block_on(async move {
                    if let Ok((client, conn)) =
                        tokio_postgres::connect(&url, tokio_postgres::NoTls).await
                    {
                        tokio::spawn(conn);
                        let _ = client
                            .batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
                            .await;
                    }
                });
            }
        })
        .join();
    }
}

/// A new store in a schema of its own.
pub(crate) async fn fresh_store() -> (Arc<dyn Store>, Schema) {
    let (store, schema) = fresh_pg(false).await;
    (Arc::new(store), schema)
}

/// A new `PgStore`, with or without an outbox, in a schema of its own.
pub(crate) async fn fresh_pg(outbox: bool) -> (PgStore, Schema) {
    let url = test_url();
    let name = format!("belfry_test_{}", rand::random::<u64>());
    let mut opts = PgOptions::new(url.clone());
    opts.schema = Some(name.clone());
    opts.max_connections = 8;
    opts.outbox = outbox;
    let store = match PgStore::connect(opts).await {
        Ok(s) => s,
        Err(e) => panic!(
            "PostgreSQL is needed for these tests and {url} did not answer ({e}). Install and \
             start PostgreSQL ≥ 13 (Debian: apt-get install postgresql) with trust auth on \
             127.0.0.1:5432 and a database `test`, or point BELFRY_TEST_POSTGRES at one."
        ),
    };
    (store, Schema { url, name })
}

/// A first node in a fresh schema, and a second one on the same schema.
pub(crate) async fn nodes() -> (Arc<dyn Store>, Arc<dyn Store>, Schema) {
    let (first, schema) = fresh_pg(false).await;
    let mut opts = PgOptions::new(schema.url.clone());
    opts.schema = Some(schema.name.clone());
    opts.max_connections = 4;
    let second = PgStore::connect(opts).await.unwrap();
    (Arc::new(first), Arc::new(second), schema)
}

/// Every event in the outbox, in outbox order, removed from it.
pub(crate) async fn drain(s: &PgStore) -> Vec<Published> {
    let entries = s.lease_events(1000, Duration::from_secs(60)).await.unwrap();
    let ids: Vec<i64> = entries.iter().map(|e| e.id).collect();
    s.ack_events(&ids).await.unwrap();
    entries.into_iter().map(|e| e.event).collect()
}

/// User `user` of "app" with the name `setup` gives it.
pub(crate) fn named(user: &str) -> UserRef {
    UserRef {
        key: ukey("app", user),
        name: Some(format!("{user} name")),
    }
}

/// Channel "c" of "app" by "owner", with `members`.
pub(crate) async fn channel(s: &Arc<dyn Store>, members: &[&str]) {
    let mut nc = new_channel("app", "c", "owner", ChannelPrivacy::Public);
    nc.members = members.iter().map(|m| ukey("app", m)).collect();
    s.create_channel(nc, idem("ch", "c", "f"), 10, ROOMY)
        .await
        .unwrap();
}

/// The whole history of channel "c" that `viewer` sees, oldest first, in pages of `page`.
pub(crate) async fn history(s: &Arc<dyn Store>, viewer: &str, page: usize) -> Vec<ChannelMessage> {
    let q = MessageQuery {
        not_before: None,
        not_after: None,
        order: SortOrder::Ascending,
    };
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let rows = s
            .list_messages(&ckey("app", "c"), &ukey("app", viewer), q, after, page)
            .await
            .unwrap();
        let Some((last, _)) = rows.last() else {
            return all;
        };
        after = Some(*last);
        all.extend(rows.into_iter().map(|(_, m)| m));
    }
}

/// The conformance suite, one test per case.
mod conformance {
    crate::conformance_cases!(super::fresh_store);
}

/// Events the writes of `pga`'s families leave in the outbox, and the writes that leave none.
mod outbox_events {
    use std::sync::Arc;

    use belfry_core::events::{DomainEvent, Published};
    use belfry_core::model::{
        ChannelMode, ChannelPrivacy, ChannelUpdate, Membership, MembershipType,
    };
    use belfry_core::store::{Store, StoreError};
    use belfry_core::time::Timestamp;

    use super::{drain, fresh_pg, named};
    use crate::conformance::{ckey, idem, new_channel, setup, ukey, ROOMY};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn channel_user_and_app_instance_writes_fill_the_outbox() {
        let (pg, _keep) = fresh_pg(true).await;
        let s: Arc<dyn Store> = Arc::new(pg.clone());
        setup(&s, "app", &["owner", "m1", "gone"]).await;
        assert!(
            drain(&pg).await.is_empty(),
            "creating users publishes nothing"
        );

        let mut nc = new_channel("app", "c", "owner", ChannelPrivacy::Public);
        nc.members = vec![ukey("app", "owner"), ukey("app", "m1")];
        s.create_channel(nc.clone(), idem("ch", "c", "f"), 10, ROOMY)
            .await
            .unwrap();
        // As the service builds them: the creator (with its name) invited everyone, at the
        // channel's creation time, numbered 1..=n in member order.
        let membership = |user: &str| {
            DomainEvent::MembershipCreated(Membership {
                channel: ckey("app", "c"),
                member: named(user),
                invited_by: named("owner"),
                kind: MembershipType::Default,
                created: Timestamp(3000),
                updated: Timestamp(3000),
                read_marker: None,
            })
        };
        assert_eq!(
            drain(&pg).await,
            vec![
                Published::at(1, membership("owner")),
                Published::at(2, membership("m1")),
            ]
        );

        // Refused writes leave nothing: a duplicate id, a quota, a replay, missing resources.
        let refused = s
            .create_channel(nc.clone(), idem("ch", "other", "f"), 10, ROOMY)
            .await;
        assert_eq!(refused, Err(StoreError::ChannelExists("c".into())));
        let mut over = new_channel("app", "d", "owner", ChannelPrivacy::Public);
        over.members = vec![ukey("app", "m1")];
        assert!(s
            .create_channel(over, idem("ch", "d", "f"), 1, ROOMY)
            .await
            .is_err());
        assert!(
            s.create_channel(nc, idem("ch", "c", "f"), 10, ROOMY)
                .await
                .unwrap()
                .replayed
        );
        assert!(s
            .update_channel(&ckey("app", "nope"), ChannelUpdate::default(), Timestamp(1))
            .await
            .is_err());
        assert!(s.delete_channel(&ckey("app", "nope")).await.is_err());
        assert!(s.delete_user(&ukey("app", "nobody")).await.is_err());
        assert!(s.delete_app_instance("nope").await.is_err());
        assert!(
            drain(&pg).await.is_empty(),
            "refused writes publish nothing"
        );

        let (updated, seq) = s
            .update_channel(
                &ckey("app", "c"),
                ChannelUpdate {
                    name: None,
                    mode: Some(ChannelMode::Restricted),
                    metadata: None,
                },
                Timestamp(4000),
            )
            .await
            .unwrap();
        assert_eq!(seq, 3);
        assert_eq!(updated.created_by, named("owner"));
        let (deleted, seq) = s.delete_channel(&ckey("app", "c")).await.unwrap();
        assert_eq!(seq, 4);
        s.delete_user(&ukey("app", "gone")).await.unwrap();
        s.delete_app_instance("app").await.unwrap();
        assert_eq!(
            drain(&pg).await,
            vec![
                Published::at(3, DomainEvent::ChannelUpdated(updated.clone())),
                Published::at(4, DomainEvent::ChannelDeleted(deleted.clone())),
                Published::unordered(DomainEvent::UserDeleted(ukey("app", "gone"))),
                Published::unordered(DomainEvent::AppInstanceDeleted {
                    app_instance_id: "app".into(),
                }),
            ]
        );
        assert_eq!(
            (updated.mode, deleted.mode, deleted.updated),
            (
                ChannelMode::Restricted,
                ChannelMode::Restricted,
                Timestamp(4000)
            ),
            "the deletion carries the channel as it was"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn revoking_a_key_writes_its_event_and_a_missing_key_writes_none() {
        let (pg, _keep) = fresh_pg(true).await;
        let s: Arc<dyn Store> = Arc::new(pg.clone());
        s.create_access_key(belfry_core::store::StoredKey {
            id: "AKIAGOING".into(),
            secret: "s".into(),
            bearers: Some(vec!["*".into()]),
            created: Timestamp(1),
        })
        .await
        .unwrap();
        assert!(s.delete_access_key("AKIAGOING").await.unwrap());
        assert!(!s.delete_access_key("AKIAGOING").await.unwrap());
        assert_eq!(
            drain(&pg).await,
            vec![Published::unordered(DomainEvent::AccessKeyRevoked {
                id: "AKIAGOING".into()
            })]
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn without_an_outbox_nothing_is_written_to_it() {
        let (pg, _keep) = fresh_pg(false).await;
        let s: Arc<dyn Store> = Arc::new(pg.clone());
        setup(&s, "app", &["owner"]).await;
        let mut nc = new_channel("app", "c", "owner", ChannelPrivacy::Public);
        nc.members = vec![ukey("app", "owner")];
        s.create_channel(nc, idem("ch", "c", "f"), 10, ROOMY)
            .await
            .unwrap();
        s.delete_channel(&ckey("app", "c")).await.unwrap();
        assert!(drain(&pg).await.is_empty());
    }
}

/// Two stores on one schema are two nodes: what must hold across them holds.
mod two_nodes {

    use belfry_core::model::{AppInstanceUser, ChannelPrivacy};
    use belfry_core::store::{Limit, MembershipLimits, StoreError};
    use belfry_core::time::Timestamp;

    use super::nodes;
    use crate::conformance::{idem, new_channel, setup, ukey};

    fn user(id: &str) -> AppInstanceUser {
        AppInstanceUser {
            key: ukey("app", id),
            name: format!("{id} name"),
            metadata: None,
            created: Timestamp(2000),
            updated: Timestamp(2000),
            expiration: None,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn racing_creates_of_one_user_id_make_one_user() {
        let (a, b, _keep) = nodes().await;
        setup(&a, "app", &[]).await;
        for round in 0..20 {
            let id = format!("u{round}");
            let (ra, rb) = tokio::join!(
                a.create_user(
                    user(&id),
                    vec![],
                    idem("app", &format!("a{round}"), "f"),
                    1000
                ),
                b.create_user(
                    user(&id),
                    vec![],
                    idem("app", &format!("b{round}"), "f"),
                    1000
                ),
            );
            let mut outcomes = [ra, rb];
            outcomes.sort_by_key(|r| r.is_err());
            match outcomes {
                [Ok(c), Err(StoreError::UserExists(taken))] => {
                    assert_eq!((c.id.as_str(), c.replayed), (id.as_str(), false));
                    assert_eq!(taken, id);
                }
                other => {
                    panic!("round {round}: expected one create and one UserExists, got {other:?}")
                }
            }
        }
        assert_eq!(b.list_users("app", None, 100).await.unwrap().len(), 20);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn racing_creates_with_one_token_create_once_and_replay_once() {
        let (a, b, _keep) = nodes().await;
        setup(&a, "app", &[]).await;
        for round in 0..20 {
            let id = format!("u{round}");
            let token = format!("t{round}");
            let (ra, rb) = tokio::join!(
                a.create_user(user(&id), vec![], idem("app", &token, "f"), 1000),
                b.create_user(user(&id), vec![], idem("app", &token, "f"), 1000),
            );
            let (ra, rb) = (ra.unwrap(), rb.unwrap());
            assert_eq!((ra.id.as_str(), rb.id.as_str()), (id.as_str(), id.as_str()));
            assert!(
                ra.replayed != rb.replayed,
                "round {round}: one create and one replay, got {ra:?} and {rb:?}"
            );
        }
        // Channels too: the loser replays the winner's channel.
        setup(&a, "other", &["owner"]).await;
        for round in 0..10 {
            let ch = format!("c{round}");
            let nc = new_channel("other", &ch, "owner", ChannelPrivacy::Public);
            let limits = MembershipLimits {
                per_channel: 10,
                per_user: 100,
            };
            let (ra, rb) = tokio::join!(
                a.create_channel(nc.clone(), idem("ch", &ch, "f"), 100, limits),
                b.create_channel(nc, idem("ch", &ch, "f"), 100, limits),
            );
            let (ra, rb) = (ra.unwrap(), rb.unwrap());
            assert!(
                ra.replayed != rb.replayed,
                "round {round}: {ra:?} and {rb:?}"
            );
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn quotas_hold_across_nodes() {
        let (a, b, _keep) = nodes().await;
        setup(&a, "app", &["owner"]).await;
        // 20 users raced from two nodes into an AppInstance that takes 6 (the owner is one).
        let mut tasks = Vec::new();
        for i in 0..20 {
            let s = if i % 2 == 0 { a.clone() } else { b.clone() };
            tasks.push(tokio::spawn(async move {
                let id = format!("u{i}");
                s.create_user(user(&id), vec![], idem("app", &id, "f"), 6)
                    .await
            }));
        }
        let mut made = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(_) => made += 1,
                Err(StoreError::Limit(Limit::Users(6))) => {}
                Err(e) => panic!("unexpected {e:?}"),
            }
        }
        assert_eq!(made, 5);
        assert_eq!(a.list_users("app", None, 100).await.unwrap().len(), 6);

        // Channels whose creator is their member, raced against a per-user limit of 3.
        let limits = MembershipLimits {
            per_channel: 10,
            per_user: 3,
        };
        let mut tasks = Vec::new();
        for i in 0..10 {
            let s = if i % 2 == 0 { a.clone() } else { b.clone() };
            tasks.push(tokio::spawn(async move {
                let ch = format!("c{i}");
                let mut nc = new_channel("app", &ch, "owner", ChannelPrivacy::Public);
                nc.members = vec![ukey("app", "owner")];
                s.create_channel(nc, idem("ch", &ch, "f"), 100, limits)
                    .await
            }));
        }
        let mut made = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(_) => made += 1,
                Err(StoreError::Limit(Limit::UserChannels { .. })) => {}
                Err(e) => panic!("unexpected {e:?}"),
            }
        }
        assert_eq!(made, 3);
    }
}
