//! A command-line wallet on the digital-id library.
//!
//! ```text
//! cargo run --example wallet -- offer  '<openid-credential-offer://…>' [--tx-code 123456]
//! cargo run --example wallet -- present '<openid4vp://…>'
//! cargo run --example wallet -- show-qr --verifier http://127.0.0.1:8080 --preset age_over_18
//! cargo run --example wallet -- list
//! ```
//!
//! The device key lives in `wallet-key.jwk` (0600) and credentials in
//! `wallet-credentials.json`, in `--dir` (default `./wallet`). Only the
//! claims a request asks for are disclosed.
//!
//! For servers that demand attestations (`--profile haip`) the wallet
//! carries a test wallet provider in `<dir>/wallet-provider` (a generated
//! root CA and signing leaf, never for production): it attests the wallet
//! instance (OAuth attestation-based client authentication at the token
//! endpoint) and the device key (a `key_attestation` in the key proof).
//! `cargo run --example wallet -- provider-root > wallet-providers.pem`
//! prints the root a server's `[attestation] wallet_provider_roots` names.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::{Parser, Subcommand};
use serde_json::{Map, Value, json};

use digital_id::crypto::jws::{self, Jws};
use digital_id::crypto::{Algorithm, PublicKey, SigningKey, b64url, did_key, random_token, sha256};
use digital_id::sdjwt::{ClaimPath, HolderCredential, KeyBinding};
use digital_id::verifier::dcql::{CredentialQuery, DcqlQuery};
use digital_id::verifier::{jwe, presets::Preset};

/// The test wallet provider (wallet and key attestations for HAIP servers).
#[path = "support/wallet_provider.rs"]
pub mod wallet_provider;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// The identifier of the test wallet provider (`iss` of its attestations).
pub const WALLET_PROVIDER: &str = "https://wallet-provider.example";

#[derive(Parser)]
struct Cli {
    /// Where the device key and credentials are kept.
    #[arg(long, default_value = "wallet")]
    dir: PathBuf,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Obtains the credentials of an OpenID4VCI offer (pre-authorized code),
    /// with DPoP-bound tokens when the authorization server offers ES256
    /// DPoP, authenticated by a wallet attestation (from the test wallet
    /// provider in `<dir>/wallet-provider`) when it offers
    /// `attest_jwt_client_auth`.
    Offer {
        link: String,
        #[arg(long)]
        tx_code: Option<String>,
    },
    /// Answers an OpenID4VP request with only the requested claims.
    Present { link: String },
    /// Shows a holder QR in the terminal, refreshed every 30 s.
    ShowQr {
        #[arg(long)]
        verifier: String,
        #[arg(long, default_value = "age_over_18")]
        preset: String,
        /// Show one QR and exit.
        #[arg(long)]
        once: bool,
    },
    /// Lists stored credentials (their types).
    List,
    /// Prints the test wallet provider's root certificate (PEM), for a
    /// server's `[attestation] wallet_provider_roots`.
    ProviderRoot,
}

/// The client id the wallet's attestations name.
pub const CLIENT_ID: &str = "digital-id-example-wallet";

/// Largest QR version shown by value; bigger presentations go by reference
/// (versions above ~25 are hard to scan from a phone screen).
const MAX_QR_VERSION: i16 = 25;

fn main() -> Res<()> {
    run(std::env::args_os())
}

/// The command line `args` (the program name first); `tests/it` runs the
/// wallet through here against a real server.
pub fn run<I, T>(args: I) -> Res<()>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = Cli::try_parse_from(args)?;
    let wallet = Wallet::open(&cli.dir)?;
    match cli.cmd {
        Cmd::Offer { link, tx_code } => wallet.accept_offer(&link, tx_code.as_deref()),
        Cmd::Present { link } => wallet.present(&link),
        Cmd::ShowQr {
            verifier,
            preset,
            once,
        } => wallet.show_qr(&verifier, &preset, once),
        Cmd::ProviderRoot => {
            print!("{}", String::from_utf8(wallet.provider()?.root_pem()?)?);
            Ok(())
        }
        Cmd::List => {
            for c in wallet.credentials()? {
                let h = HolderCredential::parse(&c)?;
                println!(
                    "{}",
                    h.claims.get("vct").and_then(Value::as_str).unwrap_or("?")
                );
            }
            Ok(())
        }
    }
}

