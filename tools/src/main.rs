//! Developer commands for the local stack. Not deployed.
//!
//!   dev seed [FILE]     create the table if missing and load a fixture (default: $SEED_FILE
//!                       or fixtures/demo.json), then print a token per user
//!   dev token USER_ID   print a token for USER_ID signed with $JWT_SECRET

use std::path::PathBuf;
use std::process::ExitCode;

use shared::auth::mint_hs256;
use shared::fixture::Fixture;
use shared::store::Store;

/// The documented local default; never used in AWS, where the template's parameter is.
pub const DEFAULT_LOCAL_SECRET: &str = "local-development-secret";
const TOKEN_TTL_SECONDS: u64 = 24 * 3600;

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

/// Local runs talk to DynamoDB Local with dummy credentials unless told otherwise.
fn local_defaults() {
    for (name, value) in [
        ("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:8000"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "local"),
        ("AWS_SECRET_ACCESS_KEY", "local"),
    ] {
        if std::env::var_os(name).is_none() {
            std::env::set_var(name, value);
        }
    }
}

async fn seed(file: Option<String>) -> Result<(), Box<dyn std::error::Error>> {
    local_defaults();
    let path = PathBuf::from(file.unwrap_or_else(|| env_or("SEED_FILE", "fixtures/demo.json")));
    let fixture = Fixture::read(&path)?;
    let users: Vec<_> = fixture
        .users
        .iter()
        .map(|u| (u.id, u.username.clone()))
        .collect();
    let table = env_or("TABLE_NAME", "join-requests");
    let config = shared::app::aws_config().await;
    let store = Store::new(aws_sdk_dynamodb::Client::new(&config), &table);
    let (user_count, chat_count) = fixture.load(&store).await?;
    println!(
        "loaded {user_count} users and {chat_count} chats from {} into table {table}",
        path.display()
    );
    let secret = env_or("JWT_SECRET", DEFAULT_LOCAL_SECRET);
    println!("tokens (valid 24 h, signed with JWT_SECRET):");
    for (id, username) in users {
        println!(
            "  {username:<14} {id}  {}",
            mint_hs256(&secret, &id.to_string(), TOKEN_TTL_SECONDS)?
        );
    }
    Ok(())
}

fn token(user: &str) -> Result<(), Box<dyn std::error::Error>> {
    shared::domain::ObjectId::parse(user)?;
    let secret = env_or("JWT_SECRET", DEFAULT_LOCAL_SECRET);
    println!("{}", mint_hs256(&secret, user, TOKEN_TTL_SECONDS)?);
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["seed"] => seed(None).await,
        ["seed", file] => seed(Some((*file).to_owned())).await,
        ["token", user] => token(user),
        _ => {
            eprintln!("usage: dev seed [FIXTURE_FILE] | dev token USER_ID");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
