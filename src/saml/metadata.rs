//! SAML Metadata (saml-metadata-2.0-os): reading an IdP's EntityDescriptor,
//! and writing our SP's.

use super::dsig::{verify_enveloped, DsigError, TrustedKey};
use crate::xml::{escape, ns, parse, parse_owned, Document, ElemId, Limits, XmlError};
use base64::Engine;
use time::OffsetDateTime;

pub const BINDING_REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
pub const BINDING_POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";
pub const NAMEID_PERSISTENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent";
pub const NAMEID_EMAIL: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";
pub const NAMEID_UNSPECIFIED: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified";

/// An endpoint (Metadata §2.2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub binding: String,
    pub location: String,
    /// Where responses go, when not `location` (Metadata §2.2.2).
    pub response_location: Option<String>,
}

/// What we take from an IdP's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpMetadata {
    pub entity_id: String,
    pub sso: Vec<Endpoint>,
    pub slo: Vec<Endpoint>,
    /// DER certificates usable for signing (`use="signing"` or no `use`).
    pub signing_certs: Vec<Vec<u8>>,
    pub want_authn_requests_signed: bool,
    pub valid_until: Option<OffsetDateTime>,
    /// The IDPSSODescriptor's NameIDFormat values (Metadata §2.4.1), in order.
    pub name_id_formats: Vec<String>,
    /// The shortest `cacheDuration` on the EntityDescriptor and the
    /// EntitiesDescriptors around it (Metadata §2.2.1, §2.3.2).
    pub cache_duration: Option<time::Duration>,
}

impl IdpMetadata {
    /// The metadata lists NameID formats, and every one is transient (SAML
    /// Core §8.3.8): such an IdP cannot name the same person twice.
    pub fn only_transient_name_ids(&self) -> bool {
        !self.name_id_formats.is_empty()
            && self
                .name_id_formats
                .iter()
                .all(|f| f == crate::identity::NAMEID_TRANSIENT)
    }

    /// The SSO endpoint for a binding.
    pub fn sso_for(&self, binding: &str) -> Option<&str> {
        self.sso
            .iter()
            .find(|e| e.binding == binding)
            .map(|e| e.location.as_str())
    }

    /// Where an AuthnRequest goes: the SSO endpoint of the `wanted` binding,
    /// or with none wanted, HTTP-Redirect when offered, else HTTP-POST
    /// (SAML Profiles §4.1.3.3; Metadata §2.4.3).
    pub fn sso_endpoint(&self, wanted: Option<SsoBinding>) -> Result<SsoEndpoint, MetadataError> {
        let found = |b: SsoBinding| {
            self.sso_for(b.uri()).map(|l| SsoEndpoint {
                binding: b,
                location: l.to_owned(),
            })
        };
        match wanted {
            Some(b) => found(b).ok_or_else(|| {
                let offered: Vec<&str> = self.sso.iter().map(|e| e.binding.as_str()).collect();
                MetadataError::NoSsoFor(
                    b.uri(),
                    if offered.is_empty() {
                        "none".into()
                    } else {
                        offered.join(", ")
                    },
                )
            }),
            None => found(SsoBinding::Redirect)
                .or_else(|| found(SsoBinding::Post))
                .ok_or(MetadataError::NoSso),
        }
    }
}

/// The binding an AuthnRequest is sent with (SAML Bindings §3.4, §3.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SsoBinding {
    Redirect,
    Post,
}

impl SsoBinding {
    pub fn uri(self) -> &'static str {
        match self {
            Self::Redirect => BINDING_REDIRECT,
            Self::Post => BINDING_POST,
        }
    }
    /// The config spelling: `redirect` or `post`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Redirect => "redirect",
            Self::Post => "post",
        }
    }
    pub fn from_name(s: &str) -> Option<Self> {
        match s {
            "redirect" => Some(Self::Redirect),
            "post" => Some(Self::Post),
            _ => None,
        }
    }
}

