//! Self-test of the Home Assistant peer (owned by the peers harness): a real
//! HA 2024.3.3 logs users in through `command_line` auth providers, issues
//! tokens, and reports the users' names and groups. One test, so HA starts
//! once (the first run also installs HA into target/, 1-2 minutes).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test harness: failing loudly is the point

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use crate::peers::homeassistant::{HaProvider, HomeAssistant};

/// HA runs the command with an environment of ONLY `username` and `password`
/// (no PATH): builtins only.
const USER_SCRIPT: &str = r#"#!/bin/sh
if [ "$username" = "tester" ] && [ "$password" = "pw" ]; then
  echo "name = Test User"
  echo "group = system-users"
  exit 0
fi
exit 1
"#;

const ADMIN_SCRIPT: &str = r##"#!/bin/sh
if [ "$username" = "boss" ] && [ "$password" = "bosspw" ]; then
  echo "# comment lines are ignored"
  echo "name = Boss Admin"
  echo "group = system-admin"
  exit 0
fi
exit 1
"##;

fn script(dir: &Path, name: &str, body: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, body).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.to_str().unwrap().to_owned()
}

/// `config/auth/list` shows `username` only for users of the built-in
/// `homeassistant` provider (null for command_line users): find by name.
fn user_by_name<'a>(users: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == name)
        .unwrap_or_else(|| panic!("no user named {name} in {users:#}"))
}

#[test]
fn ha_command_line_login_tokens_users_and_groups() {
    let scripts = tempfile::tempdir().unwrap();
    let user_cmd = script(scripts.path(), "user.sh", USER_SCRIPT);
    let admin_cmd = script(scripts.path(), "admin.sh", ADMIN_SCRIPT);
    let ha = HomeAssistant::start(&[
        HaProvider::new("test", "Test Login", &user_cmd, &[]),
        HaProvider::new("adm", "Admin Login", &admin_cmd, &["--some-arg"]),
    ]);

    // Login → code → tokens → API.
    let code = ha
        .login("test", "tester", "pw")
        .unwrap_or_else(|v| panic!("login refused: {v:#}\n{}", ha.log_tail()));
    let tokens = ha.exchange_code(&code, &ha.client_id()).unwrap();
    assert!(tokens.refresh_token.is_some());
    assert!(ha.api_ok(&tokens.access_token));
    assert!(!ha.api_ok("not-a-token"));
    // A code is single-use.
    let (status, body) = ha.exchange_code(&code, &ha.client_id()).unwrap_err();
    assert_eq!(status, 400, "{body}");

    let me = ha.current_user(&tokens.access_token);
    assert_eq!(me["name"], "Test User", "{me:#}");
    assert_eq!(me["is_admin"], false, "{me:#}");
    assert_eq!(me["credentials"][0]["auth_provider_type"], "command_line");
    assert_eq!(me["credentials"][0]["auth_provider_id"], "test");

    // Wrong password → the form again, with invalid_auth.
    let refusal = ha.login("test", "tester", "wrong").unwrap_err();
    assert_eq!(refusal["type"], "form", "{refusal:#}");
    assert_eq!(refusal["errors"]["base"], "invalid_auth", "{refusal:#}");
    // The user script is not asked by the other provider.
    assert!(ha.login("adm", "tester", "pw").is_err());

    // The admin provider.
    let code = ha.login("adm", "boss", "bosspw").unwrap();
    let admin = ha.exchange_code(&code, &ha.client_id()).unwrap();
    let boss = ha.current_user(&admin.access_token);
    assert_eq!(boss["name"], "Boss Admin", "{boss:#}");
    assert_eq!(boss["is_admin"], true, "{boss:#}");

    // A non-admin may not list users; an admin sees names and groups.
    let denied = ha.ws(
        &tokens.access_token,
        &[serde_json::json!({"type": "config/auth/list"})],
    );
    assert_eq!(denied[0]["success"], false, "{denied:?}");
    assert_eq!(denied[0]["error"]["code"], "unauthorized", "{denied:?}");
    let users = ha.list_users(&admin.access_token);
    let tester = user_by_name(&users, "Test User");
    assert_eq!(tester["username"], serde_json::Value::Null, "{users:#}");
    assert_eq!(tester["credentials"][0]["type"], "command_line");
    assert_eq!(tester["group_ids"], serde_json::json!(["system-users"]));
    let boss = user_by_name(&users, "Boss Admin");
    assert_eq!(boss["group_ids"], serde_json::json!(["system-admin"]));

    // A bad token is refused on the websocket.
    let bad = ha.ws(
        "not-a-token",
        &[serde_json::json!({"type": "auth/current_user"})],
    );
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0]["type"], "auth_invalid", "{bad:?}");
}
