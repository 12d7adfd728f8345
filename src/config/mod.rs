//! Configuration: a TOML file (optional) plus `SAMLHUB_*` environment
//! overrides, read into raw structs that keep unknown keys, then validated
//! into [`Config`] with every problem collected before any is reported.
//! IdP metadata is loaded and its certificates checked here, once, so the
//! request path never parses keys.

pub mod ha;
pub mod oidc;

use crate::saml::dsig::TrustedKey;
use crate::saml::mapping::{AttributeMap, AttributeOverrides, Profile};
use crate::saml::metadata::{self, IdpMetadata, BINDING_REDIRECT};
use crate::saml::response::IdpTrust;
use crate::store::StoreSpec;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Environment variables that override top-level keys.
pub const ENV_KEYS: &[(&str, &str)] = &[
    ("SAMLHUB_PUBLIC_URL", "public_url"),
    ("SAMLHUB_LISTEN", "listen"),
    ("SAMLHUB_DATA", "data_dir"),
    ("SAMLHUB_STORE", "store"),
    ("SAMLHUB_ENTITY_ID", "entity_id"),
    ("SAMLHUB_SESSION_LIFETIME", "session_lifetime"),
];

#[derive(Debug, Default, Deserialize)]
struct RawConfig {
    public_url: Option<String>,
    listen: Option<String>,
    data_dir: Option<String>,
    store: Option<String>,
    entity_id: Option<String>,
    session_lifetime: Option<String>,
    #[serde(default)]
    idp: Vec<RawIdp>,
    #[serde(default)]
    ha: Vec<ha::RawHa>,
    oidc: Option<oidc::RawOidc>,
    #[serde(flatten)]
    unknown: BTreeMap<String, toml::Value>,
}

#[derive(Debug, Default, Deserialize)]
struct RawIdp {
    id: Option<String>,
    display_name: Option<String>,
    metadata_file: Option<String>,
    metadata_url: Option<String>,
    entity_id: Option<String>,
    profile: Option<String>,
    allow_sha1: Option<bool>,
    allow_cbc: Option<bool>,
    allow_rsa1_5: Option<bool>,
    email_verified: Option<bool>,
    clock_skew: Option<String>,
    attributes: Option<toml::Value>,
    #[serde(flatten)]
    unknown: BTreeMap<String, toml::Value>,
}

/// One IdP, validated, with its metadata loaded and keys parsed.
#[derive(Debug, Clone)]
pub struct Idp {
    pub id: String,
    pub display_name: String,
    pub profile: Profile,
    pub metadata: IdpMetadata,
    pub keys: Vec<TrustedKey>,
    pub sso_redirect: String,
    pub allow_sha1: bool,
    /// Accept AES-CBC encrypted assertions without a Response signature.
    pub allow_cbc: bool,
    /// Accept RSA PKCS#1 v1.5 key transport for encrypted assertions.
    pub allow_rsa1_5: bool,
    /// The IdP vouches for the email addresses it sends (OIDC `email_verified`).
    pub email_verified: bool,
    pub clock_skew: time::Duration,
    pub attributes: AttributeMap,
}

impl Idp {
    /// The trust the validation pipeline needs.
    pub fn trust(&self) -> IdpTrust<'_> {
        IdpTrust {
            id: &self.id,
            entity_id: &self.metadata.entity_id,
            keys: &self.keys,
            allow_sha1: self.allow_sha1,
            allow_cbc: self.allow_cbc,
            allow_rsa1_5: self.allow_rsa1_5,
            clock_skew: self.clock_skew,
            attributes: &self.attributes,
        }
    }
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub file: Option<PathBuf>,
    /// Base of every URL we publish, without a trailing slash.
    pub public_url: String,
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub store: StoreSpec,
    pub entity_id: String,
    pub session_lifetime: Duration,
    pub idps: Vec<Idp>,
    /// Home Assistant instances (`[[ha]]`).
    pub ha: Vec<ha::HaInstance>,
    /// The OpenID Connect provider and its clients.
    pub oidc: crate::oidc::client::Oidc,
    /// Non-fatal observations (e.g. metadata served from cache).
    pub warnings: Vec<String>,
}

