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
    let page = b.get("/session").await;
    assert!(
        page.body.contains("action=\"/saml/logout\""),
        "{}",
        page.body
    );
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

#[actix_web::test]
async fn idp_logout_voids_the_persons_home_assistant_code_only() {
    use samlhub::ha::login::CodeEntry;
    use samlhub::store::records::{self, Key};
    use samlhub::testing::idp::Attr;
    let hub = Hub::start_with(Setup {
        oidc: false,
        slo: true,
        extra: Box::new(|dir| {
            let secret = dir.join("ha.secret");
            std::fs::write(&secret, "slo-ha-secret-0123456789abcdefgh").unwrap();
            format!(
                "[[ha]]\nid = \"home\"\nexternal_url = \"http://127.0.0.1:9\"\nhook_secret_file = \"{}\"\n\
admin_groups = [\"ha-admins\"]\nuser_groups = [\"users\"]\nadmin_mfa = \"off\"\n",
                secret.display()
            )
        }),
        ..Setup::default()
    })
    .await;
    let c = ctx(&hub);
    let code_of = |user: &'static str| Key::<CodeEntry>::of(&["home", user]);
    let mut alice = hub.browser();
    let si = random_id();
    let tweak = si.clone();
    let r = hub
        .sign_in_with(&mut alice, IDP, move |s| s.session_index = tweak)
        .await;
    assert_eq!(r.status, 303, "{}", r.head());
    let mut bob = hub.browser();
    let r = hub
        .sign_in_with(&mut bob, IDP, |s| {
            s.name_id = "bob".into();
            s.attributes = vec![Attr::new("uid", &["bob"]), Attr::new("groups", &["users"])];
        })
        .await;
    assert_eq!(r.status, 303, "{}", r.head());
    for b in [&mut alice, &mut bob] {
        let p = b.get("/ha?instance=home").await;
        assert_eq!(p.status, 200, "{}", p.head());
    }
    let store = &hub.state.store;
    assert!(records::get(store, &code_of("alice"))
        .await
        .unwrap()
        .is_some());

    let m = base_msg(&hub, &c, &si, "");
    let p = send(&mut hub.browser(), &valid_redirect(&c, &m, Dir::Request)).await;
    assert_eq!(p.status, 302, "{}", p.head());
    assert!(records::get(store, &code_of("alice"))
        .await
        .unwrap()
        .is_none());
    assert!(records::get(store, &code_of("bob"))
        .await
        .unwrap()
        .is_some());
    assert_eq!(bob.get("/session?format=json").await.status, 200);
}

#[actix_web::test]
async fn idp_logout_for_another_name_id_format_ends_nothing() {
    let hub = Hub::start_with(Setup {
        oidc: false,
        slo: true,
        ..Setup::default()
    })
    .await;
    let c = ctx(&hub);
    let mut alice = hub.signed_in_browser().await;
    let mut m = base_msg(&hub, &c, "", "");
    m.session_index = None;
    let email = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";
    let x = m.xml(Dir::Request).replace(
        "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
        email,
    );
    let p = send(
        &mut hub.browser(),
        &redirect(Dir::Request, &x, SigAlg::RsaSha256, &c.idp),
    )
    .await;
    assert_eq!(p.status, 302, "{}", p.head());
    assert_eq!(alice.get("/session?format=json").await.status, 200);
    // The same request with the asserted Format ends the session.
    m.id = random_id();
    let p = send(&mut hub.browser(), &valid_redirect(&c, &m, Dir::Request)).await;
    assert_eq!(p.status, 302, "{}", p.head());
    assert_eq!(alice.get("/session?format=json").await.status, 401);
}
