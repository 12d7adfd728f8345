//! Login CSRF with a real browser: headless Chromium signs in through a real
//! SimpleSAMLphp IdP on another site, under an http public URL, where the
//! `SameSite=Lax` login cookie stays behind on the IdP's cross-site POST and
//! the login completes through the same-site second hop. Then a page on a
//! third site auto-posts an attacker's fresh SAMLResponse and RelayState to
//! the ACS from the victim's browser: refused with a clear page, and the
//! victim's session is unchanged. The same under an https public URL, with
//! `socat` terminating TLS in front of the hub: there the `SameSite=None;
//! Secure` login cookie comes along on the IdP's POST and no second hop is
//! needed. Skips (with a message) when Chromium or socat cannot run here.

use crate::peers::browser::Browser;
use crate::peers::chromium::{Chromium, ChromiumOptions};
use crate::peers::samlhub::{Samlhub, BIN};
use crate::peers::simplesamlphp::{SimpleSamlPhp, SspSp};
use std::time::Duration;

/// The hub as the browser sees it: `hub.test` maps to 127.0.0.1 in the
/// harness's Chromium, a different site from the IdP at 127.0.0.1.
fn hub_url(hub: &Samlhub) -> String {
    hub.base_url().replace("127.0.0.1", "hub.test")
}

/// `socat` terminating TLS on 127.0.0.1:`port` in front of the hub.
struct TlsFront {
    _proc: crate::peers::ProcessGroup,
    port: u16,
}

fn tls_front(hub: &Samlhub) -> Option<TlsFront> {
    if !crate::peers::on_path("socat") {
        eprintln!("[chromium_login] socat is not installed, skipping the https case");
        return None;
    }
    let key = samlhub::testing::pki::TestKey::generate("hub.localhost", 2048);
    let pem = hub.dir().join("front.pem");
    std::fs::write(&pem, format!("{}{}", key.key_pem, key.cert_pem)).unwrap();
    let port = crate::peers::free_port();
    let hub_port = hub.base_url().rsplit(':').next().unwrap().to_owned();
    let mut cmd = std::process::Command::new("socat");
    cmd.arg(format!(
        "OPENSSL-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork,cert={},verify=0",
        pem.display()
    ))
    .arg(format!("TCP:127.0.0.1:{hub_port}"))
    .stdin(std::process::Stdio::null())
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::null());
    let proc = crate::peers::ProcessGroup::spawn("socat", cmd);
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some(TlsFront { _proc: proc, port });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("socat did not listen on {port}");
}

/// An SP entry for a hub published at `public`.
fn sp_entry(hub: &Samlhub, public: &str) -> SspSp {
    let mut sp = SspSp::new(
        &format!("{public}/saml/metadata"),
        &format!("{public}/saml/acs"),
    );
    sp.sp_cert_b64 = Some(hub.sp_key().cert_b64.clone());
    sp
}

/// Starts `hub` with `public` as its public URL and `ssp` as its IdP.
fn start_hub(hub: &mut Samlhub, public: &str, ssp: &SimpleSamlPhp) {
    let text = format!(
        "listen = \"{}\"\npublic_url = \"{public}\"\ndata_dir = \"{}\"\n\
[[idp]]\nid = \"ssp\"\nmetadata_url = \"{}\"\nallow_insecure_metadata_url = true\nprofile = \"generic\"\n",
        hub.base_url().trim_start_matches("http://"),
        hub.data_dir().display(),
        ssp.metadata_url()
    );
    std::fs::write(hub.config_path(), text).unwrap();
    hub.start();
}

/// Signs alice in at the IdP's form in Chromium; returns the hub page reached.
fn browser_login(c: &Chromium, public: &str, ssp: &SimpleSamlPhp, user: &str, pass: &str) {
    c.goto(&format!("{public}/saml/login?idp=ssp&return_to=/session"));
    assert!(
        c.wait_until(Duration::from_secs(15), |c| c
            .find("input[name=password]")
            .is_some()),
        "no IdP login form at {}:\n{}",
        c.current_url(),
        c.page_source()
    );
    assert!(
        c.current_url().starts_with(ssp.base_url()),
        "{}",
        c.current_url()
    );
    c.fill("input[name=username]", user);
    c.fill("input[name=password]", pass);
    c.submit("input[name=password]");
}

fn session_json(c: &Chromium, public: &str) -> String {
    c.goto(&format!("{public}/session?format=json"));
    c.body_text()
}

