//! SAML endpoints: SP metadata, SP-initiated login (HTTP-Redirect, or an
//! auto-submitting HTTP-POST form), the ACS (HTTP-POST, IdP-initiated
//! responses included when allowed) and the same-site second hop. The flow
//! itself, with the browser binding, is `saml::sp`; here is only the login cookie: under
//! https `__Host-samlhub_login` with `SameSite=None; Secure`, so it comes
//! along on the IdP's cross-site POST; under http `samlhub_login` with
//! `SameSite=Lax`, which it does not, so the ACS continues through
//! `/saml/continue`.

use super::error::AppError;
use super::{form, pages, session, AppState};
use crate::audit::{Event, Kind};
use crate::routes;
use crate::saml::sp;
use crate::store::records::Batch;
use crate::store::{Committed, StoreError};
use actix_web::cookie::{Cookie, SameSite};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(routes::SAML_METADATA, web::get().to(metadata))
        .route(routes::SAML_LOGIN, web::get().to(login))
        .route(routes::SAML_ACS, web::post().to(acs))
        .route(routes::SAML_CONTINUE, web::post().to(continue_login));
}

fn login_cookie_name(st: &AppState) -> &'static str {
    if st.config().https() {
        "__Host-samlhub_login"
    } else {
        "samlhub_login"
    }
}

/// The login cookie this request carries, if it has the right shape.
fn login_secret(st: &AppState, req: &HttpRequest) -> Option<String> {
    req.cookie(login_cookie_name(st))
        .map(|c| c.value().to_owned())
        .filter(|v| sp::is_browser_secret(v))
}

fn login_cookie(st: &AppState, value: String) -> Cookie<'static> {
    let secs = i64::try_from(sp::PENDING_TTL.as_secs()).unwrap_or(600);
    let b = Cookie::build(login_cookie_name(st), value)
        .path("/")
        .http_only(true)
        .max_age(actix_web::cookie::time::Duration::seconds(secs));
    if st.config().https() {
        b.secure(true).same_site(SameSite::None).finish()
    } else {
        b.same_site(SameSite::Lax).finish()
    }
}

async fn metadata(st: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/samlmetadata+xml")
        .body(st.live().metadata_xml.clone())
}

#[derive(Deserialize)]
struct LoginQuery {
    idp: Option<String>,
    return_to: Option<String>,
    /// Ask the IdP for a fresh sign-in (SAML Core §3.4.1 ForceAuthn).
    force_authn: Option<String>,
    /// An email domain: the IdP whose `domains` list it, without the chooser.
    domain_hint: Option<String>,
}

async fn login(
    st: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<LoginQuery>,
) -> Result<HttpResponse, AppError> {
    let q = q.into_inner();
    let force_authn = q.force_authn.as_deref() == Some("1");
    let config = st.config();
    let hinted = q
        .domain_hint
        .as_deref()
        .and_then(|d| config.idp_for_domain(d));
    if q.idp.is_none() && hinted.is_none() && config.idps.len() != 1 {
        // No choice made: the chooser, keeping where to go afterwards.
        if let Some(r) = &q.return_to {
            sp::check_return_to(r)?;
        }
        return super::chooser::page(&st, &req, q.return_to.as_deref(), force_authn).await;
    }
    // One secret per browser, kept across parallel logins in several tabs.
    let secret = match login_secret(&st, &req) {
        Some(s) => s,
        None => sp::new_browser_secret()?,
    };
    let chosen = q.idp.as_deref().or(hinted.map(|h| h.id.as_str()));
    let idp = sp::choose_idp(&st.idp_snapshot(), chosen)?;
    let return_to = q.return_to.unwrap_or_else(|| routes::SESSION.to_owned());
    let begun = sp::begin(
        &st.store,
        &config,
        &st.keys.signing.key,
        sp::Start {
            idp: &idp,
            return_to,
            force_authn,
            browser_secret: &secret,
        },
        st.clock.now(),
    )
    .await?;
    let mut res = match &begun.to_idp {
        sp::ToIdp::Redirect(url) => {
            let mut r = HttpResponse::Found();
            r.insert_header(("Location", url.as_str()));
            r
        }
        sp::ToIdp::Post { .. } => {
            let mut r = HttpResponse::Ok();
            r.content_type("text/html; charset=utf-8");
            r
        }
    };
    if let Some(c) = super::chooser::remember(config.https(), &idp.id) {
        res.cookie(c);
    }
    res.cookie(login_cookie(&st, secret))
        .insert_header(("Cache-Control", "no-store"));
    Ok(match begun.to_idp {
        sp::ToIdp::Redirect(_) => res.finish(),
        sp::ToIdp::Post {
            action,
            saml_request,
            relay_state,
        } => res.body(pages::post_to_idp(
            &action,
            &saml_request,
            &relay_state,
            &idp.display_name,
        )),
    })
}

