//! Issue #13 deliverable 5: the issuer signs with a certificate chain.
//! Credentials and status list tokens carry `x5c` (leaf first, never the
//! root) beside `kid`; the Credential Issuer Metadata is also served signed
//! (`Accept: application/jwt`, OpenID4VCI 1.0 §12.2.3) with the same chain.
//! In demo mode a demo issuer CA makes the chain; otherwise the operator's
//! `keys/issuer-chain.pem`; under `--profile haip` without one the server
//! does not start. Verifiers accept the credentials by chain.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use openssl::x509::X509;
use serde_json::{Map, Value, json};

use digital_id::app::StartError;
use digital_id::config::Profile;
use digital_id::crypto::jws::Jws;
use digital_id::crypto::x509::Anchors;
use digital_id::crypto::x509::certify::to_pkey;
use digital_id::crypto::{PublicKey, SigningKey};
use digital_id::issuer::certificate::CertificateError;
use digital_id::keystore::KeySet;

use super::wallet::{self, issue_one};
use crate::certs::{Validity, issued, issued_to, key};
use crate::fixture::{InProc, Mode, T0, agent};
use crate::verifier::{answer, holder_qr, present, scan, start, status, wallet_key};

const DAY: i64 = 86_400;
const AGE: &[&[&str]] = &[&["age_equal_or_over", "18"]];

/// A passport issued through OpenID4VCI for a fresh holder key.
fn issued_passport(server: &InProc) -> (String, SigningKey) {
    let holder = wallet_key();
    let r = issue_one(server, "ivanov-ivan", "ru.passport", &holder);
    assert_eq!(r.status, 200, "{:?}", r.body);
    let credential = r.body["credentials"][0]["credential"]
        .as_str()
        .unwrap()
        .to_owned();
    (credential, holder)
}

/// The header of a compact JWS (or of an SD-JWT's issuer-signed JWT).
fn header(token: &str) -> Map<String, Value> {
    Jws::decode(token.split('~').next().unwrap())
        .unwrap()
        .header
}

fn certificates(x5c: &Value) -> Vec<X509> {
    x5c.as_array()
        .unwrap()
        .iter()
        .map(|c| X509::from_der(&STANDARD.decode(c.as_str().unwrap()).unwrap()).unwrap())
        .collect()
}

fn demo_ca(server: &InProc) -> X509 {
    let path = server.state.settings.data_dir.join("keys/issuer-ca.pem");
    X509::from_pem(&std::fs::read(path).unwrap()).unwrap()
}

/// The key of the leaf of `x5c`, once the chain validates to `anchor`.
fn leaf_key(x5c: &Value, anchor: &X509, now: i64) -> PublicKey {
    Anchors::from_certs(vec![anchor.clone()])
        .unwrap()
        .validate(x5c, now)
        .unwrap_or_else(|e| panic!("x5c does not validate to the anchor: {e}"))
        .leaf_key()
        .clone()
}

