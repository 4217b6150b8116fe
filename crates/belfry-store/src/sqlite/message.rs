//! Channel messages and read markers in SQLite.

use super::SqliteStore;
use crate::codec::{
    decode_attributes, decode_push, encode_attributes, encode_push, membership_type,
};
use async_trait::async_trait;
use belfry_core::arn::{ChannelKey, UserKey};
use belfry_core::model::{
    Channel, ChannelMessage, MessageChange, MessageCursor, MessageQuery, MessageType, NewMessage,
    Persistence, SortOrder, UserRef,
};
use belfry_core::perm::Roles;
use belfry_core::store::MessageStore;
use belfry_core::store::{ChannelContext, ChannelPolicy, Sent, Seq};
use belfry_core::store::{StoreError, StoreResult};
use belfry_core::time::Timestamp;
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::send_cache::{channel_key, CachedSender};
use super::tokens;
use super::writer::Hot;
use super::{channel, db};

const COLUMNS: &str =
    "m.seq, m.message_id, m.sender, u.name, m.type, m.content, m.metadata, m.content_type,
    m.attributes, m.push, m.target, m.created_ms, m.updated_ms, m.edited_ms, m.redacted";

/// What a channel write's policy decides on: the channel (creator name not resolved: not
/// needed here), the actor's name, and the actor's roles; and the channel's event sequence
/// number (for the send cache).
const CONTEXT: &str = channel::channel_select!(
    unnamed,
    ",
        (SELECT name FROM users WHERE app_instance_id = ?1 AND user_id = ?3),
        EXISTS (SELECT 1 FROM admins WHERE app_instance_id = ?1 AND user_id = ?3),
        EXISTS (SELECT 1 FROM moderators WHERE app_instance_id = ?1 AND channel_id = ?2 AND user_id = ?3),
        (SELECT type FROM memberships WHERE app_instance_id = ?1 AND channel_id = ?2 AND user_id = ?3),
        EXISTS (SELECT 1 FROM bans WHERE app_instance_id = ?1 AND channel_id = ?2 AND user_id = ?3),
        c.event_seq",
    "WHERE c.app_instance_id = ?1 AND c.channel_id = ?2"
);

/// The channel's row position, by key (a scalar subquery: evaluated once per statement).
const CHANNEL_SEQ: &str =
    "(SELECT seq FROM channels WHERE app_instance_id = ?1 AND channel_id = ?2)";

fn from_row(ch: &ChannelKey, r: &Row) -> rusqlite::Result<(MessageCursor, ChannelMessage)> {
    let user = |id: String| UserKey {
        app_instance_id: ch.app_instance_id.clone(),
        user_id: id,
    };
    let kind: String = r.get(4)?;
    let created = Timestamp(r.get(11)?);
    let message = ChannelMessage {
        channel: ch.clone(),
        message_id: r.get(1)?,
        sender: UserRef {
            key: user(r.get(2)?),
            name: r.get(3)?,
        },
        kind: if kind == "CONTROL" {
            MessageType::Control
        } else {
            MessageType::Standard
        },
        content: r.get(5)?,
        metadata: r.get(6)?,
        content_type: r.get(7)?,
        attributes: decode_attributes(r.get(8)?),
        push: decode_push(r.get(9)?),
        target: r.get::<_, Option<String>>(10)?.map(user),
        persistence: Persistence::Persistent,
        created,
        updated: Timestamp(r.get(12)?),
        edited: r.get::<_, Option<i64>>(13)?.map(Timestamp),
        redacted: r.get(14)?,
    };
    Ok((
        MessageCursor {
            created,
            seq: r.get(0)?,
        },
        message,
    ))
}

pub(crate) fn get(
    c: &Connection,
    ch: &ChannelKey,
    message_id: &str,
) -> StoreResult<Option<ChannelMessage>> {
    c.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM messages m LEFT JOIN users u ON u.app_instance_id = ?1 AND u.user_id = m.sender
         WHERE m.message_id = ?3 AND m.channel_seq = {CHANNEL_SEQ}"
    ))
    .map_err(db)?
    .query_row(params![ch.app_instance_id, ch.channel_id, message_id], |r| from_row(ch, r))
    .optional()
    .map_err(db)
    .map(|r| r.map(|(_, m)| m))
}

