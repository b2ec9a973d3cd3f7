//! OpenID4VP verifier over a real listening server: every preset, a custom
//! DCQL query, both response modes, both client identifier prefixes, and one
//! test per negative case of issue 5. The wallet side is played with the
//! library (`HolderCredential::present`, `verifier::jwe::encrypt`);
//! credentials are issued like the issuer does (typ dc+sd-jwt, iss = public
//! URL, vct, cnf.jwk).

use serde_json::{Map, Value, json};

use digital_id::crypto::jws::Jws;
use digital_id::crypto::{Algorithm, SigningKey, b64url, sha256};
use digital_id::registry::SubjectId;
use digital_id::sdjwt::disclosure::digest_of;
use digital_id::sdjwt::{self, ClaimPath, HolderCredential, IssueOptions, KeyBinding, RandomSalts};
use digital_id::verifier::jwe;

use crate::fixture::{InProc, T0, agent};

const DAY: i64 = 86_400;

/// A credential of `doc` for `subject`, bound to `holder`, signed by `key`
/// (the server's own ES256 issuer key unless given); `tweak` edits the
/// claims before signing.
pub fn credential_with(
    server: &InProc,
    subject: &str,
    doc: &str,
    holder: &SigningKey,
    key: Option<&SigningKey>,
    tweak: impl FnOnce(&mut Map<String, Value>),
) -> String {
    let today = time::OffsetDateTime::from_unix_timestamp(T0)
        .unwrap()
        .date();
    let issuable = digital_id::registry::issuable(
        server.state.registry.as_ref(),
        &SubjectId(subject.into()),
        doc,
        today,
    )
    .unwrap()
    .remove(0);
    let mut claims = issuable.claims.as_object().unwrap().clone();
    claims.insert(
        "iss".into(),
        server.state.settings.public_url.as_str().into(),
    );
    claims.insert("vct".into(), issuable.vct.into());
    claims.insert(
        "cnf".into(),
        json!({"jwk": holder.public().jwk_for_publication()}),
    );
    claims.insert("iat".into(), T0.into());
    claims.insert("exp".into(), (T0 + 365 * DAY).into());
    tweak(&mut claims);
    sdjwt::issue(
        key.unwrap_or(&server.state.keys.issuer_es256),
        claims,
        &issuable.sd_paths,
        &IssueOptions::default(),
        &mut RandomSalts,
    )
    .unwrap()
    .compact
}

fn passport(server: &InProc, holder: &SigningKey) -> String {
    passport_for(server, holder)
}

/// A passport credential of the demo subject `ivanov-ivan` for `holder`.
pub fn passport_for(server: &InProc, holder: &SigningKey) -> String {
    credential_with(server, "ivanov-ivan", "ru.passport", holder, None, |_| {})
}

pub(crate) fn wallet_key() -> SigningKey {
    SigningKey::generate(Algorithm::Es256).unwrap()
}

fn paths(list: &[&[&str]]) -> Vec<ClaimPath> {
    list.iter()
        .map(|p| ClaimPath::keys(p.iter().copied()))
        .collect()
}

/// `POST /verifier/requests`.
pub(crate) fn create(server: &InProc, body: Value) -> Value {
    let mut resp = agent()
        .post(&server.url("/verifier/requests"))
        .header("Authorization", &server.bearer())
        .send_json(&body)
        .unwrap();
    assert_eq!(resp.status(), 200, "{body}");
    resp.body_mut().read_json().unwrap()
}

pub(crate) fn status(server: &InProc, id: &str) -> Value {
    let mut resp = agent()
        .get(&server.url(&format!("/verifier/requests/{id}")))
        .header("Authorization", &server.bearer())
        .call()
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.body_mut().read_json().unwrap()
}

/// The decoded request object: (header, claims).
pub(crate) fn fetch_request_object(uri: &str) -> (Map<String, Value>, Map<String, Value>) {
    let mut resp = agent().get(uri).call().unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers().get("content-type").unwrap(),
        "application/oauth-authz-req+jwt"
    );
    let text = resp.body_mut().read_to_string().unwrap();
    let jws = Jws::decode(&text).unwrap();
    (jws.header.clone(), jws.payload_json().unwrap())
}

/// A wallet's answer: the vp_token, sent as the request object asks
/// (encrypted for direct_post.jwt). Returns (HTTP status, body).
pub(crate) fn answer(ro: &Map<String, Value>, vp_token: Value) -> (u16, Value) {
    answer_with_state(ro, vp_token, ro["state"].as_str().unwrap())
}

pub(crate) fn answer_with_state(
    ro: &Map<String, Value>,
    vp_token: Value,
    state: &str,
) -> (u16, Value) {
    let uri = ro["response_uri"].as_str().unwrap();
    post_form(uri, &response_form(ro, vp_token, state))
}

/// The wallet's answer to request object `ro` as the form its
/// `response_mode` calls for (`direct_post.jwt`: encrypted to the
/// verifier's key).
pub(crate) fn response_form(
    ro: &Map<String, Value>,
    vp_token: Value,
    state: &str,
) -> Vec<(String, String)> {
    match ro["response_mode"].as_str().unwrap() {
        "direct_post.jwt" => {
            let key = ro["client_metadata"]["jwks"]["keys"][0]
                .as_object()
                .unwrap();
            let payload = json!({"vp_token": vp_token, "state": state});
            vec![(
                "response".into(),
                jwe::encrypt(&payload, key, "A256GCM").unwrap(),
            )]
        }
        _ => vec![
            ("vp_token".into(), vp_token.to_string()),
            ("state".into(), state.into()),
        ],
    }
}

