//! A real headless Chromium driven through `chromedriver` (owned by the peers
//! harness), for tests that depend on what a current browser actually does:
//! cookie rules (SameSite, Secure), auto-submitting forms, redirects.
//!
//! Debian's `chromium` and `chromium-driver` are installed with apt when
//! `chromedriver` is missing (through `ensure_packages` of scripts/lib.sh, so
//! as root or with sudo; scripts/test.sh installs them up front).
//! [`Chromium::start`] runs `chromedriver` on a free 127.0.0.1 port in its own
//! process group and opens one W3C WebDriver session (spoken with `ureq` and
//! `serde_json`) on a headless browser with a fresh profile in a temp dir.
//! Dropping the [`Chromium`] ends the session, kills the driver's process
//! group and any leftover browser process of that profile. Starting takes
//! about 1.5 s (driver up ~0.1 s, session ~1.2 s); ending it ~0.2 s.
//!
//! Hostnames: every session starts with
//! `--host-resolver-rules=MAP *.test 127.0.0.1`, so `http://idp.test:PORT/` and
//! `http://hub.test:PORT/` reach servers bound to 127.0.0.1 (the servers keep
//! binding 127.0.0.1 only; the names exist only inside this browser). Two such
//! names are two different sites, which is what a cross-site test needs.
//! `localhost`, `*.localhost` and `127.0.0.1` resolve to loopback as they are.
//!
//! Observed with Chromium 156.0.8078.114 (Debian 12), headless, plain http
//! (`chromium_selftest` asserts all of this; a page on site A auto-submits a
//! POST form to site B, a top-level cross-site navigation):
//! - Cookies sent with the cross-site POST: `SameSite=None; Secure` ones, and
//!   ones set WITHOUT a SameSite attribute — the latter only while younger
//!   than two minutes (Chromium's "Lax allowing unsafe" grace for default-Lax
//!   cookies; after 125 s it is no longer sent, see the ignored
//!   `chromium_plain_cookie_older_than_two_minutes`). `SameSite=Lax` and
//!   `SameSite=Strict` cookies are NOT sent. `SameSite=None` without `Secure`
//!   is rejected when set.
//! - `Secure` cookies over plain http: accepted (stored and sent) on
//!   `localhost`, `*.localhost` and `127.0.0.1` (potentially trustworthy
//!   origins); silently rejected on any other http host (e.g. `hub.test`).
//!   So on `hub.test` over http only the no-attribute cookie survives the
//!   cross-site POST, and only within its two minutes.
//! - Cookies set in the answer to the cross-site POST (Lax, Strict, none,
//!   and `None; Secure` where Secure is accepted) are all stored, and sent on
//!   the next same-site request.
//! - `Sec-Fetch-Site: cross-site` comes with the POST to trustworthy hosts
//!   only; to `hub.test` over http there are no `Sec-Fetch-*` headers.
//! - `idp.localhost` and `hub.localhost` are two different sites, as are
//!   `127.0.0.1` and `localhost`; all of them resolve to loopback without any
//!   resolver rule.
//! - WebDriver's `GET /cookie` reports a cookie set without SameSite as
//!   `"Lax"`; [`Chromium::all_cookies`] (DevTools) reports it with no
//!   SameSite.
//! - `--disable-crashpad-for-testing` makes every page of this build hang:
//!   it is not used.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test harness: failing loudly is the point

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};

use super::{free_port, on_path, ProcessGroup};

/// The W3C key of an element reference in WebDriver JSON.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// How long the driver may take to answer `/status`.
const DRIVER_TIMEOUT: Duration = Duration::from_secs(10);

/// Default host mapping: `*.test` → 127.0.0.1 inside the browser.
pub const TEST_HOST_RULES: &str = "MAP *.test 127.0.0.1";

/// Debian's real browser binary (the `/usr/bin/chromium` wrapper script only
/// adds flags we don't want and a shell warning).
const CHROMIUM_BINARIES: &[&str] = &["/usr/lib/chromium/chromium", "/usr/bin/chromium"];

