//! SD-JWT hot paths on the 12-claim passport of `benches/peers/passport.json`
//! (the same fixture the peer benchmarks use): issue (all 12 claims
//! disclosable; also from a prepared `Template`, as the issuer does),
//! present 3 claims with a KB-JWT, verify that presentation with key
//! binding; and raw ES256 sign/verify of the same backend.
//!
//! `cargo bench --bench sdjwt` (pin to one core with `taskset -c 0`). After
//! the runs it prints ops/s per core and the ratios BENCHMARKS.md records.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{BatchSize, Criterion, Throughput};
use digital_id::crypto::{Algorithm, SigningKey};
use digital_id::sdjwt::{
    self, ClaimPath, HolderCredential, IssueOptions, KeyBinding, RandomSalts, VerifyPolicy,
};
use serde_json::{Map, Value, json};

const NOW: i64 = 1_800_000_000;

struct Fixture {
    issuer: SigningKey,
    holder: SigningKey,
    claims: Map<String, Value>,
    sd: Vec<ClaimPath>,
    disclose: Vec<ClaimPath>,
    aud: String,
    nonce: String,
}

fn fixture() -> Fixture {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/peers/passport.json");
    let f: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let holder = SigningKey::generate(Algorithm::Es256).unwrap();
    let mut claims = Map::new();
    claims.insert("iss".into(), f["iss"].clone());
    claims.insert("vct".into(), f["vct"].clone());
    claims.insert("iat".into(), json!(NOW - 60));
    claims.insert("exp".into(), json!(NOW + 86_400));
    claims.insert(
        "cnf".into(),
        json!({"jwk": Value::Object(holder.public().jwk().clone())}),
    );
    let personal = f["claims"].as_object().unwrap();
    assert_eq!(personal.len(), 12);
    let sd = personal
        .keys()
        .map(|k| ClaimPath::keys([k.as_str()]))
        .collect();
    claims.extend(personal.clone());
    let disclose = f["disclose"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| ClaimPath::keys([k.as_str().unwrap()]))
        .collect();
    Fixture {
        issuer: SigningKey::generate(Algorithm::Es256).unwrap(),
        holder,
        claims,
        sd,
        disclose,
        aud: f["aud"].as_str().unwrap().to_owned(),
        nonce: f["nonce"].as_str().unwrap().to_owned(),
    }
}

fn benches(c: &mut Criterion) {
    let f = fixture();
    let options = IssueOptions::default();
    let issued = sdjwt::issue(
        &f.issuer,
        f.claims.clone(),
        &f.sd,
        &options,
        &mut RandomSalts,
    )
    .unwrap();
    let holder_credential = HolderCredential::parse(&issued.compact).unwrap();
    let kb = KeyBinding {
        holder: &f.holder,
        aud: &f.aud,
        nonce: &f.nonce,
        iat: NOW,
    };
    let presentation = holder_credential.present(&f.disclose, Some(&kb)).unwrap();
    let policy = VerifyPolicy::sd_jwt_vc(NOW).with_key_binding(&f.aud, &f.nonce);
    assert_eq!(
        sdjwt::verify(&presentation, f.issuer.public(), &policy)
            .unwrap()
            .claims
            .len(),
        5 + 3
    );

    let mut g = c.benchmark_group("sdjwt");
    g.throughput(Throughput::Elements(1));
    g.bench_function("issue_12_claims", |b| {
        // The input map is cloned outside the timed part: building the
        // claims is the caller's work, not issuance.
        b.iter_batched(
            || f.claims.clone(),
            |claims| sdjwt::issue(&f.issuer, claims, &f.sd, &options, &mut RandomSalts).unwrap(),
            BatchSize::SmallInput,
        )
    });
    // The issuer's path: the document's claims prepared once, each
    // credential adding its own (`iss`, `iat`, `exp`, `vct`, `cnf`).
    let mut document = f.claims.clone();
    let mut head = Map::new();
    for name in ["iss", "vct", "iat", "exp", "cnf"] {
        head.insert(name.into(), document.shift_remove(name).unwrap());
    }
    let template = sdjwt::Template::new(document, &f.sd, &options).unwrap();
    g.bench_function("issue_12_claims_from_template", |b| {
        b.iter(|| {
            template
                .issue(&f.issuer, black_box(&head), &mut RandomSalts)
                .unwrap()
        })
    });
    g.bench_function("present_3_with_kb", |b| {
        b.iter(|| {
            let h = HolderCredential::parse(black_box(&issued.compact)).unwrap();
            h.present(&f.disclose, Some(&kb)).unwrap()
        })
    });
    g.bench_function("verify_with_kb", |b| {
        b.iter(|| sdjwt::verify(black_box(&presentation), f.issuer.public(), &policy).unwrap())
    });
    g.finish();

    let message = presentation
        .split('~')
        .next()
        .unwrap()
        .rsplit_once('.')
        .unwrap()
        .0
        .as_bytes()
        .to_vec();
    let signature = f.issuer.sign(&message).unwrap();
    let mut g = c.benchmark_group("es256_raw");
    g.throughput(Throughput::Elements(1));
    g.bench_function("sign", |b| {
        b.iter(|| f.issuer.sign(black_box(&message)).unwrap())
    });
    g.bench_function("verify", |b| {
        b.iter(|| {
            f.issuer
                .public()
                .verify(black_box(&message), &signature)
                .unwrap()
        })
    });
    g.finish();

    // A part of every verification: the holder key from `cnf.jwk` (DER
    // decoding through OpenSSL 3 took ~150 µs here; affine coordinates ~4 µs).
    let cnf = Value::Object(f.holder.public().jwk().clone());
    c.bench_function("parts/holder_key_from_jwk", |b| {
        b.iter(|| digital_id::crypto::PublicKey::from_jwk(black_box(&cnf)).unwrap())
    });
}

/// Mean time of one criterion benchmark in ns, from its saved estimates.
fn mean_ns(group: &str, name: &str) -> Option<f64> {
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| "target".into());
    let path = dir
        .join("criterion")
        .join(group)
        .join(name)
        .join("new/estimates.json");
    let v: Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    v["mean"]["point_estimate"].as_f64()
}

fn report() {
    let ops = |g: &str, n: &str| mean_ns(g, n).map(|ns| 1e9 / ns);
    let (Some(issue), Some(present), Some(verify), Some(sign), Some(raw_verify)) = (
        ops("sdjwt", "issue_12_claims"),
        ops("sdjwt", "present_3_with_kb"),
        ops("sdjwt", "verify_with_kb"),
        ops("es256_raw", "sign"),
        ops("es256_raw", "verify"),
    ) else {
        println!("(run every benchmark to get the summary)");
        return;
    };
    println!("\nper core (ops/s):");
    println!("  issue 12-claim passport      {issue:>9.0}");
    if let Some(t) = ops("sdjwt", "issue_12_claims_from_template") {
        println!("  … from a prepared template   {t:>9.0}");
    }
    println!("  present 3 claims + KB-JWT    {present:>9.0}");
    println!("  verify presentation with KB  {verify:>9.0}");
    println!("  raw ES256 sign               {sign:>9.0}");
    println!("  raw ES256 verify             {raw_verify:>9.0}");
    println!(
        "presentation verify / (raw ES256 verify / 2) = {:.2}",
        verify / (raw_verify / 2.0)
    );
    println!("issue / raw ES256 sign = {:.2}", issue / sign);
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    benches(&mut c);
    c.final_summary();
    // Under `cargo test` (no `--bench`) the benchmarks run once each, and
    // the saved estimates may be stale: no summary then.
    if std::env::args().any(|a| a == "--bench") {
        report();
    }
}