/// The SSO endpoint chosen for an IdP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoEndpoint {
    pub binding: SsoBinding,
    pub location: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    #[error("not acceptable XML: {0}")]
    Xml(#[from] XmlError),
    #[error("root element is <{0}>, expected md:EntityDescriptor or md:EntitiesDescriptor")]
    NotMetadata(String),
    #[error("no EntityDescriptor with an IDPSSODescriptor")]
    NoIdp,
    #[error("entity '{0}' is not in this metadata (IdPs here: {1})")]
    EntityNotFound(String, String),
    #[error("metadata holds {0} IdPs; choose one with entity_id (IdPs here: {1})")]
    Ambiguous(usize, String),
    #[error("EntityDescriptor has no entityID")]
    NoEntityId,
    #[error("IDPSSODescriptor has no SingleSignOnService with the HTTP-Redirect or HTTP-POST binding (SAML Bindings §3.4, §3.5)")]
    NoSso,
    #[error(
        "IDPSSODescriptor has no SingleSignOnService with the {0} binding (its SSO bindings: {1})"
    )]
    NoSsoFor(&'static str, String),
    #[error("IDPSSODescriptor has no signing certificate (KeyDescriptor use=\"signing\" with X509Certificate); a signing certificate is required to trust this IdP")]
    NoSigningCert,
    #[error("a signing certificate is not valid base64")]
    BadCert,
    /// The pinned signer's signature on the root is missing or wrong.
    #[error("metadata signature refused: {0} (SAML Metadata §3; XML-DSig §3.2)")]
    Signature(#[from] DsigError),
}

/// The key that must have signed a metadata document (`metadata_signing_cert`).
#[derive(Debug, Clone, Copy)]
pub struct PinnedSigner<'a> {
    pub keys: &'a [TrustedKey],
    pub allow_sha1: bool,
}

/// Reads an IdP from an EntityDescriptor, or picks one from an
/// EntitiesDescriptor (by `entity_id`, or the only IdP present).
pub fn parse_idp(xml: &[u8], entity_id: Option<&str>) -> Result<IdpMetadata, MetadataError> {
    parse_idp_signed(xml, entity_id, None)
}

/// [`parse_idp`], and when `signer` is set, the document's root element
/// (EntityDescriptor or EntitiesDescriptor) must carry an enveloped
/// signature by it (SAML Metadata §3.1): the same profile as a Response's
/// (`dsig::verify_enveloped`: exactly one Signature, a direct child of the
/// root, one Reference to the root's `ID`, exclusive c14n only). The tree
/// that was verified is the one read afterwards; nothing outside the root
/// exists, so no unsigned content can be read.
pub fn parse_idp_signed(
    xml: &[u8],
    entity_id: Option<&str>,
    signer: Option<PinnedSigner<'_>>,
) -> Result<IdpMetadata, MetadataError> {
    let doc = parse(xml, &Limits::METADATA)?;
    read_idp(&doc, entity_id, signer)
}

/// [`parse_idp_signed`] over bytes it takes, for large documents: the tree
/// is built over them instead of over a copy, so a federation aggregate is
/// held once while it is parsed and verified (BENCHMARKS.md, "IdP metadata
/// aggregate"). The same checks; on success the bytes come back unchanged,
/// for the saved copy of a fetched document.
pub fn parse_idp_signed_owned(
    xml: Vec<u8>,
    entity_id: Option<&str>,
    signer: Option<PinnedSigner<'_>>,
) -> Result<(IdpMetadata, Vec<u8>), MetadataError> {
    let bom = xml.starts_with(crate::xml::BOM);
    let doc = parse_owned(xml, &Limits::METADATA)?;
    let md = read_idp(&doc, entity_id, signer)?;
    let mut bytes = doc.into_source().into_bytes();
    if bom {
        // The parser dropped the byte order mark; the caller gets back what
        // it gave.
        bytes.splice(0..0, crate::xml::BOM.iter().copied());
    }
    Ok((md, bytes))
}

