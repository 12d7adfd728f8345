//! Background refresh of every `metadata_url`, so an IdP that rolls its
//! signing certificate keeps working without a restart.
//!
//! When to fetch is pure ([`next_fetch`], [`retry_delay`]; they take `now`):
//! the metadata's own `cacheDuration` (SAML Metadata §2.3.2), and before its
//! `validUntil` (§2.3.1) at half the time left, clamped between
//! `metadata_refresh_min` and `metadata_refresh_max`. A failed fetch or a
//! refused copy is retried after `min`, doubling up to `max`; so is an IdP
//! that start-up could only serve from its saved copy.
//!
//! A fetched copy goes through `Idp::with_metadata`, the same checks as at
//! start-up (pinned signer, entity selection, keys, SSO endpoint), and must
//! not be expired already; only then does it replace the IdP in the
//! [`IdpDirectory`] and the saved copy on disk. A refused copy is logged
//! with the reason and the last good one stays in force. [`Refresher::run_due`]
//! does one round and is what tests drive with a fixed clock; [`spawn`] runs
//! rounds on a tokio task until stopped.

use super::metadata::{cache_path, fetch, save};
use crate::clock::Clock;
use crate::config::expiry::idp_cert_warnings;
use crate::config::{Config, Idp, RefreshBounds};
use crate::directory::IdpDirectory;
use crate::logsafe::esc;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;

/// When to fetch metadata next, having just accepted `md`-like facts at `now`.
pub fn next_fetch(
    now: OffsetDateTime,
    cache_duration: Option<time::Duration>,
    valid_until: Option<OffsetDateTime>,
    bounds: RefreshBounds,
) -> OffsetDateTime {
    let max = to_time(bounds.max);
    let mut wait = cache_duration.unwrap_or(max);
    if let Some(v) = valid_until {
        // Leave half the remaining validity for retries before it runs out.
        wait = wait.min((v - now) / 2);
    }
    now + wait.clamp(to_time(bounds.min), max)
}

/// How long to wait after the `failures`-th failure in a row (1-based):
/// `min`, doubling each time, at most `max`.
pub fn retry_delay(failures: u32, bounds: RefreshBounds) -> Duration {
    let factor = 1u32.checked_shl(failures.saturating_sub(1)).unwrap_or(0);
    if factor == 0 {
        return bounds.max;
    }
    bounds
        .min
        .checked_mul(factor)
        .unwrap_or(bounds.max)
        .min(bounds.max)
}

fn to_time(d: Duration) -> time::Duration {
    time::Duration::try_from(d).unwrap_or(time::Duration::DAY)
}

struct Entry {
    id: String,
    url: String,
    next: OffsetDateTime,
    failures: u32,
}

/// What one fetch attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The new copy replaced the old.
    Replaced { idp: String },
    /// Fetching failed; the last good copy stays.
    FetchFailed { idp: String, reason: String },
    /// The copy was refused; the last good copy stays.
    Refused { idp: String, reason: String },
}

/// The refresh state of every IdP configured with a `metadata_url`.
pub struct Refresher {
    dir: Arc<IdpDirectory>,
    bounds: RefreshBounds,
    warn_days: u32,
    data_dir: PathBuf,
    entries: Vec<Entry>,
}

impl Refresher {
    /// Schedules each `metadata_url` IdP from the metadata it has now.
    pub fn new(config: &Config, dir: Arc<IdpDirectory>, now: OffsetDateTime) -> Self {
        let bounds = config.metadata_refresh;
        let entries = dir
            .snapshot()
            .all()
            .iter()
            .filter_map(|i| {
                let o = i.metadata_origin.as_ref()?;
                let next = if o.from_saved_copy {
                    now + to_time(bounds.min)
                } else {
                    next_fetch(
                        now,
                        i.metadata.cache_duration,
                        i.metadata.valid_until,
                        bounds,
                    )
                };
                Some(Entry {
                    id: i.id.clone(),
                    url: o.url.clone(),
                    next,
                    failures: 0,
                })
            })
            .collect();
        Self {
            dir,
            bounds,
            warn_days: config.cert_expiry_warning_days,
            data_dir: config.data_dir.clone(),
            entries,
        }
    }

    /// The earliest time a fetch is due, if any IdP is refreshed at all.
    pub fn next_due(&self) -> Option<OffsetDateTime> {
        self.entries.iter().map(|e| e.next).min()
    }

