//! Unit tests of the embedded store (`store::embedded`): prefixes, transient
//! writes and group commit.

use super::*;
use crate::clock::FixedClock;

#[tokio::test]
async fn keys_with_prefix_lists_live_keys_of_that_prefix_only() {
    let dir = tempfile::tempdir().unwrap();
    let clock = FixedClock::new(time::OffsetDateTime::from_unix_timestamp(1_000_000).unwrap());
    let s = EmbeddedStore::open(&dir.path().join("s.redb"), Arc::new(clock.clone())).unwrap();
    let long = Duration::from_secs(3600);
    s.put("session:aa", b"1", long).await.unwrap();
    s.put("session:bb", b"1", Duration::from_secs(10))
        .await
        .unwrap();
    s.put("sessions:cc", b"1", long).await.unwrap();
    s.put("setup:dd", b"1", long).await.unwrap();
    s.put("a:ee", b"1", long).await.unwrap();
    assert_eq!(
        s.keys_with_prefix("session:").await.unwrap(),
        vec!["session:aa".to_owned(), "session:bb".to_owned()]
    );
    clock.advance(time::Duration::seconds(11));
    assert_eq!(
        s.keys_with_prefix("session:").await.unwrap(),
        vec!["session:aa".to_owned()],
        "an expired entry is not listed"
    );
    assert!(s.keys_with_prefix("none:").await.unwrap().is_empty());
}

#[tokio::test]
async fn a_transient_put_costs_no_durable_commit_and_survives_a_clean_close() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.redb");
    let clock = Arc::new(crate::clock::SystemClock);
    let s = EmbeddedStore::open(&path, clock.clone()).unwrap();
    let ttl = Duration::from_secs(3600);
    s.put_transient("pending:aa", b"1", ttl).await.unwrap();
    assert_eq!(s.commits(), 0, "no durable commit of its own");
    assert_eq!(
        s.get("pending:aa").await.unwrap().as_deref(),
        Some(&b"1"[..])
    );
    s.put("session:bb", b"2", ttl).await.unwrap();
    assert_eq!(s.commits(), 1);
    s.put_transient("pending:cc", b"3", ttl).await.unwrap();
    drop(s);
    let s = EmbeddedStore::open(&path, clock).unwrap();
    for (k, v) in [
        ("pending:aa", b"1"),
        ("session:bb", b"2"),
        ("pending:cc", b"3"),
    ] {
        assert_eq!(s.get(k).await.unwrap().as_deref(), Some(&v[..]), "{k}");
    }
}

/// Group commit: writes that arrive while another write syncs commit
/// without a sync of their own, are answered only once one sync has
/// made them all durable, and share that one sync.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
// The lock held across the waits stands for a sync in progress; the
// writers wait for it on blocking threads, not on this task.
#[allow(clippy::await_holding_lock)]
async fn writes_during_a_sync_share_the_next_one_and_wait_for_it() {
    let dir = tempfile::tempdir().unwrap();
    let s = EmbeddedStore::open(
        &dir.path().join("s.redb"),
        Arc::new(crate::clock::SystemClock),
    )
    .unwrap();
    let ttl = Duration::from_secs(3600);
    // As if a write were syncing now.
    let syncing = s.inner.synced.lock().unwrap();
    let writers: Vec<_> = (0..4)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move { s.put(&format!("session:{i}"), b"1", ttl).await })
        })
        .collect();
    let waited = std::time::Instant::now();
    while s.inner.unsynced.load(Ordering::SeqCst) < 4 {
        assert!(waited.elapsed() < Duration::from_secs(30), "writers stuck");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert!(s.get("session:3").await.unwrap().is_some(), "committed");
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        writers.iter().all(|w| !w.is_finished()),
        "a write was answered before it was durable"
    );
    assert_eq!(s.commits(), 0);
    drop(syncing);
    for w in writers {
        w.await.unwrap().unwrap();
    }
    assert_eq!(s.commits(), 1, "one sync for the four writes");
    s.put("session:4", b"1", ttl).await.unwrap();
    assert_eq!(s.commits(), 2, "a write alone syncs itself");
    // Writes that end without a commit are no longer counted either.
    assert!(!s.put_if_absent("session:4", b"2", ttl).await.unwrap());
    assert!(s.take("session:none").await.unwrap().is_none());
    s.delete("session:none").await.unwrap();
    assert_eq!(s.inner.writers.load(Ordering::SeqCst), 0);
    s.put("session:5", b"1", ttl).await.unwrap();
    assert_eq!(s.commits(), 3, "still alone");
}
