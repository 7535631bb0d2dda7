//! A request's whole life beyond create and decide: the requester's message, the
//! admin's reason, the requester withdrawing, and the events that tell everyone, through
//! the handlers against DynamoDB Local and the notifier to real stand-in connections.

use dev::kit::{connect, id, route_published, TestEnv};
use serde_json::{json, Value};

const AMY: &str = "65a000000000000000000001";
const BEN: &str = "65a000000000000000000002";
const RAJ: &str = "65a000000000000000000005";
const SAM: &str = "65a000000000000000000007";
const CHAT1: &str = "65b000000000000000000001";
const DEMO_REQUEST: &str = "65d000000000000000000001";

fn assert_error(result: &(u16, Value), status: u16, code: &str) {
    assert_eq!((result.0, result.1["code"].as_str()), (status, Some(code)), "{}", result.1);
}

fn events(inbox: &[Value], name: &str) -> Vec<Value> {
    inbox.iter().filter(|m| m["event"] == name).cloned().collect()
}

#[tokio::test]
async fn a_message_is_trimmed_stored_and_shown_to_the_admins() {
    let env = TestEnv::with_demo().await;
    connect(&env, AMY, "amy").await;
    let api = env.api();
    let (status, body) = api.create_raw(SAM, Some(json!({"chat": CHAT1, "message": "  I write Rust daily.  "}))).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["request"]["message"], "I write Rust daily.");
    let id = body["request"]["_id"].as_str().unwrap();
    assert_eq!(api.get(SAM, id).await.1["request"]["message"], "I write Rust daily.");
    route_published(&env).await;
    let told = events(&env.aws.inbox("amy"), "chat-join-request");
    assert_eq!(told.len(), 1);
    assert_eq!(told[0]["data"]["request"]["message"], "I write Rust daily.");

    let longest = "é".repeat(500);
    assert_eq!(api.create_raw(BEN, Some(json!({"chat": "65b000000000000000000002", "message": longest}))).await.0, 201);
    for message in [json!(""), json!("   "), json!("x".repeat(501)), json!(5), json!(["hi"])] {
        let result = api.create_raw(RAJ, Some(json!({"chat": "65b000000000000000000002", "message": message}))).await;
        assert_error(&result, 400, "INVALID_BODY");
    }
    let without = api.create(RAJ, "65b000000000000000000002").await;
    assert_eq!(without.0, 201);
    assert!(without.1["request"].get("message").is_none(), "no message, no field");
}

#[tokio::test]
async fn a_rejection_tells_the_requester_the_reason_and_every_admin_connection_that_it_closed() {
    let env = TestEnv::with_demo().await;
    connect(&env, AMY, "amy-phone").await;
    connect(&env, AMY, "amy-laptop").await;
    connect(&env, BEN, "ben").await;
    connect(&env, RAJ, "raj").await;
    let api = env.api();
    assert_error(
        &api.decide_raw(AMY, DEMO_REQUEST, Some(json!({"status": "accepted", "reason": "welcome"}))).await,
        400,
        "INVALID_BODY",
    );
    assert_error(
        &api.decide_raw(AMY, DEMO_REQUEST, Some(json!({"status": "rejected", "reason": " "}))).await,
        400,
        "INVALID_BODY",
    );
    let (status, body) = api
        .decide_raw(AMY, DEMO_REQUEST, Some(json!({"status": "rejected", "reason": " Not a Rust chat for now. "})))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["request"]["reason"], "Not a Rust chat for now.");
    route_published(&env).await;

    let rejected = events(&env.aws.inbox("raj"), "chat-request-rejected");
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0]["data"]["request"]["reason"], "Not a Rust chat for now.");
    assert_eq!(rejected[0]["data"]["request"]["status"], "rejected");
    assert_eq!(rejected[0]["data"]["request"]["chat"]["areYouAdmin"], false);
    for connection in ["amy-phone", "amy-laptop", "ben"] {
        let closed = events(&env.aws.inbox(connection), "chat-join-request-closed");
        assert_eq!(closed.len(), 1, "{connection}: the decider's other connection too");
        assert_eq!(
            closed[0]["data"]["request"],
            json!({"_id": DEMO_REQUEST, "chat": CHAT1, "user": RAJ, "status": "rejected",
                   "updatedAt": body["request"]["updatedAt"], "decidedBy": AMY, "decidedAt": body["request"]["decidedAt"]})
        );
    }
    assert!(events(&env.aws.inbox("raj"), "chat-join-request-closed").is_empty(), "the requester is not an admin");
}

