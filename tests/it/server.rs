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
