//! Generated federation metadata aggregates (an md:EntitiesDescriptor with
//! thousands of IdPs), for the aggregate benchmark and the selection tests.
//! Each entity is shaped like a real federation feed's: registration info
//! and entity attributes, mdui names, descriptions and logo, a Shibboleth
//! scope, a signing and an encryption KeyDescriptor, three SSO endpoints,
//! two logout endpoints, artifact resolution, an AttributeAuthority role,
//! Organization and two contacts (about 8 KB an entity).

use crate::saml::sign::{sign_enveloped, SignOptions};
use crate::testing::pki::TestKey;
use std::fmt::Write as _;

const NS_MD: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
const NS_DS: &str = "http://www.w3.org/2000/09/xmldsig#";
const NS_MDUI: &str = "urn:oasis:names:tc:SAML:metadata:ui";
const NS_MDRPI: &str = "urn:oasis:names:tc:SAML:metadata:rpi";
const NS_MDATTR: &str = "urn:oasis:names:tc:SAML:metadata:attribute";
const NS_SAML: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
const NS_SHIBMD: &str = "urn:mace:shibboleth:metadata:1.0";
const B: &str = "urn:oasis:names:tc:SAML:2.0:bindings:";

/// The `ID` of the generated EntitiesDescriptor (the signed element).
pub const ROOT_ID: &str = "_aggregate0";

/// The entityID of entity `n`.
pub fn entity_id(n: usize) -> String {
    format!("https://idp{n:05}.campus.example.org/idp/shibboleth")
}

/// How to build an aggregate.
pub struct Aggregate<'a> {
    /// Number of IdP entities.
    pub entities: usize,
    /// Whose certificate every entity lists as its signing and encryption
    /// key (the selected entity's keys are then usable).
    pub entity_key: &'a TestKey,
    /// The federation's signer: when set, the EntitiesDescriptor carries an
    /// enveloped signature by it (SAML Metadata §3.1).
    pub signer: Option<&'a TestKey>,
}

impl Aggregate<'_> {
    /// The aggregate's XML.
    pub fn xml(&self) -> String {
        let mut out = String::with_capacity(self.entities * 8400 + 1024);
        let _ = write!(
            out,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <md:EntitiesDescriptor xmlns:md=\"{NS_MD}\" xmlns:ds=\"{NS_DS}\" \
             xmlns:mdui=\"{NS_MDUI}\" xmlns:mdrpi=\"{NS_MDRPI}\" xmlns:mdattr=\"{NS_MDATTR}\" \
             xmlns:saml=\"{NS_SAML}\" xmlns:shibmd=\"{NS_SHIBMD}\" ID=\"{ROOT_ID}\" \
             Name=\"urn:mace:example.org:federation\" validUntil=\"2099-01-01T00:00:00Z\" \
             cacheDuration=\"PT6H\">\n\
             <md:Extensions><mdrpi:PublicationInfo publisher=\"https://federation.example.org\" \
             creationInstant=\"2026-01-01T00:00:00Z\"/></md:Extensions>\n"
        );
        let cert = wrapped(&self.entity_key.cert_b64);
        for n in 0..self.entities {
            entity(&mut out, n, &cert);
        }
        out.push_str("</md:EntitiesDescriptor>\n");
        match self.signer {
            None => out,
            Some(k) => {
                let opts = SignOptions {
                    cert_der: Some(&crate::testing::idp::cert_der(k)),
                    ..SignOptions::default()
                };
                sign_enveloped(&out, ROOT_ID, &k.pkey(), &opts).expect("sign the aggregate")
            }
        }
    }
}

/// Base64 in lines of 64, as federation feeds print certificates.
fn wrapped(b64: &str) -> String {
    let mut s = String::from("\n");
    for chunk in b64.as_bytes().chunks(64) {
        s.push_str(&String::from_utf8_lossy(chunk));
        s.push('\n');
    }
    s
}

