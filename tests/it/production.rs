//! Without `--demo` (DESIGN.md "Trust: who may do what"): no demo route,
//! no page that lists registry subjects, and no authorization-code grant
//! (none is configured), neither advertised nor served.

use digital_id::registry::Registry;
use digital_id::registry::demo::DemoRegistry;
use serde_json::{Value, json};

use crate::fixture::{InProc, Mode, agent};
use crate::issuer::authcode::{self, CLIENT, REDIRECT, no_redirect_agent, text};
use crate::issuer::wallet::{post_form, post_json};

fn production() -> InProc {
    InProc::start_mode(Mode::PRODUCTION, |_| {})
}

/// Every family name, given name and birthdate of the embedded registry.
fn registry_words() -> Vec<String> {
    let registry = DemoRegistry::embedded().unwrap();
    let subjects = registry.subjects().unwrap();
    assert_eq!(subjects.len(), 27);
    subjects
        .into_iter()
        .flat_map(|s| {
            [
                s.person.family_name,
                s.person.given_name,
                s.person.birthdate,
            ]
        })
        .collect()
}

/// The authorization request a demo wallet would send.
fn authorize_query(server: &InProc) -> ureq::RequestBuilder<ureq::typestate::WithoutBody> {
    no_redirect_agent()
        .get(&server.url("/authorize"))
        .query("response_type", "code")
        .query("client_id", CLIENT)
        .query("redirect_uri", REDIRECT)
        .query("code_challenge", authcode::challenge())
        .query("code_challenge_method", "S256")
        .query("scope", "ru.passport")
}

#[test]
fn no_page_shows_a_registry_name_or_birthdate() {
    let server = production();
    let words = registry_words();
    let mut pages: Vec<(String, u16, String)> = [
        "/",
        "/authorize",
        "/authorize?client_id=anything&redirect_uri=https://evil.example/cb",
        "/demo/verifier",
        "/docs/",
        "/openapi.json",
        "/health",
        "/.well-known/openid-credential-issuer",
        "/.well-known/oauth-authorization-server",
    ]
    .iter()
    .map(|path| {
        let (status, body, _) = text(no_redirect_agent().get(&server.url(path)).call());
        (path.to_string(), status, body)
    })
    .collect();
    let (status, body, _) = text(authorize_query(&server).call());
    pages.push(("/authorize (a demo wallet's request)".into(), status, body));
    for (path, _, body) in &pages {
        for w in &words {
            assert!(!body.contains(w.as_str()), "{path} shows {w:?}");
        }
    }
    let status_of = |p: &str| pages.iter().find(|(path, ..)| path == p).unwrap().1;
    assert_eq!(status_of("/authorize"), 404);
    assert_eq!(status_of("/authorize (a demo wallet's request)"), 404);
    assert_eq!(status_of("/docs/"), 200, "the one HTML page left");
}

#[test]
fn demo_and_authorization_routes_are_404_json() {
    let server = production();
    let a = agent();
    let get = |p: &str| a.get(&server.url(p)).call();
    let post = |p: &str| {
        a.post(&server.url(p))
            .header("Content-Type", "application/json")
            .send(r#"{"preset":"hotel_check_in"}"#)
    };
    let challenge = authcode::challenge();
    let par_form = [
        ("response_type", "code"),
        ("client_id", CLIENT),
        ("redirect_uri", REDIRECT),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("scope", "ru.passport"),
    ];
    let answers = [
        ("GET /demo/verifier", get("/demo/verifier")),
        (
            "POST /demo/verifier/requests",
            post("/demo/verifier/requests"),
        ),
        (
            "GET /demo/verifier/requests/x/events",
            get("/demo/verifier/requests/x/events"),
        ),
        ("GET /authorize", authorize_query(&server).call()),
        (
            "POST /authorize/login",
            a.post(&server.url("/authorize/login"))
                .send_form([("session", "s"), ("subject_id", "ivanov-ivan")]),
        ),
        (
            "POST /authorize/consent",
            a.post(&server.url("/authorize/consent"))
                .send_form([("session", "s"), ("decision", "approve")]),
        ),
        ("POST /par", a.post(&server.url("/par")).send_form(par_form)),
    ];
    for (what, r) in answers {
        let mut r = r.unwrap();
        assert_eq!(r.status(), 404, "{what}");
        let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(ct.starts_with("application/json"), "{what}: {ct}");
        let body: Value = r.body_mut().read_json().unwrap();
        assert_eq!(body["error"], "not_found", "{what}");
    }
}

#[test]
fn no_authorization_code_grant_is_advertised_or_served() {
    let server = production();
    let meta: Value = agent()
        .get(&server.url("/.well-known/oauth-authorization-server"))
        .call()
        .unwrap()
        .body_mut()
        .read_json()
        .unwrap();
    assert_eq!(
        meta["grant_types_supported"],
        json!(["urn:ietf:params:oauth:grant-type:pre-authorized_code"])
    );
    assert_eq!(meta["response_types_supported"], json!([]));
    for absent in [
        "authorization_endpoint",
        "pushed_authorization_request_endpoint",
        "require_pushed_authorization_requests",
        "code_challenge_methods_supported",
    ] {
        assert!(meta.get(absent).is_none(), "{absent}: {meta}");
    }

    let offer = post_json(
        &server,
        "/issuer/offers",
        Some(&server.bearer()),
        &json!({"subject_id": "ivanov-ivan", "credential_configuration_ids": ["ru.passport"]}),
    );
    assert_eq!(offer.status, 201, "{:?}", offer.body);
    let grants = offer.body["credential_offer"]["grants"]
        .as_object()
        .unwrap();
    assert!(!grants.contains_key("authorization_code"), "{grants:?}");
    assert!(grants.contains_key("urn:ietf:params:oauth:grant-type:pre-authorized_code"));

    let r = post_form(
        &server,
        "/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", "some-code"),
            ("redirect_uri", REDIRECT),
            ("code_verifier", authcode::VERIFIER),
            ("client_id", CLIENT),
        ],
    );
    assert_eq!((r.status, r.error()), (400, "unsupported_grant_type"));
}

/// No demo CA is made and no demo-CA leaf is used: without an operator's
/// leaf certificate the verifier's client id is its did:key.
#[test]
fn the_verifier_has_no_demo_ca() {
    let server = production();
    let client_id = server.state.verifier.client_id().to_owned();
    assert!(
        client_id.starts_with("decentralized_identifier:did:key:"),
        "{client_id}"
    );
    assert!(server.state.verifier.keys.ca_der.is_none());
    let keys = server.state.settings.data_dir.join("keys");
    assert!(!keys.join("verifier-ca.pem").exists());
    assert!(!keys.join("verifier-ca-key.pem").exists());
}
