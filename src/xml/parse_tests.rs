//! Unit tests of the parser (`xml::parse`): the strict profile's refusals,
//! names and namespaces, and values read back from the source.

use super::*;

fn p(s: &str) -> Result<Document, XmlError> {
    parse(s.as_bytes(), &Limits::MESSAGE)
}

#[test]
fn lenient_ids_accept_non_ncnames_and_stay_unique() {
    let digit = b"<a><b ID='1abc'/></a>";
    assert_eq!(parse(digit, &Limits::MESSAGE).unwrap_err(), XmlError::BadId);
    let d = parse_with(digit, &Limits::MESSAGE, IdSyntax::Lenient).unwrap();
    assert!(d.by_id("1abc").is_some());
    let lenient = |s: &str| parse_with(s.as_bytes(), &Limits::MESSAGE, IdSyntax::Lenient);
    assert_eq!(
        lenient("<a><b ID='1x'/><c ID='1x'/></a>").unwrap_err(),
        XmlError::DuplicateId("1x".into())
    );
    assert_eq!(lenient("<a ID=''/>").unwrap_err(), XmlError::BadId);
    assert_eq!(lenient("<a ID='1 x'/>").unwrap_err(), XmlError::BadId);
    assert_eq!(lenient("<a ID='1&#9;x'/>").unwrap_err(), XmlError::BadId);
}

#[test]
fn refuses_doctype_and_entities() {
    assert_eq!(
        p("<!DOCTYPE a [<!ENTITY x 'y'>]><a>&x;</a>").unwrap_err(),
        XmlError::Doctype
    );
    assert!(matches!(
        p("<a>&x;</a>").unwrap_err(),
        XmlError::EntityReference(_)
    ));
    assert_eq!(
        p("<?xml-stylesheet href='x'?><a/>").unwrap_err(),
        XmlError::ProcessingInstruction
    );
    assert!(matches!(
        p("<a b='&x;'/>").unwrap_err(),
        XmlError::EntityReference(_)
    ));
}

#[test]
fn resolves_predefined_and_char_refs() {
    let d = p("<a b='x&#9;y&#xA;z&amp;'>1&lt;2&#x41;</a>").unwrap();
    assert_eq!(d.attr(d.root(), "b"), Some("x\ty\nz&"));
    assert_eq!(d.text(d.root()), "1<2A");
}

#[test]
fn normalizes_attribute_whitespace_and_line_ends() {
    let d = p("<a b='x\r\ny\tz\nw'>l1\r\nl2\rl3</a>").unwrap();
    assert_eq!(d.attr(d.root(), "b"), Some("x y z w"));
    assert_eq!(d.text(d.root()), "l1\nl2\nl3");
}

#[test]
fn comment_split_text_reads_whole() {
    let d = p("<a>user@x.org<!-- c -->.evil.com</a>").unwrap();
    assert_eq!(d.text(d.root()), "user@x.org.evil.com");
}

#[test]
fn text_is_read_from_the_source_or_merged_into_a_copy() {
    use std::borrow::Cow;
    // Plain text is its own normal form: borrowed, not copied.
    let d = p("<a>plain text</a>").unwrap();
    assert!(matches!(d.text(d.root()), Cow::Borrowed("plain text")));
    // A CDATA section, a reference and a comment merge into one text, and
    // the text on either side of a child element is joined.
    let d = p("<a>x<![CDATA[<y>]]>&amp;<!-- c -->z<b>in</b>tail\r\nend</a>").unwrap();
    assert_eq!(d.text(d.root()), "x<y>&ztail\nend");
    let b = d.children(d.root()).next().unwrap();
    assert!(matches!(d.text(b), Cow::Borrowed("in")));
    assert_eq!(p("<a/>").unwrap().text(ElemId(0)), "");
}

