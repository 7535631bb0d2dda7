//! The populated shapes the API and the real-time events show, as in the seed.

use serde::Serialize;

use super::chat::{ChatSnapshot, Participant, User};
use super::id::ObjectId;
use super::moderation::Answer;
use super::request::{JoinRequest, Note, RequestStatus};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UserView {
    #[serde(rename = "_id")]
    pub id: ObjectId,
    pub username: Option<String>,
    pub name: Option<String>,
    pub photo: Option<String>,
}

impl UserView {
    /// Users belong to the rest of the app; a requester whose profile is gone still
    /// shows with their id rather than failing the whole call.
    pub fn of(id: ObjectId, user: Option<&User>) -> Self {
        Self {
            id,
            username: user.map(|u| u.username.clone()),
            name: user.map(|u| u.name.clone()),
            photo: user.and_then(|u| u.photo.clone()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatView {
    #[serde(rename = "_id")]
    pub id: ObjectId,
    pub creator: ObjectId,
    pub is_group: bool,
    pub are_you_admin: bool,
    pub name: String,
    /// At most 100: active admins first, then the others in the order they joined.
    pub participants: Vec<Participant>,
    /// All active participants, shown or not.
    pub participants_count: u64,
    pub created_at: String,
    pub updated_at: String,
    pub restricted: bool,
}

impl ChatView {
    pub fn for_viewer(snapshot: &ChatSnapshot, viewer: ObjectId) -> Self {
        let chat = &snapshot.chat;
        Self {
            id: chat.id,
            creator: chat.creator,
            is_group: chat.is_group,
            are_you_admin: snapshot.is_active_admin(viewer),
            name: chat.name.clone(),
            participants: snapshot.shown.clone(),
            participants_count: chat.participants_count,
            created_at: chat.created_at.clone(),
            updated_at: chat.updated_at.clone(),
            restricted: chat.restricted,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PopulatedRequest {
    #[serde(rename = "_id")]
    pub id: ObjectId,
    pub user: UserView,
    /// `null` only if the chat was deleted by the rest of the app after the request.
    pub chat: Option<ChatView>,
    pub status: RequestStatus,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<ObjectId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<Note>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<Note>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub answers: Vec<Answer>,
}

impl PopulatedRequest {
    pub fn new(request: &JoinRequest, user: Option<&User>, chat: Option<&ChatSnapshot>, viewer: ObjectId) -> Self {
        Self {
            id: request.id,
            user: UserView::of(request.user, user),
            chat: chat.map(|chat| ChatView::for_viewer(chat, viewer)),
            status: request.status,
            created_at: request.created_at.clone(),
            updated_at: request.updated_at.clone(),
            decided_by: request.decided_by,
            decided_at: request.decided_at.clone(),
            message: request.message.clone(),
            reason: request.reason.clone(),
            answers: request.answers.clone(),
        }
    }
}
