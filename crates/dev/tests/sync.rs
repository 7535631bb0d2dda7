//! The app's data in: its six detail-types through the sync function's handler against
//! DynamoDB Local, observed through the REST handlers; order, repeats and stale events;
//! bad events set aside. (The local bus driven by an AWS SDK client is in stack.rs.)

use app::ports::Lookup;
use dev::kit::{connect, id, route_published, TestEnv};
use dev::local::Fault;
use domain::ObjectId;
use serde_json::{json, Value};
use sync_app::Outcome;

const AMY: &str = "65a000000000000000000001";
const SAM: &str = "65a000000000000000000007";
const CHAT1: &str = "65b000000000000000000001";

fn body(detail_type: &str, detail: Value) -> (String, String) {
    let envelope = dev::local::events::eventbridge_delivery(
        &ObjectId::generate().to_string(),
        "2026-12-01T10:00:00Z",
        domain::sync::DEFAULT_APP_EVENT_SOURCE,
        detail_type,
        detail,
    );
    (ObjectId::generate().to_string(), envelope.to_string())
}

/// The events in one batch of the queue, as sync-app gets them: each one's outcome.
async fn send_batch(env: &TestEnv, events: Vec<(&str, Value)>) -> Vec<Outcome> {
    let batch = dev::local::events::sqs_batch(events.into_iter().map(|(t, d)| body(t, d)));
    let handled = dev::stack::events::sync_in_time(env.store(), &env.aws.publisher, "test", batch).await;
    handled.outcomes.into_iter().map(|(_, outcome)| outcome).collect()
}

async fn send(env: &TestEnv, detail_type: &str, detail: Value) -> Outcome {
    send_batch(env, vec![(detail_type, detail)]).await.remove(0)
}

fn at(minute: u32) -> String {
    format!("2026-12-01T10:{minute:02}:00.000Z")
}

fn chat(chat: &str, minute: u32) -> Value {
    json!({"_id": chat, "creator": AMY, "isGroup": true, "name": "Made by events", "restricted": true,
           "createdAt": at(0), "updatedAt": at(minute)})
}

fn member(chat: &str, user: &str, admin: bool, minute: u32) -> Value {
    // The participant's own id: the same for one user in one chat, as the app keeps it.
    let entry = format!("6c{}", &user[2..]);
    json!({"chat": chat, "user": user, "_id": entry, "isAdmin": admin, "lastReadAt": at(minute), "updatedAt": at(minute)})
}

fn left(chat: &str, user: &str, minute: u32) -> Value {
    json!({"chat": chat, "user": user, "leftAt": at(minute)})
}

fn applied(outcome: &Outcome) -> bool {
    matches!(outcome, Outcome::Applied(report) if report.changed)
}

const NEW_CHAT: &str = "6b0000000000000000000001";
const ADA: &str = "6a0000000000000000000001";
const BOB: &str = "6a0000000000000000000002";

