//! Creating a presentation request (`POST /verifier/requests`): a preset or
//! a DCQL query, the response mode (default `direct_post.jwt`), a fresh
//! nonce (256 bits), state, response id and — for encrypted responses — a
//! fresh ECDH-ES key; the `openid4vp://` link the QR carries.
//!
//! Same-device flow (OpenID4VP 1.0 §8.2): a `redirect_uri` that is one of
//! the relying party's registered redirect URIs (exact match) makes the
//! response endpoint send the wallet there with a response code, and the
//! result readable only with that code (see [`super::response`],
//! [`super::view`]).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::callback::{CallbackUrlError, check_callback_url};
use super::dcql::{DcqlError, DcqlQuery};
use super::jwe;
use super::presets::Preset;
use super::transaction::{
    NS_REQUEST, NS_RESPONSE, NS_TRANSACTION, Phase, RequestId, RequestUriMethod, ResponseId,
    ResponseMode, Transaction, TransactionId,
};
use super::{PartyIdentity, Verifier};
use crate::clock::rfc3339;
use crate::config::VerifierSettings;
use crate::crypto::{b64url, random_bytes, random_token};
use crate::store::{self, StoreError, TxOp};

/// The body of `POST /verifier/requests`: exactly one of `preset` and
/// `dcql_query`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CreatePresentationRequest)]
#[schema(example = json!({"preset": "age_over_18", "response_mode": "direct_post.jwt"}))]
pub struct CreateRequest {
    /// A built-in query (Credential Query id `credential`).
    #[serde(default)]
    #[schema(value_type = Option<super::presets::Preset>, nullable = false, example = "hotel_check_in")]
    pub preset: Option<String>,
    /// A DCQL query (OpenID4VP 1.0 §6); only `dc+sd-jwt` credentials.
    #[serde(default)]
    #[schema(value_type = Option<DcqlQuery>, nullable = false)]
    pub dcql_query: Option<Value>,
    /// `direct_post.jwt` (default: an encrypted response, OpenID4VP 1.0
    /// §8.3.1) or `direct_post` (§8.2; refused under the HAIP profile).
    #[serde(default)]
    #[schema(value_type = Option<super::transaction::ResponseMode>, example = "direct_post.jwt")]
    pub response_mode: Option<String>,
    /// Called with the result as a JWS signed by the verifier key: POSTed
    /// once as `application/jwt` (`{iss, iat, transaction_id, result}`,
    /// `result` being the status; without `claims` for a same-device
    /// request, whose claims need its response code), best effort. `https` without user
    /// information, at most 2048 characters; a host that is (or, at
    /// delivery, resolves to) a private, loopback, link-local or other
    /// non-public address is refused.
    #[serde(default)]
    #[schema(
        max_length = 2048,
        pattern = "^https://[A-Za-z][A-Za-z0-9-]*(\\.[A-Za-z0-9-]+)*(:[0-9]{1,5})?(/[!-~]*)?$",
        example = "https://rp.example.ru/vp-result"
    )]
    pub callback_url: Option<String>,
    /// Same-device flow (OpenID4VP 1.0 §8.2): one of the relying party's
    /// registered redirect URIs (exact match). Once the wallet's answer is
    /// processed, the response endpoint sends the wallet there with
    /// `#response_code=…`, and the result is readable only with
    /// `GET /verifier/requests/{id}?response_code=…`, once.
    #[serde(default, deserialize_with = "crate::parties::non_null")]
    #[schema(
        nullable = false,
        max_length = 2048,
        example = "https://rp.example.ru/age-checked"
    )]
    pub redirect_uri: Option<String>,
    /// `request_uri_method` of the `openid4vp://` link: `post` invites
    /// the wallet to POST to the request URI (OpenID4VP 1.0 §5.10; GET
    /// still works), `get` leaves the parameter out. Default: the relying
    /// party's setting (`[verifier] request_uri_method` for the operator).
    #[serde(default, deserialize_with = "crate::parties::non_null")]
    #[schema(value_type = Option<RequestUriMethod>, nullable = false, example = "post")]
    pub request_uri_method: Option<RequestUriMethod>,
}

