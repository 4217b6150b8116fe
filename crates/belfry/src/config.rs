//! Configuration: flags beat environment variables, which beat the TOML file, which beats the
//! defaults. Also the secrets the server keeps in its data directory (the generated admin
//! credential and the NextToken signing key).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::Args;
use rand::distributions::{Alphanumeric, DistString};
use rand::RngCore;
use serde::{Deserialize, Serialize};

/// `belfry serve` options; each also comes from `BELFRY_*` or the config file.
#[derive(Debug, Clone, Default, Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:7755].
    #[arg(long, env = "BELFRY_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Directory for the database and the server's keys [default: ./belfry-data].
    #[arg(long, env = "BELFRY_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// AWS region the server answers as; clients must sign for it [default: us-east-1].
    #[arg(long, env = "BELFRY_REGION")]
    pub region: Option<String>,
    /// 12-digit account id in the ARNs the server makes [default: 000000000000].
    #[arg(long, env = "BELFRY_ACCOUNT_ID")]
    pub account_id: Option<String>,
    /// TOML configuration file.
    #[arg(long, env = "BELFRY_CONFIG")]
    pub config: Option<PathBuf>,
    /// Log format [default: human].
    #[arg(long, env = "BELFRY_LOG_FORMAT", value_parser = ["human", "json"])]
    pub log_format: Option<String>,
}

/// An extra access key from the config file, limited to acting as some bearers.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct KeyConfig {
    /// Access key id.
    pub id: String,
    /// Secret access key.
    pub secret: String,
    /// ARN patterns (`*` wildcard) of the AppInstanceUsers this key may act as. Absent: the key
    /// is an admin key.
    pub bearers: Option<Vec<String>>,
}

/// The config file's shape.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    region: Option<String>,
    account_id: Option<String>,
    log_format: Option<String>,
    max_body_bytes: Option<usize>,
    max_clock_skew_secs: Option<u64>,
    memberships_per_user: Option<u64>,
    #[serde(default)]
    access_keys: Vec<KeyConfig>,
}

/// The resolved configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Listen address.
    pub listen: SocketAddr,
    /// Data directory.
    pub data_dir: PathBuf,
    /// Region.
    pub region: String,
    /// Account id.
    pub account_id: String,
    /// `human` or `json`.
    pub log_format: String,
    /// Largest request body.
    pub max_body_bytes: usize,
    /// Allowed signature clock skew.
    pub max_clock_skew_secs: u64,
    /// Channel memberships one user may hold (a backend user that creates every channel is a
    /// member of each).
    pub memberships_per_user: u64,
    /// Admin credential from the environment, if given.
    pub admin_key: Option<(String, String)>,
    /// Extra keys from the file.
    pub access_keys: Vec<KeyConfig>,
}

impl Config {
    /// Defaults for everything, data in `data_dir` (used by tests and as the base).
    pub fn with_data_dir(data_dir: PathBuf) -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 7755)),
            data_dir,
            region: "us-east-1".into(),
            account_id: "000000000000".into(),
            log_format: "human".into(),
            max_body_bytes: 1024 * 1024,
            max_clock_skew_secs: 300,
            memberships_per_user: belfry_core::Limits::default().memberships_per_user,
            admin_key: None,
            access_keys: Vec::new(),
        }
    }

    /// Resolves flags/env (`args`), the file they name, and the admin key environment.
    pub fn resolve(args: ServeArgs) -> anyhow::Result<Self> {
        let file: FileConfig = match &args.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading config file {}", path.display()))?;
                toml::from_str(&text)
                    .with_context(|| format!("parsing config file {}", path.display()))?
            }
            None => FileConfig::default(),
        };
        let mut c = Config::with_data_dir(
            args.data_dir
                .or(file.data_dir)
                .unwrap_or_else(|| PathBuf::from("./belfry-data")),
        );
        if let Some(l) = args.listen.or(file.listen) {
            c.listen = l;
        }
        if let Some(r) = args.region.or(file.region) {
            c.region = r;
        }
        if let Some(a) = args.account_id.or(file.account_id) {
            c.account_id = a;
        }
        if let Some(f) = args.log_format.or(file.log_format) {
            c.log_format = f;
        }
        if let Some(m) = file.max_body_bytes {
            c.max_body_bytes = m;
        }
        if let Some(s) = file.max_clock_skew_secs {
            c.max_clock_skew_secs = s;
        }
        if let Some(n) = file.memberships_per_user {
            c.memberships_per_user = n;
        }
        c.access_keys = file.access_keys;
        let id = std::env::var("BELFRY_ACCESS_KEY_ID")
            .ok()
            .filter(|s| !s.is_empty());
        let secret = std::env::var("BELFRY_SECRET_ACCESS_KEY")
            .ok()
            .filter(|s| !s.is_empty());
        c.admin_key = match (id, secret) {
            (Some(i), Some(s)) => Some((i, s)),
            (None, None) => None,
            _ => bail!("set both BELFRY_ACCESS_KEY_ID and BELFRY_SECRET_ACCESS_KEY, or neither"),
        };
        c.check()?;
        Ok(c)
    }

    /// Rejects values the server cannot run with.
    pub fn check(&self) -> anyhow::Result<()> {
        let region_ok = !self.region.is_empty()
            && self.region.len() <= 63
            && self
                .region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !region_ok {
            bail!(
                "region {:?} is not a valid region name (lowercase letters, digits, '-')",
                self.region
            );
        }
        if self.account_id.len() != 12 || !self.account_id.bytes().all(|b| b.is_ascii_digit()) {
            bail!("account id {:?} must be 12 digits", self.account_id);
        }
        if !matches!(self.log_format.as_str(), "human" | "json") {
            bail!("log format {:?} must be human or json", self.log_format);
        }
        for k in &self.access_keys {
            if k.id.is_empty() || k.secret.is_empty() {
                bail!("every [[access_keys]] entry needs a non-empty id and secret");
            }
        }
        Ok(())
    }
}

/// The admin credential, as kept in `admin-credentials.toml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AdminCredential {
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: String,
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
        secret_access_key: Alphanumeric.sample_string(&mut rng, 40),
    };
    write_private(&path, toml::to_string(&cred)?.as_bytes())?;
    Ok((cred, true))
}

/// Loads the NextToken signing key, or makes one on first start.
pub fn page_key(data_dir: &Path) -> anyhow::Result<[u8; 32]> {
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
        return Ok(key);
    }
    rand::thread_rng().fill_bytes(&mut key);
    write_private(&path, hex::encode(key).as_bytes())?;
    Ok(key)
}

/// Writes a file readable by its owner only (mode 0600), atomically.
fn write_private(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    opts.mode(0o600);
    let mut f = opts
        .open(&tmp)
        .with_context(|| format!("writing {}", tmp.display()))?;
    f.write_all(contents)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}
