//! Wallet-facing issuer routes (OpenID4VCI 1.0, RFC 8414, RFC 9126, Token
//! Status List). Handlers extract, call `crate::issuer`, and shape the
//! response.

use actix_web::http::header::{self, ContentType};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};

use super::openapi::{
    AuthorizationServerMetadata, CredentialConfigurationId, CredentialIssuerMetadata,
    CredentialOffer, ErrorBody, JwtVcIssuerMetadata, TypeMetadata,
};
use super::{ApiError, AppState, limits};
use crate::config::SignIn;
use crate::issuer::authorize::{self, AuthorizationParams};
use crate::issuer::{
    Ctx, client_auth,
    credential::{self, CredentialError, CredentialRequest, CredentialResponse, Presented, Scheme},
    metadata,
    nonce::{self, NonceResponse},
    notification::{self, NotificationError, NotificationRequest},
    offer,
    par::{self, PushedRequest},
    token::{self, TokenError, TokenRequest, TokenResponse},
};
use crate::registry::SubjectId;

/// The issuer's routes; the authorization-code flow's only with a sign-in
/// (`/authorize/login` is the demo's pick-your-record step).
pub fn configure(cfg: &mut web::ServiceConfig, sign_in: Option<SignIn>) {
    // One resource per path: a method it has no route for is answered 405
    // with `Allow` (see `super::methods`).
    cfg.service(
        web::resource("/.well-known/openid-credential-issuer{tail:.*}").get(credential_issuer),
    )
    .service(
        web::resource("/.well-known/oauth-authorization-server{tail:.*}").get(authorization_server),
    )
    .service(web::resource("/.well-known/jwt-vc-issuer{tail:.*}").get(jwt_vc_issuer))
    .service(web::resource("/type-metadata/{id}").get(type_metadata))
    .service(web::resource("/credential-offer/{id}").get(credential_offer))
    .service(limits::resource("/token").post(token))
    .service(limits::resource("/nonce").post(nonce))
    .service(web::resource("/challenge").post(challenge))
    .service(web::resource("/credential").post(credential))
    .service(web::resource("/notification").post(notification))
    .service(web::resource("/status-lists/{id}").get(status_list));
    match sign_in {
        None => {}
        Some(SignIn::Demo) => {
            cfg.service(limits::resource("/par").post(par))
                .service(limits::resource("/authorize").get(authorize_page))
                .service(limits::resource("/authorize/login").post(login))
                .service(web::resource("/authorize/consent").post(consent));
            // Documented with every sign-in; without a provider it answers
            // 404 `not_found` (and 405 to other methods, like any route).
            super::signin::configure_callback(cfg);
        }
        Some(SignIn::Oidc) => {
            cfg.service(limits::resource("/par").post(par))
                .service(web::resource("/authorize/consent").post(consent));
            super::signin::configure(cfg);
        }
    }
}

impl AppState {
    /// The issuer's view of this state at the current time.
    pub fn issuer(&self) -> Ctx<'_> {
        Ctx {
            settings: &self.settings,
            keys: &self.keys,
            store: &*self.store,
            registry: &*self.registry,
            status: &self.status,
            status_tokens: &self.status_tokens,
            wallet_providers: &self.wallet_providers,
            now: self.now(),
        }
    }
}

/// The values of every `DPoP` header (RFC 9449 §4.1); one that is not
/// visible ASCII is kept as `""`, which no proof check accepts.
fn dpop_proofs(req: &HttpRequest) -> Vec<&str> {
    req.headers()
        .get_all("dpop")
        .map(|v| v.to_str().unwrap_or(""))
        .collect()
}

/// The values of every `OAuth-Client-Attestation` and
/// `OAuth-Client-Attestation-PoP` header
/// (draft-ietf-oauth-attestation-based-client-auth §4, §4.1); one that is
/// not visible ASCII is kept as `""`, which no check accepts.
fn attestation_headers(req: &HttpRequest) -> (Vec<&str>, Vec<&str>) {
    let all = |name| {
        req.headers()
            .get_all(name)
            .map(|v| v.to_str().unwrap_or(""))
            .collect()
    };
    (
        all(client_auth::ATTESTATION_HEADER),
        all(client_auth::POP_HEADER),
    )
}

/// `resp` with a fresh challenge in `OAuth-Client-Attestation-Challenge`
/// (draft §5.2).
fn with_attestation_challenge(state: &AppState, mut resp: HttpResponse) -> HttpResponse {
    let challenge = nonce::attestation_challenge(&state.issuer());
    if let Ok(v) = header::HeaderValue::from_str(&challenge) {
        resp.headers_mut().insert(
            header::HeaderName::from_static(client_auth::CHALLENGE_HEADER),
            v,
        );
    }
    resp
}

/// `Authorization: Bearer <token>` or `Authorization: DPoP <token>`.
fn access_token(req: &HttpRequest) -> Option<(Scheme, &str)> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let scheme = if scheme.eq_ignore_ascii_case("bearer") {
        Scheme::Bearer
    } else if scheme.eq_ignore_ascii_case("dpop") {
        Scheme::Dpop
    } else {
        return None;
    };
    Some((scheme, token.trim())).filter(|(_, t)| !t.is_empty())
}

