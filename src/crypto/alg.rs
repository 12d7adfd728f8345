//! The signature and digest algorithm tables: one identifier per algorithm
//! URI, shared by XML Signature (XMLDSig §6.2, §6.4) and the HTTP-Redirect
//! binding's `SigAlg` parameter (SAML Bindings §3.4.4.1), which uses the same
//! URIs (RFC 6931 §2.1, §2.3). Each entry names its OpenSSL digest and the
//! key type that may make or check it.
//!
//! SHA-1 entries exist for IdPs that still need them; [`SigAlg::uses_sha1`]
//! and [`DigestAlg::is_sha1`] are what callers test before honouring the
//! IdP's `allow_sha1` opt-in.

use openssl::hash::MessageDigest;
use openssl::pkey::{Id, PKeyRef};

/// The key type an algorithm needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// RSA (RSASSA-PKCS1-v1_5, RFC 8017 §8.2).
    Rsa,
    /// Elliptic-curve (ECDSA, FIPS 186-4 §6).
    Ec,
}

impl KeyKind {
    /// The kind of `key`, or `None` for any other key type.
    pub fn of<T>(key: &PKeyRef<T>) -> Option<Self> {
        match key.id() {
            Id::RSA => Some(Self::Rsa),
            Id::EC => Some(Self::Ec),
            _ => None,
        }
    }
}

/// A SignatureMethod (XMLDSig §6.4, RFC 6931 §2.3), also the Redirect
/// binding's `SigAlg` (SAML Bindings §3.4.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigAlg {
    RsaSha1,
    RsaSha256,
    RsaSha384,
    RsaSha512,
    EcdsaSha256,
    EcdsaSha384,
    EcdsaSha512,
}

impl SigAlg {
    /// Every supported algorithm, for tables and tests.
    pub const ALL: [Self; 7] = [
        Self::RsaSha1,
        Self::RsaSha256,
        Self::RsaSha384,
        Self::RsaSha512,
        Self::EcdsaSha256,
        Self::EcdsaSha384,
        Self::EcdsaSha512,
    ];

    pub fn from_uri(uri: &str) -> Option<Self> {
        Some(match uri {
            "http://www.w3.org/2000/09/xmldsig#rsa-sha1" => Self::RsaSha1,
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256" => Self::RsaSha256,
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384" => Self::RsaSha384,
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512" => Self::RsaSha512,
            "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256" => Self::EcdsaSha256,
            "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384" => Self::EcdsaSha384,
            "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512" => Self::EcdsaSha512,
            _ => return None,
        })
    }

    pub fn uri(self) -> &'static str {
        match self {
            Self::RsaSha1 => "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
            Self::RsaSha256 => "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
            Self::RsaSha384 => "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
            Self::RsaSha512 => "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
            Self::EcdsaSha256 => "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
            Self::EcdsaSha384 => "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384",
            Self::EcdsaSha512 => "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512",
        }
    }

    /// The hash the signature is computed over.
    pub fn digest(self) -> MessageDigest {
        self.hash().md()
    }

    /// The same hash, as a [`DigestAlg`].
    pub fn hash(self) -> DigestAlg {
        match self {
            Self::RsaSha1 => DigestAlg::Sha1,
            Self::RsaSha256 | Self::EcdsaSha256 => DigestAlg::Sha256,
            Self::RsaSha384 | Self::EcdsaSha384 => DigestAlg::Sha384,
            Self::RsaSha512 | Self::EcdsaSha512 => DigestAlg::Sha512,
        }
    }

    /// The key type that makes and checks this signature.
    pub fn key_kind(self) -> KeyKind {
        match self {
            Self::RsaSha1 | Self::RsaSha256 | Self::RsaSha384 | Self::RsaSha512 => KeyKind::Rsa,
            Self::EcdsaSha256 | Self::EcdsaSha384 | Self::EcdsaSha512 => KeyKind::Ec,
        }
    }

    pub fn is_ecdsa(self) -> bool {
        self.key_kind() == KeyKind::Ec
    }

    /// Whether the algorithm hashes with SHA-1: allowed only when the IdP
    /// entry opts in (`allow_sha1`).
    pub fn uses_sha1(self) -> bool {
        self.hash().is_sha1()
    }
}

