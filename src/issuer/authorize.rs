//! Authorization code flow (RFC 6749 §4.1, RFC 7636 PKCE S256 required,
//! RFC 9396 `authorization_details` of type `openid_credential` or `scope`,
//! OpenID4VCI §5): validate the request (directly or pushed via PAR), a
//! login — at the upstream OpenID Provider (`super::signin`) or, in demo
//! mode, by picking a registry record — consent once per subject and
//! client, then a single-use authorization code.
//!
//! The steps return data; the pages are rendered by `web::authorize`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::consent;
use super::{Ctx, Grant, new_secret, ns};
use crate::catalogue;
use crate::registry::{IdentityProofing, RegistryError, Subject, SubjectId};
use crate::store::{self, StoreError};

/// How long a login session (from the authorization request to the
/// consent) may take.
pub const SESSION_TTL: i64 = 600;
/// `request_uri` prefix of pushed requests (RFC 9126 §2.2).
pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

/// Authorization request parameters as received (query or PAR form).
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuthorizationParams {
    /// Must be `code`.
    #[schema(nullable = false, example = "code")]
    #[param(nullable = false, example = "code")]
    pub response_type: Option<String>,
    /// The wallet's client id (required; with `request_uri`, the pushing
    /// client's).
    #[schema(nullable = false)]
    #[param(nullable = false)]
    pub client_id: Option<String>,
    /// Absolute https, loopback http or app URI without fragment (required).
    #[schema(nullable = false, example = "https://wallet.example/cb")]
    #[param(nullable = false, example = "https://wallet.example/cb")]
    pub redirect_uri: Option<String>,
    /// Returned unchanged with the authorization response.
    #[schema(nullable = false)]
    #[param(nullable = false)]
    pub state: Option<String>,
    /// Space-separated credential configuration ids; unknown values are
    /// ignored. Honoured beside `authorization_details` (OpenID4VCI 1.0
    /// §5.1.2): the grant covers both.
    #[schema(nullable = false, example = "ru.passport ru.snils")]
    #[param(nullable = false, example = "ru.passport ru.snils")]
    pub scope: Option<String>,
    /// JSON array (RFC 9396 §2) of `{"type": "openid_credential",
    /// "credential_configuration_id": …}`; the token response then names
    /// `credential_identifiers`.
    #[schema(
        nullable = false,
        example = r#"[{"type":"openid_credential","credential_configuration_id":"ru.passport"}]"#
    )]
    #[param(
        nullable = false,
        example = r#"[{"type":"openid_credential","credential_configuration_id":"ru.passport"}]"#
    )]
    pub authorization_details: Option<String>,
    /// base64url(SHA-256(code_verifier)), 43 characters (PKCE is required).
    #[schema(nullable = false)]
    #[param(nullable = false)]
    pub code_challenge: Option<String>,
    /// Must be `S256`.
    #[schema(nullable = false, example = "S256")]
    #[param(nullable = false, example = "S256")]
    pub code_challenge_method: Option<String>,
    /// The `issuer_state` of a Credential Offer: only its subject may log in.
    #[schema(nullable = false)]
    #[param(nullable = false)]
    pub issuer_state: Option<String>,
    /// A `request_uri` from `POST /par` (then only `client_id` is needed);
    /// refused in a pushed request.
    #[schema(nullable = false)]
    #[param(nullable = false)]
    pub request_uri: Option<String>,
}

/// Longest `client_id` accepted, in bytes.
pub const MAX_CLIENT_ID: usize = 255;

/// Whether `client_id` may be used (and so shown on a page or logged): 1 to
/// [`MAX_CLIENT_ID`] characters of RFC 6749 Appendix A.1 `VSCHAR`
/// (`%x20-7E`), so no line break, control or escape sequence reaches a log
/// line. Callers still log it escaped (`?`), as a quoted string.
pub fn client_id_acceptable(client_id: &str) -> bool {
    (1..=MAX_CLIENT_ID).contains(&client_id.len())
        && client_id.bytes().all(|b| (0x20..=0x7E).contains(&b))
}

