//! Authorization request validation (OIDC Core §3.1.2.1–2, RFC 6749 §4.1,
//! RFC 7636 PKCE, RFC 9700 §2.1). The client and its exact redirect URI are
//! checked first: until both match, errors are shown, never redirected
//! (RFC 6749 §4.1.2.1).
//!
//! Everything kept from a request is bounded, since an anonymous request
//! is parked in the store for a login: `state` ≤ [`MAX_STATE`] bytes,
//! `nonce` ≤ [`MAX_NONCE`], the PKCE challenge ≤ 128 (RFC 7636 §4.2), scopes
//! deduplicated from the known [`SCOPES`], a hint only if it names a
//! configured IdP (at most [`MAX_HINT`] bytes), a hinted email domain
//! (`domain_hint`, or the part after '@' of `login_hint`) only as a DNS name
//! of at most 253 bytes; `client_id` and `redirect_uri` match the
//! configuration exactly.

use super::client::{Client, Oidc, SCOPES};
use crate::config::domains::{email_domain, normalize_domain};
use base64::Engine;
use serde::{Deserialize, Serialize};

/// Longest `state` accepted. A longer one is refused by page, not by
/// redirect: RFC 6749 §4.1.2.1 requires an error redirect to carry the exact
/// `state`, and echoing an oversized one would build an oversized URL.
pub const MAX_STATE: usize = 2048;
/// Longest `nonce` accepted (refused by redirect, with `state`).
pub const MAX_NONCE: usize = 512;
/// Longest `idp_hint` / `login_hint` kept; longer ones are dropped silently
/// (a hint is advisory, OIDC Core §3.1.2.1).
pub const MAX_HINT: usize = 64;

/// The parameters as they arrive (query or form).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct AuthorizeParams {
    pub response_type: Option<String>,
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub prompt: Option<String>,
    pub max_age: Option<String>,
    pub idp_hint: Option<String>,
    pub login_hint: Option<String>,
    pub response_mode: Option<String>,
    pub request: Option<String>,
    pub request_uri: Option<String>,
    /// Not OIDC: our handle for a request parked during a SAML login.
    pub resume: Option<String>,
    /// An email domain naming the IdP (as Entra and others take it).
    pub domain_hint: Option<String>,
}

/// A request that may proceed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub prompt_none: bool,
    pub prompt_login: bool,
    pub max_age: Option<i64>,
    pub idp_hint: Option<String>,
    /// The email domain of `domain_hint`, or of an email `login_hint`.
    #[serde(default)]
    pub login_domain: Option<String>,
}

/// A refusal: shown as a page, or sent back to the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthzError {
    /// Client or redirect URI not established: never redirect.
    #[error("{0}")]
    Page(String),
    /// RFC 6749 §4.1.2.1 error, redirected with `state` and `iss`.
    #[error("{error}: {description}")]
    Redirect {
        redirect_uri: String,
        error: &'static str,
        description: String,
        state: Option<String>,
    },
}

