//! The OpenID Connect provider's rules, one test per rule, through the real
//! hub binary: exact redirect URIs, PKCE, single-use codes, refresh-token
//! rotation, client authentication, prompt/max_age, end_session, and the
//! response contract (no-store, RFC 6749 §5.2 errors, state/iss, nonce, kid,
//! groups as a list).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use crate::oidc_rig::*;
use crate::peers::browser::{query_param, Browser, Page};

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
fn assert_redirect_error(rig: &Rig, flow: &Flow, redirect: &str, error: &str) {
    let loc = flow.location();
    assert!(
        flow.page.status == 302 && loc.starts_with(redirect),
        "expected a redirect to {redirect}, got {} {loc}\n{}",
        flow.page.status,
        flow.page.head()
    );
    assert_eq!(flow.param("error").as_deref(), Some(error), "{loc}");
    assert_eq!(flow.param("state").as_deref(), Some("st-123"), "{loc}");
    assert_eq!(flow.param("iss"), Some(rig.issuer()), "{loc}");
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

#[test]
fn redirect_uri_must_match_exactly_and_is_never_redirected_to_otherwise() {
    let rig = Rig::start();
    // A signed-in browser: a lax check would hand out a code at once.
    let mut b = rig.signed_in_browser(5);
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
        assert_error_page(&b.get(&rig.authorize_url(&p)), bad);
        // The same with POST.
        let posted = b.post_form(&rig.url("/oidc/authorize"), &p);
        assert_error_page(&posted, bad);
    }
    // Unknown client, missing redirect_uri, a redirect URI of another client.
    let p = base_params("nobody", CONF_REDIRECT);
    assert_error_page(&b.get(&rig.authorize_url(&p)), "unknown client");
    let p: Vec<_> = base_params(CONF, CONF_REDIRECT)
        .into_iter()
        .filter(|(k, _)| *k != "redirect_uri")
        .collect();
    assert_error_page(&b.get(&rig.authorize_url(&p)), "no redirect_uri");
    let p = base_params(CONF, OTHER_REDIRECT);
    assert_error_page(&b.get(&rig.authorize_url(&p)), "another client's URI");
    // Control: the registered URI gets a code.
    let (code, flow) = rig.code(&mut b, CONF, Some(&pkce), &[]);
    assert!(flow.location().starts_with(&format!("{CONF_REDIRECT}?")));
    assert!(!code.is_empty());
}

#[test]
fn public_client_without_pkce_is_refused() {
    let rig = Rig::start();
    let mut b = rig.signed_in_browser(5);
    let url = rig.authorize_url(&base_params(PUBLIC, PUBLIC_REDIRECT));
    let flow = rig.drive(&mut b, &url, 5);
    assert_redirect_error(&rig, &flow, PUBLIC_REDIRECT, "invalid_request");
}

#[test]
fn pkce_downgrade_is_refused() {
    let rig = Rig::start();
    let mut b = rig.signed_in_browser(5);
    let pkce = Pkce::new();
    for client in [PUBLIC, CONF] {
        let redirect = redirect_of(client);
        // code_challenge_method=plain, with a verifier as the challenge.
        let mut p = base_params(client, redirect);
        p.push(("code_challenge", &pkce.verifier));
        p.push(("code_challenge_method", "plain"));
        let flow = rig.drive(&mut b, &rig.authorize_url(&p), 5);
        assert_redirect_error(&rig, &flow, redirect, "invalid_request");
        // No method at all means plain (RFC 7636 §4.3).
        let mut p = base_params(client, redirect);
        p.push(("code_challenge", &pkce.challenge));
        let flow = rig.drive(&mut b, &rig.authorize_url(&p), 5);
        assert_redirect_error(&rig, &flow, redirect, "invalid_request");
        // An unknown method.
        let mut p = base_params(client, redirect);
        p.push(("code_challenge", &pkce.challenge));
        p.push(("code_challenge_method", "S512"));
        let flow = rig.drive(&mut b, &rig.authorize_url(&p), 5);
        assert_redirect_error(&rig, &flow, redirect, "invalid_request");
    }
}

