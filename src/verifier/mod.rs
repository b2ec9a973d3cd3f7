//! OpenID4VP 1.0 verifier: DCQL requests, signed request objects,
//! `direct_post` / `direct_post.jwt` responses, and the holder-shown QR.
//! One file per operation; no actix here (the web adapter is
//! `http/verifier.rs` and `http/wallet.rs`).
//!
//! Wallet-facing flow: [`request`] creates a transaction → the wallet fetches
//! the [`request_object`] (single use, within 30 s) → posts to the
//! [`response`] endpoint (within the response window) → the result is kept
//! for the retention window. [`scan`] verifies a holder-shown QR at once.
//!
//! The QR shows only the request id; the response id, `state` and response
//! key are in the request object alone, so only the wallet that fetched it
//! can change the transaction.

pub mod callback;
pub mod dcql;
pub mod fetch;
pub mod identity;
pub mod jwe;
pub mod keys;
pub mod outbound;
pub mod parties;
pub mod presentation;
pub mod presets;
pub mod request;
pub mod request_object;
pub mod response;
pub mod scan;
pub mod status;
pub mod transaction;
pub mod trust;
pub mod view;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::config::{PublicUrl, Settings, VerifierSettings};
use crate::crypto::PublicKey;
use crate::store::Store;

pub use crate::parties::DEFAULT_PARTY;
pub use identity::{IdentityError, PartyIdentity};
pub use keys::{Certificates, ClientId, ClientIdPrefix, VerifierKeyError, VerifierKeys};
pub use transaction::{RequestId, ResponseId, Status, Transaction, TransactionId};

/// Path of the request URI endpoint (`{id}`: the wallet-facing request id).
pub const REQUEST_URI_PATH: &str = "/oid4vp/requests/";
/// Path of the response URI endpoint (`{id}`: the response id, which only
/// the request object discloses).
pub const RESPONSE_URI_PATH: &str = "/oid4vp/responses/";
/// Path prefix of by-reference holder presentations.
pub const UPLOAD_PATH: &str = "/p/";

/// The verifier role: its identity, trust, status checks and storage.
pub struct Verifier {
    pub keys: VerifierKeys,
    /// Who signs each relying party's request objects.
    identities: Identities,
    pub settings: VerifierSettings,
    pub public_url: PublicUrl,
    pub trust: trust::Trust,
    pub status: status::StatusChecker,
    /// Which hosts outbound calls may reach, and how.
    pub outbound: outbound::Outbound,
    /// Delivers result callbacks (checked addresses only).
    callback_agent: ureq::Agent,
    /// HAIP 1.0 profile: encrypted responses only.
    pub haip: bool,
    store: Arc<dyn Store>,
    /// Set once the relying-party registry is attached
    /// ([`Verifier::attach_registry`]): opens the parties' stored keys.
    registry_secret: std::sync::OnceLock<crate::keystore::StoreSecret>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("client_id", &self.keys.client_id)
            .finish_non_exhaustive()
    }
}

impl Verifier {
    /// Builds the verifier; `issuer_keys` are our own issuer's public keys
    /// (always trusted for `iss` = the public URL); `outbound` says which
    /// hosts it may call.
    pub fn new(
        settings: &Settings,
        issuer_keys: impl IntoIterator<Item = PublicKey>,
        store: Arc<dyn Store>,
        outbound: outbound::Outbound,
    ) -> Result<Self, VerifierKeyError> {
        let fetcher = Arc::new(fetch::HttpFetcher::new(
            settings.public_url.origin(),
            &outbound,
        ));
        Self::with_fetcher(settings, issuer_keys, store, outbound, fetcher)
    }

