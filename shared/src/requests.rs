//! The four calls of the contract, in domain terms. Each says how many DynamoDB round
//! trips it makes (a round trip is one wait: calls sent together count once); the
//! README's table repeats those numbers.

use serde::{Deserialize, Serialize};

use crate::app::App;
use crate::domain::score::JOIN_GROUP_CHAT;
use crate::domain::time::{now_timestamp, seconds_until, timestamp_seconds_ago};
use crate::domain::view::{ChatView, UserView};
use crate::domain::{
    ChatSnapshot, ClosedRequest, Decision, Fanout, JoinRequest, Note, Notification, ObjectId, Outbox, PageQuery,
    PopulatedRequest, RequestStatus, User,
};
use crate::error::ApiError;
use crate::retry::backoff;
use crate::store::{Acceptance, ClosePlan, CreatePlan, Guard, Lookup, Store, StoreError, TxError};
use futures::StreamExt;

/// How often a call re-reads and re-plans after losing a race that does not decide its
/// outcome (an entry, the chat or the score changed meanwhile, or DynamoDB reported a
/// conflict).
pub const MAX_ATTEMPTS: u32 = 6;

/// A committed change and what its outbox still has to do (already stored with it).
#[derive(Debug)]
pub struct Committed<T> {
    pub value: T,
    pub outbox: Outbox,
}

#[derive(Debug, Serialize)]
pub struct RequestPage {
    pub requests: Vec<PopulatedRequest>,
    pub count: usize,
}

#[derive(Debug, Deserialize)]
pub struct CreateBody {
    pub chat: String,
    #[serde(default, deserialize_with = "a_string")]
    pub message: Option<String>,
}

impl CreateBody {
    /// The chat's id and the message: a bad message is `INVALID_BODY`, checked before
    /// the id (`INVALID_ID`), as every body error is.
    pub fn parse(self) -> Result<(ObjectId, Option<Note>), ApiError> {
        let message = self.message.map(|text| Note::parse("message", &text)).transpose()?;
        let chat = ObjectId::parse(&self.chat).map_err(|_| ApiError::InvalidId)?;
        Ok((chat, message))
    }
}

#[derive(Debug, Deserialize)]
pub struct DecisionBody {
    pub status: Decision,
    #[serde(default, deserialize_with = "a_string")]
    pub reason: Option<String>,
}

/// An optional text field is a string when present: `null` is refused like any other
/// non-string, so a body means one thing (openapi.yaml says the same).
fn a_string<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    String::deserialize(deserializer).map(Some)
}

impl DecisionBody {
    /// A `reason` goes only with a rejection.
    pub fn parse(self) -> Result<(Decision, Option<Note>), ApiError> {
        let reason = self.reason.map(|text| Note::parse("reason", &text)).transpose()?;
        if reason.is_some() && self.status != Decision::Rejected {
            return Err(ApiError::InvalidBody("a reason goes only with \"status\": \"rejected\"".into()));
        }
        Ok((self.status, reason))
    }
}

/// `GET /requests`. Round trips: one `Query` per MB of the caller's matching index
/// entries (every entry is read, for the exact count), then one round for the page:
/// a `BatchGetItem` of its chats and the caller, beside one `Query` per distinct chat
/// for the participants it shows.
pub async fn list(app: &App, caller: ObjectId, query: PageQuery) -> Result<RequestPage, ApiError> {
    let all = app.store.requests_of(caller, query.status()).await?;
    let count = all.len();
    let page = &all[query.window(count)];
    if page.is_empty() {
        return Ok(RequestPage { requests: Vec::new(), count });
    }
    let lookup = Lookup { users: vec![caller], chats: page.iter().map(|r| r.chat).collect(), ..Lookup::default() };
    let loaded = app.store.load(&lookup).await?;
    let user = loaded.users.get(&caller);
    let requests = page
        .iter()
        .map(|request| PopulatedRequest::new(request, user, loaded.chats.get(&request.chat), caller))
        .collect();
    Ok(RequestPage { requests, count })
}