/// A validated authorization request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub state: Option<String>,
    /// base64url(SHA-256(code_verifier)).
    pub code_challenge: String,
    pub credential_configuration_ids: Vec<String>,
    /// Requested through `authorization_details`: the token response then
    /// carries credential identifiers.
    pub by_authorization_details: bool,
    /// The subject of the offer `issuer_state` names: only they may log in.
    /// (`issuer_state` itself, an offer id, is not kept: it would show the
    /// offer's pre-authorized code.)
    pub offered_subject: Option<SubjectId>,
    /// The RFC 7638 thumbprint of the wallet instance key whose attestation
    /// authenticated the pushed request: the code is that instance's
    /// (draft-ietf-oauth-attestation-based-client-auth §11.5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_instance: Option<String>,
}

/// A login in progress.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    pub request: AuthorizationRequest,
    pub subject_id: Option<SubjectId>,
    /// How the signed-in person's identity was proofed: from the
    /// provider's `amr`/`acr`; `None` before login (and in the demo login,
    /// where the registry record says it).
    #[serde(default)]
    pub identity_proofing: Option<IdentityProofing>,
}

/// A stored authorization code (under its keyed hash, [`Ctx::secret_key`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthorizationCode {
    pub grant: Grant,
    pub redirect_uri: String,
    pub code_challenge: String,
    /// The wallet instance the code is bound to (see
    /// [`AuthorizationRequest::client_instance`]): only a token request
    /// authenticated with that instance's attestation redeems it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_instance: Option<String>,
}

/// The rule an authorization request or login step broke.
#[derive(Debug, thiserror::Error)]
pub enum AuthorizeError {
    #[error("`client_id` is missing")]
    MissingClientId,
    #[error("`client_id` must be 1 to 255 printable ASCII characters (RFC 6749 Appendix A.1)")]
    MalformedClientId,
    #[error("`client_id` is not a registered wallet client")]
    UnknownClient,
    #[error("`redirect_uri` is not one the client registered (exact match)")]
    UnregisteredRedirectUri,
    #[error("`redirect_uri` is missing")]
    MissingRedirectUri,
    #[error("`redirect_uri` must be an absolute https, loopback http or app URI without fragment")]
    BadRedirectUri,
    #[error("`response_type` must be `code`")]
    UnsupportedResponseType,
    #[error("`code_challenge` is missing: PKCE is required")]
    MissingCodeChallenge,
    #[error("`code_challenge_method` must be `S256`")]
    ChallengeMethodNotS256,
    #[error("`code_challenge` must be a base64url SHA-256 (43 characters)")]
    MalformedCodeChallenge,
    #[error("request credentials with `scope` or `authorization_details`")]
    NothingRequested,
    #[error("`scope` names no known credential configuration")]
    UnknownScope,
    #[error(
        "`authorization_details` must be a JSON array of `openid_credential` entries naming known configurations"
    )]
    BadAuthorizationDetails,
    #[error("`issuer_state` names no live credential offer")]
    UnknownIssuerState,
    #[error("`request_uri` is unknown, used or expired")]
    UnknownRequestUri,
    #[error("a pushed request may not itself carry `request_uri`")]
    NestedRequestUri,
    #[error(
        "this server requires pushed authorization requests (HAIP 1.0, RFC 9126 §5): \
         POST the request to /par and send only `client_id` and `request_uri` here"
    )]
    ParRequired,
    #[error("`client_id` differs from the pushed request's")]
    ClientMismatch,
    #[error("the login session is unknown or has expired; start again from the wallet")]
    UnknownSession,
    #[error("no such person in the registry")]
    UnknownSubject,
    #[error("this offer was made for another person")]
    SubjectNotOffered,
    #[error(
        "the identity of this person has not been proofed (biometrics, NFC passport or bank); \
         a digital ID can only be issued after identity proofing"
    )]
    NotProofed,
    #[error("choose a person before consenting")]
    NoSubjectChosen,
    #[error("the citizen declined to issue the credentials to this wallet")]
    ConsentDenied,
    #[error(transparent)]
    Client(#[from] super::client_auth::ClientAuthError),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl crate::http::WireError for AuthorizeError {
    fn code(&self) -> &'static str {
        use AuthorizeError::*;
        match self {
            UnsupportedResponseType => "unsupported_response_type",
            UnknownScope => "invalid_scope",
            BadAuthorizationDetails => "invalid_authorization_details",
            // RFC 6749 §5.2: "unknown client".
            UnknownClient => "invalid_client",
            NotProofed | SubjectNotOffered | ConsentDenied => "access_denied",
            Registry(_) => "server_error",
            Client(e) => e.code(),
            Store(e) => e.code(),
            MissingClientId
            | MalformedClientId
            | UnregisteredRedirectUri
            | MissingRedirectUri
            | BadRedirectUri
            | MissingCodeChallenge
            | ChallengeMethodNotS256
            | MalformedCodeChallenge
            | NothingRequested
            | UnknownIssuerState
            | UnknownRequestUri
            | NestedRequestUri
            | ParRequired
            | ClientMismatch
            | UnknownSession
            | UnknownSubject
            | NoSubjectChosen => "invalid_request",
        }
    }
    fn status(&self) -> u16 {
        use AuthorizeError::*;
        match self {
            NotProofed | SubjectNotOffered | ConsentDenied => 403,
            Registry(_) => 503,
            Client(e) => e.status(),
            Store(e) => e.status(),
            // RFC 6749 §5.2: `invalid_client` "MAY" be 401; 400 here, as a
            // public client sends no credentials to challenge.
            UnknownClient
            | UnsupportedResponseType
            | UnknownScope
            | BadAuthorizationDetails
            | MissingClientId
            | MalformedClientId
            | UnregisteredRedirectUri
            | MissingRedirectUri
            | BadRedirectUri
            | MissingCodeChallenge
            | ChallengeMethodNotS256
            | MalformedCodeChallenge
            | NothingRequested
            | UnknownIssuerState
            | UnknownRequestUri
            | NestedRequestUri
            | ParRequired
            | ClientMismatch
            | UnknownSession
            | UnknownSubject
            | NoSubjectChosen => 400,
        }
    }
    fn challenge(&self) -> Option<String> {
        match self {
            AuthorizeError::Client(e) => e.challenge(),
            _ => None,
        }
    }
}