    /// As [`Verifier::new`] with another way of fetching documents.
    pub fn with_fetcher(
        settings: &Settings,
        issuer_keys: impl IntoIterator<Item = PublicKey>,
        store: Arc<dyn Store>,
        outbound: outbound::Outbound,
        fetcher: Arc<dyn fetch::Fetch>,
    ) -> Result<Self, VerifierKeyError> {
        let v = &settings.verifier;
        let keys = VerifierKeys::load_or_generate(
            &settings.data_dir,
            &settings.public_url,
            ClientIdPrefix::from_setting(&v.client_id_prefix),
            match (settings.demo, settings.profile) {
                (true, _) => Certificates::DemoCa,
                (false, crate::config::Profile::Default) => Certificates::Operator,
                (false, crate::config::Profile::Haip) => Certificates::OperatorRequired,
            },
        )?;
        let identities = Identities::new(PartyIdentity::operator(&keys).map_err(|_| {
            VerifierKeyError::Certificate {
                path: settings.data_dir.join("keys").display().to_string(),
                why: "the verifier key cannot be used as the default party's identity".into(),
            }
        })?);
        Ok(Verifier {
            keys,
            identities,
            settings: v.clone(),
            public_url: settings.public_url.clone(),
            trust: trust::Trust::new(
                settings.public_url.as_str(),
                issuer_keys,
                &v.trusted_issuers,
                fetcher.clone(),
            ),
            status: status::StatusChecker::new(fetcher),
            callback_agent: outbound.agent(callback::TIMEOUT, None),
            outbound,
            haip: settings.profile == crate::config::Profile::Haip,
            store,
            registry_secret: std::sync::OnceLock::new(),
        })
    }

    /// Also trusts issuers whose `x5c` chain validates to one of `anchors`
    /// (`[verifier.trust] anchors`).
    pub fn with_anchors(mut self, anchors: crate::crypto::x509::Anchors) -> Self {
        self.trust.set_anchors(anchors);
        self
    }

    pub fn client_id(&self) -> &str {
        self.keys.client_id.as_str()
    }

    pub fn request_uri(&self, id: &RequestId) -> String {
        self.public_url.join(&format!("{REQUEST_URI_PATH}{}", id.0))
    }

    pub fn response_uri(&self, id: &ResponseId) -> String {
        self.public_url
            .join(&format!("{RESPONSE_URI_PATH}{}", id.0))
    }

    /// The `openid4vp://` link a QR carries for a request (OpenID4VP 1.0
    /// §5.7): the transaction's own client id (its party's, as the request
    /// object carries it; §5.10.1 wants the two identical), with `request_uri_method=post` when the transaction asks for
    /// it (§5.10).
    pub fn authorization_request(&self, tx: &Transaction) -> String {
        let method = match tx.request_uri_method {
            transaction::RequestUriMethod::Get => "",
            transaction::RequestUriMethod::Post => "&request_uri_method=post",
        };
        format!(
            "openid4vp://?client_id={}&request_uri={}{method}",
            percent_encode(&tx.client_id),
            percent_encode(&self.request_uri(&tx.request_id))
        )
    }

    /// The host of the public URL (the SAN of the leaves the demo CA
    /// issues to relying parties).
    pub fn public_host(&self) -> String {
        keys::host_of(&self.public_url)
    }

    /// The identity that signs `party`'s request objects: `default` is the
    /// operator's; a registered party's is made from its record as the
    /// store holds it now (one store read per call), so a party deleted on
    /// any node is [`IdentityError::UnknownParty`] on every node at once and
    /// a changed record (rename, new chain) is signed with at once. Without
    /// the registry attached ([`Verifier::attach_registry`]) only `default`
    /// has an identity.
    pub async fn identity_of(
        &self,
        party: &str,
        now: i64,
    ) -> Result<Arc<PartyIdentity>, IdentityError> {
        if party == DEFAULT_PARTY {
            return Ok(self.identities.default.clone());
        }
        let Some(secret) = self.registry_secret.get() else {
            return Err(IdentityError::UnknownParty(party.to_owned()));
        };
        parties::identity(self, party, secret, now)
            .await?
            .ok_or_else(|| IdentityError::UnknownParty(party.to_owned()))
    }

