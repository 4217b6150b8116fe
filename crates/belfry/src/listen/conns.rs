//! The open HTTP connections, so that at the connection bound (or out of descriptors) the
//! accept loop can close the one idle the longest and serve a new client instead of leaving it
//! in the backlog. Without this, clients that open connections and send nothing (or a header
//! byte now and then) hold every slot until their timeouts, and nobody else is served.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use tokio_util::sync::CancellationToken;

/// Every open connection, by id.
#[derive(Debug)]
pub(crate) struct Conns {
    epoch: Instant,
    next_id: AtomicU64,
    open: Mutex<HashMap<u64, Arc<Track>>>,
}

/// What the accept loop knows of one connection.
#[derive(Debug)]
pub(crate) struct Track {
    /// Requests being answered now; a connection with one is never evicted.
    in_flight: AtomicU32,
    /// When the connection last finished a request (or was accepted), in ms since `epoch`.
    idle_since_ms: AtomicU64,
    /// Cancelled to evict the connection.
    pub(crate) evict: CancellationToken,
}

impl Default for Conns {
    fn default() -> Self {
        Conns {
            epoch: Instant::now(),
            next_id: AtomicU64::new(0),
            open: Mutex::new(HashMap::new()),
        }
    }
}

impl Conns {
    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// Registers a new connection; it is forgotten when the handle drops.
    pub(crate) fn register(self: &Arc<Self>) -> ConnHandle {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let track = Arc::new(Track {
            in_flight: AtomicU32::new(0),
            idle_since_ms: AtomicU64::new(self.now_ms()),
            evict: CancellationToken::new(),
        });
        self.lock().insert(id, track.clone());
        ConnHandle {
            id,
            tracker: Tracker {
                track,
                conns: self.clone(),
            },
        }
    }

    /// Evicts the connection idle the longest (no request in flight), if any. Returns whether
    /// one was evicted. O(open connections), but it runs only at the bound.
    pub(crate) fn evict_oldest_idle(&self) -> bool {
        let mut open = self.lock();
        let oldest = open
            .iter()
            .filter(|(_, t)| t.in_flight.load(Ordering::Acquire) == 0)
            .min_by_key(|(_, t)| t.idle_since_ms.load(Ordering::Relaxed))
            .map(|(id, _)| *id);
        match oldest.and_then(|id| open.remove(&id)) {
            Some(track) => {
                track.evict.cancel();
                true
            }
            None => false,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Arc<Track>>> {
        // The map holds no invariant a panic elsewhere could break half-way.
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }
}

/// One registered connection; dropping it forgets the connection.
#[derive(Debug)]
pub(crate) struct ConnHandle {
    id: u64,
    tracker: Tracker,
}

impl ConnHandle {
    /// Cancelled when the accept loop evicts this connection.
    pub(crate) fn evicted(&self) -> &CancellationToken {
        &self.tracker.track.evict
    }

    /// What the connection's request service uses to mark requests in flight.
    pub(crate) fn tracker(&self) -> Tracker {
        self.tracker.clone()
    }

    #[cfg(test)]
    fn begin_request(&self) -> RequestGuard {
        self.tracker.begin_request()
    }
}

/// Marks requests in flight on one connection.
#[derive(Debug, Clone)]
pub(crate) struct Tracker {
    track: Arc<Track>,
    conns: Arc<Conns>,
}

impl Tracker {
    /// Marks a request in flight until the returned guard drops.
    pub(crate) fn begin_request(&self) -> RequestGuard {
        self.track.in_flight.fetch_add(1, Ordering::AcqRel);
        RequestGuard {
            track: self.track.clone(),
            conns: self.conns.clone(),
        }
    }
}

impl Drop for ConnHandle {
    fn drop(&mut self) {
        self.tracker.conns.lock().remove(&self.id);
    }
}

/// A request in flight on a connection.
#[derive(Debug)]
pub(crate) struct RequestGuard {
    track: Arc<Track>,
    conns: Arc<Conns>,
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        self.track
            .idle_since_ms
            .store(self.conns.now_ms(), Ordering::Relaxed);
        self.track.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connection_idle_longest_goes_first_and_busy_ones_never() {
        let conns = Arc::new(Conns::default());
        let oldest = conns.register();
        std::thread::sleep(std::time::Duration::from_millis(5));
        let busy = conns.register();
        let _request = busy.begin_request();
        std::thread::sleep(std::time::Duration::from_millis(5));
        let newest = conns.register();

        assert!(conns.evict_oldest_idle());
        assert!(oldest.evicted().is_cancelled());
        assert!(!busy.evicted().is_cancelled());
        assert!(!newest.evicted().is_cancelled());
        assert!(conns.evict_oldest_idle());
        assert!(newest.evicted().is_cancelled());
        // Only the busy one is left, and it is never chosen.
        assert!(!conns.evict_oldest_idle());
        assert!(!busy.evicted().is_cancelled());
        assert_eq!(conns.len(), 1);
        drop(busy);
        assert_eq!(conns.len(), 0);
        drop((oldest, newest));
    }

    #[test]
    fn a_finished_request_restarts_the_idle_clock() {
        let conns = Arc::new(Conns::default());
        let a = conns.register();
        std::thread::sleep(std::time::Duration::from_millis(5));
        let b = conns.register();
        std::thread::sleep(std::time::Duration::from_millis(5));
        drop(a.begin_request());
        // `a` was accepted first but has just been used: `b` is now idle the longest.
        assert!(conns.evict_oldest_idle());
        assert!(b.evicted().is_cancelled());
        assert!(!a.evicted().is_cancelled());
    }
}
