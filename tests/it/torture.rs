//! Crash torture (issue 17): while client threads run issuance and
//! verification flows against the real binary and record every success,
//! the server is disrupted at random moments — SIGKILLed and restarted on
//! redb, one of two PostgreSQL nodes SIGKILLed and restarted, or a
//! PostgreSQL node's database connections terminated. After each
//! disruption, once `/health/ready` answers 200 again and the flows under
//! way have finished (the clients then hold still until the checks are
//! done, so each round's work stays bounded):
//! - every credential received has its status slot (the list covers the
//!   index, value VALID) and its issued-credential record (valid; checked
//!   through the back office's listing of the subjects that received
//!   credentials since the previous check and of one other, at the end of
//!   the run of all);
//! - no status slot `(uri, idx)` was handed out twice in the whole run;
//! - every single-use value accepted since the previous check, and a random
//!   sample of older ones (at the end of the run, every one), is refused
//!   when replayed: pre-authorized codes (`invalid_grant`), c_nonces (`invalid_nonce`),
//!   answers to a response URI (400, the transaction stays verified),
//!   holder-shown QR presentations at `/verifier/scan` (`failed`).
//!
//! Requests that fail while a node is down or cut off are expected
//! (connection refused, 503); a wrong acceptance, a lost record, a
//! duplicate index, or any other unexpected answer to a request that did
//! not overlap a disruption fails the test.
//!
//! `TORTURE_KILLS` sets the disruptions per test (default small, for CI);
//! by hand: `TORTURE_KILLS=50 cargo test --test it torture -- --nocapture`.
//! The tests choose their backends themselves, so they run once, in the
//! default leg of the suite, and are skipped when `DIGITAL_ID_IT_STORE=postgres`.

use std::collections::{HashMap, HashSet};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use digital_id::crypto::jws::Jws;
use digital_id::crypto::{SigningKey, random_bytes};
use serde_json::{Map, Value, json};

use crate::fixture::{API_KEY, BIN, ItStore, Server, it_store};
use crate::issuer::backoffice::status_entries;
use crate::issuer::wallet::{PRE_AUTH, key, proof_with};
use crate::pg;
use crate::verifier::{present, response_form};

/// Disruptions per test when `TORTURE_KILLS` is not set: the three tests
/// stay well under 90 s in CI.
const DEFAULT_KILLS: usize = 10;
/// Client threads running flows.
const CLIENTS: usize = 2;
/// Adults with a passport in the demo registry. The back office lists at
/// most `records::LIST_LIMIT` (1000) credentials per subject, so the
/// client fills one subject with [`PER_SUBJECT`] credentials, then the next.
const SUBJECTS: &[&str] = &[
    "ivanov-ivan",
    "belova-svetlana",
    "egorova-tatiana",
    "fedorov-nikolay",
    "karpova-daria",
    "kim-viktoria",
    "kuznetsov-pavel",
    "novikov-alexey",
    "popova-maria",
    "saltykov-shchedrin-mikhail",
    "smirnova-olga",
    "sokolov-dmitry",
    "volkov-sergey",
    "zaitseva-irina",
    "gusev-roman",
    "petrova-vodkina-maria-luiza",
    "rimskaya-korsakova-elena",
    "tarasov-gleb",
];
/// Credentials received per subject: room below the listing's limit for
/// those issued to flows that were cut off before the answer.
const PER_SUBJECT: usize = 800;
const AGE_OVER_18: &[&[&str]] = &[&["age_equal_or_over", "18"]];

fn kills() -> usize {
    std::env::var("TORTURE_KILLS")
        .ok()
        .map(|v| v.parse().expect("TORTURE_KILLS must be a number"))
        .unwrap_or(DEFAULT_KILLS)
}

/// These tests pick their backends themselves: the PostgreSQL leg of the
/// suite (`DIGITAL_ID_IT_STORE=postgres`) skips them.
fn skipped_on_this_leg(name: &str) -> bool {
    let skip = it_store() == ItStore::Postgres;
    if skip {
        println!("{name}: runs in the default leg of the suite only");
    }
    skip
}

