//! The MessageStore port: channel messages and read markers.

use async_trait::async_trait;

use super::StoreResult;
use super::{SendPolicy, Sent};
use crate::arn::{ChannelKey, UserKey};
use crate::model::{ChannelMessage, MessageChange, MessageCursor, MessageQuery, NewMessage};
use crate::time::Timestamp;

/// Persistence of channel messages and read markers.
#[async_trait]
pub trait MessageStore: Send + Sync + 'static {
    /// Reads the sender's and target's roles and the channel, runs `policy` on them, then (for a
    /// PERSISTENT message) stores it, takes the channel's next event number and moves the
    /// channel's LastMessageTimestamp — all in one transaction. A PERSISTENT message with the
    /// (channel, sender, ClientRequestToken) of a stored one is a replay when its fingerprint
    /// matches, else `Conflict`.
    async fn send_message(&self, new: NewMessage, policy: SendPolicy) -> StoreResult<Sent>;
    /// One stored message, with the sender's current name.
    async fn get_message(
        &self,
        channel: &ChannelKey,
        message_id: &str,
    ) -> StoreResult<Option<ChannelMessage>>;
    /// Messages of a channel that `viewer` may see (untargeted, or sent by or to them), in
    /// (creation time, position) order, within the query's window, after `after`.
    async fn list_messages(
        &self,
        channel: &ChannelKey,
        viewer: &UserKey,
        query: MessageQuery,
        after: Option<MessageCursor>,
        limit: usize,
    ) -> StoreResult<Vec<(MessageCursor, ChannelMessage)>>;
    /// Edits or redacts a message and returns it as it now is, with the change's event number.
    /// Missing: `NotFound`; editing a redacted message: `Conflict`.
    async fn change_message(
        &self,
        channel: &ChannelKey,
        message_id: &str,
        change: MessageChange,
        now: Timestamp,
    ) -> StoreResult<(ChannelMessage, u64)>;
    /// Deletes a message and returns it as it was, with the deletion's event number. Missing:
    /// `NotFound`.
    async fn delete_message(
        &self,
        channel: &ChannelKey,
        message_id: &str,
    ) -> StoreResult<(ChannelMessage, u64)>;
    /// Sets the member's read marker. Not a member: `NotFound`.
    async fn update_read_marker(
        &self,
        channel: &ChannelKey,
        user: &UserKey,
        now: Timestamp,
    ) -> StoreResult<()>;
}
