//! Belfry's realtime fan-out: the [`Hub`] receives every committed domain event (it is the
//! core's `EventBus`), works out which connected sessions may see it, encodes it once and hands
//! the same bytes to each of them.
//!
//! The hub is one task that owns all routing state (who is connected, which channels each
//! connected user is in), so no lock is shared with the request path: `publish` only enqueues.
//! Guarantees, for as long as a session stays open:
//! - every event of a channel the session's user is in reaches it, in the channel's commit
//!   order (events carry their channel's sequence number; the hub holds early arrivals back
//!   until the gap before them fills);
//! - nothing is skipped: a session whose bounded queue is full, or that would miss events for
//!   any other reason (a gap that never fills, the hub's own inbox overflowing), is closed
//!   with a retryable close code, and the client reconnects and re-reads its state.
//!
//! A connecting session registers before it reads its user's memberships, then subscribes
//! with that snapshot; the hub replays what was delivered in between from a bounded ring of
//! recent events, so nothing committed during connect is lost.
//!
//! The hub knows nothing of JSON or websockets: a [`FrameEncoder`] from the wire layer turns
//! an event into frame bytes, and a session's owner writes them to its socket.
//!
//! With several nodes, the [`bus`] plugs in in front of [`Hub::publish_event`]: it carries the
//! store's outbox over NATS to every node's hub, with the events' sequence numbers, and makes
//! the hub unavailable ([`Hub::set_available`]) while it cannot promise to deliver everything.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![warn(missing_docs)]

pub mod bus;
mod ring;
mod state;
mod task;

pub use bus::{Bus, BusConfig, BusError, BusStats};

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use belfry_core::arn::{ChannelKey, UserKey};
use belfry_core::events::{DomainEvent, EventBus, Published};
use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

/// Why the server ends a session: a websocket close code and a short reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloseReason {
    /// The close code (see docs/compat.md for the table).
    pub code: u16,
    /// A short human-readable reason (at most 123 bytes, the websocket limit).
    pub reason: &'static str,
}

impl CloseReason {
    /// 4003: the user was deleted (or its AppInstance was).
    pub const USER_DELETED: CloseReason = CloseReason {
        code: 4003,
        reason: "the AppInstanceUser was deleted",
    };
    /// 4003: a newer socket with the same userArn and sessionId took over.
    pub const REPLACED: CloseReason = CloseReason {
        code: 4003,
        reason: "replaced by a newer session with the same sessionId",
    };
    /// 1013: the session's queue filled up.
    pub const TOO_SLOW: CloseReason = CloseReason {
        code: 1013,
        reason: "the session could not keep up with its events",
    };
    /// 1013: the server could not order or deliver events and dropped its routing state.
    pub const RESYNC: CloseReason = CloseReason {
        code: 1013,
        reason: "events could not be delivered in order; reconnect",
    };
    /// 1013: the session cap is reached.
    pub const FULL: CloseReason = CloseReason {
        code: 1013,
        reason: "the server has reached its session limit",
    };
    /// 1013: the cross-node event bus is unavailable (disconnected, or it dropped events), so
    /// the session could miss events.
    pub const BUS_UNAVAILABLE: CloseReason = CloseReason {
        code: 1013,
        reason: "the event bus is unavailable; reconnect",
    };
    /// 4401: the access key that signed the session's `/connect` was revoked.
    pub const KEY_REVOKED: CloseReason = CloseReason {
        code: 4401,
        reason: "the access key was revoked",
    };
    /// 1001: the server is shutting down.
    pub const GOING_AWAY: CloseReason = CloseReason {
        code: 1001,
        reason: "the server is shutting down",
    };
}

/// Turns an event into the bytes of one websocket text frame, or `None` when the event has no
/// websocket form (read markers, deletions of users). Called once per event, by the hub task.
pub trait FrameEncoder: Send + Sync + 'static {
    /// Encodes `event`.
    fn encode(&self, event: &DomainEvent) -> Option<Bytes>;
}

