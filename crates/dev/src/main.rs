//! `dev`: the developer's commands. Not deployed. `dev --help` lists them, and
//! `dev COMMAND --help` says what each does and reads.
//!
//! The local commands (`stack`, `seed`, `token`, `watch`) fill in the local stack's
//! settings for whatever the environment leaves unset ([`LOCAL`]). The operator's
//! commands (`outbox`, `load-check`) read the environment as it is, as a function in
//! AWS would (region, credentials, `TABLE_NAME`), unless `--local` says otherwise.
//!
//! Exit codes: 0 done, 1 the command failed, 2 a wrong command line (clap's usage).

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use aws::store::Store;
use clap::{Args, Parser, Subcommand};
use dev::fixture::{Fixture, FixtureChat};
use dev::stack::{serve, Listeners, Services};
use dev::{mint_hs256, DEFAULT_LOCAL_SECRET};
use edge::config::{Config, Env, Section};

const TOKEN_TTL_SECONDS: u64 = 24 * 3600;
type Failure = Box<dyn std::error::Error>;

#[derive(Parser)]
#[command(name = "dev", about = "The join-request service's developer commands (never deployed).")]
struct Cli {
    #[command(flatten)]
    ports: Ports,
    #[command(subcommand)]
    command: Command,
}

/// Where the local stack listens.
#[derive(Args)]
struct Ports {
    /// The REST API's port.
    #[arg(long, env = "REST_PORT", default_value_t = 3000, global = true)]
    rest_port: u16,
    /// The WebSocket API's and the Management API's port.
    #[arg(long, env = "WS_PORT", default_value_t = 3001, global = true)]
    ws_port: u16,
    /// The local EventBridge's port.
    #[arg(long, env = "EVENTS_PORT", default_value_t = 3002, global = true)]
    events_port: u16,
}

#[derive(Subcommand)]
enum Command {
    /// Run the local stack: load the fixture, print URLs and tokens, serve REST,
    /// WebSocket, the Management API and EventBridge until Ctrl-C.
    Stack {
        /// The fixture to load.
        #[arg(long, env = "SEED_FILE", default_value = "fixtures/demo.json")]
        seed_file: PathBuf,
        /// How often the local expirer runs (every 15 minutes in AWS).
        #[arg(long, env = "EXPIRE_EVERY_SECONDS", default_value_t = 10)]
        expire_every_seconds: u64,
        /// The source of the app's events, which the bus routes to the sync function.
        #[arg(long, env = "APP_EVENT_SOURCE", default_value = domain::sync::DEFAULT_APP_EVENT_SOURCE)]
        app_event_source: String,
        /// Where each `join-request.*` event is POSTed (http), as the template's
        /// `AppWebhookUrl` does in AWS; unset: nowhere.
        #[arg(long, env = "APP_WEBHOOK_URL")]
        app_webhook_url: Option<hyper::Uri>,
    },
    /// Create the table if missing and load a fixture, then print a token per user.
    Seed {
        /// Drop the table first, so the fixture loads into an empty one.
        #[arg(long)]
        fresh: bool,
        /// The fixture to load.
        #[arg(env = "SEED_FILE", default_value = "fixtures/demo.json")]
        file: PathBuf,
    },
    /// Print a token for USER_ID, valid 24 hours, signed with $JWT_SECRET.
    Token {
        /// A user's id: 24 lower-case hex digits.
        user_id: String,
    },
    /// Connect to the local WebSocket API with TOKEN and print every event.
    Watch {
        /// A token, as `dev token` prints it.
        token: String,
    },
    /// The outbox items the sweeper set aside, and putting one back.
    #[command(subcommand)]
    Outbox(OutboxCommand),
    /// Import the app's existing users and chats from `mongoexport` files (JSON Lines,
    /// or JSON arrays with --jsonArray; Extended JSON v2, relaxed or canonical): newer
    /// wins, as for the app's events, so a second run changes nothing. Prints each bad
    /// document's line and the counts; exits 1 if any document was bad.
    Import {
        /// The users collection.
        #[arg(long)]
        users: Option<PathBuf>,
        /// The chats collection, each chat with its `participants`.
        #[arg(long)]
        chats: Option<PathBuf>,
        /// The files are JSON arrays (`mongoexport --jsonArray`).
        #[arg(long = "jsonArray", visible_alias = "json-array")]
        json_array: bool,
        #[command(flatten)]
        target: Target,
    },
    /// The app's events the sync function set aside, and replaying one.
    #[command(subcommand)]
    Sync(SyncCommand),
    /// Put one event of the app on the bus by hand, as the app would: DETAIL_TYPE
    /// (`member.upserted`, ...) with DETAIL (JSON), source APP_EVENT_SOURCE.
    PutEvent {
        detail_type: String,
        detail: String,
        /// The source the sync function's rule matches.
        #[arg(long, env = "APP_EVENT_SOURCE", default_value = domain::sync::DEFAULT_APP_EVENT_SOURCE)]
        source: String,
        #[command(flatten)]
        target: Target,
    },
    /// Print a fixture: the demo data plus one restricted chat of N participants.
    BigChat {
        /// Active participants of the generated chat.
        participants: usize,
        /// How many of them are admins.
        #[arg(default_value_t = 20)]
        admins: usize,
    },
    /// Print one chat of N participants (20 admins among them, every 1,000th left) as
    /// `mongoexport` writes a chats collection (JSON Lines, relaxed Extended JSON), for
    /// `dev import` and the bench.
    ExportChat { participants: usize },
    /// The bench of the app's data in (scripts/bench-app-data.sh): N `member.upserted`
    /// events over 100 chats through sync-app's handler, 32 at once, as Lambda would
    /// run them; prints events per second.
    BenchSync {
        events: usize,
        #[command(flatten)]
        target: Target,
    },
    /// Write DIR/fixture.json and DIR/run.json (the people and their tokens) for
    /// scripts/load.sh.
    LoadWorld { dir: PathBuf, chats: usize, admins_per_chat: usize, requesters: usize },
    /// Check the contract's invariants after a load run: the whole table, and what each
    /// admin connection received (RECEIVED_FILE, one JSON line per connection).
    LoadCheck {
        run_file: PathBuf,
        received_file: PathBuf,
        #[command(flatten)]
        target: Target,
    },
}

