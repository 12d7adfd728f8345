//! SAML checks, clock-skew boundaries, RelayState, wrapping (XSW) and replay.

use super::*;

#[test]
fn tamper_saml_checks_are_enforced() {
    let rig = Rig::start();
    rig.run(&[
        Case {
            name: "wrong Audience",
            build: |e, mut s| {
                s.audiences = vec!["https://other-sp.example/saml/metadata".into()];
                e.signed(&s, Signing::Assertion)
            },
            code: "audience",
            reason: "does not contain our entityID",
        },
        Case {
            name: "wrong Destination",
            build: |e, mut s| {
                s.destination = Some("https://other-sp.example/saml/acs".into());
                e.signed(&s, Signing::Response)
            },
            code: "destination",
            reason: "Destination 'https://other-sp.example/saml/acs' is not our ACS",
        },
        Case {
            name: "signed Response without Destination",
            build: |e, mut s| {
                s.destination = None;
                e.signed(&s, Signing::Both)
            },
            code: "destination",
            reason: "signed Response has no Destination",
        },
        Case {
            name: "wrong Recipient",
            build: |e, mut s| {
                s.recipient = "https://other-sp.example/saml/acs".into();
                e.signed(&s, Signing::Assertion)
            },
            code: "recipient",
            reason: "Recipient 'https://other-sp.example/saml/acs' is not our ACS",
        },
        Case {
            name: "wrong InResponseTo (another request's id)",
            build: |e, mut s| {
                s.in_response_to = Some(random_id());
                e.signed(&s, Signing::Both)
            },
            code: "in_response_to",
            reason: "InResponseTo",
        },
        Case {
            name: "InResponseTo only on the SubjectConfirmationData is wrong",
            build: |e, s| {
                let x = s.to_xml();
                let irt = s.in_response_to.clone().unwrap();
                // The Response keeps the right one; the Assertion's is another.
                let a = assertion_span(&x);
                let inner = x[a.clone()].replacen(&irt, &random_id(), 1);
                let x = format!("{}{inner}{}", &x[..a.start], &x[a.end..]);
                sign(
                    &x,
                    &s,
                    Signing::Assertion,
                    &e.idp.key,
                    &SignOptions::default(),
                )
            },
            code: "in_response_to",
            reason: "SubjectConfirmationData InResponseTo",
        },
        Case {
            name: "wrong Issuer",
            build: |e, mut s| {
                s.assertion_issuer = "https://idp.evil.test/".into();
                s.response_issuer = "https://idp.evil.test/".into();
                e.signed(&s, Signing::Both)
            },
            code: "issuer",
            reason: "Issuer 'https://idp.evil.test/' is not the IdP's entityID",
        },
        Case {
            name: "Conditions expired 5 minutes ago",
            build: |e, mut s| {
                s.not_before = s.issue_instant - Duration::minutes(10);
                s.not_on_or_after = s.issue_instant - Duration::minutes(5);
                e.signed(&s, Signing::Assertion)
            },
            code: "time",
            reason: "Assertion Conditions expired",
        },
        Case {
            name: "SubjectConfirmationData expired 5 minutes ago",
            build: |e, mut s| {
                s.scd_not_on_or_after = s.issue_instant - Duration::minutes(5);
                e.signed(&s, Signing::Response)
            },
            code: "time",
            reason: "SubjectConfirmationData expired",
        },
        Case {
            name: "Conditions not yet valid (NotBefore in 10 minutes)",
            build: |e, mut s| {
                s.not_before = s.issue_instant + Duration::minutes(10);
                s.not_on_or_after = s.issue_instant + Duration::minutes(15);
                e.signed(&s, Signing::Assertion)
            },
            code: "time",
            reason: "Assertion Conditions is not yet valid",
        },
        Case {
            name: "IdP session ended (SessionNotOnOrAfter 5 minutes ago)",
            build: |e, mut s| {
                s.session_not_on_or_after = Some(s.issue_instant - Duration::minutes(5));
                e.signed(&s, Signing::Assertion)
            },
            code: "time",
            reason: "SessionNotOnOrAfter",
        },
        Case {
            name: "status not Success",
            build: |e, mut s| {
                s.status = "urn:oasis:names:tc:SAML:2.0:status:Responder".into();
                e.signed(&s, Signing::Both)
            },
            code: "idp_status",
            reason: "status:Responder",
        },
        Case {
            name: "just inside the skew: NotOnOrAfter 20 s ago (accepted)",
            build: |e, mut s| {
                s.not_on_or_after = s.issue_instant - Duration::seconds(20);
                s.scd_not_on_or_after = s.issue_instant - Duration::seconds(20);
                s.not_before = s.issue_instant - Duration::minutes(5);
                e.signed(&s, Signing::Assertion)
            },
            code: "",
            reason: "",
        },
        Case {
            name: "just inside the skew: NotBefore in 20 s (accepted)",
            build: |e, mut s| {
                s.not_before = s.issue_instant + Duration::seconds(20);
                e.signed(&s, Signing::Response)
            },
            code: "",
            reason: "",
        },
    ]);
}

