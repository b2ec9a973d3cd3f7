//! Every credential endpoint error (OpenID4VCI §8.3.1.2 and RFC 6750 §3.1),
//! each triggered by a request that breaks exactly one rule.

use digital_id::crypto::SigningKey;
use serde_json::{Value, json};

use super::wallet::{self, ClockNow, Reply, credential, key, nonce, proof, proof_with};
use crate::fixture::InProc;

struct Setup {
    server: InProc,
    token: String,
    nonce: String,
    holder: SigningKey,
}

fn setup() -> Setup {
    let server = InProc::start();
    let o = wallet::offer(&server, "ivanov-ivan", &["ru.passport"], true);
    let token = wallet::access_token(&server, &o);
    let nonce = nonce(&server);
    Setup {
        server,
        token,
        nonce,
        holder: key(),
    }
}

impl Setup {
    fn proof(&self) -> String {
        proof(&self.server, &self.holder, &self.nonce)
    }
    fn claims(&self) -> Value {
        json!({"aud": self.server.base, "iat": self.server.clock_now(), "nonce": self.nonce})
    }
    fn send(&self, body: Value) -> Reply {
        credential(&self.server, &self.token, &body)
    }
    fn with_proofs(&self, proofs: Vec<String>) -> Reply {
        self.send(json!({"credential_configuration_id": "ru.passport", "proofs": {"jwt": proofs}}))
    }
}

fn assert_error(r: &Reply, status: u16, code: &str) {
    assert_eq!((r.status, r.error()), (status, code), "{:?}", r.body);
    assert!(r.body["error_description"].is_string());
}

#[test]
fn the_good_request_works() {
    let s = setup();
    assert_eq!(s.with_proofs(vec![s.proof()]).status, 200);
}

