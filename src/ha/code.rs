//! One-time login codes: 10 characters of Crockford's base32 alphabet
//! (50 bits), shown as `XXXXX-XXXXX`, read back forgivingly (any case,
//! dashes and spaces ignored, O→0, I/L→1). Only a SHA-256 of the
//! normalised code is ever stored.

/// Crockford base32: no I, L, O or U, so nothing reads as something else.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Characters in a code.
pub const LEN: usize = 10;

/// Builds a code from random bytes (at least [`LEN`] of them; 5 bits each).
pub fn from_random(bytes: &[u8]) -> Option<String> {
    if bytes.len() < LEN {
        return None;
    }
    let mut s = String::with_capacity(LEN + 1);
    for (i, b) in bytes.iter().take(LEN).enumerate() {
        if i == LEN / 2 {
            s.push('-');
        }
        let c = ALPHABET.get((b & 0x1f) as usize).copied().unwrap_or(b'0');
        s.push(c as char);
    }
    Some(s)
}

/// The canonical form of what someone typed, or `None` if it cannot be a code.
pub fn normalize(typed: &str) -> Option<String> {
    let mut out = String::with_capacity(LEN);
    for c in typed.chars() {
        let c = match c.to_ascii_uppercase() {
            '-' | ' ' => continue,
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        };
        if !ALPHABET.contains(&(c as u8)) || !c.is_ascii() {
            return None;
        }
        out.push(c);
    }
    (out.len() == LEN).then_some(out)
}

/// SHA-256 hex of the normalised code; what the store keeps.
pub fn hash(normalized: &str) -> String {
    crate::crypto::sha256_hex(normalized)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_typable_and_read_back_forgivingly() {
        let c = from_random(&[0, 1, 2, 31, 30, 29, 10, 11, 12, 13]).unwrap();
        assert_eq!(c, "012ZY-XABCD");
        assert_eq!(normalize("o12zy xabcd").as_deref(), Some("012ZYXABCD"));
        assert_eq!(normalize(&c.to_lowercase()).as_deref(), Some("012ZYXABCD"));
        assert_eq!(normalize("I12ZY-XABCD").as_deref(), Some("112ZYXABCD"));
        assert_eq!(normalize("012ZY-XABC"), None);
        assert_eq!(normalize("012ZY-XABCU"), None);
        assert_eq!(normalize("012ZY-XABCÉ"), None);
        assert!(from_random(&[1; 9]).is_none());
    }
}
