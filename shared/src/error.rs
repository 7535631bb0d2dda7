//! The one error type a call can end in, and its one mapping to the contract's status
//! and code.

use crate::auth::AuthError;
use crate::domain::page::InvalidPageQuery;
use crate::domain::{NotDecider, NotJoinable};
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("missing or invalid bearer token")]
    Unauthorized(#[source] AuthError),
    #[error("{0}")]
    InvalidQuery(#[from] InvalidPageQuery),
    #[error("{0}")]
    InvalidBody(String),
    #[error("an id is 24 lower-case hex characters")]
    InvalidId,
    #[error("request not found")]
    RequestNotFound,
    #[error("chat not found")]
    ChatNotFound,
    #[error("chat is not a group chat")]
    ChatNotGroup,
    #[error("chat is not restricted: join it directly")]
    ChatNotRestricted,
    #[error("you are already a participant of this chat")]
    AlreadyParticipant,
    #[error("you already have a pending request for this chat")]
    RequestAlreadyPending,
    #[error("your last request to this chat was rejected; you may ask again in {retry_after} seconds")]
    RequestCooldown { retry_after: u64 },
    #[error("you are not a participant of this chat")]
    NotChatMember,
    #[error("only an admin of this chat may decide its requests")]
    NotChatAdmin,
    #[error("this request has already been decided")]
    RequestNotPending,
    /// A dependency timed out, throttled, could not be reached or stayed contended:
    /// nothing was half done, and the same call may succeed in a moment.
    #[error("a dependency is unavailable; try again shortly")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Everything the caller cannot act on. The source is logged, never shown.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// What `Retry-After` says on a `503`: long enough for a throttle or a restart to pass,
/// short enough that a person does not notice.
pub const RETRY_AFTER_SECONDS: u64 = 1;

impl ApiError {
    pub fn status(&self) -> u16 {
        match self {
            Self::Unauthorized(_) => 401,
            Self::InvalidQuery(_)
            | Self::InvalidBody(_)
            | Self::InvalidId
            | Self::ChatNotGroup
            | Self::ChatNotRestricted => 400,
            Self::NotChatMember | Self::NotChatAdmin => 403,
            Self::RequestNotFound | Self::ChatNotFound => 404,
            Self::AlreadyParticipant | Self::RequestAlreadyPending | Self::RequestNotPending => 409,
            Self::RequestCooldown { .. } => 429,
            Self::Internal(_) => 500,
            Self::Unavailable(_) => 503,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthorized(_) => "UNAUTHORIZED",
            Self::InvalidQuery(_) => "INVALID_QUERY",
            Self::InvalidBody(_) => "INVALID_BODY",
            Self::InvalidId => "INVALID_ID",
            Self::RequestNotFound => "REQUEST_NOT_FOUND",
            Self::ChatNotFound => "CHAT_NOT_FOUND",
            Self::ChatNotGroup => "CHAT_NOT_GROUP",
            Self::ChatNotRestricted => "CHAT_NOT_RESTRICTED",
            Self::AlreadyParticipant => "ALREADY_PARTICIPANT",
            Self::RequestAlreadyPending => "REQUEST_ALREADY_PENDING",
            Self::RequestCooldown { .. } => "REQUEST_COOLDOWN",
            Self::NotChatMember => "NOT_CHAT_MEMBER",
            Self::NotChatAdmin => "NOT_CHAT_ADMIN",
            Self::RequestNotPending => "REQUEST_NOT_PENDING",
            Self::Internal(_) => "INTERNAL",
            Self::Unavailable(_) => "UNAVAILABLE",
        }
    }

    /// The `Retry-After` header's seconds, for the errors that have one.
    pub fn retry_after_seconds(&self) -> Option<u64> {
        match self {
            Self::Unavailable(_) => Some(RETRY_AFTER_SECONDS),
            Self::RequestCooldown { retry_after } => Some(*retry_after),
            _ => None,
        }
    }

    /// The `{"message", "code"}` body (with `retryAfter` for a cooldown). A 500 says
    /// nothing about its cause.
    pub fn body(&self) -> serde_json::Value {
        let mut body = serde_json::json!({ "message": self.to_string(), "code": self.code() });
        if let Self::RequestCooldown { retry_after } = self {
            body["retryAfter"] = serde_json::json!(retry_after);
        }
        body
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        if error.is_transient() {
            Self::Unavailable(Box::new(error))
        } else {
            Self::Internal(Box::new(error))
        }
    }
}

impl From<crate::domain::request::InvalidNote> for ApiError {
    fn from(error: crate::domain::request::InvalidNote) -> Self {
        Self::InvalidBody(error.to_string())
    }
}

impl From<NotJoinable> for ApiError {
    fn from(reason: NotJoinable) -> Self {
        match reason {
            NotJoinable::NotGroup => Self::ChatNotGroup,
            NotJoinable::NotRestricted => Self::ChatNotRestricted,
            NotJoinable::AlreadyParticipant => Self::AlreadyParticipant,
        }
    }
}

impl From<NotDecider> for ApiError {
    fn from(reason: NotDecider) -> Self {
        match reason {
            NotDecider::NotMember => Self::NotChatMember,
            NotDecider::NotAdmin => Self::NotChatAdmin,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_may_succeed_if_tried_again_is_503_with_retry_after_and_the_rest_500() {
        let transient = [
            StoreError::Contended(6),
            StoreError::Unavailable { operation: "Query", message: "timed out".into() },
            StoreError::Unprocessed { operation: "BatchGetItem", attempts: 8 },
        ];
        for error in transient {
            let api = ApiError::from(error);
            assert_eq!((api.status(), api.code(), api.retry_after_seconds()), (503, "UNAVAILABLE", Some(1)));
        }
        let lasting = ApiError::from(StoreError::Sdk { operation: "Query", message: "no such table".into() });
        assert_eq!((lasting.status(), lasting.code(), lasting.retry_after_seconds()), (500, "INTERNAL", None));
        assert_eq!(lasting.body(), serde_json::json!({"message": "internal error", "code": "INTERNAL"}));
    }
}