/// A refused authorization request and where the refusal goes (RFC 6749
/// §4.1.2.1).
#[derive(Debug)]
pub enum Refusal {
    /// The client or its redirect URI is not established (unknown client,
    /// unregistered or malformed `redirect_uri`, unknown `request_uri`):
    /// shown to the user, never redirected.
    Page(AuthorizeError),
    /// Back to the client's registered redirect URI with `error`,
    /// `error_description`, `state` and `iss` (RFC 9207).
    Redirect {
        error: AuthorizeError,
        location: String,
    },
}

impl Refusal {
    /// `error` sent back to the redirect URI of `request`, which was
    /// validated for its client.
    pub fn to_client(ctx: &Ctx<'_>, request: &AuthorizationRequest, error: AuthorizeError) -> Self {
        Self::back(
            ctx,
            &request.client_id,
            &request.redirect_uri,
            request.state.as_deref(),
            error,
        )
    }

    fn back(
        ctx: &Ctx<'_>,
        client_id: &str,
        redirect_uri: &str,
        state: Option<&str>,
        error: AuthorizeError,
    ) -> Self {
        use crate::http::WireError;
        // A failure of ours is logged here and described generically, as
        // on the JSON path and the error page.
        let description = match error.status() >= 500 {
            true => {
                tracing::error!(error = %error, "authorization request failed");
                "the server could not complete the request".to_owned()
            }
            false => crate::http::error::error_description(&error.to_string()),
        };
        tracing::info!(client = ?client_id, error = error.code(), "authorization refused; sent back to the client");
        let location = respond(
            ctx,
            redirect_uri,
            state,
            &[("error", error.code()), ("error_description", &description)],
        );
        Refusal::Redirect { error, location }
    }

    /// The error, wherever it would have gone (`POST /par` answers JSON).
    pub fn into_error(self) -> AuthorizeError {
        match self {
            Refusal::Page(error) | Refusal::Redirect { error, .. } => error,
        }
    }
}

