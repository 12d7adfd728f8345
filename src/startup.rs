//! Start-up checks on the host the hub runs on, done before anything opens
//! files: the data directory (keys, the embedded store, metadata caches)
//! must be writable by the user the hub runs as. In a container that user
//! is uid 65532, and a volume owned by root would otherwise end in a
//! crash loop on "Permission denied" from whichever file is opened first.

use std::io::ErrorKind;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

/// The uid and gid the container images run as.
pub const CONTAINER_UID: u32 = 65532;

/// Why the data directory cannot be used, as one line for the operator.
#[derive(Debug, thiserror::Error)]
#[error("data directory {dir} is not writable by uid {uid} gid {gid} ({cause}){owner}; fix: make it writable by that user, e.g. `chown -R {uid}:{gid} <the host directory>`, or run as its owner (compose `user:`, `docker run --user`)")]
pub struct DataDirError {
    pub dir: PathBuf,
    pub uid: String,
    pub gid: String,
    pub cause: String,
    owner: String,
}

/// The effective uid and gid of this process (the owner of `/proc/self`
/// on Linux), as text; "unknown" where that cannot be read.
fn whoami() -> (String, String) {
    match std::fs::metadata("/proc/self") {
        Ok(m) => (m.uid().to_string(), m.gid().to_string()),
        Err(_) => ("unknown".into(), "unknown".into()),
    }
}

/// Checks that `dir` can hold the hub's files. With `create`, a missing
/// directory is created (as `serve` does); without (as `check-config`
/// does), the nearest existing parent must be writable instead, and
/// nothing is left behind. Writability is tested by creating and removing
/// a probe file, which also catches read-only mounts.
pub fn check_data_dir(dir: &Path, create: bool) -> Result<(), DataDirError> {
    let fail = |at: &Path, e: std::io::Error| {
        let (uid, gid) = whoami();
        let owner = std::fs::metadata(at)
            .map(|m| format!(", owned by uid {} gid {}", m.uid(), m.gid()))
            .unwrap_or_default();
        let cause = match e.kind() {
            ErrorKind::PermissionDenied => "permission denied".to_string(),
            _ => e.to_string(),
        };
        DataDirError {
            dir: dir.to_path_buf(),
            uid,
            gid,
            cause,
            owner,
        }
    };
    let probe_in = if dir.is_dir() {
        dir.to_path_buf()
    } else if create {
        std::fs::create_dir_all(dir).map_err(|e| fail(dir, e))?;
        dir.to_path_buf()
    } else {
        let mut p = dir.to_path_buf();
        while !p.is_dir() {
            match p.parent() {
                Some(q) if !q.as_os_str().is_empty() => p = q.to_path_buf(),
                _ => p = PathBuf::from("."),
            }
        }
        p
    };
    let probe = probe_in.join(format!(".samlhub-write-check-{}", std::process::id()));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .map_err(|e| fail(&probe_in, e))?;
    std::fs::remove_file(&probe).map_err(|e| fail(&probe_in, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_writable_dir_passes_and_keeps_no_probe() {
        let t = tempfile::tempdir().unwrap();
        check_data_dir(t.path(), false).unwrap();
        assert_eq!(std::fs::read_dir(t.path()).unwrap().count(), 0);
        let missing = t.path().join("a/b");
        check_data_dir(&missing, false).unwrap();
        assert!(!missing.exists(), "check-config must not create the dir");
        check_data_dir(&missing, true).unwrap();
        assert!(missing.is_dir());
    }

    #[test]
    fn a_file_in_the_way_is_reported_with_the_path() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("file");
        std::fs::write(&f, b"x").unwrap();
        let e = check_data_dir(&f.join("data"), true)
            .unwrap_err()
            .to_string();
        assert!(e.contains(&f.join("data").display().to_string()), "{e}");
        assert!(e.contains("chown -R"), "{e}");
    }
}
