//! Back-office verifier endpoints (bearer API key) and the demo page's
//! unauthenticated twins, which only create preset requests and only stream
//! transactions they created.

use std::time::Duration;

use actix_web::http::header;
use actix_web::{HttpResponse, delete, get, post, web};
use serde::Deserialize;
use serde_json::json;

use super::auth::BackOffice;
use super::{ApiError, AppState, WireError};
use crate::verifier::request::{CreateError, CreateRequest};
use crate::verifier::scan::{ScanError, ScanRequest};
use crate::verifier::transaction::{Phase, Status};
use crate::verifier::view::{LookupError, StatusView};
use crate::web::qr;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(create)
        .service(status)
        .service(remove)
        .service(qr_svg)
        .service(qr_png)
        .service(events)
        .service(scan)
        .service(demo_page)
        .service(demo_create)
        .service(demo_events);
}

#[post("/verifier/requests")]
async fn create(
    _: BackOffice,
    state: web::Data<AppState>,
    body: web::Json<CreateRequest>,
) -> Result<HttpResponse, ApiError> {
    let created = state
        .verifier
        .create(body.into_inner(), false, state.now())
        .await?;
    Ok(no_store().json(created))
}

#[get("/verifier/requests/{id}")]
async fn status(
    _: BackOffice,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let view = state.verifier.status_of(&id, state.now()).await?;
    Ok(no_store().json(view))
}

