//! The permission table: who may do what to a channel (SEMANTICS.md §4.0–4.4). One pure function
//! of the bearer's roles, the channel's mode and privacy, and the action (with the target's
//! roles where the action has a target), tested as a table with one line per case.

use crate::model::{ChannelMode, ChannelPrivacy, MembershipType};

/// A user's roles relative to one channel; permissions are their union.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Roles {
    /// AppInstanceAdmin of the channel's AppInstance.
    pub admin: bool,
    /// Moderator of the channel.
    pub moderator: bool,
    /// Membership in the channel, if any.
    pub member: Option<MembershipType>,
    /// Banned from the channel.
    pub banned: bool,
}

impl Roles {
    fn runs_channel(&self) -> bool {
        self.admin || self.moderator
    }
}

/// The user an action is aimed at: whether it is the bearer, and its roles in the channel.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Target {
    /// The target is the bearer.
    pub is_self: bool,
    /// The target's roles.
    pub roles: Roles,
}

/// Something the bearer wants to do to a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// DescribeChannel.
    Describe,
    /// UpdateChannel.
    Update,
    /// DeleteChannel.
    Delete,
    /// CreateChannelMembership / one member of BatchCreateChannelMembership.
    AddMember {
        /// Type=HIDDEN.
        hidden: bool,
        /// Who is added.
        target: Target,
    },
    /// ListChannelMemberships (`hidden`: type=HIDDEN was asked for).
    ListMembers {
        /// type=HIDDEN.
        hidden: bool,
    },
    /// DescribeChannelMembership.
    DescribeMember {
        /// Whose membership.
        target: Target,
    },
    /// DeleteChannelMembership.
    RemoveMember {
        /// Whose membership.
        target: Target,
    },
    /// ListChannelModerators.
    ListModerators,
    /// CreateChannelModerator.
    AddModerator {
        /// Who is promoted.
        target: Target,
    },
    /// DescribeChannelModerator.
    DescribeModerator {
        /// Which moderator.
        target: Target,
    },
    /// DeleteChannelModerator.
    RemoveModerator {
        /// Which moderator.
        target: Target,
    },
    /// CreateChannelBan.
    Ban {
        /// Who is banned.
        target: Target,
    },
    /// ListChannelBans.
    ListBans,
    /// DescribeChannelBan.
    DescribeBan {
        /// Whose ban.
        target: Target,
    },
    /// DeleteChannelBan.
    Unban {
        /// Whose ban.
        target: Target,
    },
    /// SendChannelMessage (`target`: the member a targeted message is addressed to).
    SendMessage {
        /// The addressee of a targeted message.
        target: Option<Target>,
    },
    /// GetChannelMessage, ListChannelMessages.
    ReadMessages,
    /// UpdateChannelMessage.
    EditMessage {
        /// The bearer sent the message.
        is_sender: bool,
    },
    /// RedactChannelMessage.
    RedactMessage {
        /// The bearer sent the message.
        is_sender: bool,
    },
    /// DeleteChannelMessage.
    DeleteMessage,
    /// UpdateChannelReadMarker.
    UpdateReadMarker,
}

/// Why an action is refused; each is one AWS exception.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// 403 ForbiddenException: the bearer may not do this.
    Forbidden,
    /// 404 NotFoundException: the membership, moderator or ban does not exist (or is hidden).
    NotFound,
    /// 400 BadRequestException: the action cannot apply to this target.
    BadRequest,
    /// 409 ConflictException: it is already so.
    Conflict,
}

fn require(allowed: bool) -> Result<(), Refusal> {
    if allowed {
        Ok(())
    } else {
        Err(Refusal::Forbidden)
    }
}

fn refuse_if(cond: bool, refusal: Refusal) -> Result<(), Refusal> {
    if cond {
        Err(refusal)
    } else {
        Ok(())
    }
}

/// Decides whether a bearer with `roles` may do `action` on a channel of `mode` and `privacy`.
/// The bearer's own permission is checked first (Forbidden), then the target's state.
pub fn authorize(
    roles: &Roles,
    mode: ChannelMode,
    privacy: ChannelPrivacy,
    action: Action,
) -> Result<(), Refusal> {
    let runs = roles.runs_channel();
    let member = roles.member.is_some();
    let visible = runs || member || privacy == ChannelPrivacy::Public;
    let unrestricted = mode == ChannelMode::Unrestricted;
    // A HIDDEN membership is invisible to everyone but admins, moderators and its owner.
    let hidden_from_bearer =
        |t: &Target| t.roles.member == Some(MembershipType::Hidden) && !runs && !t.is_self;
    match action {
        Action::Describe => require(visible),
        Action::Update | Action::Delete => require(runs),
        Action::AddMember { hidden, target } => {
            let self_join = target.is_self && privacy == ChannelPrivacy::Public;
            require(runs || (unrestricted && (member || self_join)))?;
            require(!hidden || runs)?;
            refuse_if(target.roles.banned, Refusal::Forbidden)?;
            refuse_if(target.roles.member.is_some(), Refusal::Conflict)
        }
        Action::ListMembers { hidden } => {
            require(visible)?;
            require(!hidden || runs)
        }
        Action::DescribeMember { target } => {
            require(visible)?;
            refuse_if(
                target.roles.member.is_none() || hidden_from_bearer(&target),
                Refusal::NotFound,
            )
        }
        Action::RemoveMember { target } => {
            require(runs || (member && (target.is_self || unrestricted)))?;
            refuse_if(
                target.roles.member.is_none() || hidden_from_bearer(&target),
                Refusal::NotFound,
            )
        }
        Action::ListModerators | Action::ListBans => require(runs),
        Action::AddModerator { target } => {
            require(runs)?;
            refuse_if(target.roles.banned, Refusal::BadRequest)?;
            refuse_if(target.roles.moderator, Refusal::Conflict)
        }
        Action::DescribeModerator { target } | Action::RemoveModerator { target } => {
            require(runs)?;
            refuse_if(!target.roles.moderator, Refusal::NotFound)
        }
        Action::Ban { target } => {
            require(runs)?;
            refuse_if(
                target.roles.admin || target.roles.moderator,
                Refusal::BadRequest,
            )?;
            refuse_if(target.roles.banned, Refusal::Conflict)
        }
        Action::DescribeBan { target } | Action::Unban { target } => {
            require(runs)?;
            refuse_if(!target.roles.banned, Refusal::NotFound)
        }
        // Only DEFAULT members speak: not HIDDEN members, not admins or moderators without a
        // membership of their own, not outsiders even of PUBLIC channels.
        Action::SendMessage { target } => {
            require(roles.member == Some(MembershipType::Default))?;
            refuse_if(
                target.is_some_and(|t| t.roles.member.is_none()),
                Refusal::BadRequest,
            )
        }
        Action::ReadMessages => require(visible),
        Action::EditMessage { is_sender } => require(is_sender && member),
        Action::RedactMessage { is_sender } => require(runs || (is_sender && member)),
        Action::DeleteMessage => require(roles.admin),
        Action::UpdateReadMarker => require(member),
    }
}

#[cfg(test)]
mod tests;
