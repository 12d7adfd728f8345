//! Embedded store growth under logins whose records expire (issue 12,
//! goal 5): `BENCH_LOGINS` logins (default 100,000) in bursts of
//! `BENCH_BURST` (default 10,000), each burst followed by a step of the
//! pinned clock past every TTL and a sweep. After each burst it prints the
//! entry count, the file size and the process RSS (VmRSS). `BENCH_NO_SWEEP=1`
//! skips the sweeps, as the baseline. `BENCH_CACHE_MIB` sets redb's page
//! cache (default: the store's own bound, `store::embedded::CACHE_BYTES`;
//! 1024 is redb's default). `BENCH_DIR` sets where the file goes (default:
//! a temp dir). At the end it prints the peak RSS (VmHWM) and the largest
//! file size after any burst but the first, against the first's: with the
//! sweep, later bursts reuse the freed pages and the file does not grow.
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
use samlhub::testing::login_load;
use samlhub::testing::{env_or as env_u64, proc_status};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn status_kib(field: &str) -> u64 {
    proc_status("self", field)
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
    let cache = std::env::var("BENCH_CACHE_MIB")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .map_or(samlhub::store::embedded::CACHE_BYTES, |m| m * 1024 * 1024);
    let store = EmbeddedStore::open_with_cache(
        &dir.path().join("state.redb"),
        Arc::new(clock.clone()),
        cache,
    )
    .unwrap();
    println!(
        "start: entries {} file {} KiB rss {} KiB (sweep {}, cache {} MiB)",
        store.entry_count().unwrap(),
        store.file_len().unwrap() / 1024,
        status_kib("VmRSS:"),
        if sweep { "on" } else { "off" },
        cache / 1024 / 1024
    );
    let mut first_file = None;
    let mut later_file = 0;
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
            status_kib("VmRSS:"),
            started.elapsed().as_secs_f64()
        );
        let file = store.file_len().unwrap() / 1024;
        match first_file {
            None => first_file = Some(file),
            Some(_) => later_file = later_file.max(file),
        }
    }
    println!(
        "peak rss {} KiB; file after the first burst {} KiB, largest after a later one {} KiB",
        status_kib("VmHWM:"),
        first_file.unwrap_or(0),
        later_file
    );
}
