//! IdP-initiated (unsolicited) responses at IdP "unsol", which allows them
//! (SAML Profiles §4.1.5). Allowing them changes only where the IdP comes
//! from (the Issuer, since no request names it) and that InResponseTo must
//! be absent: every other check stays, replay included, and a valid one
//! still needs the user's click on a same-site page before a session
//! exists (login CSRF). Accepted documents go through that page here.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use super::checks::signed_after;
use super::{
    accepted, after_first_issuer, b64, check_page, check_verdict, control, evil_assertion, now,
    refused, replace_once, Case, Env, Expect, How, Rig, ALICE, BAD_SIG, COUNT2, DIGEST, UNSIGNED,
};
use crate::peers::browser::{hidden_inputs, Browser, Page};
use samlhub::testing::idp::{random_id, Signing, Spec};
use time::Duration;

#[test]
fn tamper_unsolicited_corpus() {
    Rig::start().run(&cases());
}

const P415: &str = "SAML Profiles §4.1.5";
const OTHER_SP: &str = "https://other-sp.example/saml/acs";

/// A valid unsolicited Spec of IdP "unsol" at `at`.
fn spec(rig: &Rig, at: time::OffsetDateTime) -> Spec {
    Spec::valid(&rig.env.unsol, &rig.entity_id(), &rig.acs(), None, at)
}

/// Posts an unsolicited document as the IdP's auto-POST would, and, when
/// the hub asks the user to confirm, clicks Continue in the same browser.
pub(crate) fn post(rig: &Rig, b: &mut Browser, xml: &str, relay_state: Option<&str>) -> Page {
    let mut form = vec![("SAMLResponse", b64(xml))];
    if let Some(rs) = relay_state {
        form.push(("RelayState", rs.to_owned()));
    }
    let page = b.post_form(&rig.acs(), &form);
    if page.status != 200 || !page.body.contains("Continue as") {
        return page;
    }
    let ticket = ticket_of(&page);
    b.post_form(
        &format!("{}/saml/continue", rig.hub.base_url()),
        &[("ticket", ticket.as_str())],
    )
}

fn ticket_of(page: &Page) -> String {
    hidden_inputs(&page.body)
        .into_iter()
        .find(|(k, _)| k == "ticket")
        .map(|(_, v)| v)
        .unwrap_or_default()
}

/// The runner of [`How::Unsolicited`]: the ACS, then inspect `--unsolicited`
/// with "unsol"'s metadata.
pub(crate) fn run(rig: &Rig, c: &Case, build: fn(&Env, Spec) -> String) -> Result<(), String> {
    let at = now();
    let xml = build(&rig.env, spec(rig, at));
    let mut errs = Vec::new();
    let from = rig.log_len();
    let mut b = Browser::new();
    let page = post(rig, &mut b, &xml, None);
    if let Err(e) = rig.check_acs(&page, &mut b, c.expect, from) {
        errs.push(format!("ACS {e}"));
    }
    let (rc, v) = rig.inspect_with(&rig.md_unsol_path, xml.as_bytes(), "", at, &[]);
    if let Err(e) = check_verdict(rc, &v, c.expect) {
        errs.push(format!("inspect {e}"));
    }
    if let Err(e) = rig.assert_no_connection("unsolicited") {
        errs.push(e);
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(errs.join("; "))
    }
}