#[tokio::test]
async fn an_acceptance_closes_the_request_for_every_admin() {
    let env = TestEnv::with_demo().await;
    connect(&env, AMY, "amy").await;
    connect(&env, BEN, "ben").await;
    assert_eq!(env.api().decide(BEN, DEMO_REQUEST, "accepted").await.0, 200);
    route_published(&env).await;
    for connection in ["amy", "ben"] {
        let closed = events(&env.aws.inbox(connection), "chat-join-request-closed");
        assert_eq!(closed.len(), 1, "{connection}");
        assert_eq!(closed[0]["data"]["request"]["status"], "accepted");
    }
}

#[tokio::test]
async fn withdrawing_cancels_frees_the_pending_rule_dismisses_and_tells_the_admins() {
    let env = TestEnv::with_demo().await;
    connect(&env, AMY, "amy").await;
    connect(&env, BEN, "ben").await;
    let api = env.api();
    assert_error(&api.withdraw(SAM, DEMO_REQUEST).await, 404, "REQUEST_NOT_FOUND");
    assert_error(&api.withdraw(AMY, DEMO_REQUEST).await, 404, "REQUEST_NOT_FOUND");
    assert_error(&api.withdraw(RAJ, "not-an-id").await, 400, "INVALID_ID");
    assert_error(&api.withdraw(RAJ, "65d0000000000000000000ff").await, 404, "REQUEST_NOT_FOUND");

    let (status, body) = api.withdraw(RAJ, DEMO_REQUEST).await;
    assert_eq!(status, 200, "{body}");
    let request = &body["request"];
    assert_eq!((request["status"].as_str(), request["_id"].as_str()), (Some("cancelled"), Some(DEMO_REQUEST)));
    assert!(request["updatedAt"].is_string() && request.get("decidedBy").is_none());
    assert_eq!(request["user"]["username"], "raj.example");
    assert_eq!(request["chat"]["_id"], CHAT1);
    assert_error(&api.withdraw(RAJ, DEMO_REQUEST).await, 409, "REQUEST_NOT_PENDING");
    assert_error(&api.decide(AMY, DEMO_REQUEST, "accepted").await, 409, "REQUEST_NOT_PENDING");

    route_published(&env).await;
    for (admin, connection) in [(AMY, "amy"), (BEN, "ben")] {
        let closed = events(&env.aws.inbox(connection), "chat-join-request-closed");
        assert_eq!(closed.len(), 1, "{connection}");
        assert_eq!(closed[0]["data"]["request"]["status"], "cancelled");
        let note = env.notifications_of(admin).await.into_iter().find(|n| n["request"] == DEMO_REQUEST).unwrap();
        assert_eq!(note["dismissed"], true, "{admin}");
    }
    assert_eq!(api.list(RAJ, &[("status", "cancelled")]).await.1["count"], 1, "it stays in the history");
    assert_eq!(api.create(RAJ, CHAT1).await.0, 201, "the pending rule is freed");
}

#[tokio::test]
async fn withdrawing_and_accepting_at_once_exactly_one_wins_and_its_effects_happen_once() {
    for round in 0..5 {
        let env = TestEnv::with_demo().await;
        let api = env.api();
        let (withdrawn, accepted) =
            futures::join!(api.withdraw(RAJ, DEMO_REQUEST), api.decide(AMY, DEMO_REQUEST, "accepted"));
        let statuses = (withdrawn.0, accepted.0);
        assert!(statuses == (200, 409) || statuses == (409, 200), "round {round}: {statuses:?}");
        let stored = env.direct.request(id(DEMO_REQUEST)).await.unwrap().unwrap().request;
        let member = env.member(CHAT1, RAJ).await;
        let score = env.score(RAJ).await;
        if accepted.0 == 200 {
            assert_eq!(stored.status.as_str(), "accepted");
            assert!(member.is_some_and(|m| m.is_active()));
            assert_eq!(score.map(|s| s.total), Some(10));
        } else {
            assert_eq!(stored.status.as_str(), "cancelled");
            assert!(member.is_none() && score.is_none(), "round {round}: no effect of an accept that lost");
        }
        assert!(env.markers_of(RAJ).await.is_empty());
    }
}

// ---- the admins' queue -------------------------------------------------------------

const CAT: &str = "65a000000000000000000003"; // admin of chat 2; left chat 1 as admin
const DAN: &str = "65a000000000000000000004"; // plain member of chat 1
const CHAT2: &str = "65b000000000000000000002";

