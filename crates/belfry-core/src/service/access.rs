//! Who may act on a channel, decided one way for every family: the bearer resolved (401/403),
//! the channel and the bearer's roles read at once (404), the permission table applied (403),
//! and a refusal worded once (`denial`). Every service module takes these from here, so no
//! service module depends on another.
//!
//! A channel write whose right can be lost between that read and the write (send, edit,
//! redact, delete a message; set a read marker) also hands the store a `ChannelPolicy` built
//! here: the same rules, run by the store on what the write's own transaction reads.

use super::Services;
use crate::arn::{LocalId, UserKey};
use crate::auth::Caller;
use crate::error::{CoreError, CoreResult};
use crate::model::{AppInstanceUser, Channel};
use crate::perm::{authorize, Action, Refusal, Roles, Target};
use crate::store::{ChannelContext, ChannelPolicy};

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

/// The 404 for a channel that does not exist.
fn no_channel(arn: &str) -> CoreError {
    CoreError::not_found(format!("The channel {arn} does not exist."))
}

/// What a send's policy knows before the store reads anything: SendChannelMessage reads
/// nothing first, so the whole decision (401, 403, 404, the permission table) is the policy's.
pub(super) struct SendRights {
    /// The signing key may act as the bearer.
    pub may_act: bool,
    /// The signing key, for the 403's words.
    pub access_key: String,
    /// The bearer as given, for the 403's words.
    pub bearer_arn: String,
    /// The channel as addressed.
    pub channel_arn: String,
    /// The target's ARN, for a targeted message.
    pub target_arn: Option<String>,
    /// The target is the sender.
    pub to_self: bool,
}

/// SendChannelMessage's policy, in AWS's error order: unknown bearer (401), a key that may not
/// act as it (403), no channel (404), then the permission table.
pub(super) fn send_policy(rights: SendRights) -> ChannelPolicy {
    Box::new(move |ctx: &ChannelContext| {
        if ctx.actor_name.is_none() {
            return Err(invalid_bearer());
        }
        if !rights.may_act {
            return Err(CoreError::forbidden(format!(
                "The access key {} is not allowed to act as {}.",
                rights.access_key, rights.bearer_arn
            )));
        }
        let c = ctx
            .channel
            .as_ref()
            .ok_or_else(|| no_channel(&rights.channel_arn))?;
        let action = Action::SendMessage {
            target: ctx.target.map(|roles| Target {
                is_self: rights.to_self,
                roles,
            }),
        };
        authorize(&ctx.actor, c.mode, c.privacy, action).map_err(|r| {
            denial(
                &action,
                r,
                &rights.channel_arn,
                rights.target_arn.as_deref().unwrap_or(""),
            )
        })
    })
}

/// A channel write that re-checks its right inside its transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Write {
    /// UpdateChannelMessage.
    Edit,
    /// RedactChannelMessage.
    Redact,
    /// DeleteChannelMessage.
    Delete,
    /// UpdateChannelReadMarker.
    ReadMarker,
}

