//! Single Logout against a real IdP, both directions, with one
//! SimpleSAMLphp process: the SP-initiated round trip (our signed
//! LogoutRequest, SSP's signed LogoutResponse) and SSP's IdP-initiated
//! logout (its signed LogoutRequest, our signed LogoutResponse). Each ends
//! the hub session and the OIDC grant issued in it, leaves another person's
//! session alone, and a replayed message is refused.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use crate::oidc_rig::{as_client, basic_auth, clients_toml, code_params, exchange_form};
use crate::oidc_rig::{refresh_form, Reply, CONF, CONF_REDIRECT};
use crate::peers::browser::{query_param, Browser, Page};
use crate::peers::samlhub::{Samlhub, BIN};
use crate::peers::simplesamlphp::{SimpleSamlPhp, SspSp};

fn setup() -> (SimpleSamlPhp, Samlhub) {
    let mut hub = Samlhub::prepare(BIN);
    let mut sp = SspSp::new(&hub.entity_id(), &hub.acs_url());
    sp.sp_cert_b64 = Some(hub.sp_key().cert_b64.clone());
    sp.validate_authnrequest = true;
    sp.slo_url = Some(format!("{}/saml/slo", hub.base_url()));
    let ssp = SimpleSamlPhp::start(&[sp]);
    hub.write_config(&format!(
        "[[idp]]\nid = \"ssp\"\ndisplay_name = \"Test IdP\"\nmetadata_url = \"{}\"\nallow_insecure_metadata_url = true\nprofile = \"generic\"\n\n{}",
        ssp.metadata_url(),
        clients_toml()
    ));
    hub.start();
    (ssp, hub)
}

/// The code flow for client `conf` as `user` through SSP; the token reply.
fn sign_in_with_tokens(b: &mut Browser, hub: &Samlhub, user: &str) -> Reply {
    let params = code_params(CONF, None, &[]);
    let q = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    let mut page = b.get(&format!("{}/oidc/authorize?{q}", hub.base_url()));
    for _ in 0..10 {
        let loc = page.location.clone().unwrap_or_else(|| {
            panic!("flow stopped: {}\n{}", page.head(), hub.log());
        });
        if loc.starts_with(CONF_REDIRECT) {
            let code = query_param(&loc, "code").expect("code");
            let (form, basic) = as_client(CONF, exchange_form(CONF, &code, None));
            return token(hub, &form, basic);
        }
        if loc.starts_with(&hub.base_url()) {
            page = b.get(&loc);
            continue;
        }
        let post = b.ssp_login(page, user, &format!("{user}pass"));
        page = b.post_form(&post.action, &post.form());
        assert_eq!(page.status, 303, "ACS: {}\n{}", page.head(), hub.log());
    }
    panic!("no code after 10 hops");
}

fn token(hub: &Samlhub, form: &[(&str, &str)], basic: Option<(&str, &str)>) -> Reply {
    let auth = basic.map(|(id, secret)| basic_auth(id, secret));
    let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("Authorization", a.as_str())).collect();
    Reply::from(Browser::new().post_form_with_headers(
        &format!("{}/oidc/token", hub.base_url()),
        form,
        &headers,
    ))
}

fn refresh_status(hub: &Samlhub, rt: &str) -> (u16, Option<String>) {
    let (form, basic) = as_client(CONF, refresh_form(rt));
    let r = token(hub, &form, basic);
    (r.status(), r.error().map(str::to_owned))
}

fn session_status(b: &mut Browser, hub: &Samlhub) -> u16 {
    b.get(&format!("{}/session?format=json", hub.base_url()))
        .status
}

/// Follows redirects (at most 12 hops), keeping every URL visited.
fn walk(b: &mut Browser, mut page: Page) -> (Page, Vec<String>) {
    let mut seen = vec![page.url.clone()];
    for _ in 0..12 {
        let Some(next) = page.location.clone() else {
            break;
        };
        seen.push(next.clone());
        page = b.get(&next);
    }
    (page, seen)
}

fn assert_refused(page: &Page, code: &str, hub: &Samlhub) {
    assert!(
        (400..500).contains(&page.status) && page.header("x-samlhub-error") == Some(code),
        "expected refusal '{code}': {}\n{}",
        page.head(),
        hub.log()
    );
}

