//! Several nodes on one PostgreSQL schema, as operators scale out: nodes
//! started at the same moment on an empty schema all come up and the
//! schema migrations are applied exactly once; and behind a round-robin
//! proxy, every request of a pre-authorized issuance and of a
//! verification (cross-device and holder-shown QR) alternates between two
//! nodes, single-use values holding across them.

use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};

use digital_id::config::{PublicUrl, StoreSpec};
use digital_id::store::postgres::PostgresStore;
use digital_id::store::postgres::migrate::MIGRATIONS;
use serde_json::{Value, json};

use crate::fixture::{InProc, agent};
use crate::issuer::wallet::{self, ClockNow};
use crate::pg;
use crate::verifier;

/// `(version, name)` of every recorded migration of `schema`.
fn recorded(schema: &pg::Schema) -> Vec<(i32, String)> {
    schema
        .query("SELECT version, name FROM {schema}.digital_id_schema_migrations ORDER BY version")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

fn all_migrations() -> Vec<(i32, String)> {
    MIGRATIONS
        .iter()
        .map(|m| (m.version, m.name.to_owned()))
        .collect()
}

/// Two whole nodes (keys, registry seed, store) released at one barrier
/// right before they open the store.
#[test]
fn two_nodes_starting_together_on_an_empty_schema_both_come_up() {
    let schema = pg::Schema::new();
    let barrier = Arc::new(Barrier::new(2));
    let starting: Vec<_> = (0..2)
        .map(|_| {
            let (url, barrier) = (schema.store_url(), barrier.clone());
            std::thread::spawn(move || {
                InProc::start_with(move |s| {
                    s.store = StoreSpec::Postgres(url);
                    barrier.wait();
                })
            })
        })
        .collect();
    let nodes: Vec<InProc> = starting
        .into_iter()
        .map(|t| t.join().expect("a node did not come up"))
        .collect();
    assert_eq!(recorded(&schema), all_migrations());
    for node in &nodes {
        let offer = wallet::offer(node, "ivanov-ivan", &["ru.passport"], false);
        assert_eq!(wallet::token_for(node, &offer).status, 200);
    }
}

/// The same race, store only, with more contenders and several rounds on
/// fresh schemas (without the advisory lock, `CREATE TABLE` or the version
/// insert of the losers fails).
#[test]
fn stores_racing_on_an_empty_schema_migrate_once() {
    for _ in 0..3 {
        let schema = pg::Schema::new();
        let barrier = Arc::new(Barrier::new(6));
        let racers: Vec<_> = (0..6)
            .map(|_| {
                let (url, barrier) = (schema.store_url(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    PostgresStore::connect(&url, 1).map(drop)
                })
            })
            .collect();
        for r in racers {
            r.join().unwrap().unwrap();
        }
        assert_eq!(recorded(&schema), all_migrations());
    }
}

/// A TCP round-robin proxy: each connection goes to the next node. The
/// tests' HTTP agent opens one connection per request, so requests
/// alternate. Records `(node, request line)` per connection.
struct RoundRobin {
    addr: SocketAddr,
    log: Arc<Mutex<Vec<(usize, String)>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RoundRobin {
    fn start(listener: TcpListener, nodes: Vec<SocketAddr>) -> Self {
        let addr = listener.local_addr().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let next = AtomicUsize::new(0);
        let (log2, stop2) = (log.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            for client in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                let node = next.fetch_add(1, Ordering::SeqCst) % nodes.len();
                let backend = TcpStream::connect(nodes[node]).unwrap();
                let log = log2.clone();
                std::thread::spawn(move || pipe(client, backend, node, &log));
            }
        });
        RoundRobin {
            addr,
            log,
            stop,
            thread: Some(thread),
        }
    }

    fn log(&self) -> Vec<(usize, String)> {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for RoundRobin {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr); // wakes the accept loop
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Copies both ways until each side has closed; logs the request line.
fn pipe(client: TcpStream, backend: TcpStream, node: usize, log: &Mutex<Vec<(usize, String)>>) {
    let mut reader = BufReader::new(client.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    log.lock().unwrap().push((node, line.trim_end().to_owned()));
    let mut to_backend = backend.try_clone().unwrap();
    to_backend.write_all(line.as_bytes()).unwrap();
    let (mut from_backend, mut to_client) = (backend, client);
    let back = std::thread::spawn(move || {
        let _ = std::io::copy(&mut from_backend, &mut to_client);
        let _ = to_client.shutdown(Shutdown::Write);
    });
    // `reader` may hold bytes past the request line: copy through it.
    let _ = std::io::copy(&mut reader, &mut to_backend);
    let _ = to_backend.shutdown(Shutdown::Write);
    let _ = back.join();
}

#[test]
fn issuer_and_verifier_flows_alternate_between_two_nodes() {
    let schema = pg::Schema::new();
    // One deployment: the same keys (data directory) and public URL (the
    // proxy's) on both nodes.
    let shared = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let public = format!("http://{}", listener.local_addr().unwrap());
    let node = || {
        let (url, dir, public) = (schema.store_url(), shared.path().to_owned(), public.clone());
        InProc::start_with(move |s| {
            s.store = StoreSpec::Postgres(url);
            s.data_dir = dir;
            s.public_url = PublicUrl::parse(&public).unwrap();
        })
    };
    let (mut a, mut b) = (node(), node());
    let addr = |n: &InProc| n.base.trim_start_matches("http://").parse().unwrap();
    let proxy = RoundRobin::start(listener, vec![addr(&a), addr(&b)]);
    // Every request of the test goes through the proxy.
    a.base = public.clone();
    b.base = public.clone();
    let front = &a;

    // Pre-authorized issuance: offer, offer by reference, token, nonce,
    // credential, issuer metadata.
    let holder = wallet::key();
    let offer = wallet::offer(front, "ivanov-ivan", &["ru.passport"], true);
    let by_ref = agent()
        .get(offer["credential_offer_uri"].as_str().unwrap())
        .call()
        .unwrap()
        .body_mut()
        .read_json::<Value>()
        .unwrap();
    assert_eq!(by_ref, offer["credential_offer"]);
    let token = wallet::access_token(front, &offer);
    assert_eq!(
        wallet::token_for(front, &offer).error(),
        "invalid_grant",
        "the pre-authorized code was accepted twice"
    );
    let nonce = wallet::nonce(front);
    let body = json!({"credential_configuration_id": "ru.passport",
        "proofs": {"jwt": [wallet::proof(front, &holder, &nonce)]}});
    let r = wallet::credential(front, &token, &body);
    assert_eq!(r.status, 200, "{:?}", r.body);
    let credential = r.body["credentials"][0]["credential"]
        .as_str()
        .unwrap()
        .to_owned();
    wallet::verify(front, &credential);
    // The c_nonce was single-use on both nodes.
    let body = json!({"credential_configuration_id": "ru.passport",
        "proofs": {"jwt": [wallet::proof(front, &holder, &nonce)]}});
    let again = wallet::credential(front, &token, &body);
    assert_eq!(again.status, 400, "{:?}", again.body);

    // Cross-device verification of that credential: request, request
    // object, answer, result.
    let (id, ro) = verifier::start(front, json!({"preset": "age_over_18"}));
    let p = verifier::present(
        &credential,
        &[&["age_equal_or_over", "18"]],
        &holder,
        &ro,
        front.clock_now(),
    );
    let (code, body) = verifier::answer(&ro, json!({"credential": [p.clone()]}));
    assert_eq!(code, 200, "{body}");
    let s = verifier::status(front, &id);
    assert_eq!(s["status"], "verified", "{s}");
    assert_eq!(
        s["claims"],
        json!({"credential": {"age_equal_or_over": {"18": true}}})
    );
    let (code, _) = verifier::answer(&ro, json!({"credential": [p]}));
    assert_eq!(code, 400, "an answered transaction was answered again");
    assert_eq!(verifier::status(front, &id)["status"], "verified");

    // Holder-shown QR: presentation nonce, scan; the replayed QR fails.
    let qr = verifier::holder_qr(front, &credential, &holder, &[&["age_equal_or_over", "18"]]);
    let first = verifier::scan(front, &qr, "age_over_18");
    assert_eq!(first["status"], "verified", "{first}");
    let replay = verifier::scan(front, &qr, "age_over_18");
    assert_eq!(replay["status"], "failed", "{replay}");

    // Every request went through the proxy, the nodes taking turns.
    let log = proxy.log();
    for (i, (node, _)) in log.iter().enumerate() {
        assert_eq!(*node, i % 2, "{log:#?}");
    }
    for path in [
        "POST /issuer/offers",
        "GET /credential-offer/",
        "POST /token",
        "POST /nonce",
        "POST /credential",
        "GET /.well-known/jwt-vc-issuer",
        "POST /verifier/requests",
        "POST /presentation-nonces",
        "POST /verifier/scan",
    ] {
        assert!(
            log.iter().any(|(_, line)| line.starts_with(path)),
            "{path} missing: {log:#?}"
        );
    }
    for node in 0..2 {
        assert!(
            log.iter()
                .filter(|(n, _)| *n == node)
                .any(|(_, l)| l.starts_with("POST /verifier/scan")
                    || l.starts_with("POST /credential ")),
            "node {node} served no issuance or scan: {log:#?}"
        );
    }
}
