//! XML Encryption 1.1 for `saml:EncryptedAssertion` (SAML Core §2.3.4, §6),
//! pure: the SP's private keys are parameters, nothing is read from disk.
//!
//! Accepted: key transport RSA-OAEP (`xmlenc#rsa-oaep-mgf1p`, and
//! `xmlenc11#rsa-oaep` with its DigestMethod and MGF), RSA PKCS#1 v1.5 only
//! when the IdP entry allows it; content AES-GCM, and AES-CBC only when the
//! caller says the ciphertext is authenticated by a verified outer signature
//! or the IdP entry opts in. The EncryptedKey sits in `EncryptedData/KeyInfo`
//! or beside EncryptedData, named by a `ds:RetrievalMethod`.
//!
//! Every failure that depends on the ciphertext or the keys is the one
//! [`DecryptError::Failed`]. When no key unwraps the content key, a random one
//! is used so the symmetric step runs all the same: an RSA failure, a GCM tag
//! failure and bad CBC padding look alike, in message and in the work done.

use super::b64_decode_lenient;
use crate::crypto::DigestAlg;
use crate::xml::{escape, ns, Document, ElemId};
use openssl::encrypt::Decrypter;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Padding;
use openssl::symm::{decrypt_aead, Cipher, Crypter, Mode};

const XENC11: &str = "http://www.w3.org/2009/xmlenc11#";
const TYPE_ELEMENT: &str = "http://www.w3.org/2001/04/xmlenc#Element";
const TYPE_ENCRYPTED_KEY: &str = "http://www.w3.org/2001/04/xmlenc#EncryptedKey";
const RSA_OAEP_MGF1P: &str = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p";
const RSA_OAEP: &str = "http://www.w3.org/2009/xmlenc11#rsa-oaep";
const RSA_1_5: &str = "http://www.w3.org/2001/04/xmlenc#rsa-1_5";

/// What SP metadata advertises in each encryption KeyDescriptor (SAML
/// Metadata §2.4.1.1, XML Encryption 1.1 §5), in order of preference:
/// `(Algorithm, DigestMethod, MGF)`. Only what [`decrypt_assertion`]
/// accepts with no opt-in: AES-GCM content, then RSA-OAEP key transport
/// (xmlenc 1.1 with SHA-256 and MGF1-SHA-256, then `rsa-oaep-mgf1p`). CBC and
/// PKCS#1 v1.5 still decrypt under their rules but are not asked for.
pub const ADVERTISED: [(&str, Option<&str>, Option<&str>); 4] = [
    ("http://www.w3.org/2009/xmlenc11#aes256-gcm", None, None),
    ("http://www.w3.org/2009/xmlenc11#aes128-gcm", None, None),
    (
        RSA_OAEP,
        Some("http://www.w3.org/2001/04/xmlenc#sha256"),
        Some("http://www.w3.org/2009/xmlenc11#mgf1sha256"),
    ),
    (RSA_OAEP_MGF1P, None, None),
];

/// The XML Encryption 1.1 namespace (`xenc11:MGF`).
pub const NS_XENC11: &str = XENC11;

/// More EncryptedKeys than this (one per recipient) is not a real response.
const MAX_ENCRYPTED_KEYS: usize = 4;
const GCM_IV: usize = 12;
const GCM_TAG: usize = 16;
const CBC_BLOCK: usize = 16;

/// Why an EncryptedAssertion was not decrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecryptError {
    /// The one answer for anything wrong with the ciphertext, its structure,
    /// its algorithms or the keys: no oracle.
    #[error("the encrypted assertion could not be decrypted")]
    Failed,
    /// Refused by policy, from public information only.
    #[error("the assertion is encrypted with AES-CBC, which is accepted only inside a verified Response signature; this Response is not signed, so set allow_cbc = true on the [[idp]] entry to accept it (the Assertion must then be signed inside the encryption)")]
    CbcNotAllowed,
    #[error("the assertion is encrypted but no SP decryption key was given")]
    NoKey,
}

