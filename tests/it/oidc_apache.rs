//! A real relying party end to end: Apache httpd with mod_auth_openidc
//! (Debian) protects a page; a scripted browser asks for it, goes to the
//! hub, on to SimpleSAMLphp to log in as alice, back to the hub, back to
//! Apache, and the page shows the claims the module received. The module is
//! configured for PKCE S256, client_secret_basic and RS256.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use crate::oidc_rig::expected_sub;
use crate::peers::apache_oidc::{ApacheOidc, RpSettings};
use crate::peers::browser::Browser;
use crate::peers::samlhub::{Samlhub, BIN};
use crate::peers::simplesamlphp::{SimpleSamlPhp, SspSp};
use samlhub::config::oidc::secret_hash;

const CLIENT: &str = "apache";
const SECRET: &str = "apache-rp-secret-6d1f0c2b9a8e7d6c";

/// `NAME=value` lines of the claims page.
fn value<'a>(page: &'a str, name: &str) -> Option<&'a str> {
    page.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix('=')))
}

#[test]
fn apache_mod_auth_openidc_logs_alice_in_through_simplesamlphp() {
    let mut hub = Samlhub::prepare(BIN);
    let mut sp = SspSp::new(&hub.entity_id(), &hub.acs_url());
    sp.sp_cert_b64 = Some(hub.sp_key().cert_b64.clone());
    let ssp = SimpleSamlPhp::start(&[sp]);
    let mut apache = ApacheOidc::prepare();
    hub.write_config(&format!(
        "[[idp]]\nid = \"ssp\"\ndisplay_name = \"Test IdP\"\nmetadata_url = \"{}\"\nallow_insecure_metadata_url = true\nprofile = \"generic\"\n\n\
[oidc]\nid_token_alg = \"RS256\"\n\n\
[[oidc.client]]\nclient_id = \"{CLIENT}\"\nclient_secret_hash = \"{}\"\nredirect_uris = [\"{}\"]\n",
        ssp.metadata_url(),
        secret_hash(SECRET),
        apache.redirect_uri()
    ));
    hub.start();
    apache.start(&RpSettings {
        issuer: hub.base_url(),
        client_id: CLIENT.into(),
        client_secret: SECRET.into(),
        scope: "openid email profile groups".into(),
    });
    let logs =
        |apache: &ApacheOidc| format!("--- hub\n{}\n--- apache\n{}", hub.log(), apache.log());

    let mut b = Browser::new();
    // Apache sends the browser to the hub's authorization endpoint.
    let first = b.get(&apache.claims_url());
    assert_eq!(first.status, 302, "{}\n{}", first.head(), logs(&apache));
    let to_hub = first.location.clone().unwrap();
    assert!(
        to_hub.starts_with(&format!("{}/oidc/authorize?", hub.base_url())),
        "{to_hub}"
    );
    // The request as mod_auth_openidc built it: PKCE S256, the code flow.
    let q = |k: &str| crate::peers::browser::query_param(&to_hub, k);
    assert_eq!(q("code_challenge_method").as_deref(), Some("S256"));
    assert!(q("code_challenge").is_some());
    assert_eq!(q("response_type").as_deref(), Some("code"));
    assert_eq!(q("client_id").as_deref(), Some(CLIENT));

    // The hub parks the request and sends the browser to SimpleSAMLphp.
    let at_hub = b.get(&to_hub);
    assert_eq!(at_hub.status, 302, "{}\n{}", at_hub.head(), logs(&apache));
    let post = b.ssp_login(at_hub, "alice", "alicepass");
    assert_eq!(post.action, hub.acs_url());
    let acs = b.post_form(&post.action, &post.form());
    assert_eq!(acs.status, 303, "{}\n{}", acs.head(), logs(&apache));
    // Back at the hub's authorization endpoint, then to Apache with a code.
    let resumed = b.get(acs.location.as_deref().unwrap());
    assert_eq!(resumed.status, 302, "{}\n{}", resumed.head(), logs(&apache));
    let back = resumed.location.clone().unwrap();
    assert!(back.starts_with(&apache.redirect_uri()), "{back}");
    // Apache redeems the code (client_secret_basic + code_verifier),
    // verifies the RS256 id_token with the JWKS, and returns to the page.
    let landed = b.get(&back);
    let page = b.follow(landed);
    assert_eq!(page.status, 200, "{}\n{}", page.head(), logs(&apache));
    assert_eq!(page.url, apache.claims_url());

    let body = &page.body;
    let sub = expected_sub("ssp", "alice");
    assert_eq!(value(body, "REMOTE_USER"), Some(sub.as_str()), "{body}");
    assert_eq!(value(body, "OIDC_CLAIM_sub"), Some(sub.as_str()), "{body}");
    assert_eq!(
        value(body, "OIDC_CLAIM_email"),
        Some("alice@example.org"),
        "{body}"
    );
    assert_eq!(
        value(body, "OIDC_CLAIM_name"),
        Some("Alice Example"),
        "{body}"
    );
    assert_eq!(
        value(body, "OIDC_CLAIM_groups"),
        Some("ha-admins,users"),
        "{body}"
    );
    assert_eq!(
        value(body, "OIDC_CLAIM_iss"),
        Some(hub.base_url().as_str()),
        "{body}"
    );

    // The module's session now serves the page without another login.
    let again = b.get(&apache.claims_url());
    assert_eq!(again.status, 200, "{}", again.head());
    assert_eq!(
        value(&again.body, "OIDC_CLAIM_email"),
        Some("alice@example.org")
    );

    // The module's own record of its token request: PKCE verifier in the
    // form, the secret in a Basic header (masked in its log), not the form.
    let token_call = format!("url={}/oidc/token, data=", hub.base_url());
    let log = apache.error_log();
    let call = log
        .lines()
        .find(|l| l.contains(&token_call))
        .unwrap_or_else(|| panic!("no token request in the module's log:\n{}", apache.log()));
    assert!(call.contains("grant_type=authorization_code"), "{call}");
    assert!(call.contains("&code_verifier="), "{call}");
    assert!(!call.contains("client_secret="), "{call}");
    assert!(
        call.contains("basic_auth=") && !call.contains("basic_auth=(null)"),
        "{call}"
    );
    let hub_log = hub.log();
    assert!(
        hub_log.contains("oidc: tokens issued client=apache"),
        "{hub_log}"
    );
}
