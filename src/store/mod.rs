//! Shared state behind one small interface: pending AuthnRequests, the
//! assertion replay cache and sessions.
//!
//! Atomicity contract, which every backend honours and the conformance suite
//! (`tests/it/store_conformance.rs`) checks against each of them:
//! - [`Store::put_if_absent`] is a single atomic step: of any number of
//!   concurrent callers with the same key, exactly one sees `true`. An entry
//!   whose TTL has passed counts as absent.
//! - [`Store::take`] returns the live value and removes it in one atomic step:
//!   of concurrent callers, at most one gets `Some`.
//! - [`Store::get`] and [`Store::put`] are plain reads and (over)writes.
//! - [`Store::put_many`] writes several entries in one atomic step: a reader
//!   sees all of them or none (one transaction, one durable commit).
//! - [`Store::commit`] claims keys (each as [`Store::put_if_absent`]), checks
//!   conditions on other keys ([`Expect`]), writes entries and removes keys as
//!   one unit: if any claim is live or any condition unmet, nothing is
//!   written. It is atomic on the embedded store (one write transaction, one
//!   durable sync) and on a single Redis server or Sentinel master (one Lua
//!   script, one round trip); under Redis Cluster it runs step by step
//!   ([`commit_in_order`]), claims first, in order.
//! - Expired entries are never returned, whether or not they were swept yet.
//! - Every failure to reach or read the backing store is a [`StoreError`];
//!   callers fail closed on it (HTTP 503), never open.

pub mod embedded;
pub mod records;
pub mod redis;

use std::future::Future;
use std::time::Duration;

pub use embedded::EmbeddedStore;
pub use redis::spec::{redact as redact_redis_url, RedisSpec, TlsFiles};
pub use redis::RedisStore;

/// Why the store could not answer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend could not be reached or did not answer in time.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The backend answered with something this build cannot read.
    #[error("store data unreadable: {0}")]
    Corrupt(String),
}