/// The `DPoP-Nonce` response header (RFC 9449 §8).
const DPOP_NONCE: &str = "dpop-nonce";

/// An error response; a `use_dpop_nonce` one carries a fresh `DPoP-Nonce`
/// (RFC 9449 §8).
fn refusal(state: &AppState, e: impl Into<ApiError>, wants_nonce: bool) -> HttpResponse {
    let mut resp = e.into().error_response();
    if wants_nonce {
        if let Ok(v) = header::HeaderValue::from_str(&nonce::dpop_nonce(&state.issuer())) {
            resp.headers_mut()
                .insert(header::HeaderName::from_static(DPOP_NONCE), v);
        }
    }
    resp
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

#[utoipa::path(get, path = "/.well-known/openid-credential-issuer", tag = "issuer",
    summary = "Credential Issuer Metadata (OpenID4VCI 1.0 §12.2)",
    description = "With a path in the public URL it is served at `/.well-known/openid-credential-issuer<path>` (RFC 8615 path insertion, OpenID4VCI 1.0 §12.2.2). Signed metadata (OpenID4VCI 1.0 §12.2.3) when the issuer has a certificate chain and `Accept` prefers `application/jwt` to `application/json`: a JWT with `typ: openidvci-issuer-metadata+jwt`, `kid` and the issuer's `x5c` chain (leaf first, no root) in its header, and `iss` and `sub` (the Credential Issuer Identifier), `iat` and every parameter of the JSON document in its payload. Ask with `Accept: application/jwt, application/json`; responses carry `Vary: Accept`.",
    responses(
        (status = 200, description = "The metadata: JSON, or the signed JWT", content(
            (CredentialIssuerMetadata = "application/json"),
            (String = "application/jwt"),
        )),
        (status = 404, description = "`not_found`: a path after the well-known name that is not this issuer's", body = ErrorBody),
    ))]
async fn credential_issuer(
    state: web::Data<AppState>,
    tail: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    use crate::issuer::signed_metadata as signed;
    if !metadata::well_known_tail_matches(&state.settings.public_url, &tail) {
        return Err(ApiError::not_found("no such well-known document"));
    }
    let ctx = state.issuer();
    let doc = metadata::credential_issuer(&ctx);
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    let jwt = state
        .signed_metadata
        .for_accept(&ctx.keys.issuer_es256, &doc, accept, ctx.now)
        .map_err(ApiError::internal)?;
    let mut resp = HttpResponse::Ok();
    resp.insert_header((header::VARY, "Accept"));
    Ok(match jwt {
        Some(jwt) => resp.content_type(signed::MEDIA_TYPE).body(jwt.to_string()),
        None => resp.json(doc),
    })
}

#[utoipa::path(get, path = "/.well-known/oauth-authorization-server", tag = "issuer",
    summary = "Authorization Server Metadata (RFC 8414 §3, OpenID4VCI 1.0 §12.3)",
    description = "With a path in the public URL it is served at `/.well-known/oauth-authorization-server<path>` (RFC 8414 §3.1 path insertion).",
    responses(
        (status = 200, description = "The metadata", body = AuthorizationServerMetadata),
        (status = 404, description = "`not_found`: a path after the well-known name that is not this issuer's", body = ErrorBody),
    ))]
async fn authorization_server(
    state: web::Data<AppState>,
    tail: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    well_known(&state, &tail, metadata::authorization_server)
}

#[utoipa::path(get, path = "/.well-known/jwt-vc-issuer", tag = "issuer",
    summary = "JWT VC Issuer Metadata (SD-JWT VC §5)",
    description = "The issuer's public keys for verifying SD-JWT VCs; with a path in the public URL it is served at `/.well-known/jwt-vc-issuer<path>` (SD-JWT VC §5.1).",
    responses(
        (status = 200, description = "`{issuer, jwks}`", body = JwtVcIssuerMetadata),
        (status = 404, description = "`not_found`: a path after the well-known name that is not this issuer's", body = ErrorBody),
    ))]
async fn jwt_vc_issuer(
    state: web::Data<AppState>,
    tail: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    well_known(&state, &tail, metadata::jwt_vc_issuer)
}

/// SD-JWT VC Type Metadata; the bytes `vct#integrity` covers.
#[utoipa::path(get, path = "/type-metadata/{id}", tag = "issuer",
    summary = "SD-JWT VC Type Metadata of one credential configuration (SD-JWT VC §6)",
    description = "The exact bytes `vct#integrity` in issued credentials covers; the configuration's `type_metadata_uri` points here.",
    params(("id" = CredentialConfigurationId, Path, description = "Credential configuration id", example = "ru.passport")),
    responses(
        (status = 200, description = "The Type Metadata document", body = TypeMetadata),
        (status = 404, description = "`not_found`: no such credential configuration", body = ErrorBody),
    ))]
async fn type_metadata(id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let bytes = metadata::type_metadata(&id)
        .ok_or_else(|| ApiError::not_found("no such credential type"))?;
    Ok(HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(bytes))
}

