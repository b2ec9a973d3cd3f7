//! Each relying party's own identity on the wire (issue 14, deliverable 3):
//! two parties registered through the verifier's identity seam (the
//! registry's admin routes are not part of this change) sign their request
//! objects with their own key and demo-CA leaf, so each carries its own
//! `x509_hash` client id, `x5c`, `client_name` and registration certificate
//! in `verifier_info`; `@openid4vc/openid4vp` as the wallet accepts a
//! party's request and its answer verifies against the party's client id.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine as _;
use serde_json::{Value, json};

use digital_id::crypto::jws::Jws;
use digital_id::crypto::{Algorithm, SigningKey, b64url, sha256};
use digital_id::sdjwt::ClaimPath;
use digital_id::verifier::identity::{DisplayName, Entitlements, Registration, StoredIdentity};
use digital_id::verifier::presets::Preset;
use digital_id::verifier::request::{CreateRequest, Created};
use digital_id::verifier::{IdentityError, PartyIdentity};

use crate::fixture::{InProc, agent};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

/// Registers `party` the way the registry does at `POST
/// /admin/relying-parties` (demo mode: the demo CA issues its leaf) and
/// hands its identity to the verifier.
fn register(
    server: &InProc,
    party: &str,
    name: &str,
    display: Option<(&str, &str)>,
) -> (StoredIdentity, Arc<PartyIdentity>) {
    let state = &server.state;
    let now = state.now();
    let stored = StoredIdentity::register(
        party,
        name,
        &state.verifier.keys,
        &state.verifier.public_host(),
        &state.keys.store_secret,
        now,
    )
    .unwrap();
    let mut claims = BTreeMap::new();
    claims.insert(
        "urn:ru:digital-id:passport:1".to_owned(),
        vec![ClaimPath::keys(["family_name"])],
    );
    let registration = Registration {
        name: name.into(),
        display_name: display.map(|(ru, en)| DisplayName {
            ru: ru.into(),
            en: en.into(),
        }),
        entitlements: Entitlements {
            presets: vec![Preset::AgeOver18],
            claims,
        },
    };
    let identity = state
        .verifier
        .party_identity(
            party,
            1,
            &stored,
            &state.keys.store_secret,
            &registration,
            now,
        )
        .unwrap();
    (stored, identity)
}

fn create_as(server: &InProc, party: &str, preset: &str) -> Created {
    let req = CreateRequest {
        preset: Some(preset.into()),
        ..CreateRequest::default()
    };
    let now = server.state.now();
    rt().block_on(
        server
            .state
            .verifier
            .create_as(party, req, false, Default::default(), now),
    )
    .unwrap()
}

fn param(link: &str, name: &str) -> String {
    let query = link.split_once('?').unwrap().1;
    let value = query
        .split('&')
        .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
        .unwrap();
    percent_encoding::percent_decode_str(value)
        .decode_utf8()
        .unwrap()
        .into_owned()
}

/// GETs the request object of a transaction: (header, payload, compact).
fn request_object(created: &Created) -> (Value, Value, String) {
    let mut resp = agent().get(&created.request_uri).call().unwrap();
    assert_eq!(resp.status(), 200);
    let jwt = resp.body_mut().read_to_string().unwrap();
    let part = |i: usize| -> Value {
        let b = digital_id::crypto::b64url_decode(jwt.split('.').nth(i).unwrap()).unwrap();
        serde_json::from_slice(&b).unwrap()
    };
    (part(0), part(1), jwt)
}

fn x5c_leaf(header: &Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(header["x5c"][0].as_str().unwrap())
        .unwrap()
}

