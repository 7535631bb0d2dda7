//! The calls of the contract, one module per call or family of calls. Each says how
//! many storage round trips it makes (a round trip is one wait: reads sent together
//! count once) and why that is the least it can be.

mod close;
mod create;
mod decide;
mod events;
mod read;

pub use close::{expire, withdraw};
pub use create::{create, create_with_id, Ask};
pub use decide::{decide, decide_many, Verdict, MAX_DECISIONS};
pub use events::{events, KEEP_EVENTS_SECONDS};

pub(crate) use read::check_admin;
pub use read::{get, list, queue, Queue, QueuedRequest, RequestPage};

use domain::{ObjectId, Outbox};
use serde::Serialize;

use crate::error::AppError;
use crate::ports::{AnswerToKeep, Idempotency};

/// How long an answer is kept under its idempotency key.
pub const KEEP_ANSWERS_SECONDS: i64 = 24 * 3600;

/// The answer a change with a key keeps: its value, as the change's answer shows it.
fn answer_to_keep<'a, T: Serialize>(
    caller: ObjectId,
    idempotency: Option<&'a Idempotency>,
    value: &T,
) -> Result<Option<AnswerToKeep<'a>>, AppError> {
    let Some(idempotency) = idempotency else { return Ok(None) };
    let value = serde_json::to_value(value).map_err(|e| AppError::Internal(Box::new(e)))?;
    Ok(Some(AnswerToKeep { caller, idempotency, value }))
}

/// A committed change and what its outbox still has to do (already stored with it).
#[derive(Debug)]
pub struct Committed<T> {
    pub value: T,
    pub outbox: Outbox,
}
