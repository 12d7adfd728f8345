//! [`OAuthError`]: every way the provider refuses, carrying the error code
//! that RFC 6749 §4.1.2.1 / §5.2, RFC 6750 §3.1 and OIDC Core §3.1.2.6
//! define for it. How each is rendered (page, redirect, JSON) is decided by
//! the HTTP layer from the variant alone.

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// The authorization request cannot be answered by redirect: the client
    /// or its redirect URI is not established (RFC 6749 §4.1.2.1).
    #[error("authorize: {0}")]
    AuthorizePage(String),
    /// RFC 6749 §5.2 `invalid_request`.
    #[error("invalid_request: {0}")]
    InvalidRequest(String),
    /// RFC 6749 §5.2 `invalid_client`; `basic` when the client tried HTTP
    /// Basic, so the answer carries `WWW-Authenticate`.
    #[error("invalid_client: {description}")]
    InvalidClient { description: String, basic: bool },
    /// RFC 6749 §5.2 `invalid_grant`.
    #[error("invalid_grant: {0}")]
    InvalidGrant(String),
    /// RFC 6749 §5.2 `unsupported_grant_type`.
    #[error("unsupported_grant_type: {0}")]
    UnsupportedGrantType(String),
    /// RFC 6750 §3.1 `invalid_token` at the userinfo endpoint.
    #[error("invalid_token: {0}")]
    InvalidToken(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The person is signed in but may not use this client (its
    /// `required_groups`). Shown on samlhub's own page with the reason
    /// rather than bounced to the client with `error=access_denied` alone
    /// (RFC 6749 §4.1.2.1 lets the server decide; clients such as
    /// hass-oidc-auth ignore `error=` and show an unrelated message).
    #[error("access_denied: {0}")]
    AccessDenied(String),
    /// Signing or randomness failed.
    #[error("internal: {0}")]
    Internal(String),
}

impl OAuthError {
    /// The RFC error code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::AuthorizePage(_) | Self::InvalidRequest(_) => "invalid_request",
            Self::InvalidClient { .. } => "invalid_client",
            Self::InvalidGrant(_) => "invalid_grant",
            Self::UnsupportedGrantType(_) => "unsupported_grant_type",
            Self::InvalidToken(_) => "invalid_token",
            Self::Store(_) => "temporarily_unavailable",
            Self::AccessDenied(_) => "access_denied",
            Self::Internal(_) => "server_error",
        }
    }
}

impl From<crate::crypto::RngError> for OAuthError {
    fn from(e: crate::crypto::RngError) -> Self {
        Self::Internal(e.to_string())
    }
}
