//! Carrying out an outbox: dismissing notifications and publishing events to
//! EventBridge; and draining what a failed attempt left.

use std::time::Duration;

use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use futures::future::join_all;
use futures::stream::{self, StreamExt};

use crate::domain::time::timestamp_seconds_ago;
use crate::domain::{OutboundEvent, Outbox};
use crate::metrics;
use crate::retry::backoff;
use crate::store::{Store, StoreError, StoredOutbox, MAX_OUTBOX_ATTEMPTS};

/// The `source` of every event this service puts on the bus; the rule matches on it.
pub const EVENT_SOURCE: &str = "join-requests";
/// PutEvents takes at most 10 entries per call...
pub const MAX_ENTRIES_PER_CALL: usize = 10;
/// ...and at most 256 KB of entries, counted as [`entry_size`] counts.
pub const MAX_BYTES_PER_CALL: usize = 256 * 1024;
/// Tries of one entry that EventBridge keeps refusing, within one delivery.
pub const PUBLISH_ATTEMPTS: u32 = 3;

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("EventBridge PutEvents failed: {0}")]
    Call(String),
    #[error("EventBridge refused {failed} of {total} entries after {PUBLISH_ATTEMPTS} attempts: {reason}")]
    Entries { failed: usize, total: usize, reason: String },
    #[error("an event did not serialize: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("an event of {0} bytes cannot fit in a PutEvents call")]
    TooLarge(usize),
}

#[derive(Clone)]
pub struct Publisher {
    client: aws_sdk_eventbridge::Client,
    bus: String,
}

/// One entry ready to send, with its size as EventBridge counts it.
struct Entry {
    entry: PutEventsRequestEntry,
    size: usize,
}

/// An entry's size as EventBridge counts it against the 256 KB of a call: the UTF-8
/// bytes of its source, detail-type and detail (we set no time and no resources).
pub fn entry_size(source: &str, detail_type: &str, detail: &str) -> usize {
    source.len() + detail_type.len() + detail.len()
}

/// Groups entries in order into calls of at most [`MAX_ENTRIES_PER_CALL`] entries and
/// [`MAX_BYTES_PER_CALL`] bytes.
fn pack(sizes: &[usize]) -> Vec<std::ops::Range<usize>> {
    let mut calls = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, size) in sizes.iter().enumerate() {
        if i > start && (i - start == MAX_ENTRIES_PER_CALL || bytes + size > MAX_BYTES_PER_CALL) {
            calls.push(start..i);
            (start, bytes) = (i, 0);
        }
        bytes += size;
    }
    if start < sizes.len() {
        calls.push(start..sizes.len());
    }
    calls
}

impl Publisher {
    pub fn new(client: aws_sdk_eventbridge::Client, bus: impl Into<String>) -> Self {
        Self { client, bus: bus.into() }
    }

    /// `EVENT_BUS_NAME`; `AWS_ENDPOINT_URL_EVENTBRIDGE` (see `app::sdk_config`) points the
    /// client at a local stand-in.
    pub fn from_env(config: &aws_types::SdkConfig) -> Result<Self, crate::app::ConfigError> {
        let bus = std::env::var("EVENT_BUS_NAME").map_err(|_| crate::app::ConfigError::Missing("EVENT_BUS_NAME"))?;
        Ok(Self::new(aws_sdk_eventbridge::Client::new(config), bus))
    }

