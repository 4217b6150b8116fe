//! Channels and the roles held in them, on PostgreSQL.
//!
//! Locks, always taken in this order so concurrent writes cannot deadlock on them: a create's
//! token (advisory), the AppInstance row (channel quota), then the members' user rows in id
//! order (`FOR NO KEY UPDATE`: the per-user membership quota; membership writes take the same
//! lock on a user before counting that user's channels).

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use async_trait::async_trait;
use belfry_core::arn::{ChannelKey, UserKey};
use belfry_core::events::{DomainEvent, Published};
use belfry_core::model::{
    Channel, ChannelPrivacy, ChannelUpdate, Created, Idempotency, Membership, MembershipType,
    NewChannel, TagKind, TagTarget, UserRef,
};
use belfry_core::perm::Roles;
use belfry_core::store::{
    ChannelStore, ChannelView, Limit, MembershipLimits, Seq, StoreError, StoreResult,
};
use belfry_core::time::Timestamp;
use deadpool_postgres::Transaction;

use super::app_instance::lock_app_instance;
use super::rows::{
    channel_at, channel_from_row, col, exec, get_channel, lock_token, lock_users, next_event_seq,
    one, row, rows, CHANNEL_COLUMNS, CHANNEL_FROM,
};
use super::rows_b::roles_at;
use super::{count, db, forget, is_unique_violation, remember, replay, tags, PgStore};

fn tag_target(key: &ChannelKey) -> TagTarget {
    TagTarget {
        app_instance_id: key.app_instance_id.clone(),
        kind: TagKind::Channel,
        id: key.channel_id.clone(),
    }
}

fn missing(key: &ChannelKey) -> StoreError {
    StoreError::NoChannel(key.channel_id.clone())
}

/// The user's roles in the channel as four columns (admin, moderator, membership type, ban),
/// with `$1` the channel's AppInstance, `$2` the channel id and `$3` the user id.
const ROLE_COLUMNS: &str = "
    EXISTS (SELECT 1 FROM admins WHERE app_instance_id = $1 AND user_id = $3),
    EXISTS (SELECT 1 FROM moderators WHERE app_instance_id = $1 AND channel_id = $2 AND user_id = $3),
    (SELECT type FROM memberships WHERE app_instance_id = $1 AND channel_id = $2 AND user_id = $3),
    EXISTS (SELECT 1 FROM bans WHERE app_instance_id = $1 AND channel_id = $2 AND user_id = $3)";

/// A user's roles in a channel (`ROLE_COLUMNS`), built once.
static ROLES: LazyLock<String> = LazyLock::new(|| format!("SELECT {ROLE_COLUMNS}"));

/// Whether the user exists (`$4`: the user's AppInstance), `ROLE_COLUMNS` and the channel's
/// `CHANNEL_COLUMNS` (NULL without the channel), built once.
static CHANNEL_ACCESS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT EXISTS (SELECT 1 FROM users WHERE app_instance_id = $4 AND user_id = $3),
            {ROLE_COLUMNS}, {CHANNEL_COLUMNS}
         FROM (SELECT 1) AS one
         LEFT JOIN ({CHANNEL_FROM}) ON c.app_instance_id = $1 AND c.channel_id = $2"
    )
});

