//! The OpenID Connect provider's endpoints: discovery, JWKS, authorize
//! (GET or POST), token, userinfo and end_session. Each parses its request,
//! calls `crate::oidc` and maps the answer; the rules live there.

use super::error::{AppError, JsonError};
use super::{pages, session, AppState};
use crate::audit::{Event, Kind};
use crate::oidc::authorize::{self, AuthorizeParams, Current, IdpFacts, Outcome, Source};
use crate::oidc::error::OAuthError;
use crate::oidc::{grant, logout, token};
use crate::routes;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(routes::OIDC_DISCOVERY, web::get().to(discovery))
        .route(routes::OIDC_JWKS, web::get().to(jwks))
        .route(routes::OIDC_AUTHORIZE, web::get().to(authorize_get))
        .route(routes::OIDC_AUTHORIZE, web::post().to(authorize_post))
        .route(routes::OIDC_TOKEN, web::post().to(token_endpoint))
        .route(routes::OIDC_USERINFO, web::get().to(userinfo))
        .route(routes::OIDC_USERINFO, web::post().to(userinfo))
        .route(routes::OIDC_END_SESSION, web::get().to(end_session))
        .route(routes::OIDC_END_SESSION, web::post().to(end_session_post));
}

async fn discovery(st: web::Data<AppState>) -> HttpResponse {
    let config = st.config();
    let u = |p: &str| config.url(p);
    let algs = st.oidc_keys.algs(st.now());
    HttpResponse::Ok().insert_header(("Cache-Control", "public, max-age=300")).json(serde_json::json!({
        "issuer": config.public_url.as_str(),
        "authorization_endpoint": u(routes::OIDC_AUTHORIZE),
        "token_endpoint": u(routes::OIDC_TOKEN),
        "userinfo_endpoint": u(routes::OIDC_USERINFO),
        "jwks_uri": u(routes::OIDC_JWKS),
        "end_session_endpoint": u(routes::OIDC_END_SESSION),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "subject_types_supported": ["public"],
        "code_challenge_methods_supported": ["S256"],
        "id_token_signing_alg_values_supported": algs,
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "scopes_supported": crate::oidc::client::SCOPES,
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "name",
            "preferred_username", "given_name", "family_name", "email", "email_verified", "groups"],
        "authorization_response_iss_parameter_supported": true,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "claims_parameter_supported": false,
        "prompt_values_supported": ["none", "login"],
    }))
}

async fn jwks(st: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "public, max-age=60"))
        .json(st.oidc_keys.jwks(st.now()))
}

/// Decodes form-urlencoded parameters (a query string or a POST body).
fn parse<T: serde::de::DeserializeOwned>(raw: &[u8]) -> Result<T, String> {
    let text = std::str::from_utf8(raw).map_err(|e| e.to_string())?;
    web::Query::<T>::from_query(text)
        .map(|q| q.into_inner())
        .map_err(|e| e.to_string())
}

