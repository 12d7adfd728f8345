//! The strict parser: `xml::lex` tokenises; this module enforces the rules.
//!
//! XML 1.0 (Fifth Edition) and Namespaces in XML 1.0 are applied with these
//! refusals: DOCTYPE (so no DTD and no entity declarations), processing
//! instructions, entity references other than the five predefined ones,
//! encodings other than UTF-8, unbound prefixes, duplicate attributes (by
//! qualified and by expanded name), characters outside the `Char` production,
//! and everything past the [`Limits`]. Line ends are normalised (§2.11) and
//! attribute values normalised as for CDATA attributes (§3.3.3).

use super::lex::{Lexer, NameAt, RawAttr, Token};
use super::names::{is_ncname, split_qname, QName};
use super::tree::{
    Attribute, Child, Document, ElemId, Element, Name, NsId, Run, Span, Text, Value,
};
use super::{ns, Limits, XmlError};
use std::collections::HashMap;

/// What an `ID` attribute's value must be. Uniqueness is required either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IdSyntax {
    /// An NCName, as xs:ID requires (SAML Core §1.3.4).
    #[default]
    NcName,
    /// Any non-empty value without XML whitespace (XML 1.0 §2.3): for IdPs
    /// that send IDs starting with a digit. Opt-in per IdP.
    Lenient,
}

/// Parses `input` into a [`Document`], or refuses it.
pub fn parse(input: &[u8], limits: &Limits) -> Result<Document, XmlError> {
    parse_with(input, limits, IdSyntax::NcName)
}

/// [`parse`], with the given rule for `ID` values.
pub fn parse_with(input: &[u8], limits: &Limits, ids: IdSyntax) -> Result<Document, XmlError> {
    check_size(input, limits)?;
    let input = input.strip_prefix(BOM).unwrap_or(input);
    let text = std::str::from_utf8(input).map_err(|_| XmlError::InvalidUtf8)?;
    let mut doc = Parser::new(limits, ids).run(text)?;
    doc.source = text.to_owned();
    Ok(doc)
}

/// [`parse`] over bytes it takes: they become the document's source
/// ([`Document::into_source`] gives them back) instead of a copy, so a
/// large document (a metadata aggregate) is held once, not twice, while
/// its tree is built. The same rules and limits as [`parse`].
pub fn parse_owned(mut input: Vec<u8>, limits: &Limits) -> Result<Document, XmlError> {
    check_size(&input, limits)?;
    if input.starts_with(BOM) {
        input.drain(..BOM.len());
    }
    let text = String::from_utf8(input).map_err(|_| XmlError::InvalidUtf8)?;
    let mut doc = Parser::new(limits, IdSyntax::NcName).run(&text)?;
    doc.source = text;
    Ok(doc)
}

/// Most namespace URIs searched one by one; past this, by a hash map. A
/// SAML message has about six.
const LINEAR_NAMESPACES: usize = 16;

/// Most entries a table is reserved for ahead of parsing.
const RESERVE_CAP: usize = 1 << 15;

/// The UTF-8 byte order mark, dropped before parsing.
pub(crate) const BOM: &[u8] = b"\xEF\xBB\xBF";

fn check_size(input: &[u8], limits: &Limits) -> Result<(), XmlError> {
    if input.len() > limits.max_bytes {
        return Err(XmlError::TooLarge {
            size: input.len(),
            limit: limits.max_bytes,
        });
    }
    Ok(())
}