/// Key/value storage with per-entry expiry. Keys are short ASCII strings
/// chosen by the caller (`replay:…`, `pending:…`, `session:…`).
pub trait Store: Send + Sync + 'static {
    /// Stores `value` unless a live entry exists. `true` when stored.
    fn put_if_absent(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Stores `value`, replacing any entry.
    fn put(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Stores `value` under a new, random key whose loss in a crash only
    /// makes the flow it belongs to start again: a pending AuthnRequest, a
    /// parked authorization request, an unredeemed code. Whatever redeems it
    /// is a durable write. A backend may skip this write's own durable sync
    /// (the embedded store does: it becomes durable with the next durable
    /// commit, or when the store is closed cleanly); a crash in between loses it,
    /// which fails closed. Nothing that guards against replay or records a
    /// revocation may be written this way.
    fn put_transient(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.put(key, value, ttl)
    }

    /// Stores several entries at once, each with its own TTL; all or none.
    fn put_many(
        &self,
        entries: &[(&str, &[u8], Duration)],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Claims every key of `claims` (put-if-absent, in order), checks every
    /// condition of `requires` ([`Expect`]), writes every entry of `puts`
    /// (replacing) and removes every key of `deletes`, as one unit. If a
    /// claim's key holds a live entry, nothing is written and the index of
    /// the first such claim is returned ([`Committed::Taken`]); else, if a
    /// condition does not hold, nothing is written and its index is returned
    /// ([`Committed::Unmet`]). A key may be both a condition and a put (a
    /// compare-and-set); otherwise keys are distinct across the lists.
    ///
    /// Atomicity per backend: the embedded store does it in one write
    /// transaction (one durable commit); a single Redis server (standalone,
    /// TLS or a Sentinel master) in one Lua script, one round trip, with the
    /// `WAIT` of `replay_wait_replicas` pipelined after it when there are
    /// claims. Redis Cluster cannot run a script across hash slots, so it goes
    /// through [`commit_in_order`]: the claims one by one in the given order
    /// (a claim listed before a taken one stays written, which fails closed:
    /// callers list the replay marker first), with the conditions read
    /// before the claims (not atomically with the writes; an unmet one
    /// leaves no claim behind, and is named even if a claim is live), then
    /// the puts, then the deletes.
    fn commit(
        &self,
        claims: &[(&str, &[u8], Duration)],
        requires: &[(&str, Expect<'_>)],
        puts: &[(&str, &[u8], Duration)],
        deletes: &[&str],
    ) -> impl Future<Output = Result<Committed, StoreError>> + Send;

    /// Reads a live entry.
    fn get(&self, key: &str) -> impl Future<Output = Result<Option<Vec<u8>>, StoreError>> + Send;

    /// Reads and removes a live entry in one step.
    fn take(&self, key: &str) -> impl Future<Output = Result<Option<Vec<u8>>, StoreError>> + Send;

    /// Removes an entry if present.
    fn delete(&self, key: &str) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Whether the backend answers: one read of a key that is never written
    /// ([`records::PING_KEY`]), a full round trip for every backend.
    fn ping(&self) -> impl Future<Output = Result<(), StoreError>> + Send {
        async move { self.get(records::PING_KEY).await.map(|_| ()) }
    }

    /// The keys of the live entries that start with `prefix`, in no
    /// particular order. For the admin commands only (`samlhub sessions`):
    /// it walks the whole key space, so no request path calls it. A backend
    /// that cannot list says so with [`StoreError::Unavailable`].
    fn keys_with_prefix(
        &self,
        prefix: &str,
    ) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send {
        let _ = prefix;
        async move {
            Err(StoreError::Unavailable(
                "this store cannot list its keys".into(),
            ))
        }
    }
}

/// What [`Store::commit`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Committed {
    /// Every claim was free and every condition held: the claims, puts and
    /// deletes are all done.
    Written,
    /// The claim at this index was live: nothing was written (under Redis
    /// Cluster, the claims before it were).
    Taken(usize),
    /// Every claim was free, but the condition at this index did not hold:
    /// nothing was written.
    Unmet(usize),
}

/// A condition of [`Store::commit`] on the live entry under one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect<'a> {
    /// Some live entry is there.
    Live,
    /// No live entry is there.
    Absent,
    /// A live entry with exactly these bytes is there.
    Holds(&'a [u8]),
}

/// An [`Expect`] that owns its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wanted {
    Live,
    Absent,
    Holds(Vec<u8>),
}

impl From<Expect<'_>> for Wanted {
    fn from(e: Expect<'_>) -> Self {
        match e {
            Expect::Live => Wanted::Live,
            Expect::Absent => Wanted::Absent,
            Expect::Holds(v) => Wanted::Holds(v.to_vec()),
        }
    }
}

impl Wanted {
    pub fn as_expect(&self) -> Expect<'_> {
        match self {
            Wanted::Live => Expect::Live,
            Wanted::Absent => Expect::Absent,
            Wanted::Holds(v) => Expect::Holds(v),
        }
    }
}

impl Expect<'_> {
    /// Whether `found`, the live value under the key if any, meets it.
    pub fn met_by(&self, found: Option<&[u8]>) -> bool {
        match (self, found) {
            (Expect::Live, found) => found.is_some(),
            (Expect::Absent, found) => found.is_none(),
            (Expect::Holds(want), Some(v)) => *want == v,
            (Expect::Holds(_), None) => false,
        }
    }
}