/// Inserts the channel's first members, in order, with the checks `create_membership` makes
/// (a new channel has no bans to check), and returns them as stored.
async fn add_members(
    tx: &Transaction<'_>,
    new: &NewChannel,
    limits: MembershipLimits,
) -> StoreResult<Vec<Membership>> {
    let ch = &new.channel;
    let key = &ch.key;
    let creator = &ch.created_by.key;
    let mut ids: Vec<&str> = new.members.iter().map(|m| m.user_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    let names = lock_users(tx, &key.app_instance_id, &ids).await?;
    let channels_of: HashMap<String, i64> = rows(
        tx,
        "SELECT user_id, COUNT(*) FROM memberships WHERE app_instance_id = $1 AND user_id = ANY($2)
             GROUP BY user_id",
        &[&key.app_instance_id, &ids],
    )
    .await?
    .iter()
    .map(|r| Ok((col(r, 0)?, col(r, 1)?)))
    .collect::<StoreResult<_>>()?;
    let inviter_name = match names.get(&creator.user_id) {
        Some(n) => Some(n.clone()),
        None => user_name(tx, creator).await?,
    };
    let mut added: Vec<Membership> = Vec::with_capacity(new.members.len());
    let mut seen = HashSet::new();
    for user in &new.members {
        let Some(name) = names.get(&user.user_id) else {
            return Err(StoreError::NoUser(user.user_id.clone()));
        };
        if !seen.insert(&user.user_id) {
            return Err(StoreError::AlreadyMember {
                user: user.user_id.clone(),
                channel: key.channel_id.clone(),
            });
        }
        if added.len() as u64 >= limits.per_channel {
            return Err(StoreError::Limit(Limit::ChannelMembers {
                channel: key.channel_id.clone(),
                max: limits.per_channel,
            }));
        }
        let theirs = channels_of.get(&user.user_id).copied().unwrap_or(0).max(0) as u64;
        if theirs >= limits.per_user {
            return Err(StoreError::Limit(Limit::UserChannels {
                user: user.user_id.clone(),
                max: limits.per_user,
            }));
        }
        added.push(Membership {
            channel: key.clone(),
            member: UserRef {
                key: user.clone(),
                name: Some(name.clone()),
            },
            invited_by: UserRef {
                key: creator.clone(),
                name: inviter_name.clone(),
            },
            kind: MembershipType::Default,
            created: ch.created,
            updated: ch.created,
            read_marker: None,
        });
    }
    let members: Vec<&str> = new.members.iter().map(|m| m.user_id.as_str()).collect();
    exec(
        tx,
        "INSERT INTO memberships (app_instance_id, channel_id, user_id, type, invited_by, created_ms, updated_ms)
         SELECT $1, $2, u, $3, $4, $5, $5 FROM UNNEST($6::text[]) WITH ORDINALITY AS m(u, i) ORDER BY i",
        &[
            &key.app_instance_id,
            &key.channel_id,
            &MembershipType::Default.as_str(),
            &creator.user_id,
            &ch.created.0,
            &members,
        ],
    )
    .await?;
    Ok(added)
}

/// A user's current name, if the user exists.
async fn user_name(tx: &Transaction<'_>, user: &UserKey) -> StoreResult<Option<String>> {
    let row = row(
        tx,
        "SELECT name FROM users WHERE app_instance_id = $1 AND user_id = $2",
        &[&user.app_instance_id, &user.user_id],
    )
    .await?;
    row.as_ref().map(|r| col(r, 0)).transpose()
}

#[async_trait]
impl ChannelStore for PgStore {
    async fn create_channel(
        &self,
        new: NewChannel,
        idem: Idempotency,
        max: u64,
        limits: MembershipLimits,
    ) -> StoreResult<Created> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(db)?;
        let ch = &new.channel;
        let key = &ch.key;
        lock_token(&tx, &idem).await?;
        if let Some(done) = replay(&tx, &idem).await? {
            let made = ChannelKey {
                app_instance_id: key.app_instance_id.clone(),
                channel_id: done.id.clone(),
            };
            // A token whose resource was deleted since is free again.
            if get_channel(&tx, &made).await?.is_some() {
                return Ok(done);
            }
            forget(&tx, &idem).await?;
        }
        if !lock_app_instance(&tx, &key.app_instance_id).await? {
            return Err(StoreError::NoAppInstance(key.app_instance_id.clone()));
        }
        let exists = || StoreError::ChannelExists(key.channel_id.clone());
        if get_channel(&tx, key).await?.is_some() {
            return Err(exists());
        }
        if count(
            &tx,
            "SELECT COUNT(*) FROM channels WHERE app_instance_id = $1",
            &[&key.app_instance_id],
        )
        .await?
            >= max
        {
            return Err(StoreError::Limit(Limit::Channels(max)));
        }
        // Prepared through the cache by hand: the driver error must stay to tell a duplicate.
        let insert = tx
            .prepare_cached(
                "INSERT INTO channels (app_instance_id, channel_id, name, mode, privacy, metadata, created_by,
                created_ms, updated_ms, expiration_days, expiration_criterion, event_seq)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            )
            .await
            .map_err(db)?;
        tx.execute(
            &insert,
            &[
                &key.app_instance_id,
                &key.channel_id,
                &ch.name,
                &ch.mode.as_str(),
                &ch.privacy.as_str(),
                &ch.metadata,
                &ch.created_by.key.user_id,
                &ch.created.0,
                &ch.updated.0,
                &ch.expiration.map(|e| e.days),
                &ch.expiration.map(|e| e.criterion.as_str()),
                // One MembershipCreated event per member, numbered 1..=n in order.
                &(new.members.len() as i64),
            ],
        )
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                exists()
            } else {
                db(e)
            }
        })?;
        let moderators: Vec<&str> = new.moderators.iter().map(|m| m.user_id.as_str()).collect();
        exec(
            &tx,
            "INSERT INTO moderators (app_instance_id, channel_id, user_id, created_by, created_ms)
             SELECT $1, $2, u, $3, $4 FROM UNNEST($5::text[]) WITH ORDINALITY AS m(u, i) ORDER BY i",
            &[
                &key.app_instance_id,
                &key.channel_id,
                &ch.created_by.key.user_id,
                &ch.created.0,
                &moderators,
            ],
        )
        .await?;
        // Members added at creation count against the membership quotas like any other.
        let members = add_members(&tx, &new, limits).await?;
        tags::put(&tx, &tag_target(key), &new.tags).await?;
        remember(&tx, &idem, &key.channel_id, ch.created.0).await?;
        for (seq, m) in (1..).zip(members) {
            self.enqueue(&tx, &Published::at(seq, DomainEvent::MembershipCreated(m)))
                .await?;
        }
        tx.commit().await.map_err(db)?;
        Ok(Created {
            id: key.channel_id.clone(),
            replayed: false,
        })
    }

    async fn get_channel(&self, key: &ChannelKey) -> StoreResult<Option<Channel>> {
        let conn = self.conn().await?;
        Ok(get_channel(&conn, key).await?.map(|s| s.value))
    }

    async fn update_channel(
        &self,
        key: &ChannelKey,
        u: ChannelUpdate,
        now: Timestamp,
    ) -> StoreResult<(Channel, u64)> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(db)?;
        let row = row(
            &tx,
            "UPDATE channels SET name = COALESCE($3, name), mode = COALESCE($4, mode),
                    metadata = COALESCE($5, metadata), updated_ms = $6, event_seq = event_seq + 1
                 WHERE app_instance_id = $1 AND channel_id = $2 RETURNING event_seq",
            &[
                &key.app_instance_id,
                &key.channel_id,
                &u.name,
                &u.mode.map(|m| m.as_str()),
                &u.metadata,
                &now.0,
            ],
        )
        .await?;
        let seq = match row {
            Some(r) => col::<i64>(&r, 0)?.max(0) as u64,
            None => return Err(missing(key)),
        };
        let channel = get_channel(&tx, key)
            .await?
            .ok_or_else(|| missing(key))?
            .value;
        self.enqueue(
            &tx,
            &Published::at(seq, DomainEvent::ChannelUpdated(channel.clone())),
        )
        .await?;
        tx.commit().await.map_err(db)?;
        Ok((channel, seq))
    }

    async fn delete_channel(&self, key: &ChannelKey) -> StoreResult<(Channel, u64)> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(db)?;
        // Taking the number locks the row first, so the channel read next is the one deleted.
        let seq = next_event_seq(&tx, key).await?;
        let channel = get_channel(&tx, key)
            .await?
            .ok_or_else(|| missing(key))?
            .value;
        // Foreign keys cascade to memberships, moderators, bans and messages.
        exec(
            &tx,
            "DELETE FROM channels WHERE app_instance_id = $1 AND channel_id = $2",
            &[&key.app_instance_id, &key.channel_id],
        )
        .await?;
        tags::delete_all(&tx, &tag_target(key)).await?;
        self.enqueue(
            &tx,
            &Published::at(seq, DomainEvent::ChannelDeleted(channel.clone())),
        )
        .await?;
        tx.commit().await.map_err(db)?;
        Ok((channel, seq))
    }

    async fn list_channels(
        &self,
        app_instance_id: &str,
        privacy: ChannelPrivacy,
        after: Option<i64>,
        limit: usize,
    ) -> StoreResult<Vec<Seq<Channel>>> {
        let conn = self.conn().await?;
        let rows = rows(
            &conn,
            &format!(
                "SELECT {CHANNEL_COLUMNS} FROM {CHANNEL_FROM}
                     WHERE c.app_instance_id = $1 AND c.privacy = $2 AND c.seq > $3 ORDER BY c.seq LIMIT $4"
            ),
            &[
                    &app_instance_id,
                    &privacy.as_str(),
                    &after.unwrap_or(0),
                    &(limit as i64),
                ],
        )
        .await?;
        rows.iter().map(channel_from_row).collect()
    }

    async fn roles(&self, ch: &ChannelKey, user: &UserKey) -> StoreResult<Roles> {
        if ch.app_instance_id != user.app_instance_id {
            return Ok(Roles::default());
        }
        let conn = self.conn().await?;
        let row = one(
            &conn,
            &ROLES,
            &[&ch.app_instance_id, &ch.channel_id, &user.user_id],
        )
        .await?;
        roles_at(&row, 0)
    }

    async fn channel_access(&self, ch: &ChannelKey, user: &UserKey) -> StoreResult<ChannelView> {
        let conn = self.conn().await?;
        // One statement, so one snapshot: the user, the channel and the roles agree.
        let row = one(
            &conn,
            &CHANNEL_ACCESS,
            &[
                &ch.app_instance_id,
                &ch.channel_id,
                &user.user_id,
                &user.app_instance_id,
            ],
        )
        .await?;
        Ok(ChannelView {
            user_exists: col(&row, 0)?,
            // Roles exist only within the user's own AppInstance.
            roles: if ch.app_instance_id == user.app_instance_id {
                roles_at(&row, 1)?
            } else {
                Roles::default()
            },
            channel: channel_at(&row, 5)?.map(|s| s.value),
        })
    }
}
