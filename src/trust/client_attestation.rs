//! OAuth 2.0 Attestation-Based Client Authentication
//! (draft-ietf-oauth-attestation-based-client-auth-10), pure: a wallet
//! instance authenticates with the wallet attestation its wallet provider
//! signed (`OAuth-Client-Attestation`, `oauth-client-attestation+jwt`) and
//! a proof of possession of the attested key (`OAuth-Client-Attestation-PoP`,
//! `oauth-client-attestation-pop+jwt`). The caller supplies the trusted
//! roots, the audience, the time and a check for server-provided
//! challenges; replay protection of the PoP's `jti` (§12.1) is the
//! caller's, through the store, keyed by [`Verified::replay_key`] until
//! [`Verified::replay_expires_at`].
//!
//! Rules, in the order they are checked (each failure names its rule).
//! What costs nothing comes first: an outsider pairing a public wallet
//! attestation with a junk PoP is refused before any signature is checked.
//! 1. the PoP is a compact JWS with `typ: oauth-client-attestation-pop+jwt`
//!    and an accepted `alg` (§6.2 rules 2–3);
//! 2. its `aud` (read before its signature is checked, as are rules 3
//!    and 4) is the authorization server's issuer identifier, byte for
//!    byte (a string, or an array of that one value; §6.2 rule 7);
//! 3. its `iat` is within [`IAT_WINDOW`] seconds of now, either way;
//! 4. its `jti` is a string of 1 to [`MAX_JTI`] characters;
//! 5. the attestation is trusted ([`super::attestation::verify`]: `typ`,
//!    `alg`, `x5c` chain to a wallet provider root valid at `iat`, leaf no
//!    CA, signature, `exp`);
//! 6. its `sub` is a client id (1 to 255 printable ASCII characters, RFC
//!    6749 Appendix A.1), and equals the request's `client_id` when the
//!    request has one (§6.1 rule 7);
//! 7. its `cnf.jwk` is a public key (private members are refused, §6.1
//!    rule 5);
//! 8. the PoP is signed by that `cnf` key (§6.2 rule 4);
//! 9. its `challenge`, when present, is one the server made and still
//!    accepts; when the server requires one and there is none, or it is
//!    not accepted, the caller answers `use_attestation_challenge` with a
//!    fresh challenge (§6.4, §5.2).

use serde_json::Value;

use super::attestation::{self, AttestationError, Attested};
use crate::crypto::jwk::JwkError;
use crate::crypto::jws::{Jws, JwsError};
use crate::crypto::x509::Anchors;
use crate::crypto::{KeyError, PublicKey};

/// `typ` of the proof of possession (§4.1).
pub const POP_TYP: &str = "oauth-client-attestation-pop+jwt";
/// Seconds a PoP's `iat` may lie before or after the server's clock; also
/// the clock skew tolerated for the attestation's `iat` and `exp`.
pub const IAT_WINDOW: i64 = 60;
/// Longest `jti` accepted, in characters.
pub const MAX_JTI: usize = 256;
/// Longest client id (`sub`) accepted, in bytes (RFC 6749 Appendix A.1
/// allows any length; 255 is what the rest of the server accepts).
pub const MAX_CLIENT_ID: usize = 255;

