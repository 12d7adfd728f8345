//! `samlhub keys sp-next | sp-activate | sp-retire | sp-status`: the SP key
//! rollover steps over the data directory ([`crate::keys::sp_rollover`]).
//! Each step prints what changed and what to do next; a running hub picks
//! the change up when it restarts.

use crate::keys::sp_rollover::{self, RolloverError, Slot, Usage};
use crate::keys::SpKeys;
use std::path::Path;
use std::process::ExitCode;

/// Which pairs `sp-next` makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum UseArg {
    Signing,
    Encryption,
    Both,
}

impl UseArg {
    fn uses(self) -> &'static [Usage] {
        match self {
            Self::Signing => &[Usage::Signing],
            Self::Encryption => &[Usage::Encryption],
            Self::Both => &Usage::BOTH,
        }
    }
}

const RESTART: &str =
    "restart samlhub (every instance that uses this data directory) for it to take effect";

fn fail(step: &str, e: &RolloverError) -> ExitCode {
    eprintln!("keys {step}: {e}");
    ExitCode::from(2)
}

fn names(uses: &[Usage]) -> String {
    uses.iter()
        .map(|u| u.as_str())
        .collect::<Vec<_>>()
        .join(" and ")
}

/// `sp-next`: the current pairs are created first if this is a first run.
pub fn next(data: &Path, which: UseArg) -> ExitCode {
    if let Err(e) = SpKeys::load_or_create(data) {
        return fail("sp-next", &e.into());
    }
    match sp_rollover::create_next(data, which.uses()) {
        Ok(files) => {
            for f in &files {
                println!("created {}", f.display());
            }
            println!(
                "next {} key: published in the SP metadata (after the current one), not used to sign; {RESTART}.",
                names(which.uses())
            );
            println!("Then give every IdP the new metadata, and run `samlhub keys sp-activate` once they all have it.");
            ExitCode::SUCCESS
        }
        Err(e) => fail("sp-next", &e),
    }
}

/// `sp-activate`.
pub fn activate(data: &Path) -> ExitCode {
    match sp_rollover::activate(data) {
        Ok(uses) => {
            println!(
                "the next {} key is now the current one; the former current key is kept as previous \
                 (it still decrypts, it is no longer published or used to sign); {RESTART}.",
                names(&uses)
            );
            println!("Run `samlhub keys sp-retire` once every IdP has fetched the new metadata.");
            ExitCode::SUCCESS
        }
        Err(e) => fail("sp-activate", &e),
    }
}

/// `sp-retire`.
pub fn retire(data: &Path) -> ExitCode {
    match sp_rollover::retire(data) {
        Ok(uses) => {
            println!(
                "the previous {} key is deleted; assertions encrypted to it are refused after a restart; {RESTART}.",
                names(&uses)
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail("sp-retire", &e),
    }
}

/// What `serve` says at start about a rollover in progress, so that a step
/// left half done is seen.
pub fn startup_notes(keys: &SpKeys) -> Vec<String> {
    let mut out = Vec::new();
    let next: Vec<&str> = [
        (keys.next_signing.is_some(), "signing"),
        (keys.next_encryption.is_some(), "encryption"),
    ]
    .iter()
    .filter_map(|(has, name)| has.then_some(*name))
    .collect();
    if !next.is_empty() {
        out.push(format!(
            "SP key rollover: next {} key published; `samlhub keys sp-activate` once every IdP has the new metadata",
            next.join(" and ")
        ));
    }
    let decrypting = 1 + usize::from(keys.next_encryption.is_some());
    if keys.decryption.len() > decrypting {
        out.push(
            "SP key rollover: the previous encryption key still decrypts; `samlhub keys sp-retire` once every IdP has the new metadata"
                .to_owned(),
        );
    }
    out
}

/// `sp-status`: one line per pair on disk.
pub fn status(data: &Path) -> ExitCode {
    match sp_rollover::status(data) {
        Ok(lines) => {
            for l in &lines {
                let published = match l.slot {
                    Slot::Current | Slot::Next => "published",
                    Slot::Previous => "not published",
                };
                println!(
                    "{:<10} {:<8} {:<13} sha256:{} expires {}",
                    l.usage.as_str(),
                    l.slot.as_str(),
                    published,
                    l.fingerprint.as_deref().unwrap_or("(no certificate)"),
                    l.not_after.as_deref().unwrap_or("-"),
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail("sp-status", &e.into()),
    }
}
