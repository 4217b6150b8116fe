//! The connection's state: the client's options, what its connection events do to the hub,
//! and the watcher that declares the bus ready once a (re)connection is confirmed.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use async_nats::client::RequestErrorKind;
use async_nats::connection::State;
use async_nats::{Client, ConnectOptions, Event};
use bytes::Bytes;

use super::{bump, Shared};
use crate::CloseReason;

/// The client's options: retry forever (from the first connect on), bounded buffers, and the
/// connection events routed to [`on_event`].
pub(super) fn options(shared: &Arc<Shared>) -> ConnectOptions {
    let config = &shared.config;
    let max_delay = config.reconnect_max_delay;
    let events = shared.clone();
    let mut options = ConnectOptions::new()
        .retry_on_initial_connect()
        .max_reconnects(None)
        .subscription_capacity(config.subscription_capacity)
        .ping_interval(config.ping_interval)
        .request_timeout(Some(config.round_trip_timeout))
        .reconnect_delay_callback(move |attempts| backoff(attempts, max_delay))
        .event_callback(move |event| {
            let shared = events.clone();
            async move { on_event(&shared, event) }
        });
    if let Some(name) = &config.name {
        options = options.name(name);
    }
    options
}

/// No wait before the first attempt, then 2, 4, 8 … ms up to `max`.
fn backoff(attempts: usize, max: Duration) -> Duration {
    if attempts <= 1 {
        return Duration::ZERO;
    }
    let exp = u32::try_from(attempts - 1).unwrap_or(u32::MAX).min(63);
    Duration::from_millis(1u64 << exp).min(max)
}

fn on_event(shared: &Shared, event: Event) {
    match event {
        // Not ready yet: the watcher confirms the subscription with a round trip first.
        Event::Connected => shared.wake_link.notify_one(),
        Event::Disconnected => lost(shared, "disconnected from NATS"),
        Event::Closed => lost(shared, "the NATS connection was closed"),
        Event::SlowConsumer(_) => {
            // The client dropped messages: any session may have missed one.
            bump(&shared.counters.slow_consumers, 1);
            shared.record_error("the NATS client dropped messages (slow consumer)".into());
            tracing::warn!("bus: the NATS client dropped events; resetting every session");
            shared.hub.reset_all(CloseReason::BUS_UNAVAILABLE);
        }
        Event::ServerError(e) => {
            tracing::warn!(error = %e, "bus: NATS server error");
            shared.record_error(format!("NATS server error: {e}"));
        }
        Event::ClientError(e) => {
            tracing::warn!(error = %e, "bus: NATS client error");
            shared.record_error(format!("NATS client error: {e}"));
        }
        Event::LameDuckMode | Event::Draining => {
            tracing::info!(%event, "bus: NATS connection event");
        }
    }
}

/// The connection is gone: sessions could miss events silently, so they are closed and new
/// ones refused until the watcher confirms a new connection.
fn lost(shared: &Shared, why: &str) {
    {
        let mut losses = shared
            .losses
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *losses += 1;
        shared.ready.store(false, Ordering::Release);
        shared.hub.set_available(false);
    }
    bump(&shared.counters.disconnects, 1);
    shared.record_error(why.to_string());
    tracing::warn!(
        why,
        "bus: lost NATS; closing every session until it is back"
    );
}

/// Declares the bus ready when the client is connected and a round trip confirmed it, and
/// catches a loss whose events the client could not report (it drops them when its event
/// queue is full): disconnected now, or connected again since the confirmation.
pub(super) async fn watch(shared: Arc<Shared>, client: Client) {
    let mut tick = tokio::time::interval(shared.config.relay_tick);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shared.wake_link.notified() => {}
            _ = tick.tick() => {}
        }
        let connects = client.statistics().connects.load(Ordering::Acquire);
        match (client.connection_state(), shared.is_ready()) {
            (State::Connected, false) => confirm(&shared, &client).await,
            (State::Connected, true)
                if connects != shared.confirmed_connects.load(Ordering::Acquire) =>
            {
                lost(&shared, "NATS reconnected unnoticed")
            }
            (State::Disconnected, true) => lost(&shared, "disconnected from NATS"),
            _ => {}
        }
    }
}

async fn confirm(shared: &Shared, client: &Client) {
    let before = *shared
        .losses
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let connects = client.statistics().connects.load(Ordering::Acquire);
    if let Err(e) = round_trip(shared, client).await {
        shared.record_error(format!("confirming the NATS connection: {e}"));
        return;
    }
    let losses = shared
        .losses
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if *losses != before || client.connection_state() != State::Connected {
        return;
    }
    shared.confirmed_connects.store(connects, Ordering::Release);
    shared.ready.store(true, Ordering::Release);
    shared.hub.set_available(true);
    drop(losses);
    tracing::info!("bus: connected to NATS");
    // Whatever piled up in the outbox meanwhile.
    shared.wake_relay.notify_one();
}

/// A request nobody answers: the server's "no responders" reply comes after it processed
/// everything this connection sent before (subscriptions, publications), so those are in
/// effect on the server.
pub(super) async fn round_trip(shared: &Shared, client: &Client) -> Result<(), String> {
    let probe = format!("{}.probe", shared.config.subject);
    let answer = tokio::time::timeout(
        shared.config.round_trip_timeout,
        client.request(probe, Bytes::new()),
    )
    .await
    .map_err(|_| "no answer from the NATS server in time".to_string())?;
    match answer {
        // Someone answers the probe subject after all; the round trip happened either way.
        Ok(_) => Ok(()),
        Err(e) if e.kind() == RequestErrorKind::NoResponders => Ok(()),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconnects_back_off_up_to_the_bound() {
        let max = Duration::from_millis(100);
        assert_eq!(backoff(0, max), Duration::ZERO);
        assert_eq!(backoff(1, max), Duration::ZERO);
        assert_eq!(backoff(2, max), Duration::from_millis(2));
        assert_eq!(backoff(5, max), Duration::from_millis(16));
        assert_eq!(backoff(8, max), max);
        assert_eq!(backoff(usize::MAX, max), max);
    }
}
