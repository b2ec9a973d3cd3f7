//! Key attestations (OpenID4VCI 1.0 Appendix D) at the credential endpoint:
//! the `jwt` proof's `key_attestation` header and the `attestation` proof
//! type, signed by the example wallet's test wallet provider, against a
//! per-document policy (`[key_attestation."<id>"]`) and under `--profile
//! haip`.

use std::path::PathBuf;

use digital_id::config::{KeyAttestationPolicy, Profile, Settings};
use digital_id::crypto::SigningKey;
use serde_json::{Value, json};

use super::dpop;
use super::wallet::{self, ClockNow, Reply, key};
use crate::example_wallet::wallet_provider::{KeyAttestation, WalletProvider};
use crate::fixture::{InProc, T0};

const HIGH: &str = "iso_18045_high";
const MODERATE: &str = "iso_18045_moderate";

/// A wallet provider whose certificates are valid at the test servers'
/// clock (which starts at `T0`, not at the real time).
pub fn provider(id: &str) -> WalletProvider {
    WalletProvider::generate_valid(id, T0 - 3600, T0 + 90 * 86_400).unwrap()
}

/// A server trusting `provider` (its root in a PEM file named by
/// `[attestation] wallet_provider_roots`), adjusted by `tweak`. The file
/// lives as long as the returned directory.
pub fn start_trusting(
    provider: &WalletProvider,
    tweak: impl FnOnce(&mut Settings),
) -> (InProc, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let roots: PathBuf = dir.path().join("wallet-providers.pem");
    std::fs::write(&roots, provider.root_pem().unwrap()).unwrap();
    let server = InProc::start_with(|s| {
        s.attestation.wallet_provider_roots = vec![roots];
        tweak(s);
    });
    (server, dir)
}

/// `[key_attestation."ru.passport"]` with `iso_18045_high` for both.
fn passport_policy(s: &mut Settings) {
    s.key_attestation.insert(
        "ru.passport".into(),
        KeyAttestationPolicy {
            key_storage: vec![HIGH.into()],
            user_authentication: vec![HIGH.into()],
        },
    );
}

/// A key attestation by `p` for `keys` (secure hardware and biometrics:
/// `iso_18045_high` for both), issued now by the server's clock.
pub fn high(
    server: &InProc,
    p: &WalletProvider,
    keys: &[&SigningKey],
    nonce: Option<&str>,
) -> String {
    let a = KeyAttestation {
        nonce,
        ..KeyAttestation::high(server.clock_now())
    };
    attest(p, keys, &a)
}

fn attest(p: &WalletProvider, keys: &[&SigningKey], a: &KeyAttestation<'_>) -> String {
    let keys: Vec<_> = keys.iter().map(|k| k.public()).collect();
    p.key_attestation(&keys, a).unwrap()
}

/// A `jwt` key proof by `holder` for `nonce` carrying `attestation` in its
/// `key_attestation` header.
pub fn attested_proof(
    server: &InProc,
    holder: &SigningKey,
    nonce: &str,
    attestation: &str,
) -> String {
    wallet::proof_with(
        holder,
        json!({"key_attestation": attestation}),
        json!({"aud": server.base, "iat": server.clock_now(), "nonce": nonce}),
    )
}

/// A bearer token for a passport offer to Ivanov.
fn passport_token(server: &InProc) -> String {
    let o = wallet::offer(server, "ivanov-ivan", &["ru.passport"], true);
    wallet::access_token(server, &o)
}

fn passport(proofs: Value) -> Value {
    json!({"credential_configuration_id": "ru.passport", "proofs": proofs})
}

#[track_caller]
fn refused(r: &Reply, description: &str) {
    assert_eq!(
        (r.status, r.error()),
        (400, "invalid_proof"),
        "{:?}",
        r.body
    );
    assert_eq!(
        r.body["error_description"].as_str().unwrap(),
        description,
        "{:?}",
        r.body
    );
}

/// The issued-credential records of Ivanov, as the back-office sees them.
fn records(server: &InProc) -> Vec<Value> {
    let r = wallet::get_authorized(server, "/issuer/subjects/ivanov-ivan/credentials");
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body.as_array().unwrap().clone()
}