struct Parser<'l> {
    limits: &'l Limits,
    id_syntax: IdSyntax,
    elements: Vec<Element>,
    /// The document's tables ([`Document::attributes`] and
    /// [`Document::ns_decls`]), filled element by element.
    attributes: Vec<Attribute>,
    ns_decls: Vec<(Name, NsId)>,
    /// Every child with its parent's index, in document order; sorted into
    /// [`Document::children`] at the end.
    kids: Vec<(u32, Child)>,
    ids: HashMap<String, ElemId>,
    namespaces: Vec<String>,
    /// URI → index in `namespaces`, built once there are more than
    /// [`LINEAR_NAMESPACES`]: a linear search alone made a message with
    /// thousands of distinct namespace URIs cost quadratic time.
    ns_index: HashMap<String, NsId>,
    /// The open elements, innermost last, each with the length `scope`
    /// had before its own declarations.
    stack: Vec<(ElemId, usize)>,
    /// The namespace bindings in force, innermost last: the declarations
    /// of the open elements, each with its prefix's [`prefix_key`].
    scope: Vec<(u64, Name, NsId)>,
    /// The attributes of the element being opened, before resolution.
    attr_scratch: Vec<(Name, Value)>,
    root_done: bool,
    seen_any: bool,
}

fn malformed(pos: u64, msg: impl ToString) -> XmlError {
    XmlError::Malformed {
        pos,
        msg: msg.to_string(),
    }
}

impl<'l> Parser<'l> {
    fn new(limits: &'l Limits, id_syntax: IdSyntax) -> Self {
        Parser {
            limits,
            id_syntax,
            elements: Vec::new(),
            attributes: Vec::new(),
            ns_decls: Vec::new(),
            kids: Vec::new(),
            ids: HashMap::new(),
            namespaces: vec![String::new(), ns::XML.to_owned()],
            ns_index: HashMap::new(),
            stack: Vec::new(),
            scope: Vec::new(),
            attr_scratch: Vec::new(),
            root_done: false,
            seen_any: false,
        }
    }
}

