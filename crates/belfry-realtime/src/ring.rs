//! The last few thousand sequenced events, by arrival position, to catch up connecting
//! sessions with what was delivered between their registration and their subscription.

use std::collections::VecDeque;
use std::sync::Arc;

use belfry_core::events::Published;

/// A bounded window of recent events.
pub(crate) struct Ring {
    events: VecDeque<Arc<Published>>,
    /// Position of `events[0]`; positions count every event ever pushed.
    first: u64,
    capacity: usize,
}

impl Ring {
    pub(crate) fn new(capacity: usize) -> Self {
        Ring {
            events: VecDeque::new(),
            first: 0,
            capacity: capacity.max(1),
        }
    }

    /// The position the next pushed event will get.
    pub(crate) fn end(&self) -> u64 {
        self.first + self.events.len() as u64
    }

    pub(crate) fn push(&mut self, event: Arc<Published>) {
        if self.events.len() == self.capacity {
            self.events.pop_front();
            self.first += 1;
        }
        self.events.push_back(event);
    }

    /// Every event from position `from` on, or `None` if some of them were already dropped.
    pub(crate) fn since(&self, from: u64) -> Option<impl Iterator<Item = &Arc<Published>>> {
        if from < self.first {
            return None;
        }
        let skip = usize::try_from(from - self.first).ok()?;
        Some(self.events.iter().skip(skip))
    }

    pub(crate) fn clear(&mut self) {
        self.first = self.end();
        self.events.clear();
    }
}
