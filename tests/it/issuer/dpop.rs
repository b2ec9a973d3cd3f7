//! DPoP (RFC 9449) at the token, credential and notification endpoints:
//! the wallet binds its access token to a key and proves possession of it
//! with every use.

use digital_id::crypto::{SigningKey, b64url, jws, random_token, sha256};
use serde_json::{Map, Value, json};

use super::wallet::{self, Reply};
use crate::fixture::{InProc, agent};

/// A DPoP proof by `key` for `POST <path>` at the server, with `ath` for
/// `token` and `nonce`; members of `over` replace the claims' (`null`
/// removes one).
pub fn proof_with(
    server: &InProc,
    key: &SigningKey,
    path: &str,
    token: Option<&str>,
    nonce: Option<&str>,
    over: Value,
) -> String {
    let mut c = json!({
        "htm": "POST",
        "htu": server.url(path),
        "iat": wallet::ClockNow::clock_now(server),
        "jti": random_token(),
    });
    let m = c.as_object_mut().unwrap();
    if let Some(t) = token {
        m.insert("ath".into(), b64url(sha256(t)).into());
    }
    if let Some(n) = nonce {
        m.insert("nonce".into(), n.into());
    }
    for (k, v) in over.as_object().unwrap() {
        if v.is_null() {
            m.remove(k);
        } else {
            m.insert(k.clone(), v.clone());
        }
    }
    let mut h = Map::new();
    h.insert("typ".into(), "dpop+jwt".into());
    h.insert("jwk".into(), Value::Object(key.public().jwk().clone()));
    jws::sign(key, &h, c.to_string().as_bytes()).unwrap()
}

pub fn proof(server: &InProc, key: &SigningKey, path: &str, token: Option<&str>) -> String {
    proof_with(server, key, path, token, None, json!({}))
}

/// `POST /token` redeeming `offer`'s code, with a `DPoP` header if given.
pub fn token(server: &InProc, offer: &Value, dpop: Option<&str>) -> Reply {
    let code = wallet::pre_authorized_code(offer);
    let mut form = vec![
        ("grant_type", wallet::PRE_AUTH),
        ("pre-authorized_code", &code),
    ];
    if let Some(tx) = offer["tx_code"].as_str() {
        form.push(("tx_code", tx));
    }
    let mut req = agent().post(&server.url("/token"));
    if let Some(p) = dpop {
        req = req.header("DPoP", p);
    }
    wallet::reply(req.send_form(form.iter().copied()))
}

/// `POST <path>` with `Authorization: <authorization>` and a `DPoP` header
/// if given.
pub fn post(
    server: &InProc,
    path: &str,
    authorization: &str,
    dpop: Option<&str>,
    body: &Value,
) -> Reply {
    let mut req = agent()
        .post(&server.url(path))
        .header("Authorization", authorization);
    if let Some(p) = dpop {
        req = req.header("DPoP", p);
    }
    wallet::reply(req.send_json(body))
}

/// A Credential Request for a passport with one key proof by `holder`.
fn passport_request(server: &InProc, holder: &SigningKey) -> Value {
    let n = wallet::nonce(server);
    json!({"credential_configuration_id": "ru.passport",
           "proofs": {"jwt": [wallet::proof(server, holder, &n)]}})
}

/// A DPoP-bound access token for a fresh passport offer (outside HAIP).
fn bound_token(server: &InProc, key: &SigningKey) -> String {
    let o = wallet::offer(server, "ivanov-ivan", &["ru.passport"], true);
    let t = token(server, &o, Some(&proof(server, key, "/token", None)));
    assert_eq!(t.status, 200, "{:?}", t.body);
    assert_eq!(t.body["token_type"], "DPoP");
    t.body["access_token"].as_str().unwrap().to_owned()
}

/// A `--profile haip` server and an attested wallet (client attestation
/// is required there too).
fn haip() -> (InProc, super::client_attestation::Wallet) {
    super::client_attestation::haip()
}

/// [`token`] with the wallet's attestation headers.
fn attested_token(
    server: &InProc,
    w: &super::client_attestation::Wallet,
    offer: &Value,
    dpop: Option<&str>,
) -> Reply {
    super::client_attestation::token(server, offer, dpop, &w.headers(server))
}

pub fn header<'a>(r: &'a Reply, name: &str) -> &'a str {
    r.headers
        .get(name)
        .map(|v| v.to_str().unwrap())
        .unwrap_or("")
}