/// The holder key a credential is bound to, as a thumbprint.
fn cnf_thumbprint(server: &InProc, credential: &Value) -> String {
    let v = wallet::verify(server, credential["credential"].as_str().unwrap());
    digital_id::crypto::PublicKey::from_jwk(&v.claims["cnf"]["jwk"])
        .unwrap()
        .thumbprint()
        .to_owned()
}

#[test]
fn a_jwt_proof_with_a_key_attestation_meeting_the_policy_is_issued_and_recorded() {
    let p = provider("https://wallet-provider.example");
    let (server, _roots) = start_trusting(&p, passport_policy);
    let token = passport_token(&server);
    let holder = key();
    let n = wallet::nonce(&server);
    let ka = high(&server, &p, &[&holder], Some(&n));
    let r = wallet::credential(
        &server,
        &token,
        &passport(json!({"jwt": [attested_proof(&server, &holder, &n, &ka)]})),
    );
    assert_eq!(r.status, 200, "{:?}", r.body);
    let credentials = r.body["credentials"].as_array().unwrap();
    assert_eq!(credentials.len(), 1);
    assert_eq!(
        cnf_thumbprint(&server, &credentials[0]),
        holder.public().thumbprint()
    );
    // The record keeps who attested the key and at which levels.
    let recs = records(&server);
    assert_eq!(recs.len(), 1);
    assert_eq!(
        recs[0]["key_attestation"],
        json!({
            "wallet_provider": "CN=https://wallet-provider.example attestations",
            "key_storage": [HIGH],
            "user_authentication": [HIGH],
        })
    );
    // Another configuration without a policy takes a plain proof, and its
    // record has no attestation.
    let r = wallet::issue_one(&server, "ivanov-ivan", "ru.inn", &key());
    assert_eq!(r.status, 200, "{:?}", r.body);
    let recs = records(&server);
    let inn = recs
        .iter()
        .find(|r| r["credential_configuration_id"] == "ru.inn")
        .unwrap();
    assert!(inn.get("key_attestation").is_none(), "{inn}");
}

/// A batch of two `jwt` proofs may share one attestation of both keys.
#[test]
fn a_batch_of_jwt_proofs_shares_one_attestation() {
    let p = provider("https://wallet-provider.example");
    let (server, _roots) = start_trusting(&p, passport_policy);
    let token = passport_token(&server);
    let (a, b) = (key(), key());
    let n = wallet::nonce(&server);
    let ka = high(&server, &p, &[&a, &b], Some(&n));
    let r = wallet::credential(
        &server,
        &token,
        &passport(json!({"jwt": [
            attested_proof(&server, &a, &n, &ka),
            attested_proof(&server, &b, &n, &ka),
        ]})),
    );
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["credentials"].as_array().unwrap().len(), 2);
}

#[test]
fn the_attestation_proof_type_issues_one_credential_per_attested_key() {
    let p = provider("https://wallet-provider.example");
    let (server, _roots) = start_trusting(&p, passport_policy);
    let token = passport_token(&server);
    let (a, b) = (key(), key());
    let n = wallet::nonce(&server);
    let ka = high(&server, &p, &[&a, &b], Some(&n));
    let r = wallet::credential(&server, &token, &passport(json!({"attestation": [ka]})));
    assert_eq!(r.status, 200, "{:?}", r.body);
    let credentials = r.body["credentials"].as_array().unwrap();
    let bound: Vec<String> = credentials
        .iter()
        .map(|c| cnf_thumbprint(&server, c))
        .collect();
    assert_eq!(
        bound,
        [a.public().thumbprint(), b.public().thumbprint()],
        "one credential per attested key, in order"
    );
    let recs = records(&server);
    assert_eq!(recs.len(), 2);
    for rec in &recs {
        assert_eq!(rec["key_attestation"]["key_storage"], json!([HIGH]));
        assert_eq!(
            rec["key_attestation"]["wallet_provider"],
            "CN=https://wallet-provider.example attestations"
        );
    }
    // Its nonce was used up: the same attestation again is refused.
    let r = wallet::credential(&server, &token, &passport(json!({"attestation": [ka]})));
    assert_eq!(
        (r.status, r.error()),
        (400, "invalid_nonce"),
        "{:?}",
        r.body
    );
    // Without a nonce it is no proof.
    let ka = high(&server, &p, &[&a], None);
    let r = wallet::credential(&server, &token, &passport(json!({"attestation": [ka]})));
    refused(
        &r,
        "the key attestation has no `nonce`: with the `attestation` proof type it must carry a fresh c_nonce from the nonce endpoint",
    );
    // Exactly one attestation.
    let n = wallet::nonce(&server);
    let one = high(&server, &p, &[&a], Some(&n));
    let r = wallet::credential(
        &server,
        &token,
        &passport(json!({"attestation": [one.clone(), one]})),
    );
    assert_eq!(
        (r.status, r.error()),
        (400, "invalid_credential_request"),
        "{:?}",
        r.body
    );
}