    /// Fetches every IdP due at `now` with `get` (URL → body) and applies
    /// what arrives. Returns what happened to each.
    pub fn run_due(
        &mut self,
        now: OffsetDateTime,
        get: &dyn Fn(&str) -> Result<Vec<u8>, String>,
    ) -> Vec<Outcome> {
        let mut out = Vec::new();
        for e in self.entries.iter_mut().filter(|e| e.next <= now) {
            let Some(current) = self.dir.get(&e.id) else {
                continue;
            };
            let result = get(&e.url)
                .map_err(|r| Outcome::FetchFailed {
                    idp: e.id.clone(),
                    reason: r,
                })
                .and_then(|xml| accept(&current, xml, now));
            match result {
                Ok((idp, xml)) => {
                    e.failures = 0;
                    e.next = next_fetch(
                        now,
                        idp.metadata.cache_duration,
                        idp.metadata.valid_until,
                        self.bounds,
                    );
                    let warnings = idp_cert_warnings(&idp, now, self.warn_days);
                    let keys = idp.keys.len();
                    if !self.dir.replace(&current, idp, now.unix_timestamp()) {
                        // A configuration reload replaced the IdP meanwhile;
                        // the reload's own refresher takes over.
                        log::info!(
                            "metadata refresh: idp={} was reloaded meanwhile; this copy is dropped",
                            e.id
                        );
                        continue;
                    }
                    log::info!(
                        "metadata refresh: idp={} accepted ({keys} signing certificate(s)); next fetch at {}",
                        e.id,
                        crate::saml::response::fmt_time(e.next)
                    );
                    for w in warnings {
                        w.log();
                    }
                    save(&cache_path(&self.data_dir, &e.id), &xml);
                    out.push(Outcome::Replaced { idp: e.id.clone() });
                }
                Err(o) => {
                    e.failures = e.failures.saturating_add(1);
                    let delay = retry_delay(e.failures, self.bounds);
                    e.next = now + to_time(delay);
                    let reason = match &o {
                        Outcome::FetchFailed { reason, .. } | Outcome::Refused { reason, .. } => {
                            reason.as_str()
                        }
                        Outcome::Replaced { .. } => "",
                    };
                    log::warn!(
                        "metadata refresh: idp={} {}: {}; the last good copy stays in force; retry in {}s",
                        e.id,
                        if matches!(o, Outcome::Refused { .. }) {
                            "refused the new copy"
                        } else {
                            "fetch failed"
                        },
                        esc(reason),
                        delay.as_secs()
                    );
                    out.push(o);
                }
            }
        }
        out
    }
}

/// The IdP with trust from `xml`, checked as at start-up, and not expired;
/// with `xml` back, for the saved copy. The bytes are parsed in place, not
/// copied, so a large aggregate is held once.
fn accept(current: &Idp, xml: Vec<u8>, now: OffsetDateTime) -> Result<(Idp, Vec<u8>), Outcome> {
    let refused = |reason: String| Outcome::Refused {
        idp: current.id.clone(),
        reason,
    };
    let (next, xml) = current.with_metadata_owned(xml).map_err(refused)?;
    if let Some(v) = next.metadata.valid_until.filter(|v| *v <= now) {
        return Err(refused(format!(
            "validUntil {} has already passed (SAML Metadata §2.3.1)",
            crate::saml::response::fmt_time(v)
        )));
    }
    Ok((next, xml))
}

/// Stops the task started by [`spawn`] when told to, or when dropped.
pub struct RefreshHandle {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl RefreshHandle {
    pub fn stop(mut self) {
        self.stop.take().map(|s| s.send(()));
    }
}

impl Drop for RefreshHandle {
    fn drop(&mut self) {
        self.stop.take().map(|s| s.send(()));
    }
}

/// Runs `r` on a tokio task: sleeps until the next fetch is due (at most
/// `max`, so a clock step is noticed), fetches over HTTP(S) on the blocking
/// pool, applies the result. Nothing to refresh: no task.
pub fn spawn(mut r: Refresher, clock: Arc<dyn Clock>) -> Option<RefreshHandle> {
    let first = r.next_due()?;
    let (tx, mut rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let mut due = first;
        loop {
            let wait = (due - clock.now()).clamp(time::Duration::ZERO, to_time(r.bounds.max));
            let wait = Duration::try_from(wait).unwrap_or(Duration::ZERO);
            tokio::select! {
                _ = &mut rx => return,
                () = tokio::time::sleep(wait) => {}
            }
            let now = clock.now();
            let Ok(back) = tokio::task::spawn_blocking(move || {
                r.run_due(now, &fetch);
                r
            })
            .await
            else {
                log::error!("metadata refresh: the fetch task failed; refresh stops");
                return;
            };
            r = back;
            due = r.next_due().unwrap_or(now + to_time(r.bounds.max));
        }
    });
    Some(RefreshHandle { stop: Some(tx) })
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: RefreshBounds = RefreshBounds {
        min: Duration::from_secs(300),
        max: Duration::from_secs(86400),
    };

