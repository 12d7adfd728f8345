//! HA login policy through the running hub, with generated IdP responses:
//! one username per person (never merged), admin MFA (refuse or demote), and
//! local_only, read back from the token the hook would receive.

use crate::peers::browser::Browser;
use crate::peers::samlhub::{Samlhub, BIN};
use samlhub::ha::token::{verify, Group};
use samlhub::testing::idp::{Attr, TestIdp};

pub(crate) const SECRET: &str = "policy-secret-0123456789abcdefgh";
pub(crate) const PPT: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport";
const MFA: &str = "https://refeds.org/profile/mfa";

pub(crate) struct Rig {
    idp: TestIdp,
    pub(crate) hub: Samlhub,
}

fn rig() -> Rig {
    rig_on(None)
}

/// The hub with two instances, `home` (demote) and `strict` (refuse), on
/// the embedded store or on `store` (e.g. a Redis URL).
pub(crate) fn rig_on(store: Option<&str>) -> Rig {
    let idp = TestIdp::new("policy");
    let mut hub = Samlhub::prepare(BIN);
    let md = hub.dir().join("idp.xml");
    std::fs::write(&md, idp.metadata_xml()).unwrap();
    let secret = hub.dir().join("ha.secret");
    std::fs::write(&secret, SECRET).unwrap();
    let ha = |id: &str, mfa: &str| {
        format!(
            "[[ha]]\nid = \"{id}\"\nexternal_url = \"http://127.0.0.1:9\"\nhook_secret_file = \"{}\"\n\
admin_groups = [\"ha-admins\"]\nuser_groups = [\"users\"]\nlocal_only_groups = [\"kids\"]\nadmin_mfa = \"{mfa}\"\n",
            secret.display()
        )
    };
    hub.write_config(&format!(
        "{}[[idp]]\nid = \"test\"\nmetadata_file = \"{}\"\n{}{}",
        store
            .map(|s| format!("store = \"{s}\"\n"))
            .unwrap_or_default(),
        md.display(),
        ha("home", "demote"),
        ha("strict", "refuse")
    ));
    hub.start();
    Rig { idp, hub }
}

/// A browser signed in as NameID `subject` with uid `uid` in `groups`.
pub(crate) fn login(
    rig: &Rig,
    subject: &str,
    uid: &str,
    groups: &[&str],
    context: &str,
) -> Browser {
    let mut b = Browser::new();
    let r = samlhub::testing::idp::sign_in(&rig.hub, &rig.idp, "test", &mut b, |spec| {
        spec.name_id = subject.into();
        spec.attributes = vec![
            Attr::new("uid", &[uid]),
            Attr::new("displayName", &[subject]),
            Attr::new("groups", groups),
        ];
        spec.authn_context = context.into();
    });
    assert_eq!(
        r.status,
        303,
        "login {subject}: {}\n{}",
        r.head(),
        rig.hub.log()
    );
    b
}

/// `/ha` for `instance`: (status, error code, code on the page).
pub(crate) fn ha_page(
    b: &mut Browser,
    rig: &Rig,
    instance: &str,
) -> (u16, Option<String>, Option<String>, String) {
    let p = b.get(&format!("{}/ha?instance={instance}", rig.hub.base_url()));
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

/// Redeems as the hook would and verifies the token as the hook would.
fn redeem(rig: &Rig, instance: &str, username: &str, code: &str) -> samlhub::ha::token::Claims {
    let r = ureq::Agent::new_with_defaults()
        .post(&format!("{}/ha/redeem", rig.hub.base_url()))
        .header("Authorization", &format!("Bearer {SECRET}"))
        .header("Content-Type", "application/json")
        .send(
            serde_json::json!({"instance": instance, "username": username, "code": code})
                .to_string(),
        )
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let v: serde_json::Value =
        serde_json::from_str(&r.into_body().read_to_string().unwrap()).unwrap();
    #[allow(clippy::disallowed_methods)]
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    verify(
        v["token"].as_str().unwrap(),
        SECRET.as_bytes(),
        instance,
        username,
        now,
    )
    .unwrap()
}

#[test]
fn ha_username_belongs_to_the_first_subject_never_merged() {
    let rig = rig();
    let mut alice = login(&rig, "alice-subject", "alice", &["users"], PPT);
    let (status, _, code, _) = ha_page(&mut alice, &rig, "home");
    assert_eq!(status, 200);
    assert!(code.is_some());

    // Another IdP subject whose uid is also "alice": refused, with no code.
    let mut other = login(&rig, "someone-else", "alice", &["users"], PPT);
    let (status, err, code, body) = ha_page(&mut other, &rig, "home");
    assert_eq!(
        (status, err.as_deref()),
        (403, Some("ha_username_taken")),
        "{body}"
    );
    assert!(code.is_none());

    // The first one keeps it.
    let (status, _, code, _) = ha_page(&mut alice, &rig, "home");
    assert_eq!(status, 200);
    assert_eq!(redeem(&rig, "home", "alice", &code.unwrap()).sub, "alice");
}

#[test]
fn ha_admin_mfa_policy_and_local_only() {
    let rig = rig();
    // Admin without MFA: demoted on "home", refused on "strict".
    let mut a = login(&rig, "admin-1", "ann", &["ha-admins", "kids"], PPT);
    let (status, _, code, body) = ha_page(&mut a, &rig, "home");
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("system-users") && body.contains("multi-factor"),
        "demotion is explained"
    );
    let c = redeem(&rig, "home", "ann", &code.unwrap());
    assert_eq!((c.group, c.local_only), (Group::Users, true));
    let (status, err, code, body) = ha_page(&mut a, &rig, "strict");
    assert_eq!(
        (status, err.as_deref()),
        (403, Some("ha_refused")),
        "{body}"
    );
    assert!(body.contains("multi-factor") && code.is_none());

    // Admin with MFA: admin on both.
    let mut m = login(&rig, "admin-2", "max", &["ha-admins"], MFA);
    let (status, _, code, _) = ha_page(&mut m, &rig, "strict");
    assert_eq!(status, 200);
    let c = redeem(&rig, "strict", "max", &code.unwrap());
    assert_eq!((c.group, c.local_only), (Group::Admin, false));
}
