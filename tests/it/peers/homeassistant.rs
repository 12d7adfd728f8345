//! Home Assistant 2024.3.3 (PyPI `homeassistant`) as a real login client
//! (owned by the peers harness).
//!
//! HA is installed once into a venv at `<repo>/target/ha-venv-2024.3.3`
//! (reused across test runs; a marker file is written after a successful
//! install, and a `flock` on `<venv>.lock` keeps two test processes from
//! installing at the same time). Each [`HomeAssistant`] gets its own config
//! dir in a temp dir, onboarding already done, one `command_line` auth
//! provider per [`HaProvider`] (with `meta: true`) followed by the built-in
//! `homeassistant` provider, and runs `hass -c DIR --skip-pip` on a free
//! 127.0.0.1 port in its own process group. Dropping it stops the group.
//!
//! Quirks worth knowing:
//! - HA runs a provider's command with an environment holding ONLY
//!   `username` and `password` (no PATH): scripts need absolute paths or
//!   shell builtins. `command` must be an absolute path.
//! - With `meta: true`, stdout lines `name = …`, `group = …` and
//!   `local_only = true` are read, but they only take effect when HA creates
//!   the user (the first login of that username through that provider); later
//!   logins do not update name or group.
//! - `--skip-pip` keeps HA from pip-installing at runtime; the packages its
//!   default integrations need (frontend, recorder, backup, …) are installed
//!   into the venv up front instead.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test harness: failing loudly is the point

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::{free_port, wait_for_http, ProcessGroup};

/// The pinned HA release (the last one that runs on Python 3.11).
pub const HA_VERSION: &str = "2024.3.3";

/// How long the first start may take (HTTP up).
const READY_TIMEOUT: Duration = Duration::from_secs(120);

/// One `command_line` auth provider.
#[derive(Clone, Debug)]
pub struct HaProvider {
    /// Provider id, e.g. `"rust"`; the login flow handler is
    /// `["command_line", id]`.
    pub id: String,
    /// Shown on the login page.
    pub name: String,
    /// Absolute path of the command.
    pub command: String,
    pub args: Vec<String>,
}

impl HaProvider {
    pub fn new(id: &str, name: &str, command: &str, args: &[&str]) -> HaProvider {
        HaProvider {
            id: id.to_owned(),
            name: name.to_owned(),
            command: command.to_owned(),
            args: args.iter().map(|s| (*s).to_owned()).collect(),
        }
    }
}

/// Tokens from `POST /auth/token`.
#[derive(Clone, Debug)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: Option<String>,
}

/// The venv directory: `<repo>/target/ha-venv-2024.3.3`.
pub fn venv_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join(format!("ha-venv-{HA_VERSION}"))
}

const MARKER: &str = ".samlhub-ha-installed";

fn is_installed(venv: &Path) -> bool {
    venv.join("bin/hass").is_file() && venv.join(MARKER).is_file()
}

/// Installs HA into [`venv_dir`] unless already there (at most once per test
/// process; across processes serialized by a `flock`). Returns the venv.
pub fn ensure_installed() -> &'static Path {
    static VENV: OnceLock<PathBuf> = OnceLock::new();
    VENV.get_or_init(|| {
        let venv = venv_dir();
        if is_installed(&venv) {
            return venv;
        }
        let t0 = Instant::now();
        eprintln!(
            "[homeassistant] installing Home Assistant {HA_VERSION} into {} \
             (about 1-2 minutes, ~500 MB)…",
            venv.display()
        );
        let status = Command::new("python3")
            .arg("-c")
            .arg(INSTALL_PY)
            .arg(&venv)
            .arg(HA_VERSION)
            .stdin(Stdio::null())
            .stdout(Stdio::inherit())
            .stderr(Stdio::inherit())
            .status()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run python3 to install Home Assistant: {e} \
                     (a CPython 3.11 `python3` with venv and pip is needed)"
                )
            });
        if !status.success() || !is_installed(&venv) {
            panic!(
                "installing Home Assistant {HA_VERSION} into {} failed ({status}); \
                 see the messages above and {}.install.log",
                venv.display(),
                venv.display()
            );
        }
        eprintln!(
            "[homeassistant] venv ready after {:.1}s",
            t0.elapsed().as_secs_f64()
        );
        venv
    })
}

