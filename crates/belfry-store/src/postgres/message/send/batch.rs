//! One transaction for a batch of sends to one channel: the two round trips (see `send`'s
//! module docs) around the decisions of `decide`.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

use belfry_core::arn::{ChannelKey, UserKey};
use belfry_core::events::{DomainEvent, Published};
use belfry_core::model::{Channel, ChannelMessage, NewMessage};
use belfry_core::store::{Sent, StoreError, StoreResult};
use deadpool_postgres::Object;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Row, Statement};

use super::super::super::rows_b::{self, col, MESSAGE_COLUMNS};
use super::super::super::{db, is_unique_violation, PgStore};
use super::super::{channel_from_row, locked_event_seq, Context, CHANNEL_SEQ, CONTEXT};
use super::decide::{decide, Decided, Job, Read};
use super::queue::Queued;
use crate::codec::{encode_attributes, encode_push};

/// Locks the channel row for the batch without writing a row version (the batch's single
/// UPDATE writes one), returning the channel and its last event number. As strong as the
/// `UPDATE … SET event_seq` of other channel writes, so they all serialize on it.
fn lock_sql() -> String {
    format!(
        "SELECT {}, event_seq FROM channels WHERE app_instance_id = $1 AND channel_id = $2
         FOR NO KEY UPDATE",
        rows_b::CHANNEL_RETURNING
    )
}

/// `CONTEXT` for each (actor `$3[i]`, target `$4[i]`) of the batch, one row each in that
/// order. The newest message time does not depend on the pair: the planner evaluates it once.
fn contexts_sql() -> String {
    format!(
        "{} FROM unnest($3::text[], $4::text[]) WITH ORDINALITY AS t(actor, target, i) ORDER BY t.i",
        CONTEXT.replace("$3", "t.actor").replace("$4", "t.target")
    )
}

/// The earlier messages for the batch's (sender `$3[i]`, ClientRequestToken `$4[i]`) pairs:
/// the pair, the fingerprint, then the message (the unique key's index finds each).
fn tokens_sql() -> String {
    format!(
        "SELECT t.sender, t.token, m.fingerprint, {MESSAGE_COLUMNS}
         FROM unnest($3::text[], $4::text[]) AS t(sender, token)
         JOIN messages m ON m.channel_seq = {CHANNEL_SEQ}
             AND m.sender = t.sender AND m.client_request_token = t.token
         LEFT JOIN users u ON u.app_instance_id = $1 AND u.user_id = m.sender"
    )
}

/// The batch's one write to the channel row: its last event number, and LastMessageTimestamp
/// (GREATEST ignores NULL: the first message sets it, a batch of targeted ones leaves it).
const ADVANCE: &str = "UPDATE channels SET event_seq = $2,
        last_message_ms = GREATEST(last_message_ms, $3) WHERE seq = $1";

const INSERT: &str = "INSERT INTO messages (channel_seq, message_id, sender, type, content,
        metadata, content_type, attributes, push, target, created_ms, updated_ms,
        client_request_token, fingerprint)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12, $13)";

const OUTBOX: &str = "INSERT INTO outbox (payload) VALUES ($1)";

/// A pooled connection inside a transaction begun by hand. Dropped before `close` (an error,
/// or the task ending mid-transaction), the connection leaves the pool and is closed, which
/// makes the server roll the transaction back: it is never handed to another request
/// mid-transaction.
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

/// The statements of a batch, prepared once per connection (pipelined on its first batch).
struct Statements {
    lock: Statement,
    contexts: Statement,
    tokens: Statement,
    advance: Statement,
    insert: Statement,
    outbox: Statement,
}

impl Statements {
    async fn prepare(conn: &Object) -> StoreResult<Self> {
        let (lock, contexts, tokens) = (lock_sql(), contexts_sql(), tokens_sql());
        let (lock, contexts, tokens, advance, insert, outbox) = tokio::try_join!(
            conn.prepare_cached(&lock),
            conn.prepare_cached(&contexts),
            conn.prepare_cached(&tokens),
            conn.prepare_cached(ADVANCE),
            conn.prepare_cached(INSERT),
            conn.prepare_cached(OUTBOX),
        )
        .map_err(db)?;
        Ok(Statements {
            lock,
            contexts,
            tokens,
            advance,
            insert,
            outbox,
        })
    }
}

/// A statement of a pipeline, its rows (none for a command).
type Step<'a> = Pin<Box<dyn Future<Output = Result<Vec<Row>, tokio_postgres::Error>> + Send + 'a>>;

