//! Signing and verification through OpenSSL, with signature values in the
//! form the protocols carry them: RSA as RSASSA-PKCS1-v1_5 bytes (RFC 8017
//! §8.2), ECDSA as the fixed-length concatenation r ‖ s (XMLDSig 1.1 §6.4.3,
//! RFC 4050 §3.3, RFC 7518 §3.4) rather than OpenSSL's ASN.1 DER
//! `Ecdsa-Sig-Value` (RFC 3279 §2.2.3). The two conversions live here and
//! nowhere else.

use super::{CryptoError, KeyKind, SigAlg};
use openssl::bn::BigNum;
use openssl::ecdsa::EcdsaSig;
use openssl::pkey::{HasPrivate, HasPublic, PKeyRef};
use openssl::sign::{Signer, Verifier};

/// ECDSA r ‖ s (two big-endian halves of equal length) to DER. Any
/// non-empty even length is accepted: the halves are as long as the curve's
/// order for a conforming signer, and verification decides the rest.
pub fn ecdsa_raw_to_der(raw: &[u8]) -> Result<Vec<u8>, CryptoError> {
    if raw.is_empty() || raw.len() % 2 != 0 {
        return Err(CryptoError::EcdsaLength(raw.len()));
    }
    let (r, s) = raw.split_at(raw.len() / 2);
    let sig = EcdsaSig::from_private_components(BigNum::from_slice(r)?, BigNum::from_slice(s)?)?;
    Ok(sig.to_der()?)
}

/// ECDSA DER to r ‖ s, each half left-padded with zeros to `half` bytes
/// (the byte length of the curve order: [`ecdsa_half_len`]).
pub fn ecdsa_der_to_raw(der: &[u8], half: usize) -> Result<Vec<u8>, CryptoError> {
    let sig = EcdsaSig::from_der(der)?;
    let pad = i32::try_from(half).map_err(|_| CryptoError::EcdsaComponent(half))?;
    let mut raw = Vec::with_capacity(half.saturating_mul(2));
    for n in [sig.r(), sig.s()] {
        if n.num_bytes() > pad {
            return Err(CryptoError::EcdsaComponent(half));
        }
        raw.extend(n.to_vec_padded(pad)?);
    }
    Ok(raw)
}

/// Bytes in each half of an r ‖ s signature by `key`: 32 for P-256, 48 for
/// P-384, 66 for P-521.
pub fn ecdsa_half_len<T: HasPublic>(key: &PKeyRef<T>) -> usize {
    (key.bits() as usize).div_ceil(8)
}

/// Signs `data` with `alg`; the key type must be the algorithm's. The value
/// is in wire form (r ‖ s for ECDSA).
pub fn sign<T: HasPrivate>(
    key: &PKeyRef<T>,
    alg: SigAlg,
    data: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    if KeyKind::of(key) != Some(alg.key_kind()) {
        return Err(CryptoError::KeyMismatch {
            alg,
            need: alg.key_kind(),
        });
    }
    let der = Signer::new(alg.digest(), key)?.sign_oneshot_to_vec(data)?;
    if alg.is_ecdsa() {
        ecdsa_der_to_raw(&der, ecdsa_half_len(key))
    } else {
        Ok(der)
    }
}

/// Whether `sig`, in wire form (r ‖ s for ECDSA), is a signature by `key`
/// over `data` with `alg`. A key of the other type never verifies: an
/// algorithm URI cannot turn an RSA signature into an ECDSA one or back.
pub fn verify<T: HasPublic>(key: &PKeyRef<T>, alg: SigAlg, data: &[u8], sig: &[u8]) -> bool {
    if !alg.is_ecdsa() {
        return verify_der(key, alg, data, sig);
    }
    ecdsa_raw_to_der(sig).is_ok_and(|der| verify_der(key, alg, data, &der))
}

