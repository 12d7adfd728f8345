//! Redis topologies made of real `redis-server` processes on loopback, for
//! the store's conformance and failover tests: a Sentinel set (one master,
//! one replica, three sentinels) and a Cluster (three masters, each with one
//! replica). Timeouts are short (down-after 1 s, cluster-node-timeout 1.5 s)
//! so failovers finish in seconds. Everything stops on drop.

use super::free_port;
use super::redis::RedisServer;
use std::time::{Duration, Instant};

const SETTLE_TIMEOUT: Duration = Duration::from_secs(30);

/// The service name the sentinels monitor.
pub const SERVICE: &str = "mymaster";

fn wait_until(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    while !ok() {
        assert!(
            Instant::now() < deadline,
            "{what}: not within {SETTLE_TIMEOUT:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One master, one replica of it, three sentinels with quorum 2.
pub struct SentinelSet {
    pub master: RedisServer,
    pub replica: RedisServer,
    pub sentinels: Vec<RedisServer>,
}

impl SentinelSet {
    /// Starts everything and waits until every sentinel knows the replica
    /// and the other two sentinels, so a failover can happen.
    pub fn start() -> SentinelSet {
        // A replica's first sync starts at once rather than after Redis's
        // default 5 s wait for more replicas to join.
        let no_delay = ["--repl-diskless-sync-delay".to_owned(), "0".to_owned()];
        let master = RedisServer::start_with(&no_delay);
        let replica = RedisServer::start_with(
            &[
                &no_delay[..],
                &[
                    "--replicaof".into(),
                    "127.0.0.1".into(),
                    master.port().to_string(),
                ],
            ]
            .concat(),
        );
        wait_until("replica in sync", || replica.in_sync());
        let conf = format!(
            "sentinel monitor {SERVICE} 127.0.0.1 {} 2\n\
             sentinel down-after-milliseconds {SERVICE} 1000\n\
             sentinel failover-timeout {SERVICE} 3000\n\
             sentinel parallel-syncs {SERVICE} 1\n",
            master.port()
        );
        let sentinels: Vec<RedisServer> =
            (0..3).map(|_| RedisServer::start_sentinel(&conf)).collect();
        for s in &sentinels {
            wait_until("sentinel sees replica and peers", || {
                let info = s.cli(&["SENTINEL", "MASTER", SERVICE]);
                let field = |name: &str| {
                    let mut lines = info.lines();
                    while let Some(l) = lines.next() {
                        if l == name {
                            return lines.next().unwrap_or("").to_owned();
                        }
                    }
                    String::new()
                };
                field("num-slaves") == "1" && field("num-other-sentinels") == "2"
            });
        }
        SentinelSet {
            master,
            replica,
            sentinels,
        }
    }

    /// `redis+sentinel://127.0.0.1:s1,…/mymaster`
    pub fn url(&self) -> String {
        let hosts: Vec<String> = self
            .sentinels
            .iter()
            .map(|s| format!("127.0.0.1:{}", s.port()))
            .collect();
        format!("redis+sentinel://{}/{SERVICE}", hosts.join(","))
    }

    /// The port the sentinels currently name as master.
    pub fn master_port(&self) -> Option<u16> {
        let out = self
            .sentinels
            .first()?
            .cli(&["SENTINEL", "get-master-addr-by-name", SERVICE]);
        out.lines().nth(1)?.trim().parse().ok()
    }
}

/// Three masters with one replica each, slots spread by `redis-cli --cluster
/// create`.
pub struct Cluster {
    pub nodes: Vec<RedisServer>,
}

impl Cluster {
    pub fn start() -> Cluster {
        let nodes: Vec<RedisServer> = (0..6)
            .map(|_| {
                RedisServer::start_with(&[
                    "--cluster-enabled".into(),
                    "yes".into(),
                    "--cluster-config-file".into(),
                    "nodes.conf".into(),
                    "--cluster-node-timeout".into(),
                    "1500".into(),
                    "--cluster-port".into(),
                    free_port().to_string(),
                ])
            })
            .collect();
        let mut args: Vec<String> = vec!["--cluster".into(), "create".into()];
        args.extend(nodes.iter().map(|n| format!("127.0.0.1:{}", n.port())));
        args.extend(["--cluster-replicas", "1", "--cluster-yes"].map(String::from));
        let out = std::process::Command::new("redis-cli")
            .args(&args)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("redis-cli --cluster create");
        assert!(
            out.status.success(),
            "cluster create failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let cluster = Cluster { nodes };
        cluster.wait_healthy();
        cluster
    }

    /// Waits until every node reports `cluster_state:ok`, each master has a
    /// connected replica and each replica's link to its master is up.
    pub fn wait_healthy(&self) {
        for n in &self.nodes {
            wait_until("cluster_state:ok", || {
                n.cli(&["CLUSTER", "INFO"]).contains("cluster_state:ok")
            });
            wait_until("replication up", || {
                let info = n.cli(&["INFO", "replication"]);
                info.contains("connected_slaves:1") || info.contains("master_link_status:up")
            });
        }
    }

    /// `redis+cluster://127.0.0.1:p1,…` (every node as a seed).
    pub fn url(&self) -> String {
        let hosts: Vec<String> = self
            .nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port()))
            .collect();
        format!("redis+cluster://{}", hosts.join(","))
    }

    /// Index (in `nodes`) of the master serving `slot`, from `CLUSTER NODES`
    /// as seen by node `ask`.
    pub fn master_of_slot(&self, ask: usize, slot: u16) -> Option<usize> {
        let view = self.nodes.get(ask)?.cli(&["CLUSTER", "NODES"]);
        for line in view.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            let is_master = f
                .get(2)
                .is_some_and(|flags| flags.contains("master") && !flags.contains("fail"));
            let serves = f.iter().skip(8).any(|range| {
                let mut parts = range.split('-');
                let lo = parts.next().and_then(|p| p.parse::<u16>().ok());
                let hi = parts.next().and_then(|p| p.parse::<u16>().ok()).or(lo);
                matches!((lo, hi), (Some(lo), Some(hi)) if lo <= slot && slot <= hi)
            });
            if is_master && serves {
                let port: u16 = f.get(1)?.split([':', '@']).nth(1)?.parse().ok()?;
                return self.nodes.iter().position(|n| n.port() == port);
            }
        }
        None
    }
}
