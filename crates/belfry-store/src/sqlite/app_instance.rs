//! AppInstances and AppInstanceAdmins in SQLite.

use super::SqliteStore;
use async_trait::async_trait;
use belfry_core::arn::UserKey;
use belfry_core::model::{AppInstance, AppInstanceAdmin, Created, Idempotency, Tag, UserRef};
use belfry_core::store::AppInstanceStore;
use belfry_core::store::Limit;
use belfry_core::store::Seq;
use belfry_core::store::{StoreError, StoreResult};
use belfry_core::time::Timestamp;
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::{count, db, forget, remember, replay, tags};

const COLUMNS: &str = "seq, id, name, metadata, created_ms, updated_ms";

fn from_row(r: &Row) -> rusqlite::Result<Seq<AppInstance>> {
    Ok(Seq {
        seq: r.get(0)?,
        value: AppInstance {
            id: r.get(1)?,
            name: r.get(2)?,
            metadata: r.get(3)?,
            created: Timestamp(r.get(4)?),
            updated: Timestamp(r.get(5)?),
        },
    })
}

pub(crate) fn create(
    c: &Connection,
    app: AppInstance,
    tag_list: Vec<Tag>,
    idem: Idempotency,
    max: u64,
) -> StoreResult<Created> {
    if let Some(done) = replay(c, &idem)? {
        // A token whose resource was deleted since is free again.
        if get(c, &done.id)?.is_some() {
            return Ok(done);
        }
        forget(c, &idem)?;
    }
    if count(c, "SELECT COUNT(*) FROM app_instances", [])? >= max {
        return Err(StoreError::Limit(Limit::AppInstances(max)));
    }
    c.execute(
        "INSERT INTO app_instances (id, name, metadata, created_ms, updated_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![app.id, app.name, app.metadata, app.created.0, app.updated.0],
    )
    .map_err(db)?;
    let target = belfry_core::model::TagTarget {
        app_instance_id: app.id.clone(),
        kind: belfry_core::model::TagKind::AppInstance,
        id: app.id.clone(),
    };
    tags::put(c, &target, &tag_list)?;
    remember(c, &idem, &app.id, app.created.0)?;
    Ok(Created {
        id: app.id,
        replayed: false,
    })
}

pub(crate) fn get(c: &Connection, id: &str) -> StoreResult<Option<AppInstance>> {
    c.query_row(
        &format!("SELECT {COLUMNS} FROM app_instances WHERE id = ?1"),
        [id],
        from_row,
    )
    .optional()
    .map_err(db)
    .map(|r| r.map(|s| s.value))
}

pub(crate) fn list(
    c: &Connection,
    after: Option<i64>,
    limit: usize,
) -> StoreResult<Vec<Seq<AppInstance>>> {
    let mut stmt = c
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM app_instances WHERE seq > ?1 ORDER BY seq LIMIT ?2"
        ))
        .map_err(db)?;
    let rows = stmt
        .query_map(params![after.unwrap_or(0), limit as i64], from_row)
        .map_err(db)?;
    rows.collect::<Result<_, _>>().map_err(db)
}

pub(crate) fn update(
    c: &Connection,
    id: &str,
    name: &str,
    metadata: &str,
    now: Timestamp,
) -> StoreResult<()> {
    let n = c
        .execute(
            "UPDATE app_instances SET name = ?2, metadata = ?3, updated_ms = ?4 WHERE id = ?1",
            params![id, name, metadata, now.0],
        )
        .map_err(db)?;
    if n == 0 {
        return Err(StoreError::NoAppInstance(id.to_string()));
    }
    Ok(())
}

pub(crate) fn delete(c: &Connection, id: &str) -> StoreResult<()> {
    // Foreign keys cascade to users, admins, channels, roles, memberships and tags.
    let n = c
        .execute("DELETE FROM app_instances WHERE id = ?1", [id])
        .map_err(db)?;
    if n == 0 {
        return Err(StoreError::NoAppInstance(id.to_string()));
    }
    Ok(())
}

const ADMIN_QUERY: &str = "SELECT a.seq, a.app_instance_id, a.user_id, u.name, a.created_ms
    FROM admins a LEFT JOIN users u ON u.app_instance_id = a.app_instance_id AND u.user_id = a.user_id";

fn admin_row(r: &Row) -> rusqlite::Result<Seq<AppInstanceAdmin>> {
    Ok(Seq {
        seq: r.get(0)?,
        value: AppInstanceAdmin {
            admin: UserRef {
                key: UserKey {
                    app_instance_id: r.get(1)?,
                    user_id: r.get(2)?,
                },
                name: r.get(3)?,
            },
            created: Timestamp(r.get(4)?),
        },
    })
}

