//! JWTs a wallet provider signs about a wallet: wallet attestations (OAuth
//! 2.0 Attestation-Based Client Authentication,
//! `oauth-client-attestation+jwt`) and key attestations (OpenID4VCI 1.0
//! Appendix D, `key-attestation+jwt`). Both are trusted the same way, the
//! cheap checks first:
//! 1. a compact JWS of the kind's `typ`, with an accepted `alg`;
//! 2. its times, before anything is verified (so they can only refuse):
//!    `iat` and `exp` present as the kind requires, `iat` and `nbf` not in
//!    the future, `exp` not past, `iat` no older than the kind's maximum
//!    age, and `exp` no further than the kind's maximum lifetime after
//!    `iat` (or, without `iat`, after `nbf` or now);
//! 3. the header's `x5c` chains to a configured wallet provider root
//!    (`[attestation] wallet_provider_roots`), the leaf no CA, the chain
//!    valid when the attestation was made (`iat`, else `nbf`, else now),
//!    and `exp` no later than the leaf's `notAfter`;
//! 4. the leaf's key verifies the signature.
//!
//! Without the bounds of step 2 and the leaf's `notAfter`, whoever holds a
//! retired provider key could sign attestations dated back into the
//! certificate's validity and living for ever. What each kind then
//! requires of its claims is the caller's (`key_attestation`, the token
//! endpoint).

use serde_json::{Map, Value};

use crate::crypto::jws::{Jws, JwsError};
use crate::crypto::x509::{Anchors, ChainError};

const DAY: i64 = 86_400;

