//! Keeping the copy of the app's data, and what its changes mean for requests
//! (contract, "The app's data in"): a user who became a participant while asking has
//! the request closed as `cancelled`; a deleted chat's pending requests expire at once.
//! An admin demoted or gone needs nothing more: rights and recipients are read from the
//! entries at each call.

use domain::sync::AppChange;
use futures::stream::{self, StreamExt};

use crate::delivery::deliver_or_defer;
use crate::error::AppError;
use crate::ports::{Bus, Lookup, Replica};
use crate::requests;

/// What applying one change did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SyncReport {
    /// The change was newer than what was kept, and is kept now.
    pub changed: bool,
    /// Requests it closed.
    pub closed: usize,
}

/// Requests closed at once.
const CONCURRENCY: usize = 4;

/// Applies `change` and carries out what it means for requests. Doing it again is
/// harmless: the write changes nothing, and the requests it closed are closed. The
/// effects follow the state, not the write, so a retry after a failure between the two
/// still closes what it must.
pub async fn apply<S: Replica, B: Bus>(store: &S, bus: &B, change: &AppChange) -> Result<SyncReport, AppError> {
    let changed = store.apply_change(change).await?;
    let closed = match change {
        AppChange::MemberUpserted { chat, entry, .. } => cancel_if_now_member(store, bus, *chat, entry.user).await?,
        AppChange::ChatDeleted { chat, .. } => expire_all_pending(store, bus, *chat).await?,
        _ => 0,
    };
    Ok(SyncReport { changed, closed })
}

/// A user who is an active participant and has a request pending to the chat: the
/// request is closed as `cancelled` (the admins get `chat-join-request-closed`). One
/// read of the entry and the marker together; then the close.
async fn cancel_if_now_member<S: Replica, B: Bus>(
    store: &S,
    bus: &B,
    chat: domain::ObjectId,
    user: domain::ObjectId,
) -> Result<usize, AppError> {
    let lookup = Lookup { memberships: vec![(chat, user)], markers: vec![(user, chat)], ..Lookup::default() };
    let loaded = store.load(&lookup).await?;
    let active = loaded.membership(chat, user).is_some_and(domain::Participant::is_active);
    let pending = loaded.markers.get(&(user, chat)).and_then(|marker| marker.request);
    let (true, Some(request)) = (active, pending) else { return Ok(0) };
    match requests::withdraw(store, user, request, None).await {
        Ok(closed) => {
            deliver_or_defer(store, bus, &closed.outbox).await;
            Ok(1)
        }
        // Decided or withdrawn meanwhile.
        Err(AppError::RequestNotPending | AppError::RequestNotFound) => Ok(0),
        Err(error) => Err(error),
    }
}

/// Every pending request of a deleted chat expires, as the schedule would expire it:
/// each page of them, 4 at a time.
async fn expire_all_pending<S: Replica, B: Bus>(store: &S, bus: &B, chat: domain::ObjectId) -> Result<usize, AppError> {
    let mut closed = 0;
    let mut start = None;
    loop {
        let (pending, next) = store.pending_requests_to(chat, start).await?;
        let work: Vec<_> = pending.into_iter().map(|id| expire_one(store, bus, id)).collect();
        let outcomes: Vec<Result<usize, AppError>> = stream::iter(work).buffer_unordered(CONCURRENCY).collect().await;
        for outcome in outcomes {
            closed += outcome?;
        }
        start = next;
        if start.is_none() {
            return Ok(closed);
        }
    }
}

async fn expire_one<S: Replica, B: Bus>(store: &S, bus: &B, id: domain::ObjectId) -> Result<usize, AppError> {
    match requests::expire(store, id).await {
        Ok(expired) => {
            deliver_or_defer(store, bus, &expired.outbox).await;
            Ok(1)
        }
        Err(AppError::RequestNotPending | AppError::RequestNotFound) => Ok(0),
        Err(error) => Err(error),
    }
}
