//! The caps on untrusted XML, set in one place. Everything that parses XML
//! names one of these profiles; `docs/security.md` lists the figures.

/// Caps applied while parsing; exceeding any of them refuses the document
/// before any signature work is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of XML after any transport decoding (base64, deflate).
    pub max_bytes: usize,
    /// Element nesting depth.
    pub max_depth: usize,
    /// Elements in the whole document.
    pub max_elements: usize,
    /// Attributes plus namespace declarations on one element.
    pub max_attributes: usize,
}

impl Limits {
    /// SAML protocol messages (Response, AuthnRequest, LogoutRequest). A
    /// typical Entra response is 6–12 KiB; 256 KiB leaves room for large
    /// group lists.
    pub const MESSAGE: Limits = Limits {
        max_bytes: 256 * 1024,
        max_depth: 32,
        max_elements: 8192,
        max_attributes: 64,
    };

    /// IdP metadata documents, which may be aggregates with many entities.
    /// 64 MiB holds the largest federation feeds with room to spare (5,000
    /// IdPs with mdui, keys and contacts make about 40 MB) and bounds what
    /// one file makes the parser allocate (its source and tree take about
    /// four times its size; BENCHMARKS.md, "IdP metadata aggregate"). It also caps a
    /// `metadata_url` download (`outbound::metadata::fetch`).
    pub const METADATA: Limits = Limits {
        max_bytes: 64 * 1024 * 1024,
        max_depth: 32,
        max_elements: 1_000_000,
        max_attributes: 64,
    };

    /// Encoded (base64) size allowed for a message whose decoded form is
    /// bounded by `max_bytes`.
    pub const fn max_encoded_bytes(&self) -> usize {
        self.max_bytes / 3 * 4 + 4096
    }
}
