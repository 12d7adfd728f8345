//! Exclusive XML Canonicalization 1.0 (W3C REC 2002, "exc-c14n"), without
//! comments, over a subtree of a parsed [`Document`].
//!
//! The subtree rooted at `apex` is the document subset (§1.1 of Canonical XML
//! 1.0 with the exclusive rules of exc-c14n §3); `exclude` drops one element
//! and its descendants, which is how the enveloped-signature transform
//! (XMLDSig §6.6.4) removes the Signature. Namespace declarations are written
//! only where visibly utilised (exc-c14n §3, "visibly utilizes") or named in
//! the InclusiveNamespaces PrefixList, and only when the nearest output
//! ancestor did not already render the same binding.

use super::parse::all_bytes;
use super::tree::{Attr, Child, Document, ElemId};

/// Where canonical bytes go: a buffer, or straight into a digest so the
/// canonical form is never held whole (XMLDSig §4.4.3.2 digests the octets).
///
/// The writer appends to [`Sink::buf`] and calls [`Sink::spill`] whenever
/// the buffer has grown by [`SPILL`] bytes or more, and once at the end. A
/// sink that keeps the bytes (a `Vec`) leaves them there; one that consumes
/// them (a digest) takes them and clears the buffer. Appending to one
/// buffer costs far less than a call per piece: the writer emits many
/// small ones.
pub trait Sink {
    fn buf(&mut self) -> &mut Vec<u8>;
    fn spill(&mut self);
}

/// How much the buffer grows before the writer spills it.
pub const SPILL: usize = 8192;

impl Sink for Vec<u8> {
    fn buf(&mut self) -> &mut Vec<u8> {
        self
    }
    fn spill(&mut self) {}
}

/// Writes the canonical form of `apex`'s subtree (minus `exclude`) to `out`.
/// `inclusive` is the InclusiveNamespaces PrefixList; `#default` names the
/// default namespace.
pub fn exc_c14n(
    doc: &Document,
    apex: ElemId,
    exclude: Option<ElemId>,
    inclusive: &[String],
    out: &mut Vec<u8>,
) {
    // Our own documents: no budget needed.
    let _ = exc_c14n_into(doc, apex, exclude, inclusive, out, usize::MAX);
}

/// The canonical form would exceed its budget (output amplification).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverBudget;

/// As [`exc_c14n`], but stops once `out` grows past `budget` bytes. Exclusive
/// c14n repeats a namespace declaration on every element that uses a prefix
/// its output ancestors did not, so a small message can canonicalise to
/// gigabytes; untrusted input is canonicalised with a budget.
pub fn exc_c14n_bounded(
    doc: &Document,
    apex: ElemId,
    exclude: Option<ElemId>,
    inclusive: &[String],
    out: &mut Vec<u8>,
    budget: usize,
) -> Result<(), OverBudget> {
    let budget = budget.saturating_sub(out.len());
    exc_c14n_into(doc, apex, exclude, inclusive, out, budget)
}

/// As [`exc_c14n_bounded`], into any [`Sink`]: stops once more than
/// `budget` bytes have been written.
pub fn exc_c14n_into<S: Sink + ?Sized>(
    doc: &Document,
    apex: ElemId,
    exclude: Option<ElemId>,
    inclusive: &[String],
    out: &mut S,
    budget: usize,
) -> Result<(), OverBudget> {
    let base = out.buf().len();
    let mut w = Writer {
        doc,
        exclude,
        inclusive,
        rendered: Vec::with_capacity(16),
        wanted: Vec::with_capacity(8),
        decls: Vec::with_capacity(8),
        attrs: Vec::with_capacity(16),
        out,
        base,
        spilled: 0,
        budget,
        over: false,
    };
    w.element(apex);
    w.spill();
    if w.over {
        Err(OverBudget)
    } else {
        Ok(())
    }
}

struct Writer<'a, 'o, S: Sink + ?Sized> {
    doc: &'a Document,
    exclude: Option<ElemId>,
    inclusive: &'a [String],
    /// Bindings in force in the output, innermost last: (prefix, URI).
    rendered: Vec<(&'a str, &'a str)>,
    /// Scratch space reused for every element (filled and drained before
    /// the children are written). `wanted`: the prefixes to bind here, each
    /// with the URI it has in scope.
    wanted: Vec<(&'a str, &'a str)>,
    decls: Vec<(&'a str, &'a str)>,
    attrs: Vec<Attr<'a>>,
    out: &'o mut S,
    /// The buffer's length when the writer started or last spilled, and
    /// how many bytes were written before that: the two count the output
    /// against the budget.
    base: usize,
    spilled: usize,
    budget: usize,
    over: bool,
}

