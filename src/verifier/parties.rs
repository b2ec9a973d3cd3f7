//! The relying-party registry in the store (namespace [`NS_PARTY`], key:
//! the party id), its quotas ([`NS_QUOTA`]) and audit trails
//! ([`NS_AUDIT`]); the rules are in [`crate::parties`].
//!
//! Every authenticated call reads the party's record from the store — no
//! cache — so a rotated key or a deleted party stops working at once on
//! every node. Rotation replaces the key hash in one read-modify-write.
//! Quotas are counted in the store too (one read-modify-write per limited
//! call, only for parties that have a `requests_per_minute`), so they hold
//! across nodes.

use std::sync::Arc;

use serde_json::Value;

use super::Verifier;
use super::dcql::DcqlQuery;
use super::identity::{self as ident, IdentityError, PartyIdentity, StoredIdentity};
use super::presentation::PresentationError;
use super::request::PartyOptions;
use super::request::{CreateError, query_of};
use super::response::ResponseError;
use crate::config::VerifierSettings;
use crate::keystore::StoreSecret;
use crate::parties::audit::{self, AuditEntry, FailureReason};
use crate::parties::quota::{RetryAfter, WINDOW, Window};
use crate::parties::{
    Denied, Party, PartyError, PartyId, PartyView, Patch, Registered, Registration, RelyingParty,
    key,
};
use crate::store::{self, Store, StoreError, Update};

/// Store namespace of registered parties (key: party id).
pub const NS_PARTY: &str = "rp";
/// Store namespace of quota windows (key: party id).
pub const NS_QUOTA: &str = "rp_quota";
/// Store namespace of audit entries (key: [`audit::key`]).
pub const NS_AUDIT: &str = "rp_audit";
/// Parties one listing returns at most.
pub const MAX_LIST: usize = 10_000;

/// Why an admin call on the registry failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("no relying party with this id")]
    NotFound,
    #[error(transparent)]
    Invalid(#[from] PartyError),
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error(transparent)]
    Upload(#[from] ident::UploadError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a party may not make a request or scan now.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// The request itself is invalid (as without parties).
    #[error(transparent)]
    Query(#[from] CreateError),
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error("requests_per_minute: this relying party's quota is used up; retry after {} s", .0.0)]
    Quota(RetryAfter),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The registry.
pub struct Parties {
    store: Arc<dyn Store>,
}

impl std::fmt::Debug for Parties {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Parties")
    }
}

