//! What a function builds once at cold start and hands to every invocation.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, SharedCredentialsProvider};
use aws_types::region::Region;
use aws_types::sdk_config::{RetryConfig, TimeoutConfig};
use aws_types::service_config::{LoadServiceConfig, ServiceConfigKey};
use aws_types::SdkConfig;

use crate::auth::{AuthConfigError, JwtSettings, JwtVerifier};
use crate::store::Store;

pub const DEFAULT_JOIN_POINTS: i64 = 10;

pub struct Settings {
    /// Points for the `join-group-chat` score action (`JOIN_GROUP_CHAT_POINTS`).
    pub join_group_chat_points: i64,
    /// How long a rejected requester must wait before asking the same chat again
    /// (`REJECTION_COOLDOWN_SECONDS`, default 0: off).
    pub rejection_cooldown_seconds: u64,
    /// How far behind now `GET /events` lists (`EVENTS_SETTLE_SECONDS`, default
    /// [`crate::store::SETTLE_SECONDS`]); see `requests::events`.
    pub events_settle_seconds: i64,
}

pub struct App {
    pub store: Store,
    pub auth: JwtVerifier,
    pub settings: Settings,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Auth(#[from] AuthConfigError),
    #[error("{0} must be set")]
    Missing(&'static str),
    #[error("{name} is not valid: {value:?}")]
    Invalid { name: &'static str, value: String },
}

impl Settings {
    pub fn from_env() -> Result<Self, ConfigError> {
        let join_group_chat_points = match std::env::var("JOIN_GROUP_CHAT_POINTS") {
            Err(_) => DEFAULT_JOIN_POINTS,
            Ok(value) => value.parse().map_err(|_| ConfigError::Invalid { name: "JOIN_GROUP_CHAT_POINTS", value })?,
        };
        let rejection_cooldown_seconds = match std::env::var("REJECTION_COOLDOWN_SECONDS") {
            Err(_) => 0,
            Ok(value) => {
                value.parse().map_err(|_| ConfigError::Invalid { name: "REJECTION_COOLDOWN_SECONDS", value })?
            }
        };
        let events_settle_seconds = match std::env::var("EVENTS_SETTLE_SECONDS") {
            Err(_) => crate::store::SETTLE_SECONDS,
            Ok(value) => value.parse().map_err(|_| ConfigError::Invalid { name: "EVENTS_SETTLE_SECONDS", value })?,
        };
        Ok(Self { join_group_chat_points, rejection_cooldown_seconds, events_settle_seconds })
    }
}

/// The bounds on every AWS call: how long to connect, how long one attempt may take,
/// how long the call may take with all its retries, and how many attempts it gets.
/// From `AWS_CONNECT_TIMEOUT_MS`, `AWS_ATTEMPT_TIMEOUT_MS`, `AWS_CALL_TIMEOUT_MS`,
/// `AWS_MAX_ATTEMPTS`. The defaults keep a REST call (at most 3 rounds of calls) well
/// inside the functions' 10 s timeout, so a hung dependency ends in `503`, not in a
/// Lambda timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallBounds {
    pub connect: Duration,
    pub attempt: Duration,
    pub call: Duration,
    pub max_attempts: u32,
}

impl Default for CallBounds {
    fn default() -> Self {
        Self {
            connect: Duration::from_millis(1000),
            attempt: Duration::from_millis(1000),
            call: Duration::from_millis(2500),
            max_attempts: 3,
        }
    }
}

impl CallBounds {
    pub fn from_env() -> Result<Self, ConfigError> {
        let defaults = Self::default();
        let millis = |name: &'static str, default: Duration| -> Result<Duration, ConfigError> {
            match std::env::var(name) {
                Err(_) => Ok(default),
                Ok(value) => value
                    .parse()
                    .ok()
                    .filter(|ms| *ms > 0)
                    .map(Duration::from_millis)
                    .ok_or(ConfigError::Invalid { name, value }),
            }
        };
        let max_attempts = match std::env::var("AWS_MAX_ATTEMPTS") {
            Err(_) => defaults.max_attempts,
            Ok(value) => value
                .parse()
                .ok()
                .filter(|n| (1..=10).contains(n))
                .ok_or(ConfigError::Invalid { name: "AWS_MAX_ATTEMPTS", value })?,
        };
        Ok(Self {
            connect: millis("AWS_CONNECT_TIMEOUT_MS", defaults.connect)?,
            attempt: millis("AWS_ATTEMPT_TIMEOUT_MS", defaults.attempt)?,
            call: millis("AWS_CALL_TIMEOUT_MS", defaults.call)?,
            max_attempts,
        })
    }

    pub fn timeout_config(&self) -> TimeoutConfig {
        TimeoutConfig::builder()
            .connect_timeout(self.connect)
            .operation_attempt_timeout(self.attempt)
            .operation_timeout(self.call)
            .build()
    }

    /// The SDK's standard retries (throttling and transient errors, jittered backoff),
    /// bounded by `max_attempts`.
    pub fn retry_config(&self) -> RetryConfig {
        RetryConfig::standard().with_max_attempts(self.max_attempts).with_max_backoff(Duration::from_millis(500))
    }
}

/// How long a request may stay pending: `REQUEST_EXPIRY_SECONDS` if set (for tests and
/// the local stack), else `REQUEST_EXPIRY_DAYS` (default 30). `None` when it is 0: off.
pub fn request_expiry_from_env() -> Result<Option<Duration>, ConfigError> {
    let seconds = match (std::env::var("REQUEST_EXPIRY_SECONDS"), std::env::var("REQUEST_EXPIRY_DAYS")) {
        (Ok(value), _) => {
            value.parse::<u64>().map_err(|_| ConfigError::Invalid { name: "REQUEST_EXPIRY_SECONDS", value })?
        }
        (_, Ok(value)) => {
            value.parse::<u64>().map_err(|_| ConfigError::Invalid { name: "REQUEST_EXPIRY_DAYS", value })? * 86_400
        }
        _ => DEFAULT_REQUEST_EXPIRY_DAYS * 86_400,
    };
    Ok((seconds > 0).then(|| Duration::from_secs(seconds)))
}

pub const DEFAULT_REQUEST_EXPIRY_DAYS: u64 = 30;

/// The HTTPS client of every SDK client: rustls on `ring`, trusting the system's roots
/// (`SSL_CERT_FILE` / `SSL_CERT_DIR` when set). See the workspace's `Cargo.toml` for
/// why not the SDK's default.
pub fn http_client() -> aws_sdk_dynamodb::config::SharedHttpClient {
    use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
    aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring)).build_https()
}