/// Validates authorization request parameters (also those pushed via PAR).
/// Until `client_id` and `redirect_uri` are known good the refusal is a
/// page; every later one goes back to the client (RFC 6749 §4.1.2.1).
pub async fn validate(
    ctx: &Ctx<'_>,
    mut p: AuthorizationParams,
) -> Result<AuthorizationRequest, Refusal> {
    let (client_id, redirect_uri) = client_and_redirect_uri(ctx, &mut p).map_err(Refusal::Page)?;
    let state = p.state.take();
    match checked(ctx, p).await {
        Ok(checked) => Ok(AuthorizationRequest {
            client_id,
            redirect_uri,
            state,
            code_challenge: checked.code_challenge,
            credential_configuration_ids: checked.ids,
            by_authorization_details: checked.by_details,
            offered_subject: checked.offered_subject,
            client_instance: None,
        }),
        Err(e) => Err(Refusal::back(
            ctx,
            &client_id,
            &redirect_uri,
            state.as_deref(),
            e,
        )),
    }
}

/// The registered client and one of its redirect URIs (exact match).
fn client_and_redirect_uri(
    ctx: &Ctx<'_>,
    p: &mut AuthorizationParams,
) -> Result<(String, String), AuthorizeError> {
    let client_id = p.client_id.take().ok_or(AuthorizeError::MissingClientId)?;
    if !client_id_acceptable(&client_id) {
        return Err(AuthorizeError::MalformedClientId);
    }
    // RFC 6749 §4.1.2.1: with an unknown client or a redirect URI it did
    // not register, the error is shown here and never redirected.
    let client = ctx
        .settings
        .client(&client_id)
        .ok_or(AuthorizeError::UnknownClient)?;
    let redirect_uri = p
        .redirect_uri
        .take()
        .ok_or(AuthorizeError::MissingRedirectUri)?;
    if !redirect_uri_acceptable(&redirect_uri) {
        return Err(AuthorizeError::BadRedirectUri);
    }
    if !client.redirect_uris.contains(&redirect_uri) {
        return Err(AuthorizeError::UnregisteredRedirectUri);
    }
    Ok((client_id, redirect_uri))
}

/// The rest of a request whose client and redirect URI are good.
struct Checked {
    code_challenge: String,
    ids: Vec<String>,
    by_details: bool,
    offered_subject: Option<SubjectId>,
}

async fn checked(ctx: &Ctx<'_>, p: AuthorizationParams) -> Result<Checked, AuthorizeError> {
    if p.response_type.as_deref() != Some("code") {
        return Err(AuthorizeError::UnsupportedResponseType);
    }
    let challenge = p
        .code_challenge
        .ok_or(AuthorizeError::MissingCodeChallenge)?;
    if p.code_challenge_method.as_deref() != Some("S256") {
        return Err(AuthorizeError::ChallengeMethodNotS256);
    }
    if challenge.len() != 43 || crate::crypto::b64url_decode(&challenge).is_err() {
        return Err(AuthorizeError::MalformedCodeChallenge);
    }
    let (ids, by_details) = requested(p.scope.as_deref(), p.authorization_details.as_deref())?;
    let offered_subject = match &p.issuer_state {
        Some(state) => Some(
            super::offer::get(ctx, state)
                .await
                .map_err(|_| AuthorizeError::UnknownIssuerState)?
                .subject_id,
        ),
        None => None,
    };
    Ok(Checked {
        code_challenge: challenge,
        ids,
        by_details,
        offered_subject,
    })
}

/// The configuration ids of an `authorization_details` parameter (RFC 9396
/// §2): a JSON array of `openid_credential` entries, each naming a known
/// configuration (OpenID4VCI 1.0 §5.1.1); in order, without repeats.
pub fn authorization_details_ids(details: &str) -> Result<Vec<String>, AuthorizeError> {
    let list: Vec<Value> =
        serde_json::from_str(details).map_err(|_| AuthorizeError::BadAuthorizationDetails)?;
    let mut ids: Vec<String> = Vec::with_capacity(list.len());
    for d in &list {
        let id = d
            .get("credential_configuration_id")
            .and_then(Value::as_str)
            .filter(|id| catalogue::find(id).is_some());
        match (d.get("type").and_then(Value::as_str), id) {
            (Some("openid_credential"), Some(id)) => {
                if !ids.iter().any(|i| i == id) {
                    ids.push(id.to_owned());
                }
            }
            _ => return Err(AuthorizeError::BadAuthorizationDetails),
        }
    }
    match ids.is_empty() {
        true => Err(AuthorizeError::BadAuthorizationDetails),
        false => Ok(ids),
    }
}

