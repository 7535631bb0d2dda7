//! jsonwebtoken's cryptography on `ring`, the library the TLS client already links, so
//! the binaries carry one crypto library. Only the families this service can be set up
//! with: HMAC (`JWT_SECRET`) and RSA PKCS#1 v1.5 (`JWT_PUBLIC_KEY`); any other
//! algorithm is `InvalidAlgorithm`. Signing is here for the tools and tests that mint
//! tokens.

use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::{new_error, ErrorKind, Result};
use jsonwebtoken::signature::{Error as SignatureError, Signer, Verifier};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, DecodingKeyKind, EncodingKey};
use ring::{hmac, rand, signature};

static PROVIDER: CryptoProvider = CryptoProvider {
    signer_factory: new_signer,
    verifier_factory: new_verifier,
    key_utils: KeyUtils::new_unimplemented(),
};

/// Makes this module jsonwebtoken's provider for the process; later calls do nothing.
pub fn install() {
    // Err only when a provider is installed already, which is this one.
    let _ = PROVIDER.install_default();
}

fn hmac_algorithm(algorithm: Algorithm) -> Option<hmac::Algorithm> {
    match algorithm {
        Algorithm::HS256 => Some(hmac::HMAC_SHA256),
        Algorithm::HS384 => Some(hmac::HMAC_SHA384),
        Algorithm::HS512 => Some(hmac::HMAC_SHA512),
        _ => None,
    }
}

struct Hmac(Algorithm, hmac::Key);

impl Signer<Vec<u8>> for Hmac {
    fn try_sign(&self, message: &[u8]) -> std::result::Result<Vec<u8>, SignatureError> {
        Ok(hmac::sign(&self.1, message).as_ref().to_vec())
    }
}

impl Verifier<Vec<u8>> for Hmac {
    fn verify(&self, message: &[u8], tag: &Vec<u8>) -> std::result::Result<(), SignatureError> {
        hmac::verify(&self.1, message, tag).map_err(|_| SignatureError::new())
    }
}

impl JwtSigner for Hmac {
    fn algorithm(&self) -> Algorithm {
        self.0
    }
}

impl JwtVerifier for Hmac {
    fn algorithm(&self) -> Algorithm {
        self.0
    }
}

