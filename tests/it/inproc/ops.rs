//! Operations in-process: `HEAD` on every GET route answers as `GET` does;
//! `/metrics` (with `metrics = true`) counts logins and tokens by client and
//! grant; `/readyz` turns 503 once an IdP's metadata passes its
//! `validUntil`, stepping the clock.

use super::routes::mounted;
use super::{Hub, Setup};
use crate::oidc_rig::{Pkce, CONF};
use samlhub::clock::{Clock, SystemClock};
use time::format_description::well_known::Rfc3339;

#[actix_web::test]
async fn head_is_answered_wherever_get_is() {
    let hub = Hub::start().await;
    let mut b = hub.signed_in_browser().await;
    let mut ok = 0;
    for (method, path) in mounted() {
        if method != "GET" {
            continue;
        }
        let get = b.get(&path).await;
        let head = b.request("HEAD", &path).await;
        assert_eq!(head.status, get.status, "HEAD {path}");
        assert_eq!(
            head.header("content-type"),
            get.header("content-type"),
            "HEAD {path}"
        );
        assert!(head.header("x-request-id").is_some(), "HEAD {path}");
        ok += usize::from(head.status == 200);
    }
    assert!(ok >= 5, "few HEADs answered 200: {ok}");
    // Not where nothing is served.
    assert_eq!(b.request("HEAD", "/no/such/page").await.status, 404);
}

fn metric(text: &str, series: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0, |v| v.parse().unwrap())
}

#[actix_web::test]
async fn metrics_count_tokens_and_readyz_sees_expired_metadata() {
    // The metadata is valid for one more hour.
    let until = (SystemClock.now() + time::Duration::hours(1))
        .format(&Rfc3339)
        .unwrap();
    let hub = Hub::start_with(Setup {
        extra: Box::new(|_| "metrics = true\n".into()),
        metadata: Box::new(move |m| {
            m.replacen(
                "<md:EntityDescriptor ",
                &format!("<md:EntityDescriptor validUntil=\"{until}\" "),
                1,
            )
        }),
        ..Setup::default()
    })
    .await;
    let mut anon = hub.browser();
    let ready = anon.get("/readyz").await;
    assert_eq!(ready.status, 200, "{}", ready.body);

    let series =
        |grant: &str| format!("samlhub_oidc_tokens_total{{client=\"{CONF}\",grant=\"{grant}\"}}");
    let before = anon.get("/metrics").await;
    assert_eq!(before.status, 200);
    assert_eq!(metric(&before.body, &series("authorization_code")), 0);

    let mut b = hub.signed_in_browser().await;
    let pkce = Pkce::new();
    let (code, _) = hub.code(&mut b, CONF, Some(&pkce), &[]).await;
    let t = hub.exchange(CONF, &code, Some(&pkce.verifier)).await;
    t.assert_tokens();
    hub.refresh(CONF, &t.str("refresh_token"))
        .await
        .assert_tokens();
    // A reused code is refused: a failure, not a token.
    hub.exchange(CONF, &code, Some(&pkce.verifier)).await;

    let after = anon.get("/metrics").await.body;
    assert_eq!(metric(&after, &series("authorization_code")), 1, "{after}");
    assert_eq!(metric(&after, &series("refresh_token")), 1, "{after}");
    assert_eq!(
        metric(
            &after,
            "samlhub_logins_total{idp=\"test\",result=\"success\"}"
        ),
        1
    );
    assert_eq!(
        metric(&after, "samlhub_failures_total{reason=\"invalid_grant\"}"),
        1,
        "{after}"
    );

    // Two hours on, the metadata is past its validUntil.
    hub.advance(2 * 3600);
    let late = anon.get("/readyz").await;
    assert_eq!(late.status, 503, "{}", late.body);
    let body: serde_json::Value = serde_json::from_str(&late.body).unwrap();
    assert_eq!(body["idps"]["test"], "metadata_expired");
    assert_eq!(body["store"], "ok");

    // The metadata's age counts from when this copy was loaded; a new copy
    // (as a refresh or a reload puts in) starts it over.
    let age = "samlhub_idp_metadata_age_seconds{idp=\"test\"}";
    assert_eq!(metric(&anon.get("/metrics").await.body, age), 2 * 3600);
    hub.advance(60);
    let current = hub.state.idp("test").unwrap();
    let loaded = hub.now().unix_timestamp() - 60;
    assert!(hub.state.idps.replace(&current, (*current).clone(), loaded));
    assert_eq!(metric(&anon.get("/metrics").await.body, age), 60);
}
