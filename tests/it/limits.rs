//! Bounded anonymous state, against the real hub on the embedded store: a
//! flood of anonymous authorization requests with oversized hints is cut
//! off by the per-address rate limit (429 with Retry-After, a spoofed
//! X-Forwarded-For changes nothing), and what it leaves in the store stays
//! within the bound of docs/security.md. Also: an oversized `state` is
//! refused by page and never echoed, bodies over 16 KiB get 413, and a
//! confidential client with `require_pkce` must use PKCE.

use crate::oidc_rig::{clients_toml, CONF, CONF_REDIRECT, IDP};
use crate::peers::samlhub::{Samlhub, BIN};
use samlhub::testing::idp::TestIdp;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// `samlhub::oidc::grant::PARKED_MAX_BYTES`, the documented bound of one
/// parked request beyond its client's id and redirect URI; plus the key
/// (`oidc_parked:` and a 22-character handle) and the 8-byte expiry.
const PARKED_ENTRY_BOUND: usize = samlhub::oidc::grant::PARKED_MAX_BYTES + 64;

/// A client with `require_pkce = true`.
const STRICT: &str = "strict";
const STRICT_REDIRECT: &str = "https://strict.example/cb";

struct Answer {
    status: u16,
    head: String,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// One request on its own connection, written in full even if the hub
/// answers early (write errors are ignored), then the whole answer read.
fn send(port: u16, method: &str, target: &str, extra: &str, body: &[u8]) -> Answer {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = format!(
        "{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n{extra}"
    );
    if method == "POST" {
        req.push_str(&format!(
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    req.push_str("\r\n");
    let mut out = req.into_bytes();
    out.extend_from_slice(body);
    let _ = s.write_all(&out);
    // Read the head, then Content-Length bytes: a hub that answered before
    // reading the whole body keeps the connection a moment to drain it.
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if raw.len() >= end + 4 + len {
                break;
            }
        }
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "no answer to {method} {}: {text:?}",
                target.chars().take(60).collect::<String>()
            )
        });
    Answer {
        status,
        head: head.to_owned(),
        body: body.to_owned(),
    }
}

