use serde_json::Value;

use crate::fixture::{InProc, Server, agent};

#[test]
fn health_answers_ok() {
    let server = Server::start();
    let mut resp = agent().get(&server.url("/health")).call().unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.body_mut().read_json().unwrap();
    assert_eq!(body["status"], "ok");
}

#[test]
fn unknown_path_is_404() {
    let server = Server::start();
    let resp = agent().get(&server.url("/no-such-thing")).call().unwrap();
    assert_eq!(resp.status(), 404);
}

#[test]
fn keys_survive_a_restart() {
    use std::os::unix::fs::PermissionsExt;
    let data = tempfile::tempdir().unwrap();
    let first = std::fs::read_to_string({
        let _s = Server::start_in(data.path());
        data.path().join("keys/issuer-es256.jwk")
    })
    .unwrap();
    let _again = Server::start_in(data.path());
    let second = std::fs::read_to_string(data.path().join("keys/issuer-es256.jwk")).unwrap();
    assert_eq!(
        first, second,
        "a restart must reuse the key, not replace it"
    );
    let mode = std::fs::metadata(data.path().join("keys/issuer-es256.jwk"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn in_process_server_answers_json_errors() {
    let server = InProc::start();
    let mut resp = agent().get(&server.url("/nope")).call().unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(resp.headers().get("cache-control").unwrap(), "no-store");
    let body: Value = resp.body_mut().read_json().unwrap();
    assert_eq!(body["error"], "not_found");
    assert!(body["error_description"].is_string());
}

#[test]
fn openapi_and_docs_are_served_without_external_assets() {
    let server = InProc::start();
    let mut resp = agent().get(&server.url("/openapi.json")).call().unwrap();
    assert_eq!(resp.status(), 200);
    let served: Value = resp.body_mut().read_json().unwrap();
    let committed: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json"))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(served, committed);
    let mut page = agent().get(&server.url("/docs/")).call().unwrap();
    assert_eq!(page.status(), 200);
    let html = page.body_mut().read_to_string().unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    assert!(
        !html.contains("cdn") && !html.contains("unpkg"),
        "the docs page must not load assets from a CDN"
    );
    let js = agent()
        .get(&server.url("/docs/swagger-ui-bundle.js"))
        .call()
        .unwrap();
    assert_eq!(js.status(), 200, "Swagger UI assets ship with the binary");
}

#[test]
fn metrics_count_requests_by_route() {
    let server = InProc::start();
    for _ in 0..3 {
        agent().get(&server.url("/health")).call().unwrap();
    }
    let mut resp = agent().get(&server.url("/metrics")).call().unwrap();
    assert_eq!(resp.status(), 200);
    let text = resp.body_mut().read_to_string().unwrap();
    assert!(
        text.contains(
            "digital_id_http_requests_total{method=\"GET\",route=\"/health\",status=\"200\"} 3"
        ),
        "{text}"
    );
    assert!(text.contains("# TYPE digital_id_http_request_duration_seconds histogram"));
}

#[test]
fn state_creating_endpoints_are_rate_limited_per_client() {
    let server = InProc::start_with(|s| {
        s.limits.per_client_rate = 0.001;
        s.limits.per_client_burst = 3.0;
    });
    let statuses: Vec<u16> = (0..5)
        .map(|_| {
            agent()
                .post(&server.url("/nonce"))
                .send_empty()
                .unwrap()
                .status()
                .as_u16()
        })
        .collect();
    assert_eq!(statuses, vec![200, 200, 200, 429, 429]);
    let mut resp = agent().post(&server.url("/nonce")).send_empty().unwrap();
    assert_eq!(resp.headers().get("retry-after").unwrap(), "1");
    let body: Value = resp.body_mut().read_json().unwrap();
    assert_eq!(body["error"], "rate_limited");
    // Other endpoints are not limited.
    assert_eq!(
        agent().get(&server.url("/health")).call().unwrap().status(),
        200
    );
}

#[test]
fn every_response_carries_a_request_id() {
    let server = InProc::start();
    let resp = agent().get(&server.url("/health")).call().unwrap();
    let id = resp
        .headers()
        .get("x-request-id")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(id.len() >= 8);
    let echoed = agent()
        .get(&server.url("/health"))
        .header("X-Request-Id", "trace-42")
        .call()
        .unwrap();
    assert_eq!(echoed.headers().get("x-request-id").unwrap(), "trace-42");
    let junk = agent()
        .get(&server.url("/health"))
        .header("X-Request-Id", "a b\"c")
        .call()
        .unwrap();
    assert_ne!(junk.headers().get("x-request-id").unwrap(), "a b\"c");
}

/// A POST whose small body arrives after its head (a client writing head
/// and body separately, or a slow network) leaves the keep-alive connection
/// usable for the next request, also on endpoints that ignore their body:
/// one left unread made the server close the connection after answering,
/// and the client's next request on it failed.
#[test]
fn a_late_body_leaves_the_connection_usable() {
    use std::io::Write;
    let server = InProc::start();
    let bearer = server.bearer();
    let host = server.url("").trim_start_matches("http://").to_owned();
    for (path, auth) in [
        ("/nonce", None),
        ("/presentation-nonces", None),
        ("/issuer/credentials/no-such-id/revoke", Some(&bearer)),
    ] {
        let mut conn = std::net::TcpStream::connect(&host).unwrap();
        conn.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        let auth = auth.map_or(String::new(), |b| format!("Authorization: {b}\r\n"));
        write!(
            conn,
            "POST {path} HTTP/1.1\r\nHost: {host}\r\n{auth}Content-Type: application/json\r\nContent-Length: 2\r\n\r\n"
        )
        .unwrap();
        conn.flush().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(300));
        conn.write_all(b"{}").unwrap();
        let first = read_response(&mut conn);
        assert!(first.starts_with("HTTP/1.1 "), "{path}: {first}");
        // Fails (broken pipe) when the server has closed the connection.
        let sent = write!(conn, "GET /health HTTP/1.1\r\nHost: {host}\r\n\r\n").is_ok();
        let second = read_response(&mut conn);
        assert!(
            sent && second.starts_with("HTTP/1.1 200"),
            "{path}: the next request on the connection got {second:?}"
        );
    }
}

/// One response (head and a `content-length` body); empty when the
/// server closed the connection.
fn read_response(conn: &mut std::net::TcpStream) -> String {
    use std::io::Read;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&buf).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length: ")
                        .map(|v| v.trim().parse::<usize>().unwrap())
                })
                .unwrap_or(0);
            if buf.len() >= end + 4 + length {
                return text;
            }
        }
        match conn.read(&mut chunk) {
            Ok(0) | Err(_) => return String::from_utf8_lossy(&buf).into_owned(),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// A body those endpoints ignore is still bounded: one over the payload
/// limit is `invalid_request` as JSON, like the other extractors' refusals.
#[test]
fn an_ignored_body_over_the_limit_is_invalid_request() {
    use std::io::Write;
    let server = InProc::start();
    let host = server.url("").trim_start_matches("http://").to_owned();
    let big = vec![b'a'; digital_id::http::MAX_FORM_BODY + 1];
    for path in ["/nonce", "/presentation-nonces"] {
        // Raw, so that the server answering (and closing) before the whole
        // body is written is not a client error: the answer is read anyway.
        let mut conn = std::net::TcpStream::connect(&host).unwrap();
        conn.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
            big.len()
        );
        let _ = conn
            .write_all(head.as_bytes())
            .and_then(|_| conn.write_all(&big));
        let resp = read_response(&mut conn);
        assert!(resp.starts_with("HTTP/1.1 400"), "{path}: {resp:?}");
        let body: Value = serde_json::from_str(&resp[resp.find("\r\n\r\n").unwrap() + 4..])
            .unwrap_or_else(|e| panic!("{path}: {e}: {resp:?}"));
        assert_eq!(body["error"], "invalid_request", "{path}");
    }
}