#[derive(Subcommand)]
enum OutboxCommand {
    /// List the outbox items the sweeper set aside.
    Aside {
        #[command(flatten)]
        target: Target,
    },
    /// Put a set-aside outbox item back for the sweeper to retry.
    Replay {
        /// The item's id, as `dev outbox aside` lists it.
        id: String,
        #[command(flatten)]
        target: Target,
    },
}

#[derive(Subcommand)]
enum SyncCommand {
    /// List the app's events the sync function could not apply, with why.
    Aside {
        #[command(flatten)]
        target: Target,
    },
    /// Put a set-aside event back on the bus (EVENT_BUS_NAME, source APP_EVENT_SOURCE)
    /// for the sync function, and forget it here: once the cause is fixed.
    Replay {
        /// The event's id, as `dev sync aside` lists it.
        id: String,
        /// The source the sync function's rule matches.
        #[arg(long, env = "APP_EVENT_SOURCE", default_value = domain::sync::DEFAULT_APP_EVENT_SOURCE)]
        source: String,
        #[command(flatten)]
        target: Target,
    },
}

/// Which table an operator's command reaches.
#[derive(Args)]
struct Target {
    /// The local stack's table (its settings for what the environment leaves unset)
    /// instead of the one the environment names (AWS_REGION, credentials, TABLE_NAME).
    #[arg(long)]
    local: bool,
}

/// The local stack's settings, for what the environment leaves unset: its endpoints,
/// dummy credentials, the local secret. Never applied to a command that reaches AWS.
const LOCAL: &[(&str, &str)] = &[
    ("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:8000"),
    ("EVENT_BUS_NAME", "join-requests-local"),
    ("TABLE_NAME", "join-requests"),
    ("JWT_SECRET", DEFAULT_LOCAL_SECRET),
    ("AWS_REGION", "us-east-1"),
    ("AWS_ACCESS_KEY_ID", "local"),
    ("AWS_SECRET_ACCESS_KEY", "local"),
    // One process for the whole stack, whose table is created after its App: the
    // connections opened at init would only meet a missing table.
    ("CONNECT_AT_INIT", "false"),
    // One line per call from the stack; the functions' own logs with RUST_LOG=info.
    ("RUST_LOG", "warn,stack=info"),
];