/// Installer (run by the system `python3`): argv = venv dir, HA version.
/// Holds an exclusive `flock` on `<venv>.lock` throughout; a venv without the
/// marker is a leftover of a failed install and is rebuilt from scratch.
const INSTALL_PY: &str = r#"
import ast, fcntl, json, os, re, shutil, subprocess, sys, time, zipfile

venv, version = sys.argv[1], sys.argv[2]
marker = os.path.join(venv, ".samlhub-ha-installed")
hass = os.path.join(venv, "bin", "hass")
log_path = venv + ".install.log"
t0 = time.monotonic()

def say(msg):
    print("[homeassistant] %5.1fs %s" % (time.monotonic() - t0, msg), file=sys.stderr, flush=True)

def run(args):
    say("$ " + " ".join(args))
    with open(log_path, "a") as log:
        log.write("\n$ " + " ".join(args) + "\n")
        log.flush()
        rc = subprocess.call(args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    if rc != 0:
        with open(log_path) as log:
            tail = log.read().splitlines()[-40:]
        say("FAILED (exit %d); last lines of %s:\n%s" % (rc, log_path, "\n".join(tail)))
        sys.exit(1)

os.makedirs(os.path.dirname(venv), exist_ok=True)
with open(venv + ".lock", "w") as lock:
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        say("another process is installing; waiting for " + venv + ".lock")
        fcntl.flock(lock, fcntl.LOCK_EX)
    if os.path.isfile(marker) and os.path.isfile(hass):
        say("already installed by another process")
        sys.exit(0)
    if os.path.exists(venv):
        say("removing incomplete venv")
        shutil.rmtree(venv)
    open(log_path, "w").close()
    run([sys.executable, "-m", "venv", venv])
    py = os.path.join(venv, "bin", "python")
    pip = [py, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    dl = os.path.join(venv, "_download")
    run(pip + ["download", "--no-deps", "-d", dl, "homeassistant==" + version])
    wheel = os.path.join(dl, "homeassistant-%s-py3-none-any.whl" % version)
    # HA's own pins (a plain `pip install homeassistant` backtracks forever),
    # and the requirements of what a start loads by default, so that
    # `hass --skip-pip` never needs to install anything at runtime.
    extras = []
    with zipfile.ZipFile(wheel) as z:
        constraints = os.path.join(venv, "package_constraints.txt")
        with open(constraints, "wb") as f:
            f.write(z.read("homeassistant/package_constraints.txt"))
        for domain in ["frontend", "backup", "file_upload", "hardware", "image_upload", "recorder"]:
            manifest = json.loads(z.read("homeassistant/components/%s/manifest.json" % domain))
            extras += manifest.get("requirements", [])
        totp = z.read("homeassistant/auth/mfa_modules/totp.py").decode()
        extras += ast.literal_eval(re.search(r"^REQUIREMENTS = (\[.*\])$", totp, re.M).group(1))
    extras = sorted(set(extras))
    # Without josepy<2 every HTTP request answers 500.
    run(pip + ["install", "-c", constraints, wheel, "josepy<2"] + extras)
    shutil.rmtree(dl)
    with open(marker, "w") as f:
        f.write("homeassistant==%s josepy<2 %s\n" % (version, " ".join(extras)))
    say("installed")
"#;

/// Websocket client (run by the venv's python, which has aiohttp). Reads
/// `{"url", "token", "messages"}` on stdin, prints a JSON list on stdout.
const WS_PY: &str = r#"
import asyncio, json, sys
import aiohttp

async def main():
    req = json.load(sys.stdin)
    out = []
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(req["url"]) as ws:
            async def recv():
                return await asyncio.wait_for(ws.receive_json(), 30)
            hello = await recv()
            if hello.get("type") != "auth_required":
                raise SystemExit("expected auth_required, got %r" % (hello,))
            await ws.send_json({"type": "auth", "access_token": req["token"]})
            auth = await recv()
            if auth.get("type") != "auth_ok":
                out.append(auth)
            else:
                for i, msg in enumerate(req["messages"], start=1):
                    msg = dict(msg)
                    msg["id"] = i
                    await ws.send_json(msg)
                    while True:
                        r = await recv()
                        if r.get("id") == i and r.get("type") == "result":
                            out.append(r)
                            break
    print(json.dumps(out))

asyncio.run(main())
"#;

/// A running Home Assistant.
pub struct HomeAssistant {
    // Field order: the process stops before the directory goes away.
    process: ProcessGroup,
    dir: tempfile::TempDir,
    venv: PathBuf,
    base_url: String,
    agent: ureq::Agent,
}

/// A YAML scalar: a JSON string is a valid YAML double-quoted scalar.
fn y(s: &str) -> String {
    serde_json::to_string(s).expect("json string")
}

fn configuration_yaml(port: u16, providers: &[HaProvider]) -> String {
    let mut c = String::new();
    c.push_str("homeassistant:\n  auth_providers:\n");
    for p in providers {
        let _ = writeln!(c, "    - type: command_line");
        let _ = writeln!(c, "      id: {}", y(&p.id));
        let _ = writeln!(c, "      name: {}", y(&p.name));
        let _ = writeln!(c, "      command: {}", y(&p.command));
        let args: Vec<String> = p.args.iter().map(|a| y(a)).collect();
        let _ = writeln!(c, "      args: [{}]", args.join(", "));
        let _ = writeln!(c, "      meta: true");
    }
    c.push_str("    - type: homeassistant\n");
    let _ = write!(
        c,
        "http:\n  server_host: 127.0.0.1\n  server_port: {port}\n\
         api:\nconfig:\nwebsocket_api:\n"
    );
    c
}

const ONBOARDING: &str = r#"{"version":4,"minor_version":1,"key":"onboarding","data":{"done":["user","core_config","analytics","integration"]}}"#;

impl HomeAssistant {
    /// Starts HA with the given `command_line` providers (then the built-in
    /// `homeassistant` one); returns once `/.well-known/oauth-authorization-server`
    /// answers 200 (≤ 120 s).
    pub fn start(providers: &[HaProvider]) -> HomeAssistant {
        HomeAssistant::start_on(free_port(), providers)
    }

    /// [`HomeAssistant::start`] on a port chosen beforehand (so the hub can
    /// be configured with HA's URL first).
    pub fn start_on(port: u16, providers: &[HaProvider]) -> HomeAssistant {
        let venv = ensure_installed().to_path_buf();
        let dir = tempfile::Builder::new()
            .prefix("samlhub-ha-")
            .tempdir()
            .expect("tempdir");
        let root = dir.path();
        std::fs::create_dir_all(root.join(".storage")).expect("mkdir .storage");
        write(
            root,
            "configuration.yaml",
            &configuration_yaml(port, providers),
        );
        write(root, ".storage/onboarding", ONBOARDING);
        write(root, "ws_client.py", WS_PY);

        let stdout = std::fs::File::create(root.join("hass-stdout.log")).expect("log file");
        let mut cmd = Command::new(venv.join("bin/hass"));
        cmd.arg("-c")
            .arg(root)
            .arg("--skip-pip")
            .arg("--log-no-color")
            .current_dir(root)
            .stdin(Stdio::null())
            .stdout(stdout.try_clone().expect("dup log"))
            .stderr(stdout);
        let t0 = Instant::now();
        let process = ProcessGroup::spawn("home assistant (hass)", cmd);
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .max_redirects(0)
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        let mut ha = HomeAssistant {
            process,
            dir,
            venv,
            base_url: format!("http://127.0.0.1:{port}"),
            agent,
        };
        let ready_url = format!("{}/.well-known/oauth-authorization-server", ha.base_url);
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let res = wait_for_http(&ready_url, Duration::from_secs(1));
            if res.is_ok() {
                break;
            }
            if let Some(status) = ha.process.try_exit_status() {
                panic!(
                    "Home Assistant exited during startup ({status})\n{}",
                    ha.log_tail()
                );
            }
            if Instant::now() >= deadline {
                panic!(
                    "Home Assistant did not become ready: {}\n{}",
                    res.unwrap_err(),
                    ha.log_tail()
                );
            }
        }
        eprintln!(
            "[homeassistant] HA ready at {} after {:.1}s",
            ha.base_url,
            t0.elapsed().as_secs_f64()
        );
        ha
    }

    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The frontend's client id: `base_url() + "/"`.
    pub fn client_id(&self) -> String {
        format!("{}/", self.base_url)
    }

    /// The redirect URI the frontend uses: `base_url() + "/?auth_callback=1"`.
    pub fn redirect_uri(&self) -> String {
        format!("{}/?auth_callback=1", self.base_url)
    }

    /// The config dir (temp dir).
    pub fn config_dir(&self) -> &Path {
        self.dir.path()
    }

    /// The venv HA runs from.
    pub fn venv(&self) -> &Path {
        &self.venv
    }

    /// The last lines of hass's stdout/stderr and of `home-assistant.log`.
    pub fn log_tail(&self) -> String {
        let mut out = String::new();
        for f in ["hass-stdout.log", "home-assistant.log"] {
            let text = std::fs::read_to_string(self.dir.path().join(f)).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let from = lines.len().saturating_sub(80);
            let _ = writeln!(out, "==> {f} <==");
            for l in lines.iter().skip(from) {
                let _ = writeln!(out, "{l}");
            }
        }
        out
    }

    fn post_json(&self, path: &str, body: &Value) -> (u16, String) {
        let url = format!("{}{path}", self.base_url);
        let mut resp = self
            .agent
            .post(&url)
            .header("content-type", "application/json")
            .send(body.to_string())
            .unwrap_or_else(|e| panic!("POST {url}: {e}\n{}", self.log_tail()));
        let status = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        (status, text)
    }

    fn parse(&self, what: &str, status: u16, text: &str) -> Value {
        serde_json::from_str(text).unwrap_or_else(|e| {
            panic!(
                "{what}: HTTP {status}, not JSON ({e}): {text}\n{}",
                self.log_tail()
            )
        })
    }

    /// `POST /auth/login_flow` with handler `["command_line", provider_id]`;
    /// returns the `flow_id`.
    pub fn login_flow_start(&self, provider_id: &str) -> String {
        let body = json!({
            "client_id": self.client_id(),
            "handler": ["command_line", provider_id],
            "redirect_uri": self.redirect_uri(),
        });
        let (status, text) = self.post_json("/auth/login_flow", &body);
        let v = self.parse("POST /auth/login_flow", status, &text);
        match v.get("flow_id").and_then(Value::as_str) {
            Some(id) if status == 200 => id.to_owned(),
            _ => panic!(
                "POST /auth/login_flow ({provider_id}): HTTP {status}: {text}\n{}",
                self.log_tail()
            ),
        }
    }

    /// `POST /auth/login_flow/<flow_id>` with the credentials; returns HA's
    /// JSON: `{"type":"create_entry","result":CODE,…}` or the form again with
    /// `errors: {"base":"invalid_auth"}`.
    pub fn login_flow_submit(&self, flow_id: &str, username: &str, password: &str) -> Value {
        let body = json!({
            "client_id": self.client_id(),
            "username": username,
            "password": password,
        });
        let (status, text) = self.post_json(&format!("/auth/login_flow/{flow_id}"), &body);
        self.parse("POST /auth/login_flow/<flow_id>", status, &text)
    }

    /// The whole login flow: `Ok(authorization code)` or `Err(HA's answer)`.
    pub fn login(
        &self,
        provider_id: &str,
        username: &str,
        password: &str,
    ) -> Result<String, Value> {
        let flow_id = self.login_flow_start(provider_id);
        let v = self.login_flow_submit(&flow_id, username, password);
        match (
            v.get("type").and_then(Value::as_str),
            v.get("result").and_then(Value::as_str),
        ) {
            (Some("create_entry"), Some(code)) => Ok(code.to_owned()),
            _ => Err(v),
        }
    }

    /// `POST /auth/token` with `grant_type=authorization_code`.
    pub fn exchange_code(&self, code: &str, client_id: &str) -> Result<Tokens, (u16, String)> {
        let url = format!("{}/auth/token", self.base_url);
        let mut resp = self
            .agent
            .post(&url)
            .send_form([
                ("grant_type", "authorization_code"),
                ("code", code),
                ("client_id", client_id),
            ])
            .unwrap_or_else(|e| panic!("POST {url}: {e}\n{}", self.log_tail()));
        let status = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        if status != 200 {
            return Err((status, text));
        }
        let v: Value = serde_json::from_str(&text).map_err(|_| (status, text.clone()))?;
        match v.get("access_token").and_then(Value::as_str) {
            Some(access) => Ok(Tokens {
                access_token: access.to_owned(),
                refresh_token: v
                    .get("refresh_token")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            }),
            None => Err((status, text)),
        }
    }

    /// `GET /api/` with the bearer token answers 200.
    pub fn api_ok(&self, access_token: &str) -> bool {
        let url = format!("{}/api/", self.base_url);
        self.agent
            .get(&url)
            .header("authorization", &format!("Bearer {access_token}"))
            .call()
            .map(|r| r.status().as_u16() == 200)
            .unwrap_or(false)
    }

    /// Talks to `/api/websocket`: authenticates with `access_token`, then
    /// sends each message (with `id` = 1, 2, …) and collects its `result`
    /// message (events are skipped). If authentication fails, the answer is
    /// just `[{"type":"auth_invalid",…}]` and nothing is sent.
    pub fn ws(&self, access_token: &str, messages: &[Value]) -> Vec<Value> {
        let input = json!({
            "url": format!("{}/api/websocket", self.base_url),
            "token": access_token,
            "messages": messages,
        });
        let mut child = Command::new(self.venv.join("bin/python"))
            .arg(self.dir.path().join("ws_client.py"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the websocket client (venv python)");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.to_string().as_bytes())
            .expect("write websocket request");
        let out = child.wait_with_output().expect("websocket client");
        if !out.status.success() {
            panic!(
                "websocket client failed ({}): {}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr),
                self.log_tail()
            );
        }
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "websocket client output is not JSON ({e}): {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }

    /// Sends one websocket command and returns its `result` (panics unless
    /// `success` is true).
    pub fn ws_result(&self, access_token: &str, message: Value) -> Value {
        let answers = self.ws(access_token, std::slice::from_ref(&message));
        match answers.first() {
            Some(a) if a.get("success") == Some(&Value::Bool(true)) => {
                a.get("result").cloned().unwrap_or(Value::Null)
            }
            _ => panic!("websocket {message}: {answers:?}"),
        }
    }

    /// `auth/current_user`: `{id, name, is_owner, is_admin, credentials, mfa_modules}`.
    pub fn current_user(&self, access_token: &str) -> Value {
        self.ws_result(access_token, json!({"type": "auth/current_user"}))
    }

    /// `config/auth/list` (admin only): a list of users with `id`, `name`,
    /// `username`, `is_owner`, `is_active`, `local_only`, `system_generated`,
    /// `group_ids` and `credentials` (`[{"type": "command_line"}]`). Note:
    /// `username` is only set for users of the built-in `homeassistant`
    /// provider; it is null for `command_line` users.
    pub fn list_users(&self, admin_token: &str) -> Value {
        self.ws_result(admin_token, json!({"type": "config/auth/list"}))
    }
}

fn write(root: &Path, rel: &str, content: &str) {
    std::fs::write(root.join(rel), content).unwrap_or_else(|e| panic!("write {rel}: {e}"));
}
