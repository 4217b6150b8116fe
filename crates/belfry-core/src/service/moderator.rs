//! Channel moderators (SEMANTICS.md §4.3).

use super::Services;
use crate::auth::Caller;
use crate::error::{CoreError, CoreResult};
use crate::model::{Channel, Moderator, UserRef};
use crate::paging::{Binding, Page};
use crate::perm::Action;
use crate::store::StoreError;
use crate::validate;

impl Services {
    /// CreateChannelModerator: returns the new moderator.
    pub async fn create_channel_moderator(
        &self,
        caller: &Caller,
        bearer: Option<&str>,
        arn: &str,
        moderator_arn: Option<String>,
    ) -> CoreResult<Moderator> {
        let moderator_arn = validate::required("ChannelModeratorArn", moderator_arn)?;
        validate::chime_arn("ChannelModeratorArn", &moderator_arn)?;
        let access = self.channel_access(caller, bearer, arn).await?;
        let (user, target) = self
            .target(
                &access,
                "ChannelModeratorArn",
                &moderator_arn,
                CoreError::BadRequest,
            )
            .await?;
        self.check(&access, Action::AddModerator { target }, &moderator_arn)?;
        self.store
            .create_moderator(
                &access.channel.key,
                &user,
                &access.bearer,
                self.clock.now(),
                self.limits.moderators_per_channel,
            )
            .await
            .map_err(StoreError::for_create_moderator)
    }

    /// DescribeChannelModerator.
    pub async fn describe_channel_moderator(
        &self,
        caller: &Caller,
        bearer: Option<&str>,
        arn: &str,
        moderator_arn: &str,
    ) -> CoreResult<Moderator> {
        let access = self.channel_access(caller, bearer, arn).await?;
        let (user, target) = self
            .target(
                &access,
                "ChannelModeratorArn",
                moderator_arn,
                CoreError::NotFound,
            )
            .await?;
        self.check(&access, Action::DescribeModerator { target }, moderator_arn)?;
        self.store
            .get_moderator(&access.channel.key, &user)
            .await?
            .ok_or_else(|| {
                CoreError::not_found(format!(
                    "{moderator_arn} is not a moderator of channel {arn}."
                ))
            })
    }

    /// ListChannelModerators.
    pub async fn list_channel_moderators(
        &self,
        caller: &Caller,
        bearer: Option<&str>,
        arn: &str,
        max_results: Option<i64>,
        next_token: Option<&str>,
    ) -> CoreResult<Page<UserRef>> {
        let access = self.channel_access(caller, bearer, arn).await?;
        let binding = Binding::new(&["ListChannelModerators", arn, &access.bearer.user_id]);
        let guard = || {
            self.check(&access, Action::ListModerators, "")?;
            Ok(())
        };
        self.seq_page(binding, max_results, next_token, guard, |after, limit| {
            self.store
                .list_moderators(&access.channel.key, after, limit)
        })
        .await
    }

    /// DeleteChannelModerator: the membership, if any, stays.
    pub async fn delete_channel_moderator(
        &self,
        caller: &Caller,
        bearer: Option<&str>,
        arn: &str,
        moderator_arn: &str,
    ) -> CoreResult<()> {
        let access = self.channel_access(caller, bearer, arn).await?;
        let (user, target) = self
            .target(
                &access,
                "ChannelModeratorArn",
                moderator_arn,
                CoreError::NotFound,
            )
            .await?;
        self.check(&access, Action::RemoveModerator { target }, moderator_arn)?;
        Ok(self
            .store
            .delete_moderator(&access.channel.key, &user)
            .await?)
    }

    /// DescribeChannelModeratedByAppInstanceUser: 404 when the user does not moderate it.
    pub async fn describe_channel_moderated_by_app_instance_user(
        &self,
        caller: &Caller,
        bearer: Option<&str>,
        arn: &str,
        user_arn: Option<&str>,
    ) -> CoreResult<Channel> {
        let user_arn = validate::required("AppInstanceUserArn", user_arn)?;
        let parsed = self.arns.parse_user("AppInstanceUserArn", user_arn)?;
        let access = self.channel_access(caller, bearer, arn).await?;
        let not_held =
            || CoreError::not_found(format!("{user_arn} is not a moderator of channel {arn}."));
        let user = self.asked_about(&access, parsed, not_held)?;
        match self.store.get_moderator(&access.channel.key, &user).await? {
            Some(_) => Ok(access.channel),
            None => Err(not_held()),
        }
    }

    /// ListChannelsModeratedByAppInstanceUser.
    pub async fn list_channels_moderated_by_app_instance_user(
        &self,
        caller: &Caller,
        bearer: Option<&str>,
        user_arn: Option<&str>,
        max_results: Option<i64>,
        next_token: Option<&str>,
    ) -> CoreResult<Page<Channel>> {
        let (me, user) = self.user_scope(caller, bearer, user_arn).await?;
        let binding = Binding::new(&[
            "ListChannelsModeratedByAppInstanceUser",
            &user.app_instance_id,
            &user.user_id,
            &me.user_id,
        ]);
        self.seq_page(
            binding,
            max_results,
            next_token,
            || Ok(()),
            |after, limit| self.store.list_moderated_channels(&user, after, limit),
        )
        .await
    }
}
