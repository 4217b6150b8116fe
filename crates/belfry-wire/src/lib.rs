//! Belfry's AWS face: the operation table, restJson1 decoding and encoding, the SigV4 gate and
//! the AWS error mapping. Only this crate knows HTTP and JSON.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod admin;
pub mod auth;
mod body;
pub mod cors;
pub mod dto;
pub mod error;
pub mod handlers;
pub mod health;
pub mod metrics;
pub mod ops;
pub mod ops_unimplemented;
pub mod request;
pub mod router;
pub mod server;
pub mod session;
pub mod throttle;

pub use auth::{AccessKey, Authenticator};
pub use cors::CorsOrigins;
pub use server::{router as app, AppState, DEFAULT_MAX_SKEW};
pub use session::ConnectionSlot;
pub use throttle::{Throttle, ThrottleConfig};
