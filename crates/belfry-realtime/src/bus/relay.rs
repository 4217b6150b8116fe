//! The relay: moves outbox entries onto the subject. At least once: an entry is acknowledged
//! (removed) only after the server confirmed it has it; if anything fails first, the lease runs
//! out and some node's relay publishes it again, and receivers drop the duplicate by its
//! sequence number.

use std::sync::Arc;

use async_nats::client::PublishErrorKind;
use async_nats::Client;
use belfry_core::store::{Outbox, OutboxEntry};
use bytes::Bytes;

use super::{bump, link, Shared};

/// Relays whenever woken (a local commit, a reconnection) and every `relay_tick` (entries a
/// dead node leased come free when their lease runs out).
pub(super) async fn run(shared: Arc<Shared>, client: Client, outbox: Arc<dyn Outbox>) {
    let mut tick = tokio::time::interval(shared.config.relay_tick);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shared.wake_relay.notified() => {}
            _ = tick.tick() => {}
        }
        // Leasing while disconnected would only hold entries back from a connected node.
        if shared.is_ready() {
            relay(&shared, &client, outbox.as_ref()).await;
        }
    }
}

/// Relays batches until one comes back short (the outbox is drained) or a round fails.
async fn relay(shared: &Shared, client: &Client, outbox: &dyn Outbox) {
    let config = &shared.config;
    loop {
        let entries = match outbox.lease_events(config.relay_batch, config.lease).await {
            Ok(entries) => entries,
            Err(e) => return failed(shared, format!("leasing outbox entries: {e}")),
        };
        if entries.is_empty() {
            return;
        }
        // Past its lease another relay may publish the batch too; no use going on longer.
        match tokio::time::timeout(config.lease, publish(shared, client, &entries)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return failed(shared, format!("publishing outbox entries: {e}")),
            Err(_) => {
                return failed(
                    shared,
                    "publishing outbox entries took longer than their lease".into(),
                )
            }
        }
        let ids: Vec<i64> = entries.iter().map(|e| e.id).collect();
        if let Err(e) = outbox.ack_events(&ids).await {
            return failed(shared, format!("acknowledging outbox entries: {e}"));
        }
        bump(&shared.counters.relayed, ids.len() as u64);
        if entries.len() < config.relay_batch {
            return;
        }
    }
}

/// Publishes a batch and waits for the server to have it.
async fn publish(shared: &Shared, client: &Client, entries: &[OutboxEntry]) -> Result<(), String> {
    for entry in entries {
        // The stored bytes are the encoding: no second serialization per event.
        let bytes = Bytes::copy_from_slice(&entry.payload);
        match client.publish(shared.subject.clone(), bytes).await {
            Ok(()) => {}
            // Never publishable: retrying would block the outbox behind it forever. Its
            // channel's sessions see a gap and are reset.
            Err(e) if e.kind() == PublishErrorKind::MaxPayloadExceeded => {
                bump(&shared.counters.oversized, 1);
                tracing::error!(id = entry.id, error = %e, "bus: an outbox entry is too large to publish; dropping it");
            }
            Err(e) => return Err(e.to_string()),
        }
    }
    link::round_trip(shared, client).await
}

fn failed(shared: &Shared, error: String) {
    bump(&shared.counters.relay_failures, 1);
    tracing::warn!(%error, "bus: relay round failed; its entries go again after the lease");
    shared.record_error(error);
}
