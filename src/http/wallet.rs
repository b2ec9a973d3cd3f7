//! Wallet-facing endpoints: the request URI (GET, and POST for
//! `request_uri_method=post`), the response URI, presentation nonces and
//! by-reference presentation uploads for the holder-shown QR.

use actix_web::http::header;
use actix_web::{HttpResponse, get, post, web};
use serde::Deserialize;
use serde_json::json;

use super::{ApiError, AppState, WireError};
use crate::verifier::request_object::{MEDIA_TYPE, RequestObjectError};
use crate::verifier::response::{ResponseError, WalletResponse};
use crate::verifier::scan::Upload;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(request_object_get)
        .service(request_object_post)
        .service(response)
        .service(presentation_nonce)
        .service(upload)
        .service(uploaded);
}

#[get("/oid4vp/requests/{id}")]
async fn request_object_get(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let jwt = state
        .verifier
        .request_object(&id, None, state.now())
        .await?;
    Ok(jar(jwt))
}

/// OpenID4VP 1.0 §5.10.1: `wallet_metadata` and `wallet_nonce`; other
/// members are ignored.
#[derive(Debug, Deserialize)]
struct RequestUriPost {
    #[serde(default)]
    wallet_nonce: Option<String>,
}

#[post("/oid4vp/requests/{id}")]
async fn request_object_post(
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<RequestUriPost>,
) -> Result<HttpResponse, ApiError> {
    let jwt = state
        .verifier
        .request_object(&id, form.wallet_nonce.as_deref(), state.now())
        .await?;
    Ok(jar(jwt))
}

fn jar(jwt: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(MEDIA_TYPE)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(jwt)
}

#[post("/oid4vp/responses/{id}")]
async fn response(
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<WalletResponse>,
) -> Result<HttpResponse, ApiError> {
    state
        .verifier
        .respond(&id, form.into_inner(), state.now())
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({})))
}

#[post("/presentation-nonces")]
async fn presentation_nonce(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let n = state.verifier.presentation_nonce(state.now()).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(n))
}

#[post("/presentations")]
async fn upload(
    state: web::Data<AppState>,
    body: web::Json<Upload>,
) -> Result<HttpResponse, ApiError> {
    let up = state
        .verifier
        .upload(body.into_inner(), state.now())
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(up))
}

/// The by-reference link is meant for `/verifier/scan`, not for browsers:
/// opening it tells what it is without revealing (or consuming) anything.
#[get("/p/{id}")]
async fn uploaded(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    if !state.verifier.upload_is_live(&id, state.now()).await? {
        return Err(ApiError::not_found(
            "no such presentation (expired or already scanned)",
        ));
    }
    Ok(HttpResponse::Ok().json(json!({
        "description": "a holder-shown presentation; a relying party posts this link to /verifier/scan",
    })))
}

impl WireError for RequestObjectError {
    fn code(&self) -> &'static str {
        match self {
            RequestObjectError::UnknownRequest => "not_found",
            RequestObjectError::Expired
            | RequestObjectError::AlreadyRetrieved
            | RequestObjectError::BadWalletNonce => "invalid_request",
            RequestObjectError::Signing => "server_error",
            RequestObjectError::Store(e) => e.code(),
        }
    }
    fn status(&self) -> u16 {
        match self {
            RequestObjectError::UnknownRequest => 404,
            RequestObjectError::Expired
            | RequestObjectError::AlreadyRetrieved
            | RequestObjectError::BadWalletNonce => 400,
            RequestObjectError::Signing => 500,
            RequestObjectError::Store(e) => e.status(),
        }
    }
}

impl WireError for ResponseError {
    fn code(&self) -> &'static str {
        match self {
            ResponseError::UnknownRequest => "not_found",
            ResponseError::Store(_) => "server_error",
            ResponseError::Replay
            | ResponseError::NotRetrieved
            | ResponseError::Expired
            | ResponseError::PlainToEncrypted
            | ResponseError::UnexpectedEncryption
            | ResponseError::Jwe(_)
            | ResponseError::WrongState
            | ResponseError::Empty
            | ResponseError::VpTokenShape
            | ResponseError::NotMultiple(_)
            | ResponseError::Match(_)
            | ResponseError::Presentation { .. } => "invalid_request",
        }
    }
    fn status(&self) -> u16 {
        match self {
            ResponseError::UnknownRequest => 404,
            ResponseError::Store(_) => 503,
            ResponseError::Replay
            | ResponseError::NotRetrieved
            | ResponseError::Expired
            | ResponseError::PlainToEncrypted
            | ResponseError::UnexpectedEncryption
            | ResponseError::Jwe(_)
            | ResponseError::WrongState
            | ResponseError::Empty
            | ResponseError::VpTokenShape
            | ResponseError::NotMultiple(_)
            | ResponseError::Match(_)
            | ResponseError::Presentation { .. } => 400,
        }
    }
}
