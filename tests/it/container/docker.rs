//! A Docker engine for the container tests, used through the `docker` CLI:
//! whether one runs (else the tests skip with the reason), the Debian base
//! image made locally (`debootstrap` into `docker import`, since no image
//! registry is assumed), image builds, and containers removed on drop.
//! Built images are labelled `samlhub-test` and the Dockerfiles label their
//! build stage; superseded (dangling) images with either label are pruned
//! after each build, the base image stays cached.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The locally made Debian base, cached between runs.
pub const BASE: &str = "samlhub-local/debian:bookworm";
/// The label on every image the tests build.
pub const LABEL: &str = "samlhub-test";

fn docker(args: &[&str]) -> Output {
    Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("docker {args:?}: {e}"))
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `Err(reason)` when no Docker engine answers.
pub fn engine() -> Result<(), String> {
    match Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .stdin(Stdio::null())
        .output()
    {
        Err(e) => Err(format!("no docker CLI ({e})")),
        Ok(o) if !o.status.success() => Err(format!(
            "no Docker engine answers: {}",
            text(&o).lines().last().unwrap_or_default()
        )),
        Ok(_) => Ok(()),
    }
}

/// The engine and the local base image, made on first use; `Err(reason)`
/// when either is missing, for the caller to skip with.
pub fn ready() -> Result<&'static str, String> {
    static LOCK: Mutex<()> = Mutex::new(());
    let _one = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    engine()?;
    if docker(&["image", "inspect", BASE]).status.success() {
        return Ok(BASE);
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("rootfs");
    let boot = Command::new("debootstrap")
        .args(["--variant=minbase", "bookworm"])
        .arg(&root)
        .arg("http://deb.debian.org/debian")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("no debootstrap to make the base image ({e})"))?;
    if !boot.status.success() {
        return Err(format!("debootstrap failed: {}", tail(&text(&boot))));
    }
    let import = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "tar -C '{}' -c . | docker import - {BASE}",
            root.display()
        ))
        .output()
        .unwrap();
    assert!(import.status.success(), "docker import: {}", text(&import));
    Ok(BASE)
}

fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// Builds `context` (its `Dockerfile`) as `tag` with `args`; panics with
/// the build log on failure. Superseded test images are pruned. One build
/// at a time: a prune run beside another test's build can delete a cached
/// stage that build is about to use.
pub fn build(context: &Path, tag: &str, args: &[(&str, &str)]) {
    static BUILDING: Mutex<()> = Mutex::new(());
    let _one = BUILDING.lock().unwrap_or_else(|e| e.into_inner());
    let mut cmd = Command::new("docker");
    cmd.args(["build", "-q", "--label", LABEL, "-t", tag]);
    for (k, v) in args {
        cmd.arg("--build-arg").arg(format!("{k}={v}"));
    }
    let out = cmd.arg(context).stdin(Stdio::null()).output().unwrap();
    assert!(
        out.status.success(),
        "docker build {tag}:\n{}",
        tail(&text(&out))
    );
    for label in [LABEL, "org.samlhub.stage=build"] {
        docker(&[
            "image",
            "prune",
            "-f",
            "--filter",
            &format!("label={label}"),
        ]);
    }
}

/// A container, removed (with `docker rm -f`) on drop.
pub struct Container {
    pub name: String,
}

impl Container {
    /// `docker run -d --name <fresh name> ARGS…`.
    pub fn start(args: &[&str]) -> Container {
        let name = format!("samlhub-test-{}-{}", std::process::id(), fresh());
        let mut all = vec!["run", "-d", "--name", name.as_str()];
        all.extend_from_slice(args);
        let out = docker(&all);
        let c = Container { name };
        assert!(out.status.success(), "docker run: {}", text(&out));
        c
    }

    /// Runs a container to its end (at most `limit`) and returns its exit
    /// code and everything it printed.
    pub fn run_to_exit(args: &[&str], limit: Duration) -> (i64, String) {
        let c = Container::start(args);
        let deadline = Instant::now() + limit;
        loop {
            if c.state("{{.State.Running}}") == "false" {
                let code = c.state("{{.State.ExitCode}}").parse().unwrap_or(-1);
                return (code, c.logs());
            }
            assert!(
                Instant::now() < deadline,
                "container still running after {limit:?}; log:\n{}",
                c.logs()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// `docker inspect -f FORMAT`, trimmed.
    pub fn state(&self, format: &str) -> String {
        text(&docker(&["inspect", "-f", format, &self.name]))
            .trim()
            .to_owned()
    }

    pub fn logs(&self) -> String {
        text(&docker(&["logs", &self.name]))
    }

    /// Waits until the HEALTHCHECK reports `want` (at most `limit`).
    pub fn wait_health(&self, want: &str, limit: Duration) -> Result<(), String> {
        let deadline = Instant::now() + limit;
        loop {
            let s = self.state("{{.State.Health.Status}}");
            if s == want {
                return Ok(());
            }
            if self.state("{{.State.Running}}") != "true" || Instant::now() > deadline {
                return Err(format!("health {s}, wanted {want}"));
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

fn fresh() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["rm", "-f", &self.name])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// `docker run` arguments that make the container's processes run as the
/// owner of `dir` when this test cannot hand `dir` to uid 65532 (not root).
pub fn give_to_container_user(dir: &Path) -> Vec<String> {
    let ok = Command::new("chown")
        .args(["-R", "65532:65532"])
        .arg(dir)
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        Vec::new()
    } else {
        use std::os::unix::fs::MetadataExt as _;
        let m = std::fs::metadata(dir).unwrap();
        vec!["--user".into(), format!("{}:{}", m.uid(), m.gid())]
    }
}
