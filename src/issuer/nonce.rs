//! Nonce endpoint (OpenID4VCI 1.0 §7): a fresh `c_nonce` that a key proof
//! must carry; it lives `c_nonce_ttl` seconds (5 minutes) and is consumed by
//! the first credential request that uses it.
//!
//! A `c_nonce` costs the store nothing until it is used: it carries its own
//! expiry and a MAC under the store secret (so only this deployment's nodes
//! make valid ones), and its use writes a *spent* marker, inside the
//! issuance transaction, that lives until the nonce would have expired. A
//! flood of `POST /nonce` writes nothing; a second use of a nonce finds the
//! marker and fails the transaction.
//!
//! DPoP nonces (RFC 9449 §8, sent in the `DPoP-Nonce` header of `/nonce`
//! and of `use_dpop_nonce` errors) are made the same way under their own MAC
//! purpose, live [`DPOP_NONCE_TTL`] seconds and are not single use (a
//! proof's `jti` is). So are the challenges of attestation-based client
//! authentication (`POST /challenge`, the `OAuth-Client-Attestation-Challenge`
//! header), under a third purpose, for [`CHALLENGE_TTL`] seconds.
//!
//! Form: base64url(expiry as 8 bytes big-endian ‖ 16 random bytes) (32
//! characters, so markers sort by expiry) followed by the first 22
//! characters of base64url(HMAC-SHA-256) over them.

use serde::Serialize;

use super::{Ctx, ns};
use crate::crypto::{b64url, b64url_decode, random_bytes};
use crate::keystore::StoreSecret;
use crate::store::TxOp;

/// `POST /nonce` answer.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct NonceResponse {
    /// The nonce a key proof must carry; single use.
    pub c_nonce: String,
}

/// Length of the nonce's body (expiry and randomness).
const BODY: usize = 32;
/// Length of its MAC (16.5 bytes of HMAC-SHA-256).
const TAG: usize = 22;
/// The store secret's purpose label for nonce MACs.
const PURPOSE: &str = "c_nonce";
/// The store secret's purpose label for DPoP nonce MACs.
const DPOP_PURPOSE: &str = "dpop_nonce";
/// Seconds a DPoP nonce is accepted.
pub const DPOP_NONCE_TTL: i64 = 300;
/// The store secret's purpose label for client attestation challenges.
const CHALLENGE_PURPOSE: &str = "attestation_challenge";
/// Seconds a client attestation challenge is accepted.
pub const CHALLENGE_TTL: i64 = 300;

/// `POST /nonce`.
pub fn issue(ctx: &Ctx<'_>) -> NonceResponse {
    NonceResponse {
        c_nonce: make(
            &ctx.keys.store_secret,
            PURPOSE,
            ctx.now + ctx.settings.issuer.c_nonce_ttl,
        ),
    }
}

/// A fresh DPoP nonce (the `DPoP-Nonce` header).
pub fn dpop_nonce(ctx: &Ctx<'_>) -> String {
    make(
        &ctx.keys.store_secret,
        DPOP_PURPOSE,
        ctx.now + DPOP_NONCE_TTL,
    )
}

/// Whether `nonce` is a DPoP nonce this deployment made and still accepts.
pub fn dpop_nonce_ok(ctx: &Ctx<'_>, nonce: &str) -> bool {
    verify(&ctx.keys.store_secret, DPOP_PURPOSE, nonce, ctx.now).is_some()
}

/// A fresh challenge for a client attestation PoP
/// (draft-ietf-oauth-attestation-based-client-auth §5).
pub fn attestation_challenge(ctx: &Ctx<'_>) -> String {
    make(
        &ctx.keys.store_secret,
        CHALLENGE_PURPOSE,
        ctx.now + CHALLENGE_TTL,
    )
}

/// Whether `challenge` is one this deployment made and still accepts.
pub fn attestation_challenge_ok(ctx: &Ctx<'_>, challenge: &str) -> bool {
    verify(
        &ctx.keys.store_secret,
        CHALLENGE_PURPOSE,
        challenge,
        ctx.now,
    )
    .is_some()
}

/// A `c_nonce` valid until `expires_at`.
fn make(secret: &StoreSecret, purpose: &'static str, expires_at: i64) -> String {
    let mut bytes = [0u8; 24];
    bytes[..8].copy_from_slice(&expires_at.to_be_bytes());
    bytes[8..].copy_from_slice(&random_bytes::<16>());
    let body = b64url(bytes);
    let tag = secret.derive(purpose, &body);
    format!("{body}{}", &tag[..TAG])
}

