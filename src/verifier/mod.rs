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
pub mod jwe;
pub mod keys;
pub mod outbound;
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

use std::sync::Arc;

use crate::config::{PublicUrl, Settings, VerifierSettings};
use crate::crypto::PublicKey;
use crate::store::Store;

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
        Ok(Verifier {
            keys,
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
    /// §5.7), with `request_uri_method=post` when the transaction asks for
    /// it (§5.10).
    pub fn authorization_request(&self, tx: &Transaction) -> String {
        let method = match tx.request_uri_method {
            transaction::RequestUriMethod::Get => "",
            transaction::RequestUriMethod::Post => "&request_uri_method=post",
        };
        format!(
            "openid4vp://?client_id={}&request_uri={}{method}",
            percent_encode(self.client_id()),
            percent_encode(&self.request_uri(&tx.request_id))
        )
    }

    pub(crate) fn store(&self) -> &dyn Store {
        self.store.as_ref()
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
