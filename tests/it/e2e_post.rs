//! Issue 9 parts 1 and 6 against real SimpleSAMLphp: an IdP whose metadata
//! offers only an HTTP-POST SSO endpoint and that requires signed
//! AuthnRequests (SAML Bindings §3.5.4), and IdP-initiated login through
//! SSP's `spentityid=` link (SAML Profiles §4.1.5), on and off. One SSP
//! process serves two hubs: "post" (POST-only metadata, IdP-initiated login
//! allowed) and "plain" (SSP's own metadata, IdP-initiated login off).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use crate::peers::browser::{form_action, hidden_inputs, resolve, Browser, Page, SamlPost};
use crate::peers::samlhub::{Samlhub, BIN};
use crate::peers::simplesamlphp::{SimpleSamlPhp, SspSp};
use base64::Engine as _;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// SSP's metadata with an HTTP-POST SingleSignOnService and no HTTP-Redirect one.
fn post_only_metadata(ssp: &SimpleSamlPhp) -> String {
    let md = ssp.metadata_xml();
    // SSP 1.19 publishes one SSO endpoint, HTTP-Redirect; its
    // SSOService.php takes HTTP-POST as well, so that endpoint becomes POST.
    let out: Vec<String> = md
        .lines()
        .map(|l| {
            if l.contains("SingleSignOnService") {
                l.replace("bindings:HTTP-Redirect", "bindings:HTTP-POST")
            } else {
                l.to_owned()
            }
        })
        .collect();
    let out = out.join("\n");
    let parsed = samlhub::saml::metadata::parse_idp(out.as_bytes(), None).unwrap();
    let bindings: Vec<&str> = parsed.sso.iter().map(|e| e.binding.as_str()).collect();
    assert_eq!(
        bindings,
        [samlhub::saml::metadata::BINDING_POST],
        "not a POST-only IdP:\n{out}"
    );
    out
}

fn sp_entry(hub: &Samlhub) -> SspSp {
    let mut sp = SspSp::new(&hub.entity_id(), &hub.acs_url());
    sp.sp_cert_b64 = Some(hub.sp_key().cert_b64.clone());
    sp.validate_authnrequest = true;
    sp
}

/// The POST hub and the plain hub, both registered at one SSP that requires
/// signed AuthnRequests from each.
fn setup() -> (SimpleSamlPhp, Samlhub, Samlhub) {
    let mut post = Samlhub::prepare(BIN);
    let mut plain = Samlhub::prepare(BIN);
    let ssp = SimpleSamlPhp::start(&[sp_entry(&post), sp_entry(&plain)]);
    let md = post.dir().join("ssp-post-only.xml");
    std::fs::write(&md, post_only_metadata(&ssp)).unwrap();
    post.write_config(&format!(
        "[[idp]]\nid = \"ssp\"\ndisplay_name = \"Test IdP\"\nmetadata_file = \"{}\"\n\
         allow_unsolicited = true\nunsolicited_target = \"/session\"\n",
        md.display()
    ));
    post.start();
    plain.write_config(&format!(
        "[[idp]]\nid = \"ssp\"\ndisplay_name = \"Test IdP\"\nmetadata_url = \"{}\"\nallow_insecure_metadata_url = true\n",
        ssp.metadata_url()
    ));
    plain.start();
    (ssp, post, plain)
}

/// The auto-submitting form /saml/login answers for a POST-bound IdP.
struct ToIdp {
    action: String,
    saml_request: String,
    relay_state: String,
}

fn start_post_login(b: &mut Browser, hub: &Samlhub) -> (Page, ToIdp) {
    let page = b.get(&format!(
        "{}/saml/login?idp=ssp&return_to=/session",
        hub.base_url()
    ));
    assert_eq!(page.status, 200, "{}\n{}", page.head(), hub.log());
    let inputs = hidden_inputs(&page.body);
    let get = |k: &str| {
        inputs
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no {k} in {}", page.head()))
    };
    let to = ToIdp {
        action: resolve(&page.url, &form_action(&page.body).unwrap()),
        saml_request: get("SAMLRequest"),
        relay_state: get("RelayState"),
    };
    (page, to)
}

