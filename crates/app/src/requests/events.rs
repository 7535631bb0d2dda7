//! `GET /events`: catching up on what was pushed.

use domain::page::{After, EventsQuery};
use domain::time::timestamp_seconds_ago;
use domain::ObjectId;

use crate::error::AppError;
use crate::ports::{EventsFrom, KeptPage, Storage};
use crate::Rules;

/// How long an event is kept for its recipient.
pub const KEEP_EVENTS_SECONDS: i64 = 7 * 24 * 3600;

/// `GET /events`: the caller's events after `after` (an event id or a cursor), or from
/// 7 days back, oldest first, up to the moment of the call. Round trips: 1, or 2 with an
/// event id (its place first). The answer's cursor never skips an event, even one kept
/// late: it reads again the last `events_late_seconds` of what it returned, once caught
/// up, so a few events may come twice (see the store's `kept_events`). An `after` that
/// names no kept event of the caller (another user's, unknown, or older than 7 days) is
/// [`AppError::EventNotFound`].
pub async fn events<S: Storage>(
    store: &S,
    rules: &Rules,
    caller: ObjectId,
    query: EventsQuery,
) -> Result<KeptPage, AppError> {
    let since = timestamp_seconds_ago(KEEP_EVENTS_SECONDS);
    let from = match &query.after {
        None => EventsFrom::Since(&since),
        Some(After::Event(id)) => EventsFrom::After(*id),
        Some(After::Cursor(cursor)) => EventsFrom::Cursor(cursor),
    };
    store
        .kept_events(caller, from, rules.events_late_seconds, query.limit as usize)
        .await?
        .ok_or(AppError::EventNotFound)
}