/// [`Store::commit`] as separate steps, for a backend that cannot run them
/// as one unit (Redis Cluster): each claim with [`Store::put_if_absent`] in
/// the given order, stopping at the first taken one, after a read of each
/// condition's key, stopping at the first unmet one; then the puts with
/// [`Store::put_many`]; then each delete.
pub async fn commit_in_order<S: Store + ?Sized>(
    store: &S,
    claims: &[(&str, &[u8], Duration)],
    requires: &[(&str, Expect<'_>)],
    puts: &[(&str, &[u8], Duration)],
    deletes: &[&str],
) -> Result<Committed, StoreError> {
    for (i, (key, want)) in requires.iter().enumerate() {
        if !want.met_by(store.get(key).await?.as_deref()) {
            return Ok(Committed::Unmet(i));
        }
    }
    for (i, (key, value, ttl)) in claims.iter().enumerate() {
        if !store.put_if_absent(key, value, *ttl).await? {
            return Ok(Committed::Taken(i));
        }
    }
    if !puts.is_empty() {
        store.put_many(puts).await?;
    }
    for key in deletes {
        store.delete(key).await?;
    }
    Ok(Committed::Written)
}

/// Where state lives, as configured by `store = "embedded:<path>" | "redis://…"`
/// (and the `store_*` keys for Redis).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreSpec {
    Embedded(std::path::PathBuf),
    Redis(Box<redis::spec::RedisSpec>),
}

impl StoreSpec {
    /// For `check-config` and the start-up log: never a password.
    pub fn describe(&self) -> String {
        match self {
            Self::Embedded(p) => format!("embedded {}", p.display()),
            Self::Redis(r) => r.describe(),
        }
    }
}

/// The configured backend.
pub enum AnyStore {
    Embedded(EmbeddedStore),
    Redis(RedisStore),
}

impl AnyStore {
    /// Opens the backend. The embedded store creates its file; Redis connects
    /// lazily, so a Redis that is down at start-up yields 503s, not a crash.
    pub fn open(
        spec: &StoreSpec,
        clock: std::sync::Arc<dyn crate::clock::Clock>,
    ) -> Result<Self, StoreError> {
        match spec {
            StoreSpec::Embedded(path) => Ok(Self::Embedded(EmbeddedStore::open(path, clock)?)),
            StoreSpec::Redis(spec) => Ok(Self::Redis(RedisStore::from_spec(spec)?)),
        }
    }

    /// The store work done so far, for tests and benchmarks: durable
    /// commits of the embedded store, round trips to Redis.
    pub fn work(&self) -> u64 {
        match self {
            Self::Embedded(s) => s.commits(),
            Self::Redis(s) => s.round_trips(),
        }
    }
}

/// Calls the backend and records the call's duration in
/// [`crate::metrics::STORE_LATENCY`].
macro_rules! dispatch {
    ($self:ident, $s:ident => $e:expr) => {{
        let started = std::time::Instant::now();
        let r = match $self {
            AnyStore::Embedded($s) => $e,
            AnyStore::Redis($s) => $e,
        };
        crate::metrics::STORE_LATENCY.observe(started.elapsed());
        r
    }};
}

impl Store for AnyStore {
    async fn put_if_absent(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        dispatch!(self, s => s.put_if_absent(key, value, ttl).await)
    }
    async fn put(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), StoreError> {
        dispatch!(self, s => s.put(key, value, ttl).await)
    }
    async fn put_transient(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<(), StoreError> {
        dispatch!(self, s => s.put_transient(key, value, ttl).await)
    }
    async fn put_many(&self, entries: &[(&str, &[u8], Duration)]) -> Result<(), StoreError> {
        dispatch!(self, s => s.put_many(entries).await)
    }
    async fn commit(
        &self,
        claims: &[(&str, &[u8], Duration)],
        requires: &[(&str, Expect<'_>)],
        puts: &[(&str, &[u8], Duration)],
        deletes: &[&str],
    ) -> Result<Committed, StoreError> {
        dispatch!(self, s => s.commit(claims, requires, puts, deletes).await)
    }
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        dispatch!(self, s => s.get(key).await)
    }
    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        dispatch!(self, s => s.take(key).await)
    }
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        dispatch!(self, s => s.delete(key).await)
    }
    async fn keys_with_prefix(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        dispatch!(self, s => s.keys_with_prefix(prefix).await)
    }
}
