//! The four calls of the contract, in domain terms. Each says how many DynamoDB round
//! trips it makes; the README's table repeats those numbers.

use serde::{Deserialize, Serialize};

use crate::app::App;
use crate::domain::score::JOIN_GROUP_CHAT;
use crate::domain::time::now_timestamp;
use crate::domain::{
    Chat, Decision, JoinRequest, Notification, ObjectId, OutboundEvent, PageQuery, PopulatedRequest, RequestStatus,
    User,
};
use crate::error::ApiError;
use crate::store::{
    backoff, Acceptance, CreatePlan, DecisionPlan, Guard, Lookup, Store, StoreError, TxError, VersionedScore,
};

/// How often a call re-reads and re-plans after losing a race that does not decide its
/// outcome (a chat or score changed meanwhile, or DynamoDB reported a conflict).
pub const MAX_ATTEMPTS: u32 = 6;

/// A committed change and the events it caused (already in the outbox).
#[derive(Debug)]
pub struct Committed<T> {
    pub value: T,
    pub events: Vec<OutboundEvent>,
}

#[derive(Debug, Serialize)]
pub struct RequestPage {
    pub requests: Vec<PopulatedRequest>,
    pub count: usize,
}

#[derive(Debug, Deserialize)]
pub struct CreateBody {
    pub chat: String,
}

#[derive(Debug, Deserialize)]
pub struct DecisionBody {
    pub status: Decision,
}

/// `GET /requests`. Round trips: one `Query` per MB of the caller's matching index
/// entries (every entry is read, for the exact count), then one `BatchGetItem` for the
/// page's chats and the caller (two, sent together, when a page of 100 holds 100 chats).
pub async fn list(app: &App, caller: ObjectId, query: PageQuery) -> Result<RequestPage, ApiError> {
    let all = app.store.requests_of(caller, query.status()).await?;
    let count = all.len();
    let page = &all[query.window(count)];
    if page.is_empty() {
        return Ok(RequestPage { requests: Vec::new(), count });
    }
    let lookup = Lookup { users: vec![caller], chats: page.iter().map(|r| r.chat).collect(), scores: Vec::new() };
    let loaded = app.store.load(&lookup).await?;
    let user = loaded.users.get(&caller);
    let requests = page
        .iter()
        .map(|request| PopulatedRequest::new(request, user, loaded.chats.get(&request.chat), caller))
        .collect();
    Ok(RequestPage { requests, count })
}

/// `GET /requests/{id}`. Round trips: 2 (the request, then its chat and user together);
/// the chat's id is only known from the request.
pub async fn get(app: &App, caller: ObjectId, id: ObjectId) -> Result<PopulatedRequest, ApiError> {
    let stored = app.store.request(id).await?.ok_or(ApiError::RequestNotFound)?;
    let request = stored.request;
    if request.user != caller {
        // Someone else's request is indistinguishable from a missing one.
        return Err(ApiError::RequestNotFound);
    }
    let loaded = app.store.load(&Lookup { users: vec![caller], chats: vec![request.chat], scores: Vec::new() }).await?;
    Ok(PopulatedRequest::new(&request, loaded.users.get(&caller), loaded.chats.get(&request.chat), caller))
}

/// `POST /requests`. Round trips: 2 (chat and caller together, then one transaction),
/// more only when a race forces a re-read.
pub async fn create(app: &App, caller: ObjectId, chat_id: ObjectId) -> Result<Committed<JoinRequest>, ApiError> {
    create_with_id(&app.store, ObjectId::generate(), caller, chat_id).await
}

/// [`create`] with the request's id chosen by the caller: the fixture loader uses it
/// to give demo requests ids that the sample events name.
pub async fn create_with_id(
    store: &Store,
    id: ObjectId,
    caller: ObjectId,
    chat_id: ObjectId,
) -> Result<Committed<JoinRequest>, ApiError> {
    for attempt in 0..MAX_ATTEMPTS {
        let loaded = store.load(&Lookup { users: vec![caller], chats: vec![chat_id], scores: Vec::new() }).await?;
        let chat = loaded.chats.get(&chat_id).ok_or(ApiError::ChatNotFound)?;
        chat.check_joinable_by(caller)?;

        let now = now_timestamp();
        let request = JoinRequest::new_pending(id, caller, chat_id, &now);
        let notifications: Vec<Notification> =
            chat.active_admins().map(|admin| Notification::of_request(admin, &request)).collect();
        let events = join_request_events(&request, loaded.users.get(&caller), chat, &notifications);
        let plan = CreatePlan { request: &request, notifications: &notifications, events: &events };
        match store.commit_create(&plan).await {
            Ok(()) => return Ok(Committed { value: request, events }),
            Err(TxError::Failed(Guard::PendingMarker)) => return Err(ApiError::RequestAlreadyPending),
            Err(TxError::Failed(Guard::ChatState) | TxError::Conflict) => {
                tracing::info!(attempt, "create lost a race; reading again");
                tokio::time::sleep(backoff(attempt)).await;
            }
            Err(TxError::Failed(guard)) => return Err(unexpected(guard)),
            Err(TxError::Store(error)) => return Err(error.into()),
        }
    }
    Err(StoreError::Contended(MAX_ATTEMPTS).into())
}