#[test]
fn resolves_namespaces_and_refuses_unbound() {
    let d = p("<p:a xmlns:p='urn:p' xmlns='urn:d'><b p:c='1'/></p:a>").unwrap();
    let b = d.children(d.root()).next().unwrap();
    assert!(d.is(d.root(), "urn:p", "a"));
    assert!(d.is(b, "urn:d", "b"));
    assert_eq!(d.attr_ns(b, "urn:p", "c"), Some("1"));
    assert!(matches!(
        p("<q:a/>").unwrap_err(),
        XmlError::UnboundPrefix(_)
    ));
    assert!(matches!(
        p("<a xmlns:p='urn:x' xmlns:q='urn:x' p:b='1' q:b='2'/>").unwrap_err(),
        XmlError::DuplicateAttribute(_)
    ));
    // By qualified name, namespace declarations included (XML 1.0 §3.1).
    for twice in [
        "<a b='1' b='2'/>",
        "<a xmlns:p='urn:x' p:b='1' p:b='1'/>",
        "<a xmlns:p='urn:x' xmlns:p='urn:y'/>",
        "<a xmlns='urn:x' c='1' xmlns='urn:x'/>",
    ] {
        assert!(
            matches!(p(twice).unwrap_err(), XmlError::DuplicateAttribute(_)),
            "{twice}"
        );
    }
    assert!(matches!(
        p("<a xmlns:p=''/>").unwrap_err(),
        XmlError::BadNamespace(_)
    ));
}

/// A binding is in scope from its element to that element's end, the
/// nearest one wins, and prefixes longer than a packed key are told apart
/// by their bytes.
#[test]
fn namespace_bindings_follow_element_scope() {
    let d = p(concat!(
        "<r xmlns='urn:d0' xmlns:p='urn:p0' xmlns:longprefix1='urn:l1' xmlns:longprefix2='urn:l2'>",
        "<p:e xmlns:p='urn:p1'><p:f/><g xmlns=''/><h/></p:e>",
        "<p:i/><longprefix1:j longprefix2:k='v'/>",
        "<m xmlns:longprefix1='urn:l3'><longprefix1:n/></m><longprefix1:o/>",
        "</r>"
    ))
    .unwrap();
    let all: Vec<(String, String)> = d
        .all()
        .map(|e| (d.local(e).to_owned(), d.ns(e).to_owned()))
        .collect();
    let want = [
        ("r", "urn:d0"),
        ("e", "urn:p1"),
        ("f", "urn:p1"),
        ("g", ""),
        ("h", "urn:d0"),
        ("i", "urn:p0"),
        ("j", "urn:l1"),
        ("m", "urn:d0"),
        ("n", "urn:l3"),
        ("o", "urn:l1"),
    ];
    let got: Vec<(&str, &str)> = all.iter().map(|(l, n)| (l.as_str(), n.as_str())).collect();
    assert_eq!(got, want);
    let j = d.all().find(|e| d.local(*e) == "j").unwrap();
    assert_eq!(d.attr_ns(j, "urn:l2", "k"), Some("v"));
    // Out of scope after the element that declared it, empty or not.
    for unbound in [
        "<r><a xmlns:q='urn:q'/><q:b/></r>",
        "<r><a xmlns:q='urn:q'></a><q:b/></r>",
        "<r><a xmlns:longprefix1='urn:q'/><longprefix1:b/></r>",
        "<r xmlns:longprefix1='urn:q'><longprefix2:b/></r>",
    ] {
        assert!(
            matches!(p(unbound).unwrap_err(), XmlError::UnboundPrefix(_)),
            "{unbound}"
        );
    }
}

#[test]
fn fast_paths_agree_with_the_character_rules() {
    // Names: ASCII by byte, the rest by class.
    assert!(p("<a-b.c_1/>").is_ok());
    assert!(p("<\u{E9}t\u{E9}/>").is_ok());
    for bad in ["<1a/>", "<-a/>", "<.a/>", "<a b\u{B7}='1' 1c='2'/>"] {
        assert!(
            matches!(
                p(bad).unwrap_err(),
                XmlError::BadName(_) | XmlError::Malformed { .. }
            ),
            "{bad}"
        );
    }
    // Attribute values: control characters are still refused, and
    // anything that is not plain ASCII still goes through normalisation.
    assert_eq!(p("<a b='x\u{1}'/>").unwrap_err(), XmlError::BadChar(1));
    let d = p("<a b='\u{E9}&amp;\u{E9}\u{9}!'/>").unwrap();
    assert_eq!(d.attr(d.root(), "b"), Some("\u{E9}&\u{E9} !"));
}

