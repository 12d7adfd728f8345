//! Store work per login and per token exchange, counted by the store itself
//! (`AnyStore::work`: durable commits of the embedded file, round trips to
//! Redis): on the embedded store a whole login is one durable commit (the
//! pending request of `/saml/login` is written without one, the ACS POST is
//! one), a code exchange and a refresh one commit each, and a refused replay
//! writes only the setup page's note. On Redis, a code exchange and a refresh
//! are two round trips each: the credential's read and the commit, which
//! also checks that the session (and for a refresh, the family) is there.

use super::{Browser, Hub, Setup};
use crate::oidc_rig::{Pkce, CONF, IDP};
use crate::peers::redis::RedisServer;
use samlhub::saml::slo::SloIndex;
use samlhub::store::records::Record;
use samlhub::store::Store;

/// A hub whose test IdP publishes a SingleLogoutService, so every login is
/// filed in the Single Logout index too.
async fn hub(redis: Option<String>) -> Hub {
    Hub::start_with(Setup {
        slo: true,
        redis,
        ..Setup::default()
    })
    .await
}

/// One SP-initiated login in a fresh browser: the store work of its
/// `/saml/login` and of its ACS POST. Then the same POST again: refused as
/// a replay, with what that costs the store.
async fn acs_work(hub: &Hub) -> (u64, u64, u64) {
    let mut b = hub.browser();
    let before = hub.state.store.work();
    let (relay, id) = hub.begin_login(&mut b, IDP).await;
    let begin = hub.state.store.work() - before;
    let encoded = hub.response(&hub.idp, &id, |_| {});
    let form = [("SAMLResponse", encoded), ("RelayState", relay)];
    let before = hub.state.store.work();
    let r = b.post_form("/saml/acs", &form).await;
    assert_eq!(r.status, 303, "{}", r.head());
    let login = hub.state.store.work() - before;

    let before = hub.state.store.work();
    let r = b.post_form("/saml/acs", &form).await;
    let replay = hub.state.store.work() - before;
    assert_eq!(r.status, 403, "{}", r.head());
    assert!(r.body.contains("Error: replay"), "{}", r.body);
    (begin, login, replay)
}

#[actix_web::test]
async fn an_acs_post_is_one_durable_commit_on_the_embedded_store() {
    let hub = hub(None).await;
    for n in 0..2 {
        // The second login finds the first one's Single Logout index entry.
        let (begin, login, replay) = acs_work(&hub).await;
        assert_eq!(begin, 0, "durable commits of /saml/login {n}");
        assert_eq!(login, 1, "durable commits of ACS POST {n}");
        // The refusal notes itself for the setup page: that one write only.
        assert_eq!(replay, 1, "durable commits of a refused replay {n}");
    }
    // The session works, and both logins are filed for Single Logout.
    let mut b = hub.signed_in_browser().await;
    let s = b.get("/session?format=json").await;
    assert_eq!(s.status, 200, "{}", s.head());
}

#[actix_web::test]
async fn an_acs_post_is_three_round_trips_on_redis() {
    let server = RedisServer::start();
    let hub = hub(Some(server.url())).await;
    // The first login loads the commit script (NOSCRIPT, SCRIPT LOAD).
    let (begin, first, _) = acs_work(&hub).await;
    assert_eq!(begin, 1, "round trips of /saml/login: the pending request");
    assert_eq!(first, 5, "round trips of the first ACS POST");
    // GET pending, GET of the Single Logout index, and the commit (which
    // writes the index only if it is unchanged).
    let (_, login, replay) = acs_work(&hub).await;
    assert_eq!(login, 3, "round trips of an ACS POST");
    // GET pending, GET index, the commit that finds the replay key, and the
    // setup page's note of the refusal.
    assert_eq!(replay, 4, "round trips of a refused replay");
}

#[actix_web::test]
async fn a_code_exchange_and_a_refresh_are_one_durable_commit_each() {
    let hub = hub(None).await;
    let mut b = hub.signed_in_browser().await;
    let pkce = Pkce::new();
    let before = hub.state.store.work();
    let (code, _) = hub.code(&mut b, CONF, Some(&pkce), &[]).await;
    assert_eq!(
        hub.state.store.work() - before,
        0,
        "durable commits of a code"
    );
    let before = hub.state.store.work();
    let r = hub.exchange(CONF, &code, Some(&pkce.verifier)).await;
    assert_eq!(r.page.status, 200, "{}", r.page.head());
    assert_eq!(hub.state.store.work() - before, 1, "commits of an exchange");
    let refresh = r.str("refresh_token");

    let before = hub.state.store.work();
    let r2 = hub.refresh(CONF, &refresh).await;
    assert_eq!(r2.page.status, 200, "{}", r2.page.head());
    assert_eq!(hub.state.store.work() - before, 1, "commits of a refresh");

    // Reuse is still detected: the spent code and the rotated refresh token
    // are refused, and the family (the new refresh token) is revoked.
    let again = hub.exchange(CONF, &code, Some(&pkce.verifier)).await;
    assert_eq!(again.page.status, 400, "{}", again.page.head());
    assert_eq!(again.str("error"), "invalid_grant");
    let reused = hub.refresh(CONF, &refresh).await;
    assert_eq!(reused.str("error"), "invalid_grant");
    let revoked = hub.refresh(CONF, &r2.str("refresh_token")).await;
    assert_eq!(revoked.str("error"), "invalid_grant", "family revoked");
}

