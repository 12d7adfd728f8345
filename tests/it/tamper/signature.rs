//! Signature content, exclusion, References, keys, algorithms and transforms.

use super::*;
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use samlhub::saml::dsig::{DigestAlg, SigAlg};
use samlhub::xml::{exc_c14n, ns, parse, Document, ElemId, Limits};

const CVE_2009_0217: &str = "CVE-2009-0217 (HMACOutputLength truncation)";
const RFC6931: &str = "RFC 6931; design §3 rule 2";

pub(super) fn cases() -> Vec<Case> {
    let mut v = controls();
    v.extend(content());
    v.extend(exclusion());
    v.extend(references());
    v.extend(keys());
    v.extend(algorithms());
    v.extend(transforms());
    v
}

#[test]
fn tamper_signature_corpus() {
    Rig::start().run(&cases());
}

fn controls() -> Vec<Case> {
    vec![
        control(
            "CONTROL-response-signed",
            "valid Response, only the Response signed",
            ALICE,
            How::Doc(|e, s| e.signed(&s, Signing::Response)),
        ),
        control(
            "CONTROL-assertion-signed",
            "valid Response, only the Assertion signed",
            ALICE,
            How::Doc(|e, s| e.signed(&s, Signing::Assertion)),
        ),
        control(
            "CONTROL-both-signed",
            "valid Response, Assertion and Response signed",
            ALICE,
            How::Doc(|e, s| e.signed(&s, Signing::Both)),
        ),
        control(
            "CONTROL-both-signed-rsa-sha512",
            "valid Response signed at both levels with RSA-SHA512 and SHA-512 digests",
            ALICE,
            How::Doc(|e, s| {
                let opts = SignOptions {
                    alg: SigAlg::RsaSha512,
                    digest: DigestAlg::Sha512,
                    ..Default::default()
                };
                sign(&s.to_xml(), &s, Signing::Both, &e.idp.key, &opts)
            }),
        ),
        control(
            "CONTROL-inclusive-namespaces",
            "valid Response, Assertion signed with an InclusiveNamespaces PrefixList (xs xsi)",
            ALICE,
            How::Doc(|e, s| {
                let opts = SignOptions {
                    inclusive_prefixes: &["xs", "xsi"],
                    ..Default::default()
                };
                sign(&s.to_xml(), &s, Signing::Assertion, &e.idp.key, &opts)
            }),
        ),
    ]
}

fn content() -> Vec<Case> {
    const REF: &str = "XMLDSig §3.2.1 (Reference validation)";
    vec![
        refused(
            "CONTENT-nameid-response-signed",
            "NameID changed to mallory after signing; Response signed",
            "signature",
            DIGEST,
            REF,
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Response);
                replace_once(&x, ">alice</saml:NameID>", ">mallory</saml:NameID>")
            }),
        ),
        refused(
            "CONTENT-nameid-assertion-signed",
            "NameID changed to mallory after signing; Assertion signed",
            "signature",
            DIGEST,
            REF,
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Assertion);
                replace_once(&x, ">alice</saml:NameID>", ">mallory</saml:NameID>")
            }),
        ),
        refused(
            "CONTENT-nameid-both-signed",
            "NameID changed to mallory after signing; both signed",
            "signature",
            DIGEST,
            REF,
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Both);
                replace_once(&x, ">alice</saml:NameID>", ">mallory</saml:NameID>")
            }),
        ),
        refused(
            "CONTENT-group-added-assertion-signed",
            "a root-admins group value added after signing; Assertion signed",
            "signature",
            DIGEST,
            REF,
            How::Doc(|e, s| add_group(&e.signed(&s, Signing::Assertion))),
        ),
        refused(
            "CONTENT-group-added-response-signed",
            "a root-admins group value added after signing; Response signed",
            "signature",
            DIGEST,
            REF,
            How::Doc(|e, s| add_group(&e.signed(&s, Signing::Response))),
        ),
        refused(
            "CONTENT-mail-both-signed",
            "mail attribute value changed after signing; both signed",
            "signature",
            DIGEST,
            REF,
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Both);
                replace_once(&x, ">alice@example.org<", ">mallory@example.org<")
            }),
        ),
        refused(
            "CONTENT-conditions-extended",
            "Conditions NotOnOrAfter pushed a year ahead after signing; Assertion signed",
            "signature",
            DIGEST,
            REF,
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Assertion);
                let noa = format!("NotOnOrAfter=\"{}\"", fmt_time(s.not_on_or_after));
                let later = format!(
                    "NotOnOrAfter=\"{}\"",
                    fmt_time(s.not_on_or_after + time::Duration::days(365))
                );
                // The Conditions one is the second NotOnOrAfter (after the SCD's).
                let first = x.find(&noa).unwrap();
                let second = first + 1 + x[first + 1..].find(&noa).unwrap();
                format!("{}{later}{}", &x[..second], &x[second + noa.len()..])
            }),
        ),
        refused(
            "CONTENT-retargeted-inresponseto",
            "both InResponseTo values changed to another login's request; Response signed",
            "signature",
            DIGEST,
            REF,
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Response);
                x.replace(s.in_response_to.as_deref().unwrap(), &random_id())
            }),
        ),
    ]
}

fn add_group(x: &str) -> String {
    let v = "<saml:AttributeValue xsi:type=\"xs:string\">users</saml:AttributeValue>";
    replace_once(
        x,
        v,
        &format!(
            "{v}<saml:AttributeValue xsi:type=\"xs:string\">root-admins</saml:AttributeValue>"
        ),
    )
}