#[track_caller]
pub fn refused(r: &Reply, status: u16, error: &str, description: &str) {
    assert_eq!((r.status, r.error()), (status, error), "{:?}", r.body);
    let d = r.body["error_description"].as_str().unwrap();
    assert!(d.contains(description), "{d:?} lacks {description:?}");
}

#[test]
fn dpop_pre_authorized_flow_issues_with_a_bound_token() {
    let server = InProc::start();
    let meta = wallet::get(&server, "/.well-known/oauth-authorization-server").body;
    assert_eq!(
        meta["dpop_signing_alg_values_supported"],
        json!(["ES256", "EdDSA"])
    );
    let (dpop_key, holder) = (wallet::key(), wallet::key());
    let token = bound_token(&server, &dpop_key);
    let body = passport_request(&server, &holder);
    let p = proof(&server, &dpop_key, "/credential", Some(&token));
    let r = post(
        &server,
        "/credential",
        &format!("DPoP {token}"),
        Some(&p),
        &body,
    );
    assert_eq!(r.status, 200, "{:?}", r.body);
    let credential = r.body["credentials"][0]["credential"].as_str().unwrap();
    wallet::verify(&server, credential);
    // The notification endpoint takes the bound token the same way.
    let n = json!({"notification_id": r.body["notification_id"], "event": "credential_accepted"});
    let p = proof(&server, &dpop_key, "/notification", Some(&token));
    let r = post(
        &server,
        "/notification",
        &format!("DPoP {token}"),
        Some(&p),
        &n,
    );
    assert_eq!(r.status, 204, "{:?}", r.body);
    // ... and not as a bearer token.
    let r = post(
        &server,
        "/notification",
        &format!("Bearer {token}"),
        None,
        &n,
    );
    refused(&r, 401, "invalid_token", "bound to a DPoP key");
}

#[test]
fn haip_token_request_without_a_dpop_proof_is_invalid_dpop_proof() {
    let (server, w) = haip();
    let meta = wallet::get(&server, "/.well-known/oauth-authorization-server").body;
    assert_eq!(meta["dpop_signing_alg_values_supported"], json!(["ES256"]));
    let o = wallet::offer(&server, "ivanov-ivan", &["ru.passport"], false);
    let r = attested_token(&server, &w, &o, None);
    refused(&r, 400, "invalid_dpop_proof", "a DPoP proof is required");
    // The code was not used up.
    let n = wallet::post_json(&server, "/nonce", None, &Value::Null);
    let nonce = header(&n, "dpop-nonce");
    let p = proof_with(
        &server,
        &wallet::key(),
        "/token",
        None,
        Some(nonce),
        json!({}),
    );
    assert_eq!(attested_token(&server, &w, &o, Some(&p)).status, 200);
}

#[test]
fn a_replayed_dpop_proof_is_refused() {
    let server = InProc::start();
    let key = wallet::key();
    let p = proof(&server, &key, "/token", None);
    let first = wallet::offer(&server, "ivanov-ivan", &["ru.passport"], false);
    assert_eq!(token(&server, &first, Some(&p)).status, 200);
    let second = wallet::offer(&server, "ivanov-ivan", &["ru.passport"], false);
    let r = token(&server, &second, Some(&p));
    refused(&r, 400, "invalid_dpop_proof", "used before (same `jti`)");
    // A fresh proof by the same key is fine.
    let r = token(
        &server,
        &second,
        Some(&proof(&server, &key, "/token", None)),
    );
    assert_eq!(r.status, 200, "{:?}", r.body);
}

#[test]
fn a_proof_for_another_htu_is_refused() {
    let server = InProc::start();
    let o = wallet::offer(&server, "ivanov-ivan", &["ru.passport"], false);
    let p = proof(&server, &wallet::key(), "/credential", None);
    let r = token(&server, &o, Some(&p));
    refused(&r, 400, "invalid_dpop_proof", "`htu` is not this endpoint");
    // The Host the request came to is not the public URL.
    let p = proof_with(
        &server,
        &wallet::key(),
        "/token",
        None,
        None,
        json!({"htu": "https://elsewhere.example/token"}),
    );
    let r = token(&server, &o, Some(&p));
    refused(&r, 400, "invalid_dpop_proof", "`htu` is not this endpoint");
}

#[test]
fn a_proof_for_another_htm_is_refused() {
    let server = InProc::start();
    let o = wallet::offer(&server, "ivanov-ivan", &["ru.passport"], false);
    let p = proof_with(
        &server,
        &wallet::key(),
        "/token",
        None,
        None,
        json!({"htm": "GET"}),
    );
    let r = token(&server, &o, Some(&p));
    refused(&r, 400, "invalid_dpop_proof", "`htm` is not this request");
}

