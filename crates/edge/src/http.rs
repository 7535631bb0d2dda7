//! The edge between API Gateway REST (v1 proxy) events and the use cases in
//! [`app::requests`]: authentication, parsing, the span, and the response.

use std::future::Future;

use lambda_http::http::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use lambda_http::http::{HeaderValue, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tracing::Instrument;

use domain::page::EventsQuery;
use domain::{ObjectId, PageQuery};

use crate::error::ApiError;
use crate::run::App;

/// Runs one REST call: opens the invocation's span (request id, then user id), checks
/// the token, runs `call`, and turns its result into the response. Every error goes
/// through [`ApiError::status`] and [`ApiError::body`], here and nowhere else.
pub async fn respond<F, Fut, T>(app: &App, event: &Request, call: F) -> Response<Body>
where
    F: FnOnce(ObjectId) -> Fut,
    Fut: Future<Output = Result<(StatusCode, T), ApiError>>,
    T: Serialize,
{
    let span = tracing::info_span!(
        "invocation",
        request_id = %request_id(event),
        user_id = tracing::field::Empty,
        method = %event.method(),
        path = %event.uri().path(),
    );
    async {
        let result = match authenticate(app, event) {
            Ok(caller) => {
                tracing::Span::current().record("user_id", tracing::field::display(caller));
                call(caller).await
            }
            Err(error) => Err(error),
        };
        let response = match result {
            Ok((status, value)) => match serde_json::to_string(&value) {
                Ok(text) => json_response(status, text),
                Err(error) => {
                    tracing::error!(%error, "response did not serialize");
                    error_response(&ApiError::App(app::AppError::Internal(Box::new(error))))
                }
            },
            Err(error) => error_response(&error),
        };
        let mut response = response;
        app.cors.decorate(event.headers(), response.headers_mut());
        tracing::info!(status = response.status().as_u16(), "done");
        response
    }
    .instrument(span)
    .await
}

fn authenticate(app: &App, event: &Request) -> Result<ObjectId, ApiError> {
    let header = event.headers().get(AUTHORIZATION).and_then(|value| value.to_str().ok());
    app.auth.authenticate_header(header).map_err(ApiError::Unauthorized)
}

/// API Gateway's request id when there is one (it ties our logs to API Gateway's),
/// else the Lambda invocation's.
pub fn request_id(event: &Request) -> String {
    match event.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(context)) => context.request_id.clone(),
        _ => None,
    }
    .or_else(|| event.lambda_context_ref().map(|context| context.request_id.clone()))
    .unwrap_or_default()
}

