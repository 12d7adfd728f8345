//! `/setup`: what to paste where, made from the running configuration. For
//! administrators only: the browser that redeemed the first-start setup
//! token (`/setup?token=…`, one time, then a `samlhub_setup` cookie for an
//! hour), or someone signed in with a group listed in `admin_groups`.
//! The token exchange and the sign-in status are `crate::setup`.

use super::error::AppError;
use super::pages::{h, layout_page, COPY_SCRIPT};
use super::{session, AppState};
use crate::config::Config;
use crate::routes;
use crate::setup::{self as admin, LoginStatus, Refusal};
use actix_web::cookie::{Cookie, SameSite};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

pub const SETUP_COOKIE: &str = "samlhub_setup";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(routes::SETUP, web::get().to(setup));
}

#[derive(Deserialize)]
struct SetupQuery {
    token: Option<String>,
}

fn no_store(mut r: actix_web::HttpResponseBuilder) -> actix_web::HttpResponseBuilder {
    r.insert_header(("Cache-Control", "no-store"))
        .insert_header(("Referrer-Policy", "no-referrer"));
    r
}

/// Whether this request comes from an administrator.
pub async fn is_admin(st: &AppState, req: &HttpRequest) -> Result<bool, AppError> {
    if let Some(c) = req.cookie(SETUP_COOKIE) {
        if admin::granted(&st.store, c.value()).await? {
            return Ok(true);
        }
    }
    let admins = &st.config().admin_groups;
    Ok(match session::current(st, req).await? {
        Some((_, s)) => s.identity.groups.iter().any(|g| admins.contains(g)),
        None => false,
    })
}

async fn setup(
    st: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<SetupQuery>,
) -> Result<HttpResponse, AppError> {
    if let Some(token) = q.token.as_deref() {
        if !admin::redeem_token(&st.config().data_dir, token)
            .map_err(|e| AppError::Internal(e.to_string()))?
        {
            log::warn!("setup: a wrong or used setup token was presented");
            return Err(AppError::SetupRefused(Refusal::BadToken));
        }
        let value =
            crate::crypto::random_token(32).map_err(|e| AppError::Internal(e.to_string()))?;
        admin::grant(&st.store, &value).await?;
        log::info!("setup: the setup token was redeemed");
        let cookie = Cookie::build(SETUP_COOKIE, value)
            .path(crate::routes::SETUP)
            .http_only(true)
            .same_site(SameSite::Strict)
            .secure(st.config().https())
            .max_age(actix_web::cookie::time::Duration::seconds(
                i64::try_from(admin::GRANT_LIFETIME.as_secs()).unwrap_or(3600),
            ))
            .finish();
        // Drop the token from the address bar and history.
        return Ok(no_store(HttpResponse::SeeOther())
            .cookie(cookie)
            .insert_header(("Location", crate::routes::SETUP))
            .finish());
    }
    if !is_admin(&st, &req).await? {
        return Err(AppError::SetupRefused(Refusal::NotAdmin));
    }
    let idps = st.idp_snapshot();
    let mut status = Vec::new();
    for i in idps.all() {
        status.push(admin::last_success(&st.store, &i.id).await?);
    }
    let failure = admin::last_failure(&st.store).await?;
    let hook = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "/usr/local/bin/samlhub".into());
    Ok(no_store(HttpResponse::Ok())
        .content_type("text/html; charset=utf-8")
        .body(page(
            &st.config(),
            idps.all(),
            &hook,
            &status,
            failure.as_ref(),
            st.now(),
        )))
}

/// A value with a copy button; `id` names it for the button and for tests.
fn copyable(label: &str, id: &str, value: &str) -> String {
    format!(
        "<tr><th>{}</th><td><code id=\"{id}\">{}</code> <button class=\"btn\" type=\"button\" data-copy=\"{id}\">Copy</button></td></tr>",
        h(label),
        h(value),
        id = h(id)
    )
}

fn block(id: &str, text: &str) -> String {
    format!(
        "<pre><code id=\"{id}\">{}</code></pre><p><button class=\"btn\" type=\"button\" data-copy=\"{id}\">Copy</button></p>",
        h(text),
        id = h(id)
    )
}

