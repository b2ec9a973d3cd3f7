//! Back-office verifier endpoints (bearer API key) and the demo page's
//! unauthenticated twins, which only create preset requests and only stream
//! transactions they created.

use std::time::Duration;

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::auth::Caller;
use super::openapi::{DemoCreated, ErrorBody, PngImage};
use super::{ApiError, AppState, WireError, limits};
use crate::parties::audit::{AuditEntry, AuditKind, FailureReason};
use crate::parties::{Party, RelyingParty};
use crate::verifier::request::{CreateError, CreateRequest, Created, PartyOptions};
use crate::verifier::scan::{ScanError, ScanRequest, Scanned};
use crate::verifier::transaction::{Phase, ResultAccessError, Status};
use crate::verifier::view::{LookupError, ReadError, StatusView};
use crate::web::qr;

/// The verifier's routes; the demo page and its twins only in demo mode.
pub fn configure(cfg: &mut web::ServiceConfig, demo: bool) {
    // One resource per path: a method it has no route for is answered 405
    // with `Allow` (see `super::methods`).
    cfg.service(web::resource("/verifier/requests").post(create))
        .service(
            web::resource("/verifier/requests/{id}")
                .get(status)
                .delete(remove),
        )
        .service(web::resource("/verifier/requests/{id}/qr.svg").get(qr_svg))
        .service(web::resource("/verifier/requests/{id}/qr.png").get(qr_png))
        .service(web::resource("/verifier/requests/{id}/events").get(events))
        .service(web::resource("/verifier/scan").post(scan));
    if demo {
        cfg.service(web::resource("/demo/verifier").get(demo_page))
            .service(limits::resource("/demo/verifier/requests").post(demo_create))
            .service(web::resource("/demo/verifier/requests/{id}/events").get(demo_events));
    }
}

#[utoipa::path(post, path = "/verifier/requests", tag = "verifier",
    operation_id = "create_presentation_request",
    summary = "Create a presentation request (OpenID4VP 1.0 §5, DCQL §6)",
    description = "A preset or a DCQL query; a signed request object at a single-use `request_uri` that lives 30 seconds, reached through the `openid4vp://` link the QR carries (with `request_uri_method=post` when asked for or configured). The answer comes as `direct_post.jwt` (default) or `direct_post`. Follow it with `GET /verifier/requests/{id}`, its `/events`, or `callback_url`. Same-device flow (OpenID4VP 1.0 §8.2): with `redirect_uri` (one of the relying party's registered redirect URIs, exact match) the wallet is sent back there with `#response_code=…` once its answer is processed, and the result is readable only with that code, once; `Cache-Control: no-store`.",
    request_body(content = CreateRequest, content_type = "application/json"),
    security(("backoffice" = [])),
    responses(
        (status = 200, description = "The transaction and its link", body = Created),
        (status = 400, description = "`invalid_request`: invalid JSON or an unknown member, not exactly one of `preset` and `dcql_query`, unknown preset, a DCQL query breaking a rule of OpenID4VP 1.0 §6 (the description names the member, e.g. `dcql_query.credentials[0].format`), `response_mode` not `direct_post.jwt`/`direct_post` (or `direct_post` under the HAIP profile), `callback_url` over 2048 characters, not an https URL, with user information, or whose host is an IP address in a private, loopback, link-local or other non-public range (the description names the rule), `redirect_uri` not one of the relying party's registered redirect URIs, `request_uri_method` not `get`/`post`", body = ErrorBody),
        (status = 401, description = "`invalid_token`: the API key (the operator's or a relying party's) is missing or wrong, or its party was deleted or its key rotated (`WWW-Authenticate: Bearer`)", body = ErrorBody),
        (status = 403, description = "`access_denied`: a preset, claim or credential outside the calling relying party's entitlements, or a `callback_url` not among its registered `callback_urls`; the description names it (`preset: …`, `dcql_query.credentials[i]: claim [\"…\"] of `vct` …`)", body = ErrorBody),
        (status = 409, description = "`invalid_request`: the calling relying party has no certificate yet (outside demo mode the operator uploads its chain with `POST /admin/relying-parties/{id}/certificate` first), or the chain the operator uploaded for it has expired (the description gives the date: upload a new chain)", body = ErrorBody),
        (status = 429, description = "`rate_limited`: the calling relying party's `requests_per_minute` is used up (requests and scans count together, over a sliding minute on all nodes; a request refused with 400, 403 or 409 does not count)", body = ErrorBody, headers(("Retry-After" = u32, description = "Seconds to wait"))),
        (status = 500, description = "`server_error`", body = ErrorBody),
        (status = 503, description = "`temporarily_unavailable`: the store cannot be reached (e.g. while reading the relying party's record)", body = ErrorBody, headers(("Retry-After" = u32, description = "Seconds to wait"))),
    ))]
