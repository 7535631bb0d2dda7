//! Every row of the contract's REST table, against DynamoDB Local through the real
//! handlers.

use dev::kit::{answer, id, request_from, rest_event, token, TestEnv};
use domain::ObjectId;
use serde_json::{json, Value};

const AMY: &str = "65a000000000000000000001"; // admin of chat 1 and chat 2
const BEN: &str = "65a000000000000000000002"; // admin of chat 1 and of the open lounge
const CAT: &str = "65a000000000000000000003"; // admin of chat 2; left chat 1 as admin
const DAN: &str = "65a000000000000000000004"; // plain member of chat 1 and chat 2
const RAJ: &str = "65a000000000000000000005"; // has the demo pending request for chat 1
const LEA: &str = "65a000000000000000000006"; // left chat 1
const SAM: &str = "65a000000000000000000007"; // member of nothing
const CHAT1: &str = "65b000000000000000000001";
const CHAT2: &str = "65b000000000000000000002";
const OPEN: &str = "65b000000000000000000003";
const DIRECT: &str = "65b000000000000000000004";
const NO_CHAT: &str = "65b0000000000000000000ff";
const DEMO_REQUEST: &str = "65d000000000000000000001";

fn assert_error(result: &(u16, Value), status: u16, code: &str) {
    assert_eq!(result.0, status, "{:?}", result.1);
    assert_eq!(result.1["code"], code, "{:?}", result.1);
    assert!(result.1["message"].as_str().is_some_and(|m| !m.is_empty()), "{:?}", result.1);
}

// ---- authentication -------------------------------------------------------------

fn sign(header: jsonwebtoken::Header, claims: Value, secret: &[u8]) -> String {
    edge::install_jwt_crypto();
    jsonwebtoken::encode(&header, &claims, &jsonwebtoken::EncodingKey::from_secret(secret)).unwrap()
}

fn exp(offset: i64) -> i64 {
    jsonwebtoken::get_current_timestamp() as i64 + offset
}

async fn list_with_auth(env: &TestEnv, auth: Option<&str>) -> (u16, Value) {
    let event = rest_event("GET", "/requests", auth, &[], None);
    answer(&event, list_requests::handle(&env.app, request_from(&event)).await)
}

#[tokio::test]
async fn every_kind_of_bad_credentials_is_unauthorized() {
    let env = TestEnv::with_demo().await;
    let hs256 = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    let secret = dev::kit::SECRET.as_bytes();
    let unsigned = {
        let b64 = |v: Value| {
            use std::io::Write;
            let mut out = Vec::new();
            write!(out, "{v}").unwrap();
            base64_url(&out)
        };
        format!("{}.{}.", b64(json!({"alg": "none", "typ": "JWT"})), b64(json!({"sub": RAJ, "exp": exp(3600)})))
    };
    let cases: Vec<(&str, Option<String>)> = vec![
        ("no header", None),
        ("basic scheme", Some(format!("Basic {}", token(RAJ)))),
        ("no scheme", Some(token(RAJ))),
        (
            "bad signature",
            Some(format!("Bearer {}", sign(hs256.clone(), json!({"sub": RAJ, "exp": exp(3600)}), b"other"))),
        ),
        (
            "HS512 instead of HS256",
            Some(format!(
                "Bearer {}",
                sign(
                    jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS512),
                    json!({"sub": RAJ, "exp": exp(3600)}),
                    secret
                )
            )),
        ),
        ("alg none", Some(format!("Bearer {unsigned}"))),
        ("expired", Some(format!("Bearer {}", sign(hs256.clone(), json!({"sub": RAJ, "exp": exp(-3600)}), secret)))),
        ("no exp", Some(format!("Bearer {}", sign(hs256.clone(), json!({"sub": RAJ}), secret)))),
        (
            "not yet valid",
            Some(format!(
                "Bearer {}",
                sign(hs256.clone(), json!({"sub": RAJ, "exp": exp(7200), "nbf": exp(3600)}), secret)
            )),
        ),
        ("no user id", Some(format!("Bearer {}", sign(hs256.clone(), json!({"exp": exp(3600)}), secret)))),
        (
            "user id not an object id",
            Some(format!("Bearer {}", sign(hs256.clone(), json!({"sub": "raj", "exp": exp(3600)}), secret))),
        ),
        ("garbage", Some("Bearer not.a.token".into())),
    ];
    for (name, header) in cases {
        let result = list_with_auth(&env, header.as_deref()).await;
        assert_error(&result, 401, "UNAUTHORIZED");
        assert_eq!(result.1["message"], "missing or invalid bearer token", "{name}: no detail leaks");
    }
}

fn base64_url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

#[tokio::test]
async fn user_id_comes_from_sub_then_underscore_id_then_id() {
    let env = TestEnv::with_demo().await;
    let secret = dev::kit::SECRET.as_bytes();
    let hs256 = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    for claims in [
        json!({"sub": RAJ, "exp": exp(3600)}),
        json!({"_id": RAJ, "exp": exp(3600)}),
        json!({"id": RAJ, "exp": exp(3600)}),
        json!({"_id": RAJ, "id": SAM, "exp": exp(3600)}),
    ] {
        let (status, body) =
            list_with_auth(&env, Some(&format!("Bearer {}", sign(hs256.clone(), claims.clone(), secret)))).await;
        assert_eq!(status, 200, "{claims}");
        assert_eq!(body["count"], 1, "{claims}: RAJ's one demo request");
    }
}

#[tokio::test]
async fn issuer_and_audience_are_checked_when_configured() {
    use edge::auth::{JwtSettings, JwtVerifier};
    let verifier = JwtVerifier::new(&JwtSettings {
        secret: Some("s".into()),
        issuer: Some("https://issuer.example".into()),
        audience: Some("chat-app".into()),
        ..Default::default()
    })
    .unwrap();
    let hs256 = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    let good = sign(
        hs256.clone(),
        json!({"sub": RAJ, "exp": exp(60), "iss": "https://issuer.example", "aud": "chat-app"}),
        b"s",
    );
    assert_eq!(verifier.authenticate_token(&good).unwrap(), id(RAJ));
    for claims in [
        json!({"sub": RAJ, "exp": exp(60), "iss": "https://other.example", "aud": "chat-app"}),
        json!({"sub": RAJ, "exp": exp(60), "iss": "https://issuer.example", "aud": "other"}),
        json!({"sub": RAJ, "exp": exp(60), "aud": "chat-app"}),
        json!({"sub": RAJ, "exp": exp(60), "iss": "https://issuer.example"}),
    ] {
        assert!(verifier.authenticate_token(&sign(hs256.clone(), claims.clone(), b"s")).is_err(), "{claims}");
    }
}

