//! What `GET /verifier/requests/{id}` (and `/verifier/scan`, and the SSE
//! stream) return: DESIGN.md's `{transaction_id, status, expires_at,
//! claims?, error?}`, and the lookup and deletion of transactions.

use serde::Serialize;
use serde_json::{Map, Value};

use super::Verifier;
use super::transaction::{NS_REQUEST, NS_TRANSACTION, Outcome, Status, Transaction, TransactionId};
use crate::clock::rfc3339;
use crate::store::{self, StoreError};

/// `error` of a failed transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorView {
    pub code: String,
    pub description: String,
}

/// The status of a transaction as integrators see it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusView {
    pub transaction_id: TransactionId,
    pub status: Status,
    /// While pending: when the request (or, once fetched, the response
    /// window) ends. Afterwards: when the result is deleted.
    pub expires_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claims: Option<Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
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
        match self.store().delete(NS_TRANSACTION, id.to_owned()).await? {
            true => Ok(()),
            false => Err(LookupError::NotFound),
        }
    }
}
