//! Loading one IdP out of a large federation aggregate (issue 12, goal 4):
//! generates an md:EntitiesDescriptor of `BENCH_ENTITIES` IdPs (default
//! 5,000, about 40 MB; `samlhub::testing::aggregate`), unsigned and signed
//! by a federation key, and measures reading the file plus
//! `config::trust::trust_from_owned` selecting one entity near its end, the
//! same call start-up and every metadata refresh make (the tree is built
//! over the bytes read, not over a copy).
//!
//! Every case runs in a fresh child process (this bench runs itself again
//! with `BENCH_CHILD` set), so its peak RSS (VmHWM) is its own. The
//! baselines run the same way: a child that does nothing, one that only
//! reads the file, one that parses the whole aggregate into a tree
//! (`xml::parse`, which copies the input), and the selection over a copy
//! (`trust_from_xml`, what start-up did before). `BENCH_RUNS`
//! (default 3) runs of each; the median wall time and the highest peak are
//! printed. `BENCH_DIR` sets where the files go (default: a temp dir).
//!
//! Run: `cargo bench --bench metadata_aggregate`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use samlhub::config::trust::{trust_from_owned, trust_from_xml, MetadataSigner};
use samlhub::saml::dsig::TrustedKey;
use samlhub::testing::aggregate::{entity_id, Aggregate};
use samlhub::testing::pki::TestKey;
use samlhub::testing::{env_or as env_usize, proc_status};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

fn status_kib(field: &str) -> u64 {
    proc_status("self", field)
}

fn entity_key() -> TestKey {
    TestKey::generate("aggregate-entity", 2048)
}

fn federation_key() -> TestKey {
    TestKey::generate("aggregate-federation", 2048)
}

/// One case in this (child) process; prints `wall_ms hwm_kib rss_kib`, the
/// last once everything the case built is dropped.
fn child(case: &str, file: &Path, target: &str, signer_pem: Option<&Path>) {
    let started = Instant::now();
    match case {
        "empty" => {}
        "read" => {
            let xml = std::fs::read(file).unwrap();
            std::hint::black_box(&xml);
        }
        "tree" => {
            let xml = std::fs::read(file).unwrap();
            let doc = samlhub::xml::parse(&xml, &samlhub::xml::Limits::METADATA).unwrap();
            std::hint::black_box(doc.element_count());
        }
        "select" | "select-copy" => {
            let signer = signer_pem.map(|p| {
                let der = openssl::x509::X509::from_pem(&std::fs::read(p).unwrap())
                    .unwrap()
                    .to_der()
                    .unwrap();
                MetadataSigner {
                    path: p.to_path_buf(),
                    keys: vec![TrustedKey::from_cert_der(&der).unwrap()],
                    certs: vec![der],
                }
            });
            let xml = std::fs::read(file).unwrap();
            let t = if case == "select" {
                trust_from_owned(xml, Some(target), signer.as_ref(), false, None).map(|(t, _)| t)
            } else {
                trust_from_xml(&xml, Some(target), signer.as_ref(), false, None)
            }
            .unwrap_or_else(|p| panic!("{p:?}"));
            assert_eq!(t.metadata.entity_id, target);
        }
        other => panic!("unknown case {other}"),
    }
    let wall = started.elapsed();
    println!(
        "{:.1} {} {}",
        wall.as_secs_f64() * 1000.0,
        status_kib("VmHWM:"),
        status_kib("VmRSS:")
    );
}

struct Figure {
    wall_ms: f64,
    process_ms: f64,
    hwm_kib: u64,
    after_kib: u64,
}

