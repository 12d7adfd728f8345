//! The authorization code flow: `/oidc/authorize` (GET or POST) and
//! `/oidc/token`. Codes are single use, live 60 s and are bound to the client,
//! the redirect URI and the PKCE challenge. A reused code revokes what it
//! issued. Refresh tokens rotate, and reuse revokes the family (RFC 9700 §2.2.2,
//! §4.14.2). Both are bounded by the samlhub session, and so by the IdP's
//! SessionNotOnOrAfter.

use super::error::AppError;
use super::oidc::{access_key, family_key, id_token, Grant};
use super::session::{self, SessionData};
use super::{random_token, routes, sha256_hex, AppState};
use crate::config::oidc::Client;
use crate::oidc::authorize::{self, AuthorizeParams, AuthzError, ValidRequest};
use crate::oidc::claims;
use crate::store::Store;
use actix_web::{web, HttpRequest, HttpResponse};
use base64::Engine;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Authorization codes live at most this long (the issue: ≤ 60 s).
const CODE_TTL: Duration = Duration::from_secs(60);
/// A parked authorization request waits this long for the SAML login.
const PARKED_TTL: Duration = Duration::from_secs(600);

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(routes::OIDC_AUTHORIZE, web::get().to(authorize_get))
        .route(routes::OIDC_AUTHORIZE, web::post().to(authorize_post))
        .route(routes::OIDC_TOKEN, web::post().to(token));
}

/// An authorization request waiting for a (fresh) SAML login.
#[derive(Serialize, Deserialize)]
struct Parked {
    req: ValidRequest,
    created: i64,
}

#[derive(Serialize, Deserialize)]
struct CodeRecord {
    grant: Grant,
    redirect_uri: String,
    code_challenge: Option<String>,
}

#[derive(Deserialize)]
struct Resume {
    resume: Option<String>,
}

async fn authorize_get(
    st: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, AppError> {
    let q = req.query_string().to_owned();
    authorize(st, req, q.as_bytes()).await
}

async fn authorize_post(
    st: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    authorize(st, req, &body).await
}

fn parse<T: serde::de::DeserializeOwned>(raw: &[u8]) -> Result<T, AppError> {
    serde_urlencoded_from(raw)
        .map_err(|e| AppError::OidcPage(format!("malformed parameters ({e})")))
}

fn serde_urlencoded_from<T: serde::de::DeserializeOwned>(raw: &[u8]) -> Result<T, String> {
    web::Query::<T>::from_query(std::str::from_utf8(raw).map_err(|e| e.to_string())?)
        .map(|q| q.into_inner())
        .map_err(|e| e.to_string())
}

/// The redirect back to the client with `params` (RFC 6749 §4.1.2, RFC 9207 `iss`).
fn back_to_client(
    redirect_uri: &str,
    params: &[(&str, &str)],
    state: Option<&str>,
    iss: &str,
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
        q.append_pair("iss", iss);
    }
    Ok(HttpResponse::Found()
        .insert_header(("Location", u.to_string()))
        .insert_header(("Cache-Control", "no-store"))
        .finish())
}

