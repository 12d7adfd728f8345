//! The Redis backend, for several samlhub processes sharing state: one
//! server, a Sentinel-managed master/replica set, or a Redis Cluster, each
//! optionally over TLS ([`spec`] for the URL forms, [`conn`] for connecting).
//!
//! This module owns the Redis key layout and the connection policy:
//! - every key is `samlhub:` followed by the record key, in every topology
//!   (no hash tags: the stored format is the same everywhere); values are
//!   stored as-is with a Redis-side TTL (`PX`, at least 1 ms), so Redis does
//!   the expiry;
//! - `put_if_absent` is `SET key value NX PX ttl` and `take` is `GETDEL`
//!   (Redis ≥ 6.2), each a single atomic command on the one slot of its key,
//!   so both stay atomic under Cluster;
//! - `commit` is one Lua script ([`COMMIT_SCRIPT`], by `EVALSHA`, loaded
//!   with `SCRIPT LOAD` when the server answers `NOSCRIPT`) on a single
//!   server: Redis runs a script atomically, so the claims are checked and
//!   the writes made with no other command in between, in one round trip.
//!   `MULTI`/`EXEC` cannot decide on a value inside the transaction, and
//!   `WATCH` needs a connection of its own per caller, which the shared
//!   multiplexed connection is not. Under Cluster the keys are in different
//!   slots, which a script cannot span: `commit` runs step by step
//!   ([`super::commit_in_order`]);
//! - `put_many` is one `MULTI`/`EXEC` on a single server. Under Cluster the
//!   entries' keys hash to different slots, so it is one `MULTI`/`EXEC` per
//!   slot and not atomic across slots; see [`Store::put_many`] below for why
//!   that still fails closed;
//! - with `replay_wait_replicas = n` (> 0), the one-time operations
//!   (`put_if_absent`, `take`) are followed by `WAIT n` on the same server,
//!   pipelined in the same round trip, and fail as unavailable unless n
//!   replicas acknowledged the write: a write the master loses in a failover
//!   could otherwise reopen a replay (docs/security.md);
//! - one multiplexed connection is shared by all callers (requests are
//!   pipelined on it; no lock is held while one is in flight). It is made
//!   lazily on the first operation, so a Redis that is down at start-up gives
//!   per-request errors rather than a crash. A connection that fails (I/O
//!   error, timeout, `READONLY` from a demoted master) is dropped and the
//!   operation retried once on a fresh one; under Sentinel a fresh connection
//!   asks the sentinels for the current master;
//! - every operation, connecting included, is bounded by the configured
//!   `store_timeout`; any failure or timeout is [`StoreError::Unavailable`].
//!   Error messages never contain values or passwords.

pub mod conn;
pub mod spec;

use super::{Committed, Expect, Store, StoreError};
use conn::{Conn, Dialer};
use redis::{ErrorKind, FromRedisValue, RedisError, Value};
use spec::{RedisSpec, Topology};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;
use std::time::Duration;

pub use spec::DEFAULT_TIMEOUT as OP_TIMEOUT;

const KEY_PREFIX: &str = "samlhub:";

/// [`Store::commit`] on one server. `KEYS`: the claims, then the
/// conditions' keys, then the puts, then the deletes; `ARGV[1..3]`: how many
/// claims, conditions and puts, then a value and a TTL in ms for each claim
/// and put, then a mode (`live`, `absent`, `holds`) and a value (empty
/// unless `holds`) for each condition. Returns 0 when written; else nothing
/// is written and it returns the 1-based index of the first claim whose key
/// exists, or minus the 1-based index of the first unmet condition.
pub const COMMIT_SCRIPT: &str = r"local nc = tonumber(ARGV[1])
local nr = tonumber(ARGV[2])
local np = tonumber(ARGV[3])
for i = 1, nc do
  if redis.call('EXISTS', KEYS[i]) == 1 then return i end
end
local base = 3 + 2 * (nc + np)
for i = 1, nr do
  local mode = ARGV[base + 2 * i - 1]
  local found = redis.call('GET', KEYS[nc + i])
  local met
  if mode == 'live' then
    met = found ~= false
  elseif mode == 'absent' then
    met = found == false
  else
    met = found == ARGV[base + 2 * i]
  end
  if not met then return -i end
end
for i = 1, nc + np do
  local k = i
  if i > nc then k = i + nr end
  redis.call('SET', KEYS[k], ARGV[2 * i + 2], 'PX', ARGV[2 * i + 3])
end
for i = nc + nr + np + 1, #KEYS do
  redis.call('DEL', KEYS[i])
