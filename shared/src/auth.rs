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
    #[error("set JWT_SECRET or JWT_SECRET_ARN (HS256), or JWT_PUBLIC_KEY (RS256)")]
    NoKey,
    #[error("JWT_LEEWAY_SECONDS must be a whole number of seconds, not {0:?}")]
    BadLeeway(String),
    #[error("the secret JWT_SECRET_ARN names cannot be read: {0}")]
    Secret(String),
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
    /// Where to read the HS256 secret when `secret` is not given: a Secrets Manager
    /// secret's ARN, read once per cold start.
    pub secret_arn: Option<String>,
    pub public_key_pem: Option<String>,
    pub issuer: Option<String>,
    pub audience: Option<String>,
    /// Clock skew allowed on `exp` and `nbf`; 0 unless `JWT_LEEWAY_SECONDS` says.
    pub leeway_seconds: u64,
}

impl JwtSettings {
    pub fn from_env() -> Result<Self, AuthConfigError> {
        let var = |name| std::env::var(name).ok().filter(|value: &String| !value.is_empty());
        let leeway_seconds = match var("JWT_LEEWAY_SECONDS") {
            None => 0,
            Some(text) => text.parse().map_err(|_| AuthConfigError::BadLeeway(text))?,
        };
        Ok(Self {
            secret: var("JWT_SECRET"),
            secret_arn: var("JWT_SECRET_ARN"),
            public_key_pem: var("JWT_PUBLIC_KEY"),
            issuer: var("JWT_ISSUER"),
            audience: var("JWT_AUDIENCE"),
            leeway_seconds,
        })
    }

    /// Reads the secret from Secrets Manager when only its ARN is configured: one
    /// `GetSecretValue` at cold start, bounded like every AWS call.
    pub async fn resolve_secret(mut self, config: &aws_types::SdkConfig) -> Result<Self, AuthConfigError> {
        if self.secret.is_some() || self.public_key_pem.is_some() {
            return Ok(self);
        }
        let Some(arn) = &self.secret_arn else {
            return Ok(self);
        };
        let client = aws_sdk_secretsmanager::Client::new(config);
        let output =
            client.get_secret_value().secret_id(arn).send().await.map_err(|e| {
                AuthConfigError::Secret(aws_sdk_secretsmanager::error::DisplayErrorContext(&e).to_string())
            })?;
        let secret = output.secret_string().filter(|text| !text.is_empty());
        self.secret = Some(secret.ok_or_else(|| AuthConfigError::Secret("it has no SecretString".into()))?.to_owned());
        Ok(self)
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
        crate::jwt_crypto::install();
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
        // jsonwebtoken allows 60 s by default, on `exp` too: a token would outlive its
        // expiry by a minute.
        validation.leeway = settings.leeway_seconds;
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
