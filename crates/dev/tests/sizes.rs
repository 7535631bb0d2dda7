//! Chats of any size and popular chats: generated fixtures (made here, never committed),
//! every call through its handler against DynamoDB Local, and the byte size of every
//! item, event, `PutEvents` call and response asserted against the contract's bounds.

use std::collections::{BTreeSet, HashMap, HashSet};

use aws::bus::{MAX_BYTES_PER_CALL, MAX_ENTRIES_PER_CALL};
use aws::store::inspect::{self, KeyOf};
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use dev::fixture::{Fixture, FixtureChat};
use dev::kit::Item;
use dev::kit::{connect, demo_fixture, id, route_published, TestEnv};
use domain::chat::SHOWN_PARTICIPANTS;
use domain::event::MAX_EVENT_BYTES;
use domain::{ObjectId, User};
use serde_json::{json, Value};

const AMY: &str = "65a000000000000000000001";
const BEN: &str = "65a000000000000000000002";
const SAM: &str = "65a000000000000000000007";
const CHAT1: &str = "65b000000000000000000001";
const BIG: &str = "68b000000000000000000001";

const KB: usize = 1024;
/// What an outbox item may take, whatever the number of admins: a sixth of DynamoDB's
/// 400 KB item limit.
const MAX_OUTBOX_BYTES: usize = 64 * KB;
/// What the contract allows a REST response at `limit=100`.
const MAX_PAGE_BYTES: usize = 2 * KB * KB;
/// `PostToConnection`'s limit.
const MAX_POST_BYTES: usize = 128 * KB;

fn user_id(n: usize) -> ObjectId {
    id(&format!("68a{n:021x}"))
}

/// The demo fixture (its chats and users), plus `chats` generated restricted chats of
/// `participants` active participants each, `admins` of them admins.
fn fixture_with_big_chats(chats: usize, participants: usize, admins: usize) -> Fixture {
    let mut fixture = Fixture::parse(&demo_fixture().to_string()).unwrap();
    fixture.requests.clear();
    fixture.chats.extend((0..chats).map(|c| FixtureChat::generated(c, participants, admins)));
    fixture
}

fn json_bytes(value: &Value) -> usize {
    value.to_string().len()
}

/// Every item a transaction writes, with its size.
fn written_items(transaction: &[TransactWriteItem]) -> Vec<Item> {
    transaction.iter().filter_map(|item| item.put.as_ref().map(|put| put.item().clone())).collect()
}

fn key_of(item: &TransactWriteItem) -> (String, String) {
    let key = match (&item.put, &item.update, &item.condition_check, &item.delete) {
        (Some(put), ..) => put.item(),
        (_, Some(update), ..) => update.key(),
        (_, _, Some(check), _) => check.key(),
        (_, _, _, Some(delete)) => delete.key(),
        _ => panic!("an empty transaction item"),
    };
    let text = |name: &str| match key.get(name) {
        Some(AttributeValue::S(text)) => text.clone(),
        other => panic!("key attribute {name}: {other:?}"),
    };
    (text("PK"), text("SK"))
}

fn assert_published_within_bounds(env: &TestEnv) {
    for (entries, bytes) in env.aws.recorder.calls.lock().unwrap().iter() {
        assert!(
            *entries <= MAX_ENTRIES_PER_CALL && *bytes <= MAX_BYTES_PER_CALL,
            "PutEvents of {entries} entries, {bytes} B"
        );
    }
    for event in env.aws.published() {
        let size = json_bytes(&event);
        assert!(size <= MAX_EVENT_BYTES, "{} of {size} B", event["event"]);
    }
    for (detail_type, detail) in env.aws.changes() {
        let size = json_bytes(&detail);
        assert!(size <= domain::event::MAX_CHANGE_BYTES, "{detail_type} of {size} B");
    }
}

