//! Concurrent workers (std threads, one [`Browser`] each) driving
//! [`super::flows`] against a hub, and what a run reports.
//!
//! Two budgets:
//! - [`Budget::Logins`]: every login is prepared first by all workers
//!   (untimed: `GET /saml/login` and the signing), then the timed phase
//!   posts them all. Wall time and the hub's CPU are taken over the timed
//!   phase alone; the preparation's hub CPU (the login requests) is
//!   reported on its own.
//! - [`Budget::Seconds`]: each worker prepares a few logins and drives them,
//!   over and over until the time is up. Wall time and CPU cover the whole
//!   run, login requests included; latencies are per step as always.

use super::flows::{self, Prepared};
use super::procstat::{cpu_of, Proc, RssTrace, Sampler};
use super::tally::{Op, Tally};
use super::Target;
use crate::testing::peers::browser::Browser;
use std::time::{Duration, Instant};
use time::OffsetDateTime;

/// How much load.
#[derive(Clone, Copy, Debug)]
pub enum Budget {
    /// This many logins, prepared before the timed phase.
    Logins(u64),
    /// Until this much time has passed.
    Seconds(f64),
}

/// What follows each login, with its session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mix {
    /// The login alone.
    Login,
    /// Four OIDC code exchanges, each followed by a refresh.
    Oidc,
    /// Four HA codes, each redeemed.
    Ha,
    /// One OIDC exchange and refresh and one HA redeem.
    Mixed,
}

impl Mix {
    /// `login`, `oidc`, `ha` or `mixed`.
    pub fn parse(s: &str) -> Option<Mix> {
        match s.trim() {
            "login" => Some(Mix::Login),
            "oidc" => Some(Mix::Oidc),
            "ha" => Some(Mix::Ha),
            "mixed" => Some(Mix::Mixed),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Mix::Login => "login",
            Mix::Oidc => "oidc",
            Mix::Ha => "ha",
            Mix::Mixed => "mixed",
        }
    }

