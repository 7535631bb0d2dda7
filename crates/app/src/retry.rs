//! The one retry policy of the service, and the one loop every change runs in.
//!
//! Backoff is exponential with full jitter, so that contending writers and retrying
//! clients spread out instead of colliding again in lock step. Every retry loop is
//! bounded by its own attempt count; [`backoff`] only says how long to wait.

use std::future::Future;
use std::time::Duration;

use crate::error::AppError;
use crate::ports::{Guard, StoreError, TxError};

/// The wait before attempt `attempt + 1`: uniform in `1..=10 × 2^attempt` ms, the
/// ceiling capped at 640 ms.
pub fn backoff(attempt: u32) -> Duration {
    let ceiling_ms = 10u64 << attempt.min(6);
    let mut random = [0u8; 8];
    let jitter = match getrandom::fill(&mut random) {
        Ok(()) => u64::from_le_bytes(random) % ceiling_ms,
        Err(_) => ceiling_ms / 2,
    };
    Duration::from_millis(jitter + 1)
}

/// How often a change re-reads and re-plans after losing a race that does not decide
/// its outcome.
pub const MAX_ATTEMPTS: u32 = 6;

/// What one attempt of a change came to.
pub(crate) enum Attempt<T> {
    /// Committed (or decided without a commit).
    Done(T),
    /// The commit failed; [`commit_with_retries`] decides whether to read again.
    Lost(TxError),
}

/// Read, plan, commit; on a lost race, wait and do it all again, at most
/// [`MAX_ATTEMPTS`] times. The one place that says which failures are races
/// ([`Guard::is_race`] and [`TxError::Conflict`]) and which are answers:
/// [`Guard::RequestPending`] is `REQUEST_NOT_PENDING`, any other guard a bug.
pub(crate) async fn commit_with_retries<T, F, Fut>(what: &'static str, mut attempt_once: F) -> Result<T, AppError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Attempt<T>, AppError>>,
{
    for attempt in 0..MAX_ATTEMPTS {
        let lost = match attempt_once().await? {
            Attempt::Done(value) => return Ok(value),
            Attempt::Lost(lost) => lost,
        };
        match lost {
            TxError::Failed(Guard::RequestPending) => return Err(AppError::RequestNotPending),
            TxError::Failed(Guard::KeptAnswer) => return Err(AppError::AnswerKept),
            TxError::Failed(guard) if !guard.is_race() => return Err(StoreError::UnexpectedCondition(guard).into()),
            TxError::Failed(_) | TxError::Conflict => {
                tracing::info!(attempt, "{what} lost a race; reading again");
                tokio::time::sleep(backoff(attempt)).await;
            }
            TxError::Store(error) => return Err(error.into()),
        }
    }
    Err(StoreError::Contended(MAX_ATTEMPTS).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_stays_under_its_ceiling() {
        for attempt in 0..20 {
            let wait = backoff(attempt).as_millis() as u64;
            assert!((1..=640).contains(&wait), "{attempt}: {wait}");
        }
    }

    #[tokio::test]
    async fn a_race_is_tried_again_and_a_decided_outcome_is_not() {
        let mut calls = 0;
        let result = commit_with_retries("test", || {
            calls += 1;
            let outcome = if calls < 3 { Attempt::Lost(TxError::Conflict) } else { Attempt::Done(calls) };
            async move { Ok(outcome) }
        })
        .await;
        assert_eq!(result.ok(), Some(3));

        let pending = commit_with_retries::<(), _, _>("test", || async {
            Ok(Attempt::Lost(TxError::Failed(Guard::RequestPending)))
        });
        assert!(matches!(pending.await, Err(AppError::RequestNotPending)));
        let bug =
            commit_with_retries::<(), _, _>("test", || async { Ok(Attempt::Lost(TxError::Failed(Guard::FreshItem))) });
        assert!(matches!(bug.await, Err(AppError::Internal(_))));
    }

    #[tokio::test]
    async fn a_change_that_keeps_losing_ends_unavailable_after_max_attempts() {
        let mut calls = 0;
        let result = commit_with_retries::<(), _, _>("test", || {
            calls += 1;
            async { Ok(Attempt::Lost(TxError::Failed(Guard::RequesterEntry))) }
        })
        .await;
        assert!(matches!(result, Err(AppError::Unavailable(_))));
        assert_eq!(calls, MAX_ATTEMPTS);
    }
}
