//! Configuration: flags beat environment variables, which beat the TOML file, which beats the
//! defaults. Also the secrets the server keeps in its data directory (the generated admin
//! credential and the NextToken signing key).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use belfry_core::paging::PageKey;
use belfry_sigv4::SecretKey;
use belfry_wire::ThrottleConfig;
use clap::Args;
use rand::distributions::{Alphanumeric, DistString};
use rand::RngCore;
use serde::{Deserialize, Serialize};

/// `belfry serve` options; each also comes from `BELFRY_*` or the config file.
#[derive(Debug, Clone, Default, Args)]
pub struct ServeArgs {
    /// Address to listen on; it serves plain HTTP and TLS alike [default: 127.0.0.1:7755].
    #[arg(long, env = "BELFRY_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// An extra address that serves TLS only [default: none].
    #[arg(long, env = "BELFRY_TLS_LISTEN")]
    pub tls_listen: Option<SocketAddr>,
    /// host[:port] that GetMessagingSessionEndpoint returns, for clients that reach the server
    /// through a proxy or load balancer [default: the host:port each request was sent to].
    #[arg(long, env = "BELFRY_PUBLIC_ENDPOINT")]
    pub public_endpoint: Option<String>,
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
    #[serde(with = "secret_text")]
    pub secret: SecretKey,
    /// ARN patterns (`*` wildcard) of the AppInstanceUsers this key may act as. Absent: the key
    /// is an admin key.
    pub bearers: Option<Vec<String>>,
}

/// Whether the server speaks TLS.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// TLS with `tls_cert` and `tls_key` when both are given, else with the development CA
    /// that the server makes in `<data-dir>/tls/`.
    #[default]
    Auto,
    /// Plain HTTP only, for a server behind a TLS-terminating proxy.
    Off,
}

/// The config file's shape.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    listen: Option<SocketAddr>,
    tls_listen: Option<SocketAddr>,
    public_endpoint: Option<String>,
    tls: Option<TlsMode>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    tls_names: Option<Vec<String>>,
    max_connections: Option<usize>,
    drain_secs: Option<u64>,
    handshake_timeout_ms: Option<u64>,
    header_read_timeout_secs: Option<u64>,
    body_read_timeout_secs: Option<u64>,
    socket_send_buffer_bytes: Option<usize>,
    ping_interval_secs: Option<u64>,
    max_sessions: Option<usize>,
    session_queue_frames: Option<usize>,
    data_dir: Option<PathBuf>,
    region: Option<String>,
    account_id: Option<String>,
    log_format: Option<String>,
    max_body_bytes: Option<usize>,
    max_clock_skew_secs: Option<u64>,
    memberships_per_user: Option<u64>,
    #[serde(default)]
    access_keys: Vec<KeyConfig>,
    #[serde(default)]
    throttle: ThrottleConfig,
}

/// The resolved configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Listen address: plain HTTP, and TLS unless `tls` is off (told apart by the first byte).
    pub listen: SocketAddr,
    /// An extra TLS-only listen address.
    pub tls_listen: Option<SocketAddr>,
    /// `host[:port]` for GetMessagingSessionEndpoint to return (checked: no scheme, no path).
    pub public_endpoint: Option<String>,
    /// TLS on (`Auto`) or off.
    pub tls: TlsMode,
    /// The operator's certificate chain (PEM); with `tls_key`, replaces the development CA.
    pub tls_cert: Option<PathBuf>,
    /// The operator's private key (PEM).
    pub tls_key: Option<PathBuf>,
    /// Names the development certificate covers besides localhost, 127.0.0.1 and ::1 (a LAN
    /// name or address, to test from a phone).
    pub tls_names: Vec<String>,
    /// Most connections open at once; at the bound the server stops accepting until one closes.
    pub max_connections: usize,
    /// How long shutdown waits for requests and websocket sessions to finish.
    pub drain_secs: u64,
    /// How long a new connection may take to send its first byte and finish its TLS handshake.
    pub handshake_timeout_ms: u64,
    /// How long a connection may take to send a whole request head, from its start or the
    /// end of its previous response (so also the keep-alive idle timeout).
    pub header_read_timeout_secs: u64,
    /// How long a request's whole body may take to arrive once its head has (408 after).
    pub body_read_timeout_secs: u64,
    /// Each connection's kernel send buffer (`SO_SNDBUF`); 0 leaves the kernel's autotuning.
    pub socket_send_buffer_bytes: usize,
    /// Interval between the server's websocket pings; a session that misses them is closed.
    pub ping_interval_secs: u64,
    /// Most websocket sessions open at once.
    pub max_sessions: usize,
    /// Frames a websocket session may have queued before it is closed as too slow.
    pub session_queue_frames: usize,
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
    pub admin_key: Option<(String, SecretKey)>,
    /// Extra keys from the file.
    pub access_keys: Vec<KeyConfig>,
    /// Request rate limits (`[throttle]`, file only).
    pub throttle: ThrottleConfig,
}

