//! `/readyz` (GET and HEAD): 200 when the store answers a read, 503
//! otherwise, for container health checks and load balancers. `/healthz`
//! only says the process serves HTTP; readiness also needs the store, as
//! every login step does (fail closed: a hub whose store is down is not
//! ready, RFC 9110 §15.6.4).

use super::AppState;
use crate::routes;
use crate::store::records;
use actix_web::{web, HttpResponse};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(routes::READY, web::get().to(ready))
        .route(routes::READY, web::head().to(ready));
}

async fn ready(st: web::Data<AppState>) -> HttpResponse {
    match records::ping(&st.store).await {
        Ok(()) => HttpResponse::Ok()
            .content_type("text/plain")
            .insert_header(("cache-control", "no-store"))
            .body("ready\n"),
        Err(e) => {
            log::warn!("readyz: {e}");
            HttpResponse::ServiceUnavailable()
                .content_type("text/plain")
                .insert_header(("cache-control", "no-store"))
                .body("store unavailable\n")
        }
    }
}
