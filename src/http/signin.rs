//! Citizen sign-in at the upstream OpenID Provider: `GET /authorize` sends
//! the citizen there with the sign-in cookie; `GET /signin/callback` brings
//! them back. Handlers extract, call `crate::issuer::signin`, and shape the
//! page or redirect.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};

use super::issuer::{found, html, see_other};
use super::openapi::ErrorBody;
use super::{ApiError, AppState, WireError, limits};
use crate::config::CALLBACK_PATH;
use crate::issuer::authorize::{AfterLogin, AuthorizationParams, SESSION_TTL};
use crate::issuer::signin::{self, CallbackError, CallbackParams};

/// The sign-in cookie under https (RFC 6265bis `__Host-`: Secure, Path=/,
/// no Domain).
const COOKIE_HTTPS: &str = "__Host-digital-id-signin";
/// The sign-in cookie of a local http development server.
const COOKIE_HTTP: &str = "digital-id-signin";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(limits::resource("/authorize").get(authorize));
    configure_callback(cfg);
}

/// The redirection endpoint alone.
pub fn configure_callback(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource(CALLBACK_PATH).get(callback));
}

fn cookie_name(state: &AppState) -> &'static str {
    match state.settings.public_url.as_str().starts_with("https://") {
        true => COOKIE_HTTPS,
        false => COOKIE_HTTP,
    }
}

fn provider(state: &AppState) -> Result<&crate::signin::Provider, ApiError> {
    state
        .signin
        .as_deref()
        .ok_or_else(|| ApiError::not_found("citizen sign-in is not configured"))
}

/// The sign-in cookie (RFC 6265): HttpOnly, SameSite=Lax (the provider's
/// redirect back is a top-level GET), Secure under https; `value` empty
/// removes it. `value` is base64url, so it needs no quoting.
fn set_cookie(resp: &mut HttpResponse, state: &AppState, value: &str) {
    let name = cookie_name(state);
    let max_age = if value.is_empty() { 0 } else { SESSION_TTL };
    let secure = if name == COOKIE_HTTPS { "; Secure" } else { "" };
    let text = format!("{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}");
    if let Ok(v) = HeaderValue::from_str(&text) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// The value of the sign-in cookie the browser sent, if any.
fn cookie_value<'r>(req: &'r HttpRequest, name: &str) -> Option<&'r str> {
    req.headers()
        .get_all(header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

/// `GET /authorize` with `[auth] provider = "oidc"` (documented with the
/// demo login page in `super::issuer`).
async fn authorize(
    state: web::Data<AppState>,
    query: web::Query<AuthorizationParams>,
) -> Result<HttpResponse, ApiError> {
    let provider = provider(&state)?;
    Ok(
        match signin::start(&state.issuer(), provider, query.into_inner()).await {
            Ok(to) => {
                let mut resp = see_other(to.url);
                set_cookie(&mut resp, &state, &to.state);
                resp
            }
            Err(CallbackError::BackToClient { location, .. }) => found(location),
            Err(e) => error_page(e),
        },
    )
}

#[utoipa::path(get, path = "/signin/callback", tag = "issuer",
    summary = "Redirection endpoint of the citizen sign-in (OpenID Connect Core 1.0 §3.1.2.5)",
    description = "Only with `[auth] provider = \"oidc\"`. The identity provider sends the citizen back here; `state` must equal the sign-in cookie `GET /authorize` set. The code is redeemed at the provider (PKCE, client authentication), the ID token verified (signature from the provider's JWKS, `iss`, `aud`, `azp`, `exp`, `iat`, `nonce`), and the subject claim mapped to a registry subject; `amr`/`acr` become the identity-proofing method. Pages are sent with `Content-Security-Policy: frame-ancestors 'none'` and `X-Content-Type-Options: nosniff`; the cookie is removed.",
    params(CallbackParams),
    responses(
        (status = 200, description = "Consent page", body = String, content_type = "text/html"),
        (status = 303, description = "Consent known: to the wallet's `redirect_uri` with `code`, `state` and `iss`", headers(("Location" = String, description = "The wallet's `redirect_uri` with the authorization response"))),
        (status = 400, description = "Refusal page: `invalid_request` (cookie missing or not matching `state`; sign-in unknown, used or expired; no code)", body = String, content_type = "text/html"),
        (status = 403, description = "Refusal page: `access_denied` (the ID token or userinfo broke a rule; no registry record for the person; an adult-only document for a minor; identity not proofed; the provider did not sign the person in). When the person signed in, the page links back to the wallet's `redirect_uri` with `error=access_denied` and `error_description`", body = String, content_type = "text/html"),
        (status = 404, description = "`not_found`: citizen sign-in is not configured", body = ErrorBody),
        (status = 502, description = "Refusal page: `temporarily_unavailable` (the identity provider cannot be reached or sent an invalid discovery document or JWKS)", body = String, content_type = "text/html"),
        (status = 503, description = "Refusal page: `server_error` (registry or store unavailable)", body = String, content_type = "text/html"),
    ))]
async fn callback(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<CallbackParams>,
) -> Result<HttpResponse, ApiError> {
    let provider = provider(&state)?;
    let cookie_state = cookie_value(&req, cookie_name(&state));
    let got = signin::callback(&state.issuer(), provider, query.into_inner(), cookie_state).await;
    let mut resp = match got {
        Ok(AfterLogin::Consent(step)) => html(200, crate::web::authorize::consent(&step)),
        Ok(AfterLogin::Redirect(to)) => see_other(to),
        Err(e) => error_page(e),
    };
    set_cookie(&mut resp, &state, "");
    Ok(resp)
}

/// The refusal page; a failure of ours (5xx) shows the generic sentence.
fn error_page(e: CallbackError) -> HttpResponse {
    let (status, code) = (e.status(), e.code());
    let back = match &e {
        CallbackError::Refused { redirect, .. } => Some(redirect.clone()),
        _ => None,
    };
    // 502 names which part of the provider failed (our sentence, never
    // the provider's text); other 5xx show the generic sentence.
    let message = match status >= 500 && status != 502 {
        true => ApiError::from(e).description().to_owned(),
        false => {
            if status == 502 {
                tracing::warn!(error = %e, "sign-in at the identity provider failed");
            }
            e.to_string()
        }
    };
    html(
        status,
        crate::web::authorize::refused(&message, code, back.as_deref()),
    )
}
