//! The outbox on PostgreSQL: relays lease rows with `FOR UPDATE SKIP LOCKED`, so several nodes
//! relay side by side without taking the same row, and a dead relay's lease simply runs out.

use std::time::Duration;

use async_trait::async_trait;
use belfry_core::events::Published;
use belfry_core::store::{Outbox, OutboxEntry, StoreResult};

use super::{db, PgStore};

#[async_trait]
impl Outbox for PgStore {
    async fn lease_events(&self, limit: usize, lease: Duration) -> StoreResult<Vec<OutboxEntry>> {
        let conn = self.conn().await?;
        let limit = limit.clamp(1, 10_000) as i64;
        let lease_ms = lease.as_millis().min(i64::MAX as u128) as f64;
        let rows = conn
            .query(
                "UPDATE outbox SET lease_until = now() + $2 * interval '1 millisecond'
                 WHERE id IN (
                     SELECT id FROM outbox
                     WHERE lease_until IS NULL OR lease_until < now()
                     ORDER BY id LIMIT $1
                     FOR UPDATE SKIP LOCKED)
                 RETURNING id, payload",
                &[&limit, &lease_ms],
            )
            .await
            .map_err(db)?;
        let mut out = Vec::with_capacity(rows.len());
        let mut undecodable = Vec::new();
        for r in rows {
            let id: i64 = r.get(0);
            let payload: Vec<u8> = r.get(1);
            match Published::decode(&payload) {
                Ok(event) => out.push(OutboxEntry { id, event, payload }),
                Err(e) => {
                    tracing::error!(id, error = %e, "dropping an outbox entry this node cannot read");
                    undecodable.push(id);
                }
            }
        }
        if !undecodable.is_empty() {
            self.ack_events(&undecodable).await?;
        }
        out.sort_by_key(|e| e.id);
        Ok(out)
    }

    async fn ack_events(&self, ids: &[i64]) -> StoreResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let conn = self.conn().await?;
        conn.execute("DELETE FROM outbox WHERE id = ANY($1)", &[&ids])
            .await
            .map_err(db)?;
        Ok(())
    }
}
