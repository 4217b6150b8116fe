//! The PostgreSQL adapter, for deployments of several Belfry nodes sharing one database.
//!
//! tokio-postgres under a bounded deadpool pool. Every connection runs with
//! `synchronous_commit = on`, so a write returns only once its commit is durable on the server.
//! Transactions run at READ COMMITTED; a write that depends on a row's current state locks
//! that row first (`SELECT … FOR UPDATE`, or the `UPDATE channels SET event_seq = …` that takes
//! a channel's next event number; sends lock it `FOR NO KEY UPDATE` and number a whole batch
//! at once, see `message/send.rs`), so concurrent nodes serialize on the rows they share
//! instead of retrying. Rules that must hold across nodes are constraints (unique keys,
//! foreign keys) or locks, never a node's memory: creates serialize on their ClientRequestToken
//! (a transaction advisory lock, so a raced token replays), quotas are counted under their
//! parent's row lock (the AppInstance row; a member's user row for the per-user membership
//! quota), always taken in that order (`rows.rs`).
//!
//! Statements go through `rows::{rows, row, one, exec}`, which prepare each once per connection
//! (a statement sent as a plain string is prepared again on every call: one more round trip).
//!
//! With an outbox (`PgOptions::outbox`), every write that publishes an event also inserts it
//! into `outbox` in the same transaction, for the bus relay (see `Outbox`).

mod app_instance;
mod channel;
mod keys;
mod membership;
mod message;
mod moderation;
mod outbox;
mod rows;
mod rows_b;
mod schema;
mod tags;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_b;
#[cfg(test)]
mod tests_batch;
#[cfg(test)]
mod tests_start;
mod user;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use belfry_core::events::Published;
use belfry_core::model::{Created, Idempotency};
use belfry_core::store::{StoreError, StoreResult};
use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::error::SqlState;
use tokio_postgres::NoTls;

/// How to reach the database and how much of it to use.
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// A `postgres://` URL (libpq keywords in the query string are honoured).
    pub url: String,
    /// Connections this node keeps at most.
    pub max_connections: usize,
    /// How long a request waits for a free connection before failing with 503.
    pub acquire_timeout: Duration,
    /// A schema to use (created if missing) instead of the URL's `search_path`: lets tests and
    /// side-by-side deployments share one database.
    pub schema: Option<String>,
    /// Write each published event to the outbox in its change's transaction (for `--bus`).
    pub outbox: bool,
}

impl PgOptions {
    /// Defaults for `url`: 16 connections, a 5-second wait, no outbox.
    pub fn new(url: impl Into<String>) -> Self {
        PgOptions {
            url: url.into(),
            max_connections: 16,
            acquire_timeout: Duration::from_secs(5),
            schema: None,
            outbox: false,
        }
    }
}

/// Belfry's store on PostgreSQL.
#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
    outbox: bool,
    /// The queues of this node's channels with sends in flight (`message::send`).
    sends: Arc<message::SendQueues>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("pool", &self.pool.status())
            .field("outbox", &self.outbox)
            .finish()
    }
}

/// Quotes an identifier for SQL.
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

impl PgStore {
    /// Connects, creates the schema if asked, and applies pending migrations (under an
    /// advisory lock, so nodes starting together do not race).
    pub async fn connect(opts: PgOptions) -> StoreResult<Self> {
        let mut config = tokio_postgres::Config::from_str(&opts.url)
            .map_err(|e| StoreError::internal(format!("the PostgreSQL URL is invalid: {e}")))?;
        let mut options = config.get_options().unwrap_or_default().to_owned();
        options.push_str(" -c synchronous_commit=on");
        if let Some(schema) = &opts.schema {
            // The schema must exist before a connection names it in its search_path.
            let (client, conn) = config.connect(NoTls).await.map_err(unreachable)?;
            let task = tokio::spawn(conn);
            // IF NOT EXISTS is not safe against a concurrent CREATE: nodes starting together
            // take turns under the migration lock.
            client
                .batch_execute(&format!(
                    "BEGIN; SELECT pg_advisory_xact_lock({}); CREATE SCHEMA IF NOT EXISTS {}; COMMIT;",
                    schema::MIGRATION_LOCK,
                    ident(schema)
                ))
                .await
                .map_err(db)?;
            drop(client);
            let _ = task.await;
            options.push_str(&format!(" -c search_path={schema}"));
        }
        config.options(options.trim());
        if config.get_application_name().is_none() {
            config.application_name("belfry");
        }
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(opts.max_connections.max(1))
            .wait_timeout(Some(opts.acquire_timeout))
            .create_timeout(Some(opts.acquire_timeout))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(StoreError::internal)?;
        let store = PgStore {
            pool,
            outbox: opts.outbox,
            sends: Arc::default(),
        };
        let mut conn = store.conn().await?;
        schema::migrate(&mut conn).await?;
        Ok(store)
    }