/// Runs `steps` as one round trip: tokio-postgres sends a statement when its future is first
/// polled, and this polls them in order, so the server runs them in order. Waits for every
/// answer (after a failure the rest fail or, `COMMIT`, roll back) and returns the first error.
async fn pipeline(mut steps: Vec<Step<'_>>) -> Result<Vec<Vec<Row>>, tokio_postgres::Error> {
    let mut answers: Vec<Option<Result<Vec<Row>, tokio_postgres::Error>>> =
        steps.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (step, answer) in steps.iter_mut().zip(answers.iter_mut()) {
            if answer.is_none() {
                match step.as_mut().poll(cx) {
                    Poll::Ready(r) => *answer = Some(r),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    answers.into_iter().flatten().collect()
}

fn command<'a>(
    f: impl Future<Output = Result<u64, tokio_postgres::Error>> + Send + 'a,
) -> Step<'a> {
    Box::pin(async move { f.await.map(|_| Vec::new()) })
}

fn simple<'a>(client: &'a Client, sql: &'static str) -> Step<'a> {
    Box::pin(async move { client.batch_execute(sql).await.map(|_| Vec::new()) })
}

/// Runs one transaction for `batch` (sends to `ch`, in queue order) and answers each send.
pub(super) async fn run(store: &PgStore, ch: &ChannelKey, batch: Vec<Queued>) {
    store.sends.count(batch.len());
    let (jobs, answers): (Vec<Job>, Vec<_>) = batch
        .into_iter()
        .map(|q| {
            (
                Job {
                    new: q.new,
                    policy: q.policy,
                },
                q.answer,
            )
        })
        .unzip();
    let started = std::time::Instant::now();
    let result = transact(store, ch, jobs).await;
    // The send path's commits (BEGIN to a durable COMMIT); other PostgreSQL writes are timed
    // only end to end, by the request histogram.
    metrics::histogram!("belfry_store_write_seconds", "store" => "postgres")
        .record(started.elapsed().as_secs_f64());
    let outcomes = match result {
        Ok(outcomes) => outcomes,
        // Nothing of the batch is stored: each send gets the failure (and may retry).
        Err(e) => answers.iter().map(|_| Err(e.clone())).collect(),
    };
    for (answer, outcome) in answers.into_iter().zip(outcomes) {
        // A sender that gave up no longer listens; its outcome stands all the same.
        let _ = answer.send(outcome);
    }
}

/// The batch's transaction: the outcome of each job, in order.
async fn transact(
    store: &PgStore,
    ch: &ChannelKey,
    jobs: Vec<Job>,
) -> StoreResult<Vec<StoreResult<Sent>>> {
    let conn = store.conn().await?;
    let st = Statements::prepare(&conn).await?;
    let open = Open { conn: Some(conn) };
    // The jobs' policies are not `Sync`: the first trip borrows only the messages.
    let news: Vec<&NewMessage> = jobs.iter().map(|j| &j.new).collect();
    let read = first_trip(&open, &st, ch, &news).await?;
    let decided = decide(read, jobs);
    if decided.stored.is_empty() {
        // Nothing to write: release the lock.
        open.client()?.batch_execute("ROLLBACK").await.map_err(db)?;
        open.close();
    } else {
        second_trip(store, &open, &st, &decided).await?;
        open.close();
    }
    Ok(decided.answers())
}

/// The first round trip: `BEGIN`, the channel lock, the context of each distinct (sender,
/// target), the earlier messages with the batch's tokens.
async fn first_trip(
    open: &Open,
    st: &Statements,
    ch: &ChannelKey,
    news: &[&NewMessage],
) -> StoreResult<Read> {
    let client = open.client()?;
    let mut pairs: Vec<(UserKey, Option<String>)> = Vec::new();
    let mut senders: Vec<String> = Vec::new();
    let mut tokens: Vec<String> = Vec::new();
    for new in news {
        let m = &new.message;
        let pair = (
            m.sender.key.clone(),
            m.target.as_ref().map(|t| t.user_id.clone()),
        );
        if !pairs.contains(&pair) {
            pairs.push(pair);
        }
        let sender = &m.sender.key.user_id;
        let token = &new.client_request_token;
        if !senders
            .iter()
            .zip(&tokens)
            .any(|(s, t)| s == sender && t == token)
        {
            senders.push(sender.clone());
            tokens.push(token.clone());
        }
    }
    let lock_params: [&(dyn ToSql + Sync); 2] = [&ch.app_instance_id, &ch.channel_id];
    let actors: Vec<&str> = pairs.iter().map(|(a, _)| a.user_id.as_str()).collect();
    let targets: Vec<Option<&str>> = pairs.iter().map(|(_, t)| t.as_deref()).collect();
    let context_params: [&(dyn ToSql + Sync); 4] =
        [&ch.app_instance_id, &ch.channel_id, &actors, &targets];
    let token_params: [&(dyn ToSql + Sync); 4] =
        [&ch.app_instance_id, &ch.channel_id, &senders, &tokens];
    let mut steps: Vec<Step<'_>> = vec![
        simple(client, "BEGIN"),
        Box::pin(client.query(&st.lock, &lock_params)),
    ];
    steps.push(Box::pin(client.query(&st.contexts, &context_params)));
    steps.push(Box::pin(client.query(&st.tokens, &token_params)));
    let mut answers = pipeline(steps).await.map_err(db)?.into_iter();
    let mut next = || {
        answers
            .next()
            .ok_or_else(|| StoreError::internal("a pipelined statement went unanswered"))
    };
    next()?;
    let locked: Option<(i64, Channel, u64)> = match next()?.first() {
        Some(r) => {
            let channel = channel_from_row(r)?;
            Some((channel.seq, channel.value, locked_event_seq(r)?))
        }
        None => None,
    };
    let mut contexts = HashMap::new();
    let rows = next()?;
    if rows.len() != pairs.len() {
        return Err(StoreError::internal(
            "a context row per (sender, target) is missing",
        ));
    }
    for (r, (sender, target)) in rows.iter().zip(pairs) {
        let context = Context::read(r, ch, &sender, locked.is_some())?;
        contexts.insert((sender, target), context);
    }
    let mut earlier = HashMap::new();
    for r in next()? {
        let sender: String = col(&r, 0)?;
        let token: String = col(&r, 1)?;
        let fingerprint: String = col(&r, 2)?;
        let (_, message) = rows_b::message_from(ch, &r, 3)?;
        earlier.insert((sender, token), (fingerprint, message));
    }
    Ok(Read {
        locked,
        contexts,
        earlier,
    })
}

