//! The writer thread: runs jobs into the open transaction and commits it when the syncer is free.

use std::sync::atomic::Ordering;
use std::sync::mpsc as std_mpsc;

use belfry_core::store::StoreError;
use rusqlite::Connection;
use tokio::sync::mpsc;

use super::{unavailable, Committed, Deliver, Hot, Job, Msg, Signals};

/// Most jobs committed together.
const MAX_GROUP: usize = 512;

/// The open transaction and the answers of the jobs run in it so far.
struct Group {
    delivers: Vec<Deliver>,
    /// A hot job failed after writing: the group must be rolled back.
    poisoned: bool,
}

pub(super) fn run(
    conn: &Connection,
    mut rx: mpsc::Receiver<Msg>,
    synced: std_mpsc::Sender<Committed>,
    signals: &Signals,
    mut hot: Hot,
) {
    let mut open: Option<Group> = None;
    // Blocks only when there is nothing to run; an open group is then waiting for the syncer,
    // whose wake arrives through the same queue.
    while let Some(first) = rx.blocking_recv() {
        let mut next = Some(first);
        while let Some(msg) = next.take() {
            if let Msg::Job(job) = msg {
                if signals.broken.load(Ordering::Acquire) {
                    // Nothing written now could be made durable: refuse without running.
                    let (_, deliver) = (job.run)(None);
                    deliver(None);
                } else {
                    run_job(conn, &mut hot, &mut open, job);
                }
                // Nothing of a poisoned group can commit: answer it now, start afresh.
                if open.as_ref().is_some_and(|g| g.poisoned) {
                    if let Some(group) = open.take() {
                        commit(conn, &mut hot, group, &synced, signals);
                    }
                }
            }
            if open.as_ref().is_some_and(|g| g.delivers.len() >= MAX_GROUP) {
                break;
            }
            next = rx.try_recv().ok();
        }
        metrics::gauge!(super::QUEUE_JOBS).set(rx.len() as f64);
        let full = open.as_ref().is_some_and(|g| g.delivers.len() >= MAX_GROUP);
        if full || !signals.syncing.load(Ordering::Acquire) {
            if let Some(group) = open.take() {
                commit(conn, &mut hot, group, &synced, signals);
                if signals.copying.load(Ordering::Acquire) == 0
                    && signals.restart_wanted.swap(false, Ordering::AcqRel)
                {
                    restart_log(conn);
                }
            }
        }
    }
    if let Some(group) = open.take() {
        commit(conn, &mut hot, group, &synced, signals);
    }
}

/// Folds the WAL back into the database when the store closes, for a tidy restart. Everything
/// acknowledged is already committed.
pub(super) fn close(conn: &Connection) {
    if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);") {
        tracing::warn!(error = %e, "checkpoint at shutdown failed");
    }
}

/// Copies what is left of the log and starts it over, so its size stays bounded under
/// unbroken load. The checkpointer has already copied nearly all of it.
fn restart_log(conn: &Connection) {
    if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(RESTART);") {
        tracing::warn!(error = %e, "restart checkpoint failed");
    }
}

/// Runs one job inside the open transaction, opening one if needed. A job that cannot run is
/// dropped with its reply channel; its caller then gets an internal error, never a false
/// acknowledgement.
fn run_job(conn: &Connection, hot: &mut Hot, open: &mut Option<Group>, job: Job) {
    let group = match open {
        Some(group) => group,
        None => {
            if let Err(e) = statement(conn, "BEGIN IMMEDIATE") {
                tracing::error!(error = %e, "begin failed; job refused");
                return;
            }
            open.insert(Group {
                delivers: Vec::new(),
                poisoned: false,
            })
        }
    };
    if job.guarded {
        if let Err(e) = statement(conn, "SAVEPOINT job") {
            tracing::error!(error = %e, "savepoint failed; job refused");
            return;
        }
        let (ok, deliver) = (job.run)(Some((conn, hot)));
        let end = if ok {
            statement(conn, "RELEASE job")
        } else {
            statement(conn, "ROLLBACK TO job").and_then(|_| statement(conn, "RELEASE job"))
        };
        if let Err(e) = end {
            tracing::error!(error = %e, "savepoint end failed");
            group.poisoned = true;
        }
        group.delivers.push(deliver);
    } else {
        let before = conn.total_changes();
        let (ok, deliver) = (job.run)(Some((conn, hot)));
        if !ok && conn.total_changes() != before {
            tracing::error!("a hot job failed after writing; its group is rolled back");
            group.poisoned = true;
        }
        group.delivers.push(deliver);
    }
    // Some errors (disk full, I/O) make SQLite roll the whole transaction back by itself; the
    // jobs after it would then commit one statement at a time.
    if conn.is_autocommit() {
        tracing::error!("the transaction was rolled back under the group");
        group.poisoned = true;
    }
}

/// Commits the group and hands its answers to the syncer; a group that cannot commit, or that
/// ran while the syncer found the WAL cannot be synced, is rolled back and answered with the
/// error at once.
fn commit(
    conn: &Connection,
    hot: &mut Hot,
    group: Group,
    synced: &std_mpsc::Sender<Committed>,
    signals: &Signals,
) {
    let outcome = if group.poisoned {
        Err(StoreError::internal("a write in the same group failed"))
    } else if signals.broken.load(Ordering::Acquire) {
        Err(unavailable())
    } else {
        hot.tokens.write_slice(conn).and_then(|slice| {
            statement(conn, "COMMIT")
                .map(|()| slice)
                .map_err(|e| StoreError::internal(format!("commit: {e}")))
        })
    };
    match outcome {
        Ok(slice) => hot.tokens.committed(slice),
        Err(err) => {
            tracing::error!(error = %err, "group not committed");
            let _ = conn.execute_batch("ROLLBACK");
            // Hot jobs may have remembered what was just rolled back.
            hot.cache.clear();
            hot.tokens.rolled_back();
            for deliver in group.delivers {
                deliver(Some(err.clone()));
            }
            return;
        }
    }
    signals.syncing.store(true, Ordering::Release);
    if let Err(std_mpsc::SendError(delivers)) = synced.send(group.delivers) {
        for d in delivers {
            d(Some(StoreError::internal("the WAL syncer stopped")));
        }
    }
}

/// Runs a statement without parameters, prepared once.
fn statement(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}
