//! Local API Gateway WebSocket API and its Management API on one port, as on one host in
//! AWS: an upgrade request runs `$connect` and, if accepted, becomes a connection with
//! an id; a plain request is a Management API call (`/@connections/{id}`).

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use crate::local::{ConnectionSink, Delivery};
use futures::{SinkExt, StreamExt};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONNECTION, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, UPGRADE};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::Services;

/// The open sockets, by connection id: what the Management API posts to.
#[derive(Default)]
pub struct Connections {
    open: Mutex<HashMap<String, mpsc::UnboundedSender<Message>>>,
}

impl Connections {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, mpsc::UnboundedSender<Message>>> {
        // A panic elsewhere while holding the lock leaves the map itself intact.
        self.open.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl ConnectionSink for Connections {
    fn post(&self, connection_id: &str, data: Bytes) -> Delivery {
        let text = String::from_utf8_lossy(&data).into_owned();
        match self.lock().get(connection_id).map(|socket| socket.send(Message::text(text))) {
            Some(Ok(())) => Delivery::Delivered,
            _ => Delivery::Gone,
        }
    }

    fn delete(&self, connection_id: &str) -> bool {
        // Dropping the sender ends the socket's task, which closes it.
        self.lock().remove(connection_id).is_some()
    }

    fn exists(&self, connection_id: &str) -> bool {
        self.lock().contains_key(connection_id)
    }
}

pub async fn serve(listener: TcpListener, services: Arc<Services>, connections: Arc<Connections>) {
    loop {
        let Ok((stream, peer)) = listener.accept().await else { return };
        let (services, connections) = (services.clone(), connections.clone());
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let (services, connections) = (services.clone(), connections.clone());
                async move {
                    let response = if is_websocket_upgrade(&request) {
                        upgrade(services, connections, request, peer.ip().to_string()).await
                    } else {
                        crate::local::manage(request, connections.as_ref()).await
                    };
                    Ok::<_, Infallible>(response)
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades()
                .await;
        });
    }
}

fn is_websocket_upgrade(request: &Request<Incoming>) -> bool {
    let has =
        |name, token: &str| {
            request.headers().get_all(name).iter().any(|value| {
                value.to_str().is_ok_and(|v| v.split(',').any(|part| part.trim().eq_ignore_ascii_case(token)))
            })
        };
    has(UPGRADE, "websocket") && has(CONNECTION, "upgrade") && request.headers().contains_key(SEC_WEBSOCKET_KEY)
}

fn route_event(route: &str, connection_id: &str, request: &Request<Incoming>, source_ip: &str) -> Value {
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .map(|(name, value)| (name.as_str().to_owned(), value.to_str().unwrap_or_default().to_owned()))
        .collect();
    let query = crate::local::events::parse_query(request.uri().query().unwrap_or_default());
    let request_id = domain::ObjectId::generate().to_string();
    crate::local::events::websocket_event(route, connection_id, &headers, &query, source_ip, request_id)
}

async fn upgrade(
    services: Arc<Services>,
    connections: Arc<Connections>,
    mut request: Request<Incoming>,
    source_ip: String,
) -> Response<Full<Bytes>> {
    let connection_id = domain::ObjectId::generate().to_string();
    let connect = route_event("$connect", &connection_id, &request, &source_ip);
    let disconnect = route_event("$disconnect", &connection_id, &request, &source_ip);
    let verdict = match serde_json::from_value(connect) {
        Ok(event) => ws_connect::handle(&services.app, event).await,
        Err(error) => {
            tracing::warn!(target: "stack", %error, "could not build the $connect event");
            return crate::local::reply(StatusCode::INTERNAL_SERVER_ERROR, "application/json", "{}");
        }
    };
    tracing::info!(target: "stack", "WS $connect {connection_id} {}", verdict.status_code);
    if verdict.status_code != 200 {
        let status = StatusCode::from_u16(verdict.status_code as u16).unwrap_or(StatusCode::FORBIDDEN);
        let body = match verdict.body {
            Some(aws_lambda_events::encodings::Body::Text(text)) => text,
            _ => String::new(),
        };
        return crate::local::reply(status, "application/json", body);
    }
    let Some(accept) = request.headers().get(SEC_WEBSOCKET_KEY).map(|key| derive_accept_key(key.as_bytes())) else {
        return crate::local::reply(StatusCode::BAD_REQUEST, "application/json", "{}");
    };
    let on_upgrade = hyper::upgrade::on(&mut request);
    tokio::spawn(async move {
        let upgraded = match on_upgrade.await {
            Ok(upgraded) => upgraded,
            Err(error) => {
                tracing::warn!(target: "stack", %error, "upgrade failed");
                return;
            }
        };
        let socket = WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None).await;
        run_socket(socket, &connection_id, &connections).await;
        connections.delete(&connection_id);
        if let Ok(event) = serde_json::from_value(disconnect) {
            let response = ws_disconnect::handle(&services.app.store, event).await;
            tracing::info!(target: "stack", "WS $disconnect {connection_id} {}", response.status_code);
        }
    });
    let mut response = crate::local::reply(StatusCode::SWITCHING_PROTOCOLS, "text/plain", Bytes::new());
    response.headers_mut().remove(hyper::header::CONTENT_TYPE);
    let headers = response.headers_mut();
    headers.insert(UPGRADE, hyper::header::HeaderValue::from_static("websocket"));
    headers.insert(CONNECTION, hyper::header::HeaderValue::from_static("Upgrade"));
    if let Ok(value) = accept.parse() {
        headers.insert(SEC_WEBSOCKET_ACCEPT, value);
    }
    response
}

/// Forwards posted messages to the socket until either side ends it. Messages from the
/// client are ignored: this API defines no routes beyond `$connect`/`$disconnect`.
async fn run_socket(socket: WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>, id: &str, connections: &Connections) {
    let (tx, mut outgoing) = mpsc::unbounded_channel();
    connections.lock().insert(id.to_owned(), tx);
    let (mut sink, mut incoming) = socket.split();
    loop {
        tokio::select! {
            message = outgoing.recv() => match message {
                Some(message) => if sink.send(message).await.is_err() { break },
                None => {
                    let _ = sink.send(Message::Close(None)).await;
                    break;
                }
            },
            message = incoming.next() => match message {
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
        }
    }
}
