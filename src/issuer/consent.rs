//! Consent: asked once per subject and wallet client and remembered (the
//! citizen gives permission on first use), recorded with the identity
//! proofing method, withdrawable through the back-office.

use serde::{Deserialize, Serialize};

use super::{Ctx, ns};
use crate::registry::{IdentityProofing, SubjectId};
use crate::store::{self, StoreError};

/// A remembered consent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Consent {
    pub subject_id: SubjectId,
    pub client_id: String,
    /// The configurations consented to so far.
    pub credential_configuration_ids: Vec<String>,
    /// How the subject's identity was proofed when they consented.
    pub identity_proofing: IdentityProofing,
    /// Unix seconds of the last grant.
    pub granted_at: i64,
}

impl Consent {
    /// Whether this consent covers every one of `ids`.
    pub fn covers(&self, ids: &[String]) -> bool {
        ids.iter()
            .all(|id| self.credential_configuration_ids.contains(id))
    }
}

/// `POST /issuer/consents/withdraw` body.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WithdrawRequest {
    pub subject_id: SubjectId,
    pub client_id: String,
}

/// Why a consent operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ConsentError {
    #[error("no consent of this subject for this client")]
    UnknownConsent,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl crate::http::WireError for ConsentError {
    fn code(&self) -> &'static str {
        match self {
            ConsentError::UnknownConsent => "not_found",
            ConsentError::Store(e) => e.code(),
        }
    }
    fn status(&self) -> u16 {
        match self {
            ConsentError::UnknownConsent => 404,
            ConsentError::Store(e) => e.status(),
        }
    }
}

fn key(subject: &SubjectId, client_id: &str) -> String {
    format!("{subject}\n{client_id}")
}

pub async fn find(
    ctx: &Ctx<'_>,
    subject: &SubjectId,
    client_id: &str,
) -> Result<Option<Consent>, StoreError> {
    match ctx
        .store
        .get(ns::CONSENT, key(subject, client_id), ctx.now)
        .await?
    {
        Some(b) => store::from_bytes(&b).map(Some),
        None => Ok(None),
    }
}

/// Records (or widens) a consent.
pub async fn grant(
    ctx: &Ctx<'_>,
    subject: &SubjectId,
    client_id: &str,
    ids: &[String],
    identity_proofing: IdentityProofing,
) -> Result<(), StoreError> {
    let mut all = find(ctx, subject, client_id)
        .await?
        .map(|c| c.credential_configuration_ids)
        .unwrap_or_default();
    all.extend(
        ids.iter()
            .filter(|i| !all.contains(i))
            .cloned()
            .collect::<Vec<_>>(),
    );
    let consent = Consent {
        subject_id: subject.clone(),
        client_id: client_id.to_owned(),
        credential_configuration_ids: all,
        identity_proofing,
        granted_at: ctx.now,
    };
    ctx.store
        .put(
            ns::CONSENT,
            key(subject, client_id),
            store::to_bytes(&consent)?,
            None,
        )
        .await
}

/// `GET /issuer/subjects/{id}/consents`.
pub async fn list(ctx: &Ctx<'_>, subject: &SubjectId) -> Result<Vec<Consent>, StoreError> {
    ctx.store
        .scan(ns::CONSENT, format!("{subject}\n"), ctx.now, 1000)
        .await?
        .iter()
        .map(|e| store::from_bytes(&e.value))
        .collect()
}

/// `POST /issuer/consents/withdraw`.
pub async fn withdraw(ctx: &Ctx<'_>, req: &WithdrawRequest) -> Result<(), ConsentError> {
    if ctx
        .store
        .delete(ns::CONSENT, key(&req.subject_id, &req.client_id))
        .await?
    {
        tracing::info!("consent withdrawn");
        Ok(())
    } else {
        Err(ConsentError::UnknownConsent)
    }
}
