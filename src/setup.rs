//! The administrator's access to `/setup` and what the page reports.
//!
//! - The **setup token**: until someone uses it, every start makes a new
//!   random token, keeps only its SHA-256 in `<data>/setup-token.sha256`
//!   (mode 0600) and returns the token for the start-up banner, the one place
//!   it is ever printed. Redeeming it compares in constant time and renames
//!   the hash file to `setup-token.used` (an atomic, one-time step); after
//!   that no start makes a token again and `/setup` is for the configured
//!   `admin_groups` (and the browser that redeemed it, for an hour).
//! - **Sign-in status per IdP**: the last success per IdP and the last
//!   failure (any IdP), kept in the store for the setup page.
//!
//! No actix-web here; time is a parameter.

use crate::store::records::{self, Key, Kind};
use crate::store::{Store, StoreError};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The file holding the pending setup token's SHA-256 (hex).
pub const TOKEN_FILE: &str = "setup-token.sha256";
/// The marker left once the token has been used.
pub const USED_FILE: &str = "setup-token.used";
/// How long a redeemed token lets its browser open `/setup`.
pub const GRANT_LIFETIME: Duration = Duration::from_secs(3600);
/// How long sign-in status entries are kept.
pub const STATUS_LIFETIME: Duration = Duration::from_secs(30 * 24 * 3600);

/// Why `/setup` was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("not an administrator")]
    NotAdmin,
    #[error("wrong or used setup token")]
    BadToken,
}

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("{path}: {msg}")]
    Io { path: PathBuf, msg: String },
    #[error("the random number generator failed")]
    Rng,
}

fn io(path: &Path, e: impl std::fmt::Display) -> SetupError {
    SetupError::Io {
        path: path.to_owned(),
        msg: e.to_string(),
    }
}

/// At start-up: a fresh setup token while none has been used yet (its hash
/// replaces any earlier one), or `None` once one has been used.
pub fn issue_token(data: &Path) -> Result<Option<String>, SetupError> {
    if data.join(USED_FILE).exists() {
        return Ok(None);
    }
    std::fs::create_dir_all(data).map_err(|e| io(data, e))?;
    let token = crate::crypto::random_token(24).map_err(|_| SetupError::Rng)?;
    let path = data.join(TOKEN_FILE);
    let tmp = data.join(format!("{TOKEN_FILE}.tmp"));
    let _ = std::fs::remove_file(&tmp);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(&tmp).map_err(|e| io(&tmp, e))?;
    std::io::Write::write_all(&mut f, crate::crypto::sha256_hex(&token).as_bytes())
        .map_err(|e| io(&tmp, e))?;
    std::fs::rename(&tmp, &path).map_err(|e| io(&path, e))?;
    Ok(Some(token))
}

/// Redeems `presented`: `true` exactly once for the token of the banner.
pub fn redeem_token(data: &Path, presented: &str) -> Result<bool, SetupError> {
    let path = data.join(TOKEN_FILE);
    let stored = match std::fs::read_to_string(&path) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(io(&path, e)),
    };
    let digest = crate::crypto::sha256_hex(presented);
    let stored = stored.trim();
    if stored.len() != digest.len() || !openssl::memcmp::eq(stored.as_bytes(), digest.as_bytes()) {
        return Ok(false);
    }
    // The rename is the one-time step: of two racing requests one wins.
    match std::fs::rename(&path, data.join(USED_FILE)) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io(&path, e)),
    }
}

/// Records that the browser holding `cookie` may open `/setup`.
pub async fn grant<S: Store>(store: &S, cookie: &str) -> Result<(), StoreError> {
    records::put(
        store,
        &Key::<records::SetupGrant>::secret(cookie),
        &records::SetupGrant,
        GRANT_LIFETIME,
    )
    .await
}

/// Whether the browser holding `cookie` redeemed the setup token.
pub async fn granted<S: Store>(store: &S, cookie: &str) -> Result<bool, StoreError> {
    Ok(
        records::get(store, &Key::<records::SetupGrant>::secret(cookie))
            .await?
            .is_some(),
    )
}

/// The last sign-in outcome of an IdP (or the last failure of any IdP).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoginStatus {
    /// Unix seconds.
    pub at: i64,
    /// Empty for a success; else the error code and the reason.
    pub failure: String,
}
crate::json_record!(LoginStatus, Kind::IdpStatus);

fn success_key(idp: &str) -> Key<LoginStatus> {
    Key::of(&[idp])
}

fn failure_key() -> Key<LoginStatus> {
    Key::of(&["-failure"])
}

/// Notes a successful sign-in through `idp`.
pub async fn note_success<S: Store>(store: &S, idp: &str, now: i64) -> Result<(), StoreError> {
    let mut batch = records::Batch::new();
    note_success_in(&mut batch, idp, now)?;
    batch.commit(store).await
}

/// [`note_success`] as one more entry of a login's batch.
pub fn note_success_in(batch: &mut records::Batch, idp: &str, now: i64) -> Result<(), StoreError> {
    let v = LoginStatus {
        at: now,
        failure: String::new(),
    };
    batch.put(&success_key(idp), &v, STATUS_LIFETIME)
}

/// Notes a failed sign-in (the reason is bounded to 300 characters).
pub async fn note_failure<S: Store>(store: &S, reason: &str, now: i64) -> Result<(), StoreError> {
    let v = LoginStatus {
        at: now,
        failure: reason.chars().take(300).collect(),
    };
    records::put(store, &failure_key(), &v, STATUS_LIFETIME).await
}

/// The last success through `idp`, if any.
pub async fn last_success<S: Store>(
    store: &S,
    idp: &str,
) -> Result<Option<LoginStatus>, StoreError> {
    records::get(store, &success_key(idp)).await
}

/// The last failed sign-in, if any.
pub async fn last_failure<S: Store>(store: &S) -> Result<Option<LoginStatus>, StoreError> {
    records::get(store, &failure_key()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_is_one_time_and_only_its_hash_is_kept() {
        let dir = std::env::temp_dir().join(format!(
            "samlhub-setup-test-{}-{}",
            std::process::id(),
            crate::crypto::random_hex(4).unwrap()
        ));
        let t = issue_token(&dir).unwrap().unwrap();
        let stored = std::fs::read_to_string(dir.join(TOKEN_FILE)).unwrap();
        assert!(!stored.contains(&t));
        // A later start replaces an unused token.
        let t2 = issue_token(&dir).unwrap().unwrap();
        assert!(!redeem_token(&dir, &t).unwrap(), "the replaced token");
        assert!(!redeem_token(&dir, "wrong").unwrap());
        assert!(redeem_token(&dir, &t2).unwrap());
        assert!(!redeem_token(&dir, &t2).unwrap(), "works once");
        assert!(issue_token(&dir).unwrap().is_none(), "no token after use");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
