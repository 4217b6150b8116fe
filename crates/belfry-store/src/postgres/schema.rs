//! Versioned migrations, applied at start-up under a session advisory lock, so several nodes
//! starting at once apply each migration exactly once (the others wait, then find it applied).
//! `belfry_migrations` records what was applied.

use belfry_core::store::{StoreError, StoreResult};
use tokio_postgres::Client;

use super::db;

/// The advisory lock key that serializes migrations (an arbitrary constant: "belfry" in ASCII).
pub(crate) const MIGRATION_LOCK: i64 = 0x62_65_6c_66_72_79;

/// Migration N+1 is `MIGRATIONS[N]`. Never edit a released entry; append a new one.
///
/// The schema mirrors the SQLite one (times are Unix milliseconds, `seq` columns give creation
/// order for keyset paging). Each channel numbers its events in `channels.event_seq`; the row
/// lock taken to raise it serializes a channel's sends, which is what makes commit order the
/// paging order on a store with concurrent writers.
pub(crate) const MIGRATIONS: &[&str] = &[
    // 1: everything of the first SQLite schemas, as one.
    r#"
    CREATE TABLE app_instances (
        seq         BIGSERIAL PRIMARY KEY,
        id          TEXT NOT NULL UNIQUE,
        name        TEXT NOT NULL,
        metadata    TEXT,
        created_ms  BIGINT NOT NULL,
        updated_ms  BIGINT NOT NULL
    );
    CREATE TABLE users (
        seq                  BIGSERIAL PRIMARY KEY,
        app_instance_id      TEXT NOT NULL REFERENCES app_instances(id) ON DELETE CASCADE,
        user_id              TEXT NOT NULL,
        name                 TEXT NOT NULL,
        metadata             TEXT,
        created_ms           BIGINT NOT NULL,
        updated_ms           BIGINT NOT NULL,
        expiration_days      BIGINT,
        expiration_criterion TEXT,
        UNIQUE (app_instance_id, user_id)
    );
    CREATE TABLE admins (
        seq             BIGSERIAL PRIMARY KEY,
        app_instance_id TEXT NOT NULL,
        user_id         TEXT NOT NULL,
        created_ms      BIGINT NOT NULL,
        UNIQUE (app_instance_id, user_id),
        FOREIGN KEY (app_instance_id, user_id) REFERENCES users(app_instance_id, user_id) ON DELETE CASCADE
    );
    CREATE TABLE channels (
        seq                  BIGSERIAL PRIMARY KEY,
        app_instance_id      TEXT NOT NULL REFERENCES app_instances(id) ON DELETE CASCADE,
        channel_id           TEXT NOT NULL,
        name                 TEXT NOT NULL,
        mode                 TEXT NOT NULL,
        privacy              TEXT NOT NULL,
        metadata             TEXT,
        created_by           TEXT NOT NULL,
        created_ms           BIGINT NOT NULL,
        updated_ms           BIGINT NOT NULL,
        last_message_ms      BIGINT,
        expiration_days      BIGINT,
        expiration_criterion TEXT,
        event_seq            BIGINT NOT NULL DEFAULT 0,
        UNIQUE (app_instance_id, channel_id)
    );
    CREATE INDEX channels_by_privacy ON channels (app_instance_id, privacy, seq);
    CREATE TABLE moderators (
        seq             BIGSERIAL PRIMARY KEY,
        app_instance_id TEXT NOT NULL,
        channel_id      TEXT NOT NULL,
        user_id         TEXT NOT NULL,
        created_by      TEXT NOT NULL,
        created_ms      BIGINT NOT NULL,
        UNIQUE (app_instance_id, channel_id, user_id),
        FOREIGN KEY (app_instance_id, channel_id) REFERENCES channels(app_instance_id, channel_id) ON DELETE CASCADE,
        FOREIGN KEY (app_instance_id, user_id) REFERENCES users(app_instance_id, user_id) ON DELETE CASCADE
    );
    CREATE INDEX moderators_by_user ON moderators (app_instance_id, user_id, seq);
    CREATE TABLE memberships (
        seq             BIGSERIAL PRIMARY KEY,
        app_instance_id TEXT NOT NULL,
        channel_id      TEXT NOT NULL,
        user_id         TEXT NOT NULL,
        type            TEXT NOT NULL,
        invited_by      TEXT NOT NULL,
        created_ms      BIGINT NOT NULL,
        updated_ms      BIGINT NOT NULL,
        read_marker_ms  BIGINT,
        UNIQUE (app_instance_id, channel_id, user_id),
        FOREIGN KEY (app_instance_id, channel_id) REFERENCES channels(app_instance_id, channel_id) ON DELETE CASCADE,
        FOREIGN KEY (app_instance_id, user_id) REFERENCES users(app_instance_id, user_id) ON DELETE CASCADE
    );
    CREATE INDEX memberships_by_user ON memberships (app_instance_id, user_id, seq);
    CREATE INDEX memberships_by_channel ON memberships (app_instance_id, channel_id, type, seq);
    CREATE TABLE bans (
        seq             BIGSERIAL PRIMARY KEY,
        app_instance_id TEXT NOT NULL,
        channel_id      TEXT NOT NULL,
        user_id         TEXT NOT NULL,
        created_by      TEXT NOT NULL,
        created_ms      BIGINT NOT NULL,
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
        created_ms  BIGINT NOT NULL,
        PRIMARY KEY (scope, token)
    );
    CREATE TABLE messages (
        seq                  BIGSERIAL PRIMARY KEY,
        channel_seq          BIGINT NOT NULL REFERENCES channels(seq) ON DELETE CASCADE,
        message_id           TEXT NOT NULL UNIQUE,
        sender               TEXT NOT NULL,
        type                 TEXT NOT NULL,
        content              TEXT,
        metadata             TEXT,
        content_type         TEXT,
        attributes           TEXT,
        push                 TEXT,
        target               TEXT,
        created_ms           BIGINT NOT NULL,
        updated_ms           BIGINT NOT NULL,
        edited_ms            BIGINT,
        redacted             BOOLEAN NOT NULL DEFAULT FALSE,
        client_request_token TEXT NOT NULL,
        fingerprint          TEXT NOT NULL,
        -- ClientRequestToken idempotency is a constraint, not a node's memory.
        UNIQUE (channel_seq, sender, client_request_token)
    );
    CREATE INDEX messages_by_time ON messages (channel_seq, created_ms, seq);
    CREATE TABLE access_keys (
        id         TEXT PRIMARY KEY,
        secret     TEXT NOT NULL,
        bearers    TEXT,
        created_ms BIGINT NOT NULL
    );
    CREATE TABLE settings (
        name  TEXT PRIMARY KEY,
        value BYTEA NOT NULL
    );
    -- Events written in the transaction of their change, until a relay has published them.
    CREATE TABLE outbox (
        id          BIGSERIAL PRIMARY KEY,
        payload     BYTEA NOT NULL,
        lease_until TIMESTAMPTZ
    );
    "#,
    // 2: statistics early. A new database's tables start empty, and a prepared statement
    // planned while they are keeps its plan until the next ANALYZE: a send's token lookup then
    // reads a channel's whole history (measured: 37 ms instead of 0.6 ms a batch, and a
    // tenth of the throughput). Analyze the growing tables after a few hundred rows instead
    // of autovacuum's default of 10 % of the table; the outbox, a queue, is vacuumed as often.
    r#"
    ALTER TABLE messages SET (autovacuum_analyze_threshold = 500, autovacuum_analyze_scale_factor = 0.02);
    ALTER TABLE memberships SET (autovacuum_analyze_threshold = 500, autovacuum_analyze_scale_factor = 0.05);
    ALTER TABLE channels SET (autovacuum_analyze_threshold = 200, autovacuum_analyze_scale_factor = 0.05);
    ALTER TABLE users SET (autovacuum_analyze_threshold = 200, autovacuum_analyze_scale_factor = 0.05);
    ALTER TABLE outbox SET (autovacuum_vacuum_threshold = 1000, autovacuum_vacuum_scale_factor = 0.0,
        autovacuum_analyze_threshold = 1000, autovacuum_analyze_scale_factor = 0.0);
    "#,
];

/// Applies the migrations not yet applied, holding the advisory lock. A database newer than
/// this binary is refused.
pub(crate) async fn migrate(client: &mut Client) -> StoreResult<()> {
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(db)?;
    let result = apply(client).await;
    // The lock is the session's: released here, or when the connection closes on an error.
    let unlock = client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(db);
    result.and(unlock.map(|_| ()))
}

async fn apply(client: &mut Client) -> StoreResult<()> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS belfry_migrations (
                version    INTEGER PRIMARY KEY,
                applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
            )",
        )
        .await
        .map_err(db)?;
    let applied: i32 = client
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM belfry_migrations",
            &[],
        )
        .await
        .map_err(db)?
        .get(0);
    let known = MIGRATIONS.len() as i32;
    if applied > known {
        return Err(StoreError::internal(format!(
            "database schema version {applied} is newer than this binary knows ({known})"
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(applied as usize) {
        let version = i as i32 + 1;
        let tx = client.transaction().await.map_err(db)?;
        tx.batch_execute(sql).await.map_err(db)?;
        tx.execute(
            "INSERT INTO belfry_migrations (version) VALUES ($1)",
            &[&version],
        )
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        tracing::info!(version, "applied PostgreSQL migration");
    }
    Ok(())
}