fn exclusion() -> Vec<Case> {
    const REF: &str = "SAML Profiles §4.1.3.5; signature exclusion (Somorovsky et al. 2012)";
    vec![
        refused(
            "EXCL-never-signed",
            "no Signature anywhere",
            "signature",
            UNSIGNED,
            REF,
            How::Doc(|e, s| e.signed(&s, Signing::None)),
        ),
        refused(
            "EXCL-signature-removed-assertion-signed",
            "the Assertion's Signature element deleted",
            "signature",
            UNSIGNED,
            REF,
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Assertion);
                cut(&x, assertion_signature(&x).unwrap())
            }),
        ),
        refused(
            "EXCL-signature-removed-response-signed",
            "the Response's Signature element deleted",
            "signature",
            UNSIGNED,
            REF,
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Response);
                cut(&x, response_signature(&x).unwrap())
            }),
        ),
        refused(
            "EXCL-signatures-removed-both-signed",
            "both Signature elements deleted",
            "signature",
            UNSIGNED,
            REF,
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Both);
                let x = cut(&x, assertion_signature(&x).unwrap());
                cut(&x, response_signature(&x).unwrap())
            }),
        ),
        refused(
            "EXCL-assertion-signature-removed-both-signed",
            "the Assertion's Signature deleted, the Response's (which covers it) kept",
            "signature",
            DIGEST,
            REF,
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Both);
                cut(&x, assertion_signature(&x).unwrap())
            }),
        ),
        accepted(
            "EXCL-response-signature-stripped-both-signed",
            "the outer Response Signature deleted: what is left is a valid Assertion-signed answer, read as the signed alice",
            ALICE,
            "SAML Profiles §4.1.3.5 (either signature suffices)",
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Both);
                cut(&x, response_signature(&x).unwrap())
            }),
        ),
        refused(
            "EXCL-empty-signaturevalue",
            "SignatureValue emptied",
            "signature",
            "SignatureValue is empty",
            REF,
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Assertion);
                let sv = element_text_range(&x, "ds:SignatureValue", 0);
                format!("{}{}", &x[..sv.start], &x[sv.end..])
            }),
        ),
        refused(
            "EXCL-signaturevalue-not-base64",
            "SignatureValue replaced by text that is not base64",
            "signature",
            "SignatureValue is not valid base64",
            REF,
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Response);
                let sv = element_text_range(&x, "ds:SignatureValue", 0);
                format!("{}not*base64!{}", &x[..sv.start], &x[sv.end..])
            }),
        ),
        refused(
            "EXCL-empty-signedinfo",
            "SignedInfo emptied (no method, no Reference)",
            "signature",
            "SignedInfo is empty",
            REF,
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Assertion);
                let si = element_text_range(&x, "ds:SignedInfo", 0);
                format!("{}{}", &x[..si.start], &x[si.end..])
            }),
        ),
        refused(
            "EXCL-no-reference",
            "the only Reference removed from SignedInfo",
            "signature",
            "SignedInfo has 0 References",
            REF,
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Assertion);
                let r = element_range(&x, "ds:Reference", 0);
                cut(&x, r)
            }),
        ),
        refused(
            "EXCL-empty-signature-element",
            "the Signature replaced by an empty ds:Signature element",
            "signature",
            "first child of Signature is not SignedInfo",
            REF,
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Assertion);
                let r = assertion_signature(&x).unwrap();
                format!(
                    "{}<ds:Signature xmlns:ds=\"{}\"/>{}",
                    &x[..r.start],
                    ns::DSIG,
                    &x[r.end..]
                )
            }),
        ),
        refused(
            "EXCL-two-signatures-on-assertion",
            "a second copy of the Assertion's Signature added beside the first",
            "signature",
            "carries more than one Signature",
            SAML_SIG,
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Assertion);
                let r = assertion_signature(&x).unwrap();
                let sig = x[r.clone()].to_owned();
                format!("{}{sig}{}", &x[..r.end], &x[r.end..])
            }),
        ),
    ]
}

/// The range of the n-th (0-based) element written `<{qname} …>…</{qname}>`.
fn element_range(xml: &str, qname: &str, n: usize) -> std::ops::Range<usize> {
    let open = format!("<{qname}");
    let close = format!("</{qname}>");
    let mut pos = 0;
    let mut k = 0;
    loop {
        let start = pos + xml[pos..].find(&open).unwrap();
        let next = xml.as_bytes()[start + open.len()];
        if next == b' ' || next == b'>' {
            let end = start + xml[start..].find(&close).unwrap() + close.len();
            if k == n {
                return start..end;
            }
            k += 1;
            pos = end;
        } else {
            pos = start + open.len();
        }
    }
}

/// The content range (between the tags) of the n-th `<{qname} …>…</{qname}>`.
fn element_text_range(xml: &str, qname: &str, n: usize) -> std::ops::Range<usize> {
    let r = element_range(xml, qname, n);
    let start = r.start + xml[r.start..].find('>').unwrap() + 1;
    start..r.end - qname.len() - 3
}

