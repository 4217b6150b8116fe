//! The open HTTP connections, so that at the connection bound (or out of descriptors) the
//! accept loop can close the one idle the longest and serve a new client instead of leaving it
//! in the backlog. Without this, clients that open connections and send nothing (or a header
//! byte now and then) hold every slot until their timeouts, and nobody else is served.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
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

/// Set in [`Track::state`] once the connection is evicted.
const EVICTED: u32 = 1 << 31;

/// What the accept loop knows of one connection.
#[derive(Debug)]
pub(crate) struct Track {
    /// Requests in flight (whole request in, response not yet out), and the [`EVICTED`] bit:
    /// one atomic, so that eviction (a compare-and-swap from 0) and a request starting cannot
    /// both win.
    state: AtomicU32,
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
            state: AtomicU32::new(0),
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
        // A candidate may start a request between the scan and the swap; then look again.
        for _ in 0..4 {
            let Some((id, track)) = open
                .iter()
                .filter(|(_, t)| t.state.load(Ordering::Acquire) == 0)
                .min_by_key(|(_, t)| t.idle_since_ms.load(Ordering::Relaxed))
                .map(|(id, t)| (*id, t.clone()))
            else {
                return false;
            };
            if track
                .state
                .compare_exchange(0, EVICTED, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                open.remove(&id);
                track.evict.cancel();
                return true;
            }
        }
        false
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
    fn begin_request(&self) -> Arc<RequestMark> {
        let mark = self.tracker.request();
        mark.mark();
        mark
    }
}

impl Drop for ConnHandle {
    fn drop(&mut self) {
        self.tracker.conns.lock().remove(&self.id);
    }
}

/// Marks requests in flight on one connection.
#[derive(Debug, Clone)]
pub(crate) struct Tracker {
    track: Arc<Track>,
    conns: Arc<Conns>,
}

impl Tracker {
    /// A new request on the connection, not yet in flight: it is from [`RequestMark::mark`]
    /// (when its body has fully arrived) until the last handle drops.
    pub(crate) fn request(&self) -> Arc<RequestMark> {
        Arc::new(RequestMark {
            tracker: self.clone(),
            marked: AtomicBool::new(false),
        })
    }
}

/// One request. A request whose body is still arriving is not in flight, so a client
/// trickling a body can be evicted like one trickling its head.
#[derive(Debug)]
pub(crate) struct RequestMark {
    tracker: Tracker,
    marked: AtomicBool,
}

impl RequestMark {
    /// The whole request is in: the connection is not evictable until this drops.
    pub(crate) fn mark(&self) {
        if !self.marked.swap(true, Ordering::AcqRel) {
            self.tracker.track.state.fetch_add(1, Ordering::AcqRel);
        }
    }
}

impl Drop for RequestMark {
    fn drop(&mut self) {
        if self.marked.load(Ordering::Acquire) {
            let track = &self.tracker.track;
            track
                .idle_since_ms
                .store(self.tracker.conns.now_ms(), Ordering::Relaxed);
            track.state.fetch_sub(1, Ordering::AcqRel);
        }
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

    #[test]
    fn a_request_still_receiving_its_body_leaves_the_connection_evictable() {
        let conns = Arc::new(Conns::default());
        let a = conns.register();
        let receiving = a.tracker().request();
        assert!(conns.evict_oldest_idle());
        assert!(a.evicted().is_cancelled());
        // Marking after the eviction does not bring it back.
        receiving.mark();
        assert!(!conns.evict_oldest_idle());
    }
}
