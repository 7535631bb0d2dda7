//! Local API Gateway REST: real HTTP turned into the v1 proxy event the functions get
//! in AWS, dispatched to the same handlers, and their response written back.

use std::convert::Infallible;
use std::sync::Arc;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpListener;

use super::Services;

pub async fn serve(listener: TcpListener, services: Arc<Services>) {
    loop {
        let Ok((stream, peer)) = listener.accept().await else { return };
        let services = services.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let services = services.clone();
                async move { Ok::<_, Infallible>(handle(&services, request, peer.ip().to_string()).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

/// API Gateway REST's limit on a request's body.
const API_GATEWAY_MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

async fn handle(services: &Services, request: Request<Incoming>, source_ip: String) -> Response<Full<Bytes>> {
    let started = std::time::Instant::now();
    let (parts, body) = request.into_parts();
    if parts.method == hyper::Method::GET {
        let host = parts.headers.get(hyper::header::HOST).and_then(|v| v.to_str().ok());
        if let Some(reply) = super::docs::serve(parts.uri.path(), host) {
            return reply;
        }
        if let Some(reply) = super::console::serve(parts.uri.path(), &services.console) {
            return reply;
        }
    }
    // As API Gateway does (its REQUEST_TOO_LARGE answer): a body over 10 MB is refused
    // while it is read, never held whole.
    let mut response = match http_body_util::Limited::new(body, API_GATEWAY_MAX_BODY_BYTES).collect().await {
        Ok(body) => route(services, &parts, body.to_bytes(), &source_ip).await,
        Err(error) if error.downcast_ref::<http_body_util::LengthLimitError>().is_some() => {
            plain(StatusCode::PAYLOAD_TOO_LARGE, json!({ "message": "Request too long" }))
        }
        Err(_) => route(services, &parts, Bytes::new(), &source_ip).await,
    };
    // The stack's own answers stand in for API Gateway's, which carry CORS headers
    // too (its gateway responses); the functions' carry them already.
    if !response.headers().contains_key(hyper::header::ACCESS_CONTROL_ALLOW_ORIGIN) {
        services.app.cors.decorate(&parts.headers, response.headers_mut());
    }
    tracing::info!(
        target: "stack",
        "REST {} {} {} ({} ms)",
        parts.method,
        parts.uri,
        response.status().as_u16(),
        started.elapsed().as_millis()
    );
    response
}

/// The event API Gateway would make of a request, sent to the function of its route.
async fn route(
    services: &Services,
    parts: &hyper::http::request::Parts,
    body: Bytes,
    source_ip: &str,
) -> Response<Full<Bytes>> {
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(name, value)| (name.as_str().to_owned(), value.to_str().unwrap_or_default().to_owned()))
        .collect();
    let query = crate::local::events::parse_query(parts.uri.query().unwrap_or_default());
    let text_body = (!body.is_empty()).then(|| String::from_utf8_lossy(&body).into_owned());
    let event = crate::local::events::rest_event(&crate::local::events::RestRequest {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        headers: &headers,
        query: &query,
        body: text_body.as_deref(),
        source_ip,
        stage: "local",
        request_id: domain::ObjectId::generate().to_string(),
    });
    match event {
        None => no_route(parts.uri.path()),
        Some(event) => match lambda_http::request::from_str(&event.to_string()) {
            Err(error) => plain(StatusCode::BAD_REQUEST, json!({"message": error.to_string(), "code": "BAD_REQUEST"})),
            Ok(request) => into_hyper(dispatch(services, &event, request).await),
        },
    }
}

/// The function behind each route of [`crate::local::events::REST_ROUTES`].
async fn dispatch(
    services: &Services,
    event: &Value,
    request: lambda_http::Request,
) -> lambda_http::Response<lambda_http::Body> {
    let (app, publisher) = (&services.app, &services.publisher);
    match (event["httpMethod"].as_str(), event["resource"].as_str()) {
        (Some("GET"), Some("/requests")) => list_requests::handle(app, request).await,
        (Some("POST"), Some("/requests")) => create_request::handle(app, publisher, request).await,
        (Some("GET"), Some("/requests/{id}")) => get_request::handle(app, request).await,
        (Some("PATCH"), Some("/requests/{id}")) => patch_request::handle(app, publisher, request).await,
        (Some("DELETE"), Some("/requests/{id}")) => withdraw_request::handle(app, publisher, request).await,
        (Some("GET"), Some("/chats/{id}/requests")) => chat_requests::handle(app, request).await,
        (Some("GET"), Some("/events")) => list_events::handle(app, request).await,
        (Some("POST"), Some("/chats/{id}/requests/decisions")) => {
            decide_requests::handle(app, publisher, request).await
        }
        (Some("GET" | "PUT"), Some("/chats/{id}/questions")) => chat_questions::handle(app, request).await,
        (Some("GET"), Some("/chats/{id}/blocks")) | (Some("PUT" | "DELETE"), Some("/chats/{id}/blocks/{user}")) => {
            chat_blocks::handle(app, publisher, request).await
        }
        (Some("OPTIONS"), Some(_)) => preflight::handle(&app.cors, request).await,
        _ => {
            let mut response = lambda_http::Response::new(lambda_http::Body::Text(
                json!({"message": "route without a function", "code": "NOT_FOUND"}).to_string(),
            ));
            *response.status_mut() = lambda_http::http::StatusCode::NOT_FOUND;
            response
        }
    }
}

/// A path with no route is `404`; a route's path with another method is `405` with
/// the methods it has. (API Gateway answers both with `403`; see docs/api.md.)
fn no_route(path: &str) -> Response<Full<Bytes>> {
    let methods = crate::local::events::methods_of(path);
    if methods.is_empty() {
        return plain(StatusCode::NOT_FOUND, json!({"message": "no such route", "code": "NOT_FOUND"}));
    }
    let mut response = plain(
        StatusCode::METHOD_NOT_ALLOWED,
        json!({"message": format!("this path takes {}", methods.join(", ")), "code": "METHOD_NOT_ALLOWED"}),
    );
    if let Ok(allow) = methods.join(", ").parse() {
        response.headers_mut().insert(hyper::header::ALLOW, allow);
    }
    response
}

fn into_hyper(response: lambda_http::Response<lambda_http::Body>) -> Response<Full<Bytes>> {
    let (parts, body) = response.into_parts();
    let bytes = match body {
        lambda_http::Body::Text(text) => Bytes::from(text),
        lambda_http::Body::Binary(bytes) => Bytes::from(bytes),
        _ => Bytes::new(),
    };
    Response::from_parts(parts, Full::new(bytes))
}

fn plain(status: StatusCode, body: Value) -> Response<Full<Bytes>> {
    crate::local::reply(status, "application/json", body.to_string())
}
