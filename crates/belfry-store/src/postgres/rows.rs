//! Row mappers and locks shared by the PostgreSQL families: the same columns and mappings as
//! the SQLite adapter (`sqlite::channel::from_row`; stored encodings in `codec`), read with
//! `try_get` so a column of an unexpected type is a failure, not a panic.

use std::collections::HashMap;
use std::sync::LazyLock;

use crate::codec::expiration;
use belfry_core::arn::{ChannelKey, UserKey};
use belfry_core::model::{
    AppInstanceUser, Channel, ChannelMode, ChannelPrivacy, Idempotency, UserRef,
};
use belfry_core::store::{Seq, StoreError, StoreResult};
use belfry_core::time::Timestamp;
use deadpool_postgres::GenericClient;
use tokio_postgres::types::{FromSql, ToSql};
use tokio_postgres::Row;

use super::db;

/// Query parameters.
pub(crate) type Params<'a> = [&'a (dyn ToSql + Sync)];

/// Rows of `sql`, prepared once per connection (the statement cache): a statement sent as a
/// plain string costs a prepare round trip on every call.
pub(crate) async fn rows<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &Params<'_>,
) -> StoreResult<Vec<Row>> {
    let stmt = c.prepare_cached(sql).await.map_err(db)?;
    c.query(&stmt, params).await.map_err(db)
}

/// At most one row of `sql`, prepared once per connection.
pub(crate) async fn row<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &Params<'_>,
) -> StoreResult<Option<Row>> {
    let stmt = c.prepare_cached(sql).await.map_err(db)?;
    c.query_opt(&stmt, params).await.map_err(db)
}

/// Exactly one row of `sql`, prepared once per connection.
pub(crate) async fn one<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &Params<'_>,
) -> StoreResult<Row> {
    let stmt = c.prepare_cached(sql).await.map_err(db)?;
    c.query_one(&stmt, params).await.map_err(db)
}

/// Runs `sql`, prepared once per connection; returns the rows it touched.
pub(crate) async fn exec<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &Params<'_>,
) -> StoreResult<u64> {
    let stmt = c.prepare_cached(sql).await.map_err(db)?;
    c.execute(&stmt, params).await.map_err(db)
}

/// Column `i` of `r`; a type mismatch is `Internal`.
pub(crate) fn col<'a, T: FromSql<'a>>(r: &'a Row, i: usize) -> StoreResult<T> {
    r.try_get(i)
        .map_err(|e| StoreError::internal(format!("postgres: column {i}: {e}")))
}

/// The user columns `user_from_row` reads, from `users`.
pub(crate) const USER_COLUMNS: &str = "seq, app_instance_id, user_id, name, metadata, created_ms, updated_ms, expiration_days, expiration_criterion";

pub(crate) fn user_from_row(r: &Row) -> StoreResult<Seq<AppInstanceUser>> {
    Ok(Seq {
        seq: col(r, 0)?,
        value: AppInstanceUser {
            key: UserKey {
                app_instance_id: col(r, 1)?,
                user_id: col(r, 2)?,
            },
            name: col(r, 3)?,
            metadata: col(r, 4)?,
            created: Timestamp(col(r, 5)?),
            updated: Timestamp(col(r, 6)?),
            expiration: expiration(col(r, 7)?, col(r, 8)?),
        },
    })
}

/// The channel columns `channel_at` reads (14 of them), from `channels c` with the creator's
/// current name from `users u` (joined by `CHANNEL_FROM`).
pub(crate) const CHANNEL_COLUMNS: &str =
    "c.seq, c.app_instance_id, c.channel_id, c.name, c.mode, c.privacy, c.metadata, c.created_by, \
     u.name, c.created_ms, c.updated_ms, c.last_message_ms, c.expiration_days, c.expiration_criterion";

/// `channels c` with its creator's current name (`u`).
pub(crate) const CHANNEL_FROM: &str = "channels c LEFT JOIN users u \
     ON u.app_instance_id = c.app_instance_id AND u.user_id = c.created_by";

