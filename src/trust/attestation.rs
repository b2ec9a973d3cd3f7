//! JWTs a wallet provider signs about a wallet: wallet attestations (OAuth
//! 2.0 Attestation-Based Client Authentication,
//! `oauth-client-attestation+jwt`) and key attestations (OpenID4VCI 1.0
//! Appendix D, `key-attestation+jwt`). Both are trusted the same way: the
//! header's `x5c` chains to a configured wallet provider root
//! (`[attestation] wallet_provider_roots`), the leaf is no CA, the chain is
//! valid at the attestation's `iat`, the leaf's key verifies the signature,
//! and the attestation has not expired. What each kind then requires of
//! its claims is the caller's (`key_attestation`, the token endpoint).

use serde_json::{Map, Value};

use crate::crypto::jws::{Jws, JwsError};
use crate::crypto::x509::{Anchors, ChainError};

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
    #[error("the {kind} has no numeric `{claim}`")]
    MissingClaim {
        kind: &'static str,
        claim: &'static str,
    },
    #[error("the {kind} has expired")]
    Expired { kind: &'static str },
    #[error("the {kind}'s `iat` is in the future")]
    FromTheFuture { kind: &'static str },
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
        }
    }
}

/// Which attestation is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kind {
    /// Its name in messages ("wallet attestation", "key attestation").
    pub name: &'static str,
    /// The JOSE `typ` it must carry.
    pub typ: &'static str,
}

/// `oauth-client-attestation+jwt`.
pub const WALLET: Kind = Kind {
    name: "wallet attestation",
    typ: "oauth-client-attestation+jwt",
};

/// `key-attestation+jwt` (OpenID4VCI 1.0 Appendix D.1).
pub const KEY: Kind = Kind {
    name: "key attestation",
    typ: "key-attestation+jwt",
};

/// What the caller expects of an attestation.
#[derive(Debug, Clone, Copy)]
pub struct Expect<'a> {
    pub kind: Kind,
    /// The trusted wallet provider roots.
    pub roots: &'a Anchors,
    /// Accepted `alg` values.
    pub algs: &'a [&'a str],
    /// Unix seconds.
    pub now: i64,
    /// Clock skew tolerated for an `iat` in the future and an `exp` in
    /// the past.
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
    pub iat: i64,
    pub exp: i64,
}

/// Checks an attestation JWT from the wallet provider's signature to its
/// lifetime (see the module docs).
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
    let number = |claim| {
        claims
            .get(claim)
            .and_then(Value::as_i64)
            .ok_or(AttestationError::MissingClaim { kind, claim })
    };
    let (iat, exp) = (number("iat")?, number("exp")?);
    let x5c = jws
        .header
        .get("x5c")
        .ok_or(AttestationError::NoX5c { kind })?;
    // The provider's certificate must have been valid when it signed.
    let chain = e
        .roots
        .validate(x5c, iat)
        .map_err(|source| AttestationError::Untrusted { kind, source })?;
    jws.verify(chain.leaf_key())
        .map_err(|source| AttestationError::Signature { kind, source })?;
    if iat > e.now + e.skew {
        return Err(AttestationError::FromTheFuture { kind });
    }
    if exp + e.skew <= e.now {
        return Err(AttestationError::Expired { kind });
    }
    let provider = chain
        .path()
        .first()
        .map(|leaf| subject(leaf))
        .unwrap_or_default();
    Ok(Attested {
        claims,
        provider,
        iat,
        exp,
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
    use openssl::bn::{BigNum, BigNumContext};
    use openssl::pkey::{PKey, Private};
    use openssl::x509::X509;
    use serde_json::json;

    use super::*;
    use crate::crypto::x509::tests::{Ca, NOW, Spec, anchors, x5c};
    use crate::crypto::{Algorithm, SigningKey, b64url, jws};

    const DAY: i64 = 86_400;
    const ALGS: &[&str] = &["ES256"];

    /// The project's signing key for an OpenSSL P-256 key.
    pub(crate) fn signing_key(key: &PKey<Private>) -> SigningKey {
        let ec = key.ec_key().unwrap();
        let mut ctx = BigNumContext::new().unwrap();
        let (mut x, mut y) = (BigNum::new().unwrap(), BigNum::new().unwrap());
        ec.public_key()
            .affine_coordinates(ec.group(), &mut x, &mut y, &mut ctx)
            .unwrap();
        let fixed = |n: &openssl::bn::BigNumRef| b64url(n.to_vec_padded(32).unwrap());
        SigningKey::from_jwk(&json!({"kty": "EC", "crv": "P-256",
            "x": fixed(&x), "y": fixed(&y), "d": fixed(ec.private_key())}))
        .unwrap()
    }

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
            let signer = signing_key(&key);
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
        assert_eq!((a.iat, a.exp), (NOW - 10, NOW + 3600));
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
        // A leaf valid from yesterday cannot vouch for what was signed
        // before.
        let p = Provider::new(Spec {
            not_before: NOW - DAY,
            ..Spec::leaf("New attestations")
        });
        let roots = p.roots();
        let jwt = p.sign(json!({}), claims(NOW - 2 * DAY, NOW + 3600));
        let e = verify(&jwt, &expect(&roots)).unwrap_err();
        assert_eq!(
            e,
            AttestationError::Untrusted {
                kind: "key attestation",
                source: ChainError::NotYetValid { depth: 0 }
            }
        );
        // A leaf expired since: what it signed while valid still holds
        // until the attestation's own `exp`.
        let lapsed = Provider::new(Spec {
            not_after: NOW - DAY,
            ..Spec::leaf("Lapsed attestations")
        });
        let roots = lapsed.roots();
        let jwt = lapsed.sign(json!({}), claims(NOW - 2 * DAY, NOW + 3600));
        assert!(verify(&jwt, &expect(&roots)).is_ok());
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
            &signing_key(&ca_key),
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
