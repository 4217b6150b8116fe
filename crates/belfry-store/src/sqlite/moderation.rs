//! Channel moderators and bans in SQLite.

use super::SqliteStore;
use async_trait::async_trait;
use belfry_core::arn::{ChannelKey, UserKey};
use belfry_core::model::{Ban, Channel, Membership, Moderator, UserRef};
use belfry_core::store::Limit;
use belfry_core::store::ModerationStore;
use belfry_core::store::Seq;
use belfry_core::store::{StoreError, StoreResult};
use belfry_core::time::Timestamp;
use rusqlite::{params, Connection, OptionalExtension};

use super::{app_instance, channel, count, db, membership};

/// `moderators` and `bans` share their shape: (channel, user, created_by, created_ms).
#[derive(Clone, Copy)]
enum Table {
    Moderators,
    Bans,
}

impl Table {
    fn name(self) -> &'static str {
        match self {
            Table::Moderators => "moderators",
            Table::Bans => "bans",
        }
    }
}

type Record = (UserRef, UserRef, Timestamp);

fn get(c: &Connection, t: Table, ch: &ChannelKey, user: &UserKey) -> StoreResult<Option<Record>> {
    let sql = format!(
        "SELECT r.user_id, u.name, r.created_by, b.name, r.created_ms FROM {} r
         LEFT JOIN users u ON u.app_instance_id = r.app_instance_id AND u.user_id = r.user_id
         LEFT JOIN users b ON b.app_instance_id = r.app_instance_id AND b.user_id = r.created_by
         WHERE r.app_instance_id = ?1 AND r.channel_id = ?2 AND r.user_id = ?3",
        t.name()
    );
    let app = &ch.app_instance_id;
    c.prepare_cached(&sql)
        .map_err(db)?
        .query_row(params![app, ch.channel_id, user.user_id], |r| {
            let user = |id: String, name: Option<String>| UserRef {
                key: UserKey {
                    app_instance_id: app.clone(),
                    user_id: id,
                },
                name,
            };
            Ok((
                user(r.get(0)?, r.get(1)?),
                user(r.get(2)?, r.get(3)?),
                Timestamp(r.get(4)?),
            ))
        })
        .optional()
        .map_err(db)
}

