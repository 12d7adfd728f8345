//! The embedded backend: one redb file on local disk, for a single samlhub
//! process.
//!
//! This module owns the on-disk format and its locking:
//! - one table, `entries`: key `&str` → value `&[u8]`, where the value is the
//!   expiry as 8 bytes big-endian unix milliseconds followed by the payload;
//! - expiry is judged with the injected [`Clock`], so tests can pin time;
//! - every write is durable before it is answered, so a replay-cache entry
//!   survives a crash or restart, except [`Store::put_transient`]'s: that
//!   one is written with redb's `None` durability (no sync of its own) and
//!   made durable by the next durable commit, or by [`EmbeddedStore::sync`]
//!   (the hub's last act on `SIGTERM`);
//! - durable writes share syncs (group commit, `Inner::commit`): a write
//!   alone, with no sync in progress, commits with redb's `Immediate`
//!   durability, which also persists every earlier commit; any other write
//!   commits with `None` durability and waits, and the first of the
//!   waiters, once the writers queued for the write lock have committed
//!   (or after 1 ms), makes one durable commit for all of them. redb syncs
//!   inside the write lock, so without that wait a sync would cover only
//!   the writer that made it.
//!   Such a write is visible to other requests before its sync. That is safe
//!   here because nothing is answered before it is durable: a request that
//!   saw the write either only refused (a claim already taken, a code
//!   already spent) or wrote something itself, and its own sync persists
//!   the earlier write with it. A crash before the sync loses only writes
//!   nobody was told about;
//! - redb takes an exclusive lock on the file, so a second process (or a
//!   second [`EmbeddedStore::open`] in this one) gets a clear error instead of
//!   sharing it;
//! - the file is created with mode 0600 (and tightened to it if it exists);
//! - redb's page cache is bounded ([`CACHE_BYTES`], not redb's 1 GiB
//!   default), so the process's memory follows the live state, not the
//!   pages it has ever read.
//!
//! redb serialises write transactions, so doing the check and the write of
//! [`Store::put_if_absent`] / [`Store::take`] in one write transaction makes
//! them atomic. All redb work runs on tokio's blocking pool.

use super::{Committed, Expect, Store, StoreError, Wanted};
use crate::clock::Clock;
use redb::{Database, ReadableTable, TableDefinition};
use std::fs::OpenOptions;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, TryLockError, Weak};
use std::time::Duration;

const ENTRIES: TableDefinition<&str, &[u8]> = TableDefinition::new("entries");

/// What the error of [`EmbeddedStore::open`] says when another process holds
/// the file (the admin commands look for it to name the way out).
pub const IN_USE: &str = "is in use by another samlhub process";

/// redb's page cache (read cache nine tenths, write buffer one tenth). The
/// live state of a hub is small (about 2 KiB a session); 16 MiB keeps the
/// pages of some thousands of live sessions in memory and leaves the rest
/// to the kernel's page cache. redb's default (1 GiB) let a long-running
/// hub's RSS grow with every page it had read (BENCHMARKS.md, "Embedded
/// store growth").
pub const CACHE_BYTES: usize = 16 * 1024 * 1024;

/// How long a sync waits for writers queued for the write lock to commit,
/// so that it covers them too (group commit).
const GATHER: Duration = Duration::from_millis(1);

/// Most expired entries one sweep transaction removes.
const SWEEP_BATCH: usize = 512;
/// Most entries one sweep transaction looks at.
const SWEEP_SCAN: usize = 8192;

/// Store backed by a local redb file. Cheap to clone; clones share the file.
#[derive(Clone)]
pub struct EmbeddedStore {
    inner: Arc<Inner>,
}

struct Inner {
    db: Database,
    clock: Arc<dyn Clock>,
    /// For [`EmbeddedStore::file_len`].
    #[cfg_attr(not(feature = "test-support"), allow(dead_code))]
    path: PathBuf,
    /// Durable write transactions committed (each one durable sync).
    commits: AtomicU64,
    /// Durable writers from before they wait for redb's write lock until
    /// their commit returns ([`Queued`]).
    writers: AtomicUsize,
    /// Writes committed without a sync of their own, numbered from 1 as
    /// each commit returns.
    unsynced: AtomicU64,
    /// Held while a write syncs; holds the highest `unsynced` number known
    /// to be durable.
    synced: Mutex<u64>,
}

