//! Configuration: flags beat environment variables, which beat the TOML file, which beats the
//! defaults. The secrets a node keeps in its data directory are in `secrets`.

mod secrets;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod throttle_tests;

use secrets::secret_text;
pub use secrets::{
    generate_admin_credential, generate_page_key, legacy_admin_credential, legacy_page_key,
    AdminCredential,
};
pub(crate) use secrets::{write_atomic, write_private};

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{bail, Context};
use belfry_sigv4::SecretKey;
use belfry_wire::ThrottleConfig;
use clap::Args;
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
    /// Where state lives: `sqlite` (a database in the data directory) or a `postgres://` URL
    /// shared by every node [default: sqlite].
    #[arg(long, env = "BELFRY_STORE")]
    pub store: Option<String>,
    /// A `nats://` URL: fan-out of events between nodes sharing a PostgreSQL store [default:
    /// none, fan-out stays in this process].
    #[arg(long, env = "BELFRY_BUS")]
    pub bus: Option<String>,
    /// Prometheus `GET /metrics`: `main` (on the listen address), `off`, or an address for a
    /// plain-HTTP listener of its own [default: main].
    #[arg(long, env = "BELFRY_METRICS")]
    pub metrics: Option<String>,
}

/// Where `GET /metrics` is served.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum MetricsMode {
    /// On the main listener, next to the API.
    #[default]
    Main,
    /// Not at all.
    Off,
    /// On a plain-HTTP listener of its own (and not on the main one).
    Listen(SocketAddr),
}

impl MetricsMode {
    fn parse(value: &str) -> anyhow::Result<Self> {
        match value {
            "main" => Ok(MetricsMode::Main),
            "off" => Ok(MetricsMode::Off),
            other => other.parse().map(MetricsMode::Listen).map_err(|_| {
                anyhow::anyhow!(
                    "metrics {other:?} must be main, off or an address (127.0.0.1:9100)"
                )
            }),
        }
    }
}

/// Where the server keeps its state.
#[derive(Clone, PartialEq, Eq)]
pub enum StoreKind {
    /// The embedded SQLite database in the data directory (one node).
    Sqlite,
    /// A PostgreSQL database, by URL (any number of nodes).
    Postgres(String),
}

impl std::fmt::Debug for StoreKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreKind::Sqlite => f.write_str("Sqlite"),
            // The URL may carry a password.
            StoreKind::Postgres(url) => write!(f, "Postgres({})", redact_url(url)),
        }
    }
}

/// The URL with any password replaced, for logs.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((userinfo, host)) = rest.split_once('@') else {
        return url.to_owned();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:[redacted]@{host}"),
        None => url.to_owned(),
    }
}

impl StoreKind {
    fn parse(value: &str) -> anyhow::Result<Self> {
        if value == "sqlite" {
            return Ok(StoreKind::Sqlite);
        }
        if value.starts_with("postgres://") || value.starts_with("postgresql://") {
            return Ok(StoreKind::Postgres(value.to_owned()));
        }
        bail!(
            "store {:?} must be sqlite or a postgres:// URL",
            redact_url(value)
        )
    }
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
    store: Option<String>,
    store_max_connections: Option<usize>,
    bus: Option<String>,
    bus_subject: Option<String>,
    metrics: Option<String>,
    #[serde(default)]
    access_keys: Vec<KeyConfig>,
    #[serde(default)]
    throttle: ThrottleConfig,
    cors_origins: Option<Vec<String>>,
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
    /// Where state lives.
    pub store: StoreKind,
    /// PostgreSQL connections this node keeps at most.
    pub store_max_connections: usize,
    /// The NATS URL for cross-node fan-out, if any.
    pub bus: Option<String>,
    /// The NATS subject events travel on (one per deployment sharing a NATS server).
    pub bus_subject: String,
    /// Where `GET /metrics` is served.
    pub metrics: MetricsMode,
    /// Admin credential from the environment, if given.
    pub admin_key: Option<(String, SecretKey)>,
    /// Extra keys from the file.
    pub access_keys: Vec<KeyConfig>,
    /// Request rate limits (`[throttle]`, file only).
    pub throttle: ThrottleConfig,
    /// Origins browser pages may call from (`"*"`: any; file only).
    pub cors_origins: Vec<String>,
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
            store: StoreKind::Sqlite,
            store_max_connections: 16,
            bus: None,
            bus_subject: "belfry.events".into(),
            metrics: MetricsMode::Main,
            admin_key: None,
            access_keys: Vec::new(),
            throttle: ThrottleConfig::default(),
            cors_origins: vec!["*".into()],
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
        if let Some(store) = args.store.or(file.store) {
            c.store = StoreKind::parse(&store)?;
        }
        if let Some(n) = file.store_max_connections {
            c.store_max_connections = n;
        }
        c.bus = args.bus.or(file.bus);
        if let Some(subject) = std::env::var("BELFRY_BUS_SUBJECT")
            .ok()
            .filter(|s| !s.is_empty())
            .or(file.bus_subject)
        {
            c.bus_subject = subject;
        }
        if let Some(m) = args.metrics.or(file.metrics) {
            c.metrics = MetricsMode::parse(&m)?;
        }
        c.access_keys = file.access_keys;
        c.throttle = file.throttle;
        if let Some(origins) = file.cors_origins {
            c.cors_origins = origins;
        }
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
        self.check_scale_out()?;
        self.throttle.check().map_err(anyhow::Error::msg)?;
        belfry_wire::CorsOrigins::parse(&self.cors_origins).map_err(anyhow::Error::msg)?;
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

    fn check_scale_out(&self) -> anyhow::Result<()> {
        if let Some(bus) = &self.bus {
            if !bus.starts_with("nats://") {
                bail!("bus {:?} must be a nats:// URL", redact_url(bus));
            }
            if self.store == StoreKind::Sqlite {
                bail!(
                    "bus is set but the store is sqlite: only one node can use a SQLite store; \
                     give every node the same --store postgres://… URL"
                );
            }
        }
        let subject_ok = !self.bus_subject.is_empty()
            && self.bus_subject.len() <= 200
            && self.bus_subject.split('.').all(|t| {
                !t.is_empty()
                    && t.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            });
        if !subject_ok {
            bail!(
                "bus_subject {:?} must be dot-separated tokens of letters, digits, '-' and '_'",
                self.bus_subject
            );
        }
        if !(1..=1000).contains(&self.store_max_connections) {
            bail!("store_max_connections must be between 1 and 1000");
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