impl Parser<'_> {
    /// The tree of `text`; the caller attaches the source.
    fn run(mut self, text: &str) -> Result<Document, XmlError> {
        // Sized from the input so the tables seldom grow: a SAML message
        // has about one element per 100 bytes, an attribute per 60 and a
        // child per 50. Capped, so a large document reserves no more than
        // a few megabytes ahead of what it has.
        let guess = |per: usize| (text.len() / per + 8).min(RESERVE_CAP);
        self.elements
            .reserve(guess(100).min(self.limits.max_elements));
        self.attributes.reserve(guess(60));
        self.kids.reserve(guess(50));
        // The small working tables: room for a SAML message's depth, its
        // bindings and one element's attributes, so none grows from empty.
        self.stack.reserve(16);
        self.scope.reserve(16);
        self.attr_scratch.reserve(16);
        self.ns_decls.reserve(16);
        self.namespaces.reserve(8);
        let mut lexer = Lexer::new(text, self.limits.max_attributes);
        loop {
            let before = lexer.pos();
            let token = lexer.next()?;
            let after = lexer.pos();
            let first = !self.seen_any;
            self.seen_any = true;
            match token {
                Token::Decl { encoding } => {
                    if !first {
                        return Err(malformed(before as u64, "XML declaration not at the start"));
                    }
                    if let Some(enc) = encoding {
                        if !enc.eq_ignore_ascii_case("utf-8") {
                            return Err(XmlError::Encoding(enc.to_owned()));
                        }
                    }
                }
                Token::DocType => return Err(XmlError::Doctype),
                Token::Pi => return Err(XmlError::ProcessingInstruction),
                Token::Start { name, empty } => {
                    let mark = self.scope.len();
                    let id = self.open(text, name, lexer.attrs(), before, after)?;
                    if empty {
                        if let Some(e) = self.elements.get_mut(id.0 as usize) {
                            e.span.end = after;
                        }
                        self.scope.truncate(mark);
                        self.close_if_root();
                    } else {
                        self.stack.push((id, mark));
                    }
                }
                Token::End { name } => {
                    let (id, mark) = self
                        .stack
                        .pop()
                        .ok_or_else(|| malformed(before as u64, "unexpected end tag"))?;
                    self.scope.truncate(mark);
                    let Some(e) = self.elements.get_mut(id.0 as usize) else {
                        return Err(malformed(before as u64, "unexpected end tag"));
                    };
                    // §3 WFC: Element Type Match.
                    if bytes_of(text, e.name.start, e.name.end) != name.as_bytes() {
                        return Err(malformed(
                            before as u64,
                            "end tag does not match the start tag",
                        ));
                    }
                    e.span.end = after;
                    self.close_if_root();
                }
                Token::Text(raw) => {
                    if self.stack.is_empty() {
                        if !raw.chars().all(|c| matches!(c, ' ' | '\t' | '\r' | '\n')) {
                            return Err(if self.root_done {
                                XmlError::TrailingContent
                            } else {
                                malformed(before as u64, "text before the root element")
                            });
                        }
                        continue;
                    }
                    // Text that is already its own normal form stays in the
                    // source; anything else is normalised into a copy.
                    let value = if text_is_normal(raw) {
                        stored(text, raw, None)
                    } else {
                        let mut s = String::with_capacity(raw.len());
                        push_text(&mut s, raw)?;
                        Value::Owned(s)
                    };
                    self.append_text(text, value);
                }
                Token::CData(raw) => {
                    if self.stack.is_empty() {
                        return Err(malformed(before as u64, "CDATA outside the root element"));
                    }
                    let mut s = String::with_capacity(raw.len());
                    push_text(&mut s, raw)?;
                    self.append_text(text, Value::Owned(s));
                }
                Token::Ref(name) => {
                    if self.stack.is_empty() {
                        return Err(malformed(
                            before as u64,
                            "reference outside the root element",
                        ));
                    }
                    let c = resolve_ref(name)?;
                    self.append_text(text, Value::Owned(c.to_string()));
                }
                Token::Comment => {}
                Token::Eof => break,
            }
        }
        if !self.stack.is_empty() {
            return Err(malformed(
                text.len() as u64,
                "unclosed element at end of input",
            ));
        }
        if self.elements.is_empty() {
            return Err(XmlError::NoRoot);
        }
        let children = children_by_parent(&mut self.elements, self.kids);
        Ok(Document {
            source: String::new(),
            elements: self.elements,
            attributes: self.attributes,
            ns_decls: self.ns_decls,
            children,
            namespaces: self.namespaces,
            ids: self.ids,
        })
    }

    fn close_if_root(&mut self) {
        if self.stack.is_empty() {
            self.root_done = true;
        }
    }

    /// Adds character data to the open element, merged into the text
    /// before it when a comment, CDATA section or reference split them.
    fn append_text(&mut self, text: &str, v: Value) {
        let Some((top, _)) = self.stack.last() else {
            return;
        };
        // Children are recorded in document order, so the open element's
        // last child, if any, is the last one recorded with it as parent;
        // a later record under another parent means an element came between.
        let last = self.kids.last_mut().filter(|(p, _)| *p == top.0);
        if let Some((_, Child::Text(Text(prev)))) = last {
            let more = v.as_str(text);
            match prev {
                Value::Owned(s) => s.push_str(more),
                Value::Source { .. } => {
                    let joined = [prev.as_str(text), more].concat();
                    *prev = Value::Owned(joined);
                }
            }
        } else {
            self.kids.push((top.0, Child::Text(Text(v))));
        }
    }

    fn open(
        &mut self,
        text: &str,
        name: NameAt,
        raw: &[RawAttr],
        before: usize,
        after: usize,
    ) -> Result<ElemId, XmlError> {
        if self.root_done {
            return Err(XmlError::TrailingContent);
        }
        if self.stack.len() >= self.limits.max_depth {
            return Err(XmlError::TooDeep(self.limits.max_depth));
        }
        if self.elements.len() >= self.limits.max_elements {
            return Err(XmlError::TooManyElements(self.limits.max_elements));
        }
        let name = name_at(text, name)?;

        // Namespace declarations first: they scope this element's own names.
        let decls_start = self.ns_decls.len();
        // Reused from element to element: most elements have attributes.
        let mut raw_attrs = std::mem::take(&mut self.attr_scratch);
        raw_attrs.clear();
        let written = |n: NameAt| text.as_bytes().get(n.start..n.end);
        for (k, a) in raw.iter().enumerate() {
            let an = name_at(text, a.name)?;
            // XML 1.0 §3.1, WFC: Unique Att Spec, by qualified name, over
            // the names the tokenizer read before this one.
            let earlier = raw.get(..k).unwrap_or_default();
            if earlier.iter().any(|e| written(e.name) == written(a.name)) {
                return Err(XmlError::DuplicateAttribute(
                    slice(text, name.start, name.end).to_owned(),
                ));
            }
            let literal = text.get(a.value.0..a.value.1).unwrap_or_default();
            let normalized = normalize_attr(literal)?;
            let value = normalized.as_deref().unwrap_or(literal);
            let (ap, al) = (prefix_bytes(text, an), local_bytes(text, an));
            if ap.is_empty() && al == b"xmlns" {
                if value == ns::XML || value == "http://www.w3.org/2000/xmlns/" {
                    return Err(XmlError::BadNamespace(format!(
                        "default namespace '{value}'"
                    )));
                }
                let id = self.intern(value);
                self.ns_decls.push((Name::default(), id));
                self.scope.push((prefix_key(b""), Name::default(), id));
            } else if ap == b"xmlns" {
                check_ns_decl(local_of(text, an), value)?;
                if al != b"xml" {
                    let id = self.intern(value);
                    // The declared prefix is the local part of `xmlns:p`.
                    let prefix = Name {
                        start: an.start + 6,
                        prefix_len: 0,
                        end: an.end,
                    };
                    self.ns_decls.push((prefix, id));
                    let key = prefix_key(bytes_of(text, prefix.start, prefix.end));
                    self.scope.push((key, prefix, id));
                }
            } else {
                raw_attrs.push((an, stored(text, literal, normalized)));
            }
        }

        let parent = self.stack.last().map(|(p, _)| *p);
        let id = ElemId(self.elements.len() as u32);
        self.elements.push(Element {
            name,
            ns: 0,
            attrs: Run::default(),
            ns_decls: run_from(decls_start, self.ns_decls.len()),
            parent,
            children: Run::default(),
            span: Span {
                start: before,
                start_tag_end: after,
                end: after,
            },
        });
        let el_prefix = prefix_bytes(text, name);
        let el_ns = match self.lookup(text, el_prefix) {
            Some(n) => n,
            None if el_prefix.is_empty() => 0,
            None => return Err(XmlError::UnboundPrefix(prefix_of(text, name).to_owned())),
        };
        let attrs_start = self.attributes.len();
        for (an, stored) in raw_attrs.drain(..) {
            let value = stored.as_str(text);
            let ap = prefix_bytes(text, an);
            let ans = if ap.is_empty() {
                0
            } else {
                match self.lookup(text, ap) {
                    Some(n) if n != 0 => n,
                    _ => return Err(XmlError::UnboundPrefix(prefix_of(text, an).to_owned())),
                }
            };
            let al = local_bytes(text, an);
            if self
                .attributes
                .get(attrs_start..)
                .unwrap_or_default()
                .iter()
                .any(|x| x.ns == ans && local_bytes(text, x.name) == al)
            {
                return Err(XmlError::DuplicateAttribute(format!(
                    "{{{}}}{}",
                    self.ns_str(ans),
                    local_of(text, an)
                )));
            }
            if ans == 0 && al == b"ID" {
                let ok = match self.id_syntax {
                    IdSyntax::NcName => is_ncname(value),
                    IdSyntax::Lenient => {
                        !value.is_empty() && !value.contains([' ', '\t', '\r', '\n'])
                    }
                };
                if !ok {
                    return Err(XmlError::BadId);
                }
                if self.ids.insert(value.to_owned(), id).is_some() {
                    return Err(XmlError::DuplicateId(value.to_owned()));
                }
            }
            self.attributes.push(Attribute {
                name: an,
                ns: ans,
                value: stored,
            });
        }
        self.attr_scratch = raw_attrs;
        let attrs = run_from(attrs_start, self.attributes.len());
        if let Some(e) = self.elements.get_mut(id.0 as usize) {
            e.ns = el_ns;
            e.attrs = attrs;
        }
        if let Some(p) = parent {
            self.kids.push((p.0, Child::Element(id)));
        }
        Ok(id)
    }

    fn intern(&mut self, uri: &str) -> NsId {
        let found = if self.namespaces.len() <= LINEAR_NAMESPACES {
            self.namespaces
                .iter()
                .position(|n| n == uri)
                .map(|i| i as NsId)
        } else {
            if self.ns_index.is_empty() {
                self.ns_index = (0..)
                    .zip(&self.namespaces)
                    .map(|(i, n)| (n.clone(), i))
                    .collect();
            }
            self.ns_index.get(uri).copied()
        };
        if let Some(id) = found {
            return id;
        }
        let id = self.namespaces.len() as NsId;
        self.namespaces.push(uri.to_owned());
        if !self.ns_index.is_empty() {
            self.ns_index.insert(uri.to_owned(), id);
        }
        id
    }

    fn ns_str(&self, id: NsId) -> &str {
        self.namespaces
            .get(id as usize)
            .map(String::as_str)
            .unwrap_or("")
    }

    /// The namespace bound to `prefix` in the element being opened (its
    /// own declarations are in scope already); `None` when unbound. The
    /// table's entry 1 is the `xml` namespace (Namespaces in XML 1.0 §3).
    fn lookup(&self, text: &str, prefix: &[u8]) -> Option<NsId> {
        if prefix == b"xml" {
            return Some(1);
        }
        let key = prefix_key(prefix);
        self.scope
            .iter()
            .rev()
            .find(|(k, p, _)| {
                *k == key && (key != LONG_PREFIX || bytes_of(text, p.start, p.end) == prefix)
            })
            .map(|(_, _, u)| *u)
    }
}