/// The environment, with the local stack's settings where it has none.
fn local_env(ports: &Ports) -> Env {
    env_with(&Target { local: true }, ports, &[])
}

fn env_for(target: &Target, ports: &Ports) -> Env {
    env_with(target, ports, &[])
}

/// [`env_for`], with `defaults` for what neither the environment nor the local
/// settings give.
fn env_with(target: &Target, ports: &Ports, defaults: &[(&str, &str)]) -> Env {
    let mut values: HashMap<String, String> = std::env::vars_os()
        .filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)))
        .filter(|(_, value)| !value.is_empty())
        .collect();
    if target.local {
        let events = format!("http://127.0.0.1:{}", ports.events_port);
        let management = format!("http://127.0.0.1:{}", ports.ws_port);
        let ported = [("AWS_ENDPOINT_URL_EVENTBRIDGE", events), ("WEBSOCKET_ENDPOINT", management)];
        for (name, value) in LOCAL.iter().map(|(n, v)| (*n, (*v).to_owned())).chain(ported) {
            values.entry(name.to_owned()).or_insert(value);
        }
    }
    for (name, value) in defaults {
        values.entry((*name).to_owned()).or_insert_with(|| (*value).to_owned());
    }
    Env::of_pairs(values.iter().map(|(name, value)| (name.as_str(), value.as_str())))
}

/// An import reads and writes a whole collection, not one call's items: a page of a
/// big chat's entries can take DynamoDB Local longer than a function's bounds allow.
/// Loading the fixture is an import too, and it begins by creating the table: on a
/// DynamoDB Local whose JVM has just started, under load, that took over 2.5 s in CI.
const IMPORT_BOUNDS: &[(&str, &str)] = &[("AWS_ATTEMPT_TIMEOUT_MS", "20000"), ("AWS_CALL_TIMEOUT_MS", "60000")];

/// Every section: the local stack runs every function in one process.
const ALL_SECTIONS: &[Section] = &[
    Section::Aws,
    Section::Table,
    Section::Auth,
    Section::Cors,
    Section::Decisions,
    Section::Creates,
    Section::Events,
    Section::Bus,
    Section::Push,
    Section::Sweep,
    Section::Expiry,
];

async fn store_of(env: &Env) -> Result<Store, Failure> {
    let config = Config::of_sections(&[Section::Aws, Section::Table], env)?;
    edge::telemetry::init(&config.logs);
    let sdk = aws::sdk::sdk_config(config.aws.as_ref().ok_or("AWS_REGION must be set")?);
    Ok(edge::run::store(&config, &sdk).await?)
}

fn secret_of(env: &Env) -> Result<String, Failure> {
    let config = Config::of_sections(&[Section::Auth], env)?;
    config.auth.and_then(|auth| auth.secret).ok_or_else(|| "JWT_SECRET must be set to mint tokens".into())
}

/// Loads the fixture and prints a token per user; returns what the console starts from:
/// the users with their tokens and the chats each administers, and the chats.
async fn seed(store: &Store, path: &std::path::Path, secret: &str) -> Result<serde_json::Value, Failure> {
    let fixture = Fixture::read(path)?;
    let chats: Vec<serde_json::Value> = fixture
        .chats
        .iter()
        .map(|c| serde_json::json!({"_id": c.id, "name": c.name, "isGroup": c.is_group, "restricted": c.restricted}))
        .collect();
    let admin_of = |user: domain::ObjectId| -> Vec<domain::ObjectId> {
        let admins = |c: &&FixtureChat| c.participants.iter().any(|p| p.user == user && p.is_active_admin());
        fixture.chats.iter().filter(admins).map(|c| c.id).collect()
    };
    let mut users = Vec::with_capacity(fixture.users.len());
    for user in &fixture.users {
        let token = mint_hs256(secret, &user.id.to_string(), TOKEN_TTL_SECONDS)?;
        users.push(serde_json::json!({
            "_id": user.id, "username": user.username, "name": user.name, "token": token, "adminOf": admin_of(user.id),
        }));
    }
    let (user_count, chat_count) = fixture.load(store).await?;
    println!("loaded {user_count} users and {chat_count} chats from {} into table {}", path.display(), store.table());
    println!("tokens (valid 24 h, signed with JWT_SECRET):");
    for user in &users {
        println!(
            "  {:<14} {}  {}",
            user["username"].as_str().unwrap_or_default(),
            user["_id"].as_str().unwrap_or_default(),
            user["token"].as_str().unwrap_or_default()
        );
    }
    Ok(serde_json::json!({ "users": users, "chats": chats }))
}

