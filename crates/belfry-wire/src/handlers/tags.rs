//! ListTagsForResource, TagResource, UntagResource (identical in both services).

use belfry_core::Services;
use serde::{Deserialize, Serialize};

use super::Reply;
use crate::dto::{tag_inputs, TagDto};
use crate::error::ApiError;
use crate::request::ApiRequest;

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ListReply {
    tags: Vec<TagDto>,
}

pub(super) async fn list(s: &Services, req: &ApiRequest) -> Result<Reply, ApiError> {
    let tags = s
        .list_tags_for_resource(&req.caller, req.query("arn"))
        .await?;
    Reply::json(&ListReply {
        tags: tags.into_iter().map(TagDto::of).collect(),
    })
}

#[derive(Deserialize)]
pub(super) struct TagBody {
    #[serde(rename = "ResourceARN")]
    resource_arn: Option<String>,
    #[serde(rename = "Tags")]
    tags: Option<Vec<TagDto>>,
}

pub(super) async fn tag(s: &Services, req: &ApiRequest) -> Result<Reply, ApiError> {
    let b: TagBody = req.json()?;
    s.tag_resource(&req.caller, b.resource_arn, tag_inputs(b.tags))
        .await?;
    Ok(Reply::Empty)
}

#[derive(Deserialize)]
pub(super) struct UntagBody {
    #[serde(rename = "ResourceARN")]
    resource_arn: Option<String>,
    #[serde(rename = "TagKeys")]
    tag_keys: Option<Vec<String>>,
}

pub(super) async fn untag(s: &Services, req: &ApiRequest) -> Result<Reply, ApiError> {
    let b: UntagBody = req.json()?;
    s.untag_resource(&req.caller, b.resource_arn, b.tag_keys)
        .await?;
    Ok(Reply::Empty)
}