fn is_pkce_string(s: &str) -> bool {
    // RFC 7636 §4.1: 43–128 unreserved characters.
    (43..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// Validates `p` against the registered clients.
pub fn validate<'a>(
    p: &AuthorizeParams,
    oidc: &'a Oidc,
) -> Result<(ValidRequest, &'a Client), AuthzError> {
    let client_id = p
        .client_id
        .as_deref()
        .ok_or(AuthzError::Page("the request names no client_id".into()))?;
    let client = oidc.client(client_id).ok_or_else(|| {
        AuthzError::Page(format!(
            "client '{}' is not registered here",
            client_id.chars().take(80).collect::<String>()
        ))
    })?;
    let redirect_uri = p
        .redirect_uri
        .as_deref()
        .ok_or(AuthzError::Page("the request has no redirect_uri".into()))?;
    // Exact string comparison (RFC 9700 §2.1, OIDC Core §3.1.2.1).
    if !client.redirect_uris.iter().any(|r| r == redirect_uri) {
        return Err(AuthzError::Page(format!(
            "redirect_uri '{}' is not registered for client '{}'",
            redirect_uri.chars().take(200).collect::<String>(),
            client.client_id
        )));
    }
    // Checked before any error redirect, which must echo `state` exactly
    // (RFC 6749 §4.1.2.1): an oversized one is refused here, by page.
    if p.state.as_deref().is_some_and(|s| s.len() > MAX_STATE) {
        return Err(AuthzError::Page(format!(
            "the state parameter is longer than {MAX_STATE} bytes"
        )));
    }
    let state = p.state.clone();
    let fail = |error: &'static str, description: &str| AuthzError::Redirect {
        redirect_uri: redirect_uri.to_owned(),
        error,
        description: description.to_owned(),
        state: state.clone(),
    };
    if p.request.is_some() {
        return Err(fail(
            "request_not_supported",
            "request objects are not supported",
        ));
    }
    if p.request_uri.is_some() {
        return Err(fail(
            "request_uri_not_supported",
            "request_uri is not supported",
        ));
    }
    match p.response_type.as_deref() {
        Some("code") => {}
        None => return Err(fail("invalid_request", "response_type is missing")),
        Some(_) => {
            return Err(fail(
                "unsupported_response_type",
                "only the authorization code flow (response_type=code) is supported",
            ))
        }
    }
    if p.response_mode.as_deref().is_some_and(|m| m != "query") {
        return Err(fail(
            "invalid_request",
            "only response_mode=query is supported",
        ));
    }
    let requested: Vec<&str> = p
        .scope
        .as_deref()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    if !requested.contains(&"openid") {
        return Err(fail("invalid_scope", "the openid scope is required"));
    }
    // Unknown scopes are ignored (OIDC Core §3.1.2.1); known ones the client
    // may not have are dropped.
    // Deduplicated, so at most every known scope once.
    let mut scopes: Vec<String> = Vec::new();
    for s in &requested {
        if SCOPES.contains(s)
            && client.scopes.iter().any(|c| c == s)
            && !scopes.iter().any(|k| k == s)
        {
            scopes.push((*s).to_owned());
        }
    }
    let code_challenge = match (
        p.code_challenge.as_deref(),
        p.code_challenge_method.as_deref(),
    ) {
        (None, None) if client.needs_pkce() => {
            return Err(fail(
                "invalid_request",
                "PKCE (code_challenge with S256) is required for this client",
            ))
        }
        (None, None) => None,
        (None, Some(_)) => {
            return Err(fail(
                "invalid_request",
                "code_challenge_method without code_challenge",
            ))
        }
        (Some(c), Some("S256")) if is_pkce_string(c) => Some(c.to_owned()),
        (Some(_), Some("S256")) => {
            return Err(fail(
                "invalid_request",
                "code_challenge is not 43-128 unreserved characters",
            ))
        }
        // RFC 7636 §4.3: no method means "plain", which we refuse (downgrade).
        (Some(_), _) => {
            return Err(fail(
                "invalid_request",
                "only code_challenge_method=S256 is supported",
            ))
        }
    };
    let prompts: Vec<&str> = p
        .prompt
        .as_deref()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let prompt_none = prompts.contains(&"none");
    if prompt_none && prompts.len() > 1 {
        return Err(fail(
            "invalid_request",
            "prompt=none cannot be combined with other values",
        ));
    }
    let max_age = match p.max_age.as_deref() {
        None => None,
        Some(v) => Some(
            v.parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| fail("invalid_request", "max_age is not a non-negative integer"))?,
        ),
    };
    if p.nonce.as_deref().is_some_and(|n| n.len() > MAX_NONCE) {
        return Err(fail("invalid_request", "nonce is too long"));
    }
    let hint = |h: &Option<String>| h.clone().filter(|h| !h.is_empty() && h.len() <= MAX_HINT);
    Ok((
        ValidRequest {
            client_id: client.client_id.clone(),
            redirect_uri: redirect_uri.to_owned(),
            scopes,
            state,
            nonce: p.nonce.clone(),
            code_challenge,
            prompt_none,
            prompt_login: prompts.contains(&"login"),
            max_age,
            idp_hint: hint(&p.idp_hint).or_else(|| hint(&p.login_hint)),
            login_domain: p
                .domain_hint
                .as_deref()
                .and_then(normalize_domain)
                .or_else(|| p.login_hint.as_deref().and_then(email_domain)),
        },
        client,
    ))
}

/// RFC 7636 §4.6: BASE64URL(SHA256(code_verifier)) == code_challenge.
pub fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    if !is_pkce_string(verifier) {
        return false;
    }
    let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(openssl::sha::sha256(verifier.as_bytes()));
    computed.len() == challenge.len()
        && openssl::memcmp::eq(computed.as_bytes(), challenge.as_bytes())
}

