//! Issue #14 deliverable 6: foreign issuers trusted by certificate,
//! `[verifier.trust] anchors`. A test issuer with its own CA signs SD-JWT
//! VCs (the project's issuing code, then the issuer-signed JWT re-signed
//! with an `x5c` header); the wallet answers real OpenID4VP requests (and
//! holder QR scans) with them. Each refusal names its step.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use openssl::pkey::{PKey, Private};
use openssl::x509::X509;
use serde_json::{Map, Value, json};

use digital_id::app::StartError;
use digital_id::crypto::jws::{self, Jws};
use digital_id::crypto::{SigningKey, b64url};

use crate::certs::{Validity, issued, key, signing_key};
use crate::fixture::{InProc, Mode, T0};
use crate::verifier::{
    answer, credential_with, holder_qr, passport_for, present, scan, start, status, wallet_key,
};

const DAY: i64 = 86_400;
const AGE: &[&[&str]] = &[&["age_equal_or_over", "18"]];
const VALID: Validity = Validity {
    ca: false,
    not_before: T0 - 30 * DAY,
    not_after: T0 + 365 * DAY,
};

/// A certification authority of the tests.
struct Ca {
    cert: X509,
    key: PKey<Private>,
}

impl Ca {
    fn root(cn: &str) -> Self {
        let key = key();
        let cert = issued(cn, &key, None, Validity { ca: true, ..VALID });
        Ca { cert, key }
    }

    /// A foreign issuer certified by this CA: its leaf and signing key.
    fn issuer(&self, cn: &str, validity: Validity) -> Issuer {
        let key = key();
        let leaf = issued(cn, &key, Some((&self.cert, &self.key)), validity);
        Issuer {
            signer: signing_key(&key),
            chain: vec![leaf],
        }
    }

    /// base64url of its SubjectKeyIdentifier: the `aki` value of what it issues.
    fn key_id(&self) -> String {
        b64url(self.cert.subject_key_id().unwrap().as_slice())
    }
}

struct Issuer {
    signer: SigningKey,
    /// `x5c`: the leaf first.
    chain: Vec<X509>,
}

impl Issuer {
    /// A passport of `ivanov-ivan` for `holder`, signed with `x5c`; `iss`
    /// as given (absent: `None`).
    fn passport(&self, server: &InProc, holder: &SigningKey, iss: Option<&str>) -> String {
        let compact = credential_with(
            server,
            "ivanov-ivan",
            "ru.passport",
            holder,
            Some(&self.signer),
            |c| match iss {
                Some(iss) => {
                    c.insert("iss".into(), iss.into());
                }
                None => {
                    c.remove("iss");
                }
            },
        );
        let (jwt, disclosures) = compact.split_once('~').unwrap();
        let decoded = Jws::decode(jwt).unwrap();
        let mut header: Map<String, Value> = decoded.header.clone();
        header.insert(
            "x5c".into(),
            self.chain
                .iter()
                .map(|c| Value::String(STANDARD.encode(c.to_der().unwrap())))
                .collect(),
        );
        let signed = jws::sign(&self.signer, &header, &decoded.payload).unwrap();
        format!("{signed}~{disclosures}")
    }
}

/// A server trusting the certificates of `anchors` (written to a PEM file).
fn server_trusting(anchors: &[&X509]) -> InProc {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("roots.pem");
    let pem: Vec<u8> = anchors.iter().flat_map(|c| c.to_pem().unwrap()).collect();
    std::fs::write(&path, pem).unwrap();
    // Loaded at start: the file may go afterwards.
    InProc::start_with(|s| s.verifier.trust.anchors = vec![path])
}

/// A request for `body`, answered with a presentation of `cred`; returns
/// (HTTP status of the answer, final transaction status).
fn answer_request(
    server: &InProc,
    body: Value,
    cred: &str,
    holder: &SigningKey,
) -> (u16, Value, Value) {
    let (id, ro) = start(server, body);
    let p = present(cred, AGE, holder, &ro, T0);
    let (code, reply) = answer(&ro, json!({"credential": [p]}));
    (code, reply, status(server, &id))
}

/// The answer was refused (400) and the transaction failed naming `reason`.
fn assert_refused(answered: (u16, Value, Value), reason: &str) {
    let (code, reply, st) = answered;
    assert_eq!(code, 400, "{reply}");
    assert_eq!(st["status"], "failed", "{st}");
    assert_eq!(st["error"]["code"], "invalid_request");
    let d = st["error"]["description"].as_str().unwrap();
    assert!(
        d.starts_with(&format!("vp_token.credential: {reason}: ")),
        "{d:?} should name {reason}"
    );
    assert_eq!(reply["error_description"].as_str(), Some(d));
    assert!(st.get("claims").is_none());
}

fn age_query(trusted_authorities: Option<Value>) -> Value {
    let mut c = json!({"id": "credential", "format": "dc+sd-jwt",
        "meta": {"vct_values": ["urn:ru:digital-id:passport:1"]},
        "claims": [{"path": ["age_equal_or_over", "18"]}]});
    if let Some(ta) = trusted_authorities {
        c["trusted_authorities"] = ta;
    }
    json!({"dcql_query": {"credentials": [c]}})
}

