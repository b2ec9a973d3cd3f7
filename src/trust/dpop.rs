//! DPoP proof verification (RFC 9449 §4.2–4.3), pure: the caller supplies
//! the request's method and public URL, the time, the access token being
//! presented and a check for server-provided nonces; replay protection of
//! `jti` (§11.1) is the caller's, through the store, keyed by what
//! [`Verified::replay_key`] returns until [`Verified::replay_expires_at`].
//!
//! Rules, in the order they are checked (each failure names its rule):
//! 1. a compact JWS whose header has `typ: dpop+jwt`, an asymmetric `alg`
//!    this deployment accepts (ES256; EdDSA/Ed25519 outside HAIP; never
//!    `none` or HMAC), and a `jwk` holding a public key only (private
//!    members are refused);
//! 2. the signature verifies with that `jwk`;
//! 3. `htm` is the request method, `htu` the request's URL at the server's
//!    public URL (not the `Host` header), both compared after RFC 3986
//!    §6.2.2–6.2.3 normalisation (case of scheme and host, default port,
//!    empty path) with any query and fragment of `htu` ignored (§4.3);
//! 4. `iat` is within [`IAT_WINDOW`] seconds of now, either way (clock
//!    skew both ways; the replay marker outlives the window on every node
//!    whose clock is less than 2 minutes off another's,
//!    [`Verified::replay_expires_at`]);
//! 5. `jti` is a string of 1 to [`MAX_JTI`] characters;
//! 6. with an access token, `ath` is base64url(SHA-256(token)) (§4.2);
//! 7. `nonce`, when the server requires one or the proof carries one, is
//!    one the server made and still accepts; otherwise the caller answers
//!    `use_dpop_nonce` with a fresh nonce (§8).
//!
//! On success the proof key's RFC 7638 thumbprint (`jkt`) is returned: what
//! an access token is bound to (`cnf.jkt`, §6).

use serde_json::{Map, Value};

use crate::crypto::jwk::JwkError;
use crate::crypto::jws::{Jws, JwsError};
use crate::crypto::{Algorithm, PublicKey, b64url, sha256};

/// `typ` of a DPoP proof (§4.2).
pub const TYP: &str = "dpop+jwt";
/// Seconds a proof's `iat` may lie before or after the server's clock.
pub const IAT_WINDOW: i64 = 60;
/// Longest `jti` accepted, in characters.
pub const MAX_JTI: usize = 256;

/// Why a DPoP proof was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DpopError {
    #[error("a DPoP proof is required")]
    Missing,
    #[error("more than one DPoP header was sent (RFC 9449 §4.3)")]
    Several,
    #[error("the DPoP proof is not a valid compact JWS: {0}")]
    Malformed(JwsError),
    #[error("the DPoP proof's `typ` must be `dpop+jwt`")]
    WrongTyp,
    #[error("the DPoP proof's `alg` must be one of {0} (never `none` or HMAC)")]
    UnsupportedAlg(&'static str),
    #[error("the DPoP proof's header has no `jwk`")]
    MissingJwk,
    #[error("the DPoP proof's `jwk` is not an acceptable public key: {0}")]
    BadJwk(JwkError),
    #[error("the DPoP proof's `alg` does not match its `jwk`")]
    AlgKeyMismatch,
    #[error("the DPoP proof's signature does not verify with its `jwk`")]
    BadSignature,
    #[error("the DPoP proof's payload is not a JSON object")]
    PayloadNotObject,
    #[error("the DPoP proof has no `{0}` claim of the right type")]
    MissingClaim(&'static str),
    #[error("the DPoP proof's `htm` is not this request's method")]
    HtmMismatch,
    #[error("the DPoP proof's `htu` is not this endpoint's URL")]
    HtuMismatch,
    #[error("the DPoP proof's `iat` is more than 60 seconds away from the server's time")]
    IatOutOfWindow,
    #[error("the DPoP proof's `jti` must be 1 to 256 characters")]
    BadJti,
    #[error("the DPoP proof's `ath` is missing: it must hash the access token")]
    MissingAth,
    #[error("the DPoP proof's `ath` is not the hash of the access token presented")]
    AthMismatch,
    #[error("the DPoP proof was used before (same `jti`)")]
    Replayed,
    #[error("the DPoP proof is signed by another key than the one the access token is bound to")]
    KeyMismatch,
    #[error("a DPoP nonce is required: use the one in the `DPoP-Nonce` header")]
    NonceRequired,
    #[error("the DPoP nonce is unknown or expired: use the one in the `DPoP-Nonce` header")]
    StaleNonce,
}

impl DpopError {
    /// Whether the answer is `use_dpop_nonce` (with a fresh `DPoP-Nonce`)
    /// rather than `invalid_dpop_proof`.
    pub fn wants_nonce(&self) -> bool {
        matches!(self, DpopError::NonceRequired | DpopError::StaleNonce)
    }

    /// The RFC 9449 error code.
    pub fn code(&self) -> &'static str {
        if self.wants_nonce() {
            "use_dpop_nonce"
        } else {
            "invalid_dpop_proof"
        }
    }
}

