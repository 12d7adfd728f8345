//! The OpenID Connect provider's rules, one test per rule, in-process with a
//! fixed clock: exact redirect URIs, PKCE, single-use codes and their
//! expiry, refresh-token rotation, client authentication, prompt/max_age,
//! end_session, and the response contract (no-store, RFC 6749 §5.2 errors,
//! state/iss, nonce, kid, groups as a list).

use super::{form, Browser, Hub, Setup};
use crate::oidc_rig::*;
use crate::peers::browser::{query_param, Page};

/// No redirect of any kind, and the refusal page.
fn assert_error_page(p: &Page, what: &str) {
    assert_eq!(p.status, 400, "{what}: {}", p.head());
    assert!(
        p.header("location").is_none(),
        "{what}: redirected to {:?}",
        p.location
    );
    assert!(!p.body.contains("code="), "{what}: {}", p.head());
}

/// An authorization error sent back to the client: error, state, iss, no code.
fn assert_redirect_error(hub: &Hub, flow: &Flow, redirect: &str, error: &str) {
    let loc = flow.location();
    assert!(
        flow.page.status == 302 && loc.starts_with(redirect),
        "expected a redirect to {redirect}, got {} {loc}\n{}",
        flow.page.status,
        flow.page.head()
    );
    assert_eq!(flow.param("error").as_deref(), Some(error), "{loc}");
    assert_eq!(flow.param("state").as_deref(), Some("st-123"), "{loc}");
    assert_eq!(flow.param("iss"), Some(hub.issuer()), "{loc}");
    assert!(flow.param("code").is_none(), "{loc}");
}

fn base_params<'a>(client: &'a str, redirect: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("response_type", "code"),
        ("client_id", client),
        ("redirect_uri", redirect),
        ("scope", "openid profile"),
        ("state", "st-123"),
    ]
}

async fn session_alive(b: &mut Browser) -> bool {
    b.get("/session?format=json").await.status == 200
}

#[actix_web::test]
async fn redirect_uri_must_match_exactly_and_is_never_redirected_to_otherwise() {
    let hub = Hub::start().await;
    // A signed-in browser: a lax check would hand out a code at once.
    let mut b = hub.signed_in_browser().await;
    let pkce = Pkce::new();
    for bad in [
        "https://app.example/cc",     // one character differs
        "https://app.example/c",      // a prefix of the registered URI
        "https://app.example/cb?x=1", // an extra query
        "https://app.example/cb/",    // an extra slash
        "https://APP.example/cb",     // case
        "https://app.example/cb#f",   // a fragment
        "https://evil.example/cb",    // another host
    ] {
        let mut p = base_params(CONF, bad);
        p.push(("code_challenge", &pkce.challenge));
        p.push(("code_challenge_method", "S256"));
        assert_error_page(&b.get(&hub.authorize_url(&p)).await, bad);
        // The same with POST.
        let posted = b.post_form("/oidc/authorize", &p).await;
        assert_error_page(&posted, bad);
    }
    // Unknown client, missing redirect_uri, a redirect URI of another client.
    let p = base_params("nobody", CONF_REDIRECT);
    assert_error_page(&b.get(&hub.authorize_url(&p)).await, "unknown client");
    let p: Vec<_> = base_params(CONF, CONF_REDIRECT)
        .into_iter()
        .filter(|(k, _)| *k != "redirect_uri")
        .collect();
    assert_error_page(&b.get(&hub.authorize_url(&p)).await, "no redirect_uri");
    let p = base_params(CONF, OTHER_REDIRECT);
    assert_error_page(&b.get(&hub.authorize_url(&p)).await, "another client's URI");
    // Control: the registered URI gets a code.
    let (code, flow) = hub.code(&mut b, CONF, Some(&pkce), &[]).await;
    assert!(flow.location().starts_with(&format!("{CONF_REDIRECT}?")));
    assert!(!code.is_empty());
}

#[actix_web::test]
async fn public_client_without_pkce_is_refused() {
    let hub = Hub::start().await;
    let mut b = hub.signed_in_browser().await;
    let url = hub.authorize_url(&base_params(PUBLIC, PUBLIC_REDIRECT));
    let flow = hub.drive(&mut b, &url).await;
    assert_redirect_error(&hub, &flow, PUBLIC_REDIRECT, "invalid_request");
}

