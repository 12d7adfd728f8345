//! OIDC code-for-token exchanges (issue: OIDC provider) against the real
//! release `samlhub` on loopback, one client at a time. Each round gets a code
//! from `/oidc/authorize` (not timed) and times the `POST /oidc/token` that
//! redeems it: client authentication, PKCE, the store writes, and an RS256
//! (or ES256) id_token. The bound is one signature of that algorithm
//! (RSA-2048, or ECDSA P-256), measured in the same run; both bounds are
//! printed.
//!
//! A second part measures the hub's cost rather than one client's latency:
//! `BENCH_CLIENTS` clients (default 4) each fetch `BENCH_ROUNDS` codes
//! first, untimed, and then redeem them all at once. Only token requests
//! reach the hub in that window, so its CPU time (and redis-server's) over
//! the window, read from `/proc`, is the cost of the exchanges alone; it is
//! set against the same signature's rate on one core.
//!
//! `cargo bench --bench oidc_token` (embedded store); `BENCH_REDIS=1` for
//! Redis; `BENCH_ALG=ES256` for ES256 id_tokens; `BENCH_ROUNDS=N` (default
//! 500); `BENCH_HUB_BIN=PATH` runs another build of the hub (for a same-run
//! A/B against an older commit).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use samlhub::testing::idp::sign_in;
use samlhub::testing::load::{self, flows, procstat, Rig, StoreKind};
use samlhub::testing::peers::browser::Browser;
use std::time::{Duration, Instant};

fn per_sec(d: &[Duration]) -> f64 {
    d.len() as f64 / d.iter().sum::<Duration>().as_secs_f64()
}

fn main() {
    let quick = !std::env::args().any(|a| a == "--bench");
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if quick { 3 } else { 500 });
    let store = StoreKind::from_bench_env();
    let es256 = std::env::var("BENCH_ALG").is_ok_and(|a| a == "ES256");
    let want = if es256 { "ES256" } else { "RS256" };
    let tables = if es256 {
        "[oidc]\nid_token_alg = \"ES256\"\n"
    } else {
        ""
    };
    let bin = std::env::var("BENCH_HUB_BIN").unwrap_or(env!("CARGO_BIN_EXE_samlhub").into());
    let rig = Rig::start_with(&bin, store, tables);
    let target = rig.target();

    let mut b = Browser::new();
    let r = sign_in(&rig.hub, &rig.idp, load::IDP_ID, &mut b, |_| {});
    assert_eq!(r.status, 303, "login: {}", r.head());

    let mut times = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let code = flows::authorize(&mut b, &target).unwrap();
        let t = Instant::now();
        flows::token(&mut b, &target, &code).unwrap();
        times.push(t.elapsed());
    }
    let clients: usize = std::env::var("BENCH_CLIENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4);
    let (together, wall, cpu) = concurrent(&rig, clients, rounds);
    let discovery = ureq::get(&format!("{}/.well-known/openid-configuration", target.base))
        .call()
        .unwrap()
        .into_body()
        .read_to_string()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_str(&discovery).unwrap();
    assert_eq!(
        doc["id_token_signing_alg_values_supported"][0], want,
        "{discovery}"
    );

    // The bounds: signatures per second with a fresh Signer each, same run.
    let rsa = openssl::pkey::PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap();
    let p256 = openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1).unwrap();
    let ec =
        openssl::pkey::PKey::from_ec_key(openssl::ec::EcKey::generate(&p256).unwrap()).unwrap();
    let rsa_bound = sign_rate(&rsa, quick);
    let ec_bound = sign_rate(&ec, quick);
    let bound = if es256 { ec_bound } else { rsa_bound };

    times.sort();
    let mean = times.iter().sum::<Duration>() / times.len() as u32;
    let rate = per_sec(&times);
    println!(
        "store: {}, id_token: {want}, rounds: {rounds}",
        store.name()
    );
    println!("sign bounds: RSA-2048 {rsa_bound:.0}/s, ECDSA P-256 {ec_bound:.0}/s");
    println!(
        "token exchange: mean {:.2} ms, p50 {:.2} ms, p99 {:.2} ms → {rate:.0}/s; {want} sign bound {bound:.0}/s → {:.0}% of the bound",
        mean.as_secs_f64() * 1e3,
        times[times.len() / 2].as_secs_f64() * 1e3,
        times[(times.len() * 99 / 100).min(times.len() - 1)].as_secs_f64() * 1e3,
        100.0 * rate / bound
    );
    let per_cpu = together as f64 / cpu;
    println!(
        "{clients} clients together: {together} exchanges in {wall:.2} s → {:.0}/s; hub{} CPU {cpu:.2} s → {per_cpu:.0} exchanges per CPU-second, {:.0}% of the {want} sign bound",
        together as f64 / wall,
        if store == StoreKind::Redis { " + redis-server" } else { "" },
        100.0 * per_cpu / bound
    );
}

/// `clients` signed-in clients each fetch `rounds` codes, untimed; then all
/// redeem theirs at once. Returns the exchanges made, the wall seconds of
/// the redeeming window and the CPU seconds the rig's processes used in it.
fn concurrent(rig: &Rig, clients: usize, rounds: usize) -> (usize, f64, f64) {
    let target = rig.target();
    let ready = std::sync::Barrier::new(clients + 1);
    let done = std::sync::Barrier::new(clients + 1);
    let procs = rig.processes();
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..clients)
            .map(|_| {
                let (target, ready, done) = (&target, &ready, &done);
                // Every client reaches both barriers even when a step
                // fails, so a failure is reported rather than a hang.
                s.spawn(move || {
                    let mut b = Browser::new();
                    let r = sign_in(&rig.hub, &rig.idp, load::IDP_ID, &mut b, |_| {});
                    let codes: Result<Vec<String>, String> = if r.status == 303 {
                        (0..rounds)
                            .map(|_| flows::authorize(&mut b, target))
                            .collect()
                    } else {
                        Err(format!("login answered {}", r.status))
                    };
                    ready.wait();
                    let redeemed = codes.and_then(|codes| {
                        codes
                            .iter()
                            .try_for_each(|c| flows::token(&mut b, target, c).map(drop))
                    });
                    done.wait();
                    redeemed
                })
            })
            .collect();
        ready.wait();
        let cpu0: f64 = procstat::cpu_of(&procs).iter().sum();
        let t = Instant::now();
        done.wait();
        let wall = t.elapsed().as_secs_f64();
        let cpu1: f64 = procstat::cpu_of(&procs).iter().sum();
        for w in workers {
            w.join().unwrap().unwrap();
        }
        (clients * rounds, wall, cpu1 - cpu0)
    })
}

/// SHA-256 signatures per second with `key`, a fresh `Signer` each time.
fn sign_rate(key: &openssl::pkey::PKey<openssl::pkey::Private>, quick: bool) -> f64 {
    let t = Instant::now();
    let mut n = 0u32;
    while t.elapsed() < Duration::from_secs(if quick { 0 } else { 3 }) || n == 0 {
        let mut s =
            openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), key).unwrap();
        s.sign_oneshot_to_vec(b"header.payload").unwrap();
        n += 1;
    }
    n as f64 / t.elapsed().as_secs_f64()
}
