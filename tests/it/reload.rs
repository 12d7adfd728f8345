//! Reload and shutdown, through the samlhub process: `SIGHUP` with a broken
//! config keeps the running one (and says why); with a good one, a new IdP
//! signs people in and a removed one no longer does, without a restart,
//! while a changed start-up setting (`listen`) keeps its running value with
//! a warning; an added `metadata_url` IdP is refreshed from then on.
//! `SIGTERM` lets a request in flight finish, closes the listener, and the
//! process exits 0.

use crate::metadata_refresh::MetadataServer;
use crate::peers::browser::Browser;
use crate::peers::free_port;
use crate::peers::samlhub::{Samlhub, BIN};
use samlhub::testing::idp::{sign_in, TestIdp};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

fn idp_section(hub: &Samlhub, id: &str, idp: &TestIdp) -> String {
    let md = hub.dir().join(format!("{id}.xml"));
    std::fs::write(&md, idp.metadata_xml()).unwrap();
    format!(
        "[[idp]]\nid = \"{id}\"\nmetadata_file = \"{}\"\n",
        md.display()
    )
}

/// The config file with `listen` on `port` (the hub's own unless changed).
fn write_config(hub: &Samlhub, port: u16, body: &str) {
    let text = format!(
        "listen = \"127.0.0.1:{port}\"\npublic_url = \"{}\"\ndata_dir = \"{}\"\n{body}\n[rate_limit]\nenabled = false\n",
        hub.base_url(),
        hub.data_dir().display()
    );
    std::fs::write(hub.config_path(), text).unwrap();
}

/// `/saml/login?idp=<id>`: the status and where it points.
fn login_start(b: &mut Browser, hub: &Samlhub, id: &str) -> (u16, String) {
    let p = b.get(&format!("{}/saml/login?idp={id}", hub.base_url()));
    (p.status, p.location.clone().unwrap_or_default())
}

#[test]
fn sighup_swaps_a_good_config_and_keeps_the_running_one_otherwise() {
    let a = TestIdp::new("reload-a");
    let second = TestIdp::new("reload-b");
    let mut hub = Samlhub::prepare(BIN);
    let only_a = idp_section(&hub, "a", &a);
    write_config(&hub, hub.port(), &only_a);
    hub.start();
    let mut b = Browser::new();
    assert_eq!(sign_in(&hub, &a, "a", &mut b, |_| {}).status, 303);
    let (status, _) = login_start(&mut b, &hub, "b");
    assert_ne!(status, 302, "IdP b is not configured yet");

    // A broken config: an IdP whose metadata file does not exist, and a
    // key that does not parse. The running configuration stays.
    let broken = format!(
        "{only_a}session_lifetime = \"soon\"\n[[idp]]\nid = \"b\"\nmetadata_file = \"{}\"\n",
        hub.dir().join("missing.xml").display()
    );
    write_config(&hub, hub.port(), &broken);
    hub.signal("HUP");
    let log = hub.wait_log("configuration reload refused", WAIT);
    let line = log
        .lines()
        .find(|l| l.contains("configuration reload refused"))
        .unwrap();
    assert!(line.contains("2 problem(s)"), "{line}");
    assert!(line.contains("session_lifetime"), "{line}");
    assert!(line.contains("missing.xml"), "{line}");
    assert!(hub.running(), "the hub exited:\n{log}");
    let (status, loc) = login_start(&mut b, &hub, "a");
    assert_eq!(status, 302);
    assert!(loc.starts_with(&a.sso_url), "{loc}");
    assert_ne!(login_start(&mut b, &hub, "b").0, 302);
    let md = b.get(&format!("{}/saml/metadata", hub.base_url()));
    assert_eq!(md.status, 200);

    // A good config adds IdP b, and moves `listen`, which takes a restart:
    // the running listener stays, with a warning.
    let both = format!("{only_a}{}", idp_section(&hub, "b", &second));
    let elsewhere = free_port();
    write_config(&hub, elsewhere, &both);
    hub.signal("HUP");
    let log = hub.wait_log("reloaded configuration", WAIT);
    assert!(
        log.contains("reloaded configuration: 2 IdP(s), added 1 (b), removed 0"),
        "{log}"
    );
    assert!(
        log.contains("configuration reload: listen changed; it takes a restart"),
        "{log}"
    );
    assert!(TcpStream::connect(("127.0.0.1", elsewhere)).is_err());
    let (status, loc) = login_start(&mut b, &hub, "b");
    assert_eq!(status, 302);
    assert!(loc.starts_with(&second.sso_url), "{loc}");
    let mut fresh = Browser::new();
    let done = sign_in(&hub, &second, "b", &mut fresh, |_| {});
    assert_eq!(done.status, 303, "{}", done.head());
    assert_eq!(sign_in(&hub, &a, "a", &mut fresh, |_| {}).status, 303);

    // Removing IdP a ends its logins, also without a restart.
    write_config(&hub, hub.port(), &idp_section(&hub, "b", &second));
    hub.signal("HUP");
    hub.wait_log("removed 1 (a)", WAIT);
    assert_ne!(login_start(&mut b, &hub, "a").0, 302);
    assert_eq!(sign_in(&hub, &second, "b", &mut b, |_| {}).status, 303);
    assert!(hub.running());
}

