//! Nonce endpoint (OpenID4VCI 1.0 §7): a fresh 128-bit `c_nonce` that a key
//! proof must carry; it lives `c_nonce_ttl` seconds (5 minutes) and is
//! consumed by the first credential request that uses it.

use serde::Serialize;

use super::{Ctx, ns};
use crate::store::{StoreError, TxOp};

/// `POST /nonce` answer.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct NonceResponse {
    /// The nonce a key proof must carry; single use.
    pub c_nonce: String,
}

/// `POST /nonce`.
pub async fn issue(ctx: &Ctx<'_>) -> Result<NonceResponse, StoreError> {
    let c_nonce = crate::crypto::ordered_token();
    let expires = ctx.now + ctx.settings.issuer.c_nonce_ttl;
    ctx.store
        .insert(
            ns::C_NONCE,
            c_nonce.clone(),
            Vec::new(),
            Some(expires),
            ctx.now,
        )
        .await?;
    Ok(NonceResponse { c_nonce })
}

/// Consumes a `c_nonce`: `true` for exactly one caller while it is live.
/// Whether `c_nonce` is issued and unused (a read; the use itself is
/// [`consume_op`] in the issuance transaction).
pub async fn is_live(ctx: &Ctx<'_>, c_nonce: &str) -> Result<bool, StoreError> {
    Ok(ctx
        .store
        .get(ns::C_NONCE, c_nonce.to_owned(), ctx.now)
        .await?
        .is_some())
}

/// The transaction step that uses up `c_nonce`; the transaction fails with
/// `Missing` when it was used (or expired) meanwhile.
pub fn consume_op(ctx: &Ctx<'_>, c_nonce: &str) -> TxOp {
    TxOp::Take {
        ns: ns::C_NONCE,
        key: c_nonce.to_owned(),
        now: ctx.now,
    }
}

pub async fn consume(ctx: &Ctx<'_>, c_nonce: &str) -> Result<bool, StoreError> {
    Ok(ctx
        .store
        .take(ns::C_NONCE, c_nonce.to_owned(), ctx.now)
        .await?
        .is_some())
}