#[utoipa::path(get, path = "/credential-offer/{id}", tag = "issuer",
    summary = "Credential Offer by reference (OpenID4VCI 1.0 §4.1.3)",
    description = "What `credential_offer_uri` returns while the offer is live (`Cache-Control: no-store`); gone once its pre-authorized code is redeemed.",
    params(("id" = String, Path, description = "Offer id (`offer_id`)")),
    responses(
        (status = 200, description = "The Credential Offer", body = CredentialOffer),
        (status = 404, description = "`not_found`: no such offer, or it has expired or been redeemed", body = ErrorBody),
        (status = 500, description = "`server_error`", body = ErrorBody),
    ))]
async fn credential_offer(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let offer = offer::get(&state.issuer(), &id).await?;
    Ok(no_store(HttpResponse::Ok().json(offer.credential_offer)))
}

#[utoipa::path(post, path = "/token", tag = "issuer",
    summary = "Token endpoint (OpenID4VCI 1.0 §6, RFC 6749 §4.1.3 and §5)",
    description = "Pre-authorized code grant with `tx_code` (anonymous access allowed) or, when citizens can sign in (`--demo`), authorization code grant with PKCE S256. Wallets authenticate by attestation (`OAuth-Client-Attestation` + `OAuth-Client-Attestation-PoP`, `attest_jwt_client_auth`) when wallet providers are configured, and must under `--profile haip`; otherwise they are public clients. A code pushed through `/par` by an attested wallet is redeemed only with an attestation of the same instance key. With `authorization_details` (either grant) the token covers the configurations named and the response lists their `credential_identifiers` (OpenID4VCI 1.0 §6). With a `DPoP` proof the access token is bound to its key (`token_type: DPoP`, RFC 9449 §5); under `--profile haip` the proof is required.",
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    params(("DPoP" = Option<String>, Header, description = "A DPoP proof JWT (RFC 9449 §4): `typ: dpop+jwt`, `alg` ES256 (or EdDSA outside HAIP), the public `jwk`, claims `htm: POST`, `htu` this endpoint at the public URL, `iat` within 60 s, a unique `jti` (≤ 256 characters), and `nonce` from a `DPoP-Nonce` header (required under `--profile haip`, checked whenever present)"),
        ("OAuth-Client-Attestation" = Option<String>, Header, description = "The wallet attestation (draft-ietf-oauth-attestation-based-client-auth-10 §3): `typ: oauth-client-attestation+jwt`, signed by a wallet provider whose `x5c` chains to `[attestation] wallet_provider_roots` (leaf first, no CA leaf, valid at `iat`), `sub` = the client id, `exp`, `cnf.jwk` the wallet instance's public key; `alg` ES256 (or EdDSA outside HAIP). Required under `--profile haip`, with the PoP"),
        ("OAuth-Client-Attestation-PoP" = Option<String>, Header, description = "Its proof of possession (§4.1): `typ: oauth-client-attestation-pop+jwt`, signed by the `cnf.jwk` key, claims `aud` = the issuer identifier (the public URL, byte for byte), `iat` within 60 s, a unique `jti` (≤ 256 characters, accepted once), and `challenge` from `POST /challenge` or an `OAuth-Client-Attestation-Challenge` header (required with `[attestation] challenge_required = true`, checked whenever present)")),
    responses(
        (status = 200, description = "Access token (`Cache-Control: no-store`): `token_type` `DPoP` when a proof was sent, else `Bearer`", body = TokenResponse),
        (status = 400, description = "`invalid_dpop_proof` (the DPoP proof breaks a rule of RFC 9449 §4.3, named in the description: also a replayed `jti`, or no proof under `--profile haip`), `use_dpop_nonce` (a nonce is required or the one sent is unknown or expired; a fresh one is in the `DPoP-Nonce` header), `invalid_request` (a parameter is missing or malformed, unexpected or missing `tx_code`), `unsupported_grant_type` (also `authorization_code` when no sign-in is configured), `invalid_grant` (code unknown, used or expired; wrong `tx_code`, burnt after too many tries; client, `redirect_uri` or PKCE mismatch), `invalid_authorization_details` (`authorization_details` malformed or naming a configuration the offer or authorization does not cover; a pre-authorized code stays usable), `use_attestation_challenge` (the client attestation PoP has no challenge while `[attestation] challenge_required = true`, or an unknown or expired one; a fresh one is in the `OAuth-Client-Attestation-Challenge` header), `use_fresh_attestation` (the wallet attestation has expired)", body = ErrorBody, headers(("DPoP-Nonce" = String, description = "With `use_dpop_nonce`: the nonce to retry with"), ("OAuth-Client-Attestation-Challenge" = String, description = "With `use_attestation_challenge`: the challenge to retry with"))),
        (status = 401, description = "`invalid_client`: a client secret or assertion sent (`WWW-Authenticate: Basic`), `client_id` missing in the authorization code grant (`WWW-Authenticate: Basic`), or the client attestation failed, the step named in the description: missing (under `--profile haip`), untrusted wallet provider, `sub` not the `client_id`, PoP not signed by the attested key, wrong `aud`, stale `iat`, replayed `jti` (`WWW-Authenticate: OAuth-Client-Attestation`)", body = ErrorBody),
        (status = 429, description = "`rate_limited` (`Retry-After`)", body = ErrorBody),
        (status = 500, description = "`server_error`", body = ErrorBody),
    ))]
