//! What the use cases need from the world, as two small traits: [`Storage`] (the
//! DynamoDB store in `aws`, an in-memory one in this crate's unit tests) and [`Bus`]
//! (EventBridge in `aws`). The types here are the traits' vocabulary: what a call reads
//! in one round ([`Lookup`], [`Loaded`]), what it commits in one transaction
//! ([`CreatePlan`], [`ClosePlan`]) and why a commit can fail ([`Guard`], [`TxError`]).

use std::collections::HashMap;
use std::future::Future;

use domain::moderation::CreateHour;
use domain::{
    Admission, Block, ChatSnapshot, JoinRequest, NotificationRef, ObjectId, OutboundEvent, Outbox, Participant,
    Question, RequestChanged, RequestNotifications, RequestStatus, Score, User,
};
use serde::{Deserialize, Serialize};

/// Why a storage call failed. Messages only: the adapter's own error types stay in the
/// adapter, and the use cases only need to tell what may succeed if tried again.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("DynamoDB {operation} failed: {message}")]
    Refused { operation: &'static str, message: String },
    /// Timed out, throttled past the SDK's retries, unreachable, or the store's own
    /// transient failure: the call may succeed if made again.
    #[error("DynamoDB {operation} is unavailable: {message}")]
    Unavailable { operation: &'static str, message: String },
    #[error("item {item} does not have the expected shape: {reason}")]
    Shape { item: String, reason: String },
    #[error("could not write an item: {0}")]
    Encode(String),
    #[error("{operation} left items unprocessed after {attempts} attempts")]
    Unprocessed { operation: &'static str, attempts: u32 },
    #[error("the change is still contended after {0} attempts")]
    Contended(u32),
    #[error("{0}")]
    TooLarge(String),
    /// A condition that no race can fail did fail: a bug or a corrupted item.
    #[error("a transaction failed on a condition that cannot fail: {0:?}")]
    UnexpectedCondition(Guard),
}

impl StoreError {
    /// Whether making the same call again may succeed: the caller is told `503`.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable { .. } | Self::Contended(_) | Self::Unprocessed { .. })
    }
}

/// Which condition cancelled a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guard {
    /// Another pending request of the same user for the same chat exists (or a
    /// rejection's cooldown that has not run out).
    PendingMarker,
    /// The request is no longer pending.
    RequestPending,
    /// The requester's participant entry changed since it was read.
    RequesterEntry,
    /// The decider is no longer an active admin.
    DeciderRights,
    /// The chat item is gone.
    ChatExists,
    /// The requester's score changed shape since it was read.
    ScoreShape,
    /// An id that must be new already exists. Ids are random enough that this means
    /// a bug, not a race.
    FreshItem,
    /// A live answer is already kept under the change's idempotency key: the same call,
    /// made at the same moment, committed first.
    KeptAnswer,
    /// The caller has made as many requests this hour as the limit allows.
    CreateLimit,
}

