//! What a node does at start, against a real PostgreSQL: migrations when several nodes start
//! at once, and the durability setting every connection runs with.

use belfry_core::store::AppInstanceStore;

use super::tests::{test_url, Schema};
use super::{PgOptions, PgStore};

fn opts(schema: &str) -> PgOptions {
    let mut o = PgOptions::new(test_url());
    o.schema = Some(schema.to_string());
    o.max_connections = 2;
    o
}

/// Six nodes starting together on an empty schema: each migration is applied exactly once
/// (the advisory lock makes the others wait), and every node comes up working.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_starting_together_apply_each_migration_once() {
    let schema = format!("belfry_start_{}", rand::random::<u64>());
    let _cleanup = Schema::named(&schema);
    let mut starts = Vec::new();
    for _ in 0..6 {
        let o = opts(&schema);
        starts.push(tokio::spawn(async move { PgStore::connect(o).await }));
    }
    let mut stores = Vec::new();
    for s in starts {
        stores.push(s.await.unwrap().expect("every node starts"));
    }
    let conn = stores[0].conn().await.unwrap();
    let rows = conn
        .query(
            "SELECT version, count(*) FROM belfry_migrations GROUP BY version",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), super::schema::MIGRATIONS.len());
    for r in rows {
        assert_eq!(
            r.get::<_, i64>(1),
            1,
            "migration {} applied twice",
            r.get::<_, i32>(0)
        );
    }
    for s in &stores {
        assert_eq!(s.list_app_instances(None, 1).await.unwrap(), vec![]);
    }
}

/// A write is acknowledged only after a durable commit, whatever the database's default:
/// Belfry's connections run with synchronous_commit = on even where it is off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_commit_synchronously_whatever_the_default() {
    let schema = format!("belfry_sync_{}", rand::random::<u64>());
    let _cleanup = Schema::named(&schema);
    let mut o = opts(&schema);
    // The role's default is what a careless server configuration would give.
    o.url = format!("{}?options=-c%20synchronous_commit%3Doff", test_url());
    let store = PgStore::connect(o).await.unwrap();
    let conn = store.conn().await.unwrap();
    let setting: String = conn
        .query_one("SHOW synchronous_commit", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(setting, "on");
}
