//! Home Assistant's own login flow driven from the hub for the one-click
//! sign-in (`/ha/login`): `POST /auth/login_flow`, then the username and
//! password step, exactly as HA's frontend does, against HA's internal URL.
//! The password is the one-time code HA's `command_line` hook redeems.

use std::time::Duration;

/// HA's login flow, as its frontend drives it (POST /auth/login_flow, then
/// the username/password step), run from the hub against HA's internal URL.
pub struct LoginFlow {
    pub internal_url: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub provider_id: Option<String>,
    pub username: String,
    pub password: String,
}

/// What HA answers when the login flow's handler names no configured
/// provider: HA 2024.x raises on the unknown `["command_line", id]` handler
/// and answers HTTP 500 (older releases 400 "Invalid handler specified").
const UNKNOWN_HANDLER: [&str; 3] = [
    "Home Assistant answered HTTP 500",
    "Home Assistant answered HTTP 400",
    "Home Assistant answered HTTP 404",
];

impl LoginFlow {
    /// Names the setting when HA refuses to start the flow: almost always a
    /// `provider_id` that matches no `command_line` provider's `id`.
    fn explain_start(&self, e: String) -> String {
        if !UNKNOWN_HANDLER.contains(&e.as_str()) {
            return e;
        }
        match &self.provider_id {
            Some(id) => format!(
                "Home Assistant has no command_line auth provider with id '{id}' \
                 ([[ha]] provider_id; {e} to the login flow start)"
            ),
            None => format!(
                "Home Assistant has no command_line auth provider without an id \
                 (set [[ha]] provider_id to the provider's id; {e} to the login flow start)"
            ),
        }
    }

    /// Runs the flow; HA's authorization code, or why not. Blocking.
    pub fn run(&self) -> Result<String, String> {
        let agent = super::agent(Duration::from_secs(15));
        let post = |url: String, body: serde_json::Value| -> Result<serde_json::Value, String> {
            let mut r = agent
                .post(&url)
                .header("Content-Type", "application/json")
                .send(body.to_string())
                .map_err(|e| format!("Home Assistant unreachable: {e}"))?;
            let status = r.status().as_u16();
            let text = r
                .body_mut()
                .read_to_string()
                .map_err(|e| format!("reading HA's answer: {e}"))?;
            if status != 200 {
                return Err(format!("Home Assistant answered HTTP {status}"));
            }
            serde_json::from_str(&text)
                .map_err(|_| "Home Assistant's answer is not JSON".to_string())
        };
        let start = post(
            format!("{}/auth/login_flow", self.internal_url),
            serde_json::json!({
                "client_id": self.client_id,
                "handler": ["command_line", self.provider_id],
                "redirect_uri": self.redirect_uri,
            }),
        )
        .map_err(|e| self.explain_start(e))?;
        let flow_id = start
            .get("flow_id")
            .and_then(|f| f.as_str())
            .ok_or("Home Assistant has no command_line login provider with that id")?;
        let done = post(
            format!("{}/auth/login_flow/{flow_id}", self.internal_url),
            serde_json::json!({ "client_id": self.client_id, "username": self.username, "password": self.password }),
        )?;
        match (
            done.get("type").and_then(|t| t.as_str()),
            done.get("result").and_then(|r| r.as_str()),
        ) {
            (Some("create_entry"), Some(code)) => Ok(code.to_owned()),
            _ => Err(format!(
                "Home Assistant refused the login ({})",
                done.get("errors")
                    .map(|e| e.to_string())
                    .unwrap_or_else(|| "no reason given".into())
            )),
        }
    }
}