impl Config {
    /// Defaults for everything, data in `data_dir` (used by tests and as the base).
    pub fn with_data_dir(data_dir: PathBuf) -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 7755)),
            tls_listen: None,
            public_endpoint: None,
            tls: TlsMode::Auto,
            tls_cert: None,
            tls_key: None,
            tls_names: Vec::new(),
            max_connections: 50_000,
            drain_secs: 10,
            handshake_timeout_ms: 10_000,
            header_read_timeout_secs: 30,
            body_read_timeout_secs: 30,
            socket_send_buffer_bytes: 256 * 1024,
            ping_interval_secs: 30,
            max_sessions: 100_000,
            session_queue_frames: 1024,
            data_dir,
            region: "us-east-1".into(),
            account_id: "000000000000".into(),
            log_format: "human".into(),
            max_body_bytes: 1024 * 1024,
            max_clock_skew_secs: 300,
            memberships_per_user: belfry_core::Limits::default().memberships_per_user,
            admin_key: None,
            access_keys: Vec::new(),
            throttle: ThrottleConfig::default(),
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
        c.tls_listen = args.tls_listen.or(file.tls_listen);
        c.public_endpoint = args.public_endpoint.or(file.public_endpoint);
        c.tls = file.tls.unwrap_or_default();
        c.tls_cert = file.tls_cert;
        c.tls_key = file.tls_key;
        c.tls_names = file.tls_names.unwrap_or_default();
        if let Some(n) = file.max_connections {
            c.max_connections = n;
        }
        if let Some(s) = file.drain_secs {
            c.drain_secs = s;
        }
        if let Some(ms) = file.handshake_timeout_ms {
            c.handshake_timeout_ms = ms;
        }
        if let Some(s) = file.header_read_timeout_secs {
            c.header_read_timeout_secs = s;
        }
        if let Some(s) = file.body_read_timeout_secs {
            c.body_read_timeout_secs = s;
        }
        if let Some(b) = file.socket_send_buffer_bytes {
            c.socket_send_buffer_bytes = b;
        }
        if let Some(s) = file.ping_interval_secs {
            c.ping_interval_secs = s;
        }
        if let Some(n) = file.max_sessions {
            c.max_sessions = n;
        }
        if let Some(n) = file.session_queue_frames {
            c.session_queue_frames = n;
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
        c.throttle = file.throttle;
        let id = std::env::var("BELFRY_ACCESS_KEY_ID")
            .ok()
            .filter(|s| !s.is_empty());
        let secret = std::env::var("BELFRY_SECRET_ACCESS_KEY")
            .ok()
            .filter(|s| !s.is_empty());
        c.admin_key = match (id, secret) {
            (Some(i), Some(s)) => Some((i, SecretKey::new(s))),
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
            if k.id.is_empty() || k.secret.expose().is_empty() {
                bail!("every [[access_keys]] entry needs a non-empty id and secret");
            }
        }
        self.check_tls()?;
        self.throttle.check().map_err(anyhow::Error::msg)?;
        if let Some(e) = &self.public_endpoint {
            check_public_endpoint(e)?;
        }
        for (name, value) in [
            ("max_connections", self.max_connections),
            ("max_sessions", self.max_sessions),
            ("session_queue_frames", self.session_queue_frames),
            ("ping_interval_secs", self.ping_interval_secs as usize),
            ("handshake_timeout_ms", self.handshake_timeout_ms as usize),
            (
                "header_read_timeout_secs",
                self.header_read_timeout_secs as usize,
            ),
            (
                "body_read_timeout_secs",
                self.body_read_timeout_secs as usize,
            ),
        ] {
            if value == 0 {
                bail!("{name} must be at least 1");
            }
        }
        // A deadline is `now + timeout`, which overflows (and panics) for absurd values.
        const DAY_SECS: u64 = 24 * 60 * 60;
        for (name, secs) in [
            ("drain_secs", self.drain_secs),
            ("handshake_timeout_ms", self.handshake_timeout_ms / 1000),
            ("header_read_timeout_secs", self.header_read_timeout_secs),
            ("body_read_timeout_secs", self.body_read_timeout_secs),
            ("ping_interval_secs", self.ping_interval_secs),
            ("max_clock_skew_secs", self.max_clock_skew_secs),
        ] {
            if secs > DAY_SECS {
                bail!("{name} must be at most one day");
            }
        }
        Ok(())
    }

    fn check_tls(&self) -> anyhow::Result<()> {
        if self.tls == TlsMode::Off {
            // Each of these only means something with TLS on; a silently ignored one would
            // leave the operator believing they are served.
            let set = [
                ("tls_listen", self.tls_listen.is_some()),
                ("tls_cert", self.tls_cert.is_some()),
                ("tls_key", self.tls_key.is_some()),
                ("tls_names", !self.tls_names.is_empty()),
            ];
            if let Some((name, _)) = set.iter().find(|(_, on)| *on) {
                bail!("{name} is set but tls = \"off\"");
            }
            return Ok(());
        }
        match (&self.tls_cert, &self.tls_key) {
            (Some(_), None) | (None, Some(_)) => bail!("set both tls_cert and tls_key, or neither"),
            (Some(_), Some(_)) if !self.tls_names.is_empty() => bail!(
                "tls_names names the development certificate's hosts; \
                 your own certificate (tls_cert) carries its own"
            ),
            _ => {}
        }
        for name in &self.tls_names {
            if rustls_pki_types::ServerName::try_from(name.as_str()).is_err() {
                bail!("tls_names entry {name:?} is not a DNS name or an IP address");
            }
        }
        Ok(())
    }
}

