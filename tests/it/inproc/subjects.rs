//! Stable subjects: a transient NameID (SAML Core §8.3.8) names the person
//! for one sign-in only, so nothing that must outlive it may be keyed by it.
//! `/ha`, `/ha/login` and `/oidc/authorize` refuse it with the same message,
//! naming the fix; a persistent NameID at the same places is accepted.

use super::{location_param, Browser, Hub, Setup};
use crate::oidc_rig::{code_params, CONF, IDP};
use samlhub::testing::idp::NAMEID_PERSISTENT;

const TRANSIENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient";
const SECRET: &str = "subject-secret-0123456789abcdefgh";

/// The test IdP, the OIDC clients and one HA instance `home`.
async fn hub() -> Hub {
    Hub::start_with(Setup {
        extra: Box::new(|dir| {
            let secret = dir.join("ha.secret");
            std::fs::write(&secret, SECRET).unwrap();
            format!(
                "[[ha]]\nid = \"home\"\nexternal_url = \"http://127.0.0.1:9\"\nhook_secret_file = \"{}\"\n\
user_groups = [\"users\"]\n",
                secret.display()
            )
        }),
        ..Setup::default()
    })
    .await
}

/// A browser signed in as `name_id` of `format`.
async fn signed_in(hub: &Hub, name_id: &str, format: &str) -> Browser {
    let mut b = hub.browser();
    let r = hub
        .sign_in_with(&mut b, IDP, |s| {
            s.name_id = name_id.into();
            s.name_id_format = format.into();
        })
        .await;
    assert_eq!(r.status, 303, "{}", r.head());
    b
}

fn assert_names_the_fix(text: &str) {
    assert!(text.contains("transient NameID"), "{text}");
    assert!(text.contains("persistent NameID"), "{text}");
    assert!(text.contains("[idp.attributes] subject"), "{text}");
}

#[actix_web::test]
async fn transient_name_id_is_refused_for_ha_and_oidc_alike() {
    let hub = hub().await;
    for (round, name_id) in ["_t1f0a", "_t2b9c"].into_iter().enumerate() {
        let mut b = signed_in(&hub, name_id, TRANSIENT).await;
        for path in ["/ha?instance=home", "/ha/login?instance=home"] {
            let p = b.get(path).await;
            assert_eq!(p.status, 403, "round {round} {path}: {}", p.head());
            // Never `ha_username_taken`: the second sign-in gets the same answer.
            assert_eq!(p.header("x-samlhub-error"), Some("unstable_subject"));
            assert_names_the_fix(&p.body);
        }
        let params = code_params(CONF, None, &[]);
        let p = b.get(&hub.authorize_url(&params)).await;
        assert_eq!(p.status, 302, "{}", p.head());
        assert_eq!(
            location_param(&p, "error").as_deref(),
            Some("access_denied")
        );
        assert!(location_param(&p, "code").is_none());
        assert_names_the_fix(&location_param(&p, "error_description").unwrap());
    }

    // The same places accept a persistent NameID.
    let mut b = signed_in(&hub, "alice", NAMEID_PERSISTENT).await;
    let p = b.get("/ha?instance=home").await;
    assert_eq!(p.status, 200, "{}", p.head());
    let params = code_params(CONF, None, &[]);
    let p = b.get(&hub.authorize_url(&params)).await;
    assert!(location_param(&p, "code").is_some(), "{}", p.head());
}
