//! What a load run counts: per step, the answers that were the expected
//! ones and those that were not (with the first few reasons), and the
//! latency of every step, for percentiles.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

/// One step of the traffic, as the hub sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Op {
    /// `GET /saml/login`, timed apart from the login it starts (the
    /// signing of the answer happens in the harness, not timed).
    LoginRequest,
    /// `POST /saml/acs` then `GET /session`.
    Login,
    /// The same Response posted a second time: must be refused.
    Replay,
    /// `GET /oidc/authorize` with the session: a code.
    Authorize,
    /// `POST /oidc/token`, authorization_code grant.
    Token,
    /// `POST /oidc/token`, refresh_token grant.
    Refresh,
    /// `GET /ha?instance=…`: a code page.
    HaCode,
    /// `POST /ha/redeem`.
    HaRedeem,
}

impl Op {
    pub fn name(self) -> &'static str {
        match self {
            Op::LoginRequest => "saml login request",
            Op::Login => "saml acs + session",
            Op::Replay => "replayed response (refused)",
            Op::Authorize => "oidc authorize",
            Op::Token => "oidc code exchange",
            Op::Refresh => "oidc refresh",
            Op::HaCode => "ha code page",
            Op::HaRedeem => "ha redeem",
        }
    }
}

/// How many samples of unexpected answers are kept per step.
const KEEP_REASONS: usize = 5;

/// The outcomes and latencies of one step.
#[derive(Clone, Debug, Default)]
pub struct OpStats {
    pub expected: u64,
    pub unexpected: u64,
    /// The first few unexpected answers, described.
    pub reasons: Vec<String>,
    /// Latency of every attempt, in microseconds.
    pub micros: Vec<u32>,
}

impl OpStats {
    /// The `p` quantile (0..=1) of the latencies.
    pub fn quantile(&self, p: f64) -> Duration {
        let mut v = self.micros.clone();
        v.sort_unstable();
        let n = v.len();
        if n == 0 {
            return Duration::ZERO;
        }
        let i = ((n as f64 * p) as usize).min(n - 1);
        Duration::from_micros(u64::from(v[i]))
    }
}

/// Counts of every step of a run.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    pub ops: BTreeMap<Op, OpStats>,
}

impl Tally {
    /// Records one attempt at `op` that took `took`: `Ok` when the hub gave
    /// the expected answer, else the reason.
    pub fn record(&mut self, op: Op, took: Duration, outcome: &Result<(), String>) {
        let s = self.ops.entry(op).or_default();
        s.micros
            .push(u32::try_from(took.as_micros()).unwrap_or(u32::MAX));
        match outcome {
            Ok(()) => s.expected += 1,
            Err(why) => {
                s.unexpected += 1;
                if s.reasons.len() < KEEP_REASONS {
                    s.reasons.push(why.clone());
                }
            }
        }
    }

    pub fn merge(&mut self, other: Tally) {
        for (op, o) in other.ops {
            let s = self.ops.entry(op).or_default();
            s.expected += o.expected;
            s.unexpected += o.unexpected;
            for r in o.reasons {
                if s.reasons.len() < KEEP_REASONS {
                    s.reasons.push(r);
                }
            }
            s.micros.extend(o.micros);
        }
    }

    /// Expected answers to `op`.
    pub fn expected(&self, op: Op) -> u64 {
        self.ops.get(&op).map_or(0, |s| s.expected)
    }

    /// Unexpected answers over all steps.
    pub fn unexpected(&self) -> u64 {
        self.ops.values().map(|s| s.unexpected).sum()
    }

    /// Every kept reason, prefixed by its step.
    pub fn reasons(&self) -> Vec<String> {
        self.ops
            .iter()
            .flat_map(|(op, s)| s.reasons.iter().map(move |r| format!("{}: {r}", op.name())))
            .collect()
    }

    /// One line per step: counts, p50 and p99.
    pub fn table(&self) -> String {
        let mut out = format!(
            "{:<30} {:>9} {:>10} {:>9} {:>9}\n",
            "step", "expected", "unexpected", "p50 ms", "p99 ms"
        );
        for (op, s) in &self.ops {
            let _ = writeln!(
                out,
                "{:<30} {:>9} {:>10} {:>9.2} {:>9.2}",
                op.name(),
                s.expected,
                s.unexpected,
                s.quantile(0.5).as_secs_f64() * 1e3,
                s.quantile(0.99).as_secs_f64() * 1e3
            );
        }
        out
    }
}