async fn create(
    caller: Caller,
    state: web::Data<AppState>,
    body: web::Json<CreateRequest>,
) -> Result<HttpResponse, ApiError> {
    let req = body.into_inner();
    let (party, now) = (&caller.0, state.now());
    let query = state.parties.check(
        party,
        req.preset.as_deref(),
        req.dcql_query.as_ref(),
        req.callback_url.as_deref(),
    )?;
    let id = party.id();
    let options = crate::verifier::parties::options(party, &state.verifier.settings);
    // From the record the key was checked against: no second read.
    let identity = state.verifier.identity_of_party(party, now).await?;
    let prepared = state
        .verifier
        .prepare(&identity, req, query, false, options, now)?;
    // Only a request found valid uses the party's quota.
    state.parties.use_quota(party, now).await?;
    let created = state.verifier.commit(prepared, now).await?;
    state.metrics.party_request(&id, "request");
    Ok(no_store().json(created))
}

/// The transaction `id` if it is the caller's; another party's is
/// `not_found`, exactly like an unknown one.
async fn owned(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<crate::verifier::Transaction, ApiError> {
    let tx = state.verifier.transaction(id, state.now()).await?;
    if caller.0.owns(&tx.party) {
        Ok(tx)
    } else {
        Err(LookupError::NotFound.into())
    }
}

#[utoipa::path(get, path = "/verifier/requests/{id}", tag = "verifier",
    operation_id = "presentation_request_status",
    summary = "A presentation request's status and result",
    description = "`pending`, then `verified` with the disclosed claims per Credential Query id, `failed` with `error`, or `expired`; results are kept for the retention window (10 minutes by default) after the answer. Also serves transactions made by `POST /verifier/scan`. A same-device transaction (created with `redirect_uri`) answers only with `?response_code=` from the redirect the wallet was given, and only once: this stops session fixation (OpenID4VP 1.0 §8.2); its status without claims is on `/events`; `Cache-Control: no-store`.",
    params(
        ("id" = String, Path, description = "Transaction id (`transaction_id`)"),
        ("response_code" = Option<String>, Query, description = "Same-device transactions only (and required for them): the `response_code` of the redirect the wallet received; single use"),
    ),
    security(("backoffice" = [])),
    responses(
        (status = 200, description = "The status", body = StatusView),
        (status = 400, description = "`invalid_request`: `response_code` given for a transaction that was not created with a `redirect_uri`", body = ErrorBody),
        (status = 401, description = "`invalid_token`: the API key (the operator's or a relying party's) is missing or wrong, or its party was deleted or its key rotated (`WWW-Authenticate: Bearer`)", body = ErrorBody),
        (status = 403, description = "`access_denied`: a same-device transaction read without `response_code`, with another code (also before the wallet answered), or with a code already used", body = ErrorBody),
        (status = 404, description = "`not_found`: no such transaction (unknown, deleted, its retention is over, or another relying party's)", body = ErrorBody),
        (status = 500, description = "`server_error`", body = ErrorBody),
    ))]
async fn status(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
    query: web::Query<ResultQuery>,
) -> Result<HttpResponse, ApiError> {
    owned(&state, &caller, &id).await?;
    let code = query.response_code.as_deref();
    let view = state.verifier.result_of(&id, code, state.now()).await?;
    Ok(no_store().json(view))
}

/// The query of `GET /verifier/requests/{id}`.
#[derive(Debug, Deserialize)]
struct ResultQuery {
    #[serde(default)]
    response_code: Option<String>,
}

#[utoipa::path(delete, path = "/verifier/requests/{id}", tag = "verifier",
    operation_id = "delete_presentation_request",
    summary = "Delete a presentation request and its result",
    description = "At once, whatever its status: a pending request can no longer be fetched or answered, and the disclosed claims are gone.",
    params(("id" = String, Path, description = "Transaction id (`transaction_id`)")),
    security(("backoffice" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "`invalid_token`: the API key (the operator's or a relying party's) is missing or wrong, or its party was deleted or its key rotated (`WWW-Authenticate: Bearer`)", body = ErrorBody),
        (status = 404, description = "`not_found`: no such transaction, or another relying party's", body = ErrorBody),
        (status = 500, description = "`server_error`", body = ErrorBody),
    ))]
