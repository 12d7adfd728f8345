//! Test support shared by the integration tests, the benchmarks and the fuzz
//! targets; compiled only with the `test-support` feature (which the
//! crate's own dev-dependency on itself turns on), never into a release.
//!
//! - [`pki`]: throwaway RSA keys with self-signed certificates;
//! - [`idp`]: a test IdP and generated, signed SAML Responses;
//! - [`peers`]: processes on loopback (`redis-server`, the samlhub binary)
//!   and a scripted browser;
//! - [`fuzz`]: what each fuzz target runs, replayed by the regression tests;
//! - [`login_load`]: store traffic shaped like SAML logins;
//! - [`load`]: end-to-end load over HTTP against the samlhub binary.
//! - [`aggregate`]: generated federation metadata aggregates.
//!
//! Failing loudly is the point of this code, so the crate's panic lints are
//! lifted here, as in the tests.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

pub mod aggregate;
pub mod fuzz;
pub mod idp;
pub mod load;
pub mod login_load;
pub mod peers;
pub mod pki;

/// A number from the environment variable `name`, or `default` when it is
/// unset or unreadable (the benchmarks' knobs).
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A field of `/proc/<pid>/status` (`pid` may be `self`), such as `VmRSS:`
/// or `VmHWM:` in KiB, or `Threads:`; 0 when absent. For memory figures.
pub fn proc_status(pid: &str, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}
