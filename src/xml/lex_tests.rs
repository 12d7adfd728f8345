//! Unit tests of the tokenizer (`xml::lex`): its tokens, its refusals, and
//! a differential run against quick-xml over mutated SAML documents.

use super::*;
use crate::xml::names::split_ascii_qname;

/// A token in a form both tokenizers' output can be compared in.
#[derive(Debug, PartialEq, Eq)]
enum Tok {
    Start {
        name: String,
        attrs: Vec<(String, String)>,
        empty: bool,
    },
    End(String),
    /// Every other token, as its `Debug` form.
    Other(String),
}

/// A token as one line: `<name a=v/>`, `End { name: "n" }`, or the rest.
fn show(t: &Tok) -> String {
    match t {
        Tok::Start { name, attrs, empty } => {
            let attrs: String = attrs.iter().map(|(k, v)| format!(" {k}={v}")).collect();
            let slash = if *empty { "/" } else { "" };
            format!("<{name}{attrs}{slash}>")
        }
        Tok::End(name) => format!("End {{ name: {name:?} }}"),
        Tok::Other(s) => s.clone(),
    }
}

/// Every token of `s`, up to the first DOCTYPE or processing instruction
/// (the parser refuses both, so nothing after them is read), or the first
/// refusal. Checks each name's verdict on the way.
fn tokens(s: &str) -> Result<Vec<Tok>, XmlError> {
    let mut lx = Lexer::new(s, 64);
    let mut out = Vec::new();
    let named = |n: NameAt| {
        let text = &s[n.start..n.end];
        assert_eq!(n.verdict, split_ascii_qname(text.as_bytes()), "{text}");
        text.to_owned()
    };
    loop {
        let t = lx.next()?;
        out.push(match t {
            Token::Start { name, empty } => Tok::Start {
                name: named(name),
                attrs: lx
                    .attrs()
                    .iter()
                    .map(|a| (named(a.name), s[a.value.0..a.value.1].to_owned()))
                    .collect(),
                empty,
            },
            Token::End { name } => Tok::End(name.to_owned()),
            Token::Eof => return Ok(out),
            Token::DocType | Token::Pi => {
                out.push(Tok::Other(format!("{t:?}")));
                return Ok(out);
            }
            other => Tok::Other(format!("{other:?}")),
        });
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

/// quick-xml's tokens for `s`, configured as the parser had it, in the form
/// of [`tokens`], up to the first DOCTYPE or processing instruction (which
/// the parser refuses, so their content is never read); `Err` when it
/// refuses the input.
fn reference_tokens(s: &str) -> Result<Vec<Tok>, String> {
    use quick_xml::events::Event;
    let mut r = quick_xml::Reader::from_str(s);
    let cfg = r.config_mut();
    cfg.check_end_names = true;
    cfg.check_comments = true;
    cfg.expand_empty_elements = false;
    cfg.trim_text(false);
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let mut out = Vec::new();
    loop {
        let ev = r.read_event().map_err(|e| e.to_string())?;
        let other = |s: String| Tok::Other(s);
        out.push(match ev {
            Event::Start(ref t) | Event::Empty(ref t) => {
                let mut attrs = Vec::new();
                for a in t.attributes().with_checks(false) {
                    let a = a.map_err(|e| e.to_string())?;
                    attrs.push((text(a.key.as_ref()), text(&a.value)));
                }
                Tok::Start {
                    name: text(t.name().as_ref()),
                    attrs,
                    empty: matches!(ev, Event::Empty(_)),
                }
            }
            Event::End(t) => Tok::End(text(t.name().as_ref())),
            Event::Text(t) => other(format!("Text({:?})", text(&t))),
            Event::GeneralRef(t) => other(format!("Ref({:?})", text(&t))),
            Event::CData(t) => other(format!("CData({:?})", text(&t))),
            Event::Comment(_) => other("Comment".into()),
            Event::Decl(d) => {
                let enc = d.encoding().transpose().map_err(|e| e.to_string())?;
                other(format!("Decl {{ encoding: {:?} }}", enc.map(|e| text(&e))))
            }
            Event::DocType(_) => {
                out.push(other("DocType".into()));
                return Ok(out);
            }
            Event::PI(_) => {
                out.push(other("Pi".into()));
                return Ok(out);
            }
            Event::Eof => return Ok(out),
        });
    }
}

/// Ours, with what the parser adds at this level: names are QNames, and
/// end tags match start tags. Cut at the first DOCTYPE or processing
/// instruction, as the reference is.
fn checked_tokens(s: &str) -> Result<Vec<Tok>, XmlError> {
    checked(tokens(s)?)
}

/// [`checked_tokens`] over a list of tokens from either tokenizer.
fn checked(tokens: Vec<Tok>) -> Result<Vec<Tok>, XmlError> {
    let bad = |what: &str| XmlError::BadName(what.to_owned());
    let is_qname = |n: &str| crate::xml::names::split_qname(n).is_some();
    let mut open: Vec<String> = Vec::new();
    let mut out = Vec::new();
    for t in tokens {
        match &t {
            Tok::Other(s) if s.starts_with("Decl") && !out.is_empty() => {
                return Err(bad("a late XML declaration"));
            }
            // The parser refuses both.
            Tok::Other(s) if s == "DocType" || s == "Pi" => return Err(bad(s)),
            Tok::Other(_) => {}
            Tok::End(name) => {
                if open.pop().as_ref() != Some(name) {
                    return Err(bad(name));
                }
            }
            Tok::Start { name, attrs, empty } => {
                if !is_qname(name) || attrs.iter().any(|(k, _)| !is_qname(k)) {
                    return Err(bad(name));
                }
                if !empty {
                    open.push(name.clone());
                }
            }
        }
        out.push(t);
    }
    Ok(out)
}

/// Where ours refuses and the reference does not, the refusal must be one
/// of the rules it checks and quick-xml does not.
fn stricter_by_design(e: &XmlError) -> bool {
    let XmlError::Malformed { msg, .. } = e else {
        return false;
    };
    [
        "no white space before an attribute",
        "'--' inside a comment",
        "a pseudo-attribute twice in the XML declaration",
        "attribute without '=' and a value",
        "attribute value not in quotes",
        "attribute value without its closing quote",
    ]
    .contains(&msg.as_str())
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
        let theirs = reference_tokens(&s).and_then(|t| checked(t).map_err(|e| e.to_string()));
        match (checked_tokens(&s), theirs) {
            (Ok(ours), Ok(theirs)) => {
                assert_eq!(ours, theirs, "{s}");
                both_ok += 1;
            }
            (Err(_), Err(_)) => both_refused += 1,
            (Err(e), Ok(_)) => {
                assert!(
                    stricter_by_design(&e),
                    "we refuse, quick-xml reads: {s}\n{e}"
                );
                stricter += 1;
            }
            (Ok(ours), Err(e)) => panic!("quick-xml refuses ({e}), we read {ours:?}: {s}"),
        }
    }
    // The mutations must exercise all three outcomes.
    assert!(both_ok > 1_000 && both_refused > 1_000 && stricter > 10);
}