/// The hub's bounds.
#[derive(Debug, Clone)]
pub struct HubConfig {
    /// Open sessions at most; more are refused with 1013.
    pub max_sessions: usize,
    /// Frames a session may have queued; a session that falls further behind is closed (1013).
    pub queue_frames: usize,
    /// Events waiting for the hub task at most; past that the hub resets every session (1013).
    pub inbox_events: usize,
    /// Recent events kept to catch up sessions that are connecting, at most …
    pub ring_events: usize,
    /// … and at most this many bytes of them (approximately).
    pub ring_bytes: usize,
    /// Events held back per channel while an earlier one is missing.
    pub held_per_channel: usize,
    /// How long a missing event is waited for before the channel's sessions are reset (1013).
    pub gap_timeout: Duration,
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig {
            max_sessions: 100_000,
            queue_frames: 1024,
            // About 2.5 s of events at the highest send rate measured (25k/s).
            inbox_events: 1 << 16,
            ring_events: 1 << 14,
            ring_bytes: 64 << 20,
            held_per_channel: 4096,
            gap_timeout: Duration::from_secs(2),
        }
    }
}

/// Counters, for logs and metrics.
#[derive(Debug)]
pub struct Stats {
    /// Sessions open now.
    pub sessions_open: AtomicUsize,
    /// Frames handed to session queues.
    pub frames_queued: AtomicU64,
    /// Sessions closed because their queue was full.
    pub sessions_too_slow: AtomicU64,
    /// Sessions refused because the cap was reached.
    pub sessions_refused: AtomicU64,
    /// Times the hub's inbox overflowed (every session was reset).
    pub inbox_overflows: AtomicU64,
    /// Channels reset because a missing event never arrived.
    pub gap_resets: AtomicU64,
    /// Sessions closed because more happened while they connected than the ring holds.
    pub connect_resyncs: AtomicU64,
    /// Per event: microseconds from its publication (right after its commit) until the last
    /// of its frames was written to a socket.
    delivered: Mutex<Option<Histogram>>,
}

type Histogram = hdrhistogram::Histogram<u64>;

impl Default for Stats {
    fn default() -> Self {
        Stats {
            sessions_open: AtomicUsize::new(0),
            frames_queued: AtomicU64::new(0),
            sessions_too_slow: AtomicU64::new(0),
            sessions_refused: AtomicU64::new(0),
            inbox_overflows: AtomicU64::new(0),
            gap_resets: AtomicU64::new(0),
            connect_resyncs: AtomicU64::new(0),
            // Up to an hour, 3 significant digits.
            delivered: Mutex::new(Histogram::new_with_bounds(1, 3_600_000_000, 3).ok()),
        }
    }
}

/// Percentiles of the commit-to-last-frame-written time, in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryLatency {
    /// Events fully written.
    pub events: u64,
    /// Median.
    pub p50_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// 99.9th percentile.
    pub p999_us: u64,
    /// Slowest.
    pub max_us: u64,
}

impl Stats {
    fn record_delivered(&self, took: Duration) {
        if let Ok(mut guard) = self.delivered.lock() {
            if let Some(h) = guard.as_mut() {
                h.saturating_record(took.as_micros().max(1) as u64);
            }
        }
    }

    /// The commit-to-last-frame-written percentiles since the last reset; `reset` starts a new
    /// window (for a benchmark run).
    pub fn delivery_latency(&self, reset: bool) -> DeliveryLatency {
        let Ok(mut guard) = self.delivered.lock() else {
            return DeliveryLatency::default();
        };
        let Some(h) = guard.as_mut() else {
            return DeliveryLatency::default();
        };
        let out = DeliveryLatency {
            events: h.len(),
            p50_us: h.value_at_quantile(0.5),
            p99_us: h.value_at_quantile(0.99),
            p999_us: h.value_at_quantile(0.999),
            max_us: h.max(),
        };
        if reset {
            h.reset();
        }
        out
    }
}