fn references() -> Vec<Case> {
    vec![
        refused(
            "REF-http-uri-assertion-signed",
            "Assertion's Reference URI is an http URL on the evil listener",
            "signature",
            REF_URI,
            "XMLDSig §4.3.3.1 (URI dereferencing); design §3",
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Assertion);
                replace_once(
                    &x,
                    &format!("URI=\"#{}\"", s.assertion_id),
                    &format!("URI=\"{}\"", e.evil_url("evil.xml")),
                )
            }),
        ),
        refused(
            "REF-http-uri-response-signed",
            "Response's Reference URI is an http URL on the evil listener",
            "signature",
            REF_URI,
            "XMLDSig §4.3.3.1 (URI dereferencing); design §3",
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Response);
                replace_once(
                    &x,
                    &format!("URI=\"#{}\"", s.response_id),
                    &format!("URI=\"{}\"", e.evil_url("evil.xml")),
                )
            }),
        ),
        refused(
            "REF-file-uri",
            "Reference URI file:///etc/passwd",
            "signature",
            REF_URI,
            "XMLDSig §4.3.3.1; design §3",
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Assertion);
                replace_once(
                    &x,
                    &format!("URI=\"#{}\"", s.assertion_id),
                    "URI=\"file:///etc/passwd\"",
                )
            }),
        ),
        refused(
            "REF-unknown-id",
            "Reference URI #other-id, an ID no element carries",
            "signature",
            REF_URI,
            SAML_SIG,
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Assertion);
                replace_once(
                    &x,
                    &format!("URI=\"#{}\"", s.assertion_id),
                    "URI=\"#other-id\"",
                )
            }),
        ),
        refused(
            "REF-assertion-signature-points-at-response",
            "the Assertion's Signature references the (unsigned) Response's ID",
            "signature",
            REF_URI,
            SAML_SIG,
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Assertion);
                replace_once(
                    &x,
                    &format!("URI=\"#{}\"", s.assertion_id),
                    &format!("URI=\"#{}\"", s.response_id),
                )
            }),
        ),
        refused(
            "REF-response-signature-points-at-assertion",
            "the Response's Signature references the Assertion's ID instead of its parent",
            "signature",
            REF_URI,
            SAML_SIG,
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Response);
                replace_once(
                    &x,
                    &format!("URI=\"#{}\"", s.response_id),
                    &format!("URI=\"#{}\"", s.assertion_id),
                )
            }),
        ),
        refused(
            "REF-empty-uri-assertion-signed",
            "Reference URI \"\" (the whole document) on the Assertion's Signature",
            "signature",
            REF_URI,
            "XMLDSig §4.3.3.3 (same-document URI \"\")",
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Assertion);
                replace_once(&x, &format!("URI=\"#{}\"", s.assertion_id), "URI=\"\"")
            }),
        ),
        refused(
            "REF-empty-uri-response-signed",
            "Reference URI \"\" (the whole document) on the Response's Signature",
            "signature",
            REF_URI,
            "XMLDSig §4.3.3.3 (same-document URI \"\")",
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Response);
                replace_once(&x, &format!("URI=\"#{}\"", s.response_id), "URI=\"\"")
            }),
        ),
        refused(
            "REF-no-uri",
            "Reference without a URI attribute (application decides what is signed)",
            "signature",
            "Reference has no URI",
            "XMLDSig §4.3.3.1 (URI may be omitted)",
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Assertion);
                replace_once(&x, &format!(" URI=\"#{}\"", s.assertion_id), "")
            }),
        ),
        refused(
            "REF-xpointer-root",
            "Reference URI #xpointer(/) (the whole document, comments kept)",
            "signature",
            REF_URI,
            "XMLDSig §4.3.3.3 (XPointer)",
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Assertion);
                replace_once(
                    &x,
                    &format!("URI=\"#{}\"", s.assertion_id),
                    "URI=\"#xpointer(/)\"",
                )
            }),
        ),
        refused(
            "REF-xpointer-id",
            "Reference URI #xpointer(id('…')) naming the Assertion's ID",
            "signature",
            REF_URI,
            "XMLDSig §4.3.3.3 (XPointer)",
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Assertion);
                replace_once(
                    &x,
                    &format!("URI=\"#{}\"", s.assertion_id),
                    &format!("URI=\"#xpointer(id('{}'))\"", s.assertion_id),
                )
            }),
        ),
        refused(
            "REF-xpointer-xpath",
            "Reference URI is an XPointer with an XPath selecting any Assertion",
            "signature",
            REF_URI,
            "XMLDSig §4.3.3.3; Somorovsky et al. 2012",
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Assertion);
                replace_once(
                    &x,
                    &format!("URI=\"#{}\"", s.assertion_id),
                    "URI=\"#xpointer(//*[local-name()='Assertion'])\"",
                )
            }),
        ),
        refused(
            "REF-bare-xpath-uri",
            "Reference URI is a bare XPath expression",
            "signature",
            REF_URI,
            "XMLDSig §4.3.3.1",
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Assertion);
                replace_once(
                    &x,
                    &format!("URI=\"#{}\"", s.assertion_id),
                    "URI=\"/samlp:Response/saml:Assertion[2]\"",
                )
            }),
        ),
        refused(
            "REF-extra-reference-duplicate",
            "SignedInfo holds the Reference twice",
            "signature",
            "SignedInfo has 2 References",
            SAML_SIG,
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Assertion);
                let r = element_range(&x, "ds:Reference", 0);
                let reference = x[r.clone()].to_owned();
                format!("{}{reference}{}", &x[..r.end], &x[r.end..])
            }),
        ),
        refused(
            "REF-extra-reference-to-response",
            "a second Reference, to the Response's ID, added to the Assertion's SignedInfo",
            "signature",
            "SignedInfo has 2 References",
            SAML_SIG,
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Assertion);
                let r = element_range(&x, "ds:Reference", 0);
                let extra = x[r.clone()].replace(
                    &format!("URI=\"#{}\"", s.assertion_id),
                    &format!("URI=\"#{}\"", s.response_id),
                );
                format!("{}{extra}{}", &x[..r.end], &x[r.end..])
            }),
        ),
        refused(
            "REF-object-in-signature",
            "a ds:Object (holding a copy of the NameID) appended to a valid Signature",
            "signature",
            "unexpected <ds:Object> in Signature",
            "XMLDSig §4.5 (Object); Somorovsky et al. 2012 (XSW8)",
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Assertion);
                let r = assertion_signature(&x).unwrap();
                let at = r.end - "</ds:Signature>".len();
                format!(
                    "{}<ds:Object><saml:NameID>mallory</saml:NameID></ds:Object>{}",
                    &x[..at],
                    &x[at..]
                )
            }),
        ),
    ]
}

