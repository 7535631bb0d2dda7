//! Carrying out an outbox: dismissing its notifications, keeping its events for their
//! recipients, publishing them; and the sweep that does it again for what a failed
//! attempt left.

use std::time::Duration;

use domain::time::timestamp_seconds_ago;
use domain::Outbox;
use futures::stream::{self, StreamExt};

use crate::metrics;
use crate::ports::{Bus, BusError, Storage, StoreError, StoredOutbox};

/// Failed attempts after which an outbox item is set aside for an operator.
pub const MAX_OUTBOX_ATTEMPTS: u32 = 5;

#[derive(Debug, thiserror::Error)]
pub enum DeliverError {
    #[error(transparent)]
    Publish(#[from] BusError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Carries out the outbox of one committed change: writes or dismisses its
/// notifications and keeps each event for its recipient, then publishes the events,
/// then removes the item. On failure the item stays and [`drain`] does it all again
/// later (each step is harmless to repeat); the caller only logs. Round trips, all at
/// once: 1 `TransactWriteItems` for a create's notifications, 1 `UpdateItem` per
/// notification to dismiss and 1 `PutItem` per event kept, 16 of each in flight; then
/// 1 `PutEvents` per 10 events or 256 KB, sent together; then 1 `DeleteItem`.
pub async fn deliver<S: Storage, B: Bus>(store: &S, bus: &B, outbox: &Outbox) -> Result<(), DeliverError> {
    if outbox.is_empty() {
        return Ok(());
    }
    let events = outbox.outbound();
    // Written and kept first: an admin told of a request finds its notification, and
    // an event a client saw pushed is always there to catch up from.
    let notified = async {
        match &outbox.notify {
            Some(notify) => store.notify(notify).await,
            None => Ok(()),
        }
    };
    let (notified, dismissed, kept) = futures::join!(
        notified,
        store.dismiss_notifications(&outbox.dismiss),
        store.keep_events(&events, &outbox.created_at)
    );
    notified?;
    dismissed?;
    kept?;
    bus.publish(&events, outbox.change.as_slice()).await?;
    store.delete_outbox(outbox.id).await?;
    Ok(())
}

/// How long a call waits for its outbox after the commit before answering anyway:
/// with the reads and the transaction, a committed change answers within 3 s even when
/// EventBridge hangs (the sweeper carries the outbox out later).
pub const DELIVERY_BUDGET: Duration = Duration::from_millis(1000);

/// After a committed change: carry out its outbox now, within [`DELIVERY_BUDGET`], and
/// if that fails, leave it to the sweeper. Never an error for the caller: the change and
/// its outbox are committed.
pub async fn deliver_or_defer<S: Storage, B: Bus>(store: &S, bus: &B, outbox: &Outbox) {
    let failure = match tokio::time::timeout(DELIVERY_BUDGET, deliver(store, bus, outbox)).await {
        Ok(Ok(())) => return,
        Ok(Err(error)) => error.to_string(),
        Err(_) => format!("not done within {DELIVERY_BUDGET:?}"),
    };
    metrics::count(metrics::OUTBOX_DELIVERY_FAILED, 1);
    tracing::warn!(error = %failure, outbox = %outbox.id, "outbox not carried out; the sweeper will retry");
}

/// How old an outbox item must be before the sweeper takes it: younger ones are most
/// likely being delivered by the call that wrote them right now.
pub const SWEEP_MIN_AGE_SECONDS: i64 = 30;
/// Items per page of the sweep, and items carried out at once.
const SWEEP_PAGE: usize = 100;
const SWEEP_CONCURRENCY: usize = 8;

#[derive(Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct DrainReport {
    /// Items carried out and removed.
    pub published: usize,
    /// Items that failed this time and stay for the next run.
    pub failed: usize,
    /// Items that failed for the last allowed time, or do not decode: set aside.
    pub set_aside: usize,
    /// The age of the oldest item the sweep found, in seconds (0 when none).
    pub oldest_age_seconds: i64,
}

/// Carries out every outbox item older than `min_age_seconds`: every page of the
/// outbox partition, 8 items at once, each within `budget` (the scheduled sweeper's is
/// [`DELIVERY_BUDGET`]; tests that are not about it give more). A failure is
/// counted on the item, which stays for the next run; after
/// [`MAX_OUTBOX_ATTEMPTS`] failures, or at once when
/// it does not decode, the item is set aside, out of the sweeper's way. So no item,
/// however broken, holds up another.
pub async fn drain<S: Storage, B: Bus>(
    store: &S,
    bus: &B,
    min_age_seconds: i64,
    budget: Duration,
) -> Result<DrainReport, StoreError> {
    let cutoff = timestamp_seconds_ago(min_age_seconds);
    let now = chrono::Utc::now();
    let mut report = DrainReport::default();
    let mut start = None;
    loop {
        let page = store.outbox_page(&cutoff, SWEEP_PAGE, start).await?;
        let mut work = Vec::new();
        for entry in page.entries {
            match entry {
                Ok(stored) => {
                    if report.oldest_age_seconds == 0 {
                        let created = chrono::DateTime::parse_from_rfc3339(&stored.outbox.created_at);
                        report.oldest_age_seconds = created.map_or(0, |t| (now - t.to_utc()).num_seconds().max(0));
                    }
                    work.push(sweep_one(store, bus, stored, budget));
                }
                Err(bad) => {
                    tracing::error!(outbox = %bad.id, reason = %bad.reason, "outbox item does not decode; setting it aside");
                    store.outbox_failed(bad.id, MAX_OUTBOX_ATTEMPTS + 1, &bad.reason, true).await?;
                    report.set_aside += 1;
                }
            }
        }
        let outcomes: Vec<Result<Swept, StoreError>> =
            stream::iter(work).buffer_unordered(SWEEP_CONCURRENCY).collect().await;
        for outcome in outcomes {
            match outcome? {
                Swept::Done => report.published += 1,
                Swept::Failed => report.failed += 1,
                Swept::SetAside => report.set_aside += 1,
            }
        }
        start = page.next;
        if start.is_none() {
            return Ok(report);
        }
    }
}

enum Swept {
    Done,
    Failed,
    SetAside,
}

async fn sweep_one<S: Storage, B: Bus>(
    store: &S,
    bus: &B,
    stored: StoredOutbox,
    budget: Duration,
) -> Result<Swept, StoreError> {
    let outbox = &stored.outbox;
    let reason = match tokio::time::timeout(budget, deliver(store, bus, outbox)).await {
        Ok(Ok(())) => return Ok(Swept::Done),
        Ok(Err(error)) => error.to_string(),
        Err(_) => format!("not done within {budget:?}"),
    };
    let attempts = stored.attempts + 1;
    let aside = attempts >= MAX_OUTBOX_ATTEMPTS;
    let recorded = store.outbox_failed(outbox.id, attempts, &reason, aside).await?;
    if aside && recorded {
        tracing::error!(outbox = %outbox.id, attempts, %reason, "outbox item set aside");
        Ok(Swept::SetAside)
    } else {
        tracing::warn!(outbox = %outbox.id, attempts, %reason, "outbox item still not carried out");
        Ok(Swept::Failed)
    }
}
