//! Key proofs of type `jwt` (OpenID4VCI 1.0 Appendix F.1, checked as F.4
//! requires): `typ: openid4vci-proof+jwt`, an allowed `alg` matching the
//! key, exactly one of `jwk` / `kid` (a did:key URL) / `x5c`, no private key
//! material, `aud` = the Credential Issuer Identifier, a fresh `iat`, and a
//! `nonce`. Pure: the caller consumes the nonce.

use serde_json::Value;

use super::metadata::PROOF_TYP;
use crate::crypto::did_key::{self, DidKeyError};
use crate::crypto::jwk::JwkError;
use crate::crypto::jws::{Jws, JwsError};
use crate::crypto::{KeyError, PublicKey};

/// What a proof must satisfy.
#[derive(Debug, Clone, Copy)]
pub struct ProofExpectations<'a> {
    /// The Credential Issuer Identifier.
    pub audience: &'a str,
    /// The client id the access token was issued to, if any: a proof's
    /// `iss`, when present, must be it (Appendix F.1).
    pub client_id: Option<&'a str>,
    pub now: i64,
    /// Oldest accepted `iat`, seconds before `now` (the c_nonce lifetime).
    pub max_age: i64,
    /// Clock skew tolerated for an `iat` in the future.
    pub future_skew: i64,
    /// Accepted `alg` values (see `metadata::proof_algs`).
    pub algs: &'a [&'a str],
}

/// A proof that passed every check except the nonce's freshness.
#[derive(Debug, Clone)]
pub struct VerifiedProof {
    pub key: PublicKey,
    pub nonce: String,
}

/// The rule a key proof broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("the key proof is not a compact JWS: {0}")]
    Malformed(JwsError),
    #[error("the key proof's `typ` must be `openid4vci-proof+jwt`")]
    WrongTyp,
    #[error(
        "the key proof's `alg` is not one the issuer accepts (issuer metadata: proof_signing_alg_values_supported)"
    )]
    AlgNotAllowed,
    #[error("the key proof names no key: one of `jwk`, `kid` or `x5c` is required")]
    NoKey,
    #[error("the key proof names its key more than once: `jwk`, `kid` and `x5c` are exclusive")]
    SeveralKeys,
    #[error("`x5c` key proofs are not supported; send `jwk` or a did:key `kid`")]
    X5cUnsupported,
    #[error("the key proof's `jwk` carries private key material")]
    PrivateKeyMaterial,
    #[error("the key proof's `jwk` is unusable: {0}")]
    BadJwk(JwkError),
    #[error("the key proof's `jwk` is not a usable signing key")]
    UnusableKey,
    #[error("the key proof's `kid` is not a resolvable did:key URL: {0}")]
    BadKid(DidKeyError),
    #[error("the key proof's signature does not verify: {0}")]
    Signature(JwsError),
    #[error("the key proof's `aud` must be the Credential Issuer Identifier")]
    WrongAudience,
    #[error("the key proof has no numeric `iat`")]
    MissingIat,
    #[error("the key proof's `iat` is too old")]
    Stale,
    #[error("the key proof's `iat` is in the future")]
    FromTheFuture,
    #[error("the key proof's `iss` is not the client the access token was issued to")]
    IssMismatch,
    #[error("the key proof has no `nonce`: get one from the nonce endpoint")]
    MissingNonce,
}