async fn authorize(
    st: web::Data<AppState>,
    req: HttpRequest,
    raw: &[u8],
) -> Result<HttpResponse, AppError> {
    let iss = st.config.public_url.to_string();
    let now = st.clock.now().unix_timestamp();
    let resume: Resume = parse(raw)?;
    let (v, fresh_after) = match resume.resume {
        Some(id) => {
            let bytes = st
                .store
                .take(&format!("oidc_parked:{id}"))
                .await?
                .ok_or_else(|| AppError::OidcPage("this sign-in took too long or was already completed; start again from the application".into()))?;
            let p: Parked =
                serde_json::from_slice(&bytes).map_err(|e| AppError::Internal(e.to_string()))?;
            (p.req, Some(p.created))
        }
        None => {
            let params: AuthorizeParams = parse(raw)?;
            match authorize::validate(&params, &st.config.oidc) {
                Ok((v, _)) => (v, None),
                Err(AuthzError::Page(why)) => return Err(AppError::OidcPage(why)),
                Err(AuthzError::Redirect {
                    redirect_uri,
                    error,
                    description,
                    state,
                }) => {
                    log::warn!("oidc authorize: {error}: {description}");
                    return back_to_client(
                        &redirect_uri,
                        &[("error", error), ("error_description", &description)],
                        state.as_deref(),
                        &iss,
                    );
                }
            }
        }
    };
    let client = st
        .config
        .oidc
        .client(&v.client_id)
        .ok_or_else(|| AppError::OidcPage("the client is no longer registered".into()))?;
    let redirect_err = |error: &str, description: &str| {
        log::warn!(
            "oidc authorize: client={} {error}: {description}",
            v.client_id
        );
        back_to_client(
            &v.redirect_uri,
            &[("error", error), ("error_description", description)],
            v.state.as_deref(),
            &iss,
        )
    };

    let current = session::current_with_key(&st, &req).await?;
    let needs_login = match &current {
        None => true,
        Some((_, s)) => {
            let fresh = fresh_after.is_some_and(|t| s.created >= t);
            let auth_time = s.identity.authn_instant.unwrap_or(s.created);
            let too_old = v.max_age.is_some_and(|m| now - auth_time > m);
            let wrong_idp = !client.idps.is_empty() && !client.idps.contains(&s.identity.idp);
            wrong_idp || (!fresh && (v.prompt_login || too_old))
        }
    };
    if needs_login {
        if v.prompt_none {
            return redirect_err("login_required", "no current sign-in, and prompt=none");
        }
        let session_idp = current.as_ref().map(|(_, s)| s.identity.idp.as_str());
        return park_and_login(&st, client, v, now, session_idp).await;
    }
    let Some((session_key, s)) = current else {
        return Err(AppError::Internal("session vanished".into()));
    };
    if let Some(g) = &client.required_group {
        if !s.identity.groups.contains(g) {
            return redirect_err(
                "access_denied",
                "you are not in the group this application requires",
            );
        }
    }
    let sub = match claims::subject(&s.identity) {
        Ok(sub) => sub,
        Err(why) => return redirect_err("access_denied", &why),
    };
    let code = random_token(32)?;
    let idp_email_verified = st
        .config
        .idp(&s.identity.idp)
        .is_some_and(|i| i.email_verified);
    let record = CodeRecord {
        grant: Grant {
            client_id: v.client_id.clone(),
            scopes: v.scopes.clone(),
            sub,
            auth_time: s.identity.authn_instant.unwrap_or(s.created),
            nonce: v.nonce.clone(),
            session_key,
            family: random_token(16)?,
            email_verified: idp_email_verified,
            identity: s.identity,
        },
        redirect_uri: v.redirect_uri.clone(),
        code_challenge: v.code_challenge.clone(),
    };
    let bytes = serde_json::to_vec(&record).map_err(|e| AppError::Internal(e.to_string()))?;
    st.store
        .put(
            &format!("oidc_code:{}", sha256_hex(&code)),
            &bytes,
            CODE_TTL,
        )
        .await?;
    log::info!("oidc: code issued client={}", v.client_id);
    back_to_client(
        &v.redirect_uri,
        &[("code", &code)],
        v.state.as_deref(),
        &iss,
    )
}

/// Parks the request and sends the browser through the SAML login, with
/// ForceAuthn when the client asked for a fresh or recent sign-in. A forced
/// re-authentication of someone signed in goes to the IdP of their session:
/// the IdP chooser page cannot pass ForceAuthn on.
async fn park_and_login(
    st: &AppState,
    client: &Client,
    v: ValidRequest,
    now: i64,
    session_idp: Option<&str>,
) -> Result<HttpResponse, AppError> {
    let id = random_token(16)?;
    let force = v.prompt_login || v.max_age.is_some();
    let allowed: Vec<&str> = st
        .config
        .idps
        .iter()
        .map(|i| i.id.as_str())
        .filter(|id| client.idps.is_empty() || client.idps.iter().any(|c| c == id))
        .collect();
    let hinted = v.idp_hint.clone().filter(|h| allowed.contains(&h.as_str()));
    let parked = Parked {
        req: v,
        created: now,
    };
    let bytes = serde_json::to_vec(&parked).map_err(|e| AppError::Internal(e.to_string()))?;
    st.store
        .put(&format!("oidc_parked:{id}"), &bytes, PARKED_TTL)
        .await?;
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let back = enc(&format!("{}?resume={id}", routes::OIDC_AUTHORIZE));
    let force_q = if force { "&force_authn=1" } else { "" };
    let only = match allowed.as_slice() {
        [one] => Some(*one),
        _ => None,
    };
    let again = session_idp.filter(|i| force && allowed.contains(i));
    let to = match hinted.as_deref().or(only).or(again) {
        Some(idp) => format!(
            "{}?idp={}&return_to={back}{force_q}",
            routes::SAML_LOGIN,
            enc(idp)
        ),
        None => format!("{}?return_to={back}{force_q}", routes::INDEX),
    };
    Ok(HttpResponse::Found()
        .insert_header(("Location", to))
        .insert_header(("Cache-Control", "no-store"))
        .finish())
}

