//! Relying parties through whole flows (issue 14 review): holder-QR scans
//! inside and outside a party's entitlements and the reason their audit
//! entries record, the same-device flow of a registered party with its own
//! redirect URIs and `request_uri_method`, and an event stream that ends
//! once its party's key is rotated.

use std::io::BufRead;
use std::sync::mpsc;
use std::time::Duration;

use digital_id::crypto::jws::Jws;
use serde_json::{Map, Value, json};

use crate::fixture::{API_KEY, InProc, T0, agent};
use crate::verifier::{answer, holder_qr, passport_for, present, wallet_key};

const PASSPORT: &str = "urn:ru:digital-id:passport:1";
const HOTEL_BACK: &str = "https://hotel.example.ru/checked-in";
const SHOP_BACK: &str = "https://shop.example.ru/age-checked";

/// An HTTP call with `key` as the bearer token: (status, JSON or null).
fn call(server: &InProc, method: &str, path: &str, key: &str, body: Option<Value>) -> (u16, Value) {
    let url = server.url(path);
    let auth = format!("Bearer {key}");
    let a = agent();
    let resp = match (method, body) {
        ("GET", _) => a.get(&url).header("Authorization", &auth).call(),
        ("POST", Some(b)) => a.post(&url).header("Authorization", &auth).send_json(&b),
        ("POST", None) => a.post(&url).header("Authorization", &auth).send_empty(),
        _ => unreachable!("{method}"),
    };
    let mut resp = resp.unwrap();
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Registers a party; returns (id, api key).
fn register(server: &InProc, body: Value) -> (String, String) {
    let (status, b) = call(
        server,
        "POST",
        "/admin/relying-parties",
        API_KEY,
        Some(body),
    );
    assert_eq!(status, 201, "{b}");
    (
        b["id"].as_str().unwrap().to_owned(),
        b["api_key"].as_str().unwrap().to_owned(),
    )
}

/// A shop entitled to `age_over_18` and the passport's age claim only.
fn shop(server: &InProc) -> (String, String) {
    register(
        server,
        json!({"name": "Shop 18+", "presets": ["age_over_18"],
               "claims": {PASSPORT: [["age_equal_or_over", "18"]]},
               "redirect_uris": [SHOP_BACK]}),
    )
}

fn assert_error(got: (u16, Value), status: u16, code: &str, needle: &str) {
    let (s, b) = got;
    assert_eq!(s, status, "{b}");
    assert_eq!(b["error"], code, "{b}");
    let d = b["error_description"].as_str().unwrap();
    assert!(d.contains(needle), "{d:?} should name {needle:?}");
}

#[test]
fn a_scan_outside_the_entitlements_is_403_naming_the_preset_or_claim() {
    let server = InProc::start();
    let (_, key) = shop(&server);
    let holder = wallet_key();
    let cred = passport_for(&server, &holder);
    // A real holder QR: refused for what is asked, not for the QR.
    let qr = holder_qr(&server, &cred, &holder, &[&["family_name"]]);
    assert_error(
        call(
            &server,
            "POST",
            "/verifier/scan",
            &key,
            Some(json!({"qr": qr, "preset": "identity"})),
        ),
        403,
        "access_denied",
        "preset: `identity`",
    );
    let dcql = |claims: Value| {
        json!({"qr": qr, "dcql_query": {"credentials": [{
            "id": "p", "format": "dc+sd-jwt",
            "meta": {"vct_values": [PASSPORT]}, "claims": claims}]}})
    };
    assert_error(
        call(
            &server,
            "POST",
            "/verifier/scan",
            &key,
            Some(dcql(json!([{"path": ["family_name"]}]))),
        ),
        403,
        "access_denied",
        "claim ['family_name'] of `urn:ru:digital-id:passport:1`",
    );
    // The refusals used nothing up: the same QR is scanned within them.
    let (status, scanned) = call(
        &server,
        "POST",
        "/verifier/scan",
        &key,
        Some(dcql(json!([{"path": ["age_equal_or_over", "18"]}]))),
    );
    assert_eq!(status, 200, "{scanned}");
    // It disclosed only family_name: the query is not met.
    assert_eq!(scanned["status"], "failed", "{scanned}");
}

#[test]
fn a_scan_that_misses_a_claim_is_audited_and_counted_as_query_unmet() {
    let server = InProc::start();
    let (id, key) = shop(&server);
    let holder = wallet_key();
    let cred = passport_for(&server, &holder);
    let scan = |selection: &[&[&str]]| {
        let qr = holder_qr(&server, &cred, &holder, selection);
        let (status, b) = call(
            &server,
            "POST",
            "/verifier/scan",
            &key,
            Some(json!({"qr": qr, "preset": "age_over_18"})),
        );
        assert_eq!(status, 200, "{b}");
        b
    };
    // A valid presentation without the age claim: the query is unmet.
    let unmet = scan(&[&["family_name"]]);
    assert_eq!(unmet["status"], "failed", "{unmet}");
    // Not a presentation at all: invalid.
    let (status, invalid) = call(
        &server,
        "POST",
        "/verifier/scan",
        &key,
        Some(json!({"qr": "not a presentation", "preset": "age_over_18"})),
    );
    assert_eq!((status, invalid["status"].as_str()), (200, Some("failed")));
    let verified = scan(&[&["age_equal_or_over", "18"]]);
    assert_eq!(verified["status"], "verified", "{verified}");

    server.clock.advance(1);
    let (status, trail) = call(
        &server,
        "GET",
        &format!("/admin/relying-parties/{id}/audit"),
        API_KEY,
        None,
    );
    assert_eq!(status, 200, "{trail}");
    let reason_of = |tx: &Value| {
        let entry = trail
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["transaction_id"] == *tx)
            .unwrap_or_else(|| panic!("{tx} not in {trail}"));
        assert_eq!(entry["kind"], "scan");
        entry.get("reason").cloned()
    };
    assert_eq!(
        reason_of(&unmet["transaction_id"]),
        Some(json!("query_unmet"))
    );
    assert_eq!(
        reason_of(&invalid["transaction_id"]),
        Some(json!("invalid_presentation"))
    );
    assert_eq!(reason_of(&verified["transaction_id"]), None);

    let metrics = agent()
        .get(&server.url("/metrics"))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    for line in [
        format!(
            "digital_id_party_verifications_total{{party=\"{id}\",outcome=\"failed\",reason=\"query_unmet\"}} 1"
        ),
        format!(
            "digital_id_party_verifications_total{{party=\"{id}\",outcome=\"failed\",reason=\"invalid_presentation\"}} 1"
        ),
    ] {
        assert!(metrics.contains(&line), "{line} not in metrics");
    }
}

