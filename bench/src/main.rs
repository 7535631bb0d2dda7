//! Measures each function's bootstrap as Lambda runs it, against the hello-world floor
//! (`floor`), in one run on one machine. A loopback Lambda Runtime API
//! ([`runtime_api`]) starts each binary and hands it a sample event from `events/`;
//! the bench prints four tables:
//!
//! 1. per binary: init (the process started → its first `GET /invocation/next`), the
//!    first call after a cold start, the warm call median, peak RSS (`VmHWM`) and the
//!    anonymous part of the resident memory (`anon`: heap and stacks), the size
//!    of the binary and of the arm64 zip that would be deployed (when
//!    `scripts/bench.sh` built it in this run), and the warm call against the same
//!    DynamoDB requests made alone ([`dynamodb`]). The process's own costs: with
//!    `CONNECT_AT_INIT=false`, so that init does not include DynamoDB;
//! 2. the same functions with DynamoDB behind a TLS terminator ([`tls`]): the first
//!    call's handshake, with and without the connections opened during init, and what
//!    reading the system's roots costs against one root;
//! 3. the notifier fanning one event out to 1,000 WebSocket connections ([`fanout`]);
//! 4. where a function's own time goes ([`profile`]): its CPU time at init and per warm
//!    call, split by crate from `perf`'s samples, beside the warm call's DynamoDB
//!    requests alone. Measures the binaries in `BENCH_SYMBOLS_DIR` (the
//!    `release-symbols` profile).
//!
//! Every process reads one bundle of the system's roots (`SSL_CERT_FILE`, and an empty
//! `SSL_CERT_DIR`), as in Lambda.
//!
//! Medians over `COLD_STARTS` cold starts of `WARM_CALLS` warm calls each. Timings are
//! noisy on a shared machine: compare the ratios within one run.
//!
//! Usage: `bench EVENTS_DIR BIN_DIR [BIN_DIR...]` (several: a cargo profile or a
//! baseline each, measured side by side in the first table) with the functions' environment (`TABLE_NAME`,
//! `AWS_ENDPOINT_URL_DYNAMODB`, `JWT_SECRET`, ...) set, and `FANOUT_WEBSOCKET_URL` (the
//! local stack's WebSocket URL with a token of the notifier event's recipient);
//! `scripts/bench.sh` builds the binaries, starts a local stack and runs this.

mod dynamodb;
mod fanout;
mod profile;
mod runtime_api;
mod tls;

use std::path::{Path, PathBuf};
use std::time::Duration;

use hyper::body::Bytes;
use runtime_api::Process;

/// 5 left init's median to one outlier in five (from 2.9 to 4.8 ms between two
/// functions of the same size in one run); each cold start costs about 60 ms here.
const COLD_STARTS: usize = 15;
const WARM_CALLS: usize = 20;
/// Calls before the one whose DynamoDB requests are recorded, so that it is warm.
const CALLS_BEFORE_RECORDING: usize = 3;
const FANOUT_CONNECTIONS: usize = 1000;
const FANOUT_WARM_EVENTS: usize = 5;
const PROFILED_CALLS: usize = 1000;
const PROFILED_INITS: usize = 40;
/// Calls of each function before anything is timed: see [`warm_up_dynamodb_local`].
const DYNAMODB_LOCAL_WARM_UP_CALLS: usize = 500;

pub type Failure = Box<dyn std::error::Error + Send + Sync>;

/// One binary and the sample event it is measured with (under `events/`).
struct Subject {
    binary: &'static str,
    event: Option<&'static str>,
    what: &'static str,
    /// Whether that path reaches DynamoDB.
    calls_dynamodb: bool,
    /// `_HANDLER`, for the one binary of every function (`bench/all`).
    handler: Option<&'static str>,
}

const fn subject(binary: &'static str, event: &'static str, what: &'static str) -> Subject {
    Subject { binary, event: Some(event), what, calls_dynamodb: true, handler: None }
}