#[derive(Deserialize)]
struct TokenForm {
    grant_type: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    refresh_token: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

fn token_err(error: &'static str, description: impl Into<String>) -> AppError {
    AppError::OidcToken {
        error,
        description: description.into(),
        basic: false,
    }
}

/// RFC 6749 §2.3.1: client_secret_basic (form-encoded id and secret inside
/// Basic), client_secret_post, or a public client naming itself.
fn authenticate<'a>(
    st: &'a AppState,
    req: &HttpRequest,
    f: &TokenForm,
) -> Result<&'a Client, AppError> {
    let basic = req
        .headers()
        .get("Authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .map(|b| {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .unwrap_or_default();
            let text = String::from_utf8(raw).unwrap_or_default();
            let (id, secret) = text.split_once(':').unwrap_or(("", ""));
            let dec = |s: &str| {
                url::form_urlencoded::parse(format!("x={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            };
            (dec(id), dec(secret))
        });
    let bad = |basic: bool, why: &str| AppError::OidcToken {
        error: "invalid_client",
        description: why.into(),
        basic,
    };
    let (id, secret, via_basic) = match (&basic, &f.client_secret) {
        (Some(_), Some(_)) => {
            return Err(token_err(
                "invalid_request",
                "use one client authentication method",
            ))
        }
        (Some((id, s)), None) => (id.clone(), Some(s.clone()), true),
        (None, s) => (f.client_id.clone().unwrap_or_default(), s.clone(), false),
    };
    if f.client_id.as_deref().is_some_and(|c| c != id) {
        return Err(bad(
            via_basic,
            "client_id does not match the authenticated client",
        ));
    }
    let client = st
        .config
        .oidc
        .client(&id)
        .ok_or_else(|| bad(via_basic, "unknown client"))?;
    match (client.is_public(), secret) {
        (true, None) => Ok(client),
        (true, Some(_)) => Err(bad(via_basic, "a public client has no secret")),
        (false, Some(s)) if client.secret_matches(&s) => Ok(client),
        (false, _) => Err(bad(via_basic, "client authentication failed")),
    }
}

async fn token(
    st: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let f: TokenForm = serde_urlencoded_from(&body)
        .map_err(|e| token_err("invalid_request", format!("malformed form ({e})")))?;
    let client = authenticate(&st, &req, &f)?;
    let now = st.clock.now().unix_timestamp();
    // Each grant type ends in one batch of writes (Store::put_many): the
    // markers that make reuse detectable, and the new tokens.
    let (grant, marks, rt_ttl) = match f.grant_type.as_deref() {
        Some("authorization_code") => {
            let (g, code_hash) = redeem_code(&st, client, &f).await?;
            let ttl = family_ttl(&st, &g).await?.ok_or_else(|| {
                token_err("invalid_grant", "the sign-in behind this code has ended")
            })?;
            let marks = vec![
                (
                    format!("oidc_code_used:{code_hash}"),
                    g.family.clone().into_bytes(),
                    Duration::from_secs(600),
                ),
                (family_key(&g.family), b"1".to_vec(), ttl),
            ];
            (g, marks, ttl)
        }
        Some("refresh_token") => {
            let (g, rt_hash) = redeem_refresh(&st, client, &f).await?;
            let ended = || token_err("invalid_grant", "the sign-in behind this grant has ended");
            if st.store.get(&family_key(&g.family)).await?.is_none() {
                return Err(ended());
            }
            let ttl = family_ttl(&st, &g).await?.ok_or_else(ended)?;
            (
                g.clone(),
                vec![(
                    format!("oidc_rt_used:{rt_hash}"),
                    g.family.into_bytes(),
                    ttl,
                )],
                ttl,
            )
        }
        Some(_) => {
            return Err(token_err(
                "unsupported_grant_type",
                "only authorization_code and refresh_token",
            ))
        }
        None => return Err(token_err("invalid_request", "grant_type is missing")),
    };
    issue(&st, grant, marks, rt_ttl, now).await
}

/// Takes a single-use credential. If it is gone but `used_key` shows it was
/// redeemed before, this is reuse: the family it started is revoked.
async fn take_or_revoke(
    st: &AppState,
    live_key: &str,
    used_key: &str,
    what: &str,
) -> Result<Vec<u8>, AppError> {
    if let Some(bytes) = st.store.take(live_key).await? {
        return Ok(bytes);
    }
    if let Some(family) = st.store.get(used_key).await? {
        let family = String::from_utf8_lossy(&family).into_owned();
        st.store.delete(&family_key(&family)).await?;
        log::warn!("oidc: {what} reused; the tokens it issued are revoked");
    }
    Err(token_err(
        "invalid_grant",
        format!("the {what} is unknown, expired or already used"),
    ))
}

async fn redeem_code(
    st: &AppState,
    client: &Client,
    f: &TokenForm,
) -> Result<(Grant, String), AppError> {
    let code = f
        .code
        .as_deref()
        .ok_or_else(|| token_err("invalid_request", "code is missing"))?;
    let h = sha256_hex(code);
    // RFC 6749 §4.1.2 / RFC 9700 §4.5: a reused code revokes what it issued.
    let bytes = take_or_revoke(
        st,
        &format!("oidc_code:{h}"),
        &format!("oidc_code_used:{h}"),
        "code",
    )
    .await?;
    let rec: CodeRecord =
        serde_json::from_slice(&bytes).map_err(|e| AppError::Internal(e.to_string()))?;
    if rec.grant.client_id != client.client_id {
        return Err(token_err(
            "invalid_grant",
            "the code was issued to another client",
        ));
    }
    if f.redirect_uri.as_deref() != Some(rec.redirect_uri.as_str()) {
        return Err(token_err(
            "invalid_grant",
            "redirect_uri does not match the authorization request",
        ));
    }
    match (&rec.code_challenge, f.code_verifier.as_deref()) {
        (Some(ch), Some(ver)) if authorize::pkce_matches(ver, ch) => {}
        (Some(_), Some(_)) => {
            return Err(token_err(
                "invalid_grant",
                "code_verifier does not match the code_challenge",
            ))
        }
        (Some(_), None) => return Err(token_err("invalid_grant", "code_verifier is missing")),
        (None, Some(_)) => {
            return Err(token_err(
                "invalid_grant",
                "code_verifier sent but no code_challenge was",
            ))
        }
        (None, None) => {}
    }
    Ok((rec.grant, h))
}

/// How long the grant's refresh tokens may live: the configured lifetime,
/// capped by what is left of the samlhub session. `None` once that session
/// has ended (one read of the session serves as the liveness check too).
async fn family_ttl(st: &AppState, g: &Grant) -> Result<Option<Duration>, AppError> {
    let now = st.clock.now().unix_timestamp();
    let Some(b) = st.store.get(&g.session_key).await? else {
        return Ok(None);
    };
    let s: SessionData = serde_json::from_slice(&b)
        .map_err(|e| AppError::Internal(format!("session entry: {e}")))?;
    let left = (st.config.oidc.refresh_token_lifetime.as_secs() as i64).min(s.expires - now);
    Ok((left > 0).then(|| Duration::from_secs(left.unsigned_abs())))
}

async fn redeem_refresh(
    st: &AppState,
    client: &Client,
    f: &TokenForm,
) -> Result<(Grant, String), AppError> {
    let rt = f
        .refresh_token
        .as_deref()
        .ok_or_else(|| token_err("invalid_request", "refresh_token is missing"))?;
    let h = sha256_hex(rt);
    // RFC 9700 §4.14.2: a refresh token used twice revokes its family.
    let bytes = take_or_revoke(
        st,
        &format!("oidc_rt:{h}"),
        &format!("oidc_rt_used:{h}"),
        "refresh token",
    )
    .await?;
    let g: Grant = serde_json::from_slice(&bytes).map_err(|e| AppError::Internal(e.to_string()))?;
    if g.client_id != client.client_id {
        return Err(token_err(
            "invalid_grant",
            "the refresh token was issued to another client",
        ));
    }
    Ok((g, h))
}

/// Access token (opaque, stored by hash), rotated refresh token, id_token;
/// `marks` are written in the same atomic batch.
async fn issue(
    st: &AppState,
    g: Grant,
    marks: Vec<(String, Vec<u8>, Duration)>,
    rt_ttl: Duration,
    now: i64,
) -> Result<HttpResponse, AppError> {
    let at = random_token(32)?;
    let rt = random_token(32)?;
    let at_ttl = st.config.oidc.access_token_lifetime;
    let idt = id_token(st, &g, now)?;
    let bytes = serde_json::to_vec(&g).map_err(|e| AppError::Internal(e.to_string()))?;
    let (at_key, rt_key) = (access_key(&at), format!("oidc_rt:{}", sha256_hex(&rt)));
    let mut batch: Vec<(&str, &[u8], Duration)> = marks
        .iter()
        .map(|(k, v, t)| (k.as_str(), v.as_slice(), *t))
        .collect();
    batch.push((&at_key, &bytes, at_ttl));
    batch.push((&rt_key, &bytes, rt_ttl));
    st.store.put_many(&batch).await?;
    log::info!("oidc: tokens issued client={}", g.client_id);
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("Pragma", "no-cache"))
        .json(serde_json::json!({
            "access_token": at,
            "token_type": "Bearer",
            "expires_in": at_ttl.as_secs(),
            "refresh_token": rt,
            "id_token": idt,
            "scope": g.scopes.join(" "),
        })))
}
