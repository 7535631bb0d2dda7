//! `GET /events`: catching up on what was pushed.

use domain::page::EventsQuery;
use domain::time::timestamp_seconds_ago;
use domain::ObjectId;

use crate::error::AppError;
use crate::ports::{EventsFrom, KeptEvent, Storage};
use crate::Rules;

/// How long an event is kept for its recipient.
pub const KEEP_EVENTS_SECONDS: i64 = 7 * 24 * 3600;

/// How far behind now `GET /events` reads by default: an event is listed only once it
/// has been written longer ago than this, which is more than a write can take (the call
/// bound) plus any clock skew between functions. So nothing can later appear before a
/// place a client has read up to, and `after` is exact.
pub const SETTLE_SECONDS: i64 = 5;

#[derive(Debug)]
pub struct EventsPage {
    pub events: Vec<KeptEvent>,
    pub more: bool,
}

/// `GET /events`: the caller's events after `after` (or from 7 days back), oldest
/// first. Round trips: 1, or 2 with `after` (its place first). Events written in the
/// last `events_settle_seconds` are listed on a later call, which is what makes `after`
/// exact; they are pushed live meanwhile. An `after` that names no kept event of the
/// caller (another user's, or older than 7 days) is [`AppError::EventNotKept`].
pub async fn events<S: Storage>(
    store: &S,
    rules: &Rules,
    caller: ObjectId,
    query: EventsQuery,
) -> Result<EventsPage, AppError> {
    let since = timestamp_seconds_ago(KEEP_EVENTS_SECONDS);
    let from = match query.after {
        Some(after) => EventsFrom::After(after),
        None => EventsFrom::Since(&since),
    };
    let settled = timestamp_seconds_ago(rules.events_settle_seconds);
    let (events, more) =
        store.kept_events(caller, from, &settled, query.limit as usize).await?.ok_or(AppError::EventNotKept)?;
    Ok(EventsPage { events, more })
}