/// Configuration ids from `authorization_details` and `scope`, and whether
/// `authorization_details` was used. OpenID4VCI 1.0 §5.1.2: when both are
/// present each is interpreted on its own (the grant covers both; a
/// configuration named by both counts once, as its authorization details
/// say); unknown scope values are ignored (`openid`, another AS's scopes).
fn requested(
    scope: Option<&str>,
    details: Option<&str>,
) -> Result<(Vec<String>, bool), AuthorizeError> {
    let mut ids = match details {
        Some(details) => authorization_details_ids(details)?,
        None => Vec::new(),
    };
    let by_details = !ids.is_empty();
    let values: Vec<&str> = scope
        .unwrap_or_default()
        .split(' ')
        .filter(|s| !s.is_empty())
        .collect();
    let mut known = false;
    for s in values.iter().filter(|s| catalogue::find(s).is_some()) {
        known = true;
        if !ids.iter().any(|i| i == s) {
            ids.push((*s).to_owned());
        }
    }
    match (by_details, known, values.is_empty()) {
        (true, _, _) | (false, true, _) => Ok((ids, by_details)),
        (false, false, true) => Err(AuthorizeError::NothingRequested),
        (false, false, false) => Err(AuthorizeError::UnknownScope),
    }
}

/// Whether `uri` may be a redirect URI: absolute https, loopback http or an
/// app scheme, without fragment (RFC 6749 §3.1.2, RFC 8252 §7).
pub fn redirect_uri_acceptable(uri: &str) -> bool {
    let Some((scheme, rest)) = uri.split_once(':') else {
        return false;
    };
    let scheme_ok = scheme
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    let lower = scheme.to_ascii_lowercase();
    let loopback = ["//localhost", "//127.0.0.1", "//[::1]"]
        .iter()
        .any(|h| rest.starts_with(h) && rest[h.len()..].starts_with([':', '/']));
    let kind_ok = match lower.as_str() {
        "https" => rest.starts_with("//") && rest.len() > 2,
        "http" => loopback,
        "javascript" | "data" | "file" | "vbscript" | "blob" => false,
        _ => !rest.is_empty(),
    };
    scheme_ok && kind_ok && !uri.contains('#') && !uri.chars().any(char::is_whitespace)
}

/// The login page: the session and who may log in.
#[derive(Debug, Clone)]
pub struct Login {
    pub session_id: String,
    pub request: AuthorizationRequest,
    /// The client's registered `name`.
    pub client_name: String,
    pub subjects: Vec<Subject>,
}

/// The consent page.
#[derive(Debug, Clone)]
pub struct ConsentStep {
    pub session_id: String,
    pub request: AuthorizationRequest,
    /// The client's registered `name`.
    pub client_name: String,
    pub subject: Subject,
    /// How the person's identity was proofed at sign-in.
    pub identity_proofing: IdentityProofing,
}

/// The registered name of `client_id` (the id itself should the client
/// have been removed from the configuration since the request).
fn client_name(ctx: &Ctx<'_>, client_id: &str) -> String {
    ctx.settings
        .client(client_id)
        .map_or_else(|| client_id.to_owned(), |c| c.name.clone())
}

/// Where the login step leads.
#[derive(Debug, Clone)]
pub enum AfterLogin {
    /// Consent is needed.
    Consent(Box<ConsentStep>),
    /// Consent was given before: back to the wallet.
    Redirect(String),
}

/// `GET /authorize` in demo mode: a validated request (or a pushed one)
/// opens a session, and the citizen picks their record. Once the request
/// is known to come from its client, refusals go back to the client
/// ([`Refusal`]), those found after PAR too.
pub async fn begin(ctx: &Ctx<'_>, p: AuthorizationParams) -> Result<Login, Refusal> {
    let (session_id, request) = open(ctx, p).await?;
    let subjects: Result<Vec<Subject>, AuthorizeError> = (|| {
        Ok(match &request.offered_subject {
            Some(id) => ctx.registry.subject(id)?.into_iter().collect(),
            None => ctx.registry.subjects()?,
        })
    })();
    let subjects = subjects.map_err(|e| Refusal::to_client(ctx, &request, e))?;
    Ok(Login {
        session_id,
        client_name: client_name(ctx, &request.client_id),
        request,
        subjects,
    })
}