pub(crate) fn cases() -> Vec<Case> {
    vec![
        control(
            "UNSOL-ok",
            "a valid unsolicited Response, both signed, from an IdP that allows them",
            ALICE,
            How::Unsolicited(|e, s| e.signed(&s, Signing::Both)),
        ),
        accepted(
            "UNSOL-relay-state-url-ignored",
            "a valid unsolicited Response with RelayState https://evil.example/: it lands on unsolicited_target, never the RelayState",
            ALICE,
            "SAML Bindings §3.5.3; Profiles §4.1.5 (open redirect)",
            How::Scenario(relay_state_is_not_a_target),
        ),
        refused(
            "UNSOL-XSW-evil-assertion-first",
            "an unsigned evil Assertion placed before the signed one",
            "assertion_count",
            COUNT2,
            "XSW (Somorovsky et al. 2012); SAML Core §5.4",
            How::Unsolicited(|e, s| {
                let signed = e.signed(&s, Signing::Assertion);
                after_first_issuer(&signed, &evil_assertion(&s))
            }),
        ),
        refused(
            "UNSOL-XSW-signed-response-content-changed",
            "the signed Response's NameID changed to mallory after signing",
            "signature",
            DIGEST,
            "SAML Core §5.4; XMLDSig §3.2.1",
            How::Unsolicited(|e, s| {
                let signed = e.signed(&s, Signing::Response);
                replace_once(&signed, ">alice</saml:NameID>", ">mallory</saml:NameID>")
            }),
        ),
        refused(
            "UNSOL-wrong-signer",
            "signed by a key nobody trusts, the Issuer claiming IdP unsol",
            "signature",
            BAD_SIG,
            "SAML Core §5.4; design §3 rule 3",
            How::Unsolicited(|e, s| e.signed_by(&s, Signing::Both, &e.attacker)),
        ),
        refused(
            "UNSOL-other-idps-key",
            "signed by IdP other's key, the Issuer claiming IdP unsol",
            "signature",
            BAD_SIG,
            "SAML Core §5.4; design §3 rule 3 (keys of the IdP the Issuer names)",
            How::Unsolicited(|e, s| e.signed_by(&s, Signing::Both, &e.other.key)),
        ),
        refused(
            "UNSOL-unsigned",
            "an unsolicited Response with no signature",
            "signature",
            UNSIGNED,
            "SAML Profiles §4.1.3.5",
            How::Unsolicited(|_, s| s.to_xml()),
        ),
        refused(
            "UNSOL-wrong-destination",
            "Destination is another SP's ACS",
            "destination",
            "is not our ACS",
            "SAML Bindings §3.5.5.2",
            How::Unsolicited(|e, mut s| {
                s.destination = Some(OTHER_SP.into());
                e.signed(&s, Signing::Both)
            }),
        ),
        refused(
            "UNSOL-wrong-recipient",
            "SubjectConfirmationData Recipient is another SP's ACS",
            "recipient",
            "is not our ACS",
            "SAML Profiles §4.1.4.2",
            How::Unsolicited(|e, mut s| {
                s.recipient = OTHER_SP.into();
                e.signed(&s, Signing::Assertion)
            }),
        ),
        refused(
            "UNSOL-wrong-audience",
            "AudienceRestriction names another SP",
            "audience",
            "does not contain our entityID",
            "SAML Core §2.5.1.4",
            How::Unsolicited(|e, mut s| {
                s.audiences = vec!["https://other-sp.example/saml/metadata".into()];
                e.signed(&s, Signing::Both)
            }),
        ),
        refused(
            "UNSOL-stale",
            "Conditions and SubjectConfirmationData expired 5 minutes ago",
            "time",
            "expired",
            "SAML Core §2.5.1.2; Profiles §4.1.4.2",
            How::Unsolicited(|e, mut s| {
                s.not_before = s.issue_instant - Duration::minutes(10);
                s.not_on_or_after = s.issue_instant - Duration::minutes(5);
                s.scd_not_on_or_after = s.issue_instant - Duration::minutes(5);
                e.signed(&s, Signing::Both)
            }),
        ),
        refused(
            "UNSOL-future",
            "Conditions NotBefore 10 minutes ahead",
            "time",
            "Assertion Conditions is not yet valid",
            "SAML Core §2.5.1.2",
            How::Unsolicited(|e, mut s| {
                s.not_before = s.issue_instant + Duration::minutes(10);
                s.not_on_or_after = s.issue_instant + Duration::minutes(15);
                e.signed(&s, Signing::Both)
            }),
        ),
        refused(
            "UNSOL-scd-in-response-to",
            "no InResponseTo on the Response, one on the SubjectConfirmationData",
            "in_response_to",
            "SubjectConfirmationData InResponseTo",
            P415,
            How::Unsolicited(|e, mut s| {
                let irt = random_id();
                s.in_response_to = Some(irt.clone());
                signed_after(e, &s, Signing::Assertion, |x| {
                    // The Response's attribute comes first in the document.
                    x.replacen(&format!(" InResponseTo=\"{irt}\""), "", 1)
                })
            }),
        ),
        refused(
            "UNSOL-in-response-to-unknown",
            "InResponseTo names a request nobody started, no RelayState: refused as an expired SP-initiated answer",
            "unknown_relay_state",
            "missing (unsolicited responses are not accepted)",
            "SAML Profiles §4.1.4.2, §4.1.5",
            How::Scenario(in_response_to_without_pending),
        ),
        refused(
            "UNSOL-replay",
            "the same valid unsolicited Response posted twice",
            "replay",
            "was already used",
            "SAML Profiles §4.1.4.5",
            How::Scenario(replay),
        ),
        refused(
            "UNSOL-ticket-in-another-browser",
            "login CSRF: the confirmation ticket of a verified unsolicited login posted from a browser without its login cookie",
            "other_browser",
            "no login cookie",
            "RFC 6749 §10.12 (login CSRF) applied to SAML Profiles §4.1.5",
            How::Scenario(ticket_in_another_browser),
        ),
    ]
}

