//! Developer commands. Not deployed.
//!
//!   dev stack           the local stack (see the README): seeds, prints URLs and tokens,
//!                       serves REST, WebSocket, Management API and EventBridge
//!   dev seed [--fresh] [FILE]
//!                       create the table if missing (--fresh: drop it first) and load a
//!                       fixture (default: $SEED_FILE or fixtures/demo.json), then print a
//!                       token per user
//!   dev token USER_ID   print a token for USER_ID signed with $JWT_SECRET
//!   dev outbox aside    list the outbox items the sweeper set aside (table $TABLE_NAME;
//!                       in AWS with AWS_REGION and the credentials in the environment)
//!   dev outbox replay ID
//!                       put a set-aside outbox item back for the sweeper to retry
//!   dev big-chat N [ADMINS]
//!                       print a fixture: the demo data plus one restricted chat of N
//!                       participants, ADMINS (default 20) of them admins
//!   dev watch TOKEN     connect to the local WebSocket API and print every event
//!   dev load-world DIR CHATS ADMINS_PER_CHAT REQUESTERS
//!                       write DIR/fixture.json and DIR/run.json (the people and their
//!                       tokens) for scripts/load.sh
//!   dev load-check RUN_FILE RECEIVED_FILE
//!                       check the contract's invariants after a load run (table
//!                       $TABLE_NAME, and what each admin connection received)

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use shared::store::Store;
use tools::fixture::Fixture;
use tools::stack::{serve, Listeners, Services};
use tools::{mint_hs256, DEFAULT_LOCAL_SECRET};

const TOKEN_TTL_SECONDS: u64 = 24 * 3600;
type Failure = Box<dyn std::error::Error>;

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).ok().filter(|v| !v.is_empty()).unwrap_or_else(|| default.to_owned())
}

fn port(name: &str, default: u16) -> Result<u16, Failure> {
    let text = env_or(name, &default.to_string());
    text.parse().map_err(|_| format!("{name} is not a port: {text:?}").into())
}

/// Local runs talk to local endpoints with dummy credentials unless told otherwise.
/// Set before the runtime starts any thread.
fn local_defaults(events_port: u16, websocket_port: u16) {
    let events = format!("http://127.0.0.1:{events_port}");
    let management = format!("http://127.0.0.1:{websocket_port}");
    for (name, value) in [
        ("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:8000"),
        ("AWS_ENDPOINT_URL_EVENTBRIDGE", events.as_str()),
        ("WEBSOCKET_ENDPOINT", management.as_str()),
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
    ] {
        if std::env::var_os(name).is_none() {
            std::env::set_var(name, value);
        }
    }
}

async fn seed(store: &Store, file: Option<String>) -> Result<(), Failure> {
    let path = PathBuf::from(file.unwrap_or_else(|| env_or("SEED_FILE", "fixtures/demo.json")));
    let fixture = Fixture::read(&path)?;
    let users: Vec<_> = fixture.users.iter().map(|u| (u.id, u.username.clone())).collect();
    let (user_count, chat_count) = fixture.load(store).await?;
    println!("loaded {user_count} users and {chat_count} chats from {} into table {}", path.display(), store.table());
    let secret = env_or("JWT_SECRET", DEFAULT_LOCAL_SECRET);
    println!("tokens (valid 24 h, signed with JWT_SECRET):");
    for (id, username) in users {
        println!("  {username:<14} {id}  {}", mint_hs256(&secret, &id.to_string(), TOKEN_TTL_SECONDS)?);
    }
    Ok(())
}

async fn store() -> Result<Store, Failure> {
    Ok(shared::App::store_from(&shared::app::sdk_config()?).await?)
}