#[tokio::test]
async fn a_chat_made_by_events_takes_requests_and_follows_its_members() {
    let env = TestEnv::with_demo().await;
    let api = env.api();
    for (user, name) in [(ADA, "ada"), (BOB, "bob")] {
        let profile = json!({"_id": user, "username": name, "name": name, "photo": null, "updatedAt": at(0)});
        assert!(applied(&send(&env, "user.upserted", profile).await));
    }
    assert!(applied(&send(&env, "chat.upserted", chat(NEW_CHAT, 1)).await));
    assert!(applied(&send(&env, "member.upserted", member(NEW_CHAT, ADA, true, 2)).await));
    connect(&env, ADA, "ada").await;

    let (status, created) = api.create(SAM, NEW_CHAT).await;
    assert_eq!(status, 201, "{created}");
    let sams = created["request"]["_id"].as_str().unwrap().to_owned();
    assert_eq!(api.get(SAM, &sams).await.1["request"]["chat"]["participantsCount"], 1);
    let (status, queue) = api.queue(ADA, NEW_CHAT, &[]).await;
    assert_eq!((status, queue["count"].as_u64()), (200, Some(1)), "the admin made by an event sees the queue");
    route_published(&env).await;
    assert_eq!(env.aws.inbox("ada").len(), 1, "and is told");

    // Demoted by a newer event: no queue, and not told of the next request.
    assert!(applied(&send(&env, "member.upserted", member(NEW_CHAT, ADA, false, 3)).await));
    assert_eq!(api.queue(ADA, NEW_CHAT, &[]).await.0, 403);
    assert_eq!(api.create(AMY, NEW_CHAT).await.0, 201);
    route_published(&env).await;
    assert_eq!(env.aws.inbox("ada").len(), 1, "no more chat-join-request");

    // A member who leaves may ask; the count follows.
    assert!(applied(&send(&env, "member.upserted", member(NEW_CHAT, BOB, false, 4)).await));
    assert_eq!(api.create(BOB, NEW_CHAT).await.1["code"], "ALREADY_PARTICIPANT");
    assert!(applied(&send(&env, "member.left", left(NEW_CHAT, BOB, 5)).await));
    let (status, bobs) = api.create(BOB, NEW_CHAT).await;
    assert_eq!(status, 201, "{bobs}");
    let bobs = bobs["request"]["_id"].as_str().unwrap();
    assert_eq!(api.get(BOB, bobs).await.1["request"]["chat"]["participantsCount"], 1, "ada alone");

    // The chat deleted: its pending requests expire at once, each requester told.
    connect(&env, SAM, "sam").await;
    let deleted = send(&env, "chat.deleted", json!({"_id": NEW_CHAT, "deletedAt": at(6)})).await;
    assert_eq!(deleted, Outcome::Applied(app::sync::SyncReport { changed: true, closed: 3, finished: true }));
    route_published(&env).await;
    let told: Vec<Value> = env.aws.inbox("sam").into_iter().filter(|m| m["event"] == "chat-request-expired").collect();
    assert_eq!(told.len(), 1, "the requester gets chat-request-expired");
    assert_eq!(api.get(SAM, &sams).await.1["request"]["status"], "expired");
    assert_eq!(api.create(SAM, NEW_CHAT).await.1["code"], "CHAT_NOT_FOUND");
    // An older upsert arriving late does not bring it back.
    assert!(!applied(&send(&env, "chat.upserted", chat(NEW_CHAT, 2)).await));
    assert_eq!(api.create(SAM, NEW_CHAT).await.1["code"], "CHAT_NOT_FOUND");
}

#[tokio::test]
async fn a_deleted_chat_out_of_time_closes_what_it_can_and_is_delivered_again_for_the_rest() {
    let env = TestEnv::with_demo().await;
    let api = env.api();
    assert!(applied(&send(&env, "chat.upserted", chat(NEW_CHAT, 1)).await));
    let askers = ["65a000000000000000000002", "65a000000000000000000003", "65a000000000000000000004"];
    let mut asked = Vec::new();
    for user in askers {
        connect(&env, user, user).await;
        let (status, created) = api.create(user, NEW_CHAT).await;
        assert_eq!(status, 201, "{created}");
        asked.push(created["request"]["_id"].as_str().unwrap().to_owned());
    }
    let expired = || async {
        let mut count = 0;
        for (user, request) in askers.iter().zip(&asked) {
            count += usize::from(api.get(user, request).await.1["request"]["status"] == "expired");
        }
        count
    };
    // A deadline already past: each delivery starts one expiry, as a chat of thousands
    // would run out of the invocation's time. The batch's other event is done.
    let deleted = body("chat.deleted", json!({"_id": NEW_CHAT, "deletedAt": at(6)}));
    let other = body("member.upserted", member(CHAT1, SAM, false, 59));
    let mut outcomes = Vec::new();
    for delivery in 0..3 {
        let messages = if delivery == 0 { vec![deleted.clone(), other.clone()] } else { vec![deleted.clone()] };
        let batch = dev::local::events::sqs_batch(messages);
        let handled = sync_app::handle(env.store(), &env.aws.publisher, "test", batch, std::time::Instant::now()).await;
        let failed: Vec<String> =
            handled.response().batch_item_failures.into_iter().map(|f| f.item_identifier).collect();
        let expected: Vec<String> = if delivery < 2 { vec![deleted.0.clone()] } else { vec![] };
        assert_eq!(failed, expected, "delivery {delivery}: only the unfinished one again: {handled:?}");
        if delivery == 0 {
            assert!(applied(&handled.outcomes[1].1), "the batch's other event is applied");
        }
        outcomes.push(handled.outcomes.into_iter().next().unwrap().1);
        assert_eq!(expired().await, delivery + 1, "delivery {delivery}: one more expired, none undone");
    }
    let report = |changed, finished| app::sync::SyncReport { changed, closed: 1, finished };
    assert_eq!(
        outcomes,
        [
            Outcome::Unfinished(report(true, false)),
            Outcome::Unfinished(report(false, false)),
            Outcome::Applied(report(false, true))
        ]
    );
    route_published(&env).await;
    for user in askers {
        let told = env.aws.inbox(user).into_iter().filter(|m| m["event"] == "chat-request-expired").count();
        assert_eq!(told, 1, "{user} is told once");
    }
}

