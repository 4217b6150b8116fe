//! The permission table: who may do what to a channel (SEMANTICS.md §4.0–4.4). One pure function,
//! tested as a table with one line per case.

use crate::model::{ChannelMode, ChannelPrivacy, MembershipType};

/// The bearer's roles relative to one channel; permissions are their union.
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

/// Something the bearer wants to do to a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// DescribeChannel.
    Describe,
    /// UpdateChannel.
    Update,
    /// DeleteChannel.
    Delete,
}

/// Why an action is refused; the service turns it into the matching exception.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// 403 ForbiddenException.
    Forbidden,
    /// 404 NotFoundException.
    NotFound,
}

/// Decides whether `roles` may do `action` on a channel of `mode` and `privacy`.
pub fn authorize(
    roles: &Roles,
    _mode: ChannelMode,
    privacy: ChannelPrivacy,
    action: Action,
) -> Result<(), Refusal> {
    let visible =
        roles.runs_channel() || roles.member.is_some() || privacy == ChannelPrivacy::Public;
    match action {
        Action::Describe if visible => Ok(()),
        Action::Update | Action::Delete if roles.runs_channel() => Ok(()),
        Action::Describe | Action::Update | Action::Delete => Err(Refusal::Forbidden),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Action::*;
    use ChannelMode::{Restricted as R, Unrestricted as U};
    use ChannelPrivacy::{Private as Prv, Public as Pub};

    const ADMIN: Roles = Roles {
        admin: true,
        moderator: false,
        member: None,
        banned: false,
    };
    const MOD: Roles = Roles {
        admin: false,
        moderator: true,
        member: None,
        banned: false,
    };
    const MEM: Roles = Roles {
        admin: false,
        moderator: false,
        member: Some(MembershipType::Default),
        banned: false,
    };
    const HID: Roles = Roles {
        admin: false,
        moderator: false,
        member: Some(MembershipType::Hidden),
        banned: false,
    };
    const NON: Roles = Roles {
        admin: false,
        moderator: false,
        member: None,
        banned: false,
    };

    const OK: Result<(), Refusal> = Ok(());
    const FORBIDDEN: Result<(), Refusal> = Err(Refusal::Forbidden);

    type Row = (
        Roles,
        ChannelMode,
        ChannelPrivacy,
        Action,
        Result<(), Refusal>,
    );

    #[rustfmt::skip]
    const TABLE: &[Row] = &[
        (ADMIN, U, Prv, Describe, OK),
        (MOD,   R, Prv, Describe, OK),
        (MEM,   U, Prv, Describe, OK),
        (HID,   U, Prv, Describe, OK),
        (NON,   U, Pub, Describe, OK),
        (NON,   R, Pub, Describe, OK),
        (NON,   U, Prv, Describe, FORBIDDEN),
        (ADMIN, U, Pub, Update,   OK),
        (MOD,   R, Prv, Update,   OK),
        (MEM,   U, Pub, Update,   FORBIDDEN),
        (NON,   U, Pub, Update,   FORBIDDEN),
        (ADMIN, R, Prv, Delete,   OK),
        (MOD,   U, Pub, Delete,   OK),
        (MEM,   U, Pub, Delete,   FORBIDDEN),
        (HID,   U, Prv, Delete,   FORBIDDEN),
        (NON,   R, Prv, Delete,   FORBIDDEN),
    ];

    #[test]
    fn table() {
        for (i, (roles, mode, privacy, action, want)) in TABLE.iter().enumerate() {
            assert_eq!(
                authorize(roles, *mode, *privacy, *action),
                *want,
                "row {i}: {roles:?} {mode:?} {privacy:?} {action:?}"
            );
        }
    }
}
