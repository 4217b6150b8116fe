//! Server-side verification of AWS Signature Version 4, as the AWS front door does it.
//!
//! Belfry must accept requests signed by the official AWS SDKs (aws-sdk-rust, botocore,
//! aws-sdk-js-v3) and the presigned websocket URL built by amazon-chime-sdk-js, so this crate
//! reproduces their canonicalization exactly (non-S3 rules: the URI path is encoded twice).
//!
//! The crate is pure: no I/O, no clock (the caller passes `now`), no async. Verification is
//! split in two so the caller can look the secret up in between:
//!
//! 1. [`parse`] reads the `Authorization` header (or the presigned `X-Amz-*` query parameters)
//!    and returns the claimed identity and scope as [`ParsedAuth`];
//! 2. [`verify`] recomputes the signature with the caller's [`SecretKey`] and checks scope,
//!    time window and payload hash against a [`VerifyPolicy`].
//!
//! Every refusal is a [`SigV4Error`], which knows the AWS error type it maps to.
//!
//! ```
//! use std::time::{Duration, UNIX_EPOCH};
//! use belfry_sigv4::{parse, verify, RequestParts, SecretKey, VerifyPolicy};
//!
//! // The "get-vanilla" request of AWS's SigV4 test suite.
//! let headers = [
//!     ("Host", "example.amazonaws.com"),
//!     ("X-Amz-Date", "20150830T123600Z"),
//!     ("Authorization", "AWS4-HMAC-SHA256 \
//!         Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
//!         SignedHeaders=host;x-amz-date, \
//!         Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
//! ];
//! let req = RequestParts { method: "GET", raw_path: "/", raw_query: "", headers: &headers, body: b"" };
//!
//! let auth = parse(&req)?;
//! // Look the secret up by `auth.access_key_id` (unknown key: UnrecognizedClientException).
//! assert_eq!(auth.access_key_id, "AKIDEXAMPLE");
//! let secret = SecretKey::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
//! let policy = VerifyPolicy { region: "us-east-1", service: "service", max_skew: Duration::from_secs(300) };
//! let now = UNIX_EPOCH + Duration::from_secs(1_440_938_160); // 2015-08-30T12:36:00Z
//! verify(&req, &auth, &secret, &policy, now)?;
//! # Ok::<(), belfry_sigv4::SigV4Error>(())
//! ```

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![warn(missing_docs)]

mod canonical;
mod error;
mod key;
mod parse;
mod presign;
mod sign;
mod time;
mod verify;

#[cfg(test)]
mod tests;

pub use error::SigV4Error;
pub use key::{signing_key, SecretKey};
pub use parse::{parse, ParsedAuth};
pub use sign::{Signature, Signer};
pub use verify::{verify, verify_with_key};

use std::fmt;
use std::time::Duration;

/// The only signing algorithm accepted (SigV4a and the older versions are not).
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// One incoming HTTP request, as received (nothing decoded).
///
/// Signatures cover the bytes the client sent, so the caller must hand over the raw path and
/// query, not a router's decoded view of them. For HTTP/2 requests without a `Host` header the
/// caller should add one from `:authority`, since clients sign `host`.
#[derive(Clone, Copy)]
pub struct RequestParts<'a> {
    /// The method, e.g. `"GET"`.
    pub method: &'a str,
    /// The path exactly as sent, still percent-encoded, e.g. `/channels/arn%3Aaws%3Achime%3A...`.
    pub raw_path: &'a str,
    /// The query string as sent, without the leading `?`; may be empty.
    pub raw_query: &'a str,
    /// `(name, value)` pairs as received; names in any case; a name may repeat.
    pub headers: &'a [(&'a str, &'a str)],
    /// The request body.
    pub body: &'a [u8],
}

impl fmt::Debug for RequestParts<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Names only: header values and query values can carry session tokens and signatures,
        // which must not end up in logs.
        let header_names: Vec<&str> = self.headers.iter().map(|(name, _)| *name).collect();
        let query_keys: Vec<&str> = self
            .raw_query
            .split('&')
            .filter(|piece| !piece.is_empty())
            .map(|piece| piece.split_once('=').map_or(piece, |(key, _)| key))
            .collect();
        f.debug_struct("RequestParts")
            .field("method", &self.method)
            .field("raw_path", &self.raw_path)
            .field("query_keys", &query_keys)
            .field("header_names", &header_names)
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// Which signing form the request used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureForm {
    /// `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`.
    Header,
    /// Signature in the query string (`X-Amz-Signature` and friends), as in a presigned URL.
    Presigned {
        /// `X-Amz-Expires`: how long after `X-Amz-Date` the URL stays valid.
        expires_secs: u64,
    },
}

/// What the server accepts.
#[derive(Debug, Clone, Copy)]
pub struct VerifyPolicy<'a> {
    /// The region requests must be scoped to, e.g. `"us-east-1"`.
    pub region: &'a str,
    /// The signing name requests must be scoped to (`"chime"` for both Chime SDK services).
    pub service: &'a str,
    /// How far the request time may be from `now` (AWS uses 5 minutes). For presigned URLs it
    /// widens both ends of the validity window.
    pub max_skew: Duration,
}
