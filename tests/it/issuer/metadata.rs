//! Discovery documents, with OpenID4VCI 1.0 final field names.

use serde_json::json;

use super::wallet;
use crate::fixture::InProc;

#[test]
fn credential_issuer_metadata() {
    let server = InProc::start();
    let m = wallet::get(&server, "/.well-known/openid-credential-issuer");
    assert_eq!(m.status, 200);
    let m = m.body;
    assert_eq!(m["credential_issuer"], server.base.as_str());
    assert_eq!(m["credential_endpoint"], server.url("/credential"));
    assert_eq!(m["nonce_endpoint"], server.url("/nonce"));
    assert_eq!(m["notification_endpoint"], server.url("/notification"));
    assert_eq!(m["batch_credential_issuance"], json!({"batch_size": 10}));
    let configs = m["credential_configurations_supported"]
        .as_object()
        .unwrap();
    assert_eq!(configs.len(), 8);
    for (id, c) in configs {
        assert_eq!(c["format"], "dc+sd-jwt");
        assert_eq!(c["scope"], id.as_str());
        assert!(c["vct"].as_str().unwrap().starts_with("urn:ru:digital-id:"));
        assert_eq!(c["cryptographic_binding_methods_supported"], json!(["jwk"]));
        assert_eq!(
            c["credential_signing_alg_values_supported"],
            json!(["ES256"])
        );
        assert_eq!(
            c["proof_types_supported"]["jwt"]["proof_signing_alg_values_supported"],
            json!(["ES256", "Ed25519", "EdDSA"])
        );
        let locales: Vec<&str> = c["credential_metadata"]["display"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["locale"].as_str().unwrap())
            .collect();
        assert_eq!(locales, ["ru-RU", "en-US"]);
        for claim in c["credential_metadata"]["claims"].as_array().unwrap() {
            assert!(claim["path"].is_array());
            assert_eq!(claim["display"].as_array().unwrap().len(), 2);
        }
        let tm = c["type_metadata_uri"].as_str().unwrap();
        let served = wallet::get(&server, tm.strip_prefix(&server.base).unwrap());
        assert_eq!(served.status, 200);
        assert_eq!(served.body["vct"], c["vct"]);
    }
}

#[test]
fn authorization_server_and_jwt_vc_issuer_metadata() {
    let server = InProc::start();
    let a = wallet::get(&server, "/.well-known/oauth-authorization-server").body;
    assert_eq!(a["issuer"], server.base.as_str());
    assert_eq!(a["token_endpoint"], server.url("/token"));
    assert_eq!(a["authorization_endpoint"], server.url("/authorize"));
    assert_eq!(
        a["pushed_authorization_request_endpoint"],
        server.url("/par")
    );
    assert_eq!(a["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(a["pre-authorized_grant_anonymous_access_supported"], true);
    assert_eq!(
        a["authorization_details_types_supported"],
        json!(["openid_credential"])
    );
    let j = wallet::get(&server, "/.well-known/jwt-vc-issuer").body;
    assert_eq!(j["issuer"], server.base.as_str());
    for k in j["jwks"]["keys"].as_array().unwrap() {
        assert!(k["kid"].is_string());
        assert!(k.get("d").is_none());
    }
}

#[test]
fn well_known_path_insertion_when_the_public_url_has_a_path() {
    let server = InProc::start_with(|s| {
        let url = format!("http://{}/tenant", s.bind);
        s.public_url = digital_id::config::PublicUrl::parse(&url).unwrap();
    });
    let issuer = format!("{}/tenant", server.base);
    let m = wallet::get(&server, "/.well-known/openid-credential-issuer/tenant");
    assert_eq!(m.status, 200);
    assert_eq!(m.body["credential_issuer"], issuer.as_str());
    assert_eq!(
        m.body["credential_endpoint"],
        format!("{issuer}/credential")
    );
    let a = wallet::get(&server, "/.well-known/oauth-authorization-server/tenant");
    assert_eq!(a.body["issuer"], issuer.as_str());
    let j = wallet::get(&server, "/.well-known/jwt-vc-issuer/tenant");
    assert_eq!(j.body["issuer"], issuer.as_str());
    assert_eq!(
        wallet::get(&server, "/.well-known/openid-credential-issuer/other").status,
        404
    );
}

/// OpenID4VCI 1.0 §12.2.4: `batch_size` "MUST be 2 or greater", so an
/// issuer that takes one proof per request leaves the object out (and
/// refuses a second proof).
#[test]
fn batch_size_one_is_not_advertised() {
    let server = InProc::start_with(|s| s.issuer.batch_size = 1);
    let m = wallet::get(&server, "/.well-known/openid-credential-issuer").body;
    assert!(m["credential_configurations_supported"].is_object());
    assert!(
        m.get("batch_credential_issuance").is_none(),
        "{}",
        m["batch_credential_issuance"]
    );
    let o = wallet::offer(&server, "ivanov-ivan", &["ru.inn"], true);
    let token = wallet::access_token(&server, &o);
    let n = wallet::nonce(&server);
    let (a, b) = (wallet::key(), wallet::key());
    let r = wallet::credential(
        &server,
        &token,
        &json!({"credential_configuration_id": "ru.inn", "proofs": {"jwt": [
            wallet::proof(&server, &a, &n), wallet::proof(&server, &b, &n)]}}),
    );
    assert_eq!((r.status, r.error()), (400, "invalid_credential_request"));
    let r = wallet::credential(
        &server,
        &token,
        &json!({"credential_configuration_id": "ru.inn", "proofs": {"jwt": [
            wallet::proof(&server, &a, &n)]}}),
    );
    assert_eq!(r.status, 200, "{:?}", r.body);
}

/// `batch_size = 0` is a configuration error: one line, exit status 2,
/// nothing served.
#[test]
fn batch_size_zero_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "[issuer]\nbatch_size = 0\n").unwrap();
    let out = std::process::Command::new(crate::fixture::BIN)
        .args(["serve", "--bind", "127.0.0.1:0", "--config"])
        .arg(&config)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("issuer.batch_size = 0"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}
