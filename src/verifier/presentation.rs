//! Verifying one presentation against one Credential Query: issuer trust,
//! the issuer signature and every RFC 9901 §7 rule, the KB-JWT (`aud` = our
//! full client_id, the request `nonce`, `iat` window, `sd_hash`), expiry,
//! the status list, and DCQL matching — which also drops every claim the
//! query did not ask for.

use serde_json::{Map, Value};

use super::Verifier;
use super::dcql::{CredentialQuery, MatchError};
use super::status::{Reference, StatusError};
use super::trust::TrustError;
use crate::crypto::jws::Jws;
use crate::sdjwt::{self, Compact, VerifyError, VerifyPolicy};

/// Why a presentation is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PresentationError {
    #[error("the presentation is not an SD-JWT with an issuer-signed JWT carrying `iss`")]
    Malformed,
    #[error(transparent)]
    Trust(#[from] TrustError),
    #[error(transparent)]
    SdJwt(#[from] VerifyError),
    #[error(transparent)]
    Status(#[from] StatusError),
    #[error(transparent)]
    Match(#[from] MatchError),
}

/// What the KB-JWT must be bound to.
#[derive(Debug, Clone, Copy)]
pub struct Binding<'a> {
    pub aud: &'a str,
    pub nonce: &'a str,
}

/// The `iss` of an SD-JWT, read before its signature is checked (only to
/// choose the keys that must then verify it).
fn peek_iss(token: &str) -> Option<String> {
    let compact = Compact::parse(token).ok()?;
    let jws = Jws::decode(compact.jwt).ok()?;
    let payload = jws.payload_json().ok()?;
    payload
        .get("iss")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// The `nonce` of a presentation's KB-JWT, read before verification (to
/// find the holder-QR nonce it claims to answer).
pub fn peek_kb_nonce(token: &str) -> Option<String> {
    let compact = Compact::parse(token).ok()?;
    let jws = Jws::decode(compact.kb_jwt?).ok()?;
    let payload = jws.payload_json().ok()?;
    payload
        .get("nonce")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

impl Verifier {
    /// Verifies `token` for `query`; returns only the requested claims.
    pub async fn verify_presentation(
        &self,
        query: &CredentialQuery,
        token: &str,
        binding: Binding<'_>,
        now: i64,
    ) -> Result<Map<String, Value>, PresentationError> {
        let iss = peek_iss(token).ok_or(PresentationError::Malformed)?;
        let keys = self.trust.keys_for(&iss, now).await?;
        let mut policy = VerifyPolicy::sd_jwt_vc(now);
        // The KB-JWT is checked whenever present; required unless the query
        // opted out of holder binding (§6.1).
        policy.kb.aud = Some(binding.aud);
        policy.kb.nonce = Some(binding.nonce);
        policy.require_kb = query.require_holder_binding;
        let verified = sdjwt::verify(token, &keys, &policy)?;
        if let Some(reference) = Reference::of(&verified.claims)? {
            self.status.check(&reference, &keys, now).await?;
        }
        Ok(query.select(&verified.claims)?)
    }
}