/// The IdP read from a parsed metadata document, after the pinned signer's
/// signature on its root is checked (SAML Metadata §3.1).
fn read_idp(
    doc: &Document,
    entity_id: Option<&str>,
    signer: Option<PinnedSigner<'_>>,
) -> Result<IdpMetadata, MetadataError> {
    let root = doc.root();
    if !(doc.is(root, ns::MD, "EntityDescriptor") || doc.is(root, ns::MD, "EntitiesDescriptor")) {
        return Err(MetadataError::NotMetadata(doc.qname(root)));
    }
    if let Some(s) = signer {
        let v = verify_enveloped(doc, root, s.keys, s.allow_sha1)?;
        if v.element != root {
            return Err(MetadataError::Signature(DsigError::Structure(
                "the signature does not cover the root element".into(),
            )));
        }
    }
    let idps: Vec<(ElemId, ElemId)> = std::iter::once(root)
        .chain(doc.descendants(root))
        .filter(|e| doc.is(*e, ns::MD, "EntityDescriptor"))
        .filter_map(|e| doc.child(e, ns::MD, "IDPSSODescriptor").map(|r| (e, r)))
        .collect();
    let names = || {
        let mut v: Vec<String> = idps
            .iter()
            .take(10)
            .map(|(e, _)| doc.attr(*e, "entityID").unwrap_or("?").to_owned())
            .collect();
        if idps.len() > 10 {
            v.push(format!("… {} more", idps.len() - 10));
        }
        v.join(", ")
    };
    let (ed, role) = match entity_id {
        Some(want) => *idps
            .iter()
            .find(|(e, _)| doc.attr(*e, "entityID") == Some(want))
            .ok_or_else(|| MetadataError::EntityNotFound(want.into(), names()))?,
        None => match idps.as_slice() {
            [] => return Err(MetadataError::NoIdp),
            [one] => *one,
            many => return Err(MetadataError::Ambiguous(many.len(), names())),
        },
    };
    let entity_id = doc
        .attr(ed, "entityID")
        .ok_or(MetadataError::NoEntityId)?
        .to_owned();
    let endpoints = |local: &str| -> Vec<Endpoint> {
        doc.children_named(role, ns::MD, local)
            .filter_map(|s| {
                Some(Endpoint {
                    binding: doc.attr(s, "Binding")?.to_owned(),
                    location: doc.attr(s, "Location")?.to_owned(),
                    response_location: doc.attr(s, "ResponseLocation").map(str::to_owned),
                })
            })
            .collect()
    };
    let sso = endpoints("SingleSignOnService");
    let slo = endpoints("SingleLogoutService");
    let mut signing_certs = Vec::new();
    for kd in doc.children_named(role, ns::MD, "KeyDescriptor") {
        if !matches!(doc.attr(kd, "use"), None | Some("signing")) {
            continue;
        }
        signing_certs.extend(certs_in(doc, kd)?);
    }
    // The entity and every EntitiesDescriptor around it bound its validity
    // and caching (Metadata §2.3.1, §2.3.2): the strictest value wins.
    let mut chain = vec![ed];
    let mut up = doc.el(ed).parent;
    while let Some(e) = up {
        chain.push(e);
        up = doc.el(e).parent;
    }
    let valid_until = chain
        .iter()
        .filter_map(|e| doc.attr(*e, "validUntil"))
        .filter_map(super::response::parse_time)
        .min();
    let cache_duration = chain
        .iter()
        .filter_map(|e| doc.attr(*e, "cacheDuration"))
        .filter_map(parse_xs_duration)
        .min();
    let md = IdpMetadata {
        entity_id,
        sso,
        slo,
        signing_certs,
        want_authn_requests_signed: doc.attr(role, "WantAuthnRequestsSigned") == Some("true"),
        valid_until,
        name_id_formats: doc
            .children_named(role, ns::MD, "NameIDFormat")
            .map(|f| doc.text(f).trim().to_owned())
            .collect(),
        cache_duration,
    };
    if md.signing_certs.is_empty() {
        return Err(MetadataError::NoSigningCert);
    }
    Ok(md)
}