/// Why an attestation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttestationError {
    #[error("the {kind} is not a compact JWS: {source}")]
    Malformed {
        kind: &'static str,
        source: JwsError,
    },
    #[error("the {kind}'s `typ` must be `{typ}`")]
    WrongTyp {
        kind: &'static str,
        typ: &'static str,
    },
    #[error("the {kind}'s `alg` is not one this server accepts ({accepted})")]
    AlgNotAllowed {
        kind: &'static str,
        accepted: String,
    },
    #[error("the {kind} has no `x5c` header: it must carry the wallet provider's certificate")]
    NoX5c { kind: &'static str },
    #[error("the {kind} is not from a trusted wallet provider: {source}")]
    Untrusted {
        kind: &'static str,
        source: ChainError,
    },
    #[error("the {kind}'s signature does not verify with its certificate's key: {source}")]
    Signature {
        kind: &'static str,
        source: JwsError,
    },
    /// A required time claim is absent, or a present one is not an integer.
    #[error("the {kind} has no numeric `{claim}`")]
    MissingClaim {
        kind: &'static str,
        claim: &'static str,
    },
    #[error("the {kind} has expired")]
    Expired { kind: &'static str },
    #[error("the {kind}'s `iat` is in the future")]
    FromTheFuture { kind: &'static str },
    #[error("the {kind}'s `nbf` is in the future")]
    NotYetValid { kind: &'static str },
    #[error("the {kind}'s `iat` is more than {} old", span(*max_age))]
    TooOld { kind: &'static str, max_age: i64 },
    #[error("the {kind}'s `exp` is more than {} after its `iat`", span(*max_lifetime))]
    TooLongLived {
        kind: &'static str,
        max_lifetime: i64,
    },
    #[error("the {kind}'s `exp` is later than its wallet provider certificate's expiry")]
    OutlivesCertificate { kind: &'static str },
}

impl AttestationError {
    /// The failed step, as a stable machine-readable name.
    pub fn reason(&self) -> &'static str {
        match self {
            AttestationError::Malformed { .. } => "malformed",
            AttestationError::WrongTyp { .. } => "wrong_typ",
            AttestationError::AlgNotAllowed { .. } => "alg_not_allowed",
            AttestationError::NoX5c { .. } => "no_x5c",
            AttestationError::Untrusted { .. } => "untrusted_wallet_provider",
            AttestationError::Signature { .. } => "bad_signature",
            AttestationError::MissingClaim { .. } => "missing_claim",
            AttestationError::Expired { .. } => "expired",
            AttestationError::FromTheFuture { .. } => "from_the_future",
            AttestationError::NotYetValid { .. } => "not_yet_valid",
            AttestationError::TooOld { .. } => "too_old",
            AttestationError::TooLongLived { .. } => "too_long_lived",
            AttestationError::OutlivesCertificate { .. } => "outlives_certificate",
        }
    }
}

/// "30 days", "1 day", "90 seconds".
fn span(seconds: i64) -> String {
    match seconds {
        DAY => "1 day".to_owned(),
        s if s % DAY == 0 => format!("{} days", s / DAY),
        s => format!("{s} seconds"),
    }
}

/// Which attestation is checked, and what its times must be.
///
/// No specification bounds an attestation's lifetime (the OAuth draft
/// leaves freshness to "local policy", OpenID4VCI 1.0 and HAIP 1.0 say
/// nothing); the maxima here are this server's policy, generous for what
/// wallets send and tight enough that a retired wallet provider key
/// cannot sign attestations that live on. A kind must require `iat` or
/// `exp` (otherwise nothing bounds it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kind {
    /// Its name in messages ("wallet attestation", "key attestation").
    pub name: &'static str,
    /// The JOSE `typ` it must carry.
    pub typ: &'static str,
    /// Whether `iat` must be present.
    pub iat_required: bool,
    /// Whether `exp` must be present.
    pub exp_required: bool,
    /// Oldest accepted `iat`, in seconds before now.
    pub max_age: i64,
    /// Longest accepted `exp − iat` (without `iat`: from `nbf`, else from
    /// now), in seconds.
    pub max_lifetime: i64,
}

/// Longest a wallet attestation may live, and oldest it may be: 30 days.
/// Wallet attestations are reused for every token request until they
/// expire, and wallet providers issue them for hours to weeks (a wallet
/// refreshes its attestation in the background); a month covers them.
pub const WALLET_MAX_LIFETIME: i64 = 30 * DAY;

/// Longest a key attestation may live: a year. Appendix D.1 lets `exp`
/// bound the attested keys too, and hardware-backed keys are commonly
/// certified for a year.
pub const KEY_MAX_LIFETIME: i64 = 365 * DAY;

/// Oldest a key attestation may be: a day. This server has a nonce
/// endpoint, so every key attestation carries a c_nonce it handed out
/// minutes before (Appendix F.1, F.3); an older `iat` is a provider clock
/// far off, or a signature made with a retired key.
pub const KEY_MAX_AGE: i64 = DAY;

/// `oauth-client-attestation+jwt`: `exp` required, `iat` OPTIONAL
/// (draft-ietf-oauth-attestation-based-client-auth §5.1).
pub const WALLET: Kind = Kind {
    name: "wallet attestation",
    typ: "oauth-client-attestation+jwt",
    iat_required: false,
    exp_required: true,
    max_age: WALLET_MAX_LIFETIME,
    max_lifetime: WALLET_MAX_LIFETIME,
};

/// `key-attestation+jwt` in a `jwt` proof's `key_attestation` header
/// (OpenID4VCI 1.0 Appendix D.1: `iat` required; `exp` "MUST be present if
/// the attestation is used with the JWT proof type").
pub const KEY: Kind = Kind {
    name: "key attestation",
    typ: "key-attestation+jwt",
    iat_required: true,
    exp_required: true,
    max_age: KEY_MAX_AGE,
    max_lifetime: KEY_MAX_LIFETIME,
};

/// `key-attestation+jwt` as the `attestation` proof type (Appendix F.3):
/// `exp` optional; without it, [`KEY_MAX_AGE`] on `iat` bounds it.
pub const KEY_AS_PROOF: Kind = Kind {
    exp_required: false,
    ..KEY
};

/// What the caller expects of an attestation.
#[derive(Debug, Clone, Copy)]
pub struct Expect<'a> {
    /// The kind, with its time rules.
    pub kind: Kind,
    /// The trusted wallet provider roots.
    pub roots: &'a Anchors,
    /// Accepted `alg` values.
    pub algs: &'a [&'a str],
    /// Unix seconds.
    pub now: i64,
    /// Clock skew tolerated for an `iat` or `nbf` in the future and an
    /// `exp` in the past.
    pub skew: i64,
}

/// An attestation whose signature and chain were checked.
#[derive(Debug, Clone)]
pub struct Attested {
    /// The JWT's claims.
    pub claims: Map<String, Value>,
    /// Who signed it: the subject of the provider's leaf certificate
    /// (RFC 4514-like, e.g. `CN=Example Wallet attestations`).
    pub provider: String,
    /// `iat`, when it has one (a wallet attestation may not).
    pub iat: Option<i64>,
    /// Until when it is accepted: its `exp`, or, without one, the end of
    /// its maximum age (`iat` + the kind's `max_age`).
    pub exp: i64,
}

/// The time claims, checked before anything is verified.
struct Times {
    iat: Option<i64>,
    /// When the chain must have been valid: `iat`, else `nbf`, else now.
    signed_at: i64,
    exp: Option<i64>,
    /// `exp`, or the end of the maximum age.
    until: i64,
}

impl Times {
    fn check(claims: &Map<String, Value>, e: &Expect<'_>) -> Result<Self, AttestationError> {
        let kind = e.kind.name;
        let number = |claim: &'static str, required: bool| match claims.get(claim) {
            None if !required => Ok(None),
            Some(v) if v.is_i64() => Ok(v.as_i64()),
            _ => Err(AttestationError::MissingClaim { kind, claim }),
        };
        let iat = number("iat", e.kind.iat_required)?;
        let exp = number("exp", e.kind.exp_required)?;
        let nbf = number("nbf", false)?;
        let latest = e.now.saturating_add(e.skew);
        if iat.is_some_and(|iat| iat > latest) {
            return Err(AttestationError::FromTheFuture { kind });
        }
        if nbf.is_some_and(|nbf| nbf > latest) {
            return Err(AttestationError::NotYetValid { kind });
        }
        if exp.is_some_and(|exp| exp.saturating_add(e.skew) <= e.now) {
            return Err(AttestationError::Expired { kind });
        }
        let max_age = e.kind.max_age;
        if iat.is_some_and(|iat| e.now.saturating_sub(iat) > max_age) {
            return Err(AttestationError::TooOld { kind, max_age });
        }
        let signed_at = iat.or(nbf).unwrap_or(e.now);
        let max_lifetime = e.kind.max_lifetime;
        if exp.is_some_and(|exp| exp.saturating_sub(signed_at) > max_lifetime) {
            return Err(AttestationError::TooLongLived { kind, max_lifetime });
        }
        Ok(Times {
            iat,
            signed_at,
            exp,
            until: exp.unwrap_or_else(|| signed_at.saturating_add(max_age)),
        })
    }
}

