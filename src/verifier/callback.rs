//! Result delivery to the `callback_url` given at creation: the status JSON
//! as a JWS (`typ: JWT`) signed by the verifier key, POSTed once with
//! `Content-Type: application/jwt` (5 s timeout, no redirects). Delivery is
//! best effort: `GET /verifier/requests/{id}` stays authoritative.
//!
//! The URL is checked at creation ([`check_callback_url`]) and again at
//! delivery, where the host's addresses are checked too and the connection
//! goes only to them (see [`outbound`](super::outbound)), so a name that
//! resolves inward — or starts to, after creation — is never called.

use std::time::Duration;

use serde_json::{Value, json};

use super::Verifier;
use super::outbound::{TargetError, TargetPolicy, check_url, refused_range};
use super::transaction::Transaction;
use super::view::StatusView;
use crate::crypto::jws;

/// Total time one delivery may take.
pub const TIMEOUT: Duration = Duration::from_secs(5);
/// Longest `callback_url` accepted.
pub const MAX_URL: usize = 2048;

/// Why a `callback_url` is refused at creation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallbackUrlError {
    #[error("callback_url: at most {MAX_URL} characters")]
    TooLong,
    #[error("callback_url: {0}")]
    Target(#[from] TargetError),
}

/// Checks a `callback_url` when a request is created: length, then the
/// outbound target rules (https, no user info, no IP literal in a forbidden
/// range). Names are resolved only at delivery.
pub fn check_callback_url(url: &str, policy: TargetPolicy) -> Result<(), CallbackUrlError> {
    if url.len() > MAX_URL {
        return Err(CallbackUrlError::TooLong);
    }
    check_url(url, policy)?;
    Ok(())
}

impl Verifier {
    /// The signed result of a transaction (a same-device one's without
    /// `claims`: those are only for the holder of its response code).
    pub fn signed_result(&self, tx: &Transaction, now: i64) -> Option<String> {
        let view = StatusView::without_claims_if_same_device(tx, now, self.settings.retention);
        let payload = json!({
            "iss": self.client_id(),
            "iat": now,
            "transaction_id": view.transaction_id,
            "result": view,
        });
        let mut header = self.keys.jar_header();
        header.insert("typ".into(), Value::String("JWT".into()));
        jws::sign(
            &self.keys.signing,
            &header,
            &serde_json::to_vec(&payload).ok()?,
        )
        .ok()
    }

    /// Sends the result to the transaction's `callback_url`, if any, in the
    /// background.
    pub fn send_callback(&self, tx: &Transaction, now: i64) {
        let Some(url) = tx.callback_url.clone() else {
            return;
        };
        let Some(body) = self.signed_result(tx, now) else {
            return;
        };
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let id = tx.id.0.clone();
        // Checked at creation; again here, as the policy may have changed
        // since (a restart with other settings).
        let url = match check_url(&url, self.outbound.policy()) {
            Ok(url) => url,
            Err(e) => {
                tracing::warn!(transaction = %id, reason = %e, "result callback not sent");
                return;
            }
        };
        let agent = self.callback_agent.clone();
        rt.spawn_blocking(move || {
            match agent
                .post(url.as_str())
                .header("Content-Type", "application/jwt")
                .send(body.as_bytes())
            {
                Ok(r) if r.status().is_success() => {}
                Ok(r) => tracing::warn!(transaction = %id, status = r.status().as_u16(), "result callback refused"),
                Err(e) => match refused_range(&e) {
                    Some(range) => tracing::warn!(transaction = %id, %range, "result callback not sent: the host resolves to a forbidden address"),
                    None => tracing::warn!(transaction = %id, "result callback failed"),
                },
            }
        });
    }
}
