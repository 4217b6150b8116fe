//! SendChannelMessage, the hot path: **two round trips** for a stored message.
//!
//! 1. `BEGIN`; the channel lock, which takes the next event number
//!    (`UPDATE channels SET event_seq = event_seq + 1 … RETURNING` the channel); the policy's
//!    context with the channel's newest message time; and the earlier message with this
//!    ClientRequestToken, if any — four statements pipelined on one connection (tokio-postgres
//!    sends each when first polled, and `try_join!(biased; …)` polls them in this order). The
//!    server runs them in order, so the three reads start after the lock is granted and, at
//!    READ COMMITTED, see every send committed before it.
//! 2. The policy runs here, between the trips. Allowed and new: the message row, the move of
//!    LastMessageTimestamp (untargeted only), the outbox entry (with an outbox) and `COMMIT`,
//!    pipelined again. A refusal, a replay or a reused token sends `ROLLBACK` instead, which
//!    returns the event number: nothing is written.
//!
//! The row lock serializes a channel's sends across every node: the message's `seq` (taken by
//! the insert) and its creation time (clamped to the newest stored message, read under the
//! lock) follow commit order, which is the paging order. `BEGIN`/`COMMIT` are issued by hand so
//! they can share the trips; `Open` makes sure a connection left inside a transaction (an error
//! or a cancelled request between them) never goes back to the pool.
//!
//! A NON_PERSISTENT message takes no lock and no number: one round trip reads the channel and
//! the context for the policy.

use belfry_core::events::{DomainEvent, Published};
use belfry_core::model::{ChannelMessage, NewMessage, Persistence};
use belfry_core::store::{ChannelContext, ChannelPolicy, Sent};
use belfry_core::store::{StoreError, StoreResult};
use belfry_core::time::Timestamp;
use deadpool_postgres::Object;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Row, Statement};

use super::super::rows_b::{self, col, encode_attributes, encode_push, MESSAGE_COLUMNS};
use super::super::{db, is_unique_violation, PgStore};
use super::{locked_channel, locked_event_seq, Context, CHANNEL_SEQ, CONTEXT, LOCK_NUMBERED};

/// The earlier message with this (channel, sender, ClientRequestToken), with its fingerprint
/// first (the unique key's index finds it).
fn token_sql() -> String {
    format!(
        "SELECT m.fingerprint, {MESSAGE_COLUMNS} FROM messages m
         LEFT JOIN users u ON u.app_instance_id = $1 AND u.user_id = m.sender
         WHERE m.channel_seq = {CHANNEL_SEQ} AND m.sender = $3 AND m.client_request_token = $4"
    )
}

const INSERT: &str = "INSERT INTO messages (channel_seq, message_id, sender, type, content,
        metadata, content_type, attributes, push, target, created_ms, updated_ms,
        client_request_token, fingerprint)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12, $13)";

/// GREATEST ignores NULL: the first message sets it.
const MOVE_LAST: &str =
    "UPDATE channels SET last_message_ms = GREATEST(last_message_ms, $2) WHERE seq = $1";

const OUTBOX: &str = "INSERT INTO outbox (payload) VALUES ($1)";

/// A pooled connection inside a transaction begun by hand. Dropped before `close` (an error
/// or a cancelled request), the connection leaves the pool and is closed, which makes the
/// server roll the transaction back: it is never handed to another request mid-transaction.
struct Open {
    conn: Option<Object>,
}

impl Open {
    fn client(&self) -> StoreResult<&Client> {
        match &self.conn {
            Some(c) => Ok(c),
            None => Err(StoreError::internal("the send's connection is gone")),
        }
    }

    /// Ends the transaction cleanly: the connection may go back to the pool.
    fn close(mut self) {
        drop(self.conn.take());
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            drop(Object::take(conn));
        }
    }
}

/// The statements of a send, prepared once per connection (pipelined on the first send).
struct Statements {
    lock: Statement,
    context: Statement,
    token: Statement,
    insert: Statement,
    move_last: Statement,
    outbox: Statement,
}

impl Statements {
    async fn prepare(conn: &Object) -> StoreResult<Self> {
        let lock = format!(
            "{LOCK_NUMBERED} RETURNING {}, event_seq",
            rows_b::CHANNEL_RETURNING
        );
        let token = token_sql();
        let (lock, context, token, insert, move_last, outbox) = tokio::try_join!(
            conn.prepare_cached(&lock),
            conn.prepare_cached(CONTEXT),
            conn.prepare_cached(&token),
            conn.prepare_cached(INSERT),
            conn.prepare_cached(MOVE_LAST),
            conn.prepare_cached(OUTBOX),
        )
        .map_err(db)?;
        Ok(Statements {
            lock,
            context,
            token,
            insert,
            move_last,
            outbox,
        })
    }
}

