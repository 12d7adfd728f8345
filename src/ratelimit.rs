//! Per-client rate limiting for endpoints that write anonymous state.
//! A foundation (std only): `config` parses [`RateLimit`] and [`Cidr`],
//! `http` applies a [`Limiter`] per request.
//!
//! The core is pure: [`Limiter::check`] takes the client address and `now`
//! (Unix milliseconds, see [`unix_ms`]) and never reads a clock. Each key has
//! one GCRA cell (a token bucket kept as its "theoretical arrival time"). A
//! key is an IPv4 address or an IPv6 /64, since one IPv6 host usually owns a
//! whole /64. IPv4-mapped IPv6 addresses count as IPv4. [`client_addr`]
//! finds the client behind trusted reverse proxies; [`Cidr`] names them.
//!
//! # Worst case
//!
//! Let `r = per_minute / 60` (writes per second) and `b = burst`.
//!
//! - **Per key**, in any window of `T` seconds: at most `b + floor(r·T)`
//!   writes: a burst of `b`, then one every `60 / per_minute` seconds.
//!   Refused requests cost nothing and do not extend the wait.
//! - **Overall**, over `A` keys: at most `A·(b + r·T)` writes, `A·r` per second
//!   sustained, as long as no active cell is dropped (see Memory). The limiter bounds writes per address, not in total: the
//!   total grows with the number of addresses (IPv6 /64s) an attacker holds.
//! - **Memory**: at most `max_keys` cells ([`DEFAULT_MAX_KEYS`] = 65,536,
//!   about 3.1 MiB, plus 512 KiB for a moment while evicting). When a new
//!   key finds the table full, cells whose bucket is full again are dropped
//!   first, which loses nothing. If more than three quarters of `max_keys`
//!   keys wrote within the last `b·60/per_minute` seconds, the active cells
//!   closest to full are dropped down to three quarters. A dropped key can
//!   return with up to `b` extra writes, so the total becomes
//!   `(A + E)·b + A·r·T`, with `E ≤ N + max_keys/4` such drops, where `N`
//!   counts the new keys in the window.
//!
//! Example: `per_minute = 30`, `burst = 10`. One address writes at most
//! 10 + 0.5·T times in T seconds (40 in the first minute, then 30 a minute);
//! 1,000 addresses at most 500 a second sustained.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::sync::{Mutex, PoisonError};

/// Keys tracked by a [`Limiter`] made with [`Limiter::new`].
pub const DEFAULT_MAX_KEYS: usize = 65_536;

/// `X-Forwarded-For` entries examined at most, from the right.
pub const MAX_FORWARDED_HOPS: usize = 16;

const MICROS_PER_MINUTE: i64 = 60_000_000;

/// A rate: `per_minute` writes a minute on average, `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    pub per_minute: u32,
    pub burst: u32,
}

/// A [`RateLimit`] that cannot be enforced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RateLimitError {
    #[error("rate limit: per_minute must be at least 1")]
    ZeroRate,
    #[error("rate limit: burst must be at least 1")]
    ZeroBurst,
}

/// A refusal: the next write from this client is allowed in `secs` seconds
/// (at least 1), the value for a `Retry-After` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many requests; retry after {secs} s")]
pub struct RetryAfter {
    pub secs: u64,
}

impl RetryAfter {
    fn from_micros(us: i64) -> Self {
        let secs = u64::try_from(us).unwrap_or(0).div_ceil(1_000_000);
        Self { secs: secs.max(1) }
    }
}

/// Unix time in milliseconds, the `now` that [`Limiter::check`] takes.
pub fn unix_ms(t: time::OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// What a limiter counts by: an IPv4 address or an IPv6 /64 prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    V4(u32),
    V6(u64),
}

impl Key {
    fn of(addr: IpAddr) -> Self {
        match addr.to_canonical() {
            IpAddr::V4(a) => Key::V4(u32::from(a)),
            IpAddr::V6(a) => Key::V6((u128::from(a) >> 64) as u64),
        }
    }
}

/// Per-key GCRA cells behind one mutex; see the module header for bounds.
#[derive(Debug)]
pub struct Limiter {
    /// Microseconds between writes at the sustained rate.
    interval: i64,
    /// `burst · interval`: how far ahead of `now` a cell may run.
    span: i64,
    max_keys: usize,
    /// Theoretical arrival time of each key's next write, in microseconds.
    cells: Mutex<HashMap<Key, i64>>,
}

