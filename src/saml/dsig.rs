//! XML Signature as SAML profiles it (SAML Core §5.4), verified over the one
//! parsed tree. The matching signer for test documents is `saml::sign`
//! (tests and the `test-support` feature only).
//!
//! Accepted shape, and nothing else: the Signature is a direct child of the
//! signed element; SignedInfo uses exc-c14n (without comments); exactly one
//! Reference whose URI is `#` + the parent's `ID` (§5.4.2); Transforms exactly
//! enveloped-signature then exc-c14n (§5.4.4), InclusiveNamespaces allowed;
//! no ds:Object, no HMAC, no HMACOutputLength. KeyInfo is ignored: keys come
//! only from configuration (design rule 3). SHA-1 only when the IdP allows it.

use crate::crypto;
use crate::xml::{exc_c14n, exc_c14n_into, ns, Document, ElemId, Sink, XmlError, SPILL};
use openssl::pkey::{HasPublic, Id, PKey, PKeyRef, Public};

/// The SignatureMethod and DigestMethod tables (XMLDSig §6.2, §6.4), shared
/// with the Redirect binding.
pub use crate::crypto::{DigestAlg, SigAlg};

pub(super) const ALG_ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
const ALG_EXC_C14N_COMMENTS: &str = "http://www.w3.org/2001/10/xml-exc-c14n#WithComments";

/// SignedInfo is canonicalised before its signature can be checked, so its
/// size must be bounded by the profile, not by the message: the SAML shape
/// has at most ten elements (CanonicalizationMethod and its
/// InclusiveNamespaces, SignatureMethod, Reference, Transforms, two Transform
/// elements and an InclusiveNamespaces, DigestMethod, DigestValue).
/// Without this bound, thousands of small elements each rendering one long
/// inherited namespace declaration made a 256 KiB message canonicalise to
/// hundreds of megabytes.
const MAX_SIGNED_INFO_ELEMENTS: usize = 16;
/// Distinct prefixes an InclusiveNamespaces PrefixList may name. Every
/// element looks up each one, so a PrefixList of thousands cost seconds.
const MAX_INCLUSIVE_PREFIXES: usize = 32;

/// Why a signature was not accepted. Each names the rule it breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DsigError {
    #[error("<{0}> carries no Signature")]
    Missing(String),
    #[error("<{0}> carries more than one Signature (SAML Core §5.4.1)")]
    Multiple(String),
    #[error("Signature structure is not the SAML profile: {0} (SAML Core §5.4)")]
    Structure(String),
    #[error(
        "CanonicalizationMethod '{0}' is not exclusive c14n without comments (SAML Core §5.4.3)"
    )]
    Canonicalization(String),
    #[error("SignatureMethod '{0}' is not supported")]
    SignatureMethod(String),
    #[error("DigestMethod '{0}' is not supported")]
    DigestMethod(String),
    #[error("SHA-1 is not allowed for this IdP (set allow_sha1 to accept it)")]
    Sha1NotAllowed,
    #[error(
        "SignedInfo has {0} References; the SAML profile requires exactly one (SAML Core §5.4.2)"
    )]
    ReferenceCount(usize),
    #[error("Reference URI '{found}' does not point at the signed element's ID '#{expected}' (SAML Core §5.4.2)")]
    ReferenceUri { expected: String, found: String },
    #[error("the signed element has no ID attribute (SAML Core §5.4.2)")]
    NoId,
    #[error(
        "Transforms must be exactly enveloped-signature and exc-c14n; found {0} (SAML Core §5.4.4)"
    )]
    Transforms(String),
    #[error("{0} is not valid base64")]
    Base64(&'static str),
    #[error("digest of the signed element does not match its DigestValue: the content was changed after signing")]
    DigestMismatch,
    #[error("SignatureValue does not verify with any configured certificate of this IdP")]
    BadSignature,
    #[error("signing key too weak: {0}")]
    WeakKey(String),
    #[error("could not build the signature: {0}")]
    Sign(String),
    #[error("document to sign is not acceptable XML: {0}")]
    Xml(#[from] XmlError),
}

/// A trusted verification key, checked once at configuration load, with
/// the verification contexts prepared for it (kept for the key's life and
/// shared by its clones; `crypto::prepared`).
#[derive(Clone)]
pub struct TrustedKey {
    prepared: crypto::PreparedKey,
}

impl std::fmt::Debug for TrustedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "TrustedKey({:?}, {} bits)",
            self.pkey().id(),
            self.pkey().bits()
        )
    }
}

