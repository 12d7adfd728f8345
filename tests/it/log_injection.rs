//! Log injection: user-supplied values (an IdP id, a client id, a redirect
//! URI, an HA instance, a username) reach the hub's log only escaped, so
//! control characters cannot rewrite an operator's terminal or forge lines.

use crate::peers::browser::Browser;
use crate::peers::samlhub::{Samlhub, BIN};
use samlhub::testing::idp::TestIdp;

/// ESC, CSI clear-screen, colour, CR, BEL, NUL, a fake log line.
const NASTY: &str = "%1b%5b2J%1b%5b31mX%0dY%07%00%0a%5bERROR%5d%20forged";

#[test]
fn control_characters_in_user_input_are_logged_escaped() {
    let idp = TestIdp::new("logs");
    let mut hub = Samlhub::prepare(BIN);
    let md = hub.dir().join("idp.xml");
    std::fs::write(&md, idp.metadata_xml()).unwrap();
    let secret = hub.dir().join("ha.secret");
    std::fs::write(&secret, "log-secret-0123456789abcdefghijkl").unwrap();
    hub.write_config(&format!(
        "[[idp]]\nid = \"test\"\nmetadata_file = \"{}\"\n\
[[ha]]\nid = \"home\"\nexternal_url = \"http://127.0.0.1:9\"\nhook_secret_file = \"{}\"\nuser_groups = [\"users\"]\n\
[[oidc.client]]\nclient_id = \"app\"\npublic = true\nredirect_uris = [\"https://app.example/cb\"]\n",
        md.display(),
        secret.display()
    ));
    hub.start();
    let base = hub.base_url();
    let mut b = Browser::new();
    for path in [
        format!("/saml/login?idp={NASTY}"),
        format!("/saml/login?idp=test&return_to={NASTY}"),
        format!("/oidc/authorize?client_id={NASTY}&redirect_uri=x"),
        format!("/oidc/authorize?client_id=app&redirect_uri={NASTY}"),
        format!("/ha?instance={NASTY}"),
    ] {
        let p = b.get(&format!("{base}{path}"));
        assert!(p.status >= 400, "{path}: {}", p.head());
    }
    let raw = "\u{1b}[2J\u{1b}[31mX\rY\u{7}\u{0}\n[ERROR] forged";
    let r = ureq::Agent::new_with_defaults()
        .post(&format!("{base}/ha/redeem"))
        .header("Authorization", "Bearer log-secret-0123456789abcdefghijkl")
        .header("Content-Type", "application/json")
        .config()
        .http_status_as_error(false)
        .build()
        .send(serde_json::json!({"instance": "home", "username": raw, "code": raw}).to_string())
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let r = ureq::Agent::new_with_defaults()
        .post(&format!("{base}/ha/redeem"))
        .header("Authorization", "Bearer wrong")
        .config()
        .http_status_as_error(false)
        .build()
        .send(serde_json::json!({"instance": raw, "username": "u", "code": "c"}).to_string())
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);

    let log = hub.log();
    for (what, c) in [
        ("ESC", '\u{1b}'),
        ("CR", '\r'),
        ("BEL", '\u{7}'),
        ("NUL", '\u{0}'),
    ] {
        assert!(!log.contains(c), "raw {what} in the log:\n{log:?}");
    }
    assert!(
        !log.lines().any(|l| l.starts_with("[ERROR] forged")),
        "a forged line:\n{log}"
    );
    assert!(log.contains("\\x1b[2J"), "escaped form missing:\n{log}");
    assert!(
        log.contains("\\n[ERROR] forged"),
        "escaped newline missing:\n{log}"
    );
}