impl<'a, S: Sink + ?Sized> Writer<'a, '_, S> {
    /// Bytes written so far.
    fn written(&mut self) -> usize {
        let len = self.out.buf().len();
        self.spilled.saturating_add(len.saturating_sub(self.base))
    }

    /// Hands the buffer to the sink.
    fn spill(&mut self) {
        self.spilled = self.written();
        self.out.spill();
        self.base = self.out.buf().len();
    }

    /// Spills once the buffer has grown by a block.
    fn maybe_spill(&mut self) {
        if self.out.buf().len().saturating_sub(self.base) >= SPILL {
            self.spill();
        }
    }

    fn rendered_uri(&self, prefix: &str) -> &'a str {
        self.rendered
            .iter()
            .rev()
            .find(|(p, _)| *p == prefix)
            .map(|(_, u)| *u)
            .unwrap_or("")
    }

    fn element(&mut self, id: ElemId) {
        if self.over || self.written() > self.budget {
            self.over = true;
            return;
        }
        self.maybe_spill();
        let doc = self.doc;
        let prefix = doc.prefix(id);

        // Prefixes this element visibly utilises, then the inclusive list.
        // The parser resolved the element's and its attributes' names
        // already: their URIs are the ones in scope for their prefixes.
        self.wanted.clear();
        self.wanted.push((prefix, doc.ns(id)));
        self.attrs.clear();
        for a in doc.attrs(id) {
            if !a.prefix.is_empty() && !self.wanted.iter().any(|(p, _)| *p == a.prefix) {
                self.wanted.push((a.prefix, a.ns));
            }
            self.attrs.push(a);
        }
        for p in self.inclusive {
            let p = if p == "#default" { "" } else { p.as_str() };
            // Only prefixes in scope here are candidates (exc-c14n §3). The
            // default namespace always is: with `#default` listed, Canonical
            // XML's rule applies to every element, so an empty default
            // (`xmlns=""` or none) renders `xmlns=""` whenever the nearest
            // output ancestor rendered a non-empty one, even on a prefixed
            // element (exc-c14n §3; C14N 1.0 §2.3; libxml2 agrees).
            let uri = doc.lookup_ns(id, p);
            let in_scope = p.is_empty() || uri.is_some_and(|u| !u.is_empty());
            if in_scope && !self.wanted.iter().any(|(w, _)| *w == p) {
                self.wanted.push((p, uri.unwrap_or("")));
            }
        }

        self.decls.clear();
        for i in 0..self.wanted.len() {
            let Some(&(p, uri)) = self.wanted.get(i) else {
                break;
            };
            if p == "xml" {
                continue;
            }
            // The URIs come from the document's one table: the same slice
            // when equal, most of the time, with no bytes to compare.
            let rendered = self.rendered_uri(p);
            if !(std::ptr::eq(rendered, uri) || rendered == uri) {
                self.decls.push((p, uri));
            }
        }
        self.decls.sort_unstable_by(|a, b| a.0.cmp(b.0));
        // By namespace URI, then local name (C14N 1.0 §2.2, "Attribute
        // Nodes"). The URIs come from the document's one table, so equal
        // ones are usually the same slice and need no byte comparison.
        self.attrs.sort_unstable_by(|a, b| {
            let same_ns = std::ptr::eq(a.ns, b.ns);
            (if same_ns {
                std::cmp::Ordering::Equal
            } else {
                a.ns.cmp(b.ns)
            })
            .then_with(|| a.local.cmp(b.local))
        });

        let qname = doc.qname_str(id).as_bytes();
        let out = self.out.buf();
        out.push(b'<');
        out.extend_from_slice(qname);
        for (p, u) in &self.decls {
            if p.is_empty() {
                out.extend_from_slice(b" xmlns=\"");
            } else {
                out.extend_from_slice(b" xmlns:");
                out.extend_from_slice(p.as_bytes());
                out.extend_from_slice(b"=\"");
            }
            escape_attr(u, out);
            out.push(b'"');
        }
        for a in &self.attrs {
            out.push(b' ');
            if !a.prefix.is_empty() {
                out.extend_from_slice(a.prefix.as_bytes());
                out.push(b':');
            }
            out.extend_from_slice(a.local.as_bytes());
            out.extend_from_slice(b"=\"");
            escape_attr(a.value, out);
            out.push(b'"');
        }
        out.push(b'>');

        let mark = self.rendered.len();
        self.rendered.extend_from_slice(&self.decls);
        for c in doc.child_nodes(id) {
            match c {
                Child::Text(t) => {
                    escape_text(doc.text_of(t), self.out.buf());
                    self.maybe_spill();
                }
                Child::Element(child) => {
                    if Some(*child) != self.exclude {
                        self.element(*child);
                    }
                }
            }
        }
        self.rendered.truncate(mark);

        let out = self.out.buf();
        out.extend_from_slice(b"</");
        out.extend_from_slice(qname);
        out.push(b'>');
    }
}

