//! The store keys: `store` (embedded path or Redis URL), `store_timeout`,
//! `replay_wait_replicas` and `[store_tls]`, validated into a [`StoreSpec`].
//! The TLS files are read through the [`Source`] here, once.

use super::{Problems, Source};
use crate::store::{redact_redis_url as redact, RedisSpec, StoreSpec, TlsFiles};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// `[store_tls]`: PEM files for `rediss://` and `rediss+sentinel://`.
#[derive(Debug, Default, Deserialize)]
pub(super) struct RawStoreTls {
    ca_file: Option<String>,
    cert_file: Option<String>,
    key_file: Option<String>,
    #[serde(flatten)]
    unknown: BTreeMap<String, toml::Value>,
}

/// The raw store keys, as read.
pub(super) struct RawStore<'a> {
    pub store: Option<&'a str>,
    pub timeout: Option<&'a str>,
    pub wait_replicas: Option<i64>,
    pub tls: Option<RawStoreTls>,
}

/// Longest `store_timeout` accepted: a request should fail (503) well before
/// a browser or proxy gives up on it.
const MAX_TIMEOUT: Duration = Duration::from_secs(30);

pub(super) fn load(
    raw: RawStore<'_>,
    data_dir: &Path,
    rel: &dyn Fn(&str) -> PathBuf,
    src: &dyn Source,
    p: &mut Problems,
) -> StoreSpec {
    let fallback = || StoreSpec::Embedded(data_dir.join("store.redb"));
    let s = match raw.store {
        None => None,
        Some(s) => match s.strip_prefix("embedded:") {
            Some("") => {
                p.add(
                    "store",
                    "embedded: needs a path, e.g. embedded:./samlhub-data/store.redb",
                );
                None
            }
            Some(path) => return only_embedded(raw, StoreSpec::Embedded(rel(path)), p),
            None => Some(s),
        },
    };
    let Some(url) = s else {
        return only_embedded(raw, fallback(), p);
    };
    let mut spec = match RedisSpec::parse(url) {
        Ok(spec) => spec,
        Err(m) => {
            p.add(
                "store",
                format!(
                    "'{}': {m} (forms: embedded:<path>, redis://host:port/db, \
                     rediss://…, redis+sentinel://s1,s2,s3/service, \
                     redis+cluster://seed1,seed2)",
                    redact(url)
                ),
            );
            return fallback();
        }
    };
    if let Some(t) = raw.timeout {
        match parse_timeout(t) {
            Some(d) if !d.is_zero() && d <= MAX_TIMEOUT => spec.timeout = d,
            _ => p.add(
                "store_timeout",
                format!("'{t}' must be a duration between 1ms and 30s, such as 500ms or 2s"),
            ),
        }
    }
    match raw.wait_replicas.map(u32::try_from) {
        None => {}
        Some(Ok(n)) if n <= 16 => spec.wait_replicas = n,
        Some(_) => p.add("replay_wait_replicas", "must be between 0 and 16"),
    }
    match (raw.tls, spec.tls.as_mut()) {
        (None, _) => {}
        (Some(_), None) => p.add(
            "store_tls",
            "only used with rediss:// or rediss+sentinel:// store URLs",
        ),
        (Some(t), Some(files)) => {
            *files = load_tls(t, rel, src, p);
        }
    }
    // Parses the certificates and key the way connecting will.
    if let Err(e) = spec.check() {
        p.add("store_tls", e);
    }
    StoreSpec::Redis(Box::new(spec))
}

/// The Redis-only keys make no sense with the embedded store.
fn only_embedded(raw: RawStore<'_>, spec: StoreSpec, p: &mut Problems) -> StoreSpec {
    for (set, key) in [
        (raw.timeout.is_some(), "store_timeout"),
        (raw.wait_replicas.is_some(), "replay_wait_replicas"),
        (raw.tls.is_some(), "store_tls"),
    ] {
        if set {
            p.add(key, "only used with a Redis store");
        }
    }
    spec
}