fn random_below(n: u64) -> u64 {
    u64::from_le_bytes(random_bytes::<8>()) % n
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Lifetimes long enough that a replay tests single use rather than expiry;
/// no rate limit for the one client address.
const CONFIG: &str = r#"
[issuer]
offer_ttl = 3600
access_token_ttl = 3600
c_nonce_ttl = 3600

[verifier]
request_ttl = 3600
response_window = 3600
presentation_nonce_ttl = 3600
retention = 3600

[limits]
per_client_rate = 1000000.0
per_client_burst = 1000000.0
global_rate = 1000000.0
global_burst = 1000000.0
"#;

// ------------------------------------------------------------------ nodes

/// A server process on a fixed port (so it comes back where the client and
/// the public URL expect it).
struct Node {
    port: u16,
    data_dir: PathBuf,
    config: PathBuf,
    public: String,
    store: Option<String>,
    server: Option<Server>,
}

impl Node {
    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn start(&mut self) {
        let mut cmd = Command::new(BIN);
        cmd.args(["serve", "--demo", "--bind"])
            .arg(format!("127.0.0.1:{}", self.port))
            .arg("--public-url")
            .arg(&self.public)
            .arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--config")
            .arg(&self.config)
            .arg("--registry")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/registry"))
            .args(["--api-key", API_KEY])
            .env_remove("VC_DEMO")
            .env_remove("VC_STORE");
        if let Some(store) = &self.store {
            cmd.args(["--store", store]);
        }
        self.server = Some(Server::spawn(cmd));
    }

    fn sigkill(&mut self) {
        self.server.take().expect("the node runs").sigkill();
    }
}

/// The store URL of the nodes on `schema`: its name as `application_name`
/// too, so exactly their connections can be terminated.
fn store_url(schema: &pg::Schema) -> String {
    format!("{}&application_name={}", schema.store_url(), schema.name)
}

/// Terminates the connections of the nodes on `schema`; how many there were.
fn terminate(schema: &pg::Schema) -> u64 {
    pg::simple_query(
        &pg::admin_url(),
        &format!(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE application_name = '{}' AND pid <> pg_backend_pid()",
            schema.name
        ),
    )
    .iter()
    .find_map(|m| match m {
        tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0)?.parse().ok(),
        _ => None,
    })
    .unwrap_or(0)
}

// ----------------------------------------------------------------- client

/// A request that did not get a usable answer: the node was down or cut
/// off (or, counted as an anomaly, answered something it must not).
#[derive(Debug)]
struct Interrupted;

type Step<T> = Result<T, Interrupted>;

/// An answer, and whether the request overlapped no disruption of the node
/// that served it.
struct Reply {
    status: u16,
    body: Value,
    text: String,
    clean: bool,
}

/// A credential the client received.
struct Received {
    subject: &'static str,
    uri: String,
    idx: u64,
    notification_id: String,
}

/// An answer a response URI accepted.
#[derive(Clone)]
struct Answer {
    uri: String,
    form: Vec<(String, String)>,
    transaction_id: String,
}

/// Everything the client saw accepted.
#[derive(Default)]
struct Ledger {
    credentials: Vec<Received>,
    slots: HashSet<(String, u64)>,
    /// Redeemed pre-authorized codes: (code, tx_code).
    codes: Vec<(String, String)>,
    /// Spent c_nonces: (access token, nonce, audience).
    c_nonces: Vec<(String, String, String)>,
    /// Accepted answers.
    responses: Vec<Answer>,
    /// Verified holder-shown QR presentations.
    scans: Vec<String>,
}

#[derive(Default)]
struct Counts {
    issuances: AtomicUsize,
    cross_device: AtomicUsize,
    scans: AtomicUsize,
    interrupted: AtomicUsize,
    refused_connections: AtomicUsize,
    unavailable: AtomicUsize,
    server_errors_while_disrupted: AtomicUsize,
}

struct Shared {
    bases: Vec<String>,
    public: String,
    /// Per node: odd while a disruption of it is under way.
    epochs: Vec<AtomicU64>,
    next: AtomicUsize,
    stop: AtomicBool,
    /// The clients hold still between flows while the checks run (so a
    /// round's work stays bounded); how many do.
    paused: AtomicBool,
    idle: AtomicUsize,
    agent: ureq::Agent,
    ledger: Mutex<Ledger>,
    counts: Counts,
    anomalies: Mutex<Vec<String>>,
}

impl Shared {
    fn new(bases: Vec<String>, public: String) -> Self {
        Shared {
            epochs: bases.iter().map(|_| AtomicU64::new(0)).collect(),
            bases,
            public,
            next: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            paused: AtomicBool::new(false),
            idle: AtomicUsize::new(0),
            agent: ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_global(Some(Duration::from_secs(15)))
                // A pooled connection to a killed node would fail the
                // first request after the restart.
                .max_idle_connections(0)
                .build()
                .into(),
            ledger: Mutex::new(Ledger::default()),
            counts: Counts::default(),
            anomalies: Mutex::new(Vec::new()),
        }
    }