/// The attacker signs in at the IdP as bob in their own browser, keeps the
/// answer, and a page on a third site posts it from the victim's browser.
fn forged_post_is_refused(c: &Chromium, hub: &Samlhub, public: &str) {
    // The attacker signs in at the IdP as bob in their own browser and
    // keeps the answer instead of posting it.
    let mut attacker = Browser::new();
    let started = attacker.get(&format!(
        "{}/saml/login?idp=ssp&return_to=/session",
        hub.base_url()
    ));
    let post = attacker.ssp_login(started, "bob", "bobpass");
    let inputs: String = post
        .form()
        .iter()
        .map(|(k, v)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                samlhub::xml::escape(k),
                samlhub::xml::escape(v)
            )
        })
        .collect();
    let page = format!(
        "<!doctype html><body><form id=\"f\" method=\"post\" action=\"{}/saml/acs\">{inputs}</form>\
<script>document.getElementById('f').submit()</script></body>",
        public
    );
    // The attacker's page, on a third site, opened in the victim's browser.
    let evil = format!(
        "data:text/html;base64,{}",
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, page)
    );
    c.goto(&evil);
    assert!(
        c.wait_until(Duration::from_secs(15), |c| c
            .page_source()
            .contains("another browser")),
        "not refused; at {}:\n{}\n{}",
        c.current_url(),
        c.page_source(),
        hub.log()
    );
    let shot = hub.dir().join("forged-acs.png");
    c.screenshot_png(&shot);
    let me = session_json(c, public);
    assert!(
        me.contains("\"username\":\"alice\""),
        "the victim's session changed: {me}"
    );
    assert!(hub.log().contains("other_browser"), "{}", hub.log());
}

/// One browser and one IdP for both public-URL modes: every browser start
/// costs seconds of CPU on a small machine.
#[test]
fn chromium_login_is_bound_to_the_browser_over_http_and_https() {
    let Some(c) = Chromium::start_with(&ChromiumOptions {
        args: vec!["--ignore-certificate-errors".into()],
        host_resolver_rules: None,
    }) else {
        return;
    };
    let mut plain = Samlhub::prepare(BIN);
    let mut tls = Samlhub::prepare(BIN);
    let front = tls_front(&tls);
    let plain_url = hub_url(&plain);
    // hub.localhost is loopback to Chromium and a different site from the
    // IdP at 127.0.0.1.
    let tls_url = front
        .as_ref()
        .map(|f| format!("https://hub.localhost:{}", f.port));
    let mut sps = vec![sp_entry(&plain, &plain_url)];
    if let Some(u) = &tls_url {
        sps.push(sp_entry(&tls, u));
    }
    let ssp = SimpleSamlPhp::start(&sps);
    start_hub(&mut plain, &plain_url, &ssp);

    // http: the Lax login cookie stays behind on the IdP's POST, and the
    // login completes through the second hop.
    browser_login(&c, &plain_url, &ssp, "alice", "alicepass");
    c.wait_for_url(&format!("{plain_url}/session"), Duration::from_secs(20));
    let me = session_json(&c, &plain_url);
    assert!(
        me.contains("\"username\":\"alice\""),
        "{me}\n{}",
        plain.log()
    );
    let cookies = c.all_cookies();
    let lc = cookies
        .iter()
        .find(|k| k.name == "samlhub_login")
        .unwrap_or_else(|| panic!("no login cookie: {cookies:?}"));
    assert_eq!(lc.same_site, "Lax", "{lc:?}");
    assert!(lc.http_only);
    assert!(
        plain
            .log()
            .contains("login: completed through the same-site second hop"),
        "{}",
        plain.log()
    );
    forged_post_is_refused(&c, &plain, &plain_url);

    // https: the SameSite=None login cookie comes along; no second hop.
    let Some(tls_url) = tls_url else {
        return;
    };
    start_hub(&mut tls, &tls_url, &ssp);
    c.clear_all_cookies(); // a fresh sign-in at the IdP too
    browser_login(&c, &tls_url, &ssp, "alice", "alicepass");
    c.wait_for_url(&format!("{tls_url}/session"), Duration::from_secs(20));
    let me = session_json(&c, &tls_url);
    assert!(me.contains("\"username\":\"alice\""), "{me}\n{}", tls.log());
    let cookies = c.all_cookies();
    let lc = cookies
        .iter()
        .find(|k| k.name == "__Host-samlhub_login")
        .unwrap_or_else(|| panic!("no __Host- login cookie: {cookies:?}"));
    assert_eq!(lc.same_site, "None", "{lc:?}");
    assert!(lc.secure && lc.http_only, "{lc:?}");
    assert!(
        !tls.log().contains("second hop"),
        "the cookie did not come along on the IdP's POST:\n{}",
        tls.log()
    );
    forged_post_is_refused(&c, &tls, &tls_url);
}