/// A DigestMethod (XMLDSig §6.2, RFC 6931 §2.1); XML Encryption uses the
/// same URIs for RSA-OAEP (XMLEnc 1.1 §5.5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestAlg {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl DigestAlg {
    /// Every supported digest, for tables and tests.
    pub const ALL: [Self; 4] = [Self::Sha1, Self::Sha256, Self::Sha384, Self::Sha512];

    pub fn from_uri(uri: &str) -> Option<Self> {
        Some(match uri {
            "http://www.w3.org/2000/09/xmldsig#sha1" => Self::Sha1,
            "http://www.w3.org/2001/04/xmlenc#sha256" => Self::Sha256,
            "http://www.w3.org/2001/04/xmldsig-more#sha384" => Self::Sha384,
            "http://www.w3.org/2001/04/xmlenc#sha512" => Self::Sha512,
            _ => return None,
        })
    }

    pub fn uri(self) -> &'static str {
        match self {
            Self::Sha1 => "http://www.w3.org/2000/09/xmldsig#sha1",
            Self::Sha256 => "http://www.w3.org/2001/04/xmlenc#sha256",
            Self::Sha384 => "http://www.w3.org/2001/04/xmldsig-more#sha384",
            Self::Sha512 => "http://www.w3.org/2001/04/xmlenc#sha512",
        }
    }

    /// The OpenSSL digest.
    pub fn md(self) -> MessageDigest {
        match self {
            Self::Sha1 => MessageDigest::sha1(),
            Self::Sha256 => MessageDigest::sha256(),
            Self::Sha384 => MessageDigest::sha384(),
            Self::Sha512 => MessageDigest::sha512(),
        }
    }

    /// The same digest, for an `EVP_PKEY_CTX` (`EVP_PKEY_CTX_set_signature_md`).
    pub fn evp_md(self) -> &'static openssl::md::MdRef {
        match self {
            Self::Sha1 => openssl::md::Md::sha1(),
            Self::Sha256 => openssl::md::Md::sha256(),
            Self::Sha384 => openssl::md::Md::sha384(),
            Self::Sha512 => openssl::md::Md::sha512(),
        }
    }

    /// The digest of `data`.
    pub fn digest(self, data: &[u8]) -> Digest {
        let mut d = self.start();
        d.update(data);
        d.finish()
    }

    /// A digest to feed piece by piece.
    pub fn start(self) -> Digester {
        match self {
            Self::Sha1 => Digester::Sha1(openssl::sha::Sha1::new()),
            Self::Sha256 => Digester::Sha256(openssl::sha::Sha256::new()),
            Self::Sha384 => Digester::Sha384(openssl::sha::Sha384::new()),
            Self::Sha512 => Digester::Sha512(openssl::sha::Sha512::new()),
        }
    }

    /// SHA-1: allowed only when the IdP entry opts in (`allow_sha1`).
    pub fn is_sha1(self) -> bool {
        self == Self::Sha1
    }
}

/// A digest in progress, over OpenSSL's SHA functions themselves: starting
/// one needs no algorithm lookup and no allocation, where the EVP route
/// looks the algorithm up again at every start under OpenSSL 3. Signed
/// messages digest a few small inputs each, so that start-up cost showed.
pub enum Digester {
    Sha1(openssl::sha::Sha1),
    Sha256(openssl::sha::Sha256),
    Sha384(openssl::sha::Sha384),
    Sha512(openssl::sha::Sha512),
}

