//! Measures each function's bootstrap as Lambda runs it, against the hello-world floor
//! (`floor`), in one run on one machine: a loopback Lambda Runtime API serves the
//! sample events, and the bench times
//!
//! - init: the process started → its first `GET /runtime/invocation/next`;
//! - first call: the first event handed out → its response (after a cold start);
//! - warm call: the median of the next events;
//! - peak RSS: the process's `VmHWM` after the calls;
//! - the size of the binary measured, and of the arm64 zip that would be deployed
//!   (`target/lambda/<binary>/bootstrap.zip`, when `scripts/bench.sh` built it).
//!
//! Medians over `COLD_STARTS` cold starts of `WARM_CALLS` warm calls each. Timings are
//! noisy on a shared machine: compare the ratios to the floor of the same run.
//!
//! Usage: `bench BIN_DIR` with the functions' environment (`TABLE_NAME`,
//! `AWS_ENDPOINT_URL_DYNAMODB`, `JWT_SECRET`, ...) set; `scripts/bench.sh` builds the
//! binaries, starts a local stack for them to reach, and runs this.

use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, Mutex};

const COLD_STARTS: usize = 5;
const WARM_CALLS: usize = 20;
/// Longer than any call can take with the functions' own call bounds.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

type Failure = Box<dyn std::error::Error + Send + Sync>;

/// One binary and the sample event it is measured with (under `events/`).
struct Subject {
    binary: &'static str,
    event: Option<&'static str>,
    what: &'static str,
}

const SUBJECTS: &[Subject] = &[
    Subject { binary: "floor", event: None, what: "hello world" },
    Subject { binary: "get-request", event: Some("get-request/ok.json"), what: "200" },
    Subject { binary: "list-requests", event: Some("list-requests/ok.json"), what: "200" },
    Subject { binary: "create-request", event: Some("create-request/already-pending.json"), what: "409" },
    Subject { binary: "patch-request", event: Some("patch-request/not-admin.json"), what: "403" },
    Subject { binary: "withdraw-request", event: Some("withdraw-request/not-yours.json"), what: "404" },
    Subject { binary: "chat-requests", event: Some("chat-requests/ok.json"), what: "200" },
    Subject { binary: "decide-requests", event: Some("decide-requests/not-admin.json"), what: "403" },
    Subject { binary: "list-events", event: Some("list-events/ok.json"), what: "200" },
    Subject { binary: "ws-connect", event: Some("ws-connect/bad-token.json"), what: "401" },
    Subject { binary: "ws-disconnect", event: Some("ws-disconnect/ok.json"), what: "200" },
    Subject { binary: "notifier", event: Some("notifier/score-updated.json"), what: "no connection" },
];

/// What the loopback Runtime API saw of one process.
enum Seen {
    /// A `GET .../invocation/next` arrived.
    Next(Instant),
    /// A response (or an error) for the event handed out.
    Answer(Instant, Result<Bytes, Bytes>),
}

/// The loopback Runtime API of one process: `/next` waits for an event from `events`.
struct RuntimeApi {
    events: Mutex<mpsc::Receiver<Bytes>>,
    seen: mpsc::Sender<Seen>,
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

/// One cold start of `binary`: init, the first call, the warm calls, and peak RSS (kB).
struct Run {
    init: Duration,
    first: Duration,
    warm: Vec<Duration>,
    peak_rss_kb: u64,
}

async fn next_seen(seen: &mut mpsc::Receiver<Seen>) -> Result<Seen, Failure> {
    tokio::time::timeout(CALL_TIMEOUT, seen.recv()).await?.ok_or_else(|| "the runtime API stopped".into())
}

async fn call(
    events: &mpsc::Sender<Bytes>,
    seen: &mut mpsc::Receiver<Seen>,
    event: &Bytes,
) -> Result<Duration, Failure> {
    let sent = Instant::now();
    events.send(event.clone()).await?;
    loop {
        match next_seen(seen).await? {
            Seen::Answer(at, Ok(_)) => return Ok(at - sent),
            Seen::Answer(_, Err(error)) => {
                return Err(format!("the function failed: {}", String::from_utf8_lossy(&error)).into())
            }
            Seen::Next(_) => continue,
        }
    }
}

fn peak_rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_default()
}

