//! JWS compact serialisation (RFC 7515) for id_tokens, signed through
//! OpenSSL with RS256 (RSASSA-PKCS1-v1_5 SHA-256, RFC 7518 §3.3) or ES256
//! (ECDSA P-256 SHA-256, RFC 7518 §3.4), and the matching JWKs (RFC 7517).

use crate::crypto::{self, SigAlg};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use openssl::bn::BigNumContext;
use openssl::ec::PointConversionForm;
use openssl::pkey::{Id, PKey, Private};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    #[error("signing key type is not RSA or EC P-256")]
    KeyType,
    #[error("crypto: {0}")]
    Crypto(String),
}

fn openssl_err(e: openssl::error::ErrorStack) -> JwtError {
    JwtError::Crypto(e.to_string())
}

/// The JWS `alg` for a key.
pub fn alg_of(key: &PKey<Private>) -> Result<&'static str, JwtError> {
    match key.id() {
        Id::RSA => Ok("RS256"),
        Id::EC => Ok("ES256"),
        _ => Err(JwtError::KeyType),
    }
}

/// The signature algorithm behind a JWS `alg` we issue (RFC 7518 §3.1).
fn sig_alg(jws_alg: &str) -> Option<SigAlg> {
    match jws_alg {
        "RS256" => Some(SigAlg::RsaSha256),
        "ES256" => Some(SigAlg::EcdsaSha256),
        _ => None,
    }
}

/// ES256 values are R || S, 32 bytes each (RFC 7518 §3.4).
const ES256_LEN: usize = 64;

/// Signs `claims` (a JSON object) as a compact JWS with `kid` in the header.
pub fn sign(
    claims: &serde_json::Value,
    key: &PKey<Private>,
    kid: &str,
) -> Result<String, JwtError> {
    let alg = alg_of(key)?;
    let header = serde_json::json!({ "alg": alg, "typ": "JWT", "kid": kid });
    let input = format!(
        "{}.{}",
        B64.encode(header.to_string()),
        B64.encode(claims.to_string())
    );
    let sig_alg = sig_alg(alg).ok_or(JwtError::KeyType)?;
    if sig_alg.is_ecdsa() && crypto::ecdsa_half_len(key) * 2 != ES256_LEN {
        // ES256 is P-256 only; another curve would not fit R || S.
        return Err(JwtError::KeyType);
    }
    let sig = crypto::sign(key, sig_alg, input.as_bytes())
        .map_err(|e| JwtError::Crypto(e.to_string()))?;
    Ok(format!("{input}.{}", B64.encode(sig)))
}

/// The public JWK for a signing key.
pub fn jwk(key: &PKey<Private>, kid: &str) -> Result<serde_json::Value, JwtError> {
    match key.id() {
        Id::RSA => {
            let rsa = key.rsa().map_err(openssl_err)?;
            Ok(serde_json::json!({
                "kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
                "n": B64.encode(rsa.n().to_vec()), "e": B64.encode(rsa.e().to_vec()),
            }))
        }
        Id::EC => {
            let ec = key.ec_key().map_err(openssl_err)?;
            let mut ctx = BigNumContext::new().map_err(openssl_err)?;
            let point = ec
                .public_key()
                .to_bytes(ec.group(), PointConversionForm::UNCOMPRESSED, &mut ctx)
                .map_err(openssl_err)?;
            // 0x04 || X (32) || Y (32)
            let (x, y) = point
                .get(1..33)
                .zip(point.get(33..65))
                .ok_or(JwtError::KeyType)?;
            Ok(serde_json::json!({
                "kty": "EC", "use": "sig", "alg": "ES256", "kid": kid, "crv": "P-256",
                "x": B64.encode(x), "y": B64.encode(y),
            }))
        }
        _ => Err(JwtError::KeyType),
    }
}

/// One signing key and its schedule (unix seconds).
#[derive(Clone)]
pub struct RingKey {
    pub kid: String,
    pub key: PKey<Private>,
    /// Signs from this instant on.
    pub active_from: i64,
    /// Stops signing at this instant (a newer key took over).
    pub retired_at: Option<i64>,
}

/// The signing key at `now`: the newest key already active and not retired.
pub fn signer_at(keys: &[RingKey], now: i64) -> Option<&RingKey> {
    keys.iter()
        .filter(|k| k.active_from <= now && k.retired_at.is_none_or(|r| r > now))
        .max_by_key(|k| k.active_from)
}

