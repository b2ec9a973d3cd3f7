//! OAuth 2.0 Attestation-Based Client Authentication
//! (draft-ietf-oauth-attestation-based-client-auth-10) at `/par` and
//! `/token`: required under `--profile haip` (HAIP 1.0 §4.2–4.3), offered
//! and honoured otherwise when wallet providers are configured.

use std::path::PathBuf;

use digital_id::config::{Profile, Settings};
use digital_id::crypto::SigningKey;
use serde_json::{Value, json};

use super::authcode::{self, CLIENT, REDIRECT, VERIFIER};
use super::dpop::{self, header, refused};
use super::wallet::{self, ClockNow, Reply};
use crate::example_wallet::wallet_provider::{WalletProvider, client_attestation_pop};
use crate::fixture::{InProc, T0, agent};
use crate::pg::block_on;

/// A test wallet provider whose root a server can trust, and one wallet
/// instance it attested as `client_id`.
pub struct Wallet {
    pub provider: WalletProvider,
    pub instance: SigningKey,
    pub client_id: String,
    /// `root.pem` of the provider.
    pub root: PathBuf,
    _dir: tempfile::TempDir,
}

impl Wallet {
    /// A provider whose certificates are valid around the test servers'
    /// clock ([`T0`]), and an instance of client `client_id`.
    pub fn new(client_id: &str) -> Self {
        let provider = WalletProvider::generate_valid(
            "Test wallet provider",
            T0 - 10 * 86_400,
            T0 + 90 * 86_400,
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root.pem");
        std::fs::write(&root, provider.root_pem().unwrap()).unwrap();
        Wallet {
            provider,
            instance: wallet::key(),
            client_id: client_id.to_owned(),
            root,
            _dir: dir,
        }
    }

    /// The same provider and client, another instance (another key).
    pub fn other_instance(&self) -> Wallet {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root.pem");
        std::fs::copy(&self.root, &root).unwrap();
        Wallet {
            provider: WalletProvider {
                id: self.provider.id.clone(),
                root: self.provider.root.clone(),
                leaf: self.provider.leaf.clone(),
                signer: SigningKey::from_jwk(&self.provider.signer.to_private_jwk()).unwrap(),
            },
            instance: wallet::key(),
            client_id: self.client_id.clone(),
            root,
            _dir: dir,
        }
    }

    /// Makes `s` trust this wallet's provider.
    pub fn trusted_by(&self, s: &mut Settings) {
        s.attestation.wallet_provider_roots = vec![self.root.clone()];
    }

    /// The wallet attestation, issued now by the server's clock.
    pub fn attestation(&self, server: &InProc) -> String {
        self.provider
            .client_attestation(&self.client_id, self.instance.public(), server.clock_now())
            .unwrap()
    }

    /// A fresh PoP for the server, with `challenge`.
    pub fn pop(&self, server: &InProc, challenge: Option<&str>) -> String {
        client_attestation_pop(&self.instance, &server.base, challenge, server.clock_now()).unwrap()
    }

    /// Both headers, with a fresh PoP carrying a fresh challenge.
    pub fn headers(&self, server: &InProc) -> Vec<(&'static str, String)> {
        let c = challenge(server);
        self.headers_with(server, Some(&c))
    }

    /// Both headers, with a fresh PoP carrying `challenge`.
    pub fn headers_with(
        &self,
        server: &InProc,
        challenge: Option<&str>,
    ) -> Vec<(&'static str, String)> {
        vec![
            ("OAuth-Client-Attestation", self.attestation(server)),
            ("OAuth-Client-Attestation-PoP", self.pop(server, challenge)),
        ]
    }
}

/// A `--profile haip` server trusting a fresh wallet provider, and a
/// wallet of the built-in demo client.
pub fn haip() -> (InProc, Wallet) {
    let w = Wallet::new(CLIENT);
    let server = InProc::start_with(|s| {
        s.profile = Profile::Haip;
        w.trusted_by(s);
    });
    (server, w)
}

/// As [`haip`], with the passport's key attestation policy of DESIGN.md
/// (`iso_18045_high` key storage and user authentication), which the
/// passport requests of these tests meet.
fn haip_with_passport_policy() -> (InProc, Wallet) {
    let w = Wallet::new(CLIENT);
    let server = InProc::start_with(|s| {
        s.profile = Profile::Haip;
        w.trusted_by(s);
        s.key_attestation.insert(
            "ru.passport".into(),
            digital_id::config::KeyAttestationPolicy {
                key_storage: vec!["iso_18045_high".into()],
                user_authentication: vec!["iso_18045_high".into()],
            },
        );
    });
    (server, w)
}

/// `POST /challenge`.
pub fn challenge(server: &InProc) -> String {
    let r = wallet::post_json(server, "/challenge", None, &Value::Null);
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(header(&r, "cache-control"), "no-store");
    r.body["attestation_challenge"].as_str().unwrap().to_owned()
}

/// A DPoP nonce from `POST /nonce`.
pub fn dpop_nonce(server: &InProc) -> String {
    let r = wallet::post_json(server, "/nonce", None, &Value::Null);
    header(&r, "dpop-nonce").to_owned()
}

/// `POST /token` with `form`, a `DPoP` header if given and `headers`.
pub fn post_token(
    server: &InProc,
    form: &[(&str, &str)],
    dpop: Option<&str>,
    headers: &[(&'static str, String)],
) -> Reply {
    let mut req = agent().post(&server.url("/token"));
    if let Some(p) = dpop {
        req = req.header("DPoP", p);
    }
    for (name, value) in headers {
        req = req.header(*name, value);
    }
    wallet::reply(req.send_form(form.iter().copied()))
}

/// `POST /token` redeeming `offer`'s pre-authorized code.
pub fn token(
    server: &InProc,
    offer: &Value,
    dpop: Option<&str>,
    headers: &[(&'static str, String)],
) -> Reply {
    let code = wallet::pre_authorized_code(offer);
    let mut form = vec![
        ("grant_type", wallet::PRE_AUTH),
        ("pre-authorized_code", code.as_str()),
    ];
    if let Some(tx) = offer["tx_code"].as_str() {
        form.push(("tx_code", tx));
    }
    post_token(server, &form, dpop, headers)
}

/// A HAIP DPoP proof for `/token` by `key` (with a server nonce).
fn token_dpop(server: &InProc, key: &SigningKey) -> String {
    let n = dpop_nonce(server);
    dpop::proof_with(server, key, "/token", None, Some(&n), json!({}))
}

/// A 401 `invalid_client` naming `description`, with a challenge.
#[track_caller]
fn invalid_client(r: &Reply, description: &str) {
    refused(r, 401, "invalid_client", description);
    assert!(
        header(r, "www-authenticate").starts_with("OAuth-Client-Attestation"),
        "{:?}",
        r.headers
    );
}

/// The grant behind an access token.
fn grant_of(server: &InProc, token: &str) -> digital_id::issuer::token::AccessToken {
    block_on(digital_id::issuer::token::token_of(
        &server.state.issuer(),
        token,
    ))
    .unwrap()
    .expect("a live access token")
}

/// `POST <path>` with a DPoP-bound token and its proof.
fn with_dpop(server: &InProc, key: &SigningKey, path: &str, token: &str, body: &Value) -> Reply {
    let n = dpop_nonce(server);
    let p = dpop::proof_with(server, key, path, Some(token), Some(&n), json!({}));
    dpop::post(server, path, &format!("DPoP {token}"), Some(&p), body)
}

/// A passport credential request with one key proof by a fresh holder key.
/// A passport request whose key proof carries a key attestation by the
/// wallet's provider (HAIP asks for both).
fn passport_request(server: &InProc, w: &Wallet) -> Value {
    use super::key_attestation::{attested_proof, high};
    let n = wallet::nonce(server);
    let holder = wallet::key();
    let ka = high(server, &w.provider, &[&holder], Some(&n));
    json!({"credential_configuration_id": "ru.passport",
           "proofs": {"jwt": [attested_proof(server, &holder, &n, &ka)]}})
}

#[test]
fn haip_metadata_requires_attestation_and_names_the_challenge_endpoint() {
    let (server, _) = haip();
    let meta = wallet::get(&server, "/.well-known/oauth-authorization-server").body;
    assert_eq!(
        meta["token_endpoint_auth_methods_supported"],
        json!(["attest_jwt_client_auth"])
    );
    assert_eq!(meta["challenge_endpoint"], server.url("/challenge"));
    assert_eq!(
        meta["client_attestation_signing_alg_values_supported"],
        json!(["ES256"])
    );
    assert_eq!(
        meta["client_attestation_pop_signing_alg_values_supported"],
        json!(["ES256"])
    );
    // Two challenges differ; both are accepted (below, in the flows).
    assert_ne!(challenge(&server), challenge(&server));
}

#[test]
fn haip_pre_authorized_issuance_with_client_attestation_and_dpop() {
    let (server, w) = haip_with_passport_policy();
    let key = wallet::key();
    let o = wallet::offer(&server, "ivanov-ivan", &["ru.passport"], true);
    let t = token(
        &server,
        &o,
        Some(&token_dpop(&server, &key)),
        &w.headers(&server),
    );
    assert_eq!(t.status, 200, "{:?}", t.body);
    assert_eq!(t.body["token_type"], "DPoP");
    let access = t.body["access_token"].as_str().unwrap();
    // The grant keeps who the client is and who vouched for it.
    let record = grant_of(&server, access);
    assert_eq!(record.grant.client_id.as_deref(), Some(CLIENT));
    assert_eq!(
        record.grant.wallet_provider.as_deref(),
        Some("CN=Test wallet provider attestations")
    );
    assert_eq!(record.cnf_jkt.as_deref(), Some(key.public().thumbprint()));
    let body = passport_request(&server, &w);
    let r = with_dpop(&server, &key, "/credential", access, &body);
    assert_eq!(r.status, 200, "{:?}", r.body);
    let v = wallet::verify(
        &server,
        r.body["credentials"][0]["credential"].as_str().unwrap(),
    );
    assert_eq!(v.claims["vct"], "urn:ru:digital-id:passport:1");
    // The record keeps who vouched for the client and for the key.
    let recs = wallet::get_authorized(&server, "/issuer/subjects/ivanov-ivan/credentials").body;
    assert_eq!(
        recs[0]["key_attestation"]["key_storage"],
        json!(["iso_18045_high"])
    );
    assert_eq!(
        recs[0]["client_wallet_provider"],
        "CN=Test wallet provider attestations"
    );
}

#[test]
fn haip_authorization_code_issuance_with_par_client_attestation_and_dpop() {
    let (server, w) = haip_with_passport_policy();
    let key = wallet::key();
    let pushed = authcode::push_with(&server, &[("scope", "ru.passport")], &w.headers(&server));
    assert_eq!(pushed.status, 201, "{:?}", pushed.body);
    // A challenge for the next PoP comes with the answer.
    let next = header(&pushed, "oauth-client-attestation-challenge").to_owned();
    assert!(!next.is_empty(), "{:?}", pushed.headers);
    let code = authcode::code_after_push(&server, &pushed, "ivanov-ivan");
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
        ("client_id", CLIENT),
    ];
    let t = post_token(
        &server,
        &form,
        Some(&token_dpop(&server, &key)),
        &w.headers_with(&server, Some(&next)),
    );
    assert_eq!(t.status, 200, "{:?}", t.body);
    assert_eq!(t.body["token_type"], "DPoP");
    let access = t.body["access_token"].as_str().unwrap();
    let record = grant_of(&server, access);
    assert_eq!(record.grant.client_id.as_deref(), Some(CLIENT));
    assert!(record.grant.wallet_provider.is_some());
    let r = with_dpop(
        &server,
        &key,
        "/credential",
        access,
        &passport_request(&server, &w),
    );
    assert_eq!(r.status, 200, "{:?}", r.body);
}

#[test]
fn haip_without_client_attestation_is_invalid_client_at_token_and_par() {
    let (server, w) = haip();
    let key = wallet::key();
    let o = wallet::offer(&server, "ivanov-ivan", &["ru.passport"], false);
    let r = token(&server, &o, Some(&token_dpop(&server, &key)), &[]);
    invalid_client(&r, "client authentication is required");
    // An attestation without its PoP is no authentication either.
    let only = &w.headers(&server)[..1];
    let r = token(&server, &o, Some(&token_dpop(&server, &key)), only);
    invalid_client(&r, "`OAuth-Client-Attestation-PoP` is missing");
    let r = authcode::push_with(&server, &[("scope", "ru.passport")], &[]);
    invalid_client(&r, "client authentication is required");
    // The code was not used up.
    let t = token(
        &server,
        &o,
        Some(&token_dpop(&server, &key)),
        &w.headers(&server),
    );
    assert_eq!(t.status, 200, "{:?}", t.body);
}

#[test]
fn an_attestation_from_an_untrusted_provider_is_invalid_client() {
    let (server, _) = haip();
    let stranger = Wallet::new(CLIENT);
    let o = wallet::offer(&server, "ivanov-ivan", &["ru.passport"], false);
    let r = token(
        &server,
        &o,
        Some(&token_dpop(&server, &wallet::key())),
        &stranger.headers(&server),
    );
    invalid_client(
        &r,
        "the wallet attestation is not from a trusted wallet provider: \
         the certificate chain does not lead to a configured trust anchor",
    );
    let r = authcode::push_with(
        &server,
        &[("scope", "ru.passport")],
        &stranger.headers(&server),
    );
    invalid_client(&r, "not from a trusted wallet provider");
}

#[test]
fn a_pop_signed_by_another_key_is_invalid_client() {
    let (server, w) = haip();
    let c = challenge(&server);
    let pop =
        client_attestation_pop(&wallet::key(), &server.base, Some(&c), server.clock_now()).unwrap();
    let headers = [
        ("OAuth-Client-Attestation", w.attestation(&server)),
        ("OAuth-Client-Attestation-PoP", pop),
    ];
    let o = wallet::offer(&server, "ivanov-ivan", &["ru.passport"], false);
    let r = token(
        &server,
        &o,
        Some(&token_dpop(&server, &wallet::key())),
        &headers,
    );
    invalid_client(
        &r,
        "the client attestation PoP is not signed by the key in the wallet attestation's `cnf`",
    );
}

#[test]
fn a_replayed_pop_jti_is_invalid_client() {
    let (server, w) = haip();
    let headers = w.headers(&server);
    let first = wallet::offer(&server, "ivanov-ivan", &["ru.passport"], false);
    let t = token(
        &server,
        &first,
        Some(&token_dpop(&server, &wallet::key())),
        &headers,
    );
    assert_eq!(t.status, 200, "{:?}", t.body);
    let second = wallet::offer(&server, "ivanov-ivan", &["ru.passport"], false);
    let r = token(
        &server,
        &second,
        Some(&token_dpop(&server, &wallet::key())),
        &headers,
    );
    invalid_client(
        &r,
        "the client attestation PoP was used before (same `jti`)",
    );
    // At `/par` too; a fresh PoP of the same attestation is fine.
    let pushed = authcode::push_with(&server, &[("scope", "ru.passport")], &w.headers(&server));
    assert_eq!(pushed.status, 201, "{:?}", pushed.body);
    let r = authcode::push_with(&server, &[("scope", "ru.passport")], &headers);
    invalid_client(&r, "used before (same `jti`)");
    let t = token(
        &server,
        &second,
        Some(&token_dpop(&server, &wallet::key())),
        &w.headers(&server),
    );
    assert_eq!(t.status, 200, "{:?}", t.body);
}

#[test]
fn with_challenge_required_a_pop_needs_a_server_challenge_and_the_answer_brings_one() {
    let w = Wallet::new(CLIENT);
    let server = InProc::start_with(|s| {
        s.profile = Profile::Haip;
        s.attestation.challenge_required = true;
        w.trusted_by(s);
    });
    let o = wallet::offer(&server, "ivanov-ivan", &["ru.passport"], false);
    let key = wallet::key();
    let r = token(
        &server,
        &o,
        Some(&token_dpop(&server, &key)),
        &w.headers_with(&server, None),
    );
    refused(
        &r,
        400,
        "use_attestation_challenge",
        "a server-provided challenge is required",
    );
    let fresh = header(&r, "oauth-client-attestation-challenge").to_owned();
    assert!(!fresh.is_empty(), "{:?}", r.headers);
    // A challenge past its 5 minutes: the same, with another one.
    server.clock.advance(301);
    let stale = fresh;
    let r = token(
        &server,
        &o,
        Some(&token_dpop(&server, &key)),
        &w.headers_with(&server, Some(&stale)),
    );
    refused(&r, 400, "use_attestation_challenge", "unknown or expired");
    let fresh = header(&r, "oauth-client-attestation-challenge").to_owned();
    let t = token(
        &server,
        &o,
        Some(&token_dpop(&server, &key)),
        &w.headers_with(&server, Some(&fresh)),
    );
    assert_eq!(t.status, 200, "{:?}", t.body);
    // At `/par` the same.
    let r = authcode::push_with(
        &server,
        &[("scope", "ru.passport")],
        &w.headers_with(&server, None),
    );
    refused(
        &r,
        400,
        "use_attestation_challenge",
        "challenge is required",
    );
    assert!(!header(&r, "oauth-client-attestation-challenge").is_empty());
    // Without the setting (HAIP asks for none) a PoP without a challenge
    // is accepted, and a stale one it carries is still refused.
    let (server, w) = haip();
    let o = wallet::offer(&server, "ivanov-ivan", &["ru.passport"], false);
    let t = token(
        &server,
        &o,
        Some(&token_dpop(&server, &key)),
        &w.headers_with(&server, None),
    );
    assert_eq!(t.status, 200, "{:?}", t.body);
    let r = authcode::push_with(
        &server,
        &[("scope", "ru.passport")],
        &w.headers_with(&server, Some("not-a-challenge-of-ours")),
    );
    refused(&r, 400, "use_attestation_challenge", "unknown or expired");
}

#[test]
fn other_attestation_failures_name_their_step() {
    let (server, w) = haip();
    let o = wallet::offer(&server, "ivanov-ivan", &["ru.passport"], false);
    let dpop = || token_dpop(&server, &wallet::key());
    // `client_id` must be the attested `sub`.
    let code = wallet::pre_authorized_code(&o);
    let form = [
        ("grant_type", wallet::PRE_AUTH),
        ("pre-authorized_code", code.as_str()),
        ("client_id", "another-wallet"),
    ];
    let r = post_token(&server, &form, Some(&dpop()), &w.headers(&server));
    invalid_client(
        &r,
        "`client_id` differs from the `sub` of the wallet attestation",
    );
    // A PoP for another audience.
    let c = challenge(&server);
    let pop = client_attestation_pop(
        &w.instance,
        "https://other.example",
        Some(&c),
        server.clock_now(),
    )
    .unwrap();
    let headers = [
        ("OAuth-Client-Attestation", w.attestation(&server)),
        ("OAuth-Client-Attestation-PoP", pop),
    ];
    let r = token(&server, &o, Some(&dpop()), &headers);
    invalid_client(
        &r,
        "`aud` is not this authorization server's issuer identifier",
    );
    // An expired attestation: the wallet should fetch a fresh one.
    let old = w
        .provider
        .client_attestation(
            &w.client_id,
            w.instance.public(),
            server.clock_now() - 86_400 - 120,
        )
        .unwrap();
    let headers = [
        ("OAuth-Client-Attestation", old),
        ("OAuth-Client-Attestation-PoP", w.pop(&server, Some(&c))),
    ];
    let r = token(&server, &o, Some(&dpop()), &headers);
    refused(&r, 400, "use_fresh_attestation", "has expired");
    // Two attestation headers.
    let mut headers = w.headers(&server);
    headers.push(("OAuth-Client-Attestation", w.attestation(&server)));
    let r = token(&server, &o, Some(&dpop()), &headers);
    invalid_client(&r, "send exactly one");
    // None of that used the code up.
    let t = token(&server, &o, Some(&dpop()), &w.headers(&server));
    assert_eq!(t.status, 200, "{:?}", t.body);
}

/// What costs nothing is checked before the client attestation: a token
/// request refused anyway is refused for that, whatever attestation it
/// pairs with (here one from an untrusted provider, whose check would
/// answer `invalid_client`), so an outsider gets no signature checked.
#[test]
fn a_token_request_refused_anyway_gets_no_attestation_checked() {
    let (server, _) = haip();
    let stranger = Wallet::new(CLIENT);
    let headers = stranger.headers(&server);
    let dpop = || token_dpop(&server, &wallet::key());
    let o = wallet::offer(&server, "ivanov-ivan", &["ru.passport"], false);
    let code = wallet::pre_authorized_code(&o);
    let r = post_token(
        &server,
        &[("pre-authorized_code", &code)],
        Some(&dpop()),
        &headers,
    );
    refused(&r, 400, "invalid_request", "`grant_type` is missing");
    let r = post_token(
        &server,
        &[("grant_type", "password"), ("pre-authorized_code", &code)],
        Some(&dpop()),
        &headers,
    );
    refused(&r, 400, "unsupported_grant_type", "not supported");
    let r = post_token(
        &server,
        &[("grant_type", wallet::PRE_AUTH)],
        Some(&dpop()),
        &headers,
    );
    refused(
        &r,
        400,
        "invalid_request",
        "`pre-authorized_code` is missing",
    );
    let r = post_token(
        &server,
        &[("grant_type", "authorization_code")],
        Some(&dpop()),
        &headers,
    );
    refused(&r, 400, "invalid_request", "`code` is missing");
    let form = [
        ("grant_type", wallet::PRE_AUTH),
        ("pre-authorized_code", code.as_str()),
    ];
    let r = post_token(&server, &form, None, &headers);
    refused(&r, 400, "invalid_dpop_proof", "a DPoP proof is required");
    // With everything else in order, the attestation is checked.
    let r = post_token(&server, &form, Some(&dpop()), &headers);
    invalid_client(&r, "not from a trusted wallet provider");
}

#[test]
fn an_authorization_code_is_bound_to_the_attested_instance() {
    let w = Wallet::new(CLIENT);
    let server = InProc::start_with(|s| w.trusted_by(s));
    let pushed = authcode::push_with(&server, &[("scope", "ru.passport")], &w.headers(&server));
    assert_eq!(pushed.status, 201, "{:?}", pushed.body);
    let code = authcode::code_after_push(&server, &pushed, "ivanov-ivan");
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
        ("client_id", CLIENT),
    ];
    let r = post_token(&server, &form, None, &w.other_instance().headers(&server));
    refused(
        &r,
        400,
        "invalid_grant",
        "bound to the wallet instance that pushed the request",
    );
    // Without attestation: the same.
    let r = post_token(&server, &form, None, &[]);
    refused(&r, 400, "invalid_grant", "bound to the wallet instance");
    // Neither burnt the code: the instance that pushed redeems it,
    // `client_id` taken from its attestation.
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ];
    let t = post_token(&server, &form, None, &w.headers(&server));
    assert_eq!(t.status, 200, "{:?}", t.body);
    assert_eq!(t.body["token_type"], "Bearer");
    // Then it is used up, for its own instance too.
    let r = post_token(&server, &form, None, &w.headers(&server));
    refused(&r, 400, "invalid_grant", "unknown, used or expired");
    // A code tried by its own instance with a wrong `code_verifier` is
    // burnt (tried once, RFC 6749 §4.1.2).
    let pushed = authcode::push_with(&server, &[("scope", "ru.passport")], &w.headers(&server));
    let code = authcode::code_after_push(&server, &pushed, "ivanov-ivan");
    let wrong = "w".repeat(43);
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", wrong.as_str()),
    ];
    let r = post_token(&server, &form, None, &w.headers(&server));
    refused(
        &r,
        400,
        "invalid_grant",
        "does not match the `code_challenge`",
    );
    form[3].1 = VERIFIER;
    let r = post_token(&server, &form, None, &w.headers(&server));
    refused(&r, 400, "invalid_grant", "unknown, used or expired");
}

/// The issued-credential record names the wallet provider whose wallet
/// attestation authenticated the client (`client_wallet_provider`, beside
/// `client_id`), and a public client's has none.
#[test]
fn the_issued_credential_record_names_the_client_wallet_provider() {
    let w = Wallet::new("wallet-app");
    let server = InProc::start_with(|s| w.trusted_by(s));
    let ids = || {
        let r = wallet::get_authorized(&server, "/issuer/subjects/ivanov-ivan/credentials");
        assert_eq!(r.status, 200, "{:?}", r.body);
        let ids: Vec<String> = r
            .body
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_owned())
            .collect();
        ids
    };
    let record_of_one_issuance = |headers: &[(&'static str, String)]| {
        let before = ids();
        let o = wallet::offer(&server, "ivanov-ivan", &["ru.passport"], false);
        let t = token(&server, &o, None, headers);
        assert_eq!(t.status, 200, "{:?}", t.body);
        let access = t.body["access_token"].as_str().unwrap();
        let r = wallet::credential(&server, access, &passport_request(&server, &w));
        assert_eq!(r.status, 200, "{:?}", r.body);
        let new: Vec<String> = ids()
            .into_iter()
            .filter(|id| !before.contains(id))
            .collect();
        let [id] = new.as_slice() else {
            panic!("one new record: {new:?}");
        };
        let r = wallet::get_authorized(&server, &format!("/issuer/credentials/{id}"));
        assert_eq!(r.status, 200, "{:?}", r.body);
        r.body
    };
    let attested = record_of_one_issuance(&w.headers_with(&server, None));
    assert_eq!(attested["client_id"], "wallet-app");
    assert_eq!(
        attested["client_wallet_provider"],
        "CN=Test wallet provider attestations"
    );
    // The key attestation's provider is recorded apart.
    assert_eq!(
        attested["key_attestation"]["wallet_provider"],
        "CN=Test wallet provider attestations"
    );
    let public = record_of_one_issuance(&[]);
    assert!(public.get("client_wallet_provider").is_none(), "{public}");
}

#[test]
fn an_attested_client_must_still_be_registered_for_its_redirect_uris() {
    let w = Wallet::new("unregistered-wallet");
    let server = InProc::start_with(|s| w.trusted_by(s));
    let form = [
        ("response_type", "code"),
        ("client_id", "unregistered-wallet"),
        ("redirect_uri", "https://attacker.example/cb"),
        ("code_challenge", &authcode::challenge()),
        ("code_challenge_method", "S256"),
        ("scope", "ru.passport"),
    ];
    let r = authcode::post_par(&server, &form, &w.headers(&server));
    refused(&r, 400, "invalid_client", "not a registered wallet client");
}

#[test]
fn outside_haip_attestation_is_offered_and_honoured_and_bearer_flows_still_work() {
    let w = Wallet::new("wallet-app");
    let server = InProc::start_with(|s| w.trusted_by(s));
    let meta = wallet::get(&server, "/.well-known/oauth-authorization-server").body;
    assert_eq!(
        meta["token_endpoint_auth_methods_supported"],
        json!(["none", "attest_jwt_client_auth"])
    );
    assert_eq!(
        meta["client_attestation_pop_signing_alg_values_supported"],
        json!(["ES256", "Ed25519", "EdDSA"])
    );
    assert_eq!(meta["challenge_endpoint"], server.url("/challenge"));
    // Attested, no challenge, no DPoP: a bearer token for the attested
    // client.
    let o = wallet::offer(&server, "ivanov-ivan", &["ru.passport"], true);
    let t = token(&server, &o, None, &w.headers_with(&server, None));
    assert_eq!(t.status, 200, "{:?}", t.body);
    assert_eq!(t.body["token_type"], "Bearer");
    let access = t.body["access_token"].as_str().unwrap();
    let record = grant_of(&server, access);
    assert_eq!(record.grant.client_id.as_deref(), Some("wallet-app"));
    assert!(record.grant.wallet_provider.is_some());
    let r = wallet::credential(&server, access, &passport_request(&server, &w));
    assert_eq!(r.status, 200, "{:?}", r.body);
    // A challenge, when sent, is checked.
    let o = wallet::offer(&server, "ivanov-ivan", &["ru.passport"], false);
    let r = token(&server, &o, None, &w.headers_with(&server, Some("made-up")));
    refused(&r, 400, "use_attestation_challenge", "unknown or expired");
    // And a failed attestation is not ignored.
    let r = token(
        &server,
        &o,
        None,
        &Wallet::new("wallet-app").headers(&server),
    );
    invalid_client(&r, "not from a trusted wallet provider");
    // Without attestation: a public client, as before.
    let t = wallet::token_for(&server, &o);
    assert_eq!(t.status, 200, "{:?}", t.body);
    assert!(
        grant_of(&server, t.body["access_token"].as_str().unwrap())
            .grant
            .wallet_provider
            .is_none()
    );
}

#[test]
fn without_wallet_providers_attestation_is_not_offered() {
    let server = InProc::start();
    let meta = wallet::get(&server, "/.well-known/oauth-authorization-server").body;
    assert_eq!(
        meta["token_endpoint_auth_methods_supported"],
        json!(["none"])
    );
    assert!(meta.get("challenge_endpoint").is_none(), "{meta}");
    let r = wallet::post_json(&server, "/challenge", None, &Value::Null);
    assert_eq!((r.status, r.error()), (404, "not_found"));
    // An attestation sent anyway is checked, and no provider is trusted.
    let w = Wallet::new("wallet-app");
    let o = wallet::offer(&server, "ivanov-ivan", &["ru.passport"], false);
    let r = token(&server, &o, None, &w.headers_with(&server, None));
    invalid_client(&r, "not from a trusted wallet provider");
}

/// A refused token request records neither its DPoP proof nor its
/// client attestation PoP: an outsider without a code writes nothing, and
/// the same proofs still work with a good code. Once they have, they are
/// spent.
#[test]
fn a_refused_token_request_records_no_proof() {
    let (server, w) = haip();
    let key = wallet::key();
    let dpop = token_dpop(&server, &key);
    let headers = w.headers(&server);
    let bogus = [
        ("grant_type", wallet::PRE_AUTH),
        ("pre-authorized_code", "no-such-code"),
    ];
    for _ in 0..3 {
        let r = post_token(&server, &bogus, Some(&dpop), &headers);
        refused(&r, 400, "invalid_grant", "unknown, used or expired");
    }
    let store = &*server.state.store;
    let now = server.clock_now();
    for ns in ["vci_dpop_jti", "vci_client_attestation_jti"] {
        let entries = block_on(store.scan(ns, String::new(), now, 10)).unwrap();
        assert!(entries.is_empty(), "{ns}: {entries:?}");
    }
    let o = wallet::offer(&server, "ivanov-ivan", &["ru.passport"], false);
    let t = token(&server, &o, Some(&dpop), &headers);
    assert_eq!(t.status, 200, "{:?}", t.body);
    for ns in ["vci_dpop_jti", "vci_client_attestation_jti"] {
        let entries = block_on(store.scan(ns, String::new(), now, 10)).unwrap();
        assert_eq!(entries.len(), 1, "{ns}");
    }
    let again = wallet::offer(&server, "ivanov-ivan", &["ru.passport"], false);
    let r = token(&server, &again, Some(&dpop), &headers);
    invalid_client(&r, "used before (same `jti`)");
    let r = token(&server, &again, Some(&dpop), &w.headers(&server));
    refused(&r, 400, "invalid_dpop_proof", "used before (same `jti`)");
}

/// `POST /token` is rate limited per client like the other endpoints that
/// can make the server write.
#[test]
fn the_token_endpoint_is_rate_limited() {
    let server = InProc::start_with(|s| {
        s.limits.per_client_rate = 0.001;
        s.limits.per_client_burst = 3.0;
    });
    let bogus = [
        ("grant_type", wallet::PRE_AUTH),
        ("pre-authorized_code", "no-such-code"),
    ];
    let statuses: Vec<u16> = (0..5)
        .map(|_| post_token(&server, &bogus, None, &[]).status)
        .collect();
    assert_eq!(statuses, [400, 400, 400, 429, 429]);
    let r = post_token(&server, &bogus, None, &[]);
    assert_eq!(r.error(), "rate_limited");
    assert_eq!(header(&r, "retry-after"), "1");
}
