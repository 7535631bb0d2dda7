//! Screening questions, blocks and the hourly limit on asking: every call through its
//! handler against DynamoDB Local, every answer checked against openapi.yaml.

use dev::fixture::{Fixture, FixtureChat};
use dev::kit::{connect, demo_fixture, route_published, TestEnv};
use futures::future::join_all;
use serde_json::{json, Value};

const AMY: &str = "65a000000000000000000001"; // admin of chat 1
const BEN: &str = "65a000000000000000000002"; // admin of chat 1
const DAN: &str = "65a000000000000000000004"; // plain member of chat 1
const RAJ: &str = "65a000000000000000000005"; // has the demo pending request for chat 1
const LEA: &str = "65a000000000000000000006"; // left chat 1
const SAM: &str = "65a000000000000000000007"; // member of nothing
const CHAT1: &str = "65b000000000000000000001";
const NO_CHAT: &str = "65b0000000000000000000ff";
const DEMO_REQUEST: &str = "65d000000000000000000001";

fn assert_error(result: &(u16, Value), status: u16, code: &str) {
    assert_eq!(result.0, status, "{:?}", result.1);
    assert_eq!(result.1["code"], code, "{:?}", result.1);
}

/// Chat 1 asks two questions, the first required; their ids.
async fn two_questions(env: &TestEnv) -> (String, String) {
    let body = json!({"questions": [
        {"text": "  Why do you want to join?  ", "required": true},
        {"text": "Where are you from?", "required": false}]});
    let (status, set) = env.api().set_questions(AMY, CHAT1, body).await;
    assert_eq!(status, 200, "{set}");
    let id_of = |n: usize| set["questions"][n]["_id"].as_str().unwrap().to_owned();
    (id_of(0), id_of(1))
}

async fn create_with(env: &TestEnv, user: &str, body: Value) -> (u16, Value) {
    env.api().create_raw(user, Some(body)).await
}

#[tokio::test]
async fn questions_are_set_by_active_admins_and_read_by_anyone() {
    let env = TestEnv::with_demo().await;
    let api = env.api();
    assert_eq!(api.questions(SAM, CHAT1).await, (200, json!({"questions": []})), "none set yet");
    let (why, from) = two_questions(&env).await;
    let (status, read) = api.questions(SAM, CHAT1).await;
    assert_eq!(status, 200);
    assert_eq!(read["questions"][0], json!({"_id": why, "text": "Why do you want to join?", "required": true}));
    assert_eq!(read["questions"][1]["_id"], from.as_str());

    let one = |text: String| json!({"questions": [{"text": text, "required": false}]});
    assert_error(&api.set_questions(DAN, CHAT1, one("q".into())).await, 403, "NOT_CHAT_ADMIN");
    assert_error(&api.set_questions(SAM, CHAT1, one("q".into())).await, 403, "NOT_CHAT_MEMBER");
    assert_error(&api.set_questions(LEA, CHAT1, one("q".into())).await, 403, "NOT_CHAT_MEMBER");
    assert_error(&api.set_questions(AMY, NO_CHAT, one("q".into())).await, 404, "CHAT_NOT_FOUND");
    assert_error(&api.questions(SAM, NO_CHAT).await, 404, "CHAT_NOT_FOUND");
    assert_error(&api.set_questions(AMY, CHAT1, one(" ".into())).await, 400, "INVALID_BODY");
    assert_error(&api.set_questions(AMY, CHAT1, one("𝄞".repeat(301))).await, 400, "INVALID_BODY");
    let six = json!({"questions": vec![json!({"text": "q", "required": true}); 6]});
    assert_error(&api.set_questions(AMY, CHAT1, six).await, 400, "INVALID_BODY");
    assert_error(&api.set_questions(AMY, CHAT1, json!({"questions": [{"text": "q"}]})).await, 400, "INVALID_BODY");
    let five = json!({"questions": vec![json!({"text": "𝄞".repeat(300), "required": false}); 5]});
    assert_eq!(api.set_questions(BEN, CHAT1, five).await.0, 200, "5 of 300 characters");
    assert_eq!(api.set_questions(AMY, CHAT1, json!({"questions": []})).await, (200, json!({"questions": []})));
    assert_eq!(api.questions(SAM, CHAT1).await.1, json!({"questions": []}), "0 clears them");
}

