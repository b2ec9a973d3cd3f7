//! Creating a presentation request (`POST /verifier/requests`): a preset or
//! a DCQL query, the response mode (default `direct_post.jwt`), a fresh
//! nonce (256 bits), state and — for encrypted responses — a fresh ECDH-ES
//! key; the `openid4vp://` link the QR carries.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Verifier;
use super::dcql::{DcqlError, DcqlQuery};
use super::jwe;
use super::presets::Preset;
use super::transaction::{
    NS_REQUEST, NS_TRANSACTION, Phase, RequestId, ResponseMode, Transaction, TransactionId,
};
use crate::clock::rfc3339;
use crate::crypto::{b64url, random_bytes, random_token};
use crate::store::{self, StoreError};

/// The body of `POST /verifier/requests`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateRequest {
    #[serde(default)]
    pub preset: Option<String>,
    #[serde(default)]
    pub dcql_query: Option<Value>,
    #[serde(default)]
    pub response_mode: Option<String>,
    /// Called with the result as a JWS signed by the verifier key.
    #[serde(default)]
    pub callback_url: Option<String>,
}

/// The answer to `POST /verifier/requests`.
#[derive(Debug, Clone, Serialize)]
pub struct Created {
    pub transaction_id: TransactionId,
    pub request_uri: String,
    pub authorization_request: String,
    pub expires_at: String,
    pub expires_in: i64,
}

/// Why a request was not created.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("give exactly one of `preset` and `dcql_query`")]
    PresetOrQuery,
    #[error(
        "preset: unknown preset; use age_over_18, hotel_check_in, pensioner_status or identity"
    )]
    UnknownPreset,
    #[error(transparent)]
    Dcql(#[from] DcqlError),
    #[error("response_mode: must be `direct_post.jwt` (default) or `direct_post`")]
    ResponseMode,
    #[error("response_mode: the HAIP profile requires `direct_post.jwt`")]
    HaipNeedsEncryption,
    #[error("callback_url: must be an https URL (http only for localhost)")]
    CallbackUrl,
    #[error("the response key could not be generated")]
    Key,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Resolves `preset` / `dcql_query` into a validated query.
pub fn query_of(preset: Option<&str>, dcql: Option<&Value>) -> Result<DcqlQuery, CreateError> {
    match (preset, dcql) {
        (Some(p), None) => Ok(Preset::from_name(p)
            .ok_or(CreateError::UnknownPreset)?
            .query()),
        (None, Some(q)) => Ok(DcqlQuery::from_value(q)?),
        _ => Err(CreateError::PresetOrQuery),
    }
}

fn check_callback(url: &str) -> Result<(), CreateError> {
    let ok = crate::config::PublicUrl::parse(url.split('?').next().unwrap_or_default()).is_ok()
        || url.starts_with("https://");
    if ok && url.len() <= 2048 && !url.chars().any(char::is_whitespace) {
        Ok(())
    } else {
        Err(CreateError::CallbackUrl)
    }
}

impl Verifier {
    /// Creates a transaction; `demo` marks one made by the demo page.
    pub async fn create(
        &self,
        req: CreateRequest,
        demo: bool,
        now: i64,
    ) -> Result<Created, CreateError> {
        let dcql_query = query_of(req.preset.as_deref(), req.dcql_query.as_ref())?;
        let response_mode = match req.response_mode.as_deref() {
            None | Some("direct_post.jwt") => ResponseMode::DirectPostJwt,
            Some("direct_post") if self.haip => return Err(CreateError::HaipNeedsEncryption),
            Some("direct_post") => ResponseMode::DirectPost,
            Some(_) => return Err(CreateError::ResponseMode),
        };
        if let Some(url) = &req.callback_url {
            check_callback(url)?;
        }
        let response_key = match response_mode {
            ResponseMode::DirectPostJwt => Some(jwe::generate_key().map_err(|_| CreateError::Key)?),
            ResponseMode::DirectPost => None,
        };
        let ttl = self.settings.request_ttl;
        let tx = Transaction {
            id: TransactionId(random_token()),
            request_id: RequestId(random_token()),
            created_at: now,
            request_expires_at: now + ttl,
            dcql_query,
            response_mode,
            client_id: self.client_id().to_owned(),
            // 256 bits; OpenID4VP 1.0 §14.1 asks for at least 128.
            nonce: b64url(random_bytes::<32>()),
            state: random_token(),
            response_key,
            callback_url: req.callback_url,
            demo,
            phase: Phase::Requested,
        };
        let keep_until = tx.retain_until(self.settings.retention);
        self.store()
            .insert(
                NS_REQUEST,
                tx.request_id.0.clone(),
                tx.id.0.clone().into_bytes(),
                Some(now + ttl + self.settings.response_window + self.settings.retention),
                now,
            )
            .await?;
        self.store()
            .insert(
                NS_TRANSACTION,
                tx.id.0.clone(),
                store::to_bytes(&tx)?,
                Some(keep_until),
                now,
            )
            .await?;
        let request_uri = self.request_uri(&tx.request_id);
        Ok(Created {
            authorization_request: self.authorization_request(&tx.request_id),
            request_uri,
            transaction_id: tx.id,
            expires_at: rfc3339(now + ttl),
            expires_in: ttl,
        })
    }
}
