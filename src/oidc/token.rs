//! The token endpoint's rules (RFC 6749 §3.2, §4.1.3, §6): client
//! authentication, the grant type dispatch, the id_token (OIDC Core §2,
//! §3.1.3.6) and the JSON answer.

use super::client::{Client, Oidc};
use super::error::OAuthError;
use super::grant::{self, Grant, Issued};
use super::{claims, jwt};
use crate::store::Store;
use base64::Engine;
use openssl::pkey::{PKey, Private};
use serde::Deserialize;

/// id_tokens live this long (OIDC Core §2 `exp`; at most 5 min).
pub const ID_TOKEN_SECS: i64 = 300;

/// The token request's form (RFC 6749 §4.1.3, §6).
#[derive(Debug, Default, Deserialize)]
pub struct TokenRequest {
    pub grant_type: Option<String>,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
    pub refresh_token: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
}

/// The id and secret of an `Authorization: Basic` value (RFC 6749 §2.3.1:
/// each form-urlencoded before base64). Undecodable parts become empty and
/// so fail authentication.
pub fn basic_credentials(header: &str) -> Option<(String, String)> {
    let b = header.strip_prefix("Basic ")?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b.trim())
        .unwrap_or_default();
    let text = String::from_utf8(raw).unwrap_or_default();
    let (id, secret) = text.split_once(':').unwrap_or(("", ""));
    let dec = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Some((dec(id), dec(secret)))
}

/// RFC 6749 §2.3.1: client_secret_basic, client_secret_post, or a public
/// client naming itself; one method per request.
pub fn authenticate<'a>(
    settings: &'a Oidc,
    basic: Option<(String, String)>,
    f: &TokenRequest,
) -> Result<&'a Client, OAuthError> {
    let bad = |basic: bool, why: &str| OAuthError::InvalidClient {
        description: why.into(),
        basic,
    };
    let (id, secret, via_basic) = match (basic, &f.client_secret) {
        (Some(_), Some(_)) => {
            return Err(OAuthError::InvalidRequest(
                "use one client authentication method".into(),
            ))
        }
        (Some((id, s)), None) => (id, Some(s), true),
        (None, s) => (f.client_id.clone().unwrap_or_default(), s.clone(), false),
    };
    if f.client_id.as_deref().is_some_and(|c| c != id) {
        return Err(bad(
            via_basic,
            "client_id does not match the authenticated client",
        ));
    }
    let client = settings
        .client(&id)
        .ok_or_else(|| bad(via_basic, "unknown client"))?;
    match (client.is_public(), secret) {
        (true, None) => Ok(client),
        (true, Some(_)) => Err(bad(via_basic, "a public client has no secret")),
        (false, Some(s)) if client.secret_matches(&s) => Ok(client),
        (false, _) => Err(bad(via_basic, "client authentication failed")),
    }
}

/// Runs the grant the request names for an authenticated client.
/// `checked` sees the grant once its credential has passed the checks, and
/// before the store commit that redeems it (see [`grant::exchange_code`]).
pub async fn exchange<S: Store>(
    store: &S,
    settings: &Oidc,
    client: &Client,
    f: &TokenRequest,
    now: i64,
    checked: impl FnOnce(&Grant),
) -> Result<Issued, OAuthError> {
    match f.grant_type.as_deref() {
        Some("authorization_code") => {
            grant::exchange_code(
                store,
                settings,
                client,
                f.code.as_deref(),
                f.redirect_uri.as_deref(),
                f.code_verifier.as_deref(),
                now,
                checked,
            )
            .await
        }
        Some("refresh_token") => {
            let rt = f.refresh_token.as_deref();
            grant::refresh(store, settings, client, rt, now, checked).await
        }
        Some(_) => Err(OAuthError::UnsupportedGrantType(
            "only authorization_code and refresh_token".into(),
        )),
        None => Err(OAuthError::InvalidRequest("grant_type is missing".into())),
    }
}

/// The claims of the id_token for `g` (OIDC Core §2).
pub fn id_token_claims(
    g: &Grant,
    issuer: &str,
    mfa_contexts: &[&str],
    now: i64,
) -> serde_json::Map<String, serde_json::Value> {
    let mut c = claims::profile_claims(&g.identity, &g.sub, &g.scopes, g.email_verified);
    c.insert("iss".into(), issuer.into());
    c.insert("aud".into(), g.client_id.clone().into());
    c.insert("iat".into(), now.into());
    c.insert("exp".into(), (now + ID_TOKEN_SECS).into());
    c.insert("auth_time".into(), g.auth_time.into());
    if let Some(n) = &g.nonce {
        c.insert("nonce".into(), n.clone().into());
    }
    if let Some(acr) = &g.identity.authn_context {
        c.insert("acr".into(), acr.clone().into());
    }
    let amr = claims::amr(&g.identity, mfa_contexts);
    if !amr.is_empty() {
        c.insert("amr".into(), serde_json::json!(amr));
    }
    c
}

/// The id_token for `g`, ready to sign with the key that signs at `now`
/// ([`UnsignedIdToken::sign`] may run on another thread).
pub fn id_token(
    g: &Grant,
    issuer: &str,
    signer: Option<(String, PKey<Private>)>,
    now: i64,
) -> UnsignedIdToken {
    let claims = id_token_claims(g, issuer, crate::identity::DEFAULT_MFA_CONTEXTS, now);
    UnsignedIdToken { claims, signer }
}

/// An id_token's claims and the key to sign them with.
pub struct UnsignedIdToken {
    claims: serde_json::Map<String, serde_json::Value>,
    signer: Option<(String, PKey<Private>)>,
}

impl UnsignedIdToken {
    /// The signed JWT (RFC 7515 compact form).
    pub fn sign(self) -> Result<String, OAuthError> {
        let (kid, key) = self
            .signer
            .ok_or_else(|| OAuthError::Internal("no OIDC signing key is active".into()))?;
        jwt::sign(&serde_json::Value::Object(self.claims), &key, &kid)
            .map_err(|e| OAuthError::Internal(e.to_string()))
    }
}

/// The successful token response (RFC 6749 §5.1, OIDC Core §3.1.3.3).
pub fn response(issued: &Issued, id_token: &str) -> serde_json::Value {
    serde_json::json!({
        "access_token": issued.access_token,
        "token_type": "Bearer",
        "expires_in": issued.access_ttl.as_secs(),
        "refresh_token": issued.refresh_token,
        "id_token": id_token,
        "scope": issued.grant.scopes.join(" "),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_decoded() {
        let h = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("my%3Aapp:s%20p")
        );
        assert_eq!(basic_credentials(&h), Some(("my:app".into(), "s p".into())));
        assert_eq!(
            basic_credentials("Basic !!!"),
            Some((String::new(), String::new()))
        );
        assert_eq!(basic_credentials("Bearer x"), None);
    }
}
