//! What `GET /verifier/requests/{id}` (and `/verifier/scan`, and the SSE
//! stream) return: DESIGN.md's `{transaction_id, status, expires_at,
//! claims?, error?}`, and the lookup and deletion of transactions.
//!
//! A same-device transaction (made with a `redirect_uri`) shows its result
//! only to whoever presents the response code of the redirect, once
//! ([`Verifier::result_of`]); its status events and callback carry the
//! status without `claims` ([`StatusView::without_claims_if_same_device`]).

use serde::Serialize;
use serde_json::{Map, Value};

use super::Verifier;
use super::transaction::{
    NS_REQUEST, NS_RESPONSE, NS_TRANSACTION, Outcome, ResultAccessError, Status, Transaction,
    TransactionId,
};
use crate::clock::rfc3339;
use crate::store::{self, StoreError, Update};

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

impl StatusView {
    /// For the status events and the result callback: a same-device
    /// transaction's claims are only for the holder of the response code.
    pub fn without_claims_if_same_device(tx: &Transaction, now: i64, retention: i64) -> Self {
        let mut view = Self::of(tx, now, retention);
        if tx.same_device() {
            view.claims = None;
        }
        view
    }
}

/// Why `GET /verifier/requests/{id}` shows nothing.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    Lookup(#[from] LookupError),
    #[error(transparent)]
    Access(#[from] ResultAccessError),
}

impl From<StoreError> for ReadError {
    fn from(e: StoreError) -> Self {
        ReadError::Lookup(LookupError::Store(e))
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

    /// The transaction waiting at a response URI, if any (to answer it,
    /// or to account for a response that failed it).
    pub async fn transaction_at_response(
        &self,
        response_id: &str,
        now: i64,
    ) -> Result<Transaction, LookupError> {
        let id = self
            .store()
            .get(NS_RESPONSE, response_id.to_owned(), now)
            .await?
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or(LookupError::NotFound)?;
        self.transaction(&id, now).await
    }

    /// The status as `GET /verifier/requests/{id}` shows it: a cross-device
    /// transaction without a code; a same-device one only with its response
    /// code, which this uses up (atomically: of two racing readers exactly
    /// one gets the result).
    pub async fn result_of(
        &self,
        id: &str,
        response_code: Option<&str>,
        now: i64,
    ) -> Result<StatusView, ReadError> {
        let tx = self.transaction(id, now).await?;
        let retention = self.settings.retention;
        if !tx.same_device() {
            let mut tx = tx;
            tx.redeem(response_code)?;
            return Ok(StatusView::of(&tx, now, retention));
        }
        let code = response_code.map(str::to_owned);
        let code2 = code.clone();
        let before = self
            .store()
            .update(
                NS_TRANSACTION,
                id.to_owned(),
                now,
                Box::new(move |cur| {
                    let Some(mut t) = cur.and_then(|b| store::from_bytes::<Transaction>(b).ok())
                    else {
                        return Update::Keep;
                    };
                    match t
                        .redeem(code2.as_deref())
                        .ok()
                        .map(|()| store::to_bytes(&t))
                    {
                        Some(Ok(value)) => Update::Put {
                            value,
                            expires_at: Some(t.retain_until(retention)),
                        },
                        Some(Err(_)) | None => Update::Keep,
                    }
                }),
            )
            .await?
            .ok_or(LookupError::NotFound)?;
        // Replay the pure decision on what the update saw.
        let mut tx: Transaction = store::from_bytes(&before)?;
        tx.redeem(code.as_deref())?;
        Ok(StatusView::of(&tx, now, retention))
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
