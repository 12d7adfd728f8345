//! SAML endpoints: SP metadata, SP-initiated login (HTTP-Redirect), and the
//! ACS (HTTP-POST) with the replay check and session creation.

use super::error::AppError;
use super::{random_token, routes, session, sha256_hex, AppState};
use crate::saml::authn_request::{redirect_url, AuthnRequest};
use crate::saml::response::{self, Expect, InResponseTo};
use crate::store::Store;
use crate::xml::Limits;
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// How long a started login may take at the IdP.
const PENDING_TTL: Duration = Duration::from_secs(600);

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

/// A login we started: stored under its RelayState handle.
#[derive(Debug, Serialize, Deserialize)]
struct Pending {
    request_id: String,
    idp: String,
    return_to: String,
}

#[derive(Deserialize)]
struct LoginQuery {
    idp: Option<String>,
    return_to: Option<String>,
    /// Ask the IdP for a fresh sign-in (SAML Core §3.4.1 ForceAuthn).
    force_authn: Option<String>,
}

/// Only a path on this site: starts with one '/', no scheme, no authority,
/// no backslashes or control characters.
pub(crate) fn check_return_to(rt: &str) -> Result<(), AppError> {
    let bad = |why: &str| {
        Err(AppError::BadReturnTo(format!(
            "{why}: '{}'",
            rt.chars().take(100).collect::<String>()
        )))
    };
    if rt.len() > 2048 {
        return bad("too long");
    }
    if !rt.starts_with('/') || rt.starts_with("//") || rt.starts_with("/\\") {
        return bad("not a same-origin path");
    }
    if rt.chars().any(|c| c.is_control() || c == '\\') {
        return bad("control character or backslash");
    }
    Ok(())
}

async fn login(
    st: web::Data<AppState>,
    q: web::Query<LoginQuery>,
) -> Result<HttpResponse, AppError> {
    let cfg = &st.config;
    let idp = match q.idp.as_deref() {
        Some(id) => cfg
            .idp(id)
            .ok_or_else(|| AppError::UnknownIdp(id.chars().take(64).collect()))?,
        None => match cfg.idps.as_slice() {
            [one] => one,
            many => return Err(AppError::ChooseIdp(many.len())),
        },
    };
    let return_to = q
        .return_to
        .clone()
        .unwrap_or_else(|| routes::SESSION.to_owned());
    check_return_to(&return_to)?;

    // 160 random bits; the leading '_' makes it an NCName (SAML Core §1.3.4).
    let request_id = format!("_{}", super::random_hex(20));
    let handle = random_token(16)?;
    let pending = Pending {
        request_id: request_id.clone(),
        idp: idp.id.clone(),
        return_to,
    };
    let bytes = serde_json::to_vec(&pending).map_err(|e| AppError::Internal(e.to_string()))?;
    st.store
        .put(&format!("pending:{handle}"), &bytes, PENDING_TTL)
        .await?;

    let acs = cfg.acs_url();
    let req = AuthnRequest {
        id: &request_id,
        issue_instant: st.clock.now(),
        destination: &idp.sso_redirect,
        acs_url: &acs,
        sp_entity_id: &cfg.entity_id,
        force_authn: q.force_authn.as_deref() == Some("1"),
    };
    let url = redirect_url(
        &idp.sso_redirect,
        &req.to_xml(),
        &handle,
        &st.keys.signing.key,
    )
    .map_err(|e| AppError::Internal(e.to_string()))?;
    Ok(HttpResponse::Found()
        .insert_header(("Location", url))
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
    let cfg = &st.config;
    let encoded = form
        .saml_response
        .as_deref()
        .ok_or_else(|| AppError::BadRequest("no SAMLResponse in the POST".into()))?;
    // RelayState is our opaque handle (SAML Bindings §3.5.3); IdP-initiated
    // (unsolicited) login is not enabled, so it is required.
    let handle = form.relay_state.as_deref().ok_or_else(|| {
        AppError::RelayState("missing (unsolicited responses are not accepted)".into())
    })?;
    if handle.len() != 22
        || !handle
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(AppError::RelayState(
            "not a handle issued here (a URL or other value)".into(),
        ));
    }
    let pending: Pending = match st.store.get(&format!("pending:{handle}")).await? {
        None => return Err(AppError::RelayState("unknown or expired".into())),
        Some(b) => serde_json::from_slice(&b)
            .map_err(|e| AppError::Internal(format!("pending entry: {e}")))?,
    };
    // The IdP is the one chosen when the login started, never the Issuer.
    let idp = cfg.idp(&pending.idp).ok_or_else(|| {
        AppError::RelayState(format!("IdP '{}' is no longer configured", pending.idp))
    })?;
    let xml = response::decode_post(encoded, &Limits::MESSAGE)?;
    let now = st.clock.now();
    let acs_url = cfg.acs_url();
    let expect = Expect {
        sp_entity_id: Some(&cfg.entity_id),
        acs_url: Some(&acs_url),
        in_response_to: InResponseTo::Request(&pending.request_id),
        now,
        decryption_keys: &st.keys.decryption,
    };
    let accepted = response::validate(&xml, &idp.trust(), &expect)?;

    // Replay check (SAML Profiles §4.1.4.5): the (IdP, Assertion ID) pair is
    // taken once, atomically, and kept until the assertion could no longer
    // be accepted. A store failure fails the login (503).
    let ttl = ttl_until(accepted.replay_until, now);
    let replay_key = format!("replay:{}:{}", idp.id, sha256_hex(&accepted.assertion_id));
    if !st.store.put_if_absent(&replay_key, b"1", ttl).await? {
        return Err(AppError::Replay(accepted.assertion_id, idp.id.clone()));
    }
    // The pending request is single use: one assertion may answer it. The
    // entry is left to expire, so a repost of the same response still reaches
    // the replay check above and is named as a replay.
    if !st
        .store
        .put_if_absent(
            &format!("answered:{}", pending.request_id),
            b"1",
            PENDING_TTL,
        )
        .await?
    {
        return Err(AppError::AlreadyAnswered(pending.request_id));
    }

    log::info!(
        "login: idp={} subject={} signed_response={} signed_assertion={} encrypted={}",
        idp.id,
        sha256_hex(&accepted.identity.scoped_subject())
            .get(..12)
            .unwrap_or(""),
        accepted.signed_response,
        accepted.signed_assertion,
        accepted.encrypted
    );
    let cookie = session::create(&st, accepted.identity, now).await?;
    Ok(HttpResponse::SeeOther()
        .cookie(cookie)
        .insert_header(("Location", pending.return_to))
        .insert_header(("Cache-Control", "no-store"))
        .finish())
}

fn ttl_until(until: time::OffsetDateTime, now: time::OffsetDateTime) -> Duration {
    let secs = (until - now).whole_seconds().max(1);
    Duration::from_secs(secs.unsigned_abs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_to_must_be_a_local_path() {
        for ok in ["/", "/session", "/oidc/authorize?client_id=x&y=%2F"] {
            assert!(check_return_to(ok).is_ok(), "{ok}");
        }
        for bad in [
            "https://evil",
            "//evil.com/x",
            "/\\evil.com",
            "evil",
            "",
            "/x\ny",
            "javascript:alert(1)",
            "/a\\b",
        ] {
            assert!(check_return_to(bad).is_err(), "{bad}");
        }
    }
}