const SUBJECTS: &[Subject] = &[
    Subject { binary: "floor", event: None, what: "hello world", calls_dynamodb: false, handler: None },
    subject("get-request", "get-request/ok.json", "200"),
    subject("list-requests", "list-requests/ok.json", "200"),
    subject("create-request", "create-request/already-pending.json", "409"),
    subject("patch-request", "patch-request/not-admin.json", "403"),
    subject("withdraw-request", "withdraw-request/not-yours.json", "404"),
    subject("chat-requests", "chat-requests/ok.json", "200"),
    subject("decide-requests", "decide-requests/not-admin.json", "403"),
    subject("list-events", "list-events/ok.json", "200"),
    Subject {
        binary: "ws-connect",
        event: Some("ws-connect/bad-token.json"),
        what: "401",
        calls_dynamodb: false,
        handler: None,
    },
    subject("ws-disconnect", "ws-disconnect/ok.json", "200"),
    subject("notifier", "notifier/score-updated.json", "no connection"),
    Subject { handler: Some("get-request"), ..subject("all", "get-request/ok.json", "as get-request") },
    Subject { handler: Some("notifier"), ..subject("all", "notifier/score-updated.json", "as notifier") },
];

/// DynamoDB Local is a JVM, which compiles its hot paths as it runs: without this, its
/// answers grew faster by milliseconds during a run (the same replay of `get-request`'s
/// requests took 5.9 ms in the first table and 1.9 ms in the second), and whichever
/// binaries were measured first looked slower.
async fn warm_up_dynamodb_local(
    bin_dir: &Path,
    events_dir: &Path,
    subjects: &[&Subject],
    roots: &[(&str, String)],
) -> Result<(), Failure> {
    for subject in subjects.iter().filter(|s| s.calls_dynamodb && s.handler.is_none()) {
        let event = event_of(events_dir, subject)?;
        let mut process = Process::start(&bin_dir.join(subject.binary), roots).await?;
        for _ in 0..DYNAMODB_LOCAL_WARM_UP_CALLS {
            process.call(&event).await?;
        }
        process.stop().await;
    }
    Ok(())
}

/// Medians of one binary's cold starts.
#[derive(Clone, Copy)]
struct ColdStarts {
    init: Duration,
    first: Duration,
    warm: Duration,
    peak_rss_kb: u64,
    anonymous_kb: u64,
}

async fn cold_starts(binary: &Path, event: &Bytes, env: &[(&str, String)]) -> Result<ColdStarts, Failure> {
    let (mut init, mut first, mut warm, mut peak_rss_kb, mut anonymous_kb) = (Vec::new(), Vec::new(), Vec::new(), 0, 0);
    for _ in 0..COLD_STARTS {
        let mut process = Process::start(binary, env).await?;
        init.push(process.init);
        first.push(process.call(event).await?.0);
        for _ in 0..WARM_CALLS {
            warm.push(process.call(event).await?.0);
        }
        peak_rss_kb = peak_rss_kb.max(process.peak_rss_kb());
        anonymous_kb = anonymous_kb.max(process.anonymous_kb());
        process.stop().await;
    }
    Ok(ColdStarts { init: median(init), first: median(first), warm: median(warm), peak_rss_kb, anonymous_kb })
}

/// The DynamoDB requests of one warm call, replayed alone: (requests, waves of
/// requests sent at once, the median time of the replay).
async fn dynamodb_alone(
    binary: &Path,
    event: &Bytes,
    env: &[(&str, String)],
    upstream: &str,
) -> Result<(usize, Duration), Failure> {
    let recorder = dynamodb::Recorder::start(upstream).await?;
    let env = [env, &[("AWS_ENDPOINT_URL_DYNAMODB", recorder.url.clone())]].concat();
    let mut process = Process::start(binary, &env).await?;
    for _ in 0..CALLS_BEFORE_RECORDING {
        process.call(event).await?;
    }
    recorder.take();
    process.call(event).await?;
    let exchanges = recorder.take();
    process.stop().await;
    let client = dynamodb::client();
    dynamodb::replay(&client, upstream, &exchanges).await?;
    let mut times = Vec::with_capacity(WARM_CALLS);
    for _ in 0..WARM_CALLS {
        times.push(dynamodb::replay(&client, upstream, &exchanges).await?);
    }
    Ok((exchanges.len(), median(times)))
}