impl Guard {
    /// Whether losing on this condition means "what was read changed meanwhile": read
    /// again and plan again, and the next read says what holds now. The other guards
    /// decide the outcome ([`Guard::RequestPending`]) or cannot fail in a race.
    pub fn is_race(self) -> bool {
        match self {
            Self::PendingMarker | Self::RequesterEntry | Self::DeciderRights | Self::ChatExists | Self::ScoreShape => {
                true
            }
            Self::RequestPending | Self::FreshItem | Self::KeptAnswer | Self::CreateLimit => false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TxError {
    #[error("condition failed: {0:?}")]
    Failed(Guard),
    /// Another transaction touched the same items, or one was throttled: the same
    /// change may commit if tried again.
    #[error("another transaction touched the same items, or one was throttled")]
    Conflict,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Everything a call may need to read besides the request itself, fetched by key in
/// one round.
#[derive(Debug, Default)]
pub struct Lookup {
    pub users: Vec<ObjectId>,
    /// Each with the participants it shows.
    pub chats: Vec<ObjectId>,
    pub scores: Vec<ObjectId>,
    /// (chat, user): one user's participant entry in one chat.
    pub memberships: Vec<(ObjectId, ObjectId)>,
    /// Chats whose request counts to read.
    pub counts: Vec<ObjectId>,
    /// (user, chat): the marker of a pending request, a cooldown or a block.
    pub markers: Vec<(ObjectId, ObjectId)>,
    /// Chats whose screening questions to read.
    pub questions: Vec<ObjectId>,
    /// Chats whose blocks to count.
    pub block_counts: Vec<ObjectId>,
}

#[derive(Debug, Default)]
pub struct Loaded {
    pub users: HashMap<ObjectId, User>,
    pub chats: HashMap<ObjectId, ChatSnapshot>,
    pub scores: HashMap<ObjectId, StoredScore>,
    pub memberships: HashMap<(ObjectId, ObjectId), Participant>,
    pub counts: HashMap<ObjectId, RequestCounts>,
    pub markers: HashMap<(ObjectId, ObjectId), Marker>,
    /// A chat that has never had questions set has none here.
    pub questions: HashMap<ObjectId, Vec<Question>>,
    pub block_counts: HashMap<ObjectId, u64>,
}

impl Loaded {
    pub fn membership(&self, chat: ObjectId, user: ObjectId) -> Option<&Participant> {
        self.memberships.get(&(chat, user))
    }
}

/// A chat's requests counted by status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestCounts(HashMap<RequestStatus, u64>);

impl RequestCounts {
    /// In one status, or all of them.
    pub fn of(&self, status: Option<RequestStatus>) -> u64 {
        match status {
            Some(status) => self.0.get(&status).copied().unwrap_or_default(),
            None => self.0.values().sum(),
        }
    }

    pub fn add(&mut self, status: RequestStatus, count: u64) {
        *self.0.entry(status).or_default() += count;
    }
}

/// A score as stored, and whether its item has an `actions` map at all (another
/// writer's item may not), which decides how an action is added to it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoredScore {
    pub score: Score,
    pub has_actions: bool,
}

/// A stored request with the admins that were told of it, so closing it can dismiss
/// their notifications without a query.
#[derive(Debug, Clone)]
pub struct StoredRequest {
    pub request: JoinRequest,
    pub notified: Vec<NotificationRef>,
}

/// What the marker of (user, chat) says, as a create reads it: a pending request, a
/// rejection's cooldown, or a block. One item of the user and the chat, so the create's
/// transaction checks all three with one condition.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Marker {
    /// The pending request, if one is.
    #[serde(default)]
    pub request: Option<ObjectId>,
    /// Until when a new request is refused, after a rejection.
    #[serde(default)]
    pub cooldown_until: Option<String>,
    /// The user is blocked from the chat.
    #[serde(default)]
    pub block: Option<Block>,
}

/// A create: the requester's entry checked (absent or left), the uniqueness marker,
/// the request (with a reference to each notification its outbox will write), the
/// chat's count and the outbox.
pub struct CreatePlan<'a> {
    pub request: &'a JoinRequest,
    pub outbox: &'a Outbox,
    /// With an idempotency key: the answer, kept in the same transaction.
    pub answer: Option<AnswerToKeep<'a>>,
    /// With the per-user limit on: the hour the create counts in, on the requester's
    /// own counter, and the most that hour may count.
    pub limit: Option<CreateLimit>,
}

/// The per-user limit as one create counts against it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateLimit {
    pub hour: CreateHour,
    pub per_hour: u32,
}

/// A change made with an `Idempotency-Key`: the key (already scoped to its caller's
/// partition by the store; here a digest, so any key has one length) and the digest of
/// the call (method, path, body) that the key may only ever mean.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idempotency {
    pub key: String,
    pub fingerprint: String,
}

/// What a change with a key keeps with it: the key, the call's fingerprint, and the
/// change's value as its answer shows it.
#[derive(Debug, Clone)]
pub struct AnswerToKeep<'a> {
    pub caller: ObjectId,
    pub idempotency: &'a Idempotency,
    pub value: serde_json::Value,
}

/// An answer kept under a caller's idempotency key.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct KeptAnswer {
    pub fingerprint: String,
    pub value: serde_json::Value,
}

/// What accepting adds to a decision.
pub struct Acceptance<'a> {
    /// How the requester's participant entry changes.
    pub admission: &'a Admission,
    /// The requester's score as read (`None`: they have none yet), and the action to
    /// count in it.
    pub score: Option<&'a StoredScore>,
    pub action: &'a str,
    pub points: i64,
}

