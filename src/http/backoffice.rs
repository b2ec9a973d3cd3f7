//! Back-office routes (`/issuer/…`), behind the bearer API key
//! ([`BackOffice`]: the operator's key only; `/admin/…` uses it too).

use actix_web::http::header;
use actix_web::{HttpResponse, web};

use super::auth::BackOffice;
use super::openapi::ErrorBody;
use super::{ApiError, AppState};
use crate::issuer::consent::{self, Consent, WithdrawRequest};
use crate::issuer::offer::{self, OfferCreated, OfferRequest, SubjectSummary};
use crate::issuer::records::{self, CredentialView};
use crate::registry::SubjectId;
use crate::status::Status;

pub fn configure(cfg: &mut web::ServiceConfig) {
    // One resource per path: a method it has no route for is answered 405
    // with `Allow` (see `super::methods`).
    cfg.service(web::resource("/issuer/subjects").get(subjects))
        .service(web::resource("/issuer/subjects/{id}/consents").get(consents))
        .service(web::resource("/issuer/subjects/{id}/credentials").get(credentials))
        .service(web::resource("/issuer/consents/withdraw").post(withdraw))
        .service(web::resource("/issuer/offers").post(create_offer))
        .service(web::resource("/issuer/offers/{id}/qr.svg").get(offer_qr))
        .service(web::resource("/issuer/credentials/{id}").get(credential))
        .service(web::resource("/issuer/credentials/{id}/revoke").post(revoke))
        .service(web::resource("/issuer/credentials/{id}/suspend").post(suspend))
        .service(web::resource("/issuer/credentials/{id}/reinstate").post(reinstate));
}

#[utoipa::path(get, path = "/issuer/subjects", tag = "back-office",
    summary = "Registry subjects that offers can be made for (back-office)",
    description = "Every person in the registry with the configuration ids of the documents it holds for them.",
    security(("backoffice" = [])),
    responses(
        (status = 200, description = "The subjects", body = Vec<SubjectSummary>),
        (status = 401, description = "`invalid_token`: the back-office API key is missing or wrong (`WWW-Authenticate: Bearer`)", body = ErrorBody),
        (status = 403, description = "`access_denied`: a relying party's key (this endpoint needs the operator's)", body = ErrorBody),
        (status = 500, description = "`server_error`", body = ErrorBody),
    ))]
async fn subjects(_: BackOffice, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(offer::subjects(&state.issuer())?))
}

#[utoipa::path(get, path = "/issuer/subjects/{id}/consents", tag = "back-office",
    operation_id = "subject_consents",
    summary = "A subject's remembered consents, one per wallet client (back-office)",
    description = "Consents given on the authorization code flow's consent page (OpenID4VCI 1.0 §5); empty for an unknown subject.",
    params(("id" = String, Path, description = "Registry subject id", example = "belova-svetlana")),
    security(("backoffice" = [])),
    responses(
        (status = 200, description = "The consents", body = Vec<Consent>),
        (status = 401, description = "`invalid_token`: the back-office API key is missing or wrong (`WWW-Authenticate: Bearer`)", body = ErrorBody),
        (status = 403, description = "`access_denied`: a relying party's key (this endpoint needs the operator's)", body = ErrorBody),
        (status = 500, description = "`server_error`", body = ErrorBody),
    ))]
async fn consents(
    _: BackOffice,
    state: web::Data<AppState>,
    id: web::Path<SubjectId>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(consent::list(&state.issuer(), &id).await?))
}

#[utoipa::path(post, path = "/issuer/consents/withdraw", tag = "back-office",
    operation_id = "withdraw_consent",
    summary = "Withdraw a subject's consent for a wallet client (back-office)",
    description = "The next authorization by this client asks for consent again; credentials already issued are unaffected.",
    request_body(content = WithdrawRequest, content_type = "application/json"),
    security(("backoffice" = [])),
    responses(
        (status = 204, description = "Withdrawn"),
        (status = 400, description = "`invalid_request`: the JSON body is invalid", body = ErrorBody),
        (status = 401, description = "`invalid_token`: the back-office API key is missing or wrong (`WWW-Authenticate: Bearer`)", body = ErrorBody),
        (status = 403, description = "`access_denied`: a relying party's key (this endpoint needs the operator's)", body = ErrorBody),
        (status = 404, description = "`not_found`: no consent of this subject for this client", body = ErrorBody),
        (status = 500, description = "`server_error`", body = ErrorBody),
    ))]