/// A content-encryption algorithm (XML Encryption 1.1 §5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentAlg {
    Aes128Gcm,
    Aes192Gcm,
    Aes256Gcm,
    Aes128Cbc,
    Aes192Cbc,
    Aes256Cbc,
}

impl ContentAlg {
    pub fn from_uri(uri: &str) -> Option<Self> {
        Some(match uri {
            "http://www.w3.org/2009/xmlenc11#aes128-gcm" => Self::Aes128Gcm,
            "http://www.w3.org/2009/xmlenc11#aes192-gcm" => Self::Aes192Gcm,
            "http://www.w3.org/2009/xmlenc11#aes256-gcm" => Self::Aes256Gcm,
            "http://www.w3.org/2001/04/xmlenc#aes128-cbc" => Self::Aes128Cbc,
            "http://www.w3.org/2001/04/xmlenc#aes192-cbc" => Self::Aes192Cbc,
            "http://www.w3.org/2001/04/xmlenc#aes256-cbc" => Self::Aes256Cbc,
            _ => return None,
        })
    }

    /// CBC is malleable: only acceptable when something else authenticates it.
    pub fn is_cbc(self) -> bool {
        matches!(self, Self::Aes128Cbc | Self::Aes192Cbc | Self::Aes256Cbc)
    }

    pub fn key_len(self) -> usize {
        match self {
            Self::Aes128Gcm | Self::Aes128Cbc => 16,
            Self::Aes192Gcm | Self::Aes192Cbc => 24,
            Self::Aes256Gcm | Self::Aes256Cbc => 32,
        }
    }

    fn cipher(self) -> Cipher {
        match self {
            Self::Aes128Gcm => Cipher::aes_128_gcm(),
            Self::Aes192Gcm => Cipher::aes_192_gcm(),
            Self::Aes256Gcm => Cipher::aes_256_gcm(),
            Self::Aes128Cbc => Cipher::aes_128_cbc(),
            Self::Aes192Cbc => Cipher::aes_192_cbc(),
            Self::Aes256Cbc => Cipher::aes_256_cbc(),
        }
    }

    /// Decrypts `data` (IV prefix; for GCM also the tag suffix) with `key`.
    fn decrypt(self, key: &[u8], data: &[u8]) -> Option<Vec<u8>> {
        if self.is_cbc() {
            let (iv, body) = data.split_at_checked(CBC_BLOCK)?;
            if body.is_empty() || body.len() % CBC_BLOCK != 0 {
                return None;
            }
            let mut c = Crypter::new(self.cipher(), Mode::Decrypt, key, Some(iv)).ok()?;
            c.pad(false);
            let mut out = vec![0u8; body.len() + CBC_BLOCK];
            let mut n = c.update(body, &mut out).ok()?;
            n += c.finalize(out.get_mut(n..)?).ok()?;
            out.truncate(n);
            strip_padding(out)
        } else {
            let (iv, rest) = data.split_at_checked(GCM_IV)?;
            let split = rest.len().checked_sub(GCM_TAG)?;
            let (body, tag) = rest.split_at_checked(split)?;
            decrypt_aead(self.cipher(), key, Some(iv), &[], body, tag).ok()
        }
    }
}

/// XML Encryption §5.2.1: the last byte is the padding length (1..=block
/// size); the other padding bytes are arbitrary and not checked.
pub fn strip_padding(mut plain: Vec<u8>) -> Option<Vec<u8>> {
    let n = usize::from(*plain.last()?);
    if n == 0 || n > CBC_BLOCK || n > plain.len() {
        return None;
    }
    plain.truncate(plain.len() - n);
    Some(plain)
}

/// A key-transport algorithm with its parameters (XML Encryption 1.1 §5.5).
#[derive(Clone, Copy)]
pub enum KeyTransport {
    RsaOaep {
        digest: MessageDigest,
        mgf1: MessageDigest,
    },
    Rsa1_5,
}