#[tokio::test]
async fn rs256_verifies_with_the_public_key_and_refuses_hs256_signed_with_it() {
    use edge::auth::{JwtSettings, JwtVerifier};
    let dir = dev::kit::repo_root().join("crates/dev/tests/keys");
    let private = std::fs::read(dir.join("test-rsa-private.pem")).unwrap();
    let public = std::fs::read_to_string(dir.join("test-rsa-public.pem")).unwrap();
    let verifier =
        JwtVerifier::new(&JwtSettings { public_key_pem: Some(public.clone()), ..Default::default() }).unwrap();
    let claims = json!({"sub": RAJ, "exp": exp(60)});
    let rs256 = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_rsa_pem(&private).unwrap(),
    )
    .unwrap();
    assert_eq!(verifier.authenticate_token(&rs256).unwrap(), id(RAJ));
    let confused = sign(jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256), claims, public.as_bytes());
    assert!(verifier.authenticate_token(&confused).is_err(), "algorithm confusion must fail");
}

// ---- POST /requests -------------------------------------------------------------

#[tokio::test]
async fn creating_returns_the_pending_request_and_notifies_every_active_admin() {
    let env = TestEnv::with_demo().await;
    let api = env.api();
    let (status, body) = api.create(SAM, CHAT1).await;
    assert_eq!(status, 201, "{body}");
    let request = &body["request"];
    let keys: std::collections::BTreeSet<_> = request.as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys, ["_id", "chat", "createdAt", "status", "user"].map(String::from).into());
    assert_eq!(
        (request["user"].as_str(), request["chat"].as_str(), request["status"].as_str()),
        (Some(SAM), Some(CHAT1), Some("pending"))
    );
    let request_id = request["_id"].as_str().unwrap();
    assert!(ObjectId::parse(request_id).is_ok());
    let created_at = request["createdAt"].as_str().unwrap();
    assert!(chrono_like(created_at), "{created_at}");

    for admin in [AMY, BEN] {
        let notes: Vec<_> =
            env.notifications_of(admin).await.into_iter().filter(|n| n["request"] == request_id).collect();
        assert_eq!(notes.len(), 1, "admin {admin}");
        let note = &notes[0];
        assert_eq!(
            (note["type"].as_str(), note["from"].as_str(), note["chat"].as_str(), note["dismissed"].as_bool()),
            (Some("chat-join-request"), Some(SAM), Some(CHAT1), Some(false))
        );
        assert_eq!(note["user"], admin);
    }
    assert!(env.notifications_of(CAT).await.is_empty(), "an admin who left is not told");
    assert!(env.notifications_of(DAN).await.is_empty(), "a plain member is not told");

    env.sweep().await;
    let events: Vec<_> = env
        .aws
        .published()
        .into_iter()
        .filter(|e| e["event"] == "chat-join-request" && e["data"]["request"]["_id"] == request_id)
        .collect();
    let mut recipients: Vec<_> = events.iter().map(|e| e["to"].as_str().unwrap().to_owned()).collect();
    recipients.sort();
    assert_eq!(recipients, vec![AMY, BEN], "one outbox event per active admin");
    for event in &events {
        assert_eq!(event["data"]["request"]["chat"]["areYouAdmin"], true);
        assert_eq!(event["data"]["request"]["user"]["username"], "sam.stranger");
        assert_eq!(event["data"]["notification"]["user"], event["to"]);
    }
}

fn chrono_like(text: &str) -> bool {
    // 2025-09-22T07:31:53.000Z
    text.len() == 24 && text.ends_with('Z') && text.as_bytes()[10] == b'T' && text.as_bytes()[19] == b'.'
}

#[tokio::test]
async fn create_checks_run_in_contract_order() {
    let env = TestEnv::with_demo().await;
    let api = env.api();
    assert_error(&api.create(SAM, NO_CHAT).await, 404, "CHAT_NOT_FOUND");
    assert_error(&api.create(SAM, DIRECT).await, 400, "CHAT_NOT_GROUP");
    assert_error(&api.create(SAM, OPEN).await, 400, "CHAT_NOT_RESTRICTED");
    assert_error(&api.create(DAN, CHAT1).await, 409, "ALREADY_PARTICIPANT");
    assert_error(&api.create(AMY, CHAT1).await, 409, "ALREADY_PARTICIPANT");
    assert_error(&api.create(RAJ, CHAT1).await, 409, "REQUEST_ALREADY_PENDING");
    // A group that is not restricted is refused before membership is looked at.
    assert_error(&api.create(BEN, OPEN).await, 400, "CHAT_NOT_RESTRICTED");
}

#[tokio::test]
async fn bad_create_bodies_and_ids_are_refused() {
    let env = TestEnv::with_demo().await;
    let api = env.api();
    for body in [
        None,
        Some(json!("not json")),
        Some(json!("[]")),
        Some(json!({})),
        Some(json!({"chat": 5})),
        Some(json!({"chat": null})),
    ] {
        assert_error(&api.create_raw(SAM, body.clone()).await, 400, "INVALID_BODY");
    }
    for bad in ["", "xyz", "65B000000000000000000001", "65b00000000000000000000"] {
        assert_error(&api.create(SAM, bad).await, 400, "INVALID_ID");
    }
}

#[tokio::test]
async fn a_user_who_left_may_ask_again_and_a_rejected_user_may_ask_again() {
    let env = TestEnv::with_demo().await;
    let api = env.api();
    assert_eq!(api.create(LEA, CHAT1).await.0, 201);
    let (status, _) = api.decide(AMY, DEMO_REQUEST, "rejected").await;
    assert_eq!(status, 200);
    let (status, body) = api.create(RAJ, CHAT1).await;
    assert_eq!(status, 201, "{body}");
}