#[tokio::test]
async fn answers_are_checked_kept_as_asked_and_shown_to_requester_and_admins() {
    let env = TestEnv::with_demo().await;
    connect(&env, AMY, "amy").await;
    let (why, from) = two_questions(&env).await;
    let answer = |question: &str, text: &str| json!({"question": question, "answer": text});
    let ask = |answers: Value| json!({"chat": CHAT1, "answers": answers});
    let unknown = "6c00000000000000000000ff";
    assert_error(&create_with(&env, SAM, json!({"chat": CHAT1})).await, 400, "INVALID_ANSWERS");
    assert_error(&create_with(&env, SAM, ask(json!([answer(&from, "Lyon")]))).await, 400, "INVALID_ANSWERS");
    let twice = ask(json!([answer(&why, "a"), answer(&why, "b")]));
    assert_error(&create_with(&env, SAM, twice).await, 400, "INVALID_ANSWERS");
    let extra = ask(json!([answer(&why, "a"), answer(unknown, "b")]));
    assert_error(&create_with(&env, SAM, extra).await, 400, "INVALID_ANSWERS");
    assert_error(&create_with(&env, SAM, ask(json!([answer("nope", "a")]))).await, 400, "INVALID_ANSWERS");
    assert_error(&create_with(&env, SAM, ask(json!([answer(&why, "  ")]))).await, 400, "INVALID_BODY");
    assert_error(&create_with(&env, SAM, ask(json!({"question": why}))).await, 400, "INVALID_BODY");
    assert!(env.markers_of(SAM).await.is_empty(), "nothing refused was written");

    let (status, created) =
        create_with(&env, SAM, ask(json!([answer(&from, " Lyon "), answer(&why, "To learn Rust")]))).await;
    assert_eq!(status, 201, "{created}");
    let expected = json!([
        {"question": why, "text": "Why do you want to join?", "answer": "To learn Rust"},
        {"question": from, "text": "Where are you from?", "answer": "Lyon"},
    ]);
    assert_eq!(created["request"]["answers"], expected, "in the questions' order, trimmed");
    let request = created["request"]["_id"].as_str().unwrap().to_owned();

    // The questions change: the request keeps them as they were asked.
    let new = json!({"questions": [{"text": "Something else?", "required": true}]});
    assert_eq!(env.api().set_questions(AMY, CHAT1, new).await.0, 200);
    assert_eq!(env.api().get(SAM, &request).await.1["request"]["answers"], expected);
    let (_, queue) = env.api().queue(AMY, CHAT1, &[("status", "pending")]).await;
    let queued = queue["requests"].as_array().unwrap().iter().find(|r| r["_id"] == request.as_str()).unwrap();
    assert_eq!(queued["answers"], expected);
    let (_, created_change) =
        env.aws.changes().into_iter().find(|(kind, _)| kind == "join-request.created").expect("a domain event");
    route_published(&env).await;
    let told = env.aws.inbox("amy");
    let join = told.iter().find(|e| e["event"] == "chat-join-request").expect("the admin is told");
    assert_eq!(join["data"]["request"]["answers"], expected);
    assert_eq!(
        created_change["request"]["answers"],
        json!([{"question": why, "answer": "To learn Rust"}, {"question": from, "answer": "Lyon"}]),
        "the bus carries the answers by question id"
    );
    // The old question ids are unknown now.
    let stale = ask(json!([answer(&why, "again")]));
    assert_error(&create_with(&env, DAN, stale).await, 400, "INVALID_ANSWERS");
}

