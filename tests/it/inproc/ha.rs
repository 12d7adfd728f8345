//! HA login policy in-process, with generated IdP responses: one username
//! per person (never merged), admin MFA (refuse or demote), and local_only,
//! read back from the token the hook would receive; and the code's lifetime,
//! by stepping the clock.

use super::{log_line, Browser, Hub, Setup};
use crate::oidc_rig::IDP;
use samlhub::ha::token::{verify, Claims, Group};
use samlhub::testing::idp::Attr;

const SECRET: &str = "policy-secret-0123456789abcdefgh";
const PPT: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport";
const MFA: &str = "https://refeds.org/profile/mfa";

/// Instances `home` (admins without MFA demoted), `strict` (refused) and
/// `quick` (codes live 2 s). Nothing listens at the HA URL.
async fn hub() -> Hub {
    Hub::start_with(Setup {
        oidc: false,
        extra: Box::new(|dir| {
            let secret = dir.join("ha.secret");
            std::fs::write(&secret, SECRET).unwrap();
            let ha = |id: &str, mfa: &str, more: &str| {
                format!(
                    "[[ha]]\nid = \"{id}\"\nexternal_url = \"http://127.0.0.1:9\"\nhook_secret_file = \"{}\"\n\
admin_groups = [\"ha-admins\"]\nuser_groups = [\"users\"]\nlocal_only_groups = [\"kids\"]\nadmin_mfa = \"{mfa}\"\n{more}",
                    secret.display()
                )
            };
            [
                ha("home", "demote", ""),
                ha("strict", "refuse", ""),
                ha("quick", "off", "code_lifetime = \"2s\"\n"),
            ]
            .concat()
        }),
        ..Setup::default()
    })
    .await
}

/// A browser signed in as NameID `subject` with uid `uid` in `groups`.
async fn login(hub: &Hub, subject: &str, uid: &str, groups: &[&str], context: &str) -> Browser {
    let mut b = hub.browser();
    let r = hub
        .sign_in_with(&mut b, IDP, |spec| {
            spec.name_id = subject.into();
            spec.attributes = vec![
                Attr::new("uid", &[uid]),
                Attr::new("displayName", &[subject]),
                Attr::new("groups", groups),
            ];
            spec.authn_context = context.into();
        })
        .await;
    assert_eq!(r.status, 303, "login {subject}: {}", r.head());
    b
}

/// `/ha` for `instance`: (status, error code, code on the page, body).
async fn ha_page(b: &mut Browser, instance: &str) -> (u16, Option<String>, Option<String>, String) {
    let p = b.get(&format!("/ha?instance={instance}")).await;
    let code = p.body.find("id=\"c\"").map(|at| {
        let rest = &p.body[at..];
        let from = rest.find('>').unwrap() + 1;
        rest[from..from + rest[from..].find('<').unwrap()].to_owned()
    });
    (
        p.status,
        p.header("x-samlhub-error").map(str::to_owned),
        code,
        p.body,
    )
}

/// POST /ha/redeem as the hook does.
async fn redeem_page(
    hub: &Hub,
    instance: &str,
    username: &str,
    code: &str,
) -> crate::peers::browser::Page {
    let body = serde_json::json!({"instance": instance, "username": username, "code": code});
    hub.browser()
        .post_raw(
            "/ha/redeem",
            "application/json",
            body.to_string().into_bytes(),
            &[("Authorization", &format!("Bearer {SECRET}"))],
        )
        .await
}

/// Redeems as the hook would and verifies the token as the hook would.
async fn redeem(hub: &Hub, instance: &str, username: &str, code: &str) -> Claims {
    let r = redeem_page(hub, instance, username, code).await;
    assert_eq!(r.status, 200, "{}", r.head());
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    verify(
        v["token"].as_str().unwrap(),
        SECRET.as_bytes(),
        instance,
        username,
        hub.unix(),
    )
    .unwrap()
}

#[actix_web::test]
async fn ha_username_belongs_to_the_first_subject_never_merged() {
    let hub = hub().await;
    let mut alice = login(&hub, "alice-subject", "alice", &["users"], PPT).await;
    let (status, _, code, _) = ha_page(&mut alice, "home").await;
    assert_eq!(status, 200);
    assert!(code.is_some());

    // Another IdP subject whose uid is also "alice": refused, with no code.
    let mut other = login(&hub, "someone-else", "alice", &["users"], PPT).await;
    let (status, err, code, body) = ha_page(&mut other, "home").await;
    assert_eq!(
        (status, err.as_deref()),
        (403, Some("ha_username_taken")),
        "{body}"
    );
    assert!(code.is_none());

    // The first one keeps it.
    let (status, _, code, _) = ha_page(&mut alice, "home").await;
    assert_eq!(status, 200);
    assert_eq!(
        redeem(&hub, "home", "alice", &code.unwrap()).await.sub,
        "alice"
    );
}

#[actix_web::test]
async fn ha_admin_mfa_policy_and_local_only() {
    let hub = hub().await;
    // Admin without MFA: demoted on "home", refused on "strict".
    let mut a = login(&hub, "admin-1", "ann", &["ha-admins", "kids"], PPT).await;
    let (status, _, code, body) = ha_page(&mut a, "home").await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("system-users") && body.contains("multi-factor"),
        "demotion is explained"
    );
    let c = redeem(&hub, "home", "ann", &code.unwrap()).await;
    assert_eq!((c.group, c.local_only), (Group::Users, true));
    let (status, err, code, body) = ha_page(&mut a, "strict").await;
    assert_eq!(
        (status, err.as_deref()),
        (403, Some("ha_refused")),
        "{body}"
    );
    assert!(body.contains("multi-factor") && code.is_none());

    // Admin with MFA: admin on both.
    let mut m = login(&hub, "admin-2", "max", &["ha-admins"], MFA).await;
    let (status, _, code, _) = ha_page(&mut m, "strict").await;
    assert_eq!(status, 200);
    let c = redeem(&hub, "strict", "max", &code.unwrap()).await;
    assert_eq!((c.group, c.local_only), (Group::Admin, false));
}

/// A code of an instance whose codes live 2 s: redeemable 1 s after it was
/// issued, gone at 2 s, and the refusal names the reason in the log.
#[actix_web::test]
async fn ha_code_expires_at_its_lifetime() {
    let hub = hub().await;
    let mut alice = login(&hub, "alice-subject", "alice", &["ha-admins"], PPT).await;

    let (status, _, code, body) = ha_page(&mut alice, "quick").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("data-left=\"2\""), "the page counts down 2 s");
    hub.advance(1);
    let c = redeem(&hub, "quick", "alice", &code.unwrap()).await;
    assert_eq!(c.group, Group::Admin);

    let (_, _, code, _) = ha_page(&mut alice, "quick").await;
    hub.advance(2);
    let r = redeem_page(&hub, "quick", "alice", &code.unwrap()).await;
    assert_eq!(r.status, 403, "{}", r.head());
    assert_eq!(r.body, r#"{"error":"refused"}"#);
    let line = log_line(&r);
    assert!(
        line.contains("instance 'quick': no live code for 'alice'"),
        "{line}"
    );
}