#[test]
fn wrong_or_missing_code_verifier_is_refused() {
    let rig = Rig::start();
    let mut b = rig.signed_in_browser(5);
    for client in [PUBLIC, CONF] {
        let pkce = Pkce::new();
        let (code, _) = rig.code(&mut b, client, Some(&pkce), &[]);
        let other = Pkce::new();
        rig.exchange(client, &code, Some(&other.verifier))
            .assert_token_error(400, "invalid_grant");
        // The code was spent by the failed attempt.
        rig.exchange(client, &code, Some(&pkce.verifier))
            .assert_token_error(400, "invalid_grant");

        let (code, _) = rig.code(&mut b, client, Some(&pkce), &[]);
        rig.exchange(client, &code, None)
            .assert_token_error(400, "invalid_grant");

        // Sending the challenge itself as the verifier (a plain downgrade).
        let (code, _) = rig.code(&mut b, client, Some(&pkce), &[]);
        rig.exchange(client, &code, Some(&pkce.challenge))
            .assert_token_error(400, "invalid_grant");

        // Control.
        let (code, _) = rig.code(&mut b, client, Some(&pkce), &[]);
        rig.exchange(client, &code, Some(&pkce.verifier))
            .assert_tokens();
    }
}

#[test]
fn reused_code_fails_and_revokes_its_tokens() {
    let rig = Rig::start();
    let mut b = rig.signed_in_browser(5);
    let pkce = Pkce::new();
    let (code, _) = rig.code(&mut b, CONF, Some(&pkce), &[]);
    let first = rig.exchange(CONF, &code, Some(&pkce.verifier));
    first.assert_tokens();
    let at = first.str("access_token");
    let rt = first.str("refresh_token");
    assert_eq!(rig.userinfo(&at).status(), 200);

    rig.exchange(CONF, &code, Some(&pkce.verifier))
        .assert_token_error(400, "invalid_grant");

    let ui = rig.userinfo(&at);
    assert_eq!(
        ui.status(),
        401,
        "access token still works: {}",
        ui.page.body
    );
    assert!(ui
        .header("www-authenticate")
        .is_some_and(|h| h.starts_with("Bearer")));
    rig.refresh(CONF, &rt)
        .assert_token_error(400, "invalid_grant");
}

/// Codes expire from the store after at most 60 s. With the Redis store the
/// test reads the code's TTL and then lets it run out at once (PEXPIRE), so
/// no minute of waiting is needed.
#[test]
fn expired_code_is_refused() {
    let rig = Rig::start_with(true, |_| {});
    let mut b = rig.signed_in_browser(5);
    let pkce = Pkce::new();
    let (code, _) = rig.code(&mut b, CONF, Some(&pkce), &[]);
    let hash: String = openssl::sha::sha256(code.as_bytes())
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect();
    let key = format!("samlhub:oidc_code:{hash}");
    let client = redis::Client::open(rig.redis.as_ref().unwrap().url()).unwrap();
    let mut con = client.get_connection().unwrap();
    let ttl: i64 = redis::cmd("PTTL").arg(&key).query(&mut con).unwrap();
    assert!(
        (1..=60_000).contains(&ttl),
        "code TTL {ttl} ms, want ≤ 60 s"
    );
    let set: i64 = redis::cmd("PEXPIRE")
        .arg(&key)
        .arg(1)
        .query(&mut con)
        .unwrap();
    assert_eq!(set, 1);
    std::thread::sleep(std::time::Duration::from_millis(20));
    rig.exchange(CONF, &code, Some(&pkce.verifier))
        .assert_token_error(400, "invalid_grant");

    // Control: a fresh code on the same store works.
    let (code, _) = rig.code(&mut b, CONF, Some(&pkce), &[]);
    rig.exchange(CONF, &code, Some(&pkce.verifier))
        .assert_tokens();
}

#[test]
fn code_of_another_client_is_refused() {
    let rig = Rig::start();
    let mut b = rig.signed_in_browser(5);
    let pkce = Pkce::new();
    for redirect in [CONF_REDIRECT, OTHER_REDIRECT] {
        let (code, _) = rig.code(&mut b, CONF, Some(&pkce), &[]);
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", redirect),
            ("code_verifier", pkce.verifier.as_str()),
        ];
        rig.token(&form, Some((OTHER, OTHER_SECRET)))
            .assert_token_error(400, "invalid_grant");
    }
    // Naming the rightful client in the body while authenticating as another.
    let (code, _) = rig.code(&mut b, CONF, Some(&pkce), &[]);
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CONF_REDIRECT),
        ("code_verifier", pkce.verifier.as_str()),
        ("client_id", CONF),
    ];
    rig.token(&form, Some((OTHER, OTHER_SECRET)))
        .assert_token_error(401, "invalid_client");
    // A redirect_uri that differs from the authorization request's.
    let (code, _) = rig.code(&mut b, CONF, Some(&pkce), &[]);
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", "https://app.example/cb?x=1"),
        ("code_verifier", pkce.verifier.as_str()),
    ];
    rig.token(&form, Some((CONF, CONF_SECRET)))
        .assert_token_error(400, "invalid_grant");
}