    /// A pooled connection; none free within the acquire timeout is `Unavailable`.
    pub(crate) async fn conn(&self) -> StoreResult<deadpool_postgres::Object> {
        self.pool.get().await.map_err(|e| match e {
            deadpool_postgres::PoolError::Timeout(_) => {
                StoreError::Unavailable("no PostgreSQL connection became free in time".into())
            }
            deadpool_postgres::PoolError::Backend(e) => unreachable(e),
            other => StoreError::Unavailable(format!("PostgreSQL: {other}")),
        })
    }

    /// Whether the database answers (for `/health`).
    pub async fn ping(&self) -> StoreResult<()> {
        let conn = self.conn().await?;
        conn.simple_query("SELECT 1").await.map_err(db)?;
        Ok(())
    }

    /// The pool's size and idle connections.
    pub fn pool_status(&self) -> (usize, usize) {
        let s = self.pool.status();
        (s.size, s.available)
    }

    /// Writes `event` to the outbox inside `tx`, when this store has an outbox.
    pub(crate) async fn enqueue<C: GenericClient>(
        &self,
        tx: &C,
        event: &Published,
    ) -> StoreResult<()> {
        if !self.outbox {
            return Ok(());
        }
        rows::exec(
            tx,
            "INSERT INTO outbox (payload) VALUES ($1)",
            &[&event.encode()],
        )
        .await?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl belfry_core::store::Store for PgStore {
    async fn close(&self) -> StoreResult<()> {
        // Every acknowledged write is already committed; this only hangs up.
        self.pool.close();
        Ok(())
    }
}

/// Maps a driver error to a store failure: a lost or refused connection is `Unavailable` (the
/// client may retry), anything else `Internal`.
pub(crate) fn db(e: tokio_postgres::Error) -> StoreError {
    if e.is_closed() {
        return StoreError::Unavailable(format!("PostgreSQL connection lost: {e}"));
    }
    StoreError::internal(format!("postgres: {}", describe(&e)))
}

fn unreachable(e: tokio_postgres::Error) -> StoreError {
    StoreError::Unavailable(format!("PostgreSQL is unreachable: {}", describe(&e)))
}

/// The error with the server's message, which `Display` leaves out.
fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(d) => format!("{e}: {} ({})", d.message(), d.code().code()),
        None => match std::error::Error::source(e) {
            Some(src) => format!("{e}: {src}"),
            None => e.to_string(),
        },
    }
}

/// Whether `e` is a unique-constraint violation (a duplicate another node committed first).
pub(crate) fn is_unique_violation(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&SqlState::UNIQUE_VIOLATION)
}

/// An earlier create with the same token: its result, or a conflict if the request differed.
/// Call with the idempotency row locked or after inserting it (see `remember`).
pub(crate) async fn replay<C: GenericClient>(
    tx: &C,
    idem: &Idempotency,
) -> StoreResult<Option<Created>> {
    let found = rows::row(
        tx,
        "SELECT fingerprint, resource_id FROM idempotency WHERE scope = $1 AND token = $2",
        &[&idem.scope, &idem.token],
    )
    .await?;
    match found {
        None => Ok(None),
        Some(r) => {
            let fp: String = rows::col(&r, 0)?;
            if fp == idem.fingerprint {
                Ok(Some(Created {
                    id: rows::col(&r, 1)?,
                    replayed: true,
                }))
            } else {
                Err(StoreError::TokenReused)
            }
        }
    }
}

/// Forgets a token whose resource is gone, so the token may create afresh.
pub(crate) async fn forget<C: GenericClient>(tx: &C, idem: &Idempotency) -> StoreResult<()> {
    rows::exec(
        tx,
        "DELETE FROM idempotency WHERE scope = $1 AND token = $2",
        &[&idem.scope, &idem.token],
    )
    .await?;
    Ok(())
}

/// Records a create for later replays. Two nodes racing with one token meet on the primary
/// key: the loser's transaction fails with a unique violation and is retried by the caller,
/// which then finds the winner's row in `replay`.
pub(crate) async fn remember<C: GenericClient>(
    tx: &C,
    idem: &Idempotency,
    resource_id: &str,
    now_ms: i64,
) -> StoreResult<()> {
    rows::exec(
        tx,
        "INSERT INTO idempotency (scope, token, fingerprint, resource_id, created_ms) VALUES ($1, $2, $3, $4, $5)",
        &[&idem.scope, &idem.token, &idem.fingerprint, &resource_id, &now_ms],
    )
    .await?;
    Ok(())
}

/// `SELECT COUNT(*)` with parameters (prepared once per connection).
pub(crate) async fn count<C: GenericClient>(
    tx: &C,
    sql: &str,
    params: &rows::Params<'_>,
) -> StoreResult<u64> {
    let n: i64 = rows::col(&rows::one(tx, sql, params).await?, 0)?;
    Ok(n.max(0) as u64)
}
