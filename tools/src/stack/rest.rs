//! Local API Gateway REST: real HTTP turned into the v1 proxy event the functions get
//! in AWS, dispatched to the same handlers, and their response written back.

use std::collections::BTreeMap;
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

enum Route {
    List,
    Get(String),
    Create,
    Patch(String),
}

async fn handle(services: &Services, request: Request<Incoming>, source_ip: String) -> Response<Full<Bytes>> {
    let started = std::time::Instant::now();
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_owned();
    let method = parts.method.as_str().to_owned();
    let body = match body.collect().await {
        Ok(body) => body.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let route = match (method.as_str(), path.trim_end_matches('/').split('/').collect::<Vec<_>>().as_slice()) {
        ("GET", ["", "requests"]) => Some(Route::List),
        ("POST", ["", "requests"]) => Some(Route::Create),
        ("GET", ["", "requests", id]) => Some(Route::Get((*id).to_owned())),
        ("PATCH", ["", "requests", id]) => Some(Route::Patch((*id).to_owned())),
        _ => None,
    };
    let response = match route {
        None => plain(StatusCode::NOT_FOUND, json!({"message": "no such route", "code": "NOT_FOUND"})),
        Some(route) => {
            let id = match &route {
                Route::Get(id) | Route::Patch(id) => Some(id.as_str()),
                Route::List | Route::Create => None,
            };
            let event = proxy_event(&parts, &path, id, &body, &source_ip);
            match lambda_http::request::from_str(&event.to_string()) {
                Err(error) => {
                    plain(StatusCode::BAD_REQUEST, json!({"message": error.to_string(), "code": "BAD_REQUEST"}))
                }
                Ok(event) => {
                    let (app, publisher) = (&services.app, &services.publisher);
                    let response = match route {
                        Route::List => list_requests::handle(app, event).await,
                        Route::Get(_) => get_request::handle(app, event).await,
                        Route::Create => create_request::handle(app, publisher, event).await,
                        Route::Patch(_) => patch_request::handle(app, publisher, event).await,
                    };
                    into_hyper(response)
                }
            }
        }
    };
    tracing::info!(
        target: "stack",
        "REST {method} {} {} ({} ms)",
        parts.uri,
        response.status().as_u16(),
        started.elapsed().as_millis()
    );
    response
}

/// The API Gateway REST (v1) proxy event for this request, as API Gateway builds it.
fn proxy_event(
    parts: &hyper::http::request::Parts,
    path: &str,
    id: Option<&str>,
    body: &Bytes,
    source_ip: &str,
) -> Value {
    let mut headers = serde_json::Map::new();
    let mut multi_headers: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for (name, value) in &parts.headers {
        let value = Value::String(value.to_str().unwrap_or_default().to_owned());
        headers.insert(name.as_str().to_owned(), value.clone());
        multi_headers.entry(name.as_str().to_owned()).or_default().push(value);
    }
    let mut query = serde_json::Map::new();
    let mut multi_query: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for pair in parts.uri.query().unwrap_or_default().split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let (name, value) = (decode(name), Value::String(decode(value)));
        query.insert(name.clone(), value.clone());
        multi_query.entry(name).or_default().push(value);
    }
    let resource = if id.is_some() { "/requests/{id}" } else { "/requests" };
    let text_body = (!body.is_empty()).then(|| String::from_utf8_lossy(body).into_owned());
    json!({
        "resource": resource,
        "path": path,
        "httpMethod": parts.method.as_str(),
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": if query.is_empty() { Value::Null } else { Value::Object(query) },
        "multiValueQueryStringParameters": if multi_query.is_empty() { Value::Null } else { json!(multi_query) },
        "pathParameters": id.map(|id| json!({ "id": decode(id) })),
        "stageVariables": null,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": parts.method.as_str(),
            "path": path,
            "stage": "local",
            "requestId": shared::domain::ObjectId::generate().to_string(),
            "accountId": "000000000000",
            "apiId": "local",
            "identity": { "sourceIp": source_ip },
            "requestTimeEpoch": std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or_default(),
        },
        "body": text_body,
        "isBase64Encoded": false,
    })
}

fn decode(text: &str) -> String {
    local::percent_decode(text, true)
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
    local::reply(status, "application/json", body.to_string())
}
