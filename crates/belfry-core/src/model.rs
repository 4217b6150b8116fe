//! Domain types shared by services and stores. Plain data: no behaviour beyond parsing enum
//! names. The serde derives serve the internal event codec (`Published::encode`/`decode`: the outbox and the
//! cross-node bus), never the AWS wire, which has its own DTOs.

use crate::arn::{ChannelKey, UserKey};
use crate::error::CoreResult;
use crate::time::Timestamp;
use crate::validate;

/// Declares a string enum of the model with its wire names, parsed with a BadRequest naming the
/// member on an unknown value.
macro_rules! wire_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident = $wire:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        pub enum $name { $($(#[$vm])* $variant),+ }
        impl $name {
            /// Every wire name, in model order.
            pub const NAMES: &'static [&'static str] = &[$($wire),+];
            /// The wire name.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $wire),+ }
            }
            /// Parses a wire name; an unknown one is a BadRequest naming `field`.
            pub fn parse(field: &str, value: &str) -> CoreResult<Self> {
                let found = validate::one_of(field, value, Self::NAMES)?;
                Ok(match found { $($wire => $name::$variant,)+ _ => unreachable_variant(found)? })
            }
        }
    };
}

fn unreachable_variant<T>(v: &str) -> CoreResult<T> {
    Err(crate::CoreError::internal(format!(
        "enum value {v} not mapped"
    )))
}

wire_enum!(
    /// Who may add members to a channel.
    ChannelMode { Unrestricted = "UNRESTRICTED", Restricted = "RESTRICTED" }
);
wire_enum!(
    /// Whether outsiders can discover and read a channel.
    ChannelPrivacy { Public = "PUBLIC", Private = "PRIVATE" }
);
wire_enum!(
    /// A channel membership's type.
    MembershipType { Default = "DEFAULT", Hidden = "HIDDEN" }
);
wire_enum!(
    /// What a channel's expiration counts from.
    ExpirationCriterion { CreatedTimestamp = "CREATED_TIMESTAMP", LastMessageTimestamp = "LAST_MESSAGE_TIMESTAMP" }
);

/// Automatic deletion after a number of days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ExpirationSettings {
    /// 1–5475.
    pub days: i64,
    /// What the days count from.
    pub criterion: ExpirationCriterion,
}

/// A resource tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    /// 1–128 characters.
    pub key: String,
    /// 1–256 characters.
    pub value: String,
}

/// What kind of resource a tag set belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TagKind {
    /// An AppInstance.
    AppInstance,
    /// An AppInstanceUser.
    User,
    /// A channel.
    Channel,
}

impl TagKind {
    /// A stable name for storage.
    pub fn as_str(self) -> &'static str {
        match self {
            TagKind::AppInstance => "app-instance",
            TagKind::User => "user",
            TagKind::Channel => "channel",
        }
    }
}

/// The resource a tag operation addresses.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TagTarget {
    /// The AppInstance holding the resource (the AppInstance itself for its own tags).
    pub app_instance_id: String,
    /// Resource kind.
    pub kind: TagKind,
    /// Resource id within the AppInstance (the AppInstance id for an AppInstance).
    pub id: String,
}

/// A reference to a user with the user's current name (absent once the user is deleted).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UserRef {
    /// The user.
    pub key: UserKey,
    /// The current name, resolved at read time.
    pub name: Option<String>,
}

/// An AppInstance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppInstance {
    /// Server-made UUID.
    pub id: String,
    /// 1–256.
    pub name: String,
    /// Up to 1024.
    pub metadata: Option<String>,
    /// Creation time.
    pub created: Timestamp,
    /// Last update time.
    pub updated: Timestamp,
}

/// An AppInstanceUser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppInstanceUser {
    /// AppInstance and user id.
    pub key: UserKey,
    /// 1–100.
    pub name: String,
    /// Up to 1024.
    pub metadata: Option<String>,
    /// Creation time.
    pub created: Timestamp,
    /// Last update time.
    pub updated: Timestamp,
    /// Automatic deletion, if set.
    pub expiration: Option<ExpirationSettings>,
}

/// An AppInstanceAdmin role held by a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppInstanceAdmin {
    /// The admin.
    pub admin: UserRef,
    /// When the role was granted.
    pub created: Timestamp,
}

/// A channel.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Channel {
    /// AppInstance and channel id.
    pub key: ChannelKey,
    /// 1–256.
    pub name: String,
    /// Who may add members.
    pub mode: ChannelMode,
    /// Who may see it.
    pub privacy: ChannelPrivacy,
    /// Up to 1024.
    pub metadata: Option<String>,
    /// The creator, with current name.
    pub created_by: UserRef,
    /// Creation time.
    pub created: Timestamp,
    /// Last update time.
    pub updated: Timestamp,
    /// Time of the last persistent message, once there is one.
    pub last_message: Option<Timestamp>,
    /// Automatic deletion, if set.
    pub expiration: Option<ExpirationSettings>,
}

/// Everything a new channel starts with, written in one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewChannel {
    /// The channel row (created_by's name is ignored).
    pub channel: Channel,
    /// Moderators to add, the creator first; each created by the creator.
    pub moderators: Vec<UserKey>,
    /// DEFAULT members to add, invited by the creator (CreateChannel puts the creator first).
    pub members: Vec<UserKey>,
    /// Tags to set.
    pub tags: Vec<Tag>,
}

