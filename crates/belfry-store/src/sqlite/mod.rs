//! The SQLite adapter: one database file in the data directory, WAL mode, `synchronous=FULL`
//! (a commit is on disk before it returns), a single group-committing writer thread and a small
//! pool of reader connections on the blocking thread pool.

mod app_instance;
mod backup;
mod channel;
mod checkpoint;
mod keys;
mod membership;
mod message;
mod moderation;
mod schema;
mod send_cache;
mod tags;
#[cfg(test)]
mod tests;
mod tokens;
mod user;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use belfry_core::model::{Created, Idempotency};
use belfry_core::store::{StoreError, StoreResult};
use rusqlite::{params, Connection, OptionalExtension};
use tokio::sync::Semaphore;

use writer::Writer;

/// Reader connections open at most at once.
const MAX_READERS: usize = 8;

/// Belfry's embedded store.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    writer: Writer,
    signals: Arc<writer::Signals>,
    readers: Readers,
    checkpointer: checkpoint::Checkpointer,
}

struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    permits: Arc<Semaphore>,
}

impl SqliteStore {
    /// Opens (creating if needed) `belfry.db` in `dir` and applies pending migrations.
    pub fn open(dir: &Path) -> StoreResult<Self> {
        std::fs::create_dir_all(dir).map_err(StoreError::internal)?;
        let path = dir.join("belfry.db");
        make_private(&path).map_err(StoreError::internal)?;
        let mut conn = Connection::open(&path).map_err(StoreError::internal)?;
        configure(&conn)?;
        schema::migrate(&mut conn)?;
        // The writer does not sync on COMMIT (its syncer thread syncs the WAL before any answer)
        // and does not checkpoint (the checkpointer does).
        conn.execute_batch(
            "PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 0; PRAGMA cache_size = -8192;",
        )
        .map_err(StoreError::internal)?;
        // SQLite's own busy handler backs off 1, 2, 5, 10… ms; the writer meets a lock only for
        // the moment the checkpointer holds it, so it retries every 50 µs instead (for up to 5 s).
        conn.busy_handler(Some(|attempt| {
            std::thread::sleep(std::time::Duration::from_micros(50));
            attempt < 100_000
        }))
        .map_err(StoreError::internal)?;
        let wal_path = dir.join("belfry.db-wal");
        let signals = Arc::new(writer::Signals::default());
        let checkpointer =
            checkpoint::Checkpointer::start(path.clone(), wal_path.clone(), signals.clone())
                .map_err(StoreError::internal)?;
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                checkpointer,
                writer: Writer::start(conn, wal_path, signals.clone())?,
                signals,
                readers: Readers {
                    path,
                    idle: Mutex::new(Vec::new()),
                    permits: Arc::new(Semaphore::new(MAX_READERS)),
                },
            }),
        })
    }

    /// Runs a write in the next group commit.
    async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        self.inner.writer.write(f).await
    }

    /// Runs a read on a pooled connection, off the async threads.
    async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let permit = self
            .inner
            .readers
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(StoreError::internal)?;
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let conn = inner.readers.take()?;
            let result = f(&conn);
            inner.readers.put(conn);
            result
        })
        .await
        .map_err(StoreError::internal)?
    }
}

/// Makes the database, its WAL and its shared-memory index readable by the server's user only
/// (0600): they hold every message. SQLite gives the `-wal` and `-shm` files it creates the
/// database file's mode, so the database is created 0600 before SQLite opens it; files left by
/// an earlier version are tightened.
fn make_private(db: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(db)?;
        for suffix in ["", "-wal", "-shm"] {
            let mut name = db.as_os_str().to_owned();
            name.push(suffix);
            let file = PathBuf::from(name);
            match std::fs::metadata(&file) {
                Ok(m) if m.permissions().mode() & 0o777 != 0o600 => {
                    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))?
                }
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }
    #[cfg(not(unix))]
    let _ = db;
    Ok(())
}

/// The union of the family ports (each implemented next to its SQL in its module), and the
/// store's lifecycle.
#[async_trait::async_trait]
impl belfry_core::store::Store for SqliteStore {
    async fn close(&self) -> StoreResult<()> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || inner.checkpointer.stop())
            .await
            .map_err(StoreError::internal)?;
        self.inner.writer.close().await
    }

    async fn backup(&self) -> StoreResult<Option<PathBuf>> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            backup::copy(&inner.readers.path, &inner.signals.copying).map(Some)
        })
        .await
        .map_err(StoreError::internal)?
    }
}

impl Readers {
    fn take(&self) -> StoreResult<Connection> {
        if let Some(c) = self.idle.lock().map_err(StoreError::internal)?.pop() {
            return Ok(c);
        }
        let conn = Connection::open(&self.path).map_err(StoreError::internal)?;
        // Each reader caches up to 16 MiB of pages and maps the file, so hot history pages are
        // read without a copy; both are bounded.
        conn.execute_batch(
            "PRAGMA query_only = ON; PRAGMA busy_timeout = 5000; PRAGMA cache_size = -16384; PRAGMA mmap_size = 268435456;",
        )
            .map_err(StoreError::internal)?;
        Ok(conn)
    }

    fn put(&self, conn: Connection) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(conn);
        }
    }
}

fn configure(conn: &Connection) -> StoreResult<()> {
    // FULL while migrating: every COMMIT syncs. The writer then switches to syncing the WAL
    // itself, off its own thread (see `writer`).
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;
         PRAGMA busy_timeout = 5000;",
    )
    .map_err(StoreError::internal)
}

/// Maps a driver error to the core's internal error.
pub(crate) fn db(e: rusqlite::Error) -> StoreError {
    StoreError::internal(format!("sqlite: {e}"))
}

/// An earlier create with the same token: its result, or a conflict if the request differed.
pub(crate) fn replay(conn: &Connection, idem: &Idempotency) -> StoreResult<Option<Created>> {
    let row: Option<(String, String)> = conn
        .query_row(
            "SELECT fingerprint, resource_id FROM idempotency WHERE scope = ?1 AND token = ?2",
            params![idem.scope, idem.token],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .map_err(db)?;
    match row {
        None => Ok(None),
        Some((fp, id)) if fp == idem.fingerprint => Ok(Some(Created { id, replayed: true })),
        Some(_) => Err(StoreError::TokenReused),
    }
}

/// Forgets a token whose resource is gone, so the token may create afresh.
pub(crate) fn forget(conn: &Connection, idem: &Idempotency) -> StoreResult<()> {
    conn.execute(
        "DELETE FROM idempotency WHERE scope = ?1 AND token = ?2",
        params![idem.scope, idem.token],
    )
    .map_err(db)?;
    Ok(())
}

/// Records a create for later replays.
pub(crate) fn remember(
    conn: &Connection,
    idem: &Idempotency,
    resource_id: &str,
    now_ms: i64,
) -> StoreResult<()> {
    conn.execute(
        "INSERT INTO idempotency (scope, token, fingerprint, resource_id, created_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![idem.scope, idem.token, idem.fingerprint, resource_id, now_ms],
    )
    .map_err(db)?;
    Ok(())
}

/// `SELECT COUNT(*)` with parameters.
pub(crate) fn count(conn: &Connection, sql: &str, p: impl rusqlite::Params) -> StoreResult<u64> {
    let n: i64 = conn.query_row(sql, p, |r| r.get(0)).map_err(db)?;
    Ok(n.max(0) as u64)
}