/// A pending request closing: decided by an admin, withdrawn, or expired.
pub struct ClosePlan<'a> {
    /// The request as it is once closed.
    pub closed: &'a JoinRequest,
    /// The admin deciding, whose rights are checked at commit; `None` otherwise.
    pub decider: Option<ObjectId>,
    /// `Some` on accept.
    pub acceptance: Option<Acceptance<'a>>,
    /// On a rejection while the cooldown is on: until when the requester may not ask
    /// the chat again.
    pub cooldown_until: Option<String>,
    /// A rejection that blocks the requester: the block, written in its place of the
    /// marker.
    pub block: Option<&'a Block>,
    pub outbox: &'a Outbox,
    /// With an idempotency key: the answer, kept in the same transaction.
    pub answer: Option<AnswerToKeep<'a>>,
}

/// An event as kept for its recipient, as `GET /events` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeptEvent {
    pub id: ObjectId,
    pub event: String,
    pub data: serde_json::Value,
    /// When the change that caused it was made.
    pub created_at: String,
}

/// Where a read of kept events starts.
#[derive(Debug, Clone, Copy)]
pub enum EventsFrom<'a> {
    /// The events kept since this time.
    Since(&'a str),
    /// The events kept after this one (exclusive).
    After(ObjectId),
    /// Where an earlier answer's cursor says.
    Cursor(&'a str),
}

/// A page of kept events, where the next read goes on, and whether it has more to read.
#[derive(Debug, Clone, PartialEq)]
pub struct KeptPage {
    pub events: Vec<KeptEvent>,
    pub cursor: String,
    pub more: bool,
}

/// An outbox item as stored: the outbox and how often carrying it out has failed.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct StoredOutbox {
    #[serde(flatten)]
    pub outbox: Outbox,
    #[serde(default)]
    pub attempts: u32,
}

/// An outbox item that does not decode: its id, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Undecodable {
    pub id: ObjectId,
    pub reason: String,
}

/// One page of the outbox, and where the next starts.
pub struct OutboxPage<C> {
    pub entries: Vec<Result<StoredOutbox, Undecodable>>,
    pub next: Option<C>,
}

/// The storage the use cases run on. Each method says its cost in its implementation;
/// every one is bounded in time by the adapter.
pub trait Storage: Send + Sync {
    /// Where the next page of [`Storage::outbox_page`] starts.
    type Cursor: Send;

    /// A request, read strongly consistent.
    fn request(&self, id: ObjectId) -> impl Future<Output = Result<Option<StoredRequest>, StoreError>> + Send;

    /// Everything `lookup` names, in one round.
    fn load(&self, lookup: &Lookup) -> impl Future<Output = Result<Loaded, StoreError>> + Send;

    /// All requests of `user` (in one status, if given), newest first.
    fn requests_of(
        &self,
        user: ObjectId,
        status: Option<RequestStatus>,
    ) -> impl Future<Output = Result<Vec<JoinRequest>, StoreError>> + Send;

    /// The newest `take` requests to `chat` (in one status, if given), newest first.
    fn requests_to(
        &self,
        chat: ObjectId,
        status: Option<RequestStatus>,
        take: usize,
    ) -> impl Future<Output = Result<Vec<JoinRequest>, StoreError>> + Send;

    /// The answer kept under `caller`'s idempotency `key`, unless it has expired.
    fn kept_answer(
        &self,
        caller: ObjectId,
        key: &str,
    ) -> impl Future<Output = Result<Option<KeptAnswer>, StoreError>> + Send;