async fn token(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<TokenRequest>,
) -> Result<HttpResponse, ApiError> {
    let authorization = req.headers().contains_key(header::AUTHORIZATION);
    let (attestation, pop) = attestation_headers(&req);
    let presented = client_auth::Presented {
        attestation: &attestation,
        pop: &pop,
    };
    let proofs = dpop_proofs(&req);
    let ctx = state.issuer();
    match token::token(&ctx, form.into_inner(), authorization, presented, &proofs).await {
        Ok(resp) => Ok(no_store(HttpResponse::Ok().json(resp))),
        Err(TokenError::Client(e)) if e.wants_challenge() => Ok(with_attestation_challenge(
            &state,
            ApiError::from(e).error_response(),
        )),
        Err(e) => {
            let wants = matches!(&e, TokenError::Dpop(d) if d.wants_nonce());
            Ok(refusal(&state, e, wants))
        }
    }
}

#[utoipa::path(post, path = "/nonce", tag = "issuer",
    summary = "Nonce endpoint (OpenID4VCI 1.0 §7)",
    description = "A fresh single-use `c_nonce` for key proofs, valid 5 minutes (`Cache-Control: no-store`), and a fresh DPoP nonce in the `DPoP-Nonce` header (RFC 9449 §8; accepted 5 minutes, not single use); rate limited.",
    responses(
        (status = 200, description = "A fresh `c_nonce`", body = NonceResponse, headers(("DPoP-Nonce" = String, description = "A DPoP nonce for the `nonce` claim of DPoP proofs"))),
        (status = 400, description = "`invalid_request`: a body that cannot be read (over 256 KiB or cut off); any other body is ignored", body = ErrorBody),
        (status = 429, description = "`rate_limited` (`Retry-After`)", body = ErrorBody),
    ))]
async fn nonce(
    state: web::Data<AppState>,
    // A Nonce Request has none (OpenID4VCI 1.0 §7.1); one sent is read.
    _body: super::IgnoredBody,
) -> HttpResponse {
    let ctx = state.issuer();
    let mut resp = no_store(HttpResponse::Ok().json(nonce::issue(&ctx)));
    if let Ok(v) = header::HeaderValue::from_str(&nonce::dpop_nonce(&ctx)) {
        resp.headers_mut()
            .insert(header::HeaderName::from_static(DPOP_NONCE), v);
    }
    resp
}

#[utoipa::path(post, path = "/credential", tag = "issuer",
    summary = "Credential endpoint (OpenID4VCI 1.0 §8)",
    description = "One SD-JWT VC (`dc+sd-jwt`) per key proof in `proofs.jwt`; needs the access token from `/token`: `Authorization: Bearer <access token>`, or for a DPoP-bound token `Authorization: DPoP <access token>` with a `DPoP` proof by the key it is bound to (RFC 9449 §7).",
    request_body(content = CredentialRequest, content_type = "application/json"),
    params(("DPoP" = Option<String>, Header, description = "A DPoP proof JWT (RFC 9449 §4): `typ: dpop+jwt`, `alg` ES256 (or EdDSA outside HAIP), the public `jwk`, claims `htm: POST`, `htu` this endpoint at the public URL, `iat` within 60 s, a unique `jti` (≤ 256 characters), `ath` = base64url(SHA-256(access token)), and `nonce` from a `DPoP-Nonce` header (required under `--profile haip`, checked whenever present)")),
    security(("access_token" = [])),
    responses(
        (status = 200, description = "The credentials (`Cache-Control: no-store`)", body = CredentialResponse),
        (status = 400, description = "`invalid_credential_request` (not a Credential Request, identifier choice, singular `proof`, malformed `proofs`, batch too large), `invalid_encryption_parameters`, `unknown_credential_configuration`, `unknown_credential_identifier`, `invalid_proof`, `invalid_nonce`, `credential_request_denied` (the registry does not allow issuing it, or the document expired)", body = ErrorBody),
        (status = 401, description = "`invalid_token`: access token missing, unknown or expired (`WWW-Authenticate: Bearer`), a DPoP-bound token sent as `Bearer` or a bearer token sent as `DPoP` (`WWW-Authenticate: DPoP error=\"invalid_token\", algs=…`); `invalid_dpop_proof`: the DPoP proof of a DPoP-bound token is missing, breaks a rule (`htm`, `htu`, `iat`, `ath`, replayed `jti`) or is signed by another key than the token's `cnf.jkt`; `use_dpop_nonce`: a nonce is required or stale (`WWW-Authenticate: DPoP error=…, algs=…`, and a fresh `DPoP-Nonce`)", body = ErrorBody, headers(("WWW-Authenticate" = String, description = "`Bearer …` or `DPoP error=\"…\", error_description=\"…\", algs=\"ES256\"`"), ("DPoP-Nonce" = String, description = "With `use_dpop_nonce`: the nonce to retry with"))),
        (status = 403, description = "`insufficient_scope`: the access token does not cover this configuration (`WWW-Authenticate: Bearer`)", body = ErrorBody),
        (status = 500, description = "`server_error`", body = ErrorBody),
    ))]
