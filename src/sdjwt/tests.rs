//! One test per rule of RFC 9901 §7 and SD-JWT VC, each with a token that
//! breaks exactly that rule, plus round trips and a property test.

use proptest::prelude::*;
use serde_json::{Map, Value, json};

use super::*;
use crate::crypto::{Algorithm, SigningKey, b64url, jws};

const NOW: i64 = 1_800_000_000;
const AUD: &str = "x509_hash:verifier.example";
const NONCE: &str = "n-0S6_WzA2Mj";

struct Fixture {
    issuer: SigningKey,
    holder: SigningKey,
}

impl Fixture {
    fn new() -> Self {
        Fixture {
            issuer: SigningKey::generate(Algorithm::Es256).unwrap(),
            holder: SigningKey::generate(Algorithm::Es256).unwrap(),
        }
    }

    fn base_claims(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("iss".into(), json!("https://issuer.example"));
        m.insert("vct".into(), json!("urn:ru:digital-id:passport:1"));
        m.insert("iat".into(), json!(NOW - 10));
        m.insert("exp".into(), json!(NOW + 3600));
        m.insert(
            "cnf".into(),
            json!({"jwk": Value::Object(self.holder.public().jwk().clone())}),
        );
        m
    }

    /// Signs a hand-made payload (so a test can break exactly one rule).
    fn sign(&self, typ: &str, payload: Value) -> String {
        let mut h = Map::new();
        h.insert("typ".into(), json!(typ));
        jws::sign(&self.issuer, &h, &serde_json::to_vec(&payload).unwrap()).unwrap()
    }

    fn kb(&self, without_kb: &str, aud: &str, nonce: &str, iat: i64) -> String {
        let sd_hash = disclosure::digest_of(without_kb);
        kb::create(&self.holder, aud, nonce, iat, &sd_hash).unwrap()
    }

    /// `<jwt>~<disclosures>~<kb-jwt>` with a correct KB-JWT.
    fn with_kb(&self, jwt: &str, disclosures: &[&str]) -> String {
        let base = compact::join(jwt, disclosures.iter().copied());
        let kb = self.kb(&base, AUD, NONCE, NOW);
        format!("{base}{kb}")
    }

    fn verify(&self, token: &str) -> Result<Verified, VerifyError> {
        let policy = VerifyPolicy::sd_jwt_vc(NOW).with_key_binding(AUD, NONCE);
        verify(token, self.issuer.public(), &policy)
    }
}

fn prop(salt: &str, name: &str, value: Value) -> Disclosure {
    Disclosure::property(salt.into(), name, value)
}

fn enc(v: Value) -> String {
    b64url(serde_json::to_vec(&v).unwrap())
}

fn passport_claims(f: &Fixture) -> (Map<String, Value>, Vec<ClaimPath>) {
    let mut c = f.base_claims();
    c.insert("family_name".into(), json!("Иванова-Петрова"));
    c.insert("given_name".into(), json!("Мария"));
    c.insert("birthdate".into(), json!("1990-03-14"));
    c.insert(
        "resident_address".into(),
        json!({"locality": "Казань", "street_address": "ул. Баумана, 1"}),
    );
    c.insert(
        "age_equal_or_over".into(),
        json!({"14": true, "18": true, "65": false}),
    );
    c.insert("nationalities".into(), json!(["RU", "BY"]));
    let sd: Vec<ClaimPath> = [
        json!(["family_name"]),
        json!(["given_name"]),
        json!(["birthdate"]),
        json!(["resident_address"]),
        json!(["resident_address", "locality"]),
        json!(["resident_address", "street_address"]),
        json!(["age_equal_or_over"]),
        json!(["age_equal_or_over", "14"]),
        json!(["age_equal_or_over", "18"]),
        json!(["age_equal_or_over", "65"]),
        json!(["nationalities", null]),
    ]
    .into_iter()
    .map(|v| serde_json::from_value(v).unwrap())
    .collect();
    (c, sd)
}

fn issue_passport(f: &Fixture) -> Issued {
    let (claims, sd) = passport_claims(f);
    issue(
        &f.issuer,
        claims,
        &sd,
        &IssueOptions::default(),
        &mut RandomSalts,
    )
    .unwrap()
}

fn path(v: Value) -> ClaimPath {
    serde_json::from_value(v).unwrap()
}

#[test]
fn issue_present_verify_round_trip_discloses_only_the_selection() {
    let f = Fixture::new();
    let issued = issue_passport(&f);
    let holder = HolderCredential::parse(&issued.compact).unwrap();
    let sel = [
        path(json!(["age_equal_or_over", "18"])),
        path(json!(["nationalities", 1])),
    ];
    let kb = KeyBinding {
        holder: &f.holder,
        aud: AUD,
        nonce: NONCE,
        iat: NOW,
    };
    let presentation = holder.present(&sel, Some(&kb)).unwrap();
    let v = f.verify(&presentation).unwrap();
    assert_eq!(v.claims["age_equal_or_over"], json!({"18": true}));
    assert_eq!(v.claims["nationalities"], json!(["BY"]));
    for hidden in ["family_name", "given_name", "birthdate", "resident_address"] {
        assert!(!v.claims.contains_key(hidden), "{hidden} leaked");
    }
    assert_eq!(v.kb.unwrap().nonce, NONCE);
    // Selecting a whole object brings its nested disclosures along.
    let p = holder
        .present(&[path(json!(["resident_address"]))], Some(&kb))
        .unwrap();
    let v = f.verify(&p).unwrap();
    assert_eq!(v.claims["resident_address"]["locality"], "Казань");
}

