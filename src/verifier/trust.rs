//! Which issuers the verifier trusts: our own issuer (its keys are in
//! memory) plus `verifier.trusted_issuers` from the configuration:
//!
//! - `https://issuer.example` — an SD-JWT VC issuer whose keys come from its
//!   `/.well-known/jwt-vc-issuer` metadata (`jwks` or `jwks_uri`); trusted
//!   only for credentials whose `iss` is exactly that URL;
//! - `jwks:https://keys.example/jwks.json` — a pinned key set: a credential
//!   signed by one of these keys is trusted whatever its `iss`.
//!
//! Fetched key sets are cached for [`CACHE_TTL`] seconds (a failed fetch for
//! [`NEGATIVE_TTL`]), with the fetcher's timeouts and size limits.
//!
//! And by certificate, `[verifier.trust] anchors`: a credential whose
//! issuer-signed JWT carries `x5c` (SD-JWT VC "Inline X.509 Certificates")
//! is verified with the leaf's key once the chain validates to an anchor
//! ([`crate::crypto::x509`]); `iss` is optional then (the issuer is the
//! leaf's subject). So that nobody can choose how an issuer is checked
//! (SD-JWT VC "Ecosystem-specific Public Key Verification Methods"), the
//! mechanism follows from `iss` first: our own `iss` and a configured
//! metadata issuer are always checked with their own keys, whatever `x5c`
//! says; any other credential with `x5c` is checked by its chain alone
//! (when anchors are configured), one without by the pinned key sets.
//! The final SD-JWT VC text no longer ties `iss` to a SAN of the leaf, so
//! it is not compared with the certificate. The status list of a credential
//! trusted by certificate must be signed by the same leaf key.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::Value;

use super::fetch::{Fetch, FetchError};
use crate::crypto::PublicKey;
use crate::crypto::jwk::Jwks;
use crate::crypto::x509::{Anchors, ChainError, ValidatedChain};
use crate::sdjwt::IssuerKeys;

/// How long fetched issuer keys are reused.
pub const CACHE_TTL: i64 = 300;
/// How long a failed fetch is remembered (so a flood of presentations from
/// an unreachable issuer does not become a flood of fetches).
pub const NEGATIVE_TTL: i64 = 30;
/// Largest metadata or JWKS document accepted.
const MAX_DOC: usize = 64 * 1024;

/// Why an issuer is not trusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrustError {
    #[error("the issuer is not trusted by this verifier")]
    Untrusted,
    #[error("the issuer's keys could not be fetched: {0}")]
    Fetch(FetchError),
    #[error("the issuer's metadata is invalid: {0}")]
    BadMetadata(&'static str),
    /// The `x5c` chain was refused: the reason (`untrusted_root`, …) first.
    #[error("{reason}: {0}", reason = .0.reason())]
    Chain(ChainError),
    #[error("the credential names no issuer: it has neither `iss` nor an `x5c` header")]
    NoIssuer,
}

enum Source {
    /// SD-JWT VC issuer metadata of this `iss`.
    Metadata(String),
    /// A pinned JWKS URL.
    Jwks(String),
}

type Cached = Result<Arc<Jwks>, TrustError>;

/// The trust configuration with its cache.
pub struct Trust {
    own_iss: String,
    own: Arc<Jwks>,
    sources: Vec<Source>,
    cache: Mutex<HashMap<String, (i64, Cached)>>,
    fetcher: Arc<dyn Fetch>,
    /// `[verifier.trust] anchors`; empty: `x5c` is not a way in.
    anchors: Anchors,
}

impl std::fmt::Debug for Trust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trust")
            .field("own_iss", &self.own_iss)
            .field("sources", &self.sources.len())
            .field("anchors", &self.anchors.len())
            .finish_non_exhaustive()
    }
}

/// The keys that may have signed one credential.
pub enum ResolvedKeys {
    /// Key sets, searched by `kid`.
    Sets(Vec<Arc<Jwks>>),
    /// The leaf of an `x5c` chain that validated to an anchor: the one key.
    Certified(ValidatedChain),
}

impl ResolvedKeys {
    /// The validated `x5c` chain, when the credential was trusted by one.
    pub fn chain(&self) -> Option<&ValidatedChain> {
        match self {
            ResolvedKeys::Certified(c) => Some(c),
            ResolvedKeys::Sets(_) => None,
        }
    }
}

