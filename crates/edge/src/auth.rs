//! Bearer-token authentication, shared by the REST functions and the WebSocket `$connect`.

use jsonwebtoken::{decode, Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use domain::ObjectId;

use crate::config::ConfigError;

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

/// Verifies tokens with one pinned algorithm: a token signed any other way (including
/// `none`, or HS256 signed with the RSA public key) is refused.
pub struct JwtVerifier {
    key: DecodingKey,
    validation: Validation,
}

/// How tokens are verified: the configuration's `Auth` section.
#[derive(Default, Clone)]
pub struct JwtSettings {
    pub secret: Option<String>,
    /// Where to read the HS256 secret when `secret` is not given: a Secrets Manager
    /// secret's ARN, read once per cold start.
    pub secret_arn: Option<String>,
    pub public_key_pem: Option<String>,
    pub issuer: Option<String>,
    pub audience: Option<String>,
    /// Clock skew allowed on `exp` and `nbf`.
    pub leeway_seconds: u64,
}

impl std::fmt::Debug for JwtSettings {
    // Which key is configured, never the key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtSettings")
            .field("secret", &self.secret.as_ref().map(|_| "<set>"))
            .field("secret_arn", &self.secret_arn)
            .field("public_key_pem", &self.public_key_pem.as_ref().map(|_| "<set>"))
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("leeway_seconds", &self.leeway_seconds)
            .finish()
    }
}

impl JwtSettings {
    /// Reads the secret from Secrets Manager when only its ARN is configured: one
    /// `GetSecretValue` at cold start, bounded like every AWS call.
    pub async fn resolve_secret(mut self, config: &aws::sdk::SdkConfig) -> Result<Self, ConfigError> {
        if self.secret.is_some() || self.public_key_pem.is_some() {
            return Ok(self);
        }
        let Some(arn) = &self.secret_arn else {
            return Ok(self);
        };
        self.secret = Some(aws::secrets::secret_string(config, arn).await.map_err(ConfigError::Secret)?);
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
    pub fn new(settings: &JwtSettings) -> Result<Self, ConfigError> {
        crate::jwt_crypto::install();
        let (key, algorithm) = match (&settings.public_key_pem, &settings.secret) {
            (Some(pem), _) => {
                let key =
                    DecodingKey::from_rsa_pem(pem.as_bytes()).map_err(|e| ConfigError::BadPublicKey(e.to_string()))?;
                (key, Algorithm::RS256)
            }
            (None, Some(secret)) => (DecodingKey::from_secret(secret.as_bytes()), Algorithm::HS256),
            (None, None) => return Err(ConfigError::NoKey),
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