/// Plain values are read from the source by offset (after a BOM, which
/// shifts every offset), the others from their normalised copy.
#[test]
fn attribute_values_read_back_from_source_or_copy() {
    let d = p("\u{FEFF}<p:a xmlns:p='urn:p' x='plain' p:y='t&amp;u' z='a\tb' ID='_i'/>").unwrap();
    let r = d.root();
    assert_eq!(d.attr(r, "x"), Some("plain"));
    assert_eq!(d.attr_ns(r, "urn:p", "y"), Some("t&u"));
    assert_eq!(d.attr(r, "z"), Some("a b"));
    assert_eq!(d.by_id("_i"), Some(r));
    let kept: Vec<bool> = d
        .attributes_of(r)
        .iter()
        .map(|a| matches!(a.value, Value::Source { .. }))
        .collect();
    assert_eq!(kept, [true, false, false, true]);
}

#[test]
fn refuses_duplicate_and_bad_ids() {
    assert!(matches!(
        p("<a ID='x'><b ID='x'/></a>").unwrap_err(),
        XmlError::DuplicateId(_)
    ));
    assert_eq!(p("<a ID='1x'/>").unwrap_err(), XmlError::BadId);
    let d = p("<a ID='_x'><b ID='y'/></a>").unwrap();
    assert_eq!(
        d.by_id("y").map(|e| d.local(e).to_owned()),
        Some("b".into())
    );
}

#[test]
fn enforces_limits() {
    let deep = "<a>".repeat(40) + &"</a>".repeat(40);
    assert_eq!(p(&deep).unwrap_err(), XmlError::TooDeep(32));
    let big = format!("<a>{}</a>", "x".repeat(300 * 1024));
    assert!(matches!(p(&big).unwrap_err(), XmlError::TooLarge { .. }));
    let attrs: String = (0..70).map(|i| format!(" a{i}='1'")).collect();
    assert_eq!(
        p(&format!("<a{attrs}/>")).unwrap_err(),
        XmlError::TooManyAttributes(64)
    );
}

#[test]
fn refuses_malformed_and_trailing() {
    assert!(p("<a><b></a>").is_err());
    assert!(p("<a>").is_err());
    assert_eq!(p("<a/><b/>").unwrap_err(), XmlError::TrailingContent);
    assert!(p("<a/>x").is_err());
    assert_eq!(p("").unwrap_err(), XmlError::NoRoot);
    assert!(matches!(
        p("<a>\u{1}</a>").unwrap_err(),
        XmlError::BadChar(1)
    ));
    assert_eq!(
        p("<a>\u{FF}</a>").map(|d| d.text(d.root()).into_owned()),
        Ok("\u{FF}".into())
    );
    assert_eq!(
        parse(b"<a>\xff</a>", &Limits::MESSAGE).unwrap_err(),
        XmlError::InvalidUtf8
    );
    assert!(matches!(
        p("<?xml version='1.0' encoding='ISO-8859-1'?><a/>").unwrap_err(),
        XmlError::Encoding(_)
    ));
    assert!(p("\u{FEFF}<?xml version='1.0' encoding='UTF-8'?><a/>").is_ok());
}

#[test]
fn spans_cover_elements() {
    let src = "<a><b x='1'>t</b><c/></a>";
    let d = p(src).unwrap();
    let kids: Vec<_> = d.children(d.root()).collect();
    let b = d.el(kids[0]).span;
    assert_eq!(&src[b.start..b.end], "<b x='1'>t</b>");
    assert_eq!(&src[b.start..b.start_tag_end], "<b x='1'>");
    let c = d.el(kids[1]).span;
    assert_eq!(&src[c.start..c.end], "<c/>");
    assert_eq!(d.descendants(d.root()).count(), 2);
}

