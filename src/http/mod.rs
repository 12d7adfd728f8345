//! The HTTP surface. actix-web is used only below this module. Handlers are
//! thin adapters: they parse the request, call one domain function (`saml`,
//! `oidc`, `ha`, `session`) and map its typed error through
//! [`error::AppError`]. The app is built by [`app`] from an [`AppState`],
//! which [`AppState::new`] makes from a configuration, a clock and a store,
//! so tests can drive it in-process with a fixed clock. The configuration
//! and what is derived from it are one swappable unit ([`live::Live`],
//! read through [`AppState::config`]); [`lifecycle`] swaps it on `SIGHUP`
//! and drains the server on `SIGTERM`.

mod chooser;
mod deadline;
pub mod error;
mod form;
mod ha;
mod headers;
pub mod lifecycle;
mod limit;
pub mod live;
mod oidc;
mod ops;
pub mod pages;
mod portal;
mod saml;
mod session;
mod setup;
mod slo;

/// The limiter lives below `http` (the configuration parses its types);
/// re-exported under its former path.
pub use crate::ratelimit;

use crate::clock::Clock;
use crate::config::{Config, Idp};
use crate::directory::{IdpDirectory, IdpSet};
use crate::keys::{KeyError, OidcKeys, SpKeys};
use crate::store::AnyStore;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::{middleware, web, App, HttpServer};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

pub use session::SESSION_COOKIE;

/// Shared state of a running hub. The configuration is swapped whole by a
/// reload ([`AppState::config`]); everything else is fixed at start-up.
pub struct AppState {
    pub keys: SpKeys,
    pub store: AnyStore,
    pub clock: Arc<dyn Clock>,
    /// OpenID Connect signing keys.
    pub oidc_keys: OidcKeys,
    /// The trusted IdPs as they are now (refreshed metadata included).
    pub idps: Arc<IdpDirectory>,
    /// Counters for `/metrics`.
    pub metrics: crate::metrics::Metrics,
    /// When this state was built (unix seconds).
    pub started: i64,
    /// The running configuration with its SP metadata and rate limits.
    live: RwLock<Arc<live::Live>>,
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
        let started = clock.now().unix_timestamp();
        let idps = Arc::new(IdpDirectory::new(config.idps.clone(), started));
        let live = live::Live::new(config, &keys, None);
        Ok((
            Self {
                keys,
                store,
                clock,
                oidc_keys,
                idps,
                metrics: crate::metrics::Metrics::default(),
                started,
                live: RwLock::new(Arc::new(live)),
            },
            created,
        ))
    }

    /// The running configuration. Take it once per request where several
    /// fields are read: a reload that lands meanwhile does not change it.
    pub fn config(&self) -> Arc<Config> {
        self.live().config.clone()
    }

    /// The running configuration with what is derived from it.
    pub fn live(&self) -> Arc<live::Live> {
        // A writer swaps one Arc, so a poisoned lock still holds a whole value.
        self.live.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Puts `next` in force for every later request.
    fn set_live(&self, next: live::Live) {
        *self.live.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(next);
    }

    /// The IdP `id` as it is trusted now. Look it up once per request and
    /// keep the `Arc`: a refresh that lands meanwhile does not change it.
    pub fn idp(&self, id: &str) -> Option<Arc<Idp>> {
        self.idps.get(id)
    }

    /// Every trusted IdP at this moment, one consistent set.
    pub fn idp_snapshot(&self) -> Arc<IdpSet> {
        self.idps.snapshot()
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
    slo::configure(cfg);
    setup::configure(cfg);
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
    let form_limit = form::message_limit();
    let metrics = state.config().ops.metrics;
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
        .wrap(middleware::from_fn(ops::observe))
        .wrap(headers::security_headers())
        .configure(configure)
        .configure(|cfg| ops::configure(cfg, metrics))
}

/// Takes `SIGHUP` over from its default action (ending the process) for
/// the rest of start-up; pass it to [`run_with`]. Call inside the runtime
/// that will serve.
pub fn hangup() -> std::io::Result<lifecycle::Hangup> {
    lifecycle::Hangup::register()
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

/// Serves until a stop signal (`SIGTERM`, `SIGINT`, `SIGQUIT`; see
/// [`lifecycle`]) has stopped it; `SIGHUP` reloads the configuration. Slow
/// clients are bounded: the head within [`HEAD_TIMEOUT`], the body within
/// [`deadline::BODY_DEADLINE`], idle keep-alive [`KEEP_ALIVE`], at most
/// [`MAX_CONNECTIONS`] per worker. IdP metadata from a `metadata_url` is
/// refreshed meanwhile (`outbound::refresh`).
pub async fn run(state: AppState) -> std::io::Result<()> {
    run_with(state, None).await
}

/// [`run`], with `SIGHUP` already registered by [`hangup`] early in start-up.
pub async fn run_with(state: AppState, early: Option<lifecycle::Hangup>) -> std::io::Result<()> {
    let signals = lifecycle::Signals::register(early)?;
    let config = state.config();
    let data = web::Data::new(state);
    if let AnyStore::Embedded(s) = &data.store {
        s.spawn_sweeper(std::time::Duration::from_secs(300));
    }
    // What start-up allocated and freed goes back now; later, whenever the
    // hub falls quiet after serving.
    crate::heap::trim();
    crate::heap::spawn_idle_trimmer(std::time::Duration::from_secs(1));
    // Every metadata_url is fetched again in the background; the handle
    // (held by the signal watcher) stops it when dropped.
    let refresh = crate::outbound::refresh::spawn(
        crate::outbound::refresh::Refresher::new(&config, data.idps.clone(), data.clock.now()),
        data.clock.clone(),
    );
    let mut servers = Vec::new();
    if let Some(addr) = config.ops.metrics_listen {
        let d = data.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(d.clone())
                .wrap(middleware::from_fn(ops::observe))
                .configure(ops::configure_metrics_listener)
        })
        .workers(1)
        .client_request_timeout(HEAD_TIMEOUT)
        .keep_alive(KEEP_ALIVE)
        .disable_signals()
        .shutdown_timeout(lifecycle::SHUTDOWN_TIMEOUT_SECS)
        .bind(addr)?
        .run();
        servers.push(server.handle());
        actix_web::rt::spawn(server);
    }
    let d = data.clone();
    let main = HttpServer::new(move || app(d.clone()))
        .workers(2)
        .client_request_timeout(HEAD_TIMEOUT)
        .client_disconnect_timeout(DISCONNECT_TIMEOUT)
        .keep_alive(KEEP_ALIVE)
        .max_connections(MAX_CONNECTIONS)
        .disable_signals()
        .shutdown_timeout(lifecycle::SHUTDOWN_TIMEOUT_SECS)
        .bind(config.listen)?
        .run();
    servers.push(main.handle());
    drop(config);
    let watcher = actix_web::rt::spawn(lifecycle::watch(signals, data.clone(), servers, refresh));
    let res = main.await;
    watcher.abort();
    // Transient writes (pending requests, parked authorizations, codes) are
    // made durable here, not left to whichever thread drops the store last.
    if let AnyStore::Embedded(s) = &data.store {
        if let Err(e) = s.sync().await {
            log::error!("store: the final sync failed: {e}");
        }
    }
    log::info!("stopped");
    res
}
