//! A real `redis-server` on a free loopback port, with no persistence, in a
//! temporary working directory. Stopped (killed and reaped) on drop.

use super::{free_port, ProcessGroup};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const READY_TIMEOUT: Duration = Duration::from_secs(10);

pub struct RedisServer {
    port: u16,
    dir: tempfile::TempDir,
    process: Option<ProcessGroup>,
}

impl RedisServer {
    /// Starts `redis-server` on a free 127.0.0.1 port and waits (≤ 10 s)
    /// until it answers `PING`.
    pub fn start() -> RedisServer {
        let dir = tempfile::tempdir().expect("temp dir for redis-server");
        let mut server = RedisServer {
            port: free_port(),
            dir,
            process: None,
        };
        server.launch();
        server
    }

    /// `redis://127.0.0.1:<port>/`
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills the server and waits for it to exit. Idempotent.
    pub fn stop(&mut self) {
        if let Some(mut process) = self.process.take() {
            process.stop();
        }
    }

    /// Stops the server (if running) and starts a fresh one on the same port.
    pub fn restart(&mut self) {
        self.stop();
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
        cmd.args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .args(["--save", ""])
            .args(["--appendonly", "no"])
            .args(["--protected-mode", "yes"])
            .args(["--daemonize", "no"])
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
