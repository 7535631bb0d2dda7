//! The local stack end to end, through real sockets: HTTP for REST, real WebSocket
//! clients, and the SDK clients reaching the stack's EventBridge and Management API.

use std::time::Duration;

use aws::store::Connection;
use dev::kit::{clients, contract, repo_root, token, TestEnv};
use dev::stack::{serve, Listeners, Services, RULE_DETAIL_TYPES};
use domain::time::{epoch_seconds_in, timestamp_seconds_ago};
use domain::ObjectId;
use futures::StreamExt;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;

const AMY: &str = "65a000000000000000000001";
const BEN: &str = "65a000000000000000000002";
const LEA: &str = "65a000000000000000000006";
const SAM: &str = "65a000000000000000000007";
const DEMO_REQUEST: &str = "65d000000000000000000001";
const CHAT1: &str = "65b000000000000000000001";

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

struct Stack {
    env: TestEnv,
    rest: u16,
    websocket: u16,
    events: u16,
}

async fn listener() -> (TcpListener, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    (listener, port)
}

async fn start() -> Stack {
    start_with(None).await
}

/// A stack whose bus posts the requests' changes to `webhook`.
async fn start_with(webhook: Option<hyper::Uri>) -> Stack {
    let env = TestEnv::with_demo().await;
    let ((rest, rest_port), (websocket, websocket_port), (events, events_port)) =
        (listener().await, listener().await, listener().await);
    let (publisher, pusher) = clients(events_port, websocket_port);
    let app = edge::App {
        store: env.store().clone(),
        auth: edge::auth::JwtVerifier::new(&edge::auth::JwtSettings {
            secret: Some(dev::kit::SECRET.into()),
            ..Default::default()
        })
        .unwrap(),
        rules: dev::kit::rules(),
        cors: env.app.cors.clone(),
    };
    let services = Services {
        app,
        publisher,
        pusher,
        sweep_every: Duration::from_millis(200),
        sweep_min_age_seconds: 30,
        expire_every: Duration::from_millis(200),
        request_expiry: None,
        app_event_source: domain::sync::DEFAULT_APP_EVENT_SOURCE.into(),
        webhook,
        console: serde_json::json!({}),
    };
    tokio::spawn(serve(Listeners { rest, websocket, events }, services));
    Stack { env, rest: rest_port, websocket: websocket_port, events: events_port }
}

/// A raw answer: status, headers, body.
type Raw = (u16, hyper::HeaderMap, Bytes);

impl Stack {
    async fn raw(&self, method: &str, path: &str, user: Option<&str>, body: Option<Value>) -> Raw {
        self.send(method, path, user, Bytes::from(body.map(|b| b.to_string()).unwrap_or_default())).await
    }

    async fn send(&self, method: &str, path: &str, user: Option<&str>, body: Bytes) -> Raw {
        let stream = TcpStream::connect(("127.0.0.1", self.rest)).await.unwrap();
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
        tokio::spawn(connection);
        let mut request = hyper::Request::builder().method(method).uri(path).header("host", "127.0.0.1");
        if let Some(user) = user {
            request = request.header("authorization", format!("Bearer {}", token(user)));
        }
        let request = request.body(Full::new(body)).unwrap();
        let response = sender.send_request(request).await.unwrap();
        let (parts, body) = response.into_parts();
        (parts.status.as_u16(), parts.headers, body.collect().await.unwrap().to_bytes())
    }

    async fn http(&self, method: &str, path: &str, user: &str, body: Option<Value>) -> (u16, Value) {
        let (status, _, bytes) = self.raw(method, path, Some(user), body).await;
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        contract::check_response(method, path, status, &body);
        (status, body)
    }

    async fn connect(&self, user: &str) -> Socket {
        let url = format!("ws://127.0.0.1:{}/?token={}", self.websocket, token(user));
        tokio_tungstenite::connect_async(url.as_str()).await.unwrap().0
    }
}

async fn next_event(socket: &mut Socket) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("an event within 10 s")
            .expect("the socket stays open")
            .unwrap();
        if let Message::Text(text) = message {
            let message = serde_json::from_str(&text).unwrap();
            contract::check_message(&message);
            return message;
        }
    }
}