/// The key of a prefix longer than [`prefix_key`] packs.
const LONG_PREFIX: u64 = u64::MAX;

/// A prefix of up to 7 bytes and its length packed into one integer, so
/// that finding a binding compares integers; longer prefixes all have the
/// key [`LONG_PREFIX`] (which no packed key equals: its length byte is at
/// most 7) and are compared by their bytes.
fn prefix_key(prefix: &[u8]) -> u64 {
    let mut key = [0u8; 8];
    match key.get_mut(..prefix.len()) {
        Some(head) if prefix.len() < 8 => head.copy_from_slice(prefix),
        _ => return LONG_PREFIX,
    }
    key[7] = prefix.len() as u8;
    u64::from_le_bytes(key)
}

/// The entries of a table from `start` to `end` (the limits keep every
/// count far below `u32::MAX`).
fn run_from(start: usize, end: usize) -> Run {
    Run {
        start: start as u32,
        len: end.saturating_sub(start) as u32,
    }
}

/// Sorts the children, recorded in document order with their parent's
/// index, into one table where each element's children are a run, and
/// sets each element's run: a count, a running sum, then one placement
/// pass, which keeps each element's children in document order.
fn children_by_parent(elements: &mut [Element], kids: Vec<(u32, Child)>) -> Vec<Child> {
    for (p, _) in &kids {
        if let Some(e) = elements.get_mut(*p as usize) {
            e.children.len += 1;
        }
    }
    let mut next = 0u32;
    for e in elements.iter_mut() {
        e.children.start = next;
        next += e.children.len;
        // Counts up again as the children are placed.
        e.children.len = 0;
    }
    let mut table = vec![Child::Element(ElemId(0)); kids.len()];
    for (p, child) in kids {
        let Some(e) = elements.get_mut(p as usize) else {
            continue;
        };
        if let Some(slot) = table.get_mut((e.children.start + e.children.len) as usize) {
            *slot = child;
            e.children.len += 1;
        }
    }
    table
}

