//! Request rates, limited as AWS limits them: a request over its rate gets 429
//! `ThrottledClientException`, which clients retry with backoff.
//!
//! Token buckets, per node. REST requests count against their bearer (`x-amz-chime-bearer`),
//! reads and writes apart; requests without a bearer (the identity APIs), and bearers the key
//! may not act as, count against the access key. A key listed in `[[throttle.keys]]` counts
//! all its requests against itself instead. GetMessagingSessionEndpoint and `/connect` count
//! against the access key, each in its own bucket. The admin key is exempt unless
//! `admin_exempt = false` or it is listed.
//!
//! The checks take the time as an argument (the server passes `Instant::now()`), so the tests
//! drive the clock.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use belfry_core::auth::{Caller, Grant};
use http::Method;
use serde::Deserialize;

use crate::auth::AccessKey;
use crate::ops::Op;

/// A sustained rate and the burst a full bucket allows.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rate {
    /// Tokens added per second.
    pub per_sec: f64,
    /// Tokens a full bucket holds: requests that may come at once after a quiet spell.
    pub burst: u32,
}

impl Rate {
    /// `per_sec` with bursts of `burst`.
    pub const fn new(per_sec: f64, burst: u32) -> Self {
        Rate { per_sec, burst }
    }

    fn check(&self, name: &str) -> Result<(), String> {
        if !(self.per_sec.is_finite() && self.per_sec > 0.0) {
            return Err(format!(
                "{name}.per_sec must be a positive number (got {})",
                self.per_sec
            ));
        }
        if self.burst == 0 {
            return Err(format!("{name}.burst must be at least 1"));
        }
        Ok(())
    }
}

/// The `[throttle]` table of the config file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ThrottleConfig {
    /// Whether any request is throttled.
    pub enabled: bool,
    /// Whether the admin key's requests skip every limit (unless the key is in `keys`).
    pub admin_exempt: bool,
    /// Reads (GET operations) per bearer.
    pub reads: Rate,
    /// Writes (every other operation) per bearer.
    pub writes: Rate,
    /// GetMessagingSessionEndpoint per access key.
    pub session_endpoint: Rate,
    /// Websocket connects (`/connect`) per access key.
    pub connect: Rate,
    /// How long a connect over its key's rate may wait for its turn before it is refused
    /// (1013), in milliseconds: a reconnect storm queues rather than retries.
    pub connect_max_wait_ms: u64,
    /// About how many per-bearer buckets the node keeps.
    pub max_buckets: usize,
    /// Access keys limited as a whole rather than per bearer.
    pub keys: Vec<KeyThrottle>,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        ThrottleConfig {
            enabled: true,
            admin_exempt: true,
            reads: Rate::new(50.0, 100),
            writes: Rate::new(10.0, 20),
            session_endpoint: Rate::new(1000.0, 2000),
            connect: Rate::new(500.0, 1000),
            connect_max_wait_ms: 5_000,
            max_buckets: 100_000,
            keys: Vec::new(),
        }
    }
}

/// One `[[throttle.keys]]` entry: every request signed with key `id` counts against one bucket
/// pair of its own, whatever its bearer. Rates left out are the top-level ones.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyThrottle {
    /// The access key id.
    pub id: String,
    /// Reads with this key.
    pub reads: Option<Rate>,
    /// Writes with this key.
    pub writes: Option<Rate>,
    /// GetMessagingSessionEndpoint with this key.
    pub session_endpoint: Option<Rate>,
    /// Websocket connects with this key.
    pub connect: Option<Rate>,
}

impl ThrottleConfig {
    /// Rejects values the limiter cannot work with, naming the key.
    pub fn check(&self) -> Result<(), String> {
        self.reads.check("throttle.reads")?;
        self.writes.check("throttle.writes")?;
        self.session_endpoint.check("throttle.session_endpoint")?;
        self.connect.check("throttle.connect")?;
        if self.max_buckets == 0 {
            return Err("throttle.max_buckets must be at least 1".into());
        }
        let mut seen = std::collections::HashSet::new();
        for k in &self.keys {
            if !seen.insert(k.id.as_str()) {
                return Err(format!("[[throttle.keys]] lists {:?} twice", k.id));
            }
            let name = format!("[[throttle.keys]] {:?}", k.id);
            for (what, rate) in [
                ("reads", k.reads),
                ("writes", k.writes),
                ("session_endpoint", k.session_endpoint),
                ("connect", k.connect),
            ] {
                if let Some(r) = rate {
                    r.check(&format!("{name} {what}"))?;
                }
            }
        }
        Ok(())
    }
}