/// What the first round trip read.
struct Read {
    /// The channel's row position, the channel, and the event number taken; `None` without the
    /// channel.
    locked: Option<(i64, belfry_core::model::Channel, u64)>,
    context: Context,
    /// An earlier message with the token: its fingerprint and the message.
    earlier: Option<(String, ChannelMessage)>,
}

pub(super) async fn send(
    store: &PgStore,
    new: NewMessage,
    policy: ChannelPolicy,
) -> StoreResult<Sent> {
    if new.message.persistence == Persistence::NonPersistent {
        return fleeting(store, new, policy).await;
    }
    let conn = store.conn().await?;
    let st = Statements::prepare(&conn).await?;
    let open = Open { conn: Some(conn) };
    let read = first_trip(&open, &st, &new).await?;
    let m = &new.message;
    let target = match (&read.locked, &m.target) {
        (Some(_), Some(_)) => Some(read.context.target),
        (None, Some(_)) => Some(Default::default()),
        (_, None) => None,
    };
    let ctx = ChannelContext {
        actor_name: read.context.actor_name.clone(),
        channel: read.locked.as_ref().map(|(_, ch, _)| ch.clone()),
        actor: read.context.actor,
        target,
        message_sender: None,
    };
    let decided = policy(&ctx).map_err(StoreError::Refused);
    let outcome = match (decided, read.locked, read.earlier) {
        (Err(refused), _, _) => Err(refused),
        // No channel, and the policy let it through: delivered as sent, nothing to store in.
        (Ok(()), None, _) => Ok(unstored(new.message, read.context.actor_name)),
        (Ok(()), Some(_), Some((fingerprint, message))) => {
            if fingerprint == new.fingerprint {
                Ok(Sent {
                    message,
                    replayed: true,
                    event_seq: None,
                })
            } else {
                Err(StoreError::TokenReused)
            }
        }
        (Ok(()), Some((channel_seq, _, event_seq)), None) => {
            let newest = read.context.newest_ms;
            let name = read.context.actor_name;
            return store_it(store, open, &st, new, channel_seq, event_seq, newest, name).await;
        }
    };
    // Nothing to write: give the number back and release the lock.
    open.client()?.batch_execute("ROLLBACK").await.map_err(db)?;
    open.close();
    outcome
}

/// The first round trip (see the module docs).
async fn first_trip(open: &Open, st: &Statements, new: &NewMessage) -> StoreResult<Read> {
    let client = open.client()?;
    let m = &new.message;
    let ch = &m.channel;
    let target: Option<&str> = m.target.as_ref().map(|t| t.user_id.as_str());
    let sender = &m.sender.key.user_id;
    let lock_params: [&(dyn ToSql + Sync); 2] = [&ch.app_instance_id, &ch.channel_id];
    let context_params: [&(dyn ToSql + Sync); 4] =
        [&ch.app_instance_id, &ch.channel_id, sender, &target];
    let token_params: [&(dyn ToSql + Sync); 4] = [
        &ch.app_instance_id,
        &ch.channel_id,
        sender,
        &new.client_request_token,
    ];
    let (_, locked, context, earlier) = tokio::try_join!(
        biased;
        client.batch_execute("BEGIN"),
        client.query_opt(&st.lock, &lock_params),
        client.query_one(&st.context, &context_params),
        client.query_opt(&st.token, &token_params),
    )
    .map_err(db)?;
    let locked = match locked {
        Some(r) => {
            let (channel_seq, channel) = locked_channel(&r)?;
            Some((channel_seq, channel, locked_event_seq(&r)?))
        }
        None => None,
    };
    let context = Context::read(&context, ch, &m.sender.key, locked.is_some())?;
    let earlier = earlier.map(|r| replayed(&r, m)).transpose()?;
    Ok(Read {
        locked,
        context,
        earlier,
    })
}

/// A row of the token query: its fingerprint and the message.
fn replayed(r: &Row, m: &ChannelMessage) -> StoreResult<(String, ChannelMessage)> {
    let fingerprint: String = col(r, 0)?;
    // The message columns follow the fingerprint; read them from a shifted view.
    let (_, message) = rows_b::message_from(&m.channel, r, 1)?;
    Ok((fingerprint, message))
}

/// The message as sent, with the sender's name, not stored.
fn unstored(mut message: ChannelMessage, sender_name: Option<String>) -> Sent {
    message.sender.name = sender_name;
    Sent {
        message,
        replayed: false,
        event_seq: None,
    }
}

