//! Key proofs of type `jwt` (OpenID4VCI 1.0 Appendix F.1, checked as F.4
//! requires): `typ: openid4vci-proof+jwt`, an allowed `alg` matching the
//! key, exactly one of `jwk` / `kid` (a did:key URL) / `x5c`, no private key
//! material, `aud` = the Credential Issuer Identifier, a fresh `iat`, and a
//! `nonce`. Pure: the caller consumes the nonce.
//!
//! Key attestations (Appendix D) come in the proof's `key_attestation`
//! header or as the `attestation` proof type (Appendix F.3); both are
//! checked here ([`check_key_attestations`], [`verify_attestation_proof`])
//! through `trust::attestation` (the wallet provider's signature) and
//! `trust::key_attestation` (what it says of the request).

use std::sync::Arc;

use serde_json::Value;

use super::metadata::PROOF_TYP;
use crate::config::{Profile, Settings};
use crate::crypto::did_key::{self, DidKeyError};
use crate::crypto::jwk::JwkError;
use crate::crypto::jws::{Jws, JwsError};
use crate::crypto::x509::Anchors;
use crate::crypto::{KeyError, PublicKey};
use crate::trust::attestation::{self, Expect};
use crate::trust::key_attestation::{self, KeyAttestation, KeyAttestationError, NonceRule, Policy};

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

/// A proof that passed every check except the nonce's freshness (and its
/// key attestation's, [`check_key_attestations`]).
#[derive(Debug, Clone)]
pub struct VerifiedProof {
    pub key: PublicKey,
    pub nonce: String,
    /// The `key_attestation` header, unchecked.
    pub key_attestation: Option<String>,
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
    #[error("the key proof's `key_attestation` header must be a key attestation JWT (a string)")]
    KeyAttestationHeader,
    #[error(
        "{configuration} requires a key attestation: send it in the key proof's `key_attestation` header or use the `attestation` proof type"
    )]
    KeyAttestationRequired { configuration: String },
    #[error("{0}")]
    KeyAttestation(KeyAttestationError),
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
    let key_attestation = match jws.header.get("key_attestation") {
        None => None,
        Some(Value::String(jwt)) => Some(jwt.clone()),
        Some(_) => return Err(ProofError::KeyAttestationHeader),
    };
    Ok(VerifiedProof {
        key,
        nonce: nonce.to_owned(),
        key_attestation,
    })
}

/// What the issuer expects of key attestations (OpenID4VCI 1.0 Appendix D).
#[derive(Debug, Clone, Copy)]
pub struct AttestationExpectations<'a> {
    /// The trusted wallet providers' roots (`[attestation]
    /// wallet_provider_roots`). With none configured a `key_attestation`
    /// header is not evaluated unless the configuration requires one.
    pub roots: &'a Anchors,
    /// `Some` when the requested configuration requires a key attestation
    /// meeting this policy ([`required_policy`]).
    pub required: Option<Policy<'a>>,
    /// Accepted `alg` values: the proof type's (Appendix F.1: the
    /// `key_attestation`'s `alg` too).
    pub algs: &'a [&'a str],
    pub now: i64,
    /// Clock skew tolerated for `iat` and `exp`.
    pub skew: i64,
}

impl AttestationExpectations<'_> {
    /// The wallet provider's signature, chain and lifetime, by the rules
    /// of `kind` (in a `jwt` proof's header or as the `attestation` proof
    /// type).
    fn attested(
        &self,
        jwt: &str,
        kind: attestation::Kind,
    ) -> Result<attestation::Attested, KeyAttestationError> {
        let expect = Expect {
            kind,
            roots: self.roots,
            algs: self.algs,
            now: self.now,
            skew: self.skew,
        };
        Ok(attestation::verify(jwt, &expect)?)
    }
}

/// The key attestation policy of `configuration`: its `[key_attestation."<id>"]`
/// or, under `--profile haip` (HAIP 1.0 requires key attestations), any
/// level; `None` when a proof needs no key attestation.
pub fn required_policy<'a>(settings: &'a Settings, configuration: &'a str) -> Option<Policy<'a>> {
    match (
        settings.key_attestation.get(configuration),
        settings.profile,
    ) {
        (Some(p), _) => Some(Policy {
            configuration,
            key_storage: &p.key_storage,
            user_authentication: &p.user_authentication,
        }),
        (None, Profile::Haip) => Some(Policy {
            configuration,
            key_storage: &[],
            user_authentication: &[],
        }),
        (None, Profile::Default) => None,
    }
}

