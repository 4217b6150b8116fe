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
    // (VACUUM INTO fills an empty file), so it is never readable by anyone else. Its name is
    // unique, so a file already there is not ours to fill: an error, not a file to reuse.
    create_new_private(&dest).map_err(|e| {
        StoreError::internal(format!("creating the backup file {}: {e}", dest.display()))
    })?;
    if let Err(e) = conn.execute("VACUUM INTO ?1", [&dest_text]) {
        let _ = std::fs::remove_file(&dest);
        return Err(db(e));
    }
    Ok(dest)
}

/// Creates `path`, which must not exist, empty and readable by its owner only.
fn create_new_private(path: &Path) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path).map(drop)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A file already at the backup's path is refused, not reused (whoever made it could read
    /// the copy).
    #[test]
    fn the_backup_file_is_new_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("backup.db.tmp");
        create_new_private(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let again = create_new_private(&path).unwrap_err();
        assert_eq!(again.kind(), std::io::ErrorKind::AlreadyExists);
    }
}