impl Parties {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Parties { store }
    }

    /// Registers a party: its record, its own request-signing key (with a
    /// leaf from the demo CA in demo mode; `verifier` holds the CA, `secret`
    /// seals the key) and its API key, shown this once.
    pub async fn register(
        &self,
        r: Registration,
        verifier: &Verifier,
        secret: &StoreSecret,
        now: i64,
    ) -> Result<Registered, RegistryError> {
        let id = PartyId::generate();
        let key = key::issue(&id);
        let mut party = r.into_party(id, key.stored, now)?;
        party.identity = Some(StoredIdentity::register(
            party.id.as_str(),
            &party.common_name(),
            &verifier.keys,
            &verifier.public_host(),
            secret,
            now,
        )?);
        self.store
            .insert(
                NS_PARTY,
                party.id.to_string(),
                store::to_bytes(&party)?,
                None,
                now,
            )
            .await?;
        Ok(Registered {
            api_key: key.api_key,
            party: PartyView::of(&party),
        })
    }

    fn id(id: &str) -> Result<PartyId, RegistryError> {
        PartyId::parse(id).ok_or(RegistryError::NotFound)
    }

    /// A registered party (not the built-in one).
    pub async fn get(&self, id: &str, now: i64) -> Result<RelyingParty, RegistryError> {
        let id = Self::id(id)?;
        let bytes = self
            .store
            .get(NS_PARTY, id.to_string(), now)
            .await?
            .ok_or(RegistryError::NotFound)?;
        Ok(store::from_bytes(&bytes)?)
    }

    /// The registered parties in id order (at most [`MAX_LIST`]).
    pub async fn list(&self, now: i64) -> Result<Vec<RelyingParty>, RegistryError> {
        let entries = self
            .store
            .scan(NS_PARTY, String::new(), now, MAX_LIST)
            .await?;
        entries
            .iter()
            .map(|e| store::from_bytes(&e.value).map_err(RegistryError::from))
            .collect()
    }

    /// Applies `patch` in one read-modify-write. A rename in demo mode
    /// needs a new demo-CA leaf naming the party: it is issued first and
    /// committed with the rename in that one write, so the two never come
    /// apart (a failed write changes neither).
    pub async fn patch(
        &self,
        id: &str,
        patch: Patch,
        verifier: &Verifier,
        secret: &StoreSecret,
        now: i64,
    ) -> Result<RelyingParty, RegistryError> {
        let id = Self::id(id)?;
        if id.is_builtin() {
            return Err(PartyError::Builtin.into());
        }
        let leaf = match patch.name {
            Some(_) => {
                self.renamed_leaf(&id, &patch, verifier, secret, now)
                    .await?
            }
            None => None,
        };
        let decide = move |cur: Option<&[u8]>| -> Result<RelyingParty, RegistryError> {
            let mut p: RelyingParty = store::from_bytes(cur.ok_or(RegistryError::NotFound)?)?;
            patch.clone().apply(&mut p, now)?;
            // Only over the demo leaf of the same key (an upload in
            // between wins).
            if let Some(leaf) = &leaf
                && p.identity.as_ref().is_some_and(|i| {
                    i.public_jwk == leaf.public_jwk && i.source == ident::CertificateSource::DemoCa
                })
            {
                p.identity = Some(leaf.clone());
            }
            Ok(p)
        };
        modify(self.store.as_ref(), id, now, decide).await
    }

    /// The party's identity with a demo-CA leaf naming it as `patch` renames
    /// it, unless its chain came from the operator (or there is no demo
    /// CA). Nothing is written.
    async fn renamed_leaf(
        &self,
        id: &PartyId,
        patch: &Patch,
        verifier: &Verifier,
        secret: &StoreSecret,
        now: i64,
    ) -> Result<Option<StoredIdentity>, RegistryError> {
        let mut p = self.get(id.as_str(), now).await?;
        patch.clone().apply(&mut p, now)?;
        let Some(mut stored) = p
            .identity
            .clone()
            .filter(|i| i.source == ident::CertificateSource::DemoCa)
        else {
            return Ok(None);
        };
        let issued = stored.issue_demo_leaf(
            p.id.as_str(),
            &p.common_name(),
            &verifier.keys,
            &verifier.public_host(),
            secret,
            now,
        )?;
        Ok(issued.then_some(stored))
    }

    /// Replaces the party's key: the old one fails from this commit on.
    pub async fn rotate(&self, id: &str, now: i64) -> Result<String, RegistryError> {
        let id = Self::id(id)?;
        if id.is_builtin() {
            return Err(PartyError::Builtin.into());
        }
        let key = key::issue(&id);
        let stored = key.stored;
        let decide = move |cur: Option<&[u8]>| -> Result<RelyingParty, RegistryError> {
            let mut p: RelyingParty = store::from_bytes(cur.ok_or(RegistryError::NotFound)?)?;
            p.key = stored.clone();
            p.key_created_at = now;
            p.updated_at = now;
            Ok(p)
        };
        modify(self.store.as_ref(), id, now, decide).await?;
        Ok(key.api_key)
    }

    /// Replaces the party's certificate chain with one the operator's CA
    /// issued for its public key (PEM, leaf first; see
    /// [`StoredIdentity::with_uploaded_chain`]): its client id becomes the
    /// new leaf's, on every node at once.
    pub async fn upload_chain(
        &self,
        id: &str,
        pem: String,
        secret: &StoreSecret,
        now: i64,
    ) -> Result<RelyingParty, RegistryError> {
        let id = Self::id(id)?;
        if id.is_builtin() {
            return Err(PartyError::Builtin.into());
        }
        let secret = secret.clone();
        let decide = move |cur: Option<&[u8]>| -> Result<RelyingParty, RegistryError> {
            let mut p: RelyingParty = store::from_bytes(cur.ok_or(RegistryError::NotFound)?)?;
            let stored = p.identity.clone().ok_or(IdentityError::NotCertified)?;
            p.identity = Some(stored.with_uploaded_chain(p.id.as_str(), &secret, &pem, now)?);
            p.updated_at = now;
            p.version = p.version.saturating_add(1);
            Ok(p)
        };
        modify(self.store.as_ref(), id, now, decide).await
    }

    /// Deletes a party: its key fails at once, its transactions answer 404
    /// to everyone, its quota window goes; its audit entries stay
    /// unreachable until their retention ends.
    pub async fn delete(&self, id: &str) -> Result<(), RegistryError> {
        let id = Self::id(id)?;
        if id.is_builtin() {
            return Err(PartyError::Builtin.into());
        }
        if !self.store.delete(NS_PARTY, id.to_string()).await? {
            return Err(RegistryError::NotFound);
        }
        self.store.delete(NS_QUOTA, id.to_string()).await?;
        Ok(())
    }

    /// The registered party whose key `token` is, if it is one.
    pub async fn authenticate(
        &self,
        token: &str,
        now: i64,
    ) -> Result<Option<RelyingParty>, StoreError> {
        let Some((id, secret)) = key::parse(token) else {
            return Ok(None);
        };
        let Some(bytes) = self.store.get(NS_PARTY, id.to_string(), now).await? else {
            // An unknown id pays the hash a known one does, so ids cannot
            // be told apart by timing.
            key::ApiKeyHash::dummy().matches(secret);
            return Ok(None);
        };
        let party: RelyingParty = store::from_bytes(&bytes)?;
        Ok(party.key.matches(secret).then_some(party))
    }

    /// Whether the key `party` was authenticated with is still its key:
    /// `false` once the key was rotated or the party deleted (one store
    /// read; what a long-lived call re-checks now and then).
    pub async fn still_holds_key(
        &self,
        party: &RelyingParty,
        now: i64,
    ) -> Result<bool, StoreError> {
        let Some(bytes) = self.store.get(NS_PARTY, party.id.to_string(), now).await? else {
            return Ok(false);
        };
        let current: RelyingParty = store::from_bytes(&bytes)?;
        Ok(current.key == party.key)
    }

    /// Whether `party` may ask for `preset` / `dcql_query` (with
    /// `callback_url`): the query is valid and inside its entitlements.
    /// The query, resolved once, for the request to use.
    pub fn check(
        &self,
        party: &Party,
        preset: Option<&str>,
        dcql_query: Option<&Value>,
        callback_url: Option<&str>,
    ) -> Result<DcqlQuery, AccessError> {
        let query = query_of(preset, dcql_query)?;
        party.entitlements().allows_request(preset, &query)?;
        party.allows_callback(callback_url)?;
        Ok(query)
    }

    /// Uses one call of `party`'s quota, if it has one (the operator has
    /// none). Called once a request is known to be valid: a request
    /// refused for its input (400, 403) does not count.
    pub async fn use_quota(&self, party: &Party, now: i64) -> Result<(), AccessError> {
        match (party, party.requests_per_minute()) {
            (Party::Registered(p), Some(limit)) => self.admit(&p.id, limit, now).await,
            _ => Ok(()),
        }
    }

    async fn admit(&self, id: &PartyId, limit: u32, now: i64) -> Result<(), AccessError> {
        let decide = move |cur: Option<&[u8]>| {
            let w: Window = cur
                .and_then(|b| store::from_bytes(b).ok())
                .unwrap_or_default();
            w.admit(limit, now)
        };
        let seen = self
            .store
            .update(
                NS_QUOTA,
                id.to_string(),
                now,
                Box::new(
                    move |cur| match decide(cur).map(|w| (store::to_bytes(&w), w.start)) {
                        Ok((Ok(value), start)) => Update::Put {
                            value,
                            expires_at: Some(start + 2 * WINDOW),
                        },
                        _ => Update::Keep,
                    },
                ),
            )
            .await?;
        decide(seen.as_deref())
            .map(|_| ())
            .map_err(AccessError::Quota)
    }

    /// Adds a verification to the party's audit trail. Best effort: the
    /// result is recorded already, so a failure is logged, not returned.
    pub async fn record(&self, party: &str, at: i64, entry: AuditEntry) {
        let Some(party) = PartyId::parse(party) else {
            return;
        };
        let party = &party;
        let key = audit::key(party, at, &entry.transaction_id);
        let put = match store::to_bytes(&entry) {
            Ok(value) => {
                self.store
                    .put(NS_AUDIT, key, value, Some(at + audit::RETENTION))
                    .await
            }
            Err(e) => Err(e),
        };
        if let Err(e) = put {
            tracing::warn!(error = %e, "could not write an audit entry");
        }
    }

    /// The newest `limit` entries of a registered party's audit trail.
    pub async fn audit(
        &self,
        id: &str,
        limit: usize,
        now: i64,
    ) -> Result<Vec<AuditEntry>, RegistryError> {
        // The built-in party's trail is the operator's own; it has no
        // record to find.
        let party = match Self::id(id)? {
            builtin if builtin.is_builtin() => builtin,
            _ => self.get(id, now).await?.id,
        };
        let entries = self
            .store
            .scan(
                NS_AUDIT,
                audit::prefix(&party),
                now,
                limit.clamp(1, audit::MAX_LIMIT),
            )
            .await?;
        entries
            .iter()
            .map(|e| store::from_bytes(&e.value).map_err(RegistryError::from))
            .collect()
    }
}

