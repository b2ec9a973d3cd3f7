//! Compact JWS (RFC 7515) signing and verification.
//!
//! Verification is driven by the key: the header `alg` must name the key's
//! algorithm, so `none`, HMAC and algorithm confusion are rejected before any
//! signature check (RFC 8725 §3.1).

use serde_json::{Map, Value};

use super::keys::{Algorithm, PublicKey, SigningKey};
use super::{b64url, b64url_decode};

/// Why a compact JWS was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwsError {
    #[error("a compact JWS has exactly three dot-separated parts")]
    NotCompact,
    #[error("the JWS {0} is not base64url")]
    Base64(JwsPart),
    #[error("the JWS header is not a JSON object")]
    HeaderNotObject,
    #[error("the JWS payload is not a JSON object")]
    PayloadNotObject,
    #[error("the JWS header has no `alg`")]
    MissingAlg,
    #[error("`alg: none` is never accepted")]
    AlgNone,
    #[error("symmetric (HMAC) algorithms are never accepted")]
    AlgSymmetric,
    #[error("the header `alg` {header} does not match the key's algorithm {key}")]
    AlgMismatch { header: String, key: Algorithm },
    #[error("the header has a `crit` member naming extensions we do not understand")]
    UnknownCritical,
    #[error("the signature is invalid")]
    BadSignature,
    #[error("signing failed")]
    SigningFailed,
}

/// Which part of a JWS was malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwsPart {
    Header,
    Payload,
    Signature,
}

impl std::fmt::Display for JwsPart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            JwsPart::Header => "header",
            JwsPart::Payload => "payload",
            JwsPart::Signature => "signature",
        })
    }
}

/// A decoded, not yet verified, compact JWS.
#[derive(Debug, Clone)]
pub struct Jws<'a> {
    pub header: Map<String, Value>,
    pub payload: Vec<u8>,
    signing_input: &'a str,
    signature: Vec<u8>,
}

impl<'a> Jws<'a> {
    /// Splits and decodes a compact JWS without verifying it.
    pub fn decode(token: &'a str) -> Result<Self, JwsError> {
        let mut parts = token.splitn(4, '.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JwsError::NotCompact);
        };
        let header_bytes = b64url_decode(h).map_err(|_| JwsError::Base64(JwsPart::Header))?;
        let header = match serde_json::from_slice::<Value>(&header_bytes) {
            Ok(Value::Object(m)) => m,
            _ => return Err(JwsError::HeaderNotObject),
        };
        let payload = b64url_decode(p).map_err(|_| JwsError::Base64(JwsPart::Payload))?;
        let signature = b64url_decode(s).map_err(|_| JwsError::Base64(JwsPart::Signature))?;
        Ok(Jws {
            header,
            payload,
            signing_input: &token[..h.len() + 1 + p.len()],
            signature,
        })
    }

    pub fn alg(&self) -> Option<&str> {
        self.header.get("alg").and_then(Value::as_str)
    }

    pub fn typ(&self) -> Option<&str> {
        self.header.get("typ").and_then(Value::as_str)
    }

    pub fn kid(&self) -> Option<&str> {
        self.header.get("kid").and_then(Value::as_str)
    }

    /// The payload parsed as a JSON object.
    pub fn payload_json(&self) -> Result<Map<String, Value>, JwsError> {
        match serde_json::from_slice::<Value>(&self.payload) {
            Ok(Value::Object(m)) => Ok(m),
            _ => Err(JwsError::PayloadNotObject),
        }
    }

    /// The bytes that were signed: `base64url(header) . base64url(payload)`.
    pub fn signing_input(&self) -> &'a str {
        self.signing_input
    }

    /// Checks the header `alg` against `key` and then the signature.
    pub fn verify(&self, key: &PublicKey) -> Result<(), JwsError> {
        check_alg(self.alg(), key.alg())?;
        if self.header.contains_key("crit") {
            return Err(JwsError::UnknownCritical);
        }
        key.verify(self.signing_input.as_bytes(), &self.signature)
            .map_err(|_| JwsError::BadSignature)
    }
}

/// Accepts a header `alg` only when it names exactly `expected`: for an
/// Ed25519 key the fully-specified `Ed25519` (RFC 9864) or the older `EdDSA`.
pub fn check_alg(header_alg: Option<&str>, expected: Algorithm) -> Result<(), JwsError> {
    match header_alg {
        None => Err(JwsError::MissingAlg),
        Some(a) if a.eq_ignore_ascii_case("none") => Err(JwsError::AlgNone),
        Some(a) if a.starts_with("HS") => Err(JwsError::AlgSymmetric),
        Some(a) if Algorithm::from_name(a) == Some(expected) => Ok(()),
        Some(a) => Err(JwsError::AlgMismatch {
            header: a.chars().take(16).collect(),
            key: expected,
        }),
    }
}

