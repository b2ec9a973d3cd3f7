//! A known path asked with a method it does not have gets `405 Method Not
//! Allowed` with `Allow` and the JSON error body (RFC 9110 §15.5.6); an
//! unknown path stays 404. Swept over every path of the served OpenAPI
//! document, so a new route is covered as soon as it is documented.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;

use serde_json::Value;

use crate::fixture::{InProc, agent};

/// Methods a path may answer beyond its documented ones: CORS preflights
/// and `HEAD`.
const IMPLICIT: &[&str] = &["OPTIONS", "HEAD"];

/// Probes: standard methods and a made-up one (`OPTIONS` is left to CORS).
const PROBES: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "FROBNICATE"];

/// One request over a plain socket (HTTP clients refuse made-up methods):
/// status, `Allow` and the JSON body.
fn call(server: &InProc, method: &str, path: &str) -> (u16, Option<String>, Value) {
    let addr = server.base.trim_start_matches("http://");
    let mut conn = TcpStream::connect(addr).unwrap();
    write!(
        conn,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    conn.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let allow = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("allow"))
        .map(|(_, value)| value.trim().to_owned());
    (
        status,
        allow,
        serde_json::from_str(body).unwrap_or(Value::Null),
    )
}

/// `/verifier/requests/{id}` → `/verifier/requests/x`.
fn concrete(template: &str) -> String {
    template
        .split('/')
        .map(|seg| if seg.starts_with('{') { "x" } else { seg })
        .collect::<Vec<_>>()
        .join("/")
}

#[test]
fn every_documented_path_answers_undeclared_methods_with_405_and_allow() {
    let server = InProc::start();
    let doc: Value = agent()
        .get(&server.url("/openapi.json"))
        .call()
        .unwrap()
        .body_mut()
        .read_json()
        .unwrap();
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() > 30, "the document lists every path");
    let mut probed = 0;
    for (template, item) in paths {
        let declared: BTreeSet<String> = item
            .as_object()
            .unwrap()
            .keys()
            .map(|m| m.to_uppercase())
            .collect();
        let path = concrete(template);
        for method in PROBES.iter().filter(|m| !declared.contains(**m)) {
            let (status, allow, body) = call(&server, method, &path);
            assert_eq!(status, 405, "{method} {path}");
            assert_eq!(body["error"], "method_not_allowed", "{method} {path}");
            assert!(body["error_description"].is_string(), "{method} {path}");
            let allow: BTreeSet<String> = allow
                .unwrap_or_else(|| panic!("{method} {path}: 405 without Allow"))
                .split(',')
                .map(|m| m.trim().to_owned())
                .collect();
            assert!(
                allow.is_superset(&declared),
                "{method} {path}: Allow {allow:?} lacks a documented method of {declared:?}"
            );
            assert!(
                allow
                    .difference(&declared)
                    .all(|m| IMPLICIT.contains(&m.as_str())),
                "{method} {path}: Allow {allow:?} names an undocumented method"
            );
            probed += 1;
        }
    }
    assert!(probed > 100, "only {probed} probes");
}

#[test]
fn unknown_paths_stay_404() {
    let server = InProc::start();
    for (method, path) in [
        ("GET", "/nowhere"),
        ("PATCH", "/nowhere"),
        ("POST", "/verifier/requestsx"),
        ("GET", "/verifier/requests/x/y/z"),
        ("DELETE", "/issuer/credentials/x/destroy"),
        ("FROBNICATE", "/health/x"),
    ] {
        let (status, allow, body) = call(&server, method, path);
        assert_eq!(status, 404, "{method} {path}");
        assert_eq!(allow, None, "{method} {path}");
        assert_eq!(body["error"], "not_found", "{method} {path}");
    }
}
