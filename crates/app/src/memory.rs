//! An in-memory [`Storage`] for the use cases' unit tests: pure logic, checked in
//! milliseconds. It applies each plan's conditions as the DynamoDB store's transaction
//! does (all or nothing, the same [`Guard`]s), so a rule and its race are both
//! testable here; the DynamoDB Local tests in the dev crate hold the store to the same.

use std::collections::HashMap;
use std::sync::Mutex;

use domain::chat::{shown_order, SHOWN_PARTICIPANTS};
use domain::{
    Admission, Chat, ChatSnapshot, JoinRequest, Notification, NotificationRef, ObjectId, OutboundEvent, Participant,
    RequestChanged, RequestNotifications, RequestStatus, Score, User,
};

use crate::ports::{
    AnswerToKeep, Bus, BusError, ClosePlan, CreatePlan, EventsFrom, Guard, KeptAnswer, KeptEvent, KeptPage, Loaded,
    Lookup, Marker, OutboxPage, RequestCounts, Storage, StoreError, StoredOutbox, StoredRequest, StoredScore, TxError,
};

#[derive(Default)]
struct State {
    users: HashMap<ObjectId, User>,
    chats: HashMap<ObjectId, Chat>,
    members: HashMap<(ObjectId, ObjectId), Participant>,
    requests: HashMap<ObjectId, StoredRequest>,
    markers: HashMap<(ObjectId, ObjectId), Marker>,
    scores: HashMap<ObjectId, Score>,
    counts: HashMap<ObjectId, RequestCounts>,
    notifications: HashMap<ObjectId, Notification>,
    outbox: HashMap<ObjectId, StoredOutbox>,
    kept: Vec<(ObjectId, KeptEvent)>,
    answers: HashMap<(ObjectId, String), KeptAnswer>,
    /// Creates counted per (user, hour).
    creates: HashMap<(ObjectId, String), u32>,
}

/// Keeps `answer` unless one is kept under its key already: the transaction's first
/// condition.
fn keep_answer(state: &mut State, answer: &Option<AnswerToKeep<'_>>) -> Result<(), TxError> {
    let Some(answer) = answer else { return Ok(()) };
    let key = (answer.caller, answer.idempotency.key.clone());
    if state.answers.contains_key(&key) {
        return Err(TxError::Failed(Guard::KeptAnswer));
    }
    let kept = KeptAnswer { fingerprint: answer.idempotency.fingerprint.clone(), value: answer.value.clone() };
    state.answers.insert(key, kept);
    Ok(())
}

#[derive(Default)]
pub(crate) struct MemoryStore {
    state: Mutex<State>,
    /// Commits to fail with [`TxError::Conflict`] before letting one through.
    pub(crate) conflicts_to_inject: Mutex<u32>,
}

impl MemoryStore {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn add_user(&self, user: User) {
        self.state().users.insert(user.id, user);
    }

    /// A chat and its participants, `participants_count` counted from them.
    pub(crate) fn add_chat(&self, mut chat: Chat, participants: Vec<Participant>) {
        let mut state = self.state();
        chat.participants_count = participants.iter().filter(|p| p.is_active()).count() as u64;
        for participant in participants {
            state.members.insert((chat.id, participant.user), participant);
        }
        state.chats.insert(chat.id, chat);
    }

    pub(crate) fn chat(&self, id: ObjectId) -> Option<Chat> {
        self.state().chats.get(&id).cloned()
    }

    pub(crate) fn member(&self, chat: ObjectId, user: ObjectId) -> Option<Participant> {
        self.state().members.get(&(chat, user)).cloned()
    }

    pub(crate) fn score(&self, user: ObjectId) -> Option<Score> {
        self.state().scores.get(&user).cloned()
    }

    pub(crate) fn marker(&self, user: ObjectId, chat: ObjectId) -> Option<Marker> {
        self.state().markers.get(&(user, chat)).cloned()
    }

    pub(crate) fn outbox_len(&self) -> usize {
        self.state().outbox.len()
    }

    pub(crate) fn dismissed(&self) -> usize {
        self.state().notifications.values().filter(|n| n.dismissed).count()
    }

    fn take_injected_conflict(&self) -> bool {
        let mut left = self.conflicts_to_inject.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if *left == 0 {
            return false;
        }
        *left -= 1;
        true
    }
}