fn list(
    c: &Connection,
    t: Table,
    ch: &ChannelKey,
    after: Option<i64>,
    limit: usize,
) -> StoreResult<Vec<Seq<UserRef>>> {
    let sql = format!(
        "SELECT r.seq, r.user_id, u.name FROM {} r
         LEFT JOIN users u ON u.app_instance_id = r.app_instance_id AND u.user_id = r.user_id
         WHERE r.app_instance_id = ?1 AND r.channel_id = ?2 AND r.seq > ?3 ORDER BY r.seq LIMIT ?4",
        t.name()
    );
    let mut stmt = c.prepare_cached(&sql).map_err(db)?;
    let rows = stmt
        .query_map(
            params![
                ch.app_instance_id,
                ch.channel_id,
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

fn insert(
    c: &Connection,
    t: Table,
    ch: &ChannelKey,
    user: &UserKey,
    by: &UserKey,
    now: Timestamp,
) -> StoreResult<Record> {
    c.execute(
        &format!(
            "INSERT INTO {} (app_instance_id, channel_id, user_id, created_by, created_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
            t.name()
        ),
        params![ch.app_instance_id, ch.channel_id, user.user_id, by.user_id, now.0],
    )
    .map_err(db)?;
    // The row as stored, with both users' current names; scalar subqueries always yield a row.
    let (name, by_name) = c
        .query_row(
            "SELECT (SELECT name FROM users WHERE app_instance_id = ?1 AND user_id = ?2),
                    (SELECT name FROM users WHERE app_instance_id = ?1 AND user_id = ?3)",
            params![ch.app_instance_id, user.user_id, by.user_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .map_err(db)?;
    Ok((
        UserRef {
            key: user.clone(),
            name,
        },
        UserRef {
            key: by.clone(),
            name: by_name,
        },
        now,
    ))
}

fn delete(c: &Connection, t: Table, ch: &ChannelKey, user: &UserKey) -> StoreResult<bool> {
    let n = c
        .execute(
            &format!(
                "DELETE FROM {} WHERE app_instance_id = ?1 AND channel_id = ?2 AND user_id = ?3",
                t.name()
            ),
            params![ch.app_instance_id, ch.channel_id, user.user_id],
        )
        .map_err(db)?;
    Ok(n > 0)
}

fn require_parties(c: &Connection, ch: &ChannelKey, user: &UserKey) -> StoreResult<()> {
    if channel::get(c, ch)?.is_none() {
        return Err(StoreError::NoChannel(ch.channel_id.clone()));
    }
    if super::user::get(c, user)?.is_none() {
        return Err(StoreError::NoUser(user.user_id.clone()));
    }
    Ok(())
}

pub(crate) fn create_moderator(
    c: &Connection,
    ch: &ChannelKey,
    user: &UserKey,
    by: &UserKey,
    now: Timestamp,
    max: u64,
) -> StoreResult<Moderator> {
    require_parties(c, ch, user)?;
    if get(c, Table::Bans, ch, user)?.is_some() {
        return Err(StoreError::Banned {
            user: user.user_id.clone(),
            channel: ch.channel_id.clone(),
        });
    }
    if get(c, Table::Moderators, ch, user)?.is_some() {
        return Err(StoreError::AlreadyModerator {
            user: user.user_id.clone(),
            channel: ch.channel_id.clone(),
        });
    }
    let n = count(
        c,
        "SELECT COUNT(*) FROM moderators WHERE app_instance_id = ?1 AND channel_id = ?2",
        params![ch.app_instance_id, ch.channel_id],
    )?;
    if n >= max {
        return Err(StoreError::Limit(Limit::Moderators {
            channel: ch.channel_id.clone(),
            max,
        }));
    }
    let (moderator, created_by, created) = insert(c, Table::Moderators, ch, user, by, now)?;
    Ok(Moderator {
        channel: ch.clone(),
        moderator,
        created_by,
        created,
    })
}

pub(crate) fn get_moderator(
    c: &Connection,
    ch: &ChannelKey,
    user: &UserKey,
) -> StoreResult<Option<Moderator>> {
    Ok(
        get(c, Table::Moderators, ch, user)?.map(|(moderator, created_by, created)| Moderator {
            channel: ch.clone(),
            moderator,
            created_by,
            created,
        }),
    )
}

pub(crate) fn list_moderators(
    c: &Connection,
    ch: &ChannelKey,
    after: Option<i64>,
    limit: usize,
) -> StoreResult<Vec<Seq<UserRef>>> {
    list(c, Table::Moderators, ch, after, limit)
}

pub(crate) fn delete_moderator(c: &Connection, ch: &ChannelKey, user: &UserKey) -> StoreResult<()> {
    if delete(c, Table::Moderators, ch, user)? {
        Ok(())
    } else {
        Err(StoreError::NotModerator {
            user: user.user_id.clone(),
            channel: ch.channel_id.clone(),
        })
    }
}

pub(crate) fn list_moderated(
    c: &Connection,
    user: &UserKey,
    after: Option<i64>,
    limit: usize,
) -> StoreResult<Vec<Seq<Channel>>> {
    let mut stmt = c
        .prepare_cached(&format!(
            "{} JOIN moderators r ON r.app_instance_id = c.app_instance_id AND r.channel_id = c.channel_id
             WHERE r.app_instance_id = ?1 AND r.user_id = ?2 AND r.seq > ?3 ORDER BY r.seq LIMIT ?4",
            channel::QUERY_WITH_SEQ_OF_R
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
                Ok(Seq {
                    seq: r.get(14)?,
                    value: channel::from_row(r)?.value,
                })
            },
        )
        .map_err(db)?;
    rows.collect::<Result<_, _>>().map_err(db)
}

pub(crate) fn create_ban(
    c: &Connection,
    ch: &ChannelKey,
    user: &UserKey,
    by: &UserKey,
    now: Timestamp,
) -> StoreResult<(Ban, Option<(Membership, u64)>)> {
    require_parties(c, ch, user)?;
    if app_instance::is_admin(c, user)? || get(c, Table::Moderators, ch, user)?.is_some() {
        return Err(StoreError::Privileged {
            user: user.user_id.clone(),
            channel: ch.channel_id.clone(),
        });
    }
    if get(c, Table::Bans, ch, user)?.is_some() {
        return Err(StoreError::AlreadyBanned {
            user: user.user_id.clone(),
            channel: ch.channel_id.clone(),
        });
    }
    let (member, created_by, created) = insert(c, Table::Bans, ch, user, by, now)?;
    let ban = Ban {
        channel: ch.clone(),
        member,
        created_by,
        created,
    };
    // The ban kicks the member out in the same transaction.
    match membership::delete(c, ch, user) {
        Ok(m) => Ok((ban, Some(m))),
        Err(StoreError::NotMember { .. }) => Ok((ban, None)),
        Err(e) => Err(e),
    }
}

pub(crate) fn get_ban(c: &Connection, ch: &ChannelKey, user: &UserKey) -> StoreResult<Option<Ban>> {
    Ok(
        get(c, Table::Bans, ch, user)?.map(|(member, created_by, created)| Ban {
            channel: ch.clone(),
            member,
            created_by,
            created,
        }),
    )
}

pub(crate) fn list_bans(
    c: &Connection,
    ch: &ChannelKey,
    after: Option<i64>,
    limit: usize,
) -> StoreResult<Vec<Seq<UserRef>>> {
    list(c, Table::Bans, ch, after, limit)
}

pub(crate) fn delete_ban(c: &Connection, ch: &ChannelKey, user: &UserKey) -> StoreResult<()> {
    if delete(c, Table::Bans, ch, user)? {
        Ok(())
    } else {
        Err(StoreError::NotBanned {
            user: user.user_id.clone(),
            channel: ch.channel_id.clone(),
        })
    }
}

#[async_trait]
impl ModerationStore for SqliteStore {
    async fn create_moderator(
        &self,
        ch: &ChannelKey,
        u: &UserKey,
        by: &UserKey,
        now: Timestamp,
        max: u64,
    ) -> StoreResult<Moderator> {
        let (ch, u, by) = (ch.clone(), u.clone(), by.clone());
        self.write(move |c| create_moderator(c, &ch, &u, &by, now, max))
            .await
    }
    async fn get_moderator(&self, ch: &ChannelKey, u: &UserKey) -> StoreResult<Option<Moderator>> {
        let (ch, u) = (ch.clone(), u.clone());
        self.read(move |c| get_moderator(c, &ch, &u)).await
    }
    async fn list_moderators(
        &self,
        ch: &ChannelKey,
        after: Option<i64>,
        limit: usize,
    ) -> StoreResult<Vec<Seq<UserRef>>> {
        let ch = ch.clone();
        self.read(move |c| list_moderators(c, &ch, after, limit))
            .await
    }
    async fn delete_moderator(&self, ch: &ChannelKey, u: &UserKey) -> StoreResult<()> {
        let (ch, u) = (ch.clone(), u.clone());
        self.write(move |c| delete_moderator(c, &ch, &u)).await
    }
    async fn list_moderated_channels(
        &self,
        u: &UserKey,
        after: Option<i64>,
        limit: usize,
    ) -> StoreResult<Vec<Seq<Channel>>> {
        let u = u.clone();
        self.read(move |c| list_moderated(c, &u, after, limit))
            .await
    }
    async fn create_ban(
        &self,
        ch: &ChannelKey,
        u: &UserKey,
        by: &UserKey,
        now: Timestamp,
    ) -> StoreResult<(Ban, Option<(Membership, u64)>)> {
        let (ch, u, by) = (ch.clone(), u.clone(), by.clone());
        self.write(move |c| create_ban(c, &ch, &u, &by, now)).await
    }
    async fn get_ban(&self, ch: &ChannelKey, u: &UserKey) -> StoreResult<Option<Ban>> {
        let (ch, u) = (ch.clone(), u.clone());
        self.read(move |c| get_ban(c, &ch, &u)).await
    }
    async fn list_bans(
        &self,
        ch: &ChannelKey,
        after: Option<i64>,
        limit: usize,
    ) -> StoreResult<Vec<Seq<UserRef>>> {
        let ch = ch.clone();
        self.read(move |c| list_bans(c, &ch, after, limit)).await
    }
    async fn delete_ban(&self, ch: &ChannelKey, u: &UserKey) -> StoreResult<()> {
        let (ch, u) = (ch.clone(), u.clone());
        self.write(move |c| delete_ban(c, &ch, &u)).await
    }
}