impl std::fmt::Debug for KeyTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::RsaOaep { digest, mgf1 } => f
                .debug_struct("RsaOaep")
                .field("digest", &digest.type_().short_name().unwrap_or("?"))
                .field("mgf1", &mgf1.type_().short_name().unwrap_or("?"))
                .finish(),
            Self::Rsa1_5 => f.write_str("Rsa1_5"),
        }
    }
}

/// The DigestMethod URIs usable with RSA-OAEP (XMLEnc 1.1 §5.5.2): the
/// XML Signature digest table.
pub fn oaep_digest(uri: &str) -> Option<MessageDigest> {
    DigestAlg::from_uri(uri).map(DigestAlg::md)
}

/// The `xenc11:MGF` Algorithm URIs.
pub fn mgf1_digest(uri: &str) -> Option<MessageDigest> {
    Some(match uri {
        "http://www.w3.org/2009/xmlenc11#mgf1sha1" => MessageDigest::sha1(),
        "http://www.w3.org/2009/xmlenc11#mgf1sha224" => MessageDigest::sha224(),
        "http://www.w3.org/2009/xmlenc11#mgf1sha256" => MessageDigest::sha256(),
        "http://www.w3.org/2009/xmlenc11#mgf1sha384" => MessageDigest::sha384(),
        "http://www.w3.org/2009/xmlenc11#mgf1sha512" => MessageDigest::sha512(),
        _ => return None,
    })
}

/// What the caller's checks allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// AES-CBC content: only when a verified outer signature covers the
    /// ciphertext, or the IdP entry sets `allow_cbc`.
    pub cbc: bool,
    /// RSA PKCS#1 v1.5 key transport (`allow_rsa1_5`).
    pub rsa1_5: bool,
}

/// A decrypted assertion: the plaintext, and which content algorithm
/// protected it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decrypted {
    pub plaintext: String,
    pub alg: ContentAlg,
}

/// One EncryptedKey, read: its algorithm (parameters included), optional
/// OAEP label and the wrapped key.
struct WrappedKey {
    transport: KeyTransport,
    label: Vec<u8>,
    cipher: Vec<u8>,
}

/// Decrypts the EncryptedData of `encrypted` (a `saml:EncryptedAssertion`)
/// with the first of `keys` that unwraps its content key.
pub fn decrypt_assertion(
    doc: &Document,
    encrypted: ElemId,
    keys: &[PKey<Private>],
    policy: Policy,
) -> Result<Decrypted, DecryptError> {
    use DecryptError::Failed;
    let data = match doc
        .children_named(encrypted, ns::XENC, "EncryptedData")
        .collect::<Vec<_>>()
        .as_slice()
    {
        [one] => *one,
        _ => return Err(Failed),
    };
    if doc.attr(data, "Type").is_some_and(|t| t != TYPE_ELEMENT) {
        return Err(Failed);
    }
    let alg = doc
        .child(data, ns::XENC, "EncryptionMethod")
        .and_then(|m| doc.attr(m, "Algorithm"))
        .and_then(ContentAlg::from_uri)
        .ok_or(Failed)?;
    // Public information only, so a precise answer is no oracle.
    if alg.is_cbc() && !policy.cbc {
        return Err(DecryptError::CbcNotAllowed);
    }
    if keys.is_empty() {
        return Err(DecryptError::NoKey);
    }
    let ciphertext = cipher_value(doc, data).ok_or(Failed)?;
    let wrapped = encrypted_keys(doc, encrypted, data)?
        .into_iter()
        .map(|ek| read_encrypted_key(doc, ek, policy))
        .collect::<Option<Vec<_>>>()
        .ok_or(Failed)?;

    // Every (EncryptedKey, SP key) pair is tried, whatever the outcome, and
    // the first content key of the right length is used. Without one, a
    // random key takes its place, so the symmetric step still runs.
    let mut content_key: Option<Vec<u8>> = None;
    for w in &wrapped {
        for key in keys {
            let unwrapped = unwrap(key, w).filter(|k| k.len() == alg.key_len());
            if content_key.is_none() {
                content_key = unwrapped;
            }
        }
    }
    let content_key = match content_key {
        Some(k) => k,
        None => crate::crypto::random_bytes(alg.key_len()).map_err(|_| Failed)?,
    };
    let plain = alg.decrypt(&content_key, &ciphertext).ok_or(Failed)?;
    let plaintext = String::from_utf8(plain).map_err(|_| Failed)?;
    Ok(Decrypted { plaintext, alg })
}

