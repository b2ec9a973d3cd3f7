//! Citizen sign-in through an upstream OpenID Provider (DESIGN.md "Citizen
//! sign-in"): the happy path against a real one (`oidc-provider`, started
//! from `tests/signin/provider.mjs`), each rejection against a small stub
//! provider that serves crafted ID tokens.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use digital_id::clock::Clock;
use digital_id::config::{AuthChoice, AuthFile, SignIn, WalletClient};
use serde_json::{Value, json};

use crate::fixture::{InProc, Mode};
use crate::issuer::authcode::{VERIFIER, challenge, no_redirect_agent, param};
use crate::issuer::wallet::{self, credential, key, nonce, proof};

const WALLET: &str = "gosuslugi-wallet";
const WALLET_REDIRECT: &str = "https://wallet.example/cb";

/// The real OpenID Provider, killed on drop.
struct Idp {
    child: Child,
    issuer: String,
}

impl Idp {
    fn start(redirect_uri: &str) -> Idp {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/signin");
        let mut child = Command::new("node")
            .arg(format!("{dir}/provider.mjs"))
            .env("REDIRECT_URI", redirect_uri)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node (run tests/signin/install.sh first)");
        let mut line = String::new();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        out.read_line(&mut line).unwrap();
        // Keep reading: the provider logs to stdout, and a closed pipe
        // would end it.
        std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
        let port = line
            .trim()
            .strip_prefix("listening ")
            .unwrap_or_else(|| panic!("provider did not start: {line:?}"));
        Idp {
            child,
            issuer: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for Idp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Our server, production mode (no `--demo`), with `[auth]` pointing at
/// `issuer` (computed from the redirect URI by `provider`).
fn server_with(provider: impl FnOnce(&str) -> (String, String)) -> (InProc, String) {
    let mut extra = String::new();
    let server = InProc::start_mode(Mode::PRODUCTION, |s| {
        let redirect = format!("http://{}/signin/callback", s.bind);
        let (issuer, auth) = provider(&redirect);
        extra = issuer.clone();
        let text = format!(
            "provider = \"oidc\"\nissuer = \"{issuer}\"\nclient_id = \"digital-id\"\n{auth}"
        );
        let file: AuthFile = toml::from_str(&text).unwrap();
        let Ok(AuthChoice::Oidc(oidc)) = file.check(false, &s.public_url) else {
            panic!("not oidc");
        };
        s.sign_in = Some(SignIn::Oidc);
        s.oidc = Some(*oidc);
        s.clients = vec![WalletClient {
            client_id: WALLET.into(),
            name: "Госуслуги Кошелёк".into(),
            redirect_uris: vec![WALLET_REDIRECT.into()],
        }];
    });
    (server, extra)
}

/// A browser: no automatic redirects, cookies kept per origin.
struct Browser {
    agent: ureq::Agent,
    jar: HashMap<String, HashMap<String, String>>,
}

/// A response: status, body, `Location` (absolute).
struct Page {
    status: u16,
    body: String,
    location: Option<String>,
}

fn origin(url: &str) -> String {
    let rest = url.split_once("://").unwrap().1;
    let host = rest.split('/').next().unwrap();
    format!("{}://{host}", url.split_once("://").unwrap().0)
}

impl Browser {
    fn new() -> Self {
        Browser {
            agent: no_redirect_agent(),
            jar: HashMap::new(),
        }
    }

    fn cookies(&self, url: &str) -> String {
        self.jar
            .get(&origin(url))
            .map(|c| {
                c.iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .unwrap_or_default()
    }

    fn keep(
        &mut self,
        url: &str,
        r: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Page {
        let mut r = r.unwrap();
        let jar = self.jar.entry(origin(url)).or_default();
        for c in r.headers().get_all("set-cookie") {
            let pair = c.to_str().unwrap().split(';').next().unwrap();
            let (k, v) = pair.split_once('=').unwrap();
            if v.is_empty() || c.to_str().unwrap().contains("Max-Age=0") {
                jar.remove(k);
            } else {
                jar.insert(k.to_owned(), v.to_owned());
            }
        }
        let location = r.headers().get("location").map(|l| {
            let l = l.to_str().unwrap();
            match l.starts_with('/') {
                true => format!("{}{l}", origin(url)),
                false => l.to_owned(),
            }
        });
        Page {
            status: r.status().as_u16(),
            body: r.body_mut().read_to_string().unwrap_or_default(),
            location,
        }
    }

    fn get(&mut self, url: &str) -> Page {
        let mut req = self.agent.get(url);
        let cookies = self.cookies(url);
        if !cookies.is_empty() {
            req = req.header("Cookie", &cookies);
        }
        let r = req.call();
        self.keep(url, r)
    }

    fn post(&mut self, url: &str, form: &[(&str, &str)]) -> Page {
        let mut req = self.agent.post(url);
        let cookies = self.cookies(url);
        if !cookies.is_empty() {
            req = req.header("Cookie", &cookies);
        }
        let r = req.send_form(form.iter().copied());
        self.keep(url, r)
    }
}

/// The wallet's authorization request, opened in the browser: the answer
/// sends it to the provider.
fn authorize(server: &InProc, b: &mut Browser, scope: &str) -> Page {
    let challenge = challenge();
    let query = serde_urlencoded::to_string([
        ("response_type", "code"),
        ("client_id", WALLET),
        ("redirect_uri", WALLET_REDIRECT),
        ("scope", scope),
        ("state", "wallet-state"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ])
    .unwrap();
    b.get(&server.url(&format!("/authorize?{query}")))
}

fn session_of(html: &str) -> String {
    let marker = "name=\"session\" value=\"";
    let start = html.find(marker).expect("no session field") + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

/// Wallet → `/authorize` → the provider's login form as `account` → back
/// to our callback: its answer.
fn sign_in_at_real_provider(server: &InProc, b: &mut Browser, account: &str, scope: &str) -> Page {
    let to_idp = authorize(server, b, scope);
    assert_eq!(to_idp.status, 303, "{}", to_idp.body);
    let login = b.get(to_idp.location.as_deref().unwrap());
    assert_eq!(login.status, 303, "{}", login.body);
    let interaction = login.location.unwrap();
    let form = b.get(&interaction);
    assert_eq!(form.status, 200, "{}", form.body);
    let action = form
        .body
        .split("action=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let done = b.post(
        &format!("{}{action}", origin(&interaction)),
        &[("login", account)],
    );
    assert_eq!(done.status, 303, "{}", done.body);
    let resume = b.get(done.location.as_deref().unwrap());
    assert_eq!(resume.status, 303, "{}", resume.body);
    let callback = resume.location.unwrap();
    assert!(
        callback.starts_with(&server.url("/signin/callback")),
        "{callback}"
    );
    b.get(&callback)
}

fn real_server() -> (InProc, Idp) {
    let mut idp = None;
    let (server, _) = server_with(|redirect| {
        let p = Idp::start(redirect);
        let issuer = p.issuer.clone();
        idp = Some(p);
        (
            issuer,
            "client_secret = \"signin-test-secret\"\nsubject_claim = \"snils\"\nscopes = [\"openid\", \"snils\"]\n".into(),
        )
    });
    // The provider signs with the real time; ours follows.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    server.clock.set(now);
    (server, idp.unwrap())
}

fn redeem(server: &InProc, location: &str) -> wallet::Reply {
    assert!(location.starts_with(WALLET_REDIRECT), "{location}");
    assert_eq!(param(location, "state").as_deref(), Some("wallet-state"));
    let code = param(location, "code").expect("a code");
    wallet::post_form(
        server,
        "/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", WALLET_REDIRECT),
            ("code_verifier", VERIFIER),
            ("client_id", WALLET),
        ],
    )
}

fn back_office(server: &InProc, path: &str) -> Value {
    wallet::get_authorized(server, path).body
}

#[test]
fn real_provider_sign_in_with_consent_then_remembered() {
    let (server, _idp) = real_server();
    let mut b = Browser::new();
    let page = sign_in_at_real_provider(&server, &mut b, "ivanov", "ru.passport");
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Identity proofed by"), "{}", page.body);
    assert!(
        page.body.contains("NFC passport"),
        "the provider's amr, not the registry's"
    );
    assert!(
        b.cookies(&server.base).is_empty(),
        "the sign-in cookie is removed"
    );
    let approved = b.post(
        &server.url("/authorize/consent"),
        &[
            ("session", &session_of(&page.body)),
            ("decision", "approve"),
        ],
    );
    assert_eq!(approved.status, 303);
    let t = redeem(&server, approved.location.as_deref().unwrap());
    assert_eq!(t.status, 200, "{:?}", t.body);
    let token = t.body["access_token"].as_str().unwrap();
    let holder = key();
    let n = nonce(&server);
    let r = credential(
        &server,
        token,
        &json!({"credential_configuration_id": "ru.passport", "proofs": {"jwt": [proof(&server, &holder, &n)]}}),
    );
    assert_eq!(r.status, 200, "{:?}", r.body);
    let v = wallet::verify(
        &server,
        r.body["credentials"][0]["credential"].as_str().unwrap(),
    );
    assert_eq!(v.claims["family_name"], "Иванов");

    // The registry says `biometric`; the provider's `amr: ["sc"]` is recorded.
    let consents = back_office(&server, "/issuer/subjects/ivanov-ivan/consents");
    assert_eq!(consents[0]["client_id"], WALLET);
    assert_eq!(consents[0]["identity_proofing"], "nfc_passport");
    let records = back_office(&server, "/issuer/subjects/ivanov-ivan/credentials");
    assert_eq!(records[0]["identity_proofing"], "nfc_passport", "{records}");

    // Signed in again: the consent is remembered, straight back to the wallet.
    let mut b = Browser::new();
    let again = sign_in_at_real_provider(&server, &mut b, "ivanov", "ru.passport");
    assert_eq!(again.status, 303, "{}", again.body);
    assert_eq!(
        redeem(&server, again.location.as_deref().unwrap()).status,
        200
    );
}

#[test]
fn a_person_without_a_registry_record_gets_a_page_and_the_wallet_access_denied() {
    let (server, _idp) = real_server();
    let mut b = Browser::new();
    let page = sign_in_at_real_provider(&server, &mut b, "stranger", "ru.passport");
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(
        page.body.contains("registry holds no record for you"),
        "{}",
        page.body
    );
    assert!(page.body.contains("access_denied"));
    for registry_detail in ["Иванов", "ivanov-ivan", "1985-"] {
        assert!(!page.body.contains(registry_detail), "{registry_detail}");
    }
    let back = page
        .body
        .split("href=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let back = back.replace("&amp;", "&");
    assert!(back.starts_with(WALLET_REDIRECT), "{back}");
    assert_eq!(param(&back, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(&back, "state").as_deref(), Some("wallet-state"));
    assert!(
        param(&back, "error_description")
            .unwrap()
            .contains("no record")
    );
}

#[test]
fn a_callback_whose_state_is_not_the_cookies_is_refused() {
    let (server, _idp) = real_server();
    let mut b = Browser::new();
    let to_idp = authorize(&server, &mut b, "ru.passport");
    let state = param(to_idp.location.as_deref().unwrap(), "state").unwrap();
    // Another browser (no cookie) brings this state back.
    let mut other = Browser::new();
    let page = other.get(&server.url(&format!("/signin/callback?code=c&state={state}")));
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(
        page.body.contains("does not match `state`"),
        "{}",
        page.body
    );
    // This browser with a state that is not its own.
    let page = b.get(&server.url("/signin/callback?code=c&state=forged"));
    assert_eq!(page.status, 400);
    assert!(
        page.body.contains("does not match `state`"),
        "{}",
        page.body
    );
}

/// A misbehaving provider: discovery, JWKS and a token endpoint that
/// answers with whatever ID token the test put in `id_token`.
struct Stub {
    issuer: String,
    id_token: Arc<Mutex<String>>,
    jwks_fetches: Arc<Mutex<u32>>,
    key: josekit::jwk::alg::ec::EcKeyPair,
}

const STUB_KID: &str = "stub-1";

impl Stub {
    fn start() -> Stub {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let key = josekit::jwk::alg::ec::EcKeyPair::generate(josekit::jwk::alg::ec::EcCurve::P256)
            .unwrap();
        let mut public = key.to_jwk_public_key();
        public.set_key_id(STUB_KID);
        let jwks = json!({"keys": [serde_json::to_value(public.as_ref()).unwrap()]});
        let id_token = Arc::new(Mutex::new(String::new()));
        let jwks_fetches = Arc::new(Mutex::new(0));
        let (iss, tok, fetches) = (issuer.clone(), id_token.clone(), jwks_fetches.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut first = String::new();
                let _ = reader.read_line(&mut first);
                let mut length = 0;
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                        break;
                    }
                    if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                let path = first.split(' ').nth(1).unwrap_or("");
                let answer = match path {
                    "/.well-known/openid-configuration" => json!({
                        "issuer": iss, "authorization_endpoint": format!("{iss}/authorize"),
                        "token_endpoint": format!("{iss}/token"), "jwks_uri": format!("{iss}/jwks"),
                    }),
                    "/jwks" => {
                        *fetches.lock().unwrap() += 1;
                        jwks.clone()
                    }
                    "/token" => json!({"access_token": "at", "token_type": "Bearer",
                                       "id_token": *tok.lock().unwrap()}),
                    _ => json!({}),
                };
                let text = answer.to_string();
                let _ = write!(
                    conn,
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
                    text.len()
                );
            }
        });
        Stub {
            issuer,
            id_token,
            jwks_fetches,
            key,
        }
    }

    fn sign(&self, key: &josekit::jwk::alg::ec::EcKeyPair, kid: &str, claims: &Value) -> String {
        let mut header = josekit::jws::JwsHeader::new();
        header.set_key_id(kid);
        let signer = josekit::jws::ES256
            .signer_from_jwk(&key.to_jwk_private_key())
            .unwrap();
        josekit::jws::serialize_compact(claims.to_string().as_bytes(), &header, &signer).unwrap()
    }
}

/// Signs in through the stub whose ID token is `claims` with `change`
/// applied (signed by the stub's key unless `change` says otherwise);
/// returns our callback's page.
fn stub_sign_in(
    change: impl FnOnce(&Stub, &mut Value) -> Option<String>,
) -> (Page, Arc<Mutex<u32>>) {
    let stub = Stub::start();
    let issuer = stub.issuer.clone();
    let (server, _) = server_with(move |_| (issuer, "client_secret = \"s\"\n".into()));
    let mut b = Browser::new();
    let to_idp = authorize(&server, &mut b, "ru.passport");
    assert_eq!(to_idp.status, 303, "{}", to_idp.body);
    let url = to_idp.location.unwrap();
    assert!(
        url.starts_with(&format!("{}/authorize?", stub.issuer)),
        "{url}"
    );
    assert_eq!(
        param(&url, "code_challenge_method").as_deref(),
        Some("S256")
    );
    let now = server.clock.now();
    let mut claims = json!({
        "iss": stub.issuer, "aud": "digital-id", "sub": "ivanov-ivan",
        "iat": now, "exp": now + 300, "nonce": param(&url, "nonce").unwrap(), "amr": ["face"],
    });
    let token =
        change(&stub, &mut claims).unwrap_or_else(|| stub.sign(&stub.key, STUB_KID, &claims));
    *stub.id_token.lock().unwrap() = token;
    let state = param(&url, "state").unwrap();
    let page = b.get(&server.url(&format!("/signin/callback?code=c1&state={state}")));
    (page, stub.jwks_fetches.clone())
}

fn refused(page: &Page, rule: &str) {
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(page.body.contains("access_denied"), "{}", page.body);
    assert!(page.body.contains(rule), "{rule}: {}", page.body);
}

/// RFC 6749 §4.1.2.1 with the provider too: once the client and its
/// redirect URI are known, a bad request goes back to the wallet, and the
/// provider is never asked.
#[test]
fn a_bad_request_of_a_known_client_goes_back_to_the_wallet() {
    let stub = Stub::start();
    let issuer = stub.issuer.clone();
    let (server, _) = server_with(move |_| (issuer, "client_secret = \"s\"\n".into()));
    let mut b = Browser::new();
    let query = serde_urlencoded::to_string([
        ("response_type", "code"),
        ("client_id", WALLET),
        ("redirect_uri", WALLET_REDIRECT),
        ("scope", "ru.passport"),
        ("state", "wallet-state"),
    ])
    .unwrap();
    let page = b.get(&server.url(&format!("/authorize?{query}")));
    assert_eq!(page.status, 302, "{}", page.body);
    let location = page.location.unwrap();
    assert!(location.starts_with(WALLET_REDIRECT), "{location}");
    assert_eq!(
        param(&location, "error").as_deref(),
        Some("invalid_request")
    );
    assert_eq!(param(&location, "state").as_deref(), Some("wallet-state"));
    assert!(param(&location, "iss").is_some(), "{location}");
    assert_eq!(*stub.jwks_fetches.lock().unwrap(), 0);
}

#[test]
fn the_stub_provider_signs_in_when_every_rule_holds() {
    let (page, _) = stub_sign_in(|_, _| None);
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("biometrics"), "{}", page.body);
}

#[test]
fn an_id_token_with_another_nonce_is_refused() {
    let (page, _) = stub_sign_in(|_, c| {
        c["nonce"] = json!("another-sign-in");
        None
    });
    refused(&page, "`nonce` is not the one of this sign-in");
}

#[test]
fn an_id_token_for_another_audience_is_refused() {
    let (page, _) = stub_sign_in(|_, c| {
        c["aud"] = json!("another-client");
        None
    });
    refused(&page, "`aud` does not name this client");
}

#[test]
fn an_expired_id_token_is_refused() {
    let (page, _) = stub_sign_in(|_, c| {
        let now = c["iat"].as_i64().unwrap();
        c["iat"] = json!(now - 400);
        c["exp"] = json!(now - 100);
        None
    });
    refused(&page, "ID token has expired");
}

#[test]
fn an_id_token_signed_by_an_unknown_key_is_refused_after_one_jwks_refetch() {
    let (page, fetches) = stub_sign_in(|stub, c| {
        let rogue =
            josekit::jwk::alg::ec::EcKeyPair::generate(josekit::jwk::alg::ec::EcCurve::P256)
                .unwrap();
        Some(stub.sign(&rogue, "rogue-key", c))
    });
    refused(&page, "signed by a key the provider does not publish");
    assert_eq!(
        *fetches.lock().unwrap(),
        2,
        "cached once, fetched again once"
    );
}

#[test]
fn an_id_token_from_another_issuer_is_refused() {
    let (page, _) = stub_sign_in(|_, c| {
        c["iss"] = json!("https://idp.evil.example");
        None
    });
    refused(&page, "`iss` is not the configured provider");
}

#[test]
fn a_minor_asking_for_an_adult_only_document_is_refused() {
    let (page, _) = stub_sign_in(|_, c| {
        c["sub"] = json!("popov-artyom");
        None
    });
    refused(&page, "only issued to adults");
    assert!(!page.body.contains("Попов"), "no registry detail");
}

#[test]
fn a_sign_in_without_identity_proofing_is_refused() {
    let (page, _) = stub_sign_in(|_, c| {
        c["amr"] = json!(["pwd"]);
        None
    });
    refused(&page, "identity has not been proofed");
}
