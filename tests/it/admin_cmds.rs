//! The admin commands against a running hub: `sessions list` and
//! `sessions revoke` beside it on Redis (a revoked person's session, HA code
//! and OIDC refresh token all stop working; the other person's stay), and
//! `ha release-username` freeing a name for another person. On the embedded
//! store the hub holds the file, and the commands say how to proceed.

use crate::oidc_rig::{Rig, CONF, IDP};
use crate::peers::browser::Browser;
use crate::peers::redis::RedisServer;
use crate::peers::samlhub::{run_cli, Samlhub, BIN};
use samlhub::testing::idp::Attr;
use std::process::Output;

fn cli(hub: &Samlhub, args: &[&str]) -> (i32, String, String) {
    let config = hub.config_path();
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--config", config.to_str().unwrap()]);
    let Output {
        status,
        stdout,
        stderr,
    } = run_cli(&all);
    (
        status.code().unwrap_or(-1),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

/// A browser signed in as NameID `subject` with HA username `uid`.
fn sign_in(rig: &Rig, subject: &str, uid: &str) -> Browser {
    let mut b = Browser::new();
    let r = samlhub::testing::idp::sign_in(&rig.hub, &rig.idp, IDP, &mut b, |spec| {
        spec.name_id = subject.into();
        spec.attributes = vec![Attr::new("uid", &[uid]), Attr::new("groups", &["users"])];
    });
    assert!(r.status == 303, "{subject} not signed in: {}", r.head());
    b
}

fn cookie(b: &Browser) -> String {
    b.agent()
        .cookie_jar_lock()
        .iter()
        .find(|c| c.name() == "samlhub_session")
        .map(|c| c.value().to_owned())
        .expect("a session cookie")
}

fn status(rig: &Rig, b: &mut Browser, path: &str) -> u16 {
    b.get(&rig.url(path)).status
}

/// A refresh token for `b`'s session, through the code flow of client CONF.
fn refresh_token(rig: &Rig, b: &mut Browser) -> String {
    let (code, _) = rig.code(b, CONF, None, &[]);
    rig.exchange(CONF, &code, None)
        .assert_tokens()
        .str("refresh_token")
}

fn listed(hub: &Samlhub, extra: &[&str]) -> Vec<serde_json::Value> {
    let mut args = vec!["sessions", "list", "--json"];
    args.extend(extra);
    let (code, out, err) = cli(hub, &args);
    assert_eq!(code, 0, "{out}{err}");
    serde_json::from_str::<Vec<serde_json::Value>>(&out).unwrap()
}

#[test]
fn admin_commands_list_revoke_and_release_beside_a_hub_on_redis() {
    let redis = RedisServer::start();
    let rig = Rig::start_with(|hub| {
        let secret = hub.dir().join("ha.secret");
        std::fs::write(&secret, "admin-secret-0123456789abcdefghij").unwrap();
        hub.write_config(&format!(
            "store = \"{}\"\n[[idp]]\nid = \"{IDP}\"\nmetadata_file = \"{}\"\n\n{}\n\
[[ha]]\nid = \"home\"\nexternal_url = \"http://127.0.0.1:9\"\nhook_secret_file = \"{}\"\nuser_groups = [\"users\"]\n",
            redis.url(),
            hub.dir().join("idp.xml").display(),
            crate::oidc_rig::clients_toml(),
            secret.display()
        ));
    });
    let hub = &rig.hub;
    let mut alice = sign_in(&rig, "alice-subject", "alice");
    let mut bob = sign_in(&rig, "bob-subject", "bob");
    assert_eq!(status(&rig, &mut alice, "/ha?instance=home"), 200);
    let exists = |k: &str| redis.cli(&["EXISTS", &format!("samlhub:{k}")]).trim() == "1";
    assert!(exists("hacode:home:alice") && exists("hauser:home:alice"));
    let alice_rt = refresh_token(&rig, &mut alice);
    let bob_rt = refresh_token(&rig, &mut bob);

    // Both listed, named by a prefix of the cookie's hash, never the cookie.
    let (code, table, _) = cli(hub, &["sessions", "list"]);
    assert_eq!(code, 0);
    assert!(table.contains("2 session(s)"), "{table}");
    let all = listed(hub, &[]);
    let users: Vec<&str> = all.iter().map(|s| s["user"].as_str().unwrap()).collect();
    assert_eq!(users.len(), 2, "{all:?}");
    assert!(
        users.contains(&"alice") && users.contains(&"bob"),
        "{all:?}"
    );
    let (ca, cb) = (cookie(&alice), cookie(&bob));
    for out in [&table, &serde_json::to_string(&all).unwrap()] {
        assert!(!out.contains(&ca) && !out.contains(&cb), "a cookie printed");
    }
    let bob_hash = samlhub::crypto::sha256_hex(&cb);
    let bob_listed = listed(hub, &["--user", "bob"]);
    assert_eq!(bob_listed.len(), 1, "{bob_listed:?}");
    let bob_prefix = bob_listed[0]["session"].as_str().unwrap().to_owned();
    assert!(bob_hash.starts_with(&bob_prefix) && bob_prefix.len() == 16);
    assert!(listed(hub, &["--idp", "nope"]).is_empty());

    // No selector, or a prefix too short to name one session: refused.
    let (code, _, err) = cli(hub, &["sessions", "revoke"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--user, --idp or --session"), "{err}");
    let (code, _, err) = cli(hub, &["sessions", "revoke", "--session", "abc"]);
    assert_eq!(code, 2, "{err}");
    assert_eq!(listed(hub, &[]).len(), 2, "nothing ended by a refusal");

    // Alice revoked: her session, HA code and refresh token end; Bob's stay.
    let (code, out, err) = cli(hub, &["sessions", "revoke", "--user", "alice"]);
    assert_eq!((code, out.trim()), (0, "revoked 1 session(s)"), "{err}");
    assert_eq!(status(&rig, &mut alice, "/session"), 401);
    assert_eq!(status(&rig, &mut bob, "/session"), 200);
    assert!(!exists("hacode:home:alice"), "the HA code is voided");
    assert!(exists("hauser:home:alice"), "the binding stays");
    rig.refresh(CONF, &alice_rt)
        .assert_token_error(400, "invalid_grant");
    rig.refresh(CONF, &bob_rt).assert_tokens();
    let left = listed(hub, &[]);
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["user"], "bob");

    // Another person cannot take "alice" until the name is released.
    let mut carol = sign_in(&rig, "carol-subject", "alice");
    assert_ne!(status(&rig, &mut carol, "/ha?instance=home"), 200);
    let (code, out, err) = cli(hub, &["ha", "release-username", "alice"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("released HA username 'alice' at instance 'home'")
            && out.contains("test|alice-subject"),
        "{out}"
    );
    let (code, _, err) = cli(hub, &["ha", "release-username", "alice"]);
    assert_eq!(code, 1);
    assert!(err.contains("no binding"), "{err}");
    let (code, _, err) = cli(
        hub,
        &["ha", "release-username", "alice", "--instance", "nope"],
    );
    assert_eq!(code, 2, "{err}");
    assert_eq!(status(&rig, &mut carol, "/ha?instance=home"), 200);
    assert_eq!(
        redis.cli(&["GET", "samlhub:hauser:home:alice"]).trim(),
        "test|carol-subject"
    );

    // One session by its listed prefix.
    let (code, out, err) = cli(hub, &["sessions", "revoke", "--session", &bob_prefix]);
    assert_eq!((code, out.trim()), (0, "revoked 1 session(s)"), "{err}");
    assert_eq!(status(&rig, &mut bob, "/session"), 401);
    assert_eq!(status(&rig, &mut carol, "/session"), 200);
    let log = hub.log();
    assert!(!log.contains(&ca) && !log.contains(&cb));
}

#[test]
fn admin_commands_on_the_embedded_store_ask_to_stop_the_hub() {
    let mut hub = Samlhub::prepare(BIN);
    hub.write_config("");
    hub.start();
    let (code, out, err) = cli(&hub, &["sessions", "list"]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("stop the hub first, or use Redis"), "{err}");
    let (code, _, err) = cli(&hub, &["ha", "release-username", "x"]);
    assert_eq!(code, 2);
    assert!(err.contains("stop the hub first"), "{err}");
    hub.stop();
    let (code, out, err) = cli(&hub, &["sessions", "list"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("0 session(s)"), "{out}");
}
