//! AppInstanceUsers in SQLite.

use super::SqliteStore;
use crate::codec::expiration;
use async_trait::async_trait;
use belfry_core::arn::UserKey;
use belfry_core::model::{AppInstanceUser, Created, Idempotency, Tag, TagKind, TagTarget};
use belfry_core::store::Limit;
use belfry_core::store::Seq;
use belfry_core::store::UserStore;
use belfry_core::store::{StoreError, StoreResult};
use belfry_core::time::Timestamp;
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::{count, db, forget, remember, replay, tags};

const COLUMNS: &str = "seq, app_instance_id, user_id, name, metadata, created_ms, updated_ms, expiration_days, expiration_criterion";

fn from_row(r: &Row) -> rusqlite::Result<Seq<AppInstanceUser>> {
    Ok(Seq {
        seq: r.get(0)?,
        value: AppInstanceUser {
            key: UserKey {
                app_instance_id: r.get(1)?,
                user_id: r.get(2)?,
            },
            name: r.get(3)?,
            metadata: r.get(4)?,
            created: Timestamp(r.get(5)?),
            updated: Timestamp(r.get(6)?),
            expiration: expiration(r.get(7)?, r.get(8)?),
        },
    })
}

pub(crate) fn create(
    c: &Connection,
    user: AppInstanceUser,
    tag_list: Vec<Tag>,
    idem: Idempotency,
    max: u64,
) -> StoreResult<Created> {
    if let Some(done) = replay(c, &idem)? {
        // A token whose resource was deleted since is free again.
        if get(
            c,
            &UserKey {
                app_instance_id: user.key.app_instance_id.clone(),
                user_id: done.id.clone(),
            },
        )?
        .is_some()
        {
            return Ok(done);
        }
        forget(c, &idem)?;
    }
    let key = &user.key;
    if super::app_instance::get(c, &key.app_instance_id)?.is_none() {
        return Err(StoreError::NoAppInstance(key.app_instance_id.clone()));
    }
    if get(c, key)?.is_some() {
        return Err(StoreError::UserExists(key.user_id.clone()));
    }
    if count(
        c,
        "SELECT COUNT(*) FROM users WHERE app_instance_id = ?1",
        [&key.app_instance_id],
    )? >= max
    {
        return Err(StoreError::Limit(Limit::Users(max)));
    }
    c.execute(
        "INSERT INTO users (app_instance_id, user_id, name, metadata, created_ms, updated_ms, expiration_days, expiration_criterion)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            key.app_instance_id,
            key.user_id,
            user.name,
            user.metadata,
            user.created.0,
            user.updated.0,
            user.expiration.map(|e| e.days),
            user.expiration.map(|e| e.criterion.as_str()),
        ],
    )
    .map_err(db)?;
    let target = TagTarget {
        app_instance_id: key.app_instance_id.clone(),
        kind: TagKind::User,
        id: key.user_id.clone(),
    };
    tags::put(c, &target, &tag_list)?;
    remember(c, &idem, &key.user_id, user.created.0)?;
    Ok(Created {
        id: user.key.user_id,
        replayed: false,
    })
}

pub(crate) fn get(c: &Connection, key: &UserKey) -> StoreResult<Option<AppInstanceUser>> {
    c.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM users WHERE app_instance_id = ?1 AND user_id = ?2"
    ))
    .map_err(db)?
    .query_row(params![key.app_instance_id, key.user_id], from_row)
    .optional()
    .map_err(db)
    .map(|r| r.map(|s| s.value))
}

pub(crate) fn list(
    c: &Connection,
    app_instance_id: &str,
    after: Option<i64>,
    limit: usize,
) -> StoreResult<Vec<Seq<AppInstanceUser>>> {
    let mut stmt = c
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM users WHERE app_instance_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3"
        ))
        .map_err(db)?;
    let rows = stmt
        .query_map(
            params![app_instance_id, after.unwrap_or(0), limit as i64],
            from_row,
        )
        .map_err(db)?;
    rows.collect::<Result<_, _>>().map_err(db)
}

pub(crate) fn update(
    c: &Connection,
    key: &UserKey,
    name: &str,
    metadata: &str,
    now: Timestamp,
) -> StoreResult<()> {
    let n = c
        .execute(
            "UPDATE users SET name = ?3, metadata = ?4, updated_ms = ?5 WHERE app_instance_id = ?1 AND user_id = ?2",
            params![key.app_instance_id, key.user_id, name, metadata, now.0],
        )
        .map_err(db)?;
    if n == 0 {
        return Err(StoreError::NoUser(key.user_id.clone()));
    }
    Ok(())
}

pub(crate) fn delete(c: &Connection, key: &UserKey) -> StoreResult<()> {
    // Foreign keys cascade to the admin role, memberships, moderator roles and bans.
    let n = c
        .execute(
            "DELETE FROM users WHERE app_instance_id = ?1 AND user_id = ?2",
            params![key.app_instance_id, key.user_id],
        )
        .map_err(db)?;
    if n == 0 {
        return Err(StoreError::NoUser(key.user_id.clone()));
    }
    tags::delete_all(
        c,
        &TagTarget {
            app_instance_id: key.app_instance_id.clone(),
            kind: TagKind::User,
            id: key.user_id.clone(),
        },
    )
}

#[async_trait]
impl UserStore for SqliteStore {
    async fn create_user(
        &self,
        u: AppInstanceUser,
        tags: Vec<Tag>,
        idem: Idempotency,
        max: u64,
    ) -> StoreResult<Created> {
        self.write(move |c| create(c, u, tags, idem, max)).await
    }
    async fn get_user(&self, key: &UserKey) -> StoreResult<Option<AppInstanceUser>> {
        let key = key.clone();
        self.read(move |c| get(c, &key)).await
    }
    async fn list_users(
        &self,
        app: &str,
        after: Option<i64>,
        limit: usize,
    ) -> StoreResult<Vec<Seq<AppInstanceUser>>> {
        let app = app.to_string();
        self.read(move |c| list(c, &app, after, limit)).await
    }
    async fn update_user(
        &self,
        key: &UserKey,
        name: String,
        metadata: String,
        now: Timestamp,
    ) -> StoreResult<()> {
        let key = key.clone();
        self.write(move |c| update(c, &key, &name, &metadata, now))
            .await
    }
    async fn delete_user(&self, key: &UserKey) -> StoreResult<()> {
        let key = key.clone();
        self.write(move |c| delete(c, &key)).await
    }
}
