//! Runs on a schedule: carries out the outbox items whose immediate delivery failed,
//! sets aside the ones that keep failing, and reports what it saw as metrics.

use app::delivery::{drain, DrainReport, DELIVERY_BUDGET};
use app::metrics::{self, Unit};
use app::ports::StoreError;
use aws::bus::Publisher;
use aws::store::Store;
use edge::config::Function;
use lambda_runtime::{service_fn, LambdaEvent};
use tracing::Instrument;

/// Carries out outbox items older than `min_age_seconds` (`OUTBOX_MIN_AGE_SECONDS`). Round trips: the sweep's, plus
/// one `Query` counting the items set aside (an empty partition when all is well).
pub async fn handle(
    store: &Store,
    publisher: &Publisher,
    min_age_seconds: i64,
    budget: std::time::Duration,
    request_id: &str,
) -> Result<DrainReport, StoreError> {
    async {
        let report = drain(store, publisher, min_age_seconds, budget).await?;
        let set_aside_items = store.outbox_set_aside_count().await?;
        if report.published + report.failed + report.set_aside > 0 {
            tracing::info!(
                published = report.published,
                failed = report.failed,
                set_aside = report.set_aside,
                oldest_age_seconds = report.oldest_age_seconds,
                "swept the outbox"
            );
        }
        metrics::emit(&[
            (metrics::OUTBOX_SWEPT, report.published as f64, Unit::Count),
            (metrics::OUTBOX_SWEEP_FAILED, report.failed as f64, Unit::Count),
            (metrics::OUTBOX_SET_ASIDE, report.set_aside as f64, Unit::Count),
            (metrics::OUTBOX_SET_ASIDE_ITEMS, set_aside_items as f64, Unit::Count),
            (metrics::OLDEST_OUTBOX_AGE, report.oldest_age_seconds as f64, Unit::Seconds),
        ]);
        Ok(report)
    }
    .instrument(tracing::info_span!("invocation", request_id))
    .await
}

/// The function as Lambda runs it, from init on: its `main`, and the bench's one
/// binary for every function (`bench/all`), call this.
pub async fn run() -> Result<(), lambda_runtime::Error> {
    let (config, sdk) = edge::run::init(Function::OutboxSweeper)?;
    let store = edge::run::store(&config, &sdk).await?;
    let publisher = edge::run::publisher(&config, &sdk)?;
    let min_age = config.sweep_min_age_seconds;
    let (store, publisher) = (&store, &publisher);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| async move {
        handle(store, publisher, min_age, DELIVERY_BUDGET, &event.context.request_id)
            .await
            .map_err(lambda_runtime::Error::from)
    }))
    .await
}