/// `GET /requests/{id}`. Round trips: 2 (the request; then its chat, the participants
/// it shows and the user, together); the chat's id is only known from the request.
pub async fn get(app: &App, caller: ObjectId, id: ObjectId) -> Result<PopulatedRequest, ApiError> {
    let stored = app.store.request(id).await?.ok_or(ApiError::RequestNotFound)?;
    let request = stored.request;
    if request.user != caller {
        // Someone else's request is indistinguishable from a missing one.
        return Err(ApiError::RequestNotFound);
    }
    let loaded =
        app.store.load(&Lookup { users: vec![caller], chats: vec![request.chat], ..Lookup::default() }).await?;
    Ok(PopulatedRequest::new(&request, loaded.users.get(&caller), loaded.chats.get(&request.chat), caller))
}

/// `POST /requests`. Round trips: 2 (the chat, the participants it shows, the caller
/// and the caller's entry in the chat, together; then one transaction), more only when
/// a race forces a re-read.
pub async fn create(
    app: &App,
    caller: ObjectId,
    chat_id: ObjectId,
    message: Option<Note>,
) -> Result<Committed<JoinRequest>, ApiError> {
    create_with_id(&app.store, ObjectId::generate(), caller, chat_id, message).await
}

/// [`create`] with the request's id chosen by the caller: the fixture loader uses it
/// to give demo requests ids that the sample events name.
pub async fn create_with_id(
    store: &Store,
    id: ObjectId,
    caller: ObjectId,
    chat_id: ObjectId,
    message: Option<Note>,
) -> Result<Committed<JoinRequest>, ApiError> {
    for attempt in 0..MAX_ATTEMPTS {
        let lookup = Lookup {
            users: vec![caller],
            chats: vec![chat_id],
            memberships: vec![(chat_id, caller)],
            markers: vec![(caller, chat_id)],
            ..Lookup::default()
        };
        let loaded = store.load(&lookup).await?;
        let snapshot = loaded.chats.get(&chat_id).ok_or(ApiError::ChatNotFound)?;
        snapshot.chat.check_joinable_by(loaded.membership(chat_id, caller))?;
        // Read to answer precisely; the transaction's condition on the marker is what
        // holds under concurrency.
        if let Some(marker) = loaded.markers.get(&(caller, chat_id)) {
            if marker.request.is_some() {
                return Err(ApiError::RequestAlreadyPending);
            }
            if let Some(retry_after) = marker.cooldown_until.as_deref().and_then(seconds_until) {
                return Err(ApiError::RequestCooldown { retry_after });
            }
        }

        let now = now_timestamp();
        let request = JoinRequest::new_pending(id, caller, chat_id, message.clone(), &now);
        let notifications: Vec<Notification> =
            snapshot.active_admins().map(|admin| Notification::of_request(admin, &request)).collect();
        let outbox = Outbox::new(
            &now,
            join_request_events(&request, loaded.users.get(&caller), snapshot, &notifications),
            Vec::new(),
        );
        let plan = CreatePlan { request: &request, notifications: &notifications, outbox: &outbox };
        match store.commit_create(&plan).await {
            Ok(()) => return Ok(Committed { value: request, outbox }),
            // Another request, or a cooldown, came first: the next read says which.
            Err(TxError::Failed(Guard::PendingMarker | Guard::RequesterEntry) | TxError::Conflict) => {
                tracing::info!(attempt, "create lost a race; reading again");
                tokio::time::sleep(backoff(attempt)).await;
            }
            Err(TxError::Failed(guard)) => return Err(StoreError::UnexpectedCondition(guard).into()),
            Err(TxError::Store(error)) => return Err(error.into()),
        }
    }
    Err(StoreError::Contended(MAX_ATTEMPTS).into())
}

