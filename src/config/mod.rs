//! Configuration: a TOML file (optional) plus `SAMLHUB_*` environment
//! overrides, read into raw structs that keep unknown keys, then validated
//! into [`Config`] with every problem collected before any is reported.
//! IdP metadata is parsed and its certificates checked here, once, so the
//! request path never parses keys. Reading files and fetching metadata is
//! the caller's [`Source`]; this module does no I/O of its own.

pub mod container;
pub mod domains;
pub mod expiry;
pub mod ha;
mod idp;
use idp::{check_unsolicited, discover_idps, load_idp};
pub mod oidc;
pub mod ops;
pub mod rate_limit;
pub mod restart;
pub mod source;
mod store;
pub mod trust;
mod urls;

pub use source::{Fallback, FetchError, FetchedMetadata, MetadataRequest, Source};
pub use trust::{MetadataOrigin, MetadataSigner, RefreshBounds};
pub(crate) use urls::check_base_url;
pub use urls::{PublicUrl, UrlError};

use crate::saml::dsig::TrustedKey;
use crate::saml::mapping::{AttributeMap, AttributeOverrides, Profile};
use crate::saml::metadata::{self, IdpMetadata, SsoBinding, SsoEndpoint};
use crate::saml::response::IdpTrust;
use crate::saml::unsolicited::UnsolicitedTarget;
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
    rate_limit: Option<rate_limit::RawRateLimit>,
    log_format: Option<String>,
    audit_user: Option<String>,
    metrics: Option<bool>,
    metrics_listen: Option<String>,
    #[serde(flatten)]
    unknown: BTreeMap<String, toml::Value>,
    metadata_refresh_min: Option<String>,
    metadata_refresh_max: Option<String>,
    cert_expiry_warning_days: Option<u32>,
    store_timeout: Option<String>,
    replay_wait_replicas: Option<i64>,
    store_tls: Option<store::RawStoreTls>,
    /// IdP groups whose members may open `/setup`.
    admin_groups: Option<Vec<String>>,
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
    allow_non_ncname_ids: Option<bool>,
    domains: Option<Vec<String>>,
    #[serde(flatten)]
    unknown: BTreeMap<String, toml::Value>,
    sso_binding: Option<String>,
    allow_unsolicited: Option<bool>,
    unsolicited_target: Option<String>,
    metadata_signing_cert: Option<String>,
    allow_insecure_metadata_url: Option<bool>,
}

/// One IdP, validated, with its metadata loaded and keys parsed.
#[derive(Debug, Clone)]
pub struct Idp {
    pub id: String,
    pub display_name: String,
    pub profile: Profile,
    pub metadata: IdpMetadata,
    pub keys: Vec<TrustedKey>,
    pub allow_sha1: bool,
    /// Accept AES-CBC encrypted assertions without a Response signature.
    pub allow_cbc: bool,
    /// Accept RSA PKCS#1 v1.5 key transport for encrypted assertions.
    pub allow_rsa1_5: bool,
    /// The IdP vouches for the email addresses it sends (OIDC `email_verified`).
    pub email_verified: bool,
    pub clock_skew: time::Duration,
    pub attributes: AttributeMap,
    /// Accept message `ID`s that are not NCNames (a leading digit); IDs
    /// must still be unique.
    pub allow_non_ncname_ids: bool,
    /// Email domains whose people sign in here (`domains`), lowercase:
    /// `login_hint` / `domain_hint` pick this IdP without the chooser.
    pub domains: Vec<String>,
    /// `sso_binding`: how AuthnRequests go out; `None` picks Redirect when
    /// the metadata offers it, else POST ([`Idp::sso`]).
    pub sso_binding: Option<SsoBinding>,
    /// `allow_unsolicited`: accept IdP-initiated responses (SAML Profiles §4.1.5).
    pub allow_unsolicited: bool,
    /// `unsolicited_target`: where an IdP-initiated login lands.
    pub unsolicited_target: UnsolicitedTarget,
    /// Set for a `metadata_url`: what the refresh fetches and selects.
    pub metadata_origin: Option<MetadataOrigin>,
    /// `metadata_signing_cert`: who must have signed the metadata.
    pub metadata_signer: Option<MetadataSigner>,
    /// Where the metadata came from, for the setup page: `file <path>`,
    /// `url <url>`, or the URL and the saved copy used instead.
    pub metadata_source: String,
}

impl Idp {
    /// The SSO endpoint AuthnRequests are sent to, from the current metadata.
    pub fn sso(&self) -> Result<SsoEndpoint, metadata::MetadataError> {
        self.metadata.sso_endpoint(self.sso_binding)
    }

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
            allow_non_ncname_ids: self.allow_non_ncname_ids,
        }
    }
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub file: Option<PathBuf>,
    /// Base of every URL we publish, without a trailing slash.
    pub public_url: PublicUrl,
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
    /// `[rate_limit]`: per-address limits on endpoints that write state.
    pub rate_limit: rate_limit::RateLimitSettings,
    /// Non-fatal observations (e.g. metadata served from cache).
    pub warnings: Vec<String>,
    /// `metadata_refresh_min` / `metadata_refresh_max`.
    pub metadata_refresh: RefreshBounds,
    /// `cert_expiry_warning_days`: warn this long before a trusted
    /// certificate expires.
    pub cert_expiry_warning_days: u32,
    /// `log_format`, `audit_user`, `metrics`, `metrics_listen`.
    pub ops: ops::Ops,
    /// `admin_groups`: members of any of these IdP groups may open `/setup`
    /// (besides whoever redeems the first-start setup token).
    pub admin_groups: Vec<String>,
}

