//! Processes on loopback for tests and benchmarks: `free_port`,
//! `ProcessGroup` (a child in its own process group, killed as a group on
//! drop) and `wait_for_http`, with the peers built on them that the
//! benchmarks need too: [`redis`], [`hub`] (the samlhub binary), the
//! scripted [`browser`], and Shibboleth SP ([`shibboleth`], a benchmark's
//! comparison peer). Every peer binds 127.0.0.1 only.

pub mod browser;
pub mod hub;
pub mod redis;
pub mod redis_topology;
pub mod shibboleth;

use std::collections::HashSet;
use std::net::TcpListener;
use std::os::unix::process::CommandExt as _;
use std::process::{Child, Command};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// A free TCP port on 127.0.0.1. Ports handed out earlier in this process are
/// never handed out again, so parallel tests don't collide with each other.
pub fn free_port() -> u16 {
    static GIVEN: OnceLock<Mutex<HashSet<u16>>> = OnceLock::new();
    let given = GIVEN.get_or_init(|| Mutex::new(HashSet::new()));
    for _ in 0..100 {
        let listener = TcpListener::bind(("127.0.0.1", 0)).expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local_addr").port();
        drop(listener);
        if given.lock().unwrap_or_else(|e| e.into_inner()).insert(port) {
            return port;
        }
    }
    panic!("no free port found on 127.0.0.1");
}

/// A spawned child running in its own process group (pgid = its pid). On drop
/// the whole group gets SIGTERM, then SIGKILL, and the child is reaped.
pub struct ProcessGroup {
    child: Child,
    name: String,
    /// How long [`Self::stop`] waits after SIGTERM before SIGKILL.
    grace: Duration,
}

impl ProcessGroup {
    /// Spawns `cmd` as the leader of a new process group.
    pub fn spawn(name: &str, mut cmd: Command) -> ProcessGroup {
        cmd.process_group(0);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({cmd:?}): {e}"));
        ProcessGroup {
            child,
            name: name.to_owned(),
            grace: Duration::from_secs(3),
        }
    }

    /// Lets [`Self::stop`] wait up to `grace` for the leader to exit on
    /// SIGTERM before it kills the group (3 s unless set).
    pub fn with_grace(mut self, grace: Duration) -> ProcessGroup {
        self.grace = grace;
        self
    }

    /// The process id, which is also the process group id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `Some(status)` if the group leader has already exited.
    pub fn try_exit_status(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    fn signal_group(&self, sig: &str) {
        let _ = Command::new("kill")
            .args([sig, "--", &format!("-{}", self.child.id())])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }

    /// Stops the whole group now (also done on drop).
    pub fn stop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            self.signal_group("-TERM");
            let deadline = Instant::now() + self.grace;
            while Instant::now() < deadline {
                if self.child.try_wait().ok().flatten().is_some() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        // Workers of the leader (e.g. `php -S` with PHP_CLI_SERVER_WORKERS) may
        // outlive it: always finish the group off.
        self.signal_group("-KILL");
        let _ = self.child.wait();
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Polls `url` with GET until it answers 200 or `timeout` passes. Errors carry
/// the last status or transport error.
pub fn wait_for_http(url: &str, timeout: Duration) -> Result<(), String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .max_redirects(0)
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(2)))
        .build()
        .into();
    let deadline = Instant::now() + timeout;
    loop {
        let last = match agent.get(url).call() {
            Ok(resp) if resp.status().as_u16() == 200 => return Ok(()),
            Ok(resp) => format!("HTTP {}", resp.status()),
            Err(e) => e.to_string(),
        };
        if Instant::now() >= deadline {
            return Err(format!("{url} not ready after {timeout:?}: {last}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
