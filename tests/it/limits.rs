//! Rate limits and metrics against a real listening server: `/metrics`
//! stays bounded.

use std::io::{Read, Write};
use std::net::TcpStream;

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
