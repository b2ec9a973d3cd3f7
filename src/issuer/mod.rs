//! OpenID4VCI 1.0 issuer and its OAuth 2.0 authorization server: metadata,
//! offers, token, nonce, credential, authorization code flow with PAR and
//! consent, notifications. One file per operation; no `actix_web` here (the
//! web adapter is `http/issuer.rs`).
//!
//! Secrets that would let someone redeem something — offer ids (which show
//! the pre-authorized code), pre-authorized codes and their `tx_code`s,
//! authorization codes, access tokens, PAR `request_uri`s, login session
//! ids — are stored only under their keyed hash
//! ([`Ctx::secret_key`], HMAC-SHA-256 with the server's store secret), never
//! in the clear nor inside a record, so a copy of the store redeems nothing.
//! `c_nonce`s are not stored at all until used (they carry their own expiry
//! and MAC), and their spent markers and notification ids are not secrets
//! (a notification id needs the access token too): they stay in the clear,
//! in time order. Nothing here stores or
//! logs claim values.

pub mod authorize;
pub mod certificate;
pub mod client_auth;
pub mod consent;
pub mod credential;
pub mod metadata;
pub mod nonce;
pub mod notification;
pub mod offer;
pub mod par;
pub mod proof;
pub mod records;
pub mod replay;
pub mod signed_metadata;
pub mod signin;
pub mod token;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::Date;

use crate::config::Settings;
use crate::crypto::b64url;
use crate::keystore::KeySet;
use crate::registry::{IdentityProofing, Registry, SubjectId};
use crate::store::Store;

/// Store namespaces of the issuer.
pub mod ns {
    /// key(offer id) → [`StoredOffer`](super::offer::StoredOffer).
    pub const OFFER: &str = "vci_offer";
    /// key(pre-authorized code) → [`PreAuthorizedCode`](super::token::PreAuthorizedCode).
    pub const PRE_AUTHORIZED_CODE: &str = "vci_preauth";
    /// key(authorization code) → [`AuthorizationCode`](super::authorize::AuthorizationCode).
    pub const AUTHORIZATION_CODE: &str = "vci_authcode";
    /// key(PAR `request_uri` id) → [`AuthorizationRequest`](super::authorize::AuthorizationRequest).
    pub const PAR: &str = "vci_par";
    /// key(login session id) → [`Session`](super::authorize::Session).
    pub const SESSION: &str = "vci_session";
    /// key(sign-in `state`) → [`PendingSignIn`](super::signin::PendingSignIn).
    pub const SIGNIN: &str = "vci_signin";
    /// key(access token) → [`AccessToken`](super::token::AccessToken).
    pub const ACCESS_TOKEN: &str = "vci_token";
    /// A used c_nonce's body → `[]` until the nonce expires (see [`super::nonce`]).
    pub const C_NONCE: &str = "vci_cnonce";
    /// Replay key of a used DPoP proof (see
    /// [`Verified::replay_key`](crate::trust::dpop::Verified::replay_key))
    /// → `[]` until the proof's `iat` is out of the window on every node.
    pub const DPOP_JTI: &str = "vci_dpop_jti";
    /// Replay key of a used client attestation PoP (see
    /// [`Verified::replay_key`](crate::trust::client_attestation::Verified::replay_key))
    /// → `[]` until the PoP's `iat` is out of the window on every node.
    pub const CLIENT_ATTESTATION_JTI: &str = "vci_client_attestation_jti";
    /// `"<subject>\n<client_id>"` → [`Consent`](super::consent::Consent).
    pub const CONSENT: &str = "vci_consent";
    /// credential id → [`IssuedCredential`](super::records::IssuedCredential).
    pub const CREDENTIAL: &str = "vci_credential";
    /// `"<subject>/<credential id>"` → `[]`: records by subject.
    pub const CREDENTIAL_BY_SUBJECT: &str = "vci_credential_subject";
    /// notification id → [`NotificationRecord`](super::notification::NotificationRecord).
    pub const NOTIFICATION: &str = "vci_notification";
}

/// What the issuer works with for one request: settings, keys, store,
/// registry and the request's time.
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    pub settings: &'a Settings,
    pub keys: &'a KeySet,
    pub store: &'a dyn Store,
    pub registry: &'a dyn Registry,
    /// Hands out status list indices.
    pub status: &'a crate::status::Allocator,
    /// This node's signed status list tokens.
    pub status_tokens: &'a crate::status::TokenCache,
    /// The wallet providers' roots (`[attestation] wallet_provider_roots`).
    pub wallet_providers: &'a crate::crypto::x509::Anchors,
    /// Unix seconds.
    pub now: i64,
}

impl std::fmt::Debug for Ctx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx")
            .field("now", &self.now)
            .finish_non_exhaustive()
    }
}

impl Ctx<'_> {
    /// The Credential Issuer Identifier, byte for byte the public URL.
    pub fn issuer_id(&self) -> &str {
        self.settings.public_url.as_str()
    }

    /// `public URL + path`.
    pub fn url(&self, path: &str) -> String {
        self.settings.public_url.join(path)
    }

    /// The store key of a secret value: base64url(HMAC-SHA-256(store
    /// secret, value)).
    pub fn secret_key(&self, secret: &str) -> String {
        self.keys.store_secret.key(secret)
    }

    /// The calendar day (UTC) registry data is judged on.
    pub fn today(&self) -> Date {
        time::OffsetDateTime::from_unix_timestamp(self.now)
            .map(|t| t.date())
            .unwrap_or(Date::MIN)
    }
}

/// What an access token (and the code it came from) allows: whose documents
/// and which credential configurations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub subject_id: SubjectId,
    pub credential_configuration_ids: Vec<String>,
    /// `credential_identifier` → credential configuration id, when the
    /// authorization used `authorization_details` (OpenID4VCI §6.2).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub credential_identifiers: BTreeMap<String, String>,
    /// `credential_identifier` → the Credential Dataset it names, for a
    /// configuration of which the subject holds several (a parent's birth
    /// certificates, one per child; see `credential::assign_identifiers`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub datasets: BTreeMap<String, String>,
    /// The wallet's client id (absent for anonymous pre-authorized access).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The wallet provider that attested the client at the token endpoint
    /// (the subject of its certificate), when the client authenticated by
    /// attestation ([`client_auth`]); kept in each issued-credential record
    /// as [`client_wallet_provider`](records::IssuedCredential::client_wallet_provider).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wallet_provider: Option<String>,
    /// How the subject's identity was proofed, as recorded at authorization.
    pub identity_proofing: IdentityProofing,
}

/// A new random 256-bit secret (codes, tokens).
pub fn new_secret() -> String {
    b64url(crate::crypto::random_bytes::<32>())
}
