//! Tags on PostgreSQL. A resource's tag writes serialize on an advisory lock of their own, so
//! the quota is counted with no other write to the same tags in between.

use std::collections::BTreeMap;

use async_trait::async_trait;
use belfry_core::model::{Tag, TagTarget};
use belfry_core::store::{Limit, StoreError, StoreResult, TagStore};
use deadpool_postgres::Transaction;

use super::rows::{advisory_lock, col, exec, lock, rows};
use super::{count, db, PgStore};

/// Adds or overwrites tags (a key given twice keeps its last value, as one upsert after
/// another would).
pub(crate) async fn put(tx: &Transaction<'_>, t: &TagTarget, tags: &[Tag]) -> StoreResult<()> {
    if tags.is_empty() {
        return Ok(());
    }
    let last: BTreeMap<&str, &str> = tags
        .iter()
        .map(|t| (t.key.as_str(), t.value.as_str()))
        .collect();
    let keys: Vec<&str> = last.keys().copied().collect();
    let values: Vec<&str> = last.values().copied().collect();
    exec(
        tx,
        "INSERT INTO tags (app_instance_id, kind, resource_id, key, value)
         SELECT $1, $2, $3, k, v FROM UNNEST($4::text[], $5::text[]) AS t(k, v)
         ON CONFLICT (app_instance_id, kind, resource_id, key) DO UPDATE SET value = excluded.value",
        &[&t.app_instance_id, &t.kind.as_str(), &t.id, &keys, &values],
    )
    .await?;
    Ok(())
}

/// Holds the resource's tag lock until the transaction ends.
async fn lock_tags(tx: &Transaction<'_>, t: &TagTarget) -> StoreResult<()> {
    let name = format!("{}\n{}\n{}", t.app_instance_id, t.kind.as_str(), t.id);
    advisory_lock(tx, lock::TAGS, &name).await
}

/// Removes every tag of a deleted resource. Under the tag lock, so a tag write still in flight
/// commits first and its tags go too, instead of outliving the resource.
pub(crate) async fn delete_all(tx: &Transaction<'_>, t: &TagTarget) -> StoreResult<()> {
    lock_tags(tx, t).await?;
    exec(
        tx,
        "DELETE FROM tags WHERE app_instance_id = $1 AND kind = $2 AND resource_id = $3",
        &[&t.app_instance_id, &t.kind.as_str(), &t.id],
    )
    .await?;
    Ok(())
}

#[async_trait]
impl TagStore for PgStore {
    async fn list_tags(&self, t: &TagTarget) -> StoreResult<Vec<Tag>> {
        let conn = self.conn().await?;
        let rows = rows(
            &conn,
            "SELECT key, value FROM tags WHERE app_instance_id = $1 AND kind = $2 AND resource_id = $3 ORDER BY key",
            &[&t.app_instance_id, &t.kind.as_str(), &t.id],
        )
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Tag {
                    key: col(r, 0)?,
                    value: col(r, 1)?,
                })
            })
            .collect()
    }

    async fn tag_resource(&self, t: &TagTarget, tags: Vec<Tag>, max: usize) -> StoreResult<()> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(db)?;
        lock_tags(&tx, t).await?;
        put(&tx, t, &tags).await?;
        let n = count(
            &tx,
            "SELECT COUNT(*) FROM tags WHERE app_instance_id = $1 AND kind = $2 AND resource_id = $3",
            &[&t.app_instance_id, &t.kind.as_str(), &t.id],
        )
        .await?;
        if n > max as u64 {
            // Dropping the transaction rolls the upsert back.
            return Err(StoreError::Limit(Limit::Tags(max)));
        }
        tx.commit().await.map_err(db)
    }

    async fn untag_resource(&self, t: &TagTarget, keys: Vec<String>) -> StoreResult<()> {
        let conn = self.conn().await?;
        exec(
            &conn,
            "DELETE FROM tags WHERE app_instance_id = $1 AND kind = $2 AND resource_id = $3 AND key = ANY($4)",
            &[&t.app_instance_id, &t.kind.as_str(), &t.id, &keys],
        )
        .await?;
        Ok(())
    }
}
