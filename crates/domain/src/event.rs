//! The real-time events a change causes. They are built with the change and stored in
//! the same transaction (the outbox), so a committed change never loses its events.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::id::ObjectId;
use super::request::{ClosedRequest, JoinRequest, Notification, NotificationRef, RequestNotifications, RequestStatus};
use super::score::Score;
use super::view::{ChatView, PopulatedRequest};

pub const CHAT_JOIN_REQUEST: &str = super::request::CHAT_JOIN_REQUEST;
pub const CHAT_REQUEST_ACCEPTED: &str = "chat-request-accepted";
pub const SCORE_UPDATED: &str = "score-updated";
pub const CHAT_REQUEST_REJECTED: &str = "chat-request-rejected";
pub const CHAT_REQUEST_EXPIRED: &str = "chat-request-expired";
pub const CHAT_JOIN_REQUEST_CLOSED: &str = "chat-join-request-closed";

/// Every event name, for the EventBridge rule (`template.yaml` and the local stack).
pub const ALL_EVENTS: [&str; 6] = [
    CHAT_JOIN_REQUEST,
    CHAT_REQUEST_ACCEPTED,
    SCORE_UPDATED,
    CHAT_REQUEST_REJECTED,
    CHAT_REQUEST_EXPIRED,
    CHAT_JOIN_REQUEST_CLOSED,
];

/// The contract's bound on one event, whatever the size of the chat ("Sizes").
pub const MAX_EVENT_BYTES: usize = 32 * 1024;

/// One message for one recipient. `id` is fixed when the change commits, so every
/// redelivery carries the same id and a client can drop duplicates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboundEvent {
    pub id: ObjectId,
    pub event: String,
    pub to: ObjectId,
    pub data: Value,
}

impl OutboundEvent {
    /// The WebSocket message: `{"id", "event", "data"}`.
    pub fn message(&self) -> Value {
        json!({ "id": self.id, "event": self.event, "data": self.data })
    }
}

/// What one change sends one recipient, as one message of the bus: its events in the
/// order they must reach each of the recipient's connections (the contract's order: an
/// acceptance's `chat-request-accepted`, then `score-updated`). One message, so that no
/// two deliveries of one change race each other to a connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    /// The first event; a delivery of one event is that event's own shape.
    #[serde(flatten)]
    pub first: OutboundEvent,
    /// The events after it, in order.
    #[serde(default, rename = "followedBy", skip_serializing_if = "Vec::is_empty")]
    pub followed_by: Vec<OutboundEvent>,
}

impl Delivery {
    /// Its events, in order.
    pub fn events(&self) -> impl Iterator<Item = &OutboundEvent> {
        std::iter::once(&self.first).chain(&self.followed_by)
    }

    /// `events` grouped by recipient, each group in the order of `events`, the groups in
    /// the order of their first event.
    pub fn group(events: &[OutboundEvent]) -> Vec<Delivery> {
        let mut deliveries: Vec<Delivery> = Vec::new();
        for event in events {
            match deliveries.iter_mut().find(|delivery| delivery.first.to == event.to) {
                Some(delivery) => delivery.followed_by.push(event.clone()),
                None => deliveries.push(Delivery { first: event.clone(), followed_by: Vec::new() }),
            }
        }
        deliveries
    }
}

/// One event name sent to several recipients: the data they all get is stored once,
/// beside what each gets of their own. So the outbox of a change stays small whatever
/// the number of recipients: 95 admins each told of the same populated request would
/// otherwise store that request 95 times.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fanout {
    pub event: String,
    /// What every recipient gets.
    pub data: Map<String, Value>,
    pub recipients: Vec<Recipient>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recipient {
    /// The event's id for this recipient.
    pub id: ObjectId,
    pub to: ObjectId,
    /// Fields of `data` that only this recipient gets.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub data: Map<String, Value>,
}

