//! Login CSRF at the ACS: a valid, fresh SAMLResponse and RelayState that an
//! attacker obtained in their own browser are refused when another browser
//! posts them, and the victim's session is unchanged. The normal login works
//! under an http public URL (with the second, same-site hop when the login
//! cookie does not come along on the IdP's POST) and under an https one
//! (`__Host-` cookie, `SameSite=None; Secure`).

use crate::peers::browser::{hidden_inputs, query_param, Browser, Page};
use crate::peers::samlhub::{Samlhub, BIN};
use samlhub::testing::idp::{Spec, TestIdp};
use samlhub::testing::peers::hub::request_id_of;

struct Rig {
    idp: TestIdp,
    hub: Samlhub,
    /// The public URL the hub was configured with.
    public: String,
}

fn rig(https: bool) -> Rig {
    let idp = TestIdp::new("csrf");
    let mut hub = Samlhub::prepare(BIN);
    let md = hub.dir().join("idp.xml");
    std::fs::write(&md, idp.metadata_xml()).unwrap();
    let idp_toml = format!(
        "[[idp]]\nid = \"test\"\nmetadata_file = \"{}\"\n",
        md.display()
    );
    let public = if https {
        // Served over plain http on loopback, published as https (as
        // behind a TLS proxy).
        let public = hub.base_url().replace("http://", "https://");
        let text = format!(
            "listen = \"{}\"\npublic_url = \"{public}\"\ndata_dir = \"{}\"\n{idp_toml}",
            hub.base_url().trim_start_matches("http://"),
            hub.data_dir().display()
        );
        std::fs::write(hub.config_path(), text).unwrap();
        public
    } else {
        hub.write_config(&idp_toml);
        hub.base_url()
    };
    hub.start();
    Rig { idp, hub, public }
}

/// Starts a login in `b`; returns (RelayState, request ID, login cookie
/// header as the browser would send it).
fn start_login(rig: &Rig, b: &mut Browser) -> (String, String, Page) {
    let page = b.get(&format!("{}/saml/login?idp=test", rig.hub.base_url()));
    assert_eq!(page.status, 302, "{}", page.head());
    let loc = page.location.clone().unwrap();
    let (relay, id) = (
        query_param(&loc, "RelayState").unwrap(),
        request_id_of(&loc),
    );
    (relay, id, page)
}

/// A valid both-signed response for request `id`, base64.
fn response_for(rig: &Rig, id: &str, subject: &str) -> String {
    #[allow(clippy::disallowed_methods)]
    let now = time::OffsetDateTime::now_utc();
    let acs = format!("{}/saml/acs", rig.public);
    let entity = format!("{}/saml/metadata", rig.public);
    let mut spec = Spec::valid(&rig.idp, &entity, &acs, Some(id), now);
    spec.name_id = subject.into();
    spec.post_field(&rig.idp.key)
}

fn session_subject(b: &mut Browser, rig: &Rig) -> Option<String> {
    let p = b.get(&format!("{}/session?format=json", rig.hub.base_url()));
    if p.status != 200 {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(&p.body).unwrap();
    v["subject"].as_str().map(str::to_owned)
}

fn post_acs(b: &mut Browser, rig: &Rig, saml: &str, relay: &str, cookie: Option<&str>) -> Page {
    let form = [("SAMLResponse", saml), ("RelayState", relay)];
    let url = format!("{}/saml/acs", rig.hub.base_url());
    match cookie {
        Some(c) => b.post_form_with_headers(&url, &form, &[("Cookie", c)]),
        None => b.post_form(&url, &form),
    }
}

fn assert_other_browser(p: &Page, what: &str) {
    assert_eq!(p.status, 403, "{what}: {}", p.head());
    assert_eq!(p.header("x-samlhub-error"), Some("other_browser"), "{what}");
    assert!(p.header("set-cookie").is_none(), "{what}: {}", p.head());
    assert!(p.body.contains("another browser"), "{what}: {}", p.body);
}

/// The cookie value `name` set by a response.
fn set_cookie<'a>(p: &'a Page, name: &str) -> Option<&'a str> {
    p.header_all("set-cookie")
        .into_iter()
        .find(|c| c.starts_with(&format!("{name}=")))
}

