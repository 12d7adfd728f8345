//! Self-tests of the peers harness (owned by the peers harness): the real
//! SimpleSAMLphp starts and logs users in, xmlsec1 signs and verifies, and
//! xmllint validates metadata offline. Each test is fast (a few seconds).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test harness: failing loudly is the point

use crate::peers::browser::{form_action, hidden_inputs, html_decode, Browser};
use crate::peers::pki::TestKey;
use crate::peers::simplesamlphp::{SimpleSamlPhp, SspSp};
use crate::peers::xmlsec::{
    xmllint_validate_metadata, xmllint_validate_protocol, xmlsec1_decrypt, xmlsec1_sign,
    xmlsec1_verify, xmlsec1_verify_xpath,
};

const ASSERTION_NODE: &str = "urn:oasis:names:tc:SAML:2.0:assertion:Assertion";

#[test]
fn simplesamlphp_serves_metadata_with_its_cert() {
    let ssp = SimpleSamlPhp::start(&[SspSp::new(
        "http://127.0.0.1:9/sp",
        "http://127.0.0.1:9/acs",
    )]);
    let xml = ssp.metadata_xml();
    assert!(
        xml.contains(&format!("entityID=\"{}\"", ssp.entity_id())),
        "{xml}"
    );
    assert!(xml.contains(ssp.idp_cert_b64()), "IdP cert missing:\n{xml}");
    assert!(xml.contains(&ssp.sso_url()), "{xml}");
    xmllint_validate_metadata(&xml).expect("SSP metadata is schema-valid");
}