impl IssuerKeys for ResolvedKeys {
    fn resolve(&self, _iss: Option<&str>, kid: Option<&str>) -> Option<&PublicKey> {
        match self {
            ResolvedKeys::Sets(sets) => sets.iter().find_map(|set| set.find(kid)),
            ResolvedKeys::Certified(chain) => Some(chain.leaf_key()),
        }
    }
}

impl Trust {
    pub fn new(
        own_iss: &str,
        own_keys: impl IntoIterator<Item = PublicKey>,
        configured: &[String],
        fetcher: Arc<dyn Fetch>,
    ) -> Self {
        let sources = configured
            .iter()
            .map(|s| match s.strip_prefix("jwks:") {
                Some(url) => Source::Jwks(url.to_owned()),
                None => Source::Metadata(s.trim_end_matches('/').to_owned()),
            })
            .collect();
        Trust {
            own_iss: own_iss.to_owned(),
            own: Arc::new(Jwks::of(own_keys)),
            sources,
            cache: Mutex::new(HashMap::new()),
            fetcher,
            anchors: Anchors::default(),
        }
    }

    /// Trusts issuers whose `x5c` chain validates to one of `anchors`.
    pub fn set_anchors(&mut self, anchors: Anchors) {
        self.anchors = anchors;
    }

    /// The keys that may verify a credential with this `iss` and `x5c`
    /// header (see the module documentation for which mechanism applies).
    pub async fn keys_for(
        &self,
        iss: Option<&str>,
        x5c: Option<&Value>,
        now: i64,
    ) -> Result<ResolvedKeys, TrustError> {
        let by_name = iss.filter(|i| {
            *i == self.own_iss
                || self
                    .sources
                    .iter()
                    .any(|s| matches!(s, Source::Metadata(url) if url == i))
        });
        match (by_name, x5c, iss) {
            (Some(iss), _, _) => self.keys_by_name(iss, now).await,
            (None, Some(x5c), _) if !self.anchors.is_empty() => self
                .anchors
                .validate(x5c, now)
                .map(ResolvedKeys::Certified)
                .map_err(TrustError::Chain),
            (None, _, Some(iss)) => self.keys_by_name(iss, now).await,
            (None, Some(_), None) => Err(TrustError::Chain(ChainError::UntrustedRoot)),
            (None, None, None) => Err(TrustError::NoIssuer),
        }
    }

    /// The key sets for a credential with this `iss`: our own, or the
    /// matching metadata issuer's and the pinned sets.
    async fn keys_by_name(&self, iss: &str, now: i64) -> Result<ResolvedKeys, TrustError> {
        if iss == self.own_iss {
            return Ok(ResolvedKeys::Sets(vec![self.own.clone()]));
        }
        let mut sets = Vec::new();
        let mut last_err = None;
        for source in &self.sources {
            let wanted = match source {
                Source::Metadata(url) if url == iss => source,
                Source::Jwks(_) => source,
                Source::Metadata(_) => continue,
            };
            match self.cached(wanted, now).await {
                Ok(set) => sets.push(set),
                Err(e) => last_err = Some(e),
            }
        }
        match (sets.is_empty(), last_err) {
            (false, _) => Ok(ResolvedKeys::Sets(sets)),
            (true, Some(e)) => Err(e),
            (true, None) => Err(TrustError::Untrusted),
        }
    }

    /// Our own issuer's keys (also verify our status lists).
    pub fn is_own(&self, iss: &str) -> bool {
        iss == self.own_iss
    }