pub(crate) fn post_form(uri: &str, form: &[(String, String)]) -> (u16, Value) {
    let mut resp = agent()
        .post(uri)
        .send_form(form.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .unwrap();
    let code = resp.status().as_u16();
    (code, resp.body_mut().read_json().unwrap_or(Value::Null))
}

/// A presentation of `selection` with a KB-JWT for this request.
pub(crate) fn present(
    cred: &str,
    selection: &[&[&str]],
    holder: &SigningKey,
    ro: &Map<String, Value>,
    iat: i64,
) -> String {
    HolderCredential::parse(cred)
        .unwrap()
        .present(
            &paths(selection),
            Some(&KeyBinding {
                holder,
                aud: ro["client_id"].as_str().unwrap(),
                nonce: ro["nonce"].as_str().unwrap(),
                iat,
            }),
        )
        .unwrap()
}

/// A KB-JWT over `sd_jwt` (which ends with `~`) with free choice of values.
fn with_kb(
    sd_jwt: &str,
    holder: &SigningKey,
    aud: &str,
    nonce: &str,
    iat: i64,
    sd_hash: Option<&str>,
) -> String {
    let hash = sd_hash.map_or_else(|| digest_of(sd_jwt), str::to_owned);
    let kb = sdjwt::kb::create(holder, aud, nonce, iat, &hash).unwrap();
    format!("{sd_jwt}{kb}")
}

/// Creates a request for `body`, fetches its request object.
pub fn start(server: &InProc, body: Value) -> (String, Map<String, Value>) {
    let created = create(server, body);
    let (_, ro) = fetch_request_object(created["request_uri"].as_str().unwrap());
    (created["transaction_id"].as_str().unwrap().to_owned(), ro)
}

/// Runs a preset end to end and returns the final status.
fn run_preset(
    server: &InProc,
    preset: &str,
    subject: &str,
    doc: &str,
    selection: &[&[&str]],
) -> Value {
    let holder = wallet_key();
    let cred = credential_with(server, subject, doc, &holder, None, |_| {});
    let (id, ro) = start(server, json!({"preset": preset}));
    let p = present(&cred, selection, &holder, &ro, T0);
    let (code, body) = answer(&ro, json!({"credential": [p]}));
    assert_eq!(code, 200, "{body}");
    status(server, &id)
}

/// Asserts a failed answer: 400 invalid_request naming `needle`, and the
/// transaction failed with it.
fn assert_rejected(server: &InProc, id: &str, (code, body): (u16, Value), needle: &str) {
    assert_eq!(code, 400, "{body}");
    assert_eq!(body["error"], "invalid_request");
    let d = body["error_description"].as_str().unwrap();
    assert!(d.contains(needle), "{d:?} should mention {needle:?}");
    let s = status(server, id);
    assert_eq!(s["status"], "failed", "{s}");
    assert!(s["error"]["description"].as_str().unwrap().contains(needle));
    assert!(s.get("claims").is_none());
}

// ---------------------------------------------------------------- presets

#[test]
fn preset_age_over_18_returns_only_that_claim() {
    let server = InProc::start();
    // The wallet over-discloses family_name: it must be dropped.
    let s = run_preset(
        &server,
        "age_over_18",
        "ivanov-ivan",
        "ru.passport",
        &[&["age_equal_or_over", "18"], &["family_name"]],
    );
    assert_eq!(s["status"], "verified", "{s}");
    assert_eq!(
        s["claims"],
        json!({"credential": {"age_equal_or_over": {"18": true}}})
    );
}

#[test]
fn preset_hotel_check_in() {
    let server = InProc::start();
    let sel: &[&[&str]] = &[
        &["family_name"],
        &["given_name"],
        &["patronymic"],
        &["birthdate"],
        &["document_number"],
        &["issue_date"],
        &["issuing_authority"],
        &["resident_address"],
    ];
    let s = run_preset(&server, "hotel_check_in", "ivanov-ivan", "ru.passport", sel);
    assert_eq!(s["status"], "verified", "{s}");
    let c = s["claims"]["credential"].as_object().unwrap();
    let keys: Vec<&str> = c.keys().map(String::as_str).collect();
    assert_eq!(keys.len(), 8, "{keys:?}");
    assert!(c["resident_address"].is_object());
}

#[test]
fn preset_pensioner_status() {
    let server = InProc::start();
    let sel: &[&[&str]] = &[
        &["family_name"],
        &["given_name"],
        &["patronymic"],
        &["pensioner"],
    ];
    let s = run_preset(
        &server,
        "pensioner_status",
        "belova-svetlana",
        "ru.pensioner_status",
        sel,
    );
    assert_eq!(s["status"], "verified", "{s}");
    assert_eq!(s["claims"]["credential"]["pensioner"], true);
}

#[test]
fn preset_identity() {
    let server = InProc::start();
    let sel: &[&[&str]] = &[
        &["family_name"],
        &["given_name"],
        &["patronymic"],
        &["birthdate"],
        &["document_number"],
    ];
    let s = run_preset(&server, "identity", "ivanov-ivan", "ru.passport", sel);
    assert_eq!(s["status"], "verified", "{s}");
    assert_eq!(s["claims"]["credential"].as_object().unwrap().len(), 5);
}

#[test]
fn custom_dcql_query_with_claim_sets_and_values() {
    let server = InProc::start();
    let holder = wallet_key();
    let cred = passport(&server, &holder);
    let (id, ro) = start(
        &server,
        json!({"dcql_query": {"credentials": [{
            "id": "pid", "format": "dc+sd-jwt",
            "meta": {"vct_values": ["urn:ru:digital-id:passport:1"]},
            "claims": [
                {"id": "over21", "path": ["age_equal_or_over", "21"], "values": [true]},
                {"id": "name", "path": ["family_name"]},
                {"id": "dob", "path": ["birthdate"]}
            ],
            "claim_sets": [["over21", "name"], ["dob"]]
        }]}}),
    );
    assert_eq!(
        ro["dcql_query"]["credentials"][0]["claim_sets"][0][0],
        "over21"
    );
    let p = present(
        &cred,
        &[&["age_equal_or_over", "21"], &["family_name"]],
        &holder,
        &ro,
        T0,
    );
    let (code, body) = answer(&ro, json!({"pid": [p]}));
    assert_eq!(code, 200, "{body}");
    let s = status(&server, &id);
    assert_eq!(s["status"], "verified");
    assert_eq!(s["claims"]["pid"]["age_equal_or_over"], json!({"21": true}));
    assert!(s["claims"]["pid"]["family_name"].is_string());
}

#[test]
fn invalid_dcql_is_400_naming_the_field() {
    let server = InProc::start();
    let mut resp = agent()
        .post(&server.url("/verifier/requests"))
        .header("Authorization", &server.bearer())
        .send_json(
            json!({"dcql_query": {"credentials": [{"id": "x", "format": "mso_mdoc", "meta": {}}]}}),
        )
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.body_mut().read_json().unwrap();
    assert_eq!(body["error"], "invalid_request");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("credentials[0].format")
    );
}