fn join_request_events(
    request: &JoinRequest,
    requester: Option<&User>,
    snapshot: &ChatSnapshot,
    notifications: &[Notification],
) -> Vec<Fanout> {
    let Some(first) = notifications.first() else {
        return Vec::new();
    };
    // Every recipient is an active admin, so the view is the same for all of them.
    let populated = PopulatedRequest::new(request, requester, Some(snapshot), first.user);
    vec![Fanout::join_requested(&populated, notifications)]
}

/// `PATCH /requests/{id}`. Round trips: 3 (the request; then its chat, the participants
/// it shows, the requester, the decider's and the requester's entries and the
/// requester's score, together; then one transaction), more only when a race forces a
/// re-read.
pub async fn decide(
    app: &App,
    caller: ObjectId,
    id: ObjectId,
    decision: Decision,
    reason: Option<Note>,
) -> Result<Committed<PopulatedRequest>, ApiError> {
    decide_in(app, caller, id, decision, reason, None).await
}

/// [`decide`], refusing a request of another chat than `only_chat` as not found.
pub async fn decide_in(
    app: &App,
    caller: ObjectId,
    id: ObjectId,
    decision: Decision,
    reason: Option<Note>,
    only_chat: Option<ObjectId>,
) -> Result<Committed<PopulatedRequest>, ApiError> {
    for attempt in 0..MAX_ATTEMPTS {
        let stored = app.store.request(id).await?.ok_or(ApiError::RequestNotFound)?;
        let request = stored.request;
        if only_chat.is_some_and(|chat| chat != request.chat) {
            return Err(ApiError::RequestNotFound);
        }
        let (requester, chat_id) = (request.user, request.chat);
        let accepting = decision == Decision::Accepted;
        let lookup = Lookup {
            users: vec![requester],
            chats: vec![chat_id],
            scores: if accepting { vec![requester] } else { Vec::new() },
            memberships: vec![(chat_id, caller), (chat_id, requester)],
            ..Lookup::default()
        };
        let loaded = app.store.load(&lookup).await?;
        // A chat the rest of the app deleted has no members, so nobody may decide.
        let snapshot = loaded.chats.get(&chat_id).ok_or(ApiError::NotChatMember)?;
        snapshot.chat.check_decider(loaded.membership(chat_id, caller))?;
        if request.status != RequestStatus::Pending {
            return Err(ApiError::RequestNotPending);
        }

        let now = now_timestamp();
        let decided = request.decided(decision, caller, reason.clone(), &now);
        let user = loaded.users.get(&requester);
        let admission = snapshot.chat.plan_admission(requester, loaded.membership(chat_id, requester), &now);
        let score = loaded.scores.get(&requester);
        let points = app.settings.join_group_chat_points;
        let (mut events, after) = if accepting {
            let after = snapshot.admitted(&admission, &now);
            let for_requester = PopulatedRequest::new(&decided, user, Some(&after), requester);
            // The score after this action, as far as this call knows: another writer's
            // change between the read and the commit is not in it (see the README).
            let counted = score.map(|s| s.score.clone()).unwrap_or_default().counted(JOIN_GROUP_CHAT, points);
            let events = vec![
                Fanout::request_accepted(&for_requester, &ChatView::for_viewer(&after, requester)),
                Fanout::score_updated(requester, &counted, JOIN_GROUP_CHAT),
            ];
            (events, after)
        } else {
            let for_requester = PopulatedRequest::new(&decided, user, Some(snapshot), requester);
            (vec![Fanout::request_rejected(&for_requester)], snapshot.clone())
        };
        events.push(Fanout::request_closed(&ClosedRequest::from(&decided), snapshot.active_admins()));
        let outbox = Outbox::new(&now, events, stored.notified.clone());
        let acceptance =
            accepting.then_some(Acceptance { admission: &admission, score, action: JOIN_GROUP_CHAT, points });
        let cooldown = app.settings.rejection_cooldown_seconds;
        let cooldown_until = (decision == Decision::Rejected && cooldown > 0)
            .then(|| timestamp_seconds_ago(-i64::try_from(cooldown).unwrap_or(i64::MAX)));
        let plan = ClosePlan { closed: &decided, decider: Some(caller), acceptance, cooldown_until, outbox: &outbox };
        match app.store.commit_close(&plan).await {
            Ok(()) => {
                let value = PopulatedRequest::new(&decided, user, Some(&after), caller);
                return Ok(Committed { value, outbox });
            }
            Err(TxError::Failed(Guard::RequestPending)) => return Err(ApiError::RequestNotPending),
            Err(
                TxError::Failed(Guard::RequesterEntry | Guard::DeciderRights | Guard::ChatExists | Guard::ScoreShape)
                | TxError::Conflict,
            ) => {
                tracing::info!(attempt, "decision lost a race; reading again");
                tokio::time::sleep(backoff(attempt)).await;
            }
            Err(TxError::Failed(guard)) => return Err(StoreError::UnexpectedCondition(guard).into()),
            Err(TxError::Store(error)) => return Err(error.into()),
        }
    }
    Err(StoreError::Contended(MAX_ATTEMPTS).into())
}

