//! The PostgreSQL adapter against the conformance suite. Each test gets its own schema in the
//! database named by `BELFRY_TEST_POSTGRES` (default: the `test` database on 127.0.0.1:5432),
//! so parallel test runs do not collide. Without a reachable server the tests fail, saying
//! what to install: a silent skip would pass a backend nobody tested.

use std::sync::Arc;

use belfry_core::store::Store;

use super::{PgOptions, PgStore};

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

/// The conformance suite, one test per case.
mod conformance {
    crate::conformance_cases!(super::fresh_store);
}
