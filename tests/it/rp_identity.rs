//! Each relying party's own identity on the wire (issue 14): parties
//! registered through the admin API (`POST /admin/relying-parties`, demo
//! mode: the demo CA issues their leaves) sign their request objects with
//! their own key, so each carries its own `x509_hash` client id, `x5c`,
//! `client_name` and registration certificate in `verifier_info`;
//! `@openid4vc/openid4vp` as the wallet accepts a party's request and its
//! answer verifies against the party's client id. The identity is the one
//! the store holds now, on every node: a deleted party's pending request is
//! refused, a renamed party is signed as renamed at once.

use serde_json::{Value, json};

use digital_id::crypto::jws::Jws;
use digital_id::crypto::{Algorithm, PublicKey, SigningKey, b64url, sha256};
use digital_id::verifier::IdentityError;
use digital_id::verifier::request::{CreateError, CreateRequest};

use crate::fixture::{API_KEY, InProc, agent};
use crate::relying_parties::{call, common_name, create, futures_block, registered, two_nodes};

const PASSPORT: &str = "urn:ru:digital-id:passport:1";

fn kosmos(server: &InProc) -> Value {
    registered(
        server,
        json!({"name": "Hotel Kosmos",
               "display_name": {"ru": "Гостиница «Космос»", "en": "Hotel Kosmos"},
               "presets": ["age_over_18"],
               "claims": {PASSPORT: [["family_name"]]}}),
    )
}

fn shop(server: &InProc) -> Value {
    registered(
        server,
        json!({"name": "Shop 18+", "presets": ["age_over_18"]}),
    )
}

fn str_of<'a>(v: &'a Value, member: &str) -> &'a str {
    v[member]
        .as_str()
        .unwrap_or_else(|| panic!("{member} in {v}"))
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

/// GETs a request object: 200 and (header, payload, compact JWS), or the
/// error status and body.
fn try_request_object(created: &Value) -> Result<(Value, Value, String), (u16, Value)> {
    let mut resp = agent().get(str_of(created, "request_uri")).call().unwrap();
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap();
    if status != 200 {
        return Err((status, serde_json::from_str(&text).unwrap_or(Value::Null)));
    }
    let part = |i: usize| -> Value {
        let b = digital_id::crypto::b64url_decode(text.split('.').nth(i).unwrap()).unwrap();
        serde_json::from_slice(&b).unwrap()
    };
    Ok((part(0), part(1), text))
}

fn request_object(created: &Value) -> (Value, Value, String) {
    try_request_object(created).unwrap_or_else(|(s, b)| panic!("request object: {s} {b}"))
}

/// A request object that is not served: 400 `invalid_request`.
fn assert_refused(created: &Value, why: &str) {
    match try_request_object(created) {
        Err((status, body)) => {
            assert_eq!(status, 400, "{why}: {body}");
            assert_eq!(body["error"], "invalid_request", "{why}: {body}");
        }
        Ok((_, payload, _)) => panic!("{why}: served, signed as {}", payload["client_id"]),
    }
}

fn der(b64: &Value) -> Vec<u8> {
    openssl::base64::decode_block(b64.as_str().unwrap()).unwrap()
}

fn demo_ca(server: &InProc) -> openssl::x509::X509 {
    openssl::x509::X509::from_der(server.state.verifier.keys.ca_der.as_deref().unwrap()).unwrap()
}