/// What the request a proof comes with looks like, and what the server
/// asks of it.
pub struct Expect<'a> {
    /// The HTTP method (`POST`).
    pub htm: &'a str,
    /// The endpoint's URL at the public URL (no query).
    pub htu: &'a str,
    /// The access token the request presents, if any (then `ath` is due).
    pub access_token: Option<&'a str>,
    /// Algorithms accepted.
    pub algs: &'a [Algorithm],
    /// Unix seconds.
    pub now: i64,
    /// Whether a proof without `nonce` is refused.
    pub nonce_required: bool,
    /// Whether a `nonce` is one the server made and still accepts.
    pub nonce_ok: &'a dyn Fn(&str) -> bool,
}

/// A verified proof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// RFC 7638 thumbprint of the proof key.
    pub jkt: String,
    pub jti: String,
    pub iat: i64,
}

impl Verified {
    /// The replay-cache key ([`super::replay_key`] of the proof key).
    pub fn replay_key(&self) -> String {
        super::replay_key(&self.jkt, &self.jti)
    }

    /// When the replay marker may go: every node refuses the proof by its
    /// `iat` from then on, while node clocks differ by less than
    /// `IAT_WINDOW + NODE_CLOCK_SKEW` (2 minutes; see
    /// [`super::replay_expires_at`]).
    pub fn replay_expires_at(&self) -> i64 {
        super::replay_expires_at(self.iat, IAT_WINDOW)
    }
}

/// The `algs` list of a challenge and of the metadata's
/// `dpop_signing_alg_values_supported`.
pub fn alg_names(algs: &[Algorithm]) -> Vec<&'static str> {
    algs.iter().map(|a| a.as_str()).collect()
}

/// The value of `ath` for `access_token`.
pub fn ath(access_token: &str) -> String {
    b64url(sha256(access_token))
}

/// `url` per RFC 3986 §6.2.2–6.2.3 without query and fragment, or `None`
/// when it is not an absolute http(s) URL.
pub fn normalize_htu(url: &str) -> Option<String> {
    let mut u = url::Url::parse(url).ok()?;
    if !matches!(u.scheme(), "https" | "http") || u.host().is_none() {
        return None;
    }
    u.set_query(None);
    u.set_fragment(None);
    Some(u.as_str().to_owned())
}

