//! The data directory's permissions: it holds the database, the keys and the generated admin
//! credential, so it is the server user's alone (0700), and so is every file in it (0600) but
//! the development CA's certificate (`tls/ca.pem`, 0644: clients are meant to read it).
//!
//! A directory that already exists is tightened to 0700 too: Belfry's data directory is its
//! own, and a mode left from an older version (or a `mkdir` under umask 022) would let other
//! users list it. The change is logged.

use std::path::Path;

use anyhow::Context;

/// The data directory's mode.
pub const DIR_MODE: u32 = 0o700;

/// Creates `dir` (and its parents) if needed, and makes it 0700.
pub fn private_dir(dir: &Path) -> anyhow::Result<()> {
    if !dir.exists() {
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating directory {}", parent.display()))?;
        }
        let mut new = std::fs::DirBuilder::new();
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut new, DIR_MODE);
        match new.create(dir) {
            Ok(()) => {}
            // Made meanwhile (another process starting on the same directory): checked below.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                return Err(e).with_context(|| format!("creating directory {}", dir.display()))
            }
        }
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .permissions()
            .mode()
            & 0o777;
        if mode != DIR_MODE {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(DIR_MODE))
                .with_context(|| format!("making {} private (0700)", dir.display()))?;
            tracing::info!(dir = %dir.display(), was = format!("{mode:o}"), "directory made private (0700)");
        }
    }
    Ok(())
}

/// The files Belfry writes in its data directory that must be private (the SQLite adapter
/// sees to its own database files).
const PRIVATE_FILES: [&str; 5] = [
    "admin-credentials.toml",
    "page-token.key",
    "tls/ca-key.pem",
    "tls/server-key.pem",
    "tls/server.pem",
];

/// Makes each of Belfry's private files in `dir` that exists 0600 (files written by an older
/// version may be wider; new ones are written 0600).
pub fn tighten(dir: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    for name in PRIVATE_FILES {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join(name);
        match std::fs::metadata(&path) {
            Ok(m) if m.permissions().mode() & 0o777 != 0o600 => {
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                    .with_context(|| format!("making {} private (0600)", path.display()))?;
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}