/// An `xs:duration` (XML Schema Part 2 §3.2.6) such as `PT6H` or `P1DT2H`;
/// a year counts 365 days and a month 30. Negative or unreadable: None.
pub fn parse_xs_duration(s: &str) -> Option<time::Duration> {
    let rest = s.trim().strip_prefix('P')?;
    let (date, clock) = match rest.split_once('T') {
        Some((d, t)) if !t.is_empty() => (d, Some(t)),
        Some(_) => return None,
        None => (rest, None),
    };
    let mut secs: f64 = 0.0;
    let mut any = false;
    let mut take = |part: &str, units: &[(char, f64)], fraction: bool| -> Option<()> {
        let mut num = String::new();
        let mut next = 0;
        for c in part.chars() {
            if c.is_ascii_digit() || (fraction && c == '.') {
                num.push(c);
                continue;
            }
            let pos = units.iter().skip(next).position(|(u, _)| *u == c)? + next;
            let mult = units.get(pos)?.1;
            secs += num.parse::<f64>().ok()? * mult;
            num.clear();
            next = pos + 1;
            any = true;
        }
        num.is_empty().then_some(())
    };
    take(
        date,
        &[
            ('Y', 365.0 * 86400.0),
            ('M', 30.0 * 86400.0),
            ('D', 86400.0),
        ],
        false,
    )?;
    if let Some(t) = clock {
        take(t, &[('H', 3600.0), ('M', 60.0), ('S', 1.0)], true)?;
    }
    (any && secs.is_finite() && secs < 1e12).then(|| time::Duration::seconds_f64(secs))
}

fn certs_in(doc: &Document, kd: ElemId) -> Result<Vec<Vec<u8>>, MetadataError> {
    let mut out = Vec::new();
    for ki in doc.children_named(kd, ns::DSIG, "KeyInfo") {
        for xd in doc.children_named(ki, ns::DSIG, "X509Data") {
            for c in doc.children_named(xd, ns::DSIG, "X509Certificate") {
                let der = super::b64_decode_lenient(&doc.text(c)).ok_or(MetadataError::BadCert)?;
                out.push(der);
            }
        }
    }
    Ok(out)
}

/// Everything our SP metadata states.
#[derive(Debug, Clone)]
pub struct SpDescriptor<'a> {
    pub entity_id: &'a str,
    pub acs_url: &'a str,
    pub signing_certs: &'a [Vec<u8>],
    pub encryption_certs: &'a [Vec<u8>],
    /// SingleLogoutService, HTTP-Redirect and HTTP-POST (Metadata §2.4.2).
    pub slo_url: Option<&'a str>,
}

/// Our SP metadata (Metadata §2.4.4), schema-valid against saml-schema-metadata-2.0.xsd.
pub fn sp_metadata(sp: &SpDescriptor<'_>) -> String {
    let b64 = &base64::engine::general_purpose::STANDARD;
    let key = |usage: &str, der: &[u8]| {
        format!(
            "    <md:KeyDescriptor use=\"{usage}\">\n      <ds:KeyInfo>\n        <ds:X509Data>\n          <ds:X509Certificate>{}</ds:X509Certificate>\n        </ds:X509Data>\n      </ds:KeyInfo>\n    </md:KeyDescriptor>\n",
            b64.encode(der)
        )
    };
    let mut keys = String::new();
    for c in sp.signing_certs {
        keys.push_str(&key("signing", c));
    }
    let methods = encryption_methods();
    for c in sp.encryption_certs {
        let kd = key("encryption", c);
        let kd = kd.replacen(
            "    </md:KeyDescriptor>\n",
            &format!("{methods}    </md:KeyDescriptor>\n"),
            1,
        );
        keys.push_str(&kd);
    }
    // SingleLogoutService comes after the keys and before NameIDFormat
    // (saml-schema-metadata-2.0.xsd, SSODescriptorType).
    if let Some(slo) = sp.slo_url {
        for b in [BINDING_REDIRECT, BINDING_POST] {
            keys.push_str(&format!(
                "    <md:SingleLogoutService Binding=\"{b}\" Location=\"{}\"/>\n",
                escape(slo)
            ));
        }
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
<md:EntityDescriptor xmlns:md=\"{md}\" xmlns:ds=\"{ds}\" entityID=\"{eid}\">\n\
  <md:SPSSODescriptor AuthnRequestsSigned=\"true\" WantAssertionsSigned=\"true\" protocolSupportEnumeration=\"{samlp}\">\n\
{keys}\
    <md:NameIDFormat>{p}</md:NameIDFormat>\n\
    <md:NameIDFormat>{e}</md:NameIDFormat>\n\
    <md:NameIDFormat>{u}</md:NameIDFormat>\n\
    <md:AssertionConsumerService Binding=\"{post}\" Location=\"{acs}\" index=\"0\" isDefault=\"true\"/>\n\
  </md:SPSSODescriptor>\n\
</md:EntityDescriptor>\n",
        md = ns::MD,
        ds = ns::DSIG,
        samlp = ns::SAMLP,
        eid = escape(sp.entity_id),
        p = NAMEID_PERSISTENT,
        e = NAMEID_EMAIL,
        u = NAMEID_UNSPECIFIED,
        post = BINDING_POST,
        acs = escape(sp.acs_url),
    )
}

