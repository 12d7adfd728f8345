//! A test encryptor for EncryptedAssertion (XML Encryption 1.1), written on
//! the openssl crate: it replaces the Assertion of a generated Response with
//! an EncryptedAssertion for a given recipient certificate. Content AES-GCM
//! or AES-CBC, key transport RSA-OAEP (xmlenc or xmlenc11) or RSA 1.5, and
//! the EncryptedKey inside KeyInfo or beside EncryptedData (RetrievalMethod).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code: failing loudly is the point
#![allow(dead_code)]

use base64::Engine as _;
use openssl::encrypt::Encrypter;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Public};
use openssl::rsa::Padding;
use openssl::symm::{encrypt_aead, Cipher, Crypter, Mode};
use samlhub::testing::idp::{random_id, NS_DS, NS_SAML};

pub const NS_XENC: &str = "http://www.w3.org/2001/04/xmlenc#";
pub const NS_XENC11: &str = "http://www.w3.org/2009/xmlenc11#";
pub const TYPE_ELEMENT: &str = "http://www.w3.org/2001/04/xmlenc#Element";
pub const TYPE_ENCRYPTED_KEY: &str = "http://www.w3.org/2001/04/xmlenc#EncryptedKey";

/// The content-encryption algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Content {
    Aes128Gcm,
    Aes256Gcm,
    Aes128Cbc,
    Aes256Cbc,
}

impl Content {
    pub fn uri(self) -> &'static str {
        match self {
            Self::Aes128Gcm => "http://www.w3.org/2009/xmlenc11#aes128-gcm",
            Self::Aes256Gcm => "http://www.w3.org/2009/xmlenc11#aes256-gcm",
            Self::Aes128Cbc => "http://www.w3.org/2001/04/xmlenc#aes128-cbc",
            Self::Aes256Cbc => "http://www.w3.org/2001/04/xmlenc#aes256-cbc",
        }
    }
    fn cipher(self) -> Cipher {
        match self {
            Self::Aes128Gcm => Cipher::aes_128_gcm(),
            Self::Aes256Gcm => Cipher::aes_256_gcm(),
            Self::Aes128Cbc => Cipher::aes_128_cbc(),
            Self::Aes256Cbc => Cipher::aes_256_cbc(),
        }
    }
    fn is_gcm(self) -> bool {
        matches!(self, Self::Aes128Gcm | Self::Aes256Gcm)
    }
}

/// The key-transport algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// `xmlenc#rsa-oaep-mgf1p`, no DigestMethod (SHA-1, MGF1-SHA1).
    OaepMgf1p,
    /// `xmlenc11#rsa-oaep` with DigestMethod SHA-256 and MGF mgf1sha256.
    Oaep11Sha256,
    /// `xmlenc#rsa-1_5`.
    Rsa1_5,
}

/// Where the EncryptedKey goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyPlace {
    /// `EncryptedData/ds:KeyInfo/xenc:EncryptedKey`.
    KeyInfo,
    /// Beside EncryptedData in the EncryptedAssertion, named by a
    /// `ds:RetrievalMethod` in EncryptedData's KeyInfo (as Okta does).
    RetrievalMethod,
}

/// How to encrypt.
#[derive(Clone, Debug)]
pub struct Encryption {
    pub content: Content,
    pub transport: Transport,
    pub place: KeyPlace,
    /// The recipient's public key (the SP's encryption certificate).
    pub recipient: PKey<Public>,
    /// Declare `xmlns:saml` on the EncryptedAssertion element itself.
    pub saml_ns_on_wrapper: bool,
}

impl Encryption {
    pub fn new(content: Content, transport: Transport, place: KeyPlace, cert_pem: &str) -> Self {
        let cert = openssl::x509::X509::from_pem(cert_pem.as_bytes()).unwrap();
        Encryption {
            content,
            transport,
            place,
            recipient: cert.public_key().unwrap(),
            saml_ns_on_wrapper: false,
        }
    }
}

/// The result, with both CipherValues as written (for tampering).
#[derive(Clone, Debug)]
pub struct Encrypted {
    pub xml: String,
    pub key_cipher_b64: String,
    pub data_cipher_b64: String,
}

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn random(n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    openssl::rand::rand_bytes(&mut v).unwrap();
    v
}

/// Encrypts `plain` with `content` under `key`: IV prefix, and for GCM the
/// tag suffix; CBC padding as XML Encryption §5.2.1 (random bytes, the last
/// one the length).
pub fn encrypt_content(content: Content, key: &[u8], plain: &[u8]) -> Vec<u8> {
    if content.is_gcm() {
        let iv = random(12);
        let mut tag = [0u8; 16];
        let ct = encrypt_aead(content.cipher(), key, Some(&iv), &[], plain, &mut tag).unwrap();
        [iv, ct, tag.to_vec()].concat()
    } else {
        let iv = random(16);
        let pad = 16 - plain.len() % 16;
        let mut padded = plain.to_vec();
        padded.extend(random(pad - 1));
        padded.push(pad as u8);
        let mut c = Crypter::new(content.cipher(), Mode::Encrypt, key, Some(&iv)).unwrap();
        c.pad(false);
        let mut out = vec![0u8; padded.len() + 16];
        let mut n = c.update(&padded, &mut out).unwrap();
        n += c.finalize(&mut out[n..]).unwrap();
        out.truncate(n);
        [iv, out].concat()
    }
}