    /// A create, all or nothing.
    fn commit_create(&self, plan: &CreatePlan<'_>) -> impl Future<Output = Result<(), TxError>> + Send;

    /// A close (decision, withdrawal, expiry), all or nothing.
    fn commit_close(&self, plan: &ClosePlan<'_>) -> impl Future<Output = Result<(), TxError>> + Send;

    /// `user`'s kept events from `from`, oldest first, at most `limit`, up to this
    /// moment, with a cursor that never skips an event kept up to `late_seconds` after
    /// its time. `None` when `from` names no kept event of `user`.
    fn kept_events(
        &self,
        user: ObjectId,
        from: EventsFrom<'_>,
        late_seconds: i64,
        limit: usize,
    ) -> impl Future<Output = Result<Option<KeptPage>, StoreError>> + Send;

    /// Keeps the events of one change for their recipients; keeping one twice keeps it
    /// where it was.
    fn keep_events(
        &self,
        events: &[OutboundEvent],
        created_at: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Writes the notifications of a request if it is still pending: all or none, so a
    /// decision (which dismisses them) is either before, and none is written, or after,
    /// and finds them all. Once they are written, doing it again writes nothing.
    fn notify(&self, notifications: &RequestNotifications) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Marks notifications dismissed; a missing one is skipped.
    fn dismiss_notifications(
        &self,
        notifications: &[NotificationRef],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The outbox item is done.
    fn delete_outbox(&self, id: ObjectId) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// One page of the outbox items created before `before`, oldest first.
    fn outbox_page(
        &self,
        before: &str,
        limit: usize,
        start: Option<Self::Cursor>,
    ) -> impl Future<Output = Result<OutboxPage<Self::Cursor>, StoreError>> + Send;

    /// Records a failed attempt at an outbox item (`attempts` in all, and why); with
    /// `set_aside`, moves it where the sweeper no longer reads it. Returns whether it was
    /// recorded: `false` for an item delivered and deleted meanwhile.
    fn outbox_failed(
        &self,
        id: ObjectId,
        attempts: u32,
        reason: &str,
        set_aside: bool,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

/// Why the bus did not take every event.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct BusError(#[from] pub Box<dyn std::error::Error + Send + Sync>);

/// The event bus the outbox publishes to.
pub trait Bus: Send + Sync {
    /// Publishes the WebSocket events of a change for the notifier and its
    /// [`RequestChanged`] for the app's other services, together. Succeeds only if
    /// every one was taken.
    fn publish(
        &self,
        events: &[OutboundEvent],
        changes: &[RequestChanged],
    ) -> impl Future<Output = Result<(), BusError>> + Send;
}

/// The app's own data as this service keeps its copy: what the sync function writes.
/// Each change applies only if it is newer than what is kept, by a condition in the
/// same write, so a repeat or a stale event changes nothing.
pub trait Replica: Storage {
    /// Applies `change`; `true` when it changed something.
    fn apply_change(&self, change: &domain::sync::AppChange) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Applies the membership changes among `changes` together (the newest of each
    /// entry wins, as it would one at a time), in as few round trips as their number
    /// allows; `true` at the index of each that changed something. Other changes are
    /// left alone (`false`).
    fn apply_memberships(
        &self,
        changes: &[domain::sync::AppChange],
    ) -> impl Future<Output = Result<Vec<bool>, StoreError>> + Send;

    /// One page of the ids of `chat`'s pending requests, and where the next starts.
    fn pending_requests_to(
        &self,
        chat: ObjectId,
        start: Option<Self::Cursor>,
    ) -> impl Future<Output = Result<(Vec<ObjectId>, Option<Self::Cursor>), StoreError>> + Send;
}

/// What moderation writes: a chat's questions and its blocks. Each write checks the
/// admin's rights in its own transaction, as a decision does.
pub trait Moderation: Storage {
    /// Replaces `chat`'s questions, if `admin` is still an active admin of it.
    fn put_questions(
        &self,
        chat: ObjectId,
        admin: ObjectId,
        questions: &[Question],
    ) -> impl Future<Output = Result<(), TxError>> + Send;

    /// Blocks a user who has no pending request for the chat and is not an active
    /// participant of it, by `block.blocked_by` while an active admin: all or nothing.
    /// (A user with a pending request is blocked by its rejection: [`ClosePlan::block`].)
    fn commit_block(&self, block: &Block) -> impl Future<Output = Result<(), TxError>> + Send;

    /// Lifts `block`, by `admin` while an active admin of its chat.
    fn commit_unblock(&self, block: &Block, admin: ObjectId) -> impl Future<Output = Result<(), TxError>> + Send;

    /// The newest `take` blocks of `chat`, newest first.
    fn blocks_of(&self, chat: ObjectId, take: usize) -> impl Future<Output = Result<Vec<Block>, StoreError>> + Send;
}
