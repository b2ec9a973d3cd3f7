//! Outbound calls (issue #15): result callbacks over TLS to a host trusted
//! through `[verifier] ca_file`, `callback_url` targets refused at creation,
//! and a dead status-list host asked once per negative-cache window.
//! Counterparts run on 127.0.0.1 with `[verifier] allow_loopback`.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use openssl::pkey::{PKey, Private};
use openssl::ssl::{SslAcceptor, SslMethod};
use openssl::x509::X509;
use serde_json::{Value, json};

use digital_id::crypto::jws::Jws;
use digital_id::verifier::fetch::{Fetch, FetchError, HttpFetcher};
use digital_id::verifier::outbound::{Outbound, TargetPolicy};
use digital_id::verifier::status::NEGATIVE_TTL;

use crate::certs::{certificate, key};
use crate::fixture::{InProc, T0, agent};
use crate::verifier::{
    answer, credential_with, holder_qr, passport_for, present, scan, start, wallet_key,
};

/// A test CA and a leaf for `localhost` / 127.0.0.1 signed by it.
struct Pki {
    ca_pem: Vec<u8>,
    leaf: X509,
    leaf_key: PKey<Private>,
}

impl Pki {
    fn new() -> Self {
        let ca_key = key();
        let ca = certificate("digital-id test CA", &ca_key, None);
        let leaf_key = key();
        let leaf = certificate("localhost", &leaf_key, Some((&ca, &ca_key)));
        Pki {
            ca_pem: ca.to_pem().unwrap(),
            leaf,
            leaf_key,
        }
    }

    fn acceptor(&self) -> Arc<SslAcceptor> {
        let mut a = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls()).unwrap();
        a.set_private_key(&self.leaf_key).unwrap();
        a.set_certificate(&self.leaf).unwrap();
        Arc::new(a.build())
    }
}

/// A server on 127.0.0.1 (TLS when given an acceptor) that answers every
/// request with `response`, counts connections, and hands each request
/// (head and body) to the test.
struct Peer {
    port: u16,
    connections: Arc<AtomicUsize>,
    requests: mpsc::Receiver<Vec<u8>>,
}

impl Peer {
    fn start(tls: Option<Arc<SslAcceptor>>, response: &'static [u8]) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections = Arc::new(AtomicUsize::new(0));
        let (tx, requests) = mpsc::channel();
        let count = connections.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                count.fetch_add(1, Ordering::SeqCst);
                stream
                    .set_read_timeout(Some(Duration::from_secs(10)))
                    .unwrap();
                let request = match &tls {
                    Some(acceptor) => match acceptor.accept(stream) {
                        Ok(mut s) => exchange(&mut s, response),
                        // A failed handshake: nothing to hand over.
                        Err(_) => continue,
                    },
                    None => exchange(&mut { stream }, response),
                };
                if tx.send(request).is_err() {
                    return;
                }
            }
        });
        Peer {
            port,
            connections,
            requests,
        }
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

/// Reads one HTTP/1.1 request, answers it, returns it.
fn exchange<S: Read + Write>(s: &mut S, response: &[u8]) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return buf,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map_or(0, |v| v.trim().parse().unwrap());
    while buf.len() < head_end + len {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let _ = s.write_all(response);
    let _ = s.flush();
    buf
}

const NO_CONTENT: &[u8] = b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n";
const UNAVAILABLE: &[u8] =
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

#[test]
fn https_callback_is_delivered_to_a_host_the_ca_file_vouches_for() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("test-ca.pem");
    std::fs::write(&ca_file, &pki.ca_pem).unwrap();
    let peer = Peer::start(Some(pki.acceptor()), NO_CONTENT);
    let server = InProc::start_with(|s| {
        s.verifier.allow_loopback = true;
        s.verifier.ca_file = Some(ca_file.clone());
    });
    let holder = wallet_key();
    let cred = passport_for(&server, &holder);
    let url = format!("https://localhost:{}/cb", peer.port);
    let (id, ro) = start(
        &server,
        json!({"preset": "age_over_18", "callback_url": url}),
    );
    let p = present(&cred, &[&["age_equal_or_over", "18"]], &holder, &ro, T0);
    assert_eq!(answer(&ro, json!({"credential": [p]})).0, 200);
    let request = peer
        .requests
        .recv_timeout(Duration::from_secs(20))
        .expect("the callback arrives over TLS");
    let text = String::from_utf8(request).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("POST /cb HTTP/1.1"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains(&format!("host: localhost:{}", peer.port)),
        "{head}"
    );
    let jws = Jws::decode(body).unwrap();
    jws.verify(server.state.verifier.keys.signing.public())
        .unwrap();
    let claims = jws.payload_json().unwrap();
    assert_eq!(claims["transaction_id"], id.as_str());
    assert_eq!(claims["result"]["status"], "verified");
    assert_eq!(peer.connections(), 1, "POSTed once");
}

