//! Channel messages and read markers on PostgreSQL.
//!
//! Every write to a channel's messages first locks the channel row — a send, an edit, a
//! redaction or a delete by taking the channel's next event number, a read marker with a share
//! lock — and only then reads what it depends on (the policy's context, the message, the
//! ClientRequestToken), each read a statement of its own so it sees every write committed
//! before the lock was granted. The send is the hot path and lives in `send`, which stores a
//! channel's concurrent sends together (a per-channel group commit).

mod send;

pub(crate) use send::SendQueues;

use async_trait::async_trait;
use belfry_core::arn::{ChannelKey, UserKey};
use belfry_core::events::{DomainEvent, Published};
use belfry_core::model::{
    Channel, ChannelMessage, MessageChange, MessageCursor, MessageQuery, NewMessage, SortOrder,
};
use belfry_core::perm::Roles;
use belfry_core::store::{ChannelContext, ChannelPolicy, MessageStore, Sent};
use belfry_core::store::{StoreError, StoreResult};
use belfry_core::time::Timestamp;
use deadpool_postgres::{GenericClient, Transaction};
use tokio_postgres::Row;

use super::rows_b::{self, channel_from_row, col, exec, roles_at, row, rows, MESSAGE_COLUMNS};
use super::{db, PgStore};

/// The channel's row position, by key (what messages reference).
const CHANNEL_SEQ: &str =
    "(SELECT seq FROM channels WHERE app_instance_id = $1 AND channel_id = $2)";

/// What a channel write's policy decides on besides the channel: the actor's (`$3`) name and
/// roles, a send's target's (`$4`, NULL for none) roles, and the channel's newest stored
/// message time (a send's clamp). Read after the channel row is locked.
const CONTEXT: &str = "SELECT
    (SELECT name FROM users WHERE app_instance_id = $1 AND user_id = $3),
    EXISTS (SELECT 1 FROM admins WHERE app_instance_id = $1 AND user_id = $3),
    EXISTS (SELECT 1 FROM moderators WHERE app_instance_id = $1 AND channel_id = $2 AND user_id = $3),
    (SELECT type FROM memberships WHERE app_instance_id = $1 AND channel_id = $2 AND user_id = $3),
    EXISTS (SELECT 1 FROM bans WHERE app_instance_id = $1 AND channel_id = $2 AND user_id = $3),
    EXISTS (SELECT 1 FROM admins WHERE app_instance_id = $1 AND user_id = $4),
    EXISTS (SELECT 1 FROM moderators WHERE app_instance_id = $1 AND channel_id = $2 AND user_id = $4),
    (SELECT type FROM memberships WHERE app_instance_id = $1 AND channel_id = $2 AND user_id = $4),
    EXISTS (SELECT 1 FROM bans WHERE app_instance_id = $1 AND channel_id = $2 AND user_id = $4),
    (SELECT MAX(created_ms) FROM messages WHERE channel_seq =
        (SELECT seq FROM channels WHERE app_instance_id = $1 AND channel_id = $2))";

/// A row of `CONTEXT`, read for `actor` in a channel (if it exists).
struct Context {
    actor_name: Option<String>,
    actor: Roles,
    target: Roles,
    newest_ms: Option<i64>,
}

impl Context {
    /// Reads a `CONTEXT` row. Roles exist only in an existing channel of the actor's own
    /// AppInstance (an admin of another AppInstance is nothing here).
    fn read(r: &Row, ch: &ChannelKey, actor: &UserKey, channel_exists: bool) -> StoreResult<Self> {
        let counts = channel_exists && ch.app_instance_id == actor.app_instance_id;
        Ok(Context {
            actor_name: col(r, 0)?,
            actor: if counts {
                roles_at(r, 1)?
            } else {
                Roles::default()
            },
            target: if channel_exists {
                roles_at(r, 5)?
            } else {
                Roles::default()
            },
            newest_ms: col(r, 9)?,
        })
    }
}

/// The event number in a `RETURNING … , event_seq` row of the channel lock.
fn locked_event_seq(r: &Row) -> StoreResult<u64> {
    Ok(col::<i64>(r, 14)?.max(0) as u64)
}

/// The channel lock of an edit, redaction or delete: takes the next event number.
const LOCK_NUMBERED: &str = "UPDATE channels SET event_seq = event_seq + 1
    WHERE app_instance_id = $1 AND channel_id = $2";

pub(crate) async fn get<C: GenericClient>(
    c: &C,
    ch: &ChannelKey,
    message_id: &str,
) -> StoreResult<Option<ChannelMessage>> {
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages m
         LEFT JOIN users u ON u.app_instance_id = $1 AND u.user_id = m.sender
         WHERE m.message_id = $3 AND m.channel_seq = {CHANNEL_SEQ}"
    );
    row(c, &sql, &[&ch.app_instance_id, &ch.channel_id, &message_id])
        .await?
        .map(|r| rows_b::message(ch, &r).map(|(_, m)| m))
        .transpose()
}

