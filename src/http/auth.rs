//! The back-office bearer check (RFC 6750 §2.1): an extractor that admits a
//! request only with `Authorization: Bearer <API key>`, compared in
//! constant time; otherwise 401 with `WWW-Authenticate`. Shared by
//! `/issuer/*` and `/verifier/*`.

use std::future::{Ready, ready};

use actix_web::{FromRequest, HttpRequest, dev::Payload, http::header, web};

use super::{ApiError, AppState, WireError};

/// Proof that the caller holds the back-office key.
#[derive(Debug, Clone, Copy)]
pub struct BackOffice;

/// Why a back-office call was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("this endpoint needs `Authorization: Bearer <API key>`")]
    Missing,
    #[error("the API key is not valid")]
    Invalid,
}

impl WireError for AuthError {
    fn code(&self) -> &'static str {
        "invalid_token"
    }
    fn status(&self) -> u16 {
        401
    }
    fn challenge(&self) -> Option<String> {
        Some(match self {
            AuthError::Missing => r#"Bearer realm="digital-id""#.into(),
            AuthError::Invalid => r#"Bearer realm="digital-id", error="invalid_token""#.into(),
        })
    }
}

/// Compares two secrets without leaking where they differ or their length
/// (both are hashed first, so `memcmp::eq` always sees 32 bytes).
pub fn secrets_equal(a: &str, b: &str) -> bool {
    openssl::memcmp::eq(&crate::crypto::sha256(a), &crate::crypto::sha256(b))
}

fn check(req: &HttpRequest) -> Result<BackOffice, AuthError> {
    let state = req
        .app_data::<web::Data<AppState>>()
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
    if secrets_equal(token.trim(), state.api_key.expose()) {
        Ok(BackOffice)
    } else {
        Err(AuthError::Invalid)
    }
}

impl FromRequest for BackOffice {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(check(req).map_err(ApiError::from))
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
