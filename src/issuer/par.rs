//! Pushed Authorization Requests (RFC 9126): the wallet posts the
//! authorization request and gets a single-use `request_uri` for
//! `GET /authorize`. A wallet may authenticate here by attestation (HAIP
//! 1.0 §4.2: required under `--profile haip`); the code that follows is
//! then bound to its instance key, and the client must still be a
//! registered `[[clients]]` entry, whose redirect URIs are the only ones
//! accepted.

use serde::Serialize;

use super::authorize::{
    AuthorizationParams, AuthorizationRequest, AuthorizeError, REQUEST_URI_PREFIX, validate,
};
use super::client_auth::{self, ClientAuthError};
use super::{Ctx, ns};
use crate::store::{self, StoreError, TxOp};

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

/// `POST /par` with the request's wallet attestation headers
/// `attestation`.
pub async fn push(
    ctx: &Ctx<'_>,
    mut params: AuthorizationParams,
    attestation: client_auth::Presented<'_>,
) -> Result<PushedRequest, AuthorizeError> {
    if params.request_uri.is_some() {
        return Err(AuthorizeError::NestedRequestUri);
    }
    // The client first (RFC 9126 §2.1): its `client_id`, if sent, must be
    // the attested one (HAIP 1.0 §4.2); if not sent, it is the attested one.
    let client = client_auth::authenticate(ctx, attestation, params.client_id.as_deref()).await?;
    if let (None, Some(c)) = (&params.client_id, &client) {
        params.client_id = Some(c.client_id.clone());
    }
    // RFC 9126 §2.3: the refusal is this endpoint's JSON error, whatever
    // `GET /authorize` would have done with it.
    let mut request = validate(ctx, params)
        .await
        .map_err(super::authorize::Refusal::into_error)?;
    request.client_instance = client.as_ref().map(|c| c.instance_jkt.clone());
    let id = crate::crypto::random_token();
    // The request and the PoP's replay marker in one transaction.
    let mut steps = vec![TxOp::Insert {
        ns: ns::PAR,
        key: ctx.secret_key(&id),
        value: store::to_bytes(&request)?,
        expires_at: Some(ctx.now + REQUEST_URI_TTL),
        now: ctx.now,
    }];
    steps.extend(client.as_ref().map(|c| c.replay.spend(ctx.now)));
    match ctx.store.transact(steps).await {
        Ok(()) => {}
        // The `request_uri` is fresh: the PoP was used meanwhile.
        Err(StoreError::Conflict) if client.is_some() => {
            return Err(ClientAuthError::Replayed.into());
        }
        Err(e) => return Err(e.into()),
    }
    if let Some(c) = &client {
        tracing::info!(client = ?c.client_id, wallet_provider = ?c.provider, "pushed authorization request of an attested client");
    }
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