#[actix_web::test]
async fn pkce_downgrade_is_refused() {
    let hub = Hub::start().await;
    let mut b = hub.signed_in_browser().await;
    let pkce = Pkce::new();
    for client in [PUBLIC, CONF] {
        let redirect = redirect_of(client);
        // code_challenge_method=plain, with a verifier as the challenge.
        let mut p = base_params(client, redirect);
        p.push(("code_challenge", &pkce.verifier));
        p.push(("code_challenge_method", "plain"));
        let flow = hub.drive(&mut b, &hub.authorize_url(&p)).await;
        assert_redirect_error(&hub, &flow, redirect, "invalid_request");
        // No method at all means plain (RFC 7636 §4.3).
        let mut p = base_params(client, redirect);
        p.push(("code_challenge", &pkce.challenge));
        let flow = hub.drive(&mut b, &hub.authorize_url(&p)).await;
        assert_redirect_error(&hub, &flow, redirect, "invalid_request");
        // An unknown method.
        let mut p = base_params(client, redirect);
        p.push(("code_challenge", &pkce.challenge));
        p.push(("code_challenge_method", "S512"));
        let flow = hub.drive(&mut b, &hub.authorize_url(&p)).await;
        assert_redirect_error(&hub, &flow, redirect, "invalid_request");
    }
}

#[actix_web::test]
async fn wrong_or_missing_code_verifier_is_refused() {
    let hub = Hub::start().await;
    let mut b = hub.signed_in_browser().await;
    for client in [PUBLIC, CONF] {
        let pkce = Pkce::new();
        let (code, _) = hub.code(&mut b, client, Some(&pkce), &[]).await;
        let other = Pkce::new();
        hub.exchange(client, &code, Some(&other.verifier))
            .await
            .assert_token_error(400, "invalid_grant");
        // The code was spent by the failed attempt.
        hub.exchange(client, &code, Some(&pkce.verifier))
            .await
            .assert_token_error(400, "invalid_grant");

        let (code, _) = hub.code(&mut b, client, Some(&pkce), &[]).await;
        hub.exchange(client, &code, None)
            .await
            .assert_token_error(400, "invalid_grant");

        // Sending the challenge itself as the verifier (a plain downgrade).
        let (code, _) = hub.code(&mut b, client, Some(&pkce), &[]).await;
        hub.exchange(client, &code, Some(&pkce.challenge))
            .await
            .assert_token_error(400, "invalid_grant");

        // Control.
        let (code, _) = hub.code(&mut b, client, Some(&pkce), &[]).await;
        hub.exchange(client, &code, Some(&pkce.verifier))
            .await
            .assert_tokens();
    }
}

#[actix_web::test]
async fn reused_code_fails_and_revokes_its_tokens() {
    let hub = Hub::start().await;
    let mut b = hub.signed_in_browser().await;
    let pkce = Pkce::new();
    let (code, _) = hub.code(&mut b, CONF, Some(&pkce), &[]).await;
    let first = hub.exchange(CONF, &code, Some(&pkce.verifier)).await;
    first.assert_tokens();
    let at = first.str("access_token");
    let rt = first.str("refresh_token");
    assert_eq!(hub.userinfo(&at).await.status(), 200);

    hub.exchange(CONF, &code, Some(&pkce.verifier))
        .await
        .assert_token_error(400, "invalid_grant");

    let ui = hub.userinfo(&at).await;
    assert_eq!(
        ui.status(),
        401,
        "access token still works: {}",
        ui.page.body
    );
    assert!(ui
        .header("www-authenticate")
        .is_some_and(|h| h.starts_with("Bearer")));
    hub.refresh(CONF, &rt)
        .await
        .assert_token_error(400, "invalid_grant");
}

/// A code lives 60 s: redeemable until the last millisecond of its minute,
/// refused from the 60th second on (and a second later).
#[actix_web::test]
async fn expired_code_is_refused() {
    let hub = Hub::start().await;
    let mut b = hub.signed_in_browser().await;
    let pkce = Pkce::new();

    let (code, _) = hub.code(&mut b, CONF, Some(&pkce), &[]).await;
    hub.advance_ms(59_999);
    hub.exchange(CONF, &code, Some(&pkce.verifier))
        .await
        .assert_tokens();

    let (code, _) = hub.code(&mut b, CONF, Some(&pkce), &[]).await;
    hub.advance(60);
    hub.exchange(CONF, &code, Some(&pkce.verifier))
        .await
        .assert_token_error(400, "invalid_grant");

    let (code, _) = hub.code(&mut b, CONF, Some(&pkce), &[]).await;
    hub.advance(61);
    hub.exchange(CONF, &code, Some(&pkce.verifier))
        .await
        .assert_token_error(400, "invalid_grant");

    // Control: a fresh code on the same store works.
    let (code, _) = hub.code(&mut b, CONF, Some(&pkce), &[]).await;
    hub.exchange(CONF, &code, Some(&pkce.verifier))
        .await
        .assert_tokens();
}

