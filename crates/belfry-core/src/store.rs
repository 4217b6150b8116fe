//! The Store port: persistence in domain terms. Adapters (SQLite, PostgreSQL) implement it and
//! must pass the same conformance suite. Adapters turn constraint violations into `Conflict` /
//! `NotFound` and driver failures into `Internal`; no driver type crosses this boundary.
//!
//! Every write method is atomic and durable when it returns `Ok`.
//!
//! Event sequence: every write that publishes a channel event takes the channel's next event
//! sequence number inside its own transaction and returns it (the `u64` beside the result), so
//! a channel's events can be delivered in commit order (`belfry_core::events::Published`).
//! Numbers start at 1 in a new channel and grow by exactly one per event-publishing write;
//! writes that publish nothing about the channel (moderators, bans without a kick, read
//! markers, tags) leave it alone.

use async_trait::async_trait;

use crate::arn::{ChannelKey, UserKey};
use crate::error::CoreResult;
use crate::model::{
    AppInstance, AppInstanceAdmin, AppInstanceUser, Ban, Channel, ChannelMessage, ChannelPrivacy,
    ChannelUpdate, Created, Idempotency, Membership, MembershipType, MessageChange, MessageCursor,
    MessageQuery, Moderator, NewChannel, NewMessage, Tag, TagTarget, UserMembership, UserRef,
};
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

/// What the send policy sees, read inside the write transaction that stores the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendContext {
    /// The sender's current name, or `None` if the sender does not exist.
    pub sender_name: Option<String>,
    /// The channel, if it exists (the creator's name may be left unresolved: the policy
    /// needs only mode and privacy).
    pub channel: Option<Channel>,
    /// The sender's roles in the channel.
    pub sender: Roles,
    /// The target's roles, for a targeted message.
    pub target: Option<Roles>,
}

/// Decides, inside the transaction, whether a message may be sent (the core's permission rules).
pub type SendPolicy = Box<dyn FnOnce(&SendContext) -> CoreResult<()> + Send>;

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

