//! ES256 sign/verify rates: the digital-id path (openssl crate, as
//! src/crypto/keys.rs calls it) vs ring vs aws-lc-rs, interleaved, single
//! thread, best of N rounds.
use std::hint::black_box;
use std::time::{Duration, Instant};

use openssl::bn::{BigNum, BigNumContext};
use openssl::ec::{EcGroup, EcKey, EcPoint};
use openssl::ecdsa::EcdsaSig;
use openssl::nid::Nid;
use openssl::pkey::{Private, Public};

fn sha256(data: &[u8]) -> [u8; 32] {
    let mut h = openssl::sha::Sha256::new();
    h.update(data);
    h.finish()
}

// ---- (a) the current digital-id path, copied from src/crypto/keys.rs ----
fn ossl_public(g: &EcGroup, x: &[u8], y: &[u8]) -> EcKey<Public> {
    let x = BigNum::from_slice(x).unwrap();
    let y = BigNum::from_slice(y).unwrap();
    let mut ctx = BigNumContext::new().unwrap();
    let mut point = EcPoint::new(g).unwrap();
    point
        .set_affine_coordinates_gfp(g, &x, &y, &mut ctx)
        .unwrap();
    EcKey::from_public_key(g, &point).unwrap()
}
fn ossl_verify(key: &EcKey<Public>, message: &[u8], signature: &[u8]) -> bool {
    if signature.len() != 64 {
        return false;
    }
    let r = BigNum::from_slice(&signature[..32]).unwrap();
    let s = BigNum::from_slice(&signature[32..]).unwrap();
    let sig = EcdsaSig::from_private_components(r, s).unwrap();
    sig.verify(&sha256(message), key).unwrap_or(false)
}
fn ossl_sign(key: &EcKey<Private>, message: &[u8]) -> Vec<u8> {
    let sig = EcdsaSig::sign(&sha256(message), key).unwrap();
    let mut out = sig.r().to_vec_padded(32).unwrap();
    out.extend(sig.s().to_vec_padded(32).unwrap());
    out
}

fn thread_cpu() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid out-pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// (ops per wall second, ops per thread-CPU second)
fn rate2(iters: u32, mut f: impl FnMut(u32)) -> (f64, f64) {
    let c = thread_cpu();
    let t = Instant::now();
    for i in 0..iters {
        f(i);
    }
    let wall = t.elapsed().as_secs_f64();
    let cpu = thread_cpu() - c;
    (iters as f64 / wall, iters as f64 / cpu)
}

fn rate(iters: u32, f: impl FnMut(u32)) -> f64 {
    rate2(iters, f).0
}