/// What the relying party a request is made for has registered: the
/// built-in party `default` takes it from `[verifier]`
/// ([`PartyOptions::of_settings`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct PartyOptions<'a> {
    /// The redirect URIs a same-device request may name (exact match).
    pub redirect_uris: &'a [String],
    /// `request_uri_method` unless the request says otherwise.
    pub request_uri_method: RequestUriMethod,
}

impl<'a> PartyOptions<'a> {
    /// The built-in party `default` (the operator's key).
    pub fn of_settings(v: &'a VerifierSettings) -> Self {
        PartyOptions {
            redirect_uris: &v.redirect_uris,
            request_uri_method: v.request_uri_method,
        }
    }
}

/// The answer to `POST /verifier/requests`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = PresentationRequestCreated)]
pub struct Created {
    /// The back-office handle: `GET /verifier/requests/{id}`.
    #[schema(value_type = String, example = "q1Xb8c0fT2yJv6mWnKp3Rg")]
    pub transaction_id: TransactionId,
    /// Where the wallet fetches the signed request object (single use).
    #[schema(example = "https://id.example.ru/oid4vp/requests/Zk3v9QpL0sHc1TnA7wYb2e")]
    pub request_uri: String,
    /// The `openid4vp://` link the QR code carries (`client_id` and
    /// `request_uri`, OpenID4VP 1.0 §5.7).
    #[schema(
        example = "openid4vp://?client_id=x509_hash%3AUvRWDK3mZ6t0Zc4yZ2f6OBrNtl1kmKZbW3Dr_Xx0nFA&request_uri=https%3A%2F%2Fid.example.ru%2Foid4vp%2Frequests%2FZk3v9QpL0sHc1TnA7wYb2e"
    )]
    pub authorization_request: String,
    /// When the request (and its QR) expires, RFC 3339.
    #[schema(example = "2025-06-01T12:00:30Z")]
    pub expires_at: String,
    /// Seconds until then (30 by default).
    #[schema(example = 30)]
    pub expires_in: i64,
}

