//! Home Assistant login against a REAL Home Assistant (2024.3.3 from PyPI):
//! SimpleSAMLphp signs people in, samlhub issues codes, and HA's stock
//! `command_line` provider runs our hooks (the Rust `samlhub ha-verify` and
//! the Python script) to redeem them. Fake hubs stand in only where a hub
//! must misbehave (a token signed with another key, or for another instance).

use crate::ha_hook::{python3, token_reply, FakeHub};
use crate::peers::browser::Browser;
use crate::peers::free_port;
use crate::peers::homeassistant::{HaProvider, HomeAssistant};
use crate::peers::redis::RedisServer;
use crate::peers::samlhub::{Samlhub, BIN};
use crate::peers::simplesamlphp::{SimpleSamlPhp, SspSp};
use base64::Engine as _;
use samlhub::clock::{Clock, SystemClock};
use samlhub::ha::token::{mint, Claims, Group};
use std::path::PathBuf;

const SECRET: &str = "d2b8c1f0a9e74c55b0c3f1e2a7d94b61";

struct Rig {
    _ssp: SimpleSamlPhp,
    hub: Samlhub,
    ha: HomeAssistant,
    fake_ports: (u16, u16),
}

fn rust_hook(id: &str, hub: &str, secret: &std::path::Path, instance: &str) -> HaProvider {
    HaProvider {
        id: id.into(),
        name: format!("SSO ({id})"),
        command: BIN.into(),
        args: vec![
            "ha-verify".into(),
            "--hub".into(),
            hub.into(),
            "--secret-file".into(),
            secret.display().to_string(),
            "--instance".into(),
            instance.into(),
        ],
    }
}

/// A prepared (not started) hub registered at a started SimpleSAMLphp, and
/// an HA hook secret file holding `secret`.
pub(crate) fn hub_and_idp(secret: &str) -> (Samlhub, SimpleSamlPhp, PathBuf) {
    let hub = Samlhub::prepare(BIN);
    let mut sp = SspSp::new(&hub.entity_id(), &hub.acs_url());
    sp.sp_cert_b64 = Some(hub.sp_key().cert_b64.clone());
    let ssp = SimpleSamlPhp::start(&[sp]);
    let file = hub.dir().join("ha.secret");
    std::fs::write(&file, format!("{secret}\n")).unwrap();
    (hub, ssp, file)
}

/// SimpleSAMLphp → samlhub (store as given) → HA with five hook providers:
/// `rust`, `python`, `wrongsecret`, `fakekey` and `fakeaud`. (A code's
/// expiry is a rule about time: `inproc::ha` steps a clock for it.)
fn rig(store: Option<&str>) -> Rig {
    let (mut hub, ssp, secret) = hub_and_idp(SECRET);
    let wrong = hub.dir().join("wrong.secret");
    std::fs::write(&wrong, "0000000000000000ffffffffffffffff\n").unwrap();
    let fake_ports = (free_port(), free_port());
    let hub_url = hub.base_url();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("contrib/ha/samlhub_hook.py");
    let mut python = rust_hook("python", &hub_url, &secret, "home");
    python.command = python3().display().to_string();
    python.args.splice(0..1, [script.display().to_string()]);
    let ha = HomeAssistant::start(&[
        rust_hook("rust", &hub_url, &secret, "home"),
        python,
        rust_hook("wrongsecret", &hub_url, &wrong, "home"),
        rust_hook(
            "fakekey",
            &format!("http://127.0.0.1:{}", fake_ports.0),
            &secret,
            "home",
        ),
        rust_hook(
            "fakeaud",
            &format!("http://127.0.0.1:{}", fake_ports.1),
            &secret,
            "home",
        ),
    ]);

    let store_line = store
        .map(|s| format!("store = \"{s}\"\n"))
        .unwrap_or_default();
    hub.write_config(&format!(
        "{store_line}\
[[idp]]\nid = \"ssp\"\nmetadata_url = \"{md}\"\nallow_insecure_metadata_url = true\n\
[[ha]]\nid = \"home\"\nexternal_url = \"{ha}\"\nhook_secret_file = \"{s}\"\nprovider_id = \"rust\"\n\
admin_groups = [\"ha-admins\"]\nuser_groups = [\"users\"]\n",
        md = ssp.metadata_url(),
        ha = ha.base_url(),
        s = secret.display(),
    ));
    hub.start();
    Rig {
        _ssp: ssp,
        hub,
        ha,
        fake_ports,
    }
}

