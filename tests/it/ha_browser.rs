//! The Home Assistant login in a real browser, with the setup page and the
//! portal: headless Chromium (Debian's, through chromedriver) redeems the
//! first-start setup link, reads the `command_line` block that `/setup`
//! generates, and a real Home Assistant (2024.3.3, with its frontend) is
//! started from that block. Then: SimpleSAMLphp sign-in → the portal on `/`
//! → `/ha/login` → HA's own frontend shows the user, and a reload stays
//! signed in (`storeToken=true`). HA's `external_url` is configured as
//! `http://HA.Test:PORT/` and works only because it is reduced to its
//! origin; a second instance with a wrong `provider_id` names the setting.
//! One HA, one browser and one IdP serve every assertion. Screenshots go to
//! `target/test-artifacts/ha-browser/`.

use crate::peers::browser::Browser;
use crate::peers::chromium::Chromium;
use crate::peers::homeassistant::{HaProvider, HomeAssistant};
use crate::peers::samlhub::Samlhub;
use std::path::PathBuf;
use std::time::Duration;

const SECRET: &str = "5e0b7a4c19d24f83a6b2c0d9e8f71a35";
const WAIT: Duration = Duration::from_secs(30);

/// Every text node of the page, shadow roots included (HA's frontend is
/// made of web components, which WebDriver's element text does not enter).
const DEEP_TEXT: &str = "function t(n){var s='';if(n.shadowRoot){s+=t(n.shadowRoot);}\
for(var c=n.firstChild;c;c=c.nextSibling){if(c.nodeType===3){s+=c.textContent+' ';}\
else if(c.nodeType===1||c.nodeType===11){s+=t(c);}}return s;}return t(document.body);";