#[tokio::test]
async fn fifty_simultaneous_identical_creates_make_exactly_one_request() {
    let env = TestEnv::with_demo().await;
    let api = env.api();
    let results = futures::future::join_all((0..50).map(|_| api.create(SAM, CHAT2))).await;
    let created = results.iter().filter(|r| r.0 == 201).count();
    let pending = results.iter().filter(|r| r.0 == 409 && r.1["code"] == "REQUEST_ALREADY_PENDING").count();
    assert_eq!(
        (created, pending),
        (1, 49),
        "{:?}",
        results.iter().filter(|r| r.0 != 201 && r.0 != 409).collect::<Vec<_>>()
    );
    let stored = env.store().requests_of(id(SAM), None).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(env.notifications_of(CAT).await.len(), 1, "one notification per admin, not fifty");
}

// ---- GET /requests/{id} ---------------------------------------------------------

#[tokio::test]
async fn get_returns_the_populated_request_to_its_creator_only() {
    let env = TestEnv::with_demo().await;
    let api = env.api();
    let (status, body) = api.get(RAJ, DEMO_REQUEST).await;
    assert_eq!(status, 200, "{body}");
    let request = &body["request"];
    assert_eq!(request["_id"], DEMO_REQUEST);
    assert_eq!(request["status"], "pending");
    assert_eq!(request["user"], json!({"_id": RAJ, "username": "raj.example", "name": "Raj Kr", "photo": null}));
    let chat = &request["chat"];
    assert_eq!(chat["_id"], CHAT1);
    assert_eq!(chat["areYouAdmin"], false);
    assert_eq!(chat["isGroup"], true);
    assert_eq!(chat["restricted"], true);
    assert_eq!(chat["name"], "Rustaceans (restricted)");
    let participants = chat["participants"].as_array().unwrap();
    let users: Vec<_> = participants.iter().map(|p| p["user"].as_str().unwrap()).collect();
    assert_eq!(users, vec![AMY, BEN, DAN], "the active participants, admins first; who left is not shown");
    assert_eq!(chat["participantsCount"], 3);
    assert_eq!(
        participants[0],
        json!({"_id": "65c000000000000000000001", "user": AMY, "isAdmin": true, "lastReadAt": "2025-09-22T06:59:27.000Z"})
    );
    assert!(participants[2].get("isAdmin").is_none(), "isAdmin is written only when true");

    assert_error(&api.get(AMY, DEMO_REQUEST).await, 404, "REQUEST_NOT_FOUND");
    assert_error(&api.get(RAJ, "65d0000000000000000000ff").await, 404, "REQUEST_NOT_FOUND");
    assert_error(&api.get(RAJ, "not-an-id").await, 400, "INVALID_ID");
}

// ---- GET /requests --------------------------------------------------------------

