//! The crate's one home for cryptographic helpers: the signature and digest
//! algorithm tables ([`alg`]), signing and verification with the ECDSA
//! r ‖ s conversions ([`sig`]), verification contexts kept per trusted key
//! ([`prepared`]), randomness, hashing for store keys, and hex.
//! Protocol code calls these instead of reaching for OpenSSL's signer, RNG
//! or writing its own encoders; what is policy (which keys are strong
//! enough, when SHA-1 is allowed) stays with the protocol that decides it.

pub mod alg;
pub mod prepared;
pub mod sig;

pub use alg::{DigestAlg, KeyKind, SigAlg};
pub use prepared::PreparedKey;
pub use sig::{ecdsa_der_to_raw, ecdsa_half_len, ecdsa_raw_to_der, sign, verify, verify_der};

use base64::Engine;

/// Why a signature could not be made or converted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("ECDSA r||s value of {0} bytes is not two halves of equal, non-zero length")]
    EcdsaLength(usize),
    #[error("ECDSA signature component does not fit in {0} bytes")]
    EcdsaComponent(usize),
    #[error("{alg:?} needs an {need:?} key")]
    KeyMismatch { alg: SigAlg, need: KeyKind },
    /// OpenSSL's own message, unchanged.
    #[error("{0}")]
    OpenSsl(String),
}

impl From<openssl::error::ErrorStack> for CryptoError {
    fn from(e: openssl::error::ErrorStack) -> Self {
        Self::OpenSsl(e.to_string())
    }
}

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
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    // Table lookup, not `write!` per byte: store keys and the ACS hash
    // several values per login.
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        for n in [b >> 4, b & 0x0f] {
            s.push(char::from(
                DIGITS.get(usize::from(n)).copied().unwrap_or(b'0'),
            ));
        }
    }
    s
}

/// The value of one hex digit (either case).
pub fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// The bytes of a hex string (either case); `None` unless every character
/// is a hex digit and there is an even number of them.
pub fn hex_decode(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    if b.len() % 2 != 0 {
        return None;
    }
    b.chunks_exact(2)
        .map(|p| match p {
            [hi, lo] => Some(nibble(*hi)? << 4 | nibble(*lo)?),
            _ => None,
        })
        .collect()
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
        assert_ne!(random_bytes(16).unwrap(), random_bytes(16).unwrap());
    }

    #[test]
    fn hex_decodes_what_it_encodes() {
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(hex_decode(&hex(&all)), Some(all));
        assert_eq!(hex_decode("00FFaB"), Some(vec![0, 0xff, 0xab]));
        assert_eq!(hex_decode(""), Some(vec![]));
        for bad in ["0", "0g", "+f", " f", "é0", "abc"] {
            assert_eq!(hex_decode(bad), None, "{bad}");
        }
    }
}