struct Wallet {
    dir: PathBuf,
    key: SigningKey,
    http: ureq::Agent,
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn query_param(link: &str, name: &str) -> Option<String> {
    let query = link.split_once('?')?.1;
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == name).then(|| percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(v) => {
                        out.push(v);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// DPoP (RFC 9449) for one offer: proofs of possession of `key`, to which
/// the access token is bound, with the latest server nonce.
///
/// The key is made for the offer and never stored: a DPoP key only has to
/// outlive the access token, which this command uses and drops, and keeping
/// it apart from the device key (whose public key every credential carries)
/// means a DPoP proof is never a signature by the holder key.
struct Dpop {
    key: SigningKey,
    /// The last `DPoP-Nonce` the server sent (§8), if any.
    nonce: Option<String>,
}

impl Dpop {
    /// DPoP with a fresh ES256 key if the authorization server metadata
    /// lists ES256 in `dpop_signing_alg_values_supported`; `None` (Bearer
    /// tokens) otherwise.
    fn offered(as_meta: &Value) -> Res<Option<Self>> {
        let es256 = as_meta["dpop_signing_alg_values_supported"]
            .as_array()
            .is_some_and(|algs| algs.iter().any(|a| a == Algorithm::Es256.as_str()));
        if !es256 {
            return Ok(None);
        }
        Ok(Some(Dpop {
            key: SigningKey::generate(Algorithm::Es256)?,
            nonce: None,
        }))
    }

    /// A proof for `POST url` (§4.2): `htu` is the URL without query or
    /// fragment, `ath` hashes `access_token` when one is presented.
    fn proof(&self, url: &str, access_token: Option<&str>) -> Res<String> {
        let htu = url.split(['?', '#']).next().unwrap_or(url);
        let mut claims = json!({"htm": "POST", "htu": htu, "iat": now(), "jti": random_token()});
        let c = claims.as_object_mut().ok_or("claims")?;
        if let Some(token) = access_token {
            c.insert("ath".into(), b64url(sha256(token)).into());
        }
        if let Some(n) = &self.nonce {
            c.insert("nonce".into(), n.clone().into());
        }
        let mut header = Map::new();
        header.insert("typ".into(), "dpop+jwt".into());
        header.insert("jwk".into(), Value::Object(self.key.public().jwk().clone()));
        Ok(jws::sign(
            &self.key,
            &header,
            &serde_json::to_vec(&claims)?,
        )?)
    }

    /// Keeps the `DPoP-Nonce` of a response, if it has one.
    fn take_nonce(&mut self, headers: &ureq::http::HeaderMap) {
        if let Some(n) = headers.get("dpop-nonce").and_then(|v| v.to_str().ok()) {
            self.nonce = Some(n.to_owned());
        }
    }
}

/// Attestation-based client authentication
/// (draft-ietf-oauth-attestation-based-client-auth-10) for one offer: a
/// wallet attestation from the test wallet provider kept in
/// `<dir>/wallet-provider` (generated on first use; its `root.pem` is what
/// a server's `[attestation] wallet_provider_roots` must trust) for a
/// fresh instance key, so no two issuers see the same attestation (HAIP
/// 1.0 §4.3.1), and a proof of possession per request.
struct ClientAttestation {
    attestation: String,
    instance: SigningKey,
    /// The authorization server's issuer identifier (the PoP's `aud`).
    aud: String,
    /// The latest server challenge (§5), if any.
    challenge: Option<String>,
}

impl ClientAttestation {
    /// Client attestation if the authorization server metadata lists
    /// `attest_jwt_client_auth`, with a challenge from its
    /// `challenge_endpoint` when it has one; `None` otherwise.
    fn offered(wallet: &Wallet, as_meta: &Value) -> Res<Option<Self>> {
        let offered = as_meta["token_endpoint_auth_methods_supported"]
            .as_array()
            .is_some_and(|m| m.iter().any(|m| m == "attest_jwt_client_auth"));
        let Some(aud) = as_meta["issuer"].as_str().filter(|_| offered) else {
            return Ok(None);
        };
        let provider = wallet.provider()?;
        let instance = SigningKey::generate(Algorithm::Es256)?;
        let attestation = provider.client_attestation(CLIENT_ID, instance.public(), now())?;
        let challenge = match as_meta["challenge_endpoint"].as_str() {
            Some(endpoint) => {
                let mut r = wallet.http.post(endpoint).send_empty()?;
                let v: Value = r.body_mut().read_json()?;
                v["attestation_challenge"].as_str().map(str::to_owned)
            }
            None => None,
        };
        Ok(Some(ClientAttestation {
            attestation,
            instance,
            aud: aud.to_owned(),
            challenge,
        }))
    }

    /// The two headers of a request, with a fresh PoP.
    fn headers(&self) -> Res<[(&'static str, String); 2]> {
        let pop = wallet_provider::client_attestation_pop(
            &self.instance,
            &self.aud,
            self.challenge.as_deref(),
            now(),
        )?;
        Ok([
            ("OAuth-Client-Attestation", self.attestation.clone()),
            ("OAuth-Client-Attestation-PoP", pop),
        ])
    }

    /// Keeps the `OAuth-Client-Attestation-Challenge` of a response, if it
    /// has one; whether it is new.
    fn take_challenge(&mut self, headers: &ureq::http::HeaderMap) -> bool {
        let fresh = headers
            .get("oauth-client-attestation-challenge")
            .and_then(|v| v.to_str().ok())
            .filter(|c| self.challenge.as_deref() != Some(*c))
            .map(str::to_owned);
        let new = fresh.is_some();
        if new {
            self.challenge = fresh;
        }
        new
    }
}

/// What a POST to the issuer carries.
enum Body<'a> {
    Form(&'a [(&'a str, String)]),
    Json(&'a Value),
}

impl Wallet {
    fn open(dir: &Path) -> Res<Self> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join("wallet-key.jwk");
        let key = match std::fs::read(&path) {
            Ok(bytes) => SigningKey::from_jwk(&serde_json::from_slice(&bytes)?)?,
            Err(_) => {
                let key = SigningKey::generate(Algorithm::Es256)?;
                digital_id::keystore::write_private_atomically(
                    &path,
                    &serde_json::to_vec_pretty(&key.to_private_jwk())?,
                )?;
                eprintln!("created a device key in {}", path.display());
                key
            }
        };
        let http = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(Duration::from_secs(10)))
            // ureq is built with native-tls only: the provider must be named, or
            // the first https URL panics.
            .tls_config(
                ureq::tls::TlsConfig::builder()
                    .provider(ureq::tls::TlsProvider::NativeTls)
                    .build(),
            )
            .build()
            .into();
        Ok(Wallet {
            dir: dir.to_owned(),
            key,
            http,
        })
    }

