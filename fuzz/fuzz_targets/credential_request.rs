//! `POST /credential` bodies (OpenID4VCI 1.0 §8.2) with `proofs.jwt` key
//! proofs, checked against a fixed c_nonce, audience and clock, through to
//! issuance; see `digital_id_fuzz::credential_request` for the invariants.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = digital_id_fuzz::credential_request(data);
});