/// Checks the `key_attestation` header of each `jwt` proof: a wallet
/// provider's attestation (trusted root, in force, with `exp`) whose
/// `attested_keys` hold the proof's key, whose `nonce` is the proof's
/// c_nonce (Appendix F.1) and whose levels meet the policy. Every proof must carry one when the
/// configuration requires it; without roots and requirement the header is
/// ignored. An attestation shared by the proofs of a batch is verified
/// once. The attestation of each proof, in order; `Err` names the proof.
pub fn check_key_attestations(
    proofs: &[VerifiedProof],
    e: &AttestationExpectations<'_>,
) -> Result<Vec<Option<Arc<KeyAttestation>>>, (usize, ProofError)> {
    let evaluate = e.required.is_some() || !e.roots.is_empty();
    let mut seen: Vec<(&str, Arc<KeyAttestation>)> = Vec::new();
    let mut out = Vec::with_capacity(proofs.len());
    for (index, p) in proofs.iter().enumerate() {
        let jwt = match (p.key_attestation.as_deref(), &e.required) {
            (Some(jwt), _) if evaluate => jwt,
            (_, Some(policy)) => {
                let configuration = policy.configuration.to_owned();
                return Err((index, ProofError::KeyAttestationRequired { configuration }));
            }
            (_, None) => {
                out.push(None);
                continue;
            }
        };
        let failed = |error| (index, ProofError::KeyAttestation(error));
        let nonce = NonceRule::SameAs(&p.nonce);
        let ka = match seen.iter().find(|(j, _)| *j == jwt) {
            Some((_, ka)) => {
                ka.check_nonce(nonce).map_err(failed)?;
                ka.clone()
            }
            None => {
                let attested = e.attested(jwt, attestation::KEY).map_err(failed)?;
                let ka =
                    key_attestation::check(attested, nonce, e.required.as_ref()).map_err(failed)?;
                let ka = Arc::new(ka);
                seen.push((jwt, ka.clone()));
                ka
            }
        };
        ka.check_key(&p.key).map_err(failed)?;
        out.push(Some(ka));
    }
    Ok(out)
}

