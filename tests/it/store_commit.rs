//! The [`Store::commit`] checks of the store conformance suite
//! (`store_conformance.rs` runs them on every backend): claims that are all
//! free write everything, one live claim writes nothing and is named by its
//! index, so does one unmet condition, a condition and a put on one key
//! make a compare-and-set, TTLs apply, and of concurrent commits on one
//! claim exactly one writes.

// Test code: failing loudly is the point.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use crate::store_conformance::{race, Backend, LONG, PAST_SHORT, SHORT};
use samlhub::store::{Committed, Expect, Store};

/// All claims free: the claims and puts are written (a put replacing an
/// old value), the deletes removed.
pub(crate) async fn commit_writes_every_entry_when_claims_are_free<S: Store>(b: &Backend<S>) {
    let store = &b.store;
    store.put("conf:cm:put2", b"old", LONG).await.unwrap();
    store.put("conf:cm:gone", b"x", LONG).await.unwrap();
    let done = store
        .commit(
            &[("conf:cm:c1", b"C1", LONG), ("conf:cm:c2", b"", LONG)],
            &[("conf:cm:put2", Expect::Live)],
            &[("conf:cm:put1", b"P1", LONG), ("conf:cm:put2", b"P2", LONG)],
            &["conf:cm:gone", "conf:cm:never-there"],
        )
        .await
        .unwrap();
    assert_eq!(done, Committed::Written);
    for (k, v) in [
        ("conf:cm:c1", &b"C1"[..]),
        ("conf:cm:c2", b""),
        ("conf:cm:put1", b"P1"),
        ("conf:cm:put2", b"P2"),
    ] {
        assert_eq!(store.get(k).await.unwrap().as_deref(), Some(v), "{k}");
    }
    assert_eq!(store.get("conf:cm:gone").await.unwrap(), None);
    // A claim is a claim: the same key again is taken.
    assert!(!store.put_if_absent("conf:cm:c1", b"y", LONG).await.unwrap());
    assert_eq!(
        store.commit(&[], &[], &[], &[]).await.unwrap(),
        Committed::Written
    );
}

/// One claim live: nothing is written or removed, and its index is named.
pub(crate) async fn commit_writes_nothing_when_a_claim_is_taken<S: Store>(b: &Backend<S>) {
    let store = &b.store;
    store.put("conf:cmt:second", b"first", LONG).await.unwrap();
    store.put("conf:cmt:keep", b"k", LONG).await.unwrap();
    let done = store
        .commit(
            &[
                ("conf:cmt:first", b"a", LONG),
                ("conf:cmt:second", b"b", LONG),
            ],
            &[],
            &[("conf:cmt:put", b"p", LONG)],
            &["conf:cmt:keep"],
        )
        .await
        .unwrap();
    assert_eq!(done, Committed::Taken(1));
    assert_eq!(
        store.get("conf:cmt:second").await.unwrap().as_deref(),
        Some(&b"first"[..]),
        "the live claim keeps its value"
    );
    assert_eq!(store.get("conf:cmt:put").await.unwrap(), None, "no put");
    assert_eq!(
        store.get("conf:cmt:keep").await.unwrap().as_deref(),
        Some(&b"k"[..]),
        "no delete"
    );
    // The first claim is taken too now: it is named, being first.
    store.put("conf:cmt:first", b"z", LONG).await.unwrap();
    let done = store
        .commit(
            &[
                ("conf:cmt:first", b"a", LONG),
                ("conf:cmt:second", b"b", LONG),
            ],
            &[],
            &[],
            &[],
        )
        .await
        .unwrap();
    assert_eq!(done, Committed::Taken(0));
}

/// The conditions of one commit in a check.
type Conditions = &'static [(&'static str, Expect<'static>)];

/// A condition unmet (a required key never written, or expired): nothing is
/// put or removed, and its index is named; with every condition met, the
/// commit goes through. Each attempt claims a key of its own, so that this
/// holds whether the claims are made before the conditions are checked or
/// after.
pub(crate) async fn commit_writes_nothing_when_a_condition_is_unmet<S: Store>(b: &Backend<S>) {
    let store = &b.store;
    store.put("conf:cmr:there", b"t", LONG).await.unwrap();
    store.put("conf:cmr:short", b"s", SHORT).await.unwrap();
    store.put("conf:cmr:keep", b"k", LONG).await.unwrap();
    let attempt = |claim: &'static str, requires: Conditions| async move {
        store
            .commit(
                &[(claim, b"c", LONG)],
                requires,
                &[("conf:cmr:put", b"p", LONG)],
                &["conf:cmr:keep"],
            )
            .await
            .unwrap()
    };
    let state = || async {
        (
            store.get("conf:cmr:put").await.unwrap().is_some(),
            store.get("conf:cmr:keep").await.unwrap().is_some(),
        )
    };
    b.time.pass(PAST_SHORT).await;
    let unmet: [(&str, Conditions, usize); 2] = [
        (
            "conf:cmr:c1",
            &[
                ("conf:cmr:there", Expect::Live),
                ("conf:cmr:never-there", Expect::Live),
            ],
            1,
        ),
        // An expired entry is missing.
        (
            "conf:cmr:c2",
            &[
                ("conf:cmr:short", Expect::Live),
                ("conf:cmr:there", Expect::Live),
            ],
            0,
        ),
    ];
    for (claim, requires, index) in unmet {
        assert_eq!(
            attempt(claim, requires).await,
            Committed::Unmet(index),
            "{claim}"
        );
        assert_eq!(
            state().await,
            (false, true),
            "{claim}: nothing put or removed"
        );
    }
    assert_eq!(
        attempt(
            "conf:cmr:c3",
            &[
                ("conf:cmr:there", Expect::Holds(b"t")),
                ("conf:cmr:short", Expect::Absent)
            ]
        )
        .await,
        Committed::Written
    );
    assert_eq!(state().await, (true, false), "put and removed");
    assert!(store.get("conf:cmr:c3").await.unwrap().is_some());
}