#[test]
fn reused_refresh_token_fails_and_revokes_the_family() {
    let rig = Rig::start();
    let mut b = rig.signed_in_browser(5);
    let pkce = Pkce::new();
    let (code, _) = rig.code(&mut b, CONF, Some(&pkce), &[]);
    let t1 = rig.exchange(CONF, &code, Some(&pkce.verifier));
    t1.assert_tokens();
    let rt1 = t1.str("refresh_token");
    let t2 = rig.refresh(CONF, &rt1);
    t2.assert_tokens();
    let (rt2, at2) = (t2.str("refresh_token"), t2.str("access_token"));
    assert_ne!(rt1, rt2, "refresh tokens rotate");
    assert_eq!(rig.userinfo(&at2).status(), 200);

    // A refresh token of this family presented by another client fails.
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", rt2.as_str()),
    ];
    rig.token(&form, Some((OTHER, OTHER_SECRET)))
        .assert_token_error(400, "invalid_grant");

    // A fresh family for the reuse check (the one above was spent by OTHER).
    let (code, _) = rig.code(&mut b, CONF, Some(&pkce), &[]);
    let t1 = rig.exchange(CONF, &code, Some(&pkce.verifier));
    let (rt1, at1) = (t1.str("refresh_token"), t1.str("access_token"));
    let t2 = rig.refresh(CONF, &rt1);
    t2.assert_tokens();
    let (rt2, at2) = (t2.str("refresh_token"), t2.str("access_token"));

    rig.refresh(CONF, &rt1)
        .assert_token_error(400, "invalid_grant");
    rig.refresh(CONF, &rt2)
        .assert_token_error(400, "invalid_grant");
    assert_eq!(rig.userinfo(&at2).status(), 401, "family revoked");
    assert_eq!(rig.userinfo(&at1).status(), 401, "family revoked");
}

#[test]
fn bad_client_authentication_is_invalid_client() {
    let rig = Rig::start();
    let mut b = rig.signed_in_browser(5);
    let pkce = Pkce::new();
    let (code, _) = rig.code(&mut b, CONF, Some(&pkce), &[]);
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CONF_REDIRECT),
        ("code_verifier", pkce.verifier.as_str()),
    ];
    // client_secret_basic with a wrong secret: 401 and a Basic challenge.
    let r = rig.token(&form, Some((CONF, "wrong-secret")));
    r.assert_token_error(401, "invalid_client");
    let challenge = r.header("www-authenticate").unwrap_or_default();
    assert!(
        challenge.starts_with("Basic"),
        "WWW-Authenticate: {challenge:?}"
    );
    // Unknown client through Basic.
    let r = rig.token(&form, Some(("nobody", "x")));
    r.assert_token_error(401, "invalid_client");
    assert!(r
        .header("www-authenticate")
        .is_some_and(|h| h.starts_with("Basic")));
    // client_secret_post with a wrong secret, and no secret at all.
    let mut posted = form.to_vec();
    posted.push(("client_id", CONF));
    rig.token(&posted, None)
        .assert_token_error(401, "invalid_client");
    posted.push(("client_secret", "wrong-secret"));
    rig.token(&posted, None)
        .assert_token_error(401, "invalid_client");
    // A public client may not present a secret.
    let pform = [
        ("grant_type", "authorization_code"),
        ("code", "x"),
        ("redirect_uri", PUBLIC_REDIRECT),
        ("client_id", PUBLIC),
        ("client_secret", "anything"),
    ];
    rig.token(&pform, None)
        .assert_token_error(401, "invalid_client");
    // None of that spent the code.
    rig.exchange(CONF, &code, Some(&pkce.verifier))
        .assert_tokens();
}

