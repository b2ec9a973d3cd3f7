//! The holder-shown QR: the wallet takes a single-use presentation nonce
//! (30 s) whose audience is our client_id, signs a KB-JWT with it, and shows
//! the presentation as a QR — by value, or as a short link to a copy it
//! uploaded with the same nonce. The relying party posts the scanned text;
//! the nonce is taken atomically, so a QR is worthless after one scan and
//! after 30 s.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Verifier;
use super::dcql::{DcqlError, DcqlQuery};
use super::presentation::PresentationError;
use super::presentation::{Binding, peek_kb_nonce};
use super::request::CreateError;
use super::transaction::{
    NS_TRANSACTION, Outcome, Phase, RequestId, ResponseMode, Transaction, TransactionId,
};
use super::view::StatusView;
use crate::clock::rfc3339;
use crate::crypto::{b64url, random_bytes, random_token};
use crate::parties::audit::FailureReason;
use crate::store::{self, StoreError, TxOp};

/// Store namespace of presentation nonces.
pub const NS_PRESENTATION_NONCE: &str = "vp_pnonce";
/// Store namespace of uploaded presentations (key: upload id).
pub const NS_UPLOAD: &str = "vp_upload";
/// Store namespace marking a nonce as used for an upload.
const NS_UPLOAD_NONCE: &str = "vp_upload_nonce";
/// Largest scanned text / uploaded presentation.
pub const MAX_PRESENTATION: usize = 64 * 1024;

/// `POST /presentation-nonces`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PresentationNonce {
    /// The KB-JWT `nonce`: single use, 256 bits.
    #[schema(example = "oH0c6XlqS1f7m0J2bq9i3Yv8zR4tWkNaEuPdGx5cLsA")]
    pub nonce: String,
    /// The KB-JWT `aud`: the verifier's Client Identifier.
    #[schema(example = "x509_hash:UvRWDK3mZ6t0Zc4yZ2f6OBrNtl1kmKZbW3Dr_Xx0nFA")]
    pub audience: String,
    /// RFC 3339.
    #[schema(example = "2025-06-01T12:00:30Z")]
    pub expires_at: String,
    /// Seconds (30 by default).
    #[schema(example = 30)]
    pub expires_in: i64,
}

/// `POST /verifier/scan`: the scanned text and what it must prove (exactly
/// one of `preset` and `dcql_query`, with exactly one Credential Query).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"qr": "eyJhbGciOiJFUzI1NiIsInR5cCI6ImRjK3NkLWp3dCJ9…~", "preset": "age_over_18"}))]
pub struct ScanRequest {
    /// The QR's text: an SD-JWT presentation with a KB-JWT over a
    /// presentation nonce, or a `/p/{id}` link to an uploaded one; at most
    /// 64 KiB; surrounding white space is ignored.
    #[schema(
        max_length = 65536,
        pattern = "[^\\t-\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]"
    )]
    pub qr: String,
    /// A built-in query.
    #[serde(default)]
    #[schema(value_type = Option<super::presets::Preset>, nullable = false, example = "age_over_18")]
    pub preset: Option<String>,
    /// A DCQL query with one Credential Query.
    #[serde(default)]
    #[schema(value_type = Option<DcqlQuery>, nullable = false)]
    pub dcql_query: Option<Value>,
    /// The relying party scanning (set from its key, never from the body).
    #[serde(skip)]
    pub party: crate::parties::PartyId,
}

/// `POST /presentations` (by-reference upload).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = PresentationUpload)]
pub struct Upload {
    /// An SD-JWT presentation whose KB-JWT `nonce` is a live presentation
    /// nonce; at most 64 KiB.
    #[schema(
        min_length = 1,
        max_length = 65536,
        example = "eyJhbGciOiJFUzI1NiIsInR5cCI6ImRjK3NkLWp3dCJ9…~"
    )]
    pub presentation: String,
}

/// The answer to an upload: the link the holder QR carries.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = PresentationUploaded)]
pub struct Uploaded {
    /// The `/p/{id}` link; scanned once, then gone.
    #[schema(example = "https://id.example.ru/p/7fQ2nR0cV5xKp1LmZ8bY3w")]
    pub uri: String,
    /// When it expires with its nonce, RFC 3339.
    #[schema(example = "2025-06-01T12:00:30Z")]
    pub expires_at: String,
}

