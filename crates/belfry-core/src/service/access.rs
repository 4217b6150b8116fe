//! Who may act on a channel, decided one way for every family: the bearer resolved (401/403),
//! the channel and the bearer's roles read at once (404), the permission table applied (403),
//! and a refusal worded once (`denial`). Every service module takes these from here, so no
//! service module depends on another.

use super::Services;
use crate::arn::{LocalId, UserKey};
use crate::auth::Caller;
use crate::error::{CoreError, CoreResult};
use crate::model::{AppInstanceUser, Channel};
use crate::perm::{authorize, Action, Refusal, Roles, Target};

/// A channel as the bearer sees it.
pub(super) struct ChannelAccess {
    pub channel: Channel,
    pub arn: String,
    pub bearer: UserKey,
    pub roles: Roles,
}

/// What a refused action tells the client.
pub(super) fn denial(action: &Action, refusal: Refusal, arn: &str, target: &str) -> CoreError {
    use Action as A;
    match (refusal, action) {
        (Refusal::Forbidden, A::AddMember { target: t, .. }) if t.roles.banned => {
            CoreError::forbidden(format!("{target} is banned from channel {arn}."))
        }
        (Refusal::Forbidden, _) => {
            let verb = match action {
                A::Describe => "describe",
                A::Update => "update",
                A::Delete => "delete",
                A::AddMember { hidden: true, .. } => "add HIDDEN members to",
                A::AddMember { .. } => "add this member to",
                A::ListMembers { hidden: true } => "list HIDDEN members of",
                A::ListMembers { .. } | A::DescribeMember { .. } => "see the members of",
                A::RemoveMember { .. } => "remove this member from",
                A::ListModerators | A::DescribeModerator { .. } => "see the moderators of",
                A::AddModerator { .. } | A::RemoveModerator { .. } => "manage the moderators of",
                A::Ban { .. } | A::Unban { .. } | A::ListBans | A::DescribeBan { .. } => {
                    "manage the bans of"
                }
                A::SendMessage { .. } => "send messages to (only DEFAULT members may)",
                A::ReadMessages => "read the messages of",
                A::EditMessage { .. } => "edit this message (only its sender may) in",
                A::RedactMessage { .. } => "redact this message in",
                A::DeleteMessage => "delete messages (only AppInstanceAdmins may) in",
                A::UpdateReadMarker => "set a read marker (only members may) in",
            };
            CoreError::forbidden(format!(
                "The bearer is not allowed to {verb} channel {arn}."
            ))
        }
        (Refusal::NotFound, A::DescribeModerator { .. } | A::RemoveModerator { .. }) => {
            CoreError::not_found(format!("{target} is not a moderator of channel {arn}."))
        }
        (Refusal::NotFound, A::DescribeBan { .. } | A::Unban { .. }) => {
            CoreError::not_found(format!("{target} is not banned from channel {arn}."))
        }
        (Refusal::NotFound, _) => {
            CoreError::not_found(format!("{target} is not a member of channel {arn}."))
        }
        (Refusal::BadRequest, A::SendMessage { .. }) => CoreError::bad(format!(
            "Target: {target} is not a member of channel {arn}."
        )),
        (Refusal::BadRequest, A::Ban { .. }) => CoreError::bad(format!(
            "{target} is an AppInstanceAdmin or a moderator of channel {arn} and cannot be banned."
        )),
        (Refusal::BadRequest, _) => CoreError::bad(format!(
            "{target} is banned from channel {arn}; delete the ban first."
        )),
        (Refusal::Conflict, A::AddModerator { .. }) => {
            CoreError::conflict(format!("{target} is already a moderator of channel {arn}."))
        }
        (Refusal::Conflict, A::Ban { .. }) => {
            CoreError::conflict(format!("{target} is already banned from channel {arn}."))
        }
        (Refusal::Conflict, _) => {
            CoreError::conflict(format!("{target} is already a member of channel {arn}."))
        }
    }
}

/// The 401 for a bearer that names no usable AppInstanceUser.
pub(super) fn invalid_bearer() -> CoreError {
    CoreError::Unauthorized(
        "An invalid app instance user ARN was supplied for the x-amz-chime-bearer HTTP header."
            .into(),
    )
}

impl Services {
    /// Resolves the `x-amz-chime-bearer` header against the addressed AppInstance: it must name
    /// an existing user of that AppInstance (else 401), whom the caller may act as (else 403).
    pub(super) async fn bearer(
        &self,
        caller: &Caller,
        header: Option<&str>,
        app_instance_id: &str,
    ) -> CoreResult<UserKey> {
        Ok(self.bearer_user(caller, header, app_instance_id).await?.key)
    }