impl TrustedKey {
    /// Accepts RSA ≥ 2048 bits and EC P-256/384/521 keys.
    pub fn new(key: PKey<Public>) -> Result<Self, DsigError> {
        check_key_strength(&key)?;
        Ok(Self {
            prepared: crypto::PreparedKey::new(key),
        })
    }

    /// From a DER X.509 certificate (as in metadata `<ds:X509Certificate>`).
    pub fn from_cert_der(der: &[u8]) -> Result<Self, DsigError> {
        let cert = openssl::x509::X509::from_der(der)
            .map_err(|_| DsigError::WeakKey("certificate is not valid DER X.509".into()))?;
        let key = cert
            .public_key()
            .map_err(|_| DsigError::WeakKey("certificate has no usable public key".into()))?;
        Self::new(key)
    }

    pub fn pkey(&self) -> &PKey<Public> {
        self.prepared.pkey()
    }

    /// Whether `sig` (r ‖ s for ECDSA) is this key's signature over `data`
    /// with `alg`; the same answer as `crypto::verify`, on a context
    /// prepared once for this key.
    pub fn verify(&self, alg: SigAlg, data: &[u8], sig: &[u8]) -> bool {
        self.prepared.verify(alg, data, sig)
    }
}

fn check_key_strength<T: HasPublic>(key: &PKeyRef<T>) -> Result<(), DsigError> {
    match key.id() {
        Id::RSA if key.bits() >= 2048 => Ok(()),
        Id::RSA => Err(DsigError::WeakKey(format!(
            "RSA-{} is below the 2048-bit minimum",
            key.bits()
        ))),
        Id::EC if key.bits() >= 256 => Ok(()),
        other => Err(DsigError::WeakKey(format!(
            "key type {other:?} is not accepted"
        ))),
    }
}

/// What a successful verification established.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    /// The element the Reference resolved to: the only one to read from.
    pub element: ElemId,
    /// The ds:Signature element (excluded from the signed content).
    pub signature: ElemId,
    pub alg: SigAlg,
}

/// Whether `target` has a ds:Signature child.
pub fn has_signature(doc: &Document, target: ElemId) -> bool {
    doc.child(target, ns::DSIG, "Signature").is_some()
}

/// Verifies the enveloped signature carried by `target` (SAML Core §5.4)
/// against `keys`. Only `target` and its descendants are covered on success.
pub fn verify_enveloped(
    doc: &Document,
    target: ElemId,
    keys: &[TrustedKey],
    allow_sha1: bool,
) -> Result<Verified, DsigError> {
    let mut sigs = doc.children_named(target, ns::DSIG, "Signature");
    let sig = match (sigs.next(), sigs.next()) {
        (None, _) => return Err(DsigError::Missing(doc.local(target).to_owned())),
        (Some(one), None) => one,
        (Some(_), Some(_)) => return Err(DsigError::Multiple(doc.local(target).to_owned())),
    };
    let parts = SignatureParts::read(doc, sig)?;
    if parts.alg.uses_sha1() && !allow_sha1 {
        return Err(DsigError::Sha1NotAllowed);
    }
    if parts.digest_alg.is_sha1() && !allow_sha1 {
        return Err(DsigError::Sha1NotAllowed);
    }
    let id = doc.attr(target, "ID").ok_or(DsigError::NoId)?;
    if parts.reference_uri.strip_prefix('#') != Some(id) {
        return Err(DsigError::ReferenceUri {
            expected: id.to_owned(),
            found: parts.reference_uri.chars().take(200).collect(),
        });
    }

    // SignedInfo first: it authenticates everything else we read from it.
    // Sized for the digest sink, which takes this buffer over below.
    let mut si = Vec::with_capacity(DigestSink::CAPACITY);
    exc_c14n(doc, parts.signed_info, None, &parts.si_prefixes, &mut si);
    // An ECDSA SignatureValue is r || s (XMLDSig 1.1 §6.4.3); the key must
    // be of the algorithm's type.
    let ok = keys
        .iter()
        .any(|k| k.verify(parts.alg, &si, &parts.signature_value));
    if !ok {
        return Err(DsigError::BadSignature);
    }

    // Output amplification is refused before any digest work (see
    // exc_c14n_bounded); the canonical form goes straight into the digest.
    let budget = doc
        .source()
        .len()
        .saturating_mul(4)
        .saturating_add(64 * 1024);
    let mut sink = DigestSink::new(parts.digest_alg, si);
    exc_c14n_into(
        doc,
        target,
        Some(sig),
        &parts.ref_prefixes,
        &mut sink,
        budget,
    )
    .map_err(|_| {
        DsigError::Structure(format!(
            "canonical form of the signed element exceeds {budget} bytes"
        ))
    })?;
    let digest = sink.finish();
    if digest.len() != parts.digest_value.len()
        || !openssl::memcmp::eq(&digest, &parts.digest_value)
    {
        return Err(DsigError::DigestMismatch);
    }
    Ok(Verified {
        element: target,
        signature: sig,
        alg: parts.alg,
    })
}

