//! The syncer thread: makes committed groups durable, then answers them.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::mpsc as std_mpsc;

use belfry_core::store::StoreError;
use tokio::sync::mpsc;

use super::{unavailable, Committed, Msg, Signals};

/// Syncs the WAL for every committed group, sharing one `fdatasync` among all groups that are
/// waiting, then answers them. A failed sync fails the answers: the write may not be durable.
pub(super) fn run(
    wal_path: PathBuf,
    groups: std_mpsc::Receiver<Committed>,
    signals: &Signals,
    wake: mpsc::WeakSender<Msg>,
) {
    let mut wal: Option<File> = None;
    while let Ok(first) = groups.recv() {
        let mut waiting = vec![first];
        while let Ok(more) = groups.try_recv() {
            waiting.push(more);
        }
        // After a failed fdatasync the kernel may have dropped the unwritten pages and a later
        // sync can succeed without them, so one failure fails every later answer too, and the
        // writer stops writing: the store takes no write until it is restarted (and recovers
        // from the WAL on disk). Set before answering, so a write sent after the answer is
        // refused.
        let outcome = if signals.broken.load(Ordering::Acquire) {
            Err(unavailable())
        } else {
            sync_wal(&wal_path, &mut wal)
        };
        if let Err(e) = &outcome {
            if !signals.broken.swap(true, Ordering::AcqRel) {
                tracing::error!(error = %e, "WAL sync failed; no write is acknowledged until restart");
            }
        }
        // The writer holds its next group open until now; let it commit while we answer.
        signals.syncing.store(false, Ordering::Release);
        if let Some(writer) = wake.upgrade() {
            // A full queue means the writer is busy and will look at the flag anyway.
            let _ = writer.try_send(Msg::Wake);
        }
        for delivers in waiting {
            for d in delivers {
                d(outcome.as_ref().err().cloned());
            }
        }
    }
}

fn sync_wal(path: &Path, wal: &mut Option<File>) -> Result<(), StoreError> {
    if wal.is_none() {
        *wal = Some(
            File::options()
                .read(true)
                .write(true)
                .open(path)
                .map_err(StoreError::internal)?,
        );
    }
    match wal {
        Some(f) => f
            .sync_data()
            .map_err(|e| StoreError::internal(format!("fdatasync WAL: {e}"))),
        None => Err(StoreError::internal("WAL file not open")),
    }
}
