//! Sessions in-process: the cookie, `/session` as JSON and HTML, the front
//! page, logout, and the session's end at its lifetime or at the IdP's
//! SessionNotOnOrAfter, by stepping the clock.

use super::{Hub, Setup};
use crate::oidc_rig::IDP;
use crate::peers::browser::Page;
use samlhub::http::SESSION_COOKIE;
use samlhub::testing::idp::Attr;

/// 200, never cached, of media type `media`.
fn assert_fresh(p: &Page, media: &str) {
    assert_eq!(p.status, 200, "{}", p.head());
    assert_eq!(p.header("cache-control"), Some("no-store"));
    assert!(
        p.header("content-type")
            .is_some_and(|c| c.starts_with(media)),
        "{:?}",
        p.headers
    );
}

#[actix_web::test]
async fn session_cookie_json_and_html() {
    let hub = Hub::start().await;
    let mut b = hub.browser();
    let r = hub
        .sign_in_with(&mut b, IDP, |spec| {
            spec.attributes
                .retain(|a| a.name != "displayName" && a.name != "uid");
            spec.attributes.extend([
                Attr::new("uid", &["alice"]),
                Attr::new("displayName", &["<b>Alice & \"co\"</b>"]),
            ]);
        })
        .await;
    assert_eq!(r.status, 303, "{}", r.head());
    assert_eq!(r.location.as_deref(), Some("http://127.0.0.1:1/session"));
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let set = r.header_all("set-cookie");
    let cookie = set
        .iter()
        .find(|c| c.starts_with(&format!("{SESSION_COOKIE}=")))
        .unwrap_or_else(|| panic!("no session cookie: {set:?}"));
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=28800"] {
        assert!(cookie.contains(attr), "{attr} missing: {cookie}");
    }
    assert!(!cookie.contains("Secure"), "http public_url: {cookie}");
    let value = b.cookie(SESSION_COOKIE).unwrap().to_owned();
    assert!(value.len() >= 43, "{value}");

    // JSON, by query or by Accept.
    let j = b.get("/session?format=json").await;
    assert_fresh(&j, "application/json");
    let v: serde_json::Value = serde_json::from_str(&j.body).unwrap();
    assert_eq!(v["idp"], IDP);
    assert_eq!(v["subject"], "alice");
    assert_eq!(v["username"], "alice");
    assert_eq!(v["name"], "<b>Alice & \"co\"</b>");
    assert_eq!(v["email"], "alice@example.org");
    assert_eq!(v["groups"], serde_json::json!(["ha-admins", "users"]));
    assert_eq!(v["expires"].as_i64(), Some(hub.unix() + 8 * 3600));
    let a = b
        .get_with_headers("/session", &[("Accept", "application/json")])
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&a.body).unwrap(),
        v
    );

    // HTML, every value escaped.
    let h = b.get("/session").await;
    assert_fresh(&h, "text/html");
    assert!(
        h.body
            .contains("&lt;b&gt;Alice &amp; &quot;co&quot;&lt;/b&gt;"),
        "{}",
        h.head()
    );
    assert!(!h.body.contains("<b>Alice"), "{}", h.head());
    assert!(h.body.contains("action=\"/logout\""));
    let front = b.get("/").await;
    assert_eq!(front.status, 200);
    assert!(front.body.contains("Signed in as"), "{}", front.head());

    // Without the cookie: 401, as a page or as JSON.
    let mut anon = hub.browser();
    let p = anon.get("/session").await;
    assert_eq!(p.status, 401);
    assert_eq!(p.header("x-samlhub-error"), Some("no_session"));
    assert!(p.header("x-samlhub-reference").is_some());
    let p = anon.get("/session?format=json").await;
    assert_eq!(
        (p.status, p.body.as_str()),
        (401, r#"{"error":"no_session"}"#)
    );
    let front = anon.get("/").await;
    assert!(!front.body.contains("Signed in as"));
    // A made-up cookie is no session either.
    anon.set_cookie(SESSION_COOKIE, &value.replace(|c: char| c != 'A', "A"));
    assert_eq!(anon.get("/session?format=json").await.status, 401);
}

