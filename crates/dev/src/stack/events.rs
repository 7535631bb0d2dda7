//! Local EventBridge: `PutEvents` in, and each entry routed as the rules of
//! `template.yaml` route it (asynchronously, as EventBridge invokes its targets): the
//! WebSocket events to the notifier, the app's events through a queue to the sync
//! function (in batches, as the queue's event source mapping hands them), and the
//! requests' changes to `APP_WEBHOOK_URL` as its API destination would.

use std::sync::Arc;

use crate::local::{EventSink, PutEventsEntry};
use aws::bus::EVENT_SOURCE;
use aws_lambda_events::eventbridge::EventBridgeEvent;
use domain::event::{ALL_EVENTS, REQUEST_CHANGES};
use domain::sync::APP_CHANGES;
use domain::Delivery;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use super::Services;

/// The rule's pattern: the same source and detail-types as `template.yaml`
/// (tests/tests/stack.rs checks the two agree).
pub const RULE_DETAIL_TYPES: [&str; 6] = ALL_EVENTS;

struct Rule {
    services: Arc<Services>,
    runtime: tokio::runtime::Handle,
    /// The queue between the app's rule and `sync-app`, as in `template.yaml`.
    app_events: mpsc::UnboundedSender<Message>,
}

/// A message of the local queue of the app's events: an EventBridge event as JSON text,
/// and how many times it has been handed to `sync-app`.
struct Message {
    id: String,
    body: String,
    receives: u32,
}

/// The queue's `maxReceiveCount` in `template.yaml`: a message failed that many times
/// goes to the dead-letter queue (here: a warning in the stack's log).
pub const MAX_RECEIVES: u32 = 5;
/// `BatchSize` of the queue's event source mapping: the most whose memberships fit one
/// transaction.
pub const BATCH_SIZE: usize = aws::store::MEMBERSHIPS_PER_TRANSACTION;
/// The functions' `Timeout` in `template.yaml` (its `Globals`): each local batch has
/// as long as an invocation.
pub const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// sync-app's handler on one batch with an invocation's time from now, as the local
/// queue, the bench and the tests run it.
pub async fn sync_in_time(
    store: &aws::store::Store,
    publisher: &aws::bus::Publisher,
    request_id: &str,
    batch: aws_lambda_events::sqs::SqsEvent,
) -> sync_app::Handled {
    sync_app::handle(store, publisher, request_id, batch, sync_app::deadline(TIMEOUT)).await
}

impl EventSink for Rule {
    fn put(&self, entry: PutEventsEntry) -> Result<(), String> {
        let detail_type = entry.detail_type.clone().unwrap_or_default();
        let source = entry.source.clone().unwrap_or_default();
        // EventBridge refuses an entry whose detail is not a JSON object.
        let detail: serde_json::Value = serde_json::from_str(entry.detail.as_deref().unwrap_or_default())
            .ok()
            .filter(serde_json::Value::is_object)
            .ok_or_else(|| "MalformedDetail: the detail is not a JSON object".to_owned())?;
        let envelope = crate::local::events::eventbridge_delivery(
            &uuid_like(),
            &domain::time::now_timestamp(),
            &source,
            &detail_type,
            detail,
        );
        let services = self.services.clone();
        if source == EVENT_SOURCE && RULE_DETAIL_TYPES.contains(&detail_type.as_str()) {
            let event: EventBridgeEvent<Delivery> =
                serde_json::from_value(envelope).map_err(|e| format!("MalformedDetail: {e}"))?;
            self.runtime.spawn(notify(services, event));
        } else if source == EVENT_SOURCE && REQUEST_CHANGES.contains(&detail_type.as_str()) {
            if let Some(webhook) = services.webhook.clone() {
                self.runtime.spawn(post_to_webhook(webhook, envelope));
            }
        } else if source == services.app_event_source && APP_CHANGES.contains(&detail_type.as_str()) {
            let message = Message { id: uuid_like(), body: envelope.to_string(), receives: 0 };
            self.app_events.send(message).map_err(|_| "InternalException: the local queue is closed".to_owned())?;
        } else {
            tracing::info!(target: "stack", source, detail_type, "event matches no rule; dropped");
        }
        Ok(())
    }
}

