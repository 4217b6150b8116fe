//! Channel moderators and bans on PostgreSQL.
//!
//! A grant or a ban locks the channel row before its checks, as membership writes do, so a ban
//! and a concurrent join (or two grants racing for the last moderator seat) serialize on it.
//! Revocations are one `DELETE` each: they depend on nothing but the row they remove.

use async_trait::async_trait;
use belfry_core::arn::{ChannelKey, UserKey};
use belfry_core::events::{DomainEvent, Published};
use belfry_core::model::{Ban, Channel, Membership, Moderator, UserRef};
use belfry_core::store::{Limit, ModerationStore, Seq};
use belfry_core::store::{StoreError, StoreResult};
use belfry_core::time::Timestamp;
use deadpool_postgres::{GenericClient, Transaction};

use super::membership;
use super::rows_b::{
    channel_from_row, col, exec, lock_channel, row, rows, user_ref, CHANNEL_COLUMNS, CHANNEL_FROM,
};
use super::{db, PgStore};

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

/// A role row: the user, who created it, when.
type Record = (UserRef, UserRef, Timestamp);

async fn get<C: GenericClient>(
    c: &C,
    t: Table,
    ch: &ChannelKey,
    user: &UserKey,
) -> StoreResult<Option<Record>> {
    let sql = format!(
        "SELECT r.user_id, u.name, r.created_by, b.name, r.created_ms FROM {} r
         LEFT JOIN users u ON u.app_instance_id = r.app_instance_id AND u.user_id = r.user_id
         LEFT JOIN users b ON b.app_instance_id = r.app_instance_id AND b.user_id = r.created_by
         WHERE r.app_instance_id = $1 AND r.channel_id = $2 AND r.user_id = $3",
        t.name()
    );
    let app = &ch.app_instance_id;
    let Some(r) = row(c, &sql, &[app, &ch.channel_id, &user.user_id]).await? else {
        return Ok(None);
    };
    Ok(Some((
        user_ref(&r, app, 0, 1)?,
        user_ref(&r, app, 2, 3)?,
        Timestamp(col(&r, 4)?),
    )))
}

async fn list<C: GenericClient>(
    c: &C,
    t: Table,
    ch: &ChannelKey,
    after: Option<i64>,
    limit: usize,
) -> StoreResult<Vec<Seq<UserRef>>> {
    let sql = format!(
        "SELECT r.seq, r.user_id, u.name FROM {} r
         LEFT JOIN users u ON u.app_instance_id = r.app_instance_id AND u.user_id = r.user_id
         WHERE r.app_instance_id = $1 AND r.channel_id = $2 AND r.seq > $3 ORDER BY r.seq LIMIT $4",
        t.name()
    );
    let found = rows(
        c,
        &sql,
        &[
            &ch.app_instance_id,
            &ch.channel_id,
            &after.unwrap_or(0),
            &(limit.min(i64::MAX as usize) as i64),
        ],
    )
    .await?;
    found
        .iter()
        .map(|r| {
            Ok(Seq {
                seq: col(r, 0)?,
                value: user_ref(r, &ch.app_instance_id, 1, 2)?,
            })
        })
        .collect()
}

/// Inserts a role row; returns it as stored, with both users' current names.
async fn insert(
    tx: &Transaction<'_>,
    t: Table,
    ch: &ChannelKey,
    user: &UserKey,
    by: &UserKey,
    now: Timestamp,
) -> StoreResult<Record> {
    let sql = format!(
        "INSERT INTO {} (app_instance_id, channel_id, user_id, created_by, created_ms)
         VALUES ($1, $2, $3, $4, $5)
         RETURNING (SELECT name FROM users WHERE app_instance_id = $1 AND user_id = $3),
                   (SELECT name FROM users WHERE app_instance_id = $1 AND user_id = $4)",
        t.name()
    );
    let r = row(
        tx,
        &sql,
        &[
            &ch.app_instance_id,
            &ch.channel_id,
            &user.user_id,
            &by.user_id,
            &now.0,
        ],
    )
    .await?
    .ok_or_else(|| StoreError::internal("INSERT … RETURNING returned no row"))?;
    Ok((
        UserRef {
            key: user.clone(),
            name: col(&r, 0)?,
        },
        UserRef {
            key: by.clone(),
            name: col(&r, 1)?,
        },
        now,
    ))
}

