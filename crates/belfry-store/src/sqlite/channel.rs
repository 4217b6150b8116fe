//! Channels and the roles held in them, in SQLite.

use super::SqliteStore;
use async_trait::async_trait;
use belfry_core::arn::{ChannelKey, UserKey};
use belfry_core::model::{
    Channel, ChannelMode, ChannelPrivacy, ChannelUpdate, Created, Idempotency, MembershipType,
    NewChannel, TagKind, TagTarget, UserRef,
};
use belfry_core::perm::Roles;
use belfry_core::store::ChannelStore;
use belfry_core::store::ChannelView;
use belfry_core::store::Limit;
use belfry_core::store::{MembershipLimits, Seq};
use belfry_core::store::{StoreError, StoreResult};
use belfry_core::time::Timestamp;
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::{count, db, forget, remember, replay, tags};
use crate::codec::{expiration, membership_type};

/// `SELECT <the channel columns, as `from_row` reads them>` plus `$extra` columns, from
/// `channels c`: `named` joins the creator's current name (`u`); `unnamed` leaves it NULL (for
/// callers that only need mode and privacy) and appends `$tail`.
macro_rules! channel_select {
    (@cols $creator:literal, $extra:literal) => {
        concat!(
            "SELECT c.seq, c.app_instance_id, c.channel_id, c.name, c.mode, c.privacy, c.metadata, c.created_by, ",
            $creator,
            ", c.created_ms, c.updated_ms, c.last_message_ms, c.expiration_days, c.expiration_criterion",
            $extra,
            " FROM channels c "
        )
    };
    (named, $extra:literal) => {
        concat!(
            $crate::sqlite::channel::channel_select!(@cols "u.name", $extra),
            "LEFT JOIN users u ON u.app_instance_id = c.app_instance_id AND u.user_id = c.created_by"
        )
    };
    (unnamed, $extra:literal, $tail:literal) => {
        concat!($crate::sqlite::channel::channel_select!(@cols "NULL", $extra), $tail)
    };
}
pub(crate) use channel_select;

/// The channel columns plus membership seq, type and read marker (joined by the caller as `m`).
pub(crate) const QUERY_WITH_MEMBERSHIP: &str =
    channel_select!(named, ", m.seq, m.type, m.read_marker_ms");

/// The channel columns plus the seq of a role row joined by the caller as `r`.
pub(crate) const QUERY_WITH_SEQ_OF_R: &str = channel_select!(named, ", r.seq");

/// The channel columns with the creator's current name.
pub(crate) const QUERY: &str = channel_select!(named, "");

fn bad_column(what: &str, value: &str) -> rusqlite::Error {
    rusqlite::Error::InvalidColumnType(0, format!("{what}={value}"), rusqlite::types::Type::Text)
}

pub(crate) fn from_row(r: &Row) -> rusqlite::Result<Seq<Channel>> {
    let app_instance_id: String = r.get(1)?;
    let mode: String = r.get(4)?;
    let privacy: String = r.get(5)?;
    Ok(Seq {
        seq: r.get(0)?,
        value: Channel {
            key: ChannelKey {
                app_instance_id: app_instance_id.clone(),
                channel_id: r.get(2)?,
            },
            name: r.get(3)?,
            mode: ChannelMode::parse("mode", &mode).map_err(|_| bad_column("mode", &mode))?,
            privacy: ChannelPrivacy::parse("privacy", &privacy)
                .map_err(|_| bad_column("privacy", &privacy))?,
            metadata: r.get(6)?,
            created_by: UserRef {
                key: UserKey {
                    app_instance_id,
                    user_id: r.get(7)?,
                },
                name: r.get(8)?,
            },
            created: Timestamp(r.get(9)?),
            updated: Timestamp(r.get(10)?),
            last_message: r.get::<_, Option<i64>>(11)?.map(Timestamp),
            expiration: expiration(r.get(12)?, r.get(13)?),
        },
    })
}

fn tag_target(key: &ChannelKey) -> TagTarget {
    TagTarget {
        app_instance_id: key.app_instance_id.clone(),
        kind: TagKind::Channel,
        id: key.channel_id.clone(),
    }
}