/// Signs in at the IdP through samlhub's `/ha` and returns the page's
/// username and code.
fn ha_code(b: &mut Browser, rig: &Rig, instance: &str, user: &str, pass: &str) -> (String, String) {
    let url = format!("{}/ha?instance={instance}", rig.hub.base_url());
    let mut page = b.get(&url);
    if page.status == 302 {
        let to_idp = b.get(page.location.as_deref().unwrap());
        let post = b.ssp_login(to_idp, user, pass);
        let back = b.post_form(&post.action, &post.form());
        assert_eq!(back.status, 303, "ACS: {}\n{}", back.head(), rig.hub.log());
        page = b.get(&url);
    }
    assert_eq!(page.status, 200, "/ha: {}\n{}", page.head(), rig.hub.log());
    let grab = |id: &str| {
        let start = page.body.find(&format!("id=\"{id}\"")).unwrap();
        let rest = &page.body[start..];
        let from = rest.find('>').unwrap() + 1;
        let to = rest[from..].find('<').unwrap();
        rest[from..from + to].to_owned()
    };
    (grab("u"), grab("c"))
}

fn refused(r: Result<String, serde_json::Value>, what: &str, rig: &Rig) {
    match r {
        Ok(_) => panic!("{what}: HA accepted the login\nhub log:\n{}", rig.hub.log()),
        Err(v) => assert_eq!(v["errors"]["base"], "invalid_auth", "{what}: {v}"),
    }
}

fn logs(rig: &Rig) -> String {
    format!("{}\n{}", rig.hub.log(), rig.ha.log_tail())
}

/// HA answers `invalid_auth`, and the hub's or the hook's log gains one more
/// line with `reason`: the refusal happened for the reason under test.
fn refused_because(
    rig: &Rig,
    what: &str,
    reason: &str,
    login: impl FnOnce() -> Result<String, serde_json::Value>,
) {
    let before = logs(rig).matches(reason).count();
    refused(login(), what, rig);
    let after = logs(rig).matches(reason).count();
    assert!(
        after > before,
        "{what}: expected a log line with '{reason}'\n{}",
        logs(rig)
    );
}