/// Checks one key proof.
pub fn verify(jwt: &str, exp: &ProofExpectations<'_>) -> Result<VerifiedProof, ProofError> {
    let jws = Jws::decode(jwt).map_err(ProofError::Malformed)?;
    if jws.typ() != Some(PROOF_TYP) {
        return Err(ProofError::WrongTyp);
    }
    if !jws.alg().is_some_and(|a| exp.algs.contains(&a)) {
        return Err(ProofError::AlgNotAllowed);
    }
    let key = proof_key(&jws)?;
    jws.verify(&key).map_err(ProofError::Signature)?;
    let claims = jws.payload_json().map_err(ProofError::Malformed)?;
    if !audience_matches(claims.get("aud"), exp.audience) {
        return Err(ProofError::WrongAudience);
    }
    let iat = claims
        .get("iat")
        .and_then(Value::as_i64)
        .ok_or(ProofError::MissingIat)?;
    if iat < exp.now - exp.max_age {
        return Err(ProofError::Stale);
    }
    if iat > exp.now + exp.future_skew {
        return Err(ProofError::FromTheFuture);
    }
    if let (Some(iss), Some(client)) = (claims.get("iss"), exp.client_id) {
        if iss.as_str() != Some(client) {
            return Err(ProofError::IssMismatch);
        }
    }
    let nonce = claims
        .get("nonce")
        .and_then(Value::as_str)
        .ok_or(ProofError::MissingNonce)?;
    Ok(VerifiedProof {
        key,
        nonce: nonce.to_owned(),
    })
}

fn audience_matches(aud: Option<&Value>, audience: &str) -> bool {
    match aud {
        Some(Value::String(s)) => s == audience,
        Some(Value::Array(a)) => a.len() == 1 && a[0].as_str() == Some(audience),
        _ => false,
    }
}

/// The key the proof names: exactly one of `jwk`, `kid`, `x5c`.
fn proof_key(jws: &Jws<'_>) -> Result<PublicKey, ProofError> {
    let h = &jws.header;
    let named = ["jwk", "kid", "x5c"]
        .iter()
        .filter(|m| h.contains_key(**m))
        .count();
    match named {
        0 => return Err(ProofError::NoKey),
        1 => {}
        _ => return Err(ProofError::SeveralKeys),
    }
    if let Some(jwk) = h.get("jwk") {
        return PublicKey::from_jwk(jwk).map_err(|e| match e {
            KeyError::Jwk(JwkError::PrivateMember(_)) => ProofError::PrivateKeyMaterial,
            KeyError::Jwk(e) => ProofError::BadJwk(e),
            _ => ProofError::UnusableKey,
        });
    }
    if let Some(kid) = h.get("kid") {
        let kid = kid
            .as_str()
            .ok_or(ProofError::BadKid(DidKeyError::NotDidKey))?;
        return did_key::resolve(kid).map_err(ProofError::BadKid);
    }
    Err(ProofError::X5cUnsupported)
}

#[cfg(test)]
mod tests {
    use serde_json::{Map, json};

    use super::*;
    use crate::crypto::{Algorithm, SigningKey, jws};

    const AUD: &str = "https://id.example.ru";
    const NOW: i64 = 1_800_000_000;

