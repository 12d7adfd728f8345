//! Tampered content, foreign keys, References, transforms and DTDs.

use super::*;
#[test]
fn tamper_controls_are_accepted_in_every_signing_mode() {
    let rig = Rig::start();
    rig.run(&[
        Case {
            name: "control, Response signed",
            build: |e, s| e.signed(&s, Signing::Response),
            code: "",
            reason: "",
        },
        Case {
            name: "control, Assertion signed",
            build: |e, s| e.signed(&s, Signing::Assertion),
            code: "",
            reason: "",
        },
        Case {
            name: "control, both signed",
            build: |e, s| e.signed(&s, Signing::Both),
            code: "",
            reason: "",
        },
        Case {
            name: "control, both signed, RSA-SHA512",
            build: |e, s| {
                let opts = SignOptions {
                    alg: SigAlg::RsaSha512,
                    digest: DigestAlg::Sha512,
                    ..Default::default()
                };
                sign(&s.to_xml(), &s, Signing::Both, &e.idp.key, &opts)
            },
            code: "",
            reason: "",
        },
    ]);

    // inspect reports which elements were signed, and the mapped identity.
    for (how, resp, asrt) in [
        (Signing::Response, true, false),
        (Signing::Assertion, false, true),
        (Signing::Both, true, true),
    ] {
        let at = now();
        let spec = Spec::valid(&rig.env.idp, &rig.entity_id(), &rig.acs(), Some("_req"), at);
        let (rc, v) = rig.inspect(&rig.env.signed(&spec, how), "_req", at, &[]);
        assert_eq!(rc, 0, "{how:?}: {v}");
        assert_eq!(v["signed_response"], resp, "{how:?}: {v}");
        assert_eq!(v["signed_assertion"], asrt, "{how:?}: {v}");
        assert_eq!(v["assertion_id"], spec.assertion_id.as_str(), "{v}");
        let id = &v["identity"];
        assert_eq!(id["subject"], "alice", "{v}");
        assert_eq!(id["email"], "alice@example.org", "{v}");
        assert_eq!(id["name"], "Alice Example", "{v}");
        assert_eq!(
            id["groups"],
            serde_json::json!(["ha-admins", "users"]),
            "{v}"
        );
    }
}