/// A key with a certificate chain names itself by `kid` and `x5c` (leaf
/// first, as given); the credential verifies as before.
#[test]
fn a_certified_key_puts_x5c_beside_kid() {
    let plain = Fixture::new();
    let chain = [vec![0x30, 0x01, 0x00], vec![0x30, 0x00]];
    let f = Fixture {
        issuer: SigningKey::from_jwk(&plain.issuer.to_private_jwk())
            .unwrap()
            .with_certificates(&chain),
        holder: plain.holder,
    };
    let issued = issue_passport(&f);
    let jwt = issued.compact.split('~').next().unwrap();
    let header = jws::Jws::decode(jwt).unwrap().header;
    assert_eq!(header["kid"], f.issuer.kid());
    assert_eq!(header["x5c"], json!(["MAEA", "MAA="]));
    assert_eq!(header["typ"], "dc+sd-jwt");
    let holder = HolderCredential::parse(&issued.compact).unwrap();
    let kb = KeyBinding {
        holder: &f.holder,
        aud: AUD,
        nonce: NONCE,
        iat: NOW,
    };
    let p = holder
        .present(&[path(json!(["birthdate"]))], Some(&kb))
        .unwrap();
    assert_eq!(f.verify(&p).unwrap().claims["birthdate"], "1990-03-14");
    // Without certificates: `kid` only.
    let bare = issue_passport(&plain_fixture(&f));
    let jwt = bare.compact.split('~').next().unwrap();
    assert!(!jws::Jws::decode(jwt).unwrap().header.contains_key("x5c"));
}

fn plain_fixture(f: &Fixture) -> Fixture {
    Fixture {
        issuer: SigningKey::from_jwk(&f.issuer.to_private_jwk()).unwrap(),
        holder: SigningKey::from_jwk(&f.holder.to_private_jwk()).unwrap(),
    }
}

