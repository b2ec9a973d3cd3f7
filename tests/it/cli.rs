//! `digital-id keys show` and `digital-id sd-jwt decode|verify` as an
//! integrator runs them.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use digital_id::crypto::{Algorithm, SigningKey, jwk::Jwks};
use digital_id::sdjwt::{self, ClaimPath, HolderCredential, IssueOptions, KeyBinding, RandomSalts};
use serde_json::{Map, Value, json};

use crate::fixture::BIN;

fn run(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stdin.take().unwrap();
    if let Some(s) = stdin {
        pipe.write_all(s.as_bytes()).unwrap();
    }
    drop(pipe);
    child.wait_with_output().unwrap()
}

struct Credential {
    issuer: SigningKey,
    presentation: String,
    jwks_file: tempfile::NamedTempFile,
}

fn credential(now: i64) -> Credential {
    let issuer = SigningKey::generate(Algorithm::Es256).unwrap();
    let holder = SigningKey::generate(Algorithm::Es256).unwrap();
    let mut claims: Map<String, Value> = json!({
        "iss": "https://issuer.example",
        "vct": "urn:ru:digital-id:passport:1",
        "iat": now,
        "exp": now + 3600,
        "cnf": {"jwk": Value::Object(holder.public().jwk().clone())},
        "family_name": "Иванова",
        "birthdate": "1990-03-14",
    })
    .as_object()
    .unwrap()
    .clone();
    claims.insert("given_name".into(), json!("Мария"));
    let sd: Vec<ClaimPath> = ["family_name", "given_name", "birthdate"]
        .iter()
        .map(|n| ClaimPath::keys([*n]))
        .collect();
    let issued = sdjwt::issue(
        &issuer,
        claims,
        &sd,
        &IssueOptions::default(),
        &mut RandomSalts,
    )
    .unwrap();
    let kb = KeyBinding {
        holder: &holder,
        aud: "aud-1",
        nonce: "nonce-1",
        iat: now,
    };
    let presentation = HolderCredential::parse(&issued.compact)
        .unwrap()
        .present(&[ClaimPath::keys(["given_name"])], Some(&kb))
        .unwrap();
    let mut jwks_file = tempfile::NamedTempFile::new().unwrap();
    let jwks = json!({"keys": [issuer.public().jwk_for_publication()]});
    jwks_file.write_all(jwks.to_string().as_bytes()).unwrap();
    Credential {
        issuer,
        presentation,
        jwks_file,
    }
}

/// The demo registry ships inside the binary: `registry check` without a
/// path and `serve` both work from a directory holding nothing but the binary.
#[test]
fn the_binary_runs_from_an_empty_directory() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("digital-id");
    std::fs::copy(BIN, &bin).unwrap();

    let check = Command::new(&bin)
        .args(["registry", "check", "--today", "2026-11-25"])
        .current_dir(dir.path())
        .env_remove("VC_REGISTRY")
        .output()
        .unwrap();
    let from_repo = run(
        &[
            "registry",
            "check",
            concat!(env!("CARGO_MANIFEST_DIR"), "/examples/registry"),
            "--today",
            "2026-11-25",
        ],
        None,
    );
    assert_eq!(check.status.code(), Some(1), "the seed has broken records");
    assert_eq!(
        String::from_utf8(check.stdout).unwrap(),
        String::from_utf8(from_repo.stdout).unwrap(),
        "the embedded registry is examples/registry"
    );

    let mut cmd = Command::new(&bin);
    cmd.args([
        "serve",
        "--demo",
        "--bind",
        "127.0.0.1:0",
        "--api-key",
        crate::fixture::API_KEY,
    ])
    .current_dir(dir.path())
    .env_remove("VC_REGISTRY")
    .env_remove("VC_DATA_DIR");
    let server = crate::fixture::Server::spawn(cmd);
    let subjects: Vec<Value> = crate::fixture::agent()
        .get(&server.url("/issuer/subjects"))
        .header(
            "Authorization",
            &format!("Bearer {}", crate::fixture::API_KEY),
        )
        .call()
        .unwrap()
        .body_mut()
        .read_json()
        .unwrap();
    assert_eq!(subjects.len(), 27);
    assert_eq!(
        crate::issuer::crash::issue(&server, 1).len(),
        1,
        "a passport is issued"
    );
    assert!(
        dir.path().join("data/store.redb").exists(),
        "data in ./data"
    );
    let mut page = crate::fixture::agent()
        .get(&server.url("/demo/verifier"))
        .call()
        .unwrap();
    assert_eq!(page.status(), 200, "the demo page renders");
    let html = page.body_mut().read_to_string().unwrap();
    assert!(html.contains("/demo/verifier/requests"), "{html}");
    assert!(
        dir.path().join("data/keys/verifier-ca.pem").exists(),
        "the demo CA is made in demo mode"
    );
}

