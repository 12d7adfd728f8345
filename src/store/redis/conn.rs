//! Making connections for the Redis store: TCP or TLS to one server,
//! master discovery through Sentinel, and the Cluster client.
//!
//! Every connection is multiplexed: one socket carries the requests of all
//! concurrent callers, pipelined, with no lock held while a request is in
//! flight. TLS is done here with native-tls (OpenSSL), so a private CA and a
//! client certificate work for servers and sentinels alike.

use super::spec::{Addr, Auth, RedisSpec, TlsFiles, Topology};
use redis::aio::MultiplexedConnection;
use redis::cluster_async::ClusterConnection;
use redis::{AsyncConnectionConfig, RedisConnectionInfo, RedisError, RedisResult, Value};
use std::time::Duration;

/// The masters in a `CLUSTER NODES` answer (Redis Cluster specification,
/// "Nodes table": `<id> <ip:port@cport[,hostname]> <flags> …`), skipping
/// those flagged failing or without an address.
pub fn masters_of(nodes: &str) -> Vec<Addr> {
    nodes
        .lines()
        .filter_map(|line| {
            let mut f = line.split_whitespace();
            let (_, addr, flags) = (f.next()?, f.next()?, f.next()?);
            let flags: Vec<&str> = flags.split(',').collect();
            if !flags.contains(&"master")
                || flags
                    .iter()
                    .any(|x| matches!(*x, "fail" | "fail?" | "noaddr" | "handshake"))
            {
                return None;
            }
            let hostport = addr.split(['@', ',']).next()?;
            let (host, port) = hostport.rsplit_once(':')?;
            if host.is_empty() {
                return None;
            }
            Some(Addr {
                host: host
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_owned(),
                port: port.parse().ok()?,
            })
        })
        .collect()
}

/// A live connection to whatever the spec names.
#[derive(Clone)]
pub enum Conn {
    /// One server: standalone, or the master Sentinel named.
    Single(MultiplexedConnection),
    Cluster(ClusterConnection),
}

/// Everything needed to (re)connect, built once from the spec.
pub struct Dialer {
    topology: Topology,
    auth: Auth,
    db: i64,
    tls: Option<tokio_native_tls::TlsConnector>,
    cluster: Option<redis::cluster::ClusterClient>,
    timeout: Duration,
}

fn err(what: &str, detail: impl std::fmt::Display) -> RedisError {
    RedisError::from((
        redis::ErrorKind::IoError,
        "connect failed",
        format!("{what}: {detail}"),
    ))
}

fn tls_connector(files: &TlsFiles) -> Result<tokio_native_tls::TlsConnector, String> {
    let mut b = native_tls::TlsConnector::builder();
    b.min_protocol_version(Some(native_tls::Protocol::Tlsv12));
    if let Some(ca) = &files.ca_pem {
        let certs = native_tls::Certificate::stack_from_pem(ca)
            .map_err(|e| format!("store_tls.ca_file is not PEM certificates: {e}"))?;
        if certs.is_empty() {
            return Err("store_tls.ca_file holds no certificate".into());
        }
        // Trust only the configured CA, not the system roots as well.
        b.disable_built_in_roots(true);
        for c in certs {
            b.add_root_certificate(c);
        }
    }
    if let Some((cert, key)) = &files.client {
        let id = native_tls::Identity::from_pkcs8(cert, key).map_err(|e| {
            format!("store_tls.cert_file/key_file are not a PEM certificate and PKCS#8 key: {e}")
        })?;
        b.identity(id);
    }
    let c = b
        .build()
        .map_err(|e| format!("cannot set up TLS for the store: {e}"))?;
    Ok(tokio_native_tls::TlsConnector::from(c))
}

