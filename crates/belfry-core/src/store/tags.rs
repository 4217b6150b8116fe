//! The TagStore port: tags on AppInstances, users and channels.

use async_trait::async_trait;

use super::StoreResult;
use crate::model::{Tag, TagTarget};

/// Persistence of tags on AppInstances, users and channels.
#[async_trait]
pub trait TagStore: Send + Sync + 'static {
    /// Tags of a resource, by key.
    async fn list_tags(&self, target: &TagTarget) -> StoreResult<Vec<Tag>>;
    /// Adds or overwrites tags. More than `max_tags` afterwards: `Limit(Tags)`.
    async fn tag_resource(
        &self,
        target: &TagTarget,
        tags: Vec<Tag>,
        max_tags: usize,
    ) -> StoreResult<()>;
    /// Removes tags by key (absent keys are ignored).
    async fn untag_resource(&self, target: &TagTarget, keys: Vec<String>) -> StoreResult<()>;
}
