//! The last few thousand sequenced events, by arrival position, to catch up connecting
//! sessions with what was delivered between their registration and their subscription.

use std::collections::VecDeque;
use std::sync::Arc;

use belfry_core::events::Published;

/// A bounded window of recent events, by count and by (approximate) bytes.
pub(crate) struct Ring {
    events: VecDeque<(Arc<Published>, usize)>,
    /// Position of `events[0]`; positions count every event ever pushed.
    first: u64,
    capacity: usize,
    max_bytes: usize,
    bytes: usize,
}

/// About what an event holds in memory.
fn approx_size(e: &Published) -> usize {
    use belfry_core::events::DomainEvent as E;
    let text = match &e.event {
        E::MessageCreated(m)
        | E::MessageUpdated(m)
        | E::MessageRedacted(m)
        | E::MessageDeleted(m) => {
            m.content.as_ref().map_or(0, String::len)
                + m.metadata.as_ref().map_or(0, String::len)
                + m.attributes
                    .iter()
                    .map(|(k, v)| k.len() + v.iter().map(String::len).sum::<usize>())
                    .sum::<usize>()
        }
        E::MembershipsBatchCreated { members, .. } => members.len() * 128,
        _ => 0,
    };
    512 + text
}

impl Ring {
    pub(crate) fn new(capacity: usize, max_bytes: usize) -> Self {
        Ring {
            events: VecDeque::new(),
            first: 0,
            capacity: capacity.max(1),
            max_bytes: max_bytes.max(1),
            bytes: 0,
        }
    }

    /// The position the next pushed event will get.
    pub(crate) fn end(&self) -> u64 {
        self.first + self.events.len() as u64
    }

    pub(crate) fn push(&mut self, event: Arc<Published>) {
        let size = approx_size(&event);
        while !self.events.is_empty()
            && (self.events.len() >= self.capacity || self.bytes + size > self.max_bytes)
        {
            if let Some((_, dropped)) = self.events.pop_front() {
                self.bytes -= dropped;
            }
            self.first += 1;
        }
        self.bytes += size;
        self.events.push_back((event, size));
    }

    /// The newest `n` events (or fewer), oldest first.
    pub(crate) fn recent(&self, n: usize) -> impl Iterator<Item = &Arc<Published>> {
        let skip = self.events.len().saturating_sub(n);
        self.events.iter().skip(skip).map(|(e, _)| e)
    }

    /// Every event from position `from` on, or `None` if some of them were already dropped.
    pub(crate) fn since(&self, from: u64) -> Option<impl Iterator<Item = &Arc<Published>>> {
        if from < self.first {
            return None;
        }
        let skip = usize::try_from(from - self.first).ok()?;
        Some(self.events.iter().skip(skip).map(|(e, _)| e))
    }

    pub(crate) fn clear(&mut self) {
        self.first = self.end();
        self.events.clear();
        self.bytes = 0;
    }
}