/// Why a wallet attestation and its proof of possession were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientAttestationError {
    #[error(transparent)]
    Attestation(#[from] AttestationError),
    #[error("the wallet attestation has no `sub` naming the client")]
    MissingSub,
    #[error(
        "the wallet attestation's `sub` is not a usable client id (1 to 255 printable ASCII characters)"
    )]
    BadSub,
    #[error("`client_id` differs from the `sub` of the wallet attestation")]
    ClientIdMismatch,
    #[error("the wallet attestation has no `cnf.jwk`")]
    MissingCnf,
    #[error("the wallet attestation's `cnf.jwk` is not an acceptable public key: {0}")]
    BadCnf(JwkError),
    #[error("the client attestation PoP is not a compact JWS: {0}")]
    PopMalformed(JwsError),
    #[error("the client attestation PoP's `typ` must be `oauth-client-attestation-pop+jwt`")]
    PopWrongTyp,
    #[error("the client attestation PoP's `alg` is not one this server accepts ({0})")]
    PopAlgNotAllowed(String),
    #[error(
        "the client attestation PoP's `alg` does not match the key in the wallet attestation's `cnf`"
    )]
    PopAlgKeyMismatch,
    #[error(
        "the client attestation PoP is not signed by the key in the wallet attestation's `cnf`"
    )]
    PopSignature,
    #[error("the client attestation PoP has no `{0}` claim of the right type")]
    PopMissingClaim(&'static str),
    #[error(
        "the client attestation PoP's `aud` is not this authorization server's issuer identifier"
    )]
    PopAudience,
    #[error(
        "the client attestation PoP's `iat` is more than 60 seconds away from the server's time"
    )]
    PopIatOutOfWindow,
    #[error("the client attestation PoP's `jti` must be 1 to 256 characters")]
    PopBadJti,
    #[error(
        "a server-provided challenge is required in the client attestation PoP: use the one in \
         the `OAuth-Client-Attestation-Challenge` header"
    )]
    ChallengeRequired,
    #[error(
        "the client attestation PoP's `challenge` is unknown or expired: use the one in the \
         `OAuth-Client-Attestation-Challenge` header"
    )]
    StaleChallenge,
}

impl ClientAttestationError {
    /// Whether the answer is `use_attestation_challenge` (with a fresh
    /// `OAuth-Client-Attestation-Challenge`, §5.2).
    pub fn wants_challenge(&self) -> bool {
        matches!(
            self,
            ClientAttestationError::ChallengeRequired | ClientAttestationError::StaleChallenge
        )
    }

    /// Whether the answer is `use_fresh_attestation` (§5.2): the wallet
    /// attestation has expired or is older than this server accepts; a new
    /// one from the wallet provider helps.
    pub fn wants_fresh_attestation(&self) -> bool {
        matches!(
            self,
            ClientAttestationError::Attestation(
                AttestationError::Expired { .. } | AttestationError::TooOld { .. }
            )
        )
    }

    /// The failed step, as a stable machine-readable name.
    pub fn reason(&self) -> &'static str {
        use ClientAttestationError::*;
        match self {
            Attestation(e) => e.reason(),
            MissingSub | BadSub => "bad_sub",
            ClientIdMismatch => "client_id_mismatch",
            MissingCnf | BadCnf(_) => "bad_cnf",
            PopMalformed(_) | PopWrongTyp | PopMissingClaim(_) => "malformed_pop",
            PopAlgNotAllowed(_) | PopAlgKeyMismatch => "pop_alg_not_allowed",
            PopSignature => "pop_not_signed_by_cnf_key",
            PopAudience => "pop_audience",
            PopIatOutOfWindow => "pop_iat",
            PopBadJti => "pop_jti",
            ChallengeRequired | StaleChallenge => "challenge",
        }
    }
}

/// What the server expects of a client attestation.
pub struct Expect<'a> {
    /// The trusted wallet provider roots.
    pub roots: &'a Anchors,
    /// Accepted JOSE `alg` values, for the attestation and the PoP.
    pub algs: &'a [&'a str],
    /// The authorization server's issuer identifier (RFC 8414).
    pub audience: &'a str,
    /// The request's `client_id`, if it has one.
    pub client_id: Option<&'a str>,
    /// Unix seconds.
    pub now: i64,
    /// Whether a PoP without `challenge` is refused.
    pub challenge_required: bool,
    /// Whether a `challenge` is one the server made and still accepts.
    pub challenge_ok: &'a dyn Fn(&str) -> bool,
}

/// An authenticated wallet instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The client id (the attestation's `sub`).
    pub client_id: String,
    /// The wallet provider: the subject of the attestation's leaf
    /// certificate.
    pub provider: String,
    /// RFC 7638 thumbprint of the wallet instance's key (`cnf.jwk`).
    pub instance_jkt: String,
    pub jti: String,
    pub iat: i64,
}

impl Verified {
    /// The replay-cache key of the PoP ([`super::replay_key`] of the
    /// instance key).
    pub fn replay_key(&self) -> String {
        super::replay_key(&self.instance_jkt, &self.jti)
    }

