//! The subscriber: every event on the subject, from any node (this one too), to the hub.

use std::sync::Arc;

use async_nats::Subscriber;
use belfry_core::events::Published;
use futures_util::StreamExt;

use super::{bump, Shared};

pub(super) async fn run(shared: Arc<Shared>, mut subscriber: Subscriber) {
    while let Some(message) = subscriber.next().await {
        match Published::decode(&message.payload) {
            Ok(event) => {
                bump(&shared.counters.received, 1);
                shared.hub.publish_event(event);
            }
            Err(e) => {
                // Another version's, or not Belfry's: nothing to deliver, nothing to wait for.
                bump(&shared.counters.undecodable, 1);
                tracing::warn!(error = %e, bytes = message.payload.len(), "bus: ignoring a message on the event subject");
            }
        }
    }
    // Only a closed client ends the subscription (it reconnects forever otherwise).
    tracing::error!("bus: the event subscription ended");
    shared.record_error("the event subscription ended".into());
}
