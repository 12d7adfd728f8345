//! The OpenID Connect provider's small endpoints (discovery, JWKS, userinfo,
//! end_session), the signing-key cache, and the records the flow stores.
//! The authorization and token endpoints are in `oidc_flow.rs`.

use super::error::AppError;
use super::session::{self, SESSION_COOKIE};
use super::{pages, routes, sha256_hex, AppState};
use crate::identity::Identity;
use crate::keys::{oidc_ring, KeyError};
use crate::oidc::{claims, jwt};
use crate::store::Store;
use actix_web::{web, HttpRequest, HttpResponse};
use openssl::pkey::{PKey, Private};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::RwLock;
use std::time::{Duration, Instant, SystemTime};

/// id_tokens live this long (OIDC Core §2 `exp`; the issue caps them at 5 min).
pub const ID_TOKEN_SECS: i64 = 300;
/// A retired key stays published this long: the longest id_token plus leeway.
const RETIRED_KEY_SECS: i64 = ID_TOKEN_SECS + 60;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(routes::OIDC_DISCOVERY, web::get().to(discovery))
        .route(routes::OIDC_JWKS, web::get().to(jwks))
        .route(routes::OIDC_USERINFO, web::get().to(userinfo))
        .route(routes::OIDC_USERINFO, web::post().to(userinfo))
        .route(routes::OIDC_END_SESSION, web::get().to(end_session))
        .route(routes::OIDC_END_SESSION, web::post().to(end_session_post));
}

/// The signing keys, re-read when `samlhub keys rotate` changes them.
pub struct KeyCache {
    data_dir: PathBuf,
    inner: RwLock<Cached>,
}

struct Cached {
    keys: Vec<jwt::RingKey>,
    stamp: Option<SystemTime>,
    checked: Instant,
}

impl KeyCache {
    pub fn open(data_dir: &std::path::Path, alg: &str, now: i64) -> Result<Self, KeyError> {
        let keys = oidc_ring::load_or_create(data_dir, alg, now)?;
        Ok(Self {
            data_dir: data_dir.to_owned(),
            inner: RwLock::new(Cached {
                keys,
                stamp: oidc_ring::stamp(data_dir),
                checked: Instant::now(),
            }),
        })
    }

    fn fresh(&self) {
        let due = self
            .inner
            .read()
            .map(|c| c.checked.elapsed() > Duration::from_secs(2))
            .unwrap_or(true);
        if !due {
            return;
        }
        let stamp = oidc_ring::stamp(&self.data_dir);
        if let Ok(mut c) = self.inner.write() {
            c.checked = Instant::now();
            if stamp != c.stamp {
                match oidc_ring::load(&self.data_dir) {
                    Ok(keys) => {
                        log::info!("oidc: signing keys reloaded ({} keys)", keys.len());
                        c.keys = keys;
                        c.stamp = stamp;
                    }
                    Err(e) => log::error!("oidc: keeping the old signing keys: {e}"),
                }
            }
        }
    }

    /// The key that signs at `now`.
    pub fn signer(&self, now: i64) -> Option<(String, PKey<Private>)> {
        self.fresh();
        let c = self.inner.read().ok()?;
        jwt::signer_at(&c.keys, now).map(|k| (k.kid.clone(), k.key.clone()))
    }

    /// The JWKS at `now`.
    pub fn jwks(&self, now: i64) -> serde_json::Value {
        self.fresh();
        let keys: Vec<serde_json::Value> = match self.inner.read() {
            Ok(c) => jwt::published_at(&c.keys, now, RETIRED_KEY_SECS)
                .into_iter()
                .filter_map(|k| jwt::jwk(&k.key, &k.kid).ok())
                .collect(),
            Err(_) => Vec::new(),
        };
        serde_json::json!({ "keys": keys })
    }

    /// The algorithms of published keys.
    pub fn algs(&self, now: i64) -> Vec<&'static str> {
        self.fresh();
        let mut v: Vec<&'static str> = match self.inner.read() {
            Ok(c) => jwt::published_at(&c.keys, now, RETIRED_KEY_SECS)
                .iter()
                .filter_map(|k| jwt::alg_of(&k.key).ok())
                .collect(),
            Err(_) => Vec::new(),
        };
        v.sort_unstable();
        v.dedup();
        v
    }
}

/// What a code, access token or refresh token stands for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Grant {
    pub client_id: String,
    pub scopes: Vec<String>,
    pub identity: Identity,
    pub sub: String,
    pub auth_time: i64,
    pub nonce: Option<String>,
    /// The store key of the samlhub session the grant rides on.
    pub session_key: String,
    /// Refresh-token family (RFC 9700 §4.14.2): revoked as a whole.
    pub family: String,
    pub email_verified: bool,
}

pub(super) fn family_key(id: &str) -> String {
    format!("oidc_family:{id}")
}

pub(super) fn access_key(token: &str) -> String {
    format!("oidc_at:{}", sha256_hex(token))
}

/// A grant is alive while its family and its samlhub session both are.
pub(super) async fn alive(st: &AppState, g: &Grant) -> Result<bool, AppError> {
    Ok(st.store.get(&family_key(&g.family)).await?.is_some()
        && st.store.get(&g.session_key).await?.is_some())
}

