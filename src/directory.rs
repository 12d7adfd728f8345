//! The run-time view of the trusted IdPs. Start-up puts every validated
//! [`Idp`] of the configuration here; the metadata refresh
//! (`outbound::refresh`) swaps one IdP's entry for a newer one without a
//! restart. Readers take an [`IdpSet`] snapshot (one `Arc`), so a request
//! sees one consistent set for its whole life even while a refresh lands.
//!
//! This is the one place the request path looks IdPs up: `AppState::idp(id)`
//! and `AppState::idp_snapshot()` (in `http`) read from here. `Config::idps`
//! stays what start-up loaded and is not updated.

use crate::config::Idp;
use std::sync::{Arc, RwLock};

/// All trusted IdPs at one moment, in configuration order.
#[derive(Debug, Clone, Default)]
pub struct IdpSet {
    idps: Vec<Arc<Idp>>,
}

impl IdpSet {
    /// The IdP with this `id`.
    pub fn get(&self, id: &str) -> Option<Arc<Idp>> {
        self.idps.iter().find(|i| i.id == id).cloned()
    }
    /// Every IdP, in configuration order.
    pub fn all(&self) -> &[Arc<Idp>] {
        &self.idps
    }
    /// Their ids, in configuration order.
    pub fn ids(&self) -> Vec<&str> {
        self.idps.iter().map(|i| i.id.as_str()).collect()
    }
}

/// The current [`IdpSet`], replaceable one IdP at a time.
#[derive(Debug, Default)]
pub struct IdpDirectory {
    current: RwLock<Arc<IdpSet>>,
}

impl IdpDirectory {
    pub fn new(idps: Vec<Idp>) -> Self {
        Self {
            current: RwLock::new(Arc::new(IdpSet {
                idps: idps.into_iter().map(Arc::new).collect(),
            })),
        }
    }

    /// The set as it is now; later replacements do not change it.
    pub fn snapshot(&self) -> Arc<IdpSet> {
        // A writer cannot leave the set half-written (it swaps one Arc), so a
        // poisoned lock still holds a consistent value.
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The IdP with this `id`, as it is now.
    pub fn get(&self, id: &str) -> Option<Arc<Idp>> {
        self.snapshot().get(id)
    }

    /// Puts `idp` in place of the entry with the same id. Returns false (and
    /// changes nothing) when no such IdP is configured: a refresh never adds
    /// an IdP.
    pub fn replace(&self, idp: Idp) -> bool {
        let mut cur = self.current.write().unwrap_or_else(|e| e.into_inner());
        let mut next = IdpSet::clone(&cur);
        let Some(slot) = next.idps.iter_mut().find(|i| i.id == idp.id) else {
            return false;
        };
        *slot = Arc::new(idp);
        *cur = Arc::new(next);
        true
    }
}
