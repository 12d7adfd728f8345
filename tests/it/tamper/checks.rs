//! SAML conditions, time and clock skew, replay, RelayState and unsolicited
//! answers, and cross-IdP confusion in a hub that trusts two IdPs.

use super::*;
use base64::Engine as _;
use time::Duration;

pub(super) fn cases() -> Vec<Case> {
    let mut v = conditions();
    v.extend(time_cases());
    v.extend(replay_and_relay_state());
    v.extend(cross_idp());
    v
}

#[test]
fn tamper_checks_corpus() {
    Rig::start().run(&cases());
}

const PROFILES: &str = "SAML Profiles §4.1.4.2";
const CORE_TIME: &str = "SAML Core §2.5.1.2; Profiles §4.1.4.2";
const OTHER_SP: &str = "https://other-sp.example/saml/acs";

/// Removes the first `<{qname} …>…</{qname}>` (or `<{qname} …/>`) from `xml`.
fn remove_element(xml: &str, qname: &str) -> String {
    let start = xml.find(&format!("<{qname}")).unwrap();
    let rest = &xml[start..];
    let close = format!("</{qname}>");
    let open_end = rest.find('>').unwrap();
    let end = if rest[..open_end].ends_with('/') {
        start + open_end + 1
    } else {
        start + rest.find(&close).unwrap() + close.len()
    };
    format!("{}{}", &xml[..start], &xml[end..])
}

/// Signs (as `how`) the Spec's XML after `edit`.
pub(super) fn signed_after(
    e: &Env,
    s: &Spec,
    how: Signing,
    edit: impl Fn(&str) -> String,
) -> String {
    sign(
        &edit(&s.to_xml()),
        s,
        how,
        &e.idp.key,
        &SignOptions::default(),
    )
}