#[test]
fn no_access_token_is_invalid_token_with_a_challenge() {
    let s = setup();
    let r = wallet::post_json(
        &s.server,
        "/credential",
        None,
        &json!({"credential_configuration_id": "ru.passport", "proofs": {"jwt": [s.proof()]}}),
    );
    assert_error(&r, 401, "invalid_token");
    assert!(
        r.headers
            .get("www-authenticate")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
}

#[test]
fn an_unknown_access_token_is_invalid_token() {
    let s = setup();
    let r = credential(
        &s.server,
        "not-a-token",
        &json!({"credential_configuration_id": "ru.passport", "proofs": {"jwt": [s.proof()]}}),
    );
    assert_error(&r, 401, "invalid_token");
    let challenge = r.headers.get("www-authenticate").unwrap().to_str().unwrap();
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
}

#[test]
fn an_expired_access_token_is_invalid_token() {
    let s = setup();
    s.server.clock.advance(601);
    let fresh = nonce(&s.server);
    let r = s.with_proofs(vec![proof(&s.server, &s.holder, &fresh)]);
    assert_error(&r, 401, "invalid_token");
}

#[test]
fn a_configuration_outside_the_grant_is_insufficient_scope() {
    let s = setup();
    let r =
        s.send(json!({"credential_configuration_id": "ru.snils", "proofs": {"jwt": [s.proof()]}}));
    assert_error(&r, 403, "insufficient_scope");
}

#[test]
fn a_body_that_is_not_json_is_invalid_credential_request() {
    let s = setup();
    let mut r = crate::fixture::agent()
        .post(&s.server.url("/credential"))
        .header("Authorization", &format!("Bearer {}", s.token))
        .header("Content-Type", "application/json")
        .send("{not json")
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.body_mut().read_json().unwrap();
    assert_eq!(body["error"], "invalid_credential_request");
}

#[test]
fn both_identifiers_is_invalid_credential_request() {
    let s = setup();
    let r = s.send(json!({
        "credential_configuration_id": "ru.passport",
        "credential_identifier": "x",
        "proofs": {"jwt": [s.proof()]},
    }));
    assert_error(&r, 400, "invalid_credential_request");
}

#[test]
fn neither_identifier_is_invalid_credential_request() {
    let s = setup();
    assert_error(
        &s.send(json!({"proofs": {"jwt": [s.proof()]}})),
        400,
        "invalid_credential_request",
    );
}

#[test]
fn the_old_singular_proof_is_invalid_credential_request() {
    let s = setup();
    let r = s.send(json!({
        "credential_configuration_id": "ru.passport",
        "proof": {"proof_type": "jwt", "jwt": s.proof()},
    }));
    assert_error(&r, 400, "invalid_credential_request");
}

#[test]
fn more_proofs_than_batch_size_is_invalid_credential_request() {
    let s = setup();
    let proofs: Vec<String> = (0..11)
        .map(|_| proof(&s.server, &key(), &s.nonce))
        .collect();
    assert_error(&s.with_proofs(proofs), 400, "invalid_credential_request");
}

#[test]
fn an_empty_proof_list_is_invalid_credential_request() {
    let s = setup();
    assert_error(&s.with_proofs(vec![]), 400, "invalid_credential_request");
}

#[test]
fn encryption_parameters_are_invalid_encryption_parameters() {
    let s = setup();
    let r = s.send(json!({
        "credential_configuration_id": "ru.passport",
        "proofs": {"jwt": [s.proof()]},
        "credential_response_encryption": {"jwk": {}, "enc": "A128GCM"},
    }));
    assert_error(&r, 400, "invalid_encryption_parameters");
}

#[test]
fn an_unknown_configuration_is_unknown_credential_configuration() {
    let s = setup();
    let r = s
        .send(json!({"credential_configuration_id": "ru.diploma", "proofs": {"jwt": [s.proof()]}}));
    assert_error(&r, 400, "unknown_credential_configuration");
}

#[test]
fn an_unknown_identifier_is_unknown_credential_identifier() {
    let s = setup();
    let r = s.send(json!({"credential_identifier": "no-such-id", "proofs": {"jwt": [s.proof()]}}));
    assert_error(&r, 400, "unknown_credential_identifier");
}

#[test]
fn missing_proofs_is_invalid_proof() {
    let s = setup();
    assert_error(
        &s.send(json!({"credential_configuration_id": "ru.passport"})),
        400,
        "invalid_proof",
    );
}

#[test]
fn an_unsupported_proof_type_is_invalid_proof() {
    let s = setup();
    let r = s.send(
        json!({"credential_configuration_id": "ru.passport", "proofs": {"attestation": ["x"]}}),
    );
    assert_error(&r, 400, "invalid_proof");
}

#[test]
fn a_wrong_typ_is_invalid_proof() {
    let s = setup();
    let p = proof_with(&s.holder, json!({"typ": "JWT"}), s.claims());
    assert_error(&s.with_proofs(vec![p]), 400, "invalid_proof");
}

#[test]
fn a_wrong_audience_is_invalid_proof() {
    let s = setup();
    let mut c = s.claims();
    c["aud"] = json!("https://other-issuer.example");
    assert_error(
        &s.with_proofs(vec![proof_with(&s.holder, json!({}), c)]),
        400,
        "invalid_proof",
    );
}

#[test]
fn a_stale_iat_is_invalid_proof() {
    let s = setup();
    let mut c = s.claims();
    c["iat"] = json!(s.server.clock_now() - 301);
    assert_error(
        &s.with_proofs(vec![proof_with(&s.holder, json!({}), c)]),
        400,
        "invalid_proof",
    );
}

#[test]
fn a_future_iat_is_invalid_proof() {
    let s = setup();
    let mut c = s.claims();
    c["iat"] = json!(s.server.clock_now() + 120);
    assert_error(
        &s.with_proofs(vec![proof_with(&s.holder, json!({}), c)]),
        400,
        "invalid_proof",
    );
}

#[test]
fn a_proof_without_nonce_is_invalid_proof() {
    let s = setup();
    let mut c = s.claims();
    c["nonce"] = Value::Null;
    assert_error(
        &s.with_proofs(vec![proof_with(&s.holder, json!({}), c)]),
        400,
        "invalid_proof",
    );
}

#[test]
fn a_private_key_in_the_header_is_invalid_proof() {
    let s = setup();
    let p = proof_with(
        &s.holder,
        json!({"jwk": s.holder.to_private_jwk()}),
        s.claims(),
    );
    assert_error(&s.with_proofs(vec![p]), 400, "invalid_proof");
}

#[test]
fn jwk_and_kid_together_is_invalid_proof() {
    let s = setup();
    let kid = digital_id::crypto::did_key::verification_method(s.holder.public());
    let p = proof_with(&s.holder, json!({"kid": kid}), s.claims());
    assert_error(&s.with_proofs(vec![p]), 400, "invalid_proof");
}

#[test]
fn a_did_key_kid_alone_is_accepted() {
    let s = setup();
    let kid = digital_id::crypto::did_key::verification_method(s.holder.public());
    let p = proof_with(&s.holder, json!({"kid": kid, "jwk": null}), s.claims());
    assert_eq!(s.with_proofs(vec![p]).status, 200);
}

#[test]
fn a_signature_by_another_key_is_invalid_proof() {
    let s = setup();
    let other = key();
    let p = proof_with(
        &other,
        json!({"jwk": Value::Object(s.holder.public().jwk().clone())}),
        s.claims(),
    );
    assert_error(&s.with_proofs(vec![p]), 400, "invalid_proof");
}

#[test]
fn the_same_key_twice_in_a_batch_is_invalid_proof() {
    let s = setup();
    assert_error(
        &s.with_proofs(vec![s.proof(), s.proof()]),
        400,
        "invalid_proof",
    );
}

#[test]
fn different_nonces_in_a_batch_is_invalid_proof() {
    let s = setup();
    let other = nonce(&s.server);
    let p2 = proof(&s.server, &key(), &other);
    assert_error(&s.with_proofs(vec![s.proof(), p2]), 400, "invalid_proof");
}

#[test]
fn an_unknown_nonce_is_invalid_nonce() {
    let s = setup();
    let p = proof(&s.server, &s.holder, "never-issued");
    assert_error(&s.with_proofs(vec![p]), 400, "invalid_nonce");
}

#[test]
fn a_used_nonce_is_invalid_nonce() {
    let s = setup();
    assert_eq!(s.with_proofs(vec![s.proof()]).status, 200);
    assert_error(&s.with_proofs(vec![s.proof()]), 400, "invalid_nonce");
}

#[test]
fn an_expired_nonce_is_invalid_nonce() {
    let s = setup();
    s.server.clock.advance(301);
    // The proof itself is fresh; only its nonce has expired.
    assert_error(&s.with_proofs(vec![s.proof()]), 400, "invalid_nonce");
}

#[test]
fn nonce_endpoint_answers_no_store_and_128_bit_nonces_with_their_expiry() {
    let s = setup();
    let r = wallet::post_json(&s.server, "/nonce", None, &Value::Null);
    assert_eq!(r.status, 200);
    assert_eq!(r.headers.get("cache-control").unwrap(), "no-store");
    let n = r.body["c_nonce"].as_str().unwrap();
    // Its expiry (8 bytes), 128 random bits, then a 22-character MAC.
    assert_eq!(n.len(), 32 + 22);
    let body = digital_id::crypto::b64url_decode(&n[..32]).unwrap();
    assert_eq!(
        i64::from_be_bytes(body[..8].try_into().unwrap()),
        s.server.clock_now() + 300
    );
    let other = wallet::post_json(&s.server, "/nonce", None, &Value::Null);
    let other = other.body["c_nonce"].as_str().unwrap();
    let random = |n: &str| digital_id::crypto::b64url_decode(&n[..32]).unwrap()[8..].to_vec();
    assert_ne!(random(n), random(other));
}

#[test]
fn haip_profile_accepts_es256_proofs_only() {
    use super::key_attestation::{attested_proof, high};
    use digital_id::crypto::Algorithm;
    // HAIP: client attestation, and a key attestation with every proof
    // (the same wallet provider).
    let (server, attested) = super::client_attestation::haip();
    let meta = wallet::get(&server, "/.well-known/openid-credential-issuer").body;
    assert_eq!(
        meta["credential_configurations_supported"]["ru.passport"]["proof_types_supported"]["jwt"]
            ["proof_signing_alg_values_supported"],
        json!(["ES256"])
    );
    let o = wallet::offer(&server, "ivanov-ivan", &["ru.passport"], false);
    // HAIP: the token is DPoP-bound, every proof with a server nonce.
    use super::dpop;
    let dpop_key = key();
    let dpop_nonce = |r: &wallet::Reply| r.headers["dpop-nonce"].to_str().unwrap().to_owned();
    let n = dpop_nonce(&wallet::post_json(&server, "/nonce", None, &Value::Null));
    let p = dpop::proof_with(&server, &dpop_key, "/token", None, Some(&n), json!({}));
    let headers = attested.headers(&server);
    let t = super::client_attestation::token(&server, &o, Some(&p), &headers);
    assert_eq!(t.status, 200, "{:?}", t.body);
    let token = t.body["access_token"].as_str().unwrap().to_owned();
    let send = |body: &Value| {
        let p = dpop::proof_with(
            &server,
            &dpop_key,
            "/credential",
            Some(&token),
            Some(&n),
            json!({}),
        );
        dpop::post(
            &server,
            "/credential",
            &format!("DPoP {token}"),
            Some(&p),
            body,
        )
    };
    let ed = SigningKey::generate(Algorithm::EdDsa).unwrap();
    let c = nonce(&server);
    let ka = high(&server, &attested.provider, &[&ed], Some(&c));
    let r = send(
        &json!({"credential_configuration_id": "ru.passport", "proofs": {"jwt": [attested_proof(&server, &ed, &c, &ka)]}}),
    );
    assert_eq!(
        (r.status, r.error()),
        (400, "invalid_proof"),
        "{:?}",
        r.body
    );
    assert!(
        r.body["error_description"]
            .as_str()
            .unwrap()
            .contains("`alg`"),
        "{:?}",
        r.body
    );
    // ES256 is fine.
    let c = nonce(&server);
    let holder = key();
    let ka = high(&server, &attested.provider, &[&holder], Some(&c));
    let r = send(
        &json!({"credential_configuration_id": "ru.passport", "proofs": {"jwt": [attested_proof(&server, &holder, &c, &ka)]}}),
    );
    assert_eq!(r.status, 200, "{:?}", r.body);
}

/// RFC 9864: a proof signed by an Ed25519 key may name its algorithm
/// `Ed25519` (fully specified, advertised) or `EdDSA` (still accepted).
#[test]
fn ed25519_proofs_under_either_name_are_accepted() {
    use digital_id::crypto::{Algorithm, b64url, jws};
    for alg in ["Ed25519", "EdDSA"] {
        let s = setup();
        let ed = SigningKey::generate(Algorithm::EdDsa).unwrap();
        let header = json!({"alg": alg, "typ": "openid4vci-proof+jwt",
            "jwk": Value::Object(ed.public().jwk().clone())});
        let jwt = jws::sign_encoded(
            &ed,
            &b64url(header.to_string()),
            &b64url(s.claims().to_string()),
        )
        .unwrap();
        let r = s.with_proofs(vec![jwt]);
        assert_eq!(r.status, 200, "{alg}: {:?}", r.body);
        let v = wallet::verify(
            &s.server,
            r.body["credentials"][0]["credential"].as_str().unwrap(),
        );
        assert_eq!(v.holder_key.unwrap().thumbprint(), ed.public().thumbprint());
    }
}