/// The CSP allows the page's inline script by its hash, and the page has a
/// visible Continue button for browsers without script.
fn assert_page_works_under_csp(page: &Page) {
    let script = page
        .body
        .split_once("<script>")
        .and_then(|(_, r)| r.split_once("</script>"))
        .map(|(s, _)| s)
        .expect("auto-submit script");
    let hash = format!(
        "'sha256-{}'",
        B64.encode(openssl::sha::sha256(script.as_bytes()))
    );
    let csp = page.header("content-security-policy").unwrap_or_default();
    assert!(csp.contains(&hash), "CSP {csp} lacks {hash}");
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(
        page.body
            .contains("<button class=\"btn\" type=\"submit\">Continue</button></p></form>")
            && !page.body.contains("<noscript>"),
        "no visible Continue button: {}",
        page.head()
    );
    assert_eq!(page.header("cache-control"), Some("no-store"));
}

/// SSP's answer to a posted AuthnRequest, once SSP has a session for the
/// browser: a SAMLResponse form when it accepted the request.
fn post_to_ssp(b: &mut Browser, to: &ToIdp, saml_request: &str) -> Page {
    let r = b.post_form(
        &to.action,
        &[
            ("SAMLRequest", saml_request),
            ("RelayState", to.relay_state.as_str()),
        ],
    );
    let mut page = r;
    for _ in 0..5 {
        if !page.is_redirect() {
            break;
        }
        page = b.follow(page);
    }
    page
}

fn session_json(b: &mut Browser, hub: &Samlhub) -> Option<serde_json::Value> {
    let j = b.get(&format!("{}/session?format=json", hub.base_url()));
    (j.status == 200).then(|| serde_json::from_str(&j.body).unwrap())
}

fn acs(b: &mut Browser, p: &SamlPost) -> Page {
    b.post_form(&p.action, &p.form())
}

