//! Pure trust checks: who is presenting what, verified from the bytes
//! alone. No I/O and no actix here; callers supply the time, the expected
//! values and any stored state (replay caches live in the store, with the
//! caller).

pub mod attestation;
pub mod client_attestation;
pub mod dpop;
pub mod key_attestation;

/// Seconds a replay marker outlives two `iat` windows: with it, nodes
/// sharing a store may have clocks up to `window + NODE_CLOCK_SKEW - 1`
/// seconds apart (119 s for the 60 s windows of DPoP and client
/// attestation PoPs) without a replay slipping through.
pub const NODE_CLOCK_SKEW: i64 = 60;

/// When the replay marker of a proof issued at `iat` may be swept, for a
/// proof accepted while `|now - iat| <= window` by the clock of whichever
/// node serves it: `iat + 2·window + NODE_CLOCK_SKEW`.
///
/// A node accepts the proof until its clock reads `iat + window`; a node
/// drops the marker (reads it as absent, or sweeps it) once its own clock
/// reads the expiry. So the marker is there for every node that still
/// accepts the proof as long as no node's clock runs `window +
/// NODE_CLOCK_SKEW` seconds or more ahead of another's. An expiry of `iat
/// + window + 1` held only for perfectly agreeing clocks.
pub fn replay_expires_at(iat: i64, window: i64) -> i64 {
    iat.saturating_add(window.saturating_mul(2))
        .saturating_add(NODE_CLOCK_SKEW)
}

/// The replay-cache key of a proof by the key with RFC 7638 thumbprint
/// `jkt`: its `jti` is unique per key (RFC 9449 §11.1; the same for a
/// client attestation PoP), and hashing bounds the key's length.
pub fn replay_key(jkt: &str, jti: &str) -> String {
    use crate::crypto::{b64url, sha256};
    b64url(sha256(format!("{jkt}\n{jti}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replay_marker_outlives_every_acceptance_across_skewed_nodes() {
        const IAT: i64 = 1_700_000_000;
        const WINDOW: i64 = 60;
        let expires = replay_expires_at(IAT, WINDOW);
        assert_eq!(expires, IAT + 2 * WINDOW + NODE_CLOCK_SKEW);
        // A store reads an entry as absent (and sweeps it) once
        // `expires_at <= now`, with the reading node's `now`.
        let live = |now: i64| expires > now;
        let tolerated = WINDOW + NODE_CLOCK_SKEW - 1;
        // Node B accepts the proof at any clock reading within the window;
        // node A, `ahead` seconds ahead of B, must still hold the marker.
        for accepting in IAT - WINDOW..=IAT + WINDOW {
            for ahead in 0..=tolerated {
                assert!(live(accepting + ahead), "{accepting} {ahead}");
            }
        }
        // The bound is tight: one more second and A has swept it while B
        // accepts at the end of its window.
        assert!(!live(IAT + WINDOW + tolerated + 1));
        assert_eq!(
            replay_expires_at(i64::MAX - 1, WINDOW),
            i64::MAX,
            "no overflow"
        );
    }
}