/// Checks a public endpoint: `host[:port]`, as GetMessagingSessionEndpoint returns it (the
/// client adds the scheme and the path itself).
pub fn check_public_endpoint(endpoint: &str) -> anyhow::Result<()> {
    if endpoint.is_empty() {
        bail!("public_endpoint is empty; give host[:port]");
    }
    if endpoint.contains("://") {
        bail!("public_endpoint {endpoint:?} has a scheme; give host[:port] only");
    }
    if endpoint.contains(['/', '?', '#', '@']) || endpoint.contains(char::is_whitespace) {
        bail!("public_endpoint {endpoint:?} must be host[:port], without a path or user");
    }
    let authority: http::uri::Authority = endpoint
        .parse()
        .map_err(|_| anyhow::anyhow!("public_endpoint {endpoint:?} is not a valid host[:port]"))?;
    if authority.host().is_empty() {
        bail!("public_endpoint {endpoint:?} has no host");
    }
    let has_port = authority.as_str().len() > authority.host().len();
    if has_port && !matches!(authority.port_u16(), Some(p) if p != 0) {
        bail!("public_endpoint {endpoint:?} has an invalid port");
    }
    Ok(())
}

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
mod secret_text {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_endpoints_are_host_and_port_only() {
        let cases: &[(&str, bool)] = &[
            ("chat.example.com", true),
            ("chat.example.com:8443", true),
            ("127.0.0.1:7755", true),
            ("[::1]:7755", true),
            ("", false),
            ("https://chat.example.com", false),
            ("wss://chat.example.com", false),
            ("chat.example.com/connect", false),
            ("chat.example.com:", false),
            ("chat.example.com:0", false),
            ("chat.example.com:99999", false),
            ("user@chat.example.com", false),
            ("chat example.com", false),
        ];
        for (endpoint, ok) in cases {
            assert_eq!(
                check_public_endpoint(endpoint).is_ok(),
                *ok,
                "{endpoint:?}: {:?}",
                check_public_endpoint(endpoint)
            );
        }
    }