async fn withdraw(
    _: BackOffice,
    state: web::Data<AppState>,
    body: web::Json<WithdrawRequest>,
) -> Result<HttpResponse, ApiError> {
    consent::withdraw(&state.issuer(), &body).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(post, path = "/issuer/offers", tag = "back-office",
    summary = "Create a Credential Offer for a registry subject (OpenID4VCI 1.0 §4.1)",
    description = "A single-use pre-authorized code (with a 6-digit `tx_code` unless `tx_code: false`) and an `issuer_state` for the authorization code flow; `Cache-Control: no-store`.",
    request_body(content = OfferRequest, content_type = "application/json"),
    security(("backoffice" = [])),
    responses(
        (status = 201, description = "The offer, its links and the `tx_code`", body = OfferCreated),
        (status = 400, description = "`invalid_request` (invalid JSON, an unknown member, no or repeated configuration ids), `unknown_credential_configuration`", body = ErrorBody),
        (status = 401, description = "`invalid_token`: the back-office API key is missing or wrong (`WWW-Authenticate: Bearer`)", body = ErrorBody),
        (status = 403, description = "`access_denied`: a relying party's key (this endpoint needs the operator's)", body = ErrorBody),
        (status = 403, description = "`credential_request_denied`: the rules refuse issuing it to this subject today (under 18: a child's documents go to a parent's wallet; a registry record that fails validation)", body = ErrorBody),
        (status = 404, description = "`not_found`: no such subject in the registry, or the registry holds no such document for them", body = ErrorBody),
        (status = 500, description = "`server_error`", body = ErrorBody),
    ))]
async fn create_offer(
    _: BackOffice,
    state: web::Data<AppState>,
    body: web::Json<OfferRequest>,
) -> Result<HttpResponse, ApiError> {
    let created = offer::create(&state.issuer(), body.into_inner()).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(created))
}

/// The QR code of the offer's `offer_link`.
#[utoipa::path(get, path = "/issuer/offers/{id}/qr.svg", tag = "back-office",
    summary = "QR code of an offer's `offer_link` (OpenID4VCI 1.0 §4.1.3)",
    description = "SVG, at least 256×256, encoding `openid-credential-offer://?credential_offer_uri=…`; `Cache-Control: no-store`.",
    params(("id" = String, Path, description = "Offer id (`offer_id`)")),
    security(("backoffice" = [])),
    responses(
        (status = 200, description = "The QR code", body = String, content_type = "image/svg+xml"),
        (status = 401, description = "`invalid_token`: the back-office API key is missing or wrong (`WWW-Authenticate: Bearer`)", body = ErrorBody),
        (status = 403, description = "`access_denied`: a relying party's key (this endpoint needs the operator's)", body = ErrorBody),
        (status = 404, description = "`not_found`: no such offer, or it has expired or been redeemed", body = ErrorBody),
        (status = 500, description = "`server_error`", body = ErrorBody),
    ))]
async fn offer_qr(
    _: BackOffice,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let ctx = state.issuer();
    let offer = offer::get(&ctx, &id).await?;
    let link = offer::offer_link(&offer::offer_uri(&ctx, &offer.id));
    let code = qrcode::QrCode::new(link.as_bytes()).map_err(ApiError::internal)?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(256, 256)
        .build();
    Ok(HttpResponse::Ok()
        .content_type("image/svg+xml")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(svg))
}

#[utoipa::path(get, path = "/issuer/credentials/{id}", tag = "back-office",
    operation_id = "issued_credential",
    summary = "An issued credential's record and current status (back-office)",
    description = "What the issuer keeps about a credential (never the credential or its claim values) with its Token Status List status.",
    params(("id" = String, Path, description = "Issued credential id")),
    security(("backoffice" = [])),
    responses(
        (status = 200, description = "The record", body = CredentialView),
        (status = 401, description = "`invalid_token`: the back-office API key is missing or wrong (`WWW-Authenticate: Bearer`)", body = ErrorBody),
        (status = 403, description = "`access_denied`: a relying party's key (this endpoint needs the operator's)", body = ErrorBody),
        (status = 404, description = "`not_found`: no issued credential with this id", body = ErrorBody),
        (status = 500, description = "`server_error`", body = ErrorBody),
    ))]
async fn credential(
    _: BackOffice,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(records::view(&state.issuer(), &id).await?))
}

#[utoipa::path(get, path = "/issuer/subjects/{id}/credentials", tag = "back-office",
    operation_id = "subject_credentials",
    summary = "A subject's issued credentials with their status (back-office)",
    description = "Oldest first, at most 1000; empty for an unknown subject.",
    params(("id" = String, Path, description = "Registry subject id", example = "belova-svetlana")),
    security(("backoffice" = [])),
    responses(
        (status = 200, description = "The records", body = Vec<CredentialView>),
        (status = 401, description = "`invalid_token`: the back-office API key is missing or wrong (`WWW-Authenticate: Bearer`)", body = ErrorBody),
        (status = 403, description = "`access_denied`: a relying party's key (this endpoint needs the operator's)", body = ErrorBody),
        (status = 500, description = "`server_error`", body = ErrorBody),
    ))]
