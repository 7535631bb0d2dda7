//! The consumer of the queue the bus's rule for the app's events (source
//! `APP_EVENT_SOURCE`) fills: keeps this service's copy of the app's users, chats and
//! members, and closes the requests a change makes moot. The queue hands it up to 50
//! events at a time, and the memberships among them are written together
//! ([`app::sync::apply_all`]). An event that cannot be applied is set aside for an
//! operator and counts as done, so it blocks nothing; one that fails to apply (DynamoDB
//! unavailable) is reported as this batch's failure, so SQS delivers it again, and
//! after the queue's last receive keeps it in the dead-letter queue. The others of the
//! batch are done. So is a deleted chat's expiry of its pending requests, which may be
//! any number: it stops short of the invocation's end, and that event is delivered
//! again to close the rest.

use std::time::{Duration, Instant, SystemTime};

use app::metrics;
use app::sync::SyncReport;
use aws::bus::Publisher;
use aws::store::Store;
use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use domain::sync::AppChange;
use edge::config::Function;
use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;
use tracing::Instrument;

#[derive(Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Outcome {
    Applied(SyncReport),
    /// Applied, but the deadline came before all it closes was closed: the queue
    /// delivers it again, which closes the rest.
    Unfinished(SyncReport),
    /// Kept for an operator with the reason (`dev sync aside`).
    SetAside(String),
    /// Not applied (and not set aside): the queue delivers it again.
    Failed(String),
}

/// What one batch did: each message's outcome, by its id, in the batch's order.
#[derive(Debug)]
pub struct Handled {
    pub outcomes: Vec<(String, Outcome)>,
}

impl Handled {
    /// The answer to the queue: the messages to deliver again.
    pub fn response(&self) -> SqsBatchResponse {
        let mut response = SqsBatchResponse::default();
        for (message, outcome) in &self.outcomes {
            if matches!(outcome, Outcome::Failed(_) | Outcome::Unfinished(_)) {
                response.add_failure(message.clone());
            }
        }
        response
    }
}

/// One message of the batch, read: the app's change, or why it cannot be applied.
struct Read {
    message: String,
    detail_type: String,
    event_id: Option<String>,
    change: Result<AppChange, (String, String)>,
}

fn read(message: String, body: &str) -> Read {
    match serde_json::from_str::<EventBridgeEvent<Value>>(body) {
        Ok(event) => {
            let change = AppChange::parse(&event.detail_type, &event.detail)
                .map_err(|unusable| (unusable.to_string(), event.detail.to_string()));
            Read { message, detail_type: event.detail_type, event_id: event.id, change }
        }
        Err(error) => Read {
            message,
            detail_type: String::new(),
            event_id: None,
            change: Err((format!("the message is not an EventBridge event: {error}"), body.to_owned())),
        },
    }
}

/// Time kept at the end of an invocation, after the last close starts: for the closes in
/// flight (each call bounded at 2.5 s) and the answer to the queue.
const TIME_KEPT: Duration = Duration::from_secs(3);

/// When a batch stops starting closes, for an invocation that has `remaining`.
pub fn deadline(remaining: Duration) -> Instant {
    Instant::now() + remaining.saturating_sub(TIME_KEPT)
}

pub async fn handle(
    store: &Store,
    publisher: &Publisher,
    request_id: &str,
    batch: SqsEvent,
    deadline: Instant,
) -> Handled {
    let span = tracing::info_span!("invocation", request_id, messages = batch.records.len());
    async {
        let reads: Vec<Read> = batch
            .records
            .into_iter()
            .map(|record| read(record.message_id.unwrap_or_default(), record.body.as_deref().unwrap_or_default()))
            .collect();
        let changes: Vec<AppChange> = reads.iter().filter_map(|read| read.change.as_ref().ok().cloned()).collect();
        // Boxed: a batch's work is deeper than rustc lays out inline.
        let mut applied = Box::pin(app::sync::apply_all(store, publisher, &changes, deadline)).await.into_iter();
        let mut outcomes = Vec::with_capacity(reads.len());
        for read in reads {
            let (detail_type, event_id) = (&read.detail_type, read.event_id.as_deref());
            let outcome = match read.change {
                Ok(change) => match applied.next() {
                    Some(Ok(report)) if !report.finished => {
                        tracing::warn!(detail_type, event_id, closed = report.closed, "out of time before all it closes; the queue delivers it again");
                        Outcome::Unfinished(report)
                    }
                    Some(Ok(report)) => {
                        tracing::info!(detail_type, event_id, changed = report.changed, closed = report.closed, at = change.at(), "applied");
                        let metric = if report.changed { metrics::APP_EVENTS_APPLIED } else { metrics::APP_EVENTS_UNCHANGED };
                        metrics::count(metric, 1);
                        Outcome::Applied(report)
                    }
                    Some(Err(error)) => {
                        tracing::error!(detail_type, event_id, %error, "the app's event was not applied; the queue delivers it again");
                        Outcome::Failed(error.to_string())
                    }
                    None => Outcome::Failed("no outcome".into()),
                },
                Err((reason, detail)) => {
                    tracing::warn!(detail_type, event_id, %reason, "the app's event cannot be applied; set aside");
                    match store.set_aside_app_event(detail_type, &detail, &reason).await {
                        Ok(()) => {
                            metrics::count(metrics::APP_EVENTS_SET_ASIDE, 1);
                            Outcome::SetAside(reason)
                        }
                        Err(error) => {
                            tracing::error!(detail_type, %error, "the event cannot be set aside; the queue delivers it again");
                            Outcome::Failed(error.to_string())
                        }
                    }
                }
            };
            outcomes.push((read.message, outcome));
        }
        Handled { outcomes }
    }
    .instrument(span)
    .await
}

/// The function as Lambda runs it, from init on.
pub async fn run() -> Result<(), lambda_runtime::Error> {
    let (config, sdk) = edge::run::init(Function::SyncApp)?;
    let store = edge::run::store(&config, &sdk).await?;
    let publisher = edge::run::publisher(&config, &sdk)?;
    let (store, publisher) = (&store, &publisher);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        let remaining = event.context.deadline().duration_since(SystemTime::now()).unwrap_or_default();
        let handled = handle(store, publisher, &event.context.request_id, event.payload, deadline(remaining)).await;
        Ok::<_, lambda_runtime::Error>(handled.response())
    }))
    .await
}
