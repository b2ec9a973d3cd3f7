//! Keys, JWKs, did:key and compact JWS. Pure: no file or network I/O.
//!
//! The key decides the algorithm: a [`PublicKey`] knows its JWS `alg`, and a
//! header whose `alg` does not match the key is rejected (see [`jws`]).

pub mod did_key;
pub mod jwk;
pub mod jws;
mod keys;
pub mod x509;

pub use keys::{Algorithm, KeyError, PublicKey, SigningKey};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// base64url without padding (RFC 7515 §2).
pub fn b64url(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Strict base64url decoding: no padding, no other alphabet, no stray bits.
pub fn b64url_decode(text: impl AsRef<[u8]>) -> Result<Vec<u8>, base64::DecodeError> {
    URL_SAFE_NO_PAD.decode(text)
}

/// SHA-256 of `data`.
///
/// Uses the `SHA256_CTX` API: OpenSSL 3's one-shot `SHA256()` fetches the
/// algorithm (and takes a global lock) on every call, which showed up as
/// ~4 % of issuance time.
pub fn sha256(data: impl AsRef<[u8]>) -> [u8; 32] {
    let mut h = openssl::sha::Sha256::new();
    h.update(data.as_ref());
    h.finish()
}

/// `n` bytes from OpenSSL's CSPRNG.
///
/// Small requests are served from a per-thread pool filled 4 KiB at a time:
/// each `RAND_bytes` call costs about as much as a few hundred bytes of
/// output, and issuing one credential takes ~15 small random values.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    if N > POOL / 8 {
        fill_from_openssl(&mut buf);
        return buf;
    }
    RANDOM_POOL.with_borrow_mut(|(pool, pos)| {
        if *pos + N > POOL {
            fill_from_openssl(pool);
            *pos = 0;
        }
        let used = &mut pool[*pos..*pos + N];
        buf.copy_from_slice(used);
        // Handed-out bytes are wiped: the pool never holds a past value.
        used.fill(0);
        *pos += N;
    });
    buf
}

const POOL: usize = 4096;

thread_local! {
    /// Unused CSPRNG output and how much of it is used up.
    static RANDOM_POOL: std::cell::RefCell<([u8; POOL], usize)> =
        const { std::cell::RefCell::new(([0; POOL], POOL)) };
}

fn fill_from_openssl(buf: &mut [u8]) {
    // UNWRAP SAFETY: RAND_bytes fails only when the CSPRNG cannot be seeded,
    // in which case no key or salt may be produced at all.
    openssl::rand::rand_bytes(buf).expect("OpenSSL CSPRNG is unavailable");
}

/// A random 128-bit value, base64url encoded (22 characters).
pub fn random_token() -> String {
    b64url(random_bytes::<16>())
}

/// A random 128-bit value after a 48-bit millisecond timestamp, base64url
/// encoded (30 characters). As unguessable as [`random_token`], but tokens
/// made close in time share a prefix, so the store's B-tree writes a burst
/// of them into a few pages instead of one page each (issued-credential
/// ids, notification ids, c_nonces). Use it only where revealing the
/// creation time does no harm.
pub fn ordered_token() -> String {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let mut bytes = [0u8; 22];
    bytes[..6].copy_from_slice(&ms.to_be_bytes()[2..]);
    bytes[6..].copy_from_slice(&random_bytes::<16>());
    b64url(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pooled_random_values_differ_across_refills() {
        // Far more than one pool's worth: every refill boundary is crossed.
        let mut seen = std::collections::HashSet::new();
        for _ in 0..4 * POOL / 16 {
            let v = random_bytes::<16>();
            assert_ne!(v, [0; 16]);
            assert!(seen.insert(v), "a random value repeated");
        }
        // Large requests bypass the pool.
        assert_ne!(random_bytes::<1024>(), random_bytes::<1024>());
    }

    #[test]
    fn ordered_tokens_are_unique_and_share_a_time_prefix() {
        let a = ordered_token();
        let b = ordered_token();
        assert_eq!(a.len(), 30);
        assert_ne!(a, b);
        // The first 6 bytes (8 characters) are the millisecond clock, so two
        // tokens made now share at least the leading characters.
        assert_eq!(a[..5], b[..5]);
        assert_eq!(b64url_decode(&a).unwrap().len(), 22);
    }
}
