//! A presentation transaction: `Requested → RequestObjectRetrieved →
//! Submitted | TimedOut`, with guarded transitions (pure: time comes in as
//! `now`). The status integrators see — `pending | verified | failed |
//! expired` — is derived, never stored.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::dcql::DcqlQuery;

/// Store namespace of transactions (key: transaction id).
pub const NS_TRANSACTION: &str = "vp_tx";
/// Store namespace mapping a wallet-facing request id to its transaction.
pub const NS_REQUEST: &str = "vp_req";
/// Store namespace mapping a response id to its transaction.
pub const NS_RESPONSE: &str = "vp_resp";

/// The back-office handle of a transaction.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TransactionId(pub String);

/// The wallet-facing handle in `request_uri` (which the QR shows), distinct
/// from the transaction id so the wallet never learns the back-office one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RequestId(pub String);

/// The handle in `response_uri`: 256 random bits of its own, disclosed only
/// inside the signed request object, so whoever merely sees the QR cannot
/// reach the response endpoint of the transaction.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ResponseId(pub String);

/// `response_mode` (OpenID4VP 1.0 §8.2, §8.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ResponseMode {
    #[serde(rename = "direct_post")]
    DirectPost,
    #[serde(rename = "direct_post.jwt")]
    DirectPostJwt,
}

impl ResponseMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ResponseMode::DirectPost => "direct_post",
            ResponseMode::DirectPostJwt => "direct_post.jwt",
        }
    }
}

/// How a submitted response ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// `claims`: per Credential Query id, only the requested claims.
    Verified {
        claims: Map<String, Value>,
    },
    Failed {
        code: String,
        description: String,
    },
}

/// Where a transaction is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum Phase {
    Requested,
    RequestObjectRetrieved { at: i64, respond_by: i64 },
    Submitted { at: i64, outcome: Outcome },
    TimedOut { at: i64 },
}

/// A stored transaction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transaction {
    pub id: TransactionId,
    pub request_id: RequestId,
    /// `None` for a transaction without a response URI: a scanned holder QR
    /// (decided at once), or one created before response ids existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_id: Option<ResponseId>,
    pub created_at: i64,
    /// End of the QR / `request_uri` lifetime.
    pub request_expires_at: i64,
    pub dcql_query: DcqlQuery,
    pub response_mode: ResponseMode,
    /// The relying party the transaction belongs to (its identity signs
    /// the request object); `default` for records made before parties.
    #[serde(default = "default_party")]
    pub party: String,
    /// The party's client id when the transaction was created: the request
    /// object's `client_id` and the KB-JWT `aud` an answer must carry.
    pub client_id: String,
    pub nonce: String,
    pub state: String,
    /// The private ECDH-ES P-256 JWK of this request (`direct_post.jwt`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_key: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_url: Option<String>,
    /// Created by the demo page (whose unauthenticated event stream may
    /// only show such transactions).
    #[serde(default)]
    pub demo: bool,
    pub phase: Phase,
}

fn default_party() -> String {
    super::identity::DEFAULT_PARTY.to_owned()
}

/// The derived status of a transaction: `pending` until a response is
/// recorded or the request (or its response window) ends; then `verified`,
/// `failed` or `expired`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = TransactionStatus)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pending,
    Verified,
    Failed,
    Expired,
}

/// A transition that is not allowed from the current phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("the request has expired")]
    Expired,
    #[error("the request object has already been retrieved (it is single use)")]
    AlreadyRetrieved,
    #[error("the request object has not been retrieved yet")]
    NotRetrieved,
    #[error("a response has already been received for this request")]
    AlreadySubmitted,
}

impl Transaction {
    /// The deadline after which an unanswered transaction is `expired`.
    pub fn deadline(&self) -> Option<i64> {
        match &self.phase {
            Phase::Requested => Some(self.request_expires_at),
            Phase::RequestObjectRetrieved { respond_by, .. } => Some(*respond_by),
            Phase::Submitted { .. } | Phase::TimedOut { .. } => None,
        }
    }

    pub fn status(&self, now: i64) -> Status {
        match &self.phase {
            Phase::Submitted {
                outcome: Outcome::Verified { .. },
                ..
            } => Status::Verified,
            Phase::Submitted {
                outcome: Outcome::Failed { .. },
                ..
            } => Status::Failed,
            Phase::TimedOut { .. } => Status::Expired,
            _ if self.deadline().is_some_and(|d| now >= d) => Status::Expired,
            _ => Status::Pending,
        }
    }

