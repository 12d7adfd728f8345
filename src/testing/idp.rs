//! A reproducible SAML Response generator for the acceptance tests and
//! benchmarks: a test IdP (key, certificate, metadata), a [`Spec`] of every
//! field a valid Response carries, its XML, enveloped signing with samlhub's
//! own signer, and a whole SP-initiated sign-in against a running hub.

use crate::saml::response::fmt_time;
use crate::saml::sign::{sign_enveloped, SignOptions};
use crate::testing::peers::browser::{Browser, Page};
use crate::testing::peers::hub::Samlhub;
use crate::testing::pki::TestKey;
use crate::xml::escape;
use base64::Engine as _;
use time::{Duration, OffsetDateTime};

pub const NS_SAMLP: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
pub const NS_SAML: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
pub const NS_MD: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
pub const NS_DS: &str = "http://www.w3.org/2000/09/xmldsig#";
pub const NS_XS: &str = "http://www.w3.org/2001/XMLSchema";
pub const NS_XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";
pub const STATUS_SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
pub const NAMEID_PERSISTENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent";
pub const CM_BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";
pub const PPT: &str = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport";
pub const BINDING_REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
pub const BINDING_POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";

/// A random NCName (`_` + 160 random bits in hex), as SAML IDs must be.
pub fn random_id() -> String {
    let mut b = [0u8; 20];
    openssl::rand::rand_bytes(&mut b).unwrap();
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("_{hex}")
}

/// A test identity provider: an RSA-2048 key with a self-signed certificate.
#[derive(Clone, Debug)]
pub struct TestIdp {
    pub key: TestKey,
    pub entity_id: String,
    pub sso_url: String,
}

impl TestIdp {
    /// `https://idp.<name>.test/`, its SSO endpoint, and a key cached per name.
    pub fn new(name: &str) -> TestIdp {
        TestIdp {
            key: TestKey::generate(&format!("idp-{name}"), 2048),
            entity_id: format!("https://idp.{name}.test/"),
            sso_url: format!("https://idp.{name}.test/sso"),
        }
    }

    /// The DER of the IdP's certificate.
    pub fn cert_der(&self) -> Vec<u8> {
        cert_der(&self.key)
    }

    /// An md:EntityDescriptor with an IDPSSODescriptor: the signing
    /// certificate and a HTTP-Redirect SingleSignOnService.
    pub fn metadata_xml(&self) -> String {
        self.metadata_xml_with_slo(None)
    }

    /// [`TestIdp::metadata_xml`], with a SingleLogoutService (HTTP-Redirect
    /// and HTTP-POST) at `slo_url` when given.
    pub fn metadata_xml_with_slo(&self, slo_url: Option<&str>) -> String {
        let slo = slo_url
            .map(|u| {
                format!(
                    "<md:SingleLogoutService Binding=\"{BINDING_REDIRECT}\" Location=\"{u}\"/>\
                     <md:SingleLogoutService Binding=\"{BINDING_POST}\" Location=\"{u}\"/>",
                    u = escape(u)
                )
            })
            .unwrap_or_default();
        format!(
            "<md:EntityDescriptor xmlns:md=\"{NS_MD}\" xmlns:ds=\"{NS_DS}\" entityID=\"{eid}\">\
             <md:IDPSSODescriptor protocolSupportEnumeration=\"{NS_SAMLP}\">\
             <md:KeyDescriptor use=\"signing\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>\
             {slo}<md:NameIDFormat>{NAMEID_PERSISTENT}</md:NameIDFormat>\
             <md:SingleSignOnService Binding=\"{BINDING_REDIRECT}\" Location=\"{sso}\"/>\
             </md:IDPSSODescriptor></md:EntityDescriptor>\n",
            eid = escape(&self.entity_id),
            cert = self.key.cert_b64,
            sso = escape(&self.sso_url),
        )
    }
}

/// The DER certificate of a test key.
pub fn cert_der(key: &TestKey) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(&key.cert_b64)
        .unwrap()
}

/// One SAML attribute: a name and its string values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attr {
    pub name: String,
    pub values: Vec<String>,
}

impl Attr {
    pub fn new(name: &str, values: &[&str]) -> Attr {
        Attr {
            name: name.to_owned(),
            values: values.iter().map(|s| s.to_string()).collect(),
        }
    }
}

