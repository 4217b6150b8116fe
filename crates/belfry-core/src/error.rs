//! The one error type of the core. Each variant is one AWS exception family; the wire layer maps
//! them exhaustively.

/// A refusal or failure, with a message meant for the client (except `Internal`, which is logged
/// and never echoed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CoreError {
    /// Input breaks a rule of the model (length, pattern, enum, range, shape) or a documented rule.
    #[error("{0}")]
    BadRequest(String),
    /// The `x-amz-chime-bearer` does not name a usable AppInstanceUser.
    #[error("{0}")]
    Unauthorized(String),
    /// The caller is known but may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// The addressed resource does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with the current state.
    #[error("{0}")]
    Conflict(String),
    /// A quota would be exceeded.
    #[error("{0}")]
    ResourceLimitExceeded(String),
    /// Too many requests.
    #[error("{0}")]
    Throttled(String),
    /// The service is shutting down or overloaded.
    #[error("{0}")]
    ServiceUnavailable(String),
    /// A bug or a storage failure; the detail goes to the log only.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Result alias used throughout the core and its adapters.
pub type CoreResult<T> = Result<T, CoreError>;

impl CoreError {
    /// Shorthand for a `BadRequest` with a formatted message.
    pub fn bad(msg: impl Into<String>) -> Self {
        CoreError::BadRequest(msg.into())
    }
    /// Shorthand for a `NotFound`.
    pub fn not_found(msg: impl Into<String>) -> Self {
        CoreError::NotFound(msg.into())
    }
    /// Shorthand for a `Forbidden`.
    pub fn forbidden(msg: impl Into<String>) -> Self {
        CoreError::Forbidden(msg.into())
    }
    /// Shorthand for a `Conflict`.
    pub fn conflict(msg: impl Into<String>) -> Self {
        CoreError::Conflict(msg.into())
    }
    /// Shorthand for an `Internal` error from any displayable cause.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        CoreError::Internal(cause.to_string())
    }
}
