//! MembershipStore on PostgreSQL (placeholder until written: every method fails).
#![allow(unused_variables, unused_imports)]

use async_trait::async_trait;
use belfry_core::arn::{ChannelKey, UserKey};
use belfry_core::model::{Membership, MembershipType, UserMembership, UserRef};
use belfry_core::store::MembershipStore;
use belfry_core::store::StoreResult;
use belfry_core::store::{MembershipLimits, Seq, SessionChannel};
use belfry_core::time::Timestamp;

use super::PgStore;

#[async_trait]
impl MembershipStore for PgStore {
    async fn create_membership(
        &self,
        channel: &ChannelKey,
        member: &UserKey,
        kind: MembershipType,
        invited_by: &UserKey,
        now: Timestamp,
        limits: MembershipLimits,
    ) -> StoreResult<(Membership, u64)> {
        Err(belfry_core::store::StoreError::internal(
            "MembershipStore is not written yet",
        ))
    }
    async fn batch_create_memberships(
        &self,
        channel: &ChannelKey,
        members: Vec<UserKey>,
        kind: MembershipType,
        invited_by: &UserKey,
        now: Timestamp,
        limits: MembershipLimits,
    ) -> StoreResult<(Vec<StoreResult<Membership>>, Option<u64>)> {
        Err(belfry_core::store::StoreError::internal(
            "MembershipStore is not written yet",
        ))
    }
    async fn get_membership(
        &self,
        channel: &ChannelKey,
        member: &UserKey,
    ) -> StoreResult<Option<Membership>> {
        Err(belfry_core::store::StoreError::internal(
            "MembershipStore is not written yet",
        ))
    }
    async fn list_memberships(
        &self,
        channel: &ChannelKey,
        kind: MembershipType,
        after: Option<i64>,
        limit: usize,
    ) -> StoreResult<Vec<Seq<UserRef>>> {
        Err(belfry_core::store::StoreError::internal(
            "MembershipStore is not written yet",
        ))
    }
    async fn delete_membership(
        &self,
        channel: &ChannelKey,
        member: &UserKey,
    ) -> StoreResult<(Membership, u64)> {
        Err(belfry_core::store::StoreError::internal(
            "MembershipStore is not written yet",
        ))
    }
    async fn list_user_memberships(
        &self,
        user: &UserKey,
        after: Option<i64>,
        limit: usize,
    ) -> StoreResult<Vec<Seq<UserMembership>>> {
        Err(belfry_core::store::StoreError::internal(
            "MembershipStore is not written yet",
        ))
    }
    async fn session_channels(&self, user: &UserKey) -> StoreResult<Vec<SessionChannel>> {
        Err(belfry_core::store::StoreError::internal(
            "MembershipStore is not written yet",
        ))
    }
}