/// The request object at `uri` fetched by POST (`request_uri_method=post`)
/// with a `wallet_nonce`: its claims.
fn post_request_object(uri: &str, wallet_nonce: &str) -> Map<String, Value> {
    let mut resp = agent()
        .post(uri)
        .send_form([("wallet_nonce", wallet_nonce)])
        .unwrap();
    assert_eq!(resp.status(), 200);
    let text = resp.body_mut().read_to_string().unwrap();
    Jws::decode(&text).unwrap().payload_json().unwrap()
}

#[test]
fn a_registered_party_runs_the_same_device_flow_with_its_own_registration() {
    let server = InProc::start_with(|s| {
        s.verifier.redirect_uris = vec!["https://operator.example.ru/done".into()];
    });
    let (_, shop_key) = shop(&server);
    let (_, hotel_key) = register(
        &server,
        json!({"name": "Hotel Kosmos", "presets": ["age_over_18"],
               "redirect_uris": [HOTEL_BACK], "request_uri_method": "post"}),
    );
    // Another party's redirect URI, or the operator's, is not the hotel's.
    for uri in [SHOP_BACK, "https://operator.example.ru/done"] {
        assert_error(
            call(
                &server,
                "POST",
                "/verifier/requests",
                &hotel_key,
                Some(json!({"preset": "age_over_18", "redirect_uri": uri})),
            ),
            400,
            "invalid_request",
            "redirect_uri",
        );
    }
    let (status, created) = call(
        &server,
        "POST",
        "/verifier/requests",
        &hotel_key,
        Some(json!({"preset": "age_over_18", "redirect_uri": HOTEL_BACK})),
    );
    assert_eq!(status, 200, "{created}");
    // The registration's request_uri_method is the link's default.
    let link = created["authorization_request"].as_str().unwrap();
    assert!(link.ends_with("&request_uri_method=post"), "{link}");
    let tx = created["transaction_id"].as_str().unwrap();
    let ro = post_request_object(created["request_uri"].as_str().unwrap(), "n0nce");
    assert_eq!(ro["wallet_nonce"], "n0nce");
    let holder = wallet_key();
    let cred = passport_for(&server, &holder);
    let p = present(&cred, &[&["age_equal_or_over", "18"]], &holder, &ro, T0);
    let (code, body) = answer(&ro, json!({"credential": [p]}));
    assert_eq!(code, 200, "{body}");
    let redirect = body["redirect_uri"].as_str().unwrap();
    let response_code = redirect
        .strip_prefix(&format!("{HOTEL_BACK}#response_code="))
        .unwrap_or_else(|| panic!("{redirect} is not the hotel's redirect URI"));
    // The result: the hotel's, with the code, once; the shop's key sees
    // no such transaction.
    let read = |key: &str, code: Option<&str>| {
        let q = code.map_or_else(String::new, |c| format!("?response_code={c}"));
        call(
            &server,
            "GET",
            &format!("/verifier/requests/{tx}{q}"),
            key,
            None,
        )
    };
    assert_error(
        read(&hotel_key, None),
        403,
        "access_denied",
        "response_code",
    );
    assert_eq!(read(&shop_key, Some(response_code)).0, 404);
    let (status, view) = read(&hotel_key, Some(response_code));
    assert_eq!(status, 200, "{view}");
    assert_eq!(
        view["claims"],
        json!({"credential": {"age_equal_or_over": {"18": true}}})
    );
    assert_error(
        read(&hotel_key, Some(response_code)),
        403,
        "access_denied",
        "already been used",
    );
    // A request may still ask for `get`; the shop (no setting) gets none.
    let (_, created) = call(
        &server,
        "POST",
        "/verifier/requests",
        &hotel_key,
        Some(json!({"preset": "age_over_18", "request_uri_method": "get"})),
    );
    let link = created["authorization_request"].as_str().unwrap();
    assert!(!link.contains("request_uri_method"), "{link}");
    let (_, created) = call(
        &server,
        "POST",
        "/verifier/requests",
        &shop_key,
        Some(json!({"preset": "age_over_18", "redirect_uri": SHOP_BACK})),
    );
    let link = created["authorization_request"].as_str().unwrap();
    assert!(!link.contains("request_uri_method"), "{link}");
}