/// Verifies `proof` against `expect` (the rules of the module comment).
pub fn verify(proof: &str, expect: &Expect<'_>) -> Result<Verified, DpopError> {
    let jws = Jws::decode(proof).map_err(DpopError::Malformed)?;
    if jws.typ() != Some(TYP) {
        return Err(DpopError::WrongTyp);
    }
    let accepted = || match expect.algs {
        [Algorithm::Es256] => "ES256",
        _ => "ES256, EdDSA",
    };
    let alg = jws
        .alg()
        .and_then(Algorithm::from_name)
        .filter(|a| expect.algs.contains(a))
        .ok_or_else(|| DpopError::UnsupportedAlg(accepted()))?;
    let jwk = jws.header.get("jwk").ok_or(DpopError::MissingJwk)?;
    let key = PublicKey::from_jwk(jwk).map_err(|e| match e {
        crate::crypto::KeyError::Jwk(j) => DpopError::BadJwk(j),
        _ => DpopError::BadJwk(JwkError::NotOnCurve),
    })?;
    if key.alg() != alg {
        return Err(DpopError::AlgKeyMismatch);
    }
    jws.verify(&key).map_err(|e| match e {
        JwsError::BadSignature => DpopError::BadSignature,
        e => DpopError::Malformed(e),
    })?;
    let claims = jws
        .payload_json()
        .map_err(|_| DpopError::PayloadNotObject)?;
    let text = |name: &'static str| -> Result<&str, DpopError> {
        claims
            .get(name)
            .and_then(Value::as_str)
            .ok_or(DpopError::MissingClaim(name))
    };
    if text("htm")? != expect.htm {
        return Err(DpopError::HtmMismatch);
    }
    let htu = normalize_htu(text("htu")?).ok_or(DpopError::HtuMismatch)?;
    if Some(htu) != normalize_htu(expect.htu) {
        return Err(DpopError::HtuMismatch);
    }
    let iat = claims
        .get("iat")
        .and_then(Value::as_i64)
        .ok_or(DpopError::MissingClaim("iat"))?;
    if iat.abs_diff(expect.now) > IAT_WINDOW as u64 {
        return Err(DpopError::IatOutOfWindow);
    }
    let jti = text("jti")?;
    if jti.is_empty() || jti.chars().count() > MAX_JTI {
        return Err(DpopError::BadJti);
    }
    if let Some(token) = expect.access_token {
        let sent = claims
            .get("ath")
            .and_then(Value::as_str)
            .ok_or(DpopError::MissingAth)?;
        let expected = ath(token);
        if sent.len() != expected.len()
            || !openssl::memcmp::eq(sent.as_bytes(), expected.as_bytes())
        {
            return Err(DpopError::AthMismatch);
        }
    }
    check_nonce(&claims, expect)?;
    Ok(Verified {
        jkt: key.thumbprint().to_owned(),
        jti: jti.to_owned(),
        iat,
    })
}

