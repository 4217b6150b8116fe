//! ModerationStore on PostgreSQL (placeholder until written: every method fails).
#![allow(unused_variables, unused_imports)]

use async_trait::async_trait;
use belfry_core::arn::{ChannelKey, UserKey};
use belfry_core::model::{Ban, Channel, Membership, Moderator, UserRef};
use belfry_core::store::ModerationStore;
use belfry_core::store::Seq;
use belfry_core::store::StoreResult;
use belfry_core::time::Timestamp;

use super::PgStore;

#[async_trait]
impl ModerationStore for PgStore {
    async fn create_moderator(
        &self,
        channel: &ChannelKey,
        user: &UserKey,
        created_by: &UserKey,
        now: Timestamp,
        max_moderators: u64,
    ) -> StoreResult<Moderator> {
        Err(belfry_core::store::StoreError::internal(
            "ModerationStore is not written yet",
        ))
    }
    async fn get_moderator(
        &self,
        channel: &ChannelKey,
        user: &UserKey,
    ) -> StoreResult<Option<Moderator>> {
        Err(belfry_core::store::StoreError::internal(
            "ModerationStore is not written yet",
        ))
    }
    async fn list_moderators(
        &self,
        channel: &ChannelKey,
        after: Option<i64>,
        limit: usize,
    ) -> StoreResult<Vec<Seq<UserRef>>> {
        Err(belfry_core::store::StoreError::internal(
            "ModerationStore is not written yet",
        ))
    }
    async fn delete_moderator(&self, channel: &ChannelKey, user: &UserKey) -> StoreResult<()> {
        Err(belfry_core::store::StoreError::internal(
            "ModerationStore is not written yet",
        ))
    }
    async fn list_moderated_channels(
        &self,
        user: &UserKey,
        after: Option<i64>,
        limit: usize,
    ) -> StoreResult<Vec<Seq<Channel>>> {
        Err(belfry_core::store::StoreError::internal(
            "ModerationStore is not written yet",
        ))
    }
    async fn create_ban(
        &self,
        channel: &ChannelKey,
        user: &UserKey,
        created_by: &UserKey,
        now: Timestamp,
    ) -> StoreResult<(Ban, Option<(Membership, u64)>)> {
        Err(belfry_core::store::StoreError::internal(
            "ModerationStore is not written yet",
        ))
    }
    async fn get_ban(&self, channel: &ChannelKey, user: &UserKey) -> StoreResult<Option<Ban>> {
        Err(belfry_core::store::StoreError::internal(
            "ModerationStore is not written yet",
        ))
    }
    async fn list_bans(
        &self,
        channel: &ChannelKey,
        after: Option<i64>,
        limit: usize,
    ) -> StoreResult<Vec<Seq<UserRef>>> {
        Err(belfry_core::store::StoreError::internal(
            "ModerationStore is not written yet",
        ))
    }
    async fn delete_ban(&self, channel: &ChannelKey, user: &UserKey) -> StoreResult<()> {
        Err(belfry_core::store::StoreError::internal(
            "ModerationStore is not written yet",
        ))
    }
}