pub(crate) fn create(
    c: &Connection,
    new: NewChannel,
    idem: Idempotency,
    max: u64,
    limits: MembershipLimits,
) -> StoreResult<Created> {
    if let Some(done) = replay(c, &idem)? {
        // A token whose resource was deleted since is free again.
        if get(
            c,
            &ChannelKey {
                app_instance_id: new.channel.key.app_instance_id.clone(),
                channel_id: done.id.clone(),
            },
        )?
        .is_some()
        {
            return Ok(done);
        }
        forget(c, &idem)?;
    }
    let ch = &new.channel;
    let key = &ch.key;
    if get(c, key)?.is_some() {
        return Err(StoreError::ChannelExists(key.channel_id.clone()));
    }
    if count(
        c,
        "SELECT COUNT(*) FROM channels WHERE app_instance_id = ?1",
        [&key.app_instance_id],
    )? >= max
    {
        return Err(StoreError::Limit(Limit::Channels(max)));
    }
    c.execute(
        "INSERT INTO channels (app_instance_id, channel_id, name, mode, privacy, metadata, created_by,
            created_ms, updated_ms, expiration_days, expiration_criterion, event_seq)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        params![
            key.app_instance_id,
            key.channel_id,
            ch.name,
            ch.mode.as_str(),
            ch.privacy.as_str(),
            ch.metadata,
            ch.created_by.key.user_id,
            ch.created.0,
            ch.updated.0,
            ch.expiration.map(|e| e.days),
            ch.expiration.map(|e| e.criterion.as_str()),
            // One MembershipCreated event per member, numbered 1..=n in order.
            new.members.len() as i64,
        ],
    )
    .map_err(db)?;
    let creator = &ch.created_by.key.user_id;
    for m in &new.moderators {
        c.execute(
            "INSERT INTO moderators (app_instance_id, channel_id, user_id, created_by, created_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![key.app_instance_id, key.channel_id, m.user_id, creator, ch.created.0],
        )
        .map_err(db)?;
    }
    // Members added at creation count against the membership quotas like any other.
    for m in &new.members {
        super::membership::add(
            c,
            key,
            m,
            MembershipType::Default,
            &ch.created_by.key,
            ch.created,
            limits,
        )?;
    }
    tags::put(c, &tag_target(key), &new.tags)?;
    remember(c, &idem, &key.channel_id, ch.created.0)?;
    Ok(Created {
        id: key.channel_id.clone(),
        replayed: false,
    })
}

pub(crate) fn get(c: &Connection, key: &ChannelKey) -> StoreResult<Option<Channel>> {
    Ok(get_seq(c, key)?.map(|s| s.value))
}

/// The channel with its row position (what messages reference).
pub(crate) fn get_seq(c: &Connection, key: &ChannelKey) -> StoreResult<Option<Seq<Channel>>> {
    c.prepare_cached(&format!(
        "{QUERY} WHERE c.app_instance_id = ?1 AND c.channel_id = ?2"
    ))
    .map_err(db)?
    .query_row(params![key.app_instance_id, key.channel_id], from_row)
    .optional()
    .map_err(db)
}

fn missing(key: &ChannelKey) -> StoreError {
    StoreError::NoChannel(key.channel_id.clone())
}

/// Takes the channel's next event sequence number (see `belfry_core::events`). The caller's
/// transaction holds it: a write that fails after taking one leaves no gap.
pub(crate) fn next_event_seq(c: &Connection, key: &ChannelKey) -> StoreResult<u64> {
    c.prepare_cached(
        "UPDATE channels SET event_seq = event_seq + 1
         WHERE app_instance_id = ?1 AND channel_id = ?2 RETURNING event_seq",
    )
    .map_err(db)?
    .query_row(params![key.app_instance_id, key.channel_id], |r| {
        r.get::<_, i64>(0)
    })
    .optional()
    .map_err(db)?
    .map(|n| n as u64)
    .ok_or_else(|| missing(key))
}

/// Applies an update; returns the channel as it now is and the update's event number.
pub(crate) fn update(
    c: &Connection,
    key: &ChannelKey,
    u: &ChannelUpdate,
    now: Timestamp,
) -> StoreResult<(Channel, u64)> {
    let seq: Option<i64> = c
        .query_row(
            "UPDATE channels SET name = COALESCE(?3, name), mode = COALESCE(?4, mode),
                metadata = COALESCE(?5, metadata), updated_ms = ?6, event_seq = event_seq + 1
             WHERE app_instance_id = ?1 AND channel_id = ?2 RETURNING event_seq",
            params![
                key.app_instance_id,
                key.channel_id,
                u.name,
                u.mode.map(|m| m.as_str()),
                u.metadata,
                now.0
            ],
            |r| r.get(0),
        )
        .optional()
        .map_err(db)?;
    let seq = seq.ok_or_else(|| missing(key))?;
    let channel = get(c, key)?.ok_or_else(|| missing(key))?;
    Ok((channel, seq as u64))
}

