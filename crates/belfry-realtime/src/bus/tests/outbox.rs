//! An in-memory outbox with leases, as the PostgreSQL one behaves.

use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use belfry_core::events::Published;
use belfry_core::store::{Outbox, OutboxEntry, StoreResult};
use tokio::time::Instant;

struct Row {
    id: i64,
    event: Published,
    leased_until: Option<Instant>,
}

#[derive(Default)]
pub(super) struct MemOutbox {
    rows: Mutex<(i64, Vec<Row>)>,
}

impl MemOutbox {
    /// What a committing write adds, in its transaction.
    pub(super) fn put(&self, event: Published) {
        let mut rows = self.rows.lock().unwrap();
        rows.0 += 1;
        let id = rows.0;
        rows.1.push(Row {
            id,
            event,
            leased_until: None,
        });
    }

    /// Entries not yet acknowledged.
    pub(super) fn len(&self) -> usize {
        self.rows.lock().unwrap().1.len()
    }
}

#[async_trait]
impl Outbox for MemOutbox {
    async fn lease_events(&self, limit: usize, lease: Duration) -> StoreResult<Vec<OutboxEntry>> {
        let out = {
            let now = Instant::now();
            let mut rows = self.rows.lock().unwrap();
            rows.1
                .iter_mut()
                .filter(|r| r.leased_until.is_none_or(|until| until <= now))
                .take(limit)
                .map(|r| {
                    r.leased_until = Some(now + lease);
                    OutboxEntry {
                        id: r.id,
                        event: r.event.clone(),
                        payload: r.event.encode(),
                    }
                })
                .collect()
        };
        // A database round trip: lets relays on other nodes interleave with this one.
        tokio::time::sleep(Duration::from_millis(1)).await;
        Ok(out)
    }

    async fn ack_events(&self, ids: &[i64]) -> StoreResult<()> {
        self.rows.lock().unwrap().1.retain(|r| !ids.contains(&r.id));
        Ok(())
    }
}