    #[test]
    fn tls_settings_that_cannot_take_effect_are_refused() {
        let addr = SocketAddr::from(([127, 0, 0, 1], 0));
        type Case = (&'static str, fn(&mut Config), Option<&'static str>);
        let cases: &[Case] = &[
            ("defaults", |_| {}, None),
            (
                "names",
                |c| c.tls_names = vec!["phone.local".into(), "10.0.0.2".into()],
                None,
            ),
            (
                "bad name",
                |c| c.tls_names = vec!["not a name".into()],
                Some("tls_names"),
            ),
            (
                "cert alone",
                |c| c.tls_cert = Some("c.pem".into()),
                Some("both"),
            ),
            (
                "key alone",
                |c| c.tls_key = Some("k.pem".into()),
                Some("both"),
            ),
            (
                "own cert and names",
                |c| {
                    c.tls_cert = Some("c.pem".into());
                    c.tls_key = Some("k.pem".into());
                    c.tls_names = vec!["x.local".into()];
                },
                Some("tls_names"),
            ),
            ("off", |c| c.tls = TlsMode::Off, None),
            (
                "off with a TLS address",
                |c| {
                    c.tls = TlsMode::Off;
                    c.tls_listen = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
                },
                Some("tls_listen"),
            ),
            (
                "off with a cert",
                |c| {
                    c.tls = TlsMode::Off;
                    c.tls_cert = Some("c.pem".into());
                    c.tls_key = Some("k.pem".into());
                },
                Some("tls_cert"),
            ),
            (
                "no connections",
                |c| c.max_connections = 0,
                Some("max_connections"),
            ),
            (
                "no queue",
                |c| c.session_queue_frames = 0,
                Some("session_queue_frames"),
            ),
        ];
        for (what, change, want) in cases {
            let mut c = Config::with_data_dir(PathBuf::from("d"));
            c.listen = addr;
            change(&mut c);
            match (c.check(), want) {
                (Ok(()), None) => {}
                (Err(e), Some(w)) => assert!(e.to_string().contains(w), "{what}: {e}"),
                (r, _) => panic!("{what}: {r:?}"),
            }
        }
    }

    #[test]
    fn flags_give_the_tls_address_and_the_public_endpoint_over_the_file() {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            serve: ServeArgs,
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("belfry.toml");
        std::fs::write(
            &path,
            "tls_listen = \"127.0.0.1:1\"\npublic_endpoint = \"file.example.com\"\n",
        )
        .unwrap();
        let file_only = ServeArgs {
            config: Some(path.clone()),
            ..ServeArgs::default()
        };
        let c = Config::resolve(file_only).unwrap();
        assert_eq!(c.tls_listen, Some(SocketAddr::from(([127, 0, 0, 1], 1))));
        assert_eq!(c.public_endpoint.as_deref(), Some("file.example.com"));
        let cli = Cli::try_parse_from([
            "belfry",
            "--config",
            path.to_str().unwrap(),
            "--tls-listen",
            "127.0.0.1:8443",
            "--public-endpoint",
            "chat.example.com:443",
        ])
        .unwrap();
        let c = Config::resolve(cli.serve).unwrap();
        assert_eq!(c.tls_listen, Some(SocketAddr::from(([127, 0, 0, 1], 8443))));
        assert_eq!(c.public_endpoint.as_deref(), Some("chat.example.com:443"));
    }

