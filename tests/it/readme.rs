//! The README against the tree it describes: the systemd unit in
//! `contrib/systemd/` is valid (`systemd-analyze verify` where it exists)
//! and has the settings the README promises; every ```toml block parses and
//! names only keys samlhub knows; every `samlhub <command>` it shows exists;
//! every `contrib/` and `scripts/` path it names exists. Each check is also
//! run on a broken input, to show it can fail.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use crate::peers::samlhub::BIN;
use samlhub::config::{FetchError, FetchedMetadata, MetadataRequest, Source};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const UNIT: &str = "contrib/systemd/samlhub.service";

fn readme() -> String {
    std::fs::read_to_string(Path::new(ROOT).join("README.md")).unwrap()
}

/// The fenced blocks whose info string is `lang`, as (first line number,
/// body), with the fence's own indentation removed from each line.
fn fenced(text: &str, lang: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut open: Option<(bool, usize, usize, String)> = None; // (wanted, indent, line, body)
    for (i, line) in text.lines().enumerate() {
        let indent = line.len() - line.trim_start().len();
        let trimmed = line.trim_start();
        if let Some(info) = trimmed.strip_prefix("```") {
            match open.take() {
                Some((true, _, at, body)) => out.push((at, body)),
                Some((false, ..)) => {}
                None => open = Some((info.trim() == lang, indent, i + 2, String::new())),
            }
            continue;
        }
        if let Some((true, ind, _, body)) = &mut open {
            body.push_str(&line[indent.min(*ind)..]);
            body.push('\n');
        }
    }
    out
}

/// The text of every code span and every fenced block, line by line, with
/// shell, TOML and YAML comments cut off.
fn code_lines(text: &str) -> Vec<String> {
    let uncomment = |l: &str| {
        let cut = l
            .match_indices('#')
            .find(|(i, _)| *i == 0 || l[..*i].ends_with(char::is_whitespace))
            .map_or(l.len(), |(i, _)| i);
        l[..cut].to_owned()
    };
    let mut out = Vec::new();
    let mut prose = String::new();
    let mut in_block = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_block = !in_block;
            continue;
        }
        if in_block {
            out.push(uncomment(line));
        } else {
            prose.push_str(line);
            prose.push('\n');
        }
    }
    // Code spans may run over a line break.
    for span in prose.split('`').skip(1).step_by(2) {
        out.extend(span.lines().map(uncomment));
    }
    out
}

// --- the systemd unit ---------------------------------------------------

/// `section.key` → values, in order (a key may repeat).
fn unit_keys(text: &str) -> BTreeMap<String, Vec<String>> {
    let mut keys: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut section = String::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(s) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = s.to_owned();
            continue;
        }
        let (k, v) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("{UNIT}: not key=value: {line}"));
        keys.entry(format!("{section}.{}", k.trim()))
            .or_default()
            .push(v.trim().to_owned());
    }
    keys
}

/// What the README says the unit does; returns the settings that differ.
fn unit_problems(text: &str) -> Vec<String> {
    let keys = unit_keys(text);
    let want = [
        ("Service.User", "samlhub"),
        ("Service.StateDirectory", "samlhub"),
        ("Service.Environment", "SAMLHUB_DATA=/var/lib/samlhub"),
        ("Service.ProtectSystem", "strict"),
        ("Service.NoNewPrivileges", "yes"),
        ("Service.PrivateTmp", "yes"),
        (
            "Service.RestrictAddressFamilies",
            "AF_INET AF_INET6 AF_UNIX",
        ),
        (
            "Service.ExecStart",
            "/usr/local/bin/samlhub serve --config /etc/samlhub/samlhub.toml",
        ),
        ("Service.Restart", "on-failure"),
        ("Install.WantedBy", "multi-user.target"),
    ];
    want.iter()
        .filter(|(k, v)| !keys.get(*k).is_some_and(|vs| vs.iter().any(|x| x == v)))
        .map(|(k, v)| format!("{k}={v} missing"))
        .collect()
}

