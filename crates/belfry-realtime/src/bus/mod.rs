//! The cross-node bus: carries committed events from the store's outbox to every node's [`Hub`]
//! over core NATS, for several nodes sharing one database.
//!
//! ```text
//! commit (event in the outbox, same transaction) ─▶ publisher: wake the relay
//! relay (woken, or every relay_tick) ─▶ lease a batch ─▶ publish each to the subject
//!     ─▶ round trip to the server ─▶ ack the batch (not acked: the lease runs out, and this
//!        or another node's relay publishes it again)
//! NON_PERSISTENT messages (never stored) ─▶ publisher ─▶ straight to the subject, best effort
//! subscriber (every node, the committing one too) ─▶ decode ─▶ Hub::publish_event
//! ```
//!
//! Core NATS, not JetStream: the outbox already keeps an event until it is published, and the
//! per-channel sequence numbers let each hub put events back in order, drop duplicates
//! (delivery is at least once) and notice a gap, so a stream's storage and acks would only add
//! latency.
//!
//! A node whose NATS is unreachable still starts: [`Bus::start`] connects in the background,
//! and until the connection is up (and the subscription confirmed by a round trip) the hub
//! refuses sessions ([`crate::Refused::Unavailable`]) and the relay leases nothing. While
//! disconnected, or when the client dropped messages for a slow subscriber, events may be
//! missed silently, so the bus closes every session with
//! [`CloseReason::BUS_UNAVAILABLE`](crate::CloseReason::BUS_UNAVAILABLE) (1013, clients
//! reconnect and re-read) and refuses new ones until it is connected again.

mod link;
mod publisher;
mod receive;
mod relay;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use belfry_core::events::EventBus;
use belfry_core::store::Outbox;
use bytes::Bytes;
use tokio::sync::{mpsc, Notify};
use tokio::task::JoinHandle;

use crate::Hub;

/// How a node reaches the bus, and its bounds.
#[derive(Debug, Clone)]
pub struct BusConfig {
    /// The NATS server (`nats://host:port`; several may be given, comma-separated).
    pub url: String,
    /// The subject every node publishes events to and subscribes to.
    pub subject: String,
    /// Outbox entries leased, published and acknowledged together, at most.
    pub relay_batch: usize,
    /// How often the relay looks at the outbox without being woken (so a dead node's entries
    /// are relayed by a live one once their lease runs out).
    pub relay_tick: Duration,
    /// How long a relay holds the entries it leased; also the bound on publishing them. When a
    /// node dies holding a lease, later events of the same channels can arrive first: hubs wait
    /// for the missing ones up to `HubConfig::gap_timeout`, so unless that exceeds
    /// `lease + relay_tick` their sessions are reset (1013) rather than served late.
    pub lease: Duration,
    /// Messages the client buffers for the subscriber; past that it drops them, which shows
    /// as a slow-consumer event and resets every session.
    pub subscription_capacity: usize,
    /// NON_PERSISTENT messages waiting to be published, at most; more are dropped (counted).
    pub direct_queue: usize,
    /// How often the client pings the server (a connection lost without a FIN is noticed
    /// after two unanswered pings).
    pub ping_interval: Duration,
    /// The longest wait between reconnect attempts (they back off exponentially up to it).
    pub reconnect_max_delay: Duration,
    /// How long a round trip to the server may take (confirming a (re)connection).
    pub round_trip_timeout: Duration,
    /// The connection's name as NATS monitoring shows it.
    pub name: Option<String>,
}

impl Default for BusConfig {
    fn default() -> Self {
        BusConfig {
            url: "nats://127.0.0.1:4222".into(),
            subject: "belfry.events".into(),
            relay_batch: 512,
            relay_tick: Duration::from_millis(250),
            lease: Duration::from_secs(2),
            subscription_capacity: 1 << 16,
            direct_queue: 4096,
            ping_interval: Duration::from_secs(10),
            reconnect_max_delay: Duration::from_secs(2),
            round_trip_timeout: Duration::from_secs(2),
            name: None,
        }
    }
}

/// Why the bus could not start (a configuration problem; an unreachable server is not one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusError(String);

impl std::fmt::Display for BusError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BusError {}

/// The bus's counters at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BusStats {
    /// Outbox entries this node published and acknowledged.
    pub relayed: u64,
    /// Relay rounds that failed (lease, publish, round trip or ack); their entries are
    /// relayed again after the lease.
    pub relay_failures: u64,
    /// Outbox entries too large for the server, acknowledged without being published.
    pub oversized: u64,
    /// NON_PERSISTENT messages published.
    pub direct_sent: u64,
    /// NON_PERSISTENT messages dropped (bus down, or the queue full).
    pub direct_dropped: u64,
    /// Events received from the subject and handed to the hub.
    pub received: u64,
    /// Messages on the subject that were not events.
    pub undecodable: u64,
    /// Times the connection was lost.
    pub disconnects: u64,
    /// Times the client dropped messages for the subscriber.
    pub slow_consumers: u64,
    /// The last problem seen, for `/health` and logs.
    pub last_error: Option<String>,
}

#[derive(Default)]
struct Counters {
    relayed: AtomicU64,
    relay_failures: AtomicU64,
    oversized: AtomicU64,
    direct_sent: AtomicU64,
    direct_dropped: AtomicU64,
    received: AtomicU64,
    undecodable: AtomicU64,
    disconnects: AtomicU64,
    slow_consumers: AtomicU64,
    last_error: Mutex<Option<String>>,
}