/// What a request counts as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// A GET operation.
    Read,
    /// Any other operation.
    Write,
    /// GetMessagingSessionEndpoint (limited per key, like `/connect`).
    SessionEndpoint,
}

impl Class {
    /// The class of `op`, routed with `method`: GET is a read.
    pub fn of(op: Op, method: &Method) -> Class {
        match op {
            Op::GetMessagingSessionEndpoint => Class::SessionEndpoint,
            _ if method == Method::GET => Class::Read,
            _ => Class::Write,
        }
    }
}

/// A tokens-per-second bucket.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn full(rate: Rate, now: Instant) -> Self {
        Bucket {
            tokens: f64::from(rate.burst),
            at: now,
        }
    }

    fn refill(&mut self, rate: Rate, now: Instant) {
        // Callers read the clock before taking the lock, so `now` can be a little behind.
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate.per_sec).min(f64::from(rate.burst));
        self.at = self.at.max(now);
    }

    fn take(&mut self, rate: Rate, now: Instant) -> bool {
        self.refill(rate, now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Takes a token now or reserves one within `max_wait`: returns how long to wait for it,
    /// or `None` (nothing taken) if the next free one is further away. Reserved tokens are
    /// owed (the count goes below zero), so waiters are let in at the rate, in order.
    fn reserve(&mut self, rate: Rate, now: Instant, max_wait: Duration) -> Option<Duration> {
        self.refill(rate, now);
        let after = self.tokens - 1.0;
        let wait = if after >= 0.0 {
            0.0
        } else {
            -after / rate.per_sec
        };
        if wait > max_wait.as_secs_f64() {
            return None;
        }
        self.tokens = after;
        Some(Duration::from_secs_f64(wait))
    }

    fn is_full(&self, rate: Rate, now: Instant) -> bool {
        let mut b = *self;
        b.refill(rate, now);
        b.tokens >= f64::from(rate.burst)
    }
}

/// A principal's read and write buckets.
#[derive(Debug, Clone, Copy)]
struct Pair {
    reads: Bucket,
    writes: Bucket,
}

impl Pair {
    fn full(rates: (Rate, Rate), now: Instant) -> Self {
        Pair {
            reads: Bucket::full(rates.0, now),
            writes: Bucket::full(rates.1, now),
        }
    }

    fn take(&mut self, rates: (Rate, Rate), write: bool, now: Instant) -> bool {
        match write {
            false => self.reads.take(rates.0, now),
            true => self.writes.take(rates.1, now),
        }
    }

    fn is_full(&self, rates: (Rate, Rate), now: Instant) -> bool {
        self.reads.is_full(rates.0, now) && self.writes.is_full(rates.1, now)
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A bucket is two numbers: whatever a panicking holder left is still a valid bucket.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// How often, at most, a full shard looks for idle buckets to drop.
const SWEEP_INTERVAL: Duration = Duration::from_secs(1);

/// One shard of the per-bearer buckets.
#[derive(Default)]
struct Shard {
    buckets: HashMap<u64, Pair>,
    swept: Option<Instant>,
}

/// The per-bearer buckets: sharded so that requests of different bearers seldom wait on one
/// lock, and bounded. Bearers are keyed by a keyed 64-bit hash (SipHash with a random key), so
/// an entry's size does not depend on what a client puts in its header; two bearers colliding
/// would share a bucket, one chance in 10^9 at the default bound.
struct BearerBuckets {
    hasher: RandomState,
    shards: Box<[Mutex<Shard>]>,
    per_shard: usize,
}

/// What became of one bearer's request.
enum Taken {
    Yes,
    No,
    /// The bearer has no bucket and its shard is full of busy ones.
    NoRoom,
}

impl BearerBuckets {
    fn new(max: usize) -> Self {
        // A handful of shards is plenty on a few cores; tiny bounds (tests) keep one, so
        // the bound is exact.
        let shards = (max / 1024).clamp(1, 32);
        BearerBuckets {
            hasher: RandomState::new(),
            shards: (0..shards).map(|_| Mutex::default()).collect(),
            per_shard: max.div_ceil(shards),
        }
    }

    fn take(
        &self,
        bearer: &str,
        rates: (Rate, Rate),
        write: bool,
        now: Instant,
        stats: &ThrottleStats,
    ) -> Taken {
        let h = self.hasher.hash_one(bearer);
        let index = usize::try_from(h % self.shards.len() as u64).unwrap_or(0);
        let Some(shard) = self.shards.get(index) else {
            return Taken::Yes;
        };
        let mut shard = lock(shard);
        if let Some(pair) = shard.buckets.get_mut(&h) {
            return if pair.take(rates, write, now) {
                Taken::Yes
            } else {
                Taken::No
            };
        }
        if shard.buckets.len() >= self.per_shard {
            // A full bucket is the state a new one starts in, so dropping it changes nothing.
            // The sweep walks the shard, so a shard full of busy buckets sweeps at most once
            // a second rather than on every request of a new bearer.
            let due = shard
                .swept
                .is_none_or(|t| now.saturating_duration_since(t) >= SWEEP_INTERVAL);
            if due {
                let before = shard.buckets.len();
                shard.buckets.retain(|_, p| !p.is_full(rates, now));
                shard.swept = Some(now);
                stats
                    .evicted
                    .fetch_add((before - shard.buckets.len()) as u64, Relaxed);
            }
            if shard.buckets.len() >= self.per_shard {
                return Taken::NoRoom;
            }
        }
        let mut pair = Pair::full(rates, now);
        let taken = pair.take(rates, write, now);
        shard.buckets.insert(h, pair);
        if taken {
            Taken::Yes
        } else {
            Taken::No
        }
    }

    fn len(&self) -> usize {
        self.shards.iter().map(|s| lock(s).buckets.len()).sum()
    }
}

/// One access key's limits.
struct KeyLimits {
    /// Skips every limit.
    exempt: bool,
    /// Listed in `[[throttle.keys]]`: every REST request counts against `pair`.
    whole_key: bool,
    /// The read and write rates of `pair`.
    rates: (Rate, Rate),
    /// Requests of this key without a bearer it may act as (or all, with `whole_key`).
    pair: Mutex<Pair>,
    session_endpoint: (Rate, Mutex<Bucket>),
    connect: (Rate, Mutex<Bucket>),
}

/// Counters for `/realtime/stats`.
#[derive(Debug, Default)]
pub struct ThrottleStats {
    /// Reads answered 429.
    pub reads: AtomicU64,
    /// Writes answered 429.
    pub writes: AtomicU64,
    /// GetMessagingSessionEndpoint calls answered 429.
    pub session_endpoint: AtomicU64,
    /// `/connect` attempts closed with 1013.
    pub connects: AtomicU64,
    /// Of `reads` and `writes`: new bearers refused because `max_buckets` busy buckets were kept.
    pub no_room: AtomicU64,
    /// Idle buckets dropped to make room.
    pub evicted: AtomicU64,
}

/// Why a request was refused: the message of its 429.
#[derive(Debug, Clone, PartialEq)]
pub struct Throttled(pub String);

/// The node's rate limiter.
pub struct Throttle {
    enabled: bool,
    reads: Rate,
    writes: Rate,
    max_buckets: usize,
    connect_max_wait: Duration,
    bearers: BearerBuckets,
    keys: HashMap<String, KeyLimits>,
    stats: ThrottleStats,
}

impl Throttle {
    /// Limits as `config` says for the server's `keys`, all buckets full at `now`. Fails if a
    /// `[[throttle.keys]]` entry names no key the server accepts.
    pub fn new(config: &ThrottleConfig, keys: &[AccessKey], now: Instant) -> Result<Self, String> {
        config.check()?;
        if let Some(k) = config
            .keys
            .iter()
            .find(|k| !keys.iter().any(|a| a.id == k.id))
        {
            return Err(format!(
                "[[throttle.keys]] names {:?}, which is not an access key of this server",
                k.id
            ));
        }
        let limits = keys
            .iter()
            .map(|key| {
                let listed = config.keys.iter().find(|k| k.id == key.id);
                let rates = (
                    listed.and_then(|k| k.reads).unwrap_or(config.reads),
                    listed.and_then(|k| k.writes).unwrap_or(config.writes),
                );
                let endpoint = listed
                    .and_then(|k| k.session_endpoint)
                    .unwrap_or(config.session_endpoint);
                let connect = listed.and_then(|k| k.connect).unwrap_or(config.connect);
                let admin = matches!(key.grant, Grant::Admin);
                let limits = KeyLimits {
                    exempt: admin && config.admin_exempt && listed.is_none(),
                    whole_key: listed.is_some(),
                    rates,
                    pair: Mutex::new(Pair::full(rates, now)),
                    session_endpoint: (endpoint, Mutex::new(Bucket::full(endpoint, now))),
                    connect: (connect, Mutex::new(Bucket::full(connect, now))),
                };
                (key.id.clone(), limits)
            })
            .collect();
        Ok(Throttle {
            enabled: config.enabled,
            reads: config.reads,
            writes: config.writes,
            max_buckets: config.max_buckets,
            connect_max_wait: Duration::from_millis(config.connect_max_wait_ms),
            bearers: BearerBuckets::new(config.max_buckets),
            keys: limits,
            stats: ThrottleStats::default(),
        })
    }

    /// Counts one REST request of `caller` (signature already verified) with the bearer header
    /// `bearer`; `Err` if it is over its rate.
    pub fn request(
        &self,
        caller: &Caller,
        bearer: Option<&str>,
        class: Class,
        now: Instant,
    ) -> Result<(), Throttled> {
        let Some(key) = self.limits(caller) else {
            return Ok(());
        };
        let write = match class {
            Class::Read => false,
            Class::Write => true,
            Class::SessionEndpoint => {
                let (rate, bucket) = &key.session_endpoint;
                if lock(bucket).take(*rate, now) {
                    return Ok(());
                }
                self.stats.session_endpoint.fetch_add(1, Relaxed);
                return Err(Throttled(over(
                    "GetMessagingSessionEndpoint calls with one access key",
                    *rate,
                    "throttle.session_endpoint",
                )));
            }
        };
        let counter = match write {
            false => &self.stats.reads,
            true => &self.stats.writes,
        };
        let (what, setting) = match write {
            false => ("reads", "throttle.reads"),
            true => ("writes", "throttle.writes"),
        };
        // A bearer the key may not act as is refused later (403); its bucket is not the
        // key's to drain, so such a request counts against the key.
        let bearer = bearer.filter(|b| !key.whole_key && caller.may_act_as(b));
        let Some(bearer) = bearer else {
            if lock(&key.pair).take(key.rates, write, now) {
                return Ok(());
            }
            counter.fetch_add(1, Relaxed);
            let rate = if write { key.rates.1 } else { key.rates.0 };
            let setting = if key.whole_key {
                "[[throttle.keys]]"
            } else {
                setting
            };
            return Err(Throttled(over(
                &format!("{what} with access key {}", caller.access_key_id),
                rate,
                setting,
            )));
        };
        let rates = (self.reads, self.writes);
        match self.bearers.take(bearer, rates, write, now, &self.stats) {
            Taken::Yes => Ok(()),
            Taken::No => {
                counter.fetch_add(1, Relaxed);
                let rate = if write { self.writes } else { self.reads };
                Err(Throttled(over(
                    &format!("{what} as one bearer"),
                    rate,
                    setting,
                )))
            }
            Taken::NoRoom => {
                counter.fetch_add(1, Relaxed);
                self.stats.no_room.fetch_add(1, Relaxed);
                Err(Throttled(format!(
                    "Rate exceeded: the server is already tracking the request rates of {} \
                     busy bearers (throttle.max_buckets); retry with backoff.",
                    self.max_buckets
                )))
            }
        }
    }

    /// Counts one websocket connect of `caller`: how long it must wait for its turn (zero
    /// within the burst), or `Err` if its turn is more than `connect_max_wait_ms` away.
    pub fn connect(&self, caller: &Caller, now: Instant) -> Result<Duration, Throttled> {
        let Some(key) = self.limits(caller) else {
            return Ok(Duration::ZERO);
        };
        let (rate, bucket) = &key.connect;
        if let Some(wait) = lock(bucket).reserve(*rate, now, self.connect_max_wait) {
            return Ok(wait);
        }
        self.stats.connects.fetch_add(1, Relaxed);
        Err(Throttled(over(
            "connects with one access key",
            *rate,
            "throttle.connect",
        )))
    }

    /// The caller's limits, or `None` if nothing limits it.
    fn limits(&self, caller: &Caller) -> Option<&KeyLimits> {
        if !self.enabled {
            return None;
        }
        // Every verified caller has an entry; a key without one is not limited.
        self.keys.get(&caller.access_key_id).filter(|k| !k.exempt)
    }

    /// The counters.
    pub fn stats(&self) -> &ThrottleStats {
        &self.stats
    }

    /// Per-bearer buckets kept now.
    pub fn buckets(&self) -> usize {
        self.bearers.len()
    }
}

fn over(what: &str, rate: Rate, setting: &str) -> String {
    format!(
        "Rate exceeded: {what} are limited to {} per second, in bursts of up to {} ({setting}); \
         retry with backoff.",
        rate.per_sec, rate.burst
    )
}

#[cfg(test)]
mod tests;