#[actix_web::test]
async fn code_of_another_client_is_refused() {
    let hub = Hub::start().await;
    let mut b = hub.signed_in_browser().await;
    let pkce = Pkce::new();
    for redirect in [CONF_REDIRECT, OTHER_REDIRECT] {
        let (code, _) = hub.code(&mut b, CONF, Some(&pkce), &[]).await;
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", redirect),
            ("code_verifier", pkce.verifier.as_str()),
        ];
        hub.token(&form, Some((OTHER, OTHER_SECRET)))
            .await
            .assert_token_error(400, "invalid_grant");
    }
    // Naming the rightful client in the body while authenticating as another.
    let (code, _) = hub.code(&mut b, CONF, Some(&pkce), &[]).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CONF_REDIRECT),
        ("code_verifier", pkce.verifier.as_str()),
        ("client_id", CONF),
    ];
    hub.token(&form, Some((OTHER, OTHER_SECRET)))
        .await
        .assert_token_error(401, "invalid_client");
    // A redirect_uri that differs from the authorization request's.
    let (code, _) = hub.code(&mut b, CONF, Some(&pkce), &[]).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", "https://app.example/cb?x=1"),
        ("code_verifier", pkce.verifier.as_str()),
    ];
    hub.token(&form, Some((CONF, CONF_SECRET)))
        .await
        .assert_token_error(400, "invalid_grant");
}

#[actix_web::test]
async fn reused_refresh_token_fails_and_revokes_the_family() {
    let hub = Hub::start().await;
    let mut b = hub.signed_in_browser().await;
    let pkce = Pkce::new();
    let (code, _) = hub.code(&mut b, CONF, Some(&pkce), &[]).await;
    let t1 = hub.exchange(CONF, &code, Some(&pkce.verifier)).await;
    t1.assert_tokens();
    let rt1 = t1.str("refresh_token");
    let t2 = hub.refresh(CONF, &rt1).await;
    t2.assert_tokens();
    let (rt2, at2) = (t2.str("refresh_token"), t2.str("access_token"));
    assert_ne!(rt1, rt2, "refresh tokens rotate");
    assert_eq!(hub.userinfo(&at2).await.status(), 200);

    // A refresh token of this family presented by another client fails.
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", rt2.as_str()),
    ];
    hub.token(&form, Some((OTHER, OTHER_SECRET)))
        .await
        .assert_token_error(400, "invalid_grant");

    // A fresh family for the reuse check (the one above was spent by OTHER).
    let (code, _) = hub.code(&mut b, CONF, Some(&pkce), &[]).await;
    let t1 = hub.exchange(CONF, &code, Some(&pkce.verifier)).await;
    let (rt1, at1) = (t1.str("refresh_token"), t1.str("access_token"));
    let t2 = hub.refresh(CONF, &rt1).await;
    t2.assert_tokens();
    let (rt2, at2) = (t2.str("refresh_token"), t2.str("access_token"));

    hub.refresh(CONF, &rt1)
        .await
        .assert_token_error(400, "invalid_grant");
    hub.refresh(CONF, &rt2)
        .await
        .assert_token_error(400, "invalid_grant");
    assert_eq!(hub.userinfo(&at2).await.status(), 401, "family revoked");
    assert_eq!(hub.userinfo(&at1).await.status(), 401, "family revoked");
}

#[actix_web::test]
async fn bad_client_authentication_is_invalid_client() {
    let hub = Hub::start().await;
    let mut b = hub.signed_in_browser().await;
    let pkce = Pkce::new();
    let (code, _) = hub.code(&mut b, CONF, Some(&pkce), &[]).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CONF_REDIRECT),
        ("code_verifier", pkce.verifier.as_str()),
    ];
    // client_secret_basic with a wrong secret: 401 and a Basic challenge.
    let r = hub.token(&form, Some((CONF, "wrong-secret"))).await;
    r.assert_token_error(401, "invalid_client");
    let challenge = r.header("www-authenticate").unwrap_or_default();
    assert!(
        challenge.starts_with("Basic"),
        "WWW-Authenticate: {challenge:?}"
    );
    // Unknown client through Basic.
    let r = hub.token(&form, Some(("nobody", "x"))).await;
    r.assert_token_error(401, "invalid_client");
    assert!(r
        .header("www-authenticate")
        .is_some_and(|h| h.starts_with("Basic")));
    // client_secret_post with a wrong secret, and no secret at all.
    let mut posted = form.to_vec();
    posted.push(("client_id", CONF));
    hub.token(&posted, None)
        .await
        .assert_token_error(401, "invalid_client");
    posted.push(("client_secret", "wrong-secret"));
    hub.token(&posted, None)
        .await
        .assert_token_error(401, "invalid_client");
    // A public client may not present a secret.
    let pform = [
        ("grant_type", "authorization_code"),
        ("code", "x"),
        ("redirect_uri", PUBLIC_REDIRECT),
        ("client_id", PUBLIC),
        ("client_secret", "anything"),
    ];
    hub.token(&pform, None)
        .await
        .assert_token_error(401, "invalid_client");
    // None of that spent the code.
    hub.exchange(CONF, &code, Some(&pkce.verifier))
        .await
        .assert_tokens();
}