/// The `attestation` proof type (Appendix F.3): one key attestation, no
/// proof of possession. It must come from a trusted wallet provider (`exp`
/// optional here, Appendix D.1), carry a `nonce` (the caller checks that
/// it is a fresh c_nonce and uses it up) and meet the policy when there is
/// one; its `attested_keys` are the keys the credentials are bound to.
pub fn verify_attestation_proof(
    jwt: &str,
    e: &AttestationExpectations<'_>,
) -> Result<KeyAttestation, KeyAttestationError> {
    let attested = e.attested(jwt, attestation::KEY_AS_PROOF)?;
    key_attestation::check(attested, NonceRule::Required, e.required.as_ref())
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

    mod key_attestations {
        use super::*;
        use crate::trust::attestation::tests::Provider;

        const HIGH: &[&str] = &["iso_18045_high"];

        fn key() -> SigningKey {
            SigningKey::generate(Algorithm::Es256).unwrap()
        }

        fn levels(v: &[&str]) -> Vec<String> {
            v.iter().map(|s| (*s).to_owned()).collect()
        }

        /// A key attestation by `p` for `keys`.
        fn attestation(p: &Provider, keys: &[&SigningKey], extra: Value) -> String {
            let mut claims = json!({
                "iss": "https://wallet-provider.example",
                "iat": NOW - 10,
                "exp": NOW + 3600,
                "attested_keys": keys.iter().map(|k| k.public().jwk_for_publication()).collect::<Vec<_>>(),
                "key_storage": HIGH,
                "user_authentication": HIGH,
            });
            for (k, v) in extra.as_object().unwrap() {
                if v.is_null() {
                    claims.as_object_mut().unwrap().remove(k);
                } else {
                    claims[k] = v.clone();
                }
            }
            p.sign(json!({}), claims)
        }

        /// A verified `jwt` proof by `key` with `ka` as its header.
        fn proven(key: &SigningKey, ka: Option<&str>) -> VerifiedProof {
            let mut header = good_header(key);
            if let Some(ka) = ka {
                header["key_attestation"] = ka.into();
            }
            verify(&proof(key, header, good_claims()), &exp()).unwrap()
        }

        fn expect<'a>(
            roots: &'a Anchors,
            required: Option<Policy<'a>>,
        ) -> AttestationExpectations<'a> {
            AttestationExpectations {
                roots,
                required,
                algs: &["ES256"],
                now: NOW,
                skew: 60,
            }
        }

        #[test]
        fn a_batch_shares_one_attestation_meeting_the_policy() {
            let p = Provider::good();
            let roots = p.roots();
            let (a, b) = (key(), key());
            let ka = attestation(&p, &[&a, &b], json!({"nonce": "n-1"}));
            let high = levels(HIGH);
            let policy = Policy {
                configuration: "ru.passport",
                key_storage: &high,
                user_authentication: &high,
            };
            let proofs = [proven(&a, Some(&ka)), proven(&b, Some(&ka))];
            let out = check_key_attestations(&proofs, &expect(&roots, Some(policy))).unwrap();
            let (first, second) = (out[0].as_ref().unwrap(), out[1].as_ref().unwrap());
            assert!(Arc::ptr_eq(first, second), "verified once");
            assert_eq!(first.key_storage, high);
            assert_eq!(first.provider, "CN=Wallet Provider attestations");
        }

        #[test]
        fn a_required_attestation_must_be_there() {
            let p = Provider::good();
            let roots = p.roots();
            let a = key();
            let ka = attestation(&p, &[&a], json!({"nonce": "n-1"}));
            let any = Policy {
                configuration: "ru.passport",
                key_storage: &[],
                user_authentication: &[],
            };
            let proofs = [proven(&a, Some(&ka)), proven(&key(), None)];
            let (index, e) =
                check_key_attestations(&proofs, &expect(&roots, Some(any))).unwrap_err();
            assert_eq!(index, 1);
            assert_eq!(
                e.to_string(),
                "ru.passport requires a key attestation: send it in the key proof's `key_attestation` header or use the `attestation` proof type"
            );
            // Without trusted providers too (HAIP without roots).
            let none = Anchors::default();
            let (index, e) =
                check_key_attestations(&proofs[1..], &expect(&none, Some(any))).unwrap_err();
            assert_eq!(index, 0);
            assert!(matches!(e, ProofError::KeyAttestationRequired { .. }));
        }

        #[test]
        fn unrequired_attestations_are_checked_when_providers_are_trusted() {
            let p = Provider::good();
            let a = key();
            let ka = attestation(&p, &[&a], json!({"nonce": "n-1"}));
            let proofs = [proven(&a, Some(&ka)), proven(&key(), None)];
            // Trusted provider: checked and kept; a proof without one is fine.
            let roots = p.roots();
            let out = check_key_attestations(&proofs, &expect(&roots, None)).unwrap();
            assert!(out[0].is_some() && out[1].is_none());
            // Another provider's root: refused.
            let other = Provider::good().roots();
            let (index, e) = check_key_attestations(&proofs, &expect(&other, None)).unwrap_err();
            assert_eq!(index, 0);
            assert_eq!(
                e.to_string(),
                "the key attestation is not from a trusted wallet provider: the certificate chain does not lead to a configured trust anchor"
            );
            // No provider configured and none required: not evaluated.
            let none = Anchors::default();
            let out = check_key_attestations(&proofs, &expect(&none, None)).unwrap();
            assert!(out.iter().all(Option::is_none));
        }

        #[test]
        fn the_proof_key_and_nonce_must_match_the_attestation() {
            let p = Provider::good();
            let roots = p.roots();
            let (a, b) = (key(), key());
            let ka = attestation(&p, &[&a], json!({"nonce": "n-1"}));
            let (index, e) = check_key_attestations(
                &[proven(&a, Some(&ka)), proven(&b, Some(&ka))],
                &expect(&roots, None),
            )
            .unwrap_err();
            assert_eq!(index, 1);
            assert_eq!(
                e,
                ProofError::KeyAttestation(KeyAttestationError::KeyNotAttested)
            );
            let stale = attestation(&p, &[&a], json!({"nonce": "n-0"}));
            let (_, e) = check_key_attestations(&[proven(&a, Some(&stale))], &expect(&roots, None))
                .unwrap_err();
            assert_eq!(
                e,
                ProofError::KeyAttestation(KeyAttestationError::NonceMismatch)
            );
            // The header must be a JWT.
            let mut header = good_header(&a);
            header["key_attestation"] = json!({"jwt": ka});
            let e = verify(&proof(&a, header, good_claims()), &exp()).unwrap_err();
            assert_eq!(e, ProofError::KeyAttestationHeader);
        }

        /// Appendix F.1: "If the Credential Issuer provided a c_nonce, the
        /// nonce claim in the key attestation MUST be set to a
        /// server-provided c_nonce"; this server always provides one.
        #[test]
        fn a_header_attestation_must_carry_the_proofs_c_nonce() {
            let p = Provider::good();
            let roots = p.roots();
            let a = key();
            let without = attestation(&p, &[&a], json!({}));
            let (index, e) =
                check_key_attestations(&[proven(&a, Some(&without))], &expect(&roots, None))
                    .unwrap_err();
            assert_eq!(index, 0);
            assert_eq!(
                e,
                ProofError::KeyAttestation(KeyAttestationError::MissingHeaderNonce)
            );
            // The second proof of a batch sharing the first's attestation is
            // held to its own nonce too.
            let b = key();
            let ka = attestation(&p, &[&a, &b], json!({"nonce": "n-1"}));
            let mut second = proven(&b, Some(&ka));
            second.nonce = "n-2".into();
            let (index, e) =
                check_key_attestations(&[proven(&a, Some(&ka)), second], &expect(&roots, None))
                    .unwrap_err();
            assert_eq!(index, 1);
            assert_eq!(
                e,
                ProofError::KeyAttestation(KeyAttestationError::NonceMismatch)
            );
        }

        /// Appendix D.1: `exp` "MUST be present if the attestation is used
        /// with the JWT proof type"; the `attestation` proof type may omit it.
        #[test]
        fn exp_is_required_in_the_header_only() {
            let p = Provider::good();
            let roots = p.roots();
            let a = key();
            let no_exp = attestation(&p, &[&a], json!({"nonce": "n-1", "exp": null}));
            let (_, e) =
                check_key_attestations(&[proven(&a, Some(&no_exp))], &expect(&roots, None))
                    .unwrap_err();
            assert_eq!(e.to_string(), "the key attestation has no numeric `exp`");
            let ka = verify_attestation_proof(&no_exp, &expect(&roots, None)).unwrap();
            assert_eq!(ka.nonce.as_deref(), Some("n-1"));
        }

        #[test]
        fn levels_below_the_policy_are_refused() {
            let p = Provider::good();
            let roots = p.roots();
            let a = key();
            let ka = attestation(
                &p,
                &[&a],
                json!({"nonce": "n-1", "key_storage": ["iso_18045_moderate"]}),
            );
            let high = levels(HIGH);
            let policy = Policy {
                configuration: "ru.passport",
                key_storage: &high,
                user_authentication: &[],
            };
            let (_, e) =
                check_key_attestations(&[proven(&a, Some(&ka))], &expect(&roots, Some(policy)))
                    .unwrap_err();
            assert_eq!(
                e.to_string(),
                "the key attestation's key_storage [iso_18045_moderate] meets none of iso_18045_high required for ru.passport"
            );
        }

        #[test]
        fn the_attestation_proof_type_needs_a_nonce_and_gives_its_keys() {
            let p = Provider::good();
            let roots = p.roots();
            let (a, b) = (key(), key());
            let with_nonce = attestation(&p, &[&a, &b], json!({"nonce": "n-1"}));
            let ka = verify_attestation_proof(&with_nonce, &expect(&roots, None)).unwrap();
            assert_eq!(ka.keys.len(), 2);
            assert_eq!(ka.nonce.as_deref(), Some("n-1"));
            let without = attestation(&p, &[&a], json!({}));
            assert_eq!(
                verify_attestation_proof(&without, &expect(&roots, None)).unwrap_err(),
                KeyAttestationError::MissingNonce
            );
            let high = levels(HIGH);
            let policy = Policy {
                configuration: "ru.passport",
                key_storage: &high,
                user_authentication: &high,
            };
            let low = attestation(
                &p,
                &[&a],
                json!({"nonce": "n", "user_authentication": null}),
            );
            assert_eq!(
                verify_attestation_proof(&low, &expect(&roots, Some(policy)))
                    .unwrap_err()
                    .to_string(),
                "the key attestation asserts no user_authentication; ru.passport requires one of iso_18045_high"
            );
            // A `jwt` proof is not an attestation.
            let e = verify_attestation_proof(
                &proof(&a, good_header(&a), good_claims()),
                &expect(&roots, None),
            )
            .unwrap_err();
            assert_eq!(e.reason(), "wrong_typ");
        }
    }
}
