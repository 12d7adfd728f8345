//! Acceptance tests of the ACS against tampered and forged Responses (design
//! §3). Every case goes through the running hub (SP-initiated login, then a
//! POST to the ACS) and through `samlhub inspect` with the same document:
//! the hub must refuse with the expected `X-Samlhub-Error` code, inspect with
//! exit 1 and the expected reason. Controls must be accepted by both.
//!
//! The harness and the string surgery live here; the cases are split by kind:
//! `signature` (content, keys, references, transforms, DTDs) and `checks`
//! (SAML conditions, skew, RelayState, wrapping, replay).

mod checks;
mod signature;

use crate::gen::{cert_der, random_id, sign, Attr, Signing, Spec, TestIdp};
use crate::peers::browser::{Browser, Page};
use crate::peers::pki::TestKey;
use crate::peers::samlhub::{run_cli, Samlhub};
use base64::Engine as _;
use samlhub::saml::dsig::{DigestAlg, SigAlg, SignOptions};
use samlhub::saml::response::fmt_time;
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
        let (relay_state, request_id) = self.hub.begin_login(&mut b, "test");
        Login {
            relay_state,
            request_id,
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
