//! Background checkpoints: copying the WAL into the database file on a thread of its own, so the
//! writer never pays for it. PASSIVE checkpoints keep up without blocking anyone; should the WAL
//! still grow past a bound (under unbroken load it may never be fully copied between commits), a
//! RESTART checkpoint briefly holds the writer back so the WAL starts over and its size stays
//! bounded.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

/// WAL size at which a PASSIVE checkpoint runs.
const PASSIVE_AT: u64 = 4 << 20;
/// WAL size at which a RESTART checkpoint runs.
const RESTART_AT: u64 = 64 << 20;
/// How often the WAL size is looked at.
const EVERY: Duration = Duration::from_millis(50);

/// The checkpoint thread and its stop flag.
pub(crate) struct Checkpointer {
    stop: Arc<AtomicBool>,
    thread: std::sync::Mutex<Option<JoinHandle<()>>>,
}

impl Checkpointer {
    /// Starts checkpointing `db_path` (whose WAL is `wal_path`).
    pub(crate) fn start(db_path: PathBuf, wal_path: PathBuf) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("belfry-sqlite-checkpoint".into())
            .spawn(move || run(db_path, wal_path, flag))?;
        Ok(Checkpointer {
            stop,
            thread: std::sync::Mutex::new(Some(thread)),
        })
    }

    /// Stops the thread and waits for it.
    pub(crate) fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Ok(mut t) = self.thread.lock() {
            if let Some(t) = t.take() {
                let _ = t.join();
            }
        }
    }
}

fn run(db_path: PathBuf, wal_path: PathBuf, stop: Arc<AtomicBool>) {
    let conn = match Connection::open(&db_path)
        .and_then(|c| c.execute_batch("PRAGMA busy_timeout = 5000;").map(|_| c))
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "checkpointer could not open the database");
            return;
        }
    };
    let page_size: u64 = conn
        .query_row("PRAGMA page_size", [], |r| r.get(0))
        .unwrap_or(4096);
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(EVERY);
        // The file keeps its size when the log starts over, so its size only says whether there
        // was ever much to copy; the frame count the checkpoint reports says how much there is.
        let size = std::fs::metadata(&wal_path).map(|m| m.len()).unwrap_or(0);
        if size < PASSIVE_AT {
            continue;
        }
        let Some(frames) = checkpoint(&conn, "PASSIVE") else {
            continue;
        };
        if frames.saturating_mul(page_size) >= RESTART_AT {
            // A RESTART holds writers back while it copies what is left and syncs the
            // database; a second PASSIVE pass first leaves it only a few milliseconds' worth.
            checkpoint(&conn, "PASSIVE");
            checkpoint(&conn, "RESTART");
        }
    }
}

/// Runs a checkpoint; returns the number of frames in the log.
fn checkpoint(conn: &Connection, mode: &str) -> Option<u64> {
    match conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| {
        r.get::<_, i64>(1)
    }) {
        Ok(frames) => Some(frames.max(0) as u64),
        Err(e) => {
            tracing::warn!(error = %e, mode, "checkpoint failed");
            None
        }
    }
}
