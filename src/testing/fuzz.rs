//! What each fuzz target runs. The targets under `fuzz/` call these
//! functions, and `tests/it/fuzz_regressions.rs` replays the committed
//! regression and seed inputs through them, so those go through exactly the
//! code the fuzzer ran, in the normal `cargo test`.
//!
//! The IdP keys under `fuzz/keys/` are TEST-ONLY keys, committed so runs are
//! reproducible; nothing outside the fuzz harness and its tests trusts them.
//! Time is fixed at [`NOW_UNIX`] so the seed response stays valid.

use crate::saml::binding::{self, decode_redirect, verify_redirect_signature, BindingError};
use crate::saml::dsig::{DigestAlg, SigAlg, TrustedKey};
use crate::saml::mapping::{AttributeMap, AttributeOverrides, Profile};
use crate::saml::metadata::{self, IdpMetadata, MetadataError};
use crate::saml::response::{
    fmt_time, validate, Accepted, Expect, IdpTrust, InResponseTo, ResponseError,
};
use crate::saml::sign::{sign_enveloped, SignOptions};
use crate::xml::lex_diff::{compare, Agreement};
use crate::xml::{exc_c14n, ns, parse, ElemId, Limits};
use openssl::pkey::{PKey, Private};
use std::sync::OnceLock;
use time::{Duration, OffsetDateTime};

/// The fixed `now` of every target: 2027-01-15T08:00:00Z.
pub const NOW_UNIX: i64 = 1_800_000_000;
pub const IDP_ENTITY_ID: &str = "https://idp.fuzz.test/";
pub const SP_ENTITY_ID: &str = "https://hub.fuzz.test/saml/metadata";
pub const ACS_URL: &str = "https://hub.fuzz.test/saml/acs";
pub const REQUEST_ID: &str = "_fuzz0request0000000000000000000000000001";
pub const RESPONSE_ID: &str = "_fuzz0response000000000000000000000000001";
pub const ASSERTION_ID: &str = "_fuzz0assertion00000000000000000000000001";

const RSA_KEY_PEM: &[u8] = include_bytes!("../../fuzz/keys/TEST-ONLY-idp-rsa2048.key.pem");
const RSA_CERT_PEM: &[u8] = include_bytes!("../../fuzz/keys/TEST-ONLY-idp-rsa2048.crt.pem");
const EC_KEY_PEM: &[u8] = include_bytes!("../../fuzz/keys/TEST-ONLY-idp-p256.key.pem");

/// The test IdP: its keys and what the SP trusts about it.
pub struct Fixture {
    /// Signs the seed inputs (RSA-SHA256, as most IdPs do).
    pub rsa: PKey<Private>,
    /// Signs fuzzed responses that arrive unsigned (ECDSA: fast).
    pub ec: PKey<Private>,
    pub cert_der: Vec<u8>,
    /// Both public keys, as configuration would pin them.
    pub trusted: Vec<TrustedKey>,
    pub attributes: AttributeMap,
}

/// Loaded once per process; a broken key file fails loudly.
pub fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let rsa = PKey::private_key_from_pem(RSA_KEY_PEM).expect("test RSA key");
        let ec = PKey::private_key_from_pem(EC_KEY_PEM).expect("test EC key");
        let cert = openssl::x509::X509::from_pem(RSA_CERT_PEM).expect("test certificate");
        let cert_der = cert.to_der().expect("certificate DER");
        let public = |k: &PKey<Private>| {
            let pem = k.public_key_to_pem().expect("public key");
            TrustedKey::new(PKey::public_key_from_pem(&pem).expect("public key"))
                .expect("strong key")
        };
        Fixture {
            trusted: vec![public(&rsa), public(&ec)],
            rsa,
            ec,
            cert_der,
            attributes: AttributeMap::new(Profile::Generic, &AttributeOverrides::default()),
        }
    })
}

pub fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(NOW_UNIX).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn trust(f: &Fixture) -> IdpTrust<'_> {
    IdpTrust {
        id: "fuzz",
        entity_id: IDP_ENTITY_ID,
        keys: &f.trusted,
        allow_sha1: false,
        allow_cbc: false,
        allow_rsa1_5: false,
        clock_skew: Duration::minutes(1),
        attributes: &f.attributes,
        allow_non_ncname_ids: false,
    }
}