impl EmbeddedStore {
    /// Opens (creating if needed, with parent directories) the store file at
    /// `path`. Fails with [`StoreError::Unavailable`] if the file is locked by
    /// another open store, is not a redb file, or cannot be created.
    pub fn open(path: &Path, clock: Arc<dyn Clock>) -> Result<Self, StoreError> {
        Self::open_with_cache(path, clock, CACHE_BYTES)
    }

    /// [`Self::open`] with a page cache of `cache_bytes` instead of
    /// [`CACHE_BYTES`] (the growth benchmark compares cache sizes).
    pub fn open_with_cache(
        path: &Path,
        clock: Arc<dyn Clock>,
        cache_bytes: usize,
    ) -> Result<Self, StoreError> {
        let shown = path.display();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| {
                StoreError::Unavailable(format!(
                    "cannot create directory for store file {shown}: {e}"
                ))
            })?;
        }
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options
            .open(path)
            .map_err(|e| StoreError::Unavailable(format!("cannot open store file {shown}: {e}")))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(std::fs::Permissions::from_mode(0o600))
                .map_err(|e| {
                    StoreError::Unavailable(format!(
                        "cannot restrict store file {shown} to 0600: {e}"
                    ))
                })?;
        }
        let db = Database::builder()
            .set_cache_size(cache_bytes)
            .create_file(file)
            .map_err(|e| match e {
                redb::DatabaseError::DatabaseAlreadyOpen => {
                    StoreError::Unavailable(format!("store file {shown} {IN_USE}"))
                }
                other => {
                    StoreError::Unavailable(format!("cannot open store file {shown}: {other}"))
                }
            })?;
        // Create the table up front so read transactions always find it.
        let txn = db.begin_write().map_err(db_err)?;
        txn.open_table(ENTRIES).map_err(db_err)?;
        txn.commit().map_err(db_err)?;
        Ok(Self {
            inner: Arc::new(Inner {
                db,
                clock,
                path: path.to_path_buf(),
                commits: AtomicU64::new(0),
                writers: AtomicUsize::new(0),
                unsynced: AtomicU64::new(0),
                synced: Mutex::new(0),
            }),
        })
    }

    /// Makes every write committed so far durable, transient ones included,
    /// with one empty durable commit (counted in [`Self::commits`]). The hub
    /// calls it once its servers have stopped: the store is then closed by
    /// whichever thread drops the last handle, and the process may exit
    /// before that thread gets to it.
    pub async fn sync(&self) -> Result<(), StoreError> {
        self.run(|inner, _now| {
            let mut synced = inner.synced.lock().unwrap_or_else(PoisonError::into_inner);
            inner.commit_empty(&mut synced)
        })
        .await
    }

    /// Deletes every expired entry now, in write transactions of at most
    /// 512 removals; returns how many were removed. The freed
    /// pages are reused by later writes, so the file stays within the size
    /// the live state needs.
    /// Blocking: call it from a blocking context (as [`Self::spawn_sweeper`]
    /// does). Expired entries are never returned whether or not they were
    /// swept; sweeping only reclaims space.
    pub fn sweep_expired(&self) -> Result<usize, StoreError> {
        self.inner.sweep_expired()
    }

    /// How many entries the file holds, expired ones not yet swept included.
    /// Blocking. For tests and benchmarks.
    #[cfg(feature = "test-support")]
    pub fn entry_count(&self) -> Result<u64, StoreError> {
        let txn = self.inner.db.begin_read().map_err(db_err)?;
        let table = txn.open_table(ENTRIES).map_err(db_err)?;
        redb::ReadableTableMetadata::len(&table).map_err(db_err)
    }

    /// Every entry as stored: key, expiry (unix ms) and payload, expired ones
    /// included. An entry shorter than its header is a
    /// [`StoreError::Corrupt`]. Blocking. For tests.
    #[cfg(feature = "test-support")]
    pub fn raw_entries(&self) -> Result<Vec<(String, u64, Vec<u8>)>, StoreError> {
        let txn = self.inner.db.begin_read().map_err(db_err)?;
        let table = txn.open_table(ENTRIES).map_err(db_err)?;
        let mut out = Vec::new();
        for item in table.iter().map_err(db_err)? {
            let (key, raw) = item.map_err(db_err)?;
            let (expiry, payload) = decode(raw.value())?;
            out.push((key.value().to_owned(), expiry, payload.to_vec()));
        }
        Ok(out)
    }

    /// How many durable syncs this store has made since it was opened:
    /// one per write, or fewer when concurrent writes share one (group
    /// commit). For tests and benchmarks.
    pub fn commits(&self) -> u64 {
        self.inner.commits.load(Ordering::Relaxed)
    }

    /// The store file's size in bytes. For tests and benchmarks.
    #[cfg(feature = "test-support")]
    pub fn file_len(&self) -> Result<u64, StoreError> {
        std::fs::metadata(&self.inner.path)
            .map(|m| m.len())
            .map_err(|e| StoreError::Unavailable(format!("store file: {e}")))
    }

    /// Starts a background task on the current tokio runtime that calls
    /// [`Self::sweep_expired`] every `every` (first run after one period).
    /// The task holds only a weak reference: it ends by itself once every
    /// clone of this store is dropped, and can also be aborted through the
    /// returned handle. Failures are logged and retried next period.
    /// Must be called from within a tokio runtime.
    pub fn spawn_sweeper(&self, every: Duration) -> tokio::task::JoinHandle<()> {
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        let every = every.max(Duration::from_millis(1));
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                let Some(inner) = weak.upgrade() else { return };
                match tokio::task::spawn_blocking(move || inner.sweep_expired()).await {
                    Ok(Ok(n)) if n > 0 => log::debug!("store sweep removed {n} expired entries"),
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => log::warn!("store sweep failed: {e}"),
                    Err(e) => log::warn!("store sweep task failed: {e}"),
                }
            }
        })
    }

    /// One entry in its own write transaction: durable (counted in
    /// [`Self::commits`]) or, for [`Store::put_transient`], with redb's
    /// `None` durability (no sync; the next durable commit persists it).
    async fn put_one(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
        durable: bool,
    ) -> Result<(), StoreError> {
        let key = key.to_owned();
        let value = value.to_vec();
        self.run(move |inner, now| {
            // A transient write is not counted as a durable writer: it
            // needs no sync, and waits for nobody's.
            let (txn, queued) = if durable {
                let (txn, queued) = inner.begin_write()?;
                (txn, Some(queued))
            } else {
                let mut txn = inner.db.begin_write().map_err(db_err)?;
                txn.set_durability(redb::Durability::None);
                (txn, None)
            };
            {
                let mut table = txn.open_table(ENTRIES).map_err(db_err)?;
                let entry = encode(expiry_ms(now, ttl), &value);
                table
                    .insert(key.as_str(), entry.as_slice())
                    .map_err(db_err)?;
            }
            match queued {
                Some(queued) => inner.commit(txn, queued),
                None => txn.commit().map_err(db_err),
            }
        })
        .await
    }

    /// Runs `f` on the blocking pool with the shared state and `now` in ms.
    async fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Inner, u64) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let now = inner.now_ms();
            f(&inner, now)
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("embedded store task failed: {e}")))?
    }
}

