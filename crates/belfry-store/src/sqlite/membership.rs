//! Channel memberships in SQLite.

use super::SqliteStore;
use async_trait::async_trait;
use belfry_core::arn::{ChannelKey, UserKey};
use belfry_core::model::{Membership, MembershipType, UserMembership, UserRef};
use belfry_core::store::Limit;
use belfry_core::store::MembershipStore;
use belfry_core::store::{MembershipLimits, Seq, SessionChannel};
use belfry_core::store::{StoreError, StoreResult};
use belfry_core::time::Timestamp;
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::{channel, count, db};
use crate::codec::membership_type;

const QUERY: &str =
    "SELECT m.seq, m.app_instance_id, m.channel_id, m.user_id, u.name, m.invited_by, i.name,
        m.type, m.created_ms, m.updated_ms, m.read_marker_ms
    FROM memberships m
    LEFT JOIN users u ON u.app_instance_id = m.app_instance_id AND u.user_id = m.user_id
    LEFT JOIN users i ON i.app_instance_id = m.app_instance_id AND i.user_id = m.invited_by";

fn from_row(r: &Row) -> rusqlite::Result<Membership> {
    let app: String = r.get(1)?;
    Ok(Membership {
        channel: ChannelKey {
            app_instance_id: app.clone(),
            channel_id: r.get(2)?,
        },
        member: UserRef {
            key: UserKey {
                app_instance_id: app.clone(),
                user_id: r.get(3)?,
            },
            name: r.get(4)?,
        },
        invited_by: UserRef {
            key: UserKey {
                app_instance_id: app,
                user_id: r.get(5)?,
            },
            name: r.get(6)?,
        },
        kind: membership_type(&r.get::<_, String>(7)?),
        created: Timestamp(r.get(8)?),
        updated: Timestamp(r.get(9)?),
        read_marker: r.get::<_, Option<i64>>(10)?.map(Timestamp),
    })
}

pub(crate) fn get(
    c: &Connection,
    ch: &ChannelKey,
    user: &UserKey,
) -> StoreResult<Option<Membership>> {
    c.prepare_cached(&format!(
        "{QUERY} WHERE m.app_instance_id = ?1 AND m.channel_id = ?2 AND m.user_id = ?3"
    ))
    .map_err(db)?
    .query_row(
        params![ch.app_instance_id, ch.channel_id, user.user_id],
        from_row,
    )
    .optional()
    .map_err(db)
}

fn banned(c: &Connection, ch: &ChannelKey, user: &UserKey) -> StoreResult<bool> {
    Ok(count(
        c,
        "SELECT COUNT(*) FROM bans WHERE app_instance_id = ?1 AND channel_id = ?2 AND user_id = ?3",
        params![ch.app_instance_id, ch.channel_id, user.user_id],
    )? > 0)
}

/// Adds one member; returns the membership and its event number.
pub(crate) fn create(
    c: &Connection,
    ch: &ChannelKey,
    user: &UserKey,
    kind: MembershipType,
    invited_by: &UserKey,
    now: Timestamp,
    limits: MembershipLimits,
) -> StoreResult<(Membership, u64)> {
    let m = add(c, ch, user, kind, invited_by, now, limits)?;
    Ok((m, channel::next_event_seq(c, ch)?))
}

/// Adds several members; each gets its own outcome, as `create` would report it. The batch
/// takes one event number, if it added anyone.
pub(crate) fn batch(
    c: &Connection,
    ch: &ChannelKey,
    members: &[UserKey],
    kind: MembershipType,
    invited_by: &UserKey,
    now: Timestamp,
    limits: MembershipLimits,
) -> StoreResult<(Vec<StoreResult<Membership>>, Option<u64>)> {
    // Each member is refused or added on its own; the checks run before any insert, so a
    // refusal leaves nothing to undo.
    let outcomes: Vec<StoreResult<Membership>> = members
        .iter()
        .map(|m| add(c, ch, m, kind, invited_by, now, limits))
        .collect();
    // A storage failure fails the whole batch (the job's savepoint undoes the rest).
    if let Some(Err(e)) = outcomes
        .iter()
        .find(|o| matches!(o, Err(StoreError::Internal(_))))
    {
        return Err(e.clone());
    }
    let seq = if outcomes.iter().any(Result::is_ok) {
        Some(channel::next_event_seq(c, ch)?)
    } else {
        None
    };
    Ok((outcomes, seq))
}

