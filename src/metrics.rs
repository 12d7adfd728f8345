//! Prometheus metrics, written in the text exposition format 0.0.4 by hand:
//! a few labelled counters, one histogram, and gauges computed at scrape.
//!
//! Label values are bounded by construction and never name a person: IdP ids
//! and client ids come from the configuration (a counter is only moved after
//! the id was matched against it), results and reasons are the stable error
//! codes of `http::error::AppError`, grant types the two we serve.
//!
//! The counters live in a [`Metrics`] per running app (in-process tests each
//! get their own); the store latency histogram is process-wide
//! ([`STORE_LATENCY`]), since a process has one store.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// A counter family: one value per label set.
#[derive(Debug, Default)]
pub struct Family(Mutex<BTreeMap<Vec<String>, u64>>);

impl Family {
    /// Adds one to the counter of `labels` (values in the family's label order).
    pub fn inc(&self, labels: &[&str]) {
        if let Ok(mut m) = self.0.lock() {
            let key = labels.iter().map(|s| (*s).to_owned()).collect();
            *m.entry(key).or_insert(0) += 1;
        }
    }

    /// The current value for `labels` (0 if never moved).
    pub fn get(&self, labels: &[&str]) -> u64 {
        let key: Vec<String> = labels.iter().map(|s| (*s).to_owned()).collect();
        self.0
            .lock()
            .ok()
            .and_then(|m| m.get(&key).copied())
            .unwrap_or(0)
    }

    fn write(&self, out: &mut String, name: &str, help: &str, names: &[&str]) {
        header(out, name, help, "counter");
        let Ok(m) = self.0.lock() else { return };
        for (values, n) in m.iter() {
            let _ = writeln!(out, "{name}{} {n}", labels(names, values));
        }
    }
}

/// Upper bounds of the latency buckets, in microseconds.
const BUCKETS_US: [u64; 12] = [
    500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000,
    2_500_000,
];

/// A latency histogram with fixed buckets.
#[derive(Debug)]
pub struct Histogram {
    buckets: [AtomicU64; 12],
    count: AtomicU64,
    sum_us: AtomicU64,
}

impl Histogram {
    pub const fn new() -> Self {
        Self {
            buckets: [const { AtomicU64::new(0) }; 12],
            count: AtomicU64::new(0),
            sum_us: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        for (b, le) in self.buckets.iter().zip(BUCKETS_US) {
            if us <= le {
                b.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(us, Ordering::Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    fn write(&self, out: &mut String, name: &str, help: &str) {
        header(out, name, help, "histogram");
        for (b, le) in self.buckets.iter().zip(BUCKETS_US) {
            let le = le as f64 / 1e6;
            let n = b.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {n}");
        }
        let count = self.count();
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let sum = self.sum_us.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum {sum}");
        let _ = writeln!(out, "{name}_count {count}");
    }
}

impl Default for Histogram {
    fn default() -> Self {
        Self::new()
    }
}

/// Every store call's duration, success or not (timed in `store::AnyStore`).
pub static STORE_LATENCY: Histogram = Histogram::new();

/// The counters of one running app.
#[derive(Debug, Default)]
pub struct Metrics {
    /// `idp`, `result` (`success` or the refusal's error code).
    pub logins: Family,
    /// `reason`: the error code of every refused or failed request.
    pub failures: Family,
    /// `client`, `grant` (`authorization_code` or `refresh_token`).
    pub tokens: Family,
    /// `result`: `success` or the refusal's code.
    pub ha_redeems: Family,
}

/// A gauge value per IdP, computed at scrape.
pub struct IdpGauge<'a> {
    pub idp: &'a str,
    pub value: f64,
}

impl Metrics {
    /// The whole exposition: counters, the store histogram and the per-IdP
    /// gauges (metadata age in seconds, days until the first signing
    /// certificate expires).
    pub fn render(&self, metadata_age: &[IdpGauge<'_>], cert_days: &[IdpGauge<'_>]) -> String {
        let mut out = String::new();
        self.logins.write(
            &mut out,
            "samlhub_logins_total",
            "SAML logins by IdP and result.",
            &["idp", "result"],
        );
        self.failures.write(
            &mut out,
            "samlhub_failures_total",
            "Refused or failed requests by reason code.",
            &["reason"],
        );
        self.tokens.write(
            &mut out,
            "samlhub_oidc_tokens_total",
            "OpenID Connect tokens issued by client and grant type.",
            &["client", "grant"],
        );
        self.ha_redeems.write(
            &mut out,
            "samlhub_ha_redeems_total",
            "Home Assistant login code redeems by result.",
            &["result"],
        );
        STORE_LATENCY.write(
            &mut out,
            "samlhub_store_latency_seconds",
            "Duration of store calls.",
        );
        gauges(
            &mut out,
            "samlhub_idp_metadata_age_seconds",
            "Seconds since the IdP's metadata was loaded.",
            metadata_age,
        );
        gauges(
            &mut out,
            "samlhub_idp_cert_days_to_expiry",
            "Days until the IdP's first signing certificate expires (negative: expired).",
            cert_days,
        );
        out
    }
}

fn header(out: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn gauges(out: &mut String, name: &str, help: &str, values: &[IdpGauge<'_>]) {
    header(out, name, help, "gauge");
    for g in values {
        let _ = writeln!(out, "{name}{} {}", labels(&["idp"], &[g.idp]), g.value);
    }
}

/// `{a="x",b="y"}` with values escaped as format 0.0.4 asks (`\\`, `\"`, `\n`).
fn labels<S: AsRef<str>>(names: &[&str], values: &[S]) -> String {
    let mut s = String::from("{");
    for (i, (n, v)) in names.iter().zip(values).enumerate() {
        if i > 0 {
            s.push(',');
        }
        let v = v
            .as_ref()
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n");
        let _ = write!(s, "{n}=\"{v}\"");
    }
    s.push('}');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition() {
        let m = Metrics::default();
        m.logins.inc(&["corp", "success"]);
        m.logins.inc(&["corp", "success"]);
        m.failures.inc(&["sig\"n\\"]);
        let h = Histogram::new();
        h.observe(Duration::from_millis(3));
        let mut hs = String::new();
        h.write(&mut hs, "x", "h");
        assert!(hs.contains("x_bucket{le=\"0.0025\"} 0\n"), "{hs}");
        assert!(hs.contains("x_bucket{le=\"0.005\"} 1\n"), "{hs}");
        assert!(hs.contains("x_count 1\n"));
        let out = m.render(
            &[IdpGauge {
                idp: "corp",
                value: 12.0,
            }],
            &[],
        );
        assert!(out.contains("samlhub_logins_total{idp=\"corp\",result=\"success\"} 2\n"));
        assert!(
            out.contains("samlhub_failures_total{reason=\"sig\\\"n\\\\\"} 1\n"),
            "{out}"
        );
        assert!(out.contains("samlhub_idp_metadata_age_seconds{idp=\"corp\"} 12\n"));
        assert!(out.contains("# TYPE samlhub_store_latency_seconds histogram\n"));
    }
}