#[test]
fn post_binding_and_idp_initiated_login_against_simplesamlphp() {
    let (ssp, post, plain) = setup();

    // --- Part 1: SP-initiated over HTTP-POST, signed, end to end. --------
    let mut b = Browser::new();
    let (page, to) = start_post_login(&mut b, &post);
    assert_page_works_under_csp(&page);
    assert_eq!(to.action, ssp.sso_url());
    let request = String::from_utf8(B64.decode(&to.saml_request).unwrap()).unwrap();
    assert!(
        request.contains("<ds:Signature")
            && request.contains(&format!("Destination=\"{}\"", ssp.sso_url())),
        "{request}"
    );
    let first = b.post_form(
        &to.action,
        &[
            ("SAMLRequest", to.saml_request.as_str()),
            ("RelayState", to.relay_state.as_str()),
        ],
    );
    let p = b.ssp_login(first, "alice", "alicepass");
    assert_eq!(p.action, post.acs_url());
    assert_eq!(p.relay_state.as_deref(), Some(to.relay_state.as_str()));
    let r = acs(&mut b, &p);
    assert_eq!(
        (r.status, r.location.clone()),
        (303, Some(format!("{}/session", post.base_url()))),
        "{}\nhub log:\n{}\nssp log:\n{}",
        r.head(),
        post.log(),
        ssp.log_tail()
    );
    let who = session_json(&mut b, &post).expect("signed in");
    assert_eq!(
        (who["idp"].as_str(), who["subject"].as_str()),
        (Some("ssp"), Some("alice"))
    );

    // SSP checks the signature: with SSP's session for alice in place, the
    // genuine request yields a SAMLResponse at once; a changed signed byte,
    // a changed attribute or a dropped Signature yields none.
    let (_, to) = start_post_login(&mut b, &post);
    let genuine = post_to_ssp(&mut b, &to, &to.saml_request);
    assert!(
        genuine.body.contains("name=\"SAMLResponse\""),
        "control: SSP did not answer the genuine request: {}\n{}",
        genuine.head(),
        ssp.log_tail()
    );
    let xml = String::from_utf8(B64.decode(&to.saml_request).unwrap()).unwrap();
    let sig_start = xml.find("<ds:Signature").unwrap();
    let sig_end = xml.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
    let ii = xml.find("IssueInstant=\"").unwrap() + "IssueInstant=\"".len();
    let second = ii + "2026-01-01T00:00:0".len();
    let bumped = if &xml[second..=second] == "0" {
        "1"
    } else {
        "0"
    };
    let sv = xml.find("<ds:SignatureValue>").unwrap() + "<ds:SignatureValue>".len();
    let flipped = if &xml[sv..=sv] == "A" { "B" } else { "A" };
    let tampered = [
        (
            "IssueInstant moved by a second",
            format!("{}{bumped}{}", &xml[..second], &xml[second + 1..]),
        ),
        (
            "NameIDPolicy AllowCreate flipped",
            xml.replacen("AllowCreate=\"true\"", "AllowCreate=\"false\"", 1),
        ),
        (
            "one SignatureValue character changed",
            format!("{}{flipped}{}", &xml[..sv], &xml[sv + 1..]),
        ),
        (
            "Signature removed",
            format!("{}{}", &xml[..sig_start], &xml[sig_end..]),
        ),
    ];
    for (what, t) in tampered {
        assert_ne!(t, xml, "{what}: nothing changed");
        let r = post_to_ssp(&mut b, &to, &B64.encode(&t));
        assert!(
            !r.body.contains("name=\"SAMLResponse\""),
            "{what}: SimpleSAMLphp answered a tampered AuthnRequest: {}",
            r.head()
        );
        assert!(
            r.status >= 400 || r.body.to_lowercase().contains("error"),
            "{what}: SimpleSAMLphp did not refuse: {} {}",
            r.status,
            r.head()
        );
    }

    // --- Part 6: IdP-initiated, allowed on the POST hub. -----------------
    // RelayState from the IdP is not a redirect target: the landing page is
    // unsolicited_target (/session).
    let mut c = Browser::new();
    let start = c.get(&ssp.idp_initiated_url(&post.entity_id(), Some("https://evil.example/")));
    let p = c.ssp_login(start, "bob", "bobpass");
    assert_eq!(p.action, post.acs_url());
    let r = acs(&mut c, &p);
    assert_eq!(r.status, 200, "{}\nhub log:\n{}", r.head(), post.log());
    assert!(r.body.contains("Continue as Bob Example"), "{}", r.head());
    assert!(
        !r.header_all("set-cookie")
            .iter()
            .any(|c| c.starts_with("samlhub_session")),
        "the ACS itself must not sign in on an unsolicited response"
    );
    assert!(
        !r.body.contains("<script>"),
        "the confirmation must not submit itself"
    );
    assert_eq!(
        session_json(&mut c, &post),
        None,
        "no session before the click"
    );
    let ticket = hidden_inputs(&r.body)
        .into_iter()
        .find(|(k, _)| k == "ticket")
        .map(|(_, v)| v)
        .unwrap();
    // Another browser holding the ticket gets nothing (the login cookie binds it).
    let stolen = Browser::new().post_form(
        &format!("{}/saml/continue", post.base_url()),
        &[("ticket", ticket.as_str())],
    );
    assert_eq!(stolen.status, 403, "{}", stolen.head());
    // The stolen attempt took the ticket: a fresh IdP-initiated login, then the click.
    let start = c.get(&ssp.idp_initiated_url(&post.entity_id(), Some("https://evil.example/")));
    let p = c.ssp_login(start, "bob", "bobpass");
    let r = acs(&mut c, &p);
    let ticket = hidden_inputs(&r.body)
        .into_iter()
        .find(|(k, _)| k == "ticket")
        .map(|(_, v)| v)
        .unwrap();
    let done = c.post_form(
        &format!("{}/saml/continue", post.base_url()),
        &[("ticket", ticket.as_str())],
    );
    assert_eq!(
        (done.status, done.location.clone()),
        (303, Some(format!("{}/session", post.base_url()))),
        "{}\n{}",
        done.head(),
        post.log()
    );
    let who = session_json(&mut c, &post).expect("signed in after the click");
    assert_eq!(who["subject"], "bob");
    assert_eq!(who["email"], "bob@example.org");
    assert!(
        post.log().contains("unsolicited: idp=ssp"),
        "{}",
        post.log()
    );

    // A replayed unsolicited response is refused.
    let again = acs(&mut c, &p);
    assert_eq!(
        (again.status, again.header("x-samlhub-error")),
        (403, Some("replay")),
        "{}",
        again.head()
    );

    // --- Part 6: IdP-initiated, off on the plain hub. --------------------
    let mut d = Browser::new();
    let start = d.get(&ssp.idp_initiated_url(&plain.entity_id(), None));
    let p = d.ssp_login(start, "alice", "alicepass");
    assert_eq!(p.action, plain.acs_url());
    let r = acs(&mut d, &p);
    assert_eq!(
        (r.status, r.header("x-samlhub-error")),
        (403, Some("unsolicited_off")),
        "{}\n{}",
        r.head(),
        plain.log()
    );
    assert!(
        r.body.contains("started this sign-in itself")
            && r.body.contains("allow_unsolicited = true"),
        "{}",
        r.head()
    );
    assert_eq!(session_json(&mut d, &plain), None);
    // The plain hub still takes SP-initiated logins (over Redirect: SSP's
    // own metadata offers it), with the same SSP session.
    let start = d.get(&format!("{}/saml/login?idp=ssp", plain.base_url()));
    assert_eq!(start.status, 302, "{}", start.head());
    let p = d.ssp_login(start, "alice", "alicepass");
    assert_eq!(acs(&mut d, &p).status, 303, "{}", plain.log());
}