/// Persistence of Belfry's resources.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    // --- AppInstances -------------------------------------------------------------------------

    /// Creates an AppInstance with its tags, or replays an earlier identical create.
    /// Same token, different request: `Conflict`; more than `max_app_instances`: `ResourceLimitExceeded`.
    async fn create_app_instance(
        &self,
        app: AppInstance,
        tags: Vec<Tag>,
        idem: Idempotency,
        max_app_instances: u64,
    ) -> CoreResult<Created>;
    /// One AppInstance.
    async fn get_app_instance(&self, id: &str) -> CoreResult<Option<AppInstance>>;
    /// AppInstances in creation order, after `after`, at most `limit`.
    async fn list_app_instances(
        &self,
        after: Option<i64>,
        limit: usize,
    ) -> CoreResult<Vec<Seq<AppInstance>>>;
    /// Sets name and metadata. Missing: `NotFound`.
    async fn update_app_instance(
        &self,
        id: &str,
        name: String,
        metadata: String,
        now: Timestamp,
    ) -> CoreResult<()>;
    /// Deletes an AppInstance and everything in it. Missing: `NotFound`.
    async fn delete_app_instance(&self, id: &str) -> CoreResult<()>;

    // --- AppInstanceUsers ---------------------------------------------------------------------

    /// Creates a user with its tags, or replays an earlier identical create. The id already
    /// taken: `Conflict`; AppInstance missing: `NotFound`.
    async fn create_user(
        &self,
        user: AppInstanceUser,
        tags: Vec<Tag>,
        idem: Idempotency,
        max_users: u64,
    ) -> CoreResult<Created>;
    /// One user.
    async fn get_user(&self, key: &UserKey) -> CoreResult<Option<AppInstanceUser>>;
    /// Users of an AppInstance in creation order.
    async fn list_users(
        &self,
        app_instance_id: &str,
        after: Option<i64>,
        limit: usize,
    ) -> CoreResult<Vec<Seq<AppInstanceUser>>>;
    /// Sets name and metadata. Missing: `NotFound`.
    async fn update_user(
        &self,
        key: &UserKey,
        name: String,
        metadata: String,
        now: Timestamp,
    ) -> CoreResult<()>;
    /// Deletes a user with their admin role, memberships, moderator roles, bans and tags.
    /// Missing: `NotFound`.
    async fn delete_user(&self, key: &UserKey) -> CoreResult<()>;

    // --- AppInstanceAdmins --------------------------------------------------------------------

    /// Grants the admin role. Already admin: `Conflict`; more than `max_admins`:
    /// `ResourceLimitExceeded`; user missing: `NotFound`.
    async fn create_admin(&self, key: &UserKey, now: Timestamp, max_admins: u64) -> CoreResult<()>;
    /// One admin role.
    async fn get_admin(&self, key: &UserKey) -> CoreResult<Option<AppInstanceAdmin>>;
    /// Admins of an AppInstance in grant order.
    async fn list_admins(
        &self,
        app_instance_id: &str,
        after: Option<i64>,
        limit: usize,
    ) -> CoreResult<Vec<Seq<AppInstanceAdmin>>>;
    /// Revokes the admin role. Not admin: `NotFound`.
    async fn delete_admin(&self, key: &UserKey) -> CoreResult<()>;

    // --- Channels -----------------------------------------------------------------------------

    /// Creates a channel with its moderators, members and tags, or replays an earlier identical
    /// create. Channel id taken: `Conflict`; more than `max_channels`, or a member in too many
    /// channels (`limits`, as `create_membership` counts them): `ResourceLimitExceeded`.
    /// The members' MembershipCreated events are numbered 1..=n in `new.members` order, and the
    /// channel's event sequence continues from n.
    async fn create_channel(
        &self,
        new: NewChannel,
        idem: Idempotency,
        max_channels: u64,
        limits: MembershipLimits,
    ) -> CoreResult<Created>;
    /// One channel, with its creator's current name.
    async fn get_channel(&self, key: &ChannelKey) -> CoreResult<Option<Channel>>;
    /// Applies an update and returns the channel as it now is, with the update's event number.
    /// Missing: `NotFound`.
    async fn update_channel(
        &self,
        key: &ChannelKey,
        update: ChannelUpdate,
        now: Timestamp,
    ) -> CoreResult<(Channel, u64)>;
    /// Deletes a channel with its memberships, moderators, bans, messages and tags; returns it
    /// as it was, with the deletion's event number (the channel's last). Missing: `NotFound`.
    async fn delete_channel(&self, key: &ChannelKey) -> CoreResult<(Channel, u64)>;
    /// Channels of an AppInstance with the given privacy, in creation order.
    async fn list_channels(
        &self,
        app_instance_id: &str,
        privacy: ChannelPrivacy,
        after: Option<i64>,
        limit: usize,
    ) -> CoreResult<Vec<Seq<Channel>>>;
    /// The user's roles relative to the channel (admin, moderator, membership, ban).
    async fn roles(&self, channel: &ChannelKey, user: &UserKey) -> CoreResult<Roles>;
    /// In one read: whether `user` exists, the channel (if it exists) and the user's roles in
    /// it — what every channel operation needs first.
    async fn channel_access(&self, channel: &ChannelKey, user: &UserKey)
        -> CoreResult<ChannelView>;
    /// Whether the user is an AppInstanceAdmin.
    async fn is_admin(&self, user: &UserKey) -> CoreResult<bool>;

    // --- Memberships --------------------------------------------------------------------------

    /// Adds a member; returns the membership and its event number. Banned: `Forbidden`;
    /// already a member: `Conflict`; user missing: `NotFound`; channel full or user in too
    /// many channels: `ResourceLimitExceeded`.
    async fn create_membership(
        &self,
        channel: &ChannelKey,
        member: &UserKey,
        kind: MembershipType,
        invited_by: &UserKey,
        now: Timestamp,
        limits: MembershipLimits,
    ) -> CoreResult<(Membership, u64)>;
    /// Adds several members in one transaction; each gets its own outcome, as
    /// `create_membership` would report it. The batch takes one event number if it added
    /// anyone (`None` otherwise).
    async fn batch_create_memberships(
        &self,
        channel: &ChannelKey,
        members: Vec<UserKey>,
        kind: MembershipType,
        invited_by: &UserKey,
        now: Timestamp,
        limits: MembershipLimits,
    ) -> CoreResult<(Vec<CoreResult<Membership>>, Option<u64>)>;
    /// One membership.
    async fn get_membership(
        &self,
        channel: &ChannelKey,
        member: &UserKey,
    ) -> CoreResult<Option<Membership>>;
    /// Members of one type in creation order.
    async fn list_memberships(
        &self,
        channel: &ChannelKey,
        kind: MembershipType,
        after: Option<i64>,
        limit: usize,
    ) -> CoreResult<Vec<Seq<UserRef>>>;
    /// Removes a membership and returns it as it was, with the removal's event number. Not a
    /// member: `NotFound`.
    async fn delete_membership(
        &self,
        channel: &ChannelKey,
        member: &UserKey,
    ) -> CoreResult<(Membership, u64)>;
    /// A user's memberships with their channels, in membership creation order.
    async fn list_user_memberships(
        &self,
        user: &UserKey,
        after: Option<i64>,
        limit: usize,
    ) -> CoreResult<Vec<Seq<UserMembership>>>;
    /// All of a user's memberships with each channel's event sequence number, in one snapshot
    /// (for a connecting websocket session).
    async fn session_channels(&self, user: &UserKey) -> CoreResult<Vec<SessionChannel>>;

    // --- Moderators ---------------------------------------------------------------------------

    /// Grants the moderator role. Already moderator: `Conflict`; banned: `BadRequest`; user
    /// missing: `NotFound`; too many moderators: `ResourceLimitExceeded`.
    async fn create_moderator(
        &self,
        channel: &ChannelKey,
        user: &UserKey,
        created_by: &UserKey,
        now: Timestamp,
        max_moderators: u64,
    ) -> CoreResult<()>;
    /// One moderator role.
    async fn get_moderator(
        &self,
        channel: &ChannelKey,
        user: &UserKey,
    ) -> CoreResult<Option<Moderator>>;
    /// Moderators in grant order.
    async fn list_moderators(
        &self,
        channel: &ChannelKey,
        after: Option<i64>,
        limit: usize,
    ) -> CoreResult<Vec<Seq<UserRef>>>;
    /// Revokes the moderator role. Not a moderator: `NotFound`.
    async fn delete_moderator(&self, channel: &ChannelKey, user: &UserKey) -> CoreResult<()>;
    /// Channels a user moderates, in grant order.
    async fn list_moderated_channels(
        &self,
        user: &UserKey,
        after: Option<i64>,
        limit: usize,
    ) -> CoreResult<Vec<Seq<Channel>>>;

    // --- Bans ---------------------------------------------------------------------------------

    /// Bans a user and, in the same transaction, removes their membership (returned if there
    /// was one, with the removal's event number). Admin or moderator: `BadRequest`; already
    /// banned: `Conflict`; user missing: `NotFound`.
    async fn create_ban(
        &self,
        channel: &ChannelKey,
        user: &UserKey,
        created_by: &UserKey,
        now: Timestamp,
    ) -> CoreResult<Option<(Membership, u64)>>;
    /// One ban.
    async fn get_ban(&self, channel: &ChannelKey, user: &UserKey) -> CoreResult<Option<Ban>>;
    /// Bans in creation order.
    async fn list_bans(
        &self,
        channel: &ChannelKey,
        after: Option<i64>,
        limit: usize,
    ) -> CoreResult<Vec<Seq<UserRef>>>;
    /// Lifts a ban (the membership is not restored). Not banned: `NotFound`.
    async fn delete_ban(&self, channel: &ChannelKey, user: &UserKey) -> CoreResult<()>;

    // --- Messages -----------------------------------------------------------------------------

    /// Reads the sender's and target's roles and the channel, runs `policy` on them, then (for a
    /// PERSISTENT message) stores it, takes the channel's next event number and moves the
    /// channel's LastMessageTimestamp — all in one transaction. A PERSISTENT message with the
    /// (channel, sender, ClientRequestToken) of a stored one is a replay when its fingerprint
    /// matches, else `Conflict`.
    async fn send_message(&self, new: NewMessage, policy: SendPolicy) -> CoreResult<Sent>;
    /// One stored message, with the sender's current name.
    async fn get_message(
        &self,
        channel: &ChannelKey,
        message_id: &str,
    ) -> CoreResult<Option<ChannelMessage>>;
    /// Messages of a channel that `viewer` may see (untargeted, or sent by or to them), in
    /// (creation time, position) order, within the query's window, after `after`.
    async fn list_messages(
        &self,
        channel: &ChannelKey,
        viewer: &UserKey,
        query: MessageQuery,
        after: Option<MessageCursor>,
        limit: usize,
    ) -> CoreResult<Vec<(MessageCursor, ChannelMessage)>>;
    /// Edits or redacts a message and returns it as it now is, with the change's event number.
    /// Missing: `NotFound`; editing a redacted message: `Conflict`.
    async fn change_message(
        &self,
        channel: &ChannelKey,
        message_id: &str,
        change: MessageChange,
        now: Timestamp,
    ) -> CoreResult<(ChannelMessage, u64)>;
    /// Deletes a message and returns it as it was, with the deletion's event number. Missing:
    /// `NotFound`.
    async fn delete_message(
        &self,
        channel: &ChannelKey,
        message_id: &str,
    ) -> CoreResult<(ChannelMessage, u64)>;
    /// Sets the member's read marker. Not a member: `NotFound`.
    async fn update_read_marker(
        &self,
        channel: &ChannelKey,
        user: &UserKey,
        now: Timestamp,
    ) -> CoreResult<()>;

    // --- Tags ---------------------------------------------------------------------------------

    /// Tags of a resource, by key.
    async fn list_tags(&self, target: &TagTarget) -> CoreResult<Vec<Tag>>;
    /// Adds or overwrites tags. More than `max_tags` afterwards: `ResourceLimitExceeded`.
    async fn tag_resource(
        &self,
        target: &TagTarget,
        tags: Vec<Tag>,
        max_tags: usize,
    ) -> CoreResult<()>;
    /// Removes tags by key (absent keys are ignored).
    async fn untag_resource(&self, target: &TagTarget, keys: Vec<String>) -> CoreResult<()>;

    // --- Lifecycle ----------------------------------------------------------------------------

    /// Waits for every acknowledged write to be on disk and releases the store.
    async fn close(&self) -> CoreResult<()>;
}
