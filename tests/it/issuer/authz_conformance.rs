//! Authorization-request conformance: `scope` beside `authorization_details`
//! (OpenID4VCI 1.0 §5.1.2), `authorization_details` in the token request of
//! either grant (§6.1, §6.2) and the `credential_identifier` it then needs
//! (§8.2).

use serde_json::{Value, json};

use super::authcode::{self, CLIENT, REDIRECT, code_for, redeem};
use super::wallet::{
    self, PRE_AUTH, credential, key, nonce, post_form, pre_authorized_code, proof,
};
use crate::fixture::InProc;

fn details(ids: &[&str]) -> String {
    let list: Vec<Value> = ids
        .iter()
        .map(|id| json!({"type": "openid_credential", "credential_configuration_id": id}))
        .collect();
    Value::Array(list).to_string()
}

/// The token response's `credential_identifiers`, by configuration.
fn identifiers(token_response: &Value) -> Vec<(String, Vec<String>)> {
    token_response["authorization_details"]
        .as_array()
        .unwrap_or_else(|| panic!("no authorization_details: {token_response}"))
        .iter()
        .map(|d| {
            assert_eq!(d["type"], "openid_credential");
            let ids = d["credential_identifiers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i.as_str().unwrap().to_owned())
                .collect();
            (
                d["credential_configuration_id"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
                ids,
            )
        })
        .collect()
}

/// Issues one credential with `credential_identifier`; returns its `vct`.
fn issue_by_identifier(server: &InProc, token: &str, identifier: &str) -> Value {
    let n = nonce(server);
    let r = credential(
        server,
        token,
        &json!({"credential_identifier": identifier, "proofs": {"jwt": [proof(server, &key(), &n)]}}),
    );
    assert_eq!(r.status, 200, "{:?}", r.body);
    let v = wallet::verify(
        server,
        r.body["credentials"][0]["credential"].as_str().unwrap(),
    );
    v.claims["vct"].clone()
}

#[test]
fn scope_and_authorization_details_in_one_request_are_both_honoured() {
    let server = InProc::start();
    let code = code_for(
        &server,
        "ivanov-ivan",
        &[
            // `openid` is ignored; `ru.passport` is named by both and
            // counts once.
            ("scope", "openid ru.snils ru.passport"),
            ("authorization_details", &details(&["ru.passport"])),
        ],
    );
    let t = redeem(&server, &code);
    assert_eq!(t.status, 200, "{:?}", t.body);
    let by_cfg = identifiers(&t.body);
    let cfgs: Vec<&str> = by_cfg.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(cfgs, ["ru.passport", "ru.snils"], "{:?}", t.body);
    let token = t.body["access_token"].as_str().unwrap();
    let mut vcts = Vec::new();
    for (_, ids) in &by_cfg {
        assert_eq!(ids.len(), 1, "{:?}", t.body);
        vcts.push(issue_by_identifier(&server, token, &ids[0]));
    }
    assert_eq!(
        vcts,
        [
            json!("urn:ru:digital-id:passport:1"),
            json!("urn:ru:digital-id:snils:1")
        ]
    );
    // §8.2: identifiers were returned, so a request by configuration is refused.
    let n = nonce(&server);
    let r = credential(
        &server,
        token,
        &json!({"credential_configuration_id": "ru.snils", "proofs": {"jwt": [proof(&server, &key(), &n)]}}),
    );
    assert_eq!(
        (r.status, r.error()),
        (400, "invalid_credential_request"),
        "{:?}",
        r.body
    );
}

#[test]
fn pre_authorized_code_with_authorization_details_gets_credential_identifiers() {
    let server = InProc::start();
    let o = wallet::offer(&server, "ivanov-ivan", &["ru.passport", "ru.snils"], true);
    let code = pre_authorized_code(&o);
    let tx = o["tx_code"].as_str().unwrap();
    let form = |d: &str| {
        vec![
            ("grant_type", PRE_AUTH.to_owned()),
            ("pre-authorized_code", code.clone()),
            ("tx_code", tx.to_owned()),
            ("authorization_details", d.to_owned()),
        ]
    };
    let send = |d: &str| {
        let f = form(d);
        let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
        post_form(&server, "/token", &f)
    };
    // Malformed, or more than the offer: refused, and the code lives on.
    for (bad, what) in [
        (r#"[{"type":"openid_credential"}]"#.to_owned(), "malformed"),
        (details(&["ru.passport", "ru.inn"]), "not offered"),
    ] {
        let r = send(&bad);
        assert_eq!(
            (r.status, r.error()),
            (400, "invalid_authorization_details"),
            "{what}: {:?}",
            r.body
        );
    }
    // A subset of the offer: a token for the reduced set (§6.1).
    let t = send(&details(&["ru.passport"]));
    assert_eq!(t.status, 200, "{:?}", t.body);
    let by_cfg = identifiers(&t.body);
    assert_eq!(by_cfg.len(), 1, "{:?}", t.body);
    assert_eq!(by_cfg[0].0, "ru.passport");
    assert_eq!(by_cfg[0].1.len(), 1);
    let token = t.body["access_token"].as_str().unwrap();
    assert_eq!(
        issue_by_identifier(&server, token, &by_cfg[0].1[0]),
        "urn:ru:digital-id:passport:1"
    );
    // The configuration left out is not covered.
    let n = nonce(&server);
    let r = credential(
        &server,
        token,
        &json!({"credential_configuration_id": "ru.snils", "proofs": {"jwt": [proof(&server, &key(), &n)]}}),
    );
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(r.error(), "invalid_credential_request");
}

#[test]
fn authorization_details_in_the_token_request_narrow_an_authorization_code() {
    let server = InProc::start();
    let code = code_for(&server, "ivanov-ivan", &[("scope", "ru.snils ru.inn")]);
    let token_request = |code: &str, d: &str| {
        post_form(
            &server,
            "/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", authcode::VERIFIER),
                ("client_id", CLIENT),
                ("authorization_details", d),
            ],
        )
    };
    let t = token_request(&code, &details(&["ru.inn"]));
    assert_eq!(t.status, 200, "{:?}", t.body);
    let by_cfg = identifiers(&t.body);
    assert_eq!(by_cfg.len(), 1);
    assert_eq!(by_cfg[0].0, "ru.inn");
    let token = t.body["access_token"].as_str().unwrap();
    assert_eq!(
        issue_by_identifier(&server, token, &by_cfg[0].1[0]),
        "urn:ru:digital-id:inn:1"
    );
    // More than was authorized.
    let code = code_for(&server, "ivanov-ivan", &[("scope", "ru.snils")]);
    let t = token_request(&code, &details(&["ru.passport"]));
    assert_eq!(
        (t.status, t.error()),
        (400, "invalid_authorization_details"),
        "{:?}",
        t.body
    );
}