/// Checks an attestation JWT from its shape to the wallet provider's
/// signature (see the module docs for the order).
pub fn verify(jwt: &str, e: &Expect<'_>) -> Result<Attested, AttestationError> {
    let kind = e.kind.name;
    let jws = Jws::decode(jwt).map_err(|source| AttestationError::Malformed { kind, source })?;
    if jws.typ() != Some(e.kind.typ) {
        return Err(AttestationError::WrongTyp {
            kind,
            typ: e.kind.typ,
        });
    }
    if !jws.alg().is_some_and(|a| e.algs.contains(&a)) {
        return Err(AttestationError::AlgNotAllowed {
            kind,
            accepted: e.algs.join(", "),
        });
    }
    let claims = jws
        .payload_json()
        .map_err(|source| AttestationError::Malformed { kind, source })?;
    let times = Times::check(&claims, e)?;
    let x5c = jws
        .header
        .get("x5c")
        .ok_or(AttestationError::NoX5c { kind })?;
    // The provider's certificate must have been valid when it signed, and
    // what it signed cannot outlive it.
    let chain = e
        .roots
        .validate(x5c, times.signed_at)
        .map_err(|source| AttestationError::Untrusted { kind, source })?;
    let not_after = chain.leaf_not_after();
    if times
        .exp
        .is_some_and(|exp| not_after.is_none_or(|end| exp > end))
    {
        return Err(AttestationError::OutlivesCertificate { kind });
    }
    jws.verify(chain.leaf_key())
        .map_err(|source| AttestationError::Signature { kind, source })?;
    let provider = chain
        .path()
        .first()
        .map(|leaf| subject(leaf))
        .unwrap_or_default();
    Ok(Attested {
        claims,
        provider,
        iat: times.iat,
        exp: times.until,
    })
}