#[test]
fn the_attestation_proof_type_is_only_taken_when_providers_are_trusted() {
    let server = InProc::start();
    let p = provider("https://wallet-provider.example");
    let token = passport_token(&server);
    let n = wallet::nonce(&server);
    let ka = high(&server, &p, &[&key()], Some(&n));
    let r = wallet::credential(&server, &token, &passport(json!({"attestation": [ka]})));
    refused(&r, "only `jwt` key proofs are supported");
    // A key attestation header is not evaluated there (none is trusted,
    // none required): the proof alone counts.
    let holder = key();
    let n = wallet::nonce(&server);
    let untrusted = high(&server, &p, &[&holder], None);
    let r = wallet::credential(
        &server,
        &token,
        &passport(json!({"jwt": [attested_proof(&server, &holder, &n, &untrusted)]})),
    );
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert!(records(&server)[0].get("key_attestation").is_none());
}

#[test]
fn metadata_advertises_the_policy_and_the_attestation_proof_type() {
    let p = provider("https://wallet-provider.example");
    let (server, _roots) = start_trusting(&p, passport_policy);
    let meta = wallet::get(&server, "/.well-known/openid-credential-issuer").body;
    let configs = &meta["credential_configurations_supported"];
    let types = &configs["ru.passport"]["proof_types_supported"];
    let required = json!({"key_storage": [HIGH], "user_authentication": [HIGH]});
    for t in ["jwt", "attestation"] {
        assert_eq!(types[t]["key_attestations_required"], required, "{t}");
        assert_eq!(
            types[t]["proof_signing_alg_values_supported"],
            json!(["ES256", "Ed25519", "EdDSA"])
        );
    }
    // No policy: the attestation proof type is offered, nothing required.
    let inn = &configs["ru.inn"]["proof_types_supported"];
    assert!(inn["attestation"].is_object(), "{inn}");
    assert!(
        inn["jwt"].get("key_attestations_required").is_none(),
        "{inn}"
    );
    assert!(
        inn["attestation"]
            .get("key_attestations_required")
            .is_none()
    );
    // No providers trusted: `jwt` only.
    let plain = InProc::start();
    let meta = wallet::get(&plain, "/.well-known/openid-credential-issuer").body;
    let types =
        &meta["credential_configurations_supported"]["ru.passport"]["proof_types_supported"];
    assert_eq!(types.as_object().unwrap().len(), 1, "{types}");
    assert!(types["jwt"].get("key_attestations_required").is_none());
    // HAIP: every configuration requires one, of any level when no policy
    // names levels.
    let (haip, _roots) = start_trusting(&p, |s| {
        s.profile = Profile::Haip;
        passport_policy(s);
    });
    let meta = wallet::get(&haip, "/.well-known/openid-credential-issuer").body;
    let configs = &meta["credential_configurations_supported"];
    assert_eq!(
        configs["ru.passport"]["proof_types_supported"]["jwt"]["key_attestations_required"],
        required
    );
    for (id, c) in configs.as_object().unwrap() {
        if id != "ru.passport" {
            let types = &c["proof_types_supported"];
            assert_eq!(types["jwt"]["key_attestations_required"], json!({}), "{id}");
            assert_eq!(
                types["attestation"]["key_attestations_required"],
                json!({}),
                "{id}"
            );
            assert_eq!(
                types["attestation"]["proof_signing_alg_values_supported"],
                json!(["ES256"])
            );
        }
    }
}

