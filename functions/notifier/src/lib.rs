//! The EventBridge rule's target: pushes one event to every open connection of its
//! recipient. Fails the invocation when a connection could not be reached, so the event
//! is retried and, when retries run out, kept in the dead-letter queue.

use app::metrics::{self, Unit};
use aws::push::{PushError, PushReport, Pusher};
use aws::store::Store;
use aws_lambda_events::eventbridge::EventBridgeEvent;
use domain::Delivery;
use edge::config::Function;
use lambda_runtime::{service_fn, LambdaEvent};
use tracing::Instrument;

pub async fn handle(
    store: &Store,
    pusher: &Pusher,
    request_id: &str,
    event: EventBridgeEvent<Delivery>,
) -> Result<PushReport, PushError> {
    let delivery = event.detail;
    let first = &delivery.first;
    let span = tracing::info_span!(
        "invocation",
        request_id,
        user_id = %first.to,
        event = %first.event,
        event_id = %first.id,
        events = delivery.followed_by.len() + 1,
    );
    async {
        let result = pusher.push(store, &delivery).await;
        match &result {
            Ok(report) => {
                tracing::info!(
                    delivered = report.delivered,
                    gone = report.gone,
                    kept = report.kept,
                    refused = report.refused,
                    "pushed"
                );
                metrics::emit(&[
                    (metrics::POSTS_DELIVERED, report.delivered as f64, Unit::Count),
                    (metrics::POSTS_GONE, report.gone as f64, Unit::Count),
                    (metrics::POSTS_FAILED, report.refused as f64, Unit::Count),
                ]);
            }
            Err(error) => {
                tracing::error!(%error, "push incomplete");
                if let PushError::Undelivered { failed, .. } = error {
                    metrics::count(metrics::POSTS_FAILED, *failed);
                }
            }
        }
        result
    }
    .instrument(span)
    .await
}

/// The function as Lambda runs it, from init on: its `main`, and the bench's one
/// binary for every function (`bench/all`), call this.
pub async fn run() -> Result<(), lambda_runtime::Error> {
    let (config, sdk) = edge::run::init(Function::Notifier)?;
    let store = edge::run::store(&config, &sdk).await?;
    let pusher = edge::run::pusher(&config, &sdk)?;
    let (store, pusher) = (&store, &pusher);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<EventBridgeEvent<Delivery>>| async move {
        handle(store, pusher, &event.context.request_id, event.payload).await.map_err(lambda_runtime::Error::from)
    }))
    .await
}