#[test]
fn each_party_signs_its_request_objects_with_its_own_identity() {
    let server = InProc::start();
    let parties = [kosmos(&server), shop(&server)];
    let operator = server.state.verifier.client_id().to_owned();
    let operator_key = server.state.verifier.keys.signing.public().clone();
    let ca = demo_ca(&server);

    let mut seen = Vec::new();
    for (party, name) in parties.iter().zip(["Hotel Kosmos", "Shop 18+"]) {
        let created = create(
            &server,
            str_of(party, "api_key"),
            json!({"preset": "age_over_18"}),
        );
        let (header, payload, jwt) = request_object(&created);
        let leaf_der = der(&header["x5c"][0]);
        let client_id = format!("x509_hash:{}", b64url(sha256(&leaf_der)));
        // The link, the request object, the leaf and the registry agree,
        // and are the party's.
        assert_eq!(payload["client_id"], client_id, "{name}");
        assert_eq!(
            param(str_of(&created, "authorization_request"), "client_id"),
            client_id,
            "{name}"
        );
        assert_eq!(party["client_id"], client_id, "{name}");
        assert_ne!(client_id, operator, "{name}");
        assert_eq!(header["x5c"].as_array().unwrap().len(), 1, "{name}");
        // The leaf: issued by the demo CA, named after the party.
        let leaf = openssl::x509::X509::from_der(&leaf_der).unwrap();
        assert!(leaf.verify(&ca.public_key().unwrap()).unwrap(), "{name}");
        assert_eq!(
            leaf.issuer_name().to_der().unwrap(),
            ca.subject_name().to_der().unwrap()
        );
        assert_eq!(common_name(header["x5c"][0].as_str().unwrap()), name);
        // Signed with the party's key (its public JWK as registered), not
        // the operator's.
        let party_key = PublicKey::from_jwk(&party["public_jwk"]).unwrap();
        let jws = Jws::decode(&jwt).unwrap();
        jws.verify(&party_key).unwrap();
        assert!(jws.verify(&operator_key).is_err(), "{name}");
        // The registration certificate: the operator's, bound to this party
        // and listing its entitlements.
        let info = payload["verifier_info"].as_array().unwrap();
        assert_eq!(info.len(), 1);
        assert_eq!(info[0]["format"], "registration_cert");
        let rc = Jws::decode(info[0]["data"].as_str().unwrap()).unwrap();
        rc.verify(&operator_key).unwrap();
        assert!(rc.verify(&party_key).is_err());
        assert_eq!(rc.typ(), Some("rc-wrp+jwt"));
        let rc = rc.payload_json().unwrap();
        assert_eq!(rc["sub"], client_id);
        assert_eq!(rc["iss"], operator.as_str());
        assert_eq!(rc["name"], name);
        assert_eq!(rc["presets"], json!(["age_over_18"]));
        seen.push((client_id, header["x5c"].clone(), payload, Value::Object(rc)));
    }
    assert_ne!(seen[0].0, seen[1].0);
    assert_ne!(seen[0].1, seen[1].1);
    // Kosmos may also ask for the family name, the shop may not.
    let claims_of = |rc: &Value| -> Vec<Value> {
        let creds = rc["credentials"].as_array().unwrap();
        let passport = creds
            .iter()
            .find(|c| c["meta"]["vct_values"] == json!([PASSPORT]))
            .unwrap_or_else(|| panic!("{rc}"));
        passport["claim"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["path"].clone())
            .collect()
    };
    assert!(claims_of(&seen[0].3).contains(&json!(["family_name"])));
    assert!(!claims_of(&seen[1].3).contains(&json!(["family_name"])));
    let kosmos_meta = &seen[0].2["client_metadata"];
    assert_eq!(kosmos_meta["client_name"], "Hotel Kosmos");
    assert_eq!(kosmos_meta["client_name#ru"], "Гостиница «Космос»");
    assert_eq!(kosmos_meta["client_name#en"], "Hotel Kosmos");
    let shop_meta = &seen[1].2["client_metadata"];
    assert_eq!(shop_meta["client_name"], "Shop 18+");
    assert!(shop_meta.get("client_name#ru").is_none());

    // The built-in party `default` is the operator, unchanged.
    let created = create(&server, API_KEY, json!({"preset": "age_over_18"}));
    assert_eq!(
        param(str_of(&created, "authorization_request"), "client_id"),
        operator
    );
    let (header, payload, jwt) = request_object(&created);
    assert_eq!(payload["client_id"], operator.as_str());
    assert_eq!(
        header["x5c"],
        json!([openssl::base64::encode_block(
            &server.state.verifier.keys.leaf_der
        )])
    );
    Jws::decode(&jwt).unwrap().verify(&operator_key).unwrap();
    assert!(payload.get("verifier_info").is_none());
    assert!(payload["client_metadata"].get("client_name").is_none());
}

