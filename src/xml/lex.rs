//! The tokenizer under the strict parser: it splits a UTF-8 document into
//! markup and character data (XML 1.0 §2.4–§2.8, §3.1) in one pass, and reads
//! a start tag's attributes while it looks for the tag's end.
//!
//! It refuses what is not well formed at the level of tokens: an unclosed
//! tag, comment, CDATA section or reference; a comment holding `--` (§2.5);
//! an attribute without `=` and a quoted value, or not separated from the one
//! before by white space (§3.1); `<!` that opens nothing it knows. Everything
//! else (names, characters, references, namespaces, DOCTYPE and processing
//! instructions, end tags matching start tags) is the parser's
//! (`xml::parse`), which refuses DOCTYPE and processing instructions
//! outright, so their content is never read here.

use super::names::{scan_qname, QName};
use super::XmlError;

/// One token. Slices borrow from the document; a start tag's name and
/// attributes are byte offsets into it.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Token<'a> {
    /// `<?xml …?>`, with its `encoding` pseudo-attribute if present.
    Decl {
        encoding: Option<&'a str>,
    },
    /// `<!DOCTYPE`, in any case; neither it nor anything after it is read.
    DocType,
    /// Any other `<?…?>`.
    Pi,
    /// A start tag (`empty` for `<…/>`); its attributes are
    /// [`Lexer::attrs`] until the next token.
    Start {
        name: NameAt,
        empty: bool,
    },
    /// An end tag's name, trailing white space dropped.
    End {
        name: &'a str,
    },
    /// Character data up to the next `<` or `&`.
    Text(&'a str),
    /// The name of a reference (`amp`, `#x41`), between `&` and `;`.
    Ref(&'a str),
    /// A CDATA section's content.
    CData(&'a str),
    Comment,
    Eof,
}

/// A name in a tag: its bytes in the document, and what the tokenizer found
/// checking it as an ASCII QName on its way to the name's end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct NameAt {
    pub start: usize,
    pub end: usize,
    pub verdict: QName,
}

/// One attribute of the last start tag: its name, and its value as written
/// (between the quotes) as a byte range of the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct RawAttr {
    pub name: NameAt,
    pub value: (usize, usize),
}

pub(super) struct Lexer<'a> {
    text: &'a str,
    pos: usize,
    attrs: Vec<RawAttr>,
    max_attrs: usize,
}

/// XML 1.0 §2.3 `S`.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn malformed(pos: usize, msg: &str) -> XmlError {
    XmlError::Malformed {
        pos: pos as u64,
        msg: msg.to_owned(),
    }
}

impl<'a> Lexer<'a> {
    /// A tokenizer over `text` that refuses a start tag with more than
    /// `max_attrs` attributes (namespace declarations included).
    pub(super) fn new(text: &'a str, max_attrs: usize) -> Self {
        Lexer {
            text,
            pos: 0,
            attrs: Vec::new(),
            max_attrs,
        }
    }

    /// The offset of the next token.
    pub(super) fn pos(&self) -> usize {
        self.pos
    }