/// What `dev stack` is told beyond its ports.
struct StackSettings {
    seed_file: PathBuf,
    expire_every: Duration,
    app_event_source: String,
    webhook: Option<hyper::Uri>,
}

async fn stack(ports: &Ports, settings: StackSettings) -> Result<(), Failure> {
    let StackSettings { seed_file, expire_every, app_event_source, webhook } = settings;
    let env = local_env(ports);
    let config = Config::of_sections(ALL_SECTIONS, &env)?;
    edge::telemetry::init(&config.logs);
    let bind = |port: u16| tokio::net::TcpListener::bind(("127.0.0.1", port));
    let listeners = Listeners {
        rest: bind(ports.rest_port).await.map_err(|e| format!("REST_PORT {}: {e}", ports.rest_port))?,
        websocket: bind(ports.ws_port).await.map_err(|e| format!("WS_PORT {}: {e}", ports.ws_port))?,
        events: bind(ports.events_port).await.map_err(|e| format!("EVENTS_PORT {}: {e}", ports.events_port))?,
    };
    let sdk = aws::sdk::sdk_config(config.aws.as_ref().ok_or("AWS_REGION must be set")?);
    let app = edge::App::new(&config, &sdk).await?;
    let loader = store_of(&env_with(&Target { local: true }, ports, IMPORT_BOUNDS)).await?;
    let mut console = seed(&loader, &seed_file, &secret_of(&env)?).await?;
    console["websocket"] = serde_json::json!(format!("ws://127.0.0.1:{}", ports.ws_port));
    let services = Services {
        console,
        publisher: edge::run::publisher(&config, &sdk)?,
        pusher: edge::run::pusher(&config, &sdk)?,
        app,
        sweep_every: Duration::from_secs(5),
        sweep_min_age_seconds: config.sweep_min_age_seconds,
        expire_every,
        request_expiry: config.request_expiry,
        app_event_source,
        webhook,
    };
    let dynamodb =
        config.aws.iter().flat_map(|aws| aws.endpoints.iter()).find(|(name, _)| name == "AWS_ENDPOINT_URL_DYNAMODB");
    println!();
    println!("REST API      http://127.0.0.1:{}/requests", ports.rest_port);
    println!("WebSocket     ws://127.0.0.1:{}/?token=<token>", ports.ws_port);
    println!("Management    http://127.0.0.1:{}/@connections/<id>", ports.ws_port);
    println!("EventBridge   http://127.0.0.1:{}", ports.events_port);
    println!("DynamoDB      {}", dynamodb.map(|(_, url)| url.as_str()).unwrap_or_default());
    println!("Console       http://127.0.0.1:{}/console", ports.rest_port);
    println!("ready; Ctrl-C stops");
    tokio::select! {
        () = serve(listeners, services) => Ok(()),
        signal = tokio::signal::ctrl_c() => {
            signal?;
            println!("stopping");
            Ok(())
        }
    }
}

