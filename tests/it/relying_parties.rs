//! Relying parties as tenants (issue 14, DESIGN.md "Relying parties are
//! tenants"): two registered parties, each with its own key; one test
//! breaking each rule — another party's transaction, a preset or a claim
//! outside the entitlements, a party's key on operator routes, a rotated
//! key, a deleted party, the quota, the validation of a registration — and
//! the key shown only once.

use serde_json::{Value, json};

use crate::fixture::{API_KEY, InProc, T0, agent};
use crate::verifier::{answer, fetch_request_object, holder_qr, passport_for, present, wallet_key};

const PASSPORT: &str = "urn:ru:digital-id:passport:1";

/// An HTTP call with `key` as the bearer token: (status, JSON body or
/// null, `Retry-After`).
pub(crate) fn call(
    server: &InProc,
    method: &str,
    path: &str,
    key: &str,
    body: Option<Value>,
) -> (u16, Value, Option<String>) {
    let url = server.url(path);
    let auth = format!("Bearer {key}");
    let a = agent();
    let resp = match (method, body) {
        ("GET", _) => a.get(&url).header("Authorization", &auth).call(),
        ("DELETE", _) => a.delete(&url).header("Authorization", &auth).call(),
        ("POST", Some(b)) => a.post(&url).header("Authorization", &auth).send_json(&b),
        ("POST", None) => a.post(&url).header("Authorization", &auth).send_empty(),
        ("PATCH", Some(b)) => a.patch(&url).header("Authorization", &auth).send_json(&b),
        _ => unreachable!("{method}"),
    };
    let mut resp = resp.unwrap();
    let retry = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::Null),
        retry,
    )
}

/// Registers a party with the operator's key; returns the answer (the
/// party as shown, and its API key).
pub(crate) fn registered(server: &InProc, body: Value) -> Value {
    let (status, b, _) = call(
        server,
        "POST",
        "/admin/relying-parties",
        API_KEY,
        Some(body),
    );
    assert_eq!(status, 201, "{b}");
    b
}

/// Registers a party; returns (id, api key).
pub(crate) fn register(server: &InProc, body: Value) -> (String, String) {
    let b = registered(server, body);
    (
        b["id"].as_str().unwrap().to_owned(),
        b["api_key"].as_str().unwrap().to_owned(),
    )
}

fn hotel(server: &InProc) -> (String, String) {
    register(
        server,
        json!({"name": "Hotel Kosmos",
               "display_name": {"ru": "Гостиница «Космос»", "en": "Hotel Kosmos"},
               "presets": ["hotel_check_in"]}),
    )
}

fn shop(server: &InProc) -> (String, String) {
    register(
        server,
        json!({"name": "Shop 18+", "presets": ["age_over_18"],
               "claims": {PASSPORT: [["age_equal_or_over", "18"]]}}),
    )
}

/// Creates a request with `key`; returns the creation answer.
pub(crate) fn create(server: &InProc, key: &str, body: Value) -> Value {
    let (status, b, _) = call(server, "POST", "/verifier/requests", key, Some(body));
    assert_eq!(status, 200, "{b}");
    b
}

fn assert_error(got: (u16, Value, Option<String>), status: u16, code: &str, needle: &str) {
    let (s, b, _) = got;
    assert_eq!(s, status, "{b}");
    assert_eq!(b["error"], code, "{b}");
    let d = b["error_description"].as_str().unwrap();
    assert!(d.contains(needle), "{d:?} should name {needle:?}");
}

#[test]
fn each_party_reaches_its_own_transactions_only() {
    let server = InProc::start();
    let (_, hotel_key) = hotel(&server);
    let (_, shop_key) = shop(&server);
    let h = create(&server, &hotel_key, json!({"preset": "hotel_check_in"}));
    let s = create(&server, &shop_key, json!({"preset": "age_over_18"}));
    let d = create(&server, API_KEY, json!({"preset": "identity"}));
    let id = |v: &Value| v["transaction_id"].as_str().unwrap().to_owned();
    let (h, s, d) = (id(&h), id(&s), id(&d));
    // Each sees its own.
    for (key, tx) in [(&hotel_key, &h), (&shop_key, &s), (&API_KEY.to_owned(), &d)] {
        let (status, b, _) = call(
            &server,
            "GET",
            &format!("/verifier/requests/{tx}"),
            key,
            None,
        );
        assert_eq!(
            (status, b["status"].as_str()),
            (200, Some("pending")),
            "{b}"
        );
    }
    // Another party's transaction is exactly an unknown one, on every
    // route; the operator's key is the party `default` and no exception.
    let (_, unknown, _) = call(&server, "GET", "/verifier/requests/nope", &shop_key, None);
    for (key, tx) in [
        (&shop_key, &h),
        (&hotel_key, &s),
        (&hotel_key, &d),
        (&API_KEY.to_owned(), &h),
    ] {
        for path in [
            format!("/verifier/requests/{tx}"),
            format!("/verifier/requests/{tx}/qr.svg"),
            format!("/verifier/requests/{tx}/qr.png"),
            format!("/verifier/requests/{tx}/events"),
        ] {
            let (status, b, _) = call(&server, "GET", &path, key, None);
            assert_eq!(status, 404, "{path}");
            assert_eq!(b, unknown, "{path}: indistinguishable from an unknown id");
        }
        let (status, b, _) = call(
            &server,
            "DELETE",
            &format!("/verifier/requests/{tx}"),
            key,
            None,
        );
        assert_eq!((status, &b), (404, &unknown));
    }
    // The refused delete changed nothing; the owner's works.
    let (status, _, _) = call(
        &server,
        "GET",
        &format!("/verifier/requests/{h}"),
        &hotel_key,
        None,
    );
    assert_eq!(status, 200);
    let (status, _, _) = call(
        &server,
        "DELETE",
        &format!("/verifier/requests/{h}"),
        &hotel_key,
        None,
    );
    assert_eq!(status, 204);
    let (status, _, _) = call(
        &server,
        "GET",
        &format!("/verifier/requests/{h}/qr.svg"),
        &shop_key,
        None,
    );
    assert_eq!(status, 404);
}