impl Config {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.public_url, path)
    }
    pub fn acs_url(&self) -> String {
        self.url(crate::routes::SAML_ACS)
    }
    pub fn metadata_url(&self) -> String {
        self.url(crate::routes::SAML_METADATA)
    }
    pub fn https(&self) -> bool {
        self.public_url.starts_with("https://")
    }
    pub fn idp(&self, id: &str) -> Option<&Idp> {
        self.idps.iter().find(|i| i.id == id)
    }
    pub fn ha(&self, id: &str) -> Option<&ha::HaInstance> {
        self.ha.iter().find(|i| i.id == id)
    }
}

/// Everything wrong with a configuration, one line per problem.
#[derive(Debug, thiserror::Error)]
#[error("{}", self.lines().join("\n"))]
pub struct ConfigError {
    pub source_name: String,
    pub problems: Vec<(String, String)>,
}

impl ConfigError {
    pub fn lines(&self) -> Vec<String> {
        self.problems
            .iter()
            .map(|(k, m)| format!("{}: {k}: {m}", self.source_name))
            .collect()
    }
}

pub(crate) struct Problems(Vec<(String, String)>);

impl Problems {
    fn add(&mut self, key: impl Into<String>, msg: impl Into<String>) {
        self.0.push((key.into(), msg.into()));
    }
}

/// Loads and validates. `env` is the process environment (passed in for tests).
pub fn load(file: Option<&Path>, env: &BTreeMap<String, String>) -> Result<Config, ConfigError> {
    let source_name = file
        .map(|f| f.display().to_string())
        .unwrap_or_else(|| "(defaults)".into());
    let mut p = Problems(Vec::new());
    let mut raw = match file {
        None => RawConfig::default(),
        Some(f) => match std::fs::read_to_string(f) {
            Err(e) => {
                p.add("(file)", format!("cannot read: {e}"));
                RawConfig::default()
            }
            Ok(text) => match toml::from_str::<RawConfig>(&text) {
                Ok(r) => r,
                Err(e) => {
                    p.add(
                        "(syntax)",
                        e.message().to_string() + &span_hint(&text, e.span()),
                    );
                    RawConfig::default()
                }
            },
        },
    };
    for k in raw.unknown.keys() {
        p.add(k, "unknown key");
    }
    for (var, val) in env {
        if !var.starts_with("SAMLHUB_") || var == "SAMLHUB_CONFIG" {
            continue;
        }
        let slot = match ENV_KEYS.iter().find(|(v, _)| v == var).map(|(_, k)| *k) {
            Some("public_url") => &mut raw.public_url,
            Some("listen") => &mut raw.listen,
            Some("data_dir") => &mut raw.data_dir,
            Some("store") => &mut raw.store,
            Some("entity_id") => &mut raw.entity_id,
            Some("session_lifetime") => &mut raw.session_lifetime,
            _ => {
                p.add(var.as_str(), "unknown SAMLHUB_* environment variable");
                continue;
            }
        };
        *slot = Some(val.clone());
    }
    let base = file
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let rel = |s: &str| {
        let pb = PathBuf::from(s);
        if pb.is_absolute() {
            pb
        } else {
            base.join(pb)
        }
    };

    let listen = raw.listen.as_deref().unwrap_or("127.0.0.1:8080");
    let listen: SocketAddr = listen.parse().unwrap_or_else(|_| {
        p.add(
            "listen",
            format!("'{listen}' is not an address:port such as 127.0.0.1:8080"),
        );
        SocketAddr::from(([127, 0, 0, 1], 8080))
    });
    let public_url = match raw.public_url.as_deref() {
        None => format!("http://{listen}"),
        Some(u) => check_base_url(u).unwrap_or_else(|m| {
            p.add("public_url", m);
            String::new()
        }),
    };
    let data_dir = raw
        .data_dir
        .as_deref()
        .map(rel)
        .unwrap_or_else(|| PathBuf::from("./samlhub-data"));
    let store = match raw.store.as_deref() {
        None => StoreSpec::Embedded(data_dir.join("store.redb")),
        Some(s) => parse_store(s, &rel).unwrap_or_else(|m| {
            p.add("store", m);
            StoreSpec::Embedded(data_dir.join("store.redb"))
        }),
    };
    let entity_id = match raw.entity_id {
        Some(e) if url::Url::parse(&e).is_ok() || e.starts_with("urn:") => e,
        Some(e) => {
            p.add("entity_id", format!("'{e}' is not a URI"));
            e
        }
        None => format!("{public_url}{}", crate::routes::SAML_METADATA),
    };
    let session_lifetime = parse_duration_or(
        &mut p,
        "session_lifetime",
        raw.session_lifetime.as_deref(),
        8 * 3600,
    );

    let mut warnings = Vec::new();
    let mut idps = Vec::new();
    let raw_idps = if file.is_none() && raw.idp.is_empty() {
        discover_idps(&data_dir)
    } else {
        raw.idp
    };
    for (i, r) in raw_idps.into_iter().enumerate() {
        let key = |k: &str| format!("idp[{i}].{k}");
        if let Some(idp) = load_idp(r, &key, &rel, &data_dir, &mut p, &mut warnings) {
            if idps.iter().any(|x: &Idp| x.id == idp.id) {
                p.add(key("id"), format!("'{}' is used by two IdPs", idp.id));
            }
            idps.push(idp);
        }
    }
    let idp_ids: Vec<String> = idps.iter().map(|i| i.id.clone()).collect();
    let mut has = Vec::new();
    for (i, r) in raw.ha.into_iter().enumerate() {
        let key = |k: &str| format!("ha[{i}].{k}");
        if let Some(h) = ha::load(r, &key, &rel, &idp_ids, &mut p) {
            if has.iter().any(|x: &ha::HaInstance| x.id == h.id) {
                p.add(
                    key("id"),
                    format!("'{}' is used by two [[ha]] sections", h.id),
                );
            }
            has.push(h);
        }
    }
    let oidc = raw
        .oidc
        .map(|o| oidc::load(o, &idp_ids, &mut p))
        .unwrap_or_default();
    if !p.0.is_empty() {
        return Err(ConfigError {
            source_name,
            problems: p.0,
        });
    }
    Ok(Config {
        file: file.map(Path::to_path_buf),
        public_url,
        listen,
        data_dir,
        store,
        entity_id,
        session_lifetime,
        idps,
        ha: has,
        oidc,
        warnings,
    })
}