fn conditions() -> Vec<Case> {
    vec![
        refused(
            "AUD-wrong",
            "AudienceRestriction names another SP",
            "audience",
            "does not contain our entityID",
            "SAML Core §2.5.1.4",
            How::Doc(|e, mut s| {
                s.audiences = vec!["https://other-sp.example/saml/metadata".into()];
                e.signed(&s, Signing::Assertion)
            }),
        ),
        refused(
            "AUD-prefix-of-ours",
            "Audience is our entityID with a suffix (prefix-match confusion)",
            "audience",
            "does not contain our entityID",
            "SAML Core §2.5.1.4",
            How::Doc(|e, mut s| {
                s.audiences = vec![format!("{}.evil.test", s.audiences[0])];
                e.signed(&s, Signing::Assertion)
            }),
        ),
        refused(
            "AUD-empty-restriction",
            "an AudienceRestriction with no Audience",
            "audience",
            "Audience (empty) does not contain our entityID",
            "SAML Core §2.5.1.4",
            How::Doc(|e, mut s| {
                s.audiences = vec![];
                e.signed(&s, Signing::Both)
            }),
        ),
        refused(
            "AUD-missing",
            "no AudienceRestriction at all",
            "incomplete",
            "Assertion has no AudienceRestriction",
            PROFILES,
            How::Doc(|e, s| {
                signed_after(e, &s, Signing::Assertion, |x| {
                    remove_element(x, "saml:AudienceRestriction")
                })
            }),
        ),
        refused(
            "AUD-second-restriction-foreign",
            "a second AudienceRestriction naming only another SP (every restriction must hold)",
            "audience",
            "does not contain our entityID",
            "SAML Core §2.5.1.4",
            How::Doc(|e, s| {
                signed_after(e, &s, Signing::Assertion, |x| {
                    replace_once(
                        x,
                        "</saml:AudienceRestriction>",
                        "</saml:AudienceRestriction><saml:AudienceRestriction><saml:Audience>https://other-sp.example/saml/metadata</saml:Audience></saml:AudienceRestriction>",
                    )
                })
            }),
        ),
        refused(
            "DEST-wrong",
            "Response Destination is another SP's ACS",
            "destination",
            "Destination 'https://other-sp.example/saml/acs' is not our ACS",
            "SAML Bindings §3.5.5.2",
            How::Doc(|e, mut s| {
                s.destination = Some(OTHER_SP.into());
                e.signed(&s, Signing::Response)
            }),
        ),
        refused(
            "DEST-suffixed",
            "Destination is our ACS URL with a path suffix",
            "destination",
            "is not our ACS",
            "SAML Bindings §3.5.5.2",
            How::Doc(|e, mut s| {
                s.destination = Some(format!("{}/../evil", s.recipient));
                e.signed(&s, Signing::Both)
            }),
        ),
        refused(
            "DEST-missing-signed-response",
            "a signed Response without Destination",
            "destination",
            "signed Response has no Destination",
            "SAML Bindings §3.5.5.2",
            How::Doc(|e, mut s| {
                s.destination = None;
                e.signed(&s, Signing::Both)
            }),
        ),
        refused(
            "RCPT-wrong",
            "SubjectConfirmationData Recipient is another SP's ACS",
            "recipient",
            "Recipient 'https://other-sp.example/saml/acs' is not our ACS",
            PROFILES,
            How::Doc(|e, mut s| {
                s.recipient = OTHER_SP.into();
                e.signed(&s, Signing::Assertion)
            }),
        ),
        refused(
            "RCPT-missing",
            "SubjectConfirmationData without Recipient",
            "incomplete",
            "Assertion has no SubjectConfirmationData Recipient",
            PROFILES,
            How::Doc(|e, s| {
                let r = format!(" Recipient=\"{}\"", s.recipient);
                signed_after(e, &s, Signing::Assertion, |x| replace_once(x, &r, ""))
            }),
        ),
        refused(
            "IRT-wrong",
            "InResponseTo (Response and SubjectConfirmationData) names another request",
            "in_response_to",
            "Response InResponseTo",
            PROFILES,
            How::Doc(|e, mut s| {
                s.in_response_to = Some(random_id());
                e.signed(&s, Signing::Both)
            }),
        ),
        refused(
            "IRT-scd-only-wrong",
            "the Response's InResponseTo is ours, the SubjectConfirmationData's another",
            "in_response_to",
            "SubjectConfirmationData InResponseTo",
            PROFILES,
            How::Doc(|e, s| {
                signed_after(e, &s, Signing::Assertion, |x| {
                    let irt = s.in_response_to.clone().unwrap();
                    let a = assertion_span(x);
                    let inner = x[a.clone()].replacen(&irt, &random_id(), 1);
                    format!("{}{inner}{}", &x[..a.start], &x[a.end..])
                })
            }),
        ),
        refused(
            "IRT-response-only-wrong",
            "the SubjectConfirmationData's InResponseTo is ours, the Response's another",
            "in_response_to",
            "Response InResponseTo",
            PROFILES,
            How::Doc(|e, s| {
                signed_after(e, &s, Signing::Assertion, |x| {
                    let irt = s.in_response_to.clone().unwrap();
                    x.replacen(&irt, &random_id(), 1)
                })
            }),
        ),
        refused(
            "ISS-wrong",
            "both Issuers name another IdP (signed with the trusted key)",
            "issuer",
            "Issuer 'https://idp.evil.test/' is not the IdP's entityID",
            PROFILES,
            How::Doc(|e, mut s| {
                s.assertion_issuer = "https://idp.evil.test/".into();
                s.response_issuer = "https://idp.evil.test/".into();
                e.signed(&s, Signing::Both)
            }),
        ),
        refused(
            "ISS-response-only-wrong",
            "the Response's Issuer names another IdP, the Assertion's is right",
            "issuer",
            "Response Issuer 'https://idp.evil.test/'",
            PROFILES,
            How::Doc(|e, mut s| {
                s.response_issuer = "https://idp.evil.test/".into();
                e.signed(&s, Signing::Assertion)
            }),
        ),
        refused(
            "ISS-assertion-missing",
            "the Assertion has no Issuer",
            "incomplete",
            "Assertion has no Issuer",
            PROFILES,
            How::Doc(|e, s| {
                signed_after(e, &s, Signing::Response, |x| {
                    let a = assertion_span(x);
                    let inner = remove_element(&x[a.clone()], "saml:Issuer");
                    format!("{}{inner}{}", &x[..a.start], &x[a.end..])
                })
            }),
        ),
        refused(
            "STATUS-responder",
            "StatusCode Responder (with a valid, signed Assertion attached)",
            "idp_status",
            "status:Responder",
            "SAML Core §3.2.2.2",
            How::Doc(|e, mut s| {
                s.status = "urn:oasis:names:tc:SAML:2.0:status:Responder".into();
                e.signed(&s, Signing::Both)
            }),
        ),
        refused(
            "BEARER-holder-of-key",
            "the only SubjectConfirmation is holder-of-key, not bearer",
            "incomplete",
            "no bearer SubjectConfirmation",
            PROFILES,
            How::Doc(|e, s| {
                signed_after(e, &s, Signing::Assertion, |x| {
                    replace_once(
                        x,
                        samlhub::testing::idp::CM_BEARER,
                        "urn:oasis:names:tc:SAML:2.0:cm:holder-of-key",
                    )
                })
            }),
        ),
        refused(
            "SUBJ-no-nameid",
            "a Subject without NameID (and no subject attribute configured)",
            "mapping",
            "has no NameID",
            "SAML Core §2.4.1",
            How::Doc(|e, s| {
                signed_after(e, &s, Signing::Assertion, |x| {
                    remove_element(x, "saml:NameID")
                })
            }),
        ),
    ]
}

