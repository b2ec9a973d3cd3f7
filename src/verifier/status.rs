//! Token Status List (draft-ietf-oauth-status-list) on the relying-party
//! side: fetch the `statuslist+jwt` a credential's `status.status_list.uri`
//! names, verify it with the credential issuer's keys, inflate `lst`, read
//! the entry at `idx`, and cache the list for its `ttl`.
//!
//! The cache holds at most [`CACHE_BYTES`] of lists (the soonest to expire
//! go first). A failed fetch is remembered for [`NEGATIVE_TTL`] seconds, so
//! an unreachable status host costs one timeout, not one per presentation;
//! the presentations in that window fail as the first one did (fail
//! closed).
//!
//! `0` VALID passes; `1` INVALID (revoked) and `2` SUSPENDED fail; `3`
//! (application specific) is treated as not valid.

use std::collections::HashMap;
use std::io::Read;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};

use super::fetch::{Fetch, FetchError};
use crate::crypto::jws::Jws;
use crate::sdjwt::IssuerKeys;

/// `typ` of a Status List Token (§5.1).
pub const TYP: &str = "statuslist+jwt";
/// Used when a token carries no `ttl`.
const DEFAULT_TTL: i64 = 300;
/// Longest a list is reused, whatever its `ttl` says.
const MAX_TTL: i64 = 86_400;
/// Largest token fetched and largest inflated list (2^24 entries at 8 bits).
const MAX_TOKEN: usize = 1024 * 1024;
const MAX_LIST: u64 = 16 * 1024 * 1024;
/// Bytes of cached lists (and their URIs) kept at most.
pub const CACHE_BYTES: usize = 64 * 1024 * 1024;
/// How long a failed fetch is remembered (seconds).
pub const NEGATIVE_TTL: i64 = 10;
/// What one cache entry costs besides its list and URI.
const ENTRY_OVERHEAD: usize = 96;

/// A status that is not VALID, or a list that could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatusError {
    #[error("the credential has been revoked")]
    Revoked,
    #[error("the credential is suspended")]
    Suspended,
    #[error("the credential's status is not valid (value {0})")]
    NotValid(u8),
    #[error("the credential's `status` claim is malformed")]
    BadClaim,
    #[error("the status list could not be fetched: {0}")]
    Fetch(FetchError),
    #[error("the status list token is invalid: {0}")]
    BadToken(&'static str),
    #[error("the status list token has no `iat` (Token Status List §5.1: required)")]
    MissingIat,
    #[error("the status list has no entry {0}")]
    OutOfRange(u64),
}

/// A decoded status list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusList {
    bits: u8,
    bytes: Vec<u8>,
}

impl StatusList {
    /// Decodes `{"bits": 1|2|4|8, "lst": base64url(zlib(bytes))}` (§4.1).
    pub fn decode(status_list: &Value) -> Result<Self, StatusError> {
        let bits = status_list
            .get("bits")
            .and_then(Value::as_u64)
            .filter(|b| matches!(b, 1 | 2 | 4 | 8))
            .ok_or(StatusError::BadToken("`bits` must be 1, 2, 4 or 8"))? as u8;
        let lst = status_list
            .get("lst")
            .and_then(Value::as_str)
            .ok_or(StatusError::BadToken("`lst` is missing"))?;
        let compressed = crate::crypto::b64url_decode(lst)
            .map_err(|_| StatusError::BadToken("`lst` is not base64url"))?;
        let mut bytes = Vec::new();
        flate2::read::ZlibDecoder::new(compressed.as_slice())
            .take(MAX_LIST + 1)
            .read_to_end(&mut bytes)
            .map_err(|_| StatusError::BadToken("`lst` is not zlib data"))?;
        if bytes.len() as u64 > MAX_LIST {
            return Err(StatusError::BadToken("the list is too large"));
        }
        Ok(StatusList { bits, bytes })
    }

    /// The entry at `idx` (entries are packed from the least significant bit).
    pub fn get(&self, idx: u64) -> Option<u8> {
        let bits = u64::from(self.bits);
        let bit = idx.checked_mul(bits)?;
        let byte = *self.bytes.get(usize::try_from(bit / 8).ok()?)?;
        let mask = ((1u16 << self.bits) - 1) as u8;
        Some((byte >> (bit % 8)) & mask)
    }

