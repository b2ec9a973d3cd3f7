//! The OpenID Connect relying party of the upstream identity provider
//! (DESIGN.md "Citizen sign-in"): discovery, the authorization request
//! (code flow, PKCE S256, `state`, `nonce`), the token request with client
//! authentication, ID-token validation against the provider's JWKS, and
//! userinfo.
//!
//! The provider is configured by the operator (`[auth] issuer`), so it is
//! trusted as a destination: unlike the verifier's fetches (which follow
//! URLs from credentials) it needs no address guard, and loopback works for
//! development. Calls never follow redirects, bodies are capped, every call
//! has a deadline, and the blocking `ureq` calls run on tokio's blocking
//! pool, never on an async worker.

pub mod client_auth;
pub mod id_token;
pub mod subject;

use std::sync::Mutex;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::config::OidcSettings;
pub use id_token::IdTokenError;

/// Deadline of one call to the provider.
const TIMEOUT: Duration = Duration::from_secs(10);
/// Largest document accepted from the provider.
const MAX_BODY: u64 = 256 * 1024;
/// How long discovery metadata and the JWKS are kept (seconds).
pub const CACHE_TTL: i64 = 3600;

/// Why signing in at the provider failed (no provider text is repeated).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignInError {
    #[error("the identity provider's discovery document could not be fetched or is invalid")]
    Discovery,
    #[error("the identity provider's discovery document names another issuer")]
    DiscoveryIssuerMismatch,
    #[error("the identity provider's keys (JWKS) could not be fetched or are invalid")]
    Jwks,
    #[error("the identity provider refused the token request")]
    TokenRefused,
    #[error("the identity provider's token response is invalid or has no ID token")]
    TokenResponse,
    #[error("the identity provider could not be reached")]
    Unreachable,
    #[error(transparent)]
    IdToken(#[from] IdTokenError),
    #[error("the identity provider's userinfo response is invalid or is about another person")]
    UserInfo,
    #[error("the client assertion could not be signed")]
    ClientAssertion,
}

impl SignInError {
    /// Whether the provider (or the way to it) failed, rather than what it
    /// sent breaking a rule.
    pub fn is_unavailable(&self) -> bool {
        use SignInError::*;
        match self {
            Unreachable | Discovery | Jwks | ClientAssertion => true,
            DiscoveryIssuerMismatch | TokenRefused | TokenResponse | IdToken(_) | UserInfo => false,
        }
    }
}

/// OpenID Connect Discovery 1.0 §3: the members we use.
#[derive(Debug, Clone, Deserialize)]
pub struct ProviderMetadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    #[serde(default)]
    pub userinfo_endpoint: Option<String>,
}

#[derive(Debug, Clone)]
struct Cached<T> {
    value: T,
    until: i64,
}

/// The upstream provider: settings, an HTTP agent and the caches.
#[derive(Debug)]
pub struct Provider {
    pub settings: OidcSettings,
    agent: ureq::Agent,
    metadata: Mutex<Option<Cached<ProviderMetadata>>>,
    jwks: Mutex<Option<Cached<Value>>>,
}

/// What a successful sign-in yields: the ID token's claims, with the
/// userinfo claims added when the subject claim was not in the ID token.
#[derive(Debug, Clone, PartialEq)]
pub struct SignedIn {
    pub claims: Map<String, Value>,
}

/// The secrets of one sign-in, kept until the callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub state: String,
    pub nonce: String,
    pub code_verifier: String,
}

impl Attempt {
    /// Fresh `state`, `nonce` and PKCE `code_verifier` (256 bits each).
    pub fn new() -> Self {
        let fresh = || crate::crypto::b64url(crate::crypto::random_bytes::<32>());
        Attempt {
            state: fresh(),
            nonce: fresh(),
            code_verifier: fresh(),
        }
    }

    /// RFC 7636 §4.2 `S256`.
    pub fn code_challenge(&self) -> String {
        crate::crypto::b64url(crate::crypto::sha256(self.code_verifier.as_bytes()))
    }
}