async fn remove(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    owned(&state, &caller, &id).await?;
    state.verifier.delete(&id, state.now()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The `openid4vp://` link of the caller's transaction.
async fn link(state: &AppState, caller: &Caller, id: &str) -> Result<String, ApiError> {
    let tx = owned(state, caller, id).await?;
    Ok(state.verifier.authorization_request(&tx))
}

#[utoipa::path(get, path = "/verifier/requests/{id}/qr.svg", tag = "verifier",
    operation_id = "presentation_request_qr_svg",
    summary = "QR code of a presentation request, as SVG (OpenID4VP 1.0 §5.7)",
    description = "SVG encoding the request's `openid4vp://` link (`client_id` and `request_uri`, OpenID4VP 1.0 §5.7); the link stays the same, but the request behind it lives 30 seconds and is single use; `Cache-Control: no-store`.",
    params(("id" = String, Path, description = "Transaction id (`transaction_id`)")),
    security(("backoffice" = [])),
    responses(
        (status = 200, description = "The QR code", body = String, content_type = "image/svg+xml"),
        (status = 401, description = "`invalid_token`: the API key (the operator's or a relying party's) is missing or wrong, or its party was deleted or its key rotated (`WWW-Authenticate: Bearer`)", body = ErrorBody),
        (status = 404, description = "`not_found`: no such transaction, or another relying party's", body = ErrorBody),
        (status = 500, description = "`server_error`", body = ErrorBody),
    ))]
async fn qr_svg(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let svg = qr::svg(&link(&state, &caller, &id).await?).map_err(ApiError::internal)?;
    Ok(no_store().content_type("image/svg+xml").body(svg))
}

#[utoipa::path(get, path = "/verifier/requests/{id}/qr.png", tag = "verifier",
    operation_id = "presentation_request_qr_png",
    summary = "QR code of a presentation request, as PNG (OpenID4VP 1.0 §5.7)",
    description = "PNG encoding the request's `openid4vp://` link (`client_id` and `request_uri`, OpenID4VP 1.0 §5.7); the link stays the same, but the request behind it lives 30 seconds and is single use; `Cache-Control: no-store`.",
    params(("id" = String, Path, description = "Transaction id (`transaction_id`)")),
    security(("backoffice" = [])),
    responses(
        (status = 200, description = "The QR code", body = inline(PngImage), content_type = "image/png"),
        (status = 401, description = "`invalid_token`: the API key (the operator's or a relying party's) is missing or wrong, or its party was deleted or its key rotated (`WWW-Authenticate: Bearer`)", body = ErrorBody),
        (status = 404, description = "`not_found`: no such transaction, or another relying party's", body = ErrorBody),
        (status = 500, description = "`server_error`", body = ErrorBody),
    ))]
async fn qr_png(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let png = qr::png(&link(&state, &caller, &id).await?).map_err(ApiError::internal)?;
    Ok(no_store().content_type("image/png").body(png))
}

#[utoipa::path(get, path = "/verifier/requests/{id}/events", tag = "verifier",
    operation_id = "presentation_request_events",
    summary = "A presentation request's status as a `text/event-stream`",
    description = "Server-sent events while the transaction lasts: `status` (data: the status JSON, as `GET /verifier/requests/{id}` returns it; without `claims` for a same-device transaction, whose result needs its response code) first and whenever it changes, `retrieved` (data: `{}`) once a wallet has fetched the request object, `gone` (data: `{}`) if the transaction is deleted; comment lines keep the connection alive. The stream ends after the final status, or after about 400 seconds, or (for a relying party's key, checked about every 5 seconds) once that key was rotated or its party deleted: reconnecting then gets 401; `Cache-Control: no-store`.",
    params(("id" = String, Path, description = "Transaction id (`transaction_id`)")),
    security(("backoffice" = [])),
    responses(
        (status = 200, description = "The event stream, e.g. `event: status` / `data: {\"transaction_id\":…,\"status\":\"pending\",…}`", body = String, content_type = "text/event-stream"),
        (status = 401, description = "`invalid_token`: the API key (the operator's or a relying party's) is missing or wrong, or its party was deleted or its key rotated (`WWW-Authenticate: Bearer`)", body = ErrorBody),
        (status = 404, description = "`not_found`: no such transaction, or another relying party's", body = ErrorBody),
        (status = 500, description = "`server_error`", body = ErrorBody),
    ))]
