//! `openapi.yaml` and `asyncapi.yaml` against the code and the template: the same
//! routes everywhere, every error code and event documented, every example valid.
//! (Each answer and message the other tests receive is checked by
//! `dev::kit::contract`; scripts/test.sh runs the documents' own validators.)

use std::collections::{BTreeMap, BTreeSet};

use app::AppError;
use dev::kit::contract::{document, plain_schema, violations, ASYNCAPI, BUS, OPENAPI};
use dev::kit::template;
use domain::page::InvalidPageQuery;
use edge::auth::AuthError;
use edge::ApiError;
use serde_json::Value;

const METHODS: [&str; 6] = ["get", "post", "put", "patch", "delete", "options"];

type Route = (String, String);

fn documented_routes() -> BTreeMap<Route, &'static Value> {
    let paths = document(OPENAPI)["paths"].as_object().expect("paths");
    paths
        .iter()
        .flat_map(|(path, item)| {
            METHODS.iter().filter_map(move |method| {
                let operation = item.get(*method)?;
                Some(((method.to_ascii_uppercase(), path.clone()), operation))
            })
        })
        .collect()
}

/// Each `Api` event of the template's functions: its route and its function.
fn template_routes(template: &serde_yaml::Value) -> BTreeMap<Route, String> {
    let resources = template["Resources"].as_mapping().expect("Resources");
    let mut routes = BTreeMap::new();
    for (name, resource) in resources {
        let Some(events) = resource["Properties"]["Events"].as_mapping() else { continue };
        for event in events.values().filter(|event| event["Type"] == "Api") {
            let properties = &event["Properties"];
            let route = (
                properties["Method"].as_str().expect("Method").to_ascii_uppercase(),
                properties["Path"].as_str().expect("Path").to_owned(),
            );
            let function = name.as_str().expect("a resource name").to_owned();
            assert!(routes.insert(route.clone(), function).is_none(), "{route:?} has one function");
        }
    }
    routes
}

#[test]
fn the_document_the_code_and_the_template_have_the_same_routes() {
    let documented: BTreeSet<Route> = documented_routes().into_keys().collect();
    let coded: BTreeSet<Route> =
        dev::local::events::REST_ROUTES.iter().map(|(method, path)| (method.to_string(), path.to_string())).collect();
    let template = template();
    let deployed: BTreeSet<Route> = template_routes(&template).into_keys().collect();
    assert_eq!(coded, documented, "routes in the code (left) and in {OPENAPI} (right)");
    assert_eq!(deployed, documented, "routes of the template's functions (left) and in {OPENAPI} (right)");
}

#[test]
fn the_deployed_rest_api_is_built_from_the_document_and_each_operation_invokes_its_function() {
    let template = template();
    let include = &template["Resources"]["RestApi"]["Properties"]["DefinitionBody"]["Fn::Transform"];
    assert_eq!(include["Name"], "AWS::Include");
    assert_eq!(include["Parameters"]["Location"], OPENAPI);

    let functions = template_routes(&template);
    for ((method, path), operation) in documented_routes() {
        let integration = &operation["x-amazon-apigateway-integration"];
        assert_eq!(integration["type"], "aws_proxy", "{method} {path}");
        assert_eq!(integration["httpMethod"], "POST", "{method} {path}: Lambda is invoked with POST");
        let uri = integration["uri"]["Fn::Sub"].as_str().unwrap_or_else(|| panic!("{method} {path}: uri"));
        let function = &functions[&(method.clone(), path.clone())];
        assert!(
            uri.ends_with(&format!("/functions/${{{function}.Arn}}/invocations")),
            "{method} {path} invokes {uri}, not {function}"
        );
    }
}