/// Canonical bytes hashed as they are written (XMLDSig §4.4.3.2): the
/// writer fills the buffer and the digest takes it a block at a time.
struct DigestSink {
    digest: crate::crypto::alg::Digester,
    block: Vec<u8>,
}

impl DigestSink {
    /// The writer spills once the buffer has grown by SPILL, so it holds a
    /// block and the piece that crossed the line: room for both means no
    /// regrowth for a typical piece.
    const CAPACITY: usize = 2 * SPILL;

    /// A sink that writes into `buf` (emptied first), reserved to
    /// [`Self::CAPACITY`].
    fn new(alg: DigestAlg, mut buf: Vec<u8>) -> Self {
        buf.clear();
        buf.reserve(Self::CAPACITY);
        Self {
            digest: alg.start(),
            block: buf,
        }
    }

    fn finish(mut self) -> crate::crypto::alg::Digest {
        self.spill();
        self.digest.finish()
    }
}

impl Sink for DigestSink {
    fn buf(&mut self) -> &mut Vec<u8> {
        &mut self.block
    }

    fn spill(&mut self) {
        if !self.block.is_empty() {
            self.digest.update(&self.block);
            self.block.clear();
        }
    }
}

/// The parts of a ds:Signature, read and shape-checked.
struct SignatureParts {
    signed_info: ElemId,
    si_prefixes: Vec<String>,
    alg: SigAlg,
    reference_uri: String,
    ref_prefixes: Vec<String>,
    digest_alg: DigestAlg,
    digest_value: Vec<u8>,
    signature_value: Vec<u8>,
}

fn structure(msg: impl Into<String>) -> DsigError {
    DsigError::Structure(msg.into())
}