fn roles_of(c: &Connection, ch: &ChannelKey, user: &UserKey) -> StoreResult<Roles> {
    channel::roles(c, ch, user)
}

/// Channel, its event sequence number, the actor's name and roles in one statement, or `None`
/// without the channel.
fn load_context(
    c: &Connection,
    ch: &ChannelKey,
    actor: &UserKey,
) -> StoreResult<Option<(Seq<Channel>, u64, CachedSender)>> {
    c.prepare_cached(CONTEXT)
        .map_err(db)?
        .query_row(
            params![ch.app_instance_id, ch.channel_id, actor.user_id],
            |r| {
                let member: Option<String> = r.get(17)?;
                let roles = Roles {
                    admin: r.get(15)?,
                    moderator: r.get(16)?,
                    member: member.as_deref().map(membership_type),
                    banned: r.get(18)?,
                };
                Ok((
                    channel::from_row(r)?,
                    r.get::<_, i64>(19)? as u64,
                    CachedSender {
                        name: r.get(14)?,
                        roles,
                    },
                ))
            },
        )
        .optional()
        .map_err(db)
}

/// Runs a write's `policy` on the context read in this transaction (never from the send cache,
/// which every job but a send clears): nothing is written unless it allows the write.
fn guard(
    c: &Connection,
    ch: &ChannelKey,
    actor: &UserKey,
    message_sender: Option<UserKey>,
    policy: ChannelPolicy,
) -> StoreResult<()> {
    let (channel, actor_name, roles) = match load_context(c, ch, actor)? {
        Some((channel, _, a)) => (Some(channel.value), a.name, a.roles),
        None => (
            None,
            super::user::get(c, actor)?.map(|u| u.name),
            Roles::default(),
        ),
    };
    let ctx = ChannelContext {
        actor_name,
        channel,
        actor: roles,
        target: None,
        message_sender,
    };
    policy(&ctx).map_err(StoreError::Refused)
}

