//! The ACS validation pipeline (design §3): one strict parse, the signature
//! profile, then the SAML checks, each reading only the verified Assertion.
//! Pure: the caller supplies the IdP's trust, what it expects, and `now`. The
//! replay check is the caller's, with [`Accepted::replay_until`].
//!
//! An EncryptedAssertion takes one detour first: the Response signature (if
//! any) is verified on the document as received, the assertion is decrypted
//! ([`super::decrypt`]) and put in its place, and the result is parsed again
//! with the same parser and limits. The single-tree pipeline then runs on that
//! document, with the Response signature counted as the one verified before.

use super::content;
use super::decrypt::{self, DecryptError, Policy};
use super::dsig::{self, DsigError, TrustedKey};
use super::mapping::{self, Asserted, AttributeMap};
use crate::identity::Identity;
use crate::xml::{ns, parse_with, Document, ElemId, IdSyntax, Limits, XmlError};
use openssl::pkey::{PKey, Private};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

const STATUS_SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
const CM_BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";

/// What we trust about one IdP: all of it from configuration.
#[derive(Debug, Clone)]
pub struct IdpTrust<'a> {
    /// Our id for the IdP (`[[idp]] id`).
    pub id: &'a str,
    /// The entityID from its metadata; the Issuer must equal it.
    pub entity_id: &'a str,
    /// Pinned signing keys from its metadata.
    pub keys: &'a [TrustedKey],
    pub allow_sha1: bool,
    /// Accept AES-CBC encrypted assertions without a Response signature.
    pub allow_cbc: bool,
    /// Accept RSA PKCS#1 v1.5 key transport.
    pub allow_rsa1_5: bool,
    pub clock_skew: Duration,
    pub attributes: &'a AttributeMap,
    /// Accept `ID` values that are not NCNames (`allow_non_ncname_ids`).
    pub allow_non_ncname_ids: bool,
}

impl IdpTrust<'_> {
    fn id_syntax(&self) -> IdSyntax {
        if self.allow_non_ncname_ids {
            IdSyntax::Lenient
        } else {
            IdSyntax::NcName
        }
    }
}

/// What the response must answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InResponseTo<'a> {
    /// SP-initiated: the ID of the AuthnRequest we sent.
    Request(&'a str),
    /// IdP-initiated: no InResponseTo may be present.
    Unsolicited,
    /// Not checked (offline `inspect` without either flag).
    Unchecked,
}

/// The expectations of the receiving SP. `None` means "not checked", which
/// only `samlhub inspect` uses; the ACS always sets every field.
#[derive(Debug, Clone, Copy)]
pub struct Expect<'a> {
    pub sp_entity_id: Option<&'a str>,
    pub acs_url: Option<&'a str>,
    pub in_response_to: InResponseTo<'a>,
    pub now: OffsetDateTime,
    /// The SP's encryption keys, current first (empty: encrypted assertions
    /// are refused).
    pub decryption_keys: &'a [PKey<Private>],
}

/// A response that passed every check except the replay check.
#[derive(Debug, Clone)]
pub struct Accepted {
    pub identity: Identity,
    /// The Assertion's ID: with the IdP id, the replay key.
    pub assertion_id: String,
    /// Keep the replay key until then (latest NotOnOrAfter + skew).
    pub replay_until: OffsetDateTime,
    /// Which elements carried a verified signature. For an encrypted
    /// assertion, `signed_response` is the signature verified on the
    /// Response as received.
    pub signed_response: bool,
    pub signed_assertion: bool,
    /// Whether the Assertion arrived as an EncryptedAssertion.
    pub encrypted: bool,
    /// The NameID and SessionIndex a later Single Logout names (SAML Core
    /// §3.7.1); `None` when the Subject has no NameID.
    pub slo: Option<super::logout::SloLink>,
}