/// A small WebSocket client: connects with `token` and prints every message.
async fn watch(websocket_port: u16, token: &str) -> Result<(), Failure> {
    use futures::StreamExt;
    let url = format!("ws://127.0.0.1:{websocket_port}/?token={token}");
    let (mut socket, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .map_err(|e| format!("cannot connect to ws://127.0.0.1:{websocket_port}: {e}"))?;
    eprintln!("connected; waiting for events (Ctrl-C stops)");
    while let Some(message) = socket.next().await {
        match message? {
            tokio_tungstenite::tungstenite::Message::Text(text) => println!("{text}"),
            tokio_tungstenite::tungstenite::Message::Close(_) => break,
            _ => {}
        }
    }
    eprintln!("connection closed");
    Ok(())
}

/// The demo fixture plus one generated restricted chat (`68b000000000000000000001`)
/// of `participants` active participants, `admins` of them admins.
fn big_chat(participants: usize, admins: usize) -> Result<(), Failure> {
    let mut fixture: serde_json::Value = serde_json::from_str(&std::fs::read_to_string("fixtures/demo.json")?)?;
    let chat = serde_json::to_value(dev::fixture::FixtureChat::generated(0, participants, admins))?;
    fixture["chats"].as_array_mut().ok_or("fixtures/demo.json has no chats list")?.push(chat);
    println!("{fixture}");
    Ok(())
}

async fn outbox_aside(store: &Store) -> Result<(), Failure> {
    let items = store.outbox_set_aside(100).await?;
    if items.is_empty() {
        println!("no outbox item is set aside");
    }
    for item in items {
        let fields = &item.fields;
        println!(
            "{}  created {}  {} attempts  last error: {}",
            item.id, fields.created_at, fields.attempts, fields.last_error
        );
    }
    Ok(())
}

async fn outbox_replay(store: &Store, id: &str) -> Result<(), Failure> {
    let id = domain::ObjectId::parse(id)?;
    if store.replay_outbox(id).await? {
        println!("outbox item {id} is back in the outbox; the next sweep carries it out");
        Ok(())
    } else {
        Err(format!("no outbox item {id} is set aside").into())
    }
}

/// One collection through `import` with a progress bar on stderr (hidden when stderr
/// is not a terminal); prints its bad documents and its counts. Whether all was good.
async fn import_file<F, Fut>(name: &str, path: &std::path::Path, import: F) -> Result<bool, Failure>
where
    F: FnOnce(indicatif::ProgressBar) -> Fut,
    Fut: std::future::Future<Output = Result<dev::import::Report, dev::import::ImportError>>,
{
    let size = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?.len();
    let bar = indicatif::ProgressBar::new(size);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{prefix:>6} [{bar:40}] {bytes}/{total_bytes} ({eta})")?
            .progress_chars("=> "),
    );
    bar.set_prefix(name.to_owned());
    let report = import(bar.clone()).await.map_err(|e| format!("{}: {e}", path.display()))?;
    bar.finish_and_clear();
    for (line, reason) in &report.bad {
        eprintln!("{}:{line}: {reason}", path.display());
    }
    println!("{name}: {report}");
    Ok(report.bad.is_empty())
}

async fn import(env: &Env, users: Option<PathBuf>, chats: Option<PathBuf>, json_array: bool) -> Result<(), Failure> {
    if users.is_none() && chats.is_none() {
        return Err("name a collection: --users FILE, --chats FILE, or both".into());
    }
    let format = if json_array { dev::import::Format::Array } else { dev::import::Format::Lines };
    let store = store_of(env).await?;
    store.create_table_if_missing().await?;
    let started = std::time::Instant::now();
    let mut all_good = true;
    if let Some(path) = users {
        all_good &= import_file("users", &path, |bar| dev::import::import_users(&store, &path, format, bar)).await?;
    }
    if let Some(path) = chats {
        all_good &= import_file("chats", &path, |bar| dev::import::import_chats(&store, &path, format, bar)).await?;
    }
    let took = started.elapsed().as_secs_f64();
    match peak_memory_mb() {
        Some(mb) => eprintln!("took {took:.1} s, peak memory {mb:.0} MB"),
        None => eprintln!("took {took:.1} s"),
    }
    if all_good {
        Ok(())
    } else {
        Err("some documents were bad (listed above); the others are imported".into())
    }
}

