//! The login token that `/ha/redeem` hands to HA's `command_line` hook: a
//! compact JWS (RFC 7515) with HS256 (RFC 7518 §3.2), at most 60 s long,
//! for one HA instance (`aud`) and one username (`sub`).
//!
//! The MAC key is derived from the per-instance hook secret,
//! `HMAC-SHA256(secret, "samlhub-ha-token-v1")`, so the secret itself never
//! keys anything that leaves the hub. Both hook forms (`samlhub ha-verify` and
//! `contrib/ha/samlhub_hook.py`) verify exactly what [`verify`] verifies.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::sign::Signer;
use serde::{Deserialize, Serialize};

/// Longest lifetime a token may claim.
pub const MAX_LIFETIME_SECS: i64 = 60;
/// Clock difference tolerated between hub and HA.
pub const LEEWAY_SECS: i64 = 5;
const KEY_LABEL: &[u8] = b"samlhub-ha-token-v1";
const HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

/// HA's three groups (homeassistant/auth/const.py).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord)]
pub enum Group {
    #[serde(rename = "system-read-only")]
    ReadOnly,
    #[serde(rename = "system-users")]
    Users,
    #[serde(rename = "system-admin")]
    Admin,
}

impl Group {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "system-admin",
            Self::Users => "system-users",
            Self::ReadOnly => "system-read-only",
        }
    }
}

/// The token's claims.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    /// The HA instance id (`[[ha]] id`).
    pub aud: String,
    /// The HA username.
    pub sub: String,
    pub name: String,
    pub group: Group,
    pub local_only: bool,
    pub iat: i64,
    pub exp: i64,
    /// Unique per token.
    pub jti: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("token is not a compact JWS")]
    Format,
    #[error("token header is not HS256")]
    Algorithm,
    #[error("token signature does not verify with this hook secret")]
    Signature,
    #[error("token is for HA instance '{0}', not this one")]
    Audience(String),
    #[error("token is for another username")]
    Username,
    #[error("token expired")]
    Expired,
    #[error("token lifetime is over {MAX_LIFETIME_SECS} s or issued in the future")]
    Lifetime,
    #[error("token claims are malformed")]
    Claims,
    #[error("crypto: {0}")]
    Crypto(String),
}

/// The MAC key for a hook secret (the secret file's content, trimmed).
pub fn token_key(secret: &[u8]) -> Result<Vec<u8>, TokenError> {
    hmac(secret, KEY_LABEL)
}

fn hmac(key: &[u8], data: &[u8]) -> Result<Vec<u8>, TokenError> {
    let k = PKey::hmac(key).map_err(|e| TokenError::Crypto(e.to_string()))?;
    let mut s =
        Signer::new(MessageDigest::sha256(), &k).map_err(|e| TokenError::Crypto(e.to_string()))?;
    s.sign_oneshot_to_vec(data)
        .map_err(|e| TokenError::Crypto(e.to_string()))
}

/// Signs `claims` for the instance whose hook secret is `secret`.
pub fn mint(claims: &Claims, secret: &[u8]) -> Result<String, TokenError> {
    let key = token_key(secret)?;
    let payload = serde_json::to_vec(claims).map_err(|_| TokenError::Claims)?;
    let signing_input = format!("{}.{}", B64.encode(HEADER), B64.encode(payload));
    let mac = hmac(&key, signing_input.as_bytes())?;
    Ok(format!("{signing_input}.{}", B64.encode(mac)))
}

/// Verifies signature, audience, lifetime and username; `now` in unix seconds.
pub fn verify(
    token: &str,
    secret: &[u8],
    audience: &str,
    username: &str,
    now: i64,
) -> Result<Claims, TokenError> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Format);
    };
    let header: serde_json::Value =
        serde_json::from_slice(&B64.decode(h).map_err(|_| TokenError::Format)?)
            .map_err(|_| TokenError::Format)?;
    if header.get("alg").and_then(|a| a.as_str()) != Some("HS256") {
        return Err(TokenError::Algorithm);
    }
    let key = token_key(secret)?;
    let expected = hmac(&key, format!("{h}.{p}").as_bytes())?;
    let given = B64.decode(sig).map_err(|_| TokenError::Format)?;
    if given.len() != expected.len() || !openssl::memcmp::eq(&given, &expected) {
        return Err(TokenError::Signature);
    }
    let claims: Claims = serde_json::from_slice(&B64.decode(p).map_err(|_| TokenError::Format)?)
        .map_err(|_| TokenError::Claims)?;
    if claims.aud != audience {
        return Err(TokenError::Audience(claims.aud.chars().take(64).collect()));
    }
    if claims.exp - claims.iat > MAX_LIFETIME_SECS || claims.iat > now + LEEWAY_SECS {
        return Err(TokenError::Lifetime);
    }
    if now >= claims.exp + LEEWAY_SECS {
        return Err(TokenError::Expired);
    }
    if claims.sub != username {
        return Err(TokenError::Username);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(now: i64) -> Claims {
        Claims {
            iss: "https://hub".into(),
            aud: "home".into(),
            sub: "alice".into(),
            name: "Alice".into(),
            group: Group::Admin,
            local_only: false,
            iat: now,
            exp: now + 60,
            jti: "j1".into(),
        }
    }

    #[test]
    fn round_trip_and_each_refusal() {
        let t = mint(&claims(1000), b"s3cret").unwrap();
        assert_eq!(
            verify(&t, b"s3cret", "home", "alice", 1010).unwrap().group,
            Group::Admin
        );
        assert_eq!(
            verify(&t, b"other", "home", "alice", 1010),
            Err(TokenError::Signature)
        );
        assert!(matches!(
            verify(&t, b"s3cret", "cabin", "alice", 1010),
            Err(TokenError::Audience(_))
        ));
        assert_eq!(
            verify(&t, b"s3cret", "home", "bob", 1010),
            Err(TokenError::Username)
        );
        assert_eq!(
            verify(&t, b"s3cret", "home", "alice", 1070),
            Err(TokenError::Expired)
        );
        let mut long = claims(1000);
        long.exp = 1000 + 3600;
        let t = mint(&long, b"s3cret").unwrap();
        assert_eq!(
            verify(&t, b"s3cret", "home", "alice", 1010),
            Err(TokenError::Lifetime)
        );
        let none = format!(
            "{}.{}.",
            B64.encode(r#"{"alg":"none"}"#),
            t.split('.').nth(1).unwrap()
        );
        assert_eq!(
            verify(&none, b"s3cret", "home", "alice", 1010),
            Err(TokenError::Algorithm)
        );
        assert_eq!(
            verify("a.b", b"s3cret", "home", "alice", 1010),
            Err(TokenError::Format)
        );
    }

    #[test]
    fn group_names_are_has() {
        assert_eq!(
            serde_json::to_string(&Group::ReadOnly).unwrap(),
            "\"system-read-only\""
        );
    }
}
