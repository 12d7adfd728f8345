//! SAML 2.0 protocol code, pure: no HTTP, no store, `now` is a parameter.

pub mod authn_request;
pub mod binding;
pub mod content;
pub mod decrypt;
pub mod dsig;
pub mod logout;
pub mod mapping;
pub mod metadata;
pub mod response;
pub mod sign;
pub mod slo;
pub mod sp;
pub mod unsolicited;

/// Decodes base64 that may be broken across lines, as XML Signature values,
/// certificates in metadata and the POST binding's SAMLResponse are.
pub(crate) fn b64_decode_lenient(text: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    let compact: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact)
        .ok()
}
