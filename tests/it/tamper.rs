//! Acceptance tests of the ACS against tampered and forged Responses (design
//! §3). Every case goes through the running hub (SP-initiated login, then a
//! POST to the ACS) and through `samlhub inspect` with the same document:
//! the hub must refuse with the expected `X-Samlhub-Error` code, inspect with
//! exit 1 and the expected reason. Controls must be accepted by both.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code: failing loudly is the point

use crate::gen::{cert_der, random_id, sign, Attr, Signing, Spec, TestIdp};
use crate::peers::browser::{query_param, Browser, Page};
use crate::peers::pki::TestKey;
use crate::peers::samlhub::{run_cli, Samlhub};
use base64::Engine as _;
use samlhub::saml::dsig::{DigestAlg, SigAlg, SignOptions};
use samlhub::saml::response::fmt_time;
use std::io::Read as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use time::{Duration, OffsetDateTime};

#[allow(clippy::disallowed_methods)] // the hub runs on the real clock
fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// What a case builder may use besides the Spec.
struct Env {
    idp: TestIdp,
    /// A key the hub does not trust, with its own certificate.
    attacker: TestKey,
    /// A port nobody may connect to (see [`Rig::assert_no_connection`]).
    evil_port: u16,
}

impl Env {
    fn signed(&self, spec: &Spec, how: Signing) -> String {
        sign(
            &spec.to_xml(),
            spec,
            how,
            &self.idp.key,
            &SignOptions::default(),
        )
    }
    fn evil_url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/{path}", self.evil_port)
    }
}

/// A running hub trusting `env.idp`, plus a listener that must stay silent.
struct Rig {
    hub: Samlhub,
    md_path: PathBuf,
    env: Env,
    evil: TcpListener,
    files: AtomicUsize,
}

/// A started SP-initiated login.
struct Login {
    relay_state: String,
    request_id: String,
}

impl Rig {
    fn start() -> Rig {
        let idp = TestIdp::new("tamper");
        let attacker = TestKey::generate("tamper-attacker", 2048);
        let evil = TcpListener::bind(("127.0.0.1", 0)).unwrap();
        evil.set_nonblocking(true).unwrap();
        let evil_port = evil.local_addr().unwrap().port();
        let mut hub = Samlhub::prepare();
        let md_path = hub.dir().join("idp-metadata.xml");
        std::fs::write(&md_path, idp.metadata_xml()).unwrap();
        hub.write_config(&format!(
            "[[idp]]\nid = \"test\"\nmetadata_file = \"{}\"\n",
            md_path.display()
        ));
        hub.start();
        Rig {
            hub,
            md_path,
            env: Env {
                idp,
                attacker,
                evil_port,
            },
            evil,
            files: AtomicUsize::new(0),
        }
    }

    fn entity_id(&self) -> String {
        self.hub.entity_id()
    }
    fn acs(&self) -> String {
        self.hub.acs_url()
    }

    /// GET /saml/login?idp=test; RelayState and the AuthnRequest ID from the
    /// redirect to the IdP.
    fn begin(&self) -> Login {
        let mut b = Browser::new();
        let page = b.get(&format!("{}/saml/login?idp=test", self.hub.base_url()));
        assert_eq!(page.status, 302, "login: {}", page.head());
        let loc = page.location.clone().unwrap();
        assert!(loc.starts_with(&self.env.idp.sso_url), "{loc}");
        let relay_state = query_param(&loc, "RelayState").unwrap();
        let req = query_param(&loc, "SAMLRequest").unwrap();
        let raw = base64::engine::general_purpose::STANDARD
            .decode(req)
            .unwrap();
        let mut xml = String::new();
        flate2::read::DeflateDecoder::new(raw.as_slice())
            .read_to_string(&mut xml)
            .unwrap();
        let start = xml.find(" ID=\"").unwrap() + 5;
        let len = xml[start..].find('"').unwrap();
        Login {
            relay_state,
            request_id: xml[start..start + len].to_owned(),
        }
    }

    fn post(&self, xml: &str, relay_state: Option<&str>) -> Page {
        let mut form = vec![("SAMLResponse", b64(xml))];
        if let Some(rs) = relay_state {
            form.push(("RelayState", rs.to_owned()));
        }
        Browser::new().post_form(&self.acs(), &form)
    }

