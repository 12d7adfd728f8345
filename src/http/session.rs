//! Server-side sessions: a random 256-bit cookie whose SHA-256 names the
//! store entry, so the store never holds a usable cookie. Also the front
//! page, `/session` (HTML or JSON) and `/logout`.

use super::error::AppError;
use super::{pages, random_token, routes, sha256_hex, AppState};
use crate::identity::Identity;
use crate::store::Store;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use time::OffsetDateTime;

pub const SESSION_COOKIE: &str = "samlhub_session";

#[derive(Debug, Serialize, Deserialize)]
pub struct SessionData {
    pub identity: Identity,
    /// Unix seconds.
    pub created: i64,
    pub expires: i64,
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(routes::INDEX, web::get().to(index))
        .route(routes::HEALTH, web::get().to(health))
        .route(routes::SESSION, web::get().to(show))
        .route(routes::LOGOUT, web::post().to(logout));
}

/// The store key of the session a cookie names.
pub fn store_key(cookie_value: &str) -> String {
    key(cookie_value)
}

fn key(cookie_value: &str) -> String {
    format!("session:{}", sha256_hex(cookie_value))
}

/// Stores a session for `identity` and returns its cookie. It ends at the
/// configured lifetime or the IdP's SessionNotOnOrAfter, whichever is first.
pub async fn create(
    st: &AppState,
    identity: Identity,
    now: OffsetDateTime,
) -> Result<Cookie<'static>, AppError> {
    let mut expires = now.unix_timestamp() + st.config.session_lifetime.as_secs() as i64;
    if let Some(s) = identity.session_not_on_or_after {
        expires = expires.min(s);
    }
    let ttl = Duration::from_secs((expires - now.unix_timestamp()).max(1).unsigned_abs());
    let id = random_token(32)?;
    let data = SessionData {
        identity,
        created: now.unix_timestamp(),
        expires,
    };
    let bytes = serde_json::to_vec(&data).map_err(|e| AppError::Internal(e.to_string()))?;
    st.store.put(&key(&id), &bytes, ttl).await?;
    Ok(Cookie::build(SESSION_COOKIE, id)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(st.config.https())
        .max_age(actix_web::cookie::time::Duration::seconds(
            ttl.as_secs() as i64
        ))
        .finish())
}

/// The session of this request with its store key, if any.
pub async fn current_with_key(
    st: &AppState,
    req: &HttpRequest,
) -> Result<Option<(String, SessionData)>, AppError> {
    let Some(c) = req.cookie(SESSION_COOKIE) else {
        return Ok(None);
    };
    let k = key(c.value());
    Ok(current(st, req).await?.map(|s| (k, s)))
}

/// The session of this request, if any.
pub async fn current(st: &AppState, req: &HttpRequest) -> Result<Option<SessionData>, AppError> {
    let Some(c) = req.cookie(SESSION_COOKIE) else {
        return Ok(None);
    };
    let Some(bytes) = st.store.get(&key(c.value())).await? else {
        return Ok(None);
    };
    let data: SessionData = serde_json::from_slice(&bytes)
        .map_err(|e| AppError::Internal(format!("session entry: {e}")))?;
    if data.expires <= st.clock.now().unix_timestamp() {
        return Ok(None);
    }
    Ok(Some(data))
}

async fn health() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok\n")
}

#[derive(Deserialize)]
struct IndexQuery {
    return_to: Option<String>,
    force_authn: Option<String>,
}

async fn index(
    st: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<IndexQuery>,
) -> Result<HttpResponse, AppError> {
    let return_to = q
        .return_to
        .clone()
        .filter(|r| super::saml::check_return_to(r).is_ok());
    let mut suffix = String::new();
    if let Some(r) = &return_to {
        suffix.push_str("&return_to=");
        suffix.extend(url::form_urlencoded::byte_serialize(r.as_bytes()));
    }
    if q.force_authn.as_deref() == Some("1") {
        // Keep an application's demand for a fresh sign-in (prompt=login, max_age).
        suffix.push_str("&force_authn=1");
    }
    // The front page still renders when the store is down.
    let who = current(&st, &req).await.unwrap_or(None);
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .body(pages::index(
            &st.config.idps,
            who.as_ref().map(|s| &s.identity),
            &suffix,
        )))
}

fn wants_json(req: &HttpRequest) -> bool {
    req.query_string().split('&').any(|kv| kv == "format=json")
        || req
            .headers()
            .get("Accept")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("application/json"))
}

async fn show(st: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, AppError> {
    let json = wants_json(&req);
    let Some(s) = current(&st, &req).await? else {
        if json {
            return Ok(HttpResponse::Unauthorized()
                .insert_header(("Cache-Control", "no-store"))
                .json(serde_json::json!({"error": "no_session"})));
        }
        return Err(AppError::NoSession);
    };
    if json {
        let i = &s.identity;
        return Ok(HttpResponse::Ok()
            .insert_header(("Cache-Control", "no-store"))
            .json(serde_json::json!({
                "idp": i.idp, "subject": i.subject, "username": i.username, "name": i.name,
                "email": i.email, "groups": i.groups, "given_name": i.given_name,
                "family_name": i.family_name, "authn_context": i.authn_context,
                "name_id_format": i.name_id_format, "expires": s.expires,
            })));
    }
    let idp_name = st
        .config
        .idp(&s.identity.idp)
        .map(|i| i.display_name.as_str())
        .unwrap_or("");
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .body(pages::session(&s.identity, idp_name)))
}

async fn logout(st: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, AppError> {
    if let Some(c) = req.cookie(SESSION_COOKIE) {
        st.store.delete(&key(c.value())).await?;
    }
    let mut gone = Cookie::build(SESSION_COOKIE, "")
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .finish();
    gone.make_removal();
    Ok(HttpResponse::SeeOther()
        .cookie(gone)
        .insert_header(("Location", routes::INDEX))
        .finish())
}
