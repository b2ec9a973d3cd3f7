//! Browser wallets and verifiers: the public documents and the wallet
//! endpoints answer any origin (no credentials) and their preflights; the
//! documents are cacheable for a stated lifetime; back-office endpoints send
//! no CORS header at all.

use serde_json::{Value, json};

use crate::fixture::{InProc, agent};
use crate::issuer::wallet;

const ORIGIN: &str = "https://wallet.example";

fn get(server: &InProc, path: &str) -> ureq::http::Response<ureq::Body> {
    agent()
        .get(&server.url(path))
        .header("Origin", ORIGIN)
        .call()
        .unwrap()
}

fn header<'a>(r: &'a ureq::http::Response<ureq::Body>, name: &str) -> Option<&'a str> {
    r.headers().get(name).and_then(|v| v.to_str().ok())
}

fn preflight(server: &InProc, path: &str, method: &str) -> ureq::http::Response<ureq::Body> {
    agent()
        .options(&server.url(path))
        .header("Origin", ORIGIN)
        .header("Access-Control-Request-Method", method)
        .header(
            "Access-Control-Request-Headers",
            "authorization, content-type",
        )
        .call()
        .unwrap()
}

/// The status list a freshly issued credential points at.
fn status_list_path(server: &InProc) -> String {
    let r = wallet::issue_one(server, "ivanov-ivan", "ru.inn", &wallet::key());
    assert_eq!(r.status, 200, "{:?}", r.body);
    let v = wallet::verify(
        server,
        r.body["credentials"][0]["credential"].as_str().unwrap(),
    );
    let uri = v.claims["status"]["status_list"]["uri"].as_str().unwrap();
    uri.strip_prefix(&server.base).unwrap().to_owned()
}

#[test]
fn public_documents_are_shared_and_cacheable() {
    let server = InProc::start();
    let status_list = status_list_path(&server);
    let ttl = server.state.settings.issuer.status_list_ttl;
    let cases = [
        (
            "/.well-known/openid-credential-issuer",
            "public, max-age=300".to_owned(),
        ),
        (
            "/.well-known/oauth-authorization-server",
            "public, max-age=300".to_owned(),
        ),
        (
            "/.well-known/jwt-vc-issuer",
            "public, max-age=300".to_owned(),
        ),
        (
            "/type-metadata/ru.passport",
            "public, max-age=86400".to_owned(),
        ),
        (status_list.as_str(), format!("public, max-age={ttl}")),
    ];
    for (path, cache) in &cases {
        let r = get(&server, path);
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(
            header(&r, "access-control-allow-origin"),
            Some("*"),
            "{path}"
        );
        assert_eq!(
            header(&r, "access-control-allow-credentials"),
            None,
            "{path}"
        );
        assert_eq!(header(&r, "cache-control"), Some(cache.as_str()), "{path}");

        let p = preflight(&server, path, "GET");
        assert_eq!(p.status(), 204, "{path}");
        assert_eq!(
            header(&p, "access-control-allow-origin"),
            Some("*"),
            "{path}"
        );
        assert_eq!(
            header(&p, "access-control-allow-methods"),
            Some("GET"),
            "{path}"
        );
        assert_eq!(
            header(&p, "access-control-allow-credentials"),
            None,
            "{path}"
        );
    }
    // A miss is shared (the browser can read the error) but never cached.
    let miss = get(&server, "/type-metadata/ru.no_such");
    assert_eq!(miss.status(), 404);
    assert_eq!(header(&miss, "access-control-allow-origin"), Some("*"));
    assert_eq!(header(&miss, "cache-control"), Some("no-store"));
}

#[test]
fn wallet_endpoints_are_shared_but_never_cached() {
    let server = InProc::start();
    for (path, method) in [
        ("/token", "POST"),
        ("/nonce", "POST"),
        ("/credential", "POST"),
        ("/notification", "POST"),
        ("/par", "POST"),
        ("/credential-offer/x", "GET"),
        ("/oid4vp/requests/x", "GET"),
        ("/oid4vp/responses/x", "POST"),
        ("/presentation-nonces", "POST"),
        ("/presentations", "POST"),
        // However the path is spelled.
        ("/t%6Fken", "POST"),
        ("/n%6Fnce", "POST"),
    ] {
        let p = preflight(&server, path, method);
        assert_eq!(p.status(), 204, "{path}");
        assert_eq!(
            header(&p, "access-control-allow-origin"),
            Some("*"),
            "{path}"
        );
        assert!(
            header(&p, "access-control-allow-methods")
                .unwrap()
                .contains(method),
            "{path}"
        );
        let allowed = header(&p, "access-control-allow-headers").unwrap();
        assert!(
            allowed.contains("Authorization") && allowed.contains("DPoP"),
            "{path}"
        );
    }
    // `/nonce` keeps `no-store` (OpenID4VCI 1.0 §7.2).
    let r = agent()
        .post(&server.url("/nonce"))
        .header("Origin", ORIGIN)
        .send_empty()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "cache-control"), Some("no-store"));
    assert_eq!(header(&r, "access-control-allow-origin"), Some("*"));
    // An error a browser wallet must read: the 401 and its challenge.
    let r = agent()
        .post(&server.url("/credential"))
        .header("Origin", ORIGIN)
        .send_json(json!({}))
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(header(&r, "access-control-allow-origin"), Some("*"));
    assert!(
        header(&r, "access-control-expose-headers")
            .unwrap()
            .contains("WWW-Authenticate")
    );
    assert!(header(&r, "www-authenticate").is_some());
}

#[test]
fn back_office_sends_no_cors_headers() {
    let server = InProc::start();
    let r = agent()
        .get(&server.url("/issuer/subjects"))
        .header("Origin", ORIGIN)
        .header("Authorization", &server.bearer())
        .call()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "access-control-allow-origin"), None);
    for (path, method) in [
        ("/issuer/offers", "POST"),
        ("/verifier/requests", "POST"),
        ("/verifier/scan", "POST"),
        ("/authorize/login", "POST"),
    ] {
        let p = preflight(&server, path, method);
        assert_ne!(p.status(), 204, "{path}");
        assert_eq!(header(&p, "access-control-allow-origin"), None, "{path}");
    }
    let body: Value = agent()
        .get(&server.url("/issuer/subjects"))
        .header("Authorization", &server.bearer())
        .call()
        .unwrap()
        .body_mut()
        .read_json()
        .unwrap();
    assert!(body.is_array());
}