/// Runs `decide` on the stored record of party `id` inside the write
/// transaction (an `Err` writes nothing) and again on what it saw (it is
/// pure), to learn the outcome.
async fn modify<F>(
    store: &dyn Store,
    id: PartyId,
    now: i64,
    decide: F,
) -> Result<RelyingParty, RegistryError>
where
    F: Fn(Option<&[u8]>) -> Result<RelyingParty, RegistryError> + Clone + Send + 'static,
{
    let inside = decide.clone();
    let seen = store
        .update(
            NS_PARTY,
            id.to_string(),
            now,
            Box::new(
                move |cur| match inside(cur).and_then(|p| Ok(store::to_bytes(&p)?)) {
                    Ok(value) => Update::Put {
                        value,
                        expires_at: None,
                    },
                    Err(_) => Update::Keep,
                },
            ),
        )
        .await?;
    decide(seen.as_deref())
}

/// What `party` registered that shapes its requests.
pub fn options<'a>(party: &'a Party, settings: &'a VerifierSettings) -> PartyOptions<'a> {
    match party {
        Party::Default => PartyOptions::of_settings(settings),
        Party::Registered(p) => PartyOptions {
            redirect_uris: &p.redirect_uris,
            request_uri_method: p.request_uri_method,
        },
    }
}

