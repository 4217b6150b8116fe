//! The single writer with pipelined group commit.
//!
//! All writes go through one thread that owns the write connection. It runs each job as it
//! arrives inside one open transaction, and commits that group once the syncer is free. The
//! write connection runs `synchronous=NORMAL`, so COMMIT only writes the WAL; a second thread,
//! the syncer (`sync`), then `fdatasync`s the WAL file and only after that answers the group's
//! jobs. A write is acknowledged only once it is durable, and many writes share one sync.
//! While the syncer waits on the disk the writer keeps running the jobs that arrive, and holds
//! their COMMIT until the sync is done: their answers would wait for the next sync anyway, and
//! one larger commit writes each page they share (an index tail, a channel row) once instead
//! of once per small group. Checkpoints run on a third thread (see `checkpoint`); only the
//! RESTART that bounds the log runs here, between groups.
//!
//! Hot jobs (message sends) skip the per-job SAVEPOINT, whose sub-journal copies every page a
//! job touches first, and may use the writer's [`SendCache`]. Because every write passes through
//! this thread, the cache stays exact: any other job clears it before it runs, and so does a
//! group that fails to commit. A hot job must do all its checks before its first write; should
//! one fail after writing anyway, its whole group is rolled back and answered with an error.
//!
//! Once a WAL sync fails, the writer runs no more jobs and rolls back the group it holds open:
//! every write from then on is refused unapplied until the server restarts.

mod group;
mod sync;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::mpsc as std_mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;

use belfry_core::store::{StoreError, StoreResult};
use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use super::send_cache::SendCache;
use super::tokens::TokenLog;

/// Jobs waiting for the writer before senders wait too.
const QUEUE: usize = 4096;

/// Metric: seconds from a write's submission until it is committed and durable.
const WRITE_SECONDS: &str = "belfry_store_write_seconds";
/// Metric: jobs waiting in the writer's queue, as of the writer's last look.
const QUEUE_JOBS: &str = "belfry_sqlite_writer_queue_jobs";

type Deliver = Box<dyn FnOnce(Option<StoreError>) + Send>;
/// Runs a job on the write connection, or, given `None`, refuses it without running it.
type Run = Box<dyn FnOnce(Option<(&Connection, &mut Hot)>) -> (bool, Deliver) + Send>;

/// What the writer keeps between jobs for the send path.
pub(crate) struct Hot {
    /// Channels and senders, exact because every write passes through the writer.
    pub(crate) cache: SendCache,
    /// Token keys not yet written to their index.
    pub(crate) tokens: TokenLog,
}

/// A queued write: guarded ones run inside their own SAVEPOINT and clear the cache first.
struct Job {
    guarded: bool,
    run: Run,
}

/// What reaches the writer thread.
enum Msg {
    /// A write to run.
    Job(Job),
    /// The syncer became free: commit the open group, if any.
    Wake,
}

/// What the writer, the syncer and the checkpointer tell each other.
#[derive(Default)]
pub(crate) struct Signals {
    /// The syncer is busy: the writer keeps its group open rather than commit it now.
    syncing: AtomicBool,
    /// The checkpointer asks the writer to restart the log between two groups.
    pub(crate) restart_wanted: AtomicBool,
    /// A WAL sync failed: the writer runs and commits nothing more until the server restarts.
    broken: AtomicBool,
    /// Online backups reading a snapshot now. A RESTART would wait for them (holding the writer
    /// up to its busy timeout), so none is asked for or run meanwhile; the log grows instead.
    pub(crate) copying: AtomicUsize,
}

/// The answer to every write once a WAL sync has failed.
fn unavailable() -> StoreError {
    StoreError::Unavailable("The store cannot make writes durable; restart the server.".into())
}

/// Handle to the writer thread.
pub(crate) struct Writer {
    jobs: std::sync::Mutex<Option<mpsc::Sender<Msg>>>,
    thread: std::sync::Mutex<Option<JoinHandle<()>>>,
}

/// A committed group waiting for its WAL sync.
type Committed = Vec<Deliver>;

