//! The request object at `request_uri` (OpenID4VP 1.0 §5, RFC 9101): a JWT
//! `typ: oauth-authz-req+jwt` signed by the verifier key, fetched by GET or
//! by POST (`request_uri_method=post`, §5.10, echoing `wallet_nonce`).
//!
//! Single use: the first fetch within the request's 30 s moves the
//! transaction to `RequestObjectRetrieved` and opens the response window; a
//! second fetch is refused (`invalid_request`) and leaves the transaction
//! as it is, so whoever fetched first is the only one who can answer. The
//! request object is the only place that discloses `response_uri` (its own
//! random id), `state` and the response key: what an answer must show to
//! change the transaction.

use serde_json::{Value, json};

use super::Verifier;
use super::dcql::FORMAT_SD_JWT_VC;
use super::jwe;
use super::transaction::{NS_REQUEST, NS_TRANSACTION, ResponseMode, Transaction, TransitionError};
use crate::crypto::jws;
use crate::store::{self, StoreError, Update};

/// JWS `typ` of a request object (RFC 9101 §10.8).
pub const TYP: &str = "oauth-authz-req+jwt";
/// Media type of the request URI response.
pub const MEDIA_TYPE: &str = "application/oauth-authz-req+jwt";
/// Static `aud` of a request object (OpenID4VP 1.0 §5.8).
const AUD: &str = "https://self-issued.me/v2";
/// `sd-jwt_alg_values` and `kb-jwt_alg_values` of `client_metadata`: fully
/// specified identifiers (OpenID4VP 1.0, SD-JWT VC format metadata; RFC
/// 9864), so `Ed25519`, not `EdDSA` (whose headers are still accepted).
const FULLY_SPECIFIED_ALGS: &[&str] = &["ES256", "Ed25519"];

/// Why a request object is not served.
#[derive(Debug, thiserror::Error)]
pub enum RequestObjectError {
    #[error("no request with this id")]
    UnknownRequest,
    #[error("the request has expired")]
    Expired,
    #[error("the request object has already been retrieved; it is single use")]
    AlreadyRetrieved,
    #[error("wallet_nonce: must be 1 to 256 URL-safe characters")]
    BadWalletNonce,
    #[error("signing the request object failed")]
    Signing,
    #[error("the relying party's identity is not available (deleted, or its certificate changed)")]
    Identity,
    /// The party's identity exists but cannot be used: its sealed key does
    /// not open, its record is malformed, or signing its registration
    /// certificate failed (ours, not the wallet's).
    #[error("the relying party's identity cannot be used: {0}")]
    PartyKey(#[source] super::IdentityError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl RequestObjectError {
    /// Why the transaction's party cannot sign now: its record could not
    /// be read (the store's error: 503 while it is unavailable), the party
    /// is gone or has no certificate any more (the request is refused as
    /// for a changed certificate), or its identity is broken (a 500).
    pub fn of_identity(e: super::IdentityError) -> Self {
        use super::IdentityError as E;
        match e {
            E::Store(e) => RequestObjectError::Store(e),
            E::UnknownParty(_) | E::NotCertified => RequestObjectError::Identity,
            e @ (E::Sealed(_) | E::Malformed(_) | E::Crypto) => RequestObjectError::PartyKey(e),
        }
    }
}

impl Verifier {
    /// Serves the request object for the wallet-facing `request_id`.
    pub async fn request_object(
        &self,
        request_id: &str,
        wallet_nonce: Option<&str>,
        now: i64,
    ) -> Result<String, RequestObjectError> {
        if let Some(n) = wallet_nonce {
            let ok = !n.is_empty()
                && n.len() <= 256
                && n.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.~+/=".contains(&b));
            if !ok {
                return Err(RequestObjectError::BadWalletNonce);
            }
        }
        let tx_id = self
            .store()
            .get(NS_REQUEST, request_id.to_owned(), now)
            .await?
            .ok_or(RequestObjectError::UnknownRequest)?;
        let tx_id = String::from_utf8(tx_id).map_err(|_| RequestObjectError::UnknownRequest)?;
        // The party's identity before the request is marked retrieved: a
        // party that cannot sign now (its record unreadable while the store
        // is down) leaves the single-use request for the wallet's retry.
        let party = self
            .store()
            .get(NS_TRANSACTION, tx_id.clone(), now)
            .await?
            .and_then(|b| store::from_bytes::<Transaction>(&b).ok())
            .ok_or(RequestObjectError::UnknownRequest)?
            .party;
        let identity = self
            .identity_of(&party, now)
            .await
            .map_err(RequestObjectError::of_identity)?;
        let window = self.settings.response_window;
        let retention = self.settings.retention;
        let before = self
            .store()
            .update(
                NS_TRANSACTION,
                tx_id,
                now,
                Box::new(move |cur| {
                    let Some(mut tx) = cur
                        .and_then(|b| store::from_bytes::<Transaction>(b).ok())
                        .filter(|t| t.response_id.is_some())
                    else {
                        return Update::Keep;
                    };
                    match tx.retrieve(now, window) {
                        Ok(()) => match store::to_bytes(&tx) {
                            Ok(value) => Update::Put {
                                value,
                                expires_at: Some(tx.retain_until(retention)),
                            },
                            Err(_) => Update::Keep,
                        },
                        Err(_) => Update::Keep,
                    }
                }),
            )
            .await?
            .ok_or(RequestObjectError::UnknownRequest)?;
        // Replay the pure decision to learn what happened.
        let mut tx: Transaction = store::from_bytes(&before)?;
        if tx.response_id.is_none() {
            // Created before response URIs had an id of their own (an
            // upgrade within its 30 s): it cannot be answered; a new one can.
            return Err(RequestObjectError::Expired);
        }
        tx.retrieve(now, window).map_err(|e| match e {
            TransitionError::AlreadyRetrieved | TransitionError::AlreadySubmitted => {
                RequestObjectError::AlreadyRetrieved
            }
            TransitionError::Expired | TransitionError::NotRetrieved => RequestObjectError::Expired,
        })?;
        self.sign_as(&identity, &tx, wallet_nonce, now)
    }

