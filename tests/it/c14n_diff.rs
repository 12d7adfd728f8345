//! Differential test of our exclusive c14n (src/xml/c14n.rs) against
//! libxmlsec1/libxml2 through the `xmlsec1` CLI, in both directions:
//!
//! - A: `sign_enveloped` signs, `xmlsec1 --verify` must accept (and reject
//!   the same document with one character of signed text changed);
//! - B: `xmlsec1 --sign` fills a template, `verify_enveloped` must accept,
//!   and must answer `DigestMismatch` once signed text is changed.
//!
//! Each document exercises exc-c14n pitfalls (design.md §3). A failure prints
//! our canonical form next to xmlsec1's pre-digest data for the Reference.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use crate::peers::pki::TestKey;
use crate::peers::xmlsec::{xmlsec1_sign, xmlsec1_verify, xmlsec1_verify_xpath};
use samlhub::saml::dsig::{verify_enveloped, DsigError, TrustedKey};
use samlhub::saml::sign::{sign_enveloped, SignOptions};
use samlhub::xml::{exc_c14n, ns, parse, Document, ElemId, Limits};
use std::process::Command;

const ASSERTION_NODE: &str = "urn:oasis:names:tc:SAML:2.0:assertion:Assertion";
const RESPONSE_NODE: &str = "urn:oasis:names:tc:SAML:2.0:protocol:Response";
/// Where the Signature goes in direction B (removed in direction A, where
/// `sign_enveloped` places it after the Issuer itself).
const SIG: &str = "@@SIG@@";
/// Signed text that each case contains exactly once after a '>', changed to
/// prove the digest covers it.
const TAMPER_FROM: &str = ">alice";
const TAMPER_TO: &str = ">alicf";

struct Case {
    name: &'static str,
    /// The document; `⟨CR⟩` stands for a carriage return, `@@SIG@@` for the
    /// template's place.
    xml: &'static str,
    /// `ID` of the signed element.
    id: &'static str,
    /// `ns:local` of the signed element, for xmlsec1 `--id-attr`.
    node: &'static str,
    /// InclusiveNamespaces PrefixList of the Reference's exc-c14n transform
    /// (the "with" variant; every case is also run without one).
    incl: &'static [&'static str],
    /// InclusiveNamespaces on SignedInfo's CanonicalizationMethod (B only).
    si_incl: &'static [&'static str],
    /// Template pretty-printed (whitespace inside SignedInfo).
    pretty: bool,
    /// Template's ds:Signature declares xmlns:ds (else it comes from an ancestor).
    declare_ds: bool,
}

const fn case(name: &'static str, xml: &'static str, id: &'static str) -> Case {
    Case {
        name,
        xml,
        id,
        node: ASSERTION_NODE,
        incl: &["xs", "xsi", "#default"],
        si_incl: &[],
        pretty: false,
        declare_ds: true,
    }
}

