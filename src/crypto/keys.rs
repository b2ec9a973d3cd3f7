//! Signing keys (P-256/ES256, Ed25519/EdDSA) and public keys built from JWKs.

use std::fmt;

use josekit::jwk::alg::ec::{EcCurve, EcKeyPair};
use josekit::jwk::alg::ed::{EdCurve, EdKeyPair};
use josekit::jwk::{Jwk, KeyPair};
use josekit::jws::{ES256, EdDSA, JwsSigner, JwsVerifier};
use serde_json::{Map, Value};

use super::jwk::{self, JwkError};

/// The JWS algorithms this project signs and verifies with. Never `none`,
/// never HMAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// ECDSA with P-256 and SHA-256 (HAIP default).
    Es256,
    /// Ed25519.
    EdDsa,
}

impl Algorithm {
    /// The JWS `alg` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Es256 => "ES256",
            Algorithm::EdDsa => "EdDSA",
        }
    }

    /// Parses a JWS `alg` value; unknown, `none` and HMAC values give `None`.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "ES256" => Some(Algorithm::Es256),
            "EdDSA" | "Ed25519" => Some(Algorithm::EdDsa),
            _ => None,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a key could not be made or used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(transparent)]
    Jwk(#[from] JwkError),
    #[error("the key is not a usable {0} key")]
    Rejected(Algorithm),
    #[error("the signature is invalid")]
    BadSignature,
    #[error("signing failed")]
    SigningFailed,
}

/// A public key with the one algorithm it verifies.
#[derive(Clone)]
pub struct PublicKey {
    alg: Algorithm,
    /// Public members only, in the canonical order of RFC 7638.
    jwk: Map<String, Value>,
    thumbprint: String,
    verifier: Box<dyn JwsVerifier>,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey")
            .field("alg", &self.alg)
            .field("thumbprint", &self.thumbprint)
            .finish()
    }
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.jwk == other.jwk
    }
}

impl PublicKey {
    /// Builds a verifier from a JWK received from outside (`cnf.jwk`, a proof
    /// header, a JWKS). Private members (`d`, …) are refused, not ignored:
    /// such a key was leaked by whoever sent it.
    pub fn from_jwk(value: &Value) -> Result<Self, KeyError> {
        let public = jwk::public_members(value)?;
        Self::from_public_members(public)
    }

    pub(crate) fn from_public_members(public: Map<String, Value>) -> Result<Self, KeyError> {
        let alg = jwk::algorithm_of(&public)?;
        let jose = Jwk::from_map(public.clone()).map_err(|_| KeyError::Rejected(alg))?;
        let verifier: Box<dyn JwsVerifier> = match alg {
            Algorithm::Es256 => Box::new(
                ES256
                    .verifier_from_jwk(&jose)
                    .map_err(|_| KeyError::Rejected(alg))?,
            ),
            Algorithm::EdDsa => {
                jwk::check_ed25519_point(&public)?;
                Box::new(
                    EdDSA
                        .verifier_from_jwk(&jose)
                        .map_err(|_| KeyError::Rejected(alg))?,
                )
            }
        };
        let thumbprint = jwk::thumbprint(&public)?;
        Ok(PublicKey {
            alg,
            jwk: public,
            thumbprint,
            verifier,
        })
    }

    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    /// The public JWK members only (`kty`, `crv`, `x`, `y`).
    pub fn jwk(&self) -> &Map<String, Value> {
        &self.jwk
    }

    /// The public JWK as published in a JWKS: with `kid` (the thumbprint),
    /// `alg` and `use`.
    pub fn jwk_for_publication(&self) -> Value {
        let mut m = self.jwk.clone();
        m.insert("kid".into(), Value::String(self.thumbprint.clone()));
        m.insert("alg".into(), Value::String(self.alg.as_str().into()));
        m.insert("use".into(), Value::String("sig".into()));
        Value::Object(m)
    }

    /// RFC 7638 JWK thumbprint (SHA-256, base64url); also used as `kid`.
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }

    /// Verifies a raw JWS signature (`r || s` for ES256) over `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), KeyError> {
        self.verifier
            .verify(message, signature)
            .map_err(|_| KeyError::BadSignature)
    }
}

/// A private signing key. Its `Debug` never shows private material.
pub struct SigningKey {
    signer: Box<dyn JwsSigner>,
    private_jwk: Map<String, Value>,
    public: PublicKey,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A fresh key from OpenSSL's CSPRNG.
    pub fn generate(alg: Algorithm) -> Result<Self, KeyError> {
        let jose = match alg {
            Algorithm::Es256 => EcKeyPair::generate(EcCurve::P256)
                .map_err(|_| KeyError::Rejected(alg))?
                .to_jwk_key_pair(),
            Algorithm::EdDsa => EdKeyPair::generate(EdCurve::Ed25519)
                .map_err(|_| KeyError::Rejected(alg))?
                .to_jwk_key_pair(),
        };
        Self::from_jwk(&Value::Object(jose.as_ref().clone()))
    }

