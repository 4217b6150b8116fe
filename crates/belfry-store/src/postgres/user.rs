//! AppInstanceUsers on PostgreSQL. Creates in one AppInstance serialize on its row (see
//! `app_instance::lock_app_instance`), so the quota and the duplicate check see every user
//! committed before them; the unique key stays the last word on a duplicate.

use std::sync::LazyLock;

use async_trait::async_trait;
use belfry_core::arn::UserKey;
use belfry_core::events::{DomainEvent, Published};
use belfry_core::model::{AppInstanceUser, Created, Idempotency, Tag, TagKind, TagTarget};
use belfry_core::store::{Limit, Seq, StoreError, StoreResult, UserStore};
use belfry_core::time::Timestamp;
use deadpool_postgres::GenericClient;

use super::app_instance::lock_app_instance;
use super::rows::{exec, lock_token, row, rows, user_from_row, USER_COLUMNS};
use super::{count, db, forget, is_unique_violation, remember, replay, tags, PgStore};

static GET: LazyLock<String> = LazyLock::new(|| {
    format!("SELECT {USER_COLUMNS} FROM users WHERE app_instance_id = $1 AND user_id = $2")
});

/// One user, as `c` sees it now.
pub(crate) async fn get<C: GenericClient + Sync>(
    c: &C,
    key: &UserKey,
) -> StoreResult<Option<AppInstanceUser>> {
    let found = row(c, &GET, &[&key.app_instance_id, &key.user_id]).await?;
    Ok(found
        .as_ref()
        .map(user_from_row)
        .transpose()?
        .map(|s| s.value))
}

fn tag_target(key: &UserKey) -> TagTarget {
    TagTarget {
        app_instance_id: key.app_instance_id.clone(),
        kind: TagKind::User,
        id: key.user_id.clone(),
    }
}

#[async_trait]
impl UserStore for PgStore {
    async fn create_user(
        &self,
        user: AppInstanceUser,
        tag_list: Vec<Tag>,
        idem: Idempotency,
        max: u64,
    ) -> StoreResult<Created> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(db)?;
        let key = &user.key;
        lock_token(&tx, &idem).await?;
        if let Some(done) = replay(&tx, &idem).await? {
            let made = UserKey {
                app_instance_id: key.app_instance_id.clone(),
                user_id: done.id.clone(),
            };
            // A token whose resource was deleted since is free again.
            if get(&tx, &made).await?.is_some() {
                return Ok(done);
            }
            forget(&tx, &idem).await?;
        }
        if !lock_app_instance(&tx, &key.app_instance_id).await? {
            return Err(StoreError::NoAppInstance(key.app_instance_id.clone()));
        }
        let exists = || StoreError::UserExists(key.user_id.clone());
        if get(&tx, key).await?.is_some() {
            return Err(exists());
        }
        if count(
            &tx,
            "SELECT COUNT(*) FROM users WHERE app_instance_id = $1",
            &[&key.app_instance_id],
        )
        .await?
            >= max
        {
            return Err(StoreError::Limit(Limit::Users(max)));
        }
        // Prepared through the cache by hand: the driver error must stay to tell a duplicate.
        let insert = tx
            .prepare_cached(
                "INSERT INTO users (app_instance_id, user_id, name, metadata, created_ms, updated_ms, expiration_days, expiration_criterion)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .await
            .map_err(db)?;
        tx.execute(
            &insert,
            &[
                &key.app_instance_id,
                &key.user_id,
                &user.name,
                &user.metadata,
                &user.created.0,
                &user.updated.0,
                &user.expiration.map(|e| e.days),
                &user.expiration.map(|e| e.criterion.as_str()),
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
        tags::put(&tx, &tag_target(key), &tag_list).await?;
        remember(&tx, &idem, &key.user_id, user.created.0).await?;
        tx.commit().await.map_err(db)?;
        Ok(Created {
            id: user.key.user_id,
            replayed: false,
        })
    }

    async fn get_user(&self, key: &UserKey) -> StoreResult<Option<AppInstanceUser>> {
        let conn = self.conn().await?;
        get(&conn, key).await
    }

    async fn list_users(
        &self,
        app_instance_id: &str,
        after: Option<i64>,
        limit: usize,
    ) -> StoreResult<Vec<Seq<AppInstanceUser>>> {
        let conn = self.conn().await?;
        let rows = rows(
            &conn,
            &format!(
                "SELECT {USER_COLUMNS} FROM users WHERE app_instance_id = $1 AND seq > $2 ORDER BY seq LIMIT $3"
            ),
            &[&app_instance_id, &after.unwrap_or(0), &(limit as i64)],
        )
        .await?;
        rows.iter().map(user_from_row).collect()
    }

    async fn update_user(
        &self,
        key: &UserKey,
        name: String,
        metadata: String,
        now: Timestamp,
    ) -> StoreResult<()> {
        let conn = self.conn().await?;
        let n = exec(
            &conn,
            "UPDATE users SET name = $3, metadata = $4, updated_ms = $5 WHERE app_instance_id = $1 AND user_id = $2",
            &[&key.app_instance_id, &key.user_id, &name, &metadata, &now.0],
        )
        .await?;
        if n == 0 {
            return Err(StoreError::NoUser(key.user_id.clone()));
        }
        Ok(())
    }

    async fn delete_user(&self, key: &UserKey) -> StoreResult<()> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(db)?;
        // Foreign keys cascade to the admin role, memberships, moderator roles and bans.
        let n = exec(
            &tx,
            "DELETE FROM users WHERE app_instance_id = $1 AND user_id = $2",
            &[&key.app_instance_id, &key.user_id],
        )
        .await?;
        if n == 0 {
            return Err(StoreError::NoUser(key.user_id.clone()));
        }
        tags::delete_all(&tx, &tag_target(key)).await?;
        self.enqueue(
            &tx,
            &Published::unordered(DomainEvent::UserDeleted(key.clone())),
        )
        .await?;
        tx.commit().await.map_err(db)
    }
}