    fn credentials(&self) -> Res<Vec<String>> {
        match std::fs::read(self.dir.join("wallet-credentials.json")) {
            Ok(b) => Ok(serde_json::from_slice(&b)?),
            Err(_) => Ok(Vec::new()),
        }
    }

    fn save(&self, creds: &[String]) -> Res<()> {
        let path = self.dir.join("wallet-credentials.json");
        digital_id::keystore::write_private_atomically(&path, &serde_json::to_vec_pretty(creds)?)?;
        Ok(())
    }

    /// The test wallet provider in `<dir>/wallet-provider` (generated on
    /// first use).
    fn provider(&self) -> Res<wallet_provider::WalletProvider> {
        wallet_provider::WalletProvider::load_or_generate(
            &self.dir.join("wallet-provider"),
            WALLET_PROVIDER,
        )
    }

    fn get_json(&self, url: &str) -> Res<Value> {
        let mut r = self.http.get(url).call()?;
        if r.status() != 200 {
            return Err(format!("GET {url}: HTTP {}", r.status()).into());
        }
        Ok(r.body_mut().read_json()?)
    }

    /// `POST url` with `body` and, when given, `Authorization: <scheme>
    /// <access_token>`: DPoP with a proof when `dpop` is set (RFC 9449 §7.1),
    /// Bearer otherwise; with `attest`, the client attestation headers. An
    /// answer asking for a DPoP nonce (`use_dpop_nonce` in the body or the
    /// `WWW-Authenticate` challenge) is retried once with the `DPoP-Nonce`
    /// it brings (§8), and one asking for an attestation challenge
    /// (`use_attestation_challenge`) with the challenge it brings. Returns
    /// the status and the JSON body (`null` when there is none).
    fn post(
        &self,
        url: &str,
        body: &Body<'_>,
        access_token: Option<&str>,
        mut dpop: Option<&mut Dpop>,
        mut attest: Option<&mut ClientAttestation>,
    ) -> Res<(u16, Value)> {
        let (mut retried, mut rechallenged) = (false, false);
        loop {
            let mut req = self.http.post(url);
            if let Some(a) = attest.as_deref() {
                for (name, value) in a.headers()? {
                    req = req.header(name, &value);
                }
            }
            if let Some(token) = access_token {
                let scheme = if dpop.is_some() { "DPoP" } else { "Bearer" };
                req = req.header("Authorization", &format!("{scheme} {token}"));
            }
            if let Some(d) = dpop.as_deref() {
                req = req.header("DPoP", &d.proof(url, access_token)?);
            }
            let mut r = match body {
                Body::Form(form) => req.send_form(form.iter().map(|(k, v)| (*k, v.as_str()))),
                Body::Json(v) => req.send_json(v),
            }?;
            let status = r.status().as_u16();
            let challenge = r
                .headers()
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let fresh_nonce = match dpop.as_deref_mut() {
                Some(d) => {
                    let before = d.nonce.clone();
                    d.take_nonce(r.headers());
                    d.nonce.is_some() && d.nonce != before
                }
                None => false,
            };
            let fresh_challenge = attest
                .as_deref_mut()
                .is_some_and(|a| a.take_challenge(r.headers()));
            let value: Value = r.body_mut().read_json().unwrap_or(Value::Null);
            let wants_nonce = value["error"] == "use_dpop_nonce"
                || challenge.contains("error=\"use_dpop_nonce\"");
            if wants_nonce && fresh_nonce && !retried {
                retried = true;
                continue;
            }
            if value["error"] == "use_attestation_challenge" && fresh_challenge && !rechallenged {
                rechallenged = true;
                continue;
            }
            return Ok((status, value));
        }
    }