#[actix_web::test]
async fn token_errors_follow_rfc6749() {
    let hub = Hub::start().await;
    let basic = Some((CONF, CONF_SECRET));
    hub.token(&[("code", "x")], basic)
        .await
        .assert_token_error(400, "invalid_request");
    hub.token(
        &[
            ("grant_type", "password"),
            ("username", "a"),
            ("password", "b"),
        ],
        basic,
    )
    .await
    .assert_token_error(400, "unsupported_grant_type");
    hub.token(&[("grant_type", "client_credentials")], basic)
        .await
        .assert_token_error(400, "unsupported_grant_type");
    hub.token(
        &[
            ("grant_type", "authorization_code"),
            ("redirect_uri", CONF_REDIRECT),
        ],
        basic,
    )
    .await
    .assert_token_error(400, "invalid_request");
    hub.token(
        &[
            ("grant_type", "authorization_code"),
            ("code", "no-such-code"),
            ("redirect_uri", CONF_REDIRECT),
        ],
        basic,
    )
    .await
    .assert_token_error(400, "invalid_grant");
    hub.token(&[("grant_type", "refresh_token")], basic)
        .await
        .assert_token_error(400, "invalid_request");
    hub.token(
        &[("grant_type", "refresh_token"), ("refresh_token", "nope")],
        basic,
    )
    .await
    .assert_token_error(400, "invalid_grant");
    // Two authentication methods at once.
    hub.token(
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", "nope"),
            ("client_secret", CONF_SECRET),
        ],
        basic,
    )
    .await
    .assert_token_error(400, "invalid_request");
    // Every error body is {error, error_description?} and nothing else.
    let r = hub.token(&[("grant_type", "password")], basic).await;
    let keys: Vec<&String> = r.json.as_object().unwrap().keys().collect();
    assert!(
        keys.iter()
            .all(|k| ["error", "error_description", "error_uri"].contains(&k.as_str())),
        "{keys:?}"
    );
}

#[actix_web::test]
async fn prompt_none_without_session_redirects_with_login_required() {
    let hub = Hub::start().await;
    let mut b = hub.browser();
    let mut p = base_params(CONF, CONF_REDIRECT);
    p.push(("prompt", "none"));
    let flow = hub.drive(&mut b, &hub.authorize_url(&p)).await;
    assert_redirect_error(&hub, &flow, CONF_REDIRECT, "login_required");
    assert!(
        flow.authn_requests.is_empty(),
        "no SAML login for prompt=none"
    );
    // With a session, prompt=none gives a code without any login.
    let mut b = hub.signed_in_browser().await;
    let flow = hub.drive(&mut b, &hub.authorize_url(&p)).await;
    assert!(flow.param("code").is_some(), "{}", flow.location());
    assert!(flow.authn_requests.is_empty());
}

