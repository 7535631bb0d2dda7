//! "The same DynamoDB calls made alone": a recording proxy in front of DynamoDB Local
//! keeps each request a function sends, with when it started and ended; replaying those
//! requests straight to DynamoDB Local, the ones that overlapped at once, times the
//! DynamoDB part of a call without the function around it.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{HeaderMap, Method, Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

use crate::Failure;

pub type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

pub fn client() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

/// One request a function sent to DynamoDB, and when (at the proxy) it went out and
/// came back.
pub struct Exchange {
    method: Method,
    path: String,
    headers: HeaderMap,
    body: Bytes,
    started: Instant,
    ended: Instant,
}

/// The recording proxy: `url` is what the function is pointed at.
pub struct Recorder {
    pub url: String,
    exchanges: Arc<Mutex<Vec<Exchange>>>,
    server: tokio::task::JoinHandle<()>,
}

impl Recorder {
    pub async fn start(upstream: &str) -> Result<Self, Failure> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let exchanges = Arc::new(Mutex::new(Vec::new()));
        let (kept, upstream, client) = (exchanges.clone(), upstream.to_owned(), client());
        let server = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                let (kept, upstream, client) = (kept.clone(), upstream.clone(), client.clone());
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let (kept, upstream, client) = (kept.clone(), upstream.clone(), client.clone());
                        async move { Ok::<_, Infallible>(forward(&client, &upstream, &kept, request).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Self { url, exchanges, server })
    }

    /// The exchanges recorded since the last `take`.
    pub fn take(&self) -> Vec<Exchange> {
        std::mem::take(&mut *self.exchanges.lock().unwrap_or_else(|poisoned| poisoned.into_inner()))
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn forward(
    client: &HttpClient,
    upstream: &str,
    kept: &Mutex<Vec<Exchange>>,
    request: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let (parts, body) = request.into_parts();
    let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let path = parts.uri.path_and_query().map_or("/".to_owned(), |p| p.to_string());
    let started = Instant::now();
    let answer = send(client, upstream, &parts.method, &path, &parts.headers, body.clone()).await;
    let ended = Instant::now();
    kept.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(Exchange {
        method: parts.method,
        path,
        headers: parts.headers,
        body,
        started,
        ended,
    });
    answer.unwrap_or_else(|error| {
        let mut response = Response::new(Full::new(Bytes::from(error.to_string())));
        *response.status_mut() = hyper::StatusCode::BAD_GATEWAY;
        response
    })
}

async fn send(
    client: &HttpClient,
    upstream: &str,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Response<Full<Bytes>>, Failure> {
    let mut request = Request::builder().method(method.clone()).uri(format!("{upstream}{path}"));
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let response = client.request(request.body(Full::new(body))?).await?;
    let (parts, body) = response.into_parts();
    let body = body.collect().await?.to_bytes();
    Ok(Response::from_parts(parts, Full::new(body)))
}

/// Sends `exchanges` straight to `upstream` as they were sent (wave by wave, each wave
/// at once) and times the whole.
pub async fn replay(client: &HttpClient, upstream: &str, exchanges: &[Exchange]) -> Result<Duration, Failure> {
    let mut sorted: Vec<&Exchange> = exchanges.iter().collect();
    sorted.sort_by_key(|exchange| exchange.started);
    let started = Instant::now();
    for wave in waves_of(&sorted) {
        let sends = wave.iter().map(|exchange| {
            send(client, upstream, &exchange.method, &exchange.path, &exchange.headers, exchange.body.clone())
        });
        for answer in futures::future::join_all(sends).await {
            let status = answer?.status();
            if status.is_server_error() {
                return Err(format!("DynamoDB Local answered {status} to a replayed request").into());
            }
        }
    }
    Ok(started.elapsed())
}

/// The exchanges (sorted by start) in waves: one that started before every earlier one
/// had ended ran beside them, so it joins their wave.
fn waves_of<'a>(sorted: &[&'a Exchange]) -> Vec<Vec<&'a Exchange>> {
    let mut result: Vec<Vec<&'a Exchange>> = Vec::new();
    let mut wave_ends: Option<Instant> = None;
    for exchange in sorted {
        match (result.last_mut(), wave_ends) {
            (Some(wave), Some(ends)) if exchange.started < ends => {
                wave.push(exchange);
                wave_ends = Some(ends.max(exchange.ended));
            }
            _ => {
                result.push(vec![exchange]);
                wave_ends = Some(exchange.ended);
            }
        }
    }
    result
}
