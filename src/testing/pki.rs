//! Test PKI (shared by tests and benchmarks): self-signed RSA keys and X.509
//! certificates generated at test time with the openssl crate, cached per
//! (CN, bits) for the whole test process because RSA keygen is slow.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use base64::Engine as _;
use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::{BigNum, MsbOption};
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::{X509Builder, X509NameBuilder, X509};

/// An RSA key with a self-signed certificate.
#[derive(Clone, Debug)]
pub struct TestKey {
    /// PKCS#8 PEM private key.
    pub key_pem: String,
    /// PEM certificate.
    pub cert_pem: String,
    /// DER certificate, base64 on one line (as in `ds:X509Certificate`).
    pub cert_b64: String,
}

type Cache = Mutex<HashMap<(String, u32), Arc<OnceLock<TestKey>>>>;

impl TestKey {
    /// An RSA key of `bits` with a self-signed SHA-256 certificate for
    /// `CN=cn`, valid from one day ago for ten years. Cached per (cn, bits):
    /// the same arguments give the same key within one test process.
    pub fn generate(cn: &str, bits: u32) -> TestKey {
        static CACHE: OnceLock<Cache> = OnceLock::new();
        let slot = {
            let mut map = CACHE
                .get_or_init(|| Mutex::new(HashMap::new()))
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            map.entry((cn.to_owned(), bits)).or_default().clone()
        };
        slot.get_or_init(|| Self::generate_uncached(cn, bits))
            .clone()
    }

    /// A fresh key every call (no cache).
    pub fn generate_uncached(cn: &str, bits: u32) -> TestKey {
        let rsa = Rsa::generate(bits).expect("RSA keygen");
        let pkey = PKey::from_rsa(rsa).expect("PKey");

        let mut name = X509NameBuilder::new().expect("name builder");
        name.append_entry_by_text("CN", cn).expect("CN");
        let name = name.build();

        let mut serial = BigNum::new().expect("bn");
        serial
            .rand(127, MsbOption::MAYBE_ZERO, false)
            .expect("serial");
        let serial = Asn1Integer::from_bn(&serial).expect("serial asn1");

        // Certificates for real peers need the wall clock, not the app's clock.
        #[allow(clippy::disallowed_methods)]
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let not_before = now - 86_400;
        let not_after = not_before + 3650 * 86_400;

        let mut b = X509Builder::new().expect("x509 builder");
        b.set_version(2).expect("version");
        b.set_serial_number(&serial).expect("serial");
        b.set_subject_name(&name).expect("subject");
        b.set_issuer_name(&name).expect("issuer");
        b.set_pubkey(&pkey).expect("pubkey");
        b.set_not_before(&Asn1Time::from_unix(not_before).expect("nb"))
            .expect("not_before");
        b.set_not_after(&Asn1Time::from_unix(not_after).expect("na"))
            .expect("not_after");
        b.sign(&pkey, MessageDigest::sha256()).expect("sign cert");
        let cert = b.build();

        let key_pem =
            String::from_utf8(pkey.private_key_to_pem_pkcs8().expect("key pem")).expect("utf8");
        let cert_pem = String::from_utf8(cert.to_pem().expect("cert pem")).expect("utf8");
        let cert_b64 =
            base64::engine::general_purpose::STANDARD.encode(cert.to_der().expect("cert der"));
        TestKey {
            key_pem,
            cert_pem,
            cert_b64,
        }
    }

    /// Writes `<dir>/<stem>.key` and `<dir>/<stem>.crt` (PEM); returns
    /// (key_path, cert_path).
    pub fn write_to(&self, dir: &Path, stem: &str) -> (PathBuf, PathBuf) {
        let key_path = dir.join(format!("{stem}.key"));
        let cert_path = dir.join(format!("{stem}.crt"));
        std::fs::write(&key_path, &self.key_pem)
            .unwrap_or_else(|e| panic!("write {}: {e}", key_path.display()));
        std::fs::write(&cert_path, &self.cert_pem)
            .unwrap_or_else(|e| panic!("write {}: {e}", cert_path.display()));
        (key_path, cert_path)
    }

    /// The private key as an openssl object.
    pub fn pkey(&self) -> PKey<Private> {
        PKey::private_key_from_pem(self.key_pem.as_bytes()).expect("parse key pem")
    }