fn missing(id: &str) -> StoreError {
    StoreError::NoMessage(id.to_string())
}

/// Runs a write's `policy` on the context read now, inside `tx` (after the caller locked the
/// channel); nothing is written unless it allows the write.
async fn guard(
    tx: &Transaction<'_>,
    ch: &ChannelKey,
    channel: Option<Channel>,
    actor: &UserKey,
    message_sender: Option<UserKey>,
    policy: ChannelPolicy,
) -> StoreResult<()> {
    let none: Option<&str> = None;
    let r = row(
        tx,
        CONTEXT,
        &[&ch.app_instance_id, &ch.channel_id, &actor.user_id, &none],
    )
    .await?
    .ok_or_else(|| StoreError::internal("a SELECT without FROM returned no row"))?;
    let context = Context::read(&r, ch, actor, channel.is_some())?;
    let ctx = ChannelContext {
        actor_name: context.actor_name,
        channel,
        actor: context.actor,
        target: None,
        message_sender,
    };
    policy(&ctx).map_err(StoreError::Refused)
}

/// Locks the channel by taking its next event number and reads the message; runs the policy.
/// Returns the message as it is and the number. Missing channel or message: `NoMessage`.
async fn guarded_message(
    tx: &Transaction<'_>,
    ch: &ChannelKey,
    id: &str,
    actor: &UserKey,
    policy: ChannelPolicy,
) -> StoreResult<(ChannelMessage, u64)> {
    let sql = format!(
        "{LOCK_NUMBERED} RETURNING {}, event_seq",
        rows_b::CHANNEL_RETURNING
    );
    let locked = row(tx, &sql, &[&ch.app_instance_id, &ch.channel_id])
        .await?
        .ok_or_else(|| missing(id))?;
    let channel = channel_from_row(&locked)?.value;
    let seq = locked_event_seq(&locked)?;
    let current = get(tx, ch, id).await?.ok_or_else(|| missing(id))?;
    let sender = current.sender.key.clone();
    guard(tx, ch, Some(channel), actor, Some(sender), policy).await?;
    Ok((current, seq))
}

