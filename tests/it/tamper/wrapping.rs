//! Signature wrapping (XSW1–XSW8 of Somorovsky et al. 2012, for each
//! signing mode), moved signatures, several Assertions or roots, and ID
//! tricks.

use super::*;

pub(super) fn cases() -> Vec<Case> {
    let mut v = xsw_matrix();
    v.extend(more_wrapping());
    v.extend(counts_and_roots());
    v.extend(ids());
    v
}

#[test]
fn tamper_wrapping_corpus() {
    Rig::start().run(&cases());
}

/// The signature an XSW form moves: for XSW1/2 the Response's (when it has
/// one), for XSW5/6/8 the Assertion's (when it has one); otherwise the
/// other one.
fn moved_signature(form: u8, how: Signing, x: &str) -> std::ops::Range<usize> {
    let response_first = matches!(form, 1 | 2);
    let r = match (how, response_first) {
        (Signing::Response, _) | (Signing::Both, true) => response_signature(x),
        (Signing::Assertion, _) | (Signing::Both, false) => assertion_signature(x),
        (Signing::None, _) => None,
    };
    r.unwrap()
}

/// Inserts `what` as the last child of the `<ds:Signature>` text `sig`.
fn into_signature(sig: &str, what: &str) -> String {
    before_last(sig, "</ds:Signature>", what)
}

/// Builds XSW `form` (1–8) from a document signed as `how`. E is the
/// attacker's unsigned Assertion for mallory.
pub(crate) fn xsw(form: u8, how: Signing, e: &Env, s: &Spec) -> String {
    let x = e.signed(s, how);
    let evil = evil_assertion(s);
    match form {
        // A new root Response (holding E) takes the moved Signature; the
        // original Response goes inside that Signature (1) or before it (2).
        1 | 2 => {
            let sig = moved_signature(form, how, &x);
            let sig_xml = x[sig.clone()].to_owned();
            let original = cut(&x, sig);
            let moved = if form == 1 {
                into_signature(&sig_xml, &original)
            } else {
                format!("{original}{sig_xml}")
            };
            after_first_issuer(&evil_response(s), &moved)
        }
        // E before the original Assertion.
        3 => {
            let a = assertion_span(&x);
            format!("{}{evil}{}", &x[..a.start], &x[a.start..])
        }
        // E first, the original Assertion inside it as its last child.
        4 => {
            let a = assertion_span(&x);
            let wrapped = before_last(&evil, "</saml:Assertion>", &x[a.clone()]);
            format!("{}{wrapped}{}", &x[..a.start], &x[a.end..])
        }
        // E carries the moved Signature; the original (without it) follows
        // E (5), sits inside the Signature (6), or inside a ds:Object of it (8).
        5 | 6 | 8 => {
            let sig = moved_signature(form, how, &x);
            let sig_xml = x[sig.clone()].to_owned();
            let y = cut(&x, sig);
            let a = assertion_span(&y);
            let original = y[a.clone()].to_owned();
            let (carried, after) = match form {
                5 => (sig_xml, original),
                6 => (into_signature(&sig_xml, &original), String::new()),
                _ => (
                    into_signature(&sig_xml, &format!("<ds:Object>{original}</ds:Object>")),
                    String::new(),
                ),
            };
            let evil = after_first_issuer(&evil, &carried);
            format!("{}{evil}{after}{}", &y[..a.start], &y[a.end..])
        }
        // The original Assertion hidden in samlp:Extensions, E in its place.
        7 => {
            let a = assertion_span(&x);
            let original = x[a.clone()].to_owned();
            let y = format!("{}{evil}{}", &x[..a.start], &x[a.end..]);
            replace_once(
                &y,
                "<samlp:Status>",
                &format!("<samlp:Extensions>{original}</samlp:Extensions><samlp:Status>"),
            )
        }
        _ => unreachable!("XSW forms are 1 to 8"),
    }
}

