//! The one error type a REST call can end in, and its one mapping to the contract's
//! status and code: the edge's own refusals (token, query, body, id) and every
//! [`AppError`] of the use cases.

use app::AppError;
use domain::page::InvalidPageQuery;

use crate::auth::AuthError;

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
    #[error("the body is over 64 KB")]
    PayloadTooLarge,
    #[error("Idempotency-Key must be 1 to 255 visible ASCII characters")]
    InvalidIdempotencyKey,
    #[error("this Idempotency-Key was used for another call: use a new key for a new change")]
    IdempotencyKeyReused,
    #[error(transparent)]
    App(#[from] AppError),
}

/// What `Retry-After` says on a `503`: long enough for a throttle or a restart to pass,
/// short enough that a person does not notice.
pub const RETRY_AFTER_SECONDS: u64 = 1;

impl ApiError {
    pub fn status(&self) -> u16 {
        match self {
            Self::Unauthorized(_) => 401,
            Self::InvalidQuery(_) | Self::InvalidBody(_) | Self::InvalidId => 400,
            Self::PayloadTooLarge => 413,
            Self::InvalidIdempotencyKey => 400,
            Self::IdempotencyKeyReused => 422,
            Self::App(error) => match error {
                AppError::ChatNotGroup | AppError::ChatNotRestricted | AppError::InvalidAnswers(_) => 400,
                AppError::NotChatMember | AppError::NotChatAdmin | AppError::RequestBlocked => 403,
                AppError::RequestNotFound
                | AppError::ChatNotFound
                | AppError::EventNotFound
                | AppError::BlockNotFound => 404,
                AppError::AlreadyParticipant | AppError::RequestAlreadyPending | AppError::RequestNotPending => 409,
                AppError::RequestCooldown { .. } | AppError::RateLimited { .. } => 429,
                AppError::Internal(_) => 500,
                // The same call committing at this moment: its answer is kept in a moment.
                AppError::Unavailable(_) | AppError::AnswerKept => 503,
            },
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthorized(_) => "UNAUTHORIZED",
            Self::InvalidQuery(_) => "INVALID_QUERY",
            Self::InvalidBody(_) => "INVALID_BODY",
            Self::InvalidId => "INVALID_ID",
            Self::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            Self::InvalidIdempotencyKey => "INVALID_IDEMPOTENCY_KEY",
            Self::IdempotencyKeyReused => "IDEMPOTENCY_KEY_REUSED",
            Self::App(error) => match error {
                AppError::EventNotFound => "EVENT_NOT_FOUND",
                AppError::RequestNotFound => "REQUEST_NOT_FOUND",
                AppError::ChatNotFound => "CHAT_NOT_FOUND",
                AppError::ChatNotGroup => "CHAT_NOT_GROUP",
                AppError::ChatNotRestricted => "CHAT_NOT_RESTRICTED",
                AppError::InvalidAnswers(_) => "INVALID_ANSWERS",
                AppError::RequestBlocked => "REQUEST_BLOCKED",
                AppError::RateLimited { .. } => "RATE_LIMITED",
                AppError::BlockNotFound => "BLOCK_NOT_FOUND",
                AppError::AlreadyParticipant => "ALREADY_PARTICIPANT",
                AppError::RequestAlreadyPending => "REQUEST_ALREADY_PENDING",
                AppError::RequestCooldown { .. } => "REQUEST_COOLDOWN",
                AppError::NotChatMember => "NOT_CHAT_MEMBER",
                AppError::NotChatAdmin => "NOT_CHAT_ADMIN",
                AppError::RequestNotPending => "REQUEST_NOT_PENDING",
                AppError::Internal(_) => "INTERNAL",
                AppError::Unavailable(_) | AppError::AnswerKept => "UNAVAILABLE",
            },
        }
    }

    /// The `Retry-After` header's seconds, for the errors that have one.
    pub fn retry_after_seconds(&self) -> Option<u64> {
        match self {
            Self::App(AppError::Unavailable(_) | AppError::AnswerKept) => Some(RETRY_AFTER_SECONDS),
            Self::App(AppError::RequestCooldown { retry_after } | AppError::RateLimited { retry_after }) => {
                Some(*retry_after)
            }
            _ => None,
        }
    }

    /// The `{"message", "code"}` body (with `retryAfter` for a cooldown or the rate
    /// limit). A 500 says
    /// nothing about its cause.
    pub fn body(&self) -> serde_json::Value {
        let mut body = serde_json::json!({ "message": self.to_string(), "code": self.code() });
        if let Some(retry_after) = self.cooldown() {
            body["retryAfter"] = serde_json::json!(retry_after);
        }
        body
    }

    fn cooldown(&self) -> Option<u64> {
        match self {
            Self::App(AppError::RequestCooldown { retry_after } | AppError::RateLimited { retry_after }) => {
                Some(*retry_after)
            }
            _ => None,
        }
    }
}

impl From<domain::moderation::InvalidQuestions> for ApiError {
    fn from(error: domain::moderation::InvalidQuestions) -> Self {
        Self::InvalidBody(error.to_string())
    }
}

impl From<domain::request::InvalidNote> for ApiError {
    fn from(error: domain::request::InvalidNote) -> Self {
        Self::InvalidBody(error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::ports::StoreError;

    #[test]
    fn what_may_succeed_if_tried_again_is_503_with_retry_after_and_the_rest_500() {
        let transient = [
            StoreError::Contended(6),
            StoreError::Unavailable { operation: "Query", message: "timed out".into() },
            StoreError::Unprocessed { operation: "BatchGetItem", attempts: 8 },
        ];
        for error in transient {
            let api = ApiError::from(AppError::from(error));
            assert_eq!((api.status(), api.code(), api.retry_after_seconds()), (503, "UNAVAILABLE", Some(1)));
        }
        let lasting =
            ApiError::from(AppError::from(StoreError::Refused { operation: "Query", message: "no such table".into() }));
        assert_eq!((lasting.status(), lasting.code(), lasting.retry_after_seconds()), (500, "INTERNAL", None));
        assert_eq!(lasting.body(), serde_json::json!({"message": "internal error", "code": "INTERNAL"}));
    }
}