/// The lines of an event stream, read on a thread, as they come; the
/// channel closes when the stream ends.
fn stream_lines(server: &InProc, path: &str, key: &str) -> mpsc::Receiver<String> {
    let resp = agent()
        .get(&server.url(path))
        .header("Authorization", &format!("Bearer {key}"))
        .call()
        .unwrap();
    assert_eq!(resp.status(), 200);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(resp.into_body().into_reader()).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

#[test]
fn an_event_stream_ends_once_its_partys_key_is_rotated() {
    let server = InProc::start();
    let (id, key) = shop(&server);
    let (_, created) = call(
        &server,
        "POST",
        "/verifier/requests",
        &key,
        Some(json!({"preset": "age_over_18"})),
    );
    let tx = created["transaction_id"].as_str().unwrap().to_owned();
    let path = format!("/verifier/requests/{tx}/events");
    let lines = stream_lines(&server, &path, &key);
    let first = lines.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(first, "event: status");
    let (status, rotated) = call(
        &server,
        "POST",
        &format!("/admin/relying-parties/{id}/api-key"),
        API_KEY,
        None,
    );
    assert_eq!(status, 200, "{rotated}");
    // The stream ends within a re-check (about 5 s), with the transaction
    // still pending: nothing more is pushed to the old key.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) => assert!(
                !line.starts_with("event: status") || line.contains("pending"),
                "{line}"
            ),
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                panic!("the stream went on after the key was rotated")
            }
        }
    }
    // Reconnecting with the old key is refused; the new key streams.
    assert_eq!(call(&server, "GET", &path, &key, None).0, 401);
    let new_key = rotated["api_key"].as_str().unwrap();
    let lines = stream_lines(&server, &path, new_key);
    assert_eq!(
        lines.recv_timeout(Duration::from_secs(10)).unwrap(),
        "event: status"
    );
    // The operator's stream is not re-checked against any party.
    let (_, created) = call(
        &server,
        "POST",
        "/verifier/requests",
        API_KEY,
        Some(json!({"preset": "age_over_18"})),
    );
    let op_path = format!(
        "/verifier/requests/{}/events",
        created["transaction_id"].as_str().unwrap()
    );
    let op_lines = stream_lines(&server, &op_path, API_KEY);
    assert_eq!(
        op_lines.recv_timeout(Duration::from_secs(10)).unwrap(),
        "event: status"
    );
    std::thread::sleep(Duration::from_secs(6));
    assert!(
        !matches!(op_lines.try_recv(), Err(mpsc::TryRecvError::Disconnected)),
        "the operator's stream goes on"
    );
}