    async fn cached(&self, source: &Source, now: i64) -> Cached {
        let key = match source {
            Source::Metadata(u) | Source::Jwks(u) => u.clone(),
        };
        if let Ok(cache) = self.cache.lock() {
            if let Some((until, v)) = cache.get(&key) {
                if now < *until {
                    return v.clone();
                }
            }
        }
        let result = self.load(source).await.map(Arc::new);
        let ttl = if result.is_ok() {
            CACHE_TTL
        } else {
            NEGATIVE_TTL
        };
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() > 1024 {
                cache.retain(|_, (until, _)| now < *until);
            }
            cache.insert(key, (now + ttl, result.clone()));
        }
        result
    }

    async fn load(&self, source: &Source) -> Result<Jwks, TrustError> {
        let json = |bytes: Vec<u8>| -> Result<Value, TrustError> {
            serde_json::from_slice(&bytes).map_err(|_| TrustError::BadMetadata("not JSON"))
        };
        let jwks_of = |v: &Value| {
            Jwks::from_json(v).map_err(|_| TrustError::BadMetadata("the JWKS is invalid"))
        };
        match source {
            Source::Jwks(url) => {
                let body = self
                    .fetcher
                    .get(
                        url.clone(),
                        "application/jwk-set+json, application/json",
                        MAX_DOC,
                    )
                    .await
                    .map_err(TrustError::Fetch)?;
                jwks_of(&json(body)?)
            }
            Source::Metadata(iss) => {
                let body = self
                    .fetcher
                    .get(well_known(iss), "application/json", MAX_DOC)
                    .await
                    .map_err(TrustError::Fetch)?;
                let meta = json(body)?;
                // SD-JWT VC §5: `issuer` must equal the identifier used.
                if meta.get("issuer").and_then(Value::as_str) != Some(iss.as_str()) {
                    return Err(TrustError::BadMetadata("`issuer` does not match"));
                }
                match (
                    meta.get("jwks"),
                    meta.get("jwks_uri").and_then(Value::as_str),
                ) {
                    (Some(jwks), None) => jwks_of(jwks),
                    (None, Some(uri)) => {
                        let body = self
                            .fetcher
                            .get(
                                uri.to_owned(),
                                "application/jwk-set+json, application/json",
                                MAX_DOC,
                            )
                            .await
                            .map_err(TrustError::Fetch)?;
                        jwks_of(&json(body)?)
                    }
                    _ => Err(TrustError::BadMetadata(
                        "exactly one of `jwks` and `jwks_uri` is required",
                    )),
                }
            }
        }
    }
}