    fn t(s: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000 + s).unwrap()
    }

    #[test]
    fn next_fetch_follows_cache_duration_and_valid_until_within_bounds() {
        let now = t(0);
        // Nothing said: the ceiling.
        assert_eq!(next_fetch(now, None, None, B), t(86400));
        // cacheDuration PT6H.
        assert_eq!(
            next_fetch(now, Some(time::Duration::hours(6)), None, B),
            t(6 * 3600)
        );
        // A week of cacheDuration is capped at the ceiling; a second at the floor.
        assert_eq!(
            next_fetch(now, Some(time::Duration::days(7)), None, B),
            t(86400)
        );
        assert_eq!(
            next_fetch(now, Some(time::Duration::seconds(1)), None, B),
            t(300)
        );
        // validUntil in 4 h: at half the time left, sooner than cacheDuration.
        assert_eq!(
            next_fetch(now, Some(time::Duration::hours(6)), Some(t(4 * 3600)), B),
            t(2 * 3600)
        );
        // validUntil already past or very near: the floor, never a busy loop.
        assert_eq!(next_fetch(now, None, Some(t(-10)), B), t(300));
        assert_eq!(next_fetch(now, None, Some(t(60)), B), t(300));
    }

    /// IdP metadata with a fresh certificate and the given root attributes.
    fn md(attrs: &str) -> (Vec<u8>, Vec<u8>) {
        use base64::Engine;
        let (_, cert) = crate::keys::generate("refresh-test-idp").unwrap();
        let der = cert.to_der().unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode(&der);
        let xml = format!(
            r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="https://idp.example.org/" {attrs}><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{b64}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example.org/sso"/></md:IDPSSODescriptor></md:EntityDescriptor>"#
        );
        (xml.into_bytes(), der)
    }

    /// One round at a time with a fixed `now` and a scripted fetch: not due
    /// means no fetch; a good copy replaces the IdP and is scheduled from
    /// its cacheDuration; refused or failed copies leave it and back off.
    #[test]
    fn rounds_replace_good_copies_and_keep_the_last_good_one() {
        use crate::config::source::MemorySource;
        use crate::config::FetchedMetadata;
        use std::cell::{Cell, RefCell};
        let dir = tempfile::tempdir().unwrap();
        let url = "https://idp.example.org/md";
        let (first, first_der) = md("");
        let mut src = MemorySource::default();
        src.remote.insert(
            url.into(),
            FetchedMetadata {
                xml: first,
                fallback: None,
            },
        );
        let file = dir.path().join("samlhub.toml");
        src.files.insert(
            file.clone(),
            format!(
                "data_dir = '{}'
metadata_refresh_min = '1m'
metadata_refresh_max = '1h'
[[idp]]
id = 'corp'
metadata_url = '{url}'
",
                dir.path().display()
            )
            .into_bytes(),
        );
        let config = crate::config::load(Some(&file), &Default::default(), &src).unwrap();
        let directory = Arc::new(IdpDirectory::new(config.idps.clone(), 0));
        let mut r = Refresher::new(&config, directory.clone(), t(0));
        assert_eq!(r.next_due(), Some(t(3600)));
        // Started from the saved copy (the IdP was down): retried at the floor.
        let mut saved = config.clone();
        if let Some(o) = saved.idps[0].metadata_origin.as_mut() {
            o.from_saved_copy = true;
        }
        let d = Arc::new(IdpDirectory::new(saved.idps.clone(), 0));
        assert_eq!(
            Refresher::new(&saved, d.clone(), t(0)).next_due(),
            Some(t(60))
        );
        // A reload that could only read the saved copy keeps the age of the
        // copy in use; one that fetched starts it over.
        d.replace_all(config.idps.clone(), 5);
        d.replace_all(saved.idps.clone(), 9);
        assert_eq!(d.snapshot().loaded_at("corp"), Some(5));
        d.replace_all(config.idps.clone(), 11);
        assert_eq!(d.snapshot().loaded_at("corp"), Some(11));
        let certs = || {
            directory
                .get("corp")
                .unwrap()
                .metadata
                .signing_certs
                .clone()
        };

        let calls = Cell::new(0);
        let answer: RefCell<Result<Vec<u8>, String>> = RefCell::new(Err("unset".into()));
        let get = |u: &str| {
            assert_eq!(u, url);
            calls.set(calls.get() + 1);
            answer.borrow().clone()
        };
        assert!(r.run_due(t(3599), &get).is_empty());
        assert_eq!(calls.get(), 0);

        let (second, second_der) = md("cacheDuration=\"PT10M\"");
        *answer.borrow_mut() = Ok(second.clone());
        let out = r.run_due(t(3600), &get);
        assert_eq!(out, [Outcome::Replaced { idp: "corp".into() }]);
        assert_eq!(certs(), std::slice::from_ref(&second_der));
        assert_ne!(first_der, second_der);
        // The metadata's age counts from this fetch.
        let loaded = || directory.snapshot().loaded_at("corp");
        assert_eq!(loaded(), Some(t(3600).unix_timestamp()));
        assert_eq!(r.next_due(), Some(t(3600 + 600)));
        let saved = std::fs::read(cache_path(dir.path(), "corp")).unwrap();
        assert_eq!(saved, second);

        // Refused: not metadata; then already expired. The IdP and the saved
        // copy stay; retries come after 1m, then 2m.
        *answer.borrow_mut() = Ok(b"<html/>".to_vec());
        let out = r.run_due(t(4200), &get);
        assert!(
            matches!(&out[..], [Outcome::Refused { reason, .. }] if reason.contains("root element"))
        );
        assert_eq!(r.next_due(), Some(t(4200 + 60)));
        let (expired, _) = md("validUntil=\"2020-01-01T00:00:00Z\"");
        *answer.borrow_mut() = Ok(expired);
        let out = r.run_due(t(4260), &get);
        assert!(
            matches!(&out[..], [Outcome::Refused { reason, .. }] if reason.contains("validUntil"))
        );
        assert_eq!(r.next_due(), Some(t(4260 + 120)));
        *answer.borrow_mut() = Err("HTTP 500".into());
        let out = r.run_due(t(4380), &get);
        assert!(matches!(&out[..], [Outcome::FetchFailed { reason, .. }] if reason == "HTTP 500"));
        assert_eq!(r.next_due(), Some(t(4380 + 240)));
        assert_eq!(certs(), [second_der]);
        assert_eq!(loaded(), Some(t(3600).unix_timestamp()));
        assert_eq!(
            std::fs::read(cache_path(dir.path(), "corp")).unwrap(),
            second
        );
        assert_eq!(calls.get(), 4);

        // A reload swaps the set; a copy fetched for the IdP it replaced is
        // then dropped, not put back over the reloaded one.
        let stale = directory.get("corp").unwrap();
        let change = directory.replace_all(config.idps.clone(), 7);
        assert_eq!(change, crate::directory::SetChange::default());
        assert_eq!(loaded(), Some(7));
        assert!(!directory.replace(&stale, (*stale).clone(), 9));
        assert_eq!(loaded(), Some(7));
        let fresh = directory.get("corp").unwrap();
        assert!(directory.replace(&fresh, (*fresh).clone(), 9));
        assert_eq!(loaded(), Some(9));
    }

    #[test]
    fn retry_backs_off_exponentially_up_to_the_cap() {
        let secs: Vec<u64> = (1..=11).map(|n| retry_delay(n, B).as_secs()).collect();
        assert_eq!(
            secs,
            [300, 600, 1200, 2400, 4800, 9600, 19200, 38400, 76800, 86400, 86400]
        );
        assert_eq!(retry_delay(40, B), B.max);
        assert_eq!(retry_delay(u32::MAX, B), B.max);
    }
}
