//! The Store port: persistence in domain terms. Adapters (SQLite, PostgreSQL) implement it and
//! must pass the same conformance suite (`belfry_store::conformance`, one test per case).
//!
//! One port per resource family (`AppInstanceStore`, `UserStore`, `ChannelStore`,
//! `MembershipStore`, `ModerationStore`, `MessageStore`, `TagStore`, `KeyStore`); `Store` is their union
//! plus the store's lifecycle, so the services hold one `Arc<dyn Store>`.
//!
//! Adapters report **facts** (`StoreError`: `NoChannel`, `Banned`, `Limit(..)`, `TokenReused`…)
//! and never words: core words each fact once (`fact.rs`). A rule that must hold atomically
//! with a write (a duplicate, a ban, a quota) is checked by the adapter inside that write's
//! transaction and reported as its fact; every other domain rule stays in core. Driver
//! failures are `Internal`; no driver type crosses this boundary. Creates return the row they
//! stored.
//!
//! Every write method is atomic and durable when it returns `Ok`. Reads see one snapshot each
//! (`channel_access`, `session_channels` read several tables at once for that reason), and a
//! missing resource is `None` or `false` in a read, never a fact.
//!
//! Event sequence: every write that publishes a channel event takes the channel's next event
//! sequence number inside its own transaction and returns it (the `u64` beside the result), so
//! a channel's events can be delivered in commit order (`belfry_core::events::Published`).
//! Numbers start at 1 in a new channel and grow by exactly one per event-publishing write;
//! writes that publish nothing about the channel (moderators, bans without a kick, read
//! markers, tags) leave it alone.

use async_trait::async_trait;

mod app_instance;
mod channel;
mod fact;
mod keys;
mod membership;
mod message;
mod moderation;
mod outbox;
mod tags;
mod user;

pub use app_instance::AppInstanceStore;
pub use channel::ChannelStore;
pub use fact::{missing_app_instance_for_user, Limit, StoreError, StoreResult};
pub use keys::{KeyStore, StoredKey};
pub use membership::MembershipStore;
pub use message::MessageStore;
pub use moderation::ModerationStore;
pub use outbox::{Outbox, OutboxEntry};
pub use tags::TagStore;
pub use user::UserStore;

use crate::arn::{ChannelKey, UserKey};
use crate::error::CoreResult;
use crate::model::{Channel, ChannelMessage, MembershipType};
use crate::perm::Roles;
use crate::time::Timestamp;

/// A row of a keyset-paged listing: its position and the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seq<T> {
    /// Monotonic position (creation order).
    pub seq: i64,
    /// The row.
    pub value: T,
}

/// Membership quotas, checked atomically with the insert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MembershipLimits {
    /// Memberships in one channel.
    pub per_channel: u64,
    /// Memberships of one user.
    pub per_user: u64,
}

/// What a channel write's policy sees, read inside the transaction of that write (a send may
/// take the channel and its sender from the writer's cache, which is exact).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelContext {
    /// The acting user's current name, or `None` if the user does not exist.
    pub actor_name: Option<String>,
    /// The channel, if it exists (the creator's name may be left unresolved: policies need
    /// only mode and privacy).
    pub channel: Option<Channel>,
    /// The acting user's roles in the channel.
    pub actor: Roles,
    /// A targeted send: the target's roles.
    pub target: Option<Roles>,
    /// A write to a stored message (edit, redaction, delete): the message's sender.
    pub message_sender: Option<UserKey>,
}

/// The core's permission rules for one channel write, which the adapter runs on the
/// `ChannelContext` it reads inside the write's transaction, before writing anything. A refusal
/// comes back as `StoreError::Refused`, with nothing written. Every channel write whose right
/// can be lost between a read and the write (a send, an edit, a redaction, a delete, a read
/// marker) takes one, so a member removed or banned in between is refused, not served once.
pub type ChannelPolicy = Box<dyn FnOnce(&ChannelContext) -> CoreResult<()> + Send>;

/// A sent message as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// The message, with the sender's name (for a replay: the message first stored).
    pub message: ChannelMessage,
    /// True when an earlier send with the same token stored it.
    pub replayed: bool,
    /// The channel's event number the send took: `Some` for a PERSISTENT message stored now,
    /// `None` for a replay (nothing new happened) and for NON_PERSISTENT messages (never
    /// stored, so outside the channel's sequence).
    pub event_seq: Option<u64>,
}

/// A channel as one user sees it, read at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelView {
    /// The user exists.
    pub user_exists: bool,
    /// The channel, if it exists.
    pub channel: Option<Channel>,
    /// The user's roles in it.
    pub roles: Roles,
}

/// One of a user's channels, as a connecting websocket session needs it. All of a user's rows
/// are read in one snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionChannel {
    /// The channel.
    pub channel: ChannelKey,
    /// The user's membership type in it.
    pub kind: MembershipType,
    /// The channel's event sequence number at the snapshot: every event up to it is reflected
    /// in the snapshot, every later one is still to be delivered.
    pub event_seq: u64,
    /// The channel's LastMessageTimestamp.
    pub last_message: Option<Timestamp>,
    /// The user's read marker in it.
    pub read_marker: Option<Timestamp>,
}

/// Persistence of Belfry's resources: every family's port, and the store's lifecycle.
#[async_trait]
pub trait Store:
    AppInstanceStore
    + UserStore
    + ChannelStore
    + MembershipStore
    + ModerationStore
    + MessageStore
    + TagStore
    + KeyStore
{
    /// Waits for every acknowledged write to be on disk and releases the store.
    async fn close(&self) -> StoreResult<()>;

    /// Makes a consistent copy of the whole store while it keeps serving, as a new file the
    /// caller reads and then removes; `None` if this store makes no such copies (a PostgreSQL
    /// store is backed up with PostgreSQL's own tools).
    async fn backup(&self) -> StoreResult<Option<std::path::PathBuf>> {
        Ok(None)
    }
}