/// The ACS: the response is verified by `sp::finish`, the session's records
/// join what consuming it writes, and one commit writes them all (a replay
/// or an already answered request writes nothing).
async fn acs(
    st: web::Data<AppState>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, AppError> {
    let [saml_response, relay_state] =
        form::read(&req, body, ["SAMLResponse", "RelayState"]).await?;
    let (outcome, mut consume) = match sp::finish(
        &st.store,
        &st.config(),
        &st.idp_snapshot(),
        &st.keys.decryption,
        relay_state.as_deref(),
        saml_response.as_deref(),
        login_secret(&st, &req).as_deref(),
        st.clock.now(),
    )
    .await
    {
        Ok(o) => o,
        Err(e) => return Err(refused(&st, e).await),
    };
    let next = match outcome {
        sp::AcsOutcome::Done(done) => Next::SignIn(Box::new(
            SignIn::prepare(&st, *done, consume.batch()).await?,
        )),
        sp::AcsOutcome::Continue { ticket } => Next::Page(
            HttpResponse::Ok()
                .content_type("text/html; charset=utf-8")
                .insert_header(("Cache-Control", "no-store"))
                .body(pages::continue_login(&ticket)),
        ),
        sp::AcsOutcome::Confirm {
            ticket,
            browser_secret,
            identity,
            idp_name,
        } => Next::Page(
            HttpResponse::Ok()
                .cookie(login_cookie(&st, browser_secret))
                .content_type("text/html; charset=utf-8")
                .insert_header(("Cache-Control", "no-store"))
                .body(pages::confirm_unsolicited(&ticket, &identity, &idp_name)),
        ),
    };
    let done = match &next {
        Next::SignIn(s) => s.session.apply(&st, consume.batch()).await,
        Next::Page(_) => consume.batch().apply(&st.store).await,
    };
    if let Err(e) = done
        .map_err(sp::LoginError::from)
        .and_then(|d| consume.settle(d))
    {
        return Err(refused(&st, e).await);
    }
    match next {
        Next::SignIn(s) => s.written(&st),
        Next::Page(page) => Ok(page),
    }
}

/// What the ACS answers once the response is consumed.
enum Next {
    SignIn(Box<SignIn>),
    Page(HttpResponse),
}

/// Counts and notes a refused login for the setup page's status (the
/// reason is the log's text), and gives the error to answer with.
async fn refused(st: &AppState, e: sp::LoginError) -> AppError {
    let e = login_failed(st, e);
    let why = format!("{}: {}", e.code(), e);
    if let Err(se) = crate::setup::note_failure(&st.store, &why, st.now()).await {
        log::warn!("setup status: {se}");
    }
    e
}

#[derive(Deserialize)]
struct ContinueForm {
    ticket: Option<String>,
}

/// The same-site second hop: the browser's own login cookie must match.
async fn continue_login(
    st: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<ContinueForm>,
) -> Result<HttpResponse, AppError> {
    let done = sp::complete(
        &st.store,
        form.ticket.as_deref(),
        login_secret(&st, &req).as_deref(),
    )
    .await
    .map_err(|e| login_failed(&st, e))?;
    signed_in(&st, done).await
}

/// Counts a refused login under its error code; the IdP is named only
/// where the error knows it.
fn login_failed(st: &AppState, e: sp::LoginError) -> AppError {
    let config = st.config();
    let idp = match &e {
        sp::LoginError::Replay { idp, .. } => config.idp(idp).map(|i| i.id.as_str()),
        _ => None,
    };
    let e = AppError::from(e);
    st.metrics.logins.inc(&[idp.unwrap_or("unknown"), e.code()]);
    e
}

/// A sign-in whose session records are in a batch, not written yet.
struct SignIn {
    session: session::Prepared,
    identity: crate::identity::Identity,
    return_to: String,
}

impl SignIn {
    /// Puts the session, its Single Logout index entry and the IdP's
    /// sign-in status into `batch`.
    async fn prepare(
        st: &AppState,
        done: sp::Finished,
        batch: &mut Batch,
    ) -> Result<Self, AppError> {
        crate::setup::note_success_in(batch, &done.identity.idp, st.now())?;
        let session = session::prepare(st, done.identity.clone(), done.slo, batch).await?;
        Ok(Self {
            session,
            identity: done.identity,
            return_to: done.return_to,
        })
    }

    /// Once the batch is written: counts and audits the login, and sends
    /// the browser on with its session cookie.
    fn written(self, st: &AppState) -> Result<HttpResponse, AppError> {
        st.metrics.logins.inc(&[&self.identity.idp, "success"]);
        Event::new(Kind::Login)
            .identity(st.config().ops.audit_user, &self.identity)
            .emit();
        let cookie = self.session.cookie();
        Ok(HttpResponse::SeeOther()
            .cookie(cookie)
            .insert_header(("Location", self.return_to))
            .insert_header(("Cache-Control", "no-store"))
            .finish())
    }
}

/// Signs in a login released by the same-site second hop: its records in
/// one batch.
async fn signed_in(st: &AppState, done: sp::Finished) -> Result<HttpResponse, AppError> {
    let mut batch = Batch::new();
    let sign_in = SignIn::prepare(st, done, &mut batch).await?;
    match sign_in.session.apply(st, &mut batch).await? {
        Committed::Written => sign_in.written(st),
        _ => Err(StoreError::Unavailable(sp::RECORDS_CHANGED.into()).into()),
    }
}