/// The send path: context, policy, idempotency, insert, LastMessageTimestamp — one hot job
/// (see `writer`): every check comes before the first write.
pub(crate) fn send(
    c: &Connection,
    hot: &mut Hot,
    new: NewMessage,
    policy: ChannelPolicy,
) -> StoreResult<Sent> {
    let cache = &mut hot.cache;
    let m = &new.message;
    let key = channel_key(&m.channel.app_instance_id, &m.channel.channel_id);
    let known = match cache.get(&key, &m.sender.key.user_id) {
        Some(known) => Some(known),
        None => {
            let loaded = load_context(c, &m.channel, &m.sender.key)?;
            if let Some((ch, event_seq, sender)) = &loaded {
                cache.put(
                    key.clone(),
                    &m.sender.key.user_id,
                    ch.clone(),
                    *event_seq,
                    sender.clone(),
                );
            }
            loaded
        }
    };
    let (channel, event_seq, sender_name, sender_roles) = match known {
        Some((ch, event_seq, sender)) => (Some(ch), event_seq, sender.name, sender.roles),
        None => {
            let name = super::user::get(c, &m.sender.key)?.map(|u| u.name);
            (None, 0, name, Roles::default())
        }
    };
    let target_roles = match (&channel, &m.target) {
        (Some(_), Some(t)) => Some(roles_of(c, &m.channel, t)?),
        (None, Some(_)) => Some(Roles::default()),
        (_, None) => None,
    };
    let ctx = ChannelContext {
        actor_name: sender_name.clone(),
        channel: channel.as_ref().map(|s| s.value.clone()),
        actor: sender_roles,
        target: target_roles,
        message_sender: None,
    };
    policy(&ctx).map_err(StoreError::Refused)?;
    let channel_seq = match (&channel, m.persistence) {
        (Some(ch), Persistence::Persistent) => ch.seq,
        // NON_PERSISTENT messages are delivered, never stored.
        _ => {
            let mut message = new.message;
            message.sender.name = sender_name;
            return Ok(Sent {
                message,
                replayed: false,
                event_seq: None,
            });
        }
    };
    let earlier = tokens::earlier(
        c,
        &hot.tokens,
        channel_seq,
        &m.sender.key.user_id,
        &new.client_request_token,
    )?;
    if let Some((id, fp)) = earlier {
        if fp != new.fingerprint {
            return Err(StoreError::TokenReused);
        }
        let message = get(c, &m.channel, &id)?
            .ok_or_else(|| StoreError::internal("replayed message vanished"))?;
        return Ok(Sent {
            message,
            replayed: true,
            event_seq: None,
        });
    }
    // Creation times never go backwards within a channel: a send that took its time before
    // another but commits after it is stamped no earlier than it, so (created, seq) order is
    // commit order and a reader paging forward never skips a message.
    let newest = match cache.channel_mut(&key).and_then(|ch| ch.newest_ms) {
        Some(newest) => newest,
        None => c
            .prepare_cached("SELECT MAX(created_ms) FROM messages WHERE channel_seq = ?1")
            .map_err(db)?
            .query_row(params![channel_seq], |r| r.get::<_, Option<i64>>(0))
            .map_err(db)?,
    };
    let mut message = new.message;
    let created = Timestamp(message.created.0.max(newest.unwrap_or(i64::MIN)));
    message.created = created;
    message.updated = created;
    let m = &message;
    c.prepare_cached(
        "INSERT INTO messages (channel_seq, message_id, sender, type, content, metadata, content_type,
            attributes, push, target, created_ms, updated_ms, client_request_token, fingerprint)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11, ?12, ?13)",
    )
    .map_err(db)?
    .execute(params![
        channel_seq,
        m.message_id,
        m.sender.key.user_id,
        m.kind.as_str(),
        m.content,
        m.metadata,
        m.content_type,
        encode_attributes(&m.attributes),
        encode_push(&m.push),
        m.target.as_ref().map(|t| t.user_id.as_str()),
        m.created.0,
        new.client_request_token,
        new.fingerprint,
    ])
    .map_err(db)?;
    let token_key = tokens::token_key(
        channel_seq,
        &m.sender.key.user_id,
        &new.client_request_token,
    );
    hot.tokens.add(c, token_key, c.last_insert_rowid())?;
    // One statement on the channel row: the message takes the channel's next event number,
    // and (untargeted) moves LastMessageTimestamp. A targeted message is seen by two members
    // only; it does not move LastMessageTimestamp, which everyone sees. The number comes from
    // the cache, which is exact (see `send_cache`); the row is updated only if it agrees, so a
    // cache out of step fails the send (and its group) instead of numbering wrong. (RETURNING
    // would cost about three times this statement: SQLite buffers the rows it returns.)
    let moves_last = m.target.is_none().then_some(m.created.0);
    let event_seq = event_seq + 1;
    let updated = c
        .prepare_cached(
            "UPDATE channels SET event_seq = ?3,
                last_message_ms = CASE WHEN ?2 IS NULL THEN last_message_ms
                                       ELSE MAX(COALESCE(last_message_ms, 0), ?2) END
             WHERE seq = ?1 AND event_seq = ?3 - 1",
        )
        .map_err(db)?
        .execute(params![channel_seq, moves_last, event_seq as i64])
        .map_err(db)?;
    if updated != 1 {
        return Err(StoreError::internal(
            "the send cache's event sequence number disagrees with the channel row",
        ));
    }
    if let Some(ch) = cache.channel_mut(&key) {
        ch.event_seq = event_seq;
        ch.newest_ms = Some(Some(created.0));
        if m.target.is_none() {
            let last = ch
                .channel
                .value
                .last_message
                .map_or(created, |t| t.max(created));
            ch.channel.value.last_message = Some(last);
        }
    }
    message.sender.name = sender_name;
    Ok(Sent {
        message,
        replayed: false,
        event_seq: Some(event_seq),
    })
}

