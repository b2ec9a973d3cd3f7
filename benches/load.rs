//! The project's HTTP load generator: runs whole protocol flows against a
//! server and reports flows/s and p50/p99 latency.
//!
//! ```sh
//! cargo bench --bench load -- preauth [--base URL --api-key KEY] [--concurrency 16] [--seconds 20]
//!                                        [--cpu server=PID --cpu db=PID,PID]
//! ```
//! `--cpu NAME=PIDS` reports the CPU time those processes used during the
//! timed phase, per flow (`scripts/bench-stores` runs redb and PostgreSQL
//! side by side with it).
//! Without `--base` it starts a release server in this process on
//! 127.0.0.1:0 (fresh data directory, demo registry, rate limits lifted)
//! and drives that. The loops are bounded by time and by `--max-flows`; all
//! traffic stays on loopback.
//!
//! Scenarios:
//! - `preauth`: one OpenID4VCI pre-authorized flow = `POST /token` +
//!   `POST /nonce` + `POST /credential` (ES256 proof). Offers are created
//!   beforehand through the back-office and are not timed.
//! - `scan`: a holder-shown QR = `POST /presentation-nonces`, the wallet's
//!   presentation (KB-JWT over that nonce), `POST /verifier/scan`
//!   (`age_over_18`); the latency of the scan call alone is reported too.
//!   The client's nonce requests and KB-JWT signing run inside the timed
//!   loop, competing with the server for the cores.
//! - `scan --prebuilt [--batch 1000] [--server-pid PID]`: the server's side
//!   of a scan alone. In rounds, `--batch` holder QRs are built first
//!   (nonces and KB-JWTs, not timed; a presentation nonce lives 30 s, so a
//!   round that takes over 15 s is warned about), then posted to
//!   `/verifier/scan` by `--concurrency` workers; `--seconds` counts posting
//!   time only. Reports scans/s, p50/p99 of the scan call, and the CPU time
//!   (user + system, `/proc/PID/stat`) consumed while posting by the server
//!   `--server-pid` names, or, without it, by this process — which, with
//!   the in-process server, includes the load generator's own posting — and
//!   from that scans per CPU-second, the per-core figure to hold against
//!   `benches/verification.rs`. A separate server needs its rate limits
//!   lifted (every request comes from 127.0.0.1) and its log kept off the
//!   terminal:
//!   ```sh
//!   cargo build --release --bin digital-id
//!   printf '[limits]\nper_client_rate = 1e6\nper_client_burst = 1e6\nglobal_rate = 1e6\nglobal_burst = 1e6\n' > /tmp/load.toml
//!   target/release/digital-id serve --bind 127.0.0.1:8090 --data-dir "$(mktemp -d)" \
//!       --registry examples/registry --api-key load-key --config /tmp/load.toml 2>/tmp/server.log &
//!   cargo bench --bench load -- scan --prebuilt --base http://127.0.0.1:8090 --api-key load-key --server-pid $!
//!   ```
//! - `cycle`: a relying-party request = `POST /verifier/requests`
//!   (`age_over_18`, `direct_post`), `GET` of the request object,
//!   `POST` of the answer to `response_uri`, `GET /verifier/requests/{id}`.
//! - `requests`: `POST /verifier/requests` (`age_over_18`) alone.
//! - `haip`: the `preauth` flow as a HAIP 1.0 wallet does it, against a
//!   server under `--profile haip` (demo mode, whose demo issuer CA
//!   certifies the signing key, so credentials carry `x5c`) that trusts the
//!   load generator's test wallet provider: `/token` with a wallet
//!   attestation and a fresh proof of possession (`OAuth-Client-Attestation`,
//!   `-PoP`) and a DPoP proof, `/nonce`, `/credential` with a DPoP-bound
//!   token (`ath` proof) and a key proof carrying a key attestation over
//!   the c_nonce (OpenID4VCI 1.0 Appendix F.1), which the load generator's
//!   wallet provider signs in the timed loop. Each worker is one wallet
//!   instance: its wallet attestation and device key are made once, before
//!   the clock starts (a wallet keeps them); a `use_dpop_nonce` answer is
//!   retried once with the new nonce.
//!   Without `--base` only (the server must trust the generated provider).
//!   `scripts/bench-haip` runs it beside `preauth` in one run.
//! - `--parties N` (with `scan`, `cycle`, `requests`): registers N relying
//!   parties (`POST /admin/relying-parties`, entitled to `age_over_18`; not
//!   timed) and spreads the flows over their keys, so each request is
//!   authenticated, checked and signed as one of N tenants. Without it the
//!   operator key (the built-in party `default`) makes every request.
//!   The in-process server then runs in demo mode, whose demo CA certifies
//!   each party's request-signing key; `--demo` runs it so without
//!   parties, for a single-party figure under the same conditions.