#[test]
fn slo_with_simplesamlphp_both_directions() {
    let (ssp, hub) = setup();
    let md = Browser::new().get(&format!("{}/saml/metadata", hub.base_url()));
    assert!(
        md.body.contains("SingleLogoutService") && md.body.contains("/saml/slo"),
        "{}",
        md.body
    );

    // Someone else, who must stay signed in throughout.
    let mut bob = Browser::new();
    let bob_rt = sign_in_with_tokens(&mut bob, &hub, "bob");
    bob_rt.assert_tokens();

    // --- SP-initiated: our LogoutRequest, SSP's LogoutResponse ---
    let mut b = Browser::new();
    let tokens = sign_in_with_tokens(&mut b, &hub, "alice");
    tokens.assert_tokens();
    let rt = tokens.str("refresh_token");
    assert_eq!(session_status(&mut b, &hub), 200);
    let start = b.get(&format!("{}/saml/logout", hub.base_url()));
    let to_idp = start.location.clone().unwrap_or_default();
    assert!(
        start.status == 302 && to_idp.starts_with(&ssp.slo_url()),
        "logout did not go to the IdP: {}\n{}",
        start.head(),
        hub.log()
    );
    assert!(query_param(&to_idp, "Signature").is_some(), "{to_idp}");
    let (end, seen) = walk(&mut b, start);
    assert!(
        end.status == 200
            && end
                .body
                .contains("signed out here and at the identity provider"),
        "{}\nhub:\n{}\nssp:\n{}",
        end.head(),
        hub.log(),
        ssp.log_tail()
    );
    let answer = seen
        .iter()
        .find(|u| u.contains("/saml/slo?") && u.contains("SAMLResponse="))
        .expect("SSP answered at /saml/slo")
        .clone();
    assert_eq!(session_status(&mut b, &hub), 401);
    // Single Logout ends the session before the cookie is cleared; its audit
    // line is still written, once.
    let log = hub.log();
    let logouts = log
        .lines()
        .filter(|l| l.contains(" audit ") && l.contains("event=logout"))
        .count();
    assert_eq!(logouts, 1, "{log}");
    let (status, err) = refresh_status(&hub, &rt);
    assert_eq!((status, err.as_deref()), (400, Some("invalid_grant")));
    // The LogoutResponse answered one request: a second time it is refused.
    assert_refused(&Browser::new().get(&answer), "in_response_to", &hub);

    // --- IdP-initiated: SSP's LogoutRequest, our LogoutResponse ---
    let mut b2 = Browser::new();
    let tokens = sign_in_with_tokens(&mut b2, &hub, "alice");
    tokens.assert_tokens();
    let rt2 = tokens.str("refresh_token");
    let mut u = url::Url::parse(&ssp.slo_url()).unwrap();
    u.query_pairs_mut()
        .append_pair("ReturnTo", &format!("{}/", hub.base_url()));
    let first = b2.get(u.as_str());
    let (end, seen) = walk(&mut b2, first);
    let request = seen
        .iter()
        .find(|u| u.contains("/saml/slo?") && u.contains("SAMLRequest="))
        .unwrap_or_else(|| {
            panic!(
                "SSP sent no LogoutRequest: {seen:?}\n{}\n{}",
                end.head(),
                ssp.log_tail()
            )
        })
        .clone();
    assert!(
        seen.iter()
            .any(|u| u.starts_with(&ssp.slo_url()) && u.contains("SAMLResponse=")),
        "our LogoutResponse did not go back to SSP: {seen:?}\n{}",
        hub.log()
    );
    assert!(
        hub.log().contains("ended 1 session(s) status=Success"),
        "{}",
        hub.log()
    );
    assert_eq!(session_status(&mut b2, &hub), 401);
    let (status, err) = refresh_status(&hub, &rt2);
    assert_eq!((status, err.as_deref()), (400, Some("invalid_grant")));
    // The same LogoutRequest again is a replay.
    assert_refused(&Browser::new().get(&request), "replay", &hub);

    // Bob's session and grant survived both logouts.
    assert_eq!(session_status(&mut bob, &hub), 200);
    let (status, _) = refresh_status(&hub, &bob_rt.str("refresh_token"));
    assert_eq!(status, 200, "{}", hub.log());
}