#[derive(Clone, Copy)]
enum Edge {
    /// Conditions NotOnOrAfter = t.
    Conditions,
    /// SubjectConfirmationData NotOnOrAfter = t.
    Scd,
    /// Conditions NotBefore = t.
    NotBefore,
}

/// A document whose `edge` is at t, given to inspect at t + `offset` s.
fn skew_edge(rig: &Rig, c: &Case, edge: Edge, offset: i64, extra: &[&str]) -> Result<(), String> {
    let t = now().replace_nanosecond(0).unwrap();
    let (sp, acs) = (rig.entity_id(), rig.acs());
    let mut s = Spec::valid(
        &rig.env.idp,
        &sp,
        &acs,
        Some("_req"),
        t - Duration::minutes(5),
    );
    match edge {
        Edge::Conditions => {
            s.not_on_or_after = t;
            s.scd_not_on_or_after = t + Duration::minutes(10);
        }
        Edge::Scd => {
            s.not_on_or_after = t + Duration::minutes(10);
            s.scd_not_on_or_after = t;
        }
        Edge::NotBefore => {
            s = Spec::valid(&rig.env.idp, &sp, &acs, Some("_req"), t);
            s.not_before = t;
        }
    }
    let xml = rig.env.signed(&s, Signing::Both);
    let (rc, v) = rig.inspect(&xml, "_req", t + Duration::seconds(offset), extra);
    check_verdict(rc, &v, c.expect)
}