#[tokio::test]
async fn a_request_and_its_acceptance_flow_through_the_local_stack() {
    let stack = start().await;
    let mut amy_phone = stack.connect(AMY).await;
    let mut amy_laptop = stack.connect(AMY).await;
    let mut ben = stack.connect(BEN).await;
    let mut sam = stack.connect(SAM).await;

    let (status, created) = stack.http("POST", "/requests", SAM, Some(json!({ "chat": CHAT1 }))).await;
    assert_eq!(status, 201, "{created}");
    let request_id = created["request"]["_id"].as_str().unwrap().to_owned();
    for socket in [&mut amy_phone, &mut amy_laptop, &mut ben] {
        let event = next_event(socket).await;
        assert_eq!(event["event"], "chat-join-request");
        assert_eq!(event["data"]["request"]["_id"], request_id.as_str());
        assert_eq!(event["data"]["request"]["chat"]["areYouAdmin"], true);
    }

    let (status, listed) = stack.http("GET", "/requests?status=pending&limit=5", SAM, None).await;
    assert_eq!((status, listed["count"].as_u64()), (200, Some(1)));
    let (status, fetched) = stack.http("GET", &format!("/requests/{request_id}"), SAM, None).await;
    assert_eq!((status, fetched["request"]["status"].as_str()), (200, Some("pending")));

    let (status, decided) =
        stack.http("PATCH", &format!("/requests/{request_id}"), AMY, Some(json!({"status": "accepted"}))).await;
    assert_eq!(status, 200, "{decided}");
    let mut names = vec![next_event(&mut sam).await, next_event(&mut sam).await]
        .into_iter()
        .map(|e| e["event"].as_str().unwrap().to_owned())
        .collect::<Vec<_>>();
    names.sort();
    assert_eq!(names, ["chat-request-accepted", "score-updated"]);

    let notifications: Vec<Value> = stack
        .env
        .notifications_of(AMY)
        .await
        .into_iter()
        .filter(|item| item["request"] == request_id.as_str())
        .collect();
    assert_eq!(notifications.len(), 1);
    assert_eq!(notifications[0]["dismissed"], true, "the admins' notifications are dismissed in the table");
}

#[tokio::test]
async fn a_bad_token_is_refused_at_connect() {
    let stack = start().await;
    for query in ["?token=not.a.token", "", "?token="] {
        let url = format!("ws://127.0.0.1:{}/{query}", stack.websocket);
        match tokio_tungstenite::connect_async(url.as_str()).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => assert_eq!(response.status(), 401, "{query}"),
            other => panic!("{query}: expected a 401 refusal, got {:?}", other.map(|_| ())),
        }
    }
}

