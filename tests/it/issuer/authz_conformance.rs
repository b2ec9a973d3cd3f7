//! Authorization-request conformance: `scope` beside `authorization_details`
//! (OpenID4VCI 1.0 §5.1.2) and the `credential_identifier` the token
//! response's `authorization_details` then requires (§6.2, §8.2).

use serde_json::{Value, json};

use super::authcode::{code_for, redeem};
use super::wallet::{self, credential, key, nonce, proof};
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
