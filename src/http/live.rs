//! The running configuration and what is derived from it, as one value a
//! reload replaces whole: the validated [`Config`], the SP metadata rendered
//! from it, and the `[rate_limit]` limiters. A request reads one [`Live`]
//! (through `AppState::config` or `AppState::live`) and so never mixes two
//! versions of the configuration.

use super::limit::Limits;
use crate::config::Config;
use crate::keys::SpKeys;
use std::sync::Arc;

/// One version of the running configuration.
pub struct Live {
    pub config: Arc<Config>,
    /// The SP metadata (`/saml/metadata`) for this configuration.
    pub metadata_xml: String,
    /// The per-address limits of `[rate_limit]`.
    pub(super) limits: Arc<Limits>,
}

impl Live {
    /// `config` in force with the SP `keys`. The limiters of `previous` are
    /// kept (with their counts) when `[rate_limit]` did not change.
    pub fn new(config: Config, keys: &SpKeys, previous: Option<&Live>) -> Self {
        let limits = match previous {
            Some(p) if p.config.rate_limit == config.rate_limit => p.limits.clone(),
            _ => Arc::new(Limits::new(&config.rate_limit)),
        };
        Self {
            metadata_xml: keys.metadata_xml(&config),
            config: Arc::new(config),
            limits,
        }
    }
}