/// RSA-encrypts the content key for `recipient`.
pub fn wrap_key(transport: Transport, recipient: &PKey<Public>, key: &[u8]) -> Vec<u8> {
    let mut e = Encrypter::new(recipient).unwrap();
    match transport {
        Transport::OaepMgf1p => {
            e.set_rsa_padding(Padding::PKCS1_OAEP).unwrap();
            e.set_rsa_oaep_md(MessageDigest::sha1()).unwrap();
            e.set_rsa_mgf1_md(MessageDigest::sha1()).unwrap();
        }
        Transport::Oaep11Sha256 => {
            e.set_rsa_padding(Padding::PKCS1_OAEP).unwrap();
            e.set_rsa_oaep_md(MessageDigest::sha256()).unwrap();
            e.set_rsa_mgf1_md(MessageDigest::sha256()).unwrap();
        }
        Transport::Rsa1_5 => e.set_rsa_padding(Padding::PKCS1).unwrap(),
    }
    let mut out = vec![0u8; e.encrypt_len(key).unwrap()];
    let n = e.encrypt(key, &mut out).unwrap();
    out.truncate(n);
    out
}

fn encryption_method(t: Transport) -> String {
    match t {
        Transport::OaepMgf1p => "<xenc:EncryptionMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p\"/>".into(),
        Transport::Oaep11Sha256 => format!(
            "<xenc:EncryptionMethod Algorithm=\"http://www.w3.org/2009/xmlenc11#rsa-oaep\">\
             <ds:DigestMethod xmlns:ds=\"{NS_DS}\" Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/>\
             <xenc11:MGF xmlns:xenc11=\"{NS_XENC11}\" Algorithm=\"http://www.w3.org/2009/xmlenc11#mgf1sha256\"/>\
             </xenc:EncryptionMethod>"
        ),
        Transport::Rsa1_5 => "<xenc:EncryptionMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#rsa-1_5\"/>".into(),
    }
}

/// The `saml:Assertion` element of `xml` (the first one), as a range.
pub fn assertion_range(xml: &str) -> std::ops::Range<usize> {
    let start = xml.find("<saml:Assertion").expect("an Assertion");
    let end = xml.find("</saml:Assertion>").expect("an Assertion end") + "</saml:Assertion>".len();
    start..end
}

/// An EncryptedAssertion element holding `plaintext`.
pub fn encrypted_assertion(plaintext: &str, e: &Encryption) -> Encrypted {
    let key_len = e.content.cipher().key_len();
    let cek = random(key_len);
    let data_b64 = b64(&encrypt_content(e.content, &cek, plaintext.as_bytes()));
    let key_b64 = b64(&wrap_key(e.transport, &e.recipient, &cek));
    let ek_id = random_id();
    let id_attr = match e.place {
        KeyPlace::KeyInfo => String::new(),
        KeyPlace::RetrievalMethod => format!(" Id=\"{ek_id}\""),
    };
    let ek = format!(
        "<xenc:EncryptedKey xmlns:xenc=\"{NS_XENC}\"{id_attr}>{method}\
         <xenc:CipherData><xenc:CipherValue>{key_b64}</xenc:CipherValue></xenc:CipherData>\
         </xenc:EncryptedKey>",
        method = encryption_method(e.transport),
    );
    let (in_key_info, beside) = match e.place {
        KeyPlace::KeyInfo => (ek, String::new()),
        KeyPlace::RetrievalMethod => (
            format!("<ds:RetrievalMethod URI=\"#{ek_id}\" Type=\"{TYPE_ENCRYPTED_KEY}\"/>"),
            ek,
        ),
    };
    let wrapper_ns = if e.saml_ns_on_wrapper {
        format!(" xmlns:saml=\"{NS_SAML}\"")
    } else {
        String::new()
    };
    let xml = format!(
        "<saml:EncryptedAssertion{wrapper_ns}>\
         <xenc:EncryptedData xmlns:xenc=\"{NS_XENC}\" Id=\"{ed_id}\" Type=\"{TYPE_ELEMENT}\">\
         <xenc:EncryptionMethod Algorithm=\"{alg}\"/>\
         <ds:KeyInfo xmlns:ds=\"{NS_DS}\">{in_key_info}</ds:KeyInfo>\
         <xenc:CipherData><xenc:CipherValue>{data_b64}</xenc:CipherValue></xenc:CipherData>\
         </xenc:EncryptedData>{beside}</saml:EncryptedAssertion>",
        ed_id = random_id(),
        alg = e.content.uri(),
    );
    Encrypted {
        xml,
        key_cipher_b64: key_b64,
        data_cipher_b64: data_b64,
    }
}

/// `response_xml` with its Assertion replaced by an EncryptedAssertion.
pub fn encrypt_assertion(response_xml: &str, e: &Encryption) -> Encrypted {
    let r = assertion_range(response_xml);
    let enc = encrypted_assertion(&response_xml[r.clone()], e);
    Encrypted {
        xml: format!(
            "{}{}{}",
            &response_xml[..r.start],
            enc.xml,
            &response_xml[r.end..]
        ),
        ..enc
    }
}

/// Base64 `b64` decoded, changed by `f`, encoded again.
pub fn modify_b64(b64_text: &str, f: impl FnOnce(&mut Vec<u8>)) -> String {
    let mut raw = base64::engine::general_purpose::STANDARD
        .decode(b64_text)
        .unwrap();
    f(&mut raw);
    b64(&raw)
}
