//! Interop with SD-JWT libraries other people wrote, both directions, KB-JWT
//! included: the Python reference implementation (PyPI `sd-jwt`) and the
//! OpenWallet Foundation's `@sd-jwt/sd-jwt-vc` (npm). The peers are driven
//! through `tests/interop/{python,node}` (installed by `scripts/test`, or by
//! `tests/interop/install.sh`).

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use digital_id::cli::unix_now;
use digital_id::crypto::{Algorithm, SigningKey};
use digital_id::sdjwt::{
    self, ClaimPath, HolderCredential, IssueOptions, KeyBinding, RandomSalts, VerifyError,
    VerifyPolicy,
};
use serde_json::{Map, Value, json};

const AUD: &str = "x509_hash:verifier.example";
const NONCE: &str = "nonce-Ж-0123456789";

#[derive(Clone, Copy, Debug)]
enum Peer {
    Python,
    Node,
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

impl Peer {
    fn command(self) -> Command {
        let r = root();
        match self {
            Peer::Python => {
                let py = r.join("tests/interop/python/.venv/bin/python");
                assert!(
                    py.exists(),
                    "the Python peer is not installed: run tests/interop/install.sh (scripts/test does)"
                );
                let mut c = Command::new(py);
                c.arg(r.join("tests/interop/python/sdjwt_peer.py"));
                c
            }
            Peer::Node => {
                assert!(
                    r.join("tests/interop/node/node_modules/@sd-jwt/sd-jwt-vc")
                        .exists(),
                    "the npm peer is not installed: run tests/interop/install.sh (scripts/test does)"
                );
                let mut c = Command::new("node");
                c.arg(r.join("tests/interop/node/sdjwt_peer.mjs"));
                c
            }
        }
    }