/// Runs `systemd-analyze verify` on `text` (with ExecStart pointing at the
/// built binary, since verify wants it to exist). `None` when the tool is
/// absent or cannot run here; else the complaints about the unit.
fn systemd_verify(text: &str) -> Option<Vec<String>> {
    let dir = tempfile::tempdir().unwrap();
    let unit = dir.path().join("samlhub.service");
    std::fs::write(&unit, text.replace("/usr/local/bin/samlhub", BIN)).unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&unit)
        .current_dir(dir.path())
        .output()
        .ok()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    let about_unit: Vec<String> = stderr
        .lines()
        .filter(|l| l.contains("samlhub.service"))
        .map(str::to_owned)
        .collect();
    if !out.status.success() && about_unit.is_empty() {
        eprintln!("systemd-analyze verify could not run here: {stderr}");
        return None;
    }
    Some(about_unit)
}

#[test]
fn readme_systemd_unit_is_valid_and_hardened() {
    let text = std::fs::read_to_string(Path::new(ROOT).join(UNIT)).unwrap();
    assert_eq!(unit_problems(&text), Vec::<String>::new());
    assert!(!unit_problems(&text.replace("ProtectSystem=strict", "ProtectSystem=full")).is_empty());

    match systemd_verify(&text) {
        None => eprintln!("SKIPPED readme_systemd_unit: systemd-analyze is not available"),
        Some(complaints) => {
            assert!(complaints.is_empty(), "{UNIT}: {complaints:#?}");
            let broken = text.replace("PrivateTmp=yes", "PrivateTmpp=yes");
            let complaints = systemd_verify(&broken).unwrap();
            assert!(
                complaints.iter().any(|l| l.contains("PrivateTmpp")),
                "{complaints:#?}"
            );
        }
    }
}

// --- TOML snippets --------------------------------------------------------

/// Configuration as read from one in-memory file: nothing else exists and
/// no metadata can be fetched, so only the file itself is judged.
struct OneFile {
    path: PathBuf,
    text: Vec<u8>,
}

impl Source for OneFile {
    fn read(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        if path == self.path {
            Ok(self.text.clone())
        } else {
            Err(std::io::ErrorKind::NotFound.into())
        }
    }
    fn list(&self, _dir: &Path) -> std::io::Result<Vec<PathBuf>> {
        Ok(Vec::new())
    }
    fn fetch_metadata(&self, req: MetadataRequest<'_>) -> Result<FetchedMetadata, FetchError> {
        Err(FetchError {
            url: req.url.to_owned(),
            reason: "not fetched in this test".into(),
        })
    }
}

/// Syntax errors and unknown keys in a snippet; other problems (missing
/// files, unreachable metadata) are not the snippet's fault here.
fn toml_problems(snippet: &str) -> Vec<String> {
    if let Err(e) = snippet.parse::<toml::Table>() {
        return vec![format!("not TOML: {e}")];
    }
    let src = OneFile {
        path: PathBuf::from("/readme/samlhub.toml"),
        text: snippet.as_bytes().to_vec(),
    };
    match samlhub::config::load(Some(&src.path), &BTreeMap::new(), &src) {
        Ok(_) => Vec::new(),
        Err(e) => e
            .problems
            .iter()
            .filter(|(k, m)| m == "unknown key" || k == "(syntax)")
            .map(|(k, m)| format!("{k}: {m}"))
            .collect(),
    }
}

#[test]
fn readme_toml_snippets_parse_with_known_keys() {
    let blocks = fenced(&readme(), "toml");
    assert!(
        blocks.len() >= 10,
        "found only {} toml blocks",
        blocks.len()
    );
    let bad: Vec<String> = blocks
        .iter()
        .flat_map(|(line, body)| {
            toml_problems(body)
                .into_iter()
                .map(move |p| format!("README.md:{line}: {p}"))
        })
        .collect();
    assert!(bad.is_empty(), "{bad:#?}");

    assert!(!toml_problems("colour = \"blue\"\n").is_empty());
    assert!(!toml_problems("[rate_limit]\ntrusted_proxy = []\n").is_empty());
    assert!(!toml_problems("public_url = \n").is_empty());
}

// --- commands -------------------------------------------------------------