async fn credentials(
    _: BackOffice,
    state: web::Data<AppState>,
    id: web::Path<SubjectId>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(records::of_subject(&state.issuer(), &id).await?))
}

async fn set_status(state: &AppState, id: &str, next: Status) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(records::set_status(&state.issuer(), id, next).await?))
}

#[utoipa::path(post, path = "/issuer/credentials/{id}/revoke", tag = "back-office",
    operation_id = "revoke_credential",
    summary = "Revoke an issued credential (Token Status List §7.1 INVALID)",
    description = "Final: a revoked credential stays revoked; revoking again is a no-op. Relying parties see it once they refresh the status list.",
    params(("id" = String, Path, description = "Issued credential id")),
    security(("backoffice" = [])),
    responses(
        (status = 200, description = "The record with its new status", body = CredentialView),
        (status = 400, description = "`invalid_request`: a body that cannot be read (over 256 KiB or cut off); any other body is ignored", body = ErrorBody),
        (status = 401, description = "`invalid_token`: the back-office API key is missing or wrong (`WWW-Authenticate: Bearer`)", body = ErrorBody),
        (status = 403, description = "`access_denied`: a relying party's key (this endpoint needs the operator's)", body = ErrorBody),
        (status = 404, description = "`not_found`: no issued credential with this id", body = ErrorBody),
        (status = 500, description = "`server_error`", body = ErrorBody),
    ))]
async fn revoke(
    _: BackOffice,
    state: web::Data<AppState>,
    id: web::Path<String>,
    _body: super::IgnoredBody,
) -> Result<HttpResponse, ApiError> {
    set_status(&state, &id, Status::Invalid).await
}

#[utoipa::path(post, path = "/issuer/credentials/{id}/suspend", tag = "back-office",
    operation_id = "suspend_credential",
    summary = "Suspend an issued credential (Token Status List §7.1 SUSPENDED)",
    description = "Reversible with reinstate; suspending a suspended credential is a no-op.",
    params(("id" = String, Path, description = "Issued credential id")),
    security(("backoffice" = [])),
    responses(
        (status = 200, description = "The record with its new status", body = CredentialView),
        (status = 400, description = "`invalid_request`: a body that cannot be read (over 256 KiB or cut off); any other body is ignored", body = ErrorBody),
        (status = 401, description = "`invalid_token`: the back-office API key is missing or wrong (`WWW-Authenticate: Bearer`)", body = ErrorBody),
        (status = 403, description = "`access_denied`: a relying party's key (this endpoint needs the operator's)", body = ErrorBody),
        (status = 404, description = "`not_found`: no issued credential with this id", body = ErrorBody),
        (status = 409, description = "`conflict`: the credential is revoked, which is final", body = ErrorBody),
        (status = 500, description = "`server_error`", body = ErrorBody),
    ))]
async fn suspend(
    _: BackOffice,
    state: web::Data<AppState>,
    id: web::Path<String>,
    _body: super::IgnoredBody,
) -> Result<HttpResponse, ApiError> {
    set_status(&state, &id, Status::Suspended).await
}

#[utoipa::path(post, path = "/issuer/credentials/{id}/reinstate", tag = "back-office",
    operation_id = "reinstate_credential",
    summary = "Reinstate a suspended credential (Token Status List §7.1 VALID)",
    description = "Reinstating a valid credential is a no-op.",
    params(("id" = String, Path, description = "Issued credential id")),
    security(("backoffice" = [])),
    responses(
        (status = 200, description = "The record with its new status", body = CredentialView),
        (status = 400, description = "`invalid_request`: a body that cannot be read (over 256 KiB or cut off); any other body is ignored", body = ErrorBody),
        (status = 401, description = "`invalid_token`: the back-office API key is missing or wrong (`WWW-Authenticate: Bearer`)", body = ErrorBody),
        (status = 403, description = "`access_denied`: a relying party's key (this endpoint needs the operator's)", body = ErrorBody),
        (status = 404, description = "`not_found`: no issued credential with this id", body = ErrorBody),
        (status = 409, description = "`conflict`: the credential is revoked, which is final", body = ErrorBody),
        (status = 500, description = "`server_error`", body = ErrorBody),
    ))]
async fn reinstate(
    _: BackOffice,
    state: web::Data<AppState>,
    id: web::Path<String>,
    _body: super::IgnoredBody,
) -> Result<HttpResponse, ApiError> {
    set_status(&state, &id, Status::Valid).await
}