/// How an attribute value is kept: as offsets when `raw`, a slice of
/// `text`, is already the normalised value; else the normalised copy.
fn stored(text: &str, raw: &str, normalized: Option<String>) -> Value {
    if let Some(v) = normalized {
        return Value::Owned(v);
    }
    let start = (raw.as_ptr() as usize).wrapping_sub(text.as_ptr() as usize);
    let end = start.saturating_add(raw.len());
    match (
        text.get(start..end),
        u32::try_from(start),
        u32::try_from(end),
    ) {
        (Some(s), Ok(start), Ok(end)) if s.as_ptr() == raw.as_ptr() => Value::Source { start, end },
        _ => Value::Owned(raw.to_owned()),
    }
}

fn slice(text: &str, from: u32, to: u32) -> &str {
    text.get(from as usize..to as usize).unwrap_or("")
}

/// [`slice`] as bytes, for comparisons: no check that the ends fall on
/// character boundaries (the parser made them, at ASCII bytes).
fn bytes_of(text: &str, from: u32, to: u32) -> &[u8] {
    text.as_bytes()
        .get(from as usize..to as usize)
        .unwrap_or_default()
}

fn local_bytes(text: &str, n: Name) -> &[u8] {
    bytes_of(text, n.local_start(), n.end)
}