#[test]
fn an_unknown_or_deleted_party_never_signs() {
    let server = InProc::start();
    // Never registered: no request is made for it.
    let now = server.state.now();
    for ghost in ["3f9a0c1b2d4e5f607182", "not an id"] {
        let req = CreateRequest {
            preset: Some("age_over_18".into()),
            ..CreateRequest::default()
        };
        let err = futures_block(server.state.verifier.create_as(
            ghost,
            req,
            false,
            Default::default(),
            now,
        ))
        .unwrap_err();
        assert!(
            matches!(err, CreateError::Identity(IdentityError::UnknownParty(_))),
            "{err}"
        );
    }
    // Deleted after creating a request: its request object is not served.
    let party = kosmos(&server);
    let created = create(
        &server,
        str_of(&party, "api_key"),
        json!({"preset": "age_over_18"}),
    );
    let (status, _, _) = call(
        &server,
        "DELETE",
        &format!("/admin/relying-parties/{}", str_of(&party, "id")),
        API_KEY,
        None,
    );
    assert_eq!(status, 204);
    assert_refused(&created, "a deleted party");

    // Renamed after creating a request (a new demo leaf, so a new client
    // id): the old request is not signed under a hash its link does not
    // carry; the next one carries the new identity.
    let party = shop(&server);
    let (id, key) = (str_of(&party, "id"), str_of(&party, "api_key"));
    let before = create(&server, key, json!({"preset": "age_over_18"}));
    let (status, view, _) = call(
        &server,
        "PATCH",
        &format!("/admin/relying-parties/{id}"),
        API_KEY,
        Some(json!({"name": "Shop 18+ renamed"})),
    );
    assert_eq!(status, 200, "{view}");
    assert_ne!(view["client_id"], party["client_id"]);
    assert_refused(&before, "a request made before the rename");
    let fresh = create(&server, key, json!({"preset": "age_over_18"}));
    let (header, payload, _) = request_object(&fresh);
    assert_eq!(
        payload["client_id"],
        format!("x509_hash:{}", b64url(sha256(der(&header["x5c"][0]))))
    );
    assert_eq!(payload["client_id"], view["client_id"]);
    assert_eq!(
        payload["client_metadata"]["client_name"],
        "Shop 18+ renamed"
    );
}

/// Two nodes on one PostgreSQL schema. Node B has the party's identity in
/// hand (it made and served its requests); the operator renames the party
/// on node A: B signs with the new identity at once and refuses the request
/// made under the old one. The operator deletes the party on A: its pending
/// request is refused on B (and on A), although B made it.
#[test]
fn a_rename_or_deletion_on_one_node_holds_on_the_other_at_once() {
    let (_schema, a, b) = two_nodes();
    let party = shop(&a);
    let (id, key) = (str_of(&party, "id"), str_of(&party, "api_key"));
    let ask = || create(&b, key, json!({"preset": "age_over_18"}));

    let (header, payload, _) = request_object(&ask());
    assert_eq!(payload["client_id"], party["client_id"]);
    assert_eq!(common_name(header["x5c"][0].as_str().unwrap()), "Shop 18+");
    let pending = ask();

    let (status, view, _) = call(
        &a,
        "PATCH",
        &format!("/admin/relying-parties/{id}"),
        API_KEY,
        Some(json!({"name": "Shop 18+ renamed"})),
    );
    assert_eq!(status, 200, "{view}");
    assert_ne!(view["client_id"], party["client_id"]);
    let renamed = ask();
    assert_eq!(
        param(str_of(&renamed, "authorization_request"), "client_id"),
        str_of(&view, "client_id")
    );
    let (header, payload, jwt) = request_object(&renamed);
    assert_eq!(payload["client_id"], view["client_id"]);
    assert_eq!(
        common_name(header["x5c"][0].as_str().unwrap()),
        "Shop 18+ renamed"
    );
    assert_eq!(
        payload["client_metadata"]["client_name"],
        "Shop 18+ renamed"
    );
    let rc = Jws::decode(payload["verifier_info"][0]["data"].as_str().unwrap()).unwrap();
    assert_eq!(rc.payload_json().unwrap()["name"], "Shop 18+ renamed");
    // Same key, new leaf.
    let party_key = PublicKey::from_jwk(&view["public_jwk"]).unwrap();
    Jws::decode(&jwt).unwrap().verify(&party_key).unwrap();
    assert_refused(&pending, "made on B before the rename on A");

    // B makes two requests (the current identity in its hand), A deletes
    // the party; neither node serves them.
    let on_b = ask();
    let on_a = ask();
    let (status, _, _) = call(
        &a,
        "DELETE",
        &format!("/admin/relying-parties/{id}"),
        API_KEY,
        None,
    );
    assert_eq!(status, 204);
    assert_refused(&on_b, "a party deleted on A, on B");
    // The same request URI path, asked of node A.
    let on_a = json!({"request_uri": str_of(&on_a, "request_uri").replace(&b.url(""), &a.url(""))});
    assert!(str_of(&on_a, "request_uri").starts_with(&a.url("")));
    assert_refused(&on_a, "a party deleted on A, on A");
}