#[test]
fn back_office_needs_the_bearer_key() {
    let server = InProc::start();
    let resp = agent()
        .post(&server.url("/verifier/requests"))
        .send_json(json!({"preset": "identity"}))
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert!(resp.headers().get("www-authenticate").is_some());
    let resp = agent()
        .get(&server.url("/verifier/requests/x"))
        .header("Authorization", "Bearer wrong")
        .call()
        .unwrap();
    assert_eq!(resp.status(), 401);
    let resp = agent()
        .get(&server.url("/verifier/requests/unknown"))
        .header("Authorization", &server.bearer())
        .call()
        .unwrap();
    assert_eq!(resp.status(), 404);
}

// ----------------------------------------------- response modes, prefixes

#[test]
fn direct_post_plain_mode() {
    let server = InProc::start();
    let holder = wallet_key();
    let cred = passport(&server, &holder);
    let (id, ro) = start(
        &server,
        json!({"preset": "identity", "response_mode": "direct_post"}),
    );
    assert_eq!(ro["response_mode"], "direct_post");
    assert!(ro["client_metadata"].get("jwks").is_none());
    let sel: &[&[&str]] = &[
        &["family_name"],
        &["given_name"],
        &["patronymic"],
        &["birthdate"],
        &["document_number"],
    ];
    let (code, _) = answer(
        &ro,
        json!({"credential": [present(&cred, sel, &holder, &ro, T0)]}),
    );
    assert_eq!(code, 200);
    assert_eq!(status(&server, &id)["status"], "verified");
}

#[test]
fn direct_post_jwt_mode_is_the_default_with_a_fresh_key_per_request() {
    let server = InProc::start();
    let holder = wallet_key();
    let cred = passport(&server, &holder);
    let (id, ro) = start(&server, json!({"preset": "age_over_18"}));
    let (_, ro2) = start(&server, json!({"preset": "age_over_18"}));
    assert_eq!(ro["response_mode"], "direct_post.jwt");
    let cm = &ro["client_metadata"];
    assert_eq!(
        cm["encrypted_response_enc_values_supported"],
        json!(["A128GCM", "A256GCM"])
    );
    let k = &cm["jwks"]["keys"][0];
    assert_eq!(
        (k["kty"].as_str(), k["crv"].as_str(), k["alg"].as_str()),
        (Some("EC"), Some("P-256"), Some("ECDH-ES"))
    );
    assert!(k.get("d").is_none());
    assert_ne!(k, &ro2["client_metadata"]["jwks"]["keys"][0]);
    // OpenID4VP 1.0: fully-specified algorithm identifiers (RFC 9864).
    for member in ["sd-jwt_alg_values", "kb-jwt_alg_values"] {
        assert_eq!(
            cm["vp_formats_supported"]["dc+sd-jwt"][member],
            json!(["ES256", "Ed25519"])
        );
    }
    // Nonce: at least 128 bits.
    assert!(
        digital_id::crypto::b64url_decode(ro["nonce"].as_str().unwrap())
            .unwrap()
            .len()
            >= 16
    );
    let (code, _) = answer(
        &ro,
        json!({"credential": [present(&cred, &[&["age_equal_or_over", "18"]], &holder, &ro, T0)]}),
    );
    assert_eq!(code, 200);
    assert_eq!(status(&server, &id)["status"], "verified");
}

#[test]
fn x509_hash_client_id_and_leaf_only_x5c() {
    let server = InProc::start();
    let created = create(&server, json!({"preset": "age_over_18"}));
    let link = created["authorization_request"].as_str().unwrap();
    assert!(
        link.starts_with("openid4vp://?client_id=x509_hash%3A"),
        "{link}"
    );
    let (header, ro) = fetch_request_object(created["request_uri"].as_str().unwrap());
    assert_eq!(header["typ"], "oauth-authz-req+jwt");
    assert_eq!(header["alg"], "ES256");
    let x5c = header["x5c"].as_array().unwrap();
    assert_eq!(x5c.len(), 1, "x5c carries the leaf only");
    use base64::Engine as _;
    let der = base64::engine::general_purpose::STANDARD
        .decode(x5c[0].as_str().unwrap())
        .unwrap();
    let client_id = ro["client_id"].as_str().unwrap();
    assert_eq!(client_id, format!("x509_hash:{}", b64url(sha256(&der))));
    let leaf = openssl::x509::X509::from_der(&der).unwrap();
    let san: Vec<String> = leaf
        .subject_alt_names()
        .unwrap()
        .iter()
        .filter_map(|n| n.dnsname().map(str::to_owned))
        .collect();
    assert_eq!(san, ["127.0.0.1"]);
    // The request object verifies with the key the leaf certifies.
    let text = {
        let mut r = agent()
            .get(created["request_uri"].as_str().unwrap())
            .call()
            .unwrap();
        r.body_mut().read_to_string().unwrap()
    };
    assert!(
        text.is_empty() || Jws::decode(&text).is_err(),
        "single use: a second fetch is no JWT"
    );
    let signing_key = {
        let jwk = server.state.verifier.keys.signing.public().jwk().clone();
        let x = digital_id::crypto::b64url_decode(jwk["x"].as_str().unwrap()).unwrap();
        let y = digital_id::crypto::b64url_decode(jwk["y"].as_str().unwrap()).unwrap();
        let g = openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1).unwrap();
        let ec = openssl::ec::EcKey::from_public_key_affine_coordinates(
            &g,
            &openssl::bn::BigNum::from_slice(&x).unwrap(),
            &openssl::bn::BigNum::from_slice(&y).unwrap(),
        )
        .unwrap();
        openssl::pkey::PKey::from_ec_key(ec).unwrap()
    };
    assert!(leaf.public_key().unwrap().public_eq(&signing_key));
}

