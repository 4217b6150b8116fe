//! Access keys and settings in SQLite.

use async_trait::async_trait;
use belfry_core::store::{KeyStore, StoreError, StoreResult, StoredKey};
use belfry_core::time::Timestamp;
use rusqlite::{params, OptionalExtension, Row};

use super::{db, SqliteStore};

fn key_row(r: &Row<'_>) -> rusqlite::Result<(String, String, Option<String>, i64)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
}

fn to_key(
    (id, secret, bearers, created): (String, String, Option<String>, i64),
) -> StoreResult<StoredKey> {
    let bearers = match bearers {
        Some(json) => Some(serde_json::from_str(&json).map_err(StoreError::internal)?),
        None => None,
    };
    Ok(StoredKey {
        id,
        secret,
        bearers,
        created: Timestamp(created),
    })
}

#[async_trait]
impl KeyStore for SqliteStore {
    async fn create_access_key(&self, key: StoredKey) -> StoreResult<()> {
        let bearers = match &key.bearers {
            Some(b) => Some(serde_json::to_string(b).map_err(StoreError::internal)?),
            None => None,
        };
        self.write(move |c| {
            let n = c
                .execute(
                    "INSERT INTO access_keys (id, secret, bearers, created_ms) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (id) DO NOTHING",
                    params![key.id, key.secret, bearers, key.created.0],
                )
                .map_err(db)?;
            if n == 0 {
                return Err(StoreError::KeyExists(key.id));
            }
            Ok(())
        })
        .await
    }

    async fn get_access_key(&self, id: &str) -> StoreResult<Option<StoredKey>> {
        let id = id.to_owned();
        self.read(move |c| {
            c.query_row(
                "SELECT id, secret, bearers, created_ms FROM access_keys WHERE id = ?1",
                params![id],
                key_row,
            )
            .optional()
            .map_err(db)?
            .map(to_key)
            .transpose()
        })
        .await
    }

    async fn list_access_keys(&self) -> StoreResult<Vec<StoredKey>> {
        self.read(|c| {
            let mut stmt = c
                .prepare("SELECT id, secret, bearers, created_ms FROM access_keys ORDER BY id")
                .map_err(db)?;
            let rows = stmt.query_map([], key_row).map_err(db)?;
            rows.map(|r| r.map_err(db).and_then(to_key)).collect()
        })
        .await
    }

    async fn delete_access_key(&self, id: &str) -> StoreResult<bool> {
        let id = id.to_owned();
        self.write(move |c| {
            let n = c
                .execute("DELETE FROM access_keys WHERE id = ?1", params![id])
                .map_err(db)?;
            Ok(n > 0)
        })
        .await
    }

    async fn setting_or_init(&self, name: &str, init: &[u8]) -> StoreResult<Vec<u8>> {
        let (name, init) = (name.to_owned(), init.to_vec());
        self.write(move |c| {
            c.execute(
                "INSERT INTO settings (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING",
                params![name, init],
            )
            .map_err(db)?;
            c.query_row(
                "SELECT value FROM settings WHERE name = ?1",
                params![name],
                |r| r.get(0),
            )
            .map_err(db)
        })
        .await
    }
}
