//! Fills a store with a million live entries of each kind a busy deployment
//! keeps, through the server's own store code, so a server started on it
//! afterwards can be measured against an empty one (BENCHMARKS.md "Flat
//! cost at scale"):
//! - issued-credential records with their by-subject index entries, their
//!   status indices taken from the real allocator: `--records` (default
//!   8 × `issuer.status_list_size` = 1 048 576, i.e. 8 full status lists
//!   with their permutations);
//! - spent c_nonce markers (`--c-nonces`, default 1 000 000) and holder-QR
//!   presentation nonces (`--presentation-nonces`, default 1 000 000), in
//!   the server's key formats, live for `--live` seconds (default 3 600: a
//!   real nonce lives minutes, but these must outlive the measurement).
//!
//! ```sh
//! cargo bench --bench fill -- --data-dir DIR [--store postgres://…] [--records N]
//!                              [--c-nonces N] [--presentation-nonces N] [--live SECONDS]
//! cargo bench --bench fill -- --data-dir DIR --churn 3   # file growth under expiry
//! ```
//! Give the server the same `--data-dir` (its keys, and for redb its store
//! file) and the same `--store` afterwards. `--churn K` instead writes K
//! rounds of the nonces that expire at once, each followed by the server's
//! sweep, and prints the redb file size after each round: once expired
//! entries are swept, their pages are reused and the file stops growing.

use std::sync::Arc;
use std::time::Instant;

use digital_id::crypto::{b64url, ordered_token, random_bytes};
use digital_id::http::AppState;
use digital_id::issuer::{ns, records};
use digital_id::registry::{IdentityProofing, SubjectId};
use digital_id::store::{self, TxOp};
use digital_id::verifier::scan::NS_PRESENTATION_NONCE;

struct Options {
    data_dir: std::path::PathBuf,
    store: Option<String>,
    records: Option<usize>,
    c_nonces: usize,
    presentation_nonces: usize,
    live: i64,
    churn: usize,
}

fn parse_args() -> Options {
    let mut o = Options {
        data_dir: "./data".into(),
        store: None,
        records: None,
        c_nonces: 1_000_000,
        presentation_nonces: 1_000_000,
        live: 3_600,
        churn: 0,
    };
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    while let Some(a) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| panic!("{a} needs a value"));
        match a.as_str() {
            "--data-dir" => o.data_dir = value().into(),
            "--store" => o.store = Some(value()),
            "--records" => o.records = Some(value().parse().expect("--records N")),
            "--c-nonces" => o.c_nonces = value().parse().expect("--c-nonces N"),
            "--presentation-nonces" => {
                o.presentation_nonces = value().parse().expect("--presentation-nonces N")
            }
            "--live" => o.live = value().parse().expect("--live SECONDS"),
            "--churn" => o.churn = value().parse().expect("--churn ROUNDS"),
            other => panic!("unknown option {other}"),
        }
    }
    o
}

/// Entries per transaction.
const BATCH: usize = 1_000;
/// Transactions in flight (the stores group concurrent commits).
const IN_FLIGHT: usize = 8;

fn state(o: &Options) -> Arc<AppState> {
    use digital_id::config::{ServeArgs, Settings};
    let args = ServeArgs {
        data_dir: Some(o.data_dir.clone()),
        store: o.store.clone(),
        ..ServeArgs::default()
    };
    let settings = Settings::load(&args).expect("settings");
    let clock = Arc::new(digital_id::clock::SystemClock);
    Arc::new(digital_id::app::build_state(settings, clock, |_| {}).expect("the store opens"))
}

