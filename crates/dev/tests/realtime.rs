//! The real-time path against DynamoDB Local and real HTTP servers standing in for
//! EventBridge and the API Gateway Management API: connect, publish, route, push.

use aws::store::Connection;
use dev::kit::{connect, connect_event, item_size, repo_root, route_published, TestEnv};
use domain::time::{epoch_seconds_in, now_timestamp};
use domain::ObjectId;
use futures::StreamExt;
use serde_json::{json, Value};

const AMY: &str = "65a000000000000000000001";
const BEN: &str = "65a000000000000000000002";
const CAT: &str = "65a000000000000000000003";
const DAN: &str = "65a000000000000000000004";
const SAM: &str = "65a000000000000000000007";
const CHAT1: &str = "65b000000000000000000001";

fn id(text: &str) -> ObjectId {
    ObjectId::parse(text).unwrap()
}

fn events_named<'a>(messages: &'a [Value], name: &str) -> Vec<&'a Value> {
    messages.iter().filter(|m| m["event"] == name).collect()
}

#[tokio::test]
async fn connect_stores_the_connection_and_refuses_bad_tokens() {
    let env = TestEnv::with_demo().await;
    connect(&env, AMY, "amy-phone").await;
    connect(&env, AMY, "amy-laptop").await;
    let mut ids: Vec<String> =
        env.store().connections_of(id(AMY)).await.unwrap().into_iter().map(|c| c.connection_id).collect();
    ids.sort();
    assert_eq!(ids, ["amy-laptop", "amy-phone"]);
    let stored = &env.store().connections_of(id(AMY)).await.unwrap()[0];
    let two_hours = epoch_seconds_in(2 * 3600);
    assert!((two_hours - 5..=two_hours).contains(&stored.ttl), "TTL matches API Gateway's 2-hour limit");

    for token in [None, Some("not.a.token"), Some("")] {
        let response = ws_connect::handle(&env.app, connect_event("intruder", token)).await;
        assert_eq!(response.status_code, 401, "{token:?}");
    }
    let past = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({"sub": SAM, "exp": jsonwebtoken::get_current_timestamp() - 3600}),
        &jsonwebtoken::EncodingKey::from_secret(dev::kit::SECRET.as_bytes()),
    )
    .unwrap();
    assert_eq!(ws_connect::handle(&env.app, connect_event("intruder", Some(&past))).await.status_code, 401);
    assert!(env.store().connections_of(id(SAM)).await.unwrap().is_empty(), "nothing stored for refused connections");
}

#[tokio::test]
async fn disconnect_forgets_the_connection() {
    let env = TestEnv::with_demo().await;
    connect(&env, AMY, "amy-phone").await;
    connect(&env, AMY, "amy-laptop").await;
    let mut event = connect_event("amy-phone", None);
    event.request_context.route_key = Some("$disconnect".into());
    assert_eq!(ws_disconnect::handle(env.store(), event.clone()).await.status_code, 200);
    let left: Vec<_> =
        env.store().connections_of(id(AMY)).await.unwrap().into_iter().map(|c| c.connection_id).collect();
    assert_eq!(left, ["amy-laptop"]);
    assert_eq!(ws_disconnect::handle(env.store(), event).await.status_code, 200, "a second disconnect is harmless");
}