/// The `md:EncryptionMethod` elements of an encryption KeyDescriptor (SAML
/// Metadata §2.4.1.1): what the decryptor accepts, in order of preference.
fn encryption_methods() -> String {
    let mut out = String::new();
    for (alg, digest, mgf) in super::decrypt::ADVERTISED {
        if digest.is_none() && mgf.is_none() {
            out.push_str(&format!(
                "      <md:EncryptionMethod Algorithm=\"{alg}\"/>\n"
            ));
            continue;
        }
        out.push_str(&format!(
            "      <md:EncryptionMethod Algorithm=\"{alg}\">\n"
        ));
        if let Some(d) = digest {
            out.push_str(&format!("        <ds:DigestMethod Algorithm=\"{d}\"/>\n"));
        }
        if let Some(m) = mgf {
            out.push_str(&format!(
                "        <xenc11:MGF xmlns:xenc11=\"{}\" Algorithm=\"{m}\"/>\n",
                super::decrypt::NS_XENC11
            ));
        }
        out.push_str("      </md:EncryptionMethod>\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ed(id: &str, with_cert: bool) -> String {
        let kd = if with_cert {
            r#"<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>
            AAEC
            </ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor><md:KeyDescriptor><ds:KeyInfo><ds:X509Data><ds:X509Certificate>AwQF</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor><md:KeyDescriptor use="encryption"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>BgcI</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"#
        } else {
            ""
        };
        format!(
            r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="{id}"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">{kd}<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp/sso"/></md:IDPSSODescriptor></md:EntityDescriptor>"#
        )
    }

    #[test]
    fn reads_entity_with_bom_and_all_signing_certs() {
        let x = format!(
            "\u{FEFF}<?xml version=\"1.0\" encoding=\"utf-8\"?>{}",
            ed("https://idp", true)
        );
        let m = parse_idp(x.as_bytes(), None).unwrap();
        assert_eq!(m.entity_id, "https://idp");
        assert_eq!(m.signing_certs, vec![vec![0u8, 1, 2], vec![3, 4, 5]]);
        assert_eq!(m.sso_for(BINDING_REDIRECT), Some("https://idp/sso"));
    }

    #[test]
    fn picks_from_entities_descriptor() {
        let x = format!(
            r#"<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata">{}{}</md:EntitiesDescriptor>"#,
            ed("https://a", true),
            ed("https://b", true)
        );
        assert!(matches!(
            parse_idp(x.as_bytes(), None),
            Err(MetadataError::Ambiguous(2, _))
        ));
        assert_eq!(
            parse_idp(x.as_bytes(), Some("https://b"))
                .unwrap()
                .entity_id,
            "https://b"
        );
        assert!(matches!(
            parse_idp(x.as_bytes(), Some("https://c")),
            Err(MetadataError::EntityNotFound(..))
        ));
    }

    #[test]
    fn sso_endpoint_prefers_redirect_then_post() {
        let redirect_only = parse_idp(ed("https://idp", true).as_bytes(), None).unwrap();
        let post_only = IdpMetadata {
            sso: vec![Endpoint {
                binding: BINDING_POST.into(),
                location: "https://idp/post".into(),
                response_location: None,
            }],
            ..redirect_only.clone()
        };
        let both = IdpMetadata {
            sso: [post_only.sso.clone(), redirect_only.sso.clone()].concat(),
            ..redirect_only.clone()
        };
        let none = IdpMetadata {
            sso: vec![Endpoint {
                binding: "urn:oasis:names:tc:SAML:2.0:bindings:SOAP".into(),
                location: "https://idp/soap".into(),
                response_location: None,
            }],
            ..redirect_only.clone()
        };
        let pick = |m: &IdpMetadata, w| m.sso_endpoint(w).map(|e| (e.binding, e.location));
        assert_eq!(
            pick(&both, None),
            Ok((SsoBinding::Redirect, "https://idp/sso".into()))
        );
        assert_eq!(
            pick(&both, Some(SsoBinding::Post)),
            Ok((SsoBinding::Post, "https://idp/post".into()))
        );
        assert_eq!(
            pick(&post_only, None),
            Ok((SsoBinding::Post, "https://idp/post".into()))
        );
        assert!(matches!(
            pick(&post_only, Some(SsoBinding::Redirect)),
            Err(MetadataError::NoSsoFor(BINDING_REDIRECT, ref b)) if b == BINDING_POST
        ));
        assert_eq!(pick(&none, None), Err(MetadataError::NoSso));
        assert_eq!(SsoBinding::from_name("post"), Some(SsoBinding::Post));
        assert_eq!(SsoBinding::from_name("POST"), None);
    }

    #[test]
    fn metadata_without_a_usable_sso_endpoint_still_parses() {
        // `samlhub inspect` sends no request, so it needs no SSO endpoint;
        // the config refuses such an IdP through sso_endpoint.
        let x = ed("https://idp", true).replace(
            r#"<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp/sso"/>"#,
            "",
        );
        let m = parse_idp(x.as_bytes(), None).unwrap();
        assert!(m.sso.is_empty());
        assert_eq!(m.sso_endpoint(None), Err(MetadataError::NoSso));
    }

    #[test]
    fn no_signing_cert_is_an_error() {
        assert_eq!(
            parse_idp(ed("https://idp", false).as_bytes(), None),
            Err(MetadataError::NoSigningCert)
        );
    }

    #[test]
    fn owned_bytes_read_the_same_and_come_back_unchanged() {
        let plain = ed("https://idp", true);
        for x in [plain.clone(), format!("\u{FEFF}{plain}")] {
            let (m, back) = parse_idp_signed_owned(x.clone().into_bytes(), None, None).unwrap();
            assert_eq!(m, parse_idp(x.as_bytes(), None).unwrap());
            // The byte order mark the parser drops is given back too.
            assert_eq!(back, x.as_bytes());
        }
        let refused: [&[u8]; 4] = [
            b"<!DOCTYPE a><a/>",
            b"<a/>",
            b"\xEF\xBB\xBF<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\"/>",
            b"<a>\xff</a>",
        ];
        for bad in refused {
            assert_eq!(
                parse_idp_signed_owned(bad.to_vec(), None, None).unwrap_err(),
                parse_idp(bad, None).unwrap_err()
            );
        }
    }
}

#[cfg(test)]
mod duration_tests {
    use super::parse_xs_duration;
    use time::Duration;

    #[test]
    fn xs_durations() {
        assert_eq!(parse_xs_duration("PT6H"), Some(Duration::hours(6)));
        assert_eq!(parse_xs_duration("P1D"), Some(Duration::days(1)));
        assert_eq!(
            parse_xs_duration("P1DT2H30M"),
            Some(Duration::seconds(86400 + 2 * 3600 + 30 * 60))
        );
        assert_eq!(
            parse_xs_duration("PT1.5S"),
            Some(Duration::milliseconds(1500))
        );
        assert_eq!(parse_xs_duration("P1M"), Some(Duration::days(30)));
        for bad in ["", "P", "PT", "6H", "-PT6H", "PT6X", "PH6", "P1H", "PT1M1H"] {
            assert_eq!(parse_xs_duration(bad), None, "{bad}");
        }
    }
}