/// One cookie as the browser stores it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cookie {
    pub name: String,
    pub value: String,
    /// As stored: `"hub.test"` for a host-only cookie (WebDriver) — a leading
    /// dot marks a domain cookie.
    pub domain: String,
    pub path: String,
    /// `"Lax"`, `"Strict"` or `"None"` as reported; a cookie set without the
    /// attribute is reported as `"Lax"` by WebDriver.
    pub same_site: String,
    pub secure: bool,
    pub http_only: bool,
    /// Seconds since the epoch; `None` for a session cookie.
    pub expiry: Option<u64>,
}

impl Cookie {
    fn from_json(v: &Value) -> Cookie {
        Cookie {
            name: v["name"].as_str().unwrap_or_default().to_owned(),
            value: v["value"].as_str().unwrap_or_default().to_owned(),
            domain: v["domain"].as_str().unwrap_or_default().to_owned(),
            path: v["path"].as_str().unwrap_or_default().to_owned(),
            same_site: v["sameSite"].as_str().unwrap_or_default().to_owned(),
            secure: v["secure"].as_bool().unwrap_or(false),
            http_only: v["httpOnly"].as_bool().unwrap_or(false),
            expiry: v["expiry"].as_u64(),
        }
    }
}

/// Extra knobs for [`Chromium::start_with`].
#[derive(Clone, Debug, Default)]
pub struct ChromiumOptions {
    /// More browser switches, e.g. `"--lang=de"`.
    pub args: Vec<String>,
    /// Replaces [`TEST_HOST_RULES`] (`--host-resolver-rules=`), if set.
    pub host_resolver_rules: Option<String>,
}

/// A WebDriver error (or transport failure) as text.
#[derive(Clone, Debug)]
pub struct WebDriverError {
    /// The W3C error code (`"no such element"`, …) or `"transport"`.
    pub error: String,
    pub message: String,
}

impl std::fmt::Display for WebDriverError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.error, self.message)
    }
}

/// A headless Chromium session. All methods panic on WebDriver errors except
/// the `try_*` ones.
pub struct Chromium {
    driver: Option<ProcessGroup>,
    base: String,
    session: Option<String>,
    agent: ureq::Agent,
    profile: tempfile::TempDir,
    version: String,
    /// Keeps container tests from changing the network under this browser
    /// (dropped after the browser quits).
    _net: super::netlock::NetLock,
}

/// Installs `chromium` and `chromium-driver` when `chromedriver` is missing
/// (once per test process). `Err` says why it could not.
pub fn ensure_installed() -> Result<(), String> {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    DONE.get_or_init(|| {
        if on_path("chromedriver") && chromium_binary().is_some() {
            return Ok(());
        }
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        eprintln!("[chromium] installing chromium and chromium-driver with apt…");
        let t0 = Instant::now();
        let status = Command::new("bash")
            .arg("-c")
            .arg(". scripts/lib.sh && ensure_packages chromium chromium-driver")
            .current_dir(root)
            .stdin(Stdio::null())
            .status()
            .map_err(|e| format!("cannot run bash to install chromium: {e}"))?;
        if !status.success() {
            return Err(format!(
                "installing chromium chromium-driver failed ({status}); \
                 run `apt-get install -y chromium chromium-driver` as root"
            ));
        }
        if !on_path("chromedriver") || chromium_binary().is_none() {
            return Err("chromium/chromedriver still missing after apt".to_owned());
        }
        eprintln!("[chromium] installed in {:.1}s", t0.elapsed().as_secs_f64());
        Ok(())
    })
    .clone()
}

fn chromium_binary() -> Option<&'static str> {
    CHROMIUM_BINARIES
        .iter()
        .copied()
        .find(|p| Path::new(p).is_file())
}

