//! Tags on AppInstances, users and channels (ListTagsForResource, TagResource, UntagResource).

use super::input::{check_tags, TagInput};
use super::Services;
use crate::arn::Resource;
use crate::auth::Caller;
use crate::error::{CoreError, CoreResult};
use crate::model::{Tag, TagKind, TagTarget};
use crate::validate;

impl Services {
    /// Resolves a taggable ARN to its tag target; the resource must exist.
    async fn taggable(&self, arn: &str) -> CoreResult<TagTarget> {
        let parsed = self.arns.parse("ResourceARN", arn)?;
        let missing = || CoreError::not_found(format!("The resource {arn} does not exist."));
        if !parsed.local {
            return Err(missing());
        }
        match parsed.resource {
            Resource::AppInstance { app_instance_id } => {
                self.store
                    .get_app_instance(&app_instance_id)
                    .await?
                    .ok_or_else(missing)?;
                Ok(TagTarget {
                    id: app_instance_id.clone(),
                    app_instance_id,
                    kind: TagKind::AppInstance,
                })
            }
            Resource::User {
                app_instance_id,
                user_id,
            } => {
                let key = crate::arn::UserKey {
                    app_instance_id,
                    user_id,
                };
                self.store.get_user(&key).await?.ok_or_else(missing)?;
                Ok(TagTarget {
                    app_instance_id: key.app_instance_id,
                    kind: TagKind::User,
                    id: key.user_id,
                })
            }
            Resource::Channel {
                app_instance_id,
                channel_id,
            } => {
                let key = crate::arn::ChannelKey {
                    app_instance_id,
                    channel_id,
                };
                self.store.get_channel(&key).await?.ok_or_else(missing)?;
                Ok(TagTarget {
                    app_instance_id: key.app_instance_id,
                    kind: TagKind::Channel,
                    id: key.channel_id,
                })
            }
            Resource::Bot { .. } => Err(missing()),
        }
    }

    /// ListTagsForResource.
    pub async fn list_tags_for_resource(
        &self,
        caller: &Caller,
        arn: Option<&str>,
    ) -> CoreResult<Vec<Tag>> {
        caller.require_developer("ListTagsForResource")?;
        let arn = validate::required("ResourceARN", arn)?;
        let target = self.taggable(arn).await?;
        Ok(self.store.list_tags(&target).await?)
    }

    /// TagResource: adds or overwrites; more than 50 tags in all is ResourceLimitExceeded.
    pub async fn tag_resource(
        &self,
        caller: &Caller,
        arn: Option<String>,
        tags: Option<Vec<TagInput>>,
    ) -> CoreResult<()> {
        caller.require_developer("TagResource")?;
        let arn = validate::required("ResourceARN", arn)?;
        validate::chime_arn("ResourceARN", &arn)?;
        let tags = validate::required("Tags", tags)?;
        let tags = check_tags("Tags", Some(tags))?;
        let target = self.taggable(&arn).await?;
        Ok(self
            .store
            .tag_resource(&target, tags, self.limits.tags_per_resource)
            .await?)
    }

    /// UntagResource.
    pub async fn untag_resource(
        &self,
        caller: &Caller,
        arn: Option<String>,
        keys: Option<Vec<String>>,
    ) -> CoreResult<()> {
        caller.require_developer("UntagResource")?;
        let arn = validate::required("ResourceARN", arn)?;
        validate::chime_arn("ResourceARN", &arn)?;
        let keys = validate::required("TagKeys", keys)?;
        validate::count("TagKeys", keys.len(), 1, 50)?;
        for (i, k) in keys.iter().enumerate() {
            validate::length(&format!("TagKeys.{}.member", i + 1), k, 1, 128)?;
        }
        let target = self.taggable(&arn).await?;
        Ok(self.store.untag_resource(&target, keys).await?)
    }
}