fn run(case: &str, file: &Path, target: &str, signer_pem: Option<&Path>, runs: usize) -> Figure {
    let mut walls = Vec::new();
    let mut procs = Vec::new();
    let mut hwm = 0;
    let mut after = 0;
    for _ in 0..runs {
        let mut cmd = Command::new(std::env::current_exe().unwrap());
        cmd.env("BENCH_CHILD", case)
            .env("BENCH_FILE", file)
            .env("BENCH_TARGET", target);
        if let Some(p) = signer_pem {
            cmd.env("BENCH_SIGNER", p);
        }
        let started = Instant::now();
        let out = cmd.output().unwrap();
        procs.push(started.elapsed().as_secs_f64() * 1000.0);
        assert!(
            out.status.success(),
            "{case}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        let line = text.lines().last().unwrap_or_default();
        let mut parts = line.split_whitespace();
        walls.push(parts.next().unwrap().parse::<f64>().unwrap());
        hwm = hwm.max(parts.next().unwrap().parse::<u64>().unwrap());
        after = after.max(parts.next().unwrap().parse::<u64>().unwrap());
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v[v.len() / 2]
    };
    Figure {
        wall_ms: median(&mut walls),
        process_ms: median(&mut procs),
        hwm_kib: hwm,
        after_kib: after,
    }
}

fn main() {
    if let Ok(case) = std::env::var("BENCH_CHILD") {
        let file = PathBuf::from(std::env::var_os("BENCH_FILE").unwrap());
        let target = std::env::var("BENCH_TARGET").unwrap();
        let signer = std::env::var_os("BENCH_SIGNER").map(PathBuf::from);
        child(&case, &file, &target, signer.as_deref());
        return;
    }
    // `cargo test --benches` runs this too: keep that quick.
    let quick = !std::env::args().any(|a| a == "--bench");
    let entities = env_usize("BENCH_ENTITIES", if quick { 20 } else { 5000 }).max(1);
    let runs = env_usize("BENCH_RUNS", if quick { 1 } else { 3 }).max(1);
    let dir = match std::env::var_os("BENCH_DIR") {
        Some(d) => tempfile::tempdir_in(d).unwrap(),
        None => tempfile::tempdir().unwrap(),
    };
    let entity = entity_key();
    let fed = federation_key();
    let plain = dir.path().join("aggregate.xml");
    let signed = dir.path().join("aggregate-signed.xml");
    let signer_pem = dir.path().join("federation.pem");
    std::fs::write(&signer_pem, &fed.cert_pem).unwrap();
    let started = Instant::now();
    let agg = Aggregate {
        entities,
        entity_key: &entity,
        signer: None,
    };
    std::fs::write(&plain, agg.xml()).unwrap();
    std::fs::write(
        &signed,
        Aggregate {
            signer: Some(&fed),
            ..agg
        }
        .xml(),
    )
    .unwrap();
    let size = std::fs::metadata(&signed).unwrap().len();
    let target = entity_id(entities - 1 - entities / 100);
    println!(
        "{entities} entities, {:.1} MB signed ({:.1} MB unsigned), generated in {:.1} s; selecting {target}; {runs} runs each, median wall, highest peak RSS",
        size as f64 / 1e6,
        std::fs::metadata(&plain).unwrap().len() as f64 / 1e6,
        started.elapsed().as_secs_f64(),
    );
    println!(
        "{:<44} {:>10} {:>12} {:>14} {:>14}",
        "case", "in-process", "whole process", "peak RSS", "RSS after"
    );
    let cases: [(&str, &str, &Path, Option<&Path>); 8] = [
        ("baseline: empty process", "empty", &plain, None),
        ("baseline: read the file", "read", &plain, None),
        ("baseline: whole tree (xml::parse)", "tree", &plain, None),
        (
            "baseline: select over a copy, unsigned",
            "select-copy",
            &plain,
            None,
        ),
        ("select one entity, unsigned", "select", &plain, None),
        ("baseline: whole tree, signed file", "tree", &signed, None),
        (
            "baseline: select over a copy, signed",
            "select-copy",
            &signed,
            Some(&signer_pem),
        ),
        (
            "select one entity, signed (verified)",
            "select",
            &signed,
            Some(&signer_pem),
        ),
    ];
    for (label, case, file, signer) in cases {
        let f = run(case, file, &target, signer, runs);
        println!(
            "{label:<44} {:>8.0} ms {:>10.0} ms {:>10.1} MiB {:>10.1} MiB",
            f.wall_ms,
            f.process_ms,
            f.hwm_kib as f64 / 1024.0,
            f.after_kib as f64 / 1024.0
        );
    }
}