/// `env` with init's DynamoDB read turned off: the process's own costs alone.
fn without_connect_at_init<'a>(env: &[(&'a str, String)]) -> Vec<(&'a str, String)> {
    [env, &[("CONNECT_AT_INIT", "false".to_owned())]].concat()
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values.get(values.len() / 2).copied().unwrap_or_default()
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn event_of(events_dir: &Path, subject: &Subject) -> Result<Bytes, Failure> {
    Ok(match subject.event {
        Some(file) => Bytes::from(std::fs::read(events_dir.join(file))?),
        None => Bytes::from_static(b"{}"),
    })
}

fn env(name: &str) -> Result<String, Failure> {
    std::env::var(name).map_err(|_| format!("{name} must be set").into())
}

#[tokio::main]
async fn main() -> Result<(), Failure> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: bench EVENTS_DIR BIN_DIR [BIN_DIR...]";
    let events_dir = PathBuf::from(args.next().ok_or(usage)?);
    // More than one: side by side in the first table; the other tables use the first.
    let bin_dirs: Vec<PathBuf> = args.map(PathBuf::from).collect();
    let bin_dir = bin_dirs.first().ok_or(usage)?;
    let dynamodb = env("AWS_ENDPOINT_URL_DYNAMODB")?;
    let fanout_url = env("FANOUT_WEBSOCKET_URL")?;

    // `BENCH_ONLY="get-request notifier"` measures those (and the floor) alone;
    // `BENCH_TABLES="plain tls fanout profile"` picks the tables.
    let only = std::env::var("BENCH_ONLY").ok();
    let subjects: Vec<&Subject> = SUBJECTS
        .iter()
        .filter(|s| {
            s.binary == "floor" || only.as_deref().is_none_or(|only| only.split_whitespace().any(|b| b == s.binary))
        })
        .collect();
    let tables = std::env::var("BENCH_TABLES").unwrap_or_else(|_| "plain tls fanout profile".into());
    let upstream = dynamodb.trim_start_matches("http://").parse()?;
    let (terminator, trust) = tls::start(Path::new("target/bench"), upstream).await?;
    // Every process reads one bundle of the system's roots, as in Lambda (where no
    // SSL_CERT_* is set and the bundle is /etc/pki/tls/certs/ca-bundle.crt), whatever
    // this machine's own SSL_CERT_FILE and SSL_CERT_DIR say.
    let roots = vec![
        ("SSL_CERT_FILE", trust.system_roots_and_test_ca.display().to_string()),
        ("SSL_CERT_DIR", trust.no_cert_dir.display().to_string()),
    ];
    warm_up_dynamodb_local(bin_dir, &events_dir, &subjects, &roots).await?;
    if tables.contains("plain") {
        // Only the zips built in this run, when they were (`scripts/bench.sh` says where).
        let zips = std::env::var_os("BENCH_ARM64_ZIPS").map(PathBuf::from);
        plain_table(&bin_dirs, &events_dir, &subjects, &roots, &dynamodb, zips.as_deref()).await?;
    }
    if tables.contains("tls") {
        tls_table(bin_dir, &events_dir, &subjects, &terminator, &trust).await?;
    }
    if tables.contains("fanout") {
        fanout_table(bin_dir, &events_dir, &roots, &fanout_url).await?;
    }
    if tables.contains("profile") {
        let symbols_dir = PathBuf::from(env("BENCH_SYMBOLS_DIR")?);
        profile_table(&symbols_dir, &events_dir, &subjects, &roots, &dynamodb).await?;
    }
    Ok(())
}

