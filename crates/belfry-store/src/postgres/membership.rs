//! Channel memberships on PostgreSQL.
//!
//! A numbered write (add, batch add, removal) first takes the channel's next event number,
//! which locks the channel row: memberships, bans and the channel quota of one channel are
//! then read and written by one writer at a time, whichever node it runs on. The per-user
//! quota spans channels, so an add also locks the member's `users` row (a batch locks all its
//! members at once, in id order, so two batches never wait on each other in a cycle).

use async_trait::async_trait;
use belfry_core::arn::{ChannelKey, UserKey};
use belfry_core::events::{DomainEvent, Published};
use belfry_core::model::{Membership, MembershipType, UserMembership, UserRef};
use belfry_core::store::{Limit, MembershipStore};
use belfry_core::store::{MembershipLimits, Seq, SessionChannel};
use belfry_core::store::{StoreError, StoreResult};
use belfry_core::time::Timestamp;
use deadpool_postgres::{GenericClient, Transaction};

use super::rows::lock_users;
use super::rows_b::{
    self, channel_from_row, col, exec, lock_channel, next_event_seq, row, rows, user_ref,
    CHANNEL_COLUMNS, CHANNEL_FROM, MEMBERSHIP_QUERY,
};
use super::{db, PgStore};
use crate::codec::membership_type;

fn no_channel(ch: &ChannelKey) -> StoreError {
    StoreError::NoChannel(ch.channel_id.clone())
}

fn not_member(ch: &ChannelKey, user: &UserKey) -> StoreError {
    StoreError::NotMember {
        user: user.user_id.clone(),
        channel: ch.channel_id.clone(),
    }
}

/// One membership with both users' current names.
pub(crate) async fn get<C: GenericClient>(
    c: &C,
    ch: &ChannelKey,
    user: &UserKey,
) -> StoreResult<Option<Membership>> {
    let sql = format!(
        "{MEMBERSHIP_QUERY} WHERE m.app_instance_id = $1 AND m.channel_id = $2 AND m.user_id = $3"
    );
    row(
        c,
        &sql,
        &[&ch.app_instance_id, &ch.channel_id, &user.user_id],
    )
    .await?
    .map(|r| rows_b::membership(&r))
    .transpose()
}

