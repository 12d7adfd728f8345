//! The Home Assistant login as a flow over the store: [`admit`] applies an
//! instance's policy and binds the username to the first person who uses it,
//! [`issue_code`] mints the one-time code the person types into HA, and
//! [`redeem`] is what HA's `command_line` hook calls: it checks the code and
//! returns the signed, short-lived token the hook verifies.
//!
//! A code's entry is removed only by the redeem that wins it (one commit
//! that finds the entry as it read it, and removes it) or by its expiry.
//! Wrong codes never touch it; they spend the code's numbered tries (see
//! [`super::attempts`]), so a wrong code racing a right one can never
//! refuse the right one, and nobody can void a code faster than the backoff
//! between tries allows.

use super::attempts::{self, Claim, Previous};
use super::code;
use super::policy::{self, HaLogin, Policy, PolicyError};
use super::token::{self, Claims, Group};
use crate::identity::{Identity, UnstableSubject};
use crate::store::records::{self, Batch, HaCodeUsed, HaOwner, Key, Kind};
use crate::store::{Committed, Store, StoreError};
use serde::{Deserialize, Serialize};
use std::time::Duration;

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
    /// A random id naming this code's tries (not a secret; not the code).
    #[serde(default)]
    pub id: String,
    /// SHA-256 of the normalised code.
    pub hash: String,
    pub expires: i64,
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
    /// The subject changes at every sign-in, so binding a username to it
    /// would lock the person out at the next one.
    #[error("HA login refused: {0}")]
    UnstableSubject(UnstableSubject),
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
    // A transient NameID (SAML Core §8.3.8) names nobody twice: refused
    // before anything is bound to it. An email NameID stays usable here
    // (the username is bound to the address).
    if let Some(why @ UnstableSubject::Transient) = who.unstable_subject() {
        return Err(HaError::UnstableSubject(why));
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

/// A freshly minted code and what became of the one it replaces.
pub struct Issued {
    /// The code to show; never logged.
    pub code: String,
    pub previous: Previous,
}

impl CodeEntry {
    fn tries<'a>(&'a self, inst: &'a str, username: &'a str) -> attempts::Code<'a> {
        attempts::Code {
            instance: inst,
            username,
            id: &self.id,
            expires: self.expires,
        }
    }
}

/// Mints a code for `login`, replacing any earlier one for that username,
/// and reports whether the earlier one was tried or voided. The new code has
/// fresh tries: issuing it resets the backoff.
pub async fn issue_code<S: Store>(
    store: &S,
    inst: &Instance<'_>,
    login: &HaLogin,
    now: i64,
) -> Result<Issued, HaError> {
    let internal = |e: crate::crypto::RngError| HaError::Internal(e.to_string());
    let rnd = crate::crypto::random_bytes(code::LEN).map_err(internal)?;
    let c = code::from_random(&rnd).ok_or_else(|| HaError::Internal("code".into()))?;
    let normalized = code::normalize(&c).ok_or_else(|| HaError::Internal("code".into()))?;
    let lifetime = i64::try_from(inst.code_lifetime.as_secs()).unwrap_or(i64::MAX);
    let entry = CodeEntry {
        id: crate::crypto::random_token(9).map_err(internal)?,
        hash: code::hash(&normalized),
        expires: now.saturating_add(lifetime),
        name: login.name.clone(),
        group: login.group,
        local_only: login.local_only,
    };
    let key = code_key(inst.id, &login.username);
    let old = records::get(store, &key)
        .await?
        .filter(|old| now < old.expires);
    let previous = attempts::take_previous(
        store,
        inst.id,
        &login.username,
        old.as_ref()
            .map(|o| o.tries(inst.id, &login.username))
            .as_ref(),
    )
    .await?;
    records::put(store, &key, &entry, inst.code_lifetime).await?;
    Ok(Issued { code: c, previous })
}

