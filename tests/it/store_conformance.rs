//! One conformance suite for the [`Store`] contract (see `src/store/mod.rs`),
//! run against every backend, plus backend-specific checks: durability and
//! locking of the embedded file, and fail-closed/recovery behaviour of Redis.
//!
//! Every check of the shared contract is its own test per backend, on a
//! fresh store (a temp file, or a `redis-server` of its own: it starts in
//! about 0.1 s), so one broken rule does not hide the others:
//! `store_conformance::embedded::take_is_atomic`,
//! `store_conformance::redis::take_is_atomic`, and so on.

// Test code: failing loudly is the point.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use samlhub::clock::FixedClock;
use samlhub::store::Store;
use std::any::Any;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

pub(crate) const LONG: Duration = Duration::from_secs(600);
pub(crate) const SHORT: Duration = Duration::from_millis(300);
pub(crate) const PAST_SHORT: Duration = Duration::from_millis(600);
const RACERS: usize = 32;

/// How the suite lets time pass for the expiry checks.
pub(crate) enum Time {
    /// Advance a pinned clock (embedded store).
    Fixed(FixedClock),
    /// Really wait (Redis expires keys on its own clock).
    Real,
}

impl Time {
    pub(crate) async fn pass(&self, by: Duration) {
        match self {
            Time::Fixed(clock) => clock.advance(time::Duration::try_from(by).unwrap()),
            Time::Real => tokio::time::sleep(by).await,
        }
    }
}

/// A fresh store under test, how time passes for it, and what keeps it
/// alive (its temp dir, or its `redis-server`); dropped in that order.
pub(crate) struct Backend<S> {
    pub store: Arc<S>,
    pub time: Time,
    pub _keep: Box<dyn Any>,
}

/// Calls `$m!($($arg)*; every check)`. A new check goes into `checks` and
/// into this list, and so runs on every backend.
macro_rules! with_every_check {
    ($m:ident $(, $arg:expr)?) => {
        $m! {
            $($arg)?;
            missing_key_is_absent,
            put_get_round_trip_is_binary_safe,
            put_overwrites,
            put_many_writes_every_entry,
            take_returns_once,
            put_if_absent_keeps_the_first_value,
            delete_removes_and_tolerates_missing_keys,
            put_if_absent_is_atomic,
            take_is_atomic,
            expired_entries_are_absent,
            commit_writes_every_entry_when_claims_are_free,
            commit_writes_nothing_when_a_claim_is_taken,
            commit_writes_nothing_when_a_condition_is_unmet,
            commit_compares_and_sets,
            commit_applies_ttls,
            commit_is_atomic,
        }
    };
}
pub(crate) use with_every_check;

/// One test per check of the shared contract, in the module it is invoked
/// in, each on a fresh store from that module's `backend()`.
macro_rules! conformance_tests {
    () => {
        with_every_check!(conformance_tests);
    };
    (; $($check:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $check() {
                let backend = backend();
                super::checks::$check(&backend).await;
            }
        )+
    };
}

/// The whole contract in one test, check after check, each under a key
/// prefix of its own on one shared store: for topologies too costly to
/// start once per check (Sentinel, Cluster). `$store` is an `Arc<S>`.
macro_rules! conformance_suite {
    ($store:expr) => {
        crate::store_conformance::with_every_check!(conformance_suite, $store)
    };
    ($store:expr; $($check:ident),+ $(,)?) => {
        $(
            let backend = crate::store_conformance::Backend {
                store: std::sync::Arc::new(crate::store_conformance::Prefixed {
                    inner: std::sync::Arc::clone(&$store),
                    prefix: format!("{}:", stringify!($check)),
                }),
                time: crate::store_conformance::Time::Real,
                _keep: Box::new(()),
            };
            crate::store_conformance::checks::$check(&backend).await;
        )+
    };
}
pub(crate) use conformance_suite;

/// A store seen through a key prefix, so several runs of the suite can share
/// one backend without seeing each other's keys.
pub(crate) struct Prefixed<S> {
    pub inner: Arc<S>,
    pub prefix: String,
}

impl<S> Prefixed<S> {
    /// `entries` with their keys under the prefix.
    fn entries(&self, entries: &[(&str, &[u8], Duration)]) -> Vec<(String, Vec<u8>, Duration)> {
        entries
            .iter()
            .map(|(k, v, t)| (format!("{}{k}", self.prefix), v.to_vec(), *t))
            .collect()
    }
}

