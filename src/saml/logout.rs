//! Single Logout messages (SAML Core §3.7; Profiles §4.4), pure: building
//! our LogoutRequest and LogoutResponse, choosing the IdP's endpoint and
//! binding, encoding them (Bindings §3.4 Redirect with a query signature,
//! §3.5 POST with an enveloped one), and reading and checking the ones an
//! IdP sends us. What happens to sessions is [`super::slo`]'s business.
//!
//! A received message passes, in order: one strict parse; the root is a
//! `samlp:LogoutRequest` or `samlp:LogoutResponse` of Version 2.0; the
//! signature (the query signature of the Redirect binding, Bindings
//! §3.4.4.1, or an enveloped signature on the root under the SAML profile,
//! Core §5.4) with the keys configured for the IdP the caller chose; Issuer
//! is that IdP (Profiles §4.4.4.1, §4.4.4.2); Destination is our SLO URL
//! (Bindings §3.4.5.2, §3.5.5.2); IssueInstant within the clock skew and no
//! older than [`MAX_AGE`]; a request's NotOnOrAfter not passed (Core
//! §3.7.1); a response's InResponseTo names the request we sent and its
//! status is Success (Core §3.2.2). Replay is the caller's (one-time IDs).

use super::binding::{self, BindingError, MessageKind, RedirectMessage};
use super::dsig::{self, DsigError, SigAlg};
use super::metadata::{Endpoint, BINDING_POST, BINDING_REDIRECT};
use super::response::{fmt_time, parse_time, IdpTrust};
use super::sign::{sign_enveloped, SignOptions};
use crate::xml::{escape, ns, parse, Document, ElemId, Limits, XmlError};
use base64::Engine;
use openssl::pkey::{PKey, Private};
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

pub const STATUS_SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
pub const STATUS_RESPONDER: &str = "urn:oasis:names:tc:SAML:2.0:status:Responder";
pub const STATUS_REQUESTER: &str = "urn:oasis:names:tc:SAML:2.0:status:Requester";
pub const STATUS_PARTIAL_LOGOUT: &str = "urn:oasis:names:tc:SAML:2.0:status:PartialLogout";

/// A logout message older than this (by its IssueInstant, beyond the clock
/// skew) is refused: it travels through one browser hop.
pub const MAX_AGE: Duration = Duration::minutes(5);
/// How long our LogoutRequest is valid (its NotOnOrAfter).
pub const REQUEST_LIFETIME: Duration = Duration::minutes(5);

/// What a session needs to be logged out at its IdP: the NameID exactly as
/// asserted (SAML Core §2.2.3) and the AuthnStatement's SessionIndex
/// (§2.7.2). Kept in the session record; never logged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SloLink {
    pub name_id: String,
    pub format: Option<String>,
    pub name_qualifier: Option<String>,
    pub sp_name_qualifier: Option<String>,
    pub session_index: Option<String>,
}

