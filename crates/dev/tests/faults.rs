//! Faults, driven through the stand-ins: EventBridge and the Management API told to hang,
//! fail, throttle or answer `410`, and DynamoDB Local reached through a stand-in that
//! hangs, throttles or drops every connection (as a stopped server does). Every test
//! checks that nothing was lost or half-written.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use futures::StreamExt;

use app::delivery::MAX_OUTBOX_ATTEMPTS;
use aws::store::{inspect, Connection};
use dev::kit::{
    answer, connect, demo_fixture, id, request_from, rest_event, retry_after, route_published, token, TestEnv,
};
use dev::local::Fault;
use domain::time::{epoch_seconds_in, now_timestamp, timestamp_seconds_ago};
use domain::ObjectId;
use serde_json::{json, Value};

const AMY: &str = "65a000000000000000000001";
const BEN: &str = "65a000000000000000000002";
const SAM: &str = "65a000000000000000000007";
const CHAT1: &str = "65b000000000000000000001";
const DEMO_REQUEST: &str = "65d000000000000000000001";

/// The contract's bound on answering a committed change.
const COMMITTED_ANSWER_BOUND: Duration = Duration::from_secs(3);
/// The functions' timeout in the template: a call must answer well before it.
const LAMBDA_TIMEOUT: Duration = Duration::from_secs(10);

fn user(n: usize) -> String {
    format!("69a{n:021x}")
}

/// Every message each connection received, grouped by event id: each id at most once
/// would be exact delivery; the contract asks at least once, duplicates sharing an id.
fn ids_by_event(inbox: &[Value], event: &str) -> HashMap<String, usize> {
    let mut ids = HashMap::new();
    for message in inbox.iter().filter(|m| m["event"] == event) {
        *ids.entry(message["data"]["request"]["_id"].as_str().unwrap_or_default().to_owned()).or_insert(0) += 1;
    }
    ids
}

#[tokio::test]
async fn a_hanging_eventbridge_does_not_delay_committed_changes_and_the_sweeper_delivers_later() {
    let env = TestEnv::with_demo().await;
    for (admin, connection) in [(AMY, "amy"), (BEN, "ben")] {
        connect(&env, admin, connection).await;
    }
    connect(&env, SAM, "sam").await;
    env.aws.recorder.events_fault.set(Fault::Hang);
    let api = env.api();

    let started = Instant::now();
    let (status, body) = api.create(SAM, CHAT1).await;
    assert_eq!(status, 201, "{body}");
    assert!(started.elapsed() < COMMITTED_ANSWER_BOUND, "create answered in {:?}", started.elapsed());
    let created = body["request"]["_id"].as_str().unwrap().to_owned();
    let started = Instant::now();
    let (status, body) = api.decide(AMY, DEMO_REQUEST, "accepted").await;
    assert_eq!(status, 200, "{body}");
    assert!(started.elapsed() < COMMITTED_ANSWER_BOUND, "accept answered in {:?}", started.elapsed());
    assert!(env.aws.published().is_empty());

    env.aws.recorder.events_fault.set(Fault::None);
    let report = env.sweep().await;
    assert_eq!((report.failed, report.set_aside), (0, 0));
    assert!(env.outbox().await.is_empty(), "every outbox item carried out");
    let raj_events: Vec<Value> =
        env.aws.published().into_iter().filter(|e| e["to"] == "65a000000000000000000005").collect();
    assert_eq!(raj_events.len(), 2, "chat-request-accepted and score-updated, once each");
    route_published(&env).await;
    for connection in ["amy", "ben"] {
        let told = ids_by_event(&env.aws.inbox(connection), "chat-join-request");
        assert_eq!(told.get(&created), Some(&1), "{connection} told once of the new request");
    }
    let sam: Vec<String> = env.aws.inbox("sam").iter().map(|m| m["event"].as_str().unwrap().to_owned()).collect();
    assert!(sam.is_empty(), "the accept was of raj's request, not sam's");
    let bens = env.notifications_of(BEN).await;
    let decided =
        bens.iter().find(|n| n["request"] == DEMO_REQUEST).expect("ben's notification of the decided request");
    assert_eq!(decided["dismissed"], true, "dismissed late, not lost");
}