#[actix_web::test]
async fn logout_ends_the_session_for_good() {
    let hub = Hub::start().await;
    let mut b = hub.signed_in_browser().await;
    let value = b.cookie(SESSION_COOKIE).unwrap().to_owned();
    let out = b.post_form::<&str, &str>("/logout", &[]).await;
    assert_eq!(out.status, 303, "{}", out.head());
    assert_eq!(out.location.as_deref(), Some("http://127.0.0.1:1/"));
    let gone = out
        .header_all("set-cookie")
        .into_iter()
        .find(|c| c.starts_with(&format!("{SESSION_COOKIE}=")))
        .unwrap_or_else(|| panic!("no removal cookie: {:?}", out.headers));
    assert!(gone.contains("Max-Age=0"), "{gone}");
    assert!(b.cookie(SESSION_COOKIE).is_none());
    assert_eq!(b.get("/session?format=json").await.status, 401);
    // The old cookie, replayed, finds nothing: the session ended server-side.
    b.set_cookie(SESSION_COOKIE, &value);
    assert_eq!(b.get("/session?format=json").await.status, 401);
    // Logging out without a session is harmless.
    let again = hub.browser().post_form::<&str, &str>("/logout", &[]).await;
    assert_eq!(again.status, 303);
    // GET does not log out.
    let mut b = hub.signed_in_browser().await;
    assert_ne!(b.get("/logout").await.status, 303);
    assert_eq!(b.get("/session?format=json").await.status, 200);
}

#[actix_web::test]
async fn session_ends_at_its_lifetime() {
    let hub = Hub::start_with(Setup {
        extra: Box::new(|_| "session_lifetime = \"1h\"\n".into()),
        ..Setup::default()
    })
    .await;
    let mut b = hub.signed_in_browser().await;
    let started = hub.unix();
    let j = b.get("/session?format=json").await;
    let v: serde_json::Value = serde_json::from_str(&j.body).unwrap();
    assert_eq!(v["expires"].as_i64(), Some(started + 3600));
    hub.advance(3599);
    assert_eq!(b.get("/session?format=json").await.status, 200);
    assert_eq!(b.get("/session").await.status, 200);
    hub.advance(1);
    let p = b.get("/session?format=json").await;
    assert_eq!(
        (p.status, p.body.as_str()),
        (401, r#"{"error":"no_session"}"#)
    );
    assert_eq!(b.get("/session").await.status, 401);
    assert!(!b.get("/").await.body.contains("Signed in as"));
}

#[actix_web::test]
async fn session_ends_at_the_idps_session_not_on_or_after() {
    let hub = Hub::start().await;
    let mut b = hub.browser();
    let end = hub.now() + time::Duration::minutes(10);
    let r = hub
        .sign_in_with(&mut b, IDP, |spec| {
            spec.session_not_on_or_after = Some(end);
        })
        .await;
    assert_eq!(r.status, 303, "{}", r.head());
    let cookie = r
        .header_all("set-cookie")
        .into_iter()
        .find(|c| c.starts_with(&format!("{SESSION_COOKIE}=")))
        .unwrap();
    assert!(cookie.contains("Max-Age=600"), "{cookie}");
    hub.advance(599);
    assert_eq!(b.get("/session?format=json").await.status, 200);
    hub.advance(1);
    assert_eq!(b.get("/session?format=json").await.status, 401);
}

/// The ACS reads its form from the body's bytes: a charset parameter on
/// the media type, and base64 broken across lines (the CR LF
/// percent-encoded, as a browser posts a field that holds them), sign in;
/// a body of another media type is a 400 that leaves the login pending.
#[actix_web::test]
async fn acs_form_with_a_charset_and_line_broken_base64() {
    let hub = Hub::start().await;
    let mut b = hub.browser();
    let (relay, id) = hub.begin_login(&mut b, IDP).await;
    let encoded = hub.response(hub.idp_by_id(IDP), &id, |_| {});
    let lines: Vec<&str> = encoded
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    let body = super::form(&[
        ("SAMLResponse", lines.join("\r\n").as_str()),
        ("RelayState", relay.as_str()),
    ]);
    assert!(body.contains("%0D%0A") && body.contains("%2B"), "{body}");

    let p = b
        .post_raw("/saml/acs", "text/plain", body.clone().into_bytes(), &[])
        .await;
    assert_eq!(p.status, 400, "{}", p.head());
    let p = b
        .post_raw(
            "/saml/acs",
            "application/x-www-form-urlencoded; charset=UTF-8",
            body.into_bytes(),
            &[],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.head());
    assert_eq!(p.location.as_deref(), Some("http://127.0.0.1:1/session"));
}
