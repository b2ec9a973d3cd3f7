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
            json!(["ES256", "EdDSA"])
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