macro_rules! xsw_case {
    ($id:literal, $form:literal, $how:expr, $what:literal) => {
        refused(
            $id,
            $what,
            "assertion_count",
            COUNT2,
            XSW_PAPER,
            How::Doc(|e, s| xsw($form, $how, e, &s)),
        )
    };
}

fn xsw_matrix() -> Vec<Case> {
    use Signing::{Assertion as A, Both as B, Response as R};
    vec![
        xsw_case!("XSW1-response-signed", 1, R, "evil Response as root; the Response's Signature moved into it with the signed original Response inside that Signature"),
        xsw_case!("XSW1-assertion-signed", 1, A, "evil Response as root; the Assertion's Signature moved into it with the original Response inside that Signature"),
        xsw_case!("XSW1-both-signed", 1, B, "evil Response as root; the Response's Signature moved into it with the original Response (signed Assertion included) inside"),
        xsw_case!("XSW2-response-signed", 2, R, "evil Response as root; the signed original Response placed before the moved, now detached Signature"),
        xsw_case!("XSW2-assertion-signed", 2, A, "evil Response as root; the original Response placed before the moved Assertion Signature"),
        xsw_case!("XSW2-both-signed", 2, B, "evil Response as root; the original Response (signed Assertion included) before the moved Response Signature"),
        xsw_case!("XSW3-response-signed", 3, R, "evil Assertion inserted before the covered Assertion of a signed Response"),
        xsw_case!("XSW3-assertion-signed", 3, A, "evil Assertion inserted before the signed Assertion (evil sibling first)"),
        xsw_case!("XSW3-both-signed", 3, B, "evil Assertion inserted before the signed Assertion; the Response Signature left in place"),
        xsw_case!("XSW4-response-signed", 4, R, "evil Assertion wraps the covered Assertion as its child; Response signed"),
        xsw_case!("XSW4-assertion-signed", 4, A, "evil Assertion wraps the signed Assertion as its child"),
        xsw_case!("XSW4-both-signed", 4, B, "evil Assertion wraps the signed Assertion; the Response Signature left in place"),
        xsw_case!("XSW5-response-signed", 5, R, "evil Assertion carries the Response's Signature; the covered Assertion moved after it"),
        xsw_case!("XSW5-assertion-signed", 5, A, "evil Assertion carries the original's Signature; the original Assertion (unsigned now) moved to the end"),
        xsw_case!("XSW5-both-signed", 5, B, "as XSW5-assertion-signed, with the Response Signature left in place"),
        xsw_case!("XSW6-response-signed", 6, R, "evil Assertion carries the Response's Signature, the covered Assertion inside that Signature"),
        xsw_case!("XSW6-assertion-signed", 6, A, "evil Assertion carries the Signature, the original Assertion inside that Signature"),
        xsw_case!("XSW6-both-signed", 6, B, "as XSW6-assertion-signed, with the Response Signature left in place"),
        xsw_case!("XSW7-response-signed", 7, R, "covered Assertion hidden in samlp:Extensions, evil Assertion in its place; Response signed"),
        xsw_case!("XSW7-assertion-signed", 7, A, "signed Assertion hidden in samlp:Extensions, evil Assertion in its place"),
        xsw_case!("XSW7-both-signed", 7, B, "as XSW7-assertion-signed, with the Response Signature left in place"),
        xsw_case!("XSW8-response-signed", 8, R, "evil Assertion carries the Response's Signature, the covered Assertion in a ds:Object of it"),
        xsw_case!("XSW8-assertion-signed", 8, A, "evil Assertion carries the Signature, the original Assertion in a ds:Object of it"),
        xsw_case!("XSW8-both-signed", 8, B, "as XSW8-assertion-signed, with the Response Signature left in place"),
    ]
}

/// The original Assertion inside the Advice of E, E in its place.
fn in_advice(e: &Env, s: &Spec, how: Signing) -> String {
    let x = e.signed(s, how);
    let a = assertion_span(&x);
    let evil = replace_once(
        &evil_assertion(s),
        "</saml:Conditions>",
        &format!(
            "</saml:Conditions><saml:Advice>{}</saml:Advice>",
            &x[a.clone()]
        ),
    );
    format!("{}{evil}{}", &x[..a.start], &x[a.end..])
}

