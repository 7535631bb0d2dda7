//! Pushing one event to every open connection of its recipient through the API Gateway
//! Management API.

use aws_sdk_apigatewaymanagement::primitives::Blob;
use futures::stream::{self, StreamExt};

use app::backoff;
use app::ports::StoreError;
use domain::Delivery;

use crate::store::{Connection, Store};

/// Posts in flight at once for one recipient: enough for a user's few devices, bounded
/// so a user with many stale connections cannot exhaust the function's sockets.
pub const MAX_CONCURRENT_POSTS: usize = 16;
/// Tries per connection for the failures worth trying again (`429`, `5xx`, timeouts).
pub const POST_ATTEMPTS: u32 = 3;
/// API Gateway may answer `410` for a connection whose handshake is still finishing;
/// a connection younger than this is kept on a `410` rather than forgotten.
pub const GONE_GRACE_SECONDS: i64 = 10;

#[derive(Clone)]
pub struct Pusher {
    client: aws_sdk_apigatewaymanagement::Client,
}

#[derive(Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct PushReport {
    pub delivered: usize,
    /// Answered `410` and forgotten.
    pub gone: usize,
    /// Answered `410` within [`GONE_GRACE_SECONDS`] of connecting, and kept.
    pub kept: usize,
    /// Refused for a reason of the connection's own (another `4xx`): not retried, and
    /// not a failure of the invocation.
    pub refused: usize,
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
    Kept,
    Refused,
    Failed(String),
}

/// What a failed post means, by API Gateway's answer.
enum PostFailure {
    Gone,
    /// `429`, `5xx`, a timeout, no connection: try again.
    Transient,
    /// Another `4xx`: this connection's own problem.
    Refused,
}

fn classify<E>(error: &aws_sdk_apigatewaymanagement::error::SdkError<E>) -> PostFailure {
    use aws_sdk_apigatewaymanagement::error::SdkError;
    match error {
        SdkError::ServiceError(service) => match service.raw().status().as_u16() {
            410 => PostFailure::Gone,
            429 => PostFailure::Transient,
            status if (400..500).contains(&status) => PostFailure::Refused,
            _ => PostFailure::Transient,
        },
        _ => PostFailure::Transient,
    }
}

fn is_young(connection: &Connection) -> bool {
    chrono::DateTime::parse_from_rfc3339(&connection.connected_at)
        .is_ok_and(|at| (chrono::Utc::now() - at.to_utc()).num_seconds() < GONE_GRACE_SECONDS)
}

impl Pusher {
    pub fn new(client: aws_sdk_apigatewaymanagement::Client) -> Self {
        Self { client }
    }

    /// A pusher to the management endpoint `endpoint`,
    /// `https://{api-id}.execute-api.{region}.amazonaws.com/{stage}` in AWS.
    pub fn from_config(config: &aws_types::SdkConfig, endpoint: &str) -> Self {
        let conf = aws_sdk_apigatewaymanagement::config::Builder::from(config).endpoint_url(endpoint).build();
        Self::new(aws_sdk_apigatewaymanagement::Client::from_conf(conf))
    }

    /// Round trips: 1 `Query` for the connections, then per connection (concurrently)
    /// one `PostToConnection` per event, one after the other so they arrive in order,
    /// and one `DeleteItem` per connection found gone.
    pub async fn push(&self, store: &Store, delivery: &Delivery) -> Result<PushReport, PushError> {
        let connections = store.connections_of(delivery.first.to).await?;
        let messages: Vec<Vec<u8>> = delivery.events().map(|event| event.message().to_string().into_bytes()).collect();
        // Built eagerly so the stream holds plain futures, which keeps the whole push
        // `Send` for spawning (a lazy closure here trips a higher-ranked lifetime bound).
        let posts: Vec<_> = connections.iter().map(|connection| self.post_all(store, connection, &messages)).collect();
        let outcomes: Vec<Outcome> = stream::iter(posts).buffer_unordered(MAX_CONCURRENT_POSTS).collect().await;

        let mut report = PushReport::default();
        let mut failures = Vec::new();
        for outcome in outcomes {
            match outcome {
                Outcome::Delivered => report.delivered += 1,
                Outcome::Gone => report.gone += 1,
                Outcome::Kept => report.kept += 1,
                Outcome::Refused => report.refused += 1,
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

    /// Each message in turn; the first that is not delivered ends it for this connection.
    async fn post_all(&self, store: &Store, connection: &Connection, messages: &[Vec<u8>]) -> Outcome {
        for message in messages {
            match self.post(store, connection, message).await {
                Outcome::Delivered => {}
                other => return other,
            }
        }
        Outcome::Delivered
    }

    async fn post(&self, store: &Store, connection: &Connection, message: &[u8]) -> Outcome {
        let id = &connection.connection_id;
        let mut last_error = String::new();
        for attempt in 0..POST_ATTEMPTS {
            let result =
                self.client.post_to_connection().connection_id(id).data(Blob::new(message.to_vec())).send().await;
            let error = match result {
                Ok(_) => return Outcome::Delivered,
                Err(error) => error,
            };
            last_error = aws_sdk_apigatewaymanagement::error::DisplayErrorContext(&error).to_string();
            match classify(&error) {
                PostFailure::Gone if is_young(connection) => {
                    tracing::info!(connection = %id, "410 for a connection still connecting; keeping it");
                    return Outcome::Kept;
                }
                PostFailure::Gone => {
                    tracing::info!(connection = %id, "connection gone; forgetting it");
                    if let Err(error) = store.delete_connection(id).await {
                        // The TTL removes it in at most 2 hours anyway.
                        tracing::warn!(%error, connection = %id, "could not forget a gone connection");
                    }
                    return Outcome::Gone;
                }
                PostFailure::Refused => {
                    tracing::warn!(connection = %id, error = %last_error, "post refused for this connection");
                    return Outcome::Refused;
                }
                PostFailure::Transient => {
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