pub(crate) fn list(
    c: &Connection,
    ch: &ChannelKey,
    viewer: &UserKey,
    q: MessageQuery,
    after: Option<MessageCursor>,
    limit: usize,
) -> StoreResult<Vec<(MessageCursor, ChannelMessage)>> {
    // Row-value comparison on (created_ms, seq) walks the messages_by_time index from the
    // cursor, so a page costs the same however deep it is.
    let (cmp, dir, start) = match q.order {
        SortOrder::Descending => ("<", "DESC", (i64::MAX, i64::MAX)),
        SortOrder::Ascending => (">", "ASC", (i64::MIN, i64::MIN)),
    };
    let (after_ms, after_seq) = after.map(|a| (a.created.0, a.seq)).unwrap_or(start);
    let sql = format!(
        "SELECT {COLUMNS} FROM messages m LEFT JOIN users u ON u.app_instance_id = ?1 AND u.user_id = m.sender
         WHERE m.channel_seq = {CHANNEL_SEQ}
           AND m.created_ms >= ?3 AND m.created_ms <= ?4
           AND (m.created_ms, m.seq) {cmp} (?5, ?6)
           AND (m.target IS NULL OR m.sender = ?7 OR m.target = ?7)
         ORDER BY m.created_ms {dir}, m.seq {dir} LIMIT ?8"
    );
    let mut stmt = c.prepare_cached(&sql).map_err(db)?;
    let rows = stmt
        .query_map(
            params![
                ch.app_instance_id,
                ch.channel_id,
                q.not_before.map(|t| t.0).unwrap_or(i64::MIN),
                q.not_after.map(|t| t.0).unwrap_or(i64::MAX),
                after_ms,
                after_seq,
                viewer.user_id,
                limit as i64
            ],
            |r| from_row(ch, r),
        )
        .map_err(db)?;
    rows.collect::<Result<_, _>>().map_err(db)
}

fn missing(id: &str) -> StoreError {
    StoreError::NoMessage(id.to_string())
}

/// A write to a stored message: who acts and what the core allows.
pub(crate) struct Guarded<'a> {
    pub(crate) actor: &'a UserKey,
    pub(crate) policy: ChannelPolicy,
}

/// Edits or redacts a message if the policy allows it; returns it as it now is and the
/// change's event number.
pub(crate) fn change(
    c: &Connection,
    ch: &ChannelKey,
    id: &str,
    change: &MessageChange,
    now: Timestamp,
    by: Guarded,
) -> StoreResult<(ChannelMessage, u64)> {
    let current = get(c, ch, id)?.ok_or_else(|| missing(id))?;
    guard(c, ch, by.actor, Some(current.sender.key.clone()), by.policy)?;
    match change {
        MessageChange::Edit {
            content,
            metadata,
            content_type,
        } => {
            if current.redacted {
                return Err(StoreError::Redacted(id.to_string()));
            }
            c.execute(
                &format!(
                    "UPDATE messages SET content = ?4, metadata = COALESCE(?5, metadata),
                        content_type = COALESCE(?6, content_type), edited_ms = ?7, updated_ms = ?7
                     WHERE message_id = ?3 AND channel_seq = {CHANNEL_SEQ}"
                ),
                params![
                    ch.app_instance_id,
                    ch.channel_id,
                    id,
                    content,
                    metadata,
                    content_type,
                    now.0
                ],
            )
            .map_err(db)?;
        }
        MessageChange::Redact => {
            c.execute(
                &format!(
                    "UPDATE messages SET content = NULL, metadata = NULL, attributes = NULL, redacted = 1,
                        updated_ms = ?4
                     WHERE message_id = ?3 AND channel_seq = {CHANNEL_SEQ}"
                ),
                params![ch.app_instance_id, ch.channel_id, id, now.0],
            )
            .map_err(db)?;
        }
    }
    let changed = get(c, ch, id)?.ok_or_else(|| missing(id))?;
    Ok((changed, channel::next_event_seq(c, ch)?))
}