fn query(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// A hub with the test IdP, the rig's clients plus [`STRICT`], and `extra`.
fn hub(extra: &str) -> (TestIdp, Samlhub) {
    let idp = TestIdp::new("limits");
    let mut hub = Samlhub::prepare(BIN);
    let md = hub.dir().join("idp.xml");
    std::fs::write(&md, idp.metadata_xml()).unwrap();
    hub.write_config(&format!(
        "{extra}\n[[idp]]\nid = \"{IDP}\"\nmetadata_file = \"{}\"\n\n{}\n\
[[oidc.client]]\nclient_id = \"{STRICT}\"\nclient_secret_hash = \"{}\"\n\
redirect_uris = [\"{STRICT_REDIRECT}\"]\nrequire_pkce = true\n",
        md.display(),
        clients_toml(),
        samlhub::config::oidc::secret_hash("strict-secret-0123456789abcdef"),
    ));
    hub.start();
    (idp, hub)
}

fn store_file(hub: &Samlhub) -> std::path::PathBuf {
    hub.data_dir().join("store.redb")
}

/// Entries and the sum of their key and value bytes, read with the hub stopped.
fn stored(hub: &Samlhub) -> (usize, usize) {
    const ENTRIES: redb::TableDefinition<&str, &[u8]> = redb::TableDefinition::new("entries");
    let db = redb::Database::open(store_file(hub)).unwrap();
    let txn = db.begin_read().unwrap();
    let table = txn.open_table(ENTRIES).unwrap();
    let mut n = 0;
    let mut bytes = 0;
    for e in redb::ReadableTable::iter(&table).unwrap() {
        let (k, v) = e.unwrap();
        n += 1;
        bytes += k.value().len() + v.value().len();
    }
    (n, bytes)
}

#[test]
fn a_flood_of_anonymous_authorize_requests_is_cut_off_and_bounded() {
    let (_idp, mut hub) =
        hub("[rate_limit]\nper_minute = 60\nburst = 20\ntrusted_proxies = [\"10.0.0.0/8\"]\n");
    let port: u16 = hub.base_url().rsplit(':').next().unwrap().parse().unwrap();
    let file_before = std::fs::metadata(store_file(&hub)).unwrap().len();
    let state = "s".repeat(2048);
    let nonce = "n".repeat(512);
    let base = [
        ("response_type", "code"),
        ("client_id", CONF),
        ("redirect_uri", CONF_REDIRECT),
        ("scope", "openid profile"),
        ("state", state.as_str()),
        ("nonce", nonce.as_str()),
    ];
    let long_hint = "h".repeat(8 * 1024);
    let mut get = base.to_vec();
    get.push(("login_hint", &long_hint));
    get.push(("idp_hint", &long_hint));
    let get_target = format!("/oidc/authorize?{}", query(&get));
    let mid_hint = "m".repeat(12 * 1024);
    let mut mid = base.to_vec();
    mid.push(("login_hint", &mid_hint));
    let mid_body = query(&mid).into_bytes();
    assert!(mid_body.len() < 16 * 1024);
    let huge_hint = "x".repeat(200 * 1024);
    let mut huge = base.to_vec();
    huge.push(("login_hint", &huge_hint));
    let huge_body = query(&huge).into_bytes();

    let started = Instant::now();
    let (mut parked, mut too_large, mut limited) = (0usize, 0usize, 0usize);
    for i in 0..1000 {
        // A client may claim any address; the hub's peer (127.0.0.1) is
        // not a trusted proxy, so the claim is ignored.
        let spoof = format!("X-Forwarded-For: 198.51.100.{}\r\n", i % 250);
        let a = match i % 3 {
            0 => send(port, "GET", &get_target, &spoof, b""),
            1 => send(port, "POST", "/oidc/authorize", &spoof, &mid_body),
            _ => send(port, "POST", "/oidc/authorize", &spoof, &huge_body),
        };
        match a.status {
            302 => {
                let to = a.header("Location").unwrap();
                assert!(to.starts_with("/saml/login?idp=test&return_to="), "{to}");
                assert!(to.len() < 200, "{to}");
                parked += 1;
            }
            413 => {
                assert!(a.body.contains("too_large"), "{}", a.body);
                too_large += 1;
            }
            429 => {
                let after: u64 = a.header("Retry-After").unwrap().parse().unwrap();
                assert!((1..=60).contains(&after), "Retry-After {after}");
                assert_eq!(a.header("X-Samlhub-Error"), Some("rate_limited"));
                assert!(a.body.contains("Too many requests"));
                limited += 1;
            }
            other => panic!("request {i}: {other}\n{}\n{}", a.head, hub.log()),
        }
    }
    let elapsed = started.elapsed();
    // A burst of 20, then one a second (ratelimit.rs: b + floor(r·T)).
    let admitted_bound = 20 + elapsed.as_secs() as usize + 1;
    assert!(
        parked + too_large <= admitted_bound,
        "{parked} parked + {too_large} too large in {elapsed:?}"
    );
    assert!(parked >= 10, "{parked}");
    assert!(limited >= 1000 - admitted_bound, "{limited}");

    // The parked requests are transient writes, made durable by the hub's
    // last sync on SIGTERM: the hub must reach it and exit cleanly, however
    // long draining takes on a loaded machine.
    let term = Instant::now();
    hub.signal("TERM");
    let exit = hub.wait_exit(Duration::from_secs(30));
    assert!(
        exit.is_some_and(|s| s.success()),
        "the hub did not exit cleanly on SIGTERM ({exit:?} after {:?})\n{}",
        term.elapsed(),
        hub.log()
    );
    eprintln!("limits: the hub exited {:?} after SIGTERM", term.elapsed());
    hub.stop();
    let file_after = std::fs::metadata(store_file(&hub)).unwrap().len();
    let (entries, bytes) = stored(&hub);
    assert_eq!(entries, parked, "one entry per parked request");
    let config = CONF.len() + CONF_REDIRECT.len();
    let bound = parked * (PARKED_ENTRY_BOUND + config);
    assert!(bytes <= bound, "{bytes} stored bytes > {bound}");
    eprintln!(
        "limits: 1000 requests in {elapsed:?}: {parked} parked, {too_large} over 16 KiB, \
         {limited} rate-limited; {entries} entries, {bytes} bytes stored ({} per entry, bound {}); \
         store file {file_before} -> {file_after} bytes",
        bytes / entries.max(1),
        PARKED_ENTRY_BOUND + config
    );
    // redb grows its file in regions; the documented allowance for the
    // file is 4 MiB beyond the stored bytes at this scale.
    assert!(
        file_after.saturating_sub(file_before) <= bound as u64 + 4 * 1024 * 1024,
        "store file grew {file_before} -> {file_after}"
    );
}

#[test]
fn oversized_state_is_not_echoed_and_require_pkce_holds() {
    let (_idp, hub) = hub("[rate_limit]\nenabled = false\n");
    let port: u16 = hub.base_url().rsplit(':').next().unwrap().parse().unwrap();
    let big_state = format!("BIGSTATE{}", "z".repeat(4000));
    let target = |client: &str, redirect: &str, extra: &[(&str, &str)]| {
        let mut p = vec![
            ("response_type", "code"),
            ("client_id", client),
            ("redirect_uri", redirect),
            ("scope", "openid"),
            ("state", "st-123"),
        ];
        p.extend_from_slice(extra);
        format!("/oidc/authorize?{}", query(&p))
    };

    // An oversized state, in an otherwise refusable request: a page, no
    // redirect, and the state appears nowhere in the answer.
    for extra in [
        vec![("state", big_state.as_str())],
        vec![("state", big_state.as_str()), ("response_type", "token")],
    ] {
        let mut p = vec![
            ("client_id", CONF),
            ("redirect_uri", CONF_REDIRECT),
            ("scope", "openid"),
            ("response_type", "code"),
        ];
        for (k, v) in extra {
            p.retain(|(pk, _)| *pk != k);
            p.push((k, v));
        }
        let a = send(
            port,
            "GET",
            &format!("/oidc/authorize?{}", query(&p)),
            "",
            b"",
        );
        assert_eq!(a.status, 400, "{}", a.head);
        assert!(a.header("Location").is_none(), "{}", a.head);
        assert!(!a.head.contains("BIGSTATE") && !a.body.contains("BIGSTATE"));
        assert!(
            a.body.contains("state parameter is longer than 2048"),
            "{}",
            a.body
        );
        assert!(a.head.len() < 4096);
    }
    // The same by POST.
    let body = query(&[
        ("client_id", CONF),
        ("redirect_uri", CONF_REDIRECT),
        ("response_type", "code"),
        ("scope", "openid"),
        ("state", &big_state),
    ]);
    let a = send(port, "POST", "/oidc/authorize", "", body.as_bytes());
    assert_eq!(a.status, 400, "{}", a.head);
    assert!(!a.head.contains("BIGSTATE") && !a.body.contains("BIGSTATE"));

    // Bodies over 16 KiB: the HTML error page, 413.
    let body = query(&[("client_id", CONF), ("login_hint", &"x".repeat(17 * 1024))]);
    let a = send(port, "POST", "/oidc/authorize", "", body.as_bytes());
    assert_eq!(a.status, 413, "{}", a.head);
    assert!(a.header("Content-Type").unwrap().starts_with("text/html"));

    // require_pkce: without a challenge, refused by redirect with state.
    let a = send(port, "GET", &target(STRICT, STRICT_REDIRECT, &[]), "", b"");
    assert_eq!(a.status, 302, "{}", a.head);
    let to = url::Url::parse(a.header("Location").unwrap()).unwrap();
    assert!(to.as_str().starts_with(STRICT_REDIRECT), "{to}");
    let q: std::collections::HashMap<_, _> = to.query_pairs().into_owned().collect();
    assert_eq!(q.get("error").map(String::as_str), Some("invalid_request"));
    assert_eq!(q.get("state").map(String::as_str), Some("st-123"));
    // With S256 it proceeds to the login; the lax client needs none.
    let pkce = [
        (
            "code_challenge",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        ),
        ("code_challenge_method", "S256"),
    ];
    for t in [
        target(STRICT, STRICT_REDIRECT, &pkce),
        target(CONF, CONF_REDIRECT, &[]),
    ] {
        let a = send(port, "GET", &t, "", b"");
        assert_eq!(a.status, 302, "{}", a.head);
        assert!(
            a.header("Location").unwrap().starts_with("/saml/login?"),
            "{}",
            a.head
        );
    }
}