async fn delete<C: GenericClient>(
    c: &C,
    t: Table,
    ch: &ChannelKey,
    user: &UserKey,
) -> StoreResult<bool> {
    let sql = format!(
        "DELETE FROM {} WHERE app_instance_id = $1 AND channel_id = $2 AND user_id = $3",
        t.name()
    );
    let n = exec(
        c,
        &sql,
        &[&ch.app_instance_id, &ch.channel_id, &user.user_id],
    )
    .await?;
    Ok(n > 0)
}

/// What a grant or a ban checks, read in one statement after the channel row is locked.
struct Standing {
    user_exists: bool,
    admin: bool,
    moderator: bool,
    banned: bool,
    moderators: u64,
}

/// Locks the channel (`NoChannel` without it) and reads `user`'s standing in it.
async fn standing(tx: &Transaction<'_>, ch: &ChannelKey, user: &UserKey) -> StoreResult<Standing> {
    if !lock_channel(tx, ch).await? {
        return Err(StoreError::NoChannel(ch.channel_id.clone()));
    }
    let r = row(
        tx,
        "SELECT
            EXISTS (SELECT 1 FROM users WHERE app_instance_id = $1 AND user_id = $3),
            EXISTS (SELECT 1 FROM admins WHERE app_instance_id = $1 AND user_id = $3),
            EXISTS (SELECT 1 FROM moderators WHERE app_instance_id = $1 AND channel_id = $2 AND user_id = $3),
            EXISTS (SELECT 1 FROM bans WHERE app_instance_id = $1 AND channel_id = $2 AND user_id = $3),
            (SELECT COUNT(*) FROM moderators WHERE app_instance_id = $1 AND channel_id = $2)",
        &[&ch.app_instance_id, &ch.channel_id, &user.user_id],
    )
    .await?
    .ok_or_else(|| StoreError::internal("a SELECT without FROM returned no row"))?;
    Ok(Standing {
        user_exists: col(&r, 0)?,
        admin: col(&r, 1)?,
        moderator: col(&r, 2)?,
        banned: col(&r, 3)?,
        moderators: col::<i64>(&r, 4)?.max(0) as u64,
    })
}

