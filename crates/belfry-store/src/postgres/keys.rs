//! Access keys and node-shared settings on PostgreSQL.

use async_trait::async_trait;
use belfry_core::events::{DomainEvent, Published};
use belfry_core::store::{KeyStore, StoreError, StoreResult, StoredKey};
use belfry_core::time::Timestamp;
use tokio_postgres::Row;

use super::rows::{exec, one, row, rows};
use super::{db, PgStore};

fn to_key(r: &Row) -> StoreResult<StoredKey> {
    let bearers: Option<String> = r.get(2);
    Ok(StoredKey {
        id: r.get(0),
        secret: r.get(1),
        bearers: match bearers {
            Some(json) => Some(serde_json::from_str(&json).map_err(StoreError::internal)?),
            None => None,
        },
        created: Timestamp(r.get(3)),
    })
}

#[async_trait]
impl KeyStore for PgStore {
    async fn create_access_key(&self, key: StoredKey) -> StoreResult<()> {
        let bearers = match &key.bearers {
            Some(b) => Some(serde_json::to_string(b).map_err(StoreError::internal)?),
            None => None,
        };
        let conn = self.conn().await?;
        let n = exec(
            &conn,
            "INSERT INTO access_keys (id, secret, bearers, created_ms) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (id) DO NOTHING",
            &[&key.id, &key.secret, &bearers, &key.created.0],
        )
        .await?;
        if n == 0 {
            return Err(StoreError::KeyExists(key.id));
        }
        Ok(())
    }

    async fn get_access_key(&self, id: &str) -> StoreResult<Option<StoredKey>> {
        let conn = self.conn().await?;
        let row = row(
            &conn,
            "SELECT id, secret, bearers, created_ms FROM access_keys WHERE id = $1",
            &[&id],
        )
        .await?;
        row.as_ref().map(to_key).transpose()
    }

    async fn list_access_keys(&self) -> StoreResult<Vec<StoredKey>> {
        let conn = self.conn().await?;
        let rows = rows(
            &conn,
            "SELECT id, secret, bearers, created_ms FROM access_keys ORDER BY id",
            &[],
        )
        .await?;
        rows.iter().map(to_key).collect()
    }

    async fn delete_access_key(&self, id: &str) -> StoreResult<bool> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(db)?;
        let n = exec(&tx, "DELETE FROM access_keys WHERE id = $1", &[&id]).await?;
        if n == 0 {
            return Ok(false);
        }
        // Every node's sessions opened with the key end, through the relay.
        self.enqueue(
            &tx,
            &Published::unordered(DomainEvent::AccessKeyRevoked { id: id.to_owned() }),
        )
        .await?;
        tx.commit().await.map_err(db)?;
        Ok(true)
    }

    async fn setting_or_init(&self, name: &str, init: &[u8]) -> StoreResult<Vec<u8>> {
        let conn = self.conn().await?;
        // One statement: the insert's conflict waits for a racing insert to commit, so every
        // node reads the first committed value.
        exec(
            &conn,
            "INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
            &[&name, &init],
        )
        .await?;
        let row = one(
            &conn,
            "SELECT value FROM settings WHERE name = $1",
            &[&name],
        )
        .await?;
        Ok(row.get(0))
    }
}