fn main() {
    let rounds: usize = std::env::args().nth(1).map_or(7, |s| s.parse().unwrap());
    let slice = Duration::from_millis(std::env::args().nth(2).map_or(400, |s| s.parse().unwrap()));
    let g = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    let key = EcKey::generate(&g).unwrap();
    let mut ctx = BigNumContext::new().unwrap();
    let (mut x, mut y) = (BigNum::new().unwrap(), BigNum::new().unwrap());
    key.public_key()
        .affine_coordinates(&g, &mut x, &mut y, &mut ctx)
        .unwrap();
    let (x, y) = (x.to_vec_padded(32).unwrap(), y.to_vec_padded(32).unwrap());
    let d = key.private_key().to_vec_padded(32).unwrap();
    let mut point = vec![4u8];
    point.extend(&x);
    point.extend(&y);

    // A typical JWS signing input: base64url header "." base64url payload, ~1 KiB.
    const N: usize = 64;
    let messages: Vec<Vec<u8>> = (0..N)
        .map(|i| {
            let mut m = b"eyJhbGciOiJFUzI1NiIsInR5cCI6ImRjK3NkLWp3dCIsImtpZCI6ImFiYyJ9.".to_vec();
            let mut r = [0u8; 720];
            openssl::rand::rand_bytes(&mut r).unwrap();
            r[0] = i as u8;
            m.extend(base64_url(&r).as_bytes());
            m.truncate(1024);
            m
        })
        .collect();

    let ossl_pub = ossl_public(&g, &x, &y);
    let ring_kp = ring::signature::EcdsaKeyPair::from_private_key_and_public_key(
        &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        &d,
        &point,
        &ring::rand::SystemRandom::new(),
    )
    .unwrap();
    let ring_rng = ring::rand::SystemRandom::new();
    let aws_kp = aws_lc_rs::signature::EcdsaKeyPair::from_private_key_and_public_key(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        &d,
        &point,
    )
    .unwrap();
    let aws_rng = aws_lc_rs::rand::SystemRandom::new();
    let aws_parsed = aws_lc_rs::signature::ParsedPublicKey::new(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED,
        &point,
    )
    .unwrap();

    // Signatures from each backend; every backend must accept every other's.
    let sigs: Vec<Vec<u8>> = messages.iter().map(|m| ossl_sign(&key, m)).collect();
    for (i, m) in messages.iter().enumerate() {
        let s_ring = ring_kp.sign(&ring_rng, m).unwrap();
        let s_aws = aws_kp.sign(&aws_rng, m).unwrap();
        for s in [&sigs[i][..], s_ring.as_ref(), s_aws.as_ref()] {
            assert!(ossl_verify(&ossl_pub, m, s));
            ring::signature::UnparsedPublicKey::new(
                &ring::signature::ECDSA_P256_SHA256_FIXED,
                &point,
            )
            .verify(m, s)
            .unwrap();
            aws_parsed.verify_sig(m, s).unwrap();
        }
        let mut bad = sigs[i].clone();
        bad[5] ^= 1;
        assert!(!ossl_verify(&ossl_pub, m, &bad));
        assert!(aws_parsed.verify_sig(m, &bad).is_err());
        assert!(
            ring::signature::UnparsedPublicKey::new(
                &ring::signature::ECDSA_P256_SHA256_FIXED,
                &point
            )
            .verify(m, &bad)
            .is_err()
        );
    }

    type Case<'a> = (&'static str, Box<dyn FnMut(u32) + 'a>);
    let mut cases: Vec<Case> = vec![
        (
            "verify openssl (current)",
            Box::new(|i| {
                let i = i as usize % N;
                assert!(ossl_verify(black_box(&ossl_pub), &messages[i], &sigs[i]));
            }),
        ),
        (
            "verify ring",
            Box::new(|i| {
                let i = i as usize % N;
                ring::signature::UnparsedPublicKey::new(
                    &ring::signature::ECDSA_P256_SHA256_FIXED,
                    black_box(&point),
                )
                .verify(&messages[i], &sigs[i])
                .unwrap();
            }),
        ),
        (
            "verify aws-lc-rs parsed",
            Box::new(|i| {
                let i = i as usize % N;
                black_box(&aws_parsed)
                    .verify_sig(&messages[i], &sigs[i])
                    .unwrap();
            }),
        ),
        (
            "verify aws-lc-rs unparsed",
            Box::new(|i| {
                let i = i as usize % N;
                aws_lc_rs::signature::UnparsedPublicKey::new(
                    &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED,
                    black_box(&point),
                )
                .verify(&messages[i], &sigs[i])
                .unwrap();
            }),
        ),
        // Holder keys (cnf.jwk) are built from x, y once per presentation.
        (
            "key(x,y)+verify openssl",
            Box::new(|i| {
                let i = i as usize % N;
                let k = ossl_public(&g, black_box(&x), black_box(&y));
                assert!(ossl_verify(&k, &messages[i], &sigs[i]));
            }),
        ),
        (
            "key(x,y)+verify aws-lc-rs parsed",
            Box::new(|i| {
                let i = i as usize % N;
                let mut p = [4u8; 65];
                p[1..33].copy_from_slice(black_box(&x));
                p[33..].copy_from_slice(black_box(&y));
                let k = aws_lc_rs::signature::ParsedPublicKey::new(
                    &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED,
                    p,
                )
                .unwrap();
                k.verify_sig(&messages[i], &sigs[i]).unwrap();
            }),
        ),
        (
            "sign openssl (current)",
            Box::new(|i| {
                black_box(ossl_sign(&key, &messages[i as usize % N]));
            }),
        ),
        (
            "sign ring",
            Box::new(|i| {
                black_box(ring_kp.sign(&ring_rng, &messages[i as usize % N]).unwrap());
            }),
        ),
        (
            "sign aws-lc-rs",
            Box::new(|i| {
                black_box(aws_kp.sign(&aws_rng, &messages[i as usize % N]).unwrap());
            }),
        ),
    ];
    // Calibrate iterations per slice from a short warm-up.
    let iters: Vec<u32> = cases
        .iter_mut()
        .map(|(_, f)| {
            let r = rate(500, &mut *f);
            ((r * slice.as_secs_f64()) as u32).max(100)
        })
        .collect();
    let mut results = vec![Vec::new(); cases.len()];
    let mut cpu_results = vec![Vec::new(); cases.len()];
    for round in 0..rounds {
        // Rotate the order each round so no backend always runs first.
        for k in 0..cases.len() {
            let c = (k + round) % cases.len();
            let (w, cpu) = rate2(iters[c], &mut cases[c].1);
            results[c].push(w);
            cpu_results[c].push(cpu);
        }
    }
    // Paired ratios: per round, each case's rate over the openssl case's
    // rate in the same round (same op kind), so load changes between
    // rounds cancel out.
    let ratio_of = |c: usize, base: usize, v: &Vec<Vec<f64>>| {
        let mut q: Vec<f64> = v[c].iter().zip(&v[base]).map(|(a, b)| a / b).collect();
        q.sort_by(|a, b| a.partial_cmp(b).unwrap());
        (q[q.len() / 4], q[q.len() / 2], q[3 * q.len() / 4])
    };
    println!("paired ratio vs openssl in the same round (q1 / median / q3), wall and thread-CPU:");
    for (c, (name, _)) in cases.iter().enumerate() {
        let base = if name.starts_with("sign") {
            6
        } else if name.starts_with("key") {
            4
        } else {
            0
        };
        let (a, b, d) = ratio_of(c, base, &results);
        let (e, f, g) = ratio_of(c, base, &cpu_results);
        println!("{name:36} wall {a:.3} / {b:.3} / {d:.3}   cpu {e:.3} / {f:.3} / {g:.3}");
    }
    println!(
        "message {} bytes, {} rounds x ~{:?} per case, single thread",
        messages[0].len(),
        rounds,
        slice
    );
    println!(
        "{:36} {:>10} {:>10} {:>10} {:>12} {:>12}",
        "case", "best/s", "median/s", "worst/s", "cpu best/s", "cpu median/s"
    );
    for (c, (name, _)) in cases.iter().enumerate() {
        let mut r = results[c].clone();
        r.sort_by(|a, b| b.partial_cmp(a).unwrap());
        println!(
            "{:36} {:>10.0} {:>10.0} {:>10.0} {:>12.0} {:>12.0}",
            name,
            r[0],
            r[r.len() / 2],
            r[r.len() - 1],
            {
                let mut q = cpu_results[c].clone();
                q.sort_by(|a, b| b.partial_cmp(a).unwrap());
                q[0]
            },
            {
                let mut q = cpu_results[c].clone();
                q.sort_by(|a, b| b.partial_cmp(a).unwrap());
                q[q.len() / 2]
            },
        );
    }
}

fn base64_url(b: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut s = String::new();
    for c in b.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for k in 0..=c.len() {
            s.push(A[(n >> (18 - 6 * k) & 63) as usize] as char);
        }
    }
    s
}