    /// The wallet fetched the request object: single use, within its 30 s.
    pub fn retrieve(&mut self, now: i64, response_window: i64) -> Result<(), TransitionError> {
        match self.phase {
            Phase::Requested if now < self.request_expires_at => {
                self.phase = Phase::RequestObjectRetrieved {
                    at: now,
                    respond_by: now.saturating_add(response_window),
                };
                Ok(())
            }
            Phase::Requested => Err(TransitionError::Expired),
            Phase::RequestObjectRetrieved { .. } => Err(TransitionError::AlreadyRetrieved),
            Phase::Submitted { .. } => Err(TransitionError::AlreadySubmitted),
            Phase::TimedOut { .. } => Err(TransitionError::Expired),
        }
    }

    /// Whether a response may be accepted now (checked before the work of
    /// verifying it, and again when the outcome is recorded).
    pub fn can_submit(&self, now: i64) -> Result<(), TransitionError> {
        match self.phase {
            Phase::RequestObjectRetrieved { respond_by, .. } if now < respond_by => Ok(()),
            Phase::RequestObjectRetrieved { .. } | Phase::TimedOut { .. } => {
                Err(TransitionError::Expired)
            }
            Phase::Requested if now >= self.request_expires_at => Err(TransitionError::Expired),
            Phase::Requested => Err(TransitionError::NotRetrieved),
            Phase::Submitted { .. } => Err(TransitionError::AlreadySubmitted),
        }
    }

    /// Records the outcome of the (single) response.
    pub fn submit(&mut self, now: i64, outcome: Outcome) -> Result<(), TransitionError> {
        self.can_submit(now)?;
        self.phase = Phase::Submitted { at: now, outcome };
        Ok(())
    }

    /// Marks an unanswered transaction whose deadline passed as timed out.
    pub fn time_out(&mut self, now: i64) -> bool {
        match self.deadline() {
            Some(d) if now >= d => {
                self.phase = Phase::TimedOut { at: d };
                true
            }
            _ => false,
        }
    }

    /// When the record is deleted: the retention window after the outcome
    /// (or after the deadline for one that never completes).
    pub fn retain_until(&self, retention: i64) -> i64 {
        let end = match &self.phase {
            Phase::Submitted { at, .. } | Phase::TimedOut { at } => *at,
            Phase::Requested => self.request_expires_at,
            Phase::RequestObjectRetrieved { respond_by, .. } => *respond_by,
        };
        end.saturating_add(retention)
    }

    pub fn outcome(&self) -> Option<&Outcome> {
        match &self.phase {
            Phase::Submitted { outcome, .. } => Some(outcome),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tx() -> Transaction {
        Transaction {
            id: TransactionId("t".into()),
            request_id: RequestId("r".into()),
            response_id: Some(ResponseId("p".into())),
            created_at: 1000,
            request_expires_at: 1030,
            dcql_query: super::super::presets::Preset::AgeOver18.query(),
            response_mode: ResponseMode::DirectPostJwt,
            party: "default".into(),
            client_id: "x509_hash:abc".into(),
            nonce: "n".into(),
            state: "s".into(),
            response_key: None,
            callback_url: None,
            demo: false,
            phase: Phase::Requested,
        }
    }

    #[test]
    fn happy_path_and_derived_status() {
        let mut t = tx();
        assert_eq!(t.status(1000), Status::Pending);
        t.retrieve(1029, 120).unwrap();
        assert_eq!(t.status(1100), Status::Pending);
        t.submit(1148, Outcome::Verified { claims: Map::new() })
            .unwrap();
        assert_eq!(t.status(5000), Status::Verified);
        assert_eq!(t.retain_until(600), 1748);
    }

    #[test]
    fn guards() {
        let mut t = tx();
        assert_eq!(t.can_submit(1001), Err(TransitionError::NotRetrieved));
        assert_eq!(t.retrieve(1030, 120), Err(TransitionError::Expired));
        assert_eq!(t.status(1030), Status::Expired);
        let mut t = tx();
        t.retrieve(1000, 120).unwrap();
        assert_eq!(
            t.retrieve(1001, 120),
            Err(TransitionError::AlreadyRetrieved)
        );
        assert_eq!(
            t.submit(1120, Outcome::Verified { claims: Map::new() }),
            Err(TransitionError::Expired)
        );
        assert!(t.time_out(1120));
        assert_eq!(t.status(1120), Status::Expired);
        let mut t = tx();
        t.retrieve(1000, 120).unwrap();
        t.submit(
            1001,
            Outcome::Failed {
                code: "invalid_request".into(),
                description: "x".into(),
            },
        )
        .unwrap();
        assert_eq!(
            t.submit(1002, Outcome::Verified { claims: Map::new() }),
            Err(TransitionError::AlreadySubmitted)
        );
        assert_eq!(t.status(1002), Status::Failed);
    }
}
