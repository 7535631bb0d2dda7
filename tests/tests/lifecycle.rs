//! A request's whole life beyond create and decide: the requester's message, the
//! admin's reason, the requester withdrawing, and the events that tell everyone, through
//! the handlers against DynamoDB Local and the notifier to real stand-in connections.

use integration_tests::{connect, id, route_published, TestEnv};
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
        assert!(env.items_of(&format!("USER#{RAJ}"), "PENDING#").await.is_empty());
    }
}
