//! REST-JSON shapes shared by several operations, and their conversion from core types.
//! Absent optional members are omitted, never `null`. Timestamps are epoch seconds with
//! millisecond precision (restJson1's default for the model's `Timestamp`).

use belfry_core::arn::ArnContext;
use belfry_core::model::{
    AppInstance, AppInstanceAdmin, AppInstanceUser, Ban, Channel, ExpirationSettings, Membership,
    Moderator, Tag, UserMembership, UserRef,
};
use belfry_core::service::{ExpirationInput, TagInput};
use belfry_core::time::Timestamp;
use serde::{Deserialize, Serialize};
use serde_with::skip_serializing_none;

/// Epoch seconds as a JSON number.
pub fn ts(t: Timestamp) -> f64 {
    t.epoch_seconds()
}

/// How a shape writes its timestamps. REST replies use epoch seconds (restJson1); websocket
/// payloads use ISO-8601 strings. The shapes are generic over it, so both come from one
/// mapping of the domain types.
pub trait TimeFormat: Serialize {
    /// Writes `t`.
    fn of(t: Timestamp) -> Self;
}

/// Epoch seconds with millisecond precision, as a JSON number.
#[derive(Debug, Serialize)]
#[serde(transparent)]
pub struct EpochSeconds(f64);

impl TimeFormat for EpochSeconds {
    fn of(t: Timestamp) -> Self {
        EpochSeconds(t.epoch_seconds())
    }
}

/// ISO-8601 UTC with milliseconds (`2021-08-30T12:00:00.000Z`), as a JSON string.
#[derive(Debug, Serialize)]
#[serde(transparent)]
pub struct IsoTime(String);

impl TimeFormat for IsoTime {
    fn of(t: Timestamp) -> Self {
        let at = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(t.0) * 1_000_000)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        let (y, mo, d) = (at.year(), u8::from(at.month()), at.day());
        let (h, mi, sec, ms) = (at.hour(), at.minute(), at.second(), at.millisecond());
        IsoTime(format!(
            "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{sec:02}.{ms:03}Z"
        ))
    }
}

/// `Identity`.
#[skip_serializing_none]
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Identity {
    pub arn: String,
    pub name: Option<String>,
}

impl Identity {
    /// From a user reference.
    pub fn of(arns: &ArnContext, u: &UserRef) -> Self {
        Identity {
            arn: arns.user(&u.key.app_instance_id, &u.key.user_id),
            name: u.name.clone(),
        }
    }
}

/// `Tag`, both ways.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagDto {
    pub key: Option<String>,
    pub value: Option<String>,
}

impl TagDto {
    /// Into the core's input.
    pub fn input(self) -> TagInput {
        TagInput {
            key: self.key,
            value: self.value,
        }
    }
    /// From a stored tag.
    pub fn of(t: Tag) -> Self {
        TagDto {
            key: Some(t.key),
            value: Some(t.value),
        }
    }
}

/// Converts an optional list of received tags.
pub fn tag_inputs(tags: Option<Vec<TagDto>>) -> Option<Vec<TagInput>> {
    tags.map(|v| v.into_iter().map(TagDto::input).collect())
}

/// `ExpirationSettings`, both ways.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ExpirationDto {
    pub expiration_days: Option<i64>,
    pub expiration_criterion: Option<String>,
}

impl ExpirationDto {
    /// Into the core's input.
    pub fn input(self) -> ExpirationInput {
        ExpirationInput {
            days: self.expiration_days,
            criterion: self.expiration_criterion,
        }
    }
    /// From stored settings.
    pub fn of(e: ExpirationSettings) -> Self {
        ExpirationDto {
            expiration_days: Some(e.days),
            expiration_criterion: Some(e.criterion.as_str().to_string()),
        }
    }
}

/// `AppInstance`.
#[skip_serializing_none]
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AppInstanceDto {
    pub app_instance_arn: String,
    pub name: String,
    pub metadata: Option<String>,
    pub created_timestamp: f64,
    pub last_updated_timestamp: f64,
}

impl AppInstanceDto {
    /// From the core type.
    pub fn of(arns: &ArnContext, a: AppInstance) -> Self {
        AppInstanceDto {
            app_instance_arn: arns.app_instance(&a.id),
            name: a.name,
            metadata: a.metadata,
            created_timestamp: ts(a.created),
            last_updated_timestamp: ts(a.updated),
        }
    }
}