/// Every error the service can answer, one per code.
fn every_error() -> Vec<ApiError> {
    vec![
        ApiError::Unauthorized(AuthError::MissingHeader),
        ApiError::InvalidQuery(InvalidPageQuery::Limit),
        ApiError::InvalidBody(String::new()),
        ApiError::InvalidId,
        ApiError::PayloadTooLarge,
        ApiError::InvalidIdempotencyKey,
        ApiError::IdempotencyKeyReused,
        ApiError::App(AppError::AnswerKept),
        ApiError::App(AppError::RequestNotFound),
        ApiError::App(AppError::ChatNotFound),
        ApiError::App(AppError::ChatNotGroup),
        ApiError::App(AppError::ChatNotRestricted),
        ApiError::App(AppError::AlreadyParticipant),
        ApiError::App(AppError::RequestAlreadyPending),
        ApiError::App(AppError::RequestCooldown { retry_after: 1 }),
        ApiError::App(AppError::InvalidAnswers(domain::moderation::InvalidAnswers::Twice("q".into()))),
        ApiError::App(AppError::RequestBlocked),
        ApiError::App(AppError::RateLimited { retry_after: 1 }),
        ApiError::App(AppError::BlockNotFound),
        ApiError::App(AppError::EventNotFound),
        ApiError::App(AppError::NotChatMember),
        ApiError::App(AppError::NotChatAdmin),
        ApiError::App(AppError::RequestNotPending),
        ApiError::App(AppError::Unavailable("a dependency".into())),
        ApiError::App(AppError::Internal("a bug".into())),
    ]
}

#[test]
fn every_error_code_is_documented_with_its_status_and_nothing_else_is() {
    let codes_of_error: BTreeSet<String> = plain_schema(OPENAPI, &document(OPENAPI)["components"]["schemas"]["Error"])
        ["properties"]["code"]["enum"]
        .as_array()
        .expect("Error.code is an enum")
        .iter()
        .map(|code| code.as_str().expect("a code").to_owned())
        .collect();
    let service: BTreeSet<(u16, String)> = every_error().iter().map(|e| (e.status(), e.code().to_owned())).collect();
    let service_codes: BTreeSet<String> = service.iter().map(|(_, code)| code.clone()).collect();
    assert_eq!(service_codes, codes_of_error, "the service's codes (left) and Error.code in {OPENAPI} (right)");

    // The (status, code) pairs the operations document: each response's code enum.
    let mut documented = BTreeSet::new();
    for ((method, path), operation) in documented_routes() {
        for (status, response) in operation["responses"].as_object().expect("responses") {
            let status: u16 = status.parse().unwrap_or_else(|_| panic!("{method} {path}: {status}"));
            if status < 400 {
                continue;
            }
            let response = plain_schema(OPENAPI, response);
            let codes = code_enum(&response["content"]["application/json"]["schema"])
                .unwrap_or_else(|| panic!("{method} {path} {status} names its codes"));
            for code in codes {
                documented.insert((status, code));
            }
        }
    }
    assert_eq!(service, documented, "(status, code) of the service (left) and of the operations (right)");
}

/// The codes a plain error schema allows: its own `code` enum, or the narrowest one of
/// an `allOf`.
fn code_enum(schema: &Value) -> Option<Vec<String>> {
    let own = schema["properties"]["code"]["enum"].as_array();
    let parts = schema["allOf"].as_array().into_iter().flatten();
    let enums: Vec<&Vec<Value>> =
        own.into_iter().chain(parts.filter_map(|p| p["properties"]["code"]["enum"].as_array())).collect();
    let narrowest = enums.into_iter().min_by_key(|e| e.len())?;
    Some(narrowest.iter().filter_map(|c| c.as_str().map(str::to_owned)).collect())
}

#[test]
fn every_event_the_service_sends_is_a_message_of_the_asyncapi_document() {
    let messages: BTreeSet<String> = document(ASYNCAPI)["components"]["messages"]
        .as_object()
        .expect("messages")
        .values()
        .map(|m| m["payload"]["properties"]["event"]["const"].as_str().expect("an event name").to_owned())
        .collect();
    let events: BTreeSet<String> = domain::event::ALL_EVENTS.iter().map(|e| e.to_string()).collect();
    assert_eq!(events, messages, "events of the service (left) and messages of {ASYNCAPI} (right)");

    let channel_messages = document(ASYNCAPI)["channels"]["user"]["messages"].as_object().expect("channel messages");
    assert_eq!(channel_messages.len(), messages.len(), "the channel carries every message");
}