/// Authorization response, token response, id_token and userinfo, for a
/// confidential client with client_secret_basic and PKCE.
#[actix_web::test]
async fn authorization_and_token_responses_follow_the_contract() {
    let hub = Hub::start().await;
    let discovery = hub.json("/.well-known/openid-configuration").await;
    let issuer = discovery["issuer"].as_str().unwrap().to_owned();
    assert_eq!(issuer, hub.issuer(), "issuer is public_url exactly");
    let jwks = hub.json("/oidc/jwks").await;
    let kids: Vec<String> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect();

    // A first login through the hub (no session yet); a state with
    // characters that must survive encoding.
    let mut b = hub.browser();
    let pkce = Pkce::new();
    let state = "s t+a/t=e&ü?#%";
    let (code, flow) = hub
        .code(
            &mut b,
            CONF,
            Some(&pkce),
            &[("state", state), ("nonce", "nonce-ABC.123")],
        )
        .await;
    assert_eq!(flow.authn_requests.len(), 1);
    assert!(
        !flow.authn_requests[0].contains("ForceAuthn"),
        "{}",
        flow.authn_requests[0]
    );
    assert_eq!(flow.page.status, 302);
    assert_eq!(
        flow.param("state").as_deref(),
        Some(state),
        "state returned unchanged"
    );
    assert_eq!(
        flow.param("iss").as_deref(),
        Some(issuer.as_str()),
        "RFC 9207 iss"
    );
    assert_eq!(flow.page.header("cache-control"), Some("no-store"));
    assert!(code.len() >= 32, "{code}");

    let t = hub.exchange(CONF, &code, Some(&pkce.verifier)).await;
    t.assert_tokens();
    assert_eq!(t.header("pragma"), Some("no-cache"));
    assert!(t.json["expires_in"].as_u64().unwrap() > 0);
    let idt = t.str("id_token");
    let (h, c) = jwt_parts(&idt);
    assert_eq!(h["alg"], "RS256");
    let kid = h["kid"].as_str().expect("kid in the id_token header");
    assert!(
        kids.iter().any(|k| k == kid),
        "kid {kid} not in JWKS {kids:?}"
    );
    assert_eq!(
        c["iss"],
        issuer.as_str(),
        "iss identical in discovery and tokens"
    );
    assert_eq!(c["aud"], CONF);
    assert_eq!(c["nonce"], "nonce-ABC.123");
    assert_eq!(c["sub"], expected_sub(IDP, "alice"));
    assert_eq!(c["email"], "alice@example.org");
    assert_eq!(c["email_verified"], true);
    assert_eq!(c["name"], "Alice Example");
    assert_eq!(
        c["groups"],
        serde_json::json!(["ha-admins", "users"]),
        "groups is a JSON list"
    );
    let (iat, exp, auth_time) = (
        c["iat"].as_i64().unwrap(),
        c["exp"].as_i64().unwrap(),
        c["auth_time"].as_i64().unwrap(),
    );
    assert!(exp > iat && auth_time <= iat, "{c}");
    // With the clock held still, the times are exact.
    assert_eq!(iat, hub.unix(), "{c}");
    assert_eq!(auth_time, hub.unix() - 5, "the IdP's AuthnInstant: {c}");

    // userinfo: GET with Bearer, and POST with the token in the body.
    let ui = hub.userinfo(&t.str("access_token")).await;
    assert_eq!(ui.status(), 200, "{}", ui.page.body);
    assert_eq!(ui.header("cache-control"), Some("no-store"));
    assert_eq!(ui.json["sub"], c["sub"]);
    assert_eq!(ui.json["email"], "alice@example.org");
    assert_eq!(ui.json["groups"], serde_json::json!(["ha-admins", "users"]));
    let posted = hub
        .browser()
        .post_form("/oidc/userinfo", &[("access_token", t.str("access_token"))])
        .await;
    assert_eq!(posted.status, 200, "{}", posted.head());
    // Bad tokens: 401 with a Bearer challenge.
    let bad = hub.userinfo("not-a-token").await;
    assert_eq!(bad.status(), 401);
    assert!(bad
        .header("www-authenticate")
        .is_some_and(|h| h.starts_with("Bearer")));
    let none = hub.browser().get("/oidc/userinfo").await;
    assert_eq!(none.status, 401);

    // Refresh, a while later: a new id_token with a kid, the same
    // iss/sub/auth_time.
    hub.advance(600);
    let r = hub.refresh(CONF, &t.str("refresh_token")).await;
    r.assert_tokens();
    let (h2, c2) = jwt_parts(&r.str("id_token"));
    assert!(h2["kid"].is_string(), "{h2}");
    assert_eq!(c2["iss"], c["iss"]);
    assert_eq!(c2["sub"], c["sub"]);
    assert_eq!(c2["aud"], c["aud"]);
    assert_eq!(
        c2["auth_time"], c["auth_time"],
        "auth_time is the original sign-in"
    );
    assert_eq!(c2["iat"].as_i64(), Some(hub.unix()), "{c2}");
}

/// The hass-oidc-auth contract: scope `openid profile groups`,
/// client_secret_post (secret in the body), PKCE S256.
#[actix_web::test]
async fn scope_openid_profile_groups_with_client_secret_in_the_body() {
    let hub = Hub::start().await;
    let mut b = hub.browser();
    let pkce = Pkce::new();
    let (code, _) = hub
        .code(
            &mut b,
            CONF,
            Some(&pkce),
            &[("scope", "openid profile groups")],
        )
        .await;
    let t = hub
        .token(
            &[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", CONF_REDIRECT),
                ("code_verifier", pkce.verifier.as_str()),
                ("client_id", CONF),
                ("client_secret", CONF_SECRET),
            ],
            None,
        )
        .await;
    t.assert_tokens();
    assert_eq!(t.json["scope"], "openid profile groups");
    let (_, c) = jwt_parts(&t.str("id_token"));
    assert_eq!(c["groups"], serde_json::json!(["ha-admins", "users"]));
    assert_eq!(c["name"], "Alice Example");
    assert_eq!(c["preferred_username"], "alice");
    assert!(c.get("email").is_none(), "email was not asked for: {c}");
    let ui = hub.userinfo(&t.str("access_token")).await;
    assert_eq!(ui.json["groups"], serde_json::json!(["ha-admins", "users"]));
    // Refresh with the secret in the body as well.
    hub.token(
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", t.str("refresh_token").as_str()),
            ("client_id", CONF),
            ("client_secret", CONF_SECRET),
        ],
        None,
    )
    .await
    .assert_tokens();
}

