//! `samlhub ha-verify`: the hook HA's `command_line` auth provider runs. HA
//! gives it only `username` and `password` in the environment. It redeems the
//! code at the hub, verifies the token it gets back, prints HA's meta lines,
//! and exits 0, or prints one line starting `samlhub-hook:` to stderr and
//! exits 1. It never prints the code, the secret or the token.

use crate::clock::{Clock, SystemClock};
use crate::config::ha::parse_secret;
use crate::ha::token;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

/// Arguments as HA passes them (`args:` in configuration.yaml).
pub struct HookArgs<'a> {
    pub hub: &'a str,
    pub secret_file: &'a Path,
    pub instance: &'a str,
    pub timeout: Duration,
}

/// Runs the hook and maps the outcome to HA's contract.
pub fn run(a: &HookArgs<'_>) -> ExitCode {
    match verify(a) {
        Ok(lines) => {
            print!("{lines}");
            ExitCode::SUCCESS
        }
        Err(why) => {
            eprintln!("samlhub-hook: {why}");
            ExitCode::from(1)
        }
    }
}

/// The one wording of a hub refusal, shared with `contrib/ha/samlhub_hook.py`:
/// `hub refused the code: HTTP <status>`, plus `: <error>` when the hub's
/// JSON `error` is short plain text (1–80 of `A-Za-z0-9 _.:-`), so HA's log
/// reads the same whichever hook runs.
pub fn refusal(status: u16, body: &str) -> String {
    let detail = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_owned))
        .filter(|e| {
            (1..=80).contains(&e.len())
                && e.chars()
                    .all(|c| c.is_ascii_alphanumeric() || " _.:-".contains(c))
        })
        .map(|e| format!(": {e}"))
        .unwrap_or_default();
    format!("hub refused the code: HTTP {status}{detail}")
}

fn verify(a: &HookArgs<'_>) -> Result<String, String> {
    let username =
        std::env::var("username").map_err(|_| "no username in the environment".to_string())?;
    let code =
        std::env::var("password").map_err(|_| "no password in the environment".to_string())?;
    if !(a.hub.starts_with("https://") || a.hub.starts_with("http://")) {
        return Err(format!("--hub '{}' is not an http(s) URL", a.hub));
    }
    let secret = std::fs::read(a.secret_file)
        .map_err(|e| format!("cannot read '{}': {e}", a.secret_file.display()))
        .and_then(|raw| parse_secret(a.secret_file, raw))?;
    let secret_str = std::str::from_utf8(&secret).map_err(|_| "secret is not text".to_string())?;
    let agent = crate::outbound::agent(a.timeout);
    let body = serde_json::json!({ "instance": a.instance, "username": username, "code": code })
        .to_string();
    let url = format!("{}/ha/redeem", a.hub.trim_end_matches('/'));
    let mut resp = agent
        .post(&url)
        .header("Authorization", &format!("Bearer {secret_str}"))
        .header("Content-Type", "application/json")
        .send(body)
        .map_err(|e| format!("hub unreachable or too slow: {e}"))?;
    let status = resp.status().as_u16();
    let text = resp
        .body_mut()
        .with_config()
        .limit(16 * 1024)
        .read_to_string()
        .map_err(|e| format!("reading the hub's answer: {e}"))?;
    if status != 200 {
        return Err(refusal(status, &text));
    }
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|_| "hub answer is not JSON".to_string())?;
    let t = v
        .get("token")
        .and_then(|t| t.as_str())
        .ok_or("hub answer has no token")?;
    let now = SystemClock.now().unix_timestamp();
    let claims =
        token::verify(t, &secret, a.instance, &username, now).map_err(|e| e.to_string())?;
    let name: String = claims.name.chars().filter(|c| !c.is_control()).collect();
    let mut out = format!("name = {name}\ngroup = {}\n", claims.group.as_str());
    if claims.local_only {
        out.push_str("local_only = true\n");
    }
    Ok(out)
}