/// The signed id_token for `g` (OIDC Core §2).
pub(super) fn id_token(st: &AppState, g: &Grant, now: i64) -> Result<String, AppError> {
    let mfa: Vec<&str> = crate::identity::DEFAULT_MFA_CONTEXTS.to_vec();
    let mut c = claims::profile_claims(&g.identity, &g.sub, &g.scopes, g.email_verified);
    c.insert("iss".into(), st.config.public_url.to_string().into());
    c.insert("aud".into(), g.client_id.clone().into());
    c.insert("iat".into(), now.into());
    c.insert("exp".into(), (now + ID_TOKEN_SECS).into());
    c.insert("auth_time".into(), g.auth_time.into());
    if let Some(n) = &g.nonce {
        c.insert("nonce".into(), n.clone().into());
    }
    if let Some(acr) = &g.identity.authn_context {
        c.insert("acr".into(), acr.clone().into());
    }
    let amr = claims::amr(&g.identity, &mfa);
    if !amr.is_empty() {
        c.insert("amr".into(), serde_json::json!(amr));
    }
    let (kid, key) = st
        .oidc_keys
        .signer(now)
        .ok_or_else(|| AppError::Internal("no OIDC signing key is active".into()))?;
    jwt::sign(&serde_json::Value::Object(c), &key, &kid)
        .map_err(|e| AppError::Internal(e.to_string()))
}

async fn discovery(st: web::Data<AppState>) -> HttpResponse {
    let u = |p: &str| st.config.url(p);
    let algs = st.oidc_keys.algs(st.clock.now().unix_timestamp());
    HttpResponse::Ok().insert_header(("Cache-Control", "public, max-age=300")).json(serde_json::json!({
        "issuer": st.config.public_url.as_str(),
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
        "scopes_supported": crate::config::oidc::SCOPES,
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
        .json(st.oidc_keys.jwks(st.clock.now().unix_timestamp()))
}

/// OIDC Core §5.3: the claims of a live access token.
async fn userinfo(
    st: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let header = req
        .headers()
        .get("Authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::to_owned);
    // RFC 6750 §2.2: or in a form body.
    let token = header
        .or_else(|| serde_urlencoded_access_token(&body))
        .ok_or_else(|| AppError::OidcBearer("no access token".into()))?;
    let raw = st
        .store
        .get(&access_key(&token))
        .await?
        .ok_or_else(|| AppError::OidcBearer("unknown or expired access token".into()))?;
    let g: Grant = serde_json::from_slice(&raw)
        .map_err(|e| AppError::Internal(format!("access token record: {e}")))?;
    if !alive(&st, &g).await? {
        return Err(AppError::OidcBearer(
            "the grant was revoked or its session ended".into(),
        ));
    }
    let c = claims::profile_claims(&g.identity, &g.sub, &g.scopes, g.email_verified);
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(serde_json::Value::Object(c)))
}

fn serde_urlencoded_access_token(body: &[u8]) -> Option<String> {
    url::form_urlencoded::parse(body)
        .find(|(k, _)| k == "access_token")
        .map(|(_, v)| v.into_owned())
}

#[derive(Deserialize)]
struct EndSession {
    id_token_hint: Option<String>,
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
    client_id: Option<String>,
}

/// RP-initiated logout 1.0: end the samlhub session, then go back only to a
/// registered post_logout_redirect_uri.
async fn end_session(
    st: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<EndSession>,
) -> Result<HttpResponse, AppError> {
    logout(st, req, q.into_inner()).await
}

/// The same with a form body (§2: the OP supports GET and POST).
async fn end_session_post(
    st: web::Data<AppState>,
    req: HttpRequest,
    f: web::Form<EndSession>,
) -> Result<HttpResponse, AppError> {
    logout(st, req, f.into_inner()).await
}

async fn logout(
    st: web::Data<AppState>,
    req: HttpRequest,
    q: EndSession,
) -> Result<HttpResponse, AppError> {
    if let Some(c) = req.cookie(SESSION_COOKIE) {
        st.store.delete(&session::store_key(c.value())).await?;
    }
    let hinted = q
        .id_token_hint
        .as_deref()
        .and_then(|t| hint_audience(&st, t));
    // §2: with both, client_id must be the id_token_hint's audience.
    let client_id = match (q.client_id.clone(), hinted) {
        (Some(c), Some(h)) if c != h => None,
        (c, h) => c.or(h),
    };
    let target = match (
        &q.post_logout_redirect_uri,
        client_id.as_deref().and_then(|c| st.config.oidc.client(c)),
    ) {
        (Some(uri), Some(client)) if client.post_logout_redirect_uris.iter().any(|r| r == uri) => {
            Some(uri.clone())
        }
        _ => None,
    };
    let mut gone = actix_web::cookie::Cookie::build(SESSION_COOKIE, "")
        .path("/")
        .http_only(true)
        .finish();
    gone.make_removal();
    Ok(match target {
        Some(uri) => {
            let mut to = url::Url::parse(&uri).map_err(|e| AppError::Internal(e.to_string()))?;
            if let Some(s) = &q.state {
                to.query_pairs_mut().append_pair("state", s);
            }
            HttpResponse::Found()
                .cookie(gone)
                .insert_header(("Location", to.to_string()))
                .finish()
        }
        None => HttpResponse::Ok()
            .cookie(gone)
            .content_type("text/html; charset=utf-8")
            .body(pages::signed_out()),
    })
}

/// The `aud` of an id_token we signed (signature checked, expiry not).
fn hint_audience(st: &AppState, token: &str) -> Option<String> {
    let now = st.clock.now().unix_timestamp();
    let c = st.oidc_keys.inner.read().ok()?;
    let keys = jwt::published_at(&c.keys, now, RETIRED_KEY_SECS);
    let claims = jwt::verify_with(token, keys.iter().map(|k| (k.kid.as_str(), &k.key)))?;
    claims
        .get("aud")
        .and_then(|a| a.as_str())
        .map(str::to_owned)
}
