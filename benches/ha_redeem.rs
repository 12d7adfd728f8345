//! HA login redeem round trips (issue: HA login), measured against the real
//! samlhub binary (release build) on loopback:
//! - `/ha/redeem` on its own, as the hook calls it (one HTTP request each);
//! - `samlhub ha-verify` as HA runs it: a new process per login, which
//!   redeems, verifies the token and prints the meta lines;
//! - the Python hook (`contrib/ha/samlhub_hook.py`) the same way.
//!
//! Each round first gets a fresh code from `/ha` (not timed). Run:
//! `cargo bench --bench ha_redeem` (embedded store), or with
//! `BENCH_REDIS=1` for Redis. `BENCH_ROUNDS` sets the count.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use samlhub::testing::idp::sign_in;
use samlhub::testing::load::{self, Rig, StoreKind};
use samlhub::testing::peers::browser::Browser;
use std::process::Command;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_samlhub");

fn summary(name: &str, mut d: Vec<Duration>) {
    d.sort();
    let n = d.len();
    let total: Duration = d.iter().sum();
    let mean = total / n as u32;
    let pct = |p: f64| d[((n as f64 * p) as usize).min(n - 1)];
    println!(
        "{name:<34} n={n:<5} mean {:>8.2} ms  p50 {:>8.2} ms  p99 {:>8.2} ms  → {:>7.0}/s sequential",
        mean.as_secs_f64() * 1e3,
        pct(0.5).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        1.0 / mean.as_secs_f64()
    );
}

fn python3() -> String {
    let out = Command::new("python3")
        .args(["-c", "import sys; sys.stdout.write(sys.executable)"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap()
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing
    // we need. Keep the latter quick.
    let quick = !std::env::args().any(|a| a == "--bench");
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if quick { 3 } else { 300 });
    let store = StoreKind::from_bench_env();
    let rig = Rig::start(BIN, store);
    let base = rig.hub.base_url();
    let secret = rig.ha_secret_file();

    // One SAML login for a session.
    let mut b = Browser::new();
    let r = sign_in(&rig.hub, &rig.idp, load::IDP_ID, &mut b, |_| {});
    assert_eq!(r.status, 303, "login: {}", r.head());

    let target = rig.target();
    let mut next_code = || load::flows::ha_code(&mut b, &target).unwrap();

    let agent = ureq::Agent::new_with_defaults();
    let mut direct = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let code = next_code();
        let body =
            serde_json::json!({"instance": load::HA_INSTANCE, "username": "alice", "code": code})
                .to_string();
        let t = Instant::now();
        let resp = agent
            .post(&format!("{base}/ha/redeem"))
            .header("Authorization", &format!("Bearer {}", load::HA_SECRET))
            .header("Content-Type", "application/json")
            .send(body)
            .unwrap();
        direct.push(t.elapsed());
        assert_eq!(resp.status().as_u16(), 200);
    }

    let run_hook = |program: &str, pre: &[String], code: &str| {
        let t = Instant::now();
        let out = Command::new(program)
            .args(pre)
            .args([
                "--hub",
                &base,
                "--secret-file",
                &secret.display().to_string(),
                "--instance",
                load::HA_INSTANCE,
            ])
            .env_clear()
            .env("username", "alice")
            .env("password", code)
            .output()
            .unwrap();
        let d = t.elapsed();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        d
    };
    let mut rust = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let code = next_code();
        rust.push(run_hook(BIN, &["ha-verify".into()], &code));
    }
    let py = python3();
    let script = format!("{}/contrib/ha/samlhub_hook.py", env!("CARGO_MANIFEST_DIR"));
    let mut python = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let code = next_code();
        python.push(run_hook(&py, std::slice::from_ref(&script), &code));
    }

    println!("store: {}, rounds: {rounds}", store.name());
    summary("/ha/redeem alone", direct);
    summary("samlhub ha-verify (process each)", rust);
    summary("python hook (process each)", python);
}
