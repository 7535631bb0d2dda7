//! Local stand-ins for the two AWS APIs the real-time path calls, speaking their real
//! wire protocols, so the unchanged SDK clients reach them by endpoint override:
//!
//! - EventBridge `PutEvents` (awsJson1.1, `X-Amz-Target: AWSEvents.PutEvents`);
//! - the API Gateway Management API (`POST`/`GET`/`DELETE /@connections/{id}`).
//!
//! What happens to an event or a message is up to the [`EventSink`] and
//! [`ConnectionSink`] given: the tests record, the local stack routes. Both refuse what
//! AWS refuses, with AWS's errors: a `PutEvents` call of more than 10 entries or 256 KB,
//! a post of more than 128 KB.
//!
//! [`events`] builds the events AWS hands to the functions.

pub mod events;
pub mod proxy;

use std::sync::Arc;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;

/// One `PutEvents` entry, as the SDK sends it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutEventsEntry {
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub detail_type: Option<String>,
    #[serde(default)]
    pub detail: Option<String>,
    #[serde(default)]
    pub event_bus_name: Option<String>,
    #[serde(default)]
    pub resources: Vec<String>,
    #[serde(default)]
    pub time: Option<serde_json::Value>,
}

/// How a stand-in misbehaves, for the tests of faults: set at any time, applied to
/// every call from then on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Fault {
    #[default]
    None,
    /// Accept the call and never answer.
    Hang,
    /// Answer after this long.
    Slow(std::time::Duration),
    /// `500`, the service's internal error.
    ServerError,
    /// The service's throttling error.
    Throttle,
    /// Close the connection without an answer, as a stopped server does.
    Down,
    /// DynamoDB only: the calls of one operation (`"PutItem"`) refused as IAM refuses
    /// them (`400 AccessDeniedException`, which no SDK retries), the others let
    /// through. Elsewhere as `ServerError`.
    Refuse(&'static str),
}

/// A settable [`Fault`].
#[derive(Debug, Default)]
pub struct Faults(std::sync::Mutex<Fault>);

impl Faults {
    pub fn set(&self, fault: Fault) {
        *self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = fault;
    }

    pub fn get(&self) -> Fault {
        *self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// What a fault does to one call: `Some(reply)` answers in its place, `None` lets the
/// call through (after a `Slow` delay); `Hang` never returns and `Down` is handled by
/// [`serve`], which drops the connection.
async fn apply(fault: Fault, server_error: impl FnOnce() -> Reply, throttled: impl FnOnce() -> Reply) -> Option<Reply> {
    match fault {
        Fault::None | Fault::Down => None,
        Fault::Hang => std::future::pending().await,
        Fault::Slow(delay) => {
            tokio::time::sleep(delay).await;
            None
        }
        Fault::ServerError | Fault::Refuse(_) => Some(server_error()),
        Fault::Throttle => Some(throttled()),
    }
}

pub trait EventSink: Send + Sync + 'static {
    /// The fault the stand-in shows now.
    fn fault(&self) -> Fault {
        Fault::None
    }

    /// Sees each call that passed the limits, before its entries are put.
    fn call(&self, _entries: &[PutEventsEntry]) {}

    /// `Err(reason)` reports the entry as failed, as EventBridge does per entry; a
    /// reason `Code: message` gives its error code (`MalformedDetail: ...`).
    fn put(&self, entry: PutEventsEntry) -> Result<(), String>;
}

pub enum Delivery {
    Delivered,
    /// `410 Gone`: the connection is closed.
    Gone,
    /// `500`: any other failure, which the caller should retry.
    Failed,
    /// `403 Forbidden`: refused for this connection alone.
    Forbidden,
}

pub trait ConnectionSink: Send + Sync + 'static {
    /// The fault the stand-in shows now.
    fn fault(&self) -> Fault {
        Fault::None
    }

    fn post(&self, connection_id: &str, data: Bytes) -> Delivery;
    /// Whether the connection existed.
    fn delete(&self, connection_id: &str) -> bool;
    fn exists(&self, connection_id: &str) -> bool;
}

pub type Reply = Response<Full<Bytes>>;

pub fn reply(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Reply {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    if let Ok(value) = content_type.parse() {
        response.headers_mut().insert(hyper::header::CONTENT_TYPE, value);
    }
    response
}

/// The server is down: the connection is closed without an answer.
#[derive(Debug, thiserror::Error)]
#[error("the stand-in is down")]
struct Down;

/// Serves until the listener fails; one task per connection. While `down` says so, a
/// new connection is closed as soon as it is accepted, and a call on a kept-alive one
/// closes it without an answer, as a stopped server would.
async fn serve<D, F, Fut>(listener: TcpListener, down: D, handler: F)
where
    D: Fn() -> bool + Clone + Send + Sync + 'static,
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Reply> + Send + 'static,
{
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        if down() {
            drop(stream);
            continue;
        }
        let (handler, down) = (handler.clone(), down.clone());
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let (handler, down) = (handler.clone(), down.clone());
                async move {
                    if down() {
                        return Err(Down);
                    }
                    Ok(handler(request).await)
                }
            });
            if let Err(error) =
                hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await
            {
                tracing::debug!(%error, "connection ended with an error");
            }
        });
    }
}