fn time_cases() -> Vec<Case> {
    const SKEW: &str = "SAML Core §2.5.1.2; design §3 rule 6 (60 s default skew)";
    vec![
        refused(
            "TIME-notbefore-future",
            "Conditions NotBefore 10 minutes ahead",
            "time",
            "Assertion Conditions is not yet valid",
            CORE_TIME,
            How::Doc(|e, mut s| {
                s.not_before = s.issue_instant + Duration::minutes(10);
                s.not_on_or_after = s.issue_instant + Duration::minutes(15);
                e.signed(&s, Signing::Assertion)
            }),
        ),
        refused(
            "TIME-conditions-expired",
            "Conditions NotOnOrAfter 5 minutes ago",
            "time",
            "Assertion Conditions expired",
            CORE_TIME,
            How::Doc(|e, mut s| {
                s.not_before = s.issue_instant - Duration::minutes(10);
                s.not_on_or_after = s.issue_instant - Duration::minutes(5);
                e.signed(&s, Signing::Assertion)
            }),
        ),
        refused(
            "TIME-scd-expired",
            "SubjectConfirmationData NotOnOrAfter 5 minutes ago",
            "time",
            "SubjectConfirmationData expired",
            CORE_TIME,
            How::Doc(|e, mut s| {
                s.scd_not_on_or_after = s.issue_instant - Duration::minutes(5);
                e.signed(&s, Signing::Response)
            }),
        ),
        refused(
            "TIME-scd-notbefore-future",
            "SubjectConfirmationData NotBefore 10 minutes ahead",
            "time",
            "SubjectConfirmationData is not yet valid",
            CORE_TIME,
            How::Doc(|e, s| {
                let nb = format!(
                    " NotBefore=\"{}\" NotOnOrAfter=",
                    fmt_time(s.issue_instant + Duration::minutes(10))
                );
                signed_after(e, &s, Signing::Assertion, |x| {
                    let a = assertion_span(x);
                    let inner = x[a.clone()].replacen(" NotOnOrAfter=", &nb, 1);
                    format!("{}{inner}{}", &x[..a.start], &x[a.end..])
                })
            }),
        ),
        refused(
            "TIME-session-ended",
            "AuthnStatement SessionNotOnOrAfter 5 minutes ago",
            "time",
            "SessionNotOnOrAfter",
            "SAML Core §2.7.2",
            How::Doc(|e, mut s| {
                s.session_not_on_or_after = Some(s.issue_instant - Duration::minutes(5));
                e.signed(&s, Signing::Assertion)
            }),
        ),
        refused(
            "TIME-outside-skew-70s",
            "Conditions ended 70 s ago (skew 60 s), SubjectConfirmationData still valid",
            "time",
            "Assertion Conditions expired",
            SKEW,
            How::Doc(|e, mut s| {
                s.not_before = s.issue_instant - Duration::minutes(5);
                s.not_on_or_after = s.issue_instant - Duration::seconds(70);
                e.signed(&s, Signing::Both)
            }),
        ),
        refused(
            "TIME-not-utc",
            "NotOnOrAfter written with a +01:00 offset instead of Z",
            "malformed",
            "is not an xs:dateTime in UTC",
            "SAML Core §1.3.3",
            How::Doc(|e, s| {
                let z = fmt_time(s.not_on_or_after);
                let offset = format!("{}+01:00", z.trim_end_matches('Z'));
                signed_after(e, &s, Signing::Assertion, |x| {
                    x.replace(
                        &format!("NotOnOrAfter=\"{z}\""),
                        &format!("NotOnOrAfter=\"{offset}\""),
                    )
                })
            }),
        ),
        control(
            "CONTROL-inside-skew-notonorafter-20s",
            "Conditions and SubjectConfirmationData ended 20 s ago: inside the 60 s skew",
            ALICE,
            How::Doc(|e, mut s| {
                s.not_on_or_after = s.issue_instant - Duration::seconds(20);
                s.scd_not_on_or_after = s.issue_instant - Duration::seconds(20);
                s.not_before = s.issue_instant - Duration::minutes(5);
                e.signed(&s, Signing::Assertion)
            }),
        ),
        control(
            "CONTROL-inside-skew-notbefore-20s",
            "NotBefore 20 s ahead: inside the 60 s skew",
            ALICE,
            How::Doc(|e, mut s| {
                s.not_before = s.issue_instant + Duration::seconds(20);
                e.signed(&s, Signing::Response)
            }),
        ),
        control(
            "CONTROL-skew-edge-notonorafter-59s",
            "inspect --now 59 s after Conditions NotOnOrAfter",
            ALICE,
            How::Scenario(|r, c| skew_edge(r, c, Edge::Conditions, 59, &[])),
        ),
        refused(
            "TIME-skew-edge-notonorafter-60s",
            "inspect --now exactly 60 s (the skew) after Conditions NotOnOrAfter",
            "time",
            "Assertion Conditions expired",
            SKEW,
            How::Scenario(|r, c| skew_edge(r, c, Edge::Conditions, 60, &[])),
        ),
        refused(
            "TIME-skew-edge-notonorafter-61s",
            "inspect --now 61 s after Conditions NotOnOrAfter",
            "time",
            "Assertion Conditions expired",
            SKEW,
            How::Scenario(|r, c| skew_edge(r, c, Edge::Conditions, 61, &[])),
        ),
        control(
            "CONTROL-skew-edge-scd-59s",
            "inspect --now 59 s after SubjectConfirmationData NotOnOrAfter",
            ALICE,
            How::Scenario(|r, c| skew_edge(r, c, Edge::Scd, 59, &[])),
        ),
        refused(
            "TIME-skew-edge-scd-61s",
            "inspect --now 61 s after SubjectConfirmationData NotOnOrAfter",
            "time",
            "SubjectConfirmationData expired",
            SKEW,
            How::Scenario(|r, c| skew_edge(r, c, Edge::Scd, 61, &[])),
        ),
        control(
            "CONTROL-skew-edge-notbefore-59s",
            "inspect --now 59 s before NotBefore",
            ALICE,
            How::Scenario(|r, c| skew_edge(r, c, Edge::NotBefore, -59, &[])),
        ),
        refused(
            "TIME-skew-edge-notbefore-61s",
            "inspect --now 61 s before NotBefore",
            "time",
            "is not yet valid",
            SKEW,
            How::Scenario(|r, c| skew_edge(r, c, Edge::NotBefore, -61, &[])),
        ),
        control(
            "CONTROL-skew-120s-edge-119s",
            "a configured skew of 120 s moves the edge: inspect --now 119 s after NotOnOrAfter",
            ALICE,
            How::Scenario(|r, c| skew_edge(r, c, Edge::Conditions, 119, &["--clock-skew", "120"])),
        ),
    ]
}

