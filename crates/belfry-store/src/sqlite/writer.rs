//! The single writer with pipelined group commit.
//!
//! All writes go through one thread that owns the write connection. It takes every job that is
//! waiting (up to a bound), runs each inside its own SAVEPOINT of one transaction and commits
//! once. The write connection runs `synchronous=NORMAL`, so COMMIT only writes the WAL; a second
//! thread, the syncer, then `fdatasync`s the WAL file and only after that answers the group's
//! jobs. While the syncer waits on the disk, the writer is already committing the next group:
//! a write is acknowledged only once it is durable, many writes share one sync, and the sync
//! latency does not stall the writer. Checkpoints run on a third thread (see `checkpoint`), so
//! copying the WAL into the database never blocks a commit either.
//!
//! Hot jobs (message sends) skip the per-job SAVEPOINT, whose sub-journal copies every page a
//! job touches first, and may use the writer's [`SendCache`]. Because every write passes through
//! this thread, the cache stays exact: any other job clears it before it runs, and so does a
//! group that fails to commit. A hot job must do all its checks before its first write; should
//! one fail after writing anyway, its whole group is rolled back and answered with an error.

use std::fs::File;
use std::path::PathBuf;
use std::sync::mpsc as std_mpsc;
use std::thread::JoinHandle;

use belfry_core::{CoreError, CoreResult};
use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use super::send_cache::SendCache;

/// Most jobs committed together.
const MAX_GROUP: usize = 512;
/// Jobs waiting for the writer before senders wait too.
const QUEUE: usize = 4096;

type Deliver = Box<dyn FnOnce(Option<CoreError>) + Send>;
type Run = Box<dyn FnOnce(&Connection, &mut SendCache) -> (bool, Deliver) + Send>;

/// A queued write: guarded ones run inside their own SAVEPOINT and clear the cache first.
struct Job {
    guarded: bool,
    run: Run,
}

/// Handle to the writer thread.
pub(crate) struct Writer {
    jobs: std::sync::Mutex<Option<mpsc::Sender<Job>>>,
    thread: std::sync::Mutex<Option<JoinHandle<()>>>,
}

/// A committed group waiting for its WAL sync.
type Committed = Vec<Deliver>;

impl Writer {
    /// Starts the writer and syncer threads on `conn`, whose WAL file is `wal_path`.
    pub(crate) fn start(conn: Connection, wal_path: PathBuf) -> CoreResult<Self> {
        let (tx, rx) = mpsc::channel::<Job>(QUEUE);
        let thread = std::thread::Builder::new()
            .name("belfry-sqlite-writer".into())
            .spawn(move || {
                let (sync_tx, sync_rx) = std_mpsc::channel::<Committed>();
                let syncer = std::thread::Builder::new()
                    .name("belfry-sqlite-sync".into())
                    .spawn(move || sync_loop(wal_path, sync_rx));
                match syncer {
                    Ok(syncer) => {
                        run(conn, rx, sync_tx);
                        // The syncer ends once every committed group was synced and answered.
                        let _ = syncer.join();
                    }
                    Err(e) => tracing::error!(error = %e, "could not start the WAL syncer"),
                }
            })
            .map_err(CoreError::internal)?;
        Ok(Writer {
            jobs: std::sync::Mutex::new(Some(tx)),
            thread: std::sync::Mutex::new(Some(thread)),
        })
    }

    /// Runs `f` in a transaction and returns its result once committed and synced. An `Err`
    /// from `f` rolls back only `f`'s own changes.
    pub(crate) async fn write<T, F>(&self, f: F) -> CoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> CoreResult<T> + Send + 'static,
    {
        self.submit(true, move |conn, cache| {
            cache.clear();
            f(conn)
        })
        .await
    }

