//! The SP key rollover on disk: a staged schedule for the signing and the
//! encryption key pair, driven by `samlhub keys sp-next | sp-activate |
//! sp-retire | sp-status`.
//!
//! Each use has up to three pairs in the data directory, each a `.key`
//! (PKCS#8 PEM, mode 0600) and a `.crt` (PEM):
//!
//! | slot | files | published in metadata | used |
//! |---|---|---|---|
//! | current | `sp-signing.*`, `sp-encryption.*` (the names of every install) | yes | signs; decrypts first |
//! | next | `sp-signing-next.*`, `sp-encryption-next.*` | yes, after current | decrypts second |
//! | previous | `sp-signing-previous.*`, `sp-encryption-previous.*` | no | decrypts last (encryption only) |
//!
//! A running hub reads the files at start; each step takes effect when it
//! restarts. Every step checks all its preconditions before it changes a
//! file, so a refused step changes nothing.

use super::{create_pair, io, write_private, KeyError, KeyPair};
use openssl::pkey::PKey;
use openssl::x509::X509;
use std::path::{Path, PathBuf};

/// Which of the SP's two key pairs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usage {
    /// Signs AuthnRequests (`KeyDescriptor use="signing"`).
    Signing,
    /// Receives EncryptedAssertions (`KeyDescriptor use="encryption"`).
    Encryption,
}

impl Usage {
    pub const BOTH: [Usage; 2] = [Usage::Signing, Usage::Encryption];

    /// The file stem of the current pair.
    pub fn stem(self) -> &'static str {
        match self {
            Self::Signing => "sp-signing",
            Self::Encryption => "sp-encryption",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Signing => "signing",
            Self::Encryption => "encryption",
        }
    }
}

/// Where a pair stands in the rollover.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    Current,
    Next,
    Previous,
}

impl Slot {
    pub const ALL: [Slot; 3] = [Slot::Current, Slot::Next, Slot::Previous];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Current => "current",
            Self::Next => "next",
            Self::Previous => "previous",
        }
    }
}

/// The `.key` and `.crt` of `usage` in `slot`.
pub fn paths(dir: &Path, usage: Usage, slot: Slot) -> (PathBuf, PathBuf) {
    let stem = match slot {
        Slot::Current => usage.stem().to_owned(),
        Slot::Next => format!("{}-next", usage.stem()),
        Slot::Previous => format!("{}-previous", usage.stem()),
    };
    (
        dir.join(format!("{stem}.key")),
        dir.join(format!("{stem}.crt")),
    )
}

