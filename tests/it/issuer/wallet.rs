//! A small wallet: offers, tokens, nonces, key proofs, credential requests,
//! and verification of what comes back against `/.well-known/jwt-vc-issuer`.

use digital_id::crypto::jwk::Jwks;
use digital_id::crypto::{Algorithm, SigningKey, jws};
use digital_id::sdjwt::{self, Verified, VerifyPolicy};
use serde_json::{Map, Value, json};

use crate::fixture::{InProc, agent};

pub const PRE_AUTH: &str = "urn:ietf:params:oauth:grant-type:pre-authorized_code";

/// A response's status and JSON body (`Null` when there is none).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub headers: ureq::http::HeaderMap,
}

impl Reply {
    pub fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or("")
    }
}

pub fn reply(r: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Reply {
    let mut r = r.expect("request failed");
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.body_mut().read_to_string().unwrap_or_default();
    Reply {
        status,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
        headers,
    }
}

/// A back-office `GET` (with the API key).
pub fn get_authorized(server: &InProc, path: &str) -> Reply {
    reply(
        agent()
            .get(&server.url(path))
            .header("Authorization", &server.bearer())
            .call(),
    )
}

pub fn get(server: &InProc, path: &str) -> Reply {
    reply(agent().get(&server.url(path)).call())
}

pub fn post_form(server: &InProc, path: &str, form: &[(&str, &str)]) -> Reply {
    reply(
        agent()
            .post(&server.url(path))
            .send_form(form.iter().copied()),
    )
}

pub fn post_json(server: &InProc, path: &str, auth: Option<&str>, body: &Value) -> Reply {
    let mut req = agent().post(&server.url(path));
    if let Some(a) = auth {
        req = req.header("Authorization", a);
    }
    reply(req.send_json(body))
}

/// `POST /issuer/offers` as the back-office.
pub fn offer(server: &InProc, subject: &str, ids: &[&str], tx_code: bool) -> Value {
    let r = post_json(
        server,
        "/issuer/offers",
        Some(&server.bearer()),
        &json!({"subject_id": subject, "credential_configuration_ids": ids, "tx_code": tx_code}),
    );
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body
}

pub fn pre_authorized_code(offer: &Value) -> String {
    offer["credential_offer"]["grants"][PRE_AUTH]["pre-authorized_code"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Redeems an offer's code (with its tx_code when it has one).
pub fn token_for(server: &InProc, offer: &Value) -> Reply {
    let code = pre_authorized_code(offer);
    let mut form = vec![("grant_type", PRE_AUTH), ("pre-authorized_code", &code)];
    if let Some(tx) = offer["tx_code"].as_str() {
        form.push(("tx_code", tx));
    }
    post_form(server, "/token", &form)
}

pub fn access_token(server: &InProc, offer: &Value) -> String {
    let r = token_for(server, offer);
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["access_token"].as_str().unwrap().to_owned()
}

pub fn nonce(server: &InProc) -> String {
    let r = post_json(server, "/nonce", None, &Value::Null);
    assert_eq!(r.status, 200);
    r.body["c_nonce"].as_str().unwrap().to_owned()
}

pub fn key() -> SigningKey {
    SigningKey::generate(Algorithm::Es256).unwrap()
}

/// A key proof JWT; `header` and `claims` override the defaults.
pub fn proof_with(key: &SigningKey, header: Value, claims: Value) -> String {
    let mut h: Map<String, Value> = json!({
        "typ": "openid4vci-proof+jwt",
        "jwk": Value::Object(key.public().jwk().clone()),
    })
    .as_object()
    .unwrap()
    .clone();
    for (k, v) in header.as_object().unwrap() {
        if v.is_null() {
            h.remove(k);
        } else {
            h.insert(k.clone(), v.clone());
        }
    }
    let mut c = Map::new();
    for (k, v) in claims.as_object().unwrap() {
        if !v.is_null() {
            c.insert(k.clone(), v.clone());
        }
    }
    jws::sign(key, &h, Value::Object(c).to_string().as_bytes()).unwrap()
}

pub fn proof(server: &InProc, key: &SigningKey, nonce: &str) -> String {
    let now = server.clock_now();
    proof_with(
        key,
        json!({}),
        json!({"aud": server.base, "iat": now, "nonce": nonce}),
    )
}

/// `POST /credential` with a bearer token.
pub fn credential(server: &InProc, token: &str, body: &Value) -> Reply {
    post_json(
        server,
        "/credential",
        Some(&format!("Bearer {token}")),
        body,
    )
}

/// The whole pre-authorized flow for one configuration with one key.
pub fn issue_one(server: &InProc, subject: &str, cfg: &str, holder: &SigningKey) -> Reply {
    let o = offer(server, subject, &[cfg], true);
    let token = access_token(server, &o);
    let n = nonce(server);
    credential(
        server,
        &token,
        &json!({"credential_configuration_id": cfg, "proofs": {"jwt": [proof(server, holder, &n)]}}),
    )
}

/// The issuer's published keys.
pub fn issuer_keys(server: &InProc) -> Jwks {
    let meta = get(server, "/.well-known/jwt-vc-issuer");
    assert_eq!(meta.body["issuer"], server.base.as_str());
    Jwks::from_json(&meta.body["jwks"]).unwrap()
}

/// Verifies an issued credential as a verifier would.
pub fn verify(server: &InProc, credential: &str) -> Verified {
    let keys = issuer_keys(server);
    sdjwt::verify(
        credential,
        &keys,
        &VerifyPolicy::sd_jwt_vc(server.clock_now()),
    )
    .unwrap_or_else(|e| panic!("the issued credential does not verify: {e}"))
}

pub trait ClockNow {
    fn clock_now(&self) -> i64;
}

impl ClockNow for InProc {
    fn clock_now(&self) -> i64 {
        use digital_id::clock::Clock;
        self.clock.now()
    }
}