fn expect(f: &Fixture) -> Expect<'_> {
    Expect {
        sp_entity_id: Some(SP_ENTITY_ID),
        acs_url: Some(ACS_URL),
        in_response_to: InResponseTo::Request(REQUEST_ID),
        now: now(),
        // The RSA test key doubles as the SP's decryption key, so that
        // EncryptedAssertions reach the decryption code.
        decryption_keys: std::slice::from_ref(&f.rsa),
    }
}

// ---------------------------------------------------------------- targets

/// `xml_parse_c14n`: the strict parse with the message limits, then exc-c14n
/// of the root and of every element with an `ID` (with its enveloped
/// Signature excluded, as the verifier does), with and without the document's
/// own InclusiveNamespaces prefixes. Each canonical form must parse again and
/// be its own canonical form. Returns the canonical bytes written.
pub fn xml_parse_c14n(data: &[u8]) -> usize {
    let Ok(doc) = parse(data, &Limits::MESSAGE) else {
        return 0;
    };
    let prefixes: Vec<String> = doc
        .all()
        .filter_map(|e| doc.attr(e, "PrefixList"))
        .flat_map(str::split_whitespace)
        .take(16)
        .map(str::to_owned)
        .collect();
    let targets: Vec<ElemId> = std::iter::once(doc.root())
        .chain(doc.all().filter(|e| doc.attr(*e, "ID").is_some()))
        .collect();
    let mut out = Vec::new();
    let mut total = 0;
    for el in targets {
        let sig = doc.children_named(el, ns::DSIG, "Signature").next();
        for incl in [&[][..], &prefixes[..]] {
            out.clear();
            exc_c14n(&doc, el, sig, incl, &mut out);
            check_canonical(&out, incl);
            total += out.len();
            if prefixes.is_empty() {
                break;
            }
        }
    }
    total
}

/// A canonical form parses, and canonicalising it again changes nothing.
fn check_canonical(c14n: &[u8], incl: &[String]) {
    // Canonical forms may declare more namespaces per element than the
    // source did (each visibly used one), and may be larger.
    let roomy = Limits {
        max_bytes: usize::MAX,
        max_depth: Limits::MESSAGE.max_depth,
        max_elements: Limits::MESSAGE.max_elements,
        max_attributes: 4 * Limits::MESSAGE.max_attributes,
    };
    let again = match parse(c14n, &roomy) {
        Ok(d) => d,
        Err(e) => panic!("canonical form does not parse: {e}"),
    };
    let mut out = Vec::with_capacity(c14n.len());
    exc_c14n(&again, again.root(), None, incl, &mut out);
    assert!(out == c14n, "canonical form is not stable under c14n");
}

/// `xml_lex_diff`: the tokenizer against quick-xml on a UTF-8 input
/// (`xml::lex_diff`); panics on any disagreement. Input that is not UTF-8
/// never reaches the tokenizer (the parser checks the encoding first).
pub fn xml_lex_diff(data: &[u8]) -> Option<Agreement> {
    let s = std::str::from_utf8(data).ok()?;
    match compare(s) {
        Ok(a) => Some(a),
        Err(e) => panic!("tokenizers disagree: {e}"),
    }
}

/// `response_validate`: the whole ACS pipeline on a Response, with the test
/// IdP's keys and a fixed `now`. A Response without any Signature element is
/// first signed (its Assertion, with the EC key) so that mutations also reach
/// every check after the signature.
pub fn response_validate(data: &[u8]) -> Result<Accepted, ResponseError> {
    let f = fixture();
    let first = validate(data, &trust(f), &expect(f));
    if let Some(signed) = sign_if_unsigned(data, f) {
        let _ = validate(signed.as_bytes(), &trust(f), &expect(f));
    }
    first
}