#[test]
fn every_change_the_service_publishes_is_a_message_of_the_bus_document() {
    let messages: BTreeSet<String> = document(BUS)["components"]["messages"]
        .as_object()
        .expect("messages")
        .values()
        .map(|m| m["name"].as_str().expect("a detail-type").to_owned())
        .collect();
    let changes: BTreeSet<String> = domain::event::REQUEST_CHANGES.iter().map(|c| c.to_string()).collect();
    assert_eq!(changes, messages, "changes the service publishes (left) and messages of {BUS} (right)");
    let channel = document(BUS)["channels"]["requestChanges"]["messages"].as_object().expect("channel messages");
    assert_eq!(channel.len(), messages.len(), "the channel carries every message");
}

/// Every `example` and `examples` value under `value`, with the schema beside it.
fn examples_with_schemas(document_name: &str, at: &str, value: &Value, found: &mut Vec<(String, Value, Value)>) {
    let Value::Object(object) = value else {
        if let Value::Array(items) = value {
            for (i, item) in items.iter().enumerate() {
                examples_with_schemas(document_name, &format!("{at}/{i}"), item, found);
            }
        }
        return;
    };
    let schema = object.get("schema").or_else(|| object.get("payload"));
    if let Some(schema) = schema {
        if let Some(example) = object.get("example") {
            found.push((format!("{at}/example"), schema.clone(), example.clone()));
        }
        let examples = object.get("examples");
        for (name, example) in examples.and_then(Value::as_object).into_iter().flatten() {
            let example = plain_schema(document_name, example);
            found.push((format!("{at}/examples/{name}"), schema.clone(), example["value"].clone()));
        }
        for (i, example) in examples.and_then(Value::as_array).into_iter().flatten().enumerate() {
            found.push((format!("{at}/examples/{i}"), schema.clone(), example["payload"].clone()));
        }
    }
    for (key, child) in object {
        if key != "example" && key != "examples" {
            examples_with_schemas(document_name, &format!("{at}/{key}"), child, found);
        }
    }
}

#[test]
fn every_example_of_both_documents_fits_its_schema() {
    for (name, root) in [(OPENAPI, "/paths"), (ASYNCAPI, "/components/messages"), (BUS, "/components/messages")] {
        let mut found = Vec::new();
        examples_with_schemas(name, root, document(name).pointer(root).expect("root"), &mut found);
        assert!(found.len() >= 5, "{name} has examples: {}", found.len());
        for (at, schema, example) in found {
            let errors = violations(&plain_schema(name, &schema), &example);
            assert!(errors.is_empty(), "{name}#{at}:\n{}", errors.join("\n"));
        }
    }
}

#[test]
fn the_text_schema_accepts_exactly_the_notes_the_service_accepts() {
    // The pattern in openapi.yaml restates `Note::parse` (trim Unicode White_Space, then
    // 1 to 500 characters); Schemathesis found the first version too loose.
    let schema = plain_schema(OPENAPI, &document(OPENAPI)["components"]["schemas"]["Text"]);
    let x = |n: usize| "x".repeat(n);
    let candidates = [
        String::new(),
        " ".into(),
        "\u{a0}".into(),
        "\u{3000}\u{2028}\u{85}\t\n".into(),
        "\u{1c}".into(),
        "\u{feff}".into(),
        "a".into(),
        " a ".into(),
        "\u{a0}a\u{a0}".into(),
        "a b".into(),
        x(500),
        x(501),
        format!("  {}  ", x(500)),
        format!("\n{}\u{3000}", x(499)),
        format!("a{}b", " ".repeat(498)),
        format!("a{}b", " ".repeat(499)),
        "é".repeat(500),
        "😀".repeat(500),
        "😀".repeat(501),
    ];
    for text in candidates {
        let service = domain::Note::parse("message", &text).is_ok();
        let document = violations(&schema, &Value::String(text.clone())).is_empty();
        assert_eq!(
            document,
            service,
            "{text:?} ({} characters): {OPENAPI} (left), the service (right)",
            text.chars().count()
        );
    }
}
