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
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(EVERY);
        let size = std::fs::metadata(&wal_path).map(|m| m.len()).unwrap_or(0);
        let mode = if size >= RESTART_AT {
            "RESTART"
        } else if size >= PASSIVE_AT {
            "PASSIVE"
        } else {
            continue;
        };
        if let Err(e) = conn.execute_batch(&format!("PRAGMA wal_checkpoint({mode});")) {
            tracing::warn!(error = %e, mode, "checkpoint failed");
        }
    }
}
