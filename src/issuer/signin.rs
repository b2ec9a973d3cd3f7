//! The login step of the authorization-code flow through the upstream
//! OpenID Provider (DESIGN.md "Citizen sign-in"): `GET /authorize` sends
//! the citizen to the provider; the provider sends them back to
//! `GET /signin/callback`, where the ID token names a registry subject and
//! the flow goes on to consent (`super::authorize`).

use serde::{Deserialize, Serialize};

use super::authorize::{self, AfterLogin, AuthorizationParams, AuthorizeError, SESSION_TTL};
use super::{Ctx, ns};
use crate::registry::{IdentityProofing, IssueRefusal};
use crate::signin::{self, Attempt, Provider, SignInError};
use crate::store::{self, StoreError};

/// What waits for the provider's answer, under the key of its `state`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingSignIn {
    pub session_id: String,
    pub nonce: String,
    pub code_verifier: String,
}

/// Where `GET /authorize` sends the citizen, and the `state` the browser
/// must bring back (in a cookie, so another browser's `state` is useless).
#[derive(Debug, Clone)]
pub struct ToProvider {
    pub url: String,
    pub state: String,
}

/// The provider's answer at the callback (OpenID Connect Core 1.0
/// §3.1.2.5 and §3.1.2.6).
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackParams {
    /// The authorization code of the provider.
    #[param(nullable = false)]
    pub code: Option<String>,
    /// The `state` this server sent; must equal the sign-in cookie's.
    #[param(nullable = false)]
    pub state: Option<String>,
    /// The provider's error code, when the citizen did not sign in.
    #[param(nullable = false)]
    pub error: Option<String>,
}

/// The rule a sign-in broke.
#[derive(Debug, thiserror::Error)]
pub enum CallbackError {
    #[error("the sign-in cookie is missing or does not match `state`: start again from the wallet")]
    StateMismatch,
    #[error("the sign-in is unknown, used or expired: start again from the wallet")]
    UnknownState,
    #[error("the identity provider returned no authorization code")]
    MissingCode,
    #[error(transparent)]
    Provider(#[from] SignInError),
    /// The citizen signed in, but we cannot issue to them; the wallet gets
    /// `access_denied` at `redirect`.
    #[error("{}", .refusal)]
    Refused { refusal: Refusal, redirect: String },
    #[error(transparent)]
    Authorize(#[from] AuthorizeError),
    /// The authorization request of a known client and redirect URI broke a
    /// rule: back to the client with `error` at `location` (RFC 6749
    /// §4.1.2.1).
    #[error("{error}")]
    BackToClient {
        error: AuthorizeError,
        location: String,
    },
}

/// Why a signed-in person gets nothing (shown to them, and sent to the
/// wallet as `error_description`; never a registry detail).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the identity provider did not sign you in")]
    ProviderDenied,
    #[error("you signed in, but the registry holds no record for you; no document can be issued")]
    NoRegistryRecord,
    #[error(
        "these documents are only issued to adults: a child's documents go to a parent's wallet"
    )]
    AdultOnly,
    #[error(
        "your identity has not been proofed (biometrics, NFC passport or bank); a digital ID can only be issued after identity proofing"
    )]
    NotProofed,
    #[error("this offer was made for another person")]
    NotOffered,
}

impl crate::http::WireError for CallbackError {
    fn code(&self) -> &'static str {
        use CallbackError::*;
        match self {
            StateMismatch | UnknownState | MissingCode => "invalid_request",
            Provider(e) if e.is_unavailable() => "temporarily_unavailable",
            Provider(_) | Refused { .. } => "access_denied",
            Authorize(e) | BackToClient { error: e, .. } => e.code(),
        }
    }
    fn status(&self) -> u16 {
        use CallbackError::*;
        match self {
            StateMismatch | UnknownState | MissingCode => 400,
            Provider(e) if e.is_unavailable() => 502,
            Provider(_) | Refused { .. } => 403,
            Authorize(e) | BackToClient { error: e, .. } => e.status(),
        }
    }
}

