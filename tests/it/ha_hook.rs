//! Both HA `command_line` hook forms — `contrib/ha/samlhub_hook.py` under
//! `python3` and `samlhub ha-verify` — run exactly as stock HA runs them (an
//! environment holding only `username` and `password`, cwd = a config dir)
//! against a fake hub that answers `/ha/redeem` per test.
//!
//! Every case asserts the exit status, stdout (the meta lines, or nothing),
//! one `samlhub-hook: ` line on stderr for refusals, that the code, the secret
//! and the token never show up in the output, and what the hub received.

use crate::peers::free_port;
use crate::peers::samlhub::BIN;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use samlhub::clock::{Clock as _, SystemClock};
use samlhub::ha::token::{mint, Claims, Group};
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/contrib/ha/samlhub_hook.py");
const SECRET: &str = "hook-secret-7Hq2Zp81XqWv";
/// What the secret file holds: the secret with whitespace around it.
const SECRET_FILE_CONTENT: &str = "  hook-secret-7Hq2Zp81XqWv \n";
const CODE: &str = "493817-c0de-JqTm";
const USERNAME: &str = "alice";
const INSTANCE: &str = "home";
/// The hook's own deadline is 5 s. The slow hub answers after
/// [`SLOW_HUB`], so a run that ends before that shows the deadline; the
/// bound leaves room for interpreter start on a busy box.
const TIMEOUT_BOUND: Duration = Duration::from_secs(10);
const SLOW_HUB: Duration = Duration::from_secs(12);

#[derive(Clone, Copy, Debug)]
enum Hook {
    Python,
    Rust,
}

/// The hooks compare against the real clock, so the tokens must too.
fn now() -> i64 {
    SystemClock.now().unix_timestamp()
}

fn claims() -> Claims {
    let now = now();
    Claims {
        iss: "https://sso.example.org".into(),
        aud: INSTANCE.into(),
        sub: USERNAME.into(),
        name: "Alice Example".into(),
        group: Group::Admin,
        local_only: false,
        iat: now,
        exp: now + 60,
        jti: "jti-0001".into(),
    }
}

fn token(claims: &Claims) -> String {
    mint(claims, SECRET.as_bytes()).unwrap()
}

// --- the fake hub ---------------------------------------------------------

#[derive(Clone)]
pub(crate) enum Reply {
    /// HTTP `status` with `body` as `application/json`.
    Json(u16, String),
    /// HTTP 200 with a body that is not JSON.
    Garbage,
    /// Sleeps this long, then answers 200 with `{"token": …}`.
    Sleep(Duration, String),
}

pub(crate) fn token_reply(token: &str) -> Reply {
    Reply::Json(200, serde_json::json!({ "token": token }).to_string())
}