fn sign_if_unsigned(data: &[u8], f: &Fixture) -> Option<String> {
    let text = std::str::from_utf8(data).ok()?;
    let doc = parse(data, &Limits::MESSAGE).ok()?;
    if doc.all().any(|e| doc.is(e, ns::DSIG, "Signature")) {
        return None;
    }
    let assertion = doc.all().find(|e| doc.is(*e, ns::SAML, "Assertion"))?;
    let id = doc.attr(assertion, "ID")?;
    let opts = SignOptions {
        alg: SigAlg::EcdsaSha256,
        digest: DigestAlg::Sha256,
        inclusive_prefixes: &[],
        cert_der: None,
    };
    sign_enveloped(text, id, &f.ec, &opts).ok()
}

/// `idp_metadata`: IdP metadata as configuration would read it, then each
/// signing certificate as a trusted key.
pub fn idp_metadata(data: &[u8]) -> Result<IdpMetadata, MetadataError> {
    let md = metadata::parse_idp(data, None).or_else(|e| match e {
        MetadataError::Ambiguous(..) => metadata::parse_idp(data, Some(IDP_ENTITY_ID)),
        other => Err(other),
    })?;
    for der in &md.signing_certs {
        let _ = TrustedKey::from_cert_der(der);
    }
    Ok(md)
}

/// `redirect_decode`: an HTTP-Redirect query string, decoded, its signature
/// checked with the test IdP's keys (SHA-1 refused, then allowed), and the
/// inflated message parsed.
pub fn redirect_decode(data: &[u8]) -> Result<SigAlg, BindingError> {
    let query = String::from_utf8_lossy(data);
    let msg = decode_redirect(&query)?;
    let _ = parse(&msg.xml, &Limits::MESSAGE);
    let keys = &fixture().trusted;
    let strict = verify_redirect_signature(&msg, keys, false);
    let _ = verify_redirect_signature(&msg, keys, true);
    strict
}

// ------------------------------------------------------------------ seeds

/// A Response that passes every check at [`NOW_UNIX`], unsigned.
pub fn response_xml() -> String {
    let t = |secs: i64| fmt_time(now() + Duration::seconds(secs));
    format!(
        "<samlp:Response xmlns:samlp=\"{samlp}\" xmlns:saml=\"{saml}\" ID=\"{RESPONSE_ID}\" Version=\"2.0\" IssueInstant=\"{now}\" Destination=\"{ACS_URL}\" InResponseTo=\"{REQUEST_ID}\">\
<saml:Issuer>{IDP_ENTITY_ID}</saml:Issuer>\
<samlp:Status><samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:Success\"/></samlp:Status>\
<saml:Assertion xmlns:xs=\"{xs}\" xmlns:xsi=\"{xsi}\" ID=\"{ASSERTION_ID}\" Version=\"2.0\" IssueInstant=\"{now}\">\
<saml:Issuer>{IDP_ENTITY_ID}</saml:Issuer>\
<saml:Subject><saml:NameID Format=\"urn:oasis:names:tc:SAML:2.0:nameid-format:persistent\">fuzz-user-1</saml:NameID>\
<saml:SubjectConfirmation Method=\"urn:oasis:names:tc:SAML:2.0:cm:bearer\">\
<saml:SubjectConfirmationData NotOnOrAfter=\"{noa}\" Recipient=\"{ACS_URL}\" InResponseTo=\"{REQUEST_ID}\"/>\
</saml:SubjectConfirmation></saml:Subject>\
<saml:Conditions NotBefore=\"{nb}\" NotOnOrAfter=\"{noa}\"><saml:AudienceRestriction><saml:Audience>{SP_ENTITY_ID}</saml:Audience></saml:AudienceRestriction></saml:Conditions>\
<saml:AuthnStatement AuthnInstant=\"{now}\" SessionNotOnOrAfter=\"{session}\" SessionIndex=\"_s1\"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>\
<saml:AttributeStatement>\
<saml:Attribute Name=\"uid\"><saml:AttributeValue xsi:type=\"xs:string\">fuzz</saml:AttributeValue></saml:Attribute>\
<saml:Attribute Name=\"mail\"><saml:AttributeValue xsi:type=\"xs:string\">fuzz@example.org</saml:AttributeValue></saml:Attribute>\
<saml:Attribute Name=\"groups\"><saml:AttributeValue>admins</saml:AttributeValue><saml:AttributeValue>users</saml:AttributeValue><saml:AttributeValue xsi:nil=\"true\"/></saml:Attribute>\
</saml:AttributeStatement></saml:Assertion></samlp:Response>",
        samlp = ns::SAMLP,
        saml = ns::SAML,
        xs = ns::XS,
        xsi = ns::XSI,
        now = t(0),
        nb = t(-30),
        noa = t(300),
        session = t(8 * 3600),
    )
}

