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
/// Text without whitespace (the usual POSTed SAMLResponse) is decoded as
/// it is, with no compacted copy made first and no search for whitespace.
pub(crate) fn b64_decode_lenient(text: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    // Whitespace is not base64: text with some fails here, and only then
    // is it looked through.
    if let Ok(bytes) = b64.decode(text) {
        return Some(bytes);
    }
    if !text.bytes().any(|b| b.is_ascii_whitespace()) {
        return None;
    }
    let mut compact = Vec::with_capacity(text.len());
    compact.extend(text.bytes().filter(|b| !b.is_ascii_whitespace()));
    b64.decode(compact).ok()
}

#[cfg(test)]
mod tests {
    use super::b64_decode_lenient;

    #[test]
    fn lenient_base64_decodes_with_and_without_line_breaks() {
        assert_eq!(
            b64_decode_lenient("aGVsbG8gd29ybGQ=").unwrap(),
            b"hello world"
        );
        assert_eq!(
            b64_decode_lenient(" aGVs\r\nbG8g\td29y\nbGQ=\n").unwrap(),
            b"hello world"
        );
        // Not base64, with or without whitespace: refused, never guessed.
        assert!(b64_decode_lenient("aGVsbG8*").is_none());
        assert!(b64_decode_lenient("aGVs\nbG8*").is_none());
        assert!(b64_decode_lenient("aGVsbG8").is_none());
    }
}