// ---- re-signing with other algorithms ---------------------------------------

fn doc_of(xml: &str) -> Document {
    parse(xml.as_bytes(), &Limits::METADATA).unwrap()
}

fn signature_of(doc: &Document, id: &str) -> (ElemId, ElemId) {
    let target = doc.by_id(id).unwrap();
    let sig = doc.child(target, ns::DSIG, "Signature").unwrap();
    (target, sig)
}

fn splice(xml: &str, r: std::ops::Range<usize>, with: &str) -> String {
    format!("{}{with}{}", &xml[..r.start], &xml[r.end..])
}

/// The text range inside element `el` (which must have text content).
fn inner(doc: &Document, el: ElemId) -> std::ops::Range<usize> {
    let span = doc.el(el).span;
    span.start_tag_end..span.end - doc.qname(el).len() - 3
}

/// Rewrites the Signature of the element `id` the way an IdP using other
/// algorithms would: `edit` changes the Signature's text (method URIs,
/// parameters), then DigestValue is recomputed with `digest` over the
/// exc-c14n form of the element and SignatureValue with `sign_si` over the
/// exc-c14n form of the new SignedInfo.
fn resign(
    xml: &str,
    id: &str,
    edit: impl Fn(&str) -> String,
    digest: MessageDigest,
    sign_si: impl Fn(&[u8]) -> Vec<u8>,
) -> String {
    let doc = doc_of(xml);
    let (_, sig) = signature_of(&doc, id);
    let span = doc.el(sig).span;
    let xml = splice(xml, span.start..span.end, &edit(&xml[span.start..span.end]));

    let doc = doc_of(&xml);
    let (target, sig) = signature_of(&doc, id);
    let mut content = Vec::new();
    exc_c14n(&doc, target, Some(sig), &[], &mut content);
    let d = openssl::hash::hash(digest, &content).unwrap();
    let si = doc.child(sig, ns::DSIG, "SignedInfo").unwrap();
    let reference = doc.child(si, ns::DSIG, "Reference").unwrap();
    let dv = doc.child(reference, ns::DSIG, "DigestValue").unwrap();
    let xml = splice(&xml, inner(&doc, dv), &b64(d));

    let doc = doc_of(&xml);
    let (_, sig) = signature_of(&doc, id);
    let si = doc.child(sig, ns::DSIG, "SignedInfo").unwrap();
    let mut si_c14n = Vec::new();
    exc_c14n(&doc, si, None, &[], &mut si_c14n);
    let sv = doc.child(sig, ns::DSIG, "SignatureValue").unwrap();
    splice(&xml, inner(&doc, sv), &b64(sign_si(&si_c14n)))
}

fn rsa_sign(key: &TestKey, md: MessageDigest) -> impl Fn(&[u8]) -> Vec<u8> + '_ {
    move |data| {
        let pkey = key.pkey();
        let mut s = openssl::sign::Signer::new(md, &pkey).unwrap();
        s.sign_oneshot_to_vec(data).unwrap()
    }
}

fn hmac_sign(secret: Vec<u8>, md: MessageDigest) -> impl Fn(&[u8]) -> Vec<u8> {
    move |data| {
        let k = PKey::hmac(&secret).unwrap();
        let mut s = openssl::sign::Signer::new(md, &k).unwrap();
        s.sign_oneshot_to_vec(data).unwrap()
    }
}

const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";

fn with_methods(sig_uri: &'static str, digest_uri: &'static str) -> impl Fn(&str) -> String {
    move |s| s.replace(RSA_SHA256, sig_uri).replace(SHA256, digest_uri)
}