#[test]
fn keys_show_prints_public_jwks_and_dids_only() {
    let data = tempfile::tempdir().unwrap();
    let out = run(
        &["keys", "show", "--data-dir", data.path().to_str().unwrap()],
        None,
    );
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.contains("\"d\""), "private key material printed");
    Jwks::from_json(&v["issuer"]["jwks"]).unwrap();
    let keys = v["issuer"]["keys"].as_array().unwrap();
    assert!(
        keys.iter()
            .any(|k| k["did"].as_str().unwrap().starts_with("did:key:zDn"))
    );
    assert!(
        keys.iter()
            .any(|k| k["did"].as_str().unwrap().starts_with("did:key:z6Mk"))
    );
    // The same data directory shows the same keys again.
    let again = run(
        &["keys", "show", "--data-dir", data.path().to_str().unwrap()],
        None,
    );
    assert_eq!(serde_json::from_slice::<Value>(&again.stdout).unwrap(), v);
}

#[test]
fn decode_shows_each_disclosure_and_its_claim() {
    let c = credential(digital_id::cli::unix_now());
    let out = run(&["sd-jwt", "decode", "-"], Some(&c.presentation));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["header"]["typ"], "dc+sd-jwt");
    assert_eq!(v["claims"]["given_name"], "Мария");
    assert_eq!(v["disclosures"][0]["claim"], json!(["given_name"]));
    assert_eq!(v["key_binding"]["payload"]["nonce"], "nonce-1");
    assert!(v["payload"]["_sd"].is_array());
    let _ = c.issuer;
}

#[test]
fn verify_exit_codes_and_failed_rule() {
    let now = digital_id::cli::unix_now();
    let c = credential(now);
    let jwks = c.jwks_file.path().to_str().unwrap();
    let ok = run(
        &[
            "sd-jwt",
            "verify",
            &c.presentation,
            "--jwks",
            jwks,
            "--aud",
            "aud-1",
            "--nonce",
            "nonce-1",
            "--require-kb",
        ],
        None,
    );
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let claims: Value = serde_json::from_slice(&ok.stdout).unwrap();
    assert_eq!(claims["given_name"], "Мария");
    assert!(claims.get("family_name").is_none());

    let bad_nonce = run(
        &["sd-jwt", "verify", "-", "--jwks", jwks, "--nonce", "other"],
        Some(&c.presentation),
    );
    assert_eq!(bad_nonce.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad_nonce.stderr).contains("nonce"));

    let stale = run(
        &[
            "sd-jwt",
            "verify",
            &c.presentation,
            "--jwks",
            jwks,
            "--now",
            &(now + 120).to_string(),
        ],
        None,
    );
    assert_eq!(stale.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&stale.stderr).contains("too old"));

    let no_kb = c.presentation[..=c.presentation.rfind('~').unwrap()].to_owned();
    let missing = run(
        &["sd-jwt", "verify", &no_kb, "--jwks", jwks, "--require-kb"],
        None,
    );
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no KB-JWT"));
}

