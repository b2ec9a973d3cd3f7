//! Result delivery to the `callback_url` given at creation: the status JSON
//! as a JWS (`typ: JWT`) signed by the verifier key, POSTed once with
//! `Content-Type: application/jwt` (5 s timeout, no redirects). Delivery is
//! best effort: `GET /verifier/requests/{id}` stays authoritative.

use serde_json::{Value, json};

use super::Verifier;
use super::transaction::Transaction;
use super::view::StatusView;
use crate::crypto::jws;

impl Verifier {
    /// The signed result of a transaction.
    pub fn signed_result(&self, tx: &Transaction, now: i64) -> Option<String> {
        let view = StatusView::of(tx, now, self.settings.retention);
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
        rt.spawn_blocking(move || {
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .max_redirects(0)
                .http_status_as_error(false)
                .timeout_global(Some(std::time::Duration::from_secs(5)))
                .build()
                .into();
            match agent
                .post(&url)
                .header("Content-Type", "application/jwt")
                .send(body.as_bytes())
            {
                Ok(r) if r.status().is_success() => {}
                Ok(r) => tracing::warn!(transaction = %id, status = r.status().as_u16(), "result callback refused"),
                Err(_) => tracing::warn!(transaction = %id, "result callback failed"),
            }
        });
    }
}
