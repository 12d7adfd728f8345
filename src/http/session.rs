//! The session cookie, the front page, `/healthz`, `/session` (HTML or
//! JSON) and `/logout`. Sessions themselves are `crate::session`.

use super::error::{AppError, JsonError};
use super::{pages, AppState};
use crate::identity::Identity;
use crate::routes;
use crate::saml::slo::Filing;
use crate::session::{self as sessions, Session};
use crate::store::records::{Batch, Key};
use crate::store::{Committed, StoreError};
use actix_web::cookie::{Cookie, SameSite};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

pub const SESSION_COOKIE: &str = "samlhub_session";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(routes::INDEX, web::get().to(index))
        .route(routes::HEALTH, web::get().to(health))
        .route(routes::SESSION, web::get().to(show))
        .route(routes::LOGOUT, web::post().to(logout));
}

/// A session whose records are in a login's batch, not written yet.
pub struct Prepared {
    cookie: Cookie<'static>,
    /// Its Single Logout filing, for a SAML login with a NameID.
    filing: Option<Filing>,
}

/// Puts a session for `identity` into `batch`, and, for a SAML login with
/// `slo` (NameID, SessionIndex), its Single Logout index entry (read now)
/// with the condition that the index is unchanged. Apply the batch with
/// [`Prepared::apply`], which then gives the cookie.
pub async fn prepare(
    st: &AppState,
    identity: Identity,
    slo: Option<crate::saml::logout::SloLink>,
    batch: &mut Batch,
) -> Result<Prepared, AppError> {
    let now = st.now();
    let idp = identity.idp.clone();
    let (started, key, s) =
        sessions::new_linked(identity, slo.clone(), st.config().session_lifetime, now)?;
    batch.put(&key, &s, started.ttl)?;
    let filing = match slo {
        Some(slo) => {
            let filing = Filing {
                idp,
                slo,
                session: key,
                expires: s.expires,
            };
            filing.put_into(&st.store, batch, now).await?;
            Some(filing)
        }
        None => None,
    };
    let cookie = Cookie::build(SESSION_COOKIE, started.cookie_value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(st.config().https())
        .max_age(actix_web::cookie::time::Duration::seconds(
            i64::try_from(started.ttl.as_secs()).unwrap_or(i64::MAX),
        ))
        .finish();
    Ok(Prepared { cookie, filing })
}

impl Prepared {
    /// Applies `batch`, which holds this session's records and whatever the
    /// login adds ([`Batch::apply`]); with a Single Logout filing, through
    /// [`Filing::apply`], which files the session again if a login of the
    /// same person changed the index meanwhile.
    pub async fn apply(&self, st: &AppState, batch: &mut Batch) -> Result<Committed, StoreError> {
        match &self.filing {
            Some(filing) => filing.apply(&st.store, batch, st.now()).await,
            None => batch.apply(&st.store).await,
        }
    }

    /// The session cookie, once the batch was written.
    pub fn cookie(self) -> Cookie<'static> {
        self.cookie
    }
}

/// The live session of this request with its store key, if any.
pub async fn current(
    st: &AppState,
    req: &HttpRequest,
) -> Result<Option<(Key<Session>, Session)>, AppError> {
    let Some(c) = req.cookie(SESSION_COOKIE) else {
        return Ok(None);
    };
    let found = sessions::find(&st.store, c.value(), st.now()).await?;
    if let Some((_, s)) = &found {
        // A refusal of this request names the signed-in person.
        crate::audit::note_identity(st.config().ops.audit_user, &s.identity);
    }
    Ok(found)
}

/// The audit event of a session ended by its holder. Callers that end it by
/// other means (Single Logout's `slo::begin`) emit it themselves once done.
pub fn audit_logout(st: &AppState, s: &Session) {
    crate::audit::Event::new(crate::audit::Kind::Logout)
        .identity(st.config().ops.audit_user, &s.identity)
        .emit();
}