fn check_nonce(claims: &Map<String, Value>, expect: &Expect<'_>) -> Result<(), DpopError> {
    match claims.get("nonce") {
        None if expect.nonce_required => Err(DpopError::NonceRequired),
        None => Ok(()),
        Some(Value::String(n)) if (expect.nonce_ok)(n) => Ok(()),
        Some(_) => Err(DpopError::StaleNonce),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::crypto::SigningKey;
    use crate::crypto::jws;

    const NOW: i64 = 1_800_000_000;
    const HTU: &str = "https://id.example.ru/token";
    const ALL: &[Algorithm] = &[Algorithm::Es256, Algorithm::EdDsa];

    fn good_nonce(n: &str) -> bool {
        n == "server-nonce"
    }

    fn expect() -> Expect<'static> {
        Expect {
            htm: "POST",
            htu: HTU,
            access_token: None,
            algs: ALL,
            now: NOW,
            nonce_required: false,
            nonce_ok: &good_nonce,
        }
    }

    fn claims() -> Value {
        json!({"htm": "POST", "htu": HTU, "iat": NOW, "jti": "j-1"})
    }

    /// A proof by `key` with `header` and `claims` members overriding the
    /// defaults (`null` removes one).
    fn proof(key: &SigningKey, header: Value, claims: Value) -> String {
        let mut h = json!({"typ": TYP, "jwk": key.public().jwk().clone()});
        merge(&mut h, header);
        jws::sign(key, h.as_object().unwrap(), claims.to_string().as_bytes()).unwrap()
    }

    fn merge(base: &mut Value, over: Value) {
        let b = base.as_object_mut().unwrap();
        for (k, v) in over.as_object().unwrap() {
            if v.is_null() {
                b.remove(k);
            } else {
                b.insert(k.clone(), v.clone());
            }
        }
    }

    fn with(over: Value) -> Value {
        let mut c = claims();
        merge(&mut c, over);
        c
    }

    fn es256() -> SigningKey {
        SigningKey::generate(Algorithm::Es256).unwrap()
    }

    #[test]
    fn a_good_proof_gives_the_key_thumbprint() {
        for alg in [Algorithm::Es256, Algorithm::EdDsa] {
            let key = SigningKey::generate(alg).unwrap();
            let v = verify(&proof(&key, json!({}), claims()), &expect()).unwrap();
            assert_eq!(v.jkt, key.public().thumbprint());
            assert_eq!(v.jti, "j-1");
            assert_eq!(v.iat, NOW);
            // Two windows and the node clock skew: a node 119 s ahead of
            // another still holds the marker while the other accepts.
            assert_eq!(
                v.replay_expires_at(),
                NOW + 2 * IAT_WINDOW + super::super::NODE_CLOCK_SKEW
            );
            assert_eq!(v.replay_expires_at(), NOW + 180);
        }
    }

    #[test]
    fn typ_must_be_dpop_jwt() {
        let key = es256();
        for typ in [json!(null), json!("JWT"), json!("openid4vci-proof+jwt")] {
            let p = proof(&key, json!({"typ": typ}), claims());
            assert_eq!(verify(&p, &expect()), Err(DpopError::WrongTyp));
        }
        assert!(matches!(
            verify("not.a-jws", &expect()),
            Err(DpopError::Malformed(_))
        ));
    }

    #[test]
    fn none_hmac_and_unlisted_algorithms_are_refused() {
        let key = es256();
        for alg in ["none", "HS256", "RS256"] {
            let h = json!({"alg": alg, "typ": TYP, "jwk": key.public().jwk().clone()});
            let p = jws::sign_encoded(&key, &b64url(h.to_string()), &b64url(claims().to_string()))
                .unwrap();
            assert_eq!(
                verify(&p, &expect()),
                Err(DpopError::UnsupportedAlg("ES256, EdDSA")),
                "{alg}"
            );
        }
        // Under HAIP only ES256.
        let ed = SigningKey::generate(Algorithm::EdDsa).unwrap();
        let p = proof(&ed, json!({}), claims());
        let haip = Expect {
            algs: &[Algorithm::Es256],
            ..expect()
        };
        assert_eq!(verify(&p, &haip), Err(DpopError::UnsupportedAlg("ES256")));
    }

    #[test]
    fn the_jwk_must_be_a_public_key_of_the_alg() {
        let key = es256();
        let p = proof(&key, json!({"jwk": null}), claims());
        assert_eq!(verify(&p, &expect()), Err(DpopError::MissingJwk));
        let private = key.to_private_jwk();
        let p = proof(&key, json!({"jwk": private}), claims());
        assert_eq!(
            verify(&p, &expect()),
            Err(DpopError::BadJwk(JwkError::PrivateMember("d")))
        );
        // An Ed25519 key under an ES256 header.
        let ed = SigningKey::generate(Algorithm::EdDsa).unwrap();
        let p = proof(&key, json!({"jwk": ed.public().jwk().clone()}), claims());
        assert_eq!(verify(&p, &expect()), Err(DpopError::AlgKeyMismatch));
    }

    #[test]
    fn the_signature_must_verify_with_the_jwk() {
        let (key, other) = (es256(), es256());
        let p = proof(&key, json!({"jwk": other.public().jwk().clone()}), claims());
        assert_eq!(verify(&p, &expect()), Err(DpopError::BadSignature));
    }

    #[test]
    fn htm_must_be_the_method() {
        let key = es256();
        let p = proof(&key, json!({}), with(json!({"htm": "GET"})));
        assert_eq!(verify(&p, &expect()), Err(DpopError::HtmMismatch));
        let p = proof(&key, json!({}), with(json!({"htm": null})));
        assert_eq!(verify(&p, &expect()), Err(DpopError::MissingClaim("htm")));
    }

    #[test]
    fn htu_is_compared_normalised_without_query_and_fragment() {
        let key = es256();
        for same in [
            "https://id.example.ru/token",
            "HTTPS://ID.Example.RU/token",
            "https://id.example.ru:443/token",
            "https://id.example.ru/token?x=1",
            "https://id.example.ru/token#f",
        ] {
            let p = proof(&key, json!({}), with(json!({"htu": same})));
            assert!(verify(&p, &expect()).is_ok(), "{same}");
        }
        for other in [
            "https://id.example.ru/credential",
            "https://id.example.ru/Token",
            "http://id.example.ru/token",
            "https://evil.example/token",
            "https://id.example.ru:8443/token",
            "/token",
        ] {
            let p = proof(&key, json!({}), with(json!({"htu": other})));
            assert_eq!(
                verify(&p, &expect()),
                Err(DpopError::HtuMismatch),
                "{other}"
            );
        }
    }

    #[test]
    fn iat_must_be_within_the_window() {
        let key = es256();
        for ok in [NOW - IAT_WINDOW, NOW + IAT_WINDOW] {
            let p = proof(&key, json!({}), with(json!({"iat": ok})));
            assert!(verify(&p, &expect()).is_ok());
        }
        for late in [NOW - IAT_WINDOW - 1, NOW + IAT_WINDOW + 1] {
            let p = proof(&key, json!({}), with(json!({"iat": late})));
            assert_eq!(verify(&p, &expect()), Err(DpopError::IatOutOfWindow));
        }
        let p = proof(&key, json!({}), with(json!({"iat": "now"})));
        assert_eq!(verify(&p, &expect()), Err(DpopError::MissingClaim("iat")));
    }

    #[test]
    fn jti_must_be_present_and_short() {
        let key = es256();
        let p = proof(&key, json!({}), with(json!({"jti": null})));
        assert_eq!(verify(&p, &expect()), Err(DpopError::MissingClaim("jti")));
        for bad in [String::new(), "x".repeat(MAX_JTI + 1)] {
            let p = proof(&key, json!({}), with(json!({"jti": bad})));
            assert_eq!(verify(&p, &expect()), Err(DpopError::BadJti));
        }
        let p = proof(&key, json!({}), with(json!({"jti": "x".repeat(MAX_JTI)})));
        assert!(verify(&p, &expect()).is_ok());
    }

    #[test]
    fn ath_must_hash_the_presented_token() {
        let key = es256();
        let e = Expect {
            access_token: Some("the-token"),
            ..expect()
        };
        let p = proof(&key, json!({}), claims());
        assert_eq!(verify(&p, &e), Err(DpopError::MissingAth));
        let p = proof(&key, json!({}), with(json!({"ath": ath("other-token")})));
        assert_eq!(verify(&p, &e), Err(DpopError::AthMismatch));
        let p = proof(&key, json!({}), with(json!({"ath": ath("the-token")})));
        assert!(verify(&p, &e).is_ok());
    }

    #[test]
    fn a_required_nonce_must_be_the_servers() {
        let key = es256();
        let required = Expect {
            nonce_required: true,
            ..expect()
        };
        let p = proof(&key, json!({}), claims());
        let err = verify(&p, &required).unwrap_err();
        assert_eq!(err, DpopError::NonceRequired);
        assert_eq!(err.code(), "use_dpop_nonce");
        // A nonce sent is checked even when none is required.
        for e in [&required, &expect()] {
            let p = proof(&key, json!({}), with(json!({"nonce": "stale"})));
            assert_eq!(verify(&p, e), Err(DpopError::StaleNonce));
            let p = proof(&key, json!({}), with(json!({"nonce": "server-nonce"})));
            assert!(verify(&p, e).is_ok());
        }
        assert_eq!(DpopError::AthMismatch.code(), "invalid_dpop_proof");
    }

    #[test]
    fn replay_keys_differ_by_key_and_jti() {
        let v = |jkt: &str, jti: &str| Verified {
            jkt: jkt.into(),
            jti: jti.into(),
            iat: NOW,
        };
        assert_eq!(v("a", "1").replay_key(), v("a", "1").replay_key());
        assert_ne!(v("a", "1").replay_key(), v("b", "1").replay_key());
        assert_ne!(v("a", "1").replay_key(), v("a", "2").replay_key());
    }
}