    /// `samlhub inspect` on `xml` with every check on; (exit code, verdict).
    fn inspect(
        &self,
        xml: &str,
        request_id: &str,
        at: OffsetDateTime,
        extra: &[&str],
    ) -> (i32, serde_json::Value) {
        let n = self.files.fetch_add(1, Ordering::SeqCst);
        let f = self.hub.dir().join(format!("response-{n}.xml"));
        std::fs::write(&f, xml).unwrap();
        inspect_file(
            &self.md_path,
            &f,
            &self.entity_id(),
            &self.acs(),
            request_id,
            at,
            extra,
        )
    }

    /// The evil listener was never connected to.
    fn assert_no_connection(&self, label: &str) -> Result<(), String> {
        match self.evil.accept() {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Ok(()),
            Ok((_, peer)) => Err(format!(
                "{label}: something connected to the evil URL from {peer}"
            )),
            Err(e) => Err(format!("{label}: accept on the evil listener: {e}")),
        }
    }

    /// Runs each case: a fresh login, the built document posted to the ACS
    /// and given to inspect. Collects every failure, then panics with all.
    fn run(&self, cases: &[Case]) {
        let mut failures = Vec::new();
        for c in cases {
            if let Err(e) = self.run_one(c) {
                failures.push(e);
            }
        }
        assert!(
            failures.is_empty(),
            "{} of {} cases failed:\n{}\n--- hub log (tail) ---\n{}",
            failures.len(),
            cases.len(),
            failures.join("\n"),
            tail(&self.hub.log(), 40)
        );
    }

    fn run_one(&self, c: &Case) -> Result<(), String> {
        let login = self.begin();
        let at = now();
        let spec = Spec::valid(
            &self.env.idp,
            &self.entity_id(),
            &self.acs(),
            Some(&login.request_id),
            at,
        );
        let xml = (c.build)(&self.env, spec);
        let page = self.post(&xml, Some(&login.relay_state));
        let mut errs = Vec::new();
        if let Err(e) = check_page(&page, c.code) {
            errs.push(format!("ACS {e}"));
        }
        if let Err(e) = self.assert_no_connection("ACS") {
            errs.push(e);
        }
        let (rc, v) = self.inspect(&xml, &login.request_id, at, &[]);
        if let Err(e) = check_verdict(rc, &v, c.code, c.reason) {
            errs.push(format!("inspect {e}"));
        }
        if let Err(e) = self.assert_no_connection("inspect") {
            errs.push(e);
        }
        if errs.is_empty() {
            Ok(())
        } else {
            Err(format!("[{}] {}", c.name, errs.join("; ")))
        }
    }
}

