//! The code the join-request functions share: the domain ([`domain`]), the calls
//! ([`requests`]), and the adapters at its edges ([`store`] for DynamoDB, [`auth`] for
//! tokens, [`http`] for API Gateway REST events).

pub mod app;
pub mod auth;
pub mod domain;
pub mod error;
pub mod http;
pub mod jwt_crypto;
pub mod metrics;
pub mod publish;
pub mod push;
pub mod requests;
pub mod retry;
pub mod store;
pub mod telemetry;

pub use app::App;
pub use error::ApiError;