#[async_trait]
impl ModerationStore for PgStore {
    async fn create_moderator(
        &self,
        ch: &ChannelKey,
        user: &UserKey,
        by: &UserKey,
        now: Timestamp,
        max: u64,
    ) -> StoreResult<Moderator> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(db)?;
        let s = standing(&tx, ch, user).await?;
        let pair = || (user.user_id.clone(), ch.channel_id.clone());
        if !s.user_exists {
            return Err(StoreError::NoUser(user.user_id.clone()));
        }
        if s.banned {
            let (user, channel) = pair();
            return Err(StoreError::Banned { user, channel });
        }
        if s.moderator {
            let (user, channel) = pair();
            return Err(StoreError::AlreadyModerator { user, channel });
        }
        if s.moderators >= max {
            return Err(StoreError::Limit(Limit::Moderators {
                channel: ch.channel_id.clone(),
                max,
            }));
        }
        let (moderator, created_by, created) =
            insert(&tx, Table::Moderators, ch, user, by, now).await?;
        tx.commit().await.map_err(db)?;
        Ok(Moderator {
            channel: ch.clone(),
            moderator,
            created_by,
            created,
        })
    }

    async fn get_moderator(
        &self,
        ch: &ChannelKey,
        user: &UserKey,
    ) -> StoreResult<Option<Moderator>> {
        let conn = self.conn().await?;
        Ok(get(&conn, Table::Moderators, ch, user).await?.map(
            |(moderator, created_by, created)| Moderator {
                channel: ch.clone(),
                moderator,
                created_by,
                created,
            },
        ))
    }

    async fn list_moderators(
        &self,
        ch: &ChannelKey,
        after: Option<i64>,
        limit: usize,
    ) -> StoreResult<Vec<Seq<UserRef>>> {
        let conn = self.conn().await?;
        list(&conn, Table::Moderators, ch, after, limit).await
    }

    async fn delete_moderator(&self, ch: &ChannelKey, user: &UserKey) -> StoreResult<()> {
        let conn = self.conn().await?;
        if delete(&conn, Table::Moderators, ch, user).await? {
            Ok(())
        } else {
            Err(StoreError::NotModerator {
                user: user.user_id.clone(),
                channel: ch.channel_id.clone(),
            })
        }
    }

    async fn list_moderated_channels(
        &self,
        user: &UserKey,
        after: Option<i64>,
        limit: usize,
    ) -> StoreResult<Vec<Seq<Channel>>> {
        let conn = self.conn().await?;
        let sql = format!(
            "SELECT {CHANNEL_COLUMNS}, r.seq FROM {CHANNEL_FROM}
             JOIN moderators r ON r.app_instance_id = c.app_instance_id AND r.channel_id = c.channel_id
             WHERE r.app_instance_id = $1 AND r.user_id = $2 AND r.seq > $3 ORDER BY r.seq LIMIT $4"
        );
        let found = rows(
            &conn,
            &sql,
            &[
                &user.app_instance_id,
                &user.user_id,
                &after.unwrap_or(0),
                &(limit.min(i64::MAX as usize) as i64),
            ],
        )
        .await?;
        found
            .iter()
            .map(|r| {
                Ok(Seq {
                    seq: col(r, 14)?,
                    value: channel_from_row(r)?.value,
                })
            })
            .collect()
    }

    async fn create_ban(
        &self,
        ch: &ChannelKey,
        user: &UserKey,
        by: &UserKey,
        now: Timestamp,
    ) -> StoreResult<(Ban, Option<(Membership, u64)>)> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(db)?;
        let s = standing(&tx, ch, user).await?;
        let pair = || (user.user_id.clone(), ch.channel_id.clone());
        if !s.user_exists {
            return Err(StoreError::NoUser(user.user_id.clone()));
        }
        if s.admin || s.moderator {
            let (user, channel) = pair();
            return Err(StoreError::Privileged { user, channel });
        }
        if s.banned {
            let (user, channel) = pair();
            return Err(StoreError::AlreadyBanned { user, channel });
        }
        let (member, created_by, created) = insert(&tx, Table::Bans, ch, user, by, now).await?;
        let ban = Ban {
            channel: ch.clone(),
            member,
            created_by,
            created,
        };
        // The ban kicks the member out in the same transaction.
        let kicked = membership::remove(&tx, ch, user).await?;
        if let Some((m, seq)) = &kicked {
            let event = Published::at(*seq, DomainEvent::MembershipDeleted(m.clone()));
            self.enqueue(&tx, &event).await?;
        }
        tx.commit().await.map_err(db)?;
        Ok((ban, kicked))
    }

    async fn get_ban(&self, ch: &ChannelKey, user: &UserKey) -> StoreResult<Option<Ban>> {
        let conn = self.conn().await?;
        Ok(get(&conn, Table::Bans, ch, user)
            .await?
            .map(|(member, created_by, created)| Ban {
                channel: ch.clone(),
                member,
                created_by,
                created,
            }))
    }

    async fn list_bans(
        &self,
        ch: &ChannelKey,
        after: Option<i64>,
        limit: usize,
    ) -> StoreResult<Vec<Seq<UserRef>>> {
        let conn = self.conn().await?;
        list(&conn, Table::Bans, ch, after, limit).await
    }

    async fn delete_ban(&self, ch: &ChannelKey, user: &UserKey) -> StoreResult<()> {
        let conn = self.conn().await?;
        if delete(&conn, Table::Bans, ch, user).await? {
            Ok(())
        } else {
            Err(StoreError::NotBanned {
                user: user.user_id.clone(),
                channel: ch.channel_id.clone(),
            })
        }
    }
}