/// EventBridge `PutEvents` on `listener`.
pub async fn serve_eventbridge(listener: TcpListener, sink: Arc<dyn EventSink>) {
    let faulty = sink.clone();
    serve(
        listener,
        move || faulty.fault() == Fault::Down,
        move |request: Request<Incoming>| {
            let sink = sink.clone();
            async move { put_events(request, sink.as_ref()).await }
        },
    )
    .await
}

/// `PutEvents` limits: entries per call, and bytes per call counted as EventBridge
/// counts them (source, detail-type, detail, resources; 14 bytes for a time).
pub const PUT_EVENTS_MAX_ENTRIES: usize = 10;
pub const PUT_EVENTS_MAX_BYTES: usize = 256 * 1024;
/// `PostToConnection` takes at most 128 KB of data.
pub const POST_MAX_BYTES: usize = 128 * 1024;

impl PutEventsEntry {
    /// The entry's size as EventBridge computes it for the call limit.
    pub fn size(&self) -> usize {
        [&self.source, &self.detail_type, &self.detail]
            .iter()
            .map(|field| field.as_deref().map_or(0, str::len))
            .sum::<usize>()
            + self.resources.iter().map(String::len).sum::<usize>()
            + if self.time.is_some() { 14 } else { 0 }
    }
}