#[test]
fn decentralized_identifier_prefix_by_configuration() {
    let server =
        InProc::start_with(|s| s.verifier.client_id_prefix = "decentralized_identifier".into());
    let holder = wallet_key();
    let cred = passport(&server, &holder);
    let created = create(
        &server,
        json!({"preset": "age_over_18", "response_mode": "direct_post"}),
    );
    let uri = created["request_uri"].as_str().unwrap().to_owned();
    let token = agent()
        .get(&uri)
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    let jws = Jws::decode(&token).unwrap();
    let ro = jws.payload_json().unwrap();
    let client_id = ro["client_id"].as_str().unwrap();
    let did = client_id.strip_prefix("decentralized_identifier:").unwrap();
    let kid = jws.kid().unwrap();
    assert!(kid.starts_with(did));
    jws.verify(&digital_id::crypto::did_key::resolve(kid).unwrap())
        .unwrap();
    assert!(jws.header.get("x5c").is_none());
    let (code, _) = answer(
        &ro,
        json!({"credential": [present(&cred, &[&["age_equal_or_over", "18"]], &holder, &ro, T0)]}),
    );
    assert_eq!(code, 200);
    assert_eq!(
        status(&server, created["transaction_id"].as_str().unwrap())["status"],
        "verified"
    );
}

#[test]
fn post_request_uri_echoes_wallet_nonce() {
    let server = InProc::start();
    let created = create(&server, json!({"preset": "identity"}));
    let mut resp = agent()
        .post(created["request_uri"].as_str().unwrap())
        .header("Accept", "application/oauth-authz-req+jwt")
        .send_form([
            ("wallet_nonce", "qPmxiNFCR3QTm19POc8u"),
            ("wallet_metadata", "{}"),
        ])
        .unwrap();
    assert_eq!(resp.status(), 200);
    let text = resp.body_mut().read_to_string().unwrap();
    let ro = Jws::decode(&text).unwrap().payload_json().unwrap();
    assert_eq!(ro["wallet_nonce"], "qPmxiNFCR3QTm19POc8u");
}

// ------------------------------------------------------ negative cases

/// Sets up a passport request (direct_post.jwt) and returns what a
/// negative test needs.
struct Neg {
    server: InProc,
    holder: SigningKey,
    cred: String,
    id: String,
    request_uri: String,
    ro: Map<String, Value>,
}

fn neg() -> Neg {
    let server = InProc::start();
    let holder = wallet_key();
    let cred = passport(&server, &holder);
    let created = create(&server, json!({"preset": "age_over_18"}));
    let request_uri = created["request_uri"].as_str().unwrap().to_owned();
    let (_, ro) = fetch_request_object(&request_uri);
    Neg {
        server,
        holder,
        cred,
        id: created["transaction_id"].as_str().unwrap().to_owned(),
        request_uri,
        ro,
    }
}

impl Neg {
    fn sd_jwt(&self) -> String {
        HolderCredential::parse(&self.cred)
            .unwrap()
            .present(&paths(&[&["age_equal_or_over", "18"]]), None)
            .unwrap()
    }
    fn aud(&self) -> &str {
        self.ro["client_id"].as_str().unwrap()
    }
    fn nonce(&self) -> &str {
        self.ro["nonce"].as_str().unwrap()
    }
    fn send(&self, presentation: String) -> (u16, Value) {
        answer(&self.ro, json!({"credential": [presentation]}))
    }
}

#[test]
fn rejects_invalid_kb_jwt_signature() {
    let n = neg();
    let other = wallet_key();
    let p = with_kb(&n.sd_jwt(), &other, n.aud(), n.nonce(), T0, None);
    assert_rejected(&n.server, &n.id, n.send(p), "KB-JWT signature");
}

#[test]
fn rejects_invalid_credential_signature() {
    let n = neg();
    let sd = n.sd_jwt();
    let (jwt, rest) = sd.split_once('~').unwrap();
    let (signing_input, sig) = jwt.rsplit_once('.').unwrap();
    let mut sig = digital_id::crypto::b64url_decode(sig).unwrap();
    sig[10] ^= 1;
    let forged = format!("{signing_input}.{}~{rest}", b64url(sig));
    let p = with_kb(&forged, &n.holder, n.aud(), n.nonce(), T0, None);
    assert_rejected(&n.server, &n.id, n.send(p), "issuer-signed JWT");
}

#[test]
fn rejects_wrong_sd_hash() {
    let n = neg();
    let p = with_kb(
        &n.sd_jwt(),
        &n.holder,
        n.aud(),
        n.nonce(),
        T0,
        Some(&digest_of("other")),
    );
    assert_rejected(&n.server, &n.id, n.send(p), "sd_hash");
}

#[test]
fn rejects_wrong_kb_nonce() {
    let n = neg();
    let p = with_kb(
        &n.sd_jwt(),
        &n.holder,
        n.aud(),
        "another-nonce-0123456789",
        T0,
        None,
    );
    assert_rejected(&n.server, &n.id, n.send(p), "nonce");
}

#[test]
fn rejects_wrong_kb_aud() {
    let n = neg();
    let p = with_kb(
        &n.sd_jwt(),
        &n.holder,
        "x509_hash:someone-else",
        n.nonce(),
        T0,
        None,
    );
    assert_rejected(&n.server, &n.id, n.send(p), "aud");
}

#[test]
fn rejects_kb_aud_without_the_prefix() {
    let n = neg();
    let bare = n.aud().strip_prefix("x509_hash:").unwrap().to_owned();
    let p = with_kb(&n.sd_jwt(), &n.holder, &bare, n.nonce(), T0, None);
    assert_rejected(&n.server, &n.id, n.send(p), "aud");
}

#[test]
fn rejects_kb_iat_40_s_in_the_past() {
    let n = neg();
    let p = with_kb(&n.sd_jwt(), &n.holder, n.aud(), n.nonce(), T0 - 40, None);
    assert_rejected(&n.server, &n.id, n.send(p), "too old");
}

#[test]
fn rejects_kb_iat_60_s_in_the_future() {
    let n = neg();
    let p = with_kb(&n.sd_jwt(), &n.holder, n.aud(), n.nonce(), T0 + 60, None);
    assert_rejected(&n.server, &n.id, n.send(p), "future");
}

