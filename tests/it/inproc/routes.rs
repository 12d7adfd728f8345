//! Every route, as mounted by the `configure` functions of `src/http/`,
//! walked with and without a session, with good and bad input: every
//! answer, HTML or JSON, success or error, carries the security headers,
//! and every inline script or style block of a page is allowed by a hash in
//! the page's Content-Security-Policy.

use super::{form, Browser, Hub, Setup};
use crate::oidc_rig::{Pkce, CONF, CONF_LOGOUT, CONF_SECRET};
use crate::peers::browser::Page;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use std::collections::BTreeSet;
use std::path::Path;

const HOOK_SECRET: &str = "routes-secret-0123456789abcdefgh";

/// (METHOD, path) of every `.route(routes::X, web::method()…)` in
/// `src/http/*.rs`, with X resolved through `src/routes.rs`.
pub(super) fn mounted() -> BTreeSet<(String, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let consts = std::fs::read_to_string(src.join("routes.rs")).unwrap();
    let path_of = |name: &str| -> String {
        let pat = format!("pub const {name}: &str = \"");
        let at = consts
            .find(&pat)
            .unwrap_or_else(|| panic!("routes::{name} not in src/routes.rs"))
            + pat.len();
        consts[at..at + consts[at..].find('"').unwrap()].to_owned()
    };
    let mut out = BTreeSet::new();
    for e in std::fs::read_dir(src.join("http")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_none_or(|x| x != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&p).unwrap();
        for piece in text.split(".route(").skip(1) {
            let Some(rest) = piece.trim_start().strip_prefix("routes::") else {
                continue;
            };
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            let after = &rest[name.len()..];
            let Some(m) = after.find("web::").map(|i| &after[i + 5..]) else {
                continue;
            };
            let method: String = m.chars().take_while(|c| c.is_ascii_alphabetic()).collect();
            out.insert((method.to_ascii_uppercase(), path_of(&name)));
        }
    }
    assert!(out.len() >= 16, "too few routes found: {out:?}");
    out
}

