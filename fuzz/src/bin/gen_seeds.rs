//! Writes the seeds of `dcql_query`, `vp_response` and `credential_request`
//! into `fuzz/seeds/<target>/`, each made with the library for the fixed
//! keys, nonces and clock of the harness, and each checked by running it
//! through its target's harness function (a seed that stops doing what its
//! name says fails the generator):
//!
//! ```sh
//! cargo run --release --manifest-path fuzz/Cargo.toml --features gen-seeds --bin gen_seeds
//! ```

use std::path::{Path, PathBuf};

use digital_id::crypto::{SigningKey, did_key, jws};
use digital_id::issuer::{Grant, credential, ns};
use digital_id::registry::{IdentityProofing, SubjectId};
use digital_id::sdjwt::{ClaimPath, HolderCredential, KeyBinding};
use digital_id::store::{Store, to_bytes};
use digital_id::verifier::dcql::DcqlQuery;
use digital_id::verifier::jwe;
use digital_id::verifier::transaction::{Outcome, ResponseMode};
use digital_id_fuzz::{
    ACCESS_TOKEN, C_NONCE, HOLDER_ED_KEY, HOLDER_KEY, HOLDER2_KEY, NOW, PUBLIC_URL, VP_CLIENT_ID,
    VP_NONCE, VP_STATE, World, key,
};
use serde_json::{Map, Value, json};

/// A pensioner of the demo registry, and the token of a grant for her
/// (only for the presentation seeds).
const PENSIONER: &str = "smirnova-olga";
const PENSIONER_TOKEN: &str = "gen-seeds-pensioner-token";

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds");
    dcql_seeds(&root.join("dcql_query"));
    let credentials = credential_seeds(&root.join("credential_request"));
    vp_seeds(&root.join("vp_response"), &credentials);
}

fn dir(path: &Path) -> PathBuf {
    if path.exists() {
        std::fs::remove_dir_all(path).expect("the old seeds are removed");
    }
    std::fs::create_dir_all(path).expect("a seed directory");
    path.to_owned()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::write(dir.join(name), bytes).expect("a seed file");
    println!("{}/{name}", dir.display());
}

// ------------------------------------------------------------ dcql_query

