//! The EventBridge adapter: the outbox's events as `PutEvents` entries, packed by
//! count and size, with the refused entries sent again.

use app::backoff;
use app::ports::{Bus, BusError};
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use domain::event::MAX_CHANGE_BYTES;
use domain::{Delivery, OutboundEvent, RequestChanged};
use futures::future::join_all;

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
    #[error("a {0} of {1} bytes is over the contract's {MAX_CHANGE_BYTES}")]
    ChangeTooLarge(&'static str, usize),
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

    /// A publisher to the bus named `bus`; `AWS_ENDPOINT_URL_EVENTBRIDGE` in the SDK
    /// configuration points it at a local stand-in.
    pub fn from_config(config: &aws_types::SdkConfig, bus: &str) -> Self {
        Self::new(aws_sdk_eventbridge::Client::new(config), bus)
    }

    fn entry(&self, detail_type: &str, detail: String) -> Result<Entry, PublishError> {
        let size = entry_size(EVENT_SOURCE, detail_type, &detail);
        if size > MAX_BYTES_PER_CALL {
            return Err(PublishError::TooLarge(size));
        }
        let entry = PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus)
            .source(EVENT_SOURCE)
            .detail_type(detail_type)
            .detail(detail)
            .build();
        Ok(Entry { entry, size })
    }

    /// For the notifier: `detail-type` is the delivery's first event's name, `detail`
    /// its events in order.
    fn delivery_entry(&self, delivery: &Delivery) -> Result<Entry, PublishError> {
        self.entry(&delivery.first.event, serde_json::to_string(delivery)?)
    }

    /// For the app's other services: `detail-type` `join-request.<what happened>`.
    fn change_entry(&self, change: &RequestChanged) -> Result<Entry, PublishError> {
        let detail = serde_json::to_string(change)?;
        if detail.len() > MAX_CHANGE_BYTES {
            return Err(PublishError::ChangeTooLarge(change.detail_type(), detail.len()));
        }
        self.entry(change.detail_type(), detail)
    }

    /// One entry per recipient of the events ([`Delivery`]) and one per change, packed
    /// into calls by count and size and sent together. Entries EventBridge refuses are
    /// sent again, alone of their call, up to [`PUBLISH_ATTEMPTS`] times in all.
    /// Succeeds only if every entry was accepted.
    async fn send_all(&self, events: &[OutboundEvent], changes: &[RequestChanged]) -> Result<(), PublishError> {
        let deliveries = Delivery::group(events);
        let mut pending = deliveries
            .iter()
            .map(|delivery| self.delivery_entry(delivery))
            .chain(changes.iter().map(|change| self.change_entry(change)))
            .collect::<Result<Vec<_>, _>>()?;
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

impl Bus for Publisher {
    async fn publish(&self, events: &[OutboundEvent], changes: &[RequestChanged]) -> Result<(), BusError> {
        self.send_all(events, changes).await.map_err(|error| BusError(Box::new(error)))
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