fn cases() -> Vec<Case> {
    vec![
        case(
            "saml_prefix",
            r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a1" Version="2.0" IssueInstant="2024-01-01T00:00:00Z"><saml:Issuer>https://idp.example.org</saml:Issuer>@@SIG@@<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">alice@example.org</saml:NameID></saml:Subject></saml:Assertion>"#,
            "_a1",
        ),
        Case {
            incl: &["saml2", "md"],
            ..case(
                "saml2_prefix_declared_on_root_used_inside_plus_unused_decls",
                r#"<?xml version="1.0" encoding="UTF-8"?>
<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml2="urn:oasis:names:tc:SAML:2.0:assertion" xmlns:unused="urn:example:unused" xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" ID="_r2" Version="2.0" IssueInstant="2024-01-01T00:00:00Z" Destination="https://sp.example.org/saml/acs"><saml2:Issuer>https://idp.example.org</saml2:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status><saml2:Assertion xmlns:unused2="urn:example:unused2" ID="_a2" Version="2.0" IssueInstant="2024-01-01T00:00:00Z"><saml2:Issuer>https://idp.example.org</saml2:Issuer>@@SIG@@<saml2:Subject><saml2:NameID>alice</saml2:NameID></saml2:Subject><saml2:Conditions NotBefore="2024-01-01T00:00:00Z" NotOnOrAfter="2024-01-01T00:05:00Z"><saml2:AudienceRestriction><saml2:Audience>https://sp.example.org</saml2:Audience></saml2:AudienceRestriction></saml2:Conditions></saml2:Assertion></samlp:Response>"#,
                "_a2",
            )
        },
        case(
            "default_namespace_on_the_assertion",
            r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_r3" Version="2.0" IssueInstant="2024-01-01T00:00:00Z"><Issuer xmlns="urn:oasis:names:tc:SAML:2.0:assertion">idp</Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status><Assertion xmlns="urn:oasis:names:tc:SAML:2.0:assertion" xmlns:xs="http://www.w3.org/2001/XMLSchema" ID="_a3" Version="2.0" IssueInstant="2024-01-01T00:00:00Z"><Issuer>idp</Issuer>@@SIG@@<Subject><NameID>alice</NameID></Subject><AttributeStatement><Attribute Name="mail"><AttributeValue>a.lice@example.org</AttributeValue></Attribute></AttributeStatement></Assertion></samlp:Response>"#,
            "_a3",
        ),
        case(
            "default_namespace_on_ancestor_outside_the_signed_subtree",
            r#"<Envelope xmlns="urn:example:envelope" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"><Header/><Body><saml:Assertion ID="_a4" Version="2.0" IssueInstant="2024-01-01T00:00:00Z"><saml:Issuer>idp</saml:Issuer>@@SIG@@<saml:Subject><saml:NameID>alice</saml:NameID></saml:Subject><saml:Advice><Note kind="x">inherited default <Deeper/></Note></saml:Advice></saml:Assertion></Body></Envelope>"#,
            "_a4",
        ),
        case(
            "xmlns_empty_undeclaration_of_a_rendered_default",
            r#"<Assertion xmlns="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a5" Version="2.0" IssueInstant="2024-01-01T00:00:00Z"><Issuer>idp</Issuer>@@SIG@@<Subject><NameID>alice</NameID></Subject><AttributeStatement><Attribute Name="raw"><AttributeValue><data xmlns=""><item>one</item><item xmlns="urn:example:again">two<x xmlns=""/></item></data></AttributeValue></Attribute></AttributeStatement></Assertion>"#,
            "_a5",
        ),
        case(
            "xmlns_empty_when_outer_default_was_not_rendered",
            r#"<w:Wrap xmlns:w="urn:example:w" xmlns="urn:example:outer"><saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a6" Version="2.0" IssueInstant="2024-01-01T00:00:00Z"><saml:Issuer>idp</saml:Issuer>@@SIG@@<saml:Subject><saml:NameID>alice</saml:NameID></saml:Subject><saml:Advice><plain xmlns=""><inner/></plain><outer-ns><plain2 xmlns=""/></outer-ns></saml:Advice></saml:Assertion></w:Wrap>"#,
            "_a6",
        ),
        Case {
            incl: &["#default"],
            ..case(
                "prefixed_assertion_with_xmlns_empty_and_default_in_prefix_list",
                r#"<Wrap xmlns="urn:example:outer"><saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" xmlns="" ID="_a7" Version="2.0" IssueInstant="2024-01-01T00:00:00Z"><saml:Issuer>idp</saml:Issuer>@@SIG@@<saml:Subject><saml:NameID>alice</saml:NameID></saml:Subject><saml:Advice><raw><in xmlns="urn:example:in"><back xmlns=""/></in></raw></saml:Advice></saml:Assertion></Wrap>"#,
                "_a7",
            )
        },
        Case {
            incl: &["xs", "xsi"],
            ..case(
                "xsi_type_qnames_with_xs_xsi_prefix_list",
                r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ID="_r8" Version="2.0" IssueInstant="2024-01-01T00:00:00Z"><saml:Issuer>idp</saml:Issuer><saml:Assertion ID="_a8" Version="2.0" IssueInstant="2024-01-01T00:00:00Z"><saml:Issuer>idp</saml:Issuer>@@SIG@@<saml:Subject><saml:NameID>alice</saml:NameID></saml:Subject><saml:AttributeStatement><saml:Attribute Name="groups" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:basic"><saml:AttributeValue xsi:type="xs:string">admins</saml:AttributeValue><saml:AttributeValue xsi:type="xs:integer">42</saml:AttributeValue><saml:AttributeValue xmlns:xs="http://www.w3.org/2001/XMLSchema" xsi:type="xs:string">redeclared</saml:AttributeValue></saml:Attribute></saml:AttributeStatement></saml:Assertion></samlp:Response>"#,
                "_a8",
            )
        },
        Case {
            incl: &["#default", "saml"],
            si_incl: &["#default", "saml"],
            ..case(
                "default_namespace_in_both_prefix_lists",
                r#"<Response xmlns="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r9" Version="2.0" IssueInstant="2024-01-01T00:00:00Z"><saml:Issuer>idp</saml:Issuer><Status><StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></Status><saml:Assertion ID="_a9" Version="2.0" IssueInstant="2024-01-01T00:00:00Z"><saml:Issuer>idp</saml:Issuer>@@SIG@@<saml:Subject><saml:NameID>alice</saml:NameID></saml:Subject></saml:Assertion></Response>"#,
                "_a9",
            )
        },
        Case {
            pretty: true,
            ..case(
                "whitespace_crlf_tabs_and_char_refs",
                "<saml:Assertion\u{20}⟨CR⟩\n\txmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\"⟨CR⟩\n\tID=\"_a10\"\tVersion=\"2.0\"⟨CR⟩\n  IssueInstant=\"2024-01-01T00:00:00Z\" >⟨CR⟩\n\t<saml:Issuer>idp</saml:Issuer>⟨CR⟩\n\t@@SIG@@⟨CR⟩\n\t<saml:Subject>⟨CR⟩\n\t\t<saml:NameID SPNameQualifier=\"line1\nline2\tcol⟨CR⟩\nend⟨CR⟩x\" NameQualifier=\"a&#10;b&#9;c&#13;d&#13;&#10;e &#x20; f\">alice</saml:NameID>⟨CR⟩\n\t</saml:Subject>⟨CR⟩\n<saml:AttributeStatement\n><saml:Attribute\tName = 'multi' ><saml:AttributeValue>  leading and trailing  \n\n\ttabbed⟨CR⟩\nline&#13;&#10;lone⟨CR⟩cr&#9;tab</saml:AttributeValue><saml:AttributeValue><![CDATA[cd⟨CR⟩\nata⟨CR⟩end\t]]></saml:AttributeValue></saml:Attribute></saml:AttributeStatement>⟨CR⟩\n</saml:Assertion  >⟨CR⟩\n",
                "_a10",
            )
        },
        Case {
            incl: &["a", "z"],
            ..case(
                "attribute_order_and_namespaces_and_xml_lang",
                r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" xmlns:z="urn:example:a-first" xmlns:a="urn:example:z-last" z:zeta="1" a:alpha="2" IssueInstant="2024-01-01T00:00:00Z" Version="2.0" ID="_a11" xml:lang="en-GB" xmlns:xml="http://www.w3.org/XML/1998/namespace" b:beta="3" xmlns:b="urn:example:middle" xmlns="urn:example:default-unused"><saml:Issuer xml:lang="de">idp</saml:Issuer>@@SIG@@<saml:Subject xml:space="preserve"><saml:NameID z:q="x" a:q="y" q="z" xml:lang="fr" NameQualifier="nq" Format="f">alice</saml:NameID></saml:Subject><saml:Advice><el b:x="1" xmlns:b="urn:example:rebound" z:y="2" c="3" B="4" _="5"/></saml:Advice></saml:Assertion>"#,
                "_a11",
            )
        },
        case(
            "cdata_and_escaped_characters",
            r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a12" Version="2.0" IssueInstant="2024-01-01T00:00:00Z"><saml:Issuer>idp</saml:Issuer>@@SIG@@<saml:Subject><saml:NameID>alice</saml:NameID></saml:Subject><saml:AttributeStatement><saml:Attribute Name='has "double" quotes &amp; &lt;lt&gt; >' FriendlyName="a &lt; b &amp; c &gt; d &quot;q&quot; 'apos' &apos; cr&#13;lf&#10;tab&#9;"><saml:AttributeValue>&lt;tag&gt; &amp;amp; &quot;quoted&quot; 'single' &apos; cr&#13;here &gt; > raw</saml:AttributeValue><saml:AttributeValue><![CDATA[<not-a-tag> & ]] > "q" 'a' &amp; &#13;]]></saml:AttributeValue><saml:AttributeValue>mixed <![CDATA[cdata&]]>and text ]]&gt;<![CDATA[]]><![CDATA[x]]></saml:AttributeValue></saml:Attribute></saml:AttributeStatement></saml:Assertion>"#,
            "_a12",
        ),
        case(
            "comments_inside_and_around_the_signed_content",
            "<!-- prolog comment -->\n<saml:Assertion xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"_a13\" Version=\"2.0\" IssueInstant=\"2024-01-01T00:00:00Z\"><!-- first --><saml:Issuer>idp<!-- in issuer --></saml:Issuer>@@SIG@@<saml:Subject><saml:NameID>ali<!-- split -->ce@example.org</saml:NameID></saml:Subject><!-- before statement --><saml:AttributeStatement><saml:Attribute Name=\"a\"><saml:AttributeValue>alice</saml:AttributeValue><!----></saml:Attribute></saml:AttributeStatement>\n<!-- last child --></saml:Assertion>\n<!-- trailing comment -->\n",
            "_a13",
        ),
        case(
            "non_ascii_text_attributes_and_names",
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<saml:Assertion xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"_a14\" Version=\"2.0\" IssueInstant=\"2024-01-01T00:00:00Z\"><saml:Issuer>idp</saml:Issuer>@@SIG@@<saml:Subject><saml:NameID>alice</saml:NameID></saml:Subject><saml:AttributeStatement><saml:Attribute Name=\"displayName\" FriendlyName=\"Nömé ☃ &#xE9;\"><saml:AttributeValue>Zoë Ångström — 日本語 😀 &#xE9;&#x1F600;&#169;</saml:AttributeValue></saml:Attribute></saml:AttributeStatement><saml:Advice><ex:näme xmlns:ex=\"urn:example:unicode-names\" ex:ätt=\"ß\">ÿ</ex:näme></saml:Advice></saml:Assertion>",
            "_a14",
        ),
        case(
            "empty_elements_self_closed_and_start_end_pairs",
            r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a15" Version="2.0" IssueInstant="2024-01-01T00:00:00Z"><saml:Issuer>idp</saml:Issuer>@@SIG@@<saml:Subject><saml:NameID>alice</saml:NameID><saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"/></saml:Subject><saml:Conditions></saml:Conditions><saml:AuthnStatement AuthnInstant="2024-01-01T00:00:00Z"><saml:AuthnContext><saml:AuthnContextClassRef></saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement><saml:AttributeStatement><saml:Attribute Name="e"><saml:AttributeValue/><saml:AttributeValue></saml:AttributeValue><saml:AttributeValue > </saml:AttributeValue><saml:AttributeValue
/></saml:Attribute></saml:AttributeStatement></saml:Assertion>"#,
            "_a15",
        ),
        Case {
            incl: &["p", "saml"],
            ..case(
                "redundant_and_changing_redeclarations",
                r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r16" Version="2.0" IssueInstant="2024-01-01T00:00:00Z"><saml:Issuer xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">idp</saml:Issuer><saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_a16" Version="2.0" IssueInstant="2024-01-01T00:00:00Z"><saml:Issuer xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">idp</saml:Issuer>@@SIG@@<saml:Subject xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"><saml:NameID xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">alice</saml:NameID></saml:Subject><saml:Advice xmlns:p="urn:example:one"><p:x xmlns:p="urn:example:one"><p:y xmlns:p="urn:example:two"><p:z xmlns:p="urn:example:one"/><q xmlns="urn:example:one"><r xmlns="urn:example:one"/></q></p:y></p:x><p:w/></saml:Advice></saml:Assertion></samlp:Response>"#,
                "_a16",
            )
        },
        Case {
            node: RESPONSE_NODE,
            declare_ds: false,
            si_incl: &["saml"],
            ..case(
                "signed_response_with_ds_declared_on_the_root",
                r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" ID="_r17" Version="2.0" IssueInstant="2024-01-01T00:00:00Z" InResponseTo="_req"><saml:Issuer>idp</saml:Issuer>@@SIG@@<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status><saml:Assertion ID="_a17" Version="2.0" IssueInstant="2024-01-01T00:00:00Z"><saml:Issuer>idp</saml:Issuer><saml:Subject><saml:NameID>alice</saml:NameID></saml:Subject></saml:Assertion></samlp:Response>"#,
                "_r17",
            )
        },
        Case {
            pretty: true,
            ..case(
                "default_and_prefix_bound_to_the_same_uri",
                r#"<Assertion xmlns="urn:oasis:names:tc:SAML:2.0:assertion" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a18" Version="2.0" IssueInstant="2024-01-01T00:00:00Z">
  <saml:Issuer>idp</saml:Issuer>
  @@SIG@@
  <Subject><saml:NameID>alice</saml:NameID></Subject>
  <saml:Conditions><AudienceRestriction><saml:Audience>sp</saml:Audience></AudienceRestriction></saml:Conditions>
</Assertion>"#,
                "_a18",
            )
        },
        Case {
            incl: &["xs", "undeclared", "xsi"],
            pretty: true,
            ..case(
                "prefix_list_naming_undeclared_prefixes_and_xsi_only_deep",
                r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" xmlns:xs="http://www.w3.org/2001/XMLSchema" ID="_a19" Version="2.0" IssueInstant="2024-01-01T00:00:00Z"><saml:Issuer>idp</saml:Issuer>@@SIG@@<saml:Subject><saml:NameID>alice</saml:NameID></saml:Subject><saml:AttributeStatement><saml:Attribute Name="n"><saml:AttributeValue xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="xs:string">v</saml:AttributeValue><saml:AttributeValue xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:nil="true"/></saml:Attribute></saml:AttributeStatement></saml:Assertion>"#,
                "_a19",
            )
        },
        Case {
            incl: &["#default"],
            ..case(
                "default_in_prefix_list_with_xmlns_empty_on_a_prefixed_descendant",
                r#"<Assertion xmlns="urn:oasis:names:tc:SAML:2.0:assertion" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_a20" Version="2.0" IssueInstant="2024-01-01T00:00:00Z"><Issuer>idp</Issuer>@@SIG@@<Subject><NameID>alice</NameID></Subject><saml:Advice xmlns=""><saml:Foo><bare/></saml:Foo></saml:Advice><saml:Advice><saml:Bar xmlns=""/></saml:Advice></Assertion>"#,
                "_a20",
            )
        },
    ]
}