async fn events(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    owned(&state, &caller, &id).await?;
    let holder = match caller.0 {
        Party::Default => None,
        Party::Registered(p) => Some(p),
    };
    Ok(sse(state, id.into_inner(), holder))
}

#[utoipa::path(post, path = "/verifier/scan", tag = "verifier",
    operation_id = "scan_holder_qr",
    summary = "Verify a holder-shown QR code at once",
    description = "The text of a QR the citizen shows: an SD-JWT presentation whose KB-JWT binds a presentation nonce (`POST /presentation-nonces`; 30 seconds, single use, `aud` = our Client Identifier), or a `/p/{id}` link to one uploaded with `POST /presentations`. A presentation that does not verify is not an error: the answer is `failed` with `error.code` `invalid_presentation`. The result is kept like a request's (`GET /verifier/requests/{id}`); `Cache-Control: no-store`.",
    request_body(content = ScanRequest, content_type = "application/json"),
    security(("backoffice" = [])),
    responses(
        (status = 200, description = "`verified` with the claims, or `failed` with the reason", body = StatusView),
        (status = 400, description = "`invalid_request`: invalid JSON or an unknown member, not exactly one of `preset` and `dcql_query`, unknown preset, an invalid DCQL query, not exactly one Credential Query, `qr` empty or over 64 KiB", body = ErrorBody),
        (status = 401, description = "`invalid_token`: the API key (the operator's or a relying party's) is missing or wrong, or its party was deleted or its key rotated (`WWW-Authenticate: Bearer`)", body = ErrorBody),
        (status = 403, description = "`access_denied`: a preset, claim or credential outside the calling relying party's entitlements; the description names it", body = ErrorBody),
        (status = 429, description = "`rate_limited`: the calling relying party's `requests_per_minute` is used up (requests and scans count together, over a sliding minute on all nodes; a scan refused with 400 or 403 does not count, one whose QR does not verify does)", body = ErrorBody, headers(("Retry-After" = u32, description = "Seconds to wait"))),
        (status = 500, description = "`server_error`", body = ErrorBody),
    ))]
async fn scan(
    caller: Caller,
    state: web::Data<AppState>,
    body: web::Json<ScanRequest>,
) -> Result<HttpResponse, ApiError> {
    let mut req = body.into_inner();
    let (party, now) = (caller.0.id(), state.now());
    let query = state.parties.check(
        &caller.0,
        req.preset.as_deref(),
        req.dcql_query.as_ref(),
        None,
    )?;
    crate::verifier::scan::check_scan(&query, &req)?;
    // Only a scan whose input is valid uses the party's quota (a QR that
    // does not verify is a verification, and counts).
    state.parties.use_quota(&caller.0, now).await?;
    req.party = party.clone();
    let Scanned { view, reason } = state.verifier.scan(req, query, now).await?;
    let failure = match view.status {
        Status::Verified => None,
        _ => Some((
            view.error
                .as_ref()
                .map_or("invalid_presentation", |e| e.code.as_str()),
            reason.unwrap_or(FailureReason::InvalidPresentation),
        )),
    };
    state.metrics.verified(
        "holder_qr",
        if failure.is_some() {
            "failed"
        } else {
            "verified"
        },
    );
    state.metrics.party_request(&party, "scan");
    state.metrics.party_outcome(&party, failure.map(|(_, r)| r));
    let entry = AuditEntry::new(now, &view.transaction_id.0, AuditKind::Scan, failure);
    state.parties.record(party.as_str(), now, entry).await;
    Ok(no_store().json(view))
}

#[utoipa::path(get, path = "/demo/verifier", tag = "demo",
    operation_id = "demo_verifier_page",
    summary = "The relying-party demo page",
    description = "Demo mode only (`--demo`). In Russian or English: `?lang=` when given, else the better of `ru` and `en` in `Accept-Language`, else Russian; a switch links to the other language (`Vary: Accept-Language`). It names the relying party (`[verifier] display_name`, else the public URL's host). Pick a preset, show the QR with a 30-second countdown beside it (a fresh request replaces an expired one) and see the verified claims arrive; no login, no external assets; `Cache-Control: no-store`.",
    params(
        ("lang" = Option<String>, Query, description = "`ru` or `en` (anything else is ignored)"),
        ("Accept-Language" = Option<String>, Header, description = "Chooses the language when `lang` does not"),
    ),
    responses(
        (status = 200, description = "The page", body = String, content_type = "text/html"),
        (status = 404, description = "`not_found`: not in demo mode", body = ErrorBody),
    ))]
