//! The relying-party registry (DESIGN.md "Relying parties are tenants"):
//! `/admin/relying-parties…`, operator's key only ([`BackOffice`]; a
//! relying party's own key gets 403). The rules live in
//! [`crate::parties`], the storage in [`crate::verifier::parties`].

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::auth::BackOffice;
use super::openapi::ErrorBody;
use super::{ApiError, AppState, WireError};
use crate::parties::audit::{self, AuditEntry};
use crate::parties::{
    Denied, PartyError, PartyView, Patch, Registered, Registration, quota::RetryAfter,
};
use crate::verifier::parties::{AccessError, RegistryError};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/admin/relying-parties")
            .post(register)
            .get(list),
    )
    .service(
        web::resource("/admin/relying-parties/{id}")
            .get(get)
            .patch(patch)
            .delete(remove),
    )
    .service(web::resource("/admin/relying-parties/{id}/api-key").post(rotate))
    .service(web::resource("/admin/relying-parties/{id}/certificate").post(certificate))
    .service(web::resource("/admin/relying-parties/{id}/audit").get(audit_trail));
}

fn no_store(mut b: actix_web::HttpResponseBuilder) -> actix_web::HttpResponseBuilder {
    b.insert_header((header::CACHE_CONTROL, "no-store"));
    b
}

#[utoipa::path(post, path = "/admin/relying-parties", tag = "admin",
    operation_id = "register_relying_party",
    summary = "Register a relying party",
    description = "A tenant of the verifier with its own API key (`rp_<id>.<secret>`, shown only in this answer; only a salted SHA-256 hash is kept) and entitlements. With its key it uses `/verifier/*` for its own transactions only, and may ask only for its entitled presets and claims (else 403 `access_denied` naming what is not). Entitlement rule: a requested claims path is allowed when it equals or extends an entitled path of that `vct` (`null` stands for every array element), or a path of an entitled preset; a Credential Query without `claims` needs the whole-credential grant `[]`; a preset is allowed by name or when all its claims are entitled. `requests_per_minute` limits its requests and scans (sliding minute, all nodes); `callback_urls` are the only callback URLs its requests may name; `Cache-Control: no-store`.",
    request_body(content = Registration, content_type = "application/json"),
    security(("backoffice" = [])),
    responses(
        (status = 201, description = "Registered; the API key is shown this once", body = Registered),
        (status = 400, description = "`invalid_request`: invalid JSON or an unknown member; `name` or `display_name.ru`/`.en` not 1 to 200 characters (or with control characters); an unknown preset (`presets[i]`); `claims` not an object of at most 32 `vct`s each with at most 64 claims paths of at most 16 strings, non-negative integers and nulls; a `redirect_uris` / `callback_urls` entry not an https URI (http only on localhost / 127.0.0.1) without user information or fragment, or more than 10; `requests_per_minute` not 1 to 1 000 000. The description names the member", body = ErrorBody),
        (status = 401, description = "`invalid_token`: the API key is missing or wrong (`WWW-Authenticate: Bearer`)", body = ErrorBody),
        (status = 403, description = "`access_denied`: a relying party's key (the registry needs the operator's)", body = ErrorBody),
        (status = 500, description = "`server_error`", body = ErrorBody),
    ))]
async fn register(
    _: BackOffice,
    state: web::Data<AppState>,
    body: web::Json<Registration>,
) -> Result<HttpResponse, ApiError> {
    let registered = state
        .parties
        .register(
            body.into_inner(),
            &state.verifier,
            &state.keys.store_secret,
            state.now(),
        )
        .await?;
    Ok(no_store(HttpResponse::Created()).json(registered))
}

#[utoipa::path(get, path = "/admin/relying-parties", tag = "admin",
    operation_id = "list_relying_parties",
    summary = "The relying parties",
    description = "The built-in party `default` (the operator's key: every preset, no quota) first, then the registered ones in id order (at most 10 000); never their keys; `Cache-Control: no-store`.",
    security(("backoffice" = [])),
    responses(
        (status = 200, description = "The parties", body = Vec<PartyView>),
        (status = 401, description = "`invalid_token`: the API key is missing or wrong (`WWW-Authenticate: Bearer`)", body = ErrorBody),
        (status = 403, description = "`access_denied`: a relying party's key (the registry needs the operator's)", body = ErrorBody),
        (status = 500, description = "`server_error`", body = ErrorBody),
    ))]
