//! What configuration loading needs from the outside world, as a trait, so
//! `config` itself only parses and validates. The running hub passes the
//! filesystem-and-network implementation (`outbound::metadata`);
//! tests can pass files held in memory.

use std::path::{Path, PathBuf};

/// One `metadata_url` to fetch for an IdP. Where the last good copy is kept
/// is up to the source; `data_dir` is the hub's data directory.
#[derive(Debug, Clone, Copy)]
pub struct MetadataRequest<'a> {
    pub idp_id: &'a str,
    pub url: &'a str,
    pub data_dir: &'a Path,
}

/// Metadata bytes as fetched, or the saved copy used because fetching failed.
#[derive(Debug, Clone)]
pub struct FetchedMetadata {
    pub xml: Vec<u8>,
    /// Set when `xml` is the saved copy.
    pub fallback: Option<Fallback>,
}

/// Why the saved copy was used, and where it lives.
#[derive(Debug, Clone)]
pub struct Fallback {
    pub reason: String,
    pub saved_at: PathBuf,
}

/// Fetching failed and no saved copy could be read.
#[derive(Debug, Clone, thiserror::Error)]
#[error("cannot fetch '{url}': {reason}")]
pub struct FetchError {
    pub url: String,
    pub reason: String,
}

/// Files and remote metadata, as configuration loading sees them. Paths are
/// already resolved against the config file's directory.
pub trait Source {
    /// The whole content of a file.
    fn read(&self, path: &Path) -> std::io::Result<Vec<u8>>;
    /// The entries of a directory (any order).
    fn list(&self, dir: &Path) -> std::io::Result<Vec<PathBuf>>;
    /// IdP metadata published at a URL.
    fn fetch_metadata(&self, req: MetadataRequest<'_>) -> Result<FetchedMetadata, FetchError>;
    /// Called once fetched metadata has passed every check: a source that
    /// keeps a last good copy saves it now, never before.
    fn metadata_accepted(&self, req: MetadataRequest<'_>, xml: &[u8]) {
        let _ = (req, xml);
    }
}

/// Files and fetch results held in memory. For tests.
#[cfg(test)]
#[derive(Default)]
pub(crate) struct MemorySource {
    pub files: std::collections::BTreeMap<PathBuf, Vec<u8>>,
    /// What a `metadata_url` yields; URLs not here fail to fetch.
    pub remote: std::collections::BTreeMap<String, FetchedMetadata>,
}

#[cfg(test)]
impl Source for MemorySource {
    fn read(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        self.files
            .get(path)
            .cloned()
            .ok_or_else(|| std::io::ErrorKind::NotFound.into())
    }
    fn list(&self, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
        Ok(self
            .files
            .keys()
            .filter(|p| p.parent() == Some(dir))
            .cloned()
            .collect())
    }
    fn fetch_metadata(&self, req: MetadataRequest<'_>) -> Result<FetchedMetadata, FetchError> {
        self.remote.get(req.url).cloned().ok_or_else(|| FetchError {
            url: req.url.to_owned(),
            reason: "no network in tests".into(),
        })
    }
}
