//! In-process presentation verification as the verifier does it for a
//! `direct_post` answer or a holder-QR scan: issuer trust, issuer signature,
//! RFC 9901 processing, KB-JWT, expiry, the Token Status List check (the
//! list fetched once from the running server over HTTP, then cached for its
//! `ttl`) and DCQL selection — against the crypto bound (raw ES256 verify ÷ 2:
//! issuer signature + KB-JWT) and the peers of `benches/peers/`.
//!
//! Rates are reported per second of wall time and per second of this
//! thread's CPU time: on a shared machine the second is what the code costs,
//! and the ratio to the bound is taken from it.
//!
//! `cargo bench --bench verification [-- --seconds 5 --rounds 10]`

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use digital_id::crypto::{Algorithm, SigningKey};
use digital_id::http::AppState;
use digital_id::issuer::credential;
use digital_id::sdjwt::{ClaimPath, HolderCredential, KeyBinding};
use digital_id::verifier::presentation::Binding;
use digital_id::verifier::presets::Preset;
use support::passport_request;

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// CPU time this thread has run, in seconds (`/proc/thread-self/schedstat`,
/// nanoseconds; 0 where it cannot be read).
fn thread_cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0.0, |ns| ns as f64 * 1e-9)
}

/// A server on 127.0.0.1 (the status list is fetched from it) and its state.
fn server(rt: &tokio::runtime::Runtime) -> (Arc<AppState>, tempfile::TempDir) {
    use digital_id::config::{ServeArgs, Settings};
    let data = tempfile::tempdir().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let args = ServeArgs {
        bind: Some(addr),
        data_dir: Some(data.path().to_owned()),
        registry: Some(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/registry").into()),
        api_key: Some("bench".into()),
        ..ServeArgs::default()
    };
    let settings = Settings::load(&args).unwrap();
    let state = Arc::new(
        digital_id::app::build_state(settings, Arc::new(digital_id::clock::SystemClock), |_| {})
            .unwrap(),
    );
    let st = state.clone();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let (server, _) = digital_id::http::serve(st, listener).unwrap();
            let _ = server.await;
        });
    });
    let _ = rt;
    (state, data)
}