/// Counts down an event's frames as sessions write them; the last one records the time since
/// the event was published.
pub(crate) struct Track {
    published: Instant,
    remaining: AtomicUsize,
    stats: Arc<Stats>,
}

impl Track {
    /// Starts with one count, the hub's own, which it gives up once every frame is queued.
    pub(crate) fn new(published: Instant, stats: Arc<Stats>) -> Arc<Track> {
        Arc::new(Track {
            published,
            remaining: AtomicUsize::new(1),
            stats,
        })
    }

    pub(crate) fn add(&self) {
        self.remaining.fetch_add(1, Ordering::AcqRel);
    }

    pub(crate) fn done(&self) {
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.stats.record_delivered(self.published.elapsed());
        }
    }
}

/// One frame queued for one session.
pub struct Outgoing {
    /// The frame's bytes (shared by every recipient).
    pub bytes: Bytes,
    track: Option<Arc<Track>>,
}

impl Outgoing {
    pub(crate) fn new(bytes: Bytes, track: Option<Arc<Track>>) -> Self {
        Outgoing { bytes, track }
    }

    /// Tells the hub the frame is written to the socket.
    pub fn written(self) {
        if let Some(t) = self.track {
            t.done();
        }
    }
}

impl std::fmt::Debug for Outgoing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outgoing")
            .field("bytes", &self.bytes)
            .finish()
    }
}

/// Why a session could not be opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The session cap is reached.
    Full,
    /// The server is shutting down.
    ShuttingDown,
    /// The hub cannot be sure to receive every event now (the cross-node bus is down).
    Unavailable,
}

impl Refused {
    /// The close code to answer with.
    pub fn close_reason(self) -> CloseReason {
        match self {
            Refused::Full => CloseReason::FULL,
            Refused::ShuttingDown => CloseReason::GOING_AWAY,
            Refused::Unavailable => CloseReason::BUS_UNAVAILABLE,
        }
    }
}

/// Unique per opened session (not the client's sessionId).
pub(crate) type SessionNo = u64;

/// What the hub task is told, in order.
pub(crate) enum Command {
    Event(Arc<Published>, Instant),
    Register {
        no: SessionNo,
        user: UserKey,
        access_key: Option<String>,
        session_id: String,
        frames: mpsc::Sender<Outgoing>,
        close: oneshot::Sender<CloseReason>,
    },
    Subscribe {
        no: SessionNo,
        channels: Vec<(ChannelKey, u64)>,
        done: oneshot::Sender<()>,
    },
    Unregister(SessionNo),
    /// The inbox overflowed and an event was dropped: everyone registered before this point
    /// may have missed it.
    Reset,
    /// Someone outside the hub (the bus) says sessions registered before this point may miss
    /// events: close them all.
    ResetAll(CloseReason),
    /// From here on, registrations are accepted (`true`) or closed at once with
    /// `BUS_UNAVAILABLE` (`false`, which also closes every session registered before).
    Availability(bool),
    Shutdown,
}

struct Inner {
    // Unbounded so that `publish` never blocks and registration stays ordered with events;
    // events are bounded by `queued` instead, control messages by the session cap.
    tx: mpsc::UnboundedSender<Command>,
    config: HubConfig,
    queued: AtomicUsize,
    overflowed: AtomicBool,
    closing: AtomicBool,
    /// Read by `open` to refuse early; the hub task's own copy, set in order with
    /// registrations, is what closes a session that got past this check.
    unavailable: AtomicBool,
    /// Keeps the flag and the task's copy changing together.
    availability: Mutex<()>,
    next_no: AtomicU64,
    stats: Arc<Stats>,
}

/// The fan-out hub. Cheap to clone; all clones feed the same task.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

