//! What `GET /verifier/requests/{id}` (and `/verifier/scan`, and the SSE
//! stream) return: DESIGN.md's `{transaction_id, status, expires_at,
//! claims?, error?}`, and the lookup and deletion of transactions.

use serde::Serialize;
use serde_json::{Map, Value};

use super::Verifier;
use super::transaction::{
    NS_REQUEST, NS_RESPONSE, NS_TRANSACTION, Outcome, Status, Transaction, TransactionId,
};
use crate::clock::rfc3339;
use crate::store::{self, StoreError};

/// `error` of a failed or expired transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = TransactionError)]
pub struct ErrorView {
    /// `invalid_request` (the response was refused), `invalid_presentation`
    /// (a scanned QR did not verify), `expired`, or the wallet's own error
    /// code (OpenID4VP 1.0 §8.5, e.g. `access_denied`; anything not
    /// `[a-z_]` becomes `invalid_wallet_error`).
    #[schema(example = "access_denied")]
    pub code: String,
    /// What went wrong, in English. A refused presentation names its
    /// Credential Query first (`vp_token.<id>: …`; a scanned QR does not).
    /// When the issuer's `x5c` certificate chain or the query's
    /// `trusted_authorities` refused it, a stable reason and a colon come
    /// next: `untrusted_root` (no path to a configured trust anchor),
    /// `certificate_expired`, `certificate_not_yet_valid`, `bad_signature`
    /// (a certificate's signature), `bad_chain` (malformed `x5c` or an
    /// invalid link), `leaf_is_ca`, `self_signed_leaf`, `key_usage` (no
    /// digitalSignature), `unsupported_key`, `aki_mismatch` (DCQL
    /// `trusted_authorities`), e.g. `vp_token.credential: untrusted_root:
    /// the certificate chain does not lead to a configured trust anchor`.
    #[schema(example = "the user declined")]
    pub description: String,
}

/// The status of a transaction as integrators see it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = TransactionStatusView)]
#[schema(example = json!({
    "transaction_id": "q1Xb8c0fT2yJv6mWnKp3Rg",
    "status": "verified",
    "expires_at": "2025-06-01T12:10:05Z",
    "claims": {"credential": {"age_equal_or_over": {"18": true}}}
}))]
pub struct StatusView {
    #[schema(value_type = String, example = "q1Xb8c0fT2yJv6mWnKp3Rg")]
    pub transaction_id: TransactionId,
    pub status: Status,
    /// While pending: when the request (or, once fetched, the response
    /// window) ends. Afterwards: when the result is deleted.
    #[schema(example = "2025-06-01T12:10:05Z")]
    pub expires_at: String,
    /// When `verified`: per Credential Query id, the disclosed claims asked
    /// for (an array of such objects for a `multiple` query).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>, nullable = false)]
    pub claims: Option<Map<String, Value>>,
    /// When `failed` or `expired`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub error: Option<ErrorView>,
}

impl StatusView {
    pub fn of(tx: &Transaction, now: i64, retention: i64) -> Self {
        let status = tx.status(now);
        let expires_at = match (status, tx.deadline()) {
            (Status::Pending, Some(d)) => d,
            _ => tx.retain_until(retention),
        };
        let (claims, error) = match tx.outcome() {
            Some(Outcome::Verified { claims }) => (Some(claims.clone()), None),
            Some(Outcome::Failed { code, description }) => (
                None,
                Some(ErrorView {
                    code: code.clone(),
                    description: description.clone(),
                }),
            ),
            None if status == Status::Expired => (
                None,
                Some(ErrorView {
                    code: "expired".into(),
                    description: "no answer came within the request's lifetime".into(),
                }),
            ),
            None => (None, None),
        };
        StatusView {
            transaction_id: tx.id.clone(),
            status,
            expires_at: rfc3339(expires_at),
            claims,
            error,
        }
    }
}

/// Lookup failures of the back-office endpoints.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    #[error("no verification request with this id")]
    NotFound,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Verifier {
    pub async fn transaction(&self, id: &str, now: i64) -> Result<Transaction, LookupError> {
        let bytes = self
            .store()
            .get(NS_TRANSACTION, id.to_owned(), now)
            .await?
            .ok_or(LookupError::NotFound)?;
        Ok(store::from_bytes(&bytes)?)
    }

    pub async fn status_of(&self, id: &str, now: i64) -> Result<StatusView, LookupError> {
        let tx = self.transaction(id, now).await?;
        Ok(StatusView::of(&tx, now, self.settings.retention))
    }

    /// Deletes a transaction and its result at once.
    pub async fn delete(&self, id: &str, now: i64) -> Result<(), LookupError> {
        let tx = self.transaction(id, now).await?;
        self.store()
            .delete(NS_REQUEST, tx.request_id.0.clone())
            .await?;
        if let Some(r) = &tx.response_id {
            self.store().delete(NS_RESPONSE, r.0.clone()).await?;
        }
        match self.store().delete(NS_TRANSACTION, id.to_owned()).await? {
            true => Ok(()),
            false => Err(LookupError::NotFound),
        }
    }
}
