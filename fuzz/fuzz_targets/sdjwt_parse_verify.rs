//! Parse + verify of SD-JWTs from arbitrary input must never panic:
//! - full verification against a fixed issuer key (signature path);
//! - the holder's parser and claim selection (no signature, so the fuzzer
//!   reaches disclosure processing with real inputs);
//! - disclosure processing of `<payload JSON>~<disclosures>~` directly;
//! - did:key resolution and JWK parsing of the same bytes.
#![no_main]

use std::sync::OnceLock;

use digital_id::crypto::{Algorithm, PublicKey, SigningKey, did_key};
use digital_id::sdjwt::{self, ClaimPath, Disclosure, HolderCredential, VerifyPolicy, process};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

static ISSUER: OnceLock<SigningKey> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let issuer = ISSUER.get_or_init(|| SigningKey::generate(Algorithm::Es256).unwrap());
    let policy = VerifyPolicy::sd_jwt_vc(1_800_000_000).with_key_binding("aud", "nonce");
    let _ = sdjwt::verify(text, issuer.public(), &policy);

    if let Ok(holder) = HolderCredential::parse(text) {
        let mut selection: Vec<ClaimPath> = holder
            .paths
            .iter()
            .take(3)
            .cloned()
            .map(ClaimPath)
            .collect();
        selection.push(ClaimPath::keys(["given_name"]));
        let _ = holder.present(&selection[..selection.len() - 1], None);
        let _ = holder.select(&selection);
    }

    if let Some((head, rest)) = text.split_once('~')
        && let Ok(Value::Object(payload)) = serde_json::from_str::<Value>(head)
    {
        let disclosures: Vec<Disclosure> = rest
            .split('~')
            .filter(|d| !d.is_empty())
            .filter_map(|d| Disclosure::parse(d).ok())
            .collect();
        let _ = process::process(payload, &disclosures, true);
    }

    let _ = did_key::resolve(text);
    if let Ok(v) = serde_json::from_str::<Value>(text) {
        let _ = PublicKey::from_jwk(&v);
    }
});