    fn entry(&self, event: &OutboundEvent) -> Result<Entry, PublishError> {
        let detail = serde_json::to_string(event)?;
        let size = entry_size(EVENT_SOURCE, &event.event, &detail);
        if size > MAX_BYTES_PER_CALL {
            return Err(PublishError::TooLarge(size));
        }
        let entry = PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus)
            .source(EVENT_SOURCE)
            .detail_type(&event.event)
            .detail(detail)
            .build();
        Ok(Entry { entry, size })
    }

    /// One entry per event (`detail-type` is the event name, `detail` the event), packed
    /// into calls by count and size and sent together. Entries EventBridge refuses are
    /// sent again, alone of their call, up to [`PUBLISH_ATTEMPTS`] times in all.
    /// Succeeds only if every entry was accepted.
    pub async fn publish(&self, events: &[OutboundEvent]) -> Result<(), PublishError> {
        let mut pending = events.iter().map(|event| self.entry(event)).collect::<Result<Vec<_>, _>>()?;
        let total = pending.len();
        for attempt in 0..PUBLISH_ATTEMPTS {
            let sizes: Vec<usize> = pending.iter().map(|e| e.size).collect();
            let calls = pack(&sizes).into_iter().map(|range| self.put(&pending[range.clone()], range.start));
            let mut refused = Vec::new();
            let mut reason = String::new();
            for outcome in join_all(calls).await {
                let (failed, why) = outcome?;
                refused.extend(failed);
                if let Some(why) = why {
                    reason = why;
                }
            }
            if refused.is_empty() {
                return Ok(());
            }
            if attempt + 1 == PUBLISH_ATTEMPTS {
                return Err(PublishError::Entries { failed: refused.len(), total, reason });
            }
            tracing::info!(attempt, refused = refused.len(), %reason, "EventBridge refused entries; sending those again");
            refused.sort_unstable();
            let mut index = 0;
            pending.retain(|_| {
                index += 1;
                refused.binary_search(&(index - 1)).is_ok()
            });
            tokio::time::sleep(backoff(attempt + 2)).await;
        }
        Ok(())
    }

    /// One `PutEvents`. Returns the indexes (offset by `first`) of the refused entries
    /// and one reason.
    async fn put(&self, entries: &[Entry], first: usize) -> Result<(Vec<usize>, Option<String>), PublishError> {
        let output = self
            .client
            .put_events()
            .set_entries(Some(entries.iter().map(|e| e.entry.clone()).collect()))
            .send()
            .await
            .map_err(|e| PublishError::Call(aws_sdk_eventbridge::error::DisplayErrorContext(&e).to_string()))?;
        if output.failed_entry_count() == 0 {
            return Ok((Vec::new(), None));
        }
        let results = output.entries();
        let refused: Vec<usize> = (0..entries.len())
            // An entry without a result entry is one EventBridge did not take either.
            .filter(|&i| results.get(i).is_none_or(|result| result.error_code().is_some()))
            .map(|i| first + i)
            .collect();
        let reason = results.iter().find_map(|r| r.error_message().or(r.error_code()).map(str::to_owned));
        Ok((refused, reason))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DeliverError {
    #[error(transparent)]
    Publish(#[from] PublishError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Carries out the outbox of one committed change: dismisses its notifications and
/// keeps each event for its recipient, then publishes the events, then removes the
/// item. On failure the item stays and
/// [`drain`] does it all again later (each step is harmless to repeat); the caller
/// only logs. Round trips: 1 `UpdateItem` per notification to dismiss and 1 `PutItem`
/// per event kept, 16 of each in flight; then 1 `PutEvents` per 10 events or 256 KB,
/// sent together; then 1 `DeleteItem`.
pub async fn deliver(store: &Store, publisher: &Publisher, outbox: &Outbox) -> Result<(), DeliverError> {
    if outbox.is_empty() {
        return Ok(());
    }
    let events = outbox.outbound();
    // Kept first: an event a client saw pushed is always there to catch up from.
    let (dismissed, kept) =
        futures::join!(store.dismiss_notifications(&outbox.dismiss), store.keep_events(&events, &outbox.created_at));
    dismissed?;
    kept?;
    publisher.publish(&events).await?;
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
pub async fn deliver_or_defer(store: &Store, publisher: &Publisher, outbox: &Outbox) {
    let failure = match tokio::time::timeout(DELIVERY_BUDGET, deliver(store, publisher, outbox)).await {
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
const SWEEP_PAGE: i32 = 100;
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
/// outbox partition, 8 items at once, each within [`DELIVERY_BUDGET`]. A failure is
/// counted on the item, which stays for the next run; after
/// [`MAX_OUTBOX_ATTEMPTS`](crate::store::MAX_OUTBOX_ATTEMPTS) failures, or at once when
/// it does not decode, the item is set aside, out of the sweeper's way. So no item,
/// however broken, holds up another.
pub async fn drain(store: &Store, publisher: &Publisher, min_age_seconds: i64) -> Result<DrainReport, StoreError> {
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
                    work.push(sweep_one(store, publisher, stored));
                }
                Err((key, reason)) => {
                    tracing::error!(pk = %key.pk, %reason, "outbox item does not decode; setting it aside");
                    store.outbox_failed(&key, MAX_OUTBOX_ATTEMPTS, &reason).await?;
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

async fn sweep_one(store: &Store, publisher: &Publisher, stored: StoredOutbox) -> Result<Swept, StoreError> {
    let outbox = &stored.outbox;
    let reason = match tokio::time::timeout(DELIVERY_BUDGET, deliver(store, publisher, outbox)).await {
        Ok(Ok(())) => return Ok(Swept::Done),
        Ok(Err(error)) => error.to_string(),
        Err(_) => format!("not done within {DELIVERY_BUDGET:?}"),
    };
    let aside = store.outbox_failed(&crate::store::keys::outbox(outbox.id), stored.attempts, &reason).await?;
    if aside {
        tracing::error!(outbox = %outbox.id, attempts = stored.attempts + 1, %reason, "outbox item set aside");
        Ok(Swept::SetAside)
    } else {
        tracing::warn!(outbox = %outbox.id, attempts = stored.attempts + 1, %reason, "outbox item still not carried out");
        Ok(Swept::Failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_are_packed_by_count_and_by_size() {
        assert_eq!(pack(&[1; 25]), vec![0..10, 10..20, 20..25]);
        let big = 30 * 1024;
        // 8 × 30 KB = 240 KB fits; the 9th would pass 256 KB.
        assert_eq!(pack(&[big; 12]), vec![0..8, 8..12]);
        assert_eq!(pack(&[MAX_BYTES_PER_CALL, 1, MAX_BYTES_PER_CALL]), vec![0..1, 1..2, 2..3]);
        assert!(pack(&[]).is_empty());
    }
}