/// `DELETE /requests/{id}`: the requester withdraws a pending request. Round trips: 3
/// (the request; then its chat, the participants it shows and the caller, together;
/// then one transaction), more only when a race forces a re-read. Racing a decision,
/// exactly one wins: both change the request only from `pending`.
pub async fn withdraw(app: &App, caller: ObjectId, id: ObjectId) -> Result<Committed<PopulatedRequest>, ApiError> {
    close_undecided(&app.store, id, Some(caller)).await
}

/// Expires one request that is still pending (`REQUEST_EXPIRY_DAYS` after it was made):
/// the requester gets `chat-request-expired`, the admins `chat-join-request-closed`.
/// `REQUEST_NOT_PENDING` when it was decided or withdrawn meanwhile: it is left alone.
pub async fn expire(store: &Store, id: ObjectId) -> Result<Committed<PopulatedRequest>, ApiError> {
    close_undecided(store, id, None).await
}

/// Closes a pending request without a decision: withdrawn by `requester`, or expired
/// when `None`.
async fn close_undecided(
    store: &Store,
    id: ObjectId,
    requester: Option<ObjectId>,
) -> Result<Committed<PopulatedRequest>, ApiError> {
    for attempt in 0..MAX_ATTEMPTS {
        let stored = store.request(id).await?.ok_or(ApiError::RequestNotFound)?;
        let request = stored.request;
        if requester.is_some_and(|caller| caller != request.user) {
            // Someone else's request is indistinguishable from a missing one.
            return Err(ApiError::RequestNotFound);
        }
        if !request.is_pending() {
            return Err(ApiError::RequestNotPending);
        }
        let owner = request.user;
        let loaded = store.load(&Lookup { users: vec![owner], chats: vec![request.chat], ..Lookup::default() }).await?;
        let snapshot = loaded.chats.get(&request.chat);
        let now = now_timestamp();
        let closed = if requester.is_some() { request.cancelled(&now) } else { request.expired(&now) };
        let populated = PopulatedRequest::new(&closed, loaded.users.get(&owner), snapshot, owner);
        let admins: Vec<ObjectId> = snapshot.map(|s| s.active_admins().collect()).unwrap_or_default();
        let mut events = vec![Fanout::request_closed(&ClosedRequest::from(&closed), admins)];
        if requester.is_none() {
            events.push(Fanout::request_expired(&populated));
        }
        let outbox = Outbox::new(&now, events, stored.notified.clone());
        let plan =
            ClosePlan { closed: &closed, decider: None, acceptance: None, cooldown_until: None, outbox: &outbox };
        match store.commit_close(&plan).await {
            Ok(()) => return Ok(Committed { value: populated, outbox }),
            Err(TxError::Failed(Guard::RequestPending)) => return Err(ApiError::RequestNotPending),
            Err(TxError::Conflict) => {
                tracing::info!(attempt, "closing lost a race; reading again");
                tokio::time::sleep(backoff(attempt)).await;
            }
            Err(TxError::Failed(guard)) => return Err(StoreError::UnexpectedCondition(guard).into()),
            Err(TxError::Store(error)) => return Err(error.into()),
        }
    }
    Err(StoreError::Contended(MAX_ATTEMPTS).into())
}

