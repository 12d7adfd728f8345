//! The SP's own keys: an RSA-2048 signing key (AuthnRequests) and a separate
//! encryption key, each with a self-signed certificate for metadata. Created
//! on first run in the data directory with mode 0600, loaded after that.
//! During a rollover ([`sp_rollover`]) a next pair of each is published
//! beside the current one and decrypts too, and the previous encryption key
//! (`sp-encryption-previous.key`) decrypts until it is retired, unpublished.

pub mod sp_rollover;

use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::{X509NameBuilder, X509};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("{path}: {msg}")]
    Io { path: PathBuf, msg: String },
    #[error("{path}: not a usable PEM key or certificate")]
    Pem { path: PathBuf },
    #[error("generating a key: {0}")]
    Generate(String),
}

/// A private key with its certificate.
pub struct KeyPair {
    pub key: PKey<Private>,
    pub cert_der: Vec<u8>,
}

/// The SP's keys.
pub struct SpKeys {
    pub signing: KeyPair,
    pub encryption: KeyPair,
    /// Keys that decrypt assertions: the current encryption key, then the
    /// next one, then the previous one while they exist.
    pub decryption: Vec<PKey<Private>>,
    /// The next signing pair of a rollover: published, not signing.
    pub next_signing: Option<KeyPair>,
    /// The next encryption pair of a rollover: published after the current.
    pub next_encryption: Option<KeyPair>,
}

impl SpKeys {
    /// The SP metadata (SAML Metadata §2.4.4) for `c` with these keys.
    pub fn metadata_xml(&self, c: &crate::config::Config) -> String {
        let acs = c.acs_url();
        let slo = c.url(crate::routes::SAML_SLO);
        let (signing_certs, encryption_certs) = self.published_certs();
        crate::saml::metadata::sp_metadata(&crate::saml::metadata::SpDescriptor {
            entity_id: &c.entity_id,
            acs_url: &acs,
            signing_certs: &signing_certs,
            encryption_certs: &encryption_certs,
            slo_url: Some(&slo),
        })
    }

    /// The signing and the encryption certificates to publish: current,
    /// then next (the first is the one an IdP picks when it picks one).
    pub fn published_certs(&self) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
        let list = |cur: &KeyPair, next: &Option<KeyPair>| {
            std::iter::once(cur)
                .chain(next.as_ref())
                .map(|k| k.cert_der.clone())
                .collect()
        };
        (
            list(&self.signing, &self.next_signing),
            list(&self.encryption, &self.next_encryption),
        )
    }
}

/// The encryption key of before a rollover, kept for decryption only.
pub const PREVIOUS_ENCRYPTION_KEY: &str = "sp-encryption-previous.key";

impl SpKeys {
    /// Loads `sp-signing.{key,crt}` and `sp-encryption.{key,crt}` from `dir`,
    /// creating any pair that does not exist yet. Returns which were created.
    pub fn load_or_create(dir: &Path) -> Result<(Self, Vec<PathBuf>), KeyError> {
        std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        let mut created = Vec::new();
        let signing = load_or_create_pair(dir, "sp-signing", &mut created)?;
        let encryption = load_or_create_pair(dir, "sp-encryption", &mut created)?;
        use sp_rollover::{load_slot, Slot, Usage};
        let next_signing = load_slot(dir, Usage::Signing, Slot::Next)?;
        let next_encryption = load_slot(dir, Usage::Encryption, Slot::Next)?;
        let previous = load_slot(dir, Usage::Encryption, Slot::Previous)?;
        let decryption = std::iter::once(&encryption)
            .chain(next_encryption.as_ref())
            .chain(previous.as_ref())
            .map(|k| k.key.clone())
            .collect();
        Ok((
            Self {
                signing,
                encryption,
                decryption,
                next_signing,
                next_encryption,
            },
            created,
        ))
    }
}

fn io(path: &Path, e: impl std::fmt::Display) -> KeyError {
    KeyError::Io {
        path: path.to_owned(),
        msg: e.to_string(),
    }
}