async fn put_events(request: Request<Incoming>, sink: &dyn EventSink) -> Reply {
    const JSON: &str = "application/x-amz-json-1.1";
    let error = |status, kind: &str| {
        reply(status, JSON, serde_json::json!({"__type": kind, "message": "injected fault"}).to_string())
    };
    if let Some(reply) = apply(
        sink.fault(),
        || error(StatusCode::INTERNAL_SERVER_ERROR, "InternalException"),
        || error(StatusCode::BAD_REQUEST, "ThrottlingException"),
    )
    .await
    {
        return reply;
    }
    let target = request.headers().get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    if target != "AWSEvents.PutEvents" {
        let body = serde_json::json!({"__type": "UnknownOperationException", "message": target});
        return reply(StatusCode::BAD_REQUEST, JSON, body.to_string());
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Input {
        entries: Vec<PutEventsEntry>,
    }
    let bytes = match request.into_body().collect().await {
        Ok(body) => body.to_bytes(),
        Err(_) => return reply(StatusCode::BAD_REQUEST, JSON, "{}"),
    };
    let input: Input = match serde_json::from_slice(&bytes) {
        Ok(input) => input,
        Err(error) => {
            let body = serde_json::json!({"__type": "ValidationException", "message": error.to_string()});
            return reply(StatusCode::BAD_REQUEST, JSON, body.to_string());
        }
    };
    if input.entries.len() > PUT_EVENTS_MAX_ENTRIES {
        let message = format!(
            "1 validation error detected: Value '[...]' at 'entries' failed to satisfy constraint: \
             Member must have length less than or equal to {PUT_EVENTS_MAX_ENTRIES}"
        );
        let body = serde_json::json!({"__type": "ValidationException", "message": message});
        return reply(StatusCode::BAD_REQUEST, JSON, body.to_string());
    }
    if input.entries.iter().map(PutEventsEntry::size).sum::<usize>() > PUT_EVENTS_MAX_BYTES {
        let message = "Total size of the entries in the request is over the limit.";
        let body = serde_json::json!({"__type": "ValidationException", "message": message});
        return reply(StatusCode::BAD_REQUEST, JSON, body.to_string());
    }
    sink.call(&input.entries);
    let mut failed = 0;
    let entries: Vec<serde_json::Value> = input
        .entries
        .into_iter()
        .enumerate()
        .map(|(n, entry)| match sink.put(entry) {
            Ok(()) => serde_json::json!({ "EventId": format!("local-{}-{n}", std::process::id()) }),
            Err(message) => {
                failed += 1;
                // `Code: message` names EventBridge's error code; anything else is its
                // catch-all.
                let (code, message) = message
                    .split_once(": ")
                    .filter(|(code, _)| code.chars().all(|c| c.is_ascii_alphabetic()))
                    .unwrap_or(("InternalFailure", message.as_str()));
                serde_json::json!({ "ErrorCode": code, "ErrorMessage": message })
            }
        })
        .collect();
    let body = serde_json::json!({ "FailedEntryCount": failed, "Entries": entries });
    reply(StatusCode::OK, JSON, body.to_string())
}

/// The API Gateway Management API on `listener`. Paths may carry a stage prefix
/// (`/Prod/@connections/{id}`), as the management endpoint in AWS does.
pub async fn serve_management(listener: TcpListener, sink: Arc<dyn ConnectionSink>) {
    let faulty = sink.clone();
    serve(
        listener,
        move || faulty.fault() == Fault::Down,
        move |request: Request<Incoming>| {
            let sink = sink.clone();
            async move { manage(request, sink.as_ref()).await }
        },
    )
    .await
}

/// One Management API call; the local stack serves it beside its WebSocket upgrades,
/// on one port, as API Gateway does on one host.
pub async fn manage(request: Request<Incoming>, sink: &dyn ConnectionSink) -> Reply {
    const JSON: &str = "application/json";
    let error = |status, kind: &'static str| {
        let mut response = reply(status, JSON, r#"{"message":"injected fault"}"#);
        response.headers_mut().insert("x-amzn-errortype", hyper::header::HeaderValue::from_static(kind));
        response
    };
    if let Some(reply) = apply(
        sink.fault(),
        || error(StatusCode::INTERNAL_SERVER_ERROR, "InternalServerErrorException"),
        || error(StatusCode::TOO_MANY_REQUESTS, "LimitExceededException"),
    )
    .await
    {
        return reply;
    }
    let path = request.uri().path().to_owned();
    let Some((_, encoded)) = path.split_once("/@connections/") else {
        return reply(StatusCode::NOT_FOUND, JSON, r#"{"message":"Not Found"}"#);
    };
    let connection_id = percent_decode(encoded, false);
    let gone = || {
        let mut response = reply(StatusCode::GONE, JSON, r#"{"message":"Gone"}"#);
        response.headers_mut().insert("x-amzn-errortype", hyper::header::HeaderValue::from_static("GoneException"));
        response
    };
    match *request.method() {
        Method::POST => {
            let data = match request.into_body().collect().await {
                Ok(body) => body.to_bytes(),
                Err(_) => return reply(StatusCode::BAD_REQUEST, JSON, "{}"),
            };
            if data.len() > POST_MAX_BYTES {
                let mut response = reply(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    JSON,
                    r#"{"message":"The data has exceeded the maximum size allowed."}"#,
                );
                response
                    .headers_mut()
                    .insert("x-amzn-errortype", hyper::header::HeaderValue::from_static("PayloadTooLargeException"));
                return response;
            }
            match sink.post(&connection_id, data) {
                Delivery::Delivered => reply(StatusCode::OK, JSON, "{}"),
                Delivery::Gone => gone(),
                Delivery::Failed => {
                    reply(StatusCode::INTERNAL_SERVER_ERROR, JSON, r#"{"message":"Internal server error"}"#)
                }
                Delivery::Forbidden => error(StatusCode::FORBIDDEN, "ForbiddenException"),
            }
        }
        Method::DELETE if sink.delete(&connection_id) => reply(StatusCode::NO_CONTENT, JSON, ""),
        Method::GET if sink.exists(&connection_id) => {
            reply(StatusCode::OK, JSON, serde_json::json!({ "identity": { "sourceIp": "127.0.0.1" } }).to_string())
        }
        Method::DELETE | Method::GET => gone(),
        _ => reply(StatusCode::METHOD_NOT_ALLOWED, JSON, r#"{"message":"Method Not Allowed"}"#),
    }
}

/// Percent-decoding of a URL component; in a query string `+` is also a space.
pub fn percent_decode(text: &str, plus_is_space: bool) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%').then(|| text.get(i + 1..i + 3)).flatten();
        match (bytes[i], escaped.and_then(|hex| u8::from_str_radix(hex, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
                continue;
            }
            (b'+', _) if plus_is_space => out.push(b' '),
            (byte, _) => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Secrets Manager `GetSecretValue` on `listener` (awsJson1.1), answering from
/// `secrets` (ARN or name → the secret string), `ResourceNotFoundException` otherwise.
pub async fn serve_secrets_manager(listener: TcpListener, secrets: Arc<std::collections::HashMap<String, String>>) {
    serve(
        listener,
        || false,
        move |request: Request<Incoming>| {
            let secrets = secrets.clone();
            async move {
                const JSON: &str = "application/x-amz-json-1.1";
                let target = request.headers().get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or_default();
                if target != "secretsmanager.GetSecretValue" {
                    let body = serde_json::json!({"__type": "UnknownOperationException", "message": target});
                    return reply(StatusCode::BAD_REQUEST, JSON, body.to_string());
                }
                let bytes = request.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                let input: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
                let id = input["SecretId"].as_str().unwrap_or_default();
                match secrets.get(id) {
                    Some(secret) => {
                        let body =
                            serde_json::json!({"ARN": id, "Name": id, "SecretString": secret, "VersionId": "v1"});
                        reply(StatusCode::OK, JSON, body.to_string())
                    }
                    None => {
                        let body =
                            serde_json::json!({"__type": "ResourceNotFoundException", "message": "no such secret"});
                        reply(StatusCode::BAD_REQUEST, JSON, body.to_string())
                    }
                }
            }
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    #[test]
    fn percent_decoding_keeps_plain_text_and_decodes_escapes() {
        assert_eq!(super::percent_decode("abc%3D%3d", false), "abc==");
        assert_eq!(super::percent_decode("a%zz%", false), "a%zz%");
        assert_eq!(super::percent_decode("a+b%20c%2B", true), "a b c+");
        assert_eq!(super::percent_decode("a+b", false), "a+b");
    }
}
