//! The Belfry server as a library: wiring the store, the services and the HTTP face together,
//! so the binary and the integration tests start exactly the same server.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod admin;
pub mod bench;
pub mod config;
pub mod files;
pub mod listen;
pub mod logging;
pub mod metrics;
mod stores;
pub mod tls;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use belfry_core::arn::ArnContext;
use belfry_core::auth::Grant;
use belfry_core::events::{EventBus, Published};
use belfry_core::paging::PageSigner;
use belfry_core::store::{Outbox, Store};
use belfry_core::time::{Clock, SystemClock};
use belfry_core::{Limits, Services};
use belfry_realtime::bus::{Bus, BusConfig};
use belfry_realtime::{Hub, HubConfig};
use belfry_wire::session::frames::WireFrames;
use belfry_wire::session::Realtime;
use belfry_wire::{AccessKey, AppState, Authenticator, CorsOrigins, Throttle};
use listen::{Accept, ListenLimits, ListenStats};
use tokio::net::{TcpListener, TcpSocket};

pub use config::{AdminCredential, Config, MetricsMode};

/// Opens the store, starts the realtime hub and builds the shared state. Returns the admin
/// credential in use and whether it was generated just now. Must run inside a tokio runtime.
pub async fn build_state(
    config: &Config,
) -> anyhow::Result<(Arc<AppState>, AdminCredential, bool)> {
    build_state_wired(config, Wiring::default()).await
}

/// The ports a server is wired to besides its store: the binary takes the defaults, tests
/// substitute their own.
pub struct Wiring {
    /// Where "now" comes from: every timestamp the services write, and the SigV4 window.
    pub clock: Arc<dyn Clock>,
    /// One more bus every domain event is published to (tests record events this way).
    pub events: Option<Arc<dyn EventBus>>,
}

impl Default for Wiring {
    fn default() -> Self {
        Wiring {
            clock: Arc::new(SystemClock),
            events: None,
        }
    }
}

/// Publishes every event to the hub and to one more bus (tests record events this way).
struct Tee(Arc<dyn EventBus>, Arc<dyn EventBus>);

impl EventBus for Tee {
    fn publish(&self, event: Published) {
        self.1.publish(event.clone());
        self.0.publish(event);
    }
}

/// As [`build_state`], wired to `wiring`'s clock and event bus.
pub async fn build_state_wired(
    config: &Config,
    wiring: Wiring,
) -> anyhow::Result<(Arc<AppState>, AdminCredential, bool)> {
    let Wiring {
        clock,
        events: extra,
    } = wiring;
    files::private_dir(&config.data_dir).context("preparing the data directory")?;
    let opened = stores::open(config).await?;
    let store = opened.store.clone();
    let (admin, generated) = match &config.admin_key {
        Some((id, secret)) => (
            AdminCredential {
                access_key_id: id.clone(),
                secret_access_key: secret.clone(),
            },
            false,
        ),
        None => stores::admin_credential(config, &opened).await?,
    };
    let page_key = stores::page_key(config, &opened).await?;
    let mut keys = vec![AccessKey {
        id: admin.access_key_id.clone(),
        secret: admin.secret_access_key.clone(),
        grant: Grant::Admin,
    }];
    for k in &config.access_keys {
        keys.push(AccessKey {
            id: k.id.clone(),
            secret: k.secret.clone(),
            grant: match &k.bearers {
                Some(patterns) => Grant::Bearers(patterns.clone()),
                None => Grant::Admin,
            },
        });
    }
    let arns = ArnContext {
        partition: "aws".into(),
        region: config.region.clone(),
        account: config.account_id.clone(),
    };
    let bus_config = bus_config(config);
    let mut hub_config = HubConfig {
        max_sessions: config.max_sessions,
        queue_frames: config.session_queue_frames,
        ..HubConfig::default()
    };
    if let Some(b) = &bus_config {
        // A node that dies holding a lease delays its entries by up to lease + relay_tick;
        // later events of the same channels wait that long rather than reset their sessions.
        hub_config.gap_timeout = hub_config.gap_timeout.max(2 * (b.lease + b.relay_tick));
    }
    let hub = Hub::start(hub_config, Arc::new(WireFrames::new(arns.clone())));
    let mut probes = opened.probes;
    let exporter: Option<Arc<dyn belfry_wire::metrics::Exporter>> = match config.metrics {
        MetricsMode::Off => None,
        MetricsMode::Main | MetricsMode::Listen(_) => Some(Arc::new(metrics::Exporter::new()?)),
    };
    // Where the services publish after a commit: the bus (which delivers to every node's hub,
    // this one's included), or this node's hub.
    let published: Arc<dyn EventBus> = match (bus_config, &opened.postgres) {
        (Some(b), Some(pg)) => {
            let outbox: Arc<dyn Outbox> = if std::env::var_os("BELFRY_FAULT_NO_RELAY").is_some() {
                tracing::warn!("BELFRY_FAULT_NO_RELAY is set: this node never relays its outbox (fault injection for tests)");
                Arc::new(NoRelay)
            } else {
                Arc::new(pg.clone())
            };
            let bus = Bus::start(b, outbox, hub.clone())
                .await
                .context("starting the event bus")?;
            let publisher = bus.publisher();
            let bus = Arc::new(bus);
            if let Some(e) = &exporter {
                metrics::watch_bus(e.as_ref(), Arc::downgrade(&bus));
            }
            probes.push(Arc::new(BusProbe(bus)));
            publisher
        }
        (Some(_), None) => anyhow::bail!("the bus needs a PostgreSQL store"),
        (None, _) => Arc::new(hub.clone()),
    };
    let services = Services::new(
        store.clone(),
        clock.clone(),
        match extra {
            Some(events) => Arc::new(Tee(published, events)),
            None => published,
        },
        arns,
        PageSigner::new(page_key),
        Limits {
            memberships_per_user: config.memberships_per_user,
            ..Limits::default()
        },
    );
    let throttle = Throttle::new(&config.throttle, &keys, std::time::Instant::now())
        .map_err(anyhow::Error::msg)?;
    let state = AppState {
        services,
        throttle,
        cors: CorsOrigins::parse(&config.cors_origins).map_err(anyhow::Error::msg)?,
        auth: Authenticator::new(
            keys,
            &config.region,
            Duration::from_secs(config.max_clock_skew_secs),
        )
        .with_store(store.clone()),
        max_body: config.max_body_bytes,
        body_timeout: Duration::from_secs(config.body_read_timeout_secs),
        realtime: Realtime {
            hub,
            public_endpoint: config.public_endpoint.clone(),
            ping_interval: Duration::from_secs(config.ping_interval_secs.max(1)),
        },
        clock,
        shutdown: tokio_util::sync::CancellationToken::new(),
        probes,
        metrics: exporter.map(|exporter| belfry_wire::metrics::Metrics {
            exporter,
            on_main: config.metrics == MetricsMode::Main,
        }),
    };
    Ok((Arc::new(state), admin, generated))
}

