//! A loopback Lambda Runtime API serving one process: it starts the binary as Lambda
//! would, hands it one event at a time, and times what it sees.

use std::convert::Infallible;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, Mutex};

use crate::Failure;

/// Longer than any call can take with the functions' own call bounds.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// What the loopback Runtime API saw of the process.
enum Seen {
    /// A `GET .../invocation/next` arrived.
    Next(Instant),
    /// A response (or an error) for the event handed out.
    Answer(Instant, Result<Bytes, Bytes>),
}

struct RuntimeApi {
    events: Mutex<mpsc::Receiver<Bytes>>,
    seen: mpsc::Sender<Seen>,
}

/// One running function process and its Runtime API.
pub struct Process {
    child: tokio::process::Child,
    pid: u32,
    events: mpsc::Sender<Bytes>,
    seen: mpsc::Receiver<Seen>,
    server: tokio::task::JoinHandle<()>,
    /// From the process starting to its first `GET /invocation/next`.
    pub init: Duration,
}

impl Process {
    /// Starts `binary` with the Lambda environment plus `env`, and waits for its first
    /// `/next`.
    pub async fn start(binary: &Path, env: &[(&str, String)]) -> Result<Self, Failure> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let (events, events_out) = mpsc::channel(1);
        let (seen_in, mut seen) = mpsc::channel(4);
        let api = Arc::new(RuntimeApi { events: Mutex::new(events_out), seen: seen_in });
        let server = tokio::spawn(serve(listener, api));

        let started = Instant::now();
        let mut command = tokio::process::Command::new(binary);
        command
            .env("AWS_LAMBDA_RUNTIME_API", address.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", "bench")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/bench")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        for (name, value) in env {
            command.env(name, value);
        }
        let child = command.spawn()?;
        let pid = child.id().ok_or("the process has no id")?;
        let init = match next_seen(&mut seen).await? {
            Seen::Next(at) => at - started,
            Seen::Answer(..) => return Err("an answer before any event".into()),
        };
        Ok(Self { child, pid, events, seen, server, init })
    }

    /// Hands out `event` and waits for the answer: how long it took, and the answer.
    pub async fn call(&mut self, event: &Bytes) -> Result<(Duration, Bytes), Failure> {
        let sent = Instant::now();
        self.events.send(event.clone()).await?;
        loop {
            match next_seen(&mut self.seen).await? {
                Seen::Answer(at, Ok(answer)) => return Ok((at - sent, answer)),
                Seen::Answer(_, Err(error)) => {
                    return Err(format!("the function failed: {}", String::from_utf8_lossy(&error)).into())
                }
                Seen::Next(_) => continue,
            }
        }
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The process's peak resident memory (`VmHWM`), in kB.
    pub fn peak_rss_kb(&self) -> u64 {
        proc_field(&format!("/proc/{}/status", self.pid), "VmHWM:")
    }

    /// The process's anonymous memory now (heap, stacks, written pages of the binary's
    /// data), in kB: its resident memory less the pages mapped from files.
    pub fn anonymous_kb(&self) -> u64 {
        proc_field(&format!("/proc/{}/smaps_rollup", self.pid), "Anonymous:")
    }

    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
        self.server.abort();
    }
}

/// `NAME:   1234 kB` in a `/proc` file, in kB; 0 if the process is gone.
fn proc_field(path: &str, name: &str) -> u64 {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .find_map(|line| line.strip_prefix(name))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_default()
}

async fn next_seen(seen: &mut mpsc::Receiver<Seen>) -> Result<Seen, Failure> {
    tokio::time::timeout(CALL_TIMEOUT, seen.recv()).await?.ok_or_else(|| "the runtime API stopped".into())
}

async fn serve(listener: TcpListener, api: Arc<RuntimeApi>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else { return };
        let api = api.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let api = api.clone();
                async move { Ok::<_, Infallible>(runtime_api(&api, request).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

async fn runtime_api(api: &RuntimeApi, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = request.uri().path().to_owned();
    let reply = |status: u16, body: Bytes| {
        let mut response = Response::new(Full::new(body));
        *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::OK);
        response
    };
    if path.ends_with("/invocation/next") {
        let _ = api.seen.send(Seen::Next(Instant::now())).await;
        let Some(event) = api.events.lock().await.recv().await else { return reply(500, Bytes::new()) };
        let mut response = reply(200, event);
        let headers = response.headers_mut();
        let deadline = std::time::SystemTime::now() + Duration::from_secs(30);
        let deadline_ms = deadline.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or_default();
        for (name, value) in [
            ("lambda-runtime-aws-request-id", "bench-request".to_owned()),
            ("lambda-runtime-deadline-ms", deadline_ms.to_string()),
            ("lambda-runtime-invoked-function-arn", "arn:aws:lambda:us-east-1:000000000000:function:bench".to_owned()),
            ("lambda-runtime-trace-id", "Root=1-00000000-000000000000000000000000".to_owned()),
            ("content-type", "application/json".to_owned()),
        ] {
            if let Ok(value) = value.parse() {
                headers.insert(name, value);
            }
        }
        return response;
    }
    let body = request.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let answer = if path.ends_with("/response") { Ok(body) } else { Err(body) };
    let _ = api.seen.send(Seen::Answer(Instant::now(), answer)).await;
    reply(202, Bytes::from_static(b"{}"))
}
