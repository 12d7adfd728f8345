//! The `[[ha]]` sections: one per Home Assistant instance that logs people in
//! through its `command_line` auth provider.

use super::{check_base_url, check_id, parse_duration_or, Problems, Source};
use crate::ha::policy::{AdminMfa, Policy, UsernameRule};
use crate::identity::DEFAULT_MFA_CONTEXTS;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Default, Deserialize)]
pub(super) struct RawHa {
    id: Option<String>,
    display_name: Option<String>,
    external_url: Option<String>,
    internal_url: Option<String>,
    hook_secret_file: Option<String>,
    provider_id: Option<String>,
    username: Option<String>,
    idps: Option<Vec<String>>,
    admin_groups: Option<Vec<String>>,
    user_groups: Option<Vec<String>>,
    read_only_groups: Option<Vec<String>>,
    local_only_groups: Option<Vec<String>>,
    admin_mfa: Option<String>,
    mfa_contexts: Option<Vec<String>>,
    code_lifetime: Option<String>,
    #[serde(flatten)]
    unknown: BTreeMap<String, toml::Value>,
}

/// One HA instance.
#[derive(Clone)]
pub struct HaInstance {
    /// The token audience and `/ha?instance=` value.
    pub id: String,
    pub display_name: String,
    /// The URL browsers use, without a trailing slash.
    pub external_url: String,
    /// The URL samlhub uses for the one-click login flow.
    pub internal_url: String,
    /// The hook secret (file content, trimmed).
    pub hook_secret: Vec<u8>,
    /// The `id` of the command_line provider in HA's configuration, if set.
    pub provider_id: Option<String>,
    /// IdPs whose users may log in here; empty = all.
    pub idps: Vec<String>,
    pub policy: Policy,
    pub code_lifetime: Duration,
    /// Where `hook_secret_file` points (shown on the setup page, never its content).
    pub hook_secret_file: PathBuf,
}

impl std::fmt::Debug for HaInstance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HaInstance")
            .field("id", &self.id)
            .field("external_url", &self.external_url)
            .field("hook_secret", &"(redacted)")
            .finish_non_exhaustive()
    }
}

impl HaInstance {
    /// HA's OAuth client id for its own frontend: its origin plus `/`.
    pub fn client_id(&self) -> String {
        format!("{}/", self.external_url)
    }

    /// What the login flow needs of this instance.
    pub fn login(&self) -> crate::ha::login::Instance<'_> {
        crate::ha::login::Instance {
            id: &self.id,
            idps: &self.idps,
            policy: &self.policy,
            code_lifetime: self.code_lifetime,
            hook_secret: &self.hook_secret,
        }
    }
}

