//! Key Binding JWTs (RFC 9901 §4.3): creation by the holder, verification by
//! the verifier (§7.3).

use serde_json::{Map, Value};

use crate::crypto::jws::{self, Jws, JwsError};
use crate::crypto::{PublicKey, SigningKey};

/// `typ` of a KB-JWT.
pub const KB_TYP: &str = "kb+jwt";

/// What the verifier expects of a KB-JWT.
#[derive(Debug, Clone)]
pub struct KbExpectations<'a> {
    /// Expected `aud` (for OpenID4VP: the full client_id with its prefix).
    pub aud: Option<&'a str>,
    /// Expected `nonce`.
    pub nonce: Option<&'a str>,
    /// Verification time (seconds since the epoch).
    pub now: i64,
    /// Oldest acceptable `iat`, in seconds before `now`.
    pub max_age: i64,
    /// Newest acceptable `iat`, in seconds after `now` (clock skew).
    pub future_skew: i64,
}

/// The verified claims of a KB-JWT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KbClaims {
    pub iat: i64,
    pub aud: String,
    pub nonce: String,
}

/// A KB-JWT rule that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KbError {
    #[error("the KB-JWT is malformed: {0}")]
    Jws(JwsError),
    #[error("the KB-JWT `typ` must be `kb+jwt`")]
    WrongTyp,
    #[error("the KB-JWT signature does not verify with the holder key (`cnf`): {0}")]
    Signature(JwsError),
    #[error("the KB-JWT lacks the required claim `{0}`")]
    MissingClaim(&'static str),
    #[error("the KB-JWT `aud` does not match the verifier")]
    WrongAudience,
    #[error("the KB-JWT `nonce` does not match")]
    WrongNonce,
    #[error("the KB-JWT `iat` is too old")]
    Stale,
    #[error("the KB-JWT `iat` is in the future")]
    IssuedInFuture,
    #[error("the KB-JWT `sd_hash` does not match the presentation")]
    WrongSdHash,
}

/// Creates a KB-JWT over a presentation whose `sd_hash` is given.
pub fn create(
    holder: &SigningKey,
    aud: &str,
    nonce: &str,
    iat: i64,
    sd_hash: &str,
) -> Result<String, JwsError> {
    let mut header = Map::new();
    header.insert("typ".into(), Value::String(KB_TYP.into()));
    let mut claims = Map::new();
    claims.insert("iat".into(), Value::from(iat));
    claims.insert("aud".into(), Value::String(aud.into()));
    claims.insert("nonce".into(), Value::String(nonce.into()));
    claims.insert("sd_hash".into(), Value::String(sd_hash.into()));
    let payload = serde_json::to_vec(&claims).map_err(|_| JwsError::SigningFailed)?;
    jws::sign(holder, &header, &payload)
}

/// Verifies a KB-JWT against the holder key and the expected values.
pub fn verify(
    kb_jwt: &str,
    holder: &PublicKey,
    sd_hash: &str,
    expect: &KbExpectations<'_>,
) -> Result<KbClaims, KbError> {
    let jws = Jws::decode(kb_jwt).map_err(KbError::Jws)?;
    if jws.typ() != Some(KB_TYP) {
        return Err(KbError::WrongTyp);
    }
    jws.verify(holder).map_err(KbError::Signature)?;
    let claims = jws.payload_json().map_err(KbError::Jws)?;
    let text = |name: &'static str| {
        claims
            .get(name)
            .and_then(Value::as_str)
            .ok_or(KbError::MissingClaim(name))
    };
    let iat = claims
        .get("iat")
        .and_then(Value::as_i64)
        .ok_or(KbError::MissingClaim("iat"))?;
    let aud = text("aud")?;
    let nonce = text("nonce")?;
    let hash = text("sd_hash")?;
    if expect.aud.is_some_and(|a| a != aud) {
        return Err(KbError::WrongAudience);
    }
    if expect.nonce.is_some_and(|n| n != nonce) {
        return Err(KbError::WrongNonce);
    }
    if iat < expect.now.saturating_sub(expect.max_age) {
        return Err(KbError::Stale);
    }
    if iat > expect.now.saturating_add(expect.future_skew) {
        return Err(KbError::IssuedInFuture);
    }
    if hash != sd_hash {
        return Err(KbError::WrongSdHash);
    }
    Ok(KbClaims {
        iat,
        aud: aud.to_owned(),
        nonce: nonce.to_owned(),
    })
}
