//! What a function builds once at cold start and hands to every invocation.

use std::time::Duration;

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

    pub fn timeout_config(&self) -> aws_config::timeout::TimeoutConfig {
        aws_config::timeout::TimeoutConfig::builder()
            .connect_timeout(self.connect)
            .operation_attempt_timeout(self.attempt)
            .operation_timeout(self.call)
            .build()
    }

    /// The SDK's standard retries (throttling and transient errors, jittered backoff),
    /// bounded by `max_attempts`.
    pub fn retry_config(&self) -> aws_config::retry::RetryConfig {
        aws_config::retry::RetryConfig::standard()
            .with_max_attempts(self.max_attempts)
            .with_max_backoff(Duration::from_millis(500))
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

/// The SDK configuration from the environment, with [`CallBounds`] on every call.
/// `AWS_ENDPOINT_URL_DYNAMODB` (read by the SDK itself) points the client at DynamoDB
/// Local; no second code path.
pub async fn aws_config() -> Result<aws_config::SdkConfig, ConfigError> {
    let bounds = CallBounds::from_env()?;
    Ok(aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(http_client())
        .timeout_config(bounds.timeout_config())
        .retry_config(bounds.retry_config())
        .load()
        .await)
}

impl App {
    /// Everything a REST or `$connect` function needs, once per cold start. Reads the
    /// JWT secret from Secrets Manager when `JWT_SECRET_ARN` is how it is configured.
    pub async fn from_env(config: &aws_config::SdkConfig) -> Result<Self, ConfigError> {
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
    pub async fn store_from(config: &aws_config::SdkConfig) -> Result<Store, ConfigError> {
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
