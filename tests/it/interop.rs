//! Other people's wallets against our server: `@openid4vc/openid4vci` (Credo's
//! protocol library) obtains credentials through metadata, offer link, token,
//! nonce and credential, and verifies them with `@sd-jwt/sd-jwt-vc` against
//! `/.well-known/jwt-vc-issuer`; `@openid4vc/openid4vp` answers our signed
//! request objects. Under `--profile haip` the same libraries authenticate
//! the wallet with a wallet attestation and its PoP, bind the token with
//! DPoP, send a key attestation, and verify the credential with the key of
//! its `x5c` chain. Drivers: `tests/interop/openid4vc/` (installed by
//! `scripts/test`).

use std::io::Write;
use std::process::{Command, Stdio};

use digital_id::config::{DEMO_CLIENT_ID, DEMO_REDIRECT_URI, KeyAttestationPolicy, Profile};
use digital_id::crypto::{Algorithm, SigningKey};
use serde_json::{Value, json};

use crate::example_wallet::wallet_provider::{ISO_18045_HIGH, WalletProvider};
use crate::fixture::{InProc, agent};

pub(crate) fn node(script: &str, input: &Value) -> Result<Value, Value> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/openid4vc");
    assert!(
        std::path::Path::new(dir)
            .join("node_modules/@openid4vc/openid4vci")
            .exists(),
        "the npm wallets are not installed: run tests/interop/install.sh (scripts/test does)"
    );
    let mut child = Command::new("node")
        .arg(format!("{dir}/{script}"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "{script} printed no JSON:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    if out.status.success() { Ok(v) } else { Err(v) }
}

/// An in-process server whose clock reads the real time: the wallets sign
/// with their own clocks.
pub(crate) fn real_time_server() -> InProc {
    let server = InProc::start();
    server.clock.set(digital_id::cli::unix_now());
    server
}

fn create_offer(server: &InProc, subject: &str, ids: &[&str], tx_code: bool) -> Value {
    let mut resp = agent()
        .post(&server.url("/issuer/offers"))
        .header("Authorization", &server.bearer())
        .send_json(
            json!({"subject_id": subject, "credential_configuration_ids": ids, "tx_code": tx_code}),
        )
        .unwrap();
    assert!(resp.status().is_success(), "offer: {}", resp.status());
    resp.body_mut().read_json().unwrap()
}

fn vci_wallet(server: &InProc, offer: &Value, holder: &SigningKey) -> Value {
    let input = json!({
        "offer": offer["offer_link"],
        "tx_code": offer.get("tx_code").cloned().unwrap_or(Value::Null),
        "holder_jwk": holder.to_private_jwk(),
    });
    node("wallet_vci.mjs", &input).unwrap_or_else(|e| {
        panic!(
            "the @openid4vc/openid4vci wallet failed: {e}\n(server {})",
            server.base
        )
    })
}

#[test]
fn openid4vci_library_wallet_gets_a_passport_with_tx_code() {
    let server = real_time_server();
    let offer = create_offer(&server, "ivanov-ivan", &["ru.passport"], true);
    let holder = SigningKey::generate(Algorithm::Es256).unwrap();
    let out = vci_wallet(&server, &offer, &holder);
    let credentials = out["credentials"].as_array().unwrap();
    assert_eq!(credentials.len(), 1);
    let claims = &out["verified_claims"];
    assert_eq!(claims["vct"], "urn:ru:digital-id:passport:1");
    assert_eq!(claims["family_name"], "Иванов");
    assert_eq!(claims["cnf"]["jwk"]["x"], holder.public().jwk()["x"]);
}

#[test]
fn openid4vci_library_wallet_gets_every_document_of_a_subject() {
    let server = real_time_server();
    for id in ["ru.driving_licence", "ru.snils", "ru.oms", "ru.inn"] {
        let offer = create_offer(&server, "ivanov-ivan", &[id], false);
        let holder = SigningKey::generate(Algorithm::Es256).unwrap();
        let out = vci_wallet(&server, &offer, &holder);
        let vct = digital_id::catalogue::find(id).unwrap().vct;
        assert_eq!(out["verified_claims"]["vct"], vct, "{id}");
    }
}

fn vp_wallet(request_link: &str, credential: &str, holder: &SigningKey) -> Value {
    let input = json!({
        "authorization_request": request_link,
        "credentials": [credential],
        "holder_jwk": holder.to_private_jwk(),
        "x509_trust": "accept",
    });
    node("wallet_vp.mjs", &input)
        .unwrap_or_else(|e| panic!("the @openid4vc/openid4vp wallet failed: {e}"))
}

/// A passport from our issuer in the wallet, a request from our verifier,
/// the `@openid4vc/openid4vp` wallet answers; returns the final status.
fn present_with_library_wallet(response_mode: Option<&str>, preset: &str) -> (Value, Value) {
    let server = real_time_server();
    let holder = SigningKey::generate(Algorithm::Es256).unwrap();
    let issued = crate::issuer::wallet::issue_one(&server, "ivanov-ivan", "ru.passport", &holder);
    let credential = issued.body["credentials"][0]["credential"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut body = json!({"preset": preset});
    if let Some(mode) = response_mode {
        body["response_mode"] = json!(mode);
    }
    let mut resp = agent()
        .post(&server.url("/verifier/requests"))
        .header("Authorization", &server.bearer())
        .send_json(body)
        .unwrap();
    assert!(resp.status().is_success());
    let created: Value = resp.body_mut().read_json().unwrap();
    let out = vp_wallet(
        created["authorization_request"].as_str().unwrap(),
        &credential,
        &holder,
    );
    let id = created["transaction_id"].as_str().unwrap();
    let mut status = agent()
        .get(&server.url(&format!("/verifier/requests/{id}")))
        .header("Authorization", &server.bearer())
        .call()
        .unwrap();
    (out, status.body_mut().read_json().unwrap())
}

#[test]
fn openid4vp_library_wallet_answers_with_direct_post_jwt() {
    let (out, status) = present_with_library_wallet(None, "age_over_18");
    assert_eq!(out["status"], 200, "{out}");
    assert_eq!(status["status"], "verified", "{status}");
    assert_eq!(
        status["claims"]["credential"]["age_equal_or_over"]["18"],
        true
    );
    assert!(status["claims"]["credential"].get("birthdate").is_none());
}

#[test]
fn openid4vp_library_wallet_answers_with_direct_post() {
    let (out, status) = present_with_library_wallet(Some("direct_post"), "identity");
    assert_eq!(out["status"], 200, "{out}");
    assert_eq!(status["status"], "verified", "{status}");
    assert_eq!(status["claims"]["credential"]["family_name"], "Иванов");
}

// ---------------------------------------------------------------------------
// HAIP 1.0: wallet attestation, DPoP, key attestation, x5c-signed credentials

/// Where a `--demo` server keeps the issuer CA it generates (beside the
/// verifier's `keys/verifier-ca.pem`): the anchor the wallet checks the
/// credential's `x5c` against.
const ISSUER_CA: &str = "keys/issuer-ca.pem";

/// A `--profile haip` demo server trusting one generated wallet provider,
/// with a `[key_attestation."ru.passport"]` policy (`iso_18045_high` for
/// both levels); its clock reads the real time.
struct Haip {
    server: InProc,
    provider: WalletProvider,
    _roots: tempfile::TempDir,
}

fn haip_server() -> Haip {
    let provider = WalletProvider::generate("https://wallet-provider.example").unwrap();
    let roots = tempfile::tempdir().unwrap();
    let pem = roots.path().join("wallet-providers.pem");
    std::fs::write(&pem, provider.root_pem().unwrap()).unwrap();
    let server = InProc::start_with(|s| {
        s.profile = Profile::Haip;
        s.attestation.wallet_provider_roots = vec![pem];
        s.key_attestation.insert(
            "ru.passport".into(),
            KeyAttestationPolicy {
                key_storage: vec![ISO_18045_HIGH.into()],
                user_authentication: vec![ISO_18045_HIGH.into()],
            },
        );
    });
    server.clock.set(digital_id::cli::unix_now());
    Haip {
        server,
        provider,
        _roots: roots,
    }
}

/// The server's demo issuer CA, PEM.
fn issuer_ca_pem(server: &InProc) -> String {
    let path = server.state.settings.data_dir.join(ISSUER_CA);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("the demo issuer CA {}: {e}", path.display()))
}

/// The wallet provider as the drivers take it: its leaf's private key and
/// its `x5c` (the leaf only).
fn provider_input(p: &WalletProvider) -> Value {
    json!({"id": p.id, "jwk": p.signer.to_private_jwk(), "x5c": p.x5c().unwrap()})
}

/// Runs `wallet_vci_haip.mjs` on `offer` with `provider` vouching for the
/// wallet as the demo client.
fn haip_wallet(
    h: &Haip,
    provider: &WalletProvider,
    offer: &Value,
    holder: &SigningKey,
    proof_type: &str,
) -> Result<Value, Value> {
    let input = json!({
        "offer": offer["offer_link"],
        "tx_code": offer.get("tx_code").cloned().unwrap_or(Value::Null),
        "holder_jwk": holder.to_private_jwk(),
        "wallet_provider": provider_input(provider),
        "client_id": DEMO_CLIENT_ID,
        "issuer_ca_pem": issuer_ca_pem(&h.server),
        "proof_type": proof_type,
    });
    node("wallet_vci_haip.mjs", &input)
}

/// What every HAIP run must show: the metadata the library relied on, a
/// DPoP token, the library-made attestations, and a passport for the
/// holder's key signed by a leaf certificate of the issuer CA.
fn assert_haip_passport(h: &Haip, out: &Value, holder: &SigningKey) {
    let meta = &out["metadata"];
    assert!(
        meta["token_endpoint_auth_methods_supported"]
            .as_array()
            .is_some_and(|m| m.contains(&json!("attest_jwt_client_auth"))),
        "{meta}"
    );
    assert_eq!(
        meta["key_attestations_required"],
        json!({"key_storage": [ISO_18045_HIGH], "user_authentication": [ISO_18045_HIGH]}),
        "{meta}"
    );
    assert_eq!(out["token_type"], "DPoP");
    // The wallet attestation (sub = client_id) and a PoP for this server.
    let sent = &out["sent"];
    assert_eq!(sent["client_attestation"]["payload"]["sub"], DEMO_CLIENT_ID);
    assert_eq!(sent["client_attestation"]["payload"]["iss"], h.provider.id);
    let pops = sent["client_attestation_pops"].as_array().unwrap();
    assert!(!pops.is_empty(), "{sent}");
    for pop in pops {
        assert_eq!(pop["payload"]["aud"], h.server.base.as_str(), "{pop}");
        assert_eq!(pop["payload"]["iss"], DEMO_CLIENT_ID, "{pop}");
    }
    assert_eq!(
        sent["key_attestation"]["header"]["typ"],
        "key-attestation+jwt"
    );
    // The credential: x5c = a leaf (and intermediates) under the issuer CA,
    // which itself is not in it (HAIP 1.0 §6.1.1). The driver checked the
    // chain with node:crypto; check it here with OpenSSL too.
    let x5c = out["credential_header"]["x5c"]
        .as_array()
        .unwrap_or_else(|| panic!("the credential has no x5c: {}", out["credential_header"]));
    let der = |v: &Value| {
        openssl::x509::X509::from_der(&openssl::base64::decode_block(v.as_str().unwrap()).unwrap())
            .unwrap()
    };
    let ca = openssl::x509::X509::from_pem(issuer_ca_pem(&h.server).as_bytes()).unwrap();
    let certs: Vec<_> = x5c.iter().map(der).collect();
    let last = certs.last().unwrap();
    assert!(last.verify(&ca.public_key().unwrap()).unwrap());
    assert!(
        certs
            .iter()
            .all(|c| c.to_der().unwrap() != ca.to_der().unwrap())
    );
    assert_eq!(
        out["issuer_chain"]["path"].as_array().unwrap().len(),
        x5c.len() + 1
    );
    // The status list token is x5c-signed too (HAIP 1.0 §6.1).
    assert_eq!(
        out["status_list"]["fetched"], true,
        "{}",
        out["status_list"]
    );
    assert!(
        out["status_list"]["x5c"].is_array(),
        "{}",
        out["status_list"]
    );
    let claims = &out["verified_claims"];
    assert_eq!(claims["vct"], "urn:ru:digital-id:passport:1");
    assert_eq!(claims["family_name"], "Иванов");
    assert_eq!(claims["cnf"]["jwk"]["x"], holder.public().jwk()["x"]);
}

#[test]
fn openid4vci_library_wallet_does_the_haip_flow() {
    let h = haip_server();
    let offer = create_offer(&h.server, "ivanov-ivan", &["ru.passport"], true);
    let holder = SigningKey::generate(Algorithm::Es256).unwrap();
    let out = haip_wallet(&h, &h.provider, &offer, &holder, "jwt").unwrap_or_else(|e| {
        panic!(
            "the @openid4vc HAIP wallet failed: {e}\n(server {})",
            h.server.base
        )
    });
    assert_eq!(out["proof_type"], "jwt");
    let proof = &out["sent"]["proof"];
    assert_eq!(proof["header"]["typ"], "openid4vci-proof+jwt");
    assert!(proof["header"]["key_attestation"].is_string(), "{proof}");
    assert_eq!(proof["payload"]["iss"], DEMO_CLIENT_ID);
    // Appendix F.1: the key attestation carries the proof's c_nonce.
    assert_eq!(
        out["sent"]["key_attestation"]["payload"]["nonce"],
        proof["payload"]["nonce"]
    );
    assert_haip_passport(&h, &out, &holder);
}

#[test]
fn openid4vci_library_wallet_uses_the_attestation_proof_type_under_haip() {
    let h = haip_server();
    let offer = create_offer(&h.server, "ivanov-ivan", &["ru.passport"], true);
    let holder = SigningKey::generate(Algorithm::Es256).unwrap();
    let out = haip_wallet(&h, &h.provider, &offer, &holder, "attestation").unwrap_or_else(|e| {
        panic!(
            "the @openid4vc HAIP wallet (attestation proof) failed: {e}\n(server {})",
            h.server.base
        )
    });
    assert_eq!(out["proof_type"], "attestation");
    assert!(out["sent"]["proof"].is_null());
    assert!(out["sent"]["key_attestation"]["payload"]["nonce"].is_string());
    assert_haip_passport(&h, &out, &holder);
}

/// The authorization-code flow under HAIP: the library pushes the
/// authorization request (PAR, required) with the wallet attestation and
/// DPoP, the citizen logs in at the demo page, and the library redeems the
/// code with the same wallet instance.
#[test]
fn openid4vci_library_wallet_does_the_haip_authorization_code_flow_with_par() {
    use crate::issuer::authcode::{decide, login, param};
    let h = haip_server();
    let holder = SigningKey::generate(Algorithm::Es256).unwrap();
    let started = node(
        "wallet_vci_haip.mjs",
        &json!({
            "phase": "authorize",
            "wallet_provider": provider_input(&h.provider),
            "client_id": DEMO_CLIENT_ID,
            "credential_issuer": h.server.base,
            "credential_configuration_id": "ru.passport",
            "redirect_uri": DEMO_REDIRECT_URI,
            "state": "st-haip",
        }),
    )
    .unwrap_or_else(|e| panic!("the @openid4vc HAIP wallet could not push: {e}"));
    assert_eq!(
        started["metadata"]["require_pushed_authorization_requests"],
        true
    );
    let pops = started["sent"]["client_attestation_pops"]
        .as_array()
        .unwrap();
    assert!(
        pops.iter()
            .any(|p| p["url"] == h.server.url("/par").as_str()
                && p["payload"]["aud"] == h.server.base.as_str()),
        "{pops:?}"
    );
    let request_uri = started["request_uri"].as_str().unwrap();
    let (status, page, mut location) = login(&h.server, request_uri, "ivanov-ivan");
    if status == 200 {
        let (status, _, l) = decide(&h.server, &page, "approve");
        assert_eq!(status, 303);
        location = l;
    }
    let location = location.expect("a redirect to the wallet");
    assert!(location.starts_with(DEMO_REDIRECT_URI), "{location}");
    assert_eq!(param(&location, "state").as_deref(), Some("st-haip"));
    let code = param(&location, "code").unwrap_or_else(|| panic!("no code: {location}"));
    let out = node(
        "wallet_vci_haip.mjs",
        &json!({
            "phase": "redeem",
            "resume": started["resume"],
            "code": code,
            "wallet_provider": provider_input(&h.provider),
            "client_id": DEMO_CLIENT_ID,
            "holder_jwk": holder.to_private_jwk(),
            "issuer_ca_pem": issuer_ca_pem(&h.server),
        }),
    )
    .unwrap_or_else(|e| {
        panic!(
            "the @openid4vc HAIP wallet could not redeem the code: {e}\n(server {})",
            h.server.base
        )
    });
    assert_haip_passport(&h, &out, &holder);
}

/// The POST to `/token` of a failed driver run, from its HTTP trace.
fn token_status(failed: &Value) -> Option<u64> {
    failed["http_trace"]
        .as_array()?
        .iter()
        .rev()
        .find(|t| t["method"] == "POST" && t["url"].as_str().is_some_and(|u| u.ends_with("/token")))
        .and_then(|t| t["status"].as_u64())
}

#[test]
fn under_haip_a_library_wallet_without_a_trusted_wallet_attestation_gets_no_token() {
    let h = haip_server();
    let holder = SigningKey::generate(Algorithm::Es256).unwrap();
    // The plain wallet (DPoP, client_id, no wallet attestation).
    let offer = create_offer(&h.server, "ivanov-ivan", &["ru.passport"], true);
    let input = json!({
        "offer": offer["offer_link"],
        "tx_code": offer["tx_code"],
        "holder_jwk": holder.to_private_jwk(),
        "client_id": DEMO_CLIENT_ID,
    });
    let failed = node("wallet_vci.mjs", &input).expect_err("a token without client attestation");
    assert_eq!(failed["step"], "token", "{failed}");
    assert!(matches!(token_status(&failed), Some(400 | 401)), "{failed}");
    // A wallet attestation from a provider the server does not trust.
    let stranger = WalletProvider::generate("https://stranger.example").unwrap();
    let offer = create_offer(&h.server, "ivanov-ivan", &["ru.passport"], true);
    let failed = haip_wallet(&h, &stranger, &offer, &holder, "jwt")
        .expect_err("a token for an untrusted wallet provider's attestation");
    assert_eq!(failed["step"], "token", "{failed}");
    assert!(matches!(token_status(&failed), Some(400 | 401)), "{failed}");
}

/// The attestations `@openid4vc` 0.4.6 makes (no server involved) against
/// our own trust rules: the wallet attestation and the key attestations
/// verify with `trust::attestation` (x5c to the provider's root), the PoP
/// with the attestation's `cnf` key, the `jwt` proof carries the key
/// attestation and is signed by the attested key. The library's own key
/// attestation `typ` is the pre-1.0 `keyattestation+jwt`, which OpenID4VCI
/// 1.0 Appendix D.1 renamed: our check refuses it, so the driver's wallet
/// provider signer writes `key-attestation+jwt`.
#[test]
fn the_attestations_the_library_makes_pass_our_trust_checks() {
    use digital_id::crypto::PublicKey;
    use digital_id::crypto::jws::Jws;
    use digital_id::crypto::x509::Anchors;
    use digital_id::trust::attestation::{self, Expect};

    let provider = WalletProvider::generate("https://wallet-provider.example").unwrap();
    let holder = SigningKey::generate(Algorithm::Es256).unwrap();
    let aud = "https://issuer.example";
    let mut input = json!({
        "wallet_provider": provider_input(&provider),
        "client_id": DEMO_CLIENT_ID,
        "audience": aud,
        "credential_issuer": aud,
        "holder_jwk": holder.to_private_jwk(),
        "nonce": "c-nonce-1",
    });
    let out =
        node("attestations.mjs", &input).unwrap_or_else(|e| panic!("attestations.mjs failed: {e}"));
    let mut roots = Anchors::default();
    roots
        .add_pem("wallet-providers.pem", &provider.root_pem().unwrap())
        .unwrap();
    let now = digital_id::cli::unix_now();
    let expect = |kind| Expect {
        kind,
        roots: &roots,
        algs: &["ES256"],
        now,
        skew: 5,
    };
    let text = |k: &str| out[k].as_str().unwrap().to_owned();

    let wallet = attestation::verify(&text("client_attestation"), &expect(attestation::WALLET))
        .unwrap_or_else(|e| panic!("wallet attestation: {e}"));
    assert_eq!(wallet.claims["iss"], provider.id.as_str());
    assert_eq!(wallet.claims["sub"], DEMO_CLIENT_ID);
    assert_eq!(wallet.claims["cnf"]["jwk"], out["instance_jwk"]);

    let pop_text = text("client_attestation_pop");
    let pop = Jws::decode(&pop_text).unwrap();
    assert_eq!(pop.typ(), Some("oauth-client-attestation-pop+jwt"));
    assert!(pop.header.get("x5c").is_none() && pop.header.get("jwk").is_none());
    pop.verify(&PublicKey::from_jwk(&wallet.claims["cnf"]["jwk"]).unwrap())
        .unwrap();
    let claims = pop.payload_json().unwrap();
    assert_eq!(claims["aud"], aud);
    assert_eq!(claims["iss"], DEMO_CLIENT_ID);
    assert!(claims["jti"].as_str().is_some_and(|j| j.len() >= 16));
    assert!(
        claims["iat"]
            .as_i64()
            .is_some_and(|t| t.abs_diff(now) <= 60)
    );
    assert!(
        claims.get("challenge").is_none(),
        "0.4.6 has no way to send one"
    );

    let attested = json!([holder.public().jwk_for_publication()]);
    for (k, nonce) in [
        ("key_attestation", "c-nonce-1"),
        ("attestation_proof", "c-nonce-1"),
    ] {
        let ka = attestation::verify(&text(k), &expect(attestation::KEY))
            .unwrap_or_else(|e| panic!("{k}: {e}"));
        assert_eq!(ka.claims["iss"], provider.id.as_str(), "{k}");
        assert_eq!(ka.claims["nonce"], nonce, "{k}");
        assert_eq!(ka.claims["key_storage"], json!([ISO_18045_HIGH]), "{k}");
        assert_eq!(
            ka.claims["user_authentication"],
            json!([ISO_18045_HIGH]),
            "{k}"
        );
        let keys = ka.claims["attested_keys"].as_array().unwrap();
        assert_eq!(keys.len(), 1, "{k}");
        assert_eq!(keys[0]["x"], attested[0]["x"], "{k}");
        assert_eq!(keys[0]["y"], attested[0]["y"], "{k}");
    }

    let proof_text = text("jwt_proof");
    let proof = Jws::decode(&proof_text).unwrap();
    assert_eq!(proof.typ(), Some("openid4vci-proof+jwt"));
    assert_eq!(proof.header["key_attestation"], out["key_attestation"]);
    assert_eq!(proof.header["jwk"]["x"], attested[0]["x"]);
    proof.verify(holder.public()).unwrap();
    let claims = proof.payload_json().unwrap();
    assert_eq!(claims["aud"], aud);
    assert_eq!(claims["nonce"], "c-nonce-1");
    assert_eq!(claims["iss"], DEMO_CLIENT_ID);

    // Left as the library makes it, the key attestation has the drafts' typ.
    input["key_attestation_typ"] = json!("library");
    let out =
        node("attestations.mjs", &input).unwrap_or_else(|e| panic!("attestations.mjs failed: {e}"));
    let header = Jws::decode(out["key_attestation"].as_str().unwrap())
        .unwrap()
        .header;
    assert_eq!(header["typ"], "keyattestation+jwt");
    let refused = attestation::verify(
        out["key_attestation"].as_str().unwrap(),
        &expect(attestation::KEY),
    )
    .unwrap_err();
    assert_eq!(refused.reason(), "wrong_typ");
}