/// One request in the admins' queue: populated with its requester and its message,
/// its chat left as the id (the admin is looking at that chat).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QueuedRequest {
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
}

#[derive(Debug, Serialize)]
pub struct QueuePage {
    pub requests: Vec<QueuedRequest>,
    pub count: u64,
}

/// Checks that `caller` may see and decide the requests of `chat`: the chat exists
/// (`CHAT_NOT_FOUND`), the caller is an active admin of it.
fn check_admin(loaded: &crate::store::Loaded, chat: ObjectId, caller: ObjectId) -> Result<(), ApiError> {
    let snapshot = loaded.chats.get(&chat).ok_or(ApiError::ChatNotFound)?;
    Ok(snapshot.chat.check_decider(loaded.membership(chat, caller))?)
}

/// `GET /chats/{id}/requests`: the admins' queue, newest first. Round trips: 2. First,
/// together: the chat, the caller's entry and the 16 count shards in one `BatchGetItem`
/// (`count` is their sum: no request is read to count), the participants it shows, and
/// the newest `page × limit` requests from GSI3 (GSI4 with `status`), 1 `Query` per MB;
/// nothing of them is shown unless the caller is an active admin. Then one
/// `BatchGetItem` of the page's requesters. Page `p` reads `p × limit` index entries.
pub async fn queue(app: &App, caller: ObjectId, chat: ObjectId, query: PageQuery) -> Result<QueuePage, ApiError> {
    let take = (query.page() as usize).saturating_mul(query.limit() as usize);
    let lookup =
        Lookup { chats: vec![chat], memberships: vec![(chat, caller)], counts: vec![chat], ..Lookup::default() };
    let (loaded, newest) =
        futures::try_join!(app.store.load(&lookup), app.store.requests_to(chat, query.status(), take))?;
    check_admin(&loaded, chat, caller)?;
    let count = loaded.counts.get(&chat).map(|c| c.of(query.status())).unwrap_or_default();
    let page = &newest[query.window(newest.len())];
    let users = Lookup { users: page.iter().map(|r| r.user).collect(), ..Lookup::default() };
    let requesters = if page.is_empty() { Default::default() } else { app.store.load(&users).await? };
    let requests = page
        .iter()
        .map(|r| QueuedRequest {
            id: r.id,
            user: UserView::of(r.user, requesters.users.get(&r.user)),
            chat: r.chat,
            status: r.status,
            created_at: r.created_at.clone(),
            updated_at: r.updated_at.clone(),
            decided_by: r.decided_by,
            decided_at: r.decided_at.clone(),
            message: r.message.clone(),
            reason: r.reason.clone(),
        })
        .collect();
    Ok(QueuePage { requests, count })
}

/// At most this many requests in one call of [`decide_many`].
pub const MAX_DECISIONS: usize = 100;
/// Decisions of one call made at once: each is its own transaction.
const CONCURRENT_DECISIONS: usize = 4;

#[derive(Debug, Deserialize)]
pub struct DecisionsBody {
    pub status: Decision,
    pub requests: Vec<String>,
    #[serde(default, deserialize_with = "a_string")]
    pub reason: Option<String>,
}

impl DecisionsBody {
    /// 1 to 100 distinct ids (else `INVALID_BODY`), each an id (else `INVALID_ID`).
    pub fn parse(self) -> Result<(Decision, Vec<ObjectId>, Option<Note>), ApiError> {
        let (decision, reason) = DecisionBody { status: self.status, reason: self.reason }.parse()?;
        if self.requests.is_empty() || self.requests.len() > MAX_DECISIONS {
            return Err(ApiError::InvalidBody(format!("requests must hold 1 to {MAX_DECISIONS} ids")));
        }
        let mut seen = std::collections::HashSet::new();
        if let Some(twice) = self.requests.iter().find(|id| !seen.insert(id.as_str())) {
            return Err(ApiError::InvalidBody(format!("request {twice} is given twice")));
        }
        let ids = self.requests.iter().map(|id| ObjectId::parse(id).map_err(|_| ApiError::InvalidId));
        Ok((decision, ids.collect::<Result<_, _>>()?, reason))
    }
}