#[actix_web::test]
async fn prompt_login_sends_force_authn() {
    let hub = Hub::start().await;
    let mut b = hub.signed_in_browser().await;
    let pkce = Pkce::new();
    // With a session and no prompt: no new SAML login.
    let (_, flow) = hub.code(&mut b, CONF, Some(&pkce), &[]).await;
    assert!(flow.authn_requests.is_empty());
    // prompt=login: a new login with ForceAuthn="true", then a code.
    let (code, flow) = hub
        .code(&mut b, CONF, Some(&pkce), &[("prompt", "login")])
        .await;
    assert_eq!(
        flow.authn_requests.len(),
        1,
        "prompt=login must log in again"
    );
    assert_eq!(
        attr(&flow.authn_requests[0], "ForceAuthn").as_deref(),
        Some("true"),
        "{}",
        flow.authn_requests[0]
    );
    assert_eq!(flow.param("state").as_deref(), Some("st-123"));
    hub.exchange(CONF, &code, Some(&pkce.verifier))
        .await
        .assert_tokens();
}

/// max_age against a sign-in made at the IdP 5 s before the session began,
/// with the clock stepped forward instead of a back-dated AuthnInstant.
#[actix_web::test]
async fn max_age_is_honoured_and_auth_time_is_in_the_id_token() {
    let hub = Hub::start().await;
    let mut b = hub.signed_in_browser().await;
    let signed_in = hub.unix() - 5;
    let pkce = Pkce::new();
    hub.advance(115);
    let (code, flow) = hub
        .code(&mut b, CONF, Some(&pkce), &[("max_age", "3600")])
        .await;
    assert!(
        flow.authn_requests.is_empty(),
        "a 120 s old sign-in satisfies max_age=3600"
    );
    let t = hub.exchange(CONF, &code, Some(&pkce.verifier)).await;
    let (_, c) = jwt_parts(&t.str("id_token"));
    assert_eq!(
        c["auth_time"].as_i64(),
        Some(signed_in),
        "auth_time is the IdP's AuthnInstant"
    );
    assert_eq!(hub.unix() - signed_in, 120);

    // max_age=120 is exactly met: no new login.
    let (_, flow) = hub
        .code(&mut b, CONF, Some(&pkce), &[("max_age", "120")])
        .await;
    assert!(flow.authn_requests.is_empty(), "120 s ≤ max_age=120");

    // max_age=60: too old, so a new login with ForceAuthn.
    let (code, flow) = hub
        .code(&mut b, CONF, Some(&pkce), &[("max_age", "60")])
        .await;
    assert_eq!(flow.authn_requests.len(), 1, "max_age=60 must log in again");
    assert_eq!(
        attr(&flow.authn_requests[0], "ForceAuthn").as_deref(),
        Some("true")
    );
    let t = hub.exchange(CONF, &code, Some(&pkce.verifier)).await;
    let (_, c) = jwt_parts(&t.str("id_token"));
    assert_eq!(
        c["auth_time"].as_i64(),
        Some(hub.unix() - 5),
        "auth_time is the new sign-in"
    );

    // prompt=none with an unmet max_age cannot log in: login_required.
    let mut b = hub.signed_in_browser().await;
    hub.advance(115);
    let mut p = base_params(CONF, CONF_REDIRECT);
    p.extend([
        ("prompt", "none"),
        ("max_age", "60"),
        ("code_challenge", pkce.challenge.as_str()),
        ("code_challenge_method", "S256"),
    ]);
    let flow = hub.drive(&mut b, &hub.authorize_url(&p)).await;
    assert_redirect_error(&hub, &flow, CONF_REDIRECT, "login_required");
}