fn bump(counter: &AtomicU64, by: u64) {
    counter.fetch_add(by, Ordering::Relaxed);
}

/// What the bus's tasks, the connection's event callback and the publisher share.
struct Shared {
    config: BusConfig,
    subject: async_nats::Subject,
    hub: Hub,
    counters: Counters,
    ready: AtomicBool,
    /// Counts connection losses; a confirmation only marks the bus ready if no loss happened
    /// since it started (held while changing `ready`, so "up" never overwrites a newer "down").
    losses: Mutex<u64>,
    /// The client's connection count when the bus was last confirmed ready: a higher count
    /// while ready is a reconnection whose events were not seen.
    confirmed_connects: AtomicU64,
    wake_relay: Notify,
    wake_link: Notify,
}

impl Shared {
    fn record_error(&self, error: String) {
        if let Ok(mut last) = self.counters.last_error.lock() {
            *last = Some(error);
        }
    }

    fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }
}

/// One node's connection to the bus and its tasks (relay, subscriber, link watcher, direct
/// publisher). Dropping it stops them and makes the hub unavailable (nothing feeds it any more).
pub struct Bus {
    shared: Arc<Shared>,
    direct: mpsc::Sender<Bytes>,
    tasks: Vec<JoinHandle<()>>,
}

impl Bus {
    /// Connects to NATS (in the background, retrying: an unreachable server is not an error),
    /// subscribes to the subject, and starts relaying `outbox` and delivering to `hub`. Until
    /// the bus is connected the hub refuses sessions. Fails only on a configuration error (an
    /// unparsable URL, an invalid subject, a zero bound).
    pub async fn start(
        config: BusConfig,
        outbox: Arc<dyn Outbox>,
        hub: Hub,
    ) -> Result<Bus, BusError> {
        validate(&config)?;
        let shared = Arc::new(Shared {
            subject: async_nats::Subject::from(config.subject.as_str()),
            config,
            hub,
            counters: Counters::default(),
            ready: AtomicBool::new(false),
            losses: Mutex::new(0),
            confirmed_connects: AtomicU64::new(0),
            wake_relay: Notify::new(),
            wake_link: Notify::new(),
        });
        let client = link::options(&shared)
            .connect(shared.config.url.as_str())
            .await
            .map_err(|e| BusError(format!("bus: cannot use {}: {e}", shared.config.url)))?;
        // Queued before anything else on the connection, so the first confirming round trip
        // also confirms the subscription.
        let subscriber = client
            .subscribe(shared.subject.clone())
            .await
            .map_err(|e| BusError(format!("bus: cannot subscribe: {e}")))?;
        // Until the connection is confirmed.
        shared.hub.set_available(false);
        let (direct, direct_rx) = mpsc::channel(shared.config.direct_queue);
        let tasks = vec![
            tokio::spawn(receive::run(shared.clone(), subscriber)),
            tokio::spawn(link::watch(shared.clone(), client.clone())),
            tokio::spawn(relay::run(shared.clone(), client.clone(), outbox)),
            tokio::spawn(publisher::run_direct(shared.clone(), client, direct_rx)),
        ];
        Ok(Bus {
            shared,
            direct,
            tasks,
        })
    }

    /// What the services publish to after a commit (in place of the hub): channel events and
    /// deletions are already in the outbox, so this wakes the relay; NON_PERSISTENT messages
    /// go straight to NATS; read markers go nowhere (they have no websocket form).
    pub fn publisher(&self) -> Arc<dyn EventBus> {
        Arc::new(publisher::BusPublisher::new(
            self.shared.clone(),
            self.direct.clone(),
        ))
    }

    /// Whether the bus is connected and subscribed now (for `/health`).
    pub fn ready(&self) -> bool {
        self.shared.is_ready()
    }

    /// The bus's counters.
    pub fn stats(&self) -> BusStats {
        let c = &self.shared.counters;
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        BusStats {
            relayed: load(&c.relayed),
            relay_failures: load(&c.relay_failures),
            oversized: load(&c.oversized),
            direct_sent: load(&c.direct_sent),
            direct_dropped: load(&c.direct_dropped),
            received: load(&c.received),
            undecodable: load(&c.undecodable),
            disconnects: load(&c.disconnects),
            slow_consumers: load(&c.slow_consumers),
            last_error: c.last_error.lock().ok().and_then(|e| e.clone()),
        }
    }
}

impl Drop for Bus {
    fn drop(&mut self) {
        // The tasks hold the client's handles; once they are gone the connection closes.
        for task in &self.tasks {
            task.abort();
        }
        self.shared.ready.store(false, Ordering::Release);
        self.shared.hub.set_available(false);
    }
}

fn validate(config: &BusConfig) -> Result<(), BusError> {
    let subject = &config.subject;
    if subject.is_empty()
        || subject.starts_with('.')
        || subject.ends_with('.')
        || subject.contains("..")
        || subject
            .chars()
            .any(|c| c.is_whitespace() || c == '*' || c == '>')
    {
        return Err(BusError(format!(
            "bus: the subject {subject:?} is not a plain NATS subject"
        )));
    }
    if config.relay_batch == 0 || config.subscription_capacity == 0 || config.direct_queue == 0 {
        return Err(BusError(
            "bus: relay_batch, subscription_capacity and direct_queue must be at least 1".into(),
        ));
    }
    if config.relay_tick.is_zero() || config.lease.is_zero() {
        return Err(BusError(
            "bus: relay_tick and lease must be positive".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
