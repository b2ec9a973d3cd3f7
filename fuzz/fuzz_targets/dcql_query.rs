//! `POST /verifier/requests` bodies (a preset or a DCQL query, OpenID4VP 1.0
//! §6): parsing, every structural rule, creating the transaction and its
//! request object, and evaluating a valid query against sample credentials
//! must never panic; see `digital_id_fuzz::dcql_query` for the invariants.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = digital_id_fuzz::dcql_query(data);
});
