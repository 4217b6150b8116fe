//! Websocket sessions: who may connect as whom, and what a session is sent when it starts
//! (the prefetch of `CHANNEL_DETAILS`).

use crate::arn::UserKey;
use crate::auth::Caller;
use crate::error::{CoreError, CoreResult};
use crate::model::{Channel, ChannelMessage, MembershipType, MessageQuery, SortOrder, UserRef};
use crate::store::SessionChannel;
use crate::time::Timestamp;

use super::Services;

/// Channels sent at connect, at most (AWS: 50).
pub const PREFETCH_CHANNELS: usize = 50;
/// Newest messages per prefetched channel, at most (AWS: 20).
pub const PREFETCH_MESSAGES: usize = 20;
/// Memberships per prefetched channel, at most (AWS: 30).
pub const PREFETCH_MEMBERSHIPS: usize = 30;

/// `prefetch-sort-by`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrefetchSort {
    /// Channels with unread messages first, then by LastMessageTimestamp (also the default).
    Unread,
    /// By LastMessageTimestamp, newest first.
    LastMessageTimestamp,
}

impl PrefetchSort {
    /// Parses the query value; `None` for anything else.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "unread" => Some(PrefetchSort::Unread),
            "last-message-timestamp" => Some(PrefetchSort::LastMessageTimestamp),
            _ => None,
        }
    }
}

/// One `CHANNEL_DETAILS` event's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelDetails {
    /// The channel.
    pub channel: Channel,
    /// Its newest messages the user may see, newest first.
    pub messages: Vec<ChannelMessage>,
    /// More messages exist than were sent.
    pub has_more: bool,
    /// Some of its DEFAULT members (HIDDEN members are never listed, as in
    /// ListChannelMemberships).
    pub memberships: Vec<UserRef>,
    /// The user's read marker.
    pub read_marker: Option<Timestamp>,
}

/// Unread: a message newer than the read marker, or any message and no marker.
fn unread(c: &SessionChannel) -> bool {
    match (c.last_message, c.read_marker) {
        (Some(last), Some(read)) => last > read,
        (Some(_), None) => true,
        (None, _) => false,
    }
}

impl Services {
    /// The AppInstanceUser a websocket session connects as. A malformed or foreign ARN, or a
    /// user that does not exist: `Unauthorized`; a key that may not act as the user:
    /// `Forbidden` (checked before existence, so a limited key learns nothing about others).
    pub async fn session_user(&self, caller: &Caller, user_arn: &str) -> CoreResult<UserKey> {
        let unknown = || {
            CoreError::Unauthorized(format!(
                "{user_arn} is not an AppInstanceUser of this server."
            ))
        };
        let parsed = self
            .arns
            .parse_user("userArn", user_arn)
            .map_err(|_| unknown())?;
        if !parsed.local {
            return Err(unknown());
        }
        self.may_act_as(caller, Some(user_arn))?;
        if self.store.get_user(&parsed.id).await?.is_none() {
            return Err(unknown());
        }
        Ok(parsed.id)
    }

    /// The user's channels with each one's event sequence, in one snapshot.
    pub async fn session_channels(&self, user: &UserKey) -> CoreResult<Vec<SessionChannel>> {
        Ok(self.store.session_channels(user).await?)
    }

    /// What `prefetch-on=connect` sends: up to 50 of the user's channels, chosen by `sort`,
    /// each with its newest visible messages, some members and the user's read marker.
    pub async fn prefetch(
        &self,
        user: &UserKey,
        channels: &[SessionChannel],
        sort: PrefetchSort,
    ) -> CoreResult<Vec<ChannelDetails>> {
        let mut chosen: Vec<&SessionChannel> = channels.iter().collect();
        chosen.sort_by(|a, b| {
            let by_time = b.last_message.cmp(&a.last_message);
            let by_id = a.channel.channel_id.cmp(&b.channel.channel_id);
            match sort {
                PrefetchSort::Unread => unread(b).cmp(&unread(a)).then(by_time).then(by_id),
                PrefetchSort::LastMessageTimestamp => by_time.then(by_id),
            }
        });
        chosen.truncate(PREFETCH_CHANNELS);
        let mut out = Vec::with_capacity(chosen.len());
        for c in chosen {
            // The channel may have gone since the snapshot; its DELETE_CHANNEL follows.
            let Some(channel) = self.store.get_channel(&c.channel).await? else {
                continue;
            };
            let query = MessageQuery {
                not_before: None,
                not_after: None,
                order: SortOrder::Descending,
            };
            let mut messages: Vec<ChannelMessage> = self
                .store
                .list_messages(&c.channel, user, query, None, PREFETCH_MESSAGES + 1)
                .await?
                .into_iter()
                .map(|(_, m)| m)
                .collect();
            let has_more = messages.len() > PREFETCH_MESSAGES;
            messages.truncate(PREFETCH_MESSAGES);
            let memberships = self
                .store
                .list_memberships(
                    &c.channel,
                    MembershipType::Default,
                    None,
                    PREFETCH_MEMBERSHIPS,
                )
                .await?
                .into_iter()
                .map(|r| r.value)
                .collect();
            out.push(ChannelDetails {
                channel,
                messages,
                has_more,
                memberships,
                read_marker: c.read_marker,
            });
        }
        Ok(out)
    }
}
