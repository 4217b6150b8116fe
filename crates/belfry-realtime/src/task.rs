//! The hub task: takes commands off the inbox in order and applies them to the state.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::state::State;
use crate::{CloseReason, Command, FrameEncoder, Hub, HubConfig, Stats};

/// Commands handled per wake-up before checking for overflow and gaps again.
const BATCH: usize = 256;

pub(crate) async fn run(
    hub: Hub,
    mut rx: mpsc::UnboundedReceiver<Command>,
    config: HubConfig,
    encoder: Arc<dyn FrameEncoder>,
    stats: Arc<Stats>,
) {
    let tick_every = (config.gap_timeout / 4).max(Duration::from_millis(10));
    let mut state = State::new(config, encoder, stats);
    let mut tick = tokio::time::interval(tick_every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut batch = Vec::with_capacity(BATCH);
    // `hub` is held for its counters only; the inbox closes when every other handle is gone.
    let weak = Arc::downgrade(&hub.inner);
    drop(hub);
    loop {
        tokio::select! {
            n = rx.recv_many(&mut batch, BATCH) => {
                if n == 0 {
                    return;
                }
                let Some(inner) = weak.upgrade() else { return };
                let hub = Hub { inner };
                for cmd in batch.drain(..) {
                    match cmd {
                        Command::Event(e, at) => {
                            hub.event_taken();
                            state.event(e, at);
                        }
                        Command::Register { no, user, access_key, session_id, frames, close } => {
                            state.register(no, user, access_key, session_id, frames, close);
                        }
                        Command::Subscribe { no, channels, done } => {
                            state.subscribe(no, channels);
                            let _ = done.send(());
                        }
                        Command::Unregister(no) => state.unregister(no),
                        Command::Reset => {
                            state.reset_all(CloseReason::RESYNC);
                            hub.overflow_handled();
                        }
                        Command::ResetAll(reason) => state.reset_all(reason),
                        Command::Availability(available) => state.set_available(available),
                        Command::Shutdown => state.shutdown(),
                    }
                }
            }
            now = tick.tick() => state.check_gaps(now),
        }
    }
}