#[test]
fn a_party_transaction_is_verified_counted_and_audited() {
    let server = InProc::start();
    let (shop_id, shop_key) = shop(&server);
    let holder = wallet_key();
    let cred = passport_for(&server, &holder);
    let created = create(&server, &shop_key, json!({"preset": "age_over_18"}));
    let tx = created["transaction_id"].as_str().unwrap();
    let (_, ro) = fetch_request_object(created["request_uri"].as_str().unwrap());
    // The request object is signed as the party: its own client id.
    let (_, view, _) = call(
        &server,
        "GET",
        &format!("/admin/relying-parties/{shop_id}"),
        API_KEY,
        None,
    );
    assert_eq!(ro["client_id"], view["client_id"], "{view}");
    assert_ne!(
        ro["client_id"].as_str(),
        Some(server.state.verifier.client_id())
    );
    let p = present(&cred, &[&["age_equal_or_over", "18"]], &holder, &ro, T0);
    let (code, body) = answer(&ro, json!({"credential": [p]}));
    assert_eq!(code, 200, "{body}");
    let (_, status, _) = call(
        &server,
        "GET",
        &format!("/verifier/requests/{tx}"),
        &shop_key,
        None,
    );
    assert_eq!(status["status"], "verified", "{status}");
    assert_eq!(
        status["claims"],
        json!({"credential": {"age_equal_or_over": {"18": true}}})
    );
    // A second request answered with a credential that misses the claim.
    let created = create(&server, &shop_key, json!({"preset": "age_over_18"}));
    let failed_tx = created["transaction_id"].as_str().unwrap().to_owned();
    let (_, ro) = fetch_request_object(created["request_uri"].as_str().unwrap());
    let p = present(&cred, &[&["family_name"]], &holder, &ro, T0);
    let (code, _) = answer(&ro, json!({"credential": [p]}));
    assert_eq!(code, 400);
    // A holder QR scanned by the party.
    let qr = holder_qr(&server, &cred, &holder, &[&["age_equal_or_over", "18"]]);
    let (st, scanned, _) = call(
        &server,
        "POST",
        "/verifier/scan",
        &shop_key,
        Some(json!({"qr": qr, "preset": "age_over_18"})),
    );
    assert_eq!(
        (st, scanned["status"].as_str()),
        (200, Some("verified")),
        "{scanned}"
    );
    let scan_tx = scanned["transaction_id"].as_str().unwrap();
    // The scan is the party's own transaction too.
    let (st, _, _) = call(
        &server,
        "GET",
        &format!("/verifier/requests/{scan_tx}"),
        &shop_key,
        None,
    );
    assert_eq!(st, 200);
    let (st, _, _) = call(
        &server,
        "GET",
        &format!("/verifier/requests/{scan_tx}"),
        API_KEY,
        None,
    );
    assert_eq!(st, 404);

    // The audit trail, newest first, without any personal data.
    server.clock.advance(1);
    let (st, trail, _) = call(
        &server,
        "GET",
        &format!("/admin/relying-parties/{shop_id}/audit"),
        API_KEY,
        None,
    );
    assert_eq!(st, 200, "{trail}");
    let trail = trail.as_array().unwrap();
    assert_eq!(trail.len(), 3, "{trail:?}");
    let kinds: Vec<(&str, &str)> = trail
        .iter()
        .map(|e| (e["kind"].as_str().unwrap(), e["outcome"].as_str().unwrap()))
        .collect();
    assert!(kinds.contains(&("request", "verified")), "{kinds:?}");
    assert!(kinds.contains(&("request", "failed")), "{kinds:?}");
    assert!(kinds.contains(&("scan", "verified")), "{kinds:?}");
    let failed = trail
        .iter()
        .find(|e| e["transaction_id"] == failed_tx.as_str())
        .unwrap();
    assert_eq!(failed["code"], "invalid_request");
    assert_eq!(failed["reason"], "query_unmet");
    let text = serde_json::to_string(trail).unwrap();
    for personal in [
        "Иванов",
        "ivanov",
        "family_name",
        "age_equal_or_over",
        "true",
    ] {
        assert!(!text.contains(personal), "{personal} in {text}");
    }
    let (_, limited, _) = call(
        &server,
        "GET",
        &format!("/admin/relying-parties/{shop_id}/audit?limit=1"),
        API_KEY,
        None,
    );
    assert_eq!(limited.as_array().unwrap().len(), 1);
    for bad in ["0", "1001", "x"] {
        let (st, b, _) = call(
            &server,
            "GET",
            &format!("/admin/relying-parties/{shop_id}/audit?limit={bad}"),
            API_KEY,
            None,
        );
        assert_eq!(
            (st, b["error"].as_str()),
            (400, Some("invalid_request")),
            "{bad}"
        );
    }

    // Prometheus counters by party.
    let text = agent()
        .get(&server.url("/metrics"))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    for line in [
        format!("digital_id_party_requests_total{{party=\"{shop_id}\",kind=\"request\"}} 2"),
        format!("digital_id_party_requests_total{{party=\"{shop_id}\",kind=\"scan\"}} 1"),
        format!(
            "digital_id_party_verifications_total{{party=\"{shop_id}\",outcome=\"verified\",reason=\"none\"}} 2"
        ),
        format!(
            "digital_id_party_verifications_total{{party=\"{shop_id}\",outcome=\"failed\",reason=\"query_unmet\"}} 1"
        ),
    ] {
        assert!(text.contains(&line), "{line} not in metrics");
    }
}