    /// No secret the server holds can reach a log line through `Debug`.
    #[test]
    fn debug_output_holds_no_secret() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("belfry.toml");
        std::fs::write(
            &path,
            "[[access_keys]]\nid = \"AKIDFILE\"\nsecret = \"file-secret-7f3a\"\n",
        )
        .unwrap();
        let mut c = Config::resolve(ServeArgs {
            config: Some(path),
            data_dir: Some(dir.path().to_path_buf()),
            ..ServeArgs::default()
        })
        .unwrap();
        assert_eq!(c.access_keys[0].secret.expose(), "file-secret-7f3a");
        c.admin_key = Some(("AKIDADMIN".into(), "env-secret-91bc".into()));
        let (admin, made) = admin_credential(dir.path()).unwrap();
        assert!(made);
        let page = page_key(dir.path()).unwrap();
        let printed = format!("{c:?} {admin:?} {page:?}");
        for secret in [
            "file-secret-7f3a",
            "env-secret-91bc",
            admin.secret_access_key.expose(),
            &hex::encode(page.expose()),
            &format!("{:?}", page.expose()),
        ] {
            assert!(!printed.contains(secret), "{secret} in {printed}");
        }
        assert!(printed.contains("AKIDFILE") && printed.contains("[redacted]"));
        // What was written is read back whole.
        assert_eq!(
            admin_credential(dir.path()).unwrap().0.secret_access_key,
            admin.secret_access_key
        );
        assert_eq!(page_key(dir.path()).unwrap(), page);
    }

    #[test]
    fn timeouts_over_a_day_are_refused() {
        let mut c = Config::with_data_dir("/tmp/x".into());
        c.header_read_timeout_secs = u64::MAX;
        let e = c.check().unwrap_err().to_string();
        assert!(e.contains("header_read_timeout_secs"), "{e}");
    }

    #[test]
    fn the_file_takes_every_new_key() {
        let text = r#"
            tls = "off"
            public_endpoint = "chat.example.com"
            max_connections = 10
            drain_secs = 3
            handshake_timeout_ms = 500
            ping_interval_secs = 5
            max_sessions = 7
            session_queue_frames = 64
            header_read_timeout_secs = 4
            body_read_timeout_secs = 6
        "#;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("belfry.toml");
        std::fs::write(&path, text).unwrap();
        let c = Config::resolve(ServeArgs {
            config: Some(path),
            ..ServeArgs::default()
        })
        .unwrap();
        assert_eq!(c.tls, TlsMode::Off);
        assert_eq!(c.public_endpoint.as_deref(), Some("chat.example.com"));
        assert_eq!(
            (c.max_connections, c.drain_secs, c.handshake_timeout_ms),
            (10, 3, 500)
        );
        assert_eq!(
            (c.ping_interval_secs, c.max_sessions, c.session_queue_frames),
            (5, 7, 64)
        );
        assert_eq!(
            (c.header_read_timeout_secs, c.body_read_timeout_secs),
            (4, 6)
        );
    }
}

#[cfg(test)]
mod throttle_tests {
    use super::*;
    use belfry_wire::throttle::Rate;

    fn resolve(text: &str) -> anyhow::Result<Config> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("belfry.toml");
        std::fs::write(&path, text)?;
        Config::resolve(ServeArgs {
            config: Some(path),
            ..ServeArgs::default()
        })
    }

    #[test]
    fn the_throttle_table_overrides_the_defaults_it_names() {
        let c = resolve("").unwrap();
        assert_eq!(c.throttle, ThrottleConfig::default());
        let c = resolve(
            "[throttle]\nadmin_exempt = false\nwrites = { per_sec = 5, burst = 8 }\n\
             [[throttle.keys]]\nid = \"AKIDAPP\"\nconnect = { per_sec = 0.5, burst = 3 }\n",
        )
        .unwrap();
        assert!(c.throttle.enabled && !c.throttle.admin_exempt);
        assert_eq!(c.throttle.writes, Rate::new(5.0, 8));
        assert_eq!(c.throttle.reads, ThrottleConfig::default().reads);
        assert_eq!(c.throttle.keys[0].connect, Some(Rate::new(0.5, 3)));
        for (text, want) in [
            ("[throttle]\nwrite = { per_sec = 5, burst = 8 }\n", "write"),
            (
                "[throttle]\nreads = { per_sec = 0, burst = 8 }\n",
                "reads.per_sec",
            ),
            ("[throttle]\nconnect = { per_sec = 1 }\n", "burst"),
        ] {
            let e = format!("{:#}", resolve(text).unwrap_err());
            assert!(e.contains(want), "{text}: {e}");
        }
    }
}