fn prefix_bytes(text: &str, n: Name) -> &[u8] {
    bytes_of(text, n.start, n.start + n.prefix_len)
}

fn prefix_of(text: &str, n: Name) -> &str {
    slice(text, n.start, n.start + n.prefix_len)
}

fn local_of(text: &str, n: Name) -> &str {
    slice(text, n.local_start(), n.end)
}

/// A name the tokenizer found, as a QName: its verdict from the ASCII
/// table, or a check by character when the name is not ASCII.
fn name_at(text: &str, n: NameAt) -> Result<Name, XmlError> {
    let bad = || {
        let shown = text.as_bytes().get(n.start..n.end).unwrap_or_default();
        XmlError::BadName(String::from_utf8_lossy(shown).chars().take(64).collect())
    };
    let prefix_len = match n.verdict {
        QName::Split(i) => i,
        QName::Bad => return Err(bad()),
        QName::NotAscii => {
            let q = text.get(n.start..n.end).ok_or_else(bad)?;
            split_qname(q).ok_or_else(bad)?
        }
    };
    Ok(Name {
        start: n.start as u32,
        prefix_len: prefix_len as u32,
        end: n.end as u32,
    })
}

fn check_ns_decl(prefix: &str, uri: &str) -> Result<(), XmlError> {
    // Namespaces in XML 1.0 §3: `xmlns` may not be declared; `xml` only to
    // its own URI; no other prefix to those URIs; prefixes may not be undeclared.
    if prefix == "xmlns" {
        return Err(XmlError::BadNamespace("prefix 'xmlns' declared".into()));
    }
    if prefix == "xml" {
        return if uri == ns::XML {
            Ok(())
        } else {
            Err(XmlError::BadNamespace(
                "prefix 'xml' bound to another URI".into(),
            ))
        };
    }
    if uri == ns::XML || uri == "http://www.w3.org/2000/xmlns/" {
        return Err(XmlError::BadNamespace(format!(
            "prefix '{prefix}' bound to a reserved URI"
        )));
    }
    if uri.is_empty() {
        return Err(XmlError::BadNamespace(format!(
            "prefix '{prefix}' undeclared (xmlns:{prefix}=\"\")"
        )));
    }
    Ok(())
}

/// XML 1.0 §2.2 `Char`.
fn check_char(c: char) -> Result<(), XmlError> {
    let ok = matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}');
    if ok {
        Ok(())
    } else {
        Err(XmlError::BadChar(c as u32))
    }
}

/// Whether character data is its own normal form with no character to
/// check: printable ASCII, tab and LF only (no CR for §2.11 to fold).
fn text_is_normal(raw: &str) -> bool {
    all_bytes(raw, |b| {
        (0x20..0x7f).contains(&b) | (b == b'\n') | (b == b'\t')
    })
}