/// Why a logout message was refused or could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogoutError {
    #[error("logout message: {0}")]
    Binding(#[from] BindingError),
    #[error("logout message is not valid base64 (SAML Bindings §3.5.4)")]
    Base64,
    #[error("logout message is {0} bytes encoded, over the limit")]
    TooLarge(usize),
    #[error("XML refused: {0}")]
    Xml(#[from] XmlError),
    #[error("root element is <{found}>, expected samlp:{expected} (SAML Core §3.7)")]
    Root {
        found: String,
        expected: &'static str,
    },
    #[error("{0} Version is not '2.0' (SAML Core §3.2.1)")]
    Version(&'static str),
    #[error("{0} has no {1} (SAML Core §3.2.1, §3.7.1)")]
    Missing(&'static str, &'static str),
    #[error("{0} signature: {1}")]
    Signature(&'static str, DsigError),
    #[error("{0} is not signed (SAML Profiles §4.4.4.1, §4.4.4.2; Bindings §3.4.4.1)")]
    Unsigned(&'static str),
    #[error(
        "{what} Issuer '{found}' is not the IdP's entityID '{expected}' (SAML Profiles §4.4.4.1)"
    )]
    Issuer {
        what: &'static str,
        found: String,
        expected: String,
    },
    #[error("no configured IdP has the entityID '{0}' (SAML Profiles §4.4.4.1)")]
    UnknownIssuer(String),
    #[error("{what} Destination '{found}' is not our SLO URL '{expected}' (SAML Bindings §3.4.5.2, §3.5.5.2)")]
    Destination {
        what: &'static str,
        found: String,
        expected: String,
    },
    #[error("{what} IssueInstant {at} is {ahead}s in the future (skew {skew}s) (SAML Core §1.3.3, §3.2.1)")]
    Future {
        what: &'static str,
        at: String,
        ahead: i64,
        skew: i64,
    },
    #[error("{what} IssueInstant {at} is {behind}s old, over the {max}s limit (SAML Core §3.2.1)")]
    Stale {
        what: &'static str,
        at: String,
        behind: i64,
        max: i64,
    },
    #[error("LogoutRequest expired: NotOnOrAfter {0} has passed (SAML Core §3.7.1)")]
    Expired(String),
    #[error("{attr} '{value}' is not an xs:dateTime in UTC (SAML Core §1.3.3)")]
    BadTime { attr: &'static str, value: String },
    #[error("LogoutResponse InResponseTo {0} is not a logout request of ours that is still waiting (SAML Core §3.2.2; Profiles §4.4.4.2)")]
    InResponseTo(String),
    #[error("IdP answered the logout with status '{0}' (SAML Core §3.2.2.2, §3.7.3.2)")]
    Status(String),
    #[error("LogoutRequest carries {0} instead of a NameID; only a plain NameID is supported (SAML Core §3.7.1)")]
    Identifier(&'static str),
    #[error("LogoutRequest {0} was already processed (replay; SAML Profiles §4.4.4.1)")]
    Replay(String),
    #[error("building the logout message: {0}")]
    Build(String),
}

/// Which logout message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    Request,
    Response,
}

impl Which {
    fn local(self) -> &'static str {
        match self {
            Self::Request => "LogoutRequest",
            Self::Response => "LogoutResponse",
        }
    }
    fn kind(self) -> MessageKind {
        match self {
            Self::Request => MessageKind::Request,
            Self::Response => MessageKind::Response,
        }
    }
}

/// How a received message arrived, which decides how its signature is
/// checked.
pub enum Arrived {
    /// HTTP-Redirect: the decoded query, with its detached signature.
    Redirect(RedirectMessage),
    /// HTTP-POST: the base64-decoded form value.
    Post(Vec<u8>),
}

impl Arrived {
    /// Decodes the POST binding's value (SAML Bindings §3.5.4).
    pub fn post(value: &str) -> Result<Self, LogoutError> {
        let limit = Limits::MESSAGE.max_encoded_bytes();
        if value.len() > limit {
            return Err(LogoutError::TooLarge(value.len()));
        }
        super::b64_decode_lenient(value)
            .map(Self::Post)
            .ok_or(LogoutError::Base64)
    }

    fn xml(&self) -> &[u8] {
        match self {
            Self::Redirect(m) => &m.xml,
            Self::Post(x) => x,
        }
    }
}

/// A parsed logout message whose signature is not yet checked. Only the
/// IdP-choosing values are readable before [`Opened::verify`].
pub struct Opened {
    doc: Document,
    which: Which,
    arrived: Arrived,
}

/// What the caller expects of a message.
pub struct Expect<'a> {
    /// Our SLO URL.
    pub slo_url: &'a str,
    pub now: OffsetDateTime,
}

/// A verified LogoutRequest from the IdP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedRequest {
    pub id: String,
    pub issue_instant: OffsetDateTime,
    pub name_id: String,
    pub format: Option<String>,
    pub session_indexes: Vec<String>,
    /// Keep the replay key until then.
    pub replay_until: OffsetDateTime,
}

impl Opened {
    /// One strict parse; the root must be the expected message.
    pub fn parse(arrived: Arrived, which: Which) -> Result<Self, LogoutError> {
        let doc = parse(arrived.xml(), &Limits::MESSAGE)?;
        let root = doc.root();
        if !doc.is(root, ns::SAMLP, which.local()) {
            return Err(LogoutError::Root {
                found: doc.qname(root).chars().take(100).collect(),
                expected: which.local(),
            });
        }
        if let Arrived::Redirect(m) = &arrived {
            if m.kind != which.kind() {
                return Err(LogoutError::Root {
                    found: "(the other query parameter)".into(),
                    expected: which.local(),
                });
            }
        }
        Ok(Self {
            doc,
            which,
            arrived,
        })
    }

