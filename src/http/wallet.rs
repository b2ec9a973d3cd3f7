//! Wallet-facing endpoints: the request URI (GET, and POST for
//! `request_uri_method=post`), the response URI, presentation nonces and
//! by-reference presentation uploads for the holder-shown QR.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::openapi::{ErrorBody, UploadLink};
use super::{ApiError, AppState, WireError, limits};
use crate::verifier::request_object::{MEDIA_TYPE, RequestObjectError};
use crate::verifier::response::{ResponseBody, ResponseError, WalletResponse};
use crate::verifier::scan::{PresentationNonce, Upload, Uploaded};

pub fn configure(cfg: &mut web::ServiceConfig) {
    // One resource per path: a method it has no route for is answered 405
    // with `Allow` (see `super::methods`).
    cfg.service(
        web::resource("/oid4vp/requests/{id}")
            .get(request_object_get)
            .post(request_object_post),
    )
    .service(web::resource("/oid4vp/responses/{id}").post(response))
    .service(limits::resource("/presentation-nonces").post(presentation_nonce))
    .service(limits::resource("/presentations").post(upload))
    .service(web::resource("/p/{id}").get(uploaded));
}

#[utoipa::path(get, path = "/oid4vp/requests/{id}", tag = "wallet",
    operation_id = "request_object",
    summary = "Request URI: the signed request object (OpenID4VP 1.0 §5.7, RFC 9101)",
    description = "What the `request_uri` of the QR's `openid4vp://` link returns. Single use and within the request's 30 seconds: the first fetch opens the response window (2 minutes by default) and the transaction's `retrieved` event; `Cache-Control: no-store`.",
    params(("id" = String, Path, description = "The wallet-facing request id (from `request_uri`)")),
    responses(
        (status = 200, description = "The request object: a JWS (`typ: oauth-authz-req+jwt`) signed by the verifier key (ES256; the leaf certificate in `x5c` for an `x509_hash` Client Identifier, `kid` for `decentralized_identifier`), carrying `aud` (`https://self-issued.me/v2`), `client_id`, `response_type=vp_token`, `response_mode`, `response_uri`, `nonce`, `state`, `dcql_query`, `client_metadata` (with the response encryption key for `direct_post.jwt`), `iat`, `exp`", body = String, content_type = "application/oauth-authz-req+jwt"),
        (status = 400, description = "`invalid_request`: the request has expired (30 seconds), or its request object was already retrieved (single use); its relying party was deleted, or its certificate changed or expired, since the request was made", body = ErrorBody),
        (status = 404, description = "`not_found`: no such request", body = ErrorBody),
        (status = 500, description = "`server_error`", body = ErrorBody),
        (status = 503, description = "`temporarily_unavailable`: the store cannot be reached; the request is not used up, retry", body = ErrorBody, headers(("Retry-After" = u32, description = "Seconds to wait"))),
    ))]
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
/// members (`wallet_metadata` too) are accepted and ignored.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = RequestUriPostForm)]
struct RequestUriPost {
    /// Echoed as `wallet_nonce` in the request object: 1 to 256 of
    /// `A-Z a-z 0-9 - _ . ~ + / =`.
    #[serde(default)]
    #[schema(
        nullable = false,
        min_length = 1,
        max_length = 256,
        pattern = "^[A-Za-z0-9._~+/=-]*$",
        example = "qPmxiNFCR3QTm19POc8u"
    )]
    wallet_nonce: Option<String>,
}

#[utoipa::path(post, path = "/oid4vp/requests/{id}", tag = "wallet",
    operation_id = "request_object_post",
    summary = "Request URI by POST (OpenID4VP 1.0 §5.10, `request_uri_method=post`)",
    description = "As the GET, with the wallet's `wallet_nonce` echoed in the request object; `wallet_metadata` is accepted and ignored; `Cache-Control: no-store`.",
    params(("id" = String, Path, description = "The wallet-facing request id (from `request_uri`)")),
    request_body(content = RequestUriPost, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The request object: a JWS (`typ: oauth-authz-req+jwt`) signed by the verifier key (ES256; the leaf certificate in `x5c` for an `x509_hash` Client Identifier, `kid` for `decentralized_identifier`), carrying `aud` (`https://self-issued.me/v2`), `client_id`, `response_type=vp_token`, `response_mode`, `response_uri`, `nonce`, `state`, `dcql_query`, `client_metadata` (with the response encryption key for `direct_post.jwt`), `iat`, `exp`", body = String, content_type = "application/oauth-authz-req+jwt"),
        (status = 400, description = "`invalid_request`: the request has expired (30 seconds), or its request object was already retrieved (single use); its relying party was deleted, or its certificate changed or expired, since the request was made; `wallet_nonce` malformed; the form body is invalid", body = ErrorBody),
        (status = 404, description = "`not_found`: no such request", body = ErrorBody),
        (status = 500, description = "`server_error`", body = ErrorBody),
        (status = 503, description = "`temporarily_unavailable`: the store cannot be reached; the request is not used up, retry", body = ErrorBody, headers(("Retry-After" = u32, description = "Seconds to wait"))),
    ))]
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

