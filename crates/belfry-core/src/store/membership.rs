//! The MembershipStore port: channel memberships.

use async_trait::async_trait;

use super::StoreResult;
use super::{MembershipLimits, Seq, SessionChannel};
use crate::arn::{ChannelKey, UserKey};
use crate::model::{Membership, MembershipType, UserMembership, UserRef};
use crate::time::Timestamp;

/// Persistence of channel memberships.
#[async_trait]
pub trait MembershipStore: Send + Sync + 'static {
    /// Adds a member; returns the membership as stored and its event number. Checked in the
    /// write's transaction, in this order: `NoChannel`, `NoUser`, `Banned`, `AlreadyMember`,
    /// `Limit(ChannelMembers)`, `Limit(UserChannels)`.
    async fn create_membership(
        &self,
        channel: &ChannelKey,
        member: &UserKey,
        kind: MembershipType,
        invited_by: &UserKey,
        now: Timestamp,
        limits: MembershipLimits,
    ) -> StoreResult<(Membership, u64)>;
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
    ) -> StoreResult<(Vec<StoreResult<Membership>>, Option<u64>)>;
    /// One membership.
    async fn get_membership(
        &self,
        channel: &ChannelKey,
        member: &UserKey,
    ) -> StoreResult<Option<Membership>>;
    /// Members of one type in creation order.
    async fn list_memberships(
        &self,
        channel: &ChannelKey,
        kind: MembershipType,
        after: Option<i64>,
        limit: usize,
    ) -> StoreResult<Vec<Seq<UserRef>>>;
    /// Removes a membership and returns it as it was, with the removal's event number. Not a
    /// member: `NotMember`.
    async fn delete_membership(
        &self,
        channel: &ChannelKey,
        member: &UserKey,
    ) -> StoreResult<(Membership, u64)>;
    /// A user's memberships with their channels, in membership creation order.
    async fn list_user_memberships(
        &self,
        user: &UserKey,
        after: Option<i64>,
        limit: usize,
    ) -> StoreResult<Vec<Seq<UserMembership>>>;
    /// All of a user's memberships with each channel's event sequence number, in one snapshot
    /// (for a connecting websocket session).
    async fn session_channels(&self, user: &UserKey) -> StoreResult<Vec<SessionChannel>>;
}
