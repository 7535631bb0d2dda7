//! `POST /requests`: asking to join.

use domain::moderation::{check_answers, CreateHour};
use domain::time::{now_timestamp, seconds_until};
use domain::{
    ChatSnapshot, Fanout, JoinRequest, Note, Notification, ObjectId, Outbox, PopulatedRequest, RequestNotifications,
    User,
};

use super::Committed;
use crate::error::AppError;
use crate::ports::{CreateLimit, CreatePlan, Guard, Idempotency, Lookup, Storage, TxError};
use crate::retry::{commit_with_retries, Attempt};
use crate::Rules;

/// What a requester sends besides the chat: a message, and answers as given (the
/// question's id as sent, the answer), checked against the chat's questions as they
/// are at the create.
#[derive(Debug, Clone, Default)]
pub struct Ask {
    pub message: Option<Note>,
    pub answers: Vec<(String, Note)>,
}

/// `POST /requests`. Round trips: 2 (the chat, its questions, the participants it
/// shows, the caller, the caller's entry in the chat and their marker (pending,
/// cooldown or block), together; then one transaction), more only when a race forces a
/// re-read. The admins' notifications travel in the outbox, so the transaction holds a
/// fixed number of items whatever the number of admins; the block and the hourly limit
/// are conditions in it, on items of the caller's own.
///
/// With an idempotency key the answer is kept in the same transaction (see
/// [`crate::ports::AnswerToKeep`]).
pub async fn create<S: Storage>(
    store: &S,
    rules: &Rules,
    caller: ObjectId,
    chat_id: ObjectId,
    ask: Ask,
    idempotency: Option<&Idempotency>,
) -> Result<Committed<JoinRequest>, AppError> {
    create_as(store, rules.create_limit_per_hour, ObjectId::generate(), caller, chat_id, ask, idempotency).await
}

/// [`create`] with the request's id chosen by the caller: the fixture loader uses it
/// to give demo requests ids that the sample events name. Its requests count against
/// no hourly limit.
pub async fn create_with_id<S: Storage>(
    store: &S,
    id: ObjectId,
    caller: ObjectId,
    chat_id: ObjectId,
    ask: Ask,
) -> Result<Committed<JoinRequest>, AppError> {
    create_as(store, 0, id, caller, chat_id, ask, None).await
}

async fn create_as<S: Storage>(
    store: &S,
    limit_per_hour: u32,
    id: ObjectId,
    caller: ObjectId,
    chat_id: ObjectId,
    ask: Ask,
    idempotency: Option<&Idempotency>,
) -> Result<Committed<JoinRequest>, AppError> {
    let ask = &ask;
    commit_with_retries("create", || async move {
        let lookup = Lookup {
            users: vec![caller],
            chats: vec![chat_id],
            memberships: vec![(chat_id, caller)],
            markers: vec![(caller, chat_id)],
            questions: vec![chat_id],
            ..Lookup::default()
        };
        let loaded = store.load(&lookup).await?;
        let questions = loaded.questions.get(&chat_id).map_or(&[][..], Vec::as_slice);
        let answers = check_answers(questions, ask.answers.clone())?;
        let snapshot = loaded.chats.get(&chat_id).ok_or(AppError::ChatNotFound)?;
        let marker = loaded.markers.get(&(caller, chat_id));
        let blocked = marker.is_some_and(|m| m.block.is_some());
        snapshot.chat.check_joinable_by(loaded.membership(chat_id, caller), blocked)?;
        // Read to answer precisely; the transaction's condition on the marker is what
        // holds under concurrency.
        if let Some(marker) = marker {
            if marker.request.is_some() {
                return Err(AppError::RequestAlreadyPending);
            }
            if let Some(retry_after) = marker.cooldown_until.as_deref().and_then(seconds_until) {
                return Err(AppError::RequestCooldown { retry_after });
            }
        }

        let now = now_timestamp();
        let hour = CreateHour::of(&now).ok_or_else(|| AppError::Internal(format!("time {now} unreadable").into()))?;
        let limit = (limit_per_hour > 0).then(|| CreateLimit { hour: hour.clone(), per_hour: limit_per_hour });
        let request = JoinRequest::new_pending(id, caller, chat_id, ask.message.clone(), answers, &now);
        let notify = RequestNotifications::of_request(&request, snapshot.active_admins());
        let events = join_request_events(&request, loaded.users.get(&caller), snapshot, &notify.notifications());
        let outbox = Outbox::of_create(&request, events, notify);
        let answer = super::answer_to_keep(caller, idempotency, &request)?;
        let plan = CreatePlan { request: &request, outbox: &outbox, answer, limit };
        Ok(match store.commit_create(&plan).await {
            Ok(()) => Attempt::Done(Committed { value: request, outbox }),
            // Checked last, as the contract orders it: a call refused for another reason
            // fails an earlier condition of the transaction, and counts nothing.
            Err(TxError::Failed(Guard::CreateLimit)) => {
                return Err(AppError::RateLimited { retry_after: hour.seconds_left })
            }
            Err(lost) => Attempt::Lost(lost),
        })
    })
    .await
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
