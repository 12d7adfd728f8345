//! The read-only tree produced by [`super::parse`]. Comments are dropped and
//! adjacent text (including CDATA and references) is merged, so the text an
//! accessor returns is always the whole text the canonical form signs.

use std::borrow::Cow;
use std::collections::HashMap;

/// Index of an element in its [`Document`]. Only the parser makes these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ElemId(pub(crate) u32);

/// A child of an element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Child {
    Element(ElemId),
    Text(Text),
}

/// Character data (XML 1.0 §2.4), read with [`Document::text_of`]. Kept as
/// offsets into the source when the source already is the text (no line
/// end to normalise, nothing merged into it), else as its own copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text(pub(crate) Value);

/// A name as written in the source (`prefix:local` or `local`), kept as
/// offsets: XML names contain no references, so the source text is the name.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Name {
    pub(crate) start: u32,
    /// Length of the prefix; 0 when there is none.
    pub(crate) prefix_len: u32,
    pub(crate) end: u32,
}

impl Name {
    /// Where the local part starts: past the prefix and its colon.
    pub(crate) fn local_start(self) -> u32 {
        if self.prefix_len > 0 {
            self.start + self.prefix_len + 1
        } else {
            self.start
        }
    }
}

/// Index into the document's table of namespace URIs; 0 is "no namespace".
pub(crate) type NsId = u32;

/// An attribute after namespace resolution and value normalisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Attribute {
    pub(crate) name: Name,
    pub(crate) ns: NsId,
    pub(crate) value: Value,
}

/// An attribute's normalised value (XML 1.0 §3.3.3). Nearly every value in
/// a SAML message is already its own normal form in the source (no
/// references, no whitespace to fold), and is then kept as offsets into
/// the source rather than copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value {
    Source { start: u32, end: u32 },
    Owned(String),
}

impl Value {
    /// The characters, with `source` the text the offsets point into.
    pub(crate) fn as_str<'a>(&'a self, source: &'a str) -> &'a str {
        match self {
            Value::Source { start, end } => {
                source.get(*start as usize..*end as usize).unwrap_or("")
            }
            Value::Owned(s) => s,
        }
    }
}

/// A read-only view of one attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attr<'a> {
    pub prefix: &'a str,
    pub local: &'a str,
    /// Namespace URI; empty for unprefixed attributes.
    pub ns: &'a str,
    pub value: &'a str,
}

/// Byte offsets into the source text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Span {
    /// Offset of the `<` of the start tag.
    pub start: usize,
    /// Offset just past the `>` of the start tag.
    pub start_tag_end: usize,
    /// Offset just past the end tag (equal to `start_tag_end` when empty).
    pub end: usize,
}

/// A run of consecutive entries in one of the document's tables: an
/// element's attributes, declarations and children each sit together, so
/// an element owns no allocation of its own.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Run {
    pub(crate) start: u32,
    pub(crate) len: u32,
}

impl Run {
    /// The run's entries in `table`.
    pub(crate) fn of<T>(self, table: &[T]) -> &[T] {
        let start = self.start as usize;
        table
            .get(start..start.saturating_add(self.len as usize))
            .unwrap_or(&[])
    }
}

/// An element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    pub(crate) name: Name,
    pub(crate) ns: NsId,
    /// In [`Document::attributes`].
    pub(crate) attrs: Run,
    /// Namespace declarations made on this element, in
    /// [`Document::ns_decls`].
    pub(crate) ns_decls: Run,
    pub parent: Option<ElemId>,
    /// In [`Document::children`].
    pub(crate) children: Run,
    pub span: Span,
}

static NO_ELEMENT: Element = Element {
    name: Name {
        start: 0,
        prefix_len: 0,
        end: 0,
    },
    ns: 0,
    attrs: Run { start: 0, len: 0 },
    ns_decls: Run { start: 0, len: 0 },
    parent: None,
    children: Run { start: 0, len: 0 },
    span: Span {
        start: 0,
        start_tag_end: 0,
        end: 0,
    },
};

/// A parsed document: elements in document order, the root first.
#[derive(Debug, Clone)]
pub struct Document {
    pub(crate) source: String,
    pub(crate) elements: Vec<Element>,
    /// Every element's attributes, element by element.
    pub(crate) attributes: Vec<Attribute>,
    /// Every element's namespace declarations, element by element:
    /// (prefix, URI); an empty prefix is the default namespace.
    pub(crate) ns_decls: Vec<(Name, NsId)>,
    /// Every element's children, element by element, each run in document
    /// order.
    pub(crate) children: Vec<Child>,
    /// Namespace URIs, each once; index 0 is the empty URI.
    pub(crate) namespaces: Vec<String>,
    /// Unqualified `ID` attribute value → element; unique by construction.
    pub(crate) ids: HashMap<String, ElemId>,
}