/// The sha256 hash-sources of a CSP directive.
fn hashes_in(csp: &str, directive: &str) -> Vec<String> {
    csp.split(';')
        .map(str::trim)
        .find(|d| d.starts_with(&format!("{directive} ")))
        .map(|d| {
            d.split_whitespace()
                .filter(|t| t.starts_with("'sha256-"))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// The text of every `<tag …>text</tag>` in `html`.
fn blocks(html: &str, tag: &str) -> Vec<String> {
    let lower = html.to_ascii_lowercase();
    let (open, close) = (format!("<{tag}"), format!("</{tag}>"));
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(at) = lower[from..].find(&open).map(|i| i + from) {
        let start = at + lower[at..].find('>').unwrap() + 1;
        let end = start
            + lower[start..]
                .find(&close)
                .unwrap_or_else(|| panic!("unclosed <{tag}>"));
        out.push(html[start..end].to_owned());
        from = end;
    }
    out
}

fn check(method: &str, p: &Page) -> usize {
    let what = format!("{method} {} → {}", p.url, p.status);
    let csp = p
        .header("content-security-policy")
        .unwrap_or_else(|| panic!("{what}: no CSP; {:?}", p.headers));
    assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
    assert!(!csp.contains("unsafe-inline"), "{what}: {csp}");
    assert_eq!(
        p.header("x-content-type-options"),
        Some("nosniff"),
        "{what}"
    );
    assert!(
        p.header("referrer-policy").is_some_and(|v| !v.is_empty()),
        "{what}: no Referrer-Policy"
    );
    let html = p
        .header("content-type")
        .is_some_and(|c| c.starts_with("text/html"));
    if !html {
        return 0;
    }
    let mut n = 0;
    for (tag, directive) in [("script", "script-src"), ("style", "style-src")] {
        let allowed = hashes_in(csp, directive);
        for text in blocks(&p.body, tag) {
            let h = format!(
                "'sha256-{}'",
                STANDARD.encode(openssl::sha::sha256(text.as_bytes()))
            );
            assert!(
                allowed.contains(&h),
                "{what}: inline <{tag}> {h} not in {directive} {allowed:?}"
            );
            n += 1;
        }
    }
    n
}

async fn hub() -> Hub {
    Hub::start_with(Setup {
        extra: Box::new(|dir| {
            let secret = dir.join("ha.secret");
            std::fs::write(&secret, HOOK_SECRET).unwrap();
            format!(
                "[[ha]]\nid = \"home\"\nexternal_url = \"http://127.0.0.1:9\"\nhook_secret_file = \"{}\"\n\
admin_groups = [\"ha-admins\"]\nuser_groups = [\"users\"]\n",
                secret.display()
            )
        }),
        ..Setup::default()
    })
    .await
}

/// Every mounted route with no parameters at all.
async fn bare(b: &mut Browser, routes: &BTreeSet<(String, String)>) {
    for (method, path) in routes {
        match method.as_str() {
            "GET" => b.get(path).await,
            "HEAD" => b.request("HEAD", path).await,
            _ => b.post_form::<&str, &str>(path, &[]).await,
        };
    }
}

#[actix_web::test]
async fn every_answer_carries_the_security_headers() {
    let routes = mounted();
    let hub = hub().await;

    // Without a session, bare and with unusable input.
    let mut anon = hub.browser();
    bare(&mut anon, &routes).await;
    anon.get("/no/such/page").await;
    anon.post_form("/no/such/page", &[("a", "b")]).await;
    anon.request("DELETE", "/session").await;
    anon.get("/ha?instance=nowhere").await;
    anon.get("/ha?instance=home").await;
    anon.get("/ha/login?instance=home").await;
    anon.get("/saml/login?idp=nowhere").await;
    anon.get("/saml/login?idp=a&idp=b").await; // a repeated query field
    anon.get("/oidc/authorize?client_id=nobody").await;
    anon.get("/setup?token=wrong").await;
    anon.post_form(
        "/saml/acs",
        &[("SAMLResponse", "bm90IHhtbA=="), ("RelayState", "x")],
    )
    .await;
    // Malformed forms: a repeated field, the wrong type, too large.
    anon.post_raw(
        "/saml/acs",
        "application/x-www-form-urlencoded",
        b"SAMLResponse=a&SAMLResponse=b".to_vec(),
        &[],
    )
    .await;
    anon.post_raw("/saml/acs", "application/json", b"{}".to_vec(), &[])
        .await;
    for path in ["/saml/acs", "/oidc/token"] {
        let big = vec![b'a'; 512 * 1024];
        anon.post_raw(path, "application/x-www-form-urlencoded", big, &[])
            .await;
    }
    anon.post_raw("/ha/redeem", "application/json", b"not json".to_vec(), &[])
        .await;
    anon.get_with_headers("/oidc/userinfo", &[("Authorization", "Bearer nope")])
        .await;

    // With a session: the sign-in itself, then every page with good input.
    let mut b = hub.signed_in_browser().await;
    bare(&mut b, &routes).await; // /logout signs out
    let mut b = hub.signed_in_browser().await;
    b.get("/").await;
    b.get("/session").await;
    b.get("/session?format=json").await;
    let page = b.get("/ha?instance=home").await;
    assert_eq!(page.status, 200, "{}", page.head());
    // One-click sign-in: HA is unreachable, so the code page with a notice.
    let one = b.get("/ha/login?instance=home").await;
    assert_eq!(one.status, 200, "{}", one.head());
    let code = {
        let at = one.body.find("id=\"c\"").unwrap();
        let rest = &one.body[at..];
        let from = rest.find('>').unwrap() + 1;
        rest[from..from + rest[from..].find('<').unwrap()].to_owned()
    };
    for (secret, c) in [
        (HOOK_SECRET, code.as_str()),
        ("wrong", "x"),
        (HOOK_SECRET, code.as_str()),
    ] {
        let body = serde_json::json!({"instance": "home", "username": "alice", "code": c});
        b.post_raw(
            "/ha/redeem",
            "application/json",
            body.to_string().into_bytes(),
            &[("Authorization", &format!("Bearer {secret}"))],
        )
        .await;
    }
    let pkce = Pkce::new();
    let (code, _) = hub.code(&mut b, CONF, Some(&pkce), &[]).await;
    let t = hub.exchange(CONF, &code, Some(&pkce.verifier)).await;
    t.assert_tokens();
    hub.exchange(CONF, &code, Some(&pkce.verifier)).await;
    let at = t.str("access_token");
    hub.userinfo(&at).await;
    b.post_form("/oidc/userinfo", &[("access_token", at.as_str())])
        .await;
    b.post_form(
        "/oidc/authorize",
        &[
            ("response_type", "code"),
            ("client_id", CONF),
            ("redirect_uri", "https://app.example/cb"),
            ("scope", "openid"),
            ("code_challenge", pkce.challenge.as_str()),
            ("code_challenge_method", "S256"),
        ],
    )
    .await;
    hub.token(
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", t.str("refresh_token").as_str()),
        ],
        Some((CONF, CONF_SECRET)),
    )
    .await;
    let q = form(&[
        ("id_token_hint", t.str("id_token").as_str()),
        ("post_logout_redirect_uri", CONF_LOGOUT),
    ]);
    b.get(&format!("/oidc/end_session?{q}")).await;
    let mut c = hub.signed_in_browser().await;
    c.post_form("/oidc/end_session", &[("client_id", CONF)])
        .await;
    c.post_form::<&str, &str>("/logout", &[]).await;
    // A login whose IdP POST arrives without the login cookie: the
    // continue page (with its inline script), then the same-site hop.
    let mut starter = hub.browser();
    let (relay, id) = hub.begin_login(&mut starter, "test").await;
    let mut idp_post = hub.browser();
    let page = hub
        .answer(&mut idp_post, hub.idp_by_id("test"), &id, &relay, |_| {})
        .await;
    assert_eq!(page.status, 200, "{}", page.head());
    let form = crate::peers::browser::hidden_inputs(&page.body);
    let done = starter.post_form("/saml/continue", &form).await;
    assert_eq!(done.status, 303, "{}", done.head());

    // Every answer of the hub, checked.
    let seen = hub.seen();
    let mut inline = 0;
    let mut kinds = BTreeSet::new();
    for (method, p) in &seen {
        inline += check(method, p);
        let json = p
            .header("content-type")
            .is_some_and(|c| c.starts_with("application/json"));
        let html = p
            .header("content-type")
            .is_some_and(|c| c.starts_with("text/html"));
        kinds.insert((p.status / 100, json, html));
    }
    for want in [
        (2, false, true),
        (4, false, true),
        (2, true, false),
        (4, true, false),
        (3, false, false),
    ] {
        assert!(
            kinds.contains(&want),
            "no answer of kind {want:?}: {kinds:?}"
        );
    }
    assert!(
        seen.iter().any(|(_, p)| p.body.contains("<script>")),
        "no page with an inline script was checked"
    );
    assert!(
        inline > seen.len() / 4,
        "few inline blocks checked: {inline}"
    );

    // And every mounted route was among them.
    let walked: BTreeSet<(String, String)> = seen
        .iter()
        .map(|(m, p)| {
            let u = url::Url::parse(&p.url).unwrap();
            (m.clone(), u.path().to_owned())
        })
        .collect();
    let missing: Vec<_> = routes.difference(&walked).collect();
    assert!(missing.is_empty(), "routes not walked: {missing:?}");
}
