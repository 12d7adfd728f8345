//! The IdP chooser and the hints that skip it, in-process with two IdPs:
//! `/saml/login` without `idp=` shows the chooser (keeping `return_to`),
//! the last choice is remembered in a cookie and listed first, and
//! `idp_hint`, `login_hint=<email>` and `domain_hint` pick an IdP within the
//! client's `idps`; anything unknown falls back to the chooser.

use super::{location_param, Browser, Hub, Setup};
use crate::oidc_rig::{clients_toml, code_params, CONF, CONF_SECRET, IDP, SECOND_IDP};
use crate::peers::browser::Page;

/// A client that may use only the first IdP.
const SCOPED: &str = "scoped";

/// Two IdPs: `test` for test.example, `second` for example.org.
async fn hub() -> Hub {
    Hub::start_with(Setup {
        two_idps: true,
        oidc: false,
        slo: false,
        redis: None,
        extra: Box::new(|_| {
            format!(
                "{}\n[[oidc.client]]\nclient_id = \"{SCOPED}\"\nclient_secret_hash = \"{}\"\n\
redirect_uris = [\"https://scoped.example/cb\"]\nidps = [\"{IDP}\"]\n",
                clients_toml(),
                samlhub::config::oidc::secret_hash(CONF_SECRET)
            )
        }),
        idp_toml: Box::new(|id| {
            if id == SECOND_IDP {
                "domains = [\"example.org\"]\n".into()
            } else {
                "domains = [\"test.example\"]\n".into()
            }
        }),
        metadata: Box::new(|m| m),
    })
    .await
}

/// Where the chooser page `p` lists each IdP: (position of `test`, of `second`).
fn order(p: &Page) -> (usize, usize) {
    assert_eq!(p.status, 200, "{}", p.head());
    let at = |id: &str| {
        p.body
            .find(&format!("/saml/login?idp={id}&amp;"))
            .or_else(|| p.body.find(&format!("/saml/login?idp={id}\"")))
            .unwrap_or_else(|| panic!("{id} not offered: {}", p.head()))
    };
    (at(IDP), at(SECOND_IDP))
}

/// `p` starts a login at the IdP whose SSO endpoint is `sso`.
fn assert_sent_to(p: &Page, sso: &str) {
    assert_eq!(p.status, 302, "{}", p.head());
    let to = p.location.as_deref().unwrap_or("");
    assert!(to.starts_with(sso), "{to}");
}

fn remembered(p: &Page) -> Option<String> {
    p.header_all("set-cookie")
        .into_iter()
        .find(|c| c.starts_with("samlhub_idp="))
        .map(str::to_owned)
}

#[actix_web::test]
async fn saml_login_without_idp_shows_the_chooser_and_remembers_the_choice() {
    let hub = hub().await;
    let mut b = hub.browser();
    let p = b.get("/saml/login?return_to=%2Fha%3Finstance%3Dhome").await;
    let (test, second) = order(&p);
    assert!(test < second, "configuration order first");
    assert!(
        p.body
            .contains("/saml/login?idp=second&amp;return_to=%2Fha%3Finstance%3Dhome"),
        "return_to kept: {}",
        p.head()
    );
    assert!(remembered(&p).is_none(), "showing is not choosing");
    let p = b.get("/saml/login?return_to=https://evil.example/").await;
    assert_eq!(p.status, 400, "{}", p.head());
    assert_eq!(p.header("x-samlhub-error"), Some("bad_return_to"));

    // Choosing `second` sends the browser there and remembers it.
    let p = b.get("/saml/login?idp=second&return_to=%2Fsession").await;
    assert_sent_to(&p, &hub.idps[1].1.sso_url);
    let cookie = remembered(&p).expect("the choice is remembered");
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(attr), "{attr}: {cookie}");
    }
    assert_eq!(b.cookie("samlhub_idp"), Some("second"));
    for path in ["/saml/login?return_to=%2Fsession", "/"] {
        let (test, second) = order(&b.get(path).await);
        assert!(second < test, "{path}: the last choice comes first");
    }
    // An unknown IdP is refused and does not replace the choice.
    let p = b.get("/saml/login?idp=nope").await;
    assert_eq!(p.status, 404, "{}", p.head());
    assert_eq!(b.cookie("samlhub_idp"), Some("second"));

    // A cookie naming no IdP, or too long, is ignored.
    for bad in ["nope".to_owned(), "second".repeat(20)] {
        let mut b = hub.browser();
        b.set_cookie("samlhub_idp", &bad);
        let (test, second) = order(&b.get("/saml/login").await);
        assert!(test < second, "{bad}");
    }
}

