//! The layering of docs/architecture.md, checked on the source text: the
//! domains import neither actix-web nor redis, nothing below `http` imports
//! it, `config` does no network I/O, and `src/http/` makes no OIDC or HA
//! protocol decisions (no claim building, PKCE check, rotation or code
//! checking there).

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The file's text without its `#[cfg(test)]` module (tests may do anything).
fn code_of(p: &Path) -> String {
    let text = std::fs::read_to_string(p).unwrap();
    match text.find("#[cfg(test)]\nmod tests") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn files_under(rel: &str) -> Vec<PathBuf> {
    let p = src().join(rel);
    let mut out = Vec::new();
    if p.is_dir() {
        rust_files(&p, &mut out);
    } else {
        out.push(p);
    }
    out
}

fn offenders(rels: &[&str], needles: &[&str]) -> Vec<String> {
    let mut bad = Vec::new();
    for rel in rels {
        for f in files_under(rel) {
            let code = code_of(&f);
            for n in needles {
                if code.contains(n) {
                    bad.push(format!("{} contains {n:?}", f.display()));
                }
            }
        }
    }
    bad
}

#[test]
fn domains_import_neither_actix_nor_redis_nor_http() {
    let bad = offenders(
        &[
            "xml",
            "saml",
            "oidc",
            "ha",
            "session.rs",
            "identity.rs",
            "crypto",
            "config",
            "store/records.rs",
            "ratelimit.rs",
            "admin.rs",
        ],
        &[
            "actix_web",
            "actix-web",
            "redis::",
            "use redis;",
            "use redis::",
            "crate::http",
            "crate::cli",
        ],
    );
    assert!(bad.is_empty(), "layering broken:\n{}", bad.join("\n"));
}

#[test]
fn config_does_no_network_io() {
    let bad = offenders(&["config"], &["crate::outbound", "ureq", "TcpStream"]);
    assert!(bad.is_empty(), "config does I/O:\n{}", bad.join("\n"));
}

#[test]
fn http_makes_no_protocol_decisions() {
    let bad = offenders(
        &["http"],
        &[
            "pkce_matches",
            "profile_claims",
            "claims::",
            "\"iss\".into()",
            "insert(\"nonce\"",
            "oidc_rt",
            "oidc_code",
            "Family",
            "new_family",
            "code::normalize",
            "code::hash",
            "policy::decide",
            // store keys and raw store calls belong to store/records.rs
            "\"session:",
            "\"pending:",
            "\"replay:",
            "\"answered:",
            "\"hacode:",
            "\"hauser:",
            "records::get(",
            "records::put",
            "records::take(",
            "records::delete(",
            "store.put",
            "store.take(",
            "store.get(",
            "store.delete(",
        ],
    );
    assert!(
        bad.is_empty(),
        "protocol logic in http/:\n{}",
        bad.join("\n")
    );
}