async fn credential(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let proofs = dpop_proofs(&req);
    let presented = Presented {
        authorization: access_token(&req),
        dpop: &proofs,
        path: "/credential",
    };
    let resp = match credential::issue(&state.issuer(), presented, &body).await {
        Ok(resp) => resp,
        Err(e) => {
            let wants = matches!(&e, CredentialError::Dpop { error, .. } if error.wants_nonce());
            return Ok(refusal(&state, e, wants));
        }
    };
    state
        .metrics
        .issued(resp.configuration, resp.credentials.len() as u64);
    Ok(no_store(HttpResponse::Ok().json(resp)))
}

#[utoipa::path(post, path = "/notification", tag = "issuer",
    summary = "Notification endpoint (OpenID4VCI 1.0 §11)",
    description = "The wallet reports what it did with the credentials of one Credential Response; needs the access token they were issued with (a DPoP-bound one as `Authorization: DPoP` with a `DPoP` proof, as at `/credential`).",
    request_body(content = NotificationRequest, content_type = "application/json"),
    params(("DPoP" = Option<String>, Header, description = "A DPoP proof JWT (RFC 9449 §4): `typ: dpop+jwt`, `alg` ES256 (or EdDSA outside HAIP), the public `jwk`, claims `htm: POST`, `htu` this endpoint at the public URL, `iat` within 60 s, a unique `jti` (≤ 256 characters), `ath` = base64url(SHA-256(access token)), and `nonce` from a `DPoP-Nonce` header (required under `--profile haip`, checked whenever present)")),
    security(("access_token" = [])),
    responses(
        (status = 204, description = "Recorded"),
        (status = 400, description = "`invalid_notification_request` (not a Notification Request), `invalid_notification_id` (unknown, or of another authorization)", body = ErrorBody),
        (status = 401, description = "`invalid_token`: access token missing, unknown or expired (`WWW-Authenticate: Bearer`), or sent with the wrong scheme for its binding; `invalid_dpop_proof` / `use_dpop_nonce`: as at `/credential` (`WWW-Authenticate: DPoP …`)", body = ErrorBody, headers(("WWW-Authenticate" = String, description = "`Bearer …` or `DPoP error=\"…\", error_description=\"…\", algs=\"ES256\"`"), ("DPoP-Nonce" = String, description = "With `use_dpop_nonce`: the nonce to retry with"))),
        (status = 500, description = "`server_error`", body = ErrorBody),
    ))]
async fn notification(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let proofs = dpop_proofs(&req);
    let presented = Presented {
        authorization: access_token(&req),
        dpop: &proofs,
        path: "/notification",
    };
    match notification::notify(&state.issuer(), presented, &body).await {
        Ok(()) => Ok(HttpResponse::NoContent().finish()),
        Err(e) => {
            let wants = matches!(
                &e,
                NotificationError::Token(CredentialError::Dpop { error, .. }) if error.wants_nonce()
            );
            Ok(refusal(&state, e, wants))
        }
    }
}

/// `statuslist+jwt`, cacheable for what is left of its `ttl`.
#[utoipa::path(get, path = "/status-lists/{id}", tag = "issuer",
    summary = "Status List Token (Token Status List §5.1)",
    description = "The signed list credentials reference in `status.status_list.uri`. A node signs a list at most once per `ttl` and serves that token until its `ttl` is over, with `Cache-Control: public, max-age=<seconds left of the ttl>`; a status change shows at once on the node that made it and on every node within `ttl` seconds.",
    params(("id" = u32, Path, description = "Status list id")),
    responses(
        (status = 200, description = "`statuslist+jwt` with `sub`, `iat`, `exp`, `ttl` and `status_list {bits: 2, lst}`", body = String, content_type = "application/statuslist+jwt"),
        (status = 400, description = "`invalid_request`: the id is not a number", body = ErrorBody),
        (status = 404, description = "`not_found`: no such status list", body = ErrorBody),
        (status = 500, description = "`server_error`", body = ErrorBody),
    ))]
async fn status_list(
    state: web::Data<AppState>,
    id: web::Path<u32>,
) -> Result<HttpResponse, ApiError> {
    let ctx = state.issuer();
    let uri = ctx.url(&format!("/status-lists/{id}"));
    let ttl = ctx.settings.issuer.status_list_ttl;
    let t = ctx
        .status_tokens
        .get_or_sign(ctx.store, &ctx.keys.issuer_es256, *id, &uri, ttl, ctx.now)
        .await?;
    let max_age = t.max_age(ctx.now);
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/statuslist+jwt"))
        .insert_header((header::CACHE_CONTROL, format!("public, max-age={max_age}")))
        .body(t.jwt))
}