#[tokio::test]
async fn a_chat_of_200000_participants_and_20_admins_works_within_every_bound() {
    let started = std::time::Instant::now();
    let env = TestEnv::with_loaded(fixture_with_big_chats(1, 200_000, 20)).await;
    eprintln!("200,000 participants loaded in {:.1} s", started.elapsed().as_secs_f64());
    let admins: Vec<ObjectId> = (0..200_000)
        .map(user_id)
        .filter(|u| {
            let n = usize::from_str_radix(&u.to_string()[3..], 16).unwrap();
            n % 10_000 == 9_999
        })
        .collect();
    assert_eq!(admins.len(), 20);
    for (n, admin) in admins.iter().enumerate() {
        connect(&env, &admin.to_string(), &format!("admin-{n}")).await;
    }
    connect(&env, SAM, "sam").await;
    let api = env.api();

    // The largest create there is: 5 questions of 300 four-byte characters, each
    // answered with 500, and a message of 500.
    let questions: Vec<Value> =
        (0..5).map(|n| json!({"text": format!("{n}{}", "𝄞".repeat(299)), "required": true})).collect();
    let (status, set) = api.set_questions(&admins[0].to_string(), BIG, json!({ "questions": questions })).await;
    assert_eq!(status, 200, "{set}");
    assert_eq!(env.transactions.take()[0].transact_items().len(), 2, "the admin checked, the questions put");
    let answers: Vec<Value> = set["questions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| json!({"question": q["_id"], "answer": "𝄞".repeat(500)}))
        .collect();
    let body = json!({"chat": BIG, "message": "𝄞".repeat(500), "answers": answers});
    let (status, body) = api.create_raw(SAM, Some(body)).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["request"]["answers"].as_array().map(Vec::len), Some(5));
    let request = body["request"]["_id"].as_str().unwrap().to_owned();

    env.sweep_until_empty().await;
    let transactions = env.transactions.take();
    let writes = transactions[0].transact_items();
    assert_eq!(writes.len(), 6, "entry check, marker, request, count shard, the requester's hourly counter, outbox");
    let notifying: Vec<usize> = transactions[1..].iter().map(|t| t.transact_items().len()).collect();
    assert_eq!(notifying, [1 + 20], "then the request checked and 20 notifications, once");
    for item in transactions.iter().flat_map(|t| written_items(t.transact_items())) {
        let size = dev::kit::item_size(&item);
        let entity = match item.get("entity") {
            Some(AttributeValue::S(e)) => e.clone(),
            _ => String::new(),
        };
        // A request keeps its answers with the questions' texts: at most 5 × (300 + 500)
        // characters of up to 4 bytes, beside a message of 500.
        let bound = match entity.as_str() {
            inspect::OUTBOX_ENTITY => MAX_OUTBOX_BYTES,
            "Request" => 24 * KB,
            _ => 8 * KB,
        };
        assert!(size <= bound, "{entity} item of {size} B");
    }
    assert!(
        transactions.iter().flat_map(|t| t.transact_items()).all(|w| key_of(w) != inspect::chat_key(id(BIG))),
        "a create never touches the chat item"
    );

    assert_published_within_bounds(&env);
    let told: BTreeSet<String> = env
        .aws
        .published()
        .iter()
        .filter(|e| e["event"] == "chat-join-request")
        .map(|e| e["to"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(told, admins.iter().map(ObjectId::to_string).collect(), "all 20 admins are told");
    route_published(&env).await;
    for n in 0..20 {
        let inbox = env.aws.inbox(&format!("admin-{n}"));
        assert_eq!(inbox.len(), 1, "admin-{n}");
        assert_eq!(inbox[0]["data"]["request"]["answers"].as_array().map(Vec::len), Some(5));
        let size = json_bytes(&inbox[0]);
        if n == 0 {
            eprintln!("chat-join-request with 100 participants shown and the largest answers: {size} B");
        }
        assert!(size <= MAX_POST_BYTES.min(MAX_EVENT_BYTES), "{size} B");
    }

    let shows_the_big_chat = |chat: &Value, count: u64| {
        let participants = chat["participants"].as_array().unwrap();
        assert_eq!(participants.len(), SHOWN_PARTICIPANTS);
        assert_eq!(chat["participantsCount"], count);
        let shown_admins: Vec<&str> = participants[..20].iter().map(|p| p["user"].as_str().unwrap()).collect();
        let expected: Vec<String> = admins.iter().map(ObjectId::to_string).collect();
        assert_eq!(shown_admins, expected, "the admins first, in the order they joined");
        assert!(participants[20..].iter().all(|p| p.get("isAdmin").is_none()));
        let others: Vec<&str> = participants[20..].iter().map(|p| p["_id"].as_str().unwrap()).collect();
        let mut sorted = others.clone();
        sorted.sort();
        assert_eq!(others, sorted, "then the others in the order they joined");
    };
    let (status, fetched) = api.get(SAM, &request).await;
    assert_eq!(status, 200);
    shows_the_big_chat(&fetched["request"]["chat"], 200_000);
    let (status, listed) = api.list(SAM, &[("limit", "100")]).await;
    assert_eq!(status, 200);
    shows_the_big_chat(&listed["requests"][0]["chat"], 200_000);
    assert!(json_bytes(&fetched) <= 32 * KB, "GET is {} B", json_bytes(&fetched));

    let (status, decided) = api.decide(&admins[3].to_string(), &request, "accepted").await;
    assert_eq!(status, 200, "{decided}");
    let writes = env.transactions.take();
    assert_eq!(writes[0].transact_items().len(), 8, "a decision's size does not grow with the admins");
    shows_the_big_chat(&decided["request"]["chat"], 200_001);
    let entry = env.member(BIG, SAM).await.expect("the requester's entry is there");
    assert!(entry.is_active() && !entry.is_admin);
    assert_eq!(env.chat(BIG).await.chat.participants_count, 200_001);
    let (_, fetched) = api.get(SAM, &request).await;
    shows_the_big_chat(&fetched["request"]["chat"], 200_001);

    env.sweep().await;
    assert_published_within_bounds(&env);
    route_published(&env).await;
    let inbox = env.aws.inbox("sam");
    let names: Vec<&str> = inbox.iter().map(|m| m["event"].as_str().unwrap()).collect();
    assert_eq!(names, ["chat-request-accepted", "score-updated"]);
    assert!(inbox.iter().all(|m| json_bytes(m) <= MAX_EVENT_BYTES));
    assert_eq!(inbox[0]["data"]["chat"]["participantsCount"], 200_001);
    assert!(env.aws.recorder.calls.lock().unwrap().len() >= 2);
}

#[tokio::test]
async fn a_list_page_of_100_requests_over_full_chats_stays_under_2_mb() {
    let mut env = TestEnv::with_loaded(fixture_with_big_chats(100, 150, 5)).await;
    // One user asks 100 chats here: past the hourly limit, which is not what this measures.
    env.app.rules.create_limit_per_hour = 0;
    let api = env.api();
    for c in 0..100 {
        let (status, body) = api.create(SAM, &format!("68b{:021x}", c + 1)).await;
        assert_eq!(status, 201, "{body}");
    }
    let (status, page) = api.list(SAM, &[("limit", "100")]).await;
    assert_eq!((status, page["count"].as_u64()), (200, Some(100)));
    assert!(page["requests"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["chat"]["participants"].as_array().unwrap().len() == 100));
    let size = json_bytes(&page);
    eprintln!("a page of 100 requests over chats of 150: {size} B");
    assert!(size <= MAX_PAGE_BYTES, "{size} B");
    assert_published_within_bounds(&env);
}

#[tokio::test]
async fn a_chat_with_95_admins_takes_and_decides_requests_with_a_bounded_outbox() {
    let env = TestEnv::with_loaded(fixture_with_big_chats(1, 95, 95)).await;
    let api = env.api();
    // With a key, the largest create there is.
    let (status, body) = api.create_keyed(SAM, BIG, "to-the-big-chat").await;
    assert_eq!(status, 201, "{body}");
    // As the schedule would: on a loaded machine the call's own delivery (and a sweep's)
    // can run past its 1 s budget, and then the next sweep carries the outbox out.
    env.sweep_until_empty().await;
    let writes = env.transactions.take();
    assert_eq!(writes[0].transact_items().len(), 7, "the create: a fixed 6 items and the kept answer");
    let notified: Vec<usize> = writes[1..].iter().map(|w| w.transact_items().len()).collect();
    assert!(notified.contains(&96), "the notifications: the request checked and 95 written ({notified:?})");
    for n in 0..95 {
        let notes = env.notifications_of(&user_id(n).to_string()).await;
        assert_eq!((notes.len(), notes[0]["dismissed"].as_bool()), (1, Some(false)), "admin {n} notified once");
    }
    let outbox = written_items(writes[0].transact_items())
        .into_iter()
        .find(|item| matches!(item.get("entity"), Some(AttributeValue::S(e)) if e == inspect::OUTBOX_ENTITY))
        .expect("an outbox item");
    let size = dev::kit::item_size(&outbox);
    eprintln!("outbox of a request to 95 admins: {size} B");
    assert!(size <= MAX_OUTBOX_BYTES, "{size} B");
    let ids: BTreeSet<String> =
        env.aws.published().iter().map(|e| e["id"].as_str().unwrap_or_default().to_owned()).collect();
    assert_eq!(ids.len(), 95, "one event per admin (delivery is at least once: a retry may repeat one)");
    assert_published_within_bounds(&env);

    let request = body["request"]["_id"].as_str().unwrap();
    assert_eq!(api.decide(&user_id(0).to_string(), request, "accepted").await.0, 200);
    env.sweep_until_empty().await;
    for n in [0, 50, 94] {
        let notes = env.notifications_of(&user_id(n).to_string()).await;
        assert_eq!(notes.len(), 1);
        assert_eq!(notes[0]["dismissed"], true, "admin {n}'s notification is dismissed");
    }
}

#[tokio::test]
async fn a_thousand_users_asking_to_join_one_chat_at_once_all_succeed() {
    let mut fixture = Fixture::parse(&demo_fixture().to_string()).unwrap();
    fixture.requests.clear();
    let users: Vec<ObjectId> = (0..1000).map(user_id).collect();
    fixture.users.extend(users.iter().map(|u| User {
        id: *u,
        username: format!("user{u}"),
        name: "A user".into(),
        photo: None,
    }));
    let env = TestEnv::with_loaded(fixture).await;
    let api = env.api();
    let texts: Vec<String> = users.iter().map(ObjectId::to_string).collect();
    let results = futures::future::join_all(texts.iter().map(|user| api.create(user, CHAT1))).await;
    let statuses: HashMap<u16, usize> = results.iter().fold(HashMap::new(), |mut counts, (status, _)| {
        *counts.entry(*status).or_default() += 1;
        counts
    });
    assert_eq!(statuses, HashMap::from([(201, 1000)]), "{:?}", results.iter().find(|r| r.0 != 201));

    for user in &users[..50] {
        assert_eq!(env.store().requests_of(*user, None).await.unwrap().len(), 1, "one request each");
    }
    let request_ids: HashSet<&str> = results.iter().map(|(_, body)| body["request"]["_id"].as_str().unwrap()).collect();
    assert_eq!(request_ids.len(), 1000);
    // As the schedule would: a sweep whose deliveries this machine under load delays past
    // their budget leaves those items for the next one.
    env.sweep_until_empty().await;
    for admin in [AMY, BEN] {
        let told: HashSet<String> = env
            .aws
            .published()
            .iter()
            .filter(|e| e["event"] == "chat-join-request" && e["to"] == admin)
            .map(|e| e["data"]["request"]["_id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(told.len(), 1000, "{admin} is told of every request");
        let notes = env.notifications_of(admin).await.len();
        assert_eq!(notes, 1000, "{admin} has a notification of every request");
    }
}

#[tokio::test]
async fn a_create_transaction_names_only_the_requesters_and_the_requests_items() {
    let env = TestEnv::with_demo().await;
    let api = env.api();
    let mut touched: Vec<HashSet<(String, String)>> = Vec::new();
    env.transactions.take();
    for requester in ["65a000000000000000000005", SAM, "65a000000000000000000006"] {
        let chat = if requester.ends_with('5') { "65b000000000000000000002" } else { CHAT1 };
        let (status, body) = api.create(requester, chat).await;
        assert_eq!(status, 201, "{body}");
        let request = body["request"]["_id"].as_str().unwrap();
        env.sweep_until_empty().await;
        // The create's, then its outbox's for the notifications.
        let transactions = env.transactions.take();
        assert_eq!(transactions.len(), 2);
        let check = &transactions[1].transact_items()[0];
        let (pk, sk) = key_of(check);
        assert!(
            check.condition_check.is_some() && matches!(KeyOf::parse(&pk, &sk), KeyOf::Request(r) if r == id(request)),
            "the notifications are written only while the request is pending"
        );
        let mut keys = HashSet::new();
        for write in transactions.iter().flat_map(|t| t.transact_items()) {
            let (pk, sk) = key_of(write);
            let written = write.put.as_ref().map(|put| put.item());
            let attribute = |name: &str| match written.and_then(|item| item.get(name)) {
                Some(AttributeValue::S(text)) => text.clone(),
                _ => String::new(),
            };
            let belongs = match KeyOf::parse(&pk, &sk) {
                KeyOf::Member { chat: c, user } => {
                    (c, user) == (id(chat), id(requester)) && write.condition_check.is_some()
                }
                KeyOf::Marker { user, chat: c } => (user, c) == (id(requester), id(chat)),
                KeyOf::Creates { user } => user == id(requester),
                KeyOf::Request(r) => r == id(request),
                KeyOf::Notification { .. } => attribute("request") == request,
                KeyOf::Outbox(outbox) => attribute("_id") == outbox.to_string(),
                // The chat's count shard that this request's id picks: one of 16, so two
                // creates share it one time in 16 (see docs/data-model.md).
                KeyOf::Count { .. } => (pk.clone(), sk.clone()) == inspect::request_count_key(id(chat), id(request)),
                _ => false,
            };
            assert!(belongs, "{requester}'s create names {pk} / {sk}, which is not theirs nor their request's");
            keys.insert((pk, sk));
        }
        touched.push(keys);
    }
    let shared_items: Vec<_> = touched[1].intersection(&touched[2]).collect();
    assert!(
        shared_items.iter().all(|(pk, sk)| matches!(KeyOf::parse(pk, sk), KeyOf::Count { .. })),
        "two creates for one chat share no item but, by chance, a count shard: {shared_items:?}"
    );
}

#[tokio::test]
async fn a_hundred_requests_accepted_at_once_by_two_admins_are_each_decided_once() {
    let mut fixture = Fixture::parse(&demo_fixture().to_string()).unwrap();
    fixture.requests.clear();
    let env = TestEnv::with_loaded(fixture).await;
    let api = env.api();
    let users: Vec<String> = (0..100).map(|n| user_id(n).to_string()).collect();
    let mut requests = Vec::new();
    for user in &users {
        let (status, body) = api.create(user, CHAT1).await;
        assert_eq!(status, 201);
        requests.push(body["request"]["_id"].as_str().unwrap().to_owned());
    }
    let before = env.chat(CHAT1).await.chat.participants_count;
    let decisions = requests
        .iter()
        .flat_map(|request| [api.decide(AMY, request, "accepted"), api.decide(BEN, request, "accepted")]);
    let results = futures::future::join_all(decisions).await;
    for pair in results.chunks(2) {
        let mut statuses = [pair[0].0, pair[1].0];
        statuses.sort();
        assert_eq!(statuses, [200, 409], "{pair:?}");
    }
    assert_eq!(results.iter().filter(|r| r.0 == 200).count(), 100);
    assert_eq!(env.chat(CHAT1).await.chat.participants_count, before + 100, "exactly 100 more");
    for user in &users {
        let score = env.score(user).await.expect("a score");
        assert_eq!((score.total, score.actions["join-group-chat"].count), (10, 1), "{user} counted once");
        assert!(env.member(CHAT1, user).await.is_some_and(|entry| entry.is_active()));
    }
    assert_eq!(env.members(CHAT1).await.len(), 5 + 100, "one entry each");
}

// ---- the score belongs to the whole app --------------------------------------------

#[tokio::test]
async fn accepting_adds_to_a_score_another_writer_made_and_leaves_its_fields_alone() {
    let raj = "65a000000000000000000005";
    let request = "65d000000000000000000001";
    for (name, stored, total_after, count_after) in [
        (
            "other actions, no version",
            json!({"total": 7, "actions": {"post-message": {"count": 7, "points": 7}}, "streak": 3}),
            17,
            1,
        ),
        ("no actions map", json!({"total": 2, "badge": "early"}), 12, 1),
        (
            "the action already counted elsewhere",
            json!({"total": 40, "actions": {"join-group-chat": {"count": 4, "points": 40}}, "version": 9}),
            50,
            5,
        ),
    ] {
        let env = TestEnv::with_demo().await;
        let mut item = stored.clone();
        item[inspect::ENTITY] = json!(inspect::SCORE_ENTITY);
        env.plant(inspect::score_key(id(raj)), item).await;

        let (status, body) = env.api().decide(AMY, request, "accepted").await;
        assert_eq!(status, 200, "{name}: {body}");
        let score = env.score_item(raj).await.expect("the score item");
        assert_eq!(score["total"], total_after, "{name}: {score}");
        assert_eq!(score["actions"]["join-group-chat"]["count"], count_after, "{name}");
        for (field, value) in stored.as_object().unwrap() {
            if field != "total" && field != "actions" {
                assert_eq!(&score[field], value, "{name}: {field} is another writer's");
            }
        }
        if let Some(other) = stored["actions"]["post-message"].as_object() {
            assert_eq!(score["actions"]["post-message"], json!(other), "{name}: other actions untouched");
        }
        env.sweep().await;
        let event = env.aws.published().into_iter().find(|e| e["event"] == "score-updated").unwrap();
        assert_eq!(event["data"]["score"]["total"], total_after, "{name}: the event carries the score after");
    }
}

// ---- the stand-ins refuse what AWS refuses -------------------------------------------

fn entry(detail: String) -> aws_sdk_eventbridge::types::PutEventsRequestEntry {
    aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
        .source("join-requests")
        .detail_type("test")
        .detail(detail)
        .event_bus_name("bus")
        .build()
}

#[tokio::test]
async fn the_local_eventbridge_refuses_calls_over_10_entries_or_256_kb_as_aws_does() {
    use aws_sdk_eventbridge::error::ProvideErrorMetadata;
    let env = TestEnv::over(dev::kit::client("http://127.0.0.1:9").await, "none");
    let events = &env.aws.events;
    let eleven = events.put_events().set_entries(Some((0..11).map(|_| entry("{}".into())).collect())).send().await;
    assert_eq!(eleven.expect_err("11 entries are refused").code(), Some("ValidationException"));
    let big = format!("{{\"x\":\"{}\"}}", "a".repeat(30 * KB));
    let nine_big = events.put_events().set_entries(Some((0..9).map(|_| entry(big.clone())).collect())).send().await;
    assert_eq!(nine_big.expect_err("9 × 30 KB are refused").code(), Some("ValidationException"));
    assert!(env.aws.recorder.entries.lock().unwrap().is_empty(), "nothing of a refused call is put");
    let eight_big = events.put_events().set_entries(Some((0..8).map(|_| entry(big.clone())).collect())).send().await;
    assert_eq!(eight_big.expect("8 × 30 KB fit").failed_entry_count(), 0);
}

#[tokio::test]
async fn the_local_management_api_refuses_posts_over_128_kb_as_aws_does() {
    let env = TestEnv::over(dev::kit::client("http://127.0.0.1:9").await, "none");
    env.aws.open("c1");
    let post = |bytes: usize| {
        env.aws
            .management
            .post_to_connection()
            .connection_id("c1")
            .data(aws_sdk_apigatewaymanagement::primitives::Blob::new(format!("\"{}\"", "x".repeat(bytes - 2))))
            .send()
    };
    let error = post(MAX_POST_BYTES + 1).await.expect_err("over 128 KB is refused");
    assert!(error.as_service_error().is_some_and(|e| e.is_payload_too_large_exception()), "{error:?}");
    post(MAX_POST_BYTES).await.expect("128 KB is taken");
}

#[tokio::test]
async fn publishing_packs_calls_by_size_and_sends_again_only_the_refused_entries() {
    use domain::OutboundEvent;
    let env = TestEnv::over(dev::kit::client("http://127.0.0.1:9").await, "none");
    let event = |n: usize, bytes: usize| OutboundEvent {
        id: ObjectId::generate(),
        event: "chat-join-request".into(),
        to: user_id(n),
        data: json!({ "padding": "p".repeat(bytes) }),
    };
    let big: Vec<OutboundEvent> = (0..25).map(|n| event(n, 30 * KB)).collect();
    app::ports::Bus::publish(&env.aws.publisher, &big, &[]).await.expect("25 events of 30 KB are published");
    let calls = env.aws.recorder.calls.lock().unwrap().clone();
    assert!(
        calls.len() >= 4 && calls.iter().all(|(entries, bytes)| *entries <= 8 && *bytes <= MAX_BYTES_PER_CALL),
        "{calls:?}"
    );
    assert_eq!(calls.iter().map(|c| c.0).sum::<usize>(), 25);

    env.aws.recorder.calls.lock().unwrap().clear();
    env.aws.recorder.entries.lock().unwrap().clear();
    env.aws.recorder.refuse_entries.store(3, std::sync::atomic::Ordering::SeqCst);
    let small: Vec<OutboundEvent> = (0..10).map(|n| event(n, 10)).collect();
    app::ports::Bus::publish(&env.aws.publisher, &small, &[]).await.expect("refused entries are sent again");
    let calls = env.aws.recorder.calls.lock().unwrap().clone();
    assert_eq!(calls.iter().map(|c| c.0).collect::<Vec<_>>(), vec![10, 3], "the second call holds only the refused");
    let published: Vec<ObjectId> =
        env.aws.published().iter().map(|e| ObjectId::parse(e["id"].as_str().unwrap()).unwrap()).collect();
    let mut expected: Vec<ObjectId> = small.iter().map(|e| e.id).collect();
    let mut got = published.clone();
    expected.sort();
    got.sort();
    assert_eq!(got, expected, "each event accepted exactly once");
}

#[tokio::test]
async fn a_change_with_the_longest_message_and_reason_stays_within_its_bound() {
    let env = TestEnv::with_demo().await;
    let api = env.api();
    let longest = "😀".repeat(500);
    let (status, body) = api.create_raw(SAM, Some(json!({ "chat": CHAT1, "message": longest }))).await;
    assert_eq!(status, 201, "{body}");
    let request = body["request"]["_id"].as_str().unwrap();
    let (status, body) = api.decide_raw(AMY, request, Some(json!({ "status": "rejected", "reason": longest }))).await;
    assert_eq!(status, 200, "{body}");
    let rejected = env.aws.changes().into_iter().find(|(t, _)| t == "join-request.rejected").expect("published");
    eprintln!("join-request.rejected with 2 × 500 four-byte characters: {} B", json_bytes(&rejected.1));
    assert_published_within_bounds(&env);
}
