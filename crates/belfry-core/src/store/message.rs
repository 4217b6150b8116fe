//! The MessageStore port: channel messages and read markers.

use async_trait::async_trait;

use super::StoreResult;
use super::{ChannelPolicy, Sent};
use crate::arn::{ChannelKey, UserKey};
use crate::model::{ChannelMessage, MessageChange, MessageCursor, MessageQuery, NewMessage};
use crate::time::Timestamp;

/// Persistence of channel messages and read markers.
///
/// Contracts every adapter keeps (each one a case of the conformance suite, `contracts.rs`):
///
/// - **Commit order is paging order.** Within a channel, the (creation time, position) order
///   that `list_messages` pages by is the order in which the sends committed, which is also the
///   order of the event numbers they took. A forward or backward page walk started at any time
///   sees every message committed before it exactly once, even while senders write
///   concurrently. An adapter with concurrent writers must serialize sends per channel (the
///   channel row lock that takes the event number does it) and assign position and creation
///   time under that serialization.
/// - **Creation times never go backwards within a channel.** A message whose clock reading is
///   older than the channel's newest stored message is stored (and returned) with that newest
///   time instead, creation and update alike; other channels keep their own times.
/// - **NON_PERSISTENT messages are not stored.** They pass the policy like any other, and are
///   returned as sent (with the sender's name), but take no event number, stay out of the
///   history, leave LastMessageTimestamp alone, and their ClientRequestToken is not remembered.
/// - **Targeted messages do not move LastMessageTimestamp** (every member sees it; only sender
///   and target see the message). They are stored and numbered like any other, and listed only
///   to their sender and target.
/// - **The event number is taken in the write's transaction**: a send that is refused, replayed
///   or fails takes none, so a channel's numbers have no gaps (see the module documentation).
///
/// The store decides these rather than core because each needs the channel's state at commit
/// time (its newest message, its event number) inside the one transaction of the send, which
/// is what keeps the send a single job on the write path.
#[async_trait]
pub trait MessageStore: Send + Sync + 'static {
    /// Reads the sender's and target's roles and the channel, runs `policy` on them (the sender
    /// is the actor; its refusal comes back as `Refused`, nothing written), then (for a PERSISTENT message) stores it,
    /// takes the channel's next event number and, unless targeted, moves the channel's
    /// LastMessageTimestamp — all in one transaction. A PERSISTENT message with the (channel,
    /// sender, ClientRequestToken) of a stored one is a replay when its fingerprint matches,
    /// else `TokenReused`.
    async fn send_message(&self, new: NewMessage, policy: ChannelPolicy) -> StoreResult<Sent>;
    /// One stored message, with the sender's current name.
    async fn get_message(
        &self,
        channel: &ChannelKey,
        message_id: &str,
    ) -> StoreResult<Option<ChannelMessage>>;
    /// Messages of a channel that `viewer` may see (untargeted, or sent by or to them), in
    /// (creation time, position) order — commit order, see above — within the query's window,
    /// after `after`.
    async fn list_messages(
        &self,
        channel: &ChannelKey,
        viewer: &UserKey,
        query: MessageQuery,
        after: Option<MessageCursor>,
        limit: usize,
    ) -> StoreResult<Vec<(MessageCursor, ChannelMessage)>>;
    /// Edits or redacts a message and returns it as it now is, with the change's event number.
    /// Inside the write's transaction: missing (in this channel): `NoMessage`; then `policy` runs
    /// on the channel, `actor`'s roles and the message's sender (refused: `Refused`); editing a
    /// redacted message: `Redacted`.
    async fn change_message(
        &self,
        channel: &ChannelKey,
        message_id: &str,
        actor: &UserKey,
        change: MessageChange,
        now: Timestamp,
        policy: ChannelPolicy,
    ) -> StoreResult<(ChannelMessage, u64)>;
    /// Deletes a message and returns it as it was, with the deletion's event number. Inside the
    /// write's transaction: missing: `NoMessage`; then `policy` runs as for `change_message`.
    async fn delete_message(
        &self,
        channel: &ChannelKey,
        message_id: &str,
        actor: &UserKey,
        policy: ChannelPolicy,
    ) -> StoreResult<(ChannelMessage, u64)>;
    /// Sets the member's read marker. Inside the write's transaction: `policy` runs on the
    /// channel and `user`'s roles (refused: `Refused`); not a member: `NotMember`.
    async fn update_read_marker(
        &self,
        channel: &ChannelKey,
        user: &UserKey,
        now: Timestamp,
        policy: ChannelPolicy,
    ) -> StoreResult<()>;
}
