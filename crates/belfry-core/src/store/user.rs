//! The UserStore port: appInstanceUsers.

use async_trait::async_trait;

use super::Seq;
use super::StoreResult;
use crate::arn::UserKey;
use crate::model::{AppInstanceUser, Created, Idempotency, Tag};
use crate::time::Timestamp;

/// Persistence of appInstanceUsers.
#[async_trait]
pub trait UserStore: Send + Sync + 'static {
    /// Creates a user with its tags, or replays an earlier identical create. The id already
    /// taken: `UserExists`; AppInstance missing: `NoAppInstance`; same token, different
    /// request: `TokenReused`; more than `max_users`: `Limit(Users)`.
    async fn create_user(
        &self,
        user: AppInstanceUser,
        tags: Vec<Tag>,
        idem: Idempotency,
        max_users: u64,
    ) -> StoreResult<Created>;
    /// One user.
    async fn get_user(&self, key: &UserKey) -> StoreResult<Option<AppInstanceUser>>;
    /// Users of an AppInstance in creation order.
    async fn list_users(
        &self,
        app_instance_id: &str,
        after: Option<i64>,
        limit: usize,
    ) -> StoreResult<Vec<Seq<AppInstanceUser>>>;
    /// Sets name and metadata. Missing: `NoUser`.
    async fn update_user(
        &self,
        key: &UserKey,
        name: String,
        metadata: String,
        now: Timestamp,
    ) -> StoreResult<()>;
    /// Deletes a user with their admin role, memberships, moderator roles, bans and tags.
    /// Missing: `NoUser`.
    async fn delete_user(&self, key: &UserKey) -> StoreResult<()>;
}
