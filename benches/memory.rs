//! Memory of the hub (issue 12, goals 4 and 5), in two parts:
//!
//! - **idle**: the release `samlhub serve` started with a minimal config
//!   (one IdP from a metadata file), on the embedded store and on Redis:
//!   its RSS a few seconds after start-up, then after one SAML login. The
//!   baseline is a process of this bench that does nothing (the samlhub
//!   library linked in, nothing run).
//! - **live**: `BENCH_SESSIONS` (default 100,000) logins whose sessions stay
//!   live, on each store, through the store-level login traffic
//!   (`samlhub::testing::login_load`: the records a real SAML login writes,
//!   without HTTP or XML). For the embedded store: this process's RSS and
//!   the file size; for Redis: this process's RSS (what a hub holds for
//!   them: nothing but its connection) and redis-server's `used_memory`.
//!
//! `BENCH_PART=idle` or `live` runs one part. `BENCH_DIR` sets where the
//! embedded file goes (default: a temp dir; `/dev/shm` keeps syncs out of
//! the run time).
//!
//! Run: `cargo bench --bench memory`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use samlhub::store::{EmbeddedStore, RedisStore, Store};
use samlhub::testing::idp::{sign_in, TestIdp};
use samlhub::testing::login_load;
use samlhub::testing::peers::browser::Browser;
use samlhub::testing::peers::hub::Samlhub;
use samlhub::testing::peers::redis::RedisServer;
use samlhub::testing::{env_or as env_u64, proc_status as status};
use std::sync::Arc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_samlhub");
/// Logins in flight at once in the live part.
const IN_FLIGHT: u64 = 32;

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn idle(quick: bool) {
    let settle = Duration::from_secs(if quick { 0 } else { 3 });
    // Baseline: a process of this bench that does nothing.
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .env("BENCH_CHILD", "empty")
        .output()
        .unwrap();
    println!(
        "baseline: an empty process of this bench: rss {}",
        String::from_utf8_lossy(&out.stdout).trim()
    );
    let idp = TestIdp::new("memory");
    for redis in [false, true] {
        let server = redis.then(RedisServer::start);
        let mut hub = Samlhub::prepare(BIN);
        let md = hub.dir().join("idp.xml");
        std::fs::write(&md, idp.metadata_xml()).unwrap();
        let store = server
            .as_ref()
            .map(|r| format!("store = \"{}\"\n", r.url()))
            .unwrap_or_default();
        hub.write_config(&format!(
            "{store}[[idp]]\nid = \"test\"\nmetadata_file = \"{}\"\n",
            md.display()
        ));
        hub.start();
        let pid = hub.pid().unwrap().to_string();
        std::thread::sleep(settle);
        let name = if redis { "Redis" } else { "embedded" };
        println!(
            "{name}: after start-up: rss {} (peak {}), {} threads",
            mib(status(&pid, "VmRSS:")),
            mib(status(&pid, "VmHWM:")),
            status(&pid, "Threads:")
        );
        let mut b = Browser::new();
        let r = sign_in(&hub, &idp, "test", &mut b, |_| {});
        assert_eq!(r.status, 303, "login: {}", r.head());
        std::thread::sleep(settle);
        println!(
            "{name}: after one login: rss {} (peak {}), {} threads",
            mib(status(&pid, "VmRSS:")),
            mib(status(&pid, "VmHWM:")),
            status(&pid, "Threads:")
        );
        hub.stop();
    }
}

/// `n` logins, `IN_FLIGHT` at a time, whose sessions live `lifetime`.
async fn logins<S: Store + 'static>(store: Arc<S>, n: u64, now: i64) {
    let lifetime = Duration::from_secs(8 * 3600);
    let mut next = 0;
    while next < n {
        let mut set = tokio::task::JoinSet::new();
        for i in next..(next + IN_FLIGHT).min(n) {
            let s = store.clone();
            set.spawn(async move { login_load::login(&*s, i, lifetime, now).await.unwrap() });
        }
        while let Some(r) = set.join_next().await {
            r.unwrap();
        }
        next = (next + IN_FLIGHT).min(n);
    }
}

fn live(quick: bool) {
    let n = env_u64("BENCH_SESSIONS", if quick { 20 } else { 100_000 });
    let me = "self";
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let clock = samlhub::clock::FixedClock::new(
        time::OffsetDateTime::from_unix_timestamp(1_893_456_000).unwrap(),
    );
    let now = 1_893_456_000;
    println!("live: {n} logins, sessions live; store-level traffic (login_load), no HTTP");
    println!("live: before any store: rss {}", mib(status(me, "VmRSS:")));

    let dir = match std::env::var_os("BENCH_DIR") {
        Some(d) => tempfile::tempdir_in(d).unwrap(),
        None => tempfile::tempdir().unwrap(),
    };
    let started = Instant::now();
    {
        let store = Arc::new(
            EmbeddedStore::open(&dir.path().join("state.redb"), Arc::new(clock.clone())).unwrap(),
        );
        rt.block_on(logins(store.clone(), n, now));
        println!(
            "live, embedded: {} entries, file {}, rss {} (peak {}); {:.0} s",
            store.entry_count().unwrap(),
            mib(store.file_len().unwrap() / 1024),
            mib(status(me, "VmRSS:")),
            mib(status(me, "VmHWM:")),
            started.elapsed().as_secs_f64()
        );
    }
    println!(
        "live: embedded store closed: rss {}",
        mib(status(me, "VmRSS:"))
    );

    let server = RedisServer::start();
    let used = |what: &str| {
        server
            .cli(&["INFO", "memory"])
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{what}:")))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    let empty = used("used_memory");
    let started = Instant::now();
    let store = Arc::new(RedisStore::new(&server.url()).unwrap());
    rt.block_on(logins(store, n, now));
    println!(
        "live, Redis: {} keys; redis-server used_memory {} (empty server: {}), used_memory_rss {}; this process rss {}; {:.0} s",
        server.cli(&["DBSIZE"]).trim(),
        mib(used("used_memory") / 1024),
        mib(empty / 1024),
        mib(used("used_memory_rss") / 1024),
        mib(status(me, "VmRSS:")),
        started.elapsed().as_secs_f64()
    );
}

fn main() {
    if std::env::var_os("BENCH_CHILD").is_some() {
        println!("{}", mib(status("self", "VmRSS:")));
        return;
    }
    // `cargo test --benches` runs this too: keep that quick.
    let quick = !std::env::args().any(|a| a == "--bench");
    let part = std::env::var("BENCH_PART").unwrap_or_default();
    if part.is_empty() || part == "idle" {
        idle(quick);
    }
    if part.is_empty() || part == "live" {
        live(quick);
    }
}