/// Voids the live code of `who` at this instance, if any: a Single Logout
/// ends what the person's sessions started. The username comes from the
/// same policy as at issue, and the code is removed only when that username
/// is bound to this person. Returns whether a code was removed.
pub async fn revoke_code<S: Store>(
    store: &S,
    inst: &Instance<'_>,
    who: &Identity,
) -> Result<bool, StoreError> {
    if !inst.idps.is_empty() && !inst.idps.contains(&who.idp) {
        return Ok(false);
    }
    let Ok(login) = policy::decide(inst.policy, who) else {
        return Ok(false);
    };
    let bound = records::get(store, &Key::<HaOwner>::of(&[inst.id, &login.username])).await?;
    if bound != Some(HaOwner(who.scoped_subject())) {
        return Ok(false);
    }
    let key = code_key(inst.id, &login.username);
    if records::get(store, &key).await?.is_none() {
        return Ok(false);
    }
    records::delete(store, &key).await?;
    Ok(true)
}

/// Constant-time equality of two code hashes.
fn hash_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && openssl::memcmp::eq(a.as_bytes(), b.as_bytes())
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
    let refused = |why: String| RedeemError::Refused(format!("instance '{}': {why}", inst.id));
    // Read as stored: the win below removes the entry only while it still
    // holds exactly these bytes.
    let Some((entry, raw)) = records::get_as_stored(store, &key)
        .await
        .map_err(unavailable)?
    else {
        return Err(refused(format!(
            "no live code for '{username}' (never issued, used or expired)"
        )));
    };
    if now >= entry.expires {
        return Err(refused(format!("code for '{username}' expired")));
    }
    // Something that cannot be a code cannot match: refuse it without
    // spending a try.
    let Some(typed) = code::normalize(typed).map(|c| code::hash(&c)) else {
        return Err(refused(format!(
            "'{username}': what was typed is not a code"
        )));
    };
    let tries = entry.tries(inst.id, &username);
    let n = match attempts::claim(store, &tries, now)
        .await
        .map_err(unavailable)?
    {
        Claim::Granted(n) => n,
        Claim::Wait(secs) => {
            return Err(refused(format!(
                "'{username}' is backing off after failed tries: next try in {secs} s (code not checked)"
            )))
        }
        Claim::Spent => {
            return Err(refused(format!(
                "code for '{username}' voided after {} failed tries",
                attempts::MAX_TRIES
            )))
        }
    };
    if !hash_eq(&typed, &entry.hash) {
        let voided = attempts::record_failure(store, &tries, n, now)
            .await
            .map_err(unavailable)?;
        if voided {
            log::warn!(
                "ha: code voided after {} failed tries instance={} username={}",
                attempts::MAX_TRIES,
                inst.id,
                crate::logsafe::esc(&username)
            );
        }
        return Err(refused(format!(
            "wrong code for '{username}' (failed try {} of {})",
            n + 1,
            attempts::MAX_TRIES
        )));
    }
    // Right code: of all redeemers, the one whose commit finds the entry
    // unchanged wins, and removes it in the same step; a newer code issued
    // meanwhile stays where it is. The used-marker keeps the win to one
    // redeemer where the check and the removal are separate steps (Redis
    // Cluster, `store::commit_in_order`).
    let used = Key::<HaCodeUsed>::of(&[inst.id, &username, &entry.hash]);
    let mut win = Batch::new();
    win.claim(&used, &HaCodeUsed, records::ttl_until(entry.expires, now))
        .map_err(unavailable)?;
    win.unchanged(&key, Some(raw));
    win.remove(&key);
    match win.apply(store).await.map_err(unavailable)? {
        Committed::Written => {}
        Committed::Unmet(_) => {
            let now_there = records::get(store, &key).await.map_err(unavailable)?;
            if now_there.is_some_and(|newer| !hash_eq(&typed, &newer.hash)) {
                return Err(refused(format!(
                    "code for '{username}' was replaced by a newer one"
                )));
            }
            return Err(refused(format!("code for '{username}' already used")));
        }
        Committed::Taken(_) => return Err(refused(format!("code for '{username}' already used"))),
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
        crate::logsafe::esc(&username),
        claims.group.as_str(),
        crate::crypto::sha256_hex(&claims.jti)
            .get(..8)
            .unwrap_or("")
    );
    Ok(t)
}