/// One row per binary and directory. With several directories (cargo profiles, a
/// baseline), each binary's rows are measured one after the other, so that they meet
/// DynamoDB Local and the machine in the same state; the zips are the first
/// directory's.
async fn plain_table(
    bin_dirs: &[PathBuf],
    events_dir: &Path,
    subjects: &[&Subject],
    roots: &[(&str, String)],
    dynamodb: &str,
    zips: Option<&Path>,
) -> Result<(), Failure> {
    let several = bin_dirs.len() > 1;
    if several {
        for (index, dir) in bin_dirs.iter().enumerate() {
            println!("[{}] {}", build_mark(index), dir.display());
        }
    }
    println!(
        "{:<21} {:<14} {:>7} {:>6} {:>8} {:>7} {:>6} {:>6} {:>6} {:>7} {:>7} {:>6} {:>9} {:>4} {:>8} {:>7}",
        "binary",
        "path",
        "init ms",
        "×floor",
        "first ms",
        "warm ms",
        "×warm",
        "RSS MB",
        "×floor",
        "anon MB",
        "size MB",
        "×floor",
        "arm64 zip",
        "DDB",
        "alone ms",
        "×alone"
    );
    let mut floors: Vec<Option<(ColdStarts, u64)>> = vec![None; bin_dirs.len()];
    for subject in subjects {
        let event = event_of(events_dir, subject)?;
        let failed = |e: Failure| -> Failure { format!("{}: {e}", subject.binary).into() };
        for (index, bin_dir) in bin_dirs.iter().enumerate() {
            let zips = zips.filter(|_| index == 0);
            let label =
                if several { format!("{} [{}]", subject.binary, build_mark(index)) } else { subject.binary.to_owned() };
            let binary = bin_dir.join(subject.binary);
            // The process's own costs: its connections are opened by its first call here, as
            // the TLS table shows what opening them during init changes.
            let mut env = without_connect_at_init(roots);
            env.extend(subject.handler.map(|handler| ("_HANDLER", handler.to_owned())));
            let figures = cold_starts(&binary, &event, &env).await.map_err(failed)?;
            let alone = if subject.calls_dynamodb {
                Some(dynamodb_alone(&binary, &event, &env, dynamodb).await.map_err(failed)?)
            } else {
                None
            };
            let size = std::fs::metadata(&binary)?.len();
            let zip = zips
                .map(|dir| dir.join(subject.binary).join("bootstrap.zip"))
                .and_then(|zip| std::fs::metadata(zip).ok())
                .map_or("-".to_owned(), |m| format!("{:.2} MB", m.len() as f64 / 1e6));
            let (floor_figures, floor_size) = *floors[index].get_or_insert((figures, size));
            let (requests, alone_ms, times_alone) = match alone {
                Some((requests, alone)) => {
                    (requests.to_string(), format!("{:.2}", ms(alone)), format!("{:.2}", ms(figures.warm) / ms(alone)))
                }
                None => ("-".into(), "-".into(), "-".into()),
            };
            println!(
            "{:<21} {:<14} {:>7.2} {:>6.1} {:>8.2} {:>7.2} {:>6.1} {:>6.1} {:>6.1} {:>7.1} {:>7.2} {:>6.1} {:>9} {:>4} {:>8} {:>7}",
            label,
            subject.what,
            ms(figures.init),
            ms(figures.init) / ms(floor_figures.init),
            ms(figures.first),
            ms(figures.warm),
            ms(figures.first) / ms(figures.warm),
            figures.peak_rss_kb as f64 / 1024.0,
            figures.peak_rss_kb as f64 / floor_figures.peak_rss_kb as f64,
            figures.anonymous_kb as f64 / 1024.0,
            size as f64 / 1e6,
            size as f64 / floor_size as f64,
            zip,
            requests,
            alone_ms,
            times_alone,
        );
        }
    }
    println!();
    Ok(())
}

/// `A` for the first directory of the first table, `B` for the second...
fn build_mark(index: usize) -> char {
    char::from(b'A' + u8::try_from(index % 26).unwrap_or_default())
}

/// Each function with DynamoDB behind the TLS terminator, as three cold-start setups:
/// the system's roots with and without the connection opened during init, and the
/// test CA alone (what compiled-in roots would save at most).
async fn tls_table(
    bin_dir: &Path,
    events_dir: &Path,
    subjects: &[&Subject],
    terminator: &tls::Terminator,
    trust: &tls::Trust,
) -> Result<(), Failure> {
    let trusting = |file: &Path| {
        vec![
            ("SSL_CERT_FILE", file.display().to_string()),
            ("SSL_CERT_DIR", trust.no_cert_dir.display().to_string()),
            ("AWS_ENDPOINT_URL_DYNAMODB", terminator.url.clone()),
        ]
    };
    let system_roots_without_connect_at_init = without_connect_at_init(&trusting(&trust.system_roots_and_test_ca));
    let setups: [(&str, Vec<(&str, String)>); 3] = [
        ("system roots, connect at init", trusting(&trust.system_roots_and_test_ca)),
        ("system roots, no connect at init", system_roots_without_connect_at_init),
        ("test CA only, connect at init", trusting(&trust.test_ca_only)),
    ];
    println!(
        "DynamoDB over TLS (a loopback terminator, a test CA; the system's roots are {} certificates)",
        trust.system_root_count
    );
    print!("{:<17}", "binary");
    for (name, _) in &setups {
        print!(" | {name:^33}");
    }
    println!();
    print!("{:<17}", "");
    for _ in &setups {
        print!(" | {:>7} {:>8} {:>7} {:>7}", "init ms", "first ms", "warm ms", "×warm");
    }
    println!();
    for subject in subjects.iter().filter(|s| s.calls_dynamodb && s.handler.is_none()) {
        let binary = bin_dir.join(subject.binary);
        let event = event_of(events_dir, subject)?;
        print!("{:<17}", subject.binary);
        for (_, env) in &setups {
            let figures =
                cold_starts(&binary, &event, env).await.map_err(|e| format!("{} over TLS: {e}", subject.binary))?;
            print!(
                " | {:>7.2} {:>8.2} {:>7.2} {:>7.2}",
                ms(figures.init),
                ms(figures.first),
                ms(figures.warm),
                ms(figures.first) / ms(figures.warm)
            );
        }
        println!();
    }
    println!();
    Ok(())
}

