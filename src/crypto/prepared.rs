//! Verification contexts prepared once per trusted key. A pinned IdP key
//! lives as long as its configuration, so the OpenSSL context a signature
//! check needs (the key bound to the verify operation, its padding and
//! digest set) is built once and kept, instead of once per signature as
//! [`super::verify`] does (`EVP_DigestVerifyInit` cost about a quarter of
//! an RSA-2048 verify; BENCHMARKS.md, "Issue 12").
//!
//! A context is used by one caller at a time: it is taken out of the key's
//! pool for the check and put back only after a check that verified, so a
//! context that saw an error is never used again. When the pool is empty a
//! fresh context is made; the pool keeps at most [`POOL_MAX`] per key.
//! The outcome is the same as [`super::verify`]'s for every input: the same
//! key-type rule, the same r ‖ s conversion, and OpenSSL's verify of the
//! same digest (RFC 8017 §8.2.2 for RSA, FIPS 186-4 §6.4 for ECDSA).

use super::{ecdsa_raw_to_der, KeyKind, SigAlg};
use openssl::pkey::{PKey, Public};
use openssl::pkey_ctx::PkeyCtx;
use std::sync::{Arc, Mutex};

/// Contexts kept per key: more than the worker threads that verify at once
/// is never needed.
pub const POOL_MAX: usize = 16;

/// Idle contexts, each with the algorithm it was prepared for.
type Pool = Mutex<Vec<(SigAlg, PkeyCtx<Public>)>>;

/// A public key with its prepared verification contexts. Clones share the
/// pool.
#[derive(Clone)]
pub struct PreparedKey {
    key: PKey<Public>,
    kind: Option<KeyKind>,
    pool: Arc<Pool>,
}

impl PreparedKey {
    pub fn new(key: PKey<Public>) -> Self {
        Self {
            kind: KeyKind::of(&key),
            key,
            pool: Arc::new(Mutex::new(Vec::new())),
        }
    }

    pub fn pkey(&self) -> &PKey<Public> {
        &self.key
    }

    /// As [`super::verify`]: whether `sig`, in wire form (r ‖ s for
    /// ECDSA), is a signature by this key over `data` with `alg`.
    pub fn verify(&self, alg: SigAlg, data: &[u8], sig: &[u8]) -> bool {
        if self.kind != Some(alg.key_kind()) {
            return false;
        }
        // The digest the signature covers (XMLDSig §4.4.1: SignatureMethod
        // names the hash), computed here so the context only verifies.
        let digest = alg.hash().digest(data);
        if alg.is_ecdsa() {
            match ecdsa_raw_to_der(sig) {
                Ok(der) => self.verify_digest(alg, &digest, &der),
                Err(_) => false,
            }
        } else {
            self.verify_digest(alg, &digest, sig)
        }
    }

    fn verify_digest(&self, alg: SigAlg, digest: &[u8], sig: &[u8]) -> bool {
        let Some(mut ctx) = self.take(alg).or_else(|| self.fresh(alg)) else {
            return false;
        };
        let ok = ctx.verify(digest, sig).unwrap_or(false);
        if ok {
            self.give_back(alg, ctx);
        }
        ok
    }

    fn take(&self, alg: SigAlg) -> Option<PkeyCtx<Public>> {
        let mut pool = self.pool.lock().ok()?;
        let at = pool.iter().position(|(a, _)| *a == alg)?;
        Some(pool.swap_remove(at).1)
    }

    fn give_back(&self, alg: SigAlg, ctx: PkeyCtx<Public>) {
        if let Ok(mut pool) = self.pool.lock() {
            if pool.len() < POOL_MAX {
                pool.push((alg, ctx));
            }
        }
    }

