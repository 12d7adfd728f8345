//! EncryptedAssertion acceptance: generated responses (see `gen_enc`) through
//! the running hub's ACS and through `samlhub inspect --sp-key`, key
//! rollover, the uniform decryption error (`tamper`), and real SimpleSAMLphp
//! (`ssp`).
//!
//! One hub trusts the test IdP three times over: `test` with the defaults,
//! `test-cbc` with `allow_cbc = true`, and `test-legacy` with `allow_cbc` and
//! `allow_rsa1_5`. Each case names the entry it logs in through.

mod ssp;
mod ssp_rollover;
mod tamper;

use crate::gen_enc::{encrypt_assertion, Content, Encryption, KeyPlace, Transport};
use crate::peers::browser::{Browser, Page};
use crate::peers::pki::TestKey;
use crate::peers::samlhub::{run_cli, Samlhub, BIN};
use base64::Engine as _;
use samlhub::saml::response::fmt_time;
use samlhub::saml::sign::SignOptions;
use samlhub::testing::idp::{sign, Signing, Spec, TestIdp, NS_SAML};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use time::OffsetDateTime;

/// The one reason every decryption failure gives.
const DECRYPT: &str = "the encrypted assertion could not be decrypted";

#[allow(clippy::disallowed_methods)] // the hub runs on the real clock
fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

/// What a case builder may use besides the Spec.
struct Env {
    idp: TestIdp,
    /// The hub's encryption certificate (PEM).
    sp_cert: String,
    /// A certificate whose key the hub does not have.
    stranger_cert: String,
}

impl Env {
    /// The Response with the Assertion signed as `how` says, encrypted as
    /// given; with `Signing::Response`/`Both` the Response is signed after
    /// encryption, so its signature covers the ciphertext.
    fn encrypted(&self, spec: &Spec, how: Signing, enc: &Encryption) -> String {
        let opts = SignOptions::default();
        let inner = match how {
            Signing::Assertion | Signing::Both => Signing::Assertion,
            Signing::Response | Signing::None => Signing::None,
        };
        let xml = sign(&spec.to_xml(), spec, inner, &self.idp.key, &opts);
        let xml = encrypt_assertion(&xml, enc).xml;
        match how {
            Signing::Response | Signing::Both => {
                sign(&xml, spec, Signing::Response, &self.idp.key, &opts)
            }
            _ => xml,
        }
    }

    fn enc(&self, content: Content, transport: Transport, place: KeyPlace) -> Encryption {
        Encryption::new(content, transport, place, &self.sp_cert)
    }
}

/// A running hub trusting the test IdP under three entries.
struct Rig {
    hub: Samlhub,
    md_path: PathBuf,
    env: Env,
    files: AtomicUsize,
}

/// One table row: the IdP entry, how to build the document from a valid
/// Spec, and the outcome. `code` "" means accepted.
struct Case {
    name: &'static str,
    idp: &'static str,
    build: fn(&Env, Spec) -> String,
    code: &'static str,
    reason: &'static str,
}

impl Rig {
    /// `previous`: a key to install as `sp-encryption-previous.key`.
    fn start(previous: Option<&TestKey>) -> Rig {
        let idp = TestIdp::new("encrypted");
        let mut hub = Samlhub::prepare(BIN);
        if let Some(k) = previous {
            k.write_to(&hub.data_dir(), "sp-encryption-previous");
        }
        let md_path = hub.dir().join("idp-metadata.xml");
        std::fs::write(&md_path, idp.metadata_xml()).unwrap();
        let md = md_path.display();
        hub.write_config(&format!(
            "[[idp]]\nid = \"test\"\nmetadata_file = \"{md}\"\n\
             [[idp]]\nid = \"test-cbc\"\nmetadata_file = \"{md}\"\nallow_cbc = true\n\
             [[idp]]\nid = \"test-legacy\"\nmetadata_file = \"{md}\"\nallow_cbc = true\nallow_rsa1_5 = true\n"
        ));
        hub.start();
        let sp_cert = std::fs::read_to_string(hub.data_dir().join("sp-encryption.crt")).unwrap();
        Rig {
            hub,
            md_path,
            env: Env {
                idp,
                sp_cert,
                stranger_cert: TestKey::generate("encrypted-stranger", 2048).cert_pem,
            },
            files: AtomicUsize::new(0),
        }
    }