/// The second round trip of a new message: insert, LastMessageTimestamp, outbox, `COMMIT`.
#[allow(clippy::too_many_arguments)]
async fn store_it(
    store: &PgStore,
    open: Open,
    st: &Statements,
    new: NewMessage,
    channel_seq: i64,
    event_seq: u64,
    newest_ms: Option<i64>,
    sender_name: Option<String>,
) -> StoreResult<Sent> {
    let NewMessage {
        mut message,
        client_request_token,
        fingerprint,
    } = new;
    // Creation times never go backwards within a channel: a send that read its clock before
    // another but commits after it is stamped no earlier than it, so (created, seq) order is
    // commit order and a reader paging forward never skips a message.
    let created = Timestamp(message.created.0.max(newest_ms.unwrap_or(i64::MIN)));
    message.created = created;
    message.updated = created;
    message.sender.name = sender_name;
    let payload = store
        .outbox
        .then(|| Published::at(event_seq, DomainEvent::MessageCreated(message.clone())).encode());
    let client = open.client()?;
    let m = &message;
    let target = m.target.as_ref().map(|t| t.user_id.as_str());
    let attributes = encode_attributes(&m.attributes);
    let push = encode_push(&m.push);
    let insert_params: [&(dyn ToSql + Sync); 13] = [
        &channel_seq,
        &m.message_id,
        &m.sender.key.user_id,
        &m.kind.as_str(),
        &m.content,
        &m.metadata,
        &m.content_type,
        &attributes,
        &push,
        &target,
        &created.0,
        &client_request_token,
        &fingerprint,
    ];
    let inserted = client.execute(&st.insert, &insert_params);
    // A targeted message is seen by two members only; it does not move LastMessageTimestamp,
    // which everyone sees.
    let moved = async {
        match target {
            None => client
                .execute(&st.move_last, &[&channel_seq, &created.0])
                .await
                .map(|_| ()),
            Some(_) => Ok(()),
        }
    };
    let queued = async {
        match &payload {
            Some(p) => client.execute(&st.outbox, &[p]).await.map(|_| ()),
            None => Ok(()),
        }
    };
    let written = tokio::try_join!(biased; inserted, moved, queued, client.batch_execute("COMMIT"));
    match written {
        Ok(_) => {
            open.close();
            Ok(Sent {
                message,
                replayed: false,
                event_seq: Some(event_seq),
            })
        }
        // The lock serializes a channel's sends, so the token's unique key cannot be taken
        // behind it; a violation here is a message id taken in another channel (the `COMMIT`
        // pipelined behind the failed insert rolled back). `open` is dropped: the connection
        // went through an error mid-pipeline and is not reused.
        Err(e) if is_unique_violation(&e) => Err(StoreError::internal(format!(
            "message id {} is taken",
            m.message_id
        ))),
        Err(e) => Err(db(e)),
    }
}

/// A NON_PERSISTENT send: the policy on the channel and context read now, then the message as
/// sent (nothing stored, no number).
async fn fleeting(store: &PgStore, new: NewMessage, policy: ChannelPolicy) -> StoreResult<Sent> {
    let conn = store.conn().await?;
    let m = &new.message;
    let ch = &m.channel;
    let channel_sql = format!(
        "SELECT {} FROM channels WHERE app_instance_id = $1 AND channel_id = $2",
        rows_b::CHANNEL_RETURNING
    );
    let (channel_stmt, context_stmt) = tokio::try_join!(
        conn.prepare_cached(&channel_sql),
        conn.prepare_cached(CONTEXT)
    )
    .map_err(db)?;
    let target: Option<&str> = m.target.as_ref().map(|t| t.user_id.as_str());
    let sender = &m.sender.key.user_id;
    let channel_params: [&(dyn ToSql + Sync); 2] = [&ch.app_instance_id, &ch.channel_id];
    let context_params: [&(dyn ToSql + Sync); 4] =
        [&ch.app_instance_id, &ch.channel_id, sender, &target];
    let (channel, context) = tokio::try_join!(
        conn.query_opt(&channel_stmt, &channel_params),
        conn.query_one(&context_stmt, &context_params),
    )
    .map_err(db)?;
    let channel = channel
        .map(|r| locked_channel(&r).map(|(_, c)| c))
        .transpose()?;
    let context = Context::read(&context, ch, &m.sender.key, channel.is_some())?;
    let ctx = ChannelContext {
        actor_name: context.actor_name.clone(),
        target: m.target.as_ref().map(|_| context.target),
        channel,
        actor: context.actor,
        message_sender: None,
    };
    policy(&ctx).map_err(StoreError::Refused)?;
    Ok(unstored(new.message, context.actor_name))
}
