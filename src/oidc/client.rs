//! The registered relying parties and the provider's settings: who may
//! ask for tokens, with which redirect URIs and scopes, and how id_tokens
//! are signed. Built from `[oidc]` by `config::oidc`.

use std::time::Duration;

/// Scopes the provider knows.
pub const SCOPES: &[&str] = &["openid", "profile", "email", "groups", "offline_access"];

/// The id_token signature algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdTokenAlg {
    Rs256,
    Es256,
}

impl IdTokenAlg {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Es256 => "ES256",
        }
    }
}

/// A registered relying party.
#[derive(Clone)]
pub struct Client {
    pub client_id: String,
    /// SHA-256 of the secret; `None` for a public client.
    pub secret_sha256: Option<[u8; 32]>,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    /// Scopes it may receive (always including `openid`).
    pub scopes: Vec<String>,
    /// IdPs its users may come from; empty = any.
    pub idps: Vec<String>,
    /// Deprecated single-group form; `config::oidc` folds the old
    /// `required_group` key into [`Client::required_groups`] and leaves this
    /// `None`. Still honoured if set.
    pub required_group: Option<String>,
    /// A confidential client must use PKCE too (`require_pkce`); a public
    /// client always must (RFC 9700 §2.1.1).
    pub require_pkce: bool,
    /// The person must be in at least one of these groups; empty = anyone.
    pub required_groups: Vec<String>,
    /// Where the portal's tile for this application links (`home_url`).
    pub home_url: Option<String>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("client_id", &self.client_id)
            .field("public", &self.secret_sha256.is_none())
            .field("redirect_uris", &self.redirect_uris)
            .finish_non_exhaustive()
    }
}

impl Client {
    pub fn is_public(&self) -> bool {
        self.secret_sha256.is_none()
    }

    /// Whether an authorization request must carry a PKCE challenge.
    pub fn needs_pkce(&self) -> bool {
        self.is_public() || self.require_pkce
    }

    /// Why someone in `groups` may not use this client, or `None` when
    /// they may: at least one of `required_groups` (and the deprecated
    /// `required_group`) must be among their groups.
    pub fn refuses_groups(&self, groups: &[String]) -> Option<String> {
        let required: Vec<&String> = self
            .required_groups
            .iter()
            .chain(self.required_group.iter())
            .collect();
        if required.is_empty() || required.iter().any(|g| groups.contains(g)) {
            return None;
        }
        let names: Vec<&str> = required.iter().map(|g| g.as_str()).collect();
        Some(format!(
            "the application '{}' is only for members of {} and your sign-in carries none of them",
            self.client_id,
            names.join(", ")
        ))
    }

    /// Constant-time check of a presented secret.
    pub fn secret_matches(&self, presented: &str) -> bool {
        match &self.secret_sha256 {
            None => false,
            Some(h) => openssl::memcmp::eq(&openssl::sha::sha256(presented.as_bytes()), h),
        }
    }
}

/// The provider settings.
#[derive(Debug, Clone)]
pub struct Oidc {
    pub id_token_alg: IdTokenAlg,
    pub access_token_lifetime: Duration,
    pub refresh_token_lifetime: Duration,
    pub clients: Vec<Client>,
}

impl Default for Oidc {
    fn default() -> Self {
        Self {
            id_token_alg: IdTokenAlg::Rs256,
            access_token_lifetime: Duration::from_secs(600),
            refresh_token_lifetime: Duration::from_secs(8 * 3600),
            clients: Vec::new(),
        }
    }
}

impl Oidc {
    pub fn client(&self, id: &str) -> Option<&Client> {
        self.clients.iter().find(|c| c.client_id == id)
    }
}
