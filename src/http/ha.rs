//! Home Assistant login: the `/ha` code page, `/ha/login` (one click: runs
//! HA's login flow server-side and hands the browser HA's own auth code), and
//! `/ha/redeem`, which HA's `command_line` hook calls with the code.

use super::error::AppError;
use super::session::{self, SessionData};
use super::{pages, random_token, routes, sha256_hex, AppState};
use crate::config::ha::HaInstance;
use crate::ha::code;
use crate::ha::policy::{self, HaLogin};
use crate::ha::token::{self, Claims, Group};
use crate::store::{Store, StoreError};
use actix_web::{web, HttpRequest, HttpResponse};
use base64::Engine;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Failed attempts after which a code is void.
pub const MAX_ATTEMPTS: u32 = 5;
/// How long a username stays bound to the person who first used it.
const BINDING_TTL: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(routes::HA, web::get().to(page))
        .route(routes::HA_LOGIN, web::get().to(one_click))
        .route(routes::HA_REDEEM, web::post().to(redeem));
}

/// A code waiting for the hook, stored under `hacode:<instance>:<username>`.
#[derive(Debug, Serialize, Deserialize)]
struct CodeEntry {
    /// SHA-256 of the normalised code.
    hash: String,
    expires: i64,
    attempts: u32,
    name: String,
    group: Group,
    local_only: bool,
}

fn code_key(inst: &str, username: &str) -> String {
    format!("hacode:{inst}:{username}")
}

#[derive(Deserialize)]
struct InstanceQuery {
    instance: Option<String>,
}

fn instance<'a>(st: &'a AppState, q: &InstanceQuery) -> Result<&'a HaInstance, AppError> {
    match q.instance.as_deref() {
        Some(id) => st.config.ha(id).ok_or_else(|| {
            AppError::BadRequest(format!(
                "unknown HA instance '{}'",
                id.chars().take(64).collect::<String>()
            ))
        }),
        None => match st.config.ha.as_slice() {
            [one] => Ok(one),
            [] => Err(AppError::BadRequest(
                "no [[ha]] instance is configured".into(),
            )),
            _ => Err(AppError::BadRequest(
                "several HA instances: choose one with ?instance=".into(),
            )),
        },
    }
}

/// Where to send someone without a session: straight to the IdP when only
/// one may be used, else to the front page's IdP list.
fn login_redirect(st: &AppState, inst: &HaInstance, back: &str) -> HttpResponse {
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let allowed: Vec<&str> = st
        .config
        .idps
        .iter()
        .map(|i| i.id.as_str())
        .filter(|id| inst.idps.is_empty() || inst.idps.iter().any(|a| a == id))
        .collect();
    let to = match allowed.as_slice() {
        [one] => format!(
            "{}?idp={}&return_to={}",
            routes::SAML_LOGIN,
            enc(one),
            enc(back)
        ),
        _ => format!("{}?return_to={}", routes::INDEX, enc(back)),
    };
    HttpResponse::Found()
        .insert_header(("Location", to))
        .insert_header(("Cache-Control", "no-store"))
        .finish()
}

/// Applies the instance's policy and binds the username to this person.
async fn admit(st: &AppState, inst: &HaInstance, s: &SessionData) -> Result<HaLogin, AppError> {
    let who = &s.identity;
    if !inst.idps.is_empty() && !inst.idps.contains(&who.idp) {
        return Err(AppError::HaIdpNotAllowed(who.idp.clone()));
    }
    let login = policy::decide(&inst.policy, who)?;
    // One username, one person: the first subject to use it keeps it.
    let bind_key = format!("hauser:{}:{}", inst.id, login.username);
    let subject = who.scoped_subject();
    if !st
        .store
        .put_if_absent(&bind_key, subject.as_bytes(), BINDING_TTL)
        .await?
    {
        let owner = st.store.get(&bind_key).await?;
        if owner.as_deref() != Some(subject.as_bytes()) {
            return Err(AppError::HaUsernameTaken(login.username));
        }
    }
    Ok(login)
}