/// What the authorization endpoint does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Back to the client's redirect URI with `params`, then `state` and
    /// `iss` (RFC 6749 §4.1.2, RFC 9207).
    ToClient {
        redirect_uri: String,
        params: Vec<(&'static str, String)>,
        state: Option<String>,
    },
    /// Through a SAML login, then back to the authorization endpoint with
    /// `resume=<handle>`. `force` asks the IdP for a fresh sign-in (prompt=
    /// login, max_age); `idp` is the IdP to use when it is known.
    Login {
        handle: String,
        force: bool,
        idp: Option<String>,
    },
}

/// Where the request came from: fresh parameters, or a request parked
/// before a SAML login (with when it was parked).
pub enum Source {
    Fresh(Box<AuthorizeParams>),
    Resumed(Box<crate::oidc::grant::Parked>),
}

/// The signed-in person of the browser, if any.
pub struct Current<'a> {
    pub session_key: &'a str,
    pub session: &'a crate::session::Session,
}

/// Facts about the configured IdPs the decision needs.
pub struct IdpFacts<'a> {
    /// Every configured IdP id.
    pub ids: &'a [&'a str],
    /// Whether the IdP of the current session vouches for email addresses.
    pub email_verified: bool,
    /// (email domain, IdP id) of every IdP's `domains`.
    pub domains: &'a [(&'a str, &'a str)],
}

fn to_client(v: &ValidRequest, error: &'static str, description: &str) -> Outcome {
    log::warn!(
        "oidc authorize: client={} {error}: {description}",
        v.client_id
    );
    Outcome::ToClient {
        redirect_uri: v.redirect_uri.clone(),
        params: vec![
            ("error", error.into()),
            ("error_description", description.into()),
        ],
        state: v.state.clone(),
    }
}

/// The authorization endpoint (OIDC Core §3.1.2): validate, then either
/// park the request for a login, or issue a code for the current session.
pub async fn authorize<S: crate::store::Store>(
    store: &S,
    settings: &Oidc,
    idps: &IdpFacts<'_>,
    source: Source,
    current: Option<Current<'_>>,
    now: i64,
) -> Result<Outcome, crate::oidc::error::OAuthError> {
    use crate::oidc::error::OAuthError;
    use crate::oidc::grant;
    let (v, client, fresh_after) = match source {
        Source::Resumed(p) => {
            let client = settings.client(&p.req.client_id).ok_or_else(|| {
                OAuthError::AuthorizePage("the client is no longer registered".into())
            })?;
            (p.req, client, Some(p.created))
        }
        Source::Fresh(params) => match validate(&params, settings) {
            Ok((v, client)) => (v, client, None),
            Err(AuthzError::Page(why)) => return Err(OAuthError::AuthorizePage(why)),
            Err(AuthzError::Redirect {
                redirect_uri,
                error,
                description,
                state,
            }) => {
                log::warn!("oidc authorize: {error}: {description}");
                return Ok(Outcome::ToClient {
                    redirect_uri,
                    params: vec![("error", error.into()), ("error_description", description)],
                    state,
                });
            }
        },
    };
    let needs_login = match &current {
        None => true,
        Some(c) => {
            let s = c.session;
            let fresh = fresh_after.is_some_and(|t| s.created >= t);
            let too_old = v.max_age.is_some_and(|m| now - s.auth_time() > m);
            let wrong_idp = !client.idps.is_empty() && !client.idps.contains(&s.identity.idp);
            wrong_idp || (!fresh && (v.prompt_login || too_old))
        }
    };
    if needs_login {
        if v.prompt_none {
            return Ok(to_client(
                &v,
                "login_required",
                "no current sign-in, and prompt=none",
            ));
        }
        let session_idp = current.as_ref().map(|c| c.session.identity.idp.as_str());
        let force = v.prompt_login || v.max_age.is_some();
        let idp = login_idp(client, &v, idps, session_idp, force);
        let mut v = v;
        v.idp_hint = v.idp_hint.filter(|h| idps.ids.contains(&h.as_str()));
        let handle = grant::park(store, v, now).await?;
        return Ok(Outcome::Login { handle, force, idp });
    }
    let Some(c) = current else {
        return Err(OAuthError::Internal("session vanished".into()));
    };
    let who = &c.session.identity;
    if let Some(why) = client.refuses_groups(&who.groups) {
        log::warn!(
            "oidc authorize: access_denied client={}: {why}",
            crate::logsafe::esc(&v.client_id)
        );
        return Err(OAuthError::AccessDenied(why));
    }
    let sub = match crate::oidc::claims::subject(who) {
        Ok(sub) => sub,
        Err(why) => return Ok(to_client(&v, "access_denied", &why)),
    };
    let g = grant::Grant {
        client_id: v.client_id.clone(),
        scopes: v.scopes.clone(),
        sub,
        auth_time: c.session.auth_time(),
        nonce: v.nonce.clone(),
        session_key: c.session_key.to_owned(),
        session_ends: Some(c.session.expires),
        family: grant::new_family()?,
        email_verified: idps.email_verified,
        identity: who.clone(),
    };
    let code = grant::issue_code(store, g, &v).await?;
    log::info!("oidc: code issued client={}", v.client_id);
    Ok(Outcome::ToClient {
        redirect_uri: v.redirect_uri,
        params: vec![("code", code)],
        state: v.state,
    })
}

