//! Runs on a schedule: publishes the outbox items whose immediate publish failed.

use shared::publish::{drain, DrainReport, Publisher};
use shared::store::{Store, StoreError};
use tracing::Instrument;

/// Publishes outbox items older than `min_age_seconds` (`OUTBOX_MIN_AGE_SECONDS`,
/// default [`shared::publish::SWEEP_MIN_AGE_SECONDS`]).
pub async fn handle(
    store: &Store,
    publisher: &Publisher,
    min_age_seconds: i64,
    request_id: &str,
) -> Result<DrainReport, StoreError> {
    async {
        let report = drain(store, publisher, min_age_seconds).await?;
        if report.published + report.failed > 0 {
            tracing::info!(published = report.published, failed = report.failed, "swept the outbox");
        }
        Ok(report)
    }
    .instrument(tracing::info_span!("invocation", request_id))
    .await
}
