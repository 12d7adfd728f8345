//! The background metadata refresh, through a real hub process: its IdP's
//! `metadata_url` is served by a small HTTP server in this test (127.0.0.1,
//! a thread, stopped at the end), the metadata is signed by a pinned
//! federation signer, and the floor is one second so the refresh task runs
//! several rounds while the test waits. The IdP rolls its key, a copy signed
//! by the wrong key is offered, the metadata expires, then recovers; logins
//! follow without a restart.

use crate::peers::browser::Browser;
use crate::peers::pki::TestKey;
use crate::peers::samlhub::{Samlhub, BIN};
use samlhub::saml::response::fmt_time;
use samlhub::saml::sign::{sign_enveloped, SignOptions};
use samlhub::testing::idp::{sign_in, TestIdp};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use time::OffsetDateTime;

/// Serves one document at any path; what it serves can be changed.
pub(crate) struct MetadataServer {
    port: u16,
    body: Arc<Mutex<(u16, String)>>,
    hits: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl MetadataServer {
    pub(crate) fn start() -> MetadataServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let body = Arc::new(Mutex::new((503, String::new())));
        let hits = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (b, h, s) = (body.clone(), hits.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                let Ok((mut conn, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                };
                conn.set_nonblocking(false).unwrap();
                let mut r = BufReader::new(conn.try_clone().unwrap());
                let mut line = String::new();
                while r.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                    line.clear();
                }
                let (status, text) = b.lock().unwrap().clone();
                h.fetch_add(1, Ordering::SeqCst);
                let _ = write!(
                    conn,
                    "HTTP/1.1 {status} X\r\nContent-Type: application/samlmetadata+xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                    text.len()
                );
            }
        });
        MetadataServer {
            port,
            body,
            hits,
            stop,
            thread: Some(thread),
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("http://127.0.0.1:{}/federation.xml", self.port)
    }

    pub(crate) fn serve(&self, status: u16, text: String) {
        *self.body.lock().unwrap() = (status, text);
    }

    /// Waits until the hub has fetched `n` more times since `from`.
    pub(crate) fn wait_fetches(&self, from: usize, n: usize) {
        let end = Instant::now() + Duration::from_secs(60);
        while self.hits.load(Ordering::SeqCst) < from + n {
            assert!(Instant::now() < end, "the hub stopped fetching metadata");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub(crate) fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

impl Drop for MetadataServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The IdP's metadata with `key`, valid until `valid_until`, signed by `by`.
fn metadata(
    idp: &TestIdp,
    key: &TestKey,
    valid_until: Option<OffsetDateTime>,
    by: &TestKey,
) -> String {
    let mut i = idp.clone();
    i.key = key.clone();
    let vu = valid_until
        .map(|t| format!("validUntil=\"{}\" ", fmt_time(t)))
        .unwrap_or_default();
    let xml = i.metadata_xml().replacen(
        "<md:EntityDescriptor ",
        &format!("<md:EntityDescriptor ID=\"_md\" {vu}"),
        1,
    );
    sign_enveloped(&xml, "_md", &by.pkey(), &SignOptions::default()).unwrap()
}

#[allow(clippy::disallowed_methods)] // the hub runs on the real clock
fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

/// Signs in until the hub accepts `key` (the refresh has landed).
fn until_accepted(hub: &Samlhub, idp: &TestIdp, key: &TestKey) {
    let mut i = idp.clone();
    i.key = key.clone();
    let end = Instant::now() + Duration::from_secs(60);
    loop {
        // While the metadata is expired the login does not even start.
        let started = Browser::new()
            .get(&format!("{}/saml/login?idp=corp", hub.base_url()))
            .status
            == 302;
        if started && sign_in(hub, &i, "corp", &mut Browser::new(), |_| {}).status == 303 {
            return;
        }
        assert!(
            Instant::now() < end,
            "new key never accepted:\n{}",
            hub.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn login_status(hub: &Samlhub, idp: &TestIdp, key: &TestKey) -> u16 {
    let mut i = idp.clone();
    i.key = key.clone();
    sign_in(hub, &i, "corp", &mut Browser::new(), |_| {}).status
}

#[test]
fn metadata_refresh_follows_key_rollover_refuses_forgeries_and_expiry() {
    let idp = TestIdp::new("refresh");
    let old = TestKey::generate("refresh-old", 2048);
    let new = TestKey::generate("refresh-new", 2048);
    let forged = TestKey::generate("refresh-forged", 2048);
    let signer = TestKey::generate("refresh-federation", 2048);
    let impostor = TestKey::generate("refresh-impostor", 2048);

    let md = MetadataServer::start();
    md.serve(200, metadata(&idp, &old, None, &signer));
    let mut hub = Samlhub::prepare(BIN);
    let pem = hub.dir().join("federation.pem");
    std::fs::write(&pem, &signer.cert_pem).unwrap();
    hub.write_config(&format!(
        "metadata_refresh_min = \"1s\"\nmetadata_refresh_max = \"2s\"\n\
         [[idp]]\nid = \"corp\"\ndisplay_name = \"Corp IdP\"\nmetadata_url = \"{}\"\nmetadata_signing_cert = \"{}\"\n",
        md.url(),
        pem.display()
    ));
    hub.start();
    assert_eq!(login_status(&hub, &idp, &old), 303, "{}", hub.log());
    assert_ne!(login_status(&hub, &idp, &new), 303);

    // 1. The IdP rolls to a new key and drops the old one.
    md.serve(200, metadata(&idp, &new, None, &signer));
    until_accepted(&hub, &idp, &new);
    assert_ne!(
        login_status(&hub, &idp, &old),
        303,
        "old key after the swap"
    );
    let saved = std::fs::read_to_string(hub.data_dir().join("idp-cache/corp.xml")).unwrap();
    assert!(saved.contains(&new.cert_b64));

    // 2. A copy signed by someone else is refused; the last good one stays,
    //    on disk too.
    md.serve(200, metadata(&idp, &forged, None, &impostor));
    md.wait_fetches(md.hits(), 2);
    assert_eq!(login_status(&hub, &idp, &new), 303);
    assert_ne!(login_status(&hub, &idp, &forged), 303);
    assert!(
        hub.log().contains(
            "metadata refresh: idp=corp refused the new copy: metadata signature refused"
        ),
        "{}",
        hub.log()
    );
    let saved = std::fs::read_to_string(hub.data_dir().join("idp-cache/corp.xml")).unwrap();
    assert!(saved.contains(&new.cert_b64) && !saved.contains(&forged.cert_b64));

    // 3. Metadata valid for a few seconds, then the IdP's server fails: once
    //    validUntil passes, logins stop with a page that says why.
    let until = now() + time::Duration::seconds(4);
    md.serve(200, metadata(&idp, &new, Some(until), &signer));
    md.wait_fetches(md.hits(), 2);
    md.serve(500, String::new());
    while now() <= until + time::Duration::seconds(1) {
        std::thread::sleep(Duration::from_millis(200));
    }
    let mut b = Browser::new();
    let p = b.get(&format!("{}/saml/login?idp=corp", hub.base_url()));
    assert_eq!(p.status, 503, "{}", p.head());
    assert_eq!(p.header("X-Samlhub-Error"), Some("idp_metadata_expired"));
    assert!(
        p.body.contains("Signing in with Corp IdP is stopped") && p.body.contains("expired at"),
        "{}",
        p.body
    );
    assert!(
        hub.log().contains("fetch failed: HTTP 500"),
        "{}",
        hub.log()
    );

    // 4. A fresh copy brings logins back, still without a restart.
    md.serve(200, metadata(&idp, &new, None, &signer));
    until_accepted(&hub, &idp, &new);
    hub.stop();
}