/// Mints a code for `login`, replacing any earlier one for that username.
async fn issue_code(st: &AppState, inst: &HaInstance, login: &HaLogin) -> Result<String, AppError> {
    let mut rnd = [0u8; code::LEN];
    openssl::rand::rand_bytes(&mut rnd).map_err(|e| AppError::Internal(format!("RNG: {e}")))?;
    let c = code::from_random(&rnd).ok_or_else(|| AppError::Internal("code".into()))?;
    let normalized = code::normalize(&c).ok_or_else(|| AppError::Internal("code".into()))?;
    let entry = CodeEntry {
        hash: code::hash(&normalized),
        expires: st.clock.now().unix_timestamp() + inst.code_lifetime.as_secs() as i64,
        attempts: 0,
        name: login.name.clone(),
        group: login.group,
        local_only: login.local_only,
    };
    let bytes = serde_json::to_vec(&entry).map_err(|e| AppError::Internal(e.to_string()))?;
    st.store
        .put(
            &code_key(&inst.id, &login.username),
            &bytes,
            inst.code_lifetime,
        )
        .await?;
    Ok(c)
}

/// The session, or the redirect that gets one.
async fn session_or_redirect(
    st: &AppState,
    req: &HttpRequest,
    inst: &HaInstance,
    back: &str,
) -> Result<Result<SessionData, HttpResponse>, AppError> {
    Ok(match session::current(st, req).await? {
        Some(s) => Ok(s),
        None => Err(login_redirect(st, inst, back)),
    })
}

fn back_path(base: &str, inst: &HaInstance) -> String {
    format!(
        "{base}?instance={}",
        url::form_urlencoded::byte_serialize(inst.id.as_bytes()).collect::<String>()
    )
}

async fn page(
    st: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<InstanceQuery>,
) -> Result<HttpResponse, AppError> {
    let inst = instance(&st, &q)?;
    let s = match session_or_redirect(&st, &req, inst, &back_path(routes::HA, inst)).await? {
        Ok(s) => s,
        Err(redirect) => return Ok(redirect),
    };
    let login = admit(&st, inst, &s).await?;
    let c = issue_code(&st, inst, &login).await?;
    log::info!(
        "ha: code issued instance={} username={} group={}",
        inst.id,
        login.username,
        login.group.as_str()
    );
    Ok(code_page(inst, &login, &c, None))
}

fn code_page(inst: &HaInstance, login: &HaLogin, c: &str, notice: Option<&str>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .body(pages::ha_code(&pages::HaCodeView {
            instance_name: &inst.display_name,
            instance_id: &inst.id,
            external_url: &inst.external_url,
            username: &login.username,
            group: login.group.as_str(),
            demoted: login.demoted,
            code: c,
            lifetime_secs: inst.code_lifetime.as_secs(),
            notice,
        }))
}

async fn one_click(
    st: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<InstanceQuery>,
) -> Result<HttpResponse, AppError> {
    let inst = instance(&st, &q)?;
    let s = match session_or_redirect(&st, &req, inst, &back_path(routes::HA_LOGIN, inst)).await? {
        Ok(s) => s,
        Err(redirect) => return Ok(redirect),
    };
    let login = admit(&st, inst, &s).await?;
    let c = issue_code(&st, inst, &login).await?;
    let flow = LoginFlow {
        internal_url: inst.internal_url.clone(),
        client_id: inst.client_id(),
        redirect_uri: format!("{}/?auth_callback=1", inst.external_url),
        provider_id: inst.provider_id.clone(),
        username: login.username.clone(),
        password: c,
    };
    match web::block(move || flow.run()).await {
        Ok(Ok(ha_code)) => {
            let state = base64::engine::general_purpose::STANDARD.encode(
                serde_json::json!({ "hassUrl": inst.external_url, "clientId": inst.client_id() })
                    .to_string(),
            );
            let enc =
                |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            log::info!(
                "ha: one-click login instance={} username={}",
                inst.id,
                login.username
            );
            Ok(HttpResponse::Found()
                .insert_header((
                    "Location",
                    format!(
                        "{}/?auth_callback=1&code={}&state={}",
                        inst.external_url,
                        enc(&ha_code),
                        enc(&state)
                    ),
                ))
                .insert_header(("Cache-Control", "no-store"))
                .insert_header(("Referrer-Policy", "no-referrer"))
                .finish())
        }
        other => {
            let why = match other {
                Ok(Err(e)) => e,
                Err(e) => format!("internal: {e}"),
                Ok(Ok(_)) => String::new(),
            };
            log::warn!(
                "ha: one-click login failed instance={} username={}: {why}",
                inst.id,
                login.username
            );
            // The code sent to HA may have been used up; show a fresh one.
            let c = issue_code(&st, inst, &login).await?;
            let notice = format!("One-click sign-in did not work ({why}). Use this code instead.");
            Ok(code_page(inst, &login, &c, Some(&notice)))
        }
    }
}