/// The same two flows in headless Chromium, the hub at `hub.test` (another
/// site than the IdP at 127.0.0.1): the POST form submits itself under the
/// hub's CSP (the IdP's login form appears without a click), and an
/// IdP-initiated sign-in stops at the confirmation page until Continue is
/// clicked. Skips (with a message) when Chromium cannot run here.
#[test]
fn chromium_submits_the_post_form_and_confirms_idp_initiated_login() {
    use crate::peers::chromium::Chromium;
    use std::time::Duration;
    let Some(c) = Chromium::start() else {
        return;
    };
    let mut hub = Samlhub::prepare(BIN);
    let public = hub.base_url().replace("127.0.0.1", "hub.test");
    let mut sp = SspSp::new(
        &format!("{public}/saml/metadata"),
        &format!("{public}/saml/acs"),
    );
    sp.sp_cert_b64 = Some(hub.sp_key().cert_b64.clone());
    sp.validate_authnrequest = true;
    let ssp = SimpleSamlPhp::start(&[sp]);
    let md = hub.dir().join("ssp-post-only.xml");
    std::fs::write(&md, post_only_metadata(&ssp)).unwrap();
    std::fs::write(
        hub.config_path(),
        format!(
            "listen = \"{}\"\npublic_url = \"{public}\"\ndata_dir = \"{}\"\n\
             [[idp]]\nid = \"ssp\"\ndisplay_name = \"Test IdP\"\nmetadata_file = \"{}\"\n\
             allow_unsolicited = true\nunsolicited_target = \"/session\"\n",
            hub.base_url().trim_start_matches("http://"),
            hub.data_dir().display(),
            md.display()
        ),
    )
    .unwrap();
    hub.start();
    let wait_for = |what: &str| {
        assert!(
            c.wait_until(Duration::from_secs(15), |c| c.page_source().contains(what)),
            "'{what}' did not appear at {}:\n{}\n{}",
            c.current_url(),
            c.page_source(),
            hub.log()
        );
    };
    let sign_in_at_idp = |user: &str, pass: &str| {
        wait_for("name=\"password\"");
        assert!(
            c.current_url().starts_with(ssp.base_url()),
            "{}",
            c.current_url()
        );
        c.fill("input[name=username]", user);
        c.fill("input[name=password]", pass);
        c.submit("input[name=password]");
    };

    // SP-initiated over POST: no click between the hub and the IdP's form.
    c.goto(&format!("{public}/saml/login?idp=ssp&return_to=/session"));
    sign_in_at_idp("alice", "alicepass");
    c.wait_for_url(&format!("{public}/session"), Duration::from_secs(20));
    c.goto(&format!("{public}/session?format=json"));
    let me = c.body_text();
    assert!(me.contains("\"username\":\"alice\""), "{me}\n{}", hub.log());

    // IdP-initiated, in a fresh browser state: the confirmation page, then
    // the click.
    c.clear_all_cookies();
    c.goto(&ssp.idp_initiated_url(&format!("{public}/saml/metadata"), None));
    sign_in_at_idp("bob", "bobpass");
    wait_for("Continue as Bob Example");
    let shot = hub.dir().join("confirm-unsolicited.png");
    c.screenshot_png(&shot);
    c.click("button[type=submit]");
    c.wait_for_url(&format!("{public}/session"), Duration::from_secs(20));
    c.goto(&format!("{public}/session?format=json"));
    let me = c.body_text();
    assert!(me.contains("\"username\":\"bob\""), "{me}\n{}", hub.log());
}
