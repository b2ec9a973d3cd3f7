//! Authorization-request conformance: `scope` beside `authorization_details`
//! (OpenID4VCI 1.0 §5.1.2), `authorization_details` in the token request of
//! either grant (§6.1, §6.2) and the `credential_identifier` it then needs
//! (§8.2), and authorization errors delivered to the client's redirect URI
//! (RFC 6749 §4.1.2.1, RFC 9207 `iss`) once the client and its redirect URI
//! are established.

use serde_json::{Value, json};

use super::authcode::{
    self, CLIENT, REDIRECT, code_for, decide, login, no_redirect_agent, param, push, redeem, text,
};
use super::wallet::{
    self, PRE_AUTH, credential, key, nonce, post_form, pre_authorized_code, proof,
};
use crate::fixture::InProc;

fn details(ids: &[&str]) -> String {
    let list: Vec<Value> = ids
        .iter()
        .map(|id| json!({"type": "openid_credential", "credential_configuration_id": id}))
        .collect();
    Value::Array(list).to_string()
}

/// The token response's `credential_identifiers`, by configuration.
fn identifiers(token_response: &Value) -> Vec<(String, Vec<String>)> {
    token_response["authorization_details"]
        .as_array()
        .unwrap_or_else(|| panic!("no authorization_details: {token_response}"))
        .iter()
        .map(|d| {
            assert_eq!(d["type"], "openid_credential");
            let ids = d["credential_identifiers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i.as_str().unwrap().to_owned())
                .collect();
            (
                d["credential_configuration_id"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
                ids,
            )
        })
        .collect()
}

/// Issues one credential with `credential_identifier`; returns its `vct`.
fn issue_by_identifier(server: &InProc, token: &str, identifier: &str) -> Value {
    let n = nonce(server);
    let r = credential(
        server,
        token,
        &json!({"credential_identifier": identifier, "proofs": {"jwt": [proof(server, &key(), &n)]}}),
    );
    assert_eq!(r.status, 200, "{:?}", r.body);
    let v = wallet::verify(
        server,
        r.body["credentials"][0]["credential"].as_str().unwrap(),
    );
    v.claims["vct"].clone()
}

#[test]
fn scope_and_authorization_details_in_one_request_are_both_honoured() {
    let server = InProc::start();
    let code = code_for(
        &server,
        "ivanov-ivan",
        &[
            // `openid` is ignored; `ru.passport` is named by both and
            // counts once.
            ("scope", "openid ru.snils ru.passport"),
            ("authorization_details", &details(&["ru.passport"])),
        ],
    );
    let t = redeem(&server, &code);
    assert_eq!(t.status, 200, "{:?}", t.body);
    let by_cfg = identifiers(&t.body);
    let cfgs: Vec<&str> = by_cfg.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(cfgs, ["ru.passport", "ru.snils"], "{:?}", t.body);
    let token = t.body["access_token"].as_str().unwrap();
    let mut vcts = Vec::new();
    for (_, ids) in &by_cfg {
        assert_eq!(ids.len(), 1, "{:?}", t.body);
        vcts.push(issue_by_identifier(&server, token, &ids[0]));
    }
    assert_eq!(
        vcts,
        [
            json!("urn:ru:digital-id:passport:1"),
            json!("urn:ru:digital-id:snils:1")
        ]
    );
    // §8.2: identifiers were returned, so a request by configuration is refused.
    let n = nonce(&server);
    let r = credential(
        &server,
        token,
        &json!({"credential_configuration_id": "ru.snils", "proofs": {"jwt": [proof(&server, &key(), &n)]}}),
    );
    assert_eq!(
        (r.status, r.error()),
        (400, "invalid_credential_request"),
        "{:?}",
        r.body
    );
}

#[test]
fn pre_authorized_code_with_authorization_details_gets_credential_identifiers() {
    let server = InProc::start();
    let o = wallet::offer(&server, "ivanov-ivan", &["ru.passport", "ru.snils"], true);
    let code = pre_authorized_code(&o);
    let tx = o["tx_code"].as_str().unwrap();
    let form = |d: &str| {
        vec![
            ("grant_type", PRE_AUTH.to_owned()),
            ("pre-authorized_code", code.clone()),
            ("tx_code", tx.to_owned()),
            ("authorization_details", d.to_owned()),
        ]
    };
    let send = |d: &str| {
        let f = form(d);
        let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
        post_form(&server, "/token", &f)
    };
    // Malformed, or more than the offer: refused, and the code lives on.
    for (bad, what) in [
        (r#"[{"type":"openid_credential"}]"#.to_owned(), "malformed"),
        (details(&["ru.passport", "ru.inn"]), "not offered"),
    ] {
        let r = send(&bad);
        assert_eq!(
            (r.status, r.error()),
            (400, "invalid_authorization_details"),
            "{what}: {:?}",
            r.body
        );
    }
    // A subset of the offer: a token for the reduced set (§6.1).
    let t = send(&details(&["ru.passport"]));
    assert_eq!(t.status, 200, "{:?}", t.body);
    let by_cfg = identifiers(&t.body);
    assert_eq!(by_cfg.len(), 1, "{:?}", t.body);
    assert_eq!(by_cfg[0].0, "ru.passport");
    assert_eq!(by_cfg[0].1.len(), 1);
    let token = t.body["access_token"].as_str().unwrap();
    assert_eq!(
        issue_by_identifier(&server, token, &by_cfg[0].1[0]),
        "urn:ru:digital-id:passport:1"
    );
    // The configuration left out is not covered.
    let n = nonce(&server);
    let r = credential(
        &server,
        token,
        &json!({"credential_configuration_id": "ru.snils", "proofs": {"jwt": [proof(&server, &key(), &n)]}}),
    );
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(r.error(), "invalid_credential_request");
}

#[test]
fn authorization_details_in_the_token_request_narrow_an_authorization_code() {
    let server = InProc::start();
    let code = code_for(&server, "ivanov-ivan", &[("scope", "ru.snils ru.inn")]);
    let token_request = |code: &str, d: &str| {
        post_form(
            &server,
            "/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", authcode::VERIFIER),
                ("client_id", CLIENT),
                ("authorization_details", d),
            ],
        )
    };
    let t = token_request(&code, &details(&["ru.inn"]));
    assert_eq!(t.status, 200, "{:?}", t.body);
    let by_cfg = identifiers(&t.body);
    assert_eq!(by_cfg.len(), 1);
    assert_eq!(by_cfg[0].0, "ru.inn");
    let token = t.body["access_token"].as_str().unwrap();
    assert_eq!(
        issue_by_identifier(&server, token, &by_cfg[0].1[0]),
        "urn:ru:digital-id:inn:1"
    );
    // More than was authorized.
    let code = code_for(&server, "ivanov-ivan", &[("scope", "ru.snils")]);
    let t = token_request(&code, &details(&["ru.passport"]));
    assert_eq!(
        (t.status, t.error()),
        (400, "invalid_authorization_details"),
        "{:?}",
        t.body
    );
}

/// `GET /authorize` of the registered client with the standard parameters,
/// `drop` left out and `set` added or replacing.
fn authorize(
    server: &InProc,
    client: &str,
    redirect: &str,
    drop: &[&str],
    set: &[(&str, &str)],
) -> (u16, String, Option<String>) {
    let challenge = authcode::challenge();
    let mut params: Vec<(&str, &str)> = vec![
        ("response_type", "code"),
        ("client_id", client),
        ("redirect_uri", redirect),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
        ("scope", "ru.passport"),
        ("state", "st-1"),
    ];
    params.retain(|(k, _)| !drop.contains(k) && !set.iter().any(|(s, _)| s == k));
    params.extend_from_slice(set);
    let mut req = no_redirect_agent().get(&server.url("/authorize"));
    for (k, v) in params {
        req = req.query(k, v);
    }
    text(req.call())
}

/// An error response at the client's redirect URI (RFC 6749 §4.1.2.1).
fn assert_sent_back(server: &InProc, status: u16, location: Option<&str>, code: &str, what: &str) {
    assert_eq!(status, 302, "{what}");
    let location = location.unwrap_or_else(|| panic!("{what}: no redirect"));
    assert!(
        location.starts_with(&format!("{REDIRECT}?")),
        "{what}: {location}"
    );
    assert_eq!(param(location, "error").as_deref(), Some(code), "{what}");
    assert!(
        param(location, "error_description").is_some_and(|d| !d.is_empty()),
        "{what}: {location}"
    );
    assert_eq!(param(location, "state").as_deref(), Some("st-1"), "{what}");
    assert_eq!(
        param(location, "iss").as_deref(),
        Some(server.base.as_str()),
        "{what}"
    );
    assert!(param(location, "code").is_none(), "{what}");
}

/// What is wrong, the parameters left out, those set, the error expected.
type Case<'a> = (&'a str, &'a [&'a str], &'a [(&'a str, &'a str)], &'a str);