async fn cold_start(binary: &Path, event: &Bytes) -> Result<Run, Failure> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let (events_in, events_out) = mpsc::channel(1);
    let (seen_in, mut seen) = mpsc::channel(4);
    let api = Arc::new(RuntimeApi { events: Mutex::new(events_out), seen: seen_in });
    let server = tokio::spawn(serve(listener, api));

    let started = Instant::now();
    let mut child = tokio::process::Command::new(binary)
        .env("AWS_LAMBDA_RUNTIME_API", address.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "bench")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/bench")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let pid = child.id().ok_or("the process has no id")?;
    let init = match next_seen(&mut seen).await? {
        Seen::Next(at) => at - started,
        Seen::Answer(..) => return Err("an answer before any event".into()),
    };
    let first = call(&events_in, &mut seen, event).await?;
    let mut warm = Vec::with_capacity(WARM_CALLS);
    for _ in 0..WARM_CALLS {
        warm.push(call(&events_in, &mut seen, event).await?);
    }
    let peak_rss_kb = peak_rss_kb(pid);
    child.kill().await?;
    server.abort();
    Ok(Run { init, first, warm, peak_rss_kb })
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

struct Figures {
    init: Duration,
    first: Duration,
    warm: Duration,
    peak_rss_kb: u64,
    size: u64,
    arm64_zip: Option<u64>,
}

async fn measure(bin_dir: &Path, events_dir: &Path, subject: &Subject) -> Result<Figures, Failure> {
    let binary = bin_dir.join(subject.binary);
    let event = match subject.event {
        Some(file) => Bytes::from(std::fs::read(events_dir.join(file))?),
        None => Bytes::from_static(b"{}"),
    };
    let mut runs = Vec::with_capacity(COLD_STARTS);
    for _ in 0..COLD_STARTS {
        runs.push(cold_start(&binary, &event).await?);
    }
    Ok(Figures {
        init: median(runs.iter().map(|r| r.init).collect()),
        first: median(runs.iter().map(|r| r.first).collect()),
        warm: median(runs.iter().flat_map(|r| r.warm.iter().copied()).collect()),
        peak_rss_kb: runs.iter().map(|r| r.peak_rss_kb).max().unwrap_or_default(),
        size: std::fs::metadata(&binary)?.len(),
        arm64_zip: std::fs::metadata(format!("target/lambda/{}/bootstrap.zip", subject.binary)).ok().map(|m| m.len()),
    })
}

#[tokio::main]
async fn main() -> Result<(), Failure> {
    let mut args = std::env::args().skip(1);
    let bin_dir = PathBuf::from(args.next().ok_or("usage: bench BIN_DIR [EVENTS_DIR]")?);
    let events_dir = PathBuf::from(args.next().unwrap_or_else(|| "events".into()));
    let mut rows = Vec::new();
    for subject in SUBJECTS {
        let figures = measure(&bin_dir, &events_dir, subject).await.map_err(|e| format!("{}: {e}", subject.binary))?;
        eprintln!("bench: {} measured", subject.binary);
        rows.push((subject, figures));
    }
    let floor = &rows[0].1;
    println!(
        "{:<17} {:<14} {:>8} {:>6} {:>9} {:>8} {:>7} {:>8} {:>6} {:>8} {:>6} {:>9}",
        "binary",
        "path",
        "init ms",
        "×floor",
        "first ms",
        "warm ms",
        "×warm",
        "RSS MB",
        "×floor",
        "size MB",
        "×floor",
        "arm64 zip"
    );
    for (subject, f) in &rows {
        let zip = f.arm64_zip.map_or("-".to_owned(), |bytes| format!("{:.2} MB", bytes as f64 / 1e6));
        println!(
            "{:<17} {:<14} {:>8.2} {:>6.1} {:>9.2} {:>8.2} {:>7.1} {:>8.1} {:>6.1} {:>8.2} {:>6.1} {:>9}",
            subject.binary,
            subject.what,
            ms(f.init),
            ms(f.init) / ms(floor.init),
            ms(f.first),
            ms(f.warm),
            ms(f.first) / ms(f.warm),
            f.peak_rss_kb as f64 / 1024.0,
            f.peak_rss_kb as f64 / floor.peak_rss_kb as f64,
            f.size as f64 / 1e6,
            f.size as f64 / floor.size as f64,
            zip,
        );
    }
    Ok(())
}