/// Re-encodes one disclosure of `sd_jwt` with `edit` applied to its JSON.
fn edit_disclosure(sd_jwt: &str, index: usize, edit: impl FnOnce(&mut Vec<Value>)) -> String {
    let mut parts: Vec<String> = sd_jwt
        .trim_end_matches('~')
        .split('~')
        .map(str::to_owned)
        .collect();
    let mut arr: Vec<Value> =
        serde_json::from_slice(&digital_id::crypto::b64url_decode(&parts[index + 1]).unwrap())
            .unwrap();
    edit(&mut arr);
    parts[index + 1] = b64url(serde_json::to_vec(&arr).unwrap());
    format!("{}~", parts.join("~"))
}

#[test]
fn rejects_tampered_disclosure() {
    let n = neg();
    let sd = edit_disclosure(&n.sd_jwt(), 0, |d| *d.last_mut().unwrap() = json!(false));
    let p = with_kb(&sd, &n.holder, n.aud(), n.nonce(), T0, None);
    assert_rejected(&n.server, &n.id, n.send(p), "not referenced by any digest");
}

#[test]
fn rejects_unreferenced_disclosure() {
    let n = neg();
    // A genuine disclosure of another credential.
    let other = passport(&n.server, &n.holder);
    let foreign = HolderCredential::parse(&other)
        .unwrap()
        .present(&paths(&[&["family_name"]]), None)
        .unwrap();
    let foreign_disclosure = foreign
        .trim_end_matches('~')
        .rsplit('~')
        .next()
        .unwrap()
        .to_owned();
    let sd = format!("{}{foreign_disclosure}~", n.sd_jwt());
    let p = with_kb(&sd, &n.holder, n.aud(), n.nonce(), T0, None);
    assert_rejected(&n.server, &n.id, n.send(p), "not referenced by any digest");
}

#[test]
fn rejects_duplicate_disclosure() {
    let n = neg();
    let sd = n.sd_jwt();
    let last = sd
        .trim_end_matches('~')
        .rsplit('~')
        .next()
        .unwrap()
        .to_owned();
    let dup = format!("{sd}{last}~");
    let p = with_kb(&dup, &n.holder, n.aud(), n.nonce(), T0, None);
    assert_rejected(&n.server, &n.id, n.send(p), "presented twice");
}

#[test]
fn rejects_a_replayed_response_without_changing_the_status() {
    let n = neg();
    let p = present(
        &n.cred,
        &[&["age_equal_or_over", "18"]],
        &n.holder,
        &n.ro,
        T0,
    );
    assert_eq!(n.send(p.clone()).0, 200);
    let (code, body) = n.send(p);
    assert_eq!(code, 400);
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("already")
    );
    assert_eq!(status(&n.server, &n.id)["status"], "verified");
}

#[test]
fn rejects_the_nonce_of_another_transaction() {
    let n = neg();
    let (_, other_ro) = start(&n.server, json!({"preset": "age_over_18"}));
    let p = present(
        &n.cred,
        &[&["age_equal_or_over", "18"]],
        &n.holder,
        &other_ro,
        T0,
    );
    assert_rejected(&n.server, &n.id, n.send(p), "nonce");
}

#[test]
fn rejects_an_expired_credential() {
    let server = InProc::start();
    let holder = wallet_key();
    let cred = credential_with(&server, "ivanov-ivan", "ru.passport", &holder, None, |c| {
        c.insert("exp".into(), (T0 - 10).into());
    });
    let (id, r) = answer_age_over_18(&server, &cred, &holder);
    assert_rejected(&server, &id, r, "expired");
}

#[test]
fn rejects_an_untrusted_issuer() {
    let server = InProc::start();
    let holder = wallet_key();
    let rogue = SigningKey::generate(Algorithm::Es256).unwrap();
    let cred = credential_with(
        &server,
        "ivanov-ivan",
        "ru.passport",
        &holder,
        Some(&rogue),
        |c| {
            c.insert("iss".into(), "https://issuer.evil.example".into());
        },
    );
    let (id, r) = answer_age_over_18(&server, &cred, &holder);
    assert_rejected(&server, &id, r, "not trusted");
}

#[test]
fn rejects_our_issuer_name_with_a_foreign_key() {
    let server = InProc::start();
    let holder = wallet_key();
    let rogue = SigningKey::generate(Algorithm::Es256).unwrap();
    let cred = credential_with(
        &server,
        "ivanov-ivan",
        "ru.passport",
        &holder,
        Some(&rogue),
        |_| {},
    );
    let (id, r) = answer_age_over_18(&server, &cred, &holder);
    assert_rejected(&server, &id, r, "no trusted key");
}

#[test]
fn request_expires_30_s_after_creation() {
    let server = InProc::start();
    let created = create(&server, json!({"preset": "age_over_18"}));
    let id = created["transaction_id"].as_str().unwrap();
    assert_eq!(created["expires_in"], 30);
    server.clock.advance(30);
    let mut resp = agent()
        .get(created["request_uri"].as_str().unwrap())
        .call()
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.body_mut().read_json().unwrap();
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("expired")
    );
    let s = status(&server, id);
    assert_eq!(s["status"], "expired");
    assert_eq!(s["error"]["code"], "expired");
}

#[test]
fn rejects_a_response_after_the_response_window() {
    let n = neg();
    let p = present(
        &n.cred,
        &[&["age_equal_or_over", "18"]],
        &n.holder,
        &n.ro,
        T0 + 120,
    );
    n.server.clock.advance(120);
    let (code, body) = n.send(p);
    assert_eq!(code, 400, "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("window")
    );
    assert_eq!(status(&n.server, &n.id)["status"], "expired");
}

#[test]
fn rejects_a_wrong_state() {
    let n = neg();
    let p = present(
        &n.cred,
        &[&["age_equal_or_over", "18"]],
        &n.holder,
        &n.ro,
        T0,
    );
    let r = answer_with_state(&n.ro, json!({"credential": [p]}), "not-the-state");
    assert_rejected(&n.server, &n.id, r, "state");
}