fn requester(n: usize) -> String {
    format!("6aa{n:021x}")
}

fn ids_of(page: &Value) -> Vec<String> {
    page["requests"].as_array().unwrap().iter().map(|r| r["_id"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn the_queue_is_for_active_admins_newest_first_with_counts_per_status_and_messages() {
    let mut fixture = dev::kit::demo_fixture();
    fixture["users"]
        .as_array_mut()
        .unwrap()
        .push(json!({"_id": requester(0), "username": "first", "name": "First", "photo": null}));
    let env = TestEnv::with_fixture(fixture).await;
    let api = env.api();
    let mut created = vec![DEMO_REQUEST.to_owned()];
    for n in 0..12 {
        let (status, body) =
            api.create_raw(&requester(n), Some(json!({"chat": CHAT1, "message": format!("hello {n}")}))).await;
        assert_eq!(status, 201, "{body}");
        created.push(body["request"]["_id"].as_str().unwrap().to_owned());
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    created.reverse();
    assert_eq!(api.decide(AMY, &created[0], "accepted").await.0, 200);
    assert_eq!(api.decide_raw(AMY, &created[1], Some(json!({"status": "rejected", "reason": "no"}))).await.0, 200);
    assert_eq!(api.withdraw(&requester(9), &created[2]).await.0, 200);

    let (status, all) = api.queue(AMY, CHAT1, &[]).await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(all["count"], 13);
    assert_eq!(ids_of(&all), created[..10], "newest first, 10 by default");
    let newest_pending = &all["requests"][3];
    assert_eq!(newest_pending["message"], "hello 8");
    assert_eq!(newest_pending["user"]["_id"], requester(8));
    assert_eq!(newest_pending["chat"], CHAT1);
    let first = all["requests"].as_array().unwrap().iter().find(|r| r["user"]["_id"] == requester(0));
    assert!(first.is_none(), "requester 0 is past the first page");

    let (_, pending) = api.queue(BEN, CHAT1, &[("status", "pending"), ("limit", "4"), ("page", "3")]).await;
    assert_eq!(pending["count"], 10);
    assert_eq!(ids_of(&pending), created[11..13], "page 3 of pending by 4: the 9th and 10th");
    assert_eq!(pending["requests"][1]["user"]["username"], "raj.example");
    let last_of_mine = &pending["requests"][0];
    assert_eq!(
        (last_of_mine["user"]["username"].as_str(), last_of_mine["message"].as_str()),
        (Some("first"), Some("hello 0"))
    );
    for (status, count) in [("accepted", 1), ("rejected", 1), ("cancelled", 1), ("expired", 0)] {
        let (_, page) = api.queue(AMY, CHAT1, &[("status", status)]).await;
        assert_eq!(page["count"], count, "{status}");
        assert_eq!(page["requests"].as_array().unwrap().len(), count as usize, "{status}");
    }
    let (_, rejected) = api.queue(AMY, CHAT1, &[("status", "rejected")]).await;
    assert_eq!(rejected["requests"][0]["reason"], "no");
    let (_, past) = api.queue(AMY, CHAT1, &[("page", "50")]).await;
    assert_eq!((past["requests"].as_array().unwrap().len(), past["count"].as_u64()), (0, Some(13)));

    assert_error(&api.queue(DAN, CHAT1, &[]).await, 403, "NOT_CHAT_ADMIN");
    assert_error(&api.queue(SAM, CHAT1, &[]).await, 403, "NOT_CHAT_MEMBER");
    assert_error(&api.queue(CAT, CHAT1, &[]).await, 403, "NOT_CHAT_MEMBER");
    assert_error(&api.queue(AMY, "65b0000000000000000000ff", &[]).await, 404, "CHAT_NOT_FOUND");
    assert_error(&api.queue(AMY, "nope", &[]).await, 400, "INVALID_ID");
    assert_error(&api.queue(AMY, CHAT1, &[("limit", "0")]).await, 400, "INVALID_QUERY");
    assert_error(&api.queue(AMY, CHAT1, &[("status", "maybe")]).await, 400, "INVALID_QUERY");
    assert_eq!(api.queue(CAT, CHAT2, &[]).await.1["count"], 0, "an admin of another chat sees its own");
}

// ---- bulk decisions ----------------------------------------------------------------

#[tokio::test]
async fn a_bulk_decision_gives_each_request_its_own_result_in_the_order_given() {
    let env = TestEnv::with_demo().await;
    let api = env.api();
    let mut pending = Vec::new();
    for n in 0..97 {
        let (status, body) = api.create(&requester(n), CHAT1).await;
        assert_eq!(status, 201);
        pending.push(body["request"]["_id"].as_str().unwrap().to_owned());
    }
    assert_eq!(api.decide(AMY, &pending[0], "rejected").await.0, 200);
    let (_, other) = api.create(SAM, CHAT2).await;
    let other_chat = other["request"]["_id"].as_str().unwrap().to_owned();
    let unknown = "6ad000000000000000000001".to_owned();
    let mut ids: Vec<String> = vec![pending[0].clone(), other_chat.clone(), unknown.clone(), DEMO_REQUEST.to_owned()];
    ids.extend(pending[1..].iter().cloned());
    assert_eq!(ids.len(), 100);

    let (status, body) = api.decide_many(BEN, CHAT1, json!({"status": "accepted", "requests": ids})).await;
    assert_eq!(status, 200, "{body}");
    let results = body["results"].as_array().unwrap();
    assert_eq!(results.len(), 100);
    for (result, id) in results.iter().zip(&ids) {
        assert_eq!(result["_id"], id.as_str(), "in the order given");
    }
    assert_eq!((results[0]["status"].as_u64(), results[0]["code"].as_str()), (Some(409), Some("REQUEST_NOT_PENDING")));
    assert_eq!(
        (results[1]["status"].as_u64(), results[1]["code"].as_str()),
        (Some(404), Some("REQUEST_NOT_FOUND")),
        "another chat's"
    );
    assert_eq!((results[2]["status"].as_u64(), results[2]["code"].as_str()), (Some(404), Some("REQUEST_NOT_FOUND")));
    for result in &results[3..] {
        assert_eq!(result["status"], 200, "{result}");
        assert_eq!(result["request"]["status"], "accepted");
        assert_eq!(result["request"]["chat"]["areYouAdmin"], true);
        assert!(result.get("code").is_none());
    }
    assert_eq!(env.chat(CHAT1).await.chat.participants_count, 3 + 97);
    assert_eq!(env.direct.request(id(&other_chat)).await.unwrap().unwrap().request.status.as_str(), "pending");
    assert_eq!(api.queue(AMY, CHAT1, &[("status", "accepted")]).await.1["count"], 97);
}

#[tokio::test]
async fn bulk_decisions_refuse_bad_bodies_and_non_admins_before_deciding_anything() {
    let env = TestEnv::with_demo().await;
    let api = env.api();
    let too_many: Vec<String> = (0..101).map(|n| format!("6ab{n:021x}")).collect();
    for body in [
        json!({"status": "accepted", "requests": []}),
        json!({"status": "accepted", "requests": too_many}),
        json!({"status": "accepted", "requests": [DEMO_REQUEST, DEMO_REQUEST]}),
        json!({"status": "pending", "requests": [DEMO_REQUEST]}),
        json!({"status": "accepted", "requests": [DEMO_REQUEST], "reason": "x"}),
        json!({"status": "accepted"}),
        json!([DEMO_REQUEST]),
    ] {
        assert_error(&api.decide_many(AMY, CHAT1, body.clone()).await, 400, "INVALID_BODY");
    }
    assert_error(
        &api.decide_many(AMY, CHAT1, json!({"status": "accepted", "requests": ["nope"]})).await,
        400,
        "INVALID_ID",
    );
    let body = json!({"status": "accepted", "requests": [DEMO_REQUEST]});
    assert_error(&api.decide_many(AMY, "nope", body.clone()).await, 400, "INVALID_ID");
    assert_error(&api.decide_many(AMY, "65b0000000000000000000ff", body.clone()).await, 404, "CHAT_NOT_FOUND");
    assert_error(&api.decide_many(DAN, CHAT1, body.clone()).await, 403, "NOT_CHAT_ADMIN");
    assert_error(&api.decide_many(CAT, CHAT1, body.clone()).await, 403, "NOT_CHAT_MEMBER");
    assert_error(&api.decide_many(SAM, CHAT1, body.clone()).await, 403, "NOT_CHAT_MEMBER");
    assert_eq!(env.direct.request(id(DEMO_REQUEST)).await.unwrap().unwrap().request.status.as_str(), "pending");
}

#[tokio::test]
async fn two_admins_bulk_accepting_overlapping_sets_at_once_decide_each_request_once() {
    let env = TestEnv::with_demo().await;
    let api = env.api();
    let mut ids = Vec::new();
    for n in 0..60 {
        let (_, body) = api.create(&requester(n), CHAT1).await;
        ids.push(body["request"]["_id"].as_str().unwrap().to_owned());
    }
    let (first, second) = (&ids[..40], &ids[20..]);
    let (a, b) = futures::join!(
        api.decide_many(AMY, CHAT1, json!({"status": "accepted", "requests": first})),
        api.decide_many(BEN, CHAT1, json!({"status": "accepted", "requests": second})),
    );
    assert_eq!((a.0, b.0), (200, 200));
    let mut won: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for result in a.1["results"].as_array().unwrap().iter().chain(b.1["results"].as_array().unwrap()) {
        match result["status"].as_u64() {
            Some(200) => *won.entry(result["_id"].as_str().unwrap().to_owned()).or_default() += 1,
            Some(409) => assert_eq!(result["code"], "REQUEST_NOT_PENDING"),
            other => panic!("{other:?}: {result}"),
        }
    }
    assert_eq!(won.len(), 60, "every request decided");
    assert!(won.values().all(|n| *n == 1), "each once");
    assert_eq!(env.chat(CHAT1).await.chat.participants_count, 3 + 60);
    for n in 0..60 {
        let score = env.score(&requester(n)).await.unwrap();
        assert_eq!(score.actions["join-group-chat"].count, 1);
    }
    assert_eq!(env.members(CHAT1).await.len(), 5 + 60, "one entry each");
}

// ---- the rejection cooldown --------------------------------------------------------

#[tokio::test]
async fn within_the_cooldown_a_rejected_requester_gets_429_with_retry_after_and_after_it_201() {
    let mut env = TestEnv::with_demo().await;
    env.app.rules.rejection_cooldown_seconds = 3;
    let api = env.api();
    assert_eq!(api.decide(AMY, DEMO_REQUEST, "rejected").await.0, 200);
    let event = dev::kit::rest_event(
        "POST",
        "/requests",
        Some(&format!("Bearer {}", dev::kit::token(RAJ))),
        &[],
        Some(json!({ "chat": CHAT1 })),
    );
    let response = create_request::handle(&env.app, &env.aws.publisher, dev::kit::request_from(&event)).await;
    let header = dev::kit::retry_after(&response);
    let (status, body) = dev::kit::answer(&event, response);
    assert_eq!((status, body["code"].as_str()), (429, Some("REQUEST_COOLDOWN")), "{body}");
    let retry_after = body["retryAfter"].as_u64().expect("retryAfter in the body");
    assert!((1..=3).contains(&retry_after), "{retry_after}");
    assert_eq!(header, Some(retry_after.to_string()), "and in Retry-After");
    assert!(env.markers_of(RAJ).await[0].get("request").is_none(), "no pending request");
    assert_eq!(api.create(SAM, CHAT1).await.0, 201, "others are not affected");

    tokio::time::sleep(std::time::Duration::from_secs(retry_after)).await;
    let (status, body) = api.create(RAJ, CHAT1).await;
    assert_eq!(status, 201, "after the cooldown: {body}");
    assert_error(&api.create(RAJ, CHAT1).await, 409, "REQUEST_ALREADY_PENDING");
}

#[tokio::test]
async fn with_the_cooldown_off_a_rejected_requester_may_ask_again_at_once_and_withdrawing_has_no_cooldown() {
    let mut env = TestEnv::with_demo().await;
    assert_eq!(env.app.rules.rejection_cooldown_seconds, 0, "off by default");
    let api = env.api();
    assert_eq!(api.decide(AMY, DEMO_REQUEST, "rejected").await.0, 200);
    let (status, body) = api.create(RAJ, CHAT1).await;
    assert_eq!(status, 201, "{body}");
    env.app.rules.rejection_cooldown_seconds = 3600;
    let api = env.api();
    assert_eq!(api.withdraw(RAJ, body["request"]["_id"].as_str().unwrap()).await.0, 200);
    assert_eq!(api.create(RAJ, CHAT1).await.0, 201, "the last request was withdrawn, not rejected");
}

// ---- expiry ------------------------------------------------------------------------

const LEA: &str = "65a000000000000000000006";

#[tokio::test]
async fn expiry_closes_what_is_due_frees_the_pending_rule_tells_everyone_and_leaves_decided_ones_alone() {
    let env = TestEnv::with_demo().await;
    connect(&env, AMY, "amy").await;
    connect(&env, SAM, "sam").await;
    let api = env.api();
    let (_, sams) = api.create(SAM, CHAT1).await;
    let sams = sams["request"]["_id"].as_str().unwrap().to_owned();
    let (_, leas) = api.create(LEA, CHAT1).await;
    let leas = leas["request"]["_id"].as_str().unwrap().to_owned();
    // Older than the expiry by then; the young request made just before the run is not,
    // with 3 s to spare however slow this machine is at the moment.
    let expiry = std::time::Duration::from_secs(3);
    tokio::time::sleep(expiry + std::time::Duration::from_millis(200)).await;
    assert_eq!(api.decide(AMY, &leas, "accepted").await.0, 200, "decided before the expiry runs");
    let (_, young) = api.create(BEN, CHAT2).await;
    let young = young["request"]["_id"].as_str().unwrap().to_owned();

    let report = expire_requests::handle(&env.direct, &env.aws.publisher, expiry, "test").await.unwrap();
    assert_eq!((report.expired, report.failed), (2, 0), "sam's and the demo request; {report:?}");
    for (id, status) in [
        (sams.as_str(), "expired"),
        (DEMO_REQUEST, "expired"),
        (leas.as_str(), "accepted"),
        (young.as_str(), "pending"),
    ] {
        assert_eq!(
            env.direct.request(dev::kit::id(id)).await.unwrap().unwrap().request.status.as_str(),
            status,
            "{id}"
        );
    }
    route_published(&env).await;
    let expired = events(&env.aws.inbox("sam"), "chat-request-expired");
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0]["data"]["request"]["status"], "expired");
    let closed: Vec<String> = events(&env.aws.inbox("amy"), "chat-join-request-closed")
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e["data"]["request"]["_id"].as_str().unwrap(),
                e["data"]["request"]["status"].as_str().unwrap()
            )
        })
        .collect();
    for expected in [format!("{sams} expired"), format!("{DEMO_REQUEST} expired"), format!("{leas} accepted")] {
        assert!(closed.contains(&expected), "{expected} in {closed:?}");
    }
    assert!(env
        .notifications_of(AMY)
        .await
        .iter()
        .filter(|n| n["request"] != young.as_str())
        .all(|n| n["dismissed"] == true));
    assert_eq!(api.queue(AMY, CHAT1, &[("status", "expired")]).await.1["count"], 2);
    assert_eq!(api.create(SAM, CHAT1).await.0, 201, "the pending rule is freed");

    let hour = std::time::Duration::from_secs(3600);
    let again = expire_requests::handle(&env.direct, &env.aws.publisher, hour, "test").await.unwrap();
    assert_eq!((again.expired, again.skipped), (0, 0), "what was expired is out of the index: nothing twice");
}

