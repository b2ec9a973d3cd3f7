//! Back-office authentication, offers' QR codes, and status changes as seen
//! in the published status list.

use std::io::Read;

use digital_id::crypto::b64url_decode;
use digital_id::crypto::jws::Jws;
use serde_json::{Value, json};

use super::wallet::{self, key};
use crate::fixture::{InProc, agent};

/// The raw 2-bit entries of a `statuslist+jwt` (signature checked by the
/// callers that care).
pub fn status_entries(jwt: &str) -> Vec<u8> {
    let payload = Jws::decode(jwt).unwrap().payload_json().unwrap();
    let lst = payload["status_list"]["lst"].as_str().unwrap();
    let mut out = Vec::new();
    flate2::read::ZlibDecoder::new(&b64url_decode(lst).unwrap()[..])
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[test]
fn back_office_needs_the_api_key() {
    let server = InProc::start();
    for auth in [None, Some("Bearer wrong-key"), Some("Basic dGVzdDp0ZXN0")] {
        let mut req = agent().get(&server.url("/issuer/subjects"));
        if let Some(a) = auth {
            req = req.header("Authorization", a);
        }
        let mut r = req.call().unwrap();
        assert_eq!(r.status(), 401, "{auth:?}");
        assert!(r.headers().get("www-authenticate").is_some());
        let body: Value = r.body_mut().read_json().unwrap();
        assert_eq!(body["error"], "invalid_token");
    }
    let mut ok = agent()
        .get(&server.url("/issuer/subjects"))
        .header("Authorization", &server.bearer())
        .call()
        .unwrap();
    assert_eq!(ok.status(), 200);
    let list: Value = ok.body_mut().read_json().unwrap();
    let ivan = list
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "ivanov-ivan")
        .unwrap();
    assert!(
        ivan["documents"]
            .as_array()
            .unwrap()
            .contains(&json!("ru.passport"))
    );
    assert!(ivan["identity_proofing"].is_string());
}

#[test]
fn offer_errors() {
    let server = InProc::start();
    let post =
        |body: Value| wallet::post_json(&server, "/issuer/offers", Some(&server.bearer()), &body);
    let r = post(json!({"subject_id": "nobody", "credential_configuration_ids": ["ru.passport"]}));
    assert_eq!((r.status, r.error()), (404, "not_found"));
    let r = post(json!({"subject_id": "ivanov-ivan", "credential_configuration_ids": []}));
    assert_eq!((r.status, r.error()), (400, "invalid_request"));
    let r =
        post(json!({"subject_id": "ivanov-ivan", "credential_configuration_ids": ["ru.diploma"]}));
    assert_eq!(
        (r.status, r.error()),
        (400, "unknown_credential_configuration")
    );
    let r = post(
        json!({"subject_id": "zaitsev-timur", "credential_configuration_ids": ["ru.passport"]}),
    );
    assert_eq!((r.status, r.error()), (403, "credential_request_denied"));
    let r = post(
        json!({"subject_id": "ivanov-ivan", "credential_configuration_ids": ["ru.pensioner_status"]}),
    );
    assert_eq!((r.status, r.error()), (404, "not_found"));
    let r = post(
        json!({"subject_id": "ivanov-ivan", "credential_configuration_ids": ["ru.passport"], "extra": 1}),
    );
    assert_eq!((r.status, r.error()), (400, "invalid_request"));
}

#[test]
fn offer_qr_is_svg_of_the_offer_link() {
    let server = InProc::start();
    let o = wallet::offer(&server, "ivanov-ivan", &["ru.snils"], true);
    let mut r = agent()
        .get(&server.url(&format!(
            "/issuer/offers/{}/qr.svg",
            o["offer_id"].as_str().unwrap()
        )))
        .header("Authorization", &server.bearer())
        .call()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers().get("content-type").unwrap(), "image/svg+xml");
    let svg = r.body_mut().read_to_string().unwrap();
    assert!(svg.contains("<svg"));
    let missing = agent()
        .get(&server.url("/issuer/offers/nope/qr.svg"))
        .header("Authorization", &server.bearer())
        .call()
        .unwrap();
    assert_eq!(missing.status(), 404);
}

#[test]
fn revoke_suspend_reinstate_show_in_the_status_list() {
    let server = InProc::start();
    let r = wallet::issue_one(&server, "ivanov-ivan", "ru.inn", &key());
    let cred = r.body["credentials"][0]["credential"].as_str().unwrap();
    let v = wallet::verify(&server, cred);
    let uri = v.claims["status"]["status_list"]["uri"].as_str().unwrap();
    let idx = v.claims["status"]["status_list"]["idx"].as_u64().unwrap() as usize;
    let list_path = uri.strip_prefix(&server.base).unwrap().to_owned();
    let id = wallet::get(&server, "/issuer/subjects/ivanov-ivan/credentials"); // needs auth
    assert_eq!(id.status, 401);
    let records: Value = agent()
        .get(&server.url("/issuer/subjects/ivanov-ivan/credentials"))
        .header("Authorization", &server.bearer())
        .call()
        .unwrap()
        .body_mut()
        .read_json()
        .unwrap();
    let id = records[0]["id"].as_str().unwrap().to_owned();
    let keys = wallet::issuer_keys(&server);
    let status_at = || {
        let mut resp = agent().get(&server.url(&list_path)).call().unwrap();
        assert_eq!(
            resp.headers().get("content-type").unwrap(),
            "application/statuslist+jwt"
        );
        assert!(
            resp.headers()
                .get("cache-control")
                .unwrap()
                .to_str()
                .unwrap()
                .contains("max-age=300")
        );
        let jwt = resp.body_mut().read_to_string().unwrap();
        let jws = Jws::decode(&jwt).unwrap();
        assert_eq!(jws.typ(), Some("statuslist+jwt"));
        jws.verify(keys.find(jws.kid()).unwrap()).unwrap();
        let payload = jws.payload_json().unwrap();
        assert_eq!(payload["sub"], uri);
        assert_eq!(payload["ttl"], 300);
        assert_eq!(payload["status_list"]["bits"], 2);
        assert!(payload["exp"].as_i64().unwrap() > payload["iat"].as_i64().unwrap());
        let entries = status_entries(&jwt);
        assert!(entries.len() * 4 >= 1 << 17);
        (entries[idx / 4] >> ((idx % 4) * 2)) & 3
    };
    assert_eq!(status_at(), 0);
    let act = |what: &str| {
        wallet::post_json(
            &server,
            &format!("/issuer/credentials/{id}/{what}"),
            Some(&server.bearer()),
            &Value::Null,
        )
    };
    assert_eq!(act("suspend").body["status"], "suspended");
    assert_eq!(status_at(), 2);
    assert_eq!(act("reinstate").body["status"], "valid");
    assert_eq!(status_at(), 0);
    assert_eq!(act("revoke").body["status"], "invalid");
    assert_eq!(status_at(), 1);
    let again = act("reinstate");
    assert_eq!((again.status, again.error()), (409, "conflict"));
    assert_eq!(status_at(), 1);
    let unknown = wallet::post_json(
        &server,
        "/issuer/credentials/nope/revoke",
        Some(&server.bearer()),
        &Value::Null,
    );
    assert_eq!((unknown.status, unknown.error()), (404, "not_found"));
    assert_eq!(wallet::get(&server, "/status-lists/999").status, 404);
}
