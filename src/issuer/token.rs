//! Token endpoint (OpenID4VCI 1.0 §6, RFC 6749 §4.1.3 and §5, RFC 7636):
//! the pre-authorized code grant with `tx_code` (anonymous access allowed)
//! and the authorization code grant with PKCE S256. Codes are redeemed in
//! one store transaction, so of racing redemptions exactly one gets a token.
//!
//! A wallet may authenticate by attestation ([`client_auth`]; required
//! under `--profile haip`) and bind the token with DPoP. The form is
//! checked before either proof (no signature is checked for a request
//! refused anyway), and both proofs are checked for replay before any
//! code is looked at and recorded as used only in the transaction that
//! issues the token: a refused proof writes nothing to the store.
//!
//! A code is burnt only by a request entitled to try it: an authorization
//! code's client and wallet instance binding is checked before it is
//! taken, so a redemption by another client or instance leaves it
//! redeemable by its own; once taken, a wrong `redirect_uri` or
//! `code_verifier` burns it (tried once, RFC 6749 §4.1.2). A wrong
//! `tx_code` counts against the pre-authorized code's attempts.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::authorize::AuthorizationCode;
use super::client_auth::{self, Client, ClientAuthError};
use super::metadata::PRE_AUTHORIZED_GRANT;
use super::replay::ReplayMarker;
use super::{Ctx, Grant, new_secret, ns};
use crate::config::Profile;
use crate::crypto::{Algorithm, b64url, sha256};
use crate::registry::{IdentityProofing, SubjectId};
use crate::store::{self, StoreError, TxOp, Update};
use crate::trust::dpop::{self, DpopError};

/// The form body of a token request; every member optional so that a
/// missing one becomes the spec's error, not an extractor error.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct TokenRequest {
    /// `urn:ietf:params:oauth:grant-type:pre-authorized_code` or
    /// `authorization_code`.
    #[schema(
        nullable = false,
        example = "urn:ietf:params:oauth:grant-type:pre-authorized_code"
    )]
    pub grant_type: Option<String>,
    /// The code of the Credential Offer (pre-authorized code grant).
    #[serde(rename = "pre-authorized_code")]
    #[schema(nullable = false)]
    pub pre_authorized_code: Option<String>,
    /// The 6-digit Transaction Code sent to the citizen out of band, when
    /// the offer asks for one (pre-authorized code grant).
    #[schema(nullable = false, example = "493021")]
    pub tx_code: Option<String>,
    /// The authorization code (authorization code grant).
    #[schema(nullable = false)]
    pub code: Option<String>,
    /// The `redirect_uri` of the authorization request (authorization code
    /// grant).
    #[schema(nullable = false)]
    pub redirect_uri: Option<String>,
    /// The PKCE verifier, 43 to 128 unreserved characters (authorization
    /// code grant).
    #[schema(nullable = false)]
    pub code_verifier: Option<String>,
    /// The wallet's client id: required for the authorization code grant
    /// unless the wallet attestation names it, optional for the
    /// pre-authorized code grant; with a wallet attestation it must be the
    /// attestation's `sub`.
    #[schema(nullable = false)]
    pub client_id: Option<String>,
    /// Refused with `invalid_client`: wallets authenticate by attestation
    /// or not at all.
    #[schema(nullable = false)]
    pub client_secret: Option<String>,
    /// Refused with `invalid_client`: wallets authenticate by attestation
    /// or not at all.
    #[schema(nullable = false)]
    pub client_assertion: Option<String>,
    /// JSON array (RFC 9396 §6) of `{"type": "openid_credential",
    /// "credential_configuration_id": …}` naming configurations of the
    /// offer or authorization (OpenID4VCI 1.0 §6.1), in either grant: the
    /// token then covers only those, and the response names their
    /// `credential_identifiers`.
    #[schema(
        nullable = false,
        example = r#"[{"type":"openid_credential","credential_configuration_id":"ru.passport"}]"#
    )]
    pub authorization_details: Option<String>,
}