/// Deletes a channel; returns it as it was and the deletion's event number (the channel's
/// last).
pub(crate) fn delete(c: &Connection, key: &ChannelKey) -> StoreResult<(Channel, u64)> {
    let channel = get(c, key)?.ok_or_else(|| missing(key))?;
    let seq = next_event_seq(c, key)?;
    // Foreign keys cascade to memberships, moderators and bans.
    c.execute(
        "DELETE FROM channels WHERE app_instance_id = ?1 AND channel_id = ?2",
        params![key.app_instance_id, key.channel_id],
    )
    .map_err(db)?;
    tags::delete_all(c, &tag_target(key))?;
    Ok((channel, seq))
}

pub(crate) fn list(
    c: &Connection,
    app_instance_id: &str,
    privacy: ChannelPrivacy,
    after: Option<i64>,
    limit: usize,
) -> StoreResult<Vec<Seq<Channel>>> {
    let mut stmt = c
        .prepare_cached(&format!(
            "{QUERY} WHERE c.app_instance_id = ?1 AND c.privacy = ?2 AND c.seq > ?3 ORDER BY c.seq LIMIT ?4"
        ))
        .map_err(db)?;
    let rows = stmt
        .query_map(
            params![
                app_instance_id,
                privacy.as_str(),
                after.unwrap_or(0),
                limit as i64
            ],
            from_row,
        )
        .map_err(db)?;
    rows.collect::<Result<_, _>>().map_err(db)
}

pub(crate) fn roles(c: &Connection, ch: &ChannelKey, user: &UserKey) -> StoreResult<Roles> {
    if ch.app_instance_id != user.app_instance_id {
        return Ok(Roles::default());
    }
    let mut stmt = c
        .prepare_cached(
            "SELECT
                EXISTS (SELECT 1 FROM admins WHERE app_instance_id = ?1 AND user_id = ?3),
                EXISTS (SELECT 1 FROM moderators WHERE app_instance_id = ?1 AND channel_id = ?2 AND user_id = ?3),
                (SELECT type FROM memberships WHERE app_instance_id = ?1 AND channel_id = ?2 AND user_id = ?3),
                EXISTS (SELECT 1 FROM bans WHERE app_instance_id = ?1 AND channel_id = ?2 AND user_id = ?3)",
        )
        .map_err(db)?;
    stmt.query_row(
        params![ch.app_instance_id, ch.channel_id, user.user_id],
        |r| {
            let member: Option<String> = r.get(2)?;
            Ok(Roles {
                admin: r.get(0)?,
                moderator: r.get(1)?,
                member: member.as_deref().map(membership_type),
                banned: r.get(3)?,
            })
        },
    )
    .map_err(db)
}

#[async_trait]
impl ChannelStore for SqliteStore {
    async fn create_channel(
        &self,
        new: NewChannel,
        idem: Idempotency,
        max: u64,
        limits: MembershipLimits,
    ) -> StoreResult<Created> {
        self.write(move |c| create(c, new, idem, max, limits)).await
    }
    async fn get_channel(&self, key: &ChannelKey) -> StoreResult<Option<Channel>> {
        let key = key.clone();
        self.read(move |c| get(c, &key)).await
    }
    async fn update_channel(
        &self,
        key: &ChannelKey,
        update: ChannelUpdate,
        now: Timestamp,
    ) -> StoreResult<(Channel, u64)> {
        let key = key.clone();
        self.write(move |c| self::update(c, &key, &update, now))
            .await
    }
    async fn delete_channel(&self, key: &ChannelKey) -> StoreResult<(Channel, u64)> {
        let key = key.clone();
        self.write(move |c| delete(c, &key)).await
    }
    async fn list_channels(
        &self,
        app: &str,
        privacy: ChannelPrivacy,
        after: Option<i64>,
        limit: usize,
    ) -> StoreResult<Vec<Seq<Channel>>> {
        let app = app.to_string();
        self.read(move |c| list(c, &app, privacy, after, limit))
            .await
    }
    async fn roles(&self, ch: &ChannelKey, u: &UserKey) -> StoreResult<Roles> {
        let (ch, u) = (ch.clone(), u.clone());
        self.read(move |c| roles(c, &ch, &u)).await
    }
    async fn channel_access(&self, ch: &ChannelKey, u: &UserKey) -> StoreResult<ChannelView> {
        let (ch, u) = (ch.clone(), u.clone());
        self.read(move |c| {
            Ok(ChannelView {
                user_exists: super::user::get(c, &u)?.is_some(),
                channel: get(c, &ch)?,
                roles: roles(c, &ch, &u)?,
            })
        })
        .await
    }
}