async fn authorize_get(
    st: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, AppError> {
    let q = req.query_string().to_owned();
    authorize_endpoint(&st, &req, q.as_bytes()).await
}

/// Largest authorization request body: every parameter kept is far
/// smaller (`crate::oidc::authorize` bounds), so 16 KiB leaves room.
pub const AUTHORIZE_BODY_LIMIT: usize = 16 * 1024;

async fn authorize_post(
    st: web::Data<AppState>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, AppError> {
    let body = body
        .to_bytes_limited(AUTHORIZE_BODY_LIMIT)
        .await
        .map_err(|_| AppError::TooLarge(AUTHORIZE_BODY_LIMIT))?
        .map_err(|e| AppError::BadRequest(format!("body: {e}")))?;
    authorize_endpoint(&st, &req, &body).await
}

async fn authorize_endpoint(
    st: &AppState,
    req: &HttpRequest,
    raw: &[u8],
) -> Result<HttpResponse, AppError> {
    let params: AuthorizeParams =
        parse(raw).map_err(|e| OAuthError::AuthorizePage(format!("malformed parameters ({e})")))?;
    // Parsed once: either a request parked during a login, or a fresh one.
    let source = match &params.resume {
        Some(handle) => Source::Resumed(Box::new(grant::unpark(&st.store, handle).await?)),
        None => Source::Fresh(Box::new(params)),
    };
    let current = session::current(st, req).await?;
    let idps = st.idp_snapshot();
    let ids = idps.ids();
    let domains: Vec<(&str, &str)> = idps
        .all()
        .iter()
        .flat_map(|i| i.domains.iter().map(|d| (d.as_str(), i.id.as_str())))
        .collect();
    let facts = IdpFacts {
        ids: &ids,
        domains: &domains,
        email_verified: current
            .as_ref()
            .is_some_and(|(_, s)| idps.get(&s.identity.idp).is_some_and(|i| i.email_verified)),
    };
    let current = current.as_ref().map(|(k, s)| Current {
        session_key: k.as_str(),
        session: s,
    });
    let outcome = authorize::authorize(
        &st.store,
        &st.config().oidc,
        &facts,
        source,
        current,
        st.now(),
    )
    .await?;
    Ok(match outcome {
        Outcome::ToClient {
            redirect_uri,
            params,
            state,
        } => back_to_client(st, &redirect_uri, &params, state.as_deref())?,
        Outcome::Login { handle, force, idp } => to_login(&handle, force, idp.as_deref()),
    })
}

/// The redirect back to the client (RFC 6749 §4.1.2, RFC 9207 `iss`).
fn back_to_client(
    st: &AppState,
    redirect_uri: &str,
    params: &[(&str, String)],
    state: Option<&str>,
) -> Result<HttpResponse, AppError> {
    let mut u = url::Url::parse(redirect_uri).map_err(|e| AppError::Internal(e.to_string()))?;
    {
        let mut q = u.query_pairs_mut();
        for (k, v) in params {
            q.append_pair(k, v);
        }
        if let Some(s) = state {
            q.append_pair("state", s);
        }
        q.append_pair("iss", st.config().public_url.as_str());
    }
    Ok(HttpResponse::Found()
        .insert_header(("Location", u.to_string()))
        .insert_header(("Cache-Control", "no-store"))
        .finish())
}

/// Through the SAML login (or the IdP chooser), then back to `resume`.
fn to_login(handle: &str, force: bool, idp: Option<&str>) -> HttpResponse {
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let back = enc(&format!("{}?resume={handle}", routes::OIDC_AUTHORIZE));
    let force_q = if force { "&force_authn=1" } else { "" };
    let to = match idp {
        Some(idp) => format!(
            "{}?idp={}&return_to={back}{force_q}",
            routes::SAML_LOGIN,
            enc(idp)
        ),
        None => format!("{}?return_to={back}{force_q}", routes::INDEX),
    };
    HttpResponse::Found()
        .insert_header(("Location", to))
        .insert_header(("Cache-Control", "no-store"))
        .finish()
}

async fn token_endpoint(
    st: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, JsonError> {
    let f: token::TokenRequest =
        parse(&body).map_err(|e| OAuthError::InvalidRequest(format!("malformed form ({e})")))?;
    let basic = req
        .headers()
        .get("Authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(token::basic_credentials);
    let config = st.config();
    let client = token::authenticate(&config.oidc, basic, &f)?;
    let now = st.now();
    // The id_token is signed on a blocking thread while the store redeems
    // the credential, and released only if that commit succeeded.
    let mut signing = None;
    let issued = token::exchange(&st.store, &config.oidc, client, &f, now, |g| {
        let unsigned =
            token::id_token(g, config.public_url.as_str(), st.oidc_keys.signer(now), now);
        signing = Some(web::block(move || unsigned.sign()));
    })
    .await?;
    let (grant, kind) = match f.grant_type.as_deref() {
        Some("refresh_token") => ("refresh_token", Kind::Refresh),
        _ => ("authorization_code", Kind::Token),
    };
    let g = &issued.grant;
    st.metrics.tokens.inc(&[&g.client_id, grant]);
    Event::new(kind)
        .identity(config.ops.audit_user, &g.identity)
        .client(&g.client_id)
        .emit();
    let idt = match signing {
        Some(s) => s
            .await
            .map_err(|e| OAuthError::Internal(format!("id_token signature: {e}")))??,
        None => return Err(OAuthError::Internal("the grant was not checked".into()).into()),
    };
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("Pragma", "no-cache"))
        .json(token::response(&issued, &idt)))
}

/// OIDC Core §5.3: the claims of a live access token, presented in the
/// Authorization header or (RFC 6750 §2.2) a form body.
async fn userinfo(
    st: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, JsonError> {
    let header = req
        .headers()
        .get("Authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::to_owned);
    let token = header
        .or_else(|| {
            url::form_urlencoded::parse(&body)
                .find(|(k, _)| k == "access_token")
                .map(|(_, v)| v.into_owned())
        })
        .ok_or_else(|| OAuthError::InvalidToken("no access token".into()))?;
    let c = grant::userinfo(&st.store, &token).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(serde_json::Value::Object(c)))
}

#[derive(Deserialize)]
struct EndSession {
    id_token_hint: Option<String>,
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
    client_id: Option<String>,
    /// Set by our own confirmation form.
    confirm: Option<String>,
}

/// RP-initiated logout 1.0: end the samlhub session, then go back only to a
/// registered post_logout_redirect_uri.
async fn end_session(
    st: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<EndSession>,
) -> Result<HttpResponse, AppError> {
    logout(&st, &req, q.into_inner()).await
}

/// The same with a form body (§2: the OP supports GET and POST).
async fn end_session_post(
    st: web::Data<AppState>,
    req: HttpRequest,
    f: web::Form<EndSession>,
) -> Result<HttpResponse, AppError> {
    logout(&st, &req, f.into_inner()).await
}

async fn logout(st: &AppState, req: &HttpRequest, q: EndSession) -> Result<HttpResponse, AppError> {
    // Echoed into Location and the confirmation form: bounded like the
    // authorization request's state.
    if q.state.as_deref().is_some_and(|s| s.len() > 2048) {
        return Err(AppError::BadRequest("end_session state is too long".into()));
    }
    let now = st.now();
    let hint = q
        .id_token_hint
        .as_deref()
        .and_then(|t| st.oidc_keys.verify_hint(t, now));
    let current = session::current(st, req).await?;
    if let Some((_, s)) = &current {
        let cookie = req
            .cookie(session::SESSION_COOKIE)
            .map(|c| c.value().to_owned())
            .unwrap_or_default();
        let ask = !logout::hint_is_for(hint.as_ref(), &s.identity)
            && !logout::confirmed(&cookie, q.confirm.as_deref());
        if ask {
            return Ok(HttpResponse::Ok()
                .content_type("text/html; charset=utf-8")
                .insert_header(("Cache-Control", "no-store"))
                .body(pages::confirm_sign_out(&pages::SignOutForm {
                    action: routes::OIDC_END_SESSION,
                    confirm: &logout::confirm_token(&cookie),
                    post_logout_redirect_uri: q.post_logout_redirect_uri.as_deref(),
                    state: q.state.as_deref(),
                    client_id: q.client_id.as_deref(),
                })));
        }
    }
    let hinted = hint.and_then(|c| c.get("aud").and_then(|a| a.as_str()).map(str::to_owned));
    let target = logout::post_logout_target(
        &st.config().oidc,
        q.client_id.as_deref(),
        hinted.as_deref(),
        q.post_logout_redirect_uri.as_deref(),
    );
    let target = match target {
        Some(uri) => {
            let mut to = url::Url::parse(&uri).map_err(|e| AppError::Internal(e.to_string()))?;
            if let Some(s) = &q.state {
                to.query_pairs_mut().append_pair("state", s);
            }
            Some(to.to_string())
        }
        None => None,
    };
    // A session from a SAML login at an IdP with Single Logout ends there
    // too; the IdP's answer then leads on to the same target.
    // One IdP set for the decision and the request it leads to: a reload in
    // between must not leave the person signed in here.
    let idps = st.idp_snapshot();
    if current
        .as_ref()
        .is_some_and(|(_, s)| crate::saml::slo::goes_to_idp(&idps, s))
    {
        // `begin` ends the session itself, so `end` below finds none to audit.
        let who = current.as_ref().map(|(_, s)| s.clone());
        let begun = crate::saml::slo::begin(
            &st.store,
            &st.config(),
            &idps,
            &st.keys.signing.key,
            current,
            target,
            st.clock.now(),
        )
        .await?;
        if let Some(s) = &who {
            session::audit_logout(st, s);
        }
        let gone = session::end(st, req).await?;
        return Ok(super::slo::send(begun, gone));
    }
    let gone = session::end(st, req).await?;
    Ok(match target {
        Some(to) => HttpResponse::Found()
            .cookie(gone)
            .insert_header(("Location", to))
            .finish(),
        None => HttpResponse::Ok()
            .cookie(gone)
            .content_type("text/html; charset=utf-8")
            .body(pages::signed_out()),
    })
}
