//! Operations, through the samlhub process: `/readyz` follows a real
//! redis-server going away and coming back; a refused login, a login and a
//! logout leave audit lines (JSON log format) and move the counters of the
//! separate metrics listener; `HEAD` is answered wherever `GET` is.

use crate::peers::browser::{Browser, Page};
use crate::peers::redis::RedisServer;
use crate::peers::samlhub::{Samlhub, BIN};
use crate::peers::{free_port, wait_for_http};
use samlhub::testing::idp::{sign_in, TestIdp};
use std::time::Duration;

fn idp_toml(hub: &Samlhub, idp: &TestIdp) -> String {
    let md = hub.dir().join("idp.xml");
    std::fs::write(&md, idp.metadata_xml()).unwrap();
    format!(
        "[[idp]]\nid = \"test\"\nmetadata_file = \"{}\"\n",
        md.display()
    )
}

fn ready(b: &mut Browser, hub: &Samlhub) -> (u16, serde_json::Value) {
    let p = b.get(&format!("{}/readyz", hub.base_url()));
    (p.status, serde_json::from_str(&p.body).unwrap())
}

#[test]
fn readyz_follows_the_store() {
    let mut redis = RedisServer::start();
    let idp = TestIdp::new("ready");
    let mut hub = Samlhub::prepare(BIN);
    let conf = format!("store = \"{}\"\n{}", redis.url(), idp_toml(&hub, &idp));
    hub.write_config(&conf);
    hub.start();
    let mut b = Browser::new();
    let (status, body) = ready(&mut b, &hub);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["store"], "ok");
    assert_eq!(body["idps"]["test"], "ok");

    redis.stop();
    let (status, body) = ready(&mut b, &hub);
    assert_eq!(status, 503, "{body}");
    assert_ne!(body["store"], "ok");
    assert_eq!(body["ready"], false);
    // Alive all the same.
    assert_eq!(b.get(&format!("{}/healthz", hub.base_url())).status, 200);

    redis.restart();
    // The hub reconnects on its own; wait (bounded) until it says so.
    wait_for_http(
        &format!("{}/readyz", hub.base_url()),
        Duration::from_secs(20),
    )
    .unwrap_or_else(|e| panic!("never ready again: {e}\n{}", hub.log()));
    let (status, body) = ready(&mut b, &hub);
    assert_eq!(status, 200, "{body}");
}

fn metric(text: &str, series: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0, |v| v.parse().unwrap())
}

fn head(url: &str) -> (u16, Option<String>) {
    let r = ureq::Agent::new_with_defaults()
        .head(url)
        .config()
        .http_status_as_error(false)
        .build()
        .call()
        .unwrap();
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    (r.status().as_u16(), ct)
}