#[test]
fn tamper_content_and_signature_forgeries_are_refused() {
    let rig = Rig::start();
    rig.run(&[
        Case {
            name: "NameID changed after signing (Response signed)",
            build: |e, s| {
                let x = e.signed(&s, Signing::Response);
                replace_once(&x, ">alice</saml:NameID>", ">mallory</saml:NameID>")
            },
            code: "signature",
            reason: DIGEST,
        },
        Case {
            name: "NameID changed after signing (Assertion signed)",
            build: |e, s| {
                let x = e.signed(&s, Signing::Assertion);
                replace_once(&x, ">alice</saml:NameID>", ">mallory</saml:NameID>")
            },
            code: "signature",
            reason: DIGEST,
        },
        Case {
            name: "NameID changed after signing (both signed)",
            build: |e, s| {
                let x = e.signed(&s, Signing::Both);
                replace_once(&x, ">alice</saml:NameID>", ">mallory</saml:NameID>")
            },
            code: "signature",
            reason: DIGEST,
        },
        Case {
            name: "group added after signing (Assertion signed)",
            build: |e, s| {
                let x = e.signed(&s, Signing::Assertion);
                let v = "<saml:AttributeValue xsi:type=\"xs:string\">users</saml:AttributeValue>";
                replace_once(
                    &x,
                    v,
                    &format!("{v}<saml:AttributeValue xsi:type=\"xs:string\">root-admins</saml:AttributeValue>"),
                )
            },
            code: "signature",
            reason: DIGEST,
        },
        Case {
            name: "group added after signing (Response signed)",
            build: |e, s| {
                let x = e.signed(&s, Signing::Response);
                let v = "<saml:AttributeValue xsi:type=\"xs:string\">users</saml:AttributeValue>";
                replace_once(
                    &x,
                    v,
                    &format!("{v}<saml:AttributeValue xsi:type=\"xs:string\">root-admins</saml:AttributeValue>"),
                )
            },
            code: "signature",
            reason: DIGEST,
        },
        Case {
            name: "mail value changed after signing (both signed)",
            build: |e, s| {
                let x = e.signed(&s, Signing::Both);
                replace_once(&x, ">alice@example.org<", ">mallory@example.org<")
            },
            code: "signature",
            reason: DIGEST,
        },
        Case {
            name: "never signed (Signing::None)",
            build: |e, s| e.signed(&s, Signing::None),
            code: "signature",
            reason: UNSIGNED,
        },
        Case {
            name: "Signature element deleted (Assertion signed)",
            build: |e, s| {
                let x = e.signed(&s, Signing::Assertion);
                let spans = signature_spans(&x);
                assert_eq!(spans.len(), 1);
                cut(&x, spans[0].clone())
            },
            code: "signature",
            reason: UNSIGNED,
        },
        Case {
            name: "Signature element deleted (Response signed)",
            build: |e, s| {
                let x = e.signed(&s, Signing::Response);
                let spans = signature_spans(&x);
                assert_eq!(spans.len(), 1);
                cut(&x, spans[0].clone())
            },
            code: "signature",
            reason: UNSIGNED,
        },
        Case {
            name: "both Signature elements deleted (both signed)",
            build: |e, s| {
                let x = e.signed(&s, Signing::Both);
                let spans = signature_spans(&x);
                assert_eq!(spans.len(), 2);
                // Cut the later one first so the first range stays valid.
                let x = cut(&x, spans[1].clone());
                cut(&x, spans[0].clone())
            },
            code: "signature",
            reason: UNSIGNED,
        },
        Case {
            name: "Assertion's Signature deleted, Response's kept (both signed)",
            build: |e, s| {
                let x = e.signed(&s, Signing::Both);
                let inner = assertion_span(&x);
                let sig = signature_spans(&x)
                    .into_iter()
                    .find(|r| inner.contains(&r.start))
                    .unwrap();
                cut(&x, sig)
            },
            code: "signature",
            reason: DIGEST,
        },
        Case {
            name: "signed by another key with its own cert in KeyInfo (Assertion)",
            build: |e, s| {
                let der = cert_der(&e.attacker);
                let opts = SignOptions {
                    cert_der: Some(&der),
                    ..Default::default()
                };
                sign(&s.to_xml(), &s, Signing::Assertion, &e.attacker, &opts)
            },
            code: "signature",
            reason: BAD_SIG,
        },
        Case {
            name: "signed by another key with its own cert in KeyInfo (Response)",
            build: |e, s| {
                let der = cert_der(&e.attacker);
                let opts = SignOptions {
                    cert_der: Some(&der),
                    ..Default::default()
                };
                sign(&s.to_xml(), &s, Signing::Response, &e.attacker, &opts)
            },
            code: "signature",
            reason: BAD_SIG,
        },
        Case {
            name: "RSA-SHA1 + SHA-1 digest, not allowed",
            build: |e, s| {
                let opts = SignOptions {
                    alg: SigAlg::RsaSha1,
                    digest: DigestAlg::Sha1,
                    ..Default::default()
                };
                sign(&s.to_xml(), &s, Signing::Assertion, &e.idp.key, &opts)
            },
            code: "signature",
            reason: SHA1,
        },
        Case {
            name: "RSA-SHA256 with a SHA-1 digest, not allowed",
            build: |e, s| {
                let opts = SignOptions {
                    alg: SigAlg::RsaSha256,
                    digest: DigestAlg::Sha1,
                    ..Default::default()
                };
                sign(&s.to_xml(), &s, Signing::Response, &e.idp.key, &opts)
            },
            code: "signature",
            reason: SHA1,
        },
    ]);

    // The SHA-1 refusal is the switch, not an inability: inspect accepts
    // the same kind of document with --allow-sha1.
    let at = now();
    let spec = Spec::valid(&rig.env.idp, &rig.entity_id(), &rig.acs(), Some("_req"), at);
    let opts = SignOptions {
        alg: SigAlg::RsaSha1,
        digest: DigestAlg::Sha1,
        ..Default::default()
    };
    let xml = sign(
        &spec.to_xml(),
        &spec,
        Signing::Assertion,
        &rig.env.idp.key,
        &opts,
    );
    let (rc, v) = rig.inspect(&xml, "_req", at, &[]);
    assert_eq!(rc, 1, "{v}");
    assert!(v["reason"].as_str().unwrap().contains(SHA1), "{v}");
    let (rc, v) = rig.inspect(&xml, "_req", at, &["--allow-sha1"]);
    assert_eq!(rc, 0, "--allow-sha1 must accept RSA-SHA1: {v}");
    assert_eq!(v["identity"]["subject"], "alice", "{v}");
}

