//! Runs on a schedule: expires every request still pending `REQUEST_EXPIRY_DAYS` after
//! it was made, through the same close as a withdrawal, and carries out each outbox.

use std::time::Duration;

use futures::stream::{self, StreamExt};
use lambda_runtime::{service_fn, LambdaEvent};
use shared::domain::time::timestamp_seconds_ago;
use shared::publish::{deliver_or_defer, Publisher};
use shared::store::{keys, Store, StoreError};
use shared::{requests, ApiError};
use tracing::Instrument;

/// Requests expired at once.
const CONCURRENCY: usize = 4;

#[derive(Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ExpiryReport {
    pub expired: usize,
    /// Decided or withdrawn between the read and the close: left alone.
    pub skipped: usize,
    /// Failed this time; still due, so the next run takes them again.
    pub failed: usize,
}

/// Expires what is due: every page of every expiry shard (GSI3 `EXPIRY#00`..`15`), so
/// nothing due waits behind anything else; a request that fails is counted and left
/// for the next run, never blocking the others.
pub async fn handle(
    store: &Store,
    publisher: &Publisher,
    expiry: Duration,
    request_id: &str,
) -> Result<ExpiryReport, StoreError> {
    async {
        let before = timestamp_seconds_ago(i64::try_from(expiry.as_secs()).unwrap_or(i64::MAX));
        let mut report = ExpiryReport::default();
        for shard in 0..keys::COUNT_SHARDS {
            let mut start = None;
            loop {
                let (due, next) = store.due_for_expiry(shard, &before, start).await?;
                let work: Vec<_> = due.iter().map(|id| expire_one(store, publisher, *id)).collect();
                let outcomes: Vec<Outcome> = stream::iter(work).buffer_unordered(CONCURRENCY).collect().await;
                for outcome in outcomes {
                    match outcome {
                        Outcome::Expired => report.expired += 1,
                        Outcome::Skipped => report.skipped += 1,
                        Outcome::Failed => report.failed += 1,
                    }
                }
                start = next;
                if start.is_none() {
                    break;
                }
            }
        }
        if report != ExpiryReport::default() {
            tracing::info!(
                expired = report.expired,
                skipped = report.skipped,
                failed = report.failed,
                "expired requests"
            );
        }
        shared::metrics::count(shared::metrics::REQUESTS_EXPIRED, report.expired);
        Ok(report)
    }
    .instrument(tracing::info_span!("invocation", request_id))
    .await
}

enum Outcome {
    Expired,
    Skipped,
    Failed,
}

async fn expire_one(store: &Store, publisher: &Publisher, id: shared::domain::ObjectId) -> Outcome {
    match requests::expire(store, id).await {
        Ok(committed) => {
            deliver_or_defer(store, publisher, &committed.outbox).await;
            Outcome::Expired
        }
        Err(ApiError::RequestNotPending | ApiError::RequestNotFound) => Outcome::Skipped,
        Err(error) => {
            tracing::warn!(request = %id, %error, "could not expire a request; the next run tries again");
            Outcome::Failed
        }
    }
}

/// The function as Lambda runs it, from init on: its `main`, and the bench's one
/// binary for every function (`bench/all`), call this.
pub async fn run() -> Result<(), lambda_runtime::Error> {
    shared::telemetry::init();
    let config = shared::app::sdk_config()?;
    let store = shared::App::store_from(&config).await?;
    let publisher = shared::publish::Publisher::from_env(&config)?;
    // `None`: expiry is off (REQUEST_EXPIRY_DAYS=0) and each run does nothing.
    let expiry = shared::app::request_expiry_from_env()?;
    let (store, publisher) = (&store, &publisher);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| async move {
        match expiry {
            Some(expiry) => handle(store, publisher, expiry, &event.context.request_id).await.map(|_| ()),
            None => Ok(()),
        }
        .map_err(lambda_runtime::Error::from)
    }))
    .await
}
