//! End to end against a real IdP: SimpleSAMLphp from Debian on loopback, the
//! real samlhub binary, and a scripted browser with a cookie jar. Covers the
//! four IdP signing settings, replay on both stores and across a restart,
//! and a store outage failing closed.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use crate::peers::browser::{Browser, Page, SamlPost};
use crate::peers::redis::RedisServer;
use crate::peers::samlhub::{Samlhub, BIN};
use crate::peers::simplesamlphp::{SimpleSamlPhp, SspSp};

/// One hub wired to one SimpleSAMLphp whose SP entry is shaped by `tweak`.
fn setup(tweak: impl Fn(&mut SspSp), store: Option<&str>) -> (SimpleSamlPhp, Samlhub) {
    let mut hub = Samlhub::prepare(BIN);
    let mut sp = SspSp::new(&hub.entity_id(), &hub.acs_url());
    sp.sp_cert_b64 = Some(hub.sp_key().cert_b64.clone());
    tweak(&mut sp);
    let ssp = SimpleSamlPhp::start(&[sp]);
    let store_line = store
        .map(|s| format!("store = \"{s}\"\n"))
        .unwrap_or_default();
    hub.write_config(&format!(
        "{store_line}[[idp]]\nid = \"ssp\"\ndisplay_name = \"Test IdP\"\nmetadata_url = \"{}\"\nallow_insecure_metadata_url = true\nprofile = \"generic\"\n",
        ssp.metadata_url()
    ));
    hub.start();
    (ssp, hub)
}

fn login(b: &mut Browser, hub: &Samlhub, user: &str, pass: &str) -> SamlPost {
    let start = b.get(&format!(
        "{}/saml/login?idp=ssp&return_to=/session",
        hub.base_url()
    ));
    assert_eq!(start.status, 302, "login start: {}", start.head());
    b.ssp_login(start, user, pass)
}

fn post(b: &mut Browser, p: &SamlPost) -> Page {
    b.post_form(&p.action, &p.form())
}

fn assert_refused(page: &Page, status: u16, code: &str, hub: &Samlhub) {
    assert_eq!(
        page.status,
        status,
        "expected {status} {code}, got: {}\nhub log:\n{}",
        page.head(),
        hub.log()
    );
    assert_eq!(
        page.header("x-samlhub-error"),
        Some(code),
        "{}",
        page.head()
    );
}

/// Completes a login as alice and checks what /session shows.
fn login_alice_and_check(ssp: &SimpleSamlPhp, hub: &Samlhub) -> (Browser, SamlPost) {
    let mut b = Browser::new();
    let p = login(&mut b, hub, "alice", "alicepass");
    assert_eq!(p.action, hub.acs_url());
    let r = post(&mut b, &p);
    assert_eq!(
        r.status,
        303,
        "ACS refused: {}\nhub log:\n{}\nssp log:\n{}",
        r.head(),
        hub.log(),
        ssp.log_tail()
    );
    assert_eq!(
        r.location.as_deref(),
        Some(format!("{}/session", hub.base_url()).as_str())
    );
    let cookie = r.header("set-cookie").unwrap_or_default().to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(
        !cookie.contains("Secure"),
        "plain-http public_url must not set Secure: {cookie}"
    );

    let j = b.get(&format!("{}/session?format=json", hub.base_url()));
    assert_eq!(j.status, 200, "{}", j.head());
    let v: serde_json::Value = serde_json::from_str(&j.body).unwrap();
    assert_eq!(v["idp"], "ssp");
    assert_eq!(v["subject"], "alice");
    assert_eq!(v["username"], "alice");
    assert_eq!(v["email"], "alice@example.org");
    assert_eq!(v["name"], "Alice Example");
    assert_eq!(v["groups"], serde_json::json!(["ha-admins", "users"]));

    let html = b.get(&format!("{}/session", hub.base_url()));
    assert_eq!(html.status, 200);
    for s in [
        "Alice Example",
        "alice@example.org",
        "ha-admins, users",
        "Test IdP",
    ] {
        assert!(html.body.contains(s), "{s} missing from /session page");
    }
    (b, p)
}

#[test]
fn login_with_response_and_assertion_signed() {
    let (ssp, hub) = setup(|_| {}, None);
    login_alice_and_check(&ssp, &hub);
    assert!(hub
        .log()
        .contains("signed_response=true signed_assertion=true"));
}

#[test]
fn login_with_assertion_only_signed() {
    let (ssp, hub) = setup(|sp| sp.sign_response = false, None);
    login_alice_and_check(&ssp, &hub);
    assert!(hub
        .log()
        .contains("signed_response=false signed_assertion=true"));
}

