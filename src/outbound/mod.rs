//! Outbound HTTP, built one way: a time limit on the whole exchange, no
//! automatic redirects, statuses returned rather than raised, and TLS checked
//! against the system's trust store (so a home-lab CA installed there works).
//! [`metadata`] fetches and caches IdP metadata for configuration loading;
//! [`refresh`] fetches it again while the hub runs.

pub mod ha_login;
pub mod metadata;
pub mod refresh;

use std::time::Duration;

/// A client for one kind of call.
pub fn agent(timeout: Duration) -> ureq::Agent {
    let tls = ureq::tls::TlsConfig::builder()
        .provider(ureq::tls::TlsProvider::NativeTls)
        .root_certs(ureq::tls::RootCerts::PlatformVerifier)
        .build();
    ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .max_redirects(0)
        .tls_config(tls)
        .build()
        .into()
}