    // ------------------------------------------------ OpenID4VCI (offer)

    /// Offer → issuer metadata → /token → /nonce → /credential →
    /// /notification (DESIGN.md "External contract").
    fn accept_offer(&self, link: &str, tx_code: Option<&str>) -> Res<()> {
        let offer: Value = match (
            query_param(link, "credential_offer_uri"),
            query_param(link, "credential_offer"),
        ) {
            (Some(uri), _) => self.get_json(&uri)?,
            (None, Some(inline)) => serde_json::from_str(&inline)?,
            _ => return Err("not a credential offer link".into()),
        };
        let issuer = offer["credential_issuer"]
            .as_str()
            .ok_or("offer without credential_issuer")?;
        let well_known = |name: &str| {
            let (scheme, rest) = issuer.split_once("://").unwrap_or(("https", issuer));
            let (host, path) = rest
                .find('/')
                .map_or((rest, ""), |i| (&rest[..i], &rest[i..]));
            format!("{scheme}://{host}/.well-known/{name}{path}")
        };
        let meta = self.get_json(&well_known("openid-credential-issuer"))?;
        let as_meta = self
            .get_json(&well_known("oauth-authorization-server"))
            .unwrap_or(json!({}));
        let token_endpoint = as_meta["token_endpoint"]
            .as_str()
            .map_or_else(|| format!("{issuer}/token"), str::to_owned);
        let grant = &offer["grants"]["urn:ietf:params:oauth:grant-type:pre-authorized_code"];
        let code = grant["pre-authorized_code"]
            .as_str()
            .ok_or("only pre-authorized offers are supported")?;
        let mut form = vec![
            (
                "grant_type",
                "urn:ietf:params:oauth:grant-type:pre-authorized_code".to_owned(),
            ),
            ("pre-authorized_code", code.to_owned()),
        ];
        if grant.get("tx_code").is_some() {
            let tx = match tx_code {
                Some(t) => t.to_owned(),
                None => prompt("transaction code (sent to you separately): ")?,
            };
            form.push(("tx_code", tx));
        }
        let mut dpop = Dpop::offered(&as_meta)?;
        let mut attest = ClientAttestation::offered(self, &as_meta)?;
        let (_, token) = self.post(
            &token_endpoint,
            &Body::Form(&form),
            None,
            dpop.as_mut(),
            attest.as_mut(),
        )?;
        let access = token["access_token"]
            .as_str()
            .ok_or_else(|| format!("token error: {token}"))?
            .to_owned();
        // A server that ignored the proof issued a bearer token (RFC 9449 §5).
        if !token["token_type"]
            .as_str()
            .is_some_and(|t| t.eq_ignore_ascii_case("DPoP"))
        {
            dpop = None;
        }
        let nonce_endpoint = meta["nonce_endpoint"]
            .as_str()
            .map_or_else(|| format!("{issuer}/nonce"), str::to_owned);
        let credential_endpoint = meta["credential_endpoint"]
            .as_str()
            .map_or_else(|| format!("{issuer}/credential"), str::to_owned);
        let mut creds = self.credentials()?;
        let mut notifications = Vec::new();
        for id in offer["credential_configuration_ids"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            let mut r = self.http.post(&nonce_endpoint).send_empty()?;
            if let Some(d) = dpop.as_mut() {
                d.take_nonce(r.headers());
            }
            let n: Value = r.body_mut().read_json()?;
            let c_nonce = n["c_nonce"].as_str().ok_or("no c_nonce")?;
            let mut header = Map::new();
            header.insert("typ".into(), "openid4vci-proof+jwt".into());
            header.insert("jwk".into(), self.key.public().jwk_for_publication());
            if let Some(attestation) = self.key_attestation(&meta, id, c_nonce)? {
                header.insert("key_attestation".into(), attestation.into());
            }
            let claims = json!({"aud": issuer, "iat": now(), "nonce": c_nonce});
            let proof = jws::sign(&self.key, &header, &serde_json::to_vec(&claims)?)?;
            let request = json!({"credential_configuration_id": id, "proofs": {"jwt": [proof]}});
            let (_, body) = self.post(
                &credential_endpoint,
                &Body::Json(&request),
                Some(&access),
                dpop.as_mut(),
                None,
            )?;
            let list = body["credentials"]
                .as_array()
                .ok_or_else(|| format!("credential error: {body}"))?;
            for c in list.iter().filter_map(|c| c["credential"].as_str()) {
                creds.push(c.to_owned());
            }
            if let Some(n) = body["notification_id"].as_str() {
                notifications.push(n.to_owned());
            }
            println!("received {id}");
        }
        self.save(&creds)?;
        // OpenID4VCI 1.0 §11: tell the issuer the credentials are stored.
        if let Some(endpoint) = meta["notification_endpoint"].as_str() {
            for notification_id in notifications {
                let event =
                    json!({"notification_id": notification_id, "event": "credential_accepted"});
                let (status, body) = self.post(
                    endpoint,
                    &Body::Json(&event),
                    Some(&access),
                    dpop.as_mut(),
                    None,
                )?;
                if status != 204 {
                    return Err(format!(
                        "credentials saved, but the issuer refused the notification: HTTP {status} {body}"
                    )
                    .into());
                }
            }
        }
        Ok(())
    }