#[test]
fn a_credential_whose_chain_ends_at_an_anchor_verifies_without_iss() {
    let root = Ca::root("Test Root CA");
    let server = server_trusting(&[&root.cert]);
    let issuer = root.issuer("Foreign Issuer", VALID);
    let holder = wallet_key();
    let cred = issuer.passport(&server, &holder, None);
    let (code, reply, st) =
        answer_request(&server, json!({"preset": "age_over_18"}), &cred, &holder);
    assert_eq!(code, 200, "{reply}");
    assert_eq!(st["status"], "verified", "{st}");
    assert_eq!(
        st["claims"],
        json!({"credential": {"age_equal_or_over": {"18": true}}})
    );
    // With an https `iss` of its own that no SAN of the leaf names, and
    // through an intermediate CA. The final SD-JWT VC text ("Inline X.509
    // Certificates": the issuer is the leaf's subject) dropped the older
    // drafts' rule that `iss` match a URI or DNS SAN of the leaf
    // (oauth-wg/oauth-sd-jwt-vc#316), so `iss` is not compared; what keeps
    // it honest is that a known `iss` is never verified by a chain (see
    // `our_own_credentials_still_verify_with_anchors_configured`).
    let inter_key = key();
    let inter = Ca {
        cert: issued(
            "Test Intermediate CA",
            &inter_key,
            Some((&root.cert, &root.key)),
            Validity { ca: true, ..VALID },
        ),
        key: inter_key,
    };
    let mut deep = inter.issuer("Deep Issuer", VALID);
    deep.chain.push(inter.cert.clone());
    let cred = deep.passport(&server, &holder, Some("https://issuer.example.kz"));
    let (code, reply, st) = answer_request(
        &server,
        json!({"preset": "age_over_18", "response_mode": "direct_post"}),
        &cred,
        &holder,
    );
    assert_eq!(code, 200, "{reply}");
    assert_eq!(st["status"], "verified", "{st}");
}

#[test]
fn a_credential_from_another_root_is_refused_as_untrusted_root() {
    let root = Ca::root("Test Root CA");
    let other = Ca::root("Other Root CA");
    let server = server_trusting(&[&root.cert]);
    let mut issuer = other.issuer("Foreign Issuer", VALID);
    issuer.chain.push(other.cert.clone());
    let holder = wallet_key();
    let cred = issuer.passport(&server, &holder, None);
    assert_refused(
        answer_request(&server, json!({"preset": "age_over_18"}), &cred, &holder),
        "untrusted_root",
    );
    // A look-alike of the anchor (same name, another key) is no better.
    let fake = Ca::root("Test Root CA");
    let mut forged = fake.issuer("Foreign Issuer", VALID);
    forged.chain.push(fake.cert.clone());
    let cred = forged.passport(&server, &holder, None);
    assert_refused(
        answer_request(&server, json!({"preset": "age_over_18"}), &cred, &holder),
        "untrusted_root",
    );
}

#[test]
fn a_credential_with_an_expired_leaf_is_refused_as_certificate_expired() {
    let root = Ca::root("Test Root CA");
    let server = server_trusting(&[&root.cert]);
    // Valid until an hour after the server's start: fine now, expired
    // once its clock has moved two hours.
    let issuer = root.issuer(
        "Foreign Issuer",
        Validity {
            not_after: T0 + 3600,
            ..VALID
        },
    );
    let holder = wallet_key();
    let cred = issuer.passport(&server, &holder, None);
    let (code, reply, _) =
        answer_request(&server, json!({"preset": "age_over_18"}), &cred, &holder);
    assert_eq!(code, 200, "{reply}");
    server.clock.set(T0 + 7200);
    let (id, ro) = start(&server, json!({"preset": "age_over_18"}));
    let p = present(&cred, AGE, &holder, &ro, T0 + 7200);
    let (code, reply) = answer(&ro, json!({"credential": [p]}));
    assert_refused((code, reply, status(&server, &id)), "certificate_expired");
    let st = status(&server, &id);
    assert!(
        st["error"]["description"]
            .as_str()
            .unwrap()
            .contains("the leaf certificate has expired"),
        "{st}"
    );
}

#[test]
fn dcql_aki_is_enforced_against_the_chain() {
    let root = Ca::root("Test Root CA");
    let second = Ca::root("Second Root CA");
    let server = server_trusting(&[&root.cert, &second.cert]);
    let issuer = root.issuer("Foreign Issuer", VALID);
    let holder = wallet_key();
    let cred = issuer.passport(&server, &holder, None);
    let aki = |ca: &Ca| Some(json!([{"type": "aki", "values": [ca.key_id()]}]));
    // The credential's issuer is certified by `root`: it matches…
    let (code, reply, st) = answer_request(&server, age_query(aki(&root)), &cred, &holder);
    assert_eq!(code, 200, "{reply}");
    assert_eq!(st["status"], "verified", "{st}");
    // …a query for `second`'s certificates it does not, although `second`
    // is a trust anchor too.
    assert_refused(
        answer_request(&server, age_query(aki(&second)), &cred, &holder),
        "aki_mismatch",
    );
    // Our own issuer's credentials carry no chain: no `aki` matches them.
    let own = passport_for(&server, &holder);
    assert_refused(
        answer_request(&server, age_query(aki(&root)), &own, &holder),
        "aki_mismatch",
    );
    // The request names its values exactly as the wallet gets them.
    let (_, ro) = start(&server, age_query(aki(&root)));
    assert_eq!(
        ro["dcql_query"]["credentials"][0]["trusted_authorities"],
        json!([{"type": "aki", "values": [root.key_id()]}])
    );
}

