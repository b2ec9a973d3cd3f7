//! Wallet-facing issuer routes (OpenID4VCI 1.0, RFC 8414, RFC 9126, Token
//! Status List). Handlers extract, call `crate::issuer`, and shape the
//! response.

use actix_web::http::header::{self, ContentType};
use actix_web::{HttpRequest, HttpResponse, web};

use super::{ApiError, AppState};
use crate::issuer::authorize::{self, AuthorizationParams};
use crate::issuer::{
    Ctx, credential, metadata, nonce, notification, offer, par,
    token::{self, TokenRequest},
};
use crate::registry::SubjectId;
use crate::status;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/.well-known/openid-credential-issuer{tail:.*}",
        web::get().to(credential_issuer),
    )
    .route(
        "/.well-known/oauth-authorization-server{tail:.*}",
        web::get().to(authorization_server),
    )
    .route(
        "/.well-known/jwt-vc-issuer{tail:.*}",
        web::get().to(jwt_vc_issuer),
    )
    .route("/type-metadata/{id}", web::get().to(type_metadata))
    .route("/credential-offer/{id}", web::get().to(credential_offer))
    .route("/token", web::post().to(token))
    .route("/nonce", web::post().to(nonce))
    .route("/credential", web::post().to(credential))
    .route("/notification", web::post().to(notification))
    .route("/status-lists/{id}", web::get().to(status_list))
    .route("/par", web::post().to(par))
    .route("/authorize", web::get().to(authorize_page))
    .route("/authorize/login", web::post().to(login))
    .route("/authorize/consent", web::post().to(consent));
}

impl AppState {
    /// The issuer's view of this state at the current time.
    pub fn issuer(&self) -> Ctx<'_> {
        Ctx {
            settings: &self.settings,
            keys: &self.keys,
            store: &*self.store,
            registry: &*self.registry,
            now: self.now(),
        }
    }
}

/// The token of `Authorization: Bearer <token>` (RFC 6750 §2.1).
pub(super) fn bearer(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

fn no_store(mut resp: HttpResponse) -> HttpResponse {
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    resp
}

/// A well-known document when `tail` is this issuer's path (RFC 8615
/// path insertion), 404 otherwise.
fn well_known(
    state: &AppState,
    tail: &str,
    doc: fn(&Ctx<'_>) -> serde_json::Value,
) -> Result<HttpResponse, ApiError> {
    metadata::well_known_tail_matches(&state.settings.public_url, tail)
        .then(|| HttpResponse::Ok().json(doc(&state.issuer())))
        .ok_or_else(|| ApiError::not_found("no such well-known document"))
}

async fn credential_issuer(
    state: web::Data<AppState>,
    tail: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    well_known(&state, &tail, metadata::credential_issuer)
}

async fn authorization_server(
    state: web::Data<AppState>,
    tail: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    well_known(&state, &tail, metadata::authorization_server)
}

async fn jwt_vc_issuer(
    state: web::Data<AppState>,
    tail: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    well_known(&state, &tail, metadata::jwt_vc_issuer)
}

/// SD-JWT VC Type Metadata; the bytes `vct#integrity` covers.
async fn type_metadata(id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let bytes = metadata::type_metadata(&id)
        .ok_or_else(|| ApiError::not_found("no such credential type"))?;
    Ok(HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(bytes))
}

async fn credential_offer(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let offer = offer::get(&state.issuer(), &id).await?;
    Ok(no_store(HttpResponse::Ok().json(offer.credential_offer)))
}

async fn token(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<TokenRequest>,
) -> Result<HttpResponse, ApiError> {
    let client_auth = req.headers().contains_key(header::AUTHORIZATION);
    let resp = token::token(&state.issuer(), form.into_inner(), client_auth).await?;
    Ok(no_store(HttpResponse::Ok().json(resp)))
}

async fn nonce(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let resp = nonce::issue(&state.issuer()).await?;
    Ok(no_store(HttpResponse::Ok().json(resp)))
}

async fn credential(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let resp = credential::issue(&state.issuer(), bearer(&req), &body).await?;
    Ok(no_store(HttpResponse::Ok().json(resp)))
}

async fn notification(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    notification::notify(&state.issuer(), bearer(&req), &body).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `statuslist+jwt`, cacheable for its `ttl`.
async fn status_list(
    state: web::Data<AppState>,
    id: web::Path<u32>,
) -> Result<HttpResponse, ApiError> {
    let ctx = state.issuer();
    let uri = ctx.url(&format!("/status-lists/{id}"));
    let ttl = ctx.settings.issuer.status_list_ttl;
    let t = status::status_list_token(ctx.store, &ctx.keys.issuer_es256, *id, &uri, ttl, ctx.now)
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/statuslist+jwt"))
        .insert_header((header::CACHE_CONTROL, format!("public, max-age={}", t.ttl)))
        .body(t.jwt))
}

async fn par(
    state: web::Data<AppState>,
    form: web::Form<AuthorizationParams>,
) -> Result<HttpResponse, ApiError> {
    let pushed = par::push(&state.issuer(), form.into_inner()).await?;
    Ok(no_store(HttpResponse::Created().json(pushed)))
}

fn html(status: u16, body: String) -> HttpResponse {
    let status = actix_web::http::StatusCode::from_u16(status)
        .unwrap_or(actix_web::http::StatusCode::BAD_REQUEST);
    no_store(
        HttpResponse::build(status)
            .content_type(ContentType::html())
            .body(body),
    )
}

fn error_page(e: authorize::AuthorizeError) -> HttpResponse {
    use super::WireError;
    html(e.status(), crate::web::authorize::error(&e, e.code()))
}

fn see_other(location: String) -> HttpResponse {
    no_store(
        HttpResponse::SeeOther()
            .insert_header((header::LOCATION, location))
            .finish(),
    )
}

async fn authorize_page(
    state: web::Data<AppState>,
    query: web::Query<AuthorizationParams>,
) -> HttpResponse {
    match authorize::begin(&state.issuer(), query.into_inner()).await {
        Ok(login) => html(200, crate::web::authorize::login(&login)),
        Err(e) => error_page(e),
    }
}

#[derive(serde::Deserialize)]
struct LoginForm {
    session: String,
    subject_id: SubjectId,
}

async fn login(state: web::Data<AppState>, form: web::Form<LoginForm>) -> HttpResponse {
    match authorize::login(&state.issuer(), &form.session, &form.subject_id).await {
        Ok(authorize::AfterLogin::Consent(step)) => {
            html(200, crate::web::authorize::consent(&step))
        }
        Ok(authorize::AfterLogin::Redirect(to)) => see_other(to),
        Err(e) => error_page(e),
    }
}

#[derive(serde::Deserialize)]
struct ConsentForm {
    session: String,
    decision: Decision,
}

#[derive(serde::Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum Decision {
    Approve,
    Deny,
}

async fn consent(state: web::Data<AppState>, form: web::Form<ConsentForm>) -> HttpResponse {
    let approve = form.decision == Decision::Approve;
    match authorize::decide(&state.issuer(), &form.session, approve).await {
        Ok(to) => see_other(to),
        Err(e) => error_page(e),
    }
}