#[test]
fn token_errors_follow_rfc6749() {
    let rig = Rig::start();
    let basic = Some((CONF, CONF_SECRET));
    rig.token(&[("code", "x")], basic)
        .assert_token_error(400, "invalid_request");
    rig.token(
        &[
            ("grant_type", "password"),
            ("username", "a"),
            ("password", "b"),
        ],
        basic,
    )
    .assert_token_error(400, "unsupported_grant_type");
    rig.token(&[("grant_type", "client_credentials")], basic)
        .assert_token_error(400, "unsupported_grant_type");
    rig.token(
        &[
            ("grant_type", "authorization_code"),
            ("redirect_uri", CONF_REDIRECT),
        ],
        basic,
    )
    .assert_token_error(400, "invalid_request");
    rig.token(
        &[
            ("grant_type", "authorization_code"),
            ("code", "no-such-code"),
            ("redirect_uri", CONF_REDIRECT),
        ],
        basic,
    )
    .assert_token_error(400, "invalid_grant");
    rig.token(&[("grant_type", "refresh_token")], basic)
        .assert_token_error(400, "invalid_request");
    rig.token(
        &[("grant_type", "refresh_token"), ("refresh_token", "nope")],
        basic,
    )
    .assert_token_error(400, "invalid_grant");
    // Two authentication methods at once.
    rig.token(
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", "nope"),
            ("client_secret", CONF_SECRET),
        ],
        basic,
    )
    .assert_token_error(400, "invalid_request");
    // Every error body is {error, error_description?} and nothing else.
    let r = rig.token(&[("grant_type", "password")], basic);
    let keys: Vec<&String> = r.json.as_object().unwrap().keys().collect();
    assert!(
        keys.iter()
            .all(|k| ["error", "error_description", "error_uri"].contains(&k.as_str())),
        "{keys:?}"
    );
}

#[test]
fn prompt_none_without_session_redirects_with_login_required() {
    let rig = Rig::start();
    let mut b = Browser::new();
    let mut p = base_params(CONF, CONF_REDIRECT);
    p.push(("prompt", "none"));
    let flow = rig.drive(&mut b, &rig.authorize_url(&p), 5);
    assert_redirect_error(&rig, &flow, CONF_REDIRECT, "login_required");
    assert!(
        flow.authn_requests.is_empty(),
        "no SAML login for prompt=none"
    );
    // With a session, prompt=none gives a code without any login.
    let mut b = rig.signed_in_browser(5);
    let flow = rig.drive(&mut b, &rig.authorize_url(&p), 5);
    assert!(flow.param("code").is_some(), "{}", flow.location());
    assert!(flow.authn_requests.is_empty());
}

/// Authorization response, token response, id_token and userinfo, for a
/// confidential client with client_secret_basic and PKCE.
#[test]
fn authorization_and_token_responses_follow_the_contract() {
    let rig = Rig::start();
    let discovery = rig.json("/.well-known/openid-configuration");
    let issuer = discovery["issuer"].as_str().unwrap().to_owned();
    assert_eq!(issuer, rig.issuer(), "issuer is public_url exactly");
    let jwks = rig.json("/oidc/jwks");
    let kids: Vec<String> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect();

    // A first login through the hub (no session yet); a state with
    // characters that must survive encoding.
    let mut b = Browser::new();
    let pkce = Pkce::new();
    let state = "s t+a/t=e&ü?#%";
    let (code, flow) = rig.code(
        &mut b,
        CONF,
        Some(&pkce),
        &[("state", state), ("nonce", "nonce-ABC.123")],
    );
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

    let t = rig.exchange(CONF, &code, Some(&pkce.verifier));
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

    // userinfo: GET with Bearer, and POST with the token in the body.
    let ui = rig.userinfo(&t.str("access_token"));
    assert_eq!(ui.status(), 200, "{}", ui.page.body);
    assert_eq!(ui.header("cache-control"), Some("no-store"));
    assert_eq!(ui.json["sub"], c["sub"]);
    assert_eq!(ui.json["email"], "alice@example.org");
    assert_eq!(ui.json["groups"], serde_json::json!(["ha-admins", "users"]));
    let posted = Browser::new().post_form(
        &rig.url("/oidc/userinfo"),
        &[("access_token", t.str("access_token"))],
    );
    assert_eq!(posted.status, 200, "{}", posted.head());
    // Bad tokens: 401 with a Bearer challenge.
    let bad = rig.userinfo("not-a-token");
    assert_eq!(bad.status(), 401);
    assert!(bad
        .header("www-authenticate")
        .is_some_and(|h| h.starts_with("Bearer")));
    let none = Browser::new().get(&rig.url("/oidc/userinfo"));
    assert_eq!(none.status, 401);

    // Refresh: a new id_token with a kid, the same iss/sub/auth_time.
    let r = rig.refresh(CONF, &t.str("refresh_token"));
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
}

