//! The secrets every node of a deployment shares, the generated admin credential and the
//! NextToken signing key: how they are made, how the files an earlier version kept them in
//! (before they moved into the store) are read, and the file writes that keep secrets private.

use std::path::Path;

use anyhow::{bail, Context};
use belfry_sigv4::SecretKey;
use rand::distributions::{Alphanumeric, DistString};
use rand::RngCore;
use serde::{Deserialize, Serialize};

/// The admin credential, as kept in the store's `settings` (TOML, as the old file held it).
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

/// Where a single node kept these before they moved into the store's `settings` table: read
/// once, on the first start that finds them and no setting; then left in place, unused.
const ADMIN_FILE: &str = "admin-credentials.toml";
const PAGE_KEY_FILE: &str = "page-token.key";

/// A new admin credential: an AWS-shaped key id and a 40-character secret.
pub fn generate_admin_credential() -> AdminCredential {
    let mut rng = rand::thread_rng();
    AdminCredential {
        access_key_id: format!(
            "AKIA{}",
            Alphanumeric.sample_string(&mut rng, 16).to_uppercase()
        ),
        secret_access_key: SecretKey::new(Alphanumeric.sample_string(&mut rng, 40)),
    }
}

/// A new NextToken signing key.
pub fn generate_page_key() -> [u8; 32] {
    let mut key = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut key);
    key
}

/// The admin credential an earlier version kept in `<data_dir>/admin-credentials.toml`, if
/// that file exists.
pub fn legacy_admin_credential(data_dir: &Path) -> anyhow::Result<Option<AdminCredential>> {
    let path = data_dir.join(ADMIN_FILE);
    if !path.exists() {
        return Ok(None);
    }
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let cred = toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    Ok(Some(cred))
}

/// The NextToken key an earlier version kept in `<data_dir>/page-token.key`, if that file
/// exists.
pub fn legacy_page_key(data_dir: &Path) -> anyhow::Result<Option<[u8; 32]>> {
    let path = data_dir.join(PAGE_KEY_FILE);
    if !path.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path)?;
    let bytes = hex::decode(text.trim()).with_context(|| format!("parsing {}", path.display()))?;
    let Ok(key) = <[u8; 32]>::try_from(bytes.as_slice()) else {
        bail!("{} must hold 32 bytes of hex", path.display());
    };
    Ok(Some(key))
}

/// Writes the two files as an earlier version did (for tests of the import).
#[cfg(test)]
pub(crate) fn write_legacy(
    data_dir: &Path,
    cred: &AdminCredential,
    page_key: &[u8; 32],
) -> anyhow::Result<()> {
    write_private(
        &data_dir.join(ADMIN_FILE),
        toml::to_string(cred)?.as_bytes(),
    )?;
    write_private(
        &data_dir.join(PAGE_KEY_FILE),
        hex::encode(page_key).as_bytes(),
    )
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
