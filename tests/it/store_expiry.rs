//! Expiry in the embedded store (issue 11, "Expiry"): after a burst of
//! logins whose records then expire, a sweep brings the entry count back to
//! its baseline, and the next bursts reuse the freed space, so the file
//! stays within the size the first burst reached.
//!
//! The logins are `samlhub::testing::login_load::login`: the records of a
//! real SAML login (pending taken at the ACS, answered, replay, session, SLO
//! index) written through the typed record API. The clock is pinned and
//! stepped past the TTLs. The file lives on /dev/shm when there is one: the
//! checks are about space, not about syncing to disk, and it keeps the test
//! short.

use samlhub::clock::{Clock, FixedClock};
use samlhub::store::records::{self, HaOwner, Key};
use samlhub::store::{EmbeddedStore, Store as _};
use samlhub::testing::login_load;
use std::sync::Arc;
use std::time::Duration;

const LIFETIME: Duration = Duration::from_secs(3600);
/// Logins per burst.
const BURST: u64 = 40;
/// Records a login leaves: answered, replay, session, SLO index.
const PER_LOGIN: u64 = 4;
/// What the file may exceed the first burst's size by: redb grows it in
/// steps, and the freed pages of the last commits wait for the next one.
const SLACK: u64 = 256 * 1024;

fn scratch_dir() -> tempfile::TempDir {
    match std::fs::metadata("/dev/shm") {
        Ok(m) if m.is_dir() => tempfile::tempdir_in("/dev/shm").unwrap(),
        _ => tempfile::tempdir().unwrap(),
    }
}

async fn burst(store: &EmbeddedStore, now: i64, first: u64) {
    for n in first..first + BURST {
        login_load::login(store, n, LIFETIME, now).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_logins_are_swept_and_their_space_reused() {
    let dir = scratch_dir();
    let clock = FixedClock::new(time::OffsetDateTime::from_unix_timestamp(1_893_456_000).unwrap());
    let store =
        EmbeddedStore::open(&dir.path().join("state.redb"), Arc::new(clock.clone())).unwrap();

    // Long-lived state that must outlive every sweep.
    let owner = Key::<HaOwner>::of(&["home", "alice"]);
    let years = Duration::from_secs(100 * 365 * 86_400);
    records::put(&store, &owner, &HaOwner("ssp|alice".into()), years)
        .await
        .unwrap();
    let baseline = store.entry_count().unwrap();
    assert_eq!(baseline, 1);

    let step = time::Duration::try_from(login_load::longest_ttl(LIFETIME)).unwrap()
        + time::Duration::seconds(1);
    let mut first_burst_len = None;
    for round in 0..3 {
        let now = clock.now().unix_timestamp();
        burst(&store, now, round * BURST).await;
        assert_eq!(
            store.entry_count().unwrap(),
            baseline + BURST * PER_LOGIN,
            "round {round}: the burst's records are there"
        );
        let after_burst = store.file_len().unwrap();
        let bound = *first_burst_len.get_or_insert(after_burst) + SLACK;
        assert!(
            after_burst <= bound,
            "round {round}: file {after_burst} bytes after the burst, first burst {bound} with slack"
        );

        // Nothing has expired yet: the sweep keeps everything.
        assert_eq!(store.sweep_expired().unwrap(), 0);
        clock.advance(step);
        assert_eq!(
            store.sweep_expired().unwrap() as u64,
            BURST * PER_LOGIN,
            "round {round}: every expired record swept"
        );
        assert_eq!(store.entry_count().unwrap(), baseline, "round {round}");
        let after_sweep = store.file_len().unwrap();
        assert!(
            after_sweep <= bound,
            "round {round}: file {after_sweep} bytes after the sweep, first burst {bound} with slack"
        );
        assert_eq!(
            records::get(&store, &owner).await.unwrap(),
            Some(HaOwner("ssp|alice".into())),
            "round {round}: live state survives the sweep"
        );
    }
}

/// The store file the writer process appends logins to.
const WRITER_ENV: &str = "SAMLHUB_TEST_WRITER_STORE";

/// Login streams the writer process runs at once, so that most of its
/// writes share their sync with another (group commit).
const WRITER_STREAMS: u64 = 4;

/// The writer process of [`kill_9_mid_stream_leaves_whole_records`]: logs
/// in without end on [`WRITER_STREAMS`] streams at once, printing each
/// session key once its login's commit has returned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the writer process of kill_9_mid_stream_leaves_whole_records"]
async fn writer_child() {
    use std::io::Write;
    let path = std::env::var_os(WRITER_ENV).expect("run by kill_9_mid_stream_leaves_whole_records");
    let store = EmbeddedStore::open(path.as_ref(), Arc::new(samlhub::clock::SystemClock)).unwrap();
    let streams: Vec<_> = (0..WRITER_STREAMS)
        .map(|stream| {
            let store = store.clone();
            tokio::spawn(async move {
                for i in 0.. {
                    let n = i * WRITER_STREAMS + stream;
                    let now = samlhub::clock::SystemClock.now().unix_timestamp();
                    let key = login_load::login(&store, n, LIFETIME, now).await.unwrap();
                    let mut out = std::io::stdout().lock();
                    writeln!(out, "committed {}", key.as_str()).unwrap();
                    out.flush().unwrap();
                }
            })
        })
        .collect();
    for s in streams {
        s.await.unwrap();
    }
}

/// Issue 11, "Faults": a process writing streams of logins is killed with
/// SIGKILL at a different point each round; the file then opens cleanly,
/// every entry decodes as the record its key names, and every login the
/// writer reported committed is there, including those whose commit shared
/// another's sync.
#[test]
fn kill_9_mid_stream_leaves_whole_records() {
    use samlhub::saml::slo::SloIndex;
    use samlhub::saml::sp::Pending;
    use samlhub::session::Session;
    use samlhub::store::records::Record;
    use std::io::BufRead;

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.redb");
    let mut committed: Vec<String> = Vec::new();
    for round in 0..3usize {
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "store_expiry::writer_child",
                "--ignored",
                "--nocapture",
            ])
            .args(["--test-threads=1"])
            .env(WRITER_ENV, &path)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let wanted = 3 + round * 4;
        let mut seen = 0;
        for line in std::io::BufReader::new(stdout).lines() {
            let line = line.unwrap();
            if let Some(key) = line.strip_prefix("committed ") {
                committed.push(key.to_owned());
                seen += 1;
                if seen == wanted {
                    break;
                }
            }
        }
        child.kill().unwrap(); // SIGKILL, mid-way through the next login
        child.wait().unwrap();
        assert_eq!(seen, wanted, "round {round}: the writer stopped early");

        let clock = FixedClock::new(time::OffsetDateTime::from_unix_timestamp(0).unwrap());
        let store = EmbeddedStore::open(&path, Arc::new(clock)).unwrap();
        let entries = store.raw_entries().unwrap();
        for (key, _expiry, payload) in &entries {
            let (kind, _) = key.split_once(':').unwrap();
            let whole = match kind {
                "pending" => Pending::decode(payload).is_ok(),
                "session" => Session::decode(payload).is_ok(),
                "slo_index" => SloIndex::decode(payload).is_ok(),
                "answered" | "replay" => payload.as_slice() == b"1",
                _ => false,
            };
            assert!(whole, "round {round}: entry {key} is not a whole record");
        }
        let keys: std::collections::HashSet<&str> =
            entries.iter().map(|(k, _, _)| k.as_str()).collect();
        for key in &committed {
            assert!(
                keys.contains(key.as_str()),
                "round {round}: committed {key} lost"
            );
        }
        // The writer may have committed a few more before the kill landed.
        let sessions = keys.iter().filter(|k| k.starts_with("session:")).count();
        assert!(
            sessions >= committed.len(),
            "round {round}: {sessions} sessions"
        );
    }
}