fn load_or_create_pair(
    dir: &Path,
    stem: &str,
    created: &mut Vec<PathBuf>,
) -> Result<KeyPair, KeyError> {
    let key_path = dir.join(format!("{stem}.key"));
    let cert_path = dir.join(format!("{stem}.crt"));
    if key_path.exists() && cert_path.exists() {
        return sp_rollover::read_pair(&key_path, &cert_path);
    }
    let pair = create_pair(stem, &key_path, &cert_path)?;
    created.push(key_path);
    created.push(cert_path);
    Ok(pair)
}

/// A fresh pair for `cn`, written to `key_path` (0600, must not exist) and
/// `cert_path`.
fn create_pair(cn: &str, key_path: &Path, cert_path: &Path) -> Result<KeyPair, KeyError> {
    let gen = |e: openssl::error::ErrorStack| KeyError::Generate(e.to_string());
    let (key, cert) = generate(cn).map_err(gen)?;
    write_private(key_path, &key.private_key_to_pem_pkcs8().map_err(gen)?)?;
    std::fs::write(cert_path, cert.to_pem().map_err(gen)?).map_err(|e| io(cert_path, e))?;
    let cert_der = cert.to_der().map_err(gen)?;
    Ok(KeyPair { key, cert_der })
}

fn write_private(path: &Path, data: &[u8]) -> Result<(), KeyError> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(|e| io(path, e))?;
    f.write_all(data).map_err(|e| io(path, e))
}

/// A fresh RSA-2048 key and a self-signed SHA-256 certificate valid for ten
/// years. SAML peers pin the certificate itself, so no CA is involved.
pub fn generate(cn: &str) -> Result<(PKey<Private>, X509), openssl::error::ErrorStack> {
    let key = PKey::from_rsa(Rsa::generate(2048)?)?;
    let mut name = X509NameBuilder::new()?;
    name.append_entry_by_text("CN", &format!("samlhub {cn}"))?;
    let name = name.build();
    let mut b = X509::builder()?;
    b.set_version(2)?;
    let mut serial = BigNum::new()?;
    serial.rand(127, MsbOption::MAYBE_ZERO, false)?;
    let serial = serial.to_asn1_integer()?;
    b.set_serial_number(&serial)?;
    b.set_subject_name(&name)?;
    b.set_issuer_name(&name)?;
    b.set_pubkey(&key)?;
    b.set_not_before(&*Asn1Time::days_from_now(0)?)?;
    b.set_not_after(&*Asn1Time::days_from_now(3650)?)?;
    b.sign(&key, MessageDigest::sha256())?;
    Ok((key, b.build()))
}

/// The OpenID Connect signing keys: `<data>/oidc-keys/keys.json` lists each
/// key's id and schedule; `<kid>.pem` holds it (mode 0600).
pub mod oidc_ring {
    use super::{io, write_private, KeyError};
    use crate::oidc::client::IdTokenAlg;
    use crate::oidc::jwt::RingKey;
    use openssl::pkey::PKey;
    use serde::{Deserialize, Serialize};
    use std::path::{Path, PathBuf};

    #[derive(Debug, Default, Serialize, Deserialize)]
    pub(super) struct Manifest {
        keys: Vec<Entry>,
    }

    #[derive(Debug, Serialize, Deserialize)]
    struct Entry {
        kid: String,
        alg: String,
        active_from: i64,
        retired_at: Option<i64>,
    }

    /// How long a key of a newly configured `id_token_alg` is published
    /// before it signs: the default lead of `samlhub keys rotate`.
    pub const ALG_CHANGE_LEAD_SECS: i64 = 600;

    fn dir(data: &Path) -> PathBuf {
        data.join("oidc-keys")
    }

    fn manifest_path(data: &Path) -> PathBuf {
        dir(data).join("keys.json")
    }

    /// The manifest's modification time, to notice a rotation by another process.
    pub fn stamp(data: &Path) -> Option<std::time::SystemTime> {
        std::fs::metadata(manifest_path(data))
            .and_then(|m| m.modified())
            .ok()
    }