    /// The Issuer, unverified: only to pick the IdP whose keys then decide.
    pub fn claimed_issuer(&self) -> Option<String> {
        let root = self.doc.root();
        self.doc
            .child(root, ns::SAML, "Issuer")
            .map(|i| self.doc.text(i).trim().to_owned())
    }

    /// InResponseTo, unverified: only to find the pending request.
    pub fn claimed_in_response_to(&self) -> Option<&str> {
        self.doc.attr(self.doc.root(), "InResponseTo")
    }

    /// RelayState of a Redirect-binding message.
    pub fn relay_state(&self) -> Option<&str> {
        match &self.arrived {
            Arrived::Redirect(m) => m.relay_state.as_deref(),
            Arrived::Post(_) => None,
        }
    }

    /// The checks every logout message passes (module header).
    fn verify_common(&self, idp: &IdpTrust<'_>, expect: &Expect<'_>) -> Result<(), LogoutError> {
        let doc = &self.doc;
        let root = doc.root();
        let what = self.which.local();
        if doc.attr(root, "Version") != Some("2.0") {
            return Err(LogoutError::Version(what));
        }
        if doc.attr(root, "ID").is_none() {
            return Err(LogoutError::Missing(what, "ID"));
        }
        match &self.arrived {
            Arrived::Redirect(m) => {
                if m.signature.is_none() {
                    return Err(LogoutError::Unsigned(what));
                }
                binding::verify_redirect_signature(m, idp.keys, idp.allow_sha1).map_err(
                    |e| match e {
                        BindingError::Signature(d) => LogoutError::Signature(what, d),
                        other => LogoutError::Binding(other),
                    },
                )?;
            }
            Arrived::Post(_) => {
                if !dsig::has_signature(doc, root) {
                    return Err(LogoutError::Unsigned(what));
                }
                dsig::verify_enveloped(doc, root, idp.keys, idp.allow_sha1)
                    .map_err(|e| LogoutError::Signature(what, e))?;
            }
        }
        // From here on the message is the IdP's.
        let issuer = self
            .claimed_issuer()
            .ok_or(LogoutError::Missing(what, "Issuer"))?;
        if issuer != idp.entity_id {
            return Err(LogoutError::Issuer {
                what,
                found: issuer.chars().take(200).collect(),
                expected: idp.entity_id.to_owned(),
            });
        }
        let dest = doc
            .attr(root, "Destination")
            .ok_or(LogoutError::Missing(what, "Destination"))?;
        if dest != expect.slo_url {
            return Err(LogoutError::Destination {
                what,
                found: dest.chars().take(200).collect(),
                expected: expect.slo_url.to_owned(),
            });
        }
        let at = self.issue_instant()?;
        let skew = idp.clock_skew;
        if at > expect.now + skew {
            return Err(LogoutError::Future {
                what,
                at: fmt_time(at),
                ahead: (at - expect.now).whole_seconds(),
                skew: skew.whole_seconds(),
            });
        }
        if at + MAX_AGE + skew < expect.now {
            return Err(LogoutError::Stale {
                what,
                at: fmt_time(at),
                behind: (expect.now - at).whole_seconds(),
                max: (MAX_AGE + skew).whole_seconds(),
            });
        }
        Ok(())
    }

    fn issue_instant(&self) -> Result<OffsetDateTime, LogoutError> {
        time_attr(&self.doc, self.doc.root(), "IssueInstant")?
            .ok_or(LogoutError::Missing(self.which.local(), "IssueInstant"))
    }

    /// Verifies an IdP's LogoutRequest and reads whom it logs out.
    pub fn verify_request(
        &self,
        idp: &IdpTrust<'_>,
        expect: &Expect<'_>,
    ) -> Result<VerifiedRequest, LogoutError> {
        self.verify_common(idp, expect)?;
        let doc = &self.doc;
        let root = doc.root();
        let skew = idp.clock_skew;
        let mut replay_until = self.issue_instant()? + MAX_AGE + skew;
        if let Some(noa) = time_attr(doc, root, "NotOnOrAfter")? {
            if expect.now - skew >= noa {
                return Err(LogoutError::Expired(fmt_time(noa)));
            }
            // A far-future NotOnOrAfter cannot overflow the clock.
            replay_until = replay_until.max(noa.checked_add(skew).unwrap_or(noa));
        }
        for (local, name) in [("BaseID", "a BaseID"), ("EncryptedID", "an EncryptedID")] {
            if doc.child(root, ns::SAML, local).is_some() {
                return Err(LogoutError::Identifier(name));
            }
        }
        let name_id = doc
            .child(root, ns::SAML, "NameID")
            .ok_or(LogoutError::Missing("LogoutRequest", "NameID"))?;
        let session_indexes = doc
            .children_named(root, ns::SAMLP, "SessionIndex")
            .map(|s| super::content::xml_trim(&doc.text(s)).to_owned())
            .collect();
        Ok(VerifiedRequest {
            id: doc.attr(root, "ID").unwrap_or_default().to_owned(),
            issue_instant: self.issue_instant()?,
            // Trimmed as the login's NameID was (XML whitespace only), so
            // the two find the same index entry.
            name_id: super::content::xml_trim(&doc.text(name_id)).to_owned(),
            format: doc.attr(name_id, "Format").map(str::to_owned),
            session_indexes,
            replay_until,
        })
    }

