//! The samlhub binary under test, run as a real process: a temp data dir with
//! pre-made SP keys (so peers can be told our certificate before we start),
//! a config on a free loopback port, start/stop/restart, and its log.
//!
//! The library cannot know where cargo put the binary; tests and benchmarks
//! pass `env!("CARGO_BIN_EXE_samlhub")` to [`Samlhub::prepare`].

use super::{free_port, wait_for_http, ProcessGroup};
use crate::testing::pki::TestKey;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

pub struct Samlhub {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    sp_key: TestKey,
    proc: Option<ProcessGroup>,
    starts: u32,
}

impl Samlhub {
    /// A data dir with SP signing/encryption keys, and a port, for the
    /// samlhub binary at `bin`; not started.
    pub fn prepare(bin: impl Into<PathBuf>) -> Samlhub {
        let dir = tempfile::Builder::new()
            .prefix("samlhub-it-")
            .tempdir()
            .unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        let sp_key = TestKey::generate("samlhub-sp-signing", 2048);
        sp_key.write_to(&data, "sp-signing");
        TestKey::generate("samlhub-sp-encryption", 2048).write_to(&data, "sp-encryption");
        Samlhub {
            bin: bin.into(),
            dir,
            port: free_port(),
            sp_key,
            proc: None,
            starts: 0,
        }
    }

    /// The binary this hub runs.
    pub fn bin(&self) -> &Path {
        &self.bin
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
    pub fn entity_id(&self) -> String {
        format!("{}/saml/metadata", self.base_url())
    }
    pub fn acs_url(&self) -> String {
        format!("{}/saml/acs", self.base_url())
    }
    pub fn sp_key(&self) -> &TestKey {
        &self.sp_key
    }
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("samlhub.toml")
    }

    /// Writes the config: listen/public_url/data_dir, then `body` (store, [[idp]]…).
    /// Every test talks to the hub from 127.0.0.1, one client address, at
    /// a pace no person reaches; so the per-address rate limit is off unless
    /// `body` configures `[rate_limit]` itself (as the tests of the limit do).
    pub fn write_config(&self, body: &str) {
        self.write_config_behind(&self.base_url(), &self.data_dir(), body);
    }

    /// As [`Self::write_config`], for one of several instances: its own
    /// listen port, but `public_url` (the address in front of them all) and
    /// `data_dir` (the key files) as every instance has them.
    pub fn write_config_behind(&self, public_url: &str, data_dir: &Path, body: &str) {
        let limit = if body.contains("[rate_limit]") {
            ""
        } else {
            "\n[rate_limit]\nenabled = false\n"
        };
        let text = format!(
            "listen = \"127.0.0.1:{p}\"\npublic_url = \"{public_url}\"\ndata_dir = \"{d}\"\n{body}\n{limit}",
            p = self.port,
            d = data_dir.display()
        );
        std::fs::write(self.config_path(), text).unwrap();
    }

    /// Starts the hub and waits until /healthz answers.
    pub fn start(&mut self) {
        assert!(self.proc.is_none(), "already running");
        self.starts += 1;
        let log =
            std::fs::File::create(self.dir.path().join(format!("samlhub-{}.log", self.starts)))
                .unwrap();
        let mut cmd = Command::new(&self.bin);
        cmd.arg("serve")
            .arg("--config")
            .arg(self.config_path())
            .env("RUST_LOG", "info")
            .env_remove("SAMLHUB_CONFIG")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        // Stopped as an operator would: the drain (at most
        // `SHUTDOWN_TIMEOUT_SECS`) and the store's last sync run to the end,
        // so state written without a sync of its own is there after a
        // restart, however loaded the machine.
        let grace = Duration::from_secs(crate::http::lifecycle::SHUTDOWN_TIMEOUT_SECS + 5);
        let mut pg = ProcessGroup::spawn("samlhub", cmd).with_grace(grace);
        let url = format!("{}/healthz", self.base_url());
        // Generous: a hub run under valgrind (benches/login_instructions.sh)
        // takes tens of seconds to answer its first request.
        if let Err(e) = wait_for_http(&url, Duration::from_secs(60)) {
            let status = pg.try_exit_status();
            panic!(
                "samlhub did not start ({e}, exit {status:?}); log:\n{}",
                self.log()
            );
        }
        self.proc = Some(pg);
    }

    /// The running hub's process id.
    pub fn pid(&self) -> Option<u32> {
        self.proc.as_ref().map(ProcessGroup::pid)
    }

    pub fn stop(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.stop();
        }
    }

    pub fn restart(&mut self) {
        self.stop();
        self.start();
    }

    /// Everything the hub logged in all its runs.
    pub fn log(&self) -> String {
        let mut s = String::new();
        for i in 1..=self.starts {
            s.push_str(
                &std::fs::read_to_string(self.dir.path().join(format!("samlhub-{i}.log")))
                    .unwrap_or_default(),
            );
        }
        s
    }
}

impl Samlhub {
    /// Starts an SP-initiated login at IdP `idp` in `b` and returns the
    /// RelayState and the AuthnRequest's ID from the redirect to the IdP.
    pub fn begin_login(&self, b: &mut super::browser::Browser, idp: &str) -> (String, String) {
        let page = b.get(&format!("{}/saml/login?idp={idp}", self.base_url()));
        assert_eq!(page.status, 302, "login: {}", page.head());
        let loc = page.location.clone().unwrap();
        let relay_state = super::browser::query_param(&loc, "RelayState").unwrap();
        (relay_state, request_id_of(&loc))
    }
}

impl Samlhub {
    /// The port the hub listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Sends `sig` (as `kill` names it: `HUP`, `TERM`) to the hub process.
    pub fn signal(&self, sig: &str) {
        let pid = self.proc.as_ref().expect("not running").pid();
        let ok = Command::new("kill")
            .args([&format!("-{sig}"), &pid.to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill -{sig} {pid} failed");
    }

    /// Waits (at most `timeout`) for the hub process to exit; its status.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let p = self.proc.as_mut()?;
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Some(s) = p.try_exit_status() {
                return Some(s);
            }
            if std::time::Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether the hub process is still running.
    pub fn running(&mut self) -> bool {
        self.proc
            .as_mut()
            .is_some_and(|p| p.try_exit_status().is_none())
    }

    /// Waits (at most `timeout`) until the log holds `text`; the log.
    pub fn wait_log(&self, text: &str, timeout: Duration) -> String {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let log = self.log();
            if log.contains(text) {
                return log;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no '{text}' in the log within {timeout:?}:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The AuthnRequest ID inside a Redirect-binding URL.
pub fn request_id_of(url: &str) -> String {
    use base64::Engine as _;
    use std::io::Read as _;
    let req = super::browser::query_param(url, "SAMLRequest").unwrap();
    let raw = base64::engine::general_purpose::STANDARD
        .decode(req)
        .unwrap();
    let mut xml = String::new();
    flate2::read::DeflateDecoder::new(raw.as_slice())
        .read_to_string(&mut xml)
        .unwrap();
    let start = xml.find(" ID=\"").unwrap() + 5;
    let len = xml[start..].find('"').unwrap();
    xml[start..start + len].to_owned()
}

impl Drop for Samlhub {
    fn drop(&mut self) {
        self.stop();
    }
}