impl Config {
    /// `path` under [`Config::public_url`].
    pub fn url(&self, path: &str) -> String {
        self.public_url.join(path)
    }
    pub fn acs_url(&self) -> String {
        self.url(crate::routes::SAML_ACS)
    }
    pub fn metadata_url(&self) -> String {
        self.url(crate::routes::SAML_METADATA)
    }
    pub fn https(&self) -> bool {
        self.public_url.is_https()
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

/// Loads and validates. `env` is the process environment (passed in for
/// tests); `src` reads the config file, metadata files and `metadata_url`s.
pub fn load(
    file: Option<&Path>,
    env: &BTreeMap<String, String>,
    src: &dyn Source,
) -> Result<Config, ConfigError> {
    let source_name = file
        .map(|f| f.display().to_string())
        .unwrap_or_else(|| "(defaults)".into());
    let mut p = Problems(Vec::new());
    let mut raw = match file {
        None => RawConfig::default(),
        Some(f) => match read_text(src, f) {
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
        if !var.starts_with("SAMLHUB_")
            || var == "SAMLHUB_CONFIG"
            || var == container::IN_CONTAINER_ENV
        {
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

    if let Some(m) = container::public_url_problem(env, raw.public_url.as_deref()) {
        p.add("public_url", m);
    }
    let listen = raw.listen.as_deref().unwrap_or("127.0.0.1:8080");
    let listen: SocketAddr = listen.parse().unwrap_or_else(|_| {
        p.add(
            "listen",
            format!("'{listen}' is not an address:port such as 127.0.0.1:8080"),
        );
        SocketAddr::from(([127, 0, 0, 1], 8080))
    });
    let listen_url = format!("http://{listen}");
    let public_url = PublicUrl::parse(raw.public_url.as_deref().unwrap_or(&listen_url))
        .map_err(|m| p.add("public_url", m.to_string()))
        .ok();
    let data_dir = raw
        .data_dir
        .as_deref()
        .map(rel)
        .unwrap_or_else(|| PathBuf::from("./samlhub-data"));
    let store = store::load(
        store::RawStore {
            store: raw.store.as_deref(),
            timeout: raw.store_timeout.as_deref(),
            wait_replicas: raw.replay_wait_replicas,
            tls: raw.store_tls.take(),
        },
        &data_dir,
        &rel,
        src,
        &mut p,
    );
    let entity_id = match raw.entity_id {
        Some(e) if url::Url::parse(&e).is_ok() || e.starts_with("urn:") => e,
        Some(e) => {
            p.add("entity_id", format!("'{e}' is not a URI"));
            e
        }
        None => public_url
            .as_ref()
            .map(|u| u.join(crate::routes::SAML_METADATA))
            .unwrap_or_default(),
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
        discover_idps(src, &data_dir)
    } else {
        raw.idp
    };
    for (i, r) in raw_idps.into_iter().enumerate() {
        let key = |k: &str| format!("idp[{i}].{k}");
        if let Some(idp) = load_idp(r, &key, &rel, src, &data_dir, &mut p, &mut warnings) {
            if idps.iter().any(|x: &Idp| x.id == idp.id) {
                p.add(key("id"), format!("'{}' is used by two IdPs", idp.id));
            }
            idps.push(idp);
        }
    }
    domains::check_unique(&mut p, &idps);
    let idp_ids: Vec<String> = idps.iter().map(|i| i.id.clone()).collect();
    let mut has = Vec::new();
    for (i, r) in raw.ha.into_iter().enumerate() {
        let key = |k: &str| format!("ha[{i}].{k}");
        if let Some(h) = ha::load(r, &key, &rel, src, &idp_ids, &mut p) {
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
        .map(|o| oidc::load(o, &idp_ids, &mut p, &mut warnings))
        .unwrap_or_default();
    let rate_limit = rate_limit::load(raw.rate_limit, &mut p);
    check_unsolicited(&idps, &has, &oidc, &mut p);
    let metadata_refresh = trust::load_bounds(
        raw.metadata_refresh_min.as_deref(),
        raw.metadata_refresh_max.as_deref(),
        &mut p,
    );
    let ops = ops::load(
        ops::RawOps {
            log_format: raw.log_format.as_deref(),
            audit_user: raw.audit_user.as_deref(),
            metrics: raw.metrics,
            metrics_listen: raw.metrics_listen.as_deref(),
        },
        &mut p,
    );
    let public_url = match public_url {
        Some(u) if p.0.is_empty() => u,
        _ => {
            return Err(ConfigError {
                source_name,
                problems: p.0,
            })
        }
    };
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
        rate_limit,
        warnings,
        metadata_refresh,
        cert_expiry_warning_days: raw.cert_expiry_warning_days.unwrap_or(30),
        ops,
        admin_groups: raw.admin_groups.unwrap_or_default(),
    })
}

/// A file's content as UTF-8 text.
fn read_text(src: &dyn Source, path: &Path) -> std::io::Result<String> {
    String::from_utf8(src.read(path)?).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "stream did not contain valid UTF-8",
        )
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
mod tests;