/// Validates an authorization request (or redeems a pushed one) and opens
/// a login session: its id and the request. Refusals are a page while the
/// client or its redirect URI is not established, and go back to the
/// client after that.
pub async fn open(
    ctx: &Ctx<'_>,
    p: AuthorizationParams,
) -> Result<(String, AuthorizationRequest), Refusal> {
    let request = match p.request_uri.clone() {
        Some(uri) => super::par::redeem(ctx, &uri, p.client_id.as_deref())
            .await
            .map_err(Refusal::Page)?,
        None => {
            let request = validate(ctx, p).await?;
            // Validated first, so the refusal goes back to the client.
            if par_required(ctx) {
                return Err(Refusal::to_client(
                    ctx,
                    &request,
                    AuthorizeError::ParRequired,
                ));
            }
            request
        }
    };
    let session_id = open_session(ctx, &request)
        .await
        .map_err(|e| Refusal::to_client(ctx, &request, e))?;
    Ok((session_id, request))
}

/// Whether authorization requests must come through `POST /par`
/// (`require_pushed_authorization_requests`): under `--profile haip`.
pub fn par_required(ctx: &Ctx<'_>) -> bool {
    ctx.settings.profile == crate::config::Profile::Haip
}

async fn open_session(
    ctx: &Ctx<'_>,
    request: &AuthorizationRequest,
) -> Result<String, AuthorizeError> {
    let session_id = new_secret();
    let session = Session {
        request: request.clone(),
        subject_id: None,
        identity_proofing: None,
    };
    ctx.store
        .insert(
            ns::SESSION,
            ctx.secret_key(&session_id),
            store::to_bytes(&session)?,
            Some(ctx.now + SESSION_TTL),
            ctx.now,
        )
        .await?;
    Ok(session_id)
}

/// `POST /authorize/login`: the citizen picked their record (demo mode);
/// the record says how their identity was proofed.
pub async fn login(
    ctx: &Ctx<'_>,
    session_id: &str,
    subject_id: &SubjectId,
) -> Result<AfterLogin, AuthorizeError> {
    let subject = ctx
        .registry
        .subject(subject_id)?
        .ok_or(AuthorizeError::UnknownSubject)?;
    let proofing = subject.identity_proofing;
    signed_in(ctx, session_id, subject, proofing).await
}

/// The person of the session signed in as `subject`, their identity
/// proofed by `proofing`: consent, or a code when consent is remembered.
pub async fn signed_in(
    ctx: &Ctx<'_>,
    session_id: &str,
    subject: Subject,
    proofing: IdentityProofing,
) -> Result<AfterLogin, AuthorizeError> {
    let mut session = load_session(ctx, session_id).await?;
    let subject_id = &subject.id;
    if session
        .request
        .offered_subject
        .as_ref()
        .is_some_and(|o| o != subject_id)
    {
        return Err(AuthorizeError::SubjectNotOffered);
    }
    if proofing == IdentityProofing::None {
        return Err(AuthorizeError::NotProofed);
    }
    let remembered = consent::find(ctx, subject_id, &session.request.client_id).await?;
    if remembered.is_some_and(|c| c.covers(&session.request.credential_configuration_ids)) {
        ctx.store
            .delete(ns::SESSION, ctx.secret_key(session_id))
            .await?;
        return finish(ctx, &session.request, &subject, proofing)
            .await
            .map(AfterLogin::Redirect);
    }
    session.subject_id = Some(subject_id.clone());
    session.identity_proofing = Some(proofing);
    ctx.store
        .put(
            ns::SESSION,
            ctx.secret_key(session_id),
            store::to_bytes(&session)?,
            Some(ctx.now + SESSION_TTL),
        )
        .await?;
    Ok(AfterLogin::Consent(Box::new(ConsentStep {
        session_id: session_id.to_owned(),
        client_name: client_name(ctx, &session.request.client_id),
        request: session.request,
        subject,
        identity_proofing: proofing,
    })))
}