impl Inner {
    fn now_ms(&self) -> u64 {
        let ms = self.clock.now().unix_timestamp_nanos() / 1_000_000;
        u64::try_from(ms).unwrap_or(0)
    }

    /// Opens the write transaction of a durable write, counted in
    /// `writers` from before it waits for the write lock.
    fn begin_write(&self) -> Result<(redb::WriteTransaction, Queued<'_>), StoreError> {
        self.writers.fetch_add(1, Ordering::SeqCst);
        let queued = Queued(&self.writers);
        let txn = self.db.begin_write().map_err(db_err)?;
        Ok((txn, queued))
    }

    /// Commits `txn` and returns once it is durable (group commit).
    ///
    /// A writer alone, with no sync in progress, commits durably: that one
    /// sync also persists every commit before it. Otherwise it commits
    /// without a sync and waits in [`Self::sync_through`], where the first
    /// waiter's sync covers every writer that committed meanwhile.
    ///
    /// Lock order: `synced` is only waited for by a thread that holds no
    /// write transaction; a thread holding one only tries it. So the sync's
    /// own write transaction never waits for a thread that waits for it.
    fn commit(
        &self,
        mut txn: redb::WriteTransaction,
        queued: Queued<'_>,
    ) -> Result<(), StoreError> {
        if self.writers.load(Ordering::SeqCst) <= 1 {
            let free = match self.synced.try_lock() {
                Ok(guard) => Some(guard),
                Err(TryLockError::Poisoned(p)) => Some(p.into_inner()),
                Err(TryLockError::WouldBlock) => None,
            };
            if let Some(mut synced) = free {
                // Every number taken so far belongs to a commit that
                // returned before this transaction began (it holds the
                // write lock), so this durable commit persists them too.
                let covered = self.unsynced.load(Ordering::SeqCst);
                txn.commit().map_err(db_err)?;
                self.commits.fetch_add(1, Ordering::Relaxed);
                *synced = (*synced).max(covered);
                return Ok(());
            }
        }
        txn.set_durability(redb::Durability::None);
        txn.commit().map_err(db_err)?;
        let mine = self.unsynced.fetch_add(1, Ordering::SeqCst) + 1;
        drop(queued);
        self.sync_through(mine)
    }