/// A demo-CA leaf is renewed when less than this (30 days) remains of it.
pub const RENEW_DEMO_LEAF: i64 = 30 * 86_400;

/// A registered party's identity from its current record (`None` when no
/// record has this id, and then no cached identity of it is kept): the
/// verifier's cached one for the record's version, or made from the
/// record. A demo-CA leaf with less than [`RENEW_DEMO_LEAF`] left is
/// renewed first ([`renew_demo_leaf`]); an operator's chain whose leaf
/// expired is refused ([`IdentityError::CertificateExpired`]).
pub async fn identity(
    verifier: &Verifier,
    party: &str,
    secret: &StoreSecret,
    now: i64,
) -> Result<Option<Arc<PartyIdentity>>, IdentityError> {
    let Some(id) = PartyId::parse(party) else {
        return Ok(None);
    };
    let stored = verifier.store().get(NS_PARTY, id.to_string(), now).await?;
    let Some(bytes) = stored else {
        verifier.forget_identity(party);
        return Ok(None);
    };
    let p: RelyingParty =
        store::from_bytes(&bytes).map_err(|_| IdentityError::Malformed("record"))?;
    identity_of_record(verifier, p, secret, now).await
}

/// [`identity`] of a record already read (`None`: it was deleted while its
/// demo leaf was being renewed).
pub async fn identity_of_record(
    verifier: &Verifier,
    p: RelyingParty,
    secret: &StoreSecret,
    now: i64,
) -> Result<Option<Arc<PartyIdentity>>, IdentityError> {
    let party = p.id.to_string();
    let Some(p) = renew_demo_leaf(verifier, p, secret, now).await? else {
        verifier.forget_identity(&party);
        return Ok(None);
    };
    let Some(stored) = &p.identity else {
        return Err(IdentityError::NotCertified);
    };
    verifier
        .party_identity(&party, p.version, stored, secret, &p.registration(), now)
        .map(Some)
}

/// `p` with a leaf that is still valid: a demo-CA leaf with less than
/// [`RENEW_DEMO_LEAF`] left is re-issued and written in one conditional
/// update — only over the record version it was issued for, so of two
/// nodes renewing at once the first write wins and the other takes the
/// record as that write left it. `None` when the record is gone meanwhile.
/// An expired leaf that cannot be renewed (the operator's, or a demo one
/// once there is no demo CA) is [`IdentityError::CertificateExpired`].
async fn renew_demo_leaf(
    verifier: &Verifier,
    p: RelyingParty,
    secret: &StoreSecret,
    now: i64,
) -> Result<Option<RelyingParty>, IdentityError> {
    let Some(stored) = &p.identity else {
        return Ok(Some(p));
    };
    let Some(not_after) = stored.leaf_expires_at()? else {
        return Ok(Some(p));
    };
    let due = stored.source == ident::CertificateSource::DemoCa
        && not_after.saturating_sub(now) < RENEW_DEMO_LEAF;
    let mut renewed = stored.clone();
    if !due
        || !renewed.issue_demo_leaf(
            p.id.as_str(),
            &p.common_name(),
            &verifier.keys,
            &verifier.public_host(),
            secret,
            now,
        )?
    {
        return match not_after <= now {
            true => Err(IdentityError::CertificateExpired(not_after)),
            false => Ok(Some(p)),
        };
    }
    let version = p.version;
    let renew = move |r: &mut RelyingParty, leaf: StoredIdentity| {
        let same = r.version == version;
        if same {
            r.identity = Some(leaf);
            r.version = version.saturating_add(1);
        }
        same
    };
    let leaf = renewed.clone();
    let before = verifier
        .store()
        .update(
            NS_PARTY,
            p.id.to_string(),
            now,
            Box::new(move |cur| {
                let Some(mut r) = cur.and_then(|b| store::from_bytes::<RelyingParty>(b).ok())
                else {
                    return Update::Keep;
                };
                match renew(&mut r, leaf).then(|| store::to_bytes(&r)) {
                    Some(Ok(value)) => Update::Put {
                        value,
                        expires_at: None,
                    },
                    Some(Err(_)) | None => Update::Keep,
                }
            }),
        )
        .await?;
    let Some(before) = before else {
        return Ok(None);
    };
    let mut r: RelyingParty =
        store::from_bytes(&before).map_err(|_| IdentityError::Malformed("record"))?;
    renew(&mut r, renewed);
    Ok(Some(r))
}

/// Whether a transaction's party still exists: `default` always (no store
/// read), a registered one while its record is stored. A deleted party's
/// pending transactions take no answer and send no callback.
pub(crate) async fn party_exists(
    verifier: &Verifier,
    party: &str,
    now: i64,
) -> Result<bool, StoreError> {
    if party == crate::parties::DEFAULT_PARTY {
        return Ok(true);
    }
    let Some(id) = PartyId::parse(party) else {
        return Ok(false);
    };
    Ok(verifier
        .store()
        .get(NS_PARTY, id.to_string(), now)
        .await?
        .is_some())
}