/// The subcommands `samlhub [args] --help` lists.
fn subcommands(args: &[&str]) -> BTreeSet<String> {
    let out = Command::new(BIN).args(args).arg("--help").output().unwrap();
    assert!(out.status.success(), "samlhub {args:?} --help failed");
    let help = String::from_utf8(out.stdout).unwrap();
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect()
}

/// Every `samlhub WORD [WORD]` in the README's code: (command, next word).
fn commands_named(text: &str) -> BTreeSet<(String, Option<String>)> {
    let word = |t: &str| {
        !t.is_empty()
            && t.starts_with(|c: char| c.is_ascii_lowercase())
            && t.chars()
                .all(|c| c.is_ascii_lowercase() || c == '-' || c.is_ascii_digit())
    };
    let mut found = BTreeSet::new();
    for line in code_lines(text) {
        let toks: Vec<&str> = line
            .split(|c: char| c.is_whitespace() || c == '"' || c == ',' || c == '[')
            .filter(|t| !t.is_empty())
            .collect();
        for (i, t) in toks.iter().enumerate() {
            if *t != "samlhub" && !t.ends_with("/samlhub") {
                continue;
            }
            let Some(cmd) = toks.get(i + 1).filter(|c| word(c) && **c != "samlhub") else {
                continue;
            };
            let next = toks.get(i + 2).filter(|c| word(c)).map(|c| (*c).to_owned());
            found.insert(((*cmd).to_owned(), next));
        }
    }
    found
}

fn unknown_commands(named: &BTreeSet<(String, Option<String>)>) -> Vec<String> {
    let top = subcommands(&[]);
    let mut nested: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut bad = Vec::new();
    for (cmd, next) in named {
        if !top.contains(cmd) {
            bad.push(format!("samlhub {cmd}"));
            continue;
        }
        let subs = nested
            .entry(cmd.clone())
            .or_insert_with(|| subcommands(&[cmd]));
        if let (false, Some(n)) = (subs.is_empty(), next) {
            if !subs.contains(n) {
                bad.push(format!("samlhub {cmd} {n}"));
            }
        }
    }
    bad
}

#[test]
fn readme_commands_exist() {
    let named = commands_named(&readme());
    let cmds: BTreeSet<&str> = named.iter().map(|(c, _)| c.as_str()).collect();
    for c in [
        "serve",
        "check-config",
        "inspect",
        "keys",
        "ha-verify",
        "oidc-secret",
    ] {
        assert!(cmds.contains(c), "README names no `samlhub {c}`: {cmds:?}");
    }
    assert_eq!(unknown_commands(&named), Vec::<String>::new());

    let made_up = commands_named("`samlhub frobnicate` and `samlhub keys sp-frobnicate`");
    assert_eq!(
        unknown_commands(&made_up),
        ["samlhub frobnicate", "samlhub keys sp-frobnicate"]
    );
}

// --- paths ----------------------------------------------------------------

/// Every `contrib/…` or `scripts/…` path in `text` (as written).
fn paths_named(text: &str) -> BTreeSet<String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "._-/".contains(c);
    let mut found = BTreeSet::new();
    for prefix in ["contrib/", "scripts/"] {
        for (at, _) in text.match_indices(prefix) {
            let before = text[..at].chars().next_back();
            if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
                continue;
            }
            let path: String = text[at..].chars().take_while(|c| allowed(*c)).collect();
            found.insert(path.trim_end_matches('.').to_owned());
        }
    }
    found
}

fn missing_paths(named: &BTreeSet<String>) -> Vec<String> {
    named
        .iter()
        .filter(|p| !Path::new(ROOT).join(p).exists())
        .cloned()
        .collect()
}

#[test]
fn readme_contrib_and_script_paths_exist() {
    let named = paths_named(&readme());
    for p in [
        UNIT,
        "scripts/serve.sh",
        "scripts/test.sh",
        "contrib/ha/samlhub_hook.py",
    ] {
        assert!(named.contains(p), "README does not name {p}: {named:?}");
    }
    assert_eq!(missing_paths(&named), Vec::<String>::new());
    let made_up = paths_named("see contrib/nginx/samlhub.conf.");
    assert_eq!(missing_paths(&made_up), ["contrib/nginx/samlhub.conf"]);
}