#[test]
fn login_with_response_only_signed() {
    let (ssp, hub) = setup(|sp| sp.sign_assertion = false, None);
    login_alice_and_check(&ssp, &hub);
    assert!(hub
        .log()
        .contains("signed_response=true signed_assertion=false"));
}

#[test]
fn login_with_idp_requiring_signed_authn_requests() {
    let (ssp, hub) = setup(|sp| sp.validate_authnrequest = true, None);
    login_alice_and_check(&ssp, &hub);

    // Control: the same IdP refuses our request once its signature is dropped,
    // so the login above really proved the Redirect-binding signature.
    let mut b = Browser::new();
    let start = b.get(&format!("{}/saml/login?idp=ssp", hub.base_url()));
    let url = start.location.clone().unwrap();
    let (base, query) = url.split_once('?').unwrap();
    let unsigned: Vec<&str> = query
        .split('&')
        .filter(|kv| !kv.starts_with("Signature=") && !kv.starts_with("SigAlg="))
        .collect();
    let r = b.get(&format!("{base}?{}", unsigned.join("&")));
    let r = b.follow(r);
    assert!(
        r.status >= 400 || r.body.contains("Error") || r.body.contains("signature"),
        "SimpleSAMLphp accepted an unsigned AuthnRequest: {}",
        r.head()
    );
    assert!(
        !r.body.contains("name=\"SAMLResponse\""),
        "unsigned request produced a response"
    );
}

#[test]
fn replay_refused_on_embedded_store_and_after_restart() {
    let (ssp, mut hub) = setup(|_| {}, None);
    let (mut b, p) = login_alice_and_check(&ssp, &hub);
    let again = post(&mut b, &p);
    assert_refused(&again, 403, "replay", &hub);
    assert!(
        hub.log().contains("replay: assertion"),
        "log names the replay"
    );

    hub.restart();
    let mut fresh = Browser::new();
    let after = post(&mut fresh, &p);
    assert_refused(&after, 403, "replay", &hub);
}

#[test]
fn replay_refused_on_redis_store_and_outage_fails_closed() {
    let mut redis = RedisServer::start();
    let (ssp, hub) = setup(|_| {}, Some(&redis.url()));
    let (mut b, p) = login_alice_and_check(&ssp, &hub);
    assert_refused(&post(&mut b, &p), 403, "replay", &hub);

    // A login in flight when Redis goes away: the ACS must answer 503 and
    // accept nothing, and a new login cannot start.
    let mut b2 = Browser::new();
    let p2 = login(&mut b2, &hub, "bob", "bobpass");
    redis.stop();
    let r = post(&mut b2, &p2);
    assert_refused(&r, 503, "store_unavailable", &hub);
    assert!(r.body.contains("Nothing was accepted"), "{}", r.head());
    assert!(
        r.header("set-cookie").is_none(),
        "no session may be created"
    );
    let start = b2.get(&format!("{}/saml/login?idp=ssp", hub.base_url()));
    assert_refused(&start, 503, "store_unavailable", &hub);
    // alice holds a session cookie: reading it needs the store, so 503 too.
    let who = b.get(&format!("{}/session?format=json", hub.base_url()));
    assert_eq!(who.status, 503, "{}", who.head());

    // Back up: a fresh login works again with the same hub process.
    redis.restart();
    let mut b3 = Browser::new();
    let p3 = login(&mut b3, &hub, "alice", "alicepass");
    assert_eq!(post(&mut b3, &p3).status, 303, "{}", hub.log());
}

#[test]
fn unknown_relay_state_and_foreign_return_to_are_refused() {
    let (_ssp, hub) = setup(|_| {}, None);
    let mut b = Browser::new();
    let p = login(&mut b, &hub, "alice", "alicepass");
    let mut other = p.clone();
    other.relay_state = Some("AAAAAAAAAAAAAAAAAAAAAA".into());
    assert_refused(&post(&mut b, &other), 403, "unknown_relay_state", &hub);
    other.relay_state = Some("https://evil.example/".into());
    assert_refused(&post(&mut b, &other), 403, "unknown_relay_state", &hub);
    // The genuine one still works afterwards: refusals consumed nothing.
    assert_eq!(post(&mut b, &p).status, 303, "{}", hub.log());

    for rt in [
        "https://evil.example/",
        "//evil.example/x",
        "/\\evil.example",
    ] {
        let enc: String = url::form_urlencoded::byte_serialize(rt.as_bytes()).collect();
        let r = b.get(&format!(
            "{}/saml/login?idp=ssp&return_to={enc}",
            hub.base_url()
        ));
        assert_refused(&r, 400, "bad_return_to", &hub);
    }
    let r = b.get(&format!("{}/saml/login?idp=nope", hub.base_url()));
    assert_refused(&r, 404, "unknown_idp", &hub);
}
