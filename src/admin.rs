//! What the admin commands do over the store: find sessions by person, IdP
//! or key prefix (`samlhub sessions list`), end them the way a logout does
//! (`samlhub sessions revoke`), and release Home Assistant username bindings
//! (`samlhub ha release-username`). Pure like the other domains: the store
//! and `now` are parameters; `cli/admin.rs` opens the store and prints.
//!
//! Sessions are found by listing the `session:` keys
//! ([`records::list`]), which walks the key space: fine for an operator's
//! command, never done on a request. Nothing here returns or prints a
//! cookie; a session is named by the first [`SHOWN_HEX`] hex digits of its
//! store key, itself the SHA-256 of the cookie.

use crate::config::Config;
use crate::session::Session;
use crate::store::records::{self, Key};
use crate::store::{Store, StoreError};
use serde::Serialize;

/// How many hex digits of a session's key hash are shown.
pub const SHOWN_HEX: usize = 16;
/// The shortest hash prefix `--session` accepts.
pub const MIN_PREFIX: usize = 8;

/// Why an admin command could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Selector(String),
}

/// Which sessions a command is about; every given part must match.
#[derive(Debug, Clone, Default)]
pub struct Selector {
    /// The person: their username, email, subject, or `<idp>|<subject>`.
    pub user: Option<String>,
    /// The configured IdP id (`[[idp]] id`).
    pub idp: Option<String>,
    /// A prefix of the session's key hash, as `sessions list` shows it.
    pub session: Option<String>,
}

impl Selector {
    pub fn is_empty(&self) -> bool {
        self.user.is_none() && self.idp.is_none() && self.session.is_none()
    }

    fn check(&self) -> Result<(), AdminError> {
        if let Some(p) = &self.session {
            if p.len() < MIN_PREFIX || !p.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(AdminError::Selector(format!(
                    "--session wants at least {MIN_PREFIX} hex digits of a session as `sessions list` shows it"
                )));
            }
        }
        Ok(())
    }

    fn matches(&self, hash: &str, s: &Session) -> bool {
        let id = &s.identity;
        let user_ok = self.user.as_deref().is_none_or(|u| {
            id.username.as_deref() == Some(u)
                || id
                    .email
                    .as_deref()
                    .is_some_and(|e| e.eq_ignore_ascii_case(u))
                || id.subject == u
                || id.scoped_subject() == u
        });
        let idp_ok = self.idp.as_deref().is_none_or(|i| id.idp == i);
        let session_ok = self
            .session
            .as_deref()
            .is_none_or(|p| hash.starts_with(&p.to_ascii_lowercase()));
        user_ok && idp_ok && session_ok
    }
}

/// One session as the commands show it: never the cookie, never a token.
#[derive(Debug, Clone, Serialize)]
pub struct Listed {
    /// The first [`SHOWN_HEX`] hex digits of the session's key hash.
    pub session: String,
    /// The username, else the email, else the subject.
    pub user: String,
    pub idp: String,
    pub subject: String,
    /// Unix seconds.
    pub created: i64,
    pub expires: i64,
}

fn hash_of(k: &Key<Session>) -> &str {
    k.as_str()
        .split_once(':')
        .map(|(_, h)| h)
        .unwrap_or_default()
}

/// What `sessions list` prints of one session.
pub fn describe(k: &Key<Session>, s: &Session) -> Listed {
    let id = &s.identity;
    Listed {
        session: hash_of(k).chars().take(SHOWN_HEX).collect(),
        user: id
            .username
            .clone()
            .or_else(|| id.email.clone())
            .unwrap_or_else(|| id.subject.clone()),
        idp: id.idp.clone(),
        subject: id.subject.clone(),
        created: s.created,
        expires: s.expires,
    }
}

/// The live sessions `sel` selects (all of them when it is empty), oldest
/// first.
pub async fn find<S: Store>(
    store: &S,
    sel: &Selector,
    now: i64,
) -> Result<Vec<(Key<Session>, Session)>, AdminError> {
    sel.check()?;
    let mut out = Vec::new();
    for k in records::list::<S, Session>(store).await? {
        // A session ended between the listing and this read is simply gone.
        let Some(s) = records::get(store, &k).await? else {
            continue;
        };
        if s.expires > now && sel.matches(hash_of(&k), &s) {
            out.push((k, s));
        }
    }
    out.sort_by_key(|(_, s)| s.created);
    Ok(out)
}

/// Ends the sessions `sel` selects, each as a logout ends it
/// (`saml::slo::end_here`): the session goes, so the OIDC grants and tokens
/// riding on it are refused at their next use (they re-read it), the
/// person's Home Assistant login codes are voided, and its Single Logout
/// index entry is dropped. The IdP is not told. An empty selector is
/// refused, and so is a `--session` prefix that names more than one.
/// Returns how many sessions ended.
pub async fn revoke<S: Store>(
    store: &S,
    cfg: &Config,
    sel: &Selector,
    now: i64,
) -> Result<usize, AdminError> {
    if sel.is_empty() {
        return Err(AdminError::Selector(
            "say which sessions to end: --user, --idp or --session".into(),
        ));
    }
    let found = find(store, sel, now).await?;
    if sel.session.is_some() && found.len() > 1 {
        return Err(AdminError::Selector(format!(
            "--session matches {} sessions; give more digits",
            found.len()
        )));
    }
    for (k, s) in &found {
        crate::saml::slo::end_here(store, cfg, k, s, now).await?;
    }
    Ok(found.len())
}

/// One released binding: the instance and the subject that held the name.
#[derive(Debug, Clone)]
pub struct Released {
    pub instance: String,
    pub owner: String,
}

/// Releases `username` at `instance`, or at every configured instance when
/// none is named (`ha::login::release_username`). An unknown instance is
/// refused. Returns what was released; empty when nothing was bound.
pub async fn release_username<S: Store>(
    store: &S,
    cfg: &Config,
    username: &str,
    instance: Option<&str>,
) -> Result<Vec<Released>, AdminError> {
    if let Some(i) = instance {
        if !cfg.ha.iter().any(|h| h.id == i) {
            return Err(AdminError::Selector(format!(
                "no [[ha]] instance '{i}' is configured"
            )));
        }
    }
    let mut out = Vec::new();
    for h in cfg.ha.iter().filter(|h| instance.is_none_or(|i| h.id == i)) {
        if let Some(owner) = crate::ha::login::release_username(store, &h.id, username).await? {
            out.push(Released {
                instance: h.id.clone(),
                owner,
            });
        }
    }
    Ok(out)
}