#[tokio::test]
async fn a_join_request_reaches_every_connection_of_every_active_admin_and_nobody_else() {
    let env = TestEnv::with_demo().await;
    connect(&env, AMY, "amy-phone").await;
    connect(&env, AMY, "amy-laptop").await;
    connect(&env, BEN, "ben-phone").await;
    connect(&env, CAT, "cat-phone").await; // left chat 1
    connect(&env, DAN, "dan-phone").await; // member, not admin
    connect(&env, SAM, "sam-phone").await;

    let api = env.api();
    let (status, body) = api.create(SAM, CHAT1).await;
    assert_eq!(status, 201);
    let request_id = body["request"]["_id"].as_str().unwrap().to_owned();
    let reports = route_published(&env).await;
    assert_eq!(reports.iter().map(|r| r.delivered).sum::<usize>(), 3);

    // The exact payload: the request populated as GET shows it, with areYouAdmin for
    // the receiving admin, and that admin's notification.
    let (_, fetched) = api.get(SAM, &request_id).await;
    let mut expected_request = fetched["request"].clone();
    expected_request["chat"]["areYouAdmin"] = json!(true);
    for (admin, connection) in [(AMY, "amy-phone"), (AMY, "amy-laptop"), (BEN, "ben-phone")] {
        let inbox = env.aws.inbox(connection);
        assert_eq!(inbox.len(), 1, "{connection}: {inbox:?}");
        let message = &inbox[0];
        assert_eq!(message.as_object().unwrap().keys().collect::<Vec<_>>(), ["id", "event", "data"]);
        assert_eq!(message["event"], "chat-join-request");
        assert!(ObjectId::parse(message["id"].as_str().unwrap()).is_ok());
        assert_eq!(message["data"]["request"], expected_request, "{connection}");
        let notification = &message["data"]["notification"];
        assert_eq!(notification["user"], admin);
        assert_eq!(notification["request"], request_id.as_str());
        assert_eq!(
            (notification["from"].as_str(), notification["type"].as_str()),
            (Some(SAM), Some("chat-join-request"))
        );
        assert_eq!(notification["dismissed"], false);
    }
    assert_eq!(
        env.aws.inbox("amy-phone")[0]["id"],
        env.aws.inbox("amy-laptop")[0]["id"],
        "one message per recipient, on all their connections"
    );
    assert_ne!(env.aws.inbox("amy-phone")[0]["id"], env.aws.inbox("ben-phone")[0]["id"]);
    for connection in ["cat-phone", "dan-phone", "sam-phone"] {
        assert!(env.aws.inbox(connection).is_empty(), "{connection}");
    }
}

#[tokio::test]
async fn acceptance_tells_the_requester_and_updates_their_score() {
    let env = TestEnv::with_demo().await;
    connect(&env, SAM, "sam-phone").await;
    connect(&env, SAM, "sam-laptop").await;
    connect(&env, AMY, "amy-phone").await;
    let api = env.api();
    let (_, body) = api.create(SAM, CHAT1).await;
    let request_id = body["request"]["_id"].as_str().unwrap().to_owned();
    route_published(&env).await;
    let (_, listed) = api.list(SAM, &[]).await;
    assert_eq!(listed["count"], 1, "connections share GSI1 with requests and never show as requests");
    assert_eq!(api.decide(AMY, &request_id, "accepted").await.0, 200);
    route_published(&env).await;

    let (_, fetched) = api.get(SAM, &request_id).await;
    for connection in ["sam-phone", "sam-laptop"] {
        let inbox = env.aws.inbox(connection);
        assert_eq!(inbox.len(), 2, "{connection}: {inbox:?}");
        let accepted = events_named(&inbox, "chat-request-accepted")[0];
        assert_eq!(accepted["data"]["request"], fetched["request"], "populated for the requester");
        let chat = &accepted["data"]["chat"];
        assert_eq!(chat, &fetched["request"]["chat"]);
        assert_eq!(chat["areYouAdmin"], false);
        assert!(chat["participants"].as_array().unwrap().iter().any(|p| p["user"] == SAM && p.get("leftAt").is_none()));
        let scored = events_named(&inbox, "score-updated")[0];
        assert_eq!(
            scored["data"],
            json!({"score": {"total": 10, "actions": {"join-group-chat": {"count": 1, "points": 10}}}, "action": "join-group-chat"})
        );
    }
    let admin: Vec<String> =
        env.aws.inbox("amy-phone").iter().map(|m| m["event"].as_str().unwrap().to_owned()).collect();
    assert_eq!(admin, ["chat-join-request", "chat-join-request-closed"], "the admin: the request, then its closing");

    // A rejection tells the requester and closes the request for the admins, no more.
    let (_, second) = api.create(SAM, "65b000000000000000000002").await;
    route_published(&env).await;
    assert_eq!(api.decide(CAT, second["request"]["_id"].as_str().unwrap(), "rejected").await.0, 200);
    env.sweep().await;
    let mut names: Vec<String> = env.aws.take_deliveries().into_iter().map(|d| d.detail.first.event).collect();
    names.sort();
    assert_eq!(names, ["chat-join-request-closed", "chat-join-request-closed", "chat-request-rejected"]);
}

