//! Store adapters for belfry-core. SQLite is the embedded default, PostgreSQL serves several
//! nodes; every adapter must pass
//! [`conformance`], the one suite that defines what a Store does.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod codec;
#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
pub mod postgres;
pub mod sqlite;

pub use postgres::{PgOptions, PgStore};
pub use sqlite::SqliteStore;