impl Dialer {
    /// Checks the spec and prepares TLS and the Cluster client; connects
    /// nothing.
    pub fn new(spec: &RedisSpec) -> Result<Self, String> {
        let tls = spec.tls.as_ref().map(tls_connector).transpose()?;
        let cluster = match &spec.topology {
            Topology::Cluster(seeds) => {
                let infos: Vec<redis::ConnectionInfo> = seeds
                    .iter()
                    .map(|a| redis::ConnectionInfo {
                        addr: redis::ConnectionAddr::Tcp(a.host.clone(), a.port),
                        redis: redis_info(&spec.auth, 0),
                    })
                    .collect();
                let mut b = redis::cluster::ClusterClientBuilder::new(infos)
                    .connection_timeout(spec.timeout)
                    .response_timeout(spec.timeout)
                    // Retries after MOVED/ASK and failed nodes; the store call
                    // as a whole is still bounded by the timeout.
                    .retries(3)
                    .min_retry_wait(50)
                    .max_retry_wait(400);
                if let Some(u) = &spec.auth.username {
                    b = b.username(u.clone());
                }
                if let Some(p) = &spec.auth.password {
                    b = b.password(p.clone());
                }
                Some(b.build().map_err(|e| format!("Redis Cluster seeds: {e}"))?)
            }
            _ => None,
        };
        Ok(Self {
            topology: spec.topology.clone(),
            auth: spec.auth.clone(),
            db: spec.db,
            tls,
            cluster,
            timeout: spec.timeout,
        })
    }

    /// Connects. The caller bounds the whole call with its timeout.
    pub async fn connect(&self) -> RedisResult<Conn> {
        match &self.topology {
            Topology::Standalone(addr) => Ok(Conn::Single(
                self.single(addr, &redis_info(&self.auth, self.db)).await?,
            )),
            Topology::Sentinel {
                sentinels,
                service,
                sentinel_auth,
            } => Ok(Conn::Single(
                self.via_sentinels(sentinels, service, sentinel_auth)
                    .await?,
            )),
            Topology::Cluster(_) => match &self.cluster {
                Some(c) => Ok(Conn::Cluster(c.get_async_connection().await?)),
                None => Err(err("cluster", "no client")),
            },
        }
    }

    /// A multiplexed connection to one server, over TLS when configured.
    async fn single(
        &self,
        addr: &Addr,
        info: &RedisConnectionInfo,
    ) -> RedisResult<MultiplexedConnection> {
        let tcp = tokio::net::TcpStream::connect((addr.host.as_str(), addr.port)).await?;
        tcp.set_nodelay(true)?;
        let config = AsyncConnectionConfig::new().set_response_timeout(self.timeout);
        // The driver owns the socket; it ends when every handle is dropped.
        match &self.tls {
            None => {
                let (conn, driver) =
                    MultiplexedConnection::new_with_config(info, tcp, config).await?;
                tokio::spawn(driver);
                Ok(conn)
            }
            Some(tls) => {
                let stream = tls
                    .connect(&addr.host, tcp)
                    .await
                    .map_err(|e| err("TLS handshake", e))?;
                let (conn, driver) =
                    MultiplexedConnection::new_with_config(info, stream, config).await?;
                tokio::spawn(driver);
                Ok(conn)
            }
        }
    }

    /// A connection to one node of a Cluster (database 0), for walking its
    /// key space.
    pub async fn node(&self, addr: &Addr) -> RedisResult<MultiplexedConnection> {
        self.single(addr, &redis_info(&self.auth, 0)).await
    }

