//! Verifying an SD-JWT or SD-JWT+KB (RFC 9901 §7.1 and §7.3, SD-JWT VC §3).
//! The policy says what is required; the token never does.

use serde_json::{Map, Value};

use super::compact::{Compact, FormatError};
use super::disclosure::{Disclosure, DisclosureError};
use super::kb::{self, KbClaims, KbError, KbExpectations};
use super::path::{ClaimPath, PathElem};
use super::process::{self, ProcessError};
use super::vc;
use crate::crypto::jws::{Jws, JwsError};
use crate::crypto::{KeyError, PublicKey};

/// Finds the issuer's key for a token.
pub trait IssuerKeys {
    /// The key for issuer `iss` and header `kid`, if trusted.
    fn resolve(&self, iss: Option<&str>, kid: Option<&str>) -> Option<&PublicKey>;
}

impl IssuerKeys for PublicKey {
    fn resolve(&self, _iss: Option<&str>, _kid: Option<&str>) -> Option<&PublicKey> {
        Some(self)
    }
}

impl IssuerKeys for crate::crypto::jwk::Jwks {
    fn resolve(&self, _iss: Option<&str>, kid: Option<&str>) -> Option<&PublicKey> {
        self.find(kid)
    }
}

/// What a verifier requires of a presentation.
#[derive(Debug, Clone)]
pub struct VerifyPolicy<'a> {
    /// Accepted JWS `typ` values of the issuer-signed JWT; empty accepts any.
    pub accepted_typ: &'a [&'a str],
    /// Apply the SD-JWT VC rules (`vct` required; `iss`, `cnf`, `exp`, …
    /// never disclosed).
    pub sd_jwt_vc: bool,
    /// A KB-JWT must be present (and it is verified whenever present).
    pub require_kb: bool,
    /// Expected KB-JWT values and time window.
    pub kb: KbExpectations<'a>,
    /// Clock skew allowed for `exp` and `nbf`, in seconds.
    pub leeway: i64,
}

impl<'a> VerifyPolicy<'a> {
    /// SD-JWT VC with key binding optional, at time `now`; KB-JWT `iat` may be
    /// at most 30 s old and 5 s in the future (DESIGN.md).
    pub fn sd_jwt_vc(now: i64) -> Self {
        VerifyPolicy {
            accepted_typ: vc::ACCEPTED_TYPS,
            sd_jwt_vc: true,
            require_kb: false,
            kb: KbExpectations {
                aud: None,
                nonce: None,
                now,
                max_age: 30,
                future_skew: 5,
            },
            leeway: 5,
        }
    }

    /// Requires a KB-JWT for `aud` and `nonce`.
    pub fn with_key_binding(mut self, aud: &'a str, nonce: &'a str) -> Self {
        self.require_kb = true;
        self.kb.aud = Some(aud);
        self.kb.nonce = Some(nonce);
        self
    }
}

