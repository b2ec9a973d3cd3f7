//! Same-device flow (OpenID4VP 1.0 §8.2, issue 14): a request made with a
//! registered `redirect_uri` gets the wallet a redirect carrying a
//! response code, and its result is readable only with that code, once.
//! Also `request_uri_method=post` in the `openid4vp://` link.

use serde_json::{Map, Value, json};

use crate::fixture::{InProc, T0, agent};
use crate::verifier::{
    answer, create, fetch_request_object, passport_for, post_form, present, status, wallet_key,
};

const DONE: &str = "https://rp.example.ru/age-checked";

fn server() -> InProc {
    InProc::start_with(|s| {
        s.verifier.redirect_uris = vec![DONE.into(), "https://rp.example.ru/other".into()]
    })
}

/// `GET /verifier/requests/{id}` with an optional `response_code`:
/// (HTTP status, body).
fn read(server: &InProc, id: &str, code: Option<&str>) -> (u16, Value) {
    let query = code.map_or_else(String::new, |c| format!("?response_code={c}"));
    let mut resp = agent()
        .get(&server.url(&format!("/verifier/requests/{id}{query}")))
        .header("Authorization", &server.bearer())
        .call()
        .unwrap();
    let code = resp.status().as_u16();
    (code, resp.body_mut().read_json().unwrap())
}

fn assert_refused(got: (u16, Value), status: u16, error: &str, needle: &str) {
    let (code, body) = got;
    assert_eq!(code, status, "{body}");
    assert_eq!(body["error"], error, "{body}");
    let d = body["error_description"].as_str().unwrap();
    assert!(d.contains(needle), "{d:?} should mention {needle:?}");
    assert!(body.get("claims").is_none());
}

/// A same-device age_over_18 request with its request object fetched.
fn start_same_device(server: &InProc) -> (String, Map<String, Value>) {
    let created = create(
        server,
        json!({"preset": "age_over_18", "redirect_uri": DONE}),
    );
    let (_, ro) = fetch_request_object(created["request_uri"].as_str().unwrap());
    (created["transaction_id"].as_str().unwrap().to_owned(), ro)
}

/// The response code of a redirect the response endpoint returned.
fn code_of(body: &Value) -> String {
    let redirect = body["redirect_uri"].as_str().unwrap();
    let code = redirect
        .strip_prefix(&format!("{DONE}#response_code="))
        .unwrap_or_else(|| panic!("{redirect} is not {DONE}#response_code=…"));
    // 256 random bits, base64url without padding.
    assert_eq!(code.len(), 43, "{code}");
    assert!(
        code.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );
    code.to_owned()
}

#[test]
fn answer_redirects_with_a_response_code_that_reads_the_result_once() {
    let server = server();
    let holder = wallet_key();
    let cred = passport_for(&server, &holder);
    let (id, ro) = start_same_device(&server);
    // Before the answer: nothing without a code, nothing with a guess.
    assert_refused(
        read(&server, &id, None),
        403,
        "access_denied",
        "response_code",
    );
    assert_refused(
        read(&server, &id, Some("guess")),
        403,
        "access_denied",
        "does not match",
    );

    let p = present(&cred, &[&["age_equal_or_over", "18"]], &holder, &ro, T0);
    let (code, body) = answer(&ro, json!({"credential": [p]}));
    assert_eq!(code, 200, "{body}");
    let response_code = code_of(&body);
    assert_eq!(body.as_object().unwrap().len(), 1, "{body}");

    // Without the code (a session that merely started the transaction):
    // refused, and the refusal does not use the code up.
    assert_refused(
        read(&server, &id, None),
        403,
        "access_denied",
        "response_code",
    );
    let last = if response_code.ends_with('A') {
        'E'
    } else {
        'A'
    };
    let other = format!("{}{last}", &response_code[..42]);
    assert_refused(
        read(&server, &id, Some(&other)),
        403,
        "access_denied",
        "does not match",
    );
    let (code, view) = read(&server, &id, Some(&response_code));
    assert_eq!(code, 200, "{view}");
    assert_eq!(view["status"], "verified");
    assert_eq!(
        view["claims"],
        json!({"credential": {"age_equal_or_over": {"18": true}}})
    );
    // Single use.
    assert_refused(
        read(&server, &id, Some(&response_code)),
        403,
        "access_denied",
        "already been used",
    );
    assert_refused(
        read(&server, &id, None),
        403,
        "access_denied",
        "response_code",
    );
    // Only the code's hash is stored.
    let stored = server.state.verifier.transaction(&id, server.state.now());
    let stored = serde_json::to_string(&futures_block(stored).unwrap()).unwrap();
    assert!(!stored.contains(&response_code));
}