#[test]
fn simplesamlphp_idp_initiated_login_yields_signed_response() {
    let sp = SspSp::new("http://127.0.0.1:9/sp", "http://127.0.0.1:9/acs");
    let ssp = SimpleSamlPhp::start(std::slice::from_ref(&sp));
    let mut b = Browser::new();
    let start = b.get(&ssp.idp_initiated_url(&sp.entity_id, Some("rs-1")));
    let post = b.ssp_login(start, "alice", "alicepass");
    assert_eq!(post.action, sp.acs_url);
    assert_eq!(post.relay_state.as_deref(), Some("rs-1"));
    let xml = post.xml();
    for needle in [
        "alice@example.org",
        "Alice Example",
        "ha-admins",
        "rsa-sha256",
    ] {
        assert!(xml.contains(needle), "{needle} not in:\n{xml}");
    }
    xmlsec1_verify(
        &xml,
        ssp.idp_cert_pem(),
        "urn:oasis:names:tc:SAML:2.0:protocol:Response",
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", ssp.log_tail()));
    xmlsec1_verify_xpath(
        &xml,
        ssp.idp_cert_pem(),
        "//*[local-name()='Assertion']/*[local-name()='Signature']",
    )
    .expect("assertion signature");
    xmllint_validate_protocol(&xml).expect("Response is schema-valid");
    let other = TestKey::generate("not-the-idp", 2048);
    assert!(xmlsec1_verify(&xml, &other.cert_pem, ASSERTION_NODE).is_err());

    // Second login in the same browser reuses the IdP session.
    let again = b.get(&ssp.idp_initiated_url(&sp.entity_id, None));
    let post2 = b.ssp_login(again, "ignored", "ignored");
    assert!(post2.xml().contains("alice@example.org"));
}

fn assertion_template(id: &str) -> String {
    format!(
        r##"<?xml version="1.0" encoding="UTF-8"?>
<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{id}" Version="2.0" IssueInstant="2024-01-01T00:00:00Z"><saml:Issuer>http://127.0.0.1/idp</saml:Issuer><ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><ds:Reference URI="#{id}"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue/></ds:Reference></ds:SignedInfo><ds:SignatureValue/><ds:KeyInfo><ds:X509Data><ds:X509Certificate/></ds:X509Data></ds:KeyInfo></ds:Signature><saml:Subject><saml:NameID>alice</saml:NameID></saml:Subject></saml:Assertion>
"##
    )
}

#[test]
fn xmlsec1_sign_then_verify_and_detect_tampering() {
    let key = TestKey::generate("selftest-signer", 2048);
    let signed = xmlsec1_sign(&assertion_template("_a1"), &key.key_pem, &key.cert_pem);
    assert!(signed.contains(&key.cert_b64.chars().take(40).collect::<String>()));
    xmlsec1_verify(&signed, &key.cert_pem, ASSERTION_NODE).expect("valid signature");

    let tampered = signed.replace(">alice<", ">mallory<");
    assert_ne!(tampered, signed);
    assert!(xmlsec1_verify(&tampered, &key.cert_pem, ASSERTION_NODE).is_err());

    let other = TestKey::generate("selftest-other", 2048);
    assert!(xmlsec1_verify(&signed, &other.cert_pem, ASSERTION_NODE).is_err());
}

const SP_METADATA_OK: &str = r#"<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="http://127.0.0.1/sp">
  <md:SPSSODescriptor AuthnRequestsSigned="true" WantAssertionsSigned="true" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>MIIB</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="http://127.0.0.1/acs" index="0" isDefault="true"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>
"#;

#[test]
fn xmllint_validates_metadata_offline() {
    xmllint_validate_metadata(SP_METADATA_OK).expect("valid metadata");
    // ACS without the required index attribute.
    let missing_index = SP_METADATA_OK.replace(" index=\"0\"", "");
    let err = xmllint_validate_metadata(&missing_index).expect_err("must be invalid");
    assert!(err.contains("index"), "{err}");
    // Unknown element in the xmldsig namespace: proves the dsig import loaded.
    let bad_dsig = SP_METADATA_OK.replace("ds:X509Data>", "ds:X509Bogus>");
    assert!(xmllint_validate_metadata(&bad_dsig).is_err());
}

#[test]
fn html_helpers_decode_forms() {
    let html = r#"<form method="post" action="http://127.0.0.1:1/acs?a=1&amp;b=&#x2F;x">
<input type="hidden" name="SAMLResponse" value="PD94&#43;bWw&#61;" />
<INPUT TYPE='hidden' NAME='RelayState' VALUE='&quot;r&quot;'>
<input type="text" name="username" value="u"></form>"#;
    assert_eq!(
        form_action(html).as_deref(),
        Some("http://127.0.0.1:1/acs?a=1&b=/x")
    );
    assert_eq!(
        hidden_inputs(html),
        vec![
            ("SAMLResponse".to_owned(), "PD94+bWw=".to_owned()),
            ("RelayState".to_owned(), "\"r\"".to_owned()),
        ]
    );
    assert_eq!(html_decode("a &amp;&#65;&bogus; &"), "a &A&bogus; &");
}

/// `SAMLRequest` for the HTTP-Redirect binding (raw DEFLATE, base64).
fn redirect_binding_request(xml: &str) -> String {
    use base64::Engine as _;
    use std::io::Write as _;
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(xml.as_bytes()).expect("deflate");
    base64::engine::general_purpose::STANDARD.encode(enc.finish().expect("deflate"))
}

#[test]
fn simplesamlphp_sp_initiated_login_with_encrypted_assertion() {
    let sp_key = TestKey::generate("selftest-sp", 2048);
    let mut sp = SspSp::new("http://127.0.0.1:9/sp", "http://127.0.0.1:9/acs");
    sp.sp_cert_b64 = Some(sp_key.cert_b64.clone());
    sp.encrypt_assertion = true;
    let ssp = SimpleSamlPhp::start(std::slice::from_ref(&sp));
    let authn_request = format!(
        r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_req1" Version="2.0" IssueInstant="2024-01-01T00:00:00Z" Destination="{dest}" AssertionConsumerServiceURL="{acs}" ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"><saml:Issuer>{sp}</saml:Issuer></samlp:AuthnRequest>"#,
        dest = ssp.sso_url(),
        acs = sp.acs_url,
        sp = sp.entity_id
    );
    xmllint_validate_protocol(&authn_request).expect("AuthnRequest is schema-valid");
    let mut u = url::Url::parse(&ssp.sso_url()).expect("url");
    u.query_pairs_mut()
        .append_pair("SAMLRequest", &redirect_binding_request(&authn_request))
        .append_pair("RelayState", "sp-rs");
    // What an SP would answer: a 302 to the IdP.
    let start = crate::peers::browser::Page {
        url: "http://127.0.0.1:9/login".to_owned(),
        status: 302,
        location: Some(u.to_string()),
        body: String::new(),
        headers: Vec::new(),
    };
    let mut b = Browser::new();
    let post = b.ssp_login(start, "carol", "carolpass");
    assert_eq!(post.relay_state.as_deref(), Some("sp-rs"));
    let xml = post.xml();
    assert!(xml.contains("InResponseTo=\"_req1\""), "{xml}");
    assert!(xml.contains("EncryptedAssertion"), "{xml}");
    assert!(
        !xml.contains("carol@example.org"),
        "assertion must be encrypted"
    );
    xmlsec1_verify(&xml, ssp.idp_cert_pem(), "").expect("Response signature");
    let plain = xmlsec1_decrypt(&xml, &sp_key.key_pem).expect("decrypt with the SP key");
    assert!(plain.contains("carol@example.org"), "{plain}");
    assert!(
        !plain.contains("Name=\"groups\""),
        "carol has no groups:\n{plain}"
    );
    xmlsec1_verify_xpath(
        &plain,
        ssp.idp_cert_pem(),
        "//*[local-name()='Assertion']/*[local-name()='Signature']",
    )
    .expect("assertion signed inside the encryption");
}

#[test]
#[should_panic(expected = "wrong password")]
fn ssp_login_with_a_wrong_password_panics_helpfully() {
    let sp = SspSp::new("http://127.0.0.1:9/sp", "http://127.0.0.1:9/acs");
    let ssp = SimpleSamlPhp::start(std::slice::from_ref(&sp));
    let mut b = Browser::new();
    let start = b.get(&ssp.idp_initiated_url(&sp.entity_id, None));
    b.ssp_login(start, "alice", "not-her-password");
}
