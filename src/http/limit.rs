//! The per-client-address rate limit on the endpoints that write state for
//! people not yet known (`[rate_limit]`, bounds in `crate::ratelimit` and
//! `docs/security.md`). One middleware picks the endpoint's bucket by method
//! and routed path, finds the client (the TCP peer, or the address a trusted
//! proxy put in `X-Forwarded-For`) and counts the request before any handler
//! reads it. A refusal is 429 with `Retry-After` (RFC 6585 §4): the HTML page
//! for browsers, `{"error": "rate_limited"}` for programs.
//!
//! Browser bucket: GET/POST `/oidc/authorize` (parks the request), GET
//! `/saml/login` (pending login), POST `/saml/acs`, GET `/ha` and `/ha/login`,
//! GET/POST `/saml/slo` (logout messages: signature work, replay entries).
//! Programs bucket, ten times as generous since one caller speaks for many
//! people: POST `/oidc/token`, POST `/ha/redeem` (the HA hook).
//! A request without a peer address (in-process tests) is not counted.

use super::error::{AppError, JsonError};
use super::AppState;
use crate::config::rate_limit::RateLimitSettings;
use crate::ratelimit::{client_addr, unix_ms, Cidr, Limiter};
use crate::routes;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{web, HttpResponse, ResponseError};
use std::net::IpAddr;

/// The limiters of a running hub; `None` when `[rate_limit] enabled = false`.
pub struct Limits(Option<Active>);

struct Active {
    browser: Limiter,
    programs: Limiter,
    trusted_proxies: Vec<Cidr>,
}

impl Limits {
    pub fn new(s: &RateLimitSettings) -> Self {
        Self(s.enabled.then(|| Active {
            browser: Limiter::checked(s.limit),
            programs: Limiter::checked(s.programs()),
            trusted_proxies: s.trusted_proxies.clone(),
        }))
    }
}

/// Which limit an endpoint counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bucket {
    Browser,
    Programs,
}

fn bucket(method: &Method, path: &str) -> Option<Bucket> {
    let get = *method == Method::GET;
    let post = *method == Method::POST;
    match path {
        routes::OIDC_AUTHORIZE if get || post => Some(Bucket::Browser),
        routes::SAML_LOGIN | routes::HA | routes::HA_LOGIN if get => Some(Bucket::Browser),
        routes::SAML_ACS if post => Some(Bucket::Browser),
        routes::SAML_SLO if get || post => Some(Bucket::Browser),
        routes::OIDC_TOKEN | routes::HA_REDEEM if post => Some(Bucket::Programs),
        _ => None,
    }
}

/// The client to count: `X-Forwarded-For` (every header, in order) is
/// believed only as far as trusted proxies wrote it.
fn client(req: &ServiceRequest, peer: IpAddr, trusted: &[Cidr]) -> IpAddr {
    let values: Vec<&str> = req
        .headers()
        .get_all("X-Forwarded-For")
        .filter_map(|v| v.to_str().ok())
        .collect();
    let joined = (!values.is_empty()).then(|| values.join(","));
    client_addr(peer, joined.as_deref(), trusted)
}

/// The refusal for `req`, if its client is over the limit.
fn refusal(st: &AppState, req: &ServiceRequest) -> Option<HttpResponse> {
    let live = st.live();
    let active = live.limits.0.as_ref()?;
    let which = bucket(req.method(), req.match_info().as_str())?;
    let peer = req.peer_addr()?.ip();
    let who = client(req, peer, &active.trusted_proxies);
    let limiter = match which {
        Bucket::Browser => &active.browser,
        Bucket::Programs => &active.programs,
    };
    let after = limiter.check(who, unix_ms(st.clock.now())).err()?;
    let e = AppError::RateLimited(after);
    Some(match which {
        Bucket::Browser => e.error_response(),
        Bucket::Programs => JsonError(e).error_response(),
    })
}

/// The middleware: counts limited requests, answers 429 when over.
pub async fn rate_limit<B: MessageBody>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    let refused = req
        .app_data::<web::Data<AppState>>()
        .and_then(|st| refusal(st, &req));
    match refused {
        Some(r) => Ok(req.into_response(r).map_into_right_body()),
        None => next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ratelimit::RetryAfter;

    #[actix_web::test]
    async fn refusals_are_429_with_retry_after() {
        let e = || AppError::RateLimited(RetryAfter { secs: 7 });
        let page = e().error_response();
        let json = JsonError(e()).error_response();
        for r in [&page, &json] {
            assert_eq!(r.status(), 429);
            assert_eq!(r.headers().get("Retry-After").unwrap(), "7");
        }
        let ct = |r: &HttpResponse| r.headers().get("Content-Type").unwrap().clone();
        assert!(ct(&page).to_str().unwrap().starts_with("text/html"));
        assert_eq!(ct(&json), "application/json");
        let body = actix_web::body::to_bytes(json.into_body()).await.unwrap();
        assert_eq!(&body[..], br#"{"error":"rate_limited"}"#);
    }

    #[test]
    fn buckets_by_method_and_path() {
        let (g, p) = (Method::GET, Method::POST);
        assert_eq!(bucket(&g, "/oidc/authorize"), Some(Bucket::Browser));
        assert_eq!(bucket(&p, "/oidc/authorize"), Some(Bucket::Browser));
        assert_eq!(bucket(&g, "/saml/login"), Some(Bucket::Browser));
        assert_eq!(bucket(&p, "/saml/acs"), Some(Bucket::Browser));
        assert_eq!(bucket(&g, "/saml/slo"), Some(Bucket::Browser));
        assert_eq!(bucket(&g, "/ha"), Some(Bucket::Browser));
        assert_eq!(bucket(&g, "/ha/login"), Some(Bucket::Browser));
        assert_eq!(bucket(&p, "/oidc/token"), Some(Bucket::Programs));
        assert_eq!(bucket(&p, "/ha/redeem"), Some(Bucket::Programs));
        for (m, path) in [
            (&g, "/"),
            (&g, "/healthz"),
            (&g, "/oidc/jwks"),
            (&g, "/saml/metadata"),
            (&p, "/saml/login"),
            (&g, "/oidc/token"),
            (&g, "/session"),
        ] {
            assert_eq!(bucket(m, path), None, "{m} {path}");
        }
    }
}
