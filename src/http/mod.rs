//! The HTTP surface. actix-web is used only below this module. Handlers are
//! thin adapters: they parse the request, call one domain function (`saml`,
//! `oidc`, `ha`, `session`) and map its typed error through
//! [`error::AppError`]. The app is built by [`app`] from an [`AppState`],
//! which [`AppState::new`] makes from a configuration, a clock and a store,
//! so tests can drive it in-process with a fixed clock.

pub mod error;
mod ha;
mod headers;
mod oidc;
pub mod pages;
pub mod ratelimit;
mod saml;
mod session;

use crate::clock::Clock;
use crate::config::Config;
use crate::keys::{KeyError, OidcKeys, SpKeys};
use crate::store::AnyStore;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::{web, App, HttpServer};
use std::path::PathBuf;
use std::sync::Arc;

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
        Ok((
            Self {
                config,
                keys,
                store,
                clock,
                metadata_xml,
                oidc_keys,
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
}

/// The whole application for `state`: routes, request limits, error pages
/// for unreadable input, and the security headers on every response.
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
        .wrap(headers::security_headers())
        .configure(configure)
}

/// Serves until the process is stopped.
pub async fn run(state: AppState) -> std::io::Result<()> {
    let listen = state.config.listen;
    let data = web::Data::new(state);
    if let AnyStore::Embedded(s) = &data.store {
        s.spawn_sweeper(std::time::Duration::from_secs(300));
    }
    HttpServer::new(move || app(data.clone()))
        .workers(2)
        .bind(listen)?
        .run()
        .await
}
