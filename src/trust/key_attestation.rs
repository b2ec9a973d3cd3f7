//! Key attestations at the credential endpoint (OpenID4VCI 1.0 Appendix D):
//! once [`super::attestation::verify`] found who signed one (a trusted
//! wallet provider, by its `x5c` chain) and that it is in force, what it
//! says must fit the Credential Request: the holder keys are among its
//! `attested_keys` (compared by RFC 7638 thumbprint; one attestation may
//! cover a whole batch), its `nonce` is the request's c_nonce (this server
//! always has a nonce endpoint, so the `nonce` is required: Appendix F.1
//! for the `jwt` proof's header, F.3 for the `attestation` proof type), and its
//! `key_storage` and `user_authentication` (Appendix D.2 attack potential
//! resistance) meet the configuration's policy. Pure: the caller consumes
//! the c_nonce.

use serde_json::Value;

use super::attestation::{AttestationError, Attested};
use crate::crypto::jwk::JwkError;
use crate::crypto::{KeyError, PublicKey};

/// What a credential configuration requires of a key attestation
/// (`[key_attestation."<id>"]`, advertised as `key_attestations_required`):
/// the attestation must assert one of the listed levels of each claim; an
/// empty list accepts any level (and no claim at all).
#[derive(Debug, Clone, Copy)]
pub struct Policy<'a> {
    /// The credential configuration id (for messages).
    pub configuration: &'a str,
    pub key_storage: &'a [String],
    pub user_authentication: &'a [String],
}

/// What the key attestation's `nonce` must be. Present either way: "If
/// the Credential Issuer provided a c_nonce, the nonce claim in the key
/// attestation MUST be set to a server-provided c_nonce" (Appendix F.1),
/// and the `attestation` proof type carries its c_nonce nowhere else (F.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceRule<'a> {
    /// Carried in a `jwt` proof's `key_attestation` header: the proof's
    /// c_nonce.
    SameAs(&'a str),
    /// The `attestation` proof type: present (the caller checks that it is
    /// a fresh c_nonce and uses it up).
    Required,
}

/// The claims of a verified key attestation that issuance uses.
#[derive(Debug, Clone)]
pub struct KeyAttestation {
    /// `attested_keys`, in order, none twice.
    pub keys: Vec<PublicKey>,
    /// `key_storage` (empty when absent).
    pub key_storage: Vec<String>,
    /// `user_authentication` (empty when absent).
    pub user_authentication: Vec<String>,
    pub nonce: Option<String>,
    /// Who signed it (the subject of the wallet provider's certificate).
    pub provider: String,
}

/// Why a key attestation does not fit the request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyAttestationError {
    /// Its signature, chain or lifetime (see `trust::attestation`).
    #[error(transparent)]
    Attestation(#[from] AttestationError),
    #[error("the key attestation's `attested_keys` must be a non-empty array of public JWKs")]
    NoAttestedKeys,
    #[error("the key attestation's attested key {index} carries private key material")]
    PrivateKey { index: usize },
    #[error("the key attestation's attested key {index} is unusable: {source}")]
    BadKey { index: usize, source: JwkError },
    #[error("the key attestation's attested key {index} is not a usable signing key")]
    UnusableKey { index: usize },
    #[error("the key attestation's `attested_keys` lists the same key twice")]
    RepeatedKey,
    #[error("the key attestation's `{claim}` must be a non-empty array of strings")]
    BadLevels { claim: &'static str },
    #[error("the key attestation's `nonce` must be a string")]
    BadNonce,
    #[error("the proof's key is not in the key attestation's `attested_keys`")]
    KeyNotAttested,
    #[error("the key attestation's `nonce` is not the c_nonce of the key proof")]
    NonceMismatch,
    #[error(
        "the key attestation has no `nonce`: with the `attestation` proof type it must carry a fresh c_nonce from the nonce endpoint"
    )]
    MissingNonce,
    #[error(
        "the key attestation in the `key_attestation` header has no `nonce`: it must carry the key proof's c_nonce from the nonce endpoint"
    )]
    MissingHeaderNonce,
    #[error("the key attestation asserts no {claim}; {configuration} requires one of {required}")]
    NoLevel {
        claim: &'static str,
        configuration: String,
        required: String,
    },
    #[error(
        "the key attestation's {claim} [{asserted}] meets none of {required} required for {configuration}"
    )]
    BelowPolicy {
        claim: &'static str,
        asserted: String,
        configuration: String,
        required: String,
    },
}

