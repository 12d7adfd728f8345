//! From IdP metadata bytes to the trust an [`Idp`] holds, the same way at
//! start-up and on every refresh: the pinned metadata signer checked first
//! (`metadata_signing_cert`, SAML Metadata §3.1), then the entity chosen, its
//! signing certificates parsed into keys, an SSO endpoint for its binding checked.
//! Also the rules for `metadata_url` itself (an `http://` URL needs a pinned
//! signer or an explicit opt-in) and the `metadata_refresh_*` bounds.

use super::{check_base_url, parse_duration_or, Idp, Problems};
use crate::saml::dsig::TrustedKey;
use crate::saml::metadata::{self, IdpMetadata, PinnedSigner, SsoBinding};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The pinned signer of an IdP's metadata (`metadata_signing_cert`): every
/// certificate in the PEM file is trusted, so a federation's signer can be
/// rolled by listing the old and the new one.
#[derive(Debug, Clone)]
pub struct MetadataSigner {
    pub path: PathBuf,
    pub keys: Vec<TrustedKey>,
    /// The DER certificates, for expiry warnings.
    pub certs: Vec<Vec<u8>>,
}

/// Where an IdP's metadata is fetched from, and how it is selected and
/// checked; what the refresh needs to redo start-up's work.
#[derive(Debug, Clone)]
pub struct MetadataOrigin {
    pub url: String,
    /// `entity_id`: the entity to take from an aggregate.
    pub entity_id: Option<String>,
    /// Start-up could not fetch it and used the saved copy, so the first
    /// refresh is due at once rather than when the old copy says.
    pub from_saved_copy: bool,
}

/// What metadata yields for an [`Idp`].
#[derive(Debug, Clone)]
pub struct Trust {
    pub metadata: IdpMetadata,
    pub keys: Vec<TrustedKey>,
}

/// A reason metadata is refused: about the SSO endpoint (so that an
/// explicit `sso_binding` can be named), or anything else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    Sso(String),
    Metadata(String),
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Sso(m) | Problem::Metadata(m) => f.write_str(m),
        }
    }
}

/// Checks and reads `xml`: signature (when a signer is pinned), entity
/// selection, certificates, an SSO endpoint usable with `sso_binding`
/// (SAML Metadata §2.4.3). Every problem is returned.
pub fn trust_from_xml(
    xml: &[u8],
    entity_id: Option<&str>,
    signer: Option<&MetadataSigner>,
    allow_sha1: bool,
    sso_binding: Option<SsoBinding>,
) -> Result<Trust, Vec<Problem>> {
    let pinned = signer.map(|s| PinnedSigner {
        keys: &s.keys,
        allow_sha1,
    });
    let md = metadata::parse_idp_signed(xml, entity_id, pinned)
        .map_err(|e| vec![Problem::Metadata(e.to_string())])?;
    trust_from_metadata(md, sso_binding)
}

/// [`trust_from_xml`] over bytes it takes, for large documents: the
/// metadata is parsed and verified over them, not over a copy
/// (`metadata::parse_idp_signed_owned`). On success the bytes come back
/// unchanged, for the saved copy of a fetched document.
pub fn trust_from_owned(
    xml: Vec<u8>,
    entity_id: Option<&str>,
    signer: Option<&MetadataSigner>,
    allow_sha1: bool,
    sso_binding: Option<SsoBinding>,
) -> Result<(Trust, Vec<u8>), Vec<Problem>> {
    let pinned = signer.map(|s| PinnedSigner {
        keys: &s.keys,
        allow_sha1,
    });
    let (md, xml) = metadata::parse_idp_signed_owned(xml, entity_id, pinned)
        .map_err(|e| vec![Problem::Metadata(e.to_string())])?;
    Ok((trust_from_metadata(md, sso_binding)?, xml))
}

/// The keys and SSO endpoint checks of [`trust_from_xml`], once the
/// metadata is read.
fn trust_from_metadata(
    md: IdpMetadata,
    sso_binding: Option<SsoBinding>,
) -> Result<Trust, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut keys = Vec::new();
    for (n, der) in md.signing_certs.iter().enumerate() {
        match TrustedKey::from_cert_der(der) {
            Ok(k) => keys.push(k),
            Err(e) => problems.push(Problem::Metadata(format!(
                "signing certificate #{}: {e}",
                n + 1
            ))),
        }
    }
    match md.sso_endpoint(sso_binding) {
        Ok(e) => {
            if let Err(m) = check_base_url(&e.location) {
                problems.push(Problem::Sso(format!("SingleSignOnService Location: {m}")));
            }
        }
        Err(e) => problems.push(Problem::Sso(e.to_string())),
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Trust { metadata: md, keys })
}