#[actix_web::test]
async fn end_session_redirects_only_to_a_registered_uri_and_ends_the_session() {
    let hub = Hub::start().await;

    // An unregistered post_logout_redirect_uri: no redirect, but signed out.
    let mut b = hub.browser();
    let pkce = Pkce::new();
    let (code, _) = hub.code(&mut b, CONF, Some(&pkce), &[]).await;
    let t = hub.exchange(CONF, &code, Some(&pkce.verifier)).await;
    let idt = t.str("id_token");
    assert!(session_alive(&mut b).await);
    for evil in [
        "https://evil.example/",
        "https://app.example/signed-out/x",
        "https://app.example/cb",
    ] {
        let q = form(&[
            ("id_token_hint", idt.as_str()),
            ("post_logout_redirect_uri", evil),
            ("state", "x"),
        ]);
        let p = b.get(&format!("/oidc/end_session?{q}")).await;
        assert!(
            p.header("location").is_none(),
            "redirected to {evil}: {:?}",
            p.location
        );
        assert_eq!(p.status, 200, "{}", p.head());
    }
    assert!(
        !session_alive(&mut b).await,
        "end_session ended the session"
    );
    assert_eq!(
        hub.userinfo(&t.str("access_token")).await.status(),
        401,
        "tokens end with the session"
    );
    hub.refresh(CONF, &t.str("refresh_token"))
        .await
        .assert_token_error(400, "invalid_grant");

    // The registered one, with id_token_hint: redirect with state.
    let mut b = hub.browser();
    let (code, _) = hub.code(&mut b, CONF, Some(&pkce), &[]).await;
    let t = hub.exchange(CONF, &code, Some(&pkce.verifier)).await;
    let q = form(&[
        ("id_token_hint", t.str("id_token").as_str()),
        ("post_logout_redirect_uri", CONF_LOGOUT),
        ("state", "bye 1"),
    ]);
    let p = b.get(&format!("/oidc/end_session?{q}")).await;
    assert_eq!(p.status, 302, "{}", p.head());
    let loc = p.location.clone().unwrap();
    assert!(loc.starts_with(&format!("{CONF_LOGOUT}?")), "{loc}");
    assert_eq!(query_param(&loc, "state").as_deref(), Some("bye 1"));
    assert!(!session_alive(&mut b).await);
    assert_eq!(hub.userinfo(&t.str("access_token")).await.status(), 401);
    // After logout, prompt=none finds no session.
    let mut pr = base_params(CONF, CONF_REDIRECT);
    pr.push(("prompt", "none"));
    let flow = hub.drive(&mut b, &hub.authorize_url(&pr)).await;
    assert_redirect_error(&hub, &flow, CONF_REDIRECT, "login_required");

    // The registered one named through client_id instead of a hint: without
    // a hint the person confirms first (RP-Initiated Logout §2), then goes.
    let mut b = hub.signed_in_browser().await;
    let q = form(&[
        ("client_id", CONF),
        ("post_logout_redirect_uri", CONF_LOGOUT),
    ]);
    let ask = b.get(&format!("/oidc/end_session?{q}")).await;
    assert_eq!(ask.status, 200, "{}", ask.head());
    assert!(
        session_alive(&mut b).await,
        "ended before the person confirmed"
    );
    let p = b
        .post_form(
            "/oidc/end_session",
            &crate::peers::browser::hidden_inputs(&ask.body),
        )
        .await;
    assert_eq!(p.status, 302, "{}", p.head());
    assert!(!session_alive(&mut b).await);
    // Another client's id cannot unlock CONF's logout URI.
    let mut b = hub.signed_in_browser().await;
    let q = form(&[
        ("client_id", OTHER),
        ("post_logout_redirect_uri", CONF_LOGOUT),
    ]);
    let ask = b.get(&format!("/oidc/end_session?{q}")).await;
    let p = b
        .post_form(
            "/oidc/end_session",
            &crate::peers::browser::hidden_inputs(&ask.body),
        )
        .await;
    assert!(p.header("location").is_none(), "{:?}", p.location);
}

/// With a choice of IdPs, a forced re-authentication (prompt=login, or a
/// sign-in older than max_age) goes to the IdP of the current session with
/// ForceAuthn, not to the chooser page, whose links cannot carry ForceAuthn.
#[actix_web::test]
async fn forced_reauthentication_with_several_idps_uses_the_session_idp() {
    let hub = Hub::start_with(Setup {
        two_idps: true,
        ..Setup::default()
    })
    .await;
    let pkce = Pkce::new();
    for (extra, wait) in [(("prompt", "login"), 0), (("max_age", "60"), 115)] {
        let mut b = hub.signed_in_browser().await;
        hub.advance(wait);
        let mut p = base_params(CONF, CONF_REDIRECT);
        p.extend([
            extra,
            ("code_challenge", pkce.challenge.as_str()),
            ("code_challenge_method", "S256"),
        ]);
        let flow = hub.drive(&mut b, &hub.authorize_url(&p)).await;
        assert_eq!(
            flow.authn_requests.len(),
            1,
            "{extra:?}: no forced login at the session's IdP; ended at {} {:?}",
            flow.page.status,
            flow.page.location
        );
        let req = &flow.authn_requests[0];
        assert_eq!(attr(req, "ForceAuthn").as_deref(), Some("true"), "{req}");
        assert_eq!(
            attr(req, "Destination"),
            Some(hub.idp.sso_url.clone()),
            "{req}"
        );
        let code = flow
            .param("code")
            .unwrap_or_else(|| panic!("{}", flow.location()));
        let t = hub.exchange(CONF, &code, Some(&pkce.verifier)).await;
        let (_, c) = jwt_parts(&t.str("id_token"));
        let auth_age = hub.unix() - c["auth_time"].as_i64().unwrap();
        assert_eq!(auth_age, 5, "{extra:?}: auth_time is the new sign-in");
    }
}

