//! The websocket frames: an envelope `{"Headers":{…},"Payload":"<JSON string>"}` whose payload
//! is the REST shape of the resource (the same mapping as the REST replies, with ISO-8601
//! timestamps), encoded once per event and shared by every recipient.

use std::collections::BTreeMap;

use belfry_core::arn::ArnContext;
use belfry_core::events::DomainEvent;
use belfry_core::model::ChannelMessage;
use belfry_core::service::ChannelDetails;
use belfry_realtime::FrameEncoder;
use bytes::Bytes;
use serde::Serialize;
use serde_with::skip_serializing_none;

use crate::dto::{
    BatchChannelMembershipsDto, ChannelDto, ChannelMembershipDto, ChannelSummaryDto, Identity,
    IsoTime, TimeFormat,
};
use crate::handlers::message::{message_dto, MessageDto};

const EVENT_TYPE: &str = "x-amz-chime-event-type";
const MESSAGE_TYPE: &str = "x-amz-chime-message-type";
const SYSTEM: &str = "SYSTEM";

#[derive(Serialize)]
struct Envelope<'a> {
    #[serde(rename = "Headers")]
    headers: BTreeMap<&'static str, &'a str>,
    #[serde(rename = "Payload")]
    payload: String,
}

/// One frame: the event and message types, and the payload serialized into a string.
fn frame(event_type: &str, message_type: &str, payload: Option<&impl Serialize>) -> Option<Bytes> {
    let payload = match payload {
        Some(p) => serde_json::to_string(p).ok()?,
        None => String::new(),
    };
    let headers = BTreeMap::from([(EVENT_TYPE, event_type), (MESSAGE_TYPE, message_type)]);
    serde_json::to_vec(&Envelope { headers, payload })
        .ok()
        .map(Bytes::from)
}

/// `SESSION_ESTABLISHED`, the first frame of every session (empty payload: the client reads
/// it as null).
pub fn session_established() -> Option<Bytes> {
    frame("SESSION_ESTABLISHED", SYSTEM, None::<&()>)
}

/// `ChannelMembershipSummary`.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct MemberSummaryDto {
    member: Identity,
}

/// The `CHANNEL_DETAILS` payload.
#[skip_serializing_none]
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DetailsDto {
    channel: ChannelSummaryDto<IsoTime>,
    channel_messages: Vec<MessageDto<IsoTime>>,
    channel_memberships: Vec<MemberSummaryDto>,
    read_marker_timestamp: Option<IsoTime>,
    channel_messages_has_more: bool,
}

/// One `CHANNEL_DETAILS` frame.
pub fn channel_details(arns: &ArnContext, d: ChannelDetails) -> Option<Bytes> {
    let payload = DetailsDto {
        channel: ChannelSummaryDto::of(arns, d.channel),
        channel_messages: d
            .messages
            .into_iter()
            .map(|m| message_dto(arns, m, false))
            .collect(),
        channel_memberships: d
            .memberships
            .iter()
            .map(|u| MemberSummaryDto {
                member: Identity::of(arns, u),
            })
            .collect(),
        read_marker_timestamp: d.read_marker.map(IsoTime::of),
        channel_messages_has_more: d.has_more,
    };
    frame("CHANNEL_DETAILS", SYSTEM, Some(&payload))
}

/// What a deleted message's event carries: who sent what when, not what it said.
fn without_content(mut m: ChannelMessage) -> ChannelMessage {
    m.content = None;
    m.metadata = None;
    m.attributes = Vec::new();
    m.content_type = None;
    m
}

/// The frame encoder the hub uses.
pub struct WireFrames {
    arns: ArnContext,
}

impl WireFrames {
    /// Encodes ARNs with `arns`.
    pub fn new(arns: ArnContext) -> Self {
        WireFrames { arns }
    }

    fn message(&self, event_type: &str, m: ChannelMessage) -> Option<Bytes> {
        let kind = m.kind.as_str();
        let dto: MessageDto<IsoTime> = message_dto(&self.arns, m, true);
        frame(event_type, kind, Some(&dto))
    }
}

