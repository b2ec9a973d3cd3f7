//! Back-office routes (`/issuer/…`), behind the bearer API key from the
//! configuration, compared in constant time.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};

use super::{ApiError, AppState, WireError};
use crate::issuer::consent::{self, WithdrawRequest};
use crate::issuer::offer::{self, OfferRequest};
use crate::issuer::records;
use crate::registry::SubjectId;
use crate::status::Status;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/issuer/subjects", web::get().to(subjects))
        .route("/issuer/subjects/{id}/consents", web::get().to(consents))
        .route(
            "/issuer/subjects/{id}/credentials",
            web::get().to(credentials),
        )
        .route("/issuer/consents/withdraw", web::post().to(withdraw))
        .route("/issuer/offers", web::post().to(create_offer))
        .route("/issuer/offers/{id}/qr.svg", web::get().to(offer_qr))
        .route("/issuer/credentials/{id}", web::get().to(credential))
        .route("/issuer/credentials/{id}/revoke", web::post().to(revoke))
        .route("/issuer/credentials/{id}/suspend", web::post().to(suspend))
        .route(
            "/issuer/credentials/{id}/reinstate",
            web::post().to(reinstate),
        );
}

/// Proof that the request carried the back-office key.
pub struct BackOffice;

/// A missing or wrong back-office key.
#[derive(Debug, thiserror::Error)]
#[error("a valid back-office API key is required (Authorization: Bearer …)")]
pub struct Unauthorized;

impl WireError for Unauthorized {
    fn code(&self) -> &'static str {
        "invalid_token"
    }
    fn status(&self) -> u16 {
        401
    }
    fn challenge(&self) -> Option<String> {
        Some("Bearer realm=\"digital-id back-office\"".into())
    }
}

impl FromRequest for BackOffice {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let expected = req
            .app_data::<web::Data<AppState>>()
            .map(|s| s.api_key.expose().to_owned());
        let given = super::issuer::bearer(req);
        ready(match (expected, given) {
            (Some(e), Some(g)) if keys_equal(&e, g) => Ok(BackOffice),
            _ => Err(Unauthorized.into()),
        })
    }
}

/// Constant-time comparison over equal-length digests, so neither the
/// content nor the length of the key leaks through timing.
fn keys_equal(expected: &str, given: &str) -> bool {
    let a = crate::crypto::sha256(expected);
    let b = crate::crypto::sha256(given);
    openssl::memcmp::eq(&a, &b)
}

async fn subjects(_: BackOffice, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(offer::subjects(&state.issuer())?))
}

async fn consents(
    _: BackOffice,
    state: web::Data<AppState>,
    id: web::Path<SubjectId>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(consent::list(&state.issuer(), &id).await?))
}

async fn withdraw(
    _: BackOffice,
    state: web::Data<AppState>,
    body: web::Json<WithdrawRequest>,
) -> Result<HttpResponse, ApiError> {
    consent::withdraw(&state.issuer(), &body).await?;
    Ok(HttpResponse::NoContent().finish())
}

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

async fn credential(
    _: BackOffice,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(records::view(&state.issuer(), &id).await?))
}

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

async fn revoke(
    _: BackOffice,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    set_status(&state, &id, Status::Invalid).await
}

async fn suspend(
    _: BackOffice,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    set_status(&state, &id, Status::Suspended).await
}

async fn reinstate(
    _: BackOffice,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    set_status(&state, &id, Status::Valid).await
}