/// Whether `ok` holds for every byte of `s`. Tested a block at a time
/// without an early exit inside the block, a form the compiler turns into
/// vector compares; the per-byte `all` it replaces branched on every byte.
/// The bytes past the last whole block are tested as the last 32 bytes of
/// `s` (overlapping what was checked); a string shorter than a block is
/// tested in a block padded with its own first byte, which changes nothing:
/// if that byte fails, so does the string.
#[inline]
pub(super) fn all_bytes(s: &str, ok: impl Fn(u8) -> bool) -> bool {
    const BLOCK: usize = 32;
    let test = |block: &[u8; BLOCK]| block.iter().fold(true, |acc, b| acc & ok(*b));
    let bytes = s.as_bytes();
    let Some(&first) = bytes.first() else {
        return true;
    };
    let Some(last) = bytes.last_chunk::<BLOCK>() else {
        let mut block = [first; BLOCK];
        if let Some(head) = block.get_mut(..bytes.len()) {
            head.copy_from_slice(bytes);
        }
        return test(&block);
    };
    let mut whole = bytes.chunks_exact(BLOCK);
    if !whole
        .by_ref()
        .all(|b| <&[u8; BLOCK]>::try_from(b).is_ok_and(test))
    {
        return false;
    }
    whole.remainder().is_empty() || test(last)
}

/// Appends character data with line ends normalised (§2.11).
fn push_text(out: &mut String, raw: &str) -> Result<(), XmlError> {
    if text_is_normal(raw) {
        out.push_str(raw);
        return Ok(());
    }
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        check_char(c)?;
        if c == '\r' {
            if chars.peek() == Some(&'\n') {
                chars.next();
            }
            out.push('\n');
        } else {
            out.push(c);
        }
    }
    Ok(())
}

/// Resolves the name of a reference (`amp`, `#x41`, `#65`).
fn resolve_ref(name: &str) -> Result<char, XmlError> {
    let c = match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        _ => {
            let code = if let Some(hex) = name.strip_prefix("#x") {
                u32::from_str_radix(hex, 16).ok()
            } else if let Some(dec) = name.strip_prefix('#') {
                dec.parse::<u32>().ok()
            } else {
                return Err(XmlError::EntityReference(name.chars().take(64).collect()));
            };
            let c = code
                .and_then(char::from_u32)
                .ok_or_else(|| XmlError::EntityReference(name.chars().take(64).collect()))?;
            check_char(c)?;
            c
        }
    };
    Ok(c)
}

/// Attribute-value normalisation for CDATA attributes (§3.3.3): literal
/// whitespace becomes a space (after §2.11, so CR LF is one space), references
/// are replaced, and characters produced by character references are kept.
/// `None`: `raw` is its own normal form.
fn normalize_attr(raw: &str) -> Result<Option<String>, XmlError> {
    // Fast path: printable ASCII without references or `<` is its own
    // normal form and needs no character check.
    if all_bytes(raw, |b| {
        (0x20..0x7f).contains(&b) & (b != b'&') & (b != b'<')
    }) {
        return Ok(None);
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(c) = rest.chars().next() {
        match c {
            '&' => {
                let end = rest
                    .find(';')
                    .ok_or_else(|| XmlError::EntityReference(rest.chars().take(16).collect()))?;
                let name = rest.get(1..end).unwrap_or("");
                out.push(resolve_ref(name)?);
                rest = rest.get(end + 1..).unwrap_or("");
                continue;
            }
            '<' => return Err(malformed(0, "'<' in an attribute value")),
            '\r' => {
                out.push(' ');
                if rest.as_bytes().get(1) == Some(&b'\n') {
                    rest = rest.get(2..).unwrap_or("");
                    continue;
                }
            }
            '\n' | '\t' => out.push(' '),
            _ => {
                check_char(c)?;
                out.push(c);
            }
        }
        rest = rest.get(c.len_utf8()..).unwrap_or("");
    }
    Ok(Some(out))
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
