//! Channel messages and read markers.

use std::collections::BTreeMap;

use belfry_core::arn::ArnContext;
use belfry_core::model::ChannelMessage;
use belfry_core::service::{
    ListChannelMessages, PushInput, SendChannelMessage, UpdateChannelMessage,
};
use belfry_core::time::Timestamp;
use belfry_core::{validate, Services};
use serde::{Deserialize, Serialize};
use serde_with::skip_serializing_none;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::Reply;
use crate::dto::{EpochSeconds, Identity, TimeFormat};
use crate::error::ApiError;
use crate::request::ApiRequest;

const CHANNEL: &str = "channelArn";
const MESSAGE: &str = "messageId";

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PushDto {
    title: Option<String>,
    body: Option<String>,
    #[serde(rename = "Type")]
    kind: Option<String>,
}

#[derive(Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AttributeDto {
    string_values: Option<Vec<String>>,
}

#[derive(Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct TargetDto {
    member_arn: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct SendBody {
    content: Option<String>,
    #[serde(rename = "Type")]
    kind: Option<String>,
    persistence: Option<String>,
    metadata: Option<String>,
    client_request_token: Option<String>,
    push_notification: Option<PushDto>,
    message_attributes: Option<BTreeMap<String, AttributeDto>>,
    sub_channel_id: Option<String>,
    content_type: Option<String>,
    target: Option<Vec<TargetDto>>,
}

#[derive(Serialize)]
pub(crate) struct StatusDto {
    #[serde(rename = "Value")]
    value: &'static str,
}

const SENT: StatusDto = StatusDto { value: "SENT" };

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct SendReply {
    channel_arn: String,
    message_id: String,
    status: StatusDto,
}

pub(super) async fn send(s: &Services, req: &ApiRequest) -> Result<Reply, ApiError> {
    let b: SendBody = req.json()?;
    let input = SendChannelMessage {
        content: b.content,
        kind: b.kind,
        persistence: b.persistence,
        metadata: b.metadata,
        client_request_token: b.client_request_token,
        push: b.push_notification.map(|p| PushInput {
            title: p.title,
            body: p.body,
            kind: p.kind,
        }),
        attributes: b
            .message_attributes
            .map(|m| m.into_iter().map(|(k, v)| (k, v.string_values)).collect()),
        sub_channel_id: b.sub_channel_id,
        content_type: b.content_type,
        target: b
            .target
            .map(|t| t.into_iter().map(|x| x.member_arn).collect()),
    };
    let m = s
        .send_channel_message(&req.caller, req.bearer(), req.label(CHANNEL), input)
        .await?;
    Reply::json(&SendReply {
        channel_arn: req.label(CHANNEL).to_string(),
        message_id: m.message_id,
        status: SENT,
    })
}

/// `ChannelMessage` (with ChannelArn and Persistence) or `ChannelMessageSummary` (without).
#[skip_serializing_none]
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct MessageDto<T: TimeFormat = EpochSeconds> {
    channel_arn: Option<String>,
    message_id: String,
    content: Option<String>,
    metadata: Option<String>,
    #[serde(rename = "Type")]
    kind: &'static str,
    created_timestamp: T,
    last_edited_timestamp: Option<T>,
    last_updated_timestamp: T,
    sender: Identity,
    redacted: bool,
    persistence: Option<&'static str>,
    status: StatusDto,
    message_attributes: Option<BTreeMap<String, AttributeDto>>,
    content_type: Option<String>,
    target: Option<Vec<TargetDto>>,
}

