//! The AppInstanceStore port: appInstances and their AppInstanceAdmins.

use async_trait::async_trait;

use super::Seq;
use super::StoreResult;
use crate::arn::UserKey;
use crate::model::{AppInstance, AppInstanceAdmin, Created, Idempotency, Tag};
use crate::time::Timestamp;

/// Persistence of appInstances and their AppInstanceAdmins.
#[async_trait]
pub trait AppInstanceStore: Send + Sync + 'static {
    /// Creates an AppInstance with its tags, or replays an earlier identical create.
    /// Same token, different request: `TokenReused`; more than `max_app_instances`:
    /// `Limit(AppInstances)`.
    async fn create_app_instance(
        &self,
        app: AppInstance,
        tags: Vec<Tag>,
        idem: Idempotency,
        max_app_instances: u64,
    ) -> StoreResult<Created>;
    /// One AppInstance.
    async fn get_app_instance(&self, id: &str) -> StoreResult<Option<AppInstance>>;
    /// AppInstances in creation order, after `after`, at most `limit`.
    async fn list_app_instances(
        &self,
        after: Option<i64>,
        limit: usize,
    ) -> StoreResult<Vec<Seq<AppInstance>>>;
    /// Sets name and metadata. Missing: `NoAppInstance`.
    async fn update_app_instance(
        &self,
        id: &str,
        name: String,
        metadata: String,
        now: Timestamp,
    ) -> StoreResult<()>;
    /// Deletes an AppInstance and everything in it. Missing: `NoAppInstance`.
    async fn delete_app_instance(&self, id: &str) -> StoreResult<()>;
    /// Grants the admin role and returns it as stored. User missing: `NoUser`; already admin:
    /// `AlreadyAdmin`; more than `max_admins`: `Limit(Admins)` (checked in the write's
    /// transaction).
    async fn create_admin(
        &self,
        key: &UserKey,
        now: Timestamp,
        max_admins: u64,
    ) -> StoreResult<AppInstanceAdmin>;
    /// One admin role.
    async fn get_admin(&self, key: &UserKey) -> StoreResult<Option<AppInstanceAdmin>>;
    /// Admins of an AppInstance in grant order.
    async fn list_admins(
        &self,
        app_instance_id: &str,
        after: Option<i64>,
        limit: usize,
    ) -> StoreResult<Vec<Seq<AppInstanceAdmin>>>;
    /// Revokes the admin role. Not admin: `NotAdmin`.
    async fn delete_admin(&self, key: &UserKey) -> StoreResult<()>;

    /// Whether the user is an AppInstanceAdmin.
    async fn is_admin(&self, user: &UserKey) -> StoreResult<bool>;
}