/// The hass-oidc-auth contract: scope `openid profile groups`,
/// client_secret_post (secret in the body), PKCE S256.
#[test]
fn scope_openid_profile_groups_with_client_secret_in_the_body() {
    let rig = Rig::start();
    let mut b = Browser::new();
    let pkce = Pkce::new();
    let (code, _) = rig.code(
        &mut b,
        CONF,
        Some(&pkce),
        &[("scope", "openid profile groups")],
    );
    let t = rig.token(
        &[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", CONF_REDIRECT),
            ("code_verifier", pkce.verifier.as_str()),
            ("client_id", CONF),
            ("client_secret", CONF_SECRET),
        ],
        None,
    );
    t.assert_tokens();
    assert_eq!(t.json["scope"], "openid profile groups");
    let (_, c) = jwt_parts(&t.str("id_token"));
    assert_eq!(c["groups"], serde_json::json!(["ha-admins", "users"]));
    assert_eq!(c["name"], "Alice Example");
    assert_eq!(c["preferred_username"], "alice");
    assert!(c.get("email").is_none(), "email was not asked for: {c}");
    let ui = rig.userinfo(&t.str("access_token"));
    assert_eq!(ui.json["groups"], serde_json::json!(["ha-admins", "users"]));
    // Refresh with the secret in the body as well.
    rig.token(
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", t.str("refresh_token").as_str()),
            ("client_id", CONF),
            ("client_secret", CONF_SECRET),
        ],
        None,
    )
    .assert_tokens();
}

#[test]
fn prompt_login_sends_force_authn() {
    let rig = Rig::start();
    let mut b = rig.signed_in_browser(5);
    let pkce = Pkce::new();
    // With a session and no prompt: no new SAML login.
    let (_, flow) = rig.code(&mut b, CONF, Some(&pkce), &[]);
    assert!(flow.authn_requests.is_empty());
    // prompt=login: a new login with ForceAuthn="true", then a code.
    let (code, flow) = rig.code(&mut b, CONF, Some(&pkce), &[("prompt", "login")]);
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
    rig.exchange(CONF, &code, Some(&pkce.verifier))
        .assert_tokens();
}

#[test]
fn max_age_is_honoured_and_auth_time_is_in_the_id_token() {
    let rig = Rig::start();
    // The IdP authenticated alice 120 s ago.
    let mut b = rig.signed_in_browser(120);
    let pkce = Pkce::new();
    let (code, flow) = rig.code(&mut b, CONF, Some(&pkce), &[("max_age", "3600")]);
    assert!(
        flow.authn_requests.is_empty(),
        "a 120 s old sign-in satisfies max_age=3600"
    );
    let t = rig.exchange(CONF, &code, Some(&pkce.verifier));
    let (_, c) = jwt_parts(&t.str("id_token"));
    let age = now().unix_timestamp() - c["auth_time"].as_i64().unwrap();
    assert!(
        (115..=140).contains(&age),
        "auth_time is the IdP's AuthnInstant: {age} s ago"
    );

    // max_age=60: too old, so a new login with ForceAuthn.
    let (code, flow) = rig.code(&mut b, CONF, Some(&pkce), &[("max_age", "60")]);
    assert_eq!(flow.authn_requests.len(), 1, "max_age=60 must log in again");
    assert_eq!(
        attr(&flow.authn_requests[0], "ForceAuthn").as_deref(),
        Some("true")
    );
    let t = rig.exchange(CONF, &code, Some(&pkce.verifier));
    let (_, c) = jwt_parts(&t.str("id_token"));
    let age = now().unix_timestamp() - c["auth_time"].as_i64().unwrap();
    assert!(
        (0..=60).contains(&age),
        "auth_time within max_age: {age} s ago"
    );
    // prompt=none with an unmet max_age cannot log in: login_required.
    let mut b = rig.signed_in_browser(120);
    let mut p = base_params(CONF, CONF_REDIRECT);
    p.extend([
        ("prompt", "none"),
        ("max_age", "60"),
        ("code_challenge", pkce.challenge.as_str()),
        ("code_challenge_method", "S256"),
    ]);
    let flow = rig.drive(&mut b, &rig.authorize_url(&p), 5);
    assert_redirect_error(&rig, &flow, CONF_REDIRECT, "login_required");
}

