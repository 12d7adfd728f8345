//! How often, and how fast, one HA code may be tried.
//!
//! Checking a code never changes the code's entry: a wrong code cannot void
//! or hide it from a concurrent right one. Instead every check of a code
//! first claims a numbered *try* of that code, `haback:<instance>:<username>:
//! <code id>:<n>`, with `put_if_absent`. Of concurrent claimers of try `n`
//! exactly one wins, the others move on to `n + 1`, so the tries of a code
//! are a gap-free sequence and each check of a typed code owns one of them:
//!
//! - a code is checked at most [`MAX_TRIES`] times, however many requests
//!   arrive at once (no increment is ever lost);
//! - after up to [`FREE_FAILURES`] tries the next one is still open at once
//!   (typos, and a few wrong codes from someone else, delay nobody); later
//!   try `n` opens [`wait_before`]`(n)` seconds after try `n - 1` was
//!   claimed: 1 s, doubling, capped at 60 s. A redeem that finds the next
//!   try not open yet is refused without its code being looked at, and
//!   without voiding anything: the same code works once the wait is over;
//! - when all tries are spent the code is dead. Its entry is left to expire
//!   (deleting it could race with a new code being issued).
//!
//! A new code has a new id and so a fresh set of tries: issuing one resets
//! the backoff. The tries live as long as their code.
//!
//! Next to the tries, `haback:<instance>:<username>` holds a [`Backoff`]
//! summary: the last failure seen, for the `/ha` page's notice and as the
//! place where the next claim starts looking. It is written with plain
//! `put`, so concurrent failures may leave it behind the truth; it is never
//! used to allow a try, only to skip tries already known to be taken.

use crate::store::records::{self, Key, Kind};
use crate::store::{Store, StoreError};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// How many times one code may be checked before it is dead.
pub const MAX_TRIES: u32 = 20;
/// Tries after which the next one is still open at once.
pub const FREE_FAILURES: u32 = 5;
/// The wait before the first try after the free ones; it doubles per try.
const FIRST_WAIT_SECS: i64 = 1;
/// The longest wait between two tries.
pub const MAX_WAIT_SECS: i64 = 60;
/// How long the summary outlives the failure it records, so the `/ha` page
/// can still say that a code was voided after it expired.
const SUMMARY_TTL: Duration = Duration::from_secs(24 * 3600);

/// One claimed try of one code.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Try {
    /// When it was claimed (unix seconds).
    pub at: i64,
}
crate::json_record!(Try, Kind::HaBackoff);

/// The last failed try of a username's code, as far as anyone saw.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Backoff {
    /// The id of the code that was tried.
    pub code: String,
    /// Tries of that code taken when the failure was recorded (a lower bound).
    pub tries: u32,
    /// When (unix seconds).
    pub last: i64,
    /// All tries spent: the code is dead.
    pub voided: bool,
}
crate::json_record!(Backoff, Kind::HaBackoff);

pub fn summary_key(inst: &str, username: &str) -> Key<Backoff> {
    Key::of(&[inst, username])
}

fn try_key(inst: &str, username: &str, code: &str, n: u32) -> Key<Try> {
    Key::of(&[inst, username, code, &n.to_string()])
}

/// Seconds that must pass after try `n - 1` before try `n` may be claimed.
pub fn wait_before(n: u32) -> i64 {
    match n.checked_sub(FREE_FAILURES + 1) {
        None => 0,
        Some(k) => FIRST_WAIT_SECS
            .checked_shl(k)
            .filter(|w| *w > 0)
            .map_or(MAX_WAIT_SECS, |w| w.min(MAX_WAIT_SECS)),
    }
}

/// One code of one username, as far as tries are concerned.
pub struct Code<'a> {
    pub instance: &'a str,
    pub username: &'a str,
    /// The code's id (not the code).
    pub id: &'a str,
    /// When the code expires (unix seconds); its tries live as long.
    pub expires: i64,
}

/// The outcome of asking for a try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Try number `n` (from 0) is this caller's: check the code.
    Granted(u32),
    /// The next try opens in this many seconds; do not check the code.
    Wait(i64),
    /// Every try has been used: the code is dead.
    Spent,
}

/// Claims the next try of `code` at `now`.
pub async fn claim<S: Store>(store: &S, code: &Code<'_>, now: i64) -> Result<Claim, StoreError> {
    let key = |n| try_key(code.instance, code.username, code.id, n);
    let ttl = records::ttl_until(code.expires, now);
    // Tries known taken (a lower bound), and when the last of them was.
    let mut n = match records::get(store, &summary_key(code.instance, code.username)).await? {
        Some(b) if b.code == code.id => b.tries.min(MAX_TRIES),
        _ => 0,
    };
    let mut prev = None;
    if let Some(last) = n.checked_sub(1) {
        match records::get(store, &key(last)).await? {
            Some(t) => prev = Some(t.at),
            None => n = 0,
        }
    }
    // Each round either finds try n taken and moves past it, or claims it;
    // losing a claim means someone else took it, so the bound is generous.
    for _ in 0..2 * (MAX_TRIES + 1) {
        if n >= MAX_TRIES {
            return Ok(Claim::Spent);
        }
        if let Some(t) = records::get(store, &key(n)).await? {
            prev = Some(t.at);
            n += 1;
            continue;
        }
        // A free try is open whatever the clock says: concurrent requests
        // read the clock before they claim, so the try before this one may
        // carry a later second than our `now` without any wait being due.
        let wait = wait_before(n);
        if let Some(at) = prev.filter(|_| wait > 0) {
            let opens = at.saturating_add(wait);
            if now < opens {
                return Ok(Claim::Wait(opens - now));
            }
        }
        if records::put_if_absent(store, &key(n), &Try { at: now }, ttl).await? {
            return Ok(Claim::Granted(n));
        }
    }
    // Not reachable with a store that honours its contract; refuse without
    // voiding anything.
    Ok(Claim::Wait(1))
}

