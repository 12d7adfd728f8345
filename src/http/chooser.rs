//! The IdP chooser, shown by `/` and by `/saml/login` without `idp=`. The
//! IdP a browser chose last is remembered in a cookie and listed first:
//! `__Host-samlhub_idp` under https (Secure, Path=/, no Domain), else
//! `samlhub_idp`; HttpOnly and SameSite=Lax either way. It holds only a
//! configured IdP id: a value that is too long or names no IdP is ignored.

use super::error::AppError;
use super::{pages, session, AppState};
use crate::config::Config;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::{HttpRequest, HttpResponse};

/// The longest IdP id remembered; longer cookie values are ignored.
const MAX_ID: usize = 64;
/// How long the choice is remembered (browsers cap cookies at 400 days).
const REMEMBER_DAYS: i64 = 400;

pub fn cookie_name(https: bool) -> &'static str {
    if https {
        "__Host-samlhub_idp"
    } else {
        "samlhub_idp"
    }
}

/// The cookie remembering `idp` as this browser's choice; `None` for an id
/// too long to keep.
pub fn remember(https: bool, idp: &str) -> Option<Cookie<'static>> {
    if idp.is_empty() || idp.len() > MAX_ID {
        return None;
    }
    Some(
        Cookie::build(cookie_name(https), idp.to_owned())
            .path("/")
            .http_only(true)
            .secure(https)
            .same_site(SameSite::Lax)
            .max_age(actix_web::cookie::time::Duration::days(REMEMBER_DAYS))
            .finish(),
    )
}

/// The configured IdP this browser chose last, if its cookie names one.
pub fn last_choice<'a>(config: &'a Config, req: &HttpRequest) -> Option<&'a str> {
    let c = req.cookie(cookie_name(config.https()))?;
    let v = c.value();
    if v.len() > MAX_ID {
        return None;
    }
    config.idp(v).map(|i| i.id.as_str())
}

/// The chooser page. `return_to` (already checked) and `force_authn` are
/// carried on every IdP link.
pub async fn page(
    st: &AppState,
    req: &HttpRequest,
    return_to: Option<&str>,
    force_authn: bool,
) -> Result<HttpResponse, AppError> {
    let mut suffix = String::new();
    if let Some(r) = return_to {
        suffix.push_str("&return_to=");
        suffix.extend(url::form_urlencoded::byte_serialize(r.as_bytes()));
    }
    if force_authn {
        // Keep an application's demand for a fresh sign-in (prompt=login, max_age).
        suffix.push_str("&force_authn=1");
    }
    // The chooser still renders when the store is down.
    let who = session::current(st, req).await.unwrap_or(None);
    let idps = st.idp_snapshot();
    let config = st.config();
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .body(pages::chooser(
            idps.all(),
            last_choice(&config, req),
            who.as_ref().map(|(_, s)| &s.identity),
            &suffix,
        )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_is_host_only_under_https_and_bounded() {
        let c = remember(true, "corp").unwrap();
        assert_eq!(c.name(), "__Host-samlhub_idp");
        assert_eq!(c.secure(), Some(true));
        assert_eq!(c.path(), Some("/"));
        assert_eq!(c.domain(), None);
        assert_eq!(c.http_only(), Some(true));
        assert_eq!(c.same_site(), Some(SameSite::Lax));
        let c = remember(false, "corp").unwrap();
        assert_eq!(c.name(), "samlhub_idp");
        assert_eq!(c.secure(), Some(false));
        assert_eq!(c.same_site(), Some(SameSite::Lax));
        assert!(remember(false, &"x".repeat(MAX_ID + 1)).is_none());
        assert!(remember(false, "").is_none());
    }
}
