//! What the writer remembers between sends: each channel's row, event sequence number and
//! newest message time, and each sender's name and roles in a channel. The writer owns it and clears it before every job
//! that is not a send and after every group that fails to commit (see `writer`), so it never
//! disagrees with the database the writer sees. It is bounded: when full it starts over.

use std::collections::HashMap;

use belfry_core::model::Channel;
use belfry_core::perm::Roles;
use belfry_core::store::Seq;

/// Most entries of each kind kept before the cache starts over.
const MAX_ENTRIES: usize = 65_536;

/// A channel as the send path needs it.
#[derive(Clone)]
pub(crate) struct CachedChannel {
    pub(crate) channel: Seq<Channel>,
    /// The channel's current event sequence number (`channels.event_seq`).
    pub(crate) event_seq: u64,
    /// Newest creation time among the channel's stored messages, once looked up.
    pub(crate) newest_ms: Option<Option<i64>>,
}

/// A sender as the send path needs it.
#[derive(Clone)]
pub(crate) struct CachedSender {
    pub(crate) name: Option<String>,
    pub(crate) roles: Roles,
}

/// The writer's cache for the send path.
#[derive(Default)]
pub(crate) struct SendCache {
    channels: HashMap<String, CachedChannel>,
    senders: HashMap<String, CachedSender>,
}

/// `app_instance_id` and `channel_id` as one key (ids never contain a NUL).
pub(crate) fn channel_key(app_instance_id: &str, channel_id: &str) -> String {
    let mut k = String::with_capacity(app_instance_id.len() + channel_id.len() + 1);
    k.push_str(app_instance_id);
    k.push('\0');
    k.push_str(channel_id);
    k
}

fn sender_key(channel_key: &str, user_id: &str) -> String {
    let mut k = String::with_capacity(channel_key.len() + user_id.len() + 1);
    k.push_str(channel_key);
    k.push('\0');
    k.push_str(user_id);
    k
}

impl SendCache {
    /// Forgets everything.
    pub(crate) fn clear(&mut self) {
        self.channels.clear();
        self.senders.clear();
    }

    /// The channel (row and event sequence number) and the sender, if both are cached.
    pub(crate) fn get(
        &self,
        channel_key: &str,
        user_id: &str,
    ) -> Option<(Seq<Channel>, u64, CachedSender)> {
        let sender = self.senders.get(&sender_key(channel_key, user_id))?;
        let channel = self.channels.get(channel_key)?;
        Some((channel.channel.clone(), channel.event_seq, sender.clone()))
    }

    /// Remembers a channel (as just read) and a sender in it. A channel already cached is kept:
    /// it is as exact as the row just read.
    pub(crate) fn put(
        &mut self,
        channel_key: String,
        user_id: &str,
        channel: Seq<Channel>,
        event_seq: u64,
        sender: CachedSender,
    ) {
        if self.channels.len() >= MAX_ENTRIES || self.senders.len() >= MAX_ENTRIES {
            self.clear();
        }
        self.senders
            .insert(sender_key(&channel_key, user_id), sender);
        self.channels.entry(channel_key).or_insert(CachedChannel {
            channel,
            event_seq,
            newest_ms: None,
        });
    }

    /// The cached channel, to record a message stored in it.
    pub(crate) fn channel_mut(&mut self, channel_key: &str) -> Option<&mut CachedChannel> {
        self.channels.get_mut(channel_key)
    }
}
