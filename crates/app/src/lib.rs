//! The use cases of the join-request service, in domain terms, over two small traits:
//! [`ports::Storage`] and [`ports::Bus`]. Nothing here knows HTTP or a DynamoDB key:
//! a call returns its value or an [`AppError`], and the edge says how to answer.

pub mod delivery;
mod error;
pub mod metrics;
pub mod moderation;
pub mod ports;
pub mod requests;
mod retry;
pub mod sync;

#[cfg(test)]
mod memory;
#[cfg(test)]
mod use_case_tests;

pub use error::AppError;
pub use retry::{backoff, MAX_ATTEMPTS};

/// The rules of the calls that the deployment sets (its configuration section).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    /// Points for the `join-group-chat` score action.
    pub join_group_chat_points: i64,
    /// How long a rejected requester waits before asking the same chat again (0: off).
    pub rejection_cooldown_seconds: u64,
    /// Requests one user may make in one clock hour, to any chats (0: no limit).
    pub create_limit_per_hour: u32,
    /// How long after its time a kept event may become visible: a cursor reads that
    /// much again.
    pub events_late_seconds: i64,
}
