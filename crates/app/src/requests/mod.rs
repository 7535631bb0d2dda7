//! The calls of the contract, one module per call or family of calls. Each says how
//! many storage round trips it makes (a round trip is one wait: reads sent together
//! count once) and why that is the least it can be.

mod close;
mod create;
mod decide;
mod events;
mod read;

pub use close::{expire, withdraw};
pub use create::{create, create_with_id};
pub use decide::{decide, decide_many, MAX_DECISIONS};
pub use events::{events, KEEP_EVENTS_SECONDS};
pub use read::{get, list, queue, Queue, QueuedRequest, RequestPage};

use domain::Outbox;

/// A committed change and what its outbox still has to do (already stored with it).
#[derive(Debug)]
pub struct Committed<T> {
    pub value: T,
    pub outbox: Outbox,
}