impl From<StoreError> for CallbackError {
    fn from(e: StoreError) -> Self {
        CallbackError::Authorize(AuthorizeError::Store(e))
    }
}

/// `GET /authorize`: validates the request, opens a session and sends the
/// citizen to the provider.
pub async fn start(
    ctx: &Ctx<'_>,
    provider: &Provider,
    p: AuthorizationParams,
) -> Result<ToProvider, CallbackError> {
    let (session_id, _) = authorize::open(ctx, p).await.map_err(|r| match r {
        authorize::Refusal::Page(e) => CallbackError::Authorize(e),
        authorize::Refusal::Redirect { error, location } => {
            CallbackError::BackToClient { error, location }
        }
    })?;
    let attempt = Attempt::new();
    let url = provider.authorization_url(&attempt, ctx.now).await?;
    let pending = PendingSignIn {
        session_id,
        nonce: attempt.nonce,
        code_verifier: attempt.code_verifier,
    };
    ctx.store
        .insert(
            ns::SIGNIN,
            ctx.secret_key(&attempt.state),
            store::to_bytes(&pending)?,
            Some(ctx.now + SESSION_TTL),
            ctx.now,
        )
        .await?;
    Ok(ToProvider {
        url,
        state: attempt.state,
    })
}

/// `GET /signin/callback`: checks `state` against the browser's cookie,
/// redeems the code at the provider, maps the person to a registry subject
/// and goes on to consent.
pub async fn callback(
    ctx: &Ctx<'_>,
    provider: &Provider,
    p: CallbackParams,
    cookie_state: Option<&str>,
) -> Result<AfterLogin, CallbackError> {
    let state = p.state.as_deref().ok_or(CallbackError::StateMismatch)?;
    let cookie = cookie_state.ok_or(CallbackError::StateMismatch)?;
    if state.len() != cookie.len() || !openssl::memcmp::eq(state.as_bytes(), cookie.as_bytes()) {
        return Err(CallbackError::StateMismatch);
    }
    let pending: PendingSignIn = match ctx
        .store
        .take(ns::SIGNIN, ctx.secret_key(state), ctx.now)
        .await?
    {
        Some(b) => store::from_bytes(&b)?,
        None => return Err(CallbackError::UnknownState),
    };
    let session = pending.session_id.as_str();
    if p.error.is_some() {
        return refuse(ctx, session, Refusal::ProviderDenied).await;
    }
    let code = p.code.as_deref().ok_or(CallbackError::MissingCode)?;
    let attempt = Attempt {
        state: state.to_owned(),
        nonce: pending.nonce,
        code_verifier: pending.code_verifier,
    };
    let signed = provider.sign_in(code, &attempt, ctx.now).await?;
    let s = &provider.settings;
    let found = match signin::subject::claim_text(&signed.claims, &s.subject_claim) {
        Some(value) => signin::subject::find(ctx.registry, s.subject_match, &value)
            .map_err(AuthorizeError::from)?,
        None => None,
    };
    let Some(subject) = found else {
        return refuse(ctx, session, Refusal::NoRegistryRecord).await;
    };
    let proofing = signin::subject::proofing(&signed.claims);
    if proofing == IdentityProofing::None {
        return refuse(ctx, session, Refusal::NotProofed).await;
    }
    let requested = authorize::requested_ids(ctx, session).await?;
    for id in &requested {
        if let Err(IssueRefusal::UnderAge) = ctx.registry.issuable(&subject.id, id, ctx.today()) {
            return refuse(ctx, session, Refusal::AdultOnly).await;
        }
    }
    match authorize::signed_in(ctx, session, subject, proofing).await {
        Err(AuthorizeError::SubjectNotOffered) => refuse(ctx, session, Refusal::NotOffered).await,
        other => Ok(other?),
    }
}

async fn refuse(
    ctx: &Ctx<'_>,
    session_id: &str,
    refusal: Refusal,
) -> Result<AfterLogin, CallbackError> {
    let redirect = authorize::deny(ctx, session_id, &refusal.to_string()).await?;
    tracing::info!(?refusal, "sign-in refused");
    Err(CallbackError::Refused { refusal, redirect })
}