/// Why a rollover step was refused.
#[derive(Debug, thiserror::Error)]
pub enum RolloverError {
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(
        "a next {0} key already exists ({1}); activate it with `samlhub keys sp-activate` first"
    )]
    NextExists(&'static str, PathBuf),
    #[error("there is no next SP key to activate; create one with `samlhub keys sp-next`")]
    NoNext,
    #[error("the previous {0} key is still kept ({1}); retire it with `samlhub keys sp-retire` once every IdP uses the current certificate, then activate")]
    PreviousKept(&'static str, PathBuf),
    #[error("there is no previous SP key to retire")]
    NoPrevious,
}

/// Reads the pair in `key`/`cert` and checks that they belong together.
pub(super) fn read_pair(key: &Path, cert: &Path) -> Result<KeyPair, KeyError> {
    let kp = std::fs::read(key).map_err(|e| io(key, e))?;
    let pkey = PKey::private_key_from_pem(&kp).map_err(|_| KeyError::Pem {
        path: key.to_owned(),
    })?;
    let cp = std::fs::read(cert).map_err(|e| io(cert, e))?;
    let x509 = X509::from_pem(&cp).map_err(|_| KeyError::Pem {
        path: cert.to_owned(),
    })?;
    let matches = x509
        .public_key()
        .map(|p| pkey.public_eq(&p))
        .unwrap_or(false);
    if !matches {
        return Err(KeyError::Io {
            path: cert.to_owned(),
            msg: format!("this certificate is not the one of {}", key.display()),
        });
    }
    let cert_der = x509.to_der().map_err(|_| KeyError::Pem {
        path: cert.to_owned(),
    })?;
    Ok(KeyPair {
        key: pkey,
        cert_der,
    })
}

/// The pair of `usage` in `slot`, if its key file exists. A key without its
/// certificate (or the reverse) is an error, except for a previous key,
/// which is only ever used to decrypt (installs from before the staged
/// rollover kept `sp-encryption-previous.key` alone).
pub fn load_slot(dir: &Path, usage: Usage, slot: Slot) -> Result<Option<KeyPair>, KeyError> {
    let (key, cert) = paths(dir, usage, slot);
    match (key.exists(), cert.exists()) {
        (false, false) => Ok(None),
        (true, true) => read_pair(&key, &cert).map(Some),
        (true, false) if slot == Slot::Previous => {
            let pem = std::fs::read(&key).map_err(|e| io(&key, e))?;
            let pkey = PKey::private_key_from_pem(&pem)
                .map_err(|_| KeyError::Pem { path: key.clone() })?;
            Ok(Some(KeyPair {
                key: pkey,
                cert_der: Vec::new(),
            }))
        }
        (false, true) if slot == Slot::Previous => Ok(None),
        (has_key, _) => {
            let (here, missing) = if has_key { (key, cert) } else { (cert, key) };
            Err(KeyError::Io {
                path: here,
                msg: format!(
                    "{} is missing; restore it, or remove this file and run the step again",
                    missing.display()
                ),
            })
        }
    }
}

/// `samlhub keys sp-next`: a new pair for each of `uses`, published in the
/// metadata from the next start, not yet signing. Returns the files written.
pub fn create_next(dir: &Path, uses: &[Usage]) -> Result<Vec<PathBuf>, RolloverError> {
    for u in uses {
        let (key, cert) = paths(dir, *u, Slot::Next);
        for p in [key, cert] {
            if p.exists() {
                return Err(RolloverError::NextExists(u.as_str(), p));
            }
        }
    }
    let mut written = Vec::new();
    for u in uses {
        let (key, cert) = paths(dir, *u, Slot::Next);
        create_pair(&format!("{}-next", u.stem()), &key, &cert)?;
        written.push(key);
        written.push(cert);
    }
    Ok(written)
}

/// `samlhub keys sp-activate`: for each use with a next pair, the current
/// pair becomes the previous one and the next pair the current one. Refused
/// when there is no next pair, or a previous pair of that use is still kept
/// (retire it first, so no key is dropped unannounced). Returns the uses
/// activated.
pub fn activate(dir: &Path) -> Result<Vec<Usage>, RolloverError> {
    let mut due = Vec::new();
    for u in Usage::BOTH {
        if load_slot(dir, u, Slot::Next)?.is_none() {
            continue;
        }
        let (prev_key, _) = paths(dir, u, Slot::Previous);
        if prev_key.exists() {
            return Err(RolloverError::PreviousKept(u.as_str(), prev_key));
        }
        let (cur_key, cur_cert) = paths(dir, u, Slot::Current);
        read_pair(&cur_key, &cur_cert)?;
        due.push(u);
    }
    if due.is_empty() {
        return Err(RolloverError::NoNext);
    }
    for u in &due {
        let (cur_key, cur_cert) = paths(dir, *u, Slot::Current);
        let (next_key, next_cert) = paths(dir, *u, Slot::Next);
        let (prev_key, prev_cert) = paths(dir, *u, Slot::Previous);
        // A certificate kept "for the records" by the manual procedure.
        if prev_cert.exists() {
            std::fs::remove_file(&prev_cert).map_err(|e| io(&prev_cert, e))?;
        }
        // Links first: the current pair never stops existing. A stop
        // between the two renames leaves a key and certificate that do not
        // match, which the next start refuses by name.
        link_or_copy(&cur_key, &prev_key, true)?;
        link_or_copy(&cur_cert, &prev_cert, false)?;
        std::fs::rename(&next_cert, &cur_cert).map_err(|e| io(&cur_cert, e))?;
        std::fs::rename(&next_key, &cur_key).map_err(|e| io(&cur_key, e))?;
    }
    Ok(due)
}

/// `samlhub keys sp-retire`: deletes the previous pairs. Returns the uses
/// retired.
pub fn retire(dir: &Path) -> Result<Vec<Usage>, RolloverError> {
    let mut done = Vec::new();
    for u in Usage::BOTH {
        let (key, cert) = paths(dir, u, Slot::Previous);
        if !key.exists() {
            continue;
        }
        std::fs::remove_file(&key).map_err(|e| io(&key, e))?;
        if cert.exists() {
            std::fs::remove_file(&cert).map_err(|e| io(&cert, e))?;
        }
        done.push(u);
    }
    if done.is_empty() {
        return Err(RolloverError::NoPrevious);
    }
    Ok(done)
}

fn link_or_copy(from: &Path, to: &Path, private: bool) -> Result<(), KeyError> {
    if std::fs::hard_link(from, to).is_ok() {
        // A key placed by hand may be readable by others; the previous key
        // is private whatever its origin.
        #[cfg(unix)]
        if private {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| io(to, e))?;
        }
        return Ok(());
    }
    let data = std::fs::read(from).map_err(|e| io(from, e))?;
    if private {
        write_private(to, &data)
    } else {
        std::fs::write(to, data).map_err(|e| io(to, e))
    }
}

