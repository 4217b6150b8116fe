//! The secret key newtype, HMAC-SHA256 and the SigV4 signing-key derivation.

use std::fmt;

use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::ALGORITHM;

/// A secret access key.
///
/// `Debug` prints `SecretKey([redacted])` so the value cannot leak through logs or panics,
/// there is no `Display`, and equality is constant-time so comparing keys does not reveal a
/// common prefix.
#[derive(Clone)]
pub struct SecretKey(String);

impl SecretKey {
    /// Wraps a secret access key.
    pub fn new(s: impl Into<String>) -> Self {
        SecretKey(s.into())
    }

    /// The secret itself; callers need it only to derive signing keys or to store it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for SecretKey {
    fn from(s: String) -> Self {
        SecretKey(s)
    }
}

impl From<&str> for SecretKey {
    fn from(s: &str) -> Self {
        SecretKey(s.to_string())
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey([redacted])")
    }
}

impl PartialEq for SecretKey {
    fn eq(&self, other: &Self) -> bool {
        // `ct_eq` on slices of different lengths returns false at once: the length of a secret
        // is not what we protect, its content is.
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

impl Eq for SecretKey {}

/// HMAC-SHA256 block size: keys up to this length are zero-padded, longer ones hashed first.
const BLOCK: usize = 64;

/// HMAC-SHA256 (RFC 2104).
///
/// The key is brought to the block size here so that the infallible `KeyInit::new` can be used:
/// `new_from_slice` returns a `Result` whose error cannot happen for HMAC, and handling an
/// impossible error by returning some fixed value would be a security hole if it ever happened.
pub(crate) fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut mac = <Hmac<Sha256> as KeyInit>::new(&block.into());
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// The SigV4 signing key: `HMAC("AWS4"+secret, date)` → region → service → `"aws4_request"`.
///
/// `date` is the `yyyymmdd` of the credential scope. Exposed so that callers (and tests in
/// other crates) can sign requests themselves.
pub fn signing_key(secret: &SecretKey, date: &str, region: &str, service: &str) -> [u8; 32] {
    let k_secret = format!("AWS4{}", secret.expose());
    let k_date = hmac_sha256(k_secret.as_bytes(), date.as_bytes());
    let k_region = hmac_sha256(&k_date, region.as_bytes());
    let k_service = hmac_sha256(&k_region, service.as_bytes());
    hmac_sha256(&k_service, b"aws4_request")
}

/// The signature: HMAC of the string to sign, `AWS4-HMAC-SHA256\n<amz_date>\n<scope>\n<hex
/// sha256(canonical request)>` with scope `<date>/<region>/<service>/aws4_request`, fed to the
/// MAC piece by piece rather than built.
pub(crate) fn signature(
    signing_key: &[u8; 32],
    amz_date: &str,
    [date, region, service]: [&str; 3],
    canonical_request_hash: &[u8; 32],
) -> [u8; 32] {
    let mut hashed = [0u8; 64];
    // 32 bytes always fit 64 hex digits.
    let _ = hex::encode_to_slice(canonical_request_hash, &mut hashed);
    let mut block = [0u8; BLOCK];
    block[..32].copy_from_slice(signing_key);
    let mut mac = <Hmac<Sha256> as KeyInit>::new(&block.into());
    for piece in [
        ALGORITHM.as_bytes(),
        b"\n",
        amz_date.as_bytes(),
        b"\n",
        date.as_bytes(),
        b"/",
        region.as_bytes(),
        b"/",
        service.as_bytes(),
        b"/aws4_request\n",
        &hashed,
    ] {
        mac.update(piece);
    }
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE_SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

    #[test]
    fn debug_is_redacted() {
        let key = SecretKey::new(EXAMPLE_SECRET);
        let printed = format!("{key:?} {:?}", Some(&key));
        assert!(!printed.contains(EXAMPLE_SECRET), "{printed}");
        assert!(!printed.contains("wJalr"), "{printed}");
        assert_eq!(format!("{key:?}"), "SecretKey([redacted])");
        assert_eq!(key.expose(), EXAMPLE_SECRET);
    }

    #[test]
    fn equality() {
        assert_eq!(SecretKey::new("abc"), SecretKey::new(String::from("abc")));
        assert_ne!(SecretKey::new("abc"), SecretKey::new("abd"));
        assert_ne!(SecretKey::new("abc"), SecretKey::new("abcd"));
    }

    /// The signing-key derivation example from the AWS General Reference
    /// ("Examples of how to derive a signing key for Signature Version 4").
    #[test]
    fn signing_key_published_example() {
        let key = signing_key(
            &SecretKey::new(EXAMPLE_SECRET),
            "20120215",
            "us-east-1",
            "iam",
        );
        assert_eq!(
            hex::encode(key),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
        );
    }

    /// Our block-size key handling must agree with the hmac crate's own for every key length,
    /// including keys longer than a block (a long configured secret gives such an `"AWS4"+secret`).
    #[test]
    fn hmac_matches_hmac_crate() {
        for len in [0usize, 1, 32, 63, 64, 65, 100, 200] {
            let key: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            let mut reference = <Hmac<Sha256> as Mac>::new_from_slice(&key).unwrap();
            reference.update(b"message");
            let expected: [u8; 32] = reference.finalize().into_bytes().into();
            assert_eq!(hmac_sha256(&key, b"message"), expected, "key length {len}");
        }
    }

    /// RFC 4231 test case 2 pins the HMAC itself, independently of the hmac crate.
    #[test]
    fn hmac_rfc4231_case_2() {
        assert_eq!(
            hex::encode(hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