/// The fixed-set reason of a response that failed its transaction; `None`
/// for one that left the transaction as it was.
pub fn failure_reason(e: &ResponseError) -> Option<FailureReason> {
    if !e.fails_transaction() {
        return None;
    }
    Some(match e {
        // A presentation that verified but lacks a requested claim or value.
        ResponseError::Presentation {
            error: PresentationError::Match(_),
            ..
        }
        | ResponseError::Match(_) => FailureReason::QueryUnmet,
        ResponseError::Presentation { .. } => FailureReason::InvalidPresentation,
        ResponseError::Empty | ResponseError::VpTokenShape | ResponseError::NotMultiple(_) => {
            FailureReason::MalformedResponse
        }
        ResponseError::Jwe(_)
        | ResponseError::EncryptedWrongState
        | ResponseError::PlainToEncrypted
        | ResponseError::UnexpectedEncryption => FailureReason::Encryption,
        ResponseError::UnknownRequest
        | ResponseError::Replay
        | ResponseError::NotRetrieved
        | ResponseError::Expired
        | ResponseError::MissingState
        | ResponseError::WrongState
        | ResponseError::Store(_) => return None,
    })
}

/// Test doubles shared by the verifier's unit tests.
#[cfg(test)]
pub(crate) mod testing {
    use std::path::Path;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::NS_PARTY;
    use crate::store::{BoxFut, Entry, Store, StoreError, TxOp, UpdateAndFn};
    use crate::verifier::Verifier;

    /// A store whose reads of party records fail as an unreachable
    /// database's do while `down` is set; everything else works.
    pub struct PartyOutage {
        inner: Arc<dyn Store>,
        down: AtomicBool,
    }

