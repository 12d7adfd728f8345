//! Claims for id_tokens and userinfo (OIDC Core §2, §5.1, §5.4) from a SAML
//! [`Identity`], and the stable `sub`.

use crate::identity::Identity;
use base64::Engine;
use serde_json::{json, Map, Value};

pub use crate::identity::{NAMEID_EMAIL, NAMEID_TRANSIENT};

/// A stable `sub` (OIDC Core §2: never reassigned): SHA-256 of the IdP id and
/// its persistent identifier. A transient or email NameID is refused as the
/// source, since neither names the same person for ever.
pub fn subject(who: &Identity) -> Result<String, String> {
    if let Some(why) = who.unstable_subject() {
        return Err(why.to_string());
    }
    let d = openssl::sha::sha256(who.scoped_subject().as_bytes());
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(d))
}

/// amr values (RFC 8176) from the AuthnContextClassRef.
pub fn amr(who: &Identity, mfa_contexts: &[&str]) -> Vec<&'static str> {
    let ctx = who.authn_context.as_deref().unwrap_or("");
    let mfa = who.used_mfa(mfa_contexts);
    let mut out = Vec::new();
    if ctx.ends_with(":Password") || ctx.ends_with(":PasswordProtectedTransport") {
        out.push("pwd");
    }
    if mfa {
        out.push("mfa");
    }
    out
}

/// The claims a scope set releases about a person (OIDC Core §5.4).
pub fn profile_claims(
    who: &Identity,
    sub: &str,
    scopes: &[String],
    email_verified: bool,
) -> Map<String, Value> {
    let has = |s: &str| scopes.iter().any(|x| x == s);
    let mut c = Map::new();
    c.insert("sub".into(), json!(sub));
    if has("profile") {
        let mut put = |k: &str, v: &Option<String>| {
            if let Some(v) = v {
                c.insert(k.into(), json!(v));
            }
        };
        put("name", &who.name);
        put("preferred_username", &who.username);
        put("given_name", &who.given_name);
        put("family_name", &who.family_name);
    }
    if has("email") {
        if let Some(e) = &who.email {
            c.insert("email".into(), json!(e));
            c.insert("email_verified".into(), json!(email_verified));
        }
    }
    if has("groups") {
        c.insert("groups".into(), json!(who.groups));
    }
    c
}
