//! The EventBus port: state changes published after commit, for realtime delivery.

use crate::model::Channel;

/// A committed state change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DomainEvent {
    /// A channel's name, mode or metadata changed.
    ChannelUpdated(Channel),
    /// A channel was deleted.
    ChannelDeleted(Channel),
}

/// Receives events after their transaction committed. Must not block.
pub trait EventBus: Send + Sync + 'static {
    /// Hands an event over for delivery.
    fn publish(&self, event: DomainEvent);
}

/// An EventBus that delivers nowhere (no realtime sessions configured).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoEvents;

impl EventBus for NoEvents {
    fn publish(&self, _event: DomainEvent) {}
}
