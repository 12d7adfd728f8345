//! The Home Assistant login as a flow over the store: [`admit`] applies an
//! instance's policy and binds the username to the first person who uses it,
//! [`issue_code`] mints the one-time code the person types into HA, and
//! [`redeem`] is what HA's `command_line` hook calls: it checks the code and
//! returns the signed, short-lived token the hook verifies.

use super::code;
use super::policy::{self, HaLogin, Policy, PolicyError};
use super::token::{self, Claims, Group};
use crate::identity::Identity;
use crate::store::records::{self, HaOwner, Key, Kind};
use crate::store::{Store, StoreError};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Failed attempts after which a code is void.
pub const MAX_ATTEMPTS: u32 = 5;
/// How long a username stays bound to the person who first used it.
const BINDING_TTL: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// What the HA login needs to know of one `[[ha]]` instance.
pub struct Instance<'a> {
    pub id: &'a str,
    /// IdPs whose people may log in; empty: any.
    pub idps: &'a [String],
    pub policy: &'a Policy,
    pub code_lifetime: Duration,
    pub hook_secret: &'a [u8],
}

/// A code waiting for the hook, under `hacode:<instance>:<username>`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CodeEntry {
    /// SHA-256 of the normalised code.
    pub hash: String,
    pub expires: i64,
    pub attempts: u32,
    pub name: String,
    pub group: Group,
    pub local_only: bool,
}
crate::json_record!(CodeEntry, Kind::HaCode);

fn code_key(inst: &str, username: &str) -> Key<CodeEntry> {
    Key::of(&[inst, username])
}

/// Why someone signed in may not log in to an instance.
#[derive(Debug, thiserror::Error)]
pub enum HaError {
    #[error("your IdP '{0}' may not log in to this Home Assistant")]
    IdpNotAllowed(String),
    #[error("HA login refused: {0}")]
    Refused(#[from] PolicyError),
    #[error("HA username '{0}' already belongs to another person")]
    UsernameTaken(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("internal: {0}")]
    Internal(String),
}

/// Why a redeem was refused. The hook gets one uniform answer per variant;
/// the reason is for the log.
#[derive(Debug, thiserror::Error)]
pub enum RedeemError {
    #[error("redeem refused: {0}")]
    Refused(String),
    #[error("redeem: store unavailable: {0}")]
    Unavailable(StoreError),
    #[error("redeem: internal: {0}")]
    Internal(String),
}

/// Applies the instance's policy and binds the username to this person:
/// the first subject to use a username keeps it, and it is never merged.
pub async fn admit<S: Store>(
    store: &S,
    inst: &Instance<'_>,
    who: &Identity,
) -> Result<HaLogin, HaError> {
    if !inst.idps.is_empty() && !inst.idps.contains(&who.idp) {
        return Err(HaError::IdpNotAllowed(who.idp.clone()));
    }
    let login = policy::decide(inst.policy, who)?;
    let bind = Key::<HaOwner>::of(&[inst.id, &login.username]);
    let me = HaOwner(who.scoped_subject());
    if !records::put_if_absent(store, &bind, &me, BINDING_TTL).await? {
        let owner = records::get(store, &bind).await?;
        if owner.as_ref() != Some(&me) {
            return Err(HaError::UsernameTaken(login.username));
        }
    }
    Ok(login)
}

/// Mints a code for `login`, replacing any earlier one for that username.
pub async fn issue_code<S: Store>(
    store: &S,
    inst: &Instance<'_>,
    login: &HaLogin,
    now: i64,
) -> Result<String, HaError> {
    let rnd =
        crate::crypto::random_bytes(code::LEN).map_err(|e| HaError::Internal(e.to_string()))?;
    let c = code::from_random(&rnd).ok_or_else(|| HaError::Internal("code".into()))?;
    let normalized = code::normalize(&c).ok_or_else(|| HaError::Internal("code".into()))?;
    let lifetime = i64::try_from(inst.code_lifetime.as_secs()).unwrap_or(i64::MAX);
    let entry = CodeEntry {
        hash: code::hash(&normalized),
        expires: now.saturating_add(lifetime),
        attempts: 0,
        name: login.name.clone(),
        group: login.group,
        local_only: login.local_only,
    };
    records::put(
        store,
        &code_key(inst.id, &login.username),
        &entry,
        inst.code_lifetime,
    )
    .await?;
    Ok(c)
}

/// Whether `presented` is the instance's hook secret (constant time).
pub fn hook_secret_matches(inst: &Instance<'_>, presented: &[u8]) -> bool {
    presented.len() == inst.hook_secret.len() && openssl::memcmp::eq(presented, inst.hook_secret)
}

/// Redeems a code for a signed token for the hook. `issuer` is the hub's
/// public URL; the token lives at most [`token::MAX_LIFETIME_SECS`].
pub async fn redeem<S: Store>(
    store: &S,
    inst: &Instance<'_>,
    issuer: &str,
    username: &str,
    typed: &str,
    now: i64,
) -> Result<String, RedeemError> {
    let username = policy::normalize_username(username);
    let key = code_key(inst.id, &username);
    let unavailable = RedeemError::Unavailable;
    // Taking the entry makes each attempt atomic: two attempts can never
    // both see the same code (store contract: take).
    let Some(mut entry) = records::take(store, &key).await.map_err(unavailable)? else {
        return Err(RedeemError::Refused(format!(
            "instance '{}': no live code for '{username}' (never issued, used, expired or voided)",
            inst.id
        )));
    };
    if now >= entry.expires {
        return Err(RedeemError::Refused(format!(
            "instance '{}': code for '{username}' expired",
            inst.id
        )));
    }
    let typed = code::normalize(typed)
        .map(|c| code::hash(&c))
        .unwrap_or_default();
    if typed.len() != entry.hash.len()
        || !openssl::memcmp::eq(typed.as_bytes(), entry.hash.as_bytes())
    {
        entry.attempts += 1;
        if entry.attempts < MAX_ATTEMPTS {
            // If a new code was issued meanwhile, that one wins.
            records::put_if_absent(store, &key, &entry, records::ttl_until(entry.expires, now))
                .await
                .map_err(unavailable)?;
        }
        return Err(RedeemError::Refused(format!(
            "instance '{}': wrong code for '{username}' (failed attempt {} of {MAX_ATTEMPTS})",
            inst.id, entry.attempts
        )));
    }
    let jti = crate::crypto::random_token(12).map_err(|e| RedeemError::Internal(e.to_string()))?;
    let claims = Claims {
        iss: issuer.to_owned(),
        aud: inst.id.to_owned(),
        sub: username.clone(),
        name: entry.name,
        group: entry.group,
        local_only: entry.local_only,
        iat: now,
        exp: now + token::MAX_LIFETIME_SECS,
        jti,
    };
    let t =
        token::mint(&claims, inst.hook_secret).map_err(|e| RedeemError::Internal(e.to_string()))?;
    log::info!(
        "ha: code redeemed instance={} username={} group={} jti={}",
        inst.id,
        username,
        claims.group.as_str(),
        crate::crypto::sha256_hex(&claims.jti)
            .get(..8)
            .unwrap_or("")
    );
    Ok(t)
}