async fn demo_page(
    state: web::Data<AppState>,
    req: actix_web::HttpRequest,
    query: web::Query<DemoPageQuery>,
) -> HttpResponse {
    use crate::web::verifier_demo::{Lang, page};
    let accept = req
        .headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    let lang = Lang::negotiate(query.lang.as_deref(), accept);
    let party = match (&state.verifier.settings.display_name, lang) {
        (Some(name), Lang::Ru) => name.ru.clone(),
        (Some(name), Lang::En) => name.en.clone(),
        (None, _) => state.settings.public_url.host().to_owned(),
    };
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::VARY, "Accept-Language"))
        .body(page(lang, &party))
}

/// The query of the demo page; other members are ignored.
#[derive(Debug, Deserialize)]
struct DemoPageQuery {
    #[serde(default)]
    lang: Option<String>,
}

/// The demo page's request: a preset only.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = DemoCreateRequest)]
struct DemoCreate {
    /// A built-in query.
    #[schema(value_type = crate::verifier::presets::Preset, example = "age_over_18")]
    preset: String,
}

#[utoipa::path(post, path = "/demo/verifier/requests", tag = "demo",
    operation_id = "demo_create_presentation_request",
    summary = "Create a preset presentation request for the demo page (OpenID4VP 1.0 §5)",
    description = "Demo mode only (`--demo`). The unauthenticated twin of `POST /verifier/requests`: presets only, `direct_post.jwt`, no callback, and the QR SVG inline. Its status is seen only through `/demo/verifier/requests/{id}/events`; `Cache-Control: no-store`; rate limited.",
    request_body(content = DemoCreate, content_type = "application/json"),
    responses(
        (status = 200, description = "The transaction, its link and QR code", body = DemoCreated),
        (status = 400, description = "`invalid_request`: invalid JSON, an unknown member or an unknown preset", body = ErrorBody),
        (status = 404, description = "`not_found`: not in demo mode", body = ErrorBody),
        (status = 429, description = "`rate_limited`", body = ErrorBody, headers(("Retry-After" = u32, description = "Seconds to wait"))),
        (status = 500, description = "`server_error`", body = ErrorBody),
    ))]
async fn demo_create(
    state: web::Data<AppState>,
    body: web::Json<DemoCreate>,
) -> Result<HttpResponse, ApiError> {
    let req = CreateRequest {
        preset: Some(body.into_inner().preset),
        ..CreateRequest::default()
    };
    let party = PartyOptions::of_settings(&state.verifier.settings);
    let created = state.verifier.create(req, true, party, state.now()).await?;
    let svg = qr::svg(&created.authorization_request).map_err(ApiError::internal)?;
    Ok(no_store().json(json!({
        "transaction_id": created.transaction_id,
        "authorization_request": created.authorization_request,
        "expires_at": created.expires_at,
        "expires_in": created.expires_in,
        "qr_svg": svg,
    })))
}

#[utoipa::path(get, path = "/demo/verifier/requests/{id}/events", tag = "demo",
    operation_id = "demo_presentation_request_events",
    summary = "A demo request's status as a `text/event-stream`",
    description = "Demo mode only (`--demo`). As `GET /verifier/requests/{id}/events`, without authentication, for transactions made by the demo page only. Server-sent events while the transaction lasts: `status` (data: the status JSON, as `GET /verifier/requests/{id}` returns it) first and whenever it changes, `retrieved` (data: `{}`) once a wallet has fetched the request object, `gone` (data: `{}`) if the transaction is deleted; comment lines keep the connection alive. The stream ends after the final status, or after about 400 seconds; `Cache-Control: no-store`.",
    params(("id" = String, Path, description = "Transaction id (`transaction_id`)")),
    responses(
        (status = 200, description = "The event stream", body = String, content_type = "text/event-stream"),
        (status = 404, description = "`not_found`: no such transaction, or not one made by the demo page; or not in demo mode", body = ErrorBody),
        (status = 500, description = "`server_error`", body = ErrorBody),
    ))]