end
return 0
";

/// Store backed by Redis.
pub struct RedisStore {
    dialer: Box<Dialer>,
    timeout: Duration,
    wait_replicas: u32,
    cluster: bool,
    /// The shared connection and its generation number.
    cached: RwLock<Option<(u64, Conn)>>,
    /// Held while connecting, so concurrent callers make one connection;
    /// counts the connections made.
    connecting: tokio::sync::Mutex<u64>,
    /// Requests sent to Redis (a pipeline counts once), for tests and
    /// benchmarks.
    round_trips: AtomicU64,
    /// SHA-1 (hex) of [`COMMIT_SCRIPT`], for `EVALSHA`.
    commit_sha: String,
}

impl RedisStore {
    /// Checks `url` without connecting (defaults: 2 s timeout, no `WAIT`,
    /// system CAs for `rediss://`).
    pub fn new(url: &str) -> Result<Self, StoreError> {
        let spec = RedisSpec::parse(url)
            .map_err(|e| StoreError::Unavailable(format!("invalid redis store URL: {e}")))?;
        Self::from_spec(&spec)
    }

    /// Prepares a store for `spec` without connecting.
    pub fn from_spec(spec: &RedisSpec) -> Result<Self, StoreError> {
        let dialer = Box::new(Dialer::new(spec).map_err(StoreError::Unavailable)?);
        Ok(Self {
            dialer,
            timeout: spec.timeout,
            wait_replicas: spec.wait_replicas,
            cluster: matches!(spec.topology, Topology::Cluster(_)),
            cached: RwLock::new(None),
            connecting: tokio::sync::Mutex::new(0),
            round_trips: AtomicU64::new(0),
            commit_sha: hex(&openssl::sha::sha1(COMMIT_SCRIPT.as_bytes())),
        })
    }

    /// How many requests this store has sent to Redis (connecting not
    /// included; a pipeline is one). For tests and benchmarks.
    pub fn round_trips(&self) -> u64 {
        self.round_trips.load(Ordering::Relaxed)
    }

    fn current(&self) -> Option<(u64, Conn)> {
        self.cached
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(|(g, c)| (*g, c.clone()))
    }

    /// The shared connection, making it if there is none.
    async fn connection(&self) -> Result<(u64, Conn), RedisError> {
        if let Some(c) = self.current() {
            return Ok(c);
        }
        let mut made = self.connecting.lock().await;
        if let Some(c) = self.current() {
            return Ok(c);
        }
        let conn = self.dialer.connect().await?;
        *made += 1;
        let gen = *made;
        *self.cached.write().unwrap_or_else(|e| e.into_inner()) = Some((gen, conn.clone()));
        Ok((gen, conn))
    }

    /// Drops connection `gen` if it is still the shared one.
    fn forget(&self, gen: u64) {
        let mut slot = self.cached.write().unwrap_or_else(|e| e.into_inner());
        if slot.as_ref().is_some_and(|(g, _)| *g == gen) {
            *slot = None;
        }
    }

    /// Runs `op`, the whole thing (connecting and one retry included)
    /// bounded by the configured timeout.
    ///
    /// A failure that means the connection is no good is retried once on a
    /// fresh connection: a link that died while idle (Redis restarted, a
    /// failover) is only found dead by the next command, which should not
    /// fail for that alone. The retry can only repeat a command whose reply
    /// was lost; for `SET NX` and `GETDEL` that errs closed (a spurious
    /// "present" / "absent").
    async fn run<T: FromRedisValue>(&self, what: &str, op: Op) -> Result<T, StoreError> {
        let used = AtomicU64::new(0);
        let attempt = async {
            let mut last = None;
            for _ in 0..2 {
                let (gen, mut conn) = match self.connection().await {
                    Ok(c) => c,
                    Err(e) => {
                        last = Some(e);
                        continue;
                    }
                };
                used.store(gen, Ordering::Relaxed);
                match op
                    .query(
                        &mut conn,
                        self.wait_replicas,
                        self.timeout,
                        &self.round_trips,
                    )
                    .await
                {
                    Err(e) if stale(&e) => {
                        self.forget(gen);
                        last = Some(e);
                    }
                    other => return other,
                }
            }
            Err(last.unwrap_or_else(|| RedisError::from((ErrorKind::IoError, "no connection"))))
        };
        let value = match tokio::time::timeout(self.timeout, attempt).await {
            Ok(Ok(v)) => v,
            Ok(Err(e)) => return Err(unavailable(e)),
            Err(_) => {
                // A server that stopped answering leaves requests queued on
                // the shared connection; start afresh next time.
                self.forget(used.load(Ordering::Relaxed));
                return Err(StoreError::Unavailable(format!(
                    "redis {what} timed out after {} ms",
                    self.timeout.as_millis()
                )));
            }
        };
        T::from_redis_value(&value).map_err(unavailable)
    }
}