impl SignatureParts {
    fn read(doc: &Document, sig: ElemId) -> Result<Self, DsigError> {
        let kids: Vec<ElemId> = doc.children(sig).collect();
        let mut it = kids.iter().copied();
        let signed_info = it
            .next()
            .filter(|e| doc.is(*e, ns::DSIG, "SignedInfo"))
            .ok_or_else(|| structure("first child of Signature is not SignedInfo"))?;
        if doc
            .descendants(signed_info)
            .nth(MAX_SIGNED_INFO_ELEMENTS)
            .is_some()
        {
            return Err(structure(format!(
                "SignedInfo holds more than {MAX_SIGNED_INFO_ELEMENTS} elements"
            )));
        }
        let sv = it
            .next()
            .filter(|e| doc.is(*e, ns::DSIG, "SignatureValue"))
            .ok_or_else(|| structure("SignatureValue does not follow SignedInfo"))?;
        for extra in it {
            if !doc.is(extra, ns::DSIG, "KeyInfo") {
                return Err(structure(format!(
                    "unexpected <{}> in Signature",
                    doc.qname(extra)
                )));
            }
        }
        let signature_value = b64(&doc.text(sv), "SignatureValue")?;
        if signature_value.is_empty() {
            return Err(structure("SignatureValue is empty"));
        }

        let si: Vec<ElemId> = doc.children(signed_info).collect();
        let (c14n, rest) = si
            .split_first()
            .ok_or_else(|| structure("SignedInfo is empty"))?;
        if !doc.is(*c14n, ns::DSIG, "CanonicalizationMethod") {
            return Err(structure(
                "SignedInfo does not start with CanonicalizationMethod",
            ));
        }
        let si_prefixes = exc_c14n_method(doc, *c14n)?;
        let (sm, refs) = rest
            .split_first()
            .ok_or_else(|| structure("SignedInfo has no SignatureMethod"))?;
        if !doc.is(*sm, ns::DSIG, "SignatureMethod") {
            return Err(structure("SignatureMethod missing"));
        }
        if doc.has_element_children(*sm) {
            // HMACOutputLength and any other parameter (XMLDSig §6.3.1, CVE-2009-0217).
            return Err(structure(
                "SignatureMethod has child elements (HMACOutputLength?)",
            ));
        }
        let alg_uri = doc.attr(*sm, "Algorithm").unwrap_or("");
        let alg = SigAlg::from_uri(alg_uri)
            .ok_or_else(|| DsigError::SignatureMethod(alg_uri.chars().take(120).collect()))?;
        if refs.iter().any(|r| !doc.is(*r, ns::DSIG, "Reference")) {
            return Err(structure(
                "SignedInfo holds something other than References",
            ));
        }
        let [reference] = refs else {
            return Err(DsigError::ReferenceCount(refs.len()));
        };
        let reference = *reference;
        let reference_uri = doc
            .attr(reference, "URI")
            .ok_or_else(|| structure("Reference has no URI"))?
            .to_owned();

        let rk: Vec<ElemId> = doc.children(reference).collect();
        let (transforms, dm, dv) = match rk.as_slice() {
            [t, dm, dv] if doc.is(*t, ns::DSIG, "Transforms") => (Some(*t), *dm, *dv),
            [dm, dv] => (None, *dm, *dv),
            _ => {
                return Err(structure(
                    "Reference must hold Transforms, DigestMethod, DigestValue",
                ))
            }
        };
        if !doc.is(dm, ns::DSIG, "DigestMethod") || !doc.is(dv, ns::DSIG, "DigestValue") {
            return Err(structure(
                "Reference must hold DigestMethod then DigestValue",
            ));
        }
        if doc.has_element_children(dm) {
            return Err(structure("DigestMethod has child elements"));
        }
        let dm_uri = doc.attr(dm, "Algorithm").unwrap_or("");
        let digest_alg = DigestAlg::from_uri(dm_uri)
            .ok_or_else(|| DsigError::DigestMethod(dm_uri.chars().take(120).collect()))?;
        let digest_value = b64(&doc.text(dv), "DigestValue")?;

        let ref_prefixes = read_transforms(doc, transforms)?;
        Ok(Self {
            signed_info,
            si_prefixes,
            alg,
            reference_uri,
            ref_prefixes,
            digest_alg,
            digest_value,
            signature_value,
        })
    }
}

/// Checks a CanonicalizationMethod/Transform that must be exc-c14n and
/// returns its InclusiveNamespaces PrefixList.
fn exc_c14n_method(doc: &Document, el: ElemId) -> Result<Vec<String>, DsigError> {
    let alg = doc.attr(el, "Algorithm").unwrap_or("");
    if alg != ns::EXC_C14N {
        return Err(if alg == ALG_EXC_C14N_COMMENTS || alg.contains("c14n") {
            DsigError::Canonicalization(alg.chars().take(120).collect())
        } else {
            DsigError::Transforms(alg.chars().take(120).collect())
        });
    }
    let mut prefixes = Vec::new();
    for k in doc.children(el) {
        if !doc.is(k, ns::EXC_C14N, "InclusiveNamespaces") || doc.has_element_children(k) {
            return Err(structure(format!(
                "unexpected <{}> in exc-c14n parameters",
                doc.qname(k)
            )));
        }
        prefixes.extend(
            doc.attr(k, "PrefixList")
                .unwrap_or("")
                .split_whitespace()
                .map(str::to_owned),
        );
    }
    prefixes.sort_unstable();
    prefixes.dedup();
    if prefixes.len() > MAX_INCLUSIVE_PREFIXES {
        return Err(structure(format!(
            "InclusiveNamespaces PrefixList names more than {MAX_INCLUSIVE_PREFIXES} prefixes"
        )));
    }
    Ok(prefixes)
}