/// The round trips to Redis of a code exchange and of a refresh: the read of
/// the code or refresh token, and the commit.
#[actix_web::test]
async fn a_code_exchange_and_a_refresh_are_two_round_trips_on_redis() {
    let server = RedisServer::start();
    let hub = hub(Some(server.url())).await;
    let mut b = hub.signed_in_browser().await;
    for n in 0..2 {
        let pkce = Pkce::new();
        let (code, _) = hub.code(&mut b, CONF, Some(&pkce), &[]).await;
        let before = hub.state.store.work();
        let r = hub.exchange(CONF, &code, Some(&pkce.verifier)).await;
        assert_eq!(r.page.status, 200, "{}", r.page.head());
        let exchange = hub.state.store.work() - before;
        let before = hub.state.store.work();
        let r2 = hub.refresh(CONF, &r.str("refresh_token")).await;
        assert_eq!(r2.page.status, 200, "{}", r2.page.head());
        let refresh = hub.state.store.work() - before;
        if n == 1 {
            // The first exchange may load the commit script.
            assert_eq!(exchange, 2, "round trips of a code exchange");
        }
        assert_eq!(refresh, 2, "round trips of a refresh");
    }
}

/// The embedded store and `server`, named, for a hub on each.
fn each_store(server: &RedisServer) -> [(&'static str, Option<String>); 2] {
    [("embedded", None), ("redis", Some(server.url()))]
}

/// Removes every session, as a logout or an expiry would.
async fn end_sessions(hub: &Hub) {
    let keys = hub.state.store.keys_with_prefix("session:").await.unwrap();
    assert!(!keys.is_empty(), "no session to end");
    for k in keys {
        hub.state.store.delete(&k).await.unwrap();
    }
}

/// A code or refresh token whose session is gone is refused and spent, on
/// each store: the commit that would redeem it requires the session.
#[actix_web::test]
async fn a_grant_ends_with_its_session_on_each_store() {
    let server = RedisServer::start();
    for (on, redis) in each_store(&server) {
        let hub = hub(redis).await;

        let mut b = hub.signed_in_browser().await;
        let pkce = Pkce::new();
        let (code, _) = hub.code(&mut b, CONF, Some(&pkce), &[]).await;
        end_sessions(&hub).await;
        let r = hub.exchange(CONF, &code, Some(&pkce.verifier)).await;
        r.assert_token_error(400, "invalid_grant");
        assert!(
            r.str("error_description").contains("has ended"),
            "{on}: {}",
            r.page.body
        );
        // Spent: no used-marker was written (the commit wrote nothing), and
        // the code is gone.
        let marks = hub
            .state
            .store
            .keys_with_prefix("oidc_code_used:")
            .await
            .unwrap();
        assert!(marks.is_empty(), "{on}: {marks:?}");
        let again = hub.exchange(CONF, &code, Some(&pkce.verifier)).await;
        assert!(
            again.str("error_description").contains("unknown"),
            "{on}: {}",
            again.page.body
        );

        let mut b = hub.signed_in_browser().await;
        let pkce = Pkce::new();
        let (code, _) = hub.code(&mut b, CONF, Some(&pkce), &[]).await;
        let t = hub.exchange(CONF, &code, Some(&pkce.verifier)).await;
        assert_eq!(t.page.status, 200, "{on}: {}", t.page.head());
        end_sessions(&hub).await;
        let r = hub.refresh(CONF, &t.str("refresh_token")).await;
        r.assert_token_error(400, "invalid_grant");
        assert!(
            r.str("error_description").contains("has ended"),
            "{on}: {}",
            r.page.body
        );
    }
}

/// A prepared login: its browser, and the form of the IdP's Response to
/// post to the ACS.
async fn prepared(hub: &Hub) -> (Browser, Vec<(&'static str, String)>) {
    let mut b = hub.browser();
    let (relay, id) = hub.begin_login(&mut b, IDP).await;
    let encoded = hub.response(&hub.idp, &id, |_| {});
    (b, vec![("SAMLResponse", encoded), ("RelayState", relay)])
}

/// Logins of one person at the same time, on each store: each reads the
/// Single Logout index before any writes it, and every session still ends
/// up filed (the commit writes the index only if it is unchanged, and a
/// login that finds it changed files itself again).
#[actix_web::test]
async fn concurrent_logins_of_one_person_are_all_filed_for_logout() {
    let server = RedisServer::start();
    for (on, redis) in each_store(&server) {
        let hub = hub(redis).await;
        let (mut b1, f1) = prepared(&hub).await;
        let (mut b2, f2) = prepared(&hub).await;
        let (mut b3, f3) = prepared(&hub).await;
        let (mut b4, f4) = prepared(&hub).await;
        let pages = tokio::join!(
            b1.post_form("/saml/acs", &f1),
            b2.post_form("/saml/acs", &f2),
            b3.post_form("/saml/acs", &f3),
            b4.post_form("/saml/acs", &f4),
        );
        for p in [pages.0, pages.1, pages.2, pages.3] {
            assert_eq!(p.status, 303, "{on}: {}", p.head());
        }
        let keys = hub
            .state
            .store
            .keys_with_prefix("slo_index:")
            .await
            .unwrap();
        assert_eq!(keys.len(), 1, "{on}: one person, one index: {keys:?}");
        let raw = hub.state.store.get(&keys[0]).await.unwrap().unwrap();
        let index = SloIndex::decode(&raw).unwrap();
        let filed: std::collections::BTreeSet<&str> =
            index.sessions.iter().map(|e| e.session.as_str()).collect();
        assert_eq!(filed.len(), 4, "{on}: sessions filed: {filed:?}");
    }
}
