//! Belfry's AWS face: the operation table, restJson1 decoding and encoding, the SigV4 gate and
//! the AWS error mapping. Only this crate knows HTTP and JSON.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod auth;
pub mod dto;
pub mod error;
pub mod handlers;
pub mod ops;
pub mod request;
pub mod router;
pub mod server;
pub mod session;
pub mod throttle;

pub use auth::{AccessKey, Authenticator};
pub use server::{router as app, AppState, DEFAULT_MAX_SKEW};
pub use throttle::{Throttle, ThrottleConfig};

/// The AWS wording for a member that is not of the model's type.
pub(crate) fn validate_message(path: &str, detail: &str) -> String {
    // serde says "invalid type: integer `5`, expected a string"; AWS says what the member must be.
    let rule = match detail
        .strip_prefix("invalid type: ")
        .and_then(|d| d.split_once(", expected "))
    {
        Some((got, expected)) => format!("must be {expected} (got {got})"),
        None => format!("is invalid: {detail}"),
    };
    format!("1 validation error detected: Value at '{path}' failed to satisfy constraint: Member {rule}")
}
