//! What the verified Assertion says about the person: the NameID and the
//! attributes, read under the interop rules (`docs/security.md`, "What an
//! assertion says"). Only [`super::response`] calls this, on the Assertion
//! node a verified signature covers.
//!
//! - Text of NameID and AttributeValue is trimmed of XML whitespace (space,
//!   tab, CR, LF; XML 1.0 §2.3) at both ends; inner whitespace is kept.
//! - A NameID empty after trimming is refused (SAML Core §1.3.1: strings hold
//!   at least one non-whitespace character). An AttributeValue empty after
//!   trimming is dropped: attribute values are xs:anyType, and an empty one
//!   says nothing.
//! - SPNameQualifier, when present, must be our entityID (SAML Core §2.2.2,
//!   §8.3.7): a NameID qualified for another SP is not ours to use.
//! - An Attribute Name twice in one AttributeStatement is refused, not merged
//!   (SAML Core §2.7.3.1: one Attribute element carries all of a name's
//!   values). Statements are merged by Name, as before.
//! - A SAML 1.x message is named as such (its namespace), so the fix is clear.

use super::response::ResponseError;
use crate::xml::{ns, Document, ElemId};
use std::collections::{BTreeMap, BTreeSet};

/// SAML 1.0/1.1 namespaces (SAML 1.1 Core §2.1, §3.1 use the 1.0 URIs).
pub const SAML1_NAMESPACES: &[&str] = &[
    "urn:oasis:names:tc:SAML:1.0:protocol",
    "urn:oasis:names:tc:SAML:1.0:assertion",
];

/// Trims XML whitespace (XML 1.0 §2.3 `S`) from both ends.
pub fn xml_trim(s: &str) -> &str {
    s.trim_matches([' ', '\t', '\r', '\n'])
}

/// The SAML 1.x namespace of the root or of one of its children, if any.
pub fn saml1_namespace(doc: &Document) -> Option<&'static str> {
    let root = doc.root();
    std::iter::once(root)
        .chain(doc.children(root))
        .find_map(|e| SAML1_NAMESPACES.iter().copied().find(|n| doc.ns(e) == *n))
}

/// The Subject's NameID: its trimmed value and Format. `None` when the
/// Subject has no NameID (ADFS may send none; a subject attribute then
/// names the person).
pub fn name_id(
    doc: &Document,
    subject: ElemId,
    sp_entity_id: Option<&str>,
) -> Result<Option<(String, Option<String>)>, ResponseError> {
    let Some(n) = doc.child(subject, ns::SAML, "NameID") else {
        return Ok(None);
    };
    if let (Some(found), Some(sp)) = (doc.attr(n, "SPNameQualifier"), sp_entity_id) {
        if found != sp {
            return Err(ResponseError::SpNameQualifier {
                found: found.chars().take(200).collect(),
                expected: sp.to_owned(),
            });
        }
    }
    let text = doc.text(n);
    let value = xml_trim(&text);
    if value.is_empty() {
        return Err(ResponseError::EmptyNameId);
    }
    Ok(Some((
        value.to_owned(),
        doc.attr(n, "Format").map(str::to_owned),
    )))
}