#[test]
fn forged_acs_post_from_another_browser_is_refused_and_the_victim_keeps_their_session() {
    let rig = rig(false);
    // The victim is signed in as themself.
    let mut victim = Browser::new();
    let (v_relay, v_id, _) = start_login(&rig, &mut victim);
    let ok = post_acs(
        &mut victim,
        &rig,
        &response_for(&rig, &v_id, "victim"),
        &v_relay,
        None,
    );
    assert_eq!(ok.status, 303, "{}", ok.head());
    assert_eq!(
        session_subject(&mut victim, &rig).as_deref(),
        Some("victim")
    );

    // The attacker starts a login and signs in at the IdP as themself, but
    // keeps the answer.
    let mut attacker = Browser::new();
    let (a_relay, a_id, _) = start_login(&rig, &mut attacker);
    let forged = response_for(&rig, &a_id, "attacker");

    // Posted from the victim's browser, which carries its own login cookie.
    let p = post_acs(&mut victim, &rig, &forged, &a_relay, None);
    assert_other_browser(&p, "victim with a login cookie");
    assert_eq!(
        session_subject(&mut victim, &rig).as_deref(),
        Some("victim")
    );

    // Posted from a browser without a login cookie (a Lax cookie stays
    // behind on a cross-site POST): the second hop refuses it.
    let mut fresh = Browser::new();
    let p = post_acs(&mut fresh, &rig, &forged, &a_relay, None);
    assert_eq!(p.status, 200, "{}", p.head());
    let ticket = hidden_inputs(&p.body)
        .into_iter()
        .find(|(k, _)| k == "ticket")
        .map(|(_, v)| v)
        .expect("a continue form");
    let cont = victim.post_form(
        &format!("{}/saml/continue", rig.hub.base_url()),
        &[("ticket", ticket.as_str())],
    );
    assert_other_browser(&cont, "second hop with the victim's cookie");
    assert_eq!(
        session_subject(&mut victim, &rig).as_deref(),
        Some("victim")
    );
    let log = rig.hub.log();
    assert!(log.contains("other_browser"), "{log}");
}

#[test]
fn login_without_the_cookie_on_the_acs_post_continues_same_site() {
    let rig = rig(false);
    let mut b = Browser::new();
    let (relay, id, start) = start_login(&rig, &mut b);
    let cookie = set_cookie(&start, "samlhub_login").expect("login cookie");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(cookie.contains("Path=/"), "{cookie}");
    // The IdP's cross-site POST arrives without the Lax cookie.
    let mut idp_post = Browser::new();
    let p = post_acs(
        &mut idp_post,
        &rig,
        &response_for(&rig, &id, "alice"),
        &relay,
        None,
    );
    assert_eq!(p.status, 200, "{}", p.head());
    assert!(p.header("set-cookie").is_none());
    let csp = p.header("content-security-policy").unwrap_or("").to_owned();
    assert!(p.body.contains("action=\"/saml/continue\""), "{}", p.body);
    let ticket = hidden_inputs(&p.body)
        .into_iter()
        .find(|(k, _)| k == "ticket")
        .map(|(_, v)| v)
        .unwrap();
    assert!(csp.contains("script-src 'sha256-"), "{csp}");
    // The browser's own same-site POST carries it.
    let url = format!("{}/saml/continue", rig.hub.base_url());
    let done = b.post_form(&url, &[("ticket", ticket.as_str())]);
    assert_eq!(done.status, 303, "{}", done.head());
    assert_eq!(session_subject(&mut b, &rig).as_deref(), Some("alice"));
    // The ticket works once.
    let again = b.post_form(&url, &[("ticket", ticket.as_str())]);
    assert_eq!(again.status, 403, "{}", again.head());
}

