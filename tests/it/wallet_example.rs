//! The example wallet (`examples/wallet.rs`, compiled into this binary as
//! `example_wallet`) run through its command line against a real server:
//! `offer` obtains a passport with the transaction code.

use std::path::Path;

use digital_id::config::Profile;
use digital_id::crypto::SigningKey;
use digital_id::sdjwt::HolderCredential;
use serde_json::Value;

use crate::example_wallet;
use crate::example_wallet::wallet_provider::WalletProvider;
use crate::fixture::InProc;
use crate::issuer::wallet;

/// Runs `wallet --dir <dir> offer <link> --tx-code <tx>` on a passport
/// offer and checks that the stored credential is that passport, bound to
/// the wallet's device key. The wallet signs with the real clock, so the
/// server's is set to it.
fn example_wallet_gets_a_passport(server: &InProc, dir: &Path) {
    server.clock.set(digital_id::cli::unix_now());
    let o = wallet::offer(server, "ivanov-ivan", &["ru.passport"], true);
    let dir_arg = dir.to_str().unwrap();
    let link = o["offer_link"].as_str().unwrap();
    let tx = o["tx_code"].as_str().unwrap();
    example_wallet::run(["wallet", "--dir", dir_arg, "offer", link, "--tx-code", tx])
        .unwrap_or_else(|e| panic!("the example wallet failed: {e}"));

    let stored: Vec<String> =
        serde_json::from_slice(&std::fs::read(dir.join("wallet-credentials.json")).unwrap())
            .unwrap();
    assert_eq!(stored.len(), 1);
    let h = HolderCredential::parse(&stored[0]).unwrap();
    let meta = wallet::get(server, "/.well-known/openid-credential-issuer").body;
    let vct = &meta["credential_configurations_supported"]["ru.passport"]["vct"];
    assert!(vct.is_string());
    assert_eq!(h.claims.get("vct"), Some(vct));
    let device: Value =
        serde_json::from_slice(&std::fs::read(dir.join("wallet-key.jwk")).unwrap()).unwrap();
    let device = SigningKey::from_jwk(&device).unwrap();
    let cnf = &h.claims.get("cnf").expect("cnf")["jwk"];
    for m in ["kty", "crv", "x", "y"] {
        assert_eq!(cnf[m], device.public().jwk()[m], "cnf.jwk.{m}");
    }
}

/// Under `--profile haip` `/token` requires a DPoP proof with a server
/// nonce and client attestation: the wallet authenticates with an
/// attestation from its test wallet provider (whose root the server
/// trusts) and a PoP, binds its token, answers `use_dpop_nonce` once and
/// presents the token with `ath` proofs at `/credential`; each proof
/// carries a key attestation by the same provider.
#[test]
fn example_wallet_gets_a_passport_from_a_haip_server() {
    let dir = tempfile::tempdir().unwrap();
    let provider_dir = dir.path().join("wallet-provider");
    let provider =
        WalletProvider::load_or_generate(&provider_dir, example_wallet::WALLET_PROVIDER).unwrap();
    let server = InProc::start_with(|s| {
        s.profile = Profile::Haip;
        s.attestation.wallet_provider_roots = vec![provider_dir.join("root.pem")];
    });
    let as_meta = wallet::get(&server, "/.well-known/oauth-authorization-server").body;
    assert_eq!(
        as_meta["dpop_signing_alg_values_supported"],
        serde_json::json!(["ES256"])
    );
    assert_eq!(
        as_meta["token_endpoint_auth_methods_supported"],
        serde_json::json!(["attest_jwt_client_auth"])
    );
    example_wallet_gets_a_passport(&server, dir.path());
    // The issuer recorded the attestation's provider and levels.
    let records = wallet::get_authorized(&server, "/issuer/subjects/ivanov-ivan/credentials");
    let attested = &records.body[0]["key_attestation"];
    assert_eq!(
        attested["wallet_provider"],
        format!("CN={} attestations", provider.id)
    );
    assert_eq!(
        attested["key_storage"],
        serde_json::json!(["iso_18045_high"])
    );
}

#[test]
fn example_wallet_gets_a_passport_from_a_default_server() {
    let dir = tempfile::tempdir().unwrap();
    example_wallet_gets_a_passport(&InProc::start(), dir.path());
    // No key attestation was asked for, so the wallet made no provider.
    assert!(!dir.path().join("wallet-provider").exists());
}