    /// The identity of `party` as authenticated for this request: `default`
    /// is the operator; a registered party's is made from the record its
    /// key was just checked against (as [`Verifier::identity_of`] does
    /// after reading it).
    pub async fn identity_of_party(
        &self,
        party: &crate::parties::Party,
        now: i64,
    ) -> Result<Arc<PartyIdentity>, IdentityError> {
        let crate::parties::Party::Registered(record) = party else {
            return Ok(self.identities.default.clone());
        };
        let Some(secret) = self.registry_secret.get() else {
            return Err(IdentityError::UnknownParty(record.id.to_string()));
        };
        parties::identity_of_record(self, (**record).clone(), secret, now)
            .await?
            .ok_or_else(|| IdentityError::UnknownParty(record.id.to_string()))
    }

    /// A registered party's identity from its record at `version`: the one
    /// cached for that very version (unless its registration certificate
    /// expired), or made from the record (key opened with the store secret,
    /// registration certificate signed by the operator) and cached in its
    /// place. `default` is never made from a record.
    pub(crate) fn party_identity(
        &self,
        party: &str,
        version: u64,
        stored: &identity::StoredIdentity,
        secret: &crate::keystore::StoreSecret,
        registration: &identity::Registration,
        now: i64,
    ) -> Result<Arc<PartyIdentity>, IdentityError> {
        if party == DEFAULT_PARTY {
            return Err(IdentityError::UnknownParty(party.to_owned()));
        }
        if let Some(cached) = self.identities.get(party, version, now) {
            return Ok(cached);
        }
        let made = Arc::new(PartyIdentity::from_stored(
            party,
            stored,
            secret,
            registration,
            &self.keys,
            now,
        )?);
        self.identities.put(version, made.clone());
        Ok(made)
    }

    /// Makes [`Verifier::identity_of`] read registered parties' identities
    /// from the registry (`secret` opens their stored keys).
    pub fn attach_registry(&self, secret: crate::keystore::StoreSecret) {
        let _ = self.registry_secret.set(secret);
    }

    /// Drops `party`'s cached identity (its record is gone: deleted here,
    /// or found missing by [`Verifier::identity_of`]); frees memory only, as
    /// a missing record is refused whatever the cache holds.
    pub(crate) fn forget_identity(&self, party: &str) {
        self.identities.remove(party);
    }

    pub(crate) fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }
}

/// The identities by party: `default` fixed, the others a small cache keyed
/// by party id and record version (identity material changes rarely).
struct Identities {
    default: Arc<PartyIdentity>,
    parties: RwLock<HashMap<String, (u64, Arc<PartyIdentity>)>>,
}

impl Identities {
    fn new(default: PartyIdentity) -> Self {
        Identities {
            default: Arc::new(default),
            parties: RwLock::new(HashMap::new()),
        }
    }

    /// `party`'s cached identity if it was made from record `version` and
    /// its registration certificate is still valid at `now`.
    fn get(&self, party: &str, version: u64, now: i64) -> Option<Arc<PartyIdentity>> {
        let map = self.parties.read().unwrap_or_else(|e| e.into_inner());
        let (v, identity) = map.get(party)?;
        let current = *v == version;
        let unexpired = identity.registration_expires_at.is_none_or(|exp| now < exp);
        (current && unexpired).then(|| identity.clone())
    }

    fn put(&self, version: u64, identity: Arc<PartyIdentity>) {
        let mut map = self.parties.write().unwrap_or_else(|e| e.into_inner());
        map.insert(identity.party.clone(), (version, identity));
    }

    fn remove(&self, party: &str) {
        let mut map = self.parties.write().unwrap_or_else(|e| e.into_inner());
        map.remove(party);
    }
}

/// Percent-encodes a query component (RFC 3986 unreserved characters kept).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3 / 2);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