/// Inserts one membership. The service decided on an earlier read; these checks are the ones
/// that must hold at the insert itself (a ban, a join or a quota may have landed in between),
/// so they run in its transaction and report facts (the port's contract for memberships).
pub(crate) fn add(
    c: &Connection,
    ch: &ChannelKey,
    user: &UserKey,
    kind: MembershipType,
    invited_by: &UserKey,
    now: Timestamp,
    limits: MembershipLimits,
) -> StoreResult<Membership> {
    if channel::get(c, ch)?.is_none() {
        return Err(StoreError::NoChannel(ch.channel_id.clone()));
    }
    let Some(member) = super::user::get(c, user)? else {
        return Err(StoreError::NoUser(user.user_id.clone()));
    };
    if banned(c, ch, user)? {
        return Err(StoreError::Banned {
            user: user.user_id.clone(),
            channel: ch.channel_id.clone(),
        });
    }
    if get(c, ch, user)?.is_some() {
        return Err(StoreError::AlreadyMember {
            user: user.user_id.clone(),
            channel: ch.channel_id.clone(),
        });
    }
    let members = count(
        c,
        "SELECT COUNT(*) FROM memberships WHERE app_instance_id = ?1 AND channel_id = ?2",
        params![ch.app_instance_id, ch.channel_id],
    )?;
    if members >= limits.per_channel {
        return Err(StoreError::Limit(Limit::ChannelMembers {
            channel: ch.channel_id.clone(),
            max: limits.per_channel,
        }));
    }
    let mine = count(
        c,
        "SELECT COUNT(*) FROM memberships WHERE app_instance_id = ?1 AND user_id = ?2",
        params![user.app_instance_id, user.user_id],
    )?;
    if mine >= limits.per_user {
        return Err(StoreError::Limit(Limit::UserChannels {
            user: user.user_id.clone(),
            max: limits.per_user,
        }));
    }
    c.prepare_cached(
        "INSERT INTO memberships (app_instance_id, channel_id, user_id, type, invited_by, created_ms, updated_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
    )
    .map_err(db)?
    .execute(params![
        ch.app_instance_id,
        ch.channel_id,
        user.user_id,
        kind.as_str(),
        invited_by.user_id,
        now.0
    ])
    .map_err(db)?;
    // The row as stored, built from what this transaction read and wrote.
    let inviter_name = if invited_by == user {
        Some(member.name.clone())
    } else {
        user_name(c, invited_by)?
    };
    Ok(Membership {
        channel: ch.clone(),
        member: UserRef {
            key: member.key,
            name: Some(member.name),
        },
        invited_by: UserRef {
            key: invited_by.clone(),
            name: inviter_name,
        },
        kind,
        created: now,
        updated: now,
        read_marker: None,
    })
}

/// A user's current name, if the user exists.
fn user_name(c: &Connection, user: &UserKey) -> StoreResult<Option<String>> {
    c.prepare_cached("SELECT name FROM users WHERE app_instance_id = ?1 AND user_id = ?2")
        .map_err(db)?
        .query_row(params![user.app_instance_id, user.user_id], |r| r.get(0))
        .optional()
        .map_err(db)
}

pub(crate) fn list(
    c: &Connection,
    ch: &ChannelKey,
    kind: MembershipType,
    after: Option<i64>,
    limit: usize,
) -> StoreResult<Vec<Seq<UserRef>>> {
    let mut stmt = c
        .prepare_cached(
            "SELECT m.seq, m.user_id, u.name FROM memberships m
             LEFT JOIN users u ON u.app_instance_id = m.app_instance_id AND u.user_id = m.user_id
             WHERE m.app_instance_id = ?1 AND m.channel_id = ?2 AND m.type = ?3 AND m.seq > ?4
             ORDER BY m.seq LIMIT ?5",
        )
        .map_err(db)?;
    let rows = stmt
        .query_map(
            params![
                ch.app_instance_id,
                ch.channel_id,
                kind.as_str(),
                after.unwrap_or(0),
                limit as i64
            ],
            |r| {
                Ok(Seq {
                    seq: r.get(0)?,
                    value: UserRef {
                        key: UserKey {
                            app_instance_id: ch.app_instance_id.clone(),
                            user_id: r.get(1)?,
                        },
                        name: r.get(2)?,
                    },
                })
            },
        )
        .map_err(db)?;
    rows.collect::<Result<_, _>>().map_err(db)
}

/// Removes a membership; returns it as it was and the removal's event number.
pub(crate) fn delete(
    c: &Connection,
    ch: &ChannelKey,
    user: &UserKey,
) -> StoreResult<(Membership, u64)> {
    let m = get(c, ch, user)?.ok_or_else(|| StoreError::NotMember {
        user: user.user_id.clone(),
        channel: ch.channel_id.clone(),
    })?;
    c.execute(
        "DELETE FROM memberships WHERE app_instance_id = ?1 AND channel_id = ?2 AND user_id = ?3",
        params![ch.app_instance_id, ch.channel_id, user.user_id],
    )
    .map_err(db)?;
    Ok((m, channel::next_event_seq(c, ch)?))
}