impl KeyAttestationError {
    /// The failed step, as a stable machine-readable name.
    pub fn reason(&self) -> &'static str {
        use KeyAttestationError::*;
        match self {
            Attestation(e) => e.reason(),
            NoAttestedKeys
            | PrivateKey { .. }
            | BadKey { .. }
            | UnusableKey { .. }
            | RepeatedKey => "bad_attested_keys",
            BadLevels { .. } | BadNonce => "malformed",
            KeyNotAttested => "key_not_attested",
            NonceMismatch | MissingNonce | MissingHeaderNonce => "nonce",
            NoLevel { .. } | BelowPolicy { .. } => "below_policy",
        }
    }
}

impl KeyAttestation {
    /// Reads the claims of an attestation whose signature and lifetime were
    /// checked: `attested_keys` (required: public keys only, none twice),
    /// `key_storage` and `user_authentication` (optional, non-empty arrays
    /// of strings when present), `nonce` (optional string).
    pub fn read(attested: Attested) -> Result<Self, KeyAttestationError> {
        let claims = &attested.claims;
        let list = claims
            .get("attested_keys")
            .and_then(Value::as_array)
            .filter(|a| !a.is_empty())
            .ok_or(KeyAttestationError::NoAttestedKeys)?;
        let mut keys: Vec<PublicKey> = Vec::with_capacity(list.len());
        for (index, jwk) in list.iter().enumerate() {
            let key = PublicKey::from_jwk(jwk).map_err(|source| match source {
                KeyError::Jwk(JwkError::PrivateMember(_)) => {
                    KeyAttestationError::PrivateKey { index }
                }
                KeyError::Jwk(source) => KeyAttestationError::BadKey { index, source },
                _ => KeyAttestationError::UnusableKey { index },
            })?;
            if keys.iter().any(|k| k.thumbprint() == key.thumbprint()) {
                return Err(KeyAttestationError::RepeatedKey);
            }
            keys.push(key);
        }
        let nonce = match claims.get("nonce") {
            None => None,
            Some(Value::String(n)) => Some(n.clone()),
            Some(_) => return Err(KeyAttestationError::BadNonce),
        };
        Ok(KeyAttestation {
            keys,
            key_storage: levels(claims.get("key_storage"), "key_storage")?,
            user_authentication: levels(claims.get("user_authentication"), "user_authentication")?,
            nonce,
            provider: attested.provider,
        })
    }

    /// Whether `key` is one of the attested keys.
    pub fn attests(&self, key: &PublicKey) -> bool {
        self.keys.iter().any(|k| k.thumbprint() == key.thumbprint())
    }

    /// `key` is one of the attested keys.
    pub fn check_key(&self, key: &PublicKey) -> Result<(), KeyAttestationError> {
        if self.attests(key) {
            Ok(())
        } else {
            Err(KeyAttestationError::KeyNotAttested)
        }
    }

    /// The `nonce` as `rule` says.
    pub fn check_nonce(&self, rule: NonceRule<'_>) -> Result<(), KeyAttestationError> {
        match (rule, self.nonce.as_deref()) {
            (NonceRule::Required, None) => Err(KeyAttestationError::MissingNonce),
            (NonceRule::SameAs(_), None) => Err(KeyAttestationError::MissingHeaderNonce),
            (NonceRule::SameAs(c_nonce), Some(n)) if n != c_nonce => {
                Err(KeyAttestationError::NonceMismatch)
            }
            _ => Ok(()),
        }
    }

    /// Each of `key_storage` and `user_authentication` holds a level the
    /// policy accepts (any, when the policy lists none).
    pub fn check_policy(&self, policy: &Policy<'_>) -> Result<(), KeyAttestationError> {
        meets(
            "key_storage",
            &self.key_storage,
            policy.key_storage,
            policy.configuration,
        )?;
        meets(
            "user_authentication",
            &self.user_authentication,
            policy.user_authentication,
            policy.configuration,
        )
    }
}

/// What a key attestation says, checked against the request: its claims,
/// the nonce as `nonce` says and, when given, the policy. Which keys it
/// must attest is the caller's ([`KeyAttestation::check_key`]): a `jwt`
/// proof's key; the `attestation` proof type's keys are the attested ones.
pub fn check(
    attested: Attested,
    nonce: NonceRule<'_>,
    policy: Option<&Policy<'_>>,
) -> Result<KeyAttestation, KeyAttestationError> {
    let a = KeyAttestation::read(attested)?;
    a.check_nonce(nonce)?;
    if let Some(p) = policy {
        a.check_policy(p)?;
    }
    Ok(a)
}