    /// Verifies the IdP's LogoutResponse to our request `request_id`.
    pub fn verify_response(
        &self,
        idp: &IdpTrust<'_>,
        expect: &Expect<'_>,
        request_id: &str,
    ) -> Result<(), LogoutError> {
        self.verify_common(idp, expect)?;
        let doc = &self.doc;
        let root = doc.root();
        if doc.attr(root, "InResponseTo") != Some(request_id) {
            return Err(LogoutError::InResponseTo(quoted(
                doc.attr(root, "InResponseTo"),
            )));
        }
        let code = doc
            .child(root, ns::SAMLP, "Status")
            .and_then(|s| doc.child(s, ns::SAMLP, "StatusCode"))
            .and_then(|c| doc.attr(c, "Value"));
        match code {
            Some(STATUS_SUCCESS) => Ok(()),
            other => Err(LogoutError::Status(
                other.unwrap_or("(none)").chars().take(200).collect(),
            )),
        }
    }
}

/// `'value'` bounded, or `(none)`.
pub fn quoted(v: Option<&str>) -> String {
    v.map(|v| format!("'{}'", v.chars().take(100).collect::<String>()))
        .unwrap_or_else(|| "(none)".into())
}

fn time_attr(
    doc: &Document,
    el: ElemId,
    attr: &'static str,
) -> Result<Option<OffsetDateTime>, LogoutError> {
    let Some(v) = doc.attr(el, attr) else {
        return Ok(None);
    };
    parse_time(v).map(Some).ok_or_else(|| LogoutError::BadTime {
        attr,
        value: v.chars().take(64).collect(),
    })
}

/// The IdP endpoint to send to: HTTP-Redirect first, then HTTP-POST
/// (Metadata §2.2.2; a response goes to ResponseLocation when given).
pub fn pick_endpoint(slo: &[Endpoint], response: bool) -> Option<(&'static str, String)> {
    [BINDING_REDIRECT, BINDING_POST].into_iter().find_map(|b| {
        slo.iter().find(|e| e.binding == b).map(|e| {
            let at = match (&e.response_location, response) {
                (Some(r), true) => r.clone(),
                _ => e.location.clone(),
            };
            (b, at)
        })
    })
}

/// Our LogoutRequest (SAML Core §3.7.1).
pub struct LogoutRequest<'a> {
    pub id: &'a str,
    pub issue_instant: OffsetDateTime,
    pub destination: &'a str,
    pub sp_entity_id: &'a str,
    pub link: &'a SloLink,
}

impl LogoutRequest<'_> {
    pub fn to_xml(&self) -> String {
        let opt = |name: &str, v: &Option<String>| {
            v.as_deref()
                .map(|v| format!(" {name}=\"{}\"", escape(v)))
                .unwrap_or_default()
        };
        let l = self.link;
        let session_index = l
            .session_index
            .as_deref()
            .map(|s| format!("<samlp:SessionIndex>{}</samlp:SessionIndex>", escape(s)))
            .unwrap_or_default();
        format!(
            "<samlp:LogoutRequest xmlns:samlp=\"{samlp}\" xmlns:saml=\"{saml}\" ID=\"{id}\" Version=\"2.0\" IssueInstant=\"{ii}\" Destination=\"{dest}\" NotOnOrAfter=\"{noa}\"><saml:Issuer>{issuer}</saml:Issuer><saml:NameID{f}{nq}{spnq}>{name}</saml:NameID>{session_index}</samlp:LogoutRequest>",
            samlp = ns::SAMLP,
            saml = ns::SAML,
            id = escape(self.id),
            ii = fmt_time(self.issue_instant),
            dest = escape(self.destination),
            noa = fmt_time(self.issue_instant + REQUEST_LIFETIME),
            issuer = escape(self.sp_entity_id),
            f = opt("Format", &l.format),
            nq = opt("NameQualifier", &l.name_qualifier),
            spnq = opt("SPNameQualifier", &l.sp_name_qualifier),
            name = escape(&l.name_id),
        )
    }
}

