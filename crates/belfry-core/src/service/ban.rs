//! Channel bans (SEMANTICS.md §4.4).

use super::Services;
use crate::auth::Caller;
use crate::error::{CoreError, CoreResult};
use crate::events::{DomainEvent, Published};
use crate::model::{Ban, UserRef};
use crate::paging::{Binding, Page};
use crate::perm::Action;
use crate::validate;

impl Services {
    /// CreateChannelBan: removes the user's membership at once. Returns the ban.
    pub async fn create_channel_ban(
        &self,
        caller: &Caller,
        bearer: Option<&str>,
        arn: &str,
        member_arn: Option<String>,
    ) -> CoreResult<Ban> {
        let member_arn = validate::required("MemberArn", member_arn)?;
        validate::chime_arn("MemberArn", &member_arn)?;
        let access = self.channel_access(caller, bearer, arn).await?;
        let (user, target) = self
            .target(&access, "MemberArn", &member_arn, CoreError::BadRequest)
            .await?;
        self.check(&access, Action::Ban { target }, &member_arn)?;
        let (ban, kicked) = self
            .store
            .create_ban(&access.channel.key, &user, &access.bearer, self.clock.now())
            .await?;
        if let Some((m, seq)) = kicked {
            self.events
                .publish(Published::at(seq, DomainEvent::MembershipDeleted(m)));
        }
        Ok(ban)
    }

    /// DescribeChannelBan.
    pub async fn describe_channel_ban(
        &self,
        caller: &Caller,
        bearer: Option<&str>,
        arn: &str,
        member_arn: &str,
    ) -> CoreResult<Ban> {
        let access = self.channel_access(caller, bearer, arn).await?;
        let (user, target) = self
            .target(&access, "MemberArn", member_arn, CoreError::NotFound)
            .await?;
        self.check(&access, Action::DescribeBan { target }, member_arn)?;
        self.store
            .get_ban(&access.channel.key, &user)
            .await?
            .ok_or_else(|| {
                CoreError::not_found(format!("{member_arn} is not banned from channel {arn}."))
            })
    }

    /// ListChannelBans.
    pub async fn list_channel_bans(
        &self,
        caller: &Caller,
        bearer: Option<&str>,
        arn: &str,
        max_results: Option<i64>,
        next_token: Option<&str>,
    ) -> CoreResult<Page<UserRef>> {
        let access = self.channel_access(caller, bearer, arn).await?;
        let binding = Binding::new(&["ListChannelBans", arn, &access.bearer.user_id]);
        let guard = || {
            self.check(&access, Action::ListBans, "")?;
            Ok(())
        };
        self.seq_page(binding, max_results, next_token, guard, |after, limit| {
            self.store.list_bans(&access.channel.key, after, limit)
        })
        .await
    }

    /// DeleteChannelBan: the membership is not restored.
    pub async fn delete_channel_ban(
        &self,
        caller: &Caller,
        bearer: Option<&str>,
        arn: &str,
        member_arn: &str,
    ) -> CoreResult<()> {
        let access = self.channel_access(caller, bearer, arn).await?;
        let (user, target) = self
            .target(&access, "MemberArn", member_arn, CoreError::NotFound)
            .await?;
        self.check(&access, Action::Unban { target }, member_arn)?;
        Ok(self.store.delete_ban(&access.channel.key, &user).await?)
    }
}