/// The request is refused as a whole: no record, and the c_nonce stays
/// usable.
#[track_caller]
fn nothing_was_written(server: &InProc, token: &str, nonce: &str, p: &WalletProvider) {
    assert!(records(server).is_empty());
    let holder = key();
    let ka = high(server, p, &[&holder], Some(nonce));
    let r = wallet::credential(
        server,
        token,
        &passport(json!({"jwt": [attested_proof(server, &holder, nonce, &ka)]})),
    );
    assert_eq!(r.status, 200, "{:?}", r.body);
}

#[test]
fn a_proof_without_a_required_key_attestation_is_refused() {
    let p = provider("https://wallet-provider.example");
    let (server, _roots) = start_trusting(&p, passport_policy);
    let token = passport_token(&server);
    let n = wallet::nonce(&server);
    let r = wallet::credential(
        &server,
        &token,
        &passport(json!({"jwt": [wallet::proof(&server, &key(), &n)]})),
    );
    refused(
        &r,
        "proof 0: ru.passport requires a key attestation: send it in the key proof's `key_attestation` header or use the `attestation` proof type",
    );
    // Every proof of a batch needs one.
    let a = key();
    let ka = high(&server, &p, &[&a], Some(&n));
    let r = wallet::credential(
        &server,
        &token,
        &passport(json!({"jwt": [
            attested_proof(&server, &a, &n, &ka),
            wallet::proof(&server, &key(), &n),
        ]})),
    );
    refused(
        &r,
        "proof 1: ru.passport requires a key attestation: send it in the key proof's `key_attestation` header or use the `attestation` proof type",
    );
    nothing_was_written(&server, &token, &n, &p);
}

#[test]
fn an_attestation_from_an_untrusted_wallet_provider_is_refused() {
    let p = provider("https://wallet-provider.example");
    let stranger = provider("https://other-provider.example");
    let (server, _roots) = start_trusting(&p, passport_policy);
    let token = passport_token(&server);
    let holder = key();
    let n = wallet::nonce(&server);
    let ka = high(&server, &stranger, &[&holder], Some(&n));
    let r = wallet::credential(
        &server,
        &token,
        &passport(json!({"jwt": [attested_proof(&server, &holder, &n, &ka)]})),
    );
    refused(
        &r,
        "proof 0: the key attestation is not from a trusted wallet provider: the certificate chain does not lead to a configured trust anchor",
    );
    // The same as the attestation proof type.
    let r = wallet::credential(&server, &token, &passport(json!({"attestation": [ka]})));
    refused(
        &r,
        "the key attestation is not from a trusted wallet provider: the certificate chain does not lead to a configured trust anchor",
    );
    nothing_was_written(&server, &token, &n, &p);
}

#[test]
fn an_expired_attestation_is_refused() {
    let p = provider("https://wallet-provider.example");
    let (server, _roots) = start_trusting(&p, passport_policy);
    let token = passport_token(&server);
    let holder = key();
    let n = wallet::nonce(&server);
    let now = server.clock_now();
    let expired = attest(
        &p,
        &[&holder],
        &KeyAttestation {
            exp: Some(now - 120),
            nonce: Some(&n),
            ..KeyAttestation::high(now - 3600)
        },
    );
    let r = wallet::credential(
        &server,
        &token,
        &passport(json!({"jwt": [attested_proof(&server, &holder, &n, &expired)]})),
    );
    refused(&r, "proof 0: the key attestation has expired");
    nothing_was_written(&server, &token, &n, &p);
}

/// OpenID4VCI 1.0 Appendix F.1: "If the Credential Issuer provided a
/// c_nonce, the nonce claim in the key attestation MUST be set to a
/// server-provided c_nonce"; this server has a nonce endpoint.
#[test]
fn a_header_attestation_without_the_c_nonce_is_refused() {
    let p = provider("https://wallet-provider.example");
    let (server, _roots) = start_trusting(&p, passport_policy);
    let token = passport_token(&server);
    let holder = key();
    let n = wallet::nonce(&server);
    let ka = high(&server, &p, &[&holder], None);
    let r = wallet::credential(
        &server,
        &token,
        &passport(json!({"jwt": [attested_proof(&server, &holder, &n, &ka)]})),
    );
    refused(
        &r,
        "proof 0: the key attestation in the `key_attestation` header has no `nonce`: it must carry the key proof's c_nonce from the nonce endpoint",
    );
    nothing_was_written(&server, &token, &n, &p);
}