fn more_wrapping() -> Vec<Case> {
    vec![
        refused(
            "XSW-advice-assertion-signed",
            "signed Assertion hidden in the saml:Advice of the evil Assertion, which takes its place",
            "assertion_count",
            COUNT2,
            XSW_PAPER,
            How::Doc(|e, s| in_advice(e, &s, Signing::Assertion)),
        ),
        refused(
            "XSW-advice-response-signed",
            "covered Assertion hidden in the saml:Advice of the evil Assertion; Response signed",
            "assertion_count",
            COUNT2,
            XSW_PAPER,
            How::Doc(|e, s| in_advice(e, &s, Signing::Response)),
        ),
        refused(
            "XSW-evil-after-assertion-signed",
            "evil Assertion appended after the signed one (evil sibling last)",
            "assertion_count",
            COUNT2,
            XSW_PAPER,
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Assertion);
                let a = assertion_span(&x);
                format!("{}{}{}", &x[..a.end], evil_assertion(&s), &x[a.end..])
            }),
        ),
        refused(
            "XSW-evil-after-response-signed",
            "evil Assertion appended after the covered one of a signed Response",
            "assertion_count",
            COUNT2,
            XSW_PAPER,
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Response);
                let a = assertion_span(&x);
                format!("{}{}{}", &x[..a.end], evil_assertion(&s), &x[a.end..])
            }),
        ),
        refused(
            "XSW-response-in-evil-extensions",
            "the whole signed Response hidden in the Extensions of an evil unsigned Response",
            "assertion_count",
            COUNT2,
            XSW_PAPER,
            How::Doc(|e, s| {
                let signed = e.signed(&s, Signing::Response);
                replace_once(
                    &evil_response(&s),
                    "<samlp:Status>",
                    &format!("<samlp:Extensions>{signed}</samlp:Extensions><samlp:Status>"),
                )
            }),
        ),
        refused(
            "XSW1-response-signed-no-evil-assertion",
            "XSW1 with an evil Response holding no Assertion of its own: the only Assertion is inside the moved Signature",
            "assertion_count",
            PLACEMENT,
            XSW_PAPER,
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Response);
                let sig = response_signature(&x).unwrap();
                let moved = into_signature(&x[sig.clone()], &cut(&x, sig));
                let er = evil_response(&s);
                let er = cut(&er, assertion_span(&er));
                after_first_issuer(&er, &moved)
            }),
        ),
        refused(
            "XSW2-response-signed-no-evil-assertion",
            "XSW2 with an evil Response holding no Assertion of its own: the only Assertion is in the original Response beside the Signature",
            "assertion_count",
            PLACEMENT,
            XSW_PAPER,
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Response);
                let sig = response_signature(&x).unwrap();
                let moved = format!("{}{}", cut(&x, sig.clone()), &x[sig]);
                let er = evil_response(&s);
                let er = cut(&er, assertion_span(&er));
                after_first_issuer(&er, &moved)
            }),
        ),
        refused(
            "XSW-extensions-nothing-in-place",
            "signed Assertion moved into samlp:Extensions, nothing in its place",
            "assertion_count",
            PLACEMENT,
            XSW_PAPER,
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Assertion);
                let a = assertion_span(&x);
                let signed = x[a.clone()].to_owned();
                replace_once(
                    &cut(&x, a),
                    "<samlp:Status>",
                    &format!("<samlp:Extensions>{signed}</samlp:Extensions><samlp:Status>"),
                )
            }),
        ),
        refused(
            "XSW-assertion-in-status-detail",
            "signed Assertion moved into samlp:Status/StatusDetail",
            "assertion_count",
            PLACEMENT,
            XSW_PAPER,
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Assertion);
                let a = assertion_span(&x);
                let signed = x[a.clone()].to_owned();
                replace_once(
                    &cut(&x, a),
                    "</samlp:Status>",
                    &format!("<samlp:StatusDetail>{signed}</samlp:StatusDetail></samlp:Status>"),
                )
            }),
        ),
        refused(
            "SIGMOVE-assertion-signature-to-response",
            "the Assertion's Signature moved up to be the Response's (still referencing the Assertion)",
            "signature",
            REF_URI,
            SAML_SIG,
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Assertion);
                let sig = assertion_signature(&x).unwrap();
                let sig_xml = x[sig.clone()].to_owned();
                after_first_issuer(&cut(&x, sig), &sig_xml)
            }),
        ),
        refused(
            "SIGMOVE-response-signature-to-assertion",
            "the Response's Signature moved down into the Assertion (still referencing the Response)",
            "signature",
            REF_URI,
            SAML_SIG,
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Response);
                let sig = response_signature(&x).unwrap();
                let sig_xml = x[sig.clone()].to_owned();
                let y = cut(&x, sig);
                let a = assertion_span(&y);
                let asrt = after_first_issuer(&y[a.clone()], &sig_xml);
                format!("{}{asrt}{}", &y[..a.start], &y[a.end..])
            }),
        ),
        refused(
            "SIGMOVE-signature-into-subject",
            "the Assertion's Signature moved into saml:Subject (not a direct child any more)",
            "signature",
            UNSIGNED,
            SAML_SIG,
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Assertion);
                let sig = assertion_signature(&x).unwrap();
                let sig_xml = x[sig.clone()].to_owned();
                replace_once(
                    &cut(&x, sig),
                    "</saml:Subject>",
                    &format!("{sig_xml}</saml:Subject>"),
                )
            }),
        ),
    ]
}