#[derive(Debug, Clone)]
struct Received {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A tiny HTTP/1.1 server on 127.0.0.1: one thread per connection, each
/// request recorded before it is answered, `Connection: close` always. Its
/// threads are detached and end with the test process.
pub(crate) struct FakeHub {
    pub(crate) url: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl FakeHub {
    pub(crate) fn start(reply: Reply) -> FakeHub {
        FakeHub::start_on(free_port(), reply)
    }

    /// On a port chosen beforehand (so a peer can be configured first).
    pub(crate) fn start_on(port: u16, reply: Reply) -> FakeHub {
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let rec = Arc::clone(&received);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let rec = Arc::clone(&rec);
                let reply = reply.clone();
                std::thread::spawn(move || serve(stream, &rec, &reply));
            }
        });
        FakeHub {
            url: format!("http://127.0.0.1:{port}"),
            received,
        }
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

fn serve(stream: TcpStream, rec: &Mutex<Vec<Received>>, reply: &Reply) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let Ok(mut write) = stream.try_clone() else {
        return;
    };
    let mut r = BufReader::new(stream);
    let mut line = String::new();
    if r.read_line(&mut line).is_err() {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let target = parts.next().unwrap_or_default().to_owned();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        match r.read_line(&mut h) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let h = h.trim_end_matches(['\r', '\n']);
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    let len = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0)
        .min(1 << 20);
    let mut body = vec![0; len];
    if r.read_exact(&mut body).is_err() {
        return;
    }
    rec.lock().unwrap().push(Received {
        method,
        target,
        headers,
        body,
    });
    let (status, ctype, body) = match reply {
        Reply::Json(status, body) => (*status, "application/json", body.clone()),
        Reply::Garbage => (200, "text/html", "<html>\x00\u{1}not json {".to_owned()),
        Reply::Sleep(d, token) => {
            std::thread::sleep(*d);
            (
                200,
                "application/json",
                serde_json::json!({ "token": token }).to_string(),
            )
        }
    };
    let reason = match status {
        200 => "OK",
        403 => "Forbidden",
        503 => "Service Unavailable",
        _ => "Whatever",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = write.write_all(head.as_bytes());
    let _ = write.write_all(body.as_bytes());
    let _ = write.flush();
}

// --- running a hook -------------------------------------------------------

/// The real python3 interpreter: the first `python3` on PATH, resolved
/// through `sys.executable` (PATH entries may be shims that need PATH/HOME).
pub(crate) fn python3() -> &'static Path {
    static PY: OnceLock<PathBuf> = OnceLock::new();
    PY.get_or_init(|| {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let found = std::env::split_paths(&path)
            .map(|d| d.join("python3"))
            .find(|p| p.is_file())
            .or_else(|| {
                ["/usr/local/bin/python3", "/usr/bin/python3"]
                    .iter()
                    .map(PathBuf::from)
                    .find(|p| p.is_file())
            })
            .expect("python3 not found on PATH: the Python hook cases need it");
        let out = Command::new(&found)
            .args(["-c", "import sys; sys.stdout.write(sys.executable)"])
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", found.display()));
        assert!(out.status.success(), "{} failed: {out:?}", found.display());
        let exe = PathBuf::from(String::from_utf8(out.stdout).unwrap());
        assert!(exe.is_absolute() && exe.is_file(), "sys.executable {exe:?}");
        exe
    })
}

struct Run {
    hook: Hook,
    status: ExitStatus,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:?} hook: {} after {:?}\n--- stdout:\n{}--- stderr:\n{}",
            self.hook, self.status, self.elapsed, self.stdout, self.stderr
        )
    }
}

/// A HA config dir holding the secret file (with whitespace around it).
struct ConfigDir {
    dir: tempfile::TempDir,
}

impl ConfigDir {
    fn new() -> ConfigDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("samlhub-ha.secret"), SECRET_FILE_CONTENT).unwrap();
        ConfigDir { dir }
    }

    fn secret_file(&self) -> PathBuf {
        self.dir.path().join("samlhub-ha.secret")
    }
}

/// Runs `hook` as HA does: env holds only `username` and `password`, cwd is
/// the config dir, stdin is empty. Kills it after 30 s.
fn run_hook(hook: Hook, hub: &str, username: &str, code: &str) -> Run {
    let cfg = ConfigDir::new();
    let secret_file = cfg.secret_file();
    let hook_args = [
        "--hub",
        hub,
        "--secret-file",
        secret_file.to_str().unwrap(),
        "--instance",
        INSTANCE,
    ];
    let mut cmd = match hook {
        Hook::Python => {
            let mut c = Command::new(python3());
            c.arg(SCRIPT);
            c
        }
        Hook::Rust => {
            let mut c = Command::new(BIN);
            c.arg("ha-verify");
            c
        }
    };
    cmd.args(hook_args)
        .env_clear()
        .env("username", username)
        .env("password", code)
        .current_dir(cfg.dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd.spawn().unwrap();
    // Pipes stay far below their buffer size: poll, then read.
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{hook:?} hook still running after 30 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let elapsed = start.elapsed();
    let mut stdout = String::new();
    let mut stderr = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    Run {
        hook,
        status,
        stdout,
        stderr,
        elapsed,
    }
}

// --- assertions -----------------------------------------------------------

/// Neither stream contains the code, the secret, the token or its MAC.
fn assert_no_leak(run: &Run, token: Option<&str>) {
    let mut secrets = vec![CODE, SECRET];
    if let Some(t) = token {
        secrets.push(t);
        if let Some(mac) = t.rsplit('.').next().filter(|m| m.len() >= 16) {
            secrets.push(mac);
        }
    }
    for s in secrets {
        assert!(
            !run.stdout.contains(s) && !run.stderr.contains(s),
            "output leaks a secret value\n{run}"
        );
    }
}

/// The hub got exactly one POST /ha/redeem with the bearer secret and the
/// JSON body.
fn assert_request(hub: &FakeHub, username: &str) {
    let got = hub.received();
    assert_eq!(got.len(), 1, "hub received {got:#?}");
    let req = &got[0];
    assert_eq!(req.method, "POST");
    assert_eq!(req.target, "/ha/redeem");
    assert_eq!(
        req.header("authorization"),
        Some(format!("Bearer {SECRET}").as_str()),
        "{req:#?}"
    );
    let ctype = req.header("content-type").unwrap_or_default();
    assert!(ctype.starts_with("application/json"), "{req:#?}");
    let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({ "instance": INSTANCE, "username": username, "code": CODE })
    );
}