/// The SDK configuration every client is built from, read from the environment Lambda
/// gives a function: `AWS_REGION`, the execution role's `AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`, and [`CallBounds`] on every call.
/// `AWS_ENDPOINT_URL_<SERVICE>` (or `AWS_ENDPOINT_URL` for all) points a client
/// elsewhere, as DynamoDB Local.
///
/// Built by hand rather than by `aws-config`'s loader: Lambda only ever hands credentials
/// over in the environment, and the loader's other sources (profile files, STS web
/// identity, IMDS, ECS) were about 0.7 MB of every binary (README, "Performance").
pub fn sdk_config() -> Result<SdkConfig, ConfigError> {
    let bounds = CallBounds::from_env()?;
    // `vars_os`: `vars` panics on a variable that is not UTF-8, and none of ours can be.
    let env = std::env::vars_os()
        .filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)))
        .collect();
    sdk_config_from(&env, bounds)
}

fn sdk_config_from(env: &HashMap<String, String>, bounds: CallBounds) -> Result<SdkConfig, ConfigError> {
    let set = |name: &str| env.get(name).filter(|value| !value.is_empty()).cloned();
    let region = set("AWS_REGION").or_else(|| set("AWS_DEFAULT_REGION")).ok_or(ConfigError::Missing("AWS_REGION"))?;
    let credentials = Credentials::new(
        set("AWS_ACCESS_KEY_ID").ok_or(ConfigError::Missing("AWS_ACCESS_KEY_ID"))?,
        set("AWS_SECRET_ACCESS_KEY").ok_or(ConfigError::Missing("AWS_SECRET_ACCESS_KEY"))?,
        set("AWS_SESSION_TOKEN"),
        None,
        "environment",
    );
    Ok(SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region))
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .service_config(EndpointUrls::from_env(env))
        .http_client(http_client())
        .timeout_config(bounds.timeout_config())
        .retry_config(bounds.retry_config())
        .build())
}

/// The endpoint overrides in the environment, as the SDK clients ask for them when they
/// are built from an [`SdkConfig`]: by the service's id (`DynamoDB` reads
/// `AWS_ENDPOINT_URL_DYNAMODB`), then `AWS_ENDPOINT_URL` for every service.
#[derive(Debug, Default)]
struct EndpointUrls(Vec<(String, String)>);

impl EndpointUrls {
    const PREFIX: &'static str = "AWS_ENDPOINT_URL";

    fn from_env(env: &HashMap<String, String>) -> Self {
        let overrides = env.iter().filter(|(name, value)| name.starts_with(Self::PREFIX) && !value.is_empty());
        Self(overrides.map(|(name, value)| (name.clone(), value.clone())).collect())
    }

    fn get(&self, name: &str) -> Option<String> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, value)| value.clone())
    }
}

impl LoadServiceConfig for EndpointUrls {
    fn load_config(&self, key: ServiceConfigKey<'_>) -> Option<String> {
        let service = key.service_id().to_ascii_uppercase().replace(' ', "_");
        self.get(&format!("{}_{service}", key.env())).or_else(|| self.get(key.env()))
    }
}

impl App {
    /// Everything a REST or `$connect` function needs, once per cold start. Reads the
    /// JWT secret from Secrets Manager when `JWT_SECRET_ARN` is how it is configured.
    pub async fn from_env(config: &SdkConfig) -> Result<Self, ConfigError> {
        let jwt = JwtSettings::from_env()?.resolve_secret(config).await?;
        Ok(Self {
            store: Self::store_from(config).await?,
            auth: JwtVerifier::new(&jwt)?,
            settings: Settings::from_env()?,
        })
    }