async fn demo_events(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let tx = state.verifier.transaction(&id, state.now()).await?;
    if !tx.demo {
        return Err(LookupError::NotFound.into());
    }
    Ok(sse(state, id.into_inner(), None))
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
/// Every this many polls (about 5 s) a registered party's stream checks
/// that its API key is still the party's (not rotated, party not deleted).
const RECHECK_POLLS: u32 = 12;

struct Sse {
    state: web::Data<AppState>,
    id: String,
    /// The registered party that opened the stream, with the key it
    /// authenticated with (`None`: the operator, or the demo page).
    holder: Option<Box<RelyingParty>>,
    last: Option<Status>,
    retrieved: bool,
    polls: u32,
    done: bool,
}

/// A `text/event-stream` of `status` events (the status JSON) whenever the
/// status changes, a `retrieved` event when a wallet fetched the request,
/// ending with the final status; a registered party's stream also ends
/// (without another event) once its key no longer authenticates it.
fn sse(state: web::Data<AppState>, id: String, holder: Option<Box<RelyingParty>>) -> HttpResponse {
    let init = Sse {
        state,
        id,
        holder,
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
            if s.polls % RECHECK_POLLS == 0
                && let Some(holder) = &s.holder
            {
                // Rotated, deleted, or not known now (the store is down):
                // the caller is no longer shown to be the party.
                if !matches!(s.state.parties.still_holds_key(holder, now).await, Ok(true)) {
                    return None;
                }
            }
            let Ok(tx) = s.state.verifier.transaction(&s.id, now).await else {
                s.done = true;
                return Some((
                    Ok::<_, actix_web::Error>(web::Bytes::from_static(
                        b"event: gone\ndata: {}\n\n",
                    )),
                    s,
                ));
            };
            let retention = s.state.verifier.settings.retention;
            let view = StatusView::without_claims_if_same_device(&tx, now, retention);
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
            CreateError::Identity(e) => e.code(),
            CreateError::Key => "server_error",
            CreateError::PresetOrQuery
            | CreateError::UnknownPreset
            | CreateError::Dcql(_)
            | CreateError::ResponseMode
            | CreateError::HaipNeedsEncryption
            | CreateError::CallbackUrl(_)
            | CreateError::RedirectUriNotRegistered => "invalid_request",
        }
    }
    fn status(&self) -> u16 {
        match self {
            CreateError::Store(e) => e.status(),
            CreateError::Identity(e) => e.status(),
            CreateError::Key => 500,
            CreateError::PresetOrQuery
            | CreateError::UnknownPreset
            | CreateError::Dcql(_)
            | CreateError::ResponseMode
            | CreateError::HaipNeedsEncryption
            | CreateError::CallbackUrl(_)
            | CreateError::RedirectUriNotRegistered => 400,
        }
    }
}

impl WireError for crate::verifier::IdentityError {
    fn code(&self) -> &'static str {
        use crate::verifier::IdentityError as E;
        match self {
            E::UnknownParty(_) => "access_denied",
            E::NotCertified | E::CertificateExpired(_) => "invalid_request",
            E::Sealed(_) | E::Malformed(_) | E::Crypto => "server_error",
            E::Store(e) => e.code(),
        }
    }
    fn status(&self) -> u16 {
        use crate::verifier::IdentityError as E;
        match self {
            E::UnknownParty(_) => 403,
            E::NotCertified | E::CertificateExpired(_) => 409,
            E::Sealed(_) | E::Malformed(_) | E::Crypto => 500,
            E::Store(e) => e.status(),
        }
    }
}

/// An uploaded certificate chain that breaks a rule: 400 naming it.
impl WireError for crate::verifier::identity::UploadError {
    fn code(&self) -> &'static str {
        use crate::verifier::identity::UploadError as E;
        match self {
            E::Chain(_) => "invalid_request",
            E::Identity(e) => e.code(),
        }
    }
    fn status(&self) -> u16 {
        use crate::verifier::identity::UploadError as E;
        match self {
            E::Chain(_) => 400,
            E::Identity(e) => e.status(),
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

impl WireError for ResultAccessError {
    fn code(&self) -> &'static str {
        match self {
            ResultAccessError::CodeRequired
            | ResultAccessError::WrongCode
            | ResultAccessError::CodeUsed => "access_denied",
            ResultAccessError::NotSameDevice => "invalid_request",
        }
    }
    fn status(&self) -> u16 {
        match self {
            ResultAccessError::CodeRequired
            | ResultAccessError::WrongCode
            | ResultAccessError::CodeUsed => 403,
            ResultAccessError::NotSameDevice => 400,
        }
    }
}

impl WireError for ReadError {
    fn code(&self) -> &'static str {
        match self {
            ReadError::Lookup(e) => e.code(),
            ReadError::Access(e) => e.code(),
        }
    }
    fn status(&self) -> u16 {
        match self {
            ReadError::Lookup(e) => e.status(),
            ReadError::Access(e) => e.status(),
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