/// The presets, the OpenID4VP 1.0 §6 / Appendix D examples in the SD-JWT
/// VC format, and the members this verifier supports besides.
fn dcql_seeds(out: &Path) {
    let out = dir(out);
    let mut seeds: Vec<(String, Value)> = digital_id::verifier::presets::Preset::ALL
        .iter()
        .map(|p| (format!("preset_{}", p.name()), json!({"preset": p.name()})))
        .collect();
    let identity = "https://credentials.example.com/identity_credential";
    let examples = [
        (
            "spec_simple",
            json!({"credentials": [{"id": "my_credential", "format": "dc+sd-jwt",
            "meta": {"vct_values": [identity]},
            "claims": [{"path": ["last_name"]}, {"path": ["first_name"]}, {"path": ["address", "street_address"]}]}]}),
        ),
        (
            "spec_credential_sets",
            json!({"credentials": [
            {"id": "pid", "format": "dc+sd-jwt", "meta": {"vct_values": [identity]},
             "claims": [{"path": ["given_name"]}, {"path": ["family_name"]}, {"path": ["address", "street_address"]}]},
            {"id": "other_pid", "format": "dc+sd-jwt", "meta": {"vct_values": ["https://othercredentials.example/pid"]},
             "claims": [{"path": ["given_name"]}, {"path": ["family_name"]}, {"path": ["address", "street_address"]}]},
            {"id": "pid_reduced_cred_1", "format": "dc+sd-jwt", "meta": {"vct_values": ["https://credentials.example.com/reduced_identity_credential"]},
             "claims": [{"path": ["family_name"]}, {"path": ["given_name"]}]},
            {"id": "pid_reduced_cred_2", "format": "dc+sd-jwt", "meta": {"vct_values": ["https://cred.example/residence_credential"]},
             "claims": [{"path": ["postal_code"]}, {"path": ["locality"]}, {"path": ["region"]}]},
            {"id": "nice_to_have", "format": "dc+sd-jwt", "meta": {"vct_values": ["https://company.example/company_rewards"]},
             "claims": [{"path": ["rewards_number"]}]}],
            "credential_sets": [
                {"options": [["pid"], ["other_pid"], ["pid_reduced_cred_1", "pid_reduced_cred_2"]]},
                {"required": false, "options": [["nice_to_have"]]}]}),
        ),
        (
            "spec_claim_sets",
            json!({"credentials": [{"id": "pid", "format": "dc+sd-jwt",
            "meta": {"vct_values": [identity]},
            "claims": [{"id": "a", "path": ["last_name"]}, {"id": "b", "path": ["postal_code"]},
                       {"id": "c", "path": ["locality"]}, {"id": "d", "path": ["region"]},
                       {"id": "e", "path": ["date_of_birth"]}],
            "claim_sets": [["a", "c", "d", "e"], ["a", "b", "e"]]}]}),
        ),
        (
            "spec_values",
            json!({"credentials": [{"id": "my_credential", "format": "dc+sd-jwt",
            "meta": {"vct_values": [identity]},
            "claims": [{"path": ["last_name"]}, {"path": ["first_name"]},
                       {"path": ["address", "postal_code"], "values": ["90210", "90211"]}]}]}),
        ),
        (
            "spec_trusted_authorities",
            json!({"credentials": [{"id": "my_credential", "format": "dc+sd-jwt",
            "meta": {"vct_values": [identity]},
            "trusted_authorities": [{"type": "aki", "values": ["s9tIpPmhxdiuNkHMEWNpYim8S8Y"]}],
            "claims": [{"path": ["last_name"]}]}]}),
        ),
        (
            "arrays_multiple_no_binding",
            json!({"credentials": [{"id": "dl", "format": "dc+sd-jwt",
            "multiple": true, "require_cryptographic_holder_binding": false,
            "meta": {"vct_values": ["urn:ru:digital-id:driving-licence:1"]},
            "claims": [{"path": ["driving_privileges", null, "category"], "values": ["B", "C"]},
                       {"path": ["driving_privileges", 0, "issue_date"]},
                       {"path": ["age_in_years"], "values": [18, 21, true]}]}]}),
        ),
    ];
    for (name, query) in examples {
        seeds.push((name.into(), json!({"dcql_query": query})));
    }
    seeds.push((
        "direct_post_with_callback".into(),
        json!({"preset": "identity", "response_mode": "direct_post",
            "callback_url": "https://rp.example.ru/vp-result"}),
    ));
    seeds.push((
        "bare_query".into(),
        digital_id::verifier::presets::Preset::HotelCheckIn
            .query()
            .credentials
            .first()
            .map(|c| json!({"credentials": [c]}))
            .expect("a preset has a Credential Query"),
    ));
    for (name, body) in seeds {
        let bytes = serde_json::to_vec_pretty(&body).expect("JSON");
        assert!(
            digital_id_fuzz::dcql_query(&bytes).is_some(),
            "dcql_query seed {name} is refused"
        );
        write(&out, &format!("{name}.json"), &bytes);
    }
}

// ------------------------------------------------------------ credential_request

/// A key proof (OpenID4VCI 1.0 Appendix F.1) by `holder`, naming its key
/// by `jwk` or by did:key `kid`.
fn proof(holder: &SigningKey, by_kid: bool, nonce: &str) -> String {
    let mut header = Map::new();
    header.insert("typ".into(), "openid4vci-proof+jwt".into());
    if by_kid {
        header.insert(
            "kid".into(),
            did_key::verification_method(holder.public()).into(),
        );
    } else {
        header.insert("jwk".into(), holder.public().jwk_for_publication());
    }
    let claims = json!({"aud": PUBLIC_URL, "iat": NOW, "nonce": nonce});
    jws::sign(holder, &header, claims.to_string().as_bytes()).expect("a key proof")
}