    /// When the replay marker may go: every node refuses the PoP by its
    /// `iat` from then on, while node clocks differ by less than
    /// `IAT_WINDOW + NODE_CLOCK_SKEW` (2 minutes; see
    /// [`super::replay_expires_at`]).
    pub fn replay_expires_at(&self) -> i64 {
        super::replay_expires_at(self.iat, IAT_WINDOW)
    }
}

/// Verifies the wallet attestation `attestation` and its proof of
/// possession `pop` against `expect` (the rules of the module comment).
pub fn verify(
    attestation: &str,
    pop: &str,
    expect: &Expect<'_>,
) -> Result<Verified, ClientAttestationError> {
    let pop = read_pop(pop, expect)?;
    let Attested {
        claims, provider, ..
    } = attestation::verify(
        attestation,
        &attestation::Expect {
            kind: attestation::WALLET,
            roots: expect.roots,
            algs: expect.algs,
            now: expect.now,
            skew: IAT_WINDOW,
        },
    )?;
    let client_id = match claims.get("sub") {
        Some(Value::String(s)) if client_id_ok(s) => s.clone(),
        Some(_) => return Err(ClientAttestationError::BadSub),
        None => return Err(ClientAttestationError::MissingSub),
    };
    if expect.client_id.is_some_and(|c| c != client_id) {
        return Err(ClientAttestationError::ClientIdMismatch);
    }
    let jwk = claims
        .get("cnf")
        .and_then(|c| c.get("jwk"))
        .ok_or(ClientAttestationError::MissingCnf)?;
    let instance = PublicKey::from_jwk(jwk).map_err(|e| {
        ClientAttestationError::BadCnf(match e {
            KeyError::Jwk(j) => j,
            _ => JwkError::NotOnCurve,
        })
    })?;
    pop.jws.verify(&instance).map_err(|e| match e {
        JwsError::AlgMismatch { .. } => ClientAttestationError::PopAlgKeyMismatch,
        JwsError::BadSignature => ClientAttestationError::PopSignature,
        e => ClientAttestationError::PopMalformed(e),
    })?;
    match &pop.challenge {
        None if expect.challenge_required => Err(ClientAttestationError::ChallengeRequired),
        None => Ok(()),
        Some(Value::String(c)) if (expect.challenge_ok)(c) => Ok(()),
        Some(_) => Err(ClientAttestationError::StaleChallenge),
    }?;
    Ok(Verified {
        client_id,
        provider,
        instance_jkt: instance.thumbprint().to_owned(),
        jti: pop.jti,
        iat: pop.iat,
    })
}

/// A PoP whose header and claims passed rules 1 to 4, its signature not
/// yet checked.
struct UnverifiedPop<'a> {
    jws: Jws<'a>,
    jti: String,
    iat: i64,
    challenge: Option<Value>,
}

/// Rules 1 to 4, from the PoP's header and unverified payload.
fn read_pop<'a>(
    pop: &'a str,
    expect: &Expect<'_>,
) -> Result<UnverifiedPop<'a>, ClientAttestationError> {
    let jws = Jws::decode(pop).map_err(ClientAttestationError::PopMalformed)?;
    if jws.typ() != Some(POP_TYP) {
        return Err(ClientAttestationError::PopWrongTyp);
    }
    if !jws.alg().is_some_and(|a| expect.algs.contains(&a)) {
        return Err(ClientAttestationError::PopAlgNotAllowed(
            expect.algs.join(", "),
        ));
    }
    let mut claims = jws
        .payload_json()
        .map_err(ClientAttestationError::PopMalformed)?;
    let audience_ok = match claims.get("aud") {
        Some(Value::String(a)) => a == expect.audience,
        Some(Value::Array(a)) => {
            matches!(a.as_slice(), [Value::String(one)] if one == expect.audience)
        }
        Some(_) => false,
        None => return Err(ClientAttestationError::PopMissingClaim("aud")),
    };
    if !audience_ok {
        return Err(ClientAttestationError::PopAudience);
    }
    let iat = claims
        .get("iat")
        .and_then(Value::as_i64)
        .ok_or(ClientAttestationError::PopMissingClaim("iat"))?;
    if iat.abs_diff(expect.now) > IAT_WINDOW as u64 {
        return Err(ClientAttestationError::PopIatOutOfWindow);
    }
    let jti = match claims.remove("jti") {
        Some(Value::String(jti)) => jti,
        _ => return Err(ClientAttestationError::PopMissingClaim("jti")),
    };
    if jti.is_empty() || jti.chars().count() > MAX_JTI {
        return Err(ClientAttestationError::PopBadJti);
    }
    Ok(UnverifiedPop {
        challenge: claims.remove("challenge"),
        jws,
        jti,
        iat,
    })
}

