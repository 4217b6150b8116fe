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
use belfry_core::events::{EventBus, NoEvents, Published};
use belfry_core::paging::PageSigner;
use belfry_core::store::Store;
use belfry_core::time::SystemClock;
use belfry_core::{Limits, Services};
use belfry_realtime::{Hub, HubConfig};
use belfry_store::SqliteStore;
use belfry_wire::auth::SecretKey;
use belfry_wire::session::frames::WireFrames;
use belfry_wire::session::Realtime;
use belfry_wire::{AccessKey, AppState, Authenticator};
use tokio::net::TcpListener;

pub use config::{AdminCredential, Config};

/// Opens the store, starts the realtime hub and builds the shared state. Returns the admin
/// credential in use and whether it was generated just now. Must run inside a tokio runtime.
pub fn build_state(config: &Config) -> anyhow::Result<(Arc<AppState>, AdminCredential, bool)> {
    build_state_with_events(config, Arc::new(NoEvents))
}

/// Publishes every event to the hub and to one more bus (tests record events this way).
struct Tee(Hub, Arc<dyn EventBus>);

impl EventBus for Tee {
    fn publish(&self, event: Published) {
        self.1.publish(event.clone());
        self.0.publish(event);
    }
}

/// As [`build_state`], also publishing domain events to `events`.
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
    let arns = ArnContext {
        partition: "aws".into(),
        region: config.region.clone(),
        account: config.account_id.clone(),
    };
    let hub = Hub::start(
        HubConfig {
            max_sessions: config.max_sessions,
            queue_frames: config.session_queue_frames,
            ..HubConfig::default()
        },
        Arc::new(WireFrames::new(arns.clone())),
    );
    let services = Services::new(
        Arc::new(store),
        Arc::new(SystemClock),
        Arc::new(Tee(hub.clone(), events)),
        arns,
        PageSigner::new(config::page_key(&config.data_dir)?),
        Limits::default(),
    );
    let state = AppState {
        services,
        auth: Authenticator::new(
            keys,
            &config.region,
            Duration::from_secs(config.max_clock_skew_secs),
        ),
        max_body: config.max_body_bytes,
        realtime: Realtime {
            hub,
            public_endpoint: config.public_endpoint.clone(),
            ping_interval: Duration::from_secs(config.ping_interval_secs.max(1)),
        },
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
    let hub = state.realtime.hub.clone();
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            shutdown.await;
            // Sessions are upgraded connections the HTTP drain does not wait for: close them.
            hub.shutdown();
        })
        .await
        .context("serving")?;
    wait_for_sessions(&state.realtime.hub, Duration::from_secs(10)).await;
    let store: &Arc<dyn Store> = state.services.store();
    store
        .close()
        .await
        .map_err(|e| anyhow::anyhow!("closing the store: {e}"))?;
    Ok(())
}

/// Waits until every websocket session has ended, or `deadline` passed.
async fn wait_for_sessions(hub: &Hub, deadline: Duration) {
    let until = tokio::time::Instant::now() + deadline;
    while hub.open_sessions() > 0 && tokio::time::Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
