//! Channel moderators and bans.

use belfry_core::Services;
use serde::{Deserialize, Serialize};
use serde_with::skip_serializing_none;

use super::Reply;
use crate::dto::{identities, ChannelBanDto, ChannelModeratorDto, ChannelSummaryDto, Identity};
use crate::error::ApiError;
use crate::request::ApiRequest;

const CHANNEL: &str = "channelArn";
const MODERATOR: &str = "channelModeratorArn";
const MEMBER: &str = "memberArn";

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct CreateModeratorBody {
    channel_moderator_arn: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct CreateModeratorReply {
    channel_arn: String,
    channel_moderator: Identity,
}

pub(super) async fn create_moderator(s: &Services, req: &ApiRequest) -> Result<Reply, ApiError> {
    let b: CreateModeratorBody = req.json()?;
    let m = s
        .create_channel_moderator(
            &req.caller,
            req.bearer(),
            req.label(CHANNEL),
            b.channel_moderator_arn,
        )
        .await?;
    Reply::json(&CreateModeratorReply {
        channel_arn: req.label(CHANNEL).to_string(),
        channel_moderator: Identity::of(s.arns(), &m.moderator),
    })
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DescribeModeratorReply {
    channel_moderator: ChannelModeratorDto,
}

pub(super) async fn describe_moderator(s: &Services, req: &ApiRequest) -> Result<Reply, ApiError> {
    let m = s
        .describe_channel_moderator(
            &req.caller,
            req.bearer(),
            req.label(CHANNEL),
            req.label(MODERATOR),
        )
        .await?;
    Reply::json(&DescribeModeratorReply {
        channel_moderator: ChannelModeratorDto::of(s.arns(), m),
    })
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ModeratorSummary {
    moderator: Identity,
}

#[skip_serializing_none]
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ListModeratorsReply {
    channel_arn: String,
    next_token: Option<String>,
    channel_moderators: Vec<ModeratorSummary>,
}

pub(super) async fn list_moderators(s: &Services, req: &ApiRequest) -> Result<Reply, ApiError> {
    let max = req.query_int("max-results", "MaxResults")?;
    let page = s
        .list_channel_moderators(
            &req.caller,
            req.bearer(),
            req.label(CHANNEL),
            max,
            req.query("next-token"),
        )
        .await?;
    Reply::json(&ListModeratorsReply {
        channel_arn: req.label(CHANNEL).to_string(),
        next_token: page.next_token,
        channel_moderators: identities(s.arns(), &page.items)
            .into_iter()
            .map(|moderator| ModeratorSummary { moderator })
            .collect(),
    })
}

pub(super) async fn delete_moderator(s: &Services, req: &ApiRequest) -> Result<Reply, ApiError> {
    s.delete_channel_moderator(
        &req.caller,
        req.bearer(),
        req.label(CHANNEL),
        req.label(MODERATOR),
    )
    .await?;
    Ok(Reply::Empty)
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ModeratedSummary {
    channel_summary: ChannelSummaryDto,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DescribeModeratedReply {
    channel: ModeratedSummary,
}

pub(super) async fn describe_moderated(s: &Services, req: &ApiRequest) -> Result<Reply, ApiError> {
    let c = s
        .describe_channel_moderated_by_app_instance_user(
            &req.caller,
            req.bearer(),
            req.label(CHANNEL),
            req.query("app-instance-user-arn"),
        )
        .await?;
    Reply::json(&DescribeModeratedReply {
        channel: ModeratedSummary {
            channel_summary: ChannelSummaryDto::of(s.arns(), c),
        },
    })
}

#[skip_serializing_none]
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ListModeratedReply {
    channels: Vec<ModeratedSummary>,
    next_token: Option<String>,
}

pub(super) async fn list_moderated(s: &Services, req: &ApiRequest) -> Result<Reply, ApiError> {
    let max = req.query_int("max-results", "MaxResults")?;
    let page = s
        .list_channels_moderated_by_app_instance_user(
            &req.caller,
            req.bearer(),
            req.query("app-instance-user-arn"),
            max,
            req.query("next-token"),
        )
        .await?;
    Reply::json(&ListModeratedReply {
        channels: page
            .items
            .into_iter()
            .map(|c| ModeratedSummary {
                channel_summary: ChannelSummaryDto::of(s.arns(), c),
            })
            .collect(),
        next_token: page.next_token,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct CreateBanBody {
    member_arn: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct CreateBanReply {
    channel_arn: String,
    member: Identity,
}

pub(super) async fn create_ban(s: &Services, req: &ApiRequest) -> Result<Reply, ApiError> {
    let b: CreateBanBody = req.json()?;
    let ban = s
        .create_channel_ban(&req.caller, req.bearer(), req.label(CHANNEL), b.member_arn)
        .await?;
    Reply::json(&CreateBanReply {
        channel_arn: req.label(CHANNEL).to_string(),
        member: Identity::of(s.arns(), &ban.member),
    })
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DescribeBanReply {
    channel_ban: ChannelBanDto,
}

pub(super) async fn describe_ban(s: &Services, req: &ApiRequest) -> Result<Reply, ApiError> {
    let b = s
        .describe_channel_ban(
            &req.caller,
            req.bearer(),
            req.label(CHANNEL),
            req.label(MEMBER),
        )
        .await?;
    Reply::json(&DescribeBanReply {
        channel_ban: ChannelBanDto::of(s.arns(), b),
    })
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct BanSummary {
    member: Identity,
}

#[skip_serializing_none]
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ListBansReply {
    channel_arn: String,
    next_token: Option<String>,
    channel_bans: Vec<BanSummary>,
}

pub(super) async fn list_bans(s: &Services, req: &ApiRequest) -> Result<Reply, ApiError> {
    let max = req.query_int("max-results", "MaxResults")?;
    let page = s
        .list_channel_bans(
            &req.caller,
            req.bearer(),
            req.label(CHANNEL),
            max,
            req.query("next-token"),
        )
        .await?;
    Reply::json(&ListBansReply {
        channel_arn: req.label(CHANNEL).to_string(),
        next_token: page.next_token,
        channel_bans: identities(s.arns(), &page.items)
            .into_iter()
            .map(|member| BanSummary { member })
            .collect(),
    })
}

pub(super) async fn delete_ban(s: &Services, req: &ApiRequest) -> Result<Reply, ApiError> {
    s.delete_channel_ban(
        &req.caller,
        req.bearer(),
        req.label(CHANNEL),
        req.label(MEMBER),
    )
    .await?;
    Ok(Reply::Empty)
}