/// The skew boundary, exactly, with `inspect --now` (default skew 60 s).
#[test]
fn tamper_skew_boundaries_are_exact() {
    let dir = tempfile::tempdir().unwrap();
    let idp = TestIdp::new("tamper");
    let md = dir.path().join("idp.xml");
    std::fs::write(&md, idp.metadata_xml()).unwrap();
    let sp = "https://sp.tamper.test/saml/metadata";
    let acs = "https://sp.tamper.test/saml/acs";
    let t = now().replace_nanosecond(0).unwrap();

    let write = |name: &str, spec: &Spec| {
        let f = dir.path().join(name);
        let xml = sign(
            &spec.to_xml(),
            spec,
            Signing::Both,
            &idp.key,
            &SignOptions::default(),
        );
        std::fs::write(&f, xml).unwrap();
        f
    };
    // Conditions NotOnOrAfter = t (the SubjectConfirmationData later).
    let mut s = Spec::valid(&idp, sp, acs, Some("_req"), t - Duration::minutes(5));
    s.not_on_or_after = t;
    s.scd_not_on_or_after = t + Duration::minutes(10);
    let cond = write("cond.xml", &s);
    // SubjectConfirmationData NotOnOrAfter = t (Conditions later).
    let mut s = Spec::valid(&idp, sp, acs, Some("_req"), t - Duration::minutes(5));
    s.not_on_or_after = t + Duration::minutes(10);
    s.scd_not_on_or_after = t;
    let scd = write("scd.xml", &s);
    // Conditions NotBefore = t.
    let mut s = Spec::valid(&idp, sp, acs, Some("_req"), t);
    s.not_before = t;
    let nb = write("nb.xml", &s);

    let mut failures = Vec::new();
    for (name, file, offset, ok, reason) in [
        ("NotOnOrAfter +59 s", &cond, 59, true, ""),
        (
            "NotOnOrAfter +60 s",
            &cond,
            60,
            false,
            "Assertion Conditions expired",
        ),
        (
            "NotOnOrAfter +61 s",
            &cond,
            61,
            false,
            "Assertion Conditions expired",
        ),
        ("SCD NotOnOrAfter +59 s", &scd, 59, true, ""),
        (
            "SCD NotOnOrAfter +61 s",
            &scd,
            61,
            false,
            "SubjectConfirmationData expired",
        ),
        ("NotBefore -59 s", &nb, -59, true, ""),
        ("NotBefore -61 s", &nb, -61, false, "is not yet valid"),
    ] {
        let at = t + Duration::seconds(offset);
        let (rc, v) = inspect_file(&md, file, sp, acs, "_req", at, &[]);
        let code = if ok { "" } else { "refused" };
        if let Err(e) = check_verdict(rc, &v, code, reason) {
            failures.push(format!("[{name}] {e}"));
        }
    }
    // A wider configured skew moves the boundary.
    let at = t + Duration::seconds(119);
    let (rc, v) = inspect_file(&md, &cond, sp, acs, "_req", at, &["--clock-skew", "120"]);
    if let Err(e) = check_verdict(rc, &v, "", "") {
        failures.push(format!("[skew 120, +119 s] {e}"));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn tamper_relay_state_must_be_a_pending_handle_of_ours() {
    let rig = Rig::start();
    let mut failures = Vec::new();
    let login = rig.begin();
    let spec = Spec::valid(
        &rig.env.idp,
        &rig.entity_id(),
        &rig.acs(),
        Some(&login.request_id),
        now(),
    );
    let xml = rig.env.signed(&spec, Signing::Both);
    let mut random = [0u8; 16];
    openssl::rand::rand_bytes(&mut random).unwrap();
    let unknown = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random);
    assert_eq!(unknown.len(), 22);
    for (name, rs) in [
        ("unknown 22-char handle", Some(unknown.as_str())),
        (
            "RelayState is a URL",
            Some("https://evil.example/after-login"),
        ),
        ("RelayState is a local path", Some("/session")),
        ("RelayState missing", None),
    ] {
        let page = rig.post(&xml, rs);
        if let Err(e) = check_page(&page, "unknown_relay_state") {
            failures.push(format!("[{name}] {e}"));
        }
    }
    // The document itself was fine: with its own RelayState it is accepted.
    let page = rig.post(&xml, Some(&login.relay_state));
    if let Err(e) = check_page(&page, "") {
        failures.push(format!("[own RelayState] {e}"));
    }
    assert!(
        failures.is_empty(),
        "{}\n--- hub log ---\n{}",
        failures.join("\n"),
        tail(&rig.hub.log(), 30)
    );
}

#[test]
fn tamper_wrapping_attacks_are_refused() {
    let rig = Rig::start();
    rig.run(&[
        Case {
            name: "evil Assertion inserted before the signed one",
            build: |e, s| {
                let x = e.signed(&s, Signing::Assertion);
                let a = assertion_span(&x);
                format!("{}{}{}", &x[..a.start], evil_assertion(&s), &x[a.start..])
            },
            code: "assertion_count",
            reason: COUNT,
        },
        Case {
            name: "evil Assertion inserted after the signed one",
            build: |e, s| {
                let x = e.signed(&s, Signing::Assertion);
                let a = assertion_span(&x);
                format!("{}{}{}", &x[..a.end], evil_assertion(&s), &x[a.end..])
            },
            code: "assertion_count",
            reason: COUNT,
        },
        Case {
            name: "evil Assertion after the signed one, Response signed",
            build: |e, s| {
                let x = e.signed(&s, Signing::Response);
                let a = assertion_span(&x);
                format!("{}{}{}", &x[..a.end], evil_assertion(&s), &x[a.end..])
            },
            code: "assertion_count",
            reason: COUNT,
        },
        Case {
            name: "evil Assertion wrapping the signed one",
            build: |e, s| {
                let x = e.signed(&s, Signing::Assertion);
                let a = assertion_span(&x);
                let evil = evil_assertion(&s);
                let close = "</saml:Assertion>";
                let wrapped = format!(
                    "{}{}{close}",
                    &evil[..evil.len() - close.len()],
                    &x[a.clone()]
                );
                format!("{}{wrapped}{}", &x[..a.start], &x[a.end..])
            },
            code: "assertion_count",
            reason: COUNT,
        },
        Case {
            name: "signed Assertion moved into samlp:Extensions, evil one in its place",
            build: |e, s| {
                let x = e.signed(&s, Signing::Assertion);
                let a = assertion_span(&x);
                let signed = x[a.clone()].to_owned();
                let x = format!("{}{}{}", &x[..a.start], evil_assertion(&s), &x[a.end..]);
                replace_once(
                    &x,
                    "<samlp:Status>",
                    &format!("<samlp:Extensions>{signed}</samlp:Extensions><samlp:Status>"),
                )
            },
            code: "assertion_count",
            reason: COUNT,
        },
        Case {
            name: "signed Assertion moved into samlp:Extensions, nothing in its place",
            build: |e, s| {
                let x = e.signed(&s, Signing::Assertion);
                let a = assertion_span(&x);
                let signed = x[a.clone()].to_owned();
                let x = cut(&x, a);
                replace_once(
                    &x,
                    "<samlp:Status>",
                    &format!("<samlp:Extensions>{signed}</samlp:Extensions><samlp:Status>"),
                )
            },
            code: "assertion_count",
            reason: "not a direct child of the Response",
        },
        Case {
            name: "signed Response wrapped in an evil Response's Extensions",
            build: |e, s| {
                let signed = e.signed(&s, Signing::Response);
                let mut evil = s.clone();
                evil.response_id = random_id();
                evil.assertion_id = random_id();
                evil.name_id = "mallory".into();
                let x = evil.to_xml();
                replace_once(
                    &x,
                    "<samlp:Status>",
                    &format!("<samlp:Extensions>{signed}</samlp:Extensions><samlp:Status>"),
                )
            },
            code: "assertion_count",
            reason: COUNT,
        },
        Case {
            name: "evil Assertion with the signed Assertion's ID (duplicate ID)",
            build: |e, s| {
                let x = e.signed(&s, Signing::Assertion);
                let a = assertion_span(&x);
                let mut evil = s.clone();
                evil.name_id = "mallory".into();
                format!("{}{}{}", &x[..a.start], evil.assertion_xml(), &x[a.start..])
            },
            code: "malformed",
            reason: "appears on more than one element",
        },
    ]);
}

#[test]
fn tamper_replays_are_refused() {
    let rig = Rig::start();
    let acs_ok = |page: &Page, what: &str| {
        check_page(page, "").unwrap_or_else(|e| panic!("{what}: {e}\n{}", tail(&rig.hub.log(), 30)))
    };

    // The control response posted twice (same RelayState): the second post
    // reaches the replay cache and is named a replay.
    let login = rig.begin();
    let spec = Spec::valid(
        &rig.env.idp,
        &rig.entity_id(),
        &rig.acs(),
        Some(&login.request_id),
        now(),
    );
    let xml = rig.env.signed(&spec, Signing::Both);
    acs_ok(&rig.post(&xml, Some(&login.relay_state)), "first post");
    let second = rig.post(&xml, Some(&login.relay_state));
    check_page(&second, "replay").unwrap_or_else(|e| panic!("verbatim replay: {e}"));

    // Another, valid assertion for the request that was already answered.
    let other = Spec::valid(
        &rig.env.idp,
        &rig.entity_id(),
        &rig.acs(),
        Some(&login.request_id),
        now(),
    );
    let page = rig.post(
        &rig.env.signed(&other, Signing::Assertion),
        Some(&login.relay_state),
    );
    check_page(&page, "replay").unwrap_or_else(|e| panic!("second answer to one request: {e}"));

    // The same Assertion ID again, in an otherwise valid answer to a new
    // request: the replay cache (IdP, Assertion ID) refuses it.
    let login2 = rig.begin();
    let mut spec2 = Spec::valid(
        &rig.env.idp,
        &rig.entity_id(),
        &rig.acs(),
        Some(&login2.request_id),
        now(),
    );
    spec2.assertion_id = spec.assertion_id.clone();
    let xml2 = rig.env.signed(&spec2, Signing::Assertion);
    let page = rig.post(&xml2, Some(&login2.relay_state));
    check_page(&page, "replay").unwrap_or_else(|e| panic!("reused Assertion ID: {e}"));
    // inspect has no replay cache: the document itself is valid.
    let (rc, v) = rig.inspect(&xml2, &login2.request_id, now(), &[]);
    assert_eq!(rc, 0, "{v}");
    assert!(v["skipped_checks"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c == "replay"));
    // That refusal did not burn the pending login: a fresh assertion for it
    // is still accepted.
    let spec3 = Spec::valid(
        &rig.env.idp,
        &rig.entity_id(),
        &rig.acs(),
        Some(&login2.request_id),
        now(),
    );
    acs_ok(
        &rig.post(
            &rig.env.signed(&spec3, Signing::Both),
            Some(&login2.relay_state),
        ),
        "fresh assertion after a refused replay",
    );

    // A burst of identical posts at once: exactly one is accepted.
    let login = rig.begin();
    let spec = Spec::valid(
        &rig.env.idp,
        &rig.entity_id(),
        &rig.acs(),
        Some(&login.request_id),
        now(),
    );
    let xml = rig.env.signed(&spec, Signing::Both);
    let pages: Vec<Page> = std::thread::scope(|sc| {
        let handles: Vec<_> = (0..6)
            .map(|_| sc.spawn(|| rig.post(&xml, Some(&login.relay_state))))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let accepted = pages.iter().filter(|p| p.status == 303).count();
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
    assert_eq!(accepted, 1, "concurrent identical posts: {summary:?}");
    for p in pages.iter().filter(|p| p.status != 303) {
        let code = p.header("x-samlhub-error").unwrap_or("");
        assert!(
            p.status == 403 && code == "replay",
            "concurrent identical posts: {summary:?}"
        );
    }
}
