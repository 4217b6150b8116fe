//! The single writer with group commit.
//!
//! All writes go through one thread that owns the write connection. It takes every job that is
//! waiting (up to a bound), runs each inside its own SAVEPOINT of one transaction, commits once —
//! one fsync for the whole group — and only then answers each job. So a write is acknowledged
//! only once it is durable, and many concurrent writers share one sync.

use std::thread::JoinHandle;

use belfry_core::{CoreError, CoreResult};
use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

/// Most jobs committed together.
const MAX_GROUP: usize = 512;
/// Jobs waiting for the writer before senders wait too.
const QUEUE: usize = 4096;

type Deliver = Box<dyn FnOnce(Option<CoreError>) + Send>;
type Job = Box<dyn FnOnce(&Connection) -> (bool, Deliver) + Send>;

/// Handle to the writer thread.
pub(crate) struct Writer {
    jobs: std::sync::Mutex<Option<mpsc::Sender<Job>>>,
    thread: std::sync::Mutex<Option<JoinHandle<()>>>,
}

impl Writer {
    /// Starts the writer thread on `conn`.
    pub(crate) fn start(conn: Connection) -> CoreResult<Self> {
        let (tx, rx) = mpsc::channel::<Job>(QUEUE);
        let thread = std::thread::Builder::new()
            .name("belfry-sqlite-writer".into())
            .spawn(move || run(conn, rx))
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
        let sender = self
            .jobs
            .lock()
            .map_err(CoreError::internal)?
            .clone()
            .ok_or_else(|| CoreError::ServiceUnavailable("The store is shutting down.".into()))?;
        let (tx, rx) = oneshot::channel::<CoreResult<T>>();
        let job: Job = Box::new(move |conn| {
            let result = f(conn);
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
            .send(job)
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

fn run(conn: Connection, mut rx: mpsc::Receiver<Job>) {
    let mut group: Vec<Job> = Vec::with_capacity(MAX_GROUP);
    while let Some(first) = rx.blocking_recv() {
        group.push(first);
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        commit_group(&conn, &mut group);
    }
    // Everything acknowledged is already committed; fold the WAL back for a tidy restart.
    if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);") {
        tracing::warn!(error = %e, "checkpoint at shutdown failed");
    }
}

fn commit_group(conn: &Connection, group: &mut Vec<Job>) {
    // A job that cannot run is dropped with its reply channel; its caller then gets an
    // internal error, never a false acknowledgement.
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        tracing::error!(error = %e, jobs = group.len(), "begin failed; group refused");
        group.clear();
        return;
    }
    let mut delivers: Vec<Deliver> = Vec::with_capacity(group.len());
    for job in group.drain(..) {
        if let Err(e) = conn.execute_batch("SAVEPOINT job") {
            tracing::error!(error = %e, "savepoint failed; job refused");
            continue;
        }
        let (ok, deliver) = job(conn);
        let end = if ok {
            "RELEASE job"
        } else {
            "ROLLBACK TO job; RELEASE job"
        };
        if let Err(e) = conn.execute_batch(end) {
            tracing::error!(error = %e, "savepoint end failed");
        }
        delivers.push(deliver);
    }
    let commit_error = conn.execute_batch("COMMIT").err().map(|e| {
        tracing::error!(error = %e, "commit failed");
        let _ = conn.execute_batch("ROLLBACK");
        CoreError::internal(format!("commit: {e}"))
    });
    for deliver in delivers {
        deliver(commit_error.clone());
    }
}