    /// Runs a hot job: no SAVEPOINT, and access to the send cache. `f` must not write before
    /// it has decided to succeed (an `Err` after a write fails the whole group).
    pub(crate) async fn write_hot<T, F>(&self, f: F) -> CoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, &mut SendCache) -> CoreResult<T> + Send + 'static,
    {
        self.submit(false, f).await
    }

    async fn submit<T, F>(&self, guarded: bool, f: F) -> CoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, &mut SendCache) -> CoreResult<T> + Send + 'static,
    {
        let sender = self
            .jobs
            .lock()
            .map_err(CoreError::internal)?
            .clone()
            .ok_or_else(|| CoreError::ServiceUnavailable("The store is shutting down.".into()))?;
        let (tx, rx) = oneshot::channel::<CoreResult<T>>();
        let run: Run = Box::new(move |conn, cache| {
            let result = f(conn, cache);
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
            .send(Job { guarded, run })
            .await
            .map_err(|_| CoreError::ServiceUnavailable("The store is shutting down.".into()))?;
        rx.await
            .map_err(|_| CoreError::internal("writer dropped a job"))?
    }

    /// Stops taking jobs, finishes those queued, and waits for the thread to end.
    pub(crate) async fn close(&self) -> CoreResult<()> {
        drop(self.jobs.lock().map_err(CoreError::internal)?.take());
        let thread = self.thread.lock().map_err(CoreError::internal)?.take();
        if let Some(t) = thread {
            tokio::task::spawn_blocking(move || t.join())
                .await
                .map_err(CoreError::internal)?
                .map_err(|_| CoreError::internal("writer thread panicked"))?;
        }
        Ok(())
    }
}

fn run(conn: Connection, mut rx: mpsc::Receiver<Job>, synced: std_mpsc::Sender<Committed>) {
    let mut group: Vec<Job> = Vec::with_capacity(MAX_GROUP);
    let mut cache = SendCache::default();
    while let Some(first) = rx.blocking_recv() {
        group.push(first);
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        if let Some(committed) = commit_group(&conn, &mut cache, &mut group) {
            if let Err(std_mpsc::SendError(delivers)) = synced.send(committed) {
                for d in delivers {
                    d(Some(CoreError::internal("the WAL syncer stopped")));
                }
            }
        }
    }
    drop(synced);
    // Everything acknowledged is already committed; fold the WAL back for a tidy restart.
    if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);") {
        tracing::warn!(error = %e, "checkpoint at shutdown failed");
    }
}

/// Runs and commits one group. Returns the answers to send once the WAL is synced, or `None`
/// when the group was already answered (it failed to begin or commit).
fn commit_group(
    conn: &Connection,
    cache: &mut SendCache,
    group: &mut Vec<Job>,
) -> Option<Committed> {
    // A job that cannot run is dropped with its reply channel; its caller then gets an
    // internal error, never a false acknowledgement.
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        tracing::error!(error = %e, jobs = group.len(), "begin failed; group refused");
        group.clear();
        return None;
    }
    let mut delivers: Vec<Deliver> = Vec::with_capacity(group.len());
    let mut poisoned = false;
    for job in group.drain(..) {
        if job.guarded {
            if let Err(e) = savepoint(conn, "SAVEPOINT job") {
                tracing::error!(error = %e, "savepoint failed; job refused");
                continue;
            }
            let (ok, deliver) = (job.run)(conn, cache);
            let end = if ok {
                savepoint(conn, "RELEASE job")
            } else {
                savepoint(conn, "ROLLBACK TO job").and_then(|_| savepoint(conn, "RELEASE job"))
            };
            if let Err(e) = end {
                tracing::error!(error = %e, "savepoint end failed");
            }
            delivers.push(deliver);
        } else {
            let before = conn.total_changes();
            let (ok, deliver) = (job.run)(conn, cache);
            if !ok && conn.total_changes() != before {
                tracing::error!("a hot job failed after writing; its group is rolled back");
                poisoned = true;
            }
            delivers.push(deliver);
        }
    }
    let outcome = if poisoned {
        Err(CoreError::internal("a write in the same group failed"))
    } else {
        conn.execute_batch("COMMIT")
            .map_err(|e| CoreError::internal(format!("commit: {e}")))
    };
    match outcome {
        Ok(()) => Some(delivers),
        Err(err) => {
            tracing::error!(error = %err, "group not committed");
            let _ = conn.execute_batch("ROLLBACK");
            // Hot jobs may have cached what was just rolled back.
            cache.clear();
            for deliver in delivers {
                deliver(Some(err.clone()));
            }
            None
        }
    }
}

/// Runs a savepoint statement, prepared once.
fn savepoint(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

/// Syncs the WAL for every committed group, sharing one `fdatasync` among all groups that are
/// waiting, then answers them. A failed sync fails the answers: the write may not be durable.
fn sync_loop(wal_path: PathBuf, groups: std_mpsc::Receiver<Committed>) {
    let mut wal: Option<File> = None;
    while let Ok(first) = groups.recv() {
        let mut waiting = vec![first];
        while let Ok(more) = groups.try_recv() {
            waiting.push(more);
        }
        let outcome = sync_wal(&wal_path, &mut wal);
        if let Err(e) = &outcome {
            tracing::error!(error = %e, "WAL sync failed");
        }
        for delivers in waiting {
            for d in delivers {
                d(outcome.as_ref().err().cloned());
            }
        }
    }
}

fn sync_wal(path: &PathBuf, wal: &mut Option<File>) -> Result<(), CoreError> {
    if wal.is_none() {
        *wal = Some(
            File::options()
                .read(true)
                .write(true)
                .open(path)
                .map_err(CoreError::internal)?,
        );
    }
    match wal {
        Some(f) => f
            .sync_data()
            .map_err(|e| CoreError::internal(format!("fdatasync WAL: {e}"))),
        None => Err(CoreError::internal("WAL file not open")),
    }
}
