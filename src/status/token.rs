//! The published form: a `statuslist+jwt` (Token Status List §5.1) with
//! `sub` (the list's URI), `iat`, `exp`, `ttl` and `status_list {bits, lst}`.
//!
//! Compressing and signing a list of 2^17 entries on every `GET` would make
//! the public endpoint a work amplifier, so each node keeps the token it
//! signed for its `ttl` ([`TokenCache`]): a consumer may cache it that long
//! anyway (§5.1 `ttl`). A status change made through a node drops that
//! node's copy at once; other nodes sharing the store sign afresh when
//! their copy's `ttl` is over. So a change is visible at once on the node
//! that made it and everywhere within `ttl` seconds, and a response is
//! never cacheable past `iat + ttl` (`Cache-Control: max-age` is what is
//! left of it), so no copy anywhere is older than `ttl`.

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::{Map, Value, json};

use super::{ListRecord, NS_LIST, StatusError, list::BITS};
use crate::crypto::{SigningKey, jws};
use crate::store::{self, Store};

/// How long a status list token is valid after it was signed. Relying
/// parties refresh after `ttl` (much shorter); `exp` only bounds how stale a
/// cached copy may get when the issuer is unreachable.
pub const TOKEN_LIFETIME: i64 = 24 * 3600;

/// A signed list, ready to serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusListToken {
    pub jwt: String,
    /// Seconds a cache may keep it (`ttl`).
    pub ttl: i64,
    /// When it was signed (`iat`).
    pub iat: i64,
}

impl StatusListToken {
    /// Seconds a cache may still keep it at `now`: what is left of its
    /// `ttl` (`Cache-Control: max-age`).
    pub fn max_age(&self, now: i64) -> i64 {
        (self.iat + self.ttl - now).clamp(0, self.ttl.max(0))
    }

    fn fresh(&self, uri_ttl: i64, now: i64) -> bool {
        self.ttl == uri_ttl && self.iat <= now && now < self.iat + self.ttl
    }
}

/// Tokens a node keeps before it drops those past their `ttl` (slots
/// themselves stay: one per existing list, a few bytes each).
const CACHED_LISTS: usize = 64;

/// The status list tokens this node signed, per list, each kept for its
/// `ttl` (see the module documentation for what that means to consumers).
#[derive(Debug, Default)]
pub struct TokenCache {
    lists: Mutex<HashMap<u32, Slot>>,
}

#[derive(Debug, Default)]
struct Slot {
    /// Moves on every [`TokenCache::invalidate`]: a token signed from what
    /// the store held before cannot be put back afterwards.
    generation: u64,
    token: Option<StatusListToken>,
}

impl TokenCache {
    /// The token of list `id`: this node's copy while its `ttl` runs, else
    /// a newly signed one (then kept).
    pub async fn get_or_sign(
        &self,
        store: &dyn Store,
        key: &SigningKey,
        id: u32,
        uri: &str,
        ttl: i64,
        now: i64,
    ) -> Result<StatusListToken, StatusError> {
        let generation = match self.lookup(id, ttl, now) {
            Ok(token) => return Ok(token),
            Err(generation) => generation,
        };
        let token = status_list_token(store, key, id, uri, ttl, now).await?;
        self.keep(id, generation, &token, now);
        Ok(token)
    }

    /// This node's fresh token of list `id`, or the list's generation to
    /// hand to [`keep`](Self::keep) with a token signed after this call.
    fn lookup(&self, id: u32, ttl: i64, now: i64) -> Result<StatusListToken, u64> {
        match self.lock().get(&id) {
            Some(Slot { token: Some(t), .. }) if t.fresh(ttl, now) => Ok(t.clone()),
            Some(slot) => Err(slot.generation),
            None => Err(0),
        }
    }

    /// Keeps `token` unless the list changed since [`lookup`](Self::lookup)
    /// returned `generation` (it may hold the entries from before).
    fn keep(&self, id: u32, generation: u64, token: &StatusListToken, now: i64) {
        if token.ttl <= 0 {
            return;
        }
        let mut lists = self.lock();
        let held = lists.values().filter(|s| s.token.is_some()).count();
        if held >= CACHED_LISTS {
            for s in lists.values_mut() {
                s.token.take_if(|t| !t.fresh(t.ttl, now));
            }
        }
        let slot = lists.entry(id).or_default();
        if slot.generation == generation {
            slot.token = Some(token.clone());
        }
    }

