//! The ModerationStore port: channel moderators and bans.

use async_trait::async_trait;

use super::Seq;
use super::StoreResult;
use crate::arn::{ChannelKey, UserKey};
use crate::model::{Ban, Channel, Membership, Moderator, UserRef};
use crate::time::Timestamp;

/// Persistence of channel moderators and bans.
#[async_trait]
pub trait ModerationStore: Send + Sync + 'static {
    /// Grants the moderator role and returns it as stored. Checked in the write's transaction:
    /// `NoChannel`, `NoUser`, `Banned`, `AlreadyModerator`, `Limit(Moderators)`.
    async fn create_moderator(
        &self,
        channel: &ChannelKey,
        user: &UserKey,
        created_by: &UserKey,
        now: Timestamp,
        max_moderators: u64,
    ) -> StoreResult<Moderator>;
    /// One moderator role.
    async fn get_moderator(
        &self,
        channel: &ChannelKey,
        user: &UserKey,
    ) -> StoreResult<Option<Moderator>>;
    /// Moderators in grant order.
    async fn list_moderators(
        &self,
        channel: &ChannelKey,
        after: Option<i64>,
        limit: usize,
    ) -> StoreResult<Vec<Seq<UserRef>>>;
    /// Revokes the moderator role. Not a moderator: `NotModerator`.
    async fn delete_moderator(&self, channel: &ChannelKey, user: &UserKey) -> StoreResult<()>;
    /// Channels a user moderates, in grant order.
    async fn list_moderated_channels(
        &self,
        user: &UserKey,
        after: Option<i64>,
        limit: usize,
    ) -> StoreResult<Vec<Seq<Channel>>>;
    /// Bans a user and, in the same transaction, removes their membership (returned if there
    /// was one, with the removal's event number), beside the ban as stored. `NoChannel`,
    /// `NoUser`; admin or moderator: `Privileged`; already banned: `AlreadyBanned`.
    async fn create_ban(
        &self,
        channel: &ChannelKey,
        user: &UserKey,
        created_by: &UserKey,
        now: Timestamp,
    ) -> StoreResult<(Ban, Option<(Membership, u64)>)>;
    /// One ban.
    async fn get_ban(&self, channel: &ChannelKey, user: &UserKey) -> StoreResult<Option<Ban>>;
    /// Bans in creation order.
    async fn list_bans(
        &self,
        channel: &ChannelKey,
        after: Option<i64>,
        limit: usize,
    ) -> StoreResult<Vec<Seq<UserRef>>>;
    /// Lifts a ban (the membership is not restored). Not banned: `NotBanned`.
    async fn delete_ban(&self, channel: &ChannelKey, user: &UserKey) -> StoreResult<()>;
}
