//! Unit tests of the tokenizer (`xml::lex`): its tokens, its refusals, and
//! a differential run against quick-xml over mutated SAML documents.

use super::*;
use crate::xml::lex_diff::{compare, tokens, Agreement, Tok};

/// A token as one line: `<name a=v/>`, `End { name: "n" }`, or the rest.
fn show(t: &Tok) -> String {
    match t {
        Tok::Start { name, attrs, empty } => {
            let attrs: String = attrs.iter().map(|(k, v)| format!(" {k}={v}")).collect();
            let slash = if *empty { "/" } else { "" };
            format!("<{name}{attrs}{slash}>")
        }
        Tok::End(name) => format!("End {{ name: {name:?} }}"),
        Tok::Text(t) => format!("Text({t:?})"),
        Tok::Other(s) => s.clone(),
    }
}

fn shown(s: &str) -> Result<Vec<String>, XmlError> {
    Ok(tokens(s)?.iter().map(show).collect())
}

#[test]
fn splits_markup_and_text() {
    let src = "<?xml version='1.0' encoding=\"UTF-8\"?>\n<p:a  x = '1'\ty=\"2>'\"\n>t&amp;u<!-- c --><![CDATA[<d>]]><b/></p:a >";
    assert_eq!(
        shown(src).unwrap(),
        [
            "Decl { encoding: Some(\"UTF-8\") }",
            "Text(\"\\n\")",
            "<p:a x=1 y=2>'>",
            "Text(\"t\")",
            "Ref(\"amp\")",
            "Text(\"u\")",
            "Comment",
            "CData(\"<d>\")",
            "<b/>",
            "End { name: \"p:a\" }",
        ]
    );
    assert_eq!(shown("<?xml?><a/>").unwrap()[0], "Decl { encoding: None }");
    assert_eq!(shown("<?xml-x?>").unwrap(), ["Pi"]);
    assert_eq!(shown("<!doctype a>").unwrap(), ["DocType"]);
}

#[test]
fn refuses_what_is_not_a_token() {
    for bad in [
        "<",
        "<a",
        "<a b='1'",
        "<a b>",
        "<a b=1>",
        "<a b='1>",
        "<a b='1'c='2'>",
        "<a/ >",
        "</a",
        "<!-- x",
        "<!-- a -- b -->",
        "<!-- a --->",
        "<![CDATA[x",
        "<!ELEMENT a>",
        "<?pi",
        "a &amp b",
        "&x<a/>;",
        "<?xml version='1' version='1'?>",
        "<?xml version='1'encoding='x'?>",
        "<?xml ='UTF-8'?><a/>",
        "<?xml version='1.0' charset='UTF-8'?><a/>",
    ] {
        assert!(
            matches!(tokens(bad), Err(XmlError::Malformed { .. })),
            "{bad}: {:?}",
            tokens(bad)
        );
    }
    let many: String = (0..5).map(|i| format!(" a{i}='1'")).collect();
    assert_eq!(
        Lexer::new(&format!("<a{many}/>"), 4).next(),
        Err(XmlError::TooManyAttributes(4))
    );
}

/// The parser removes one byte-order mark before the tokenizer sees the
/// text, and quick-xml drops one itself: a second one is a character
/// before the root to both (found by the `xml_lex_diff` fuzz target).
#[test]
fn byte_order_marks_compare_as_the_parser_sees_them() {
    assert_eq!(compare("\u{feff}ow\u{8}`/1p:]>"), Ok(Agreement::Alike));
    assert_eq!(compare("\u{feff}<a/>"), Ok(Agreement::Alike));
    assert_eq!(compare("\u{feff}\u{feff}x<a/>"), Ok(Agreement::Alike));
    assert_eq!(
        compare("\u{feff}\u{feff}<?xml version='1.0'?><a/>"),
        Ok(Agreement::BothRefused)
    );
}

/// A small deterministic generator, so a failure names its input.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

#[test]
fn agrees_with_quick_xml_on_mutated_documents() {
    let seeds = [
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"_8e8dc5f69a98cc4c1ff3427e5ce34606fd672f91e6\" Version=\"2.0\" IssueInstant=\"2014-07-17T01:01:48Z\"><saml:Issuer>http://idp.example.com/metadata.php</saml:Issuer><samlp:Status><samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:Success\"/></samlp:Status><saml:Assertion ID='_d71a3a8e9fcc45c9e9d248ef7049393fc8f04e5f75' Version='2.0'><saml:Subject><saml:NameID SPNameQualifier=\"http://sp.example.com/demo1/metadata.php\">_ce3d2948b4cf20146dee0a0b3dd6f69b6cf86f62d7</saml:NameID></saml:Subject><saml:AttributeValue xsi:type=\"xs:string\">a&amp;b &#x41;&#65; c</saml:AttributeValue></saml:Assertion></samlp:Response>",
        "<a\n  b = 'x' c=\"y\"\t/><!-- note --><![CDATA[ <x> ]]>",
        "<r><?xml x?><!DOCTYPE r><!-- - --><e a='&lt;'/>tail&#10;</r>",
    ];
    // Bytes that change how markup reads.
    let alphabet: &[&str] = &[
        "<",
        ">",
        "/",
        "=",
        "'",
        "\"",
        " ",
        "\n",
        "&",
        ";",
        "!",
        "?",
        "-",
        "[",
        "]",
        "x",
        ":",
        "<!--",
        "-->",
        "<![CDATA[",
        "]]>",
        "<?",
        "?>",
        "</",
        "/>",
        "&amp;",
        "\u{e9}",
    ];
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (mut both_ok, mut both_refused, mut stricter) = (0, 0, 0);
    for round in 0..30_000 {
        let seed = seeds[round % seeds.len()];
        let mut s = seed.to_owned();
        for _ in 0..1 + rng.below(3) {
            let mut at = rng.below(s.len() + 1);
            while !s.is_char_boundary(at) {
                at -= 1;
            }
            let mut to = (at + rng.below(4)).min(s.len());
            while !s.is_char_boundary(to) {
                to -= 1;
            }
            let with = if rng.below(3) == 0 {
                ""
            } else {
                alphabet[rng.below(alphabet.len())]
            };
            s.replace_range(at..to, with);
        }
        match compare(&s) {
            Ok(Agreement::Alike) => both_ok += 1,
            Ok(Agreement::BothRefused) => both_refused += 1,
            Ok(Agreement::Stricter) => stricter += 1,
            Err(e) => panic!("{e}: {s}"),
        }
    }
    // The mutations must exercise all three outcomes.
    assert!(both_ok > 1_000 && both_refused > 1_000 && stricter > 10);
}