async fn list(_: BackOffice, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let parties = state.parties.list(state.now()).await?;
    let views: Vec<PartyView> = std::iter::once(PartyView::builtin())
        .chain(parties.iter().map(PartyView::of))
        .collect();
    Ok(no_store(HttpResponse::Ok()).json(views))
}

#[utoipa::path(get, path = "/admin/relying-parties/{id}", tag = "admin",
    operation_id = "get_relying_party",
    summary = "A relying party",
    description = "Its record without the key; `default` is the built-in party; `Cache-Control: no-store`.",
    params(("id" = String, Path, description = "The party's id")),
    security(("backoffice" = [])),
    responses(
        (status = 200, description = "The party", body = PartyView),
        (status = 401, description = "`invalid_token`: the API key is missing or wrong (`WWW-Authenticate: Bearer`)", body = ErrorBody),
        (status = 403, description = "`access_denied`: a relying party's key (the registry needs the operator's)", body = ErrorBody),
        (status = 404, description = "`not_found`: no such party", body = ErrorBody),
        (status = 500, description = "`server_error`", body = ErrorBody),
    ))]
async fn get(
    _: BackOffice,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let view = if id.as_str() == crate::parties::DEFAULT_PARTY {
        PartyView::builtin()
    } else {
        PartyView::of(&state.parties.get(&id, state.now()).await?)
    };
    Ok(no_store(HttpResponse::Ok()).json(view))
}

#[utoipa::path(patch, path = "/admin/relying-parties/{id}", tag = "admin",
    operation_id = "update_relying_party",
    summary = "Change a relying party",
    description = "The members given replace the stored ones (a list as a whole); `null` clears `display_name` or `requests_per_minute`. Takes effect on the party's next call, on every node; its key stays. `Cache-Control: no-store`.",
    params(("id" = String, Path, description = "The party's id")),
    request_body(content = Patch, content_type = "application/json"),
    security(("backoffice" = [])),
    responses(
        (status = 200, description = "The changed party", body = PartyView),
        (status = 400, description = "`invalid_request`: as for registration, naming the member", body = ErrorBody),
        (status = 401, description = "`invalid_token`: the API key is missing or wrong (`WWW-Authenticate: Bearer`)", body = ErrorBody),
        (status = 403, description = "`access_denied`: a relying party's key, or the built-in party `default`", body = ErrorBody),
        (status = 404, description = "`not_found`: no such party", body = ErrorBody),
        (status = 500, description = "`server_error`", body = ErrorBody),
    ))]
async fn patch(
    _: BackOffice,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Json<Patch>,
) -> Result<HttpResponse, ApiError> {
    let party = state
        .parties
        .patch(
            &id,
            body.into_inner(),
            &state.verifier,
            &state.keys.store_secret,
            state.now(),
        )
        .await?;
    Ok(no_store(HttpResponse::Ok()).json(PartyView::of(&party)))
}

#[utoipa::path(delete, path = "/admin/relying-parties/{id}", tag = "admin",
    operation_id = "delete_relying_party",
    summary = "Delete a relying party",
    description = "At once: its key fails (401) from this call on, on every node, and its transactions answer 404 to everyone (the operator's key included) until their retention ends, and a wallet's answer to one of its pending requests is refused as to an unknown request (no result, no callback); its audit trail is no longer listed.",
    params(("id" = String, Path, description = "The party's id")),
    security(("backoffice" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "`invalid_token`: the API key is missing or wrong (`WWW-Authenticate: Bearer`)", body = ErrorBody),
        (status = 403, description = "`access_denied`: a relying party's key, or the built-in party `default`", body = ErrorBody),
        (status = 404, description = "`not_found`: no such party", body = ErrorBody),
        (status = 500, description = "`server_error`", body = ErrorBody),
    ))]
async fn remove(
    _: BackOffice,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state.parties.delete(&id).await?;
    state.verifier.forget_identity(&id);
    Ok(HttpResponse::NoContent().finish())
}

/// The answer to a key rotation.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
#[schema(as = RelyingPartyApiKey)]
struct NewApiKey {
    /// The new key, shown this once; the old one no longer works.
    #[schema(example = "rp_3f9a0c1b2d4e5f607182.q7VvG1kWw0f1rJk8bW6o2x9yQ3zL5mN4pT8sR2uA1cE")]
    api_key: String,
}

