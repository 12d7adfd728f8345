//! `[rate_limit]`: the per-client-address limit on endpoints that write
//! anonymous state (see `crate::ratelimit` for the bounds it gives and
//! `docs/security.md` for the store growth they imply).
//!
//! ```toml
//! [rate_limit]
//! enabled = true            # default
//! per_minute = 60           # sustained writes per address (IPv4 or IPv6 /64)
//! burst = 20                # at once
//! trusted_proxies = ["127.0.0.1", "10.0.0.0/8"]   # whose X-Forwarded-For is believed
//! ```

use super::Problems;
use crate::ratelimit::{Cidr, RateLimit};
use serde::Deserialize;
use std::collections::BTreeMap;

/// Default sustained rate: a household signing in at once stays far below.
pub const DEFAULT_PER_MINUTE: u32 = 60;
/// Default burst.
pub const DEFAULT_BURST: u32 = 20;
/// Largest accepted `per_minute` or `burst`.
const MAX_VALUE: i64 = 1_000_000;

#[derive(Debug, Default, Deserialize)]
pub(super) struct RawRateLimit {
    enabled: Option<bool>,
    per_minute: Option<i64>,
    burst: Option<i64>,
    trusted_proxies: Option<Vec<String>>,
    #[serde(flatten)]
    unknown: BTreeMap<String, toml::Value>,
}

/// The validated `[rate_limit]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitSettings {
    /// `false` turns every limit off.
    pub enabled: bool,
    /// The browser endpoints' rate (`per_minute`, `burst`); the endpoints
    /// programs call get [`RateLimitSettings::programs`].
    pub limit: RateLimit,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<Cidr>,
}

/// How much more the endpoints called by programs (the HA hook at
/// `/ha/redeem`, relying parties at `/oidc/token`) allow: one such caller
/// speaks for all its users.
pub const PROGRAMS_FACTOR: u32 = 10;

impl RateLimitSettings {
    /// The limit for endpoints called by programs: [`PROGRAMS_FACTOR`] times
    /// the browser limit.
    pub fn programs(&self) -> RateLimit {
        RateLimit {
            per_minute: self.limit.per_minute.saturating_mul(PROGRAMS_FACTOR),
            burst: self.limit.burst.saturating_mul(PROGRAMS_FACTOR),
        }
    }
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            limit: RateLimit {
                per_minute: DEFAULT_PER_MINUTE,
                burst: DEFAULT_BURST,
            },
            trusted_proxies: Vec::new(),
        }
    }
}

fn count(p: &mut Problems, key: &str, v: Option<i64>, default: u32) -> u32 {
    match v {
        None => default,
        Some(n) if (1..=MAX_VALUE).contains(&n) => u32::try_from(n).unwrap_or(default),
        Some(n) => {
            p.add(
                key,
                format!("{n} is not between 1 and {MAX_VALUE} (set enabled = false to turn rate limiting off)"),
            );
            default
        }
    }
}

pub(super) fn load(r: Option<RawRateLimit>, p: &mut Problems) -> RateLimitSettings {
    let Some(r) = r else {
        return RateLimitSettings::default();
    };
    for k in r.unknown.keys() {
        p.add(format!("rate_limit.{k}"), "unknown key");
    }
    let per_minute = count(p, "rate_limit.per_minute", r.per_minute, DEFAULT_PER_MINUTE);
    let burst = count(p, "rate_limit.burst", r.burst, DEFAULT_BURST);
    let mut trusted_proxies = Vec::new();
    for s in r.trusted_proxies.unwrap_or_default() {
        match s.trim().parse::<Cidr>() {
            Ok(c) => trusted_proxies.push(c),
            Err(e) => p.add("rate_limit.trusted_proxies", e.to_string()),
        }
    }
    RateLimitSettings {
        enabled: r.enabled.unwrap_or(true),
        limit: RateLimit { per_minute, burst },
        trusted_proxies,
    }
}

#[cfg(test)]
mod tests {
    use super::super::{load as load_config, source::MemorySource};
    use super::*;
    use std::path::PathBuf;

    fn load_text(text: &str) -> Result<super::super::Config, super::super::ConfigError> {
        let f = PathBuf::from("/etc/samlhub/samlhub.toml");
        let mut src = MemorySource::default();
        src.files.insert(f.clone(), text.as_bytes().to_vec());
        load_config(Some(&f), &BTreeMap::new(), &src)
    }

    #[test]
    fn defaults_when_absent() {
        let c = load_text("").unwrap();
        assert_eq!(c.rate_limit, RateLimitSettings::default());
        assert!(c.rate_limit.enabled);
        assert_eq!(
            c.rate_limit.programs(),
            RateLimit {
                per_minute: 600,
                burst: 200
            }
        );
    }

    #[test]
    fn parses_every_key() {
        let c = load_text(
            "[rate_limit]\nenabled = false\nper_minute = 30\nburst = 5\ntrusted_proxies = [\"127.0.0.1\", \"10.0.0.0/8\", \"2001:db8::/32\"]\n",
        )
        .unwrap();
        let r = c.rate_limit;
        assert!(!r.enabled);
        assert_eq!(
            r.limit,
            RateLimit {
                per_minute: 30,
                burst: 5
            }
        );
        let shown: Vec<String> = r.trusted_proxies.iter().map(|c| c.to_string()).collect();
        assert_eq!(shown, ["127.0.0.1/32", "10.0.0.0/8", "2001:db8::/32"]);
    }

    #[test]
    fn bad_values_are_reported() {
        let e = load_text(
            "[rate_limit]\nper_minute = 0\nburst = -3\ntrusted_proxies = [\"10.0.0.1/8\", \"proxy.lan\", \"10.0.0.0/33\"]\ncolour = 1\n",
        )
        .unwrap_err();
        let lines = e.lines().join("\n");
        for needle in [
            "rate_limit.per_minute: 0 is not between 1",
            "rate_limit.burst: -3 is not between 1",
            "rate_limit.trusted_proxies: CIDR \"10.0.0.1/8\": address has bits set beyond the prefix",
            "rate_limit.trusted_proxies: CIDR \"proxy.lan\": not an IP address",
            "rate_limit.trusted_proxies: CIDR \"10.0.0.0/33\": prefix length out of range",
            "rate_limit.colour: unknown key",
        ] {
            assert!(lines.contains(needle), "{needle} missing from:\n{lines}");
        }
    }
}