#[tokio::test]
async fn list_pages_newest_first_with_an_exact_count() {
    let env = TestEnv::with_fixture(many_chats_fixture(25)).await;
    let api = env.api();
    let mut created = Vec::new();
    for n in 0..25 {
        let (status, body) = api.create(SAM, &chat_id(n)).await;
        assert_eq!(status, 201, "{body}");
        created.push(body["request"]["_id"].as_str().unwrap().to_owned());
    }
    created.reverse();

    let (status, body) = api.list(SAM, &[]).await;
    assert_eq!(status, 200);
    assert_eq!(body["count"], 25);
    let ids = |body: &Value| {
        body["requests"].as_array().unwrap().iter().map(|r| r["_id"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
    };
    assert_eq!(ids(&body), created[..10], "default limit 10, newest first");

    let (_, third) = api.list(SAM, &[("limit", "10"), ("page", "3")]).await;
    assert_eq!(ids(&third), created[20..]);
    assert_eq!(third["count"], 25);

    let (status, past) = api.list(SAM, &[("limit", "10"), ("page", "4")]).await;
    assert_eq!((status, past["requests"].as_array().unwrap().len(), past["count"].as_u64()), (200, 0, Some(25)));

    let (_, all) = api.list(SAM, &[("limit", "100")]).await;
    assert_eq!(ids(&all), created);
    let first = &all["requests"][0];
    assert_eq!(first["user"]["username"], "sam.stranger");
    assert_eq!(first["chat"]["_id"], chat_id(24));
    assert_eq!(first["chat"]["areYouAdmin"], false);

    let (_, only_mine) = api.list(RAJ, &[]).await;
    assert_eq!(only_mine["count"], 0, "other users' requests never show");
}

#[tokio::test]
async fn list_filters_by_status_and_counts_the_filtered_set() {
    let env = TestEnv::with_demo().await;
    let api = env.api();
    assert_eq!(api.create(SAM, CHAT1).await.0, 201);
    let (_, second) = api.create(SAM, CHAT2).await;
    let rejected = second["request"]["_id"].as_str().unwrap();
    assert_eq!(api.decide(CAT, rejected, "rejected").await.0, 200);

    let count = |body: &Value| body["count"].as_u64().unwrap();
    assert_eq!(count(&api.list(SAM, &[]).await.1), 2);
    let (_, pending) = api.list(SAM, &[("status", "pending")]).await;
    assert_eq!((count(&pending), pending["requests"][0]["chat"]["_id"].as_str()), (1, Some(CHAT1)));
    let (_, rejected_page) = api.list(SAM, &[("status", "rejected")]).await;
    assert_eq!(count(&rejected_page), 1);
    let decided = &rejected_page["requests"][0];
    assert_eq!((decided["status"].as_str(), decided["decidedBy"].as_str()), (Some("rejected"), Some(CAT)));
    assert!(decided["updatedAt"].is_string() && decided["decidedAt"].is_string());
    assert_eq!(count(&api.list(SAM, &[("status", "accepted")]).await.1), 0);
}

#[tokio::test]
async fn list_refuses_every_malformed_query() {
    let env = TestEnv::with_demo().await;
    let api = env.api();
    for query in [
        vec![("limit", "0")],
        vec![("limit", "101")],
        vec![("limit", "abc")],
        vec![("limit", "1.5")],
        vec![("page", "0")],
        vec![("page", "-2")],
        vec![("page", "x")],
        vec![("status", "foo")],
        vec![("limit", "5"), ("limit", "6")],
    ] {
        assert_error(&api.list(RAJ, &query).await, 400, "INVALID_QUERY");
    }
    for query in [vec![("limit", "1")], vec![("limit", "100")], vec![("page", "1000")], vec![("status", "pending")]] {
        assert_eq!(api.list(RAJ, &query).await.0, 200, "{query:?}");
    }
}

fn chat_id(n: usize) -> String {
    format!("66b{n:021x}")
}

/// `count` restricted group chats administered by AMY.
fn many_chats_fixture(count: usize) -> Value {
    let mut fixture = dev::kit::demo_fixture();
    fixture["requests"] = json!([]);
    let chats = fixture["chats"].as_array_mut().unwrap();
    for n in 0..count {
        chats.push(json!({
            "_id": chat_id(n), "creator": AMY, "isGroup": true, "name": format!("chat {n}"), "restricted": true,
            "createdAt": "2025-01-01T00:00:00.000Z", "updatedAt": "2025-01-01T00:00:00.000Z",
            "participants": [{"_id": format!("66c{n:021x}"), "user": AMY, "isAdmin": true, "lastReadAt": "2025-01-01T00:00:00.000Z"}]
        }));
    }
    fixture
}

// ---- PATCH /requests/{id} -------------------------------------------------------

#[tokio::test]
async fn accepting_adds_the_participant_dismisses_notifications_and_counts_the_score() {
    let env = TestEnv::with_demo().await;
    let api = env.api();
    let (status, body) = api.decide(BEN, DEMO_REQUEST, "accepted").await;
    assert_eq!(status, 200, "{body}");
    let request = &body["request"];
    assert_eq!((request["status"].as_str(), request["decidedBy"].as_str()), (Some("accepted"), Some(BEN)));
    assert_eq!(request["chat"]["areYouAdmin"], true, "populated for the deciding admin");
    assert_eq!(request["user"]["_id"], RAJ);

    let entry = env.member(CHAT1, RAJ).await.expect("the requester has an entry");
    assert!(entry.is_active() && !entry.is_admin);
    assert_eq!(env.members(CHAT1).await.len(), 6);
    env.sweep().await;
    let after = env.chat(CHAT1).await;
    assert_eq!(after.chat.participants_count, 4);
    assert_eq!(after.shown.last().map(|p| p.user), Some(id(RAJ)), "shown last: the newest to join");
    for admin in [AMY, BEN] {
        let notes = env.notifications_of(admin).await;
        assert!(!notes.is_empty() && notes.iter().all(|n| n["dismissed"] == true), "{admin}: {notes:?}");
    }
    let score = env.score(RAJ).await.unwrap();
    assert_eq!(score.total, 10);
    let tally = score.actions["join-group-chat"];
    assert_eq!((tally.count, tally.points), (1, 10));
    assert!(env.markers_of(RAJ).await.is_empty(), "the pending marker is gone");

    let events = env.aws.published();
    let accepted = events.iter().find(|e| e["event"] == "chat-request-accepted").unwrap();
    assert_eq!(accepted["to"], RAJ);
    assert_eq!(accepted["data"]["request"]["status"], "accepted");
    assert_eq!(accepted["data"]["chat"]["areYouAdmin"], false);
    assert!(accepted["data"]["chat"]["participants"].as_array().unwrap().iter().any(|p| p["user"] == RAJ));
    let scored = events.iter().find(|e| e["event"] == "score-updated").unwrap();
    assert_eq!(scored["to"], RAJ);
    assert_eq!(scored["data"]["action"], "join-group-chat");
    assert_eq!(scored["data"]["score"]["total"], 10);

    assert_eq!(api.list(RAJ, &[("status", "accepted")]).await.1["count"], 1, "the status index follows the decision");
    assert_eq!(api.list(RAJ, &[("status", "pending")]).await.1["count"], 0);
}

#[tokio::test]
async fn accepting_a_user_who_left_reactivates_their_entry() {
    let env = TestEnv::with_demo().await;
    let api = env.api();
    let (_, body) = api.create(LEA, CHAT1).await;
    let request = body["request"]["_id"].as_str().unwrap().to_owned();
    assert_eq!(api.decide(AMY, &request, "accepted").await.0, 200);
    let entry = env.member(CHAT1, LEA).await.unwrap();
    assert_eq!((entry.id, entry.is_active()), (id("65c000000000000000000004"), true), "the old entry, re-activated");
    assert_eq!(env.members(CHAT1).await.len(), 5, "never two entries for one user");
    let after = env.chat(CHAT1).await;
    assert_eq!(after.chat.participants_count, 4);
    assert!(after.shown.iter().any(|p| p.user == id(LEA)));
}

#[tokio::test]
async fn rejecting_dismisses_notifications_without_joining_or_scoring() {
    let env = TestEnv::with_demo().await;
    let api = env.api();
    let (status, body) = api.decide(AMY, DEMO_REQUEST, "rejected").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["request"]["status"], "rejected");
    assert!(env.member(CHAT1, RAJ).await.is_none());
    assert_eq!(env.chat(CHAT1).await.chat.participants_count, 3);
    assert!(env.notifications_of(BEN).await.iter().all(|n| n["dismissed"] == true));
    assert!(env.score(RAJ).await.is_none());
    env.sweep().await;
    let mut sent: Vec<String> = env
        .aws
        .published()
        .iter()
        .map(|e| format!("{} to {}", e["event"].as_str().unwrap(), e["to"].as_str().unwrap()))
        .collect();
    sent.sort();
    assert_eq!(
        sent,
        [
            format!("chat-join-request-closed to {AMY}"),
            format!("chat-join-request-closed to {BEN}"),
            format!("chat-request-rejected to {RAJ}"),
        ],
        "a rejection tells the requester and closes the request for the admins"
    );
}

#[tokio::test]
async fn patch_checks_run_in_contract_order() {
    let env = TestEnv::with_demo().await;
    let api = env.api();
    assert_error(&api.decide(AMY, "nope", "accepted").await, 400, "INVALID_ID");
    assert_error(&api.decide(AMY, "65d0000000000000000000ff", "accepted").await, 404, "REQUEST_NOT_FOUND");
    assert_error(&api.decide(SAM, DEMO_REQUEST, "accepted").await, 403, "NOT_CHAT_MEMBER");
    assert_error(&api.decide(CAT, DEMO_REQUEST, "accepted").await, 403, "NOT_CHAT_MEMBER");
    assert_error(&api.decide(LEA, DEMO_REQUEST, "accepted").await, 403, "NOT_CHAT_MEMBER");
    assert_error(&api.decide(DAN, DEMO_REQUEST, "accepted").await, 403, "NOT_CHAT_ADMIN");
    assert_error(&api.decide(RAJ, DEMO_REQUEST, "accepted").await, 403, "NOT_CHAT_MEMBER");
    assert_eq!(api.decide(AMY, DEMO_REQUEST, "rejected").await.0, 200);
    assert_error(&api.decide(BEN, DEMO_REQUEST, "accepted").await, 409, "REQUEST_NOT_PENDING");
    assert_error(&api.decide(AMY, DEMO_REQUEST, "rejected").await, 409, "REQUEST_NOT_PENDING");
}

#[tokio::test]
async fn accepting_twice_returns_request_not_pending() {
    let env = TestEnv::with_demo().await;
    let api = env.api();
    assert_eq!(api.decide(AMY, DEMO_REQUEST, "accepted").await.0, 200);
    assert_error(&api.decide(BEN, DEMO_REQUEST, "accepted").await, 409, "REQUEST_NOT_PENDING");
    assert_eq!(env.score(RAJ).await.unwrap().actions["join-group-chat"].count, 1);
}

#[tokio::test]
async fn bad_patch_bodies_are_refused() {
    let env = TestEnv::with_demo().await;
    let api = env.api();
    for body in [
        None,
        Some(json!("{")),
        Some(json!({})),
        Some(json!({"status": "pending"})),
        Some(json!({"status": "ACCEPTED"})),
        Some(json!({"status": true})),
    ] {
        assert_error(&api.decide_raw(AMY, DEMO_REQUEST, body.clone()).await, 400, "INVALID_BODY");
    }
    assert_error(&api.decide_raw(AMY, "bad", Some(json!({}))).await, 400, "INVALID_ID");
}

#[tokio::test]
async fn ten_admins_accepting_at_once_give_one_success_and_nine_conflicts() {
    let admins: Vec<String> = (0..10).map(|n| format!("67a{n:021x}")).collect();
    let mut fixture = dev::kit::demo_fixture();
    fixture["requests"] = json!([]);
    let participants: Vec<Value> = admins
        .iter()
        .enumerate()
        .map(|(n, admin)| {
            json!({
                "_id": format!("67c{n:021x}"), "user": admin, "isAdmin": true, "lastReadAt": "2025-01-01T00:00:00.000Z"
            })
        })
        .collect();
    let big = "67b000000000000000000001";
    fixture["chats"].as_array_mut().unwrap().push(json!({
        "_id": big, "creator": admins[0], "isGroup": true, "name": "ten admins", "restricted": true,
        "createdAt": "2025-01-01T00:00:00.000Z", "updatedAt": "2025-01-01T00:00:00.000Z", "participants": participants
    }));
    let env = TestEnv::with_fixture(fixture).await;
    let api = env.api();
    let (_, body) = api.create(SAM, big).await;
    let request = body["request"]["_id"].as_str().unwrap().to_owned();

    let results = futures::future::join_all(admins.iter().map(|admin| api.decide(admin, &request, "accepted"))).await;
    let ok = results.iter().filter(|r| r.0 == 200).count();
    let conflicts = results.iter().filter(|r| r.0 == 409 && r.1["code"] == "REQUEST_NOT_PENDING").count();
    assert_eq!((ok, conflicts), (1, 9), "{results:?}");

    let members = env.members(big).await;
    assert_eq!(members.iter().filter(|p| p.user == id(SAM)).count(), 1);
    assert_eq!(members.len(), 11);
    assert_eq!(env.chat(big).await.chat.participants_count, 11);
    let score = env.score(SAM).await.unwrap();
    assert_eq!((score.total, score.actions["join-group-chat"].count), (10, 1));
    env.sweep().await;
    let accepted = env.aws.published().into_iter().filter(|e| e["event"] == "chat-request-accepted").count();
    assert_eq!(accepted, 1, "the effects happen once");
    for admin in &admins {
        assert!(env.notifications_of(admin).await.iter().all(|n| n["dismissed"] == true));
    }
}

// ---- failures ---------------------------------------------------------------------

#[tokio::test]
async fn a_storage_failure_is_a_bare_internal_error() {
    let endpoint = dev::kit::dynamodb_endpoint().await;
    let env = TestEnv::over(dev::kit::client(endpoint).await, "no-such-table");
    let api = env.api();
    for result in [
        api.list(RAJ, &[]).await,
        api.get(RAJ, DEMO_REQUEST).await,
        api.create(SAM, CHAT1).await,
        api.decide(AMY, DEMO_REQUEST, "accepted").await,
    ] {
        assert_eq!(result, (500, json!({"message": "internal error", "code": "INTERNAL"})));
    }
}

#[tokio::test]
async fn keys_stay_as_documented() {
    // docs/data-model.md names these shapes; this keeps the two in step.
    use aws::store::inspect;
    assert_eq!(inspect::request_key(id(DEMO_REQUEST)).0, format!("REQUEST#{DEMO_REQUEST}"));
    assert_eq!(inspect::marker_key(id(RAJ), id(CHAT1)).1, format!("PENDING#{CHAT1}"));
    assert_eq!(
        inspect::requests_of_in_partition(id(RAJ), domain::RequestStatus::Pending),
        format!("USER#{RAJ}#pending")
    );
}

#[tokio::test]
async fn a_second_accepted_join_adds_to_the_existing_score() {
    let env = TestEnv::with_demo().await;
    let api = env.api();
    assert_eq!(api.decide(AMY, DEMO_REQUEST, "accepted").await.0, 200);
    let (_, body) = api.create(RAJ, CHAT2).await;
    let second = body["request"]["_id"].as_str().unwrap().to_owned();
    assert_eq!(api.decide(CAT, &second, "accepted").await.0, 200);
    let score = env.score(RAJ).await.unwrap();
    assert_eq!((score.total, score.actions["join-group-chat"].count), (20, 2));
}

#[tokio::test]
async fn exp_has_no_leeway_unless_configured() {
    use edge::auth::{JwtSettings, JwtVerifier};
    let hs256 = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    let expired_a_second_ago = sign(hs256.clone(), json!({"sub": RAJ, "exp": exp(-1)}), b"s");
    let strict = JwtVerifier::new(&JwtSettings { secret: Some("s".into()), ..Default::default() }).unwrap();
    assert!(strict.authenticate_token(&expired_a_second_ago).is_err(), "expired 1 s ago is refused");
    let expired_30_s_ago = sign(hs256.clone(), json!({"sub": RAJ, "exp": exp(-30)}), b"s");
    assert!(strict.authenticate_token(&expired_30_s_ago).is_err(), "no 60 s default leeway");
    let lenient =
        JwtVerifier::new(&JwtSettings { secret: Some("s".into()), leeway_seconds: 30, ..Default::default() }).unwrap();
    assert_eq!(lenient.authenticate_token(&expired_a_second_ago).unwrap(), id(RAJ), "JWT_LEEWAY_SECONDS=30 accepts it");
    let expired_a_minute_ago = sign(hs256, json!({"sub": RAJ, "exp": exp(-60)}), b"s");
    assert!(lenient.authenticate_token(&expired_a_minute_ago).is_err());

    let env = TestEnv::with_demo().await;
    let result = list_with_auth(
        &env,
        Some(&format!(
            "Bearer {}",
            sign(
                jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
                json!({"sub": RAJ, "exp": exp(-1)}),
                dev::kit::SECRET.as_bytes(),
            )
        )),
    )
    .await;
    assert_error(&result, 401, "UNAUTHORIZED");
}

#[tokio::test]
async fn bodies_that_are_not_json_objects_are_invalid() {
    let env = TestEnv::with_demo().await;
    let api = env.api();
    for body in [json!([CHAT1]), json!(format!("\"{CHAT1}\"")), json!("42"), json!("[\"accepted\"]"), json!("null")] {
        assert_error(&api.create_raw(SAM, Some(body.clone())).await, 400, "INVALID_BODY");
        assert_error(&api.decide_raw(AMY, DEMO_REQUEST, Some(body.clone())).await, 400, "INVALID_BODY");
    }
    assert!(env.direct.requests_of(id(SAM), None).await.unwrap().is_empty(), "no request from an array body");
    assert_eq!(api.get(RAJ, DEMO_REQUEST).await.1["request"]["status"], "pending");
}

#[tokio::test]
async fn the_hs256_secret_can_come_from_secrets_manager_once_per_cold_start() {
    use edge::auth::{JwtSettings, JwtVerifier};
    let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:jwt-AbCdEf";
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let secrets = std::collections::HashMap::from([(arn.to_owned(), "from-secrets-manager".to_owned())]);
    tokio::spawn(dev::local::serve_secrets_manager(listener, std::sync::Arc::new(secrets)));
    let config = aws_types::SdkConfig::builder()
        .http_client(aws::sdk::http_client())
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .region(aws_types::region::Region::new("us-east-1"))
        .endpoint_url(format!("http://127.0.0.1:{port}"))
        .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
            aws_sdk_dynamodb::config::Credentials::new("local", "local", None, None, "tests"),
        ))
        .build();
    let settings = JwtSettings { secret_arn: Some(arn.into()), ..Default::default() };
    let verifier = JwtVerifier::new(&settings.resolve_secret(&config).await.unwrap()).unwrap();
    let hs256 = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    let good = sign(hs256.clone(), json!({"sub": RAJ, "exp": exp(60)}), b"from-secrets-manager");
    assert_eq!(verifier.authenticate_token(&good).unwrap(), id(RAJ));
    let other = sign(hs256, json!({"sub": RAJ, "exp": exp(60)}), b"something-else");
    assert!(verifier.authenticate_token(&other).is_err());

    let missing = JwtSettings { secret_arn: Some("arn:nope".into()), ..Default::default() };
    assert!(missing.resolve_secret(&config).await.is_err(), "a secret that cannot be read stops the cold start");
    assert!(JwtVerifier::new(&JwtSettings::default()).is_err(), "no key at all is refused");
}

