//! Issue #15 item 2: whoever sees the QR must not be able to end a
//! verification. The QR carries only `client_id` and `request_uri`; the
//! response URI has its own random id, disclosed only in the signed request
//! object (single use: the wallet that fetched it is the only one who has
//! it), and an answer that does not prove knowledge of that request object
//! — the right `state`, or a JWE that decrypts with the request's key — is
//! refused without touching the transaction, so the real wallet can still
//! answer.

use serde_json::{Map, Value, json};

use digital_id::crypto::{SigningKey, b64url_decode};
use digital_id::verifier::jwe;

use crate::fixture::{InProc, T0, agent};
use crate::verifier::{
    answer, answer_with_state, create, fetch_request_object, passport_for, post_form, present,
    status, wallet_key,
};

const AGE: &[&[&str]] = &[&["age_equal_or_over", "18"]];

/// A request whose request object the real wallet has fetched.
struct Scene {
    server: InProc,
    holder: SigningKey,
    cred: String,
    id: String,
    request_uri: String,
    authorization_request: String,
    /// The request object the wallet holds.
    ro: Map<String, Value>,
}

fn scene(response_mode: &str) -> Scene {
    let server = InProc::start();
    let holder = wallet_key();
    let cred = passport_for(&server, &holder);
    let created = create(
        &server,
        json!({"preset": "age_over_18", "response_mode": response_mode}),
    );
    let text = |k: &str| created[k].as_str().unwrap().to_owned();
    let (_, ro) = fetch_request_object(&text("request_uri"));
    Scene {
        id: text("transaction_id"),
        request_uri: text("request_uri"),
        authorization_request: text("authorization_request"),
        server,
        holder,
        cred,
        ro,
    }
}

impl Scene {
    fn assert_pending(&self, after: &str) {
        let s = status(&self.server, &self.id);
        assert_eq!(s["status"], "pending", "after {after}: {s}");
    }

    /// The real wallet answers last, and the transaction is verified.
    fn wallet_answers(&self) {
        let p = present(&self.cred, AGE, &self.holder, &self.ro, T0);
        let (code, body) = answer(&self.ro, json!({"credential": [p]}));
        assert_eq!(code, 200, "{body}");
        let s = status(&self.server, &self.id);
        assert_eq!(s["status"], "verified", "{s}");
    }
}

fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// One answer an outsider can make without the request object, and what
/// the refusal names for a `direct_post.jwt` and a `direct_post` request.
struct Forgery {
    form: Vec<(String, String)>,
    jwt: &'static str,
    plain: &'static str,
}

/// Nothing, guessed states, a wallet error, a plain `vp_token`, and JWEs
/// that are not encrypted to this request's key (with and without a `kid`).
fn forgeries() -> Vec<Forgery> {
    let own = jwe::generate_key().unwrap();
    let public = jwe::public_jwk(&own);
    let mut no_kid = public.clone();
    no_kid.remove("kid");
    let payload = json!({"vp_token": {"credential": ["x~"]}, "state": "guess"});
    let to_own = jwe::encrypt(&payload, &public, "A256GCM").unwrap();
    let to_own_no_kid = jwe::encrypt(&payload, &no_kid, "A128GCM").unwrap();
    let vp = r#"{"credential":["x~"]}"#;
    let f = |pairs: &[(&str, &str)], jwt, plain| Forgery {
        form: form(pairs),
        jwt,
        plain,
    };
    const MISSING: &str = "`state` is missing";
    const WRONG: &str = "`state` does not match";
    vec![
        f(&[], MISSING, MISSING),
        f(&[("state", "guess")], WRONG, WRONG),
        f(&[("vp_token", vp)], MISSING, MISSING),
        f(
            &[("vp_token", "not json"), ("state", "guess")],
            WRONG,
            WRONG,
        ),
        f(&[("error", "access_denied")], MISSING, MISSING),
        f(&[("error", "access_denied"), ("state", "")], WRONG, WRONG),
        f(&[("response", "a.b.c.d.e")], "not a compact JWE", MISSING),
        f(&[("response", &to_own)], "`kid`", MISSING),
        f(&[("response", &to_own_no_kid)], "does not decrypt", MISSING),
        f(
            &[("response", &to_own_no_kid), ("state", "guess")],
            "does not decrypt",
            WRONG,
        ),
    ]
}

const MODES: [&str; 2] = ["direct_post.jwt", "direct_post"];