    fn read_manifest(data: &Path) -> Result<Manifest, KeyError> {
        let p = manifest_path(data);
        match std::fs::read(&p) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| KeyError::Io {
                path: p,
                msg: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Manifest::default()),
            Err(e) => Err(io(&p, e)),
        }
    }

    fn write_manifest(data: &Path, m: &Manifest) -> Result<(), KeyError> {
        let p = manifest_path(data);
        let tmp = p.with_extension("json.tmp");
        let text = serde_json::to_vec_pretty(m).map_err(|e| KeyError::Io {
            path: p.clone(),
            msg: e.to_string(),
        })?;
        std::fs::write(&tmp, text).map_err(|e| io(&tmp, e))?;
        std::fs::rename(&tmp, &p).map_err(|e| io(&p, e))
    }

    /// Writes the first manifest only if none exists yet (`link` fails on
    /// an existing name, atomically), so instances that start together on
    /// one data directory cannot each sign with a key of their own. Returns
    /// whether this one was written.
    pub(super) fn write_first_manifest(data: &Path, m: &Manifest) -> Result<bool, KeyError> {
        let p = manifest_path(data);
        let tmp = p.with_extension(format!("json.{}.tmp", std::process::id()));
        let text = serde_json::to_vec_pretty(m).map_err(|e| KeyError::Io {
            path: p.clone(),
            msg: e.to_string(),
        })?;
        std::fs::write(&tmp, text).map_err(|e| io(&tmp, e))?;
        let linked = std::fs::hard_link(&tmp, &p);
        let _ = std::fs::remove_file(&tmp);
        match linked {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(io(&p, e)),
        }
    }

    fn new_key(data: &Path, alg: IdTokenAlg, now: i64) -> Result<String, KeyError> {
        let key = match alg {
            IdTokenAlg::Es256 => PKey::ec_gen("prime256v1"),
            IdTokenAlg::Rs256 => openssl::rsa::Rsa::generate(2048).and_then(PKey::from_rsa),
        }
        .map_err(|e| KeyError::Generate(e.to_string()))?;
        let rnd = crate::crypto::random_hex(4).map_err(|e| KeyError::Generate(e.to_string()))?;
        let kid = format!("{}-{now}-{rnd}", alg.as_str().to_lowercase());
        let pem = key
            .private_key_to_pem_pkcs8()
            .map_err(|e| KeyError::Generate(e.to_string()))?;
        std::fs::create_dir_all(dir(data)).map_err(|e| io(&dir(data), e))?;
        write_private(&dir(data).join(format!("{kid}.pem")), &pem)?;
        Ok(kid)
    }

    /// Loads the ring; creates a key of `alg` when there is no live key of
    /// that algorithm yet. On first start it signs at once. When
    /// `[oidc] id_token_alg` changed, it goes through the key schedule like
    /// `samlhub keys rotate`: the new key is published now and signs only
    /// [`ALG_CHANGE_LEAD_SECS`] later, when the old signers retire, so
    /// relying parties see the new algorithm in the JWKS and discovery
    /// before any id_token uses it.
    pub fn load_or_create(
        data: &Path,
        alg: IdTokenAlg,
        now: i64,
    ) -> Result<Vec<RingKey>, KeyError> {
        let first = stamp(data).is_none();
        let mut m = read_manifest(data)?;
        if !m
            .keys
            .iter()
            .any(|e| e.alg == alg.as_str() && e.retired_at.is_none())
        {
            let live = m.keys.iter().any(|e| e.retired_at.is_none());
            let from = if live {
                now + ALG_CHANGE_LEAD_SECS
            } else {
                now
            };
            for e in m.keys.iter_mut().filter(|e| e.retired_at.is_none()) {
                e.retired_at = Some(from);
            }
            let kid = new_key(data, alg, now)?;
            if live {
                log::warn!(
                    "oidc: id_token_alg is now {}: key {kid} is published now and signs from {} (in {ALG_CHANGE_LEAD_SECS} s); until then the current key signs",
                    alg.as_str(),
                    from
                );
            }
            m.keys.push(Entry {
                kid: kid.clone(),
                alg: alg.as_str().into(),
                active_from: from,
                retired_at: None,
            });
            if !first {
                write_manifest(data, &m)?;
            } else if !write_first_manifest(data, &m)? {
                // Another instance made the ring meanwhile: use its key.
                let _ = std::fs::remove_file(dir(data).join(format!("{kid}.pem")));
            }
        }
        load(data)
    }

    /// Reads the ring as it is on disk.
    pub fn load(data: &Path) -> Result<Vec<RingKey>, KeyError> {
        let m = read_manifest(data)?;
        m.keys
            .into_iter()
            .map(|e| {
                let p = dir(data).join(format!("{}.pem", e.kid));
                let pem = std::fs::read(&p).map_err(|err| io(&p, err))?;
                let key =
                    PKey::private_key_from_pem(&pem).map_err(|_| KeyError::Pem { path: p })?;
                Ok(RingKey {
                    kid: e.kid,
                    key,
                    active_from: e.active_from,
                    retired_at: e.retired_at,
                })
            })
            .collect()
    }

    /// Adds a key that is published at once and signs from `now + delay`;
    /// the current signers retire at that instant. Returns the new kid.
    pub fn rotate(
        data: &Path,
        alg: IdTokenAlg,
        now: i64,
        delay_secs: i64,
    ) -> Result<String, KeyError> {
        let mut m = read_manifest(data)?;
        let from = now + delay_secs.max(0);
        for e in m.keys.iter_mut().filter(|e| e.retired_at.is_none()) {
            e.retired_at = Some(from);
        }
        let kid = new_key(data, alg, now)?;
        m.keys.push(Entry {
            kid: kid.clone(),
            alg: alg.as_str().into(),
            active_from: from,
            retired_at: None,
        });
        write_manifest(data, &m)?;
        Ok(kid)
    }
}