fn span_hint(text: &str, span: Option<std::ops::Range<usize>>) -> String {
    span.map(|s| {
        let line = text
            .get(..s.start)
            .map(|t| t.lines().count().max(1))
            .unwrap_or(0);
        format!(" (line {line})")
    })
    .unwrap_or_default()
}

/// With no config file, each `<data>/idp/*.xml` becomes an IdP named after the file.
fn discover_idps(data_dir: &Path) -> Vec<RawIdp> {
    let Ok(rd) = std::fs::read_dir(data_dir.join("idp")) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "xml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .filter_map(|f| {
            let stem = f.file_stem()?.to_string_lossy().to_lowercase();
            let id: String = stem
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '-' {
                        c
                    } else {
                        '-'
                    }
                })
                .collect();
            let text = std::fs::read_to_string(&f).unwrap_or_default();
            let profile = if text.contains("https://sts.windows.net/") {
                "entra"
            } else {
                "generic"
            };
            Some(RawIdp {
                id: Some(id.clone()),
                display_name: Some(id),
                metadata_file: Some(f.to_string_lossy().into_owned()),
                profile: Some(profile.into()),
                ..Default::default()
            })
        })
        .collect()
}

fn load_idp(
    r: RawIdp,
    key: &dyn Fn(&str) -> String,
    rel: &dyn Fn(&str) -> PathBuf,
    data_dir: &Path,
    p: &mut Problems,
    warnings: &mut Vec<String>,
) -> Option<Idp> {
    for k in r.unknown.keys() {
        p.add(key(k), "unknown key");
    }
    let id = r.id.clone().unwrap_or_default();
    check_id(p, key("id"), &id);
    let profile = match r.profile.as_deref().unwrap_or("generic") {
        "entra" => Profile::Entra,
        "keycloak" => Profile::Keycloak,
        "generic" => Profile::Generic,
        other => {
            p.add(
                key("profile"),
                format!("'{other}' is not one of entra, keycloak, generic"),
            );
            Profile::Generic
        }
    };
    let overrides = match r.attributes {
        None => AttributeOverrides::default(),
        Some(v) => v.try_into::<AttributeOverrides>().unwrap_or_else(|e| {
            p.add(key("attributes"), e.message().to_string());
            AttributeOverrides::default()
        }),
    };
    let skew = parse_duration_or(p, &key("clock_skew"), r.clock_skew.as_deref(), 60);
    if skew > Duration::from_secs(600) {
        p.add(key("clock_skew"), "more than 10 minutes of clock skew would keep stolen responses usable; fix the clocks instead");
    }
    let xml = match (&r.metadata_file, &r.metadata_url) {
        (Some(_), Some(_)) => {
            p.add(
                key("metadata_url"),
                "set metadata_file or metadata_url, not both",
            );
            None
        }
        (None, None) => {
            p.add(
                key("metadata_file"),
                "one of metadata_file or metadata_url is required",
            );
            None
        }
        (Some(f), None) => {
            let path = rel(f);
            match std::fs::read(&path) {
                Ok(x) => Some((x, "metadata_file")),
                Err(e) => {
                    p.add(
                        key("metadata_file"),
                        format!("cannot read '{}': {e}", path.display()),
                    );
                    None
                }
            }
        }
        (None, Some(u)) => match check_base_url(u) {
            Err(m) => {
                p.add(key("metadata_url"), m);
                None
            }
            Ok(_) => match fetch_metadata(u, &data_dir.join("idp-cache").join(format!("{id}.xml")))
            {
                Ok((x, note)) => {
                    if let Some(n) = note {
                        warnings.push(format!("{}: {n}", key("metadata_url")));
                    }
                    Some((x, "metadata_url"))
                }
                Err(m) => {
                    p.add(key("metadata_url"), m);
                    None
                }
            },
        },
    };
    let (xml, mkey) = xml?;
    let md = match metadata::parse_idp(&xml, r.entity_id.as_deref()) {
        Ok(m) => m,
        Err(e) => {
            p.add(key(mkey), e.to_string());
            return None;
        }
    };
    let mut keys = Vec::new();
    for (n, der) in md.signing_certs.iter().enumerate() {
        match TrustedKey::from_cert_der(der) {
            Ok(k) => keys.push(k),
            Err(e) => p.add(key(mkey), format!("signing certificate #{}: {e}", n + 1)),
        }
    }
    let sso_redirect = md.sso_for(BINDING_REDIRECT).unwrap_or_default().to_owned();
    if let Err(m) = check_base_url(&sso_redirect) {
        p.add(key(mkey), format!("SingleSignOnService Location: {m}"));
    }
    Some(Idp {
        display_name: r.display_name.unwrap_or_else(|| id.clone()),
        id,
        profile,
        attributes: AttributeMap::new(profile, &overrides),
        keys,
        sso_redirect,
        allow_sha1: r.allow_sha1.unwrap_or(false),
        allow_cbc: r.allow_cbc.unwrap_or(false),
        allow_rsa1_5: r.allow_rsa1_5.unwrap_or(false),
        email_verified: r.email_verified.unwrap_or(false),
        clock_skew: time::Duration::try_from(skew).unwrap_or(time::Duration::MINUTE),
        metadata: md,
    })
}

