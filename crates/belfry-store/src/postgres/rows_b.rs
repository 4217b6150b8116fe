//! Row mappers for memberships, moderation and messages (part B of the adapter), and the
//! channel columns they join. Columns are read with `try_get`, so a type mismatch is an
//! `Internal` fact, never a panic.

use belfry_core::arn::{ChannelKey, UserKey};
use belfry_core::model::{
    ChannelMessage, Membership, MessageCursor, MessageType, Persistence, UserRef,
};
use belfry_core::perm::Roles;
use belfry_core::store::StoreResult;
use belfry_core::time::Timestamp;
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

pub(crate) use super::rows::{
    channel_from_row, col, exec, row, rows, CHANNEL_COLUMNS, CHANNEL_FROM,
};
use crate::codec::{decode_attributes, decode_push, membership_type};

/// Takes the channel's next event number, locking its row until the transaction ends (so a
/// channel's numbered writes serialize); `None` without the channel.
pub(crate) async fn next_event_seq<C: GenericClient>(
    c: &C,
    ch: &ChannelKey,
) -> StoreResult<Option<u64>> {
    let r = row(
        c,
        "UPDATE channels SET event_seq = event_seq + 1
         WHERE app_instance_id = $1 AND channel_id = $2 RETURNING event_seq",
        &[&ch.app_instance_id, &ch.channel_id],
    )
    .await?;
    r.map(|r| col::<i64>(&r, 0).map(|n| n as u64)).transpose()
}

/// Locks the channel's row (as strongly as taking an event number does) without numbering
/// anything, for writes whose checks depend on the channel's roles; `false` without the
/// channel.
pub(crate) async fn lock_channel<C: GenericClient>(c: &C, ch: &ChannelKey) -> StoreResult<bool> {
    Ok(row(
        c,
        "SELECT 1 FROM channels WHERE app_instance_id = $1 AND channel_id = $2
         FOR NO KEY UPDATE",
        &[&ch.app_instance_id, &ch.channel_id],
    )
    .await?
    .is_some())
}

/// `rows::CHANNEL_COLUMNS` without the creator's name (NULL in its place), for a `RETURNING`
/// list of an `UPDATE channels` (policies need only mode and privacy).
pub(crate) const CHANNEL_RETURNING: &str =
    "seq, app_instance_id, channel_id, name, mode, privacy, metadata, created_by, NULL::text,
     created_ms, updated_ms, last_message_ms, expiration_days, expiration_criterion";

/// Roles from four columns starting at `at`: admin, moderator (bools), membership type (text or
/// NULL), banned (bool).
pub(crate) fn roles_at(r: &Row, at: usize) -> StoreResult<Roles> {
    Ok(Roles {
        admin: col(r, at)?,
        moderator: col(r, at + 1)?,
        member: col::<Option<String>>(r, at + 2)?
            .as_deref()
            .map(membership_type),
        banned: col(r, at + 3)?,
    })
}

/// A membership's columns with both users' current names (`u`: member, `i`: inviter).
pub(crate) const MEMBERSHIP_QUERY: &str =
    "SELECT m.seq, m.app_instance_id, m.channel_id, m.user_id, u.name, m.invited_by, i.name,
        m.type, m.created_ms, m.updated_ms, m.read_marker_ms
    FROM memberships m
    LEFT JOIN users u ON u.app_instance_id = m.app_instance_id AND u.user_id = m.user_id
    LEFT JOIN users i ON i.app_instance_id = m.app_instance_id AND i.user_id = m.invited_by";

/// A row of `MEMBERSHIP_QUERY`.
pub(crate) fn membership(r: &Row) -> StoreResult<Membership> {
    let app: String = col(r, 1)?;
    let user = |id: String, name: Option<String>| UserRef {
        key: UserKey {
            app_instance_id: app.clone(),
            user_id: id,
        },
        name,
    };
    Ok(Membership {
        channel: ChannelKey {
            app_instance_id: app.clone(),
            channel_id: col(r, 2)?,
        },
        member: user(col(r, 3)?, col(r, 4)?),
        invited_by: user(col(r, 5)?, col(r, 6)?),
        kind: membership_type(&col::<String>(r, 7)?),
        created: Timestamp(col(r, 8)?),
        updated: Timestamp(col(r, 9)?),
        read_marker: col::<Option<i64>>(r, 10)?.map(Timestamp),
    })
}

/// A user reference in `app` from an id column and a name column.
pub(crate) fn user_ref(r: &Row, app: &str, id: usize, name: usize) -> StoreResult<UserRef> {
    Ok(UserRef {
        key: UserKey {
            app_instance_id: app.to_string(),
            user_id: col(r, id)?,
        },
        name: col(r, name)?,
    })
}

/// A message's columns with the sender's current name (`messages m`, `users u`).
pub(crate) const MESSAGE_COLUMNS: &str =
    "m.seq, m.message_id, m.sender, u.name, m.type, m.content, m.metadata, m.content_type,
    m.attributes, m.push, m.target, m.created_ms, m.updated_ms, m.edited_ms, m.redacted";

/// A row of `MESSAGE_COLUMNS`, in channel `ch`.
pub(crate) fn message(ch: &ChannelKey, r: &Row) -> StoreResult<(MessageCursor, ChannelMessage)> {
    message_from(ch, r, 0)
}

/// The `MESSAGE_COLUMNS` of a row, starting at column `at`, in channel `ch`.
pub(crate) fn message_from(
    ch: &ChannelKey,
    r: &Row,
    at: usize,
) -> StoreResult<(MessageCursor, ChannelMessage)> {
    let user = |id: String| UserKey {
        app_instance_id: ch.app_instance_id.clone(),
        user_id: id,
    };
    let kind: String = col(r, at + 4)?;
    let created = Timestamp(col(r, at + 11)?);
    let message = ChannelMessage {
        channel: ch.clone(),
        message_id: col(r, at + 1)?,
        sender: UserRef {
            key: user(col(r, at + 2)?),
            name: col(r, at + 3)?,
        },
        kind: if kind == "CONTROL" {
            MessageType::Control
        } else {
            MessageType::Standard
        },
        content: col(r, at + 5)?,
        metadata: col(r, at + 6)?,
        content_type: col(r, at + 7)?,
        attributes: decode_attributes(col(r, at + 8)?),
        push: decode_push(col(r, at + 9)?),
        target: col::<Option<String>>(r, at + 10)?.map(user),
        persistence: Persistence::Persistent,
        created,
        updated: Timestamp(col(r, at + 12)?),
        edited: col::<Option<i64>>(r, at + 13)?.map(Timestamp),
        redacted: col(r, at + 14)?,
    };
    let seq = col(r, at)?;
    Ok((MessageCursor { created, seq }, message))
}
