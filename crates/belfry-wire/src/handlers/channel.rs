//! CreateChannel, DescribeChannel, UpdateChannel, DeleteChannel, ListChannels.

use belfry_core::service::{CreateChannel, UpdateChannel};
use belfry_core::Services;
use serde::{Deserialize, Serialize};
use serde_with::skip_serializing_none;

use super::Reply;
use crate::dto::{tag_inputs, ChannelDto, ChannelSummaryDto, ExpirationDto, TagDto};
use crate::error::ApiError;
use crate::request::ApiRequest;

const CHANNEL: &str = "channelArn";

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct CreateBody {
    app_instance_arn: Option<String>,
    name: Option<String>,
    mode: Option<String>,
    privacy: Option<String>,
    metadata: Option<String>,
    client_request_token: Option<String>,
    tags: Option<Vec<TagDto>>,
    channel_id: Option<String>,
    member_arns: Option<Vec<String>>,
    moderator_arns: Option<Vec<String>>,
    elastic_channel_configuration: Option<serde_json::Value>,
    expiration_settings: Option<ExpirationDto>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ArnReply {
    channel_arn: String,
}

pub(super) async fn create(s: &Services, req: &ApiRequest) -> Result<Reply, ApiError> {
    let b: CreateBody = req.json()?;
    let input = CreateChannel {
        app_instance_arn: b.app_instance_arn,
        name: b.name,
        mode: b.mode,
        privacy: b.privacy,
        metadata: b.metadata,
        client_request_token: b.client_request_token,
        tags: tag_inputs(b.tags),
        channel_id: b.channel_id,
        member_arns: b.member_arns,
        moderator_arns: b.moderator_arns,
        elastic: b.elastic_channel_configuration.is_some(),
        expiration: b.expiration_settings.map(ExpirationDto::input),
    };
    let arn = s.create_channel(&req.caller, req.bearer(), input).await?;
    Reply::json(&ArnReply { channel_arn: arn })
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DescribeReply {
    channel: ChannelDto,
}

pub(super) async fn describe(s: &Services, req: &ApiRequest) -> Result<Reply, ApiError> {
    let c = s
        .describe_channel(&req.caller, req.bearer(), req.label(CHANNEL))
        .await?;
    Reply::json(&DescribeReply {
        channel: ChannelDto::of(s.arns(), c),
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct UpdateBody {
    name: Option<String>,
    mode: Option<String>,
    metadata: Option<String>,
}

pub(super) async fn update(s: &Services, req: &ApiRequest) -> Result<Reply, ApiError> {
    let b: UpdateBody = req.json()?;
    let input = UpdateChannel {
        name: b.name,
        mode: b.mode,
        metadata: b.metadata,
    };
    let arn = s
        .update_channel(&req.caller, req.bearer(), req.label(CHANNEL), input)
        .await?;
    Reply::json(&ArnReply { channel_arn: arn })
}

pub(super) async fn delete(s: &Services, req: &ApiRequest) -> Result<Reply, ApiError> {
    s.delete_channel(&req.caller, req.bearer(), req.label(CHANNEL))
        .await?;
    Ok(Reply::Empty)
}

#[skip_serializing_none]
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ListReply {
    channels: Vec<ChannelSummaryDto>,
    next_token: Option<String>,
}

pub(super) async fn list(s: &Services, req: &ApiRequest) -> Result<Reply, ApiError> {
    let max = req.query_int("max-results", "MaxResults")?;
    let page = s
        .list_channels(
            &req.caller,
            req.bearer(),
            req.query("app-instance-arn"),
            req.query("privacy"),
            max,
            req.query("next-token"),
        )
        .await?;
    Reply::json(&ListReply {
        channels: page
            .items
            .into_iter()
            .map(|c| ChannelSummaryDto::of(s.arns(), c))
            .collect(),
        next_token: page.next_token,
    })
}
