//! The one-minute soak: mixed load (SAML logins with a few Responses posted
//! twice, OIDC code exchanges and refreshes, HA redeems) from four workers
//! against the hub on a test-started Redis, through the same harness as
//! `benches/login_load.rs` (`samlhub::testing::load`). Zero unexpected
//! answers, every kind of step done, every replay refused, and the hub's
//! RSS after warm-up flat within 10%. `SOAK_SECONDS` changes the length
//! (default 60). No speed is asserted.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use crate::peers::samlhub::BIN;
use samlhub::testing::load::tally::Op;
use samlhub::testing::load::{self, flows, Budget, Mix, Options, Rig, StoreKind};
use samlhub::testing::peers::browser::Browser;

#[allow(clippy::disallowed_methods)]
fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

#[test]
fn mixed_load_on_redis_for_a_minute() {
    let secs: f64 = std::env::var("SOAK_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60.0);
    let rig = Rig::start(BIN, StoreKind::Redis);
    let t = rig.target();

    // The harness tells a refusal from an acceptance both ways: a used
    // Response fails the login step, and an unused one fails the replay step.
    let mut b = Browser::new();
    let used = flows::prepare(&mut b, &t, "probe", now()).unwrap();
    flows::login(&mut b, &t, &used).unwrap();
    assert!(
        flows::login(&mut b, &t, &used).is_err(),
        "a replay passed as a login"
    );
    flows::replay(&mut b, &t, &used).unwrap();
    let fresh = flows::prepare(&mut b, &t, "probe", now()).unwrap();
    assert!(
        flows::replay(&mut b, &t, &fresh).is_err(),
        "an accepted Response passed as refused"
    );

    let opts = Options {
        concurrency: 4,
        budget: Budget::Seconds(secs),
        mix: Mix::Mixed,
        replay_every: 10,
    };
    let r = load::run(&t, &rig.processes(), &opts);
    println!("{}", r.tally.table());
    assert_eq!(
        r.tally.unexpected(),
        0,
        "unexpected answers: {:#?}",
        r.tally.reasons()
    );
    for op in [
        Op::LoginRequest,
        Op::Login,
        Op::Replay,
        Op::Authorize,
        Op::Token,
        Op::Refresh,
        Op::HaCode,
        Op::HaRedeem,
    ] {
        assert!(r.tally.expected(op) > 0, "no {} in {secs} s", op.name());
    }

    // After warm-up (the second quarter of the run) against the last quarter.
    let span = r.rss.span();
    let q = span / 4.0;
    let (Some(warm), Some(last)) = (r.rss.avg(0, q, 2.0 * q), r.rss.avg(0, span - q, span + 1.0))
    else {
        panic!(
            "too few RSS samples in {span:.0} s to compare quarters (SOAK_SECONDS of 8 or more)"
        );
    };
    println!(
        "hub rss: {:.1} MiB after warm-up, {:.1} MiB at the end, max {:.1} MiB",
        warm / 1024.0,
        last / 1024.0,
        r.rss.max(0) as f64 / 1024.0
    );
    assert!(
        last <= warm * 1.10,
        "hub RSS grew from {warm:.0} KiB to {last:.0} KiB (over 10%)"
    );
}
