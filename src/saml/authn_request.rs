//! AuthnRequest (SAML Core §3.4.1). Its HTTP-Redirect encoding, with a
//! detached signature over the query string, is in [`super::binding`].

use super::metadata::{BINDING_POST, NAMEID_PERSISTENT};
use super::response::fmt_time;
use crate::xml::{escape, ns};
use time::OffsetDateTime;

pub use super::binding::{redirect_url, BindingError};

/// The parts of our AuthnRequest.
#[derive(Debug, Clone)]
pub struct AuthnRequest<'a> {
    /// ≥128 random bits, starting with a letter or `_` (an NCName).
    pub id: &'a str,
    pub issue_instant: OffsetDateTime,
    pub destination: &'a str,
    pub acs_url: &'a str,
    pub sp_entity_id: &'a str,
    pub force_authn: bool,
}

impl AuthnRequest<'_> {
    pub fn to_xml(&self) -> String {
        format!(
            "<samlp:AuthnRequest xmlns:samlp=\"{samlp}\" xmlns:saml=\"{saml}\" ID=\"{id}\" Version=\"2.0\" IssueInstant=\"{ii}\" Destination=\"{dest}\" AssertionConsumerServiceURL=\"{acs}\" ProtocolBinding=\"{post}\"{force}><saml:Issuer>{issuer}</saml:Issuer><samlp:NameIDPolicy Format=\"{fmt}\" AllowCreate=\"true\"/></samlp:AuthnRequest>",
            samlp = ns::SAMLP,
            saml = ns::SAML,
            id = escape(self.id),
            ii = fmt_time(self.issue_instant),
            dest = escape(self.destination),
            acs = escape(self.acs_url),
            post = BINDING_POST,
            force = if self.force_authn { " ForceAuthn=\"true\"" } else { "" },
            issuer = escape(self.sp_entity_id),
            fmt = NAMEID_PERSISTENT,
        )
    }
}
