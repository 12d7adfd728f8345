//! Certificate expiry warnings: every certificate an IdP is trusted with
//! (its metadata's signing certificates, and the pinned metadata signer) is
//! looked at against `now`; one due within `cert_expiry_warning_days` is
//! named, and one already expired is named loudly. Pure: the caller gives
//! `now` and decides where the lines go (the log, check-config).

use super::Idp;
use openssl::asn1::Asn1Time;
use openssl::nid::Nid;
use openssl::x509::X509;
use time::OffsetDateTime;

/// One certificate worth telling the admin about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertWarning {
    /// Already past its notAfter.
    pub expired: bool,
    pub text: String,
}

impl CertWarning {
    /// Logs it: an error once expired, else a warning.
    pub fn log(&self) {
        if self.expired {
            log::error!("{}", self.text);
        } else {
            log::warn!("{}", self.text);
        }
    }
}

/// The warnings for one IdP at `now`, signer certificates included.
pub fn idp_cert_warnings(idp: &Idp, now: OffsetDateTime, days: u32) -> Vec<CertWarning> {
    let signing = idp
        .metadata
        .signing_certs
        .iter()
        .map(|c| ("signing certificate", c));
    let signer = idp
        .metadata_signer
        .iter()
        .flat_map(|s| s.certs.iter().map(|c| ("metadata signer certificate", c)));
    signing
        .chain(signer)
        .filter_map(|(what, der)| check(&idp.id, what, der, now, days))
        .collect()
}

/// The warnings for every IdP, and for metadata already past its
/// `validUntil` (SAML Metadata §2.3.1), whose IdP cannot be used.
pub fn cert_warnings<'a>(
    idps: impl IntoIterator<Item = &'a Idp>,
    now: OffsetDateTime,
    days: u32,
) -> Vec<CertWarning> {
    idps.into_iter()
        .flat_map(|i| {
            let expired = i.metadata.valid_until.filter(|v| *v <= now).map(|v| CertWarning {
                expired: true,
                text: format!(
                    "IdP '{}': metadata EXPIRED at {} (validUntil); logins through it are refused until a fresh copy arrives",
                    i.id,
                    crate::saml::response::fmt_time(v)
                ),
            });
            expired.into_iter().chain(idp_cert_warnings(i, now, days))
        })
        .collect()
}

fn check(idp: &str, what: &str, der: &[u8], now: OffsetDateTime, days: u32) -> Option<CertWarning> {
    let cert = X509::from_der(der).ok()?;
    let not_after = unix_of(cert.not_after())?;
    let name = cert
        .subject_name()
        .entries_by_nid(Nid::COMMONNAME)
        .next()
        .and_then(|e| e.data().to_string().ok())
        .unwrap_or_else(|| "(no CN)".into());
    let name = crate::logsafe::esc(&name).to_string();
    let at = OffsetDateTime::from_unix_timestamp(not_after).ok()?;
    let when = crate::saml::response::fmt_time(at);
    let left = not_after - now.unix_timestamp();
    if left <= 0 {
        let ago = (-left) / 86400;
        return Some(CertWarning {
            expired: true,
            text: format!("IdP '{idp}': {what} CN={name} EXPIRED at {when} ({ago} day(s) ago); the IdP must publish a new certificate"),
        });
    }
    if left <= i64::from(days) * 86400 {
        return Some(CertWarning {
            expired: false,
            text: format!(
                "IdP '{idp}': {what} CN={name} expires at {when} (in {} day(s))",
                left / 86400
            ),
        });
    }
    None
}

fn unix_of(t: &openssl::asn1::Asn1TimeRef) -> Option<i64> {
    let epoch = Asn1Time::from_unix(0).ok()?;
    let d = epoch.diff(t).ok()?;
    Some(i64::from(d.days) * 86400 + i64::from(d.secs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::hash::MessageDigest;
    use openssl::pkey::PKey;
    use openssl::rsa::Rsa;
    use openssl::x509::{X509Builder, X509NameBuilder};

    fn cert(not_after: i64) -> Vec<u8> {
        let k = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let mut n = X509NameBuilder::new().unwrap();
        n.append_entry_by_text("CN", "idp-signer").unwrap();
        let n = n.build();
        let mut b = X509Builder::new().unwrap();
        b.set_version(2).unwrap();
        b.set_subject_name(&n).unwrap();
        b.set_issuer_name(&n).unwrap();
        b.set_pubkey(&k).unwrap();
        b.set_not_before(&Asn1Time::from_unix(0).unwrap()).unwrap();
        b.set_not_after(&Asn1Time::from_unix(not_after).unwrap())
            .unwrap();
        b.sign(&k, MessageDigest::sha256()).unwrap();
        b.build().to_der().unwrap()
    }

    #[test]
    fn warns_before_and_loudly_after_expiry() {
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let t = now.unix_timestamp();
        let day = 86400;
        // 40 days left: quiet at 30, named at 60.
        let c = cert(t + 40 * day);
        assert_eq!(check("a", "signing certificate", &c, now, 30), None);
        let w = check("a", "signing certificate", &c, now, 60).unwrap();
        assert!(!w.expired);
        assert!(w.text.contains("CN=idp-signer"), "{}", w.text);
        assert!(w.text.contains("in 40 day(s)"), "{}", w.text);
        // Expired two days ago: loud at any threshold, even 0.
        let c = cert(t - 2 * day);
        let w = check("a", "signing certificate", &c, now, 0).unwrap();
        assert!(w.expired);
        assert!(w.text.contains("EXPIRED") && w.text.contains("2 day(s) ago"));
        // The boundary: the last second is still a warning, not expired.
        let w = check("a", "x", &cert(t + 1), now, 30).unwrap();
        assert!(!w.expired);
        assert!(check("a", "x", &cert(t), now, 30).unwrap().expired);
        // Not a certificate: nothing to say (the config load refused it).
        assert_eq!(check("a", "x", b"junk", now, 30), None);
    }
}
