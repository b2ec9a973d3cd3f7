//! schemathesis (PyPI, pinned in `tests/schemathesis/requirements.txt`,
//! installed by `scripts/test`) against a real server: every check, a fixed
//! seed, the back-office key for the `backoffice` operations
//! (`tests/schemathesis/schemathesis.toml`, which also lists the few
//! spec-mandated 400s it allows). Any failure — a 5xx, a response off its
//! schema, a schema-valid request refused, a schema-violating one accepted,
//! an undeclared method not answered 405 with `Allow` — fails the test.

use std::path::PathBuf;
use std::process::Command;

use crate::fixture::{API_KEY, InProc};

/// Set to `1` to skip the run where schemathesis cannot be installed.
const SKIP: &str = "DIGITAL_ID_SKIP_SCHEMATHESIS";
/// Test cases per operation and phase (`--max-examples`).
const MAX_EXAMPLES: &str = "50";
/// Fixed, so a failure reproduces.
const SEED: &str = "20251215";

#[test]
fn schemathesis_finds_no_failure_with_every_check() {
    if std::env::var(SKIP).is_ok_and(|v| v == "1") {
        eprintln!("schemathesis run skipped ({SKIP}=1)");
        return;
    }
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/schemathesis"));
    let st = dir.join(".venv/bin/st");
    assert!(
        st.exists(),
        "schemathesis is not installed: run scripts/test (or tests/schemathesis/install.sh), \
         or set {SKIP}=1 to skip this test"
    );
    // The clock of an in-process server stands still, and so would the rate
    // limiter's refill: allow more than the whole run sends.
    let server = InProc::start_with(|s| {
        s.limits.per_client_burst = 1e9;
        s.limits.global_burst = 1e9;
    });
    let work = tempfile::tempdir().unwrap();
    let out = Command::new(&st)
        .current_dir(work.path())
        .env("DIGITAL_ID_API_KEY", API_KEY)
        .arg("--config-file")
        .arg(dir.join("schemathesis.toml"))
        .args(["--no-color", "run"])
        .arg(server.url("/openapi.json"))
        .args(["--checks", "all"])
        .args(["--max-examples", MAX_EXAMPLES])
        .args(["--seed", SEED])
        .args(["--generation-database", "none"])
        .args(["--request-timeout", "30"])
        .output()
        .expect("run schemathesis");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "schemathesis found failures (exit {:?}):\n{stdout}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    // "Test cases: N generated, N passed, …": every case passed, and there were some.
    let counts: Vec<u64> = stdout
        .lines()
        .find(|l| l.contains(" generated, "))
        .unwrap_or_default()
        .split(',')
        .filter_map(|part| part.split_whitespace().next()?.parse().ok())
        .collect();
    assert!(
        matches!(counts.as_slice(), [generated, passed, ..] if generated == passed && *generated > 0),
        "schemathesis did not report a clean run:\n{stdout}"
    );
}
