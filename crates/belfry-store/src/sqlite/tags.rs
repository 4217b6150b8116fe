//! Tags in SQLite.

use super::SqliteStore;
use async_trait::async_trait;
use belfry_core::model::{Tag, TagTarget};
use belfry_core::store::Limit;
use belfry_core::store::TagStore;
use belfry_core::store::{StoreError, StoreResult};
use rusqlite::{params, Connection};

use super::{count, db};

/// Adds or overwrites tags.
pub(crate) fn put(c: &Connection, t: &TagTarget, tags: &[Tag]) -> StoreResult<()> {
    let mut stmt = c
        .prepare_cached(
            "INSERT INTO tags (app_instance_id, kind, resource_id, key, value) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (app_instance_id, kind, resource_id, key) DO UPDATE SET value = excluded.value",
        )
        .map_err(db)?;
    for tag in tags {
        stmt.execute(params![
            t.app_instance_id,
            t.kind.as_str(),
            t.id,
            tag.key,
            tag.value
        ])
        .map_err(db)?;
    }
    Ok(())
}

/// Adds tags, refusing (and, through the job's savepoint, undoing) a result over `max`.
pub(crate) fn tag(c: &Connection, t: &TagTarget, tags: &[Tag], max: usize) -> StoreResult<()> {
    put(c, t, tags)?;
    let n = count(
        c,
        "SELECT COUNT(*) FROM tags WHERE app_instance_id = ?1 AND kind = ?2 AND resource_id = ?3",
        params![t.app_instance_id, t.kind.as_str(), t.id],
    )?;
    if n > max as u64 {
        return Err(StoreError::Limit(Limit::Tags(max)));
    }
    Ok(())
}

/// Tags of a resource, by key.
pub(crate) fn list(c: &Connection, t: &TagTarget) -> StoreResult<Vec<Tag>> {
    let mut stmt = c
        .prepare_cached(
            "SELECT key, value FROM tags WHERE app_instance_id = ?1 AND kind = ?2 AND resource_id = ?3 ORDER BY key",
        )
        .map_err(db)?;
    let rows = stmt
        .query_map(params![t.app_instance_id, t.kind.as_str(), t.id], |r| {
            Ok(Tag {
                key: r.get(0)?,
                value: r.get(1)?,
            })
        })
        .map_err(db)?;
    rows.collect::<Result<_, _>>().map_err(db)
}

/// Removes the given keys.
pub(crate) fn untag(c: &Connection, t: &TagTarget, keys: &[String]) -> StoreResult<()> {
    let mut stmt = c
        .prepare_cached(
            "DELETE FROM tags WHERE app_instance_id = ?1 AND kind = ?2 AND resource_id = ?3 AND key = ?4",
        )
        .map_err(db)?;
    for k in keys {
        stmt.execute(params![t.app_instance_id, t.kind.as_str(), t.id, k])
            .map_err(db)?;
    }
    Ok(())
}

/// Removes every tag of a deleted resource.
pub(crate) fn delete_all(c: &Connection, t: &TagTarget) -> StoreResult<()> {
    c.execute(
        "DELETE FROM tags WHERE app_instance_id = ?1 AND kind = ?2 AND resource_id = ?3",
        params![t.app_instance_id, t.kind.as_str(), t.id],
    )
    .map_err(db)?;
    Ok(())
}

#[async_trait]
impl TagStore for SqliteStore {
    async fn list_tags(&self, t: &TagTarget) -> StoreResult<Vec<Tag>> {
        let t = t.clone();
        self.read(move |c| list(c, &t)).await
    }
    async fn tag_resource(&self, t: &TagTarget, list: Vec<Tag>, max: usize) -> StoreResult<()> {
        let t = t.clone();
        self.write(move |c| tag(c, &t, &list, max)).await
    }
    async fn untag_resource(&self, t: &TagTarget, keys: Vec<String>) -> StoreResult<()> {
        let t = t.clone();
        self.write(move |c| untag(c, &t, &keys)).await
    }
}
