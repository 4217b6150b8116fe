//! What a store reports when a write cannot be done: facts about the data, in no client's words.
//! The core words each fact once, here (`From<StoreError> for CoreError`); the few operations
//! whose AWS answer to a fact differs say so by name below, so a second adapter cannot drift
//! from the first in wording, and the conformance suite can assert the exact fact.

use crate::error::CoreError;

/// A store result.
pub type StoreResult<T> = Result<T, StoreError>;

/// A fact a store reports instead of doing a write (or a failure of the store itself). Ids are
/// the ones the request addressed: AppInstance ids, user ids, channel ids, message ids.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The AppInstance does not exist.
    #[error("no AppInstance {0}")]
    NoAppInstance(String),
    /// The user does not exist.
    #[error("no user {0}")]
    NoUser(String),
    /// The channel does not exist.
    #[error("no channel {0}")]
    NoChannel(String),
    /// The message does not exist in the channel.
    #[error("no message {0}")]
    NoMessage(String),
    /// A user with this id already exists in the AppInstance.
    #[error("user {0} exists")]
    UserExists(String),
    /// A channel with this id already exists in the AppInstance.
    #[error("channel {0} exists")]
    ChannelExists(String),
    /// The user is already an AppInstanceAdmin.
    #[error("user {0} is already an admin")]
    AlreadyAdmin(String),
    /// The user is not an AppInstanceAdmin.
    #[error("user {0} is not an admin")]
    NotAdmin(String),
    /// The user is already a member of the channel.
    #[error("{user} is already a member of {channel}")]
    AlreadyMember {
        /// User id.
        user: String,
        /// Channel id.
        channel: String,
    },
    /// The user is not a member of the channel.
    #[error("{user} is not a member of {channel}")]
    NotMember {
        /// User id.
        user: String,
        /// Channel id.
        channel: String,
    },
    /// The user is banned from the channel.
    #[error("{user} is banned from {channel}")]
    Banned {
        /// User id.
        user: String,
        /// Channel id.
        channel: String,
    },
    /// The user is already banned from the channel.
    #[error("{user} is already banned from {channel}")]
    AlreadyBanned {
        /// User id.
        user: String,
        /// Channel id.
        channel: String,
    },
    /// The user is not banned from the channel.
    #[error("{user} is not banned from {channel}")]
    NotBanned {
        /// User id.
        user: String,
        /// Channel id.
        channel: String,
    },
    /// The user is an AppInstanceAdmin or a moderator of the channel, and so cannot be banned.
    #[error("{user} is an admin or moderator of {channel}")]
    Privileged {
        /// User id.
        user: String,
        /// Channel id.
        channel: String,
    },
    /// The user is already a moderator of the channel.
    #[error("{user} is already a moderator of {channel}")]
    AlreadyModerator {
        /// User id.
        user: String,
        /// Channel id.
        channel: String,
    },
    /// The user is not a moderator of the channel.
    #[error("{user} is not a moderator of {channel}")]
    NotModerator {
        /// User id.
        user: String,
        /// Channel id.
        channel: String,
    },
    /// An access key with this id is already stored.
    #[error("access key {0} exists")]
    KeyExists(String),
    /// The message was redacted, so it cannot be edited.
    #[error("message {0} is redacted")]
    Redacted(String),
    /// The ClientRequestToken was used before for a different request.
    #[error("client request token reused")]
    TokenReused,
    /// A quota would be exceeded.
    #[error("limit reached: {0:?}")]
    Limit(Limit),
    /// The core's own decision, taken inside the write's transaction (a `ChannelPolicy`).
    #[error("refused: {0}")]
    Refused(CoreError),
    /// The store is shutting down or can take no more writes.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// A driver or I/O failure, or a broken invariant; logged, never shown.
    #[error("{0}")]
    Internal(String),
}

/// Which quota a write would exceed, with the limit it was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Limit {
    /// AppInstances in the account.
    AppInstances(u64),
    /// Users in one AppInstance.
    Users(u64),
    /// Admins in one AppInstance.
    Admins(u64),
    /// Channels in one AppInstance.
    Channels(u64),
    /// Members of one channel.
    ChannelMembers {
        /// Channel id.
        channel: String,
        /// The limit.
        max: u64,
    },
    /// Channels one user is a member of.
    UserChannels {
        /// User id.
        user: String,
        /// The limit.
        max: u64,
    },
    /// Moderators of one channel.
    Moderators {
        /// Channel id.
        channel: String,
        /// The limit.
        max: u64,
    },
    /// Tags on one resource.
    Tags(usize),
}

impl StoreError {
    /// Shorthand for an `Internal` failure from any displayable cause.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        StoreError::Internal(cause.to_string())
    }

    /// CreateAppInstanceUser names a missing AppInstance in its body: 400 (AWS's model lists
    /// no NotFound for it; docs/compat.md), whether core or the store noticed first.
    pub fn for_create_user(self, app_instance_arn: &str) -> CoreError {
        match self {
            StoreError::NoAppInstance(_) => missing_app_instance_for_user(app_instance_arn),
            other => other.into(),
        }
    }

    /// CreateChannelModerator: a banned user is a bad request (lift the ban first), not a
    /// refusal.
    pub fn for_create_moderator(self) -> CoreError {
        match self {
            StoreError::Banned { user, channel } => CoreError::BadRequest(format!(
                "{user} is banned from channel {channel}; delete the ban first."
            )),
            other => other.into(),
        }
    }

    /// SendChannelMessage: a reused token is about a message.
    pub fn for_send(self) -> CoreError {
        match self {
            StoreError::TokenReused => CoreError::Conflict(
                "The ClientRequestToken was already used for a different message.".into(),
            ),
            other => other.into(),
        }
    }
}