/// Finds the next byte of a small set from a position on, remembering
/// the answer until the writer has passed it, so a rare byte is searched
/// for once per string rather than once per escape.
struct Next<F: Fn(&[u8]) -> Option<usize>> {
    find: F,
    /// The next match at or after the last search's start, or the
    /// string's length when there is none.
    at: usize,
}

impl<F: Fn(&[u8]) -> Option<usize>> Next<F> {
    fn new(find: F, bytes: &[u8]) -> Self {
        let at = find(bytes).unwrap_or(bytes.len());
        Next { find, at }
    }

    /// The next match at or after `from` (`from` never moves back).
    fn from(&mut self, bytes: &[u8], from: usize) -> usize {
        if self.at < from {
            let rest = bytes.get(from..).unwrap_or_default();
            self.at = (self.find)(rest).map_or(bytes.len(), |i| from + i);
        }
        self.at
    }
}

/// Copies `s`, replacing each byte for which `rep` has an escape. The bytes
/// to escape are found by two vectorised searches (`common` for the ones
/// plain text and values hold, `rare` for the ones only a character
/// reference can put there), and the runs between them are copied at once.
fn escape_with(
    s: &str,
    out: &mut Vec<u8>,
    common: impl Fn(&[u8]) -> Option<usize>,
    rare: impl Fn(&[u8]) -> Option<usize>,
    rep: fn(u8) -> &'static [u8],
) {
    let bytes = s.as_bytes();
    let (mut common, mut rare) = (Next::new(common, bytes), Next::new(rare, bytes));
    let mut from = 0;
    loop {
        let at = common.from(bytes, from).min(rare.from(bytes, from));
        let Some(&b) = bytes.get(at) else {
            break;
        };
        out.extend_from_slice(bytes.get(from..at).unwrap_or_default());
        out.extend_from_slice(rep(b));
        from = at + 1;
    }
    out.extend_from_slice(bytes.get(from..).unwrap_or_default());
}

/// Canonical XML 1.0 §2.3, text nodes: `&`, `<`, `>` and carriage return.
fn escape_text(s: &str, out: &mut Vec<u8>) {
    // Most text needs no escape: one blockwise pass says so. Written with
    // `&` on plain compares so that it compiles to vector compares.
    if all_bytes(s, |b| {
        (b != b'&') & (b != b'<') & (b != b'>') & (b != b'\r')
    }) {
        out.extend_from_slice(s.as_bytes());
        return;
    }
    escape_with(
        s,
        out,
        |b| memchr::memchr3(b'&', b'<', b'>', b),
        |b| memchr::memchr(b'\r', b),
        |b| match b {
            b'&' => b"&amp;",
            b'<' => b"&lt;",
            b'>' => b"&gt;",
            _ => b"&#xD;",
        },
    )
}

