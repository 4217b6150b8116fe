//! The one integration-test binary: every test starts a real Belfry server on 127.0.0.1:0 (or
//! the built binary) and talks to it with the official AWS SDK crates, so the wire format and
//! SigV4 are exercised exactly as users exercise them.

// Table-driven cases are tuples of borrowed slices; naming each shape would not help.
#![allow(clippy::type_complexity)]

mod abuse;
mod admin;
mod auth;
mod batch;
mod binary;
mod channels;
mod cors;
mod deploy;
mod durability;
mod errors;
mod fault;
mod harness;
mod history;
mod idempotency;
mod identity;
mod js_session;
mod limits;
mod memberships;
mod messages;
mod moderation;
pub(crate) mod multinode;
mod node;
mod not_implemented;
mod observability;
mod raw;
mod realtime;
mod realtime_connect;
mod tags;
mod throttle;
mod tls;
mod web_chat;
mod wire;
mod ws;