impl Case {
    fn source(&self) -> String {
        self.xml.replace("⟨CR⟩", "\r")
    }

    /// The prefix-list variants: without, and with the case's list.
    fn variants(&self) -> Vec<&'static [&'static str]> {
        if self.incl.is_empty() {
            vec![&[]]
        } else {
            vec![&[], self.incl]
        }
    }
}

fn signer() -> TestKey {
    TestKey::generate("c14n-diff-signer", 2048)
}

fn trusted(key: &TestKey) -> TrustedKey {
    TrustedKey::from_cert_der(&key.cert().to_der().unwrap()).unwrap()
}

fn xmlsec_verify(xml: &str, key: &TestKey, c: &Case) -> Result<(), String> {
    if c.node == RESPONSE_NODE {
        xmlsec1_verify(xml, &key.cert_pem, c.node)
    } else {
        // Target the Assertion's own Signature explicitly.
        xmlsec1_verify_xpath(
            xml,
            &key.cert_pem,
            "//*[local-name()='Assertion']/*[local-name()='Signature']",
        )
    }
}

fn inclusive_el(prefixes: &[&str]) -> String {
    if prefixes.is_empty() {
        String::new()
    } else {
        format!(
            "<ec:InclusiveNamespaces xmlns:ec=\"{}\" PrefixList=\"{}\"/>",
            ns::EXC_C14N,
            prefixes.join(" ")
        )
    }
}

