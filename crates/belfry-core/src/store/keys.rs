//! The KeyStore port: what every node of a deployment must agree on — access keys added at run
//! time, and settings made once (the NextToken key, a generated admin credential).

use async_trait::async_trait;

use super::StoreResult;
use crate::time::Timestamp;

/// An access key kept in the store (keys from the config file and the environment are not).
#[derive(Clone, PartialEq, Eq)]
pub struct StoredKey {
    /// The access key id.
    pub id: String,
    /// The secret, as the client holds it (SigV4 needs it in clear to derive signing keys).
    pub secret: String,
    /// `None`: an admin key. `Some`: a scoped key acting only as bearers matching one of these
    /// ARN patterns.
    pub bearers: Option<Vec<String>>,
    /// When it was created.
    pub created: Timestamp,
}

impl std::fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredKey")
            .field("id", &self.id)
            .field("secret", &"[redacted]")
            .field("bearers", &self.bearers)
            .field("created", &self.created)
            .finish()
    }
}

/// Persistence of access keys and node-shared settings. Every read goes to the store, so a key
/// added or revoked through one node holds on all of them at once.
#[async_trait]
pub trait KeyStore: Send + Sync + 'static {
    /// Stores a new key. Its id taken: `KeyExists`.
    async fn create_access_key(&self, key: StoredKey) -> StoreResult<()>;
    /// One key.
    async fn get_access_key(&self, id: &str) -> StoreResult<Option<StoredKey>>;
    /// Every stored key, by id.
    async fn list_access_keys(&self) -> StoreResult<Vec<StoredKey>>;
    /// Removes a key; `false` if there was none.
    async fn delete_access_key(&self, id: &str) -> StoreResult<bool>;
    /// The setting `name`; if there is none yet, stores `init` and returns it. When several
    /// nodes start at once, the first commit wins and all of them return its value.
    async fn setting_or_init(&self, name: &str, init: &[u8]) -> StoreResult<Vec<u8>>;
}
