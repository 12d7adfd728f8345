//! The enveloped XML signer (SAML Core §5.4; XMLDSig §6.6.4): exclusive
//! c14n, one Reference to the signed element's `ID`, the Signature placed
//! after its Issuer. samlhub signs its own HTTP-POST AuthnRequests
//! (SAML Bindings §3.5.4, [`super::authn_request::post_value`]) and logout
//! messages (`saml::logout`) with it; tests also use it for fixtures,
//! generated IdP responses, fuzz seeds and benchmarks. It signs only
//! documents we build, never received input.

use super::dsig::{DigestAlg, DsigError, SigAlg, ALG_ENVELOPED};
use crate::crypto;
use crate::xml::{exc_c14n, ns, parse_with, IdSyntax, Limits};
use base64::Engine;
use openssl::pkey::{PKey, Private};

/// How [`sign_enveloped`] signs.
#[derive(Debug, Clone)]
pub struct SignOptions<'a> {
    pub alg: SigAlg,
    pub digest: DigestAlg,
    /// InclusiveNamespaces PrefixList for the Reference transform.
    pub inclusive_prefixes: &'a [&'a str],
    /// DER certificate to put in KeyInfo (informational only for verifiers).
    pub cert_der: Option<&'a [u8]>,
}

impl Default for SignOptions<'_> {
    fn default() -> Self {
        Self {
            alg: SigAlg::RsaSha256,
            digest: DigestAlg::Sha256,
            inclusive_prefixes: &[],
            cert_der: None,
        }
    }
}

/// Signs the element whose `ID` is `id` with an enveloped signature placed
/// after its Issuer child (or first, when it has none), as SAML Core §5.4
/// and the schema order require. Returns the new document text.
pub fn sign_enveloped(
    xml: &str,
    id: &str,
    key: &PKey<Private>,
    opts: &SignOptions<'_>,
) -> Result<String, DsigError> {
    // Lenient IDs, so tests can sign what some IdPs send (a leading digit).
    let doc = parse_with(xml.as_bytes(), &Limits::METADATA, IdSyntax::Lenient)?;
    let target = doc
        .by_id(id)
        .ok_or_else(|| DsigError::Sign(format!("no element with ID '{id}'")))?;
    let at = doc
        .children(target)
        .next()
        .filter(|c| doc.local(*c) == "Issuer")
        .map(|c| doc.el(c).span.end)
        .unwrap_or(doc.el(target).span.start_tag_end);

    let incl: Vec<String> = opts
        .inclusive_prefixes
        .iter()
        .map(|s| s.to_string())
        .collect();
    let mut content = Vec::new();
    exc_c14n(&doc, target, None, &incl, &mut content);
    let digest = opts.digest.digest(&content);
    let b64e = &base64::engine::general_purpose::STANDARD;
    let incl_el = if incl.is_empty() {
        String::new()
    } else {
        format!(
            "<ec:InclusiveNamespaces xmlns:ec=\"{}\" PrefixList=\"{}\"/>",
            ns::EXC_C14N,
            incl.join(" ")
        )
    };
    let signed_info = format!(
        "<ds:SignedInfo><ds:CanonicalizationMethod Algorithm=\"{c}\"/><ds:SignatureMethod Algorithm=\"{sm}\"/>\
         <ds:Reference URI=\"#{id}\"><ds:Transforms><ds:Transform Algorithm=\"{env}\"/>\
         <ds:Transform Algorithm=\"{c}\">{incl_el}</ds:Transform></ds:Transforms>\
         <ds:DigestMethod Algorithm=\"{dm}\"/><ds:DigestValue>{dv}</ds:DigestValue></ds:Reference></ds:SignedInfo>",
        c = ns::EXC_C14N,
        sm = opts.alg.uri(),
        env = ALG_ENVELOPED,
        dm = opts.digest.uri(),
        dv = b64e.encode(&digest[..]),
    );
    let key_info = opts
        .cert_der
        .map(|d| format!("<ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>", b64e.encode(d)))
        .unwrap_or_default();
    let (head, tail) = xml_split(doc.source(), at)?;
    let draft = format!(
        "{head}<ds:Signature xmlns:ds=\"{}\">{signed_info}<ds:SignatureValue></ds:SignatureValue>{key_info}</ds:Signature>{tail}",
        ns::DSIG
    );

    // Canonicalise SignedInfo in its final place, then sign it.
    let doc2 = parse_with(draft.as_bytes(), &Limits::METADATA, IdSyntax::Lenient)?;
    let target2 = doc2
        .by_id(id)
        .ok_or_else(|| DsigError::Sign("target lost".into()))?;
    let sig_el = doc2
        .children_named(target2, ns::DSIG, "Signature")
        .next()
        .ok_or_else(|| DsigError::Sign("signature lost".into()))?;
    let si_el = doc2
        .child(sig_el, ns::DSIG, "SignedInfo")
        .ok_or_else(|| DsigError::Sign("SignedInfo lost".into()))?;
    let sv_el = doc2
        .child(sig_el, ns::DSIG, "SignatureValue")
        .ok_or_else(|| DsigError::Sign("SignatureValue lost".into()))?;
    let mut si = Vec::new();
    exc_c14n(&doc2, si_el, None, &[], &mut si);
    // ECDSA comes back as r || s (XMLDSig 1.1 §6.4.3).
    let sig = crypto::sign(key, opts.alg, &si).map_err(|e| DsigError::Sign(e.to_string()))?;
    let (head, tail) = xml_split(&draft, doc2.el(sv_el).span.start_tag_end)?;
    Ok(format!("{head}{}{tail}", b64e.encode(&sig)))
}

fn xml_split(s: &str, at: usize) -> Result<(&str, &str), DsigError> {
    if s.is_char_boundary(at) {
        Ok(s.split_at(at))
    } else {
        Err(DsigError::Sign("bad insertion offset".into()))
    }
}