/// An xmlsec1 signing template for the element with `ID="id"`.
fn template(c: &Case, incl: &[&str]) -> String {
    let (nl, i1, i2, i3, i4) = if c.pretty {
        ("\n", "  ", "    ", "      ", "        ")
    } else {
        ("", "", "", "", "")
    };
    let ds_decl = if c.declare_ds {
        format!(" xmlns:ds=\"{}\"", ns::DSIG)
    } else {
        String::new()
    };
    let c14n_alg = ns::EXC_C14N;
    let si_c14n = if c.si_incl.is_empty() {
        format!("<ds:CanonicalizationMethod Algorithm=\"{c14n_alg}\"/>")
    } else {
        format!(
            "<ds:CanonicalizationMethod Algorithm=\"{c14n_alg}\">{}</ds:CanonicalizationMethod>",
            inclusive_el(c.si_incl)
        )
    };
    let ref_c14n = if incl.is_empty() {
        format!("<ds:Transform Algorithm=\"{c14n_alg}\"/>")
    } else {
        format!(
            "<ds:Transform Algorithm=\"{c14n_alg}\">{}</ds:Transform>",
            inclusive_el(incl)
        )
    };
    format!(
        "<ds:Signature{ds_decl}>{nl}\
{i1}<ds:SignedInfo>{nl}\
{i2}{si_c14n}{nl}\
{i2}<ds:SignatureMethod Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256\"/>{nl}\
{i2}<ds:Reference URI=\"#{id}\">{nl}\
{i3}<ds:Transforms>{nl}\
{i4}<ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>{nl}\
{i4}{ref_c14n}{nl}\
{i3}</ds:Transforms>{nl}\
{i3}<ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/>{nl}\
{i3}<ds:DigestValue></ds:DigestValue>{nl}\
{i2}</ds:Reference>{nl}\
{i1}</ds:SignedInfo>{nl}\
{i1}<ds:SignatureValue/>{nl}\
{i1}<ds:KeyInfo><ds:X509Data><ds:X509Certificate/></ds:X509Data></ds:KeyInfo>{nl}\
</ds:Signature>",
        id = c.id
    )
}