    /// OIDC exchanges and HA redeems after each login.
    fn rounds(self) -> (u32, u32) {
        match self {
            Mix::Login => (0, 0),
            Mix::Oidc => (4, 0),
            Mix::Ha => (0, 4),
            Mix::Mixed => (1, 1),
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Concurrent workers.
    pub concurrency: usize,
    pub budget: Budget,
    pub mix: Mix,
    /// Every n-th login of a worker posts its Response a second time (0: never).
    pub replay_every: u64,
}

/// The figures of one run. CPU seconds are per process, in the order of
/// the processes given to [`run`].
#[derive(Clone, Debug)]
pub struct Report {
    pub tally: Tally,
    pub processes: Vec<&'static str>,
    /// The timed phase (the whole run under [`Budget::Seconds`]).
    pub wall: Duration,
    pub cpu: Vec<f64>,
    /// The preparation under [`Budget::Logins`] (zero otherwise).
    pub prep_wall: Duration,
    pub prep_cpu: Vec<f64>,
    pub rss: RssTrace,
    /// Bytes of the posted SAMLResponse field (base64), of the last login.
    pub response_len: usize,
}

impl Report {
    pub fn logins(&self) -> u64 {
        self.tally.expected(Op::Login)
    }

    pub fn logins_per_sec(&self) -> f64 {
        self.logins() as f64 / self.wall.as_secs_f64().max(1e-9)
    }

    /// Logins per CPU-second of all measured processes in the timed phase.
    pub fn logins_per_cpu_sec(&self) -> f64 {
        self.logins() as f64 / self.cpu.iter().sum::<f64>().max(1e-9)
    }

    /// Logins per CPU-second counting the login requests' CPU too.
    pub fn whole_logins_per_cpu_sec(&self) -> f64 {
        let cpu: f64 = self.cpu.iter().chain(&self.prep_cpu).sum();
        self.logins() as f64 / cpu.max(1e-9)
    }
}

fn user(worker: usize, n: u64) -> String {
    format!("w{worker}u{}", n % 16)
}

#[allow(clippy::disallowed_methods)]
fn now() -> OffsetDateTime {
    // The harness plays the IdP, whose clock is the wall clock.
    OffsetDateTime::now_utc()
}

fn timed<T>(tally: &mut Tally, op: Op, f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    let t = Instant::now();
    let r = f();
    let outcome = r.as_ref().map(|_| ()).map_err(Clone::clone);
    tally.record(op, t.elapsed(), &outcome);
    r
}

fn prepare_one(
    b: &mut Browser,
    t: &Target,
    tally: &mut Tally,
    worker: usize,
    n: u64,
) -> Option<Prepared> {
    timed(tally, Op::LoginRequest, || {
        flows::prepare(b, t, &user(worker, n), now())
    })
    .ok()
}

/// One login and what the mix does with its session.
fn drive_one(b: &mut Browser, t: &Target, o: &Options, p: &Prepared, n: u64, tally: &mut Tally) {
    if timed(tally, Op::Login, || flows::login(b, t, p)).is_err() {
        return;
    }
    if o.replay_every > 0 && n % o.replay_every == 0 {
        let _ = timed(tally, Op::Replay, || flows::replay(b, t, p));
    }
    let (oidc, ha) = o.mix.rounds();
    for _ in 0..oidc {
        let Ok(code) = timed(tally, Op::Authorize, || flows::authorize(b, t)) else {
            continue;
        };
        let Ok(rt) = timed(tally, Op::Token, || flows::token(b, t, &code)) else {
            continue;
        };
        let _ = timed(tally, Op::Refresh, || flows::refresh(b, t, &rt));
    }
    for _ in 0..ha {
        let Ok(code) = timed(tally, Op::HaCode, || flows::ha_code(b, t)) else {
            continue;
        };
        let _ = timed(tally, Op::HaRedeem, || {
            flows::ha_redeem(b, t, &p.user, &code)
        });
    }
}

/// Runs the load in `o` against `t`, measuring `procs` (the hub, and
/// redis-server if any).
pub fn run(t: &Target, procs: &[Proc], o: &Options) -> Report {
    let workers = o.concurrency.max(1);
    let sampler = Sampler::start(procs);
    let (tally, wall, cpu, prep_wall, prep_cpu, response_len) = match o.budget {
        Budget::Logins(total) => {
            let cpu0 = cpu_of(procs);
            let t0 = Instant::now();
            let prepared: Vec<(Browser, Vec<Prepared>, Tally)> = std::thread::scope(|s| {
                let handles: Vec<_> = (0..workers)
                    .map(|w| {
                        let share =
                            total / workers as u64 + u64::from((w as u64) < total % workers as u64);
                        s.spawn(move || {
                            let mut b = Browser::new();
                            let mut tally = Tally::default();
                            let ps = (0..share)
                                .filter_map(|n| prepare_one(&mut b, t, &mut tally, w, n))
                                .collect();
                            (b, ps, tally)
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            });
            let prep_wall = t0.elapsed();
            let cpu1 = cpu_of(procs);
            let response_len = prepared
                .iter()
                .find_map(|(_, ps, _)| ps.last().map(Prepared::response_len))
                .unwrap_or(0);
            let t1 = Instant::now();
            let tallies: Vec<Tally> = std::thread::scope(|s| {
                let handles: Vec<_> = prepared
                    .into_iter()
                    .map(|(mut b, ps, mut tally)| {
                        s.spawn(move || {
                            for (n, p) in (0u64..).zip(&ps) {
                                drive_one(&mut b, t, o, p, n, &mut tally);
                            }
                            tally
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            });
            let wall = t1.elapsed();
            let cpu2 = cpu_of(procs);
            let mut tally = Tally::default();
            tallies.into_iter().for_each(|x| tally.merge(x));
            (
                tally,
                wall,
                diff(&cpu2, &cpu1),
                prep_wall,
                diff(&cpu1, &cpu0),
                response_len,
            )
        }
        Budget::Seconds(secs) => {
            let cpu0 = cpu_of(procs);
            let t0 = Instant::now();
            let until = Duration::from_secs_f64(secs);
            let results: Vec<(Tally, usize)> = std::thread::scope(|s| {
                let handles: Vec<_> = (0..workers)
                    .map(|w| {
                        s.spawn(move || {
                            let mut b = Browser::new();
                            let mut tally = Tally::default();
                            let mut len = 0;
                            let mut n = 0u64;
                            while t0.elapsed() < until {
                                // A few at a time, so the Responses stay fresh.
                                let batch: Vec<(u64, Prepared)> = (n..n + 4)
                                    .filter_map(|i| {
                                        prepare_one(&mut b, t, &mut tally, w, i).map(|p| (i, p))
                                    })
                                    .collect();
                                n += 4;
                                for (i, p) in &batch {
                                    len = p.response_len();
                                    drive_one(&mut b, t, o, p, *i, &mut tally);
                                }
                            }
                            (tally, len)
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            });
            let wall = t0.elapsed();
            let cpu1 = cpu_of(procs);
            let mut tally = Tally::default();
            let mut len = 0;
            for (x, l) in results {
                tally.merge(x);
                len = len.max(l);
            }
            let zero = vec![0.0; procs.len()];
            (tally, wall, diff(&cpu1, &cpu0), Duration::ZERO, zero, len)
        }
    };
    Report {
        tally,
        processes: procs.iter().map(|p| p.name).collect(),
        wall,
        cpu,
        prep_wall,
        prep_cpu,
        rss: sampler.finish(),
        response_len,
    }
}

fn diff(after: &[f64], before: &[f64]) -> Vec<f64> {
    after.iter().zip(before).map(|(a, b)| a - b).collect()
}