/// A malformed scan or upload call (a presentation that does not verify is
/// not an error: it is a `failed` result).
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error(transparent)]
    Query(#[from] CreateError),
    #[error("dcql_query.credentials: a holder QR answers exactly one Credential Query")]
    OneCredential,
    #[error("qr: must be non-empty and at most 64 KiB")]
    QrSize,
    #[error("presentation: its KB-JWT nonce is not a live presentation nonce")]
    UnknownNonce,
    #[error("presentation: a presentation was already uploaded with this nonce")]
    NonceUsed,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The checks of a scan's input (before it uses any quota): one
/// Credential Query, a QR of 1 byte to 64 KiB.
pub fn check_scan(query: &DcqlQuery, req: &ScanRequest) -> Result<(), ScanError> {
    if query.credentials.len() != 1 {
        return Err(ScanError::OneCredential);
    }
    let qr = req.qr.trim();
    if qr.is_empty() || qr.len() > MAX_PRESENTATION {
        return Err(ScanError::QrSize);
    }
    Ok(())
}

impl Verifier {
    /// A fresh single-use nonce for a holder-shown QR.
    pub async fn presentation_nonce(&self, now: i64) -> Result<PresentationNonce, StoreError> {
        let ttl = self.settings.presentation_nonce_ttl;
        let nonce = b64url(random_bytes::<32>());
        self.store()
            .insert(
                NS_PRESENTATION_NONCE,
                nonce.clone(),
                vec![],
                Some(now + ttl),
                now,
            )
            .await?;
        Ok(PresentationNonce {
            nonce,
            audience: self.client_id().to_owned(),
            expires_at: rfc3339(now + ttl),
            expires_in: ttl,
        })
    }

    /// Stores a presentation too large for a QR; it lives as long as its
    /// nonce and can be scanned once.
    pub async fn upload(&self, up: Upload, now: i64) -> Result<Uploaded, ScanError> {
        if up.presentation.is_empty() || up.presentation.len() > MAX_PRESENTATION {
            return Err(ScanError::QrSize);
        }
        let nonce = peek_kb_nonce(&up.presentation).ok_or(ScanError::UnknownNonce)?;
        if self
            .store()
            .get(NS_PRESENTATION_NONCE, nonce.clone(), now)
            .await?
            .is_none()
        {
            return Err(ScanError::UnknownNonce);
        }
        let until = now + self.settings.presentation_nonce_ttl;
        match self
            .store()
            .insert(NS_UPLOAD_NONCE, nonce, vec![], Some(until), now)
            .await
        {
            Err(StoreError::Conflict) => return Err(ScanError::NonceUsed),
            other => other?,
        }
        let id = random_token();
        self.store()
            .insert(
                NS_UPLOAD,
                id.clone(),
                up.presentation.into_bytes(),
                Some(until),
                now,
            )
            .await?;
        Ok(Uploaded {
            uri: self.public_url.join(&format!("{}{id}", super::UPLOAD_PATH)),
            expires_at: rfc3339(until),
        })
    }

    /// Whether an uploaded presentation is still waiting to be scanned.
    pub async fn upload_is_live(&self, id: &str, now: i64) -> Result<bool, StoreError> {
        Ok(self
            .store()
            .get(NS_UPLOAD, id.to_owned(), now)
            .await?
            .is_some())
    }

    /// Verifies a scanned holder QR at once and keeps the result like a
    /// transaction's (so `GET /verifier/requests/{id}` shows it too).
    /// `query` is the request's, resolved once ([`query_of`](super::request::query_of)).
    pub async fn scan(
        &self,
        req: ScanRequest,
        query: DcqlQuery,
        now: i64,
    ) -> Result<Scanned, ScanError> {
        check_scan(&query, &req)?;
        let qr = req.qr.trim();
        let by_ref = self.public_url.join(super::UPLOAD_PATH);
        let presentation = match qr.strip_prefix(&by_ref) {
            Some(id) => self
                .store()
                .take(NS_UPLOAD, id.to_owned(), now)
                .await?
                .and_then(|b| String::from_utf8(b).ok()),
            None => Some(qr.to_owned()),
        };
        let nonce = presentation.as_deref().and_then(peek_kb_nonce);
        let invalid = Some(FailureReason::InvalidPresentation);
        let (outcome, mut reason, nonce) = match (presentation, nonce) {
            (None, _) => (
                failed("the presentation link is unknown, expired or already scanned"),
                invalid,
                None,
            ),
            (Some(_), None) => (
                failed("the QR does not hold a presentation with a KB-JWT"),
                invalid,
                None,
            ),
            (Some(p), Some(nonce)) => {
                let binding = Binding {
                    aud: self.client_id(),
                    nonce: &nonce,
                };
                let (outcome, reason) = match self
                    .verify_presentation(&query.credentials[0], &p, binding, now)
                    .await
                {
                    Ok(claims) => {
                        let mut m = serde_json::Map::new();
                        m.insert(query.credentials[0].id.clone(), Value::Object(claims));
                        (Outcome::Verified { claims: m }, None)
                    }
                    Err(e) => (failed(&e.to_string()), Some(failure_reason(&e))),
                };
                (outcome, reason, Some(nonce))
            }
        };
        let mut tx = Transaction {
            id: TransactionId(random_token()),
            request_id: RequestId(random_token()),
            // Decided at once: there is nothing to answer.
            response_id: None,
            created_at: now,
            request_expires_at: now,
            dcql_query: query,
            response_mode: ResponseMode::DirectPost,
            party: req.party.to_string(),
            client_id: self.client_id().to_owned(),
            nonce: String::new(),
            state: String::new(),
            response_key: None,
            callback_url: None,
            demo: false,
            redirect_uri: None,
            response_code: None,
            request_uri_method: Default::default(),
            phase: Phase::Submitted { at: now, outcome },
        };
        let keep = tx.retain_until(self.settings.retention);
        let record = |tx: &Transaction| -> Result<TxOp, StoreError> {
            Ok(TxOp::Insert {
                ns: NS_TRANSACTION,
                key: tx.id.0.clone(),
                value: store::to_bytes(tx)?,
                expires_at: Some(keep),
                now,
            })
        };
        // Single use: the nonce is taken in the commit that records the
        // result, so one scan costs one write, and of two scans of the same
        // QR exactly one takes it; a presentation that did not verify takes
        // it too. Without it the result is that failure.
        if let Some(nonce) = nonce {
            let take = TxOp::Take {
                ns: NS_PRESENTATION_NONCE,
                key: nonce,
                now,
            };
            match self.store().transact(vec![take, record(&tx)?]).await {
                Ok(()) => {
                    return Ok(Scanned {
                        view: StatusView::of(&tx, now, self.settings.retention),
                        reason,
                    });
                }
                Err(StoreError::Missing) => {
                    tx.phase = Phase::Submitted {
                        at: now,
                        outcome: failed(
                            "the presentation nonce is unknown, expired or already used",
                        ),
                    };
                    reason = invalid;
                }
                Err(e) => return Err(e.into()),
            }
        }
        self.store().transact(vec![record(&tx)?]).await?;
        Ok(Scanned {
            view: StatusView::of(&tx, now, self.settings.retention),
            reason,
        })
    }
}

/// A scan's result, and why it failed (`None` when verified) for the
/// party's audit trail and metrics.
#[derive(Debug)]
pub struct Scanned {
    pub view: StatusView,
    pub reason: Option<FailureReason>,
}

/// The fixed-set reason of a scanned presentation that did not verify: a
/// presentation that verified but lacks a requested claim or value is
/// `query_unmet` (as for a wallet's response), anything else about it
/// (signature, issuer trust, status, KB-JWT) `invalid_presentation`.
fn failure_reason(e: &PresentationError) -> FailureReason {
    match e {
        PresentationError::Match(_) => FailureReason::QueryUnmet,
        PresentationError::Malformed
        | PresentationError::Trust(_)
        | PresentationError::SdJwt(_)
        | PresentationError::Status(_) => FailureReason::InvalidPresentation,
    }
}

fn failed(description: &str) -> Outcome {
    Outcome::Failed {
        code: "invalid_presentation".into(),
        description: description.to_owned(),
    }
}

impl From<DcqlError> for ScanError {
    fn from(e: DcqlError) -> Self {
        ScanError::Query(CreateError::Dcql(e))
    }
}