/// A channel read from `CHANNEL_COLUMNS` starting at column `at`; `None` when those columns
/// are NULL (a LEFT JOIN that found no channel).
pub(crate) fn channel_at(r: &Row, at: usize) -> StoreResult<Option<Seq<Channel>>> {
    let Some(seq) = col::<Option<i64>>(r, at)? else {
        return Ok(None);
    };
    let app_instance_id: String = col(r, at + 1)?;
    let mode: String = col(r, at + 4)?;
    let privacy: String = col(r, at + 5)?;
    let bad = |what: &str, v: &str| StoreError::internal(format!("stored channel {what}={v}"));
    Ok(Some(Seq {
        seq,
        value: Channel {
            key: ChannelKey {
                app_instance_id: app_instance_id.clone(),
                channel_id: col(r, at + 2)?,
            },
            name: col(r, at + 3)?,
            mode: ChannelMode::parse("mode", &mode).map_err(|_| bad("mode", &mode))?,
            privacy: ChannelPrivacy::parse("privacy", &privacy)
                .map_err(|_| bad("privacy", &privacy))?,
            metadata: col(r, at + 6)?,
            created_by: UserRef {
                key: UserKey {
                    app_instance_id,
                    user_id: col(r, at + 7)?,
                },
                name: col(r, at + 8)?,
            },
            created: Timestamp(col(r, at + 9)?),
            updated: Timestamp(col(r, at + 10)?),
            last_message: col::<Option<i64>>(r, at + 11)?.map(Timestamp),
            expiration: expiration(col(r, at + 12)?, col(r, at + 13)?),
        },
    }))
}

/// A channel read from `CHANNEL_COLUMNS` at the start of the row.
pub(crate) fn channel_from_row(r: &Row) -> StoreResult<Seq<Channel>> {
    channel_at(r, 0)?.ok_or_else(|| StoreError::internal("postgres: a channel row without seq"))
}

static GET_CHANNEL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {CHANNEL_COLUMNS} FROM {CHANNEL_FROM} WHERE c.app_instance_id = $1 AND c.channel_id = $2"
    )
});

/// One channel with its creator's current name, as `c` sees it now.
pub(crate) async fn get_channel<C: GenericClient>(
    c: &C,
    key: &ChannelKey,
) -> StoreResult<Option<Seq<Channel>>> {
    let found = row(c, &GET_CHANNEL, &[&key.app_instance_id, &key.channel_id]).await?;
    found.as_ref().map(channel_from_row).transpose()
}

/// Takes the channel's next event sequence number, locking the channel row until the caller's
/// transaction ends (so a channel's events number in commit order). Missing: `NoChannel`.
pub(crate) async fn next_event_seq<C: GenericClient>(tx: &C, key: &ChannelKey) -> StoreResult<u64> {
    let taken = row(
        tx,
        "UPDATE channels SET event_seq = event_seq + 1
         WHERE app_instance_id = $1 AND channel_id = $2 RETURNING event_seq",
        &[&key.app_instance_id, &key.channel_id],
    )
    .await?;
    match taken {
        Some(r) => Ok(col::<i64>(&r, 0)?.max(0) as u64),
        None => Err(StoreError::NoChannel(key.channel_id.clone())),
    }
}

/// Locks the users' rows (`FOR NO KEY UPDATE`, in id order, so writes locking several cannot
/// deadlock) and returns the names of those that exist. Every write that adds memberships takes
/// this lock on a user before counting the user's channels, so the per-user quota holds across
/// nodes; foreign-key checks (`KEY SHARE`) do not wait for it.
pub(crate) async fn lock_users<C: GenericClient>(
    tx: &C,
    app_instance_id: &str,
    user_ids: &[&str],
) -> StoreResult<HashMap<String, String>> {
    // The ORDER BY sits below the row locking: rows are locked in this order.
    rows(
        tx,
        "SELECT user_id, name FROM users WHERE app_instance_id = $1 AND user_id = ANY($2)
         ORDER BY user_id FOR NO KEY UPDATE",
        &[&app_instance_id, &user_ids],
    )
    .await?
    .iter()
    .map(|r| Ok((col(r, 0)?, col(r, 1)?)))
    .collect()
}

/// Advisory lock classes (the first key of `pg_advisory_xact_lock(int4, int4)`, a key space
/// apart from the migrations' single-key lock).
pub(crate) mod lock {
    /// One ClientRequestToken of a create (second key: a hash of scope and token).
    pub(crate) const TOKEN: i32 = 1;
    /// The AppInstance quota, store-wide (second key: 0).
    pub(crate) const APP_INSTANCES: i32 = 2;
    /// One resource's tags (second key: a hash of the target).
    pub(crate) const TAGS: i32 = 3;
}

/// Holds `lock(class, hash(name))` until the transaction ends. Different names may share a
/// hash: they then only wait for each other, which costs time, never correctness.
pub(crate) async fn advisory_lock<C: GenericClient>(
    tx: &C,
    class: i32,
    name: &str,
) -> StoreResult<()> {
    exec(
        tx,
        "SELECT pg_advisory_xact_lock($1, hashtext($2))",
        &[&class, &name],
    )
    .await?;
    Ok(())
}

/// Serializes creates that carry the same ClientRequestToken, on every node: the second waits
/// for the first to commit, then finds its idempotency row and replays it.
pub(crate) async fn lock_token<C: GenericClient>(tx: &C, idem: &Idempotency) -> StoreResult<()> {
    advisory_lock(tx, lock::TOKEN, &format!("{}\n{}", idem.scope, idem.token)).await
}
