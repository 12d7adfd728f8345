//! `[oidc]` and `[[oidc.client]]`: the OpenID Connect provider's settings and
//! its registered relying parties. Client secrets are configured only as
//! hashes (`client_secret_hash = "sha256:<hex>"`, see `samlhub oidc-secret`).

use super::{parse_duration_or, Problems};
use crate::oidc::client::{Client, IdTokenAlg, Oidc, SCOPES};
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Default, Deserialize)]
pub(super) struct RawOidc {
    id_token_alg: Option<String>,
    access_token_lifetime: Option<String>,
    refresh_token_lifetime: Option<String>,
    #[serde(default)]
    client: Vec<RawClient>,
    #[serde(flatten)]
    unknown: BTreeMap<String, toml::Value>,
}

#[derive(Debug, Default, Deserialize)]
struct RawClient {
    client_id: Option<String>,
    client_secret_hash: Option<String>,
    public: Option<bool>,
    redirect_uris: Option<Vec<String>>,
    post_logout_redirect_uris: Option<Vec<String>>,
    scopes: Option<Vec<String>>,
    idps: Option<Vec<String>>,
    required_group: Option<String>,
    require_pkce: Option<bool>,
    required_groups: Option<Vec<String>>,
    home_url: Option<String>,
    #[serde(flatten)]
    unknown: BTreeMap<String, toml::Value>,
}

/// `sha256:<64 hex>` → the digest.
pub fn parse_secret_hash(s: &str) -> Option<[u8; 32]> {
    crate::crypto::hex_decode(s.strip_prefix("sha256:")?)?
        .try_into()
        .ok()
}

/// What `client_secret_hash` should hold for `secret`.
pub fn secret_hash(secret: &str) -> String {
    format!("sha256:{}", crate::crypto::sha256_hex(secret))
}

pub(super) fn load(
    r: RawOidc,
    idp_ids: &[String],
    p: &mut Problems,
    warnings: &mut Vec<String>,
) -> Oidc {
    for k in r.unknown.keys() {
        p.add(format!("oidc.{k}"), "unknown key");
    }
    let id_token_alg = match r.id_token_alg.as_deref().unwrap_or("RS256") {
        "RS256" => IdTokenAlg::Rs256,
        "ES256" => IdTokenAlg::Es256,
        other => {
            p.add(
                "oidc.id_token_alg",
                format!("'{other}' is not RS256 or ES256"),
            );
            IdTokenAlg::Rs256
        }
    };
    let access_token_lifetime = parse_duration_or(
        p,
        "oidc.access_token_lifetime",
        r.access_token_lifetime.as_deref(),
        600,
    );
    let refresh_token_lifetime = parse_duration_or(
        p,
        "oidc.refresh_token_lifetime",
        r.refresh_token_lifetime.as_deref(),
        8 * 3600,
    );
    let mut clients: Vec<Client> = Vec::new();
    for (i, c) in r.client.into_iter().enumerate() {
        let key = |k: &str| format!("oidc.client[{i}].{k}");
        for k in c.unknown.keys() {
            p.add(key(k), "unknown key");
        }
        let client_id = c.client_id.unwrap_or_default();
        if client_id.is_empty() || client_id.chars().any(|ch| ch.is_control() || ch == ' ') {
            p.add(key("client_id"), "required, without spaces");
        }
        if clients.iter().any(|x| x.client_id == client_id) {
            p.add(
                key("client_id"),
                format!("'{client_id}' is registered twice"),
            );
        }
        let public = c.public.unwrap_or(false);
        if public && c.require_pkce == Some(false) {
            p.add(
                key("require_pkce"),
                "a public client always uses PKCE (RFC 9700 §2.1.1); remove require_pkce = false",
            );
        }
        let secret_sha256 = match (public, c.client_secret_hash.as_deref()) {
            (true, None) => None,
            (true, Some(_)) => {
                p.add(key("client_secret_hash"), "a public client has no secret");
                None
            }
            (false, None) => {
                p.add(key("client_secret_hash"), "required for a confidential client (or set public = true); make one with `samlhub oidc-secret`");
                None
            }
            (false, Some(h)) => {
                let parsed = parse_secret_hash(h);
                if parsed.is_none() {
                    p.add(
                        key("client_secret_hash"),
                        "must be sha256:<64 hex digits>; make one with `samlhub oidc-secret`",
                    );
                }
                parsed
            }
        };
        let redirect_uris = c.redirect_uris.unwrap_or_default();
        if redirect_uris.is_empty() {
            p.add(
                key("redirect_uris"),
                "at least one exact redirect URI is required",
            );
        }
        for u in &redirect_uris {
            match url::Url::parse(u) {
                Ok(parsed) if parsed.fragment().is_none() && !parsed.cannot_be_a_base() => {}
                _ => p.add(
                    key("redirect_uris"),
                    format!("'{u}' is not an absolute URI without a fragment"),
                ),
            }
        }
        let scopes = c
            .scopes
            .unwrap_or_else(|| SCOPES.iter().map(|s| s.to_string()).collect());
        for s in &scopes {
            if !SCOPES.contains(&s.as_str()) {
                p.add(
                    key("scopes"),
                    format!("'{s}' is not one of {}", SCOPES.join(", ")),
                );
            }
        }
        let idps = c.idps.unwrap_or_default();
        for id in &idps {
            if !idp_ids.contains(id) {
                p.add(
                    key("idps"),
                    format!("'{id}' is not a configured [[idp]] id"),
                );
            }
        }
        let mut required_groups = c.required_groups.unwrap_or_default();
        if let Some(g) = c.required_group {
            warnings.push(format!(
                "oidc.client[{i}].required_group is deprecated: write required_groups = [\"{g}\"]"
            ));
            required_groups.push(g);
        }
        let home_url = c.home_url.filter(|u| match url::Url::parse(u) {
            Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => true,
            _ => {
                p.add(key("home_url"), format!("'{u}' is not an http(s) URL"));
                false
            }
        });
        let mut scopes = scopes;
        if !scopes.iter().any(|s| s == "openid") {
            scopes.push("openid".into());
        }
        clients.push(Client {
            client_id,
            secret_sha256,
            redirect_uris,
            post_logout_redirect_uris: c.post_logout_redirect_uris.unwrap_or_default(),
            scopes,
            idps,
            required_group: None,
            require_pkce: public || c.require_pkce.unwrap_or(false),
            required_groups,
            home_url,
        });
    }
    Oidc {
        id_token_alg,
        access_token_lifetime,
        refresh_token_lifetime,
        clients,
    }
}