/// Signs `payload` as a compact JWS. `alg` is set from the key; the other
/// header members come from `header`.
pub fn sign(
    key: &SigningKey,
    header: &Map<String, Value>,
    payload: &[u8],
) -> Result<String, JwsError> {
    let mut h = Map::with_capacity(header.len() + 1);
    h.insert("alg".into(), Value::String(key.alg().as_str().into()));
    for (k, v) in header {
        if k != "alg" {
            h.insert(k.clone(), v.clone());
        }
    }
    let header_json = serde_json::to_vec(&h).map_err(|_| JwsError::SigningFailed)?;
    sign_encoded(key, &b64url(header_json), &b64url(payload))
}

/// Signs already encoded header and payload parts.
pub fn sign_encoded(
    key: &SigningKey,
    header_b64: &str,
    payload_b64: &str,
) -> Result<String, JwsError> {
    let mut out = String::with_capacity(header_b64.len() + payload_b64.len() + 90);
    out.push_str(header_b64);
    out.push('.');
    out.push_str(payload_b64);
    let sig = key
        .sign(out.as_bytes())
        .map_err(|_| JwsError::SigningFailed)?;
    out.push('.');
    out.push_str(&b64url(sig));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn header(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn sign_then_verify_both_algorithms() {
        for alg in [Algorithm::Es256, Algorithm::EdDsa] {
            let key = SigningKey::generate(alg).unwrap();
            let token = sign(
                &key,
                &header(json!({"typ": "JWT", "alg": "HS256"})),
                br#"{"a":1}"#,
            )
            .unwrap();
            let jws = Jws::decode(&token).unwrap();
            assert_eq!(
                jws.alg(),
                Some(alg.as_str()),
                "alg comes from the key, not the caller"
            );
            jws.verify(key.public()).unwrap();
            assert_eq!(jws.payload_json().unwrap()["a"], 1);
        }
    }

    fn resign_header(token: &str, new_header: Value) -> String {
        let rest = token.split_once('.').unwrap().1;
        format!(
            "{}.{rest}",
            b64url(serde_json::to_vec(&new_header).unwrap())
        )
    }

    #[test]
    fn header_alg_must_match_the_key() {
        let key = SigningKey::generate(Algorithm::Es256).unwrap();
        let token = sign(&key, &Map::new(), b"{}").unwrap();
        let cases = [
            (json!({"alg": "none"}), JwsError::AlgNone),
            (json!({"alg": "HS256"}), JwsError::AlgSymmetric),
            (
                json!({"alg": "EdDSA"}),
                JwsError::AlgMismatch {
                    header: "EdDSA".into(),
                    key: Algorithm::Es256,
                },
            ),
            (json!({"typ": "JWT"}), JwsError::MissingAlg),
        ];
        for (h, expected) in cases {
            let t = resign_header(&token, h);
            assert_eq!(Jws::decode(&t).unwrap().verify(key.public()), Err(expected));
        }
        // RFC 9864: an Ed25519 key verifies under `Ed25519` and `EdDSA`,
        // an ES256 key under neither.
        let ed = SigningKey::generate(Algorithm::EdDsa).unwrap();
        let payload = b64url(b"{}");
        for alg in ["Ed25519", "EdDSA"] {
            let h = b64url(serde_json::to_vec(&json!({"alg": alg})).unwrap());
            let t = sign_encoded(&ed, &h, &payload).unwrap();
            assert_eq!(
                Jws::decode(&t).unwrap().verify(ed.public()),
                Ok(()),
                "{alg}"
            );
        }
        let t = resign_header(&token, json!({"alg": "Ed25519"}));
        assert_eq!(
            Jws::decode(&t).unwrap().verify(key.public()),
            Err(JwsError::AlgMismatch {
                header: "Ed25519".into(),
                key: Algorithm::Es256,
            })
        );
        // Same alg, different key.
        let other = SigningKey::generate(Algorithm::Es256).unwrap();
        assert_eq!(
            Jws::decode(&token).unwrap().verify(other.public()),
            Err(JwsError::BadSignature)
        );
    }

    #[test]
    fn malformed_tokens() {
        assert_eq!(Jws::decode("a.b").err(), Some(JwsError::NotCompact));
        assert_eq!(Jws::decode("a.b.c.d").err(), Some(JwsError::NotCompact));
        assert_eq!(
            Jws::decode("!!.e30.AA").err(),
            Some(JwsError::Base64(JwsPart::Header))
        );
        assert_eq!(
            Jws::decode("W10.e30.AA").err(),
            Some(JwsError::HeaderNotObject)
        );
        assert_eq!(
            Jws::decode("e30.e30=.AA").err(),
            Some(JwsError::Base64(JwsPart::Payload))
        );
    }
}