fn counts_and_roots() -> Vec<Case> {
    const PROFILES: &str = "SAML Profiles §4.1.4.2 (one Assertion); SAML Bindings §3.5.4";
    vec![
        refused(
            "COUNT-two-genuine-signed-assertions",
            "alice's signed Assertion plus mallory's own genuinely signed Assertion from another login",
            "assertion_count",
            COUNT2,
            PROFILES,
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Assertion);
                let other = evil_spec(&s);
                let y = e.signed(&other, Signing::Assertion);
                let theirs = y[assertion_span(&y)].to_owned();
                let a = assertion_span(&x);
                format!("{}{theirs}{}", &x[..a.start], &x[a.start..])
            }),
        ),
        refused(
            "COUNT-no-assertion",
            "a signed, successful Response holding no Assertion",
            "assertion_count",
            "Response contains 0 Assertions",
            PROFILES,
            How::Doc(|e, s| {
                let x = s.to_xml();
                let x = cut(&x, assertion_span(&x));
                sign(&x, &s, Signing::Response, &e.idp.key, &SignOptions::default())
            }),
        ),
        refused(
            "ROOT-evil-response-appended",
            "a second root element (an evil Response) after the signed Response",
            "malformed",
            "content after the root element",
            "XML 1.0 §2.1 (one document element); Somorovsky et al. 2012",
            How::Doc(|e, s| format!("{}{}", e.signed(&s, Signing::Both), evil_response(&s))),
        ),
        refused(
            "ROOT-evil-response-prepended",
            "an evil Response as first root element, the signed Response after it",
            "malformed",
            "content after the root element",
            "XML 1.0 §2.1 (one document element); Somorovsky et al. 2012",
            How::Doc(|e, s| format!("{}{}", evil_response(&s), e.signed(&s, Signing::Both))),
        ),
        refused(
            "ROOT-bare-assertion",
            "the signed Assertion posted alone, without a Response",
            "malformed",
            "root element is <saml:Assertion>, expected samlp:Response",
            "SAML Bindings §3.5.4",
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Assertion);
                x[assertion_span(&x)].to_owned()
            }),
        ),
        refused(
            "ROOT-soap-envelope",
            "the signed Response wrapped in a SOAP Envelope/Body",
            "malformed",
            "root element is <soap:Envelope>, expected samlp:Response",
            "SAML Bindings §3.5.4 (POST carries a bare Response)",
            How::Doc(|e, s| {
                format!(
                    "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body>{}</soap:Body></soap:Envelope>",
                    e.signed(&s, Signing::Both)
                )
            }),
        ),
    ]
}

