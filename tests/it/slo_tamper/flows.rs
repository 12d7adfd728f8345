//! Single Logout flows beside the corpus, in-process: an application's
//! `end_session` going on to the IdP and back to the application, a local
//! logout when the IdP has no Single Logout, and the same-site rule of
//! `/saml/logout`.

use super::*;
use crate::inproc::form;
use crate::oidc_rig::{Pkce, CONF, CONF_LOGOUT};

#[actix_web::test]
async fn end_session_goes_on_to_the_idp_and_back_to_the_client() {
    let hub = Hub::start_with(Setup {
        slo: true,
        ..Setup::default()
    })
    .await;
    let c = ctx(&hub);
    let mut b = hub.browser();
    let pkce = Pkce::new();
    let (code, _) = hub.code(&mut b, CONF, Some(&pkce), &[]).await;
    let t = hub.exchange(CONF, &code, Some(&pkce.verifier)).await;
    let q = form(&[
        ("id_token_hint", t.str("id_token").as_str()),
        ("post_logout_redirect_uri", CONF_LOGOUT),
        ("state", "st-9"),
    ]);
    let p = b.get(&format!("/oidc/end_session?{q}")).await;
    let loc = p.location.clone().unwrap_or_default();
    assert!(
        p.status == 302 && loc.starts_with(&format!("{}slo?SAMLRequest=", hub.idp.entity_id)),
        "end_session did not go to the IdP: {}",
        p.head()
    );
    // Signed out here already, tokens with it.
    assert_eq!(b.get("/session?format=json").await.status, 401);
    hub.refresh(CONF, &t.str("refresh_token"))
        .await
        .assert_token_error(400, "invalid_grant");
    // The IdP's answer leads on to the client's registered URI.
    let mut m = base_msg(&hub, &c, "", &request_id(&loc));
    m.session_index = None;
    let back = send(&mut b, &valid_redirect(&c, &m, Dir::Response)).await;
    assert_eq!(back.status, 303, "{}", back.head());
    assert_eq!(
        back.location.as_deref(),
        Some(format!("{CONF_LOGOUT}?state=st-9").as_str())
    );
}

#[actix_web::test]
async fn logout_without_idp_slo_is_local_and_refuses_cross_site() {
    let hub = Hub::start_with(Setup {
        oidc: false,
        ..Setup::default()
    })
    .await;
    let mut b = hub.signed_in_browser().await;
    let cross = b
        .get_with_headers("/saml/logout", &[("Sec-Fetch-Site", "cross-site")])
        .await;
    assert_eq!(cross.status, 403, "{}", cross.head());
    assert_eq!(cross.header("x-samlhub-error"), Some("cross_site"));
    assert_eq!(b.get("/session?format=json").await.status, 200);

    let p = b.get("/saml/logout?return_to=/session").await;
    assert_eq!(p.status, 200, "{}", p.head());
    assert!(p.body.contains("offers no single logout"), "{}", p.body);
    assert_eq!(b.get("/session?format=json").await.status, 401);
    let bad = hub
        .browser()
        .get("/saml/logout?return_to=https://evil.example/")
        .await;
    assert_eq!(bad.header("x-samlhub-error"), Some("bad_return_to"));
}
