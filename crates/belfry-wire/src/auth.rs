//! The SigV4 gate: which access keys exist, and turning a signed request into a `Caller`.

use std::collections::HashMap;
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
#[derive(Debug, Clone)]
pub struct Authenticator {
    keys: HashMap<String, AccessKey>,
    region: String,
    max_skew: Duration,
}

/// The SigV4 signing name of both Chime SDK services.
pub const SIGNING_NAME: &str = "chime";

impl Authenticator {
    /// Accepts `keys`, signed for `region`, within `max_skew` of the server's clock.
    pub fn new(keys: Vec<AccessKey>, region: &str, max_skew: Duration) -> Self {
        Authenticator {
            keys: keys.into_iter().map(|k| (k.id.clone(), k)).collect(),
            region: region.to_string(),
            max_skew,
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
        belfry_sigv4::verify(parts, &parsed, &key.secret, &policy, now)
            .map_err(ApiError::Signature)?;
        Ok(Caller {
            access_key_id: key.id.clone(),
            grant: key.grant.clone(),
        })
    }
}
