//! Relying-party API keys: `rp_<party id>.<secret>`, the secret 256 random
//! bits (base64url). The id lets the server find the party with one store
//! read; only a salted SHA-256 of the secret is stored ([`ApiKeyHash`]) and
//! compared in constant time. The key is shown once, when it is made.
//!
//! A fast hash is enough here: the secret is 256 random bits, not a
//! password, so a stolen hash cannot be brute-forced; the salt keeps two
//! parties' hashes unrelated even if a secret were ever reused.

use serde::{Deserialize, Serialize};

use super::PartyId;
use crate::crypto::{b64url, b64url_decode, random_bytes, sha256};

/// What every relying-party key starts with.
pub const KEY_PREFIX: &str = "rp_";

/// The stored form of a party's API key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyHash {
    /// 16 random bytes, base64url.
    pub salt: String,
    /// SHA-256(salt ‖ secret), base64url.
    pub hash: String,
}

/// A freshly made key: the text to hand out once, and what to store.
#[derive(Debug)]
pub struct NewKey {
    pub api_key: String,
    pub stored: ApiKeyHash,
}

/// Makes a new key for `party`.
pub fn issue(party: &PartyId) -> NewKey {
    let secret = b64url(random_bytes::<32>());
    let salt = random_bytes::<16>();
    NewKey {
        api_key: format!("{KEY_PREFIX}{}.{secret}", party.as_str()),
        stored: ApiKeyHash {
            salt: b64url(salt),
            hash: b64url(digest(&salt, &secret)),
        },
    }
}

#[cfg(test)]
thread_local! {
    static DIGESTS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Key digests computed on this thread so far (tests: a miss must cost
/// one too).
#[cfg(test)]
pub(crate) fn digests() -> u64 {
    DIGESTS.with(|d| d.get())
}

fn digest(salt: &[u8], secret: &str) -> [u8; 32] {
    #[cfg(test)]
    DIGESTS.with(|d| d.set(d.get() + 1));
    let mut input = Vec::with_capacity(salt.len() + secret.len());
    input.extend_from_slice(salt);
    input.extend_from_slice(secret.as_bytes());
    sha256(input)
}

/// A presented key split into the party it names and its secret, or `None`
/// when it does not have the relying-party key shape.
pub fn parse(token: &str) -> Option<(PartyId, &str)> {
    let rest = token.strip_prefix(KEY_PREFIX)?;
    let (id, secret) = rest.split_once('.')?;
    let id = PartyId::parse(id).filter(|id| !id.is_builtin())?;
    (!secret.is_empty()).then_some((id, secret))
}

impl ApiKeyHash {
    /// A hash no key has, for a presented key whose party is unknown to
    /// be checked against at the same cost.
    pub fn dummy() -> Self {
        static DUMMY: std::sync::OnceLock<ApiKeyHash> = std::sync::OnceLock::new();
        DUMMY
            .get_or_init(|| ApiKeyHash {
                salt: b64url(random_bytes::<16>()),
                hash: b64url(random_bytes::<32>()),
            })
            .clone()
    }

    /// Whether `secret` is the key's secret; constant time in the secret
    /// (both sides are 32-byte digests).
    pub fn matches(&self, secret: &str) -> bool {
        let (Ok(salt), Ok(expected)) = (b64url_decode(&self.salt), b64url_decode(&self.hash))
        else {
            return false;
        };
        expected.len() == 32 && openssl::memcmp::eq(&digest(&salt, secret), &expected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_issued_key_parses_and_matches_only_itself() {
        let id = PartyId::generate();
        let k = issue(&id);
        let (parsed, secret) = parse(&k.api_key).unwrap();
        assert_eq!(parsed, id);
        assert_eq!(b64url_decode(secret).unwrap().len(), 32, "256-bit secret");
        assert!(k.stored.matches(secret));
        assert!(!k.stored.matches(&format!("{secret}x")));
        assert!(!k.stored.matches(""));
        // Another key for the same party has another salt and secret.
        let other = issue(&id);
        assert_ne!(other.stored.salt, k.stored.salt);
        assert!(!other.stored.matches(secret));
        // The stored form holds neither the key nor the secret.
        let stored = serde_json::to_string(&k.stored).unwrap();
        assert!(!stored.contains(secret));
    }

    #[test]
    fn a_tampered_stored_hash_matches_nothing() {
        let k = issue(&PartyId::generate());
        let secret = parse(&k.api_key).unwrap().1.to_owned();
        let mut bad = k.stored.clone();
        bad.hash = "short".into();
        assert!(!bad.matches(&secret));
        bad = k.stored.clone();
        bad.salt = "*".into();
        assert!(!bad.matches(&secret));
    }

    #[test]
    fn only_the_relying_party_shape_parses() {
        for bad in [
            "",
            "dk_abc",
            "rp_",
            "rp_abc",
            "rp_.secret",
            "rp_abc.",
            "rp_a/b.c",
            "rp_default.secret",
            "RP_abcdefghijkl.secret",
        ] {
            assert!(parse(bad).is_none(), "{bad}");
        }
        let (id, secret) = parse("rp_abc.d.e").unwrap();
        assert_eq!((id.as_str(), secret), ("abc", "d.e"));
    }
}
