//! The ChannelStore port: channels, and what a user is in one.

use async_trait::async_trait;

use super::StoreResult;
use super::{ChannelView, MembershipLimits, Seq};
use crate::arn::{ChannelKey, UserKey};
use crate::model::{Channel, ChannelPrivacy, ChannelUpdate, Created, Idempotency, NewChannel};
use crate::perm::Roles;
use crate::time::Timestamp;

/// Persistence of channels, and what a user is in one.
#[async_trait]
pub trait ChannelStore: Send + Sync + 'static {
    /// Creates a channel with its moderators, members and tags, or replays an earlier identical
    /// create. Same token, different request: `TokenReused`; channel id taken:
    /// `ChannelExists`; more than `max_channels`: `Limit(Channels)`; a member in too many
    /// channels (`limits`, as `create_membership` counts them): `Limit(UserChannels)`.
    /// The members' MembershipCreated events are numbered 1..=n in `new.members` order, and the
    /// channel's event sequence continues from n.
    async fn create_channel(
        &self,
        new: NewChannel,
        idem: Idempotency,
        max_channels: u64,
        limits: MembershipLimits,
    ) -> StoreResult<Created>;
    /// One channel, with its creator's current name.
    async fn get_channel(&self, key: &ChannelKey) -> StoreResult<Option<Channel>>;
    /// Applies an update and returns the channel as it now is, with the update's event number.
    /// Missing: `NoChannel`.
    async fn update_channel(
        &self,
        key: &ChannelKey,
        update: ChannelUpdate,
        now: Timestamp,
    ) -> StoreResult<(Channel, u64)>;
    /// Deletes a channel with its memberships, moderators, bans, messages and tags; returns it
    /// as it was, with the deletion's event number (the channel's last). Missing: `NoChannel`.
    async fn delete_channel(&self, key: &ChannelKey) -> StoreResult<(Channel, u64)>;
    /// Channels of an AppInstance with the given privacy, in creation order.
    async fn list_channels(
        &self,
        app_instance_id: &str,
        privacy: ChannelPrivacy,
        after: Option<i64>,
        limit: usize,
    ) -> StoreResult<Vec<Seq<Channel>>>;
    /// The user's roles relative to the channel (admin, moderator, membership, ban).
    async fn roles(&self, channel: &ChannelKey, user: &UserKey) -> StoreResult<Roles>;
    /// In one read: whether `user` exists, the channel (if it exists) and the user's roles in
    /// it — what every channel operation needs first.
    async fn channel_access(
        &self,
        channel: &ChannelKey,
        user: &UserKey,
    ) -> StoreResult<ChannelView>;
}