/// Our LogoutResponse (SAML Core §3.7.2): `status`, with an optional
/// second-level code.
pub struct LogoutResponse<'a> {
    pub id: &'a str,
    pub in_response_to: &'a str,
    pub issue_instant: OffsetDateTime,
    pub destination: &'a str,
    pub sp_entity_id: &'a str,
    pub status: &'a str,
    pub sub_status: Option<&'a str>,
}

impl LogoutResponse<'_> {
    pub fn to_xml(&self) -> String {
        let inner = self
            .sub_status
            .map(|s| format!("<samlp:StatusCode Value=\"{}\"/>", escape(s)))
            .unwrap_or_default();
        format!(
            "<samlp:LogoutResponse xmlns:samlp=\"{samlp}\" xmlns:saml=\"{saml}\" ID=\"{id}\" Version=\"2.0\" IssueInstant=\"{ii}\" Destination=\"{dest}\" InResponseTo=\"{irt}\"><saml:Issuer>{issuer}</saml:Issuer><samlp:Status><samlp:StatusCode Value=\"{st}\">{inner}</samlp:StatusCode></samlp:Status></samlp:LogoutResponse>",
            samlp = ns::SAMLP,
            saml = ns::SAML,
            id = escape(self.id),
            ii = fmt_time(self.issue_instant),
            dest = escape(self.destination),
            irt = escape(self.in_response_to),
            issuer = escape(self.sp_entity_id),
            st = escape(self.status),
        )
    }
}

/// How an outgoing message leaves: a redirect, or an auto-submitted form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outgoing {
    Redirect(String),
    Post {
        action: String,
        /// (name, value) pairs of the form.
        fields: Vec<(&'static str, String)>,
    },
}

