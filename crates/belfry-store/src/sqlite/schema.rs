//! Versioned migrations, applied in order at start-up inside one transaction each.
//! `PRAGMA user_version` records how many have been applied.

use belfry_core::store::{StoreError, StoreResult};
use rusqlite::Connection;

/// Migration N+1 is `MIGRATIONS[N]`. Never edit a released entry; append a new one.
const MIGRATIONS: &[&str] = &[
    // 1: identity, channels, roles, tags, idempotency.
    r#"
    CREATE TABLE app_instances (
        seq         INTEGER PRIMARY KEY AUTOINCREMENT,
        id          TEXT NOT NULL UNIQUE,
        name        TEXT NOT NULL,
        metadata    TEXT,
        created_ms  INTEGER NOT NULL,
        updated_ms  INTEGER NOT NULL
    );
    CREATE TABLE users (
        seq                  INTEGER PRIMARY KEY AUTOINCREMENT,
        app_instance_id      TEXT NOT NULL REFERENCES app_instances(id) ON DELETE CASCADE,
        user_id              TEXT NOT NULL,
        name                 TEXT NOT NULL,
        metadata             TEXT,
        created_ms           INTEGER NOT NULL,
        updated_ms           INTEGER NOT NULL,
        expiration_days      INTEGER,
        expiration_criterion TEXT,
        UNIQUE (app_instance_id, user_id)
    );
    CREATE TABLE admins (
        seq             INTEGER PRIMARY KEY AUTOINCREMENT,
        app_instance_id TEXT NOT NULL,
        user_id         TEXT NOT NULL,
        created_ms      INTEGER NOT NULL,
        UNIQUE (app_instance_id, user_id),
        FOREIGN KEY (app_instance_id, user_id) REFERENCES users(app_instance_id, user_id) ON DELETE CASCADE
    );
    CREATE TABLE channels (
        seq                  INTEGER PRIMARY KEY AUTOINCREMENT,
        app_instance_id      TEXT NOT NULL REFERENCES app_instances(id) ON DELETE CASCADE,
        channel_id           TEXT NOT NULL,
        name                 TEXT NOT NULL,
        mode                 TEXT NOT NULL,
        privacy              TEXT NOT NULL,
        metadata             TEXT,
        created_by           TEXT NOT NULL,
        created_ms           INTEGER NOT NULL,
        updated_ms           INTEGER NOT NULL,
        last_message_ms      INTEGER,
        expiration_days      INTEGER,
        expiration_criterion TEXT,
        UNIQUE (app_instance_id, channel_id)
    );
    CREATE INDEX channels_by_privacy ON channels (app_instance_id, privacy, seq);
    CREATE TABLE moderators (
        seq             INTEGER PRIMARY KEY AUTOINCREMENT,
        app_instance_id TEXT NOT NULL,
        channel_id      TEXT NOT NULL,
        user_id         TEXT NOT NULL,
        created_by      TEXT NOT NULL,
        created_ms      INTEGER NOT NULL,
        UNIQUE (app_instance_id, channel_id, user_id),
        FOREIGN KEY (app_instance_id, channel_id) REFERENCES channels(app_instance_id, channel_id) ON DELETE CASCADE,
        FOREIGN KEY (app_instance_id, user_id) REFERENCES users(app_instance_id, user_id) ON DELETE CASCADE
    );
    CREATE INDEX moderators_by_user ON moderators (app_instance_id, user_id, seq);
    CREATE TABLE memberships (
        seq             INTEGER PRIMARY KEY AUTOINCREMENT,
        app_instance_id TEXT NOT NULL,
        channel_id      TEXT NOT NULL,
        user_id         TEXT NOT NULL,
        type            TEXT NOT NULL,
        invited_by      TEXT NOT NULL,
        created_ms      INTEGER NOT NULL,
        updated_ms      INTEGER NOT NULL,
        read_marker_ms  INTEGER,
        UNIQUE (app_instance_id, channel_id, user_id),
        FOREIGN KEY (app_instance_id, channel_id) REFERENCES channels(app_instance_id, channel_id) ON DELETE CASCADE,
        FOREIGN KEY (app_instance_id, user_id) REFERENCES users(app_instance_id, user_id) ON DELETE CASCADE
    );
    CREATE INDEX memberships_by_user ON memberships (app_instance_id, user_id, seq);
    CREATE INDEX memberships_by_channel ON memberships (app_instance_id, channel_id, type, seq);
    CREATE TABLE bans (
        seq             INTEGER PRIMARY KEY AUTOINCREMENT,
        app_instance_id TEXT NOT NULL,
        channel_id      TEXT NOT NULL,
        user_id         TEXT NOT NULL,
        created_by      TEXT NOT NULL,
        created_ms      INTEGER NOT NULL,
        UNIQUE (app_instance_id, channel_id, user_id),
        FOREIGN KEY (app_instance_id, channel_id) REFERENCES channels(app_instance_id, channel_id) ON DELETE CASCADE,
        FOREIGN KEY (app_instance_id, user_id) REFERENCES users(app_instance_id, user_id) ON DELETE CASCADE
    );
    CREATE TABLE tags (
        app_instance_id TEXT NOT NULL REFERENCES app_instances(id) ON DELETE CASCADE,
        kind            TEXT NOT NULL,
        resource_id     TEXT NOT NULL,
        key             TEXT NOT NULL,
        value           TEXT NOT NULL,
        PRIMARY KEY (app_instance_id, kind, resource_id, key)
    );
    CREATE TABLE idempotency (
        scope       TEXT NOT NULL,
        token       TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        resource_id TEXT NOT NULL,
        created_ms  INTEGER NOT NULL,
        PRIMARY KEY (scope, token)
    );
    "#,
    // 2: messages. `channel_seq` ties a message to its channel row, so a channel's history is
    // one index range and goes with the channel.
    r#"
    CREATE TABLE messages (
        seq                  INTEGER PRIMARY KEY,
        channel_seq          INTEGER NOT NULL REFERENCES channels(seq) ON DELETE CASCADE,
        message_id           TEXT NOT NULL UNIQUE,
        sender               TEXT NOT NULL,
        type                 TEXT NOT NULL,
        content              TEXT,
        metadata             TEXT,
        content_type         TEXT,
        attributes           TEXT,
        push                 TEXT,
        target               TEXT,
        created_ms           INTEGER NOT NULL,
        updated_ms           INTEGER NOT NULL,
        edited_ms            INTEGER,
        redacted             INTEGER NOT NULL DEFAULT 0,
        client_request_token TEXT NOT NULL,
        fingerprint          TEXT NOT NULL
    );
    CREATE INDEX messages_by_time ON messages (channel_seq, created_ms, seq);
    CREATE UNIQUE INDEX messages_by_token ON messages (channel_seq, sender, client_request_token);
    "#,
    // 3: token keys in place of the token index (see `tokens`). Existing messages are above
    // the watermark, so their keys are written at the next start.
    r#"
    DROP INDEX messages_by_token;
    CREATE TABLE message_tokens (
        key INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        PRIMARY KEY (key, seq)
    ) WITHOUT ROWID;
    CREATE TABLE token_sweep (
        id              INTEGER PRIMARY KEY CHECK (id = 1),
        indexed_through INTEGER NOT NULL
    );
    INSERT INTO token_sweep (id, indexed_through) VALUES (1, 0);
    "#,
    // 4: each channel numbers its events. A write that publishes a channel event takes the
    // next number in its own transaction, so numbers follow commit order; existing channels
    // start from 0.
    r#"
    ALTER TABLE channels ADD COLUMN event_seq INTEGER NOT NULL DEFAULT 0;
    "#,
    // 5: access keys added at run time, and settings made once.
    r#"
    CREATE TABLE access_keys (
        id         TEXT PRIMARY KEY,
        secret     TEXT NOT NULL,
        bearers    TEXT,
        created_ms INTEGER NOT NULL
    );
    CREATE TABLE settings (
        name  TEXT PRIMARY KEY,
        value BLOB NOT NULL
    );
    "#,
];

/// Applies the migrations not yet applied. A database newer than this binary is refused.
pub(crate) fn migrate(conn: &mut Connection) -> StoreResult<()> {
    let applied: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(StoreError::internal)?;
    let known = MIGRATIONS.len() as i64;
    if applied > known {
        return Err(StoreError::internal(format!(
            "database schema version {applied} is newer than this binary knows ({known})"
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(applied as usize) {
        let tx = conn.transaction().map_err(StoreError::internal)?;
        tx.execute_batch(sql).map_err(StoreError::internal)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)
            .map_err(StoreError::internal)?;
        tx.commit().map_err(StoreError::internal)?;
        tracing::info!(version = i + 1, "applied migration");
    }
    Ok(())
}