#[test]
fn a_preset_outside_the_entitlements_is_403_naming_it() {
    let server = InProc::start();
    let (_, shop_key) = shop(&server);
    let (_, hotel_key) = hotel(&server);
    assert_error(
        call(
            &server,
            "POST",
            "/verifier/requests",
            &shop_key,
            Some(json!({"preset": "hotel_check_in"})),
        ),
        403,
        "access_denied",
        "hotel_check_in",
    );
    assert_error(
        call(
            &server,
            "POST",
            "/verifier/requests",
            &hotel_key,
            Some(json!({"preset": "pensioner_status"})),
        ),
        403,
        "access_denied",
        "pensioner_status",
    );
    // identity's claims are all within hotel_check_in's: allowed.
    create(&server, &hotel_key, json!({"preset": "identity"}));
    // Holder-QR scans follow the same entitlements (checked before the QR).
    assert_error(
        call(
            &server,
            "POST",
            "/verifier/scan",
            &shop_key,
            Some(json!({"qr": "anything", "preset": "identity"})),
        ),
        403,
        "access_denied",
        "identity",
    );
    // An unknown preset is still a 400, as for the operator.
    assert_error(
        call(
            &server,
            "POST",
            "/verifier/requests",
            &shop_key,
            Some(json!({"preset": "nope"})),
        ),
        400,
        "invalid_request",
        "preset",
    );
}

#[test]
fn a_claim_outside_the_entitlements_through_custom_dcql_is_403_naming_it() {
    let server = InProc::start();
    let (_, shop_key) = shop(&server);
    let query = |claims: Value| {
        json!({"dcql_query": {"credentials": [{
            "id": "p", "format": "dc+sd-jwt",
            "meta": {"vct_values": [PASSPORT]}, "claims": claims}]}})
    };
    create(
        &server,
        &shop_key,
        query(json!([{"path": ["age_equal_or_over", "18"], "values": [true]}])),
    );
    assert_error(
        call(
            &server,
            "POST",
            "/verifier/requests",
            &shop_key,
            Some(query(
                json!([{"path": ["age_equal_or_over", "18"]}, {"path": ["family_name"]}]),
            )),
        ),
        403,
        "access_denied",
        r#"claim ['family_name'] of `urn:ru:digital-id:passport:1`"#,
    );
    // A query without `claims` asks for the whole credential.
    assert_error(
        call(
            &server,
            "POST",
            "/verifier/requests",
            &shop_key,
            Some(
                json!({"dcql_query": {"credentials": [{"id": "p", "format": "dc+sd-jwt",
                "meta": {"vct_values": [PASSPORT]}}]}}),
            ),
        ),
        403,
        "access_denied",
        "whole `urn:ru:digital-id:passport:1` credential",
    );
    // Another document type altogether.
    assert_error(
        call(
            &server,
            "POST",
            "/verifier/requests",
            &shop_key,
            Some(
                json!({"dcql_query": {"credentials": [{"id": "s", "format": "dc+sd-jwt",
                "meta": {"vct_values": ["urn:ru:digital-id:snils:1"]},
                "claims": [{"path": ["snils"]}]}]}}),
            ),
        ),
        403,
        "access_denied",
        "urn:ru:digital-id:snils:1",
    );
    // A callback URL the party did not register.
    assert_error(
        call(
            &server,
            "POST",
            "/verifier/requests",
            &shop_key,
            Some(json!({"preset": "age_over_18", "callback_url": "https://elsewhere.example/cb"})),
        ),
        403,
        "access_denied",
        "callback_url",
    );
}

#[test]
fn a_party_key_on_operator_routes_is_403_and_a_wrong_key_401() {
    let server = InProc::start();
    let (id, key) = hotel(&server);
    for (method, path, body) in [
        ("GET", "/admin/relying-parties".to_owned(), None),
        (
            "POST",
            "/admin/relying-parties".to_owned(),
            Some(json!({"name": "Mine"})),
        ),
        ("GET", format!("/admin/relying-parties/{id}"), None),
        ("POST", format!("/admin/relying-parties/{id}/api-key"), None),
        ("DELETE", format!("/admin/relying-parties/{id}"), None),
        ("GET", "/issuer/subjects".to_owned(), None),
        (
            "POST",
            "/issuer/offers".to_owned(),
            Some(json!({"subject_id": "ivanov-ivan",
            "credential_configuration_ids": ["ru.passport"]})),
        ),
    ] {
        let (status, b, _) = call(&server, method, &path, &key, body.clone());
        assert_eq!(
            (status, b["error"].as_str()),
            (403, Some("access_denied")),
            "{method} {path}: {b}"
        );
        let (status, b, _) = call(&server, method, &path, &format!("{key}x"), body);
        assert_eq!(
            (status, b["error"].as_str()),
            (401, Some("invalid_token")),
            "{method} {path}: {b}"
        );
    }
    // Nothing was done with the party's key: it still exists, same key.
    let (status, _, _) = call(
        &server,
        "GET",
        &format!("/admin/relying-parties/{id}"),
        API_KEY,
        None,
    );
    assert_eq!(status, 200);
    create(&server, &key, json!({"preset": "hotel_check_in"}));
}

