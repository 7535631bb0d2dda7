//! The real-time events a change causes. They are built with the change and stored in
//! the same transaction (the outbox), so a committed change never loses its events.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::chat::Chat;
use super::id::ObjectId;
use super::request::Notification;
use super::score::Score;
use super::view::{ChatView, PopulatedRequest};

pub const CHAT_JOIN_REQUEST: &str = super::request::CHAT_JOIN_REQUEST;
pub const CHAT_REQUEST_ACCEPTED: &str = "chat-request-accepted";
pub const SCORE_UPDATED: &str = "score-updated";

/// One message for one recipient. `id` is fixed when the change commits, so every
/// redelivery carries the same id and a client can drop duplicates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboundEvent {
    pub id: ObjectId,
    pub event: String,
    pub to: ObjectId,
    pub data: serde_json::Value,
}

impl OutboundEvent {
    fn new(event: &str, to: ObjectId, data: serde_json::Value) -> Self {
        Self { id: ObjectId::generate(), event: event.to_owned(), to, data }
    }

    /// The WebSocket message: `{"id", "event", "data"}`.
    pub fn message(&self) -> serde_json::Value {
        json!({ "id": self.id, "event": self.event, "data": self.data })
    }

    pub fn join_requested(request: &PopulatedRequest, notification: &Notification) -> Self {
        let data = json!({ "request": request, "notification": notification });
        Self::new(CHAT_JOIN_REQUEST, notification.user, data)
    }

    pub fn request_accepted(request: &PopulatedRequest, chat: &Chat) -> Self {
        let to = request.user.id;
        let data = json!({ "request": request, "chat": ChatView::for_viewer(chat, to) });
        Self::new(CHAT_REQUEST_ACCEPTED, to, data)
    }

    pub fn score_updated(to: ObjectId, score: &Score, action: &str) -> Self {
        Self::new(SCORE_UPDATED, to, json!({ "score": score, "action": action }))
    }
}