/// An IdP with a `metadata_url` added by a reload is refreshed from then on:
/// the reload's own fetch, then the refresh task's (restarted for the new
/// set of IdPs; floor one second).
#[test]
fn a_reload_refreshes_the_metadata_url_idps_it_adds() {
    let a = TestIdp::new("reload-a");
    let fetched = TestIdp::new("reload-url");
    let server = MetadataServer::start();
    server.serve(200, fetched.metadata_xml());
    let mut hub = Samlhub::prepare(BIN);
    let bounds = "metadata_refresh_min = \"1s\"\nmetadata_refresh_max = \"2s\"\n";
    let only_a = format!("{bounds}{}", idp_section(&hub, "a", &a));
    write_config(&hub, hub.port(), &only_a);
    hub.start();
    assert_eq!(server.hits(), 0);

    let with_url = format!(
        "{only_a}[[idp]]\nid = \"u\"\nmetadata_url = \"{}\"\nallow_insecure_metadata_url = true\n",
        server.url()
    );
    write_config(&hub, hub.port(), &with_url);
    hub.signal("HUP");
    hub.wait_log("added 1 (u)", WAIT);
    let after_reload = server.hits();
    assert_eq!(after_reload, 1);
    server.wait_fetches(after_reload, 2);
    let mut b = Browser::new();
    assert_eq!(sign_in(&hub, &fetched, "u", &mut b, |_| {}).status, 303);
}

/// Reads one HTTP/1.1 response to the end of its Content-Length body.
fn read_response(s: &mut TcpStream) -> (String, Vec<u8>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = s.read(&mut chunk).unwrap();
        assert!(
            n > 0,
            "closed before the head: {:?}",
            String::from_utf8_lossy(&buf)
        );
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().unwrap())
        })
        .unwrap_or_else(|| panic!("no Content-Length: {head}"));
    while buf.len() < head_end + len {
        let n = s.read(&mut chunk).unwrap();
        assert!(n > 0, "closed inside the body: {head}");
        buf.extend_from_slice(&chunk[..n]);
    }
    (head, buf[head_end..head_end + len].to_vec())
}

#[test]
fn sigterm_lets_a_request_in_flight_finish() {
    let mut hub = Samlhub::prepare(BIN);
    write_config(&hub, hub.port(), "");
    hub.start();
    let body = "SAMLResponse=bm90IGEgcmVzcG9uc2U%3D&RelayState=nothing-issued-here";
    let (first, rest) = body.split_at(20);
    let mut s = TcpStream::connect(("127.0.0.1", hub.port())).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    write!(
        s,
        "POST /saml/acs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{first}",
        body.len()
    )
    .unwrap();
    s.flush().unwrap();
    // Let the worker take the head before the signal.
    std::thread::sleep(Duration::from_millis(300));

    hub.signal("TERM");
    hub.wait_log("shutting down: draining", WAIT);
    // The listener closes at once: a new connection is refused (bounded wait).
    let deadline = std::time::Instant::now() + WAIT;
    while TcpStream::connect(("127.0.0.1", hub.port())).is_ok() {
        assert!(std::time::Instant::now() < deadline, "still accepting");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(hub.running(), "exited with a request in flight");

    // The rest of the body: the request gets its whole answer.
    s.write_all(rest.as_bytes()).unwrap();
    let (head, page) = read_response(&mut s);
    assert!(head.starts_with("HTTP/1.1 4"), "{head}");
    assert!(
        head.to_ascii_lowercase().contains("x-samlhub-error:"),
        "{head}"
    );
    assert!(String::from_utf8_lossy(&page).contains("</html>"));

    let status = hub.wait_exit(WAIT).expect("still running after the drain");
    assert!(status.success(), "{status:?}\n{}", hub.log());
    let log = hub.log();
    assert!(log.contains("stopped"), "{log}");
}
