//! ChannelStore on PostgreSQL (placeholder until written: every method fails).
#![allow(unused_variables, unused_imports)]

use async_trait::async_trait;
use belfry_core::arn::{ChannelKey, UserKey};
use belfry_core::model::{
    Channel, ChannelPrivacy, ChannelUpdate, Created, Idempotency, NewChannel,
};
use belfry_core::perm::Roles;
use belfry_core::store::ChannelStore;
use belfry_core::store::StoreResult;
use belfry_core::store::{ChannelView, MembershipLimits, Seq};
use belfry_core::time::Timestamp;

use super::PgStore;

#[async_trait]
impl ChannelStore for PgStore {
    async fn create_channel(
        &self,
        new: NewChannel,
        idem: Idempotency,
        max_channels: u64,
        limits: MembershipLimits,
    ) -> StoreResult<Created> {
        Err(belfry_core::store::StoreError::internal(
            "ChannelStore is not written yet",
        ))
    }
    async fn get_channel(&self, key: &ChannelKey) -> StoreResult<Option<Channel>> {
        Err(belfry_core::store::StoreError::internal(
            "ChannelStore is not written yet",
        ))
    }
    async fn update_channel(
        &self,
        key: &ChannelKey,
        update: ChannelUpdate,
        now: Timestamp,
    ) -> StoreResult<(Channel, u64)> {
        Err(belfry_core::store::StoreError::internal(
            "ChannelStore is not written yet",
        ))
    }
    async fn delete_channel(&self, key: &ChannelKey) -> StoreResult<(Channel, u64)> {
        Err(belfry_core::store::StoreError::internal(
            "ChannelStore is not written yet",
        ))
    }
    async fn list_channels(
        &self,
        app_instance_id: &str,
        privacy: ChannelPrivacy,
        after: Option<i64>,
        limit: usize,
    ) -> StoreResult<Vec<Seq<Channel>>> {
        Err(belfry_core::store::StoreError::internal(
            "ChannelStore is not written yet",
        ))
    }
    async fn roles(&self, channel: &ChannelKey, user: &UserKey) -> StoreResult<Roles> {
        Err(belfry_core::store::StoreError::internal(
            "ChannelStore is not written yet",
        ))
    }
    async fn channel_access(
        &self,
        channel: &ChannelKey,
        user: &UserKey,
    ) -> StoreResult<ChannelView> {
        Err(belfry_core::store::StoreError::internal(
            "ChannelStore is not written yet",
        ))
    }
}