#[tokio::test]
async fn eventbridge_down_during_200_creates_loses_no_event() {
    let mut fixture = demo_fixture();
    fixture["requests"] = json!([]);
    let env = TestEnv::with_fixture(fixture).await;
    connect(&env, AMY, "amy").await;
    connect(&env, BEN, "ben").await;
    env.aws.recorder.events_fault.set(Fault::Down);
    let api = env.api();
    let users: Vec<String> = (0..200).map(user).collect();
    // 20 in flight: DynamoDB Local runs transactions one at a time, so 200 at once
    // would queue there past the call bounds, which DynamoDB itself would not.
    let results: Vec<(u16, Value)> =
        futures::stream::iter(users.iter().map(|u| api.create(u, CHAT1))).buffer_unordered(20).collect().await;
    assert!(results.iter().all(|r| r.0 == 201), "{:?}", results.iter().find(|r| r.0 != 201));
    let created: HashSet<String> = results.iter().map(|r| r.1["request"]["_id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(env.outbox().await.len(), 200, "every change's events wait in the outbox");

    env.aws.recorder.events_fault.set(Fault::None);
    let report = env.sweep().await;
    assert_eq!((report.published, report.failed), (200, 0));
    route_published(&env).await;
    for connection in ["amy", "ben"] {
        let told: HashSet<String> = ids_by_event(&env.aws.inbox(connection), "chat-join-request").into_keys().collect();
        assert_eq!(told, created, "{connection} got every chat-join-request");
    }
}

/// An outbox item that can never be carried out: an event too big for any `PutEvents`.
fn poison_outbox(n: usize, created_at: &str) -> ((String, String), Value) {
    let outbox = id(&format!("69e{n:021x}"));
    let (index, order) = inspect::outbox_index(created_at, outbox);
    let item = json!({
        "entity": inspect::OUTBOX_ENTITY, "GSI1PK": index, "GSI1SK": order,
        "_id": outbox, "createdAt": created_at,
        "events": [{"event": "chat-join-request", "data": {"padding": "p".repeat(300 * 1024)},
                    "recipients": [{"id": format!("69f{n:021x}"), "to": AMY}]}],
        "dismiss": [],
    });
    (inspect::outbox_key(outbox), item)
}

#[tokio::test]
async fn poison_outbox_items_never_delay_a_good_one_and_are_set_aside_for_an_operator() {
    let mut fixture = demo_fixture();
    fixture["requests"] = json!([]);
    let env = TestEnv::with_fixture(fixture).await;
    let old = timestamp_seconds_ago(3600);
    let mut poison: Vec<_> = (0..4).map(|n| poison_outbox(n, &old)).collect();
    // And one that does not even decode.
    let broken = id("69e0000000000000000000ff");
    let (index, order) = inspect::outbox_index(&old, broken);
    poison.push((
        inspect::outbox_key(broken),
        json!({ "entity": inspect::OUTBOX_ENTITY, "GSI1PK": index, "GSI1SK": order, "events": 5 }),
    ));
    for (key, item) in poison {
        env.plant(key, item).await;
    }
    env.aws.fail_publishing(true);
    let (status, body) = env.api().create(SAM, CHAT1).await;
    assert_eq!(status, 201, "{body}");
    env.aws.fail_publishing(false);

    let report = env.sweep().await;
    assert_eq!((report.published, report.failed, report.set_aside), (1, 4, 1), "the good one goes on the first sweep");
    assert!(report.oldest_age_seconds >= 3600, "{report:?}");
    let published = env.aws.published();
    assert_eq!(published.len(), 2, "the good item's two chat-join-request events");
    assert!(published.iter().all(|e| e["data"]["request"]["_id"] == body["request"]["_id"]));

    for _ in 1..MAX_OUTBOX_ATTEMPTS {
        env.sweep().await;
    }
    assert!(env.outbox().await.is_empty(), "nothing left for the sweeper");
    let aside = env.direct.outbox_set_aside(100).await.unwrap();
    assert_eq!(aside.len(), 5, "{aside:?}");
    assert!(aside.iter().all(|item| !item.fields.last_error.is_empty()), "each says why: {aside:?}");
    assert_eq!(env.direct.outbox_set_aside_count().await.unwrap(), 5);
    assert_eq!(env.sweep().await, app::delivery::DrainReport::default(), "set aside: out of the sweeper's way");

    assert!(env.direct.replay_outbox(id("69e000000000000000000000")).await.unwrap(), "an operator replays one");
    assert_eq!(env.outbox().await.len(), 1);
    assert_eq!(env.outbox().await[0].attempts, 0);
    assert!(!env.direct.replay_outbox(id("69e000000000000000000000")).await.unwrap(), "not set aside any more");
}

/// For every user: the request, its pending marker and, once the sweeper has carried
/// out what the calls could not, one notification per admin all exist, or none of them
/// does.
async fn assert_nothing_half_written(env: &TestEnv, users: &[String]) -> usize {
    env.sweep_until_empty().await;
    let mut whole = 0;
    for user in users {
        let requests = env.direct.requests_of(id(user), None).await.unwrap();
        let marker = env.markers_of(user).await;
        assert_eq!(requests.len(), marker.len(), "{user}: request and marker together");
        for request in &requests {
            for admin in [AMY, BEN] {
                let told =
                    env.notifications_of(admin).await.iter().filter(|n| n["request"] == request.id.to_string()).count();
                assert_eq!(told, 1, "{user}: {admin}'s notification with the request");
            }
        }
        whole += requests.len();
    }
    whole
}

#[tokio::test]
async fn dynamodb_stopped_mid_run_answers_503_in_bound_and_leaves_nothing_half_written() {
    let mut fixture = demo_fixture();
    fixture["requests"] = json!([]);
    let (env, faults) = TestEnv::behind_proxy(fixture).await;
    let api = env.api();
    let users: Vec<String> = (0..40).map(user).collect();
    faults.set(Fault::Slow(Duration::from_millis(60)));
    let calls = users.iter().enumerate().map(|(n, u)| {
        let api = &api;
        async move {
            tokio::time::sleep(Duration::from_millis(25 * n as u64)).await;
            let started = Instant::now();
            let result = api.create(u, CHAT1).await;
            (result, started.elapsed())
        }
    });
    let stop = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        faults.set(Fault::Down);
    };
    let (results, ()) = futures::join!(futures::future::join_all(calls), stop);
    faults.set(Fault::None);

    let mut statuses: HashMap<u16, usize> = HashMap::new();
    for ((status, body), elapsed) in &results {
        *statuses.entry(*status).or_default() += 1;
        assert!(*elapsed < LAMBDA_TIMEOUT / 2, "answered in {elapsed:?}");
        if *status == 503 {
            assert_eq!(body["code"], "UNAVAILABLE");
        }
    }
    assert!(statuses.keys().all(|s| *s == 201 || *s == 503), "{statuses:?}");
    assert!(
        statuses.contains_key(&201) && statuses.contains_key(&503),
        "some before the stop, some after: {statuses:?}"
    );
    let whole = assert_nothing_half_written(&env, &users).await;
    assert!(whole >= statuses[&201], "every 201 is whole ({whole} requests for {statuses:?})");

    let (status, body) = api.create(&user(0), CHAT1).await;
    assert!(status == 409 || status == 201, "DynamoDB is back: {status} {body}");
}

async fn list_with_headers(env: &TestEnv) -> (u16, Value, Option<String>, Duration) {
    let started = Instant::now();
    let event = rest_event("GET", "/requests", Some(&format!("Bearer {}", token(SAM))), &[], None);
    let response = list_requests::handle(&env.app, request_from(&event)).await;
    let after = retry_after(&response);
    let (status, body) = answer(&event, response);
    (status, body, after, started.elapsed())
}

#[tokio::test]
async fn dynamodb_throttling_or_hanging_is_503_with_retry_after_within_the_bound() {
    let (env, faults) = TestEnv::behind_proxy(demo_fixture()).await;
    for fault in [Fault::Throttle, Fault::ServerError, Fault::Hang, Fault::Down] {
        faults.set(fault);
        let (status, body, after, elapsed) = list_with_headers(&env).await;
        assert_eq!(
            (status, body["code"].as_str(), after.as_deref()),
            (503, Some("UNAVAILABLE"), Some("1")),
            "{fault:?}"
        );
        assert!(elapsed < Duration::from_secs(4), "{fault:?}: {elapsed:?}, bounded by the call timeout");
    }
    faults.set(Fault::Hang);
    let started = Instant::now();
    let (status, body) = env.api().create(SAM, CHAT1).await;
    assert_eq!((status, body["code"].as_str()), (503, Some("UNAVAILABLE")));
    assert!(started.elapsed() < LAMBDA_TIMEOUT / 2, "{:?}", started.elapsed());
    faults.set(Fault::None);
    assert_eq!(list_with_headers(&env).await.0, 200, "back once DynamoDB answers");
    assert!(env.direct.requests_of(id(SAM), None).await.unwrap().is_empty(), "the hung create wrote nothing");
}

async fn store_connection(env: &TestEnv, connection_id: &str, user: &str, connected_at: String) {
    let connection =
        Connection { connection_id: connection_id.into(), user: id(user), connected_at, ttl: epoch_seconds_in(7200) };
    env.direct.put_connection(&connection).await.unwrap();
}

fn event_to(user: &str) -> domain::Delivery {
    let first = domain::OutboundEvent {
        id: ObjectId::generate(),
        event: "score-updated".into(),
        to: id(user),
        data: json!({"score": {"total": 1, "actions": {}}, "action": "join-group-chat"}),
    };
    domain::Delivery { first, followed_by: Vec::new() }
}

#[tokio::test]
async fn a_410_keeps_a_connection_still_connecting_and_forgets_an_older_one() {
    let env = TestEnv::with_demo().await;
    store_connection(&env, "young", SAM, now_timestamp()).await;
    store_connection(&env, "old", SAM, timestamp_seconds_ago(60)).await;
    // Neither is open at the stand-in, which answers 410 for both.
    let report = env.aws.pusher.push(&env.direct, &event_to(SAM)).await.unwrap();
    assert_eq!((report.kept, report.gone, report.delivered), (1, 1, 0));
    let left: Vec<String> =
        env.direct.connections_of(id(SAM)).await.unwrap().into_iter().map(|c| c.connection_id).collect();
    assert_eq!(left, ["young"]);
}

#[tokio::test]
async fn a_refusing_connection_is_its_own_failure_and_throttling_is_retried_then_fails_the_invocation() {
    let env = TestEnv::with_demo().await;
    connect(&env, SAM, "refusing").await;
    connect(&env, SAM, "fine").await;
    env.aws.recorder.forbidden.lock().unwrap().insert("refusing".into());
    let report = env.aws.pusher.push(&env.direct, &event_to(SAM)).await.expect("a 403 does not fail the invocation");
    assert_eq!((report.delivered, report.refused), (1, 1));
    assert_eq!(env.direct.connections_of(id(SAM)).await.unwrap().len(), 2, "a refusal is not a 410");

    env.aws.recorder.management_fault.set(Fault::Throttle);
    let error = env.aws.pusher.push(&env.direct, &event_to(SAM)).await.expect_err("throttled past the retries");
    assert!(matches!(error, aws::push::PushError::Undelivered { failed: 2, .. }), "{error}");
    env.aws.recorder.management_fault.set(Fault::Slow(Duration::from_millis(10)));
    let report = env.aws.pusher.push(&env.direct, &event_to(SAM)).await.expect("a slow API still delivers");
    assert_eq!(report.delivered, 1);
}

#[tokio::test]
async fn a_decision_never_recreates_a_notification_the_app_removed() {
    let env = TestEnv::with_demo().await;
    let bens = env.notifications_of(BEN).await;
    let note = bens.iter().find(|n| n["request"] == DEMO_REQUEST).unwrap()["_id"].as_str().unwrap().to_owned();
    env.remove(inspect::notification_key(id(BEN), id(&note))).await;
    let (status, body) = env.api().decide(AMY, DEMO_REQUEST, "rejected").await;
    assert_eq!(status, 200, "{body}");
    assert!(env.notifications_of(BEN).await.iter().all(|n| n["request"] != DEMO_REQUEST), "no stub re-created");
    assert!(env.notifications_of(AMY).await.iter().all(|n| n["dismissed"] == true));
    assert!(env.outbox().await.iter().all(|o| o.outbox.dismiss.is_empty()), "the dismissals are done");
}

/// A create's outbox carried out again later (its publishing failed) writes no
/// notification: not one the app removed meanwhile, not over one a decision dismissed.
#[tokio::test]
async fn a_create_delivered_again_later_never_undoes_a_dismissal_or_a_removal() {
    let env = TestEnv::with_demo().await;
    let api = env.api();
    env.aws.fail_publishing(true);
    let (status, removed) = api.create(SAM, CHAT1).await;
    assert_eq!(status, 201, "{removed}");
    let removed = removed["request"]["_id"].as_str().unwrap().to_owned();
    let (status, decided) = api.create(&user(1), CHAT1).await;
    assert_eq!(status, 201, "{decided}");
    let decided = decided["request"]["_id"].as_str().unwrap().to_owned();
    assert_eq!(api.decide(AMY, &decided, "rejected").await.0, 200);
    let of_request = |notes: Vec<Value>, request: &str| -> Vec<Value> {
        notes.into_iter().filter(|n| n["request"] == request).collect()
    };
    let bens = of_request(env.notifications_of(BEN).await, &removed);
    env.remove(inspect::notification_key(id(BEN), id(bens[0]["_id"].as_str().unwrap()))).await;
    assert_eq!(env.outbox().await.len(), 3, "two creates and a decision wait for the sweeper");

    env.aws.fail_publishing(false);
    env.sweep_until_empty().await;
    assert!(of_request(env.notifications_of(BEN).await, &removed).is_empty(), "the removed one stays removed");
    assert_eq!(of_request(env.notifications_of(AMY).await, &removed).len(), 1);
    for admin in [AMY, BEN] {
        let notes = of_request(env.notifications_of(admin).await, &decided);
        assert!(notes.len() == 1 && notes[0]["dismissed"] == true, "{admin}: still dismissed: {notes:?}");
    }
}

/// An event as a client first read it.
struct Read {
    id: String,
    request: String,
    at: Instant,
}

/// Reads `user`'s kept events from `cursor` until caught up, 40 at a time, appending
/// each new event to `seen`; returns when each repeat it dropped was first read.
async fn catch_up(env: &TestEnv, user: &str, cursor: &mut Option<String>, seen: &mut Vec<Read>) -> Vec<Instant> {
    let mut repeats = Vec::new();
    loop {
        let mut query = vec![("limit", "40")];
        if let Some(cursor) = cursor.as_deref() {
            query.push(("after", cursor));
        }
        let (status, page) = env.api().events(user, &query).await;
        assert_eq!(status, 200, "{page}");
        for event in page["events"].as_array().expect("events") {
            let id = event["id"].as_str().expect("an id").to_owned();
            match seen.iter().find(|read| read.id == id) {
                Some(read) => repeats.push(read.at),
                None => {
                    let request = event["data"]["request"]["_id"].as_str().unwrap_or_default().to_owned();
                    seen.push(Read { id, request, at: Instant::now() });
                }
            }
        }
        *cursor = Some(page["cursor"].as_str().expect("a cursor").to_owned());
        if page["more"] == false {
            return repeats;
        }
    }
}

/// An admin offline while 200 requests reach the chat, reading with the cursor between
/// batches of 20; every third create's own keeping fails (DynamoDB refuses its
/// `PutItem`s), so the sweeper keeps those events late, after the admin read past the
/// time they were made. Each request's event is read exactly once after dropping
/// repeats, and a repeat is only ever of an event kept within `EVENTS_LATE_SECONDS` (5)
/// of the previous reading.
#[tokio::test]
async fn catching_up_gets_every_event_once_also_those_the_sweeper_kept_late() {
    let mut fixture = demo_fixture();
    fixture["requests"] = json!([]);
    let (env, faults) = TestEnv::behind_proxy(fixture).await;
    let (mut cursor, mut seen) = (None, Vec::new());
    let mut requests = Vec::new();
    let mut readings: Vec<(Instant, Vec<Instant>)> = Vec::new();
    for batch in 0..11 {
        if batch < 10 {
            for n in 0..20 {
                let keeping_fails = n % 3 == 0;
                faults.set(if keeping_fails { Fault::Refuse("PutItem") } else { Fault::None });
                let (status, body) = env.api().create(&user(batch * 20 + n), CHAT1).await;
                assert_eq!(status, 201, "{body}");
                requests.push(body["request"]["_id"].as_str().unwrap().to_owned());
            }
            faults.set(Fault::None);
            assert_eq!(env.outbox().await.len(), 7, "the events of every third create wait for the sweeper");
        }
        let started = Instant::now();
        readings.push((started, catch_up(&env, AMY, &mut cursor, &mut seen).await));
        env.sweep_until_empty().await;
    }

    let mut read: Vec<String> = seen.iter().map(|read| read.request.clone()).collect();
    read.sort();
    requests.sort();
    assert_eq!(read, requests, "one chat-join-request per request, none missed, none twice");
    let late = Duration::from_millis(5_500);
    for (k, pair) in readings.windows(2).enumerate() {
        let (previous, (_, repeats)) = (pair[0].0, &pair[1]);
        assert!(repeats.iter().all(|at| *at + late >= previous), "reading {}: a repeat older than the window", k + 1);
    }
    let repeats: usize = readings.iter().map(|(_, r)| r.len()).sum();
    eprintln!("200 events read in 11 catch-ups, {repeats} repeats dropped");
    assert!(readings[0].1.is_empty(), "the first reading repeats nothing");
}
