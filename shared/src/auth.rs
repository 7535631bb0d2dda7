//! Bearer-token authentication, shared by the REST functions and the WebSocket `$connect`.

use jsonwebtoken::{decode, Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use crate::domain::ObjectId;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("no Authorization header")]
    MissingHeader,
    #[error("the Authorization header is not `Bearer <token>`")]
    BadScheme,
    #[error("token rejected: {0}")]
    Token(#[from] jsonwebtoken::errors::Error),
    #[error("the token carries no valid user id in sub, _id or id")]
    NoUserId,
}

#[derive(Debug, thiserror::Error)]
pub enum AuthConfigError {
    #[error("set JWT_SECRET (HS256) or JWT_PUBLIC_KEY (RS256)")]
    NoKey,
    #[error("JWT_PUBLIC_KEY is not an RSA public key in PEM: {0}")]
    BadPublicKey(jsonwebtoken::errors::Error),
}

/// Verifies tokens with one pinned algorithm: a token signed any other way (including
/// `none`, or HS256 signed with the RSA public key) is refused.
pub struct JwtVerifier {
    key: DecodingKey,
    validation: Validation,
}

#[derive(Default)]
pub struct JwtSettings {
    pub secret: Option<String>,
    pub public_key_pem: Option<String>,
    pub issuer: Option<String>,
    pub audience: Option<String>,
}

impl JwtSettings {
    pub fn from_env() -> Self {
        let var = |name| std::env::var(name).ok().filter(|value: &String| !value.is_empty());
        Self {
            secret: var("JWT_SECRET"),
            public_key_pem: var("JWT_PUBLIC_KEY"),
            issuer: var("JWT_ISSUER"),
            audience: var("JWT_AUDIENCE"),
        }
    }
}

/// The claims this service reads; everything else in the token is ignored.
#[derive(Deserialize)]
struct IdClaims {
    sub: Option<serde_json::Value>,
    #[serde(rename = "_id")]
    underscore_id: Option<serde_json::Value>,
    id: Option<serde_json::Value>,
}

impl JwtVerifier {
    pub fn new(settings: &JwtSettings) -> Result<Self, AuthConfigError> {
        let (key, algorithm) = match (&settings.public_key_pem, &settings.secret) {
            (Some(pem), _) => {
                (DecodingKey::from_rsa_pem(pem.as_bytes()).map_err(AuthConfigError::BadPublicKey)?, Algorithm::RS256)
            }
            (None, Some(secret)) => (DecodingKey::from_secret(secret.as_bytes()), Algorithm::HS256),
            (None, None) => return Err(AuthConfigError::NoKey),
        };
        let mut validation = Validation::new(algorithm);
        validation.set_required_spec_claims(&["exp"]);
        validation.validate_exp = true;
        validation.validate_nbf = true;
        if let Some(issuer) = &settings.issuer {
            validation.set_issuer(&[issuer]);
            validation.required_spec_claims.insert("iss".into());
        }
        match &settings.audience {
            Some(audience) => {
                validation.set_audience(&[audience]);
                validation.required_spec_claims.insert("aud".into());
            }
            None => validation.validate_aud = false,
        }
        Ok(Self { key, validation })
    }

    pub fn from_env() -> Result<Self, AuthConfigError> {
        Self::new(&JwtSettings::from_env())
    }

    /// The caller's id from an `Authorization` header value.
    pub fn authenticate_header(&self, header: Option<&str>) -> Result<ObjectId, AuthError> {
        let header = header.ok_or(AuthError::MissingHeader)?;
        let (scheme, token) = header.trim().split_once(' ').ok_or(AuthError::BadScheme)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(AuthError::BadScheme);
        }
        self.authenticate_token(token.trim())
    }

    pub fn authenticate_token(&self, token: &str) -> Result<ObjectId, AuthError> {
        let claims = decode::<IdClaims>(token, &self.key, &self.validation)?.claims;
        // The first claim present decides: a malformed `sub` is not rescued by `id`.
        let id =
            [claims.sub, claims.underscore_id, claims.id].into_iter().flatten().next().ok_or(AuthError::NoUserId)?;
        id.as_str().and_then(|text| ObjectId::parse(text).ok()).ok_or(AuthError::NoUserId)
    }
}
