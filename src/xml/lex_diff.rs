//! The tokenizer (`xml::lex`) held against quick-xml, configured as the
//! parser once had it: the differential check that the unit tests run over
//! mutated documents and the `xml_lex_diff` fuzz target runs over whatever
//! libFuzzer finds. Test support only; never in a release build.
//!
//! Both tokenizers' output is taken to what the parser sees of it (names
//! checked as QNames, end tags matched, a late declaration, DOCTYPE and
//! processing instructions refused). Then: where both read a document the
//! tokens must be the same; where quick-xml refuses, ours must refuse; where
//! only ours refuses, the reason must be a rule of XML 1.0 that quick-xml
//! does not check ([`stricter_by_design`]).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use super::lex::{Lexer, NameAt, Token};
use super::names::split_ascii_qname;
use super::XmlError;

/// How the two tokenizers compared on one document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Agreement {
    /// Both read it, to the same tokens.
    Alike,
    /// Both refused it.
    BothRefused,
    /// Only ours refused it, for one of the rules quick-xml does not check.
    Stricter,
}

/// Compares the two tokenizers on `s`. `Err` describes a disagreement: a
/// document one reads differently from the other, one only quick-xml
/// refuses, or one only ours refuses for a reason not listed as stricter.
pub fn compare(s: &str) -> Result<Agreement, String> {
    // What the tokenizer sees: the parser has removed one byte-order mark.
    let s = s.strip_prefix('\u{feff}').unwrap_or(s);
    let theirs = reference_tokens(s).and_then(|t| checked(t).map_err(|e| e.to_string()));
    match (checked_tokens(s), theirs) {
        (Ok(ours), Ok(theirs)) if ours == theirs => Ok(Agreement::Alike),
        (Ok(ours), Ok(theirs)) => Err(format!(
            "different tokens:\nours   {ours:?}\ntheirs {theirs:?}"
        )),
        (Err(_), Err(_)) => Ok(Agreement::BothRefused),
        (Err(e), Ok(_)) if stricter_by_design(&e) => Ok(Agreement::Stricter),
        (Err(e), Ok(_)) => Err(format!("we refuse ({e}), quick-xml reads it")),
        (Ok(ours), Err(e)) => Err(format!("quick-xml refuses ({e}), we read {ours:?}")),
    }
}

/// A token in a form both tokenizers' output can be compared in.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Tok {
    Start {
        name: String,
        attrs: Vec<(String, String)>,
        empty: bool,
    },
    End(String),
    Text(String),
    /// Every other token, as its `Debug` form.
    Other(String),
}

/// Every token of `s`, up to the first DOCTYPE or processing instruction
/// (the parser refuses both, so nothing after them is read), or the first
/// refusal. Checks each name's verdict on the way.
pub(super) fn tokens(s: &str) -> Result<Vec<Tok>, XmlError> {
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
            Token::Text(t) => Tok::Text(t.to_owned()),
            Token::Eof => return Ok(out),
            Token::DocType | Token::Pi => {
                out.push(Tok::Other(format!("{t:?}")));
                return Ok(out);
            }
            other => Tok::Other(format!("{other:?}")),
        });
    }
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
    // quick-xml drops a byte-order mark at the start of its input. The
    // parser removes one before the tokenizer sees the text ([`compare`]),
    // so one here is a second: a character, put back where ours has it.
    let mut bom = s.starts_with('\u{feff}').then(|| String::from('\u{feff}'));
    loop {
        let ev = r.read_event().map_err(|e| e.to_string())?;
        if let Some(mut b) = bom.take() {
            // Joined to the text that follows it, if any.
            if let Event::Text(t) = &ev {
                b.push_str(&text(t));
                out.push(Tok::Text(b));
                continue;
            }
            out.push(Tok::Text(b));
        }
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
            Event::Text(t) => Tok::Text(text(&t)),
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
            Tok::Other(_) | Tok::Text(_) => {}
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
        "an unknown pseudo-attribute in the XML declaration",
        "attribute without '=' and a value",
        "attribute value not in quotes",
        "attribute value without its closing quote",
    ]
    .contains(&msg.as_str())
}