/// The OpenID Connect signing keys of a running hub, re-read from disk when
/// `samlhub keys rotate` changes them (checked at most every 2 s).
pub struct OidcKeys {
    data_dir: PathBuf,
    inner: std::sync::RwLock<Cached>,
}

struct Cached {
    keys: Vec<crate::oidc::jwt::RingKey>,
    stamp: Option<std::time::SystemTime>,
    checked: std::time::Instant,
}

/// A retired key stays published this long: the longest id_token plus leeway.
pub const RETIRED_KEY_SECS: i64 = crate::oidc::token::ID_TOKEN_SECS + 60;

impl OidcKeys {
    /// Loads the ring, creating a first key of `alg` if there is none.
    pub fn open(
        data_dir: &Path,
        alg: crate::oidc::client::IdTokenAlg,
        now: i64,
    ) -> Result<Self, KeyError> {
        let keys = oidc_ring::load_or_create(data_dir, alg, now)?;
        // No stamp of a manifest newer than the keys read: a change made by
        // another instance just now is then seen on the next check.
        Ok(Self {
            data_dir: data_dir.to_owned(),
            inner: std::sync::RwLock::new(Cached {
                keys,
                stamp: None,
                checked: std::time::Instant::now(),
            }),
        })
    }

    fn fresh(&self) {
        let due = self
            .inner
            .read()
            .map(|c| c.checked.elapsed() > std::time::Duration::from_secs(2))
            .unwrap_or(true);
        if !due {
            return;
        }
        let stamp = oidc_ring::stamp(&self.data_dir);
        if let Ok(mut c) = self.inner.write() {
            c.checked = std::time::Instant::now();
            if stamp != c.stamp {
                match oidc_ring::load(&self.data_dir) {
                    Ok(keys) => {
                        log::info!("oidc: signing keys reloaded ({} keys)", keys.len());
                        c.keys = keys;
                        c.stamp = stamp;
                    }
                    Err(e) => log::error!("oidc: keeping the old signing keys: {e}"),
                }
            }
        }
    }

    /// Runs `f` over the keys published at `now`.
    fn with_published<T>(&self, now: i64, f: impl FnOnce(&[&crate::oidc::jwt::RingKey]) -> T) -> T {
        self.fresh();
        match self.inner.read() {
            Ok(c) => f(&crate::oidc::jwt::published_at(
                &c.keys,
                now,
                RETIRED_KEY_SECS,
            )),
            Err(_) => f(&[]),
        }
    }