// ---- replay and RelayState --------------------------------------------------

/// Posts a valid answer to `login` and requires acceptance.
fn accept(rig: &Rig, xml: &str, login: &Login, what: &str) -> Result<(), String> {
    check_page(&rig.post(xml, Some(&login.relay_state)), "").map_err(|e| format!("{what}: {e}"))
}

/// Posts `xml` with `relay_state` and checks the case's refusal.
fn refused_at_acs(rig: &Rig, c: &Case, xml: &str, relay_state: Option<&str>) -> Result<(), String> {
    let from = rig.log_len();
    let page = rig.post(xml, relay_state);
    rig.check_acs(&page, &mut Browser::new(), c.expect, from)
}

fn replay_verbatim(rig: &Rig, c: &Case) -> Result<(), String> {
    let login = rig.begin();
    let xml = rig.env.signed(&rig.spec_for(&login, now()), Signing::Both);
    accept(rig, &xml, &login, "first post")?;
    refused_at_acs(rig, c, &xml, Some(&login.relay_state))
}

fn replay_second_answer(rig: &Rig, c: &Case) -> Result<(), String> {
    let login = rig.begin();
    let xml = rig.env.signed(&rig.spec_for(&login, now()), Signing::Both);
    accept(rig, &xml, &login, "first answer")?;
    let other = rig
        .env
        .signed(&rig.spec_for(&login, now()), Signing::Assertion);
    refused_at_acs(rig, c, &other, Some(&login.relay_state))
}

fn replay_assertion_id(rig: &Rig, c: &Case) -> Result<(), String> {
    let login = rig.begin();
    let spec = rig.spec_for(&login, now());
    accept(
        rig,
        &rig.env.signed(&spec, Signing::Both),
        &login,
        "first login",
    )?;
    let login2 = rig.begin();
    let mut spec2 = rig.spec_for(&login2, now());
    spec2.assertion_id = spec.assertion_id.clone();
    let xml2 = rig.env.signed(&spec2, Signing::Assertion);
    refused_at_acs(rig, c, &xml2, Some(&login2.relay_state))?;
    // inspect has no replay cache: the document itself is valid.
    let (rc, v) = rig.inspect(&xml2, &login2.request_id, now(), &[]);
    let skipped = v["skipped_checks"]
        .as_array()
        .is_some_and(|a| a.iter().any(|c| c == "replay"));
    if rc != 0 || !skipped {
        return Err(format!(
            "inspect should accept and list replay as skipped: {v}"
        ));
    }
    // The refusal did not burn the pending login.
    accept(
        rig,
        &rig.env.signed(&rig.spec_for(&login2, now()), Signing::Both),
        &login2,
        "fresh assertion after a refused replay",
    )
}

