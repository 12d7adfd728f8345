//! SAML endpoints: SP metadata, SP-initiated login (HTTP-Redirect) and the
//! ACS (HTTP-POST). The flow itself is `saml::sp`.

use super::error::AppError;
use super::{session, AppState};
use crate::routes;
use crate::saml::sp;
use actix_web::{web, HttpResponse};
use serde::Deserialize;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(routes::SAML_METADATA, web::get().to(metadata))
        .route(routes::SAML_LOGIN, web::get().to(login))
        .route(routes::SAML_ACS, web::post().to(acs));
}

async fn metadata(st: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/samlmetadata+xml")
        .body(st.metadata_xml.clone())
}

#[derive(Deserialize)]
struct LoginQuery {
    idp: Option<String>,
    return_to: Option<String>,
    /// Ask the IdP for a fresh sign-in (SAML Core §3.4.1 ForceAuthn).
    force_authn: Option<String>,
}

async fn login(
    st: web::Data<AppState>,
    q: web::Query<LoginQuery>,
) -> Result<HttpResponse, AppError> {
    let q = q.into_inner();
    let idp = sp::choose_idp(&st.config, q.idp.as_deref())?;
    let return_to = q.return_to.unwrap_or_else(|| routes::SESSION.to_owned());
    let begun = sp::begin(
        &st.store,
        &st.config,
        &st.keys.signing.key,
        idp,
        return_to,
        q.force_authn.as_deref() == Some("1"),
        st.clock.now(),
    )
    .await?;
    Ok(HttpResponse::Found()
        .insert_header(("Location", begun.redirect_url))
        .insert_header(("Cache-Control", "no-store"))
        .finish())
}

#[derive(Deserialize)]
struct AcsForm {
    #[serde(rename = "SAMLResponse")]
    saml_response: Option<String>,
    #[serde(rename = "RelayState")]
    relay_state: Option<String>,
}

async fn acs(st: web::Data<AppState>, form: web::Form<AcsForm>) -> Result<HttpResponse, AppError> {
    let now = st.clock.now();
    let done = sp::finish(
        &st.store,
        &st.config,
        &st.keys.decryption,
        form.relay_state.as_deref(),
        form.saml_response.as_deref(),
        now,
    )
    .await?;
    let cookie = session::start(&st, done.identity).await?;
    Ok(HttpResponse::SeeOther()
        .cookie(cookie)
        .insert_header(("Location", done.return_to))
        .insert_header(("Cache-Control", "no-store"))
        .finish())
}
