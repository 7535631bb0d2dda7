//! Every sample event in `events/` is fed to its function's handler, on the demo data
//! and the documented local secret, so the samples in the docs cannot rot.

use dev::kit::{answer, expected_answers, repo_root, request_from, TestEnv};
use edge::auth::{JwtSettings, JwtVerifier};
use serde_json::Value;

/// The local stack's documented default secret, which signs the sample tokens.
const LOCAL_SECRET: &str = "local-development-secret";

fn sample_files() -> Vec<String> {
    let root = repo_root().join("events");
    let mut files = Vec::new();
    for function in std::fs::read_dir(&root).unwrap() {
        let function = function.unwrap().path();
        // events/bus/ holds what the service publishes, not what a function takes.
        if !function.is_dir() || function.ends_with("bus") {
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
        "preflight" => preflight::handle(&app.cors, request).await,
        "chat-questions" => chat_questions::handle(app, request).await,
        "chat-blocks" => chat_blocks::handle(app, publisher, request).await,
        other => panic!("no handler for events/{other}"),
    };
    answer(event, response)
}

#[tokio::test]
async fn every_rest_sample_event_gets_its_documented_response() {
    let expectations = expected_answers();
    let listed: Vec<String> = expectations.keys().cloned().collect();
    assert_eq!(sample_files(), listed, "every sample event has an expectation and every expectation a file");
    let files =
        listed.into_iter().filter(|f| ["ws-", "notifier", "expire-", "sync-app"].iter().all(|p| !f.starts_with(p)));

    for file in files {
        // Each sample runs on fresh demo data, as `cargo lambda invoke` would after a seed.
        let mut env = TestEnv::with_demo().await;
        env.app.auth =
            JwtVerifier::new(&JwtSettings { secret: Some(LOCAL_SECRET.into()), ..Default::default() }).unwrap();
        let text = std::fs::read_to_string(repo_root().join("events").join(&file)).unwrap();
        let event: Value = serde_json::from_str(&text).unwrap();
        let (status, body) = run(&env, &file, &event).await;
        let expected = &expectations[&file];
        assert_eq!(Some(u64::from(status)), expected["status"].as_u64(), "{file}: {body}");
        assert_eq!(body.get("code"), expected.get("code"), "{file}: {body}");
    }
}

#[tokio::test]
async fn the_idempotency_key_sample_sent_twice_makes_one_request_and_replays_its_answer() {
    let mut env = TestEnv::with_demo().await;
    env.app.auth = JwtVerifier::new(&JwtSettings { secret: Some(LOCAL_SECRET.into()), ..Default::default() }).unwrap();
    let text = std::fs::read_to_string(repo_root().join("events/create-request/idempotency-key.json")).unwrap();
    let event: Value = serde_json::from_str(&text).unwrap();
    let send = || create_request::handle(&env.app, &env.aws.publisher, request_from(&event));
    let (first, again) = (send().await, send().await);
    assert_eq!((first.status().as_u16(), again.status().as_u16()), (201, 201));
    assert_eq!(first.headers().get("idempotency-replayed"), None);
    assert_eq!(again.headers().get("idempotency-replayed").map(|v| v.as_bytes()), Some(&b"true"[..]));
    assert_eq!(answer(&event, first).1, answer(&event, again).1, "the kept answer, not a second request");
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

/// events/bus/: one sample per change the service publishes, as EventBridge delivers it
/// to a consumer's rule, each the example of bus.asyncapi.yaml.
#[test]
fn every_published_change_has_a_sample_that_fits_the_bus_document() {
    for detail_type in domain::event::REQUEST_CHANGES {
        let path = repo_root().join(format!("events/bus/{detail_type}.json"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let event: aws_lambda_events::eventbridge::EventBridgeEvent<Value> =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{detail_type}: an EventBridge event: {e}"));
        assert_eq!((event.source.as_str(), event.detail_type.as_str()), (aws::bus::EVENT_SOURCE, detail_type));
        dev::kit::contract::check_change(detail_type, &event.detail);
        let messages = dev::kit::contract::document(dev::kit::contract::BUS)["components"]["messages"].as_object();
        let example = messages
            .into_iter()
            .flat_map(|m| m.values())
            .find(|m| m["name"] == detail_type)
            .map(|m| m["examples"][0]["payload"].clone());
        assert_eq!(example.as_ref(), Some(&event.detail), "{detail_type}: the sample is the document's example");
    }
}

/// events/sync-app/: one sample per detail-type the app sends, each applied on the demo
/// data (and, by scripts/sam-local.sh, in Lambda's container).
#[tokio::test]
async fn every_sample_of_the_apps_events_applies_on_the_demo_data() {
    let mut seen = Vec::new();
    for file in sample_files().into_iter().filter(|f| f.starts_with("sync-app/")) {
        let env = TestEnv::with_demo().await;
        let text = std::fs::read_to_string(repo_root().join("events").join(&file)).unwrap();
        let batch: aws_lambda_events::sqs::SqsEvent = serde_json::from_str(&text).unwrap();
        assert_eq!(batch.records.len(), 1, "{file}: one message");
        let body = batch.records[0].body.as_deref().unwrap_or_default();
        let event: aws_lambda_events::eventbridge::EventBridgeEvent<Value> = serde_json::from_str(body).unwrap();
        assert_eq!(event.source, domain::sync::DEFAULT_APP_EVENT_SOURCE, "{file}");
        seen.push(event.detail_type.clone());
        let handled = dev::stack::events::sync_in_time(env.store(), &env.aws.publisher, "test", batch).await;
        assert!(handled.response().batch_item_failures.is_empty(), "{file}: {handled:?}");
        let outcome = &handled.outcomes[0].1;
        assert!(matches!(outcome, sync_app::Outcome::Applied(ref r) if r.changed), "{file}: {outcome:?}");
    }
    seen.sort();
    let mut all: Vec<String> = domain::sync::APP_CHANGES.iter().map(|t| t.to_string()).collect();
    all.sort();
    assert_eq!(seen, all, "one sample per detail-type");
}