/// `CN=…, O=…` of a certificate's subject.
fn subject(cert: &openssl::x509::X509Ref) -> String {
    cert.subject_name()
        .entries()
        .filter_map(|e| {
            let key = e.object().nid().short_name().ok()?;
            let value = e.data().to_string().ok()?;
            Some(format!("{key}={value}"))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
pub(crate) mod tests {
    use openssl::x509::X509;
    use serde_json::json;

    use super::*;
    use crate::crypto::x509::certify::signing_key;
    use crate::crypto::x509::tests::{Ca, NOW, Spec, anchors, x5c};
    use crate::crypto::{Algorithm, SigningKey, b64url, jws};

    const ALGS: &[&str] = &["ES256"];

    /// A wallet provider: a root and the leaf that signs.
    pub(crate) struct Provider {
        pub root: Ca,
        pub leaf: X509,
        pub signer: SigningKey,
    }

    impl Provider {
        pub fn new(leaf: Spec<'_>) -> Self {
            let root = Ca::root("Wallet Provider Root");
            let (leaf, key) = root.issue(leaf);
            let signer = signing_key(&key).unwrap();
            Provider { root, leaf, signer }
        }

        pub fn good() -> Self {
            Self::new(Spec::leaf("Wallet Provider attestations"))
        }

        /// A JWT with `header` members over the defaults (`typ`, `x5c`),
        /// signed by `signer`.
        pub fn sign_as(&self, signer: &SigningKey, header: Value, claims: Value) -> String {
            let mut h = Map::new();
            h.insert("typ".into(), KEY.typ.into());
            h.insert("x5c".into(), x5c(&[&self.leaf]));
            for (k, v) in header.as_object().unwrap() {
                if v.is_null() {
                    h.remove(k);
                } else {
                    h.insert(k.clone(), v.clone());
                }
            }
            jws::sign(signer, &h, claims.to_string().as_bytes()).unwrap()
        }

        pub fn sign(&self, header: Value, claims: Value) -> String {
            self.sign_as(&self.signer, header, claims)
        }

        pub fn roots(&self) -> Anchors {
            anchors(&[&self.root.cert])
        }
    }

    fn expect(roots: &Anchors) -> Expect<'_> {
        Expect {
            kind: KEY,
            roots,
            algs: ALGS,
            now: NOW,
            skew: 60,
        }
    }

    fn expect_kind(roots: &Anchors, kind: Kind) -> Expect<'_> {
        Expect {
            kind,
            ..expect(roots)
        }
    }

    fn claims(iat: i64, exp: i64) -> Value {
        json!({"iss": "https://wallet-provider.example", "iat": iat, "exp": exp,
               "attested_keys": []})
    }

    #[test]
    fn a_provider_attestation_verifies_and_names_its_signer() {
        let p = Provider::good();
        let roots = p.roots();
        let a = verify(
            &p.sign(json!({}), claims(NOW - 10, NOW + 3600)),
            &expect(&roots),
        )
        .unwrap();
        assert_eq!(a.provider, "CN=Wallet Provider attestations");
        assert_eq!((a.iat, a.exp), (Some(NOW - 10), NOW + 3600));
        assert_eq!(a.claims["iss"], "https://wallet-provider.example");
        // An `iat` within the skew is fine.
        assert!(
            verify(
                &p.sign(json!({}), claims(NOW + 60, NOW + 3600)),
                &expect(&roots)
            )
            .is_ok()
        );
    }

    #[test]
    fn another_providers_root_is_untrusted() {
        let p = Provider::good();
        let other = Provider::good();
        let roots = other.roots();
        let e = verify(&p.sign(json!({}), claims(NOW, NOW + 3600)), &expect(&roots)).unwrap_err();
        assert_eq!(
            e,
            AttestationError::Untrusted {
                kind: "key attestation",
                source: ChainError::UntrustedRoot
            }
        );
        assert_eq!(e.reason(), "untrusted_wallet_provider");
        assert_eq!(
            e.to_string(),
            "the key attestation is not from a trusted wallet provider: the certificate chain does not lead to a configured trust anchor"
        );
        // No roots at all: the same.
        let none = Anchors::default();
        let e = verify(&p.sign(json!({}), claims(NOW, NOW + 3600)), &expect(&none)).unwrap_err();
        assert_eq!(e.reason(), "untrusted_wallet_provider");
    }

    #[test]
    fn an_expired_attestation_is_refused() {
        let p = Provider::good();
        let roots = p.roots();
        // Expired beyond the skew.
        let jwt = p.sign(json!({}), claims(NOW - 7200, NOW - 61));
        let e = verify(&jwt, &expect(&roots)).unwrap_err();
        assert_eq!(
            e,
            AttestationError::Expired {
                kind: "key attestation"
            }
        );
        assert_eq!(e.to_string(), "the key attestation has expired");
        // Within it: accepted.
        assert!(
            verify(
                &p.sign(json!({}), claims(NOW - 7200, NOW - 59)),
                &expect(&roots)
            )
            .is_ok()
        );
        // Issued in the future beyond the skew.
        let e = verify(
            &p.sign(json!({}), claims(NOW + 61, NOW + 3600)),
            &expect(&roots),
        )
        .unwrap_err();
        assert_eq!(
            e,
            AttestationError::FromTheFuture {
                kind: "key attestation"
            }
        );
    }

    #[test]
    fn the_typ_must_be_the_kinds() {
        let p = Provider::good();
        let roots = p.roots();
        for typ in [
            json!("JWT"),
            json!("oauth-client-attestation+jwt"),
            Value::Null,
        ] {
            let jwt = p.sign(json!({"typ": typ}), claims(NOW, NOW + 3600));
            let e = verify(&jwt, &expect(&roots)).unwrap_err();
            assert_eq!(e.reason(), "wrong_typ", "{typ}");
            assert_eq!(
                e.to_string(),
                "the key attestation's `typ` must be `key-attestation+jwt`"
            );
        }
        // The same JWT is a wallet attestation only when typed as one.
        let jwt = p.sign(json!({"typ": WALLET.typ}), claims(NOW, NOW + 3600));
        let wallet = Expect {
            kind: WALLET,
            ..expect(&roots)
        };
        assert!(verify(&jwt, &wallet).is_ok());
    }

    #[test]
    fn a_bad_signature_is_refused() {
        let p = Provider::good();
        let roots = p.roots();
        // Signed by another key than the certificate's.
        let stranger = SigningKey::generate(Algorithm::Es256).unwrap();
        let jwt = p.sign_as(&stranger, json!({}), claims(NOW, NOW + 3600));
        let e = verify(&jwt, &expect(&roots)).unwrap_err();
        assert_eq!(e.reason(), "bad_signature");
        assert!(
            e.to_string()
                .starts_with("the key attestation's signature does not verify"),
            "{e}"
        );
        // A payload changed after signing.
        let good = p.sign(json!({}), claims(NOW, NOW + 3600));
        let mut parts: Vec<&str> = good.split('.').collect();
        let forged = b64url(claims(NOW, NOW + 7200).to_string());
        parts[1] = &forged;
        let e = verify(&parts.join("."), &expect(&roots)).unwrap_err();
        assert_eq!(e.reason(), "bad_signature");
    }

    #[test]
    fn the_certificate_must_be_valid_at_iat() {
        // A leaf valid from an hour ago cannot vouch for what was signed
        // before.
        let p = Provider::new(Spec {
            not_before: NOW - 3600,
            ..Spec::leaf("New attestations")
        });
        let roots = p.roots();
        let jwt = p.sign(json!({}), claims(NOW - 7200, NOW + 3600));
        let e = verify(&jwt, &expect(&roots)).unwrap_err();
        assert_eq!(
            e,
            AttestationError::Untrusted {
                kind: "key attestation",
                source: ChainError::NotYetValid { depth: 0 }
            }
        );
        // A leaf expired ten minutes ago signed nothing since.
        let lapsed = Provider::new(Spec {
            not_after: NOW - 600,
            ..Spec::leaf("Lapsed attestations")
        });
        let roots = lapsed.roots();
        let jwt = lapsed.sign(json!({}), claims(NOW - 10, NOW + 3600));
        let e = verify(&jwt, &expect(&roots)).unwrap_err();
        assert_eq!(
            e,
            AttestationError::Untrusted {
                kind: "key attestation",
                source: ChainError::Expired { depth: 0 }
            }
        );
    }

    /// The key of a retired leaf cannot make attestations that live on:
    /// dated back into the leaf's validity, their `exp` may not pass its
    /// `notAfter`, and without `exp` the maximum age bounds them.
    #[test]
    fn what_a_lapsed_leaf_signed_lives_no_longer_than_the_leaf() {
        let lapsed = Provider::new(Spec {
            not_after: NOW - 600,
            ..Spec::leaf("Lapsed attestations")
        });
        let roots = lapsed.roots();
        let jwt = lapsed.sign(json!({}), claims(NOW - 3600, NOW + 3600));
        let e = verify(&jwt, &expect(&roots)).unwrap_err();
        assert_eq!(
            e,
            AttestationError::OutlivesCertificate {
                kind: "key attestation"
            }
        );
        assert_eq!(e.reason(), "outlives_certificate");
        assert_eq!(
            e.to_string(),
            "the key attestation's `exp` is later than its wallet provider certificate's expiry"
        );
        // The attestation proof type without `exp`: an `iat` within the
        // maximum age only.
        let proof = expect_kind(&roots, KEY_AS_PROOF);
        let recent = json!({"iat": NOW - 3600, "attested_keys": []});
        let a = verify(&lapsed.sign(json!({}), recent), &proof).unwrap();
        assert_eq!(a.exp, NOW - 3600 + KEY_MAX_AGE);
        let old = json!({"iat": NOW - KEY_MAX_AGE - 1, "attested_keys": []});
        let e = verify(&lapsed.sign(json!({}), old), &proof).unwrap_err();
        assert_eq!(
            e,
            AttestationError::TooOld {
                kind: "key attestation",
                max_age: KEY_MAX_AGE
            }
        );
        // A valid leaf: `exp` up to its `notAfter` (NOW + a day).
        let p = Provider::good();
        let roots = p.roots();
        let until = |exp| verify(&p.sign(json!({}), claims(NOW, exp)), &expect(&roots));
        assert!(until(NOW + 86_400).is_ok());
        assert_eq!(
            until(NOW + 86_401).unwrap_err().reason(),
            "outlives_certificate"
        );
    }

    #[test]
    fn an_old_iat_or_a_long_lifetime_is_refused() {
        let p = Provider::good();
        let roots = p.roots();
        let e = verify(
            &p.sign(json!({}), claims(NOW - KEY_MAX_AGE - 1, NOW + 60)),
            &expect(&roots),
        )
        .unwrap_err();
        assert_eq!(e.reason(), "too_old");
        assert_eq!(
            e.to_string(),
            "the key attestation's `iat` is more than 1 day old"
        );
        let e = verify(
            &p.sign(json!({}), claims(NOW, NOW + KEY_MAX_LIFETIME + 1)),
            &expect(&roots),
        )
        .unwrap_err();
        assert_eq!(e.reason(), "too_long_lived");
        assert_eq!(
            e.to_string(),
            "the key attestation's `exp` is more than 365 days after its `iat`"
        );
        // A wallet attestation: 30 days either way.
        let wallet = expect_kind(&roots, WALLET);
        let typed = json!({"typ": WALLET.typ});
        let e = verify(
            &p.sign(typed.clone(), claims(NOW - 31 * 86_400, NOW + 60)),
            &wallet,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "the wallet attestation's `iat` is more than 30 days old"
        );
        let e = verify(&p.sign(typed, claims(NOW, NOW + 31 * 86_400)), &wallet).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the wallet attestation's `exp` is more than 30 days after its `iat`"
        );
    }

    #[test]
    fn extreme_times_are_refused_without_overflow() {
        let p = Provider::good();
        let roots = p.roots();
        let reason = |iat: i64, exp: i64| {
            verify(&p.sign(json!({}), claims(iat, exp)), &expect(&roots))
                .unwrap_err()
                .reason()
        };
        assert_eq!(reason(NOW, i64::MAX), "too_long_lived");
        assert_eq!(reason(NOW, i64::MIN), "expired");
        assert_eq!(reason(i64::MIN, NOW + 60), "too_old");
        assert_eq!(reason(i64::MAX, NOW + 60), "from_the_future");
        let nbf = json!({"iat": NOW, "exp": NOW + 60, "nbf": i64::MAX, "attested_keys": []});
        let e = verify(&p.sign(json!({}), nbf), &expect(&roots)).unwrap_err();
        assert_eq!(e.reason(), "not_yet_valid");
    }

    #[test]
    fn nbf_in_the_future_is_refused() {
        let p = Provider::good();
        let roots = p.roots();
        let with_nbf =
            |nbf: i64| json!({"iat": NOW - 10, "nbf": nbf, "exp": NOW + 3600, "attested_keys": []});
        assert!(verify(&p.sign(json!({}), with_nbf(NOW + 60)), &expect(&roots)).is_ok());
        let e = verify(&p.sign(json!({}), with_nbf(NOW + 61)), &expect(&roots)).unwrap_err();
        assert_eq!(
            e,
            AttestationError::NotYetValid {
                kind: "key attestation"
            }
        );
        assert_eq!(
            e.to_string(),
            "the key attestation's `nbf` is in the future"
        );
    }

    /// draft-ietf-oauth-attestation-based-client-auth §5.1: a wallet
    /// attestation's `iat` is OPTIONAL (a key attestation's is not).
    #[test]
    fn a_wallet_attestation_may_omit_iat() {
        let p = Provider::new(Spec {
            not_before: NOW - 3600,
            ..Spec::leaf("Wallet attestations")
        });
        let roots = p.roots();
        let wallet = expect_kind(&roots, WALLET);
        let typed = json!({"typ": WALLET.typ});
        let a = verify(&p.sign(typed.clone(), json!({"exp": NOW + 3600})), &wallet).unwrap();
        assert_eq!((a.iat, a.exp), (None, NOW + 3600));
        // The chain is then checked at `nbf`.
        let early = json!({"nbf": NOW - 7200, "exp": NOW + 3600});
        let e = verify(&p.sign(typed.clone(), early), &wallet).unwrap_err();
        assert_eq!(
            e,
            AttestationError::Untrusted {
                kind: "wallet attestation",
                source: ChainError::NotYetValid { depth: 0 }
            }
        );
        // Its lifetime counts from `nbf`, else from now.
        let long = json!({"nbf": NOW - 60, "exp": NOW - 60 + WALLET_MAX_LIFETIME + 1});
        assert_eq!(
            verify(&p.sign(typed.clone(), long), &wallet)
                .unwrap_err()
                .reason(),
            "too_long_lived"
        );
        let long = json!({"exp": NOW + WALLET_MAX_LIFETIME + 1});
        assert_eq!(
            verify(&p.sign(typed, long), &wallet).unwrap_err().reason(),
            "too_long_lived"
        );
        // A key attestation needs its `iat`.
        let e = verify(
            &p.sign(json!({}), json!({"exp": NOW + 60})),
            &expect(&roots),
        )
        .unwrap_err();
        assert_eq!(
            e,
            AttestationError::MissingClaim {
                kind: "key attestation",
                claim: "iat"
            }
        );
    }

    /// OpenID4VCI 1.0 Appendix D.1: `exp` is required in a `jwt` proof's
    /// header, optional as the `attestation` proof type.
    #[test]
    fn exp_is_required_where_the_kind_says() {
        let p = Provider::good();
        let roots = p.roots();
        let no_exp = p.sign(json!({}), json!({"iat": NOW - 10, "attested_keys": []}));
        let e = verify(&no_exp, &expect(&roots)).unwrap_err();
        assert_eq!(e.to_string(), "the key attestation has no numeric `exp`");
        let a = verify(&no_exp, &expect_kind(&roots, KEY_AS_PROOF)).unwrap();
        assert_eq!((a.iat, a.exp), (Some(NOW - 10), NOW - 10 + KEY_MAX_AGE));
        // A wallet attestation always needs one.
        let typed = p.sign(json!({"typ": WALLET.typ}), json!({"iat": NOW}));
        let e = verify(&typed, &expect_kind(&roots, WALLET)).unwrap_err();
        assert_eq!(e.to_string(), "the wallet attestation has no numeric `exp`");
    }

    /// Unverified times only refuse, and before the costly steps: an
    /// expired attestation is "expired" whoever signed it.
    #[test]
    fn times_are_checked_before_the_chain_and_the_signature() {
        let p = Provider::good();
        let stranger = SigningKey::generate(Algorithm::Es256).unwrap();
        let expired = p.sign_as(&stranger, json!({}), claims(NOW - 7200, NOW - 3600));
        let untrusted = Anchors::default();
        assert_eq!(
            verify(&expired, &expect(&untrusted)).unwrap_err().reason(),
            "expired"
        );
        let no_x5c = p.sign(
            json!({"x5c": null}),
            claims(NOW - KEY_MAX_AGE - 1, NOW + 60),
        );
        assert_eq!(
            verify(&no_x5c, &expect(&untrusted)).unwrap_err().reason(),
            "too_old"
        );
        // Then the chain, then the signature.
        let roots = p.roots();
        let forged = p.sign_as(&stranger, json!({}), claims(NOW, NOW + 60));
        assert_eq!(
            verify(&forged, &expect(&untrusted)).unwrap_err().reason(),
            "untrusted_wallet_provider"
        );
        assert_eq!(
            verify(&forged, &expect(&roots)).unwrap_err().reason(),
            "bad_signature"
        );
    }

    #[test]
    fn the_header_and_claims_have_their_shape() {
        let p = Provider::good();
        let roots = p.roots();
        let reason = |jwt: &str| verify(jwt, &expect(&roots)).unwrap_err().reason();
        assert_eq!(reason("not a jwt"), "malformed");
        assert_eq!(
            reason(&p.sign(json!({"x5c": null}), claims(NOW, NOW + 3600))),
            "no_x5c"
        );
        assert_eq!(
            reason(&p.sign(json!({}), json!({"iat": NOW, "attested_keys": []}))),
            "missing_claim"
        );
        assert_eq!(
            reason(&p.sign(json!({}), json!({"exp": NOW + 60, "attested_keys": []}))),
            "missing_claim"
        );
        // Present times are integers.
        for bad in [json!("now"), json!(1.8e9), json!(null)] {
            let c = json!({"iat": bad, "exp": NOW + 60, "attested_keys": []});
            assert_eq!(reason(&p.sign(json!({}), c)), "missing_claim", "{bad}");
            let c = json!({"iat": NOW, "exp": NOW + 60, "nbf": bad, "attested_keys": []});
            assert_eq!(reason(&p.sign(json!({}), c)), "missing_claim", "nbf {bad}");
        }
        // An alg the caller does not accept.
        let ed = SigningKey::generate(Algorithm::EdDsa).unwrap();
        let jwt = p.sign_as(&ed, json!({}), claims(NOW, NOW + 3600));
        let e = verify(&jwt, &expect(&roots)).unwrap_err();
        assert_eq!(e.reason(), "alg_not_allowed");
        assert_eq!(
            e.to_string(),
            "the key attestation's `alg` is not one this server accepts (ES256)"
        );
        // A CA certificate cannot sign attestations.
        let root = Ca::root("Root");
        let (ca_leaf, ca_key) = root.issue(Spec::ca("Sub CA"));
        let mut h = Map::new();
        h.insert("typ".into(), KEY.typ.into());
        h.insert("x5c".into(), x5c(&[&ca_leaf]));
        let jwt = jws::sign(
            &signing_key(&ca_key).unwrap(),
            &h,
            claims(NOW, NOW + 3600).to_string().as_bytes(),
        )
        .unwrap();
        let roots = anchors(&[&root.cert]);
        let e = verify(&jwt, &expect(&roots)).unwrap_err();
        assert_eq!(
            e,
            AttestationError::Untrusted {
                kind: "key attestation",
                source: ChainError::LeafIsCa
            }
        );
    }
}
