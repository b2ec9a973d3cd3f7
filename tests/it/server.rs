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