#[tokio::test]
async fn a_client_that_vanished_without_closing_is_forgotten_on_the_next_push() {
    let stack = start().await;
    let mut ben = stack.connect(BEN).await;
    // A connection API Gateway never reported closed: the record outlived its socket.
    let ghost = Connection {
        connection_id: "vanished-without-closing".into(),
        user: ObjectId::parse(BEN).unwrap(),
        // Older than the grace a connection still connecting gets on a 410.
        connected_at: timestamp_seconds_ago(60),
        ttl: epoch_seconds_in(3600),
    };
    stack.env.store().put_connection(&ghost).await.unwrap();
    assert_eq!(stack.env.store().connections_of(ghost.user).await.unwrap().len(), 2);

    let (status, _) = stack.http("POST", "/requests", LEA, Some(json!({ "chat": CHAT1 }))).await;
    assert_eq!(status, 201);
    assert_eq!(next_event(&mut ben).await["event"], "chat-join-request");
    for _ in 0..50 {
        let left = stack.env.store().connections_of(ghost.user).await.unwrap();
        if left.len() == 1 {
            assert_ne!(left[0].connection_id, ghost.connection_id);
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the vanished connection was not forgotten");
}

#[tokio::test]
async fn closing_a_socket_runs_disconnect() {
    let stack = start().await;
    let mut amy = stack.connect(AMY).await;
    let amy_id = ObjectId::parse(AMY).unwrap();
    assert_eq!(stack.env.store().connections_of(amy_id).await.unwrap().len(), 1);
    amy.close(None).await.unwrap();
    for _ in 0..50 {
        if stack.env.store().connections_of(amy_id).await.unwrap().is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("$disconnect did not forget the connection");
}

#[test]
fn the_local_rule_matches_the_template() {
    let template = std::fs::read_to_string(repo_root().join("template.yaml")).unwrap();
    let source = format!("source: [{}]", aws::bus::EVENT_SOURCE);
    let detail_types = format!("detail-type: [{}]", RULE_DETAIL_TYPES.join(", "));
    assert!(template.contains(&source), "template.yaml must route `{source}`");
    assert!(template.contains(&detail_types), "template.yaml must route `{detail_types}`");
    // The sync function's rule and the webhook's: the same detail-types the local bus
    // routes to them.
    let app_changes = format!("detail-type: [{}]", domain::sync::APP_CHANGES.join(", "));
    assert!(template.contains(&app_changes), "template.yaml must route `{app_changes}` to sync-app");
    let changes = format!("detail-type: [{}]", domain::event::REQUEST_CHANGES.join(", "));
    assert!(template.contains(&changes), "template.yaml must route `{changes}` to the webhook");
    assert!(template.contains("Default: chat-app") && domain::sync::DEFAULT_APP_EVENT_SOURCE == "chat-app");
    // The local queue in front of sync-app hands batches and gives up as the template's.
    let batch = format!("BatchSize: {}", dev::stack::events::BATCH_SIZE);
    let receives = format!("maxReceiveCount: {}", dev::stack::events::MAX_RECEIVES);
    assert!(template.contains(&batch) && template.contains(&receives), "template.yaml: `{batch}`, `{receives}`");
    let globals = template.split("\nGlobals:").nth(1).and_then(|rest| rest.split("\nResources:").next()).unwrap();
    let timeout = format!("Timeout: {}", dev::stack::events::TIMEOUT.as_secs());
    assert!(globals.contains(&timeout), "template.yaml's Globals: `{timeout}`");
}

/// The next event named `name` on `socket`, skipping others.
async fn next_named(socket: &mut Socket, name: &str) -> Value {
    loop {
        let event = next_event(socket).await;
        if event["event"] == name {
            return event;
        }
    }
}

#[tokio::test]
async fn the_admins_queue_a_bulk_accept_and_a_withdrawal_through_the_local_stack() {
    let stack = start().await;
    let mut amy_phone = stack.connect(AMY).await;
    let mut amy_laptop = stack.connect(AMY).await;
    let mut lea = stack.connect(LEA).await;

    let (status, created) =
        stack.http("POST", "/requests", LEA, Some(json!({ "chat": CHAT1, "message": "Back from my break!" }))).await;
    assert_eq!(status, 201, "{created}");
    let leas = created["request"]["_id"].as_str().unwrap().to_owned();
    let told = next_named(&mut amy_phone, "chat-join-request").await;
    assert_eq!(told["data"]["request"]["message"], "Back from my break!");

    let (status, queue) = stack.http("GET", &format!("/chats/{CHAT1}/requests?status=pending"), AMY, None).await;
    assert_eq!(status, 200, "{queue}");
    assert_eq!(queue["count"], 2, "lea's and the demo request");
    assert_eq!(queue["requests"][0]["_id"], leas.as_str(), "newest first");
    assert_eq!(queue["requests"][0]["user"]["username"], "lea.left");
    let (status, refused) = stack.http("GET", &format!("/chats/{CHAT1}/requests"), SAM, None).await;
    assert_eq!((status, refused["code"].as_str()), (403, Some("NOT_CHAT_MEMBER")));

    let body = json!({ "status": "accepted", "requests": [leas, DEMO_REQUEST] });
    let (status, decided) = stack.http("POST", &format!("/chats/{CHAT1}/requests/decisions"), AMY, Some(body)).await;
    assert_eq!(status, 200, "{decided}");
    let results = decided["results"].as_array().unwrap();
    assert_eq!((results[0]["status"].as_u64(), results[1]["status"].as_u64()), (Some(200), Some(200)));
    assert_eq!(next_named(&mut lea, "chat-request-accepted").await["data"]["request"]["_id"], leas.as_str());
    for socket in [&mut amy_phone, &mut amy_laptop] {
        let mut closed = vec![
            next_named(socket, "chat-join-request-closed").await["data"]["request"]["_id"].as_str().unwrap().to_owned(),
            next_named(socket, "chat-join-request-closed").await["data"]["request"]["_id"].as_str().unwrap().to_owned(),
        ];
        closed.sort();
        let mut expected = vec![leas.clone(), DEMO_REQUEST.to_owned()];
        expected.sort();
        assert_eq!(closed, expected, "the decider's own connections are told too");
    }

    let (status, created) = stack.http("POST", "/requests", SAM, Some(json!({ "chat": CHAT1 }))).await;
    assert_eq!(status, 201);
    let sams = created["request"]["_id"].as_str().unwrap().to_owned();
    let (status, withdrawn) = stack.http("DELETE", &format!("/requests/{sams}"), SAM, None).await;
    assert_eq!((status, withdrawn["request"]["status"].as_str()), (200, Some("cancelled")), "{withdrawn}");
    let closed = next_named(&mut amy_phone, "chat-join-request-closed").await;
    assert_eq!(
        (closed["data"]["request"]["_id"].as_str(), closed["data"]["request"]["status"].as_str()),
        (Some(sams.as_str()), Some("cancelled"))
    );
}

#[tokio::test]
async fn every_documented_operation_reaches_its_function_through_the_stack() {
    let stack = start().await;
    for (method, resource) in dev::local::events::REST_ROUTES {
        let path = resource.replace("{id}", CHAT1);
        if *method == "OPTIONS" {
            // A browser's preflight needs no token.
            let (status, headers, body) = stack.raw(method, &path, None, None).await;
            assert_eq!((status, body.len()), (204, 0), "{method} {path}");
            assert_eq!(headers.get("access-control-allow-origin").map(|v| v.as_bytes()), Some(&b"*"[..]));
            contract::check_response(method, resource, status, &Value::Null);
            continue;
        }
        let (status, _, body) = stack.raw(method, &path, None, None).await;
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!((status, body["code"].as_str()), (401, Some("UNAUTHORIZED")), "{method} {path}: {body}");
        contract::check_response(method, resource, status, &body);
    }
}

#[tokio::test]
async fn a_method_a_path_does_not_take_is_405_with_the_methods_it_takes() {
    let stack = start().await;
    for (method, path, allow) in [
        ("PUT", "/requests", "GET, POST"),
        ("TRACE", "/requests", "GET, POST"),
        ("POST", &format!("/requests/{DEMO_REQUEST}") as &str, "DELETE, GET, PATCH"),
        ("GET", &format!("/chats/{CHAT1}/requests/decisions"), "POST"),
    ] {
        let (status, headers, body) = stack.raw(method, path, Some(SAM), None).await;
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!((status, body["code"].as_str()), (405, Some("METHOD_NOT_ALLOWED")), "{method} {path}");
        assert_eq!(headers.get("allow").and_then(|v| v.to_str().ok()), Some(allow), "{method} {path}");
    }
    let (status, _, body) = stack.raw("GET", "/nowhere", Some(SAM), None).await;
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!((status, body["code"].as_str()), (404, Some("NOT_FOUND")));
}

#[tokio::test]
async fn the_stack_serves_both_documents_and_a_docs_page_that_needs_no_internet() {
    let stack = start().await;
    let (status, headers, body) = stack.raw("GET", "/openapi.json", None, None).await;
    assert_eq!((status, headers["content-type"].to_str().unwrap()), (200, "application/json"));
    let mut served: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(served["servers"][0]["url"], "http://127.0.0.1", "the first server is the stack itself");
    served["servers"][0]["url"] = contract::document(contract::OPENAPI)["servers"][0]["url"].clone();
    assert_eq!(&served, contract::document(contract::OPENAPI), "/openapi.json is openapi.yaml");
    for (path, file) in [("/openapi.yaml", contract::OPENAPI), ("/asyncapi.yaml", contract::ASYNCAPI)] {
        let (status, _, body) = stack.raw("GET", path, None, None).await;
        let text = std::fs::read_to_string(repo_root().join(file)).unwrap();
        assert_eq!((status, body.as_ref()), (200, text.as_bytes()), "{path}");
    }

    let (status, headers, page) = stack.raw("GET", "/docs", None, None).await;
    assert_eq!((status, headers["content-type"].to_str().unwrap()), (200, "text/html; charset=utf-8"));
    let page = String::from_utf8(page.to_vec()).unwrap();
    assert!(!page.contains("http://") && !page.contains("https://") && !page.contains("//cdn"), "{page}");
    assert!(page.contains("validatorUrl: null"), "no online validator badge");
    let assets: Vec<&str> =
        page.split(['"', '\'']).filter(|part| part.starts_with("/docs/") || part.starts_with("/openapi")).collect();
    assert!(assets.len() >= 3, "{assets:?}");
    for asset in assets {
        let (status, _, body) = stack.raw("GET", asset, None, None).await;
        assert_eq!(status, 200, "{asset}");
        assert!(body.len() > 1000, "{asset} is there: {} bytes", body.len());
    }
}

#[tokio::test]
async fn the_local_stack_refuses_a_body_over_10_mb_as_api_gateway_does() {
    let stack = start().await;
    let too_long = Bytes::from(vec![b' '; 10 * 1024 * 1024 + 1]);
    let (status, headers, body) = stack.send("POST", "/requests", Some(SAM), too_long).await;
    assert_eq!(status, 413);
    // API Gateway's gateway responses carry CORS headers, so a browser reads this one.
    assert_eq!(headers.get("access-control-allow-origin").map(|v| v.as_bytes()), Some(&b"*"[..]));
    assert_eq!(serde_json::from_slice::<Value>(&body).unwrap(), json!({"message": "Request too long"}));
    // Under it, the function answers: its own 64 KB limit, on every route with a body,
    // before it reads anything else (the admin's role, the request).
    let with_body =
        dev::local::events::REST_ROUTES.iter().filter(|(method, _)| ["POST", "PATCH", "PUT"].contains(method));
    for (method, resource) in with_body {
        let path = resource.replace("{id}", CHAT1).replace("{user}", SAM);
        let (status, _, body) = stack.send(method, &path, Some(AMY), Bytes::from(vec![b' '; 100 * 1024])).await;
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!((status, body["code"].as_str()), (413, Some("PAYLOAD_TOO_LARGE")), "{method} {path}");
        contract::check_response(method, resource, status, &body);
    }
}

// ---- the app's data in, our changes out -------------------------------------------

/// A webhook receiver that answers `500` to its first `failures` posts, then `200`:
/// every post it got (status answered, body).
async fn webhook(failures: usize) -> (hyper::Uri, std::sync::Arc<std::sync::Mutex<Vec<(u16, Value)>>>) {
    let (listener, port) = listener().await;
    let posts = std::sync::Arc::new(std::sync::Mutex::new(Vec::<(u16, Value)>::new()));
    let seen = posts.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { return };
            let posts = seen.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                    let posts = posts.clone();
                    async move {
                        let body = request.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                        let mut posts = posts.lock().unwrap();
                        let status = if posts.len() < failures { 500 } else { 200 };
                        posts.push((status, serde_json::from_slice(&body).unwrap_or(Value::Null)));
                        let mut answer = hyper::Response::new(Full::new(Bytes::new()));
                        *answer.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
                        Ok::<_, std::convert::Infallible>(answer)
                    }
                });
                let _ =
                    hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
            });
        }
    });
    (format!("http://127.0.0.1:{port}/hooks/join-requests").parse().unwrap(), posts)
}