/// The stored messages' columns, borrowed by their INSERT's parameters.
struct Columns<'a> {
    message: &'a ChannelMessage,
    target: Option<&'a str>,
    attributes: Option<String>,
    push: Option<String>,
    payload: Option<Vec<u8>>,
}

/// The second round trip: the channel row's one UPDATE, each message's INSERT (and outbox
/// entry) in event order, `COMMIT`.
async fn second_trip(
    store: &PgStore,
    open: &Open,
    st: &Statements,
    decided: &Decided,
) -> StoreResult<()> {
    let client = open.client()?;
    let channel_seq = decided.channel_seq;
    let last_event = decided.last_event_seq() as i64;
    let advance_params: [&(dyn ToSql + Sync); 3] =
        [&channel_seq, &last_event, &decided.last_message_ms];
    let columns: Vec<Columns<'_>> = decided
        .stored
        .iter()
        .map(|s| Columns {
            message: &s.message,
            target: s.message.target.as_ref().map(|t| t.user_id.as_str()),
            attributes: encode_attributes(&s.message.attributes),
            push: encode_push(&s.message.push),
            payload: store.outbox.then(|| {
                Published::at(s.event_seq, DomainEvent::MessageCreated(s.message.clone())).encode()
            }),
        })
        .collect();
    let kinds: Vec<&str> = columns.iter().map(|c| c.message.kind.as_str()).collect();
    let insert_params: Vec<[&(dyn ToSql + Sync); 13]> = columns
        .iter()
        .zip(&decided.stored)
        .zip(&kinds)
        .map(|((c, s), kind)| -> [&(dyn ToSql + Sync); 13] {
            let m = c.message;
            [
                &decided.channel_seq,
                &m.message_id,
                &m.sender.key.user_id,
                kind,
                &m.content,
                &m.metadata,
                &m.content_type,
                &c.attributes,
                &c.push,
                &c.target,
                &m.created.0,
                &s.token,
                &s.fingerprint,
            ]
        })
        .collect();
    let outbox_params: Vec<Option<[&(dyn ToSql + Sync); 1]>> = columns
        .iter()
        .map(|c| {
            c.payload
                .as_ref()
                .map(|p| -> [&(dyn ToSql + Sync); 1] { [p] })
        })
        .collect();
    let mut steps: Vec<Step<'_>> = vec![command(client.execute(&st.advance, &advance_params))];
    for (params, outbox) in insert_params.iter().zip(&outbox_params) {
        steps.push(command(client.execute(&st.insert, params)));
        if let Some(params) = outbox {
            steps.push(command(client.execute(&st.outbox, params)));
        }
    }
    steps.push(simple(client, "COMMIT"));
    match pipeline(steps).await {
        Ok(_) => Ok(()),
        // The lock serializes a channel's sends and the batch replays its own repeated tokens,
        // so the token's unique key cannot be taken; a violation is a message id taken
        // elsewhere (the `COMMIT` behind it rolled the batch back). `open` is dropped by the
        // caller: the connection went through an error mid-pipeline and is not reused.
        Err(e) if is_unique_violation(&e) => {
            Err(StoreError::internal("a message id of the batch is taken"))
        }
        Err(e) => Err(db(e)),
    }
}