impl Writer {
    /// Starts the writer and syncer threads on `conn`, whose WAL file is `wal_path`.
    pub(crate) fn start(
        conn: Connection,
        wal_path: PathBuf,
        signals: Arc<Signals>,
    ) -> StoreResult<Self> {
        let hot = Hot {
            cache: SendCache::default(),
            tokens: TokenLog::load(&conn)?,
        };
        let (tx, rx) = mpsc::channel::<Msg>(QUEUE);
        let wake = tx.downgrade();
        let thread = std::thread::Builder::new()
            .name("belfry-sqlite-writer".into())
            .spawn(move || {
                let (sync_tx, sync_rx) = std_mpsc::channel::<Committed>();
                let sync_signals = signals.clone();
                let syncer = std::thread::Builder::new()
                    .name("belfry-sqlite-sync".into())
                    .spawn(move || sync::run(wal_path, sync_rx, &sync_signals, wake));
                match syncer {
                    Ok(syncer) => {
                        group::run(&conn, rx, sync_tx, &signals, hot);
                        // The syncer ends once every committed group was synced and answered.
                        let _ = syncer.join();
                        group::close(&conn);
                    }
                    Err(e) => tracing::error!(error = %e, "could not start the WAL syncer"),
                }
            })
            .map_err(StoreError::internal)?;
        Ok(Writer {
            jobs: std::sync::Mutex::new(Some(tx)),
            thread: std::sync::Mutex::new(Some(thread)),
        })
    }

    /// Runs `f` in a transaction and returns its result once committed and synced. An `Err`
    /// from `f` rolls back only `f`'s own changes.
    pub(crate) async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        self.submit(true, move |conn, hot| {
            hot.cache.clear();
            f(conn)
        })
        .await
    }

    /// Runs a hot job: no SAVEPOINT, and access to the writer's send state. `f` must not write before
    /// it has decided to succeed (an `Err` after a write fails the whole group).
    pub(crate) async fn write_hot<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, &mut Hot) -> StoreResult<T> + Send + 'static,
    {
        self.submit(false, f).await
    }

    async fn submit<T, F>(&self, guarded: bool, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, &mut Hot) -> StoreResult<T> + Send + 'static,
    {
        let sender = self
            .jobs
            .lock()
            .map_err(StoreError::internal)?
            .clone()
            .ok_or_else(|| StoreError::Unavailable("The store is shutting down.".into()))?;
        let (tx, rx) = oneshot::channel::<StoreResult<T>>();
        let submitted = std::time::Instant::now();
        let run: Run = Box::new(move |db| {
            let result = match db {
                Some((conn, hot)) => f(conn, hot),
                None => Err(unavailable()),
            };
            let ok = result.is_ok();
            let deliver: Deliver = Box::new(move |commit_error| {
                let _ = tx.send(match (commit_error, result) {
                    (Some(e), Ok(_)) => Err(e),
                    (_, r) => r,
                });
            });
            (ok, deliver)
        });
        sender
            .send(Msg::Job(Job { guarded, run }))
            .await
            .map_err(|_| StoreError::Unavailable("The store is shutting down.".into()))?;
        let answer = rx
            .await
            .map_err(|_| StoreError::internal("writer dropped a job"))?;
        // What a write waits for: the queue, its group, COMMIT and the WAL's fdatasync.
        metrics::histogram!(WRITE_SECONDS, "store" => "sqlite")
            .record(submitted.elapsed().as_secs_f64());
        answer
    }

    /// Stops taking jobs, finishes those queued, and waits for the thread to end.
    pub(crate) async fn close(&self) -> StoreResult<()> {
        drop(self.jobs.lock().map_err(StoreError::internal)?.take());
        let thread = self.thread.lock().map_err(StoreError::internal)?.take();
        if let Some(t) = thread {
            tokio::task::spawn_blocking(move || t.join())
                .await
                .map_err(StoreError::internal)?
                .map_err(|_| StoreError::internal("writer thread panicked"))?;
        }
        Ok(())
    }
}