fn keys() -> Vec<Case> {
    const KEYS: &str = "design §3 rule 3 (keys from configuration only)";
    vec![
        refused(
            "KEY-attacker-cert-in-keyinfo-assertion-signed",
            "Assertion signed by the attacker's key, its own certificate in KeyInfo",
            "signature",
            BAD_SIG,
            KEYS,
            How::Doc(|e, s| {
                let der = der_of(&e.attacker);
                let opts = SignOptions {
                    cert_der: Some(&der),
                    ..Default::default()
                };
                sign(&s.to_xml(), &s, Signing::Assertion, &e.attacker, &opts)
            }),
        ),
        refused(
            "KEY-attacker-cert-in-keyinfo-response-signed",
            "Response signed by the attacker's key, its own certificate in KeyInfo",
            "signature",
            BAD_SIG,
            KEYS,
            How::Doc(|e, s| {
                let der = der_of(&e.attacker);
                let opts = SignOptions {
                    cert_der: Some(&der),
                    ..Default::default()
                };
                sign(&s.to_xml(), &s, Signing::Response, &e.attacker, &opts)
            }),
        ),
        refused(
            "KEY-keyvalue-only",
            "signed by the attacker with only a bare RSAKeyValue (modulus, exponent) in KeyInfo",
            "signature",
            BAD_SIG,
            KEYS,
            How::Doc(|e, s| {
                let x = e.signed_by(&s, Signing::Assertion, &e.attacker);
                let rsa = e.attacker.pkey().rsa().unwrap();
                let kv = format!(
                    "<ds:KeyInfo><ds:KeyValue><ds:RSAKeyValue><ds:Modulus>{}</ds:Modulus><ds:Exponent>{}</ds:Exponent></ds:RSAKeyValue></ds:KeyValue></ds:KeyInfo>",
                    b64(rsa.n().to_vec()),
                    b64(rsa.e().to_vec())
                );
                let r = assertion_signature(&x).unwrap();
                let at = r.end - "</ds:Signature>".len();
                format!("{}{kv}{}", &x[..at], &x[at..])
            }),
        ),
        refused(
            "KEY-retrievalmethod-evil-url",
            "signed by the attacker, KeyInfo a RetrievalMethod pointing at the evil listener",
            "signature",
            BAD_SIG,
            KEYS,
            How::Doc(|e, s| {
                let x = e.signed_by(&s, Signing::Assertion, &e.attacker);
                let ki = format!(
                    "<ds:KeyInfo><ds:RetrievalMethod URI=\"{}\" Type=\"http://www.w3.org/2000/09/xmldsig#X509Data\"/></ds:KeyInfo>",
                    e.evil_url("key.der")
                );
                let r = assertion_signature(&x).unwrap();
                let at = r.end - "</ds:Signature>".len();
                format!("{}{ki}{}", &x[..at], &x[at..])
            }),
        ),
        accepted(
            "KEY-keyinfo-swapped-genuine-signature",
            "genuine IdP signature whose KeyInfo names the attacker's certificate: KeyInfo is ignored, alice is read",
            ALICE,
            KEYS,
            How::Doc(|e, s| {
                let der = der_of(&e.attacker);
                let opts = SignOptions {
                    cert_der: Some(&der),
                    ..Default::default()
                };
                sign(&s.to_xml(), &s, Signing::Assertion, &e.idp.key, &opts)
            }),
        ),
        refused(
            "KEY-hmac-keyed-with-idp-certificate",
            "HMAC-SHA256 SignatureMethod keyed with the IdP's public certificate (key confusion)",
            "signature",
            "SignatureMethod 'http://www.w3.org/2001/04/xmldsig-more#hmac-sha256' is not supported",
            "XMLDSig §6.3.1; key confusion (JWT-style alg swap)",
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Assertion);
                resign(
                    &x,
                    &s.assertion_id,
                    with_methods("http://www.w3.org/2001/04/xmldsig-more#hmac-sha256", SHA256),
                    MessageDigest::sha256(),
                    hmac_sign(e.idp.cert_der(), MessageDigest::sha256()),
                )
            }),
        ),
        refused(
            "KEY-hmac-output-length-truncated",
            "HMAC-SHA1 with HMACOutputLength 8 and a one-byte SignatureValue",
            "signature",
            "SignatureMethod has child elements (HMACOutputLength?)",
            CVE_2009_0217,
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Assertion);
                let x = resign(
                    &x,
                    &s.assertion_id,
                    |sig| {
                        sig.replace(
                            &format!("<ds:SignatureMethod Algorithm=\"{RSA_SHA256}\"/>"),
                            "<ds:SignatureMethod Algorithm=\"http://www.w3.org/2000/09/xmldsig#hmac-sha1\"><ds:HMACOutputLength>8</ds:HMACOutputLength></ds:SignatureMethod>",
                        )
                    },
                    MessageDigest::sha256(),
                    hmac_sign(b"guess".to_vec(), MessageDigest::sha1()),
                );
                let r = element_text_range(&x, "ds:SignatureValue", 0);
                splice(&x, r, "AA==")
            }),
        ),
        refused(
            "KEY-rsa-with-hmac-output-length",
            "genuine RSA-SHA256 signature with an HMACOutputLength parameter inside SignatureMethod",
            "signature",
            "SignatureMethod has child elements (HMACOutputLength?)",
            CVE_2009_0217,
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Assertion);
                resign(
                    &x,
                    &s.assertion_id,
                    |sig| {
                        sig.replace(
                            &format!("<ds:SignatureMethod Algorithm=\"{RSA_SHA256}\"/>"),
                            &format!("<ds:SignatureMethod Algorithm=\"{RSA_SHA256}\"><ds:HMACOutputLength>0</ds:HMACOutputLength></ds:SignatureMethod>"),
                        )
                    },
                    MessageDigest::sha256(),
                    rsa_sign(&e.idp.key, MessageDigest::sha256()),
                )
            }),
        ),
        refused(
            "KEY-rsa1024-signed-response",
            "Response and Assertion signed with an RSA-1024 key (certificate in KeyInfo)",
            "signature",
            BAD_SIG,
            "NIST SP 800-131A (RSA < 2048 disallowed); design §3",
            How::Doc(|e, s| {
                let der = der_of(&e.weak);
                let opts = SignOptions {
                    cert_der: Some(&der),
                    ..Default::default()
                };
                sign(&s.to_xml(), &s, Signing::Both, &e.weak, &opts)
            }),
        ),
        refused(
            "KEY-rsa1024-idp-metadata-check-config",
            "IdP metadata whose only signing certificate is RSA-1024: `samlhub check-config` exits 2",
            "config",
            "RSA-1024 is below the 2048-bit minimum",
            "NIST SP 800-131A; design §3",
            How::Scenario(rsa1024_check_config),
        ),
        refused(
            "KEY-rsa1024-idp-metadata-inspect",
            "a response signed by that RSA-1024 IdP, given to inspect with its metadata",
            "config",
            "signing key too weak: RSA-1024 is below the 2048-bit minimum",
            "NIST SP 800-131A; design §3",
            How::Scenario(rsa1024_inspect),
        ),
    ]
}