#[test]
fn an_event_stream_ends_once_its_party_is_deleted() {
    let server = InProc::start();
    let (id, key) = shop(&server);
    let (_, created) = call(
        &server,
        "POST",
        "/verifier/requests",
        &key,
        Some(json!({"preset": "age_over_18"})),
    );
    let tx = created["transaction_id"].as_str().unwrap().to_owned();
    let lines = stream_lines(&server, &format!("/verifier/requests/{tx}/events"), &key);
    assert_eq!(
        lines.recv_timeout(Duration::from_secs(10)).unwrap(),
        "event: status"
    );
    let resp = agent()
        .delete(&server.url(&format!("/admin/relying-parties/{id}")))
        .header("Authorization", &format!("Bearer {API_KEY}"))
        .call()
        .unwrap();
    assert_eq!(resp.status(), 204);
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match lines.recv_timeout(left) {
            Ok(_) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                panic!("the stream went on after the party was deleted")
            }
        }
    }
}

/// An uploaded chain must carry the leaf's issuer up to a CA the operator
/// trusts; refusals are 400 `invalid_request` naming the rule.
#[test]
fn an_uploaded_chain_needs_the_leafs_issuing_ca() {
    use crate::certs::{Validity, issued, key};
    let server = InProc::start_mode(crate::fixture::Mode::PRODUCTION, |_| {});
    let (id, _) = shop(&server);
    let (_, view) = call(
        &server,
        "GET",
        &format!("/admin/relying-parties/{id}"),
        API_KEY,
        None,
    );
    let v = Validity {
        ca: true,
        not_before: T0 - 86_400,
        not_after: T0 + 365 * 86_400,
    };
    let ca_key = key();
    let ca = issued("Operator RP CA", &ca_key, None, v);
    let plain_key = key();
    let plain = issued(
        "Not a CA",
        &plain_key,
        Some((&ca, &ca_key)),
        Validity { ca: false, ..v },
    );
    let leaf = crate::relying_parties::leaf_for(&view["public_jwk"], "Shop 18+", (&ca, &ca_key));
    let under_plain =
        crate::relying_parties::leaf_for(&view["public_jwk"], "Shop 18+", (&plain, &plain_key));
    let pem = |certs: &[&openssl::x509::X509]| {
        certs
            .iter()
            .map(|c| String::from_utf8(c.to_pem().unwrap()).unwrap())
            .collect::<String>()
    };
    let path = format!("/admin/relying-parties/{id}/certificate");
    for (chain, rule) in [
        (pem(&[&leaf]), "no_issuer: "),
        (pem(&[&under_plain, &plain]), "anchor_not_ca: "),
        (pem(&[&leaf, &plain, &ca]), "not_in_order: "),
    ] {
        let (status, b) = call(
            &server,
            "POST",
            &path,
            API_KEY,
            Some(json!({"chain": chain})),
        );
        assert_eq!(
            (status, b["error"].as_str()),
            (400, Some("invalid_request")),
            "{b}"
        );
        let d = b["error_description"].as_str().unwrap();
        assert!(d.starts_with(rule), "{d:?} should start with {rule:?}");
    }
    let (status, b) = call(
        &server,
        "POST",
        &path,
        API_KEY,
        Some(json!({"chain": pem(&[&leaf, &ca])})),
    );
    assert_eq!(status, 200, "{b}");
    assert!(b["client_id"].as_str().unwrap().starts_with("x509_hash:"));
}