    /// Runs `issue` or `verify`; `Ok` with the output on exit 0, `Err` with it otherwise.
    fn call(self, verb: &str, input: &Value) -> Result<Value, Value> {
        let mut child = self
            .command()
            .arg(verb)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the peer");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.to_string().as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let value: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
            panic!(
                "{self:?} {verb} printed no JSON: {}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        if out.status.success() {
            Ok(value)
        } else {
            Err(value)
        }
    }
}

fn passport() -> Map<String, Value> {
    json!({
        "family_name": "Иванова-Петрова",
        "given_name": "Мария",
        "patronymic": "Сергеевна",
        "birthdate": "1990-03-14",
        "document_number": "4510 123456",
        "resident_address": {"locality": "г. Казань", "street_address": "ул. Баумана, д. 1, кв. 5"},
        "nationalities": ["RU"],
    })
    .as_object()
    .unwrap()
    .clone()
}

fn base_claims(holder: &SigningKey, now: i64) -> Map<String, Value> {
    let mut c = Map::new();
    c.insert("iss".into(), json!("https://issuer.example"));
    c.insert("vct".into(), json!("urn:ru:digital-id:passport:1"));
    c.insert("iat".into(), json!(now - 5));
    c.insert("exp".into(), json!(now + 3600));
    c.insert(
        "cnf".into(),
        json!({"jwk": Value::Object(holder.public().jwk().clone())}),
    );
    c
}

fn paths(list: &[Value]) -> Vec<ClaimPath> {
    list.iter()
        .map(|p| serde_json::from_value(p.clone()).unwrap())
        .collect()
}

/// Ours issues and presents; the peer verifies and returns the same claims.
fn ours_to_peer(peer: Peer, issuer_alg: Algorithm) {
    let issuer = SigningKey::generate(issuer_alg).unwrap();
    let holder = SigningKey::generate(Algorithm::Es256).unwrap();
    let now = unix_now();
    let mut claims = base_claims(&holder, now);
    claims.extend(passport());
    let sd = paths(&[
        json!(["family_name"]),
        json!(["given_name"]),
        json!(["patronymic"]),
        json!(["birthdate"]),
        json!(["document_number"]),
        json!(["resident_address"]),
        json!(["resident_address", "locality"]),
        json!(["resident_address", "street_address"]),
        json!(["nationalities", null]),
    ]);
    let issued = sdjwt::issue(
        &issuer,
        claims,
        &sd,
        &IssueOptions::default(),
        &mut RandomSalts,
    )
    .unwrap();
    let credential = HolderCredential::parse(&issued.compact).unwrap();
    let selection = paths(&[
        json!(["family_name"]),
        json!(["given_name"]),
        json!(["resident_address"]),
    ]);
    let kb = KeyBinding {
        holder: &holder,
        aud: AUD,
        nonce: NONCE,
        iat: now,
    };
    let presentation = credential.present(&selection, Some(&kb)).unwrap();

    let input = json!({
        "presentation": presentation,
        "issuer_jwk": Value::Object(issuer.public().jwk().clone()),
        "aud": AUD,
        "nonce": NONCE,
    });
    let out = peer
        .call("verify", &input)
        .unwrap_or_else(|e| panic!("{peer:?} rejected our presentation: {e}"));
    let got = &out["claims"];
    assert_eq!(got["family_name"], "Иванова-Петрова");
    assert_eq!(got["given_name"], "Мария");
    assert_eq!(
        got["resident_address"]["street_address"],
        "ул. Баумана, д. 1, кв. 5"
    );
    for hidden in ["patronymic", "birthdate", "document_number"] {
        assert!(
            got.get(hidden).is_none(),
            "{peer:?} saw undisclosed {hidden}"
        );
    }
    // The array itself is plain; its one element is disclosable and withheld.
    assert_eq!(got["nationalities"], json!([]));

    // The peer must also reject what we would reject: a wrong nonce.
    let wrong = json!({"presentation": input["presentation"], "issuer_jwk": input["issuer_jwk"], "aud": AUD, "nonce": "other"});
    assert!(
        peer.call("verify", &wrong).is_err(),
        "{peer:?} accepted a presentation for another nonce"
    );
}

/// The peer issues and presents; ours verifies (KB required). Then ours acts
/// as the holder of the peer's credential and the peer verifies that.
fn peer_to_ours(peer: Peer, issuer_alg: Algorithm) {
    let issuer = SigningKey::generate(issuer_alg).unwrap();
    let holder = SigningKey::generate(Algorithm::Es256).unwrap();
    let now = unix_now();
    let input = json!({
        "issuer_jwk": issuer.to_private_jwk(),
        "holder_jwk": holder.to_private_jwk(),
        "iss": "https://issuer.example",
        "vct": "urn:ru:digital-id:passport:1",
        "typ": "dc+sd-jwt",
        "iat": now - 5,
        "exp": now + 3600,
        "claims": Value::Object(passport()),
        "disclose": ["family_name", "patronymic", "resident_address"],
        "aud": AUD,
        "nonce": NONCE,
    });
    let out = peer
        .call("issue", &input)
        .unwrap_or_else(|e| panic!("{peer:?} could not issue: {e}"));
    let presentation = out["presentation"].as_str().unwrap();
    let policy = VerifyPolicy::sd_jwt_vc(unix_now()).with_key_binding(AUD, NONCE);
    let v = sdjwt::verify(presentation, issuer.public(), &policy)
        .unwrap_or_else(|e| panic!("we rejected {peer:?}'s presentation: {e}"));
    assert_eq!(v.claims["family_name"], "Иванова-Петрова");
    assert_eq!(v.claims["patronymic"], "Сергеевна");
    assert_eq!(v.claims["resident_address"]["locality"], "г. Казань");
    for hidden in [
        "given_name",
        "birthdate",
        "document_number",
        "nationalities",
    ] {
        assert!(
            !v.claims.contains_key(hidden),
            "undisclosed {hidden} reached us"
        );
    }
    // A wrong nonce fails with exactly that rule.
    let other = VerifyPolicy::sd_jwt_vc(unix_now()).with_key_binding(AUD, "other");
    assert_eq!(
        sdjwt::verify(presentation, issuer.public(), &other).unwrap_err(),
        VerifyError::Kb(sdjwt::KbError::WrongNonce)
    );

    // Ours as the holder of the peer's credential, the peer as verifier.
    let full = out["sd_jwt"].as_str().unwrap();
    let credential = HolderCredential::parse(full).unwrap();
    let kb = KeyBinding {
        holder: &holder,
        aud: AUD,
        nonce: NONCE,
        iat: unix_now(),
    };
    let ours = credential
        .present(
            &paths(&[json!(["birthdate"]), json!(["nationalities"])]),
            Some(&kb),
        )
        .unwrap();
    let check = json!({
        "presentation": ours,
        "issuer_jwk": Value::Object(issuer.public().jwk().clone()),
        "aud": AUD,
        "nonce": NONCE,
    });
    let verified = peer
        .call("verify", &check)
        .unwrap_or_else(|e| panic!("{peer:?} rejected our holder presentation: {e}"));
    assert_eq!(verified["claims"]["birthdate"], "1990-03-14");
    assert_eq!(verified["claims"]["nationalities"], json!(["RU"]));
    assert!(verified["claims"].get("family_name").is_none());
}

#[test]
fn python_verifies_ours_es256() {
    ours_to_peer(Peer::Python, Algorithm::Es256);
}

#[test]
fn python_verifies_ours_eddsa_issuer() {
    ours_to_peer(Peer::Python, Algorithm::EdDsa);
}

#[test]
fn node_verifies_ours_es256() {
    ours_to_peer(Peer::Node, Algorithm::Es256);
}

#[test]
fn node_verifies_ours_eddsa_issuer() {
    ours_to_peer(Peer::Node, Algorithm::EdDsa);
}

#[test]
fn ours_verifies_python_es256() {
    peer_to_ours(Peer::Python, Algorithm::Es256);
}

#[test]
fn ours_verifies_node_es256() {
    peer_to_ours(Peer::Node, Algorithm::Es256);
}

#[test]
fn ours_verifies_node_eddsa_issuer() {
    peer_to_ours(Peer::Node, Algorithm::EdDsa);
}

#[test]
fn ours_verifies_python_eddsa_issuer() {
    peer_to_ours(Peer::Python, Algorithm::EdDsa);
}

/// Our DCQL matching agrees with the `dcql` npm package on the OpenID4VP 1.0
/// spec's example queries and targeted cases (`tests/interop/openid4vc/dcql_vectors.json`,
/// generated by `dcql_check.mjs`). Where the package departs from the spec's
/// claims path rules the vector carries `spec_result`, and we follow the spec.
#[test]
fn dcql_matching_agrees_with_the_dcql_package() {
    use digital_id::verifier::dcql::DcqlQuery;
    let path = root().join("tests/interop/openid4vc/dcql_vectors.json");
    let vectors: Vec<Value> = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    assert!(vectors.len() >= 20);
    let mut compared = 0;
    for v in &vectors {
        let name = v["name"].as_str().unwrap();
        let expected = v.get("spec_result").unwrap_or(&v["result"]);
        let query = match DcqlQuery::from_value(&v["query"]) {
            Ok(q) => q,
            Err(e) => {
                // We refuse queries for formats other than dc+sd-jwt up
                // front; over SD-JWT candidates such queries match nothing.
                let formats: Vec<&str> = v["query"]["credentials"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter_map(|c| c["format"].as_str())
                    .collect();
                assert!(
                    formats.iter().any(|f| *f != "dc+sd-jwt"),
                    "{name}: we refused a dc+sd-jwt query: {e}"
                );
                for (id, m) in expected["matches"].as_object().unwrap() {
                    let cq = v["query"]["credentials"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .find(|c| c["id"] == id.as_str());
                    if cq.is_some_and(|c| c["format"] != "dc+sd-jwt") {
                        assert_eq!(m, &json!([]), "{name}: {id} matched an SD-JWT candidate");
                    }
                }
                continue;
            }
        };
        let candidates: Vec<Map<String, Value>> = v["credentials"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                let mut claims = c["claims"].as_object().unwrap().clone();
                claims.insert("vct".into(), c["vct"].clone());
                claims
            })
            .collect();
        let mut matched = std::collections::BTreeMap::new();
        for cq in &query.credentials {
            let ours: Vec<usize> = candidates
                .iter()
                .enumerate()
                .filter(|(_, c)| cq.select(c).is_ok())
                .map(|(i, _)| i)
                .collect();
            assert_eq!(
                json!(ours),
                expected["matches"][&cq.id],
                "{name}: matches of {}",
                cq.id
            );
            matched.insert(cq.id.clone(), !ours.is_empty());
        }
        let satisfiable = match &query.credential_sets {
            None => matched.values().all(|m| *m),
            Some(sets) => sets.iter().filter(|s| s.required).all(|s| {
                s.options.iter().any(|opt| {
                    opt.iter()
                        .all(|id| matched.get(id).copied().unwrap_or(false))
                })
            }),
        };
        assert_eq!(
            satisfiable,
            expected["can_be_satisfied"].as_bool().unwrap(),
            "{name}: can_be_satisfied"
        );
        compared += 1;
    }
    assert!(compared >= 20, "only {compared} vectors compared");
}
