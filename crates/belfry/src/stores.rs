//! Opening the configured store, and what every node must agree on: the generated admin
//! credential and the NextToken key live in the store's `settings` (on PostgreSQL the first
//! node to start makes them and the others read them; on SQLite they travel with the database,
//! so a server started from a backup keeps them). A SQLite data directory from before they
//! moved there has them in files: the first start that finds no setting imports the files
//! (and leaves them in place).

use std::sync::Arc;

use anyhow::Context;
use belfry_core::paging::PageKey;
use belfry_core::store::Store;
use belfry_store::{PgOptions, PgStore, SqliteStore};
use belfry_wire::health::Probe;

use crate::config::{self, redact_url, AdminCredential, Config, StoreKind};

/// The open store, with what else the node needs of it.
pub(crate) struct Opened {
    /// The store, for the services.
    pub store: Arc<dyn Store>,
    /// The PostgreSQL store itself, for the outbox relay.
    pub postgres: Option<PgStore>,
    /// `/health` probes for it.
    pub probes: Vec<Arc<dyn Probe>>,
}

pub(crate) async fn open(config: &Config) -> anyhow::Result<Opened> {
    match &config.store {
        StoreKind::Sqlite => {
            let store: Arc<dyn Store> = Arc::new(
                SqliteStore::open(&config.data_dir)
                    .map_err(|e| anyhow::anyhow!("opening the store: {e}"))?,
            );
            Ok(Opened {
                probes: vec![Arc::new(SqliteProbe(store.clone()))],
                store,
                postgres: None,
            })
        }
        StoreKind::Postgres(url) => {
            let mut opts = PgOptions::new(url.clone());
            opts.max_connections = config.store_max_connections;
            opts.outbox = config.bus.is_some();
            let pg = PgStore::connect(opts).await.map_err(|e| {
                anyhow::anyhow!("opening the PostgreSQL store at {}: {e}", redact_url(url))
            })?;
            Ok(Opened {
                store: Arc::new(pg.clone()),
                probes: vec![Arc::new(PgProbe(pg.clone()))],
                postgres: Some(pg),
            })
        }
    }
}

const ADMIN_SETTING: &str = "admin_credential";
const PAGE_KEY_SETTING: &str = "page_key";

/// The generated admin credential and whether this call made it.
pub(crate) async fn admin_credential(
    config: &Config,
    opened: &Opened,
) -> anyhow::Result<(AdminCredential, bool)> {
    let imported = match opened.postgres {
        None => config::legacy_admin_credential(&config.data_dir)?,
        Some(_) => None,
    };
    let offered = match &imported {
        Some(cred) => cred.clone(),
        None => config::generate_admin_credential(),
    };
    let init = toml::to_string(&offered)?;
    let stored = opened
        .store
        .setting_or_init(ADMIN_SETTING, init.as_bytes())
        .await
        .map_err(|e| anyhow::anyhow!("reading the stored admin credential: {e}"))?;
    let generated = imported.is_none() && stored == init.as_bytes();
    let text = String::from_utf8(stored).context("the stored admin credential is not UTF-8")?;
    let cred = toml::from_str(&text).context("parsing the stored admin credential")?;
    Ok((cred, generated))
}

/// The NextToken signing key: a NextToken issued by one node pages on every other, and on a
/// server restored from a backup.
pub(crate) async fn page_key(config: &Config, opened: &Opened) -> anyhow::Result<PageKey> {
    let offered = match opened.postgres {
        None => config::legacy_page_key(&config.data_dir)?,
        Some(_) => None,
    }
    .unwrap_or_else(config::generate_page_key);
    let stored = opened
        .store
        .setting_or_init(PAGE_KEY_SETTING, &offered)
        .await
        .map_err(|e| anyhow::anyhow!("reading the stored NextToken key: {e}"))?;
    let key: [u8; 32] = stored
        .as_slice()
        .try_into()
        .map_err(|_| anyhow::anyhow!("the stored NextToken key is not 32 bytes"))?;
    Ok(PageKey::new(key))
}

struct SqliteProbe(Arc<dyn Store>);

#[async_trait::async_trait]
impl Probe for SqliteProbe {
    fn name(&self) -> &'static str {
        "store"
    }
    async fn check(&self) -> Result<String, String> {
        self.0
            .list_app_instances(None, 1)
            .await
            .map(|_| "sqlite".to_owned())
            .map_err(|e| format!("sqlite: {e}"))
    }
}

struct PgProbe(PgStore);

#[async_trait::async_trait]
impl Probe for PgProbe {
    fn name(&self) -> &'static str {
        "store"
    }
    async fn check(&self) -> Result<String, String> {
        let (size, idle) = self.0.pool_status();
        self.0
            .ping()
            .await
            .map(|_| format!("postgres ({size} connections, {idle} idle)"))
            .map_err(|e| format!("postgres: {e}"))
    }
}