/// SD-JWT VC §3.2.2.2: a holder key carried by a disclosure inside a plain
/// `cnf` is refused, and the refusal names the claim path.
#[test]
fn verify_refuses_a_disclosed_sub_claim_of_cnf() {
    let now = digital_id::cli::unix_now();
    let c = credential(now);
    let holder = SigningKey::generate(Algorithm::Es256).unwrap();
    let d = sdjwt::Disclosure::property(
        "c2FsdC1mb3ItY25mLWp3aw".into(),
        "jwk",
        Value::Object(holder.public().jwk().clone()),
    );
    let payload = json!({
        "iss": "https://issuer.example",
        "vct": "urn:ru:digital-id:passport:1",
        "iat": now,
        "exp": now + 3600,
        "cnf": {"_sd": [d.digest()]},
        "_sd_alg": "sha-256",
    });
    let mut header = Map::new();
    header.insert("typ".into(), json!("dc+sd-jwt"));
    let jwt =
        digital_id::crypto::jws::sign(&c.issuer, &header, &serde_json::to_vec(&payload).unwrap())
            .unwrap();
    let token = format!("{jwt}~{}~", d.encoded());
    let jwks = c.jwks_file.path().to_str().unwrap();
    let out = run(&["sd-jwt", "verify", &token, "--jwks", jwks], None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(r#"["cnf","jwk"]"#), "{stderr}");
    assert!(out.stdout.is_empty());
}

#[test]
fn registry_check_reports_exactly_the_broken_seed_records() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/registry");
    let out = run(&["registry", "check", dir, "--today", "2026-11-25"], None);
    assert_eq!(
        out.status.code(),
        Some(1),
        "broken records must fail the check"
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut failed: Vec<&str> = text.lines().filter(|l| !l.ends_with(": OK")).collect();
    failed.sort();
    let expected = [
        "egorova-tatiana/ru.inn: inn:",
        "fedorov-nikolay/ru.snils: snils:",
        "grigoriev-oleg/ru.passport: series:",
        "lebedev-kirill/ru.passport: issue_date:",
        "morozova-anna/ru.passport: issue_date:",
        "volkov-sergey/ru.driving_licence: expiry_date:",
    ];
    assert_eq!(failed.len(), expected.len(), "{failed:#?}");
    for (line, prefix) in failed.iter().zip(expected) {
        assert!(
            line.starts_with(prefix),
            "{line} should start with {prefix}"
        );
    }
    assert!(text.lines().filter(|l| l.ends_with(": OK")).count() > 100);
    let bad = run(&["registry", "check", "/no/such/dir"], None);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn keys_show_prints_the_verifier_identity_after_the_first_start() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_str().unwrap();
    let before: Value =
        serde_json::from_slice(&run(&["keys", "show", "--data-dir", dir], None).stdout).unwrap();
    assert!(
        before["verifier"].is_null(),
        "nothing is generated for the verifier by `keys show`"
    );
    assert_eq!(
        before["issuer"]["certificates"],
        json!({"chain": null, "source": null, "demo_ca": null}),
        "nor a certificate for the issuer"
    );
    let audience = {
        let server = crate::fixture::Server::start_in(data.path());
        let mut r = crate::fixture::agent()
            .post(&server.url("/presentation-nonces"))
            .send_empty()
            .unwrap();
        let n: Value = r.body_mut().read_json().unwrap();
        n["audience"].as_str().unwrap().to_owned()
    };
    let out = run(&["keys", "show", "--data-dir", dir], None);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["verifier"]["client_id"]["x509_hash"], audience.as_str());
    assert!(
        v["verifier"]["leaf_certificate"]
            .as_str()
            .unwrap()
            .starts_with("-----BEGIN CERTIFICATE-----")
    );
    assert!(
        v["verifier"]["did"]
            .as_str()
            .unwrap()
            .starts_with("did:key:zDn")
    );
    // The issuer's chain (the demo leaf for its ES256 key) and the demo
    // issuer CA.
    let certs = &v["issuer"]["certificates"];
    assert_eq!(certs["source"], "demo_ca");
    let chain = certs["chain"].as_array().unwrap();
    assert_eq!(chain.len(), 1);
    let leaf = openssl::x509::X509::from_pem(chain[0].as_str().unwrap().as_bytes()).unwrap();
    let ca = openssl::x509::X509::from_pem(certs["demo_ca"].as_str().unwrap().as_bytes()).unwrap();
    assert!(leaf.verify(&ca.public_key().unwrap()).unwrap());
    let es256 = digital_id::crypto::PublicKey::from_jwk(&v["issuer"]["jwks"]["keys"][0]).unwrap();
    let leaf_jwk = digital_id::crypto::x509::Anchors::from_certs(vec![ca])
        .unwrap()
        .validate_certs(&[leaf], digital_id::cli::unix_now())
        .unwrap()
        .leaf_key()
        .clone();
    assert_eq!(leaf_jwk, es256);
    assert!(
        !String::from_utf8(out.stdout)
            .unwrap()
            .contains("PRIVATE KEY")
    );
}

/// Starts `serve` with `env` set, returns the stderr lines logged up to
/// "listening" and the demo page's status; stops the process.
fn start_and_probe(env: &[(&str, &str)]) -> (Vec<String>, u16) {
    use std::io::{BufRead, BufReader};
    let data = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(BIN);
    cmd.args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
        .arg(data.path())
        .args(["--api-key", crate::fixture::API_KEY])
        .env("RUST_LOG", "warn")
        .env_remove("VC_DEMO")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut lines = Vec::new();
    let mut base = None;
    for line in BufReader::new(child.stderr.take().unwrap())
        .lines()
        .map_while(Result::ok)
    {
        if let Some(url) = line.strip_prefix("digital-id listening on ") {
            base = Some(url.to_owned());
            break;
        }
        lines.push(line);
    }
    let status = match base {
        Some(base) => crate::fixture::agent()
            .get(&format!("{base}/demo/verifier"))
            .call()
            .unwrap()
            .status()
            .as_u16(),
        None => 0,
    };
    let _ = child.kill();
    let _ = child.wait();
    (lines, status)
}

#[test]
fn vc_demo_turns_demo_mode_on_with_a_warning() {
    let (log, status) = start_and_probe(&[("VC_DEMO", "1")]);
    assert_eq!(status, 200, "{log:?}");
    assert!(
        log.iter()
            .any(|l| l.contains("WARN") && l.contains("demo mode:")),
        "{log:?}"
    );

    let (log, status) = start_and_probe(&[]);
    assert_eq!(status, 404, "{log:?}");
    assert!(!log.iter().any(|l| l.contains("demo mode")), "{log:?}");
}

/// Under `--profile haip` without trusted wallet providers the server
/// starts, and says that every `/par` and `/token` request will be
/// refused.
#[test]
fn haip_without_wallet_providers_starts_with_a_warning_that_par_and_token_refuse_all() {
    // `--demo` for the issuer's certificate chain (a demo CA).
    let (log, status) = start_and_probe(&[("VC_PROFILE", "haip"), ("VC_DEMO", "1")]);
    assert_eq!(status, 200, "started: {log:?}");
    assert!(
        log.iter().any(|l| l.contains("WARN")
            && l.contains("wallet_provider_roots")
            && l.contains("every /par and /token request will be refused")),
        "{log:?}"
    );
    let (log, _) = start_and_probe(&[("VC_DEMO", "1")]);
    assert!(
        !log.iter().any(|l| l.contains("wallet_provider_roots")),
        "{log:?}"
    );
}