/// A condition and a put on one key make a compare-and-set: it writes
/// while the key holds what was read, and not once another writer changed
/// it; `Absent` holds only while nothing live is there.
pub(crate) async fn commit_compares_and_sets<S: Store>(b: &Backend<S>) {
    let store = &b.store;
    let cas = |seen: Expect<'static>, new: &'static [u8]| async move {
        store
            .commit(
                &[],
                &[("conf:cas:ix", seen)],
                &[("conf:cas:ix", new, LONG)],
                &[],
            )
            .await
            .unwrap()
    };
    assert_eq!(cas(Expect::Absent, b"v1").await, Committed::Written);
    assert_eq!(
        cas(Expect::Absent, b"v2").await,
        Committed::Unmet(0),
        "present now"
    );
    assert_eq!(cas(Expect::Holds(b"v0"), b"v2").await, Committed::Unmet(0));
    assert_eq!(
        cas(Expect::Holds(b"v"), b"v2").await,
        Committed::Unmet(0),
        "a prefix is not equal"
    );
    assert_eq!(
        store.get("conf:cas:ix").await.unwrap().as_deref(),
        Some(&b"v1"[..])
    );
    assert_eq!(cas(Expect::Holds(b"v1"), b"v2").await, Committed::Written);
    assert_eq!(
        store.get("conf:cas:ix").await.unwrap().as_deref(),
        Some(&b"v2"[..])
    );
    store.put("conf:cas:empty", b"", LONG).await.unwrap();
    let empty = store
        .commit(&[], &[("conf:cas:empty", Expect::Absent)], &[], &[])
        .await
        .unwrap();
    assert_eq!(
        empty,
        Committed::Unmet(0),
        "an empty value is still an entry"
    );
}

/// Each entry gets its own TTL, and an expired claim counts as free.
pub(crate) async fn commit_applies_ttls<S: Store>(b: &Backend<S>) {
    let store = &b.store;
    let done = store
        .commit(
            &[
                ("conf:cmx:claim-short", b"s", SHORT),
                ("conf:cmx:claim-long", b"l", LONG),
            ],
            &[],
            &[
                ("conf:cmx:put-short", b"s", SHORT),
                ("conf:cmx:put-long", b"l", LONG),
            ],
            &[],
        )
        .await
        .unwrap();
    assert_eq!(done, Committed::Written);
    b.time.pass(PAST_SHORT).await;
    assert_eq!(store.get("conf:cmx:claim-short").await.unwrap(), None);
    assert_eq!(store.get("conf:cmx:put-short").await.unwrap(), None);
    assert!(store.get("conf:cmx:claim-long").await.unwrap().is_some());
    assert!(store.get("conf:cmx:put-long").await.unwrap().is_some());
    let again = store
        .commit(&[("conf:cmx:claim-short", b"t", LONG)], &[], &[], &[])
        .await
        .unwrap();
    assert_eq!(again, Committed::Written, "an expired claim is free");
}

/// Concurrent commits on one claim, each with a put of its own: exactly one
/// writes, and only its put exists.
pub(crate) async fn commit_is_atomic<S: Store>(b: &Backend<S>) {
    let results = race(&b.store, |s, i| async move {
        let put = format!("conf:cma:put{i}");
        s.commit(
            &[("conf:cma:claim", format!("v{i}").as_bytes(), LONG)],
            &[],
            &[(put.as_str(), b"p", LONG)],
            &[],
        )
        .await
        .unwrap()
    })
    .await;
    let winners: Vec<usize> = (0..results.len())
        .filter(|i| results[*i] == Committed::Written)
        .collect();
    assert_eq!(winners.len(), 1, "commit results: {results:?}");
    assert!(results
        .iter()
        .all(|r| matches!(r, Committed::Written | Committed::Taken(0))));
    for i in 0..results.len() {
        let put = b
            .store
            .get(&format!("conf:cma:put{i}"))
            .await
            .unwrap()
            .is_some();
        assert_eq!(put, winners.contains(&i), "put of racer {i}");
    }
    assert_eq!(
        b.store.get("conf:cma:claim").await.unwrap(),
        Some(format!("v{}", winners[0]).into_bytes())
    );
}