/// `/oidc/authorize` in a fresh browser: the IdP of the login it starts
/// (`None`: the chooser).
async fn login_idp(hub: &Hub, client: &str, extra: &[(&str, &str)]) -> Option<String> {
    let mut b: Browser = hub.browser();
    let mut params = code_params(CONF, None, extra);
    if client == SCOPED {
        params.retain(|(k, _)| !["client_id", "redirect_uri"].contains(k));
        params.extend([
            ("client_id", SCOPED),
            ("redirect_uri", "https://scoped.example/cb"),
        ]);
    }
    let p = b.get(&hub.authorize_url(&params)).await;
    assert_eq!(p.status, 302, "{extra:?}: {}", p.head());
    let loc = p.location.clone().unwrap();
    match location_param(&p, "idp") {
        Some(idp) => {
            assert!(loc.contains("/saml/login?"), "{loc}");
            Some(idp)
        }
        None => {
            assert!(
                loc.starts_with(&hub.url("/?return_to=")),
                "{extra:?}: {loc}"
            );
            None
        }
    }
}

#[actix_web::test]
async fn oidc_hints_skip_the_chooser_within_the_clients_idps() {
    let hub = hub().await;
    let second = Some(SECOND_IDP.to_owned());
    let first = Some(IDP.to_owned());
    assert_eq!(login_idp(&hub, CONF, &[]).await, None);
    assert_eq!(
        login_idp(&hub, CONF, &[("idp_hint", "second")]).await,
        second
    );
    assert_eq!(login_idp(&hub, CONF, &[("idp_hint", "nope")]).await, None);
    // Email domains.
    for extra in [
        ("login_hint", "bob@Example.ORG"),
        ("domain_hint", "example.org"),
    ] {
        assert_eq!(login_idp(&hub, CONF, &[extra]).await, second, "{extra:?}");
    }
    assert_eq!(
        login_idp(&hub, CONF, &[("domain_hint", "test.example")]).await,
        first
    );
    for unknown in [
        ("login_hint", "bob@elsewhere.example"),
        ("login_hint", "bob"),
        ("domain_hint", "elsewhere.example"),
        ("domain_hint", "not a domain"),
    ] {
        assert_eq!(login_idp(&hub, CONF, &[unknown]).await, None, "{unknown:?}");
    }
    // An explicit IdP hint wins over the domain.
    let both = [("idp_hint", IDP), ("login_hint", "bob@example.org")];
    assert_eq!(login_idp(&hub, CONF, &both).await, first);
    // A client limited to `test` never goes to `second`, whatever the hint.
    for extra in [("idp_hint", SECOND_IDP), ("login_hint", "bob@example.org")] {
        assert_eq!(login_idp(&hub, SCOPED, &[extra]).await, first, "{extra:?}");
    }
}

#[actix_web::test]
async fn domain_hint_at_saml_login_skips_the_chooser() {
    let hub = hub().await;
    let mut b = hub.browser();
    let p = b
        .get("/saml/login?domain_hint=EXAMPLE.org&return_to=%2Fsession")
        .await;
    assert_sent_to(&p, &hub.idps[1].1.sso_url);
    // An explicit idp= wins; an unknown domain shows the chooser.
    let p = b.get("/saml/login?idp=test&domain_hint=example.org").await;
    assert_sent_to(&p, &hub.idp.sso_url);
    let p = b.get("/saml/login?domain_hint=elsewhere.example").await;
    order(&p);
}
