//! The wallet's answer at the response URI (OpenID4VP 1.0 §8.2 `direct_post`,
//! §8.3.1 `direct_post.jwt` with a JWE to a fixed response key), and request
//! objects as a wallet parses them; see `digital_id_fuzz::vp_response` for
//! the input layout and the invariants.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = digital_id_fuzz::vp_response(data);
});
