//! Keeping the copy of the app's data, and what its changes mean for requests
//! (contract, "The app's data in"): a user who became a participant while asking has
//! the request closed as `cancelled`; a deleted chat's pending requests expire at once.
//! An admin demoted or gone needs nothing more: rights and recipients are read from the
//! entries at each call.

use std::time::Instant;

use domain::sync::AppChange;
use futures::future::ready;
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
    /// `false` when the deadline came before all it closes was closed: applying it
    /// again closes the rest.
    pub finished: bool,
}

/// Requests closed at once.
const CONCURRENCY: usize = 4;

/// Applies `change` and carries out what it means for requests (a deleted chat's
/// expiries until `deadline`). Doing it again is harmless: the write changes nothing,
/// and the requests it closed are closed. The effects follow the state, not the write,
/// so a retry after a failure between the two still closes what it must.
pub async fn apply<S: Replica, B: Bus>(
    store: &S,
    bus: &B,
    change: &AppChange,
    deadline: Instant,
) -> Result<SyncReport, AppError> {
    let changed = store.apply_change(change).await?;
    let (closed, finished) = match change {
        AppChange::MemberUpserted { chat, entry, .. } => {
            (cancel_if_now_member(store, bus, *chat, entry.user).await?, true)
        }
        AppChange::ChatDeleted { chat, .. } => expire_all_pending(store, bus, *chat, deadline).await?,
        _ => (0, true),
    };
    Ok(SyncReport { changed, closed, finished })
}

/// Applies a batch of changes, as the queue in front of the sync function delivers them
/// (up to 50): the memberships together ([`Replica::apply_memberships`]: one read and
/// one transaction instead of one of each per change), then one read of the entries and
/// pending markers of every user an upsert made a member, for the requests to cancel;
/// the other changes one by one, 4 at once. A failure of the memberships together
/// sends each on its own, so the report of each change is its own: one that fails does
/// not fail the others. A deleted chat's expiries stop at `deadline` ([`apply`]).
pub async fn apply_all<S: Replica, B: Bus>(
    store: &S,
    bus: &B,
    changes: &[AppChange],
    deadline: Instant,
) -> Vec<Result<SyncReport, AppError>> {
    let memberships: Vec<usize> = (0..changes.len()).filter(|at| changes[*at].membership().is_some()).collect();
    let together = match memberships.len() {
        0 | 1 => None,
        _ => match store.apply_memberships(changes).await {
            Ok(changed) => Some(changed),
            Err(error) => {
                tracing::warn!(%error, "the memberships together failed; applying each on its own");
                None
            }
        },
    };
    let mut reports: Vec<Option<Result<SyncReport, AppError>>> = (0..changes.len()).map(|_| None).collect();
    if let Some(changed) = together {
        let mut upserts: Vec<(domain::ObjectId, domain::ObjectId)> = memberships
            .iter()
            .filter_map(|at| match &changes[*at] {
                AppChange::MemberUpserted { chat, entry, .. } => Some((*chat, entry.user)),
                _ => None,
            })
            .collect();
        upserts.sort_unstable();
        upserts.dedup();
        match Box::pin(cancel_if_now_members(store, bus, &upserts)).await {
            Ok(mut closed) => {
                for at in &memberships {
                    // Counted once, for the first upsert of the entry.
                    let upsert = matches!(changes[*at], AppChange::MemberUpserted { .. });
                    let found = changes[*at].membership().and_then(|entry| closed.iter().position(|c| *c == entry));
                    let closed_here = match found {
                        Some(position) if upsert => {
                            closed.swap_remove(position);
                            1
                        }
                        _ => 0,
                    };
                    reports[*at] = Some(Ok(SyncReport { changed: changed[*at], closed: closed_here, finished: true }));
                }
            }
            // The upserts then go on their own, which reads and cancels again; their
            // writes, made, change nothing the second time.
            Err(error) => {
                tracing::warn!(%error, "the requests to cancel were not read; applying each upsert on its own");
                for at in &memberships {
                    if matches!(changes[*at], AppChange::MemberLeft { .. }) {
                        reports[*at] = Some(Ok(SyncReport { changed: changed[*at], closed: 0, finished: true }));
                    }
                }
            }
        }
    }
    let alone: Vec<usize> = (0..changes.len()).filter(|at| reports[*at].is_none()).collect();
    // Boxed: each is as deep as a whole close, and the batch holds several.
    let work: Vec<_> = alone.iter().map(|at| Box::pin(apply(store, bus, &changes[*at], deadline))).collect();
    let outcomes: Vec<Result<SyncReport, AppError>> = stream::iter(work).buffered(CONCURRENCY).collect().await;
    for (at, outcome) in alone.into_iter().zip(outcomes) {
        reports[at] = Some(outcome);
    }
    reports
        .into_iter()
        .map(|report| report.unwrap_or_else(|| Err(AppError::Internal("a change left unapplied".into()))))
        .collect()
}