/// A config whose only IdP has an RSA-1024 signing certificate.
fn weak_idp_config(rig: &Rig) -> PathBuf {
    let dir = rig.hub.dir().join("weak-idp");
    std::fs::create_dir_all(&dir).unwrap();
    let weak_idp = TestIdp {
        key: rig.env.weak.clone(),
        entity_id: "https://idp.weak.test/".into(),
        sso_url: "https://idp.weak.test/sso".into(),
    };
    std::fs::write(dir.join("weak.xml"), weak_idp.metadata_xml()).unwrap();
    let cfg = dir.join("samlhub.toml");
    std::fs::write(
        &cfg,
        format!(
            "listen = \"127.0.0.1:18099\"\ndata_dir = \"{}\"\n[[idp]]\nid = \"weak\"\nmetadata_file = \"weak.xml\"\n",
            dir.join("data").display()
        ),
    )
    .unwrap();
    cfg
}

fn rsa1024_check_config(rig: &Rig, c: &Case) -> Result<(), String> {
    let Expect::Refused { reason, .. } = c.expect else {
        unreachable!()
    };
    let cfg = weak_idp_config(rig);
    let out = run_cli(&["check-config", "--config", cfg.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.code() != Some(2) || !stderr.contains(reason) {
        return Err(format!(
            "check-config must exit 2 naming '{reason}': exit {:?}\n{stderr}{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout)
        ));
    }
    Ok(())
}

fn rsa1024_inspect(rig: &Rig, c: &Case) -> Result<(), String> {
    let cfg = weak_idp_config(rig);
    let md = cfg.parent().unwrap().join("weak.xml");
    let weak_idp = TestIdp {
        key: rig.env.weak.clone(),
        entity_id: "https://idp.weak.test/".into(),
        sso_url: "https://idp.weak.test/sso".into(),
    };
    let at = now();
    let spec = Spec::valid(&weak_idp, &rig.entity_id(), &rig.acs(), Some("_req"), at);
    let xml = rig.env.signed_by(&spec, Signing::Both, &rig.env.weak);
    let (rc, v) = rig.inspect_with(&md, xml.as_bytes(), "_req", at, &[]);
    check_verdict(rc, &v, c.expect)
}

fn algorithms() -> Vec<Case> {
    vec![
        refused(
            "ALG-rsa-sha1-sha1-digest",
            "RSA-SHA1 signature and SHA-1 digest, allow_sha1 off",
            "signature",
            SHA1,
            RFC6931,
            How::Doc(|e, s| {
                let opts = SignOptions {
                    alg: SigAlg::RsaSha1,
                    digest: DigestAlg::Sha1,
                    ..Default::default()
                };
                sign(&s.to_xml(), &s, Signing::Assertion, &e.idp.key, &opts)
            }),
        ),
        refused(
            "ALG-rsa-sha256-sha1-digest",
            "RSA-SHA256 signature over a SHA-1 digest, allow_sha1 off",
            "signature",
            SHA1,
            RFC6931,
            How::Doc(|e, s| {
                let opts = SignOptions {
                    alg: SigAlg::RsaSha256,
                    digest: DigestAlg::Sha1,
                    ..Default::default()
                };
                sign(&s.to_xml(), &s, Signing::Response, &e.idp.key, &opts)
            }),
        ),
        refused(
            "ALG-rsa-sha1-sha256-digest",
            "RSA-SHA1 signature over a SHA-256 digest, allow_sha1 off",
            "signature",
            SHA1,
            RFC6931,
            How::Doc(|e, s| {
                let opts = SignOptions {
                    alg: SigAlg::RsaSha1,
                    digest: DigestAlg::Sha256,
                    ..Default::default()
                };
                sign(&s.to_xml(), &s, Signing::Both, &e.idp.key, &opts)
            }),
        ),
        refused(
            "ALG-md5-digest",
            "genuine IdP signature (RSA-SHA256) over an MD5 DigestValue",
            "signature",
            "DigestMethod 'http://www.w3.org/2001/04/xmldsig-more#md5' is not supported",
            RFC6931,
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Assertion);
                resign(
                    &x,
                    &s.assertion_id,
                    with_methods(RSA_SHA256, "http://www.w3.org/2001/04/xmldsig-more#md5"),
                    MessageDigest::md5(),
                    rsa_sign(&e.idp.key, MessageDigest::sha256()),
                )
            }),
        ),
        refused(
            "ALG-rsa-md5-signature",
            "genuine IdP RSA-MD5 signature (SHA-256 digest)",
            "signature",
            "SignatureMethod 'http://www.w3.org/2001/04/xmldsig-more#rsa-md5' is not supported",
            RFC6931,
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Response);
                resign(
                    &x,
                    &s.response_id,
                    with_methods("http://www.w3.org/2001/04/xmldsig-more#rsa-md5", SHA256),
                    MessageDigest::sha256(),
                    rsa_sign(&e.idp.key, MessageDigest::md5()),
                )
            }),
        ),
        refused(
            "ALG-unknown-signature-method",
            "SignatureMethod URI nobody defines",
            "signature",
            "SignatureMethod 'urn:example:no-such-algorithm' is not supported",
            RFC6931,
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Assertion);
                replace_once(&x, RSA_SHA256, "urn:example:no-such-algorithm")
            }),
        ),
        refused(
            "ALG-unknown-digest-method",
            "DigestMethod URI nobody defines",
            "signature",
            "DigestMethod 'urn:example:no-such-digest' is not supported",
            RFC6931,
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Assertion);
                replace_once(&x, SHA256, "urn:example:no-such-digest")
            }),
        ),
        refused(
            "ALG-ecdsa-uri-over-rsa-signature",
            "SignatureMethod switched to ECDSA-SHA256 over the IdP's RSA signature bytes",
            "signature",
            BAD_SIG,
            "algorithm confusion; XMLDSig 1.1 §6.4.3",
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Assertion);
                replace_once(
                    &x,
                    RSA_SHA256,
                    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
                )
            }),
        ),
        refused(
            "ALG-c14n-with-comments-signedinfo",
            "SignedInfo CanonicalizationMethod is exc-c14n WithComments (genuinely re-signed)",
            "signature",
            "is not exclusive c14n without comments",
            "SAML Core §5.4.3; Duo Labs 2018 (comment injection)",
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Assertion);
                resign(
                    &x,
                    &s.assertion_id,
                    |sig| sig.replacen("xml-exc-c14n#\"/>", "xml-exc-c14n#WithComments\"/>", 1),
                    MessageDigest::sha256(),
                    rsa_sign(&e.idp.key, MessageDigest::sha256()),
                )
            }),
        ),
        refused(
            "ALG-inclusive-c14n-signedinfo",
            "SignedInfo CanonicalizationMethod is inclusive Canonical XML 1.0",
            "signature",
            "is not exclusive c14n without comments",
            "SAML Core §5.4.3",
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Assertion);
                x.replacen(
                    "<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>",
                    "<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/TR/2001/REC-xml-c14n-20010315\"/>",
                    1,
                )
            }),
        ),
    ]
}