/// Every field of a Response, valid by default ([`Spec::valid`]); tests
/// change fields to build the variant they need.
#[derive(Clone, Debug)]
pub struct Spec {
    pub response_id: String,
    pub assertion_id: String,
    pub issue_instant: OffsetDateTime,
    pub response_issuer: String,
    pub assertion_issuer: String,
    /// Response Destination (None = attribute left out).
    pub destination: Option<String>,
    /// SubjectConfirmationData Recipient.
    pub recipient: String,
    /// One AudienceRestriction holding these Audiences.
    pub audiences: Vec<String>,
    /// InResponseTo on the Response and on SubjectConfirmationData.
    pub in_response_to: Option<String>,
    pub name_id: String,
    pub name_id_format: String,
    pub attributes: Vec<Attr>,
    pub not_before: OffsetDateTime,
    pub not_on_or_after: OffsetDateTime,
    pub scd_not_on_or_after: OffsetDateTime,
    pub authn_instant: OffsetDateTime,
    pub session_index: String,
    pub session_not_on_or_after: Option<OffsetDateTime>,
    pub authn_context: String,
    pub status: String,
}

impl Spec {
    /// A Response that a correctly configured SP must accept at `now`.
    pub fn valid(
        idp: &TestIdp,
        sp_entity_id: &str,
        acs_url: &str,
        in_response_to: Option<&str>,
        now: OffsetDateTime,
    ) -> Spec {
        let now = now.replace_nanosecond(0).unwrap();
        Spec {
            response_id: random_id(),
            assertion_id: random_id(),
            issue_instant: now,
            response_issuer: idp.entity_id.clone(),
            assertion_issuer: idp.entity_id.clone(),
            destination: Some(acs_url.to_owned()),
            recipient: acs_url.to_owned(),
            audiences: vec![sp_entity_id.to_owned()],
            in_response_to: in_response_to.map(str::to_owned),
            name_id: "alice".into(),
            name_id_format: NAMEID_PERSISTENT.into(),
            attributes: vec![
                Attr::new("uid", &["alice"]),
                Attr::new("mail", &["alice@example.org"]),
                Attr::new("displayName", &["Alice Example"]),
                Attr::new("groups", &["ha-admins", "users"]),
            ],
            not_before: now - Duration::seconds(30),
            not_on_or_after: now + Duration::minutes(5),
            scd_not_on_or_after: now + Duration::minutes(5),
            authn_instant: now - Duration::seconds(5),
            session_index: random_id(),
            session_not_on_or_after: Some(now + Duration::hours(8)),
            authn_context: PPT.into(),
            status: STATUS_SUCCESS.into(),
        }
    }

    /// The Assertion element alone (namespaces declared on it, so it can be
    /// moved around a document by string surgery).
    pub fn assertion_xml(&self) -> String {
        let irt = self
            .in_response_to
            .as_deref()
            .map(|i| format!(" InResponseTo=\"{}\"", escape(i)))
            .unwrap_or_default();
        let audiences: String = self
            .audiences
            .iter()
            .map(|a| format!("<saml:Audience>{}</saml:Audience>", escape(a)))
            .collect();
        let attributes: String = self
            .attributes
            .iter()
            .map(|a| {
                let vals: String = a
                    .values
                    .iter()
                    .map(|v| {
                        format!(
                            "<saml:AttributeValue xsi:type=\"xs:string\">{}</saml:AttributeValue>",
                            escape(v)
                        )
                    })
                    .collect();
                format!(
                    "<saml:Attribute Name=\"{}\" NameFormat=\"urn:oasis:names:tc:SAML:2.0:attrname-format:basic\">{vals}</saml:Attribute>",
                    escape(&a.name)
                )
            })
            .collect();
        let session_end = self
            .session_not_on_or_after
            .map(|t| format!(" SessionNotOnOrAfter=\"{}\"", fmt_time(t)))
            .unwrap_or_default();
        format!(
            "<saml:Assertion xmlns:saml=\"{NS_SAML}\" xmlns:xs=\"{NS_XS}\" xmlns:xsi=\"{NS_XSI}\" ID=\"{aid}\" Version=\"2.0\" IssueInstant=\"{ii}\">\
             <saml:Issuer>{issuer}</saml:Issuer>\
             <saml:Subject><saml:NameID Format=\"{nif}\">{nameid}</saml:NameID>\
             <saml:SubjectConfirmation Method=\"{CM_BEARER}\"><saml:SubjectConfirmationData{irt} NotOnOrAfter=\"{scd_noa}\" Recipient=\"{recipient}\"/></saml:SubjectConfirmation></saml:Subject>\
             <saml:Conditions NotBefore=\"{nb}\" NotOnOrAfter=\"{noa}\"><saml:AudienceRestriction>{audiences}</saml:AudienceRestriction></saml:Conditions>\
             <saml:AuthnStatement AuthnInstant=\"{ai}\" SessionIndex=\"{si}\"{session_end}><saml:AuthnContext><saml:AuthnContextClassRef>{ctx}</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>\
             <saml:AttributeStatement>{attributes}</saml:AttributeStatement>\
             </saml:Assertion>",
            aid = escape(&self.assertion_id),
            ii = fmt_time(self.issue_instant),
            issuer = escape(&self.assertion_issuer),
            nif = escape(&self.name_id_format),
            nameid = escape(&self.name_id),
            scd_noa = fmt_time(self.scd_not_on_or_after),
            recipient = escape(&self.recipient),
            nb = fmt_time(self.not_before),
            noa = fmt_time(self.not_on_or_after),
            ai = fmt_time(self.authn_instant),
            si = escape(&self.session_index),
            ctx = escape(&self.authn_context),
        )
    }

