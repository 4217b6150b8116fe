//! Channel messages and read markers (SEMANTICS.md §4.5, §8).

use super::access::{send_policy, write_policy, SendRights, Write};
use super::input::no_sub_channel;
use super::{fingerprint, Services};
use crate::arn::UserKey;
use crate::auth::Caller;
use crate::error::{CoreError, CoreResult};
use crate::events::{DomainEvent, Published};
use crate::model::{
    ChannelMessage, MessageChange, MessageCursor, MessageQuery, MessageType, NewMessage,
    Persistence, PushNotification, PushType, SortOrder, UserRef,
};
use crate::paging::{Binding, Page};
use crate::perm::Action;
use crate::store::StoreError;
use crate::time::Timestamp;
use crate::validate;

/// STANDARD content limit, in UTF-8 bytes.
pub const STANDARD_CONTENT_BYTES: usize = 4096;
/// CONTROL content limit, in UTF-8 bytes.
pub const CONTROL_CONTENT_BYTES: usize = 30;

/// `PushNotification` as received.
#[derive(Debug, Clone, Default)]
pub struct PushInput {
    /// Title, 1–50.
    pub title: Option<String>,
    /// Body, 1–150.
    pub body: Option<String>,
    /// DEFAULT or VOIP.
    pub kind: Option<String>,
}

/// SendChannelMessage input.
#[derive(Debug, Clone, Default)]
pub struct SendChannelMessage {
    /// Content (required).
    pub content: Option<String>,
    /// Type (required).
    pub kind: Option<String>,
    /// Persistence (required).
    pub persistence: Option<String>,
    /// Metadata.
    pub metadata: Option<String>,
    /// ClientRequestToken (required).
    pub client_request_token: Option<String>,
    /// PushNotification.
    pub push: Option<PushInput>,
    /// MessageAttributes: name → StringValues.
    pub attributes: Option<Vec<(String, Option<Vec<String>>)>>,
    /// SubChannelId.
    pub sub_channel_id: Option<String>,
    /// ContentType.
    pub content_type: Option<String>,
    /// Target: the MemberArn of each entry (exactly one entry allowed).
    pub target: Option<Vec<Option<String>>>,
}

/// UpdateChannelMessage input.
#[derive(Debug, Clone, Default)]
pub struct UpdateChannelMessage {
    /// Content (required).
    pub content: Option<String>,
    /// Metadata.
    pub metadata: Option<String>,
    /// ContentType.
    pub content_type: Option<String>,
    /// SubChannelId.
    pub sub_channel_id: Option<String>,
}

/// ListChannelMessages input (timestamps already parsed by the wire layer).
#[derive(Debug, Clone, Default)]
pub struct ListChannelMessages<'a> {
    /// sort-order.
    pub sort_order: Option<&'a str>,
    /// not-before, inclusive.
    pub not_before: Option<Timestamp>,
    /// not-after, inclusive.
    pub not_after: Option<Timestamp>,
    /// max-results.
    pub max_results: Option<i64>,
    /// next-token.
    pub next_token: Option<&'a str>,
    /// sub-channel-id.
    pub sub_channel_id: Option<&'a str>,
}

/// Content and metadata limits by message type.
fn check_content(kind: MessageType, content: &str, metadata: Option<&str>) -> CoreResult<()> {
    if content.is_empty() {
        return Err(validate::violation(
            "Content",
            "must have length greater than or equal to 1",
        ));
    }
    let limit = match kind {
        MessageType::Standard => STANDARD_CONTENT_BYTES,
        MessageType::Control => CONTROL_CONTENT_BYTES,
    };
    if content.len() > limit {
        return Err(validate::violation(
            "Content",
            format!(
                "must be at most {limit} bytes of UTF-8 for {} messages (got {} bytes)",
                kind.as_str(),
                content.len()
            ),
        ));
    }
    if let Some(m) = metadata {
        if kind == MessageType::Control {
            return Err(CoreError::bad(
                "Metadata: CONTROL messages cannot carry metadata.",
            ));
        }
        validate::metadata("Metadata", m)?;
    }
    Ok(())
}

fn check_message_id(id: &str) -> CoreResult<()> {
    validate::length("MessageId", id, 1, 128)?;
    if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(validate::violation(
            "MessageId",
            "must satisfy regular expression pattern: [-_a-zA-Z0-9]*",
        ));
    }
    Ok(())
}