#[utoipa::path(post, path = "/oid4vp/responses/{id}", tag = "wallet",
    operation_id = "authorization_response",
    summary = "Response URI: the wallet's Authorization Response (OpenID4VP 1.0 §8.2 `direct_post`, §8.3.1 `direct_post.jwt`)",
    description = "The `response_uri` of the request object (its id is not the request URI's: only the request object discloses it). One response per request, within the response window that fetching the request object opened. `direct_post`: `vp_token` and `state`; `direct_post.jwt`: `response`, a JWE of them (a plain `vp_token` is refused: no downgrade). An error response (`error`, `error_description`, `state`; §8.5) may come unencrypted in either mode. Only a response that shows the request object was known — a JWE that decrypts with the request's key, or the request's `state` — changes the transaction: a valid one makes it `verified`; an invalid one `failed` (with 400); a wallet error `failed` with the wallet's code (with 200). Any other response gets a 400 and leaves the transaction pending. Same-device requests (created with `redirect_uri`): a processed answer, valid or the wallet's error response, gets `{\"redirect_uri\": \"<uri>#response_code=<code>\"}` for the wallet to open (§8.2); a refused one gets the 400 without a redirect. Cross-device requests get `{}`; `Cache-Control: no-store`.",
    params(("id" = String, Path, description = "The response id (from the request object's `response_uri`)")),
    request_body(content = WalletResponse, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Accepted: `{}`, or `{redirect_uri}` for a same-device request", body = ResponseBody),
        (status = 400, description = "`invalid_request`. Nothing changes when: no request waits at this response URI (unknown, deleted, its relying party deleted, or its retention is over), a response was already received, the request object was not retrieved yet, the response window closed, an unencrypted response without the request's `state` or with another one, a JWE that is not a compact JWE for this request's key (`alg`, `enc`, `kid`, compression) or does not decrypt with it. The transaction turns `failed` when: the decrypted payload is not a JSON object or its `state` is wrong, a plain response with the right `state` to a `direct_post.jwt` request or an encrypted one to a `direct_post` request, neither `vp_token` nor `error`, malformed `vp_token`, several presentations for a query without `multiple`, queries unanswered or `credential_sets` unmet, a presentation that does not verify (signature, issuer trust, status, KB-JWT `aud`/`nonce`/`sd_hash`, requested claims or values). Also the invalid form body", body = ErrorBody),
        (status = 500, description = "`server_error`", body = ErrorBody),
    ))]
async fn response(
    state: web::Data<AppState>,
    id: web::Path<String>,
    form: web::Form<WalletResponse>,
) -> Result<HttpResponse, ApiError> {
    let outcome = state
        .verifier
        .respond(&id, form.into_inner(), state.now())
        .await;
    // Counted when the transaction ends here; a call that changes nothing
    // (unknown, replayed, expired, not fetched, not from the holder of the
    // request object) is not a verification.
    use crate::verifier::response::{Accepted, Responded};
    let kind = "oid4vp_response";
    match &outcome {
        Ok(Responded {
            accepted: Accepted::Verified,
            ..
        }) => state.metrics.verified(kind, "verified"),
        Ok(Responded {
            accepted: Accepted::WalletError,
            ..
        }) => state.metrics.verified(kind, "wallet_error"),
        Err(e) if e.fails_transaction() => state.metrics.verified(kind, "failed"),
        Err(_) => {}
    }
    account(&state, &id, &outcome).await;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(outcome?.body))
}

/// Counts a response that ended its transaction for the transaction's
/// relying party and adds it to the party's audit trail.
async fn account(
    state: &AppState,
    response_id: &str,
    outcome: &Result<crate::verifier::response::Responded, ResponseError>,
) {
    use crate::parties::audit::{AuditEntry, AuditKind, FailureReason};
    use crate::verifier::parties::failure_reason;
    use crate::verifier::response::{Accepted, Responded};
    use crate::verifier::transaction::Outcome;
    let now = state.now();
    let (tx, reason) = match outcome {
        Ok(Responded {
            accepted,
            transaction,
            ..
        }) => (
            transaction.clone(),
            match accepted {
                Accepted::Verified => None,
                Accepted::WalletError => Some(FailureReason::WalletError),
            },
        ),
        Err(e) => match failure_reason(e) {
            // The transaction is failed now; find out whose it is.
            Some(r) => match state
                .verifier
                .transaction_at_response(response_id, now)
                .await
            {
                Ok(tx) => (tx, Some(r)),
                Err(_) => return,
            },
            None => return,
        },
    };
    let code = match tx.outcome() {
        Some(Outcome::Failed { code, .. }) => code.as_str(),
        _ => "invalid_request",
    };
    let party = crate::parties::PartyId::parse(&tx.party).unwrap_or_default();
    state.metrics.party_outcome(&party, reason);
    let entry = AuditEntry::new(now, &tx.id.0, AuditKind::Request, reason.map(|r| (code, r)));
    state.parties.record(&tx.party, now, entry).await;
}

