//! Pushed Authorization Requests (RFC 9126): the wallet posts the
//! authorization request and gets a single-use `request_uri` for
//! `GET /authorize`.

use serde::Serialize;

use super::authorize::{
    AuthorizationParams, AuthorizationRequest, AuthorizeError, REQUEST_URI_PREFIX, validate,
};
use super::{Ctx, ns};
use crate::store;

/// How long a `request_uri` is valid.
pub const REQUEST_URI_TTL: i64 = 60;

/// RFC 9126 §2.2 answer (201 Created).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PushedRequest {
    /// Single-use reference for `GET /authorize?client_id=…&request_uri=…`.
    #[schema(example = "urn:ietf:params:oauth:request_uri:3mRkq0mV2b8TQz2l1aQk7g")]
    pub request_uri: String,
    /// Seconds the `request_uri` is valid.
    #[schema(example = 60)]
    pub expires_in: i64,
}

/// `POST /par`.
pub async fn push(
    ctx: &Ctx<'_>,
    params: AuthorizationParams,
) -> Result<PushedRequest, AuthorizeError> {
    if params.request_uri.is_some() {
        return Err(AuthorizeError::NestedRequestUri);
    }
    // RFC 9126 §2.3: the refusal is this endpoint's JSON error, whatever
    // `GET /authorize` would have done with it.
    let request = validate(ctx, params)
        .await
        .map_err(super::authorize::Refusal::into_error)?;
    let id = crate::crypto::random_token();
    ctx.store
        .insert(
            ns::PAR,
            ctx.secret_key(&id),
            store::to_bytes(&request)?,
            Some(ctx.now + REQUEST_URI_TTL),
            ctx.now,
        )
        .await?;
    Ok(PushedRequest {
        request_uri: format!("{REQUEST_URI_PREFIX}{id}"),
        expires_in: REQUEST_URI_TTL,
    })
}

/// The pushed request behind `request_uri`, consumed (single use); the
/// `client_id` of `GET /authorize` must be the pushing client's.
pub async fn redeem(
    ctx: &Ctx<'_>,
    request_uri: &str,
    client_id: Option<&str>,
) -> Result<AuthorizationRequest, AuthorizeError> {
    let id = request_uri
        .strip_prefix(REQUEST_URI_PREFIX)
        .ok_or(AuthorizeError::UnknownRequestUri)?;
    let request: AuthorizationRequest =
        match ctx.store.take(ns::PAR, ctx.secret_key(id), ctx.now).await? {
            Some(b) => store::from_bytes(&b)?,
            None => return Err(AuthorizeError::UnknownRequestUri),
        };
    if client_id != Some(request.client_id.as_str()) {
        return Err(AuthorizeError::ClientMismatch);
    }
    Ok(request)
}