fn refs(entries: &[(String, Vec<u8>, Duration)]) -> Vec<(&str, &[u8], Duration)> {
    entries
        .iter()
        .map(|(k, v, t)| (k.as_str(), v.as_slice(), *t))
        .collect()
}

impl<S: Store> Store for Prefixed<S> {
    async fn put_if_absent(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<bool, samlhub::store::StoreError> {
        let key = format!("{}{key}", self.prefix);
        self.inner.put_if_absent(&key, value, ttl).await
    }
    async fn put(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<(), samlhub::store::StoreError> {
        let key = format!("{}{key}", self.prefix);
        self.inner.put(&key, value, ttl).await
    }
    async fn put_many(
        &self,
        entries: &[(&str, &[u8], Duration)],
    ) -> Result<(), samlhub::store::StoreError> {
        let owned = self.entries(entries);
        self.inner.put_many(&refs(&owned)).await
    }
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, samlhub::store::StoreError> {
        self.inner.get(&format!("{}{key}", self.prefix)).await
    }
    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, samlhub::store::StoreError> {
        self.inner.take(&format!("{}{key}", self.prefix)).await
    }
    async fn delete(&self, key: &str) -> Result<(), samlhub::store::StoreError> {
        self.inner.delete(&format!("{}{key}", self.prefix)).await
    }
    async fn commit(
        &self,
        claims: &[(&str, &[u8], Duration)],
        requires: &[(&str, samlhub::store::Expect<'_>)],
        puts: &[(&str, &[u8], Duration)],
        deletes: &[&str],
    ) -> Result<samlhub::store::Committed, samlhub::store::StoreError> {
        let (claims, puts) = (self.entries(claims), self.entries(puts));
        let name = |k: &str| format!("{}{k}", self.prefix);
        let required: Vec<String> = requires.iter().map(|(k, _)| name(k)).collect();
        let requires: Vec<(&str, samlhub::store::Expect<'_>)> = required
            .iter()
            .zip(requires)
            .map(|(k, (_, e))| (k.as_str(), *e))
            .collect();
        let deletes: Vec<String> = deletes.iter().map(|k| name(k)).collect();
        let deletes: Vec<&str> = deletes.iter().map(String::as_str).collect();
        self.inner
            .commit(&refs(&claims), &requires, &refs(&puts), &deletes)
            .await
    }
}

/// The shared contract. Every assertion here runs against every backend.
pub(crate) mod checks {
    use super::{race, Backend, LONG, PAST_SHORT, SHORT};
    use samlhub::store::Store;

    pub(crate) use crate::store_commit::*;

    pub(crate) async fn missing_key_is_absent<S: Store>(b: &Backend<S>) {
        let store = &b.store;
        assert_eq!(store.get("conf:missing").await.unwrap(), None);
        assert_eq!(store.take("conf:missing").await.unwrap(), None);
    }

    /// put / get round trip, binary-safe, empty value allowed; get does not
    /// consume.
    pub(crate) async fn put_get_round_trip_is_binary_safe<S: Store>(b: &Backend<S>) {
        let store = &b.store;
        let binary = [0u8, 1, 0xff, b'\r', b'\n', 0x80];
        store.put("conf:bin", &binary, LONG).await.unwrap();
        assert_eq!(
            store.get("conf:bin").await.unwrap().as_deref(),
            Some(&binary[..])
        );
        store.put("conf:empty", b"", LONG).await.unwrap();
        assert_eq!(store.get("conf:empty").await.unwrap(), Some(Vec::new()));
        assert_eq!(
            store.get("conf:bin").await.unwrap().as_deref(),
            Some(&binary[..])
        );
    }

    pub(crate) async fn put_overwrites<S: Store>(b: &Backend<S>) {
        let store = &b.store;
        store.put("conf:over", b"first", LONG).await.unwrap();
        store.put("conf:over", b"second", LONG).await.unwrap();
        assert_eq!(
            store.get("conf:over").await.unwrap().as_deref(),
            Some(&b"second"[..])
        );
    }

    /// put_many writes every entry, overwriting, each with its own TTL.
    pub(crate) async fn put_many_writes_every_entry<S: Store>(b: &Backend<S>) {
        let store = &b.store;
        store.put("conf:many:b", b"old", LONG).await.unwrap();
        store
            .put_many(&[
                ("conf:many:a", b"A", LONG),
                ("conf:many:b", b"B", LONG),
                ("conf:many:c", b"", LONG),
            ])
            .await
            .unwrap();
        for (k, v) in [
            ("conf:many:a", &b"A"[..]),
            ("conf:many:b", b"B"),
            ("conf:many:c", b""),
        ] {
            assert_eq!(store.get(k).await.unwrap().as_deref(), Some(v), "{k}");
        }
        store.put_many(&[]).await.unwrap();
    }

    /// take returns once, then None.
    pub(crate) async fn take_returns_once<S: Store>(b: &Backend<S>) {
        let store = &b.store;
        store.put("conf:take", b"once", LONG).await.unwrap();
        assert_eq!(
            store.take("conf:take").await.unwrap().as_deref(),
            Some(&b"once"[..])
        );
        assert_eq!(store.take("conf:take").await.unwrap(), None);
        assert_eq!(store.get("conf:take").await.unwrap(), None);
    }

    /// put_if_absent: true, then false; the first value stays.
    pub(crate) async fn put_if_absent_keeps_the_first_value<S: Store>(b: &Backend<S>) {
        let store = &b.store;
        assert!(store.put_if_absent("conf:pia", b"a", LONG).await.unwrap());
        assert!(!store.put_if_absent("conf:pia", b"b", LONG).await.unwrap());
        assert_eq!(
            store.get("conf:pia").await.unwrap().as_deref(),
            Some(&b"a"[..])
        );
    }

    /// delete, and delete of a missing key.
    pub(crate) async fn delete_removes_and_tolerates_missing_keys<S: Store>(b: &Backend<S>) {
        let store = &b.store;
        store.put("conf:del", b"x", LONG).await.unwrap();
        store.delete("conf:del").await.unwrap();
        assert_eq!(store.get("conf:del").await.unwrap(), None);
        store.delete("conf:del").await.unwrap();
        assert!(store.put_if_absent("conf:del", b"y", LONG).await.unwrap());
    }

    /// Concurrent put_if_absent: exactly one winner.
    pub(crate) async fn put_if_absent_is_atomic<S: Store>(b: &Backend<S>) {
        let wins = race(&b.store, |s, i| async move {
            s.put_if_absent("conf:race-pia", format!("v{i}").as_bytes(), LONG)
                .await
                .unwrap()
        })
        .await;
        assert_eq!(
            wins.iter().filter(|w| **w).count(),
            1,
            "put_if_absent winners: {wins:?}"
        );
    }

    /// Concurrent take: exactly one Some.
    pub(crate) async fn take_is_atomic<S: Store>(b: &Backend<S>) {
        b.store.put("conf:race-take", b"prize", LONG).await.unwrap();
        let got = race(&b.store, |s, _| async move {
            s.take("conf:race-take").await.unwrap()
        })
        .await;
        let somes: Vec<_> = got.iter().flatten().collect();
        assert_eq!(somes, vec![&b"prize".to_vec()], "take results: {got:?}");
    }

    /// Expired entries are never returned and count as absent.
    pub(crate) async fn expired_entries_are_absent<S: Store>(b: &Backend<S>) {
        let store = &b.store;
        store.put("conf:exp-put", b"p", SHORT).await.unwrap();
        assert!(store
            .put_if_absent("conf:exp-pia", b"q", SHORT)
            .await
            .unwrap());
        store.put("conf:exp-take", b"t", SHORT).await.unwrap();
        store.put("conf:exp-keep", b"k", LONG).await.unwrap();
        store
            .put_many(&[
                ("conf:exp-many-short", b"s", SHORT),
                ("conf:exp-many-long", b"l", LONG),
            ])
            .await
            .unwrap();
        assert!(!store
            .put_if_absent("conf:exp-pia", b"r", SHORT)
            .await
            .unwrap());
        assert_eq!(
            store.get("conf:exp-put").await.unwrap().as_deref(),
            Some(&b"p"[..])
        );
        b.time.pass(PAST_SHORT).await;
        assert_eq!(store.get("conf:exp-put").await.unwrap(), None);
        assert_eq!(store.get("conf:exp-many-short").await.unwrap(), None);
        assert_eq!(
            store.get("conf:exp-many-long").await.unwrap().as_deref(),
            Some(&b"l"[..])
        );
        assert_eq!(store.take("conf:exp-take").await.unwrap(), None);
        assert!(store
            .put_if_absent("conf:exp-pia", b"s", LONG)
            .await
            .unwrap());
        assert_eq!(
            store.get("conf:exp-pia").await.unwrap().as_deref(),
            Some(&b"s"[..])
        );
        assert_eq!(
            store.get("conf:exp-keep").await.unwrap().as_deref(),
            Some(&b"k"[..])
        );
    }
}

/// Runs `op` in RACERS tasks on the multi-thread runtime, released together.
pub(crate) async fn race<S, T, F, Fut>(store: &Arc<S>, op: F) -> Vec<T>
where
    S: Store,
    T: Send + 'static,
    F: Fn(Arc<S>, usize) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
{
    let barrier = Arc::new(tokio::sync::Barrier::new(RACERS));
    let mut tasks = Vec::new();
    for i in 0..RACERS {
        let barrier = Arc::clone(&barrier);
        let fut = op(Arc::clone(store), i);
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            fut.await
        }));
    }
    let mut out = Vec::new();
    for task in tasks {
        out.push(task.await.unwrap());
    }
    out
}

fn fixed_clock() -> FixedClock {
    FixedClock::new(time::OffsetDateTime::from_unix_timestamp(1_893_456_000).unwrap())
}

// ---------------------------------------------------------------- embedded

mod embedded {
    use super::{fixed_clock, Backend, Time, LONG, PAST_SHORT, SHORT};
    use samlhub::clock::FixedClock;
    use samlhub::store::{EmbeddedStore, Store, StoreError};
    use std::sync::Arc;
    use std::time::Duration;

    fn open_embedded(
        path: &std::path::Path,
        clock: &FixedClock,
    ) -> Result<EmbeddedStore, StoreError> {
        EmbeddedStore::open(path, Arc::new(clock.clone()))
    }

    /// A store in a directory that does not exist yet, on a pinned clock.
    fn backend() -> Backend<EmbeddedStore> {
        let dir = tempfile::tempdir().unwrap();
        let clock = fixed_clock();
        let store = open_embedded(&dir.path().join("nested/dir/state.redb"), &clock).unwrap();
        Backend {
            store: Arc::new(store),
            time: Time::Fixed(clock),
            _keep: Box::new(dir),
        }
    }

    conformance_tests!();

    #[cfg(unix)]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn file_is_private_to_the_owner() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/dir/state.redb");
        let store = open_embedded(&path, &fixed_clock()).unwrap();
        store.put("conf:mode", b"v", LONG).await.unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "store file mode {mode:o}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn replay_key_survives_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.redb");
        let clock = fixed_clock();
        let store = open_embedded(&path, &clock).unwrap();
        assert!(store.put_if_absent("replay:abc", b"", LONG).await.unwrap());
        drop(store);

        let store = open_embedded(&path, &clock).unwrap();
        assert!(!store.put_if_absent("replay:abc", b"", LONG).await.unwrap());
        // ...and expiry still applies after the restart.
        clock.advance(time::Duration::try_from(LONG).unwrap());
        assert!(store.put_if_absent("replay:abc", b"", LONG).await.unwrap());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sweep_removes_expired_entries() {
        let dir = tempfile::tempdir().unwrap();
        let clock = fixed_clock();
        let store = open_embedded(&dir.path().join("state.redb"), &clock).unwrap();
        for key in ["a", "b", "c"] {
            store.put(key, b"short", SHORT).await.unwrap();
        }
        store.put("long", b"long", LONG).await.unwrap();
        assert_eq!(store.sweep_expired().unwrap(), 0);

        clock.advance(time::Duration::try_from(PAST_SHORT).unwrap());
        assert_eq!(store.sweep_expired().unwrap(), 3);
        assert_eq!(store.sweep_expired().unwrap(), 0);

        // Really gone, not just hidden: turning the clock back finds nothing.
        clock.advance(-time::Duration::try_from(PAST_SHORT).unwrap());
        assert_eq!(store.get("a").await.unwrap(), None);
        assert_eq!(
            store.get("long").await.unwrap().as_deref(),
            Some(&b"long"[..])
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn background_sweeper_runs_and_stops_with_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let clock = fixed_clock();
        let store = open_embedded(&dir.path().join("state.redb"), &clock).unwrap();
        store.put("gone", b"x", SHORT).await.unwrap();
        let sweeper = store.spawn_sweeper(Duration::from_millis(20));

        clock.advance(time::Duration::try_from(PAST_SHORT).unwrap());
        tokio::time::sleep(Duration::from_millis(300)).await;
        clock.advance(-time::Duration::try_from(PAST_SHORT).unwrap());
        assert_eq!(
            store.get("gone").await.unwrap(),
            None,
            "sweeper did not remove it"
        );

        drop(store);
        tokio::time::timeout(Duration::from_secs(2), sweeper)
            .await
            .expect("sweeper outlived the store")
            .unwrap();
    }

    #[test]
    fn second_open_fails_clearly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.redb");
        let clock = fixed_clock();
        let _first = open_embedded(&path, &clock).unwrap();

        let (tx, rx) = std::sync::mpsc::channel();
        let (path2, clock2) = (path.clone(), clock.clone());
        std::thread::spawn(move || {
            let _ = tx.send(open_embedded(&path2, &clock2).map(|_| ()));
        });
        let second = rx
            .recv_timeout(Duration::from_secs(5))
            .expect("second open hung instead of failing");
        match second {
            Err(StoreError::Unavailable(msg)) => assert!(
                msg.contains("store file") && msg.contains("is in use by another samlhub process"),
                "{msg}"
            ),
            other => panic!("second open: {other:?}"),
        }
    }
}

// ------------------------------------------------------------------- redis

mod redis {
    use super::{Backend, Time, LONG};
    use crate::peers::redis::RedisServer;
    use samlhub::store::{RedisStore, Store, StoreError};
    use std::future::Future;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    /// A store on a `redis-server` of its own.
    fn backend() -> Backend<RedisStore> {
        let server = RedisServer::start();
        Backend {
            store: Arc::new(RedisStore::new(&server.url()).unwrap()),
            time: Time::Real,
            _keep: Box::new(server),
        }
    }