/// `AppInstanceSummary`.
#[skip_serializing_none]
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AppInstanceSummaryDto {
    pub app_instance_arn: String,
    pub name: String,
    pub metadata: Option<String>,
}

impl AppInstanceSummaryDto {
    /// From the core type.
    pub fn of(arns: &ArnContext, a: AppInstance) -> Self {
        AppInstanceSummaryDto {
            app_instance_arn: arns.app_instance(&a.id),
            name: a.name,
            metadata: a.metadata,
        }
    }
}

/// `AppInstanceUser`.
#[skip_serializing_none]
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AppInstanceUserDto {
    pub app_instance_user_arn: String,
    pub name: String,
    pub metadata: Option<String>,
    pub created_timestamp: f64,
    pub last_updated_timestamp: f64,
    pub expiration_settings: Option<ExpirationDto>,
}

impl AppInstanceUserDto {
    /// From the core type.
    pub fn of(arns: &ArnContext, u: AppInstanceUser) -> Self {
        AppInstanceUserDto {
            app_instance_user_arn: arns.user(&u.key.app_instance_id, &u.key.user_id),
            name: u.name,
            metadata: u.metadata,
            created_timestamp: ts(u.created),
            last_updated_timestamp: ts(u.updated),
            expiration_settings: u.expiration.map(ExpirationDto::of),
        }
    }
}

/// `AppInstanceUserSummary`.
#[skip_serializing_none]
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AppInstanceUserSummaryDto {
    pub app_instance_user_arn: String,
    pub name: String,
    pub metadata: Option<String>,
}

impl AppInstanceUserSummaryDto {
    /// From the core type.
    pub fn of(arns: &ArnContext, u: AppInstanceUser) -> Self {
        AppInstanceUserSummaryDto {
            app_instance_user_arn: arns.user(&u.key.app_instance_id, &u.key.user_id),
            name: u.name,
            metadata: u.metadata,
        }
    }
}

/// `AppInstanceAdmin`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AppInstanceAdminDto {
    pub admin: Identity,
    pub app_instance_arn: String,
    pub created_timestamp: f64,
}

impl AppInstanceAdminDto {
    /// From the core type.
    pub fn of(arns: &ArnContext, a: AppInstanceAdmin) -> Self {
        AppInstanceAdminDto {
            app_instance_arn: arns.app_instance(&a.admin.key.app_instance_id),
            admin: Identity::of(arns, &a.admin),
            created_timestamp: ts(a.created),
        }
    }
}

/// `Channel`.
#[skip_serializing_none]
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChannelDto<T: TimeFormat = EpochSeconds> {
    pub name: String,
    pub channel_arn: String,
    pub mode: &'static str,
    pub privacy: &'static str,
    pub metadata: Option<String>,
    pub created_by: Identity,
    pub created_timestamp: T,
    pub last_message_timestamp: Option<T>,
    pub last_updated_timestamp: T,
    pub expiration_settings: Option<ExpirationDto>,
}

impl<T: TimeFormat> ChannelDto<T> {
    /// From the core type.
    pub fn of(arns: &ArnContext, c: Channel) -> Self {
        ChannelDto {
            channel_arn: arns.channel(&c.key.app_instance_id, &c.key.channel_id),
            name: c.name,
            mode: c.mode.as_str(),
            privacy: c.privacy.as_str(),
            metadata: c.metadata,
            created_by: Identity::of(arns, &c.created_by),
            created_timestamp: T::of(c.created),
            last_message_timestamp: c.last_message.map(T::of),
            last_updated_timestamp: T::of(c.updated),
            expiration_settings: c.expiration.map(ExpirationDto::of),
        }
    }
}

/// `ChannelSummary`.
#[skip_serializing_none]
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChannelSummaryDto<T: TimeFormat = EpochSeconds> {
    pub name: String,
    pub channel_arn: String,
    pub mode: &'static str,
    pub privacy: &'static str,
    pub metadata: Option<String>,
    pub last_message_timestamp: Option<T>,
}

impl<T: TimeFormat> ChannelSummaryDto<T> {
    /// From the core type.
    pub fn of(arns: &ArnContext, c: Channel) -> Self {
        ChannelSummaryDto {
            channel_arn: arns.channel(&c.key.app_instance_id, &c.key.channel_id),
            name: c.name,
            mode: c.mode.as_str(),
            privacy: c.privacy.as_str(),
            metadata: c.metadata,
            last_message_timestamp: c.last_message.map(T::of),
        }
    }
}