    /// The SP keys `inspect` gets: the data dir's encryption key, and the
    /// previous one when present.
    fn sp_key_args(&self) -> Vec<String> {
        let mut out = Vec::new();
        for f in ["sp-encryption.key", "sp-encryption-previous.key"] {
            let p = self.hub.data_dir().join(f);
            if p.exists() {
                out.push("--sp-key".to_owned());
                out.push(p.display().to_string());
            }
        }
        out
    }

    /// Runs every case, collecting failures; panics with all of them.
    fn run(&self, cases: &[Case]) {
        let failures: Vec<String> = cases.iter().filter_map(|c| self.run_one(c).err()).collect();
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
        let mut b = Browser::new();
        let (relay_state, request_id) = self.hub.begin_login(&mut b, c.idp);
        let at = now();
        let spec = Spec::valid(
            &self.env.idp,
            &self.hub.entity_id(),
            &self.hub.acs_url(),
            Some(&request_id),
            at,
        );
        let xml = (c.build)(&self.env, spec);
        let mut errs = Vec::new();
        let page = b.post_form(
            &self.hub.acs_url(),
            &[
                ("SAMLResponse", b64(&xml)),
                ("RelayState", relay_state.clone()),
            ],
        );
        if let Err(e) = check_page(&page, c.code) {
            errs.push(format!("ACS {e}"));
        } else if c.code.is_empty() {
            if let Err(e) = check_session(&mut b, &self.hub) {
                errs.push(format!("/session {e}"));
            }
        }
        let (rc, v) = self.inspect(&xml, &request_id, at, c.idp);
        if let Err(e) = check_verdict(rc, &v, c.code, c.reason) {
            errs.push(format!("inspect {e}"));
        }
        if errs.is_empty() {
            Ok(())
        } else {
            Err(format!("[{}] {}", c.name, errs.join("; ")))
        }
    }