fn replay_burst(rig: &Rig, c: &Case) -> Result<(), String> {
    let Expect::Refused { code, .. } = c.expect else {
        unreachable!()
    };
    let login = rig.begin();
    let xml = rig.env.signed(&rig.spec_for(&login, now()), Signing::Both);
    let pages: Vec<Page> = std::thread::scope(|sc| {
        let handles: Vec<_> = (0..6)
            .map(|_| sc.spawn(|| rig.post(&xml, Some(&login.relay_state))))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let summary: Vec<String> = pages
        .iter()
        .map(|p| {
            format!(
                "{} {}",
                p.status,
                p.header("x-samlhub-error").unwrap_or("-")
            )
        })
        .collect();
    let accepted = pages.iter().filter(|p| p.status == 303).count();
    let refused_ok = pages
        .iter()
        .filter(|p| p.status != 303)
        .all(|p| p.status == 403 && p.header("x-samlhub-error") == Some(code));
    if accepted != 1 || !refused_ok {
        return Err(format!("six identical concurrent posts: {summary:?}"));
    }
    Ok(())
}

/// A valid answer to a fresh login posted with `rs`, refused; then the
/// same answer with its own RelayState still accepted (nothing was burnt).
fn bad_relay_state(rig: &Rig, c: &Case, rs: Option<&str>) -> Result<(), String> {
    let login = rig.begin();
    let xml = rig.env.signed(&rig.spec_for(&login, now()), Signing::Both);
    refused_at_acs(rig, c, &xml, rs)?;
    accept(rig, &xml, &login, "own RelayState afterwards")
}

fn unknown_handle(rig: &Rig, c: &Case) -> Result<(), String> {
    let mut random = [0u8; 16];
    openssl::rand::rand_bytes(&mut random).unwrap();
    let unknown = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random);
    bad_relay_state(rig, c, Some(&unknown))
}

fn unsolicited_without_relay_state(rig: &Rig, c: &Case) -> Result<(), String> {
    let mut spec = Spec::valid(&rig.env.idp, &rig.entity_id(), &rig.acs(), None, now());
    spec.in_response_to = None;
    let xml = rig.env.signed(&spec, Signing::Both);
    refused_at_acs(rig, c, &xml, None)?;
    // The document is a valid unsolicited answer: only the hub's policy
    // (IdP-initiated login off for "test") refuses it.
    let (rc, v) = rig.inspect_with(&rig.md_path, xml.as_bytes(), "_unused", now(), &[]);
    if rc != 1 {
        return Err(format!("inspect with --in-response-to must refuse: {v}"));
    }
    let (rc, v) = rig.inspect_with(&rig.md_path, xml.as_bytes(), "", now(), &[]);
    if rc != 0 {
        return Err(format!("inspect --unsolicited must accept: {v}"));
    }
    Ok(())
}

fn other_users_relay_state(rig: &Rig, c: &Case) -> Result<(), String> {
    let first = rig.begin();
    let second = rig.begin();
    let at = now();
    let xml = rig.env.signed(&rig.spec_for(&first, at), Signing::Both);
    refused_at_acs(rig, c, &xml, Some(&second.relay_state))?;
    let (rc, v) = rig.inspect(&xml, &second.request_id, at, &[]);
    check_verdict(rc, &v, c.expect).map_err(|e| format!("inspect {e}"))?;
    // Both logins are still usable by their own answers.
    accept(
        rig,
        &xml,
        &first,
        "request 1's answer with its own RelayState",
    )?;
    accept(
        rig,
        &rig.env.signed(&rig.spec_for(&second, now()), Signing::Both),
        &second,
        "request 2's own answer",
    )
}

/// The form carries two SAMLResponse fields (an evil one first) or two
/// RelayState fields (another login's first): one field, one meaning.
fn duplicate_field(rig: &Rig, c: &Case, field: &str) -> Result<(), String> {
    let login = rig.begin();
    let other = rig.begin();
    let spec = rig.spec_for(&login, now());
    let genuine = rig.env.signed(&spec, Signing::Both);
    let evil = evil_response(&spec);
    let form: Vec<(&str, String)> = match field {
        "SAMLResponse" => vec![
            ("SAMLResponse", b64(&evil)),
            ("SAMLResponse", b64(&genuine)),
            ("RelayState", login.relay_state.clone()),
        ],
        _ => vec![
            ("SAMLResponse", b64(&genuine)),
            ("RelayState", other.relay_state.clone()),
            ("RelayState", login.relay_state.clone()),
        ],
    };
    let from = rig.log_len();
    let page = Browser::new().post_form(&rig.acs(), &form);
    rig.check_acs(&page, &mut Browser::new(), c.expect, from)?;
    accept(rig, &genuine, &login, "the genuine answer alone afterwards")
}

fn replay_and_relay_state() -> Vec<Case> {
    const REPLAY: &str = "SAML Profiles §4.1.4.5";
    const RELAY: &str = "SAML Bindings §3.5.3; design §3 rule 6";
    vec![
        refused(
            "REPLAY-verbatim",
            "an accepted Response posted again with its RelayState",
            "replay",
            "was already used",
            REPLAY,
            How::Scenario(replay_verbatim),
        ),
        refused(
            "REPLAY-second-answer-same-request",
            "a second, different valid Assertion for a request already answered",
            "replay",
            "was already answered by another assertion",
            REPLAY,
            How::Scenario(replay_second_answer),
        ),
        refused(
            "REPLAY-reused-assertion-id",
            "a used Assertion ID again, in an otherwise valid answer to a new login",
            "replay",
            "was already used",
            REPLAY,
            How::Scenario(replay_assertion_id),
        ),
        refused(
            "REPLAY-concurrent-burst",
            "six identical posts at once: exactly one accepted",
            "replay",
            "was already used",
            REPLAY,
            How::Scenario(replay_burst),
        ),
        refused(
            "RS-unknown-handle",
            "a well-formed 22-character RelayState the hub never issued",
            "unknown_relay_state",
            "unknown or expired",
            RELAY,
            How::Scenario(unknown_handle),
        ),
        refused(
            "RS-url",
            "RelayState is an absolute URL",
            "unknown_relay_state",
            "not a handle issued here",
            "SAML Bindings §3.5.3 (open redirect via RelayState)",
            How::Scenario(|r, c| bad_relay_state(r, c, Some("https://evil.example/after-login"))),
        ),
        refused(
            "RS-local-path",
            "RelayState is a local path",
            "unknown_relay_state",
            "not a handle issued here",
            RELAY,
            How::Scenario(|r, c| bad_relay_state(r, c, Some("/session"))),
        ),
        refused(
            "RS-missing",
            "a valid answer to a started login, posted without RelayState",
            "unknown_relay_state",
            "missing (unsolicited responses are not accepted)",
            RELAY,
            How::Scenario(|r, c| bad_relay_state(r, c, None)),
        ),
        refused(
            "RS-other-users-pending-request",
            "the answer to request 1 posted with request 2's RelayState",
            "in_response_to",
            "Response InResponseTo",
            "SAML Profiles §4.1.4.2; login CSRF / session swap",
            How::Scenario(other_users_relay_state),
        ),
        refused(
            "BIND-duplicate-samlresponse-field",
            "the POST carries two SAMLResponse fields, an evil unsigned one first",
            "bad_request",
            "duplicate field",
            "SAML Bindings §3.5.4; HTTP parameter pollution",
            How::Scenario(|r, c| duplicate_field(r, c, "SAMLResponse")),
        ),
        refused(
            "BIND-duplicate-relaystate-field",
            "the POST carries two RelayState fields, another pending login's first",
            "bad_request",
            "duplicate field",
            "SAML Bindings §3.5.3; HTTP parameter pollution",
            How::Scenario(|r, c| duplicate_field(r, c, "RelayState")),
        ),
        refused(
            "UNSOL-no-relay-state",
            "an unsolicited answer (no InResponseTo, no RelayState) from an IdP with IdP-initiated login off",
            "unsolicited_off",
            "IdP 'test' started this sign-in",
            "SAML Profiles §4.1.5 (unsolicited responses)",
            How::Scenario(unsolicited_without_relay_state),
        ),
        refused(
            "UNSOL-no-inresponseto-with-relay-state",
            "an answer without any InResponseTo, posted with a pending login's RelayState",
            "in_response_to",
            "SubjectConfirmationData InResponseTo (none)",
            "SAML Profiles §4.1.4.2, §4.1.5",
            How::Doc(|e, mut s| {
                s.in_response_to = None;
                e.signed(&s, Signing::Both)
            }),
        ),
    ]
}

// ---- cross-IdP --------------------------------------------------------------

fn as_other(e: &Env, s: &mut Spec) {
    s.response_issuer = e.other.entity_id.clone();
    s.assertion_issuer = e.other.entity_id.clone();
}

fn cross_idp() -> Vec<Case> {
    const XIDP: &str = "design §3 rule 3 (keys of the IdP the stored request names)";
    vec![
        refused(
            "XIDP-issuer-test-signed-by-other",
            "login at IdP test; Issuer test, signed with IdP other's (also trusted) key",
            "signature",
            BAD_SIG,
            XIDP,
            How::Doc(|e, s| e.signed_by(&s, Signing::Both, &e.other.key)),
        ),
        refused(
            "XIDP-issuer-other-signed-by-test",
            "login at IdP test; Issuer other, signed with test's key",
            "issuer",
            "Issuer 'https://idp.tamper-other.test/' is not the IdP's entityID",
            XIDP,
            How::Doc(|e, mut s| {
                as_other(e, &mut s);
                e.signed(&s, Signing::Both)
            }),
        ),
        refused(
            "XIDP-other-answer-to-test-login",
            "login at IdP test; a complete, valid answer from IdP other",
            "signature",
            BAD_SIG,
            XIDP,
            How::Doc(|e, mut s| {
                as_other(e, &mut s);
                e.signed_by(&s, Signing::Both, &e.other.key)
            }),
        ),
        refused(
            "XIDP-test-answer-to-other-login",
            "login at IdP other; a complete, valid answer from IdP test",
            "signature",
            BAD_SIG,
            XIDP,
            How::DocAt("other", |e, s| e.signed(&s, Signing::Both)),
        ),
        refused(
            "XIDP-issuer-test-signed-by-other-at-other",
            "login at IdP other; Issuer test, signed with other's key",
            "issuer",
            "Issuer 'https://idp.tamper.test/' is not the IdP's entityID",
            XIDP,
            How::DocAt("other", |e, s| e.signed_by(&s, Signing::Assertion, &e.other.key)),
        ),
        refused(
            "XIDP-issuer-other-signed-by-test-at-other",
            "login at IdP other; Issuer other, signed with test's key",
            "signature",
            BAD_SIG,
            XIDP,
            How::DocAt("other", |e, mut s| {
                as_other(e, &mut s);
                e.signed(&s, Signing::Response)
            }),
        ),
        refused(
            "XIDP-shared-key-tenant-a-answer-at-tenant-b",
            "login at tenant-b, which shares test's certificate; a complete, valid answer from test (tenant A)",
            "issuer",
            "Issuer 'https://idp.tamper.test/' is not the IdP's entityID 'https://sts.tenant-b.test/'",
            "design §3 (Entra tenants share one signing certificate; only the Issuer tells them apart)",
            How::DocAt("tenant-b", |e, s| e.signed(&s, Signing::Both)),
        ),
        refused(
            "XIDP-shared-key-tenant-b-answer-at-tenant-a",
            "login at test; a complete, valid answer from tenant-b, signed with the shared key",
            "issuer",
            "Issuer 'https://sts.tenant-b.test/' is not the IdP's entityID 'https://idp.tamper.test/'",
            "design §3 (Entra tenants share one signing certificate; only the Issuer tells them apart)",
            How::Doc(|e, mut s| {
                s.response_issuer = e.tenant_b.entity_id.clone();
                s.assertion_issuer = e.tenant_b.entity_id.clone();
                e.signed_by(&s, Signing::Assertion, &e.tenant_b.key)
            }),
        ),
        control(
            "CONTROL-tenant-b-answer-at-tenant-b",
            "login at tenant-b; a valid answer from tenant-b (shared key)",
            ALICE,
            How::DocAt("tenant-b", |e, mut s| {
                s.response_issuer = e.tenant_b.entity_id.clone();
                s.assertion_issuer = e.tenant_b.entity_id.clone();
                e.signed_by(&s, Signing::Both, &e.tenant_b.key)
            }),
        ),
        control(
            "CONTROL-other-answer-to-other-login",
            "login at IdP other; a valid answer from IdP other",
            ALICE,
            How::DocAt("other", |e, mut s| {
                as_other(e, &mut s);
                e.signed_by(&s, Signing::Both, &e.other.key)
            }),
        ),
    ]
}