pub(crate) fn list_for_user(
    c: &Connection,
    user: &UserKey,
    after: Option<i64>,
    limit: usize,
) -> StoreResult<Vec<Seq<UserMembership>>> {
    // The channel columns come first, in the order `channel::from_row` reads them.
    let mut stmt = c
        .prepare_cached(&format!(
            "{} JOIN memberships m ON m.app_instance_id = c.app_instance_id AND m.channel_id = c.channel_id
             WHERE m.app_instance_id = ?1 AND m.user_id = ?2 AND m.seq > ?3
             ORDER BY m.seq LIMIT ?4",
            channel::QUERY_WITH_MEMBERSHIP
        ))
        .map_err(db)?;
    let rows = stmt
        .query_map(
            params![
                user.app_instance_id,
                user.user_id,
                after.unwrap_or(0),
                limit as i64
            ],
            |r| {
                let ch = channel::from_row(r)?;
                Ok(Seq {
                    seq: r.get(14)?,
                    value: UserMembership {
                        channel: ch.value,
                        kind: membership_type(&r.get::<_, String>(15)?),
                        read_marker: r.get::<_, Option<i64>>(16)?.map(Timestamp),
                    },
                })
            },
        )
        .map_err(db)?;
    rows.collect::<Result<_, _>>().map_err(db)
}

/// A user's channels for a connecting session, in one read (one statement: one snapshot).
pub(crate) fn session_channels(c: &Connection, user: &UserKey) -> StoreResult<Vec<SessionChannel>> {
    let mut stmt = c
        .prepare_cached(
            "SELECT m.channel_id, m.type, c.event_seq, c.last_message_ms, m.read_marker_ms
             FROM memberships m JOIN channels c
               ON c.app_instance_id = m.app_instance_id AND c.channel_id = m.channel_id
             WHERE m.app_instance_id = ?1 AND m.user_id = ?2 ORDER BY m.seq",
        )
        .map_err(db)?;
    let rows = stmt
        .query_map(params![user.app_instance_id, user.user_id], |r| {
            Ok(SessionChannel {
                channel: ChannelKey {
                    app_instance_id: user.app_instance_id.clone(),
                    channel_id: r.get(0)?,
                },
                kind: membership_type(&r.get::<_, String>(1)?),
                event_seq: r.get::<_, i64>(2)? as u64,
                last_message: r.get::<_, Option<i64>>(3)?.map(Timestamp),
                read_marker: r.get::<_, Option<i64>>(4)?.map(Timestamp),
            })
        })
        .map_err(db)?;
    rows.collect::<Result<_, _>>().map_err(db)
}

#[async_trait]
impl MembershipStore for SqliteStore {
    async fn create_membership(
        &self,
        ch: &ChannelKey,
        member: &UserKey,
        kind: MembershipType,
        by: &UserKey,
        now: Timestamp,
        limits: MembershipLimits,
    ) -> StoreResult<(Membership, u64)> {
        let (ch, member, by) = (ch.clone(), member.clone(), by.clone());
        self.write(move |c| create(c, &ch, &member, kind, &by, now, limits))
            .await
    }
    async fn batch_create_memberships(
        &self,
        ch: &ChannelKey,
        members: Vec<UserKey>,
        kind: MembershipType,
        by: &UserKey,
        now: Timestamp,
        limits: MembershipLimits,
    ) -> StoreResult<(Vec<StoreResult<Membership>>, Option<u64>)> {
        let (ch, by) = (ch.clone(), by.clone());
        self.write(move |c| batch(c, &ch, &members, kind, &by, now, limits))
            .await
    }
    async fn get_membership(
        &self,
        ch: &ChannelKey,
        member: &UserKey,
    ) -> StoreResult<Option<Membership>> {
        let (ch, member) = (ch.clone(), member.clone());
        self.read(move |c| get(c, &ch, &member)).await
    }
    async fn list_memberships(
        &self,
        ch: &ChannelKey,
        kind: MembershipType,
        after: Option<i64>,
        limit: usize,
    ) -> StoreResult<Vec<Seq<UserRef>>> {
        let ch = ch.clone();
        self.read(move |c| list(c, &ch, kind, after, limit)).await
    }
    async fn delete_membership(
        &self,
        ch: &ChannelKey,
        member: &UserKey,
    ) -> StoreResult<(Membership, u64)> {
        let (ch, member) = (ch.clone(), member.clone());
        self.write(move |c| delete(c, &ch, &member)).await
    }
    async fn list_user_memberships(
        &self,
        u: &UserKey,
        after: Option<i64>,
        limit: usize,
    ) -> StoreResult<Vec<Seq<UserMembership>>> {
        let u = u.clone();
        self.read(move |c| list_for_user(c, &u, after, limit)).await
    }
    async fn session_channels(&self, u: &UserKey) -> StoreResult<Vec<SessionChannel>> {
        let u = u.clone();
        self.read(move |c| session_channels(c, &u)).await
    }
}