/// One line of `samlhub keys sp-status`: use, slot, SHA-256 fingerprint of
/// the certificate (hex) and its notAfter, or `None` for a bare key.
pub struct SlotStatus {
    pub usage: Usage,
    pub slot: Slot,
    pub fingerprint: Option<String>,
    pub not_after: Option<String>,
}

/// What is on disk, in the order current, next, previous per use.
pub fn status(dir: &Path) -> Result<Vec<SlotStatus>, KeyError> {
    let mut out = Vec::new();
    for usage in Usage::BOTH {
        for slot in Slot::ALL {
            let Some(pair) = load_slot(dir, usage, slot)? else {
                continue;
            };
            let cert = X509::from_der(&pair.cert_der).ok();
            out.push(SlotStatus {
                usage,
                slot,
                fingerprint: cert
                    .as_ref()
                    .and_then(|c| c.digest(openssl::hash::MessageDigest::sha256()).ok())
                    .map(|d| crate::crypto::hex(d.as_ref())),
                not_after: cert.map(|c| c.not_after().to_string()),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::keys::SpKeys;
    use std::os::unix::fs::PermissionsExt as _;

    fn der(dir: &Path, usage: Usage, slot: Slot) -> Vec<u8> {
        load_slot(dir, usage, slot).unwrap().unwrap().cert_der
    }

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn next_activate_retire_moves_each_pair_one_slot() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let (keys, _) = SpKeys::load_or_create(dir).unwrap();
        assert!(keys.next_signing.is_none() && keys.next_encryption.is_none());
        assert_eq!(keys.decryption.len(), 1);
        let (old_sig, old_enc) = (keys.signing.cert_der, keys.encryption.cert_der);

        let written = create_next(dir, &Usage::BOTH).unwrap();
        assert_eq!(written.len(), 4);
        for u in Usage::BOTH {
            let (k, c) = paths(dir, u, Slot::Next);
            assert_eq!(mode(&k), 0o600, "{}", k.display());
            assert!(c.is_file());
        }
        let (new_sig, new_enc) = (
            der(dir, Usage::Signing, Slot::Next),
            der(dir, Usage::Encryption, Slot::Next),
        );
        let (keys, created) = SpKeys::load_or_create(dir).unwrap();
        assert!(created.is_empty());
        assert_eq!(keys.signing.cert_der, old_sig, "next does not sign");
        assert_eq!(keys.next_signing.unwrap().cert_der, new_sig);
        assert_eq!(keys.next_encryption.unwrap().cert_der, new_enc);
        assert_eq!(keys.decryption.len(), 2, "current, then next");

        assert_eq!(activate(dir).unwrap(), Usage::BOTH.to_vec());
        let (keys, _) = SpKeys::load_or_create(dir).unwrap();
        assert_eq!(keys.signing.cert_der, new_sig);
        assert_eq!(keys.encryption.cert_der, new_enc);
        assert!(keys.next_signing.is_none() && keys.next_encryption.is_none());
        assert_eq!(keys.decryption.len(), 2, "current, then previous");
        assert_eq!(der(dir, Usage::Signing, Slot::Previous), old_sig);
        assert_eq!(der(dir, Usage::Encryption, Slot::Previous), old_enc);
        for u in Usage::BOTH {
            assert_eq!(mode(&paths(dir, u, Slot::Previous).0), 0o600);
            assert_eq!(mode(&paths(dir, u, Slot::Current).0), 0o600);
            assert!(!paths(dir, u, Slot::Next).0.exists());
        }

        assert_eq!(retire(dir).unwrap(), Usage::BOTH.to_vec());
        for u in Usage::BOTH {
            let (k, c) = paths(dir, u, Slot::Previous);
            assert!(!k.exists() && !c.exists());
        }
        let (keys, _) = SpKeys::load_or_create(dir).unwrap();
        assert_eq!(keys.decryption.len(), 1);
        assert_eq!(keys.encryption.cert_der, new_enc);
    }

    #[test]
    fn one_use_at_a_time() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let (keys, _) = SpKeys::load_or_create(dir).unwrap();
        create_next(dir, &[Usage::Encryption]).unwrap();
        assert!(!paths(dir, Usage::Signing, Slot::Next).0.exists());
        assert_eq!(activate(dir).unwrap(), vec![Usage::Encryption]);
        let (after, _) = SpKeys::load_or_create(dir).unwrap();
        assert_eq!(after.signing.cert_der, keys.signing.cert_der);
        assert_ne!(after.encryption.cert_der, keys.encryption.cert_der);
        // The signing key can follow later, while the encryption key of
        // before is still kept.
        create_next(dir, &[Usage::Signing]).unwrap();
        assert_eq!(activate(dir).unwrap(), vec![Usage::Signing]);
        assert_eq!(retire(dir).unwrap(), Usage::BOTH.to_vec());
    }

    #[test]
    fn refusals_change_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        SpKeys::load_or_create(dir).unwrap();
        assert!(matches!(activate(dir), Err(RolloverError::NoNext)));
        assert!(matches!(retire(dir), Err(RolloverError::NoPrevious)));

        create_next(dir, &[Usage::Signing]).unwrap();
        let before = der(dir, Usage::Signing, Slot::Next);
        assert!(matches!(
            create_next(dir, &Usage::BOTH),
            Err(RolloverError::NextExists("signing", _))
        ));
        assert!(!paths(dir, Usage::Encryption, Slot::Next).0.exists());
        assert_eq!(der(dir, Usage::Signing, Slot::Next), before);

        activate(dir).unwrap();
        create_next(dir, &Usage::BOTH).unwrap();
        let current = der(dir, Usage::Signing, Slot::Current);
        let e = activate(dir).unwrap_err();
        assert!(
            matches!(e, RolloverError::PreviousKept("signing", _)),
            "{e}"
        );
        assert!(e.to_string().contains("samlhub keys sp-retire"), "{e}");
        assert_eq!(der(dir, Usage::Signing, Slot::Current), current);
        assert!(paths(dir, Usage::Encryption, Slot::Next).0.exists());
        assert!(!paths(dir, Usage::Encryption, Slot::Previous).0.exists());
    }

    #[test]
    fn broken_pairs_are_refused_by_name() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        SpKeys::load_or_create(dir).unwrap();
        create_next(dir, &[Usage::Encryption]).unwrap();
        let (next_key, next_cert) = paths(dir, Usage::Encryption, Slot::Next);
        // A certificate that is not the key's.
        let (cur_key, cur_cert) = paths(dir, Usage::Encryption, Slot::Current);
        std::fs::copy(&cur_cert, &next_cert).unwrap();
        let e = SpKeys::load_or_create(dir).err().unwrap().to_string();
        assert!(
            e.contains("sp-encryption-next.crt") && e.contains("not the one"),
            "{e}"
        );
        // A key without its certificate.
        std::fs::remove_file(&next_cert).unwrap();
        let e = SpKeys::load_or_create(dir).err().unwrap().to_string();
        assert!(e.contains("sp-encryption-next.crt is missing"), "{e}");
        assert!(matches!(activate(dir), Err(RolloverError::Key(_))));
        assert!(cur_key.exists());
        // A bare previous key (the manual procedure) still decrypts.
        std::fs::remove_file(&next_key).unwrap();
        std::fs::copy(&cur_key, paths(dir, Usage::Encryption, Slot::Previous).0).unwrap();
        let (keys, _) = SpKeys::load_or_create(dir).unwrap();
        assert_eq!(keys.decryption.len(), 2);
        let st = status(dir).unwrap();
        assert_eq!(st.len(), 3);
        assert!(st[2].fingerprint.is_none() && st[2].slot == Slot::Previous);
    }
}
