//! Real HTTP servers standing in for EventBridge and the API Gateway Management API,
//! recording what reaches them and failing on request, and the SDK clients pointed at
//! them by endpoint override.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use crate::local::{ConnectionSink, Delivery, EventSink, Fault, Faults, PutEventsEntry};
use aws_lambda_events::eventbridge::EventBridgeEvent;
use domain::Delivery as BusDelivery;
use hyper::body::Bytes;
use serde_json::Value;

use super::{Publisher, Pusher};

pub const BUS: &str = "join-requests-test";

#[derive(Default)]
pub struct Recorder {
    pub entries: Mutex<Vec<PutEventsEntry>>,
    /// Each `PutEvents` call that reached the stand-in: (entries, bytes as counted).
    pub calls: Mutex<Vec<(usize, usize)>>,
    pub fail_publish: std::sync::atomic::AtomicBool,
    /// Entries still to refuse one by one, as EventBridge refuses single entries of a
    /// call that otherwise succeeds.
    pub refuse_entries: std::sync::atomic::AtomicUsize,
    /// Open connections and the messages each received.
    pub inboxes: Mutex<HashMap<String, Vec<Value>>>,
    /// Connections that answer 500 (not gone, just failing).
    pub broken: Mutex<HashSet<String>>,
    /// Connections that answer 403 (refused for themselves).
    pub forbidden: Mutex<HashSet<String>>,
    /// How the EventBridge stand-in misbehaves now.
    pub events_fault: Faults,
    /// How the Management API stand-in misbehaves now.
    pub management_fault: Faults,
}

impl EventSink for Recorder {
    fn fault(&self) -> Fault {
        self.events_fault.get()
    }

    fn call(&self, entries: &[PutEventsEntry]) {
        let bytes = entries.iter().map(PutEventsEntry::size).sum();
        self.calls.lock().unwrap().push((entries.len(), bytes));
    }

    fn put(&self, entry: PutEventsEntry) -> Result<(), String> {
        if self.fail_publish.load(std::sync::atomic::Ordering::SeqCst) {
            return Err("injected failure".into());
        }
        let refuse = self.refuse_entries.fetch_update(
            std::sync::atomic::Ordering::SeqCst,
            std::sync::atomic::Ordering::SeqCst,
            |left| left.checked_sub(1),
        );
        if refuse.is_ok() {
            return Err("injected refusal of one entry".into());
        }
        self.entries.lock().unwrap().push(entry);
        Ok(())
    }
}

impl ConnectionSink for Recorder {
    fn fault(&self) -> Fault {
        self.management_fault.get()
    }

    fn post(&self, connection_id: &str, data: Bytes) -> Delivery {
        if self.broken.lock().unwrap().contains(connection_id) {
            return Delivery::Failed;
        }
        if self.forbidden.lock().unwrap().contains(connection_id) {
            return Delivery::Forbidden;
        }
        match self.inboxes.lock().unwrap().get_mut(connection_id) {
            Some(inbox) => {
                inbox.push(serde_json::from_slice(&data).expect("messages are JSON"));
                Delivery::Delivered
            }
            None => Delivery::Gone,
        }
    }

    fn delete(&self, connection_id: &str) -> bool {
        self.inboxes.lock().unwrap().remove(connection_id).is_some()
    }

    fn exists(&self, connection_id: &str) -> bool {
        self.inboxes.lock().unwrap().contains_key(connection_id)
    }
}

pub struct FakeAws {
    pub recorder: Arc<Recorder>,
    pub publisher: Publisher,
    pub pusher: Pusher,
    /// The SDK clients the publisher and the pusher use, for calling the stand-ins directly.
    pub events: aws_sdk_eventbridge::Client,
    pub management: aws_sdk_apigatewaymanagement::Client,
}

fn listener() -> (tokio::net::TcpListener, u16) {
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    std_listener.set_nonblocking(true).expect("non-blocking");
    let port = std_listener.local_addr().expect("an address").port();
    (tokio::net::TcpListener::from_std(std_listener).expect("a tokio listener"), port)
}

fn credentials() -> aws_sdk_eventbridge::config::Credentials {
    aws_sdk_eventbridge::config::Credentials::new("local", "local", None, None, "tests")
}

/// The production [`Publisher`] and [`Pusher`], their SDK clients pointed at local
/// EventBridge and Management API endpoints.
pub fn clients(events_port: u16, management_port: u16) -> (Publisher, Pusher) {
    let (events, management) = sdk_clients(events_port, management_port);
    (Publisher::new(events, BUS), Pusher::new(management))
}