impl Hub {
    /// Starts the hub task on the current tokio runtime.
    pub fn start(config: HubConfig, encoder: Arc<dyn FrameEncoder>) -> Hub {
        let (tx, rx) = mpsc::unbounded_channel();
        let stats = Arc::new(Stats::default());
        let inner = Arc::new(Inner {
            tx,
            config: config.clone(),
            queued: AtomicUsize::new(0),
            overflowed: AtomicBool::new(false),
            closing: AtomicBool::new(false),
            unavailable: AtomicBool::new(false),
            availability: Mutex::new(()),
            next_no: AtomicU64::new(1),
            stats: stats.clone(),
        });
        let hub = Hub { inner };
        tokio::spawn(task::run(hub.clone(), rx, config, encoder, stats));
        hub
    }

    /// Hands an event to the hub (what `EventBus::publish` does). A cross-node broker calls
    /// this with the events it receives from other nodes.
    pub fn publish_event(&self, event: Published) {
        let inner = &self.inner;
        // Nobody to deliver to, and nobody who could need it later: a session that opens after
        // this load reads its memberships after the write behind this event committed, so its
        // snapshot already reflects it. (SeqCst here and in `open` orders the two.)
        if inner.stats.sessions_open.load(Ordering::SeqCst) == 0 {
            return;
        }
        if inner.queued.fetch_add(1, Ordering::AcqRel) >= inner.config.inbox_events {
            inner.queued.fetch_sub(1, Ordering::AcqRel);
            if !inner.overflowed.swap(true, Ordering::AcqRel) {
                inner.stats.inbox_overflows.fetch_add(1, Ordering::Relaxed);
                tracing::error!(
                    limit = inner.config.inbox_events,
                    "realtime hub inbox full; every session will be reset"
                );
                // In order with registrations: whoever registered before the loss is reset.
                let _ = inner.tx.send(Command::Reset);
            }
            return;
        }
        if inner
            .tx
            .send(Command::Event(Arc::new(event), Instant::now()))
            .is_err()
        {
            inner.queued.fetch_sub(1, Ordering::AcqRel);
        }
    }

    /// Opens a session for `user`, registered with the hub before anything else is read, so
    /// that every event published from now on is either delivered or replayed to it once it
    /// subscribes.
    pub fn open(&self, user: UserKey, session_id: String) -> Result<Session, Refused> {
        self.open_signed(user, None, session_id)
    }

    /// [`Hub::open`] for a session whose `/connect` was signed by `access_key`: an
    /// [`DomainEvent::AccessKeyRevoked`] for that key closes it with
    /// [`CloseReason::KEY_REVOKED`].
    pub fn open_signed(
        &self,
        user: UserKey,
        access_key: Option<String>,
        session_id: String,
    ) -> Result<Session, Refused> {
        let inner = &self.inner;
        if inner.closing.load(Ordering::Acquire) {
            return Err(Refused::ShuttingDown);
        }
        if inner.unavailable.load(Ordering::SeqCst) {
            return Err(Refused::Unavailable);
        }
        let open = inner.stats.sessions_open.fetch_add(1, Ordering::SeqCst);
        if open >= inner.config.max_sessions {
            inner.stats.sessions_open.fetch_sub(1, Ordering::AcqRel);
            inner.stats.sessions_refused.fetch_add(1, Ordering::Relaxed);
            return Err(Refused::Full);
        }
        let no = inner.next_no.fetch_add(1, Ordering::Relaxed);
        let (frames_tx, frames) = mpsc::channel(inner.config.queue_frames.max(1));
        let (close_tx, closed) = oneshot::channel();
        let session = Session {
            no,
            hub: self.clone(),
            frames,
            closed,
        };
        let _ = inner.tx.send(Command::Register {
            no,
            user,
            access_key,
            session_id,
            frames: frames_tx,
            close: close_tx,
        });
        Ok(session)
    }

