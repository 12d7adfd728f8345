//! Self-test of the Chromium peer (owned by the peers harness): a real
//! headless Chromium follows an auto-submitting cross-site POST form, and
//! which cookies travel with it is pinned down per cookie attribute. A tiny
//! HTTP server on 127.0.0.1 plays both sites; the browser reaches it under
//! different host names. Tests skip (with a message) when Chromium cannot run.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test harness: failing loudly is the point

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::peers::chromium::{pids_mentioning, Chromium};
use crate::peers::free_port;

/// One request the test server saw.
#[derive(Clone, Debug)]
struct Seen {
    method: String,
    /// `Host` without the port.
    host: String,
    path: String,
    /// Request headers, names lower-case.
    headers: BTreeMap<String, String>,
    body: String,
}

impl Seen {
    /// Names of the cookies in the `Cookie` header, sorted.
    fn cookie_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .headers
            .get("cookie")
            .map(|c| {
                c.split(';')
                    .filter_map(|kv| kv.split('=').next())
                    .map(|k| k.trim().to_owned())
                    .filter(|k| !k.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }
}

/// The cookies `/set` plants on a site, by the attributes they carry.
const SET_COOKIES: &[(&str, &str)] = &[
    ("plain", ""),
    ("lax", "; SameSite=Lax"),
    ("strict", "; SameSite=Strict"),
    ("none_secure", "; SameSite=None; Secure"),
    ("none_insecure", "; SameSite=None"),
    ("secure_only", "; Secure"),
];

/// The cookies the POST target sets in its answer to the cross-site POST.
const ACS_COOKIES: &[(&str, &str)] = &[
    ("acs_plain", ""),
    ("acs_lax", "; SameSite=Lax"),
    ("acs_strict", "; SameSite=Strict"),
    ("acs_none_secure", "; SameSite=None; Secure"),
];

/// A thread-per-connection HTTP/1.1 server on 127.0.0.1 that records every
/// request. `Connection: close` on every answer keeps it simple.
struct TestSites {
    port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestSites {
    fn start() -> TestSites {
        let port = free_port();
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen2, stop2) = (Arc::clone(&seen), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let seen = Arc::clone(&seen2);
                std::thread::spawn(move || serve(stream, &seen));
            }
        });
        TestSites {
            port,
            seen,
            stop,
            thread: Some(thread),
        }
    }