    conformance_tests!();

    /// Keys live under the `samlhub:` prefix, with a Redis-side TTL.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn keys_are_prefixed_and_expire_in_redis() {
        let server = RedisServer::start();
        let store = RedisStore::new(&server.url()).unwrap();
        store.put("conf:prefixed", b"v", LONG).await.unwrap();
        let client = ::redis::Client::open(server.url()).unwrap();
        let mut raw = client.get_multiplexed_async_connection().await.unwrap();
        let pttl: i64 = ::redis::cmd("PTTL")
            .arg("samlhub:conf:prefixed")
            .query_async(&mut raw)
            .await
            .unwrap();
        assert!(pttl > 0 && pttl <= 600_000, "PTTL {pttl}");
        let bare: Option<Vec<u8>> = ::redis::cmd("GET")
            .arg("conf:prefixed")
            .query_async(&mut raw)
            .await
            .unwrap();
        assert_eq!(bare, None);
    }

    #[test]
    fn url_is_checked_without_connecting() {
        assert!(RedisStore::new("http://127.0.0.1:6379/").is_err());
        assert!(RedisStore::new("not a url").is_err());
        // Nothing listens on this port; construction still succeeds.
        let port = crate::peers::free_port();
        assert!(RedisStore::new(&format!("redis://127.0.0.1:{port}/")).is_ok());
    }