    /// Waits until the write numbered `mine` is durable: done already by
    /// another waiter's sync, or by an empty durable commit made here,
    /// which persists every commit before it.
    fn sync_through(&self, mine: u64) -> Result<(), StoreError> {
        let mut synced = self.synced.lock().unwrap_or_else(PoisonError::into_inner);
        if *synced >= mine {
            return Ok(());
        }
        // Writers already queued for the write lock would otherwise wait a
        // whole sync for the next one: a thread that has just released the
        // lock is running and takes it again before they wake. Let them
        // commit first, for at most `GATHER` (polled, not spun: on two
        // cores a spin would take the CPU they need).
        let gather_until = std::time::Instant::now() + GATHER;
        while self.writers.load(Ordering::SeqCst) > 0 && std::time::Instant::now() < gather_until {
            std::thread::sleep(Duration::from_micros(20));
        }
        self.commit_empty(&mut synced)
    }

    /// One empty durable commit, which persists every commit before it;
    /// `synced` (the caller holds its lock) then covers them.
    fn commit_empty(&self, synced: &mut u64) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(db_err)?;
        // Read with the write lock held, as in `commit`.
        let covered = self.unsynced.load(Ordering::SeqCst);
        txn.commit().map_err(db_err)?;
        self.commits.fetch_add(1, Ordering::Relaxed);
        *synced = (*synced).max(covered);
        Ok(())
    }

    fn sweep_expired(&self) -> Result<usize, StoreError> {
        let now = self.now_ms();
        let mut removed = 0usize;
        let mut after: Option<String> = None;
        loop {
            let (n, next) = self.sweep_batch(now, after.as_deref())?;
            removed = removed.saturating_add(n);
            match next {
                Some(key) => after = Some(key),
                None => return Ok(removed),
            }
        }
    }

    /// One write transaction of a sweep: looks at up to [`SWEEP_SCAN`]
    /// entries after `after` and removes up to [`SWEEP_BATCH`] expired ones.
    /// Returns how many it removed and, unless it reached the end of the
    /// table, the last key it looked at.
    ///
    /// Removing with `Table::remove` rewrites each page once per
    /// transaction, and a batch keeps the write lock short. redb's
    /// `Table::retain` copies the path to the root for every entry it drops
    /// and frees the copies only at commit, so one sweep of 800 entries grew
    /// the file from 2.5 MB to 9.5 MB; in batches the freed pages are
    /// reused from one batch to the next.
    fn sweep_batch(
        &self,
        now: u64,
        after: Option<&str>,
    ) -> Result<(usize, Option<String>), StoreError> {
        let (txn, queued) = self.begin_write()?;
        let mut expired: Vec<String> = Vec::new();
        let mut last = None;
        {
            let mut table = txn.open_table(ENTRIES).map_err(db_err)?;
            {
                let from = after.map_or(Bound::Unbounded, Bound::Excluded);
                let mut seen = 0usize;
                for item in table
                    .range::<&str>((from, Bound::Unbounded))
                    .map_err(db_err)?
                {
                    let (key, raw) = item.map_err(db_err)?;
                    if matches!(decode(raw.value()), Ok((expiry, _)) if expiry <= now) {
                        expired.push(key.value().to_owned());
                    }
                    seen += 1;
                    if expired.len() >= SWEEP_BATCH || seen >= SWEEP_SCAN {
                        last = Some(key.value().to_owned());
                        break;
                    }
                }
            }
            for key in &expired {
                table.remove(key.as_str()).map_err(db_err)?;
            }
        }
        if expired.is_empty() {
            txn.abort().map_err(db_err)?;
        } else {
            self.commit(txn, queued)?;
        }
        Ok((expired.len(), last))
    }
}