    /// The key that signs at `now`, with its kid.
    pub fn signer(&self, now: i64) -> Option<(String, PKey<Private>)> {
        self.fresh();
        let c = self.inner.read().ok()?;
        crate::oidc::jwt::signer_at(&c.keys, now).map(|k| (k.kid.clone(), k.key.clone()))
    }

    /// The JWKS at `now` (RFC 7517 §5).
    pub fn jwks(&self, now: i64) -> serde_json::Value {
        let keys: Vec<serde_json::Value> = self.with_published(now, |ks| {
            ks.iter()
                .filter_map(|k| crate::oidc::jwt::jwk(&k.key, &k.kid).ok())
                .collect()
        });
        serde_json::json!({ "keys": keys })
    }

    /// The algorithms of the keys published at `now`.
    pub fn algs(&self, now: i64) -> Vec<&'static str> {
        let mut v: Vec<&'static str> = self.with_published(now, |ks| {
            ks.iter()
                .filter_map(|k| crate::oidc::jwt::alg_of(&k.key).ok())
                .collect()
        });
        v.sort_unstable();
        v.dedup();
        v
    }

    /// The claims of an id_token we signed with a published key (signature
    /// checked, expiry not): for `id_token_hint`.
    pub fn verify_hint(&self, token: &str, now: i64) -> Option<serde_json::Value> {
        self.with_published(now, |ks| {
            crate::oidc::jwt::verify_with(token, ks.iter().map(|k| (k.kid.as_str(), &k.key)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oidc::client::IdTokenAlg;

    /// A changed `id_token_alg` publishes the new key first and switches
    /// signing only after the lead time; a restart in between changes nothing.
    #[test]
    fn alg_change_goes_through_the_key_schedule() {
        let dir = std::env::temp_dir().join(format!(
            "samlhub-keys-test-{}-{}",
            std::process::id(),
            crate::crypto::random_hex(4).unwrap()
        ));
        let t0 = 1_700_000_000;
        let rs = OidcKeys::open(&dir, IdTokenAlg::Rs256, t0).unwrap();
        let (rs_kid, _) = rs.signer(t0).unwrap();
        assert!(rs_kid.starts_with("rs256-"), "{rs_kid}");

        let t1 = t0 + 100;
        let es = OidcKeys::open(&dir, IdTokenAlg::Es256, t1).unwrap();
        assert_eq!(es.signer(t1).unwrap().0, rs_kid, "the old key still signs");
        assert_eq!(
            es.algs(t1),
            vec!["ES256", "RS256"],
            "the new alg is published"
        );
        let lead = oidc_ring::ALG_CHANGE_LEAD_SECS;
        assert_eq!(es.signer(t1 + lead - 1).unwrap().0, rs_kid);
        // A restart during the lead time keeps the schedule.
        let again = OidcKeys::open(&dir, IdTokenAlg::Es256, t1 + 5).unwrap();
        assert_eq!(again.signer(t1 + lead - 1).unwrap().0, rs_kid);
        let (es_kid, _) = again.signer(t1 + lead).unwrap();
        assert!(es_kid.starts_with("es256-"), "{es_kid}");
        // The old key stays published while its tokens may still be checked.
        assert_eq!(again.algs(t1 + lead), vec!["ES256", "RS256"]);
        assert_eq!(again.algs(t1 + lead + RETIRED_KEY_SECS), vec!["ES256"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Two instances that both found no ring: the second to finish keeps
    /// the first one's key, so both sign with one key.
    #[test]
    fn first_ring_is_made_once() {
        let dir = std::env::temp_dir().join(format!(
            "samlhub-keys-first-{}-{}",
            std::process::id(),
            crate::crypto::random_hex(4).unwrap()
        ));
        let t0 = 1_700_000_000;
        let a = OidcKeys::open(&dir, IdTokenAlg::Rs256, t0).unwrap();
        let m = oidc_ring::Manifest::default();
        assert!(!oidc_ring::write_first_manifest(&dir, &m).unwrap());
        let b = OidcKeys::open(&dir, IdTokenAlg::Rs256, t0).unwrap();
        assert_eq!(a.signer(t0).unwrap().0, b.signer(t0).unwrap().0);
        assert_eq!(oidc_ring::load(&dir).unwrap().len(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
