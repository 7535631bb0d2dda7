//! Operational metrics in CloudWatch's Embedded Metric Format: one JSON line on standard
//! output per report, which Lambda's log pipeline turns into metrics in the namespace
//! `JoinRequests` (dimension `Service`). No SDK call, no extra latency. Off Lambda
//! (tests, the local stack) the same figures go to the debug log instead, so a terminal
//! is not flooded with JSON: [`print_to_stdout`], called by the edge at init, says which.

use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{json, Map, Value};

static TO_STDOUT: AtomicBool = AtomicBool::new(false);

/// Whether reports go to standard output as EMF lines (in Lambda) or to the debug log.
pub fn print_to_stdout(in_lambda: bool) {
    TO_STDOUT.store(in_lambda, Ordering::Relaxed);
}

pub const NAMESPACE: &str = "JoinRequests";
pub const SERVICE: &str = "join-requests";

pub const REQUESTS_CREATED: &str = "RequestsCreated";
pub const REQUESTS_DECIDED: &str = "RequestsDecided";
pub const REQUESTS_WITHDRAWN: &str = "RequestsWithdrawn";
pub const REQUESTS_EXPIRED: &str = "RequestsExpired";
pub const REQUESTS_RATE_LIMITED: &str = "RequestsRateLimited";
pub const USERS_BLOCKED: &str = "UsersBlocked";
pub const OUTBOX_DELIVERY_FAILED: &str = "OutboxDeliveryFailed";
pub const OUTBOX_SWEPT: &str = "OutboxSwept";
pub const OUTBOX_SWEEP_FAILED: &str = "OutboxSweepFailed";
pub const OUTBOX_SET_ASIDE: &str = "OutboxSetAside";
pub const APP_EVENTS_APPLIED: &str = "AppEventsApplied";
pub const APP_EVENTS_UNCHANGED: &str = "AppEventsUnchanged";
pub const APP_EVENTS_SET_ASIDE: &str = "AppEventsSetAside";
pub const OUTBOX_SET_ASIDE_ITEMS: &str = "OutboxSetAsideItems";
pub const OLDEST_OUTBOX_AGE: &str = "OldestOutboxAgeSeconds";
pub const POSTS_DELIVERED: &str = "PostsDelivered";
pub const POSTS_GONE: &str = "PostsGone";
pub const POSTS_FAILED: &str = "PostsFailed";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Seconds,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Self::Count => "Count",
            Self::Seconds => "Seconds",
        }
    }
}

/// The EMF document for `values`, stamped `timestamp_ms`.
pub fn document(values: &[(&str, f64, Unit)], timestamp_ms: i64) -> Value {
    let definitions: Vec<Value> =
        values.iter().map(|(name, _, unit)| json!({ "Name": name, "Unit": unit.as_str() })).collect();
    let mut document = Map::new();
    document.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{ "Namespace": NAMESPACE, "Dimensions": [["Service"]], "Metrics": definitions }],
        }),
    );
    document.insert("Service".into(), json!(SERVICE));
    for (name, value, _) in values {
        document.insert((*name).to_owned(), json!(value));
    }
    Value::Object(document)
}

/// Reports `values` once.
pub fn emit(values: &[(&str, f64, Unit)]) {
    if values.is_empty() {
        return;
    }
    let document = document(values, chrono::Utc::now().timestamp_millis());
    if TO_STDOUT.load(Ordering::Relaxed) {
        println!("{document}");
    } else {
        tracing::debug!(metrics = %document, "metrics");
    }
}

/// Reports one count.
pub fn count(name: &str, value: usize) {
    emit(&[(name, value as f64, Unit::Count)]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_declares_each_metric_and_carries_its_value() {
        let document = document(&[(POSTS_DELIVERED, 3.0, Unit::Count), (OLDEST_OUTBOX_AGE, 12.0, Unit::Seconds)], 5);
        let declared = &document["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(declared["Namespace"], NAMESPACE);
        assert_eq!(declared["Dimensions"], json!([["Service"]]));
        assert_eq!(declared["Metrics"][1], json!({"Name": OLDEST_OUTBOX_AGE, "Unit": "Seconds"}));
        assert_eq!((document[POSTS_DELIVERED].as_f64(), document["Service"].as_str()), (Some(3.0), Some(SERVICE)));
        assert_eq!(document["_aws"]["Timestamp"], 5);
    }
}
