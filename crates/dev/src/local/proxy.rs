//! A stand-in in front of DynamoDB (Local): forwards every call to the real server,
//! unless told to misbehave. The SDK client is pointed at it by endpoint override, so a
//! test sees exactly what a function sees when DynamoDB hangs, throttles, fails or is
//! stopped, and the data behind it stays whole for checking what was written.

use std::sync::Arc;

use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};

use super::{apply, reply, serve, Fault, Faults, Reply};

const JSON: &str = "application/x-amz-json-1.0";

fn dynamodb_error(status: StatusCode, kind: &str) -> Reply {
    let body = serde_json::json!({ "__type": format!("com.amazonaws.dynamodb.v20120810#{kind}"), "message": "injected fault" });
    reply(status, JSON, body.to_string())
}

/// Serves on `listener`, forwarding to `upstream` (`host:port`) as `faults` allows.
pub async fn serve_dynamodb_proxy(listener: TcpListener, upstream: String, faults: Arc<Faults>) {
    let down = faults.clone();
    serve(
        listener,
        move || down.get() == Fault::Down,
        move |request: Request<Incoming>| {
            let (upstream, faults) = (upstream.clone(), faults.clone());
            async move {
                let fault = match faults.get() {
                    Fault::Refuse(operation) if operation_of(&request) == Some(operation) => {
                        return dynamodb_error(StatusCode::BAD_REQUEST, "AccessDeniedException");
                    }
                    Fault::Refuse(_) => Fault::None,
                    fault => fault,
                };
                let injected = apply(
                    fault,
                    || dynamodb_error(StatusCode::INTERNAL_SERVER_ERROR, "InternalServerError"),
                    || dynamodb_error(StatusCode::BAD_REQUEST, "ProvisionedThroughputExceededException"),
                )
                .await;
                match injected {
                    Some(reply) => reply,
                    None => forward(request, &upstream).await,
                }
            }
        },
    )
    .await
}

/// The operation a call asks for: `PutItem` of `X-Amz-Target: DynamoDB_20120810.PutItem`.
fn operation_of(request: &Request<Incoming>) -> Option<&str> {
    let target = request.headers().get("x-amz-target")?.to_str().ok()?;
    target.rsplit('.').next()
}

/// The call sent on to `upstream` over a connection of its own, and its answer back.
async fn forward(request: Request<Incoming>, upstream: &str) -> Reply {
    let unreachable = |error: String| reply(StatusCode::BAD_GATEWAY, "text/plain", error);
    let (parts, body) = request.into_parts();
    let body = match body.collect().await {
        Ok(body) => body.to_bytes(),
        Err(error) => return unreachable(error.to_string()),
    };
    let stream = match TcpStream::connect(upstream).await {
        Ok(stream) => stream,
        Err(error) => return unreachable(error.to_string()),
    };
    let (mut sender, connection) = match hyper::client::conn::http1::handshake(TokioIo::new(stream)).await {
        Ok(pair) => pair,
        Err(error) => return unreachable(error.to_string()),
    };
    tokio::spawn(connection);
    let response = match sender.send_request(Request::from_parts(parts, Full::new(body))).await {
        Ok(response) => response,
        Err(error) => return unreachable(error.to_string()),
    };
    let (parts, body) = response.into_parts();
    match body.collect().await {
        Ok(body) => hyper::Response::from_parts(parts, Full::new(body.to_bytes())),
        Err(error) => unreachable(error.to_string()),
    }
}
