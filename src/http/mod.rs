//! The HTTP surface. actix-web is used only below this module. Handlers are
//! thin adapters: they parse the request, call one domain function (`saml`,
//! `oidc`, `ha`, `session`) and map its typed error through
//! [`error::AppError`]. The app is built by [`app`] from an [`AppState`],
//! which [`AppState::new`] makes from a configuration, a clock and a store,
//! so tests can drive it in-process with a fixed clock.

mod deadline;
pub mod error;
mod ha;
mod headers;
mod limit;
mod oidc;
pub mod pages;
mod ready;
mod saml;
mod session;

/// The limiter lives below `http` (the configuration parses its types);
/// re-exported under its former path.
pub use crate::ratelimit;

use crate::clock::Clock;
use crate::config::Config;
use crate::keys::{KeyError, OidcKeys, SpKeys};
use crate::store::AnyStore;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::{middleware, web, App, HttpServer};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use session::SESSION_COOKIE;

/// Shared, read-only state of a running hub.
pub struct AppState {
    pub config: Config,
    pub keys: SpKeys,
    pub store: AnyStore,
    pub clock: Arc<dyn Clock>,
    /// SP metadata, rendered once at start-up.
    pub metadata_xml: String,
    /// OpenID Connect signing keys.
    pub oidc_keys: OidcKeys,
    /// The per-address limits of `[rate_limit]`.
    pub limits: limit::Limits,
}

impl AppState {
    /// Loads (or creates, on first run) the SP and OIDC keys in the data
    /// directory and renders the SP metadata. Returns the key files created.
    pub fn new(
        config: Config,
        clock: Arc<dyn Clock>,
        store: AnyStore,
    ) -> Result<(Self, Vec<PathBuf>), KeyError> {
        let (keys, created) = SpKeys::load_or_create(&config.data_dir)?;
        let oidc_keys = OidcKeys::open(
            &config.data_dir,
            config.oidc.id_token_alg,
            clock.now().unix_timestamp(),
        )?;
        let metadata_xml = keys.metadata_xml(&config);
        let limits = limit::Limits::new(&config.rate_limit);
        Ok((
            Self {
                config,
                keys,
                store,
                clock,
                metadata_xml,
                oidc_keys,
                limits,
            },
            created,
        ))
    }

    /// Now, in unix seconds.
    pub(crate) fn now(&self) -> i64 {
        self.clock.now().unix_timestamp()
    }
}

/// Mounts every route.
fn configure(cfg: &mut web::ServiceConfig) {
    saml::configure(cfg);
    ha::configure(cfg);
    oidc::configure(cfg);
    session::configure(cfg);
    ready::configure(cfg);
}

/// The whole application for `state`: routes, request limits (the rate
/// limit, the body deadline), error pages for unreadable input, and the
/// security headers on every response.
pub fn app(
    state: web::Data<AppState>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let form_limit = crate::xml::Limits::MESSAGE.max_encoded_bytes() + 8192;
    App::new()
        .app_data(state)
        .app_data(
            web::FormConfig::default()
                .limit(form_limit)
                .error_handler(|e, _| error::AppError::BadRequest(format!("form: {e}")).into()),
        )
        .app_data(
            web::QueryConfig::default()
                .error_handler(|e, _| error::AppError::BadRequest(format!("query: {e}")).into()),
        )
        .wrap(middleware::from_fn(deadline::body_deadline))
        .wrap(middleware::from_fn(limit::rate_limit))
        .wrap(headers::security_headers())
        .configure(configure)
}

/// The request head must arrive within this time (else 408); the body
/// has [`deadline::BODY_DEADLINE`] more.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(5);
/// An idle kept-alive connection is closed after this time.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// Closing a connection may take this long before it is dropped.
pub const DISCONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Open connections per worker (two workers).
pub const MAX_CONNECTIONS: usize = 4096;

/// Serves until the process is stopped. Slow clients are bounded: the head
/// within [`HEAD_TIMEOUT`], the body within [`deadline::BODY_DEADLINE`],
/// idle keep-alive [`KEEP_ALIVE`], at most [`MAX_CONNECTIONS`] per worker.
pub async fn run(state: AppState) -> std::io::Result<()> {
    let listen = state.config.listen;
    let data = web::Data::new(state);
    if let AnyStore::Embedded(s) = &data.store {
        s.spawn_sweeper(std::time::Duration::from_secs(300));
    }
    HttpServer::new(move || app(data.clone()))
        .workers(2)
        .client_request_timeout(HEAD_TIMEOUT)
        .client_disconnect_timeout(DISCONNECT_TIMEOUT)
        .keep_alive(KEEP_ALIVE)
        .max_connections(MAX_CONNECTIONS)
        .bind(listen)?
        .run()
        .await
}
