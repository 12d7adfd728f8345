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

fn start() -> Option<(Chromium, SimpleSamlPhp, Samlhub)> {
    let chromium = Chromium::start()?;
    let hub = Samlhub::prepare(BIN);
    let public = hub_url(&hub);
    let (ssp, hub) = configure(hub, &public);
    Some((chromium, ssp, hub))
}

/// SimpleSAMLphp knowing the hub under `public`, and the hub started with
/// that public URL.
fn configure(mut hub: Samlhub, public: &str) -> (SimpleSamlPhp, Samlhub) {
    let mut sp = SspSp::new(
        &format!("{public}/saml/metadata"),
        &format!("{public}/saml/acs"),
    );
    sp.sp_cert_b64 = Some(hub.sp_key().cert_b64.clone());
    let ssp = SimpleSamlPhp::start(&[sp]);
    let text = format!(
        "listen = \"{}\"\npublic_url = \"{public}\"\ndata_dir = \"{}\"\n\
[[idp]]\nid = \"ssp\"\nmetadata_url = \"{}\"\nprofile = \"generic\"\n",
        hub.base_url().trim_start_matches("http://"),
        hub.data_dir().display(),
        ssp.metadata_url()
    );
    std::fs::write(hub.config_path(), text).unwrap();
    hub.start();
    (ssp, hub)
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

#[test]
fn chromium_login_over_http_and_a_forged_acs_post_is_refused() {
    let Some((c, ssp, hub)) = start() else {
        return;
    };
    let public = hub_url(&hub);
    browser_login(&c, &public, &ssp, "alice", "alicepass");
    c.wait_for_url(&format!("{public}/session"), Duration::from_secs(20));
    let me = session_json(&c, &public);
    assert!(me.contains("\"username\":\"alice\""), "{me}\n{}", hub.log());
    let login = c.all_cookies();
    let lc = login
        .iter()
        .find(|k| k.name == "samlhub_login")
        .unwrap_or_else(|| panic!("no login cookie: {login:?}"));
    assert_eq!(lc.same_site, "Lax", "{lc:?}");
    assert!(lc.http_only);
    // The IdP's POST came without the Lax cookie: the second hop was taken.
    assert!(
        hub.log()
            .contains("login: completed through the same-site second hop"),
        "{}",
        hub.log()
    );

    forged_post_is_refused(&c, &hub, &public);
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

#[test]
fn chromium_login_over_https_keeps_the_login_cookie_on_the_idp_post() {
    let Some(c) = Chromium::start_with(&ChromiumOptions {
        args: vec!["--ignore-certificate-errors".into()],
        host_resolver_rules: None,
    }) else {
        return;
    };
    let hub = Samlhub::prepare(BIN);
    let Some(front) = tls_front(&hub) else {
        return;
    };
    // hub.localhost is loopback to Chromium and a different site from the
    // IdP at 127.0.0.1.
    let public = format!("https://hub.localhost:{}", front.port);
    let (ssp, hub) = configure(hub, &public);
    browser_login(&c, &public, &ssp, "alice", "alicepass");
    c.wait_for_url(&format!("{public}/session"), Duration::from_secs(20));
    let me = session_json(&c, &public);
    assert!(me.contains("\"username\":\"alice\""), "{me}\n{}", hub.log());
    let cookies = c.all_cookies();
    let lc = cookies
        .iter()
        .find(|k| k.name == "__Host-samlhub_login")
        .unwrap_or_else(|| panic!("no __Host- login cookie: {cookies:?}"));
    assert_eq!(lc.same_site, "None", "{lc:?}");
    assert!(lc.secure && lc.http_only, "{lc:?}");
    assert!(
        !hub.log().contains("second hop"),
        "the cookie did not come along on the IdP's POST:\n{}",
        hub.log()
    );
    forged_post_is_refused(&c, &hub, &public);
}
