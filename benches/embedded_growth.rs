//! Embedded store growth under logins whose records expire (issue 12,
//! goal 5): `BENCH_LOGINS` logins (default 100,000) in bursts of
//! `BENCH_BURST` (default 10,000), each burst followed by a step of the
//! pinned clock past every TTL and a sweep. After each burst it prints the
//! entry count, the file size and the process RSS (VmRSS). `BENCH_NO_SWEEP=1`
//! skips the sweeps, as the baseline. `BENCH_DIR` sets where the file goes
//! (default: a temp dir).
//!
//! Run: `cargo bench --bench embedded_growth`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use samlhub::clock::{Clock, FixedClock};
use samlhub::store::EmbeddedStore;
use samlhub::testing::load::procstat::Proc;
use samlhub::testing::login_load;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn rss_kib() -> u64 {
    Proc::new("bench", std::process::id()).rss_kib()
}

fn main() {
    // `cargo test --benches` runs this too: keep that quick.
    let quick = !std::env::args().any(|a| a == "--bench");
    let total = env_u64("BENCH_LOGINS", if quick { 20 } else { 100_000 });
    let per_burst = env_u64("BENCH_BURST", if quick { 10 } else { 10_000 }).max(1);
    let sweep = std::env::var_os("BENCH_NO_SWEEP").is_none();
    let dir = match std::env::var_os("BENCH_DIR") {
        Some(d) => tempfile::tempdir_in(d).unwrap(),
        None => tempfile::tempdir().unwrap(),
    };
    let lifetime = Duration::from_secs(3600);
    let clock = FixedClock::new(time::OffsetDateTime::from_unix_timestamp(1_893_456_000).unwrap());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let store =
        EmbeddedStore::open(&dir.path().join("state.redb"), Arc::new(clock.clone())).unwrap();
    println!(
        "start: entries {} file {} KiB rss {} KiB (sweep {})",
        store.entry_count().unwrap(),
        store.file_len().unwrap() / 1024,
        rss_kib(),
        if sweep { "on" } else { "off" }
    );
    let step = time::Duration::try_from(login_load::longest_ttl(lifetime)).unwrap()
        + time::Duration::seconds(1);
    let started = Instant::now();
    let mut done = 0;
    while done < total {
        let n = per_burst.min(total - done);
        let now = clock.now().unix_timestamp();
        rt.block_on(async {
            for i in done..done + n {
                login_load::login(&store, i, lifetime, now).await.unwrap();
            }
        });
        done += n;
        let live = store.entry_count().unwrap();
        clock.advance(step);
        let swept = if sweep {
            store.sweep_expired().unwrap()
        } else {
            0
        };
        println!(
            "{done:>7} logins: entries {live} before sweep, {} after ({swept} swept); file {} KiB; rss {} KiB; {:.0} s",
            store.entry_count().unwrap(),
            store.file_len().unwrap() / 1024,
            rss_kib(),
            started.elapsed().as_secs_f64()
        );
    }
}
