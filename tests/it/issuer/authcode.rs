//! The authorization code flow with PKCE S256, driven through the login and
//! consent pages like a browser would.

use digital_id::crypto::{b64url, sha256};
use serde_json::{Value, json};

use super::wallet::{self, credential, key, nonce, proof};
use crate::fixture::InProc;

pub const CLIENT: &str = "wallet-client-1";
pub const REDIRECT: &str = "https://wallet.example/cb";
/// The `name` of the built-in demo client.
pub const CLIENT_NAME: &str = "Demo wallet";
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-0123456789";

pub fn no_redirect_agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into()
}

pub fn text(
    r: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
) -> (u16, String, Option<String>) {
    let mut r = r.unwrap();
    let location = r
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned());
    (
        r.status().as_u16(),
        r.body_mut().read_to_string().unwrap(),
        location,
    )
}

/// The value of the hidden `session` field of a page.
fn session_of(html: &str) -> String {
    let marker = "name=\"session\" value=\"";
    let start = html.find(marker).expect("no session field") + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

/// A query parameter of a URL.
pub fn param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    serde_urlencoded::from_str::<Vec<(String, String)>>(query)
        .unwrap()
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

pub fn challenge() -> String {
    b64url(sha256(VERIFIER))
}

/// `POST /par` with the standard parameters plus `extra`.
pub fn push(server: &InProc, extra: &[(&str, &str)]) -> wallet::Reply {
    push_with(server, extra, &[])
}

/// `POST /par` with the standard parameters plus `extra`, and `headers`
/// (a wallet attestation).
pub fn push_with(
    server: &InProc,
    extra: &[(&str, &str)],
    headers: &[(&'static str, String)],
) -> wallet::Reply {
    let challenge = challenge();
    let mut form = vec![
        ("response_type", "code"),
        ("client_id", CLIENT),
        ("redirect_uri", REDIRECT),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("state", "st-1"),
    ];
    form.extend_from_slice(extra);
    post_par(server, &form, headers)
}

/// `POST /par` with `form` and `headers`.
pub fn post_par(
    server: &InProc,
    form: &[(&str, &str)],
    headers: &[(&'static str, String)],
) -> wallet::Reply {
    let mut req = crate::fixture::agent().post(&server.url("/par"));
    for (name, value) in headers {
        req = req.header(*name, value);
    }
    wallet::reply(req.send_form(form.iter().copied()))
}

/// GET /authorize for a pushed request, then log in as `subject`. Returns
/// the login step's answer (a consent page, or a redirect when consent was
/// remembered).
pub fn login(server: &InProc, request_uri: &str, subject: &str) -> (u16, String, Option<String>) {
    let agent = no_redirect_agent();
    let (status, page, _) = text(
        agent
            .get(&server.url("/authorize"))
            .query("client_id", CLIENT)
            .query("request_uri", request_uri)
            .call(),
    );
    assert_eq!(status, 200, "{page}");
    assert!(page.contains(CLIENT_NAME), "the registered name is shown");
    let session = session_of(&page);
    text(
        agent
            .post(&server.url("/authorize/login"))
            .send_form([("session", session.as_str()), ("subject_id", subject)]),
    )
}

pub fn decide(
    server: &InProc,
    consent_page: &str,
    decision: &str,
) -> (u16, String, Option<String>) {
    let session = session_of(consent_page);
    text(
        no_redirect_agent()
            .post(&server.url("/authorize/consent"))
            .send_form([("session", session.as_str()), ("decision", decision)]),
    )
}

/// The whole browser part for `subject`, consenting when asked; returns the
/// authorization code.
pub fn code_for(server: &InProc, subject: &str, extra: &[(&str, &str)]) -> String {
    code_after_push(server, &push(server, extra), subject)
}

/// The browser part after a successful `POST /par` answered `pushed`.
pub fn code_after_push(server: &InProc, pushed: &wallet::Reply, subject: &str) -> String {
    assert_eq!(pushed.status, 201, "{:?}", pushed.body);
    let uri = pushed.body["request_uri"].as_str().unwrap();
    let (status, page, mut location) = login(server, uri, subject);
    if status == 200 {
        let (s, _, l) = decide(server, &page, "approve");
        assert_eq!(s, 303);
        location = l;
    }
    let location = location.expect("redirect");
    assert!(location.starts_with(REDIRECT), "{location}");
    assert_eq!(param(&location, "state").as_deref(), Some("st-1"));
    assert_eq!(
        param(&location, "iss").as_deref(),
        Some(server.base.as_str())
    );
    param(&location, "code").unwrap()
}

pub fn redeem(server: &InProc, code: &str) -> wallet::Reply {
    wallet::post_form(
        server,
        "/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
            ("client_id", CLIENT),
        ],
    )
}

const DETAILS: &str =
    r#"[{"type":"openid_credential","credential_configuration_id":"ru.passport"}]"#;

#[test]
fn authorization_details_with_consent_then_remembered() {
    let server = InProc::start();
    let pushed = push(&server, &[("authorization_details", DETAILS)]);
    assert_eq!(pushed.status, 201, "{:?}", pushed.body);
    assert_eq!(pushed.body["expires_in"], 60);
    let uri = pushed.body["request_uri"].as_str().unwrap();
    assert!(uri.starts_with("urn:ietf:params:oauth:request_uri:"));
    let (status, page, _) = login(&server, uri, "ivanov-ivan");
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Identity proofed by"), "{page}");
    assert!(
        page.contains("Паспорт") || page.contains("Passport"),
        "{page}"
    );
    let (status, _, location) = decide(&server, &page, "approve");
    assert_eq!(status, 303);
    let code = param(location.as_deref().unwrap(), "code").unwrap();

    let t = redeem(&server, &code);
    assert_eq!(t.status, 200, "{:?}", t.body);
    let details = &t.body["authorization_details"][0];
    assert_eq!(details["type"], "openid_credential");
    assert_eq!(details["credential_configuration_id"], "ru.passport");
    let identifier = details["credential_identifiers"][0].as_str().unwrap();
    let token = t.body["access_token"].as_str().unwrap();
    let holder = key();
    let n = nonce(&server);
    let r = credential(
        &server,
        token,
        &json!({"credential_identifier": identifier, "proofs": {"jwt": [proof(&server, &holder, &n)]}}),
    );
    assert_eq!(r.status, 200, "{:?}", r.body);
    let v = wallet::verify(
        &server,
        r.body["credentials"][0]["credential"].as_str().unwrap(),
    );
    assert_eq!(v.claims["vct"], "urn:ru:digital-id:passport:1");

    // The consent is remembered: the second run goes straight back.
    let code = code_for(
        &server,
        "ivanov-ivan",
        &[("authorization_details", DETAILS)],
    );
    assert_eq!(redeem(&server, &code).status, 200);
    let consents = crate::fixture::agent()
        .get(&server.url("/issuer/subjects/ivanov-ivan/consents"))
        .header("Authorization", &server.bearer())
        .call()
        .unwrap()
        .body_mut()
        .read_json::<Value>()
        .unwrap();
    assert_eq!(consents[0]["client_id"], CLIENT);
    assert_eq!(
        consents[0]["credential_configuration_ids"],
        json!(["ru.passport"])
    );
    assert!(consents[0]["identity_proofing"].is_string());
}

#[test]
fn scope_flow_and_remembered_consent_skips_the_page() {
    let server = InProc::start();
    let code = code_for(&server, "ivanov-ivan", &[("scope", "ru.snils ru.inn")]);
    let t = redeem(&server, &code);
    assert_eq!(t.status, 200);
    assert!(t.body.get("authorization_details").is_none());
    let pushed = push(&server, &[("scope", "ru.inn")]);
    let (status, _, location) = login(
        &server,
        pushed.body["request_uri"].as_str().unwrap(),
        "ivanov-ivan",
    );
    assert_eq!(status, 303, "consent must not be asked again");
    assert!(param(&location.unwrap(), "code").is_some());
    // A wider request asks again.
    let pushed = push(&server, &[("scope", "ru.passport")]);
    let (status, _, _) = login(
        &server,
        pushed.body["request_uri"].as_str().unwrap(),
        "ivanov-ivan",
    );
    assert_eq!(status, 200);
}

#[test]
fn withdrawn_consent_is_asked_again() {
    let server = InProc::start();
    code_for(&server, "ivanov-ivan", &[("scope", "ru.snils")]);
    let w = wallet::post_json(
        &server,
        "/issuer/consents/withdraw",
        Some(&server.bearer()),
        &json!({"subject_id": "ivanov-ivan", "client_id": CLIENT}),
    );
    assert_eq!(w.status, 204);
    let again = wallet::post_json(
        &server,
        "/issuer/consents/withdraw",
        Some(&server.bearer()),
        &json!({"subject_id": "ivanov-ivan", "client_id": CLIENT}),
    );
    assert_eq!((again.status, again.error()), (404, "not_found"));
    let pushed = push(&server, &[("scope", "ru.snils")]);
    let (status, page, _) = login(
        &server,
        pushed.body["request_uri"].as_str().unwrap(),
        "ivanov-ivan",
    );
    assert_eq!(status, 200);
    assert!(page.contains("decision"));
}

#[test]
fn denying_consent_returns_access_denied() {
    let server = InProc::start();
    let pushed = push(&server, &[("scope", "ru.snils")]);
    let (_, page, _) = login(
        &server,
        pushed.body["request_uri"].as_str().unwrap(),
        "ivanov-ivan",
    );
    let (status, _, location) = decide(&server, &page, "deny");
    assert_eq!(status, 303);
    let location = location.unwrap();
    assert_eq!(param(&location, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(&location, "state").as_deref(), Some("st-1"));
    assert!(param(&location, "code").is_none());
}

#[test]
fn an_unproofed_subject_is_refused_with_an_explanation() {
    let server = InProc::start();
    let pushed = push(&server, &[("scope", "ru.snils")]);
    let (status, page, _) = login(
        &server,
        pushed.body["request_uri"].as_str().unwrap(),
        "orlov-maxim",
    );
    assert_eq!(status, 403);
    assert!(page.contains("has not been proofed"), "{page}");
    assert!(page.contains("access_denied"));
}

#[test]
fn authorize_without_par_and_issuer_state_round_trip() {
    let server = InProc::start();
    let o = wallet::offer(&server, "ivanov-ivan", &["ru.oms"], true);
    let issuer_state = o["credential_offer"]["grants"]["authorization_code"]["issuer_state"]
        .as_str()
        .unwrap();
    let challenge = challenge();
    let agent = no_redirect_agent();
    let (status, page, _) = text(
        agent
            .get(&server.url("/authorize"))
            .query("response_type", "code")
            .query("client_id", CLIENT)
            .query("redirect_uri", REDIRECT)
            .query("code_challenge", &challenge)
            .query("code_challenge_method", "S256")
            .query("scope", "ru.oms")
            .query("issuer_state", issuer_state)
            .call(),
    );
    assert_eq!(status, 200, "{page}");
    // Only the offer's subject is offered for login.
    assert_eq!(page.matches("name=\"subject_id\"").count(), 1);
    let session = session_of(&page);
    let (status, page, _) = text(agent.post(&server.url("/authorize/login")).send_form([
        ("session", session.as_str()),
        ("subject_id", "smirnova-olga"),
    ]));
    assert_eq!(status, 403, "{page}");
}

#[test]
fn pkce_is_required_and_checked() {
    let server = InProc::start();
    let no_pkce = wallet::post_form(
        &server,
        "/par",
        &[
            ("response_type", "code"),
            ("client_id", CLIENT),
            ("redirect_uri", REDIRECT),
            ("scope", "ru.snils"),
        ],
    );
    assert_eq!((no_pkce.status, no_pkce.error()), (400, "invalid_request"));
    let plain = push(
        &server,
        &[("scope", "ru.snils"), ("code_challenge_method", "plain")],
    );
    assert_eq!((plain.status, plain.error()), (400, "invalid_request"));
    let code = code_for(&server, "ivanov-ivan", &[("scope", "ru.snils")]);
    let wrong = wallet::post_form(
        &server,
        "/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &"x".repeat(43)),
            ("client_id", CLIENT),
        ],
    );
    assert_eq!((wrong.status, wrong.error()), (400, "invalid_grant"));
    // The code was burnt by the failed try.
    assert_eq!(redeem(&server, &code).error(), "invalid_grant");
}

#[test]
fn authorization_request_errors() {
    let server = InProc::start();
    let bad_scope = push(&server, &[("scope", "ru.diploma")]);
    assert_eq!(
        (bad_scope.status, bad_scope.error()),
        (400, "invalid_scope")
    );
    let bad_details = push(&server, &[("authorization_details", r#"[{"type":"x"}]"#)]);
    assert_eq!(bad_details.error(), "invalid_authorization_details");
    let challenge = challenge();
    let bad_type = wallet::post_form(
        &server,
        "/par",
        &[
            ("response_type", "token"),
            ("client_id", CLIENT),
            ("redirect_uri", REDIRECT),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
            ("scope", "ru.snils"),
        ],
    );
    assert_eq!(bad_type.error(), "unsupported_response_type");
    // A parameter given twice is a malformed request (RFC 6749 §3.1).
    let twice = push(
        &server,
        &[("scope", "ru.snils"), ("response_type", "token")],
    );
    assert_eq!(twice.error(), "invalid_request");
    let unknown_uri = no_redirect_agent()
        .get(&server.url("/authorize"))
        .query("client_id", CLIENT)
        .query("request_uri", "urn:ietf:params:oauth:request_uri:nope")
        .call()
        .unwrap();
    assert_eq!(unknown_uri.status(), 400);
    // A request_uri is single use.
    let pushed = push(&server, &[("scope", "ru.snils")]);
    let uri = pushed.body["request_uri"].as_str().unwrap();
    login(&server, uri, "ivanov-ivan");
    let again = no_redirect_agent()
        .get(&server.url("/authorize"))
        .query("client_id", CLIENT)
        .query("request_uri", uri)
        .call()
        .unwrap();
    assert_eq!(again.status(), 400);
}

#[test]
fn an_invalid_registry_record_gets_credential_request_denied() {
    let server = InProc::start();
    // The authorization does not look at the records; the credential
    // endpoint validates them before anything is signed.
    let code = code_for(&server, "fedorov-nikolay", &[("scope", "ru.snils")]);
    let t = redeem(&server, &code);
    let token = t.body["access_token"].as_str().unwrap();
    let n = nonce(&server);
    let r = credential(
        &server,
        token,
        &json!({"credential_configuration_id": "ru.snils", "proofs": {"jwt": [proof(&server, &key(), &n)]}}),
    );
    assert_eq!((r.status, r.error()), (400, "credential_request_denied"));
    assert!(
        r.body["error_description"]
            .as_str()
            .unwrap()
            .contains("SNILS check number"),
        "{:?}",
        r.body
    );
}

/// HAIP 1.0 (`--profile haip`): the metadata requires PAR, an authorization
/// request sent to `/authorize` directly goes back to the wallet as
/// `invalid_request` (with `state` and `iss`), a pushed one gets a code as
/// always, and a code lives at most 60 s (a longer setting does not start).
#[test]
fn under_haip_authorization_requests_must_be_pushed() {
    use digital_id::config::Profile;
    let server = InProc::start_with(|s| s.profile = Profile::Haip);
    let meta = wallet::get(&server, "/.well-known/oauth-authorization-server").body;
    assert_eq!(meta["require_pushed_authorization_requests"], true);
    let (status, _, location) = text(
        no_redirect_agent()
            .get(&server.url("/authorize"))
            .query("response_type", "code")
            .query("client_id", CLIENT)
            .query("redirect_uri", REDIRECT)
            .query("code_challenge", challenge())
            .query("code_challenge_method", "S256")
            .query("scope", "ru.passport")
            .query("state", "st-1")
            .call(),
    );
    assert_eq!(status, 302);
    let location = location.expect("a redirect to the wallet");
    assert!(location.starts_with(REDIRECT), "{location}");
    assert_eq!(
        param(&location, "error").as_deref(),
        Some("invalid_request")
    );
    assert!(
        param(&location, "error_description")
            .unwrap()
            .contains("pushed authorization requests"),
        "{location}"
    );
    assert_eq!(param(&location, "state").as_deref(), Some("st-1"));
    assert_eq!(
        param(&location, "iss").as_deref(),
        Some(server.base.as_str())
    );
    assert!(param(&location, "code").is_none());
    // Through PAR (with the client attestation HAIP requires there) the
    // same request gets its code.
    let w = super::client_attestation::Wallet::new(CLIENT);
    let server = InProc::start_with(|s| {
        s.profile = Profile::Haip;
        w.trusted_by(s);
    });
    let pushed = push_with(&server, &[("scope", "ru.passport")], &w.headers(&server));
    let code = code_after_push(&server, &pushed, "ivanov-ivan");
    assert!(!code.is_empty());
    // Outside HAIP PAR stays optional.
    let plain = InProc::start();
    let meta = wallet::get(&plain, "/.well-known/oauth-authorization-server").body;
    assert_eq!(meta["require_pushed_authorization_requests"], false);
}
