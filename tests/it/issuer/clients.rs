//! Registered wallet clients (`[[clients]]`): an unknown `client_id` or a
//! redirect URI that is not an exact match gets an error page and never a
//! redirect (RFC 6749 §4.1.2.1); the consent page names the client by its
//! registered name.

use digital_id::config::WalletClient;

use super::authcode::{self, CLIENT, REDIRECT, no_redirect_agent, param, text};
use super::wallet::post_form;
use crate::fixture::InProc;

fn authorize(server: &InProc, client: &str, redirect: &str) -> ureq::http::Response<ureq::Body> {
    no_redirect_agent()
        .get(&server.url("/authorize"))
        .query("response_type", "code")
        .query("client_id", client)
        .query("redirect_uri", redirect)
        .query("code_challenge", authcode::challenge())
        .query("code_challenge_method", "S256")
        .query("scope", "ru.passport")
        .query("state", "st-1")
        .call()
        .unwrap()
}

fn par(server: &InProc, client: &str, redirect: &str) -> super::wallet::Reply {
    let challenge = authcode::challenge();
    post_form(
        server,
        "/par",
        &[
            ("response_type", "code"),
            ("client_id", client),
            ("redirect_uri", redirect),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
            ("scope", "ru.passport"),
        ],
    )
}

#[test]
fn an_unknown_client_or_redirect_uri_gets_an_error_page_and_no_redirect() {
    let server = InProc::start();
    let cases = [
        ("unknown-wallet", REDIRECT, "invalid_client"),
        (CLIENT, "https://evil.example/cb", "invalid_request"),
        // Exact match: no prefix, no extra path or query.
        (CLIENT, "https://wallet.example/cb/more", "invalid_request"),
        (CLIENT, "https://wallet.example/cb?x=1", "invalid_request"),
        (CLIENT, "https://wallet.example/CB", "invalid_request"),
    ];
    for (client, redirect, code) in cases {
        let mut r = authorize(&server, client, redirect);
        let what = format!("GET /authorize {client} {redirect}");
        assert_eq!(r.status(), 400, "{what}");
        assert!(r.headers().get("location").is_none(), "{what}: redirected");
        let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(ct.starts_with("text/html"), "{what}: {ct}");
        let page = r.body_mut().read_to_string().unwrap();
        assert!(
            page.contains(&format!("<code>{code}</code>")),
            "{what}: {page}"
        );
        assert!(!page.contains("evil.example"), "{what}: {page}");

        let p = par(&server, client, redirect);
        assert_eq!(
            (p.status, p.error()),
            (400, code),
            "POST /par {client} {redirect}"
        );
        assert!(p.headers.get("location").is_none());
        assert!(p.body.get("request_uri").is_none());
    }
    // The registered pair is served.
    assert_eq!(authorize(&server, CLIENT, REDIRECT).status(), 200);
    assert_eq!(par(&server, CLIENT, REDIRECT).status, 201);
}

#[test]
fn configured_clients_replace_the_demo_client_and_their_name_is_shown_escaped() {
    let server = InProc::start_with(|s| {
        s.clients = vec![WalletClient {
            client_id: "wallet-2".into(),
            name: "<b>Кошелёк & Co</b>".into(),
            redirect_uris: vec!["https://w2.example/cb".into()],
        }]
    });
    assert_eq!(par(&server, CLIENT, REDIRECT).error(), "invalid_client");
    let pushed = par(&server, "wallet-2", "https://w2.example/cb");
    assert_eq!(pushed.status, 201, "{:?}", pushed.body);
    let agent = no_redirect_agent();
    let r = agent
        .get(&server.url("/authorize"))
        .query("client_id", "wallet-2")
        .query("request_uri", pushed.body["request_uri"].as_str().unwrap())
        .call()
        .unwrap();
    let login_headers = r.headers().clone();
    let (status, page, _) = text(Ok(r));
    assert_eq!(status, 200, "{page}");
    let escaped = "&lt;b&gt;Кошелёк &amp; Co&lt;/b&gt;";
    assert!(page.contains(escaped), "{page}");
    assert!(!page.contains("<b>Кошелёк"), "{page}");
    let marker = "name=\"session\" value=\"";
    let start = page.find(marker).unwrap() + marker.len();
    let session = page[start..].split('"').next().unwrap();
    let r = agent
        .post(&server.url("/authorize/login"))
        .send_form([("session", session), ("subject_id", "ivanov-ivan")])
        .unwrap();
    let consent_headers = r.headers().clone();
    let (status, consent, _) = text(Ok(r));
    assert_eq!(status, 200, "{consent}");
    assert!(consent.contains(escaped), "{consent}");
    assert!(!consent.contains("<b>Кошелёк"), "{consent}");
    for (what, h) in [("login", login_headers), ("consent", consent_headers)] {
        assert_eq!(
            h["content-security-policy"], "frame-ancestors 'none'",
            "{what}"
        );
        assert_eq!(h["x-content-type-options"], "nosniff", "{what}");
    }
    let (status, _, location) = authcode::decide(&server, &consent, "approve");
    assert_eq!(status, 303);
    let location = location.unwrap();
    assert!(location.starts_with("https://w2.example/cb?"), "{location}");
    assert!(param(&location, "code").is_some());
}

/// OpenID4VCI 1.0 §5.1.2: unknown scope values are ignored.
#[test]
fn unknown_scope_values_are_ignored() {
    let server = InProc::start();
    let pushed = authcode::push(&server, &[("scope", "openid ru.diploma ru.passport")]);
    assert_eq!(pushed.status, 201, "{:?}", pushed.body);
    let only_unknown = authcode::push(&server, &[("scope", "openid ru.diploma")]);
    assert_eq!(only_unknown.error(), "invalid_scope");
}