    impl Store for PartyOutage {
        fn insert(
            &self,
            ns: &'static str,
            key: String,
            value: Vec<u8>,
            expires_at: Option<i64>,
            now: i64,
        ) -> BoxFut<'_, Result<(), StoreError>> {
            self.inner.insert(ns, key, value, expires_at, now)
        }
        fn put(
            &self,
            ns: &'static str,
            key: String,
            value: Vec<u8>,
            expires_at: Option<i64>,
        ) -> BoxFut<'_, Result<(), StoreError>> {
            self.inner.put(ns, key, value, expires_at)
        }
        fn get(
            &self,
            ns: &'static str,
            key: String,
            now: i64,
        ) -> BoxFut<'_, Result<Option<Vec<u8>>, StoreError>> {
            if ns == NS_PARTY && self.down.load(Ordering::SeqCst) {
                return Box::pin(async { Err(StoreError::Unavailable) });
            }
            self.inner.get(ns, key, now)
        }
        fn take(
            &self,
            ns: &'static str,
            key: String,
            now: i64,
        ) -> BoxFut<'_, Result<Option<Vec<u8>>, StoreError>> {
            self.inner.take(ns, key, now)
        }
        fn update_and(
            &self,
            ns: &'static str,
            key: String,
            now: i64,
            f: UpdateAndFn,
        ) -> BoxFut<'_, Result<Option<Vec<u8>>, StoreError>> {
            self.inner.update_and(ns, key, now, f)
        }
        fn delete(&self, ns: &'static str, key: String) -> BoxFut<'_, Result<bool, StoreError>> {
            self.inner.delete(ns, key)
        }
        fn scan(
            &self,
            ns: &'static str,
            prefix: String,
            now: i64,
            limit: usize,
        ) -> BoxFut<'_, Result<Vec<Entry>, StoreError>> {
            self.inner.scan(ns, prefix, now, limit)
        }
        fn transact(&self, ops: Vec<TxOp>) -> BoxFut<'_, Result<(), StoreError>> {
            self.inner.transact(ops)
        }
        fn sweep(&self, now: i64, limit: usize) -> BoxFut<'_, Result<usize, StoreError>> {
            self.inner.sweep(now, limit)
        }
        fn ping(&self) -> BoxFut<'_, Result<(), StoreError>> {
            self.inner.ping()
        }
    }

    impl PartyOutage {
        /// Over `inner`, up until [`PartyOutage::set_down`].
        pub fn new(inner: Arc<dyn Store>) -> Self {
            PartyOutage {
                inner,
                down: AtomicBool::new(false),
            }
        }

        pub fn set_down(&self, down: bool) {
            self.down.store(down, Ordering::SeqCst);
        }
    }

    /// A demo-mode verifier for `https://id.example.ru`; nodes of one
    /// deployment share `dir` (their keys) and `store`.
    pub fn verifier(dir: &Path, store: Arc<dyn Store>) -> Verifier {
        let args = crate::config::ServeArgs {
            data_dir: Some(dir.to_owned()),
            public_url: Some("https://id.example.ru".into()),
            demo: true,
            ..Default::default()
        };
        let settings =
            crate::config::Settings::from_layers(args, crate::config::FileConfig::default())
                .unwrap();
        let outbound = crate::verifier::outbound::Outbound::new(Default::default());
        Verifier::new(&settings, [], store, outbound).unwrap()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verifier::dcql::MatchError;
    use crate::verifier::jwe::JweError;

    const T: i64 = 1_790_000_000;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    use super::testing::{PartyOutage, verifier};

    /// A node: a verifier with the registry attached, as the server's.
    fn node(dir: &std::path::Path, store: Arc<dyn Store>, secret: &StoreSecret) -> Verifier {
        let v = verifier(dir, store);
        v.attach_registry(secret.clone());
        v
    }

    /// Two nodes on one store: a node that has the party's identity
    /// cached refuses it once the other deleted the party, and signs with
    /// the renamed party's new identity at once; the cache serves only the
    /// record version the store holds.
    #[test]
    fn the_identity_follows_the_stored_record_on_every_node() {
        let (dir, secret, registry) = deployment();
        let (a, b) = (
            node(dir.path(), registry.store.clone(), &secret),
            node(dir.path(), registry.store.clone(), &secret),
        );
        block_on(async {
            let id = register(&registry, &a, &secret, "Hotel Kosmos").await;
            let first = b.identity_of(&id, T).await.unwrap();
            assert_eq!(first.name.as_deref(), Some("Hotel Kosmos"));
            let again = b.identity_of(&id, T + 1).await.unwrap();
            assert!(Arc::ptr_eq(&first, &again), "cached for the same record");
            // Its registration certificate expired (with the demo leaf,
            // renewed 30 days before): not served from the cache but
            // signed anew, for the renewed leaf.
            let expiry = first.registration_expires_at.unwrap();
            let renewed = b.identity_of(&id, expiry).await.unwrap();
            assert!(!Arc::ptr_eq(&first, &renewed));
            assert_ne!(
                renewed.registration_certificate,
                first.registration_certificate
            );
            assert_ne!(renewed.client_id, first.client_id);

            let patch: Patch =
                serde_json::from_value(serde_json::json!({"name": "Hotel Kosmos-2"})).unwrap();
            let renamed = registry
                .patch(&id, patch, &a, &secret, T + 2)
                .await
                .unwrap();
            let second = b.identity_of(&id, T + 2).await.unwrap();
            assert_eq!(second.name.as_deref(), Some("Hotel Kosmos-2"));
            assert_ne!(second.client_id, first.client_id, "a new demo leaf");
            assert_eq!(
                renamed.identity.unwrap().client_id(),
                Some(second.client_id.clone())
            );

            registry.delete(&id).await.unwrap();
            for v in [&b, &a] {
                let err = v.identity_of(&id, T + 3).await.unwrap_err();
                assert!(matches!(err, IdentityError::UnknownParty(_)), "{err}");
            }
            // Never registered, or not an id at all.
            for party in ["3f9a0c1b2d4e5f607182", "not an id"] {
                let err = b.identity_of(party, T).await.unwrap_err();
                assert!(matches!(err, IdentityError::UnknownParty(_)), "{err}");
            }
            assert_eq!(
                b.identity_of(crate::verifier::DEFAULT_PARTY, T)
                    .await
                    .unwrap()
                    .client_id
                    .as_str(),
                b.client_id()
            );
        });
    }

    fn redb(dir: &std::path::Path) -> Arc<dyn Store> {
        Arc::new(crate::store::redb::RedbStore::open(&dir.join("s.redb")).unwrap())
    }

    /// A deployment's shared parts: its directory (the nodes' keys), its
    /// store secret and the registry on its store.
    fn deployment() -> (tempfile::TempDir, StoreSecret, Parties) {
        let dir = tempfile::tempdir().unwrap();
        let registry = Parties::new(redb(dir.path()));
        (dir, StoreSecret::new(&[5; 32]), registry)
    }

    async fn register(
        registry: &Parties,
        v: &Verifier,
        secret: &StoreSecret,
        name: &str,
    ) -> String {
        let registration: Registration =
            serde_json::from_value(serde_json::json!({"name": name})).unwrap();
        registry
            .register(registration, v, secret, T)
            .await
            .unwrap()
            .party
            .id
            .to_string()
    }

    /// A transaction of a party deleted after the wallet fetched its
    /// request object takes no answer (as an unknown one: nothing changes,
    /// no callback is sent).
    #[test]
    fn a_deleted_partys_transaction_takes_no_answer() {
        use crate::verifier::Status;
        use crate::verifier::request::CreateRequest;
        use crate::verifier::response::WalletResponse;
        let (dir, secret, registry) = deployment();
        let v = node(dir.path(), registry.store.clone(), &secret);
        block_on(async {
            let id = register(&registry, &v, &secret, "Shop").await;
            let req = CreateRequest {
                preset: Some("age_over_18".into()),
                response_mode: Some("direct_post".into()),
                ..CreateRequest::default()
            };
            let created = v
                .create_as(&id, req, false, Default::default(), T)
                .await
                .unwrap();
            let tx_id = created.transaction_id.0;
            let request_id = created.request_uri.rsplit('/').next().unwrap().to_owned();
            let jwt = v.request_object(&request_id, None, T).await.unwrap();
            let ro = crate::crypto::jws::Jws::decode(&jwt)
                .unwrap()
                .payload_json()
                .unwrap();
            let prefix = v.public_url.join(crate::verifier::RESPONSE_URI_PATH);
            let response_id = ro["response_uri"].as_str().unwrap().strip_prefix(&prefix);
            let response_id = response_id.unwrap().to_owned();
            let answer = WalletResponse {
                error: Some("access_denied".into()),
                state: ro["state"].as_str().map(str::to_owned),
                ..WalletResponse::default()
            };

            registry.delete(&id).await.unwrap();
            let r = v.respond(&response_id, answer.clone(), T + 1).await;
            assert!(matches!(r, Err(ResponseError::UnknownRequest)), "{r:?}");
            let tx = v.transaction(&tx_id, T + 1).await.unwrap();
            assert_eq!(tx.status(T + 1), Status::Pending, "nothing recorded");
        });
    }

    /// A rename in demo mode is one write: the new name and the leaf
    /// naming it commit together (the record version moves by one).
    #[test]
    fn a_rename_and_its_leaf_are_one_write() {
        let (dir, secret, registry) = deployment();
        let v = node(dir.path(), registry.store.clone(), &secret);
        block_on(async {
            let id = register(&registry, &v, &secret, "Hotel Kosmos").await;
            let before = registry.get(&id, T).await.unwrap();
            let patch: Patch =
                serde_json::from_value(serde_json::json!({"name": "Hotel Kosmos-2"})).unwrap();
            let renamed = registry
                .patch(&id, patch, &v, &secret, T + 1)
                .await
                .unwrap();
            assert_eq!(renamed.version, before.version + 1, "one write");
            assert_eq!(registry.get(&id, T + 1).await.unwrap(), renamed);
            let leaf = renamed.identity.as_ref().unwrap().chain_der().unwrap();
            let leaf = openssl::x509::X509::from_der(&leaf[0]).unwrap();
            let cn = leaf
                .subject_name()
                .entries_by_nid(openssl::nid::Nid::COMMONNAME)
                .next()
                .unwrap()
                .data()
                .as_slice()
                .to_vec();
            assert_eq!(cn, b"Hotel Kosmos-2");
            // A patch that leaves the name writes no new leaf.
            let patch: Patch =
                serde_json::from_value(serde_json::json!({"requests_per_minute": 5})).unwrap();
            let limited = registry
                .patch(&id, patch, &v, &secret, T + 2)
                .await
                .unwrap();
            assert_eq!(limited.identity, renamed.identity);
        });
    }

    /// A demo-CA leaf is renewed when less than 30 days are left, once:
    /// of two nodes renewing from the same record the first write wins and
    /// the other signs with its leaf.
    #[test]
    fn a_demo_leaf_is_renewed_30_days_before_it_expires() {
        const DAY: i64 = 86_400;
        let (dir, secret, registry) = deployment();
        let (a, b) = (
            node(dir.path(), registry.store.clone(), &secret),
            node(dir.path(), registry.store.clone(), &secret),
        );
        block_on(async {
            let id = register(&registry, &a, &secret, "Shop").await;
            let first = registry.get(&id, T).await.unwrap();
            let expires = first
                .identity
                .as_ref()
                .unwrap()
                .leaf_expires_at()
                .unwrap()
                .unwrap();
            assert_eq!(expires, T + 365 * DAY);
            let early = expires - RENEW_DEMO_LEAF - 1;
            let kept = a.identity_of(&id, early).await.unwrap();
            assert_eq!(
                registry.get(&id, early).await.unwrap(),
                first,
                "not due yet"
            );

            let due = expires - RENEW_DEMO_LEAF + 1;
            let (x, y) = (
                renew_demo_leaf(&a, first.clone(), &secret, due)
                    .await
                    .unwrap()
                    .unwrap(),
                renew_demo_leaf(&b, first.clone(), &secret, due)
                    .await
                    .unwrap()
                    .unwrap(),
            );
            assert_eq!(x.version, first.version + 1);
            assert_eq!(x, y, "the second node takes the first one's leaf");
            let stored = registry.get(&id, due).await.unwrap();
            assert_eq!(stored, x);
            let leaf = stored.identity.as_ref().unwrap();
            assert_eq!(leaf.leaf_expires_at().unwrap(), Some(due + 365 * DAY));
            assert_eq!(leaf.public_jwk, first.identity.as_ref().unwrap().public_jwk);
            let renewed = b.identity_of(&id, due).await.unwrap();
            assert_ne!(renewed.client_id, kept.client_id);
            assert_eq!(Some(renewed.client_id.clone()), leaf.client_id());
            assert!(renewed.registration_expires_at.unwrap() > due + 300 * DAY);
            // Read again: no further renewal.
            a.identity_of(&id, due + 1).await.unwrap();
            assert_eq!(registry.get(&id, due + 1).await.unwrap(), stored);
        });
    }

    /// A presented key whose party id is unknown costs the hash a known
    /// one does.
    #[test]
    fn an_unknown_key_id_pays_the_hash() {
        let (dir, secret, registry) = deployment();
        let v = node(dir.path(), registry.store.clone(), &secret);
        block_on(async {
            let id = register(&registry, &v, &secret, "Shop").await;
            for token in [
                format!("rp_{id}.secret"),
                "rp_3f9a0c1b2d4e5f607182.secret".to_owned(),
            ] {
                let before = key::digests();
                assert!(registry.authenticate(&token, T).await.unwrap().is_none());
                assert_eq!(key::digests() - before, 1, "{token}");
            }
        });
    }

    /// The operator's own trail is readable as `default`'s.
    #[test]
    fn the_default_partys_audit_trail_is_readable() {
        use crate::parties::audit::AuditKind;
        let dir = tempfile::tempdir().unwrap();
        let registry = Parties::new(redb(dir.path()));
        block_on(async {
            let entry = AuditEntry::new(T, "tx1", AuditKind::Request, None);
            registry.record("default", T, entry.clone()).await;
            let trail = registry.audit("default", 10, T + 1).await.unwrap();
            assert_eq!(trail, vec![entry]);
            let err = registry
                .audit("3f9a0c1b2d4e5f607182", 10, T)
                .await
                .unwrap_err();
            assert!(matches!(err, RegistryError::NotFound), "{err}");
        });
    }

    /// A registered party's record that cannot be read is a store error
    /// (503 on the wire), not an unknown party; `default` needs no store.
    #[test]
    fn an_unreadable_record_is_a_store_error() {
        let dir = tempfile::tempdir().unwrap();
        let outage = Arc::new(PartyOutage::new(redb(dir.path())));
        outage.set_down(true);
        let v = node(dir.path(), outage, &StoreSecret::new(&[5; 32]));
        block_on(async {
            let err = v.identity_of("3f9a0c1b2d4e5f607182", T).await.unwrap_err();
            assert!(
                matches!(err, IdentityError::Store(StoreError::Unavailable)),
                "{err}"
            );
            assert!(v.identity_of("default", T).await.is_ok());
        });
    }

    /// The cache never stands in for the store: without the registry only
    /// `default` has an identity, and `default` is never made from a record.
    #[test]
    fn without_the_registry_only_default_has_an_identity() {
        let dir = tempfile::tempdir().unwrap();
        let store = redb(dir.path());
        let secret = StoreSecret::new(&[5; 32]);
        let a = node(dir.path(), store.clone(), &secret);
        let registry = Parties::new(store.clone());
        let lone = verifier(dir.path(), store);
        block_on(async {
            let id = register(&registry, &a, &secret, "Shop").await;
            assert!(a.identity_of(&id, T).await.is_ok());
            let err = lone.identity_of(&id, T).await.unwrap_err();
            assert!(matches!(err, IdentityError::UnknownParty(_)), "{err}");
            assert!(lone.identity_of("default", T).await.is_ok());
        });
        let stored =
            StoredIdentity::register("default", "Imposter", &a.keys, &a.public_host(), &secret, T)
                .unwrap();
        let registration = ident::Registration {
            name: "Imposter".into(),
            display_name: None,
            presets: Vec::new(),
            claims: Default::default(),
        };
        let err = a
            .party_identity("default", 1, &stored, &secret, &registration, T)
            .unwrap_err();
        assert!(matches!(err, IdentityError::UnknownParty(_)), "{err}");
    }

    #[test]
    fn failure_reasons_come_from_the_fixed_set() {
        let cases = [
            (
                ResponseError::Presentation {
                    id: "q".into(),
                    error: PresentationError::Match(MatchError::WrongVct("q".into())),
                },
                Some(FailureReason::QueryUnmet),
            ),
            (
                ResponseError::Presentation {
                    id: "q".into(),
                    error: PresentationError::Malformed,
                },
                Some(FailureReason::InvalidPresentation),
            ),
            (
                ResponseError::Match(MatchError::MissingCredential("q".into())),
                Some(FailureReason::QueryUnmet),
            ),
            (
                ResponseError::VpTokenShape,
                Some(FailureReason::MalformedResponse),
            ),
            (
                ResponseError::PlainToEncrypted,
                Some(FailureReason::Encryption),
            ),
            (
                ResponseError::Jwe(JweError::NotJson),
                Some(FailureReason::Encryption),
            ),
            // Not shown to come from the wallet: the transaction is unchanged.
            (ResponseError::Jwe(JweError::Decrypt), None),
            (ResponseError::WrongState, None),
            (ResponseError::Replay, None),
        ];
        for (e, want) in cases {
            assert_eq!(failure_reason(&e), want, "{e}");
        }
    }
}