    /// The certificate as an openssl object.
    pub fn cert(&self) -> X509 {
        X509::from_pem(self.cert_pem.as_bytes()).expect("parse cert pem")
    }
}

/// A throwaway certificate authority (EC P-256) that issues TLS server and
/// client certificates, for peers such as `redis-server --tls-port`.
pub struct TestCa {
    key: PKey<Private>,
    cert: X509,
    /// The CA certificate, PEM.
    pub cert_pem: String,
}

impl TestCa {
    /// A self-signed CA certificate for `CN=cn`, valid ten years.
    pub fn new(cn: &str) -> TestCa {
        use openssl::x509::extension::{BasicConstraints, KeyUsage};
        let key = ec_key();
        let name = x509_name(cn);
        let mut b = cert_builder(&key, &name);
        b.set_issuer_name(&name).expect("issuer");
        b.append_extension(BasicConstraints::new().critical().ca().build().expect("bc"))
            .expect("basic constraints");
        b.append_extension(
            KeyUsage::new()
                .critical()
                .key_cert_sign()
                .crl_sign()
                .build()
                .expect("ku"),
        )
        .expect("key usage");
        b.sign(&key, MessageDigest::sha256()).expect("sign CA");
        let cert = b.build();
        let cert_pem = String::from_utf8(cert.to_pem().expect("pem")).expect("utf8");
        TestCa {
            key,
            cert,
            cert_pem,
        }
    }

    /// A certificate signed by this CA: for a server at IP address `cn`
    /// (with a matching subjectAltName) when `server`, else a client
    /// certificate. Returns (PKCS#8 key PEM, certificate PEM).
    pub fn issue(&self, cn: &str, server: bool) -> (String, String) {
        use openssl::x509::extension::{ExtendedKeyUsage, SubjectAlternativeName};
        let key = ec_key();
        let mut b = cert_builder(&key, &x509_name(cn));
        b.set_issuer_name(self.cert.subject_name()).expect("issuer");
        let mut eku = ExtendedKeyUsage::new();
        if server {
            let san = SubjectAlternativeName::new()
                .ip(cn)
                .build(&b.x509v3_context(Some(&self.cert), None))
                .expect("san");
            b.append_extension(san).expect("san");
            eku.server_auth();
        } else {
            eku.client_auth();
        }
        b.append_extension(eku.build().expect("eku")).expect("eku");
        b.sign(&self.key, MessageDigest::sha256())
            .expect("sign cert");
        let cert = b.build();
        (
            String::from_utf8(key.private_key_to_pem_pkcs8().expect("key pem")).expect("utf8"),
            String::from_utf8(cert.to_pem().expect("cert pem")).expect("utf8"),
        )
    }
}

fn ec_key() -> PKey<Private> {
    use openssl::ec::{EcGroup, EcKey};
    use openssl::nid::Nid;
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).expect("P-256");
    PKey::from_ec_key(EcKey::generate(&group).expect("EC keygen")).expect("PKey")
}

fn x509_name(cn: &str) -> openssl::x509::X509Name {
    let mut name = X509NameBuilder::new().expect("name builder");
    name.append_entry_by_text("CN", cn).expect("CN");
    name.build()
}

/// A v3 builder with subject, key, a random serial and ten years' validity.
fn cert_builder(key: &PKey<Private>, subject: &openssl::x509::X509NameRef) -> X509Builder {
    let mut serial = BigNum::new().expect("bn");
    serial
        .rand(127, MsbOption::MAYBE_ZERO, false)
        .expect("serial");
    // Certificates for real peers need the wall clock, not the app's clock.
    #[allow(clippy::disallowed_methods)]
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let mut b = X509Builder::new().expect("x509 builder");
    b.set_version(2).expect("version");
    b.set_serial_number(&Asn1Integer::from_bn(&serial).expect("serial asn1"))
        .expect("serial");
    b.set_subject_name(subject).expect("subject");
    b.set_pubkey(key).expect("pubkey");
    b.set_not_before(&Asn1Time::from_unix(now - 86_400).expect("nb"))
        .expect("not_before");
    b.set_not_after(&Asn1Time::from_unix(now + 3650 * 86_400).expect("na"))
        .expect("not_after");
    b
}