impl Chromium {
    /// Starts a browser with the default switches. `None` (with the reason
    /// printed to stderr) when Chromium cannot be installed or started, so a
    /// caller can skip its test.
    pub fn start() -> Option<Chromium> {
        Chromium::start_with(&ChromiumOptions::default())
    }

    pub fn start_with(opts: &ChromiumOptions) -> Option<Chromium> {
        match Chromium::try_start(opts) {
            Ok(c) => Some(c),
            Err(reason) => {
                eprintln!("[chromium] not available, skipping: {reason}");
                None
            }
        }
    }

    /// Like [`Chromium::start_with`], with the reason as `Err`.
    pub fn try_start(opts: &ChromiumOptions) -> Result<Chromium, String> {
        ensure_installed()?;
        let binary = chromium_binary().ok_or("no chromium binary")?;
        let net = super::netlock::shared();
        let profile = tempfile::Builder::new()
            .prefix("samlhub-chromium-")
            .tempdir()
            .map_err(|e| format!("temp dir: {e}"))?;
        let port = free_port();
        let log_path = profile.path().join("chromedriver.log");
        let mut cmd = Command::new("chromedriver");
        cmd.arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .arg(format!("--log-path={}", log_path.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let driver = ProcessGroup::spawn("chromedriver", cmd);
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .max_redirects(0)
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        let mut me = Chromium {
            driver: Some(driver),
            base: format!("http://127.0.0.1:{port}"),
            session: None,
            agent,
            profile,
            version: String::new(),
            _net: net,
        };
        me.wait_for_driver()?;

        let user_data = me.profile.path().join("profile");
        let rules = opts
            .host_resolver_rules
            .as_deref()
            .unwrap_or(TEST_HOST_RULES);
        let mut args: Vec<String> = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--password-store=basic",
            "--window-size=1024,768",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        args.push(format!("--user-data-dir={}", user_data.display()));
        // Keeps the crash handler's command line naming our temp dir, so the
        // pid sweep on drop finds it too. (`--disable-crashpad-for-testing`
        // hangs every page of this build: don't.)
        args.push(format!(
            "--crash-dumps-dir={}",
            me.profile.path().join("crash").display()
        ));
        args.push(format!("--host-resolver-rules={rules}"));
        args.extend(opts.args.iter().cloned());
        let caps = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "pageLoadStrategy": "normal",
                    "timeouts": {"pageLoad": 30_000, "script": 30_000, "implicit": 0},
                    "goog:chromeOptions": {"binary": binary, "args": args},
                }
            }
        });
        let value = me
            .raw("POST", "/session", Some(&caps))
            .map_err(|e| format!("new session: {e}\n{}", me.log_tail()))?;
        let id = value["sessionId"]
            .as_str()
            .ok_or_else(|| format!("no sessionId in {value}"))?;
        me.session = Some(id.to_owned());
        me.version = value["capabilities"]["browserVersion"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        Ok(me)
    }

    fn wait_for_driver(&self) -> Result<(), String> {
        let deadline = Instant::now() + DRIVER_TIMEOUT;
        loop {
            if let Ok(v) = self.raw("GET", "/status", None) {
                if v["ready"].as_bool() == Some(true) {
                    return Ok(());
                }
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "chromedriver not ready after {DRIVER_TIMEOUT:?}\n{}",
                    self.log_tail()
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The browser version, e.g. `"156.0.8078.114"`.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The temp dir holding the profile and `chromedriver.log`.
    pub fn dir(&self) -> &Path {
        self.profile.path()
    }

    /// The last 40 lines of the driver log, for panic messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.profile.path().join("chromedriver.log"))
            .unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// One WebDriver command; `Ok` is the response's `value`.
    fn raw(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value, WebDriverError> {
        let url = format!("{}{path}", self.base);
        let transport = |e: ureq::Error| WebDriverError {
            error: "transport".to_owned(),
            message: format!("{method} {url}: {e}"),
        };
        let mut resp = match method {
            "GET" => self.agent.get(&url).call().map_err(transport)?,
            "DELETE" => self.agent.delete(&url).call().map_err(transport)?,
            _ => self
                .agent
                .post(&url)
                .header("content-type", "application/json; charset=utf-8")
                .send(body.unwrap_or(&json!({})).to_string())
                .map_err(transport)?,
        };
        let status = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        let parsed: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let value = parsed.get("value").cloned().unwrap_or(Value::Null);
        if status == 200 {
            return Ok(value);
        }
        Err(WebDriverError {
            error: value["error"].as_str().unwrap_or("unknown").to_owned(),
            message: value["message"]
                .as_str()
                .map_or_else(|| format!("HTTP {status}: {text}"), str::to_owned),
        })
    }

    /// A command on this session.
    pub fn try_cmd(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, WebDriverError> {
        let id = self.session.as_deref().unwrap_or("none");
        self.raw(method, &format!("/session/{id}{path}"), body.as_ref())
    }

    fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.try_cmd(method, path, body)
            .unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}"))
    }

    /// Navigates and waits for the load (following redirects and any
    /// auto-submitting form that runs during load).
    pub fn goto(&self, url: &str) {
        self.try_goto(url)
            .unwrap_or_else(|e| panic!("goto {url}: {e}"));
    }

    /// Like [`Chromium::goto`]; network errors come back as `Err`.
    pub fn try_goto(&self, url: &str) -> Result<(), WebDriverError> {
        self.try_cmd("POST", "/url", Some(json!({ "url": url })))
            .map(|_| ())
    }

    pub fn current_url(&self) -> String {
        self.cmd("GET", "/url", None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub fn title(&self) -> String {
        self.cmd("GET", "/title", None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The DOM serialized (not the bytes the server sent).
    pub fn page_source(&self) -> String {
        self.cmd("GET", "/source", None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// `document.body.innerText`.
    pub fn body_text(&self) -> String {
        self.execute_script("return document.body ? document.body.innerText : '';", &[])
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Cookies visible to the current page (WebDriver's view: those whose
    /// domain and path match the current URL, HttpOnly ones included).
    pub fn cookies(&self) -> Vec<Cookie> {
        let v = self.cmd("GET", "/cookie", None);
        v.as_array()
            .map_or_else(Vec::new, |a| a.iter().map(Cookie::from_json).collect())
    }

    /// The cookie `name` visible to the current page.
    pub fn cookie(&self, name: &str) -> Option<Cookie> {
        self.cookies().into_iter().find(|c| c.name == name)
    }

    /// Every cookie in the browser, whatever page is open (Chrome DevTools
    /// `Storage.getCookies`). `same_site` is `""` for a cookie set without
    /// the attribute (unlike [`Chromium::cookies`]).
    pub fn all_cookies(&self) -> Vec<Cookie> {
        let v = self.cdp("Storage.getCookies", json!({}));
        v["cookies"].as_array().map_or_else(Vec::new, |a| {
            a.iter()
                .map(|c| {
                    let mut cookie = Cookie::from_json(c);
                    cookie.expiry = c["expires"].as_f64().filter(|e| *e > 0.0).map(|e| e as u64);
                    cookie
                })
                .collect()
        })
    }

    /// Deletes every cookie of every site.
    pub fn clear_all_cookies(&self) {
        self.cdp("Storage.clearCookies", json!({}));
    }

    /// A Chrome DevTools Protocol command through chromedriver.
    pub fn cdp(&self, command: &str, params: Value) -> Value {
        self.cmd(
            "POST",
            "/goog/cdp/execute",
            Some(json!({ "cmd": command, "params": params })),
        )
    }

    /// Runs `js` as a function body (`arguments[i]` are `args`) and returns
    /// what it returns. Waits for a navigation the script starts.
    pub fn execute_script(&self, js: &str, args: &[Value]) -> Value {
        self.cmd(
            "POST",
            "/execute/sync",
            Some(json!({ "script": js, "args": args })),
        )
    }

    /// The element reference of the first match of `css`, if any.
    pub fn find(&self, css: &str) -> Option<Value> {
        let v = self
            .try_cmd(
                "POST",
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .ok()?;
        Some(json!({ ELEMENT_KEY: v[ELEMENT_KEY] }))
    }

    fn element_id(&self, css: &str) -> String {
        let found = self
            .try_cmd(
                "POST",
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .unwrap_or_else(|e| {
                panic!(
                    "no element {css:?} on {}: {e}\n{}",
                    self.current_url(),
                    self.page_source()
                )
            });
        found[ELEMENT_KEY].as_str().unwrap_or_default().to_owned()
    }

    /// Clicks the first match of `css` (waits for a navigation it starts).
    pub fn click(&self, css: &str) {
        let id = self.element_id(css);
        self.cmd("POST", &format!("/element/{id}/click"), Some(json!({})));
    }

    /// Replaces the value of the input matching `css` by typing `text`.
    pub fn fill(&self, css: &str, text: &str) {
        let id = self.element_id(css);
        self.cmd("POST", &format!("/element/{id}/clear"), Some(json!({})));
        self.cmd(
            "POST",
            &format!("/element/{id}/value"),
            Some(json!({ "text": text })),
        );
    }

    /// Submits the form matching `css` (or the form of the element matching
    /// it) as a user would: submit handlers and validation run.
    pub fn submit(&self, css: &str) {
        let el = self
            .find(css)
            .unwrap_or_else(|| panic!("no element {css:?} on {}", self.current_url()));
        self.execute_script(
            "const e = arguments[0]; const f = e.tagName === 'FORM' ? e : e.form; \
             if (!f) { throw new Error('no form'); } f.requestSubmit();",
            &[el],
        );
    }

    /// The visible text of the first match of `css`.
    pub fn text(&self, css: &str) -> String {
        let id = self.element_id(css);
        self.cmd("GET", &format!("/element/{id}/text"), None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Polls `cond` every 50 ms until it holds (true) or `timeout` passes
    /// (false).
    pub fn wait_until(&self, timeout: Duration, mut cond: impl FnMut(&Chromium) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if cond(self) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until the current URL starts with `prefix`; panics with the page
    /// after `timeout`.
    pub fn wait_for_url(&self, prefix: &str, timeout: Duration) {
        if !self.wait_until(timeout, |c| c.current_url().starts_with(prefix)) {
            panic!(
                "still at {} after {timeout:?}, waiting for {prefix}:\n{}",
                self.current_url(),
                self.page_source()
            );
        }
    }

    /// A PNG of the viewport, written to `path`.
    pub fn screenshot_png(&self, path: &Path) {
        let b64 = self.cmd("GET", "/screenshot", None);
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().unwrap_or_default())
            .expect("screenshot is base64");
        std::fs::write(path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }

    /// Ends the session and stops the driver (also done on drop).
    pub fn quit(&mut self) {
        if let Some(id) = self.session.take() {
            let _ = self.raw("DELETE", &format!("/session/{id}"), None);
        }
        if let Some(mut driver) = self.driver.take() {
            driver.stop();
        }
        kill_profile_processes(self.profile.path());
    }
}

impl Drop for Chromium {
    fn drop(&mut self) {
        self.quit();
    }
}

/// Kills (by pid) every process whose command line names `dir`: browser
/// helpers that left the driver's process group would otherwise survive it.
fn kill_profile_processes(dir: &Path) {
    let needle = dir.to_string_lossy().into_owned();
    for pid in pids_mentioning(&needle) {
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Pids of live processes whose command line contains `needle`.
pub fn pids_mentioning(needle: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let me = std::process::id();
    entries
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()))
        .filter(|pid| *pid != me)
        .filter(|pid| {
            let path: PathBuf = ["/proc", &pid.to_string(), "cmdline"].iter().collect();
            std::fs::read(path)
                .map(|raw| String::from_utf8_lossy(&raw).contains(needle))
                .unwrap_or(false)
        })
        .collect()
}
