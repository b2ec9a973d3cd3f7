//! Notification endpoint (OpenID4VCI 1.0 §11): the wallet reports whether
//! it stored (`credential_accepted`), failed to store (`credential_failure`)
//! or deleted (`credential_deleted`) the credentials of one response.

use serde::{Deserialize, Serialize};

use super::credential::{self, CredentialError};
use super::{Ctx, Grant, ns};
use crate::registry::SubjectId;
use crate::store::{self, StoreError, TxOp, Update};

/// Events the wallet may report (§11.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    CredentialAccepted,
    CredentialFailure,
    CredentialDeleted,
}

/// The Notification Request body (§11.1).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct NotificationRequest {
    /// From the Credential Response.
    pub notification_id: String,
    pub event: Event,
    /// Free text from the wallet; never stored or logged (it may carry
    /// anything).
    #[serde(default)]
    #[schema(nullable = false)]
    pub event_description: Option<String>,
}

/// What is kept per Credential Response.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NotificationRecord {
    pub subject_id: SubjectId,
    pub credential_ids: Vec<String>,
    /// Events received, with their time.
    #[serde(default)]
    pub events: Vec<(Event, i64)>,
}

/// The rule a notification broke.
#[derive(Debug, thiserror::Error)]
pub enum NotificationError {
    #[error(transparent)]
    Token(CredentialError),
    #[error("the body is not a Notification Request (`notification_id`, `event`)")]
    InvalidRequest,
    #[error("the notification_id is unknown or belongs to another authorization")]
    InvalidNotificationId,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl crate::http::WireError for NotificationError {
    fn code(&self) -> &'static str {
        match self {
            NotificationError::Token(e) => e.code(),
            NotificationError::InvalidRequest => "invalid_notification_request",
            NotificationError::InvalidNotificationId => "invalid_notification_id",
            NotificationError::Store(e) => e.code(),
        }
    }
    fn status(&self) -> u16 {
        match self {
            NotificationError::Token(e) => e.status(),
            NotificationError::InvalidRequest | NotificationError::InvalidNotificationId => 400,
            NotificationError::Store(e) => e.status(),
        }
    }
    fn challenge(&self) -> Option<String> {
        match self {
            NotificationError::Token(e) => e.challenge(),
            _ => None,
        }
    }
}

/// Records the notification id of a Credential Response.
pub async fn save(
    ctx: &Ctx<'_>,
    id: &str,
    grant: &Grant,
    credential_ids: Vec<String>,
) -> Result<(), StoreError> {
    ctx.store
        .transact(vec![save_op(ctx, id, grant, credential_ids)?])
        .await
}

/// The transaction step storing the notification record of one issuance.
pub fn save_op(
    ctx: &Ctx<'_>,
    id: &str,
    grant: &Grant,
    credential_ids: Vec<String>,
) -> Result<TxOp, StoreError> {
    let rec = NotificationRecord {
        subject_id: grant.subject_id.clone(),
        credential_ids,
        events: Vec::new(),
    };
    Ok(TxOp::Insert {
        ns: ns::NOTIFICATION,
        key: id.to_owned(),
        value: store::to_bytes(&rec)?,
        expires_at: None,
        now: ctx.now,
    })
}

/// `POST /notification`.
pub async fn notify(
    ctx: &Ctx<'_>,
    bearer: Option<&str>,
    body: &[u8],
) -> Result<(), NotificationError> {
    let grant = credential::authorize(ctx, bearer)
        .await
        .map_err(NotificationError::Token)?;
    let req: NotificationRequest =
        serde_json::from_slice(body).map_err(|_| NotificationError::InvalidRequest)?;
    let (subject, event, now) = (grant.subject_id.clone(), req.event, ctx.now);
    let decide = move |cur: Option<&[u8]>| -> Option<NotificationRecord> {
        let mut rec: NotificationRecord = store::from_bytes(cur?).ok()?;
        (rec.subject_id == subject).then(|| {
            rec.events.push((event, now));
            rec
        })
    };
    let d = decide.clone();
    let seen = ctx
        .store
        .update(
            ns::NOTIFICATION,
            req.notification_id.clone(),
            ctx.now,
            Box::new(move |cur| match d(cur).map(|r| store::to_bytes(&r)) {
                Some(Ok(value)) => Update::Put {
                    value,
                    expires_at: None,
                },
                _ => Update::Keep,
            }),
        )
        .await?;
    let rec = decide(seen.as_deref()).ok_or(NotificationError::InvalidNotificationId)?;
    tracing::info!(event = ?req.event, credentials = rec.credential_ids.len(), "wallet notification");
    Ok(())
}