#[test]
fn rejects_a_plain_answer_to_a_direct_post_jwt_request() {
    let n = neg();
    let p = present(
        &n.cred,
        &[&["age_equal_or_over", "18"]],
        &n.holder,
        &n.ro,
        T0,
    );
    let form = vec![
        (
            "vp_token".to_owned(),
            json!({"credential": [p]}).to_string(),
        ),
        (
            "state".to_owned(),
            n.ro["state"].as_str().unwrap().to_owned(),
        ),
    ];
    let r = post_form(n.ro["response_uri"].as_str().unwrap(), &form);
    assert_rejected(&n.server, &n.id, r, "direct_post.jwt");
}

#[test]
fn wallet_error_response_marks_the_transaction_failed() {
    let n = neg();
    let form = vec![
        ("error".to_owned(), "access_denied".to_owned()),
        (
            "error_description".to_owned(),
            "the user declined".to_owned(),
        ),
        (
            "state".to_owned(),
            n.ro["state"].as_str().unwrap().to_owned(),
        ),
    ];
    let (code, _) = post_form(n.ro["response_uri"].as_str().unwrap(), &form);
    assert_eq!(code, 200);
    let s = status(&n.server, &n.id);
    assert_eq!(s["status"], "failed");
    assert_eq!(s["error"]["code"], "access_denied");
    assert_eq!(s["error"]["description"], "the user declined");
}

/// Documented behaviour: the request object is single use. A second fetch
/// is refused with 400 `invalid_request` and changes nothing, so the wallet
/// that fetched first can still answer.
#[test]
fn request_object_fetched_twice_is_refused_and_the_first_fetch_still_answers() {
    let n = neg();
    let mut resp = agent().get(&n.request_uri).call().unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.body_mut().read_json().unwrap();
    assert_eq!(body["error"], "invalid_request");
    assert_eq!(status(&n.server, &n.id)["status"], "pending");
    let p = present(
        &n.cred,
        &[&["age_equal_or_over", "18"]],
        &n.holder,
        &n.ro,
        T0,
    );
    assert_eq!(n.send(p).0, 200);
    assert_eq!(status(&n.server, &n.id)["status"], "verified");
}

#[test]
fn missing_query_answer_fails() {
    let n = neg();
    let p = present(
        &n.cred,
        &[&["age_equal_or_over", "18"]],
        &n.holder,
        &n.ro,
        T0,
    );
    assert_rejected(
        &n.server,
        &n.id,
        answer(&n.ro, json!({"other": [p]})),
        "vp_token",
    );
}

// ------------------------------------------------- results and retention

#[test]
fn delete_and_retention_remove_results() {
    let n = neg();
    let p = present(
        &n.cred,
        &[&["age_equal_or_over", "18"]],
        &n.holder,
        &n.ro,
        T0,
    );
    assert_eq!(n.send(p).0, 200);
    let s = status(&n.server, &n.id);
    assert_eq!(s["expires_at"], digital_id::clock::rfc3339(T0 + 600));
    n.server.clock.advance(600);
    let resp = agent()
        .get(&n.server.url(&format!("/verifier/requests/{}", n.id)))
        .header("Authorization", &n.server.bearer())
        .call()
        .unwrap();
    assert_eq!(resp.status(), 404, "deleted after the retention window");

    let (id2, _) = start(&n.server, json!({"preset": "identity"}));
    let resp = agent()
        .delete(&n.server.url(&format!("/verifier/requests/{id2}")))
        .header("Authorization", &n.server.bearer())
        .call()
        .unwrap();
    assert_eq!(resp.status(), 204);
    let resp = agent()
        .get(&n.server.url(&format!("/verifier/requests/{id2}")))
        .header("Authorization", &n.server.bearer())
        .call()
        .unwrap();
    assert_eq!(resp.status(), 404);
}

#[test]
fn qr_codes_of_the_authorization_request() {
    let server = InProc::start();
    let created = create(&server, json!({"preset": "age_over_18"}));
    let id = created["transaction_id"].as_str().unwrap();
    for (ext, ctype, magic) in [
        ("svg", "image/svg+xml", &b"<?xml"[..]),
        ("png", "image/png", &b"\x89PNG"[..]),
    ] {
        let mut resp = agent()
            .get(&server.url(&format!("/verifier/requests/{id}/qr.{ext}")))
            .header("Authorization", &server.bearer())
            .call()
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers().get("content-type").unwrap(), ctype);
        let body = resp.body_mut().read_to_vec().unwrap();
        assert!(body.starts_with(magic), "{ext}");
    }
}

// ------------------------------------------------------- holder-shown QR

fn presentation_nonce(server: &InProc) -> Value {
    let mut resp = agent()
        .post(&server.url("/presentation-nonces"))
        .send_empty()
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.body_mut().read_json().unwrap()
}

pub fn holder_qr(
    server: &InProc,
    cred: &str,
    holder: &SigningKey,
    selection: &[&[&str]],
) -> String {
    let n = presentation_nonce(server);
    HolderCredential::parse(cred)
        .unwrap()
        .present(
            &paths(selection),
            Some(&KeyBinding {
                holder,
                aud: n["audience"].as_str().unwrap(),
                nonce: n["nonce"].as_str().unwrap(),
                iat: T0,
            }),
        )
        .unwrap()
}

pub fn scan(server: &InProc, qr: &str, preset: &str) -> Value {
    let mut resp = agent()
        .post(&server.url("/verifier/scan"))
        .header("Authorization", &server.bearer())
        .send_json(json!({"qr": qr, "preset": preset}))
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.body_mut().read_json().unwrap()
}

#[test]
fn holder_qr_is_verified_once() {
    let server = InProc::start();
    let holder = wallet_key();
    let cred = passport(&server, &holder);
    let n = presentation_nonce(&server);
    assert_eq!(n["audience"], server.state.verifier.client_id());
    let qr = holder_qr(&server, &cred, &holder, &[&["age_equal_or_over", "18"]]);
    let first = scan(&server, &qr, "age_over_18");
    assert_eq!(first["status"], "verified", "{first}");
    assert_eq!(
        first["claims"],
        json!({"credential": {"age_equal_or_over": {"18": true}}})
    );
    let again = scan(&server, &qr, "age_over_18");
    assert_eq!(again["status"], "failed");
    assert!(
        again["error"]["description"]
            .as_str()
            .unwrap()
            .contains("already used")
    );
}