#[test]
fn audit_lines_metrics_and_head() {
    let idp = TestIdp::new("ops");
    let mut hub = Samlhub::prepare(BIN);
    let mport = free_port();
    let conf = format!(
        "log_format = \"json\"\nmetrics_listen = \"127.0.0.1:{mport}\"\n{}",
        idp_toml(&hub, &idp)
    );
    hub.write_config(&conf);
    hub.start();
    let base = hub.base_url();
    let murl = format!("http://127.0.0.1:{mport}/metrics");
    let mut b = Browser::new();
    let before = b.get(&murl);
    assert_eq!(before.status, 200, "{}", before.head());
    let ok = "samlhub_logins_total{idp=\"test\",result=\"success\"}";
    let refused = "samlhub_logins_total{idp=\"unknown\",result=\"audience\"}";
    assert_eq!(metric(&before.body, ok), 0);
    // Not on the main listener unless `metrics = true`.
    assert_eq!(b.get(&format!("{base}/metrics")).status, 404);

    // A login refused (made for another audience), a login, a logout.
    let again: Page = sign_in(&hub, &idp, "test", &mut b, |s| {
        s.audiences = vec!["https://elsewhere.example/".into()];
    });
    assert_eq!(again.status, 403, "{}", again.head());
    let done = sign_in(&hub, &idp, "test", &mut b, |_| {});
    assert_eq!(done.status, 303, "{}", done.head());
    let refused_id = again.header("x-request-id").unwrap().to_owned();
    assert_eq!(
        again.header("x-samlhub-reference"),
        Some(refused_id.as_str())
    );
    // Refused while signed in: the refusal names the person of the session.
    let denied = b.get(&format!(
        "{base}/oidc/authorize?client_id=nobody&response_type=code&redirect_uri=https%3A%2F%2Fapp.example%2Fcb"
    ));
    assert!(denied.status >= 400, "{}", denied.head());
    let denied_id = denied.header("x-request-id").unwrap().to_owned();
    let out = b.post_form::<&str, &str>(&format!("{base}/logout"), &[]);
    assert_eq!(out.status, 303, "{}", out.head());

    let after = b.get(&murl).body;
    assert_eq!(metric(&after, ok), 1, "{after}");
    assert_eq!(metric(&after, refused), 1, "{after}");
    assert_eq!(
        metric(&after, "samlhub_failures_total{reason=\"audience\"}"),
        1
    );
    assert!(metric(&after, "samlhub_store_latency_seconds_count") > 0);
    assert!(after.contains("samlhub_idp_cert_days_to_expiry{idp=\"test\"} "));

    // HEAD wherever GET is; still 404 where nothing is.
    for path in ["/healthz", "/readyz", "/saml/metadata", "/oidc/jwks", "/"] {
        let get = b.get(&format!("{base}{path}"));
        let (status, ct) = head(&format!("{base}{path}"));
        assert_eq!(status, get.status, "HEAD {path}");
        assert_eq!(ct.as_deref(), get.header("content-type"), "HEAD {path}");
    }
    assert_eq!(head(&format!("{base}/no/such/page")).0, 404);
    assert_eq!(head(&murl).0, 200);

    // Every log line is JSON with a timestamp; the audit lines name the
    // IdP, the person and the reason, and never the answer itself.
    let log = hub.log();
    // Base64 of "<samlp:Response" and of "<?xml version": no response reached the log.
    assert!(!log.contains("PHNhbWxwOlJlc3BvbnNl") && !log.contains("PD94bWwgdmVyc2lvb"));
    let lines: Vec<serde_json::Value> = log
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(lines
        .iter()
        .all(|l| l["ts"].as_str().is_some_and(|t| t.ends_with('Z'))));
    let audit = |event: &str| -> Vec<&serde_json::Value> {
        lines
            .iter()
            .filter(|l| l["target"] == "audit" && l["event"] == event)
            .collect()
    };
    let login = audit("login");
    assert_eq!(login.len(), 1, "{log}");
    assert_eq!(login[0]["idp"], "test");
    assert_eq!(login[0]["user"], "alice"); // the username attribute
    assert!(login[0]["request_id"]
        .as_str()
        .is_some_and(|r| r.len() == 12));
    let refusal = audit("refusal");
    let r = refusal
        .iter()
        .find(|l| l["request_id"] == refused_id.as_str())
        .unwrap_or_else(|| panic!("no refusal for {refused_id}: {log}"));
    assert_eq!(r["reason"], "audience");
    // The IdP comes from the pending login the RelayState named; the
    // refused assertion names nobody.
    assert_eq!(r["idp"], "test", "{r}");
    assert_eq!(r["user"], "-", "{r}");
    let r = refusal
        .iter()
        .find(|l| l["request_id"] == denied_id.as_str())
        .unwrap_or_else(|| panic!("no refusal for {denied_id}: {log}"));
    assert_eq!(
        (&r["idp"], &r["user"]),
        (&"test".into(), &"alice".into()),
        "{r}"
    );
    let logout = audit("logout");
    assert_eq!(logout.len(), 1, "{log}");
    assert_eq!(logout[0]["user"], "alice");
    assert!(audit("token").is_empty());
}
