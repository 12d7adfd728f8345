//! The read-only tree produced by [`super::parse`]. Comments are dropped and
//! adjacent text (including CDATA and references) is merged, so the text an
//! accessor returns is always the whole text the canonical form signs.

use std::collections::HashMap;

/// Index of an element in its [`Document`]. Only the parser makes these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ElemId(pub(crate) u32);

/// A child of an element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Child {
    Element(ElemId),
    Text(String),
}

/// An attribute after namespace resolution and value normalisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    pub prefix: String,
    pub local: String,
    /// Namespace URI; empty for unprefixed attributes.
    pub ns: String,
    pub value: String,
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

/// An element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    pub prefix: String,
    pub local: String,
    /// Namespace URI; empty when the element is in no namespace.
    pub ns: String,
    pub attrs: Vec<Attribute>,
    /// Namespace declarations made on this element: (prefix, URI); the empty
    /// prefix is the default namespace.
    pub ns_decls: Vec<(String, String)>,
    pub parent: Option<ElemId>,
    pub children: Vec<Child>,
    pub span: Span,
}

static NO_ELEMENT: Element = Element {
    prefix: String::new(),
    local: String::new(),
    ns: String::new(),
    attrs: Vec::new(),
    ns_decls: Vec::new(),
    parent: None,
    children: Vec::new(),
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

    /// Whether `id` is `{ns}local`.
    pub fn is(&self, id: ElemId, ns: &str, local: &str) -> bool {
        let e = self.el(id);
        e.local == local && e.ns == ns
    }

    /// Child elements in order.
    pub fn children(&self, id: ElemId) -> impl Iterator<Item = ElemId> + '_ {
        self.el(id).children.iter().filter_map(|c| match c {
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
        self.el(id)
            .attrs
            .iter()
            .find(|a| a.local == local && a.ns == ns)
            .map(|a| a.value.as_str())
    }

    /// The element's own text: all text children joined. Text that a comment
    /// splits is one text here, as in the canonical form.
    pub fn text(&self, id: ElemId) -> String {
        let mut s = String::new();
        for c in &self.el(id).children {
            if let Child::Text(t) = c {
                s.push_str(t);
            }
        }
        s
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
            let e = self.el(c);
            if let Some((_, uri)) = e.ns_decls.iter().find(|(p, _)| p == prefix) {
                return Some(uri.as_str());
            }
            cur = e.parent;
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
        let e = self.el(id);
        if e.prefix.is_empty() {
            e.local.clone()
        } else {
            format!("{}:{}", e.prefix, e.local)
        }
    }
}