/// A `c_nonce` this deployment made and that has not expired at `now`: its
/// expiry, for [`consume_op`]. Whether it was used already is the
/// transaction's to find out.
pub fn check(ctx: &Ctx<'_>, c_nonce: &str) -> Option<Live> {
    verify(&ctx.keys.store_secret, PURPOSE, c_nonce, ctx.now)
}

/// An authentic, unexpired nonce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Live {
    body: String,
    expires_at: i64,
}

fn verify(secret: &StoreSecret, purpose: &'static str, c_nonce: &str, now: i64) -> Option<Live> {
    if c_nonce.len() != BODY + TAG || !c_nonce.is_ascii() {
        return None;
    }
    let (body, tag) = c_nonce.split_at(BODY);
    let expected = secret.derive(purpose, body);
    // Both are TAG bytes long here, as `memcmp::eq` needs.
    if !openssl::memcmp::eq(tag.as_bytes(), &expected.as_bytes()[..TAG]) {
        return None;
    }
    let bytes = b64url_decode(body).ok()?;
    let expires_at = i64::from_be_bytes(bytes.get(..8)?.try_into().ok()?);
    (expires_at > now).then(|| Live {
        body: body.to_owned(),
        expires_at,
    })
}

/// The transaction step that uses up the nonce: inserts its spent marker,
/// so the transaction fails with `Conflict` when it was used before.
pub fn consume_op(ctx: &Ctx<'_>, nonce: &Live) -> TxOp {
    TxOp::Insert {
        ns: ns::C_NONCE,
        key: nonce.body.clone(),
        value: Vec::new(),
        expires_at: Some(nonce.expires_at),
        now: ctx.now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(byte: u8) -> StoreSecret {
        StoreSecret::new(&[byte; 32])
    }

    #[test]
    fn a_nonce_verifies_until_it_expires() {
        let s = secret(1);
        let n = make(&s, PURPOSE, 1000);
        assert_eq!(n.len(), BODY + TAG);
        let live = verify(&s, PURPOSE, &n, 999).expect("live");
        assert_eq!(live.expires_at, 1000);
        assert_eq!(live.body, n[..BODY]);
        assert_eq!(verify(&s, PURPOSE, &n, 1000), None, "expired at its expiry");
        assert_ne!(make(&s, PURPOSE, 1000), n, "fresh randomness each time");
    }

    #[test]
    fn forged_altered_or_foreign_nonces_fail() {
        let s = secret(1);
        let n = make(&s, PURPOSE, 1000);
        assert_eq!(
            verify(&secret(2), PURPOSE, &n, 0),
            None,
            "another deployment's"
        );
        // A later expiry written into the body breaks the MAC.
        let forged_body = b64url({
            let mut b = b64url_decode(&n[..BODY]).unwrap();
            b[..8].copy_from_slice(&i64::MAX.to_be_bytes());
            b
        });
        assert_eq!(
            verify(&s, PURPOSE, &format!("{forged_body}{}", &n[BODY..]), 0),
            None
        );
        for i in [0, BODY - 1, BODY, n.len() - 1] {
            let mut bytes = n.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let altered = String::from_utf8(bytes).unwrap();
            assert_eq!(
                verify(&s, PURPOSE, &altered, 0),
                None,
                "character {i} changed"
            );
        }
        for junk in ["", "x", &n[..BODY], &format!("{n}A"), &"é".repeat(27)] {
            assert_eq!(verify(&s, PURPOSE, junk, 0), None, "{junk:?}");
        }
    }

    #[test]
    fn c_nonces_dpop_nonces_and_challenges_are_not_interchangeable() {
        let s = secret(1);
        let c = make(&s, PURPOSE, 1000);
        let d = make(&s, DPOP_PURPOSE, 1000);
        assert!(verify(&s, DPOP_PURPOSE, &d, 999).is_some());
        assert_eq!(verify(&s, DPOP_PURPOSE, &c, 999), None);
        assert_eq!(verify(&s, PURPOSE, &d, 999), None);
        let a = make(&s, CHALLENGE_PURPOSE, 1000);
        assert!(verify(&s, CHALLENGE_PURPOSE, &a, 999).is_some());
        for other in [PURPOSE, DPOP_PURPOSE] {
            assert_eq!(verify(&s, other, &a, 999), None);
            assert_eq!(
                verify(&s, CHALLENGE_PURPOSE, &make(&s, other, 1000), 999),
                None
            );
        }
    }
}
