//! `POST /requests`: asking to join.

use domain::time::{now_timestamp, seconds_until};
use domain::{
    ChatSnapshot, Fanout, JoinRequest, Note, Notification, ObjectId, Outbox, PopulatedRequest, RequestNotifications,
    User,
};

use super::Committed;
use crate::error::AppError;
use crate::ports::{CreatePlan, Idempotency, Lookup, Storage};
use crate::retry::{commit_with_retries, Attempt};

/// `POST /requests`. Round trips: 2 (the chat, the participants it shows, the caller
/// and the caller's entry in the chat, together; then one transaction), more only when
/// a race forces a re-read. The admins' notifications travel in the outbox, so the
/// transaction holds a fixed number of items whatever the number of admins.
///
/// With an idempotency key the answer is kept in the same transaction (see
/// [`crate::ports::AnswerToKeep`]).
pub async fn create<S: Storage>(
    store: &S,
    caller: ObjectId,
    chat_id: ObjectId,
    message: Option<Note>,
    idempotency: Option<&Idempotency>,
) -> Result<Committed<JoinRequest>, AppError> {
    create_as(store, ObjectId::generate(), caller, chat_id, message, idempotency).await
}

/// [`create`] with the request's id chosen by the caller: the fixture loader uses it
/// to give demo requests ids that the sample events name.
pub async fn create_with_id<S: Storage>(
    store: &S,
    id: ObjectId,
    caller: ObjectId,
    chat_id: ObjectId,
    message: Option<Note>,
) -> Result<Committed<JoinRequest>, AppError> {
    create_as(store, id, caller, chat_id, message, None).await
}

async fn create_as<S: Storage>(
    store: &S,
    id: ObjectId,
    caller: ObjectId,
    chat_id: ObjectId,
    message: Option<Note>,
    idempotency: Option<&Idempotency>,
) -> Result<Committed<JoinRequest>, AppError> {
    let message = &message;
    commit_with_retries("create", || async move {
        let lookup = Lookup {
            users: vec![caller],
            chats: vec![chat_id],
            memberships: vec![(chat_id, caller)],
            markers: vec![(caller, chat_id)],
            ..Lookup::default()
        };
        let loaded = store.load(&lookup).await?;
        let snapshot = loaded.chats.get(&chat_id).ok_or(AppError::ChatNotFound)?;
        snapshot.chat.check_joinable_by(loaded.membership(chat_id, caller))?;
        // Read to answer precisely; the transaction's condition on the marker is what
        // holds under concurrency.
        if let Some(marker) = loaded.markers.get(&(caller, chat_id)) {
            if marker.request.is_some() {
                return Err(AppError::RequestAlreadyPending);
            }
            if let Some(retry_after) = marker.cooldown_until.as_deref().and_then(seconds_until) {
                return Err(AppError::RequestCooldown { retry_after });
            }
        }

        let now = now_timestamp();
        let request = JoinRequest::new_pending(id, caller, chat_id, message.clone(), &now);
        let notify = RequestNotifications::of_request(&request, snapshot.active_admins());
        let events = join_request_events(&request, loaded.users.get(&caller), snapshot, &notify.notifications());
        let outbox = Outbox::of_create(&request, events, notify);
        let answer = super::answer_to_keep(caller, idempotency, &request)?;
        let plan = CreatePlan { request: &request, outbox: &outbox, answer };
        Ok(match store.commit_create(&plan).await {
            Ok(()) => Attempt::Done(Committed { value: request, outbox }),
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