/// Commits `batches` with up to [`IN_FLIGHT`] transactions at a time.
async fn commit_all(state: &Arc<AppState>, what: &str, batches: Vec<Vec<TxOp>>) {
    let started = Instant::now();
    let total = batches.len();
    let mut pending = batches.into_iter();
    let mut done = 0;
    loop {
        let wave: Vec<_> = pending
            .by_ref()
            .take(IN_FLIGHT)
            .map(|ops| {
                let state = state.clone();
                tokio::spawn(async move { state.store.transact(ops).await })
            })
            .collect();
        if wave.is_empty() {
            break;
        }
        for t in wave {
            t.await.unwrap().expect("a fill transaction");
            done += 1;
        }
        if done % 100 == 0 {
            eprint!("\r{what}: {done}/{total} transactions");
        }
    }
    eprintln!(
        "\r{what}: {total} transactions of up to {BATCH} entries in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// Records of `n` credentials of the registry's subjects, with status
/// indices from the server's allocator (which creates the lists and their
/// permutations as they fill).
async fn fill_records(state: &Arc<AppState>, n: usize) {
    let ctx = state.issuer();
    let subjects = ["ivanov-ivan", "petrova-maria", "sidorov-petr"];
    let mut batches = Vec::with_capacity(n.div_ceil(BATCH / 2));
    let mut ops = Vec::with_capacity(BATCH);
    let started = Instant::now();
    for i in 0..n {
        let slot = ctx
            .status
            .next(ctx.store, ctx.now)
            .await
            .expect("status index");
        let rec = records::IssuedCredential {
            id: ordered_token(),
            credential_configuration_id: "ru.passport".into(),
            vct: "urn:ru:gov:passport:1".into(),
            subject_id: SubjectId(subjects[i % subjects.len()].into()),
            holder_key_thumbprint: b64url(random_bytes::<32>()),
            status_list: slot.list,
            status_index: slot.idx,
            iat: ctx.now,
            exp: ctx.now + 365 * 86_400,
            notification_id: ordered_token(),
            identity_proofing: IdentityProofing::Biometric,
            client_wallet_provider: None,
            client_id: None,
            key_attestation: None,
        };
        ops.extend(records::save_ops(&ctx, &rec).expect("record"));
        if ops.len() >= BATCH {
            batches.push(std::mem::take(&mut ops));
        }
    }
    if !ops.is_empty() {
        batches.push(ops);
    }
    eprintln!(
        "records: {n} status indices allocated in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    commit_all(state, "records", batches).await;
}

/// `n` entries of `ns` with random keys of the server's format, expiring
/// at `expires_at`.
fn nonce_batches(
    ns: &'static str,
    n: usize,
    key: fn() -> String,
    expires_at: i64,
    now: i64,
) -> Vec<Vec<TxOp>> {
    (0..n)
        .step_by(BATCH)
        .map(|start| {
            (start..n.min(start + BATCH))
                .map(|_| TxOp::Insert {
                    ns,
                    key: key(),
                    value: Vec::new(),
                    expires_at: Some(expires_at),
                    now,
                })
                .collect()
        })
        .collect()
}

/// A c_nonce's body (its spent marker's key): 8 bytes of expiry and 16
/// random ones, base64url.
fn c_nonce_key() -> String {
    b64url(random_bytes::<24>())
}

fn presentation_nonce_key() -> String {
    b64url(random_bytes::<32>())
}

fn file_size(o: &Options) -> String {
    let size = |name: &str| std::fs::metadata(o.data_dir.join(name)).map_or(0, |m| m.len());
    format!(
        "store.redb {:.1} MiB, store.redb-wal {:.1} MiB",
        size("store.redb") as f64 / 1048576.0,
        size("store.redb-wal") as f64 / 1048576.0
    )
}

fn main() {
    // `cargo test --all-targets` runs bench targets without `--bench`.
    if !std::env::args().any(|a| a == "--bench") {
        eprintln!("fill: run it with `cargo bench --bench fill -- --data-dir DIR`");
        return;
    }
    let o = parse_args();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let state = state(&o);
    rt.block_on(async {
        let now = state.now();
        if o.churn > 0 {
            for round in 1..=o.churn {
                let expires = now + 1;
                let mut batches = nonce_batches(ns::C_NONCE, o.c_nonces, c_nonce_key, expires, now);
                batches.extend(nonce_batches(
                    NS_PRESENTATION_NONCE,
                    o.presentation_nonces,
                    presentation_nonce_key,
                    expires,
                    now,
                ));
                commit_all(&state, "nonces", batches).await;
                let started = Instant::now();
                let swept = store::sweep_expired(&*state.store, expires + 1)
                    .await
                    .expect("sweep");
                eprintln!(
                    "round {round}: swept {swept} in {:.1} s; {}",
                    started.elapsed().as_secs_f64(),
                    file_size(&o)
                );
            }
            return;
        }
        let records = o
            .records
            .unwrap_or(8 * state.settings.issuer.status_list_size);
        fill_records(&state, records).await;
        let live = now + o.live;
        let c = nonce_batches(ns::C_NONCE, o.c_nonces, c_nonce_key, live, now);
        commit_all(&state, "c_nonce markers", c).await;
        let p = nonce_batches(
            NS_PRESENTATION_NONCE,
            o.presentation_nonces,
            presentation_nonce_key,
            live,
            now,
        );
        commit_all(&state, "presentation nonces", p).await;
        match o.store {
            None => eprintln!("filled; {}", file_size(&o)),
            Some(_) => eprintln!("filled"),
        }
    });
}