/// Inserts one membership, with the channel row already locked by the caller. The service
/// decided on an earlier read; these checks are the ones that must hold at the insert itself
/// (a ban, a join or a quota may have landed in between), in the port's order: `NoUser`,
/// `Banned`, `AlreadyMember`, `Limit(ChannelMembers)`, `Limit(UserChannels)`.
pub(crate) async fn add(
    tx: &Transaction<'_>,
    ch: &ChannelKey,
    user: &UserKey,
    kind: MembershipType,
    invited_by: &UserKey,
    now: Timestamp,
    limits: MembershipLimits,
) -> StoreResult<Membership> {
    // The member's row lock serializes the per-user quota across channels.
    let member = row(
        tx,
        "SELECT name FROM users WHERE app_instance_id = $1 AND user_id = $2 FOR NO KEY UPDATE",
        &[&user.app_instance_id, &user.user_id],
    )
    .await?;
    let Some(member) = member else {
        return Err(StoreError::NoUser(user.user_id.clone()));
    };
    let member_name: String = col(&member, 0)?;
    let facts = row(
        tx,
        "SELECT
            EXISTS (SELECT 1 FROM bans WHERE app_instance_id = $1 AND channel_id = $2 AND user_id = $3),
            EXISTS (SELECT 1 FROM memberships WHERE app_instance_id = $1 AND channel_id = $2 AND user_id = $3),
            (SELECT COUNT(*) FROM memberships WHERE app_instance_id = $1 AND channel_id = $2),
            (SELECT COUNT(*) FROM memberships WHERE app_instance_id = $1 AND user_id = $3),
            (SELECT name FROM users WHERE app_instance_id = $1 AND user_id = $4)",
        &[
            &ch.app_instance_id,
            &ch.channel_id,
            &user.user_id,
            &invited_by.user_id,
        ],
    )
    .await?
    .ok_or_else(|| StoreError::internal("a SELECT without FROM returned no row"))?;
    let pair = || (user.user_id.clone(), ch.channel_id.clone());
    if col::<bool>(&facts, 0)? {
        let (user, channel) = pair();
        return Err(StoreError::Banned { user, channel });
    }
    if col::<bool>(&facts, 1)? {
        let (user, channel) = pair();
        return Err(StoreError::AlreadyMember { user, channel });
    }
    if col::<i64>(&facts, 2)?.max(0) as u64 >= limits.per_channel {
        return Err(StoreError::Limit(Limit::ChannelMembers {
            channel: ch.channel_id.clone(),
            max: limits.per_channel,
        }));
    }
    if col::<i64>(&facts, 3)?.max(0) as u64 >= limits.per_user {
        return Err(StoreError::Limit(Limit::UserChannels {
            user: user.user_id.clone(),
            max: limits.per_user,
        }));
    }
    let inviter_name: Option<String> = col(&facts, 4)?;
    exec(
        tx,
        "INSERT INTO memberships (app_instance_id, channel_id, user_id, type, invited_by, created_ms, updated_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $6)",
        &[
            &ch.app_instance_id,
            &ch.channel_id,
            &user.user_id,
            &kind.as_str(),
            &invited_by.user_id,
            &now.0,
        ],
    )
    .await?;
    // The row as stored, built from what this transaction read and wrote.
    Ok(Membership {
        channel: ch.clone(),
        member: UserRef {
            key: user.clone(),
            name: Some(member_name),
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

/// Removes a membership inside `tx`; returns it as it was and the removal's event number, or
/// `None` if `user` is not a member (then nothing is numbered or written).
pub(crate) async fn remove(
    tx: &Transaction<'_>,
    ch: &ChannelKey,
    user: &UserKey,
) -> StoreResult<Option<(Membership, u64)>> {
    // Locked before the read, so the membership read is the one removed.
    if !lock_channel(tx, ch).await? {
        return Ok(None);
    }
    let Some(m) = get(tx, ch, user).await? else {
        return Ok(None);
    };
    let seq = next_event_seq(tx, ch)
        .await?
        .ok_or_else(|| no_channel(ch))?;
    exec(
        tx,
        "DELETE FROM memberships WHERE app_instance_id = $1 AND channel_id = $2 AND user_id = $3",
        &[&ch.app_instance_id, &ch.channel_id, &user.user_id],
    )
    .await?;
    Ok(Some((m, seq)))
}

impl PgStore {
    async fn batch(
        &self,
        ch: &ChannelKey,
        members: &[UserKey],
        kind: MembershipType,
        invited_by: &UserKey,
        now: Timestamp,
        limits: MembershipLimits,
    ) -> StoreResult<(Vec<StoreResult<Membership>>, Option<u64>)> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(db)?;
        // The number is taken first because taking it locks the channel; a batch that adds
        // nobody rolls back and so takes none.
        let Some(seq) = next_event_seq(&tx, ch).await? else {
            let refused = members.iter().map(|_| Err(no_channel(ch))).collect();
            return Ok((refused, None));
        };
        // Every member's row, locked in one go in a fixed order (see the module docs).
        let mut ids: Vec<&str> = members.iter().map(|m| m.user_id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        lock_users(&tx, &ch.app_instance_id, &ids).await?;
        // Each member is refused or added on its own; the checks run before the insert, so a
        // refusal leaves nothing to undo. A storage failure fails the whole batch.
        let mut outcomes = Vec::with_capacity(members.len());
        for m in members {
            match add(&tx, ch, m, kind, invited_by, now, limits).await {
                Err(e @ StoreError::Internal(_)) | Err(e @ StoreError::Unavailable(_)) => {
                    return Err(e)
                }
                outcome => outcomes.push(outcome),
            }
        }
        let added: Vec<UserRef> = outcomes
            .iter()
            .filter_map(|o| o.as_ref().ok().map(|m| m.member.clone()))
            .collect();
        if added.is_empty() {
            tx.rollback().await.map_err(db)?;
            return Ok((outcomes, None));
        }
        if self.outbox {
            // As the service publishes it: the channel with its creator's name, and the inviter
            // with theirs.
            let sql = format!(
                "SELECT {CHANNEL_COLUMNS}, (SELECT name FROM users WHERE app_instance_id = $1 AND user_id = $3)
                 FROM {CHANNEL_FROM}
                 WHERE c.app_instance_id = $1 AND c.channel_id = $2"
            );
            let r = row(
                &tx,
                &sql,
                &[&ch.app_instance_id, &ch.channel_id, &invited_by.user_id],
            )
            .await?
            .ok_or_else(|| no_channel(ch))?;
            let channel = channel_from_row(&r)?.value;
            let event = DomainEvent::MembershipsBatchCreated {
                channel,
                invited_by: UserRef {
                    key: invited_by.clone(),
                    name: col(&r, 14)?,
                },
                kind,
                members: added,
            };
            self.enqueue(&tx, &Published::at(seq, event)).await?;
        }
        tx.commit().await.map_err(db)?;
        Ok((outcomes, Some(seq)))
    }
}

#[async_trait]
impl MembershipStore for PgStore {
    async fn create_membership(
        &self,
        ch: &ChannelKey,
        member: &UserKey,
        kind: MembershipType,
        invited_by: &UserKey,
        now: Timestamp,
        limits: MembershipLimits,
    ) -> StoreResult<(Membership, u64)> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(db)?;
        // A refusal below drops `tx`, which rolls the number back.
        let seq = next_event_seq(&tx, ch)
            .await?
            .ok_or_else(|| no_channel(ch))?;
        let m = add(&tx, ch, member, kind, invited_by, now, limits).await?;
        let event = Published::at(seq, DomainEvent::MembershipCreated(m.clone()));
        self.enqueue(&tx, &event).await?;
        tx.commit().await.map_err(db)?;
        Ok((m, seq))
    }

    async fn batch_create_memberships(
        &self,
        ch: &ChannelKey,
        members: Vec<UserKey>,
        kind: MembershipType,
        invited_by: &UserKey,
        now: Timestamp,
        limits: MembershipLimits,
    ) -> StoreResult<(Vec<StoreResult<Membership>>, Option<u64>)> {
        self.batch(ch, &members, kind, invited_by, now, limits)
            .await
    }

    async fn get_membership(
        &self,
        ch: &ChannelKey,
        member: &UserKey,
    ) -> StoreResult<Option<Membership>> {
        let conn = self.conn().await?;
        get(&conn, ch, member).await
    }

    async fn list_memberships(
        &self,
        ch: &ChannelKey,
        kind: MembershipType,
        after: Option<i64>,
        limit: usize,
    ) -> StoreResult<Vec<Seq<UserRef>>> {
        let conn = self.conn().await?;
        let found = rows(
            &conn,
            "SELECT m.seq, m.user_id, u.name FROM memberships m
             LEFT JOIN users u ON u.app_instance_id = m.app_instance_id AND u.user_id = m.user_id
             WHERE m.app_instance_id = $1 AND m.channel_id = $2 AND m.type = $3 AND m.seq > $4
             ORDER BY m.seq LIMIT $5",
            &[
                &ch.app_instance_id,
                &ch.channel_id,
                &kind.as_str(),
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

    async fn delete_membership(
        &self,
        ch: &ChannelKey,
        member: &UserKey,
    ) -> StoreResult<(Membership, u64)> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(db)?;
        let (m, seq) = remove(&tx, ch, member)
            .await?
            .ok_or_else(|| not_member(ch, member))?;
        let event = Published::at(seq, DomainEvent::MembershipDeleted(m.clone()));
        self.enqueue(&tx, &event).await?;
        tx.commit().await.map_err(db)?;
        Ok((m, seq))
    }

    async fn list_user_memberships(
        &self,
        user: &UserKey,
        after: Option<i64>,
        limit: usize,
    ) -> StoreResult<Vec<Seq<UserMembership>>> {
        let conn = self.conn().await?;
        let sql = format!(
            "SELECT {CHANNEL_COLUMNS}, m.seq, m.type, m.read_marker_ms
             FROM {CHANNEL_FROM}
             JOIN memberships m ON m.app_instance_id = c.app_instance_id AND m.channel_id = c.channel_id
             WHERE m.app_instance_id = $1 AND m.user_id = $2 AND m.seq > $3
             ORDER BY m.seq LIMIT $4"
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
                let channel = channel_from_row(r)?.value;
                Ok(Seq {
                    seq: col(r, 14)?,
                    value: UserMembership {
                        channel,
                        kind: membership_type(&col::<String>(r, 15)?),
                        read_marker: col::<Option<i64>>(r, 16)?.map(Timestamp),
                    },
                })
            })
            .collect()
    }

    async fn session_channels(&self, user: &UserKey) -> StoreResult<Vec<SessionChannel>> {
        let conn = self.conn().await?;
        // One statement: one snapshot of every row.
        let found = rows(
            &conn,
            "SELECT m.channel_id, m.type, c.event_seq, c.last_message_ms, m.read_marker_ms
             FROM memberships m JOIN channels c
               ON c.app_instance_id = m.app_instance_id AND c.channel_id = m.channel_id
             WHERE m.app_instance_id = $1 AND m.user_id = $2 ORDER BY m.seq",
            &[&user.app_instance_id, &user.user_id],
        )
        .await?;
        found
            .iter()
            .map(|r| {
                Ok(SessionChannel {
                    channel: ChannelKey {
                        app_instance_id: user.app_instance_id.clone(),
                        channel_id: col(r, 0)?,
                    },
                    kind: membership_type(&col::<String>(r, 1)?),
                    event_seq: col::<i64>(r, 2)?.max(0) as u64,
                    last_message: col::<Option<i64>>(r, 3)?.map(Timestamp),
                    read_marker: col::<Option<i64>>(r, 4)?.map(Timestamp),
                })
            })
            .collect()
    }
}
