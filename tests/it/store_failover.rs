//! The Redis store on the topologies people run: the conformance suite on a
//! Sentinel set and on a Cluster, failover while logins are in flight, and a
//! frozen (SIGSTOPped) Redis, at the store and through a real hub process.
//!
//! Each topology test starts its own processes, so they run in parallel.

use crate::peers::redis::RedisServer;
use crate::peers::redis_topology::{Cluster, SentinelSet};
use crate::peers::samlhub::{Samlhub, BIN};
use crate::store_conformance::conformance_suite;
use samlhub::store::RedisSpec;
use samlhub::store::{RedisStore, Store, StoreError};
use std::sync::Arc;
use std::time::{Duration, Instant};

const LONG: Duration = Duration::from_secs(600);
/// Store timeout in these tests: short, so failover windows are quick.
const TIMEOUT: Duration = Duration::from_millis(500);

fn store(url: &str, wait_replicas: u32) -> Arc<RedisStore> {
    let mut spec = RedisSpec::parse(url).unwrap();
    spec.timeout = TIMEOUT;
    spec.wait_replicas = wait_replicas;
    Arc::new(RedisStore::from_spec(&spec).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sentinel_conformance() {
    let set = SentinelSet::start();
    let store = store(&set.url(), 1);
    conformance_suite!(store);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cluster_conformance() {
    let cluster = Cluster::start();
    let store = store(&cluster.url(), 1);
    conformance_suite!(store);
    // Listing walks every master: keys spread over all hash slots are found,
    // and nothing outside the prefix.
    let want: Vec<String> = (0..60).map(|i| format!("listme:{i:02}")).collect();
    for k in &want {
        store.put(k, b"v", LONG).await.unwrap();
    }
    store.put("listmenot", b"v", LONG).await.unwrap();
    assert_eq!(store.keys_with_prefix("listme:").await.unwrap(), want);
}

/// What one modelled login saw.
#[derive(Debug)]
enum Outcome {
    /// Replay key newly written (and, with `WAIT`, replicated), then the
    /// session written: the login is accepted.
    Accepted(String),
    /// The store could not answer: the login is refused (503).
    Unavailable,
}

/// One login as the ACS does it: the replay check (`put_if_absent` on the
/// assertion's replay key), then the session. Accepted only if both worked
/// and the replay key was new.
async fn login(store: &RedisStore, id: &str) -> Result<Outcome, String> {
    let replay = format!("replay:test:{id}");
    match store.put_if_absent(&replay, b"1", LONG).await {
        Ok(true) => {}
        Ok(false) => return Err(format!("fresh assertion {id} seen as a replay")),
        Err(StoreError::Unavailable(_)) => return Ok(Outcome::Unavailable),
        Err(e) => return Err(format!("replay check for {id}: {e:?}")),
    }
    match store.put(&format!("session:{id}"), b"s", LONG).await {
        Ok(()) => Ok(Outcome::Accepted(replay)),
        Err(StoreError::Unavailable(_)) => Ok(Outcome::Unavailable),
        Err(e) => Err(format!("session for {id}: {e:?}")),
    }
}

/// Runs logins from four tasks; after `failover` has run (once 40 logins
/// were accepted), keeps going until 40 more are accepted. Then checks:
/// every error was the unavailable error, logins resumed, and every
/// accepted login's replay key survived — replaying any of them is refused
/// (checked through `verify`, a store that does not wait for replicas).
async fn logins_through_failover(
    store: Arc<RedisStore>,
    verify: Arc<RedisStore>,
    failover: impl FnOnce(),
) {
    let accepted = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let unavailable = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut tasks = Vec::new();
    for t in 0..4 {
        let (store, accepted, unavailable, stop) = (
            Arc::clone(&store),
            Arc::clone(&accepted),
            Arc::clone(&unavailable),
            Arc::clone(&stop),
        );
        tasks.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                n += 1;
                match login(&store, &format!("{t}-{n}")).await? {
                    Outcome::Accepted(k) => accepted.lock().unwrap().push(k),
                    Outcome::Unavailable => {
                        unavailable.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
            Ok::<(), String>(())
        }));
    }
    let count = || accepted.lock().unwrap().len();
    let deadline = Instant::now() + Duration::from_secs(60);
    while count() < 40 {
        assert!(Instant::now() < deadline, "no logins before the failover");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let unavailable_before = unavailable.load(std::sync::atomic::Ordering::Relaxed);
    tokio::task::block_in_place(failover);
    let base = count();
    while count() < base + 40 {
        assert!(
            Instant::now() < deadline,
            "logins did not resume after the failover ({} accepted since)",
            count() - base
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert!(
        unavailable.load(std::sync::atomic::Ordering::Relaxed) > unavailable_before,
        "the failover window should have refused some logins (503)"
    );
    // WAIT made each accepted login's replay key reach a replica before the
    // login was accepted: none was lost with the old master.
    let keys = accepted.lock().unwrap().clone();
    for k in &keys {
        assert!(
            !verify.put_if_absent(k, b"1", LONG).await.unwrap(),
            "replay key {k} of an accepted login was lost in the failover"
        );
    }
}

/// Polls `ok` every 50 ms for up to 30 s.
fn wait_for(what: &str, ok: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ok() {
        assert!(Instant::now() < deadline, "{what}: not within 30 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The master is killed; once the sentinels have promoted the replica, the
/// old master comes back as its replica (with one replica per master and
/// `replay_wait_replicas = 1`, logins need it back: until then they fail
/// closed).
///
/// It comes back as a replica, and the failover step ends once it has
/// synced. A plain restart without persistence would bring back an empty
/// master, which Sentinel turns into a replica only seconds later: if, on a
/// loaded machine, the sentinels took the new master for dead in that window
/// they would promote the empty node, the new master would copy its empty
/// dataset, and every replay key would be gone. That is a Redis hazard no
/// client can undo (docs/security.md, "What a failover can lose"). Once the
/// old master has synced, a second failover loses nothing, so the final
/// master is not checked; the promotion is asserted in `wait_for`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sentinel_failover_keeps_replay_keys_and_resumes() {
    let mut set = SentinelSet::start();
    let store = store(&set.url(), 1);
    let new = set.replica.port();
    let set_ref = &mut set;
    logins_through_failover(Arc::clone(&store), self::store(&set_ref.url(), 0), || {
        set_ref.master.stop();
        wait_for("promotion", || set_ref.master_port() == Some(new));
        set_ref.master.restart_as_replica_of(new);
        wait_for("old master in sync as a replica", || {
            set_ref.master.in_sync()
        });
    })
    .await;
}

/// The master of slot 0 is killed; once its replica has taken the slot
/// over, the old master comes back as the new master's replica.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cluster_failover_keeps_replay_keys_and_resumes() {
    let mut cluster = Cluster::start();
    let store = store(&cluster.url(), 1);
    let victim = cluster.master_of_slot(0, 0).expect("master of slot 0");
    let witness = (victim + 1) % cluster.nodes.len();
    let verify = self::store(&cluster.url(), 0);
    let cluster_ref = &mut cluster;
    logins_through_failover(Arc::clone(&store), verify, || {
        cluster_ref.nodes[victim].stop();
        wait_for("replica takes slot 0", || {
            cluster_ref
                .master_of_slot(witness, 0)
                .is_some_and(|m| m != victim)
        });
        cluster_ref.nodes[victim].restart();
    })
    .await;
    let now = cluster.master_of_slot(witness, 0).expect("slot 0 served");
    assert_ne!(now, victim, "slot 0 moved to the replica");
}

/// A frozen Redis (SIGSTOP): every operation fails with the unavailable
/// error instead of hanging, and all work again after SIGCONT on the same
/// store, with no restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frozen_redis_fails_closed_and_recovers() {
    let server = RedisServer::start();
    let store = store(&server.url(), 0);
    assert!(store.put_if_absent("before", b"v", LONG).await.unwrap());
    server.pause();
    let results = [
        store.put_if_absent("k", b"v", LONG).await.map(drop),
        store.put("k", b"v", LONG).await,
        store.get("k").await.map(drop),
        store.take("k").await.map(drop),
        store.delete("k").await,
        store
            .put_many(&[("a", b"1", LONG), ("b", b"2", LONG)])
            .await,
    ];
    for r in results {
        assert!(matches!(r, Err(StoreError::Unavailable(_))), "{r:?}");
    }
    server.resume();
    assert!(!store.put_if_absent("before", b"v", LONG).await.unwrap());
    assert!(store.put_if_absent("after", b"v", LONG).await.unwrap());
}

/// `replay_wait_replicas` with no replica to wait for: the one-time writes
/// fail closed instead of being accepted unreplicated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_replica_fails_one_time_writes_closed() {
    let server = RedisServer::start();
    let waiting = store(&server.url(), 1);
    let r = waiting.put_if_absent("once", b"v", LONG).await;
    assert!(
        matches!(&r, Err(StoreError::Unavailable(m)) if m.contains("replica")),
        "{r:?}"
    );
    let r = waiting.take("once").await;
    assert!(matches!(r, Err(StoreError::Unavailable(_))), "{r:?}");
    // Plain writes don't wait; without the setting nothing waits.
    waiting.put("plain", b"v", LONG).await.unwrap();
    assert!(store(&server.url(), 0)
        .put_if_absent("free", b"v", LONG)
        .await
        .unwrap());
}

/// Through a real hub: a frozen Redis turns a login start into 503
/// `store_unavailable` (the request does not hang), and the same process
/// serves it again after SIGCONT.
#[test]
fn hub_answers_503_while_redis_is_frozen_and_recovers() {
    let server = RedisServer::start();
    let idp = samlhub::testing::idp::TestIdp::new("frozen");
    let mut hub = Samlhub::prepare(BIN);
    let md = hub.dir().join("idp.xml");
    std::fs::write(&md, idp.metadata_xml()).unwrap();
    hub.write_config(&format!(
        "store = \"{}\"\nstore_timeout = \"500ms\"\n\n[[idp]]\nid = \"t\"\nmetadata_file = \"{}\"\n",
        server.url(),
        md.display()
    ));
    hub.start();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .max_redirects(0)
        .http_status_as_error(false)
        // A bound, not a speed check: a hanging request fails the test.
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    let start = || {
        let r = agent
            .get(&format!("{}/saml/login?idp=t", hub.base_url()))
            .call()
            .unwrap_or_else(|e| panic!("login start: {e}\nhub log:\n{}", hub.log()));
        (
            r.status().as_u16(),
            r.headers()
                .get("x-samlhub-error")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        )
    };
    assert_eq!(start().0, 302, "{}", hub.log());
    server.pause();
    assert_eq!(
        start(),
        (503, Some("store_unavailable".into())),
        "{}",
        hub.log()
    );
    server.resume();
    assert_eq!(start().0, 302, "{}", hub.log());
}
