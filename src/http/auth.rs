//! The bearer checks (RFC 6750 §2.1), as extractors:
//! - [`BackOffice`] (`/issuer/*`, `/admin/*`): the operator's key only; a
//!   relying party's valid key gets 403 `access_denied`;
//! - [`Caller`] (`/verifier/*`): the operator's key (the built-in party
//!   `default`) or a registered relying party's key (`rp_<id>.<secret>`,
//!   looked up by id and compared as a salted hash, in the store on every
//!   call, so a rotated or deleted key fails at once on every node).
//!
//! Keys are compared in constant time; a missing or wrong one is 401 with
//! `WWW-Authenticate`.

use std::future::Future;
use std::pin::Pin;

use actix_web::{FromRequest, HttpRequest, dev::Payload, http::header, web};

use super::{ApiError, AppState, WireError};
use crate::parties::Party;

/// Proof that the caller holds the back-office (operator's) key.
#[derive(Debug, Clone, Copy)]
pub struct BackOffice;

/// Who is calling the verifier API.
#[derive(Debug, Clone)]
pub struct Caller(pub Party);

/// Why a call was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("this endpoint needs `Authorization: Bearer <API key>`")]
    Missing,
    #[error("the API key is not valid")]
    Invalid,
    #[error(
        "this endpoint needs the operator's key; a relying party's key works on /verifier/* only"
    )]
    NotOperator,
}

impl WireError for AuthError {
    fn code(&self) -> &'static str {
        match self {
            AuthError::Missing | AuthError::Invalid => "invalid_token",
            AuthError::NotOperator => "access_denied",
        }
    }
    fn status(&self) -> u16 {
        match self {
            AuthError::Missing | AuthError::Invalid => 401,
            AuthError::NotOperator => 403,
        }
    }
    fn challenge(&self) -> Option<String> {
        match self {
            AuthError::Missing => Some(r#"Bearer realm="digital-id""#.into()),
            AuthError::Invalid => {
                Some(r#"Bearer realm="digital-id", error="invalid_token""#.into())
            }
            AuthError::NotOperator => None,
        }
    }
}

/// Compares two secrets without leaking where they differ or their length
/// (both are hashed first, so `memcmp::eq` always sees 32 bytes).
pub fn secrets_equal(a: &str, b: &str) -> bool {
    openssl::memcmp::eq(&crate::crypto::sha256(a), &crate::crypto::sha256(b))
}

/// The state and the presented bearer token.
fn bearer(req: &HttpRequest) -> Result<(web::Data<AppState>, String), AuthError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or(AuthError::Invalid)?;
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or(AuthError::Missing)?;
    let (scheme, token) = value.split_once(' ').ok_or(AuthError::Missing)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::Missing);
    }
    Ok((state, token.trim().to_owned()))
}

/// The party `token` belongs to: the built-in one for the operator's key
/// (no store read), a registered one for its current key.
async fn party(state: &AppState, token: &str) -> Result<Party, ApiError> {
    if secrets_equal(token, state.api_key.expose()) {
        return Ok(Party::Default);
    }
    match state.parties.authenticate(token, state.now()).await? {
        Some(p) => Ok(Party::Registered(Box::new(p))),
        None => Err(AuthError::Invalid.into()),
    }
}

type Fut<T> = Pin<Box<dyn Future<Output = Result<T, ApiError>>>>;

impl FromRequest for BackOffice {
    type Error = ApiError;
    type Future = Fut<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let presented = bearer(req);
        Box::pin(async move {
            let (state, token) = presented?;
            match party(&state, &token).await? {
                Party::Default => Ok(BackOffice),
                Party::Registered(_) => Err(AuthError::NotOperator.into()),
            }
        })
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Fut<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let presented = bearer(req);
        Box::pin(async move {
            let (state, token) = presented?;
            Ok(Caller(party(&state, &token).await?))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_comparison() {
        assert!(secrets_equal("abc", "abc"));
        assert!(!secrets_equal("abc", "abd"));
        assert!(!secrets_equal("abc", "abcd"));
        assert!(!secrets_equal("", "x"));
    }
}