pub(super) fn load(
    r: RawHa,
    key: &dyn Fn(&str) -> String,
    rel: &dyn Fn(&str) -> PathBuf,
    src: &dyn Source,
    idp_ids: &[String],
    p: &mut Problems,
) -> Option<HaInstance> {
    for k in r.unknown.keys() {
        p.add(key(k), "unknown key");
    }
    let id = r.id.unwrap_or_default();
    check_id(p, key("id"), &id);
    let external_url = match r.external_url.as_deref().map(external_origin) {
        Some(Ok(u)) => u,
        Some(Err(m)) => {
            p.add(key("external_url"), m.to_string());
            String::new()
        }
        None => {
            p.add(
                key("external_url"),
                "required: the URL your browser uses for Home Assistant",
            );
            String::new()
        }
    };
    let internal_url = match r.internal_url.as_deref().map(check_base_url) {
        Some(Ok(u)) => u,
        Some(Err(m)) => {
            p.add(key("internal_url"), m.to_string());
            String::new()
        }
        None => external_url.clone(),
    };
    let hook_secret_file = r.hook_secret_file.as_deref().map(rel).unwrap_or_default();
    let hook_secret = match r.hook_secret_file.as_deref() {
        None => {
            p.add(
                key("hook_secret_file"),
                "required: a file holding the secret shared with HA's hook",
            );
            Vec::new()
        }
        Some(f) => {
            let path = rel(f);
            let secret = src
                .read(&path)
                .map_err(|e| format!("cannot read '{}': {e}", path.display()))
                .and_then(|raw| parse_secret(&path, raw));
            secret.unwrap_or_else(|m| {
                p.add(key("hook_secret_file"), m);
                Vec::new()
            })
        }
    };
    let username_raw = r.username.unwrap_or_else(|| "username_local".into());
    let username = UsernameRule::parse(&username_raw).unwrap_or_else(|| {
        p.add(
            key("username"),
            format!("'{username_raw}' is not one of username, username_local, email, email_local, attribute:NAME, attribute_local:NAME"),
        );
        UsernameRule::UsernameLocal
    });
    let admin_mfa = match r.admin_mfa.as_deref().unwrap_or("off") {
        "off" => AdminMfa::Off,
        "refuse" => AdminMfa::Refuse,
        "demote" => AdminMfa::Demote,
        other => {
            p.add(
                key("admin_mfa"),
                format!("'{other}' is not one of off, refuse, demote"),
            );
            AdminMfa::Off
        }
    };
    let idps = r.idps.unwrap_or_default();
    for i in &idps {
        if !idp_ids.contains(i) {
            p.add(key("idps"), format!("'{i}' is not a configured [[idp]] id"));
        }
    }
    let admin_groups = r.admin_groups.unwrap_or_default();
    let user_groups = r.user_groups.unwrap_or_default();
    let read_only_groups = r.read_only_groups.unwrap_or_default();
    if admin_groups.is_empty() && user_groups.is_empty() && read_only_groups.is_empty() {
        p.add(key("admin_groups"), "map at least one IdP group (admin_groups, user_groups or read_only_groups); nobody could log in");
    }
    let code_lifetime =
        parse_duration_or(p, &key("code_lifetime"), r.code_lifetime.as_deref(), 300);
    if code_lifetime > Duration::from_secs(900) || code_lifetime.is_zero() {
        p.add(key("code_lifetime"), "must be between 1s and 15m");
    }
    Some(HaInstance {
        display_name: r.display_name.unwrap_or_else(|| "Home Assistant".into()),
        id,
        external_url,
        internal_url,
        hook_secret,
        provider_id: r.provider_id,
        idps,
        policy: Policy {
            username,
            admin_groups,
            user_groups,
            read_only_groups,
            local_only_groups: r.local_only_groups.unwrap_or_default(),
            admin_mfa,
            mfa_contexts: r
                .mfa_contexts
                .unwrap_or_else(|| DEFAULT_MFA_CONTEXTS.iter().map(|s| s.to_string()).collect()),
        },
        code_lifetime,
        hook_secret_file,
    })
}

/// `external_url` as HA's frontend sees it: `location.origin`. The frontend
/// accepts an auth callback only when the `hassUrl` in its state equals its
/// own origin exactly, so the configured URL is reduced to its ASCII origin
/// (RFC 6454 §6.2): scheme and host in lower case, no default port, no
/// trailing slash. HA serves its frontend from the root, so a path, query or
/// user name is a mistake and refused.
pub fn external_origin(u: &str) -> Result<String, String> {
    check_base_url(u).map_err(|e| e.to_string())?;
    let parsed = url::Url::parse(u).map_err(|e| format!("'{u}' is not a valid URL ({e})"))?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(format!("'{u}' must not contain a user name or password"));
    }
    if parsed.query().is_some() || !matches!(parsed.path(), "" | "/") {
        return Err(format!(
            "'{u}' must be an origin only (Home Assistant serves from the root), e.g. https://ha.example.org"
        ));
    }
    Ok(parsed.origin().ascii_serialization())
}

/// A hook secret from the content of the file at `path` (named in
/// messages): the text without surrounding whitespace, at least 16 bytes.
pub fn parse_secret(path: &Path, raw: Vec<u8>) -> Result<Vec<u8>, String> {
    let text = String::from_utf8(raw).map_err(|_| format!("'{}' is not text", path.display()))?;
    let secret = text.trim().as_bytes().to_vec();
    if secret.len() < 16 {
        return Err(format!(
            "'{}' holds {} bytes; use at least 16 (e.g. openssl rand -hex 32)",
            path.display(),
            secret.len()
        ));
    }
    Ok(secret)
}