fn snapshot(state: &State, chat: &Chat) -> ChatSnapshot {
    let mut shown: Vec<&Participant> =
        state.members.iter().filter(|((c, _), p)| *c == chat.id && p.is_active()).map(|(_, p)| p).collect();
    shown.sort_by_key(|p| shown_order(p));
    let shown = shown.into_iter().take(SHOWN_PARTICIPANTS).cloned().collect();
    ChatSnapshot { chat: chat.clone(), shown }
}

impl Storage for MemoryStore {
    type Cursor = usize;

    async fn request(&self, id: ObjectId) -> Result<Option<StoredRequest>, StoreError> {
        Ok(self.state().requests.get(&id).cloned())
    }

    async fn load(&self, lookup: &Lookup) -> Result<Loaded, StoreError> {
        let state = self.state();
        let mut loaded = Loaded::default();
        for id in &lookup.users {
            if let Some(user) = state.users.get(id) {
                loaded.users.insert(*id, user.clone());
            }
        }
        for id in &lookup.chats {
            if let Some(chat) = state.chats.get(id) {
                loaded.chats.insert(*id, snapshot(&state, chat));
            }
        }
        for id in &lookup.scores {
            if let Some(score) = state.scores.get(id) {
                loaded.scores.insert(*id, StoredScore { score: score.clone(), has_actions: true });
            }
        }
        for key in &lookup.memberships {
            if let Some(entry) = state.members.get(key) {
                loaded.memberships.insert(*key, entry.clone());
            }
        }
        for chat in &lookup.counts {
            loaded.counts.insert(*chat, state.counts.get(chat).cloned().unwrap_or_default());
        }
        for key in &lookup.markers {
            if let Some(marker) = state.markers.get(key) {
                loaded.markers.insert(*key, marker.clone());
            }
        }
        Ok(loaded)
    }

    async fn requests_of(&self, user: ObjectId, status: Option<RequestStatus>) -> Result<Vec<JoinRequest>, StoreError> {
        let state = self.state();
        let mut found: Vec<JoinRequest> = state
            .requests
            .values()
            .map(|stored| stored.request.clone())
            .filter(|r| r.user == user && status.is_none_or(|s| r.status == s))
            .collect();
        found.sort_by(|a, b| (&b.created_at, b.id).cmp(&(&a.created_at, a.id)));
        Ok(found)
    }

    async fn requests_to(
        &self,
        chat: ObjectId,
        status: Option<RequestStatus>,
        take: usize,
    ) -> Result<Vec<JoinRequest>, StoreError> {
        let state = self.state();
        let mut found: Vec<JoinRequest> = state
            .requests
            .values()
            .map(|stored| stored.request.clone())
            .filter(|r| r.chat == chat && status.is_none_or(|s| r.status == s))
            .collect();
        found.sort_by(|a, b| (&b.created_at, b.id).cmp(&(&a.created_at, a.id)));
        found.truncate(take);
        Ok(found)
    }

    async fn kept_answer(&self, caller: ObjectId, key: &str) -> Result<Option<KeptAnswer>, StoreError> {
        Ok(self.state().answers.get(&(caller, key.to_owned())).cloned())
    }

    async fn commit_create(&self, plan: &CreatePlan<'_>) -> Result<(), TxError> {
        if self.take_injected_conflict() {
            return Err(TxError::Conflict);
        }
        let request = plan.request;
        let mut state = self.state();
        if plan.answer.as_ref().is_some_and(|a| state.answers.contains_key(&(a.caller, a.idempotency.key.clone()))) {
            return Err(TxError::Failed(Guard::KeptAnswer));
        }
        if state.members.get(&(request.chat, request.user)).is_some_and(Participant::is_active) {
            return Err(TxError::Failed(Guard::RequesterEntry));
        }
        if let Some(marker) = state.markers.get(&(request.user, request.chat)) {
            let cooled = marker.cooldown_until.as_deref().is_some_and(|until| until <= request.created_at.as_str());
            if marker.request.is_some() || marker.block.is_some() || !cooled {
                return Err(TxError::Failed(Guard::PendingMarker));
            }
        }
        let counter = plan.limit.as_ref().map(|limit| ((request.user, limit.hour.name.clone()), limit.per_hour));
        if let Some((key, per_hour)) = &counter {
            if state.creates.get(key).is_some_and(|made| made >= per_hour) {
                return Err(TxError::Failed(Guard::CreateLimit));
            }
        }
        keep_answer(&mut state, &plan.answer)?;
        if let Some((key, _)) = counter {
            *state.creates.entry(key).or_default() += 1;
        }
        let notified = plan.outbox.notify.as_ref().map(|n| n.admins.clone()).unwrap_or_default();
        let marker = Marker { request: Some(request.id), ..Marker::default() };
        state.markers.insert((request.user, request.chat), marker);
        state.requests.insert(request.id, StoredRequest { request: request.clone(), notified });
        state.counts.entry(request.chat).or_default().add(RequestStatus::Pending, 1);
        if !plan.outbox.is_empty() {
            state.outbox.insert(plan.outbox.id, StoredOutbox { outbox: plan.outbox.clone(), attempts: 0 });
        }
        Ok(())
    }

