//! Every sample event in `events/` is fed to its function's handler, on the demo data
//! and the documented local secret, so the samples in the README cannot rot.

use std::collections::BTreeMap;

use integration_tests::{answer, repo_root, request_from, TestEnv};
use serde_json::Value;
use shared::auth::{JwtSettings, JwtVerifier};

/// The local stack's documented default secret, which signs the sample tokens.
const LOCAL_SECRET: &str = "local-development-secret";

/// file → (status, code for errors). A new file without a line here fails the test.
fn expectations() -> BTreeMap<&'static str, (u16, Option<&'static str>)> {
    BTreeMap::from([
        ("list-requests/ok.json", (200, None)),
        ("list-requests/ok-filtered-page.json", (200, None)),
        ("list-requests/no-token.json", (401, Some("UNAUTHORIZED"))),
        ("list-requests/bad-query.json", (400, Some("INVALID_QUERY"))),
        ("get-request/ok.json", (200, None)),
        ("get-request/no-token.json", (401, Some("UNAUTHORIZED"))),
        ("get-request/bad-id.json", (400, Some("INVALID_ID"))),
        ("get-request/not-found.json", (404, Some("REQUEST_NOT_FOUND"))),
        ("create-request/ok.json", (201, None)),
        ("create-request/no-token.json", (401, Some("UNAUTHORIZED"))),
        ("create-request/bad-id.json", (400, Some("INVALID_ID"))),
        ("create-request/bad-body.json", (400, Some("INVALID_BODY"))),
        ("create-request/already-pending.json", (409, Some("REQUEST_ALREADY_PENDING"))),
        ("patch-request/accept.json", (200, None)),
        ("patch-request/reject.json", (200, None)),
        ("patch-request/no-token.json", (401, Some("UNAUTHORIZED"))),
        ("patch-request/bad-id.json", (400, Some("INVALID_ID"))),
        ("patch-request/bad-body.json", (400, Some("INVALID_BODY"))),
        ("patch-request/not-admin.json", (403, Some("NOT_CHAT_ADMIN"))),
        ("withdraw-request/ok.json", (200, None)),
        ("chat-requests/ok.json", (200, None)),
        ("list-events/ok.json", (200, None)),
        ("list-events/bad-query.json", (400, Some("INVALID_QUERY"))),
        ("list-events/no-token.json", (401, Some("UNAUTHORIZED"))),
        ("chat-requests/not-admin.json", (403, Some("NOT_CHAT_ADMIN"))),
        ("chat-requests/bad-query.json", (400, Some("INVALID_QUERY"))),
        ("chat-requests/no-token.json", (401, Some("UNAUTHORIZED"))),
        ("decide-requests/accept.json", (200, None)),
        ("decide-requests/reject-with-reason.json", (200, None)),
        ("decide-requests/bad-body.json", (400, Some("INVALID_BODY"))),
        ("decide-requests/not-admin.json", (403, Some("NOT_CHAT_ADMIN"))),
        ("withdraw-request/not-yours.json", (404, Some("REQUEST_NOT_FOUND"))),
        ("withdraw-request/bad-id.json", (400, Some("INVALID_ID"))),
        ("withdraw-request/no-token.json", (401, Some("UNAUTHORIZED"))),
    ])
}

fn sample_files() -> Vec<String> {
    let root = repo_root().join("events");
    let mut files = Vec::new();
    for function in std::fs::read_dir(&root).unwrap() {
        let function = function.unwrap().path();
        if !function.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&function).unwrap() {
            let path = file.unwrap().path();
            if path.extension().is_some_and(|e| e == "json") {
                files.push(path.strip_prefix(&root).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    files.sort();
    files
}

async fn run(env: &TestEnv, file: &str, event: &Value) -> (u16, Value) {
    let (app, publisher) = (&env.app, &env.aws.publisher);
    let request = request_from(event);
    let response = match file.split('/').next().unwrap() {
        "list-requests" => list_requests::handle(app, request).await,
        "get-request" => get_request::handle(app, request).await,
        "create-request" => create_request::handle(app, publisher, request).await,
        "patch-request" => patch_request::handle(app, publisher, request).await,
        "withdraw-request" => withdraw_request::handle(app, publisher, request).await,
        "chat-requests" => chat_requests::handle(app, request).await,
        "list-events" => list_events::handle(app, request).await,
        "decide-requests" => decide_requests::handle(app, publisher, request).await,
        other => panic!("no handler for events/{other}"),
    };
    answer(event, response)
}

#[tokio::test]
async fn every_rest_sample_event_gets_its_documented_response() {
    let expectations = expectations();
    let files: Vec<String> = sample_files()
        .into_iter()
        .filter(|f| !f.starts_with("ws-") && !f.starts_with("notifier") && !f.starts_with("expire-"))
        .collect();
    let listed: Vec<String> = expectations.keys().map(|k| k.to_string()).collect();
    assert_eq!(files, listed, "every sample event has an expectation and every expectation a file");

    for file in files {
        // Each sample runs on fresh demo data, as `cargo lambda invoke` would after a seed.
        let mut env = TestEnv::with_demo().await;
        env.app.auth =
            JwtVerifier::new(&JwtSettings { secret: Some(LOCAL_SECRET.into()), ..Default::default() }).unwrap();
        let text = std::fs::read_to_string(repo_root().join("events").join(&file)).unwrap();
        let event: Value = serde_json::from_str(&text).unwrap();
        let (status, body) = run(&env, &file, &event).await;
        let (want_status, want_code) = expectations[file.as_str()];
        assert_eq!(status, want_status, "{file}: {body}");
        if let Some(code) = want_code {
            assert_eq!(body["code"], code, "{file}");
        } else {
            assert!(body.get("code").is_none(), "{file}: {body}");
        }
    }
}

#[tokio::test]
async fn the_scheduled_sample_event_runs_expiry_on_the_demo_data() {
    let env = TestEnv::with_demo().await;
    let text = std::fs::read_to_string(repo_root().join("events/expire-requests/scheduled.json")).unwrap();
    let scheduled: aws_lambda_events::eventbridge::EventBridgeEvent<Value> = serde_json::from_str(&text).unwrap();
    assert_eq!(scheduled.detail_type, "Scheduled Event");
    let report =
        expire_requests::handle(&env.direct, &env.aws.publisher, std::time::Duration::from_secs(3600), "sample")
            .await
            .unwrap();
    assert_eq!(report.expired, 0, "the demo request is younger than an hour");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let report = expire_requests::handle(&env.direct, &env.aws.publisher, std::time::Duration::from_secs(1), "sample")
        .await
        .unwrap();
    assert_eq!(report.expired, 1, "the demo request, once older than the expiry");
}
