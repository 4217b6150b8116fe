//! Background checkpoints: copying the WAL into the database file on a thread of its own, so the
//! writer never pays for it. PASSIVE checkpoints keep up without blocking anyone; should the log
//! still grow past a bound (under unbroken load it may never be fully copied between commits),
//! the writer is asked to RESTART it between two groups, which copies what little is left and
//! starts the log over, so its size stays bounded.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

use super::writer::Signals;

/// WAL size at which a PASSIVE checkpoint runs.
const PASSIVE_AT: u64 = 4 << 20;
/// Log size at which the writer is asked for a RESTART checkpoint.
const RESTART_AT: u64 = 128 << 20;
/// Catch-up passes before a RESTART stop once one copied at most this many frames…
const CATCH_UP_FRAMES: u64 = 256;
/// …or after this many passes.
const MAX_CATCH_UP: usize = 8;
/// How often the WAL size is looked at.
const EVERY: Duration = Duration::from_millis(500);

/// The checkpoint thread and its stop flag.
pub(crate) struct Checkpointer {
    stop: Arc<AtomicBool>,
    thread: std::sync::Mutex<Option<JoinHandle<()>>>,
}

impl Checkpointer {
    /// Starts checkpointing `db_path` (whose WAL is `wal_path`).
    pub(crate) fn start(
        db_path: PathBuf,
        wal_path: PathBuf,
        signals: Arc<Signals>,
    ) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("belfry-sqlite-checkpoint".into())
            .spawn(move || run(db_path, wal_path, flag, &signals))?;
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

fn run(db_path: PathBuf, wal_path: PathBuf, stop: Arc<AtomicBool>, signals: &Signals) {
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
        let Some((frames, mut copied)) = checkpoint(&conn) else {
            continue;
        };
        if frames.saturating_mul(page_size) < RESTART_AT {
            continue;
        }
        // A RESTART holds the writer back while it copies what is left and syncs the database,
        // so first copy until what is left is small: each pass leaves only what was written
        // while it ran.
        for _ in 0..MAX_CATCH_UP {
            match checkpoint(&conn) {
                Some((_, now)) if now.saturating_sub(copied) > CATCH_UP_FRAMES => copied = now,
                _ => break,
            }
        }
        if signals.copying.load(Ordering::Acquire) == 0 {
            signals.restart_wanted.store(true, Ordering::Release);
        }
    }
}

/// Runs a PASSIVE checkpoint; returns the frames in the log and how many of them are copied.
fn checkpoint(conn: &Connection) -> Option<(u64, u64)> {
    match conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
        Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
    }) {
        Ok((log, copied)) => Some((log.max(0) as u64, copied.max(0) as u64)),
        Err(e) => {
            tracing::warn!(error = %e, "checkpoint failed");
            None
        }
    }
}