/// A durable writer counted in `Inner::writers`; uncounted when dropped
/// (after its commit, or on an early return that aborts it).
struct Queued<'a>(&'a AtomicUsize);

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn db_err(e: impl Into<redb::Error>) -> StoreError {
    StoreError::Unavailable(format!("embedded store: {}", e.into()))
}

fn expiry_ms(now: u64, ttl: Duration) -> u64 {
    let ttl = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
    now.saturating_add(ttl)
}

fn encode(expiry: u64, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + payload.len());
    out.extend_from_slice(&expiry.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

fn decode(raw: &[u8]) -> Result<(u64, &[u8]), StoreError> {
    raw.split_first_chunk::<8>()
        .map(|(head, payload)| (u64::from_be_bytes(*head), payload))
        .ok_or_else(|| StoreError::Corrupt("embedded store entry shorter than its header".into()))
}

/// The payload of a raw entry if it is still live at `now`.
fn live(raw: &[u8], now: u64) -> Result<Option<Vec<u8>>, StoreError> {
    let (expiry, payload) = decode(raw)?;
    Ok((expiry > now).then(|| payload.to_vec()))
}

impl Store for EmbeddedStore {
    async fn put_if_absent(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let key = key.to_owned();
        let value = value.to_vec();
        self.run(move |inner, now| {
            let (txn, queued) = inner.begin_write()?;
            {
                let mut table = txn.open_table(ENTRIES).map_err(db_err)?;
                let is_live = match table.get(key.as_str()).map_err(db_err)? {
                    Some(raw) => live(raw.value(), now)?.is_some(),
                    None => false,
                };
                if is_live {
                    return Ok(false); // dropping `txn` aborts it
                }
                let entry = encode(expiry_ms(now, ttl), &value);
                table
                    .insert(key.as_str(), entry.as_slice())
                    .map_err(db_err)?;
            }
            inner.commit(txn, queued)?;
            Ok(true)
        })
        .await
    }

    async fn put(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), StoreError> {
        self.put_one(key, value, ttl, true).await
    }

    async fn put_transient(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<(), StoreError> {
        self.put_one(key, value, ttl, false).await
    }

    async fn put_many(&self, entries: &[(&str, &[u8], Duration)]) -> Result<(), StoreError> {
        let owned: Vec<(String, Vec<u8>, Duration)> = entries
            .iter()
            .map(|(k, v, t)| ((*k).to_owned(), v.to_vec(), *t))
            .collect();
        self.run(move |inner, now| {
            let (txn, queued) = inner.begin_write()?;
            {
                let mut table = txn.open_table(ENTRIES).map_err(db_err)?;
                for (key, value, ttl) in &owned {
                    let entry = encode(expiry_ms(now, *ttl), value);
                    table
                        .insert(key.as_str(), entry.as_slice())
                        .map_err(db_err)?;
                }
            }
            inner.commit(txn, queued)
        })
        .await
    }

    /// One write transaction: every claim and condition is checked before
    /// anything is inserted, and a live claim or an unmet condition drops
    /// the transaction unwritten.
    async fn commit(
        &self,
        claims: &[(&str, &[u8], Duration)],
        requires: &[(&str, Expect<'_>)],
        puts: &[(&str, &[u8], Duration)],
        deletes: &[&str],
    ) -> Result<Committed, StoreError> {
        let own = |list: &[(&str, &[u8], Duration)]| -> Vec<(String, Vec<u8>, Duration)> {
            list.iter()
                .map(|(k, v, t)| ((*k).to_owned(), v.to_vec(), *t))
                .collect()
        };
        let claims = own(claims);
        let puts = own(puts);
        let requires: Vec<(String, Wanted)> = requires
            .iter()
            .map(|(k, e)| ((*k).to_owned(), Wanted::from(*e)))
            .collect();
        let deletes: Vec<String> = deletes.iter().map(|k| (*k).to_owned()).collect();
        self.run(move |inner, now| {
            let (txn, queued) = inner.begin_write()?;
            {
                let mut table = txn.open_table(ENTRIES).map_err(db_err)?;
                let found = |key: &str| -> Result<Option<Vec<u8>>, StoreError> {
                    match table.get(key).map_err(db_err)? {
                        Some(raw) => live(raw.value(), now),
                        None => Ok(None),
                    }
                };
                // Dropping `txn` on an early return aborts it.
                for (i, (key, _, _)) in claims.iter().enumerate() {
                    if found(key)?.is_some() {
                        return Ok(Committed::Taken(i));
                    }
                }
                for (i, (key, want)) in requires.iter().enumerate() {
                    if !want.as_expect().met_by(found(key)?.as_deref()) {
                        return Ok(Committed::Unmet(i));
                    }
                }
                for (key, value, ttl) in claims.iter().chain(&puts) {
                    let entry = encode(expiry_ms(now, *ttl), value);
                    table
                        .insert(key.as_str(), entry.as_slice())
                        .map_err(db_err)?;
                }
                for key in &deletes {
                    table.remove(key.as_str()).map_err(db_err)?;
                }
            }
            inner.commit(txn, queued)?;
            Ok(Committed::Written)
        })
        .await
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let key = key.to_owned();
        self.run(move |inner, now| {
            let txn = inner.db.begin_read().map_err(db_err)?;
            let table = txn.open_table(ENTRIES).map_err(db_err)?;
            match table.get(key.as_str()).map_err(db_err)? {
                Some(raw) => live(raw.value(), now),
                None => Ok(None),
            }
        })
        .await
    }

    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let key = key.to_owned();
        self.run(move |inner, now| {
            let (txn, queued) = inner.begin_write()?;
            let found = {
                let mut table = txn.open_table(ENTRIES).map_err(db_err)?;
                let removed = table.remove(key.as_str()).map_err(db_err)?;
                match removed {
                    Some(raw) => Some(live(raw.value(), now)?),
                    None => None,
                }
            };
            match found {
                // Removed something (live or expired): make it stick.
                Some(payload) => {
                    inner.commit(txn, queued)?;
                    Ok(payload)
                }
                None => {
                    txn.abort().map_err(db_err)?;
                    Ok(None)
                }
            }
        })
        .await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let key = key.to_owned();
        self.run(move |inner, _now| {
            let (txn, queued) = inner.begin_write()?;
            let removed = {
                let mut table = txn.open_table(ENTRIES).map_err(db_err)?;
                let removed = table.remove(key.as_str()).map_err(db_err)?.is_some();
                removed
            };
            if removed {
                inner.commit(txn, queued)
            } else {
                txn.abort().map_err(db_err)
            }
        })
        .await
    }

    /// A range read from `prefix` in key order, stopping at the first key
    /// past it; expired entries are skipped.
    async fn keys_with_prefix(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let prefix = prefix.to_owned();
        self.run(move |inner, now| {
            let txn = inner.db.begin_read().map_err(db_err)?;
            let table = txn.open_table(ENTRIES).map_err(db_err)?;
            let mut out = Vec::new();
            for item in table.range(prefix.as_str()..).map_err(db_err)? {
                let (k, v) = item.map_err(db_err)?;
                let key = k.value();
                if !key.starts_with(prefix.as_str()) {
                    break;
                }
                if live(v.value(), now)?.is_some() {
                    out.push(key.to_owned());
                }
            }
            Ok(out)
        })
        .await
    }
}

#[cfg(test)]
#[path = "embedded_tests.rs"]
mod tests;
