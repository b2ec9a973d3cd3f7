//! Other people's wallets against our server: `@openid4vc/openid4vci` (Credo's
//! protocol library) obtains credentials through metadata, offer link, token,
//! nonce and credential, and verifies them with `@sd-jwt/sd-jwt-vc` against
//! `/.well-known/jwt-vc-issuer`; `@openid4vc/openid4vp` answers our signed
//! request objects. Drivers: `tests/interop/openid4vc/` (installed by
//! `scripts/test`).

use std::io::Write;
use std::process::{Command, Stdio};

use digital_id::crypto::{Algorithm, SigningKey};
use serde_json::{Value, json};

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