#[test]
fn each_party_signs_its_request_objects_with_its_own_identity() {
    let server = InProc::start();
    let (kosmos_stored, kosmos) = register(
        &server,
        "kosmos",
        "Hotel Kosmos",
        Some(("Гостиница «Космос»", "Hotel Kosmos")),
    );
    let (_, shop) = register(&server, "shop", "Shop 18+", None);
    let operator = server.state.verifier.client_id().to_owned();

    let mut seen = Vec::new();
    for (party, identity) in [("kosmos", &kosmos), ("shop", &shop)] {
        let created = create_as(&server, party, "age_over_18");
        let link_client_id = param(&created.authorization_request, "client_id");
        let (header, payload, jwt) = request_object(&created);
        let leaf = x5c_leaf(&header);
        let client_id = format!("x509_hash:{}", b64url(sha256(&leaf)));
        // The link, the request object and the leaf agree, and are the party's.
        assert_eq!(payload["client_id"], client_id, "{party}");
        assert_eq!(link_client_id, client_id, "{party}");
        assert_eq!(identity.client_id.as_str(), client_id, "{party}");
        assert_ne!(client_id, operator, "{party}");
        assert_eq!(header["x5c"].as_array().unwrap().len(), 1, "{party}");
        // Signed with the party's key, not the operator's.
        let jws = Jws::decode(&jwt).unwrap();
        jws.verify(identity.signing.public()).unwrap();
        assert!(
            jws.verify(server.state.verifier.keys.signing.public())
                .is_err()
        );
        // The registration certificate: the operator's, bound to this party.
        let info = payload["verifier_info"].as_array().unwrap();
        assert_eq!(info.len(), 1);
        assert_eq!(info[0]["format"], "registration_cert");
        let rc = Jws::decode(info[0]["data"].as_str().unwrap()).unwrap();
        rc.verify(server.state.verifier.keys.signing.public())
            .unwrap();
        assert_eq!(rc.typ(), Some("rc-wrp+jwt"));
        let rc = rc.payload_json().unwrap();
        assert_eq!(rc["sub"], client_id);
        assert_eq!(rc["iss"], operator.as_str());
        assert_eq!(rc["presets"], json!(["age_over_18"]));
        seen.push((client_id, header["x5c"].clone(), payload));
    }
    assert_ne!(seen[0].0, seen[1].0);
    assert_ne!(seen[0].1, seen[1].1);
    let kosmos_meta = &seen[0].2["client_metadata"];
    assert_eq!(kosmos_meta["client_name"], "Hotel Kosmos");
    assert_eq!(kosmos_meta["client_name#ru"], "Гостиница «Космос»");
    assert_eq!(kosmos_meta["client_name#en"], "Hotel Kosmos");
    let shop_meta = &seen[1].2["client_metadata"];
    assert_eq!(shop_meta["client_name"], "Shop 18+");
    assert!(shop_meta.get("client_name#ru").is_none());
    // The stored record names the same client id.
    assert_eq!(kosmos_stored.client_id(), Some(kosmos.client_id.clone()));

    // The built-in party `default` is the operator, unchanged.
    let created = create_as(&server, "default", "age_over_18");
    assert_eq!(param(&created.authorization_request, "client_id"), operator);
    let (header, payload, _) = request_object(&created);
    assert_eq!(payload["client_id"], operator.as_str());
    assert_eq!(
        header["x5c"],
        json!([
            base64::engine::general_purpose::STANDARD.encode(&server.state.verifier.keys.leaf_der)
        ])
    );
    assert!(payload.get("verifier_info").is_none());
    assert!(payload["client_metadata"].get("client_name").is_none());
}

#[test]
fn a_party_without_an_identity_cannot_create_nor_serve_requests() {
    let server = InProc::start();
    let req = CreateRequest {
        preset: Some("age_over_18".into()),
        ..CreateRequest::default()
    };
    let now = server.state.now();
    let err = rt()
        .block_on(
            server
                .state
                .verifier
                .create_as("ghost", req, false, Default::default(), now),
        )
        .unwrap_err();
    assert!(
        matches!(
            err,
            digital_id::verifier::request::CreateError::Identity(IdentityError::UnknownParty(_))
        ),
        "{err}"
    );
    // Forgotten (deleted) after creation: its request object is not served.
    register(&server, "kosmos", "Hotel Kosmos", None);
    let created = create_as(&server, "kosmos", "age_over_18");
    server.state.verifier.forget_identity("kosmos");
    let mut resp = agent().get(&created.request_uri).call().unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.body_mut().read_json().unwrap();
    assert_eq!(body["error"], "invalid_request");

    // Re-certified after creation (a new leaf, so a new client id): the old
    // request is not signed under a hash its link does not carry.
    let (mut stored, _) = register(&server, "shop", "Shop 18+", None);
    let created = create_as(&server, "shop", "age_over_18");
    let state = &server.state;
    stored
        .issue_demo_leaf(
            "shop",
            "Shop 18+ renamed",
            &state.verifier.keys,
            &state.verifier.public_host(),
            &state.keys.store_secret,
            now,
        )
        .unwrap();
    let registration = Registration {
        name: "Shop 18+ renamed".into(),
        display_name: None,
        entitlements: Entitlements::default(),
    };
    state
        .verifier
        .party_identity(
            "shop",
            2,
            &stored,
            &state.keys.store_secret,
            &registration,
            now,
        )
        .unwrap();
    let resp = agent().get(&created.request_uri).call().unwrap();
    assert_eq!(resp.status(), 400);
    // A new request of the party carries the new identity.
    let fresh = create_as(&server, "shop", "age_over_18");
    let (header, payload, _) = request_object(&fresh);
    assert_eq!(
        payload["client_id"],
        format!("x509_hash:{}", b64url(sha256(x5c_leaf(&header))))
    );
    assert_eq!(
        payload["client_metadata"]["client_name"],
        "Shop 18+ renamed"
    );
}