/// The outsider knows the QR only: they post every forgery to every
/// response URI the QR lets them derive, and fetch the request URI again;
/// the transaction stays pending and the wallet's answer verifies.
#[test]
fn whoever_sees_the_qr_cannot_fail_the_request() {
    for mode in MODES {
        let s = scene(mode);
        let request_id = s.request_uri.rsplit('/').next().unwrap();
        let derived = [
            s.server.url(&format!("/oid4vp/responses/{request_id}")),
            s.request_uri.clone(),
        ];
        for uri in &derived {
            for f in forgeries() {
                let (code, body) = post_form(uri, &f.form);
                assert_eq!(code, 400, "{mode} {uri} {:?}: {body}", f.form);
                s.assert_pending(&format!("{mode}: {:?} to {uri}", f.form));
            }
        }
        let resp = agent().get(&s.request_uri).call().unwrap();
        assert_eq!(resp.status(), 400, "the request object is single use");
        s.assert_pending("a second fetch");
        s.wallet_answers();
    }
}

/// Even at the real response URI, an answer without this request's `state`
/// or key is refused (400 `invalid_request` naming why) and changes
/// nothing (OpenID4VP 1.0 §14.3.2: the Response URI checks `state`).
#[test]
fn an_answer_that_does_not_prove_knowledge_of_the_request_changes_nothing() {
    for mode in MODES {
        let s = scene(mode);
        let uri = s.ro["response_uri"].as_str().unwrap();
        for f in forgeries() {
            let needle = if mode == "direct_post" {
                f.plain
            } else {
                f.jwt
            };
            let (code, body) = post_form(uri, &f.form);
            assert_eq!(code, 400, "{mode} {:?}: {body}", f.form);
            assert_eq!(body["error"], "invalid_request");
            let d = body["error_description"].as_str().unwrap();
            assert!(d.contains(needle), "{mode} {:?}: {d:?}", f.form);
            s.assert_pending(&format!("{mode}: {:?}", f.form));
        }
        s.wallet_answers();
    }
}

#[test]
fn the_response_uri_has_its_own_unguessable_id() {
    let s = scene("direct_post.jwt");
    let response_uri = s.ro["response_uri"].as_str().unwrap();
    let response_id = response_uri
        .strip_prefix(&s.server.url("/oid4vp/responses/"))
        .unwrap();
    let request_id = s.request_uri.rsplit('/').next().unwrap();
    assert_ne!(response_id, request_id);
    assert_ne!(response_id, s.id);
    assert!(b64url_decode(response_id).unwrap().len() >= 16);
    assert!(!s.authorization_request.contains(response_id));
    let (_, other) = fetch_request_object(
        create(&s.server, json!({"preset": "age_over_18"}))["request_uri"]
            .as_str()
            .unwrap(),
    );
    assert_ne!(other["response_uri"], s.ro["response_uri"]);
    s.wallet_answers();
}

/// A plain answer with the request's `state` proves its sender holds the
/// request object, so its other faults end the transaction as before.
#[test]
fn a_plain_answer_with_the_state_but_a_bad_vp_token_fails_the_request() {
    let s = scene("direct_post");
    let state = s.ro["state"].as_str().unwrap();
    let (code, body) = post_form(
        s.ro["response_uri"].as_str().unwrap(),
        &form(&[("vp_token", "not json"), ("state", state)]),
    );
    assert_eq!(code, 400, "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("vp_token")
    );
    assert_eq!(status(&s.server, &s.id)["status"], "failed");
}

/// A JWE that decrypts with the request's key proves knowledge of the
/// request object; a wrong `state` inside it fails the transaction.
#[test]
fn a_decryptable_answer_with_a_wrong_state_fails_the_request() {
    let s = scene("direct_post.jwt");
    let p = present(&s.cred, AGE, &s.holder, &s.ro, T0);
    let (code, body) = answer_with_state(&s.ro, json!({"credential": [p]}), "guess");
    assert_eq!(code, 400, "{body}");
    let d = body["error_description"].as_str().unwrap();
    assert!(d.contains("state"), "{d}");
    let st = status(&s.server, &s.id);
    assert_eq!(st["status"], "failed");
    assert_eq!(st["error"]["description"], d);
}

#[test]
fn a_deleted_request_forgets_its_response_uri() {
    let s = scene("direct_post");
    let resp = agent()
        .delete(&s.server.url(&format!("/verifier/requests/{}", s.id)))
        .header("Authorization", &s.server.bearer())
        .call()
        .unwrap();
    assert_eq!(resp.status(), 204);
    let p = present(&s.cred, AGE, &s.holder, &s.ro, T0);
    let (code, body) = answer(&s.ro, json!({"credential": [p]}));
    assert_eq!(code, 400, "{body}");
    assert_eq!(body["error"], "invalid_request");
}