    /// Every operation once; each must be `Err(Unavailable)` within 3 s.
    async fn assert_all_unavailable(store: &RedisStore) {
        let results = [
            (
                "put_if_absent",
                timed("put_if_absent", store.put_if_absent("k", b"v", LONG))
                    .await
                    .map(drop),
            ),
            ("put", timed("put", store.put("k", b"v", LONG)).await),
            ("get", timed("get", store.get("k")).await.map(drop)),
            ("take", timed("take", store.take("k")).await.map(drop)),
            ("delete", timed("delete", store.delete("k")).await),
        ];
        for (op, result) in results {
            assert!(
                matches!(result, Err(StoreError::Unavailable(_))),
                "{op}: {result:?}"
            );
        }
    }

    /// Awaits `fut`, asserting it took less than 3 s.
    async fn timed<T>(what: &str, fut: impl Future<Output = T>) -> T {
        let started = Instant::now();
        let out = fut.await;
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{what} took {:?}",
            started.elapsed()
        );
        out
    }

    /// All operations succeed, the very first one included.
    async fn assert_all_work(store: &RedisStore, key: &str) {
        assert_eq!(store.get(key).await.unwrap(), None);
        assert!(store.put_if_absent(key, b"v", LONG).await.unwrap());
        store.put(key, b"w", LONG).await.unwrap();
        assert_eq!(store.get(key).await.unwrap().as_deref(), Some(&b"w"[..]));
        assert_eq!(store.take(key).await.unwrap().as_deref(), Some(&b"w"[..]));
        store.delete(key).await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn down_fails_closed_and_recovers() {
        let mut server = RedisServer::start();
        let store = RedisStore::new(&server.url()).unwrap();
        assert_all_work(&store, "before").await;

        server.stop();
        for _ in 0..2 {
            assert_all_unavailable(&store).await;
        }

        server.restart();
        assert_all_work(&store, "after").await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn down_at_startup_fails_closed_then_connects() {
        let mut server = RedisServer::start();
        server.stop();
        let store = RedisStore::new(&server.url()).unwrap();
        assert_all_unavailable(&store).await;

        server.restart();
        assert_all_work(&store, "late").await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn restart_while_idle_goes_unnoticed() {
        let mut server = RedisServer::start();
        let store = RedisStore::new(&server.url()).unwrap();
        assert_all_work(&store, "before").await;
        server.restart();
        assert_all_work(&store, "after").await;
    }
}

// -------------------------------------------------------------- redis, TLS

mod redis_tls {
    use super::{Backend, Time, LONG};
    use crate::peers::redis::{RedisServer, RedisTls};
    use samlhub::store::{RedisSpec, TlsFiles};
    use samlhub::store::{RedisStore, Store, StoreError};
    use std::sync::Arc;

    /// A store that trusts `ca` (and presents the client certificate when
    /// `client`), talking TLS to the server's TLS port.
    fn tls_store(tls: &RedisTls, ca: &std::path::Path, client: bool) -> RedisStore {
        let mut spec = RedisSpec::parse(&format!("rediss://127.0.0.1:{}/", tls.port)).unwrap();
        spec.tls = Some(TlsFiles {
            ca_pem: Some(std::fs::read(ca).unwrap()),
            client: client.then(|| {
                (
                    std::fs::read(&tls.cert_file).unwrap(),
                    std::fs::read(&tls.key_file).unwrap(),
                )
            }),
        });
        spec.timeout = std::time::Duration::from_millis(1500);
        RedisStore::from_spec(&spec).unwrap()
    }

    /// A store on a TLS `redis-server` of its own that requires a client
    /// certificate.
    fn backend() -> Backend<RedisStore> {
        let server = RedisServer::start_tls(true);
        let tls = server.tls().unwrap().clone();
        Backend {
            store: Arc::new(tls_store(&tls, &tls.ca_file, true)),
            time: Time::Real,
            _keep: Box::new(server),
        }
    }

    conformance_tests!();

    /// The TLS checks are real: a client that trusts another CA, or that
    /// has no client certificate, or that speaks TLS to the plain port, is
    /// refused with the unavailable error; the right one gets through.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn wrong_ca_missing_client_cert_or_plain_port_are_refused() {
        let server = RedisServer::start_tls(true);
        let tls = server.tls().unwrap().clone();
        let refused = |what: &str, r: Result<Option<Vec<u8>>, StoreError>| {
            assert!(
                matches!(r, Err(StoreError::Unavailable(_))),
                "{what}: {r:?}"
            );
        };
        refused(
            "other CA",
            tls_store(&tls, &tls.other_ca_file, true).get("k").await,
        );
        refused(
            "no client cert",
            tls_store(&tls, &tls.ca_file, false).get("k").await,
        );
        let mut plain = tls.clone();
        plain.port = server.port();
        refused(
            "TLS to the plain port",
            tls_store(&plain, &tls.ca_file, true).get("k").await,
        );
        let good = tls_store(&tls, &tls.ca_file, true);
        assert!(good.put_if_absent("k", b"v", LONG).await.unwrap());
        assert_eq!(good.get("k").await.unwrap().as_deref(), Some(&b"v"[..]));
    }
}