impl Idp {
    /// This IdP with its trust read from a new copy of its metadata, checked
    /// exactly as at start-up. On refusal the reasons, joined.
    pub fn with_metadata(&self, xml: &[u8]) -> Result<Idp, String> {
        self.with_metadata_owned(xml.to_vec()).map(|(idp, _)| idp)
    }

    /// [`Idp::with_metadata`] over bytes it takes (`trust_from_owned`),
    /// which come back unchanged on success, for the saved copy.
    pub fn with_metadata_owned(&self, xml: Vec<u8>) -> Result<(Idp, Vec<u8>), String> {
        let entity_id = self
            .metadata_origin
            .as_ref()
            .and_then(|o| o.entity_id.as_deref());
        let (t, xml) = trust_from_owned(
            xml,
            entity_id,
            self.metadata_signer.as_ref(),
            self.allow_sha1,
            self.sso_binding,
        )
        .map_err(|p| {
            p.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        })?;
        let mut next = self.clone();
        next.metadata = t.metadata;
        next.keys = t.keys;
        Ok((next, xml))
    }
}

/// Reads `metadata_signing_cert`: one or more PEM certificates.
pub(super) fn load_signer(bytes: &[u8], path: &Path) -> Result<MetadataSigner, String> {
    let certs = openssl::x509::X509::stack_from_pem(bytes)
        .map_err(|_| format!("'{}' is not a PEM certificate", path.display()))?;
    if certs.is_empty() {
        return Err(format!("'{}' holds no certificate", path.display()));
    }
    let mut keys = Vec::new();
    let mut ders = Vec::new();
    for c in &certs {
        let der = c
            .to_der()
            .map_err(|e| format!("'{}': {e}", path.display()))?;
        keys.push(
            TrustedKey::from_cert_der(&der).map_err(|e| format!("'{}': {e}", path.display()))?,
        );
        ders.push(der);
    }
    Ok(MetadataSigner {
        path: path.to_path_buf(),
        keys,
        certs: ders,
    })
}

/// Metadata fetched over plain `http://` can be changed by anyone on the
/// path, keys included, so it is refused unless a pinned signer protects it
/// or the admin accepts the risk (`allow_insecure_metadata_url = true`,
/// which then warns at every start and in check-config).
pub(super) fn check_transport(
    url: &str,
    signed: bool,
    allow_insecure: bool,
    key: &str,
    p: &mut Problems,
    warnings: &mut Vec<String>,
) {
    if !url
        .get(..7)
        .is_some_and(|s| s.eq_ignore_ascii_case("http://"))
        || signed
    {
        return;
    }
    if allow_insecure {
        warnings.push(format!(
            "{key}: '{url}' is plain http and its metadata is not signed by a pinned signer; anyone on the network path can replace this IdP's keys (allow_insecure_metadata_url = true)"
        ));
    } else {
        p.add(
            key,
            format!("'{url}' is plain http: use https, pin the metadata signer with metadata_signing_cert, or accept the risk with allow_insecure_metadata_url = true"),
        );
    }
}

/// How often a `metadata_url` is fetched again: the metadata's own
/// `cacheDuration`/`validUntil` decide, clamped between these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshBounds {
    /// `metadata_refresh_min` (default 5m): never sooner than this, and the
    /// first retry after a failure.
    pub min: Duration,
    /// `metadata_refresh_max` (default 24h): never later than this, and the
    /// cap of the retry backoff.
    pub max: Duration,
}

impl Default for RefreshBounds {
    fn default() -> Self {
        Self {
            min: Duration::from_secs(300),
            max: Duration::from_secs(86400),
        }
    }
}

/// The longest `metadata_refresh_min` / `metadata_refresh_max` accepted.
const MAX_REFRESH_BOUND: std::time::Duration = std::time::Duration::from_secs(365 * 86_400);

pub(super) fn load_bounds(min: Option<&str>, max: Option<&str>, p: &mut Problems) -> RefreshBounds {
    let d = RefreshBounds::default();
    let min = parse_duration_or(p, "metadata_refresh_min", min, d.min.as_secs());
    let max = parse_duration_or(p, "metadata_refresh_max", max, d.max.as_secs());
    if min.is_zero() {
        p.add("metadata_refresh_min", "must be at least 1s");
    }
    if max < min {
        p.add(
            "metadata_refresh_max",
            "must not be shorter than metadata_refresh_min",
        );
    }
    // The refresh schedule adds these to the clock; a bound past a year is
    // a typo, and one past the calendar's range could not be scheduled.
    for (key, v) in [("metadata_refresh_min", min), ("metadata_refresh_max", max)] {
        if v > MAX_REFRESH_BOUND {
            p.add(key, "must be at most 365d");
        }
    }
    RefreshBounds { min, max }
}