// ---- catching up -------------------------------------------------------------------

fn ids(page: &Value) -> Vec<String> {
    page["events"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn a_user_offline_during_three_events_gets_exactly_those_in_order_after_the_last_one_seen() {
    let env = TestEnv::with_demo().await;
    let api = env.api();
    let (_, first) = api.create(SAM, CHAT1).await;
    assert_eq!(api.decide(AMY, first["request"]["_id"].as_str().unwrap(), "rejected").await.0, 200);
    env.sweep().await;
    let (_, seen) = api.events(SAM, &[]).await;
    assert_eq!(ids(&seen).len(), 1, "{seen}");
    let last_seen = ids(&seen)[0].clone();
    assert_eq!(seen["events"][0]["event"], "chat-request-rejected");

    // Offline: an acceptance (two events) and a rejection (one).
    let (_, second) = api.create(SAM, CHAT1).await;
    assert_eq!(api.decide(BEN, second["request"]["_id"].as_str().unwrap(), "accepted").await.0, 200);
    let (_, third) = api.create(SAM, CHAT2).await;
    assert_eq!(api.decide(CAT, third["request"]["_id"].as_str().unwrap(), "rejected").await.0, 200);
    env.sweep().await;
    let pushed: Vec<String> =
        env.aws.published().iter().filter(|e| e["to"] == SAM).map(|e| e["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(pushed.len(), 4);

    let (status, missed) = api.events(SAM, &[("after", &last_seen)]).await;
    assert_eq!(status, 200, "{missed}");
    let names: Vec<&str> = missed["events"].as_array().unwrap().iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["chat-request-accepted", "score-updated", "chat-request-rejected"],
        "in the order they were made"
    );
    assert_eq!(ids(&missed), pushed[1..], "the ids that were pushed");
    assert_eq!(missed["more"], false);
    let event = &missed["events"][2];
    assert_eq!(event["data"]["request"]["reason"], Value::Null);
    assert!(event["createdAt"].is_string());

    let (_, first_two) = api.events(SAM, &[("after", &last_seen), ("limit", "2")]).await;
    assert_eq!((ids(&first_two), first_two["more"].as_bool()), (pushed[1..3].to_vec(), Some(true)));
    let (_, rest) = api.events(SAM, &[("after", &ids(&first_two)[1]), ("limit", "2")]).await;
    assert_eq!((ids(&rest), rest["more"].as_bool()), (pushed[3..].to_vec(), Some(false)));
    let (_, all) = api.events(SAM, &[]).await;
    assert_eq!(ids(&all), pushed, "without after: the last 7 days");

    let (_, amys) = api.events(AMY, &[]).await;
    assert!(ids(&amys).iter().all(|id| !pushed.contains(id)), "another user's events never appear");
    assert_error(&api.events(AMY, &[("after", &last_seen)]).await, 404, "EVENT_NOT_FOUND");
    let sams_cursor = missed["cursor"].as_str().expect("a cursor").to_owned();
    assert_error(&api.events(AMY, &[("after", &sams_cursor)]).await, 404, "EVENT_NOT_FOUND");
    assert_error(&api.events(SAM, &[("after", "nope")]).await, 404, "EVENT_NOT_FOUND");
    for query in
        [vec![("limit", "0")], vec![("limit", "101")], vec![("after", "")], vec![("limit", "5"), ("limit", "6")]]
    {
        assert_error(&api.events(SAM, &query).await, 400, "INVALID_QUERY");
    }
}

#[tokio::test]
async fn an_event_is_listed_at_once_and_asking_after_one_just_pushed_is_no_error() {
    let env = TestEnv::with_demo().await;
    let api = env.api();
    let (_, created) = api.create(SAM, CHAT1).await;
    assert_eq!(api.decide(AMY, created["request"]["_id"].as_str().unwrap(), "rejected").await.0, 200);
    env.sweep().await;
    let (status, first) = api.events(SAM, &[]).await;
    assert_eq!((status, ids(&first).len()), (200, 1), "kept a moment ago, listed at once: {first}");
    let pushed = ids(&first)[0].clone();
    // A client that reconnects at once and asks after the event it was just pushed.
    let (status, after_push) = api.events(SAM, &[("after", &pushed)]).await;
    assert_eq!((status, ids(&after_push).len(), after_push["more"].as_bool()), (200, 0, Some(false)));
}

#[tokio::test]
async fn the_cursor_never_skips_an_event_kept_late_and_paging_drops_only_repeats() {
    let env = TestEnv::with_demo().await;
    let api = env.api();
    let written = |seconds_ago: f64| {
        let at = chrono::Utc::now() - chrono::Duration::milliseconds((seconds_ago * 1000.0) as i64);
        at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    };
    // 150 events of the last minute, then a reading of them 40 at a time.
    let mut all = Vec::new();
    for n in 0..150 {
        all.push(env.plant_kept_event(SAM, &written(60.0 - f64::from(n) * 0.39)).await.to_string());
    }
    let mut seen: Vec<String> = Vec::new();
    let mut cursor: Option<String> = None;
    let read = |page: &Value, seen: &mut Vec<String>| {
        for id in ids(page) {
            if !seen.contains(&id) {
                seen.push(id);
            }
        }
        page["cursor"].as_str().expect("a cursor").to_owned()
    };
    loop {
        let mut query = vec![("limit", "40")];
        if let Some(cursor) = &cursor {
            query.push(("after", cursor.as_str()));
        }
        let (status, page) = api.events(SAM, &query).await;
        assert_eq!(status, 200, "{page}");
        cursor = Some(read(&page, &mut seen));
        if page["more"] == false {
            break;
        }
    }
    assert_eq!(seen, all, "each once, in order");

    // While the client was reading, writes were in flight: visible only now, they are
    // placed a moment before what it read last. And new ones come after.
    let mut late = Vec::new();
    for n in 0..25 {
        late.push(env.plant_kept_event(SAM, &written(1.5 - f64::from(n) * 0.05)).await.to_string());
    }
    for n in 0..25 {
        late.push(env.plant_kept_event(SAM, &written(-1.0 - f64::from(n) * 0.01)).await.to_string());
    }
    let mut repeats = 0;
    loop {
        let (status, page) = api.events(SAM, &[("limit", "40"), ("after", cursor.as_deref().unwrap())]).await;
        assert_eq!(status, 200, "{page}");
        repeats += ids(&page).iter().filter(|id| seen.contains(id)).count();
        cursor = Some(read(&page, &mut seen));
        if page["more"] == false {
            break;
        }
    }
    let mut expected = all.clone();
    expected.extend(late);
    let mut got = seen.clone();
    got.sort();
    expected.sort();
    assert_eq!(got, expected, "nothing skipped, the late ones included");
    assert!(repeats <= 40, "repeats only of the last seconds: {repeats}");
}

#[tokio::test]
async fn an_after_older_than_7_days_is_not_found_even_before_its_ttl_removes_the_event() {
    let env = TestEnv::with_demo().await;
    let api = env.api();
    let eight_days_ago = domain::time::timestamp_seconds_ago(8 * 24 * 3600);
    let old = env.plant_kept_event(SAM, &eight_days_ago).await;
    let (status, body) = api.events(SAM, &[("after", &old.to_string())]).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("EVENT_NOT_FOUND")), "an old id");
    let cursor = aws::store::inspect::events_cursor_after(id(SAM), &eight_days_ago, old);
    let (status, body) = api.events(SAM, &[("after", &cursor)]).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("EVENT_NOT_FOUND")), "an old cursor");
    let (status, listed) = api.events(SAM, &[]).await;
    assert!(status == 200 && !ids(&listed).contains(&old.to_string()), "nor is it listed from the start");
}

