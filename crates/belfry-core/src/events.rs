//! The EventBus port: state changes published after commit, as typed domain events, for the
//! realtime sessions (websocket fan-out) to deliver.

use crate::arn::{ChannelKey, UserKey};
use crate::model::{Channel, ChannelMessage, Membership, MembershipType, UserRef};
use crate::time::Timestamp;

/// A committed state change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DomainEvent {
    /// A message was sent (persistent or not: NON_PERSISTENT messages exist only as this event).
    MessageCreated(ChannelMessage),
    /// A message was edited.
    MessageUpdated(ChannelMessage),
    /// A message was redacted.
    MessageRedacted(ChannelMessage),
    /// A message was deleted (as it was before deletion).
    MessageDeleted(ChannelMessage),
    /// A member was added.
    MembershipCreated(Membership),
    /// Several members were added by one BatchCreateChannelMembership.
    MembershipsBatchCreated {
        /// The channel.
        channel: Channel,
        /// The bearer.
        invited_by: UserRef,
        /// Their membership type.
        kind: MembershipType,
        /// Who was added.
        members: Vec<UserRef>,
    },
    /// A member left, was removed, or was banned (as the membership was).
    MembershipDeleted(Membership),
    /// A channel's name, mode or metadata changed.
    ChannelUpdated(Channel),
    /// A channel was deleted (as it was).
    ChannelDeleted(Channel),
    /// A member's read marker moved (no websocket event exists for it; the realtime layer
    /// ignores it, other subscribers may not).
    ReadMarkerUpdated {
        /// The channel.
        channel: ChannelKey,
        /// The member.
        user: UserKey,
        /// The new ReadMarkerTimestamp.
        at: Timestamp,
    },
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