#[utoipa::path(post, path = "/presentation-nonces", tag = "wallet",
    operation_id = "presentation_nonce",
    summary = "A presentation nonce for a holder-shown QR code",
    description = "The wallet signs its KB-JWT with this `nonce` and `aud` = `audience` and shows the presentation as a QR (by value, or as a `/p/{id}` link from `POST /presentations`). Lives 30 seconds and is taken by the first scan, so a screenshot is worthless after either; `Cache-Control: no-store`; rate limited.",
    responses(
        (status = 200, description = "A fresh nonce", body = PresentationNonce),
        (status = 400, description = "`invalid_request`: a body that cannot be read (over 256 KiB or cut off); any other body is ignored", body = ErrorBody),
        (status = 429, description = "`rate_limited`", body = ErrorBody, headers(("Retry-After" = u32, description = "Seconds to wait"))),
        (status = 500, description = "`server_error`", body = ErrorBody),
    ))]
async fn presentation_nonce(
    state: web::Data<AppState>,
    _body: super::IgnoredBody,
) -> Result<HttpResponse, ApiError> {
    let n = state.verifier.presentation_nonce(state.now()).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(n))
}

#[utoipa::path(post, path = "/presentations", tag = "wallet",
    operation_id = "upload_presentation",
    summary = "Upload a presentation too large for a QR code",
    description = "For a holder-shown QR by reference: one upload per presentation nonce; the returned `/p/{id}` link lives as long as the nonce and can be scanned (`POST /verifier/scan`) once; `Cache-Control: no-store`; rate limited.",
    request_body(content = Upload, content_type = "application/json"),
    responses(
        (status = 200, description = "The link the QR carries", body = Uploaded),
        (status = 400, description = "`invalid_request`: invalid JSON or an unknown member, `presentation` empty or over 64 KiB, its KB-JWT `nonce` is not a live presentation nonce, or a presentation was already uploaded with this nonce", body = ErrorBody),
        (status = 429, description = "`rate_limited`", body = ErrorBody, headers(("Retry-After" = u32, description = "Seconds to wait"))),
        (status = 500, description = "`server_error`", body = ErrorBody),
    ))]
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
#[utoipa::path(get, path = "/p/{id}", tag = "wallet",
    operation_id = "uploaded_presentation",
    summary = "The holder short link of an uploaded presentation",
    description = "Meant for `POST /verifier/scan`, not for browsers: opening it says what it is without revealing or consuming the presentation.",
    params(("id" = String, Path, description = "Upload id")),
    responses(
        (status = 200, description = "`{description}`", body = UploadLink),
        (status = 404, description = "`not_found`: no such presentation (expired or already scanned)", body = ErrorBody),
        (status = 500, description = "`server_error`", body = ErrorBody),
    ))]
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
            RequestObjectError::Signing | RequestObjectError::PartyKey(_) => "server_error",
            RequestObjectError::Identity => "invalid_request",
            RequestObjectError::Store(e) => e.code(),
        }
    }
    fn status(&self) -> u16 {
        match self {
            RequestObjectError::UnknownRequest => 404,
            RequestObjectError::Expired
            | RequestObjectError::AlreadyRetrieved
            | RequestObjectError::BadWalletNonce => 400,
            RequestObjectError::Signing | RequestObjectError::PartyKey(_) => 500,
            RequestObjectError::Identity => 400,
            RequestObjectError::Store(e) => e.status(),
        }
    }
}

impl WireError for ResponseError {
    fn code(&self) -> &'static str {
        match self {
            ResponseError::Store(_) => "server_error",
            ResponseError::UnknownRequest
            | ResponseError::Replay
            | ResponseError::NotRetrieved
            | ResponseError::Expired
            | ResponseError::MissingState
            | ResponseError::WrongState
            | ResponseError::Jwe(_)
            | ResponseError::EncryptedWrongState
            | ResponseError::PlainToEncrypted
            | ResponseError::UnexpectedEncryption
            | ResponseError::Empty
            | ResponseError::VpTokenShape
            | ResponseError::NotMultiple(_)
            | ResponseError::Match(_)
            | ResponseError::Presentation { .. } => "invalid_request",
        }
    }
    fn status(&self) -> u16 {
        match self {
            ResponseError::Store(_) => 503,
            ResponseError::UnknownRequest
            | ResponseError::Replay
            | ResponseError::NotRetrieved
            | ResponseError::Expired
            | ResponseError::MissingState
            | ResponseError::WrongState
            | ResponseError::Jwe(_)
            | ResponseError::EncryptedWrongState
            | ResponseError::PlainToEncrypted
            | ResponseError::UnexpectedEncryption
            | ResponseError::Empty
            | ResponseError::VpTokenShape
            | ResponseError::NotMultiple(_)
            | ResponseError::Match(_)
            | ResponseError::Presentation { .. } => 400,
        }
    }
}
