//! Every token endpoint error code (RFC 6749 §5.2, OpenID4VCI §6.3), each
//! triggered by a request that breaks exactly one rule.

use super::authcode::{self, CLIENT, REDIRECT, VERIFIER};
use super::wallet::{self, PRE_AUTH, Reply, post_form, pre_authorized_code};
use crate::fixture::InProc;

fn assert_error(r: &Reply, status: u16, code: &str) {
    assert_eq!((r.status, r.error()), (status, code), "{:?}", r.body);
    assert_eq!(r.headers.get("cache-control").unwrap(), "no-store");
    assert!(r.body["error_description"].is_string());
}

fn setup(tx: bool) -> (InProc, serde_json::Value) {
    let server = InProc::start();
    let o = wallet::offer(&server, "ivanov-ivan", &["ru.passport"], tx);
    (server, o)
}

#[test]
fn missing_grant_type_is_invalid_request() {
    let (server, o) = setup(false);
    let code = pre_authorized_code(&o);
    assert_error(
        &post_form(&server, "/token", &[("pre-authorized_code", &code)]),
        400,
        "invalid_request",
    );
}

#[test]
fn unknown_grant_type_is_unsupported_grant_type() {
    let (server, _) = setup(false);
    let r = post_form(
        &server,
        "/token",
        &[("grant_type", "password"), ("username", "a")],
    );
    assert_error(&r, 400, "unsupported_grant_type");
}

#[test]
fn missing_pre_authorized_code_is_invalid_request() {
    let (server, _) = setup(false);
    assert_error(
        &post_form(&server, "/token", &[("grant_type", PRE_AUTH)]),
        400,
        "invalid_request",
    );
}

#[test]
fn missing_tx_code_is_invalid_request() {
    let (server, o) = setup(true);
    let code = pre_authorized_code(&o);
    let r = post_form(
        &server,
        "/token",
        &[("grant_type", PRE_AUTH), ("pre-authorized_code", &code)],
    );
    assert_error(&r, 400, "invalid_request");
    // Not an attempt: the right code still works afterwards.
    assert_eq!(wallet::token_for(&server, &o).status, 200);
}

#[test]
fn unexpected_tx_code_is_invalid_request() {
    let (server, o) = setup(false);
    let code = pre_authorized_code(&o);
    let r = post_form(
        &server,
        "/token",
        &[
            ("grant_type", PRE_AUTH),
            ("pre-authorized_code", &code),
            ("tx_code", "123456"),
        ],
    );
    assert_error(&r, 400, "invalid_request");
}

#[test]
fn unknown_pre_authorized_code_is_invalid_grant() {
    let (server, _) = setup(false);
    let r = post_form(
        &server,
        "/token",
        &[("grant_type", PRE_AUTH), ("pre-authorized_code", "nope")],
    );
    assert_error(&r, 400, "invalid_grant");
}

#[test]
fn a_redeemed_code_is_invalid_grant() {
    let (server, o) = setup(true);
    assert_eq!(wallet::token_for(&server, &o).status, 200);
    assert_error(&wallet::token_for(&server, &o), 400, "invalid_grant");
}

#[test]
fn an_expired_code_is_invalid_grant() {
    let (server, o) = setup(true);
    server.clock.advance(601);
    assert_error(&wallet::token_for(&server, &o), 400, "invalid_grant");
}

#[test]
fn wrong_tx_code_is_invalid_grant_and_the_fifth_burns_the_code() {
    let (server, o) = setup(true);
    let code = pre_authorized_code(&o);
    let right = o["tx_code"].as_str().unwrap();
    let wrong = if right == "000000" {
        "000001"
    } else {
        "000000"
    };
    for left in (1..=4).rev() {
        let r = post_form(
            &server,
            "/token",
            &[
                ("grant_type", PRE_AUTH),
                ("pre-authorized_code", &code),
                ("tx_code", wrong),
            ],
        );
        assert_error(&r, 400, "invalid_grant");
        assert!(
            r.body["error_description"]
                .as_str()
                .unwrap()
                .contains(&format!("{left} attempts left")),
            "{:?}",
            r.body
        );
    }
    let fifth = post_form(
        &server,
        "/token",
        &[
            ("grant_type", PRE_AUTH),
            ("pre-authorized_code", &code),
            ("tx_code", wrong),
        ],
    );
    assert_error(&fifth, 400, "invalid_grant");
    assert!(
        fifth.body["error_description"]
            .as_str()
            .unwrap()
            .contains("now invalid")
    );
    // Burnt: even the right tx_code fails now.
    assert_error(&wallet::token_for(&server, &o), 400, "invalid_grant");
}

#[test]
fn client_authentication_is_invalid_client() {
    let (server, o) = setup(false);
    let code = pre_authorized_code(&o);
    let mut r = crate::fixture::agent()
        .post(&server.url("/token"))
        .header("Authorization", "Basic d2FsbGV0OnNlY3JldA==")
        .send_form([
            ("grant_type", PRE_AUTH),
            ("pre-authorized_code", code.as_str()),
        ])
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers().get("www-authenticate").is_some());
    let body: serde_json::Value = r.body_mut().read_json().unwrap();
    assert_eq!(body["error"], "invalid_client");
}

#[test]
fn authorization_code_without_client_id_is_invalid_client() {
    let server = InProc::start();
    let code = authcode::code_for(&server, "ivanov-ivan", &[("scope", "ru.snils")]);
    let r = post_form(
        &server,
        "/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ],
    );
    assert_error(&r, 401, "invalid_client");
}

#[test]
fn authorization_code_without_code_verifier_is_invalid_request() {
    let server = InProc::start();
    let code = authcode::code_for(&server, "ivanov-ivan", &[("scope", "ru.snils")]);
    let r = post_form(
        &server,
        "/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("client_id", CLIENT),
        ],
    );
    assert_error(&r, 400, "invalid_request");
}

#[test]
fn authorization_code_for_another_client_is_invalid_grant() {
    let server = InProc::start();
    let code = authcode::code_for(&server, "ivanov-ivan", &[("scope", "ru.snils")]);
    let r = post_form(
        &server,
        "/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
            ("client_id", "another-wallet"),
        ],
    );
    assert_error(&r, 400, "invalid_grant");
}

#[test]
fn authorization_code_with_another_redirect_uri_is_invalid_grant() {
    let server = InProc::start();
    let code = authcode::code_for(&server, "ivanov-ivan", &[("scope", "ru.snils")]);
    let r = post_form(
        &server,
        "/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "https://wallet.example/other"),
            ("code_verifier", VERIFIER),
            ("client_id", CLIENT),
        ],
    );
    assert_error(&r, 400, "invalid_grant");
}

#[test]
fn an_expired_authorization_code_is_invalid_grant() {
    let server = InProc::start();
    let code = authcode::code_for(&server, "ivanov-ivan", &[("scope", "ru.snils")]);
    server.clock.advance(121);
    assert_error(&authcode::redeem(&server, &code), 400, "invalid_grant");
}

#[test]
fn an_authorization_code_is_single_use() {
    let server = InProc::start();
    let code = authcode::code_for(&server, "ivanov-ivan", &[("scope", "ru.snils")]);
    assert_eq!(authcode::redeem(&server, &code).status, 200);
    assert_error(&authcode::redeem(&server, &code), 400, "invalid_grant");
}

#[test]
fn a_json_body_is_invalid_request() {
    let (server, _) = setup(false);
    let r = wallet::post_json(
        &server,
        "/token",
        None,
        &serde_json::json!({"grant_type": PRE_AUTH}),
    );
    assert_error(&r, 400, "invalid_request");
}