/// The seed Responses: Assertion signed, Response signed, both signed (all
/// RSA-SHA256 with the test key, so they verify), and unsigned.
pub fn seed_responses() -> Vec<(&'static str, String)> {
    let f = fixture();
    let opts = SignOptions {
        cert_der: Some(&f.cert_der),
        ..SignOptions::default()
    };
    let xml = response_xml();
    let sign = |x: &str, id: &str| sign_enveloped(x, id, &f.rsa, &opts).expect("sign seed");
    let assertion = sign(&xml, ASSERTION_ID);
    let response = sign(&xml, RESPONSE_ID);
    let both = sign(&assertion, RESPONSE_ID);
    vec![
        ("assertion-signed.xml", assertion),
        ("response-signed.xml", response),
        ("both-signed.xml", both),
        ("unsigned.xml", xml),
    ]
}

/// IdP metadata naming the test certificate.
pub fn seed_metadata() -> String {
    let cert = openssl::base64::encode_block(&fixture().cert_der);
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
<md:EntitiesDescriptor xmlns:md=\"{md}\" xmlns:ds=\"{ds}\">\n\
<md:EntityDescriptor entityID=\"{IDP_ENTITY_ID}\" validUntil=\"2030-01-01T00:00:00Z\">\n\
<md:IDPSSODescriptor WantAuthnRequestsSigned=\"true\" protocolSupportEnumeration=\"{samlp}\">\n\
<md:KeyDescriptor use=\"signing\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>\n{cert}\n</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>\n\
<md:KeyDescriptor use=\"encryption\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>AAEC</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>\n\
<md:SingleLogoutService Binding=\"{redirect}\" Location=\"https://idp.fuzz.test/slo\"/>\n\
<md:SingleSignOnService Binding=\"{redirect}\" Location=\"https://idp.fuzz.test/sso\"/>\n\
<md:SingleSignOnService Binding=\"{post}\" Location=\"https://idp.fuzz.test/sso-post\"/>\n\
</md:IDPSSODescriptor>\n\
</md:EntityDescriptor>\n\
<md:EntityDescriptor entityID=\"https://sp.fuzz.test/\"><md:SPSSODescriptor protocolSupportEnumeration=\"{samlp}\"/></md:EntityDescriptor>\n\
</md:EntitiesDescriptor>\n",
        md = ns::MD,
        ds = ns::DSIG,
        samlp = ns::SAMLP,
        redirect = metadata::BINDING_REDIRECT,
        post = metadata::BINDING_POST,
    )
}

/// A LogoutRequest from the test IdP as a signed Redirect-binding query.
pub fn seed_redirect_query() -> String {
    let xml = format!(
        "<samlp:LogoutRequest xmlns:samlp=\"{samlp}\" xmlns:saml=\"{saml}\" ID=\"_fuzz0logout\" Version=\"2.0\" IssueInstant=\"{now}\" Destination=\"https://hub.fuzz.test/saml/slo\"><saml:Issuer>{IDP_ENTITY_ID}</saml:Issuer><saml:NameID>fuzz-user-1</saml:NameID></samlp:LogoutRequest>",
        samlp = ns::SAMLP,
        saml = ns::SAML,
        now = fmt_time(now()),
    );
    let url = binding::redirect_url("https://x.test/slo", &xml, "_relay0handle", &fixture().rsa)
        .expect("encode seed");
    url.split_once('?')
        .map(|(_, q)| q.to_owned())
        .unwrap_or(url)
}
