//! The services' side: what happens to an event after its commit, on a node with a bus.

use std::sync::Arc;

use async_nats::Client;
use belfry_core::events::{DomainEvent, EventBus, Published};
use bytes::Bytes;
use tokio::sync::mpsc;

use super::{bump, Shared};

/// The `EventBus` the services publish to. Never blocks.
pub(super) struct BusPublisher {
    shared: Arc<Shared>,
    direct: mpsc::Sender<Bytes>,
}

impl BusPublisher {
    pub(super) fn new(shared: Arc<Shared>, direct: mpsc::Sender<Bytes>) -> Self {
        BusPublisher { shared, direct }
    }
}

impl EventBus for BusPublisher {
    fn publish(&self, event: Published) {
        match (&event.seq, &event.event) {
            // No websocket form, and not in the outbox.
            (_, DomainEvent::ReadMarkerUpdated { .. }) => {}
            // Written to the outbox by the write's own transaction: the relay carries it.
            (Some(_), _)
            | (
                None,
                DomainEvent::UserDeleted(_)
                | DomainEvent::AppInstanceDeleted { .. }
                | DomainEvent::AccessKeyRevoked { .. },
            ) => {
                self.shared.wake_relay.notify_one();
            }
            // NON_PERSISTENT messages are never stored: best effort, as AWS describes them.
            (None, _) => {
                if !self.shared.is_ready()
                    || self.direct.try_send(Bytes::from(event.encode())).is_err()
                {
                    bump(&self.shared.counters.direct_dropped, 1);
                }
            }
        }
    }
}

/// Publishes queued NON_PERSISTENT messages, without waiting for the server.
pub(super) async fn run_direct(
    shared: Arc<Shared>,
    client: Client,
    mut queue: mpsc::Receiver<Bytes>,
) {
    while let Some(bytes) = queue.recv().await {
        match client.publish(shared.subject.clone(), bytes).await {
            Ok(()) => bump(&shared.counters.direct_sent, 1),
            Err(e) => {
                bump(&shared.counters.direct_dropped, 1);
                shared.record_error(format!("publishing a NON_PERSISTENT message: {e}"));
            }
        }
    }
}