/// A passport from the issuer (with its status list entry).
async fn passport(state: &AppState, holder: &SigningKey) -> String {
    let req = passport_request(state, holder).await;
    let ctx = state.issuer();
    let resp = credential::issue(&ctx, credential::Presented::bearer(&req.bearer), &req.body)
        .await
        .unwrap();
    resp.credentials[0].credential.clone()
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        eprintln!("verification benchmark: run it with `cargo bench --bench verification`");
        return;
    }
    let seconds = arg("--seconds", 5);
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores)
        .enable_all()
        .build()
        .unwrap();
    let (state, _data) = server(&rt);
    let holder = SigningKey::generate(Algorithm::Es256).unwrap();
    let credential = rt.block_on(passport(&state, &holder));
    let query = Preset::AgeOver18.query().credentials[0].clone();
    let aud = state.verifier.client_id().to_owned();
    let nonce = "bench-nonce-0123456789abcdef";
    let now = state.now();
    let selection = [ClaimPath::keys(["age_equal_or_over", "18"])];
    let kb = KeyBinding {
        holder: &holder,
        aud: &aud,
        nonce,
        iat: now,
    };
    let presentation = HolderCredential::parse(&credential)
        .unwrap()
        .present(&selection, Some(&kb))
        .unwrap();
    let binding = Binding { aud: &aud, nonce };
    // First call fetches the status list; later ones use the cache.
    let first = rt
        .block_on(
            state
                .verifier
                .verify_presentation(&query, &presentation, binding, now),
        )
        .unwrap();
    assert_eq!(first["age_equal_or_over"]["18"], true);

    // One core: one task at a time on a current-thread runtime.
    let single = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // The crypto bound of the same backend: raw ES256 verify ÷ 2 (issuer
    // signature + KB-JWT), measured in slices alternating with the
    // presentation slices so both see the same machine; each round gives
    // one ratio and the median is reported.
    let key = SigningKey::generate(Algorithm::Es256).unwrap();
    let msg = vec![7u8; 700];
    let sig = key.sign(&msg).unwrap();
    let rounds = arg("--rounds", 10).max(1);
    let slice = Duration::from_secs(seconds) / rounds as u32;
    let (mut n, mut wall, mut cpu_total) = (0u64, 0.0, 0.0);
    let (mut raw_n, mut raw_wall, mut raw_cpu) = (0u64, 0.0, 0.0);
    let mut ratios = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        let cpu = thread_cpu_seconds();
        let deadline = t + slice;
        let mut k = 0u64;
        single.block_on(async {
            while Instant::now() < deadline {
                state
                    .verifier
                    .verify_presentation(&query, &presentation, binding, now)
                    .await
                    .unwrap();
                k += 1;
            }
        });
        let (w, c) = (t.elapsed().as_secs_f64(), thread_cpu_seconds() - cpu);
        n += k;
        wall += w;
        cpu_total += c;

        let t = Instant::now();
        let cpu = thread_cpu_seconds();
        let deadline = t + slice;
        let mut j = 0u64;
        while Instant::now() < deadline {
            for _ in 0..100 {
                key.public().verify(&msg, &sig).unwrap();
            }
            j += 100;
        }
        let (rw, rc) = (t.elapsed().as_secs_f64(), thread_cpu_seconds() - cpu);
        raw_n += j;
        raw_wall += rw;
        raw_cpu += rc;
        ratios.push((k as f64 / c) / (j as f64 / rc / 2.0));
    }
    ratios.sort_by(f64::total_cmp);
    let ratio = ratios[ratios.len() / 2];
    let per_core = n as f64 / wall;
    let per_core_cpu = n as f64 / cpu_total;
    let raw_verify = raw_n as f64 / raw_wall;
    let raw_verify_cpu = raw_n as f64 / raw_cpu;
    let bound = raw_verify_cpu / 2.0;

    // Every core.
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let t = Instant::now();
    let total: u64 = rt.block_on(async {
        let tasks: Vec<_> = (0..cores * 4)
            .map(|_| {
                let (state, query, presentation, aud) = (
                    state.clone(),
                    query.clone(),
                    presentation.clone(),
                    aud.clone(),
                );
                tokio::spawn(async move {
                    let mut n = 0u64;
                    while Instant::now() < deadline {
                        let b = Binding { aud: &aud, nonce };
                        state
                            .verifier
                            .verify_presentation(&query, &presentation, b, now)
                            .await
                            .unwrap();
                        n += 1;
                        tokio::task::yield_now().await;
                    }
                    n
                })
            })
            .collect();
        let mut sum = 0;
        for t in tasks {
            sum += t.await.unwrap();
        }
        sum
    });
    let all_cores = total as f64 / t.elapsed().as_secs_f64();

    println!("presentation verification (age_over_18, status list cached), in process:");
    println!(
        "  one core:   {per_core_cpu:.0}/s per CPU-second of the verifying thread (what `load -- scan --prebuilt` holds its scans per server CPU-second against; {per_core:.0}/s wall); crypto bound {bound:.0}/s = raw ES256 verify {raw_verify_cpu:.0}/s per CPU-second ({raw_verify:.0}/s wall) ÷ 2"
    );
    println!(
        "  ratio to the bound: median of {rounds} interleaved rounds {ratio:.2} (range {:.2}–{:.2})",
        ratios[0],
        ratios[ratios.len() - 1]
    );
    println!("  {cores} cores: {all_cores:.0}/s");
    println!(
        "  vs peers (one core, benches/peers, no status check): Python sd-jwt 3 324/s → {:.1}×, @sd-jwt 2 282/s → {:.1}×",
        per_core / 3324.0,
        per_core / 2282.0
    );
}
