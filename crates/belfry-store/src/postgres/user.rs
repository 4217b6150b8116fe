//! UserStore on PostgreSQL (placeholder until written: every method fails).
#![allow(unused_variables, unused_imports)]

use async_trait::async_trait;
use belfry_core::arn::UserKey;
use belfry_core::model::{AppInstanceUser, Created, Idempotency, Tag};
use belfry_core::store::Seq;
use belfry_core::store::StoreResult;
use belfry_core::store::UserStore;
use belfry_core::time::Timestamp;

use super::PgStore;

#[async_trait]
impl UserStore for PgStore {
    async fn create_user(
        &self,
        user: AppInstanceUser,
        tags: Vec<Tag>,
        idem: Idempotency,
        max_users: u64,
    ) -> StoreResult<Created> {
        Err(belfry_core::store::StoreError::internal(
            "UserStore is not written yet",
        ))
    }
    async fn get_user(&self, key: &UserKey) -> StoreResult<Option<AppInstanceUser>> {
        Err(belfry_core::store::StoreError::internal(
            "UserStore is not written yet",
        ))
    }
    async fn list_users(
        &self,
        app_instance_id: &str,
        after: Option<i64>,
        limit: usize,
    ) -> StoreResult<Vec<Seq<AppInstanceUser>>> {
        Err(belfry_core::store::StoreError::internal(
            "UserStore is not written yet",
        ))
    }
    async fn update_user(
        &self,
        key: &UserKey,
        name: String,
        metadata: String,
        now: Timestamp,
    ) -> StoreResult<()> {
        Err(belfry_core::store::StoreError::internal(
            "UserStore is not written yet",
        ))
    }
    async fn delete_user(&self, key: &UserKey) -> StoreResult<()> {
        Err(belfry_core::store::StoreError::internal(
            "UserStore is not written yet",
        ))
    }
}