#[utoipa::path(post, path = "/admin/relying-parties/{id}/api-key", tag = "admin",
    operation_id = "rotate_relying_party_key",
    summary = "Rotate a relying party's API key",
    description = "A new key, shown this once; the old one fails (401) from this call on, on every node. Its transactions stay its own. `Cache-Control: no-store`.",
    params(("id" = String, Path, description = "The party's id")),
    security(("backoffice" = [])),
    responses(
        (status = 200, description = "The new key", body = NewApiKey),
        (status = 401, description = "`invalid_token`: the API key is missing or wrong (`WWW-Authenticate: Bearer`)", body = ErrorBody),
        (status = 403, description = "`access_denied`: a relying party's key, or the built-in party `default` (the operator's key is set in the configuration)", body = ErrorBody),
        (status = 404, description = "`not_found`: no such party", body = ErrorBody),
        (status = 500, description = "`server_error`", body = ErrorBody),
    ))]
async fn rotate(
    _: BackOffice,
    state: web::Data<AppState>,
    id: web::Path<String>,
    _body: super::IgnoredBody,
) -> Result<HttpResponse, ApiError> {
    let api_key = state.parties.rotate(&id, state.now()).await?;
    Ok(no_store(HttpResponse::Ok()).json(NewApiKey { api_key }))
}

/// The body of a certificate upload.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = RelyingPartyCertificate)]
struct ChainUpload {
    /// PEM certificates, the party's certification path in order: its leaf
    /// (for the party's `public_jwk`), the CA certificate that issued it,
    /// and so on up to and including the operator's root or an
    /// intermediate it trusts; a trailing root is dropped from `x5c`.
    #[schema(example = "-----BEGIN CERTIFICATE-----\nMIIB…\n-----END CERTIFICATE-----\n")]
    chain: String,
}

#[utoipa::path(post, path = "/admin/relying-parties/{id}/certificate", tag = "admin",
    operation_id = "upload_relying_party_certificate",
    summary = "Set a relying party's certificate chain",
    description = "The chain the operator's CA issued for the party's `public_jwk` (outside demo mode the only way a party gets one; in demo mode it replaces the demo CA's leaf). Its request objects then carry this `x5c` and its `client_id` becomes `x509_hash:` of the new leaf, on every node from this call on. `Cache-Control: no-store`.",
    params(("id" = String, Path, description = "The party's id")),
    request_body(content = ChainUpload, content_type = "application/json"),
    security(("backoffice" = [])),
    responses(
        (status = 200, description = "The party with its new `client_id`", body = PartyView),
        (status = 400, description = "`invalid_request`, the description starting with the broken rule: `empty`, `not_pem`, `too_long` (more than 5 besides the root), `wrong_key` (the leaf does not certify the party's key), `not_v3` (an X.509 v1 leaf), `no_issuer` (the leaf alone: the issuing CA certificate, up to the operator's root or an intermediate it trusts, must follow it), `anchor_not_ca` (the last certificate, the path's trust anchor, is no CA), `not_in_order` (not the certification path leaf first, or certificates besides it), or a refusal of the certification path check that issuer `x5c` chains pass too: `self_signed_leaf`, `leaf_is_ca`, `key_usage`, `unsupported_key`, `certificate_expired`, `certificate_not_yet_valid`, `bad_signature`, `bad_chain` (the description names the certificate)", body = ErrorBody),
        (status = 401, description = "`invalid_token`: the API key is missing or wrong (`WWW-Authenticate: Bearer`)", body = ErrorBody),
        (status = 403, description = "`access_denied`: a relying party's key, or the built-in party `default`", body = ErrorBody),
        (status = 404, description = "`not_found`: no such party", body = ErrorBody),
        (status = 500, description = "`server_error`", body = ErrorBody),
    ))]
async fn certificate(
    _: BackOffice,
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Json<ChainUpload>,
) -> Result<HttpResponse, ApiError> {
    let party = state
        .parties
        .upload_chain(
            &id,
            body.into_inner().chain,
            &state.keys.store_secret,
            state.now(),
        )
        .await?;
    Ok(no_store(HttpResponse::Ok()).json(PartyView::of(&party)))
}

/// `?limit=`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct AuditQuery {
    /// Entries to return, newest first: 1 to 1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
}