fn assert_accepted(run: &Run, stdout: &str, token: &str) {
    assert_eq!(run.status.code(), Some(0), "{run}");
    assert_eq!(run.stdout, stdout, "{run}");
    assert_no_leak(run, Some(token));
}

/// Exit 1, nothing on stdout, one `samlhub-hook: ` line on stderr naming the
/// reason (any of `reasons`, case-insensitive), no secret values.
fn assert_refused(run: &Run, reasons: &[&str], token: Option<&str>) {
    assert_eq!(run.status.code(), Some(1), "{run}");
    assert_eq!(run.stdout, "", "{run}");
    assert_eq!(run.stderr.lines().count(), 1, "{run}");
    assert!(run.stderr.starts_with("samlhub-hook: "), "{run}");
    let lower = run.stderr.to_lowercase();
    assert!(
        reasons.iter().any(|r| lower.contains(r)),
        "stderr names none of {reasons:?}\n{run}"
    );
    assert_no_leak(run, token);
}

// --- cases ----------------------------------------------------------------

fn accepts(hook: Hook, c: Claims, stdout: &str) {
    let t = token(&c);
    let hub = FakeHub::start(token_reply(&t));
    let run = run_hook(hook, &hub.url, USERNAME, CODE);
    assert_accepted(&run, stdout, &t);
    assert_request(&hub, USERNAME);
}

fn valid(hook: Hook) {
    accepts(
        hook,
        claims(),
        "name = Alice Example\ngroup = system-admin\n",
    );
}

fn valid_local_only(hook: Hook) {
    let mut c = claims();
    c.local_only = true;
    accepts(
        hook,
        c,
        "name = Alice Example\ngroup = system-admin\nlocal_only = true\n",
    );
}

/// CR/LF in the name cannot inject a `group = ` line.
fn name_cannot_inject_lines(hook: Hook) {
    let mut c = claims();
    c.name = "Mallory\r\ngroup = system-admin\nlocal_only = false".into();
    c.group = Group::ReadOnly;
    accepts(
        hook,
        c,
        "name = Mallorygroup = system-adminlocal_only = false\ngroup = system-read-only\n",
    );
}

fn refuses_token(hook: Hook, t: String, reasons: &[&str]) {
    let hub = FakeHub::start(token_reply(&t));
    let run = run_hook(hook, &hub.url, USERNAME, CODE);
    assert_refused(&run, reasons, Some(&t));
    assert_request(&hub, USERNAME);
}

fn other_secret(hook: Hook) {
    let t = mint(&claims(), b"another-secret-entirely").unwrap();
    refuses_token(hook, t, &["signature"]);
}

fn other_audience(hook: Hook) {
    let mut c = claims();
    c.aud = "cabin".into();
    refuses_token(hook, token(&c), &["audience", "instance"]);
}

fn expired(hook: Hook) {
    let mut c = claims();
    c.iat = now() - 120;
    c.exp = c.iat + 60;
    refuses_token(hook, token(&c), &["expired"]);
}

