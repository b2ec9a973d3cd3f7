//! Notification endpoint (OpenID4VCI 1.0 §11): the wallet reports whether
//! it stored (`credential_accepted`), failed to store (`credential_failure`)
//! or deleted (`credential_deleted`) the credentials of one response.
//!
//! A record keeps the last [`MAX_EVENTS`] events (older ones are dropped,
//! so a wallet repeating itself cannot grow it) and lives as long as the
//! latest-expiring credential of its response; then the store sweeps it.

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

/// Events kept per Credential Response: the latest ones.
pub const MAX_EVENTS: usize = 8;

/// What is kept per Credential Response.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NotificationRecord {
    pub subject_id: SubjectId,
    pub credential_ids: Vec<String>,
    /// The last [`MAX_EVENTS`] events received, with their time, oldest
    /// first.
    #[serde(default)]
    pub events: Vec<(Event, i64)>,
    /// When the record goes: the `exp` of the response's latest-expiring
    /// credential (absent in records written before it was kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

impl NotificationRecord {
    /// Appends `event`, dropping the oldest beyond [`MAX_EVENTS`].
    fn record(&mut self, event: Event, now: i64) {
        self.events.push((event, now));
        let over = self.events.len().saturating_sub(MAX_EVENTS);
        self.events.drain(..over);
    }
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

/// Records the notification id of a Credential Response whose
/// credentials expire by `expires_at` (the latest `exp`).
pub async fn save(
    ctx: &Ctx<'_>,
    id: &str,
    grant: &Grant,
    credential_ids: Vec<String>,
    expires_at: i64,
) -> Result<(), StoreError> {
    ctx.store
        .transact(vec![save_op(ctx, id, grant, credential_ids, expires_at)?])
        .await
}

/// The transaction step storing the notification record of one issuance;
/// it lives until `expires_at`, the latest `exp` of its credentials.
pub fn save_op(
    ctx: &Ctx<'_>,
    id: &str,
    grant: &Grant,
    credential_ids: Vec<String>,
    expires_at: i64,
) -> Result<TxOp, StoreError> {
    let rec = NotificationRecord {
        subject_id: grant.subject_id.clone(),
        credential_ids,
        events: Vec::new(),
        expires_at: Some(expires_at),
    };
    Ok(TxOp::Insert {
        ns: ns::NOTIFICATION,
        key: id.to_owned(),
        value: store::to_bytes(&rec)?,
        expires_at: Some(expires_at),
        now: ctx.now,
    })
}

/// `POST /notification`.
pub async fn notify(
    ctx: &Ctx<'_>,
    presented: credential::Presented<'_>,
    body: &[u8],
) -> Result<(), NotificationError> {
    let grant = credential::authorize(ctx, presented)
        .await
        .map_err(NotificationError::Token)?;
    let req: NotificationRequest =
        serde_json::from_slice(body).map_err(|_| NotificationError::InvalidRequest)?;
    let (subject, event, now) = (grant.subject_id.clone(), req.event, ctx.now);
    // A record from before lifetimes were kept gets the longest a
    // credential may live from now.
    let legacy_until = now.saturating_add(ctx.settings.issuer.credential_days * 86_400);
    let decide = move |cur: Option<&[u8]>| -> Option<NotificationRecord> {
        let mut rec: NotificationRecord = store::from_bytes(cur?).ok()?;
        (rec.subject_id == subject).then(|| {
            rec.record(event, now);
            rec.expires_at.get_or_insert(legacy_until);
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
            Box::new(
                move |cur| match d(cur).map(|r| (store::to_bytes(&r), r.expires_at)) {
                    Some((Ok(value), expires_at)) => Update::Put { value, expires_at },
                    _ => Update::Keep,
                },
            ),
        )
        .await?;
    let rec = decide(seen.as_deref()).ok_or(NotificationError::InvalidNotificationId)?;
    tracing::info!(event = ?req.event, credentials = rec.credential_ids.len(), "wallet notification");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_events_only() {
        let mut rec = NotificationRecord {
            subject_id: SubjectId("s".into()),
            credential_ids: vec!["c".into()],
            events: Vec::new(),
            expires_at: Some(100),
        };
        for t in 0..(MAX_EVENTS as i64 + 5) {
            rec.record(Event::CredentialAccepted, t);
        }
        rec.record(Event::CredentialDeleted, 99);
        assert_eq!(rec.events.len(), MAX_EVENTS);
        assert_eq!(rec.events[0].1, 6, "the oldest were dropped");
        assert_eq!(rec.events.last(), Some(&(Event::CredentialDeleted, 99)));
    }
}