/// Canonical XML 1.0 §2.3, attribute nodes: `&`, `<`, `"`, tab, line feed
/// and carriage return.
fn escape_attr(s: &str, out: &mut Vec<u8>) {
    // Tab, LF and CR are below 0x0E; so are only control characters XML
    // does not allow, and those take the full path, which is always right.
    if all_bytes(s, |b| (b >= 0x0e) & (b != b'&') & (b != b'<') & (b != b'"')) {
        out.extend_from_slice(s.as_bytes());
        return;
    }
    escape_with(
        s,
        out,
        |b| memchr::memchr3(b'&', b'<', b'"', b),
        |b| memchr::memchr3(b'\t', b'\n', b'\r', b),
        |b| match b {
            b'&' => b"&amp;",
            b'<' => b"&lt;",
            b'"' => b"&quot;",
            b'\t' => b"&#x9;",
            b'\n' => b"&#xA;",
            _ => b"&#xD;",
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::{parse, Limits};

    fn c14n_of(src: &str, pick: impl Fn(&Document) -> ElemId, incl: &[&str]) -> String {
        let d = parse(src.as_bytes(), &Limits::MESSAGE).unwrap();
        let incl: Vec<String> = incl.iter().map(|s| s.to_string()).collect();
        let mut out = Vec::new();
        exc_c14n(&d, pick(&d), None, &incl, &mut out);
        String::from_utf8(out).unwrap()
    }

    fn root(d: &Document) -> ElemId {
        d.root()
    }
    fn first_child(d: &Document) -> ElemId {
        d.children(d.root()).next().unwrap()
    }

    #[test]
    fn renders_only_visibly_used_namespaces() {
        let src = r#"<a:r xmlns:a="urn:a" xmlns:b="urn:b" xmlns:c="urn:c"><b:x c:y="1"/></a:r>"#;
        assert_eq!(
            c14n_of(src, first_child, &[]),
            r#"<b:x xmlns:b="urn:b" xmlns:c="urn:c" c:y="1"></b:x>"#
        );
        assert_eq!(
            c14n_of(src, root, &[]),
            r#"<a:r xmlns:a="urn:a"><b:x xmlns:b="urn:b" xmlns:c="urn:c" c:y="1"></b:x></a:r>"#
        );
    }

    #[test]
    fn inclusive_prefix_list_renders_unused_in_scope_prefixes() {
        let src = r#"<r xmlns:xs="urn:xs" xmlns:u="urn:u"><e>v</e></r>"#;
        assert_eq!(
            c14n_of(src, first_child, &["xs", "nope"]),
            r#"<e xmlns:xs="urn:xs">v</e>"#
        );
    }

    #[test]
    fn default_in_prefix_list_undeclares_on_prefixed_elements() {
        // `#default` listed: the prefixed p:e with an empty default gets
        // xmlns="" because its output parent rendered a non-empty default;
        // then the unprefixed f below it needs nothing more.
        let src = r#"<r xmlns="urn:d" xmlns:p="urn:p"><p:e xmlns=""><f/></p:e><p:g/></r>"#;
        assert_eq!(
            c14n_of(src, root, &["#default"]),
            r#"<r xmlns="urn:d"><p:e xmlns="" xmlns:p="urn:p"><f></f></p:e><p:g xmlns:p="urn:p"></p:g></r>"#
        );
        // Without the list, only the element that uses the default says so.
        assert_eq!(
            c14n_of(src, root, &[]),
            r#"<r xmlns="urn:d"><p:e xmlns:p="urn:p"><f xmlns=""></f></p:e><p:g xmlns:p="urn:p"></p:g></r>"#
        );
        // Nothing was rendered above the apex: no xmlns="" there.
        let src = r#"<w xmlns="urn:d"><p:e xmlns:p="urn:p" xmlns=""><f/></p:e></w>"#;
        assert_eq!(
            c14n_of(src, first_child, &["#default"]),
            r#"<p:e xmlns:p="urn:p"><f></f></p:e>"#
        );
    }

    #[test]
    fn default_namespace_rules() {
        // Inherited default from outside the subset is rendered where used.
        let src = r#"<r xmlns="urn:d"><e/></r>"#;
        assert_eq!(c14n_of(src, first_child, &[]), r#"<e xmlns="urn:d"></e>"#);
        // xmlns="" only undoes a rendered non-empty default.
        let src = r#"<r xmlns="urn:d"><e xmlns=""><f/></e></r>"#;
        assert_eq!(
            c14n_of(src, root, &[]),
            r#"<r xmlns="urn:d"><e xmlns=""><f></f></e></r>"#
        );
        assert_eq!(c14n_of(src, first_child, &[]), r#"<e><f></f></e>"#);
        // A redundant redeclaration is not repeated.
        let src = r#"<p:r xmlns:p="urn:p"><p:e xmlns:p="urn:p"/></p:r>"#;
        assert_eq!(
            c14n_of(src, root, &[]),
            r#"<p:r xmlns:p="urn:p"><p:e></p:e></p:r>"#
        );
    }

    #[test]
    fn sorts_namespaces_then_attributes_by_uri_and_local_name() {
        let src =
            r#"<e xmlns:z="urn:a" xmlns:a="urn:z" b="2" a:x="3" z:y="4" a="1" xmlns="urn:d"/>"#;
        assert_eq!(
            c14n_of(src, root, &[]),
            r#"<e xmlns="urn:d" xmlns:a="urn:z" xmlns:z="urn:a" a="1" b="2" z:y="4" a:x="3"></e>"#
        );
    }

    #[test]
    fn escapes_text_and_attributes() {
        let src = "<e a=\"&lt;&amp;&quot;&#9;&#10;&#13;'>\">&lt;&amp;&gt;&#13;\"'</e>";
        assert_eq!(
            c14n_of(src, root, &[]),
            "<e a=\"&lt;&amp;&quot;&#x9;&#xA;&#xD;'>\">&lt;&amp;&gt;&#xD;\"'</e>"
        );
    }

    /// The escapes byte by byte, as C14N 1.0 §2.3 states them, to hold the
    /// vectorised search to.
    fn escaped_plainly(s: &str, attr: bool) -> String {
        let mut out = String::new();
        for c in s.chars() {
            match (c, attr) {
                ('&', _) => out.push_str("&amp;"),
                ('<', _) => out.push_str("&lt;"),
                ('\r', _) => out.push_str("&#xD;"),
                ('>', false) => out.push_str("&gt;"),
                ('"', true) => out.push_str("&quot;"),
                ('\t', true) => out.push_str("&#x9;"),
                ('\n', true) => out.push_str("&#xA;"),
                (c, _) => out.push(c),
            }
        }
        out
    }

    #[test]
    fn escapes_agree_with_the_plain_rules_at_every_position() {
        // Every special byte of either set, and bytes that are not, at
        // every offset of strings longer than a vector register, with runs
        // of the same special and multi-byte characters between them.
        let pieces = [
            "&", "<", ">", "\"", "'", "\t", "\n", "\r", "a", "é", "€", "𝄞", "&&", "\r\r", "<>",
        ];
        let filler = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ+/=";
        let mut cases = vec![String::new(), filler.to_string()];
        for (i, p) in pieces.iter().enumerate() {
            for at in [0, 1, 15, 16, 17, 31, 32, 33, 63, filler.len()] {
                let mut s = filler.to_string();
                s.insert_str(at, p);
                let q = pieces[(i * 7 + at) % pieces.len()];
                s.push_str(q);
                s.insert_str(at / 2, q);
                cases.push(s);
            }
            cases.push(p.repeat(40));
        }
        type Escape = fn(&str, &mut Vec<u8>);
        let escapes: [(Escape, bool); 2] = [
            (|s, o| escape_text(s, o), false),
            (|s, o| escape_attr(s, o), true),
        ];
        for s in &cases {
            for (escape, attr) in escapes {
                let mut out = Vec::new();
                escape(s, &mut out);
                let out = String::from_utf8(out).unwrap();
                assert_eq!(out, escaped_plainly(s, attr), "{s:?}, attribute: {attr}");
            }
        }
    }

    #[test]
    fn drops_comments_and_declaration_and_expands_empty() {
        let src = "<?xml version=\"1.0\"?>\n<e><!-- c --><f/>  <g>t<![CDATA[<x>]]></g></e>";
        assert_eq!(c14n_of(src, root, &[]), "<e><f></f>  <g>t&lt;x&gt;</g></e>");
    }

    #[test]
    fn xml_attributes_are_not_inherited_and_xml_prefix_not_declared() {
        let src = r#"<r xml:lang="en"><e xml:space="preserve"/></r>"#;
        assert_eq!(
            c14n_of(src, first_child, &[]),
            r#"<e xml:space="preserve"></e>"#
        );
    }

    #[test]
    fn excludes_the_enveloped_element() {
        let src = r#"<r ID="a"><s:Signature xmlns:s="urn:s"><x/></s:Signature><k/></r>"#;
        let d = parse(src.as_bytes(), &Limits::MESSAGE).unwrap();
        let sig = d.children(d.root()).next().unwrap();
        let mut out = Vec::new();
        exc_c14n(&d, d.root(), Some(sig), &[], &mut out);
        assert_eq!(String::from_utf8(out).unwrap(), r#"<r ID="a"><k></k></r>"#);
    }

    #[test]
    fn budget_stops_namespace_amplification() {
        // Each <p:x/> must re-declare the long namespace: the output grows with
        // (elements × URI length) while the input grows with their sum.
        let uri = format!("urn:{}", "u".repeat(2000));
        let src = format!(r#"<r xmlns:p="{uri}"><c>{}</c></r>"#, "<p:x/>".repeat(500));
        let d = parse(src.as_bytes(), &Limits::MESSAGE).unwrap();
        let c = d.children(d.root()).next().unwrap();
        let mut out = Vec::new();
        assert_eq!(
            exc_c14n_bounded(&d, c, None, &[], &mut out, 100_000),
            Err(OverBudget)
        );
        assert!(
            out.len() < 110_000,
            "stopped near the budget, not at {}",
            out.len()
        );
        let mut full = Vec::new();
        assert_eq!(
            exc_c14n_bounded(&d, c, None, &[], &mut full, usize::MAX),
            Ok(())
        );
        assert!(full.len() > 1_000_000);
    }
}