impl Default for Attempt {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Debug, Deserialize)]
struct TokenResponse {
    id_token: Option<String>,
    access_token: Option<String>,
}

impl Provider {
    pub fn new(settings: OidcSettings, tls: ureq::tls::TlsConfig) -> Self {
        let config = ureq::Agent::config_builder()
            .max_redirects(0)
            .http_status_as_error(false)
            .timeout_global(Some(TIMEOUT))
            .tls_config(tls)
            .build();
        Provider {
            settings,
            agent: config.into(),
            metadata: Mutex::new(None),
            jwks: Mutex::new(None),
        }
    }

    /// The provider's metadata (cached [`CACHE_TTL`] seconds).
    pub async fn metadata(&self, now: i64) -> Result<ProviderMetadata, SignInError> {
        if let Some(c) = lock(&self.metadata).as_ref().filter(|c| c.until > now) {
            return Ok(c.value.clone());
        }
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.settings.issuer.trim_end_matches('/')
        );
        let body = self.get(url, None).await.map_err(|e| match e {
            SignInError::Unreachable => SignInError::Unreachable,
            _ => SignInError::Discovery,
        })?;
        let m: ProviderMetadata =
            serde_json::from_slice(&body).map_err(|_| SignInError::Discovery)?;
        // Discovery §4.3: the issuer must be exactly the configured one.
        if m.issuer != self.settings.issuer {
            return Err(SignInError::DiscoveryIssuerMismatch);
        }
        *lock(&self.metadata) = Some(Cached {
            value: m.clone(),
            until: now + CACHE_TTL,
        });
        Ok(m)
    }

    /// The URL that sends the citizen to the provider (OpenID Connect Core
    /// 1.0 §3.1.2.1).
    pub async fn authorization_url(
        &self,
        attempt: &Attempt,
        now: i64,
    ) -> Result<String, SignInError> {
        let m = self.metadata(now).await?;
        let s = &self.settings;
        let challenge = attempt.code_challenge();
        let query = serde_urlencoded::to_string([
            ("response_type", "code"),
            ("client_id", s.client_id.as_str()),
            ("redirect_uri", s.redirect_uri.as_str()),
            ("scope", s.scopes.join(" ").as_str()),
            ("state", attempt.state.as_str()),
            ("nonce", attempt.nonce.as_str()),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ])
        .map_err(|_| SignInError::Discovery)?;
        let sep = if m.authorization_endpoint.contains('?') {
            '&'
        } else {
            '?'
        };
        Ok(format!("{}{sep}{query}", m.authorization_endpoint))
    }

    /// Redeems `code` (with the attempt's verifier), validates the ID token
    /// and, when the subject claim is not in it, reads userinfo.
    pub async fn sign_in(
        &self,
        code: &str,
        attempt: &Attempt,
        now: i64,
    ) -> Result<SignedIn, SignInError> {
        let m = self.metadata(now).await?;
        let s = &self.settings;
        let jti = crate::crypto::b64url(crate::crypto::random_bytes::<16>());
        let auth =
            client_auth::authenticate(&s.client_auth, &s.client_id, &m.token_endpoint, now, &jti)
                .map_err(|_| SignInError::ClientAssertion)?;
        let mut form = vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code.to_owned()),
            ("redirect_uri", s.redirect_uri.clone()),
            ("code_verifier", attempt.code_verifier.clone()),
        ];
        form.extend(auth.form);
        let (status, body) = self
            .post_form(m.token_endpoint.clone(), auth.authorization, form)
            .await?;
        if status != 200 {
            return Err(SignInError::TokenRefused);
        }
        let tokens: TokenResponse =
            serde_json::from_slice(&body).map_err(|_| SignInError::TokenResponse)?;
        let id_token = tokens.id_token.ok_or(SignInError::TokenResponse)?;
        let want = id_token::Expected {
            issuer: &s.issuer,
            client_id: &s.client_id,
            nonce: &attempt.nonce,
            now,
        };
        let token = match id_token::verify(&id_token, &self.jwks(&m, now, false).await?, &want) {
            // A key we have not seen: the provider may have rotated; fetch
            // the JWKS once more.
            Err(IdTokenError::UnknownKey) => {
                id_token::verify(&id_token, &self.jwks(&m, now, true).await?, &want)?
            }
            other => other?,
        };
        let mut claims = token.claims;
        if !claims.contains_key(&s.subject_claim) {
            let (Some(endpoint), Some(access)) = (&m.userinfo_endpoint, tokens.access_token) else {
                return Ok(SignedIn { claims });
            };
            let info = self.userinfo(endpoint.clone(), access).await?;
            // OpenID Connect Core 1.0 §5.3.2: the same person, or nothing.
            if info.get("sub").and_then(Value::as_str) != Some(token.sub.as_str()) {
                return Err(SignInError::UserInfo);
            }
            for (k, v) in info {
                claims.entry(k).or_insert(v);
            }
        }
        Ok(SignedIn { claims })
    }

    async fn jwks(
        &self,
        m: &ProviderMetadata,
        now: i64,
        refresh: bool,
    ) -> Result<Value, SignInError> {
        if !refresh {
            if let Some(c) = lock(&self.jwks).as_ref().filter(|c| c.until > now) {
                return Ok(c.value.clone());
            }
        }
        let body = self
            .get(m.jwks_uri.clone(), None)
            .await
            .map_err(|e| match e {
                SignInError::Unreachable => SignInError::Unreachable,
                _ => SignInError::Jwks,
            })?;
        let jwks: Value = serde_json::from_slice(&body).map_err(|_| SignInError::Jwks)?;
        if !jwks.get("keys").is_some_and(Value::is_array) {
            return Err(SignInError::Jwks);
        }
        *lock(&self.jwks) = Some(Cached {
            value: jwks.clone(),
            until: now + CACHE_TTL,
        });
        Ok(jwks)
    }

    async fn userinfo(
        &self,
        url: String,
        access_token: String,
    ) -> Result<Map<String, Value>, SignInError> {
        let body = self
            .get(url, Some(format!("Bearer {access_token}")))
            .await
            .map_err(|e| match e {
                SignInError::Unreachable => SignInError::Unreachable,
                _ => SignInError::UserInfo,
            })?;
        match serde_json::from_slice(&body) {
            Ok(Value::Object(m)) => Ok(m),
            _ => Err(SignInError::UserInfo),
        }
    }

    /// GET `url` (JSON), 200 only.
    async fn get(
        &self,
        url: String,
        authorization: Option<String>,
    ) -> Result<Vec<u8>, SignInError> {
        let agent = self.agent.clone();
        blocking(move || {
            let mut req = agent.get(&url).header("Accept", "application/json");
            if let Some(a) = &authorization {
                req = req.header("Authorization", a);
            }
            let mut resp = req.call().map_err(|_| SignInError::Unreachable)?;
            if resp.status().as_u16() != 200 {
                return Err(SignInError::Discovery);
            }
            read(&mut resp)
        })
        .await
    }

    async fn post_form(
        &self,
        url: String,
        authorization: Option<String>,
        form: Vec<(&'static str, String)>,
    ) -> Result<(u16, Vec<u8>), SignInError> {
        let agent = self.agent.clone();
        blocking(move || {
            let mut req = agent.post(&url).header("Accept", "application/json");
            if let Some(a) = &authorization {
                req = req.header("Authorization", a);
            }
            let mut resp = req
                .send_form(form.iter().map(|(k, v)| (*k, v.as_str())))
                .map_err(|_| SignInError::Unreachable)?;
            let status = resp.status().as_u16();
            Ok((status, read(&mut resp)?))
        })
        .await
    }
}

fn read(resp: &mut ureq::http::Response<ureq::Body>) -> Result<Vec<u8>, SignInError> {
    resp.body_mut()
        .with_config()
        .limit(MAX_BODY)
        .read_to_vec()
        .map_err(|_| SignInError::Unreachable)
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, SignInError> + Send + 'static,
) -> Result<T, SignInError> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or(Err(SignInError::Unreachable))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
