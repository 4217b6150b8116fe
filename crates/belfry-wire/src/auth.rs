//! The SigV4 gate: which access keys exist, and turning a signed request into a `Caller`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use belfry_core::auth::{Caller, Grant};
use belfry_core::store::{KeyStore, StoredKey};
use belfry_core::CoreError;
pub use belfry_sigv4::SecretKey;
use belfry_sigv4::{RequestParts, VerifyPolicy};

use crate::error::ApiError;

/// One access key the server accepts.
#[derive(Debug, Clone)]
pub struct AccessKey {
    /// `AKIA…`-style id.
    pub id: String,
    /// The secret (redacted in Debug, compared in constant time).
    pub secret: SecretKey,
    /// What the key may do.
    pub grant: Grant,
}

impl From<StoredKey> for AccessKey {
    fn from(k: StoredKey) -> Self {
        AccessKey {
            id: k.id,
            secret: SecretKey::new(k.secret),
            grant: match k.bearers {
                Some(patterns) => Grant::Bearers(patterns),
                None => Grant::Admin,
            },
        }
    }
}

/// The accepted keys and the signing policy: keys from the configuration and the environment,
/// held here, and keys added at run time, read from the store on every request that uses one
/// (so a key added or revoked through any node holds on all of them at once).
pub struct Authenticator {
    keys: HashMap<String, AccessKey>,
    stored: Option<Arc<dyn KeyStore>>,
    region: String,
    max_skew: Duration,
    /// Derived signing keys by (access key, scope date): the HMAC chain runs once a day per key
    /// rather than on every request.
    derived: Mutex<HashMap<(String, String), [u8; 32]>>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A derived signing key signs requests for its day as well as the secret would.
        let derived = self.derived.lock().map(|c| c.len()).unwrap_or(0);
        f.debug_struct("Authenticator")
            .field("keys", &self.keys)
            .field("stored", &self.stored.is_some())
            .field("region", &self.region)
            .field("max_skew", &self.max_skew)
            .field("derived", &format_args!("[{derived} redacted]"))
            .finish()
    }
}

/// Bound on cached derived keys; the cache starts over when it is reached.
const MAX_DERIVED: usize = 4096;

/// The SigV4 signing name of both Chime SDK services.
pub const SIGNING_NAME: &str = "chime";

impl Authenticator {
    fn derived_key(&self, key: &AccessKey, auth: &belfry_sigv4::ParsedAuth) -> [u8; 32] {
        let slot = (key.id.clone(), auth.scope_date.clone());
        if let Ok(cache) = self.derived.lock() {
            if let Some(k) = cache.get(&slot) {
                return *k;
            }
        }
        let derived =
            belfry_sigv4::signing_key(&key.secret, &auth.scope_date, &auth.region, &auth.service);
        if let Ok(mut cache) = self.derived.lock() {
            if cache.len() >= MAX_DERIVED {
                cache.clear();
            }
            cache.insert(slot, derived);
        }
        derived
    }

    /// Accepts `keys`, signed for `region`, within `max_skew` of the server's clock.
    pub fn new(keys: Vec<AccessKey>, region: &str, max_skew: Duration) -> Self {
        Authenticator {
            keys: keys.into_iter().map(|k| (k.id.clone(), k)).collect(),
            stored: None,
            region: region.to_string(),
            max_skew,
            derived: Mutex::new(HashMap::new()),
        }
    }

    /// Also accepts the keys kept in `store`, looked up when a request names a key the
    /// configuration does not hold.
    pub fn with_store(mut self, store: Arc<dyn KeyStore>) -> Self {
        self.stored = Some(store);
        self
    }

    /// Whether `id` is a key of the configuration or the environment (which the store cannot
    /// shadow or revoke).
    pub fn is_configured(&self, id: &str) -> bool {
        self.keys.contains_key(id)
    }

    /// Verifies the request's signature and returns who signed it.
    pub async fn authenticate(
        &self,
        parts: &RequestParts<'_>,
        now: SystemTime,
    ) -> Result<Caller, ApiError> {
        let parsed = belfry_sigv4::parse(parts).map_err(ApiError::Signature)?;
        let policy = VerifyPolicy {
            region: &self.region,
            service: SIGNING_NAME,
            max_skew: self.max_skew,
        };
        match self.keys.get(&parsed.access_key_id) {
            Some(key) => {
                belfry_sigv4::verify_with_key(parts, &parsed, &policy, now, |auth| {
                    self.derived_key(key, auth)
                })
                .map_err(ApiError::Signature)?;
                // Borrowed: only the id and the grant leave, not the secret.
                Ok(Caller {
                    access_key_id: key.id.clone(),
                    grant: key.grant.clone(),
                })
            }
            None => {
                let store = self.stored.as_ref().ok_or(ApiError::UnknownAccessKey)?;
                let key: AccessKey = store
                    .get_access_key(&parsed.access_key_id)
                    .await
                    .map_err(|e| ApiError::Core(CoreError::from(e)))?
                    .ok_or(ApiError::UnknownAccessKey)?
                    .into();
                // Not cached: a key revoked and made again under the same id has a new secret.
                belfry_sigv4::verify_with_key(parts, &parsed, &policy, now, |auth| {
                    belfry_sigv4::signing_key(
                        &key.secret,
                        &auth.scope_date,
                        &auth.region,
                        &auth.service,
                    )
                })
                .map_err(ApiError::Signature)?;
                Ok(Caller {
                    access_key_id: key.id,
                    grant: key.grant,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use belfry_sigv4::{signing_key, Signer};

    fn hex_of(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Neither the secret nor the signing key derived from it (cached once a request was
    /// verified) shows in `Debug`.
    #[tokio::test]
    async fn debug_shows_no_secret_nor_derived_key() {
        const SECRET: &str = "wire-secret-5d21";
        let auth = Authenticator::new(
            vec![AccessKey {
                id: "AKIDWIRE".into(),
                secret: SecretKey::new(SECRET),
                grant: Grant::Admin,
            }],
            "us-east-1",
            Duration::from_secs(300),
        );
        let now = SystemTime::now();
        let signer = Signer {
            access_key_id: "AKIDWIRE".into(),
            secret: SecretKey::new(SECRET),
            region: "us-east-1".into(),
            service: SIGNING_NAME.into(),
        };
        let headers = [("host", "localhost")];
        let sig = signer
            .sign("GET", "/channels", "", &headers, b"", now)
            .unwrap();
        let signed = [
            ("host", "localhost"),
            ("x-amz-date", sig.amz_date.as_str()),
            ("authorization", sig.authorization.as_str()),
        ];
        let parts = RequestParts {
            method: "GET",
            raw_path: "/channels",
            raw_query: "",
            headers: &signed,
            body: b"",
        };
        let caller = auth.authenticate(&parts, now).await.unwrap();
        assert_eq!(caller.access_key_id, "AKIDWIRE");
        let derived = signing_key(
            &SecretKey::new(SECRET),
            &sig.amz_date[..8],
            "us-east-1",
            SIGNING_NAME,
        );
        let printed = format!("{auth:?}");
        assert!(
            printed.contains("AKIDWIRE") && printed.contains("[1 redacted]"),
            "{printed}"
        );
        for leak in [SECRET.to_string(), format!("{derived:?}"), hex_of(&derived)] {
            assert!(!printed.contains(&leak), "{leak} in {printed}");
        }
    }
}