fn entity(out: &mut String, n: usize, cert: &str) {
    let eid = entity_id(n);
    let host = format!("idp{n:05}.campus.example.org");
    let _ = write!(
        out,
        "<md:EntityDescriptor entityID=\"{eid}\">\n\
<md:Extensions>\n\
<mdrpi:RegistrationInfo registrationAuthority=\"https://federation.example.org\" registrationInstant=\"2019-03-0{d}T10:00:00Z\">\
<mdrpi:RegistrationPolicy xml:lang=\"en\">https://federation.example.org/policy</mdrpi:RegistrationPolicy></mdrpi:RegistrationInfo>\n\
<mdattr:EntityAttributes>\
<saml:Attribute Name=\"http://macedir.org/entity-category-support\" NameFormat=\"urn:oasis:names:tc:SAML:2.0:attrname-format:uri\">\
<saml:AttributeValue>http://refeds.org/category/research-and-scholarship</saml:AttributeValue></saml:Attribute>\
<saml:Attribute Name=\"urn:oasis:names:tc:SAML:attribute:assurance-certification\" NameFormat=\"urn:oasis:names:tc:SAML:2.0:attrname-format:uri\">\
<saml:AttributeValue>https://refeds.org/sirtfi</saml:AttributeValue></saml:Attribute>\
</mdattr:EntityAttributes>\n\
</md:Extensions>\n\
<md:IDPSSODescriptor protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol urn:oasis:names:tc:SAML:1.1:protocol\">\n\
<md:Extensions>\n\
<shibmd:Scope regexp=\"false\">campus{n}.example.org</shibmd:Scope>\n\
<mdui:UIInfo>\n\
<mdui:DisplayName xml:lang=\"en\">Example University number {n}</mdui:DisplayName>\n\
<mdui:DisplayName xml:lang=\"de\">Beispieluniversität Nummer {n}</mdui:DisplayName>\n\
<mdui:Description xml:lang=\"en\">The identity provider of Example University number {n}, for staff, students and guests of its faculties and institutes.</mdui:Description>\n\
<mdui:Description xml:lang=\"de\">Der Identitätsanbieter der Beispieluniversität Nummer {n}, für Mitarbeitende, Studierende und Gäste ihrer Fakultäten und Institute.</mdui:Description>\n\
<mdui:InformationURL xml:lang=\"en\">https://www.campus{n}.example.org/it/login</mdui:InformationURL>\n\
<mdui:PrivacyStatementURL xml:lang=\"en\">https://www.campus{n}.example.org/privacy</mdui:PrivacyStatementURL>\n\
<mdui:Logo height=\"16\" width=\"16\">https://www.campus{n}.example.org/favicon.ico</mdui:Logo>\n\
<mdui:Logo height=\"80\" width=\"300\">https://www.campus{n}.example.org/images/logo-header.png</mdui:Logo>\n\
</mdui:UIInfo>\n\
<mdui:DiscoHints><mdui:DomainHint>campus{n}.example.org</mdui:DomainHint><mdui:IPHint>10.{a}.{b}.0/24</mdui:IPHint></mdui:DiscoHints>\n\
</md:Extensions>\n\
<md:KeyDescriptor use=\"signing\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>\n\
<md:KeyDescriptor use=\"encryption\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>\
<md:EncryptionMethod Algorithm=\"http://www.w3.org/2009/xmlenc11#aes128-gcm\"/>\
<md:EncryptionMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p\"/></md:KeyDescriptor>\n\
<md:ArtifactResolutionService Binding=\"{B}SOAP\" Location=\"https://{host}:8443/idp/profile/SAML2/SOAP/ArtifactResolution\" index=\"2\"/>\n\
<md:SingleLogoutService Binding=\"{B}HTTP-Redirect\" Location=\"https://{host}/idp/profile/SAML2/Redirect/SLO\"/>\n\
<md:SingleLogoutService Binding=\"{B}HTTP-POST\" Location=\"https://{host}/idp/profile/SAML2/POST/SLO\"/>\n\
<md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:transient</md:NameIDFormat>\n\
<md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>\n\
<md:SingleSignOnService Binding=\"urn:mace:shibboleth:1.0:profiles:AuthnRequest\" Location=\"https://{host}/idp/profile/Shibboleth/SSO\"/>\n\
<md:SingleSignOnService Binding=\"{B}HTTP-POST\" Location=\"https://{host}/idp/profile/SAML2/POST/SSO\"/>\n\
<md:SingleSignOnService Binding=\"{B}HTTP-Redirect\" Location=\"https://{host}/idp/profile/SAML2/Redirect/SSO\"/>\n\
</md:IDPSSODescriptor>\n\
<md:AttributeAuthorityDescriptor protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">\n\
<md:Extensions><shibmd:Scope regexp=\"false\">campus{n}.example.org</shibmd:Scope></md:Extensions>\n\
<md:KeyDescriptor use=\"signing\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>\n\
<md:AttributeService Binding=\"{B}SOAP\" Location=\"https://{host}:8443/idp/profile/SAML2/SOAP/AttributeQuery\"/>\n\
<md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>\n\
</md:AttributeAuthorityDescriptor>\n\
<md:Organization>\n\
<md:OrganizationName xml:lang=\"en\">Example University {n}</md:OrganizationName>\n\
<md:OrganizationName xml:lang=\"de\">Beispieluniversität {n}</md:OrganizationName>\n\
<md:OrganizationDisplayName xml:lang=\"en\">Example University number {n}</md:OrganizationDisplayName>\n\
<md:OrganizationDisplayName xml:lang=\"de\">Beispieluniversität Nummer {n}</md:OrganizationDisplayName>\n\
<md:OrganizationURL xml:lang=\"en\">https://www.campus{n}.example.org/</md:OrganizationURL>\n\
</md:Organization>\n\
<md:ContactPerson contactType=\"technical\"><md:GivenName>Identity</md:GivenName><md:SurName>Team {n}</md:SurName><md:EmailAddress>mailto:idm@campus{n}.example.org</md:EmailAddress></md:ContactPerson>\n\
<md:ContactPerson contactType=\"support\"><md:GivenName>Service</md:GivenName><md:SurName>Desk {n}</md:SurName><md:EmailAddress>mailto:servicedesk@campus{n}.example.org</md:EmailAddress><md:TelephoneNumber>+49 000 {n:05}</md:TelephoneNumber></md:ContactPerson>\n\
</md:EntityDescriptor>\n",
        d = n % 9 + 1,
        a = n / 256 % 256,
        b = n % 256,
    );
}
