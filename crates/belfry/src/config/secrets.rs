//! The secrets a single node keeps in its data directory: the generated admin credential and
//! the NextToken signing key (on PostgreSQL they live in the shared store instead), and the
//! file writes that keep them private.

use std::path::Path;

use anyhow::{bail, Context};
use belfry_core::paging::PageKey;
use belfry_sigv4::SecretKey;
use rand::distributions::{Alphanumeric, DistString};
use rand::RngCore;
use serde::{Deserialize, Serialize};

/// The admin credential, as kept in `admin-credentials.toml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AdminCredential {
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key.
    #[serde(with = "secret_text")]
    pub secret_access_key: SecretKey,
}

/// A secret as it is written in the config file and `admin-credentials.toml`: plain text, in a
/// file only its owner reads.
pub(crate) mod secret_text {
    use belfry_sigv4::SecretKey;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(key: &SecretKey, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(key.expose())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SecretKey, D::Error> {
        String::deserialize(d).map(SecretKey::new)
    }
}

const ADMIN_FILE: &str = "admin-credentials.toml";
const PAGE_KEY_FILE: &str = "page-token.key";

/// Loads the generated admin credential, or makes one on first start. Returns it and whether it
/// was just made.
pub fn admin_credential(data_dir: &Path) -> anyhow::Result<(AdminCredential, bool)> {
    let path = data_dir.join(ADMIN_FILE);
    if path.exists() {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let cred = toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        return Ok((cred, false));
    }
    let mut rng = rand::thread_rng();
    let cred = AdminCredential {
        access_key_id: format!(
            "AKIA{}",
            Alphanumeric.sample_string(&mut rng, 16).to_uppercase()
        ),
        secret_access_key: SecretKey::new(Alphanumeric.sample_string(&mut rng, 40)),
    };
    write_private(&path, toml::to_string(&cred)?.as_bytes())?;
    Ok((cred, true))
}

/// Loads the NextToken signing key, or makes one on first start.
pub fn page_key(data_dir: &Path) -> anyhow::Result<PageKey> {
    let path = data_dir.join(PAGE_KEY_FILE);
    let mut key = [0u8; 32];
    if path.exists() {
        let text = std::fs::read_to_string(&path)?;
        let bytes =
            hex::decode(text.trim()).with_context(|| format!("parsing {}", path.display()))?;
        if bytes.len() != 32 {
            bail!("{} must hold 32 bytes of hex", path.display());
        }
        key.copy_from_slice(&bytes);
        return Ok(PageKey::new(key));
    }
    rand::thread_rng().fill_bytes(&mut key);
    write_private(&path, hex::encode(key).as_bytes())?;
    Ok(PageKey::new(key))
}

/// Writes a file readable by its owner only (mode 0600), atomically.
pub(crate) fn write_private(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    write_atomic(path, contents, 0o600)
}

/// Writes a file with exactly `mode` (umask aside: the mode is set after creation, so a
/// certificate meant for everyone is readable by everyone), atomically: a crash leaves the old
/// file or the new one, never half of one.
pub(crate) fn write_atomic(path: &Path, contents: &[u8], mode: u32) -> anyhow::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let tmp = path.with_extension("tmp");
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    opts.mode(0o600);
    let mut f = opts
        .open(&tmp)
        .with_context(|| format!("writing {}", tmp.display()))?;
    #[cfg(unix)]
    f.set_permissions(std::fs::Permissions::from_mode(mode))?;
    #[cfg(not(unix))]
    let _ = mode;
    f.write_all(contents)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}