#[tokio::test]
async fn a_member_who_joined_while_asking_has_the_request_cancelled_and_the_echo_of_an_acceptance_changes_nothing() {
    let env = TestEnv::with_demo().await;
    let api = env.api();
    connect(&env, AMY, "amy").await;
    let (_, created) = api.create(SAM, CHAT1).await;
    let request = created["request"]["_id"].as_str().unwrap().to_owned();
    let outcome = send(&env, "member.upserted", member(CHAT1, SAM, false, 1)).await;
    assert_eq!(outcome, Outcome::Applied(app::sync::SyncReport { changed: true, closed: 1, finished: true }));
    assert_eq!(api.get(SAM, &request).await.1["request"]["status"], "cancelled");
    route_published(&env).await;
    let closed = env.aws.inbox("amy").into_iter().filter(|m| m["event"] == "chat-join-request-closed").count();
    assert_eq!(closed, 1, "the admins are told it closed");

    // Accepted by this service, then the app echoes the membership: nothing changes.
    let (_, other) = api.create("6a0000000000000000000003", CHAT1).await;
    let other = other["request"]["_id"].as_str().unwrap().to_owned();
    assert_eq!(api.decide(AMY, &other, "accepted").await.0, 200);
    let count = api.get(AMY, &other).await.1["request"]["chat"]["participantsCount"].clone();
    env.aws.forget_published();
    // The app heard of the acceptance and echoes it a moment later.
    let mut echo = member(CHAT1, "6a0000000000000000000003", false, 0);
    echo["updatedAt"] = json!(domain::time::timestamp_seconds_ago(-1));
    let Outcome::Applied(report) = send(&env, "member.upserted", echo).await else { panic!("applied") };
    assert_eq!(report.closed, 0);
    assert_eq!(api.get(AMY, &other).await.1["request"]["chat"]["participantsCount"], count, "the count as it was");
    assert!(env.aws.published().is_empty(), "nobody told anything");
}

/// The state of `users` in `chat` after a run: (active, admin) each, and the count.
async fn state(env: &TestEnv, chat: &str, users: &[&str]) -> (Vec<(bool, bool)>, u64) {
    let lookup = Lookup {
        chats: vec![id(chat)],
        memberships: users.iter().map(|u| (id(chat), id(u))).collect(),
        ..Lookup::default()
    };
    let loaded = env.store().load(&lookup).await.unwrap();
    let entries = users
        .iter()
        // Whether a member who left had been an admin is not kept for sure (an entry
        // first seen leaving has no such flag), and means nothing.
        .map(|u| {
            loaded.membership(id(chat), id(u)).map_or((false, false), |e| (e.is_active(), e.is_active() && e.is_admin))
        })
        .collect();
    (entries, loaded.chats.get(&id(chat)).map_or(0, |s| s.chat.participants_count))
}

