//! End-to-end load over HTTP against the real release `samlhub`: complete
//! SAML logins (ACS POST and `GET /session`, with a both-signed
//! SimpleSAMLphp-shaped Response prepared before the timed phase), OIDC
//! code exchanges and refreshes, HA redeems (`samlhub::testing::load`).
//!
//! Throughput table (one row per store and concurrency):
//! `LOAD_STORE=embedded,redis LOAD_CONCURRENCY=1,16 LOAD_LOGINS=2000
//! LOAD_MIX=login cargo bench --bench login_load`. `LOAD_SECONDS=N` runs
//! each row for N seconds instead of a fixed count. With `LOAD_LOGINS`,
//! every Response is signed before the timed phase and is valid for five
//! minutes (SAML Core §2.5.1.2 NotOnOrAfter), so keep the count small
//! enough to be prepared and posted within that.
//!
//! Soak: `LOAD_SOAK_SECONDS=300 cargo bench --bench login_load`: mixed
//! load on Redis (`LOAD_STORE=embedded` for the embedded store;
//! `LOAD_CONCURRENCY`, default 8), RSS sampled every second, and the hub's
//! RSS again after three quiet seconds; exits non-zero on any unexpected
//! answer.
//!
//! `LOAD_HUB_BIN=PATH` runs another hub binary (another build, to compare;
//! `benches/login_instructions.sh` uses it to run the hub under callgrind).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use samlhub::testing::load::{self, Budget, Mix, Options, Report, Rig, StoreKind};

const BIN: &str = env!("CARGO_BIN_EXE_samlhub");

/// The hub to run: `LOAD_HUB_BIN` (another build, or a wrapper that runs
/// it under a profiler), else this build's.
fn hub_bin() -> String {
    std::env::var("LOAD_HUB_BIN").unwrap_or_else(|_| BIN.to_owned())
}

fn env_list<T>(name: &str, default: &str, parse: impl Fn(&str) -> Option<T>) -> Vec<T> {
    let v = std::env::var(name).unwrap_or_else(|_| default.to_owned());
    v.split(',')
        .map(|s| parse(s).unwrap_or_else(|| panic!("{name}: cannot read '{s}'")))
        .collect()
}