const XSLT: &str = "http://www.w3.org/TR/1999/REC-xslt-19991116";
const XPATH: &str = "http://www.w3.org/TR/1999/REC-xpath-19991116";
const EXC_C14N_TRANSFORM: &str =
    "<ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"></ds:Transform>";
const ENVELOPED_TRANSFORM: &str =
    "<ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>";
const TRANSFORM_REF: &str = "SAML Core §5.4.4; XMLDSig §6.6";

fn xslt_transform(env: &Env) -> String {
    format!(
        "<ds:Transform Algorithm=\"{XSLT}\"><xsl:stylesheet xmlns:xsl=\"http://www.w3.org/1999/XSL/Transform\" version=\"1.0\">\
         <xsl:template match=\"/\"><xsl:copy-of select=\"document('{}')\"/></xsl:template></xsl:stylesheet></ds:Transform>",
        env.evil_url("xslt.xml")
    )
}

fn xpath_transform() -> String {
    format!(
        "<ds:Transform Algorithm=\"{XPATH}\"><ds:XPath>not(ancestor-or-self::ds:Signature)</ds:XPath></ds:Transform>"
    )
}

fn transforms() -> Vec<Case> {
    vec![
        refused(
            "XFORM-xslt-added",
            "XSLT transform (document() on the evil URL) added before the others",
            "signature",
            TRANSFORMS,
            "XMLDSig §6.6.5; W3C XML Signature Best Practices (2013): no XSLT",
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Assertion);
                replace_once(
                    &x,
                    "<ds:Transforms>",
                    &format!("<ds:Transforms>{}", xslt_transform(e)),
                )
            }),
        ),
        refused(
            "XFORM-xslt-replacing-c14n",
            "XSLT transform (document() on the evil URL) in place of exc-c14n",
            "signature",
            TRANSFORMS,
            "XMLDSig §6.6.5",
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Response);
                replace_once(&x, EXC_C14N_TRANSFORM, &xslt_transform(e))
            }),
        ),
        refused(
            "XFORM-xpath-added",
            "XPath filtering transform added after exc-c14n",
            "signature",
            TRANSFORMS,
            "XMLDSig §6.6.3",
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Assertion);
                replace_once(
                    &x,
                    "</ds:Transforms>",
                    &format!("{}</ds:Transforms>", xpath_transform()),
                )
            }),
        ),
        refused(
            "XFORM-xpath-replacing-c14n",
            "XPath filtering transform in place of exc-c14n",
            "signature",
            TRANSFORMS,
            "XMLDSig §6.6.3",
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Assertion);
                replace_once(&x, EXC_C14N_TRANSFORM, &xpath_transform())
            }),
        ),
        refused(
            "XFORM-xpath-filter2",
            "XPath Filter 2.0 transform (intersect with every Assertion) added",
            "signature",
            TRANSFORMS,
            "XML-Signature XPath Filter 2.0 (W3C REC 2002)",
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Assertion);
                replace_once(
                    &x,
                    "</ds:Transforms>",
                    "<ds:Transform Algorithm=\"http://www.w3.org/2002/06/xmldsig-filter2\"><dsig-xpath:XPath xmlns:dsig-xpath=\"http://www.w3.org/2002/06/xmldsig-filter2\" Filter=\"intersect\">//*[local-name()='Assertion']</dsig-xpath:XPath></ds:Transform></ds:Transforms>",
                )
            }),
        ),
        refused(
            "XFORM-base64",
            "base64 decoding transform added",
            "signature",
            TRANSFORMS,
            "XMLDSig §6.6.2",
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Assertion);
                replace_once(
                    &x,
                    "</ds:Transforms>",
                    "<ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#base64\"/></ds:Transforms>",
                )
            }),
        ),
        refused(
            "XFORM-none",
            "the Transforms element removed (no enveloped transform, no c14n)",
            "signature",
            TRANSFORMS,
            TRANSFORM_REF,
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Assertion);
                cut(&x, element_range(&x, "ds:Transforms", 0))
            }),
        ),
        refused(
            "XFORM-enveloped-only",
            "only the enveloped-signature transform (exc-c14n removed)",
            "signature",
            TRANSFORMS,
            TRANSFORM_REF,
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Assertion);
                replace_once(&x, EXC_C14N_TRANSFORM, "")
            }),
        ),
        refused(
            "XFORM-order-swapped",
            "exc-c14n first, enveloped-signature second",
            "signature",
            TRANSFORMS,
            TRANSFORM_REF,
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Assertion);
                let x = replace_once(&x, ENVELOPED_TRANSFORM, "@@ENV@@");
                let x = replace_once(&x, EXC_C14N_TRANSFORM, ENVELOPED_TRANSFORM);
                replace_once(&x, "@@ENV@@", EXC_C14N_TRANSFORM)
            }),
        ),
        refused(
            "XFORM-enveloped-twice",
            "a third transform: enveloped-signature repeated",
            "signature",
            TRANSFORMS,
            TRANSFORM_REF,
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Response);
                replace_once(
                    &x,
                    "</ds:Transforms>",
                    &format!("{ENVELOPED_TRANSFORM}</ds:Transforms>"),
                )
            }),
        ),
        refused(
            "XFORM-inclusive-c14n",
            "inclusive Canonical XML 1.0 transform in place of exc-c14n",
            "signature",
            TRANSFORMS,
            TRANSFORM_REF,
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Assertion);
                replace_once(
                    &x,
                    EXC_C14N_TRANSFORM,
                    "<ds:Transform Algorithm=\"http://www.w3.org/TR/2001/REC-xml-c14n-20010315\"/>",
                )
            }),
        ),
        refused(
            "XFORM-c14n-with-comments",
            "exc-c14n WithComments transform in place of exc-c14n",
            "signature",
            TRANSFORMS,
            "SAML Core §5.4.4; Duo Labs 2018 (comment injection)",
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Assertion);
                replace_once(
                    &x,
                    EXC_C14N_TRANSFORM,
                    "<ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#WithComments\"/>",
                )
            }),
        ),
    ]
}