/// Requests for each document the subject holds (and one it does not), by
/// `jwk`, did:key and EdDSA proofs, a batch, and refused shapes worth
/// mutating from. Returns the issued passport and driving licence.
fn credential_seeds(out: &Path) -> Vec<(String, String)> {
    let out = dir(out);
    let holder = key(HOLDER_KEY);
    let holder2 = key(HOLDER2_KEY);
    let holder_ed = key(HOLDER_ED_KEY);
    let request = |id: &str, proofs: Vec<String>| json!({"credential_configuration_id": id, "proofs": {"jwt": proofs}});
    let seeds: Vec<(&str, Value, Result<usize, &str>)> = vec![
        (
            "passport_jwk",
            request("ru.passport", vec![proof(&holder, false, C_NONCE)]),
            Ok(1),
        ),
        (
            "passport_did_key",
            request("ru.passport", vec![proof(&holder, true, C_NONCE)]),
            Ok(1),
        ),
        (
            "passport_eddsa",
            request("ru.passport", vec![proof(&holder_ed, false, C_NONCE)]),
            Ok(1),
        ),
        (
            "passport_batch",
            request(
                "ru.passport",
                vec![
                    proof(&holder, false, C_NONCE),
                    proof(&holder2, true, C_NONCE),
                ],
            ),
            Ok(2),
        ),
        (
            "driving_licence",
            request("ru.driving_licence", vec![proof(&holder, false, C_NONCE)]),
            Ok(1),
        ),
        (
            "snils",
            request("ru.snils", vec![proof(&holder, false, C_NONCE)]),
            Ok(1),
        ),
        (
            "oms",
            request("ru.oms", vec![proof(&holder, false, C_NONCE)]),
            Ok(1),
        ),
        (
            "inn",
            request("ru.inn", vec![proof(&holder, true, C_NONCE)]),
            Ok(1),
        ),
        (
            "refused_not_a_pensioner",
            request("ru.pensioner_status", vec![proof(&holder, false, C_NONCE)]),
            Err("credential_request_denied"),
        ),
        (
            "refused_stale_nonce",
            request("ru.passport", vec![proof(&holder, false, "an-old-c-nonce")]),
            Err("invalid_nonce"),
        ),
        (
            "refused_same_key_twice",
            request(
                "ru.passport",
                vec![
                    proof(&holder, false, C_NONCE),
                    proof(&holder, true, C_NONCE),
                ],
            ),
            Err("invalid_proof"),
        ),
        (
            "refused_credential_identifier",
            json!({"credential_identifier": "passport-1", "proofs": {"jwt": [proof(&holder, false, C_NONCE)]}}),
            Err("unknown_credential_identifier"),
        ),
    ];
    for (name, body, expected) in seeds {
        let bytes = serde_json::to_vec_pretty(&body).expect("JSON");
        let got = digital_id_fuzz::credential_request(&bytes);
        assert_eq!(got, expected, "credential_request seed {name}");
        write(&out, &format!("{name}.json"), &bytes);
    }
    // The credentials the presentations are made of, issued to `holder`;
    // the pension certificate is another subject's (a second token).
    let w = World::get();
    let pensioner = Grant {
        subject_id: SubjectId(PENSIONER.into()),
        credential_configuration_ids: vec!["ru.pensioner_status".into()],
        credential_identifiers: Default::default(),
        datasets: Default::default(),
        client_id: None,
        identity_proofing: IdentityProofing::Biometric,
    };
    w.block_on(w.store.put(
        ns::ACCESS_TOKEN,
        w.keys.store_secret.key(PENSIONER_TOKEN),
        to_bytes(&pensioner).expect("a grant record"),
        None,
    ))
    .expect("the pensioner's access token");
    [
        ("ru.passport", ACCESS_TOKEN),
        ("ru.driving_licence", ACCESS_TOKEN),
        ("ru.inn", ACCESS_TOKEN),
        ("ru.pensioner_status", PENSIONER_TOKEN),
    ]
    .into_iter()
    .map(|(id, token)| {
        w.reset_issuance();
        let body = request(id, vec![proof(&holder, false, C_NONCE)]);
        let response = w
            .block_on(credential::issue(
                &w.issuer(),
                Some(token),
                body.to_string().as_bytes(),
            ))
            .expect("a credential for the presentation seeds");
        (id.to_owned(), response.credentials[0].credential.clone())
    })
    .collect()
}

