//! The local stack: the service's own handlers behind local stand-ins for API Gateway
//! (REST and WebSocket), the Management API and EventBridge. See the README.

pub mod fixture;
pub mod load;
pub mod stack;
pub mod table;

/// The documented local default secret; never used in AWS, where the template's
/// parameter is.
pub const DEFAULT_LOCAL_SECRET: &str = "local-development-secret";

/// Mints an HS256 token for `user`, valid `ttl_seconds`: the local stack's `token`
/// command and the tests use it. Never part of a function: they only verify.
pub fn mint_hs256(secret: &str, user: &str, ttl_seconds: u64) -> Result<String, jsonwebtoken::errors::Error> {
    shared::jwt_crypto::install();
    let exp = jsonwebtoken::get_current_timestamp() + ttl_seconds;
    let claims = serde_json::json!({ "sub": user, "exp": exp });
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
}
