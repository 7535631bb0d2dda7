//! The Lambda edge: one [`config`]uration read from one snapshot of the environment,
//! [`auth`]entication, the REST [`routes`], [`bodies`] and [`views`], browsers'
//! [`cors`], the one mapping from errors to
//! the contract's status and code ([`error`]), [`http`] for API Gateway REST events,
//! [`telemetry`], and the runners every function's `main` calls ([`run`]).

pub mod auth;
pub mod bodies;
pub mod config;
pub mod cors;
pub mod error;
pub mod http;
mod jwt_crypto;
pub mod routes;
pub mod run;
pub mod telemetry;
pub mod views;

pub use error::ApiError;
pub use jwt_crypto::install as install_jwt_crypto;
pub use run::App;