// ------------------------------------------------------------ vp_response

/// A presentation of `credential` answering the claims of `query`, bound to
/// the transaction's client_id and nonce.
fn present(credential: &str, query: &digital_id::verifier::dcql::CredentialQuery) -> String {
    let holder = key(HOLDER_KEY);
    let selection: Vec<ClaimPath> = query
        .claims
        .iter()
        .flatten()
        .map(|c| c.path.clone())
        .collect();
    HolderCredential::parse(credential)
        .expect("an issued credential parses")
        .present(
            &selection,
            Some(&KeyBinding {
                holder: &holder,
                aud: VP_CLIENT_ID,
                nonce: VP_NONCE,
                iat: NOW,
            }),
        )
        .expect("a presentation")
}

fn form(pairs: &[(&str, &str)]) -> Vec<u8> {
    serde_urlencoded::to_string(pairs)
        .expect("a form body")
        .into_bytes()
}

/// For every query of the harness: a valid `direct_post` and
/// `direct_post.jwt` answer (A128GCM and A256GCM), wallet errors plain and
/// encrypted, the spec's example JWE; and the request objects the verifier
/// signs, by `x5c` and by did:key `kid`.
/// Seed names of the harness's queries: the presets, then its extra ones.
const QUERY_NAMES: &[&str] = &[
    "age_over_18",
    "hotel_check_in",
    "pensioner_status",
    "identity",
    "claim_sets_multiple",
    "no_holder_binding",
];

