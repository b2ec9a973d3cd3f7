//! In-process issuance: `POST /credential`'s work without HTTP — access
//! token lookup, key proof verification (ES256), c_nonce consumption, record
//! validation, SD-JWT signing, status index allocation and the durable
//! issued-credential record — with many concurrent requests on the redb
//! store, against its crypto bound (one ES256 verify + one ES256 sign per
//! credential, on every core), with the store writer thread's share; then
//! single-request latency.
//!
//! `cargo bench --bench issuance [-- --concurrency 64 --requests 20000 --single 2000]`

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use digital_id::crypto::{Algorithm, SigningKey};
use digital_id::http::AppState;
use digital_id::issuer::credential;
use support::{PassportRequest, passport_request};

fn state() -> (Arc<AppState>, tempfile::TempDir) {
    use digital_id::config::{ServeArgs, Settings};
    let data = tempfile::tempdir().unwrap();
    let args = ServeArgs {
        data_dir: Some(data.path().to_owned()),
        registry: Some(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/registry").into()),
        api_key: Some("bench".into()),
        ..ServeArgs::default()
    };
    let settings = Settings::load(&args).unwrap();
    let clock = Arc::new(digital_id::clock::SystemClock);
    (
        Arc::new(digital_id::app::build_state(settings, clock, |_| {}).unwrap()),
        data,
    )
}

/// `n` grants with their c_nonce and proof, prepared 64 at a time (their
/// writes share commits, as the measured requests' do).
async fn prepare(
    state: &Arc<AppState>,
    holders: &Arc<Vec<SigningKey>>,
    n: usize,
) -> Vec<PassportRequest> {
    let mut out = Vec::with_capacity(n);
    let mut next = 0;
    while next < n {
        let chunk: Vec<_> = (next..n.min(next + 64))
            .map(|i| {
                let (state, holders) = (state.clone(), holders.clone());
                tokio::spawn(
                    async move { passport_request(&state, &holders[i % holders.len()]).await },
                )
            })
            .collect();
        for task in chunk {
            out.push(task.await.unwrap());
        }
        next += 64;
    }
    out
}

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// CPU seconds this process has used (user + system), from /proc.
fn cpu_seconds() -> f64 {
    stat_cpu_seconds(&std::fs::read_to_string("/proc/self/stat").unwrap_or_default())
}

/// CPU seconds the store's writer thread has used.
fn writer_cpu_seconds() -> f64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0.0;
    };
    tasks
        .filter_map(Result::ok)
        .filter(|t| {
            std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim() == "redb-writer")
        })
        .map(|t| {
            stat_cpu_seconds(&std::fs::read_to_string(t.path().join("stat")).unwrap_or_default())
        })
        .sum()
}

/// utime + stime of a `/proc/…/stat` line, in seconds.
fn stat_cpu_seconds(stat: &str) -> f64 {
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields, in clock ticks (USER_HZ, 100 on Linux).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    (f.get(11).copied().unwrap_or(0.0) + f.get(12).copied().unwrap_or(0.0)) / 100.0
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    sorted
        .get(((sorted.len().max(1) - 1) as f64 * p).round() as usize)
        .map_or(0.0, |d| d.as_secs_f64() * 1e3)
}

/// ES256 verify + sign per second with every core busy (cores of a VM do
/// not scale perfectly), measured here: per second of wall time and per
/// second of CPU time.
fn crypto_bound(cores: usize) -> (f64, f64) {
    let n = 5000;
    let t = Instant::now();
    let cpu = cpu_seconds();
    std::thread::scope(|s| {
        for _ in 0..cores {
            s.spawn(move || {
                let key = SigningKey::generate(Algorithm::Es256).unwrap();
                let msg = vec![7u8; 600];
                let sig = key.sign(&msg).unwrap();
                for _ in 0..n {
                    key.public().verify(&msg, &sig).unwrap();
                    std::hint::black_box(key.sign(&msg).unwrap());
                }
            });
        }
    });
    let total = (n * cores) as f64;
    (
        total / t.elapsed().as_secs_f64(),
        total / (cpu_seconds() - cpu),
    )
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        eprintln!("issuance benchmark: run it with `cargo bench --bench issuance`");
        return;
    }
    let concurrency = arg("--concurrency", 64);
    let requests = arg("--requests", 20_000);
    let single = arg("--single", 2000);
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores)
        .enable_all()
        .build()
        .unwrap();
    let (state, _data) = state();
    let holders: Arc<Vec<SigningKey>> = Arc::new(
        (0..64)
            .map(|_| SigningKey::generate(Algorithm::Es256).unwrap())
            .collect(),
    );

    eprintln!("preparing {requests} grants, c_nonces and proofs…");
    let work = Arc::new(rt.block_on(prepare(&state, &holders, requests + single)));
    let queue = Arc::new(Mutex::new((0..requests).collect::<Vec<usize>>()));

    // Many concurrent requests.
    eprintln!("issuing…");
    let t = Instant::now();
    let cpu = cpu_seconds();
    let writer_cpu = writer_cpu_seconds();
    rt.block_on(async {
        let mut tasks = Vec::new();
        for _ in 0..concurrency {
            let (state, queue, work) = (state.clone(), queue.clone(), work.clone());
            tasks.push(tokio::spawn(async move {
                loop {
                    let Some(i) = queue.lock().unwrap().pop() else {
                        break;
                    };
                    let p = &work[i];
                    let ctx = state.issuer();
                    credential::issue(&ctx, credential::Presented::bearer(&p.bearer), &p.body)
                        .await
                        .expect("issuance failed");
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    });
    let elapsed = t.elapsed();
    let cpu_per_credential = (cpu_seconds() - cpu) / requests as f64;
    let writer_per_credential = (writer_cpu_seconds() - writer_cpu) / requests as f64;
    let rate = requests as f64 / elapsed.as_secs_f64();

    // One request at a time.
    let mut latencies = Vec::with_capacity(work.len() - requests);
    rt.block_on(async {
        for p in &work[requests..] {
            let t = Instant::now();
            let ctx = state.issuer();
            credential::issue(&ctx, credential::Presented::bearer(&p.bearer), &p.body)
                .await
                .expect("issuance failed");
            latencies.push(t.elapsed());
        }
    });
    latencies.sort();
    eprintln!("measuring the crypto bound…");
    let (bound, per_cpu_second) = crypto_bound(cores);
    println!("in-process issuance, redb, {cores} cores, concurrency {concurrency}:");
    println!(
        "  {requests} credentials in {:.2} s = {rate:.0} credentials/s",
        elapsed.as_secs_f64()
    );
    println!(
        "  crypto bound (ES256 verify + sign) on {cores} cores = {bound:.0}/s; ratio {:.2}",
        rate / bound
    );
    // The same ratio from CPU time, which other tenants' load on a shared
    // machine does not distort: crypto time over all CPU time per credential.
    println!(
        "  CPU per credential {:.0} µs (crypto {:.0} µs); CPU ratio {:.2}",
        cpu_per_credential * 1e6,
        1e6 / per_cpu_second,
        (1.0 / per_cpu_second) / cpu_per_credential
    );
    println!(
        "  of which the store's writer thread {:.0} µs",
        writer_per_credential * 1e6
    );
    println!(
        "  single request: p50 {:.2} ms, p99 {:.2} ms, mean {:.2} ms",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.iter().map(Duration::as_secs_f64).sum::<f64>() * 1e3
            / latencies.len().max(1) as f64
    );
}
