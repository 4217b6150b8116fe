//! Online backups: `VACUUM INTO` on a connection of its own copies one read transaction's
//! snapshot of the database into a new file. In WAL mode a reader neither blocks the writer nor
//! sees its later commits, so the server keeps serving and the copy is consistent (the token
//! watermark and the keys below it, settings, everything, as of one commit). While a copy
//! runs, the WAL is not restarted (a RESTART would wait for the copy's snapshot with the writer
//! held): the log grows for that long instead.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use belfry_core::store::{StoreError, StoreResult};
use rusqlite::{Connection, OpenFlags};

use super::db;

/// Copies the database at `source` into a new file beside it (in the data directory, so on
/// the same file system and under the same permissions) and returns its path.
/// `copying` counts the copy in progress, so no log RESTART waits on its snapshot.
pub(super) fn copy(source: &Path, copying: &AtomicUsize) -> StoreResult<PathBuf> {
    copying.fetch_add(1, Ordering::AcqRel);
    let result = copy_counted(source);
    copying.fetch_sub(1, Ordering::AcqRel);
    result
}

fn copy_counted(source: &Path) -> StoreResult<PathBuf> {
    let dir = source.parent().unwrap_or(Path::new("."));
    let dest = dir.join(format!("backup-{}.db.tmp", unique_name()));
    let conn = Connection::open_with_flags(
        source,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(db)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(db)?;
    let dest_text = dest
        .to_str()
        .ok_or_else(|| StoreError::internal("the data directory's path is not UTF-8"))?
        .to_owned();
    // The copy holds every secret the store does: made empty for its owner only first
    // (VACUUM INTO fills an empty file), so it is never readable by anyone else.
    super::create_private(&dest)?;
    // `create_private` leaves a file that exists alone; this one must be new and empty.
    if std::fs::metadata(&dest)
        .map_err(StoreError::internal)?
        .len()
        != 0
    {
        return Err(StoreError::internal(
            "the backup's temporary file is not empty",
        ));
    }
    if let Err(e) = conn.execute("VACUUM INTO ?1", [&dest_text]) {
        let _ = std::fs::remove_file(&dest);
        return Err(db(e));
    }
    Ok(dest)
}

/// A name no other backup running at the same time takes.
fn unique_name() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{}-{nanos}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}