    /// Says whether the hub can count on receiving every event (a cross-node bus is connected).
    /// While unavailable, [`Hub::open`] refuses with [`Refused::Unavailable`]; making it
    /// unavailable also closes every open session with [`CloseReason::BUS_UNAVAILABLE`]. A hub
    /// starts available.
    pub fn set_available(&self, available: bool) {
        let inner = &self.inner;
        let _serial = inner.availability.lock();
        let was_available = !inner.unavailable.swap(!available, Ordering::SeqCst);
        if was_available == available {
            return;
        }
        let _ = inner.tx.send(Command::Availability(available));
    }

    /// Whether [`Hub::open`] accepts sessions (see [`Hub::set_available`]).
    pub fn is_available(&self) -> bool {
        !self.inner.unavailable.load(Ordering::SeqCst)
    }

    /// Closes every session registered before this call with `reason` and drops the routing
    /// state (for when events may have been lost before reaching the hub).
    pub fn reset_all(&self, reason: CloseReason) {
        // Not coalesced: a reset already queued does not cover registrations queued after it.
        let _ = self.inner.tx.send(Command::ResetAll(reason));
    }

    /// Closes every session with 1001 and refuses new ones.
    pub fn shutdown(&self) {
        self.inner.closing.store(true, Ordering::Release);
        let _ = self.inner.tx.send(Command::Shutdown);
    }

    /// Sessions open now.
    pub fn open_sessions(&self) -> usize {
        self.inner.stats.sessions_open.load(Ordering::Acquire)
    }

    /// Events waiting in the hub's inbox for the hub task (bounded by `inbox_events`).
    pub fn inbox_len(&self) -> usize {
        self.inner.queued.load(Ordering::Acquire)
    }

    /// The hub's counters.
    pub fn stats(&self) -> &Stats {
        &self.inner.stats
    }

    /// Called by the task for each event it takes off the inbox.
    pub(crate) fn event_taken(&self) {
        self.inner.queued.fetch_sub(1, Ordering::AcqRel);
    }

    /// Re-arms the overflow alarm once its reset has been carried out.
    pub(crate) fn overflow_handled(&self) {
        self.inner.overflowed.store(false, Ordering::Release);
    }
}

impl EventBus for Hub {
    fn publish(&self, event: Published) {
        self.publish_event(event);
    }
}

/// What a session's owner gets next.
#[derive(Debug)]
pub enum Delivery {
    /// A frame to write.
    Frame(Outgoing),
    /// The hub ended the session: close the socket with this.
    Close(CloseReason),
}

/// One connected session: its queue of frames and the hub's close signal. Dropping it
/// unregisters it.
pub struct Session {
    no: SessionNo,
    hub: Hub,
    frames: mpsc::Receiver<Outgoing>,
    closed: oneshot::Receiver<CloseReason>,
}

impl Session {
    /// Subscribes to the user's channels as read after [`Hub::open`]: each channel with its
    /// event sequence number at the read. Returns once the hub has caught the session up.
    pub async fn subscribe(&mut self, channels: Vec<(ChannelKey, u64)>) {
        let (done, wait) = oneshot::channel();
        let _ = self.hub.inner.tx.send(Command::Subscribe {
            no: self.no,
            channels,
            done,
        });
        let _ = wait.await;
    }

    /// The next frame, or the hub's close. Cancel-safe.
    pub async fn next(&mut self) -> Delivery {
        tokio::select! {
            biased;
            reason = &mut self.closed => Delivery::Close(reason.unwrap_or(CloseReason::GOING_AWAY)),
            frame = self.frames.recv() => match frame {
                Some(f) => Delivery::Frame(f),
                None => Delivery::Close(CloseReason::GOING_AWAY),
            },
        }
    }

    /// A frame already queued, without waiting (for writing several before one flush).
    pub fn try_frame(&mut self) -> Option<Outgoing> {
        self.frames.try_recv().ok()
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.hub
            .inner
            .stats
            .sessions_open
            .fetch_sub(1, Ordering::AcqRel);
        let _ = self.hub.inner.tx.send(Command::Unregister(self.no));
    }
}

#[cfg(test)]
mod tests;