/// The policy of a write the service has already checked on `access` (its earlier read gave
/// the 400/404s in AWS's order): the same permission checks again, on the roles, channel and
/// message sender the write's transaction reads, so a right lost in between (membership
/// removed, ban, admin or moderator revoked, user or channel deleted) refuses the write.
pub(super) fn write_policy(access: &ChannelAccess, write: Write) -> ChannelPolicy {
    let arn = access.arn.clone();
    let bearer = access.bearer.clone();
    Box::new(move |ctx: &ChannelContext| {
        if ctx.actor_name.is_none() {
            return Err(invalid_bearer());
        }
        let c = ctx.channel.as_ref().ok_or_else(|| no_channel(&arn))?;
        let is_sender = ctx.message_sender.as_ref() == Some(&bearer);
        // Who cannot read the channel may neither edit nor redact in it (as `check` decided
        // on the earlier read).
        let (first, then) = match write {
            Write::Edit => (
                Action::ReadMessages,
                Some(Action::EditMessage { is_sender }),
            ),
            Write::Redact => (
                Action::ReadMessages,
                Some(Action::RedactMessage { is_sender }),
            ),
            Write::Delete => (Action::DeleteMessage, None),
            Write::ReadMarker => (Action::UpdateReadMarker, None),
        };
        for action in std::iter::once(first).chain(then) {
            authorize(&ctx.actor, c.mode, c.privacy, action)
                .map_err(|r| denial(&action, r, &arn, ""))?;
        }
        Ok(())
    })
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
        let missing = || no_channel(arn);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arn::ChannelKey;
    use crate::model::{ChannelMode, ChannelPrivacy, MembershipType, UserRef};
    use crate::time::Timestamp;

    const ARN: &str = "arn:aws:chime:us-east-1:1:app-instance/app/channel/c";

    fn user(id: &str) -> UserKey {
        UserKey {
            app_instance_id: "app".into(),
            user_id: id.into(),
        }
    }

    fn channel() -> Channel {
        Channel {
            key: ChannelKey {
                app_instance_id: "app".into(),
                channel_id: "c".into(),
            },
            name: "c".into(),
            mode: ChannelMode::Unrestricted,
            privacy: ChannelPrivacy::Public,
            metadata: None,
            created_by: UserRef {
                key: user("owner"),
                name: None,
            },
            created: Timestamp(1),
            updated: Timestamp(1),
            last_message: None,
            expiration: None,
        }
    }

    const MEMBER: Roles = Roles {
        admin: false,
        moderator: false,
        member: Some(MembershipType::Default),
        banned: false,
    };

    /// What "alice" had on the service's earlier read: a member, sender of the message.
    fn access() -> ChannelAccess {
        ChannelAccess {
            channel: channel(),
            arn: ARN.into(),
            bearer: user("alice"),
            roles: MEMBER,
        }
    }

    /// The context the write's transaction reads: alice's name, the channel, `roles`, the
    /// message sent by `sender`.
    fn ctx(roles: Roles, sender: &str) -> ChannelContext {
        ChannelContext {
            actor_name: Some("alice".into()),
            channel: Some(channel()),
            actor: roles,
            target: None,
            message_sender: Some(user(sender)),
        }
    }

    fn decide(write: Write, ctx: &ChannelContext) -> CoreResult<()> {
        write_policy(&access(), write)(ctx)
    }

    /// The policy decides on what the transaction read, not on the earlier read it was built
    /// from: the same member is allowed while still a member, refused (in `denial`'s words) once
    /// removed or banned; a user or channel gone in between is the 401 or 404 a fresh request
    /// would get.
    #[test]
    fn write_policies_decide_on_the_state_the_write_reads() {
        let removed = Roles::default();
        let banned = Roles {
            banned: true,
            ..Roles::default()
        };
        let admin = Roles {
            admin: true,
            ..Roles::default()
        };
        let denied = |verb: &str| {
            Err(CoreError::forbidden(format!(
                "The bearer is not allowed to {verb} channel {ARN}."
            )))
        };
        let edit_words = "edit this message (only its sender may) in";
        for (write, roles, sender, want) in [
            (Write::Edit, MEMBER, "alice", Ok(())),
            (Write::Edit, MEMBER, "bob", denied(edit_words)),
            (Write::Edit, removed, "alice", denied(edit_words)),
            (Write::Edit, banned, "alice", denied(edit_words)),
            (Write::Redact, MEMBER, "alice", Ok(())),
            (
                Write::Redact,
                removed,
                "alice",
                denied("redact this message in"),
            ),
            (Write::Redact, admin, "bob", Ok(())),
            (Write::Delete, admin, "bob", Ok(())),
            (
                Write::Delete,
                MEMBER,
                "alice",
                denied("delete messages (only AppInstanceAdmins may) in"),
            ),
            (Write::ReadMarker, MEMBER, "alice", Ok(())),
            (
                Write::ReadMarker,
                removed,
                "alice",
                denied("set a read marker (only members may) in"),
            ),
        ] {
            assert_eq!(
                decide(write, &ctx(roles, sender)),
                want,
                "{write:?} {roles:?} on {sender}'s message"
            );
        }
        let gone = ChannelContext {
            actor_name: None,
            ..ctx(MEMBER, "alice")
        };
        assert_eq!(decide(Write::Edit, &gone), Err(invalid_bearer()));
        let no_channel = ChannelContext {
            channel: None,
            ..ctx(MEMBER, "alice")
        };
        assert!(matches!(
            decide(Write::ReadMarker, &no_channel),
            Err(CoreError::NotFound(m)) if m.contains(ARN)
        ));
    }
}