    /// A context bound to this key for verifying `alg` over a digest.
    fn fresh(&self, alg: SigAlg) -> Option<PkeyCtx<Public>> {
        let mut ctx = PkeyCtx::new(&self.key).ok()?;
        ctx.verify_init().ok()?;
        if alg.key_kind() == KeyKind::Rsa {
            ctx.set_rsa_padding(openssl::rsa::Padding::PKCS1).ok()?;
        }
        ctx.set_signature_md(alg.hash().evp_md()).ok()?;
        Some(ctx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{sign, verify};
    use openssl::pkey::Private;

    fn public(k: &PKey<Private>) -> PKey<Public> {
        PKey::public_key_from_pem(&k.public_key_to_pem().unwrap()).unwrap()
    }

    impl PreparedKey {
        fn pooled(&self) -> usize {
            self.pool.lock().unwrap().len()
        }
    }

    /// Every algorithm, right and wrong data, key and key type, and a
    /// mangled value: the prepared path answers as `crypto::verify` does,
    /// and again on the contexts it kept.
    #[test]
    fn answers_as_the_one_shot_verify() {
        let rsa = PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap();
        let ec = PKey::ec_gen("prime256v1").unwrap();
        let other_ec = PKey::ec_gen("prime256v1").unwrap();
        let prepared = [
            PreparedKey::new(public(&rsa)),
            PreparedKey::new(public(&ec)),
            PreparedKey::new(public(&other_ec)),
        ];
        for alg in SigAlg::ALL {
            let key = if alg.is_ecdsa() { &ec } else { &rsa };
            let good = sign(key, alg, b"signed info").unwrap();
            let mut flipped = good.clone();
            if let Some(b) = flipped.last_mut() {
                *b ^= 1;
            }
            let short = good.get(1..).unwrap().to_vec();
            for round in 0..2 {
                for p in &prepared {
                    for (data, sig) in [
                        (&b"signed info"[..], &good),
                        (&b"signed infO"[..], &good),
                        (&b"signed info"[..], &flipped),
                        (&b"signed info"[..], &short),
                        (&b""[..], &good),
                    ] {
                        assert_eq!(
                            p.verify(alg, data, sig),
                            verify(p.pkey(), alg, data, sig),
                            "{alg:?}, round {round}"
                        );
                    }
                }
            }
            let p = if alg.is_ecdsa() {
                &prepared[1]
            } else {
                &prepared[0]
            };
            assert!(p.verify(alg, b"signed info", &good), "{alg:?}");
        }
        // One context per algorithm was kept, reused on the second round.
        assert_eq!(prepared[0].pooled(), 4);
        assert_eq!(prepared[1].pooled(), 3);
        assert_eq!(prepared[2].pooled(), 0);
    }

    /// A refusal leaves no context behind, and a good signature still
    /// verifies after it.
    #[test]
    fn a_refusal_does_not_poison_the_next_check() {
        let rsa = PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap();
        let p = PreparedKey::new(public(&rsa));
        let good = sign(&rsa, SigAlg::RsaSha256, b"x").unwrap();
        assert!(p.verify(SigAlg::RsaSha256, b"x", &good));
        assert_eq!(p.pooled(), 1);
        assert!(!p.verify(SigAlg::RsaSha256, b"y", &good));
        assert!(!p.verify(SigAlg::RsaSha256, b"x", &[0u8; 256]));
        assert!(!p.verify(SigAlg::RsaSha256, b"x", &[]));
        assert_eq!(p.pooled(), 0);
        assert!(p.verify(SigAlg::RsaSha256, b"x", &good));
        assert!(!p.verify(SigAlg::RsaSha512, b"x", &good));
        assert_eq!(p.pooled(), 1);
    }

    /// Clones share one pool; threads verifying at once each get their own
    /// context, and the pool stays bounded.
    #[test]
    fn threads_share_the_pool_safely() {
        let rsa = PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap();
        let p = PreparedKey::new(public(&rsa));
        let good = sign(&rsa, SigAlg::RsaSha256, b"x").unwrap();
        let bad = sign(&rsa, SigAlg::RsaSha256, b"y").unwrap();
        std::thread::scope(|s| {
            for t in 0..(POOL_MAX + 4) {
                let (p, good, bad) = (p.clone(), &good, &bad);
                s.spawn(move || {
                    for i in 0..20 {
                        let (sig, want) = if (i + t) % 3 == 0 {
                            (bad, false)
                        } else {
                            (good, true)
                        };
                        assert_eq!(p.verify(SigAlg::RsaSha256, b"x", sig), want);
                    }
                });
            }
        });
        // A refused signature drops the context it used, so the last
        // refusals may have emptied the pool: bounded is what holds here.
        assert!(p.pooled() <= POOL_MAX);
        assert!(p.verify(SigAlg::RsaSha256, b"x", &good));
        assert!((1..=POOL_MAX).contains(&p.pooled()));
    }
}
