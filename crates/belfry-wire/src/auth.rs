//! The SigV4 gate: which access keys exist, and turning a signed request into a `Caller`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use belfry_core::auth::{Caller, Grant};
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

/// The accepted keys and the signing policy.
#[derive(Debug)]
pub struct Authenticator {
    keys: HashMap<String, AccessKey>,
    region: String,
    max_skew: Duration,
    /// Derived signing keys by (access key, scope date): the HMAC chain runs once a day per key
    /// rather than on every request.
    derived: Mutex<HashMap<(String, String), [u8; 32]>>,
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
            region: region.to_string(),
            max_skew,
            derived: Mutex::new(HashMap::new()),
        }
    }

    /// Verifies the request's signature and returns who signed it.
    pub fn authenticate(&self, parts: &RequestParts, now: SystemTime) -> Result<Caller, ApiError> {
        let parsed = belfry_sigv4::parse(parts).map_err(ApiError::Signature)?;
        let key = self
            .keys
            .get(&parsed.access_key_id)
            .ok_or(ApiError::UnknownAccessKey)?;
        let policy = VerifyPolicy {
            region: &self.region,
            service: SIGNING_NAME,
            max_skew: self.max_skew,
        };
        belfry_sigv4::verify_with_key(parts, &parsed, &policy, now, |auth| {
            self.derived_key(key, auth)
        })
        .map_err(ApiError::Signature)?;
        Ok(Caller {
            access_key_id: key.id.clone(),
            grant: key.grant.clone(),
        })
    }
}