/// Fetches metadata over HTTP(S), keeping a copy; falls back to that copy
/// (with a warning) when the fetch fails.
fn fetch_metadata(u: &str, cache: &Path) -> Result<(Vec<u8>, Option<String>), String> {
    let agent = crate::outbound::agent(Duration::from_secs(15));
    let fetched = agent
        .get(u)
        .call()
        .map_err(|e| e.to_string())
        .and_then(|r| {
            if r.status().as_u16() == 200 {
                Ok(r)
            } else {
                Err(format!("HTTP {}", r.status().as_u16()))
            }
        })
        .and_then(|mut r| {
            r.body_mut()
                .with_config()
                .limit(crate::xml::Limits::METADATA.max_bytes as u64)
                .read_to_vec()
                .map_err(|e| e.to_string())
        });
    match fetched {
        Ok(x) => {
            if let Some(dir) = cache.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            let _ = std::fs::write(cache, &x);
            Ok((x, None))
        }
        Err(e) => match std::fs::read(cache) {
            Ok(x) => Ok((
                x,
                Some(format!(
                    "fetch failed ({e}); using the copy saved at {}",
                    cache.display()
                )),
            )),
            Err(_) => Err(format!("cannot fetch '{u}': {e}")),
        },
    }
}

/// Ids (`[[idp]] id`, `[[ha]] id`) appear in URLs and store keys: lowercase
/// letters, digits, '-' and '_' only.
pub(crate) fn check_id(p: &mut Problems, key: String, id: &str) {
    let ok = !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !ok {
        p.add(
            key,
            format!("'{id}' must be non-empty lowercase letters, digits, '-' or '_'"),
        );
    }
}