use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use digital_id::crypto::{Algorithm, SigningKey, b64url, jws, random_token, sha256};
use serde_json::{Map, Value, json};

/// The example wallet's test wallet provider (the `haip` scenario uses
/// part of it).
#[path = "../examples/support/wallet_provider.rs"]
#[allow(dead_code)]
mod wallet_provider;
use wallet_provider::{KeyAttestation, WalletProvider, client_attestation_pop};

struct Options {
    scenario: String,
    base: Option<String>,
    api_key: Option<String>,
    concurrency: usize,
    seconds: u64,
    max_flows: usize,
    /// Groups of processes whose CPU time (utime + stime) over the timed
    /// phase is reported per flow: `--cpu server=123 --cpu db=456,789`.
    cpu: Vec<(String, Vec<u32>)>,
    /// `scan --prebuilt`: presentations built before the timed phase.
    prebuilt: bool,
    /// `--batch K`: presentations built, then posted, per round.
    batch: usize,
    /// `--server-pid PID`: whose CPU time the timed phase is charged.
    server_pid: Option<u32>,
    /// `--parties N`: relying parties registered before the run.
    parties: usize,
    /// `--demo` (implied by `--parties`): the in-process server in demo mode.
    demo: bool,
}

fn parse_args() -> Options {
    let mut o = Options {
        scenario: "preauth".into(),
        base: None,
        api_key: None,
        concurrency: 16,
        seconds: 15,
        max_flows: 200_000,
        cpu: Vec::new(),
        prebuilt: false,
        batch: 1_000,
        server_pid: None,
        parties: 0,
        demo: false,
    };
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    while let Some(a) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| panic!("{a} needs a value"));
        match a.as_str() {
            "--base" => o.base = Some(value()),
            "--api-key" => o.api_key = Some(value()),
            "--concurrency" => o.concurrency = value().parse().expect("--concurrency N"),
            "--seconds" => o.seconds = value().parse().expect("--seconds N"),
            "--max-flows" => o.max_flows = value().parse().expect("--max-flows N"),
            "--cpu" => {
                let v = value();
                let (name, pids) = v.split_once('=').expect("--cpu NAME=PID,PID");
                let pids = pids
                    .split(',')
                    .filter(|p| !p.is_empty())
                    .map(|p| p.parse().expect("--cpu NAME=PID,PID"))
                    .collect();
                o.cpu.push((name.to_owned(), pids));
            }
            "--prebuilt" => o.prebuilt = true,
            "--batch" => o.batch = value().parse().expect("--batch K"),
            "--server-pid" => o.server_pid = Some(value().parse().expect("--server-pid PID")),
            "--parties" => o.parties = value().parse().expect("--parties N"),
            "--demo" => o.demo = true,
            s if !s.starts_with('-') => o.scenario = s.to_owned(),
            other => panic!("unknown option {other}"),
        }
    }
    o
}

/// A server started in this process, kept alive for the run.
struct Local {
    base: String,
    api_key: String,
    _data: tempfile::TempDir,
}

fn start_local(demo: bool, haip: Option<&WalletProvider>) -> Local {
    use digital_id::config::{Profile, ServeArgs, Settings};
    let data = tempfile::tempdir().unwrap();
    // Bound here and handed to the server, so no other process can take
    // the port between choosing it and serving on it.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let api_key = "load-generator-key".to_owned();
    let args = ServeArgs {
        bind: Some(addr),
        data_dir: Some(data.path().to_owned()),
        registry: Some(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/registry").into()),
        api_key: Some(api_key.clone()),
        demo,
        ..ServeArgs::default()
    };
    let mut settings = Settings::load(&args).unwrap();
    // Every flow comes from 127.0.0.1: lift the per-client limit.
    settings.limits.per_client_rate = 1e6;
    settings.limits.per_client_burst = 1e6;
    settings.limits.global_rate = 1e6;
    settings.limits.global_burst = 1e6;
    if let Some(provider) = haip {
        let root = data.path().join("wallet-providers.pem");
        std::fs::write(&root, provider.root_pem().unwrap()).unwrap();
        settings.profile = Profile::Haip;
        settings.attestation.wallet_provider_roots = vec![root];
    }
    let state = Arc::new(
        digital_id::app::build_state(settings, Arc::new(digital_id::clock::SystemClock), |_| {})
            .unwrap(),
    );
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let (server, bound) = digital_id::http::serve(state, listener).unwrap();
            tx.send(bound).unwrap();
            let _ = server.await;
        });
    });
    let bound = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("server did not start");
    Local {
        base: format!("http://{bound}"),
        api_key,
        _data: data,
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        // ureq is built with native-tls only: the provider must be named, or
        // the first https URL panics.
        .tls_config(
            ureq::tls::TlsConfig::builder()
                .provider(ureq::tls::TlsProvider::NativeTls)
                .build(),
        )
        .build()
        .into()
}

