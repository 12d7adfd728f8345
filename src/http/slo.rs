//! Single Logout endpoints. `/saml/logout` (GET or POST, same-site only)
//! starts SP-initiated logout; `/saml/slo` is our SingleLogoutService for
//! both bindings (SAML Bindings §3.4 HTTP-Redirect, §3.5 HTTP-POST): an IdP's
//! LogoutRequest or its LogoutResponse to ours. The flow is `saml::slo`.

use super::error::AppError;
use super::{form, pages, session, AppState};
use crate::routes;
use crate::saml::binding::{self, MessageKind};
use crate::saml::logout::{Arrived, Outgoing};
use crate::saml::slo;
use actix_web::cookie::Cookie;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(routes::SAML_LOGOUT, web::get().to(logout_get))
        .route(routes::SAML_LOGOUT, web::post().to(logout_post))
        .route(routes::SAML_SLO, web::get().to(slo_redirect))
        .route(routes::SAML_SLO, web::post().to(slo_post));
}

#[derive(Deserialize)]
struct LogoutParams {
    return_to: Option<String>,
}

async fn logout_get(
    st: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<LogoutParams>,
) -> Result<HttpResponse, AppError> {
    start(&st, &req, q.into_inner().return_to).await
}

async fn logout_post(
    st: web::Data<AppState>,
    req: HttpRequest,
    f: web::Form<LogoutParams>,
) -> Result<HttpResponse, AppError> {
    start(&st, &req, f.into_inner().return_to).await
}

/// Ends this browser's session, then goes on to the IdP when it has SLO.
async fn start(
    st: &AppState,
    req: &HttpRequest,
    return_to: Option<String>,
) -> Result<HttpResponse, AppError> {
    // A cross-site page must not sign anyone out (GET included).
    session::same_site(st, req)?;
    if let Some(rt) = &return_to {
        crate::saml::sp::check_return_to(rt)?;
    }
    let current = session::current(st, req).await?;
    // `begin` ends the session itself, so `end` below finds none to audit.
    let who = current.as_ref().map(|(_, s)| s.clone());
    let begun = slo::begin(
        &st.store,
        &st.config(),
        &st.idp_snapshot(),
        &st.keys.signing.key,
        current,
        return_to,
        st.clock.now(),
    )
    .await?;
    if let Some(s) = &who {
        session::audit_logout(st, s);
    }
    let gone = session::end(st, req).await?;
    Ok(send(begun, gone))
}

/// The answer for a begun logout, with the session cookie removed.
pub(super) fn send(begun: slo::Begun, gone: Cookie<'static>) -> HttpResponse {
    match begun {
        slo::Begun::ToIdp(out) => outgoing(out, Some(gone)),
        slo::Begun::Local(why) => HttpResponse::Ok()
            .cookie(gone)
            .content_type("text/html; charset=utf-8")
            .insert_header(("Cache-Control", "no-store"))
            .body(pages::signed_out_because(why)),
    }
}

/// A message to the IdP: a redirect, or a form that posts itself.
fn outgoing(out: Outgoing, cookie: Option<Cookie<'static>>) -> HttpResponse {
    let mut r = match &out {
        Outgoing::Redirect(_) => HttpResponse::Found(),
        Outgoing::Post { .. } => HttpResponse::Ok(),
    };
    r.insert_header(("Cache-Control", "no-store"));
    if let Some(c) = cookie {
        r.cookie(c);
    }
    match out {
        Outgoing::Redirect(url) => r.insert_header(("Location", url)).finish(),
        Outgoing::Post { action, fields } => {
            r.content_type("text/html; charset=utf-8")
                .body(pages::post_form_page(
                    "Signing out",
                    "Taking you to the identity provider to sign out…",
                    &action,
                    &fields,
                ))
        }
    }
}

/// HTTP-Redirect binding: the raw query carries the message and its
/// detached signature (SAML Bindings §3.4.4.1).
async fn slo_redirect(st: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, AppError> {
    let m = binding::decode_redirect(req.query_string())
        .map_err(crate::saml::logout::LogoutError::from)
        .map_err(slo::SloError::from)?;
    let relay = m.relay_state.clone();
    match m.kind {
        MessageKind::Request => from_idp(&st, Arrived::Redirect(m), relay.as_deref()).await,
        MessageKind::Response => answered(&st, Arrived::Redirect(m)).await,
    }
}

/// HTTP-POST binding (SAML Bindings §3.5.4): the message carries an
/// enveloped signature.
async fn slo_post(
    st: web::Data<AppState>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, AppError> {
    let [request, response, relay_state] =
        form::read(&req, body, ["SAMLRequest", "SAMLResponse", "RelayState"]).await?;
    let bad = |why: &str| AppError::BadRequest(format!("{why} (SAML Bindings §3.5.4)"));
    match (request, response) {
        (Some(r), None) => {
            let arrived = Arrived::post(&r).map_err(slo::SloError::from)?;
            from_idp(&st, arrived, relay_state.as_deref()).await
        }
        (None, Some(r)) => answered(&st, Arrived::post(&r).map_err(slo::SloError::from)?).await,
        (Some(_), Some(_)) => Err(bad("both SAMLRequest and SAMLResponse")),
        (None, None) => Err(bad("neither SAMLRequest nor SAMLResponse")),
    }
}

/// An IdP's LogoutRequest: end the sessions, answer the IdP.
async fn from_idp(
    st: &AppState,
    arrived: Arrived,
    relay_state: Option<&str>,
) -> Result<HttpResponse, AppError> {
    let a = slo::answer(
        &st.store,
        &st.config(),
        &st.idp_snapshot(),
        &st.keys.signing.key,
        arrived,
        relay_state,
        st.clock.now(),
    )
    .await?;
    Ok(outgoing(a.outgoing, None))
}

/// The IdP's LogoutResponse to ours: then the return target or the page.
async fn answered(st: &AppState, arrived: Arrived) -> Result<HttpResponse, AppError> {
    let after = slo::finish(
        &st.store,
        &st.config(),
        &st.idp_snapshot(),
        arrived,
        st.clock.now(),
    )
    .await?;
    Ok(match after {
        Some(to) => HttpResponse::SeeOther()
            .insert_header(("Location", to))
            .insert_header(("Cache-Control", "no-store"))
            .finish(),
        None => HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .insert_header(("Cache-Control", "no-store"))
            .body(pages::signed_out_because(
                "you are signed out here and at the identity provider",
            )),
    })
}
