//! Signing keys (P-256/ES256, Ed25519/EdDSA) and public keys built from JWKs.
//!
//! Keys are built straight from their coordinates with OpenSSL's EC and raw
//! key APIs: going through DER (`d2i_PUBKEY`, as josekit's `verifier_from_jwk`
//! does) costs ~150 µs per key with OpenSSL 3's decoders, more than the two
//! signature checks of a presentation together (BENCHMARKS.md).

use std::fmt;
use std::sync::LazyLock;

use openssl::bn::{BigNum, BigNumContext};
use openssl::ec::{EcGroup, EcKey, EcPoint};
use openssl::ecdsa::EcdsaSig;
use openssl::nid::Nid;
use openssl::pkey::{Id, PKey, Private, Public};
use serde_json::{Map, Value};

use super::jwk::{self, JwkError};
use super::{b64url, b64url_decode, sha256};

static P256: LazyLock<EcGroup> = LazyLock::new(|| {
    // UNWRAP SAFETY: P-256 is compiled into every OpenSSL build we link.
    EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).expect("OpenSSL lacks P-256")
});

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

#[derive(Clone)]
enum VerifyingKey {
    Es256(EcKey<Public>),
    Ed25519(PKey<Public>),
}

/// A public key with the one algorithm it verifies.
#[derive(Clone)]
pub struct PublicKey {
    alg: Algorithm,
    /// Public members only, in the canonical order of RFC 7638.
    jwk: Map<String, Value>,
    /// Computed on first use: a holder key checked once per presentation
    /// never needs it.
    thumbprint: std::sync::OnceLock<String>,
    key: VerifyingKey,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey")
            .field("alg", &self.alg)
            .field("thumbprint", &self.thumbprint())
            .finish()
    }
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.jwk == other.jwk
    }
}

fn coordinate(public: &Map<String, Value>, name: &'static str) -> Result<Vec<u8>, JwkError> {
    public
        .get(name)
        .and_then(Value::as_str)
        .and_then(|s| b64url_decode(s).ok())
        .ok_or(JwkError::BadCoordinate(name))
}

fn p256_public(x: &[u8], y: &[u8]) -> Result<EcKey<Public>, JwkError> {
    let x = BigNum::from_slice(x).map_err(|_| JwkError::BadCoordinate("x"))?;
    let y = BigNum::from_slice(y).map_err(|_| JwkError::BadCoordinate("y"))?;
    let mut ctx = BigNumContext::new().map_err(|_| JwkError::NotOnCurve)?;
    let mut point = EcPoint::new(&P256).map_err(|_| JwkError::NotOnCurve)?;
    // EC_POINT_set_affine_coordinates refuses points off the curve. P-256 has
    // cofactor 1, so that is the whole check; EC_KEY_check_key's extra
    // n·Q = O multiplication would cost ~35 µs per holder key.
    point
        .set_affine_coordinates_gfp(&P256, &x, &y, &mut ctx)
        .map_err(|_| JwkError::NotOnCurve)?;
    EcKey::from_public_key(&P256, &point).map_err(|_| JwkError::NotOnCurve)
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
        let key = match alg {
            Algorithm::Es256 => VerifyingKey::Es256(p256_public(
                &coordinate(&public, "x")?,
                &coordinate(&public, "y")?,
            )?),
            Algorithm::EdDsa => {
                jwk::check_ed25519_point(&public)?;
                let x = coordinate(&public, "x")?;
                VerifyingKey::Ed25519(
                    PKey::public_key_from_raw_bytes(&x, Id::ED25519)
                        .map_err(|_| JwkError::NotOnCurve)?,
                )
            }
        };
        Ok(PublicKey {
            alg,
            jwk: public,
            thumbprint: std::sync::OnceLock::new(),
            key,
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
        m.insert("kid".into(), Value::String(self.thumbprint().to_owned()));
        m.insert("alg".into(), Value::String(self.alg.as_str().into()));
        m.insert("use".into(), Value::String("sig".into()));
        Value::Object(m)
    }

    /// RFC 7638 JWK thumbprint (SHA-256, base64url); also used as `kid`.
    pub fn thumbprint(&self) -> &str {
        // The members were validated when the key was built, so the
        // canonical form always exists.
        self.thumbprint
            .get_or_init(|| jwk::thumbprint(&self.jwk).unwrap_or_default())
    }

    /// Verifies a raw JWS signature (`r || s` for ES256) over `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), KeyError> {
        let ok = match &self.key {
            VerifyingKey::Es256(key) => {
                if signature.len() != 64 {
                    return Err(KeyError::BadSignature);
                }
                let r = BigNum::from_slice(&signature[..32]).map_err(|_| KeyError::BadSignature)?;
                let s = BigNum::from_slice(&signature[32..]).map_err(|_| KeyError::BadSignature)?;
                let sig =
                    EcdsaSig::from_private_components(r, s).map_err(|_| KeyError::BadSignature)?;
                sig.verify(&sha256(message), key).unwrap_or(false)
            }
            VerifyingKey::Ed25519(key) => openssl::sign::Verifier::new_without_digest(key)
                .and_then(|mut v| v.verify_oneshot(signature, message))
                .unwrap_or(false),
        };
        if ok {
            Ok(())
        } else {
            Err(KeyError::BadSignature)
        }
    }
}

