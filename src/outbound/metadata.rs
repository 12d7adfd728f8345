//! The I/O behind configuration loading: the config file and metadata files
//! from disk, `metadata_url`s over HTTP(S), and the last good copy of each
//! fetched document, kept at `<data>/idp-cache/<id>.xml` and used (with a
//! warning) when a later fetch fails, so an IdP outage at start-up does not
//! keep the hub down. A copy is saved only after it passed every check of
//! the configuration (`Source::metadata_accepted`), so a refused document
//! never replaces the last good one.

use crate::config::{
    self, Config, ConfigError, Fallback, FetchError, FetchedMetadata, MetadataRequest, Source,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long one metadata fetch may take, connection to last byte.
const FETCH_TIMEOUT: Duration = Duration::from_secs(15);

/// Loads and validates the configuration against the real filesystem and
/// network. `env` is the process environment.
pub fn load_config(
    file: Option<&Path>,
    env: &BTreeMap<String, String>,
) -> Result<Config, ConfigError> {
    config::load(file, env, &SystemSource)
}

/// The filesystem, and HTTP(S) with a cache for metadata.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemSource;

impl Source for SystemSource {
    fn read(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        std::fs::read(path)
    }

    fn list(&self, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
        Ok(std::fs::read_dir(dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect())
    }

    fn fetch_metadata(&self, req: MetadataRequest<'_>) -> Result<FetchedMetadata, FetchError> {
        fetch_with_cache(req.url, &cache_path(req.data_dir, req.idp_id))
    }

    fn metadata_accepted(&self, req: MetadataRequest<'_>, xml: &[u8]) {
        save(&cache_path(req.data_dir, req.idp_id), xml);
    }
}

/// Where the last good copy of an IdP's fetched metadata is kept.
pub fn cache_path(data_dir: &Path, idp_id: &str) -> PathBuf {
    data_dir.join("idp-cache").join(format!("{idp_id}.xml"))
}

/// Fetches `url`; when the fetch fails, returns the copy saved at `cache`
/// instead, saying why.
pub fn fetch_with_cache(url: &str, cache: &Path) -> Result<FetchedMetadata, FetchError> {
    match fetch(url) {
        Ok(xml) => Ok(FetchedMetadata {
            xml,
            fallback: None,
        }),
        Err(reason) => match std::fs::read(cache) {
            Ok(xml) => Ok(FetchedMetadata {
                xml,
                fallback: Some(Fallback {
                    reason,
                    saved_at: cache.to_path_buf(),
                }),
            }),
            Err(_) => Err(FetchError {
                url: url.to_owned(),
                reason,
            }),
        },
    }
}

/// One GET: status 200 and a body within the metadata size limit, or why not.
pub fn fetch(url: &str) -> Result<Vec<u8>, String> {
    let mut resp = super::agent(FETCH_TIMEOUT)
        .get(url)
        .call()
        .map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    if status != 200 {
        return Err(format!("HTTP {status}"));
    }
    resp.body_mut()
        .with_config()
        .limit(crate::xml::Limits::METADATA.max_bytes as u64)
        .read_to_vec()
        .map_err(|e| e.to_string())
}

/// Best effort: a cache that cannot be written only costs the fallback.
/// Written aside and renamed, so another instance sharing the data
/// directory never reads a half-written copy.
pub fn save(cache: &Path, xml: &[u8]) {
    if let Some(dir) = cache.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let tmp = cache.with_extension(format!("xml.{}.tmp", std::process::id()));
    if std::fs::write(&tmp, xml).is_err() || std::fs::rename(&tmp, cache).is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_lives_under_the_data_dir() {
        assert_eq!(
            cache_path(Path::new("/d"), "corp"),
            Path::new("/d/idp-cache/corp.xml")
        );
    }

    #[test]
    fn falls_back_to_the_saved_copy() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("idp-cache").join("x.xml");
        // Nothing listens on port 9 of the loopback address in the test sandbox.
        let url = "http://127.0.0.1:9/md";
        let e = fetch_with_cache(url, &cache).unwrap_err();
        assert_eq!(e.url, url);
        assert!(e
            .to_string()
            .starts_with("cannot fetch 'http://127.0.0.1:9/md': "));

        save(&cache, b"<saved/>");
        let f = fetch_with_cache(url, &cache).unwrap();
        assert_eq!(f.xml, b"<saved/>");
        let fb = f.fallback.unwrap();
        assert_eq!(fb.saved_at, cache);
        assert!(!fb.reason.is_empty());
    }

    #[test]
    fn lists_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.xml"), b"x").unwrap();
        let l = SystemSource.list(dir.path()).unwrap();
        assert_eq!(l, vec![dir.path().join("a.xml")]);
        assert!(SystemSource.list(&dir.path().join("nope")).is_err());
    }
}