#[test]
fn fetcher_reaches_a_tls_host_the_ca_file_vouches_for_and_no_other() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("test-ca.pem");
    std::fs::write(&ca_file, &pki.ca_pem).unwrap();
    let peer = Peer::start(
        Some(pki.acceptor()),
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
    );
    let dev = TargetPolicy {
        allow_loopback: true,
    };
    let url = format!("https://localhost:{}/.well-known/jwt-vc-issuer", peer.port);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let trusted = HttpFetcher::new(
        "https://id.example.ru",
        &Outbound::new(dev).with_ca_file(&ca_file).unwrap(),
    );
    assert_eq!(
        rt.block_on(trusted.get(url.clone(), "application/json", 1024)),
        Ok(b"{}".to_vec())
    );
    // Without the CA file the same host is not trusted.
    let bundled = HttpFetcher::new("https://id.example.ru", &Outbound::new(dev));
    assert_eq!(
        rt.block_on(bundled.get(url, "application/json", 1024)),
        Err(FetchError::Transport)
    );
}

/// `POST /verifier/requests` with this `callback_url`: (status, body).
fn create_with_callback(server: &InProc, url: &str) -> (u16, Value) {
    let mut resp = agent()
        .post(&server.url("/verifier/requests"))
        .header("Authorization", &server.bearer())
        .send_json(json!({"preset": "age_over_18", "callback_url": url}))
        .unwrap();
    let code = resp.status().as_u16();
    (code, resp.body_mut().read_json().unwrap())
}

#[test]
fn callback_url_to_a_private_or_local_target_is_refused_at_creation() {
    let server = InProc::start();
    for (url, rule) in [
        ("http://rp.example.ru/cb", "must be an https URL"),
        ("http://127.0.0.1:9000/cb", "must be an https URL"),
        ("https://user:secret@rp.example.ru/cb", "user information"),
        ("https://127.0.0.1/cb", "loopback"),
        ("https://localhost:8443/cb", "loopback"),
        ("https://[::1]/cb", "loopback"),
        ("https://[::ffff:7f00:1]/cb", "loopback"),
        ("https://2130706433/cb", "loopback"),
        ("https://10.0.0.5/cb", "private"),
        ("https://172.16.0.1/cb", "private"),
        ("https://192.168.1.10/cb", "private"),
        ("https://169.254.169.254/latest/meta-data", "link-local"),
        ("https://[fe80::1]/cb", "link-local"),
        ("https://100.64.0.1/cb", "shared address space"),
        ("https://[fd12::1]/cb", "unique local"),
        ("https://[64:ff9b::a9fe:a9fe]/cb", "NAT64"),
        ("https://0.0.0.0/cb", "unspecified"),
    ] {
        let (code, body) = create_with_callback(&server, url);
        assert_eq!(code, 400, "{url}: {body}");
        assert_eq!(body["error"], "invalid_request", "{url}");
        let d = body["error_description"].as_str().unwrap();
        assert!(
            d.starts_with("callback_url: ") && d.contains(rule),
            "{url}: {d:?} should name {rule:?}"
        );
    }
    let long = format!("https://rp.example.ru/{}", "a".repeat(2048));
    assert_eq!(create_with_callback(&server, &long).0, 400);
    // A public name passes; its addresses are checked at delivery.
    assert_eq!(
        create_with_callback(&server, "https://rp.example.ru/cb?t=1").0,
        200
    );
}

#[test]
fn a_dead_status_list_host_is_asked_once_per_negative_window() {
    let peer = Peer::start(None, UNAVAILABLE);
    let server = InProc::start_with(|s| s.verifier.allow_loopback = true);
    let holder = wallet_key();
    let uri = format!("http://127.0.0.1:{}/status-lists/1", peer.port);
    let cred = credential_with(
        &server,
        "ivanov-ivan",
        "ru.passport",
        &holder,
        None,
        |claims| {
            claims.insert(
                "status".into(),
                json!({"status_list": {"idx": 0, "uri": uri}}),
            );
        },
    );
    let scan_once = || {
        let qr = holder_qr(&server, &cred, &holder, &[&["age_equal_or_over", "18"]]);
        let result = scan(&server, &qr, "age_over_18");
        // Fail closed: no status, no claims.
        assert_eq!(result["status"], "failed", "{result}");
        assert!(result.get("claims").is_none());
        let d = result["error"]["description"].as_str().unwrap().to_owned();
        assert!(d.contains("status list could not be fetched"), "{d}");
    };
    scan_once();
    assert_eq!(peer.connections(), 1);
    scan_once();
    assert_eq!(
        peer.connections(),
        1,
        "the second presentation waits for nobody"
    );
    server.clock.advance(NEGATIVE_TTL);
    scan_once();
    assert_eq!(peer.connections(), 2, "asked again after the window");
}