/// Every attribute of the Assertion's AttributeStatements, by Name.
pub fn attributes(
    doc: &Document,
    assertion: ElemId,
) -> Result<BTreeMap<String, Vec<String>>, ResponseError> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for st in doc.children_named(assertion, ns::SAML, "AttributeStatement") {
        let mut seen = BTreeSet::new();
        for a in doc.children_named(st, ns::SAML, "Attribute") {
            let Some(name) = doc.attr(a, "Name") else {
                continue;
            };
            if !seen.insert(name) {
                return Err(ResponseError::DuplicateAttribute(
                    name.chars().take(200).collect(),
                ));
            }
            let vals = out.entry(name.to_owned()).or_default();
            for v in doc.children_named(a, ns::SAML, "AttributeValue") {
                // Only simple (text) values; structured values are skipped.
                if doc.has_element_children(v) || doc.attr_ns(v, ns::XSI, "nil") == Some("true") {
                    continue;
                }
                let text = doc.text(v);
                let value = xml_trim(&text);
                if !value.is_empty() {
                    vals.push(value.to_owned());
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::{parse, Limits};

    const HEAD: &str = "<saml:Assertion xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" ID=\"_a\">";
    const SP: &str = "https://sp.example.org/saml/metadata";

    fn doc(body: &str) -> Document {
        parse(
            format!("{HEAD}{body}</saml:Assertion>").as_bytes(),
            &Limits::MESSAGE,
        )
        .unwrap()
    }

    fn nid(body: &str) -> Result<Option<(String, Option<String>)>, ResponseError> {
        let d = doc(&format!("<saml:Subject>{body}</saml:Subject>"));
        let subject = d.child(d.root(), ns::SAML, "Subject").unwrap();
        name_id(&d, subject, Some(SP))
    }

    fn attrs(body: &str) -> Result<BTreeMap<String, Vec<String>>, ResponseError> {
        let d = doc(body);
        attributes(&d, d.root())
    }

    #[test]
    fn sp_name_qualifier_must_be_our_entity_id() {
        let ours = format!("<saml:NameID SPNameQualifier=\"{SP}\">alice</saml:NameID>");
        assert_eq!(nid(&ours).unwrap().unwrap().0, "alice");
        let theirs =
            "<saml:NameID SPNameQualifier=\"https://other.example/sp\">alice</saml:NameID>";
        assert!(matches!(
            nid(theirs).unwrap_err(),
            ResponseError::SpNameQualifier { found, .. } if found == "https://other.example/sp"
        ));
        // Absent: nothing to compare. Unchecked (inspect without --audience): not compared.
        assert!(nid("<saml:NameID>alice</saml:NameID>").is_ok());
        let d = doc(&format!("<saml:Subject>{theirs}</saml:Subject>"));
        let subject = d.child(d.root(), ns::SAML, "Subject").unwrap();
        assert!(name_id(&d, subject, None).is_ok());
    }

    #[test]
    fn name_id_is_trimmed_and_must_not_be_blank() {
        let (v, f) = nid("<saml:NameID Format=\"urn:x\">\n\t alice smith \r\n</saml:NameID>")
            .unwrap()
            .unwrap();
        assert_eq!(v, "alice smith");
        assert_eq!(f.as_deref(), Some("urn:x"));
        assert_eq!(
            nid("<saml:NameID> \n\t</saml:NameID>").unwrap_err(),
            ResponseError::EmptyNameId
        );
        assert_eq!(
            nid("<saml:NameID/>").unwrap_err(),
            ResponseError::EmptyNameId
        );
        // A non-breaking space is not XML whitespace: kept.
        assert_eq!(
            nid("<saml:NameID>\u{a0}bob</saml:NameID>")
                .unwrap()
                .unwrap()
                .0,
            "\u{a0}bob"
        );
        assert_eq!(nid("").unwrap(), None);
    }

    #[test]
    fn attribute_values_are_trimmed_and_blank_ones_dropped() {
        let a = attrs(
            "<saml:AttributeStatement><saml:Attribute Name=\"groups\">\
             <saml:AttributeValue> admins\n</saml:AttributeValue>\
             <saml:AttributeValue>  </saml:AttributeValue>\
             <saml:AttributeValue/>\
             <saml:AttributeValue xsi:nil=\"true\"/>\
             <saml:AttributeValue>two words</saml:AttributeValue>\
             </saml:Attribute></saml:AttributeStatement>",
        )
        .unwrap();
        assert_eq!(a["groups"], vec!["admins", "two words"]);
    }

    #[test]
    fn an_attribute_named_twice_in_one_statement_is_refused() {
        let twice = "<saml:AttributeStatement>\
             <saml:Attribute Name=\"groups\"><saml:AttributeValue>users</saml:AttributeValue></saml:Attribute>\
             <saml:Attribute Name=\"mail\"><saml:AttributeValue>a@example.org</saml:AttributeValue></saml:Attribute>\
             <saml:Attribute Name=\"groups\"><saml:AttributeValue>admins</saml:AttributeValue></saml:Attribute>\
             </saml:AttributeStatement>";
        assert_eq!(
            attrs(twice).unwrap_err(),
            ResponseError::DuplicateAttribute("groups".into())
        );
        // In two statements, the values are merged by Name.
        let split = "<saml:AttributeStatement><saml:Attribute Name=\"groups\"><saml:AttributeValue>users</saml:AttributeValue></saml:Attribute></saml:AttributeStatement>\
             <saml:AttributeStatement><saml:Attribute Name=\"groups\"><saml:AttributeValue>admins</saml:AttributeValue></saml:Attribute></saml:AttributeStatement>";
        assert_eq!(attrs(split).unwrap()["groups"], vec!["users", "admins"]);
    }

    #[test]
    fn saml1_messages_are_recognised() {
        let p1 = "<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:1.0:protocol\" ResponseID=\"_r\"/>";
        let d = parse(p1.as_bytes(), &Limits::MESSAGE).unwrap();
        assert_eq!(saml1_namespace(&d), Some(SAML1_NAMESPACES[0]));
        let a1 = "<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\"><saml:Assertion xmlns:saml=\"urn:oasis:names:tc:SAML:1.0:assertion\"/></samlp:Response>";
        let d = parse(a1.as_bytes(), &Limits::MESSAGE).unwrap();
        assert_eq!(saml1_namespace(&d), Some(SAML1_NAMESPACES[1]));
        let d = doc("");
        assert_eq!(saml1_namespace(&d), None);
    }
}