fn load_tls(
    t: RawStoreTls,
    rel: &dyn Fn(&str) -> PathBuf,
    src: &dyn Source,
    p: &mut Problems,
) -> TlsFiles {
    for k in t.unknown.keys() {
        p.add(format!("store_tls.{k}"), "unknown key");
    }
    let mut read = |key: &str, path: Option<String>| -> Option<Vec<u8>> {
        let path = rel(&path?);
        match src.read(&path) {
            Ok(b) if b.windows(10).any(|w| w == b"-----BEGIN") => Some(b),
            Ok(_) => {
                p.add(
                    format!("store_tls.{key}"),
                    format!("{} is not a PEM file", path.display()),
                );
                None
            }
            Err(e) => {
                p.add(
                    format!("store_tls.{key}"),
                    format!("cannot read {}: {e}", path.display()),
                );
                None
            }
        }
    };
    let ca_pem = read("ca_file", t.ca_file);
    let (has_cert, has_key) = (t.cert_file.is_some(), t.key_file.is_some());
    let cert = read("cert_file", t.cert_file);
    let key = read("key_file", t.key_file);
    if has_cert != has_key {
        p.add(
            "store_tls",
            "cert_file and key_file go together (the client certificate and its key)",
        );
    }
    TlsFiles {
        ca_pem,
        client: cert.zip(key),
    }
}

/// `500ms`, or anything [`super::parse_duration`] takes (`2s`, `1m`).
fn parse_timeout(s: &str) -> Option<Duration> {
    match s.trim().strip_suffix("ms") {
        Some(ms) => ms.trim().parse::<u64>().ok().map(Duration::from_millis),
        None => super::parse_duration(s),
    }
}

#[cfg(test)]
mod tests {
    use super::super::{load, source::MemorySource, Config, ConfigError};
    use crate::store::StoreSpec;
    use std::collections::BTreeMap;
    use std::path::PathBuf;
    use std::time::Duration;

    fn load_with(toml: &str, files: &[(&str, Vec<u8>)]) -> Result<Config, ConfigError> {
        let f = PathBuf::from("/etc/samlhub/c.toml");
        let mut src = MemorySource::default();
        src.files.insert(f.clone(), toml.as_bytes().to_vec());
        for (name, body) in files {
            src.files
                .insert(PathBuf::from("/etc/samlhub").join(name), body.clone());
        }
        load(Some(&f), &BTreeMap::new(), &src)
    }

    fn problems(toml: &str) -> Vec<(String, String)> {
        load_with(toml, &[]).unwrap_err().problems
    }

    #[test]
    fn redis_keys_are_read() {
        let c = load_with(
            "store = 'redis+sentinel://:pw@a:26379,b:26379/mymaster'\n\
             store_timeout = '500ms'\nreplay_wait_replicas = 1\n",
            &[],
        )
        .unwrap();
        let StoreSpec::Redis(spec) = &c.store else {
            panic!("not redis: {:?}", c.store)
        };
        assert_eq!(spec.timeout, Duration::from_millis(500));
        assert_eq!(spec.wait_replicas, 1);
        assert!(!c.store.describe().contains("pw"), "{}", c.store.describe());

        let (_, cert) = crate::keys::generate("store-ca").unwrap();
        let c = load_with(
            "store = 'rediss://redis.lan:6380'\n[store_tls]\nca_file = 'ca.crt'\n",
            &[("ca.crt", cert.to_pem().unwrap())],
        )
        .unwrap();
        let StoreSpec::Redis(spec) = &c.store else {
            panic!("not redis")
        };
        assert!(spec.tls.as_ref().is_some_and(|t| t.ca_pem.is_some()));
    }

    #[test]
    fn bad_store_keys_are_reported_without_secrets() {
        for (toml, key) in [
            ("store = 'redis://:hunter2@h:1/x'", "store"),
            (
                "store = 'redis://h:1'\nstore_timeout = '0s'",
                "store_timeout",
            ),
            (
                "store = 'redis://h:1'\nstore_timeout = '40s'",
                "store_timeout",
            ),
            (
                "store = 'redis://h:1'\nstore_timeout = 'soon'",
                "store_timeout",
            ),
            (
                "store = 'redis://h:1'\nreplay_wait_replicas = -1",
                "replay_wait_replicas",
            ),
            ("store_timeout = '2s'", "store_timeout"),
            (
                "store = 'redis://h:1'\n[store_tls]\nca_file = 'ca.crt'",
                "store_tls",
            ),
            (
                "store = 'rediss://h:1'\n[store_tls]\ncert_file = 'c.crt'",
                "store_tls",
            ),
            (
                "store = 'rediss://h:1'\n[store_tls]\nca_file = 'missing.crt'",
                "store_tls.ca_file",
            ),
            (
                "store = 'rediss://h:1'\n[store_tls]\nca = 'x'",
                "store_tls.ca",
            ),
        ] {
            let p = problems(toml);
            assert!(p.iter().any(|(k, _)| k == key), "{toml}: {p:?}");
            assert!(
                p.iter().all(|(_, m)| !m.contains("hunter2")),
                "{toml}: {p:?}"
            );
        }
    }
}
