//! Keys, JWKs, did:key and compact JWS. Pure: no file or network I/O.
//!
//! The key decides the algorithm: a [`PublicKey`] knows its JWS `alg`, and a
//! header whose `alg` does not match the key is rejected (see [`jws`]).

pub mod did_key;
pub mod jwk;
pub mod jws;
mod keys;

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
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    // UNWRAP SAFETY: RAND_bytes fails only when the CSPRNG cannot be seeded,
    // in which case no key or salt may be produced at all.
    openssl::rand::rand_bytes(&mut buf).expect("OpenSSL CSPRNG is unavailable");
    buf
}

/// A random 128-bit value, base64url encoded (22 characters).
pub fn random_token() -> String {
    b64url(random_bytes::<16>())
}