    /// The whole samlp:Response.
    pub fn to_xml(&self) -> String {
        let dest = self
            .destination
            .as_deref()
            .map(|d| format!(" Destination=\"{}\"", escape(d)))
            .unwrap_or_default();
        let irt = self
            .in_response_to
            .as_deref()
            .map(|i| format!(" InResponseTo=\"{}\"", escape(i)))
            .unwrap_or_default();
        format!(
            "<samlp:Response xmlns:samlp=\"{NS_SAMLP}\" xmlns:saml=\"{NS_SAML}\" ID=\"{rid}\" Version=\"2.0\" IssueInstant=\"{ii}\"{dest}{irt}>\
             <saml:Issuer>{issuer}</saml:Issuer>\
             <samlp:Status><samlp:StatusCode Value=\"{status}\"/></samlp:Status>\
             {assertion}\
             </samlp:Response>",
            rid = escape(&self.response_id),
            ii = fmt_time(self.issue_instant),
            issuer = escape(&self.response_issuer),
            status = escape(&self.status),
            assertion = self.assertion_xml(),
        )
    }
}

/// Which elements carry an enveloped signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signing {
    Response,
    Assertion,
    Both,
    None,
}

/// Signs `xml` (built from `spec`) as `how` says: the Assertion first, then
/// the Response, so the Response signature covers the signed Assertion.
pub fn sign(xml: &str, spec: &Spec, how: Signing, key: &TestKey, opts: &SignOptions) -> String {
    let pkey = key.pkey();
    let mut out = xml.to_owned();
    if matches!(how, Signing::Assertion | Signing::Both) {
        out = sign_enveloped(&out, &spec.assertion_id, &pkey, opts)
            .unwrap_or_else(|e| panic!("signing the Assertion: {e}"));
    }
    if matches!(how, Signing::Response | Signing::Both) {
        out = sign_enveloped(&out, &spec.response_id, &pkey, opts)
            .unwrap_or_else(|e| panic!("signing the Response: {e}"));
    }
    out
}

impl Spec {
    /// This Response with its Assertion and itself signed by `key`
    /// (default options), base64 as the POST binding carries it.
    pub fn post_field(&self, key: &TestKey) -> String {
        let signed = sign(
            &self.to_xml(),
            self,
            Signing::Both,
            key,
            &SignOptions::default(),
        );
        base64::engine::general_purpose::STANDARD.encode(signed)
    }
}

/// Signs `b` in at `hub` through IdP `idp_id` (trusting `idp`): starts an
/// SP-initiated login, answers it with a both-signed response shaped by
/// `tweak`, and returns the ACS's answer (303 when accepted).
pub fn sign_in(
    hub: &Samlhub,
    idp: &TestIdp,
    idp_id: &str,
    b: &mut Browser,
    tweak: impl FnOnce(&mut Spec),
) -> Page {
    let (relay, req_id) = hub.begin_login(b, idp_id);
    #[allow(clippy::disallowed_methods)]
    let now = OffsetDateTime::now_utc();
    let mut spec = Spec::valid(idp, &hub.entity_id(), &hub.acs_url(), Some(&req_id), now);
    tweak(&mut spec);
    b.post_form(
        &hub.acs_url(),
        &[
            ("SAMLResponse", spec.post_field(&idp.key)),
            ("RelayState", relay),
        ],
    )
}