/// `GET /.well-known/openid-credential-issuer` with `accept`.
fn metadata(server: &InProc, accept: Option<&str>) -> (u16, String, String, String) {
    let mut req = agent().get(&server.url("/.well-known/openid-credential-issuer"));
    if let Some(a) = accept {
        req = req.header("Accept", a);
    }
    let mut r = req.call().unwrap();
    let h = |name: &str| {
        r.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    let (content_type, vary) = (h("content-type"), h("vary"));
    let status = r.status().as_u16();
    (
        status,
        content_type,
        vary,
        r.body_mut().read_to_string().unwrap(),
    )
}

#[test]
fn demo_credentials_and_status_lists_carry_the_chain_to_the_demo_issuer_ca() {
    let server = InProc::start();
    let now = server.state.now();
    let es256 = server.state.keys.issuer_es256.public().clone();
    let (credential, _) = issued_passport(&server);
    let h = header(&credential);
    assert_eq!(h["typ"], "dc+sd-jwt");
    assert_eq!(h["alg"], "ES256");
    assert_eq!(h["kid"], es256.thumbprint(), "kid stays");
    let ca = demo_ca(&server);
    assert_eq!(leaf_key(&h["x5c"], &ca, now), es256);
    // Leaf only: the trust anchor is never sent (HAIP 1.0 §6.1.1).
    let certs = certificates(&h["x5c"]);
    assert_eq!(certs.len(), 1);
    assert_ne!(certs[0].to_der().unwrap(), ca.to_der().unwrap());
    // It still verifies with the keys of `/.well-known/jwt-vc-issuer`.
    wallet::verify(&server, &credential);

    // The status list token names the same chain and verifies with its leaf.
    let payload = Jws::decode(credential.split('~').next().unwrap())
        .unwrap()
        .payload_json()
        .unwrap();
    let uri = payload["status"]["status_list"]["uri"].as_str().unwrap();
    let mut r = agent().get(uri).call().unwrap();
    assert_eq!(r.status(), 200);
    let token = r.body_mut().read_to_string().unwrap();
    let jws = Jws::decode(&token).unwrap();
    assert_eq!(jws.typ(), Some("statuslist+jwt"));
    assert_eq!(jws.kid(), Some(es256.thumbprint()));
    assert_eq!(jws.header["x5c"], h["x5c"]);
    jws.verify(&leaf_key(&jws.header["x5c"], &ca, now)).unwrap();
}

#[test]
fn signed_metadata_verifies_with_the_x5c_leaf_and_says_what_the_json_says() {
    let server = InProc::start();
    let now = server.state.now();
    let (status, content_type, vary, body) = metadata(&server, None);
    assert_eq!((status, content_type.as_str()), (200, "application/json"));
    assert_eq!(vary, "Accept");
    let json: Map<String, Value> = serde_json::from_str(&body).unwrap();
    assert!(!json.contains_key("signed_metadata"));
    assert_eq!(
        metadata(&server, Some("application/json")).3,
        body,
        "JSON when asked for JSON"
    );

    let (status, content_type, vary, jwt) =
        metadata(&server, Some("application/jwt, application/json"));
    assert_eq!((status, content_type.as_str()), (200, "application/jwt"));
    assert_eq!(vary, "Accept");
    let jws = Jws::decode(&jwt).unwrap();
    assert_eq!(jws.typ(), Some("openidvci-issuer-metadata+jwt"));
    assert_eq!(jws.alg(), Some("ES256"));
    let leaf = leaf_key(&jws.header["x5c"], &demo_ca(&server), now);
    assert_eq!(&leaf, server.state.keys.issuer_es256.public());
    jws.verify(&leaf).unwrap();
    let mut claims = jws.payload_json().unwrap();
    assert_eq!(claims.remove("iss").unwrap(), server.base.as_str());
    assert_eq!(claims.remove("sub").unwrap(), server.base.as_str());
    assert_eq!(claims.remove("iat").unwrap(), now);
    assert_eq!(claims, json, "the same parameters and values as the JSON");
    // Served again without signing again.
    server.clock.advance(60);
    assert_eq!(metadata(&server, Some("application/jwt")).3, jwt);
}

/// An operator's root, intermediate and issuer leaf for the ES256 key of
/// `data_dir` (generated there first), valid around the servers' clock.
fn operator_chain(data_dir: &Path) -> (X509, X509, X509) {
    let es256 = KeySet::load_or_generate(data_dir).unwrap().issuer_es256;
    let valid = Validity {
        ca: true,
        not_before: T0 - 30 * DAY,
        not_after: T0 + 365 * DAY,
    };
    let root_key = key();
    let root = issued("Operator Root CA", &root_key, None, valid);
    let inter_key = key();
    let inter = issued(
        "Operator Issuing CA",
        &inter_key,
        Some((&root, &root_key)),
        valid,
    );
    let leaf = issued_to(
        "Digital ID issuer",
        &to_pkey(&es256).unwrap(),
        (&inter, &inter_key),
        Validity { ca: false, ..valid },
    );
    (root, inter, leaf)
}

fn write_chain(data_dir: &Path, certs: &[&X509]) {
    let pem: Vec<u8> = certs.iter().flat_map(|c| c.to_pem().unwrap()).collect();
    std::fs::write(data_dir.join("keys/issuer-chain.pem"), pem).unwrap();
}

#[test]
fn a_production_server_signs_with_the_operators_chain_without_its_root() {
    let data = tempfile::tempdir().unwrap();
    let (root, inter, leaf) = operator_chain(data.path());
    write_chain(data.path(), &[&leaf, &inter, &root]);
    let dir = data.path().to_owned();
    let server = InProc::start_mode(Mode::PRODUCTION, |s| s.data_dir = dir);
    let (credential, _) = issued_passport(&server);
    let x5c = header(&credential)["x5c"].clone();
    let sent: Vec<Vec<u8>> = certificates(&x5c)
        .iter()
        .map(|c| c.to_der().unwrap())
        .collect();
    assert_eq!(sent, [leaf.to_der().unwrap(), inter.to_der().unwrap()]);
    assert_eq!(
        &leaf_key(&x5c, &root, server.state.now()),
        server.state.keys.issuer_es256.public()
    );
    let (_, content_type, _, jwt) = metadata(&server, Some("application/jwt"));
    assert_eq!(content_type, "application/jwt");
    assert_eq!(Jws::decode(&jwt).unwrap().header["x5c"], x5c);
    // No demo CA is made.
    assert!(!data.path().join("keys/issuer-ca.pem").exists());
}

#[test]
fn without_a_chain_credentials_carry_kid_only_and_metadata_is_json_only() {
    let server = InProc::start_mode(Mode::PRODUCTION, |_| {});
    let (credential, _) = issued_passport(&server);
    let h = header(&credential);
    assert!(h.contains_key("kid"));
    assert!(!h.contains_key("x5c"), "{h:?}");
    let (status, content_type, _, _) = metadata(&server, Some("application/jwt"));
    assert_eq!((status, content_type.as_str()), (200, "application/json"));
}

#[test]
fn a_chain_for_another_key_stops_the_start() {
    let data = tempfile::tempdir().unwrap();
    let (_, inter, _) = operator_chain(data.path());
    let other = tempfile::tempdir().unwrap();
    let (_, _, stranger) = operator_chain(other.path());
    write_chain(data.path(), &[&stranger, &inter]);
    let dir = data.path().to_owned();
    let err = InProc::try_start_mode(Mode::PRODUCTION, |s| s.data_dir = dir)
        .err()
        .expect("the server started with a chain for another key");
    assert!(
        matches!(
            err,
            StartError::IssuerCertificates(CertificateError::WrongKey { .. })
        ),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains("issuer-chain.pem") && text.contains("issuer-es256.jwk"),
        "{text}"
    );
}

#[test]
fn haip_without_a_chain_refuses_to_start_saying_where_to_put_it() {
    let err = InProc::try_start_mode(Mode::PRODUCTION, |s| s.profile = Profile::Haip)
        .err()
        .expect("a HAIP server started without an issuer certificate chain");
    assert!(
        matches!(
            err,
            StartError::IssuerCertificates(CertificateError::Missing { .. })
        ),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains("keys/issuer-chain.pem") && text.contains("--demo"),
        "{text}"
    );
}

#[test]
fn our_verifier_accepts_our_credentials_with_x5c_by_openid4vp_and_by_scan() {
    let server = InProc::start();
    let (credential, holder) = issued_passport(&server);
    assert!(header(&credential).contains_key("x5c"));
    let (id, ro) = start(&server, json!({"preset": "age_over_18"}));
    let p = present(&credential, AGE, &holder, &ro, server.state.now());
    let (code, body) = answer(&ro, json!({"credential": [p]}));
    assert_eq!(code, 200, "{body}");
    assert_eq!(status(&server, &id)["status"], "verified");
    let qr = holder_qr(&server, &credential, &holder, AGE);
    let scanned = scan(&server, &qr, "age_over_18");
    assert_eq!(scanned["status"], "verified", "{scanned}");
}

/// Another deployment, trusting the demo issuer CA of the first as an
/// anchor, verifies its credentials by chain (and their status list, which
/// the same leaf key signed).
#[test]
fn another_deployment_with_the_issuer_ca_as_anchor_verifies_by_chain() {
    let issuer = InProc::start();
    let (credential, holder) = issued_passport(&issuer);
    let anchor = issuer.state.settings.data_dir.join("keys/issuer-ca.pem");
    let verifier = InProc::start_with(|s| {
        s.verifier.trust.anchors = vec![anchor];
        s.verifier.allow_loopback = true;
    });
    let (id, ro) = start(&verifier, json!({"preset": "age_over_18"}));
    let p = present(&credential, AGE, &holder, &ro, verifier.state.now());
    let (code, body) = answer(&ro, json!({"credential": [p]}));
    assert_eq!(code, 200, "{body}");
    let st = status(&verifier, &id);
    assert_eq!(st["status"], "verified", "{st}");
    assert_eq!(
        st["claims"],
        json!({"credential": {"age_equal_or_over": {"18": true}}})
    );
    let qr = holder_qr(&verifier, &credential, &holder, AGE);
    assert_eq!(scan(&verifier, &qr, "age_over_18")["status"], "verified");
    // Without the anchor the same credential is an untrusted issuer's.
    let stranger = InProc::start_with(|s| s.verifier.allow_loopback = true);
    let qr = holder_qr(&stranger, &credential, &holder, AGE);
    let refused = scan(&stranger, &qr, "age_over_18");
    assert_eq!(refused["status"], "failed", "{refused}");
    let why = refused["error"]["description"].as_str().unwrap();
    assert!(why.contains("not trusted"), "{why}");
}