/// The nonce is taken in the commit that records the result, after the
/// verification: a QR that fails (here: it does not disclose what the
/// preset asks) is used up all the same.
#[test]
fn holder_qr_that_fails_is_used_up_too() {
    let server = InProc::start();
    let holder = wallet_key();
    let cred = passport(&server, &holder);
    let qr = holder_qr(&server, &cred, &holder, &[&["age_equal_or_over", "18"]]);
    let first = scan(&server, &qr, "hotel_check_in");
    assert_eq!(first["status"], "failed", "{first}");
    assert!(
        !first["error"]["description"]
            .as_str()
            .unwrap()
            .contains("already used"),
        "{first}"
    );
    let again = scan(&server, &qr, "age_over_18");
    assert_eq!(again["status"], "failed", "{again}");
    assert!(
        again["error"]["description"]
            .as_str()
            .unwrap()
            .contains("already used"),
        "{again}"
    );
}

#[test]
fn holder_qr_is_worthless_after_30_s() {
    let server = InProc::start();
    let holder = wallet_key();
    let cred = passport(&server, &holder);
    let qr = holder_qr(&server, &cred, &holder, &[&["age_equal_or_over", "18"]]);
    server.clock.advance(30);
    let s = scan(&server, &qr, "age_over_18");
    assert_eq!(s["status"], "failed");
}

#[test]
fn holder_qr_by_reference_for_large_presentations() {
    let server = InProc::start();
    let holder = wallet_key();
    let cred = passport(&server, &holder);
    let sel: &[&[&str]] = &[
        &["family_name"],
        &["given_name"],
        &["patronymic"],
        &["birthdate"],
        &["document_number"],
        &["issue_date"],
        &["issuing_authority"],
        &["resident_address"],
    ];
    let p = holder_qr(&server, &cred, &holder, sel);
    let mut resp = agent()
        .post(&server.url("/presentations"))
        .send_json(json!({"presentation": p}))
        .unwrap();
    assert_eq!(resp.status(), 200);
    let up: Value = resp.body_mut().read_json().unwrap();
    let uri = up["uri"].as_str().unwrap();
    assert!(uri.len() < 100, "{uri}");
    let v = digital_id::web::qr::version(uri).unwrap();
    assert!(v <= 5, "a by-reference QR is small: version {v}");
    // A second upload with the same nonce is refused.
    let resp = agent()
        .post(&server.url("/presentations"))
        .send_json(json!({"presentation": p}))
        .unwrap();
    assert_eq!(resp.status(), 400);
    let s = scan(&server, uri, "hotel_check_in");
    assert_eq!(s["status"], "verified", "{s}");
    assert_eq!(s["claims"]["credential"].as_object().unwrap().len(), 8);
    assert_eq!(scan(&server, uri, "hotel_check_in")["status"], "failed");
}

/// Measures the QR version each preset's holder presentation needs (the
/// numbers in README.md "Verifier"); `None` means it does not fit a QR and
/// goes by reference.
#[test]
fn holder_qr_versions_per_preset() {
    let server = InProc::start();
    let holder = wallet_key();
    let passport = passport(&server, &holder);
    let pension = credential_with(
        &server,
        "belova-svetlana",
        "ru.pensioner_status",
        &holder,
        None,
        |_| {},
    );
    let mut report = Vec::new();
    for preset in digital_id::verifier::presets::Preset::ALL {
        let q = preset.query();
        let sel: Vec<Vec<&str>> = q.credentials[0]
            .claims
            .as_ref()
            .unwrap()
            .iter()
            .map(|c| {
                c.path
                    .elems()
                    .iter()
                    .map(|e| match e {
                        sdjwt::PathElem::Key(k) => k.as_str(),
                        _ => unreachable!(),
                    })
                    .collect()
            })
            .collect();
        let sel_refs: Vec<&[&str]> = sel.iter().map(Vec::as_slice).collect();
        let cred = if preset.name() == "pensioner_status" {
            &pension
        } else {
            &passport
        };
        let p = holder_qr(&server, cred, &holder, &sel_refs);
        let v = digital_id::web::qr::version(&p).ok();
        report.push(format!(
            "{}: {} bytes, QR version {:?}",
            preset.name(),
            p.len(),
            v
        ));
    }
    eprintln!("{}", report.join("\n"));
}

// ------------------------------------------------------ result delivery

#[test]
fn events_stream_reports_pending_then_verified() {
    use std::io::BufRead;
    let n = neg();
    let resp = agent()
        .get(&n.server.url(&format!("/verifier/requests/{}/events", n.id)))
        .header("Authorization", &n.server.bearer())
        .call()
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers().get("content-type").unwrap(),
        "text/event-stream"
    );
    let mut lines = std::io::BufReader::new(resp.into_body().into_reader()).lines();
    let mut next_status = || loop {
        let line = lines.next().unwrap().unwrap();
        if let Some(data) = line.strip_prefix("data: ") {
            let v: Value = serde_json::from_str(data).unwrap();
            if v.get("status").is_some() {
                return v;
            }
        }
    };
    assert_eq!(next_status()["status"], "pending");
    let p = present(
        &n.cred,
        &[&["age_equal_or_over", "18"]],
        &n.holder,
        &n.ro,
        T0,
    );
    assert_eq!(n.send(p).0, 200);
    let done = next_status();
    assert_eq!(done["status"], "verified");
    assert_eq!(
        done["claims"]["credential"]["age_equal_or_over"]["18"],
        true
    );
}

#[test]
fn callback_receives_the_result_signed_by_the_verifier() {
    // A loopback callback over http: development only.
    let server = InProc::start_with(|s| s.verifier.allow_loopback = true);
    let holder = wallet_key();
    let cred = passport(&server, &holder);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/cb", listener.local_addr().unwrap());
    let (id, ro) = start(
        &server,
        json!({"preset": "age_over_18", "callback_url": url}),
    );
    let p = present(&cred, &[&["age_equal_or_over", "18"]], &holder, &ro, T0);
    assert_eq!(answer(&ro, json!({"credential": [p]})).0, 200);
    let jwt = receive_callback(&listener);
    let jws = Jws::decode(&jwt).unwrap();
    jws.verify(server.state.verifier.keys.signing.public())
        .unwrap();
    let claims = jws.payload_json().unwrap();
    assert_eq!(claims["transaction_id"], id.as_str());
    assert_eq!(claims["result"]["status"], "verified");
}