#[test]
fn end_session_redirects_only_to_a_registered_uri_and_ends_the_session() {
    let rig = Rig::start();
    let session_alive = |b: &mut Browser| b.get(&rig.url("/session?format=json")).status == 200;

    // An unregistered post_logout_redirect_uri: no redirect, but signed out.
    let mut b = Browser::new();
    let pkce = Pkce::new();
    let (code, _) = rig.code(&mut b, CONF, Some(&pkce), &[]);
    let t = rig.exchange(CONF, &code, Some(&pkce.verifier));
    let idt = t.str("id_token");
    assert!(session_alive(&mut b));
    for evil in [
        "https://evil.example/",
        "https://app.example/signed-out/x",
        "https://app.example/cb",
    ] {
        let q: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("id_token_hint", idt.as_str()),
                ("post_logout_redirect_uri", evil),
                ("state", "x"),
            ])
            .finish();
        let p = b.get(&rig.url(&format!("/oidc/end_session?{q}")));
        assert!(
            p.header("location").is_none(),
            "redirected to {evil}: {:?}",
            p.location
        );
        assert_eq!(p.status, 200, "{}", p.head());
    }
    assert!(!session_alive(&mut b), "end_session ended the session");
    assert_eq!(
        rig.userinfo(&t.str("access_token")).status(),
        401,
        "tokens end with the session"
    );
    rig.refresh(CONF, &t.str("refresh_token"))
        .assert_token_error(400, "invalid_grant");

    // The registered one, with id_token_hint: redirect with state.
    let mut b = Browser::new();
    let (code, _) = rig.code(&mut b, CONF, Some(&pkce), &[]);
    let t = rig.exchange(CONF, &code, Some(&pkce.verifier));
    let q: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("id_token_hint", t.str("id_token").as_str()),
            ("post_logout_redirect_uri", CONF_LOGOUT),
            ("state", "bye 1"),
        ])
        .finish();
    let p = b.get(&rig.url(&format!("/oidc/end_session?{q}")));
    assert_eq!(p.status, 302, "{}", p.head());
    let loc = p.location.clone().unwrap();
    assert!(loc.starts_with(&format!("{CONF_LOGOUT}?")), "{loc}");
    assert_eq!(query_param(&loc, "state").as_deref(), Some("bye 1"));
    assert!(!session_alive(&mut b));
    assert_eq!(rig.userinfo(&t.str("access_token")).status(), 401);
    // After logout, prompt=none finds no session.
    let mut pr = base_params(CONF, CONF_REDIRECT);
    pr.push(("prompt", "none"));
    let flow = rig.drive(&mut b, &rig.authorize_url(&pr), 5);
    assert_redirect_error(&rig, &flow, CONF_REDIRECT, "login_required");

    // The registered one named through client_id instead of a hint: without
    // a hint the person confirms first (RP-Initiated Logout §2), then goes.
    let mut b = rig.signed_in_browser(5);
    let q: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("client_id", CONF),
            ("post_logout_redirect_uri", CONF_LOGOUT),
        ])
        .finish();
    let ask = b.get(&rig.url(&format!("/oidc/end_session?{q}")));
    assert_eq!(ask.status, 200, "{}", ask.head());
    assert!(session_alive(&mut b), "ended before the person confirmed");
    let p = b.post_form(
        &rig.url("/oidc/end_session"),
        &crate::peers::browser::hidden_inputs(&ask.body),
    );
    assert_eq!(p.status, 302, "{}", p.head());
    assert!(!session_alive(&mut b));
    // Another client's id cannot unlock CONF's logout URI.
    let mut b = rig.signed_in_browser(5);
    let q: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("client_id", OTHER),
            ("post_logout_redirect_uri", CONF_LOGOUT),
        ])
        .finish();
    let ask = b.get(&rig.url(&format!("/oidc/end_session?{q}")));
    let p = b.post_form(
        &rig.url("/oidc/end_session"),
        &crate::peers::browser::hidden_inputs(&ask.body),
    );
    assert!(p.header("location").is_none(), "{:?}", p.location);
}

