//! Runs on a schedule: expires every request still pending `REQUEST_EXPIRY_DAYS` after
//! it was made, through the same close as a withdrawal, and carries out each outbox.

use std::time::Duration;

use app::delivery::deliver_or_defer;
use app::ports::StoreError;
use app::{metrics, AppError};
use aws::bus::Publisher;
use aws::store::Store;
use domain::time::timestamp_seconds_ago;
use edge::config::Function;
use futures::stream::{self, StreamExt};
use lambda_runtime::{service_fn, LambdaEvent};
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

/// Expires what is due: every page of every expiry shard, so nothing due waits behind
/// anything else; a request that fails is counted and left for the next run, never
/// blocking the others.
pub async fn handle(
    store: &Store,
    publisher: &Publisher,
    expiry: Duration,
    request_id: &str,
) -> Result<ExpiryReport, StoreError> {
    async {
        let before = timestamp_seconds_ago(i64::try_from(expiry.as_secs()).unwrap_or(i64::MAX));
        let mut report = ExpiryReport::default();
        for shard in Store::EXPIRY_SHARDS {
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
        metrics::count(metrics::REQUESTS_EXPIRED, report.expired);
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

async fn expire_one(store: &Store, publisher: &Publisher, id: domain::ObjectId) -> Outcome {
    match app::requests::expire(store, id).await {
        Ok(committed) => {
            deliver_or_defer(store, publisher, &committed.outbox).await;
            Outcome::Expired
        }
        Err(AppError::RequestNotPending | AppError::RequestNotFound) => Outcome::Skipped,
        Err(error) => {
            tracing::warn!(request = %id, %error, "could not expire a request; the next run tries again");
            Outcome::Failed
        }
    }
}

/// The function as Lambda runs it, from init on: its `main`, and the bench's one
/// binary for every function (`bench/all`), call this.
pub async fn run() -> Result<(), lambda_runtime::Error> {
    let (config, sdk) = edge::run::init(Function::ExpireRequests)?;
    let store = edge::run::store(&config, &sdk).await?;
    let publisher = edge::run::publisher(&config, &sdk)?;
    // `None`: expiry is off (REQUEST_EXPIRY_DAYS=0) and each run does nothing.
    let expiry = config.request_expiry;
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
