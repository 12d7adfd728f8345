//! [`Identity`]: the one type that crosses from `saml` to the session, and
//! later to `oidc` and `ha`. It is built only from a verified assertion.
//! Also the list of authentication contexts that count as multi-factor, which
//! both the HA policy and the id_token `amr` claim read.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Who logged in, as the IdP asserted it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// The configured IdP id (`[[idp]] id`), never the message's Issuer.
    pub idp: String,
    /// The IdP's stable identifier for the person (persistent NameID, or the
    /// profile's subject attribute such as Entra's objectidentifier). Only
    /// meaningful together with `idp`: see [`Identity::scoped_subject`].
    pub subject: String,
    /// The NameID value and Format, when the assertion carried one.
    pub name_id: Option<String>,
    pub name_id_format: Option<String>,
    pub username: Option<String>,
    pub name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub email: Option<String>,
    pub groups: Vec<String>,
    /// AuthnContextClassRef of the AuthnStatement.
    pub authn_context: Option<String>,
    /// AuthnInstant, unix seconds.
    pub authn_instant: Option<i64>,
    /// SessionNotOnOrAfter, unix seconds.
    pub session_not_on_or_after: Option<i64>,
    /// Every attribute of the verified assertion, by Name.
    pub attributes: BTreeMap<String, Vec<String>>,
}

impl Identity {
    /// A key that is unique across IdPs: the same NameID at two IdPs is two
    /// people.
    pub fn scoped_subject(&self) -> String {
        format!("{}|{}", self.idp, self.subject)
    }
}

/// Entra's claim listing the authentication methods used.
pub const ENTRA_AMR: &str = "http://schemas.microsoft.com/claims/authnmethodsreferences";

/// AuthnContextClassRef / amr values that mean "more than one factor".
pub const DEFAULT_MFA_CONTEXTS: &[&str] = &[
    "http://schemas.microsoft.com/claims/multipleauthn",
    "urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorContract",
    "urn:oasis:names:tc:SAML:2.0:ac:classes:TimeSyncToken",
    "urn:oasis:names:tc:SAML:2.0:ac:classes:Smartcard",
    "urn:oasis:names:tc:SAML:2.0:ac:classes:SmartcardPKI",
    "https://refeds.org/profile/mfa",
];

impl Identity {
    /// Whether the sign-in used more than one factor: the AuthnContextClassRef
    /// (SAML Core §2.7.2.2) or one of Entra's amr values is in `contexts`.
    pub fn used_mfa<S: AsRef<str>>(&self, contexts: &[S]) -> bool {
        let ok = |v: &str| contexts.iter().any(|m| m.as_ref() == v);
        self.authn_context.as_deref().is_some_and(ok)
            || self
                .attributes
                .get(ENTRA_AMR)
                .into_iter()
                .flatten()
                .any(|v| ok(v))
    }
}

/// SAML Core §8.3.8: a transient NameID is a one-time identifier.
pub const NAMEID_TRANSIENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient";
/// SAML Core §8.3.2: an email address, which may be reassigned or change.
pub const NAMEID_EMAIL: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";

/// Why a subject cannot key anything that must outlive the sign-in (a Home
/// Assistant username binding, an OIDC `sub`). The Display text is shown
/// to the person and names the fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UnstableSubject {
    #[error("the identity provider sent a transient NameID, which changes at every sign-in; configure it to send a persistent NameID, or set [idp.attributes] subject to an attribute that never changes")]
    Transient,
    #[error("the identity provider sent an email address as NameID, which can change or be reassigned; configure it to send a persistent NameID, or set [idp.attributes] subject to an attribute that never changes")]
    Email,
}

impl Identity {
    /// Whether the subject came from a NameID whose Format (SAML Core §8.3)
    /// says it is not stable. A subject taken from a configured attribute is
    /// never refused here.
    pub fn unstable_subject(&self) -> Option<UnstableSubject> {
        if self.name_id.as_deref() != Some(self.subject.as_str()) {
            return None;
        }
        match self.name_id_format.as_deref() {
            Some(NAMEID_TRANSIENT) => Some(UnstableSubject::Transient),
            Some(NAMEID_EMAIL) => Some(UnstableSubject::Email),
            _ => None,
        }
    }
}
