//! ID Token validation (OpenID Connect Core 1.0 §3.1.3.7): pure, fed with
//! the provider's JWKS, what we expect and `now`. The verdict names the
//! rule that failed.

use josekit::jwk::Jwk;
use josekit::jws::{ES256, ES384, EdDSA, JwsVerifier, PS256, RS256};
use serde_json::{Map, Value};

use crate::crypto::jws::Jws;

/// Clock skew tolerated on `exp` and `iat` (seconds).
pub const SKEW: i64 = 60;
/// An ID token older than this (by `iat`) is refused (seconds).
pub const MAX_AGE: i64 = 600;

/// Signature algorithms accepted from the provider. Never `none`, never
/// HMAC (the client secret is not a signing key here).
pub const ALGORITHMS: [&str; 5] = ["RS256", "PS256", "ES256", "ES384", "EdDSA"];

/// What the ID token must say.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub nonce: &'a str,
    pub now: i64,
}

/// The rule an ID token broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdTokenError {
    #[error("the ID token is not a compact JWS")]
    Malformed,
    #[error("the ID token's `alg` is missing or not one of RS256, PS256, ES256, ES384, EdDSA")]
    Algorithm,
    #[error("the ID token is signed by a key the provider does not publish")]
    UnknownKey,
    #[error("the ID token's signature does not verify")]
    BadSignature,
    #[error("the ID token's `iss` is not the configured provider")]
    IssuerMismatch,
    #[error("the ID token's `aud` does not name this client")]
    AudienceMismatch,
    #[error("the ID token has several audiences and `azp` is not this client")]
    AuthorizedPartyMismatch,
    #[error("the ID token has expired")]
    Expired,
    #[error("the ID token's `iat` is missing, in the future or too old")]
    IssuedAt,
    #[error("the ID token's `nonce` is not the one of this sign-in")]
    NonceMismatch,
    #[error("the ID token has no `sub`")]
    MissingSubject,
}

/// The claims of a valid ID token.
#[derive(Debug, Clone, PartialEq)]
pub struct IdToken {
    pub sub: String,
    pub claims: Map<String, Value>,
}

/// Verifies `token` against the provider's JWKS (`{"keys": [...]}`).
/// [`IdTokenError::UnknownKey`] tells the caller to fetch the JWKS again
/// (once) and retry.
pub fn verify(token: &str, jwks: &Value, want: &Expected<'_>) -> Result<IdToken, IdTokenError> {
    let jws = Jws::decode(token).map_err(|_| IdTokenError::Malformed)?;
    let alg = jws
        .alg()
        .filter(|a| ALGORITHMS.contains(a))
        .ok_or(IdTokenError::Algorithm)?;
    if jws.header.contains_key("crit") {
        return Err(IdTokenError::Malformed);
    }
    let jwk = find_key(jwks, jws.kid(), alg).ok_or(IdTokenError::UnknownKey)?;
    let verifier = verifier(alg, &jwk).ok_or(IdTokenError::UnknownKey)?;
    verifier
        .verify(jws.signing_input().as_bytes(), signature(token)?.as_slice())
        .map_err(|_| IdTokenError::BadSignature)?;
    let claims = jws.payload_json().map_err(|_| IdTokenError::Malformed)?;
    check_claims(claims, want)
}

fn signature(token: &str) -> Result<Vec<u8>, IdTokenError> {
    let sig = token.rsplit('.').next().unwrap_or_default();
    crate::crypto::b64url_decode(sig).map_err(|_| IdTokenError::Malformed)
}

/// The signing key: by `kid`, or without one the only key that fits `alg`.
/// A key whose `alg` or `use` says otherwise is not a candidate.
fn find_key(jwks: &Value, kid: Option<&str>, alg: &str) -> Option<Jwk> {
    let keys = jwks.get("keys")?.as_array()?;
    let fits = |k: &&Value| {
        k.get("alg")
            .and_then(Value::as_str)
            .is_none_or(|a| a == alg)
            && k.get("use")
                .and_then(Value::as_str)
                .is_none_or(|u| u == "sig")
            && kty_of(alg) == k.get("kty").and_then(Value::as_str)
    };
    let mut candidates = keys.iter().filter(fits).filter(|k| match kid {
        Some(kid) => k.get("kid").and_then(Value::as_str) == Some(kid),
        None => true,
    });
    let key = candidates.next()?;
    // Without a `kid`, two fitting keys are ambiguous.
    if kid.is_none() && candidates.next().is_some() {
        return None;
    }
    Jwk::from_map(key.as_object()?.clone()).ok()
}