/// inspect reports which elements were signed and the mapped identity, and
/// the SHA-1 refusal is a switch, not an inability.
#[test]
fn tamper_inspect_reports_signed_elements_and_sha1_switch() {
    let rig = Rig::start();
    for (how, resp, asrt) in [
        (Signing::Response, true, false),
        (Signing::Assertion, false, true),
        (Signing::Both, true, true),
    ] {
        let at = now();
        let spec = Spec::valid(&rig.env.idp, &rig.entity_id(), &rig.acs(), Some("_req"), at);
        let (rc, v) = rig.inspect(&rig.env.signed(&spec, how), "_req", at, &[]);
        assert_eq!(rc, 0, "{how:?}: {v}");
        assert_eq!(v["signed_response"], resp, "{how:?}: {v}");
        assert_eq!(v["signed_assertion"], asrt, "{how:?}: {v}");
        assert_eq!(v["assertion_id"], spec.assertion_id.as_str(), "{v}");
        identity_has(&v["identity"], ALICE).unwrap();
        assert_eq!(v["identity"]["name"], "Alice Example", "{v}");
    }

    let at = now();
    let spec = Spec::valid(&rig.env.idp, &rig.entity_id(), &rig.acs(), Some("_req"), at);
    let opts = SignOptions {
        alg: SigAlg::RsaSha1,
        digest: DigestAlg::Sha1,
        ..Default::default()
    };
    let xml = sign(
        &spec.to_xml(),
        &spec,
        Signing::Assertion,
        &rig.env.idp.key,
        &opts,
    );
    let (rc, v) = rig.inspect(&xml, "_req", at, &[]);
    assert_eq!(rc, 1, "{v}");
    assert!(v["reason"].as_str().unwrap().contains(SHA1), "{v}");
    let (rc, v) = rig.inspect(&xml, "_req", at, &["--allow-sha1"]);
    assert_eq!(rc, 0, "--allow-sha1 must accept RSA-SHA1: {v}");
    assert_eq!(v["identity"]["subject"], "alice", "{v}");
}
