//! A presentation transaction: `Requested → RequestObjectRetrieved →
//! Submitted | TimedOut`, with guarded transitions (pure: time comes in as
//! `now`). The status integrators see — `pending | verified | failed |
//! expired` — is derived, never stored.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::dcql::DcqlQuery;
use crate::crypto::{b64url, sha256};

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

/// `request_uri_method` of the `openid4vp://` link (OpenID4VP 1.0 §5.1):
/// `get` is the default and is not written; `post` tells a wallet that it
/// may POST to the request URI (§5.10, with `wallet_nonce`). A GET keeps
/// working either way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RequestUriMethod {
    #[default]
    Get,
    Post,
}

impl RequestUriMethod {
    pub fn is_get(&self) -> bool {
        *self == RequestUriMethod::Get
    }
}

/// The response code of a same-device transaction (OpenID4VP 1.0 §8.2):
/// only its SHA-256 is kept, and whether it has been used (it is single
/// use).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseCode {
    /// base64url of the SHA-256 of the code.
    pub hash: String,
    pub used: bool,
}

impl ResponseCode {
    /// The stored form of a freshly drawn `code`.
    pub fn of(code: &str) -> Self {
        ResponseCode {
            hash: b64url(sha256(code)),
            used: false,
        }
    }

    /// Whether `code` is this one, in constant time (both hashed, so
    /// neither the length nor the position of a difference shows).
    fn matches(&self, code: &str) -> bool {
        let hash = b64url(sha256(code));
        // Equal lengths unless the record was damaged (`eq` needs them).
        hash.len() == self.hash.len() && openssl::memcmp::eq(hash.as_bytes(), self.hash.as_bytes())
    }
}

/// Why the result of a transaction is not shown (a same-device
/// transaction's result needs its response code, once).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ResultAccessError {
    #[error(
        "this transaction was created with a redirect_uri (same-device flow): its result is readable only with the response_code of the redirect (?response_code=)"
    )]
    CodeRequired,
    #[error("response_code: it does not match this transaction")]
    WrongCode,
    #[error("response_code: it has already been used (it is single use)")]
    CodeUsed,
    #[error(
        "response_code: this transaction was not created with a redirect_uri, so it has no response code"
    )]
    NotSameDevice,
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
    /// Same-device flow (OpenID4VP 1.0 §8.2): where the wallet sends the
    /// user's browser once the answer is processed (one of the party's
    /// registered redirect URIs), with the response code in the fragment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_uri: Option<String>,
    /// Same-device flow: the response code, once an answer was processed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_code: Option<ResponseCode>,
    /// `request_uri_method` of the link.
    #[serde(default, skip_serializing_if = "RequestUriMethod::is_get")]
    pub request_uri_method: RequestUriMethod,
    pub phase: Phase,
}

fn default_party() -> String {
    crate::parties::DEFAULT_PARTY.to_owned()
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

    /// Same-device flow: made with a `redirect_uri`.
    pub fn same_device(&self) -> bool {
        self.redirect_uri.is_some()
    }

    /// Whether the result may be shown to a caller presenting
    /// `response_code`, and uses the code up when it is the one. A
    /// cross-device transaction is read without a code; a same-device one
    /// only with its code, once (OpenID4VP 1.0 §8.2, against session
    /// fixation: only whoever received the redirect learns the result).
    pub fn redeem(&mut self, response_code: Option<&str>) -> Result<(), ResultAccessError> {
        if !self.same_device() {
            return match response_code {
                None => Ok(()),
                Some(_) => Err(ResultAccessError::NotSameDevice),
            };
        }
        let code = response_code.ok_or(ResultAccessError::CodeRequired)?;
        match &mut self.response_code {
            Some(rc) if rc.matches(code) && rc.used => Err(ResultAccessError::CodeUsed),
            Some(rc) if rc.matches(code) => {
                rc.used = true;
                Ok(())
            }
            Some(_) | None => Err(ResultAccessError::WrongCode),
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
            redirect_uri: None,
            response_code: None,
            request_uri_method: RequestUriMethod::Get,
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

    #[test]
    fn response_code_is_required_once_for_same_device() {
        let mut t = tx();
        assert_eq!(t.redeem(None), Ok(()), "cross-device: no code");
        assert_eq!(t.redeem(Some("x")), Err(ResultAccessError::NotSameDevice));
        t.redirect_uri = Some("https://rp.example/done".into());
        assert_eq!(t.redeem(None), Err(ResultAccessError::CodeRequired));
        assert_eq!(t.redeem(Some("x")), Err(ResultAccessError::WrongCode));
        t.response_code = Some(ResponseCode::of("the-code"));
        assert_eq!(t.redeem(Some("the-cod")), Err(ResultAccessError::WrongCode));
        assert_eq!(t.redeem(Some("the-code")), Ok(()));
        assert_eq!(t.redeem(Some("the-code")), Err(ResultAccessError::CodeUsed));
        assert_eq!(t.redeem(None), Err(ResultAccessError::CodeRequired));
        // Only the hash is kept.
        let stored = serde_json::to_string(&t).unwrap();
        assert!(!stored.contains("the-code"), "{stored}");
    }
}