impl Limiter {
    /// A limiter tracking at most [`DEFAULT_MAX_KEYS`] keys.
    pub fn new(limit: RateLimit) -> Result<Self, RateLimitError> {
        Self::with_max_keys(limit, DEFAULT_MAX_KEYS)
    }

    /// A limiter tracking at most `max_keys` keys (at least 1).
    pub fn with_max_keys(limit: RateLimit, max_keys: usize) -> Result<Self, RateLimitError> {
        if limit.per_minute == 0 {
            return Err(RateLimitError::ZeroRate);
        }
        if limit.burst == 0 {
            return Err(RateLimitError::ZeroBurst);
        }
        Ok(Self::build(limit, max_keys))
    }

    /// A limiter for a rate already checked (as the configuration does);
    /// a zero `per_minute` or `burst` is raised to 1, never disabling it.
    pub fn checked(limit: RateLimit) -> Self {
        let limit = RateLimit {
            per_minute: limit.per_minute.max(1),
            burst: limit.burst.max(1),
        };
        Self::build(limit, DEFAULT_MAX_KEYS)
    }

    fn build(limit: RateLimit, max_keys: usize) -> Self {
        // Rounded up, so never more generous than configured.
        let per_minute = i64::from(limit.per_minute.max(1));
        let interval = (MICROS_PER_MINUTE + per_minute - 1) / per_minute;
        Self {
            interval,
            span: interval.saturating_mul(i64::from(limit.burst)),
            max_keys: max_keys.max(1),
            cells: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one write by `client` at `now_ms` (Unix milliseconds), or
    /// refuses it without counting it.
    pub fn check(&self, client: IpAddr, now_ms: i64) -> Result<(), RetryAfter> {
        let now = now_ms.saturating_mul(1000);
        let key = Key::of(client);
        let mut cells = self.cells.lock().unwrap_or_else(PoisonError::into_inner);
        match cells.get_mut(&key) {
            Some(tat) => {
                let next = (*tat).max(now).saturating_add(self.interval);
                let allowed_at = next.saturating_sub(self.span);
                if now < allowed_at {
                    return Err(RetryAfter::from_micros(allowed_at - now));
                }
                *tat = next;
            }
            None => {
                if cells.len() >= self.max_keys {
                    self.make_room(&mut cells, now);
                }
                // A new key has a full bucket and burst >= 1.
                cells.insert(key, now.saturating_add(self.interval));
            }
        }
        Ok(())
    }

    /// Keys currently tracked.
    pub fn tracked(&self) -> usize {
        self.cells
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Shrinks a full table to at most three quarters of `max_keys` (and
    /// below `max_keys`), so sweeps are at least `max_keys / 4` inserts
    /// apart. Cells with a full bucket go first; then the active cells
    /// closest to full.
    fn make_room(&self, cells: &mut HashMap<Key, i64>, now: i64) {
        cells.retain(|_, tat| *tat > now);
        let target = self.max_keys.saturating_sub((self.max_keys / 4).max(1));
        let excess = cells.len().saturating_sub(target);
        if excess == 0 {
            return;
        }
        let mut tats: Vec<i64> = cells.values().copied().collect();
        let (_, nth, _) = tats.select_nth_unstable(excess - 1);
        let nth = *nth;
        let below = tats.iter().filter(|t| **t < nth).count();
        let mut ties = excess.saturating_sub(below);
        cells.retain(|_, tat| {
            if *tat < nth {
                false
            } else if *tat == nth && ties > 0 {
                ties -= 1;
                false
            } else {
                true
            }
        });
    }
}

/// A CIDR block such as `10.0.0.0/8` or `2001:db8::/32`; a bare address is
/// a single host. Host bits must be zero. An IPv4-mapped IPv6 block of
/// prefix 96 or more is kept as the IPv4 block it denotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

/// Text that is not a [`Cidr`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CidrError {
    #[error("CIDR {0:?}: not an IP address")]
    Address(String),
    #[error("CIDR {0:?}: prefix length out of range")]
    Prefix(String),
    #[error("CIDR {0:?}: address has bits set beyond the prefix")]
    HostBits(String),
}

fn mask_v4(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

fn mask_v6(prefix: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0)
}

impl Cidr {
    /// The block `addr/prefix`; errors if the prefix is too long or `addr`
    /// has host bits set.
    pub fn new(addr: IpAddr, prefix: u8) -> Result<Self, CidrError> {
        let shown = || format!("{addr}/{prefix}");
        let (addr, prefix) = match addr {
            IpAddr::V6(a) if prefix >= 96 => match a.to_ipv4_mapped() {
                Some(v4) => (IpAddr::V4(v4), prefix - 96),
                None => (addr, prefix),
            },
            _ => (addr, prefix),
        };
        let host_bits = match addr {
            IpAddr::V4(a) if prefix <= 32 => u32::from(a) & !mask_v4(prefix) != 0,
            IpAddr::V6(a) if prefix <= 128 => u128::from(a) & !mask_v6(prefix) != 0,
            _ => return Err(CidrError::Prefix(shown())),
        };
        if host_bits {
            return Err(CidrError::HostBits(shown()));
        }
        Ok(Self { addr, prefix })
    }

    /// The network address.
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// Whether `ip` lies in this block; IPv4-mapped IPv6 addresses count
    /// as IPv4.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(a)) => {
                let m = mask_v4(self.prefix);
                u32::from(a) & m == u32::from(net) & m
            }
            (IpAddr::V6(net), IpAddr::V6(a)) => {
                let m = mask_v6(self.prefix);
                u128::from(a) & m == u128::from(net) & m
            }
            _ => false,
        }
    }
}

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| CidrError::Address(s.to_owned()))?;
        let prefix = match prefix {
            None if addr.is_ipv4() => 32,
            None => 128,
            Some(p) if !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()) => {
                p.parse().map_err(|_| CidrError::Prefix(s.to_owned()))?
            }
            Some(_) => return Err(CidrError::Prefix(s.to_owned())),
        };
        Cidr::new(addr, prefix).map_err(|e| match e {
            CidrError::HostBits(_) => CidrError::HostBits(s.to_owned()),
            _ => CidrError::Prefix(s.to_owned()),
        })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl<'de> serde::Deserialize<'de> for Cidr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// One `X-Forwarded-For` entry: an address, or an address with a port