/// Ends this request's session, if any, and returns the removal cookie.
pub async fn end(st: &AppState, req: &HttpRequest) -> Result<Cookie<'static>, AppError> {
    if let Some(c) = req.cookie(SESSION_COOKIE) {
        if let Some(s) = sessions::find(&st.store, c.value(), st.now())
            .await?
            .map(|f| f.1)
        {
            audit_logout(st, &s);
        }
        sessions::end(&st.store, c.value()).await?;
    }
    let mut gone = Cookie::build(SESSION_COOKIE, "")
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(st.config().https())
        .finish();
    gone.make_removal();
    Ok(gone)
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
        .as_deref()
        .filter(|r| crate::saml::sp::check_return_to(r).is_ok());
    if return_to.is_none() {
        // Signed in with nowhere to go: the portal.
        if let Ok(Some((_, s))) = current(&st, &req).await {
            let admin = super::setup::is_admin(&st, &req).await.unwrap_or(false);
            return Ok(HttpResponse::Ok()
                .content_type("text/html; charset=utf-8")
                .insert_header(("Cache-Control", "no-store"))
                .body(super::portal::portal(&st.config(), &s.identity, admin)));
        }
    }
    super::chooser::page(&st, &req, return_to, q.force_authn.as_deref() == Some("1")).await
}

fn wants_json(req: &HttpRequest) -> bool {
    req.query_string().split('&').any(|kv| kv == "format=json")
        || req
            .headers()
            .get("Accept")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("application/json"))
}

async fn show(st: web::Data<AppState>, req: HttpRequest) -> actix_web::Result<HttpResponse> {
    if wants_json(&req) {
        return Ok(show_json(&st, &req).await?);
    }
    Ok(show_page(&st, &req).await?)
}

async fn show_json(st: &AppState, req: &HttpRequest) -> Result<HttpResponse, JsonError> {
    let (_, s) = current(st, req).await?.ok_or(AppError::NoSession)?;
    let i = &s.identity;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(serde_json::json!({
            "idp": i.idp, "subject": i.subject, "username": i.username, "name": i.name,
            "email": i.email, "groups": i.groups, "given_name": i.given_name,
            "family_name": i.family_name, "authn_context": i.authn_context,
            "name_id_format": i.name_id_format, "expires": s.expires,
        })))
}

async fn show_page(st: &AppState, req: &HttpRequest) -> Result<HttpResponse, AppError> {
    let (_, s) = current(st, req).await?.ok_or(AppError::NoSession)?;
    let idp = st.idp(&s.identity.idp);
    let idp_name = idp.as_ref().map(|i| i.display_name.as_str()).unwrap_or("");
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .body(pages::session(&s.identity, idp_name)))
}

/// Whether a state-changing POST came from this site: Fetch Metadata's
/// `Sec-Fetch-Site` when the browser sends it, else `Origin` (RFC 6454 §7)
/// compared with the public URL's origin. Programs that send neither (curl,
/// a script) are not a cross-site threat and pass. The refusal quotes the
/// header bounded but raw: every error text is escaped where it is logged.
pub fn same_site(st: &AppState, req: &HttpRequest) -> Result<(), AppError> {
    let header = |n: &str| req.headers().get(n).and_then(|v| v.to_str().ok());
    if let Some(site) = header("Sec-Fetch-Site") {
        return match site {
            "same-origin" | "same-site" | "none" => Ok(()),
            other => Err(AppError::CrossSite(format!(
                "Sec-Fetch-Site: {}",
                other.chars().take(64).collect::<String>()
            ))),
        };
    }
    match header("Origin") {
        None => Ok(()),
        Some(o) if o == st.config().public_url.origin() => Ok(()),
        Some(o) => Err(AppError::CrossSite(format!(
            "Origin: {}",
            o.chars().take(200).collect::<String>()
        ))),
    }
}

async fn logout(st: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, AppError> {
    same_site(&st, &req)?;
    let gone = end(&st, &req).await?;
    Ok(HttpResponse::SeeOther()
        .cookie(gone)
        .insert_header(("Location", routes::INDEX))
        .finish())
}
