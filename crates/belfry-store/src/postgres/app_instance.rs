//! AppInstanceStore on PostgreSQL (placeholder until written: every method fails).
#![allow(unused_variables, unused_imports)]

use async_trait::async_trait;
use belfry_core::arn::UserKey;
use belfry_core::model::{AppInstance, AppInstanceAdmin, Created, Idempotency, Tag};
use belfry_core::store::AppInstanceStore;
use belfry_core::store::Seq;
use belfry_core::store::StoreResult;
use belfry_core::time::Timestamp;

use super::PgStore;

#[async_trait]
impl AppInstanceStore for PgStore {
    async fn create_app_instance(
        &self,
        app: AppInstance,
        tags: Vec<Tag>,
        idem: Idempotency,
        max_app_instances: u64,
    ) -> StoreResult<Created> {
        Err(belfry_core::store::StoreError::internal(
            "AppInstanceStore is not written yet",
        ))
    }
    async fn get_app_instance(&self, id: &str) -> StoreResult<Option<AppInstance>> {
        Err(belfry_core::store::StoreError::internal(
            "AppInstanceStore is not written yet",
        ))
    }
    async fn list_app_instances(
        &self,
        after: Option<i64>,
        limit: usize,
    ) -> StoreResult<Vec<Seq<AppInstance>>> {
        Err(belfry_core::store::StoreError::internal(
            "AppInstanceStore is not written yet",
        ))
    }
    async fn update_app_instance(
        &self,
        id: &str,
        name: String,
        metadata: String,
        now: Timestamp,
    ) -> StoreResult<()> {
        Err(belfry_core::store::StoreError::internal(
            "AppInstanceStore is not written yet",
        ))
    }
    async fn delete_app_instance(&self, id: &str) -> StoreResult<()> {
        Err(belfry_core::store::StoreError::internal(
            "AppInstanceStore is not written yet",
        ))
    }
    async fn create_admin(
        &self,
        key: &UserKey,
        now: Timestamp,
        max_admins: u64,
    ) -> StoreResult<AppInstanceAdmin> {
        Err(belfry_core::store::StoreError::internal(
            "AppInstanceStore is not written yet",
        ))
    }
    async fn get_admin(&self, key: &UserKey) -> StoreResult<Option<AppInstanceAdmin>> {
        Err(belfry_core::store::StoreError::internal(
            "AppInstanceStore is not written yet",
        ))
    }
    async fn list_admins(
        &self,
        app_instance_id: &str,
        after: Option<i64>,
        limit: usize,
    ) -> StoreResult<Vec<Seq<AppInstanceAdmin>>> {
        Err(belfry_core::store::StoreError::internal(
            "AppInstanceStore is not written yet",
        ))
    }
    async fn delete_admin(&self, key: &UserKey) -> StoreResult<()> {
        Err(belfry_core::store::StoreError::internal(
            "AppInstanceStore is not written yet",
        ))
    }
    async fn is_admin(&self, user: &UserKey) -> StoreResult<bool> {
        Err(belfry_core::store::StoreError::internal(
            "AppInstanceStore is not written yet",
        ))
    }
}
