//! OpenID4VCI 1.0 §8 and §8.3: one Credential Request is for one Credential
//! Dataset, and each key is bound to at most one credential. A parent with
//! two children gets a `credential_identifier` per child and one
//! certificate per identifier and key, never two children's certificates
//! bound to one key.

use serde_json::{Value, json};

use super::wallet::{self, credential, key, nonce, proof};
use crate::fixture::InProc;

fn identifiers(token_response: &Value) -> Vec<String> {
    let details = token_response["authorization_details"].as_array().unwrap();
    assert_eq!(details.len(), 1, "{details:?}");
    assert_eq!(details[0]["type"], "openid_credential");
    assert_eq!(
        details[0]["credential_configuration_id"],
        "ru.birth_certificate"
    );
    details[0]["credential_identifiers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_parent_of_two_gets_one_certificate_per_identifier_and_key() {
    let server = InProc::start();
    let o = wallet::offer(&server, "popova-maria", &["ru.birth_certificate"], true);
    let t = wallet::token_for(&server, &o);
    assert_eq!(t.status, 200, "{:?}", t.body);
    let ids = identifiers(&t.body);
    assert_eq!(ids.len(), 2, "one credential dataset per child");
    let token = t.body["access_token"].as_str().unwrap();

    // One proof for the whole configuration: refused, saying what to do.
    let holder = key();
    let n = nonce(&server);
    let r = credential(
        &server,
        token,
        &json!({"credential_configuration_id": "ru.birth_certificate",
            "proofs": {"jwt": [proof(&server, &holder, &n)]}}),
    );
    assert_eq!(
        (r.status, r.error()),
        (400, "invalid_credential_request"),
        "{:?}",
        r.body
    );
    assert!(
        r.body["error_description"]
            .as_str()
            .unwrap()
            .contains("credential_identifier")
    );

    // Each child by its identifier, each with its own key: one credential
    // per request, bound to that request's key.
    let mut children = Vec::new();
    for id in &ids {
        let holder = key();
        let n = nonce(&server);
        let r = credential(
            &server,
            token,
            &json!({"credential_identifier": id, "proofs": {"jwt": [proof(&server, &holder, &n)]}}),
        );
        assert_eq!(r.status, 200, "{:?}", r.body);
        let creds = r.body["credentials"].as_array().unwrap();
        assert_eq!(creds.len(), 1);
        let v = wallet::verify(&server, creds[0]["credential"].as_str().unwrap());
        assert_eq!(v.claims["vct"], "urn:ru:digital-id:birth-certificate:1");
        assert_eq!(
            v.holder_key.unwrap().thumbprint(),
            holder.public().thumbprint()
        );
        children.push(v.claims["given_name"].as_str().unwrap().to_owned());
    }
    children.sort();
    assert_eq!(children, ["Артём", "София"]);
}

/// A batch for one child: each proof's key gets one copy of that child's
/// certificate.
#[test]
fn a_batch_for_one_child_binds_each_key_once() {
    let server = InProc::start();
    let o = wallet::offer(&server, "popova-maria", &["ru.birth_certificate"], true);
    let t = wallet::token_for(&server, &o);
    let ids = identifiers(&t.body);
    let token = t.body["access_token"].as_str().unwrap();
    let (a, b) = (key(), key());
    let n = nonce(&server);
    let r = credential(
        &server,
        token,
        &json!({"credential_identifier": ids[0],
            "proofs": {"jwt": [proof(&server, &a, &n), proof(&server, &b, &n)]}}),
    );
    assert_eq!(r.status, 200, "{:?}", r.body);
    let creds = r.body["credentials"].as_array().unwrap();
    assert_eq!(creds.len(), 2);
    let got: Vec<(String, String)> = creds
        .iter()
        .map(|c| {
            let v = wallet::verify(&server, c["credential"].as_str().unwrap());
            (
                v.holder_key.unwrap().thumbprint().to_owned(),
                v.claims["given_name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(got[0].0, a.public().thumbprint());
    assert_eq!(got[1].0, b.public().thumbprint());
    assert_eq!(got[0].1, got[1].1, "one child's dataset per request");
}

/// A parent of one child, and every other document, keeps the plain
/// `credential_configuration_id` request (no `authorization_details`).
#[test]
fn a_single_dataset_needs_no_identifier() {
    let server = InProc::start();
    let o = wallet::offer(&server, "zaitseva-irina", &["ru.birth_certificate"], true);
    let t = wallet::token_for(&server, &o);
    assert_eq!(t.status, 200, "{:?}", t.body);
    assert!(
        t.body.get("authorization_details").is_none(),
        "{:?}",
        t.body
    );
    let r = wallet::issue_one(&server, "zaitseva-irina", "ru.birth_certificate", &key());
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["credentials"].as_array().unwrap().len(), 1);
}
