//! RP-Initiated Logout 1.0 §2–§3: where the browser may go after the
//! session ends. Only a URI registered for the client, which is named by
//! `client_id` or by the audience of a valid `id_token_hint`; if both are
//! given they must agree.

use super::client::Oidc;

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