#[test]
fn a_bound_token_without_its_proof_is_refused() {
    let server = InProc::start();
    let key = wallet::key();
    let token = bound_token(&server, &key);
    let body = passport_request(&server, &wallet::key());
    // As a bearer token.
    let r = wallet::credential(&server, &token, &body);
    refused(&r, 401, "invalid_token", "bound to a DPoP key");
    assert_eq!(
        header(&r, "www-authenticate"),
        "DPoP error=\"invalid_token\", error_description=\"this access token is bound to a DPoP key: send it as `Authorization: DPoP <token>` with a DPoP proof\", algs=\"ES256 EdDSA\""
    );
    // Under the DPoP scheme, but with no proof.
    let r = post(
        &server,
        "/credential",
        &format!("DPoP {token}"),
        None,
        &body,
    );
    refused(&r, 401, "invalid_dpop_proof", "a DPoP proof is required");
    assert!(header(&r, "www-authenticate").starts_with("DPoP error=\"invalid_dpop_proof\""));
    // A bearer token is not accepted under the DPoP scheme either.
    let o = wallet::offer(&server, "ivanov-ivan", &["ru.passport"], false);
    let bearer = wallet::access_token(&server, &o);
    let p = proof(&server, &key, "/credential", Some(&bearer));
    let r = post(
        &server,
        "/credential",
        &format!("DPoP {bearer}"),
        Some(&p),
        &body,
    );
    refused(&r, 401, "invalid_token", "not DPoP-bound");
}

#[test]
fn a_proof_by_another_key_than_cnf_jkt_is_refused() {
    let server = InProc::start();
    let token = bound_token(&server, &wallet::key());
    let body = passport_request(&server, &wallet::key());
    let p = proof(&server, &wallet::key(), "/credential", Some(&token));
    let r = post(
        &server,
        "/credential",
        &format!("DPoP {token}"),
        Some(&p),
        &body,
    );
    refused(&r, 401, "invalid_dpop_proof", "signed by another key");
}

#[test]
fn a_proof_with_a_wrong_ath_is_refused() {
    let server = InProc::start();
    let key = wallet::key();
    let token = bound_token(&server, &key);
    let body = passport_request(&server, &wallet::key());
    let p = proof(&server, &key, "/credential", Some("another-token"));
    let r = post(
        &server,
        "/credential",
        &format!("DPoP {token}"),
        Some(&p),
        &body,
    );
    refused(&r, 401, "invalid_dpop_proof", "`ath` is not the hash");
    let p = proof(&server, &key, "/credential", None);
    let r = post(
        &server,
        "/credential",
        &format!("DPoP {token}"),
        Some(&p),
        &body,
    );
    refused(&r, 401, "invalid_dpop_proof", "`ath` is missing");
}

#[test]
fn a_missing_or_stale_nonce_gets_use_dpop_nonce_and_the_retry_succeeds() {
    // HAIP: client attestation, and a key attestation with every proof.
    let (server, w) = haip();
    let key = wallet::key();
    let o = wallet::offer(&server, "ivanov-ivan", &["ru.passport"], false);
    // No nonce: the answer carries one.
    let r = attested_token(&server, &w, &o, Some(&proof(&server, &key, "/token", None)));
    refused(&r, 400, "use_dpop_nonce", "a DPoP nonce is required");
    let nonce = header(&r, "dpop-nonce").to_owned();
    assert!(!nonce.is_empty());
    // A stale one: the same.
    server.clock.advance(301);
    let stale = proof_with(&server, &key, "/token", None, Some(&nonce), json!({}));
    let r = attested_token(&server, &w, &o, Some(&stale));
    refused(&r, 400, "use_dpop_nonce", "unknown or expired");
    let nonce = header(&r, "dpop-nonce").to_owned();
    // The retry with the fresh nonce gets the token.
    let p = proof_with(&server, &key, "/token", None, Some(&nonce), json!({}));
    let t = attested_token(&server, &w, &o, Some(&p));
    assert_eq!(t.status, 200, "{:?}", t.body);
    assert_eq!(t.body["token_type"], "DPoP");
    let token = t.body["access_token"].as_str().unwrap();
    // At the credential endpoint: a 401 with the DPoP challenge.
    let holder = wallet::key();
    let n = wallet::nonce(&server);
    let attestation = super::key_attestation::high(&server, &w.provider, &[&holder], Some(&n));
    let body = json!({"credential_configuration_id": "ru.passport", "proofs": {"jwt": [
        super::key_attestation::attested_proof(&server, &holder, &n, &attestation)
    ]}});
    let p = proof(&server, &key, "/credential", Some(token));
    let r = post(
        &server,
        "/credential",
        &format!("DPoP {token}"),
        Some(&p),
        &body,
    );
    refused(&r, 401, "use_dpop_nonce", "a DPoP nonce is required");
    assert!(
        header(&r, "www-authenticate").starts_with("DPoP error=\"use_dpop_nonce\""),
        "{:?}",
        r.headers
    );
    assert!(header(&r, "www-authenticate").ends_with("algs=\"ES256\""));
    let nonce = header(&r, "dpop-nonce").to_owned();
    let p = proof_with(
        &server,
        &key,
        "/credential",
        Some(token),
        Some(&nonce),
        json!({}),
    );
    let r = post(
        &server,
        "/credential",
        &format!("DPoP {token}"),
        Some(&p),
        &body,
    );
    assert_eq!(r.status, 200, "{:?}", r.body);
}