/// A level claim: absent, or a non-empty array of strings.
fn levels(value: Option<&Value>, claim: &'static str) -> Result<Vec<String>, KeyAttestationError> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let bad = || KeyAttestationError::BadLevels { claim };
    let list = value.as_array().filter(|a| !a.is_empty()).ok_or_else(bad)?;
    list.iter()
        .map(|v| v.as_str().map(str::to_owned).ok_or_else(bad))
        .collect()
}

fn meets(
    claim: &'static str,
    asserted: &[String],
    accepted: &[String],
    configuration: &str,
) -> Result<(), KeyAttestationError> {
    if accepted.is_empty() || asserted.iter().any(|a| accepted.contains(a)) {
        return Ok(());
    }
    let required = accepted.join(", ");
    let configuration = configuration.to_owned();
    if asserted.is_empty() {
        return Err(KeyAttestationError::NoLevel {
            claim,
            configuration,
            required,
        });
    }
    Err(KeyAttestationError::BelowPolicy {
        claim,
        asserted: asserted.join(", "),
        configuration,
        required,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::{Map, json};

    use super::*;
    use crate::crypto::{Algorithm, SigningKey};

    fn attested(claims: Value) -> Attested {
        let claims: Map<String, Value> = claims.as_object().unwrap().clone();
        Attested {
            claims,
            provider: "CN=Example Wallet attestations".into(),
            iat: Some(100),
            exp: 200,
        }
    }

    fn key() -> SigningKey {
        SigningKey::generate(Algorithm::Es256).unwrap()
    }

    fn jwk(k: &SigningKey) -> Value {
        k.public().jwk_for_publication()
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn a_batch_shares_one_attestation() {
        let (a, b) = (key(), key());
        let ed = SigningKey::generate(Algorithm::EdDsa).unwrap();
        let claims = json!({
            "attested_keys": [jwk(&a), jwk(&b), jwk(&ed)],
            "key_storage": ["iso_18045_high"],
            "user_authentication": ["iso_18045_moderate", "iso_18045_high"],
            "nonce": "n-1",
        });
        let high = strings(&["iso_18045_high"]);
        let policy = Policy {
            configuration: "ru.passport",
            key_storage: &high,
            user_authentication: &high,
        };
        let ka = check(attested(claims), NonceRule::SameAs("n-1"), Some(&policy)).unwrap();
        for k in [&a, &b, &ed] {
            ka.check_key(k.public()).unwrap();
        }
        assert_eq!(ka.keys.len(), 3);
        assert_eq!(ka.keys[1].thumbprint(), b.public().thumbprint());
        assert_eq!(ka.key_storage, high);
        assert_eq!(ka.provider, "CN=Example Wallet attestations");
        assert_eq!(ka.nonce.as_deref(), Some("n-1"));
        assert!(ka.check_nonce(NonceRule::Required).is_ok());
    }

    #[test]
    fn every_proof_key_must_be_attested() {
        let (a, b) = (key(), key());
        let claims = json!({"attested_keys": [jwk(&a)], "nonce": "n"});
        let ka = check(attested(claims), NonceRule::SameAs("n"), None).unwrap();
        assert!(ka.check_key(a.public()).is_ok());
        let e = ka.check_key(b.public()).unwrap_err();
        assert_eq!(e, KeyAttestationError::KeyNotAttested);
        assert_eq!(
            e.to_string(),
            "the proof's key is not in the key attestation's `attested_keys`"
        );
    }

    #[test]
    fn attested_keys_are_public_usable_and_distinct() {
        let a = key();
        let read = |keys: Value| KeyAttestation::read(attested(json!({"attested_keys": keys})));
        assert_eq!(
            read(json!([])).unwrap_err(),
            KeyAttestationError::NoAttestedKeys
        );
        assert_eq!(
            KeyAttestation::read(attested(json!({}))).unwrap_err(),
            KeyAttestationError::NoAttestedKeys
        );
        assert_eq!(
            read(json!("not an array")).unwrap_err(),
            KeyAttestationError::NoAttestedKeys
        );
        assert_eq!(
            read(json!([jwk(&a), a.to_private_jwk()])).unwrap_err(),
            KeyAttestationError::PrivateKey { index: 1 }
        );
        assert!(matches!(
            read(json!([{"kty": "RSA", "n": "AQAB", "e": "AQAB"}])).unwrap_err(),
            KeyAttestationError::BadKey { index: 0, .. }
        ));
        // The same key, once with publication members.
        let bare = Value::Object(a.public().jwk().clone());
        assert_eq!(
            read(json!([jwk(&a), bare])).unwrap_err(),
            KeyAttestationError::RepeatedKey
        );
    }

    #[test]
    fn level_claims_and_nonce_have_their_shape() {
        let a = key();
        let read = |extra: Value| {
            let mut claims = json!({"attested_keys": [jwk(&a)]});
            for (k, v) in extra.as_object().unwrap() {
                claims[k] = v.clone();
            }
            KeyAttestation::read(attested(claims))
        };
        assert_eq!(
            read(json!({"key_storage": []})).unwrap_err(),
            KeyAttestationError::BadLevels {
                claim: "key_storage"
            }
        );
        assert_eq!(
            read(json!({"user_authentication": "iso_18045_high"})).unwrap_err(),
            KeyAttestationError::BadLevels {
                claim: "user_authentication"
            }
        );
        assert_eq!(
            read(json!({"key_storage": [1]})).unwrap_err(),
            KeyAttestationError::BadLevels {
                claim: "key_storage"
            }
        );
        assert_eq!(
            read(json!({"nonce": 7})).unwrap_err(),
            KeyAttestationError::BadNonce
        );
        let ka = read(json!({})).unwrap();
        assert!(ka.key_storage.is_empty() && ka.user_authentication.is_empty());
        assert_eq!(ka.nonce, None);
    }

    #[test]
    fn the_nonce_is_the_proofs_or_required() {
        let a = key();
        let with = |nonce: Option<&str>| {
            let mut claims = json!({"attested_keys": [jwk(&a)]});
            if let Some(n) = nonce {
                claims["nonce"] = n.into();
            }
            KeyAttestation::read(attested(claims)).unwrap()
        };
        // A `jwt` proof's attestation carries the proof's (Appendix F.1:
        // this server provides c_nonces).
        assert!(with(Some("n")).check_nonce(NonceRule::SameAs("n")).is_ok());
        let e = with(None).check_nonce(NonceRule::SameAs("n")).unwrap_err();
        assert_eq!(e, KeyAttestationError::MissingHeaderNonce);
        assert_eq!(
            e.to_string(),
            "the key attestation in the `key_attestation` header has no `nonce`: it must carry the key proof's c_nonce from the nonce endpoint"
        );
        assert_eq!(e.reason(), "nonce");
        assert_eq!(
            with(Some("old")).check_nonce(NonceRule::SameAs("n")),
            Err(KeyAttestationError::NonceMismatch)
        );
        // The `attestation` proof type needs one.
        assert_eq!(
            with(None).check_nonce(NonceRule::Required),
            Err(KeyAttestationError::MissingNonce)
        );
    }

    #[test]
    fn levels_must_meet_the_policy() {
        let a = key();
        let ka = |ks: &[&str], ua: &[&str]| {
            let mut claims = json!({"attested_keys": [jwk(&a)]});
            if !ks.is_empty() {
                claims["key_storage"] = json!(ks);
            }
            if !ua.is_empty() {
                claims["user_authentication"] = json!(ua);
            }
            KeyAttestation::read(attested(claims)).unwrap()
        };
        let high = strings(&["iso_18045_high"]);
        let high_or_moderate = strings(&["iso_18045_high", "iso_18045_moderate"]);
        let none: Vec<String> = Vec::new();
        let policy = |ks, ua| Policy {
            configuration: "ru.passport",
            key_storage: ks,
            user_authentication: ua,
        };
        let strict = policy(&high, &high);
        let e = ka(&["iso_18045_moderate"], &["iso_18045_high"])
            .check_policy(&strict)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "the key attestation's key_storage [iso_18045_moderate] meets none of iso_18045_high required for ru.passport"
        );
        assert_eq!(e.reason(), "below_policy");
        let e = ka(
            &["iso_18045_high"],
            &["iso_18045_basic", "iso_18045_moderate"],
        )
        .check_policy(&policy(&none, &high_or_moderate))
        .map(|()| "accepted");
        assert_eq!(e, Ok("accepted"), "one accepted value is enough");
        let e = ka(&["iso_18045_high"], &["iso_18045_basic"])
            .check_policy(&policy(&none, &high_or_moderate))
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "the key attestation's user_authentication [iso_18045_basic] meets none of iso_18045_high, iso_18045_moderate required for ru.passport"
        );
        let e = ka(&[], &["iso_18045_high"])
            .check_policy(&strict)
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "the key attestation asserts no key_storage; ru.passport requires one of iso_18045_high"
        );
        // An empty policy accepts any level, and none.
        assert!(ka(&[], &[]).check_policy(&policy(&none, &none)).is_ok());
        assert!(
            ka(&["iso_18045_basic"], &[])
                .check_policy(&policy(&none, &none))
                .is_ok()
        );
        // Levels are case sensitive (Appendix D.1).
        assert!(
            ka(&["ISO_18045_HIGH"], &["iso_18045_high"])
                .check_policy(&strict)
                .is_err()
        );
    }
}