/// The one mapping of a message to its wire shape; `full` adds ChannelArn and Persistence.
pub(crate) fn message_dto<T: TimeFormat>(
    arns: &ArnContext,
    m: ChannelMessage,
    full: bool,
) -> MessageDto<T> {
    MessageDto {
        channel_arn: full.then(|| arns.channel(&m.channel.app_instance_id, &m.channel.channel_id)),
        message_id: m.message_id,
        content: m.content,
        metadata: m.metadata,
        kind: m.kind.as_str(),
        created_timestamp: T::of(m.created),
        last_edited_timestamp: m.edited.map(T::of),
        last_updated_timestamp: T::of(m.updated),
        sender: Identity::of(arns, &m.sender),
        redacted: m.redacted,
        persistence: full.then_some(m.persistence.as_str()),
        status: SENT,
        message_attributes: (!m.attributes.is_empty()).then(|| {
            m.attributes
                .into_iter()
                .map(|(k, v)| {
                    (
                        k,
                        AttributeDto {
                            string_values: Some(v),
                        },
                    )
                })
                .collect()
        }),
        content_type: m.content_type,
        target: m.target.map(|t| {
            vec![TargetDto {
                member_arn: Some(arns.user(&t.app_instance_id, &t.user_id)),
            }]
        }),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct GetReply {
    channel_message: MessageDto,
}

pub(super) async fn get(s: &Services, req: &ApiRequest) -> Result<Reply, ApiError> {
    let m = s
        .get_channel_message(
            &req.caller,
            req.bearer(),
            req.label(CHANNEL),
            req.label(MESSAGE),
            req.query("sub-channel-id"),
        )
        .await?;
    Reply::json(&GetReply {
        channel_message: message_dto(s.arns(), m, true),
    })
}

/// Parses a query timestamp: RFC 3339 with 0–9 fractional digits (what botocore and JS v3
/// send), or epoch seconds.
fn query_time(req: &ApiRequest, name: &str, member: &str) -> Result<Option<Timestamp>, ApiError> {
    let Some(raw) = req.query(name) else {
        return Ok(None);
    };
    if let Ok(t) = OffsetDateTime::parse(raw, &Rfc3339) {
        return Ok(Some(Timestamp(
            (t.unix_timestamp_nanos() / 1_000_000) as i64,
        )));
    }
    if let Ok(secs) = raw.parse::<f64>() {
        if secs.is_finite() && secs.abs() < 1e12 {
            return Ok(Some(Timestamp((secs * 1000.0).round() as i64)));
        }
    }
    Err(ApiError::Core(validate::violation(
        member,
        "must be an ISO-8601 date-time (for example 2021-06-01T12:00:00Z) or epoch seconds",
    )))
}

#[skip_serializing_none]
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ListReply {
    channel_arn: String,
    next_token: Option<String>,
    channel_messages: Vec<MessageDto>,
}

pub(super) async fn list(s: &Services, req: &ApiRequest) -> Result<Reply, ApiError> {
    let input = ListChannelMessages {
        sort_order: req.query("sort-order"),
        not_before: query_time(req, "not-before", "NotBefore")?,
        not_after: query_time(req, "not-after", "NotAfter")?,
        max_results: req.query_int("max-results", "MaxResults")?,
        next_token: req.query("next-token"),
        sub_channel_id: req.query("sub-channel-id"),
    };
    let page = s
        .list_channel_messages(&req.caller, req.bearer(), req.label(CHANNEL), input)
        .await?;
    Reply::json(&ListReply {
        channel_arn: req.label(CHANNEL).to_string(),
        next_token: page.next_token,
        channel_messages: page
            .items
            .into_iter()
            .map(|m| message_dto(s.arns(), m, false))
            .collect(),
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct UpdateBody {
    content: Option<String>,
    metadata: Option<String>,
    content_type: Option<String>,
    sub_channel_id: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct UpdateReply {
    channel_arn: String,
    message_id: String,
    status: StatusDto,
}

pub(super) async fn update(s: &Services, req: &ApiRequest) -> Result<Reply, ApiError> {
    let b: UpdateBody = req.json()?;
    let input = UpdateChannelMessage {
        content: b.content,
        metadata: b.metadata,
        content_type: b.content_type,
        sub_channel_id: b.sub_channel_id,
    };
    let m = s
        .update_channel_message(
            &req.caller,
            req.bearer(),
            req.label(CHANNEL),
            req.label(MESSAGE),
            input,
        )
        .await?;
    Reply::json(&UpdateReply {
        channel_arn: req.label(CHANNEL).to_string(),
        message_id: m.message_id,
        status: SENT,
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct RedactBody {
    sub_channel_id: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct RedactReply {
    channel_arn: String,
    message_id: String,
}

pub(super) async fn redact(s: &Services, req: &ApiRequest) -> Result<Reply, ApiError> {
    let b: RedactBody = req.json()?;
    let m = s
        .redact_channel_message(
            &req.caller,
            req.bearer(),
            req.label(CHANNEL),
            req.label(MESSAGE),
            b.sub_channel_id.as_deref(),
        )
        .await?;
    Reply::json(&RedactReply {
        channel_arn: req.label(CHANNEL).to_string(),
        message_id: m.message_id,
    })
}

pub(super) async fn delete(s: &Services, req: &ApiRequest) -> Result<Reply, ApiError> {
    s.delete_channel_message(
        &req.caller,
        req.bearer(),
        req.label(CHANNEL),
        req.label(MESSAGE),
        req.query("sub-channel-id"),
    )
    .await?;
    Ok(Reply::Empty)
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ArnReply {
    channel_arn: String,
}

pub(super) async fn read_marker(s: &Services, req: &ApiRequest) -> Result<Reply, ApiError> {
    s.update_channel_read_marker(&req.caller, req.bearer(), req.label(CHANNEL))
        .await?;
    Reply::json(&ArnReply {
        channel_arn: req.label(CHANNEL).to_string(),
    })
}
