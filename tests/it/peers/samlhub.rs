//! The samlhub binary under test. The process harness is shared with the
//! benchmarks (`samlhub::testing::peers::hub`); this binary's path is only
//! known to the test crate.

use std::process::{Command, Output, Stdio};

pub use ::samlhub::testing::peers::hub::Samlhub;

pub const BIN: &str = env!("CARGO_BIN_EXE_samlhub");

/// Runs the samlhub binary with `args` (no server), e.g. `inspect`, `check-config`.
pub fn run_cli(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("SAMLHUB_CONFIG")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// `samlhub keys rotate --config <config> --activate-in <secs>`, which must succeed.
pub fn keys_rotate(config: &std::path::Path, activate_in: &str) {
    let out = run_cli(&[
        "keys",
        "rotate",
        "--config",
        config.to_str().unwrap(),
        "--activate-in",
        activate_in,
    ]);
    assert!(
        out.status.success(),
        "keys rotate: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