    /// The store alone, for the functions that check no tokens. Opens its connections
    /// ([`Store::open_connections`]) unless `CONNECT_AT_INIT` is `false`; a failure there
    /// is only logged, as the first call connects on its own.
    pub async fn store_from(config: &SdkConfig) -> Result<Store, ConfigError> {
        let table = std::env::var("TABLE_NAME").map_err(|_| ConfigError::Missing("TABLE_NAME"))?;
        let connect_at_init = match std::env::var("CONNECT_AT_INIT") {
            Err(_) => true,
            Ok(value) => value.parse().map_err(|_| ConfigError::Invalid { name: "CONNECT_AT_INIT", value })?,
        };
        let store = Store::new(aws_sdk_dynamodb::Client::new(config), table);
        if connect_at_init {
            if let Err(error) = store.open_connections().await {
                tracing::warn!(%error, "could not open the DynamoDB connections during init");
            }
        }
        Ok(store)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Write};

    fn env_of(env: &[(&str, &str)]) -> HashMap<String, String> {
        env.iter().map(|(name, value)| (name.to_string(), value.to_string())).collect()
    }

    fn config_from(env: &[(&str, &str)]) -> Result<SdkConfig, ConfigError> {
        sdk_config_from(&env_of(env), CallBounds::default())
    }

    const LAMBDA: [(&str, &str); 3] =
        [("AWS_REGION", "eu-west-1"), ("AWS_ACCESS_KEY_ID", "AKIDLAMBDA"), ("AWS_SECRET_ACCESS_KEY", "secret")];

    #[test]
    fn the_region_and_both_keys_are_required_and_empty_is_unset() {
        for missing in ["AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] {
            let without: Vec<_> = LAMBDA.iter().copied().filter(|(name, _)| *name != missing).collect();
            assert!(matches!(config_from(&without), Err(ConfigError::Missing(name)) if name == missing));
            let empty: Vec<_> =
                LAMBDA.iter().map(|&(name, value)| (name, if name == missing { "" } else { value })).collect();
            assert!(matches!(config_from(&empty), Err(ConfigError::Missing(name)) if name == missing));
        }
        let default_region = [("AWS_DEFAULT_REGION", "ap-south-1"), LAMBDA[1], LAMBDA[2]];
        assert_eq!(config_from(&default_region).unwrap().region().map(|r| r.as_ref()), Some("ap-south-1"));
    }

    #[test]
    fn a_service_endpoint_wins_over_the_global_one() {
        let urls = EndpointUrls::from_env(&env_of(&[
            ("AWS_ENDPOINT_URL", "http://all"),
            ("AWS_ENDPOINT_URL_DYNAMODB", "http://ddb"),
            ("HOME", "/root"),
        ]));
        let key = |service| {
            ServiceConfigKey::builder().service_id(service).env("AWS_ENDPOINT_URL").profile("endpoint_url").build()
        };
        assert_eq!(urls.load_config(key("DynamoDB").unwrap()).as_deref(), Some("http://ddb"));
        assert_eq!(urls.load_config(key("ApiGatewayManagementApi").unwrap()).as_deref(), Some("http://all"));
        assert_eq!(EndpointUrls::default().load_config(key("DynamoDB").unwrap()), None);
    }

    /// What reaches the wire: a DynamoDB client built from the configuration calls the
    /// endpoint from the environment, signed for its region with the session's keys.
    #[tokio::test]
    async fn a_client_built_from_it_signs_with_the_environment_and_calls_its_endpoint() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let head: Vec<String> = BufReader::new(stream.try_clone().unwrap())
                .lines()
                .map_while(Result::ok)
                .take_while(|line| !line.is_empty())
                .collect();
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: 2\r\n\r\n{}",
            );
            head
        });
        let mut env = LAMBDA.to_vec();
        env.extend([("AWS_SESSION_TOKEN", "session-token"), ("AWS_ENDPOINT_URL_DYNAMODB", &endpoint)]);
        let config = config_from(&env).unwrap();
        let client = aws_sdk_dynamodb::Client::new(&config);
        client
            .get_item()
            .table_name("t")
            .key("pk", aws_sdk_dynamodb::types::AttributeValue::S("k".into()))
            .send()
            .await
            .unwrap();

        let head = server.join().unwrap();
        let header = |name: &str| {
            head.iter().find_map(|line| line.strip_prefix(name)).map(|value| value.trim_start_matches(':').trim())
        };
        assert_eq!(head[0], "POST / HTTP/1.1");
        let authorization = header("authorization").unwrap();
        assert!(
            authorization.contains("Credential=AKIDLAMBDA/")
                && authorization.contains("/eu-west-1/dynamodb/aws4_request")
        );
        assert_eq!(header("x-amz-security-token"), Some("session-token"));
    }
}
