//! MessageStore on PostgreSQL (placeholder until written: every method fails).
#![allow(unused_variables, unused_imports)]

use async_trait::async_trait;
use belfry_core::arn::{ChannelKey, UserKey};
use belfry_core::model::{ChannelMessage, MessageChange, MessageCursor, MessageQuery, NewMessage};
use belfry_core::store::MessageStore;
use belfry_core::store::StoreResult;
use belfry_core::store::{ChannelPolicy, Sent};
use belfry_core::time::Timestamp;

use super::PgStore;

#[async_trait]
impl MessageStore for PgStore {
    async fn send_message(&self, new: NewMessage, policy: ChannelPolicy) -> StoreResult<Sent> {
        Err(belfry_core::store::StoreError::internal(
            "MessageStore is not written yet",
        ))
    }
    async fn get_message(
        &self,
        channel: &ChannelKey,
        message_id: &str,
    ) -> StoreResult<Option<ChannelMessage>> {
        Err(belfry_core::store::StoreError::internal(
            "MessageStore is not written yet",
        ))
    }
    async fn list_messages(
        &self,
        channel: &ChannelKey,
        viewer: &UserKey,
        query: MessageQuery,
        after: Option<MessageCursor>,
        limit: usize,
    ) -> StoreResult<Vec<(MessageCursor, ChannelMessage)>> {
        Err(belfry_core::store::StoreError::internal(
            "MessageStore is not written yet",
        ))
    }
    async fn change_message(
        &self,
        channel: &ChannelKey,
        message_id: &str,
        actor: &UserKey,
        change: MessageChange,
        now: Timestamp,
        policy: ChannelPolicy,
    ) -> StoreResult<(ChannelMessage, u64)> {
        Err(belfry_core::store::StoreError::internal(
            "MessageStore is not written yet",
        ))
    }
    async fn delete_message(
        &self,
        channel: &ChannelKey,
        message_id: &str,
        actor: &UserKey,
        policy: ChannelPolicy,
    ) -> StoreResult<(ChannelMessage, u64)> {
        Err(belfry_core::store::StoreError::internal(
            "MessageStore is not written yet",
        ))
    }
    async fn update_read_marker(
        &self,
        channel: &ChannelKey,
        user: &UserKey,
        now: Timestamp,
        policy: ChannelPolicy,
    ) -> StoreResult<()> {
        Err(belfry_core::store::StoreError::internal(
            "MessageStore is not written yet",
        ))
    }
}
