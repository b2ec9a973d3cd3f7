//! Rate limits and metrics against a real listening server: the limiter
//! follows the route, not the spelling of the path; forwarding headers
//! count only from trusted proxies; `/metrics` stays bounded.

use std::io::{Read, Write};
use std::net::TcpStream;

use digital_id::http::limits::LIMITED;

use crate::fixture::{InProc, agent};

/// Sends one raw HTTP/1.1 request (so the method and the path go out
/// byte for byte) and returns the status code.
fn raw(server: &InProc, method: &str, path: &str, headers: &[(&str, &str)]) -> u16 {
    let addr = server.base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n"
    );
    for (name, value) in headers {
        req.push_str(&format!("{name}: {value}\r\n"));
    }
    req.push_str("\r\n");
    stream.write_all(req.as_bytes()).unwrap();
    let mut resp = String::new();
    stream.read_to_string(&mut resp).unwrap();
    let status = resp.split(' ').nth(1).unwrap_or_default();
    status
        .parse()
        .unwrap_or_else(|_| panic!("no status line: {resp:?}"))
}

/// `path` with its `i`-th letter percent-encoded (upper- or lower-case hex).
fn encoded(path: &str, i: usize) -> String {
    let letters: Vec<usize> = path
        .char_indices()
        .filter(|(_, c)| c.is_ascii_alphabetic())
        .map(|(at, _)| at)
        .collect();
    let at = letters[i % letters.len()];
    let byte = path.as_bytes()[at];
    let hex = if i % 2 == 0 {
        format!("%{byte:02X}")
    } else {
        format!("%{byte:02x}")
    };
    format!("{}{hex}{}", &path[..at], &path[at + 1..])
}

fn small_limits(s: &mut digital_id::config::Settings) {
    s.limits.per_client_rate = 1.0;
    s.limits.per_client_burst = 3.0;
    s.limits.global_rate = 10_000.0;
    s.limits.global_burst = 10_000.0;
}

#[test]
fn percent_encoded_paths_are_limited_like_the_route() {
    let server = InProc::start_with(small_limits);
    for (method, path) in LIMITED {
        let statuses: Vec<u16> = (0..6)
            .map(|i| raw(&server, method, &encoded(path, i), &[]))
            .collect();
        assert!(
            statuses[..3].iter().all(|s| ![404, 405, 429].contains(s)),
            "{method} {path}: the encoded path reaches the route: {statuses:?}"
        );
        assert_eq!(
            statuses[3..],
            [429, 429, 429],
            "{method} {path}: a burst of 3 then 429, however the path is spelled"
        );
        // Refill the bucket for the next route.
        server.clock.advance(10);
    }
    // The 429s are counted under the route pattern, never the raw path.
    let metrics = agent()
        .get(&server.url("/metrics"))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    assert!(
        metrics.contains(
            "digital_id_http_requests_total{method=\"POST\",route=\"/nonce\",status=\"429\"} 3"
        ),
        "{metrics}"
    );
    assert!(!metrics.contains('%'), "{metrics}");
}

#[test]
fn a_flood_of_made_up_methods_and_paths_keeps_metrics_bounded() {
    let server = InProc::start();
    for i in 0..200 {
        let status = raw(&server, &format!("FOO{i}"), &format!("/no-such-{i}"), &[]);
        assert_eq!(status, 404);
    }
    let metrics = agent()
        .get(&server.url("/metrics"))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    let series: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("digital_id_http_requests_total{"))
        .collect();
    assert!(
        series.contains(
            &"digital_id_http_requests_total{method=\"other\",route=\"unmatched\",status=\"404\"} 200"
        ),
        "{metrics}"
    );
    assert!(series.len() <= 2, "{series:#?}");
    assert!(!metrics.contains("FOO") && !metrics.contains("no-such"));
}

#[test]
fn forwarded_for_from_an_untrusted_peer_is_ignored() {
    let server = InProc::start_with(small_limits);
    let statuses: Vec<u16> = (0..5)
        .map(|i| {
            let spoofed = format!("203.0.113.{i}");
            raw(&server, "POST", "/nonce", &[("X-Forwarded-For", &spoofed)])
        })
        .collect();
    assert_eq!(statuses, [200, 200, 200, 429, 429]);
}

#[test]
fn a_trusted_proxy_names_the_client() {
    let server = InProc::start_with(|s| {
        small_limits(s);
        s.limits.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()];
    });
    let nonce = |xff: &str| raw(&server, "POST", "/nonce", &[("X-Forwarded-For", xff)]);
    // Each forwarded client has its own bucket; the left part of the header
    // is the client's own writing and does not matter.
    let a: Vec<u16> = [
        "203.0.113.1",
        "198.51.100.7, 203.0.113.1",
        "203.0.113.1",
        "203.0.113.1",
    ]
    .iter()
    .map(|x| nonce(x))
    .collect();
    assert_eq!(a, [200, 200, 200, 429]);
    assert_eq!(nonce("203.0.113.2"), 200, "another client");
    // An IPv6 client is its /64.
    let v6: Vec<u16> = [
        "2001:db8:1:2::1",
        "2001:db8:1:2::2",
        "2001:db8:1:2:aaaa:bbbb:cccc:dddd",
        "2001:db8:1:2:ffff::9",
    ]
    .iter()
    .map(|x| nonce(x))
    .collect();
    assert_eq!(v6, [200, 200, 200, 429]);
    assert_eq!(nonce("2001:db8:1:3::1"), 200, "the next /64");
    // A malformed header counts against the proxy itself.
    let bad: Vec<u16> = [
        "unknown",
        "for=203.0.113.9",
        "203.0.113.9 203.0.113.8",
        "garbage",
    ]
    .iter()
    .map(|x| nonce(x))
    .collect();
    assert_eq!(bad, [200, 200, 200, 429]);
    assert_eq!(
        raw(&server, "POST", "/nonce", &[]),
        429,
        "no header: the proxy"
    );
    assert_eq!(nonce("203.0.113.3"), 200);
}
