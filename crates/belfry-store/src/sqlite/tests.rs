//! The SQLite adapter against the conformance suite, plus what only a file-backed store can
//! show: data survives closing and reopening.

use std::sync::Arc;

use belfry_core::model::{AppInstance, Idempotency};
use belfry_core::store::{
    AppInstanceStore, ChannelStore, MembershipStore, MessageStore, Store, StoreError, UserStore,
};
use belfry_core::time::Timestamp;

use rusqlite::Connection;

use super::SqliteStore;

/// A new SQLite store in a temporary directory that lives as long as the test holds it.
async fn fresh_store() -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    (Arc::new(store), dir)
}

/// The conformance suite, one test per case.
mod conformance {
    crate::conformance_cases!(super::fresh_store);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_sequence_numbers_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    let store = Arc::new(SqliteStore::open(&path).unwrap());
    crate::conformance::event_sequence(store, |s| async move {
        s.close().await.unwrap();
        drop(s);
        Arc::new(SqliteStore::open(&path).unwrap()) as Arc<dyn Store>
    })
    .await;
}

/// Channels created before the event sequence existed start counting from 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channels_from_before_the_event_sequence_start_at_zero() {
    use crate::conformance::{ckey, ukey};
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    channel_with_member(&store).await;
    store.close().await.unwrap();
    drop(store);
    // Back to schema 3: no event_seq column, nor the tables of migration 5.
    let conn = Connection::open(dir.path().join("belfry.db")).unwrap();
    conn.execute_batch(
        "ALTER TABLE channels DROP COLUMN event_seq; DROP TABLE access_keys; DROP TABLE settings;
         PRAGMA user_version = 3;",
    )
    .unwrap();
    drop(conn);
    let store = SqliteStore::open(dir.path()).unwrap();
    let mine = store.session_channels(&ukey("app", "mem")).await.unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].event_seq, 0);
    let (_, seq) = store
        .update_channel(&ckey("app", "c"), Default::default(), Timestamp(9))
        .await
        .unwrap();
    assert_eq!(seq, 1);
}

/// The send path numbers events from the writer's cache. Were the cache ever out of step with
/// the channel row, the send fails (its group rolled back, the cache cleared) rather than
/// number wrong, and the next send is numbered from the row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_cache_out_of_step_with_the_event_sequence_fails_the_send() {
    use crate::conformance::ckey;
    use crate::conformance::message::{allow, plain, req};
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    channel_with_member(&store).await;
    let send = |n: u64| {
        let store = store.clone();
        async move {
            let m = plain("c", n, "mem", 10_000 + n as i64);
            store
                .send_message(req(m, &format!("t{n}"), "f"), allow())
                .await
        }
    };
    assert_eq!(
        send(1).await.unwrap().event_seq,
        Some(2),
        "after mem's membership"
    );
    // Behind the cache's back: a hot job does not clear it.
    store
        .inner
        .writer
        .write_hot(|c, _| {
            c.execute("UPDATE channels SET event_seq = event_seq + 10", [])
                .map(|_| ())
                .map_err(super::db)
        })
        .await
        .unwrap();
    let err = send(2).await.unwrap_err();
    assert!(matches!(err, StoreError::Internal(_)), "{err:?}");
    let c = ckey("app", "c");
    let id = plain("c", 2, "mem", 0).message_id;
    assert!(store.get_message(&c, &id).await.unwrap().is_none());
    assert_eq!(send(3).await.unwrap().event_seq, Some(13));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_survive_reopen_and_migrations_are_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let app = AppInstance {
        id: "kept".into(),
        name: "n".into(),
        metadata: None,
        created: Timestamp(1),
        updated: Timestamp(1),
    };
    let idem = Idempotency {
        scope: "s".into(),
        token: "t".into(),
        fingerprint: "f".into(),
    };
    store
        .create_app_instance(app.clone(), vec![], idem, 10)
        .await
        .unwrap();
    store.close().await.unwrap();
    assert!(
        store.get_app_instance("kept").await.is_ok(),
        "reads still work after close"
    );
    let err = store.delete_app_instance("kept").await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    drop(store);
    let reopened = SqliteStore::open(dir.path()).unwrap();
    assert_eq!(reopened.get_app_instance("kept").await.unwrap(), Some(app));
}