/// Encodes `xml` (whose root has `ID` = `id`) for `binding`: Redirect with
/// an RSA-SHA256 query signature (Bindings §3.4.4.1), POST with an
/// enveloped RSA-SHA256 signature (Bindings §3.5.4; Core §5.4).
pub fn encode(
    binding: &str,
    location: &str,
    which: Which,
    xml: &str,
    id: &str,
    relay_state: Option<&str>,
    key: &PKey<Private>,
) -> Result<Outgoing, LogoutError> {
    if binding == BINDING_REDIRECT {
        return Ok(Outgoing::Redirect(binding::redirect_url_for(
            location,
            which.kind(),
            xml,
            relay_state,
            key,
        )?));
    }
    let opts = SignOptions {
        alg: SigAlg::RsaSha256,
        ..SignOptions::default()
    };
    let signed =
        sign_enveloped(xml, id, key, &opts).map_err(|e| LogoutError::Build(e.to_string()))?;
    let b64 = base64::engine::general_purpose::STANDARD.encode(signed);
    let mut fields = vec![(which.kind().param(), b64)];
    if let Some(rs) = relay_state {
        fields.push(("RelayState", rs.to_owned()));
    }
    Ok(Outgoing::Post {
        action: location.to_owned(),
        fields,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link() -> SloLink {
        SloLink {
            name_id: "a&b".into(),
            format: Some("urn:f".into()),
            name_qualifier: None,
            sp_name_qualifier: Some("sp".into()),
            session_index: Some("_s1".into()),
        }
    }

    #[test]
    fn request_xml_carries_the_name_id_as_asserted() {
        let l = link();
        let x = LogoutRequest {
            id: "_r1",
            issue_instant: OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap(),
            destination: "https://idp/slo",
            sp_entity_id: "https://sp",
            link: &l,
        }
        .to_xml();
        let doc = parse(x.as_bytes(), &Limits::MESSAGE).unwrap();
        let n = doc.child(doc.root(), ns::SAML, "NameID").unwrap();
        assert_eq!(doc.text(n), "a&b");
        assert_eq!(doc.attr(n, "SPNameQualifier"), Some("sp"));
        assert_eq!(doc.attr(n, "NameQualifier"), None);
        assert!(x.contains("NotOnOrAfter=\"2027-01-15T08:05:00Z\""), "{x}");
        assert!(x.contains("<samlp:SessionIndex>_s1</samlp:SessionIndex>"));
    }

    #[test]
    fn endpoint_choice_prefers_redirect_and_response_location() {
        let e = |b: &str, r: Option<&str>| Endpoint {
            binding: b.into(),
            location: format!("https://idp/{}", b.len()),
            response_location: r.map(str::to_owned),
        };
        let slo = vec![
            e(BINDING_POST, None),
            e(BINDING_REDIRECT, Some("https://r")),
        ];
        assert_eq!(
            pick_endpoint(&slo, false).unwrap().0,
            BINDING_REDIRECT,
            "Redirect first"
        );
        assert_eq!(pick_endpoint(&slo, true).unwrap().1, "https://r");
        assert_eq!(pick_endpoint(&slo[..1], true).unwrap().0, BINDING_POST);
        assert!(pick_endpoint(&[], false).is_none());
    }

    fn keypair() -> (PKey<Private>, super::super::dsig::TrustedKey) {
        let k = PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap();
        let p = PKey::public_key_from_pem(&k.public_key_to_pem().unwrap()).unwrap();
        (k, super::super::dsig::TrustedKey::new(p).unwrap())
    }

    /// What we send verifies with what we check, in both bindings, and
    /// only with the signer's key.
    #[test]
    fn encoded_messages_verify_in_both_bindings_and_only_with_the_key() {
        use super::super::mapping::{AttributeMap, AttributeOverrides, Profile};
        let (key, trusted) = keypair();
        let (_, stranger) = keypair();
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let map = AttributeMap::new(Profile::default(), &AttributeOverrides::default());
        let trust = |keys| IdpTrust {
            id: "idp",
            entity_id: "https://idp",
            keys,
            allow_sha1: false,
            allow_cbc: false,
            allow_rsa1_5: false,
            clock_skew: Duration::seconds(60),
            attributes: &map,
            allow_non_ncname_ids: false,
        };
        let (good, bad) = ([trusted], [stranger]);
        let l = link();
        let xml = LogoutRequest {
            id: "_r2",
            issue_instant: now,
            destination: "https://sp/saml/slo",
            sp_entity_id: "https://idp",
            link: &l,
        }
        .to_xml();
        let expect = Expect {
            slo_url: "https://sp/saml/slo",
            now,
        };
        for b in [BINDING_POST, BINDING_REDIRECT] {
            let out = encode(
                b,
                "https://sp/saml/slo",
                Which::Request,
                &xml,
                "_r2",
                Some("rs"),
                &key,
            )
            .unwrap();
            let arrived = || match &out {
                Outgoing::Post { fields, .. } => Arrived::post(&fields[0].1).unwrap(),
                Outgoing::Redirect(url) => Arrived::Redirect(
                    binding::decode_redirect(url.split_once('?').unwrap().1).unwrap(),
                ),
            };
            let opened = Opened::parse(arrived(), Which::Request).unwrap();
            let v = opened.verify_request(&trust(&good), &expect).unwrap();
            assert_eq!((v.name_id.as_str(), v.session_indexes.len()), ("a&b", 1));
            let opened = Opened::parse(arrived(), Which::Request).unwrap();
            assert!(matches!(
                opened.verify_request(&trust(&bad), &expect),
                Err(LogoutError::Signature(..))
            ));
            assert!(Opened::parse(arrived(), Which::Response).is_err());
        }
        // The NameID is trimmed of XML whitespace only, as at login
        // (content::xml_trim), so both find the same index entry.
        let spaced = SloLink {
            name_id: " a&b\u{a0}\n".into(),
            ..link()
        };
        let xml = LogoutRequest {
            id: "_r3",
            issue_instant: now,
            destination: "https://sp/saml/slo",
            sp_entity_id: "https://idp",
            link: &spaced,
        }
        .to_xml();
        let out = encode(
            BINDING_POST,
            "https://sp/saml/slo",
            Which::Request,
            &xml,
            "_r3",
            None,
            &key,
        )
        .unwrap();
        let Outgoing::Post { fields, .. } = &out else {
            panic!("POST binding")
        };
        let opened = Opened::parse(Arrived::post(&fields[0].1).unwrap(), Which::Request).unwrap();
        let v = opened.verify_request(&trust(&good), &expect).unwrap();
        assert_eq!(v.name_id, "a&b\u{a0}");
    }
}