#[test]
fn issued_payload_hides_every_disclosable_claim() {
    let f = Fixture::new();
    let issued = issue_passport(&f);
    let jwt = issued.compact.split('~').next().unwrap();
    let payload = crate::crypto::jws::Jws::decode(jwt)
        .unwrap()
        .payload_json()
        .unwrap();
    assert_eq!(payload["_sd_alg"], "sha-256");
    for name in ["iss", "vct", "iat", "exp", "cnf"] {
        assert!(payload.contains_key(name), "{name} must stay in the clear");
    }
    for name in [
        "family_name",
        "given_name",
        "birthdate",
        "resident_address",
        "age_equal_or_over",
    ] {
        assert!(!payload.contains_key(name), "{name} in the clear");
    }
    // Every element of the array is a digest object.
    for e in payload["nationalities"].as_array().unwrap() {
        assert!(e.get("...").is_some());
    }
    let sd: Vec<&str> = payload["_sd"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let mut sorted = sd.clone();
    sorted.sort();
    assert_eq!(sd, sorted, "digests are sorted to hide claim order");
    // 128-bit salts: 22 base64url characters.
    assert!(issued.disclosures.iter().all(|d| d.salt.len() == 22));
}

#[test]
fn issuer_refuses_to_hide_registered_claims_and_unknown_paths() {
    let f = Fixture::new();
    let (claims, _) = passport_claims(&f);
    for name in ["iss", "vct", "cnf", "iat", "exp", "status"] {
        let r = issue(
            &f.issuer,
            claims.clone(),
            &[path(json!([name]))],
            &IssueOptions::default(),
            &mut RandomSalts,
        );
        assert_eq!(
            r.unwrap_err(),
            IssueError::NotDisclosable(format!("[\"{name}\"]"))
        );
    }
    // Nor any of their sub-claims (SD-JWT VC §3.2.2.2).
    let r = issue(
        &f.issuer,
        claims.clone(),
        &[path(json!(["cnf", "jwk"]))],
        &IssueOptions::default(),
        &mut RandomSalts,
    );
    assert_eq!(
        r.unwrap_err(),
        IssueError::NotDisclosable(r#"["cnf","jwk"]"#.into())
    );
    let r = issue(
        &f.issuer,
        claims,
        &[path(json!(["no_such"]))],
        &IssueOptions::default(),
        &mut RandomSalts,
    );
    assert!(matches!(r, Err(IssueError::PathNotFound(_))));
}

#[test]
fn batch_credentials_share_no_digest_or_salt() {
    let f = Fixture::new();
    let a = issue_passport(&f);
    let b = issue_passport(&f);
    for da in &a.disclosures {
        assert!(
            b.disclosures
                .iter()
                .all(|db| db.salt != da.salt && db.digest() != da.digest())
        );
    }
}

/// Signs a payload with one `_sd` digest per disclosure, at top level.
fn token_with(f: &Fixture, extra: Value, disclosures: &[&Disclosure]) -> String {
    let mut payload = f.base_claims();
    let mut sd: Vec<Value> = disclosures.iter().map(|d| json!(d.digest())).collect();
    if let Value::Object(m) = extra {
        for (k, v) in m {
            if k == "_sd" {
                sd.extend(v.as_array().unwrap().iter().cloned());
            } else {
                payload.insert(k, v);
            }
        }
    }
    payload.insert("_sd".into(), Value::Array(sd));
    payload.insert("_sd_alg".into(), json!("sha-256"));
    f.sign("dc+sd-jwt", Value::Object(payload))
}

#[test]
fn a_valid_hand_made_token_verifies() {
    let f = Fixture::new();
    let d = prop("salt-1", "given_name", json!("Иван"));
    let jwt = token_with(&f, json!({}), &[&d]);
    let v = f.verify(&f.with_kb(&jwt, &[d.encoded()])).unwrap();
    assert_eq!(v.claims["given_name"], "Иван");
}

#[test]
fn rejects_duplicate_digest() {
    let f = Fixture::new();
    let d = prop("salt-1", "given_name", json!("Иван"));
    let jwt = token_with(&f, json!({"_sd": [d.digest()]}), &[&d]);
    let err = f.verify(&f.with_kb(&jwt, &[d.encoded()])).unwrap_err();
    assert_eq!(
        err,
        VerifyError::Process(ProcessError::DuplicateDigest(d.digest()))
    );
}

#[test]
fn rejects_duplicate_digest_of_a_decoy() {
    let f = Fixture::new();
    let decoy = disclosure::digest_of("decoy");
    let jwt = token_with(&f, json!({"_sd": [decoy, decoy]}), &[]);
    let err = f.verify(&f.with_kb(&jwt, &[])).unwrap_err();
    assert_eq!(
        err,
        VerifyError::Process(ProcessError::DuplicateDigest(decoy))
    );
}

#[test]
fn rejects_unreferenced_disclosure() {
    let f = Fixture::new();
    let d = prop("salt-1", "given_name", json!("Иван"));
    let stray = prop("salt-2", "family_name", json!("Иванов"));
    let jwt = token_with(&f, json!({}), &[&d]);
    let err = f
        .verify(&f.with_kb(&jwt, &[d.encoded(), stray.encoded()]))
        .unwrap_err();
    assert_eq!(
        err,
        VerifyError::Process(ProcessError::UnreferencedDisclosure)
    );
}

#[test]
fn rejects_tampered_disclosure() {
    let f = Fixture::new();
    let d = prop("salt-1", "given_name", json!("Иван"));
    let jwt = token_with(&f, json!({}), &[&d]);
    let forged = prop("salt-1", "given_name", json!("Пётр"));
    let err = f.verify(&f.with_kb(&jwt, &[forged.encoded()])).unwrap_err();
    assert_eq!(
        err,
        VerifyError::Process(ProcessError::UnreferencedDisclosure)
    );
}

#[test]
fn rejects_duplicate_disclosure() {
    let f = Fixture::new();
    let d = prop("salt-1", "given_name", json!("Иван"));
    let jwt = token_with(&f, json!({}), &[&d]);
    let err = f
        .verify(&f.with_kb(&jwt, &[d.encoded(), d.encoded()]))
        .unwrap_err();
    assert_eq!(err, VerifyError::Process(ProcessError::DuplicateDisclosure));
}

#[test]
fn rejects_disclosure_named_sd_or_ellipsis() {
    let f = Fixture::new();
    for name in ["_sd", "..."] {
        let raw = enc(json!(["salt-1", name, "x"]));
        let digest = disclosure::digest_of(&raw);
        let jwt = token_with(&f, json!({"_sd": [digest]}), &[]);
        let err = f.verify(&f.with_kb(&jwt, &[&raw])).unwrap_err();
        assert_eq!(
            err,
            VerifyError::Disclosure(disclosure::DisclosureError::ForbiddenName(name.into()))
        );
    }
}

#[test]
fn rejects_claim_that_already_exists() {
    let f = Fixture::new();
    let d = prop("salt-1", "given_name", json!("Пётр"));
    let jwt = token_with(&f, json!({"given_name": "Иван"}), &[&d]);
    let err = f.verify(&f.with_kb(&jwt, &[d.encoded()])).unwrap_err();
    assert_eq!(
        err,
        VerifyError::Process(ProcessError::ClaimAlreadyExists("given_name".into()))
    );
}

#[test]
fn rejects_two_disclosures_of_the_same_name() {
    let f = Fixture::new();
    let a = prop("salt-1", "given_name", json!("Иван"));
    let b = prop("salt-2", "given_name", json!("Пётр"));
    let jwt = token_with(&f, json!({}), &[&a, &b]);
    let err = f
        .verify(&f.with_kb(&jwt, &[a.encoded(), b.encoded()]))
        .unwrap_err();
    assert_eq!(
        err,
        VerifyError::Process(ProcessError::ClaimAlreadyExists("given_name".into()))
    );
}

#[test]
fn rejects_malformed_disclosures() {
    let f = Fixture::new();
    let jwt = token_with(&f, json!({}), &[]);
    let cases = [
        ("%%%".to_owned(), disclosure::DisclosureError::NotBase64),
        (
            enc(json!({"a": 1})),
            disclosure::DisclosureError::NotJsonArray,
        ),
        (
            enc(json!(["s", "n", "v", 4])),
            disclosure::DisclosureError::WrongLength,
        ),
        (
            enc(json!([7, "n", "v"])),
            disclosure::DisclosureError::SaltNotString,
        ),
    ];
    for (raw, expected) in cases {
        let err = f.verify(&f.with_kb(&jwt, &[&raw])).unwrap_err();
        assert_eq!(err, VerifyError::Disclosure(expected));
    }
}

#[test]
fn rejects_array_disclosure_in_sd_and_property_disclosure_in_array() {
    let f = Fixture::new();
    let elem = Disclosure::element("salt-1".into(), json!("RU"));
    let jwt = token_with(&f, json!({}), &[&elem]);
    let err = f.verify(&f.with_kb(&jwt, &[elem.encoded()])).unwrap_err();
    assert_eq!(err, VerifyError::Process(ProcessError::WrongDisclosureKind));

    let p = prop("salt-2", "x", json!("RU"));
    let jwt = token_with(&f, json!({"nationalities": [{"...": p.digest()}]}), &[]);
    let err = f.verify(&f.with_kb(&jwt, &[p.encoded()])).unwrap_err();
    assert_eq!(err, VerifyError::Process(ProcessError::WrongDisclosureKind));
}

#[test]
fn rejects_sd_that_is_not_an_array_of_strings() {
    let f = Fixture::new();
    for bad in [json!("abc"), json!([1]), json!({"a": "b"})] {
        let mut payload = f.base_claims();
        payload.insert("_sd".into(), bad);
        let jwt = f.sign("dc+sd-jwt", Value::Object(payload));
        let err = f.verify(&f.with_kb(&jwt, &[])).unwrap_err();
        assert_eq!(err, VerifyError::Process(ProcessError::SdNotArrayOfStrings));
    }
}

#[test]
fn rejects_malformed_array_digest_object() {
    let f = Fixture::new();
    let jwt = token_with(&f, json!({"list": [{"...": "abc", "extra": 1}]}), &[]);
    let err = f.verify(&f.with_kb(&jwt, &[])).unwrap_err();
    assert_eq!(
        err,
        VerifyError::Process(ProcessError::MalformedArrayDigest)
    );
}

#[test]
fn rejects_unsupported_sd_alg() {
    let f = Fixture::new();
    let mut payload = f.base_claims();
    payload.insert("_sd_alg".into(), json!("md5"));
    let jwt = f.sign("dc+sd-jwt", Value::Object(payload));
    assert_eq!(
        f.verify(&f.with_kb(&jwt, &[])).unwrap_err(),
        VerifyError::UnsupportedSdAlg
    );
}

#[test]
fn rejects_wrong_typ_and_accepts_legacy_typ() {
    let f = Fixture::new();
    let payload = Value::Object(f.base_claims());
    for typ in ["JWT", "kb+jwt", "example+sd-jwt"] {
        let jwt = f.sign(typ, payload.clone());
        assert_eq!(
            f.verify(&f.with_kb(&jwt, &[])).unwrap_err(),
            VerifyError::WrongTyp
        );
    }
    let jwt = f.sign("vc+sd-jwt", payload);
    f.verify(&f.with_kb(&jwt, &[])).unwrap();
}

#[test]
fn rejects_expired_and_not_yet_valid() {
    let f = Fixture::new();
    let mut payload = f.base_claims();
    payload.insert("exp".into(), json!(NOW - 60));
    let jwt = f.sign("dc+sd-jwt", Value::Object(payload));
    assert_eq!(
        f.verify(&f.with_kb(&jwt, &[])).unwrap_err(),
        VerifyError::Expired
    );

    let mut payload = f.base_claims();
    payload.insert("nbf".into(), json!(NOW + 600));
    let jwt = f.sign("dc+sd-jwt", Value::Object(payload));
    assert_eq!(
        f.verify(&f.with_kb(&jwt, &[])).unwrap_err(),
        VerifyError::NotYetValid
    );

    let mut payload = f.base_claims();
    payload.insert("exp".into(), json!("tomorrow"));
    let jwt = f.sign("dc+sd-jwt", Value::Object(payload));
    assert_eq!(
        f.verify(&f.with_kb(&jwt, &[])).unwrap_err(),
        VerifyError::BadTimeClaim("exp")
    );
}

#[test]
fn rejects_issuer_signature_problems() {
    let f = Fixture::new();
    let jwt = token_with(&f, json!({}), &[]);
    // A different issuer key.
    let other = SigningKey::generate(Algorithm::Es256).unwrap();
    let policy = VerifyPolicy::sd_jwt_vc(NOW).with_key_binding(AUD, NONCE);
    let err = verify(&f.with_kb(&jwt, &[]), other.public(), &policy).unwrap_err();
    assert_eq!(
        err,
        VerifyError::IssuerJws(crate::crypto::jws::JwsError::BadSignature)
    );
    // alg: none with an empty signature.
    let (_, rest) = jwt.split_once('.').unwrap();
    let payload_b64 = rest.split('.').next().unwrap();
    let none = format!(
        "{}.{payload_b64}.",
        b64url(r#"{"alg":"none","typ":"dc+sd-jwt"}"#)
    );
    let err = f.verify(&f.with_kb(&none, &[])).unwrap_err();
    assert_eq!(
        err,
        VerifyError::IssuerJws(crate::crypto::jws::JwsError::AlgNone)
    );
    // Unknown kid in a key set.
    let set = crate::crypto::jwk::Jwks::of([other.public().clone(), f.holder.public().clone()]);
    let err = verify(&f.with_kb(&jwt, &[]), &set, &policy).unwrap_err();
    assert_eq!(err, VerifyError::UnknownIssuerKey);
}

#[test]
fn rejects_disclosed_registered_claims() {
    let f = Fixture::new();
    for name in [
        "iss",
        "nbf",
        "exp",
        "cnf",
        "vct",
        "vct#integrity",
        "aka_vcts",
        "status",
    ] {
        let d = prop("salt-1", name, json!("x"));
        let mut payload = f.base_claims();
        payload.remove(name);
        payload.insert("_sd".into(), json!([d.digest()]));
        let jwt = f.sign("dc+sd-jwt", Value::Object(payload));
        let err = f.verify(&f.with_kb(&jwt, &[d.encoded()])).unwrap_err();
        assert_eq!(
            err,
            VerifyError::DisclosedReservedClaim(ClaimPath::keys([name]))
        );
    }
}

/// SD-JWT VC §3.2.2.2 "including any of their sub-claims": a `cnf.jwk`
/// carried by a disclosure inside a plain `cnf` is refused, although the
/// token is otherwise valid (the KB-JWT even verifies with that key).
#[test]
fn rejects_a_disclosed_sub_claim_of_a_registered_claim() {
    let f = Fixture::new();
    let jwk = Value::Object(f.holder.public().jwk().clone());
    let d = prop("salt-1", "jwk", jwk);
    let mut payload = f.base_claims();
    payload.insert("cnf".into(), json!({"_sd": [d.digest()]}));
    let jwt = f.sign("dc+sd-jwt", Value::Object(payload));
    let err = f.verify(&f.with_kb(&jwt, &[d.encoded()])).unwrap_err();
    assert_eq!(
        err,
        VerifyError::DisclosedReservedClaim(ClaimPath::keys(["cnf", "jwk"]))
    );
    assert!(err.to_string().contains(r#"["cnf","jwk"]"#), "{err}");

    // Deeper, and in `status`: a disclosed `idx` of the status list.
    let d = prop("salt-2", "idx", json!(7));
    let mut payload = f.base_claims();
    payload.insert(
        "status".into(),
        json!({"status_list": {"uri": "https://issuer.example/sl/1", "_sd": [d.digest()]}}),
    );
    let jwt = f.sign("dc+sd-jwt", Value::Object(payload));
    let err = f.verify(&f.with_kb(&jwt, &[d.encoded()])).unwrap_err();
    assert_eq!(
        err,
        VerifyError::DisclosedReservedClaim(ClaimPath::keys(["status", "status_list", "idx"]))
    );

    // An array element of `aka_vcts`.
    let d = Disclosure::element("salt-3".into(), json!("urn:example:pid"));
    let mut payload = f.base_claims();
    payload.insert("aka_vcts".into(), json!([{"...": d.digest()}]));
    let jwt = f.sign("dc+sd-jwt", Value::Object(payload));
    let err = f.verify(&f.with_kb(&jwt, &[d.encoded()])).unwrap_err();
    assert_eq!(
        err,
        VerifyError::DisclosedReservedClaim(ClaimPath(vec![
            PathElem::Key("aka_vcts".into()),
            PathElem::Index(0),
        ]))
    );
}

/// SD-JWT VC allows `iat` and `sub` in disclosures; only our own issuer
/// keeps `iat` in the clear.
#[test]
fn accepts_disclosed_iat_and_sub_from_other_issuers() {
    let f = Fixture::new();
    let iat = prop("salt-1", "iat", json!(NOW - 10));
    let sub = prop("salt-2", "sub", json!("user-1"));
    let mut payload = f.base_claims();
    payload.remove("iat");
    payload.insert("_sd".into(), json!([iat.digest(), sub.digest()]));
    let jwt = f.sign("dc+sd-jwt", Value::Object(payload));
    let v = f
        .verify(&f.with_kb(&jwt, &[iat.encoded(), sub.encoded()]))
        .unwrap();
    assert_eq!(v.claims["iat"], NOW - 10);
    assert_eq!(v.claims["sub"], "user-1");
}

#[test]
fn rejects_missing_vct() {
    let f = Fixture::new();
    let mut payload = f.base_claims();
    payload.remove("vct");
    let jwt = f.sign("dc+sd-jwt", Value::Object(payload));
    assert_eq!(
        f.verify(&f.with_kb(&jwt, &[])).unwrap_err(),
        VerifyError::MissingVct
    );
}

#[test]
fn key_binding_is_required_by_policy_not_by_token() {
    let f = Fixture::new();
    let jwt = token_with(&f, json!({}), &[]);
    let without = compact::join(&jwt, []);
    assert_eq!(f.verify(&without).unwrap_err(), VerifyError::KbMissing);
    // Without the requirement the same token verifies.
    verify(&without, f.issuer.public(), &VerifyPolicy::sd_jwt_vc(NOW)).unwrap();
    // A credential with no `cnf` cannot satisfy key binding.
    let mut payload = f.base_claims();
    payload.remove("cnf");
    let jwt = f.sign("dc+sd-jwt", Value::Object(payload));
    assert_eq!(
        f.verify(&f.with_kb(&jwt, &[])).unwrap_err(),
        VerifyError::NoHolderKey
    );
}

#[test]
fn rejects_each_kb_jwt_rule() {
    let f = Fixture::new();
    let d = prop("salt-1", "given_name", json!("Иван"));
    let jwt = token_with(&f, json!({}), &[&d]);
    let base = compact::join(&jwt, [d.encoded()]);
    let cases: Vec<(String, KbError)> = vec![
        (
            f.kb(&base, "x509_hash:other.example", NONCE, NOW),
            KbError::WrongAudience,
        ),
        (
            f.kb(&base, "verifier.example", NONCE, NOW),
            KbError::WrongAudience,
        ),
        (f.kb(&base, AUD, "other-nonce", NOW), KbError::WrongNonce),
        (f.kb(&base, AUD, NONCE, NOW - 40), KbError::Stale),
        (f.kb(&base, AUD, NONCE, NOW + 60), KbError::IssuedInFuture),
        (
            f.kb(&compact::join(&jwt, []), AUD, NONCE, NOW),
            KbError::WrongSdHash,
        ),
    ];
    for (kb_jwt, expected) in cases {
        assert_eq!(
            f.verify(&format!("{base}{kb_jwt}")).unwrap_err(),
            VerifyError::Kb(expected)
        );
    }
    // Signed by a key other than `cnf`.
    let stranger = SigningKey::generate(Algorithm::Es256).unwrap();
    let bad = kb::create(&stranger, AUD, NONCE, NOW, &disclosure::digest_of(&base)).unwrap();
    assert_eq!(
        f.verify(&format!("{base}{bad}")).unwrap_err(),
        VerifyError::Kb(KbError::Signature(
            crate::crypto::jws::JwsError::BadSignature
        ))
    );
    // Wrong typ.
    let mut h = Map::new();
    h.insert("typ".into(), json!("JWT"));
    let claims =
        json!({"iat": NOW, "aud": AUD, "nonce": NONCE, "sd_hash": disclosure::digest_of(&base)});
    let wrong_typ = jws::sign(&f.holder, &h, &serde_json::to_vec(&claims).unwrap()).unwrap();
    assert_eq!(
        f.verify(&format!("{base}{wrong_typ}")).unwrap_err(),
        VerifyError::Kb(KbError::WrongTyp)
    );
    // Missing sd_hash.
    h.insert("typ".into(), json!("kb+jwt"));
    let claims = json!({"iat": NOW, "aud": AUD, "nonce": NONCE});
    let missing = jws::sign(&f.holder, &h, &serde_json::to_vec(&claims).unwrap()).unwrap();
    assert_eq!(
        f.verify(&format!("{base}{missing}")).unwrap_err(),
        VerifyError::Kb(KbError::MissingClaim("sd_hash"))
    );
}

#[test]
fn kb_jwt_window_edges_are_inclusive() {
    let f = Fixture::new();
    let jwt = token_with(&f, json!({}), &[]);
    let base = compact::join(&jwt, []);
    for iat in [NOW - 30, NOW + 5] {
        f.verify(&format!("{base}{}", f.kb(&base, AUD, NONCE, iat)))
            .unwrap();
    }
}

#[test]
fn rejects_structure_errors_and_deep_nesting() {
    let f = Fixture::new();
    assert_eq!(
        f.verify("abc").unwrap_err(),
        VerifyError::Format(compact::FormatError::NoSeparator)
    );
    let mut deep = json!("leaf");
    for _ in 0..40 {
        deep = json!({ "a": deep });
    }
    let jwt = token_with(&f, json!({ "deep": deep }), &[]);
    assert_eq!(
        f.verify(&f.with_kb(&jwt, &[])).unwrap_err(),
        VerifyError::Process(ProcessError::TooDeep)
    );
}

#[test]
fn eddsa_issuer_and_holder_work_too() {
    let f = Fixture {
        issuer: SigningKey::generate(Algorithm::EdDsa).unwrap(),
        holder: SigningKey::generate(Algorithm::EdDsa).unwrap(),
    };
    let issued = issue_passport(&f);
    let holder = HolderCredential::parse(&issued.compact).unwrap();
    let kb = KeyBinding {
        holder: &f.holder,
        aud: AUD,
        nonce: NONCE,
        iat: NOW,
    };
    let p = holder
        .present(&[path(json!(["given_name"]))], Some(&kb))
        .unwrap();
    assert_eq!(f.verify(&p).unwrap().claims["given_name"], "Мария");
}

#[test]
fn presenting_a_missing_claim_is_an_error() {
    let f = Fixture::new();
    let holder = HolderCredential::parse(&issue_passport(&f).compact).unwrap();
    assert!(matches!(
        holder.present(&[path(json!(["no_such"]))], None),
        Err(PresentError::NoSuchClaim(_))
    ));
}

// ---- property test: random claim trees, random selections ----

const RESERVED: &[&str] = &[
    "iss",
    "vct",
    "iat",
    "exp",
    "cnf",
    "nbf",
    "status",
    "vct#integrity",
];

fn arb_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<bool>().prop_map(Value::from),
        any::<i32>().prop_map(Value::from),
        "[а-яa-z0-9 ]{0,8}".prop_map(Value::from),
        Just(Value::Null),
    ]
}

fn arb_tree() -> impl Strategy<Value = Value> {
    arb_leaf().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 1..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-e]{1,3}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Every concrete path in `v` (objects' members and array elements).
fn all_paths(v: &Value, prefix: &mut Vec<PathElem>, out: &mut Vec<Vec<PathElem>>) {
    match v {
        Value::Object(o) => {
            for (k, c) in o {
                prefix.push(PathElem::Key(k.clone()));
                out.push(prefix.clone());
                all_paths(c, prefix, out);
                prefix.pop();
            }
        }
        Value::Array(a) => {
            for (i, c) in a.iter().enumerate() {
                prefix.push(PathElem::Index(i));
                out.push(prefix.clone());
                all_paths(c, prefix, out);
                prefix.pop();
            }
        }
        _ => {}
    }
}

/// What a verifier must see when every path is disclosable and `selected`
/// are presented: selected subtrees whole, their ancestors with only the
/// selected members, arrays compacted.
fn project(v: &Value, at: &[PathElem], selected: &[Vec<PathElem>]) -> Value {
    let here = |p: &[PathElem]| selected.iter().any(|s| s.as_slice() == p);
    let below = |p: &[PathElem]| {
        selected
            .iter()
            .any(|s| s.len() > p.len() && s.starts_with(p))
    };
    match v {
        Value::Object(o) => {
            let mut m = Map::new();
            for (k, c) in o {
                let mut p = at.to_vec();
                p.push(PathElem::Key(k.clone()));
                if here(&p) {
                    m.insert(k.clone(), c.clone());
                } else if below(&p) {
                    m.insert(k.clone(), project(c, &p, selected));
                }
            }
            Value::Object(m)
        }
        Value::Array(a) => {
            let mut out = Vec::new();
            for (i, c) in a.iter().enumerate() {
                let mut p = at.to_vec();
                p.push(PathElem::Index(i));
                if here(&p) {
                    out.push(c.clone());
                } else if below(&p) {
                    out.push(project(c, &p, selected));
                }
            }
            Value::Array(out)
        }
        other => other.clone(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
    #[test]
    fn present_then_verify_returns_exactly_the_selection(
        tree in prop::collection::btree_map("[a-e]{1,3}", arb_tree(), 1..5),
        picks in prop::collection::vec(any::<prop::sample::Index>(), 0..4),
    ) {
        let f = Fixture::new();
        let user: Map<String, Value> = tree.into_iter().filter(|(k, _)| !RESERVED.contains(&k.as_str())).collect();
        let mut paths = Vec::new();
        all_paths(&Value::Object(user.clone()), &mut Vec::new(), &mut paths);
        prop_assume!(!paths.is_empty());
        let mut claims = f.base_claims();
        claims.extend(user.clone());
        let sd: Vec<ClaimPath> = paths.iter().cloned().map(ClaimPath).collect();
        let issued = issue(&f.issuer, claims, &sd, &IssueOptions::default(), &mut RandomSalts).unwrap();
        let holder = HolderCredential::parse(&issued.compact).unwrap();
        let selected: Vec<Vec<PathElem>> = picks.iter().map(|ix| paths[ix.index(paths.len())].clone()).collect();
        let selection: Vec<ClaimPath> = selected.iter().cloned().map(ClaimPath).collect();
        let kb = KeyBinding { holder: &f.holder, aud: AUD, nonce: NONCE, iat: NOW };
        let presentation = holder.present(&selection, Some(&kb)).unwrap();
        let mut got = f.verify(&presentation).unwrap().claims;
        for r in RESERVED { got.remove(*r); }
        let expected = project(&Value::Object(user), &[], &selected);
        prop_assert_eq!(Value::Object(got), expected);
    }
}

/// Salts, decoys and random numbers from a counter: issuance becomes
/// reproducible.
struct CountingSalts(u32);

impl SaltSource for CountingSalts {
    fn salt(&mut self) -> String {
        self.0 += 1;
        format!("salt-{}", self.0)
    }
    fn below(&mut self, bound: u32) -> u32 {
        self.0 += 1;
        self.0 % bound.max(1)
    }
}

/// The decoded payload and disclosures of an issued SD-JWT.
fn decoded(compact: &str) -> (String, Vec<String>) {
    let c = Compact::parse(compact).unwrap();
    let decode = |s: &str| String::from_utf8(crate::crypto::b64url_decode(s).unwrap()).unwrap();
    let payload = decode(c.jwt.split('.').nth(1).unwrap());
    (payload, c.disclosures.iter().map(|d| decode(d)).collect())
}

/// What the issuer wrote for `passport_claims` (without `cnf`) and
/// [`CountingSalts`] before issuance went through [`Template`]: the order
/// of claims, salts, decoys and digests stays as it was.
const GOLDEN_PAYLOAD: &str = r#"{"iss":"https://issuer.example","vct":"urn:ru:digital-id:passport:1","iat":1799999990,"exp":1800003600,"nationalities":[{"...":"JK5k1MSTv7eEP3XTuNBhZaFTchaMEnaV_zwXRUSBLeA"},{"...":"rmPxz8BdByMGnVaztezIiD7ghhSUfCBDzQpElcs_JAE"},{"...":"A0gfQXhvSTvXSzOXT_MEhuq1GFUeIfJFmFB4Xojf12M"},{"...":"ZtXODtHmWEuP2x1NL99b9zcA09cNtxPQ5lBHcHiLEsY"},{"...":"i7gA46COyeVDFwabY6ASFa8RN8ijzJrNl3TvPv-556A"}],"_sd":["4QS0gy6X2osayyg-6DRjeSGs_1_Dd7o1PwK8lmY2skc","Pk_JQiGsDIfdKdBK80j2sFE3LJPJPaLHhHviSFOQmp8","R57-yeeJfz9rLmTcAul4a45XvF4AyGUTz5yMUWvbdm4","_oRLrtEnx2RmZitPo624rByVUZkbyBb5LIDmbRO_49s","bxqNCtpaLzJ3K6HiVkTEc-4aSx4dnQpYDqIrJtkZ1c4"],"_sd_alg":"sha-256"}"#;
const GOLDEN_DISCLOSURES: [&str; 12] = [
    r#"["salt-1","RU"]"#,
    r#"["salt-2","BY"]"#,
    r#"["salt-10","family_name","Иванова-Петрова"]"#,
    r#"["salt-11","given_name","Мария"]"#,
    r#"["salt-12","birthdate","1990-03-14"]"#,
    r#"["salt-13","locality","Казань"]"#,
    r#"["salt-14","street_address","ул. Баумана, 1"]"#,
    r#"["salt-19","resident_address",{"_sd":["KDsy0TiO0n4jmCThEcXyUVQ_4kVpHA9gJV_cd3s3dFs","V9Eb2dH67DfNux3LtvfT6WG_8wIlmBGe6VP6lGZRd-8","bNMFBzWYmfmxQ3Gahx57uXAkRuiU4thgIJhIuriCEN0","qciEztX0tb1FV8t1LjToEOKTLW86Ts3CiuOy-3Yq3Pk","tMDDK_g7j2m01WE6hSurcajoG2BKzDpljHxMmTNT7Fo"]}]"#,
    r#"["salt-20","14",true]"#,
    r#"["salt-21","18",true]"#,
    r#"["salt-22","65",false]"#,
    r#"["salt-27","age_equal_or_over",{"_sd":["6PxiF8mq1-qfBrya9lpMqmSjmzX7u_6deNMPkP9Zd3A","HbEHcui1Hx3LuX5GPKS48RzRVfIDTcd2uhdKGaJ-8ws","Lzxj5eRkvE8P9nHSuYBWIb25ABZHhDKmBcLytbCIIlk","Z5C4Jm4a-jpDQKA9Hj0Y2i9OK4OonAAAuWnixPctPIw","cZfNJKTn7r7AHxQE9ZwnYkUs2MU_Vjju4ij7zK62kUk","siCh0CbemQHKB4nBa26L3p9_Wp_rZwry7_X2mPIo2CU"]}]"#,
];

#[test]
fn issuance_from_a_template_writes_the_golden_bytes() {
    let f = Fixture::new();
    let (mut claims, sd) = passport_claims(&f);
    claims.remove("cnf");
    let options = IssueOptions::default();
    let issued = issue(
        &f.issuer,
        claims.clone(),
        &sd,
        &options,
        &mut CountingSalts(0),
    )
    .unwrap();
    let golden = (
        GOLDEN_PAYLOAD.to_owned(),
        GOLDEN_DISCLOSURES.map(String::from).to_vec(),
    );
    assert_eq!(decoded(&issued.compact), golden);

    // The per-credential claims given as a head come out the same: first,
    // in the clear, in their order. A template serves any number of
    // credentials.
    let mut head = Map::new();
    for name in ["iss", "vct", "iat", "exp"] {
        head.insert(name.into(), claims.shift_remove(name).unwrap());
    }
    let template = Template::new(claims, &sd, &options).unwrap();
    for _ in 0..2 {
        let compact = template
            .issue(&f.issuer, &head, &mut CountingSalts(0))
            .unwrap();
        assert_eq!(decoded(&compact), golden);
    }
}

#[test]
fn a_template_refuses_head_claims_it_holds_or_reserves() {
    let f = Fixture::new();
    let (claims, sd) = passport_claims(&f);
    let template = Template::new(claims, &sd, &IssueOptions::default()).unwrap();
    for (name, want) in [
        (
            "given_name",
            IssueError::DuplicateClaim("given_name".into()),
        ),
        ("iss", IssueError::DuplicateClaim("iss".into())),
        ("_sd", IssueError::ReservedMember("_sd")),
        ("...", IssueError::ReservedMember("...")),
    ] {
        let mut head = Map::new();
        head.insert(name.into(), json!("x"));
        let got = template.issue(&f.issuer, &head, &mut RandomSalts);
        assert_eq!(got.unwrap_err(), want, "{name}");
    }
    // Nor anywhere deeper, in the clear or under a disclosable claim.
    let mut head = Map::new();
    head.insert("status".into(), json!({"status_list": {"_sd": []}}));
    let got = template.issue(&f.issuer, &head, &mut RandomSalts);
    assert_eq!(got.unwrap_err(), IssueError::ReservedMember("_sd"));
    for (claims, sd) in [
        (json!({"a": {"b": [{"...": "x"}]}}), vec![]),
        (
            json!({"a": {"_sd_alg": 1, "b": 2}}),
            vec![path(json!(["a", "b"]))],
        ),
        (json!({"a": {"_sd": 1}}), vec![path(json!(["a"]))]),
    ] {
        let claims = claims.as_object().unwrap().clone();
        let got = Template::new(claims.clone(), &sd, &IssueOptions::default());
        assert!(
            matches!(got, Err(IssueError::ReservedMember(_))),
            "{claims:?}: {got:?}"
        );
    }
    // A credential from the template verifies and discloses everything.
    let mut head = Map::new();
    head.insert(
        "status".into(),
        json!({"status_list": {"idx": 7, "uri": "https://issuer.example/status-lists/1"}}),
    );
    let compact = template.issue(&f.issuer, &head, &mut RandomSalts).unwrap();
    let presentation = HolderCredential::parse(&compact)
        .unwrap()
        .present(&sd, None)
        .unwrap();
    let verified = verify(
        &presentation,
        f.issuer.public(),
        &VerifyPolicy::sd_jwt_vc(NOW),
    )
    .unwrap();
    assert_eq!(verified.claims["status"]["status_list"]["idx"], json!(7));
    assert_eq!(
        verified.claims["resident_address"]["locality"],
        json!("Казань")
    );
    assert_eq!(verified.claims["nationalities"], json!(["RU", "BY"]));
    assert_eq!(verified.claims["age_equal_or_over"]["65"], json!(false));
}