/// A hot job (no savepoint of its own) that fails after writing takes its group down: nothing
/// it wrote stays, its caller gets the error, and the writer goes on with the next group.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hot_job_failing_after_a_write_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let insert = |id: &'static str| {
        move |c: &rusqlite::Connection| {
            c.execute(
                "INSERT INTO app_instances (id, name, created_ms, updated_ms) VALUES (?1, 'n', 1, 1)",
                [id],
            )
            .map_err(super::db)
        }
    };
    let failed = store
        .inner
        .writer
        .write_hot(move |c, _| {
            insert("half")(c)?;
            Err::<(), _>(StoreError::internal("changed its mind"))
        })
        .await;
    assert_eq!(failed, Err(StoreError::internal("changed its mind")));
    store
        .inner
        .writer
        .write_hot(move |c, _| insert("whole")(c))
        .await
        .unwrap();
    assert_eq!(store.get_app_instance("half").await.unwrap(), None);
    assert!(store.get_app_instance("whole").await.unwrap().is_some());
}

/// Sends message `n` in channel "c" of "app" as "mem" with token `token`; whether it was a
/// replay of an earlier send.
async fn send_with(store: &SqliteStore, n: u64, token: &str) -> bool {
    use crate::conformance::message::{allow, plain, req};
    let m = plain("c", n, "mem", 10_000 + n as i64);
    store
        .send_message(req(m, token, "f"), allow())
        .await
        .unwrap()
        .replayed
}

async fn channel_with_member(store: &SqliteStore) {
    use crate::conformance::{idem, new_channel, setup, ukey, ROOMY};
    let s: Arc<dyn Store> = Arc::new(store.clone());
    setup(&s, "app", &["owner", "mem"]).await;
    let mut nc = new_channel(
        "app",
        "c",
        "owner",
        belfry_core::model::ChannelPrivacy::Public,
    );
    nc.members = vec![ukey("app", "mem")];
    s.create_channel(nc, idem("ch", "c", "f"), 10, ROOMY)
        .await
        .unwrap();
}

/// A token is found again wherever its key is: still in memory, written by a finished sweep of
/// the key space, or read back above the watermark after a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_found_in_memory_in_the_index_and_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    channel_with_member(&store).await;
    assert!(!send_with(&store, 1, "first").await);
    assert!(send_with(&store, 2, "first").await, "pending key");
    // One commit per send: the first sweep (begun with no messages) ends within 2048 commits;
    // the second, which covers "first", ends within 2048 more and raises the watermark.
    for n in 0..4200u64 {
        assert!(!send_with(&store, 100 + n, &format!("t{n}")).await);
    }
    let conn = Connection::open(dir.path().join("belfry.db")).unwrap();
    let (written, watermark): (i64, i64) = conn
        .query_row(
            "SELECT (SELECT COUNT(*) FROM message_tokens), indexed_through FROM token_sweep",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(written >= 1000, "{written} keys written");
    assert!(watermark >= 2, "watermark {watermark}");
    assert!(send_with(&store, 3, "first").await, "written key");
    assert!(send_with(&store, 4, "t4199").await, "newest key");
    store.close().await.unwrap();
    drop(store);

    let reopened = SqliteStore::open(dir.path()).unwrap();
    assert!(send_with(&reopened, 5, "first").await);
    assert!(
        send_with(&reopened, 6, "t4199").await,
        "key read back above the watermark"
    );
    assert!(!send_with(&reopened, 7, "fresh").await);
}

/// A database whose keys were never written (as one from before the key index, or one that
/// crashed long ago) has them written at start-up, and its tokens still replay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unwritten_keys_are_caught_up_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    channel_with_member(&store).await;
    assert!(!send_with(&store, 1, "old").await);
    store.close().await.unwrap();
    drop(store);
    // Forget every written key and pretend there are many unindexed messages below the one.
    let conn = Connection::open(dir.path().join("belfry.db")).unwrap();
    conn.execute_batch(
        "DELETE FROM message_tokens; UPDATE token_sweep SET indexed_through = 0;
         UPDATE messages SET seq = 300000 WHERE seq = 1;",
    )
    .unwrap();
    drop(conn);
    let reopened = SqliteStore::open(dir.path()).unwrap();
    assert!(send_with(&reopened, 2, "old").await);
    let conn = Connection::open(dir.path().join("belfry.db")).unwrap();
    let watermark: i64 = conn
        .query_row("SELECT indexed_through FROM token_sweep", [], |r| r.get(0))
        .unwrap();
    assert!(watermark >= 100_000, "caught up to {watermark}");
}

/// Commits `n` writes that store no message (each moves the token sweep one slice on).
async fn idle_commits(store: &SqliteStore, n: u32) {
    use crate::conformance::ukey;
    for i in 0..n {
        store
            .update_user(
                &ukey("app", "owner"),
                format!("n{i}"),
                "m".into(),
                Timestamp(i64::from(i)),
            )
            .await
            .unwrap();
    }
}