/// A checked request's transaction, not stored yet ([`Verifier::prepare`]).
#[derive(Debug)]
pub struct Prepared(Transaction);

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
    #[error(transparent)]
    CallbackUrl(#[from] CallbackUrlError),
    #[error(
        "redirect_uri: not one of the redirect URIs registered for this relying party (exact match)"
    )]
    RedirectUriNotRegistered,
    #[error("the response key could not be generated")]
    Key,
    #[error(transparent)]
    Identity(#[from] super::IdentityError),
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

impl Verifier {
    /// Creates a transaction of the built-in party `default` with the
    /// registration `options`; `demo` marks one made by the demo page.
    pub async fn create(
        &self,
        req: CreateRequest,
        demo: bool,
        options: PartyOptions<'_>,
        now: i64,
    ) -> Result<Created, CreateError> {
        self.create_as(super::DEFAULT_PARTY, req, demo, options, now)
            .await
    }

    /// Creates a transaction of `party` (whose registration is `options`):
    /// its request object is signed with the party's identity and carries
    /// the party's client id, which the answer's KB-JWT `aud` must then
    /// equal. [`Verifier::prepare`] then [`Verifier::commit`].
    pub async fn create_as(
        &self,
        party: &str,
        req: CreateRequest,
        demo: bool,
        options: PartyOptions<'_>,
        now: i64,
    ) -> Result<Created, CreateError> {
        let dcql_query = query_of(req.preset.as_deref(), req.dcql_query.as_ref())?;
        let identity = self.identity_of(party, now).await?;
        let prepared = self.prepare(&identity, req, dcql_query, demo, options, now)?;
        self.commit(prepared, now).await
    }

    /// Checks a request of the party whose current identity is `identity`
    /// ([`Verifier::identity_of`]), whose query is `dcql_query` (resolved
    /// from `req` by [`query_of`]), and makes its transaction, not stored
    /// yet: every refusal for the request's input happens here.
    pub fn prepare(
        &self,
        identity: &PartyIdentity,
        req: CreateRequest,
        dcql_query: DcqlQuery,
        demo: bool,
        options: PartyOptions<'_>,
        now: i64,
    ) -> Result<Prepared, CreateError> {
        let response_mode = match req.response_mode.as_deref() {
            None | Some("direct_post.jwt") => ResponseMode::DirectPostJwt,
            Some("direct_post") if self.haip => return Err(CreateError::HaipNeedsEncryption),
            Some("direct_post") => ResponseMode::DirectPost,
            Some(_) => return Err(CreateError::ResponseMode),
        };
        if let Some(url) = &req.callback_url {
            check_callback_url(url, self.outbound.policy())?;
        }
        if let Some(uri) = &req.redirect_uri
            && !options.redirect_uris.iter().any(|r| r == uri)
        {
            return Err(CreateError::RedirectUriNotRegistered);
        }
        let response_key = match response_mode {
            ResponseMode::DirectPostJwt => Some(jwe::generate_key().map_err(|_| CreateError::Key)?),
            ResponseMode::DirectPost => None,
        };
        let ttl = self.settings.request_ttl;
        let tx = Transaction {
            id: TransactionId(random_token()),
            request_id: RequestId(random_token()),
            // Never derived from the request id the QR shows.
            response_id: Some(ResponseId(b64url(random_bytes::<32>()))),
            created_at: now,
            request_expires_at: now + ttl,
            dcql_query,
            response_mode,
            party: identity.party.clone(),
            client_id: identity.client_id.as_str().to_owned(),
            // 256 bits; OpenID4VP 1.0 §14.1 asks for at least 128.
            nonce: b64url(random_bytes::<32>()),
            state: random_token(),
            response_key,
            callback_url: req.callback_url,
            demo,
            redirect_uri: req.redirect_uri,
            response_code: None,
            request_uri_method: req.request_uri_method.unwrap_or(options.request_uri_method),
            phase: Phase::Requested,
        };
        Ok(Prepared(tx))
    }

    /// Stores a prepared transaction (with its two indexes, all or
    /// nothing); its request is live from now on.
    pub async fn commit(&self, prepared: Prepared, now: i64) -> Result<Created, CreateError> {
        let Prepared(tx) = prepared;
        let ttl = self.settings.request_ttl;
        // The two indexes outlive every phase of the transaction (fetched at
        // the last second, answered at the end of the window, then kept).
        let index_until = now + ttl + self.settings.response_window + self.settings.retention;
        let index = |ns, key: String| TxOp::Insert {
            ns,
            key,
            value: tx.id.0.clone().into_bytes(),
            expires_at: Some(index_until),
            now,
        };
        let mut ops = vec![index(NS_REQUEST, tx.request_id.0.clone())];
        ops.extend(
            tx.response_id
                .as_ref()
                .map(|r| index(NS_RESPONSE, r.0.clone())),
        );
        ops.push(TxOp::Insert {
            ns: NS_TRANSACTION,
            key: tx.id.0.clone(),
            value: store::to_bytes(&tx)?,
            expires_at: Some(tx.retain_until(self.settings.retention)),
            now,
        });
        // All or nothing: never an index without its transaction.
        self.store().transact(ops).await?;
        let request_uri = self.request_uri(&tx.request_id);
        Ok(Created {
            authorization_request: self.authorization_request(&tx),
            request_uri,
            transaction_id: tx.id,
            expires_at: rfc3339(now + ttl),
            expires_in: ttl,
        })
    }
}
