//! The local stack: the service's own handlers behind local stand-ins for API Gateway
//! (REST and WebSocket), the Management API and EventBridge. See the README.

pub mod stack;

/// The documented local default secret; never used in AWS, where the template's
/// parameter is.
pub const DEFAULT_LOCAL_SECRET: &str = "local-development-secret";
