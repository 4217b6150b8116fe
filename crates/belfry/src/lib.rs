//! The Belfry server as a library: wiring the store, the services and the HTTP face together,
//! so the binary and the integration tests start exactly the same server.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod bench;
pub mod config;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use belfry_core::arn::ArnContext;
use belfry_core::auth::Grant;
use belfry_core::events::{EventBus, NoEvents};
use belfry_core::paging::PageSigner;
use belfry_core::store::Store;
use belfry_core::time::SystemClock;
use belfry_core::{Limits, Services};
use belfry_store::SqliteStore;
use belfry_wire::auth::SecretKey;
use belfry_wire::{AccessKey, AppState, Authenticator};
use tokio::net::TcpListener;

pub use config::{AdminCredential, Config};

/// Opens the store and builds the shared state. Returns the admin credential in use and
/// whether it was generated just now.
pub fn build_state(config: &Config) -> anyhow::Result<(Arc<AppState>, AdminCredential, bool)> {
    build_state_with_events(config, Arc::new(NoEvents))
}

/// As [`build_state`], publishing domain events to `events`.
pub fn build_state_with_events(
    config: &Config,
    events: Arc<dyn EventBus>,
) -> anyhow::Result<(Arc<AppState>, AdminCredential, bool)> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating data directory {}", config.data_dir.display()))?;
    let (admin, generated) = match &config.admin_key {
        Some((id, secret)) => (
            AdminCredential {
                access_key_id: id.clone(),
                secret_access_key: secret.clone(),
            },
            false,
        ),
        None => config::admin_credential(&config.data_dir)?,
    };
    let store = SqliteStore::open(&config.data_dir)
        .map_err(|e| anyhow::anyhow!("opening the store: {e}"))?;
    let mut keys = vec![AccessKey {
        id: admin.access_key_id.clone(),
        secret: SecretKey::new(admin.secret_access_key.clone()),
        grant: Grant::Admin,
    }];
    for k in &config.access_keys {
        keys.push(AccessKey {
            id: k.id.clone(),
            secret: SecretKey::new(k.secret.clone()),
            grant: match &k.bearers {
                Some(patterns) => Grant::Bearers(patterns.clone()),
                None => Grant::Admin,
            },
        });
    }
    let services = Services::new(
        Arc::new(store),
        Arc::new(SystemClock),
        events,
        ArnContext {
            partition: "aws".into(),
            region: config.region.clone(),
            account: config.account_id.clone(),
        },
        PageSigner::new(config::page_key(&config.data_dir)?),
        Limits {
            memberships_per_user: config.memberships_per_user,
            ..Limits::default()
        },
    );
    let state = AppState {
        services,
        auth: Authenticator::new(
            keys,
            &config.region,
            Duration::from_secs(config.max_clock_skew_secs),
        ),
        max_body: config.max_body_bytes,
    };
    Ok((Arc::new(state), admin, generated))
}

/// Serves until `shutdown` resolves, then stops accepting, lets in-flight requests finish, and
/// closes the store (every acknowledged write is already durable; this flushes the WAL).
pub async fn serve(
    state: Arc<AppState>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let app = belfry_wire::app(state.clone());
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .context("serving")?;
    let store: &Arc<dyn Store> = state.services.store();
    store
        .close()
        .await
        .map_err(|e| anyhow::anyhow!("closing the store: {e}"))?;
    Ok(())
}
