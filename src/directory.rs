//! The run-time view of the trusted IdPs. Start-up puts every validated
//! [`Idp`] of the configuration here; the metadata refresh
//! (`outbound::refresh`) swaps one IdP's entry for a newer one without a
//! restart, and a configuration reload (`SIGHUP`) swaps the whole set
//! ([`IdpDirectory::replace_all`]). Readers take an [`IdpSet`] snapshot (one
//! `Arc`), so a request sees one consistent set for its whole life even
//! while a refresh or a reload lands.
//!
//! Each entry keeps the time its metadata was loaded (read at start-up or
//! reload, or fetched by a refresh), for `samlhub_idp_metadata_age_seconds`.
//!
//! This is the one place the request path looks IdPs up: `AppState::idp(id)`
//! and `AppState::idp_snapshot()` (in `http`) read from here.

use crate::config::Idp;
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

/// All trusted IdPs at one moment, in configuration order.
#[derive(Debug, Clone, Default)]
pub struct IdpSet {
    idps: Vec<Arc<Idp>>,
    /// When each IdP's metadata was loaded (unix seconds), by id.
    loaded_at: BTreeMap<String, i64>,
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
    /// When the metadata of IdP `id` was loaded or last fetched (unix seconds).
    pub fn loaded_at(&self, id: &str) -> Option<i64> {
        self.loaded_at.get(id).copied()
    }

    fn of(idps: Vec<Idp>, loaded_at: impl Fn(&Idp) -> i64) -> Self {
        Self {
            loaded_at: idps.iter().map(|i| (i.id.clone(), loaded_at(i))).collect(),
            idps: idps.into_iter().map(Arc::new).collect(),
        }
    }
}

/// What a [`IdpDirectory::replace_all`] changed, by IdP id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SetChange {
    pub added: Vec<String>,
    pub removed: Vec<String>,
}

/// The current [`IdpSet`], replaceable one IdP at a time.
#[derive(Debug, Default)]
pub struct IdpDirectory {
    current: RwLock<Arc<IdpSet>>,
}

impl IdpDirectory {
    /// The directory of `idps`, their metadata loaded at `loaded_at` (unix seconds).
    pub fn new(idps: Vec<Idp>, loaded_at: i64) -> Self {
        Self {
            current: RwLock::new(Arc::new(IdpSet::of(idps, |_| loaded_at))),
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

    /// Puts `idp`, its metadata loaded at `loaded_at`, in place of `current`.
    /// Returns false (and changes nothing) when the entry is no longer
    /// `current`: the IdP was removed or replaced meanwhile (a reload landed
    /// during a fetch, and the reload wins). A refresh never adds an IdP.
    pub fn replace(&self, current: &Arc<Idp>, idp: Idp, loaded_at: i64) -> bool {
        let mut cur = self.current.write().unwrap_or_else(|e| e.into_inner());
        let mut next = IdpSet::clone(&cur);
        let Some(slot) = next
            .idps
            .iter_mut()
            .find(|i| i.id == idp.id && Arc::ptr_eq(i, current))
        else {
            return false;
        };
        next.loaded_at.insert(idp.id.clone(), loaded_at);
        *slot = Arc::new(idp);
        *cur = Arc::new(next);
        true
    }

    /// Replaces the whole set at once (a configuration reload): readers see
    /// either the old set or the new one, never a mix. Every IdP gets
    /// `loaded_at`, except one that was running and whose new metadata is
    /// the saved copy of an earlier fetch (the fetch failed): it keeps the
    /// time of that earlier fetch.
    pub fn replace_all(&self, idps: Vec<Idp>, loaded_at: i64) -> SetChange {
        let mut cur = self.current.write().unwrap_or_else(|e| e.into_inner());
        let old = cur.clone();
        let next = IdpSet::of(idps, |i| {
            let from_saved = i
                .metadata_origin
                .as_ref()
                .is_some_and(|o| o.from_saved_copy);
            old.loaded_at(&i.id)
                .filter(|_| from_saved)
                .unwrap_or(loaded_at)
        });
        // The ids of `a` that `b` lacks.
        let missing = |a: &IdpSet, b: &IdpSet| -> Vec<String> {
            a.ids()
                .into_iter()
                .filter(|id| b.get(id).is_none())
                .map(str::to_owned)
                .collect()
        };
        let change = SetChange {
            added: missing(&next, &old),
            removed: missing(&old, &next),
        };
        *cur = Arc::new(next);
        change
    }
}