/// A retired wallet provider key cannot sign attestations that outlive
/// its certificate.
#[test]
fn an_attestation_outliving_the_providers_certificate_is_refused() {
    let p = provider("https://wallet-provider.example");
    let (server, _roots) = start_trusting(&p, passport_policy);
    let token = passport_token(&server);
    let holder = key();
    let n = wallet::nonce(&server);
    let now = server.clock_now();
    // The provider's leaf ends at T0 + 90 days.
    let ka = attest(
        &p,
        &[&holder],
        &KeyAttestation {
            exp: Some(T0 + 90 * 86_400 + 1),
            nonce: Some(&n),
            ..KeyAttestation::high(now)
        },
    );
    let r = wallet::credential(
        &server,
        &token,
        &passport(json!({"jwt": [attested_proof(&server, &holder, &n, &ka)]})),
    );
    refused(
        &r,
        "proof 0: the key attestation's `exp` is later than its wallet provider certificate's expiry",
    );
    // One dated back a week (older than the c_nonce it carries) is too
    // old, whatever its chain.
    let ka = attest(
        &p,
        &[&holder],
        &KeyAttestation {
            exp: Some(now + 3600),
            nonce: Some(&n),
            ..KeyAttestation::high(now - 7 * 86_400)
        },
    );
    let r = wallet::credential(&server, &token, &passport(json!({"attestation": [ka]})));
    refused(&r, "the key attestation's `iat` is more than 1 day old");
    nothing_was_written(&server, &token, &n, &p);
}

/// The `attestation` proof type binds one credential per attested key:
/// no more than a batch of `jwt` proofs may ask for.
#[test]
fn the_attestation_proof_type_is_held_to_batch_size() {
    let p = provider("https://wallet-provider.example");
    let (server, _roots) = start_trusting(&p, |s| {
        passport_policy(s);
        s.issuer.batch_size = 2;
    });
    let token = passport_token(&server);
    let (a, b, c) = (key(), key(), key());
    let n = wallet::nonce(&server);
    let three = high(&server, &p, &[&a, &b, &c], Some(&n));
    let r = wallet::credential(&server, &token, &passport(json!({"attestation": [three]})));
    assert_eq!(
        (r.status, r.error()),
        (400, "invalid_credential_request"),
        "{:?}",
        r.body
    );
    assert_eq!(
        r.body["error_description"],
        "at most 2 key proof(s) or attested keys per Credential Request (`batch_size`)"
    );
    assert!(records(&server).is_empty());
    // Two fit, with the same c_nonce (it was not used up).
    let two = high(&server, &p, &[&a, &b], Some(&n));
    let r = wallet::credential(&server, &token, &passport(json!({"attestation": [two]})));
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["credentials"].as_array().unwrap().len(), 2);
}

#[test]
fn a_proof_key_outside_attested_keys_is_refused() {
    let p = provider("https://wallet-provider.example");
    let (server, _roots) = start_trusting(&p, passport_policy);
    let token = passport_token(&server);
    let (attested, other) = (key(), key());
    let n = wallet::nonce(&server);
    let ka = high(&server, &p, &[&attested], Some(&n));
    let r = wallet::credential(
        &server,
        &token,
        &passport(json!({"jwt": [attested_proof(&server, &other, &n, &ka)]})),
    );
    refused(
        &r,
        "proof 0: the proof's key is not in the key attestation's `attested_keys`",
    );
    // An attestation made for another c_nonce does not fit either.
    let old = wallet::nonce(&server);
    let ka = high(&server, &p, &[&attested], Some(&old));
    let r = wallet::credential(
        &server,
        &token,
        &passport(json!({"jwt": [attested_proof(&server, &attested, &n, &ka)]})),
    );
    refused(
        &r,
        "proof 0: the key attestation's `nonce` is not the c_nonce of the key proof",
    );
    nothing_was_written(&server, &token, &n, &p);
}

