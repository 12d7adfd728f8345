//! A real `redis-server` on a free loopback port, with no persistence, in a
//! temporary working directory. Stopped (killed and reaped) on drop.
//! Variants: extra arguments (replicas, cluster nodes), a TLS port with a
//! CA made for the test, and sentinel mode; see also [`super::redis_topology`].

use super::{free_port, ProcessGroup};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const READY_TIMEOUT: Duration = Duration::from_secs(10);

pub struct RedisServer {
    port: u16,
    dir: tempfile::TempDir,
    process: Option<ProcessGroup>,
    args: Vec<String>,
    sentinel_conf: Option<PathBuf>,
    tls: Option<RedisTls>,
}

/// The TLS side of a server started with [`RedisServer::start_tls`]: its
/// TLS port and the PEM files a client needs.
#[derive(Clone, Debug)]
pub struct RedisTls {
    pub port: u16,
    /// The CA that signed the server (and client) certificates.
    pub ca_file: PathBuf,
    /// A client certificate and key signed by that CA.
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    /// A CA that signed nothing here (for negative tests).
    pub other_ca_file: PathBuf,
}

impl RedisServer {
    /// Starts `redis-server` on a free 127.0.0.1 port and waits (≤ 10 s)
    /// until it answers `PING`.
    pub fn start() -> RedisServer {
        Self::start_with(&[])
    }

    /// As [`Self::start`], with extra `redis-server` arguments.
    pub fn start_with(args: &[String]) -> RedisServer {
        let mut server = Self::new(args.to_vec());
        server.launch();
        server
    }

    /// A server that also listens with TLS on a second port, with a CA, a
    /// server certificate for 127.0.0.1 and a client certificate made here.
    /// With `require_client_cert`, TLS clients must present one. The plain
    /// port stays open for the harness's readiness checks.
    pub fn start_tls(require_client_cert: bool) -> RedisServer {
        let mut server = Self::new(Vec::new());
        let dir = server.dir.path();
        let ca = crate::testing::pki::TestCa::new("samlhub test redis CA");
        let other = crate::testing::pki::TestCa::new("unrelated CA");
        let write = |name: &str, pem: &str| {
            let path = dir.join(name);
            std::fs::write(&path, pem).expect("write pem");
            path
        };
        let (server_key, server_cert) = ca.issue("127.0.0.1", true);
        let (client_key, client_cert) = ca.issue("samlhub", false);
        let tls = RedisTls {
            port: free_port(),
            ca_file: write("ca.crt", &ca.cert_pem),
            cert_file: write("client.crt", &client_cert),
            key_file: write("client.key", &client_key),
            other_ca_file: write("other-ca.crt", &other.cert_pem),
        };
        let server_cert = write("server.crt", &server_cert);
        let server_key = write("server.key", &server_key);
        let path = |p: &Path| p.display().to_string();
        server.args = vec![
            "--tls-port".into(),
            tls.port.to_string(),
            "--tls-cert-file".into(),
            path(&server_cert),
            "--tls-key-file".into(),
            path(&server_key),
            "--tls-ca-cert-file".into(),
            path(&tls.ca_file),
            "--tls-auth-clients".into(),
            if require_client_cert { "yes" } else { "no" }.into(),
        ];
        server.tls = Some(tls);
        server.launch();
        server
    }

    /// A Sentinel (`redis-server <conf> --sentinel`) whose config file
    /// holds `conf` (the `sentinel …` lines).
    pub fn start_sentinel(conf: &str) -> RedisServer {
        let mut server = Self::new(Vec::new());
        let path = server.dir.path().join("sentinel.conf");
        std::fs::write(&path, conf).expect("write sentinel.conf");
        server.sentinel_conf = Some(path);
        server.launch();
        server
    }

    fn new(args: Vec<String>) -> RedisServer {
        RedisServer {
            port: free_port(),
            dir: tempfile::tempdir().expect("temp dir for redis-server"),
            process: None,
            args,
            sentinel_conf: None,
            tls: None,
        }
    }

    /// The TLS port and files, for a server from [`Self::start_tls`].
    pub fn tls(&self) -> Option<&RedisTls> {
        self.tls.as_ref()
    }

    /// Runs `redis-cli -p <port> args…` and returns its stdout.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run redis-cli");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Whether this replica's link to its master is up (its first full
    /// sync done).
    pub fn in_sync(&self) -> bool {
        self.cli(&["INFO", "replication"])
            .contains("master_link_status:up")
    }

    /// Freezes the server (SIGSTOP): connections stay open, nothing answers.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Thaws a server frozen by [`Self::pause`] (SIGCONT).
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, sig: &str) {
        if let Some(p) = &self.process {
            let ok = Command::new("kill")
                .args([sig, &p.pid().to_string()])
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            assert!(ok, "kill {sig} redis-server");
        }
    }

    /// `redis://127.0.0.1:<port>/`
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The running server's process id.
    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().map(ProcessGroup::pid)
    }

    /// Kills the server and waits for it to exit. Idempotent.
    pub fn stop(&mut self) {
        // A paused server would ignore SIGTERM until thawed.
        self.resume();
        if let Some(mut process) = self.process.take() {
            process.stop();
        }
    }

    /// Stops the server (if running) and starts a fresh one on the same port.
    pub fn restart(&mut self) {
        self.stop();
        self.launch();
    }

    /// Stops the server (if running) and starts it again on the same port
    /// as a replica of `master_port`, as an operator brings a failed master
    /// back after a failover. A master without persistence that restarted as
    /// a master would come back empty, and a second failover could promote it
    /// and wipe its replicas (docs/security.md, "What a failover can lose").
    pub fn restart_as_replica_of(&mut self, master_port: u16) {
        self.stop();
        if let Some(i) = self.args.iter().position(|a| a == "--replicaof") {
            self.args.drain(i..(i + 3).min(self.args.len()));
        }
        self.args.extend([
            "--replicaof".to_owned(),
            "127.0.0.1".to_owned(),
            master_port.to_string(),
        ]);
        self.launch();
    }

    fn launch(&mut self) {
        assert!(self.process.is_none(), "redis-server already running");
        if !on_path("redis-server") {
            panic!(
                "redis-server is not on PATH. Run the project's test command, which \
                 installs the test peers (or `apt-get install -y redis-server`)."
            );
        }
        let log_path = self.dir.path().join("redis.log");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .expect("redis log file");
        let mut cmd = Command::new("redis-server");
        if let Some(conf) = &self.sentinel_conf {
            cmd.arg(conf).arg("--sentinel");
        } else {
            cmd.args(["--save", ""]).args(["--appendonly", "no"]);
        }
        cmd.args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .args(["--protected-mode", "yes"])
            .args(["--daemonize", "no"])
            .args(&self.args)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone log handle"))
            .stderr(log);
        let mut process = ProcessGroup::spawn("redis-server", cmd);
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if ping(self.port) {
                break;
            }
            let exited = process.try_exit_status();
            if exited.is_some() || Instant::now() >= deadline {
                process.stop();
                let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                panic!(
                    "redis-server on port {} not ready (exit: {exited:?}) within {READY_TIMEOUT:?}; log:\n{log}",
                    self.port
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.process = Some(process);
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

pub fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
        .unwrap_or(false)
}

/// One inline `PING`; true on `+PONG`.
fn ping(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let _ = stream.set_write_timeout(Some(Duration::from_millis(500)));
    if stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut reply = [0u8; 7];
    stream.read_exact(&mut reply).is_ok() && &reply == b"+PONG\r\n"
}
