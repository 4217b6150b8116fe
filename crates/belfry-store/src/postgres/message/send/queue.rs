//! The per-channel send queues of one node (the group commit's bookkeeping).
//!
//! A channel with no send in flight has no entry. The first PERSISTENT send to it creates the
//! entry and spawns the channel's drain task, which takes the send at once (no timer: a lone
//! send does not wait). Sends arriving while that task's transaction runs queue behind it; when
//! it ends, the task takes up to `BATCH` of them for the next transaction, and when it finds
//! the queue empty it removes the entry and ends. So the map holds only channels with sends in
//! flight, and each queue only the sends waiting for one transaction — both bounded by the
//! requests the server admits.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use belfry_core::arn::ChannelKey;
use belfry_core::model::NewMessage;
use belfry_core::store::{ChannelPolicy, Sent, StoreError, StoreResult};
use tokio::sync::oneshot;

use super::super::super::PgStore;
use super::batch;

/// Sends stored by one transaction at most. Large enough that a hot channel's queue drains in
/// few commits, small enough that one transaction's statements stay a modest pipeline.
const BATCH: usize = 128;

/// A send waiting for its channel's drain task.
pub(super) struct Queued {
    pub(super) new: NewMessage,
    pub(super) policy: ChannelPolicy,
    pub(super) answer: oneshot::Sender<StoreResult<Sent>>,
}

/// The queues of the channels with sends in flight on this node.
#[derive(Default)]
pub(crate) struct SendQueues {
    queues: Mutex<HashMap<ChannelKey, VecDeque<Queued>>>,
    /// Transactions the drain tasks ran, and the sends they carried (for tests and metrics).
    transactions: AtomicU64,
    carried: AtomicU64,
}

impl SendQueues {
    fn lock(&self) -> MutexGuard<'_, HashMap<ChannelKey, VecDeque<Queued>>> {
        // Nothing panics while holding the lock (policies run outside it); recover anyway.
        self.queues.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts a transaction of `sends` sends.
    pub(super) fn count(&self, sends: usize) {
        self.transactions.fetch_add(1, Ordering::Relaxed);
        self.carried.fetch_add(sends as u64, Ordering::Relaxed);
    }

    /// (transactions run, sends they carried) so far.
    #[cfg(test)]
    pub(crate) fn counts(&self) -> (u64, u64) {
        (
            self.transactions.load(Ordering::Relaxed),
            self.carried.load(Ordering::Relaxed),
        )
    }

    /// Sends waiting for `ch`'s drain task (not the ones in its running transaction).
    #[cfg(test)]
    pub(crate) fn waiting(&self, ch: &ChannelKey) -> usize {
        self.lock().get(ch).map_or(0, VecDeque::len)
    }

    /// Whether `ch` has an entry (a drain task).
    #[cfg(test)]
    pub(crate) fn busy(&self, ch: &ChannelKey) -> bool {
        self.lock().contains_key(ch)
    }
}

/// Queues a PERSISTENT send on its channel and waits for its outcome.
pub(super) async fn submit(
    store: &PgStore,
    new: NewMessage,
    policy: ChannelPolicy,
) -> StoreResult<Sent> {
    let ch = new.message.channel.clone();
    let (answer, outcome) = oneshot::channel();
    let queued = Queued {
        new,
        policy,
        answer,
    };
    let start = match store.sends.lock().entry(ch.clone()) {
        Entry::Occupied(mut e) => {
            e.get_mut().push_back(queued);
            false
        }
        Entry::Vacant(e) => {
            e.insert(VecDeque::from([queued]));
            true
        }
    };
    if start {
        tokio::spawn(drain(store.clone(), ch));
    }
    // The task answers every send it takes; a closed channel means it died (its guard emptied
    // the queue).
    outcome.await.unwrap_or_else(|_| {
        Err(StoreError::internal(
            "the channel's send task ended without answering",
        ))
    })
}

/// The drain task of one channel: one transaction per batch until the queue is empty.
async fn drain(store: PgStore, ch: ChannelKey) {
    let mut entry = DrainEntry {
        sends: store.sends.clone(),
        ch,
        removed: false,
    };
    loop {
        let batch: Vec<Queued> = {
            let mut queues = entry.sends.lock();
            match queues.get_mut(&entry.ch) {
                Some(q) if !q.is_empty() => q.drain(..q.len().min(BATCH)).collect(),
                _ => {
                    queues.remove(&entry.ch);
                    entry.removed = true;
                    return;
                }
            }
        };
        batch::run(&store, &entry.ch, batch).await;
    }
}

/// The drain task's map entry: removed when the task ends, even by a panic or the runtime
/// shutting down, so a channel is never left with a queue nobody drains (the senders still
/// waiting are answered by their closed channels).
struct DrainEntry {
    sends: Arc<SendQueues>,
    ch: ChannelKey,
    removed: bool,
}

impl Drop for DrainEntry {
    fn drop(&mut self) {
        if !self.removed {
            self.sends.lock().remove(&self.ch);
        }
    }
}
