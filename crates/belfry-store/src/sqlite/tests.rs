//! The SQLite adapter against the conformance suite, plus what only a file-backed store can
//! show: data survives closing and reopening.

use std::sync::Arc;

use belfry_core::model::{AppInstance, Idempotency};
use belfry_core::store::Store;
use belfry_core::time::Timestamp;

use super::SqliteStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_passes_the_conformance_suite() {
    let dirs = std::sync::Mutex::new(Vec::new());
    crate::conformance::run_all(|| {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        dirs.lock().unwrap().push(dir);
        async move { Arc::new(store) as Arc<dyn Store> }
    })
    .await;
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
    assert!(
        matches!(err, belfry_core::CoreError::ServiceUnavailable(_)),
        "{err:?}"
    );
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
            Err::<(), _>(belfry_core::CoreError::bad("changed its mind"))
        })
        .await;
    assert_eq!(failed, Err(belfry_core::CoreError::bad("changed its mind")));
    store
        .inner
        .writer
        .write_hot(move |c, _| insert("whole")(c))
        .await
        .unwrap();
    assert_eq!(store.get_app_instance("half").await.unwrap(), None);
    assert!(store.get_app_instance("whole").await.unwrap().is_some());
}