#[test]
fn key_storage_below_the_policy_is_refused() {
    let p = provider("https://wallet-provider.example");
    let (server, _roots) = start_trusting(&p, passport_policy);
    let token = passport_token(&server);
    let holder = key();
    let n = wallet::nonce(&server);
    let software = attest(
        &p,
        &[&holder],
        &KeyAttestation {
            key_storage: &[MODERATE],
            nonce: Some(&n),
            ..KeyAttestation::high(server.clock_now())
        },
    );
    let r = wallet::credential(
        &server,
        &token,
        &passport(json!({"jwt": [attested_proof(&server, &holder, &n, &software)]})),
    );
    refused(
        &r,
        "proof 0: the key attestation's key_storage [iso_18045_moderate] meets none of iso_18045_high required for ru.passport",
    );
    // The attestation proof type is held to the same policy.
    let r = wallet::credential(
        &server,
        &token,
        &passport(json!({"attestation": [software]})),
    );
    refused(
        &r,
        "the key attestation's key_storage [iso_18045_moderate] meets none of iso_18045_high required for ru.passport",
    );
    nothing_was_written(&server, &token, &n, &p);
}

/// A DPoP-bound token for a passport offer under HAIP (with the server's
/// DPoP nonce and the client attestation of `w`), and the function that
/// posts a Credential Request with it.
fn haip_token<'a>(
    server: &'a InProc,
    w: &super::client_attestation::Wallet,
) -> (String, impl Fn(&Value) -> Reply + 'a) {
    let o = wallet::offer(server, "ivanov-ivan", &["ru.passport"], false);
    let dpop_key = key();
    let r = wallet::post_json(server, "/nonce", None, &Value::Null);
    let dpop_nonce = r.headers["dpop-nonce"].to_str().unwrap().to_owned();
    let p = dpop::proof_with(
        server,
        &dpop_key,
        "/token",
        None,
        Some(&dpop_nonce),
        json!({}),
    );
    let t = super::client_attestation::token(server, &o, Some(&p), &w.headers(server));
    assert_eq!(t.status, 200, "{:?}", t.body);
    let token = t.body["access_token"].as_str().unwrap().to_owned();
    let send_token = token.clone();
    let send = move |body: &Value| {
        let p = dpop::proof_with(
            server,
            &dpop_key,
            "/credential",
            Some(&send_token),
            Some(&dpop_nonce),
            json!({}),
        );
        dpop::post(
            server,
            "/credential",
            &format!("DPoP {send_token}"),
            Some(&p),
            body,
        )
    };
    (token, send)
}

/// HAIP 1.0: every configuration requires a key attestation (here of any
/// level: no policy names one), with DPoP-bound tokens; both ways of
/// sending one work.
#[test]
fn under_haip_a_key_attestation_is_required_and_suffices() {
    // The wallet provider attests the client and the keys.
    let (server, w) = super::client_attestation::haip();
    let p = &w.provider;
    let (_, send) = haip_token(&server, &w);
    // Without one: refused.
    let n = wallet::nonce(&server);
    let r = send(&passport(
        json!({"jwt": [wallet::proof(&server, &key(), &n)]}),
    ));
    refused(
        &r,
        "proof 0: ru.passport requires a key attestation: send it in the key proof's `key_attestation` header or use the `attestation` proof type",
    );
    // A `jwt` proof with an attestation of any level.
    let holder = key();
    let basic = attest(
        p,
        &[&holder],
        &KeyAttestation {
            key_storage: &["iso_18045_basic"],
            user_authentication: &[],
            nonce: Some(&n),
            ..KeyAttestation::high(server.clock_now())
        },
    );
    let r = send(&passport(
        json!({"jwt": [attested_proof(&server, &holder, &n, &basic)]}),
    ));
    assert_eq!(r.status, 200, "{:?}", r.body);
    // The attestation proof type.
    let (_, send) = haip_token(&server, &w);
    let n = wallet::nonce(&server);
    let (a, b) = (key(), key());
    let ka = high(&server, p, &[&a, &b], Some(&n));
    let r = send(&passport(json!({"attestation": [ka]})));
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["credentials"].as_array().unwrap().len(), 2);
    let recs = records(&server);
    assert_eq!(recs.len(), 3);
    let basic = recs
        .iter()
        .filter(|r| r["key_attestation"]["key_storage"] == json!(["iso_18045_basic"]))
        .collect::<Vec<_>>();
    assert_eq!(basic.len(), 1, "{recs:?}");
    assert_eq!(
        basic[0]["key_attestation"]["user_authentication"],
        json!([])
    );
}