// ---- found by Schemathesis (scripts/fuzz.sh) --------------------------------------

#[tokio::test]
async fn the_last_possible_page_is_an_empty_page_with_the_true_count() {
    // Page 4294967295 of 100 once reserved memory for 429 billion requests up front:
    // the process aborted instead of answering.
    let env = TestEnv::with_demo().await;
    let api = env.api();
    let last = [("page", "4294967295"), ("limit", "100")];
    let (status, queue) = api.queue(AMY, CHAT1, &last).await;
    assert_eq!((status, queue["requests"].as_array().map(Vec::len), queue["count"].as_u64()), (200, Some(0), Some(1)));
    let (status, listed) = api.list(RAJ, &last).await;
    assert_eq!(
        (status, listed["requests"].as_array().map(Vec::len), listed["count"].as_u64()),
        (200, Some(0), Some(1))
    );
    assert_error(&api.list(RAJ, &[("page", "4294967296")]).await, 400, "INVALID_QUERY");
}

#[tokio::test]
async fn a_null_message_or_reason_is_refused_like_any_other_non_string() {
    // `null` was read as "absent" although openapi.yaml says a string.
    let env = TestEnv::with_demo().await;
    let api = env.api();
    assert_error(&api.create_raw(SAM, Some(json!({"chat": CHAT1, "message": null}))).await, 400, "INVALID_BODY");
    let reject = json!({"status": "rejected", "reason": null});
    assert_error(&api.decide_raw(AMY, DEMO_REQUEST, Some(reject.clone())).await, 400, "INVALID_BODY");
    let many = json!({"status": "accepted", "requests": [DEMO_REQUEST], "reason": null});
    assert_error(&api.decide_many(AMY, CHAT1, many).await, 400, "INVALID_BODY");
    assert!(env.direct.requests_of(id(SAM), None).await.unwrap().is_empty());
    assert_eq!(api.get(RAJ, DEMO_REQUEST).await.1["request"]["status"], "pending", "nothing was decided");
}

