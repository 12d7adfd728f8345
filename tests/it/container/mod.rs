//! Packaging: the start-up checks a container needs (a writable data
//! directory, a set `public_url`), `/readyz` for the HEALTHCHECK, the
//! image itself ([`image`]), the compose file ([`compose`]) and the Home
//! Assistant add-on ([`addon`]).
//! The Docker tests skip, saying why, where no engine runs.

mod addon;
mod compose;
mod docker;
mod image;

use crate::peers::redis::RedisServer;
use crate::peers::samlhub::{Samlhub, BIN};
use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Command, Stdio};

/// Runs the binary `bin` with only `env` of the SAMLHUB_* variables and
/// returns (exit code, stdout + stderr). With `container_user`, it runs as
/// uid 65532 when this test runs as root (root writes anywhere).
fn run_bin(
    bin: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    container_user: bool,
) -> (Option<i32>, String) {
    let mut cmd = Command::new(bin);
    cmd.args(args);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("SAMLHUB_") {
            cmd.env_remove(k);
        }
    }
    if container_user && is_root() {
        cmd.uid(65532).gid(65532);
    }
    cmd.envs(env.iter().copied()).stdin(Stdio::null());
    // A copy of the binary just written may still be open for writing in a
    // child that another test forked before our close and has not yet
    // exec'd: exec then fails with ETXTBSY for that moment. Try again.
    let mut tries = 0;
    let out = loop {
        match cmd.output() {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy && tries < 100 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            r => break r.unwrap(),
        }
    };
    (
        out.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn run(args: &[&str], env: &[(&str, &str)], container_user: bool) -> (Option<i32>, String) {
    run_bin(Path::new(BIN), args, env, container_user)
}

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

fn chmod(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn an_unwritable_data_dir_is_one_clear_line_naming_path_uid_and_fix() {
    let t = tempfile::tempdir().unwrap();
    chmod(t.path(), 0o755);
    let data = t.path().join("data");
    std::fs::create_dir(&data).unwrap();
    // Root-owned and read-only for everyone else: what a fresh volume is.
    chmod(&data, if is_root() { 0o755 } else { 0o555 });
    // uid 65532 may not reach the build directory: run a copy from here.
    let bin = t.path().join("samlhub");
    std::fs::copy(BIN, &bin).unwrap();
    chmod(&bin, 0o755);
    let d = data.to_str().unwrap();
    let env = [
        ("SAMLHUB_DATA", d),
        ("SAMLHUB_PUBLIC_URL", "https://sso.example.org"),
        ("SAMLHUB_LISTEN", "127.0.0.1:1"),
    ];
    let want = format!("data directory {d} is not writable by uid ");
    for cmd in ["check-config", "serve"] {
        let (code, out) = run_bin(&bin, &[cmd], &env, true);
        assert_eq!(code, Some(2), "{cmd}: {out}");
        let line = out
            .lines()
            .find(|l| l.contains(&want))
            .unwrap_or_else(|| panic!("{cmd}: no line '{want}…':\n{out}"));
        assert!(line.contains("permission denied"), "{line}");
        assert!(line.contains("chown -R"), "{line}");
        if is_root() {
            assert!(line.contains("uid 65532 gid 65532"), "{line}");
            assert!(line.contains("owned by uid 0"), "{line}");
        }
        assert!(
            !out.contains("samlhub 0.") && !out.contains("created "),
            "{cmd} went on: {out}"
        );
    }
    // Once the directory is writable the same command passes.
    chmod(&data, 0o777);
    let (code, out) = run_bin(&bin, &["check-config"], &env, true);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(std::fs::read_dir(&data).unwrap().count(), 0, "probe left");
}

#[test]
fn in_a_container_public_url_must_be_set() {
    let t = tempfile::tempdir().unwrap();
    let d = t.path().to_str().unwrap();
    let base = [("SAMLHUB_DATA", d), ("SAMLHUB_LISTEN", "127.0.0.1:1")];
    let container = [base[0], base[1], ("SAMLHUB_IN_CONTAINER", "1")];
    for cmd in ["check-config", "serve"] {
        let (code, err) = run(&[cmd], &container, false);
        assert_eq!(code, Some(2), "{cmd}: {err}");
        assert!(
            err.contains("public_url: not set, and this runs in a container")
                && err.contains("SAMLHUB_PUBLIC_URL"),
            "{cmd}: {err}"
        );
    }
    // Outside a container the listen address is the default public URL,
    // and inside one an explicit public_url is enough.
    let with_url = [
        container[0],
        container[1],
        container[2],
        ("SAMLHUB_PUBLIC_URL", "https://sso.example.org"),
    ];
    for env in [&base[..], &with_url[..]] {
        let (code, err) = run(&["check-config"], env, false);
        assert_eq!(code, Some(0), "{env:?}: {err}");
    }
}

#[test]
fn readyz_follows_the_store() {
    let mut redis = RedisServer::start();
    let mut hub = Samlhub::prepare(BIN);
    hub.write_config(&format!("store = \"{}\"\n", redis.url()));
    hub.start();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let url = format!("{}/readyz", hub.base_url());
    let status = |head: bool| {
        if head {
            agent.head(&url).call().unwrap().status().as_u16()
        } else {
            agent.get(&url).call().unwrap().status().as_u16()
        }
    };
    assert_eq!((status(false), status(true)), (200, 200), "{}", hub.log());
    redis.stop();
    assert_eq!((status(false), status(true)), (503, 503), "{}", hub.log());
    redis.restart();
    let back = (0..100).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(100));
        status(false) == 200
    });
    assert!(back, "not ready again after Redis came back: {}", hub.log());
}