/// The request as its requester's events show it: without the answers, which they gave
/// (`GET /requests/{id}` shows them). With them, `chat-request-accepted`, which shows
/// the chat twice, could pass [`MAX_EVENT_BYTES`].
fn for_requester(request: &PopulatedRequest) -> PopulatedRequest {
    PopulatedRequest { answers: Vec::new(), ..request.clone() }
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

impl Fanout {
    fn to_one(event: &str, to: ObjectId, data: Value) -> Self {
        let recipients = vec![Recipient { id: ObjectId::generate_for_event(), to, data: Map::new() }];
        Self { event: event.to_owned(), data: object(data), recipients }
    }

    /// Each admin gets the populated request (the same for all: `areYouAdmin` is true
    /// for every one of them) and their own notification.
    pub fn join_requested(request: &PopulatedRequest, notifications: &[Notification]) -> Self {
        let recipients = notifications
            .iter()
            .map(|notification| Recipient {
                id: ObjectId::generate_for_event(),
                to: notification.user,
                data: object(json!({ "notification": notification })),
            })
            .collect();
        Self { event: CHAT_JOIN_REQUEST.to_owned(), data: object(json!({ "request": request })), recipients }
    }

    pub fn request_accepted(request: &PopulatedRequest, chat: &ChatView) -> Self {
        let request = for_requester(request);
        Self::to_one(CHAT_REQUEST_ACCEPTED, request.user.id, json!({ "request": request, "chat": chat }))
    }

    pub fn score_updated(to: ObjectId, score: &Score, action: &str) -> Self {
        Self::to_one(SCORE_UPDATED, to, json!({ "score": score, "action": action }))
    }

    /// To the requester, with the admin's `reason` in the request.
    pub fn request_rejected(request: &PopulatedRequest) -> Self {
        Self::to_one(CHAT_REQUEST_REJECTED, request.user.id, json!({ "request": for_requester(request) }))
    }

    /// To the requester.
    pub fn request_expired(request: &PopulatedRequest) -> Self {
        Self::to_one(CHAT_REQUEST_EXPIRED, request.user.id, json!({ "request": for_requester(request) }))
    }

    /// To every active admin of the chat, whatever closed the request.
    pub fn request_closed(request: &ClosedRequest, admins: impl IntoIterator<Item = ObjectId>) -> Self {
        let recipients = admins
            .into_iter()
            .map(|to| Recipient { id: ObjectId::generate_for_event(), to, data: Map::new() })
            .collect();
        Self { event: CHAT_JOIN_REQUEST_CLOSED.to_owned(), data: object(json!({ "request": request })), recipients }
    }

    /// One event per recipient, with the shared data and their own.
    pub fn events(&self) -> impl Iterator<Item = OutboundEvent> + '_ {
        self.recipients.iter().map(|recipient| {
            let mut data = self.data.clone();
            data.extend(recipient.data.clone());
            OutboundEvent { id: recipient.id, event: self.event.clone(), to: recipient.to, data: Value::Object(data) }
        })
    }
}

/// Everything a committed change still has to do outside its transaction: the events
/// to publish and the notifications to dismiss. Stored in the change's transaction,
/// removed once done, so none of it is lost if the function dies in between.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Outbox {
    #[serde(rename = "_id")]
    pub id: ObjectId,
    pub created_at: String,
    #[serde(default)]
    pub events: Vec<Fanout>,
    /// Dismissed after the commit rather than in it: a decision's transaction then
    /// holds a fixed number of items whatever the number of admins.
    #[serde(default)]
    pub dismiss: Vec<NotificationRef>,
    /// A create's notifications, one per active admin, written after the commit for
    /// the same reason (a create's transaction holds a fixed number of items too), and
    /// only while the request is still pending, so a decision's dismissal never misses
    /// one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify: Option<RequestNotifications>,
    /// What the app's other services hear of the change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<RequestChanged>,
}

/// The detail-types of [`RequestChanged`], one per status a request reaches.
pub const REQUEST_CHANGES: [&str; 5] = [
    "join-request.created",
    "join-request.accepted",
    "join-request.rejected",
    "join-request.cancelled",
    "join-request.expired",
];

/// The most a [`RequestChanged`] detail may take (contract, "Our events out").
pub const MAX_CHANGE_BYTES: usize = 16 * 1024;