async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..100 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what}: not within 10 s");
}

#[tokio::test]
async fn the_apps_events_from_an_sdk_client_build_a_chat_and_its_changes_reach_the_webhook_once() {
    let (url, posts) = webhook(2).await;
    let stack = start_with(Some(url)).await;
    let (events, _) = dev::kit::fake_aws::sdk_clients(stack.events, stack.websocket);
    let (ada, chat) = ("6a0000000000000000000001", "6b0000000000000000000001");
    let entry = |detail_type: &str, detail: Value| {
        aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
            .event_bus_name("join-requests-local")
            .source("chat-app")
            .detail_type(detail_type)
            .detail(detail.to_string())
            .build()
    };
    let at = "2026-12-01T10:00:00.000Z";
    let output = events
        .put_events()
        .entries(entry(
            "user.upserted",
            json!({"_id": ada, "username": "ada", "name": "Ada", "photo": null, "updatedAt": at}),
        ))
        .entries(entry(
            "chat.upserted",
            json!({"_id": chat, "creator": ada, "isGroup": true, "name": "By events",
            "restricted": true, "createdAt": at, "updatedAt": at}),
        ))
        .entries(entry(
            "member.upserted",
            json!({"chat": chat, "user": ada, "_id": "6c0000000000000000000001",
            "isAdmin": true, "lastReadAt": at, "updatedAt": at}),
        ))
        .entries(
            aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
                .source("chat-app")
                .detail_type("user.upserted")
                .detail("not json")
                .build(),
        )
        .send()
        .await
        .expect("PutEvents");
    assert_eq!(output.failed_entry_count(), 1, "the entry that is not JSON is refused, as EventBridge refuses it");
    assert!(output.entries()[3].error_code().is_some_and(|c| c.contains("MalformedDetail")), "{output:?}");

    eventually("ada, made admin by events, sees the queue", || async {
        stack.http("GET", &format!("/chats/{chat}/requests"), ada, None).await.0 == 200
    })
    .await;
    let (status, created) = stack.http("POST", "/requests", SAM, Some(json!({ "chat": chat }))).await;
    assert_eq!(status, 201, "{created}");
    let request = created["request"]["_id"].as_str().unwrap().to_owned();
    let (status, _) =
        stack.http("PATCH", &format!("/requests/{request}"), ada, Some(json!({"status": "accepted"}))).await;
    assert_eq!(status, 200);

    let delivered = |detail_type: &'static str| {
        let posts = posts.clone();
        let request = request.clone();
        move || {
            let posts = posts.clone();
            let request = request.clone();
            async move {
                posts.lock().unwrap().iter().any(|(status, event)| {
                    *status == 200
                        && event["detail-type"] == detail_type
                        && event["detail"]["request"]["_id"] == request
                })
            }
        }
    };
    eventually("join-request.created at the webhook", delivered("join-request.created")).await;
    eventually("join-request.accepted at the webhook", delivered("join-request.accepted")).await;
    let posts = posts.lock().unwrap().clone();
    let failed = posts.iter().filter(|(status, _)| *status == 500).count();
    assert_eq!(failed, 2, "the two failures");
    let answered: Vec<&Value> = posts.iter().filter(|(status, _)| *status == 200).map(|(_, e)| e).collect();
    let mut ids: Vec<&str> = answered.iter().map(|e| e["detail"]["id"].as_str().unwrap()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), answered.len(), "each change taken once: {answered:?}");
    for event in answered {
        assert_eq!(event["source"], "join-requests");
        contract::check_change(event["detail-type"].as_str().unwrap(), &event["detail"]);
    }
}

