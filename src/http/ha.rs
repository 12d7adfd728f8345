//! Home Assistant login: the `/ha` code page, `/ha/login` (one click: runs
//! HA's login flow server-side and hands the browser HA's own auth code), and
//! `/ha/redeem`, which HA's `command_line` hook calls with the code.

use super::error::{AppError, JsonError};
use super::{pages, session, AppState};
use crate::audit::{Event, Kind};
use crate::config::ha::HaInstance;
use crate::config::Config;
use crate::ha::login;
use crate::ha::policy::HaLogin;
use crate::routes;
use crate::session::Session;
use actix_web::{web, HttpRequest, HttpResponse};
use base64::Engine;
use serde::Deserialize;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(routes::HA, web::get().to(page))
        .route(routes::HA_LOGIN, web::get().to(one_click))
        .route(routes::HA_REDEEM, web::post().to(redeem));
}

#[derive(Deserialize)]
struct InstanceQuery {
    instance: Option<String>,
}

fn instance<'a>(config: &'a Config, q: &InstanceQuery) -> Result<&'a HaInstance, AppError> {
    match q.instance.as_deref() {
        Some(id) => config.ha(id).ok_or_else(|| {
            AppError::BadRequest(format!(
                "unknown HA instance '{}'",
                id.chars().take(64).collect::<String>()
            ))
        }),
        None => match config.ha.as_slice() {
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
    let idps = st.idp_snapshot();
    let allowed: Vec<&str> = idps
        .all()
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

/// Applies the instance's policy and mints a code.
async fn admit_and_issue(
    st: &AppState,
    inst: &HaInstance,
    s: &Session,
) -> Result<(HaLogin, login::Issued), AppError> {
    let login = login::admit(&st.store, &inst.login(), &s.identity).await?;
    let issued = login::issue_code(&st.store, &inst.login(), &login, st.now()).await?;
    Ok((login, issued))
}

/// The session, or the redirect that gets one.
async fn session_or_redirect(
    st: &AppState,
    req: &HttpRequest,
    inst: &HaInstance,
    back: &str,
) -> Result<Result<Session, HttpResponse>, AppError> {
    Ok(match session::current(st, req).await? {
        Some((_, s)) => Ok(s),
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
    let config = st.config();
    let inst = instance(&config, &q)?;
    let s = match session_or_redirect(&st, &req, inst, &back_path(routes::HA, inst)).await? {
        Ok(s) => s,
        Err(redirect) => return Ok(redirect),
    };
    let (login, issued) = admit_and_issue(&st, inst, &s).await?;
    log::info!(
        "ha: code issued instance={} username={} group={}",
        inst.id,
        crate::logsafe::esc(&login.username),
        login.group.as_str()
    );
    let notice = issued.previous.notice();
    Ok(code_page(inst, &login, &issued.code, notice.as_deref()))
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
    let config = st.config();
    let inst = instance(&config, &q)?;
    let s = match session_or_redirect(&st, &req, inst, &back_path(routes::HA_LOGIN, inst)).await? {
        Ok(s) => s,
        Err(redirect) => return Ok(redirect),
    };
    let (login, issued) = admit_and_issue(&st, inst, &s).await?;
    let previous = issued.previous.notice();
    let flow = crate::outbound::ha_login::LoginFlow {
        internal_url: inst.internal_url.clone(),
        client_id: inst.client_id(),
        redirect_uri: format!("{}/?auth_callback=1", inst.external_url),
        provider_id: inst.provider_id.clone(),
        username: login.username.clone(),
        password: issued.code,
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
                crate::logsafe::esc(&login.username)
            );
            Ok(HttpResponse::Found()
                .insert_header((
                    "Location",
                    // storeToken=true: HA's frontend keeps the tokens in
                    // localStorage only when the callback carries it, so a
                    // reload stays signed in.
                    format!(
                        "{}/?auth_callback=1&code={}&state={}&storeToken=true",
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
                "ha: one-click login failed instance={} username={}: {}",
                inst.id,
                crate::logsafe::esc(&login.username),
                crate::logsafe::esc(&why)
            );
            // The code sent to HA may have been used up; show a fresh one.
            let again = login::issue_code(&st.store, &inst.login(), &login, st.now()).await?;
            let mut notice =
                format!("One-click sign-in did not work ({why}). Use this code instead.");
            if let Some(p) = previous {
                notice = format!("{p} {notice}");
            }
            Ok(code_page(inst, &login, &again.code, Some(&notice)))
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
/// Counted in `samlhub_ha_redeems_total` by result.
async fn redeem(
    st: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, JsonError> {
    let r = redeem_checked(&st, &req, &body).await;
    let result = r.as_ref().map_or_else(|e| e.0.code(), |_| "success");
    st.metrics.ha_redeems.inc(&[result]);
    r
}

async fn redeem_checked(
    st: &AppState,
    req: &HttpRequest,
    body: &[u8],
) -> Result<HttpResponse, JsonError> {
    let refused = |why: String| JsonError(AppError::Redeem(login::RedeemError::Refused(why)));
    let b: RedeemBody = serde_json::from_slice(body)
        .map_err(|_| refused("body is not {instance, username, code}".into()))?;
    let config = st.config();
    let inst = config.ha(&b.instance).ok_or_else(|| {
        refused(format!(
            "unknown instance '{}'",
            b.instance.chars().take(64).collect::<String>()
        ))
    })?;
    let presented = req
        .headers()
        .get("Authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("")
        .as_bytes();
    if !login::hook_secret_matches(&inst.login(), presented) {
        return Err(refused(format!(
            "wrong hook secret for instance '{}'",
            inst.id
        )));
    }
    let t = login::redeem(
        &st.store,
        &inst.login(),
        config.public_url.as_str(),
        &b.username,
        &b.code,
        st.now(),
    )
    .await?;
    Event::new(Kind::HaRedeem)
        .user_in(config.ops.audit_user, &inst.id, &b.username)
        .client(&inst.id)
        .emit();
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(serde_json::json!({ "token": t })))
}