/// The bus settings, when `config` names a bus.
fn bus_config(config: &Config) -> Option<BusConfig> {
    Some(BusConfig {
        url: config.bus.clone()?,
        subject: config.bus_subject.clone(),
        name: Some(format!("belfry {}", config.listen)),
        ..BusConfig::default()
    })
}

/// An outbox that never yields anything: a node started with `BELFRY_FAULT_NO_RELAY` commits
/// events to the outbox and never publishes them itself, like a node killed between its commits
/// and their publication. Only the tests set it.
struct NoRelay;

#[async_trait::async_trait]
impl Outbox for NoRelay {
    async fn lease_events(
        &self,
        _limit: usize,
        _lease: Duration,
    ) -> belfry_core::store::StoreResult<Vec<belfry_core::store::OutboxEntry>> {
        Ok(Vec::new())
    }
    async fn ack_events(&self, _ids: &[i64]) -> belfry_core::store::StoreResult<()> {
        Ok(())
    }
}

/// `/health`'s view of the bus; it also keeps the bus (and its tasks) alive with the state.
struct BusProbe(Arc<Bus>);

#[async_trait::async_trait]
impl belfry_wire::health::Probe for BusProbe {
    fn name(&self) -> &'static str {
        "bus"
    }
    async fn check(&self) -> Result<String, String> {
        let s = self.0.stats();
        if self.0.ready() {
            Ok(format!(
                "nats (relayed {}, received {}, disconnects {})",
                s.relayed, s.received, s.disconnects
            ))
        } else {
            Err(format!(
                "nats unreachable{}",
                s.last_error.map(|e| format!(": {e}")).unwrap_or_default()
            ))
        }
    }
}

/// A server bound to its addresses with its TLS ready: what [`serve`] runs.
pub struct Server {
    /// The shared state; cancelling `state.shutdown` stops the server.
    pub state: Arc<AppState>,
    /// The `listen` address as bound: plain HTTP, and TLS unless it is off.
    pub addr: SocketAddr,
    /// The `tls_listen` address as bound, if configured.
    pub tls_addr: Option<SocketAddr>,
    /// The development CA's files, when the TLS certificate comes from it.
    pub dev_ca: Option<tls::DevCa>,
    /// The accept loop's counters.
    pub stats: Arc<ListenStats>,
    /// The metrics listener's address as bound, when `metrics` names one.
    pub metrics_addr: Option<SocketAddr>,
    metrics_listener: Option<TcpListener>,
    listeners: Vec<(TcpListener, Accept)>,
    tls: Option<Arc<rustls::ServerConfig>>,
    limits: ListenLimits,
}

/// Pending connections the kernel queues before `accept` (std and mio use 128; the kernel
/// caps it at `net.core.somaxconn`).
const LISTEN_BACKLOG: u32 = 4096;

