//! Belfry's domain: the resources of Chime SDK Messaging and Identity, their validation, the
//! permission table, the services that enforce them, and the ports (`Store`, `EventBus`, `Clock`)
//! that adapters implement. Knows nothing of HTTP, JSON or SQL.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod arn;
pub mod auth;
pub mod error;
pub mod events;
pub mod ids;
pub mod model;
pub mod paging;
pub mod perm;
pub mod service;
pub mod store;
pub mod time;
pub mod validate;

pub use error::{CoreError, CoreResult};
pub use service::{Limits, Services};