/// Changes to a channel; `None` leaves a field unchanged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChannelUpdate {
    /// New name.
    pub name: Option<String>,
    /// New mode.
    pub mode: Option<ChannelMode>,
    /// New metadata.
    pub metadata: Option<String>,
}

/// Makes a create request replay-safe: the same token in the same scope returns the first
/// result; the same token with a different request is a conflict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idempotency {
    /// Namespace of the token (operation and caller).
    pub scope: String,
    /// The client's ClientRequestToken.
    pub token: String,
    /// A digest of the request's parameters.
    pub fingerprint: String,
}

/// Result of an idempotent create: the id of the resource, new or from an earlier identical call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    /// The resource id.
    pub id: String,
    /// True when an earlier call with the same token made it.
    pub replayed: bool,
}

/// A channel membership.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Membership {
    /// The channel.
    pub channel: ChannelKey,
    /// The member, with current name.
    pub member: UserRef,
    /// Who added the member, with current name.
    pub invited_by: UserRef,
    /// DEFAULT or HIDDEN.
    pub kind: MembershipType,
    /// When the membership was created.
    pub created: Timestamp,
    /// When it last changed.
    pub updated: Timestamp,
    /// The member's read marker, once set.
    pub read_marker: Option<Timestamp>,
}

/// One of a user's memberships, with the channel it is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserMembership {
    /// The channel.
    pub channel: Channel,
    /// DEFAULT or HIDDEN.
    pub kind: MembershipType,
    /// The user's read marker in the channel, once set.
    pub read_marker: Option<Timestamp>,
}

/// A channel moderator role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moderator {
    /// The channel.
    pub channel: ChannelKey,
    /// The moderator, with current name.
    pub moderator: UserRef,
    /// Who granted the role.
    pub created_by: UserRef,
    /// When.
    pub created: Timestamp,
}

/// A channel ban.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ban {
    /// The channel.
    pub channel: ChannelKey,
    /// The banned user, with current name.
    pub member: UserRef,
    /// Who banned them.
    pub created_by: UserRef,
    /// When.
    pub created: Timestamp,
}

wire_enum!(
    /// STANDARD or CONTROL.
    MessageType { Standard = "STANDARD", Control = "CONTROL" }
);
wire_enum!(
    /// Whether a message is stored.
    Persistence { Persistent = "PERSISTENT", NonPersistent = "NON_PERSISTENT" }
);
wire_enum!(
    /// A push notification's type.
    PushType { Default = "DEFAULT", Voip = "VOIP" }
);
wire_enum!(
    /// ListChannelMessages order.
    SortOrder { Ascending = "ASCENDING", Descending = "DESCENDING" }
);

/// A message's push notification settings.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PushNotification {
    /// 1–50 characters.
    pub title: Option<String>,
    /// 1–150 characters.
    pub body: Option<String>,
    /// DEFAULT or VOIP.
    pub kind: Option<PushType>,
}

/// A channel message.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChannelMessage {
    /// The channel.
    pub channel: ChannelKey,
    /// 64 lowercase hex characters.
    pub message_id: String,
    /// Absent once redacted.
    pub content: Option<String>,
    /// Absent once redacted.
    pub metadata: Option<String>,
    /// STANDARD or CONTROL.
    pub kind: MessageType,
    /// PERSISTENT or NON_PERSISTENT.
    pub persistence: Persistence,
    /// When it was sent.
    pub created: Timestamp,
    /// When it last changed (edit or redaction).
    pub updated: Timestamp,
    /// When it was last edited.
    pub edited: Option<Timestamp>,
    /// The sender, with current name.
    pub sender: UserRef,
    /// Redacted by its sender, a moderator or an admin.
    pub redacted: bool,
    /// Message attributes, by name (sorted).
    pub attributes: Vec<(String, Vec<String>)>,
    /// Up to 45 characters.
    pub content_type: Option<String>,
    /// The one member it is addressed to, if targeted.
    pub target: Option<UserKey>,
    /// Push notification settings.
    pub push: Option<PushNotification>,
}

/// A message to send, with what makes its retry recognisable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    /// The message (sender name is ignored).
    pub message: ChannelMessage,
    /// The sender's ClientRequestToken.
    pub client_request_token: String,
    /// A digest of what was sent, to tell a retry from a different message.
    pub fingerprint: String,
}

/// Changes to a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageChange {
    /// UpdateChannelMessage: new content; metadata and content type replaced when given.
    Edit {
        /// New content.
        content: String,
        /// New metadata, if given.
        metadata: Option<String>,
        /// New content type, if given.
        content_type: Option<String>,
    },
    /// RedactChannelMessage: content and metadata cleared.
    Redact,
}

/// Time window and order of a message listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageQuery {
    /// Oldest creation time, inclusive.
    pub not_before: Option<Timestamp>,
    /// Newest creation time, inclusive.
    pub not_after: Option<Timestamp>,
    /// Newest first (DESCENDING) or oldest first.
    pub order: SortOrder,
}

/// Where a message listing continues: the (creation time, position) of the last row returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageCursor {
    /// Creation time of the last row.
    pub created: Timestamp,
    /// Its position among rows of equal time.
    pub seq: i64,
}