/// `xml` with the Response's `ID="…"` value replaced by `id`.
fn response_id_set(xml: &str, s: &Spec, id: &str) -> String {
    replace_once(
        xml,
        &format!("ID=\"{}\"", s.response_id),
        &format!("ID=\"{id}\""),
    )
}

fn ids() -> Vec<Case> {
    const XMLID: &str = "SAML Core §1.3.4 (xs:ID); XML Schema Part 2 §3.3.8";
    vec![
        refused(
            "ID-duplicate-evil-assertion",
            "evil Assertion carrying the signed Assertion's ID, placed before it",
            "malformed",
            "appears on more than one element",
            "Somorovsky et al. 2012 (ID-based wrapping); SAML Core §1.3.4 (unique IDs)",
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Assertion);
                let a = assertion_span(&x);
                let mut evil = evil_spec(&s);
                evil.assertion_id = s.assertion_id.clone();
                format!("{}{}{}", &x[..a.start], evil.assertion_xml(), &x[a.start..])
            }),
        ),
        refused(
            "ID-duplicate-evil-response-id",
            "evil Assertion carrying the (signed) Response's ID, appended in an evil Extensions",
            "malformed",
            "appears on more than one element",
            "Somorovsky et al. 2012 (ID-based wrapping); SAML Core §1.3.4 (unique IDs)",
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Response);
                let mut evil = evil_spec(&s);
                evil.assertion_id = s.response_id.clone();
                replace_once(
                    &x,
                    "<samlp:Status>",
                    &format!(
                        "<samlp:Extensions>{}</samlp:Extensions><samlp:Status>",
                        evil.assertion_xml()
                    ),
                )
            }),
        ),
        refused(
            "ID-not-ncname-digit",
            "unsigned Response's ID starts with a digit (not an NCName)",
            "malformed",
            "ID attribute value is not an NCName",
            XMLID,
            How::Doc(|e, s| response_id_set(&e.signed(&s, Signing::Assertion), &s, "1-not-an-ncname")),
        ),
        refused(
            "ID-not-ncname-colon",
            "unsigned Response's ID contains a colon",
            "malformed",
            "ID attribute value is not an NCName",
            XMLID,
            How::Doc(|e, s| response_id_set(&e.signed(&s, Signing::Assertion), &s, "_a:b")),
        ),
        refused(
            "ID-empty",
            "unsigned Response's ID is empty",
            "malformed",
            "ID attribute value is not an NCName",
            XMLID,
            How::Doc(|e, s| response_id_set(&e.signed(&s, Signing::Assertion), &s, "")),
        ),
        refused(
            "ID-leading-space",
            "an evil Status carries ID=\" <assertion id>\" (a copy that only matches after trimming)",
            "malformed",
            "ID attribute value is not an NCName",
            XMLID,
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Assertion);
                replace_once(
                    &x,
                    "<samlp:Status>",
                    &format!("<samlp:Status ID=\" {}\">", s.assertion_id),
                )
            }),
        ),
        refused(
            "ID-on-unexpected-element",
            "samlp:Status given an ID, and the Assertion's Reference pointed at it",
            "signature",
            REF_URI,
            SAML_SIG,
            How::Doc(|e, s| {
                let x = e.signed(&s, Signing::Assertion);
                let x = replace_once(&x, "<samlp:Status>", "<samlp:Status ID=\"_status\">");
                replace_once(
                    &x,
                    &format!("URI=\"#{}\"", s.assertion_id),
                    "URI=\"#_status\"",
                )
            }),
        ),
    ]
}