#[delete("/verifier/requests/{id}")]
async fn remove(
    _: BackOffice,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state.verifier.delete(&id, state.now()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The `openid4vp://` link of a transaction.
async fn link(state: &AppState, id: &str) -> Result<String, ApiError> {
    let tx = state.verifier.transaction(id, state.now()).await?;
    Ok(state.verifier.authorization_request(&tx.request_id))
}

#[get("/verifier/requests/{id}/qr.svg")]
async fn qr_svg(
    _: BackOffice,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let svg = qr::svg(&link(&state, &id).await?).map_err(ApiError::internal)?;
    Ok(no_store().content_type("image/svg+xml").body(svg))
}

#[get("/verifier/requests/{id}/qr.png")]
async fn qr_png(
    _: BackOffice,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let png = qr::png(&link(&state, &id).await?).map_err(ApiError::internal)?;
    Ok(no_store().content_type("image/png").body(png))
}

#[get("/verifier/requests/{id}/events")]
async fn events(
    _: BackOffice,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state.verifier.transaction(&id, state.now()).await?;
    Ok(sse(state, id.into_inner()))
}

#[post("/verifier/scan")]
async fn scan(
    _: BackOffice,
    state: web::Data<AppState>,
    body: web::Json<ScanRequest>,
) -> Result<HttpResponse, ApiError> {
    let view = state.verifier.scan(body.into_inner(), state.now()).await?;
    Ok(no_store().json(view))
}

#[get("/demo/verifier")]
async fn demo_page() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(crate::web::verifier_demo::page())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DemoCreate {
    preset: String,
}

#[post("/demo/verifier/requests")]
async fn demo_create(
    state: web::Data<AppState>,
    body: web::Json<DemoCreate>,
) -> Result<HttpResponse, ApiError> {
    let req = CreateRequest {
        preset: Some(body.into_inner().preset),
        ..CreateRequest::default()
    };
    let created = state.verifier.create(req, true, state.now()).await?;
    let svg = qr::svg(&created.authorization_request).map_err(ApiError::internal)?;
    Ok(no_store().json(json!({
        "transaction_id": created.transaction_id,
        "authorization_request": created.authorization_request,
        "expires_at": created.expires_at,
        "expires_in": created.expires_in,
        "qr_svg": svg,
    })))
}

#[get("/demo/verifier/requests/{id}/events")]
async fn demo_events(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let tx = state.verifier.transaction(&id, state.now()).await?;
    if !tx.demo {
        return Err(LookupError::NotFound.into());
    }
    Ok(sse(state, id.into_inner()))
}

fn no_store() -> actix_web::HttpResponseBuilder {
    let mut b = HttpResponse::Ok();
    b.insert_header((header::CACHE_CONTROL, "no-store"));
    b
}

/// How often the stream looks at the transaction (from the store, so it
/// works with several server processes), and how long it lasts at most.
const POLL: Duration = Duration::from_millis(400);
const MAX_POLLS: u32 = 1000;

struct Sse {
    state: web::Data<AppState>,
    id: String,
    last: Option<Status>,
    retrieved: bool,
    polls: u32,
    done: bool,
}

/// A `text/event-stream` of `status` events (the status JSON) whenever the
/// status changes, a `retrieved` event when a wallet fetched the request,
/// ending with the final status.
fn sse(state: web::Data<AppState>, id: String) -> HttpResponse {
    let init = Sse {
        state,
        id,
        last: None,
        retrieved: false,
        polls: 0,
        done: false,
    };
    let stream = futures_util::stream::unfold(init, |mut s| async move {
        loop {
            if s.done || s.polls >= MAX_POLLS {
                return None;
            }
            if s.polls > 0 {
                tokio::time::sleep(POLL).await;
            }
            s.polls += 1;
            let now = s.state.now();
            let Ok(tx) = s.state.verifier.transaction(&s.id, now).await else {
                s.done = true;
                return Some((
                    Ok::<_, actix_web::Error>(web::Bytes::from_static(
                        b"event: gone\ndata: {}\n\n",
                    )),
                    s,
                ));
            };
            let view = StatusView::of(&tx, now, s.state.verifier.settings.retention);
            if s.last != Some(view.status) {
                s.last = Some(view.status);
                s.done = view.status != Status::Pending;
                let data = serde_json::to_string(&view).unwrap_or_default();
                return Some((
                    Ok(web::Bytes::from(format!("event: status\ndata: {data}\n\n"))),
                    s,
                ));
            }
            if !s.retrieved && matches!(tx.phase, Phase::RequestObjectRetrieved { .. }) {
                s.retrieved = true;
                return Some((
                    Ok(web::Bytes::from_static(b"event: retrieved\ndata: {}\n\n")),
                    s,
                ));
            }
            if s.polls % 25 == 0 {
                return Some((Ok(web::Bytes::from_static(b": keep-alive\n\n")), s));
            }
        }
    });
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/event-stream"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .streaming(stream)
}

impl WireError for CreateError {
    fn code(&self) -> &'static str {
        match self {
            CreateError::Store(e) => e.code(),
            CreateError::Key => "server_error",
            CreateError::PresetOrQuery
            | CreateError::UnknownPreset
            | CreateError::Dcql(_)
            | CreateError::ResponseMode
            | CreateError::HaipNeedsEncryption
            | CreateError::CallbackUrl => "invalid_request",
        }
    }
    fn status(&self) -> u16 {
        match self {
            CreateError::Store(e) => e.status(),
            CreateError::Key => 500,
            CreateError::PresetOrQuery
            | CreateError::UnknownPreset
            | CreateError::Dcql(_)
            | CreateError::ResponseMode
            | CreateError::HaipNeedsEncryption
            | CreateError::CallbackUrl => 400,
        }
    }
}

impl WireError for LookupError {
    fn code(&self) -> &'static str {
        match self {
            LookupError::NotFound => "not_found",
            LookupError::Store(e) => e.code(),
        }
    }
    fn status(&self) -> u16 {
        match self {
            LookupError::NotFound => 404,
            LookupError::Store(e) => e.status(),
        }
    }
}

impl WireError for ScanError {
    fn code(&self) -> &'static str {
        match self {
            ScanError::Query(e) => e.code(),
            ScanError::Store(e) => e.code(),
            ScanError::OneCredential
            | ScanError::QrSize
            | ScanError::UnknownNonce
            | ScanError::NonceUsed => "invalid_request",
        }
    }
    fn status(&self) -> u16 {
        match self {
            ScanError::Query(e) => e.status(),
            ScanError::Store(e) => e.status(),
            ScanError::OneCredential
            | ScanError::QrSize
            | ScanError::UnknownNonce
            | ScanError::NonceUsed => 400,
        }
    }
}
