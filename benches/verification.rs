//! In-process presentation verification as the verifier does it for a
//! `direct_post` answer or a holder-QR scan: issuer trust, issuer signature,
//! RFC 9901 processing, KB-JWT, expiry, the Token Status List check (the
//! list fetched once from the running server over HTTP, then cached for its
//! `ttl`) and DCQL selection — against the crypto bound (raw ES256 verify ÷ 2:
//! issuer signature + KB-JWT) and the peers of `benches/peers/`.
//!
//! `cargo bench --bench verification [-- --seconds 5]`

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
    let resp = credential::issue(&ctx, Some(&req.bearer), &req.body)
        .await
        .unwrap();
    resp.credentials[0].credential.clone()
}

/// CPU seconds (user + system) this thread has consumed: fields 14 and 15
/// of `/proc/thread-self/stat`, in USER_HZ (100) ticks. On a shared machine
/// the rate per CPU-second does not fall when other processes take the
/// core, as the rate per wall-clock second does.
fn thread_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").expect("/proc/thread-self/stat");
    // The command name (field 2) is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat[stat.rfind(')').expect("a stat line") + 1..]
        .split_whitespace()
        .collect();
    let ticks = |i: usize| -> u64 { fields[i - 3].parse().expect("a CPU time in ticks") };
    (ticks(14) + ticks(15)) as f64 / 100.0
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
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let t = Instant::now();
    let cpu0 = thread_cpu_seconds();
    let mut n = 0u64;
    single.block_on(async {
        while Instant::now() < deadline {
            state
                .verifier
                .verify_presentation(&query, &presentation, binding, now)
                .await
                .unwrap();
            n += 1;
        }
    });
    let per_core = n as f64 / t.elapsed().as_secs_f64();
    let per_cpu_second = n as f64 / (thread_cpu_seconds() - cpu0);

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

    // The crypto bound of the same backend.
    let key = SigningKey::generate(Algorithm::Es256).unwrap();
    let msg = vec![7u8; 700];
    let sig = key.sign(&msg).unwrap();
    let t = Instant::now();
    for _ in 0..5000 {
        key.public().verify(&msg, &sig).unwrap();
    }
    let raw_verify = 5000.0 / t.elapsed().as_secs_f64();
    let bound = raw_verify / 2.0;
    println!("presentation verification (age_over_18, status list cached), in process:");
    println!(
        "  one core:   {per_core:.0}/s  = {:.2} of the crypto bound ({bound:.0}/s = raw ES256 verify {raw_verify:.0}/s ÷ 2)",
        per_core / bound
    );
    println!(
        "  one core, per CPU-second of the verifying thread: {per_cpu_second:.0}/s (what `load -- scan --prebuilt` holds its scans per server CPU-second against)"
    );
    println!("  {cores} cores: {all_cores:.0}/s");
    println!(
        "  vs peers (one core, benches/peers, no status check): Python sd-jwt 3 324/s → {:.1}×, @sd-jwt 2 282/s → {:.1}×",
        per_core / 3324.0,
        per_core / 2282.0
    );
}
