//! Local EventBridge: `PutEvents` in, the notifier invoked for every entry that matches
//! the rule of `template.yaml` (asynchronously, as EventBridge invokes its targets).

use std::sync::Arc;

use crate::local::{EventSink, PutEventsEntry};
use aws::bus::EVENT_SOURCE;
use aws_lambda_events::eventbridge::EventBridgeEvent;
use domain::event::ALL_EVENTS;
use domain::Delivery;
use tokio::net::TcpListener;

use super::Services;

/// The rule's pattern: the same source and detail-types as `template.yaml`
/// (tests/tests/stack.rs checks the two agree).
pub const RULE_DETAIL_TYPES: [&str; 6] = ALL_EVENTS;

struct Rule {
    services: Arc<Services>,
    runtime: tokio::runtime::Handle,
}

impl EventSink for Rule {
    fn put(&self, entry: PutEventsEntry) -> Result<(), String> {
        let detail_type = entry.detail_type.clone().unwrap_or_default();
        if entry.source.as_deref() != Some(EVENT_SOURCE) || !RULE_DETAIL_TYPES.contains(&detail_type.as_str()) {
            tracing::info!(target: "stack", source = ?entry.source, detail_type, "event matches no rule; dropped");
            return Ok(());
        }
        let detail: serde_json::Value =
            serde_json::from_str(entry.detail.as_deref().unwrap_or_default()).map_err(|e| e.to_string())?;
        let envelope = crate::local::events::eventbridge_delivery(
            &domain::ObjectId::generate().to_string(),
            &domain::time::now_timestamp(),
            EVENT_SOURCE,
            &detail_type,
            detail,
        );
        let event: EventBridgeEvent<Delivery> = serde_json::from_value(envelope).map_err(|e| e.to_string())?;
        let services = self.services.clone();
        self.runtime.spawn(async move {
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
        });
        Ok(())
    }
}

pub async fn serve(listener: TcpListener, services: Arc<Services>) {
    let rule = Rule { services, runtime: tokio::runtime::Handle::current() };
    crate::local::serve_eventbridge(listener, Arc::new(rule)).await;
}