impl Document {
    /// The document element.
    pub fn root(&self) -> ElemId {
        ElemId(0)
    }

    /// The source text the tree was parsed from (BOM removed).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The source text, the tree dropped: what [`super::parse_owned`] took
    /// comes back without a copy.
    pub fn into_source(self) -> String {
        self.source
    }

    /// The element behind `id`.
    pub fn el(&self, id: ElemId) -> &Element {
        self.elements.get(id.0 as usize).unwrap_or(&NO_ELEMENT)
    }

    /// Number of elements in the document.
    pub fn element_count(&self) -> usize {
        self.elements.len()
    }

    /// All elements in document order.
    pub fn all(&self) -> impl Iterator<Item = ElemId> + '_ {
        (0..self.elements.len() as u32).map(ElemId)
    }

    /// The element carrying unqualified attribute `ID="value"`.
    pub fn by_id(&self, value: &str) -> Option<ElemId> {
        self.ids.get(value).copied()
    }

    fn slice(&self, from: u32, to: u32) -> &str {
        self.source.get(from as usize..to as usize).unwrap_or("")
    }

    pub(crate) fn name_prefix(&self, n: Name) -> &str {
        self.slice(n.start, n.start + n.prefix_len)
    }

    pub(crate) fn name_local(&self, n: Name) -> &str {
        self.slice(n.local_start(), n.end)
    }

    pub(crate) fn ns_uri(&self, ns: NsId) -> &str {
        self.namespaces
            .get(ns as usize)
            .map(String::as_str)
            .unwrap_or("")
    }

    /// The element's local name.
    pub fn local(&self, id: ElemId) -> &str {
        self.name_local(self.el(id).name)
    }

    /// The element's prefix as written ("" when none).
    pub fn prefix(&self, id: ElemId) -> &str {
        self.name_prefix(self.el(id).name)
    }

    /// The element's namespace URI ("" when none).
    pub fn ns(&self, id: ElemId) -> &str {
        self.ns_uri(self.el(id).ns)
    }

    /// The element's attributes, resolved.
    pub fn attrs(&self, id: ElemId) -> impl Iterator<Item = Attr<'_>> + '_ {
        self.attributes_of(id).iter().map(|a| self.attr_view(a))
    }

    /// The element's attributes as stored.
    pub(crate) fn attributes_of(&self, id: ElemId) -> &[Attribute] {
        self.el(id).attrs.of(&self.attributes)
    }

    /// The element's children, elements and text, in order.
    pub fn child_nodes(&self, id: ElemId) -> &[Child] {
        self.el(id).children.of(&self.children)
    }

    /// The namespace declarations made on the element: (prefix, URI).
    pub(crate) fn ns_decls_of(&self, id: ElemId) -> &[(Name, NsId)] {
        self.el(id).ns_decls.of(&self.ns_decls)
    }

    pub(crate) fn attr_view<'a>(&'a self, a: &'a Attribute) -> Attr<'a> {
        Attr {
            prefix: self.name_prefix(a.name),
            local: self.name_local(a.name),
            ns: self.ns_uri(a.ns),
            value: self.value(&a.value),
        }
    }

    /// Whether `id` is `{ns}local`.
    pub fn is(&self, id: ElemId, ns: &str, local: &str) -> bool {
        // By bytes: the name's ends are where the parser put them, and a
        // string comparison would check them for character boundaries.
        let n = self.el(id).name;
        let name = self
            .source
            .as_bytes()
            .get(n.local_start() as usize..n.end as usize);
        name == Some(local.as_bytes()) && self.ns(id) == ns
    }

    /// Child elements in order.
    pub fn children(&self, id: ElemId) -> impl Iterator<Item = ElemId> + '_ {
        self.child_nodes(id).iter().filter_map(|c| match c {
            Child::Element(e) => Some(*e),
            Child::Text(_) => None,
        })
    }

    /// Child elements named `{ns}local`.
    pub fn children_named<'a>(
        &'a self,
        id: ElemId,
        ns: &'a str,
        local: &'a str,
    ) -> impl Iterator<Item = ElemId> + 'a {
        self.children(id).filter(move |c| self.is(*c, ns, local))
    }

    /// The first child element named `{ns}local`.
    pub fn child(&self, id: ElemId, ns: &str, local: &str) -> Option<ElemId> {
        self.children_named(id, ns, local).next()
    }

    /// Every element below `id` (not `id` itself), in document order.
    pub fn descendants(&self, id: ElemId) -> impl Iterator<Item = ElemId> + '_ {
        let span = self.el(id).span;
        let first = id.0 as usize + 1;
        // Elements are stored in document order, so the descendants are the
        // contiguous run that starts inside this element's span.
        self.elements
            .iter()
            .enumerate()
            .skip(first)
            .take_while(move |(_, e)| e.span.start < span.end)
            .map(|(i, _)| ElemId(i as u32))
    }

    /// Whether `anc` is `id` or one of its ancestors.
    pub fn is_ancestor_or_self(&self, anc: ElemId, id: ElemId) -> bool {
        let mut cur = Some(id);
        while let Some(c) = cur {
            if c == anc {
                return true;
            }
            cur = self.el(c).parent;
        }
        false
    }

    /// An unqualified attribute's value.
    pub fn attr(&self, id: ElemId, local: &str) -> Option<&str> {
        self.attr_ns(id, "", local)
    }

    /// A namespaced attribute's value.
    pub fn attr_ns(&self, id: ElemId, ns: &str, local: &str) -> Option<&str> {
        // Unqualified attributes, the common case, carry namespace 0: no
        // URI to compare. The local name is compared before the URI.
        self.attributes_of(id)
            .iter()
            .find(|a| {
                self.name_local(a.name) == local
                    && if ns.is_empty() {
                        a.ns == 0
                    } else {
                        self.ns_uri(a.ns) == ns
                    }
            })
            .map(|a| self.value(&a.value))
    }

    /// The element's own text: all text children joined. Text that a comment
    /// splits is one text here, as in the canonical form. Borrowed from the
    /// tree unless there is more than one text child.
    pub fn text(&self, id: ElemId) -> Cow<'_, str> {
        let mut texts = self.child_nodes(id).iter().filter_map(|c| match c {
            Child::Text(t) => Some(self.text_of(t)),
            Child::Element(_) => None,
        });
        let Some(first) = texts.next() else {
            return Cow::Borrowed("");
        };
        match texts.next() {
            None => Cow::Borrowed(first),
            Some(second) => {
                let mut s = String::from(first);
                s.push_str(second);
                texts.for_each(|t| s.push_str(t));
                Cow::Owned(s)
            }
        }
    }

    /// The characters of a text child.
    pub fn text_of<'a>(&'a self, t: &'a Text) -> &'a str {
        self.value(&t.0)
    }

    pub(crate) fn value<'a>(&'a self, v: &'a Value) -> &'a str {
        v.as_str(&self.source)
    }

    /// Whether the element has element children (i.e. mixed or complex content).
    pub fn has_element_children(&self, id: ElemId) -> bool {
        self.children(id).next().is_some()
    }

    /// The namespace URI bound to `prefix` ("" = default) at `id`.
    pub fn lookup_ns(&self, id: ElemId, prefix: &str) -> Option<&str> {
        if prefix == "xml" {
            return Some(super::ns::XML);
        }
        let mut cur = Some(id);
        while let Some(c) = cur {
            if let Some((_, uri)) = self
                .ns_decls_of(c)
                .iter()
                .find(|(p, _)| self.name_local(*p) == prefix)
            {
                return Some(self.ns_uri(*uri));
            }
            cur = self.el(c).parent;
        }
        None
    }

    /// Resolves a QName-valued attribute or text (e.g. `xsi:type="xs:string"`)
    /// to (namespace URI, local name) in the scope of `id`.
    pub fn resolve_qname<'a>(&'a self, id: ElemId, qname: &'a str) -> Option<(&'a str, &'a str)> {
        let (prefix, local) = qname.split_once(':').unwrap_or(("", qname));
        let uri = self.lookup_ns(id, prefix).unwrap_or("");
        Some((uri, local))
    }

    /// A readable name for error messages: `prefix:local` as written.
    pub fn qname(&self, id: ElemId) -> String {
        self.qname_str(id).to_owned()
    }

    /// The qualified name as written, borrowed.
    pub fn qname_str(&self, id: ElemId) -> &str {
        let n = self.el(id).name;
        self.slice(n.start, n.end)
    }
}
