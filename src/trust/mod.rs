//! Pure trust checks: who is presenting what, verified from the bytes
//! alone. No I/O and no actix here; callers supply the time, the expected
//! values and any stored state (replay caches live in the store, with the
//! caller).

pub mod attestation;
pub mod client_attestation;
pub mod dpop;
pub mod key_attestation;
