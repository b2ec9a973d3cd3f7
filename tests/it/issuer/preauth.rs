//! The pre-authorized code flow end to end, for every document type.

use digital_id::catalogue::metadata::integrity;
use serde_json::{Value, json};

use super::wallet::{self, ClockNow, credential, key, nonce, proof};
use crate::fixture::InProc;

/// A holder for each configuration and how many credentials one proof
/// yields (always one; a parent with several children: `birth_certificate.rs`).
const CASES: &[(&str, &str, usize)] = &[
    ("ru.passport", "ivanov-ivan", 1),
    ("ru.driving_licence", "ivanov-ivan", 1),
    ("ru.snils", "ivanov-ivan", 1),
    ("ru.oms", "ivanov-ivan", 1),
    ("ru.inn", "ivanov-ivan", 1),
    ("ru.pensioner_status", "smirnova-olga", 1),
    ("ru.vehicle_registration", "novikov-alexey", 1),
    ("ru.birth_certificate", "zaitseva-irina", 1),
];

#[test]
fn every_document_type_through_the_pre_authorized_flow() {
    let server = InProc::start();
    let meta = wallet::get(&server, "/.well-known/openid-credential-issuer").body;
    for (cfg, subject, count) in CASES {
        let holder = key();
        let r = wallet::issue_one(&server, subject, cfg, &holder);
        assert_eq!(r.status, 200, "{cfg}: {:?}", r.body);
        assert_eq!(r.headers.get("cache-control").unwrap(), "no-store");
        assert!(r.body["notification_id"].is_string());
        let creds = r.body["credentials"].as_array().unwrap();
        assert_eq!(creds.len(), *count, "{cfg}");
        let conf = &meta["credential_configurations_supported"][cfg];
        let type_meta_url = conf["type_metadata_uri"].as_str().unwrap();
        let path = type_meta_url.strip_prefix(&server.base).unwrap();
        let served = crate::fixture::agent()
            .get(&server.url(path))
            .call()
            .unwrap()
            .body_mut()
            .read_to_vec()
            .unwrap();
        for c in creds {
            let v = wallet::verify(&server, c["credential"].as_str().unwrap());
            assert_eq!(v.header["typ"], "dc+sd-jwt");
            let claims = &v.claims;
            assert_eq!(claims["iss"], server.base.as_str());
            assert_eq!(claims["vct"], conf["vct"], "{cfg}");
            assert_eq!(claims["vct#integrity"], integrity(&served).as_str());
            assert_eq!(claims["iat"], server.clock_now());
            assert!(claims["exp"].as_i64().unwrap() > server.clock_now());
            assert_eq!(
                v.holder_key.as_ref().unwrap().thumbprint(),
                holder.public().thumbprint()
            );
            let status = &claims["status"]["status_list"];
            assert!(status["idx"].is_u64());
            assert!(
                status["uri"]
                    .as_str()
                    .unwrap()
                    .starts_with(&server.url("/status-lists/"))
            );
            assert!(
                claims["family_name"].is_string()
                    || claims["child"].is_object()
                    || claims["given_name"].is_string(),
                "{cfg}: {claims:?}"
            );
        }
    }
}

#[test]
fn offer_by_reference_and_token_response_shape() {
    let server = InProc::start();
    let o = wallet::offer(&server, "ivanov-ivan", &["ru.passport", "ru.snils"], true);
    let uri = o["credential_offer_uri"].as_str().unwrap();
    assert_eq!(
        uri,
        server.url(&format!(
            "/credential-offer/{}",
            o["offer_id"].as_str().unwrap()
        ))
    );
    assert!(
        o["offer_link"]
            .as_str()
            .unwrap()
            .starts_with("openid-credential-offer://?credential_offer_uri=http%3A%2F%2F127.0.0.1")
    );
    let tx = o["tx_code"].as_str().unwrap();
    assert_eq!(tx.len(), 6);
    assert!(tx.bytes().all(|b| b.is_ascii_digit()));
    assert!(o["expires_at"].as_str().unwrap().ends_with('Z'));
    let fetched = wallet::get(&server, uri.strip_prefix(&server.base).unwrap());
    assert_eq!(fetched.status, 200);
    assert_eq!(fetched.body, o["credential_offer"]);
    assert_eq!(fetched.body["credential_issuer"], server.base.as_str());
    assert_eq!(
        fetched.body["grants"][wallet::PRE_AUTH]["tx_code"],
        json!({"input_mode": "numeric", "length": 6, "description": "Код из SMS / The code sent to you by SMS"})
    );
    let t = wallet::token_for(&server, &o);
    assert_eq!(t.status, 200);
    assert_eq!(t.headers.get("cache-control").unwrap(), "no-store");
    assert_eq!(t.body["token_type"], "Bearer");
    assert_eq!(t.body["expires_in"], 600);
    // Redeemed: the offer is gone.
    assert_eq!(
        wallet::get(&server, uri.strip_prefix(&server.base).unwrap()).status,
        404
    );
}