enum PrivateKey {
    Es256(EcKey<Private>),
    Ed25519(PKey<Private>),
}

/// A private signing key. Its `Debug` never shows private material.
pub struct SigningKey {
    key: PrivateKey,
    d: String,
    public: PublicKey,
    /// `x5c` (a JSON array of base64 DER certificates, leaf first), when
    /// the key has a certificate chain.
    x5c: Option<Value>,
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
        let fail = |_| KeyError::Rejected(alg);
        let mut jwk = Map::new();
        match alg {
            Algorithm::Es256 => {
                let key = EcKey::generate(&P256).map_err(fail)?;
                let mut ctx = BigNumContext::new().map_err(fail)?;
                let (mut x, mut y) = (BigNum::new().map_err(fail)?, BigNum::new().map_err(fail)?);
                key.public_key()
                    .affine_coordinates(&P256, &mut x, &mut y, &mut ctx)
                    .map_err(fail)?;
                jwk.insert("kty".into(), "EC".into());
                jwk.insert("crv".into(), "P-256".into());
                jwk.insert(
                    "x".into(),
                    b64url(x.to_vec_padded(32).map_err(fail)?).into(),
                );
                jwk.insert(
                    "y".into(),
                    b64url(y.to_vec_padded(32).map_err(fail)?).into(),
                );
                jwk.insert(
                    "d".into(),
                    b64url(key.private_key().to_vec_padded(32).map_err(fail)?).into(),
                );
            }
            Algorithm::EdDsa => {
                let key = PKey::generate_ed25519().map_err(fail)?;
                jwk.insert("kty".into(), "OKP".into());
                jwk.insert("crv".into(), "Ed25519".into());
                jwk.insert(
                    "x".into(),
                    b64url(key.raw_public_key().map_err(fail)?).into(),
                );
                jwk.insert(
                    "d".into(),
                    b64url(key.raw_private_key().map_err(fail)?).into(),
                );
            }
        }
        Self::from_jwk(&Value::Object(jwk))
    }

    /// Loads a private JWK (`kty`, `crv`, `x`, `y` for P-256, `d`).
    pub fn from_jwk(value: &Value) -> Result<Self, KeyError> {
        let obj = value.as_object().ok_or(JwkError::NotAnObject)?;
        let public = jwk::canonical_public(obj)?;
        let alg = jwk::algorithm_of(&public)?;
        let d_text = obj
            .get("d")
            .and_then(Value::as_str)
            .ok_or(JwkError::MissingMember("d"))?;
        let d = b64url_decode(d_text).map_err(|_| JwkError::BadCoordinate("d"))?;
        let public = PublicKey::from_public_members(public)?;
        let reject = |_| KeyError::Rejected(alg);
        let key = match (&public.key, alg) {
            (VerifyingKey::Es256(pk), Algorithm::Es256) => {
                if d.len() != 32 {
                    return Err(JwkError::BadCoordinate("d").into());
                }
                let d = BigNum::from_slice(&d).map_err(reject)?;
                let key =
                    EcKey::from_private_components(&P256, &d, pk.public_key()).map_err(reject)?;
                // EC_KEY_check_key: `d` must generate the published point.
                key.check_key().map_err(reject)?;
                PrivateKey::Es256(key)
            }
            (VerifyingKey::Ed25519(_), Algorithm::EdDsa) => {
                let key = PKey::private_key_from_raw_bytes(&d, Id::ED25519).map_err(reject)?;
                let x = coordinate(public.jwk(), "x")?;
                if key.raw_public_key().map_err(reject)? != x {
                    return Err(KeyError::Rejected(alg));
                }
                PrivateKey::Ed25519(key)
            }
            _ => return Err(KeyError::Rejected(alg)),
        };
        Ok(SigningKey {
            key,
            d: d_text.to_owned(),
            public,
            x5c: None,
        })
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

    /// This key with its certificate chain (DER, leaf first; the leaf
    /// certifies this key, which the caller has checked): the JWS headers
    /// that name the key with [`SigningKey::name_in`] carry it as `x5c`
    /// (RFC 7515 §4.1.6: standard base64, not base64url).
    pub fn with_certificates(mut self, chain: &[Vec<u8>]) -> Self {
        use base64::Engine as _;
        let encoded = chain
            .iter()
            .map(|der| Value::String(base64::engine::general_purpose::STANDARD.encode(der)))
            .collect();
        self.x5c = (!chain.is_empty()).then_some(Value::Array(encoded));
        self
    }

    /// The `x5c` header value, when the key has a certificate chain.
    pub fn x5c(&self) -> Option<&Value> {
        self.x5c.as_ref()
    }

    /// Names this key in a JWS header: `kid` (its thumbprint), and `x5c`
    /// when it has a certificate chain.
    pub fn name_in(&self, header: &mut Map<String, Value>) {
        header.insert("kid".into(), Value::String(self.kid().into()));
        if let Some(x5c) = &self.x5c {
            header.insert("x5c".into(), x5c.clone());
        }
    }

    /// The private JWK, for the key file only.
    pub fn to_private_jwk(&self) -> Value {
        let mut m = self.public.jwk.clone();
        m.insert("d".into(), Value::String(self.d.clone()));
        Value::Object(m)
    }

    /// Raw JWS signature over `message` (`r || s`, 64 bytes, for ES256).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        match &self.key {
            PrivateKey::Es256(key) => {
                let sig =
                    EcdsaSig::sign(&sha256(message), key).map_err(|_| KeyError::SigningFailed)?;
                let mut out = sig
                    .r()
                    .to_vec_padded(32)
                    .map_err(|_| KeyError::SigningFailed)?;
                out.extend(
                    sig.s()
                        .to_vec_padded(32)
                        .map_err(|_| KeyError::SigningFailed)?,
                );
                Ok(out)
            }
            PrivateKey::Ed25519(key) => openssl::sign::Signer::new_without_digest(key)
                .and_then(|mut s| s.sign_oneshot_to_vec(message))
                .map_err(|_| KeyError::SigningFailed),
        }
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
            let mut h = Map::new();
            reloaded.name_in(&mut h);
            assert_eq!(Value::Object(h), serde_json::json!({"kid": key.kid()}));
            let certified = reloaded.with_certificates(&[vec![1, 2, 3], vec![0xfb]]);
            let mut h = Map::new();
            certified.name_in(&mut h);
            assert_eq!(
                Value::Object(h),
                serde_json::json!({"kid": key.kid(), "x5c": ["AQID", "+w=="]})
            );
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
