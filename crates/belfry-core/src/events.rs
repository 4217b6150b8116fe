//! The EventBus port: state changes published after commit, as typed domain events, for the
//! realtime sessions (websocket fan-out) to deliver.
//!
//! Ordering: every write that changes a channel and has a websocket event takes the channel's
//! next *event sequence* number inside its own transaction (`channels.event_seq` in the SQLite
//! store). The number travels with the event, so a subscriber can put a channel's events back
//! into commit order even when the tasks that publish them race each other.

use crate::arn::{ChannelKey, UserKey};
use crate::model::{Channel, ChannelMessage, Membership, MembershipType, UserRef};
use crate::time::Timestamp;

/// A committed state change.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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
    /// An AppInstanceUser was deleted (its memberships, roles and bans went with it). Its
    /// sessions must end.
    UserDeleted(UserKey),
    /// An AppInstance was deleted with everything in it. Its users' sessions must end.
    AppInstanceDeleted {
        /// The AppInstance id.
        app_instance_id: String,
    },
    /// A stored access key was revoked (DELETE /admin/keys/{id}). The sessions it opened must
    /// end, on every node.
    AccessKeyRevoked {
        /// The access key id.
        id: String,
    },
}

impl DomainEvent {
    /// The channel the event belongs to, if it belongs to one.
    pub fn channel(&self) -> Option<&ChannelKey> {
        match self {
            DomainEvent::MessageCreated(m)
            | DomainEvent::MessageUpdated(m)
            | DomainEvent::MessageRedacted(m)
            | DomainEvent::MessageDeleted(m) => Some(&m.channel),
            DomainEvent::MembershipCreated(m) | DomainEvent::MembershipDeleted(m) => {
                Some(&m.channel)
            }
            DomainEvent::MembershipsBatchCreated { channel, .. }
            | DomainEvent::ChannelUpdated(channel)
            | DomainEvent::ChannelDeleted(channel) => Some(&channel.key),
            DomainEvent::ReadMarkerUpdated { channel, .. } => Some(channel),
            DomainEvent::UserDeleted(_)
            | DomainEvent::AppInstanceDeleted { .. }
            | DomainEvent::AccessKeyRevoked { .. } => None,
        }
    }
}

/// An event as published: the change and, for a committed channel change, its place in the
/// channel's event sequence.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Published {
    /// The channel's event sequence number taken by the write's transaction; `None` for what
    /// is not ordered within a channel (NON_PERSISTENT messages, which are never stored; read
    /// markers; user and AppInstance deletions; revoked keys).
    pub seq: Option<u64>,
    /// The change.
    pub event: DomainEvent,
}

impl Published {
    /// A committed channel change at `seq`.
    pub fn at(seq: u64, event: DomainEvent) -> Self {
        Published {
            seq: Some(seq),
            event,
        }
    }

    /// A change with no place in a channel's sequence.
    pub fn unordered(event: DomainEvent) -> Self {
        Published { seq: None, event }
    }

    /// The event in Belfry's internal codec (JSON), as the outbox stores it and the cross-node
    /// bus carries it. Not an AWS format: only Belfry nodes of the same version read it.
    pub fn encode(&self) -> Vec<u8> {
        // Serializing plain data (strings, numbers, enums) to a Vec cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Reads an event written by [`Published::encode`].
    pub fn decode(bytes: &[u8]) -> Result<Self, String> {
        serde_json::from_slice(bytes).map_err(|e| format!("undecodable event: {e}"))
    }
}

/// Receives events after their transaction committed. Must not block.
pub trait EventBus: Send + Sync + 'static {
    /// Hands an event over for delivery.
    fn publish(&self, event: Published);
}

/// An EventBus that delivers nowhere (no realtime sessions configured).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoEvents;

impl EventBus for NoEvents {
    fn publish(&self, _event: Published) {}
}