/// As [`verify`], with an ECDSA value in DER as OpenSSL (and some Java
/// senders) produce it. RSA values have one form and verify as in [`verify`].
pub fn verify_der<T: HasPublic>(key: &PKeyRef<T>, alg: SigAlg, data: &[u8], sig: &[u8]) -> bool {
    KeyKind::of(key) == Some(alg.key_kind())
        && Verifier::new(alg.digest(), key)
            .and_then(|mut v| v.verify_oneshot(sig, data))
            .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::pkey::{PKey, Private};

    fn ec(curve: &str) -> PKey<Private> {
        PKey::ec_gen(curve).unwrap()
    }

    fn rsa() -> PKey<Private> {
        PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap()
    }

    #[test]
    fn raw_and_der_convert_both_ways() {
        let k = ec("prime256v1");
        let der = Signer::new(SigAlg::EcdsaSha256.digest(), &k)
            .unwrap()
            .sign_oneshot_to_vec(b"data")
            .unwrap();
        let raw = ecdsa_der_to_raw(&der, 32).unwrap();
        assert_eq!(raw.len(), 64);
        assert_eq!(ecdsa_raw_to_der(&raw).unwrap(), der);
        // Wider halves carry leading zeros and mean the same numbers.
        let wide = ecdsa_der_to_raw(&der, 40).unwrap();
        assert_eq!(wide.len(), 80);
        assert_eq!(ecdsa_raw_to_der(&wide).unwrap(), der);
    }

    #[test]
    fn conversions_refuse_wrong_lengths() {
        for n in [0, 1, 63, 65] {
            assert_eq!(
                ecdsa_raw_to_der(&vec![1u8; n]),
                Err(CryptoError::EcdsaLength(n)),
                "{n} bytes"
            );
        }
        let r_s = [[0x7fu8; 32], [0x11u8; 32]].concat();
        let der = ecdsa_raw_to_der(&r_s).unwrap();
        assert_eq!(ecdsa_der_to_raw(&der, 32).unwrap(), r_s);
        assert_eq!(
            ecdsa_der_to_raw(&der, 31),
            Err(CryptoError::EcdsaComponent(31))
        );
        assert_eq!(
            ecdsa_der_to_raw(&der, 0),
            Err(CryptoError::EcdsaComponent(0))
        );
        assert!(matches!(
            ecdsa_der_to_raw(&r_s, 32),
            Err(CryptoError::OpenSsl(_))
        ));
        assert!(ecdsa_der_to_raw(&[], 32).is_err());
    }

    #[test]
    fn half_lengths_follow_the_curve() {
        assert_eq!(ecdsa_half_len(&ec("prime256v1")), 32);
        assert_eq!(ecdsa_half_len(&ec("secp384r1")), 48);
        assert_eq!(ecdsa_half_len(&ec("secp521r1")), 66);
    }

    #[test]
    fn sign_and_verify_every_algorithm() {
        let rsa = rsa();
        let keys = [
            ("prime256v1", ec("prime256v1")),
            ("secp384r1", ec("secp384r1")),
            ("secp521r1", ec("secp521r1")),
        ];
        for alg in SigAlg::ALL {
            let (key, wrong) = match alg.key_kind() {
                KeyKind::Rsa => (&rsa, &keys[0].1),
                KeyKind::Ec => (&keys[0].1, &rsa),
            };
            let sig = sign(key, alg, b"octets").unwrap();
            assert!(verify(key, alg, b"octets", &sig), "{alg:?}");
            assert!(!verify(key, alg, b"octetz", &sig), "{alg:?}");
            assert!(!verify(&keys[1].1, alg, b"octets", &sig), "{alg:?}");
            assert_eq!(
                sign(wrong, alg, b"octets"),
                Err(CryptoError::KeyMismatch {
                    alg,
                    need: alg.key_kind()
                })
            );
            assert!(!verify(wrong, alg, b"octets", &sig), "{alg:?}");
        }
        for (curve, key) in &keys {
            let sig = sign(key, SigAlg::EcdsaSha384, b"octets").unwrap();
            assert_eq!(sig.len(), 2 * ecdsa_half_len(key), "{curve}");
            assert!(verify(key, SigAlg::EcdsaSha384, b"octets", &sig), "{curve}");
            let der = ecdsa_raw_to_der(&sig).unwrap();
            assert!(verify_der(key, SigAlg::EcdsaSha384, b"octets", &der));
            assert!(!verify(key, SigAlg::EcdsaSha256, b"octets", &sig));
            assert!(!verify(key, SigAlg::EcdsaSha384, b"octets", &der));
        }
    }

    #[test]
    fn rsa_values_have_one_form() {
        let k = rsa();
        let sig = sign(&k, SigAlg::RsaSha256, b"x").unwrap();
        assert_eq!(sig.len(), 256);
        assert!(verify_der(&k, SigAlg::RsaSha256, b"x", &sig));
        assert!(!verify(&k, SigAlg::RsaSha512, b"x", &sig));
        assert!(!verify(&k, SigAlg::EcdsaSha256, b"x", &sig));
    }
}
