//! A running hub with a generated test IdP and two `[[ha]]` instances, for
//! the HA tests that need a real process (concurrent redeems on both stores).
//! The policy rules themselves are tested in-process (`inproc::ha`).

use crate::peers::browser::Browser;
use crate::peers::samlhub::{Samlhub, BIN};
use samlhub::testing::idp::{Attr, TestIdp};

pub(crate) const SECRET: &str = "policy-secret-0123456789abcdefgh";
pub(crate) const PPT: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport";

pub(crate) struct Rig {
    idp: TestIdp,
    pub(crate) hub: Samlhub,
}

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