fn read_transforms(doc: &Document, transforms: Option<ElemId>) -> Result<Vec<String>, DsigError> {
    let list: Vec<ElemId> = transforms
        .map(|t| doc.children(t).collect())
        .unwrap_or_default();
    let names: Vec<&str> = list
        .iter()
        .map(|t| doc.attr(*t, "Algorithm").unwrap_or("?"))
        .collect();
    let describe = || {
        names
            .iter()
            .map(|n| n.chars().take(100).collect::<String>())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let [env, c14n] = list.as_slice() else {
        return Err(DsigError::Transforms(if names.is_empty() {
            "none".into()
        } else {
            describe()
        }));
    };
    if list.iter().any(|t| !doc.is(*t, ns::DSIG, "Transform")) {
        return Err(structure("Transforms holds something other than Transform"));
    }
    if doc.attr(*env, "Algorithm") != Some(ALG_ENVELOPED) || doc.has_element_children(*env) {
        return Err(DsigError::Transforms(describe()));
    }
    exc_c14n_method(doc, *c14n).map_err(|e| match e {
        DsigError::Canonicalization(_) => DsigError::Transforms(describe()),
        other => other,
    })
}

fn b64(text: &str, what: &'static str) -> Result<Vec<u8>, DsigError> {
    super::b64_decode_lenient(text).ok_or(DsigError::Base64(what))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::saml::sign::{sign_enveloped, SignOptions};
    use crate::xml::{parse, Limits};
    use openssl::pkey::Private;
    use openssl::rsa::Rsa;

    fn key() -> (PKey<Private>, TrustedKey) {
        let rsa = Rsa::generate(2048).unwrap();
        let k = PKey::from_rsa(rsa).unwrap();
        let pubk = PKey::public_key_from_pem(&k.public_key_to_pem().unwrap()).unwrap();
        (k, TrustedKey::new(pubk).unwrap())
    }

    const DOC: &str = r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_r1"><saml:Issuer xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">idp</saml:Issuer><saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a1"><saml:Issuer>idp</saml:Issuer><saml:Subject><saml:NameID>alice</saml:NameID></saml:Subject></saml:Assertion></samlp:Response>"#;

    #[test]
    fn signs_and_verifies_and_detects_tampering() {
        let (k, t) = key();
        let signed = sign_enveloped(DOC, "_a1", &k, &SignOptions::default()).unwrap();
        let d = parse(signed.as_bytes(), &Limits::MESSAGE).unwrap();
        let a = d.by_id("_a1").unwrap();
        let v = verify_enveloped(&d, a, std::slice::from_ref(&t), false).unwrap();
        assert_eq!(v.element, a);

        let tampered = signed.replace(">alice<", ">mallory<");
        let d = parse(tampered.as_bytes(), &Limits::MESSAGE).unwrap();
        let a = d.by_id("_a1").unwrap();
        assert_eq!(
            verify_enveloped(&d, a, std::slice::from_ref(&t), false),
            Err(DsigError::DigestMismatch)
        );

        let (_, other) = key();
        let d = parse(signed.as_bytes(), &Limits::MESSAGE).unwrap();
        let a = d.by_id("_a1").unwrap();
        assert_eq!(
            verify_enveloped(&d, a, &[other], false),
            Err(DsigError::BadSignature)
        );
    }

    #[test]
    fn refuses_sha1_unless_allowed_and_ecdsa_works() {
        let (k, t) = key();
        let opts = SignOptions {
            alg: SigAlg::RsaSha1,
            digest: DigestAlg::Sha1,
            ..Default::default()
        };
        let signed = sign_enveloped(DOC, "_r1", &k, &opts).unwrap();
        let d = parse(signed.as_bytes(), &Limits::MESSAGE).unwrap();
        assert_eq!(
            verify_enveloped(&d, d.root(), std::slice::from_ref(&t), false),
            Err(DsigError::Sha1NotAllowed)
        );
        assert!(verify_enveloped(&d, d.root(), &[t], true).is_ok());

        let ec = openssl::ec::EcKey::generate(
            &openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1).unwrap(),
        )
        .unwrap();
        let k = PKey::from_ec_key(ec).unwrap();
        let pubk = PKey::public_key_from_pem(&k.public_key_to_pem().unwrap()).unwrap();
        let opts = SignOptions {
            alg: SigAlg::EcdsaSha256,
            ..Default::default()
        };
        let signed = sign_enveloped(DOC, "_r1", &k, &opts).unwrap();
        let d = parse(signed.as_bytes(), &Limits::MESSAGE).unwrap();
        assert!(verify_enveloped(&d, d.root(), &[TrustedKey::new(pubk).unwrap()], false).is_ok());
    }

    /// Found by fuzzing `response_validate` with large inputs: SignedInfo is
    /// canonicalised before the signature check, and its cost must not grow
    /// with the message (fuzz/regressions/response_validate/).
    #[test]
    fn signed_info_cost_is_bounded_before_the_signature_check() {
        let (k, t) = key();
        let signed = sign_enveloped(DOC, "_r1", &k, &SignOptions::default()).unwrap();
        let c14n =
            r#"<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>"#;
        let check = |replacement: &str| {
            let x = signed.replacen(c14n, replacement, 1);
            assert_ne!(x, signed);
            let d = parse(x.as_bytes(), &Limits::MESSAGE).unwrap();
            verify_enveloped(&d, d.root(), std::slice::from_ref(&t), false)
        };
        let many = format!(
            r#"<ds:CanonicalizationMethod xmlns:ec="{}" Algorithm="{}">{}</ds:CanonicalizationMethod>"#,
            ns::EXC_C14N,
            ns::EXC_C14N,
            "<ec:InclusiveNamespaces PrefixList=\"ds\"/>".repeat(MAX_SIGNED_INFO_ELEMENTS)
        );
        assert!(
            matches!(check(&many), Err(DsigError::Structure(m)) if m.contains("SignedInfo holds"))
        );
        let list = |n: usize| {
            let p: Vec<String> = (0..n).map(|i| format!("p{i}")).collect();
            format!(
                r#"<ds:CanonicalizationMethod Algorithm="{}"><ec:InclusiveNamespaces xmlns:ec="{}" PrefixList="{} ds ds"/></ds:CanonicalizationMethod>"#,
                ns::EXC_C14N,
                ns::EXC_C14N,
                p.join(" ")
            )
        };
        assert!(
            matches!(check(&list(MAX_INCLUSIVE_PREFIXES)), Err(DsigError::Structure(m)) if m.contains("PrefixList"))
        );
        // Repeats are not counted; the list changes SignedInfo, so the
        // signature no longer verifies, but the shape is accepted.
        assert_eq!(
            check(&list(MAX_INCLUSIVE_PREFIXES - 1)),
            Err(DsigError::BadSignature)
        );
    }

    /// The canonical form is hashed in blocks as it is written: a signed
    /// element several blocks long verifies, and a change in its last
    /// block, or in one text longer than a block, is still caught.
    #[test]
    fn long_signed_elements_are_digested_whole() {
        let (k, t) = key();
        let long = "x".repeat(3 * SPILL);
        let small: String = (0..2000).map(|i| format!("<saml:g>{i}</saml:g>")).collect();
        let doc = DOC.replace(
            "<saml:NameID>alice</saml:NameID>",
            &format!("<saml:NameID>alice</saml:NameID><saml:v>{long}</saml:v>{small}<saml:z>end</saml:z>"),
        );
        let signed = sign_enveloped(&doc, "_a1", &k, &SignOptions::default()).unwrap();
        let check = |xml: &str| {
            let d = parse(xml.as_bytes(), &Limits::MESSAGE).unwrap();
            let a = d.by_id("_a1").unwrap();
            verify_enveloped(&d, a, std::slice::from_ref(&t), false).map(|_| ())
        };
        assert_eq!(check(&signed), Ok(()));
        for (from, to) in [(">end<", ">enD<"), ("xxx</saml:v>", "xxy</saml:v>")] {
            let tampered = signed.replacen(from, to, 1);
            assert_ne!(tampered, signed);
            assert_eq!(check(&tampered), Err(DsigError::DigestMismatch));
        }
    }

    #[test]
    fn refuses_weak_rsa() {
        let k = PKey::from_rsa(Rsa::generate(1024).unwrap()).unwrap();
        let pubk = PKey::public_key_from_pem(&k.public_key_to_pem().unwrap()).unwrap();
        assert!(matches!(TrustedKey::new(pubk), Err(DsigError::WeakKey(_))));
    }
}