/// One entry of `results`: the decided request, or the status and code Patch would give.
#[derive(Debug, Serialize)]
pub struct DecisionResult {
    #[serde(rename = "_id")]
    pub id: ObjectId,
    pub status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<PopulatedRequest>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'static str>,
}

/// `POST /chats/{id}/requests/decisions`: up to 100 requests of one chat decided, each
/// on its own exactly as by [`decide`], 4 at a time, results in the order given. The
/// caller's admin rights are checked once first (1 round trip), and again by each
/// decision's transaction. Returns each committed decision's outbox to carry out.
pub async fn decide_many(
    app: &App,
    caller: ObjectId,
    chat: ObjectId,
    decision: Decision,
    ids: &[ObjectId],
    reason: Option<Note>,
) -> Result<(Vec<DecisionResult>, Vec<Outbox>), ApiError> {
    let lookup = Lookup { chats: vec![chat], memberships: vec![(chat, caller)], ..Lookup::default() };
    check_admin(&app.store.load(&lookup).await?, chat, caller)?;
    // Made eagerly, so the stream holds plain futures and the call stays `Send`.
    let decisions: Vec<_> =
        ids.iter().map(|id| decide_in(app, caller, *id, decision, reason.clone(), Some(chat))).collect();
    let outcomes: Vec<_> = futures::stream::iter(decisions).buffered(CONCURRENT_DECISIONS).collect().await;
    let mut results = Vec::with_capacity(ids.len());
    let mut outboxes = Vec::new();
    for (id, outcome) in ids.iter().zip(outcomes) {
        results.push(match outcome {
            Ok(committed) => {
                outboxes.push(committed.outbox);
                DecisionResult { id: *id, status: 200, request: Some(committed.value), code: None }
            }
            Err(error) => {
                if matches!(error, ApiError::Internal(_) | ApiError::Unavailable(_)) {
                    tracing::warn!(request = %id, %error, "one decision of many failed");
                }
                DecisionResult { id: *id, status: error.status(), request: None, code: Some(error.code()) }
            }
        });
    }
    Ok((results, outboxes))
}

#[derive(Debug, Serialize)]
pub struct EventsPage {
    pub events: Vec<crate::store::KeptEvent>,
    pub more: bool,
}

/// `GET /events`: the caller's events after `after` (or from 7 days back), oldest
/// first. Round trips: 1, or 2 with `after` (its place first). Events written in the
/// last `EVENTS_SETTLE_SECONDS` (5) are listed on a later call,
/// which is what makes `after` exact (see `Store::kept_events_after`); they are pushed
/// live meanwhile. An `after` that names no kept event of the caller (another user's,
/// or older than 7 days) is `INVALID_QUERY`: read from the start instead.
pub async fn events(
    app: &App,
    caller: ObjectId,
    query: crate::domain::page::EventsQuery,
) -> Result<EventsPage, ApiError> {
    let place = match query.after {
        Some(after) => app
            .store
            .kept_event_place(caller, after)
            .await?
            .ok_or(ApiError::InvalidQuery(crate::domain::page::InvalidPageQuery::After))?,
        None => crate::store::keys::inbox_order_from(&timestamp_seconds_ago(crate::store::KEEP_EVENTS_SECONDS)),
    };
    let settled = timestamp_seconds_ago(app.settings.events_settle_seconds);
    let (events, more) = app.store.kept_events_after(caller, &place, &settled, query.limit as usize).await?;
    Ok(EventsPage { events, more })
}