    /// `samlhub inspect` with every check on, the SP keys, and the flags
    /// that mirror the IdP entry `idp`.
    fn inspect(
        &self,
        xml: &str,
        request_id: &str,
        at: OffsetDateTime,
        idp: &str,
    ) -> (i32, serde_json::Value) {
        let n = self.files.fetch_add(1, Ordering::SeqCst);
        let f = self.hub.dir().join(format!("response-{n}.xml"));
        std::fs::write(&f, xml).unwrap();
        let mut args: Vec<String> = [
            "inspect",
            "--idp-metadata",
            &self.md_path.display().to_string(),
            "--response",
            &f.display().to_string(),
            "--audience",
            &self.hub.entity_id(),
            "--acs",
            &self.hub.acs_url(),
            "--in-response-to",
            request_id,
            "--now",
            &fmt_time(at),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend(self.sp_key_args());
        match idp {
            "test-cbc" => args.push("--allow-cbc".into()),
            "test-legacy" => args.extend(["--allow-cbc".into(), "--allow-rsa1-5".into()]),
            _ => {}
        }
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run_cli(&refs);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let v: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
            panic!(
                "inspect printed no JSON ({e}):\n{stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (out.status.code().unwrap_or(-1), v)
    }
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// `code` "" = accepted (303 to /session); else a 4xx with that code.
fn check_page(page: &Page, code: &str) -> Result<(), String> {
    let got = page.header("x-samlhub-error").unwrap_or("(none)");
    let accepted = page.status == 303
        && page
            .location
            .as_deref()
            .is_some_and(|l| l.ends_with("/session"));
    match (code.is_empty(), accepted) {
        (true, true) => Ok(()),
        (true, false) => Err(format!(
            "expected acceptance, got HTTP {} code {got}",
            page.status
        )),
        (false, true) => Err(format!("expected refusal '{code}', but it was ACCEPTED")),
        (false, false) if got == code && page.status == 403 => Ok(()),
        (false, false) => Err(format!(
            "expected 403 '{code}', got HTTP {} code '{got}'",
            page.status
        )),
    }
}

/// The session the accepted login made shows alice's attributes.
fn check_session(b: &mut Browser, hub: &Samlhub) -> Result<(), String> {
    let j = b.get(&format!("{}/session?format=json", hub.base_url()));
    let v: serde_json::Value =
        serde_json::from_str(&j.body).map_err(|e| format!("{e}: {}", j.head()))?;
    let want = serde_json::json!({
        "subject": "alice",
        "email": "alice@example.org",
        "name": "Alice Example",
        "groups": ["ha-admins", "users"],
    });
    for (k, w) in want.as_object().unwrap() {
        if &v[k] != w {
            return Err(format!("{k} is {} (expected {w}) in {v}", v[k]));
        }
    }
    Ok(())
}

/// Accepted: valid, alice, and it was encrypted. Refused: exit 1 with the
/// reason; the decryption failure must be the exact uniform message.
fn check_verdict(rc: i32, v: &serde_json::Value, code: &str, reason: &str) -> Result<(), String> {
    if code.is_empty() {
        if rc == 0
            && v["valid"] == true
            && v["identity"]["subject"] == "alice"
            && v["encrypted"] == true
        {
            return Ok(());
        }
        return Err(format!("expected valid encrypted alice, exit {rc}: {v}"));
    }
    let got = v["reason"].as_str().unwrap_or("");
    let matches = if reason == DECRYPT {
        got == DECRYPT
    } else {
        got.contains(reason)
    };
    if rc == 1 && v["valid"] == false && matches {
        return Ok(());
    }
    Err(format!(
        "expected exit 1 with reason '{reason}', exit {rc}: {v}"
    ))
}

#[test]
fn encrypted_assertions_are_accepted_through_acs_and_inspect() {
    use Content::*;
    use KeyPlace::*;
    use Transport::*;
    let rig = Rig::start(None);
    rig.run(&[
        Case {
            name: "AES-128-GCM, rsa-oaep-mgf1p, EncryptedKey in KeyInfo, Assertion signed inside",
            idp: "test",
            build: |e, s| {
                e.encrypted(
                    &s,
                    Signing::Assertion,
                    &e.enc(Aes128Gcm, OaepMgf1p, KeyInfo),
                )
            },
            code: "",
            reason: "",
        },
        Case {
            name: "AES-256-GCM, rsa-oaep-mgf1p, RetrievalMethod sibling",
            idp: "test",
            build: |e, s| {
                e.encrypted(
                    &s,
                    Signing::Assertion,
                    &e.enc(Aes256Gcm, OaepMgf1p, RetrievalMethod),
                )
            },
            code: "",
            reason: "",
        },
        Case {
            name: "AES-128-GCM, xmlenc11 rsa-oaep + mgf1sha256, RetrievalMethod sibling",
            idp: "test",
            build: |e, s| {
                e.encrypted(
                    &s,
                    Signing::Assertion,
                    &e.enc(Aes128Gcm, Oaep11Sha256, RetrievalMethod),
                )
            },
            code: "",
            reason: "",
        },
        Case {
            name: "AES-256-GCM, xmlenc11 rsa-oaep + mgf1sha256, EncryptedKey in KeyInfo",
            idp: "test",
            build: |e, s| {
                e.encrypted(
                    &s,
                    Signing::Assertion,
                    &e.enc(Aes256Gcm, Oaep11Sha256, KeyInfo),
                )
            },
            code: "",
            reason: "",
        },
        Case {
            name: "AES-256-GCM, Response signed outside only",
            idp: "test",
            build: |e, s| e.encrypted(&s, Signing::Response, &e.enc(Aes256Gcm, OaepMgf1p, KeyInfo)),
            code: "",
            reason: "",
        },
        Case {
            name: "AES-128-CBC inside a signed Response, no opt-in needed",
            idp: "test",
            build: |e, s| e.encrypted(&s, Signing::Both, &e.enc(Aes128Cbc, OaepMgf1p, KeyInfo)),
            code: "",
            reason: "",
        },
        Case {
            name: "AES-256-CBC with only the Assertion signed, allow_cbc",
            idp: "test-cbc",
            build: |e, s| {
                e.encrypted(
                    &s,
                    Signing::Assertion,
                    &e.enc(Aes256Cbc, Oaep11Sha256, RetrievalMethod),
                )
            },
            code: "",
            reason: "",
        },
        Case {
            name: "rsa-1_5 with allow_rsa1_5",
            idp: "test-legacy",
            build: |e, s| e.encrypted(&s, Signing::Assertion, &e.enc(Aes128Cbc, Rsa1_5, KeyInfo)),
            code: "",
            reason: "",
        },
        Case {
            name: "plaintext relies on xmlns:saml declared on the EncryptedAssertion",
            idp: "test",
            build: |e, s| {
                let ns = format!(" xmlns:saml=\"{NS_SAML}\"");
                let signed = sign(
                    &s.to_xml(),
                    &s,
                    Signing::Assertion,
                    &e.idp.key,
                    &SignOptions::default(),
                );
                // The Response declares saml: only for its Issuer; the
                // Assertion does not declare it at all.
                let moved = signed
                    .replacen(&ns, "", 1)
                    .replacen("<saml:Issuer>", &format!("<saml:Issuer{ns}>"), 1)
                    .replacen(&format!("<saml:Assertion{ns}"), "<saml:Assertion", 1);
                let mut enc = e.enc(Aes128Gcm, OaepMgf1p, KeyInfo);
                enc.saml_ns_on_wrapper = true;
                encrypt_assertion(&moved, &enc).xml
            },
            code: "",
            reason: "",
        },
    ]);
}

#[test]
fn encrypted_assertion_refusals_are_precise_where_nothing_is_secret() {
    use Content::*;
    use KeyPlace::*;
    use Transport::*;
    let rig = Rig::start(None);
    rig.run(&[
        Case {
            name: "CBC with only the Assertion signed, no allow_cbc",
            idp: "test",
            build: |e, s| {
                e.encrypted(
                    &s,
                    Signing::Assertion,
                    &e.enc(Aes128Cbc, OaepMgf1p, KeyInfo),
                )
            },
            code: "encryption_refused",
            reason: "set allow_cbc = true on the [[idp]] entry",
        },
        Case {
            name: "encryption is not a signature: nothing signed",
            idp: "test",
            build: |e, s| e.encrypted(&s, Signing::None, &e.enc(Aes128Gcm, OaepMgf1p, KeyInfo)),
            code: "signature",
            reason: "neither the Response nor the Assertion is signed",
        },
        Case {
            name: "an EncryptedAssertion beside a plain Assertion",
            idp: "test",
            build: |e, s| {
                let enc = e.encrypted(
                    &s,
                    Signing::Assertion,
                    &e.enc(Aes128Gcm, OaepMgf1p, KeyInfo),
                );
                let plain = s.assertion_xml();
                enc.replacen("</samlp:Response>", &format!("{plain}</samlp:Response>"), 1)
            },
            code: "assertion_count",
            reason: "Response contains 2 Assertions",
        },
    ]);
}

#[test]
fn rollover_previous_encryption_key_is_accepted_while_it_exists() {
    use Content::*;
    use KeyPlace::*;
    use Transport::*;
    let previous = TestKey::generate("encrypted-previous-sp-encryption", 2048);
    let mut rig = Rig::start(Some(&previous));
    let to_previous = |e: &Env, s: Spec| {
        let prev = TestKey::generate("encrypted-previous-sp-encryption", 2048);
        let enc = Encryption::new(Aes128Gcm, OaepMgf1p, RetrievalMethod, &prev.cert_pem);
        e.encrypted(&s, Signing::Assertion, &enc)
    };
    rig.run(&[
        Case {
            name: "encrypted to the previous key",
            idp: "test",
            build: to_previous,
            code: "",
            reason: "",
        },
        Case {
            name: "encrypted to the current key",
            idp: "test",
            build: |e, s| {
                e.encrypted(
                    &s,
                    Signing::Assertion,
                    &e.enc(Aes256Gcm, OaepMgf1p, KeyInfo),
                )
            },
            code: "",
            reason: "",
        },
    ]);
    // The metadata publishes the current key only.
    let md = Browser::new().get(&rig.hub.entity_id()).body;
    let b64_of = |pem: &str| {
        let der = openssl::x509::X509::from_pem(pem.as_bytes())
            .unwrap()
            .to_der()
            .unwrap();
        base64::engine::general_purpose::STANDARD.encode(der)
    };
    assert!(md.contains(&b64_of(&rig.env.sp_cert)), "{md}");
    assert!(!md.contains(&b64_of(&previous.cert_pem)), "{md}");

    // Rollover finished: the previous key is removed, and the same kind of
    // response is refused with the uniform error.
    rig.hub.stop();
    std::fs::remove_file(rig.hub.data_dir().join("sp-encryption-previous.key")).unwrap();
    rig.hub.start();
    rig.run(&[Case {
        name: "encrypted to the previous key, after it was removed",
        idp: "test",
        build: to_previous,
        code: "decrypt",
        reason: DECRYPT,
    }]);
}

/// The test encryptor is checked against a second implementation: xmlsec1
/// decrypts what it writes, for each content algorithm, key placement and
/// the key transports xmlsec1 1.2 knows (it predates `xmlenc11#rsa-oaep`).
#[test]
fn test_encryptor_output_decrypts_with_xmlsec1() {
    use Content::*;
    use KeyPlace::*;
    use Transport::*;
    let sp = TestKey::generate("encrypted-xmlsec-sp", 2048);
    let idp = TestIdp::new("encrypted-xmlsec");
    let spec = Spec::valid(&idp, "https://sp.test/", "https://sp.test/acs", None, now());
    let plain = spec.to_xml();
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("sp.key");
    std::fs::write(&key, &sp.key_pem).unwrap();
    let mut failures = Vec::new();
    for (content, transport, place) in [
        (Aes128Gcm, OaepMgf1p, KeyInfo),
        (Aes256Gcm, OaepMgf1p, RetrievalMethod),
        (Aes128Cbc, OaepMgf1p, KeyInfo),
        (Aes256Cbc, Rsa1_5, RetrievalMethod),
    ] {
        let enc = Encryption::new(content, transport, place, &sp.cert_pem);
        let input = dir.path().join("in.xml");
        let output = dir.path().join("out.xml");
        std::fs::write(&input, encrypt_assertion(&plain, &enc).xml).unwrap();
        let out = std::process::Command::new("xmlsec1")
            .arg("--decrypt")
            .arg("--privkey-pem")
            .arg(&key)
            .arg("--id-attr:Id")
            .arg("http://www.w3.org/2001/04/xmlenc#:EncryptedKey")
            .arg("--output")
            .arg(&output)
            .arg(&input)
            .output()
            .expect("xmlsec1 (Debian package xmlsec1)");
        let text = std::fs::read_to_string(&output).unwrap_or_default();
        if !out.status.success()
            || !text.contains("<saml:Assertion")
            || !text.contains("alice@example.org")
        {
            failures.push(format!(
                "{content:?}/{transport:?}/{place:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let _ = std::fs::remove_file(&output);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
