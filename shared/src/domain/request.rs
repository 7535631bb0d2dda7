use serde::{Deserialize, Serialize};

use super::id::ObjectId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RequestStatus {
    Pending,
    Accepted,
    Rejected,
}

impl RequestStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Accepted => "accepted",
            Self::Rejected => "rejected",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "pending" => Some(Self::Pending),
            "accepted" => Some(Self::Accepted),
            "rejected" => Some(Self::Rejected),
            _ => None,
        }
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
}

impl JoinRequest {
    pub fn new_pending(id: ObjectId, user: ObjectId, chat: ObjectId, now: &str) -> Self {
        Self {
            id,
            user,
            chat,
            status: RequestStatus::Pending,
            created_at: now.to_owned(),
            updated_at: None,
            decided_by: None,
            decided_at: None,
        }
    }

    pub fn decided(&self, decision: Decision, admin: ObjectId, now: &str) -> Self {
        Self {
            status: decision.into(),
            updated_at: Some(now.to_owned()),
            decided_by: Some(admin),
            decided_at: Some(now.to_owned()),
            ..self.clone()
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

    pub fn of_request(admin: ObjectId, request: &JoinRequest) -> Self {
        Self {
            id: ObjectId::generate(),
            user: admin,
            kind: CHAT_JOIN_REQUEST.to_owned(),
            request: request.id,
            chat: request.chat,
            from: request.user,
            dismissed: false,
            created_at: request.created_at.clone(),
        }
    }
}