/// Each function's init and warm call, with the process's CPU time in each split by
/// crate, and the warm call beside its DynamoDB requests alone: what the difference is
/// spent on.
async fn profile_table(
    bin_dir: &Path,
    events_dir: &Path,
    subjects: &[&Subject],
    roots: &[(&str, String)],
    dynamodb: &str,
) -> Result<(), Failure> {
    println!(
        "where the time goes (perf: {PROFILED_INITS} inits, {PROFILED_CALLS} warm calls; {}; CPU split by crate)",
        bin_dir.display()
    );
    println!("{:<17} {:<5} {:>7} {:>8} {:>7}  CPU by crate", "binary", "phase", "ms", "alone ms", "CPU ms");
    let data_dir = Path::new("target/bench/perf");
    std::fs::create_dir_all(data_dir)?;
    for subject in subjects.iter().filter(|s| s.handler.is_none()) {
        let binary = bin_dir.join(subject.binary);
        let event = event_of(events_dir, subject)?;
        let failed = |e: Failure| -> Failure { format!("{} under perf: {e}", subject.binary).into() };
        // Init without DynamoDB, as in the first table.
        let init_env = without_connect_at_init(roots);
        let init_data = data_dir.join(format!("{}-init.data", subject.binary));
        let init = profile::measure_init(&binary, &init_env, PROFILED_INITS, &init_data).await.map_err(failed)?;
        print_profile_row(subject.binary, "init", &init, None);
        let alone = if subject.calls_dynamodb {
            Some(dynamodb_alone(&binary, &event, roots, dynamodb).await.map_err(failed)?.1)
        } else {
            None
        };
        let warm_data = data_dir.join(format!("{}-warm.data", subject.binary));
        let warm = profile::measure_warm(&binary, &event, roots, PROFILED_CALLS, &warm_data).await.map_err(failed)?;
        print_profile_row("", "warm", &warm, alone);
    }
    println!();
    Ok(())
}

fn print_profile_row(binary: &str, phase: &str, profile: &profile::Profile, alone: Option<Duration>) {
    let mut split: Vec<String> =
        profile.shares.iter().take(profile::TOP_CRATES).map(|(owner, share)| format!("{owner} {share:.0}%")).collect();
    let rest: f64 = profile.shares.iter().skip(profile::TOP_CRATES).map(|(_, share)| share).sum();
    split.push(format!("rest {rest:.0}%"));
    println!(
        "{:<17} {:<5} {:>7.2} {:>8} {:>7.2}  {}",
        binary,
        phase,
        ms(profile.time),
        alone.map_or("-".to_owned(), |alone| format!("{:.2}", ms(alone))),
        ms(profile.cpu),
        split.join(", ")
    );
}

async fn fanout_table(
    bin_dir: &Path,
    events_dir: &Path,
    roots: &[(&str, String)],
    websocket_url: &str,
) -> Result<(), Failure> {
    let notifier = SUBJECTS.iter().find(|s| s.binary == "notifier").ok_or("no notifier subject")?;
    let event = event_of(events_dir, notifier)?;
    let fanout = fanout::measure(
        &bin_dir.join(notifier.binary),
        roots,
        websocket_url,
        FANOUT_CONNECTIONS,
        &event,
        FANOUT_WARM_EVENTS,
    )
    .await?;
    println!("notifier: one event to {} WebSocket connections of one user (local stack)", fanout.connections);
    println!("{:<26} {:>16} {:>22}", "", "notifier answered", "last client received");
    for (name, (answered, all)) in [("first after a cold start", fanout.cold), ("warm (median)", fanout.warm)] {
        println!("{name:<26} {:>13.1} ms {:>19.1} ms", ms(answered), ms(all));
    }
    Ok(())
}