#[test]
fn authorization_errors_go_back_to_the_redirect_uri() {
    let server = InProc::start();
    let bad_details =
        r#"[{"type":"openid_credential","credential_configuration_id":"ru.diploma"}]"#;
    let cases: [Case; 7] = [
        (
            "missing code_challenge",
            &["code_challenge"],
            &[],
            "invalid_request",
        ),
        (
            "plain PKCE",
            &[],
            &[("code_challenge_method", "plain")],
            "invalid_request",
        ),
        (
            "response_type=token",
            &[],
            &[("response_type", "token")],
            "unsupported_response_type",
        ),
        (
            "no response_type",
            &["response_type"],
            &[],
            "unsupported_response_type",
        ),
        (
            "unknown scope only",
            &[],
            &[("scope", "ru.diploma")],
            "invalid_scope",
        ),
        (
            "bad authorization_details",
            &[],
            &[("authorization_details", bad_details)],
            "invalid_authorization_details",
        ),
        (
            "unknown issuer_state",
            &[],
            &[("issuer_state", "no-such-offer")],
            "invalid_request",
        ),
    ];
    for (what, drop, set, code) in cases {
        let (status, body, location) = authorize(&server, CLIENT, REDIRECT, drop, set);
        assert_sent_back(&server, status, location.as_deref(), code, what);
        assert!(body.is_empty(), "{what}: {body}");
    }
    // Without `state` none is sent back.
    let (status, _, location) =
        authorize(&server, CLIENT, REDIRECT, &["state", "code_challenge"], &[]);
    assert_eq!(status, 302);
    let location = location.unwrap();
    assert_eq!(
        param(&location, "error").as_deref(),
        Some("invalid_request")
    );
    assert!(param(&location, "state").is_none(), "{location}");
}

