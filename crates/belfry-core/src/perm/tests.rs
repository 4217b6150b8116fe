//! The permission table, one line per (bearer roles × mode × privacy × action) case.

use super::*;
use Action::*;
use ChannelMode::{Restricted as R, Unrestricted as U};
use ChannelPrivacy::{Private as Prv, Public as Pub};

const fn roles(
    admin: bool,
    moderator: bool,
    member: Option<MembershipType>,
    banned: bool,
) -> Roles {
    Roles {
        admin,
        moderator,
        member,
        banned,
    }
}

const ADMIN: Roles = roles(true, false, None, false);
const MOD: Roles = roles(false, true, None, false);
const MEM: Roles = roles(false, false, Some(MembershipType::Default), false);
const HID: Roles = roles(false, false, Some(MembershipType::Hidden), false);
const NON: Roles = roles(false, false, None, false);
const BANNED: Roles = roles(false, false, None, true);
const MOD_MEM: Roles = roles(false, true, Some(MembershipType::Default), false);

/// Targets: someone else with these roles, or the bearer itself.
const fn other(r: Roles) -> Target {
    Target {
        is_self: false,
        roles: r,
    }
}
const fn me(r: Roles) -> Target {
    Target {
        is_self: true,
        roles: r,
    }
}

const OK: Result<(), Refusal> = Ok(());
const FORBIDDEN: Result<(), Refusal> = Err(Refusal::Forbidden);
const NOT_FOUND: Result<(), Refusal> = Err(Refusal::NotFound);
const BAD: Result<(), Refusal> = Err(Refusal::BadRequest);
const CONFLICT: Result<(), Refusal> = Err(Refusal::Conflict);

type Row = (
    Roles,
    ChannelMode,
    ChannelPrivacy,
    Action,
    Result<(), Refusal>,
);