/// `ChannelMembership`.
#[skip_serializing_none]
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChannelMembershipDto<T: TimeFormat = EpochSeconds> {
    pub invited_by: Identity,
    #[serde(rename = "Type")]
    pub kind: &'static str,
    pub member: Identity,
    pub channel_arn: String,
    pub created_timestamp: T,
    pub last_updated_timestamp: T,
}

impl<T: TimeFormat> ChannelMembershipDto<T> {
    /// From the core type.
    pub fn of(arns: &ArnContext, m: Membership) -> Self {
        ChannelMembershipDto {
            invited_by: Identity::of(arns, &m.invited_by),
            kind: m.kind.as_str(),
            member: Identity::of(arns, &m.member),
            channel_arn: arns.channel(&m.channel.app_instance_id, &m.channel.channel_id),
            created_timestamp: T::of(m.created),
            last_updated_timestamp: T::of(m.updated),
        }
    }
}

/// `AppInstanceUserMembershipSummary`.
#[skip_serializing_none]
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AppInstanceUserMembershipSummaryDto {
    #[serde(rename = "Type")]
    pub kind: &'static str,
    pub read_marker_timestamp: Option<f64>,
}

/// `ChannelMembershipForAppInstanceUserSummary`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChannelMembershipForAppInstanceUserSummaryDto {
    pub channel_summary: ChannelSummaryDto,
    pub app_instance_user_membership_summary: AppInstanceUserMembershipSummaryDto,
}

impl ChannelMembershipForAppInstanceUserSummaryDto {
    /// From the core type.
    pub fn of(arns: &ArnContext, m: UserMembership) -> Self {
        ChannelMembershipForAppInstanceUserSummaryDto {
            channel_summary: ChannelSummaryDto::of(arns, m.channel),
            app_instance_user_membership_summary: AppInstanceUserMembershipSummaryDto {
                kind: m.kind.as_str(),
                read_marker_timestamp: m.read_marker.map(ts),
            },
        }
    }
}

/// `ChannelModerator` and `ChannelBan` share a shape but for the name of the user member.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChannelModeratorDto {
    pub moderator: Identity,
    pub channel_arn: String,
    pub created_timestamp: f64,
    pub created_by: Identity,
}

impl ChannelModeratorDto {
    /// From the core type.
    pub fn of(arns: &ArnContext, m: Moderator) -> Self {
        ChannelModeratorDto {
            moderator: Identity::of(arns, &m.moderator),
            channel_arn: arns.channel(&m.channel.app_instance_id, &m.channel.channel_id),
            created_timestamp: ts(m.created),
            created_by: Identity::of(arns, &m.created_by),
        }
    }
}

/// `ChannelBan`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChannelBanDto {
    pub member: Identity,
    pub channel_arn: String,
    pub created_timestamp: f64,
    pub created_by: Identity,
}

impl ChannelBanDto {
    /// From the core type.
    pub fn of(arns: &ArnContext, b: Ban) -> Self {
        ChannelBanDto {
            member: Identity::of(arns, &b.member),
            channel_arn: arns.channel(&b.channel.app_instance_id, &b.channel.channel_id),
            created_timestamp: ts(b.created),
            created_by: Identity::of(arns, &b.created_by),
        }
    }
}

/// The `{Member}` / `{Moderator}` summaries of list operations.
pub fn identities(arns: &ArnContext, users: &[UserRef]) -> Vec<Identity> {
    users.iter().map(|u| Identity::of(arns, u)).collect()
}

/// `BatchChannelMemberships` (BatchCreateChannelMembership's reply, and its websocket event).
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BatchChannelMembershipsDto {
    pub invited_by: Identity,
    #[serde(rename = "Type")]
    pub kind: &'static str,
    pub members: Vec<Identity>,
    pub channel_arn: String,
}

impl BatchChannelMembershipsDto {
    /// From the batch's parts.
    pub fn of(
        arns: &ArnContext,
        channel_arn: String,
        invited_by: &UserRef,
        kind: belfry_core::model::MembershipType,
        members: &[UserRef],
    ) -> Self {
        BatchChannelMembershipsDto {
            invited_by: Identity::of(arns, invited_by),
            kind: kind.as_str(),
            members: identities(arns, members),
            channel_arn,
        }
    }
}