    /// The signed request object of a transaction, signed with its
    /// party's identity: `x5c` = the party's chain, `client_metadata.
    /// client_name` its display name, `verifier_info` its registration
    /// certificate (OpenID4VP 1.0 §5.1). `client_id` is the one stored at
    /// creation; should the party's certificate have changed since, the
    /// request is refused rather than signed under a mismatching hash.
    pub async fn sign_request_object(
        &self,
        tx: &Transaction,
        wallet_nonce: Option<&str>,
        now: i64,
    ) -> Result<String, RequestObjectError> {
        let identity = self
            .identity_of(&tx.party, now)
            .await
            .map_err(RequestObjectError::of_identity)?;
        self.sign_as(&identity, tx, wallet_nonce, now)
    }

    /// [`Verifier::sign_request_object`] with the party's identity at hand.
    fn sign_as(
        &self,
        identity: &super::PartyIdentity,
        tx: &Transaction,
        wallet_nonce: Option<&str>,
        now: i64,
    ) -> Result<String, RequestObjectError> {
        let response_id = tx.response_id.as_ref().ok_or(RequestObjectError::Expired)?;
        if identity.client_id.as_str() != tx.client_id {
            return Err(RequestObjectError::Identity);
        }
        let mut client_metadata = identity.client_name_metadata();
        client_metadata.insert(
            "vp_formats_supported".into(),
            json!({FORMAT_SD_JWT_VC: {
                "sd-jwt_alg_values": FULLY_SPECIFIED_ALGS,
                "kb-jwt_alg_values": FULLY_SPECIFIED_ALGS,
            }}),
        );
        if let (ResponseMode::DirectPostJwt, Some(key)) = (tx.response_mode, &tx.response_key) {
            client_metadata.insert(
                "jwks".into(),
                json!({"keys": [Value::Object(jwe::public_jwk(key))]}),
            );
            client_metadata.insert(
                "encrypted_response_enc_values_supported".into(),
                json!(jwe::ENC_VALUES),
            );
        }
        let mut claims = json!({
            "aud": AUD,
            "client_id": tx.client_id,
            "response_type": "vp_token",
            "response_mode": tx.response_mode.as_str(),
            "response_uri": self.response_uri(response_id),
            "nonce": tx.nonce,
            "state": tx.state,
            "dcql_query": tx.dcql_query,
            "client_metadata": client_metadata,
            "iat": now,
            "exp": tx.deadline().unwrap_or(now),
        });
        if let Some(obj) = claims.as_object_mut() {
            if let Some(n) = wallet_nonce {
                obj.insert("wallet_nonce".into(), Value::String(n.to_owned()));
            }
            if let Some(info) = identity.verifier_info() {
                obj.insert("verifier_info".into(), info);
            }
        }
        let mut header = identity.jar_header();
        header.insert("typ".into(), Value::String(TYP.into()));
        let payload = serde_json::to_vec(&claims).map_err(|_| RequestObjectError::Signing)?;
        jws::sign(&identity.signing, &header, &payload).map_err(|_| RequestObjectError::Signing)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;
    use crate::keystore::StoreSecret;
    use crate::parties::Registration;
    use crate::store::{BoxFut, Entry, Store, TxOp, UpdateAndFn};
    use crate::verifier::IdentityError;
    use crate::verifier::parties::{NS_PARTY, Parties};
    use crate::verifier::request::{CreateError, CreateRequest, PartyOptions};

    const T: i64 = 1_790_000_000;

    /// A store whose reads of party records fail as an unreachable
    /// database's do while `down` is set; everything else works.
    struct PartyOutage {
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

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    /// A store outage while a party's record is read is the store's error
    /// (so 503 on the wire), on `POST /verifier/requests` and on the
    /// request object alike, not "unknown party"; once the store is back
    /// the same request object is served.
    #[test]
    fn a_store_outage_reading_the_party_is_a_store_error() {
        let dir = tempfile::tempdir().unwrap();
        let redb: Arc<dyn Store> =
            Arc::new(crate::store::redb::RedbStore::open(&dir.path().join("s.redb")).unwrap());
        let outage = Arc::new(PartyOutage {
            inner: redb,
            down: AtomicBool::new(false),
        });
        let store: Arc<dyn Store> = outage.clone();
        let args = crate::config::ServeArgs {
            data_dir: Some(dir.path().to_owned()),
            public_url: Some("https://id.example.ru".into()),
            demo: true,
            ..Default::default()
        };
        let settings =
            crate::config::Settings::from_layers(args, crate::config::FileConfig::default())
                .unwrap();
        let outbound = crate::verifier::outbound::Outbound::new(Default::default());
        let v = Verifier::new(&settings, [], store.clone(), outbound).unwrap();
        let secret = StoreSecret::new(&[5; 32]);
        v.attach_registry(secret.clone());
        let registry = Parties::new(store);
        block_on(async {
            let registration: Registration =
                serde_json::from_value(json!({"name": "Hotel Kosmos"})).unwrap();
            let id = registry
                .register(registration, &v, &secret, T)
                .await
                .unwrap()
                .party
                .id
                .to_string();
            let req = || CreateRequest {
                preset: Some("age_over_18".into()),
                ..CreateRequest::default()
            };
            let options = || PartyOptions::of_settings(&v.settings);
            let created = v.create_as(&id, req(), false, options(), T).await.unwrap();
            let request_id = created.request_uri.rsplit('/').next().unwrap().to_owned();

            outage.down.store(true, Ordering::SeqCst);
            let err = v.identity_of(&id, T).await.unwrap_err();
            assert!(
                matches!(err, IdentityError::Store(StoreError::Unavailable)),
                "{err:?}"
            );
            let err = v
                .create_as(&id, req(), false, options(), T)
                .await
                .unwrap_err();
            assert!(
                matches!(
                    err,
                    CreateError::Identity(IdentityError::Store(StoreError::Unavailable))
                ),
                "{err:?}"
            );
            let err = v.request_object(&request_id, None, T).await.unwrap_err();
            assert!(
                matches!(err, RequestObjectError::Store(StoreError::Unavailable)),
                "{err:?}"
            );

            outage.down.store(false, Ordering::SeqCst);
            v.request_object(&request_id, None, T).await.unwrap();
        });
    }

    #[test]
    fn identity_errors_of_the_request_object_keep_their_kind() {
        use crate::keystore::SealError;
        let of = RequestObjectError::of_identity;
        assert!(matches!(
            of(IdentityError::Store(StoreError::Unavailable)),
            RequestObjectError::Store(StoreError::Unavailable)
        ));
        for gone in [
            IdentityError::UnknownParty("x".into()),
            IdentityError::NotCertified,
        ] {
            assert!(matches!(of(gone), RequestObjectError::Identity));
        }
        for broken in [
            IdentityError::Sealed(SealError::Forged),
            IdentityError::Malformed("key"),
            IdentityError::Crypto,
        ] {
            assert!(matches!(of(broken), RequestObjectError::PartyKey(_)));
        }
    }
}