    /// Drops this node's token of list `id` (its entries changed).
    pub fn invalidate(&self, id: u32) {
        let mut lists = self.lock();
        let slot = lists.entry(id).or_default();
        slot.generation += 1;
        slot.token = None;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u32, Slot>> {
        // Every critical section is a lookup or a single change: a panic
        // elsewhere cannot leave the map half-changed.
        self.lists.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Signs the current state of list `id`; `uri` is its public URL (`sub`).
pub async fn status_list_token(
    store: &dyn Store,
    key: &SigningKey,
    id: u32,
    uri: &str,
    ttl: i64,
    now: i64,
) -> Result<StatusListToken, StatusError> {
    let rec: ListRecord = match store.get(NS_LIST, id.to_string(), now).await? {
        Some(b) => store::from_bytes(&b)?,
        None => return Err(StatusError::UnknownList),
    };
    let payload = json!({
        "sub": uri,
        "iat": now,
        "exp": now + TOKEN_LIFETIME,
        "ttl": ttl,
        "status_list": {"bits": BITS, "lst": rec.entries()?.compressed()},
    });
    let mut header = Map::new();
    header.insert("typ".into(), Value::String("statuslist+jwt".into()));
    // `kid`, and `x5c` when the key has a certificate chain (Token Status
    // List §5.1 allows it; HAIP 1.0 requires it).
    key.name_in(&mut header);
    let body = serde_json::to_vec(&payload).map_err(|_| StatusError::Signing)?;
    let jwt = jws::sign(key, &header, &body).map_err(|_| StatusError::Signing)?;
    Ok(StatusListToken { jwt, ttl, iat: now })
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::sync::Arc;

    use super::*;
    use crate::crypto::{Algorithm, b64url_decode};
    use crate::status::{self, Status};
    use crate::store::redb::RedbStore;

    const URI: &str = "https://id.example/status-lists/1";
    const TTL: i64 = 300;

    async fn token(
        c: &TokenCache,
        store: &dyn Store,
        key: &SigningKey,
        now: i64,
    ) -> StatusListToken {
        c.get_or_sign(store, key, 1, URI, TTL, now).await.unwrap()
    }

    /// Status of entry `idx` in a token.
    fn entry(t: &StatusListToken, idx: usize) -> u8 {
        let payload = jws::Jws::decode(&t.jwt).unwrap().payload_json().unwrap();
        let lst = payload["status_list"]["lst"].as_str().unwrap();
        let mut raw = Vec::new();
        flate2::read::ZlibDecoder::new(&b64url_decode(lst).unwrap()[..])
            .read_to_end(&mut raw)
            .unwrap();
        (raw[idx / 4] >> ((idx % 4) * 2)) & 3
    }

    /// Two nodes on one store, each with its own cache: a revocation made
    /// through node A shows on A at once and on B once B's copy has lived
    /// its `ttl` — never later.
    #[test]
    fn each_node_keeps_its_token_for_its_ttl_and_a_change_drops_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(RedbStore::open(&dir.path().join("s.redb")).unwrap());
        let s = &*store;
        let key = SigningKey::generate(Algorithm::Es256).unwrap();
        let (a, b) = (TokenCache::default(), TokenCache::default());
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let list = ListRecord::new(1, 1 << 17, 0);
            s.put(NS_LIST, "1".into(), store::to_bytes(&list).unwrap(), None)
                .await
                .unwrap();
            let a0 = token(&a, s, &key, 1000).await;
            let b0 = token(&b, s, &key, 1000).await;
            assert_eq!(token(&a, s, &key, 1100).await, a0, "kept, not signed again");
            assert_eq!(a0.max_age(1100), 200);

            status::set(s, 1, 7, Status::Invalid, 1100).await.unwrap();
            a.invalidate(1);
            let a1 = token(&a, s, &key, 1100).await;
            assert_eq!((a1.iat, entry(&a1, 7)), (1100, 1), "at once on A");
            let b_stale = token(&b, s, &key, 1299).await;
            assert_eq!(b_stale, b0, "B keeps its copy within its ttl");
            assert_eq!(b_stale.max_age(1299), 1);
            let b1 = token(&b, s, &key, 1300).await;
            assert_eq!((b1.iat, entry(&b1, 7)), (1300, 1), "on B when it is over");
            // A clock moved back signs afresh rather than trust the copy.
            assert_eq!(token(&b, s, &key, 1299).await.iat, 1299);
        });
    }

    /// The header names the key by `kid`, and by `x5c` when it has a
    /// certificate chain.
    #[test]
    fn the_token_names_its_key_by_kid_and_x5c() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(&dir.path().join("s.redb")).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let list = ListRecord::new(1, 1 << 17, 0);
            store
                .put(NS_LIST, "1".into(), store::to_bytes(&list).unwrap(), None)
                .await
                .unwrap();
            let bare = SigningKey::generate(Algorithm::Es256).unwrap();
            let t = status_list_token(&store, &bare, 1, URI, TTL, 1000)
                .await
                .unwrap();
            let h = jws::Jws::decode(&t.jwt).unwrap().header;
            assert_eq!(h["kid"], bare.kid());
            assert!(!h.contains_key("x5c"));
            let certified = bare.with_certificates(&[vec![0x30, 0x00]]);
            let t = status_list_token(&store, &certified, 1, URI, TTL, 1000)
                .await
                .unwrap();
            let jws = jws::Jws::decode(&t.jwt).unwrap();
            jws.verify(certified.public()).unwrap();
            assert_eq!(jws.typ(), Some("statuslist+jwt"));
            assert_eq!(jws.header["kid"], certified.kid());
            assert_eq!(jws.header["x5c"], json!(["MAA="]));
        });
    }

    /// A token signed from the entries before a change is not kept after
    /// the change (it would hide the change for a whole `ttl`).
    #[test]
    fn a_token_signed_before_a_change_is_not_kept() {
        let cache = TokenCache::default();
        let stale = StatusListToken {
            jwt: "stale".into(),
            ttl: TTL,
            iat: 1000,
        };
        let generation = cache.lookup(1, TTL, 1000).unwrap_err();
        cache.invalidate(1);
        cache.keep(1, generation, &stale, 1000);
        assert!(cache.lookup(1, TTL, 1000).is_err());
        let generation = cache.lookup(1, TTL, 1000).unwrap_err();
        cache.keep(1, generation, &stale, 1000);
        assert_eq!(cache.lookup(1, TTL, 1001), Ok(stale));
    }
}