/// (`192.0.2.1:4711`, `[2001:db8::1]:443`).
fn parse_hop(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim_matches([' ', '\t']);
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    entry
        .parse::<SocketAddr>()
        .ok()
        .map(|a| a.ip().to_canonical())
}

/// The address to rate-limit a request by.
///
/// `peer` is the TCP peer; `forwarded_for` is the `X-Forwarded-For` value,
/// several headers joined with `,` in order. The header is believed only
/// as far as trusted proxies wrote it: if `peer` is not in
/// `trusted_proxies`, it is the client and the header is ignored. Otherwise
/// the entries are walked from the right, skipping trusted proxies, and the
/// first untrusted address is the client. A malformed or empty entry stops
/// the walk at the last good address (a trusted proxy, or `peer`), as does
/// running out of entries or passing [`MAX_FORWARDED_HOPS`].
pub fn client_addr(peer: IpAddr, forwarded_for: Option<&str>, trusted_proxies: &[Cidr]) -> IpAddr {
    let trusted = |ip: IpAddr| trusted_proxies.iter().any(|c| c.contains(ip));
    let peer = peer.to_canonical();
    let Some(header) = forwarded_for else {
        return peer;
    };
    if !trusted(peer) {
        return peer;
    }
    let mut last = peer;
    for entry in header.rsplit(',').take(MAX_FORWARDED_HOPS) {
        let Some(ip) = parse_hop(entry) else {
            return last;
        };
        if !trusted(ip) {
            return ip;
        }
        last = ip;
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn limiter(per_minute: u32, burst: u32) -> Limiter {
        Limiter::new(RateLimit { per_minute, burst }).unwrap()
    }

    fn cidrs(list: &[&str]) -> Vec<Cidr> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    const T0: i64 = 1_750_000_000_000;

    #[test]
    fn burst_then_refusal() {
        let l = limiter(60, 3);
        let a = ip("192.0.2.1");
        for _ in 0..3 {
            assert_eq!(l.check(a, T0), Ok(()));
        }
        assert_eq!(l.check(a, T0), Err(RetryAfter { secs: 1 }));
    }

    #[test]
    fn retry_after_counts_down() {
        let l = limiter(1, 1);
        let a = ip("192.0.2.1");
        assert!(l.check(a, T0).is_ok());
        assert_eq!(l.check(a, T0), Err(RetryAfter { secs: 60 }));
        assert_eq!(l.check(a, T0 + 30_000), Err(RetryAfter { secs: 30 }));
        assert_eq!(l.check(a, T0 + 59_001), Err(RetryAfter { secs: 1 }));
        assert!(l.check(a, T0 + 60_000).is_ok());
    }

    #[test]
    fn refill_over_time() {
        let l = limiter(60, 2);
        let a = ip("192.0.2.1");
        assert!(l.check(a, T0).is_ok());
        assert!(l.check(a, T0).is_ok());
        assert!(l.check(a, T0 + 999).is_err());
        assert!(l.check(a, T0 + 1000).is_ok());
        assert!(l.check(a, T0 + 1000).is_err());
        // A long idle period refills to the burst, never beyond it.
        let later = T0 + 3_600_000;
        assert!(l.check(a, later).is_ok());
        assert!(l.check(a, later).is_ok());
        assert!(l.check(a, later).is_err());
    }

    #[test]
    fn sustained_rate_matches_the_formula() {
        // per_minute = 30, burst = 10: 10 + 0.5·T in T seconds.
        let l = limiter(30, 10);
        let a = ip("192.0.2.1");
        let accepted = (0..=60_000)
            .step_by(100)
            .filter(|ms| l.check(a, T0 + ms).is_ok())
            .count();
        assert_eq!(accepted, 10 + 30);
    }

    #[test]
    fn refusals_do_not_extend_the_wait() {
        let l = limiter(60, 1);
        let a = ip("192.0.2.1");
        assert!(l.check(a, T0).is_ok());
        for ms in (0..1000).step_by(10) {
            assert!(l.check(a, T0 + ms).is_err());
        }
        assert!(l.check(a, T0 + 1000).is_ok());
    }

    #[test]
    fn keys_are_independent() {
        let l = limiter(60, 1);
        assert!(l.check(ip("192.0.2.1"), T0).is_ok());
        assert!(l.check(ip("192.0.2.1"), T0).is_err());
        assert!(l.check(ip("192.0.2.2"), T0).is_ok());
        assert!(l.check(ip("2001:db8::1"), T0).is_ok());
    }

    #[test]
    fn ipv6_grouped_by_64() {
        let l = limiter(60, 2);
        assert!(l.check(ip("2001:db8:1:2::1"), T0).is_ok());
        assert!(l.check(ip("2001:db8:1:2:ffff:ffff:ffff:ffff"), T0).is_ok());
        assert!(l.check(ip("2001:db8:1:2:abcd::9"), T0).is_err());
        assert!(l.check(ip("2001:db8:1:3::1"), T0).is_ok());
    }

    #[test]
    fn ipv4_mapped_counts_as_ipv4() {
        let l = limiter(60, 1);
        assert!(l.check(ip("192.0.2.1"), T0).is_ok());
        assert!(l.check(ip("::ffff:192.0.2.1"), T0).is_err());
    }

    #[test]
    fn bad_limits_are_refused() {
        let zero_rate = RateLimit {
            per_minute: 0,
            burst: 1,
        };
        let zero_burst = RateLimit {
            per_minute: 1,
            burst: 0,
        };
        assert_eq!(
            Limiter::new(zero_rate).unwrap_err(),
            RateLimitError::ZeroRate
        );
        assert_eq!(
            Limiter::new(zero_burst).unwrap_err(),
            RateLimitError::ZeroBurst
        );
    }

    #[test]
    fn memory_is_capped() {
        let l = Limiter::with_max_keys(
            RateLimit {
                per_minute: 1,
                burst: 5,
            },
            8,
        )
        .unwrap();
        for i in 0..1000u32 {
            let a = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i));
            assert!(l.check(a, T0).is_ok());
            assert!(l.tracked() <= 8);
        }
        let tiny = Limiter::with_max_keys(
            RateLimit {
                per_minute: 1,
                burst: 1,
            },
            0,
        )
        .unwrap();
        assert!(tiny.check(ip("192.0.2.1"), T0).is_ok());
        assert!(tiny.check(ip("192.0.2.2"), T0).is_ok());
        assert_eq!(tiny.tracked(), 1);
    }

    #[test]
    fn idle_keys_are_dropped_first() {
        let l = Limiter::with_max_keys(
            RateLimit {
                per_minute: 60,
                burst: 1,
            },
            4,
        )
        .unwrap();
        for i in 1..=4 {
            assert!(l.check(ip(&format!("192.0.2.{i}")), T0).is_ok());
        }
        assert_eq!(l.tracked(), 4);
        // A second later all four buckets are full again.
        assert!(l.check(ip("192.0.2.5"), T0 + 1000).is_ok());
        assert_eq!(l.tracked(), 1);
    }

    #[test]
    fn eviction_spares_the_busiest_keys() {
        let l = Limiter::with_max_keys(
            RateLimit {
                per_minute: 1,
                burst: 1,
            },
            4,
        )
        .unwrap();
        let keys: Vec<IpAddr> = (1..=4).map(|i| ip(&format!("192.0.2.{i}"))).collect();
        for (n, k) in keys.iter().enumerate() {
            assert!(l.check(*k, T0 + 1000 * n as i64).is_ok());
        }
        assert!(l.check(ip("192.0.2.9"), T0 + 5000).is_ok());
        assert_eq!(l.tracked(), 4);
        // The oldest (closest to a full bucket) was forgotten; the rest remain.
        assert!(l.check(keys[0], T0 + 5000).is_ok());
        for k in &keys[2..] {
            assert!(l.check(*k, T0 + 5000).is_err());
        }
    }

    #[test]
    fn shared_across_threads() {
        let l = std::sync::Arc::new(limiter(60, 100));
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let l = l.clone();
                std::thread::spawn(move || {
                    (0..50)
                        .filter(|_| l.check(ip("192.0.2.1"), T0).is_ok())
                        .count()
                })
            })
            .collect();
        let total: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(total, 100);
    }

    #[test]
    fn cidr_parsing() {
        let c: Cidr = "10.0.0.0/8".parse().unwrap();
        assert_eq!((c.addr(), c.prefix()), (ip("10.0.0.0"), 8));
        assert_eq!("192.0.2.7".parse::<Cidr>().unwrap().prefix(), 32);
        assert_eq!("2001:db8::1".parse::<Cidr>().unwrap().prefix(), 128);
        assert_eq!("::/0".parse::<Cidr>().unwrap().to_string(), "::/0");
        let mapped: Cidr = "::ffff:10.0.0.0/104".parse().unwrap();
        assert_eq!(mapped.to_string(), "10.0.0.0/8");
        for bad in [
            "x",
            "",
            "/8",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "10.0.0.0/ 8",
            "10.0.0.0/33",
        ] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
        assert!(matches!(
            "2001:db8::/129".parse::<Cidr>(),
            Err(CidrError::Prefix(_))
        ));
        assert!(matches!(
            "10.0.0.1/8".parse::<Cidr>(),
            Err(CidrError::HostBits(_))
        ));
    }

    #[test]
    fn cidr_contains() {
        let c: Cidr = "10.0.0.0/8".parse().unwrap();
        assert!(c.contains(ip("10.255.1.2")));
        assert!(c.contains(ip("::ffff:10.1.2.3")));
        assert!(!c.contains(ip("11.0.0.0")));
        assert!(!c.contains(ip("::a00:1")));
        let all4: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all4.contains(ip("203.0.113.1")));
        assert!(!all4.contains(ip("2001:db8::1")));
        let v6: Cidr = "2001:db8::/32".parse().unwrap();
        assert!(v6.contains(ip("2001:db8:ffff::1")));
        assert!(!v6.contains(ip("2001:db9::1")));
        let host: Cidr = "192.0.2.7".parse().unwrap();
        assert!(host.contains(ip("192.0.2.7")));
        assert!(!host.contains(ip("192.0.2.8")));
    }

    #[test]
    fn cidr_from_config() {
        #[derive(serde::Deserialize)]
        struct C {
            trusted_proxies: Vec<Cidr>,
            limit: RateLimit,
        }
        let c: C = toml::from_str(
            "trusted_proxies = [\"10.0.0.0/8\", \"::1\"]\nlimit = { per_minute = 30, burst = 10 }",
        )
        .unwrap();
        assert_eq!(c.trusted_proxies.len(), 2);
        assert_eq!(
            c.limit,
            RateLimit {
                per_minute: 30,
                burst: 10
            }
        );
        assert!(toml::from_str::<C>(
            "trusted_proxies = [\"10.0.0.1/8\"]\nlimit = { per_minute = 1, burst = 1 }"
        )
        .is_err());
    }

    #[test]
    fn header_ignored_without_trusted_proxies() {
        let peer = ip("198.51.100.7");
        assert_eq!(client_addr(peer, Some("203.0.113.9"), &[]), peer);
        assert_eq!(client_addr(peer, None, &[]), peer);
    }

    #[test]
    fn spoofing_by_untrusted_peer_is_ignored() {
        let trusted = cidrs(&["10.0.0.0/8"]);
        let peer = ip("198.51.100.7");
        assert_eq!(
            client_addr(peer, Some("10.0.0.5, 203.0.113.9"), &trusted),
            peer
        );
    }

    #[test]
    fn trusted_proxy_is_believed() {
        let trusted = cidrs(&["10.0.0.0/8"]);
        let peer = ip("10.0.0.1");
        assert_eq!(
            client_addr(peer, Some("203.0.113.9"), &trusted),
            ip("203.0.113.9")
        );
        assert_eq!(client_addr(peer, None, &trusted), peer);
        assert_eq!(
            client_addr(ip("::ffff:10.0.0.1"), Some("::ffff:203.0.113.9"), &trusted),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn multi_hop_chain() {
        let trusted = cidrs(&["10.0.0.0/8", "2001:db8:ffff::/48"]);
        let peer = ip("10.0.0.1");
        // The client forged the leftmost entry; proxies appended the rest.
        let xff = "1.1.1.1, 203.0.113.9, 2001:db8:ffff::2,10.0.0.2";
        assert_eq!(client_addr(peer, Some(xff), &trusted), ip("203.0.113.9"));
        // Nothing but proxies: the leftmost proxy is the client.
        assert_eq!(
            client_addr(peer, Some("10.0.0.3, 10.0.0.2"), &trusted),
            ip("10.0.0.3")
        );
        // Ports and brackets as some proxies write them.
        assert_eq!(
            client_addr(peer, Some("203.0.113.9:4711"), &trusted),
            ip("203.0.113.9")
        );
        assert_eq!(
            client_addr(peer, Some("[2001:db8::1]:443, 10.0.0.2"), &trusted),
            ip("2001:db8::1")
        );
    }

    #[test]
    fn garbage_stops_the_walk() {
        let trusted = cidrs(&["10.0.0.0/8"]);
        let peer = ip("10.0.0.1");
        for xff in [
            "",
            " ",
            "garbage",
            "203.0.113.9, garbage",
            "203.0.113.9,",
            "203.0.113.9, ,",
            "unknown",
            "fe80::1%eth0",
            "203.0.113.9\u{0}",
            "999.1.1.1",
        ] {
            assert_eq!(client_addr(peer, Some(xff), &trusted), peer, "{xff:?}");
        }
        // The last good address is the proxy that wrote the garbage-free part.
        assert_eq!(
            client_addr(peer, Some("203.0.113.9, unknown, 10.0.0.2"), &trusted),
            ip("10.0.0.2")
        );
    }

    #[test]
    fn walk_is_bounded() {
        let trusted = cidrs(&["10.0.0.0/8"]);
        let mut hops: Vec<String> = vec!["203.0.113.9".into()];
        hops.extend((1..=40).map(|i| format!("10.0.0.{i}")));
        let xff = hops.join(",");
        let got = client_addr(ip("10.0.0.250"), Some(&xff), &trusted);
        assert_eq!(got, ip(&format!("10.0.0.{}", 40 - MAX_FORWARDED_HOPS + 1)));
    }
}
