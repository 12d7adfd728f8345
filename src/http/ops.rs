//! Operations endpoints and the per-request middleware.
//!
//! - [`observe`] wraps every request: a `HEAD` is served as the `GET` of the
//!   same route (RFC 9110 §9.3.2; the HTTP/1 codec leaves the body out and
//!   keeps the headers), the request gets an id that every log line written
//!   while handling it carries and that the answer returns as `X-Request-Id`,
//!   and an error answer (its code set by `error::render`) counts in
//!   `samlhub_failures_total` and, unless it is a missing session or a rate
//!   limit refusal (both come in floods), is an audit `refusal`.
//! - `/healthz`: the process answers (served by `session.rs`).
//! - `/readyz`: the store answers within [`READY_TIMEOUT`] and no IdP's
//!   metadata is past its `validUntil` (SAML Metadata §2.2.1); 200 or 503
//!   with a JSON body naming each check.
//! - `/metrics`: Prometheus text (`crate::metrics`), on the main listener
//!   only with `metrics = true`, and on `metrics_listen` when set.

use super::error::ErrorCode;
use super::AppState;
use crate::audit::{Event, Kind};
use crate::metrics::IdpGauge;
use crate::routes;
use crate::store::Store;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{web, HttpResponse};
use std::time::Duration;

/// How long `/readyz` waits for the store.
pub const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// The routes of this module on the main listener.
pub fn configure(cfg: &mut web::ServiceConfig, metrics: bool) {
    cfg.route(routes::READY, web::get().to(ready));
    if metrics {
        cfg.route(routes::METRICS, web::get().to(metrics_text));
    }
}

/// The separate metrics listener: `/metrics`, `/healthz` and `/readyz`.
pub fn configure_metrics_listener(cfg: &mut web::ServiceConfig) {
    cfg.route(routes::METRICS, web::get().to(metrics_text))
        .route(routes::READY, web::get().to(ready))
        .route(
            routes::HEALTH,
            web::get().to(|| async { HttpResponse::Ok().content_type("text/plain").body("ok\n") }),
        );
}

/// HEAD as GET, the request id, and the count and audit of error answers.
pub async fn observe<B: MessageBody>(
    mut req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<B>, actix_web::Error> {
    if req.method() == Method::HEAD {
        req.head_mut().method = Method::GET;
    }
    crate::heap::note_request();
    let id = crate::logging::new_request_id();
    let st = req.app_data::<web::Data<AppState>>().cloned();
    let header = HeaderValue::from_str(&id).ok();
    crate::logging::with_request_id(id, async move {
        let (res, known) = crate::audit::scope(next.call(req)).await;
        let mut res = res?;
        if let Some(v) = header {
            res.headers_mut()
                .insert(HeaderName::from_static("x-request-id"), v);
        }
        let code = res.response().extensions().get::<ErrorCode>().map(|c| c.0);
        if let Some(code) = code {
            if let Some(st) = &st {
                st.metrics.failures.inc(&[code]);
            }
            if !matches!(code, "no_session" | "rate_limited") {
                Event::new(Kind::Refusal).reason(code).known(&known).emit();
            }
        }
        Ok(res)
    })
    .await
}

/// One check's outcome in the `/readyz` body.
fn check(ok: bool, why: &str) -> serde_json::Value {
    if ok {
        "ok".into()
    } else {
        why.into()
    }
}

async fn ready(st: web::Data<AppState>) -> HttpResponse {
    let store = match tokio::time::timeout(READY_TIMEOUT, st.store.ping()).await {
        Ok(Ok(())) => "ok",
        Ok(Err(e)) => {
            log::debug!("readyz: {e}");
            "unavailable"
        }
        Err(_) => "timeout",
    };
    let now = st.clock.now();
    let mut ready = store == "ok";
    let mut idps = serde_json::Map::new();
    for i in st.idp_snapshot().all() {
        // SAML Metadata §2.2.1: validUntil ends the metadata's use.
        let usable = i.metadata.valid_until.is_none_or(|u| u > now);
        ready &= usable;
        idps.insert(i.id.clone(), check(usable, "metadata_expired"));
    }
    let body = serde_json::json!({
        "ready": ready,
        "store": store,
        "idps": idps,
    });
    let mut r = if ready {
        HttpResponse::Ok()
    } else {
        HttpResponse::ServiceUnavailable()
    };
    r.insert_header(("Cache-Control", "no-store")).json(body)
}

/// Days until the last of `certs` (DER) expires; negative once all have.
fn cert_days(certs: &[Vec<u8>], now: i64) -> Option<f64> {
    let now = openssl::asn1::Asn1Time::from_unix(now).ok()?;
    certs
        .iter()
        .filter_map(|der| {
            let c = openssl::x509::X509::from_der(der).ok()?;
            let d = now.diff(c.not_after()).ok()?;
            Some(f64::from(d.days) + f64::from(d.secs) / 86_400.0)
        })
        .reduce(f64::max)
}

async fn metrics_text(st: web::Data<AppState>) -> HttpResponse {
    let now = st.now();
    let snapshot = st.idp_snapshot();
    let age: Vec<IdpGauge<'_>> = snapshot
        .all()
        .iter()
        .map(|i| IdpGauge {
            idp: &i.id,
            // Since this copy was read (start-up, reload) or fetched (refresh).
            value: (now - snapshot.loaded_at(&i.id).unwrap_or(st.started)) as f64,
        })
        .collect();
    let days: Vec<IdpGauge<'_>> = snapshot
        .all()
        .iter()
        .filter_map(|i| {
            Some(IdpGauge {
                idp: &i.id,
                value: cert_days(&i.metadata.signing_certs, now)?,
            })
        })
        .collect();
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .body(st.metrics.render(&age, &days))
}