/// 1 to [`MAX_CLIENT_ID`] characters of `%x20-7E` (RFC 6749 Appendix A.1
/// `VSCHAR`), so no control character reaches a log line.
fn client_id_ok(client_id: &str) -> bool {
    (1..=MAX_CLIENT_ID).contains(&client_id.len())
        && client_id.bytes().all(|b| (0x20..=0x7E).contains(&b))
}

#[cfg(test)]
mod tests {
    use serde_json::{Map, json};

    use super::*;
    use crate::crypto::x509::tests::NOW;
    use crate::crypto::{Algorithm, SigningKey, b64url, jws};
    use crate::trust::attestation::tests::Provider;

    const AS: &str = "https://id.example.ru";

    fn challenge_ok(c: &str) -> bool {
        c == "server-challenge"
    }

    fn expect(roots: &Anchors) -> Expect<'_> {
        Expect {
            roots,
            algs: &["ES256"],
            audience: AS,
            client_id: None,
            now: NOW,
            challenge_required: false,
            challenge_ok: &challenge_ok,
        }
    }

    /// A wallet provider (root and leaf), a wallet instance key and the
    /// provider's attestation of that key as `client_id`.
    struct Fixture {
        pki: Provider,
        instance: SigningKey,
    }

    impl Fixture {
        fn new() -> Self {
            Fixture {
                pki: Provider::good(),
                instance: SigningKey::generate(Algorithm::Es256).unwrap(),
            }
        }

        fn attestation(&self, claims: Value) -> String {
            let mut c = json!({
                "sub": "wallet-client-1",
                "iat": NOW - 10,
                "exp": NOW + 3600,
                "cnf": {"jwk": self.instance.public().jwk_for_publication()},
            });
            merge(&mut c, claims);
            self.pki.sign(json!({"typ": attestation::WALLET.typ}), c)
        }

        fn good_attestation(&self) -> String {
            self.attestation(json!({}))
        }
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

    /// A PoP by `key` with `header` and `claims` members overriding the
    /// defaults (`null` removes one).
    fn pop(key: &SigningKey, header: Value, claims: Value) -> String {
        let mut h = json!({"typ": POP_TYP});
        merge(&mut h, header);
        let mut c = json!({"aud": AS, "jti": "pop-1", "iat": NOW});
        merge(&mut c, claims);
        let h: Map<String, Value> = h.as_object().unwrap().clone();
        jws::sign(key, &h, c.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn a_good_pair_authenticates_the_instance() {
        let f = Fixture::new();
        let roots = f.pki.roots();
        let p = pop(&f.instance, json!({}), json!({}));
        let v = verify(&f.good_attestation(), &p, &expect(&roots)).unwrap();
        assert_eq!(v.client_id, "wallet-client-1");
        assert_eq!(v.instance_jkt, f.instance.public().thumbprint());
        assert_eq!(v.jti, "pop-1");
        assert_eq!(v.iat, NOW);
        assert!(v.provider.contains("CN="), "{}", v.provider);
        // Two windows and the node clock skew: a node 119 s ahead of
        // another still holds the marker while the other accepts the PoP.
        assert_eq!(
            v.replay_expires_at(),
            NOW + 2 * IAT_WINDOW + crate::trust::NODE_CLOCK_SKEW
        );
        assert_eq!(v.replay_expires_at(), NOW + 180);
        // The same `jti` by another instance is another replay key.
        let other = Verified {
            instance_jkt: "other".into(),
            ..v.clone()
        };
        assert_ne!(v.replay_key(), other.replay_key());
        // `aud` as a one-element array, a matching `client_id` and a
        // known challenge are fine too.
        let p = pop(
            &f.instance,
            json!({}),
            json!({"aud": [AS], "challenge": "server-challenge"}),
        );
        let e = Expect {
            client_id: Some("wallet-client-1"),
            challenge_required: true,
            ..expect(&roots)
        };
        assert!(verify(&f.good_attestation(), &p, &e).is_ok());
    }

    #[test]
    fn the_attestation_must_come_from_a_trusted_provider() {
        let f = Fixture::new();
        let stranger = Provider::good();
        let p = pop(&f.instance, json!({}), json!({}));
        let e = verify(&f.good_attestation(), &p, &expect(&stranger.roots())).unwrap_err();
        assert!(
            matches!(
                e,
                ClientAttestationError::Attestation(AttestationError::Untrusted { .. })
            ),
            "{e:?}"
        );
        assert_eq!(e.reason(), "untrusted_wallet_provider");
        assert!(e.to_string().contains("not from a trusted wallet provider"));
        // A key attestation is not a wallet attestation.
        let roots = f.pki.roots();
        let key_att = f.pki.sign(
            json!({"typ": attestation::KEY.typ}),
            json!({"sub": "w", "iat": NOW, "exp": NOW + 60,
                    "cnf": {"jwk": f.instance.public().jwk_for_publication()}}),
        );
        assert!(matches!(
            verify(&key_att, &p, &expect(&roots)),
            Err(ClientAttestationError::Attestation(
                AttestationError::WrongTyp { .. }
            ))
        ));
    }

    #[test]
    fn an_expired_attestation_asks_for_a_fresh_one() {
        let f = Fixture::new();
        let roots = f.pki.roots();
        let a = f.attestation(json!({"iat": NOW - 7200, "exp": NOW - IAT_WINDOW - 1}));
        let p = pop(&f.instance, json!({}), json!({}));
        let e = verify(&a, &p, &expect(&roots)).unwrap_err();
        assert!(e.wants_fresh_attestation(), "{e:?}");
        assert!(!e.wants_challenge());
        // Issued longer ago than a wallet attestation may be used: the same.
        let days = 86_400;
        let a = f.attestation(json!({"iat": NOW - 31 * days, "exp": NOW + days}));
        let e = verify(&a, &p, &expect(&roots)).unwrap_err();
        assert!(
            matches!(
                e,
                ClientAttestationError::Attestation(AttestationError::TooOld { .. })
            ),
            "{e:?}"
        );
        assert!(e.wants_fresh_attestation(), "{e:?}");
    }

    #[test]
    fn sub_and_client_id() {
        let f = Fixture::new();
        let roots = f.pki.roots();
        let p = pop(&f.instance, json!({}), json!({}));
        let e = Expect {
            client_id: Some("wallet-client-2"),
            ..expect(&roots)
        };
        assert_eq!(
            verify(&f.good_attestation(), &p, &e),
            Err(ClientAttestationError::ClientIdMismatch)
        );
        assert_eq!(
            verify(&f.attestation(json!({"sub": null})), &p, &expect(&roots)),
            Err(ClientAttestationError::MissingSub)
        );
        for bad in [
            json!(""),
            json!(7),
            json!("w\nforged"),
            json!("c".repeat(256)),
        ] {
            assert_eq!(
                verify(&f.attestation(json!({"sub": bad})), &p, &expect(&roots)),
                Err(ClientAttestationError::BadSub),
                "{bad}"
            );
        }
    }

    #[test]
    fn cnf_must_hold_a_public_key() {
        let f = Fixture::new();
        let roots = f.pki.roots();
        let p = pop(&f.instance, json!({}), json!({}));
        assert_eq!(
            verify(&f.attestation(json!({"cnf": null})), &p, &expect(&roots)),
            Err(ClientAttestationError::MissingCnf)
        );
        let private = f.attestation(json!({"cnf": {"jwk": f.instance.to_private_jwk()}}));
        assert!(matches!(
            verify(&private, &p, &expect(&roots)),
            Err(ClientAttestationError::BadCnf(_))
        ));
        let junk = f.attestation(json!({"cnf": {"jwk": {"kty": "oct", "k": "AAAA"}}}));
        assert!(matches!(
            verify(&junk, &p, &expect(&roots)),
            Err(ClientAttestationError::BadCnf(_))
        ));
    }

    #[test]
    fn the_pop_must_be_signed_by_the_attested_key() {
        let f = Fixture::new();
        let roots = f.pki.roots();
        let a = f.good_attestation();
        let other = SigningKey::generate(Algorithm::Es256).unwrap();
        let e = verify(&a, &pop(&other, json!({}), json!({})), &expect(&roots)).unwrap_err();
        assert_eq!(e, ClientAttestationError::PopSignature);
        assert_eq!(e.reason(), "pop_not_signed_by_cnf_key");
        // An Ed25519 PoP for a P-256 instance key: alg mismatch, whatever
        // the accepted list says.
        let ed = SigningKey::generate(Algorithm::EdDsa).unwrap();
        let e = Expect {
            algs: &["ES256", "EdDSA"],
            ..expect(&roots)
        };
        assert_eq!(
            verify(&a, &pop(&ed, json!({}), json!({})), &e),
            Err(ClientAttestationError::PopAlgKeyMismatch)
        );
        // Not an accepted alg at all: the PoP's ES256 is refused first,
        // before the attestation is looked at.
        let e = Expect {
            algs: &["EdDSA"],
            ..expect(&roots)
        };
        let r = verify(&a, &pop(&f.instance, json!({}), json!({})), &e);
        assert_eq!(
            r,
            Err(ClientAttestationError::PopAlgNotAllowed("EdDSA".into()))
        );
    }

    /// An outsider pairing a public wallet attestation with a junk PoP
    /// costs no signature check: the PoP's header and claims are refused
    /// before the attestation's chain and signature (which here would
    /// fail too: its provider is not trusted) and the PoP's signature.
    #[test]
    fn a_junk_pop_is_refused_before_any_signature_is_checked() {
        let f = Fixture::new();
        let untrusted = Provider::good().roots();
        let a = f.good_attestation();
        let by_other = SigningKey::generate(Algorithm::Es256).unwrap();
        let cases = [
            (
                pop(&by_other, json!({"typ": "JWT"}), json!({})),
                ClientAttestationError::PopWrongTyp,
            ),
            (
                pop(
                    &by_other,
                    json!({}),
                    json!({"aud": "https://other.example"}),
                ),
                ClientAttestationError::PopAudience,
            ),
            (
                pop(&by_other, json!({}), json!({"iat": NOW - 3600})),
                ClientAttestationError::PopIatOutOfWindow,
            ),
            (
                pop(&by_other, json!({}), json!({"jti": ""})),
                ClientAttestationError::PopBadJti,
            ),
        ];
        for (p, want) in cases {
            assert_eq!(verify(&a, &p, &expect(&untrusted)), Err(want));
        }
        // A PoP that passes those but is signed by another key: the
        // attestation is checked (and refused) before the PoP's signature.
        let r = verify(
            &a,
            &pop(&by_other, json!({}), json!({})),
            &expect(&untrusted),
        );
        assert!(
            matches!(
                r,
                Err(ClientAttestationError::Attestation(
                    AttestationError::Untrusted { .. }
                ))
            ),
            "{r:?}"
        );
    }

    #[test]
    fn the_pop_header_and_form() {
        let f = Fixture::new();
        let roots = f.pki.roots();
        let a = f.good_attestation();
        assert_eq!(
            verify(
                &a,
                &pop(&f.instance, json!({"typ": "dpop+jwt"}), json!({})),
                &expect(&roots)
            ),
            Err(ClientAttestationError::PopWrongTyp)
        );
        assert_eq!(
            verify(
                &a,
                &pop(&f.instance, json!({"typ": null}), json!({})),
                &expect(&roots)
            ),
            Err(ClientAttestationError::PopWrongTyp)
        );
        assert!(matches!(
            verify(&a, "not.a.jws.at-all", &expect(&roots)),
            Err(ClientAttestationError::PopMalformed(_))
        ));
        assert!(matches!(
            verify(&a, "", &expect(&roots)),
            Err(ClientAttestationError::PopMalformed(_))
        ));
        // `alg: none` with the right typ: refused before any key is used.
        let none = format!(
            "{}.{}.",
            b64url(json!({"typ": POP_TYP, "alg": "none"}).to_string()),
            b64url(json!({"aud": AS, "jti": "j", "iat": NOW}).to_string())
        );
        assert!(matches!(
            verify(&a, &none, &expect(&roots)),
            Err(ClientAttestationError::PopAlgNotAllowed(_))
        ));
    }

    #[test]
    fn the_pop_claims() {
        let f = Fixture::new();
        let roots = f.pki.roots();
        let a = f.good_attestation();
        let check =
            |claims: Value| verify(&a, &pop(&f.instance, json!({}), claims), &expect(&roots));
        assert_eq!(
            check(json!({"aud": "https://other.example"})),
            Err(ClientAttestationError::PopAudience)
        );
        assert_eq!(
            check(json!({"aud": format!("{AS}/")})),
            Err(ClientAttestationError::PopAudience),
            "byte for byte"
        );
        assert_eq!(
            check(json!({"aud": [AS, "https://other.example"]})),
            Err(ClientAttestationError::PopAudience),
            "one audience only"
        );
        assert_eq!(
            check(json!({"aud": null})),
            Err(ClientAttestationError::PopMissingClaim("aud"))
        );
        assert_eq!(
            check(json!({"iat": null})),
            Err(ClientAttestationError::PopMissingClaim("iat"))
        );
        assert_eq!(
            check(json!({"iat": "now"})),
            Err(ClientAttestationError::PopMissingClaim("iat"))
        );
        assert!(check(json!({"iat": NOW - IAT_WINDOW})).is_ok());
        assert!(check(json!({"iat": NOW + IAT_WINDOW})).is_ok());
        assert_eq!(
            check(json!({"iat": NOW - IAT_WINDOW - 1})),
            Err(ClientAttestationError::PopIatOutOfWindow)
        );
        assert_eq!(
            check(json!({"iat": NOW + IAT_WINDOW + 1})),
            Err(ClientAttestationError::PopIatOutOfWindow)
        );
        assert_eq!(
            check(json!({"jti": null})),
            Err(ClientAttestationError::PopMissingClaim("jti"))
        );
        assert_eq!(
            check(json!({"jti": ""})),
            Err(ClientAttestationError::PopBadJti)
        );
        assert_eq!(
            check(json!({"jti": "j".repeat(MAX_JTI + 1)})),
            Err(ClientAttestationError::PopBadJti)
        );
        assert!(check(json!({"jti": "j".repeat(MAX_JTI)})).is_ok());
    }

    #[test]
    fn challenges() {
        let f = Fixture::new();
        let roots = f.pki.roots();
        let a = f.good_attestation();
        let required = Expect {
            challenge_required: true,
            ..expect(&roots)
        };
        let e = verify(&a, &pop(&f.instance, json!({}), json!({})), &required).unwrap_err();
        assert_eq!(e, ClientAttestationError::ChallengeRequired);
        assert!(e.wants_challenge());
        // A challenge the server did not make, or not a string: stale,
        // whether or not one is required.
        for c in [json!("forged"), json!(1)] {
            for e in [&required, &expect(&roots)] {
                let r = verify(&a, &pop(&f.instance, json!({}), json!({"challenge": c})), e);
                assert_eq!(r, Err(ClientAttestationError::StaleChallenge));
            }
        }
        // The challenge is checked last: a PoP by another key is refused
        // for its signature, not sent back for a challenge.
        let other = SigningKey::generate(Algorithm::Es256).unwrap();
        assert_eq!(
            verify(&a, &pop(&other, json!({}), json!({})), &required),
            Err(ClientAttestationError::PopSignature)
        );
    }
}