#[utoipa::path(post, path = "/par", tag = "issuer",
    summary = "Pushed Authorization Request (RFC 9126 §2)",
    description = "Only when citizens can sign in (`--demo`). Authenticates the wallet by attestation as `/token` does (required under `--profile haip`, HAIP 1.0 §4.2; `client_id`, when sent, must be the attestation's `sub`, and is taken from it otherwise), validates the authorization request as `GET /authorize` would (a registered `client_id` and one of its redirect URIs, exact match: an attested client must be registered too) and returns a single-use `request_uri` valid 60 seconds; the code it leads to is bound to the attested wallet instance. Rate limited.",
    request_body(content = AuthorizationParams, content_type = "application/x-www-form-urlencoded"),
    params(("OAuth-Client-Attestation" = Option<String>, Header, description = "The wallet attestation (draft-ietf-oauth-attestation-based-client-auth-10 §3): `typ: oauth-client-attestation+jwt`, signed by a wallet provider whose `x5c` chains to `[attestation] wallet_provider_roots` (leaf first, no CA leaf, valid at `iat`), `sub` = the client id, `exp`, `cnf.jwk` the wallet instance's public key; `alg` ES256 (or EdDSA outside HAIP). Required under `--profile haip`, with the PoP"),
        ("OAuth-Client-Attestation-PoP" = Option<String>, Header, description = "Its proof of possession (§4.1): `typ: oauth-client-attestation-pop+jwt`, signed by the `cnf.jwk` key, claims `aud` = the issuer identifier (the public URL, byte for byte), `iat` within 60 s, a unique `jti` (≤ 256 characters, accepted once), and `challenge` from `POST /challenge` or an `OAuth-Client-Attestation-Challenge` header (required with `[attestation] challenge_required = true`, checked whenever present)")),
    responses(
        (status = 201, description = "The `request_uri` (`Cache-Control: no-store`); when attestation is offered, a fresh challenge for the next PoP in `OAuth-Client-Attestation-Challenge`", body = PushedRequest, headers(("OAuth-Client-Attestation-Challenge" = String, description = "A challenge for the PoP at `/token`"))),
        (status = 400, description = "`invalid_client` (`client_id` not registered), `invalid_request` (a parameter is missing or malformed, `redirect_uri` not registered for the client, PKCE S256 missing, unknown `issuer_state`, nested `request_uri`, malformed form), `unsupported_response_type`, `invalid_scope` (no known configuration in `scope`; unknown values are ignored), `invalid_authorization_details`, `use_attestation_challenge` (a fresh challenge in `OAuth-Client-Attestation-Challenge`), `use_fresh_attestation`", body = ErrorBody, headers(("OAuth-Client-Attestation-Challenge" = String, description = "With `use_attestation_challenge`: the challenge to retry with"))),
        (status = 401, description = "`invalid_client`: the client attestation failed, the step named in the description (`WWW-Authenticate: OAuth-Client-Attestation`)", body = ErrorBody),
        (status = 404, description = "`not_found`: the authorization-code flow is off (no citizen sign-in configured; `--demo` turns on the demo login)", body = ErrorBody),
        (status = 429, description = "`rate_limited` (`Retry-After`)", body = ErrorBody),
        (status = 500, description = "`server_error`", body = ErrorBody),
    ))]
async fn par(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<AuthorizationParams>,
) -> Result<HttpResponse, ApiError> {
    let (attestation, pop) = attestation_headers(&req);
    let presented = client_auth::Presented {
        attestation: &attestation,
        pop: &pop,
    };
    let ctx = state.issuer();
    match par::push(&ctx, form.into_inner(), presented).await {
        // The next PoP (at `/token`) can use a challenge from here (§5.2).
        Ok(pushed) if client_auth::offered(&ctx) => Ok(with_attestation_challenge(
            &state,
            no_store(HttpResponse::Created().json(pushed)),
        )),
        Ok(pushed) => Ok(no_store(HttpResponse::Created().json(pushed))),
        Err(authorize::AuthorizeError::Client(e)) if e.wants_challenge() => Ok(
            with_attestation_challenge(&state, ApiError::from(e).error_response()),
        ),
        Err(e) => Err(e.into()),
    }
}

/// `POST /challenge` answer (draft-ietf-oauth-attestation-based-client-auth §5.1).
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ChallengeResponse {
    /// The `challenge` for the next client attestation PoP; accepted 5
    /// minutes, not single use (the PoP's `jti` is).
    pub attestation_challenge: String,
}

#[utoipa::path(post, path = "/challenge", tag = "issuer",
    summary = "Challenge endpoint of attestation-based client authentication (draft-ietf-oauth-attestation-based-client-auth §5.1)",
    description = "Only when the authorization server offers `attest_jwt_client_auth` (`--profile haip`, or `[attestation] wallet_provider_roots` configured; then it is the metadata's `challenge_endpoint`). A fresh challenge for the `challenge` claim of the `OAuth-Client-Attestation-PoP` at `/par` and `/token` (`Cache-Control: no-store`); required there with `[attestation] challenge_required = true`, checked whenever present. The challenge carries its own expiry and MAC: nothing is stored.",
    responses(
        (status = 200, description = "A fresh challenge", body = ChallengeResponse),
        (status = 400, description = "`invalid_request`: a body that cannot be read (over 256 KiB or cut off); any other body is ignored", body = ErrorBody),
        (status = 404, description = "`not_found`: attestation-based client authentication is not offered", body = ErrorBody),
    ))]