impl PgStore {
    async fn change(
        &self,
        ch: &ChannelKey,
        id: &str,
        actor: &UserKey,
        change: &MessageChange,
        now: Timestamp,
        policy: ChannelPolicy,
    ) -> StoreResult<(ChannelMessage, u64)> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(db)?;
        // Every refusal below drops `tx`, which rolls back the number it took.
        let (current, seq) = guarded_message(&tx, ch, id, actor, policy).await?;
        let event = match change {
            MessageChange::Edit {
                content,
                metadata,
                content_type,
            } => {
                if current.redacted {
                    return Err(StoreError::Redacted(id.to_string()));
                }
                let sql = format!(
                    "UPDATE messages SET content = $4, metadata = COALESCE($5, metadata),
                        content_type = COALESCE($6, content_type), edited_ms = $7, updated_ms = $7
                     WHERE message_id = $3 AND channel_seq = {CHANNEL_SEQ}"
                );
                exec(
                    &tx,
                    &sql,
                    &[
                        &ch.app_instance_id,
                        &ch.channel_id,
                        &id,
                        content,
                        metadata,
                        content_type,
                        &now.0,
                    ],
                )
                .await?;
                DomainEvent::MessageUpdated
            }
            MessageChange::Redact => {
                let sql = format!(
                    "UPDATE messages SET content = NULL, metadata = NULL, attributes = NULL,
                        redacted = TRUE, updated_ms = $4
                     WHERE message_id = $3 AND channel_seq = {CHANNEL_SEQ}"
                );
                exec(
                    &tx,
                    &sql,
                    &[&ch.app_instance_id, &ch.channel_id, &id, &now.0],
                )
                .await?;
                DomainEvent::MessageRedacted
            }
        };
        let changed = get(&tx, ch, id).await?.ok_or_else(|| missing(id))?;
        self.enqueue(&tx, &Published::at(seq, event(changed.clone())))
            .await?;
        tx.commit().await.map_err(db)?;
        Ok((changed, seq))
    }

    async fn delete(
        &self,
        ch: &ChannelKey,
        id: &str,
        actor: &UserKey,
        policy: ChannelPolicy,
    ) -> StoreResult<(ChannelMessage, u64)> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(db)?;
        let (current, seq) = guarded_message(&tx, ch, id, actor, policy).await?;
        let sql =
            format!("DELETE FROM messages WHERE message_id = $3 AND channel_seq = {CHANNEL_SEQ}");
        exec(&tx, &sql, &[&ch.app_instance_id, &ch.channel_id, &id]).await?;
        let event = Published::at(seq, DomainEvent::MessageDeleted(current.clone()));
        self.enqueue(&tx, &event).await?;
        tx.commit().await.map_err(db)?;
        Ok((current, seq))
    }

    async fn read_marker(
        &self,
        ch: &ChannelKey,
        user: &UserKey,
        now: Timestamp,
        policy: ChannelPolicy,
    ) -> StoreResult<()> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(db)?;
        // A share lock: markers do not wait on each other, but a role change or a send in
        // flight finishes first, and none starts until this commits.
        let sql = format!(
            "SELECT {} FROM channels WHERE app_instance_id = $1 AND channel_id = $2 FOR SHARE",
            rows_b::CHANNEL_RETURNING
        );
        let channel = match row(&tx, &sql, &[&ch.app_instance_id, &ch.channel_id]).await? {
            Some(r) => Some(channel_from_row(&r)?.value),
            None => None,
        };
        guard(&tx, ch, channel, user, None, policy).await?;
        let n = exec(
            &tx,
            "UPDATE memberships SET read_marker_ms = $4
             WHERE app_instance_id = $1 AND channel_id = $2 AND user_id = $3",
            &[&ch.app_instance_id, &ch.channel_id, &user.user_id, &now.0],
        )
        .await?;
        if n == 0 {
            return Err(StoreError::NotMember {
                user: user.user_id.clone(),
                channel: ch.channel_id.clone(),
            });
        }
        tx.commit().await.map_err(db)?;
        Ok(())
    }

    async fn list(
        &self,
        ch: &ChannelKey,
        viewer: &UserKey,
        q: MessageQuery,
        after: Option<MessageCursor>,
        limit: usize,
    ) -> StoreResult<Vec<(MessageCursor, ChannelMessage)>> {
        // The row-value comparison on (created_ms, seq) walks messages_by_time from the
        // cursor, so a page costs the same however deep it is.
        let (cmp, dir, start) = match q.order {
            SortOrder::Descending => ("<", "DESC", (i64::MAX, i64::MAX)),
            SortOrder::Ascending => (">", "ASC", (i64::MIN, i64::MIN)),
        };
        let (after_ms, after_seq) = after.map(|a| (a.created.0, a.seq)).unwrap_or(start);
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages m
             LEFT JOIN users u ON u.app_instance_id = $1 AND u.user_id = m.sender
             WHERE m.channel_seq = {CHANNEL_SEQ}
               AND m.created_ms >= $3 AND m.created_ms <= $4
               AND (m.created_ms, m.seq) {cmp} ($5, $6)
               AND (m.target IS NULL OR m.sender = $7 OR m.target = $7)
             ORDER BY m.created_ms {dir}, m.seq {dir} LIMIT $8"
        );
        let conn = self.conn().await?;
        let found = rows(
            &conn,
            &sql,
            &[
                &ch.app_instance_id,
                &ch.channel_id,
                &q.not_before.map(|t| t.0).unwrap_or(i64::MIN),
                &q.not_after.map(|t| t.0).unwrap_or(i64::MAX),
                &after_ms,
                &after_seq,
                &viewer.user_id,
                &(limit.min(i64::MAX as usize) as i64),
            ],
        )
        .await?;
        found.iter().map(|r| rows_b::message(ch, r)).collect()
    }
}

#[async_trait]
impl MessageStore for PgStore {
    async fn send_message(&self, new: NewMessage, policy: ChannelPolicy) -> StoreResult<Sent> {
        send::send(self, new, policy).await
    }

    async fn get_message(&self, ch: &ChannelKey, id: &str) -> StoreResult<Option<ChannelMessage>> {
        let conn = self.conn().await?;
        get(&conn, ch, id).await
    }

    async fn list_messages(
        &self,
        ch: &ChannelKey,
        viewer: &UserKey,
        query: MessageQuery,
        after: Option<MessageCursor>,
        limit: usize,
    ) -> StoreResult<Vec<(MessageCursor, ChannelMessage)>> {
        self.list(ch, viewer, query, after, limit).await
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
        self.change(ch, id, actor, &change, now, policy).await
    }

    async fn delete_message(
        &self,
        ch: &ChannelKey,
        id: &str,
        actor: &UserKey,
        policy: ChannelPolicy,
    ) -> StoreResult<(ChannelMessage, u64)> {
        self.delete(ch, id, actor, policy).await
    }

    async fn update_read_marker(
        &self,
        ch: &ChannelKey,
        user: &UserKey,
        now: Timestamp,
        policy: ChannelPolicy,
    ) -> StoreResult<()> {
        self.read_marker(ch, user, now, policy).await
    }
}