fn export_chat(participants: usize) -> Result<(), Failure> {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let every = (participants / 20).max(1);
    write!(
        out,
        r#"{{"_id":{{"$oid":"6b0000000000000000000099"}},"creator":{{"$oid":"6a0000000000000000000000"}},"isGroup":true,"name":"Exported","restricted":true,"createdAt":{{"$date":"2026-01-01T00:00:00Z"}},"updatedAt":{{"$date":"2026-11-03T00:00:00Z"}},"participants":["#
    )?;
    for n in 0..participants {
        let admin = if n % every == every - 1 { r#","isAdmin":true"# } else { "" };
        let left = if n % 1_000 == 500 { r#","leftAt":{"$date":"2026-11-02T00:00:00Z"}"# } else { "" };
        let comma = if n == 0 { "" } else { "," };
        write!(
            out,
            r#"{comma}{{"_id":{{"$oid":"6c{n:022x}"}},"user":{{"$oid":"6a{n:022x}"}},"lastReadAt":{{"$date":"2026-11-01T00:00:00Z"}}{admin}{left}}}"#
        )?;
    }
    writeln!(out, "]}}")?;
    Ok(())
}

async fn bench_sync(env: &Env, events: usize) -> Result<(), Failure> {
    use futures::StreamExt;
    let config = Config::of_sections(&[Section::Aws, Section::Table, Section::Bus], env)?;
    edge::telemetry::init(&config.logs);
    let sdk = aws::sdk::sdk_config(config.aws.as_ref().ok_or("AWS_REGION must be set")?);
    let store = edge::run::store(&config, &sdk).await?;
    store.create_table_if_missing().await?;
    let publisher = edge::run::publisher(&config, &sdk)?;
    let at = domain::time::now_timestamp();
    let body = |n: usize| {
        let detail = serde_json::json!({"chat": format!("6b{:022x}", n % 100), "user": format!("6a{n:022x}"),
            "_id": format!("6c{n:022x}"), "isAdmin": false, "lastReadAt": at, "updatedAt": at});
        let envelope = dev::local::events::eventbridge_delivery(
            &domain::ObjectId::generate().to_string(),
            &at,
            domain::sync::DEFAULT_APP_EVENT_SOURCE,
            "member.upserted",
            detail,
        );
        (format!("m{n}"), envelope.to_string())
    };
    let bodies: Vec<(String, String)> = (0..events).map(body).collect();
    let batches: Vec<_> =
        bodies.chunks(dev::stack::events::BATCH_SIZE).map(|c| dev::local::events::sqs_batch(c.to_vec())).collect();
    let started = std::time::Instant::now();
    let handled: Vec<_> = futures::stream::iter(
        batches.into_iter().map(|b| dev::stack::events::sync_in_time(&store, &publisher, "bench", b)),
    )
    .buffer_unordered(BENCH_SYNC_BATCHES)
    .collect()
    .await;
    let elapsed = started.elapsed().as_secs_f64();
    let failed: usize = handled.iter().map(|h| h.response().batch_item_failures.len()).sum();
    println!(
        "sync-app: {events} member.upserted over 100 chats, in batches of {} ({BENCH_SYNC_BATCHES} at once): {:.0} events/s ({failed} failed)",
        dev::stack::events::BATCH_SIZE,
        events as f64 / elapsed
    );
    Ok(())
}

/// Batches handled at once: Lambda's SQS poller starts with 5 concurrent invocations
/// and adds more while the queue stays deep.
const BENCH_SYNC_BATCHES: usize = 8;

/// The process's peak resident memory, from Linux's `/proc/self/status`.
fn peak_memory_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

async fn sync_aside(store: &Store) -> Result<(), Failure> {
    let events = store.app_events_set_aside(100).await?;
    if events.is_empty() {
        println!("no event of the app is set aside");
    }
    for event in events {
        println!("{}  {}  {}  {}\n    {}", event.id, event.set_aside_at, event.detail_type, event.reason, event.detail);
    }
    Ok(())
}

/// Puts one entry on the bus (EVENT_BUS_NAME) as the app would.
async fn put_event(env: &Env, source: &str, detail_type: &str, detail: &str) -> Result<(), Failure> {
    let config = Config::of_sections(&[Section::Aws, Section::Bus], env)?;
    let sdk = aws::sdk::sdk_config(config.aws.as_ref().ok_or("AWS_REGION must be set")?);
    let bus = config.bus.ok_or("EVENT_BUS_NAME must be set")?;
    let entry = aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
        .event_bus_name(bus)
        .source(source)
        .detail_type(detail_type)
        .detail(detail)
        .build();
    let output = aws_sdk_eventbridge::Client::new(&sdk).put_events().entries(entry).send().await?;
    if let Some(refused) = output.entries().first().and_then(|e| e.error_message().or(e.error_code())) {
        return Err(format!("the bus refused the event: {refused}").into());
    }
    Ok(())
}

async fn sync_replay(env: &Env, id: &str, source: &str) -> Result<(), Failure> {
    let id = domain::ObjectId::parse(id)?;
    let store = store_of(env).await?;
    let event = store
        .app_events_set_aside(usize::MAX)
        .await?
        .into_iter()
        .find(|event| event.id == id)
        .ok_or_else(|| format!("no event {id} is set aside"))?;
    put_event(env, source, &event.detail_type, &event.detail).await?;
    store.forget_app_event(id).await?;
    println!("event {id} ({}) is back on the bus for the sync function", event.detail_type);
    Ok(())
}

async fn run(cli: Cli) -> Result<(), Failure> {
    let ports = &cli.ports;
    match cli.command {
        Command::Stack { seed_file, expire_every_seconds, app_event_source, app_webhook_url } => {
            let expire_every = Duration::from_secs(expire_every_seconds);
            stack(ports, StackSettings { seed_file, expire_every, app_event_source, webhook: app_webhook_url }).await
        }
        Command::Seed { fresh, file } => {
            let env = local_env(ports);
            let store = store_of(&env_with(&Target { local: true }, ports, IMPORT_BOUNDS)).await?;
            if fresh {
                store.drop_table().await?;
            }
            seed(&store, &file, &secret_of(&env)?).await.map(|_| ())
        }
        Command::Token { user_id } => {
            domain::ObjectId::parse(&user_id)?;
            println!("{}", mint_hs256(&secret_of(&local_env(ports))?, &user_id, TOKEN_TTL_SECONDS)?);
            Ok(())
        }
        Command::Watch { token } => watch(ports.ws_port, &token).await,
        Command::Outbox(OutboxCommand::Aside { target }) => {
            outbox_aside(&store_of(&env_for(&target, ports)).await?).await
        }
        Command::Outbox(OutboxCommand::Replay { id, target }) => {
            outbox_replay(&store_of(&env_for(&target, ports)).await?, &id).await
        }
        Command::Import { users, chats, json_array, target } => {
            import(&env_with(&target, ports, IMPORT_BOUNDS), users, chats, json_array).await
        }
        Command::ExportChat { participants } => export_chat(participants),
        Command::BenchSync { events, target } => bench_sync(&env_for(&target, ports), events).await,
        Command::PutEvent { detail_type, detail, source, target } => {
            put_event(&env_for(&target, ports), &source, &detail_type, &detail).await?;
            println!("{detail_type} put on the bus (source {source})");
            Ok(())
        }
        Command::Sync(SyncCommand::Aside { target }) => sync_aside(&store_of(&env_for(&target, ports)).await?).await,
        Command::Sync(SyncCommand::Replay { id, source, target }) => {
            sync_replay(&env_for(&target, ports), &id, &source).await
        }
        Command::BigChat { participants, admins } => big_chat(participants, admins),
        Command::LoadWorld { dir, chats, admins_per_chat, requesters } => {
            let secret = secret_of(&local_env(ports))?;
            let (fixture, run) = dev::load::world(chats, admins_per_chat, requesters, &secret)?;
            std::fs::create_dir_all(&dir)?;
            std::fs::write(dir.join("fixture.json"), fixture.to_string())?;
            std::fs::write(dir.join("run.json"), run.to_string())?;
            Ok(())
        }
        Command::LoadCheck { run_file, received_file, target } => {
            let run: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(run_file)?)?;
            let received = std::fs::read_to_string(received_file)?;
            let store = store_of(&env_for(&target, ports)).await?;
            for line in dev::load::check(&store, &run, &received).await? {
                println!("invariants: {line}");
            }
            println!("invariants: all hold");
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(Failure::from)
        .and_then(|runtime| runtime.block_on(run(cli)));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