#[test]
fn https_public_url_uses_a_host_cookie_that_survives_the_cross_site_post() {
    let rig = rig(true);
    let mut b = Browser::new();
    let (relay, id, start) = start_login(&rig, &mut b);
    let cookie = set_cookie(&start, "__Host-samlhub_login").expect("__Host- login cookie");
    for attr in ["HttpOnly", "SameSite=None", "Secure", "Path=/"] {
        assert!(cookie.contains(attr), "{attr} missing: {cookie}");
    }
    assert!(!cookie.contains("Domain="), "{cookie}");
    let value = cookie.split(';').next().unwrap().to_owned();
    // A browser sends a Secure cookie only over https; the test talks http
    // to the hub (as a TLS proxy would), so it sends the header itself.
    let mut idp_post = Browser::new();
    let forged = post_acs(
        &mut idp_post,
        &rig,
        &response_for(&rig, &id, "alice"),
        &relay,
        Some("__Host-samlhub_login=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
    );
    assert_other_browser(&forged, "another browser's cookie");
    let p = post_acs(
        &mut idp_post,
        &rig,
        &response_for(&rig, &id, "alice"),
        &relay,
        Some(&value),
    );
    assert_eq!(p.status, 303, "{}", p.head());
    let session = set_cookie(&p, "samlhub_session").unwrap();
    assert!(session.contains("Secure"), "{session}");
}

/// A browser signed in as `subject` through the normal login.
fn signed_in(rig: &Rig, subject: &str) -> Browser {
    let mut b = Browser::new();
    let (relay, id, _) = start_login(rig, &mut b);
    let p = post_acs(&mut b, rig, &response_for(rig, &id, subject), &relay, None);
    assert_eq!(p.status, 303, "{}", p.head());
    b
}

#[test]
fn cross_site_end_session_without_a_hint_asks_before_signing_out() {
    let rig = rig(false);
    let mut b = signed_in(&rig, "alice");
    let url = format!("{}/oidc/end_session", rig.hub.base_url());
    // A cross-site top-level GET with no parameters.
    let p = b.get_with_headers(&url, &[("Sec-Fetch-Site", "cross-site")]);
    assert_eq!(p.status, 200, "{}", p.head());
    assert!(p.body.contains("Sign out?"), "{}", p.body);
    assert!(p.header("set-cookie").is_none(), "{}", p.head());
    assert_eq!(session_subject(&mut b, &rig).as_deref(), Some("alice"));
    // A forged POST with a made-up confirmation changes nothing either.
    let p = b.post_form(&url, &[("confirm", "0".repeat(64).as_str())]);
    assert_eq!(p.status, 200);
    assert!(p.body.contains("Sign out?"));
    assert_eq!(session_subject(&mut b, &rig).as_deref(), Some("alice"));
    // The person confirms on the page.
    let form = hidden_inputs(&p.body);
    assert!(form.iter().any(|(k, _)| k == "confirm"), "{form:?}");
    let done = b.post_form(&url, &form);
    assert_eq!(done.status, 200, "{}", done.head());
    assert!(done.body.contains("signed out"), "{}", done.body);
    assert_eq!(session_subject(&mut b, &rig), None);
}

#[test]
fn logout_is_post_only_and_same_site() {
    let rig = rig(false);
    let mut b = signed_in(&rig, "alice");
    let url = format!("{}/logout", rig.hub.base_url());
    assert_eq!(b.get(&url).status, 404);
    let p = b.post_form_with_headers(&url, &[("x", "1")], &[("Origin", "https://evil.example")]);
    assert_eq!(p.status, 403, "{}", p.head());
    assert_eq!(p.header("x-samlhub-error"), Some("cross_site"));
    let p = b.post_form_with_headers(&url, &[("x", "1")], &[("Sec-Fetch-Site", "cross-site")]);
    assert_eq!(p.status, 403, "{}", p.head());
    assert_eq!(session_subject(&mut b, &rig).as_deref(), Some("alice"));
    let own = rig.hub.base_url();
    let p = b.post_form_with_headers(&url, &[("x", "1")], &[("Origin", own.as_str())]);
    assert_eq!(p.status, 303, "{}", p.head());
    let gone = set_cookie(&p, "samlhub_session").unwrap();
    assert!(gone.contains("SameSite=Lax"), "{gone}");
    assert_eq!(session_subject(&mut b, &rig), None);
}

#[test]
fn end_session_never_echoes_an_oversized_state() {
    let rig = rig(false);
    let mut b = signed_in(&rig, "alice");
    let big = "s".repeat(3000);
    let url = format!("{}/oidc/end_session?state={big}", rig.hub.base_url());
    let p = b.get(&url);
    assert_eq!(p.status, 400, "{}", p.head());
    assert!(p.location.is_none());
    assert!(!p.body.contains(&big));
    assert_eq!(session_subject(&mut b, &rig).as_deref(), Some("alice"));
}