#[tokio::test]
async fn a_vanished_connection_is_forgotten_on_the_next_push() {
    let env = TestEnv::with_demo().await;
    connect(&env, AMY, "amy-phone").await;
    // A connection made a minute ago (past the grace a 410 gets while connecting) whose
    // socket API Gateway closed without a `$disconnect`.
    let laptop = Connection {
        connection_id: "amy-laptop".into(),
        user: id(AMY),
        connected_at: domain::time::timestamp_seconds_ago(60),
        ttl: epoch_seconds_in(3600),
    };
    env.store().put_connection(&laptop).await.unwrap();
    assert_eq!(env.api().create(SAM, CHAT1).await.0, 201);
    let reports = route_published(&env).await;
    let amy = reports.iter().find(|r| r.gone == 1).expect("one push found a gone connection");
    assert_eq!(amy.delivered, 1);
    let left: Vec<_> =
        env.store().connections_of(id(AMY)).await.unwrap().into_iter().map(|c| c.connection_id).collect();
    assert_eq!(left, ["amy-phone"]);
    assert_eq!(env.aws.inbox("amy-phone").len(), 1);
}

#[tokio::test]
async fn a_failing_connection_fails_the_invocation_so_eventbridge_retries() {
    let env = TestEnv::with_demo().await;
    connect(&env, AMY, "amy-phone").await;
    connect(&env, AMY, "amy-broken").await;
    env.aws.recorder.broken.lock().unwrap().insert("amy-broken".into());
    assert_eq!(env.api().create(SAM, CHAT1).await.0, 201);
    env.sweep().await;
    let deliveries = env.aws.take_deliveries();
    let to_amy = deliveries.into_iter().find(|d| d.detail.first.to == id(AMY)).unwrap();
    let error = notifier::handle(env.store(), &env.aws.pusher, "test", to_amy).await.unwrap_err();
    assert!(matches!(error, aws::push::PushError::Undelivered { failed: 1, total: 2, .. }), "{error}");
    assert_eq!(env.aws.inbox("amy-phone").len(), 1, "the healthy connection still got it");
    assert_eq!(env.store().connections_of(id(AMY)).await.unwrap().len(), 2, "a failing connection is not forgotten");
}

#[tokio::test]
async fn a_failed_publish_keeps_the_call_successful_and_the_sweeper_delivers_later() {
    let env = TestEnv::with_demo().await;
    connect(&env, AMY, "amy-phone").await;
    env.aws.fail_publishing(true);
    let (status, body) = env.api().create(SAM, CHAT1).await;
    assert_eq!(status, 201, "{body}");
    assert!(env.aws.published().is_empty());
    assert_eq!(env.outbox().await.len(), 1, "the events wait in the outbox");

    // Too young for the sweeper's default age: left alone.
    let report = outbox_sweeper::handle(env.store(), &env.aws.publisher, 30, app::delivery::DELIVERY_BUDGET, "test")
        .await
        .unwrap();
    assert_eq!(report, app::delivery::DrainReport::default());

    // EventBridge still failing: the item stays.
    let report = outbox_sweeper::handle(env.store(), &env.aws.publisher, 0, app::delivery::DELIVERY_BUDGET, "test")
        .await
        .unwrap();
    assert_eq!((report.published, report.failed), (0, 1));
    assert_eq!(env.outbox().await[0].attempts, 1, "the failed attempt is counted on the item");

    env.aws.fail_publishing(false);
    let report = outbox_sweeper::handle(env.store(), &env.aws.publisher, 0, app::delivery::DELIVERY_BUDGET, "test")
        .await
        .unwrap();
    assert_eq!((report.published, report.failed), (1, 0));
    route_published(&env).await;
    let inbox = env.aws.inbox("amy-phone");
    assert_eq!(inbox.len(), 1);
    assert_eq!(inbox[0]["data"]["request"]["_id"], body["request"]["_id"]);
    assert!(env.outbox().await.is_empty());
    let report = outbox_sweeper::handle(env.store(), &env.aws.publisher, 0, app::delivery::DELIVERY_BUDGET, "test")
        .await
        .unwrap();
    assert_eq!(report.published, 0, "nothing is published twice once delivered");
}