fn check_push(push: Option<PushInput>) -> CoreResult<Option<PushNotification>> {
    let Some(p) = push else { return Ok(None) };
    if let Some(t) = &p.title {
        validate::length("PushNotification.Title", t, 1, 50)?;
        // The model's `.*` for a title excludes line breaks (unlike `[\s\S]*` for the body).
        if t.contains(['\n', '\r']) {
            return Err(validate::violation(
                "PushNotification.Title",
                "must satisfy regular expression pattern: .*",
            ));
        }
    }
    if let Some(b) = &p.body {
        validate::length("PushNotification.Body", b, 1, 150)?;
    }
    let kind = p
        .kind
        .as_deref()
        .map(|k| PushType::parse("PushNotification.Type", k))
        .transpose()?;
    Ok(Some(PushNotification {
        title: p.title,
        body: p.body,
        kind,
    }))
}

fn check_attributes(
    attrs: Option<Vec<(String, Option<Vec<String>>)>>,
) -> CoreResult<Vec<(String, Vec<String>)>> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for (name, values) in attrs.unwrap_or_default() {
        validate::length("MessageAttributes.key", &name, 1, 64)?;
        let values = values.unwrap_or_default();
        for v in &values {
            validate::length(
                &format!("MessageAttributes.{name}.StringValues.member"),
                v,
                1,
                512,
            )?;
        }
        out.push((name, values));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

fn check_content_type(ct: Option<&str>) -> CoreResult<()> {
    ct.map(|c| validate::length("ContentType", c, 0, 45))
        .transpose()?;
    Ok(())
}

/// Whether `viewer` may see a targeted message at all.
fn visible_to(m: &ChannelMessage, viewer: &UserKey) -> bool {
    match &m.target {
        None => true,
        Some(t) => t == viewer || m.sender.key == *viewer,
    }
}

fn encode_cursor(c: &MessageCursor) -> String {
    format!("{}:{}", c.created.0, c.seq)
}

fn decode_cursor(s: &str) -> CoreResult<MessageCursor> {
    let bad = || CoreError::bad("The NextToken is invalid or was issued for a different request.");
    let (a, b) = s.split_once(':').ok_or_else(bad)?;
    Ok(MessageCursor {
        created: Timestamp(a.parse().map_err(|_| bad())?),
        seq: b.parse().map_err(|_| bad())?,
    })
}

impl Services {
    /// SendChannelMessage: returns the message as sent. Permission, existence and idempotency
    /// are decided inside the write transaction, in AWS's error order.
    pub async fn send_channel_message(
        &self,
        caller: &Caller,
        bearer: Option<&str>,
        arn: &str,
        input: SendChannelMessage,
    ) -> CoreResult<ChannelMessage> {
        let kind = MessageType::parse("Type", &validate::required("Type", input.kind)?)?;
        let persistence = Persistence::parse(
            "Persistence",
            &validate::required("Persistence", input.persistence)?,
        )?;
        let content = validate::required("Content", input.content)?;
        check_content(kind, &content, input.metadata.as_deref())?;
        let token = validate::required("ClientRequestToken", input.client_request_token)?;
        validate::client_request_token("ClientRequestToken", &token)?;
        let push = check_push(input.push)?;
        let attributes = check_attributes(input.attributes)?;
        check_content_type(input.content_type.as_deref())?;
        no_sub_channel(input.sub_channel_id.as_deref())?;
        let target_arn = match input.target {
            None => None,
            Some(list) => {
                validate::count("Target", list.len(), 1, 1)?;
                let arn = validate::required(
                    "Target.1.member.MemberArn",
                    list.into_iter().next().flatten(),
                )?;
                validate::chime_arn("Target.1.member.MemberArn", &arn)?;
                Some(arn)
            }
        };

        let channel = self.arns.parse_channel("ChannelArn", arn)?;
        let sender = self.bearer_key(bearer, &channel.id.app_instance_id)?;
        if !channel.local {
            // As for every channel operation: 401/403 for the bearer before 404 for the channel.
            self.bearer(caller, bearer, &channel.id.app_instance_id)
                .await?;
            return Err(CoreError::not_found(format!(
                "The channel {arn} does not exist."
            )));
        }
        let channel = channel.id;
        let target = match &target_arn {
            None => None,
            Some(a) => {
                let t = self.arns.parse_user("Target.1.member.MemberArn", a)?;
                if !t.local || t.id.app_instance_id != channel.app_instance_id {
                    return Err(CoreError::bad(format!(
                        "Target: {a} is not a member of channel {arn}."
                    )));
                }
                Some(t.id)
            }
        };
        let now = self.clock.now();
        // Every part is length-prefixed by `fingerprint`, and optional members say whether they
        // were given, so no two different messages share a fingerprint.
        let optional = |v: Option<&str>| v.map(|v| format!("1{v}")).unwrap_or_default();
        let mut parts: Vec<String> = vec![
            kind.as_str().to_string(),
            persistence.as_str().to_string(),
            content.clone(),
            optional(input.metadata.as_deref()),
            optional(input.content_type.as_deref()),
            optional(target.as_ref().map(|t| t.user_id.as_str())),
            attributes.len().to_string(),
        ];
        for (name, values) in &attributes {
            parts.push(name.clone());
            parts.push(values.len().to_string());
            parts.extend(values.iter().cloned());
        }
        let fingerprint = fingerprint(&parts.iter().map(String::as_str).collect::<Vec<_>>());
        let policy = send_policy(SendRights {
            may_act: bearer.is_some_and(|b| caller.may_act_as(b)),
            access_key: caller.access_key_id.clone(),
            bearer_arn: bearer.unwrap_or_default().to_string(),
            channel_arn: arn.to_string(),
            target_arn,
            to_self: target.as_ref() == Some(&sender),
        });
        let message = ChannelMessage {
            channel,
            message_id: crate::ids::message_id(now),
            content: Some(content),
            metadata: input.metadata,
            kind,
            persistence,
            created: now,
            updated: now,
            edited: None,
            sender: UserRef {
                key: sender,
                name: None,
            },
            redacted: false,
            attributes,
            content_type: input.content_type,
            target,
            push,
        };
        let sent = self
            .store
            .send_message(
                NewMessage {
                    message,
                    client_request_token: token,
                    fingerprint,
                },
                policy,
            )
            .await
            .map_err(StoreError::for_send)?;
        if !sent.replayed {
            let event = DomainEvent::MessageCreated(sent.message.clone());
            // NON_PERSISTENT messages are never stored, so they have no place in the sequence.
            self.events.publish(match sent.event_seq {
                Some(seq) => Published::at(seq, event),
                None => Published::unordered(event),
            });
        }
        Ok(sent.message)
    }

    /// Loads a message the bearer may address: unknown, deleted and invisible targeted
    /// messages are all 404.
    async fn visible_message(
        &self,
        channel: &crate::arn::ChannelKey,
        viewer: &UserKey,
        arn: &str,
        message_id: &str,
    ) -> CoreResult<ChannelMessage> {
        self.store
            .get_message(channel, message_id)
            .await?
            .filter(|m| visible_to(m, viewer))
            .ok_or_else(|| {
                CoreError::not_found(format!(
                    "The message {message_id} does not exist in channel {arn}."
                ))
            })
    }

    /// GetChannelMessage.
    pub async fn get_channel_message(
        &self,
        caller: &Caller,
        bearer: Option<&str>,
        arn: &str,
        message_id: &str,
        sub_channel_id: Option<&str>,
    ) -> CoreResult<ChannelMessage> {
        check_message_id(message_id)?;
        no_sub_channel(sub_channel_id)?;
        let access = self.channel_access(caller, bearer, arn).await?;
        self.check(&access, Action::ReadMessages, "")?;
        self.visible_message(&access.channel.key, &access.bearer, arn, message_id)
            .await
    }

    /// ListChannelMessages: newest first unless ASCENDING is asked; a time window inclusive at
    /// both ends; ties in time broken by send order.
    pub async fn list_channel_messages(
        &self,
        caller: &Caller,
        bearer: Option<&str>,
        arn: &str,
        input: ListChannelMessages<'_>,
    ) -> CoreResult<Page<ChannelMessage>> {
        let order = match input.sort_order {
            Some(o) => SortOrder::parse("SortOrder", o)?,
            None => SortOrder::Descending,
        };
        no_sub_channel(input.sub_channel_id)?;
        if let Some(n) = input.max_results {
            validate::range("MaxResults", n, 1, 50)?;
        }
        let access = self.channel_access(caller, bearer, arn).await?;
        let window = |t: Option<Timestamp>| t.map(|t| t.0.to_string()).unwrap_or_default();
        let binding = Binding::new(&[
            "ListChannelMessages",
            arn,
            order.as_str(),
            &window(input.not_before),
            &window(input.not_after),
            &access.bearer.user_id,
        ]);
        let req = self
            .pages
            .request(&binding, input.max_results, input.next_token)?;
        self.check(&access, Action::ReadMessages, "")?;
        let after = req.after.as_deref().map(decode_cursor).transpose()?;
        let query = MessageQuery {
            not_before: input.not_before,
            not_after: input.not_after,
            order,
        };
        let rows = self
            .store
            .list_messages(
                &access.channel.key,
                &access.bearer,
                query,
                after,
                req.limit + 1,
            )
            .await?;
        let page = self
            .pages
            .page(&binding, req.limit, rows, |(c, _)| encode_cursor(c));
        Ok(Page {
            items: page.items.into_iter().map(|(_, m)| m).collect(),
            next_token: page.next_token,
        })
    }

    /// UpdateChannelMessage: the sender only; content limits of the message's type apply.
    pub async fn update_channel_message(
        &self,
        caller: &Caller,
        bearer: Option<&str>,
        arn: &str,
        message_id: &str,
        input: UpdateChannelMessage,
    ) -> CoreResult<ChannelMessage> {
        check_message_id(message_id)?;
        let content = validate::required("Content", input.content)?;
        check_content(MessageType::Standard, &content, input.metadata.as_deref())?;
        check_content_type(input.content_type.as_deref())?;
        no_sub_channel(input.sub_channel_id.as_deref())?;
        let access = self.channel_access(caller, bearer, arn).await?;
        // Who cannot read the channel learns nothing about which messages exist.
        self.check(&access, Action::ReadMessages, "")?;
        let m = self
            .visible_message(&access.channel.key, &access.bearer, arn, message_id)
            .await?;
        let is_sender = m.sender.key == access.bearer;
        self.check(&access, Action::EditMessage { is_sender }, "")?;
        check_content(m.kind, &content, input.metadata.as_deref())?;
        if m.redacted {
            return Err(CoreError::conflict(format!(
                "The message {message_id} was redacted and cannot be edited."
            )));
        }
        let change = MessageChange::Edit {
            content,
            metadata: input.metadata,
            content_type: input.content_type,
        };
        let (updated, seq) = self
            .store
            .change_message(
                &access.channel.key,
                message_id,
                &access.bearer,
                change,
                self.clock.now(),
                write_policy(&access, Write::Edit),
            )
            .await?;
        self.events.publish(Published::at(
            seq,
            DomainEvent::MessageUpdated(updated.clone()),
        ));
        Ok(updated)
    }

    /// RedactChannelMessage: admins, moderators or the sender. Redacting again changes nothing.
    pub async fn redact_channel_message(
        &self,
        caller: &Caller,
        bearer: Option<&str>,
        arn: &str,
        message_id: &str,
        sub_channel_id: Option<&str>,
    ) -> CoreResult<ChannelMessage> {
        check_message_id(message_id)?;
        no_sub_channel(sub_channel_id)?;
        let access = self.channel_access(caller, bearer, arn).await?;
        self.check(&access, Action::ReadMessages, "")?;
        let m = self
            .visible_message(&access.channel.key, &access.bearer, arn, message_id)
            .await?;
        let is_sender = m.sender.key == access.bearer;
        self.check(&access, Action::RedactMessage { is_sender }, "")?;
        if m.redacted {
            return Ok(m);
        }
        let (redacted, seq) = self
            .store
            .change_message(
                &access.channel.key,
                message_id,
                &access.bearer,
                MessageChange::Redact,
                self.clock.now(),
                write_policy(&access, Write::Redact),
            )
            .await?;
        self.events.publish(Published::at(
            seq,
            DomainEvent::MessageRedacted(redacted.clone()),
        ));
        Ok(redacted)
    }

    /// DeleteChannelMessage: AppInstanceAdmins only, including targeted messages they cannot see.
    pub async fn delete_channel_message(
        &self,
        caller: &Caller,
        bearer: Option<&str>,
        arn: &str,
        message_id: &str,
        sub_channel_id: Option<&str>,
    ) -> CoreResult<()> {
        check_message_id(message_id)?;
        no_sub_channel(sub_channel_id)?;
        let access = self.channel_access(caller, bearer, arn).await?;
        self.check(&access, Action::DeleteMessage, "")?;
        let (deleted, seq) = self
            .store
            .delete_message(
                &access.channel.key,
                message_id,
                &access.bearer,
                write_policy(&access, Write::Delete),
            )
            .await?;
        self.events
            .publish(Published::at(seq, DomainEvent::MessageDeleted(deleted)));
        Ok(())
    }

    /// UpdateChannelReadMarker: the bearer's own membership, set to now.
    pub async fn update_channel_read_marker(
        &self,
        caller: &Caller,
        bearer: Option<&str>,
        arn: &str,
    ) -> CoreResult<()> {
        let access = self.channel_access(caller, bearer, arn).await?;
        self.check(&access, Action::UpdateReadMarker, "")?;
        let now = self.clock.now();
        self.store
            .update_read_marker(
                &access.channel.key,
                &access.bearer,
                now,
                write_policy(&access, Write::ReadMarker),
            )
            .await?;
        self.events
            .publish(Published::unordered(DomainEvent::ReadMarkerUpdated {
                channel: access.channel.key,
                user: access.bearer,
                at: now,
            }));
        Ok(())
    }
}
