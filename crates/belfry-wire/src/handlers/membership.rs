//! Channel memberships, including the ForAppInstanceUser views.

use belfry_core::Services;
use serde::{Deserialize, Serialize};
use serde_with::skip_serializing_none;

use super::Reply;
use crate::dto::{
    identities, BatchChannelMembershipsDto, ChannelMembershipDto,
    ChannelMembershipForAppInstanceUserSummaryDto, Identity,
};
use crate::error::ApiError;
use crate::request::ApiRequest;

const CHANNEL: &str = "channelArn";
const MEMBER: &str = "memberArn";

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct CreateBody {
    member_arn: Option<String>,
    #[serde(rename = "Type")]
    kind: Option<String>,
    sub_channel_id: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct CreateReply {
    channel_arn: String,
    member: Identity,
}

pub(super) async fn create(s: &Services, req: &ApiRequest) -> Result<Reply, ApiError> {
    let b: CreateBody = req.json()?;
    let m = s
        .create_channel_membership(
            &req.caller,
            req.bearer(),
            req.label(CHANNEL),
            b.member_arn,
            b.kind,
            b.sub_channel_id,
        )
        .await?;
    Reply::json(&CreateReply {
        channel_arn: req.label(CHANNEL).to_string(),
        member: Identity::of(s.arns(), &m.member),
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct BatchBody {
    member_arns: Option<Vec<String>>,
    #[serde(rename = "Type")]
    kind: Option<String>,
    sub_channel_id: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct BatchErrorDto {
    member_arn: String,
    error_code: &'static str,
    error_message: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct BatchReply {
    batch_channel_memberships: BatchChannelMembershipsDto,
    errors: Vec<BatchErrorDto>,
}

pub(super) async fn batch_create(s: &Services, req: &ApiRequest) -> Result<Reply, ApiError> {
    let b: BatchBody = req.json()?;
    let out = s
        .batch_create_channel_membership(
            &req.caller,
            req.bearer(),
            req.label(CHANNEL),
            b.member_arns,
            b.kind,
            b.sub_channel_id,
        )
        .await?;
    Reply::json(&BatchReply {
        batch_channel_memberships: BatchChannelMembershipsDto::of(
            s.arns(),
            req.label(CHANNEL).to_string(),
            &out.invited_by,
            out.kind,
            &out.members,
        ),
        errors: out
            .errors
            .into_iter()
            .map(|e| BatchErrorDto {
                member_arn: e.member_arn,
                error_code: e.code,
                error_message: e.message,
            })
            .collect(),
    })
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DescribeReply {
    channel_membership: ChannelMembershipDto,
}

pub(super) async fn describe(s: &Services, req: &ApiRequest) -> Result<Reply, ApiError> {
    let m = s
        .describe_channel_membership(
            &req.caller,
            req.bearer(),
            req.label(CHANNEL),
            req.label(MEMBER),
            req.query("sub-channel-id"),
        )
        .await?;
    Reply::json(&DescribeReply {
        channel_membership: ChannelMembershipDto::of(s.arns(), m),
    })
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct MemberSummary {
    member: Identity,
}

#[skip_serializing_none]
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ListReply {
    channel_arn: String,
    channel_memberships: Vec<MemberSummary>,
    next_token: Option<String>,
}

pub(super) async fn list(s: &Services, req: &ApiRequest) -> Result<Reply, ApiError> {
    let max = req.query_int("max-results", "MaxResults")?;
    let page = s
        .list_channel_memberships(
            &req.caller,
            req.bearer(),
            req.label(CHANNEL),
            req.query("type"),
            max,
            req.query("next-token"),
            req.query("sub-channel-id"),
        )
        .await?;
    Reply::json(&ListReply {
        channel_arn: req.label(CHANNEL).to_string(),
        channel_memberships: identities(s.arns(), &page.items)
            .into_iter()
            .map(|member| MemberSummary { member })
            .collect(),
        next_token: page.next_token,
    })
}

pub(super) async fn delete(s: &Services, req: &ApiRequest) -> Result<Reply, ApiError> {
    s.delete_channel_membership(
        &req.caller,
        req.bearer(),
        req.label(CHANNEL),
        req.label(MEMBER),
        req.query("sub-channel-id"),
    )
    .await?;
    Ok(Reply::Empty)
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DescribeForUserReply {
    channel_membership: ChannelMembershipForAppInstanceUserSummaryDto,
}

pub(super) async fn describe_for_user(s: &Services, req: &ApiRequest) -> Result<Reply, ApiError> {
    let m = s
        .describe_channel_membership_for_app_instance_user(
            &req.caller,
            req.bearer(),
            req.label(CHANNEL),
            req.query("app-instance-user-arn"),
        )
        .await?;
    Reply::json(&DescribeForUserReply {
        channel_membership: ChannelMembershipForAppInstanceUserSummaryDto::of(s.arns(), m),
    })
}

#[skip_serializing_none]
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ListForUserReply {
    channel_memberships: Vec<ChannelMembershipForAppInstanceUserSummaryDto>,
    next_token: Option<String>,
}

pub(super) async fn list_for_user(s: &Services, req: &ApiRequest) -> Result<Reply, ApiError> {
    let max = req.query_int("max-results", "MaxResults")?;
    let page = s
        .list_channel_memberships_for_app_instance_user(
            &req.caller,
            req.bearer(),
            req.query("app-instance-user-arn"),
            max,
            req.query("next-token"),
        )
        .await?;
    Reply::json(&ListForUserReply {
        channel_memberships: page
            .items
            .into_iter()
            .map(|m| ChannelMembershipForAppInstanceUserSummaryDto::of(s.arns(), m))
            .collect(),
        next_token: page.next_token,
    })
}