/// A successful token response (RFC 6749 §5.1, OpenID4VCI §6.2).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TokenResponse {
    /// Access token for the credential and notification endpoints.
    pub access_token: String,
    /// `DPoP` when the request carried a DPoP proof (the token is bound to
    /// its key, RFC 9449 §5), else `Bearer`.
    #[schema(example = "DPoP")]
    pub token_type: &'static str,
    /// Seconds the access token is valid.
    pub expires_in: i64,
    /// Present when the authorization or token request used
    /// `authorization_details` (OpenID4VCI 1.0 §6.2), or when
    /// the holder has several Credential Datasets of a configuration (a
    /// parent: one birth certificate per child, one identifier each): per
    /// configuration, the `credential_identifiers` to request with.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<Object>>, nullable = false, example = json!([{
        "type": "openid_credential",
        "credential_configuration_id": "ru.passport",
        "credential_identifiers": ["Xk1Eo2cQ4CqYqNPl0f2L7w"]
    }]))]
    pub authorization_details: Option<Vec<Value>>,
}

/// A stored pre-authorized code (under its keyed hash,
/// [`Ctx::secret_key`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PreAuthorizedCode {
    pub subject_id: SubjectId,
    pub credential_configuration_ids: Vec<String>,
    pub identity_proofing: IdentityProofing,
    /// The store key of the offer (removed when the code is redeemed).
    pub offer_key: String,
    /// [`tx_code_digest`] of the `tx_code`, when one is required.
    pub tx_code_digest: Option<String>,
    pub failed_attempts: u32,
    pub expires_at: i64,
}

/// The rule a token request broke; each maps to its RFC 6749 §5.2 /
/// OpenID4VCI §6.3 code.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("`grant_type` is missing")]
    MissingGrantType,
    #[error("this grant type is not supported")]
    UnsupportedGrantType,
    #[error("`pre-authorized_code` is missing")]
    MissingPreAuthorizedCode,
    #[error("the offer requires a `tx_code`, none was sent")]
    TxCodeMissing,
    #[error("a `tx_code` was sent but the offer does not use one")]
    TxCodeNotExpected,
    #[error("the pre-authorized code is unknown, used or expired")]
    UnknownPreAuthorizedCode,
    #[error("the `tx_code` is wrong ({left} attempts left)")]
    WrongTxCode { left: u32 },
    #[error("the `tx_code` is wrong; too many attempts, the pre-authorized code is now invalid")]
    TxCodeAttemptsExhausted,
    #[error("`code` is missing")]
    MissingCode,
    #[error("`code_verifier` is missing (PKCE is required)")]
    MissingCodeVerifier,
    #[error("`code_verifier` must be 43 to 128 unreserved characters (RFC 7636 §4.1)")]
    MalformedCodeVerifier,
    #[error("`redirect_uri` is missing")]
    MissingRedirectUri,
    #[error("`client_id` is missing: public clients identify themselves with it")]
    MissingClientId,
    #[error("`client_id` must be 1 to 255 printable ASCII characters (RFC 6749 Appendix A.1)")]
    MalformedClientId,
    #[error(
        "client authentication with a secret or assertion is not supported: wallets authenticate \
         with a wallet attestation (`OAuth-Client-Attestation`) or as public clients"
    )]
    ClientAuthenticationUnsupported,
    #[error(transparent)]
    Client(#[from] ClientAuthError),
    #[error(
        "the authorization code is bound to the wallet instance that pushed the request: \
         authenticate with the same wallet attestation key"
    )]
    ClientInstanceMismatch,
    #[error("the authorization code is unknown, used or expired")]
    UnknownAuthorizationCode,
    #[error("the authorization code was issued to another client")]
    ClientMismatch,
    #[error("`redirect_uri` differs from the authorization request's")]
    RedirectUriMismatch,
    #[error("the `code_verifier` does not match the `code_challenge` (PKCE S256)")]
    PkceMismatch,
    #[error(
        "`authorization_details` must be a JSON array of `openid_credential` entries naming known configurations"
    )]
    BadAuthorizationDetails,
    #[error("`authorization_details` names a credential configuration this grant does not cover")]
    AuthorizationDetailsNotGranted,
    #[error(transparent)]
    Dpop(#[from] DpopError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl crate::http::WireError for TokenError {
    fn code(&self) -> &'static str {
        use TokenError::*;
        match self {
            MissingGrantType
            | MissingPreAuthorizedCode
            | TxCodeMissing
            | TxCodeNotExpected
            | MissingCode
            | MissingCodeVerifier
            | MalformedCodeVerifier
            | MissingRedirectUri
            | MalformedClientId => "invalid_request",
            UnsupportedGrantType => "unsupported_grant_type",
            UnknownPreAuthorizedCode
            | WrongTxCode { .. }
            | TxCodeAttemptsExhausted
            | UnknownAuthorizationCode
            | ClientMismatch
            | ClientInstanceMismatch
            | RedirectUriMismatch
            | PkceMismatch => "invalid_grant",
            MissingClientId | ClientAuthenticationUnsupported => "invalid_client",
            Client(e) => e.code(),
            // RFC 9396 §6: "similar to `invalid_scope`".
            BadAuthorizationDetails | AuthorizationDetailsNotGranted => {
                "invalid_authorization_details"
            }
            Dpop(e) => e.code(),
            Store(e) => e.code(),
        }
    }
    fn status(&self) -> u16 {
        match self {
            TokenError::MissingClientId | TokenError::ClientAuthenticationUnsupported => 401,
            // RFC 9449 §5 and §8: a 400 at the token endpoint.
            TokenError::Dpop(_) => 400,
            TokenError::Client(e) => e.status(),
            TokenError::Store(e) => e.status(),
            TokenError::MissingGrantType
            | TokenError::UnsupportedGrantType
            | TokenError::MissingPreAuthorizedCode
            | TokenError::TxCodeMissing
            | TokenError::TxCodeNotExpected
            | TokenError::UnknownPreAuthorizedCode
            | TokenError::WrongTxCode { .. }
            | TokenError::TxCodeAttemptsExhausted
            | TokenError::MissingCode
            | TokenError::MissingCodeVerifier
            | TokenError::MalformedCodeVerifier
            | TokenError::MissingRedirectUri
            | TokenError::MalformedClientId
            | TokenError::UnknownAuthorizationCode
            | TokenError::ClientMismatch
            | TokenError::ClientInstanceMismatch
            | TokenError::RedirectUriMismatch
            | TokenError::PkceMismatch
            | TokenError::BadAuthorizationDetails
            | TokenError::AuthorizationDetailsNotGranted => 400,
        }
    }
    fn challenge(&self) -> Option<String> {
        match self {
            TokenError::Client(e) => e.challenge(),
            TokenError::MissingClientId | TokenError::ClientAuthenticationUnsupported => {
                Some("Basic realm=\"digital-id\"".to_owned())
            }
            _ => None,
        }
    }
}