#[tokio::test]
async fn a_duplicate_event_is_harmless() {
    let env = TestEnv::with_demo().await;
    connect(&env, AMY, "amy-phone").await;
    assert_eq!(env.api().create(SAM, CHAT1).await.0, 201);
    env.sweep().await;
    let delivery = env.aws.take_deliveries().into_iter().find(|d| d.detail.first.to == id(AMY)).unwrap();
    for _ in 0..2 {
        let report = notifier::handle(env.store(), &env.aws.pusher, "test", delivery.clone()).await.unwrap();
        assert_eq!(report.delivered, 1);
    }
    let inbox = env.aws.inbox("amy-phone");
    assert_eq!(inbox.len(), 2);
    assert_eq!(inbox[0], inbox[1], "the same message with the same id: the client drops the second");
    assert_eq!(env.store().connections_of(id(AMY)).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_recipient_without_connections_is_not_an_error() {
    let env = TestEnv::with_demo().await;
    assert_eq!(env.api().create(SAM, CHAT1).await.0, 201);
    for report in route_published(&env).await {
        assert_eq!(report, aws::push::PushReport::default());
    }
}

// ---- sample events ------------------------------------------------------------------

fn sample(path: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(repo_root().join("events").join(path)).unwrap()).unwrap()
}

fn local_env_auth(env: &mut TestEnv) {
    use edge::auth::{JwtSettings, JwtVerifier};
    env.app.auth =
        JwtVerifier::new(&JwtSettings { secret: Some("local-development-secret".into()), ..Default::default() })
            .unwrap();
}

#[tokio::test]
async fn websocket_sample_events_get_their_documented_responses() {
    let mut env = TestEnv::with_demo().await;
    local_env_auth(&mut env);
    let expected = dev::kit::expected_answers();
    let connects: Vec<(&String, &serde_json::Value)> =
        expected.iter().filter(|(file, _)| file.starts_with("ws-connect/")).collect();
    assert_eq!(connects.len(), 3);
    for (file, answer) in connects {
        let event = serde_json::from_value(sample(file)).unwrap();
        let response = ws_connect::handle(&env.app, event).await;
        assert_eq!(Some(response.status_code as u64), answer["status"].as_u64(), "{file}");
        let body: serde_json::Value = match &response.body {
            Some(aws_lambda_events::encodings::Body::Text(text)) => serde_json::from_str(text).unwrap(),
            other => panic!("{file}: a JSON body, not {other:?}"),
        };
        assert_eq!(body.get("code"), answer.get("code"), "{file}");
    }
    let connections = env.store().connections_of(id(AMY)).await.unwrap();
    assert_eq!(connections.iter().map(|c| c.connection_id.as_str()).collect::<Vec<_>>(), ["Zx1sample0Amy="]);
    let event = serde_json::from_value(sample("ws-disconnect/ok.json")).unwrap();
    assert_eq!(ws_disconnect::handle(env.store(), event).await.status_code, 200);
    assert!(env.store().connections_of(id(AMY)).await.unwrap().is_empty());
}

#[tokio::test]
async fn notifier_sample_events_reach_their_recipients_connections() {
    let env = TestEnv::with_demo().await;
    let files =
        ["notifier/chat-join-request.json", "notifier/chat-request-accepted.json", "notifier/score-updated.json"];
    let on_disk = std::fs::read_dir(repo_root().join("events/notifier")).unwrap().count();
    assert_eq!(on_disk, files.len(), "every notifier sample is listed here");
    for file in files {
        let event: aws_lambda_events::eventbridge::EventBridgeEvent<domain::Delivery> =
            serde_json::from_value(sample(file)).unwrap();
        let connection_id = format!("conn-{}", event.detail.first.id);
        env.store()
            .put_connection(&Connection {
                connection_id: connection_id.clone(),
                user: event.detail.first.to,
                connected_at: now_timestamp(),
                ttl: epoch_seconds_in(60),
            })
            .await
            .unwrap();
        env.aws.open(&connection_id);
        let expected = event.detail.first.message();
        let report = notifier::handle(env.store(), &env.aws.pusher, "test", event).await.unwrap();
        assert_eq!(report.delivered, 1, "{file}");
        assert_eq!(env.aws.inbox(&connection_id), vec![expected], "{file}");
        env.store().delete_connection(&connection_id).await.unwrap();
    }
}

/// DynamoDB answers a `Query` in pages of at most 1 MB: a user whose connections take
/// more than that is still told everywhere. Long connection ids reach 1 MB with a few
/// hundred connections.
#[tokio::test]
async fn every_connection_is_found_when_they_take_more_than_one_query_page() {
    const CONNECTIONS: usize = 400;
    let env = TestEnv::with_demo().await;
    let connection_id = |n: usize| format!("{n:04}{}", "c".repeat(1000));
    let writes = (0..CONNECTIONS).map(|n| {
        let connection = Connection {
            connection_id: connection_id(n),
            user: id(SAM),
            connected_at: now_timestamp(),
            ttl: epoch_seconds_in(7200),
        };
        let store = env.direct.clone();
        async move { store.put_connection(&connection).await.expect("stored") }
    });
    futures::stream::iter(writes).buffer_unordered(16).collect::<Vec<()>>().await;
    let one = env.partition(&aws::store::inspect::connection_key(&connection_id(0)).0).await;
    let bytes = item_size(&one[0]) * CONNECTIONS;
    assert!(bytes > 1_100_000, "the connections take {bytes} bytes, more than one page");

    let found = env.store().connections_of(id(SAM)).await.expect("connections");
    let ids: std::collections::BTreeSet<String> = found.into_iter().map(|c| c.connection_id).collect();
    assert_eq!(ids.len(), CONNECTIONS, "connections found");
    assert!(ids == (0..CONNECTIONS).map(connection_id).collect(), "the found connections are the stored ones");
}

/// 50 requesters, each with a connection, each accepted: every connection gets its
/// acceptance before its score, on the direct path and when the sweeper delivers.
#[tokio::test]
async fn the_events_of_one_change_reach_each_connection_in_the_contracts_order() {
    let mut fixture = dev::fixture::Fixture::parse(&dev::kit::demo_fixture().to_string()).unwrap();
    fixture.requests.clear();
    let users: Vec<ObjectId> =
        (0..50).map(|n| ObjectId::parse(&format!("69d{n:021x}")).expect("a generated id")).collect();
    fixture.users.extend(users.iter().map(|u| domain::User {
        id: *u,
        username: format!("user{u}"),
        name: "A user".into(),
        photo: None,
    }));
    let env = TestEnv::with_loaded(fixture).await;
    let api = env.api();
    for (n, user) in users.iter().enumerate() {
        let user = user.to_string();
        connect(&env, &user, &format!("requester-{n}")).await;
        let (status, created) = api.create(&user, CHAT1).await;
        assert_eq!(status, 201, "{created}");
        // Half through the direct path, half left to the sweeper.
        env.aws.fail_publishing(n % 2 == 1);
        let request = created["request"]["_id"].as_str().unwrap();
        assert_eq!(api.decide(AMY, request, "accepted").await.0, 200);
        env.aws.fail_publishing(false);
    }
    env.sweep_until_empty().await;
    // EventBridge promises no order between entries, and the notifier's invocations run
    // at once: here, the worst case, every entry in the reverse of its publishing order.
    let mut deliveries = env.aws.take_deliveries();
    deliveries.reverse();
    for delivery in deliveries {
        notifier::handle(env.store(), &env.aws.pusher, "test", delivery).await.expect("pushed");
    }
    for n in 0..users.len() {
        let names: Vec<String> = env
            .aws
            .inbox(&format!("requester-{n}"))
            .iter()
            .map(|m| m["event"].as_str().unwrap_or_default().to_owned())
            .collect();
        assert_eq!(names, ["chat-request-accepted", "score-updated"], "requester {n}");
    }
}