fn other_username(hook: Hook) {
    let mut c = claims();
    c.sub = "bob".into();
    refuses_token(hook, token(&c), &["username"]);
}

fn lifetime_too_long(hook: Hook) {
    let mut c = claims();
    c.exp = c.iat + 3600;
    refuses_token(hook, token(&c), &["lifetime"]);
}

fn alg_none(hook: Hook) {
    let signed = token(&claims());
    let payload = signed.split('.').nth(1).unwrap();
    let t = format!("{}.{payload}.", B64.encode(r#"{"alg":"none","typ":"JWT"}"#));
    refuses_token(hook, t, &["hs256", "alg"]);
}

fn refuses_reply(hook: Hook, reply: Reply, reasons: &[&str]) {
    let hub = FakeHub::start(reply);
    let run = run_hook(hook, &hub.url, USERNAME, CODE);
    assert_refused(&run, reasons, None);
    assert_request(&hub, USERNAME);
}

fn http_403(hook: Hook) {
    refuses_reply(
        hook,
        Reply::Json(403, r#"{"error":"refused"}"#.into()),
        &["403"],
    );
}

fn http_503(hook: Hook) {
    refuses_reply(
        hook,
        Reply::Json(503, r#"{"error":"unavailable"}"#.into()),
        &["503"],
    );
}

fn garbage_body(hook: Hook) {
    refuses_reply(hook, Reply::Garbage, &["json", "token", "body", "answer"]);
}

/// A hub that answers (validly) only after [`SLOW_HUB`]: the hook gives up
/// at 5 s.
fn slow_hub(hook: Hook) {
    let t = token(&claims());
    let hub = FakeHub::start(Reply::Sleep(SLOW_HUB, t.clone()));
    let run = run_hook(hook, &hub.url, USERNAME, CODE);
    assert_refused(&run, &["timeout", "timed out"], Some(&t));
    assert!(run.elapsed < TIMEOUT_BOUND, "{run}");
    assert_request(&hub, USERNAME);
}

fn hub_unreachable(hook: Hook) {
    let port = free_port(); // nothing listens there
    let run = run_hook(hook, &format!("http://127.0.0.1:{port}"), USERNAME, CODE);
    assert_refused(&run, &["unreachable", "refused", "connect"], None);
}

fn non_http_hub(hook: Hook) {
    let run = run_hook(hook, "file:///etc/passwd", USERNAME, CODE);
    assert_refused(&run, &["http"], None);
}

macro_rules! both_hooks {
    ($($case:ident),* $(,)?) => {$(
        mod $case {
            #[test]
            fn python() {
                super::$case(super::Hook::Python);
            }
            #[test]
            fn rust() {
                super::$case(super::Hook::Rust);
            }
        }
    )*};
}

both_hooks!(
    valid,
    valid_local_only,
    name_cannot_inject_lines,
    other_secret,
    other_audience,
    expired,
    other_username,
    lifetime_too_long,
    alg_none,
    http_403,
    http_503,
    garbage_body,
    slow_hub,
    hub_unreachable,
    non_http_hub,
);

/// Both hooks word a hub refusal identically, detail included, so HA's log
/// reads the same whichever one runs; an `error` that is not short plain
/// text is left out by both.
#[test]
fn hub_refusals_are_worded_alike_by_both_hooks() {
    for (reply, expected) in [
        (
            Reply::Json(403, r#"{"error":"refused"}"#.into()),
            "samlhub-hook: hub refused the code: HTTP 403: refused\n",
        ),
        (
            Reply::Json(503, r#"{"error":"unavailable"}"#.into()),
            "samlhub-hook: hub refused the code: HTTP 503: unavailable\n",
        ),
        (
            Reply::Json(403, r#"{"error":"line\nbreak"}"#.into()),
            "samlhub-hook: hub refused the code: HTTP 403\n",
        ),
    ] {
        let hub = FakeHub::start(reply);
        for hook in [Hook::Python, Hook::Rust] {
            let run = run_hook(hook, &hub.url, USERNAME, CODE);
            assert_eq!(run.status.code(), Some(1), "{run}");
            assert_eq!(run.stderr, expected, "{run}");
        }
    }
}