/// SQLite hands the highest seq out again once its message is deleted. A message stored under
/// such a seq, whose key the running sweep has already passed, would fall under the watermark
/// that sweep sets without its key ever written: it must be written at once, and found again
/// after a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reused_seq_keeps_its_token() {
    use crate::sqlite::tokens::token_key;
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    channel_with_member(&store).await;
    assert!(!send_with(&store, 1, "doomed").await);
    // A whole sweep: the next one starts above the doomed message's seq.
    idle_commits(&store, 2100).await;
    store
        .delete_message(
            &crate::conformance::ckey("app", "c"),
            &format!("{:064x}", 1),
            &crate::conformance::message::actor(),
            crate::conformance::message::allow(),
        )
        .await
        .unwrap();
    // A token whose key lies in the first slice, which this sweep has passed by now.
    let conn = Connection::open(dir.path().join("belfry.db")).unwrap();
    let channel_seq: i64 = conn
        .query_row("SELECT seq FROM channels WHERE channel_id = 'c'", [], |r| {
            r.get(0)
        })
        .unwrap();
    let token = (0..1_000_000)
        .map(|i| format!("early-{i}"))
        .find(|t| token_key(channel_seq, "mem", t) < (u64::MAX / 2048))
        .unwrap();
    assert!(!send_with(&store, 2, &token).await);
    let reused: i64 = conn
        .query_row("SELECT MAX(seq) FROM messages", [], |r| r.get(0))
        .unwrap();
    assert_eq!(reused, 1, "the deleted message's seq was handed out again");
    // Stop right when the sweep ends: the next one would write every pending key anyway.
    let watermark = || -> i64 {
        conn.query_row("SELECT indexed_through FROM token_sweep", [], |r| r.get(0))
            .unwrap()
    };
    for _ in 0..2100 {
        if watermark() >= reused {
            break;
        }
        idle_commits(&store, 1).await;
    }
    assert!(watermark() >= reused, "watermark {}", watermark());
    store.close().await.unwrap();
    drop(store);
    let reopened = SqliteStore::open(dir.path()).unwrap();
    assert!(
        send_with(&reopened, 3, &token).await,
        "replayed, not stored twice"
    );
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_and_its_wal_and_shm_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let dir = tempfile::tempdir().unwrap();
    let files = ["belfry.db", "belfry.db-wal", "belfry.db-shm"].map(|f| dir.path().join(f));
    let store = SqliteStore::open(dir.path()).unwrap();
    for f in &files {
        assert_eq!(mode(f), 0o600, "{} when created", f.display());
    }
    store.close().await.unwrap();
    drop(store);
    // Files an earlier version left readable by others are tightened at the next open.
    for f in &files {
        if f.exists() {
            std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
    }
    let store = SqliteStore::open(dir.path()).unwrap();
    for f in &files {
        assert_eq!(mode(f), 0o600, "{} when reopened", f.display());
    }
    store.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_online_backup_is_a_store_that_opens_with_everything_committed() {
    use belfry_core::store::{KeyStore, StoredKey};
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::open(dir.path()).unwrap();
    s.setting_or_init("page_key", b"kept").await.unwrap();
    s.create_access_key(StoredKey {
        id: "AKIABACKUP".into(),
        secret: "secret".into(),
        bearers: None,
        created: Timestamp(1),
    })
    .await
    .unwrap();
    // Writes keep committing while the copy is made.
    let writer = {
        let s = s.clone();
        tokio::spawn(async move {
            for n in 0..200 {
                let key = StoredKey {
                    id: format!("AKIALATER{n}"),
                    secret: "s".into(),
                    bearers: None,
                    created: Timestamp(2),
                };
                s.create_access_key(key).await.unwrap();
            }
        })
    };
    let copy = s.backup().await.unwrap().expect("SQLite makes backups");
    writer.await.unwrap();
    assert_eq!(
        copy.parent(),
        Some(dir.path()),
        "made in the data directory"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&copy).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let restored_dir = tempfile::tempdir().unwrap();
    std::fs::rename(&copy, restored_dir.path().join("belfry.db")).unwrap();
    let r = SqliteStore::open(restored_dir.path()).unwrap();
    assert_eq!(
        r.setting_or_init("page_key", b"other").await.unwrap(),
        b"kept"
    );
    let keys = r.list_access_keys().await.unwrap();
    assert_eq!(keys[0].id, "AKIABACKUP");
    // One snapshot: the later keys it holds are a prefix of the writer's order.
    let later: Vec<usize> = keys[1..]
        .iter()
        .map(|k| k.id["AKIALATER".len()..].parse().unwrap())
        .collect();
    let mut sorted = later.clone();
    sorted.sort();
    assert_eq!(sorted, (0..later.len()).collect::<Vec<_>>());
    r.close().await.unwrap();
    s.close().await.unwrap();
}