/// The rule a presentation broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Format(#[from] FormatError),
    #[error("issuer-signed JWT: {0}")]
    IssuerJws(JwsError),
    #[error("the issuer-signed JWT has an unexpected `typ`")]
    WrongTyp,
    #[error("no trusted key for this issuer and `kid`")]
    UnknownIssuerKey,
    #[error("`_sd_alg` must be `sha-256`")]
    UnsupportedSdAlg,
    #[error(transparent)]
    Disclosure(#[from] DisclosureError),
    #[error(transparent)]
    Process(#[from] ProcessError),
    /// A disclosure carries a registered claim that SD-JWT VC §3.2.2.2 keeps
    /// in the clear, or one of its sub-claims (e.g. `["cnf","jwk"]` from a
    /// disclosure inside a plain `cnf`); the path is where it would land.
    #[error(
        "the claim {0} must not be selectively disclosed: SD-JWT VC §3.2.2.2 keeps it and its sub-claims in the clear"
    )]
    DisclosedReservedClaim(ClaimPath),
    #[error("the credential has no `vct` string")]
    MissingVct,
    #[error("the time claim `{0}` is not a number")]
    BadTimeClaim(&'static str),
    #[error("the credential has expired")]
    Expired,
    #[error("the credential is not yet valid")]
    NotYetValid,
    #[error("key binding is required but no KB-JWT was presented")]
    KbMissing,
    #[error("the credential has no holder key (`cnf.jwk`)")]
    NoHolderKey,
    #[error("the holder key (`cnf.jwk`) is unusable: {0}")]
    HolderKey(String),
    #[error(transparent)]
    Kb(#[from] KbError),
}

/// A verified presentation.
#[derive(Debug, Clone)]
pub struct Verified {
    pub header: Map<String, Value>,
    /// The processed claims: disclosed claims in place, `_sd`, `_sd_alg` and
    /// undisclosed digests removed.
    pub claims: Map<String, Value>,
    pub holder_key: Option<PublicKey>,
    pub kb: Option<KbClaims>,
}

/// Verifies an SD-JWT or SD-JWT+KB.
pub fn verify(
    token: &str,
    issuer: &dyn IssuerKeys,
    policy: &VerifyPolicy<'_>,
) -> Result<Verified, VerifyError> {
    let compact = Compact::parse(token)?;
    let jws = Jws::decode(compact.jwt).map_err(VerifyError::IssuerJws)?;
    if !policy.accepted_typ.is_empty()
        && !jws.typ().is_some_and(|t| policy.accepted_typ.contains(&t))
    {
        return Err(VerifyError::WrongTyp);
    }
    let mut payload = jws.payload_json().map_err(VerifyError::IssuerJws)?;
    let key = issuer
        .resolve(payload.get("iss").and_then(Value::as_str), jws.kid())
        .ok_or(VerifyError::UnknownIssuerKey)?;
    jws.verify(key).map_err(VerifyError::IssuerJws)?;

    match payload.remove("_sd_alg") {
        None => {}
        Some(Value::String(a)) if a == "sha-256" => {}
        Some(_) => return Err(VerifyError::UnsupportedSdAlg),
    }
    let disclosures = compact
        .disclosures
        .iter()
        .map(|d| Disclosure::parse(d))
        .collect::<Result<Vec<_>, _>>()?;
    let processed = process::process(payload, &disclosures, policy.sd_jwt_vc)?;
    if policy.sd_jwt_vc {
        check_reserved_not_disclosed(&processed.paths)?;
    }
    let claims = processed.claims;

    if policy.sd_jwt_vc && !claims.get("vct").is_some_and(Value::is_string) {
        return Err(VerifyError::MissingVct);
    }
    let now = policy.kb.now;
    if let Some(exp) = time_claim(&claims, "exp")? {
        if now >= exp.saturating_add(policy.leeway) {
            return Err(VerifyError::Expired);
        }
    }
    if let Some(nbf) = time_claim(&claims, "nbf")? {
        if now < nbf.saturating_sub(policy.leeway) {
            return Err(VerifyError::NotYetValid);
        }
    }

    let holder_key = match claims.get("cnf").and_then(|c| c.get("jwk")) {
        Some(jwk) => Some(
            PublicKey::from_jwk(jwk)
                .map_err(|e: KeyError| VerifyError::HolderKey(e.to_string()))?,
        ),
        None => None,
    };
    let kb = match compact.kb_jwt {
        None if policy.require_kb => return Err(VerifyError::KbMissing),
        None => None,
        Some(kb_jwt) => {
            let holder = holder_key.as_ref().ok_or(VerifyError::NoHolderKey)?;
            Some(kb::verify(kb_jwt, holder, &compact.sd_hash(), &policy.kb)?)
        }
    };
    Ok(Verified {
        header: jws.header,
        claims,
        holder_key,
        kb,
    })
}

fn time_claim(claims: &Map<String, Value>, name: &'static str) -> Result<Option<i64>, VerifyError> {
    match claims.get(name) {
        None => Ok(None),
        Some(v) => v
            .as_i64()
            .or_else(|| v.as_f64().map(|f| f as i64))
            .map(Some)
            .ok_or(VerifyError::BadTimeClaim(name)),
    }
}

/// SD-JWT VC §3.2.2.2: `iss`, `nbf`, `exp`, `cnf`, `vct`, `vct#integrity`,
/// `aka_vcts` and `status`, "including any of their sub-claims", are never
/// in disclosures. `paths[i]` is where disclosure `i` put its claim.
fn check_reserved_not_disclosed(paths: &[Vec<PathElem>]) -> Result<(), VerifyError> {
    match paths
        .iter()
        .find(|p| vc::is_reserved_path(p, vc::NEVER_DISCLOSED))
    {
        Some(p) => Err(VerifyError::DisclosedReservedClaim(ClaimPath(p.clone()))),
        None => Ok(()),
    }
}