fn target_of(doc: &Document, c: &Case) -> ElemId {
    doc.by_id(c.id)
        .unwrap_or_else(|| panic!("{}: no element with ID {}", c.name, c.id))
}

/// Our canonical form of the signed element (Signature excluded), and the
/// PrefixList the signature's Reference names.
fn our_c14n(xml: &str, c: &Case) -> String {
    let doc = match parse(xml.as_bytes(), &Limits::MESSAGE) {
        Ok(d) => d,
        Err(e) => return format!("(our parser refused the document: {e})"),
    };
    let t = target_of(&doc, c);
    let sig = doc.children_named(t, ns::DSIG, "Signature").next();
    let incl: Vec<String> = sig
        .into_iter()
        .flat_map(|s| doc.descendants(s).collect::<Vec<_>>())
        .filter(|e| doc.is(*e, ns::EXC_C14N, "InclusiveNamespaces"))
        .filter(|e| {
            // Only the Reference transform's list, not SignedInfo's.
            doc.el(*e)
                .parent
                .is_some_and(|p| doc.is(p, ns::DSIG, "Transform"))
        })
        .flat_map(|e| {
            doc.attr(e, "PrefixList")
                .unwrap_or("")
                .split_whitespace()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    let mut out = Vec::new();
    exc_c14n(&doc, t, sig, &incl, &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// xmlsec1's own view: verification with the pre-digest data of the
/// References printed (`--store-references --print-debug`).
fn xmlsec1_debug(xml: &str, key: &TestKey, c: &Case) -> String {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("cert.pem");
    let input = dir.path().join("in.xml");
    std::fs::write(&cert, &key.cert_pem).unwrap();
    std::fs::write(&input, xml).unwrap();
    let mut cmd = Command::new("xmlsec1");
    cmd.args(["--verify", "--store-references", "--print-debug"]);
    for n in [ASSERTION_NODE, RESPONSE_NODE] {
        cmd.arg("--id-attr:ID").arg(n);
    }
    if c.node != RESPONSE_NODE {
        cmd.arg("--node-xpath")
            .arg("//*[local-name()='Assertion']/*[local-name()='Signature']");
    }
    cmd.arg("--pubkey-cert-pem").arg(&cert).arg(&input);
    match cmd.output() {
        Ok(o) => format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => format!("cannot run xmlsec1: {e}"),
    }
}

fn diagnose(what: &str, xml: &str, key: &TestKey, c: &Case, err: &str) -> String {
    format!(
        "=== {} [{what}]: {err}\n--- document:\n{xml}\n--- our exc-c14n of #{}:\n{}\n--- xmlsec1 --store-references --print-debug:\n{}\n",
        c.name,
        c.id,
        our_c14n(xml, c),
        xmlsec1_debug(xml, key, c)
    )
}

fn tamper(xml: &str, c: &Case) -> String {
    assert_eq!(
        xml.matches(TAMPER_FROM).count(),
        1,
        "{}: the signed text must contain '{TAMPER_FROM}' exactly once",
        c.name
    );
    xml.replacen(TAMPER_FROM, TAMPER_TO, 1)
}

#[test]
fn case_set_covers_the_pitfalls() {
    let cs = cases();
    assert!(cs.len() >= 12, "only {} cases", cs.len());
    let mut names: Vec<&str> = cs.iter().map(|c| c.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), cs.len(), "case names must be unique");
    for c in &cs {
        let src = c.source();
        assert_eq!(src.matches(SIG).count(), 1, "{}: one {SIG}", c.name);
        // Every document is well-formed for us (B re-parses xmlsec1's output).
        let d = parse(src.replace(SIG, "").as_bytes(), &Limits::MESSAGE)
            .unwrap_or_else(|e| panic!("{}: {e}", c.name));
        assert!(d.by_id(c.id).is_some(), "{}", c.name);
        assert_eq!(
            src.matches(TAMPER_FROM).count(),
            1,
            "{}: the signed text must contain '{TAMPER_FROM}' exactly once",
            c.name
        );
    }
    // The CR-bearing case really carries raw CRs.
    assert!(cs.iter().any(|c| c.source().contains("\r\n")));
}

/// Direction A: we sign, libxmlsec1 verifies.
#[test]
fn samlhub_signs_xmlsec1_verifies() {
    let key = signer();
    let ours = trusted(&key);
    let pkey = key.pkey();
    let mut failures = Vec::new();
    let mut runs = 0;
    for c in cases() {
        let src = c.source().replace(SIG, "");
        for incl in c.variants() {
            runs += 1;
            let what = format!("A, PrefixList {incl:?}");
            let opts = SignOptions {
                inclusive_prefixes: incl,
                ..SignOptions::default()
            };
            let signed = match sign_enveloped(&src, c.id, &pkey, &opts) {
                Ok(s) => s,
                Err(e) => {
                    failures.push(format!("=== {} [{what}]: sign_enveloped: {e}", c.name));
                    continue;
                }
            };
            // Our own verifier agrees with our signer.
            let d = parse(signed.as_bytes(), &Limits::MESSAGE).unwrap();
            if let Err(e) =
                verify_enveloped(&d, target_of(&d, &c), std::slice::from_ref(&ours), false)
            {
                failures.push(format!("=== {} [{what}]: our own verify: {e}", c.name));
            }
            if let Err(e) = xmlsec_verify(&signed, &key, &c) {
                failures.push(diagnose(&what, &signed, &key, &c, &e));
                continue;
            }
            let bad = tamper(&signed, &c);
            if xmlsec_verify(&bad, &key, &c).is_ok() {
                failures.push(format!(
                    "=== {} [{what}]: xmlsec1 accepted tampered text:\n{bad}",
                    c.name
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {runs} direction-A runs failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Direction B: libxmlsec1 signs a template, we verify.
#[test]
fn xmlsec1_signs_samlhub_verifies() {
    let key = signer();
    let ours = trusted(&key);
    let mut failures = Vec::new();
    let mut runs = 0;
    for c in cases() {
        for incl in c.variants() {
            runs += 1;
            let what = format!(
                "B, PrefixList {incl:?}, SignedInfo PrefixList {:?}",
                c.si_incl
            );
            let tpl = c.source().replace(SIG, &template(&c, incl));
            let signed = xmlsec1_sign(&tpl, &key.key_pem, &key.cert_pem);
            // The oracle agrees with itself.
            if let Err(e) = xmlsec_verify(&signed, &key, &c) {
                failures.push(format!("=== {} [{what}]: xmlsec1 self-check: {e}", c.name));
                continue;
            }
            let d = match parse(signed.as_bytes(), &Limits::MESSAGE) {
                Ok(d) => d,
                Err(e) => {
                    failures.push(diagnose(&what, &signed, &key, &c, &format!("parse: {e}")));
                    continue;
                }
            };
            let t = target_of(&d, &c);
            if let Err(e) = verify_enveloped(&d, t, std::slice::from_ref(&ours), false) {
                failures.push(diagnose(
                    &what,
                    &signed,
                    &key,
                    &c,
                    &format!("verify_enveloped: {e}"),
                ));
                continue;
            }
            let bad = tamper(&signed, &c);
            let d = parse(bad.as_bytes(), &Limits::MESSAGE).unwrap();
            let t = target_of(&d, &c);
            match verify_enveloped(&d, t, std::slice::from_ref(&ours), false) {
                Err(DsigError::DigestMismatch) => {}
                other => failures.push(format!(
                    "=== {} [{what}]: tampered document gave {other:?}, want DigestMismatch",
                    c.name
                )),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {runs} direction-B runs failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// A validly signed element whose canonical form amplifies (one long
/// namespace re-declared on every child) is refused on the c14n budget, not
/// canonicalised to megabytes: the SignedInfo signature alone does not vouch
/// for the cost of the referenced content, since an attacker can replay a
/// genuine SignedInfo over crafted content.
#[test]
fn amplifying_signed_content_is_refused_on_the_c14n_budget() {
    use samlhub::saml::dsig::{verify_enveloped, DsigError, TrustedKey};
    use samlhub::saml::sign::{sign_enveloped, SignOptions};
    use samlhub::xml::{parse, Limits};
    let k = openssl::pkey::PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap();
    let t = TrustedKey::new(
        openssl::pkey::PKey::public_key_from_pem(&k.public_key_to_pem().unwrap()).unwrap(),
    )
    .unwrap();
    let uri = format!("urn:{}", "u".repeat(4000));
    let doc = format!(
        r#"<w xmlns:p="{uri}"><saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_amp"><saml:Issuer>idp</saml:Issuer>{}</saml:Assertion></w>"#,
        "<p:x/>".repeat(2000)
    );
    let signed = sign_enveloped(&doc, "_amp", &k, &SignOptions::default()).unwrap();
    let d = parse(signed.as_bytes(), &Limits::MESSAGE).unwrap();
    let a = d.by_id("_amp").unwrap();
    match verify_enveloped(&d, a, std::slice::from_ref(&t), false) {
        Err(DsigError::Structure(m)) => assert!(m.contains("exceeds"), "{m}"),
        other => panic!("expected the c14n budget to refuse it, got {other:?}"),
    }
}