/// Whether an error means the connection should be replaced.
fn stale(e: &RedisError) -> bool {
    e.is_io_error()
        || e.is_unrecoverable_error()
        || e.is_connection_dropped()
        || e.is_timeout()
        || e.kind() == ErrorKind::ReadOnly
}

fn unavailable(e: RedisError) -> StoreError {
    // RedisError's Display carries the error kind and server message, never
    // the command arguments.
    StoreError::Unavailable(format!("redis: {e}"))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn full_key(key: &str) -> String {
    format!("{KEY_PREFIX}{key}")
}

fn ttl_ms(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

impl Store for RedisStore {
    async fn put_if_absent(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let key = full_key(key);
        let mut cmd = redis::cmd("SET");
        cmd.arg(&key)
            .arg(value)
            .arg("NX")
            .arg("PX")
            .arg(ttl_ms(ttl));
        let reply: Option<String> = self.run("SET NX", Op::OneShot(cmd, key)).await?;
        Ok(reply.is_some())
    }

    async fn put(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), StoreError> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(full_key(key)).arg(value).arg("PX").arg(ttl_ms(ttl));
        self.run("SET", Op::Cmd(cmd)).await
    }

    /// One `MULTI`/`EXEC` on a single server: all or none.
    ///
    /// Under Cluster, one `MULTI`/`EXEC` per hash slot, one after the other;
    /// a failure part-way leaves some entries written and fails the call
    /// (503). That fails closed for the one caller, the OIDC token issue
    /// (`oidc::grant`): its batch holds the reuse markers and the new tokens,
    /// keyed by hashes of fresh random secrets that are only handed out after
    /// the whole batch succeeded, so entries left by a failed batch cannot be
    /// presented by anyone and expire with their TTL; and the code or refresh
    /// token it replaces was already consumed by `take` before the batch.
    async fn put_many(&self, entries: &[(&str, &[u8], Duration)]) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut groups: Vec<(u16, redis::Pipeline)> = Vec::new();
        for (k, v, t) in entries {
            let key = full_key(k);
            let slot = if self.cluster {
                conn::hash_slot(key.as_bytes())
            } else {
                0
            };
            let idx = match groups.iter().position(|(s, _)| *s == slot) {
                Some(i) => i,
                None => {
                    let mut pipe = redis::pipe();
                    pipe.atomic();
                    groups.push((slot, pipe));
                    groups.len() - 1
                }
            };
            if let Some((_, pipe)) = groups.get_mut(idx) {
                pipe.cmd("SET")
                    .arg(key)
                    .arg(*v)
                    .arg("PX")
                    .arg(ttl_ms(*t))
                    .ignore();
            }
        }
        for (_, pipe) in groups {
            let () = self.run("MULTI SET", Op::Pipe(pipe)).await?;
        }
        Ok(())
    }

    /// One `EVALSHA` of [`COMMIT_SCRIPT`] on a single server (with `WAIT`
    /// pipelined when there are claims and `replay_wait_replicas` is set);
    /// under Cluster, [`super::commit_in_order`].
    async fn commit(
        &self,
        claims: &[(&str, &[u8], Duration)],
        requires: &[(&str, Expect<'_>)],
        puts: &[(&str, &[u8], Duration)],
        deletes: &[&str],
    ) -> Result<Committed, StoreError> {
        if self.cluster {
            return super::commit_in_order(self, claims, requires, puts, deletes).await;
        }
        let mut cmd = redis::cmd("EVALSHA");
        cmd.arg(&self.commit_sha)
            .arg(claims.len() + requires.len() + puts.len() + deletes.len());
        let keys = (claims.iter().map(|c| c.0))
            .chain(requires.iter().map(|r| r.0))
            .chain(puts.iter().map(|p| p.0))
            .chain(deletes.iter().copied());
        for k in keys {
            cmd.arg(full_key(k));
        }
        cmd.arg(claims.len()).arg(requires.len()).arg(puts.len());
        for (_, v, t) in claims.iter().chain(puts) {
            cmd.arg(*v).arg(ttl_ms(*t));
        }
        for (_, want) in requires {
            match want {
                Expect::Live => cmd.arg("live").arg(""),
                Expect::Absent => cmd.arg("absent").arg(""),
                Expect::Holds(v) => cmd.arg("holds").arg(*v),
            };
        }
        let op = Op::Script {
            cmd,
            wait: !claims.is_empty(),
        };
        let answer: i64 = self.run("EVALSHA commit", op).await?;
        let index = |n: i64| usize::try_from(n.unsigned_abs() - 1).unwrap_or(usize::MAX);
        Ok(match answer {
            0 => Committed::Written,
            n if n > 0 => Committed::Taken(index(n)),
            n => Committed::Unmet(index(n)),
        })
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let mut cmd = redis::cmd("GET");
        cmd.arg(full_key(key));
        self.run("GET", Op::Cmd(cmd)).await
    }

    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let key = full_key(key);
        let mut cmd = redis::cmd("GETDEL");
        cmd.arg(&key);
        self.run("GETDEL", Op::OneShot(cmd, key)).await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let mut cmd = redis::cmd("DEL");
        cmd.arg(full_key(key));
        self.run("DEL", Op::Cmd(cmd)).await
    }

    /// `SCAN cursor MATCH samlhub:<prefix>* COUNT 1000` until the cursor
    /// comes back 0; SCAN may return a key twice, so the list is deduplicated.
    /// Under Cluster every master holds its own key space and cursor: the
    /// masters are read from `CLUSTER NODES` and each is scanned over a
    /// connection of its own (Redis Cluster specification, "Nodes table").
    /// A master that fails meanwhile fails the listing (never a partial
    /// list given as whole).
    async fn keys_with_prefix(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let pattern = format!("{}*", glob_escape(&full_key(prefix)));
        let mut out = Vec::new();
        if self.cluster {
            let mut cmd = redis::cmd("CLUSTER");
            cmd.arg("NODES");
            let nodes: String = self.run("CLUSTER NODES", Op::Cmd(cmd)).await?;
            let masters = conn::masters_of(&nodes);
            if masters.is_empty() {
                return Err(StoreError::Unavailable(
                    "redis: CLUSTER NODES names no reachable master".into(),
                ));
            }
            for addr in masters {
                let node = tokio::time::timeout(self.timeout, self.dialer.node(&addr))
                    .await
                    .map_err(|_| StoreError::Unavailable(format!("redis: {addr} timed out")))?
                    .map_err(|e| StoreError::Unavailable(format!("redis: {addr}: {e}")))?;
                let addr = addr.to_string();
                scan(&mut out, &pattern, |cmd| {
                    // A handle on the node's multiplexed connection.
                    let mut node = node.clone();
                    let (addr, timeout) = (addr.clone(), self.timeout);
                    async move {
                        let scanned = tokio::time::timeout(timeout, cmd.query_async(&mut node))
                            .await
                            .map_err(|_| {
                                StoreError::Unavailable(format!("redis: SCAN at {addr} timed out"))
                            })?;
                        scanned.map_err(|e| {
                            StoreError::Unavailable(format!("redis: SCAN at {addr}: {e}"))
                        })
                    }
                })
                .await?;
            }
        } else {
            scan(&mut out, &pattern, |cmd| self.run("SCAN", Op::Cmd(cmd))).await?;
        }
        out.sort();
        out.dedup();
        Ok(out)
    }
}

/// Walks one key space with `SCAN cursor MATCH pattern COUNT 1000` until the
/// cursor comes back 0, adding the keys found (without [`KEY_PREFIX`]) to
/// `out`; `send` sends one SCAN.
async fn scan<F, Fut>(out: &mut Vec<String>, pattern: &str, mut send: F) -> Result<(), StoreError>
where
    F: FnMut(redis::Cmd) -> Fut,
    Fut: std::future::Future<Output = Result<(u64, Vec<String>), StoreError>>,
{
    let mut cursor: u64 = 0;
    loop {
        let mut cmd = redis::cmd("SCAN");
        cmd.arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(1000);
        let (next, keys) = send(cmd).await?;
        out.extend(
            keys.iter()
                .filter_map(|k| k.strip_prefix(KEY_PREFIX).map(str::to_owned)),
        );
        if next == 0 {
            return Ok(());
        }
        cursor = next;
    }
}

/// `s` with Redis glob metacharacters escaped, for `SCAN MATCH`.
fn glob_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// One command, a MULTI/EXEC pipeline, a one-time write on `key` that
/// may have to wait for replicas, or an `EVALSHA` of [`COMMIT_SCRIPT`]
/// (single server only) that waits for replicas when `wait` is set.
enum Op {
    Cmd(redis::Cmd),
    Pipe(redis::Pipeline),
    OneShot(redis::Cmd, String),
    Script { cmd: redis::Cmd, wait: bool },
}

/// Half the store timeout in ms (at least 1), for `WAIT numreplicas
/// timeout` (0 would mean forever): the rest of the budget is for the call.
fn wait_ms(timeout: Duration) -> u64 {
    u64::try_from(timeout.as_millis() / 2)
        .unwrap_or(u64::MAX)
        .max(1)
}

/// An error unless `acked` replicas cover `wanted`.
fn check_acked(acked: i64, wanted: u32, wait_ms: u64) -> redis::RedisResult<()> {
    if acked < i64::from(wanted) {
        return Err(RedisError::from((
            ErrorKind::ClientError,
            "write not confirmed by replicas",
            format!("{acked} of {wanted} replica(s) acknowledged in {wait_ms} ms"),
        )));
    }
    Ok(())
}

/// Runs the commit script on one server: `EVALSHA`, followed in the same
/// round trip by `WAIT` when asked. A server that does not know the script
/// yet (first use, a restart, `SCRIPT FLUSH`, a failover) answers
/// `NOSCRIPT`: the script is loaded and the call made again, once.
async fn run_script(
    single: &mut redis::aio::MultiplexedConnection,
    cmd: &redis::Cmd,
    wait: u32,
    timeout: Duration,
    trips: &AtomicU64,
) -> redis::RedisResult<Value> {
    for first in [true, false] {
        trips.fetch_add(1, Ordering::Relaxed);
        let reply = if wait == 0 {
            cmd.query_async(single).await
        } else {
            let ms = wait_ms(timeout);
            let mut pipe = redis::pipe();
            pipe.add_command(cmd.clone())
                .add_command(redis::cmd("WAIT").arg(wait).arg(ms).clone());
            match pipe.query_async::<(Value, i64)>(single).await {
                Ok((reply, acked)) => check_acked(acked, wait, ms).map(|()| reply),
                Err(e) => Err(e),
            }
        };
        match reply {
            Err(e) if first && e.kind() == ErrorKind::NoScriptError => {
                trips.fetch_add(1, Ordering::Relaxed);
                let mut load = redis::cmd("SCRIPT");
                load.arg("LOAD").arg(COMMIT_SCRIPT);
                let _sha: String = load.query_async(single).await?;
            }
            other => return other,
        }
    }
    Err(RedisError::from((
        ErrorKind::NoScriptError,
        "commit script not loaded",
    )))
}

impl Op {
    async fn query(
        &self,
        conn: &mut Conn,
        wait: u32,
        timeout: Duration,
        trips: &AtomicU64,
    ) -> redis::RedisResult<Value> {
        if !matches!(self, Op::Script { .. }) {
            trips.fetch_add(1, Ordering::Relaxed);
        }
        match self {
            Op::Cmd(c) => c.query_async(conn).await,
            Op::Pipe(p) => p.query_async(conn).await,
            Op::Script { cmd, wait: w } => match conn {
                Conn::Single(single) => {
                    let wait = if *w { wait } else { 0 };
                    run_script(single, cmd, wait, timeout, trips).await
                }
                Conn::Cluster(_) => Err(RedisError::from((
                    ErrorKind::ClientError,
                    "the commit script does not run under Cluster",
                ))),
            },
            Op::OneShot(c, _) if wait == 0 => c.query_async(conn).await,
            Op::OneShot(c, key) => {
                let wait_ms = wait_ms(timeout);
                let mut wait_cmd = redis::cmd("WAIT");
                wait_cmd.arg(wait).arg(wait_ms);
                let (reply, acked): (Value, i64) = match conn {
                    Conn::Single(single) => {
                        // One round trip: the write, then WAIT on the same
                        // connection (WAIT covers this client's writes).
                        let mut pipe = redis::pipe();
                        pipe.add_command(c.clone()).add_command(wait_cmd);
                        pipe.query_async(single).await?
                    }
                    Conn::Cluster(cluster) => {
                        use redis::cluster_routing::{
                            Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr,
                        };
                        let reply = c.query_async(cluster).await?;
                        let route = Route::new(conn::hash_slot(key.as_bytes()), SlotAddr::Master);
                        let acked = cluster
                            .route_command(
                                &wait_cmd,
                                RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(route)),
                            )
                            .await?;
                        (reply, i64::from_redis_value(&acked)?)
                    }
                };
                check_acked(acked, wait, wait_ms)?;
                Ok(reply)
            }
        }
    }
}
