//! [`Identity`]: the one type that crosses from `saml` to the session, and
//! later to `oidc` and `ha`. It is built only from a verified assertion.

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