/// `@openid4vc/openid4vp` as the wallet, trusting the demo CA only: it
/// fetches a registered party's request object, computes the x509_hash of
/// its leaf itself, and answers with a KB-JWT for the party's client id;
/// the answer verifies. The same answer bound to another party's client id
/// fails.
#[test]
fn a_library_wallet_accepts_a_partys_request_and_its_answer_verifies() {
    let server = crate::interop::real_time_server();
    let party = kosmos(&server);
    let other = shop(&server);
    let key = str_of(&party, "api_key");
    let holder = SigningKey::generate(Algorithm::Es256).unwrap();
    let issued = crate::issuer::wallet::issue_one(&server, "ivanov-ivan", "ru.passport", &holder);
    let credential = issued.body["credentials"][0]["credential"]
        .as_str()
        .unwrap()
        .to_owned();
    let ca_pem = String::from_utf8(demo_ca(&server).to_pem().unwrap()).unwrap();
    let answer = |overrides: Value| {
        let created = create(&server, key, json!({"preset": "age_over_18"}));
        let input = json!({
            "authorization_request": created["authorization_request"],
            "credentials": [credential],
            "holder_jwk": holder.to_private_jwk(),
            "x509_trust": {"ca_pem": ca_pem},
            "overrides": overrides,
        });
        let out = crate::interop::node("wallet_vp.mjs", &input)
            .unwrap_or_else(|e| panic!("the @openid4vc/openid4vp wallet failed: {e}"));
        let (status, view, _) = call(
            &server,
            "GET",
            &format!("/verifier/requests/{}", str_of(&created, "transaction_id")),
            key,
            None,
        );
        assert_eq!(status, 200, "{view}");
        (out, view)
    };

    let (out, status) = answer(json!({}));
    assert_eq!(out["client_id"], party["client_id"], "{out}");
    assert_eq!(out["client_id_prefix"], "x509_hash");
    assert_eq!(out["status"], 200, "{out}");
    assert_eq!(status["status"], "verified", "{status}");
    assert_eq!(
        status["claims"]["credential"]["age_equal_or_over"]["18"],
        true
    );

    for aud in [
        str_of(&other, "client_id"),
        server.state.verifier.client_id(),
    ] {
        let (out, status) = answer(json!({"kb_aud": aud}));
        assert_eq!(out["status"], 400, "{aud}: {out}");
        assert_eq!(status["status"], "failed", "{aud}: {status}");
    }
}

/// A demo-CA leaf is renewed once less than 30 days of it are left: the
/// requests made then carry a new leaf (for the same key) valid a year
/// more, and a registration certificate that is not about to expire.
#[test]
fn a_demo_leaf_is_renewed_before_it_expires() {
    const DAY: i64 = 86_400;
    let server = InProc::start();
    let party = shop(&server);
    let key = str_of(&party, "api_key").to_owned();
    let leaf_of = |header: &Value| openssl::x509::X509::from_der(&der(&header["x5c"][0])).unwrap();
    let (header, first, _) =
        request_object(&create(&server, &key, json!({"preset": "age_over_18"})));
    let leaf = leaf_of(&header);
    let year = openssl::asn1::Asn1Time::from_unix(crate::fixture::T0 + 365 * DAY).unwrap();
    assert!(leaf.not_after() == year.as_ref(), "{}", leaf.not_after());

    // 31 days left: kept.
    server.clock.advance(334 * DAY);
    let (_, same, _) = request_object(&create(&server, &key, json!({"preset": "age_over_18"})));
    assert_eq!(same["client_id"], first["client_id"]);
    // 29 days left: renewed.
    server.clock.advance(2 * DAY);
    let now = server.state.now();
    let (header, renewed, _) =
        request_object(&create(&server, &key, json!({"preset": "age_over_18"})));
    assert_ne!(renewed["client_id"], first["client_id"]);
    let leaf = leaf_of(&header);
    let next_year = openssl::asn1::Asn1Time::from_unix(now + 365 * DAY).unwrap();
    assert!(
        leaf.not_after() == next_year.as_ref(),
        "{}",
        leaf.not_after()
    );
    assert!(
        leaf.verify(&demo_ca(&server).public_key().unwrap())
            .unwrap()
    );
    let rc = renewed["verifier_info"][0]["data"].as_str().unwrap();
    let rc = Jws::decode(rc).unwrap().payload_json().unwrap();
    assert_eq!(rc["sub"], renewed["client_id"]);
    assert!(rc["exp"].as_i64().unwrap() > now + 300 * DAY, "{rc:?}");
    // The admin view shows the renewed client id.
    let (_, view, _) = call(
        &server,
        "GET",
        &format!("/admin/relying-parties/{}", str_of(&party, "id")),
        API_KEY,
        None,
    );
    assert_eq!(view["client_id"], renewed["client_id"]);
}
