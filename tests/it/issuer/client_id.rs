//! A wallet's `client_id` is checked (RFC 6749 Appendix A.1 characters, at
//! most 255) before it is stored, shown on a page or written to a log, so a
//! line break in it cannot forge a log line.

use super::authcode::{self, REDIRECT, no_redirect_agent, text};
use super::wallet::{self, PRE_AUTH, post_form, pre_authorized_code};
use crate::fixture::InProc;

const FORGED: &str =
    "wallet\n2026-11-26T00:00:00Z INFO digital_id: access token issued client=admin";

#[test]
fn par_refuses_a_client_id_with_a_line_break() {
    let server = InProc::start();
    let challenge = authcode::challenge();
    let r = post_form(
        &server,
        "/par",
        &[
            ("response_type", "code"),
            ("client_id", FORGED),
            ("redirect_uri", REDIRECT),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
            ("scope", "ru.passport"),
        ],
    );
    assert_eq!(
        (r.status, r.error()),
        (400, "invalid_request"),
        "{:?}",
        r.body
    );
    assert!(
        r.body["error_description"]
            .as_str()
            .unwrap()
            .contains("client_id")
    );
}

#[test]
fn authorize_refuses_a_control_character_or_an_overlong_client_id() {
    let server = InProc::start();
    let challenge = authcode::challenge();
    let long = "c".repeat(256);
    for client in [FORGED, "wallet\u{1b}[2K", long.as_str()] {
        let (status, page, _) = text(
            no_redirect_agent()
                .get(&server.url("/authorize"))
                .query("response_type", "code")
                .query("client_id", client)
                .query("redirect_uri", REDIRECT)
                .query("code_challenge", &challenge)
                .query("code_challenge_method", "S256")
                .query("scope", "ru.passport")
                .call(),
        );
        assert_eq!(status, 400, "{client:?}: {page}");
        assert!(page.contains("invalid_request"), "{page}");
        assert!(!page.contains("INFO digital_id"), "{page}");
    }
}

#[test]
fn token_refuses_a_client_id_with_a_line_break_before_using_the_code() {
    let server = InProc::start();
    let o = wallet::offer(&server, "ivanov-ivan", &["ru.passport"], false);
    let code = pre_authorized_code(&o);
    let r = post_form(
        &server,
        "/token",
        &[
            ("grant_type", PRE_AUTH),
            ("pre-authorized_code", &code),
            ("client_id", FORGED),
        ],
    );
    assert_eq!(
        (r.status, r.error()),
        (400, "invalid_request"),
        "{:?}",
        r.body
    );
    // The code was not spent on the refused request.
    let r = post_form(
        &server,
        "/token",
        &[
            ("grant_type", PRE_AUTH),
            ("pre-authorized_code", &code),
            ("client_id", "wallet-client-1"),
        ],
    );
    assert_eq!(r.status, 200, "{:?}", r.body);
}
