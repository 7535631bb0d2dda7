//! Pushing one event to every open connection of its recipient through the API Gateway
//! Management API.

use aws_sdk_apigatewaymanagement::primitives::Blob;
use futures::stream::{self, StreamExt};

use crate::domain::OutboundEvent;
use crate::retry::backoff;
use crate::store::{Connection, Store, StoreError};

/// Posts in flight at once for one recipient: enough for a user's few devices, bounded
/// so a user with many stale connections cannot exhaust the function's sockets.
pub const MAX_CONCURRENT_POSTS: usize = 16;
/// Tries per connection for failures other than `410 Gone`.
pub const POST_ATTEMPTS: u32 = 3;

#[derive(Clone)]
pub struct Pusher {
    client: aws_sdk_apigatewaymanagement::Client,
}

#[derive(Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct PushReport {
    pub delivered: usize,
    pub gone: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Some connections could not be reached: the invocation fails so that the event
    /// is retried (and lands in the dead-letter queue when retries run out).
    #[error("{failed} of {total} connections could not be reached; last error: {last_error}")]
    Undelivered { failed: usize, total: usize, last_error: String },
}

enum Outcome {
    Delivered,
    Gone,
    Failed(String),
}

impl Pusher {
    pub fn new(client: aws_sdk_apigatewaymanagement::Client) -> Self {
        Self { client }
    }

    /// `WEBSOCKET_ENDPOINT` is the management endpoint,
    /// `https://{api-id}.execute-api.{region}.amazonaws.com/{stage}` in AWS.
    pub fn from_env(config: &aws_config::SdkConfig) -> Result<Self, crate::app::ConfigError> {
        let endpoint =
            std::env::var("WEBSOCKET_ENDPOINT").map_err(|_| crate::app::ConfigError::Missing("WEBSOCKET_ENDPOINT"))?;
        let conf = aws_sdk_apigatewaymanagement::config::Builder::from(config).endpoint_url(endpoint).build();
        Ok(Self::new(aws_sdk_apigatewaymanagement::Client::from_conf(conf)))
    }

    /// Round trips: 1 `Query` for the connections, then one `PostToConnection` per
    /// connection (concurrently), and one `DeleteItem` per connection found gone.
    pub async fn push(&self, store: &Store, event: &OutboundEvent) -> Result<PushReport, PushError> {
        let connections = store.connections_of(event.to).await?;
        let message = event.message().to_string().into_bytes();
        // Built eagerly so the stream holds plain futures, which keeps the whole push
        // `Send` for spawning (a lazy closure here trips a higher-ranked lifetime bound).
        let posts: Vec<_> = connections.iter().map(|connection| self.post(store, connection, &message)).collect();
        let outcomes: Vec<Outcome> = stream::iter(posts).buffer_unordered(MAX_CONCURRENT_POSTS).collect().await;

        let mut report = PushReport::default();
        let mut failures = Vec::new();
        for outcome in outcomes {
            match outcome {
                Outcome::Delivered => report.delivered += 1,
                Outcome::Gone => report.gone += 1,
                Outcome::Failed(error) => failures.push(error),
            }
        }
        match failures.pop() {
            None => Ok(report),
            Some(last_error) => {
                Err(PushError::Undelivered { failed: failures.len() + 1, total: connections.len(), last_error })
            }
        }
    }

    async fn post(&self, store: &Store, connection: &Connection, message: &[u8]) -> Outcome {
        let id = &connection.connection_id;
        let mut last_error = String::new();
        for attempt in 0..POST_ATTEMPTS {
            let result =
                self.client.post_to_connection().connection_id(id).data(Blob::new(message.to_vec())).send().await;
            match result {
                Ok(_) => return Outcome::Delivered,
                Err(error) if error.as_service_error().is_some_and(|e| e.is_gone_exception()) => {
                    tracing::info!(connection = %id, "connection gone; forgetting it");
                    if let Err(error) = store.delete_connection(id).await {
                        // The TTL removes it in at most 2 hours anyway.
                        tracing::warn!(%error, connection = %id, "could not forget a gone connection");
                    }
                    return Outcome::Gone;
                }
                Err(error) => {
                    last_error = aws_sdk_apigatewaymanagement::error::DisplayErrorContext(&error).to_string();
                    tracing::warn!(connection = %id, attempt, error = %last_error, "post failed");
                    if attempt + 1 < POST_ATTEMPTS {
                        tokio::time::sleep(backoff(attempt + 2)).await;
                    }
                }
            }
        }
        Outcome::Failed(last_error)
    }
}