impl Digester {
    pub fn update(&mut self, data: &[u8]) {
        match self {
            Self::Sha1(h) => h.update(data),
            Self::Sha256(h) => h.update(data),
            Self::Sha384(h) => h.update(data),
            Self::Sha512(h) => h.update(data),
        }
    }

    pub fn finish(self) -> Digest {
        let mut out = Digest {
            bytes: [0; 64],
            len: 0,
        };
        let mut put = |d: &[u8]| {
            if let Some(to) = out.bytes.get_mut(..d.len()) {
                to.copy_from_slice(d);
                out.len = d.len();
            }
        };
        match self {
            Self::Sha1(h) => put(&h.finish()),
            Self::Sha256(h) => put(&h.finish()),
            Self::Sha384(h) => put(&h.finish()),
            Self::Sha512(h) => put(&h.finish()),
        }
        out
    }
}

/// A finished digest (at most SHA-512's 64 bytes), read as a byte slice.
#[derive(Clone, Copy)]
pub struct Digest {
    bytes: [u8; 64],
    len: usize,
}

impl std::ops::Deref for Digest {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_round_trip_and_name_their_digest() {
        for alg in SigAlg::ALL {
            assert_eq!(SigAlg::from_uri(alg.uri()), Some(alg));
            assert_eq!(alg.digest().size(), alg.hash().md().size());
        }
        for d in DigestAlg::ALL {
            assert_eq!(DigestAlg::from_uri(d.uri()), Some(d));
        }
        // The SHA functions agree with the EVP digests, fed whole or in pieces.
        let data = b"<ds:SignedInfo xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"/>";
        for d in DigestAlg::ALL {
            let evp = openssl::hash::hash(d.md(), data).unwrap();
            assert_eq!(&*d.digest(data), &*evp, "{d:?}");
            let mut parts = d.start();
            data.chunks(7).for_each(|c| parts.update(c));
            assert_eq!(&*parts.finish(), &*evp, "{d:?} in pieces");
        }
        assert_eq!(
            DigestAlg::ALL.map(|d| d.md().size()),
            [20, 32, 48, 64],
            "SHA-1, SHA-256, SHA-384, SHA-512"
        );
        assert_eq!(
            SigAlg::from_uri("http://www.w3.org/2000/09/xmldsig#dsa-sha1"),
            None
        );
        assert_eq!(
            SigAlg::from_uri("http://www.w3.org/2000/09/xmldsig#hmac-sha1"),
            None
        );
        assert_eq!(
            DigestAlg::from_uri("http://www.w3.org/2001/04/xmldsig-more#md5"),
            None
        );
        assert_eq!(DigestAlg::Sha256.digest(b"abc").len(), 32);
    }

    #[test]
    fn key_kinds_and_the_sha1_rule() {
        let sha1: Vec<SigAlg> = SigAlg::ALL.into_iter().filter(|a| a.uses_sha1()).collect();
        assert_eq!(sha1, [SigAlg::RsaSha1]);
        assert!(DigestAlg::Sha1.is_sha1() && !DigestAlg::Sha256.is_sha1());
        let ec: Vec<SigAlg> = SigAlg::ALL.into_iter().filter(|a| a.is_ecdsa()).collect();
        assert_eq!(
            ec,
            [
                SigAlg::EcdsaSha256,
                SigAlg::EcdsaSha384,
                SigAlg::EcdsaSha512
            ]
        );
        // The kind does not depend on the size; a small key is quick to make.
        let rsa =
            openssl::pkey::PKey::from_rsa(openssl::rsa::Rsa::generate(1024).unwrap()).unwrap();
        assert_eq!(KeyKind::of(&rsa), Some(KeyKind::Rsa));
        let ec = openssl::pkey::PKey::ec_gen("prime256v1").unwrap();
        assert_eq!(KeyKind::of(&ec), Some(KeyKind::Ec));
        let ed = openssl::pkey::PKey::generate_ed25519().unwrap();
        assert_eq!(KeyKind::of(&ed), None);
    }
}
