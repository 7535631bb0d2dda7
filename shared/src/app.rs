//! What a function builds once at cold start and hands to every invocation.

use crate::auth::{AuthConfigError, JwtVerifier};
use crate::store::Store;

pub const DEFAULT_JOIN_POINTS: i64 = 10;

pub struct Settings {
    /// Points for the `join-group-chat` score action (`JOIN_GROUP_CHAT_POINTS`).
    pub join_group_chat_points: i64,
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
        Ok(Self { join_group_chat_points })
    }
}

/// The SDK configuration from the environment. `AWS_ENDPOINT_URL_DYNAMODB` (read by the
/// SDK itself) points the client at DynamoDB Local; no second code path.
pub async fn aws_config() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

impl App {
    pub fn from_env(config: &aws_config::SdkConfig) -> Result<Self, ConfigError> {
        Ok(Self { store: Self::store_from(config)?, auth: JwtVerifier::from_env()?, settings: Settings::from_env()? })
    }

    /// The store alone, for the functions that check no tokens.
    pub fn store_from(config: &aws_config::SdkConfig) -> Result<Store, ConfigError> {
        let table = std::env::var("TABLE_NAME").map_err(|_| ConfigError::Missing("TABLE_NAME"))?;
        Ok(Store::new(aws_sdk_dynamodb::Client::new(config), table))
    }
}