/// `CipherData/CipherValue`, base64-decoded. CipherReference is refused.
fn cipher_value(doc: &Document, el: ElemId) -> Option<Vec<u8>> {
    let cd = doc.child(el, ns::XENC, "CipherData")?;
    let cv = doc.child(cd, ns::XENC, "CipherValue")?;
    b64_decode_lenient(&doc.text(cv))
}

/// The candidate EncryptedKeys: those in `EncryptedData/ds:KeyInfo`, those a
/// `ds:RetrievalMethod` there names among the EncryptedAssertion's children,
/// or, with no KeyInfo at all, the EncryptedAssertion's own EncryptedKeys
/// (SAML Core §6.2).
fn encrypted_keys(
    doc: &Document,
    encrypted: ElemId,
    data: ElemId,
) -> Result<Vec<ElemId>, DecryptError> {
    let siblings: Vec<ElemId> = doc
        .children_named(encrypted, ns::XENC, "EncryptedKey")
        .collect();
    let mut found = Vec::new();
    match doc.child(data, ns::DSIG, "KeyInfo") {
        None => found.extend(siblings),
        Some(ki) => {
            for c in doc.children(ki) {
                if doc.is(c, ns::XENC, "EncryptedKey") {
                    found.push(c);
                } else if doc.is(c, ns::DSIG, "RetrievalMethod") {
                    if doc.attr(c, "Type").is_some_and(|t| t != TYPE_ENCRYPTED_KEY) {
                        continue;
                    }
                    let id = doc
                        .attr(c, "URI")
                        .and_then(|u| u.strip_prefix('#'))
                        .ok_or(DecryptError::Failed)?;
                    let target = siblings
                        .iter()
                        .find(|s| doc.attr(**s, "Id") == Some(id))
                        .ok_or(DecryptError::Failed)?;
                    found.push(*target);
                }
            }
        }
    }
    if found.is_empty() || found.len() > MAX_ENCRYPTED_KEYS {
        return Err(DecryptError::Failed);
    }
    Ok(found)
}

fn read_encrypted_key(doc: &Document, ek: ElemId, policy: Policy) -> Option<WrappedKey> {
    let method = doc.child(ek, ns::XENC, "EncryptionMethod")?;
    let digest_uri = doc
        .child(method, ns::DSIG, "DigestMethod")
        .map(|d| doc.attr(d, "Algorithm"));
    let digest = match digest_uri {
        None => MessageDigest::sha1(),
        Some(uri) => oaep_digest(uri?)?,
    };
    let mgf_uri = doc
        .child(method, XENC11, "MGF")
        .map(|m| doc.attr(m, "Algorithm"));
    let transport = match doc.attr(method, "Algorithm")? {
        // MGF1 with SHA-1 is part of this identifier; an MGF element is wrong.
        RSA_OAEP_MGF1P if mgf_uri.is_none() => KeyTransport::RsaOaep {
            digest,
            mgf1: MessageDigest::sha1(),
        },
        RSA_OAEP => KeyTransport::RsaOaep {
            digest,
            mgf1: match mgf_uri {
                None => MessageDigest::sha1(),
                Some(uri) => mgf1_digest(uri?)?,
            },
        },
        RSA_1_5 if policy.rsa1_5 && digest_uri.is_none() && mgf_uri.is_none() => {
            KeyTransport::Rsa1_5
        }
        _ => return None,
    };
    let label = match doc.child(method, ns::XENC, "OAEPparams") {
        None => Vec::new(),
        Some(_) if matches!(transport, KeyTransport::Rsa1_5) => return None,
        Some(p) => b64_decode_lenient(&doc.text(p))?,
    };
    Some(WrappedKey {
        transport,
        label,
        cipher: cipher_value(doc, ek)?,
    })
}