#[test]
fn the_bearer_flow_is_unchanged_outside_haip() {
    let server = InProc::start();
    let r = wallet::post_json(&server, "/nonce", None, &Value::Null);
    assert!(!header(&r, "dpop-nonce").is_empty(), "{:?}", r.headers);
    let o = wallet::offer(&server, "ivanov-ivan", &["ru.passport"], true);
    let t = token(&server, &o, None);
    assert_eq!(t.status, 200, "{:?}", t.body);
    assert_eq!(t.body["token_type"], "Bearer");
    let token = t.body["access_token"].as_str().unwrap();
    let body = passport_request(&server, &wallet::key());
    let r = wallet::credential(&server, token, &body);
    assert_eq!(r.status, 200, "{:?}", r.body);
}

#[test]
fn the_authorization_code_grant_binds_its_token_too() {
    use super::authcode::{self, CLIENT, REDIRECT, VERIFIER};
    let server = InProc::start();
    let key = wallet::key();
    let code = authcode::code_for(&server, "ivanov-ivan", &[("scope", "ru.passport")]);
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
        ("client_id", CLIENT),
    ];
    let t = wallet::reply(
        agent()
            .post(&server.url("/token"))
            .header("DPoP", &proof(&server, &key, "/token", None))
            .send_form(form),
    );
    assert_eq!(t.status, 200, "{:?}", t.body);
    assert_eq!(t.body["token_type"], "DPoP");
    let token = t.body["access_token"].as_str().unwrap();
    let body = passport_request(&server, &wallet::key());
    let r = wallet::credential(&server, token, &body);
    refused(&r, 401, "invalid_token", "bound to a DPoP key");
    let p = proof(&server, &key, "/credential", Some(token));
    let r = post(
        &server,
        "/credential",
        &format!("DPoP {token}"),
        Some(&p),
        &body,
    );
    assert_eq!(r.status, 200, "{:?}", r.body);
}

/// The `jti` cache is the store's: a proof used at one node is refused at
/// another node of the deployment. Both check `htu` against the public URL
/// they share, not the address the request came to.
#[test]
fn a_dpop_proof_replayed_at_another_node_is_refused() {
    use digital_id::config::{PublicUrl, StoreSpec};
    let schema = crate::pg::Schema::new();
    let shared = tempfile::tempdir().unwrap();
    let public = "https://id.example.test";
    let node = || {
        let (url, dir) = (schema.store_url(), shared.path().to_owned());
        InProc::start_with(move |s| {
            s.store = StoreSpec::Postgres(url);
            s.data_dir = dir;
            s.public_url = PublicUrl::parse(public).unwrap();
        })
    };
    let (a, b) = (node(), node());
    let key = wallet::key();
    let htu = json!({"htu": format!("{public}/token")});
    let p = proof_with(&a, &key, "/token", None, None, htu.clone());
    let first = wallet::offer(&a, "ivanov-ivan", &["ru.passport"], false);
    let t = token(&a, &first, Some(&p));
    assert_eq!(t.status, 200, "{:?}", t.body);
    let second = wallet::offer(&b, "ivanov-ivan", &["ru.passport"], false);
    let r = token(&b, &second, Some(&p));
    refused(&r, 400, "invalid_dpop_proof", "used before (same `jti`)");
    // The node's own address is not the public URL.
    let r = token(&b, &second, Some(&proof(&b, &key, "/token", None)));
    refused(&r, 400, "invalid_dpop_proof", "`htu` is not this endpoint");
    let r = token(
        &b,
        &second,
        Some(&proof_with(&b, &key, "/token", None, None, htu)),
    );
    assert_eq!(r.status, 200, "{:?}", r.body);
}
