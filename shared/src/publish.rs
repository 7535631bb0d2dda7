//! Publishing outbox events to EventBridge, and draining what a failed publish left.

use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use futures::future::join_all;

use crate::domain::time::timestamp_seconds_ago;
use crate::domain::OutboundEvent;
use crate::store::{OutboxItem, Store, StoreError};

/// The `source` of every event this service puts on the bus; the rule matches on it.
pub const EVENT_SOURCE: &str = "join-requests";
/// PutEvents takes at most 10 entries per call.
const ENTRIES_PER_CALL: usize = 10;

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("EventBridge PutEvents failed: {0}")]
    Call(String),
    #[error("EventBridge refused {failed} of {total} entries: {reason}")]
    Entries { failed: usize, total: usize, reason: String },
    #[error("an event did not serialize: {0}")]
    Encode(#[from] serde_json::Error),
}

#[derive(Clone)]
pub struct Publisher {
    client: aws_sdk_eventbridge::Client,
    bus: String,
}

impl Publisher {
    pub fn new(client: aws_sdk_eventbridge::Client, bus: impl Into<String>) -> Self {
        Self { client, bus: bus.into() }
    }

    /// `EVENT_BUS_NAME`; `AWS_ENDPOINT_URL_EVENTBRIDGE` (read by the SDK) points the
    /// client at a local stand-in.
    pub fn from_env(config: &aws_config::SdkConfig) -> Result<Self, crate::app::ConfigError> {
        let bus = std::env::var("EVENT_BUS_NAME").map_err(|_| crate::app::ConfigError::Missing("EVENT_BUS_NAME"))?;
        Ok(Self::new(aws_sdk_eventbridge::Client::new(config), bus))
    }

    /// One entry per event (`detail-type` is the event name, `detail` the event), in
    /// calls of 10 sent together. Succeeds only if every entry was accepted.
    pub async fn publish(&self, events: &[OutboundEvent]) -> Result<(), PublishError> {
        let calls = events.chunks(ENTRIES_PER_CALL).map(|chunk| self.put(chunk));
        join_all(calls).await.into_iter().collect::<Result<Vec<()>, _>>()?;
        Ok(())
    }

    async fn put(&self, events: &[OutboundEvent]) -> Result<(), PublishError> {
        let entries = events
            .iter()
            .map(|event| {
                Ok(PutEventsRequestEntry::builder()
                    .event_bus_name(&self.bus)
                    .source(EVENT_SOURCE)
                    .detail_type(&event.event)
                    .detail(serde_json::to_string(event)?)
                    .build())
            })
            .collect::<Result<Vec<_>, serde_json::Error>>()?;
        let output = self
            .client
            .put_events()
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| PublishError::Call(aws_sdk_eventbridge::error::DisplayErrorContext(&e).to_string()))?;
        let failed = output.failed_entry_count() as usize;
        if failed > 0 {
            let reason =
                output.entries().iter().find_map(|entry| entry.error_message().map(str::to_owned)).unwrap_or_default();
            return Err(PublishError::Entries { failed, total: events.len(), reason });
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DeliverError {
    #[error(transparent)]
    Publish(#[from] PublishError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Publishes the events of one committed change and removes their outbox item. On
/// failure the item stays and [`drain`] publishes it later; the caller only logs.
/// Round trips: 1 `PutEvents` per 10 events (sent together) + 1 `DeleteItem`.
pub async fn deliver(store: &Store, publisher: &Publisher, events: &[OutboundEvent]) -> Result<(), DeliverError> {
    let Some(first) = events.first() else {
        return Ok(());
    };
    publisher.publish(events).await?;
    store.delete_outbox(first.id).await?;
    Ok(())
}

/// After a committed change: publish now, and if that fails, leave it to the sweeper.
/// Never an error for the caller: the change is committed and its events are safe.
pub async fn deliver_or_defer(store: &Store, publisher: &Publisher, events: &[OutboundEvent]) {
    if let Err(error) = deliver(store, publisher, events).await {
        tracing::warn!(%error, events = events.len(), "publish failed; the outbox sweeper will retry");
    }
}

/// How old an outbox item must be before the sweeper takes it: younger ones are most
/// likely being delivered by the call that wrote them right now.
pub const SWEEP_MIN_AGE_SECONDS: i64 = 30;
const SWEEP_BATCH: i32 = 100;

#[derive(Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct DrainReport {
    pub published: usize,
    pub failed: usize,
}

/// Publishes every outbox item older than `min_age_seconds`. An item that fails again
/// stays for the next run; the others still go.
pub async fn drain(store: &Store, publisher: &Publisher, min_age_seconds: i64) -> Result<DrainReport, StoreError> {
    let cutoff = timestamp_seconds_ago(min_age_seconds);
    let mut report = DrainReport::default();
    loop {
        let items: Vec<OutboxItem> = store.outbox_before(&cutoff, SWEEP_BATCH).await?;
        let count = items.len();
        let mut progress = false;
        for item in items {
            match deliver(store, publisher, &item.events).await {
                Ok(()) => {
                    report.published += 1;
                    progress = true;
                }
                Err(error) => {
                    report.failed += 1;
                    tracing::warn!(%error, outbox = ?item.id(), "outbox item still not published");
                }
            }
        }
        // A short batch is the end; a full batch that made no progress would loop forever.
        if count < SWEEP_BATCH as usize || !progress {
            return Ok(report);
        }
    }
}