/// Keys to publish at `now`: every key not yet retired (including ones that
/// will start signing later, so relying parties learn them first), and
/// retired keys until the tokens they signed (`max_token_secs`) expired.
pub fn published_at(keys: &[RingKey], now: i64, max_token_secs: i64) -> Vec<&RingKey> {
    keys.iter()
        .filter(|k| k.retired_at.is_none_or(|r| r + max_token_secs > now))
        .collect()
}

/// Verifies a JWS signed by one of `keys` (matched by `kid`) and returns its
/// claims; used for our own `id_token_hint`.
pub fn verify_with<'a>(
    token: &str,
    keys: impl Iterator<Item = (&'a str, &'a PKey<Private>)>,
) -> Option<serde_json::Value> {
    let mut parts = token.split('.');
    let (h, p, s) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let header: serde_json::Value = serde_json::from_slice(&B64.decode(h).ok()?).ok()?;
    let kid = header.get("kid")?.as_str()?;
    let alg = header.get("alg")?.as_str()?;
    let (_, key) = keys.into_iter().find(|(k, _)| *k == kid)?;
    if alg_of(key).ok()? != alg {
        return None;
    }
    let sig_alg = sig_alg(alg)?;
    let sig = B64.decode(s).ok()?;
    if sig_alg.is_ecdsa() && sig.len() != ES256_LEN {
        return None;
    }
    crypto::verify(key, sig_alg, format!("{h}.{p}").as_bytes(), &sig).then_some(())?;
    serde_json::from_slice(&B64.decode(p).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rk(kid: &str, from: i64, retired: Option<i64>) -> RingKey {
        let key = PKey::ec_gen("prime256v1").unwrap();
        RingKey {
            kid: kid.into(),
            key,
            active_from: from,
            retired_at: retired,
        }
    }

    #[test]
    fn rotation_schedule() {
        let keys = vec![rk("a", 0, Some(100)), rk("b", 100, None)];
        assert_eq!(signer_at(&keys, 50).unwrap().kid, "a");
        assert_eq!(signer_at(&keys, 100).unwrap().kid, "b");
        let p: Vec<_> = published_at(&keys, 50, 360)
            .iter()
            .map(|k| k.kid.clone())
            .collect();
        assert_eq!(p, ["a", "b"], "the next key is published before it signs");
        let p: Vec<_> = published_at(&keys, 459, 360)
            .iter()
            .map(|k| k.kid.clone())
            .collect();
        assert_eq!(p, ["a", "b"], "the old key stays while its tokens live");
        let p: Vec<_> = published_at(&keys, 460, 360)
            .iter()
            .map(|k| k.kid.clone())
            .collect();
        assert_eq!(p, ["b"]);
    }

    #[test]
    fn es256_signature_is_raw_r_s() {
        let k = rk("e", 0, None);
        let t = sign(&serde_json::json!({"sub": "x"}), &k.key, "e").unwrap();
        let sig = B64.decode(t.rsplit('.').next().unwrap()).unwrap();
        assert_eq!(sig.len(), 64);
        assert_eq!(jwk(&k.key, "e").unwrap()["crv"], "P-256");
    }

    #[test]
    fn own_tokens_verify_and_altered_ones_do_not() {
        let ec = rk("e", 0, None);
        let rsa = PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap();
        let claims = serde_json::json!({"sub": "x"});
        for (kid, key) in [("e", &ec.key), ("r", &rsa)] {
            let keys = || [("e", &ec.key), ("r", &rsa)].into_iter();
            let t = sign(&claims, key, kid).unwrap();
            assert_eq!(verify_with(&t, keys()), Some(claims.clone()), "{kid}");
            let (input, sig) = t.rsplit_once('.').unwrap();
            let mut longer = B64.decode(sig).unwrap();
            longer.push(0);
            let t2 = format!("{input}.{}", B64.encode(longer));
            assert_eq!(verify_with(&t2, keys()), None, "{kid}");
            assert_eq!(verify_with(&t, keys().filter(|(k, _)| *k != kid)), None);
            let other = if kid == "e" { &rsa } else { &ec.key };
            assert_eq!(verify_with(&t, [(kid, other)].into_iter()), None);
        }
        let p384 = PKey::ec_gen("secp384r1").unwrap();
        assert_eq!(sign(&claims, &p384, "p"), Err(JwtError::KeyType));
    }
}