pub fn sdk_clients(
    events_port: u16,
    management_port: u16,
) -> (aws_sdk_eventbridge::Client, aws_sdk_apigatewaymanagement::Client) {
    let bounds = edge::config::default_call_bounds();
    let events = aws_sdk_eventbridge::config::Builder::new()
        .http_client(aws::sdk::http_client())
        .timeout_config(bounds.timeout_config())
        .retry_config(bounds.retry_config())
        .behavior_version(aws_sdk_eventbridge::config::BehaviorVersion::latest())
        .region(aws_sdk_eventbridge::config::Region::new("us-east-1"))
        .credentials_provider(credentials())
        .endpoint_url(format!("http://127.0.0.1:{events_port}"))
        .build();
    let management = aws_sdk_apigatewaymanagement::config::Builder::new()
        .http_client(aws::sdk::http_client())
        .timeout_config(bounds.timeout_config())
        .retry_config(bounds.retry_config())
        .behavior_version(aws_sdk_apigatewaymanagement::config::BehaviorVersion::latest())
        .region(aws_sdk_apigatewaymanagement::config::Region::new("us-east-1"))
        .credentials_provider(credentials())
        .endpoint_url(format!("http://127.0.0.1:{management_port}/Prod"))
        .build();
    (aws_sdk_eventbridge::Client::from_conf(events), aws_sdk_apigatewaymanagement::Client::from_conf(management))
}

impl FakeAws {
    pub fn start() -> Self {
        let recorder = Arc::new(Recorder::default());
        let (events_listener, events_port) = listener();
        let (management_listener, management_port) = listener();
        tokio::spawn(crate::local::serve_eventbridge(events_listener, recorder.clone()));
        tokio::spawn(crate::local::serve_management(management_listener, recorder.clone()));

        let (events, management) = sdk_clients(events_port, management_port);
        let publisher = Publisher::new(events.clone(), BUS);
        let pusher = Pusher::new(management.clone());
        Self { recorder, publisher, pusher, events, management }
    }

    /// Forgets every entry and call recorded so far.
    pub fn forget_published(&self) {
        self.recorder.entries.lock().unwrap().clear();
        self.recorder.calls.lock().unwrap().clear();
    }

    pub fn fail_publishing(&self, fail: bool) {
        self.recorder.fail_publish.store(fail, std::sync::atomic::Ordering::SeqCst);
    }

    /// The WebSocket events published so far for the notifier, parsed.
    pub fn published(&self) -> Vec<Value> {
        self.recorder
            .entries
            .lock()
            .unwrap()
            .iter()
            .filter(|entry| !is_change(entry))
            .flat_map(|entry| {
                let delivery: BusDelivery = serde_json::from_str(entry.detail.as_deref().unwrap_or("null")).unwrap();
                delivery.events().map(|event| serde_json::to_value(event).unwrap()).collect::<Vec<_>>()
            })
            .collect()
    }

    /// The requests' changes published so far for the app's other services: each
    /// entry's detail-type and detail, the detail checked against asyncapi.yaml.
    pub fn changes(&self) -> Vec<(String, Value)> {
        let entries = self.recorder.entries.lock().unwrap();
        entries
            .iter()
            .filter(|entry| is_change(entry))
            .map(|entry| {
                let detail_type = entry.detail_type.clone().unwrap_or_default();
                let detail: Value = serde_json::from_str(entry.detail.as_deref().unwrap_or("null")).unwrap();
                super::contract::check_change(&detail_type, &detail);
                (detail_type, detail)
            })
            .collect()
    }

    /// Takes the entries recorded for the notifier and wraps each as EventBridge
    /// delivers it to a target.
    pub fn take_deliveries(&self) -> Vec<EventBridgeEvent<BusDelivery>> {
        let entries = std::mem::take(&mut *self.recorder.entries.lock().unwrap());
        entries.iter().filter(|entry| !is_change(entry)).map(as_delivered).collect()
    }

    pub fn open(&self, connection_id: &str) {
        self.recorder.inboxes.lock().unwrap().insert(connection_id.to_owned(), Vec::new());
    }

    /// The connection vanished: API Gateway now answers 410 for it.
    pub fn vanish(&self, connection_id: &str) {
        self.recorder.inboxes.lock().unwrap().remove(connection_id);
    }

    /// The messages `connection_id` received, each checked against asyncapi.yaml.
    pub fn inbox(&self, connection_id: &str) -> Vec<Value> {
        let inbox = self.recorder.inboxes.lock().unwrap().get(connection_id).cloned().unwrap_or_default();
        inbox.iter().for_each(super::contract::check_message);
        inbox
    }
}

/// Whether `entry` is a request's change for the app's other services (else it is a
/// delivery for the notifier).
fn is_change(entry: &PutEventsEntry) -> bool {
    entry.detail_type.as_deref().is_some_and(|t| domain::event::REQUEST_CHANGES.contains(&t))
}

/// The envelope EventBridge puts around an entry when it invokes a rule's target.
pub fn as_delivered(entry: &PutEventsEntry) -> EventBridgeEvent<BusDelivery> {
    let detail = serde_json::from_str::<Value>(entry.detail.as_deref().unwrap_or("null")).unwrap();
    let envelope = crate::local::events::eventbridge_delivery(
        "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "2025-09-22T07:31:53Z",
        entry.source.as_deref().unwrap_or_default(),
        entry.detail_type.as_deref().unwrap_or_default(),
        detail,
    );
    serde_json::from_value(envelope).expect("an EventBridge event")
}
