use serde::{Deserialize, Serialize};

use super::id::ObjectId;
use super::moderation::Answer;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RequestStatus {
    Pending,
    Accepted,
    Rejected,
    /// Withdrawn by the requester.
    Cancelled,
    Expired,
}

impl RequestStatus {
    pub const ALL: [Self; 5] = [Self::Pending, Self::Accepted, Self::Rejected, Self::Cancelled, Self::Expired];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Accepted => "accepted",
            Self::Rejected => "rejected",
            Self::Cancelled => "cancelled",
            Self::Expired => "expired",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == text)
    }
}

/// A `message` or a `reason`: 1 to 500 characters once trimmed, stored trimmed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Note(String);

pub const NOTE_MAX_CHARS: usize = 500;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0} must be 1 to {NOTE_MAX_CHARS} characters, not counting spaces around it")]
pub struct InvalidNote(pub &'static str);

impl Note {
    /// `field` names the field in the error.
    pub fn parse(field: &'static str, text: &str) -> Result<Self, InvalidNote> {
        let trimmed = text.trim();
        let chars = trimmed.chars().count();
        if (1..=NOTE_MAX_CHARS).contains(&chars) {
            Ok(Self(trimmed.to_owned()))
        } else {
            Err(InvalidNote(field))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What an admin may decide: a request can never be decided back to `pending`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Accepted,
    Rejected,
}

impl From<Decision> for RequestStatus {
    fn from(decision: Decision) -> Self {
        match decision {
            Decision::Accepted => Self::Accepted,
            Decision::Rejected => Self::Rejected,
        }
    }
}

/// A join request as the API shows it before population (the `POST` response shape).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JoinRequest {
    #[serde(rename = "_id")]
    pub id: ObjectId,
    pub user: ObjectId,
    pub chat: ObjectId,
    pub status: RequestStatus,
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<ObjectId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<String>,
    /// From the requester, shown to the admins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<Note>,
    /// From the admin who rejected it, shown to the requester.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Note>,
    /// To the chat's screening questions, as they were asked.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub answers: Vec<Answer>,
}

impl JoinRequest {
    pub fn new_pending(
        id: ObjectId,
        user: ObjectId,
        chat: ObjectId,
        message: Option<Note>,
        answers: Vec<Answer>,
        now: &str,
    ) -> Self {
        Self {
            id,
            user,
            chat,
            status: RequestStatus::Pending,
            created_at: now.to_owned(),
            updated_at: None,
            decided_by: None,
            decided_at: None,
            message,
            reason: None,
            answers,
        }
    }

    /// `reason` only matters on a rejection.
    pub fn decided(&self, decision: Decision, admin: ObjectId, reason: Option<Note>, now: &str) -> Self {
        Self {
            status: decision.into(),
            updated_at: Some(now.to_owned()),
            decided_by: Some(admin),
            decided_at: Some(now.to_owned()),
            reason: if decision == Decision::Rejected { reason } else { None },
            ..self.clone()
        }
    }

    /// Withdrawn by its requester.
    pub fn cancelled(&self, now: &str) -> Self {
        Self { status: RequestStatus::Cancelled, updated_at: Some(now.to_owned()), ..self.clone() }
    }

    /// Still pending when its time ran out.
    pub fn expired(&self, now: &str) -> Self {
        Self { status: RequestStatus::Expired, updated_at: Some(now.to_owned()), ..self.clone() }
    }

    pub fn is_pending(&self) -> bool {
        self.status == RequestStatus::Pending
    }
}

/// What every admin is told when a request closes, whatever closed it: small, so that
/// one copy per admin stays cheap.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClosedRequest {
    #[serde(rename = "_id")]
    pub id: ObjectId,
    pub chat: ObjectId,
    pub user: ObjectId,
    pub status: RequestStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<ObjectId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<String>,
}

impl From<&JoinRequest> for ClosedRequest {
    fn from(request: &JoinRequest) -> Self {
        Self {
            id: request.id,
            chat: request.chat,
            user: request.user,
            status: request.status,
            updated_at: request.updated_at.clone(),
            decided_by: request.decided_by,
            decided_at: request.decided_at.clone(),
        }
    }
}

/// One admin told of one request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    #[serde(rename = "_id")]
    pub id: ObjectId,
    pub user: ObjectId,
    #[serde(rename = "type")]
    pub kind: String,
    pub request: ObjectId,
    pub chat: ObjectId,
    pub from: ObjectId,
    pub dismissed: bool,
    pub created_at: String,
}

/// Which admin got which notification of a request, kept on the request item so that
/// deciding it can dismiss them without a query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotificationRef {
    #[serde(rename = "_id")]
    pub id: ObjectId,
    pub user: ObjectId,
}

pub const CHAT_JOIN_REQUEST: &str = "chat-join-request";

impl Notification {
    pub fn reference(&self) -> NotificationRef {
        NotificationRef { id: self.id, user: self.user }
    }
}

/// The notifications of a new request, one per active admin, as its outbox holds them:
/// what they share once, and each admin's notification id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestNotifications {
    pub request: ObjectId,
    pub chat: ObjectId,
    pub from: ObjectId,
    pub created_at: String,
    pub admins: Vec<NotificationRef>,
}

impl RequestNotifications {
    pub fn of_request(request: &JoinRequest, admins: impl IntoIterator<Item = ObjectId>) -> Self {
        Self {
            request: request.id,
            chat: request.chat,
            from: request.user,
            created_at: request.created_at.clone(),
            admins: admins.into_iter().map(|user| NotificationRef { id: ObjectId::generate(), user }).collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.admins.is_empty()
    }

    pub fn notifications(&self) -> Vec<Notification> {
        self.admins
            .iter()
            .map(|admin| Notification {
                id: admin.id,
                user: admin.user,
                kind: CHAT_JOIN_REQUEST.to_owned(),
                request: self.request,
                chat: self.chat,
                from: self.from,
                dismissed: false,
                created_at: self.created_at.clone(),
            })
            .collect()
    }
}