/// Releases the binding of `username` at instance `inst` (the admin command
/// `samlhub ha release-username`), so the next person to use the name binds
/// it afresh. The name's live login code goes with it: it was minted for the
/// person the name no longer belongs to. Returns the subject that held it,
/// `None` when the name was not bound.
pub async fn release_username<S: Store>(
    store: &S,
    inst: &str,
    username: &str,
) -> Result<Option<String>, StoreError> {
    let username = policy::normalize_username(username);
    let Some(HaOwner(owner)) =
        records::take(store, &Key::<HaOwner>::of(&[inst, &username])).await?
    else {
        return Ok(None);
    };
    records::delete(store, &code_key(inst, &username)).await?;
    Ok(Some(owner))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Clock, FixedClock};
    use crate::ha::policy::{AdminMfa, UsernameRule};
    use crate::store::EmbeddedStore;
    use std::sync::Arc;

    const SECRET: &[u8] = b"unit-test-hook-secret-0123456789";

    struct Rig {
        _dir: tempfile::TempDir,
        clock: FixedClock,
        store: Arc<EmbeddedStore>,
        policy: Policy,
    }

    fn rig() -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let clock = FixedClock::new(time::macros::datetime!(2030-01-01 00:00 UTC));
        let store = EmbeddedStore::open(&dir.path().join("s.redb"), Arc::new(clock.clone()));
        Rig {
            _dir: dir,
            clock,
            store: Arc::new(store.unwrap()),
            policy: Policy {
                username: UsernameRule::Username,
                admin_groups: vec![],
                user_groups: vec![],
                read_only_groups: vec![],
                local_only_groups: vec![],
                admin_mfa: AdminMfa::Off,
                mfa_contexts: vec![],
            },
        }
    }

    impl Rig {
        fn inst(&self) -> Instance<'_> {
            Instance {
                id: "home",
                idps: &[],
                policy: &self.policy,
                // The longest the configuration allows.
                code_lifetime: Duration::from_secs(900),
                hook_secret: SECRET,
            }
        }
        fn now(&self) -> i64 {
            self.clock.now().unix_timestamp()
        }
        fn step(&self, secs: i64) {
            self.clock.advance(time::Duration::seconds(secs));
        }
        async fn issue(&self) -> Issued {
            let login = HaLogin {
                username: "alice".into(),
                name: "Alice".into(),
                group: Group::Users,
                local_only: false,
                demoted: false,
            };
            issue_code(&*self.store, &self.inst(), &login, self.now())
                .await
                .unwrap()
        }
        async fn redeem(&self, code: &str) -> Result<String, String> {
            redeem(
                &*self.store,
                &self.inst(),
                "https://hub",
                "Alice",
                code,
                self.now(),
            )
            .await
            .map_err(|e| e.to_string())
        }
    }

    impl Rig {
        /// Spends every try of `c` on wrong codes, each as soon as it opens.
        async fn spend_every_try(&self, c: &str) {
            for n in 0..attempts::MAX_TRIES {
                self.step(attempts::wait_before(n));
                let got = self.redeem(&wrong(c, n as usize)).await;
                let want = format!("failed try {} of {}", n + 1, attempts::MAX_TRIES);
                assert!(refused_for(&got, &want), "{got:?}");
            }
        }
    }

    /// A well-formed code that is not `right`.
    fn wrong(right: &str, i: usize) -> String {
        let alt = if right.starts_with('0') { '1' } else { '0' };
        format!("{alt}{:04}-{:05}", i % 10_000, i % 100_000)
    }

    fn refused_for(r: &Result<String, String>, why: &str) -> bool {
        matches!(r, Err(e) if e.contains(why))
    }

    #[tokio::test]
    async fn five_wrong_tries_leave_the_right_code_working() {
        let r = rig();
        let c = r.issue().await.code;
        for i in 1..=5 {
            let got = r.redeem(&wrong(&c, i)).await;
            assert!(
                refused_for(&got, &format!("failed try {i} of 20")),
                "{got:?}"
            );
        }
        let t = r.redeem(&c).await.unwrap();
        let claims = token::verify(&t, SECRET, "home", "alice", r.now()).unwrap();
        assert_eq!(claims.name, "Alice");
        assert!(
            refused_for(&r.redeem(&c).await, "no live code"),
            "single use"
        );
    }

    #[tokio::test]
    async fn garbage_spends_no_try() {
        let r = rig();
        let c = r.issue().await.code;
        for _ in 0..50 {
            assert!(refused_for(&r.redeem("hunter2").await, "not a code"));
        }
        assert!(r.redeem(&c).await.is_ok());
    }

    #[tokio::test]
    async fn backing_off_refuses_without_checking_and_voids_nothing() {
        let r = rig();
        let c = r.issue().await.code;
        for i in 1..=6 {
            assert!(r.redeem(&wrong(&c, i)).await.is_err());
        }
        // The seventh try opens 1 s after the sixth: even the right code waits.
        let got = r.redeem(&c).await;
        assert!(
            refused_for(&got, "next try in 1 s (code not checked)"),
            "{got:?}"
        );
        r.step(1);
        assert!(r.redeem(&c).await.is_ok());
    }

    #[tokio::test]
    async fn a_new_code_resets_the_backoff_and_reports_the_tries() {
        let r = rig();
        let c = r.issue().await.code;
        for i in 1..=7 {
            let _ = r.redeem(&wrong(&c, i)).await;
        }
        assert!(refused_for(&r.redeem(&c).await, "backing off"));
        let again = r.issue().await;
        assert_eq!(again.previous, Previous::Failed { tries: 6 });
        assert!(again.previous.notice().unwrap().contains("6 time(s)"));
        assert!(r.redeem(&again.code).await.is_ok(), "fresh tries at once");
        assert_eq!(r.issue().await.previous, Previous::Quiet);
    }

    #[tokio::test]
    async fn the_code_dies_after_max_failed_tries_and_the_next_page_says_so() {
        let r = rig();
        let c = r.issue().await.code;
        r.spend_every_try(&c).await;
        r.step(attempts::MAX_WAIT_SECS);
        let got = r.redeem(&c).await;
        assert!(refused_for(&got, "voided after 20 failed tries"), "{got:?}");
        let again = r.issue().await;
        assert_eq!(again.previous, Previous::Voided);
        assert!(again.previous.notice().unwrap().contains("voided"));
        assert!(r.redeem(&again.code).await.is_ok());
    }

    #[tokio::test]
    async fn a_voided_code_is_reported_even_after_it_expired() {
        let r = rig();
        let c = r.issue().await.code;
        r.spend_every_try(&c).await;
        r.step(3600);
        assert_eq!(r.issue().await.previous, Previous::Voided);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_wrong_and_right_redeems_never_refuse_the_right_one() {
        let r = Arc::new(rig());
        for round in 0..50 {
            let c = r.issue().await.code;
            let mut tasks = Vec::new();
            for i in 0..attempts::FREE_FAILURES as usize {
                let (r, w) = (Arc::clone(&r), wrong(&c, i));
                tasks.push(tokio::spawn(async move { (false, r.redeem(&w).await) }));
            }
            let (r2, c2) = (Arc::clone(&r), c.clone());
            tasks.push(tokio::spawn(async move { (true, r2.redeem(&c2).await) }));
            for t in tasks {
                let (right, got) = t.await.unwrap();
                assert_eq!(right, got.is_ok(), "round {round}: {got:?}");
            }
        }
    }

    /// The embedded store, with a newer code written under the code's key
    /// just before the next commit, as if it were issued while a redeem of
    /// the older one was between its read and its commit.
    struct IssuedMeanwhile {
        inner: Arc<EmbeddedStore>,
        newer: std::sync::Mutex<Option<(String, Vec<u8>)>>,
    }

    impl Store for IssuedMeanwhile {
        async fn put_if_absent(&self, k: &str, v: &[u8], t: Duration) -> Result<bool, StoreError> {
            self.inner.put_if_absent(k, v, t).await
        }
        async fn put(&self, k: &str, v: &[u8], t: Duration) -> Result<(), StoreError> {
            self.inner.put(k, v, t).await
        }
        async fn put_transient(&self, k: &str, v: &[u8], t: Duration) -> Result<(), StoreError> {
            self.inner.put_transient(k, v, t).await
        }
        async fn put_many(&self, e: &[(&str, &[u8], Duration)]) -> Result<(), StoreError> {
            self.inner.put_many(e).await
        }
        async fn commit(
            &self,
            claims: &[(&str, &[u8], Duration)],
            requires: &[(&str, crate::store::Expect<'_>)],
            puts: &[(&str, &[u8], Duration)],
            deletes: &[&str],
        ) -> Result<Committed, StoreError> {
            let newer = self.newer.lock().unwrap().take();
            if let Some((k, v)) = newer {
                self.inner.put(&k, &v, Duration::from_secs(900)).await?;
            }
            self.inner.commit(claims, requires, puts, deletes).await
        }
        async fn get(&self, k: &str) -> Result<Option<Vec<u8>>, StoreError> {
            self.inner.get(k).await
        }
        async fn take(&self, k: &str) -> Result<Option<Vec<u8>>, StoreError> {
            self.inner.take(k).await
        }
        async fn delete(&self, k: &str) -> Result<(), StoreError> {
            self.inner.delete(k).await
        }
        async fn keys_with_prefix(&self, p: &str) -> Result<Vec<String>, StoreError> {
            self.inner.keys_with_prefix(p).await
        }
    }

    #[tokio::test]
    async fn a_code_issued_while_the_old_one_is_redeemed_is_left_in_place() {
        let r = rig();
        let key = code_key("home", "alice");
        let old = r.issue().await.code;
        let old_raw = r.store.get(key.as_str()).await.unwrap().unwrap();
        let newer = r.issue().await.code;
        let newer_raw = r.store.get(key.as_str()).await.unwrap().unwrap();
        r.store
            .put(key.as_str(), &old_raw, Duration::from_secs(900))
            .await
            .unwrap();
        let hooked = IssuedMeanwhile {
            inner: Arc::clone(&r.store),
            newer: std::sync::Mutex::new(Some((key.as_str().to_owned(), newer_raw.clone()))),
        };
        let got = redeem(&hooked, &r.inst(), "https://hub", "alice", &old, r.now()).await;
        assert!(
            matches!(&got, Err(e) if e.to_string().contains("replaced by a newer one")),
            "{got:?}"
        );
        assert_eq!(
            r.store.get(key.as_str()).await.unwrap(),
            Some(newer_raw),
            "the newer code was never removed"
        );
        r.redeem(&newer).await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn no_burst_checks_a_code_more_than_max_tries_times() {
        let r = Arc::new(rig());
        let c = r.issue().await.code;
        let mut checked = 0;
        // Six tries open at once, then one per round (each wait is <= 60 s).
        for round in 0..15 {
            if round > 0 {
                r.step(attempts::MAX_WAIT_SECS);
            }
            let tasks: Vec<_> = (0..20)
                .map(|i| {
                    let (r, w) = (Arc::clone(&r), wrong(&c, round * 100 + i));
                    tokio::spawn(async move { r.redeem(&w).await })
                })
                .collect();
            for t in tasks {
                let got = t.await.unwrap();
                checked += usize::from(refused_for(&got, "wrong code"));
            }
        }
        assert_eq!(checked, attempts::MAX_TRIES as usize);
        assert!(refused_for(&r.redeem(&c).await, "voided"));
    }
}