    fn anomaly(&self, what: String) {
        let mut all = self.anomalies.lock().unwrap();
        if all.len() < 20 {
            eprintln!("ANOMALY: {what}");
        }
        all.push(what);
    }

    /// The node for the next request (round robin).
    fn pick(&self) -> usize {
        self.next.fetch_add(1, Ordering::Relaxed) % self.bases.len()
    }

    /// `url` (under the public URL) on node `node`.
    fn on(&self, node: usize, url: &str) -> String {
        match url.strip_prefix(&self.public) {
            Some(path) => format!("{}{path}", self.bases[node]),
            None => url.to_owned(),
        }
    }

    /// Sends one request to node `node`. Connection failures and 503 are
    /// interruptions; a 500 is one only while the node is disrupted.
    fn send(
        &self,
        node: usize,
        what: &str,
        go: impl FnOnce(&ureq::Agent, &str) -> Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Step<Reply> {
        let before = self.epochs[node].load(Ordering::SeqCst);
        let result = go(&self.agent, &self.bases[node]);
        let text_of = |mut r: ureq::http::Response<ureq::Body>| {
            let status = r.status().as_u16();
            (status, r.body_mut().read_to_string().unwrap_or_default())
        };
        let answer = result.map(text_of);
        let after = self.epochs[node].load(Ordering::SeqCst);
        let clean = before == after && before % 2 == 0;
        let (status, text) = match answer {
            Ok(a) => a,
            Err(e) => {
                self.counts
                    .refused_connections
                    .fetch_add(1, Ordering::Relaxed);
                if clean && !matches!(e, ureq::Error::Io(_) | ureq::Error::ConnectionFailed) {
                    self.anomaly(format!("{what}: {e}"));
                }
                return Err(Interrupted);
            }
        };
        if status == 503 {
            self.counts.unavailable.fetch_add(1, Ordering::Relaxed);
            return Err(Interrupted);
        }
        if status == 500 {
            if clean {
                self.anomaly(format!("{what}: 500 outside a disruption: {text}"));
            } else {
                self.counts
                    .server_errors_while_disrupted
                    .fetch_add(1, Ordering::Relaxed);
            }
            return Err(Interrupted);
        }
        Ok(Reply {
            status,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
            text,
            clean,
        })
    }

    /// The answer's body when its status is `want`; otherwise an
    /// interruption, and an anomaly when the request overlapped no
    /// disruption.
    fn expect(&self, what: &str, r: Step<Reply>, want: u16) -> Step<Value> {
        let r = r?;
        if r.status == want {
            return Ok(r.body);
        }
        if r.clean {
            self.anomaly(format!("{what}: {} (wanted {want}): {}", r.status, r.text));
        }
        Err(Interrupted)
    }

    fn post_json(&self, node: usize, path: &str, auth: Option<&str>, body: &Value) -> Step<Reply> {
        self.send(node, &format!("POST {path}"), |a, base| {
            let mut req = a.post(&format!("{base}{path}"));
            if let Some(auth) = auth {
                req = req.header("Authorization", auth);
            }
            req.send_json(body)
        })
    }

    fn post_form(&self, node: usize, url: &str, form: &[(String, String)]) -> Step<Reply> {
        let url = self.on(node, url);
        self.send(node, &format!("POST {url}"), |a, _| {
            a.post(&url)
                .send_form(form.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        })
    }

    fn get(&self, node: usize, url: &str, auth: bool) -> Step<Reply> {
        let url = self.on(node, url);
        self.send(node, &format!("GET {url}"), |a, _| {
            let mut req = a.get(&url);
            if auth {
                req = req.header("Authorization", &bearer());
            }
            req.call()
        })
    }
}

fn bearer() -> String {
    format!("Bearer {API_KEY}")
}

fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Offer → token → nonce → credential (a batch of two keys). Returns the
/// credentials received.
fn issuance(s: &Shared) -> Step<Vec<(String, Arc<SigningKey>)>> {
    let received = s.ledger.lock().unwrap().credentials.len();
    let Some(&subject) = SUBJECTS.get(received / PER_SUBJECT) else {
        // Every subject is full: verifications only.
        return Ok(Vec::new());
    };
    let offer = s.expect(
        "offer",
        s.post_json(
            s.pick(),
            "/issuer/offers",
            Some(&bearer()),
            &json!({"subject_id": subject, "credential_configuration_ids": ["ru.passport"], "tx_code": true}),
        ),
        201,
    )?;
    let code = offer["credential_offer"]["grants"][PRE_AUTH]["pre-authorized_code"]
        .as_str()
        .unwrap()
        .to_owned();
    let tx = offer["tx_code"].as_str().unwrap().to_owned();
    let aud = offer["credential_offer"]["credential_issuer"]
        .as_str()
        .unwrap()
        .to_owned();
    let node = s.pick();
    let token = s.expect(
        "token",
        s.post_form(
            node,
            &format!("{}/token", s.bases[node]),
            &form(&[
                ("grant_type", PRE_AUTH),
                ("pre-authorized_code", &code),
                ("tx_code", &tx),
            ]),
        ),
        200,
    )?;
    s.ledger.lock().unwrap().codes.push((code, tx));
    let access = token["access_token"].as_str().unwrap().to_owned();
    let nonce = s.expect(
        "nonce",
        s.post_json(s.pick(), "/nonce", None, &Value::Null),
        200,
    )?;
    let nonce = nonce["c_nonce"].as_str().unwrap().to_owned();
    let holders = [Arc::new(key()), Arc::new(key())];
    let proofs: Vec<String> = holders
        .iter()
        .map(|h| {
            proof_with(
                h,
                json!({}),
                json!({"aud": aud, "iat": now(), "nonce": nonce}),
            )
        })
        .collect();
    let creds = s.expect(
        "credential",
        s.post_json(
            s.pick(),
            "/credential",
            Some(&format!("Bearer {access}")),
            &json!({"credential_configuration_id": "ru.passport", "proofs": {"jwt": proofs}}),
        ),
        200,
    )?;
    let notification_id = creds["notification_id"].as_str().unwrap_or("").to_owned();
    let mut ledger = s.ledger.lock().unwrap();
    ledger.c_nonces.push((access, nonce, aud));
    let mut out = Vec::new();
    for (c, holder) in creds["credentials"].as_array().unwrap().iter().zip(holders) {
        let credential = c["credential"].as_str().unwrap().to_owned();
        let jwt = credential.split('~').next().unwrap();
        let payload = Jws::decode(jwt).unwrap().payload_json().unwrap();
        let sl = &payload["status"]["status_list"];
        let (uri, idx) = (
            sl["uri"].as_str().unwrap().to_owned(),
            sl["idx"].as_u64().unwrap(),
        );
        if !ledger.slots.insert((uri.clone(), idx)) {
            drop(ledger);
            s.anomaly(format!("status slot {uri} #{idx} handed out twice"));
            return Err(Interrupted);
        }
        ledger.credentials.push(Received {
            subject,
            uri,
            idx,
            notification_id: notification_id.clone(),
        });
        out.push((credential, holder));
    }
    s.counts.issuances.fetch_add(1, Ordering::Relaxed);
    Ok(out)
}

/// A relying party's request answered by the wallet: create, fetch the
/// request object, answer at the response URI, read the result.
fn cross_device(s: &Shared, credential: &str, holder: &SigningKey) -> Step<()> {
    let created = s.expect(
        "verifier request",
        s.post_json(
            s.pick(),
            "/verifier/requests",
            Some(&bearer()),
            &json!({"preset": "age_over_18"}),
        ),
        200,
    )?;
    let id = created["transaction_id"].as_str().unwrap().to_owned();
    let r = s.get(s.pick(), created["request_uri"].as_str().unwrap(), false)?;
    if r.status != 200 {
        return s.expect("request object", Ok(r), 200).map(drop);
    }
    let ro = Jws::decode(r.text.trim()).unwrap().payload_json().unwrap();
    let p = present(credential, AGE_OVER_18, holder, &ro, now());
    let state = ro["state"].as_str().unwrap();
    let vp_token = json!({"credential": [p]});
    let answer = response_form(&ro, vp_token, state);
    let uri = ro["response_uri"].as_str().unwrap().to_owned();
    s.expect("answer", s.post_form(s.pick(), &uri, &answer), 200)?;
    s.ledger.lock().unwrap().responses.push(Answer {
        uri,
        form: answer,
        transaction_id: id.clone(),
    });
    let result = s.expect(
        "verifier result",
        s.get(
            s.pick(),
            &format!("{}/verifier/requests/{id}", s.public),
            true,
        ),
        200,
    )?;
    if result["status"] != "verified" {
        s.anomaly(format!("an accepted answer did not verify: {result}"));
        return Err(Interrupted);
    }
    s.counts.cross_device.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

/// A holder-shown QR: presentation nonce, presentation, scan.
fn scan(s: &Shared, credential: &str, holder: &SigningKey) -> Step<()> {
    let n = s.expect(
        "presentation nonce",
        s.post_json(s.pick(), "/presentation-nonces", None, &Value::Null),
        200,
    )?;
    let mut ro = Map::new();
    ro.insert("client_id".into(), n["audience"].clone());
    ro.insert("nonce".into(), n["nonce"].clone());
    let qr = present(credential, AGE_OVER_18, holder, &ro, now());
    let r = s.post_json(
        s.pick(),
        "/verifier/scan",
        Some(&bearer()),
        &json!({"qr": qr, "preset": "age_over_18"}),
    )?;
    if r.status != 200 || r.body["status"] != "verified" {
        // The verifier fetches our status list over HTTP, which may fail
        // while the node is disrupted.
        if r.clean {
            s.anomaly(format!(
                "a fresh holder QR did not verify: {} {}",
                r.status, r.text
            ));
        }
        return Err(Interrupted);
    }
    s.ledger.lock().unwrap().scans.push(qr);
    s.counts.scans.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

/// One client: issuance, then both verifications of a credential it
/// holds, until told to stop.
fn client(s: &Shared) {
    let mut held: Option<(String, Arc<SigningKey>)> = None;
    while !s.stop.load(Ordering::SeqCst) {
        if s.paused.load(Ordering::SeqCst) {
            s.idle.fetch_add(1, Ordering::SeqCst);
            while s.paused.load(Ordering::SeqCst) && !s.stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(2));
            }
            s.idle.fetch_sub(1, Ordering::SeqCst);
            continue;
        }
        let outcome = (|| {
            if let Some(fresh) = issuance(s)?.into_iter().next() {
                held = Some(fresh);
            }
            if let Some((c, h)) = &held {
                cross_device(s, c, h)?;
                scan(s, c, h)?;
            }
            Ok::<(), Interrupted>(())
        })();
        if outcome.is_err() {
            s.counts.interrupted.fetch_add(1, Ordering::Relaxed);
            // Do not spin against a node that is down.
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

// ----------------------------------------------------------------- checks

#[derive(Default)]
struct Checked {
    /// How many of each kind of value (codes, c_nonces, answers, scans,
    /// and received credentials) earlier checks went through.
    cursors: [usize; 5],
    records: usize,
    lists: usize,
    codes: usize,
    c_nonces: usize,
    responses: usize,
    scans: usize,
}

impl Checked {
    fn replays(&self) -> usize {
        self.codes + self.c_nonces + self.responses + self.scans
    }
}

/// A request of the checks, made while no node is disrupted: anything but
/// an answer is an anomaly.
fn checked(s: &Shared, what: &str, r: Step<Reply>) -> Option<Reply> {
    match r {
        Ok(r) => Some(r),
        Err(Interrupted) => {
            s.anomaly(format!("{what}: no answer after recovery"));
            None
        }
    }
}

/// Older values replayed again after each recovery, per kind.
const OLD_SAMPLE: usize = 16;

/// The values of one kind to replay now: every value accepted since the
/// last check, plus a random sample of older ones (all of them when `all`).
fn to_replay<T: Clone>(items: &[T], cursor: &mut usize, all: bool) -> Vec<T> {
    let old = (*cursor).min(items.len());
    let mut out: Vec<T> = if all || old <= OLD_SAMPLE {
        items[..old].to_vec()
    } else {
        (0..OLD_SAMPLE)
            .map(|_| items[random_below(old as u64) as usize].clone())
            .collect()
    };
    out.extend_from_slice(&items[old..]);
    *cursor = items.len();
    out
}

/// Records and status slots of every credential received so far; replays
/// of the single-use values accepted since the last check and of a sample
/// of older ones (`all`: of every one).
fn check(s: &Shared, c: &mut Checked, all: bool) {
    let (received, subjects, codes, c_nonces, responses, scans) = {
        let l = s.ledger.lock().unwrap();
        let received: Vec<(&str, String, u64, String)> = l
            .credentials
            .iter()
            .map(|r| (r.subject, r.uri.clone(), r.idx, r.notification_id.clone()))
            .collect();
        let [codes, c_nonces, responses, scans, credentials] = &mut c.cursors;
        // The subjects of the credentials received since the last check,
        // and one of the older ones (every one when `all`).
        let old = (*credentials).min(l.credentials.len());
        let mut subjects: Vec<&str> = l.credentials[old..].iter().map(|r| r.subject).collect();
        if all {
            subjects.extend(l.credentials.iter().map(|r| r.subject));
        } else if old > 0 {
            subjects.push(l.credentials[random_below(old as u64) as usize].subject);
        }
        *credentials = l.credentials.len();
        subjects.sort_unstable();
        subjects.dedup();
        (
            received,
            subjects,
            to_replay(&l.codes, codes, all),
            to_replay(&l.c_nonces, c_nonces, all),
            to_replay(&l.responses, responses, all),
            to_replay(&l.scans, scans, all),
        )
    };

    // Records: one listing per subject.
    for subject in subjects {
        let path = format!("{}/issuer/subjects/{subject}/credentials", s.public);
        let Some(r) = checked(s, "records", s.get(s.pick(), &path, true)) else {
            continue;
        };
        let mut records: HashMap<(u64, u64), Value> = HashMap::new();
        for rec in r.body.as_array().into_iter().flatten() {
            let list = rec["status_list"].as_u64().unwrap_or(u64::MAX);
            let idx = rec["status_index"].as_u64().unwrap_or(u64::MAX);
            if let Some(other) = records.insert((list, idx), rec.clone()) {
                s.anomaly(format!("two records hold one status slot: {other} {rec}"));
            }
        }
        for (_, uri, idx, notification_id) in received.iter().filter(|r| r.0 == subject) {
            let list: u64 = uri.rsplit('/').next().unwrap().parse().unwrap();
            match records.get(&(list, *idx)) {
                Some(rec)
                    if rec["notification_id"] == notification_id.as_str()
                        && rec["status"] == "valid" =>
                {
                    c.records += 1
                }
                Some(rec) => s.anomaly(format!("record of {uri} #{idx} is wrong: {rec}")),
                None => s.anomaly(format!(
                    "no issued-credential record for {uri} #{idx} ({subject})"
                )),
            }
        }
    }

    // Status slots: each list once.
    let mut by_list: HashMap<&str, Vec<u64>> = HashMap::new();
    for (_, uri, idx, _) in &received {
        by_list.entry(uri).or_default().push(*idx);
    }
    for (uri, idxs) in by_list {
        let Some(r) = checked(s, "status list", s.get(s.pick(), uri, false)) else {
            continue;
        };
        if r.status != 200 {
            s.anomaly(format!("status list {uri}: {} {}", r.status, r.text));
            continue;
        }
        c.lists += 1;
        let entries = status_entries(r.text.trim());
        for idx in idxs {
            let i = idx as usize;
            match entries.get(i / 4).map(|b| (b >> ((i % 4) * 2)) & 3) {
                Some(0) => {}
                Some(v) => s.anomaly(format!("{uri} #{idx} has status {v}, not VALID")),
                None => s.anomaly(format!("{uri} does not cover #{idx}")),
            }
        }
    }

    // Replays: refused, every one.
    for (code, tx) in &codes {
        let node = s.pick();
        let url = format!("{}/token", s.bases[node]);
        let f = form(&[
            ("grant_type", PRE_AUTH),
            ("pre-authorized_code", code),
            ("tx_code", tx),
        ]);
        if let Some(r) = checked(s, "code replay", s.post_form(node, &url, &f)) {
            if (r.status, r.body["error"].as_str()) == (400, Some("invalid_grant")) {
                c.codes += 1;
            } else {
                s.anomaly(format!(
                    "pre-authorized code replayed: {} {}",
                    r.status, r.text
                ));
            }
        }
    }
    for (access, nonce, aud) in &c_nonces {
        let proof = proof_with(
            &key(),
            json!({}),
            json!({"aud": aud, "iat": now(), "nonce": nonce}),
        );
        let body =
            json!({"credential_configuration_id": "ru.passport", "proofs": {"jwt": [proof]}});
        let auth = format!("Bearer {access}");
        let r = s.post_json(s.pick(), "/credential", Some(&auth), &body);
        if let Some(r) = checked(s, "c_nonce replay", r) {
            if (r.status, r.body["error"].as_str()) == (400, Some("invalid_nonce")) {
                c.c_nonces += 1;
            } else {
                s.anomaly(format!("c_nonce replayed: {} {}", r.status, r.text));
            }
        }
    }
    for a in &responses {
        let r = s.post_form(s.pick(), &a.uri, &a.form);
        let Some(r) = checked(s, "answer replay", r) else {
            continue;
        };
        if r.status != 400 {
            s.anomaly(format!(
                "an answer was accepted twice: {} {}",
                r.status, r.text
            ));
            continue;
        }
        let result = format!("{}/verifier/requests/{}", s.public, a.transaction_id);
        if let Some(r) = checked(s, "result", s.get(s.pick(), &result, true)) {
            if r.body["status"] == "verified" {
                c.responses += 1;
            } else {
                s.anomaly(format!("a replayed answer changed the result: {}", r.text));
            }
        }
    }
    for qr in &scans {
        let body = json!({"qr": qr, "preset": "age_over_18"});
        let r = s.post_json(s.pick(), "/verifier/scan", Some(&bearer()), &body);
        if let Some(r) = checked(s, "scan replay", r) {
            if r.status == 200 && r.body["status"] == "failed" {
                c.scans += 1;
            } else {
                s.anomaly(format!(
                    "a holder QR was verified twice: {} {}",
                    r.status, r.text
                ));
            }
        }
    }
}

// ------------------------------------------------------------------- runs

/// How a disruption is done and undone.
trait Disruptor {
    /// The node it disrupts next.
    fn victim(&self) -> usize;
    fn disrupt(&mut self, node: usize);
    fn recover(&mut self, node: usize);
}

fn wait_ready(s: &Shared, node: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let url = format!("{}/health/ready", s.bases[node]);
    loop {
        let status = s.agent.get(&url).call().map(|r| r.status().as_u16());
        if let Ok(200) = status {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "node {node} not ready 30 s after recovery: {status:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn completed(s: &Shared) -> usize {
    let c = &s.counts;
    c.issuances.load(Ordering::Relaxed)
        + c.cross_device.load(Ordering::Relaxed)
        + c.scans.load(Ordering::Relaxed)
}

/// Runs the clients, disrupts `kills` times, checks after each recovery;
/// prints the counts and fails on any anomaly.
fn torture(name: &str, s: Arc<Shared>, d: &mut dyn Disruptor, kills: usize) {
    let started = Instant::now();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let s = s.clone();
            std::thread::spawn(move || client(&s))
        })
        .collect();
    let mut c = Checked::default();
    let mut done = 0;
    for round in 0..kills {
        if s.anomalies.lock().unwrap().len() >= 100 {
            // Failed already: stop early.
            break;
        }
        // Flows make progress after each recovery, then the disruption
        // comes at a random moment.
        let progress = completed(&s);
        let deadline = Instant::now() + Duration::from_secs(30);
        while completed(&s) == progress {
            if Instant::now() > deadline {
                s.anomaly(format!("round {round}: no flow completed within 30 s"));
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(random_below(400)));
        let node = d.victim();
        s.epochs[node].fetch_add(1, Ordering::SeqCst);
        d.disrupt(node);
        d.recover(node);
        wait_ready(&s, node);
        s.epochs[node].fetch_add(1, Ordering::SeqCst);
        // The flows under way finish (on the recovered node), then the
        // checks run alone.
        s.paused.store(true, Ordering::SeqCst);
        let deadline = Instant::now() + Duration::from_secs(60);
        while s.idle.load(Ordering::SeqCst) < CLIENTS {
            assert!(Instant::now() < deadline, "the clients did not pause");
            std::thread::sleep(Duration::from_millis(2));
        }
        check(&s, &mut c, false);
        s.paused.store(false, Ordering::SeqCst);
        done += 1;
        println!(
            "torture {name}: disruption {done}/{kills} checked at {:.0} s",
            started.elapsed().as_secs_f64()
        );
    }
    s.stop.store(true, Ordering::SeqCst);
    for t in clients {
        t.join().unwrap();
    }
    check(&s, &mut c, true);

    let n = &s.counts;
    let l = s.ledger.lock().unwrap();
    println!(
        "torture {name}: {done} disruptions in {:.0} s; flows completed: {} issuances ({} credentials), \
         {} cross-device verifications, {} holder-QR scans; flows interrupted: {} \
         (requests refused or cut off: {}, 503: {}, 500 while disrupted: {}); \
         replays refused: {} (pre-authorized codes {}, c_nonces {}, answers {}, scans {}); \
         records checked: {}, status lists checked: {}; anomalies: {}",
        started.elapsed().as_secs_f64(),
        n.issuances.load(Ordering::Relaxed),
        l.credentials.len(),
        n.cross_device.load(Ordering::Relaxed),
        n.scans.load(Ordering::Relaxed),
        n.interrupted.load(Ordering::Relaxed),
        n.refused_connections.load(Ordering::Relaxed),
        n.unavailable.load(Ordering::Relaxed),
        n.server_errors_while_disrupted.load(Ordering::Relaxed),
        c.replays(),
        c.codes,
        c.c_nonces,
        c.responses,
        c.scans,
        c.records,
        c.lists,
        s.anomalies.lock().unwrap().len(),
    );
    let anomalies = s.anomalies.lock().unwrap();
    assert!(
        anomalies.is_empty(),
        "{name}: {} anomalies, the first ones: {:#?}",
        anomalies.len(),
        &anomalies[..anomalies.len().min(50)]
    );
    assert!(
        l.credentials.len() >= kills && !l.scans.is_empty() && !l.responses.is_empty(),
        "{name}: too few flows completed to mean anything"
    );
}

fn node(port: u16, data_dir: &Path, public: &str, store: Option<String>) -> Node {
    let config = data_dir.join("torture.toml");
    std::fs::write(&config, CONFIG).unwrap();
    Node {
        port,
        data_dir: data_dir.to_owned(),
        config,
        public: public.to_owned(),
        store,
        server: None,
    }
}

/// SIGKILL and restart on the same data directory (and store).
struct Kill {
    nodes: Vec<Node>,
    /// The node killed each time.
    victim: usize,
}

impl Disruptor for Kill {
    fn victim(&self) -> usize {
        self.victim
    }
    fn disrupt(&mut self, node: usize) {
        self.nodes[node].sigkill();
    }
    fn recover(&mut self, node: usize) {
        self.nodes[node].start();
    }
}

#[test]
fn torture_redb_sigkill_and_restart() {
    if skipped_on_this_leg("torture_redb_sigkill_and_restart") {
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut n = node(port, data.path(), &base, None);
    n.start();
    let s = Arc::new(Shared::new(vec![base.clone()], base));
    let mut d = Kill {
        nodes: vec![n],
        victim: 0,
    };
    torture("redb (SIGKILL, restart)", s, &mut d, kills());
}

#[test]
fn torture_postgres_two_nodes_one_killed() {
    if skipped_on_this_leg("torture_postgres_two_nodes_one_killed") {
        return;
    }
    let schema = pg::Schema::new();
    // One deployment: the same keys (data directory) and public URL. The
    // public URL is node 0's, which stays up (the verifier fetches our
    // status lists from it); node 1 is killed.
    let data = tempfile::tempdir().unwrap();
    let ports = [free_port(), free_port()];
    let public = format!("http://127.0.0.1:{}", ports[0]);
    let mut nodes: Vec<Node> = ports
        .iter()
        .map(|p| node(*p, data.path(), &public, Some(store_url(&schema))))
        .collect();
    for n in &mut nodes {
        n.start();
    }
    let bases = nodes.iter().map(Node::base).collect();
    let s = Arc::new(Shared::new(bases, public));
    let mut d = Kill { nodes, victim: 1 };
    torture("PostgreSQL (two nodes, one SIGKILLed)", s, &mut d, kills());
    drop(d);
}

/// Terminates the node's database connections; the node stays up.
struct Terminate<'a> {
    schema: &'a pg::Schema,
    terminated: u64,
}

impl Disruptor for Terminate<'_> {
    fn victim(&self) -> usize {
        0
    }
    fn disrupt(&mut self, _: usize) {
        self.terminated += terminate(self.schema);
    }
    fn recover(&mut self, _: usize) {}
}

#[test]
fn torture_postgres_connections_terminated() {
    if skipped_on_this_leg("torture_postgres_connections_terminated") {
        return;
    }
    let schema = pg::Schema::new();
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut n = node(port, data.path(), &base, Some(store_url(&schema)));
    n.start();
    let s = Arc::new(Shared::new(vec![base.clone()], base));
    let mut d = Terminate {
        schema: &schema,
        terminated: 0,
    };
    let kills = kills();
    torture("PostgreSQL (connections terminated)", s, &mut d, kills);
    println!("  {} database connections terminated", d.terminated);
    assert!(
        d.terminated >= kills as u64,
        "the node's connections were not found"
    );
    drop(n);
}
