//! The Redis backend, for several samlhub processes sharing state.
//!
//! This module owns the Redis key layout and the connection policy:
//! - every key is prefixed `samlhub:`; values are stored as-is with a
//!   Redis-side TTL (`PX`, at least 1 ms), so Redis does the expiry;
//! - `put_if_absent` is `SET key value NX PX ttl` and `take` is `GETDEL`
//!   (Redis ≥ 6.2), each a single atomic command;
//! - the connection is made lazily, on the first operation, and cached as a
//!   [`ConnectionManager`] (which reconnects by itself). If it cannot be made,
//!   the operation fails and the next one tries again, so a Redis that is down
//!   at start-up gives per-request errors rather than a crash, and is used
//!   again once it is back;
//! - every operation, connecting included, is bounded by [`OP_TIMEOUT`]; any
//!   failure or timeout is [`StoreError::Unavailable`]. Error messages never
//!   contain values.

use super::{Store, StoreError};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::time::Duration;
use tokio::sync::Mutex;

/// Upper bound for one store operation, including (re)connecting.
pub const OP_TIMEOUT: Duration = Duration::from_secs(2);

const KEY_PREFIX: &str = "samlhub:";

/// Store backed by a Redis server.
pub struct RedisStore {
    client: redis::Client,
    conn: Mutex<Option<ConnectionManager>>,
}

impl RedisStore {
    /// Checks `url` without connecting. Only `redis://…` is accepted;
    /// `rediss://…` is recognised but refused with a clear error because this
    /// build does not compile in the redis crate's TLS support.
    pub fn new(url: &str) -> Result<Self, StoreError> {
        let scheme_ok = url.starts_with("redis://") || url.starts_with("rediss://");
        if !scheme_ok {
            return Err(StoreError::Unavailable(
                "redis store URL must start with redis:// or rediss://".into(),
            ));
        }
        if url.starts_with("rediss://") {
            // Needs the redis crate's `tokio-native-tls-comp` feature.
            return Err(StoreError::Unavailable(
                "rediss:// (Redis over TLS) is not supported by this build; use redis://".into(),
            ));
        }
        let client = redis::Client::open(url)
            .map_err(|e| StoreError::Unavailable(format!("invalid redis store URL: {e}")))?;
        Ok(Self {
            client,
            conn: Mutex::new(None),
        })
    }

    /// The cached connection manager, creating it if there is none yet.
    async fn connection(&self) -> Result<ConnectionManager, StoreError> {
        let mut slot = self.conn.lock().await;
        if let Some(conn) = slot.as_ref() {
            return Ok(conn.clone());
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Duration::from_millis(1000))
            .set_response_timeout(Duration::from_millis(1500))
            // No backoff retries inside the manager: its first retry waits at
            // least 1 s (backon's minimum delay), which would stall every
            // request while Redis is down. A failed (re)connect fails the
            // request at once, and the next request starts a fresh attempt.
            .set_number_of_retries(0);
        let conn = ConnectionManager::new_with_config(self.client.clone(), config)
            .await
            .map_err(unavailable)?;
        *slot = Some(conn.clone());
        Ok(conn)
    }

    /// Runs `cmd`, the whole thing (connecting included) bounded by
    /// [`OP_TIMEOUT`].
    ///
    /// A connection-level failure is retried once on the manager's fresh
    /// connection: a link that died while idle (Redis restarted) is only found
    /// dead by the next command, which should not fail for that alone. The
    /// retry can only repeat a command whose reply was lost; for `SET NX` and
    /// `GETDEL` that errs closed (a spurious "present" / "absent").
    async fn run<T: redis::FromRedisValue>(
        &self,
        what: &str,
        cmd: redis::Cmd,
    ) -> Result<T, StoreError> {
        self.run_op(what, Op::Cmd(cmd)).await
    }

    async fn run_op<T: redis::FromRedisValue>(&self, what: &str, op: Op) -> Result<T, StoreError> {
        let attempt = async {
            let mut conn = self.connection().await?;
            match op.query(&mut conn).await {
                Err(e) if e.is_io_error() || e.is_unrecoverable_error() => {
                    op.query(&mut conn).await.map_err(unavailable)
                }
                other => other.map_err(unavailable),
            }
        };
        match tokio::time::timeout(OP_TIMEOUT, attempt).await {
            Ok(result) => result,
            Err(_) => {
                // The manager may not have noticed a dead link; start afresh.
                if let Ok(mut slot) = self.conn.try_lock() {
                    *slot = None;
                }
                Err(StoreError::Unavailable(format!(
                    "redis {what} timed out after {} ms",
                    OP_TIMEOUT.as_millis()
                )))
            }
        }
    }
}

fn unavailable(e: redis::RedisError) -> StoreError {
    // RedisError's Display carries the error kind and server message, never
    // the command arguments.
    StoreError::Unavailable(format!("redis: {e}"))
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
        let mut cmd = redis::cmd("SET");
        cmd.arg(full_key(key))
            .arg(value)
            .arg("NX")
            .arg("PX")
            .arg(ttl_ms(ttl));
        let reply: Option<String> = self.run("SET NX", cmd).await?;
        Ok(reply.is_some())
    }

    async fn put(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), StoreError> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(full_key(key)).arg(value).arg("PX").arg(ttl_ms(ttl));
        self.run("SET", cmd).await
    }

    async fn put_many(&self, entries: &[(&str, &[u8], Duration)]) -> Result<(), StoreError> {
        let mut pipe = redis::pipe();
        pipe.atomic();
        for (k, v, t) in entries {
            pipe.cmd("SET")
                .arg(full_key(k))
                .arg(*v)
                .arg("PX")
                .arg(ttl_ms(*t))
                .ignore();
        }
        self.run_op("MULTI SET", Op::Pipe(pipe)).await
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let mut cmd = redis::cmd("GET");
        cmd.arg(full_key(key));
        self.run("GET", cmd).await
    }

    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let mut cmd = redis::cmd("GETDEL");
        cmd.arg(full_key(key));
        self.run("GETDEL", cmd).await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let mut cmd = redis::cmd("DEL");
        cmd.arg(full_key(key));
        self.run("DEL", cmd).await
    }
}

/// One command, or a MULTI/EXEC pipeline.
enum Op {
    Cmd(redis::Cmd),
    Pipe(redis::Pipeline),
}

impl Op {
    async fn query<T: redis::FromRedisValue>(
        &self,
        conn: &mut redis::aio::ConnectionManager,
    ) -> redis::RedisResult<T> {
        match self {
            Op::Cmd(c) => c.query_async(conn).await,
            Op::Pipe(p) => p.query_async(conn).await,
        }
    }
}
