//! The request object at `request_uri` (OpenID4VP 1.0 §5, RFC 9101): a JWT
//! `typ: oauth-authz-req+jwt` signed by the verifier key, fetched by GET or
//! by POST (`request_uri_method=post`, §5.10, echoing `wallet_nonce`).
//!
//! Single use: the first fetch within the request's 30 s moves the
//! transaction to `RequestObjectRetrieved` and opens the response window; a
//! second fetch is refused (`invalid_request`) and leaves the transaction
//! as it is, so whoever fetched first is the only one who can answer. The
//! request object is the only place that discloses `response_uri` (its own
//! random id), `state` and the response key: what an answer must show to
//! change the transaction.

use serde_json::{Value, json};

use super::dcql::FORMAT_SD_JWT_VC;
use super::jwe;
use super::transaction::{NS_REQUEST, NS_TRANSACTION, ResponseMode, Transaction, TransitionError};
use super::{IdentityError, Verifier};
use crate::crypto::jws;
use crate::store::{self, StoreError, Update};

/// JWS `typ` of a request object (RFC 9101 §10.8).
pub const TYP: &str = "oauth-authz-req+jwt";
/// Media type of the request URI response.
pub const MEDIA_TYPE: &str = "application/oauth-authz-req+jwt";
/// Static `aud` of a request object (OpenID4VP 1.0 §5.8).
const AUD: &str = "https://self-issued.me/v2";
/// `sd-jwt_alg_values` and `kb-jwt_alg_values` of `client_metadata`: fully
/// specified identifiers (OpenID4VP 1.0, SD-JWT VC format metadata; RFC
/// 9864), so `Ed25519`, not `EdDSA` (whose headers are still accepted).
const FULLY_SPECIFIED_ALGS: &[&str] = &["ES256", "Ed25519"];

/// Why a request object is not served.
#[derive(Debug, thiserror::Error)]
pub enum RequestObjectError {
    #[error("no request with this id")]
    UnknownRequest,
    #[error("the request has expired")]
    Expired,
    #[error("the request object has already been retrieved; it is single use")]
    AlreadyRetrieved,
    #[error("wallet_nonce: must be 1 to 256 URL-safe characters")]
    BadWalletNonce,
    #[error("signing the request object failed")]
    Signing,
    #[error("the relying party's identity is not available (deleted, or its certificate changed)")]
    Identity,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Verifier {
    /// Serves the request object for the wallet-facing `request_id`.
    pub async fn request_object(
        &self,
        request_id: &str,
        wallet_nonce: Option<&str>,
        now: i64,
    ) -> Result<String, RequestObjectError> {
        if let Some(n) = wallet_nonce {
            let ok = !n.is_empty()
                && n.len() <= 256
                && n.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.~+/=".contains(&b));
            if !ok {
                return Err(RequestObjectError::BadWalletNonce);
            }
        }
        let tx_id = self
            .store()
            .get(NS_REQUEST, request_id.to_owned(), now)
            .await?
            .ok_or(RequestObjectError::UnknownRequest)?;
        let tx_id = String::from_utf8(tx_id).map_err(|_| RequestObjectError::UnknownRequest)?;
        let window = self.settings.response_window;
        let retention = self.settings.retention;
        let before = self
            .store()
            .update(
                NS_TRANSACTION,
                tx_id,
                now,
                Box::new(move |cur| {
                    let Some(mut tx) = cur
                        .and_then(|b| store::from_bytes::<Transaction>(b).ok())
                        .filter(|t| t.response_id.is_some())
                    else {
                        return Update::Keep;
                    };
                    match tx.retrieve(now, window) {
                        Ok(()) => match store::to_bytes(&tx) {
                            Ok(value) => Update::Put {
                                value,
                                expires_at: Some(tx.retain_until(retention)),
                            },
                            Err(_) => Update::Keep,
                        },
                        Err(_) => Update::Keep,
                    }
                }),
            )
            .await?
            .ok_or(RequestObjectError::UnknownRequest)?;
        // Replay the pure decision to learn what happened.
        let mut tx: Transaction = store::from_bytes(&before)?;
        if tx.response_id.is_none() {
            // Created before response URIs had an id of their own (an
            // upgrade within its 30 s): it cannot be answered; a new one can.
            return Err(RequestObjectError::Expired);
        }
        tx.retrieve(now, window).map_err(|e| match e {
            TransitionError::AlreadyRetrieved | TransitionError::AlreadySubmitted => {
                RequestObjectError::AlreadyRetrieved
            }
            TransitionError::Expired | TransitionError::NotRetrieved => RequestObjectError::Expired,
        })?;
        self.sign_request_object(&tx, wallet_nonce, now).await
    }

    /// The signed request object of a transaction, signed with its
    /// party's identity: `x5c` = the party's chain, `client_metadata.
    /// client_name` its display name, `verifier_info` its registration
    /// certificate (OpenID4VP 1.0 §5.1). `client_id` is the one stored at
    /// creation; should the party's certificate have changed since, the
    /// request is refused rather than signed under a mismatching hash.
    pub async fn sign_request_object(
        &self,
        tx: &Transaction,
        wallet_nonce: Option<&str>,
        now: i64,
    ) -> Result<String, RequestObjectError> {
        let response_id = tx.response_id.as_ref().ok_or(RequestObjectError::Expired)?;
        let identity = self
            .identity_of(&tx.party, now)
            .await
            .map_err(|e| match e {
                IdentityError::Store(e) => RequestObjectError::Store(e),
                _ => RequestObjectError::Identity,
            })?;
        if identity.client_id.as_str() != tx.client_id {
            return Err(RequestObjectError::Identity);
        }
        let mut client_metadata = identity.client_name_metadata();
        client_metadata.insert(
            "vp_formats_supported".into(),
            json!({FORMAT_SD_JWT_VC: {
                "sd-jwt_alg_values": FULLY_SPECIFIED_ALGS,
                "kb-jwt_alg_values": FULLY_SPECIFIED_ALGS,
            }}),
        );
        if let (ResponseMode::DirectPostJwt, Some(key)) = (tx.response_mode, &tx.response_key) {
            client_metadata.insert(
                "jwks".into(),
                json!({"keys": [Value::Object(jwe::public_jwk(key))]}),
            );
            client_metadata.insert(
                "encrypted_response_enc_values_supported".into(),
                json!(jwe::ENC_VALUES),
            );
        }
        let mut claims = json!({
            "aud": AUD,
            "client_id": tx.client_id,
            "response_type": "vp_token",
            "response_mode": tx.response_mode.as_str(),
            "response_uri": self.response_uri(response_id),
            "nonce": tx.nonce,
            "state": tx.state,
            "dcql_query": tx.dcql_query,
            "client_metadata": client_metadata,
            "iat": now,
            "exp": tx.deadline().unwrap_or(now),
        });
        if let Some(obj) = claims.as_object_mut() {
            if let Some(n) = wallet_nonce {
                obj.insert("wallet_nonce".into(), Value::String(n.to_owned()));
            }
            if let Some(info) = identity.verifier_info() {
                obj.insert("verifier_info".into(), info);
            }
        }
        let mut header = identity.jar_header();
        header.insert("typ".into(), Value::String(TYP.into()));
        let payload = serde_json::to_vec(&claims).map_err(|_| RequestObjectError::Signing)?;
        jws::sign(&identity.signing, &header, &payload).map_err(|_| RequestObjectError::Signing)
    }
}