async fn challenge(
    state: web::Data<AppState>,
    // A challenge request has no body (§5.1); one sent is read.
    _body: super::IgnoredBody,
) -> Result<HttpResponse, ApiError> {
    let ctx = state.issuer();
    if !client_auth::offered(&ctx) {
        return Err(ApiError::not_found(
            "attestation-based client authentication is not offered",
        ));
    }
    Ok(no_store(HttpResponse::Ok().json(ChallengeResponse {
        attestation_challenge: nonce::attestation_challenge(&ctx),
    })))
}

/// A login, consent or refusal page: never framed (clickjacking), never
/// sniffed as another type, never cached.
pub(super) fn html(status: u16, body: String) -> HttpResponse {
    let status = actix_web::http::StatusCode::from_u16(status)
        .unwrap_or(actix_web::http::StatusCode::BAD_REQUEST);
    no_store(
        HttpResponse::build(status)
            .content_type(ContentType::html())
            .insert_header((header::CONTENT_SECURITY_POLICY, "frame-ancestors 'none'"))
            .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
            .body(body),
    )
}

/// The refusal page; a failure of ours (5xx) shows the generic sentence of
/// the JSON path and logs the cause, never the store's or library's text.
fn error_page(e: authorize::AuthorizeError) -> HttpResponse {
    use super::WireError;
    let (status, code) = (e.status(), e.code());
    let message = match status >= 500 {
        true => ApiError::from(e).description().to_owned(),
        false => e.to_string(),
    };
    html(status, crate::web::authorize::error(&message, code))
}

pub(super) fn see_other(location: String) -> HttpResponse {
    no_store(
        HttpResponse::SeeOther()
            .insert_header((header::LOCATION, location))
            .finish(),
    )
}

pub(super) fn found(location: String) -> HttpResponse {
    no_store(
        HttpResponse::Found()
            .insert_header((header::LOCATION, location))
            .finish(),
    )
}

/// A refusal: the page, or back to the client with `redirect` (302 after
/// a GET, 303 after a POST).
fn refused(r: authorize::Refusal, redirect: fn(String) -> HttpResponse) -> HttpResponse {
    match r {
        authorize::Refusal::Page(e) => error_page(e),
        authorize::Refusal::Redirect { location, .. } => redirect(location),
    }
}

#[utoipa::path(get, path = "/authorize", tag = "issuer",
    summary = "Authorization endpoint: the login page (RFC 6749 §4.1.1, OpenID4VCI 1.0 §5.1)",
    description = "Only when citizens can sign in (`[auth]` or `--demo`). Opens a login session for a direct or pushed (`request_uri`) authorization request of a registered client at one of its redirect URIs (exact match); with `[auth] provider = \"oidc\"` it sends the citizen to the identity provider (303, with the sign-in cookie), in demo mode the citizen picks their registry record. `scope` and `authorization_details` may be combined: the grant covers both (OpenID4VCI 1.0 §5.1.2). A bad client, redirect URI or `request_uri` gets an HTML refusal page naming the error code and never a redirect; once the client and its redirect URI are established, every other refusal goes back to the client (RFC 6749 §4.1.2.1). Pages are sent with `Content-Security-Policy: frame-ancestors 'none'` and `X-Content-Type-Options: nosniff`; rate limited.",
    params(AuthorizationParams),
    responses(
        (status = 200, description = "Login page (demo mode)", body = String, content_type = "text/html"),
        (status = 302, description = "Refused, back to the client: `redirect_uri` with `error` (`unsupported_response_type`, `invalid_request` for missing or malformed PKCE S256 or an unknown `issuer_state`, `invalid_scope`, `invalid_authorization_details`, `server_error`), `error_description`, `state` and `iss` (RFC 9207)", headers(("Location" = String, description = "The wallet's `redirect_uri` with the error response"))),
        (status = 303, description = "To the identity provider's authorization endpoint (`[auth] provider = \"oidc\"`), with `state`, `nonce` and PKCE S256; sets the HttpOnly, SameSite=Lax sign-in cookie (Secure under https)", headers(("Location" = String, description = "The provider's authorization request"), ("Set-Cookie" = String, description = "The sign-in cookie bound to `state`"))),
        (status = 400, description = "Refusal page: `invalid_client` (`client_id` not registered), `invalid_request` (`client_id` missing or malformed, `redirect_uri` missing, malformed or not registered for the client, `request_uri` unknown, used, expired or pushed by another client); or `invalid_request` JSON when the query itself cannot be parsed", content(
            (String = "text/html"),
            (ErrorBody = "application/json"),
        )),
        (status = 404, description = "`not_found`: the authorization-code flow is off (no citizen sign-in configured; `--demo` turns on the demo login)", body = ErrorBody),
        (status = 429, description = "`rate_limited` (`Retry-After`)", body = ErrorBody),
        (status = 502, description = "Refusal page: `temporarily_unavailable` (the identity provider cannot be reached)", body = String, content_type = "text/html"),
        (status = 503, description = "Refusal page: `server_error` (registry or store unavailable)", body = String, content_type = "text/html"),
    ))]
pub(super) async fn authorize_page(
    state: web::Data<AppState>,
    query: web::Query<AuthorizationParams>,
) -> HttpResponse {
    match authorize::begin(&state.issuer(), query.into_inner()).await {
        Ok(login) => html(200, crate::web::authorize::login(&login)),
        Err(r) => refused(r, found),
    }
}