    /// A key attestation (OpenID4VCI 1.0 Appendix D) of the device key for
    /// the `jwt` proof of configuration `id`, when the issuer metadata
    /// requires one (`key_attestations_required`): signed by the test wallet
    /// provider kept in `<dir>/wallet-provider` (generated on first use;
    /// its `root.pem` must be among the server's `[attestation]
    /// wallet_provider_roots`), asserting `iso_18045_high` for both levels,
    /// with the proof's `c_nonce`.
    fn key_attestation(&self, meta: &Value, id: &str, c_nonce: &str) -> Res<Option<String>> {
        let jwt = &meta["credential_configurations_supported"][id]["proof_types_supported"]["jwt"];
        if jwt.get("key_attestations_required").is_none() {
            return Ok(None);
        }
        let provider = self.provider()?;
        eprintln!(
            "{id} needs a key attestation: the test wallet provider signs one (root: {})",
            self.dir.join("wallet-provider/root.pem").display()
        );
        let a = wallet_provider::KeyAttestation {
            nonce: Some(c_nonce),
            ..wallet_provider::KeyAttestation::high(now())
        };
        Ok(Some(provider.key_attestation(&[self.key.public()], &a)?))
    }

    // ------------------------------------------------ OpenID4VP (present)

    fn present(&self, link: &str) -> Res<()> {
        let client_id = query_param(link, "client_id").ok_or("no client_id in the link")?;
        let request_uri = query_param(link, "request_uri").ok_or("no request_uri in the link")?;
        let mut r = self
            .http
            .get(&request_uri)
            .header("Accept", "application/oauth-authz-req+jwt")
            .call()?;
        if r.status() != 200 {
            return Err(format!("the verifier refused the request: HTTP {}", r.status()).into());
        }
        let jar = r.body_mut().read_to_string()?;
        let jws = Jws::decode(&jar)?;
        let key = verifier_key(&jws, &client_id)?;
        jws.verify(&key)?;
        let ro = jws.payload_json()?;
        if ro.get("client_id").and_then(Value::as_str) != Some(client_id.as_str()) {
            return Err("the request object's client_id differs from the link's".into());
        }
        println!("verifier {client_id}");
        // Who asks, as the relying party registered it (OpenID4VP 1.0
        // §5.1 `client_metadata`, RFC 7591 language tags).
        let meta = &ro["client_metadata"];
        if let Some(name) = meta["client_name"].as_str() {
            match meta["client_name#ru"].as_str() {
                Some(ru) if ru != name => println!("  asks: {name} ({ru})"),
                _ => println!("  asks: {name}"),
            }
        }
        let query = DcqlQuery::from_value(ro.get("dcql_query").ok_or("no dcql_query")?)?;
        let nonce = ro["nonce"].as_str().ok_or("no nonce")?;
        let mut vp_token = Map::new();
        for cq in &query.credentials {
            let (cred, selection) = match self.choose(cq)? {
                Some(found) => found,
                None => {
                    eprintln!("no credential answers `{}`", cq.id);
                    continue;
                }
            };
            println!(
                "  {}: disclosing {}",
                cq.id,
                selection
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            let p = HolderCredential::parse(&cred)?.present(
                &selection,
                Some(&KeyBinding {
                    holder: &self.key,
                    aud: &client_id,
                    nonce,
                    iat: now(),
                }),
            )?;
            vp_token.insert(cq.id.clone(), json!([p]));
        }
        let state = ro.get("state").cloned().unwrap_or(Value::Null);
        let response_uri = ro["response_uri"].as_str().ok_or("no response_uri")?;
        let form: Vec<(String, String)> = if ro["response_mode"] == "direct_post.jwt" {
            let keys = ro["client_metadata"]["jwks"]["keys"]
                .as_array()
                .ok_or("no encryption key")?;
            let key = keys
                .first()
                .and_then(Value::as_object)
                .ok_or("no encryption key")?;
            let enc = ro["client_metadata"]["encrypted_response_enc_values_supported"][0]
                .as_str()
                .unwrap_or("A128GCM");
            let payload = json!({"vp_token": vp_token, "state": state});
            vec![("response".into(), jwe::encrypt(&payload, key, enc)?)]
        } else {
            vec![
                ("vp_token".into(), Value::Object(vp_token).to_string()),
                (
                    "state".into(),
                    state.as_str().unwrap_or_default().to_owned(),
                ),
            ]
        };
        let mut r = self
            .http
            .post(response_uri)
            .send_form(form.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
        let status = r.status();
        let body = r.body_mut().read_to_string().unwrap_or_default();
        println!("verifier answered HTTP {status} {body}");
        Ok(())
    }

    /// A stored credential for the query and the claims to disclose: every
    /// claim of `claims`, or the first satisfiable option of `claim_sets`.
    fn choose(&self, cq: &CredentialQuery) -> Res<Option<(String, Vec<ClaimPath>)>> {
        let vcts = cq.meta.vct_values.clone().unwrap_or_default();
        for cred in self.credentials()? {
            let h = HolderCredential::parse(&cred)?;
            let vct = h
                .claims
                .get("vct")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if !vcts.iter().any(|v| v == vct) {
                continue;
            }
            let Some(claims) = &cq.claims else {
                return Ok(Some((cred, Vec::new())));
            };
            let options: Vec<Vec<ClaimPath>> = match &cq.claim_sets {
                None => vec![claims.iter().map(|c| c.path.clone()).collect()],
                Some(sets) => sets
                    .iter()
                    .map(|s| {
                        claims
                            .iter()
                            .filter(|c| c.id.as_ref().is_some_and(|id| s.contains(id)))
                            .map(|c| c.path.clone())
                            .collect()
                    })
                    .collect(),
            };
            for option in options {
                if h.select(&option).is_ok() {
                    return Ok(Some((cred, option)));
                }
            }
        }
        Ok(None)
    }

    // ------------------------------------------------ holder-shown QR

    fn show_qr(&self, verifier: &str, preset: &str, once: bool) -> Res<()> {
        let cq = Preset::from_name(preset)
            .ok_or("unknown preset")?
            .query()
            .credentials
            .remove(0);
        let (cred, selection) = self.choose(&cq)?.ok_or("no credential for this preset")?;
        loop {
            let mut r = self
                .http
                .post(&format!("{verifier}/presentation-nonces"))
                .send_empty()?;
            let n: Value = r.body_mut().read_json()?;
            let (nonce, aud) = (
                n["nonce"].as_str().ok_or("no nonce")?,
                n["audience"].as_str().ok_or("no audience")?,
            );
            let p = HolderCredential::parse(&cred)?.present(
                &selection,
                Some(&KeyBinding {
                    holder: &self.key,
                    aud,
                    nonce,
                    iat: now(),
                }),
            )?;
            let text = match digital_id::web::qr::version(&p) {
                Ok(v) if v <= MAX_QR_VERSION => p,
                _ => {
                    let mut r = self
                        .http
                        .post(&format!("{verifier}/presentations"))
                        .send_json(json!({"presentation": p}))?;
                    let up: Value = r.body_mut().read_json()?;
                    up["uri"]
                        .as_str()
                        .ok_or_else(|| format!("upload refused: {up}"))?
                        .to_owned()
                }
            };
            let code = digital_id::web::qr::code(&text).map_err(|e| e.to_string())?;
            print!("\x1b[2J\x1b[H");
            println!(
                "{}",
                code.render::<qrcode::render::unicode::Dense1x2>()
                    .quiet_zone(true)
                    .build()
            );
            println!("{preset}: valid for 30 s and one scan");
            if once {
                println!("{text}");
                return Ok(());
            }
            std::thread::sleep(Duration::from_secs(30));
        }
    }
}

/// The key that must have signed the request object, per the Client
/// Identifier Prefix (OpenID4VP 1.0 §5.9.3).
fn verifier_key(jws: &Jws<'_>, client_id: &str) -> Res<PublicKey> {
    if let Some(hash) = client_id.strip_prefix("x509_hash:") {
        use base64::Engine as _;
        let leaf = jws
            .header
            .get("x5c")
            .and_then(|v| v.get(0))
            .and_then(Value::as_str)
            .ok_or("no x5c")?;
        let der = base64::engine::general_purpose::STANDARD.decode(leaf)?;
        if b64url(sha256(&der)) != hash {
            return Err("x5c does not match the x509_hash client_id".into());
        }
        let cert = openssl::x509::X509::from_der(&der)?;
        let ec = cert.public_key()?.ec_key()?;
        let mut ctx = openssl::bn::BigNumContext::new()?;
        let (mut x, mut y) = (openssl::bn::BigNum::new()?, openssl::bn::BigNum::new()?);
        ec.public_key()
            .affine_coordinates(ec.group(), &mut x, &mut y, &mut ctx)?;
        let jwk = json!({"kty": "EC", "crv": "P-256", "x": b64url(x.to_vec_padded(32)?), "y": b64url(y.to_vec_padded(32)?)});
        return Ok(PublicKey::from_jwk(&jwk)?);
    }
    if let Some(did) = client_id.strip_prefix("decentralized_identifier:") {
        let kid = jws.kid().ok_or("no kid")?;
        if !kid.starts_with(did) {
            return Err("kid is not a key of the client_id's DID".into());
        }
        return Ok(did_key::resolve(kid)?);
    }
    Err("unsupported client identifier prefix".into())
}

fn prompt(text: &str) -> Res<String> {
    use std::io::Write;
    print!("{text}");
    std::io::stdout().flush()?;
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    Ok(line.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use digital_id::trust::dpop;

    #[test]
    fn dpop_only_when_es256_is_advertised() {
        assert!(Dpop::offered(&json!({})).unwrap().is_none());
        let eddsa = json!({"dpop_signing_alg_values_supported": ["EdDSA"]});
        assert!(Dpop::offered(&eddsa).unwrap().is_none());
        let both = json!({"dpop_signing_alg_values_supported": ["EdDSA", "ES256"]});
        assert!(Dpop::offered(&both).unwrap().is_some());
    }

    /// The wallet's proofs pass the server's own DPoP check: `htu` without
    /// the query, `ath` of the token, the server's nonce.
    #[test]
    fn dpop_proofs_pass_the_servers_check() {
        let meta = json!({"dpop_signing_alg_values_supported": ["ES256"]});
        let mut d = Dpop::offered(&meta).unwrap().unwrap();
        let mut headers = ureq::http::HeaderMap::new();
        headers.insert("dpop-nonce", "n-1".parse().unwrap());
        d.take_nonce(&headers);
        let url = "http://127.0.0.1:8080/credential";
        let proof = d.proof(&format!("{url}?x=1#f"), Some("tok")).unwrap();
        let expect = |access_token, nonce: &'static str| {
            let ok = move |n: &str| n == nonce;
            dpop::verify(
                &proof,
                &dpop::Expect {
                    htm: "POST",
                    htu: url,
                    access_token,
                    algs: &[Algorithm::Es256],
                    now: now(),
                    nonce_required: true,
                    nonce_ok: &ok,
                },
            )
        };
        let verified = expect(Some("tok"), "n-1").unwrap();
        assert_eq!(verified.jkt, d.key.public().thumbprint());
        assert_eq!(
            expect(Some("other"), "n-1"),
            Err(dpop::DpopError::AthMismatch)
        );
        assert_eq!(expect(Some("tok"), "n-2"), Err(dpop::DpopError::StaleNonce));
    }
}