#[tokio::test]
async fn a_message_of_only_non_breaking_spaces_is_empty() {
    let env = TestEnv::with_demo().await;
    let api = env.api();
    let body = json!({"chat": CHAT1, "message": "\u{a0}\u{3000}\u{2028}"});
    assert_error(&api.create_raw(SAM, Some(body)).await, 400, "INVALID_BODY");
    let padded = format!("\u{a0} {} \u{3000}", "x".repeat(500));
    let (status, created) = api.create_raw(SAM, Some(json!({"chat": CHAT1, "message": padded}))).await;
    assert_eq!(status, 201, "500 characters between spaces: {created}");
    assert_eq!(created["request"]["message"].as_str().map(|m| m.chars().count()), Some(500), "stored trimmed");
}

#[tokio::test]
async fn a_request_whose_chat_the_app_deleted_shows_a_null_chat() {
    let env = TestEnv::with_demo().await;
    let api = env.api();
    env.remove(aws::store::inspect::chat_key(id(CHAT1))).await;
    // `answer` checks this against openapi.yaml, where `chat` may be null.
    let (status, body) = api.get(RAJ, DEMO_REQUEST).await;
    assert_eq!((status, &body["request"]["chat"]), (200, &Value::Null), "{body}");
}

#[tokio::test]
async fn a_body_over_64_kb_is_refused_before_it_is_parsed_and_a_byte_order_mark_is_ignored() {
    let env = TestEnv::with_demo().await;
    let api = env.api();
    // Not JSON at all: parsed, it would be INVALID_BODY; its size is checked first.
    let over = Value::String("x".repeat(edge::http::MAX_BODY_BYTES + 1));
    assert_error(&api.create_raw(SAM, Some(over.clone())).await, 413, "PAYLOAD_TOO_LARGE");
    assert_error(&api.decide_raw(AMY, DEMO_REQUEST, Some(over.clone())).await, 413, "PAYLOAD_TOO_LARGE");
    assert_error(&api.decide_many(AMY, CHAT1, over).await, 413, "PAYLOAD_TOO_LARGE");
    assert!(env.direct.requests_of(id(SAM), None).await.unwrap().is_empty(), "nothing was created");

    // 64 KB exactly is read: a valid body padded with white space.
    let body = format!("{{\"chat\":\"{CHAT1}\"}}");
    let padded = format!("{}{}}}", &body[..body.len() - 1], " ".repeat(edge::http::MAX_BODY_BYTES - body.len()));
    assert_eq!(padded.len(), edge::http::MAX_BODY_BYTES);
    assert_eq!(api.create_raw(SAM, Some(Value::String(padded))).await.0, 201);

    let (status, created) = api.create_raw(LEA, Some(Value::String(format!("\u{feff}{body}")))).await;
    assert_eq!(status, 201, "a byte order mark before the body is ignored: {created}");
    assert_eq!(created["request"]["chat"], CHAT1);
}