fn post_json(agent: &ureq::Agent, url: &str, auth: Option<&str>, body: &Value) -> (u16, Value) {
    let mut req = agent.post(url);
    if let Some(a) = auth {
        req = req.header("Authorization", a);
    }
    match req.send_json(body) {
        Ok(mut r) => (
            r.status().as_u16(),
            r.body_mut().read_json().unwrap_or(Value::Null),
        ),
        Err(e) => panic!("POST {url}: {e}"),
    }
}

/// One prepared pre-authorized flow: the code from an offer.
struct PreparedOffer {
    code: String,
    configuration_id: String,
}

fn prepare_offers(base: &str, api_key: &str, n: usize) -> Vec<PreparedOffer> {
    // Eight clients at a time: the server commits their offers together.
    const CLIENTS: usize = 8;
    let per = n.div_ceil(CLIENTS);
    let threads: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let (base, auth) = (base.to_owned(), format!("Bearer {api_key}"));
            let mine = per.min(n.saturating_sub(i * per));
            std::thread::spawn(move || {
                let agent = agent();
                (0..mine)
                    .map(|_| {
                        let body = json!({"subject_id": "ivanov-ivan", "credential_configuration_ids": ["ru.passport"], "tx_code": false});
                        let (status, offer) =
                            post_json(&agent, &format!("{base}/issuer/offers"), Some(&auth), &body);
                        assert!(
                            (200..300).contains(&status),
                            "creating an offer failed: {offer}"
                        );
                        let code = offer["credential_offer"]["grants"]["urn:ietf:params:oauth:grant-type:pre-authorized_code"]
                            ["pre-authorized_code"]
                            .as_str()
                            .expect("offer without a pre-authorized code")
                            .to_owned();
                        PreparedOffer {
                            code,
                            configuration_id: "ru.passport".into(),
                        }
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    threads
        .into_iter()
        .flat_map(|t| t.join().expect("an offer client failed"))
        .collect()
}

fn proof(holder: &SigningKey, aud: &str, nonce: &str) -> String {
    let mut header = Map::new();
    header.insert("typ".into(), json!("openid4vci-proof+jwt"));
    header.insert("jwk".into(), Value::Object(holder.public().jwk().clone()));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = json!({"aud": aud, "iat": now, "nonce": nonce});
    jws::sign(holder, &header, &serde_json::to_vec(&claims).unwrap()).unwrap()
}

fn preauth_flow(
    agent: &ureq::Agent,
    base: &str,
    issuer: &str,
    holder: &SigningKey,
    offer: &PreparedOffer,
) -> String {
    let token: Value = agent
        .post(&format!("{base}/token"))
        .send_form([
            (
                "grant_type",
                "urn:ietf:params:oauth:grant-type:pre-authorized_code",
            ),
            ("pre-authorized_code", offer.code.as_str()),
        ])
        .expect("token request")
        .body_mut()
        .read_json()
        .expect("token response");
    let access = token["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no access token: {token}"));
    let auth = format!("Bearer {access}");
    let (_, nonce) = post_json(agent, &format!("{base}/nonce"), None, &json!({}));
    let c_nonce = nonce["c_nonce"]
        .as_str()
        .unwrap_or_else(|| panic!("no c_nonce: {nonce}"));
    let body = json!({
        "credential_configuration_id": offer.configuration_id,
        "proofs": {"jwt": [proof(holder, issuer, c_nonce)]},
    });
    let (status, cred) = post_json(agent, &format!("{base}/credential"), Some(&auth), &body);
    assert_eq!(status, 200, "credential request failed: {cred}");
    cred["credentials"][0]["credential"]
        .as_str()
        .expect("a credential")
        .to_owned()
}

/// A HAIP wallet instance (the `haip` scenario): attested once, then
/// flow after flow with fresh proofs.
struct HaipWallet {
    holder: SigningKey,
    /// Signs a key attestation per flow (over that flow's c_nonce).
    provider: Arc<WalletProvider>,
    instance: SigningKey,
    client_attestation: String,
    dpop: SigningKey,
    dpop_nonce: Option<String>,
}

impl HaipWallet {
    fn new(provider: &Arc<WalletProvider>) -> Self {
        let holder = SigningKey::generate(Algorithm::Es256).unwrap();
        let instance = SigningKey::generate(Algorithm::Es256).unwrap();
        HaipWallet {
            provider: provider.clone(),
            client_attestation: provider
                .client_attestation("load-generator-wallet", instance.public(), now())
                .unwrap(),
            holder,
            instance,
            dpop: SigningKey::generate(Algorithm::Es256).unwrap(),
            dpop_nonce: None,
        }
    }

    fn dpop_proof(&self, url: &str, access_token: Option<&str>) -> String {
        let mut claims = json!({"htm": "POST", "htu": url, "iat": now(), "jti": random_token()});
        if let Some(t) = access_token {
            claims["ath"] = b64url(sha256(t)).into();
        }
        if let Some(n) = &self.dpop_nonce {
            claims["nonce"] = n.clone().into();
        }
        let mut header = Map::new();
        header.insert("typ".into(), json!("dpop+jwt"));
        header.insert(
            "jwk".into(),
            Value::Object(self.dpop.public().jwk().clone()),
        );
        jws::sign(&self.dpop, &header, &serde_json::to_vec(&claims).unwrap()).unwrap()
    }

    /// `POST url` as this wallet: DPoP proof (and `Authorization: DPoP`
    /// with `access_token`), the wallet attestation when `attest`; once
    /// more with the server's nonce after `use_dpop_nonce`.
    fn post(
        &mut self,
        agent: &ureq::Agent,
        url: &str,
        body: HaipBody<'_>,
        access_token: Option<&str>,
        attest: Option<&str>,
    ) -> (u16, Value) {
        for attempt in 0..2 {
            let mut req = agent
                .post(url)
                .header("DPoP", &self.dpop_proof(url, access_token));
            if let Some(t) = access_token {
                req = req.header("Authorization", &format!("DPoP {t}"));
            }
            if let Some(aud) = attest {
                let pop = client_attestation_pop(&self.instance, aud, None, now()).unwrap();
                req = req
                    .header("OAuth-Client-Attestation", &self.client_attestation)
                    .header("OAuth-Client-Attestation-PoP", &pop);
            }
            let mut r = match body {
                HaipBody::Form(f) => req.send_form(f.iter().copied()),
                HaipBody::Json(v) => req.send_json(v),
                HaipBody::Empty => req.send_empty(),
            }
            .unwrap_or_else(|e| panic!("POST {url}: {e}"));
            if let Some(n) = r.headers().get("dpop-nonce").and_then(|v| v.to_str().ok()) {
                self.dpop_nonce = Some(n.to_owned());
            }
            let status = r.status().as_u16();
            let challenge = r
                .headers()
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let value: Value = r.body_mut().read_json().unwrap_or(Value::Null);
            let wants_nonce =
                value["error"] == "use_dpop_nonce" || challenge.contains("use_dpop_nonce");
            if !(wants_nonce && attempt == 0) {
                return (status, value);
            }
        }
        unreachable!("the loop returns on its second pass")
    }
}

#[derive(Clone, Copy)]
enum HaipBody<'a> {
    Form(&'a [(&'a str, &'a str)]),
    Json(&'a Value),
    Empty,
}

/// The `haip` scenario's flow: attested, DPoP-bound, key-attested.
fn haip_flow(
    agent: &ureq::Agent,
    base: &str,
    issuer: &str,
    w: &mut HaipWallet,
    offer: &PreparedOffer,
) -> String {
    let form = [
        (
            "grant_type",
            "urn:ietf:params:oauth:grant-type:pre-authorized_code",
        ),
        ("pre-authorized_code", offer.code.as_str()),
    ];
    let token_url = format!("{base}/token");
    let (status, token) = w.post(agent, &token_url, HaipBody::Form(&form), None, Some(issuer));
    assert_eq!(status, 200, "token request failed: {token}");
    assert_eq!(
        token["token_type"], "DPoP",
        "not a DPoP-bound token: {token}"
    );
    let access = token["access_token"]
        .as_str()
        .expect("access token")
        .to_owned();
    let (_, nonce) = w.post(agent, &format!("{base}/nonce"), HaipBody::Empty, None, None);
    let c_nonce = nonce["c_nonce"]
        .as_str()
        .unwrap_or_else(|| panic!("no c_nonce: {nonce}"));
    let mut header = Map::new();
    header.insert("typ".into(), json!("openid4vci-proof+jwt"));
    header.insert("jwk".into(), Value::Object(w.holder.public().jwk().clone()));
    let attestation = w
        .provider
        .key_attestation(
            &[w.holder.public()],
            &KeyAttestation {
                nonce: Some(c_nonce),
                ..KeyAttestation::high(now())
            },
        )
        .unwrap();
    header.insert("key_attestation".into(), json!(attestation));
    let claims = json!({"aud": issuer, "iat": now(), "nonce": c_nonce});
    let proof = jws::sign(&w.holder, &header, &serde_json::to_vec(&claims).unwrap()).unwrap();
    let body = json!({
        "credential_configuration_id": offer.configuration_id,
        "proofs": {"jwt": [proof]},
    });
    let (status, cred) = w.post(
        agent,
        &format!("{base}/credential"),
        HaipBody::Json(&body),
        Some(&access),
        None,
    );
    assert_eq!(status, 200, "credential request failed: {cred}");
    cred["credentials"][0]["credential"]
        .as_str()
        .expect("a credential")
        .to_owned()
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn present(credential: &str, holder: &SigningKey, aud: &str, nonce: &str) -> String {
    use digital_id::sdjwt::{ClaimPath, HolderCredential, KeyBinding};
    let kb = KeyBinding {
        holder,
        aud,
        nonce,
        iat: now(),
    };
    HolderCredential::parse(credential)
        .unwrap()
        .present(&[ClaimPath::keys(["age_equal_or_over", "18"])], Some(&kb))
        .unwrap()
}

/// A holder QR's text: a fresh presentation nonce from the server and the
/// wallet's presentation (KB-JWT) over it.
fn holder_qr(agent: &ureq::Agent, base: &str, credential: &str, holder: &SigningKey) -> String {
    let (status, n) = post_json(
        agent,
        &format!("{base}/presentation-nonces"),
        None,
        &json!({}),
    );
    assert_eq!(status, 200, "presentation nonce: {n}");
    present(
        credential,
        holder,
        n["audience"].as_str().unwrap(),
        n["nonce"].as_str().unwrap(),
    )
}

/// `POST /verifier/scan` of `qr` (`age_over_18`), which must verify;
/// returns the call's latency.
fn post_scan(agent: &ureq::Agent, base: &str, auth: &str, qr: &str) -> Duration {
    let t = Instant::now();
    let (status, result) = post_json(
        agent,
        &format!("{base}/verifier/scan"),
        Some(auth),
        &json!({"qr": qr, "preset": "age_over_18"}),
    );
    let took = t.elapsed();
    assert_eq!(
        (status, result["status"].as_str()),
        (200, Some("verified")),
        "{result}"
    );
    took
}

/// `scan`: returns the latency of the `/verifier/scan` call.
fn scan_flow(
    agent: &ureq::Agent,
    base: &str,
    auth: &str,
    credential: &str,
    holder: &SigningKey,
) -> Duration {
    let qr = holder_qr(agent, base, credential, holder);
    post_scan(agent, base, auth, &qr)
}

/// `cycle`: request, request object, answer, result.
/// `POST /verifier/requests` (`age_over_18`, `direct_post`).
fn create_request(agent: &ureq::Agent, base: &str, auth: &str) -> Value {
    let (status, created) = post_json(
        agent,
        &format!("{base}/verifier/requests"),
        Some(auth),
        &json!({"preset": "age_over_18", "response_mode": "direct_post"}),
    );
    assert!((200..300).contains(&status), "{created}");
    created
}

/// Registers `n` relying parties entitled to `age_over_18` (8 clients at a
/// time); their `Authorization` values.
fn register_parties(base: &str, api_key: &str, n: usize) -> Vec<String> {
    eprintln!("registering {n} relying parties…");
    let admin = format!("Bearer {api_key}");
    let (tx, rx) = mpsc::channel();
    std::thread::scope(|s| {
        for w in 0..8 {
            let (tx, admin) = (tx.clone(), admin.as_str());
            s.spawn(move || {
                let agent = agent();
                for i in (w..n).step_by(8) {
                    let (status, body) = post_json(
                        &agent,
                        &format!("{base}/admin/relying-parties"),
                        Some(admin),
                        &json!({"name": format!("Load party {i}"), "presets": ["age_over_18"]}),
                    );
                    assert_eq!(status, 201, "{body}");
                    let key = body["api_key"].as_str().expect("api_key").to_owned();
                    tx.send(format!("Bearer {key}")).unwrap();
                }
            });
        }
    });
    drop(tx);
    rx.into_iter().collect()
}

fn cycle_flow(agent: &ureq::Agent, base: &str, auth: &str, credential: &str, holder: &SigningKey) {
    let created = create_request(agent, base, auth);
    let jar = agent
        .get(created["request_uri"].as_str().unwrap())
        .call()
        .expect("request object")
        .body_mut()
        .read_to_string()
        .unwrap();
    let ro = jws::Jws::decode(&jar).unwrap().payload_json().unwrap();
    let vp = present(
        credential,
        holder,
        ro["client_id"].as_str().unwrap(),
        ro["nonce"].as_str().unwrap(),
    );
    let vp_token = json!({"credential": [vp]}).to_string();
    let resp = agent
        .post(ro["response_uri"].as_str().unwrap())
        .send_form([
            ("vp_token", vp_token.as_str()),
            ("state", ro["state"].as_str().unwrap()),
        ])
        .expect("response");
    assert_eq!(resp.status(), 200);
    let id = created["transaction_id"].as_str().unwrap();
    let result: Value = agent
        .get(&format!("{base}/verifier/requests/{id}"))
        .header("Authorization", auth)
        .call()
        .unwrap()
        .body_mut()
        .read_json()
        .unwrap();
    assert_eq!(result["status"], "verified", "{result}");
}

/// The `scan` and `cycle` scenarios: one passport from the issuer, then
/// `--concurrency` workers presenting it until the time is up.
fn run_verifier(o: &Options, base: &str, api_key: &str, issuer: &str) {
    let auths: Arc<Vec<String>> = Arc::new(if o.parties == 0 {
        vec![format!("Bearer {api_key}")]
    } else {
        register_parties(base, api_key, o.parties)
    });
    let next_party = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let holder = Arc::new(SigningKey::generate(Algorithm::Es256).unwrap());
    let offer = prepare_offers(base, api_key, 1).pop().unwrap();
    let credential = Arc::new(preauth_flow(&agent(), base, issuer, &holder, &offer));
    let flows = Arc::new(Mutex::new(Vec::<(Duration, Duration)>::new()));
    let deadline = Instant::now() + Duration::from_secs(o.seconds);
    let started = Instant::now();
    let budget = Arc::new(std::sync::atomic::AtomicUsize::new(o.max_flows));
    let workers: Vec<_> = (0..o.concurrency)
        .map(|_| {
            let (flows, holder, credential, budget) = (
                flows.clone(),
                holder.clone(),
                credential.clone(),
                budget.clone(),
            );
            let (base, auths, next_party, scenario) = (
                base.to_owned(),
                auths.clone(),
                next_party.clone(),
                o.scenario.clone(),
            );
            std::thread::spawn(move || {
                let agent = agent();
                let mut mine = Vec::new();
                while Instant::now() < deadline
                    && budget.fetch_sub(1, std::sync::atomic::Ordering::Relaxed) > 0
                {
                    let i = next_party.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let auth = &auths[i % auths.len()];
                    let t = Instant::now();
                    let part = match scenario.as_str() {
                        "scan" => scan_flow(&agent, &base, auth, &credential, &holder),
                        "requests" => {
                            create_request(&agent, &base, auth);
                            Duration::ZERO
                        }
                        _ => {
                            cycle_flow(&agent, &base, auth, &credential, &holder);
                            Duration::ZERO
                        }
                    };
                    mine.push((t.elapsed(), part));
                }
                flows.lock().unwrap().extend(mine);
            })
        })
        .collect();
    for w in workers {
        w.join().expect("a worker failed");
    }
    let elapsed = started.elapsed();
    let all = flows.lock().unwrap().clone();
    let mut total: Vec<Duration> = all.iter().map(|f| f.0).collect();
    total.sort();
    println!(
        "scenario {}  parties {}  concurrency {}  flows {}  in {:.1} s  =>  {:.0} flows/s  p50 {:.1} ms  p99 {:.1} ms",
        o.scenario,
        o.parties.max(1),
        o.concurrency,
        total.len(),
        elapsed.as_secs_f64(),
        total.len() as f64 / elapsed.as_secs_f64(),
        percentile(&total, 0.50).as_secs_f64() * 1e3,
        percentile(&total, 0.99).as_secs_f64() * 1e3,
    );
    if o.scenario == "scan" {
        let mut scans: Vec<Duration> = all.iter().map(|f| f.1).collect();
        scans.sort();
        println!(
            "  POST /verifier/scan alone: p50 {:.1} ms  p99 {:.1} ms",
            percentile(&scans, 0.50).as_secs_f64() * 1e3,
            percentile(&scans, 0.99).as_secs_f64() * 1e3,
        );
    }
}

/// The unit of the CPU times in `/proc/PID/stat`: 100 on every Linux
/// architecture (the kernel's own tick rate is hidden behind it).
const USER_HZ: f64 = 100.0;

/// CPU seconds (user + system) the processes have used so far; a process
/// that is gone counts nothing.
fn cpu_seconds(pids: &[u32]) -> f64 {
    let ticks: u64 = pids
        .iter()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/stat")).ok())
        .map(|stat| {
            // Fields after the command name, which may hold spaces.
            let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
            let f: Vec<&str> = rest.split_whitespace().collect();
            // utime and stime are fields 14 and 15 of the line: 12 and 13 here.
            f.get(11).and_then(|t| t.parse::<u64>().ok()).unwrap_or(0)
                + f.get(12).and_then(|t| t.parse::<u64>().ok()).unwrap_or(0)
        })
        .sum();
    ticks as f64 / USER_HZ
}

/// `scan --prebuilt`: rounds of `--batch` holder QRs built first (nonces
/// and KB-JWTs, not timed), then posted to `/verifier/scan` by
/// `--concurrency` workers; only the posting is timed and charged the
/// server's CPU time.
fn run_scan_prebuilt(o: &Options, base: &str, api_key: &str, issuer: &str, in_process: bool) {
    use std::sync::Barrier;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    assert!(o.batch > 0, "--batch must be at least 1");
    // A worker's failed assertion must end the run, not leave the others
    // waiting at a barrier.
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        report(info);
        std::process::exit(101);
    }));
    let auth = format!("Bearer {api_key}");
    let holder = Arc::new(SigningKey::generate(Algorithm::Es256).unwrap());
    let offer = prepare_offers(base, api_key, 1).pop().unwrap();
    let credential = Arc::new(preauth_flow(&agent(), base, issuer, &holder, &offer));
    // Not timed: the first scan fetches and caches the status list.
    scan_flow(&agent(), base, &auth, &credential, &holder);

    let queue = Arc::new(Mutex::new(Vec::<String>::new()));
    let latencies = Arc::new(Mutex::new(Vec::<Duration>::new()));
    // The main thread and every worker meet at each step of a round:
    // start, built, go (clocks read), posted (clocks read again).
    let barrier = Arc::new(Barrier::new(o.concurrency + 1));
    let stop = Arc::new(AtomicBool::new(false));
    let to_build = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..o.concurrency)
        .map(|_| {
            let (queue, latencies, barrier, stop, to_build, holder, credential) = (
                queue.clone(),
                latencies.clone(),
                barrier.clone(),
                stop.clone(),
                to_build.clone(),
                holder.clone(),
                credential.clone(),
            );
            let (base, auth) = (base.to_owned(), auth.clone());
            std::thread::spawn(move || {
                let agent = agent();
                let mut mine = Vec::new();
                loop {
                    barrier.wait();
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let mut built = Vec::new();
                    while to_build
                        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                        .is_ok()
                    {
                        built.push(holder_qr(&agent, &base, &credential, &holder));
                    }
                    queue.lock().unwrap().extend(built);
                    barrier.wait();
                    barrier.wait();
                    loop {
                        let Some(qr) = queue.lock().unwrap().pop() else {
                            break;
                        };
                        mine.push(post_scan(&agent, &base, &auth, &qr));
                    }
                    barrier.wait();
                }
                latencies.lock().unwrap().extend(mine);
            })
        })
        .collect();

    // The server's process, or this one (the in-process server).
    let pid = [o.server_pid.unwrap_or_else(std::process::id)];
    let (mut posting, mut building, mut cpu, mut scans, mut rounds) =
        (Duration::ZERO, Duration::ZERO, 0.0, 0usize, 0usize);
    while posting < Duration::from_secs(o.seconds) && scans < o.max_flows {
        let k = o.batch.min(o.max_flows - scans);
        to_build.store(k, Ordering::Relaxed);
        let round = Instant::now();
        barrier.wait(); // start
        barrier.wait(); // built
        building += round.elapsed();
        let (cpu0, t0) = (cpu_seconds(&pid), Instant::now());
        barrier.wait(); // go
        barrier.wait(); // posted
        posting += t0.elapsed();
        cpu += cpu_seconds(&pid) - cpu0;
        scans += k;
        rounds += 1;
        // Presentation nonces live 30 s (by default): the first one taken
        // in a round must still be live at the round's last scan.
        if round.elapsed() > Duration::from_secs(15) {
            eprintln!(
                "warning: a round took {:.1} s, half a presentation nonce's lifetime: lower --batch",
                round.elapsed().as_secs_f64()
            );
        }
    }
    stop.store(true, Ordering::Relaxed);
    barrier.wait();
    for w in workers {
        w.join().expect("a worker failed");
    }
    let mut all = latencies.lock().unwrap().clone();
    all.sort();
    assert_eq!(all.len(), scans, "every built presentation was posted");
    let secs = posting.as_secs_f64();
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    println!(
        "scenario scan --prebuilt  concurrency {}  batch {}  rounds {rounds}  scans {scans}  posting {secs:.1} s (building {:.1} s, not timed)  =>  {:.0} scans/s  POST /verifier/scan p50 {:.1} ms  p99 {:.1} ms",
        o.concurrency,
        o.batch,
        building.as_secs_f64(),
        scans as f64 / secs,
        percentile(&all, 0.50).as_secs_f64() * 1e3,
        percentile(&all, 0.99).as_secs_f64() * 1e3,
    );
    let whose = match o.server_pid {
        Some(p) => format!("server pid {p}"),
        None if in_process => {
            "this process: the server AND the load generator's posting".to_owned()
        }
        None => "this process (the load generator only: pass --server-pid)".to_owned(),
    };
    println!(
        "  CPU while posting: {cpu:.2} s of {whose} = {:.2} of {cores} cores busy  =>  {:.0} scans per CPU-second (per core)",
        cpu / secs,
        scans as f64 / cpu,
    );
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn main() {
    // `cargo test --all-targets` runs bench targets without `--bench`: a
    // load run is only for `cargo bench`.
    if !std::env::args().any(|a| a == "--bench") {
        eprintln!("load generator: run it with `cargo bench --bench load -- <scenario>`");
        return;
    }
    let o = parse_args();
    let haip = o.scenario == "haip";
    assert!(
        !haip || o.base.is_none(),
        "the haip scenario starts its own server (it must trust the generated wallet provider)"
    );
    let provider =
        haip.then(|| Arc::new(WalletProvider::generate("https://load-generator.example").unwrap()));
    let local = o
        .base
        .is_none()
        .then(|| start_local(o.demo || o.parties > 0 || haip, provider.as_deref()));
    let base = o
        .base
        .clone()
        .unwrap_or_else(|| local.as_ref().unwrap().base.clone());
    let api_key = o
        .api_key
        .clone()
        .or_else(|| local.as_ref().map(|l| l.api_key.clone()))
        .expect("--api-key KEY");
    let metadata: Value = agent()
        .get(&format!("{base}/.well-known/openid-credential-issuer"))
        .call()
        .expect("issuer metadata")
        .body_mut()
        .read_json()
        .expect("issuer metadata JSON");
    let issuer = metadata["credential_issuer"]
        .as_str()
        .expect("credential_issuer")
        .to_owned();

    assert!(
        !o.prebuilt || o.scenario == "scan",
        "--prebuilt is a mode of the scan scenario"
    );
    match o.scenario.as_str() {
        "preauth" | "haip" => {}
        "scan" if o.prebuilt => {
            return run_scan_prebuilt(&o, &base, &api_key, &issuer, local.is_some());
        }
        "scan" | "cycle" | "requests" => return run_verifier(&o, &base, &api_key, &issuer),
        other => panic!("unknown scenario {other} (preauth, haip, scan, cycle, requests)"),
    }
    // Offers for the whole run, made before the clock starts (8 clients at
    // a time); enough for 5 000 flows/s, beyond what 2 cores reach.
    let budget = o.max_flows.min(o.seconds as usize * 5_000);
    eprintln!("preparing {budget} offers…");
    let offers = Arc::new(Mutex::new(prepare_offers(&base, &api_key, budget)));
    let latencies = Arc::new(Mutex::new(Vec::<Duration>::with_capacity(budget)));
    let cpu_before: Vec<f64> = o.cpu.iter().map(|(_, p)| cpu_seconds(p)).collect();
    let deadline = Instant::now() + Duration::from_secs(o.seconds);
    let started = Instant::now();
    let workers: Vec<_> = (0..o.concurrency)
        .map(|_| {
            let (offers, latencies, base, issuer) = (
                offers.clone(),
                latencies.clone(),
                base.clone(),
                issuer.clone(),
            );
            // Made before the clock starts, as a wallet keeps them.
            let mut haip_wallet = provider.as_ref().map(HaipWallet::new);
            std::thread::spawn(move || {
                let agent = agent();
                let holder = SigningKey::generate(Algorithm::Es256).unwrap();
                let mut mine = Vec::new();
                while Instant::now() < deadline {
                    let Some(offer) = offers.lock().unwrap().pop() else {
                        break;
                    };
                    let t = Instant::now();
                    match haip_wallet.as_mut() {
                        Some(w) => drop(haip_flow(&agent, &base, &issuer, w, &offer)),
                        None => drop(preauth_flow(&agent, &base, &issuer, &holder, &offer)),
                    }
                    mine.push(t.elapsed());
                }
                latencies.lock().unwrap().extend(mine);
            })
        })
        .collect();
    for w in workers {
        w.join().expect("a worker failed");
    }
    let elapsed = started.elapsed();
    let mut all = latencies.lock().unwrap().clone();
    all.sort();
    let cpu_note: String = o
        .cpu
        .iter()
        .zip(cpu_before)
        .map(|((name, pids), before)| {
            let ms = (cpu_seconds(pids) - before) * 1e3 / all.len().max(1) as f64;
            format!("  {name} {ms:.2} ms CPU/flow")
        })
        .collect();
    println!(
        "scenario {}  concurrency {}  flows {}  in {:.1} s  =>  {:.0} flows/s  p50 {:.1} ms  p99 {:.1} ms{cpu_note}",
        o.scenario,
        o.concurrency,
        all.len(),
        elapsed.as_secs_f64(),
        all.len() as f64 / elapsed.as_secs_f64(),
        percentile(&all, 0.50).as_secs_f64() * 1e3,
        percentile(&all, 0.99).as_secs_f64() * 1e3,
    );
}