/// The login page's form.
#[derive(serde::Deserialize, utoipa::ToSchema)]
struct LoginForm {
    /// The session id from the login page.
    session: String,
    /// The registry record the citizen picked.
    subject_id: SubjectId,
}

#[utoipa::path(post, path = "/authorize/login", tag = "issuer",
    operation_id = "authorize_login",
    summary = "Authorization endpoint: login step (RFC 6749 §4.1, demo login)",
    description = "Demo mode only (`--demo`). The citizen picked their record: the consent page, or straight back to the wallet with the authorization response (RFC 6749 §4.1.2, `iss` per RFC 9207) when consent was given before; rate limited.",
    request_body(content = LoginForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Consent page", body = String, content_type = "text/html"),
        (status = 303, description = "Consent known: to `redirect_uri` with `code`, `state` and `iss`", headers(("Location" = String, description = "The wallet's `redirect_uri` with the authorization response"))),
        (status = 400, description = "Refusal page: `invalid_request` (session unknown or expired, no such person); or `invalid_request` JSON for a malformed form", content(
            (String = "text/html"),
            (ErrorBody = "application/json"),
        )),
        (status = 403, description = "Refusal page: `access_denied` (identity not proofed, or the offer was made for another person)", body = String, content_type = "text/html"),
        (status = 404, description = "`not_found`: not in demo mode", body = ErrorBody),
        (status = 429, description = "`rate_limited` (`Retry-After`)", body = ErrorBody),
        (status = 503, description = "Refusal page: `server_error` (registry or store unavailable)", body = String, content_type = "text/html"),
    ))]
async fn login(state: web::Data<AppState>, form: web::Form<LoginForm>) -> HttpResponse {
    match authorize::login(&state.issuer(), &form.session, &form.subject_id).await {
        Ok(authorize::AfterLogin::Consent(step)) => {
            html(200, crate::web::authorize::consent(&step))
        }
        Ok(authorize::AfterLogin::Redirect(to)) => see_other(to),
        Err(e) => error_page(e),
    }
}

/// The consent page's form.
#[derive(serde::Deserialize, utoipa::ToSchema)]
struct ConsentForm {
    /// The session id from the consent page.
    session: String,
    decision: Decision,
}

/// The citizen's answer.
#[derive(serde::Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
enum Decision {
    Approve,
    Deny,
}

#[utoipa::path(post, path = "/authorize/consent", tag = "issuer",
    operation_id = "authorize_consent",
    summary = "Authorization endpoint: consent step (RFC 6749 §4.1.2)",
    description = "Only when citizens can sign in (`--demo`). Approve (remembered for this wallet, then an authorization code) or deny (`error=access_denied`, RFC 6749 §4.1.2.1); either way, and on any later failure, back to the wallet with `state` and `iss` (RFC 9207).",
    request_body(content = ConsentForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "To `redirect_uri` with `code`, or with `error` (`access_denied` when denied, `invalid_request` for a session without a chosen person, `server_error`) and `error_description`; always `state` and `iss`", headers(("Location" = String, description = "The wallet's `redirect_uri` with the authorization response"))),
        (status = 400, description = "Refusal page: `invalid_request` (session unknown or expired); or `invalid_request` JSON for a malformed form", content(
            (String = "text/html"),
            (ErrorBody = "application/json"),
        )),
        (status = 404, description = "`not_found`: the authorization-code flow is off (no citizen sign-in configured; `--demo` turns on the demo login)", body = ErrorBody),
        (status = 503, description = "Refusal page: `server_error` (store unavailable while reading the session)", body = String, content_type = "text/html"),
    ))]
async fn consent(state: web::Data<AppState>, form: web::Form<ConsentForm>) -> HttpResponse {
    let approve = form.decision == Decision::Approve;
    match authorize::decide(&state.issuer(), &form.session, approve).await {
        Ok(to) => see_other(to),
        Err(r) => refused(r, see_other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreError;

    #[test]
    fn a_refusal_page_hides_the_text_of_a_failure_of_ours() {
        let secret = "connection to 10.0.0.7:5432 refused for role digital_id";
        let resp = error_page(authorize::AuthorizeError::Store(StoreError::Backend(
            secret.into(),
        )));
        assert!(resp.status().is_server_error());
        let body = actix_web::body::to_bytes(resp.into_body());
        let body = futures_util::FutureExt::now_or_never(body)
            .unwrap()
            .unwrap();
        let page = String::from_utf8(body.to_vec()).unwrap();
        assert!(!page.contains("10.0.0.7"), "{page}");
        assert!(page.contains("server could not complete"), "{page}");
        // A refusal of the request itself still names the rule.
        let resp = error_page(authorize::AuthorizeError::UnknownClient);
        assert_eq!(resp.status(), 400);
        assert_eq!(
            resp.headers().get(header::CONTENT_SECURITY_POLICY).unwrap(),
            "frame-ancestors 'none'"
        );
        let body = actix_web::body::to_bytes(resp.into_body());
        let body = futures_util::FutureExt::now_or_never(body)
            .unwrap()
            .unwrap();
        let page = String::from_utf8(body.to_vec()).unwrap();
        assert!(page.contains("not a registered wallet client"), "{page}");
    }
}