/// An absolute http(s) URL without query or fragment; trailing '/' removed.
pub(crate) fn check_base_url(u: &str) -> Result<String, String> {
    let parsed = url::Url::parse(u).map_err(|e| format!("'{u}' is not a valid URL ({e})"))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(format!(
            "'{u}' must be an http:// or https:// URL with a host"
        ));
    }
    if parsed.fragment().is_some() {
        return Err(format!("'{u}' must not have a #fragment"));
    }
    Ok(u.trim_end_matches('/').to_owned())
}

fn parse_store(s: &str, rel: &dyn Fn(&str) -> PathBuf) -> Result<StoreSpec, String> {
    if let Some(path) = s.strip_prefix("embedded:") {
        if path.is_empty() {
            return Err("embedded: needs a path, e.g. embedded:./samlhub-data/store.redb".into());
        }
        return Ok(StoreSpec::Embedded(rel(path)));
    }
    if s.starts_with("rediss://") {
        return Err("rediss:// (Redis over TLS) is not supported by this build; use redis:// on a trusted network or a TLS tunnel".into());
    }
    if s.starts_with("redis://") {
        url::Url::parse(s).map_err(|e| format!("'{s}' is not a valid Redis URL ({e})"))?;
        return Ok(StoreSpec::Redis(s.to_owned()));
    }
    Err(format!(
        "'{s}' must be embedded:<path> or redis://host:port/db"
    ))
}

pub(crate) fn parse_duration_or(
    p: &mut Problems,
    key: &str,
    v: Option<&str>,
    default_secs: u64,
) -> Duration {
    match v {
        None => Duration::from_secs(default_secs),
        Some(s) => parse_duration(s).unwrap_or_else(|| {
            p.add(
                key,
                format!("'{s}' is not a duration such as 60s, 5m, 8h or 1d"),
            );
            Duration::from_secs(default_secs)
        }),
    }
}

/// `90`, `90s`, `5m`, `8h`, `1d`.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().last()? {
        (i, 's') => (s.get(..i)?, 1),
        (i, 'm') => (s.get(..i)?, 60),
        (i, 'h') => (s.get(..i)?, 3600),
        (i, 'd') => (s.get(..i)?, 86400),
        _ => (s, 1),
    };
    num.trim()
        .parse::<u64>()
        .ok()?
        .checked_mul(mult)
        .map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("60s"), Some(Duration::from_secs(60)));
        assert_eq!(parse_duration("5m"), Some(Duration::from_secs(300)));
        assert_eq!(parse_duration("8h"), Some(Duration::from_secs(28800)));
        assert_eq!(parse_duration("90"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("x"), None);
        assert_eq!(parse_duration(""), None);
    }

    #[test]
    fn collects_every_problem() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("c.toml");
        std::fs::write(
            &f,
            "public_url = 'ftp://x'\nbogus = 1\nstore = 'mysql://x'\n[[idp]]\nid = 'a'\nmetadata_file = 'nope.xml'\ncolour = 'red'\n",
        )
        .unwrap();
        let mut env = BTreeMap::new();
        env.insert("SAMLHUB_NOPE".to_string(), "1".to_string());
        let e = load(Some(&f), &env).unwrap_err();
        let keys: Vec<&str> = e.problems.iter().map(|(k, _)| k.as_str()).collect();
        for k in [
            "bogus",
            "public_url",
            "store",
            "idp[0].colour",
            "idp[0].metadata_file",
            "SAMLHUB_NOPE",
        ] {
            assert!(keys.contains(&k), "{k} missing from {keys:?}");
        }
    }
}
