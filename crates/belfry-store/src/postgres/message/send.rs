//! SendChannelMessage, the hot path, as a **per-channel group commit**.
//!
//! Every PERSISTENT send to a channel must hold the channel's row lock from reading what it
//! decides on (the policy's context, its token, the newest message time) to its `COMMIT`,
//! which waits for the WAL flush: a channel commits one transaction at a time, on every node.
//! One send per transaction would cap a busy channel at one send per commit (and cost two
//! updates of the hot channel row per send). So a node queues the sends that arrive for a
//! channel while its transaction runs, and stores them together in the next one (`queue`):
//! one channel-row update, one commit and one lock hand-over for up to 128 sends. A lone send
//! does not wait for a timer; batches form only from sends that arrived during the previous
//! transaction. What remains per channel is one commit (a WAL flush) at a time, so a channel's
//! throughput is its batch size over a commit's latency: it grows with the sends in flight
//! for it.
//!
//! A batch is **two round trips** (plus one, the first time a pooled connection sends, to
//! prepare its statements: they are cached per connection), each a pipeline (tokio-postgres
//! sends a statement when its future is first polled; `batch::pipeline` polls them in order,
//! so the server runs them in order):
//!
//! 1. `BEGIN`; the channel lock (`SELECT … FOR NO KEY UPDATE`, as strong as the event-number
//!    UPDATE of other channel writes, but without writing a row version) returning the channel
//!    and its last event number; the policy's context for each distinct (sender, target),
//!    which includes the channel's newest message time; and the earlier messages with the
//!    batch's (sender, ClientRequestToken) pairs — each of the two one `unnest` query, so a
//!    batch costs six statements (with `BEGIN`, the UPDATE and `COMMIT`) besides its inserts
//!    and outbox entries. The reads start after the lock is
//!    granted and, at READ COMMITTED, see every send committed before it.
//! 2. Between the trips, in queue order (`decide`): each send's policy (refused: `Refused`,
//!    nothing written for it; a panic fails that send only); a token stored earlier, or earlier
//!    in this batch, is a replay with the same fingerprint and `TokenReused` otherwise; any
//!    other send is stored with the next event number (consecutive: only stored messages take
//!    one) and a creation time clamped to the newest so far. Then one
//!    `UPDATE channels SET event_seq = <last>, last_message_ms = GREATEST(…)`, the messages'
//!    INSERTs one statement each in event order (so their `seq` follows it), their outbox
//!    entries (with an outbox) and `COMMIT`. A batch that stores nothing sends `ROLLBACK`.
//!
//! The batch fails or commits as a whole: an SQL error or a lost connection answers every send
//! of it with that error, and none is stored (so retrying with the same token is safe).
//! `BEGIN`/`COMMIT` are issued by hand so they share the trips; `batch::Open` makes sure a
//! connection left inside a transaction never goes back to the pool. A caller that gives up
//! does not cancel its send: the channel's task finishes the batch regardless.
//!
//! A NON_PERSISTENT message takes no lock, no number and no queue: one round trip reads the
//! channel and the context for the policy.

mod batch;
mod decide;
mod queue;

use belfry_core::model::{ChannelMessage, NewMessage, Persistence};
use belfry_core::store::{ChannelContext, ChannelPolicy, Sent};
use belfry_core::store::{StoreError, StoreResult};
use tokio_postgres::types::ToSql;

use super::super::rows_b;
use super::super::{db, PgStore};
use super::{channel_from_row, Context, CONTEXT};

pub(crate) use queue::SendQueues;

pub(super) async fn send(
    store: &PgStore,
    new: NewMessage,
    policy: ChannelPolicy,
) -> StoreResult<Sent> {
    if new.message.persistence == Persistence::NonPersistent {
        return fleeting(store, new, policy).await;
    }
    queue::submit(store, new, policy).await
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
        .map(|r| channel_from_row(&r).map(|c| c.value))
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