/// A YAML double-quoted scalar (a JSON string is one).
fn y(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// The `command_line` provider block HA needs for `args`.
fn command_line_yaml(provider_id: &str, command: &str, args: &[String]) -> String {
    let args: Vec<String> = args.iter().map(|a| y(a)).collect();
    format!(
        "homeassistant:\n  auth_providers:\n    - type: command_line\n      id: {}\n      name: \"Single sign-on\"\n      command: {}\n      args: [{}]\n      meta: true\n    - type: homeassistant\n",
        y(provider_id),
        y(command),
        args.join(", ")
    )
}

fn ago(now: i64, at: i64) -> String {
    let s = (now - at).max(0);
    match s {
        0..=119 => format!("{s} s ago"),
        120..=7199 => format!("{} min ago", s / 60),
        _ => format!("{} h ago", s / 3600),
    }
}

fn cert_expiry(der: &[u8]) -> String {
    openssl::x509::X509::from_der(der)
        .map(|c| c.not_after().to_string())
        .unwrap_or_else(|_| "unreadable".into())
}

fn page(
    c: &Config,
    idps: &[std::sync::Arc<crate::config::Idp>],
    hook: &str,
    status: &[Option<LoginStatus>],
    failure: Option<&LoginStatus>,
    now: i64,
) -> String {
    let entity = c.entity_id.as_str();
    let acs = c.acs_url();
    let md = c.metadata_url();
    let mut b = String::from("<p>Give these values to your identity provider.</p><table>");
    b.push_str(&copyable("SP entityID", "entity-id", entity));
    b.push_str(&copyable("ACS URL", "acs-url", &acs));
    b.push_str(&copyable("SP metadata URL", "metadata-url", &md));
    b.push_str("</table>");

    b.push_str("<h2>Identity providers</h2>");
    b.push_str(&format!(
        "<h3>Microsoft Entra ID</h3><ol><li>Enterprise applications → New application → Create your own application (non-gallery).</li>\
<li>Single sign-on → SAML → Basic SAML Configuration: Identifier (Entity ID) <code>{e}</code>, Reply URL (ACS) <code>{a}</code>.</li>\
<li>Attributes &amp; Claims → Add a group claim (security groups).</li>\
<li>Copy the App Federation Metadata Url into <code>[[idp]] metadata_url</code>, with <code>profile = \"entra\"</code>.</li></ol>\
<h3>Keycloak</h3><ol><li>Clients → Import client, and paste the SP metadata URL <code>{m}</code>; or create a SAML client with Client ID <code>{e}</code> and Master SAML Processing URL <code>{a}</code>.</li>\
<li>Client scopes → add a Group list mapper named <code>groups</code>, full group path off.</li>\
<li><code>metadata_url = \"https://KEYCLOAK/realms/REALM/protocol/saml/descriptor\"</code>, <code>profile = \"keycloak\"</code>.</li></ol>\
<h3>Authentik</h3><ol><li>Applications → Providers → Create → SAML Provider: ACS URL <code>{a}</code>, Audience <code>{e}</code>, Service Provider Binding Post.</li>\
<li>Create an Application that uses it; add a property mapping that sends <code>groups</code>.</li>\
<li>From the provider's page, copy the metadata download URL into <code>metadata_url</code> (<code>profile = \"generic\"</code>).</li></ol>\
<h3>SimpleSAMLphp</h3><ol><li>In <code>metadata/saml20-sp-remote.php</code>: <code>$metadata['{e}'] = ['AssertionConsumerService' =&gt; '{a}', 'NameIDFormat' =&gt; 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent'];</code></li>\
<li><code>metadata_url = \"https://IDP/saml2/idp/metadata.php\"</code>.</li></ol>",
        e = h(entity),
        a = h(&acs),
        m = h(&md),
    ));

    b.push_str("<h2>Status</h2>");
    if idps.is_empty() {
        b.push_str("<p>No IdP is configured yet.</p>");
    } else {
        b.push_str("<table><tr><th>IdP</th><th>Metadata</th><th>Certificate expires</th><th>Last sign-in</th></tr>");
        for (i, st) in idps.iter().zip(status) {
            let certs: Vec<String> = i
                .metadata
                .signing_certs
                .iter()
                .map(|d| cert_expiry(d))
                .collect();
            let last = st
                .as_ref()
                .map(|s| format!("succeeded {}", ago(now, s.at)))
                .unwrap_or_else(|| "none yet".into());
            b.push_str(&format!(
                "<tr><td>{} (<code>{}</code>)</td><td>{}, {}</td><td>{}</td><td>{}</td></tr>",
                h(&i.display_name),
                h(&i.id),
                h(&i.metadata_source),
                if i.metadata_origin.is_some() {
                    "refreshed in the background"
                } else {
                    "read at start-up"
                },
                h(&certs.join("; ")),
                h(&last)
            ));
        }
        b.push_str("</table>");
    }
    if let Some(f) = failure {
        b.push_str(&format!(
            "<p>Last failed sign-in ({}): <code id=\"last-failure\">{}</code></p>",
            h(&ago(now, f.at)),
            h(&f.failure)
        ));
    }

    for inst in &c.ha {
        let pid = inst.provider_id.as_deref().unwrap_or("samlhub");
        let hub = c.public_url.as_str();
        let secret = inst.hook_secret_file.display().to_string();
        let tail = |secret: &str| -> Vec<String> {
            [
                "--hub",
                hub,
                "--secret-file",
                secret,
                "--instance",
                inst.id.as_str(),
            ]
            .iter()
            .map(|s| s.to_string())
            .collect()
        };
        let mut core = vec!["ha-verify".to_string()];
        core.extend(tail(&secret));
        let container_secret = format!("/config/samlhub-{}.secret", inst.id);
        let mut py = vec!["/config/samlhub_hook.py".to_string()];
        py.extend(tail(&container_secret));
        b.push_str(&format!(
            "<h2>Home Assistant: {}</h2>",
            h(&inst.display_name)
        ));
        if inst.provider_id.is_none() {
            b.push_str("<p>Set <code>provider_id = \"samlhub\"</code> in this <code>[[ha]]</code> section so one-click sign-in finds the provider below.</p>");
        }
        b.push_str(&format!(
            "<h3>HA Core (samlhub on the same machine)</h3><p>Make the secret readable by HA's user.</p>{}",
            block(&format!("ha-core-{}", inst.id), &command_line_yaml(pid, hook, &core))
        ));
        b.push_str(&format!(
            "<h3>HA Container and HA OS (the Python hook)</h3><p>Copy <code>contrib/ha/samlhub_hook.py</code> to <code>/config/samlhub_hook.py</code> and the secret file to <code>{}</code>.</p>{}",
            h(&container_secret),
            block(
                &format!("ha-container-{}", inst.id),
                &command_line_yaml(pid, "/usr/local/bin/python3", &py)
            )
        ));
    }

    let discovery = c.url(crate::routes::OIDC_DISCOVERY);
    b.push_str("<h2>OpenID Connect</h2><table>");
    b.push_str(&copyable("Discovery URL", "discovery-url", &discovery));
    b.push_str("</table>");
    for client in &c.oidc.clients {
        if client
            .redirect_uris
            .iter()
            .any(|u| u.ends_with("/auth/oidc/callback"))
        {
            let yaml = format!(
                "auth_oidc:\n  client_id: {}\n{}  discovery_url: {}\n  display_name: \"Single sign-on\"\n  claims:\n    display_name: \"name\"\n    username: \"preferred_username\"\n    groups: \"groups\"\n",
                y(&client.client_id),
                if client.is_public() {
                    ""
                } else {
                    "  client_secret: \"…\"   # the secret printed by `samlhub oidc-secret`\n"
                },
                y(&discovery)
            );
            b.push_str(&format!(
                "<h3>hass-oidc-auth: <code>{}</code></h3>{}",
                h(&client.client_id),
                block(&format!("auth-oidc-{}", client.client_id), &yaml)
            ));
        }
    }
    b.push_str(&format!("<script>{COPY_SCRIPT}</script>"));
    layout_page("Setup", &b)
}