#[test]
fn trusted_authorities_this_verifier_cannot_enforce_are_refused_at_creation() {
    let server = InProc::start();
    let body = age_query(Some(
        json!([{"type": "etsi_tl", "values": ["https://lotl.example.com"]}]),
    ));
    let mut resp = crate::fixture::agent()
        .post(&server.url("/verifier/requests"))
        .header("Authorization", &server.bearer())
        .send_json(&body)
        .unwrap();
    assert_eq!(resp.status(), 400);
    let e: Value = resp.body_mut().read_json().unwrap();
    assert_eq!(e["error"], "invalid_request");
    let d = e["error_description"].as_str().unwrap();
    assert!(
        d.contains("credentials[0].trusted_authorities[0].type") && d.contains("only `aki`"),
        "{d}"
    );
}

#[test]
fn our_own_credentials_still_verify_with_anchors_configured() {
    let root = Ca::root("Test Root CA");
    let server = server_trusting(&[&root.cert]);
    let holder = wallet_key();
    let own = passport_for(&server, &holder);
    let (code, reply, st) =
        answer_request(&server, json!({"preset": "age_over_18"}), &own, &holder);
    assert_eq!(code, 200, "{reply}");
    assert_eq!(st["status"], "verified", "{st}");
    // Our `iss` with a foreign chain is checked with our keys only.
    let issuer = root.issuer("Foreign Issuer", VALID);
    let ours = server.state.settings.public_url.as_str().to_owned();
    let cred = issuer.passport(&server, &holder, Some(&ours));
    let (code, _, st) = answer_request(&server, json!({"preset": "age_over_18"}), &cred, &holder);
    assert_eq!(code, 400);
    let d = st["error"]["description"].as_str().unwrap();
    assert!(d.contains("no trusted key"), "{d}");
}

#[test]
fn without_anchors_an_x5c_credential_is_not_trusted() {
    let server = InProc::start();
    let root = Ca::root("Test Root CA");
    let issuer = root.issuer("Foreign Issuer", VALID);
    let holder = wallet_key();
    let cred = issuer.passport(&server, &holder, None);
    assert_refused(
        answer_request(&server, json!({"preset": "age_over_18"}), &cred, &holder),
        "untrusted_root",
    );
}

#[test]
fn a_holder_qr_with_a_certified_credential_is_verified_by_scan() {
    let root = Ca::root("Test Root CA");
    let other = Ca::root("Other Root CA");
    let server = server_trusting(&[&root.cert]);
    let holder = wallet_key();
    let good = root
        .issuer("Foreign Issuer", VALID)
        .passport(&server, &holder, None);
    let qr = holder_qr(&server, &good, &holder, AGE);
    let st = scan(&server, &qr, "age_over_18");
    assert_eq!(st["status"], "verified", "{st}");
    assert_eq!(
        st["claims"],
        json!({"credential": {"age_equal_or_over": {"18": true}}})
    );
    let bad = other
        .issuer("Foreign Issuer", VALID)
        .passport(&server, &holder, None);
    let qr = holder_qr(&server, &bad, &holder, AGE);
    let st = scan(&server, &qr, "age_over_18");
    assert_eq!(st["status"], "failed", "{st}");
    let d = st["error"]["description"].as_str().unwrap();
    assert!(d.starts_with("untrusted_root: "), "{d}");
}

#[test]
fn unusable_anchor_files_stop_the_server_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let root = Ca::root("Test Root CA");
    let leaf = root.issuer("Foreign Issuer", VALID).chain.remove(0);
    let missing = dir.path().join("missing.pem");
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "no certificates here\n").unwrap();
    let not_ca = dir.path().join("leaf.pem");
    std::fs::write(&not_ca, leaf.to_pem().unwrap()).unwrap();
    for (path, needle) in [
        (missing, "cannot read the trust anchor file"),
        (empty, "holds no PEM certificate"),
        (not_ca, "is not a CA certificate"),
    ] {
        let e = InProc::try_start_mode(Mode::default(), |s| {
            s.verifier.trust.anchors = vec![path.clone()]
        })
        .err()
        .unwrap_or_else(|| panic!("{} must not start", path.display()));
        assert!(matches!(e, StartError::Anchors(_)), "{e}");
        let text = e.to_string();
        assert!(text.contains(needle), "{text}");
        assert!(text.contains(&path.display().to_string()), "{text}");
    }
}