#[tokio::test]
async fn a_blocked_user_cannot_ask_until_unblocked_and_the_list_pages_with_an_exact_count() {
    let env = TestEnv::with_demo().await;
    let api = env.api();
    let (status, blocked) = api.block(AMY, CHAT1, SAM, Some(json!({"reason": "spam"}))).await;
    assert_eq!(status, 200, "{blocked}");
    let block = &blocked["block"];
    assert_eq!((block["user"].as_str(), block["blockedBy"].as_str()), (Some(SAM), Some(AMY)));
    assert_eq!(block["reason"], "spam");
    assert_error(&api.create(SAM, CHAT1).await, 403, "REQUEST_BLOCKED");
    let again = api.block(BEN, CHAT1, SAM, None).await;
    assert_eq!(again, (200, blocked.clone()), "blocking twice keeps the first block");

    assert_error(&api.block(AMY, CHAT1, DAN, None).await, 409, "ALREADY_PARTICIPANT");
    assert_error(&api.block(AMY, CHAT1, AMY, None).await, 409, "ALREADY_PARTICIPANT");
    assert_error(&api.block(DAN, CHAT1, SAM, None).await, 403, "NOT_CHAT_ADMIN");
    assert_error(&api.block(SAM, CHAT1, LEA, None).await, 403, "NOT_CHAT_MEMBER");
    assert_error(&api.block(AMY, NO_CHAT, SAM, None).await, 404, "CHAT_NOT_FOUND");
    assert_error(&api.block(AMY, CHAT1, "nope", None).await, 400, "INVALID_ID");
    assert_error(&api.block(AMY, CHAT1, SAM, Some(json!({"reason": ""}))).await, 400, "INVALID_BODY");
    assert_error(&api.blocks(DAN, CHAT1, &[]).await, 403, "NOT_CHAT_ADMIN");
    assert_error(&api.blocks(AMY, CHAT1, &[("limit", "0")]).await, 400, "INVALID_QUERY");

    // A user who left the chat may be blocked; 6 blocks in all, listed newest first.
    let others: Vec<String> = (0..5).map(|n| format!("65a0000000000000000001{n:02x}")).collect();
    assert_eq!(api.block(AMY, CHAT1, LEA, None).await.0, 200);
    for user in &others[..4] {
        assert_eq!(api.block(BEN, CHAT1, user, None).await.0, 200);
    }
    let (status, page) = api.blocks(AMY, CHAT1, &[("limit", "4")]).await;
    assert_eq!((status, page["count"].as_u64()), (200, Some(6)));
    let users: Vec<&str> = page["blocks"].as_array().unwrap().iter().map(|b| b["user"].as_str().unwrap()).collect();
    assert_eq!(users, [&others[3], &others[2], &others[1], &others[0]].map(String::as_str));
    let (_, second) = api.blocks(AMY, CHAT1, &[("limit", "4"), ("page", "2")]).await;
    let users: Vec<&str> = second["blocks"].as_array().unwrap().iter().map(|b| b["user"].as_str().unwrap()).collect();
    assert_eq!((users, second["count"].as_u64()), (vec![LEA, SAM], Some(6)));
    let (_, past) = api.blocks(AMY, CHAT1, &[("limit", "4"), ("page", "3")]).await;
    assert_eq!(past, json!({"blocks": [], "count": 6}));

    let (status, lifted) = api.unblock(BEN, CHAT1, SAM).await;
    assert_eq!((status, &lifted), (200, &blocked), "the answer is the block as it was");
    assert_error(&api.unblock(BEN, CHAT1, SAM).await, 404, "BLOCK_NOT_FOUND");
    assert_error(&api.unblock(DAN, CHAT1, LEA).await, 403, "NOT_CHAT_ADMIN");
    assert_eq!(api.blocks(AMY, CHAT1, &[]).await.1["count"], 5);
    assert_eq!(api.create(SAM, CHAT1).await.0, 201, "unblocked: may ask again");
}

