//! The target of the bus's rule for the app's events (source `APP_EVENT_SOURCE`): keeps
//! this service's copy of the app's users, chats and members, and closes the requests
//! a change makes moot. An event that cannot be applied is set aside for an operator
//! and the invocation succeeds, so it blocks nothing; a failure to apply (DynamoDB
//! unavailable) fails the invocation, so EventBridge and Lambda retry it and, when
//! retries run out, keep it in the dead-letter queue.

use app::metrics;
use app::sync::SyncReport;
use app::AppError;
use aws::bus::Publisher;
use aws::store::Store;
use aws_lambda_events::eventbridge::EventBridgeEvent;
use domain::sync::AppChange;
use edge::config::Function;
use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;
use tracing::Instrument;

#[derive(Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Outcome {
    Applied(SyncReport),
    /// Kept for an operator with the reason (`dev sync aside`).
    SetAside(String),
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Apply(#[from] AppError),
    #[error("the event cannot be set aside: {0}")]
    SetAside(#[from] app::ports::StoreError),
}

pub async fn handle(
    store: &Store,
    publisher: &Publisher,
    request_id: &str,
    event: EventBridgeEvent<Value>,
) -> Result<Outcome, SyncError> {
    let detail_type = event.detail_type;
    let span = tracing::info_span!("invocation", request_id, detail_type = %detail_type, event_id = ?event.id);
    async {
        let change = match AppChange::parse(&detail_type, &event.detail) {
            Ok(change) => change,
            Err(unusable) => {
                let reason = unusable.to_string();
                tracing::warn!(%reason, "the app's event cannot be applied; set aside");
                store.set_aside_app_event(&detail_type, &event.detail.to_string(), &reason).await?;
                metrics::count(metrics::APP_EVENTS_SET_ASIDE, 1);
                return Ok(Outcome::SetAside(reason));
            }
        };
        let report = app::sync::apply(store, publisher, &change).await.inspect_err(|error| {
            tracing::error!(%error, "the app's event was not applied; EventBridge retries it");
        })?;
        tracing::info!(changed = report.changed, closed = report.closed, at = change.at(), "applied");
        let metric = if report.changed { metrics::APP_EVENTS_APPLIED } else { metrics::APP_EVENTS_UNCHANGED };
        metrics::count(metric, 1);
        Ok(Outcome::Applied(report))
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
    lambda_runtime::run(service_fn(move |event: LambdaEvent<EventBridgeEvent<Value>>| async move {
        handle(store, publisher, &event.context.request_id, event.payload).await.map_err(lambda_runtime::Error::from)
    }))
    .await
}