fn relay_state_is_not_a_target(rig: &Rig, c: &Case) -> Result<(), String> {
    let xml = rig.env.signed(&spec(rig, now()), Signing::Both);
    let from = rig.log_len();
    let mut b = Browser::new();
    let page = post(rig, &mut b, &xml, Some("https://evil.example/"));
    rig.check_acs(&page, &mut b, c.expect, from)
}

fn in_response_to_without_pending(rig: &Rig, c: &Case) -> Result<(), String> {
    let mut s = spec(rig, now());
    s.in_response_to = Some(random_id());
    let xml = rig.env.signed(&s, Signing::Both);
    let from = rig.log_len();
    let mut b = Browser::new();
    let page = post(rig, &mut b, &xml, None);
    rig.check_acs(&page, &mut b, c.expect, from)?;
    let (rc, v) = rig.inspect_with(&rig.md_unsol_path, xml.as_bytes(), "", now(), &[]);
    let reason = v["reason"].as_str().unwrap_or("");
    if rc == 1 && reason.contains("Response InResponseTo") {
        Ok(())
    } else {
        Err(format!(
            "inspect --unsolicited must refuse the InResponseTo: {v}"
        ))
    }
}

fn replay(rig: &Rig, c: &Case) -> Result<(), String> {
    let xml = rig.env.signed(&spec(rig, now()), Signing::Both);
    check_page(&post(rig, &mut Browser::new(), &xml, None), "")
        .map_err(|e| format!("first post: {e}"))?;
    let from = rig.log_len();
    let mut b = Browser::new();
    let page = post(rig, &mut b, &xml, None);
    rig.check_acs(&page, &mut b, c.expect, from)
}

fn ticket_in_another_browser(rig: &Rig, c: &Case) -> Result<(), String> {
    let xml = rig.env.signed(&spec(rig, now()), Signing::Both);
    let mut victim = Browser::new();
    let confirm = victim.post_form(&rig.acs(), &[("SAMLResponse", b64(&xml))]);
    if confirm.status != 200
        || confirm
            .header_all("set-cookie")
            .iter()
            .any(|c| c.starts_with("samlhub_session"))
    {
        return Err(format!(
            "the ACS must only ask, not sign in: {}",
            confirm.head()
        ));
    }
    let from = rig.log_len();
    let mut thief = Browser::new();
    let page = thief.post_form(
        &format!("{}/saml/continue", rig.hub.base_url()),
        &[("ticket", ticket_of(&confirm).as_str())],
    );
    rig.check_acs(&page, &mut thief, c.expect, from)?;
    let Expect::Refused { .. } = c.expect else {
        return Err("this scenario expects a refusal".into());
    };
    // The ticket was used up by that attempt: the victim's click finds nothing.
    let late = victim.post_form(
        &format!("{}/saml/continue", rig.hub.base_url()),
        &[("ticket", ticket_of(&confirm).as_str())],
    );
    if late.status == 303 {
        return Err("the ticket worked after another browser tried it".into());
    }
    Ok(())
}
