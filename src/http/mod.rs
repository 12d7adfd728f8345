//! The HTTP surface. actix-web is used only below this module; handlers
//! call the pure protocol code and the store, and every error leaves through
//! [`error::AppError`].

pub mod error;
mod ha;
pub mod oidc;
mod oidc_flow;
pub mod pages;
pub mod ratelimit;

mod saml;
mod session;

use crate::clock::Clock;
use crate::config::Config;
use crate::keys::SpKeys;
use crate::store::AnyStore;
use actix_web::{web, App, HttpServer};
use base64::Engine;
use std::sync::Arc;

pub(crate) use crate::routes;
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
    pub oidc_keys: oidc::KeyCache,
}

/// Mounts every route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    saml::configure(cfg);
    ha::configure(cfg);
    oidc::configure(cfg);
    oidc_flow::configure(cfg);
    session::configure(cfg);
}

/// Serves until the process is stopped.
pub async fn run(state: AppState) -> std::io::Result<()> {
    let listen = state.config.listen;
    let data = web::Data::new(state);
    let form_limit = crate::xml::Limits::MESSAGE.max_encoded_bytes() + 8192;
    HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(
                web::FormConfig::default()
                    .limit(form_limit)
                    .error_handler(|e, _| error::AppError::BadRequest(format!("form: {e}")).into()),
            )
            .app_data(
                web::QueryConfig::default().error_handler(|e, _| {
                    error::AppError::BadRequest(format!("query: {e}")).into()
                }),
            )
            .configure(configure)
    })
    .workers(2)
    .bind(listen)?
    .run()
    .await
}

/// `n` random bytes, hex encoded.
pub(crate) fn random_hex(n: usize) -> String {
    let mut b = vec![0u8; n];
    // rand_bytes only fails if the system RNG is unusable; an all-zero
    // correlation id is harmless, so errors are ignored here only.
    let _ = openssl::rand::rand_bytes(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// `n` random bytes, base64url without padding; errors if the RNG fails.
pub(crate) fn random_token(n: usize) -> Result<String, error::AppError> {
    let mut b = vec![0u8; n];
    openssl::rand::rand_bytes(&mut b)
        .map_err(|e| error::AppError::Internal(format!("RNG: {e}")))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b))
}

/// SHA-256 hex of a secret, for store keys (so the store never holds cookies).
pub(crate) fn sha256_hex(s: &str) -> String {
    openssl::sha::sha256(s.as_bytes())
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}