#[tokio::test]
async fn blocking_a_requester_rejects_the_pending_request_in_the_same_change() {
    let env = TestEnv::with_demo().await;
    connect(&env, RAJ, "raj").await;
    connect(&env, BEN, "ben").await;
    env.transactions.take();
    let (status, blocked) = env.api().block(AMY, CHAT1, RAJ, Some(json!({"reason": "abuse"}))).await;
    assert_eq!(status, 200, "{blocked}");
    route_published(&env).await;
    let (_, request) = env.api().get(RAJ, DEMO_REQUEST).await;
    assert_eq!(request["request"]["status"], "rejected");
    assert_eq!(
        (request["request"]["reason"].as_str(), request["request"]["decidedBy"].as_str()),
        (Some("abuse"), Some(AMY))
    );
    assert_eq!(request["request"]["decidedAt"], blocked["block"]["blockedAt"]);
    let told = env.aws.inbox("raj");
    assert_eq!(told.iter().map(|e| e["event"].as_str().unwrap()).collect::<Vec<_>>(), ["chat-request-rejected"]);
    assert_eq!(told[0]["data"]["request"]["reason"], "abuse");
    let closed: Vec<Value> =
        env.aws.inbox("ben").into_iter().filter(|e| e["event"] == "chat-join-request-closed").collect();
    assert_eq!(closed.len(), 1, "the other admins are told it closed");
    assert!(env.notifications_of(BEN).await.iter().all(|n| n["dismissed"] == true));
    assert_error(&env.api().create(RAJ, CHAT1).await, 403, "REQUEST_BLOCKED");
    let transactions = env.transactions.take();
    let sizes: Vec<usize> = transactions.iter().map(|t| t.transact_items().len()).collect();
    assert_eq!(sizes, [6], "the rejection and the block: one transaction of 6 items");
}

#[tokio::test]
async fn a_rejection_may_block_and_an_acceptance_may_not() {
    let env = TestEnv::with_demo().await;
    let api = env.api();
    let accept_block = api.decide_raw(AMY, DEMO_REQUEST, Some(json!({"status": "accepted", "block": true}))).await;
    assert_error(&accept_block, 400, "INVALID_BODY");
    let not_bool = api.decide_raw(AMY, DEMO_REQUEST, Some(json!({"status": "rejected", "block": "yes"}))).await;
    assert_error(&not_bool, 400, "INVALID_BODY");
    let (status, rejected) =
        api.decide_raw(AMY, DEMO_REQUEST, Some(json!({"status": "rejected", "reason": "no", "block": true}))).await;
    assert_eq!((status, rejected["request"]["status"].as_str()), (200, Some("rejected")), "{rejected}");
    assert_error(&api.create(RAJ, CHAT1).await, 403, "REQUEST_BLOCKED");
    let (_, page) = api.blocks(BEN, CHAT1, &[]).await;
    assert_eq!(page["count"], 1);
    assert_eq!((page["blocks"][0]["user"].as_str(), page["blocks"][0]["reason"].as_str()), (Some(RAJ), Some("no")));

    // In bulk: each rejection blocks its requester.
    assert_eq!(api.create(SAM, CHAT1).await.0, 201);
    let sam_request = env.api().list(SAM, &[]).await.1["requests"][0]["_id"].as_str().unwrap().to_owned();
    let body = json!({"status": "accepted", "requests": [sam_request], "block": true});
    assert_error(&api.decide_many(AMY, CHAT1, body).await, 400, "INVALID_BODY");
    let body = json!({"status": "rejected", "requests": [sam_request], "block": true});
    let (status, results) = api.decide_many(AMY, CHAT1, body).await;
    assert_eq!((status, results["results"][0]["status"].as_u64()), (200, Some(200)), "{results}");
    assert_error(&api.create(SAM, CHAT1).await, 403, "REQUEST_BLOCKED");
    assert_eq!(api.blocks(BEN, CHAT1, &[]).await.1["count"], 2);
}