fn kty_of(alg: &str) -> Option<&'static str> {
    match alg {
        "RS256" | "PS256" => Some("RSA"),
        "ES256" | "ES384" => Some("EC"),
        "EdDSA" => Some("OKP"),
        _ => None,
    }
}

fn verifier(alg: &str, jwk: &Jwk) -> Option<Box<dyn JwsVerifier>> {
    let v: Box<dyn JwsVerifier> = match alg {
        "RS256" => Box::new(RS256.verifier_from_jwk(jwk).ok()?),
        "PS256" => Box::new(PS256.verifier_from_jwk(jwk).ok()?),
        "ES256" => Box::new(ES256.verifier_from_jwk(jwk).ok()?),
        "ES384" => Box::new(ES384.verifier_from_jwk(jwk).ok()?),
        "EdDSA" => Box::new(EdDSA.verifier_from_jwk(jwk).ok()?),
        _ => return None,
    };
    Some(v)
}

/// OpenID Connect Core 1.0 §3.1.3.7 steps 2–5, 9, 10 and 11.
fn check_claims(claims: Map<String, Value>, want: &Expected<'_>) -> Result<IdToken, IdTokenError> {
    let str_claim = |name: &str| claims.get(name).and_then(Value::as_str);
    if str_claim("iss") != Some(want.issuer) {
        return Err(IdTokenError::IssuerMismatch);
    }
    let audiences: Vec<&str> = match claims.get("aud") {
        Some(Value::String(a)) => vec![a.as_str()],
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !audiences.contains(&want.client_id) {
        return Err(IdTokenError::AudienceMismatch);
    }
    let azp = str_claim("azp");
    if (audiences.len() > 1 || azp.is_some()) && azp != Some(want.client_id) {
        return Err(IdTokenError::AuthorizedPartyMismatch);
    }
    let exp = claims.get("exp").and_then(Value::as_i64);
    if exp.is_none_or(|exp| exp + SKEW <= want.now) {
        return Err(IdTokenError::Expired);
    }
    let iat = claims.get("iat").and_then(Value::as_i64);
    if iat.is_none_or(|iat| iat > want.now + SKEW || iat + MAX_AGE < want.now) {
        return Err(IdTokenError::IssuedAt);
    }
    // Constant time: the nonce is a secret of this sign-in.
    let nonce_ok = str_claim("nonce").is_some_and(|n| {
        n.len() == want.nonce.len() && openssl::memcmp::eq(n.as_bytes(), want.nonce.as_bytes())
    });
    if !nonce_ok {
        return Err(IdTokenError::NonceMismatch);
    }
    let sub = str_claim("sub")
        .filter(|s| !s.is_empty())
        .ok_or(IdTokenError::MissingSubject)?
        .to_owned();
    Ok(IdToken { sub, claims })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use josekit::jwk::alg::ec::{EcCurve, EcKeyPair};
    use serde_json::json;

    pub(crate) struct TestKey {
        pair: EcKeyPair,
        pub kid: String,
    }

    impl TestKey {
        pub(crate) fn new(kid: &str) -> Self {
            TestKey {
                pair: EcKeyPair::generate(EcCurve::P256).unwrap(),
                kid: kid.to_owned(),
            }
        }
        pub(crate) fn jwks(&self) -> Value {
            let mut jwk = self.pair.to_jwk_public_key();
            jwk.set_key_id(&self.kid);
            jwk.set_algorithm("ES256");
            json!({"keys": [serde_json::to_value(jwk.as_ref()).unwrap()]})
        }
        pub(crate) fn sign(&self, claims: &Value) -> String {
            let mut header = josekit::jws::JwsHeader::new();
            header.set_key_id(&self.kid);
            let signer = ES256
                .signer_from_jwk(&self.pair.to_jwk_private_key())
                .unwrap();
            josekit::jws::serialize_compact(claims.to_string().as_bytes(), &header, &signer)
                .unwrap()
        }
    }

    const NOW: i64 = 1_800_000_000;
    const WANT: Expected<'static> = Expected {
        issuer: "https://idp.example",
        client_id: "digital-id",
        nonce: "n-0S6_WzA2Mj",
        now: NOW,
    };

    fn claims() -> Value {
        json!({"iss": "https://idp.example", "aud": "digital-id", "sub": "u1",
               "exp": NOW + 300, "iat": NOW, "nonce": "n-0S6_WzA2Mj", "amr": ["face"]})
    }

    fn with(key: &str, value: Value) -> Value {
        let mut c = claims();
        c[key] = value;
        c
    }

    #[test]
    fn a_valid_token_gives_its_claims() {
        let k = TestKey::new("k1");
        let t = verify(&k.sign(&claims()), &k.jwks(), &WANT).unwrap();
        assert_eq!(t.sub, "u1");
        assert_eq!(t.claims["amr"], json!(["face"]));
        let multi = with("aud", json!(["digital-id", "other"]));
        let mut multi_azp = multi.clone();
        multi_azp["azp"] = json!("digital-id");
        assert!(verify(&k.sign(&multi_azp), &k.jwks(), &WANT).is_ok());
    }

    #[test]
    fn each_broken_rule_is_named() {
        let k = TestKey::new("k1");
        let other = TestKey::new("k2");
        let same_kid = TestKey::new("k1");
        let cases: Vec<(String, Value, IdTokenError)> = vec![
            (
                k.sign(&with("iss", json!("https://evil.example"))),
                k.jwks(),
                IdTokenError::IssuerMismatch,
            ),
            (
                k.sign(&with("aud", json!("someone-else"))),
                k.jwks(),
                IdTokenError::AudienceMismatch,
            ),
            (
                k.sign(&with("aud", json!(["digital-id", "other"]))),
                k.jwks(),
                IdTokenError::AuthorizedPartyMismatch,
            ),
            (
                k.sign(&with("azp", json!("other"))),
                k.jwks(),
                IdTokenError::AuthorizedPartyMismatch,
            ),
            (
                k.sign(&with("exp", json!(NOW - SKEW))),
                k.jwks(),
                IdTokenError::Expired,
            ),
            (
                k.sign(&with("iat", json!(NOW + SKEW + 1))),
                k.jwks(),
                IdTokenError::IssuedAt,
            ),
            (
                k.sign(&with("iat", json!(NOW - MAX_AGE - 1))),
                k.jwks(),
                IdTokenError::IssuedAt,
            ),
            (
                k.sign(&with("nonce", json!("another"))),
                k.jwks(),
                IdTokenError::NonceMismatch,
            ),
            (
                k.sign(&with("sub", json!(""))),
                k.jwks(),
                IdTokenError::MissingSubject,
            ),
            (other.sign(&claims()), k.jwks(), IdTokenError::UnknownKey),
            (
                same_kid.sign(&claims()),
                k.jwks(),
                IdTokenError::BadSignature,
            ),
            ("a.b".into(), k.jwks(), IdTokenError::Malformed),
        ];
        for (token, jwks, want) in cases {
            assert_eq!(verify(&token, &jwks, &WANT), Err(want.clone()), "{want}");
        }
    }

    #[test]
    fn none_and_hmac_are_refused() {
        let k = TestKey::new("k1");
        let signed = k.sign(&claims());
        let body = signed.split('.').nth(1).unwrap();
        for alg in ["none", "HS256"] {
            let header = crate::crypto::b64url(json!({"alg": alg, "kid": "k1"}).to_string());
            let token = format!("{header}.{body}.");
            assert_eq!(
                verify(&token, &k.jwks(), &WANT),
                Err(IdTokenError::Algorithm)
            );
        }
    }
}