/// `https://h/p` → `https://h/.well-known/jwt-vc-issuer/p` (SD-JWT VC §5.1).
fn well_known(iss: &str) -> String {
    let (scheme, rest) = iss.split_once("://").unwrap_or(("https", iss));
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    format!("{scheme}://{host}/.well-known/jwt-vc-issuer{path}")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::crypto::{Algorithm, SigningKey};
    use crate::store::BoxFut;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Serves fixed documents by URL and counts fetches.
    #[derive(Default)]
    pub struct FakeFetch {
        pub docs: Mutex<HashMap<String, Vec<u8>>>,
        pub calls: AtomicUsize,
    }

    impl Fetch for FakeFetch {
        fn get(
            &self,
            url: String,
            _: &'static str,
            max: usize,
        ) -> BoxFut<'_, Result<Vec<u8>, FetchError>> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let doc = self.docs.lock().unwrap().get(&url).cloned();
            Box::pin(async move {
                match doc {
                    Some(d) if d.len() > max => Err(FetchError::TooLarge(max)),
                    Some(d) => Ok(d),
                    None => Err(FetchError::Status(404)),
                }
            })
        }
    }

    fn block<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    /// Which mechanism decides follows from `iss` first: `x5c` never
    /// overrides our own or a metadata issuer, and is the only way in for
    /// any other issuer that sends it (when anchors are configured).
    #[test]
    fn x5c_is_judged_by_its_chain_unless_iss_names_a_known_issuer() {
        use crate::crypto::x509::tests::{Ca, NOW, Spec, anchors, x5c};
        let own = SigningKey::generate(Algorithm::Es256).unwrap();
        let root = Ca::root("Root");
        let (leaf, _) = root.issue(Spec::leaf("Foreign issuer"));
        let other = Ca::root("Other");
        let (stranger, _) = other.issue(Spec::leaf("Stranger"));
        let fetch = Arc::new(FakeFetch::default());
        let mut trust = Trust::new(
            "https://me.example",
            [own.public().clone()],
            &[],
            fetch.clone(),
        );
        let good = x5c(&[&leaf]);
        let bad = x5c(&[&stranger, &other.cert]);
        block(async {
            // No anchors: x5c is no way in.
            assert_eq!(
                trust.keys_for(None, Some(&good), NOW).await.err(),
                Some(TrustError::Chain(ChainError::UntrustedRoot))
            );
            assert_eq!(
                trust.keys_for(None, None, NOW).await.err(),
                Some(TrustError::NoIssuer)
            );
        });
        trust.set_anchors(anchors(&[&root.cert]));
        block(async {
            let k = trust.keys_for(None, Some(&good), NOW).await.unwrap();
            let leaf_key = k.chain().unwrap().leaf_key().clone();
            assert_eq!(k.resolve(None, Some("any kid")), Some(&leaf_key));
            // `iss` is optional, and any other `iss` goes the same way.
            let k = trust
                .keys_for(Some("https://foreign.example"), Some(&good), NOW)
                .await
                .unwrap();
            assert!(k.chain().is_some());
            let e = trust.keys_for(None, Some(&bad), NOW).await.err().unwrap();
            assert_eq!(e, TrustError::Chain(ChainError::UntrustedRoot));
            assert!(e.to_string().starts_with("untrusted_root: "), "{e}");
            // Our own `iss` is always checked with our own keys.
            let k = trust
                .keys_for(Some("https://me.example"), Some(&good), NOW)
                .await
                .unwrap();
            assert!(k.chain().is_none());
            assert_eq!(k.resolve(None, None), Some(own.public()));
        });
        assert_eq!(fetch.calls.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn well_known_inserts_before_the_path() {
        assert_eq!(
            well_known("https://i.example/tenant"),
            "https://i.example/.well-known/jwt-vc-issuer/tenant"
        );
        assert_eq!(
            well_known("https://i.example"),
            "https://i.example/.well-known/jwt-vc-issuer"
        );
    }

    #[test]
    fn own_metadata_and_pinned_sources_with_caching() {
        let own = SigningKey::generate(Algorithm::Es256).unwrap();
        let other = SigningKey::generate(Algorithm::Es256).unwrap();
        let pinned = SigningKey::generate(Algorithm::EdDsa).unwrap();
        let fetch = Arc::new(FakeFetch::default());
        fetch.docs.lock().unwrap().insert(
            "https://other.example/.well-known/jwt-vc-issuer".into(),
            serde_json::to_vec(&serde_json::json!({"issuer": "https://other.example",
                "jwks": {"keys": [other.public().jwk_for_publication()]}}))
            .unwrap(),
        );
        fetch.docs.lock().unwrap().insert(
            "https://keys.example/jwks.json".into(),
            serde_json::to_vec(
                &serde_json::json!({"keys": [pinned.public().jwk_for_publication()]}),
            )
            .unwrap(),
        );
        let trust = Trust::new(
            "https://me.example",
            [own.public().clone()],
            &[
                "https://other.example".into(),
                "jwks:https://keys.example/jwks.json".into(),
            ],
            fetch.clone(),
        );
        block(async {
            let k = trust
                .keys_for(Some("https://me.example"), None, 0)
                .await
                .unwrap();
            assert!(k.resolve(None, None).is_some());
            assert_eq!(fetch.calls.load(Ordering::SeqCst), 0);
            let k = trust
                .keys_for(Some("https://other.example"), None, 0)
                .await
                .unwrap();
            assert_eq!(
                k.resolve(None, Some(other.public().thumbprint())),
                Some(other.public())
            );
            assert_eq!(
                k.resolve(None, Some(pinned.public().thumbprint())),
                Some(pinned.public())
            );
            let calls = fetch.calls.load(Ordering::SeqCst);
            trust
                .keys_for(Some("https://other.example"), None, 10)
                .await
                .unwrap();
            assert_eq!(fetch.calls.load(Ordering::SeqCst), calls, "cached");
            // Unknown iss: only the pinned set applies.
            let k = trust
                .keys_for(Some("https://stranger.example"), None, 10)
                .await
                .unwrap();
            assert!(k.resolve(None, Some(other.public().thumbprint())).is_none());
        });
        let lonely = Trust::new("https://me.example", [own.public().clone()], &[], fetch);
        assert_eq!(
            block(lonely.keys_for(Some("https://stranger.example"), None, 0)).err(),
            Some(TrustError::Untrusted)
        );
    }
}
