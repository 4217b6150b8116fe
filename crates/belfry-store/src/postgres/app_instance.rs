//! AppInstances and AppInstanceAdmins on PostgreSQL.
//!
//! Quotas hold across nodes because each is counted under a lock every competing create
//! takes first: the AppInstance quota under a store-wide advisory lock, the admin quota under
//! the AppInstance row (`FOR NO KEY UPDATE`, which the foreign-key checks of other inserts
//! do not wait for).

use async_trait::async_trait;
use belfry_core::arn::UserKey;
use belfry_core::events::{DomainEvent, Published};
use belfry_core::model::{
    AppInstance, AppInstanceAdmin, Created, Idempotency, Tag, TagKind, TagTarget, UserRef,
};
use belfry_core::store::{AppInstanceStore, Limit, Seq, StoreError, StoreResult};
use belfry_core::time::Timestamp;
use deadpool_postgres::GenericClient;
use deadpool_postgres::Transaction;
use tokio_postgres::Row;

use super::rows::{advisory_lock, col, exec, lock, lock_token, one, row, rows};
use super::{count, db, forget, remember, replay, tags, PgStore};

const COLUMNS: &str = "seq, id, name, metadata, created_ms, updated_ms";

fn from_row(r: &Row) -> StoreResult<Seq<AppInstance>> {
    Ok(Seq {
        seq: col(r, 0)?,
        value: AppInstance {
            id: col(r, 1)?,
            name: col(r, 2)?,
            metadata: col(r, 3)?,
            created: Timestamp(col(r, 4)?),
            updated: Timestamp(col(r, 5)?),
        },
    })
}

async fn get<C: GenericClient + Sync>(c: &C, id: &str) -> StoreResult<Option<AppInstance>> {
    let row = row(
        c,
        &format!("SELECT {COLUMNS} FROM app_instances WHERE id = $1"),
        &[&id],
    )
    .await?;
    Ok(row.as_ref().map(from_row).transpose()?.map(|s| s.value))
}

/// Locks the AppInstance row against other creates counting its children (users, channels,
/// admins) until the transaction ends. Missing: `false`.
pub(crate) async fn lock_app_instance(tx: &Transaction<'_>, id: &str) -> StoreResult<bool> {
    let row = row(
        tx,
        "SELECT 1 FROM app_instances WHERE id = $1 FOR NO KEY UPDATE",
        &[&id],
    )
    .await?;
    Ok(row.is_some())
}

const ADMIN_QUERY: &str = "SELECT a.seq, a.app_instance_id, a.user_id, u.name, a.created_ms
    FROM admins a LEFT JOIN users u ON u.app_instance_id = a.app_instance_id AND u.user_id = a.user_id";

fn admin_row(r: &Row) -> StoreResult<Seq<AppInstanceAdmin>> {
    Ok(Seq {
        seq: col(r, 0)?,
        value: AppInstanceAdmin {
            admin: UserRef {
                key: UserKey {
                    app_instance_id: col(r, 1)?,
                    user_id: col(r, 2)?,
                },
                name: col(r, 3)?,
            },
            created: Timestamp(col(r, 4)?),
        },
    })
}

async fn get_admin<C: GenericClient + Sync>(
    c: &C,
    key: &UserKey,
) -> StoreResult<Option<AppInstanceAdmin>> {
    let row = row(
        c,
        &format!("{ADMIN_QUERY} WHERE a.app_instance_id = $1 AND a.user_id = $2"),
        &[&key.app_instance_id, &key.user_id],
    )
    .await?;
    Ok(row.as_ref().map(admin_row).transpose()?.map(|s| s.value))
}