#[utoipa::path(get, path = "/admin/relying-parties/{id}/audit", tag = "admin",
    operation_id = "relying_party_audit",
    summary = "A relying party's audit trail",
    description = "Its verifications, newest first: when each ended, the transaction id, `request` (answered at the response URI) or `scan` (holder-shown QR), `verified` or `failed` with the error code and a reason from a fixed set. Never claims or any other personal data. Entries are kept 30 days. `default` is the built-in party: the trail of the operator's own key. `Cache-Control: no-store`.",
    params(("id" = String, Path, description = "The party's id (`default` for the operator's key)"), AuditQuery),
    security(("backoffice" = [])),
    responses(
        (status = 200, description = "The entries", body = Vec<AuditEntry>),
        (status = 400, description = "`invalid_request`: `limit` not an integer from 1 to 1000, or an unknown query parameter", body = ErrorBody),
        (status = 401, description = "`invalid_token`: the API key is missing or wrong (`WWW-Authenticate: Bearer`)", body = ErrorBody),
        (status = 403, description = "`access_denied`: a relying party's key (the registry needs the operator's)", body = ErrorBody),
        (status = 404, description = "`not_found`: no such party (`default` always exists)", body = ErrorBody),
        (status = 500, description = "`server_error`", body = ErrorBody),
    ))]
async fn audit_trail(
    _: BackOffice,
    state: web::Data<AppState>,
    id: web::Path<String>,
    q: web::Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = match q.limit {
        None => audit::DEFAULT_LIMIT,
        Some(n @ 1..=audit::MAX_LIMIT) => n,
        Some(_) => return Err(ApiError::invalid_request("limit: must be 1 to 1000")),
    };
    let entries = state.parties.audit(&id, limit, state.now()).await?;
    Ok(no_store(HttpResponse::Ok()).json(entries))
}

impl WireError for PartyError {
    fn code(&self) -> &'static str {
        match self {
            PartyError::Builtin => "access_denied",
            PartyError::Name { .. }
            | PartyError::UnknownPreset { .. }
            | PartyError::ClaimsShape
            | PartyError::Paths { .. }
            | PartyError::Path { .. }
            | PartyError::TooManyUris { .. }
            | PartyError::Uri { .. }
            | PartyError::RequestsPerMinute => "invalid_request",
        }
    }
    fn status(&self) -> u16 {
        match self {
            PartyError::Builtin => 403,
            PartyError::Name { .. }
            | PartyError::UnknownPreset { .. }
            | PartyError::ClaimsShape
            | PartyError::Paths { .. }
            | PartyError::Path { .. }
            | PartyError::TooManyUris { .. }
            | PartyError::Uri { .. }
            | PartyError::RequestsPerMinute => 400,
        }
    }
}

impl WireError for RegistryError {
    fn code(&self) -> &'static str {
        match self {
            RegistryError::NotFound => "not_found",
            RegistryError::Invalid(e) => e.code(),
            RegistryError::Identity(e) => e.code(),
            RegistryError::Upload(e) => e.code(),
            RegistryError::Store(e) => e.code(),
        }
    }
    fn status(&self) -> u16 {
        match self {
            RegistryError::NotFound => 404,
            RegistryError::Invalid(e) => e.status(),
            RegistryError::Identity(e) => e.status(),
            RegistryError::Upload(e) => e.status(),
            RegistryError::Store(e) => e.status(),
        }
    }
}

impl WireError for Denied {
    fn code(&self) -> &'static str {
        "access_denied"
    }
    fn status(&self) -> u16 {
        403
    }
}

impl WireError for AccessError {
    fn code(&self) -> &'static str {
        match self {
            AccessError::Query(e) => e.code(),
            AccessError::Denied(e) => e.code(),
            AccessError::Quota(_) => "rate_limited",
            AccessError::Store(e) => e.code(),
        }
    }
    fn status(&self) -> u16 {
        match self {
            AccessError::Query(e) => e.status(),
            AccessError::Denied(e) => e.status(),
            AccessError::Quota(_) => 429,
            AccessError::Store(e) => e.status(),
        }
    }
    fn retry_after(&self) -> Option<u32> {
        match self {
            AccessError::Quota(RetryAfter(s)) => Some(*s),
            AccessError::Query(_) | AccessError::Denied(_) | AccessError::Store(_) => None,
        }
    }
}
