//! Development only, never deployed, and no production crate may depend on it:
//! [`local`] stand-ins for AWS, the local [`stack`], [`fixture`]s, the [`load`] run's
//! world and checks, and the test [`kit`] of the integration tests (`tests/`). The
//! `dev` command (`src/main.rs`) runs them.

pub mod fixture;
pub mod import;
pub mod kit;
pub mod load;
pub mod local;
pub mod stack;

/// The documented local default secret; never used in AWS, where the template's
/// parameter is.
pub const DEFAULT_LOCAL_SECRET: &str = "local-development-secret";

/// Mints an HS256 token for `user`, valid `ttl_seconds`: the local stack's `token`
/// command and the tests use it. Never part of a function: they only verify.
pub fn mint_hs256(secret: &str, user: &str, ttl_seconds: u64) -> Result<String, jsonwebtoken::errors::Error> {
    edge::install_jwt_crypto();
    let exp = jsonwebtoken::get_current_timestamp() + ttl_seconds;
    let claims = serde_json::json!({ "sub": user, "exp": exp });
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
}