pub(crate) fn create_admin(
    c: &Connection,
    key: &UserKey,
    now: Timestamp,
    max: u64,
) -> StoreResult<AppInstanceAdmin> {
    let Some(user) = super::user::get(c, key)? else {
        return Err(StoreError::NoUser(key.user_id.clone()));
    };
    if get_admin(c, key)?.is_some() {
        return Err(StoreError::AlreadyAdmin(key.user_id.clone()));
    }
    if count(
        c,
        "SELECT COUNT(*) FROM admins WHERE app_instance_id = ?1",
        [&key.app_instance_id],
    )? >= max
    {
        return Err(StoreError::Limit(Limit::Admins(max)));
    }
    c.execute(
        "INSERT INTO admins (app_instance_id, user_id, created_ms) VALUES (?1, ?2, ?3)",
        params![key.app_instance_id, key.user_id, now.0],
    )
    .map_err(db)?;
    Ok(AppInstanceAdmin {
        admin: UserRef {
            key: user.key,
            name: Some(user.name),
        },
        created: now,
    })
}

pub(crate) fn get_admin(c: &Connection, key: &UserKey) -> StoreResult<Option<AppInstanceAdmin>> {
    c.query_row(
        &format!("{ADMIN_QUERY} WHERE a.app_instance_id = ?1 AND a.user_id = ?2"),
        params![key.app_instance_id, key.user_id],
        admin_row,
    )
    .optional()
    .map_err(db)
    .map(|r| r.map(|s| s.value))
}

pub(crate) fn list_admins(
    c: &Connection,
    app_instance_id: &str,
    after: Option<i64>,
    limit: usize,
) -> StoreResult<Vec<Seq<AppInstanceAdmin>>> {
    let mut stmt = c
        .prepare_cached(&format!(
            "{ADMIN_QUERY} WHERE a.app_instance_id = ?1 AND a.seq > ?2 ORDER BY a.seq LIMIT ?3"
        ))
        .map_err(db)?;
    let rows = stmt
        .query_map(
            params![app_instance_id, after.unwrap_or(0), limit as i64],
            admin_row,
        )
        .map_err(db)?;
    rows.collect::<Result<_, _>>().map_err(db)
}

pub(crate) fn delete_admin(c: &Connection, key: &UserKey) -> StoreResult<()> {
    let n = c
        .execute(
            "DELETE FROM admins WHERE app_instance_id = ?1 AND user_id = ?2",
            params![key.app_instance_id, key.user_id],
        )
        .map_err(db)?;
    if n == 0 {
        return Err(StoreError::NotAdmin(key.user_id.clone()));
    }
    Ok(())
}

pub(crate) fn is_admin(c: &Connection, key: &UserKey) -> StoreResult<bool> {
    Ok(count(
        c,
        "SELECT COUNT(*) FROM admins WHERE app_instance_id = ?1 AND user_id = ?2",
        params![key.app_instance_id, key.user_id],
    )? > 0)
}

#[async_trait]
impl AppInstanceStore for SqliteStore {
    async fn create_app_instance(
        &self,
        app: AppInstance,
        tags: Vec<Tag>,
        idem: Idempotency,
        max: u64,
    ) -> StoreResult<Created> {
        self.write(move |c| create(c, app, tags, idem, max)).await
    }
    async fn get_app_instance(&self, id: &str) -> StoreResult<Option<AppInstance>> {
        let id = id.to_string();
        self.read(move |c| get(c, &id)).await
    }
    async fn list_app_instances(
        &self,
        after: Option<i64>,
        limit: usize,
    ) -> StoreResult<Vec<Seq<AppInstance>>> {
        self.read(move |c| list(c, after, limit)).await
    }
    async fn update_app_instance(
        &self,
        id: &str,
        name: String,
        metadata: String,
        now: Timestamp,
    ) -> StoreResult<()> {
        let id = id.to_string();
        self.write(move |c| update(c, &id, &name, &metadata, now))
            .await
    }
    async fn delete_app_instance(&self, id: &str) -> StoreResult<()> {
        let id = id.to_string();
        self.write(move |c| delete(c, &id)).await
    }
    async fn create_admin(
        &self,
        key: &UserKey,
        now: Timestamp,
        max: u64,
    ) -> StoreResult<AppInstanceAdmin> {
        let key = key.clone();
        self.write(move |c| create_admin(c, &key, now, max)).await
    }
    async fn get_admin(&self, key: &UserKey) -> StoreResult<Option<AppInstanceAdmin>> {
        let key = key.clone();
        self.read(move |c| get_admin(c, &key)).await
    }
    async fn list_admins(
        &self,
        app: &str,
        after: Option<i64>,
        limit: usize,
    ) -> StoreResult<Vec<Seq<AppInstanceAdmin>>> {
        let app = app.to_string();
        self.read(move |c| list_admins(c, &app, after, limit)).await
    }
    async fn delete_admin(&self, key: &UserKey) -> StoreResult<()> {
        let key = key.clone();
        self.write(move |c| delete_admin(c, &key)).await
    }
    async fn is_admin(&self, key: &UserKey) -> StoreResult<bool> {
        let key = key.clone();
        self.read(move |c| is_admin(c, &key)).await
    }
}
