//! Services: one module per resource family. Each operation validates its input, resolves the
//! bearer, checks that the addressed resources exist, applies the permission table, then calls
//! the Store — in that order, so errors take AWS's precedence (SEMANTICS.md §1.6).

mod access;
mod app_instance;
mod ban;
mod channel;
mod input;
mod keys;
mod membership;
mod message;
mod moderator;
mod session;
mod tags;
mod user;

use std::sync::Arc;

use sha2::{Digest, Sha256};

pub use app_instance::{CreateAppInstance, UpdateAppInstance};
pub use channel::{CreateChannel, UpdateChannel};
pub use input::{ExpirationInput, TagInput};
pub use membership::{BatchError, BatchOutcome};
pub use message::{
    ListChannelMessages, PushInput, SendChannelMessage, UpdateChannelMessage,
    CONTROL_CONTENT_BYTES, STANDARD_CONTENT_BYTES,
};
pub use session::{
    ChannelDetails, PrefetchSort, PREFETCH_CHANNELS, PREFETCH_MEMBERSHIPS, PREFETCH_MESSAGES,
};
pub use user::{CreateAppInstanceUser, UpdateAppInstanceUser};

use crate::arn::ArnContext;
use crate::error::CoreResult;
use crate::events::EventBus;
use crate::paging::{seq_cursor, Binding, Page, PageSigner};
use crate::store::Store;
use crate::store::{Seq, StoreResult};
use crate::time::Clock;

/// Quotas. AWS publishes the names of its quotas but not all values; these defaults follow
/// SEMANTICS.md §8 and are configurable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// AppInstances per account.
    pub app_instances: u64,
    /// AppInstanceUsers per AppInstance.
    pub users_per_app_instance: u64,
    /// AppInstanceAdmins per AppInstance.
    pub admins_per_app_instance: u64,
    /// Channels per AppInstance.
    pub channels_per_app_instance: u64,
    /// Tags per resource.
    pub tags_per_resource: usize,
    /// Memberships per channel.
    pub members_per_channel: u64,
    /// Memberships per user.
    pub memberships_per_user: u64,
    /// Moderators per channel.
    pub moderators_per_channel: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            app_instances: 100,
            users_per_app_instance: 1_000_000,
            admins_per_app_instance: 100,
            channels_per_app_instance: 10_000_000,
            tags_per_resource: 50,
            members_per_channel: 100_000,
            memberships_per_user: 10_000,
            moderators_per_channel: 100,
        }
    }
}

/// Everything the services need, passed in explicitly.
pub struct Services {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    events: Arc<dyn EventBus>,
    arns: ArnContext,
    pages: PageSigner,
    limits: Limits,
}

impl Services {
    /// Wires the services to their adapters.
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        events: Arc<dyn EventBus>,
        arns: ArnContext,
        pages: PageSigner,
        limits: Limits,
    ) -> Self {
        Services {
            store,
            clock,
            events,
            arns,
            pages,
            limits,
        }
    }

    /// How this server formats ARNs.
    pub fn arns(&self) -> &ArnContext {
        &self.arns
    }

    /// The store, for shutdown.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }
}

impl Services {
    /// One page of a listing in creation (`seq`) order: validates `max-results` and
    /// `next-token` against `binding`, then runs `guard` (permission checks come after input
    /// validation), fetches one row more than the page (it only says that more exist) after the
    /// cursor, and signs the next token.
    async fn seq_page<T, Fut>(
        &self,
        binding: Binding,
        max_results: Option<i64>,
        next_token: Option<&str>,
        guard: impl FnOnce() -> CoreResult<()>,
        fetch: impl FnOnce(Option<i64>, usize) -> Fut,
    ) -> CoreResult<Page<T>>
    where
        Fut: std::future::Future<Output = StoreResult<Vec<Seq<T>>>>,
    {
        let req = self.pages.request(&binding, max_results, next_token)?;
        guard()?;
        let rows = fetch(seq_cursor(req.after.as_deref())?, req.limit + 1).await?;
        let page = self
            .pages
            .page(&binding, req.limit, rows, |r| r.seq.to_string());
        Ok(Page {
            items: page.items.into_iter().map(|r| r.value).collect(),
            next_token: page.next_token,
        })
    }
}

/// The part of a fingerprint that stands for a tag list.
fn tags_part(tags: &[crate::model::Tag]) -> String {
    tags.iter()
        .map(|t| format!("{}\u{1}{}", t.key, t.value))
        .collect::<Vec<_>>()
        .join("\u{2}")
}

/// The part of a fingerprint that stands for expiration settings.
fn expiration_part(e: Option<crate::model::ExpirationSettings>) -> String {
    e.map(|e| format!("{}:{}", e.days, e.criterion.as_str()))
        .unwrap_or_default()
}

/// A digest of a request's parameters, for idempotency checks.
fn fingerprint(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p.as_bytes());
    }
    hex::encode(h.finalize())
}