/// A request's change of status as the app's other services hear of it: one event per
/// change, on the bus, detail-type `join-request.<what happened>` ([`REQUEST_CHANGES`]).
/// Its `id` is fixed when the change commits, so a consumer drops repeats by it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestChanged {
    pub id: ObjectId,
    pub occurred_at: String,
    pub request: JoinRequest,
}

impl RequestChanged {
    /// The answers go by question id alone: with the questions' texts (5 × 300
    /// characters of up to 4 bytes) beside the answers (5 × 500) a detail could pass
    /// [`MAX_CHANGE_BYTES`]. A consumer that wants the texts reads the request.
    pub fn of(request: &JoinRequest, occurred_at: &str) -> Self {
        let mut request = request.clone();
        for answer in &mut request.answers {
            answer.text.clear();
        }
        Self { id: ObjectId::generate_for_event(), occurred_at: occurred_at.to_owned(), request }
    }

    pub fn detail_type(&self) -> &'static str {
        let [created, accepted, rejected, cancelled, expired] = REQUEST_CHANGES;
        match self.request.status {
            RequestStatus::Pending => created,
            RequestStatus::Accepted => accepted,
            RequestStatus::Rejected => rejected,
            RequestStatus::Cancelled => cancelled,
            RequestStatus::Expired => expired,
        }
    }
}

impl Outbox {
    /// The outbox of `request`'s change of status, made at `created_at`.
    pub fn new(request: &JoinRequest, created_at: &str, events: Vec<Fanout>, dismiss: Vec<NotificationRef>) -> Self {
        Self {
            id: ObjectId::generate(),
            created_at: created_at.to_owned(),
            events,
            dismiss,
            notify: None,
            change: Some(RequestChanged::of(request, created_at)),
        }
    }

    /// The outbox of a create: its events and its notifications.
    pub fn of_create(request: &JoinRequest, events: Vec<Fanout>, notify: RequestNotifications) -> Self {
        let notify = (!notify.is_empty()).then_some(notify);
        Self { notify, ..Self::new(request, &request.created_at, events, Vec::new()) }
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && self.dismiss.is_empty() && self.notify.is_none() && self.change.is_none()
    }

    pub fn outbound(&self) -> Vec<OutboundEvent> {
        self.events.iter().flat_map(Fanout::events).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deliveries_group_a_changes_events_by_recipient_in_order() {
        let (a, b) = (ObjectId::generate(), ObjectId::generate());
        let event =
            |name: &str, to| OutboundEvent { id: ObjectId::generate(), event: name.into(), to, data: json!({}) };
        let events =
            [event("chat-request-accepted", a), event("chat-join-request-closed", b), event("score-updated", a)];
        let deliveries = Delivery::group(&events);
        assert_eq!(deliveries.len(), 2);
        let names: Vec<&str> = deliveries[0].events().map(|e| e.event.as_str()).collect();
        assert_eq!(names, ["chat-request-accepted", "score-updated"]);
        let one = serde_json::to_value(&deliveries[1]).unwrap();
        assert_eq!(one, serde_json::to_value(&events[1]).unwrap(), "one event: the event's own shape");
        assert_eq!(serde_json::from_value::<Delivery>(one).unwrap(), deliveries[1]);
    }

    #[test]
    fn a_fanout_gives_each_recipient_the_shared_data_and_their_own() {
        let ids: Vec<ObjectId> = (1..=3).map(|n| ObjectId::parse(&format!("{n:024x}")).unwrap()).collect();
        let fanout = Fanout {
            event: "e".into(),
            data: object(json!({"shared": 1})),
            recipients: ids.iter().map(|to| Recipient { id: *to, to: *to, data: object(json!({"own": to})) }).collect(),
        };
        let events: Vec<OutboundEvent> = fanout.events().collect();
        assert_eq!(events.len(), 3);
        for (event, to) in events.iter().zip(&ids) {
            assert_eq!(event.to, *to);
            assert_eq!(event.data, json!({"shared": 1, "own": to}));
        }
    }
}