#[test]
fn a_rotated_key_fails_at_once_and_the_new_one_works() {
    let server = InProc::start();
    let (id, old) = hotel(&server);
    let tx = create(&server, &old, json!({"preset": "hotel_check_in"}))["transaction_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, b, _) = call(
        &server,
        "POST",
        &format!("/admin/relying-parties/{id}/api-key"),
        API_KEY,
        None,
    );
    assert_eq!(status, 200, "{b}");
    let new = b["api_key"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    assert!(new.starts_with(&format!("rp_{id}.")));
    assert_error(
        call(
            &server,
            "POST",
            "/verifier/requests",
            &old,
            Some(json!({"preset": "hotel_check_in"})),
        ),
        401,
        "invalid_token",
        "not valid",
    );
    let (status, _, _) = call(
        &server,
        "GET",
        &format!("/verifier/requests/{tx}"),
        &old,
        None,
    );
    assert_eq!(status, 401);
    // The new key reaches the party's earlier transaction too.
    let (status, _, _) = call(
        &server,
        "GET",
        &format!("/verifier/requests/{tx}"),
        &new,
        None,
    );
    assert_eq!(status, 200);
    create(&server, &new, json!({"preset": "hotel_check_in"}));
    // The operator's key is not rotated here.
    assert_error(
        call(
            &server,
            "POST",
            "/admin/relying-parties/default/api-key",
            API_KEY,
            None,
        ),
        403,
        "access_denied",
        "default",
    );
}

#[test]
fn a_deleted_party_key_is_401_and_its_transactions_gone() {
    let server = InProc::start();
    let (id, key) = hotel(&server);
    let (_, other) = shop(&server);
    let tx = create(&server, &key, json!({"preset": "hotel_check_in"}))["transaction_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, _, _) = call(
        &server,
        "DELETE",
        &format!("/admin/relying-parties/{id}"),
        API_KEY,
        None,
    );
    assert_eq!(status, 204);
    assert_error(
        call(
            &server,
            "GET",
            &format!("/verifier/requests/{tx}"),
            &key,
            None,
        ),
        401,
        "invalid_token",
        "not valid",
    );
    // Nobody reaches its transactions: not the operator, not another party.
    for k in [API_KEY, other.as_str()] {
        let (status, _, _) = call(&server, "GET", &format!("/verifier/requests/{tx}"), k, None);
        assert_eq!(status, 404);
    }
    for (method, path) in [
        ("GET", format!("/admin/relying-parties/{id}")),
        ("GET", format!("/admin/relying-parties/{id}/audit")),
        ("DELETE", format!("/admin/relying-parties/{id}")),
        ("POST", format!("/admin/relying-parties/{id}/api-key")),
    ] {
        let (status, b, _) = call(&server, method, &path, API_KEY, None);
        assert_eq!(
            (status, b["error"].as_str()),
            (404, Some("not_found")),
            "{method} {path}"
        );
    }
    // The built-in party cannot be deleted or changed.
    assert_error(
        call(
            &server,
            "DELETE",
            "/admin/relying-parties/default",
            API_KEY,
            None,
        ),
        403,
        "access_denied",
        "default",
    );
    assert_error(
        call(
            &server,
            "PATCH",
            "/admin/relying-parties/default",
            API_KEY,
            Some(json!({"name": "x"})),
        ),
        403,
        "access_denied",
        "default",
    );
    create(&server, API_KEY, json!({"preset": "hotel_check_in"}));
}

#[test]
fn over_the_quota_is_429_with_retry_after_until_the_window_slides() {
    let server = InProc::start();
    let (id, key) = register(
        &server,
        json!({"name": "Small shop", "presets": ["age_over_18"], "requests_per_minute": 2}),
    );
    let (_, other) = shop(&server);
    create(&server, &key, json!({"preset": "age_over_18"}));
    create(&server, &key, json!({"preset": "age_over_18"}));
    let (status, b, retry) = call(
        &server,
        "POST",
        "/verifier/requests",
        &key,
        Some(json!({"preset": "age_over_18"})),
    );
    assert_eq!(
        (status, b["error"].as_str()),
        (429, Some("rate_limited")),
        "{b}"
    );
    assert!(
        b["error_description"]
            .as_str()
            .unwrap()
            .contains("requests_per_minute")
    );
    // T0 starts a minute; two calls in it still weigh half at 90 s.
    assert_eq!(retry.as_deref(), Some("90"));
    // Scans count against the same quota.
    let (status, _, retry) = call(
        &server,
        "POST",
        "/verifier/scan",
        &key,
        Some(json!({"qr": "x", "preset": "age_over_18"})),
    );
    assert_eq!((status, retry.as_deref()), (429, Some("90")));
    // Other parties and the operator are not limited by it.
    create(&server, &other, json!({"preset": "age_over_18"}));
    create(&server, API_KEY, json!({"preset": "age_over_18"}));
    server.clock.advance(89);
    let (status, _, _) = call(
        &server,
        "POST",
        "/verifier/requests",
        &key,
        Some(json!({"preset": "age_over_18"})),
    );
    assert_eq!(status, 429);
    server.clock.advance(1);
    create(&server, &key, json!({"preset": "age_over_18"}));
    // Lifting the quota takes effect at once.
    let (status, _, _) = call(
        &server,
        "PATCH",
        &format!("/admin/relying-parties/{id}"),
        API_KEY,
        Some(json!({"requests_per_minute": null})),
    );
    assert_eq!(status, 200);
    for _ in 0..3 {
        create(&server, &key, json!({"preset": "age_over_18"}));
    }
}

/// Only a request or scan found valid uses the quota: one refused for its
/// input (400, 403) does not, whichever check refuses it.
#[test]
fn a_request_refused_for_its_input_uses_no_quota() {
    let server = InProc::start();
    let (_, key) = register(
        &server,
        json!({"name": "Small shop", "presets": ["age_over_18"], "requests_per_minute": 1}),
    );
    for (bad, status) in [
        (json!({"preset": "unknown"}), 400),
        (json!({"preset": "hotel_check_in"}), 403),
        (
            json!({"preset": "age_over_18", "response_mode": "fragment"}),
            400,
        ),
        (
            json!({"preset": "age_over_18", "redirect_uri": "https://elsewhere.example/done"}),
            400,
        ),
    ] {
        let (got, b, _) = call(
            &server,
            "POST",
            "/verifier/requests",
            &key,
            Some(bad.clone()),
        );
        assert_eq!(got, status, "{bad}: {b}");
    }
    // Scans count against the same quota: one refused for its input not.
    for bad in [
        json!({"qr": "", "preset": "age_over_18"}),
        json!({"qr": "x", "preset": "hotel_check_in"}),
    ] {
        let (got, b, _) = call(&server, "POST", "/verifier/scan", &key, Some(bad.clone()));
        assert!(got == 400 || got == 403, "{bad}: {got} {b}");
    }
    create(&server, &key, json!({"preset": "age_over_18"}));
    let (status, b, _) = call(
        &server,
        "POST",
        "/verifier/requests",
        &key,
        Some(json!({"preset": "age_over_18"})),
    );
    assert_eq!((status, b["error"].as_str()), (429, Some("rate_limited")));
}

/// A party deleted while the wallet holds its request: the answer is
/// refused as to an unknown request, and the operator's own verifications
/// are in `default`'s audit trail.
#[test]
fn a_deleted_partys_request_takes_no_answer_and_default_has_a_trail() {
    let server = InProc::start();
    let (id, key) = shop(&server);
    let holder = wallet_key();
    let cred = passport_for(&server, &holder);
    let created = create(&server, &key, json!({"preset": "age_over_18"}));
    let (_, ro) = fetch_request_object(created["request_uri"].as_str().unwrap());
    let (status, _, _) = call(
        &server,
        "DELETE",
        &format!("/admin/relying-parties/{id}"),
        API_KEY,
        None,
    );
    assert_eq!(status, 204);
    let p = present(&cred, &[&["age_equal_or_over", "18"]], &holder, &ro, T0);
    let (code, body) = answer(&ro, json!({"credential": [p]}));
    assert_eq!(
        (code, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("no request is waiting"),
        "{body}"
    );

    let trail = |server: &InProc| {
        let (st, trail, _) = call(
            server,
            "GET",
            "/admin/relying-parties/default/audit",
            API_KEY,
            None,
        );
        assert_eq!(st, 200, "{trail}");
        trail.as_array().unwrap().clone()
    };
    assert!(trail(&server).is_empty());
    let created = create(&server, API_KEY, json!({"preset": "age_over_18"}));
    let (_, ro) = fetch_request_object(created["request_uri"].as_str().unwrap());
    let p = present(&cred, &[&["age_equal_or_over", "18"]], &holder, &ro, T0);
    let (code, body) = answer(&ro, json!({"credential": [p]}));
    assert_eq!(code, 200, "{body}");
    let trail = trail(&server);
    assert_eq!(trail.len(), 1, "{trail:?}");
    assert_eq!(trail[0]["transaction_id"], created["transaction_id"]);
    assert_eq!(trail[0]["outcome"], "verified");
    // A party's key may not read it.
    let (_, other) = hotel(&server);
    let (status, _, _) = call(
        &server,
        "GET",
        "/admin/relying-parties/default/audit",
        &other,
        None,
    );
    assert_eq!(status, 403);
}

#[test]
fn invalid_registrations_are_400_naming_the_member() {
    let server = InProc::start();
    let post = |body: Value| {
        call(
            &server,
            "POST",
            "/admin/relying-parties",
            API_KEY,
            Some(body),
        )
    };
    for (body, member) in [
        (json!({"name": ""}), "name"),
        (json!({"name": "x".repeat(201)}), "name"),
        (
            json!({"name": "A", "display_name": {"ru": "", "en": "A"}}),
            "display_name.ru",
        ),
        (
            json!({"name": "A", "presets": ["identity", "shoe_size"]}),
            "presets[1]",
        ),
        (json!({"name": "A", "claims": [["family_name"]]}), "claims"),
        (
            json!({"name": "A", "claims": {PASSPORT: [["family_name"], ["a", true]]}}),
            "claims.urn:ru:digital-id:passport:1[1]",
        ),
        (
            json!({"name": "A", "redirect_uris": ["http://rp.example/back"]}),
            "redirect_uris[0]",
        ),
        (
            json!({"name": "A", "callback_urls": ["https://ok.example", "https://u:p@rp.example/"]}),
            "callback_urls[1]",
        ),
        (
            json!({"name": "A", "redirect_uris": vec!["https://rp.example/"; 11]}),
            "redirect_uris",
        ),
        (
            json!({"name": "A", "requests_per_minute": 0}),
            "requests_per_minute",
        ),
        (json!({"name": "A", "api_key": "rp_mine.secret"}), "api_key"),
        (json!({"presets": ["identity"]}), "name"),
    ] {
        assert_error(post(body.clone()), 400, "invalid_request", member);
    }
    // Nothing was registered; localhost callbacks are fine for development.
    let (_, list, _) = call(&server, "GET", "/admin/relying-parties", API_KEY, None);
    assert_eq!(list.as_array().unwrap().len(), 1, "only `default`: {list}");
    // The longest name is fine (its demo certificate's CN is cut to 64).
    let (_, long_key) = register(
        &server,
        json!({"name": "Д".repeat(200), "presets": ["identity"]}),
    );
    create(&server, &long_key, json!({"preset": "identity"}));
    let (id, _) = register(
        &server,
        json!({"name": "Dev", "redirect_uris": ["http://localhost:3000/cb"]}),
    );
    assert_error(
        call(
            &server,
            "PATCH",
            &format!("/admin/relying-parties/{id}"),
            API_KEY,
            Some(json!({"presets": ["nope"]})),
        ),
        400,
        "invalid_request",
        "presets[0]",
    );
    let (status, b, _) = call(&server, "GET", "/admin/relying-parties/nope", API_KEY, None);
    assert_eq!((status, b["error"].as_str()), (404, Some("not_found")));
}

#[test]
fn the_api_key_is_shown_once_and_never_stored_in_clear() {
    let server = InProc::start();
    let (status, created, _) = call(
        &server,
        "POST",
        "/admin/relying-parties",
        API_KEY,
        Some(
            json!({"name": "Hotel Kosmos", "presets": ["hotel_check_in"],
            "display_name": {"ru": "Гостиница «Космос»", "en": "Hotel Kosmos"},
            "callback_urls": ["https://kosmos.example/cb"], "requests_per_minute": 100}),
        ),
    );
    assert_eq!(status, 201);
    let id = created["id"].as_str().unwrap();
    let key = created["api_key"].as_str().unwrap();
    let secret = key.split_once('.').unwrap().1;
    assert!(key.starts_with(&format!("rp_{id}.")));
    assert_eq!(created["name"], "Hotel Kosmos");
    assert_eq!(created["presets"], json!(["hotel_check_in"]));
    let (_, one, _) = call(
        &server,
        "GET",
        &format!("/admin/relying-parties/{id}"),
        API_KEY,
        None,
    );
    let (_, list, _) = call(&server, "GET", "/admin/relying-parties", API_KEY, None);
    let (_, patched, _) = call(
        &server,
        "PATCH",
        &format!("/admin/relying-parties/{id}"),
        API_KEY,
        Some(json!({"display_name": null})),
    );
    for shown in [&one, &list, &patched] {
        let text = shown.to_string();
        assert!(
            !text.contains(secret) && !text.contains("api_key"),
            "{text}"
        );
        assert!(
            !text.contains("salt") && !text.contains("\"hash\""),
            "{text}"
        );
    }
    assert_eq!(one["display_name"]["en"], "Hotel Kosmos");
    assert!(patched.get("display_name").is_none(), "{patched}");
    assert_eq!(patched["requests_per_minute"], 100);
    assert_eq!(list[0]["id"], "default");
    assert_eq!(list[0]["builtin"], true);
    assert_eq!(list[1]["id"], id);
    let (_, default, _) = call(
        &server,
        "GET",
        "/admin/relying-parties/default",
        API_KEY,
        None,
    );
    assert_eq!(default["presets"].as_array().unwrap().len(), 4);
    // The store holds the salted hash only.
    let stored = futures_block(server.state.store.get(
        digital_id::verifier::parties::NS_PARTY,
        id.to_owned(),
        T0,
    ))
    .unwrap()
    .unwrap();
    assert!(!String::from_utf8_lossy(&stored).contains(secret));
    // The registered callback URL is accepted (it passes the outbound rules).
    create(
        &server,
        key,
        json!({"preset": "hotel_check_in", "callback_url": "https://kosmos.example/cb"}),
    );
}

pub(crate) fn futures_block<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

/// Two nodes of one deployment on a PostgreSQL schema of their own (drop
/// the schema after the nodes).
pub(crate) fn two_nodes() -> (crate::pg::Schema, InProc, InProc) {
    let schema = crate::pg::Schema::new();
    let url = schema.store_url();
    let a = InProc::start_with(|s| s.store = digital_id::config::StoreSpec::Postgres(url.clone()));
    // Nodes of one deployment share their keys (the data directory), as
    // they share the store.
    let keys = a.state.settings.data_dir.clone();
    let b = InProc::start_with(|s| {
        s.store = digital_id::config::StoreSpec::Postgres(url);
        s.data_dir = keys;
    });
    (schema, a, b)
}

/// Two nodes on one PostgreSQL schema: a key registered on one works on
/// the other, a rotation or deletion on one holds on the other at once
/// (no node keeps a copy), and the quota is counted across both.
#[test]
fn rotation_deletion_and_quota_hold_across_nodes() {
    let (_schema, a, b) = two_nodes();
    let (id, key) = register(
        &a,
        json!({"name": "Shop", "presets": ["age_over_18"], "requests_per_minute": 2}),
    );
    let tx = create(&b, &key, json!({"preset": "age_over_18"}))["transaction_id"]
        .as_str()
        .unwrap()
        .to_owned();
    create(&a, &key, json!({"preset": "age_over_18"}));
    let (status, _, retry) = call(
        &b,
        "POST",
        "/verifier/requests",
        &key,
        Some(json!({"preset": "age_over_18"})),
    );
    assert_eq!(
        (status, retry.is_some()),
        (429, true),
        "two calls on two nodes use the quota"
    );
    let (status, rotated, _) = call(
        &b,
        "POST",
        &format!("/admin/relying-parties/{id}/api-key"),
        API_KEY,
        None,
    );
    assert_eq!(status, 200);
    let new = rotated["api_key"].as_str().unwrap();
    let (status, _, _) = call(&a, "GET", &format!("/verifier/requests/{tx}"), &key, None);
    assert_eq!(status, 401, "the old key fails on the other node at once");
    let (status, _, _) = call(&a, "GET", &format!("/verifier/requests/{tx}"), new, None);
    assert_eq!(status, 200);
    let (status, _, _) = call(
        &a,
        "DELETE",
        &format!("/admin/relying-parties/{id}"),
        API_KEY,
        None,
    );
    assert_eq!(status, 204);
    let (status, _, _) = call(&b, "GET", &format!("/verifier/requests/{tx}"), new, None);
    assert_eq!(
        status, 401,
        "a deleted party's key fails on the other node at once"
    );
}

/// A certificate for the party's public JWK `jwk` (a leaf: digitalSignature,
/// not a CA), named `cn` and signed by `ca`, valid around the test clock.
/// A leaf for the party's public key `jwk` from the operator's CA, valid
/// from a day before T0 to 30 days after.
pub(crate) fn leaf_for(
    jwk: &Value,
    cn: &str,
    ca: (
        &openssl::x509::X509,
        &openssl::pkey::PKey<openssl::pkey::Private>,
    ),
) -> openssl::x509::X509 {
    use openssl::bn::BigNum;
    use openssl::ec::{EcGroup, EcKey};
    use openssl::nid::Nid;
    use openssl::pkey::PKey;
    let coord = |c: &str| {
        BigNum::from_slice(&digital_id::crypto::b64url_decode(jwk[c].as_str().unwrap()).unwrap())
            .unwrap()
    };
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    let public =
        EcKey::from_public_key_affine_coordinates(&group, &coord("x"), &coord("y")).unwrap();
    let public = PKey::from_ec_key(public).unwrap();
    let v = crate::certs::Validity {
        ca: false,
        not_before: T0 - 86_400,
        not_after: T0 + 30 * 86_400,
    };
    crate::certs::issued_to(cn, &public, ca, v)
}

/// Outside demo mode no CA issues a party's leaf: it cannot make requests
/// until the operator uploads the chain its own CA issued for the party's
/// public key; then its request objects carry that leaf and its client id.
#[test]
fn outside_demo_mode_the_operator_uploads_a_partys_chain() {
    use crate::certs::{Validity, issued, key};
    let server = InProc::start_mode(crate::fixture::Mode::PRODUCTION, |_| {});
    let (id, rp_key) = shop(&server);
    let (_, view, _) = call(
        &server,
        "GET",
        &format!("/admin/relying-parties/{id}"),
        API_KEY,
        None,
    );
    assert!(view.get("client_id").is_none(), "{view}");
    let jwk = view["public_jwk"].clone();
    assert_eq!(jwk["kty"], "EC");
    assert!(jwk.get("d").is_none(), "never the private key: {jwk}");
    let (status, b, _) = call(
        &server,
        "POST",
        "/verifier/requests",
        &rp_key,
        Some(json!({"preset": "age_over_18"})),
    );
    assert_eq!(status, 409, "not certified yet: {b}");

    let ca_key = key();
    let v = Validity {
        ca: true,
        not_before: T0 - 86_400,
        not_after: T0 + 365 * 86_400,
    };
    let ca = issued("Operator RP CA", &ca_key, None, v);
    let pem = |certs: &[&openssl::x509::X509]| {
        certs
            .iter()
            .map(|c| String::from_utf8(c.to_pem().unwrap()).unwrap())
            .collect::<String>()
    };
    // A leaf for another key is refused, naming the rule.
    let other = issued(
        "Someone else",
        &key(),
        Some((&ca, &ca_key)),
        Validity { ca: false, ..v },
    );
    let path = format!("/admin/relying-parties/{id}/certificate");
    assert_error(
        call(
            &server,
            "POST",
            &path,
            API_KEY,
            Some(json!({"chain": pem(&[&other, &ca])})),
        ),
        400,
        "invalid_request",
        "does not certify",
    );
    // The party's own key may not upload.
    let leaf = leaf_for(&jwk, "Shop 18+", (&ca, &ca_key));
    let body = json!({"chain": pem(&[&leaf, &ca])});
    let (status, _, _) = call(&server, "POST", &path, &rp_key, Some(body.clone()));
    assert_eq!(status, 403);
    let (status, view, _) = call(&server, "POST", &path, API_KEY, Some(body));
    assert_eq!(status, 200, "{view}");
    let client_id = view["client_id"].as_str().unwrap().to_owned();
    let leaf_der = leaf.to_der().unwrap();
    assert_eq!(
        client_id,
        format!(
            "x509_hash:{}",
            digital_id::crypto::b64url(digital_id::crypto::sha256(&leaf_der))
        )
    );
    let created = create(&server, &rp_key, json!({"preset": "age_over_18"}));
    let (header, ro) = fetch_request_object(created["request_uri"].as_str().unwrap());
    assert_eq!(ro["client_id"], client_id.as_str());
    assert_eq!(
        header["x5c"][0].as_str().unwrap(),
        base64_std(&leaf_der),
        "the uploaded leaf signs, the root is not sent"
    );
    assert_eq!(header["x5c"].as_array().unwrap().len(), 1);
    // Once the uploaded leaf expired (30 days), it is not used: the
    // operator is told to upload a new chain.
    server.clock.advance(30 * 86_400);
    let (status, b, _) = call(
        &server,
        "POST",
        "/verifier/requests",
        &rp_key,
        Some(json!({"preset": "age_over_18"})),
    );
    assert_eq!(
        (status, b["error"].as_str()),
        (409, Some("invalid_request")),
        "{b}"
    );
    let d = b["error_description"].as_str().unwrap();
    let expiry = digital_id::clock::rfc3339(T0 + 30 * 86_400);
    assert!(
        d.contains(&format!("expired on {expiry}")) && d.contains("upload a new chain"),
        "{d}"
    );
}

fn base64_std(der: &[u8]) -> String {
    openssl::base64::encode_block(der)
}

/// The common name of a base64 DER certificate.
pub(crate) fn common_name(b64_der: &str) -> String {
    let der = openssl::base64::decode_block(b64_der).unwrap();
    let cert = openssl::x509::X509::from_der(&der).unwrap();
    let cn = cert
        .subject_name()
        .entries_by_nid(openssl::nid::Nid::COMMONNAME)
        .next()
        .unwrap();
    cn.data().to_string().unwrap()
}

/// Demo mode: a party's leaf names it; renamed, it gets a new leaf (and so
/// a new client id) naming it as it is now called.
#[test]
fn a_renamed_party_gets_a_leaf_with_its_new_name() {
    let server = InProc::start();
    let (id, key) = hotel(&server);
    let created = create(&server, &key, json!({"preset": "hotel_check_in"}));
    let (header, before) = fetch_request_object(created["request_uri"].as_str().unwrap());
    assert_eq!(
        common_name(header["x5c"][0].as_str().unwrap()),
        "Hotel Kosmos"
    );
    let (status, view, _) = call(
        &server,
        "PATCH",
        &format!("/admin/relying-parties/{id}"),
        API_KEY,
        Some(json!({"name": "Hotel Kosmos-2"})),
    );
    assert_eq!(status, 200, "{view}");
    assert_ne!(view["client_id"], before["client_id"]);
    let created = create(&server, &key, json!({"preset": "hotel_check_in"}));
    let (header, after) = fetch_request_object(created["request_uri"].as_str().unwrap());
    assert_eq!(
        common_name(header["x5c"][0].as_str().unwrap()),
        "Hotel Kosmos-2"
    );
    assert_eq!(after["client_id"], view["client_id"]);
}

/// `null` where the schema says a member is a value (not nullable) is a
/// 400, as schemathesis checks: registration, patch, request creation.
#[test]
fn null_for_a_non_nullable_member_is_400() {
    let server = InProc::start();
    let (id, key) = hotel(&server);
    for (method, path, body) in [
        (
            "POST",
            "/admin/relying-parties".to_owned(),
            json!({"name": "A", "presets": null}),
        ),
        (
            "POST",
            "/admin/relying-parties".to_owned(),
            json!({"name": "A", "display_name": null}),
        ),
        (
            "PATCH",
            format!("/admin/relying-parties/{id}"),
            json!({"name": null}),
        ),
        (
            "PATCH",
            format!("/admin/relying-parties/{id}"),
            json!({"claims": null}),
        ),
        (
            "POST",
            "/verifier/requests".to_owned(),
            json!({"preset": "hotel_check_in", "redirect_uri": null}),
        ),
        (
            "POST",
            "/verifier/requests".to_owned(),
            json!({"preset": "hotel_check_in", "request_uri_method": null}),
        ),
    ] {
        let k = if path.starts_with("/verifier") {
            key.as_str()
        } else {
            API_KEY
        };
        // Refused by type (`invalid type: null`), or by the member's rule.
        let (status, b, _) = call(&server, method, &path, k, Some(body.clone()));
        assert_eq!(
            (status, b["error"].as_str()),
            (400, Some("invalid_request")),
            "{body}: {b}"
        );
    }
}
