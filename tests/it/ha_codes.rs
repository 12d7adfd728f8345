//! HA codes against people who know a username, through the running hub:
//! wrong codes never void or hide the real one, a right code racing wrong
//! ones always wins (embedded store and Redis), and once someone has been
//! backing the username off, `/ha` says so and its new code works at once.
//! The death of a code after all its tries takes nine minutes of real time;
//! `src/ha/login.rs` shows it with a fixed clock.

use crate::ha_rig::{ha_page, login, rig_on, Rig, PPT, SECRET};
use crate::peers::redis::RedisServer;
use samlhub::ha::attempts;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

/// `/ha/redeem` as the hook calls it: (status, body).
fn redeem(base: &str, code: &str) -> (u16, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(std::time::Duration::from_secs(10)))
        .build()
        .into();
    let r = agent
        .post(&format!("{base}/ha/redeem"))
        .header("Authorization", &format!("Bearer {SECRET}"))
        .header("Content-Type", "application/json")
        .send(
            serde_json::json!({"instance": "home", "username": "alice", "code": code}).to_string(),
        )
        .unwrap();
    let status = r.status().as_u16();
    (status, r.into_body().read_to_string().unwrap_or_default())
}

/// A well-formed code that is not `right`.
fn wrong(right: &str, i: usize) -> String {
    let alt = if right.starts_with('0') { '1' } else { '0' };
    format!("{alt}{:04}-{:05}", i % 10_000, i % 100_000)
}

fn fresh_code(rig: &Rig, b: &mut crate::peers::browser::Browser) -> (String, String) {
    let (status, _, code, body) = ha_page(b, rig, "home");
    assert_eq!(status, 200, "{body}");
    (code.unwrap(), body)
}

#[test]
fn ha_wrong_codes_leave_the_right_one_working_and_the_page_says_so() {
    let rig = rig_on(None);
    let base = rig.hub.base_url();
    let mut alice = login(&rig, "alice-subject", "alice", &["users"], PPT);

    // Five wrong tries from someone else: the real code still works.
    let (code, _) = fresh_code(&rig, &mut alice);
    for i in 0..5 {
        assert_eq!(redeem(&base, &wrong(&code, i)).0, 403);
    }
    let (status, body) = redeem(&base, &code);
    assert_eq!(status, 200, "{body}\n{}", rig.hub.log());
    assert!(body.contains("\"token\""));
    assert_eq!(redeem(&base, &code).0, 403, "single use");

    // More wrong tries back the username off: the right code is refused
    // without being checked, and `/ha` offers a new code that works at once.
    let (code, page) = fresh_code(&rig, &mut alice);
    assert!(!page.contains("without success"), "no notice yet");
    let mut sent = Vec::new();
    for i in 0..7 {
        sent.push(Instant::now());
        assert_eq!(redeem(&base, &wrong(&code, i)).0, 403);
    }
    let right = redeem(&base, &code).0;
    let answered = Instant::now();
    let log = rig.hub.log();
    assert!(log.contains("failed try 6 of 20"), "{log}");
    assert!(!log.contains(&code), "codes are never logged");
    // Six tries are free; a seventh is checked only when a second has
    // passed since the sixth (a slow machine), so count what the hub did.
    let tried = (6..=7)
        .filter(|n| log.contains(&format!("failed try {n} of 20")))
        .max()
        .unwrap();
    if right == 200 {
        // The right code was checked: that is allowed only once the wait
        // after the last claimed try was over. That try was claimed after
        // it was sent, and the right code checked before it was answered.
        let wait = Duration::from_secs(attempts::wait_before(tried + 1) as u64);
        let since = answered.duration_since(sent[tried as usize - 1]);
        assert!(
            since >= wait,
            "the right code was checked {since:?} after try {tried}, inside the {wait:?} wait"
        );
        eprintln!(
            "ha_codes: this machine took {since:?} over the tries, longer than the {wait:?} \
             wait; the backoff notice is not checked on this run"
        );
        return;
    }
    assert_eq!(right, 403);
    assert!(log.contains("is backing off after failed tries"), "{log}");
    let (fresh, page) = fresh_code(&rig, &mut alice);
    assert!(
        page.contains(&format!(
            "Your previous code was tried {tried} time(s) without success"
        )),
        "{page}"
    );
    assert_eq!(redeem(&base, &fresh).0, 200, "{}", rig.hub.log());
    let (_, page) = fresh_code(&rig, &mut alice);
    assert!(
        !page.contains("without success"),
        "the notice is shown once"
    );
}

/// Rounds of five wrong redeems and one right one fired at once: the right
/// one gets its token every time. 25 rounds per store through the hub; the
/// domain test in src/ha/login.rs runs 50 more, and 15 bursts of 20.
fn right_code_wins_every_race(store: Option<&str>) {
    let rig = rig_on(store);
    let base = rig.hub.base_url();
    let mut alice = login(&rig, "alice-subject", "alice", &["users"], PPT);
    for round in 0..25 {
        let (code, _) = fresh_code(&rig, &mut alice);
        let start = Arc::new(Barrier::new(6));
        let threads: Vec<_> = (0..6)
            .map(|i| {
                let (base, start) = (base.clone(), Arc::clone(&start));
                let typed = if i == 5 {
                    code.clone()
                } else {
                    wrong(&code, i)
                };
                std::thread::spawn(move || {
                    start.wait();
                    redeem(&base, &typed)
                })
            })
            .collect();
        for (i, t) in threads.into_iter().enumerate() {
            let (status, body) = t.join().unwrap();
            let want = if i == 5 { 200 } else { 403 };
            assert_eq!(
                status,
                want,
                "round {round}, redeem {i}: {body}\n{}",
                rig.hub
                    .log()
                    .lines()
                    .rev()
                    .take(40)
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        }
    }
}

#[test]
fn ha_right_code_wins_races_with_wrong_ones_embedded() {
    right_code_wins_every_race(None);
}

#[test]
fn ha_right_code_wins_races_with_wrong_ones_redis() {
    let redis = RedisServer::start();
    right_code_wins_every_race(Some(&redis.url()));
}