    fn url(&self, host: &str, path: &str) -> String {
        format!("http://{host}:{}{path}", self.port)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// The last request for `path` on `host`.
    fn last(&self, method: &str, host: &str, path: &str) -> Option<Seen> {
        self.seen()
            .into_iter()
            .rev()
            .find(|s| s.method == method && s.host == host && s.path == path)
    }
}

impl Drop for TestSites {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(stream: TcpStream, seen: &Mutex<Vec<Seen>>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return; // a speculative connection that never sent anything
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let path = parts.next().unwrap_or_default().to_owned();
    let mut headers = BTreeMap::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    let _ = reader.read_exact(&mut body);
    let host = headers
        .get("host")
        .map(|h| h.rsplit_once(':').map_or(h.as_str(), |(h, _)| h).to_owned())
        .unwrap_or_default();
    let req = Seen {
        method,
        host,
        path,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    let (status, set_cookies, html) = route(&req);
    seen.lock().unwrap().push(req);
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\n\
         Cache-Control: no-store\r\nConnection: close\r\nContent-Length: {}\r\n",
        html.len()
    );
    for c in set_cookies {
        out.push_str(&format!("Set-Cookie: {c}\r\n"));
    }
    out.push_str("\r\n");
    out.push_str(&html);
    let mut stream = reader.into_inner();
    let _ = stream.write_all(out.as_bytes());
    let _ = stream.flush();
}

fn page(title: &str, body: &str) -> String {
    format!("<!doctype html><html><head><title>{title}</title></head><body>{body}</body></html>")
}

fn cookies(list: &[(&str, &str)]) -> Vec<String> {
    list.iter()
        .map(|(name, attrs)| format!("{name}=1; Path=/{attrs}"))
        .collect()
}

/// `/set` plants [`SET_COOKIES`]; `/post-to?URL` auto-submits a POST form to
/// URL; `/acs` (POST) answers with [`ACS_COOKIES`]; `/read` and `/form` are
/// plain pages.
fn route(req: &Seen) -> (&'static str, Vec<String>, String) {
    let (path, query) = req.path.split_once('?').unwrap_or((req.path.as_str(), ""));
    match (req.method.as_str(), path) {
        ("GET", "/set") => ("200 OK", cookies(SET_COOKIES), page("set", "cookies set")),
        ("GET", "/post-to") => (
            "200 OK",
            Vec::new(),
            page(
                "posting",
                &format!(
                    "<form id=\"f\" method=\"post\" action=\"{query}\">\
                     <input type=\"hidden\" name=\"SAMLResponse\" value=\"abc\">\
                     <input type=\"submit\" value=\"Continue\"></form>\
                     <script>document.getElementById('f').submit();</script>"
                ),
            ),
        ),
        ("POST", "/acs") => (
            "200 OK",
            cookies(ACS_COOKIES),
            page("acs", &format!("<pre id=\"body\">{}</pre>", req.body)),
        ),
        ("GET", "/read") => ("200 OK", Vec::new(), page("read", "read")),
        ("GET", "/form") => (
            "200 OK",
            Vec::new(),
            page(
                "form",
                "<form id=\"login\" method=\"post\" action=\"/acs\">\
                 <input id=\"user\" name=\"user\" value=\"old\">\
                 <button id=\"go\" type=\"submit\">Go</button></form>",
            ),
        ),
        _ => ("404 Not Found", Vec::new(), page("404", "not found")),
    }
}

/// What one cross-site POST from `from` to `to` showed.
#[derive(Debug)]
struct Outcome {
    /// Cookies stored for `to` after `/set` (all attributes as planted).
    stored: Vec<String>,
    /// Cookies sent with the cross-site POST.
    sent_on_post: Vec<String>,
    /// `Sec-Fetch-Site` of the POST.
    fetch_site: String,
    /// Cookies sent on the next same-site GET (so: those the POST's answer
    /// managed to set, and the rest).
    sent_after: Vec<String>,
}

/// Clears every cookie, then plants [`SET_COOKIES`] on `to` with a top-level
/// GET; returns the names stored.
fn plant(b: &Chromium, sites: &TestSites, to: &str) -> Vec<String> {
    b.clear_all_cookies();
    b.goto(&sites.url(to, "/set"));
    let mut stored: Vec<String> = b.all_cookies().into_iter().map(|c| c.name).collect();
    stored.sort();
    stored
}

/// A page on `from` auto-submits a POST form to `to`; then `to` is opened
/// directly.
fn post(b: &Chromium, sites: &TestSites, from: &str, to: &str, stored: Vec<String>) -> Outcome {
    let target = sites.url(to, "/acs");
    b.goto(&sites.url(from, &format!("/post-to?{target}")));
    b.wait_for_url(&target, Duration::from_secs(10));
    assert_eq!(b.title(), "acs", "{}", b.page_source());
    let post = sites
        .last("POST", to, "/acs")
        .unwrap_or_else(|| panic!("no POST on {to}: {:#?}", sites.seen()));
    assert_eq!(post.body, "SAMLResponse=abc");
    b.goto(&sites.url(to, "/read"));
    let after = sites.last("GET", to, "/read").unwrap();
    Outcome {
        stored,
        sent_on_post: post.cookie_names(),
        fetch_site: post
            .headers
            .get("sec-fetch-site")
            .cloned()
            .unwrap_or_default(),
        sent_after: after.cookie_names(),
    }
}

fn cross_site_post(b: &Chromium, sites: &TestSites, from: &str, to: &str) -> Outcome {
    let stored = plant(b, sites, to);
    post(b, sites, from, to, stored)
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

/// The cookie facts recorded in the `peers::chromium` docs: on a cross-site
/// top-level POST only `SameSite=None; Secure` cookies and (young) cookies
/// without SameSite travel; `Secure` cookies are only accepted on
/// potentially trustworthy hosts (localhost, *.localhost, 127.0.0.1), not on
/// other http hosts; cookies set in the answer to the POST are all kept.
#[test]
#[ignore = "pins Chromium's cookie rules and the harness API for a new Chromium; \
the login flows in chromium_login.rs rely on the same rules and run always"]
fn chromium_cross_site_post_cookie_matrix() {
    let Some(b) = Chromium::start() else { return };
    let sites = TestSites::start();

    // Ordinary host names over http: no Secure cookie, no Sec-Fetch-*.
    let o = cross_site_post(&b, &sites, "idp.test", "hub.test");
    assert_eq!(o.stored, names(&["lax", "plain", "strict"]), "{o:#?}");
    assert_eq!(o.sent_on_post, names(&["plain"]), "{o:#?}");
    assert_eq!(o.fetch_site, "", "{o:#?}");
    let all_plain_http = names(&[
        "acs_lax",
        "acs_plain",
        "acs_strict",
        "lax",
        "plain",
        "strict",
    ]);
    assert_eq!(o.sent_after, all_plain_http, "{o:#?}");

    // Loopback names are potentially trustworthy: Secure works over http.
    for (from, to) in [
        ("127.0.0.1", "localhost"),
        ("localhost", "127.0.0.1"),
        ("idp.localhost", "hub.localhost"),
    ] {
        let o = cross_site_post(&b, &sites, from, to);
        let ctx = format!("{from} -> {to}: {o:#?}");
        assert_eq!(
            o.stored,
            names(&["lax", "none_secure", "plain", "secure_only", "strict"]),
            "{ctx}"
        );
        assert_eq!(
            o.sent_on_post,
            names(&["none_secure", "plain", "secure_only"]),
            "{ctx}"
        );
        assert_eq!(o.fetch_site, "cross-site", "{ctx}");
        assert_eq!(
            o.sent_after,
            names(&[
                "acs_lax",
                "acs_none_secure",
                "acs_plain",
                "acs_strict",
                "lax",
                "none_secure",
                "plain",
                "secure_only",
                "strict",
            ]),
            "{ctx}"
        );
    }
    // The same browser then drives a plain form (one browser start less).
    fills_and_submits_forms(b, &sites);
}

/// The API drives a plain form: fill, submit, title, page source, cookies of
/// the current page, screenshot; dropping the browser leaves no process.
fn fills_and_submits_forms(b: Chromium, sites: &TestSites) {
    let profile = b.dir().to_string_lossy().into_owned();
    b.goto(&sites.url("hub.test", "/form"));
    assert_eq!(b.title(), "form");
    b.fill("#user", "alice");
    b.submit("#user");
    b.wait_for_url(&sites.url("hub.test", "/acs"), Duration::from_secs(10));
    assert_eq!(b.text("#body"), "user=alice");
    assert!(b.page_source().contains("user=alice"));
    let c = b.cookie("acs_lax").expect("acs_lax set by the POST answer");
    assert_eq!((c.domain.as_str(), c.path.as_str()), ("hub.test", "/"));
    assert_eq!(c.same_site, "Lax");
    assert!(!c.secure && !c.http_only && c.expiry.is_none());
    assert_eq!(b.cookie("acs_plain").unwrap().same_site, "Lax");
    let plain = b.all_cookies().into_iter().find(|c| c.name == "acs_plain");
    assert_eq!(
        plain.unwrap().same_site,
        "",
        "DevTools: no SameSite attribute"
    );
    b.goto(&sites.url("hub.test", "/form"));
    b.click("#go");
    b.wait_until(Duration::from_secs(10), |b| b.title() == "acs");
    assert_eq!(
        b.execute_script("return arguments[0] + 1;", &[serde_json::json!(41)]),
        serde_json::json!(42)
    );
    let png = tempfile::NamedTempFile::new().unwrap();
    b.screenshot_png(png.path());
    assert!(std::fs::read(png.path()).unwrap().starts_with(b"\x89PNG"));
    let t1 = std::time::Instant::now();
    drop(b);
    eprintln!("chromium stopped in {:?}", t1.elapsed());
    assert_eq!(
        pids_mentioning(&profile),
        Vec::<u32>::new(),
        "browser left running"
    );
}

/// Chromium sends a cookie without SameSite on a cross-site top-level POST
/// only while it is younger than two minutes ("Lax allowing unsafe"). Takes
/// over two minutes, so run on demand:
/// `cargo test --test it chromium_selftest:: -- --ignored`.
#[test]
#[ignore = "waits 125 s"]
fn chromium_plain_cookie_older_than_two_minutes() {
    let Some(b) = Chromium::start() else { return };
    let sites = TestSites::start();
    let stored = plant(&b, &sites, "hub.test");
    std::thread::sleep(Duration::from_secs(125));
    let o = post(&b, &sites, "idp.test", "hub.test", stored);
    eprintln!("idp.test -> hub.test after 125 s: {o:#?}");
    assert_eq!(o.sent_on_post, Vec::<String>::new(), "{o:#?}");
}
