//! The REST answers, as openapi.yaml shows them, built from what the use cases return.

use app::ports::KeptEvent;
use app::ports::KeptPage;
use app::requests::{Committed, Queue, RequestPage};
use app::AppError;
use domain::view::UserView;
use domain::{Answer, Note, ObjectId, Outbox, PopulatedRequest, RequestStatus};
use serde::Serialize;

use crate::error::ApiError;

/// `GET /requests`.
#[derive(Debug, Serialize)]
pub struct RequestPageView {
    pub requests: Vec<PopulatedRequest>,
    pub count: usize,
}

impl From<RequestPage> for RequestPageView {
    fn from(page: RequestPage) -> Self {
        Self { requests: page.requests, count: page.count }
    }
}

/// One request in the admins' queue: populated with its requester and its message,
/// its chat left as the id (the admin is looking at that chat).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QueuedRequestView {
    #[serde(rename = "_id")]
    pub id: ObjectId,
    pub user: UserView,
    pub chat: ObjectId,
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

/// `GET /chats/{id}/requests`.
#[derive(Debug, Serialize)]
pub struct QueueView {
    pub requests: Vec<QueuedRequestView>,
    pub count: u64,
}

impl From<Queue> for QueueView {
    fn from(queue: Queue) -> Self {
        let requests = queue
            .requests
            .into_iter()
            .map(|queued| {
                let r = queued.request;
                QueuedRequestView {
                    id: r.id,
                    user: queued.user,
                    chat: r.chat,
                    status: r.status,
                    created_at: r.created_at,
                    updated_at: r.updated_at,
                    decided_by: r.decided_by,
                    decided_at: r.decided_at,
                    message: r.message,
                    reason: r.reason,
                    answers: r.answers,
                }
            })
            .collect();
        Self { requests, count: queue.count }
    }
}

/// `GET /events`.
#[derive(Debug, Serialize)]
pub struct EventsPageView {
    pub events: Vec<KeptEvent>,
    pub cursor: String,
    pub more: bool,
}

impl From<KeptPage> for EventsPageView {
    fn from(page: KeptPage) -> Self {
        Self { events: page.events, cursor: page.cursor, more: page.more }
    }
}

/// One entry of `results`: the decided request, or the status and code Patch would give.
#[derive(Debug, Serialize)]
pub struct DecisionResultView {
    #[serde(rename = "_id")]
    pub id: ObjectId,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<PopulatedRequest>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'static str>,
}

/// `POST /chats/{id}/requests/decisions`: each outcome as Patch would answer it, in
/// order, and the committed decisions' outboxes to carry out.
pub fn decision_results(
    outcomes: Vec<(ObjectId, Result<Committed<PopulatedRequest>, AppError>)>,
) -> (Vec<DecisionResultView>, Vec<Outbox>) {
    let mut results = Vec::with_capacity(outcomes.len());
    let mut outboxes = Vec::new();
    for (id, outcome) in outcomes {
        results.push(match outcome {
            Ok(committed) => {
                outboxes.push(committed.outbox);
                DecisionResultView { id, status: 200, request: Some(committed.value), code: None }
            }
            Err(error) => {
                if matches!(error, AppError::Internal(_) | AppError::Unavailable(_)) {
                    tracing::warn!(request = %id, %error, "one decision of many failed");
                }
                let error = ApiError::from(error);
                DecisionResultView { id, status: error.status(), request: None, code: Some(error.code()) }
            }
        });
    }
    (results, outboxes)
}