#[tokio::test]
async fn creates_racing_a_block_never_leave_a_pending_request_of_the_blocked_user() {
    for round in 0..3 {
        let env = TestEnv::with_demo().await;
        let api = env.api();
        let creates = join_all((0..20).map(|_| api.create(SAM, CHAT1)));
        let block = api.block(AMY, CHAT1, SAM, None);
        let (created, blocked) = futures::join!(creates, block);
        assert_eq!(blocked.0, 200, "round {round}: {:?}", blocked.1);
        let made = created.iter().filter(|(status, _)| *status == 201).count();
        assert!(created.iter().all(|(status, _)| [201, 403, 409].contains(status)), "round {round}: {created:?}");
        assert!(made <= 1, "round {round}: one pending request at most was made");
        let (_, mine) = api.list(SAM, &[]).await;
        let statuses: Vec<&str> =
            mine["requests"].as_array().unwrap().iter().map(|r| r["status"].as_str().unwrap()).collect();
        assert!(!statuses.contains(&"pending"), "round {round}: {statuses:?}");
        assert_eq!(statuses.len(), made, "round {round}: a request made before the block was rejected by it");
        assert_error(&api.create(SAM, CHAT1).await, 403, "REQUEST_BLOCKED");
    }
}

/// The demo's users and chats, plus 50 restricted chats (`68b…01` to `68b…32`) of 3
/// participants each, user `68a…02` their admin.
fn fifty_chats() -> Fixture {
    let mut fixture = Fixture::parse(&demo_fixture().to_string()).unwrap();
    fixture.requests.clear();
    fixture.chats.extend((0..50).map(|c| FixtureChat::generated(c, 3, 1)));
    fixture
}

fn generated_chat(n: usize) -> String {
    format!("68b{:021x}", n + 1)
}

#[tokio::test]
async fn the_hourly_limit_holds_under_concurrency_counts_only_requests_made_and_is_per_user() {
    let mut env = TestEnv::with_loaded(fifty_chats()).await;
    env.app.rules.create_limit_per_hour = 30;
    let api = env.api();
    let chats: Vec<String> = (0..50).map(generated_chat).collect();
    let at_once = join_all(chats.iter().map(|chat| api.create(SAM, chat))).await;
    let made = at_once.iter().filter(|(status, _)| *status == 201).count();
    assert_eq!(made, 30, "exactly the limit of 50 at once");
    for refused in at_once.iter().filter(|(status, _)| *status != 201) {
        assert_error(refused, 429, "RATE_LIMITED");
        let retry_after = refused.1["retryAfter"].as_u64().unwrap();
        assert!((1..=3600).contains(&retry_after), "{retry_after}");
    }
    // A user made a request to every one of the first chats: a 409 counts nothing.
    let env2 = TestEnv::with_loaded(fifty_chats()).await;
    let mut env2 = env2;
    env2.app.rules.create_limit_per_hour = 3;
    let api2 = env2.api();
    assert_eq!(api2.create(SAM, &generated_chat(0)).await.0, 201);
    assert_error(&api2.create(SAM, &generated_chat(0)).await, 409, "REQUEST_ALREADY_PENDING");
    assert_error(&api2.create(SAM, &generated_chat(0)).await, 409, "REQUEST_ALREADY_PENDING");
    assert_eq!(api2.create(SAM, &generated_chat(1)).await.0, 201);
    assert_eq!(api2.create(SAM, &generated_chat(2)).await.0, 201, "the limit-th create");
    let (status, body) = api2.create(SAM, &generated_chat(3)).await;
    assert_error(&(status, body.clone()), 429, "RATE_LIMITED");
    assert!(body["message"].as_str().unwrap().contains("seconds"));
    assert_eq!(api2.create(DAN, &generated_chat(3)).await.0, 201, "another user is unaffected");
    env2.app.rules.create_limit_per_hour = 0;
    assert_eq!(env2.api().create(SAM, &generated_chat(3)).await.0, 201, "0 turns it off");
}