/// RSA-decrypts a wrapped content key; `None` on any failure.
fn unwrap(key: &PKey<Private>, w: &WrappedKey) -> Option<Vec<u8>> {
    let mut d = Decrypter::new(key).ok()?;
    match w.transport {
        KeyTransport::RsaOaep { digest, mgf1 } => {
            d.set_rsa_padding(Padding::PKCS1_OAEP).ok()?;
            d.set_rsa_oaep_md(digest).ok()?;
            d.set_rsa_mgf1_md(mgf1).ok()?;
            if !w.label.is_empty() {
                d.set_rsa_oaep_label(&w.label).ok()?;
            }
        }
        KeyTransport::Rsa1_5 => d.set_rsa_padding(Padding::PKCS1).ok()?,
    }
    let mut out = vec![0u8; d.decrypt_len(&w.cipher).ok()?];
    let n = d.decrypt(&w.cipher, &mut out).ok()?;
    out.truncate(n);
    Some(out)
}

/// Puts `plaintext` (one element) where `encrypted` was in `doc`'s source,
/// as XML Encryption §4.5 replaces an EncryptedData: the plaintext is read
/// in the context of the EncryptedAssertion. The ancestors' declarations
/// stay in scope by position; the EncryptedAssertion's own are copied onto
/// the plaintext's root unless it declares those prefixes itself. Returns the
/// new source and where the plaintext element now is.
pub fn splice(
    doc: &Document,
    encrypted: ElemId,
    plaintext: &str,
) -> Result<(String, std::ops::Range<usize>), DecryptError> {
    use DecryptError::Failed;
    let xml_ws = |c: char| matches!(c, ' ' | '\t' | '\r' | '\n');
    let mut body = plaintext.trim_matches(xml_ws);
    if let Some(rest) = body.strip_prefix("<?xml") {
        if !rest.starts_with(xml_ws) {
            return Err(Failed);
        }
        body = rest
            .split_once("?>")
            .ok_or(Failed)?
            .1
            .trim_start_matches(xml_ws);
    }
    let after_lt = body.strip_prefix('<').ok_or(Failed)?;
    let name_len = after_lt
        .find(|c: char| xml_ws(c) || c == '/' || c == '>')
        .ok_or(Failed)?;
    let (head, tail) = body.split_at_checked(1 + name_len).ok_or(Failed)?;

    let declared = crate::xml::declared_prefixes(body).ok_or(Failed)?;
    let mut carried = String::new();
    for (prefix, uri) in doc.ns_decls_of(encrypted) {
        let prefix = doc.name_local(*prefix);
        if declared.iter().any(|d| d == prefix) {
            continue;
        }
        let uri = escape(doc.ns_uri(*uri));
        if prefix.is_empty() {
            carried.push_str(&format!(" xmlns=\"{uri}\""));
        } else {
            carried.push_str(&format!(" xmlns:{prefix}=\"{uri}\""));
        }
    }

    let span = doc.el(encrypted).span;
    let src = doc.source();
    let before = src.get(..span.start).ok_or(Failed)?;
    let after = src.get(span.end..).ok_or(Failed)?;
    let mut out = String::with_capacity(src.len() + body.len() + carried.len());
    out.push_str(before);
    out.push_str(head);
    out.push_str(&carried);
    out.push_str(tail);
    let end = out.len();
    out.push_str(after);
    Ok((out, span.start..end))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::xml::{parse, Limits};

    #[test]
    fn padding_is_the_last_byte_and_the_rest_is_arbitrary() {
        // 3 bytes of padding; the two before the length byte are anything.
        let p = strip_padding(vec![b'a', b'b', 0xEE, 0x42, 3]).unwrap();
        assert_eq!(p, b"ab");
        // A whole block of padding.
        let mut full = vec![7u8; 16];
        full[15] = 16;
        assert_eq!(strip_padding(full).unwrap(), b"");
        let mut x = b"data".to_vec();
        x.extend_from_slice(&[9; 11]);
        x.push(12);
        assert_eq!(strip_padding(x).unwrap(), b"data");
    }

    #[test]
    fn padding_outside_one_to_sixteen_is_refused() {
        assert_eq!(strip_padding(vec![1, 2, 3, 0]), None);
        let mut big = vec![0u8; 32];
        big[31] = 17;
        assert_eq!(strip_padding(big), None);
        big = vec![0u8; 32];
        big[31] = 255;
        assert_eq!(strip_padding(big), None);
        assert_eq!(strip_padding(vec![5, 5]), None, "longer than the data");
        assert_eq!(strip_padding(Vec::new()), None);
    }

    #[test]
    fn content_algorithm_table() {
        let table = [
            ("http://www.w3.org/2009/xmlenc11#aes128-gcm", 16, false),
            ("http://www.w3.org/2009/xmlenc11#aes192-gcm", 24, false),
            ("http://www.w3.org/2009/xmlenc11#aes256-gcm", 32, false),
            ("http://www.w3.org/2001/04/xmlenc#aes128-cbc", 16, true),
            ("http://www.w3.org/2001/04/xmlenc#aes192-cbc", 24, true),
            ("http://www.w3.org/2001/04/xmlenc#aes256-cbc", 32, true),
        ];
        for (uri, len, cbc) in table {
            let a = ContentAlg::from_uri(uri).unwrap();
            assert_eq!((a.key_len(), a.is_cbc()), (len, cbc), "{uri}");
            assert_eq!(a.cipher().key_len(), len, "{uri}");
        }
        for bad in [
            "http://www.w3.org/2001/04/xmlenc#tripledes-cbc",
            "http://www.w3.org/2001/04/xmlenc#kw-aes128",
            "http://www.w3.org/2009/xmlenc11#aes128-gcm ",
            "http://www.w3.org/2001/04/xmlenc#aes128-gcm",
            "",
        ] {
            assert_eq!(ContentAlg::from_uri(bad), None, "{bad}");
        }
    }

    #[test]
    fn key_transport_digest_tables() {
        let sha = |m: MessageDigest| m.size();
        assert_eq!(
            oaep_digest("http://www.w3.org/2000/09/xmldsig#sha1").map(sha),
            Some(20)
        );
        assert_eq!(
            oaep_digest("http://www.w3.org/2001/04/xmlenc#sha256").map(sha),
            Some(32)
        );
        assert_eq!(
            oaep_digest("http://www.w3.org/2001/04/xmldsig-more#sha384").map(sha),
            Some(48)
        );
        assert_eq!(
            oaep_digest("http://www.w3.org/2001/04/xmlenc#sha512").map(sha),
            Some(64)
        );
        assert!(oaep_digest("http://www.w3.org/2001/04/xmldsig-more#md5").is_none());
        for (uri, size) in [
            ("mgf1sha1", 20),
            ("mgf1sha224", 28),
            ("mgf1sha256", 32),
            ("mgf1sha384", 48),
            ("mgf1sha512", 64),
        ] {
            let full = format!("{XENC11}{uri}");
            assert_eq!(mgf1_digest(&full).map(sha), Some(size), "{uri}");
        }
        assert!(mgf1_digest("http://www.w3.org/2009/xmlenc11#mgf1md5").is_none());
    }

    fn one_key() -> PKey<Private> {
        PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap()
    }

    /// An EncryptedAssertion around `method` and `key_info`, AES-128-GCM of
    /// `plain` under `cek`.
    fn doc_with(cek: &[u8], plain: &[u8], key_info: &str, content_alg: &str) -> Document {
        use base64::Engine;
        let iv = [7u8; 12];
        let mut tag = [0u8; 16];
        let ct = openssl::symm::encrypt_aead(
            Cipher::aes_128_gcm(),
            cek,
            Some(&iv),
            &[],
            plain,
            &mut tag,
        )
        .unwrap();
        let data = [&iv[..], &ct, &tag].concat();
        let b64 = base64::engine::general_purpose::STANDARD.encode(data);
        let xml = format!(
            "<samlp:Response xmlns:samlp=\"{sp}\"><saml:EncryptedAssertion xmlns:saml=\"{sa}\" xmlns:xenc=\"{xe}\" xmlns:ds=\"{ds}\">\
             <xenc:EncryptedData Type=\"{TYPE_ELEMENT}\"><xenc:EncryptionMethod Algorithm=\"{content_alg}\"/>{key_info}\
             <xenc:CipherData><xenc:CipherValue>{b64}</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData>\
             </saml:EncryptedAssertion></samlp:Response>",
            sp = ns::SAMLP,
            sa = ns::SAML,
            xe = ns::XENC,
            ds = ns::DSIG,
        );
        parse(xml.as_bytes(), &Limits::MESSAGE).unwrap()
    }

    fn wrapped(key: &PKey<Private>, cek: &[u8]) -> String {
        use base64::Engine;
        let mut e = openssl::encrypt::Encrypter::new(key).unwrap();
        e.set_rsa_padding(Padding::PKCS1_OAEP).unwrap();
        let mut out = vec![0u8; e.encrypt_len(cek).unwrap()];
        let n = e.encrypt(cek, &mut out).unwrap();
        out.truncate(n);
        let b64 = base64::engine::general_purpose::STANDARD.encode(out);
        format!(
            "<ds:KeyInfo><xenc:EncryptedKey><xenc:EncryptionMethod Algorithm=\"{RSA_OAEP_MGF1P}\"/>\
             <xenc:CipherData><xenc:CipherValue>{b64}</xenc:CipherValue></xenc:CipherData></xenc:EncryptedKey></ds:KeyInfo>"
        )
    }

    const GCM128: &str = "http://www.w3.org/2009/xmlenc11#aes128-gcm";
    const CBC128: &str = "http://www.w3.org/2001/04/xmlenc#aes128-cbc";
    const ANY: Policy = Policy {
        cbc: true,
        rsa1_5: false,
    };

    fn ea(doc: &Document) -> ElemId {
        doc.children(doc.root()).next().unwrap()
    }

    #[test]
    fn decrypts_and_tries_every_key() {
        let (k1, k2) = (one_key(), one_key());
        let cek = [3u8; 16];
        let doc = doc_with(&cek, b"<saml:Assertion/>", &wrapped(&k2, &cek), GCM128);
        let d = decrypt_assertion(&doc, ea(&doc), &[k1.clone(), k2], ANY).unwrap();
        assert_eq!(d.plaintext, "<saml:Assertion/>");
        assert_eq!(d.alg, ContentAlg::Aes128Gcm);
        assert_eq!(
            decrypt_assertion(&doc, ea(&doc), &[k1], ANY),
            Err(DecryptError::Failed)
        );
        assert_eq!(
            decrypt_assertion(&doc, ea(&doc), &[], ANY),
            Err(DecryptError::NoKey)
        );
    }

    /// Every algorithm the SP metadata asks for decrypts with no opt-in: the
    /// content algorithms are GCM, and each key transport with its listed
    /// DigestMethod and MGF unwraps a key wrapped that way.
    #[test]
    fn what_metadata_advertises_is_accepted() {
        use base64::Engine;
        let no_opt_in = Policy {
            cbc: false,
            rsa1_5: false,
        };
        let k = one_key();
        let cek = [5u8; 16];
        let mut transports = 0;
        for (alg, digest, mgf) in ADVERTISED {
            if let Some(c) = ContentAlg::from_uri(alg) {
                assert!(!c.is_cbc(), "{alg}");
                assert!(digest.is_none() && mgf.is_none(), "{alg}");
                continue;
            }
            transports += 1;
            let md = digest.map_or(MessageDigest::sha1(), |d| oaep_digest(d).unwrap());
            let mgf_md = mgf.map_or(MessageDigest::sha1(), |m| mgf1_digest(m).unwrap());
            let mut e = openssl::encrypt::Encrypter::new(&k).unwrap();
            e.set_rsa_padding(Padding::PKCS1_OAEP).unwrap();
            e.set_rsa_oaep_md(md).unwrap();
            e.set_rsa_mgf1_md(mgf_md).unwrap();
            let mut out = vec![0u8; e.encrypt_len(&cek).unwrap()];
            let n = e.encrypt(&cek, &mut out).unwrap();
            out.truncate(n);
            let params = digest
                .map(|d| format!("<ds:DigestMethod Algorithm=\"{d}\"/>"))
                .unwrap_or_default()
                + &mgf
                    .map(|m| format!("<xenc11:MGF xmlns:xenc11=\"{XENC11}\" Algorithm=\"{m}\"/>"))
                    .unwrap_or_default();
            let ki = format!(
                "<ds:KeyInfo><xenc:EncryptedKey><xenc:EncryptionMethod Algorithm=\"{alg}\">{params}</xenc:EncryptionMethod>\
                 <xenc:CipherData><xenc:CipherValue>{}</xenc:CipherValue></xenc:CipherData></xenc:EncryptedKey></ds:KeyInfo>",
                base64::engine::general_purpose::STANDARD.encode(out)
            );
            let doc = doc_with(&cek, b"<a/>", &ki, GCM128);
            let d = decrypt_assertion(&doc, ea(&doc), std::slice::from_ref(&k), no_opt_in);
            assert_eq!(d.map(|d| d.plaintext), Ok("<a/>".to_owned()), "{alg}");
        }
        assert_eq!(transports, 2);
    }

    #[test]
    fn cbc_needs_the_policy_before_any_key_is_used() {
        let k = one_key();
        let doc = doc_with(&[3u8; 16], b"x", &wrapped(&k, &[3u8; 16]), CBC128);
        let no_cbc = Policy {
            cbc: false,
            rsa1_5: false,
        };
        assert_eq!(
            decrypt_assertion(&doc, ea(&doc), &[k], no_cbc),
            Err(DecryptError::CbcNotAllowed)
        );
    }

    #[test]
    fn a_wrong_length_content_key_is_a_plain_failure() {
        let k = one_key();
        // A 32-byte key for an AES-128 EncryptionMethod.
        let doc = doc_with(&[3u8; 16], b"x", &wrapped(&k, &[3u8; 32]), GCM128);
        assert_eq!(
            decrypt_assertion(&doc, ea(&doc), &[k], ANY),
            Err(DecryptError::Failed)
        );
    }

    #[test]
    fn splice_carries_the_encrypted_assertions_own_namespaces() {
        let k = one_key();
        let doc = doc_with(&[3u8; 16], b"", &wrapped(&k, &[3u8; 16]), GCM128);
        // The plaintext uses saml: (declared on the EncryptedAssertion only)
        // and declares ds: itself.
        let plain = "\n<?xml version=\"1.0\"?>\n<saml:Assertion xmlns:ds=\"urn:x\" ID=\"_a\"><saml:Issuer>i</saml:Issuer></saml:Assertion>\n";
        let (src, at) = splice(&doc, ea(&doc), plain).unwrap();
        let a = &src[at.clone()];
        assert!(
            a.starts_with(&format!(
                "<saml:Assertion xmlns:saml=\"{}\" xmlns:xenc=\"{}\" xmlns:ds=\"urn:x\" ID=\"_a\">",
                ns::SAML,
                ns::XENC
            )),
            "{a}"
        );
        let d2 = parse(src.as_bytes(), &Limits::MESSAGE).unwrap();
        let assertion = d2.children(d2.root()).next().unwrap();
        assert!(d2.is(assertion, ns::SAML, "Assertion"));
        assert_eq!(d2.el(assertion).span.start..d2.el(assertion).span.end, at);
        assert_eq!(d2.lookup_ns(assertion, "ds"), Some("urn:x"));
        for bad in ["", "text", "<?xml-stylesheet x?><a/>", "<"] {
            assert_eq!(
                splice(&doc, ea(&doc), bad).map(|_| ()),
                Err(DecryptError::Failed),
                "{bad}"
            );
        }
    }
}