impl FrameEncoder for WireFrames {
    fn encode(&self, event: &DomainEvent) -> Option<Bytes> {
        let arns = &self.arns;
        match event.clone() {
            DomainEvent::MessageCreated(m) => self.message("CREATE_CHANNEL_MESSAGE", m),
            DomainEvent::MessageUpdated(m) => self.message("UPDATE_CHANNEL_MESSAGE", m),
            DomainEvent::MessageRedacted(m) => self.message("REDACT_CHANNEL_MESSAGE", m),
            DomainEvent::MessageDeleted(m) => {
                self.message("DELETE_CHANNEL_MESSAGE", without_content(m))
            }
            DomainEvent::MembershipCreated(m) => {
                let dto: ChannelMembershipDto<IsoTime> = ChannelMembershipDto::of(arns, m);
                frame("CREATE_CHANNEL_MEMBERSHIP", SYSTEM, Some(&dto))
            }
            DomainEvent::MembershipDeleted(m) => {
                let dto: ChannelMembershipDto<IsoTime> = ChannelMembershipDto::of(arns, m);
                frame("DELETE_CHANNEL_MEMBERSHIP", SYSTEM, Some(&dto))
            }
            DomainEvent::MembershipsBatchCreated {
                channel,
                invited_by,
                kind,
                members,
            } => {
                let dto = BatchChannelMembershipsDto::of(
                    arns,
                    arns.channel(&channel.key.app_instance_id, &channel.key.channel_id),
                    &invited_by,
                    kind,
                    &members,
                );
                frame("BATCH_CREATE_CHANNEL_MEMBERSHIP", SYSTEM, Some(&dto))
            }
            DomainEvent::ChannelUpdated(c) => {
                let dto: ChannelDto<IsoTime> = ChannelDto::of(arns, c);
                frame("UPDATE_CHANNEL", SYSTEM, Some(&dto))
            }
            DomainEvent::ChannelDeleted(c) => {
                let dto: ChannelDto<IsoTime> = ChannelDto::of(arns, c);
                frame("DELETE_CHANNEL", SYSTEM, Some(&dto))
            }
            DomainEvent::ReadMarkerUpdated { .. }
            | DomainEvent::UserDeleted(_)
            | DomainEvent::AppInstanceDeleted { .. }
            | DomainEvent::AccessKeyRevoked { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use belfry_core::arn::{ChannelKey, UserKey};
    use belfry_core::model::{MessageType, Persistence, UserRef};
    use belfry_core::time::Timestamp;

    #[test]
    fn message_frames_carry_the_rest_shape_as_a_string_with_iso_times() {
        let arns = ArnContext {
            partition: "aws".into(),
            region: "us-east-1".into(),
            account: "000000000000".into(),
        };
        let m = ChannelMessage {
            channel: ChannelKey {
                app_instance_id: "ai".into(),
                channel_id: "ch".into(),
            },
            message_id: "m1".into(),
            content: Some("hi \"there\"".into()),
            metadata: None,
            kind: MessageType::Control,
            persistence: Persistence::NonPersistent,
            created: Timestamp(1_630_324_800_123),
            updated: Timestamp(1_630_324_800_123),
            edited: None,
            sender: UserRef {
                key: UserKey {
                    app_instance_id: "ai".into(),
                    user_id: "ann".into(),
                },
                name: Some("Ann".into()),
            },
            redacted: false,
            attributes: Vec::new(),
            content_type: None,
            target: None,
            push: None,
        };
        let bytes = WireFrames::new(arns)
            .encode(&DomainEvent::MessageCreated(m))
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["Headers"][EVENT_TYPE], "CREATE_CHANNEL_MESSAGE");
        assert_eq!(v["Headers"][MESSAGE_TYPE], "CONTROL");
        let p: serde_json::Value = serde_json::from_str(v["Payload"].as_str().unwrap()).unwrap();
        assert_eq!(p["Content"], "hi \"there\"");
        assert_eq!(p["CreatedTimestamp"], "2021-08-30T12:00:00.123Z");
        assert_eq!(p["Persistence"], "NON_PERSISTENT");
        assert_eq!(
            p["ChannelArn"],
            "arn:aws:chime:us-east-1:000000000000:app-instance/ai/channel/ch"
        );
        assert_eq!(
            p["Sender"]["Arn"],
            "arn:aws:chime:us-east-1:000000000000:app-instance/ai/user/ann"
        );
    }

    #[test]
    fn session_established_has_an_empty_payload() {
        let v: serde_json::Value = serde_json::from_slice(&session_established().unwrap()).unwrap();
        assert_eq!(v["Headers"][EVENT_TYPE], "SESSION_ESTABLISHED");
        assert_eq!(v["Headers"][MESSAGE_TYPE], "SYSTEM");
        assert_eq!(v["Payload"], "");
    }
}