fn futures_block<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn two_racing_reads_of_one_code_give_the_result_once() {
    let server = server();
    let holder = wallet_key();
    let cred = passport_for(&server, &holder);
    let (id, ro) = start_same_device(&server);
    let p = present(&cred, &[&["age_equal_or_over", "18"]], &holder, &ro, T0);
    let (_, body) = answer(&ro, json!({"credential": [p]}));
    let response_code = code_of(&body);
    let codes: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| s.spawn(|| read(&server, &id, Some(&response_code)).0))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(codes.iter().filter(|&&c| c == 200).count(), 1, "{codes:?}");
    assert_eq!(codes.iter().filter(|&&c| c == 403).count(), 3, "{codes:?}");
}

#[test]
fn an_unregistered_redirect_uri_is_refused() {
    let server = server();
    for uri in [
        "https://evil.example/age-checked",
        // Exact match only: no prefix, suffix, case or slash variants.
        "https://rp.example.ru/age-checked/",
        "https://rp.example.ru/age-checked?x=1",
        "https://RP.example.ru/age-checked",
        "https://rp.example.ru/age",
    ] {
        let mut resp = agent()
            .post(&server.url("/verifier/requests"))
            .header("Authorization", &server.bearer())
            .send_json(json!({"preset": "age_over_18", "redirect_uri": uri}))
            .unwrap();
        assert_eq!(resp.status(), 400, "{uri}");
        let body: Value = resp.body_mut().read_json().unwrap();
        assert_eq!(body["error"], "invalid_request");
        let d = body["error_description"].as_str().unwrap();
        assert!(
            d.starts_with("redirect_uri: not one of the redirect URIs registered"),
            "{d}"
        );
    }
    // A deployment that registered none has no same-device requests.
    let plain = InProc::start();
    let mut resp = agent()
        .post(&plain.url("/verifier/requests"))
        .header("Authorization", &plain.bearer())
        .send_json(json!({"preset": "age_over_18", "redirect_uri": DONE}))
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.body_mut().read_json().unwrap();
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .starts_with("redirect_uri:")
    );
}

#[test]
fn a_wallet_error_redirects_too_and_a_refused_answer_does_not() {
    let server = server();
    // The user declines (OpenID4VP 1.0 §8.5): processed, so redirected; the
    // code shows the failure.
    let (id, ro) = start_same_device(&server);
    let form = vec![
        ("error".to_owned(), "access_denied".to_owned()),
        ("state".to_owned(), ro["state"].as_str().unwrap().to_owned()),
    ];
    let (code, body) = post_form(ro["response_uri"].as_str().unwrap(), &form);
    assert_eq!(code, 200, "{body}");
    let response_code = code_of(&body);
    assert_refused(
        read(&server, &id, None),
        403,
        "access_denied",
        "response_code",
    );
    let (code, view) = read(&server, &id, Some(&response_code));
    assert_eq!(code, 200);
    assert_eq!(view["status"], "failed");
    assert_eq!(view["error"]["code"], "access_denied");

    // A presentation for another nonce: 400 and no redirect; the result
    // stays closed (there is no code to read it with).
    let holder = wallet_key();
    let cred = passport_for(&server, &holder);
    let (id, ro) = start_same_device(&server);
    let mut wrong = ro.clone();
    wrong.insert("nonce".into(), "another".into());
    let p = present(&cred, &[&["age_equal_or_over", "18"]], &holder, &wrong, T0);
    let (code, body) = answer(&ro, json!({"credential": [p]}));
    assert_eq!(code, 400, "{body}");
    assert_eq!(body["error"], "invalid_request");
    assert!(body.get("redirect_uri").is_none(), "{body}");
    assert_refused(
        read(&server, &id, None),
        403,
        "access_denied",
        "response_code",
    );
}

#[test]
fn events_show_the_status_without_claims() {
    use std::io::BufRead;
    let server = server();
    let holder = wallet_key();
    let cred = passport_for(&server, &holder);
    let (id, ro) = start_same_device(&server);
    let resp = agent()
        .get(&server.url(&format!("/verifier/requests/{id}/events")))
        .header("Authorization", &server.bearer())
        .call()
        .unwrap();
    assert_eq!(resp.status(), 200);
    let mut lines = std::io::BufReader::new(resp.into_body().into_reader()).lines();
    let mut next_status = || loop {
        let line = lines.next().unwrap().unwrap();
        if let Some(data) = line.strip_prefix("data: ") {
            let v: Value = serde_json::from_str(data).unwrap();
            if v.get("status").is_some() {
                return v;
            }
        }
    };
    assert_eq!(next_status()["status"], "pending");
    let p = present(&cred, &[&["age_equal_or_over", "18"]], &holder, &ro, T0);
    let (code, body) = answer(&ro, json!({"credential": [p]}));
    assert_eq!(code, 200);
    let done = next_status();
    assert_eq!(done["status"], "verified");
    assert!(done.get("claims").is_none(), "{done}");
    // The stream did not use the code up.
    let (code, view) = read(&server, &id, Some(&code_of(&body)));
    assert_eq!(code, 200);
    assert_eq!(
        view["claims"]["credential"]["age_equal_or_over"]["18"],
        true
    );
}