/// `dev sync aside` and `dev sync replay`, the operator's commands, against this stack.
fn dev_command(stack: &Stack, endpoint: &str, args: &[&str]) -> String {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_dev"))
        .args(args)
        .arg("--local")
        .env("TABLE_NAME", stack.env.store().table())
        .env("AWS_ENDPOINT_URL_DYNAMODB", endpoint)
        .env("EVENTS_PORT", stack.events.to_string())
        .env("EVENT_BUS_NAME", "join-requests-local")
        .env("RUST_LOG", "error")
        .output()
        .expect("dev runs");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "dev {args:?}: {text}{}", String::from_utf8_lossy(&output.stderr));
    text
}

// The `dev` process calls this stack's bus while the test waits for it: the stack needs
// a thread of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_lists_a_set_aside_event_and_replays_it_onto_the_bus() {
    let stack = start().await;
    let endpoint = dev::kit::dynamodb_endpoint().await;
    let (events, _) = dev::kit::fake_aws::sdk_clients(stack.events, stack.websocket);
    let entry = aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
        .source("chat-app")
        .detail_type("member.upserted")
        .detail(json!({"chat": CHAT1, "user": SAM, "isAdmin": "yes"}).to_string())
        .build();
    events.put_events().entries(entry).send().await.expect("PutEvents");
    let store = stack.env.store().clone();
    let first = {
        let store = store.clone();
        let mut found = None;
        for _ in 0..100 {
            if let Some(event) = store.app_events_set_aside(10).await.unwrap().into_iter().next() {
                found = Some(event);
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        found.expect("set aside within 10 s")
    };
    let listed = dev_command(&stack, endpoint, &["sync", "aside"]);
    assert!(listed.contains(&first.id.to_string()) && listed.contains("member.upserted"), "{listed}");

    // Still bad when it comes back: set aside again, as a new item; the replayed one gone.
    let replayed = dev_command(&stack, endpoint, &["sync", "replay", &first.id.to_string()]);
    assert!(replayed.contains("back on the bus"), "{replayed}");
    eventually("set aside again", || {
        let store = store.clone();
        let first = first.id;
        async move {
            let aside = store.app_events_set_aside(10).await.unwrap();
            aside.len() == 1 && aside[0].id != first
        }
    })
    .await;
}

#[tokio::test]
async fn every_detail_type_of_the_app_through_the_local_bus_shows_in_the_rest_api() {
    let stack = start().await;
    let (events, _) = dev::kit::fake_aws::sdk_clients(stack.events, stack.websocket);
    let (ada, bob, chat) = ("6a0000000000000000000011", "6a0000000000000000000012", "6b0000000000000000000011");
    let put = |detail_type: &'static str, detail: Value| {
        let events = events.clone();
        async move {
            let entry = aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
                .source("chat-app")
                .detail_type(detail_type)
                .detail(detail.to_string())
                .build();
            let output = events.put_events().entries(entry).send().await.expect("PutEvents");
            assert_eq!(output.failed_entry_count(), 0, "{detail_type}");
        }
    };
    let at = |minute: u32| format!("2026-12-01T10:{minute:02}:00.000Z");
    let member = |user: &str, admin: bool, minute: u32| {
        json!({"chat": chat, "user": user, "_id": format!("6c{}", &user[2..]), "isAdmin": admin,
               "lastReadAt": at(minute), "updatedAt": at(minute)})
    };
    for (user, name) in [(ada, "ada"), (bob, "bob")] {
        put("user.upserted", json!({"_id": user, "username": name, "name": name, "photo": null, "updatedAt": at(0)}))
            .await;
    }
    put(
        "chat.upserted",
        json!({"_id": chat, "creator": ada, "isGroup": true, "name": "By the bus",
        "restricted": true, "createdAt": at(0), "updatedAt": at(1)}),
    )
    .await;
    put("member.upserted", member(ada, true, 2)).await;
    put("member.upserted", member(bob, false, 2)).await;
    let queue = format!("/chats/{chat}/requests");
    eventually("ada is admin", || async { stack.http("GET", &queue, ada, None).await.0 == 200 }).await;
    eventually("bob is a member", || async {
        stack.http("POST", "/requests", bob, Some(json!({"chat": chat}))).await.1["code"] == "ALREADY_PARTICIPANT"
    })
    .await;

    // bob leaves, and may ask; then the app deletes bob's account.
    put("member.left", json!({"chat": chat, "user": bob, "leftAt": at(3)})).await;
    let asked = std::sync::Mutex::new(String::new());
    eventually("bob may ask", || async {
        let (status, body) = stack.http("POST", "/requests", bob, Some(json!({"chat": chat}))).await;
        if status == 201 {
            *asked.lock().unwrap() = body["request"]["_id"].as_str().unwrap().to_owned();
        }
        status == 201
    })
    .await;
    let bobs = asked.into_inner().unwrap();
    let path = format!("/requests/{bobs}");
    assert_eq!(stack.http("GET", &path, bob, None).await.1["request"]["user"]["username"], "bob");
    put("user.deleted", json!({"_id": bob, "deletedAt": at(4)})).await;
    eventually("bob's account is gone", || async {
        stack.http("GET", &path, bob, None).await.1["request"]["user"]["username"].is_null()
    })
    .await;

    // ada demoted: no queue. The chat deleted: bob's pending request expires.
    put("member.upserted", member(ada, false, 5)).await;
    eventually("ada lost the queue", || async { stack.http("GET", &queue, ada, None).await.0 == 403 }).await;
    let mut bob_socket = stack.connect(bob).await;
    put("chat.deleted", json!({"_id": chat, "deletedAt": at(6)})).await;
    let expired = next_named(&mut bob_socket, "chat-request-expired").await;
    assert_eq!(expired["data"]["request"]["_id"], bobs.as_str());
    assert_eq!(stack.http("GET", &path, bob, None).await.1["request"]["status"], "expired");
}
