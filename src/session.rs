//! Server-side sessions: a random 256-bit cookie value whose SHA-256 names
//! the store entry, so the store never holds a usable cookie. A session ends
//! at the configured lifetime or the IdP's SessionNotOnOrAfter, whichever
//! comes first. Cookie attributes are the HTTP layer's business.

use crate::identity::Identity;
use crate::store::records::{self, Key};
use crate::store::{Store, StoreError};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// What a session records.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    pub identity: Identity,
    /// Unix seconds.
    pub created: i64,
    pub expires: i64,
    /// What Single Logout needs when the session came from a SAML login.
    #[serde(default)]
    pub slo: Option<crate::saml::logout::SloLink>,
}
crate::json_record!(Session, records::Kind::Session);

impl Session {
    /// When the person last authenticated at the IdP (OIDC Core §2
    /// `auth_time`): the AuthnInstant, else when the session began.
    pub fn auth_time(&self) -> i64 {
        self.identity.authn_instant.unwrap_or(self.created)
    }
}

/// A new session: its cookie value and how long the cookie should live.
pub struct Started {
    pub cookie_value: String,
    pub ttl: Duration,
}

/// Why a session could not be made or read.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Rng(#[from] crate::crypto::RngError),
}

/// The store key of the session a cookie value names.
pub fn key(cookie_value: &str) -> Key<Session> {
    Key::secret(cookie_value)
}

/// Stores a session for `identity` at `now` (unix seconds), keeping what
/// Single Logout needs; returns the stored session with its key too.
pub async fn start_linked<S: Store>(
    store: &S,
    identity: Identity,
    slo: Option<crate::saml::logout::SloLink>,
    lifetime: Duration,
    now: i64,
) -> Result<(Started, Key<Session>, Session), SessionError> {
    let (started, k, s) = new_linked(identity, slo, lifetime, now)?;
    records::put(store, &k, &s, started.ttl).await?;
    Ok((started, k, s))
}

/// The session [`start_linked`] stores, not written yet: the caller writes
/// `session` under its key for `ttl` (with the rest of the login, in one
/// batch).
pub fn new_linked(
    identity: Identity,
    slo: Option<crate::saml::logout::SloLink>,
    lifetime: Duration,
    now: i64,
) -> Result<(Started, Key<Session>, Session), SessionError> {
    let mut expires = now.saturating_add(i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX));
    if let Some(s) = identity.session_not_on_or_after {
        expires = expires.min(s);
    }
    let ttl = records::ttl_until(expires, now);
    let cookie_value = crate::crypto::random_token(32)?;
    let s = Session {
        identity,
        created: now,
        expires,
        slo,
    };
    let k = key(&cookie_value);
    Ok((Started { cookie_value, ttl }, k, s))
}

/// The live session a cookie value names, with its key.
pub async fn find<S: Store>(
    store: &S,
    cookie_value: &str,
    now: i64,
) -> Result<Option<(Key<Session>, Session)>, StoreError> {
    let k = key(cookie_value);
    Ok(records::get(store, &k)
        .await?
        .filter(|s| s.expires > now)
        .map(|s| (k, s)))
}

/// Ends the session stored under `k`.
pub async fn end_key<S: Store>(store: &S, k: &Key<Session>) -> Result<(), StoreError> {
    records::delete(store, k).await
}

/// Ends the session a cookie value names, if any.
pub async fn end<S: Store>(store: &S, cookie_value: &str) -> Result<(), StoreError> {
    records::delete(store, &key(cookie_value)).await
}