#[test]
fn presentation_nonces_are_rate_limited_per_client() {
    let server = InProc::start();
    // The default limit: bursts of 50 per client address.
    let codes: Vec<u16> = (0..51)
        .map(|_| {
            agent()
                .post(&server.url("/presentation-nonces"))
                .send_empty()
                .unwrap()
                .status()
                .as_u16()
        })
        .collect();
    assert!(codes[..50].iter().all(|&c| c == 200));
    assert_eq!(codes[50], 429);
    server.clock.advance(10);
    assert_eq!(
        presentation_nonce(&server)["audience"],
        server.state.verifier.client_id()
    );
}

#[test]
fn haip_profile_refuses_plain_responses() {
    let server = InProc::start_with(|s| s.profile = digital_id::config::Profile::Haip);
    let mut resp = agent()
        .post(&server.url("/verifier/requests"))
        .header("Authorization", &server.bearer())
        .send_json(json!({"preset": "identity", "response_mode": "direct_post"}))
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.body_mut().read_json().unwrap();
    assert!(body["error_description"].as_str().unwrap().contains("HAIP"));
    create(&server, json!({"preset": "identity"}));
}

// ------------------------------------------- status lists of our own issuer

/// A passport issued through the real OpenID4VCI flow, and its record id.
fn issued_passport(server: &InProc, holder: &SigningKey) -> (String, String) {
    let reply = crate::issuer::wallet::issue_one(server, "ivanov-ivan", "ru.passport", holder);
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let credential = reply.body["credentials"][0]["credential"]
        .as_str()
        .unwrap()
        .to_owned();
    let records =
        crate::issuer::wallet::get_authorized(server, "/issuer/subjects/ivanov-ivan/credentials");
    let id = records.body.as_array().unwrap().last().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    (credential, id)
}

fn set_status(server: &InProc, record: &str, action: &str) {
    let r = crate::issuer::wallet::post_json(
        server,
        &format!("/issuer/credentials/{record}/{action}"),
        Some(&server.bearer()),
        &json!({}),
    );
    assert!(r.status < 300, "{action}: {:?}", r.body);
}

fn answer_age_over_18(
    server: &InProc,
    credential: &str,
    holder: &SigningKey,
) -> (String, (u16, Value)) {
    let (id, ro) = start(server, json!({"preset": "age_over_18"}));
    let now = server.state.now();
    let p = present(
        credential,
        &[&["age_equal_or_over", "18"]],
        holder,
        &ro,
        now,
    );
    (id, answer(&ro, json!({"credential": [p]})))
}

#[test]
fn a_credential_from_our_issuer_verifies_until_it_is_revoked() {
    let server = InProc::start();
    let holder = wallet_key();
    let (credential, record) = issued_passport(&server, &holder);
    let (id, (code, body)) = answer_age_over_18(&server, &credential, &holder);
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        status(&server, &id)["claims"]["credential"]["age_equal_or_over"]["18"],
        true
    );

    set_status(&server, &record, "revoke");
    // The verifier caches the status list for its `ttl`: move past it.
    server
        .clock
        .advance(server.state.settings.issuer.status_list_ttl + 1);
    let (id, r) = answer_age_over_18(&server, &credential, &holder);
    assert_rejected(&server, &id, r, "revoked");
}

#[test]
fn rejects_a_suspended_credential_and_accepts_it_when_reinstated() {
    let server = InProc::start();
    let holder = wallet_key();
    let (credential, record) = issued_passport(&server, &holder);
    set_status(&server, &record, "suspend");
    let (id, r) = answer_age_over_18(&server, &credential, &holder);
    assert_rejected(&server, &id, r, "suspended");

    set_status(&server, &record, "reinstate");
    server
        .clock
        .advance(server.state.settings.issuer.status_list_ttl + 1);
    let (id, (code, body)) = answer_age_over_18(&server, &credential, &holder);
    assert_eq!(code, 200, "{body}");
    assert_eq!(status(&server, &id)["status"], "verified");
}

#[test]
fn metrics_count_issued_and_verified_by_type_and_outcome() {
    let server = InProc::start();
    let holder = wallet_key();
    let (credential, _) = issued_passport(&server, &holder);
    let (_, (code, _)) = answer_age_over_18(&server, &credential, &holder);
    assert_eq!(code, 200);
    // A presentation for another nonce fails its transaction.
    let (id, ro) = start(&server, json!({"preset": "age_over_18"}));
    let kb = KeyBinding {
        holder: &holder,
        aud: ro["client_id"].as_str().unwrap(),
        nonce: "other",
        iat: server.state.now(),
    };
    let p = HolderCredential::parse(&credential)
        .unwrap()
        .present(&paths(&[&["age_equal_or_over", "18"]]), Some(&kb))
        .unwrap();
    let (code, _) = answer(&ro, json!({"credential": [p]}));
    assert_eq!(code, 400);
    assert_eq!(status(&server, &id)["status"], "failed");
    let mut resp = agent().get(&server.url("/metrics")).call().unwrap();
    let text = resp.body_mut().read_to_string().unwrap();
    assert!(
        text.contains("digital_id_credentials_issued_total{type=\"ru.passport\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("kind=\"oid4vp_response\",outcome=\"verified\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("kind=\"oid4vp_response\",outcome=\"failed\"} 1"),
        "{text}"
    );
}

/// Accepts one result callback on `listener`, answers it 204 and returns
/// its body (the JWS).
pub(crate) fn receive_callback(listener: &std::net::TcpListener) -> String {
    use std::io::{BufRead, BufReader, Read, Write};
    let (stream, _) = listener.accept().unwrap();
    let mut reader = BufReader::new(stream);
    let mut len = 0usize;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().unwrap();
        }
        if line == "\r\n" {
            break;
        }
    }
    let mut body = vec![0; len];
    reader.read_exact(&mut body).unwrap();
    reader
        .get_mut()
        .write_all(b"HTTP/1.1 204 No Content\r\n\r\n")
        .unwrap();
    String::from_utf8(body).unwrap()
}
