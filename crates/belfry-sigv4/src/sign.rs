//! Signing, the client's half: what the load generator and tests use to make requests exactly
//! as the AWS SDKs sign them (header form, all given headers signed).

use std::cell::RefCell;
use std::time::SystemTime;

use crate::canonical::{canonical_query, sha256_hex, CanonicalRequest, QueryEncoding};
use crate::key::{signature, signing_key, SecretKey};
use crate::time::format_amz_date;
use crate::{SigV4Error, ALGORITHM};

/// The headers a signed request must carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// `X-Amz-Date`.
    pub amz_date: String,
    /// `Authorization`.
    pub authorization: String,
}

/// Who signs, and for what.
#[derive(Debug, Clone)]
pub struct Signer {
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key.
    pub secret: SecretKey,
    /// Region of the credential scope.
    pub region: String,
    /// Signing name (`chime`).
    pub service: String,
}

/// A derived signing key and what it was derived from: secret, date, region, service.
type DerivedKey = (SecretKey, String, String, String, [u8; 32]);

thread_local! {
    /// The last signing key derived on this thread, by (secret, date, region, service): it
    /// changes once a day, so the HMAC chain need not run for every request (the AWS SDKs
    /// cache it too).
    static LAST_KEY: RefCell<Option<DerivedKey>> = const { RefCell::new(None) };
}

impl Signer {
    pub(crate) fn key(&self, date: &str) -> [u8; 32] {
        LAST_KEY.with(|last| {
            let mut last = last.borrow_mut();
            if let Some((secret, d, r, s, key)) = last.as_ref() {
                if d == date && *r == self.region && *s == self.service && *secret == self.secret {
                    return *key;
                }
            }
            let key = signing_key(&self.secret, date, &self.region, &self.service);
            *last = Some((
                self.secret.clone(),
                date.to_string(),
                self.region.clone(),
                self.service.clone(),
                key,
            ));
            key
        })
    }

    /// Signs a request whose `headers` (which must include `host`) are all to be signed, at
    /// time `now`. The path and query are taken as they will be sent (already percent-encoded).
    pub fn sign(
        &self,
        method: &str,
        raw_path: &str,
        raw_query: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        now: SystemTime,
    ) -> Result<Signature, SigV4Error> {
        let amz_date = format_amz_date(now);
        let date = amz_date.get(..8).unwrap_or_default();
        let mut all: Vec<(String, &str)> = headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), *v))
            .collect();
        all.push(("x-amz-date".to_string(), amz_date.as_str()));
        let mut names: Vec<String> = all.iter().map(|(k, _)| k.clone()).collect();
        names.sort();
        names.dedup();
        let pairs: Vec<(&str, &str)> = all.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        let hashed = CanonicalRequest {
            method,
            raw_path,
            query: &canonical_query(raw_query, false, QueryEncoding::Rfc3986),
            headers: &pairs,
            signed_headers: &names,
            payload_hash: &sha256_hex(body),
        }
        .hash()?;
        let sig = hex::encode(signature(
            &self.key(date),
            &amz_date,
            [date, &self.region, &self.service],
            &hashed,
        ));
        Ok(Signature {
            authorization: format!(
                "{ALGORITHM} Credential={}/{date}/{}/{}/aws4_request, SignedHeaders={}, Signature={sig}",
                self.access_key_id,
                self.region,
                self.service,
                names.join(";")
            ),
            amz_date,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::{parse, verify, RequestParts, VerifyPolicy};

    #[test]
    fn what_we_sign_we_verify_and_a_change_breaks_it() {
        let signer = Signer {
            access_key_id: "AKIDEXAMPLE".into(),
            secret: SecretKey::new("secret"),
            region: "us-east-1".into(),
            service: "chime".into(),
        };
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let path =
            "/channels/arn%3Aaws%3Achime%3Aus-east-1%3A0%3Aapp-instance%2Fa%2Fchannel%2Fc/messages";
        let query = "max-results=5&sort-order=ASCENDING";
        let body = br#"{"Content":"hi"}"#;
        let base = [
            ("host", "localhost:7755"),
            ("x-amz-chime-bearer", "arn:x"),
            ("content-type", "application/json"),
        ];
        let sig = signer.sign("POST", path, query, &base, body, now).unwrap();
        let mut headers = base.to_vec();
        headers.push(("x-amz-date", &sig.amz_date));
        headers.push(("authorization", &sig.authorization));
        let policy = VerifyPolicy {
            region: "us-east-1",
            service: "chime",
            max_skew: Duration::from_secs(300),
        };
        let ok = RequestParts {
            method: "POST",
            raw_path: path,
            raw_query: query,
            headers: &headers,
            body,
        };
        let parsed = parse(&ok).unwrap();
        verify(&ok, &parsed, &SecretKey::new("secret"), &policy, now).unwrap();
        let tampered = RequestParts {
            body: br#"{"Content":"ho"}"#,
            ..ok
        };
        assert!(verify(&tampered, &parsed, &SecretKey::new("secret"), &policy, now).is_err());
    }
}
