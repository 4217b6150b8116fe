//! TagStore on PostgreSQL (placeholder until written: every method fails).
#![allow(unused_variables, unused_imports)]

use async_trait::async_trait;
use belfry_core::model::{Tag, TagTarget};
use belfry_core::store::StoreResult;
use belfry_core::store::TagStore;

use super::PgStore;

#[async_trait]
impl TagStore for PgStore {
    async fn list_tags(&self, target: &TagTarget) -> StoreResult<Vec<Tag>> {
        Err(belfry_core::store::StoreError::internal(
            "TagStore is not written yet",
        ))
    }
    async fn tag_resource(
        &self,
        target: &TagTarget,
        tags: Vec<Tag>,
        max_tags: usize,
    ) -> StoreResult<()> {
        Err(belfry_core::store::StoreError::internal(
            "TagStore is not written yet",
        ))
    }
    async fn untag_resource(&self, target: &TagTarget, keys: Vec<String>) -> StoreResult<()> {
        Err(belfry_core::store::StoreError::internal(
            "TagStore is not written yet",
        ))
    }
}
