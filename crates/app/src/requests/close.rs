//! `DELETE /requests/{id}` and the scheduled expiry: a pending request closed without a
//! decision.

use domain::time::now_timestamp;
use domain::{ClosedRequest, Fanout, ObjectId, Outbox, PopulatedRequest};

use super::Committed;
use crate::error::AppError;
use crate::ports::{ClosePlan, Idempotency, Lookup, Storage};
use crate::retry::{commit_with_retries, Attempt};

/// `DELETE /requests/{id}`: the requester withdraws a pending request. Round trips: 3
/// (the request; then its chat, the participants it shows and the caller, together;
/// then one transaction), more only when a race forces a re-read. Racing a decision,
/// exactly one wins: both change the request only from `pending`.
pub async fn withdraw<S: Storage>(
    store: &S,
    caller: ObjectId,
    id: ObjectId,
    idempotency: Option<&Idempotency>,
) -> Result<Committed<PopulatedRequest>, AppError> {
    close_undecided(store, id, Some(caller), idempotency).await
}

/// Expires one request that is still pending: the requester gets
/// `chat-request-expired`, the admins `chat-join-request-closed`.
/// `REQUEST_NOT_PENDING` when it was decided or withdrawn meanwhile: it is left alone.
pub async fn expire<S: Storage>(store: &S, id: ObjectId) -> Result<Committed<PopulatedRequest>, AppError> {
    close_undecided(store, id, None, None).await
}

/// Closes a pending request without a decision: withdrawn by `requester`, or expired
/// when `None`.
async fn close_undecided<S: Storage>(
    store: &S,
    id: ObjectId,
    requester: Option<ObjectId>,
    idempotency: Option<&Idempotency>,
) -> Result<Committed<PopulatedRequest>, AppError> {
    commit_with_retries("closing", || async move {
        let stored = store.request(id).await?.ok_or(AppError::RequestNotFound)?;
        let request = stored.request;
        if requester.is_some_and(|caller| caller != request.user) {
            // Someone else's request is indistinguishable from a missing one.
            return Err(AppError::RequestNotFound);
        }
        if !request.is_pending() {
            return Err(AppError::RequestNotPending);
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
        let outbox = Outbox::new(&closed, &now, events, stored.notified.clone());
        let answer = match requester {
            Some(caller) => super::answer_to_keep(caller, idempotency, &populated)?,
            None => None,
        };
        let plan = ClosePlan {
            closed: &closed,
            decider: None,
            acceptance: None,
            cooldown_until: None,
            block: None,
            outbox: &outbox,
            answer,
        };
        Ok(match store.commit_close(&plan).await {
            Ok(()) => Attempt::Done(Committed { value: populated, outbox }),
            Err(lost) => Attempt::Lost(lost),
        })
    })
    .await
}