    async fn commit_close(&self, plan: &ClosePlan<'_>) -> Result<(), TxError> {
        if self.take_injected_conflict() {
            return Err(TxError::Conflict);
        }
        let closed = plan.closed;
        let mut state = self.state();
        // Every condition first, as one transaction: nothing is written if one fails.
        if plan.answer.as_ref().is_some_and(|a| state.answers.contains_key(&(a.caller, a.idempotency.key.clone()))) {
            return Err(TxError::Failed(Guard::KeptAnswer));
        }
        let pending = state.requests.get(&closed.id).is_some_and(|stored| stored.request.is_pending());
        if !pending {
            return Err(TxError::Failed(Guard::RequestPending));
        }
        if let Some(decider) = plan.decider {
            if !state.members.get(&(closed.chat, decider)).is_some_and(Participant::is_active_admin) {
                return Err(TxError::Failed(Guard::DeciderRights));
            }
        }
        if let Some(acceptance) = &plan.acceptance {
            let entry = state.members.get(&(closed.chat, closed.user));
            let as_planned = match acceptance.admission {
                Admission::NewEntry(_) => entry.is_none(),
                Admission::Reactivate(_) => entry.is_some_and(|e| e.left_at.is_some()),
                Admission::AlreadyActive => entry.is_some_and(Participant::is_active),
            };
            if !as_planned {
                return Err(TxError::Failed(Guard::RequesterEntry));
            }
            if acceptance.admission.entry().is_some() && !state.chats.contains_key(&closed.chat) {
                return Err(TxError::Failed(Guard::ChatExists));
            }
            if acceptance.score.is_some() != state.scores.contains_key(&closed.user) {
                return Err(TxError::Failed(Guard::ScoreShape));
            }
        }

        keep_answer(&mut state, &plan.answer)?;
        let notified = state.requests.get(&closed.id).map(|stored| stored.notified.clone()).unwrap_or_default();
        state.requests.insert(closed.id, StoredRequest { request: closed.clone(), notified });
        match (&plan.block, &plan.cooldown_until) {
            (Some(block), _) => {
                let marker = Marker { block: Some((*block).clone()), ..Marker::default() };
                state.markers.insert((closed.user, closed.chat), marker);
            }
            (None, Some(until)) => {
                let marker = Marker { cooldown_until: Some(until.clone()), ..Marker::default() };
                state.markers.insert((closed.user, closed.chat), marker);
            }
            (None, None) => {
                state.markers.remove(&(closed.user, closed.chat));
            }
        }
        if let Some(acceptance) = &plan.acceptance {
            if let Some(entry) = acceptance.admission.entry() {
                state.members.insert((closed.chat, closed.user), entry.clone());
                if let Some(chat) = state.chats.get_mut(&closed.chat) {
                    chat.participants_count += 1;
                }
            }
            let score = state.scores.get(&closed.user).cloned().unwrap_or_default();
            state.scores.insert(closed.user, score.counted(acceptance.action, acceptance.points));
        }
        let counts = state.counts.entry(closed.chat).or_default();
        counts.add(closed.status, 1);
        *counts = subtract_pending(counts);
        if !plan.outbox.is_empty() {
            state.outbox.insert(plan.outbox.id, StoredOutbox { outbox: plan.outbox.clone(), attempts: 0 });
        }
        Ok(())
    }