const APP_ORIGIN: &str = "https://app.example.com";

fn cors_header<'a>(response: &'a lambda_http::Response<lambda_http::Body>, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|value| value.to_str().ok())
}

#[tokio::test]
async fn a_preflight_names_the_paths_methods_to_an_allowed_origin_and_nothing_to_another() {
    let mut env = TestEnv::with_demo().await;
    env.app.cors = edge::cors::AllowedOrigins::parse(APP_ORIGIN).unwrap();
    let path = format!("/requests/{DEMO_REQUEST}");
    let asking = [("Origin", APP_ORIGIN), ("Access-Control-Request-Method", "PATCH")];
    let event = dev::kit::rest_event_with("OPTIONS", &path, &asking, &[], None);
    let response = preflight::handle(&env.app.cors, request_from(&event)).await;
    assert_eq!(response.status().as_u16(), 204, "no token needed");
    assert_eq!(cors_header(&response, "access-control-allow-origin"), Some(APP_ORIGIN));
    assert_eq!(cors_header(&response, "access-control-allow-methods"), Some("DELETE, GET, PATCH"));
    let allowed_headers = cors_header(&response, "access-control-allow-headers").unwrap().to_ascii_lowercase();
    for header in ["authorization", "content-type", "idempotency-key"] {
        assert!(allowed_headers.contains(header), "{header} in {allowed_headers}");
    }
    assert_eq!(cors_header(&response, "access-control-max-age"), Some("600"));
    let (status, body) = answer(&event, response);
    assert_eq!((status, body), (204, Value::Null), "as openapi.yaml documents it");

    let other = [("Origin", "https://evil.example.com"), ("Access-Control-Request-Method", "PATCH")];
    let event = dev::kit::rest_event_with("OPTIONS", &path, &other, &[], None);
    let response = preflight::handle(&env.app.cors, request_from(&event)).await;
    assert!(response.headers().keys().all(|name| !name.as_str().starts_with("access-control-")), "nothing of CORS");
}

#[tokio::test]
async fn every_answer_to_an_allowed_origin_carries_cors_headers_errors_too_and_another_origin_none() {
    let mut env = TestEnv::with_demo().await;
    env.app.cors = edge::cors::AllowedOrigins::parse(&format!("https://admin.example.com, {APP_ORIGIN}")).unwrap();
    let bearer = format!("Bearer {}", token(RAJ));
    for headers in [vec![("Origin", APP_ORIGIN), ("Authorization", bearer.as_str())], vec![("Origin", APP_ORIGIN)]] {
        let event = dev::kit::rest_event_with("GET", "/requests", &headers, &[], None);
        let response = list_requests::handle(&env.app, request_from(&event)).await;
        assert_eq!(cors_header(&response, "access-control-allow-origin"), Some(APP_ORIGIN), "{}", response.status());
        assert_eq!(cors_header(&response, "access-control-expose-headers"), Some("Retry-After, Idempotency-Replayed"));
        assert_eq!(cors_header(&response, "vary"), Some("Origin"));
    }
    let event = dev::kit::rest_event_with("GET", "/requests", &[("Origin", "https://evil.example.com")], &[], None);
    let response = list_requests::handle(&env.app, request_from(&event)).await;
    assert_eq!(response.status().as_u16(), 401);
    assert_eq!(cors_header(&response, "access-control-allow-origin"), None);

    env.app.cors = edge::cors::AllowedOrigins::Any;
    let event = dev::kit::rest_event_with("GET", "/requests", &[("Origin", "https://any.example.com")], &[], None);
    let response = list_requests::handle(&env.app, request_from(&event)).await;
    assert_eq!(cors_header(&response, "access-control-allow-origin"), Some("*"), "the default: any origin");
}