#[test]
fn tamper_references_transforms_and_dtds_are_refused_without_fetching() {
    let rig = Rig::start();
    rig.run(&[
        Case {
            name: "Reference URI to an http URL (Assertion signed)",
            build: |e, s| {
                let x = e.signed(&s, Signing::Assertion);
                replace_once(
                    &x,
                    &format!("URI=\"#{}\"", s.assertion_id),
                    &format!("URI=\"{}\"", e.evil_url("evil.xml")),
                )
            },
            code: "signature",
            reason: REF_URI,
        },
        Case {
            name: "Reference URI to an http URL (Response signed)",
            build: |e, s| {
                let x = e.signed(&s, Signing::Response);
                replace_once(
                    &x,
                    &format!("URI=\"#{}\"", s.response_id),
                    &format!("URI=\"{}\"", e.evil_url("evil.xml")),
                )
            },
            code: "signature",
            reason: REF_URI,
        },
        Case {
            name: "Reference URI #other-id",
            build: |e, s| {
                let x = e.signed(&s, Signing::Assertion);
                replace_once(
                    &x,
                    &format!("URI=\"#{}\"", s.assertion_id),
                    "URI=\"#other-id\"",
                )
            },
            code: "signature",
            reason: REF_URI,
        },
        Case {
            name: "Assertion's Reference URI pointing at the Response's ID",
            build: |e, s| {
                let x = e.signed(&s, Signing::Assertion);
                replace_once(
                    &x,
                    &format!("URI=\"#{}\"", s.assertion_id),
                    &format!("URI=\"#{}\"", s.response_id),
                )
            },
            code: "signature",
            reason: REF_URI,
        },
        Case {
            name: "empty Reference URI (whole document)",
            build: |e, s| {
                let x = e.signed(&s, Signing::Assertion);
                replace_once(&x, &format!("URI=\"#{}\"", s.assertion_id), "URI=\"\"")
            },
            code: "signature",
            reason: REF_URI,
        },
        Case {
            name: "XSLT transform (fetching the evil URL) added first",
            build: |e, s| {
                let x = e.signed(&s, Signing::Assertion);
                replace_once(
                    &x,
                    "<ds:Transforms>",
                    &format!("<ds:Transforms>{}", xslt_transform(e)),
                )
            },
            code: "signature",
            reason: TRANSFORMS,
        },
        Case {
            name: "XSLT transform replacing exc-c14n",
            build: |e, s| {
                let x = e.signed(&s, Signing::Response);
                replace_once(&x, EXC_C14N_TRANSFORM, &xslt_transform(e))
            },
            code: "signature",
            reason: TRANSFORMS,
        },
        Case {
            name: "XPath transform added",
            build: |e, s| {
                let x = e.signed(&s, Signing::Assertion);
                replace_once(
                    &x,
                    "</ds:Transforms>",
                    &format!("{}</ds:Transforms>", xpath_transform()),
                )
            },
            code: "signature",
            reason: TRANSFORMS,
        },
        Case {
            name: "XPath transform replacing exc-c14n",
            build: |e, s| {
                let x = e.signed(&s, Signing::Assertion);
                replace_once(&x, EXC_C14N_TRANSFORM, &xpath_transform())
            },
            code: "signature",
            reason: TRANSFORMS,
        },
        Case {
            name: "DOCTYPE with an internal entity prepended",
            build: |e, s| {
                let x = e.signed(&s, Signing::Both);
                format!("<!DOCTYPE r [<!ENTITY x \"y\">]>{x}")
            },
            code: "malformed",
            reason: "DOCTYPE",
        },
        Case {
            name: "DOCTYPE with an internal entity used in the NameID",
            build: |e, s| {
                let x = e.signed(&s, Signing::Assertion);
                let x = replace_once(&x, ">alice</saml:NameID>", ">&x;</saml:NameID>");
                format!("<!DOCTYPE samlp:Response [<!ENTITY x \"alice\">]>{x}")
            },
            code: "malformed",
            reason: "DOCTYPE",
        },
        Case {
            name: "DOCTYPE with an external entity (evil URL) used in the NameID",
            build: |e, s| {
                let x = e.signed(&s, Signing::Assertion);
                let x = replace_once(&x, ">alice</saml:NameID>", ">&ext;</saml:NameID>");
                format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE samlp:Response [<!ENTITY ext SYSTEM \"{}\">]>\n{x}",
                    e.evil_url("xxe")
                )
            },
            code: "malformed",
            reason: "DOCTYPE",
        },
        Case {
            name: "DOCTYPE with an external DTD (evil URL)",
            build: |e, s| {
                let x = e.signed(&s, Signing::Response);
                format!(
                    "<!DOCTYPE samlp:Response SYSTEM \"{}\">{x}",
                    e.evil_url("evil.dtd")
                )
            },
            code: "malformed",
            reason: "DOCTYPE",
        },
        Case {
            name: "undeclared entity reference without DOCTYPE",
            build: |e, s| {
                let x = e.signed(&s, Signing::Assertion);
                replace_once(&x, ">alice</saml:NameID>", ">&x;</saml:NameID>")
            },
            code: "malformed",
            reason: "entity reference",
        },
        Case {
            name: "processing instruction (xml-stylesheet to the evil URL)",
            build: |e, s| {
                let x = e.signed(&s, Signing::Response);
                format!(
                    "<?xml-stylesheet type=\"text/xsl\" href=\"{}\"?>{x}",
                    e.evil_url("style.xsl")
                )
            },
            code: "malformed",
            reason: "processing instructions",
        },
    ]);
}