/// HA's login flow, as its frontend drives it (POST /auth/login_flow, then
/// the username/password step), run from the hub against HA's internal URL.
struct LoginFlow {
    internal_url: String,
    client_id: String,
    redirect_uri: String,
    provider_id: Option<String>,
    username: String,
    password: String,
}

impl LoginFlow {
    fn run(&self) -> Result<String, String> {
        let agent = crate::outbound::agent(Duration::from_secs(15));
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
        )?;
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

#[derive(Deserialize)]
struct RedeemBody {
    instance: String,
    username: String,
    code: String,
}

/// Redeems a code for a signed token. Every refusal is the same 403.
async fn redeem(
    st: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let refused = |why: String| Err(AppError::RedeemRefused(why));
    let b: RedeemBody = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(_) => return refused("body is not {instance, username, code}".into()),
    };
    let Some(inst) = st.config.ha(&b.instance) else {
        return refused(format!(
            "unknown instance '{}'",
            b.instance.chars().take(64).collect::<String>()
        ));
    };
    let presented = req
        .headers()
        .get("Authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("")
        .as_bytes();
    if presented.len() != inst.hook_secret.len()
        || !openssl::memcmp::eq(presented, &inst.hook_secret)
    {
        return refused(format!("wrong hook secret for instance '{}'", inst.id));
    }
    let username = policy::normalize_username(&b.username);
    let key = code_key(&inst.id, &username);
    let unavailable = AppError::RedeemUnavailable;
    // Taking the entry makes each attempt atomic: two attempts can never
    // both see the same code (store contract: take).
    let Some(raw) = st.store.take(&key).await.map_err(unavailable)? else {
        return refused(format!(
            "instance '{}': no live code for '{username}' (never issued, used, expired or voided)",
            inst.id
        ));
    };
    let mut entry: CodeEntry = serde_json::from_slice(&raw)
        .map_err(|e| unavailable(StoreError::Corrupt(format!("code entry: {e}"))))?;
    let now = st.clock.now().unix_timestamp();
    if now >= entry.expires {
        return refused(format!(
            "instance '{}': code for '{username}' expired",
            inst.id
        ));
    }
    let typed = code::normalize(&b.code)
        .map(|c| code::hash(&c))
        .unwrap_or_default();
    if typed.len() != entry.hash.len()
        || !openssl::memcmp::eq(typed.as_bytes(), entry.hash.as_bytes())
    {
        entry.attempts += 1;
        if entry.attempts < MAX_ATTEMPTS {
            let left = Duration::from_secs((entry.expires - now).max(1).unsigned_abs());
            let bytes =
                serde_json::to_vec(&entry).map_err(|e| AppError::Internal(e.to_string()))?;
            // If a new code was issued meanwhile, that one wins.
            st.store
                .put_if_absent(&key, &bytes, left)
                .await
                .map_err(unavailable)?;
        }
        return refused(format!(
            "instance '{}': wrong code for '{username}' (failed attempt {} of {MAX_ATTEMPTS})",
            inst.id, entry.attempts
        ));
    }
    let claims = Claims {
        iss: st.config.public_url.to_string(),
        aud: inst.id.clone(),
        sub: username.clone(),
        name: entry.name,
        group: entry.group,
        local_only: entry.local_only,
        iat: now,
        exp: now + token::MAX_LIFETIME_SECS,
        jti: random_token(12)?,
    };
    let t =
        token::mint(&claims, &inst.hook_secret).map_err(|e| AppError::Internal(e.to_string()))?;
    log::info!(
        "ha: code redeemed instance={} username={} group={} jti={}",
        inst.id,
        username,
        claims.group.as_str(),
        sha256_hex(&claims.jti).get(..8).unwrap_or("")
    );
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(serde_json::json!({ "token": t })))
}