/// The one answer to CreateAppInstanceUser in a missing AppInstance.
pub fn missing_app_instance_for_user(app_instance_arn: &str) -> CoreError {
    CoreError::BadRequest(format!(
        "The AppInstance {app_instance_arn} does not exist."
    ))
}

impl From<StoreError> for CoreError {
    fn from(fact: StoreError) -> Self {
        use StoreError as F;
        match fact {
            F::NoAppInstance(id) => CoreError::NotFound(format!("AppInstance {id} does not exist.")),
            F::NoUser(id) => CoreError::NotFound(format!("AppInstanceUser {id} does not exist.")),
            F::NoChannel(id) => CoreError::NotFound(format!("Channel {id} does not exist.")),
            F::NoMessage(id) => CoreError::NotFound(format!("The message {id} does not exist.")),
            F::KeyExists(id) => CoreError::Conflict(format!("The access key {id} already exists.")),
            F::UserExists(id) => CoreError::Conflict(format!(
                "An AppInstanceUser with the id {id} already exists."
            )),
            F::ChannelExists(id) => {
                CoreError::Conflict(format!("A channel with the id {id} already exists."))
            }
            F::AlreadyAdmin(id) => CoreError::Conflict(format!(
                "AppInstanceUser {id} is already an AppInstanceAdmin."
            )),
            F::NotAdmin(id) => CoreError::NotFound(format!(
                "AppInstanceUser {id} is not an AppInstanceAdmin."
            )),
            F::AlreadyMember { user, channel } => {
                CoreError::Conflict(format!("{user} is already a member of channel {channel}."))
            }
            F::NotMember { user, channel } => {
                CoreError::NotFound(format!("{user} is not a member of channel {channel}."))
            }
            F::Banned { user, channel } => {
                CoreError::Forbidden(format!("{user} is banned from channel {channel}."))
            }
            F::AlreadyBanned { user, channel } => {
                CoreError::Conflict(format!("{user} is already banned from channel {channel}."))
            }
            F::NotBanned { user, channel } => {
                CoreError::NotFound(format!("{user} is not banned from channel {channel}."))
            }
            F::Privileged { user, channel } => CoreError::BadRequest(format!(
                "{user} is an AppInstanceAdmin or a moderator of channel {channel} and cannot be banned."
            )),
            F::AlreadyModerator { user, channel } => CoreError::Conflict(format!(
                "{user} is already a moderator of channel {channel}."
            )),
            F::NotModerator { user, channel } => {
                CoreError::NotFound(format!("{user} is not a moderator of channel {channel}."))
            }
            F::Redacted(id) => CoreError::Conflict(format!(
                "The message {id} was redacted and cannot be edited."
            )),
            F::TokenReused => CoreError::Conflict(
                "The ClientRequestToken was already used for a different request.".into(),
            ),
            F::Limit(limit) => CoreError::ResourceLimitExceeded(limit_wording(limit)),
            F::Refused(e) => e,
            F::Unavailable(why) => CoreError::ServiceUnavailable(why),
            F::Internal(detail) => CoreError::Internal(detail),
        }
    }
}

fn limit_wording(limit: Limit) -> String {
    match limit {
        Limit::AppInstances(max) => {
            format!("The account already has the maximum of {max} AppInstances.")
        }
        Limit::Users(max) => {
            format!("The AppInstance already has the maximum of {max} AppInstanceUsers.")
        }
        Limit::Admins(max) => {
            format!("The AppInstance already has the maximum of {max} AppInstanceAdmins.")
        }
        Limit::Channels(max) => {
            format!("The AppInstance already has the maximum of {max} channels.")
        }
        Limit::ChannelMembers { channel, max } => {
            format!("Channel {channel} already has the maximum of {max} members.")
        }
        Limit::UserChannels { user, max } => {
            format!("{user} is already a member of the maximum of {max} channels.")
        }
        Limit::Moderators { channel, max } => {
            format!("Channel {channel} already has the maximum of {max} moderators.")
        }
        Limit::Tags(max) => format!("A resource can have at most {max} tags."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_app_instance_is_one_answer_to_create_user() {
        // Core's own check and the store's fact (the AppInstance deleted in between) agree.
        let arn = "arn:aws:chime:us-east-1:1:app-instance/gone";
        let from_store = StoreError::NoAppInstance("gone".into()).for_create_user(arn);
        assert_eq!(from_store, missing_app_instance_for_user(arn));
        assert!(matches!(from_store, CoreError::BadRequest(m) if m.contains(arn)));
        // Elsewhere the same fact is the addressed resource missing.
        assert!(matches!(
            CoreError::from(StoreError::NoAppInstance("gone".into())),
            CoreError::NotFound(_)
        ));
    }

    #[test]
    fn per_operation_wordings_change_only_their_fact() {
        let banned = || StoreError::Banned {
            user: "u".into(),
            channel: "c".into(),
        };
        assert!(matches!(CoreError::from(banned()), CoreError::Forbidden(_)));
        assert!(matches!(
            banned().for_create_moderator(),
            CoreError::BadRequest(m) if m.contains("delete the ban first")
        ));
        assert!(matches!(
            StoreError::TokenReused.for_send(),
            CoreError::Conflict(m) if m.contains("different message")
        ));
        assert_eq!(
            StoreError::NoUser("u".into()).for_send(),
            CoreError::from(StoreError::NoUser("u".into()))
        );
        let refused = CoreError::Forbidden("policy".into());
        assert_eq!(
            CoreError::from(StoreError::Refused(refused.clone())),
            refused
        );
    }
}