/// The access token record: the grant and, for a DPoP-bound token, the
/// RFC 7638 thumbprint of the key it is bound to (`cnf.jkt`, RFC 9449 §6).
/// A record without `cnf_jkt` (also one stored before DPoP) is a bearer
/// token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessToken {
    #[serde(flatten)]
    pub grant: Grant,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf_jkt: Option<String>,
}

/// DPoP proof algorithms accepted (and advertised as
/// `dpop_signing_alg_values_supported`): ES256 only under `--profile haip`.
pub fn dpop_algs(ctx: &Ctx<'_>) -> &'static [Algorithm] {
    match ctx.settings.profile {
        Profile::Haip => &[Algorithm::Es256],
        Profile::Default => &[Algorithm::Es256, Algorithm::EdDsa],
    }
}

/// Whether DPoP is required: under `--profile haip`, at `/token` a request
/// without a proof is refused (`invalid_dpop_proof`) and every proof must
/// carry a server nonce (`use_dpop_nonce` otherwise). Outside HAIP DPoP is
/// optional and a nonce is checked only when a proof carries one.
pub fn dpop_required(ctx: &Ctx<'_>) -> bool {
    ctx.settings.profile == Profile::Haip
}

/// A verified DPoP proof whose `jti` is not yet recorded as used.
#[derive(Debug, Clone)]
pub struct DpopProof {
    /// RFC 7638 thumbprint of the proof key.
    pub jkt: String,
    /// Spent in the transaction that issues the token (RFC 9449 §11.1).
    pub replay: ReplayMarker,
}

/// Verifies the request's DPoP proof, if it has one, for `POST <path>`
/// (and `access_token`'s `ath`); `None` without a proof. `proofs` are the
/// values of every `DPoP` header. Nothing is looked up or written.
fn verify_dpop(
    ctx: &Ctx<'_>,
    proofs: &[&str],
    path: &str,
    access_token: Option<&str>,
) -> Result<Option<DpopProof>, DpopError> {
    let proof = match proofs {
        [] => return Ok(None),
        [one] => *one,
        _ => return Err(DpopError::Several),
    };
    let nonce_ok = |n: &str| super::nonce::dpop_nonce_ok(ctx, n);
    let verified = dpop::verify(
        proof,
        &dpop::Expect {
            htm: "POST",
            htu: &ctx.url(path),
            access_token,
            algs: dpop_algs(ctx),
            now: ctx.now,
            nonce_required: dpop_required(ctx),
            nonce_ok: &nonce_ok,
        },
    )?;
    Ok(Some(DpopProof {
        replay: ReplayMarker {
            ns: ns::DPOP_JTI,
            key: verified.replay_key(),
            expires_at: verified.replay_expires_at(),
        },
        jkt: verified.jkt,
    }))
}

/// Verifies the request's DPoP proof, if it has one, for `POST <path>`
/// (and `access_token`'s `ath`), and records its `jti` in the store so
/// that it is accepted once across all nodes. Returns the proof key's
/// thumbprint; `None` without a proof. `proofs` are the values of every
/// `DPoP` header.
pub async fn check_dpop(
    ctx: &Ctx<'_>,
    proofs: &[&str],
    path: &str,
    access_token: Option<&str>,
) -> Result<Option<String>, DpopFailure> {
    let Some(proof) = verify_dpop(ctx, proofs, path, access_token)? else {
        return Ok(None);
    };
    if proof.replay.record(ctx.store, ctx.now).await? {
        Ok(Some(proof.jkt))
    } else {
        Err(DpopError::Replayed.into())
    }
}

/// Why [`check_dpop`] refused a request.
#[derive(Debug, thiserror::Error)]
pub enum DpopFailure {
    #[error(transparent)]
    Proof(#[from] DpopError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<DpopFailure> for TokenError {
    fn from(e: DpopFailure) -> Self {
        match e {
            DpopFailure::Proof(e) => TokenError::Dpop(e),
            DpopFailure::Store(e) => TokenError::Store(e),
        }
    }
}

/// `POST /token`. `client_authentication` is whether the request carried
/// an `Authorization` header (we have no confidential clients with
/// secrets); `attestation` its wallet attestation headers, `dpop` the
/// values of its `DPoP` headers.
pub async fn token(
    ctx: &Ctx<'_>,
    req: TokenRequest,
    client_authentication: bool,
    attestation: client_auth::Presented<'_>,
    dpop: &[&str],
) -> Result<TokenResponse, TokenError> {
    if client_authentication || req.client_secret.is_some() || req.client_assertion.is_some() {
        return Err(TokenError::ClientAuthenticationUnsupported);
    }
    // Checked before it is stored in a grant, compared or logged.
    if req
        .client_id
        .as_deref()
        .is_some_and(|c| !super::authorize::client_id_acceptable(c))
    {
        return Err(TokenError::MalformedClientId);
    }
    // What costs nothing first, so that a request refused anyway gets no
    // signature checked: the grant type and its code, the
    // `authorization_details` (a malformed value burns nothing) and
    // whether a DPoP proof is there.
    let grant_type = match req.grant_type.as_deref() {
        None => return Err(TokenError::MissingGrantType),
        Some(PRE_AUTHORIZED_GRANT) if req.pre_authorized_code.is_none() => {
            return Err(TokenError::MissingPreAuthorizedCode);
        }
        Some(PRE_AUTHORIZED_GRANT) => GrantType::PreAuthorized,
        // Served only when citizens can sign in (`Settings::sign_in`).
        Some("authorization_code") if ctx.settings.sign_in.is_some() => {
            if req.code.is_none() {
                return Err(TokenError::MissingCode);
            }
            GrantType::AuthorizationCode
        }
        Some(_) => return Err(TokenError::UnsupportedGrantType),
    };
    let details = req
        .authorization_details
        .as_deref()
        .map(|d| {
            super::authorize::authorization_details_ids(d)
                .map_err(|_| TokenError::BadAuthorizationDetails)
        })
        .transpose()?;
    match dpop {
        [] if dpop_required(ctx) => return Err(DpopError::Missing.into()),
        [_, _, ..] => return Err(DpopError::Several.into()),
        _ => {}
    }
    // Then the proofs, before any code is looked at: a refused proof burns
    // nothing, and nothing is recorded until the token is issued.
    let client = client_auth::authenticate(ctx, attestation, req.client_id.as_deref()).await?;
    let dpop = verify_dpop(ctx, dpop, "/token", None)?;
    if let Some(p) = &dpop {
        if p.replay.spent(ctx.store, ctx.now).await? {
            return Err(DpopError::Replayed.into());
        }
    }
    let proven = Proven { client, dpop };
    match grant_type {
        GrantType::PreAuthorized => pre_authorized(ctx, req, details, &proven).await,
        GrantType::AuthorizationCode => authorization_code(ctx, req, details, &proven).await,
    }
}

/// The grant types served.
enum GrantType {
    PreAuthorized,
    AuthorizationCode,
}

/// What a token request proved: the client, by attestation, and the key
/// its token is bound to, by DPoP. Neither proof is recorded as used
/// until the transaction that issues the token ([`Proven::spend`]).
struct Proven {
    client: Option<Client>,
    dpop: Option<DpopProof>,
}

impl Proven {
    /// The DPoP key's thumbprint (`cnf.jkt` of the token).
    fn jkt(&self) -> Option<String> {
        self.dpop.as_ref().map(|p| p.jkt.clone())
    }

    /// The steps that record the proofs as used.
    fn spend(&self, ctx: &Ctx<'_>) -> Vec<TxOp> {
        let client = self.client.as_ref().map(|c| &c.replay);
        let dpop = self.dpop.as_ref().map(|p| &p.replay);
        client
            .into_iter()
            .chain(dpop)
            .map(|m| m.spend(ctx.now))
            .collect()
    }

    /// Who the grant is for: the request's `client_id` or else the
    /// attested one, and the wallet provider that attested it.
    fn client_of(&self, client_id: Option<String>) -> (Option<String>, Option<String>) {
        let attested = self.client.as_ref();
        (
            client_id.or_else(|| attested.map(|c| c.client_id.clone())),
            attested.map(|c| c.provider.clone()),
        )
    }

    /// The refusal for a transaction that failed with `Conflict` on one of
    /// the [`spend`](Self::spend) steps: a proof used meanwhile.
    async fn replayed(&self, ctx: &Ctx<'_>) -> TokenError {
        if let Some(c) = &self.client {
            match c.replay.spent(ctx.store, ctx.now).await {
                Ok(true) => return ClientAuthError::Replayed.into(),
                Ok(false) => {}
                Err(e) => return e.into(),
            }
        }
        match self.dpop {
            Some(_) => DpopError::Replayed.into(),
            None => StoreError::Conflict.into(),
        }
    }
}

/// What one redemption attempt does with the stored code.
enum Redemption {
    Redeem(PreAuthorizedCode),
    Refuse(TokenError),
    WrongTry(PreAuthorizedCode, TokenError),
    Burn,
}

/// The keyed hash a `tx_code` is stored as: bound to its pre-authorized
/// code, so equal `tx_code`s of two offers do not look equal at rest, and
/// a million guesses need the store secret.
pub fn tx_code_digest(ctx: &Ctx<'_>, pre_authorized_code: &str, tx_code: &str) -> String {
    ctx.keys
        .store_secret
        .key_of(&["tx_code", pre_authorized_code, tx_code])
}

/// Whether every configuration `wanted` (from `authorization_details`) is
/// one `granted` covers.
fn covers(granted: &[String], wanted: Option<&[String]>) -> bool {
    wanted.is_none_or(|w| w.iter().all(|id| granted.contains(id)))
}

/// `tx_digest` is the [`tx_code_digest`] of the `tx_code` sent, if any;
/// `wanted` the configurations of the request's `authorization_details`: a
/// request for more than the offer is refused and leaves the code usable.
fn redeem(
    current: Option<&[u8]>,
    tx_digest: Option<&str>,
    max_attempts: u32,
    wanted: Option<&[String]>,
) -> Result<Redemption, StoreError> {
    let Some(bytes) = current else {
        return Ok(Redemption::Refuse(TokenError::UnknownPreAuthorizedCode));
    };
    let rec: PreAuthorizedCode = store::from_bytes(bytes)?;
    let granted = covers(&rec.credential_configuration_ids, wanted);
    Ok(match (&rec.tx_code_digest, tx_digest) {
        (None, None) if !granted => Redemption::Refuse(TokenError::AuthorizationDetailsNotGranted),
        (None, None) => Redemption::Redeem(rec),
        (None, Some(_)) => Redemption::Refuse(TokenError::TxCodeNotExpected),
        (Some(_), None) => Redemption::Refuse(TokenError::TxCodeMissing),
        (Some(d), Some(t)) if digests_equal(d, t) && !granted => {
            Redemption::Refuse(TokenError::AuthorizationDetailsNotGranted)
        }
        (Some(d), Some(t)) if digests_equal(d, t) => Redemption::Redeem(rec),
        (Some(_), Some(_)) if rec.failed_attempts + 1 >= max_attempts => Redemption::Burn,
        (Some(_), Some(_)) => {
            let left = max_attempts - rec.failed_attempts - 1;
            let rec = PreAuthorizedCode {
                failed_attempts: rec.failed_attempts + 1,
                ..rec
            };
            Redemption::WrongTry(rec, TokenError::WrongTxCode { left })
        }
    })
}

/// Constant-time comparison of two base64url digests.
pub(crate) fn digests_equal(a: &str, b: &str) -> bool {
    a.len() == b.len() && openssl::memcmp::eq(a.as_bytes(), b.as_bytes())
}

async fn pre_authorized(
    ctx: &Ctx<'_>,
    req: TokenRequest,
    details: Option<Vec<String>>,
    proven: &Proven,
) -> Result<TokenResponse, TokenError> {
    let code = req
        .pre_authorized_code
        .ok_or(TokenError::MissingPreAuthorizedCode)?;
    let max = ctx.settings.issuer.tx_code_attempts;
    let tx_digest = req
        .tx_code
        .as_deref()
        .map(|t| tx_code_digest(ctx, &code, t));
    let code_key = ctx.secret_key(&code);
    let (client_id, wallet_provider) = proven.client_of(req.client_id.clone());
    // A redemption burns the code, drops the offer, stores the access
    // token's grant and records the proofs as used in ONE durable
    // transaction. The grant needs the
    // registry (credential identifiers), so it is made from a read of the
    // code first, and the transaction redeems only if the code still reads
    // the same (a concurrent wrong `tx_code` changes it: then read again).
    for _ in 0..3 {
        let Some(read) = ctx
            .store
            .get(ns::PRE_AUTHORIZED_CODE, code_key.clone(), ctx.now)
            .await?
        else {
            return Err(TokenError::UnknownPreAuthorizedCode);
        };
        let planned = match redeem(Some(&read), tx_digest.as_deref(), max, details.as_deref())? {
            Redemption::Redeem(rec) => Some(plan(
                ctx,
                rec,
                (client_id.clone(), wallet_provider.clone()),
                details.clone(),
                proven,
            )?),
            _ => None,
        };
        let steps = planned.as_ref().map(|p| p.steps.clone());
        let expected = read.clone();
        let (tx, wanted) = (tx_digest.clone(), details.clone());
        let seen = match ctx
            .store
            .update_and(
                ns::PRE_AUTHORIZED_CODE,
                code_key.clone(),
                ctx.now,
                Box::new(move |cur| {
                    if cur != Some(expected.as_slice()) {
                        return (Update::Keep, Vec::new());
                    }
                    match redeem(cur, tx.as_deref(), max, wanted.as_deref()) {
                        Ok(Redemption::Redeem(_)) => match steps {
                            Some(steps) => (Update::Delete, steps),
                            None => (Update::Keep, Vec::new()),
                        },
                        Ok(Redemption::Burn) => (Update::Delete, Vec::new()),
                        Ok(Redemption::WrongTry(rec, _)) => match store::to_bytes(&rec) {
                            Ok(value) => (
                                Update::Put {
                                    value,
                                    expires_at: Some(rec.expires_at),
                                },
                                Vec::new(),
                            ),
                            Err(_) => (Update::Delete, Vec::new()),
                        },
                        Ok(Redemption::Refuse(_)) | Err(_) => (Update::Keep, Vec::new()),
                    }
                }),
            )
            .await
        {
            // A proof was used meanwhile: nothing was done.
            Err(StoreError::Conflict) => return Err(proven.replayed(ctx).await),
            seen => seen?,
        };
        match seen {
            None => return Err(TokenError::UnknownPreAuthorizedCode),
            // Changed between the read and the transaction: nothing done.
            Some(seen) if seen != read => continue,
            Some(_) => {}
        }
        // Replay the (pure) decision on what the transaction saw.
        return match redeem(Some(&read), tx_digest.as_deref(), max, details.as_deref())? {
            Redemption::Redeem(_) => {
                let Some(p) = planned else {
                    return Err(TokenError::UnknownPreAuthorizedCode);
                };
                tracing::info!(client = ?client_id, wallet_provider = ?wallet_provider, "access token issued");
                Ok(TokenResponse {
                    access_token: p.token,
                    token_type: token_type(proven.dpop.as_ref().map(|p| p.jkt.as_str())),
                    expires_in: ctx.settings.issuer.access_token_ttl,
                    authorization_details: p.details,
                })
            }
            Redemption::Refuse(e) | Redemption::WrongTry(_, e) => Err(e),
            Redemption::Burn => {
                tracing::warn!("pre-authorized code burnt after too many wrong tx_code attempts");
                Err(TokenError::TxCodeAttemptsExhausted)
            }
        };
    }
    // Changed under every attempt: wrong guesses are racing this request.
    Err(TokenError::UnknownPreAuthorizedCode)
}

/// A redemption's outcome, prepared before the transaction that commits it.
struct Planned {
    token: String,
    /// The transaction's steps besides burning the code.
    steps: Vec<TxOp>,
    details: Option<Vec<Value>>,
}

/// The access token of a redeemed pre-authorized code: its grant (narrowed
/// to the request's `authorization_details`, with credential identifiers)
/// and the steps that drop the offer and store the token.
fn plan(
    ctx: &Ctx<'_>,
    rec: PreAuthorizedCode,
    (client_id, wallet_provider): (Option<String>, Option<String>),
    details: Option<Vec<String>>,
    proven: &Proven,
) -> Result<Planned, TokenError> {
    let offer_key = rec.offer_key.clone();
    let mut grant = Grant {
        subject_id: rec.subject_id,
        credential_configuration_ids: rec.credential_configuration_ids,
        credential_identifiers: Default::default(),
        datasets: Default::default(),
        client_id,
        wallet_provider,
        identity_proofing: rec.identity_proofing,
    };
    match details {
        Some(ids) => narrow(ctx, &mut grant, ids),
        // A parent's birth certificates: one identifier per child (§6.2).
        None => super::credential::assign_identifiers(ctx, &mut grant, false),
    }
    let token = new_secret();
    let details = authorization_details(&grant);
    let record = AccessToken {
        grant,
        cnf_jkt: proven.jkt(),
    };
    let mut steps = vec![
        // The offer has done its job; fetching it again would show a dead code.
        TxOp::Delete {
            ns: ns::OFFER,
            key: offer_key,
        },
        TxOp::Insert {
            ns: ns::ACCESS_TOKEN,
            key: ctx.secret_key(&token),
            value: store::to_bytes(&record)?,
            expires_at: Some(ctx.now + ctx.settings.issuer.access_token_ttl),
            now: ctx.now,
        },
    ];
    steps.extend(proven.spend(ctx));
    Ok(Planned {
        token,
        steps,
        details,
    })
}

/// The grant reduced to the configurations of the token request's
/// `authorization_details` (already checked to be covered), each with its
/// credential identifiers: OpenID4VCI 1.0 §6.2 then requires them in the
/// response, and §8.2 their use at the credential endpoint.
fn narrow(ctx: &Ctx<'_>, grant: &mut Grant, ids: Vec<String>) {
    grant.credential_configuration_ids = ids;
    grant.credential_identifiers.clear();
    grant.datasets.clear();
    super::credential::assign_identifiers(ctx, grant, true);
}

/// The token response's `authorization_details` (OpenID4VCI 1.0 §6.2):
/// the credential identifiers of each configuration, when the grant has any.
fn authorization_details(grant: &Grant) -> Option<Vec<Value>> {
    (!grant.credential_identifiers.is_empty()).then(|| {
        grant
            .credential_configuration_ids
            .iter()
            .map(|cfg| {
                let ids: Vec<&String> = grant
                    .credential_identifiers
                    .iter()
                    .filter(|(_, c)| *c == cfg)
                    .map(|(id, _)| id)
                    .collect();
                json!({
                    "type": "openid_credential",
                    "credential_configuration_id": cfg,
                    "credential_identifiers": ids,
                })
            })
            .collect()
    })
}

async fn authorization_code(
    ctx: &Ctx<'_>,
    req: TokenRequest,
    details: Option<Vec<String>>,
    proven: &Proven,
) -> Result<TokenResponse, TokenError> {
    let (client_id, wallet_provider) = proven.client_of(req.client_id);
    let client_id = client_id.ok_or(TokenError::MissingClientId)?;
    let code = req.code.ok_or(TokenError::MissingCode)?;
    let redirect_uri = req.redirect_uri.ok_or(TokenError::MissingRedirectUri)?;
    let verifier = req.code_verifier.ok_or(TokenError::MissingCodeVerifier)?;
    if !(43..=128).contains(&verifier.len())
        || !verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
    {
        return Err(TokenError::MalformedCodeVerifier);
    }
    let code_key = ctx.secret_key(&code);
    // Whose the code is, from a read: a request by another client or
    // wallet instance is refused and leaves the code to its own.
    let rec: AuthorizationCode = match ctx
        .store
        .get(ns::AUTHORIZATION_CODE, code_key.clone(), ctx.now)
        .await?
    {
        Some(b) => store::from_bytes(&b)?,
        None => return Err(TokenError::UnknownAuthorizationCode),
    };
    if rec.grant.client_id.as_deref() != Some(client_id.as_str()) {
        return Err(TokenError::ClientMismatch);
    }
    // A code pushed by an attested wallet instance is that instance's
    // (draft-ietf-oauth-attestation-based-client-auth §11.5).
    let instance = proven.client.as_ref().map(|c| c.instance_jkt.as_str());
    if rec
        .client_instance
        .as_deref()
        .is_some_and(|bound| Some(bound) != instance)
    {
        return Err(TokenError::ClientInstanceMismatch);
    }
    // Then taken, the single-use guard: of racing redemptions exactly one
    // goes on (a code is written once and never changed, so the record
    // read is the one taken). From here the code is tried once, whatever
    // the outcome (RFC 6749 §4.1.2): a wrong `redirect_uri` or
    // `code_verifier` burns it.
    if ctx
        .store
        .take(ns::AUTHORIZATION_CODE, code_key, ctx.now)
        .await?
        .is_none()
    {
        return Err(TokenError::UnknownAuthorizationCode);
    }
    if rec.redirect_uri != redirect_uri {
        return Err(TokenError::RedirectUriMismatch);
    }
    // RFC 7636 §4.6: BASE64URL(SHA256(code_verifier)) == code_challenge.
    if !digests_equal(&b64url(sha256(&verifier)), &rec.code_challenge) {
        return Err(TokenError::PkceMismatch);
    }
    let mut grant = rec.grant;
    grant.wallet_provider = wallet_provider;
    if let Some(ids) = details {
        // RFC 9396 §6: no more than the authorization granted; OpenID4VCI
        // 1.0 §6.1: a subset gets a token for the reduced set.
        if !covers(&grant.credential_configuration_ids, Some(&ids)) {
            return Err(TokenError::AuthorizationDetailsNotGranted);
        }
        narrow(ctx, &mut grant, ids);
    }
    let details = authorization_details(&grant);
    access_token(ctx, grant, details, proven).await
}

/// `token_type` of a token bound to `jkt` (or not).
fn token_type(jkt: Option<&str>) -> &'static str {
    if jkt.is_some() { "DPoP" } else { "Bearer" }
}

/// Stores the access token of `grant` and records the request's proofs as
/// used, in one transaction.
async fn access_token(
    ctx: &Ctx<'_>,
    grant: Grant,
    authorization_details: Option<Vec<Value>>,
    proven: &Proven,
) -> Result<TokenResponse, TokenError> {
    let token = new_secret();
    let ttl = ctx.settings.issuer.access_token_ttl;
    let cnf_jkt = proven.jkt();
    let mut steps = vec![TxOp::Insert {
        ns: ns::ACCESS_TOKEN,
        key: ctx.secret_key(&token),
        value: store::to_bytes(&AccessToken {
            grant: grant.clone(),
            cnf_jkt: cnf_jkt.clone(),
        })?,
        expires_at: Some(ctx.now + ttl),
        now: ctx.now,
    }];
    steps.extend(proven.spend(ctx));
    match ctx.store.transact(steps).await {
        Ok(()) => {}
        Err(StoreError::Conflict) => return Err(proven.replayed(ctx).await),
        Err(e) => return Err(e.into()),
    }
    tracing::info!(client = ?grant.client_id, wallet_provider = ?grant.wallet_provider, "access token issued");
    Ok(TokenResponse {
        access_token: token,
        token_type: token_type(cnf_jkt.as_deref()),
        expires_in: ttl,
        authorization_details,
    })
}

/// The record behind an access token, if it is live.
pub async fn token_of(
    ctx: &Ctx<'_>,
    access_token: &str,
) -> Result<Option<AccessToken>, StoreError> {
    match ctx
        .store
        .get(ns::ACCESS_TOKEN, ctx.secret_key(access_token), ctx.now)
        .await?
    {
        Some(b) => store::from_bytes(&b).map(Some),
        None => Ok(None),
    }
}