fn env_num(name: &str) -> Option<f64> {
    std::env::var(name).ok().map(|v| {
        v.parse()
            .unwrap_or_else(|_| panic!("{name}: not a number: {v}"))
    })
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn fail_on_unexpected(r: &Report) {
    if r.tally.unexpected() > 0 {
        for why in r.tally.reasons() {
            eprintln!("unexpected: {why}");
        }
        std::process::exit(1);
    }
}

fn soak(seconds: f64, concurrency: usize, store: StoreKind) {
    let rig = Rig::start(&hub_bin(), store);
    let opts = Options {
        concurrency,
        budget: Budget::Seconds(seconds),
        mix: Mix::Mixed,
        replay_every: 10,
    };
    let r = load::run(&rig.target(), &rig.processes(), &opts);
    // At rest: the hub gives its allocator's free memory back once quiet.
    std::thread::sleep(std::time::Duration::from_secs(3));
    let rest = rig.processes().first().map(|p| p.rss_kib()).unwrap_or(0);
    println!(
        "soak: {}, mixed, concurrency {concurrency}, {:.0} s, response field {} bytes",
        store.name(),
        r.wall.as_secs_f64(),
        r.response_len
    );
    print!("{}", r.tally.table());
    let span = r.rss.span();
    for (i, name) in r.rss.names.iter().enumerate() {
        let first = r.rss.avg(i, 0.0, 60.0).unwrap_or(0.0);
        let last = r.rss.avg(i, span - 60.0, span + 1.0).unwrap_or(0.0);
        println!(
            "{name:<6} rss MiB: first-minute avg {:.1}, last-minute avg {:.1} ({:+.1}%), max {:.1}; cpu {:.1} s",
            first / 1024.0,
            last / 1024.0,
            100.0 * (last - first) / first.max(1.0),
            mib(r.rss.max(i)),
            r.cpu.get(i).copied().unwrap_or(0.0)
        );
    }
    if let Some(redis) = &rig.redis {
        // Live records (sessions, OIDC families and tokens) explain Redis's growth.
        let used = redis.cli(&["INFO", "memory"]);
        let used = used
            .lines()
            .find(|l| l.starts_with("used_memory_human:"))
            .unwrap_or("");
        println!(
            "redis keys at the end: {}; {used}",
            redis.cli(&["DBSIZE"]).trim()
        );
    }
    println!("hub rss MiB after three quiet seconds: {:.1}", mib(rest));
    println!(
        "logins {} ({:.0}/s), unexpected answers {}",
        r.logins(),
        r.logins_per_sec(),
        r.tally.unexpected()
    );
    fail_on_unexpected(&r);
}

fn main() {
    // `cargo test --benches` runs this without `--bench`: keep that quick.
    let quick = !std::env::args().any(|a| a == "--bench");
    if let Some(secs) = env_num("LOAD_SOAK_SECONDS") {
        let c = env_list("LOAD_CONCURRENCY", "8", |s| s.trim().parse().ok());
        let store = env_list("LOAD_STORE", "redis", StoreKind::parse);
        soak(
            secs,
            c.first().copied().unwrap_or(8),
            store.first().copied().unwrap_or(StoreKind::Redis),
        );
        return;
    }
    let stores = env_list("LOAD_STORE", "embedded,redis", StoreKind::parse);
    let concurrency: Vec<usize> = env_list("LOAD_CONCURRENCY", "1,16", |s| s.trim().parse().ok());
    let mix = env_list("LOAD_MIX", "login", Mix::parse)[0];
    let budget = match env_num("LOAD_SECONDS") {
        Some(s) => Budget::Seconds(s),
        None => Budget::Logins(
            env_num("LOAD_LOGINS").unwrap_or(if quick { 4.0 } else { 2000.0 }) as u64,
        ),
    };
    let baseline = load::rsa2048_verifies_per_sec(if quick { 0.0 } else { 3.0 });
    println!("mix {}, budget {budget:?}; baseline in this run: RSA-2048 verify {baseline:.0}/s on one core", mix.name());
    println!(
        "{:<9} {:>4} {:>7} {:>8} {:>9} {:>8} {:>8} {:>8} {:>8} {:>11} {:>11} {:>15} {:>5}",
        "store",
        "conc",
        "logins",
        "wall s",
        "logins/s",
        "p50 ms",
        "p99 ms",
        "hub cpu",
        "redis",
        "per cpu-s",
        "+login req",
        "hub rss MiB",
        "unexp"
    );
    let mut failed = Vec::new();
    let mut len = 0;
    for &store in &stores {
        for &c in &concurrency {
            let rig = Rig::start(&hub_bin(), store);
            let opts = Options {
                concurrency: c,
                budget,
                mix,
                replay_every: 0,
            };
            let r = load::run(&rig.target(), &rig.processes(), &opts);
            let login = &r.tally.ops[&load::tally::Op::Login];
            println!(
                "{:<9} {:>4} {:>7} {:>8.2} {:>9.0} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>11.0} {:>11.0} {:>7.1}→{:<7.1} {:>5}",
                store.name(),
                c,
                r.logins(),
                r.wall.as_secs_f64(),
                r.logins_per_sec(),
                login.quantile(0.5).as_secs_f64() * 1e3,
                login.quantile(0.99).as_secs_f64() * 1e3,
                r.cpu[0],
                r.cpu.get(1).copied().unwrap_or(0.0),
                r.logins_per_cpu_sec(),
                r.whole_logins_per_cpu_sec(),
                mib(r.rss.first(0)),
                mib(r.rss.last(0)),
                r.tally.unexpected()
            );
            if mix != Mix::Login {
                print!("{}", r.tally.table());
            }
            len = r.response_len;
            if r.tally.unexpected() > 0 {
                failed.push(r);
            }
        }
    }
    println!("posted SAMLResponse field (base64): {len} bytes");
    for r in &failed {
        fail_on_unexpected(r);
    }
}
