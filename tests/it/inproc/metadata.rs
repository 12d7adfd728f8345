//! Metadata expiry in-process, with the fixed clock: the IdP's trust is
//! swapped through the run-time directory (as the refresh does), and once
//! its `validUntil` passes, a login neither starts nor finishes at the ACS
//! (503 `idp_metadata_expired`, naming the IdP) until a fresh copy is in.

use super::Hub;
use crate::oidc_rig::IDP;
use time::Duration;

#[actix_web::test]
async fn expired_metadata_stops_logins_until_a_fresh_copy() {
    let hub = Hub::start().await;
    let with_valid_until = |until: Option<time::OffsetDateTime>| {
        let current = hub.state.idp(IDP).unwrap();
        let mut idp = (*current).clone();
        idp.metadata.valid_until = until;
        assert!(hub
            .state
            .idps
            .replace(&current, idp, hub.now().unix_timestamp()));
    };
    with_valid_until(Some(hub.now() + Duration::seconds(60)));

    // Started while valid, answered after validUntil: refused at the ACS.
    let mut b = hub.browser();
    let (relay, id) = hub.begin_login(&mut b, IDP).await;
    hub.advance(61);
    let p = hub.answer(&mut b, &hub.idp, &id, &relay, |_| {}).await;
    assert_eq!(p.status, 503, "{}", p.head());
    assert_eq!(p.header("x-samlhub-error"), Some("idp_metadata_expired"));
    assert!(
        p.body
            .contains(&format!("Signing in with IdP {IDP} is stopped")),
        "{}",
        p.body
    );

    // A new login does not start.
    let p = hub.browser().get(&format!("/saml/login?idp={IDP}")).await;
    assert_eq!(p.status, 503, "{}", p.head());
    assert_eq!(p.header("x-samlhub-error"), Some("idp_metadata_expired"));

    // A fresh copy (valid again) restores logins without a restart.
    with_valid_until(Some(hub.now() + Duration::days(1)));
    let mut b = hub.browser();
    let r = hub.sign_in_with(&mut b, IDP, |_| {}).await;
    assert_eq!(r.status, 303, "{}", r.head());
}