#[tokio::test]
async fn membership_events_in_any_order_and_repeated_end_as_in_order_one_by_one_and_in_batches() {
    let env = TestEnv::with_demo().await;
    let users = [ADA, BOB, "6a0000000000000000000003"];
    let history: Vec<(&str, Value)> = vec![
        ("chat.upserted", chat("{chat}", 1)),
        ("member.upserted", member("{chat}", ADA, false, 2)),
        ("member.upserted", member("{chat}", ADA, true, 3)),
        ("member.left", left("{chat}", ADA, 4)),
        ("member.upserted", member("{chat}", ADA, false, 5)),
        ("member.upserted", member("{chat}", BOB, true, 2)),
        ("member.left", left("{chat}", BOB, 6)),
        ("member.left", left("{chat}", users[2], 3)),
        ("member.upserted", member("{chat}", users[2], false, 7)),
    ];
    let for_chat = |chat: &str| -> Vec<(&str, Value)> {
        history
            .iter()
            .map(|(t, d)| (*t, serde_json::from_str(&d.to_string().replace("{chat}", chat)).unwrap()))
            .collect()
    };
    let in_order = "6b0000000000000000000100";
    for (detail_type, detail) in for_chat(in_order) {
        send(&env, detail_type, detail).await;
    }
    let expected = state(&env, in_order, &users).await;
    assert_eq!(expected, (vec![(true, false), (false, false), (true, false)], 2), "the history, in order");

    // A small xorshift: the permutations are the same on every run.
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for run in 0..12u64 {
        let chat = format!("6b{:022x}", 0x200 + run);
        let mut events = for_chat(&chat);
        let repeats: Vec<_> = events.iter().filter(|_| next() % 3 == 0).cloned().collect();
        events.extend(repeats);
        for i in (1..events.len()).rev() {
            events.swap(i, (next() % (i as u64 + 1)) as usize);
        }
        if run % 2 == 0 {
            for (detail_type, detail) in events {
                send(&env, detail_type, detail).await;
            }
        } else {
            // As the queue hands them: batches of 1 to 10, the memberships of each
            // written together.
            while !events.is_empty() {
                let size = (1 + next() % 10).min(events.len() as u64) as usize;
                let outcomes = send_batch(&env, events.drain(..size).collect()).await;
                assert!(outcomes.iter().all(|o| matches!(o, Outcome::Applied(_))), "run {run}: {outcomes:?}");
            }
        }
        assert_eq!(state(&env, &chat, &users).await, expected, "run {run}");
        // Stale: an upsert from before the last change of each.
        for user in users {
            assert!(!applied(&send(&env, "member.upserted", member(&chat, user, true, 1)).await), "{user}");
        }
        assert_eq!(state(&env, &chat, &users).await, expected, "run {run}, after stale events");
    }
}

#[tokio::test]
async fn an_event_that_cannot_be_applied_is_set_aside_with_its_reason_and_blocks_nothing() {
    let env = TestEnv::with_demo().await;
    let bad = [
        ("user.renamed", json!({"_id": ADA})),
        ("user.upserted", json!({"_id": ADA, "username": "ada"})),
        ("member.left", json!({"chat": "not-an-id", "user": ADA, "leftAt": at(1)})),
        ("chat.deleted", json!("not an object")),
    ];
    for (detail_type, detail) in bad.clone() {
        assert!(matches!(send(&env, detail_type, detail).await, Outcome::SetAside(_)), "{detail_type}");
    }
    let profile = json!({"_id": ADA, "username": "ada", "name": "Ada", "photo": null, "updatedAt": at(0)});
    assert!(applied(&send(&env, "user.upserted", profile).await), "the next good one applies");

    let aside = env.store().app_events_set_aside(10).await.unwrap();
    let listed: Vec<&str> = aside.iter().map(|a| a.detail_type.as_str()).collect();
    assert_eq!(listed, bad.iter().map(|(t, _)| *t).collect::<Vec<_>>(), "each kept, in order");
    assert!(aside[0].reason.contains("unknown detail-type"), "{:?}", aside[0]);
    assert!(aside[1].reason.contains("name"), "a missing field is named: {:?}", aside[1]);
    env.store().forget_app_event(aside[0].id).await.unwrap();
    assert_eq!(env.store().app_events_set_aside(10).await.unwrap().len(), 3);
}