#[test]
fn an_offer_without_tx_code() {
    let server = InProc::start();
    let o = wallet::offer(&server, "ivanov-ivan", &["ru.inn"], false);
    assert!(o.get("tx_code").is_none());
    assert!(
        o["credential_offer"]["grants"][wallet::PRE_AUTH]
            .get("tx_code")
            .is_none()
    );
    let token = wallet::access_token(&server, &o);
    let n = nonce(&server);
    let holder = key();
    let r = credential(
        &server,
        &token,
        &json!({"credential_configuration_id": "ru.inn", "proofs": {"jwt": [proof(&server, &holder, &n)]}}),
    );
    assert_eq!(r.status, 200, "{:?}", r.body);
}

#[test]
fn batch_of_three_is_unlinkable() {
    let server = InProc::start();
    let o = wallet::offer(&server, "ivanov-ivan", &["ru.passport"], true);
    let token = wallet::access_token(&server, &o);
    let n = nonce(&server);
    let keys = [key(), key(), key()];
    let proofs: Vec<String> = keys.iter().map(|k| proof(&server, k, &n)).collect();
    let r = credential(
        &server,
        &token,
        &json!({"credential_configuration_id": "ru.passport", "proofs": {"jwt": proofs}}),
    );
    assert_eq!(r.status, 200, "{:?}", r.body);
    let creds: Vec<&str> = r.body["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["credential"].as_str().unwrap())
        .collect();
    assert_eq!(creds.len(), 3);
    let mut digests = std::collections::HashSet::new();
    let mut salts = std::collections::HashSet::new();
    let mut indices = std::collections::HashSet::new();
    for (c, k) in creds.iter().zip(&keys) {
        let v = wallet::verify(&server, c);
        assert_eq!(v.holder_key.unwrap().thumbprint(), k.public().thumbprint());
        let idx = v.claims["status"]["status_list"]["idx"].as_u64().unwrap();
        assert!(indices.insert(idx), "status index shared");
        let holder = digital_id::sdjwt::HolderCredential::parse(c).unwrap();
        for d in holder.disclosures() {
            assert!(digests.insert(d.digest()), "digest shared");
            let decoded: Value =
                serde_json::from_slice(&digital_id::crypto::b64url_decode(d.encoded()).unwrap())
                    .unwrap();
            assert!(
                salts.insert(decoded[0].as_str().unwrap().to_owned()),
                "salt shared"
            );
        }
        // Every `_sd` digest of the signed payload (decoys included) is new.
        let jwt = c.split('~').next().unwrap();
        let payload = digital_id::crypto::jws::Jws::decode(jwt)
            .unwrap()
            .payload_json()
            .unwrap();
        for d in payload["_sd"].as_array().unwrap() {
            let d = d.as_str().unwrap().to_owned();
            assert!(digests.insert(format!("sd:{d}")), "_sd digest shared");
        }
    }
}

#[test]
fn the_record_holds_no_claim_values_and_the_notification_is_recorded() {
    let server = InProc::start();
    let holder = key();
    let o = wallet::offer(&server, "ivanov-ivan", &["ru.snils"], true);
    let token = wallet::access_token(&server, &o);
    let n = nonce(&server);
    let r = credential(
        &server,
        &token,
        &json!({"credential_configuration_id": "ru.snils", "proofs": {"jwt": [proof(&server, &holder, &n)]}}),
    );
    assert_eq!(r.status, 200);
    let list = crate::fixture::agent()
        .get(&server.url("/issuer/subjects/ivanov-ivan/credentials"))
        .header("Authorization", &server.bearer())
        .call()
        .unwrap()
        .body_mut()
        .read_json::<Value>()
        .unwrap();
    let rec = &list[0];
    let mut keys: Vec<&str> = rec
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "credential_configuration_id",
            "exp",
            "holder_key_thumbprint",
            "iat",
            "id",
            "identity_proofing",
            "notification_id",
            "status",
            "status_index",
            "status_list",
            "subject_id",
            "vct"
        ]
    );
    assert_eq!(rec["holder_key_thumbprint"], holder.public().thumbprint());
    assert_eq!(rec["status"], "valid");
    assert_eq!(rec["notification_id"], r.body["notification_id"]);
    let auth = format!("Bearer {token}");
    let ok = wallet::post_json(
        &server,
        "/notification",
        Some(&auth),
        &json!({"notification_id": r.body["notification_id"], "event": "credential_accepted"}),
    );
    assert_eq!(ok.status, 204);
    let bad = wallet::post_json(
        &server,
        "/notification",
        Some(&auth),
        &json!({"notification_id": "nope", "event": "credential_accepted"}),
    );
    assert_eq!((bad.status, bad.error()), (400, "invalid_notification_id"));
    let bad = wallet::post_json(
        &server,
        "/notification",
        Some(&auth),
        &json!({"notification_id": r.body["notification_id"], "event": "credential_lost"}),
    );
    assert_eq!(
        (bad.status, bad.error()),
        (400, "invalid_notification_request")
    );
    let none = wallet::post_json(
        &server,
        "/notification",
        None,
        &json!({"notification_id": r.body["notification_id"], "event": "credential_deleted"}),
    );
    assert_eq!((none.status, none.error()), (401, "invalid_token"));
}