    /// `bearer`, returning the user as stored.
    pub(super) async fn bearer_user(
        &self,
        caller: &Caller,
        header: Option<&str>,
        app_instance_id: &str,
    ) -> CoreResult<AppInstanceUser> {
        let key = self.bearer_key(header, app_instance_id)?;
        let Some(user) = self.store.get_user(&key).await? else {
            return Err(invalid_bearer());
        };
        self.may_act_as(caller, header)?;
        Ok(user)
    }

    /// The user a Describe…ForAppInstanceUser call asks about: the bearer may ask about
    /// themself, only an AppInstanceAdmin about someone else (403). A user of another region or
    /// account cannot hold a role here: `not_held` (404).
    pub(super) fn asked_about(
        &self,
        access: &ChannelAccess,
        parsed: LocalId<UserKey>,
        not_held: impl FnOnce() -> CoreError,
    ) -> CoreResult<UserKey> {
        let is_self = parsed.local && parsed.id == access.bearer;
        if !is_self && !access.roles.admin {
            return Err(CoreError::forbidden(
                "Only an AppInstanceAdmin may ask about another AppInstanceUser.",
            ));
        }
        if !parsed.local {
            return Err(not_held());
        }
        Ok(parsed.id)
    }

    /// 403 unless the signing key may act as the bearer.
    pub(super) fn may_act_as(&self, caller: &Caller, bearer: Option<&str>) -> CoreResult<()> {
        match bearer {
            Some(b) if caller.may_act_as(b) => Ok(()),
            _ => Err(CoreError::forbidden(format!(
                "The access key {} is not allowed to act as {}.",
                caller.access_key_id,
                bearer.unwrap_or("this bearer")
            ))),
        }
    }

    /// The bearer's key, from the header alone (its existence is checked by the caller).
    pub(super) fn bearer_key(
        &self,
        bearer: Option<&str>,
        app_instance_id: &str,
    ) -> CoreResult<UserKey> {
        let parsed = bearer
            .ok_or_else(|| {
                CoreError::Unauthorized("The x-amz-chime-bearer HTTP header is required.".into())
            })
            .and_then(|b| {
                self.arns
                    .parse_user("x-amz-chime-bearer", b)
                    .map_err(|_| invalid_bearer())
            })?;
        if !parsed.local || parsed.id.app_instance_id != app_instance_id {
            return Err(invalid_bearer());
        }
        Ok(parsed.id)
    }

    /// Parses a channel ARN from a path, resolves the bearer and loads the channel and the
    /// bearer's roles: 400 bad ARN, 401 bad bearer, 404 missing channel.
    pub(super) async fn channel_access(
        &self,
        caller: &Caller,
        bearer: Option<&str>,
        arn: &str,
    ) -> CoreResult<ChannelAccess> {
        let parsed = self.arns.parse_channel("ChannelArn", arn)?;
        let missing = || CoreError::not_found(format!("The channel {arn} does not exist."));
        // The bearer is checked first (401 before 404), against the AppInstance the ARN names;
        // user, channel and roles come from one read.
        let key = self.bearer_key(bearer, &parsed.id.app_instance_id)?;
        let view = self.store.channel_access(&parsed.id, &key).await?;
        if !view.user_exists {
            return Err(invalid_bearer());
        }
        self.may_act_as(caller, bearer)?;
        if !parsed.local {
            return Err(missing());
        }
        let channel = view.channel.ok_or_else(missing)?;
        let (bearer, roles) = (key, view.roles);
        Ok(ChannelAccess {
            channel,
            arn: arn.to_string(),
            bearer,
            roles,
        })
    }

    /// Applies the permission table; `target` names the user the action aims at, if any.
    pub(super) fn check(
        &self,
        access: &ChannelAccess,
        action: Action,
        target: &str,
    ) -> CoreResult<()> {
        let c = &access.channel;
        authorize(&access.roles, c.mode, c.privacy, action)
            .map_err(|r| denial(&action, r, &access.arn, target))
    }

    /// Resolves the user an action aims at to its key and its roles in the channel. A
    /// malformed ARN is a BadRequest; a user that does not exist in the channel's AppInstance
    /// is `missing(message)` (NotFound for path labels, BadRequest for some body members).
    pub(super) async fn target(
        &self,
        access: &ChannelAccess,
        field: &str,
        arn: &str,
        missing: fn(String) -> CoreError,
    ) -> CoreResult<(UserKey, Target)> {
        let parsed = self.arns.parse_user(field, arn)?;
        let exists = parsed.local
            && parsed.id.app_instance_id == access.channel.key.app_instance_id
            && self.store.get_user(&parsed.id).await?.is_some();
        if !exists {
            return Err(missing(format!(
                "{field}: the AppInstanceUser {arn} does not exist in this AppInstance."
            )));
        }
        let roles = self.store.roles(&access.channel.key, &parsed.id).await?;
        let target = Target {
            is_self: parsed.id == access.bearer,
            roles,
        };
        Ok((parsed.id, target))
    }
}