/// Binds `addr` with a deep accept queue: a burst of reconnecting sessions (a restart, a
/// network blip) overflows a queue of 128, and every dropped SYN costs its client a one-second
/// retransmit.
fn listen_on(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Sets up TLS as `config` says (making or renewing the development certificate if needed)
/// and binds `config.listen` and `config.tls_listen`.
pub async fn bind(config: &Config, state: Arc<AppState>) -> anyhow::Result<Server> {
    let tls = tls::from_config(config)?;
    files::tighten(&config.data_dir)?;
    let main =
        listen_on(config.listen).with_context(|| format!("listening on {}", config.listen))?;
    let addr = main.local_addr()?;
    let mut listeners = vec![(main, Accept::Sniff)];
    let mut tls_addr = None;
    if let Some(a) = config.tls_listen {
        let l = listen_on(a).with_context(|| format!("listening on {a} (tls_listen)"))?;
        tls_addr = Some(l.local_addr()?);
        listeners.push((l, Accept::TlsOnly));
    }
    let stats = Arc::new(ListenStats::default());
    if let Some(m) = &state.metrics {
        metrics::watch_listener(m.exporter.as_ref(), stats.clone());
    }
    let metrics_listener = match config.metrics {
        MetricsMode::Listen(a) => {
            Some(listen_on(a).with_context(|| format!("listening on {a} (metrics)"))?)
        }
        _ => None,
    };
    let metrics_addr = match &metrics_listener {
        Some(l) => Some(l.local_addr()?),
        None => None,
    };
    let (tls, dev_ca) = match tls {
        Some(t) => (Some(t.config), t.dev),
        None => (None, None),
    };
    Ok(Server {
        state,
        addr,
        tls_addr,
        dev_ca,
        stats: stats.clone(),
        metrics_addr,
        metrics_listener,
        listeners,
        tls,
        limits: ListenLimits {
            max_connections: connection_bound(config.max_connections),
            handshake_timeout: Duration::from_millis(config.handshake_timeout_ms),
            header_read_timeout: Duration::from_secs(config.header_read_timeout_secs),
            send_buffer: config.socket_send_buffer_bytes,
            drain: Duration::from_secs(config.drain_secs),
            stats,
        },
    })
}

/// Descriptors kept for everything but client connections: the database and its WAL, the
/// listeners, the runtime's epoll and wakers, certificate files, logs.
const FD_RESERVE: u64 = 64;

/// `max_connections`, lowered to fit the open-file limit: a bound above it would never be
/// reached, and `accept` would fail with EMFILE instead (where the loop can only evict).
fn connection_bound(configured: usize) -> usize {
    let soft = match rlimit::Resource::NOFILE.get() {
        Ok((soft, _)) => soft,
        Err(_) => return configured,
    };
    let fits = usize::try_from(soft.saturating_sub(FD_RESERVE).max(1)).unwrap_or(usize::MAX);
    if fits < configured {
        tracing::warn!(
            max_connections = configured,
            open_file_limit = soft,
            now = fits,
            "max_connections lowered to fit the open-file limit"
        );
    }
    configured.min(fits)
}

/// Serves until `server.state.shutdown` is cancelled; then stops accepting, lets requests in
/// flight finish (at most `drain_secs`), and closes the store (every acknowledged write is
/// already durable; this flushes the WAL).
pub async fn serve(server: Server) -> anyhow::Result<()> {
    let Server {
        state,
        listeners,
        tls,
        limits,
        metrics_listener,
        ..
    } = server;
    let app = belfry_wire::app(state.clone());
    if let Some(l) = metrics_listener {
        // Plain HTTP, `/metrics` only; it stops with the server.
        let scrape = belfry_wire::metrics::router(state.clone());
        let stop = state.shutdown.clone();
        tokio::spawn(async move {
            let served = axum::serve(l, scrape)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await;
            if let Err(error) = served {
                tracing::error!(%error, "metrics listener failed");
            }
        });
    }
    // Sessions are upgraded connections the HTTP drain does not track: the hub closes them
    // (1001) when the token is cancelled, and the store stays open until they are gone.
    // One deadline for requests and sessions, from the moment shutdown is asked for.
    let hub = state.realtime.hub.clone();
    let token = state.shutdown.clone();
    let drain = limits.drain;
    let deadline = tokio::spawn(async move {
        token.cancelled().await;
        hub.shutdown();
        tokio::time::Instant::now() + drain
    });
    listen::serve_http(listeners, app, tls, limits, state.shutdown.clone())
        .await
        .context("serving")?;
    let until = deadline
        .await
        .unwrap_or_else(|_| tokio::time::Instant::now() + drain);
    wait_for_sessions(&state.realtime.hub, until).await;
    let store: &Arc<dyn Store> = state.services.store();
    store
        .close()
        .await
        .map_err(|e| anyhow::anyhow!("closing the store: {e}"))?;
    Ok(())
}

/// Waits until every websocket session has ended, or `until`.
async fn wait_for_sessions(hub: &Hub, until: tokio::time::Instant) {
    while hub.open_sessions() > 0 && tokio::time::Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Raises this process's open-file soft limit to its hard limit (every websocket session is a
/// socket). Returns the soft limit before, the soft limit now and the hard limit.
pub fn raise_nofile_limit() -> std::io::Result<(u64, u64, u64)> {
    let (soft, hard) = rlimit::Resource::NOFILE.get()?;
    let now = rlimit::increase_nofile_limit(hard)?;
    Ok((soft, now, hard))
}