#[rustfmt::skip]
const TABLE: &[Row] = &[
    // DescribeChannel: everyone who belongs, outsiders only for PUBLIC.
    (ADMIN, U, Prv, Describe, OK),
    (MOD,   R, Prv, Describe, OK),
    (MEM,   U, Prv, Describe, OK),
    (HID,   U, Prv, Describe, OK),
    (NON,   U, Pub, Describe, OK),
    (NON,   R, Pub, Describe, OK),
    (NON,   U, Prv, Describe, FORBIDDEN),
    (BANNED,R, Prv, Describe, FORBIDDEN),
    // UpdateChannel / DeleteChannel: admins and moderators.
    (ADMIN, U, Pub, Update, OK),
    (MOD,   R, Prv, Update, OK),
    (MEM,   U, Pub, Update, FORBIDDEN),
    (NON,   U, Pub, Update, FORBIDDEN),
    (ADMIN, R, Prv, Delete, OK),
    (MOD,   U, Pub, Delete, OK),
    (MEM,   U, Pub, Delete, FORBIDDEN),
    (HID,   U, Prv, Delete, FORBIDDEN),
    (NON,   R, Prv, Delete, FORBIDDEN),
    // CreateChannelMembership: RESTRICTED → admins and moderators only.
    (ADMIN, R, Prv, AddMember { hidden: false, target: other(NON) }, OK),
    (MOD,   R, Pub, AddMember { hidden: false, target: other(NON) }, OK),
    (MEM,   R, Pub, AddMember { hidden: false, target: other(NON) }, FORBIDDEN),
    (NON,   R, Pub, AddMember { hidden: false, target: me(NON) },    FORBIDDEN),
    // UNRESTRICTED → members add others too.
    (MEM,   U, Pub, AddMember { hidden: false, target: other(NON) }, OK),
    (MEM,   U, Prv, AddMember { hidden: false, target: other(NON) }, OK),
    (HID,   U, Prv, AddMember { hidden: false, target: other(NON) }, OK),
    (NON,   U, Pub, AddMember { hidden: false, target: other(NON) }, FORBIDDEN),
    // PUBLIC (and UNRESTRICTED) → a user may add themself; PRIVATE never.
    (NON,   U, Pub, AddMember { hidden: false, target: me(NON) },    OK),
    (NON,   U, Prv, AddMember { hidden: false, target: me(NON) },    FORBIDDEN),
    // HIDDEN memberships: admins and moderators only.
    (ADMIN, U, Pub, AddMember { hidden: true, target: other(NON) },  OK),
    (MOD,   R, Prv, AddMember { hidden: true, target: other(NON) },  OK),
    (MEM,   U, Pub, AddMember { hidden: true, target: other(NON) },  FORBIDDEN),
    (NON,   U, Pub, AddMember { hidden: true, target: me(NON) },     FORBIDDEN),
    // Banned targets cannot be added; existing members conflict.
    (MOD,   U, Pub, AddMember { hidden: false, target: other(BANNED) }, FORBIDDEN),
    (BANNED,U, Pub, AddMember { hidden: false, target: me(BANNED) },    FORBIDDEN),
    (MOD,   U, Pub, AddMember { hidden: false, target: other(MEM) },    CONFLICT),
    (MEM,   U, Pub, AddMember { hidden: false, target: me(MEM) },       CONFLICT),
    // ListChannelMemberships: visibility; type=HIDDEN for admins and moderators.
    (NON,   U, Pub, ListMembers { hidden: false }, OK),
    (NON,   U, Prv, ListMembers { hidden: false }, FORBIDDEN),
    (MEM,   R, Prv, ListMembers { hidden: false }, OK),
    (MEM,   U, Pub, ListMembers { hidden: true },  FORBIDDEN),
    (MOD,   U, Prv, ListMembers { hidden: true },  OK),
    (ADMIN, R, Prv, ListMembers { hidden: true },  OK),
    // DescribeChannelMembership: visibility, then the membership must exist and be visible.
    (NON,   U, Pub, DescribeMember { target: other(MEM) }, OK),
    (NON,   U, Prv, DescribeMember { target: other(MEM) }, FORBIDDEN),
    (MEM,   U, Pub, DescribeMember { target: other(NON) }, NOT_FOUND),
    (MEM,   U, Pub, DescribeMember { target: other(HID) }, NOT_FOUND),
    (HID,   U, Pub, DescribeMember { target: me(HID) },    OK),
    (MOD,   U, Pub, DescribeMember { target: other(HID) }, OK),
    (ADMIN, U, Prv, DescribeMember { target: other(HID) }, OK),
    // DeleteChannelMembership: admins, moderators; members leave; others only in UNRESTRICTED.
    (ADMIN, R, Prv, RemoveMember { target: other(MEM) }, OK),
    (MOD,   R, Pub, RemoveMember { target: other(HID) }, OK),
    (MEM,   R, Pub, RemoveMember { target: me(MEM) },    OK),
    (HID,   R, Prv, RemoveMember { target: me(HID) },    OK),
    (MEM,   R, Pub, RemoveMember { target: other(MEM) }, FORBIDDEN),
    (MEM,   U, Pub, RemoveMember { target: other(MEM) }, OK),
    (MEM,   U, Pub, RemoveMember { target: other(HID) }, NOT_FOUND),
    (NON,   U, Pub, RemoveMember { target: other(MEM) }, FORBIDDEN),
    (NON,   U, Pub, RemoveMember { target: me(NON) },    FORBIDDEN),
    (MOD,   U, Pub, RemoveMember { target: other(NON) }, NOT_FOUND),
    // Moderators: admins and moderators only, whatever the membership.
    (ADMIN, U, Pub, ListModerators, OK),
    (MOD,   R, Prv, ListModerators, OK),
    (MEM,   U, Pub, ListModerators, FORBIDDEN),
    (NON,   U, Pub, ListModerators, FORBIDDEN),
    (MOD,   U, Pub, AddModerator { target: other(MEM) },     OK),
    (ADMIN, U, Pub, AddModerator { target: other(NON) },     OK),
    (MEM,   U, Pub, AddModerator { target: me(MEM) },        FORBIDDEN),
    (MOD,   U, Pub, AddModerator { target: other(MOD_MEM) }, CONFLICT),
    (MOD,   U, Pub, AddModerator { target: other(BANNED) },  BAD),
    (MOD,   U, Pub, DescribeModerator { target: other(MOD) }, OK),
    (MOD,   U, Pub, DescribeModerator { target: other(MEM) }, NOT_FOUND),
    (MEM,   U, Pub, DescribeModerator { target: other(MOD) }, FORBIDDEN),
    (MOD,   U, Pub, RemoveModerator { target: me(MOD) },      OK),
    (ADMIN, U, Pub, RemoveModerator { target: other(NON) },   NOT_FOUND),
    (MEM,   U, Pub, RemoveModerator { target: other(MOD) },   FORBIDDEN),
    // Bans: admins and moderators; admins and moderators cannot be banned.
    (MOD,   U, Pub, Ban { target: other(MEM) },    OK),
    (ADMIN, R, Prv, Ban { target: other(NON) },    OK),
    (MEM,   U, Pub, Ban { target: other(NON) },    FORBIDDEN),
    (NON,   U, Pub, Ban { target: other(MEM) },    FORBIDDEN),
    (MOD,   U, Pub, Ban { target: other(MOD) },    BAD),
    (MOD,   U, Pub, Ban { target: other(ADMIN) },  BAD),
    (ADMIN, U, Pub, Ban { target: other(MOD_MEM) },BAD),
    (MOD,   U, Pub, Ban { target: other(BANNED) }, CONFLICT),
    (MOD,   U, Pub, ListBans, OK),
    (MEM,   U, Pub, ListBans, FORBIDDEN),
    (MOD,   U, Pub, DescribeBan { target: other(BANNED) }, OK),
    (MOD,   U, Pub, DescribeBan { target: other(MEM) },    NOT_FOUND),
    (MEM,   U, Pub, DescribeBan { target: other(BANNED) }, FORBIDDEN),
    (ADMIN, U, Pub, Unban { target: other(BANNED) },       OK),
    (ADMIN, U, Pub, Unban { target: other(NON) },          NOT_FOUND),
    (BANNED,U, Pub, Unban { target: me(BANNED) },          FORBIDDEN),
    // SendChannelMessage: DEFAULT members only.
    (MEM,   U, Pub, SendMessage { target: None },              OK),
    (MEM,   R, Prv, SendMessage { target: None },              OK),
    (HID,   U, Pub, SendMessage { target: None },              FORBIDDEN),
    (NON,   U, Pub, SendMessage { target: None },              FORBIDDEN),
    (ADMIN, U, Pub, SendMessage { target: None },              FORBIDDEN),
    (MOD,   U, Pub, SendMessage { target: None },              FORBIDDEN),
    (MOD_MEM, U, Pub, SendMessage { target: None },            OK),
    (BANNED,U, Pub, SendMessage { target: None },              FORBIDDEN),
    (MEM,   U, Pub, SendMessage { target: Some(other(MEM)) },  OK),
    (MEM,   U, Pub, SendMessage { target: Some(other(HID)) },  OK),
    (MEM,   U, Pub, SendMessage { target: Some(me(MEM)) },     OK),
    (MEM,   U, Pub, SendMessage { target: Some(other(NON)) },  BAD),
    (MEM,   U, Pub, SendMessage { target: Some(other(MOD)) },  BAD),
    // Reading: whoever may see the channel.
    (NON,   U, Pub, ReadMessages, OK),
    (NON,   R, Prv, ReadMessages, FORBIDDEN),
    (HID,   R, Prv, ReadMessages, OK),
    (ADMIN, R, Prv, ReadMessages, OK),
    (MOD,   R, Prv, ReadMessages, OK),
    // UpdateChannelMessage: the sender, while a member.
    (MEM,   U, Pub, EditMessage { is_sender: true },  OK),
    (MEM,   U, Pub, EditMessage { is_sender: false }, FORBIDDEN),
    (ADMIN, U, Pub, EditMessage { is_sender: false }, FORBIDDEN),
    (MOD,   U, Pub, EditMessage { is_sender: false }, FORBIDDEN),
    (NON,   U, Pub, EditMessage { is_sender: true },  FORBIDDEN),
    // RedactChannelMessage: admins, moderators, or the sender.
    (MEM,   U, Pub, RedactMessage { is_sender: true },  OK),
    (MEM,   U, Pub, RedactMessage { is_sender: false }, FORBIDDEN),
    (MOD,   U, Pub, RedactMessage { is_sender: false }, OK),
    (ADMIN, R, Prv, RedactMessage { is_sender: false }, OK),
    (NON,   U, Pub, RedactMessage { is_sender: false }, FORBIDDEN),
    // DeleteChannelMessage: AppInstanceAdmins only.
    (ADMIN, U, Pub, DeleteMessage, OK),
    (MOD,   U, Pub, DeleteMessage, FORBIDDEN),
    (MOD_MEM, U, Pub, DeleteMessage, FORBIDDEN),
    (MEM,   U, Pub, DeleteMessage, FORBIDDEN),
    // UpdateChannelReadMarker: members (HIDDEN ones too).
    (MEM,   U, Pub, UpdateReadMarker, OK),
    (HID,   U, Pub, UpdateReadMarker, OK),
    (ADMIN, U, Pub, UpdateReadMarker, FORBIDDEN),
    (NON,   U, Pub, UpdateReadMarker, FORBIDDEN),
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