    async fn kept_events(
        &self,
        user: ObjectId,
        from: EventsFrom<'_>,
        _late_seconds: i64,
        limit: usize,
    ) -> Result<Option<KeptPage>, StoreError> {
        // Kept at once and in order here: a cursor is the count of the user's events read.
        let state = self.state();
        let mine: Vec<&KeptEvent> = state.kept.iter().filter(|(to, _)| *to == user).map(|(_, e)| e).collect();
        let start = match from {
            EventsFrom::Since(time) => mine.iter().position(|e| e.created_at.as_str() >= time).unwrap_or(mine.len()),
            EventsFrom::After(id) => match mine.iter().position(|e| e.id == id) {
                Some(at) => at + 1,
                None => return Ok(None),
            },
            EventsFrom::Cursor(text) => match text.strip_prefix("m").and_then(|n| n.parse::<usize>().ok()) {
                Some(n) if n <= mine.len() => n,
                _ => return Ok(None),
            },
        };
        let events: Vec<KeptEvent> = mine[start..].iter().take(limit).map(|e| (*e).clone()).collect();
        let end = start + events.len();
        Ok(Some(KeptPage { events, cursor: format!("m{end}"), more: end < mine.len() }))
    }

    async fn keep_events(&self, events: &[OutboundEvent], created_at: &str) -> Result<(), StoreError> {
        let mut state = self.state();
        for event in events {
            if state.kept.iter().any(|(to, kept)| *to == event.to && kept.id == event.id) {
                continue;
            }
            let kept = KeptEvent {
                id: event.id,
                event: event.event.clone(),
                data: event.data.clone(),
                created_at: created_at.to_owned(),
            };
            state.kept.push((event.to, kept));
        }
        Ok(())
    }

    async fn notify(&self, notify: &RequestNotifications) -> Result<(), StoreError> {
        let mut state = self.state();
        let pending =
            state.requests.get(&notify.request).is_some_and(|stored| stored.request.status == RequestStatus::Pending);
        let written = notify.admins.iter().any(|n| state.notifications.contains_key(&n.id));
        if pending && !written {
            for notification in notify.notifications() {
                state.notifications.insert(notification.id, notification.clone());
            }
        }
        Ok(())
    }

    async fn dismiss_notifications(&self, notifications: &[NotificationRef]) -> Result<(), StoreError> {
        let mut state = self.state();
        for reference in notifications {
            if let Some(notification) = state.notifications.get_mut(&reference.id) {
                notification.dismissed = true;
            }
        }
        Ok(())
    }

    async fn delete_outbox(&self, id: ObjectId) -> Result<(), StoreError> {
        self.state().outbox.remove(&id);
        Ok(())
    }

    async fn outbox_page(
        &self,
        before: &str,
        limit: usize,
        start: Option<usize>,
    ) -> Result<OutboxPage<usize>, StoreError> {
        let state = self.state();
        let mut due: Vec<&StoredOutbox> =
            state.outbox.values().filter(|o| o.outbox.created_at.as_str() < before).collect();
        due.sort_by(|a, b| (&a.outbox.created_at, a.outbox.id).cmp(&(&b.outbox.created_at, b.outbox.id)));
        let from = start.unwrap_or(0);
        let entries: Vec<_> = due.iter().skip(from).take(limit).map(|o| Ok((*o).clone())).collect();
        let next = (from + limit < due.len()).then_some(from + limit);
        Ok(OutboxPage { entries, next })
    }

    async fn outbox_failed(&self, id: ObjectId, attempts: u32, _: &str, set_aside: bool) -> Result<bool, StoreError> {
        let mut state = self.state();
        let Some(stored) = state.outbox.get_mut(&id) else { return Ok(false) };
        stored.attempts = attempts;
        if set_aside {
            state.outbox.remove(&id);
        }
        Ok(true)
    }
}

fn subtract_pending(counts: &RequestCounts) -> RequestCounts {
    let mut after = RequestCounts::default();
    for status in RequestStatus::ALL {
        let n = counts.of(Some(status));
        after.add(status, if status == RequestStatus::Pending { n.saturating_sub(1) } else { n });
    }
    after
}

/// A bus that keeps what it was given, or refuses everything.
#[derive(Default)]
pub(crate) struct MemoryBus {
    pub(crate) published: Mutex<Vec<OutboundEvent>>,
    pub(crate) changes: Mutex<Vec<RequestChanged>>,
    pub(crate) refuse: std::sync::atomic::AtomicBool,
}

impl Bus for MemoryBus {
    async fn publish(&self, events: &[OutboundEvent], changes: &[RequestChanged]) -> Result<(), BusError> {
        if self.refuse.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(BusError("the bus refused".into()));
        }
        self.published.lock().unwrap_or_else(std::sync::PoisonError::into_inner).extend_from_slice(events);
        self.changes.lock().unwrap_or_else(std::sync::PoisonError::into_inner).extend_from_slice(changes);
        Ok(())
    }
}