/// Records that try `n` of `code` was a wrong code. Returns whether that
/// was the last try (the code is now dead).
pub async fn record_failure<S: Store>(
    store: &S,
    code: &Code<'_>,
    n: u32,
    now: i64,
) -> Result<bool, StoreError> {
    let tries = n.saturating_add(1);
    let voided = tries >= MAX_TRIES;
    let k = summary_key(code.instance, code.username);
    // Do not move a summary of this code backwards (best effort: the read
    // and the write are two steps).
    if let Some(b) = records::get(store, &k).await? {
        if b.code == code.id && (b.voided || b.tries >= tries) {
            return Ok(voided);
        }
    }
    let b = Backoff {
        code: code.id.to_owned(),
        tries,
        last: now,
        voided,
    };
    records::put(store, &k, &b, SUMMARY_TTL).await?;
    Ok(voided)
}

/// Whether every try of `code` has been claimed.
pub async fn spent<S: Store>(store: &S, code: &Code<'_>) -> Result<bool, StoreError> {
    let last = try_key(code.instance, code.username, code.id, MAX_TRIES - 1);
    Ok(records::get(store, &last).await?.is_some())
}

/// What became of a username's previous code, for the `/ha` page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Previous {
    /// Nothing worth saying.
    Quiet,
    /// Wrong codes were tried; the code was still alive.
    Failed { tries: u32 },
    /// All tries were spent on wrong codes; the code died.
    Voided,
}

impl Previous {
    /// The sentence the `/ha` page shows, if any.
    pub fn notice(self) -> Option<String> {
        match self {
            Self::Quiet => None,
            Self::Failed { tries } => Some(format!(
                "Your previous code was tried {tries} time(s) without success. \
If that was not you, someone knows your username. This new code replaces it."
            )),
            Self::Voided => Some(format!(
                "Your previous code was voided after {MAX_TRIES} failed tries. \
If that was not you, someone knows your username. Use this new code."
            )),
        }
    }
}

/// Reads what happened to the previous code (`live`: the entry still in the
/// store, if any) and clears the summary: a new code starts afresh.
pub async fn take_previous<S: Store>(
    store: &S,
    instance: &str,
    username: &str,
    live: Option<&Code<'_>>,
) -> Result<Previous, StoreError> {
    let summary = records::take(store, &summary_key(instance, username)).await?;
    if let Some(code) = live {
        if spent(store, code).await? {
            return Ok(Previous::Voided);
        }
    }
    Ok(match summary {
        Some(b) if b.voided => Previous::Voided,
        Some(b) if live.is_some_and(|c| c.id == b.code) && b.tries > 0 => {
            Previous::Failed { tries: b.tries }
        }
        _ => Previous::Quiet,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_from_one_second_to_the_cap() {
        let waits: Vec<i64> = (0..MAX_TRIES).map(wait_before).collect();
        assert_eq!(
            waits,
            [0, 0, 0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 60, 60, 60, 60, 60, 60, 60, 60]
        );
        assert_eq!(wait_before(200), MAX_WAIT_SECS);
        assert_eq!(wait_before(u32::MAX), MAX_WAIT_SECS);
        // Spending every try takes 9 minutes: longer than the default code
        // lifetime (5 min); see docs/security.md.
        assert_eq!(waits.iter().sum::<i64>(), 543);
    }

    #[tokio::test]
    async fn a_free_try_is_open_to_a_request_whose_clock_read_came_first() {
        let t = tempfile::tempdir().unwrap();
        let at = time::macros::datetime!(2030-01-01 00:00 UTC);
        let clock = crate::clock::FixedClock::new(at);
        let store = crate::store::embedded::EmbeddedStore::open(
            &t.path().join("s.redb"),
            std::sync::Arc::new(clock),
        )
        .unwrap();
        let now = at.unix_timestamp();
        let code = Code {
            instance: "home",
            username: "alice",
            id: "c1",
            expires: now + 300,
        };
        // Try 0 is claimed by a request that read the clock a second later
        // than the next one, which still gets its free try.
        assert_eq!(
            claim(&store, &code, now + 1).await.unwrap(),
            Claim::Granted(0)
        );
        for n in 1..=FREE_FAILURES {
            assert_eq!(claim(&store, &code, now).await.unwrap(), Claim::Granted(n));
        }
        // The first paid try still waits a second after the last free one.
        assert_eq!(claim(&store, &code, now).await.unwrap(), Claim::Wait(1));
        assert_eq!(
            claim(&store, &code, now + 1).await.unwrap(),
            Claim::Granted(6)
        );
    }

    #[test]
    fn keys_keep_the_stored_layout() {
        assert_eq!(summary_key("home", "alice").as_str(), "haback:home:alice");
        assert_eq!(
            try_key("home", "alice", "Zx9", 3).as_str(),
            "haback:home:alice:Zx9:3"
        );
    }
}