fn vp_seeds(out: &Path, credentials: &[(String, String)]) {
    let out = dir(out);
    let w = World::get();
    let public = jwe::public_jwk(&w.response_key);
    let credential_for = |vct: &str| {
        let id = digital_id::catalogue::find_by_vct(vct)
            .expect("a catalogue vct")
            .id;
        credentials
            .iter()
            .find(|(c, _)| c == id)
            .map(|(_, c)| c.as_str())
    };
    let check = |name: String, data: Vec<u8>, verified: Option<bool>| {
        let outcome = digital_id_fuzz::vp_response(&data);
        match (verified, &outcome) {
            (Some(true), Some(Outcome::Verified { .. })) => {}
            (Some(false), Some(Outcome::Failed { .. })) | (None, None) => {}
            _ => panic!("vp_response seed {name}: {outcome:?}"),
        }
        write(&out, &name, &data);
    };
    assert_eq!(QUERY_NAMES.len(), w.queries.len(), "a name per query");
    for (q, query) in w.queries.iter().enumerate() {
        let name = QUERY_NAMES[q];
        let mut vp_token = Map::new();
        for c in &query.credentials {
            let vct = &c.meta.vct_values.as_ref().expect("vct_values")[0];
            if let Some(credential) = credential_for(vct) {
                vp_token.insert(c.id.clone(), json!([present(credential, c)]));
            }
        }
        let vp_token = Value::Object(vp_token);
        let post = |body: Vec<u8>| {
            let mut data = vec![digital_id_fuzz::vp_selector(
                w,
                Some((q, ResponseMode::DirectPost)),
            )];
            data.extend(body);
            data
        };
        let jwt = |body: Vec<u8>| {
            let mut data = vec![digital_id_fuzz::vp_selector(
                w,
                Some((q, ResponseMode::DirectPostJwt)),
            )];
            data.extend(body);
            data
        };
        check(
            format!("{name}.direct_post"),
            post(form(&[
                ("vp_token", &vp_token.to_string()),
                ("state", VP_STATE),
            ])),
            Some(true),
        );
        for enc in jwe::ENC_VALUES {
            let payload = json!({"vp_token": vp_token, "state": VP_STATE});
            let sealed = jwe::encrypt(&payload, &public, enc).expect("a JWE");
            check(
                format!("{name}.direct_post_jwt_{enc}"),
                jwt(form(&[("response", &sealed)])),
                Some(true),
            );
        }
        if q == 0 {
            let error = [
                ("error", "access_denied"),
                ("error_description", "the holder declined"),
                ("state", VP_STATE),
            ];
            check(
                "wallet_error_direct_post".into(),
                post(form(&error)),
                Some(false),
            );
            check(
                "wallet_error_direct_post_jwt_plain".into(),
                jwt(form(&error)),
                Some(false),
            );
            let sealed = jwe::encrypt(
                &json!({"error": "access_denied", "state": VP_STATE}),
                &public,
                "A128GCM",
            )
            .expect("a JWE");
            check(
                "wallet_error_direct_post_jwt".into(),
                jwt(form(&[("response", &sealed)])),
                Some(false),
            );
            // OpenID4VP 1.0 §8.3: the example response for the example key.
            let spec = concat!(
                "eyJhbGciOiJFQ0RILUVTIiwiZW5jIjoiQTEyOEdDTSIsImtpZCI6ImFjIiwiZXBrIjp7Imt",
                "0eSI6IkVDIiwieCI6Im5ubVZwbTNWM2piaGNhZlFhUkJrU1ZOSGx3Wkh3dC05ck9wSnVmeVlJdWsiLCJ5I",
                "joicjRmakRxd0p5czlxVU9QLV9iM21SNVNaRy0tQ3dPMm1pYzVWU05UWU45ZyIsImNydiI6IlAtMjU2In1",
                "9..uAYcHRUSSn2X0WPX.yVzlGSYG4qbg0bq18JcUiDRw56yVnbKR8E7S7YlEtzT00RqE3Pw5oTpUG3hdLN",
                "4taHZ9gC1kwak8JOnJgQ.1wR024_3-qtAlx1oFIUpQQ"
            );
            check(
                "spec_example_jwe".into(),
                jwt(form(&[("response", spec)])),
                Some(false),
            );
        }
    }
    // Request objects: the verifier's own (x5c header) for each mode, and
    // one signed under a did:key `kid` (decentralized_identifier).
    let selector = digital_id_fuzz::vp_selector(w, None);
    for (name, mode) in [
        (
            "request_object_direct_post_jwt",
            ResponseMode::DirectPostJwt,
        ),
        ("request_object_direct_post", ResponseMode::DirectPost),
    ] {
        let tx = w.transaction(&w.queries[4], mode);
        let jwt = w
            .verifier
            .sign_request_object(&tx, Some("wallet-nonce-1"), NOW)
            .expect("a request object");
        let mut data = vec![selector];
        data.extend(jwt.into_bytes());
        check(name.into(), data, None);
    }
    let signer = key(digital_id_fuzz::VERIFIER_KEY);
    let mut header = Map::new();
    header.insert("typ".into(), "oauth-authz-req+jwt".into());
    header.insert(
        "kid".into(),
        did_key::verification_method(signer.public()).into(),
    );
    let query: &DcqlQuery = &w.queries[1];
    let claims = json!({"aud": "https://self-issued.me/v2",
        "client_id": format!("decentralized_identifier:{}", did_key::encode(signer.public())),
        "response_type": "vp_token", "response_mode": "direct_post.jwt",
        "response_uri": format!("{PUBLIC_URL}/oid4vp/responses/fuzz-request"),
        "nonce": VP_NONCE, "state": VP_STATE, "dcql_query": query,
        "client_metadata": {"jwks": {"keys": [public]},
            "encrypted_response_enc_values_supported": ["A256GCM"]},
        "iat": NOW, "exp": NOW + 30});
    let jwt = jws::sign(&signer, &header, claims.to_string().as_bytes()).expect("a JWS");
    let mut data = vec![selector];
    data.extend(jwt.into_bytes());
    check("request_object_did_key".into(), data, None);
}
