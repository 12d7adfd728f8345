//! The crate's one home for cryptographic helpers: randomness, hashing for
//! store keys, and hex. Protocol code calls these instead of reaching for
//! OpenSSL's RNG or writing its own encoders.

use base64::Engine;

/// The system RNG could not produce bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("random number generator failed: {0}")]
pub struct RngError(String);

/// `n` bytes from the system RNG.
pub fn random_bytes(n: usize) -> Result<Vec<u8>, RngError> {
    let mut b = vec![0u8; n];
    openssl::rand::rand_bytes(&mut b).map_err(|e| RngError(e.to_string()))?;
    Ok(b)
}

/// `n` random bytes, base64url without padding (bearer tokens, handles).
pub fn random_token(n: usize) -> Result<String, RngError> {
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes(n)?))
}

/// `n` random bytes, lower-case hex (request ids, correlation ids).
pub fn random_hex(n: usize) -> Result<String, RngError> {
    Ok(hex(&random_bytes(n)?))
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        // Writing to a String cannot fail.
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// SHA-256 hex of a secret; store keys name secrets only by this.
pub fn sha256_hex(s: &str) -> String {
    hex(&openssl::sha::sha256(s.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_and_digest() {
        assert_eq!(hex(&[0, 0x0f, 0xa0, 0xff]), "000fa0ff");
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(random_token(32).unwrap().len(), 43);
        assert_eq!(random_hex(6).unwrap().len(), 12);
    }
}