fn inspect_file(
    md: &Path,
    response: &Path,
    audience: &str,
    acs: &str,
    request_id: &str,
    at: OffsetDateTime,
    extra: &[&str],
) -> (i32, serde_json::Value) {
    let md = md.display().to_string();
    let resp = response.display().to_string();
    let at = fmt_time(at);
    let mut args = vec![
        "inspect",
        "--idp-metadata",
        md.as_str(),
        "--response",
        resp.as_str(),
        "--audience",
        audience,
        "--acs",
        acs,
        "--in-response-to",
        request_id,
        "--now",
        at.as_str(),
    ];
    args.extend_from_slice(extra);
    let out = run_cli(&args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "inspect printed no JSON ({e}), exit {:?}:\n{stdout}\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), v)
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// `code` "" = accepted (303 to /session); else refused 4xx with that code.
fn check_page(page: &Page, code: &str) -> Result<(), String> {
    let got = page.header("x-samlhub-error").unwrap_or("(none)");
    if code.is_empty() {
        let to_session = page
            .location
            .as_deref()
            .is_some_and(|l| l.ends_with("/session"));
        if page.status == 303 && to_session {
            return Ok(());
        }
        return Err(format!(
            "expected acceptance (303 to /session), got {} code {got} location {:?}",
            page.status, page.location
        ));
    }
    if page.status == 303 || !(400..500).contains(&page.status) {
        return Err(format!(
            "expected refusal '{code}', got HTTP {} location {:?} (ACCEPTED or not a 4xx!)",
            page.status, page.location
        ));
    }
    if got != code {
        return Err(format!(
            "expected code '{code}', got HTTP {} code '{got}'",
            page.status
        ));
    }
    Ok(())
}

fn check_verdict(rc: i32, v: &serde_json::Value, code: &str, reason: &str) -> Result<(), String> {
    if code.is_empty() {
        if rc == 0 && v["valid"] == true && v["identity"]["subject"] == "alice" {
            return Ok(());
        }
        return Err(format!("expected valid with subject alice, exit {rc}: {v}"));
    }
    let got = v["reason"].as_str().unwrap_or("");
    if rc == 1 && v["valid"] == false && got.contains(reason) {
        return Ok(());
    }
    Err(format!(
        "expected exit 1 with a reason containing '{reason}', exit {rc}: {v}"
    ))
}

/// One table row: how to build the document from a valid Spec, and what
/// must happen to it. `code` "" means it must be accepted.
struct Case {
    name: &'static str,
    build: fn(&Env, Spec) -> String,
    code: &'static str,
    reason: &'static str,
}

const DIGEST: &str = "digest of the signed element does not match";
const UNSIGNED: &str = "neither the Response nor the Assertion is signed";
const BAD_SIG: &str = "does not verify with any configured certificate";
const REF_URI: &str = "Reference URI";
const TRANSFORMS: &str = "Transforms must be exactly enveloped-signature and exc-c14n";
const SHA1: &str = "SHA-1 is not allowed";
const COUNT: &str = "Assertions; exactly one is accepted";

// ---- string surgery on signed documents -------------------------------

fn replace_once(xml: &str, from: &str, to: &str) -> String {
    assert_eq!(
        xml.matches(from).count(),
        1,
        "'{from}' is not in the document exactly once:\n{xml}"
    );
    xml.replacen(from, to, 1)
}

/// Byte range of the (first) `<saml:Assertion …>…</saml:Assertion>`.
fn assertion_span(xml: &str) -> std::ops::Range<usize> {
    let start = xml.find("<saml:Assertion ").unwrap();
    let close = "</saml:Assertion>";
    let end = xml.find(close).unwrap() + close.len();
    start..end
}

/// Byte ranges of every `<ds:Signature …>…</ds:Signature>`, in order.
fn signature_spans(xml: &str) -> Vec<std::ops::Range<usize>> {
    let close = "</ds:Signature>";
    let mut out = Vec::new();
    let mut pos = 0;
    while let Some(i) = xml[pos..].find("<ds:Signature ") {
        let start = pos + i;
        let end = start + xml[start..].find(close).unwrap() + close.len();
        out.push(start..end);
        pos = end;
    }
    out
}

fn cut(xml: &str, r: std::ops::Range<usize>) -> String {
    format!("{}{}", &xml[..r.start], &xml[r.end..])
}

/// An unsigned Assertion for "mallory" with its own fresh ID.
fn evil_assertion(spec: &Spec) -> String {
    let mut evil = spec.clone();
    evil.assertion_id = random_id();
    evil.name_id = "mallory".into();
    evil.attributes = vec![
        Attr::new("uid", &["mallory"]),
        Attr::new("groups", &["ha-admins"]),
    ];
    evil.assertion_xml()
}

const XSLT: &str = "http://www.w3.org/TR/1999/REC-xslt-19991116";
const XPATH: &str = "http://www.w3.org/TR/1999/REC-xpath-19991116";
const EXC_C14N_TRANSFORM: &str =
    "<ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"></ds:Transform>";

fn xslt_transform(env: &Env) -> String {
    format!(
        "<ds:Transform Algorithm=\"{XSLT}\"><xsl:stylesheet xmlns:xsl=\"http://www.w3.org/1999/XSL/Transform\" version=\"1.0\">\
         <xsl:template match=\"/\"><xsl:copy-of select=\"document('{}')\"/></xsl:template></xsl:stylesheet></ds:Transform>",
        env.evil_url("xslt.xml")
    )
}

fn xpath_transform() -> String {
    format!(
        "<ds:Transform Algorithm=\"{XPATH}\"><ds:XPath>not(ancestor-or-self::ds:Signature)</ds:XPath></ds:Transform>"
    )
}

// ---- the tests ------------------------------------------------------------

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