// ---- what the app's other services hear -------------------------------------------

#[tokio::test]
async fn every_change_of_a_request_is_published_once_with_the_contracts_detail() {
    let env = TestEnv::with_demo().await;
    let api = env.api();
    let made = |(status, body): (u16, Value)| {
        assert_eq!(status, 201, "{body}");
        body["request"]["_id"].as_str().unwrap().to_owned()
    };
    let accepted = made(api.create(SAM, CHAT1).await);
    assert_eq!(api.decide(AMY, &accepted, "accepted").await.0, 200);
    // EventBridge refusing everything for these: the sweeper publishes them later.
    env.aws.fail_publishing(true);
    let rejected = made(api.create(LEA, CHAT1).await);
    assert_eq!(api.decide(AMY, &rejected, "rejected").await.0, 200);
    let cancelled = made(api.create("69a000000000000000000001", CHAT1).await);
    assert_eq!(api.withdraw("69a000000000000000000001", &cancelled).await.0, 200);
    env.aws.fail_publishing(false);
    let expired = made(api.create("69a000000000000000000002", CHAT1).await);
    let report = expire_requests::handle(&env.direct, &env.aws.publisher, std::time::Duration::ZERO, "test");
    assert_eq!(report.await.unwrap().expired, 2, "this one and the demo request");
    env.sweep_until_empty().await;

    let changes = env.aws.changes();
    let ids: std::collections::BTreeSet<&str> = changes.iter().map(|(_, d)| d["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), changes.len(), "each change once");
    let of = |request: &str| {
        let mut types: Vec<&str> =
            changes.iter().filter(|(_, d)| d["request"]["_id"] == request).map(|(t, _)| t.as_str()).collect();
        types.sort_unstable();
        types
    };
    assert_eq!(of(&accepted), ["join-request.accepted", "join-request.created"]);
    assert_eq!(of(&rejected), ["join-request.created", "join-request.rejected"]);
    assert_eq!(of(&cancelled), ["join-request.cancelled", "join-request.created"]);
    assert_eq!(of(&expired), ["join-request.created", "join-request.expired"]);
    // The demo request's creation went out while the kit loaded the demo.
    assert_eq!(of(DEMO_REQUEST), ["join-request.expired"]);
    for (detail_type, detail) in &changes {
        let request = &detail["request"];
        let when = if detail_type.ends_with("created") { &request["createdAt"] } else { &request["updatedAt"] };
        assert_eq!(&detail["occurredAt"], when, "{detail_type}: when it happened");
        let stored = env.direct.request(id(request["_id"].as_str().unwrap())).await.unwrap().unwrap().request;
        if !detail_type.ends_with("created") {
            assert_eq!(request, &serde_json::to_value(&stored).unwrap(), "{detail_type}: the request as stored");
        }
    }
    let accepting = changes.iter().find(|(t, _)| t == "join-request.accepted").unwrap();
    assert_eq!(accepting.1["request"]["decidedBy"], AMY);
}