/// The IdP a login for `v` goes to: the hinted one if the client may use
/// it (`idp_hint`, then the IdP whose `domains` hold the hinted email
/// domain), the only one it may use, or, for a forced re-authentication of
/// someone signed in, the IdP of their session (the chooser page cannot
/// pass ForceAuthn on). `None`: let the person choose.
fn login_idp(
    client: &Client,
    v: &ValidRequest,
    idps: &IdpFacts<'_>,
    session_idp: Option<&str>,
    force: bool,
) -> Option<String> {
    let allowed: Vec<&str> = idps
        .ids
        .iter()
        .copied()
        .filter(|id| client.idps.is_empty() || client.idps.iter().any(|c| c == id))
        .collect();
    let by_domain = v.login_domain.as_deref().and_then(|d| {
        idps.domains
            .iter()
            .find(|(domain, _)| *domain == d)
            .map(|(_, idp)| *idp)
    });
    let hinted = v
        .idp_hint
        .as_deref()
        .filter(|h| allowed.contains(h))
        .or(by_domain.filter(|i| allowed.contains(i)));
    let only = match allowed.as_slice() {
        [one] => Some(*one),
        _ => None,
    };
    let again = session_idp.filter(|i| force && allowed.contains(i));
    hinted.or(only).or(again).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oidc::client::Client;

    fn oidc() -> Oidc {
        let mk = |id: &str, public: bool| Client {
            client_id: id.into(),
            secret_sha256: if public { None } else { Some([1; 32]) },
            redirect_uris: vec!["https://app.example/cb".into()],
            post_logout_redirect_uris: vec![],
            scopes: vec!["openid".into(), "profile".into(), "groups".into()],
            idps: vec![],
            required_group: None,
            require_pkce: false,
            required_groups: vec![],
            home_url: None,
        };
        Oidc {
            clients: vec![mk("conf", false), mk("pub", true)],
            ..Default::default()
        }
    }

    fn params(client: &str, redirect: &str) -> AuthorizeParams {
        AuthorizeParams {
            response_type: Some("code".into()),
            client_id: Some(client.into()),
            redirect_uri: Some(redirect.into()),
            scope: Some("openid profile groups email bogus".into()),
            state: Some("st".into()),
            ..Default::default()
        }
    }

    #[test]
    fn redirect_uri_must_match_exactly_or_no_redirect() {
        let o = oidc();
        for bad in [
            "https://app.example/cb2",
            "https://app.example/c",
            "https://app.example/cb?x=1",
            "https://app.example/cB",
        ] {
            assert!(
                matches!(validate(&params("conf", bad), &o), Err(AuthzError::Page(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            validate(&params("nope", "https://app.example/cb"), &o),
            Err(AuthzError::Page(_))
        ));
        let (v, _) = validate(&params("conf", "https://app.example/cb"), &o).unwrap();
        assert_eq!(v.scopes, ["openid", "profile", "groups"]);
    }

    #[test]
    fn pkce_rules() {
        let o = oidc();
        let e = validate(&params("pub", "https://app.example/cb"), &o).unwrap_err();
        assert!(matches!(
            e,
            AuthzError::Redirect {
                error: "invalid_request",
                ..
            }
        ));
        let mut p = params("pub", "https://app.example/cb");
        p.code_challenge = Some("a".repeat(43));
        assert!(validate(&p, &o).is_err(), "no method = plain = downgrade");
        p.code_challenge_method = Some("plain".into());
        assert!(validate(&p, &o).is_err());
        p.code_challenge_method = Some("S256".into());
        assert!(validate(&p, &o).is_ok());
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert!(pkce_matches(
            verifier,
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
        assert!(!pkce_matches(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXx",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
    }

    #[test]
    fn oversized_state_is_refused_by_page_not_echoed() {
        let o = oidc();
        let mut p = params("conf", "https://app.example/cb");
        p.state = Some("s".repeat(MAX_STATE));
        assert!(validate(&p, &o).is_ok());
        p.state = Some("s".repeat(MAX_STATE + 1));
        // Also wrong otherwise: the state check comes before any redirect.
        p.response_type = Some("token".into());
        match validate(&p, &o).unwrap_err() {
            AuthzError::Page(why) => assert!(why.contains("state"), "{why}"),
            other => panic!("{other:?}"),
        }
        let mut p = params("conf", "https://app.example/cb");
        p.nonce = Some("n".repeat(MAX_NONCE + 1));
        match validate(&p, &o).unwrap_err() {
            AuthzError::Redirect { error, state, .. } => {
                assert_eq!((error, state.as_deref()), ("invalid_request", Some("st")))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn hints_are_kept_only_when_short() {
        let o = oidc();
        let mut p = params("conf", "https://app.example/cb");
        p.login_hint = Some("entra".into());
        assert_eq!(
            validate(&p, &o).unwrap().0.idp_hint.as_deref(),
            Some("entra")
        );
        p.idp_hint = Some("x".repeat(200 * 1024));
        assert_eq!(
            validate(&p, &o).unwrap().0.idp_hint.as_deref(),
            Some("entra"),
            "an oversized idp_hint falls back to login_hint"
        );
        p.login_hint = Some("y".repeat(MAX_HINT + 1));
        assert_eq!(validate(&p, &o).unwrap().0.idp_hint, None);
        p.idp_hint = Some("k".repeat(MAX_HINT));
        assert_eq!(
            validate(&p, &o).unwrap().0.idp_hint.map(|h| h.len()),
            Some(MAX_HINT)
        );
    }

    #[test]
    fn require_pkce_binds_confidential_clients() {
        let mut o = oidc();
        let p = params("conf", "https://app.example/cb");
        assert!(validate(&p, &o).is_ok(), "optional by default");
        if let Some(c) = o.clients.iter_mut().find(|c| c.client_id == "conf") {
            c.require_pkce = true;
        }
        match validate(&p, &o).unwrap_err() {
            AuthzError::Redirect { error, .. } => assert_eq!(error, "invalid_request"),
            other => panic!("{other:?}"),
        }
        let mut p = p;
        p.code_challenge = Some("a".repeat(43));
        p.code_challenge_method = Some("S256".into());
        assert!(validate(&p, &o).is_ok());
    }

    #[test]
    fn a_parked_request_is_bounded_whatever_is_sent() {
        let o = oidc();
        let mut p = params("conf", "https://app.example/cb");
        // Every kept field at its cap, in the characters JSON escapes most.
        p.state = Some("\u{1}".repeat(MAX_STATE));
        p.nonce = Some("\u{1}".repeat(MAX_NONCE));
        p.scope = Some("openid profile groups email offline_access ".repeat(5000));
        p.code_challenge = Some("a".repeat(128));
        p.code_challenge_method = Some("S256".into());
        p.idp_hint = Some("h".repeat(MAX_HINT));
        p.login_hint = Some("l".repeat(200 * 1024));
        p.max_age = Some(i64::MAX.to_string());
        p.prompt = Some("login consent ".repeat(5000));
        let (v, c) = validate(&p, &o).unwrap();
        assert_eq!(v.scopes, ["openid", "profile", "groups"]);
        let parked = crate::oidc::grant::Parked {
            req: v,
            created: i64::MIN,
        };
        let size = serde_json::to_vec(&parked).unwrap().len();
        let config = c.client_id.len() + c.redirect_uris.iter().map(String::len).sum::<usize>();
        assert!(
            size <= crate::oidc::grant::PARKED_MAX_BYTES + config,
            "{size} bytes"
        );
        assert!(size > 15_000, "the worst case is exercised: {size}");
    }

    #[test]
    fn other_refusals_redirect_with_state() {
        let o = oidc();
        let mut p = params("conf", "https://app.example/cb");
        p.response_type = Some("token".into());
        match validate(&p, &o).unwrap_err() {
            AuthzError::Redirect { error, state, .. } => assert_eq!(
                (error, state.as_deref()),
                ("unsupported_response_type", Some("st"))
            ),
            other => panic!("{other:?}"),
        }
        let mut p = params("conf", "https://app.example/cb");
        p.scope = Some("profile".into());
        assert!(matches!(
            validate(&p, &o),
            Err(AuthzError::Redirect {
                error: "invalid_scope",
                ..
            })
        ));
        let mut p = params("conf", "https://app.example/cb");
        p.prompt = Some("none login".into());
        assert!(validate(&p, &o).is_err());
    }
}