async fn stack(rest_port: u16, websocket_port: u16, events_port: u16) -> Result<(), Failure> {
    shared::telemetry::init();
    let bind = |port: u16| tokio::net::TcpListener::bind(("127.0.0.1", port));
    let listeners = Listeners {
        rest: bind(rest_port).await.map_err(|e| format!("REST_PORT {rest_port}: {e}"))?,
        websocket: bind(websocket_port).await.map_err(|e| format!("WS_PORT {websocket_port}: {e}"))?,
        events: bind(events_port).await.map_err(|e| format!("EVENTS_PORT {events_port}: {e}"))?,
    };
    let config = shared::app::sdk_config()?;
    let app = shared::App::from_env(&config).await?;
    seed(&app.store, None).await?;
    let services = Services {
        publisher: shared::publish::Publisher::from_env(&config)?,
        pusher: shared::push::Pusher::from_env(&config)?,
        app,
        sweep_every: Duration::from_secs(5),
        sweep_min_age_seconds: env_or("OUTBOX_MIN_AGE_SECONDS", "30").parse()?,
        expire_every: Duration::from_secs(env_or("EXPIRE_EVERY_SECONDS", "10").parse()?),
        request_expiry: shared::app::request_expiry_from_env()?,
    };
    println!();
    println!("REST API      http://127.0.0.1:{rest_port}/requests");
    println!("WebSocket     ws://127.0.0.1:{websocket_port}/?token=<token>");
    println!("Management    http://127.0.0.1:{websocket_port}/@connections/<id>");
    println!("EventBridge   http://127.0.0.1:{events_port}");
    println!("DynamoDB      {}", env_or("AWS_ENDPOINT_URL_DYNAMODB", ""));
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

fn token(user: &str) -> Result<(), Failure> {
    shared::domain::ObjectId::parse(user)?;
    let secret = env_or("JWT_SECRET", DEFAULT_LOCAL_SECRET);
    println!("{}", mint_hs256(&secret, user, TOKEN_TTL_SECONDS)?);
    Ok(())
}

/// The demo fixture plus one generated restricted chat (`68b000000000000000000001`)
/// of `participants` active participants, `admins` of them admins.
fn big_chat(participants: &str, admins: &str) -> Result<(), Failure> {
    let participants: usize = participants.parse().map_err(|_| format!("not a number: {participants}"))?;
    let admins: usize = admins.parse().map_err(|_| format!("not a number: {admins}"))?;
    let mut fixture: serde_json::Value = serde_json::from_str(&std::fs::read_to_string("fixtures/demo.json")?)?;
    let chat = serde_json::to_value(tools::fixture::FixtureChat::generated(0, participants, admins))?;
    fixture["chats"].as_array_mut().ok_or("fixtures/demo.json has no chats list")?.push(chat);
    println!("{fixture}");
    Ok(())
}

fn load_world(dir: &str, chats: &str, admins: &str, requesters: &str) -> Result<(), Failure> {
    let number = |text: &str| text.parse::<usize>().map_err(|_| format!("not a number: {text}"));
    let secret = env_or("JWT_SECRET", DEFAULT_LOCAL_SECRET);
    let (fixture, run) = tools::load::world(number(chats)?, number(admins)?, number(requesters)?, &secret)?;
    let dir = PathBuf::from(dir);
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("fixture.json"), fixture.to_string())?;
    std::fs::write(dir.join("run.json"), run.to_string())?;
    Ok(())
}

async fn load_check(run_file: &str, received_file: &str) -> Result<(), Failure> {
    let run: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(run_file)?)?;
    let received = std::fs::read_to_string(received_file)?;
    let store = store().await?;
    for line in tools::load::check(store.client(), store.table(), &run, &received).await? {
        println!("invariants: {line}");
    }
    println!("invariants: all hold");
    Ok(())
}

async fn outbox_aside() -> Result<(), Failure> {
    let items = store().await?.outbox_set_aside(100).await?;
    if items.is_empty() {
        println!("no outbox item is set aside");
    }
    for item in items {
        println!(
            "{}  created {}  {} attempts  last error: {}",
            item.key, item.created_at, item.attempts, item.last_error
        );
    }
    Ok(())
}

async fn outbox_replay(id: &str) -> Result<(), Failure> {
    let id = shared::domain::ObjectId::parse(id.trim_start_matches("OUTBOX#"))?;
    if store().await?.replay_outbox(id).await? {
        println!("OUTBOX#{id} is back in the outbox; the next sweep carries it out");
        Ok(())
    } else {
        Err(format!("no outbox item OUTBOX#{id} is set aside").into())
    }
}

fn run(args: &[&str]) -> Result<(), Failure> {
    let (rest_port, websocket_port, events_port) =
        (port("REST_PORT", 3000)?, port("WS_PORT", 3001)?, port("EVENTS_PORT", 3002)?);
    local_defaults(events_port, websocket_port);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match args {
        ["stack"] => runtime.block_on(stack(rest_port, websocket_port, events_port)),
        ["seed"] => runtime.block_on(async { seed(&store().await?, None).await }),
        ["seed", "--fresh"] => runtime.block_on(async {
            let store = store().await?;
            tools::table::TableSpec::drop(store.client(), store.table()).await?;
            seed(&store, None).await
        }),
        ["seed", file] => runtime.block_on(async { seed(&store().await?, Some((*file).to_owned())).await }),
        ["token", user] => token(user),
        ["watch", token] => runtime.block_on(watch(websocket_port, token)),
        ["outbox", "aside"] => runtime.block_on(outbox_aside()),
        ["outbox", "replay", id] => runtime.block_on(outbox_replay(id)),
        ["big-chat", participants] => big_chat(participants, "20"),
        ["big-chat", participants, admins] => big_chat(participants, admins),
        ["load-world", dir, chats, admins, requesters] => load_world(dir, chats, admins, requesters),
        ["load-check", run, received] => runtime.block_on(load_check(run, received)),
        _ => Err("usage: dev stack | dev seed [--fresh | FIXTURE_FILE] | dev token USER_ID | dev watch TOKEN \
                  | dev outbox aside | dev outbox replay ID | dev big-chat PARTICIPANTS [ADMINS] \
                  | dev load-world DIR CHATS ADMINS_PER_CHAT REQUESTERS | dev load-check RUN_FILE RECEIVED_FILE"
            .into()),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