#[test]
fn the_identity_cache_follows_the_record_version() {
    let server = InProc::start();
    let (stored, first) = register(&server, "kosmos", "Hotel Kosmos", None);
    let v = &server.state.verifier;
    let now = server.state.now();
    assert!(Arc::ptr_eq(
        &v.cached_identity("kosmos", 1, now).unwrap(),
        &first
    ));
    assert!(
        v.cached_identity("kosmos", 2, now).is_none(),
        "a newer record"
    );
    let expiry = first.registration_expires_at.unwrap();
    assert!(
        v.cached_identity("kosmos", 1, expiry).is_none(),
        "an expired certificate"
    );
    let registration = Registration {
        name: "Hotel Kosmos (renamed)".into(),
        display_name: None,
        entitlements: Entitlements::default(),
    };
    let second = v
        .party_identity(
            "kosmos",
            2,
            &stored,
            &server.state.keys.store_secret,
            &registration,
            now,
        )
        .unwrap();
    assert!(!Arc::ptr_eq(&first, &second));
    assert_eq!(second.client_id, first.client_id, "same key and leaf");
    assert_eq!(second.name.as_deref(), Some("Hotel Kosmos (renamed)"));
    // `default` is the operator's and cannot be replaced through the cache.
    let imposter = PartyIdentity {
        party: "default".into(),
        ..PartyIdentity::operator(&v.keys).unwrap()
    };
    assert!(v.register_identity(1, imposter).is_err());
}

/// `@openid4vc/openid4vp` as the wallet: it fetches a party's request
/// object, computes the x509_hash of its leaf itself, and answers with a
/// KB-JWT for the party's client id; the answer verifies. The same answer
/// bound to the operator's client id fails.
#[test]
fn a_library_wallet_accepts_a_partys_request_and_its_answer_verifies() {
    let server = crate::interop::real_time_server();
    let (_, kosmos) = register(
        &server,
        "kosmos",
        "Hotel Kosmos",
        Some(("Гостиница «Космос»", "Hotel Kosmos")),
    );
    let holder = SigningKey::generate(Algorithm::Es256).unwrap();
    let issued = crate::issuer::wallet::issue_one(&server, "ivanov-ivan", "ru.passport", &holder);
    let credential = issued.body["credentials"][0]["credential"]
        .as_str()
        .unwrap()
        .to_owned();
    // The wallet trusts the demo CA only: the party's leaf must chain to it.
    let ca = openssl::x509::X509::from_der(server.state.verifier.keys.ca_der.as_deref().unwrap())
        .unwrap();
    let ca_pem = String::from_utf8(ca.to_pem().unwrap()).unwrap();
    let answer = |overrides: Value| {
        let created = create_as(&server, "kosmos", "age_over_18");
        let input = json!({
            "authorization_request": created.authorization_request,
            "credentials": [credential],
            "holder_jwk": holder.to_private_jwk(),
            "x509_trust": {"ca_pem": ca_pem},
            "overrides": overrides,
        });
        let out = crate::interop::node("wallet_vp.mjs", &input)
            .unwrap_or_else(|e| panic!("the @openid4vc/openid4vp wallet failed: {e}"));
        let now = server.state.now();
        let status = rt()
            .block_on(
                server
                    .state
                    .verifier
                    .status_of(&created.transaction_id.0, now),
            )
            .unwrap();
        (out, serde_json::to_value(status).unwrap())
    };

    let (out, status) = answer(json!({}));
    assert_eq!(out["client_id"], kosmos.client_id.as_str(), "{out}");
    assert_eq!(out["client_id_prefix"], "x509_hash");
    assert_eq!(out["status"], 200, "{out}");
    assert_eq!(status["status"], "verified", "{status}");
    assert_eq!(
        status["claims"]["credential"]["age_equal_or_over"]["18"],
        true
    );

    let operator = server.state.verifier.client_id().to_owned();
    let (out, status) = answer(json!({"kb_aud": operator}));
    assert_eq!(out["status"], 400, "{out}");
    assert_eq!(status["status"], "failed", "{status}");
}
