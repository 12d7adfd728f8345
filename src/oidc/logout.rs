//! RP-Initiated Logout 1.0 §2–§3: whether the person must confirm, and
//! where the browser may go after the session ends. Without a valid
//! `id_token_hint` for the current session the OP asks the person first
//! (§2: "the OP SHOULD ask the End-User"), so a cross-site link cannot sign
//! anyone out. The redirect goes only to a URI registered for the client,
//! which is named by `client_id` or by the audience of a valid hint; if both
//! are given they must agree.

use super::client::Oidc;
use crate::identity::Identity;

/// Whether the session may end without asking: a signed id_token_hint of
/// ours whose `sub` is the signed-in person's.
pub fn hint_is_for(hint: Option<&serde_json::Value>, who: &Identity) -> bool {
    let Some(sub) = hint.and_then(|c| c.get("sub")).and_then(|s| s.as_str()) else {
        return false;
    };
    super::claims::subject(who).is_ok_and(|mine| mine == sub)
}

/// The value the confirmation form carries: bound to the session cookie,
/// which a cross-site page cannot read.
pub fn confirm_token(session_cookie: &str) -> String {
    crate::crypto::sha256_hex(&format!("end_session-confirm:{session_cookie}"))
}

/// Whether `presented` is the confirmation for this session (constant time).
pub fn confirmed(session_cookie: &str, presented: Option<&str>) -> bool {
    let want = confirm_token(session_cookie);
    presented.is_some_and(|p| {
        p.len() == want.len() && openssl::memcmp::eq(p.as_bytes(), want.as_bytes())
    })
}

/// The registered post-logout redirect URI to use, if any.
pub fn post_logout_target(
    settings: &Oidc,
    client_id: Option<&str>,
    hint_audience: Option<&str>,
    requested: Option<&str>,
) -> Option<String> {
    let client_id = match (client_id, hint_audience) {
        (Some(c), Some(h)) if c != h => None,
        (c, h) => c.or(h),
    }?;
    let client = settings.client(client_id)?;
    let uri = requested?;
    client
        .post_logout_redirect_uris
        .iter()
        .any(|r| r == uri)
        .then(|| uri.to_owned())
}
