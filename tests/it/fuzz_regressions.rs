//! Replays the fuzz inputs kept in the repository through the very functions
//! the fuzz targets call (`samlhub::testing::fuzz`), without cargo-fuzz:
//! every file under `fuzz/regressions/<target>/` (inputs that once crashed,
//! hung or exhausted memory) and under `fuzz/seeds/<target>/` (the starting
//! corpus). Each must return, without panicking.

use samlhub::testing::fuzz as harness;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

type Target = fn(&[u8]);

const TARGETS: &[(&str, Target)] = &[
    ("xml_parse_c14n", |d| {
        harness::xml_parse_c14n(d);
    }),
    ("xml_lex_diff", |d| {
        let _ = harness::xml_lex_diff(d);
    }),
    ("response_validate", |d| {
        let _ = harness::response_validate(d);
    }),
    ("idp_metadata", |d| {
        let _ = harness::idp_metadata(d);
    }),
    ("redirect_decode", |d| {
        let _ = harness::redirect_decode(d);
    }),
];

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

fn inputs(kind: &str, target: &str) -> Vec<PathBuf> {
    let dir = fuzz_dir().join(kind).join(target);
    let Ok(rd) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = rd
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

fn replay(kind: &str) -> usize {
    let mut failures = Vec::new();
    let mut n = 0;
    for (target, run) in TARGETS {
        for path in inputs(kind, target) {
            let data = std::fs::read(&path).unwrap();
            n += 1;
            if catch_unwind(AssertUnwindSafe(|| run(&data))).is_err() {
                failures.push(path.display().to_string());
            }
        }
    }
    assert!(failures.is_empty(), "panicked on: {failures:#?}");
    n
}

#[test]
fn regression_inputs_return_without_panicking() {
    let n = replay("regressions");
    assert!(n > 0, "no regression inputs found under fuzz/regressions");
}

#[test]
fn seed_inputs_return_without_panicking() {
    let n = replay("seeds");
    assert!(n >= TARGETS.len(), "seed corpus missing under fuzz/seeds");
}

/// The seeds must reach the deep code: the signed responses are accepted at
/// the harness's fixed time, the metadata is read, the query verifies.
#[test]
fn seeds_reach_the_code_behind_the_signature() {
    let seeds = fuzz_dir().join("seeds");
    for (name, _) in harness::seed_responses() {
        let data = std::fs::read(seeds.join("response_validate").join(name)).unwrap();
        let r = harness::response_validate(&data);
        if name == "unsigned.xml" {
            assert!(r.is_err(), "{name}");
        } else {
            let ok = r.unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(ok.identity.subject, "fuzz-user-1");
        }
    }
    let md = std::fs::read(seeds.join("idp_metadata/entities.xml")).unwrap();
    let md = harness::idp_metadata(&md).unwrap();
    assert_eq!(md.signing_certs, vec![harness::fixture().cert_der.clone()]);
    let q = std::fs::read(seeds.join("redirect_decode/signed-logout-request.txt")).unwrap();
    assert!(harness::redirect_decode(&q).is_ok());
    let xml = std::fs::read(seeds.join("xml_parse_c14n/both-signed.xml")).unwrap();
    assert!(harness::xml_parse_c14n(&xml) > 0);
    let xml = std::fs::read(seeds.join("xml_lex_diff/both-signed.xml")).unwrap();
    assert_eq!(
        harness::xml_lex_diff(&xml),
        Some(samlhub::xml::lex_diff::Agreement::Alike)
    );
}

/// The deflate bomb in the regressions is refused at the inflation cap.
#[test]
fn deflate_bomb_is_refused_at_the_cap() {
    let q =
        std::fs::read(fuzz_dir().join("regressions/redirect_decode/deflate-bomb-50mb-zeros.txt"))
            .unwrap();
    assert!(q.len() < 100_000);
    assert_eq!(
        harness::redirect_decode(&q),
        Err(samlhub::saml::binding::BindingError::InflatedTooLarge(
            samlhub::xml::Limits::MESSAGE.max_bytes
        ))
    );
}

/// Writes the seed corpus. Run after changing the harness's seed builders:
/// `cargo test --test it fuzz_regressions::write_seeds -- --ignored`.
#[test]
#[ignore = "writes fuzz/seeds; run by hand"]
fn write_seeds() {
    let seeds = fuzz_dir().join("seeds");
    let write = |target: &str, name: &str, data: &[u8]| {
        let dir = seeds.join(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), data).unwrap();
    };
    for (name, xml) in harness::seed_responses() {
        write("response_validate", name, xml.as_bytes());
        write("xml_parse_c14n", name, xml.as_bytes());
        write("xml_lex_diff", name, xml.as_bytes());
    }
    write(
        "idp_metadata",
        "entities.xml",
        harness::seed_metadata().as_bytes(),
    );
    write(
        "redirect_decode",
        "signed-logout-request.txt",
        harness::seed_redirect_query().as_bytes(),
    );
}