#[test]
fn cross_device_requests_are_unchanged() {
    let server = server();
    let holder = wallet_key();
    let cred = passport_for(&server, &holder);
    let created = create(&server, json!({"preset": "age_over_18"}));
    let id = created["transaction_id"].as_str().unwrap();
    let (_, ro) = fetch_request_object(created["request_uri"].as_str().unwrap());
    let p = present(&cred, &[&["age_equal_or_over", "18"]], &holder, &ro, T0);
    let (code, body) = answer(&ro, json!({"credential": [p]}));
    assert_eq!((code, body), (200, json!({})));
    assert_eq!(status(&server, id)["status"], "verified");
    assert_eq!(status(&server, id)["status"], "verified", "read again");
    assert_refused(
        read(&server, id, Some("x")),
        400,
        "invalid_request",
        "not created with a redirect_uri",
    );
}

/// The query parameters of an `openid4vp://` link.
fn link_params(link: &str) -> Vec<String> {
    link.split_once('?')
        .unwrap()
        .1
        .split('&')
        .map(|kv| kv.split('=').next().unwrap().to_owned())
        .collect()
}

#[test]
fn request_uri_method_post_in_the_link() {
    let server = InProc::start();
    let link = |body: Value| {
        let created = create(&server, body);
        created["authorization_request"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let l = link(json!({"preset": "identity"}));
    assert_eq!(link_params(&l), ["client_id", "request_uri"], "{l}");
    let l = link(json!({"preset": "identity", "request_uri_method": "post"}));
    assert!(l.ends_with("&request_uri_method=post"), "{l}");
    let l = link(json!({"preset": "identity", "request_uri_method": "get"}));
    assert_eq!(link_params(&l), ["client_id", "request_uri"], "{l}");
    let mut resp = agent()
        .post(&server.url("/verifier/requests"))
        .header("Authorization", &server.bearer())
        .send_json(json!({"preset": "identity", "request_uri_method": "put"}))
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.body_mut().read_json().unwrap();
    assert_eq!(body["error"], "invalid_request");

    // The setting makes it the default; a request may still say `get`.
    let server = InProc::start_with(|s| {
        s.verifier.request_uri_method = digital_id::verifier::transaction::RequestUriMethod::Post
    });
    let created = create(&server, json!({"preset": "identity"}));
    let l = created["authorization_request"].as_str().unwrap();
    assert!(l.ends_with("&request_uri_method=post"), "{l}");
    let created = create(
        &server,
        json!({"preset": "identity", "request_uri_method": "get"}),
    );
    let l = created["authorization_request"].as_str().unwrap();
    assert_eq!(link_params(l), ["client_id", "request_uri"], "{l}");
}

#[test]
fn the_result_callback_carries_no_claims() {
    // A loopback callback over http: development only.
    let server = InProc::start_with(|s| {
        s.verifier.allow_loopback = true;
        s.verifier.redirect_uris = vec![DONE.into()];
    });
    let holder = wallet_key();
    let cred = passport_for(&server, &holder);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/cb", listener.local_addr().unwrap());
    let created = create(
        &server,
        json!({"preset": "age_over_18", "redirect_uri": DONE, "callback_url": url}),
    );
    let id = created["transaction_id"].as_str().unwrap().to_owned();
    let (_, ro) = fetch_request_object(created["request_uri"].as_str().unwrap());
    let p = present(&cred, &[&["age_equal_or_over", "18"]], &holder, &ro, T0);
    let (code, body) = answer(&ro, json!({"credential": [p]}));
    assert_eq!(code, 200);
    let jwt = crate::verifier::receive_callback(&listener);
    let jws = digital_id::crypto::jws::Jws::decode(&jwt).unwrap();
    let result = &jws.payload_json().unwrap()["result"];
    assert_eq!(result["transaction_id"], id.as_str());
    assert_eq!(result["status"], "verified");
    assert!(result.get("claims").is_none(), "{result}");
    // The code still reads them.
    let (code, view) = read(&server, &id, Some(&code_of(&body)));
    assert_eq!(code, 200);
    assert_eq!(
        view["claims"]["credential"]["age_equal_or_over"]["18"],
        true
    );
}