    fn exp() -> ProofExpectations<'static> {
        ProofExpectations {
            algs: crate::issuer::metadata::PROOF_ALGS,
            audience: AUD,
            client_id: None,
            now: NOW,
            max_age: 300,
            future_skew: 60,
        }
    }

    fn proof(key: &SigningKey, header: Value, claims: Value) -> String {
        let h: Map<String, Value> = header.as_object().unwrap().clone();
        jws::sign(key, &h, claims.to_string().as_bytes()).unwrap()
    }

    fn good_header(key: &SigningKey) -> Value {
        json!({"typ": PROOF_TYP, "jwk": Value::Object(key.public().jwk().clone())})
    }

    fn good_claims() -> Value {
        json!({"aud": AUD, "iat": NOW, "nonce": "n-1"})
    }

    #[test]
    fn a_good_proof_with_jwk_or_did_key() {
        let k = SigningKey::generate(Algorithm::Es256).unwrap();
        let v = verify(&proof(&k, good_header(&k), good_claims()), &exp()).unwrap();
        assert_eq!(v.key.thumbprint(), k.public().thumbprint());
        assert_eq!(v.nonce, "n-1");
        let e = SigningKey::generate(Algorithm::EdDsa).unwrap();
        let kid = did_key::verification_method(e.public());
        let v = verify(
            &proof(&e, json!({"typ": PROOF_TYP, "kid": kid}), good_claims()),
            &exp(),
        )
        .unwrap();
        assert_eq!(v.key.thumbprint(), e.public().thumbprint());
    }

    #[test]
    fn each_rule() {
        let k = SigningKey::generate(Algorithm::Es256).unwrap();
        let other = SigningKey::generate(Algorithm::Es256).unwrap();
        let jwk = Value::Object(k.public().jwk().clone());
        let check = |header: Value, claims: Value, want: fn(&ProofError) -> bool| {
            let err = verify(&proof(&k, header, claims), &exp()).unwrap_err();
            assert!(want(&err), "{err:?}");
        };
        check(json!({"typ": "JWT", "jwk": jwk}), good_claims(), |e| {
            *e == ProofError::WrongTyp
        });
        check(json!({"typ": PROOF_TYP}), good_claims(), |e| {
            *e == ProofError::NoKey
        });
        check(
            json!({"typ": PROOF_TYP, "jwk": jwk, "kid": "did:key:z6Mk"}),
            good_claims(),
            |e| *e == ProofError::SeveralKeys,
        );
        check(
            json!({"typ": PROOF_TYP, "x5c": ["MIIB"]}),
            good_claims(),
            |e| *e == ProofError::X5cUnsupported,
        );
        check(
            json!({"typ": PROOF_TYP, "jwk": k.to_private_jwk()}),
            good_claims(),
            |e| *e == ProofError::PrivateKeyMaterial,
        );
        check(
            json!({"typ": PROOF_TYP, "jwk": Value::Object(other.public().jwk().clone())}),
            good_claims(),
            |e| matches!(e, ProofError::Signature(_)),
        );
        check(
            good_header(&k),
            json!({"aud": "https://evil", "iat": NOW, "nonce": "n"}),
            |e| *e == ProofError::WrongAudience,
        );
        check(good_header(&k), json!({"aud": AUD, "nonce": "n"}), |e| {
            *e == ProofError::MissingIat
        });
        check(
            good_header(&k),
            json!({"aud": AUD, "iat": NOW - 301, "nonce": "n"}),
            |e| *e == ProofError::Stale,
        );
        check(
            good_header(&k),
            json!({"aud": AUD, "iat": NOW + 61, "nonce": "n"}),
            |e| *e == ProofError::FromTheFuture,
        );
        check(good_header(&k), json!({"aud": AUD, "iat": NOW}), |e| {
            *e == ProofError::MissingNonce
        });
        check(
            json!({"typ": PROOF_TYP, "kid": "did:key:zNotBase58!"}),
            good_claims(),
            |e| matches!(e, ProofError::BadKid(_)),
        );
    }

    #[test]
    fn alg_must_be_allowed_and_match_the_key() {
        let k = SigningKey::generate(Algorithm::Es256).unwrap();
        let jwt = proof(&k, good_header(&k), good_claims());
        // Re-label the header as HS256 / none: refused before any crypto.
        for alg in ["HS256", "none", "RS256"] {
            let mut h: Map<String, Value> = good_header(&k).as_object().unwrap().clone();
            h.insert("alg".into(), alg.into());
            let forged = format!(
                "{}.{}",
                crate::crypto::b64url(Value::Object(h).to_string()),
                jwt.split_once('.').unwrap().1
            );
            assert_eq!(
                verify(&forged, &exp()).unwrap_err(),
                ProofError::AlgNotAllowed
            );
        }
    }

    #[test]
    fn iss_must_be_the_client_when_there_is_one() {
        let k = SigningKey::generate(Algorithm::Es256).unwrap();
        let claims = json!({"aud": AUD, "iat": NOW, "nonce": "n", "iss": "wallet-b"});
        let jwt = proof(&k, good_header(&k), claims);
        let e = ProofExpectations {
            algs: crate::issuer::metadata::PROOF_ALGS,
            client_id: Some("wallet-a"),
            ..exp()
        };
        assert_eq!(verify(&jwt, &e).unwrap_err(), ProofError::IssMismatch);
        assert!(verify(&jwt, &exp()).is_ok());
    }
}