/// Why a response was refused. The Display text is the precise reason for
/// logs and `inspect`; [`ResponseError::hint`] is what a user may read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResponseError {
    #[error("SAMLResponse is not valid base64 (SAML Bindings §3.5.4)")]
    Base64,
    #[error("SAMLResponse is {0} bytes encoded, over the limit")]
    TooLarge(usize),
    #[error("XML refused: {0}")]
    Xml(#[from] XmlError),
    #[error("root element is <{0}>, expected samlp:Response (SAML Bindings §3.5.4)")]
    NotResponse(String),
    #[error("{0} Version is '{1}', expected '2.0' (SAML Core §3.2.2, §2.3.3)")]
    Version(&'static str, String),
    #[error("IdP answered status '{code}'{detail} (SAML Core §3.2.2.2)")]
    Status { code: String, detail: String },
    #[error(
        "{what} Issuer '{found}' is not the IdP's entityID '{expected}' (SAML Profiles §4.1.4.2)"
    )]
    Issuer {
        what: &'static str,
        found: String,
        expected: String,
    },
    #[error("Response contains {0} Assertions; exactly one is accepted (SAML Profiles §4.1.4.2)")]
    AssertionCount(usize),
    #[error("the Assertion is not a direct child of the Response")]
    AssertionPlacement,
    /// Anything wrong with the ciphertext or the keys: one message (no oracle).
    #[error("{}", DecryptError::Failed)]
    Decrypt,
    /// An encrypted assertion refused by policy (public information only).
    #[error("{0}")]
    Encryption(DecryptError),
    #[error("neither the Response nor the Assertion is signed (SAML Profiles §4.1.3.5)")]
    Unsigned,
    #[error("{what} signature: {err}")]
    Signature { what: &'static str, err: DsigError },
    #[error("Destination '{found}' is not our ACS '{expected}' (SAML Bindings §3.5.5.2)")]
    Destination { found: String, expected: String },
    #[error("signed Response has no Destination (SAML Bindings §3.5.5.2)")]
    DestinationMissing,
    #[error("{what} InResponseTo {found} does not match {expected} (SAML Profiles §4.1.4.2)")]
    InResponseTo {
        what: &'static str,
        found: String,
        expected: String,
    },
    #[error("Assertion has no {0} (SAML Profiles §4.1.4.2)")]
    Missing(&'static str),
    #[error("no bearer SubjectConfirmation (SAML Profiles §4.1.4.2)")]
    NoBearer,
    #[error("SubjectConfirmationData Recipient '{found}' is not our ACS '{expected}' (SAML Profiles §4.1.4.2)")]
    Recipient { found: String, expected: String },
    #[error("{what} is not yet valid: NotBefore {not_before} is {ahead}s after now {now} (skew {skew}s) (SAML Core §2.5.1.2)")]
    NotYetValid {
        what: &'static str,
        not_before: String,
        now: String,
        ahead: i64,
        skew: i64,
    },
    #[error("{what} expired: NotOnOrAfter {not_on_or_after} is {behind}s before now {now} (skew {skew}s) (SAML Core §2.5.1.2)")]
    Expired {
        what: &'static str,
        not_on_or_after: String,
        now: String,
        behind: i64,
        skew: i64,
    },
    #[error("Audience {found} does not contain our entityID '{expected}' (SAML Core §2.5.1.4)")]
    Audience { found: String, expected: String },
    #[error("IdP session ended: SessionNotOnOrAfter {0} has passed (SAML Core §2.7.2)")]
    SessionEnded(String),
    #[error("{attr} '{value}' is not an xs:dateTime in UTC (SAML Core §1.3.3)")]
    BadTime { attr: &'static str, value: String },
    #[error("identity mapping: {0}")]
    Mapping(String),
    #[error("this is a SAML 1.x message (namespace '{0}'); only SAML 2.0 responses are accepted (SAML Core §3.2.2)")]
    Saml1(&'static str),
    #[error("NameID SPNameQualifier '{found}' is not our entityID '{expected}' (SAML Core §2.2.2, §8.3.7)")]
    SpNameQualifier { found: String, expected: String },
    #[error("NameID is empty or only whitespace (SAML Core §1.3.1)")]
    EmptyNameId,
    #[error("Attribute '{0}' appears twice in one AttributeStatement (SAML Core §2.7.3.1)")]
    DuplicateAttribute(String),
}

impl ResponseError {
    /// A short explanation a person can act on, without message contents.
    pub fn hint(&self) -> String {
        match self {
            Self::NotYetValid { ahead, .. } => format!(
                "The identity provider's clock seems about {} ahead of this server's. Check the time on both.",
                human_secs(*ahead)
            ),
            Self::Expired { behind, .. } => format!(
                "The sign-in answer arrived too late (by {}). Try again; if it keeps happening, check the clocks.",
                human_secs(*behind)
            ),
            Self::Status { .. } => "The identity provider did not sign you in.".into(),
            Self::Signature { .. } | Self::Unsigned => {
                "The sign-in answer's signature did not check out. If the identity provider changed its certificate, update its metadata here.".into()
            }
            Self::Audience { .. }
            | Self::Recipient { .. }
            | Self::Destination { .. }
            | Self::SpNameQualifier { .. } => {
                "The sign-in answer was meant for a different service. Check the entity ID and ACS URL registered at the identity provider.".into()
            }
            Self::Mapping(_) => "The identity provider did not send the attributes this service needs.".into(),
            Self::Saml1(_) => "The identity provider answered with SAML 1.x; configure it to use SAML 2.0 for this service.".into(),
            Self::Decrypt | Self::Encryption(_) => {
                "The sign-in answer was encrypted in a way this service cannot read. Check the encryption certificate and settings registered at the identity provider.".into()
            }
            _ => "The sign-in answer could not be accepted.".into(),
        }
    }
}

fn human_secs(s: i64) -> String {
    if s >= 90 {
        format!("{} minutes", (s + 30) / 60)
    } else {
        format!("{s} seconds")
    }
}

/// Decodes the HTTP-POST binding's SAMLResponse (SAML Bindings §3.5.4).
pub fn decode_post(value: &str, limits: &Limits) -> Result<Vec<u8>, ResponseError> {
    if value.len() > limits.max_encoded_bytes() {
        return Err(ResponseError::TooLarge(value.len()));
    }
    super::b64_decode_lenient(value).ok_or(ResponseError::Base64)
}

impl From<DecryptError> for ResponseError {
    fn from(e: DecryptError) -> Self {
        match e {
            DecryptError::Failed => Self::Decrypt,
            other => Self::Encryption(other),
        }
    }
}

/// Runs the whole pipeline on a decoded Response.
pub fn validate(
    xml: &[u8],
    idp: &IdpTrust<'_>,
    expect: &Expect<'_>,
) -> Result<Accepted, ResponseError> {
    let doc = parse_with(xml, &Limits::MESSAGE, idp.id_syntax())?;
    let root = doc.root();
    if let Some(ns1) = content::saml1_namespace(&doc) {
        return Err(ResponseError::Saml1(ns1));
    }
    if !doc.is(root, ns::SAMLP, "Response") {
        return Err(ResponseError::NotResponse(doc.qname(root)));
    }
    check_version(&doc, root, "Response")?;
    check_status(&doc, root)?;

    let encrypted: Vec<ElemId> = doc
        .all()
        .filter(|e| doc.is(*e, ns::SAML, "EncryptedAssertion"))
        .collect();
    let [encrypted] = encrypted.as_slice() else {
        return match encrypted.len() {
            0 => validate_tree(&doc, idp, expect, OuterSignature::Verify),
            n => Err(ResponseError::AssertionCount(n + count_assertions(&doc))),
        };
    };
    let plain = count_assertions(&doc);
    if plain > 0 {
        return Err(ResponseError::AssertionCount(plain + 1));
    }
    if doc.el(*encrypted).parent != Some(root) {
        return Err(ResponseError::AssertionPlacement);
    }

    // The Response signature covers the ciphertext: verify it as received.
    let signed_response = dsig::has_signature(&doc, root);
    if signed_response {
        dsig::verify_enveloped(&doc, root, idp.keys, idp.allow_sha1).map_err(|err| {
            ResponseError::Signature {
                what: "Response",
                err,
            }
        })?;
    }
    let policy = Policy {
        cbc: signed_response || idp.allow_cbc,
        rsa1_5: idp.allow_rsa1_5,
    };
    let decrypted = decrypt::decrypt_assertion(&doc, *encrypted, expect.decryption_keys, policy)?;
    let (source, at) = decrypt::splice(&doc, *encrypted, &decrypted.plaintext)?;
    // The plaintext must be exactly one Assertion element in that place; a
    // parse failure is a decryption failure (no format oracle).
    let doc = parse_with(source.as_bytes(), &Limits::MESSAGE, idp.id_syntax())
        .map_err(|_| ResponseError::Decrypt)?;
    let placed = doc.children(doc.root()).any(|c| {
        let span = doc.el(c).span;
        doc.is(c, ns::SAML, "Assertion") && span.start == at.start && span.end == at.end
    });
    if !placed {
        return Err(ResponseError::Decrypt);
    }
    let result = validate_tree(&doc, idp, expect, OuterSignature::Verified(signed_response));
    if decrypted.alg.is_cbc() && !signed_response {
        // CBC without a signature around it is malleable: until the inner
        // signature has verified, every refusal is the decryption failure, so
        // the plaintext's shape cannot be probed through error messages.
        return result.map_err(|e| match e {
            ResponseError::AssertionCount(_)
            | ResponseError::AssertionPlacement
            | ResponseError::Unsigned
            | ResponseError::Signature { .. } => ResponseError::Decrypt,
            other => other,
        });
    }
    result
}

fn count_assertions(doc: &Document) -> usize {
    doc.all()
        .filter(|e| doc.is(*e, ns::SAML, "Assertion"))
        .count()
}

/// The Response signature: verify it here, or it was verified on the
/// document as received (an encrypted assertion), with this result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OuterSignature {
    Verify,
    Verified(bool),
}

/// The single-tree pipeline: the one Assertion, the signatures, the checks.
fn validate_tree(
    doc: &Document,
    idp: &IdpTrust<'_>,
    expect: &Expect<'_>,
    outer: OuterSignature,
) -> Result<Accepted, ResponseError> {
    let root = doc.root();
    // Exactly one Assertion in the whole document, a child of the Response.
    let all: Vec<ElemId> = doc
        .all()
        .filter(|e| doc.is(*e, ns::SAML, "Assertion"))
        .collect();
    let assertion = match all.as_slice() {
        [one] => *one,
        other => return Err(ResponseError::AssertionCount(other.len())),
    };
    if doc.el(assertion).parent != Some(root) {
        return Err(ResponseError::AssertionPlacement);
    }

    // Signatures (SAML Core §5.4; Profiles §4.1.3.5). Any signature present
    // must verify; at least one must cover the Assertion.
    let verify = |target, what| {
        dsig::verify_enveloped(doc, target, idp.keys, idp.allow_sha1)
            .map_err(|err| ResponseError::Signature { what, err })
    };
    let signed_response = match outer {
        OuterSignature::Verify => dsig::has_signature(doc, root),
        OuterSignature::Verified(signed) => signed,
    };
    let signed_assertion = dsig::has_signature(doc, assertion);
    if !signed_response && !signed_assertion {
        return Err(ResponseError::Unsigned);
    }
    if signed_response && outer == OuterSignature::Verify {
        verify(root, "Response")?;
    }
    if signed_assertion {
        verify(assertion, "Assertion")?;
    }
    // From here on, only `assertion` (covered by a verified signature, directly
    // or through the Response) and the Response's own attributes are read.

    check_issuer(doc, root, "Response", idp.entity_id, false)?;
    match (doc.attr(root, "Destination"), expect.acs_url) {
        (Some(found), Some(expected)) if found != expected => {
            return Err(ResponseError::Destination {
                found: found.into(),
                expected: expected.into(),
            })
        }
        (None, Some(_)) if signed_response => return Err(ResponseError::DestinationMissing),
        _ => {}
    }
    check_in_response_to(
        "Response",
        doc.attr(root, "InResponseTo"),
        expect.in_response_to,
        true,
    )?;

    check_version(doc, assertion, "Assertion")?;
    check_issuer(doc, assertion, "Assertion", idp.entity_id, true)?;
    let assertion_id = doc
        .attr(assertion, "ID")
        .ok_or(ResponseError::Missing("ID"))?
        .to_owned();
    let skew = idp.clock_skew;
    let now = expect.now;

    let subject = doc
        .child(assertion, ns::SAML, "Subject")
        .ok_or(ResponseError::Missing("Subject"))?;
    let scd_until = check_bearer(doc, subject, expect, skew)?;

    let conditions = doc
        .child(assertion, ns::SAML, "Conditions")
        .ok_or(ResponseError::Missing("Conditions"))?;
    let cond_until = check_window(doc, conditions, "Assertion Conditions", now, skew)?;
    check_audience(doc, conditions, expect.sp_entity_id)?;

    let authn = doc
        .child(assertion, ns::SAML, "AuthnStatement")
        .ok_or(ResponseError::Missing("AuthnStatement"))?;
    let session_end = time_attr(doc, authn, "SessionNotOnOrAfter")?;
    if let Some(end) = session_end {
        if now >= end + skew {
            return Err(ResponseError::SessionEnded(fmt_time(end)));
        }
    }
    let (name_id, name_id_format) = content::name_id(doc, subject, expect.sp_entity_id)?.unzip();
    let asserted = Asserted {
        name_id,
        name_id_format: name_id_format.flatten(),
        attributes: content::attributes(doc, assertion)?,
        authn_context: doc
            .child(authn, ns::SAML, "AuthnContext")
            .and_then(|c| doc.child(c, ns::SAML, "AuthnContextClassRef"))
            .map(|r| doc.text(r).trim().to_owned()),
        authn_instant: time_attr(doc, authn, "AuthnInstant")?.map(|t| t.unix_timestamp()),
        session_not_on_or_after: session_end.map(|t| t.unix_timestamp()),
    };
    let identity =
        mapping::to_identity(idp.id, idp.attributes, asserted).map_err(ResponseError::Mapping)?;
    let slo = doc
        .child(subject, ns::SAML, "NameID")
        .map(|n| super::logout::SloLink {
            name_id: content::xml_trim(&doc.text(n)).to_owned(),
            format: doc.attr(n, "Format").map(str::to_owned),
            name_qualifier: doc.attr(n, "NameQualifier").map(str::to_owned),
            sp_name_qualifier: doc.attr(n, "SPNameQualifier").map(str::to_owned),
            session_index: doc.attr(authn, "SessionIndex").map(str::to_owned),
        });
    let replay_until = cond_until
        .into_iter()
        .chain([scd_until])
        .max()
        .unwrap_or(scd_until)
        + skew;
    Ok(Accepted {
        identity,
        assertion_id,
        replay_until,
        signed_response,
        signed_assertion,
        encrypted: outer != OuterSignature::Verify,
        slo,
    })
}

fn check_version(doc: &Document, el: ElemId, what: &'static str) -> Result<(), ResponseError> {
    match doc.attr(el, "Version") {
        Some("2.0") => Ok(()),
        other => Err(ResponseError::Version(
            what,
            other.unwrap_or("(none)").into(),
        )),
    }
}

fn check_status(doc: &Document, root: ElemId) -> Result<(), ResponseError> {
    let code_el = doc
        .child(root, ns::SAMLP, "Status")
        .and_then(|s| doc.child(s, ns::SAMLP, "StatusCode"));
    let code = code_el
        .and_then(|c| doc.attr(c, "Value"))
        .unwrap_or("(none)");
    if code == STATUS_SUCCESS {
        return Ok(());
    }
    let sub = code_el
        .and_then(|c| doc.child(c, ns::SAMLP, "StatusCode"))
        .and_then(|c| doc.attr(c, "Value"));
    let msg = doc
        .child(root, ns::SAMLP, "Status")
        .and_then(|s| doc.child(s, ns::SAMLP, "StatusMessage"))
        .map(|m| doc.text(m));
    let mut detail = String::new();
    if let Some(s) = sub {
        detail.push_str(&format!(" / '{s}'"));
    }
    if let Some(m) = msg {
        detail.push_str(&format!(": {}", m.chars().take(200).collect::<String>()));
    }
    Err(ResponseError::Status {
        code: code.chars().take(200).collect(),
        detail,
    })
}

fn check_issuer(
    doc: &Document,
    el: ElemId,
    what: &'static str,
    expected: &str,
    required: bool,
) -> Result<(), ResponseError> {
    match doc.child(el, ns::SAML, "Issuer") {
        Some(i) => {
            let found = doc.text(i);
            if found.trim() != expected {
                return Err(ResponseError::Issuer {
                    what,
                    found: found.chars().take(200).collect(),
                    expected: expected.into(),
                });
            }
            Ok(())
        }
        None if required => Err(ResponseError::Missing("Issuer")),
        None => Ok(()),
    }
}

fn check_in_response_to(
    what: &'static str,
    found: Option<&str>,
    expected: InResponseTo<'_>,
    optional: bool,
) -> Result<(), ResponseError> {
    let q = |s: Option<&str>| {
        s.map(|v| format!("'{}'", v.chars().take(100).collect::<String>()))
            .unwrap_or("(none)".into())
    };
    let ok = match expected {
        InResponseTo::Unchecked => true,
        InResponseTo::Request(id) => found == Some(id) || (optional && found.is_none()),
        InResponseTo::Unsolicited => found.is_none(),
    };
    if ok {
        return Ok(());
    }
    let expected = match expected {
        InResponseTo::Request(id) => format!("our request '{id}'"),
        _ => "an unsolicited response (none)".into(),
    };
    Err(ResponseError::InResponseTo {
        what,
        found: q(found),
        expected,
    })
}

/// SAML Profiles §4.1.4.2–3: a bearer SubjectConfirmation whose data names
/// our ACS, answers our request, and is within its window. Returns its
/// NotOnOrAfter.
fn check_bearer(
    doc: &Document,
    subject: ElemId,
    expect: &Expect<'_>,
    skew: Duration,
) -> Result<OffsetDateTime, ResponseError> {
    let mut first_err = None;
    for sc in doc.children_named(subject, ns::SAML, "SubjectConfirmation") {
        if doc.attr(sc, "Method") != Some(CM_BEARER) {
            continue;
        }
        let r = (|| {
            let data = doc
                .child(sc, ns::SAML, "SubjectConfirmationData")
                .ok_or(ResponseError::Missing("SubjectConfirmationData"))?;
            let recipient = doc
                .attr(data, "Recipient")
                .ok_or(ResponseError::Missing("SubjectConfirmationData Recipient"))?;
            if let Some(acs) = expect.acs_url {
                if recipient != acs {
                    return Err(ResponseError::Recipient {
                        found: recipient.chars().take(200).collect(),
                        expected: acs.into(),
                    });
                }
            }
            check_in_response_to(
                "SubjectConfirmationData",
                doc.attr(data, "InResponseTo"),
                expect.in_response_to,
                false,
            )?;
            if time_attr(doc, data, "NotOnOrAfter")?.is_none() {
                return Err(ResponseError::Missing(
                    "SubjectConfirmationData NotOnOrAfter",
                ));
            }
            check_window(doc, data, "SubjectConfirmationData", expect.now, skew)?.ok_or(
                ResponseError::Missing("SubjectConfirmationData NotOnOrAfter"),
            )
        })();
        match r {
            Ok(until) => return Ok(until),
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    Err(first_err.unwrap_or(ResponseError::NoBearer))
}

/// NotBefore / NotOnOrAfter with skew (SAML Core §2.5.1.2). Returns NotOnOrAfter.
fn check_window(
    doc: &Document,
    el: ElemId,
    what: &'static str,
    now: OffsetDateTime,
    skew: Duration,
) -> Result<Option<OffsetDateTime>, ResponseError> {
    if let Some(nb) = time_attr(doc, el, "NotBefore")? {
        if now + skew < nb {
            return Err(ResponseError::NotYetValid {
                what,
                not_before: fmt_time(nb),
                now: fmt_time(now),
                ahead: (nb - now).whole_seconds(),
                skew: skew.whole_seconds(),
            });
        }
    }
    let until = time_attr(doc, el, "NotOnOrAfter")?;
    if let Some(noa) = until {
        if now - skew >= noa {
            return Err(ResponseError::Expired {
                what,
                not_on_or_after: fmt_time(noa),
                now: fmt_time(now),
                behind: (now - noa).whole_seconds(),
                skew: skew.whole_seconds(),
            });
        }
    }
    Ok(until)
}

/// Every AudienceRestriction must name us (SAML Core §2.5.1.4), and there
/// must be at least one (SAML Profiles §4.1.4.2).
fn check_audience(
    doc: &Document,
    conditions: ElemId,
    sp: Option<&str>,
) -> Result<(), ResponseError> {
    let Some(sp) = sp else { return Ok(()) };
    let restrictions: Vec<ElemId> = doc
        .children_named(conditions, ns::SAML, "AudienceRestriction")
        .collect();
    if restrictions.is_empty() {
        return Err(ResponseError::Missing("AudienceRestriction"));
    }
    for r in restrictions {
        let auds: Vec<String> = doc
            .children_named(r, ns::SAML, "Audience")
            .map(|a| doc.text(a).trim().to_owned())
            .collect();
        if !auds.iter().any(|a| a == sp) {
            let found = if auds.is_empty() {
                "(empty)".to_string()
            } else {
                auds.iter()
                    .map(|a| format!("'{}'", a.chars().take(200).collect::<String>()))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            return Err(ResponseError::Audience {
                found,
                expected: sp.into(),
            });
        }
    }
    Ok(())
}

fn time_attr(
    doc: &Document,
    el: ElemId,
    attr: &'static str,
) -> Result<Option<OffsetDateTime>, ResponseError> {
    let Some(v) = doc.attr(el, attr) else {
        return Ok(None);
    };
    parse_time(v)
        .map(Some)
        .ok_or_else(|| ResponseError::BadTime {
            attr,
            value: v.chars().take(64).collect(),
        })
}

/// xs:dateTime in UTC, as SAML Core §1.3.3 requires: `Z`, or the zero
/// offset written `+00:00` or `-00:00` (XML Schema 2 §3.2.7.3 treats both as
/// UTC). Any other offset is refused, as is a time without a zone.
pub fn parse_time(v: &str) -> Option<OffsetDateTime> {
    let utc = v
        .strip_suffix("+00:00")
        .or_else(|| v.strip_suffix("-00:00"))
        .map(|t| format!("{t}Z"));
    let v = utc.as_deref().unwrap_or(v);
    if !v.ends_with('Z') {
        return None;
    }
    OffsetDateTime::parse(v, &Rfc3339).ok()
}

/// Formats a time the way SAML writes it.
pub fn fmt_time(t: OffsetDateTime) -> String {
    let t = t.replace_nanosecond(0).unwrap_or(t);
    t.format(&Rfc3339).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::parse_time;

    #[test]
    fn only_utc_times_are_accepted() {
        let z = parse_time("2027-01-15T08:00:00Z").unwrap();
        assert_eq!(parse_time("2027-01-15T08:00:00+00:00"), Some(z));
        assert_eq!(parse_time("2027-01-15T08:00:00-00:00"), Some(z));
        assert_eq!(
            parse_time("2027-01-15T08:00:00.250Z").map(|t| t.millisecond()),
            Some(250)
        );
        for refused in [
            "2027-01-15T08:00:00",
            "2027-01-15T09:00:00+01:00",
            "2027-01-15T03:00:00-05:00",
            "2027-01-15T08:00:00+00:00Z",
            "2027-01-15T08:00:00Z+00:00",
        ] {
            assert_eq!(parse_time(refused), None, "{refused}");
        }
    }
}
