//! Revoking access keys kept in the store (Belfry's admin API, not an AWS operation).

use super::Services;
use crate::error::CoreResult;
use crate::events::{DomainEvent, Published};

impl Services {
    /// Removes the stored key `id` and ends the sessions it opened, on every node; `false` if
    /// there was no such key. Requests it signs are refused from the commit on, since every
    /// node looks stored keys up on each use.
    pub async fn revoke_access_key(&self, id: &str) -> CoreResult<bool> {
        let deleted = self.store.delete_access_key(id).await?;
        if deleted {
            self.events
                .publish(Published::unordered(DomainEvent::AccessKeyRevoked {
                    id: id.to_owned(),
                }));
        }
        Ok(deleted)
    }
}