/// RP-Initiated Logout 1.0 §2: GET and POST are both supported, and a
/// client_id that does not match the id_token_hint's audience is refused.
#[actix_web::test]
async fn end_session_accepts_post_and_matches_client_id_to_the_hint() {
    let hub = Hub::start().await;
    let pkce = Pkce::new();

    let mut b = hub.browser();
    let (code, _) = hub.code(&mut b, CONF, Some(&pkce), &[]).await;
    let t = hub.exchange(CONF, &code, Some(&pkce.verifier)).await;
    let p = b
        .post_form(
            "/oidc/end_session",
            &[
                ("id_token_hint", t.str("id_token").as_str()),
                ("post_logout_redirect_uri", CONF_LOGOUT),
                ("state", "posted"),
            ],
        )
        .await;
    assert_eq!(p.status, 302, "POST end_session: {}", p.head());
    let loc = p.location.clone().unwrap();
    assert!(loc.starts_with(&format!("{CONF_LOGOUT}?")), "{loc}");
    assert_eq!(query_param(&loc, "state").as_deref(), Some("posted"));
    assert!(!session_alive(&mut b).await);

    // An id_token issued to OTHER, presented with client_id=CONF to unlock
    // CONF's logout URI.
    let mut b = hub.browser();
    let (code, _) = hub.code(&mut b, OTHER, Some(&pkce), &[]).await;
    let t = hub.exchange(OTHER, &code, Some(&pkce.verifier)).await;
    let q = form(&[
        ("id_token_hint", t.str("id_token").as_str()),
        ("client_id", CONF),
        ("post_logout_redirect_uri", CONF_LOGOUT),
    ]);
    let p = b.get(&format!("/oidc/end_session?{q}")).await;
    assert!(
        p.header("location").is_none(),
        "client_id and id_token_hint disagree, yet redirected to {:?}",
        p.location
    );
    assert!(
        !session_alive(&mut b).await,
        "the session ends all the same"
    );
}

/// Requests the provider does not support are refused by redirect (the
/// client and redirect URI are known), with state and iss.
#[actix_web::test]
async fn unsupported_requests_are_refused_by_redirect() {
    let hub = Hub::start().await;
    let mut b = hub.signed_in_browser().await;
    let pkce = Pkce::new();
    for (k, v, error) in [
        ("response_type", "token", "unsupported_response_type"),
        (
            "response_type",
            "code id_token",
            "unsupported_response_type",
        ),
        ("scope", "profile email", "invalid_scope"),
        (
            "request",
            "eyJhbGciOiJub25lIn0.e30.",
            "request_not_supported",
        ),
        (
            "request_uri",
            "https://app.example/req",
            "request_uri_not_supported",
        ),
        ("response_mode", "form_post", "invalid_request"),
        ("prompt", "none login", "invalid_request"),
        ("max_age", "-1", "invalid_request"),
    ] {
        let mut p: Vec<(&str, &str)> = base_params(CONF, CONF_REDIRECT)
            .into_iter()
            .filter(|(pk, _)| *pk != k)
            .collect();
        p.extend([
            (k, v),
            ("code_challenge", pkce.challenge.as_str()),
            ("code_challenge_method", "S256"),
        ]);
        let flow = hub.drive(&mut b, &hub.authorize_url(&p)).await;
        assert_redirect_error(&hub, &flow, CONF_REDIRECT, error);
    }
    // A repeated parameter is ambiguous: an error page, never a redirect.
    let url = format!(
        "{}&redirect_uri={}",
        hub.authorize_url(&base_params(CONF, CONF_REDIRECT)),
        url::form_urlencoded::byte_serialize(b"https://evil.example/cb").collect::<String>()
    );
    assert_error_page(&b.get(&url).await, "repeated redirect_uri");
}