fn error_response(error: &ApiError) -> Response<Body> {
    match error {
        ApiError::App(app::AppError::Internal(source)) => tracing::error!(error = %source, "internal error"),
        ApiError::App(app::AppError::Unavailable(source)) => tracing::warn!(error = %source, "unavailable"),
        ApiError::Unauthorized(reason) => tracing::info!(reason = %reason, "unauthorized"),
        other => tracing::info!(code = other.code(), "refused"),
    }
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = json_response(status, error.body().to_string());
    if let Some(seconds) = error.retry_after_seconds() {
        response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

fn json_response(status: StatusCode, text: String) -> Response<Body> {
    let mut response = Response::new(Body::Text(text));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// `Idempotency-Key` of a change: 1..255 visible ASCII characters (else
/// `INVALID_IDEMPOTENCY_KEY`), kept as a digest, with the digest of the call it may only
/// ever mean (method, path, body). `None` without the header.
pub fn idempotency(event: &Request) -> Result<Option<app::ports::Idempotency>, ApiError> {
    let Some(value) = event.headers().get("idempotency-key") else { return Ok(None) };
    let key = value.as_bytes();
    if key.is_empty() || key.len() > 255 || !key.iter().all(u8::is_ascii_graphic) {
        return Err(ApiError::InvalidIdempotencyKey);
    }
    // Digested piece by piece: a body's size is checked before any of it is read, and
    // nothing of its size is allocated.
    let call = [event.method().as_str().as_bytes(), b"\n", event.uri().path().as_bytes(), b"\n", body_bytes(event)?];
    Ok(Some(app::ports::Idempotency { key: hex_digest(&[key]), fingerprint: hex_digest(&call) }))
}

/// SHA-256 in hex of the parts one after the other: how a key is kept (any key, one
/// length) and a call fingerprinted.
pub fn hex_digest(parts: &[&[u8]]) -> String {
    let mut digest = ring::digest::Context::new(&ring::digest::SHA256);
    parts.iter().for_each(|part| digest.update(part));
    digest.finish().as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// The answer kept under the call's key, if this call was made before: its value, or
/// `IDEMPOTENCY_KEY_REUSED` when the key was used for another call. One `GetItem`.
pub async fn kept_answer(
    app: &App,
    caller: ObjectId,
    idempotency: Option<&app::ports::Idempotency>,
) -> Result<Option<serde_json::Value>, ApiError> {
    let Some(idempotency) = idempotency else { return Ok(None) };
    match app.store.kept_answer(caller, &idempotency.key).await.map_err(app::AppError::from)? {
        None => Ok(None),
        Some(kept) if kept.fingerprint == idempotency.fingerprint => Ok(Some(kept.value)),
        Some(_) => Err(ApiError::IdempotencyKeyReused),
    }
}

/// [`respond`] for a call that changes a request (create, patch, withdraw), with
/// `Idempotency-Key` honoured: a call made before with the same key answers, with
/// `Idempotency-Replayed: true`, what it answered then, and changes nothing; the same
/// key for another call is `IDEMPOTENCY_KEY_REUSED`. `change` gets the key to keep its
/// answer in its own transaction, and returns the request the answer shows. Round trips:
/// one `GetItem` more with a key.
pub async fn respond_change<F, Fut, T>(app: &App, event: &Request, status: StatusCode, change: F) -> Response<Body>
where
    F: FnOnce(ObjectId, Option<app::ports::Idempotency>) -> Fut,
    Fut: Future<Output = Result<T, ApiError>>,
    T: Serialize,
{
    use std::sync::atomic::{AtomicBool, Ordering};
    let idempotency = idempotency(event);
    let replayed = AtomicBool::new(false);
    let replayed_ref = &replayed;
    let mut response = respond(app, event, |caller| async move {
        let idempotency = idempotency?;
        let replay = |kept: serde_json::Value| {
            replayed_ref.store(true, Ordering::SeqCst);
            Ok((status, serde_json::json!({ "request": kept })))
        };
        if let Some(kept) = kept_answer(app, caller, idempotency.as_ref()).await? {
            return replay(kept);
        }
        match change(caller, idempotency.clone()).await {
            Ok(value) => Ok((status, serde_json::json!({ "request": value }))),
            // The same call at the same moment may have committed first: its transaction
            // then refused this one (`AnswerKept`), or this one read what it had just
            // done (`REQUEST_ALREADY_PENDING`, `REQUEST_NOT_PENDING`). Its kept answer is
            // then this one's; an error of this call's own is kept by nobody.
            Err(error) if idempotency.is_some() => match kept_answer(app, caller, idempotency.as_ref()).await? {
                Some(kept) => replay(kept),
                None => Err(error),
            },
            Err(error) => Err(error),
        }
    })
    .await;
    if replayed.load(Ordering::SeqCst) {
        response.headers_mut().insert("idempotency-replayed", HeaderValue::from_static("true"));
    }
    response
}

/// The largest body a call reads: the largest valid body is well under 16 KB, and
/// nothing is parsed of a larger one.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// UTF-8's byte order mark, which some clients put before a JSON body.
const BYTE_ORDER_MARK: &[u8] = b"\xEF\xBB\xBF";

/// The `{id}` path parameter.
pub fn path_id(event: &Request) -> Result<ObjectId, ApiError> {
    path_parameter_id(event, "id")
}

/// The `{name}` path parameter, an id.
pub fn path_parameter_id(event: &Request, name: &str) -> Result<ObjectId, ApiError> {
    let parameters = event.path_parameters();
    let text = parameters.first(name).ok_or(ApiError::InvalidId)?;
    ObjectId::parse(text).map_err(|_| ApiError::InvalidId)
}

pub fn events_query(event: &Request) -> Result<EventsQuery, ApiError> {
    let parameters = event.query_string_parameters();
    Ok(EventsQuery::parse(|name| parameters.all(name).unwrap_or_default())?)
}

pub fn page_query(event: &Request) -> Result<PageQuery, ApiError> {
    let parameters = event.query_string_parameters();
    Ok(PageQuery::parse(|name| parameters.all(name).unwrap_or_default())?)
}

/// A JSON object body of type `T`. Anything else (no body, not JSON, an array, a string,
/// a number, wrong fields) is `INVALID_BODY` with serde's reason, which names the field.
/// The object check comes first because serde reads a struct from an array too.
///
/// A body over [`MAX_BODY_BYTES`] is `PAYLOAD_TOO_LARGE` before any of it is parsed; a
/// UTF-8 byte order mark before it is ignored.
pub fn json_body<T: DeserializeOwned>(event: &Request) -> Result<T, ApiError> {
    optional_json_body(event)?.ok_or_else(|| ApiError::InvalidBody("a JSON body is required".into()))
}

/// [`json_body`] for a call whose body may be left out: `None` when it is.
pub fn optional_json_body<T: DeserializeOwned>(event: &Request) -> Result<Option<T>, ApiError> {
    let bytes = body_bytes(event)?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let invalid = |error: serde_json::Error| ApiError::InvalidBody(format!("invalid body: {error}"));
    match serde_json::from_slice::<serde_json::Value>(bytes).map_err(invalid)? {
        object @ serde_json::Value::Object(_) => serde_json::from_value(object).map(Some).map_err(invalid),
        _ => Err(ApiError::InvalidBody("the body must be a JSON object".into())),
    }
}

/// The body's bytes without a byte order mark: `PAYLOAD_TOO_LARGE` over
/// [`MAX_BODY_BYTES`], before anything reads them.
fn body_bytes(event: &Request) -> Result<&[u8], ApiError> {
    let bytes: &[u8] = event.body().as_ref();
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge);
    }
    Ok(bytes.strip_prefix(BYTE_ORDER_MARK).unwrap_or(bytes))
}
