//! Strict XML for untrusted SAML input: one parse into a read-only tree
//! ([`Document`]), and Exclusive XML Canonicalization over that same tree.
//!
//! No DTD, no entities beyond the five predefined ones and character
//! references, no processing instructions, no recovery, no I/O. Size, depth
//! and count caps come from [`Limits`].

mod c14n;
mod lex;
#[cfg(any(test, feature = "test-support"))]
pub mod lex_diff;
mod limits;
mod names;
mod parse;
mod tree;

pub use c14n::{exc_c14n, exc_c14n_bounded, exc_c14n_into, OverBudget, Sink, SPILL};
pub(crate) use lex::declared_prefixes;
pub use limits::Limits;
pub(crate) use parse::BOM;
pub use parse::{parse, parse_owned, parse_with, IdSyntax};
pub use tree::{Attr, Child, Document, ElemId, Element, Span};

/// Namespace URIs used across the crate.
pub mod ns {
    pub const XML: &str = "http://www.w3.org/XML/1998/namespace";
    pub const DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";
    pub const DSIG11: &str = "http://www.w3.org/2009/xmldsig11#";
    pub const XENC: &str = "http://www.w3.org/2001/04/xmlenc#";
    pub const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
    pub const SAMLP: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
    pub const SAML: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
    pub const MD: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
    pub const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";
    pub const XS: &str = "http://www.w3.org/2001/XMLSchema";
}

/// Why a document was refused. Messages name the construct, never echo content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    #[error("document is {size} bytes, over the {limit}-byte limit")]
    TooLarge { size: usize, limit: usize },
    #[error("document is not valid UTF-8")]
    InvalidUtf8,
    #[error("document declares encoding '{0}'; only UTF-8 is accepted")]
    Encoding(String),
    #[error("DOCTYPE declarations are not allowed (XML external/internal entity protection)")]
    Doctype,
    #[error("processing instructions are not allowed")]
    ProcessingInstruction,
    #[error("entity reference '&{0};' is not allowed; only the five predefined entities and character references are")]
    EntityReference(String),
    #[error("elements nested deeper than {0} levels")]
    TooDeep(usize),
    #[error("more than {0} elements")]
    TooManyElements(usize),
    #[error("an element has more than {0} attributes")]
    TooManyAttributes(usize),
    #[error("namespace prefix '{0}' is not declared")]
    UnboundPrefix(String),
    #[error("invalid namespace declaration: {0}")]
    BadNamespace(String),
    #[error("attribute '{0}' appears twice on one element")]
    DuplicateAttribute(String),
    #[error("ID '{0}' appears on more than one element")]
    DuplicateId(String),
    #[error("ID attribute value is not an NCName")]
    BadId,
    #[error("invalid name '{0}'")]
    BadName(String),
    #[error("character not allowed in XML (U+{0:04X})")]
    BadChar(u32),
    #[error("document has no root element")]
    NoRoot,
    #[error("content after the root element")]
    TrailingContent,
    #[error("malformed XML at byte {pos}: {msg}")]
    Malformed { pos: u64, msg: String },
}

/// Escapes text for an XML attribute value or text node we write ourselves.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            _ => out.push(c),
        }
    }
    out
}