    /// The attributes of the last [`Token::Start`].
    pub(super) fn attrs(&self) -> &[RawAttr] {
        &self.attrs
    }

    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    fn str(&self, from: usize, to: usize) -> Result<&'a str, XmlError> {
        // Every end is next to an ASCII byte, so on a character boundary.
        self.text
            .get(from..to)
            .ok_or_else(|| malformed(from, "token not on a character boundary"))
    }

    /// Where `needle` next occurs at or after `from`.
    fn find(&self, from: usize, needle: &[u8]) -> Option<usize> {
        let hay = self.bytes().get(from..)?;
        memchr::memmem::find(hay, needle).map(|i| from + i)
    }

    fn at(&self, i: usize) -> Option<u8> {
        self.bytes().get(i).copied()
    }

    fn skip_space(&self, mut i: usize) -> usize {
        while self.at(i).is_some_and(is_space) {
            i += 1;
        }
        i
    }

    pub(super) fn next(&mut self) -> Result<Token<'a>, XmlError> {
        let start = self.pos;
        let bytes = self.bytes();
        let Some(&first) = bytes.get(start) else {
            return Ok(Token::Eof);
        };
        if first == b'&' {
            return self.reference(start);
        }
        if first != b'<' {
            let end = bytes
                .get(start..)
                .and_then(|rest| memchr::memchr2(b'<', b'&', rest))
                .map_or(bytes.len(), |i| start + i);
            self.pos = end;
            return Ok(Token::Text(self.str(start, end)?));
        }
        match self.at(start + 1) {
            Some(b'/') => self.end_tag(start),
            Some(b'?') => self.question(start),
            Some(b'!') => self.bang(start),
            Some(_) => self.start_tag(start),
            None => Err(malformed(start, "unexpected end of input after '<'")),
        }
    }

    /// `&name;` (§4.1); the name is checked by the parser.
    fn reference(&mut self, start: usize) -> Result<Token<'a>, XmlError> {
        let rest = self.bytes().get(start + 1..).unwrap_or_default();
        match memchr::memchr3(b';', b'&', b'<', rest) {
            Some(i) if rest.get(i) == Some(&b';') => {
                self.pos = start + 1 + i + 1;
                Ok(Token::Ref(self.str(start + 1, start + 1 + i)?))
            }
            _ => Err(malformed(start, "reference without its ';'")),
        }
    }

    /// `</name S?>` (§3.1 ETag).
    fn end_tag(&mut self, start: usize) -> Result<Token<'a>, XmlError> {
        let Some(close) = self.find(start + 2, b">") else {
            return Err(malformed(start, "unclosed end tag"));
        };
        let mut end = close;
        while end > start + 2 && self.at(end - 1).is_some_and(is_space) {
            end -= 1;
        }
        self.pos = close + 1;
        Ok(Token::End {
            name: self.str(start + 2, end)?,
        })
    }

    /// `<?xml …?>` or another processing instruction (§2.6, §2.8).
    fn question(&mut self, start: usize) -> Result<Token<'a>, XmlError> {
        let Some(close) = self.find(start + 2, b"?>") else {
            return Err(malformed(start, "unclosed processing instruction"));
        };
        self.pos = close + 2;
        let target_end = start + 5;
        let is_decl = self.bytes().get(start + 2..target_end) == Some(b"xml")
            && (target_end == close || self.at(target_end).is_some_and(is_space));
        if !is_decl {
            return Ok(Token::Pi);
        }
        // The declaration's pseudo-attributes read as a start tag's do.
        self.attributes(target_end.min(close), close, start, false)?;
        let mut encoding = None;
        for (n, a) in self.attrs.iter().enumerate() {
            let name = self.bytes().get(a.name.start..a.name.end);
            let earlier = self.attrs.get(..n).unwrap_or_default();
            if earlier
                .iter()
                .any(|e| self.bytes().get(e.name.start..e.name.end) == name)
            {
                return Err(malformed(
                    start,
                    "a pseudo-attribute twice in the XML declaration",
                ));
            }
            // §2.8: VersionInfo, EncodingDecl and SDDecl are all there is.
            match name {
                Some(b"encoding") => encoding = Some(self.str(a.value.0, a.value.1)?),
                Some(b"version" | b"standalone") => {}
                _ => {
                    return Err(malformed(
                        start,
                        "an unknown pseudo-attribute in the XML declaration",
                    ))
                }
            }
        }
        Ok(Token::Decl { encoding })
    }

    /// Comments (§2.5), CDATA sections (§2.7) and `<!DOCTYPE`.
    fn bang(&mut self, start: usize) -> Result<Token<'a>, XmlError> {
        let rest = self.bytes().get(start..).unwrap_or_default();
        if rest.starts_with(b"<!--") {
            let from = start + 4;
            let Some(close) = self.find(from, b"-->") else {
                return Err(malformed(start, "unclosed comment"));
            };
            let body = self.bytes().get(from..close).unwrap_or_default();
            // §2.5: no `--` inside, and no `-` just before the `-->`.
            if memchr::memmem::find(body, b"--").is_some() || body.ends_with(b"-") {
                return Err(malformed(start, "'--' inside a comment"));
            }
            self.pos = close + 3;
            return Ok(Token::Comment);
        }
        if rest.starts_with(b"<![CDATA[") {
            let from = start + 9;
            let Some(close) = self.find(from, b"]]>") else {
                return Err(malformed(start, "unclosed CDATA section"));
            };
            self.pos = close + 3;
            return Ok(Token::CData(self.str(from, close)?));
        }
        if rest
            .get(2..9)
            .is_some_and(|w| w.eq_ignore_ascii_case(b"DOCTYPE"))
        {
            // Not read: the parser refuses it. The rest of the input goes
            // with it, so a caller that goes on sees the end.
            self.pos = self.text.len();
            return Ok(Token::DocType);
        }
        Err(malformed(
            start,
            "'<!' that opens no comment or CDATA section",
        ))
    }

    /// `<name (S attr)* S? /?>` (§3.1 STag, EmptyElemTag).
    fn start_tag(&mut self, start: usize) -> Result<Token<'a>, XmlError> {
        let bytes = self.bytes();
        let from = start + 1;
        let (i, verdict) = scan_qname(bytes, from, |b| is_space(b) || b == b'/' || b == b'>');
        let name = NameAt {
            start: from,
            end: i,
            verdict,
        };
        let close = self.attributes(i, bytes.len(), start, true)?;
        match (self.at(close), self.at(close + 1)) {
            (Some(b'>'), _) => {
                self.pos = close + 1;
                Ok(Token::Start { name, empty: false })
            }
            (Some(b'/'), Some(b'>')) => {
                self.pos = close + 2;
                Ok(Token::Start { name, empty: true })
            }
            (None, _) => Err(malformed(start, "unclosed start tag")),
            _ => Err(malformed(close, "'/' not followed by '>' in a tag")),
        }
    }

    /// Reads `(S name S? = S? quoted)* S?` from `i` into `self.attrs`, up to
    /// `limit` or, in a tag, the first `>` or `/` where a name would start;
    /// returns where it stopped. `tag` is the markup's start, for messages.
    fn attributes(
        &mut self,
        mut i: usize,
        limit: usize,
        tag: usize,
        in_tag: bool,
    ) -> Result<usize, XmlError> {
        self.attrs.clear();
        let bytes = self.bytes();
        loop {
            let spaced = self.skip_space(i);
            let had_space = spaced > i;
            i = spaced;
            match bytes.get(i) {
                None => return Ok(i),
                Some(_) if i >= limit => return Ok(i),
                Some(b'>' | b'/') if in_tag => return Ok(i),
                Some(_) if !had_space => {
                    return Err(malformed(i, "no white space before an attribute"));
                }
                Some(_) => {}
            }
            if self.attrs.len() >= self.max_attrs {
                return Err(XmlError::TooManyAttributes(self.max_attrs));
            }
            let within = bytes.get(..limit).unwrap_or(bytes);
            let (end, verdict) = scan_qname(within, i, |b| {
                is_space(b) || matches!(b, b'=' | b'>' | b'/')
            });
            let name = NameAt {
                start: i,
                end,
                verdict,
            };
            i = self.skip_space(end);
            if self.at(i) != Some(b'=') || i >= limit {
                return Err(malformed(tag, "attribute without '=' and a value"));
            }
            i = self.skip_space(i + 1);
            let quote = match self.at(i) {
                Some(q @ (b'"' | b'\'')) if i < limit => q,
                _ => return Err(malformed(tag, "attribute value not in quotes")),
            };
            let value_start = i + 1;
            let value_end = bytes
                .get(value_start..limit)
                .and_then(|rest| memchr::memchr(quote, rest))
                .map(|n| value_start + n)
                .ok_or_else(|| malformed(tag, "attribute value without its closing quote"))?;
            self.attrs.push(RawAttr {
                name,
                value: (value_start, value_end),
            });
            i = value_end + 1;
        }
    }
}

/// The prefixes ("" for the default namespace) declared on the start tag
/// `text` begins with, or `None` when it does not begin with one.
pub(crate) fn declared_prefixes(text: &str) -> Option<Vec<String>> {
    let mut lexer = Lexer::new(text, usize::MAX);
    let Ok(Token::Start { .. }) = lexer.next() else {
        return None;
    };
    let mut out = Vec::new();
    for a in lexer.attrs() {
        let name = text.get(a.name.start..a.name.end)?;
        if name == "xmlns" {
            out.push(String::new());
        } else if let Some(p) = name.strip_prefix("xmlns:") {
            out.push(p.to_owned());
        }
    }
    Some(out)
}

#[cfg(test)]
#[path = "lex_tests.rs"]
mod tests;