    /// Asks each sentinel in turn for the master of `service`, and connects
    /// to it once it confirms with `ROLE` that it is a master (a sentinel can
    /// lag behind a failover). Redis Sentinel docs, "Sentinel clients
    /// implementation guidelines" step 1–3.
    async fn via_sentinels(
        &self,
        sentinels: &[Addr],
        service: &str,
        sentinel_auth: &Auth,
    ) -> RedisResult<MultiplexedConnection> {
        let mut last = err("sentinel", "no sentinel configured");
        // One slow sentinel must not use up the whole budget.
        let each = self.timeout / 2;
        let sentinel_info = redis_info(sentinel_auth, 0);
        for s in sentinels {
            let ask = async {
                let mut conn = self.single(s, &sentinel_info).await?;
                let master: Option<(String, u16)> = redis::cmd("SENTINEL")
                    .arg("get-master-addr-by-name")
                    .arg(service)
                    .query_async(&mut conn)
                    .await?;
                let (host, port) =
                    master.ok_or_else(|| err("sentinel", format!("does not know '{service}'")))?;
                let addr = Addr { host, port };
                let mut conn = self.single(&addr, &redis_info(&self.auth, self.db)).await?;
                let role: Vec<Value> = redis::cmd("ROLE").query_async(&mut conn).await?;
                match role.first() {
                    Some(Value::BulkString(r)) if r.as_slice() == b"master" => Ok(conn),
                    _ => Err(err("sentinel", format!("{addr} is not a master (yet)"))),
                }
            };
            match tokio::time::timeout(each, ask).await {
                Ok(Ok(conn)) => return Ok(conn),
                Ok(Err(e)) => last = e,
                Err(_) => last = err("sentinel", format!("{s} did not answer in time")),
            }
        }
        Err(last)
    }
}

fn redis_info(auth: &Auth, db: i64) -> RedisConnectionInfo {
    RedisConnectionInfo {
        db,
        username: auth.username.clone(),
        password: auth.password.clone(),
        ..RedisConnectionInfo::default()
    }
}

impl redis::aio::ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a redis::Cmd) -> redis::RedisFuture<'a, Value> {
        match self {
            Conn::Single(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> redis::RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Single(c) => c.req_packed_commands(cmd, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Single(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
        }
    }
}

/// The Redis Cluster hash slot of `key` (Cluster spec, "Key distribution
/// model": CRC16/XMODEM of the key, or of its `{hash tag}`, mod 16384).
pub fn hash_slot(key: &[u8]) -> u16 {
    let tagged = key
        .iter()
        .position(|b| *b == b'{')
        .and_then(|open| {
            let after = key.get(open + 1..)?;
            let close = after.iter().position(|b| *b == b'}')?;
            (close > 0).then(|| after.get(..close)).flatten()
        })
        .unwrap_or(key);
    let mut crc: u16 = 0;
    for b in tagged {
        crc ^= u16::from(*b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc % 16384
}

#[cfg(test)]
mod tests {
    use super::{hash_slot, masters_of};

    #[test]
    fn masters_are_read_from_cluster_nodes() {
        let nodes = "\
a1 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-5460
b2 127.0.0.1:7001@17001,redis-b master - 0 0 2 connected 5461-10922
c3 127.0.0.1:7002@17002 master,fail - 0 0 3 disconnected 10923-16383
d4 127.0.0.1:7003@17003 slave a1 0 0 1 connected
e5 :0@0 master,noaddr - 0 0 4 disconnected
f6 [::1]:7005@17005 master - 0 0 5 connected
";
        let got: Vec<String> = masters_of(nodes)
            .iter()
            .map(|a| format!("{}:{}", a.host, a.port))
            .collect();
        assert_eq!(got, ["127.0.0.1:7000", "127.0.0.1:7001", "::1:7005"]);
        assert!(masters_of("").is_empty());
        assert!(masters_of("garbage\n").is_empty());
    }

    #[test]
    fn hash_slots_match_the_cluster_spec() {
        // Examples from the Redis Cluster specification and `CLUSTER KEYSLOT`.
        assert_eq!(hash_slot(b"123456789"), 0x31C3);
        assert_eq!(hash_slot(b"foo"), 12182);
        assert_eq!(hash_slot(b"{user1000}.following"), hash_slot(b"user1000"));
        assert_eq!(hash_slot(b"foo{}{bar}"), hash_slot(b"foo{}{bar}"));
        assert_ne!(hash_slot(b"foo{}{bar}"), hash_slot(b"bar"));
    }
}