/// With a choice of IdPs, a forced re-authentication (prompt=login, or a
/// sign-in older than max_age) goes to the IdP of the current session with
/// ForceAuthn, not to the chooser page, whose links cannot carry ForceAuthn.
#[test]
fn forced_reauthentication_with_several_idps_uses_the_session_idp() {
    let rig = Rig::start_with_two_idps();
    let pkce = Pkce::new();
    for (extra, age) in [(("prompt", "login"), 5), (("max_age", "60"), 120)] {
        let mut b = rig.signed_in_browser(age);
        let mut p = base_params(CONF, CONF_REDIRECT);
        p.extend([
            extra,
            ("code_challenge", pkce.challenge.as_str()),
            ("code_challenge_method", "S256"),
        ]);
        let flow = rig.drive(&mut b, &rig.authorize_url(&p), 1);
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
            Some(rig.idp.sso_url.clone()),
            "{req}"
        );
        let code = flow
            .param("code")
            .unwrap_or_else(|| panic!("{}", flow.location()));
        let t = rig.exchange(CONF, &code, Some(&pkce.verifier));
        let (_, c) = jwt_parts(&t.str("id_token"));
        let auth_age = now().unix_timestamp() - c["auth_time"].as_i64().unwrap();
        assert!(auth_age <= 60, "{extra:?}: auth_time {auth_age} s ago");
    }
}

/// RP-Initiated Logout 1.0 §2: GET and POST are both supported, and a
/// client_id that does not match the id_token_hint's audience is refused.
#[test]
fn end_session_accepts_post_and_matches_client_id_to_the_hint() {
    let rig = Rig::start();
    let pkce = Pkce::new();
    let session_alive = |b: &mut Browser| b.get(&rig.url("/session?format=json")).status == 200;

    let mut b = Browser::new();
    let (code, _) = rig.code(&mut b, CONF, Some(&pkce), &[]);
    let t = rig.exchange(CONF, &code, Some(&pkce.verifier));
    let p = b.post_form(
        &rig.url("/oidc/end_session"),
        &[
            ("id_token_hint", t.str("id_token").as_str()),
            ("post_logout_redirect_uri", CONF_LOGOUT),
            ("state", "posted"),
        ],
    );
    assert_eq!(p.status, 302, "POST end_session: {}", p.head());
    let loc = p.location.clone().unwrap();
    assert!(loc.starts_with(&format!("{CONF_LOGOUT}?")), "{loc}");
    assert_eq!(query_param(&loc, "state").as_deref(), Some("posted"));
    assert!(!session_alive(&mut b));

    // An id_token issued to OTHER, presented with client_id=CONF to unlock
    // CONF's logout URI.
    let mut b = Browser::new();
    let (code, _) = rig.code(&mut b, OTHER, Some(&pkce), &[]);
    let t = rig.exchange(OTHER, &code, Some(&pkce.verifier));
    let q: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("id_token_hint", t.str("id_token").as_str()),
            ("client_id", CONF),
            ("post_logout_redirect_uri", CONF_LOGOUT),
        ])
        .finish();
    let p = b.get(&rig.url(&format!("/oidc/end_session?{q}")));
    assert!(
        p.header("location").is_none(),
        "client_id and id_token_hint disagree, yet redirected to {:?}",
        p.location
    );
    assert!(!session_alive(&mut b), "the session ends all the same");
}

/// Requests the provider does not support are refused by redirect (the
/// client and redirect URI are known), with state and iss.
#[test]
fn unsupported_requests_are_refused_by_redirect() {
    let rig = Rig::start();
    let mut b = rig.signed_in_browser(5);
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
        let flow = rig.drive(&mut b, &rig.authorize_url(&p), 5);
        assert_redirect_error(&rig, &flow, CONF_REDIRECT, error);
    }
    // A repeated parameter is ambiguous: an error page, never a redirect.
    let url = format!(
        "{}&redirect_uri={}",
        rig.authorize_url(&base_params(CONF, CONF_REDIRECT)),
        url::form_urlencoded::byte_serialize(b"https://evil.example/cb").collect::<String>()
    );
    assert_error_page(&b.get(&url), "repeated redirect_uri");
}