#[test]
fn ha_login_with_both_hooks_roles_and_refusals() {
    let rig = rig(None);
    let ha = &rig.ha;
    let mut alice = Browser::new();

    // 1. alice (ha-admins) through the Rust hook: admin, her name, a working token.
    let (user, code) = ha_code(&mut alice, &rig, "home", "alice", "alicepass");
    assert_eq!(user, "alice");
    let auth = ha
        .login("rust", &user, &code)
        .unwrap_or_else(|e| panic!("{e}\n{}\n{}", rig.hub.log(), ha.log_tail()));
    let tokens = ha.exchange_code(&auth, &ha.client_id()).unwrap();
    assert!(ha.api_ok(&tokens.access_token));
    let me = ha.current_user(&tokens.access_token);
    assert_eq!(me["name"], "Alice Example", "{me}");
    assert_eq!(me["is_admin"], true, "{me}");
    let admin_token = tokens.access_token;

    // The same code a second time.
    refused_because(
        &rig,
        "code reused",
        "instance 'home': no live code for 'alice'",
        || ha.login("rust", &user, &code),
    );

    // 2. The Python hook.
    let (_, code) = ha_code(&mut alice, &rig, "home", "alice", "alicepass");
    let auth = ha
        .login("python", &user, &code)
        .unwrap_or_else(|e| panic!("{e}\n{}", ha.log_tail()));
    let t = ha.exchange_code(&auth, &ha.client_id()).unwrap();
    assert!(ha.api_ok(&t.access_token));
    let me = ha.current_user(&t.access_token);
    assert_eq!(
        (me["name"].as_str(), me["is_admin"].as_bool()),
        (Some("Alice Example"), Some(true)),
        "{me}"
    );
    assert_eq!(me["credentials"][0]["auth_provider_id"], "python", "{me}");

    // 3. A right code with another username; then the code still works for alice.
    let (_, code) = ha_code(&mut alice, &rig, "home", "alice", "alicepass");
    refused_because(
        &rig,
        "right code, other username",
        "instance 'home': no live code for 'bob'",
        || ha.login("rust", "bob", &code),
    );
    // A wrong hook secret is refused before the code is touched.
    refused_because(
        &rig,
        "wrong hook secret",
        "wrong hook secret for instance 'home'",
        || ha.login("wrongsecret", &user, &code),
    );
    assert!(
        ha.login("rust", &user, &code).is_ok(),
        "code survives refusals that never reached it"
    );

    // 4. Five wrong tries (someone who knows the username) void nothing:
    // the right code still works after them.
    let (_, code) = ha_code(&mut alice, &rig, "home", "alice", "alicepass");
    for i in 1..=5 {
        let reason = format!("instance 'home': wrong code for 'alice' (failed try {i} of 20)");
        refused_because(&rig, "wrong code", &reason, || {
            ha.login("rust", &user, &format!("0000{i}-00000"))
        });
    }
    assert!(
        ha.login("rust", &user, &code).is_ok(),
        "the right code after five wrong ones"
    );

    // 5. Tokens from a hub with another key, or for another instance.
    let now = SystemClock.now().unix_timestamp();
    let claims = |aud: &str| Claims {
        iss: "http://fake".into(),
        aud: aud.into(),
        sub: "alice".into(),
        name: "Alice Example".into(),
        group: Group::Admin,
        local_only: false,
        iat: now,
        exp: now + 60,
        jti: "fake".into(),
    };
    let _k = FakeHub::start_on(
        rig.fake_ports.0,
        token_reply(&mint(&claims("home"), b"another-secret-entirely-0123").unwrap()),
    );
    let _a = FakeHub::start_on(
        rig.fake_ports.1,
        token_reply(&mint(&claims("cabin"), SECRET.as_bytes()).unwrap()),
    );
    refused_because(
        &rig,
        "token signed with another key",
        "token signature does not verify",
        || ha.login("fakekey", "alice", "ABCDE-12345"),
    );
    refused_because(
        &rig,
        "token for another instance",
        "token is for HA instance 'cabin'",
        || ha.login("fakeaud", "alice", "ABCDE-12345"),
    );

    // 6. bob (users) becomes system-users.
    let mut bob = Browser::new();
    let (bu, bc) = ha_code(&mut bob, &rig, "home", "bob", "bobpass");
    assert_eq!(bu, "bob");
    let bt = ha
        .exchange_code(&ha.login("rust", &bu, &bc).unwrap(), &ha.client_id())
        .unwrap();
    assert_eq!(ha.current_user(&bt.access_token)["is_admin"], false);
    let users = ha.list_users(&admin_token);
    let bob_entry = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == "Bob Example")
        .unwrap_or_else(|| panic!("bob not in {users}"));
    assert_eq!(
        bob_entry["group_ids"],
        serde_json::json!(["system-users"]),
        "{bob_entry}"
    );

    // 7. carol (no mapped group) is refused at /ha and gets no code.
    let mut carol = Browser::new();
    let url = format!("{}/ha?instance=home", rig.hub.base_url());
    let first = carol.get(&url);
    let to_idp = carol.get(first.location.as_deref().unwrap());
    let post = carol.ssp_login(to_idp, "carol", "carolpass");
    assert_eq!(carol.post_form(&post.action, &post.form()).status, 303);
    let page = carol.get(&url);
    assert_eq!(page.status, 403, "{}", page.head());
    assert_eq!(page.header("x-samlhub-error"), Some("ha_refused"));
    assert!(!page.body.contains("id=\"c\""), "no code for carol");

    // 8. One-click web login: HA's own code in the redirect, used as the frontend does.
    let r = alice.get(&format!("{}/ha/login?instance=home", rig.hub.base_url()));
    assert_eq!(r.status, 302, "{}\n{}", r.head(), rig.hub.log());
    let loc = r.location.clone().unwrap();
    assert!(
        loc.starts_with(&format!("{}/?auth_callback=1&", ha.base_url())),
        "{loc}"
    );
    assert!(
        !loc.contains(&code),
        "the one-time token never appears in a URL"
    );
    let q = |n: &str| crate::peers::browser::query_param(&loc, n).unwrap();
    let state: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(q("state"))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(state["hassUrl"], ha.base_url());
    let client_id = state["clientId"].as_str().unwrap().to_owned();
    assert_eq!(client_id, ha.client_id());
    let t = ha.exchange_code(&q("code"), &client_id).unwrap();
    assert!(ha.api_ok(&t.access_token));
    assert_eq!(ha.current_user(&t.access_token)["name"], "Alice Example");
    assert!(
        ha.exchange_code(&q("code"), &client_id).is_err(),
        "HA's code works once"
    );

    // Nothing secret reached the hub's log.
    let log = rig.hub.log();
    assert!(
        !log.contains(SECRET) && !log.contains(&code),
        "secret or code in the hub log"
    );
}

#[test]
fn ha_redeem_fails_closed_when_redis_is_down() {
    let mut redis = RedisServer::start();
    let rig = rig(Some(&redis.url()));
    let mut alice = Browser::new();
    let (user, code) = ha_code(&mut alice, &rig, "home", "alice", "alicepass");
    redis.stop();
    refused_because(&rig, "store down", "redeem: store unavailable", || {
        rig.ha.login("rust", &user, &code)
    });
    refused_because(
        &rig,
        "store down (python hook)",
        "redeem: store unavailable",
        || rig.ha.login("python", &user, &code),
    );
}