/// An event id of EventBridge's shape (a UUID), unique enough for a local bus.
fn uuid_like() -> String {
    let hex = format!("{}{}", domain::ObjectId::generate(), domain::ObjectId::generate());
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

async fn notify(services: Arc<Services>, event: EventBridgeEvent<Delivery>) {
    let started = std::time::Instant::now();
    let (name, to) = (event.detail.first.event.clone(), event.detail.first.to);
    match notifier::handle(&services.app.store, &services.pusher, "local-notifier", event).await {
        Ok(report) => tracing::info!(
            target: "stack",
            "EVENT {name} to {to}: {} delivered, {} gone ({} ms)",
            report.delivered, report.gone, started.elapsed().as_millis()
        ),
        Err(error) => tracing::warn!(target: "stack", "EVENT {name} to {to}: {error}"),
    }
}

/// Hands the queue's messages to `sync-app` as Lambda's SQS poller does: whatever is
/// waiting, up to [`BATCH_SIZE`], each batch in its own invocation; a message the batch
/// reports failed comes back after a pause, until [`MAX_RECEIVES`].
async fn consume(
    services: Arc<Services>,
    mut queue: mpsc::UnboundedReceiver<Message>,
    again: mpsc::UnboundedSender<Message>,
) {
    while let Some(first) = queue.recv().await {
        let mut batch = vec![first];
        while batch.len() < BATCH_SIZE {
            match queue.try_recv() {
                Ok(message) => batch.push(message),
                Err(_) => break,
            }
        }
        tokio::spawn(sync(services.clone(), batch, again.clone()));
    }
}

async fn sync(services: Arc<Services>, batch: Vec<Message>, again: mpsc::UnboundedSender<Message>) {
    let event = crate::local::events::sqs_batch(batch.iter().map(|m| (m.id.clone(), m.body.clone())));
    let handled = sync_in_time(&services.app.store, &services.publisher, "local-sync", event).await;
    let failed: Vec<String> = handled.response().batch_item_failures.into_iter().map(|f| f.item_identifier).collect();
    for (id, outcome) in &handled.outcomes {
        tracing::info!(target: "stack", "APP {id}: {outcome:?}");
    }
    for mut message in batch.into_iter().filter(|m| failed.contains(&m.id)) {
        message.receives += 1;
        if message.receives >= MAX_RECEIVES {
            tracing::warn!(target: "stack", "APP {}: failed {MAX_RECEIVES} times; dead-lettered: {}", message.id, message.body);
            continue;
        }
        let again = again.clone();
        tokio::spawn(async move {
            tokio::time::sleep(app::backoff(message.receives + 2)).await;
            // The stack is stopping when the queue is gone.
            let _ = again.send(message);
        });
    }
}

/// Posts to the webhook as an API destination does, trying [`WEBHOOK_ATTEMPTS`] times
/// in all while it fails (a connection error or a 5xx or 429 answer).
pub const WEBHOOK_ATTEMPTS: u32 = 3;

async fn post_to_webhook(url: hyper::Uri, event: serde_json::Value) {
    let detail_type = event["detail-type"].as_str().unwrap_or_default().to_owned();
    for attempt in 0..WEBHOOK_ATTEMPTS {
        match post_once(&url, &event).await {
            Ok(status) if status < 300 => {
                tracing::info!(target: "stack", "WEBHOOK {detail_type}: {status}");
                return;
            }
            Ok(status) if status != 429 && status < 500 => {
                tracing::warn!(target: "stack", "WEBHOOK {detail_type}: {status}, not retried");
                return;
            }
            outcome => tracing::info!(target: "stack", attempt, "WEBHOOK {detail_type}: {outcome:?}; trying again"),
        }
        tokio::time::sleep(app::backoff(attempt + 2)).await;
    }
    tracing::warn!(target: "stack", "WEBHOOK {detail_type}: given up after {WEBHOOK_ATTEMPTS} attempts");
}

async fn post_once(url: &hyper::Uri, event: &serde_json::Value) -> Result<u16, String> {
    use http_body_util::Full;
    let host = url.host().ok_or("the webhook URL has no host")?;
    let port = url.port_u16().unwrap_or(80);
    let stream = tokio::net::TcpStream::connect((host, port)).await.map_err(|e| e.to_string())?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await.map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    let path = url.path_and_query().map_or("/", |p| p.as_str());
    let request = hyper::Request::post(path)
        .header(hyper::header::HOST, format!("{host}:{port}"))
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .body(Full::new(hyper::body::Bytes::from(event.to_string())))
        .map_err(|e| e.to_string())?;
    let answer = tokio::time::timeout(std::time::Duration::from_secs(5), sender.send_request(request))
        .await
        .map_err(|_| "no answer within 5 s".to_owned())?
        .map_err(|e| e.to_string())?;
    Ok(answer.status().as_u16())
}

pub async fn serve(listener: TcpListener, services: Arc<Services>) {
    let (app_events, queue) = mpsc::unbounded_channel();
    tokio::spawn(consume(services.clone(), queue, app_events.clone()));
    let rule = Rule { services, runtime: tokio::runtime::Handle::current(), app_events };
    crate::local::serve_eventbridge(listener, Arc::new(rule)).await;
}