/// [`cancel_if_now_member`] for many entries: one read of their markers, then of the
/// entries of those with a request pending, and a close for each that is active. The
/// entries whose request it closed.
async fn cancel_if_now_members<S: Replica, B: Bus>(
    store: &S,
    bus: &B,
    entries: &[(domain::ObjectId, domain::ObjectId)],
) -> Result<Vec<(domain::ObjectId, domain::ObjectId)>, AppError> {
    if entries.is_empty() {
        return Ok(Vec::new());
    }
    // The markers first: a pending request is rare, and only its entry is then read.
    let markers = Lookup { markers: entries.iter().map(|(chat, user)| (*user, *chat)).collect(), ..Lookup::default() };
    let markers = store.load(&markers).await?.markers;
    let pending: Vec<((domain::ObjectId, domain::ObjectId), domain::ObjectId)> = entries
        .iter()
        .filter_map(|&(chat, user)| {
            markers.get(&(user, chat)).and_then(|marker| marker.request).map(|r| ((chat, user), r))
        })
        .collect();
    if pending.is_empty() {
        return Ok(Vec::new());
    }
    let memberships = Lookup { memberships: pending.iter().map(|(entry, _)| *entry).collect(), ..Lookup::default() };
    let loaded = store.load(&memberships).await?;
    let mut closed = Vec::new();
    for ((chat, user), request) in pending {
        if loaded.membership(chat, user).is_some_and(domain::Participant::is_active)
            && cancel(store, bus, user, request).await?
        {
            closed.push((chat, user));
        }
    }
    Ok(closed)
}

/// A user who is an active participant and has a request pending to the chat: the
/// request is closed as `cancelled` (the admins get `chat-join-request-closed`).
async fn cancel_if_now_member<S: Replica, B: Bus>(
    store: &S,
    bus: &B,
    chat: domain::ObjectId,
    user: domain::ObjectId,
) -> Result<usize, AppError> {
    Ok(cancel_if_now_members(store, bus, &[(chat, user)]).await?.len())
}

/// Closes `user`'s pending `request` as `cancelled`: `false` if it was decided or
/// withdrawn meanwhile.
async fn cancel<S: Replica, B: Bus>(
    store: &S,
    bus: &B,
    user: domain::ObjectId,
    request: domain::ObjectId,
) -> Result<bool, AppError> {
    carried_out(store, bus, requests::withdraw(store, user, request, None).await).await
}

/// A close's events delivered (or left to the sweeper): `true`, or `false` when the
/// request was decided or withdrawn meanwhile, which leaves nothing to do.
async fn carried_out<S: Replica, B: Bus>(
    store: &S,
    bus: &B,
    close: Result<requests::Committed<domain::PopulatedRequest>, AppError>,
) -> Result<bool, AppError> {
    match close {
        Ok(closed) => {
            deliver_or_defer(store, bus, &closed.outbox).await;
            Ok(true)
        }
        Err(AppError::RequestNotPending | AppError::RequestNotFound) => Ok(false),
        Err(error) => Err(error),
    }
}

/// Every pending request of a deleted chat expires, as the schedule would expire it:
/// each page of them, 4 at a time. The requests closed, and whether that was all.
///
/// A chat may have any number of them, and an invocation has its time: none starts
/// after `deadline`, but the first always does, so that each delivery of the change
/// closes some. The change is then unfinished, and the queue delivers it again.
async fn expire_all_pending<S: Replica, B: Bus>(
    store: &S,
    bus: &B,
    chat: domain::ObjectId,
    deadline: Instant,
) -> Result<(usize, bool), AppError> {
    let (mut closed, mut started) = (0, 0usize);
    let mut start = None;
    loop {
        let (pending, next) = store.pending_requests_to(chat, start).await?;
        let on_page = pending.len();
        let before = started;
        let in_time = |_: &domain::ObjectId| {
            let go = started == 0 || Instant::now() < deadline;
            started += usize::from(go);
            ready(go)
        };
        let outcomes: Vec<Result<usize, AppError>> = stream::iter(pending)
            .take_while(in_time)
            .map(|id| expire_one(store, bus, id))
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        for outcome in outcomes {
            closed += outcome?;
        }
        if started - before < on_page {
            return Ok((closed, false));
        }
        start = next;
        if start.is_none() {
            return Ok((closed, true));
        }
    }
}

async fn expire_one<S: Replica, B: Bus>(store: &S, bus: &B, id: domain::ObjectId) -> Result<usize, AppError> {
    Ok(usize::from(carried_out(store, bus, requests::expire(store, id).await).await?))
}