/// Ends the session with `error=access_denied` and `description` at the
/// wallet's redirect URI (RFC 6749 §4.1.2.1): the sign-in found no one to
/// issue to.
pub async fn deny(
    ctx: &Ctx<'_>,
    session_id: &str,
    description: &str,
) -> Result<String, AuthorizeError> {
    let session: Session = match ctx
        .store
        .take(ns::SESSION, ctx.secret_key(session_id), ctx.now)
        .await?
    {
        Some(b) => store::from_bytes(&b)?,
        None => return Err(AuthorizeError::UnknownSession),
    };
    let request = &session.request;
    Ok(respond(
        ctx,
        &request.redirect_uri,
        request.state.as_deref(),
        &[
            ("error", "access_denied"),
            ("error_description", description),
        ],
    ))
}

/// `POST /authorize/consent`: approve (remembered, then a code) or deny
/// (`access_denied`); either way back to the wallet, and so is any later
/// failure.
pub async fn decide(ctx: &Ctx<'_>, session_id: &str, approve: bool) -> Result<String, Refusal> {
    let session: Session = match ctx
        .store
        .take(ns::SESSION, ctx.secret_key(session_id), ctx.now)
        .await
        .map_err(|e| Refusal::Page(e.into()))?
    {
        Some(b) => store::from_bytes(&b).map_err(|e| Refusal::Page(e.into()))?,
        None => return Err(Refusal::Page(AuthorizeError::UnknownSession)),
    };
    let request = session.request;
    let proofing = session.identity_proofing;
    let approved = match (session.subject_id, approve) {
        (Some(subject_id), true) => approved(ctx, &request, &subject_id, proofing).await,
        (Some(_), false) => Err(AuthorizeError::ConsentDenied),
        (None, _) => Err(AuthorizeError::NoSubjectChosen),
    };
    approved.map_err(|e| Refusal::to_client(ctx, &request, e))
}

async fn approved(
    ctx: &Ctx<'_>,
    request: &AuthorizationRequest,
    subject_id: &SubjectId,
    signed_in_with: Option<IdentityProofing>,
) -> Result<String, AuthorizeError> {
    let subject = ctx
        .registry
        .subject(subject_id)?
        .ok_or(AuthorizeError::UnknownSubject)?;
    // The sign-in's own proofing method when there was one (OIDC `amr`).
    let proofing = signed_in_with.unwrap_or(subject.identity_proofing);
    consent::grant(
        ctx,
        subject_id,
        &request.client_id,
        &request.credential_configuration_ids,
        proofing,
    )
    .await?;
    finish(ctx, request, &subject, proofing).await
}

/// The credential configurations the session's request asks for.
pub async fn requested_ids(ctx: &Ctx<'_>, session_id: &str) -> Result<Vec<String>, AuthorizeError> {
    Ok(load_session(ctx, session_id)
        .await?
        .request
        .credential_configuration_ids)
}

async fn load_session(ctx: &Ctx<'_>, session_id: &str) -> Result<Session, AuthorizeError> {
    match ctx
        .store
        .get(ns::SESSION, ctx.secret_key(session_id), ctx.now)
        .await?
    {
        Some(b) => Ok(store::from_bytes(&b)?),
        None => Err(AuthorizeError::UnknownSession),
    }
}

/// Stores an authorization code and returns the redirect to the wallet.
async fn finish(
    ctx: &Ctx<'_>,
    request: &AuthorizationRequest,
    subject: &Subject,
    proofing: IdentityProofing,
) -> Result<String, AuthorizeError> {
    let mut grant = Grant {
        subject_id: subject.id.clone(),
        credential_configuration_ids: request.credential_configuration_ids.clone(),
        credential_identifiers: BTreeMap::new(),
        datasets: BTreeMap::new(),
        client_id: Some(request.client_id.clone()),
        wallet_provider: None,
        identity_proofing: proofing,
    };
    super::credential::assign_identifiers(ctx, &mut grant, request.by_authorization_details);
    let code = new_secret();
    let rec = AuthorizationCode {
        grant,
        redirect_uri: request.redirect_uri.clone(),
        code_challenge: request.code_challenge.clone(),
        client_instance: request.client_instance.clone(),
    };
    ctx.store
        .insert(
            ns::AUTHORIZATION_CODE,
            ctx.secret_key(&code),
            store::to_bytes(&rec)?,
            Some(ctx.now + ctx.settings.issuer.authorization_code_ttl),
            ctx.now,
        )
        .await?;
    tracing::info!(client = ?request.client_id, proofing = ?proofing, "authorization code issued");
    Ok(respond(
        ctx,
        &request.redirect_uri,
        request.state.as_deref(),
        &[("code", &code)],
    ))
}