fn deep_text(c: &Chromium) -> String {
    c.execute_script(DEEP_TEXT, &[])
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn artifacts() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/test-artifacts/ha-browser");
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn shot(c: &Chromium, name: &str) {
    let p = artifacts().join(name);
    c.screenshot_png(&p);
    eprintln!("[ha_browser] screenshot {}", p.display());
}

/// The provider of a `command_line` block as `/setup` writes it (one
/// provider, scalars as JSON strings, `args` as a JSON list).
fn provider_from_yaml(yaml: &str) -> HaProvider {
    let field = |name: &str| {
        yaml.lines()
            .find_map(|l| l.trim().strip_prefix(&format!("{name}: ")))
            .unwrap_or_else(|| panic!("no {name} in\n{yaml}"))
            .to_owned()
    };
    let s = |v: String| -> String { serde_json::from_str(&v).unwrap() };
    let args: Vec<String> = serde_json::from_str(&field("args")).unwrap();
    HaProvider {
        id: s(field("id")),
        name: s(field("name")),
        command: s(field("command")),
        args,
    }
}

fn sign_in(b: &mut Browser, hub: &Samlhub, user: &str, pass: &str) {
    let start = b.get(&format!(
        "{}/saml/login?idp=ssp&return_to=/session",
        hub.base_url()
    ));
    let post = b.ssp_login(start, user, pass);
    let back = b.post_form(&post.action, &post.form());
    assert_eq!(back.status, 303, "{}\n{}", back.head(), hub.log());
}

#[test]
fn ha_login_in_a_real_browser_from_the_setup_page() {
    let Some(c) = Chromium::start() else { return };
    let (mut hub, ssp, secret) = crate::e2e_ha::hub_and_idp(SECRET);
    let port = crate::peers::free_port();
    let ha_public = format!("http://ha.test:{port}");
    hub.write_config(&format!(
        "admin_groups = [\"ha-admins\"]\n\
[[idp]]\nid = \"ssp\"\nmetadata_url = \"{md}\"\nallow_insecure_metadata_url = true\n\
[[ha]]\nid = \"home\"\nexternal_url = \"http://HA.Test:{port}/\"\ninternal_url = \"http://127.0.0.1:{port}\"\n\
hook_secret_file = \"{s}\"\nprovider_id = \"sso\"\nadmin_groups = [\"ha-admins\"]\nuser_groups = [\"users\"]\n\
[[ha]]\nid = \"typo\"\ndisplay_name = \"Typo HA\"\nexternal_url = \"{ha_public}\"\ninternal_url = \"http://127.0.0.1:{port}\"\n\
hook_secret_file = \"{s}\"\nprovider_id = \"nope\"\nadmin_groups = [\"ha-admins\"]\n\
[oidc]\n\
[[oidc.client]]\nclient_id = \"grafana\"\npublic = true\nredirect_uris = [\"http://127.0.0.1:9/cb\"]\n\
required_groups = [\"grafana-users\", \"ha-admins\"]\nhome_url = \"http://grafana.test:3000/\"\n\
[[oidc.client]]\nclient_id = \"hass\"\npublic = true\nredirect_uris = [\"{ha_public}/auth/oidc/callback\"]\n",
        md = ssp.metadata_url(),
        s = secret.display(),
    ));
    hub.start();
    let base = hub.base_url();

    // 1. Not an administrator yet: the error page.
    c.goto(&format!("{base}/setup"));
    assert!(
        c.body_text().contains("Setup is for administrators"),
        "{}",
        c.body_text()
    );
    shot(&c, "error-setup-refused.png");

    // 2. The banner's one-time link opens the setup page, once.
    let log = hub.log();
    let link = log
        .split_whitespace()
        .find(|w| w.contains("/setup?token="))
        .unwrap_or_else(|| panic!("no setup link in the banner:\n{log}"))
        .to_owned();
    c.goto(&link);
    c.wait_for_url(&format!("{base}/setup"), WAIT);
    assert!(!c.current_url().contains("token="), "{}", c.current_url());
    let text = c.body_text();
    assert!(text.contains("SP entityID"), "{text}");
    assert_eq!(c.text("#entity-id"), hub.entity_id());
    assert_eq!(c.text("#acs-url"), hub.acs_url());
    assert_eq!(c.text("#metadata-url"), format!("{base}/saml/metadata"));
    let discovery = c.text("#discovery-url");
    let mut plain = Browser::new();
    let d = plain.get(&discovery);
    assert_eq!(d.status, 200, "{}", d.head());
    let doc: serde_json::Value = serde_json::from_str(&d.body).unwrap();
    assert_eq!(doc["issuer"], base.as_str());
    assert!(c.text("#auth-oidc-hass").contains(&discovery));
    assert!(text.contains("Keycloak") && text.contains("Authentik") && text.contains("Entra"));
    shot(&c, "setup.png");
    let core = c.text("#ha-core-home");
    let container = c.text("#ha-container-home");
    assert!(container.contains("/usr/local/bin/python3"), "{container}");
    c.goto(&link);
    assert!(
        c.body_text().contains("Setup link not valid"),
        "{}",
        c.body_text()
    );

    // 3. HA configured from the page's own Core block.
    let provider = provider_from_yaml(&core);
    assert_eq!(provider.id, "sso");
    assert_eq!(
        provider.args,
        [
            "ha-verify",
            "--hub",
            base.as_str(),
            "--secret-file",
            &secret.display().to_string(),
            "--instance",
            "home"
        ]
    );
    let ha = HomeAssistant::start_on(port, &[provider]);

    // 4. Sign in; the portal shows who and where to go.
    c.goto(&format!("{base}/saml/login?idp=ssp&return_to=/"));
    assert!(
        c.wait_until(WAIT, |c| c.find("input[name=password]").is_some()),
        "{}",
        c.page_source()
    );
    c.fill("input[name=username]", "alice");
    c.fill("input[name=password]", "alicepass");
    c.submit("input[name=password]");
    assert!(
        c.wait_until(WAIT, |c| c.current_url() == format!("{base}/")
            && c.body_text().contains("Signed in as")),
        "{}\n{}",
        c.current_url(),
        hub.log()
    );
    let portal = c.body_text();
    for want in [
        "Alice Example",
        "Home Assistant",
        "Typo HA",
        "grafana",
        "Sign out",
        "Setup",
    ] {
        assert!(portal.contains(want), "portal lacks {want}: {portal}");
    }
    assert!(
        !portal.contains("hass"),
        "no tile without home_url: {portal}"
    );
    shot(&c, "portal.png");

    // 5. The code page.
    c.goto(&format!("{base}/ha?instance=home"));
    assert!(c.body_text().contains("Sign in to Home Assistant"));
    shot(&c, "ha-code.png");

    // 6. One click into HA's real frontend, then a reload stays signed in.
    c.goto(&format!("{base}/ha/login?instance=home"));
    assert!(
        c.wait_until(WAIT, |c| c.current_url().starts_with(&ha_public)
            && !c.current_url().contains("auth_callback")
            && deep_text(c).contains("Overview")),
        "{}\n{}\n{}",
        c.current_url(),
        deep_text(&c),
        ha.log_tail()
    );
    let stored = c.execute_script("return window.localStorage.getItem('hassTokens');", &[]);
    assert!(stored.as_str().is_some(), "HA kept no tokens: {stored}");
    shot(&c, "ha-dashboard.png");
    c.goto(&format!("{ha_public}/profile"));
    assert!(
        c.wait_until(WAIT, |c| deep_text(c).contains("Alice Example")),
        "after a reload: {}\n{}",
        c.current_url(),
        deep_text(&c)
    );
    assert!(
        !c.current_url().contains("/auth/authorize"),
        "{}",
        c.current_url()
    );
    shot(&c, "ha-profile-after-reload.png");

    // 7. A provider_id HA does not have is named, not "HTTP 500".
    c.goto(&format!("{base}/ha/login?instance=typo"));
    let typo = c.body_text();
    assert!(
        typo.contains("no command_line auth provider with id 'nope'"),
        "{typo}"
    );
    shot(&c, "ha-wrong-provider.png");

    // 8. required_groups: bob (users) gets samlhub's page with the reason,
    // alice (ha-admins, the second of the list) gets a code; bob may not
    // open /setup, alice may through admin_groups.
    let authorize = format!(
        "{base}/oidc/authorize?response_type=code&client_id=grafana&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb\
&scope=openid&state=s1&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256"
    );
    let mut bob = Browser::new();
    sign_in(&mut bob, &hub, "bob", "bobpass");
    let denied = bob.get(&authorize);
    assert_eq!(denied.status, 403, "{}", denied.head());
    assert_eq!(denied.header("x-samlhub-error"), Some("access_denied"));
    assert!(
        denied.body.contains("grafana-users, ha-admins"),
        "{}",
        denied.body
    );
    assert_eq!(bob.get(&format!("{base}/setup")).status, 403);
    let mut alice = Browser::new();
    sign_in(&mut alice, &hub, "alice", "alicepass");
    let ok = alice.get(&authorize);
    assert_eq!(ok.status, 302, "{}", ok.head());
    assert!(ok
        .location
        .as_deref()
        .unwrap()
        .starts_with("http://127.0.0.1:9/cb?code="));
    assert_eq!(alice.get(&format!("{base}/setup")).status, 200);
    assert!(!hub.log().contains(SECRET));
    // The banner is the only place the setup token ever appears.
    let token = link.rsplit("token=").next().unwrap();
    assert_eq!(hub.log().matches(token).count(), 1, "{}", hub.log());
}