#[test]
fn children_stay_with_their_parents_in_order() {
    use crate::xml::tree::Child;
    let d = p("<a>x<b>y<c/>z<e>1</e></b>w<!--c-->v<d>2</d>u</a>").unwrap();
    let shape = |id| -> Vec<String> {
        d.child_nodes(id)
            .iter()
            .map(|c| match c {
                Child::Text(t) => format!("'{}'", d.text_of(t)),
                Child::Element(e) => d.local(*e).to_owned(),
            })
            .collect()
    };
    let a = d.root();
    assert_eq!(shape(a), ["'x'", "b", "'wv'", "d", "'u'"]);
    let b = d.child(a, "", "b").unwrap();
    assert_eq!(shape(b), ["'y'", "c", "'z'", "e"]);
    let c = d.child(b, "", "c").unwrap();
    assert!(shape(c).is_empty());
    assert_eq!(d.text(d.child(b, "", "e").unwrap()), "1");
    assert_eq!(d.text(a), "xwvu");
    assert_eq!(d.el(c).parent, Some(b));
}

/// Namespace URIs are interned by a linear search up to
/// `LINEAR_NAMESPACES`, then through a map built at that point: either way
/// one URI has one id, which the expanded-name duplicate check relies on.
#[test]
fn one_uri_one_namespace_past_the_linear_search() {
    let declared: String = (0..40)
        .map(|i| format!("<e{i} xmlns='urn:n{i}'/>"))
        .collect();
    for (a, b, twice) in [("urn:n3", "urn:n3", true), ("urn:n3", "urn:n39", false)] {
        for (at, uri) in [(0, "urn:n0"), (39, "urn:n39")] {
            let src = format!(
                "<r>{declared}<x xmlns:a='{a}' xmlns:b='{b}' a:k='1' b:k='2'/><e{at} xmlns='{uri}'/></r>"
            );
            match p(&src) {
                Ok(d) => {
                    assert!(!twice, "{a} {b}: the same expanded name twice");
                    let last = d.children(d.root()).last().unwrap();
                    assert!(d.is(last, uri, &format!("e{at}")));
                }
                Err(e) => assert!(
                    twice && matches!(e, XmlError::DuplicateAttribute(_)),
                    "{a} {b}: {e:?}"
                ),
            }
        }
    }
}

/// The block-wise byte tests give the per-byte answer wherever the one
/// byte that fails sits: in a block, at a block's edge, or in the tail.
#[test]
fn blockwise_byte_checks_find_a_bad_byte_anywhere() {
    let per_byte_text = |s: &str| {
        s.bytes()
            .all(|b| (0x20..0x7f).contains(&b) || b == b'\n' || b == b'\t')
    };
    let per_byte_attr = |s: &str| {
        s.bytes()
            .all(|b| (0x20..0x7f).contains(&b) && b != b'&' && b != b'<')
    };
    for len in 0..100 {
        let plain = "a".repeat(len);
        assert!(text_is_normal(&plain) && normalize_attr(&plain) == Ok(None));
        for at in 0..len {
            for odd in ['\r', '\n', '\t', '&', '<', '\u{7f}', '\u{1}', '\u{e9}'] {
                let mut s = "a".repeat(at);
                s.push(odd);
                s.push_str(&"a".repeat(len - at - 1));
                assert_eq!(text_is_normal(&s), per_byte_text(&s), "{len} {at} {odd:?}");
                let fast = all_bytes(&s, |b| {
                    (0x20..0x7f).contains(&b) & (b != b'&') & (b != b'<')
                });
                assert_eq!(fast, per_byte_attr(&s), "{len} {at} {odd:?}");
            }
        }
    }
}