    pub fn len(&self) -> u64 {
        self.bytes.len() as u64 * 8 / u64::from(self.bits)
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

/// The `status.status_list` reference of a credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub idx: u64,
    pub uri: String,
}

impl Reference {
    /// `None` when the credential has no status; an error when it is malformed.
    pub fn of(claims: &Map<String, Value>) -> Result<Option<Self>, StatusError> {
        let Some(status) = claims.get("status") else {
            return Ok(None);
        };
        let sl = status.get("status_list").ok_or(StatusError::BadClaim)?;
        let idx = sl
            .get("idx")
            .and_then(Value::as_u64)
            .ok_or(StatusError::BadClaim)?;
        let uri = sl
            .get("uri")
            .and_then(Value::as_str)
            .ok_or(StatusError::BadClaim)?;
        Ok(Some(Reference {
            idx,
            uri: uri.to_owned(),
        }))
    }
}

/// A cached outcome: a verified list, or the failure to fetch one.
type Cached = Result<Arc<StatusList>, FetchError>;

struct Entry {
    until: i64,
    value: Cached,
    cost: usize,
}

/// Lists by URI, bounded by bytes.
struct Cache {
    entries: HashMap<String, Entry>,
    bytes: usize,
    budget: usize,
}

impl Cache {
    fn new(budget: usize) -> Self {
        Cache {
            entries: HashMap::new(),
            bytes: 0,
            budget,
        }
    }

    fn get(&self, uri: &str, now: i64) -> Option<Cached> {
        self.entries
            .get(uri)
            .filter(|e| now < e.until)
            .map(|e| e.value.clone())
    }

    fn remove(&mut self, uri: &str) {
        if let Some(old) = self.entries.remove(uri) {
            self.bytes -= old.cost;
        }
    }

    /// Stores `value` until `until`, dropping expired entries and then the
    /// soonest to expire until it fits; a list larger than the whole budget
    /// is not kept.
    fn put(&mut self, uri: &str, until: i64, value: Cached, now: i64) {
        self.remove(uri);
        let list_bytes = value.as_ref().map_or(0, |l| l.bytes.len());
        let cost = ENTRY_OVERHEAD + uri.len() + list_bytes;
        if cost > self.budget || until <= now {
            return;
        }
        if self.bytes + cost > self.budget {
            self.entries.retain(|_, e| now < e.until);
            self.bytes = self.entries.values().map(|e| e.cost).sum();
        }
        if self.bytes + cost > self.budget {
            let mut by_expiry: Vec<(i64, String)> = self
                .entries
                .iter()
                .map(|(k, e)| (e.until, k.clone()))
                .collect();
            by_expiry.sort_unstable();
            for (_, key) in by_expiry {
                if self.bytes + cost <= self.budget {
                    break;
                }
                self.remove(&key);
            }
        }
        self.bytes += cost;
        self.entries
            .insert(uri.to_owned(), Entry { until, value, cost });
    }
}

/// Status checks with a cache of lists by URI.
pub struct StatusChecker {
    fetcher: Arc<dyn Fetch>,
    cache: Mutex<Cache>,
}

impl std::fmt::Debug for StatusChecker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatusChecker").finish_non_exhaustive()
    }
}

impl StatusChecker {
    pub fn new(fetcher: Arc<dyn Fetch>) -> Self {
        Self::with_cache_bytes(fetcher, CACHE_BYTES)
    }

    /// As [`StatusChecker::new`] with a cache of at most `budget` bytes.
    pub fn with_cache_bytes(fetcher: Arc<dyn Fetch>, budget: usize) -> Self {
        StatusChecker {
            fetcher,
            cache: Mutex::new(Cache::new(budget)),
        }
    }

    /// Bytes the cache holds now.
    pub fn cached_bytes(&self) -> usize {
        self.cache.lock().map_or(0, |c| c.bytes)
    }

    /// Checks the credential's status; `issuer` verifies the list token.
    pub async fn check(
        &self,
        reference: &Reference,
        issuer: &(dyn IssuerKeys + Sync),
        now: i64,
    ) -> Result<(), StatusError> {
        let list = self.list(&reference.uri, issuer, now).await?;
        match list.get(reference.idx) {
            Some(0) => Ok(()),
            Some(1) => Err(StatusError::Revoked),
            Some(2) => Err(StatusError::Suspended),
            Some(v) => Err(StatusError::NotValid(v)),
            None => Err(StatusError::OutOfRange(reference.idx)),
        }
    }

