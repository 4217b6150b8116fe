//! The Outbox port: channel events written in the same transaction as the change they describe,
//! for a relay to hand to the cross-node bus. Only adapters that serve several nodes have one
//! (PostgreSQL); a single node publishes in process.

use std::time::Duration;

use async_trait::async_trait;

use super::StoreResult;
use crate::events::Published;

/// An event waiting in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    /// Its place in the outbox (commit order across the whole store is not implied).
    pub id: i64,
    /// The event.
    pub event: Published,
    /// The event as stored (`Published::encode`), which the relay publishes as it is.
    pub payload: Vec<u8>,
}

/// The transactional outbox. A relay leases entries, publishes them, then acknowledges them: an
/// entry is removed only after it was published, and a relay that dies holding a lease loses
/// it when the lease runs out, so another relay publishes it (at least once; receivers drop a
/// channel event whose number they already delivered).
#[async_trait]
pub trait Outbox: Send + Sync + 'static {
    /// Leases up to `limit` entries that no live lease holds, for `lease`, oldest first.
    /// Entries that cannot be decoded are logged and dropped.
    async fn lease_events(&self, limit: usize, lease: Duration) -> StoreResult<Vec<OutboxEntry>>;
    /// Removes published entries.
    async fn ack_events(&self, ids: &[i64]) -> StoreResult<()>;
}