/// `redirect_uri` with the response parameters, `state` and `iss`
/// (RFC 6749 §4.1.2, RFC 9207).
fn respond(
    ctx: &Ctx<'_>,
    redirect_uri: &str,
    state: Option<&str>,
    params: &[(&str, &str)],
) -> String {
    let mut all: Vec<(&str, &str)> = params.to_vec();
    if let Some(state) = state {
        all.push(("state", state));
    }
    all.push(("iss", ctx.issuer_id()));
    let query = serde_urlencoded::to_string(&all).unwrap_or_default();
    let sep = if redirect_uri.contains('?') { '&' } else { '?' };
    format!("{redirect_uri}{sep}{query}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris() {
        for ok in [
            "https://wallet.example/cb",
            "http://localhost:3000/cb",
            "http://127.0.0.1/cb",
            "eudi-wallet://authorize",
            "ru.gosuslugi.wallet:/cb",
        ] {
            assert!(redirect_uri_acceptable(ok), "{ok}");
        }
        for bad in [
            "wallet.example/cb",
            "http://wallet.example/cb",
            "https://wallet.example/cb#frag",
            "javascript:alert(1)",
            "data:text/html,x",
            "https:",
            "1abc://x",
        ] {
            assert!(!redirect_uri_acceptable(bad), "{bad}");
        }
    }

    #[test]
    fn client_ids() {
        for ok in [
            "wallet-client-1",
            "https://wallet.example",
            "x509_hash:abc",
            "a b",
        ] {
            assert!(client_id_acceptable(ok), "{ok}");
        }
        let long = "c".repeat(MAX_CLIENT_ID + 1);
        for bad in [
            "",
            "wallet\n2026-01-01T00:00:00Z INFO forged line",
            "w\r",
            "w\u{1b}[31m",
            "w\t",
            "кошелёк",
            "w\u{7f}",
            long.as_str(),
        ] {
            assert!(!client_id_acceptable(bad), "{bad:?}");
        }
    }

    #[test]
    fn scope_and_authorization_details() {
        assert_eq!(
            requested(Some("ru.passport ru.snils"), None).unwrap(),
            (vec!["ru.passport".to_owned(), "ru.snils".to_owned()], false)
        );
        assert!(matches!(
            requested(Some("ru.diploma"), None),
            Err(AuthorizeError::UnknownScope)
        ));
        // OpenID4VCI 1.0 §5.1.2: unknown values beside known ones are ignored.
        assert_eq!(
            requested(Some("openid ru.diploma ru.passport"), None).unwrap(),
            (vec!["ru.passport".to_owned()], false)
        );
        assert!(matches!(
            requested(Some("  "), None),
            Err(AuthorizeError::NothingRequested)
        ));
        assert!(matches!(
            requested(None, None),
            Err(AuthorizeError::NothingRequested)
        ));
        let d = r#"[{"type":"openid_credential","credential_configuration_id":"ru.inn"}]"#;
        assert_eq!(
            requested(None, Some(d)).unwrap(),
            (vec!["ru.inn".to_owned()], true)
        );
        // OpenID4VCI 1.0 §5.1.2: both are honoured, a configuration named
        // twice counts once, unknown scope values are still ignored.
        assert_eq!(
            requested(Some("ru.passport ru.inn openid"), Some(d)).unwrap(),
            (vec!["ru.inn".to_owned(), "ru.passport".to_owned()], true)
        );
        assert_eq!(
            requested(Some("openid"), Some(d)).unwrap(),
            (vec!["ru.inn".to_owned()], true)
        );
        for bad in [
            "{}",
            "[]",
            r#"[{"type":"other","credential_configuration_id":"ru.inn"}]"#,
            r#"[{"type":"openid_credential","credential_configuration_id":"x"}]"#,
        ] {
            assert!(matches!(
                requested(None, Some(bad)),
                Err(AuthorizeError::BadAuthorizationDetails)
            ));
        }
    }
}