/// Deletes a message if the policy allows it; returns it as it was and the deletion's event
/// number.
pub(crate) fn delete(
    c: &Connection,
    ch: &ChannelKey,
    id: &str,
    by: Guarded,
) -> StoreResult<(ChannelMessage, u64)> {
    let current = get(c, ch, id)?.ok_or_else(|| missing(id))?;
    guard(c, ch, by.actor, Some(current.sender.key.clone()), by.policy)?;
    c.execute(
        &format!("DELETE FROM messages WHERE message_id = ?3 AND channel_seq = {CHANNEL_SEQ}"),
        params![ch.app_instance_id, ch.channel_id, id],
    )
    .map_err(db)?;
    Ok((current, channel::next_event_seq(c, ch)?))
}

/// Sets `user`'s read marker if the policy allows it.
pub(crate) fn read_marker(
    c: &Connection,
    ch: &ChannelKey,
    user: &UserKey,
    now: Timestamp,
    policy: ChannelPolicy,
) -> StoreResult<()> {
    guard(c, ch, user, None, policy)?;
    let n = c
        .prepare_cached(
            "UPDATE memberships SET read_marker_ms = ?4
             WHERE app_instance_id = ?1 AND channel_id = ?2 AND user_id = ?3",
        )
        .map_err(db)?
        .execute(params![
            ch.app_instance_id,
            ch.channel_id,
            user.user_id,
            now.0
        ])
        .map_err(db)?;
    if n == 0 {
        return Err(StoreError::NotMember {
            user: user.user_id.clone(),
            channel: ch.channel_id.clone(),
        });
    }
    Ok(())
}

#[async_trait]
impl MessageStore for SqliteStore {
    async fn send_message(&self, new: NewMessage, policy: ChannelPolicy) -> StoreResult<Sent> {
        self.inner
            .writer
            .write_hot(move |c, hot| send(c, hot, new, policy))
            .await
    }
    async fn get_message(&self, ch: &ChannelKey, id: &str) -> StoreResult<Option<ChannelMessage>> {
        let (ch, id) = (ch.clone(), id.to_string());
        self.read(move |c| get(c, &ch, &id)).await
    }
    async fn list_messages(
        &self,
        ch: &ChannelKey,
        viewer: &UserKey,
        query: MessageQuery,
        after: Option<MessageCursor>,
        limit: usize,
    ) -> StoreResult<Vec<(MessageCursor, ChannelMessage)>> {
        let (ch, viewer) = (ch.clone(), viewer.clone());
        self.read(move |c| list(c, &ch, &viewer, query, after, limit))
            .await
    }
    async fn change_message(
        &self,
        ch: &ChannelKey,
        id: &str,
        actor: &UserKey,
        change: MessageChange,
        now: Timestamp,
        policy: ChannelPolicy,
    ) -> StoreResult<(ChannelMessage, u64)> {
        let (ch, id, actor) = (ch.clone(), id.to_string(), actor.clone());
        self.write(move |c| {
            let by = Guarded {
                actor: &actor,
                policy,
            };
            self::change(c, &ch, &id, &change, now, by)
        })
        .await
    }
    async fn delete_message(
        &self,
        ch: &ChannelKey,
        id: &str,
        actor: &UserKey,
        policy: ChannelPolicy,
    ) -> StoreResult<(ChannelMessage, u64)> {
        let (ch, id, actor) = (ch.clone(), id.to_string(), actor.clone());
        self.write(move |c| {
            let by = Guarded {
                actor: &actor,
                policy,
            };
            delete(c, &ch, &id, by)
        })
        .await
    }
    async fn update_read_marker(
        &self,
        ch: &ChannelKey,
        u: &UserKey,
        now: Timestamp,
        policy: ChannelPolicy,
    ) -> StoreResult<()> {
        let (ch, u) = (ch.clone(), u.clone());
        self.write(move |c| read_marker(c, &ch, &u, now, policy))
            .await
    }
}