fn join_request_events(
    request: &JoinRequest,
    requester: Option<&User>,
    chat: &Chat,
    notifications: &[Notification],
) -> Vec<OutboundEvent> {
    notifications
        .iter()
        .map(|notification| {
            let populated = PopulatedRequest::new(request, requester, Some(chat), notification.user);
            OutboundEvent::join_requested(&populated, notification)
        })
        .collect()
}

/// `PATCH /requests/{id}`. Round trips: 3 (the request; then its chat, the requester
/// and their score together; then one transaction), more only when a race forces a
/// re-read.
pub async fn decide(
    app: &App,
    caller: ObjectId,
    id: ObjectId,
    decision: Decision,
) -> Result<Committed<PopulatedRequest>, ApiError> {
    for attempt in 0..MAX_ATTEMPTS {
        let stored = app.store.request(id).await?.ok_or(ApiError::RequestNotFound)?;
        let request = stored.request;
        let requester = request.user;
        let scores = if decision == Decision::Accepted { vec![requester] } else { Vec::new() };
        let loaded = app.store.load(&Lookup { users: vec![requester], chats: vec![request.chat], scores }).await?;
        // A chat the rest of the app deleted has no members, so nobody may decide.
        let chat = loaded.chats.get(&request.chat).ok_or(ApiError::NotChatMember)?;
        chat.check_decider(caller)?;
        if request.status != RequestStatus::Pending {
            return Err(ApiError::RequestNotPending);
        }

        let now = now_timestamp();
        let decided = request.decided(decision, caller, &now);
        let user = loaded.users.get(&requester);
        let (acceptance, events, chat_after) = match decision {
            Decision::Rejected => (None, Vec::new(), chat.clone()),
            Decision::Accepted => {
                let admission = chat.plan_admission(requester, &now);
                let chat_after = chat.admitted(requester, &admission, &now);
                let read = loaded.scores.get(&requester);
                let score = VersionedScore {
                    score: read
                        .map(|s| s.score.clone())
                        .unwrap_or_default()
                        .counted(JOIN_GROUP_CHAT, app.settings.join_group_chat_points),
                    version: read.map_or(1, |s| s.version + 1),
                };
                let for_requester = PopulatedRequest::new(&decided, user, Some(&chat_after), requester);
                let events = vec![
                    OutboundEvent::request_accepted(&for_requester, &chat_after),
                    OutboundEvent::score_updated(requester, &score.score, JOIN_GROUP_CHAT),
                ];
                let read_version = read.map(|s| s.version);
                (Some(Acceptance { admission, score, read_version }), events, chat_after)
            }
        };
        let plan = DecisionPlan {
            decided: &decided,
            notified: &stored.notified,
            decider: caller,
            acceptance: acceptance.as_ref(),
            events: &events,
        };
        match app.store.commit_decision(&plan).await {
            Ok(()) => {
                let value = PopulatedRequest::new(&decided, user, Some(&chat_after), caller);
                return Ok(Committed { value, events });
            }
            Err(TxError::Failed(Guard::RequestPending)) => return Err(ApiError::RequestNotPending),
            Err(TxError::Failed(Guard::ChatState | Guard::ScoreVersion) | TxError::Conflict) => {
                tracing::info!(attempt, "decision lost a race; reading again");
                tokio::time::sleep(backoff(attempt)).await;
            }
            Err(TxError::Failed(guard)) => return Err(unexpected(guard)),
            Err(TxError::Store(error)) => return Err(error.into()),
        }
    }
    Err(StoreError::Contended(MAX_ATTEMPTS).into())
}

fn unexpected(guard: Guard) -> ApiError {
    StoreError::Sdk { operation: "TransactWriteItems", message: format!("unexpected condition failure: {guard:?}") }
        .into()
}