/// The store file the transient writer process writes to, and whether it
/// syncs before it says so.
const TRANSIENT_ENV: &str = "SAMLHUB_TEST_TRANSIENT_STORE";
const TRANSIENT_SYNC_ENV: &str = "SAMLHUB_TEST_TRANSIENT_SYNC";
/// Transient entries the writer process puts.
const TRANSIENT_ENTRIES: usize = 20;

/// The writer process of [`a_sync_makes_transient_writes_survive_a_kill`]:
/// puts [`TRANSIENT_ENTRIES`] transient entries, syncs if asked, says
/// "written" and waits to be killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the writer process of a_sync_makes_transient_writes_survive_a_kill"]
async fn transient_writer_child() {
    use std::io::Write;
    let path = std::env::var_os(TRANSIENT_ENV)
        .expect("run by a_sync_makes_transient_writes_survive_a_kill");
    let store = EmbeddedStore::open(path.as_ref(), Arc::new(samlhub::clock::SystemClock)).unwrap();
    for i in 0..TRANSIENT_ENTRIES {
        store
            .put_transient(&format!("pending:{i:02}"), b"1", LIFETIME)
            .await
            .unwrap();
    }
    if std::env::var_os(TRANSIENT_SYNC_ENV).is_some() {
        store.sync().await.unwrap();
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "written").unwrap();
    out.flush().unwrap();
    drop(out);
    tokio::time::sleep(Duration::from_secs(120)).await;
}

/// How many entries a killed transient writer left, with and without its
/// sync.
fn transient_entries_after_kill(sync: bool) -> usize {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.redb");
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        "store_expiry::transient_writer_child",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(TRANSIENT_ENV, &path)
    .env_remove(TRANSIENT_SYNC_ENV)
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::null());
    if sync {
        cmd.env(TRANSIENT_SYNC_ENV, "1");
    }
    let mut child = cmd.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    // The harness prints "test … ... " before the child's own output.
    let written = std::io::BufReader::new(stdout)
        .lines()
        .any(|l| l.is_ok_and(|l| l.ends_with("written")));
    child.kill().unwrap(); // SIGKILL: the store is never closed
    child.wait().unwrap();
    assert!(written, "the writer stopped early (sync {sync})");
    let store = EmbeddedStore::open(&path, Arc::new(samlhub::clock::SystemClock)).unwrap();
    store.entry_count().unwrap() as usize
}

/// The hub's last act on SIGTERM is `EmbeddedStore::sync`, because redb
/// persists a commit made without durability only at the next durable one
/// or when the store closes, and a process may exit before the thread that
/// holds the last handle closes it. A writer killed after its sync keeps
/// every transient entry; one killed before loses them (checked too, so that
/// this test fails if `sync` stops persisting anything).
#[test]
fn a_sync_makes_transient_writes_survive_a_kill() {
    assert_eq!(
        transient_entries_after_kill(true),
        TRANSIENT_ENTRIES,
        "every transient entry survives once synced"
    );
    assert_eq!(
        transient_entries_after_kill(false),
        0,
        "without the sync, a kill loses transient entries (redb keeps them in memory)"
    );
}