struct RsaSigner(Algorithm, &'static dyn signature::RsaEncoding, signature::RsaKeyPair);

impl Signer<Vec<u8>> for RsaSigner {
    fn try_sign(&self, message: &[u8]) -> std::result::Result<Vec<u8>, SignatureError> {
        let mut signed = vec![0; self.2.public().modulus_len()];
        self.2.sign(self.1, &rand::SystemRandom::new(), message, &mut signed).map_err(|_| SignatureError::new())?;
        Ok(signed)
    }
}

impl JwtSigner for RsaSigner {
    fn algorithm(&self) -> Algorithm {
        self.0
    }
}

enum RsaPublicKey {
    Der(Vec<u8>),
    Components { n: Vec<u8>, e: Vec<u8> },
}

struct RsaVerifier(Algorithm, &'static signature::RsaParameters, RsaPublicKey);

impl Verifier<Vec<u8>> for RsaVerifier {
    fn verify(&self, message: &[u8], signed: &Vec<u8>) -> std::result::Result<(), SignatureError> {
        match &self.2 {
            RsaPublicKey::Der(der) => signature::UnparsedPublicKey::new(self.1, der).verify(message, signed),
            RsaPublicKey::Components { n, e } => {
                signature::RsaPublicKeyComponents { n, e }.verify(self.1, message, signed)
            }
        }
        .map_err(|_| SignatureError::new())
    }
}

impl JwtVerifier for RsaVerifier {
    fn algorithm(&self) -> Algorithm {
        self.0
    }
}

fn rsa_algorithms(
    algorithm: Algorithm,
) -> Option<(&'static dyn signature::RsaEncoding, &'static signature::RsaParameters)> {
    match algorithm {
        Algorithm::RS256 => Some((&signature::RSA_PKCS1_SHA256, &signature::RSA_PKCS1_2048_8192_SHA256)),
        Algorithm::RS384 => Some((&signature::RSA_PKCS1_SHA384, &signature::RSA_PKCS1_2048_8192_SHA384)),
        Algorithm::RS512 => Some((&signature::RSA_PKCS1_SHA512, &signature::RSA_PKCS1_2048_8192_SHA512)),
        _ => None,
    }
}

fn new_signer(algorithm: &Algorithm, key: &EncodingKey) -> Result<Box<dyn JwtSigner>> {
    let algorithm = *algorithm;
    match (key.family(), hmac_algorithm(algorithm), rsa_algorithms(algorithm)) {
        (AlgorithmFamily::Hmac, Some(hmac), _) => Ok(Box::new(Hmac(algorithm, hmac::Key::new(hmac, key.as_bytes())))),
        (AlgorithmFamily::Rsa, _, Some((encoding, _))) => {
            let pair = signature::RsaKeyPair::from_der(key.as_bytes())
                .map_err(|_| new_error(ErrorKind::InvalidRsaKey("not an RSA private key".into())))?;
            Ok(Box::new(RsaSigner(algorithm, encoding, pair)))
        }
        (AlgorithmFamily::Hmac | AlgorithmFamily::Rsa, ..) => Err(new_error(ErrorKind::InvalidKeyFormat)),
        _ => Err(new_error(ErrorKind::InvalidAlgorithm)),
    }
}

fn new_verifier(algorithm: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>> {
    let algorithm = *algorithm;
    match (key.family(), hmac_algorithm(algorithm), rsa_algorithms(algorithm)) {
        (AlgorithmFamily::Hmac, Some(hmac), _) => {
            Ok(Box::new(Hmac(algorithm, hmac::Key::new(hmac, key.try_get_as_bytes()?))))
        }
        (AlgorithmFamily::Rsa, _, Some((_, parameters))) => {
            let public = match key.kind() {
                DecodingKeyKind::SecretOrDer(der) => RsaPublicKey::Der(der.clone()),
                DecodingKeyKind::RsaModulusExponent { n, e } => RsaPublicKey::Components { n: n.clone(), e: e.clone() },
            };
            Ok(Box::new(RsaVerifier(algorithm, parameters, public)))
        }
        (AlgorithmFamily::Hmac | AlgorithmFamily::Rsa, ..) => Err(new_error(ErrorKind::InvalidKeyFormat)),
        _ => Err(new_error(ErrorKind::InvalidAlgorithm)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{decode, encode, Header, Validation};
    use serde_json::{json, Value};

    fn claims() -> Value {
        json!({"sub": "65a000000000000000000001", "exp": jsonwebtoken::get_current_timestamp() + 60})
    }

    #[test]
    fn hmac_tokens_sign_and_verify_and_a_wrong_secret_or_algorithm_fails() {
        install();
        for algorithm in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
            let token = encode(&Header::new(algorithm), &claims(), &EncodingKey::from_secret(b"secret")).unwrap();
            let verified = decode::<Value>(&token, &DecodingKey::from_secret(b"secret"), &Validation::new(algorithm));
            assert_eq!(verified.unwrap().claims["sub"], claims()["sub"], "{algorithm:?}");
            assert!(decode::<Value>(&token, &DecodingKey::from_secret(b"other"), &Validation::new(algorithm)).is_err());
        }
        let token = encode(&Header::new(Algorithm::HS256), &claims(), &EncodingKey::from_secret(b"secret")).unwrap();
        let mut flipped = token.into_bytes();
        let last = flipped.len() - 2;
        flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(flipped).unwrap();
        let validation = Validation::new(Algorithm::HS256);
        assert!(decode::<Value>(&flipped, &DecodingKey::from_secret(b"secret"), &validation).is_err());
    }

    #[test]
    fn other_families_are_refused_not_panicked_on() {
        install();
        let key = DecodingKey::from_secret(b"secret");
        assert!(new_verifier(&Algorithm::ES256, &key).is_err());
        assert!(new_verifier(&Algorithm::EdDSA, &key).is_err());
        assert!(new_signer(&Algorithm::PS256, &EncodingKey::from_secret(b"secret")).is_err());
    }
}