// ---- idempotent retries (draft-ietf-httpapi-idempotency-key-header) ----------------

/// A change with an `Idempotency-Key`: status, body (checked against openapi.yaml), and
/// whether it says it was replayed.
async fn with_key(
    env: &TestEnv,
    method: &str,
    path: &str,
    user: &str,
    key: &str,
    body: Option<Value>,
) -> (u16, Value, bool) {
    let bearer = format!("Bearer {}", token(user));
    let event =
        dev::kit::rest_event_with(method, path, &[("Authorization", &bearer), ("Idempotency-Key", key)], &[], body);
    let request = request_from(&event);
    let (app, publisher) = (&env.app, &env.aws.publisher);
    let response = match method {
        "POST" => create_request::handle(app, publisher, request).await,
        "PATCH" => patch_request::handle(app, publisher, request).await,
        "DELETE" => withdraw_request::handle(app, publisher, request).await,
        other => panic!("{other} takes no key"),
    };
    let replayed = response.headers().get("idempotency-replayed").is_some_and(|v| v == "true");
    let (status, body) = answer(&event, response);
    (status, body, replayed)
}

#[tokio::test]
async fn a_retried_create_with_its_key_is_the_same_change_and_says_so() {
    let env = TestEnv::with_demo().await;
    let ask = |chat: &str| Some(json!({ "chat": chat }));
    let first = with_key(&env, "POST", "/requests", SAM, "create-1", ask(CHAT1)).await;
    assert_eq!((first.0, first.2), (201, false), "{}", first.1);
    let again = with_key(&env, "POST", "/requests", SAM, "create-1", ask(CHAT1)).await;
    assert_eq!(again, (201, first.1.clone(), true), "the same answer, marked replayed");
    assert_eq!(env.direct.requests_of(id(SAM), None).await.unwrap().len(), 1, "one change");
    let other_body = with_key(&env, "POST", "/requests", SAM, "create-1", ask(CHAT2)).await;
    assert_eq!((other_body.0, other_body.1["code"].as_str()), (422, Some("IDEMPOTENCY_KEY_REUSED")));
    let someone_else = with_key(&env, "POST", "/requests", LEA, "create-1", ask(CHAT1)).await;
    assert_eq!((someone_else.0, someone_else.2), (201, false), "keys are per caller");
}

#[tokio::test]
async fn twenty_identical_calls_at_once_with_one_key_make_one_change_and_give_one_answer() {
    let env = TestEnv::with_demo().await;
    let calls = (0..20).map(|_| with_key(&env, "POST", "/requests", SAM, "burst", Some(json!({ "chat": CHAT1 }))));
    let answers = futures::future::join_all(calls).await;
    assert!(answers.iter().all(|(status, body, _)| *status == 201 && *body == answers[0].1), "{answers:?}");
    assert_eq!(answers.iter().filter(|(_, _, replayed)| !replayed).count(), 1, "one carried out, the rest replayed");
    assert_eq!(env.direct.requests_of(id(SAM), None).await.unwrap().len(), 1, "one change");
}

#[tokio::test]
async fn a_retried_decision_and_withdrawal_answer_as_the_first_did_instead_of_409() {
    let env = TestEnv::with_demo().await;
    let path = format!("/requests/{DEMO_REQUEST}");
    let accept = Some(json!({ "status": "accepted" }));
    let first = with_key(&env, "PATCH", &path, AMY, "accept-1", accept.clone()).await;
    assert_eq!(first.0, 200, "{}", first.1);
    assert_eq!(with_key(&env, "PATCH", &path, AMY, "accept-1", accept).await, (200, first.1.clone(), true));
    assert_eq!(env.score(RAJ).await.map(|s| s.total), Some(10), "counted once");

    let (_, created) = env.api().create(SAM, CHAT1).await;
    let path = format!("/requests/{}", created["request"]["_id"].as_str().unwrap());
    let first = with_key(&env, "DELETE", &path, SAM, "withdraw-1", None).await;
    assert_eq!((first.0, first.1["request"]["status"].as_str()), (200, Some("cancelled")));
    assert_eq!(with_key(&env, "DELETE", &path, SAM, "withdraw-1", None).await, (200, first.1, true));
}

#[tokio::test]
async fn an_error_keeps_nothing_a_bad_key_is_400_and_a_kept_answer_lasts_24_hours() {
    let env = TestEnv::with_demo().await;
    let refused = with_key(&env, "POST", "/requests", SAM, "k", Some(json!({ "chat": OPEN }))).await;
    assert_eq!((refused.0, refused.1["code"].as_str()), (400, Some("CHAT_NOT_RESTRICTED")));
    let retried = with_key(&env, "POST", "/requests", SAM, "k", Some(json!({ "chat": CHAT1 }))).await;
    assert_eq!(retried.0, 201, "the error was not kept: the key is free: {}", retried.1);

    for bad in [String::new(), "x".repeat(256), "two words".into(), "caf\u{e9}".into()] {
        let (status, body, _) = with_key(&env, "POST", "/requests", LEA, &bad, Some(json!({ "chat": CHAT1 }))).await;
        assert_eq!((status, body["code"].as_str()), (400, Some("INVALID_IDEMPOTENCY_KEY")), "{bad:?}");
    }

    // An answer kept a day ago, for another call: its TTL has run out, though DynamoDB
    // has not removed it yet. The key is free again.
    let key = edge::http::hex_digest(&[b"old"]);
    let expired = json!({
        "entity": aws::store::inspect::KEPT_ANSWER_ENTITY, "fingerprint": "another call", "value": {},
        "ttl": domain::time::epoch_seconds_in(-60),
    });
    env.plant(aws::store::inspect::kept_answer_key(id(LEA), &key), expired).await;
    let (status, body, replayed) =
        with_key(&env, "POST", "/requests", LEA, "old", Some(json!({ "chat": CHAT1 }))).await;
    assert_eq!((status, replayed), (201, false), "{body}");
}
