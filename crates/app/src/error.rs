//! The one error a use case can end in. It names what happened, never how to say it
//! over HTTP: the edge maps each variant to the contract's status and code, in one
//! place, and the scheduled functions match on it directly.

use domain::moderation::InvalidAnswers;
use domain::{NotDecider, NotJoinable};

use crate::ports::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("request not found")]
    RequestNotFound,
    #[error("chat not found")]
    ChatNotFound,
    #[error("chat is not a group chat")]
    ChatNotGroup,
    #[error("chat is not restricted: join it directly")]
    ChatNotRestricted,
    #[error("{0}")]
    InvalidAnswers(#[from] InvalidAnswers),
    #[error("an admin of this chat has blocked you from asking to join it")]
    RequestBlocked,
    #[error("you are already a participant of this chat")]
    AlreadyParticipant,
    #[error("you already have a pending request for this chat")]
    RequestAlreadyPending,
    #[error("your last request to this chat was rejected; you may ask again in {retry_after} seconds")]
    RequestCooldown { retry_after: u64 },
    #[error("you have asked to join as many chats this hour as allowed; you may ask again in {retry_after} seconds")]
    RateLimited { retry_after: u64 },
    #[error("this user is not blocked from this chat")]
    BlockNotFound,
    #[error("you are not a participant of this chat")]
    NotChatMember,
    #[error("only an admin of this chat may decide its requests")]
    NotChatAdmin,
    #[error("this request has already been decided")]
    RequestNotPending,
    /// `GET /events?after=` named no event kept for the caller.
    #[error("after names none of your events of the last 7 days: read again without it")]
    EventNotFound,
    /// The same call with the same idempotency key committed first, at the same
    /// moment: its kept answer is the answer.
    #[error("this change was made by an earlier call with the same Idempotency-Key")]
    AnswerKept,
    /// A dependency timed out, throttled, could not be reached or stayed contended:
    /// nothing was half done, and the same call may succeed in a moment.
    #[error("a dependency is unavailable; try again shortly")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Everything the caller cannot act on. The source is logged, never shown.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl From<StoreError> for AppError {
    fn from(error: StoreError) -> Self {
        if error.is_transient() {
            Self::Unavailable(Box::new(error))
        } else {
            Self::Internal(Box::new(error))
        }
    }
}

impl From<NotJoinable> for AppError {
    fn from(reason: NotJoinable) -> Self {
        match reason {
            NotJoinable::NotGroup => Self::ChatNotGroup,
            NotJoinable::NotRestricted => Self::ChatNotRestricted,
            NotJoinable::Blocked => Self::RequestBlocked,
            NotJoinable::AlreadyParticipant => Self::AlreadyParticipant,
        }
    }
}

impl From<NotDecider> for AppError {
    fn from(reason: NotDecider) -> Self {
        match reason {
            NotDecider::NotMember => Self::NotChatMember,
            NotDecider::NotAdmin => Self::NotChatAdmin,
        }
    }
}