    /// Loads a private JWK (`kty`, `crv`, `x`, [`y`], `d`).
    pub fn from_jwk(value: &Value) -> Result<Self, KeyError> {
        let obj = value.as_object().ok_or(JwkError::NotAnObject)?;
        let public = jwk::canonical_public(obj)?;
        let alg = jwk::algorithm_of(&public)?;
        let d = obj.get("d").ok_or(JwkError::MissingMember("d"))?.clone();
        let mut private = public.clone();
        private.insert("d".into(), d);
        let jose = Jwk::from_map(private.clone()).map_err(|_| KeyError::Rejected(alg))?;
        let signer: Box<dyn JwsSigner> = match alg {
            Algorithm::Es256 => Box::new(
                ES256
                    .signer_from_jwk(&jose)
                    .map_err(|_| KeyError::Rejected(alg))?,
            ),
            Algorithm::EdDsa => Box::new(
                EdDSA
                    .signer_from_jwk(&jose)
                    .map_err(|_| KeyError::Rejected(alg))?,
            ),
        };
        let public = PublicKey::from_public_members(public)?;
        let key = SigningKey {
            signer,
            private_jwk: private,
            public,
        };
        // A private JWK whose `x`/`y` do not belong to `d` would sign tokens
        // that no one can verify: refuse it now.
        let probe = key.sign(b"digital-id key check")?;
        key.public
            .verify(b"digital-id key check", &probe)
            .map_err(|_| KeyError::Rejected(alg))?;
        Ok(key)
    }

    pub fn alg(&self) -> Algorithm {
        self.public.alg
    }

    pub fn public(&self) -> &PublicKey {
        &self.public
    }

    /// `kid` of this key: its RFC 7638 thumbprint.
    pub fn kid(&self) -> &str {
        self.public.thumbprint()
    }

    /// The private JWK, for the key file only.
    pub fn to_private_jwk(&self) -> Value {
        Value::Object(self.private_jwk.clone())
    }

    /// Raw JWS signature over `message`.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        self.signer
            .sign(message)
            .map_err(|_| KeyError::SigningFailed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_sign_and_verify() {
        for alg in [Algorithm::Es256, Algorithm::EdDsa] {
            let key = SigningKey::generate(alg).unwrap();
            let sig = key.sign(b"hello").unwrap();
            key.public().verify(b"hello", &sig).unwrap();
            assert!(matches!(
                key.public().verify(b"hellO", &sig),
                Err(KeyError::BadSignature)
            ));
            let reloaded = SigningKey::from_jwk(&key.to_private_jwk()).unwrap();
            assert_eq!(reloaded.public(), key.public());
            assert_eq!(reloaded.kid(), key.kid());
        }
    }

    #[test]
    fn public_export_never_contains_private_members() {
        for alg in [Algorithm::Es256, Algorithm::EdDsa] {
            let key = SigningKey::generate(alg).unwrap();
            let published = key.public().jwk_for_publication();
            assert!(published.get("d").is_none());
            assert!(key.public().jwk().get("d").is_none());
            assert!(!format!("{key:?}").contains(key.to_private_jwk()["d"].as_str().unwrap()));
        }
    }

    #[test]
    fn public_key_refuses_private_members() {
        let key = SigningKey::generate(Algorithm::Es256).unwrap();
        assert!(matches!(
            PublicKey::from_jwk(&key.to_private_jwk()),
            Err(KeyError::Jwk(JwkError::PrivateMember("d")))
        ));
    }

    #[test]
    fn mismatched_private_key_is_refused() {
        let a = SigningKey::generate(Algorithm::Es256)
            .unwrap()
            .to_private_jwk();
        let mut b = SigningKey::generate(Algorithm::Es256)
            .unwrap()
            .to_private_jwk();
        b["d"] = a["d"].clone();
        assert!(SigningKey::from_jwk(&b).is_err());
    }

    #[test]
    fn point_not_on_curve_is_refused() {
        let key = SigningKey::generate(Algorithm::Es256).unwrap();
        let mut jwk = Value::Object(key.public().jwk().clone());
        jwk["y"] = Value::String(crate::crypto::b64url([7u8; 32]));
        assert!(PublicKey::from_jwk(&jwk).is_err());
    }
}
