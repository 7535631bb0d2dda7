//! Keeps the code honest to `openapi.yaml` and `asyncapi.yaml`: every REST answer and
//! every WebSocket message a test receives goes through [`check_response`] or
//! [`check_message`], which validate it against the documents' schemas.
//!
//! The documents' schemas are OpenAPI 3.0 schemas: JSON Schema draft 7 plus
//! `nullable`. They are turned into plain draft 7 once: `$ref`s inlined (also the ones
//! asyncapi.yaml makes into openapi.yaml), `nullable: true` turned into a `null` type.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use serde_json::{Map, Value};

use super::repo_root;

pub const OPENAPI: &str = "openapi.yaml";
pub const ASYNCAPI: &str = "asyncapi.yaml";
/// The bus as the app's other services see it.
pub const BUS: &str = "bus.asyncapi.yaml";

/// A document of the repository, read as JSON.
pub fn document(name: &str) -> &'static Value {
    static DOCUMENTS: LazyLock<HashMap<&'static str, Value>> = LazyLock::new(|| {
        [OPENAPI, ASYNCAPI, BUS]
            .into_iter()
            .map(|name| {
                let text = std::fs::read_to_string(repo_root().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
                let value: Value = serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{name} is YAML: {e}"));
                (name, value)
            })
            .collect()
    });
    DOCUMENTS.get(name).unwrap_or_else(|| panic!("{name} is not one of the documents"))
}

/// The value a JSON pointer names in a document.
fn pointed(document_name: &str, pointer: &str) -> &'static Value {
    document(document_name).pointer(pointer).unwrap_or_else(|| panic!("{document_name}#{pointer} exists"))
}

/// `schema` (found in `document_name`) as self-contained draft 7. The documents have no
/// recursive schemas, so inlining ends.
pub fn plain_schema(document_name: &str, schema: &Value) -> Value {
    match schema {
        Value::Object(object) => {
            if let Some(Value::String(reference)) = object.get("$ref") {
                let (file, pointer) = reference.split_once('#').unwrap_or_else(|| panic!("{reference} has a pointer"));
                let target = match file.trim_start_matches("./") {
                    "" => document_name,
                    OPENAPI => OPENAPI,
                    ASYNCAPI => ASYNCAPI,
                    BUS => BUS,
                    other => panic!("{reference}: unknown document {other}"),
                };
                return plain_schema(target, pointed(target, pointer));
            }
            let mut plain: Map<String, Value> =
                object.iter().map(|(key, value)| (key.clone(), plain_schema(document_name, value))).collect();
            if plain.remove("nullable") == Some(Value::Bool(true)) {
                if let Some(Value::String(kind)) = plain.get("type").cloned() {
                    plain.insert("type".into(), Value::Array(vec![Value::String(kind), "null".into()]));
                }
            }
            Value::Object(plain)
        }
        Value::Array(items) => Value::Array(items.iter().map(|item| plain_schema(document_name, item)).collect()),
        other => other.clone(),
    }
}

/// Validates `instance` against a plain schema; the errors, each with where it is.
pub fn violations(schema: &Value, instance: &Value) -> Vec<String> {
    // Validators are built once per schema: the tests check thousands of answers.
    static VALIDATORS: LazyLock<Mutex<HashMap<String, std::sync::Arc<jsonschema::Validator>>>> =
        LazyLock::new(Default::default);
    let key = schema.to_string();
    let validator = {
        let mut validators = VALIDATORS.lock().unwrap_or_else(|e| e.into_inner());
        validators
            .entry(key)
            .or_insert_with(|| {
                let validator = jsonschema::options()
                    .with_draft(jsonschema::Draft::Draft7)
                    .should_validate_formats(true)
                    .build(schema)
                    .unwrap_or_else(|e| panic!("a valid schema: {e}\n{schema:#}"));
                std::sync::Arc::new(validator)
            })
            .clone()
    };
    validator.iter_errors(instance).map(|error| format!("{} at {}", error, error.instance_path())).collect()
}

/// The path template of openapi.yaml that `path` (without its query) matches.
pub fn path_template(path: &str) -> Option<&'static str> {
    let path = path.split('?').next().unwrap_or_default();
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    let paths = document(OPENAPI)["paths"].as_object()?;
    paths.keys().map(String::as_str).find(|template| {
        let expected: Vec<&str> = template.split('/').collect();
        expected.len() == segments.len()
            && expected
                .iter()
                .zip(&segments)
                .all(|(e, s)| e == s || (e.starts_with('{') && e.ends_with('}') && !s.is_empty()))
    })
}

/// Panics unless `status` and `body` are a documented answer of `method` on `path` (a
/// template or a real path), with a body that fits its schema.
pub fn check_response(method: &str, path: &str, status: u16, body: &Value) {
    let template = path_template(path).unwrap_or_else(|| panic!("{path} is not a path of {OPENAPI}"));
    let operation = &document(OPENAPI)["paths"][template][method.to_ascii_lowercase()];
    assert!(operation.is_object(), "{method} {template} is not an operation of {OPENAPI}");
    let response = &operation["responses"][status.to_string()];
    assert!(response.is_object(), "{method} {template} answered {status}, which {OPENAPI} does not list: {body}");
    let response = plain_schema(OPENAPI, response);
    if response.get("content").is_none() {
        assert!(body.is_null(), "{method} {template} {status} has no body, but answered {body}");
        return;
    }
    let schema = &response["content"]["application/json"]["schema"];
    assert!(schema.is_object(), "{method} {template} {status} has a JSON schema");
    let errors = violations(schema, body);
    assert!(errors.is_empty(), "{method} {path} {status} does not fit {OPENAPI}:\n{}\n{body:#}", errors.join("\n"));
}

/// The message of asyncapi.yaml whose payload names `event`.
fn message_schema(event: &str) -> Value {
    let messages = document(ASYNCAPI)["components"]["messages"].as_object().expect("components.messages");
    let message = messages
        .values()
        .find(|message| message["payload"]["properties"]["event"]["const"] == event)
        .unwrap_or_else(|| panic!("{ASYNCAPI} has no message for event {event}"));
    plain_schema(ASYNCAPI, &message["payload"])
}

/// Panics unless `message` is a WebSocket message of asyncapi.yaml.
pub fn check_message(message: &Value) {
    let event = message["event"].as_str().unwrap_or_else(|| panic!("a message names its event: {message}"));
    let errors = violations(&message_schema(event), message);
    assert!(errors.is_empty(), "a {event} message does not fit {ASYNCAPI}:\n{}\n{message:#}", errors.join("\n"));
}

/// The message of bus.asyncapi.yaml named `detail_type`.
pub fn change_schema(detail_type: &str) -> Value {
    let messages = document(BUS)["components"]["messages"].as_object().expect("components.messages");
    let message = messages
        .values()
        .find(|message| message["name"] == detail_type)
        .unwrap_or_else(|| panic!("{BUS} has no message {detail_type}"));
    plain_schema(BUS, &message["payload"])
}

/// Panics unless `detail` is the detail of a `detail_type` entry of bus.asyncapi.yaml.
pub fn check_change(detail_type: &str, detail: &Value) {
    let errors = violations(&change_schema(detail_type), detail);
    assert!(errors.is_empty(), "a {detail_type} does not fit {BUS}:\n{}\n{detail:#}", errors.join("\n"));
}