#[tokio::test]
async fn a_batch_writes_its_memberships_in_one_transaction_with_one_count_update_per_chat() {
    let env = TestEnv::with_demo().await;
    let chats = ["6b0000000000000000000301", "6b0000000000000000000302", "6b0000000000000000000303"];
    for chat_id in chats {
        assert!(applied(&send(&env, "chat.upserted", chat(chat_id, 1)).await));
    }
    let users: Vec<String> = (0..10).map(|n| format!("6a00000000000000000003{n:02}")).collect();
    let mut batch: Vec<(&str, Value)> =
        users.iter().enumerate().map(|(n, u)| ("member.upserted", member(chats[n % 3], u, n == 0, 2))).collect();
    // A stale repeat of the first, and a leaving that comes before its join: the
    // newest of each entry wins within the batch as across batches.
    batch[9] = ("member.upserted", member(chats[0], &users[0], false, 1));
    env.transactions.take();
    let outcomes = send_batch(&env, batch).await;
    let changed: Vec<bool> = outcomes.iter().map(applied).collect();
    assert_eq!(changed, [vec![true; 9], vec![false]].concat(), "{outcomes:?}");
    let writes = env.transactions.take();
    assert_eq!(writes.len(), 1, "one transaction for the batch");
    assert_eq!(writes[0].transact_items().len(), 9 + 3, "9 entries and one count update per chat");
    let counts: Vec<u64> =
        futures::future::join_all(chats.iter().map(|c| state(&env, c, &[]))).await.into_iter().map(|s| s.1).collect();
    assert_eq!(counts, [3, 3, 3]);
    let (entries, _) = state(&env, chats[0], &[&users[0]]).await;
    assert_eq!(entries, [(true, true)], "the newer upsert (an admin) kept, the stale one not");

    // Promotions of active members: one transaction too, and no count moved.
    let promotions: Vec<(&str, Value)> =
        (1..4).map(|n| ("member.upserted", member(chats[n % 3], &users[n], true, 3))).collect();
    let outcomes = send_batch(&env, promotions).await;
    assert!(outcomes.iter().all(applied), "{outcomes:?}");
    let writes = env.transactions.take();
    assert_eq!(writes.len(), 1, "one transaction for the batch");
    let counts: Vec<u64> =
        futures::future::join_all(chats.iter().map(|c| state(&env, c, &[]))).await.into_iter().map(|s| s.1).collect();
    assert_eq!(counts, [3, 3, 3], "a promotion moves no count");
    for n in 1..4 {
        assert_eq!(state(&env, chats[n % 3], &[&users[n]]).await.0, [(true, true)], "user {n} an active admin");
    }
}

/// DynamoDB refusing every transaction while a batch is handled: the memberships are
/// reported failed (the queue delivers them again), nothing of them is written, the
/// user and the bad event of the same batch are done; delivered again, they apply.
#[tokio::test]
async fn a_batch_whose_memberships_fail_reports_only_them_and_writes_nothing_half() {
    let (env, faults) = TestEnv::behind_proxy(dev::kit::demo_fixture()).await;
    let chat_id = "6b0000000000000000000401";
    assert!(applied(&send(&env, "chat.upserted", chat(chat_id, 1)).await));
    let profile = json!({"_id": ADA, "username": "ada", "name": "Ada", "photo": null, "updatedAt": at(0)});
    let members: Vec<(&str, Value)> =
        [ADA, BOB].iter().map(|u| ("member.upserted", member(chat_id, u, false, 2))).collect();
    let mut events = vec![("user.upserted", profile)];
    events.extend(members.clone());
    events.push(("member.joined", json!({})));
    let batch = dev::local::events::sqs_batch(events.into_iter().map(|(t, d)| body(t, d)));
    let ids: Vec<String> = batch.records.iter().map(|r| r.message_id.clone().unwrap_or_default()).collect();

    faults.set(Fault::Refuse("TransactWriteItems"));
    let handled = dev::stack::events::sync_in_time(env.store(), &env.aws.publisher, "test", batch).await;
    faults.set(Fault::None);
    let failed: Vec<String> = handled.response().batch_item_failures.into_iter().map(|f| f.item_identifier).collect();
    assert_eq!(failed, ids[1..3], "{handled:?}");
    assert!(applied(&handled.outcomes[0].1), "the user is written");
    assert!(matches!(handled.outcomes[3].1, Outcome::SetAside(_)), "the bad event is set aside");
    assert_eq!(state(&env, chat_id, &[ADA, BOB]).await, (vec![(false, false); 2], 0), "nothing half-written");

    let outcomes = send_batch(&env, members).await;
    assert!(outcomes.iter().all(applied), "delivered again, they apply: {outcomes:?}");
    assert_eq!(state(&env, chat_id, &[ADA, BOB]).await, (vec![(true, false); 2], 2));
}

#[tokio::test]
async fn a_member_who_joined_while_asking_has_the_request_cancelled_also_in_a_batch() {
    let env = TestEnv::with_demo().await;
    let api = env.api();
    let (_, created) = api.create(SAM, CHAT1).await;
    let request = created["request"]["_id"].as_str().unwrap().to_owned();
    let join = member(CHAT1, SAM, false, 1);
    let batch = vec![
        ("member.upserted", join.clone()),
        ("member.upserted", join),
        ("member.upserted", member(CHAT1, BOB, false, 1)),
    ];
    let closed: Vec<usize> = send_batch(&env, batch)
        .await
        .into_iter()
        .map(|o| match o {
            Outcome::Applied(report) => report.closed,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(closed, [1, 0, 0], "closed once, counted once");
    assert_eq!(api.get(SAM, &request).await.1["request"]["status"], "cancelled");
}