#[async_trait]
impl AppInstanceStore for PgStore {
    async fn create_app_instance(
        &self,
        app: AppInstance,
        tag_list: Vec<Tag>,
        idem: Idempotency,
        max: u64,
    ) -> StoreResult<Created> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(db)?;
        lock_token(&tx, &idem).await?;
        if let Some(done) = replay(&tx, &idem).await? {
            // A token whose resource was deleted since is free again.
            if get(&tx, &done.id).await?.is_some() {
                return Ok(done);
            }
            forget(&tx, &idem).await?;
        }
        advisory_lock(&tx, lock::APP_INSTANCES, "").await?;
        if count(&tx, "SELECT COUNT(*) FROM app_instances", &[]).await? >= max {
            return Err(StoreError::Limit(Limit::AppInstances(max)));
        }
        exec(
            &tx,
            "INSERT INTO app_instances (id, name, metadata, created_ms, updated_ms) VALUES ($1, $2, $3, $4, $5)",
            &[&app.id, &app.name, &app.metadata, &app.created.0, &app.updated.0],
        )
        .await?;
        let target = TagTarget {
            app_instance_id: app.id.clone(),
            kind: TagKind::AppInstance,
            id: app.id.clone(),
        };
        tags::put(&tx, &target, &tag_list).await?;
        remember(&tx, &idem, &app.id, app.created.0).await?;
        tx.commit().await.map_err(db)?;
        Ok(Created {
            id: app.id,
            replayed: false,
        })
    }

    async fn get_app_instance(&self, id: &str) -> StoreResult<Option<AppInstance>> {
        let conn = self.conn().await?;
        get(&conn, id).await
    }

    async fn list_app_instances(
        &self,
        after: Option<i64>,
        limit: usize,
    ) -> StoreResult<Vec<Seq<AppInstance>>> {
        let conn = self.conn().await?;
        let rows = rows(
            &conn,
            &format!("SELECT {COLUMNS} FROM app_instances WHERE seq > $1 ORDER BY seq LIMIT $2"),
            &[&after.unwrap_or(0), &(limit as i64)],
        )
        .await?;
        rows.iter().map(from_row).collect()
    }

    async fn update_app_instance(
        &self,
        id: &str,
        name: String,
        metadata: String,
        now: Timestamp,
    ) -> StoreResult<()> {
        let conn = self.conn().await?;
        let n = exec(
            &conn,
            "UPDATE app_instances SET name = $2, metadata = $3, updated_ms = $4 WHERE id = $1",
            &[&id, &name, &metadata, &now.0],
        )
        .await?;
        if n == 0 {
            return Err(StoreError::NoAppInstance(id.to_string()));
        }
        Ok(())
    }

    async fn delete_app_instance(&self, id: &str) -> StoreResult<()> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(db)?;
        // Foreign keys cascade to users, admins, channels, roles, memberships, messages and
        // tags.
        let n = exec(&tx, "DELETE FROM app_instances WHERE id = $1", &[&id]).await?;
        if n == 0 {
            return Err(StoreError::NoAppInstance(id.to_string()));
        }
        let event = Published::unordered(DomainEvent::AppInstanceDeleted {
            app_instance_id: id.to_string(),
        });
        self.enqueue(&tx, &event).await?;
        tx.commit().await.map_err(db)
    }

    async fn create_admin(
        &self,
        key: &UserKey,
        now: Timestamp,
        max: u64,
    ) -> StoreResult<AppInstanceAdmin> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(db)?;
        let no_user = || StoreError::NoUser(key.user_id.clone());
        if !lock_app_instance(&tx, &key.app_instance_id).await? {
            return Err(no_user());
        }
        // KEY SHARE keeps the user from being deleted before this commits.
        let user = row(
            &tx,
            "SELECT name FROM users WHERE app_instance_id = $1 AND user_id = $2 FOR KEY SHARE",
            &[&key.app_instance_id, &key.user_id],
        )
        .await?;
        let name: String = match &user {
            Some(r) => col(r, 0)?,
            None => return Err(no_user()),
        };
        if get_admin(&tx, key).await?.is_some() {
            return Err(StoreError::AlreadyAdmin(key.user_id.clone()));
        }
        if count(
            &tx,
            "SELECT COUNT(*) FROM admins WHERE app_instance_id = $1",
            &[&key.app_instance_id],
        )
        .await?
            >= max
        {
            return Err(StoreError::Limit(Limit::Admins(max)));
        }
        exec(
            &tx,
            "INSERT INTO admins (app_instance_id, user_id, created_ms) VALUES ($1, $2, $3)",
            &[&key.app_instance_id, &key.user_id, &now.0],
        )
        .await?;
        tx.commit().await.map_err(db)?;
        Ok(AppInstanceAdmin {
            admin: UserRef {
                key: key.clone(),
                name: Some(name),
            },
            created: now,
        })
    }

    async fn get_admin(&self, key: &UserKey) -> StoreResult<Option<AppInstanceAdmin>> {
        let conn = self.conn().await?;
        get_admin(&conn, key).await
    }

    async fn list_admins(
        &self,
        app_instance_id: &str,
        after: Option<i64>,
        limit: usize,
    ) -> StoreResult<Vec<Seq<AppInstanceAdmin>>> {
        let conn = self.conn().await?;
        let rows = rows(
            &conn,
            &format!(
                "{ADMIN_QUERY} WHERE a.app_instance_id = $1 AND a.seq > $2 ORDER BY a.seq LIMIT $3"
            ),
            &[&app_instance_id, &after.unwrap_or(0), &(limit as i64)],
        )
        .await?;
        rows.iter().map(admin_row).collect()
    }

    async fn delete_admin(&self, key: &UserKey) -> StoreResult<()> {
        let conn = self.conn().await?;
        let n = exec(
            &conn,
            "DELETE FROM admins WHERE app_instance_id = $1 AND user_id = $2",
            &[&key.app_instance_id, &key.user_id],
        )
        .await?;
        if n == 0 {
            return Err(StoreError::NotAdmin(key.user_id.clone()));
        }
        Ok(())
    }

    async fn is_admin(&self, key: &UserKey) -> StoreResult<bool> {
        let conn = self.conn().await?;
        let row = one(
            &conn,
            "SELECT EXISTS (SELECT 1 FROM admins WHERE app_instance_id = $1 AND user_id = $2)",
            &[&key.app_instance_id, &key.user_id],
        )
        .await?;
        col(&row, 0)
    }
}