    async fn list(
        &self,
        uri: &str,
        issuer: &(dyn IssuerKeys + Sync),
        now: i64,
    ) -> Result<Arc<StatusList>, StatusError> {
        let hit = self.cache.lock().ok().and_then(|c| c.get(uri, now));
        if let Some(cached) = hit {
            return cached.map_err(StatusError::Fetch);
        }
        let fetched = self
            .fetcher
            .get(uri.to_owned(), "application/statuslist+jwt", MAX_TOKEN)
            .await;
        let body = match fetched {
            Ok(body) => body,
            Err(e) => {
                // Only fetch failures are remembered: they do not depend on
                // the issuer, and they are what costs a timeout.
                if let Ok(mut cache) = self.cache.lock() {
                    cache.put(uri, now + NEGATIVE_TTL, Err(e.clone()), now);
                }
                return Err(StatusError::Fetch(e));
            }
        };
        let text = std::str::from_utf8(&body).map_err(|_| StatusError::BadToken("not text"))?;
        let (list, until) = verify_token(text.trim(), uri, issuer, now)?;
        let list = Arc::new(list);
        if let Ok(mut cache) = self.cache.lock() {
            cache.put(uri, until, Ok(list.clone()), now);
        }
        Ok(list)
    }
}

/// Verifies a Status List Token (§5.1, §8.3) and returns the list and the
/// time until which it may be cached.
pub fn verify_token(
    token: &str,
    uri: &str,
    issuer: &dyn IssuerKeys,
    now: i64,
) -> Result<(StatusList, i64), StatusError> {
    let jws = Jws::decode(token).map_err(|_| StatusError::BadToken("not a compact JWS"))?;
    if jws.typ() != Some(TYP) {
        return Err(StatusError::BadToken("`typ` must be statuslist+jwt"));
    }
    let claims = jws
        .payload_json()
        .map_err(|_| StatusError::BadToken("the payload is not a JSON object"))?;
    let key = issuer
        .resolve(claims.get("iss").and_then(Value::as_str), jws.kid())
        .ok_or(StatusError::BadToken(
            "it is not signed by the credential's issuer",
        ))?;
    jws.verify(key)
        .map_err(|_| StatusError::BadToken("the signature does not verify"))?;
    if claims.get("sub").and_then(Value::as_str) != Some(uri) {
        return Err(StatusError::BadToken("`sub` does not match the status URI"));
    }
    // §5.1: `iat` is REQUIRED (a NumericDate).
    if !claims.get("iat").is_some_and(Value::is_number) {
        return Err(StatusError::MissingIat);
    }
    let exp = claims.get("exp").and_then(Value::as_i64);
    if exp.is_some_and(|e| now >= e) {
        return Err(StatusError::BadToken("it has expired"));
    }
    let ttl = claims
        .get("ttl")
        .and_then(Value::as_i64)
        .unwrap_or(DEFAULT_TTL)
        .clamp(0, MAX_TTL);
    let until = exp.map_or(now + ttl, |e| e.min(now + ttl));
    let list = StatusList::decode(
        claims
            .get("status_list")
            .ok_or(StatusError::BadToken("`status_list` is missing"))?,
    )?;
    Ok((list, until))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{Algorithm, SigningKey, jws};
    use crate::verifier::trust::tests::FakeFetch;
    use serde_json::json;

    #[test]
    fn decodes_the_spec_examples() {
        // Token Status List §4.1: the 1-bit and 2-bit example lists.
        let one = StatusList::decode(&json!({"bits": 1, "lst": "eNrbuRgAAhcBXQ"})).unwrap();
        let expected1 = [1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1];
        assert_eq!(one.len(), 16);
        for (i, v) in expected1.iter().enumerate() {
            assert_eq!(one.get(i as u64), Some(*v), "1-bit idx {i}");
        }
        let two = StatusList::decode(&json!({"bits": 2, "lst": "eNo76fITAAPfAgc"})).unwrap();
        let expected2 = [1, 2, 0, 3, 0, 1, 0, 1, 1, 2, 3, 3];
        for (i, v) in expected2.iter().enumerate() {
            assert_eq!(two.get(i as u64), Some(*v), "2-bit idx {i}");
        }
        assert_eq!(two.get(12), None);
        assert_eq!(two.get(u64::MAX), None);
    }

    #[test]
    fn rejects_malformed_lists() {
        for bad in [
            json!({"bits": 3, "lst": "eNrbuRgAAhcBXQ"}),
            json!({"bits": 1}),
            json!({"bits": 1, "lst": "!!"}),
            json!({"bits": 1, "lst": "AAAA"}),
        ] {
            assert!(
                matches!(StatusList::decode(&bad), Err(StatusError::BadToken(_))),
                "{bad}"
            );
        }
    }

    fn token(key: &SigningKey, sub: &str, lst: &str, ttl: i64) -> String {
        let mut h = Map::new();
        h.insert("typ".into(), TYP.into());
        let p = json!({"sub": sub, "iat": 0, "ttl": ttl, "status_list": {"bits": 2, "lst": lst}});
        jws::sign(key, &h, &serde_json::to_vec(&p).unwrap()).unwrap()
    }

    #[test]
    fn check_verifies_caches_and_maps_values() {
        let key = SigningKey::generate(Algorithm::Es256).unwrap();
        let uri = "https://i.example/status-lists/1";
        let fetch = Arc::new(FakeFetch::default());
        fetch.docs.lock().unwrap().insert(
            uri.into(),
            token(&key, uri, "eNo76fITAAPfAgc", 60).into_bytes(),
        );
        let checker = StatusChecker::new(fetch.clone());
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let at = |idx| Reference {
            idx,
            uri: uri.into(),
        };
        rt.block_on(async {
            let k = key.public();
            assert_eq!(checker.check(&at(2), k, 0).await, Ok(()));
            assert_eq!(checker.check(&at(0), k, 1).await, Err(StatusError::Revoked));
            assert_eq!(
                checker.check(&at(1), k, 2).await,
                Err(StatusError::Suspended)
            );
            assert_eq!(
                checker.check(&at(3), k, 3).await,
                Err(StatusError::NotValid(3))
            );
            assert_eq!(
                checker.check(&at(99), k, 4).await,
                Err(StatusError::OutOfRange(99))
            );
            assert_eq!(
                fetch.calls.load(std::sync::atomic::Ordering::SeqCst),
                1,
                "cached by ttl"
            );
            checker.check(&at(2), k, 61).await.unwrap();
            assert_eq!(
                fetch.calls.load(std::sync::atomic::Ordering::SeqCst),
                2,
                "refetched after ttl"
            );
            let stranger = SigningKey::generate(Algorithm::Es256).unwrap();
            assert!(matches!(
                checker.check(&at(2), stranger.public(), 200).await,
                Err(StatusError::BadToken(_))
            ));
        });
    }

    #[test]
    fn a_token_without_iat_is_refused() {
        // Token Status List §5.1: `iat` is REQUIRED.
        let key = SigningKey::generate(Algorithm::Es256).unwrap();
        let uri = "https://i.example/1";
        let mut h = Map::new();
        h.insert("typ".into(), TYP.into());
        let p =
            json!({"sub": uri, "ttl": 60, "status_list": {"bits": 2, "lst": "eNo76fITAAPfAgc"}});
        let t = jws::sign(&key, &h, &serde_json::to_vec(&p).unwrap()).unwrap();
        assert_eq!(
            verify_token(&t, uri, key.public(), 0).err(),
            Some(StatusError::MissingIat)
        );
        let p = json!({"sub": uri, "iat": "yesterday", "status_list": {"bits": 2, "lst": "eNo76fITAAPfAgc"}});
        let t = jws::sign(&key, &h, &serde_json::to_vec(&p).unwrap()).unwrap();
        assert_eq!(
            verify_token(&t, uri, key.public(), 0).err(),
            Some(StatusError::MissingIat)
        );
        assert!(
            verify_token(
                &token(&key, uri, "eNo76fITAAPfAgc", 60),
                uri,
                key.public(),
                0
            )
            .is_ok()
        );
    }

    #[test]
    fn a_failed_fetch_is_remembered_briefly_and_fails_closed() {
        let key = SigningKey::generate(Algorithm::Es256).unwrap();
        let uri = "https://dead.example/status-lists/1";
        // No document: every fetch fails (HTTP 404).
        let fetch = Arc::new(FakeFetch::default());
        let checker = StatusChecker::new(fetch.clone());
        let at = Reference {
            idx: 0,
            uri: uri.into(),
        };
        let calls = || fetch.calls.load(std::sync::atomic::Ordering::SeqCst);
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let k = key.public();
            let failed = Err(StatusError::Fetch(FetchError::Status(404)));
            assert_eq!(checker.check(&at, k, 100).await, failed);
            assert_eq!(calls(), 1);
            // Within the negative TTL: the same failure, no new fetch.
            assert_eq!(checker.check(&at, k, 100 + NEGATIVE_TTL - 1).await, failed);
            assert_eq!(calls(), 1, "the dead host is not asked again");
            // After it: asked again; once it answers, the list is used.
            fetch.docs.lock().unwrap().insert(
                uri.into(),
                token(&key, uri, "eNo76fITAAPfAgc", 60).into_bytes(),
            );
            assert_eq!(
                checker.check(&at, k, 100 + NEGATIVE_TTL).await,
                Err(StatusError::Revoked)
            );
            assert_eq!(calls(), 2);
        });
    }

    #[test]
    fn the_cache_is_bounded_by_bytes() {
        let key = SigningKey::generate(Algorithm::Es256).unwrap();
        // A 1-bit list of 4096 zero bytes: 4 KiB inflated, tiny on the wire.
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        std::io::Write::write_all(&mut z, &[0u8; 4096]).unwrap();
        let lst = crate::crypto::b64url(z.finish().unwrap());
        let fetch = Arc::new(FakeFetch::default());
        let uris: Vec<String> = (0..4).map(|i| format!("https://i.example/l/{i}")).collect();
        for (i, uri) in uris.iter().enumerate() {
            let ttl = 100 + i as i64;
            let mut h = Map::new();
            h.insert("typ".into(), TYP.into());
            let p =
                json!({"sub": uri, "iat": 0, "ttl": ttl, "status_list": {"bits": 1, "lst": lst}});
            let t = jws::sign(&key, &h, &serde_json::to_vec(&p).unwrap()).unwrap();
            fetch
                .docs
                .lock()
                .unwrap()
                .insert(uri.clone(), t.into_bytes());
        }
        // Room for two such lists, not three.
        let budget = 2 * (4096 + ENTRY_OVERHEAD + uris[0].len()) + 100;
        let checker = StatusChecker::with_cache_bytes(fetch.clone(), budget);
        let calls = || fetch.calls.load(std::sync::atomic::Ordering::SeqCst);
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let at = |i: usize| Reference {
            idx: 7,
            uri: uris[i].clone(),
        };
        rt.block_on(async {
            let k = key.public();
            for i in 0..4 {
                checker.check(&at(i), k, 0).await.unwrap();
                assert!(
                    checker.cached_bytes() <= budget,
                    "{}",
                    checker.cached_bytes()
                );
            }
            assert_eq!(calls(), 4);
            // The two latest stay; the soonest to expire were dropped.
            checker.check(&at(3), k, 1).await.unwrap();
            checker.check(&at(2), k, 1).await.unwrap();
            assert_eq!(calls(), 4);
            checker.check(&at(0), k, 1).await.unwrap();
            assert_eq!(calls(), 5, "evicted, so fetched again");
            assert!(checker.cached_bytes() <= budget);
        });
        // A list larger than the whole cache is used but not kept.
        let tiny = StatusChecker::with_cache_bytes(fetch.clone(), 1024);
        rt.block_on(async {
            tiny.check(&at(0), key.public(), 0).await.unwrap();
            tiny.check(&at(0), key.public(), 0).await.unwrap();
        });
        assert_eq!(tiny.cached_bytes(), 0);
        assert_eq!(calls(), 7);
    }

    #[test]
    fn sub_must_match_the_uri() {
        let key = SigningKey::generate(Algorithm::Es256).unwrap();
        let t = token(&key, "https://elsewhere", "eNo76fITAAPfAgc", 60);
        assert_eq!(
            verify_token(&t, "https://i.example/1", key.public(), 0).err(),
            Some(StatusError::BadToken("`sub` does not match the status URI"))
        );
    }
}