#[test]
fn a_bad_client_or_redirect_uri_is_never_redirected_even_with_other_errors() {
    let server = InProc::start();
    for (client, redirect, code) in [
        ("unknown-wallet", REDIRECT, "invalid_client"),
        (CLIENT, "https://evil.example/cb", "invalid_request"),
        (CLIENT, "http://wallet.example/cb", "invalid_request"),
    ] {
        // The request is also missing PKCE: the bad client or redirect URI
        // decides, and it is shown, not redirected.
        let (status, page, location) =
            authorize(&server, client, redirect, &["code_challenge"], &[]);
        assert_eq!(status, 400, "{client} {redirect}: {page}");
        assert!(location.is_none(), "{client} {redirect}: {location:?}");
        assert!(page.contains(&format!("<code>{code}</code>")), "{page}");
    }
}

#[test]
fn errors_after_a_pushed_request_go_back_to_the_redirect_uri() {
    let server = InProc::start();
    // Denied consent (the request came through PAR).
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
    assert!(
        param(&location, "error_description").is_some(),
        "{location}"
    );
    assert_eq!(param(&location, "state").as_deref(), Some("st-1"));
    assert_eq!(
        param(&location, "iss").as_deref(),
        Some(server.base.as_str())
    );

    // A consent posted for a session in which nobody signed in.
    let pushed = push(&server, &[("scope", "ru.snils")]);
    let (status, page, _) = text(
        no_redirect_agent()
            .get(&server.url("/authorize"))
            .query("client_id", CLIENT)
            .query("request_uri", pushed.body["request_uri"].as_str().unwrap())
            .call(),
    );
    assert_eq!(status, 200, "{page}");
    let (status, _, location) = decide(&server, &page, "approve");
    assert_eq!(status, 303);
    let location = location.expect("redirect");
    assert!(location.starts_with(REDIRECT), "{location}");
    assert_eq!(
        param(&location, "error").as_deref(),
        Some("invalid_request")
    );
    assert_eq!(param(&location, "state").as_deref(), Some("st-1"));
    assert!(param(&location, "code").is_none());

    // A `request_uri` pushed by another client, or unknown: no redirect.
    let pushed = push(&server, &[("scope", "ru.snils")]);
    for (client, uri) in [
        ("other-wallet", pushed.body["request_uri"].as_str().unwrap()),
        (CLIENT, "urn:ietf:params:oauth:request_uri:nope"),
    ] {
        let (status, page, location) = text(
            no_redirect_agent()
                .get(&server.url("/authorize"))
                .query("client_id", client)
                .query("request_uri", uri)
                .call(),
        );
        assert_eq!(status, 400, "{page}");
        assert!(location.is_none());
    }
    // At `/par` the same refusals stay JSON (RFC 9126 §2.3).
    let r = push(&server, &[("scope", "ru.diploma")]);
    assert_eq!((r.status, r.error()), (400, "invalid_scope"));
    assert!(r.headers.get("location").is_none());
}
