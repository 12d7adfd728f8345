//! The attack corpus: acceptance tests of the ACS against tampered, wrapped
//! and forged Responses (design §3, docs/security.md "The attack corpus").
//!
//! Every variant is one [`Case`] in one registry, [`corpus`]: a stable id, a
//! one-line description, the expected outcome and a reference. Most cases
//! build a document from a valid [`Spec`]; the runner starts an SP-initiated
//! login at a running hub, POSTs the document to the ACS and gives the same
//! document to `samlhub inspect`. A refusal must carry the expected
//! `X-Samlhub-Error` code, the hub's log and inspect's verdict must both
//! name the expected reason, and the "evil" listener must never be
//! connected to. Scenarios (replay, RelayState swaps, a login at the other
//! IdP, exact skew boundaries, check-config) run their own steps.
//!
//! The hub under test trusts four IdPs ("test", "other", "tenant-b" and
//! "unsol", the one allowing IdP-initiated login), so cross-IdP confusion is
//! tried against a real multi-IdP configuration.
//!
//! Files by kind: `signature` (content, exclusion, References, keys,
//! algorithms, transforms), `wrapping` (XSW1–XSW8 and other placement, ID and
//! root tricks), `parser` (DTDs, entities, limits, encodings, namespaces,
//! comment/text splitting), `checks` (SAML conditions, time, replay,
//! RelayState, cross-IdP), `unsolicited` (IdP-initiated responses at an IdP
//! that allows them: "unsol", which shares "test"'s signing key).

mod checks;
mod parser;
mod signature;
mod unsolicited;
mod wrapping;

use crate::peers::browser::{Browser, Page};
use crate::peers::pki::TestKey;
use crate::peers::samlhub::{run_cli, Samlhub, BIN};
use base64::Engine as _;
use samlhub::saml::response::fmt_time;
use samlhub::saml::sign::SignOptions;
use samlhub::testing::idp::{cert_der, random_id, sign, Attr, Signing, Spec, TestIdp};
use std::collections::BTreeSet;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use time::OffsetDateTime;

#[allow(clippy::disallowed_methods)] // the hub runs on the real clock
pub(crate) fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

fn b64(s: impl AsRef<[u8]>) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

// ---- the registry -----------------------------------------------------------

/// What must happen to a variant.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Expect {
    /// Refused: the ACS answers 4xx with `X-Samlhub-Error: code` and logs a
    /// reason containing `reason`; inspect exits 1 with that reason.
    Refused {
        code: &'static str,
        reason: &'static str,
    },
    /// Accepted, and the identity the hub shows has these (field, value)
    /// pairs (`groups` compared as a comma-joined list).
    Accepted(&'static [(&'static str, &'static str)]),
}

/// How a variant is produced and run.
#[derive(Clone, Copy)]
pub(crate) enum How {
    /// A document built from a valid Spec for a login started at IdP "test".
    Doc(fn(&Env, Spec) -> String),
    /// The same, for a login started at the named IdP ("other" or
    /// "tenant-b"); inspect is given that IdP's metadata.
    DocAt(&'static str, fn(&Env, Spec) -> String),
    /// The SAMLResponse form value itself (base64 or garbage), for a login
    /// at "test"; inspect reads the same value from a file.
    Field(fn(&Env, Spec) -> String),
    /// An unsolicited document built from a valid Spec of IdP "unsol" (no
    /// InResponseTo), posted without RelayState; inspect runs with
    /// `--unsolicited` and that IdP's metadata.
    Unsolicited(fn(&Env, Spec) -> String),
    /// Steps of its own; checks the expectation itself.
    Scenario(fn(&Rig, &Case) -> Result<(), String>),
    /// Tested outside this corpus, where named.
    Elsewhere(&'static str),
}

/// One variant of the corpus.
#[derive(Clone, Copy)]
pub(crate) struct Case {
    /// Stable id, e.g. `XSW3-assertion-signed`.
    pub id: &'static str,
    /// What the variant does, in one line.
    pub what: &'static str,
    pub expect: Expect,
    /// Where the attack comes from (paper, CVE, spec section).
    pub reference: &'static str,
    pub how: How,
    /// A control: a valid document that must be accepted (not an attack).
    pub control: bool,
}

pub(crate) const fn refused(
    id: &'static str,
    what: &'static str,
    code: &'static str,
    reason: &'static str,
    reference: &'static str,
    how: How,
) -> Case {
    Case {
        id,
        what,
        expect: Expect::Refused { code, reason },
        reference,
        how,
        control: false,
    }
}

/// A malicious variant whose right outcome is acceptance with the identity
/// the IdP signed (e.g. comment splitting: the whole text is read).
pub(crate) const fn accepted(
    id: &'static str,
    what: &'static str,
    identity: &'static [(&'static str, &'static str)],
    reference: &'static str,
    how: How,
) -> Case {
    Case {
        id,
        what,
        expect: Expect::Accepted(identity),
        reference,
        how,
        control: false,
    }
}

pub(crate) const fn control(
    id: &'static str,
    what: &'static str,
    identity: &'static [(&'static str, &'static str)],
    how: How,
) -> Case {
    Case {
        id,
        what,
        expect: Expect::Accepted(identity),
        reference: "control",
        how,
        control: true,
    }
}

/// The identity of the valid Spec.
pub(crate) const ALICE: &[(&str, &str)] = &[
    ("subject", "alice"),
    ("username", "alice"),
    ("email", "alice@example.org"),
    ("groups", "ha-admins,users"),
];

/// Every variant, in table order.
pub(crate) fn corpus() -> Vec<Case> {
    let mut all = Vec::new();
    all.extend(signature::cases());
    all.extend(wrapping::cases());
    all.extend(parser::cases());
    all.extend(checks::cases());
    all.extend(unsolicited::cases());
    all.extend(elsewhere());
    all
}

fn elsewhere() -> Vec<Case> {
    vec![refused(
        "BIND-redirect-deflate-bomb",
        "HTTP-Redirect message of about 50 KB that inflates to 50 MB",
        "n/a",
        "the message inflates to more than 262144 bytes",
        "zip/deflate bomb (CWE-409); SAML Bindings §3.4.4.1",
        How::Elsewhere("src/saml/binding.rs, deflate_bomb_stops_at_the_cap, and the Redirect-binding fuzz target"),
    )]
}

/// Error codes the hub can put in `X-Samlhub-Error` (src/http/error.rs),
/// plus `config`: `samlhub check-config` (or inspect) refuses the metadata.
const CODES: &[&str] = &[
    "bad_request",
    "malformed",
    "idp_status",
    "issuer",
    "assertion_count",
    "decrypt",
    "encryption_refused",
    "signature",
    "destination",
    "in_response_to",
    "incomplete",
    "recipient",
    "time",
    "audience",
    "mapping",
    "unknown_relay_state",
    "unsolicited_off",
    "other_browser",
    "replay",
    "config",
];

#[test]
fn tamper_corpus_registry_is_complete() {
    let all = corpus();
    let mut seen = BTreeSet::new();
    let mut dups = Vec::new();
    for c in &all {
        if !seen.insert(c.id) {
            dups.push(c.id);
        }
        assert!(
            !c.id.is_empty()
                && c.id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.'),
            "id '{}' must be ASCII letters, digits, '-' or '.'",
            c.id
        );
        assert!(!c.what.is_empty() && !c.what.contains('|'), "{}", c.id);
        assert!(
            !c.reference.is_empty() && !c.reference.contains('|'),
            "{}",
            c.id
        );
        if let Expect::Refused { code, reason } = c.expect {
            let here = !matches!(c.how, How::Elsewhere(_));
            assert!(
                !here || CODES.contains(&code),
                "{}: unknown code {code}",
                c.id
            );
            assert!(!reason.is_empty(), "{}: empty reason", c.id);
        }
    }
    assert!(dups.is_empty(), "duplicate ids: {dups:?}");
    let attacks: BTreeSet<&str> = all
        .iter()
        .filter(|c| !c.control && !matches!(c.how, How::Elsewhere(_)))
        .map(|c| c.id)
        .collect();
    assert!(
        attacks.len() >= 60,
        "the corpus must hold at least 60 distinct attack variants run here; it has {}",
        attacks.len()
    );
}

// ---- the table in docs/security.md -----------------------------------------

const TABLE_BEGIN: &str = "<!-- attack-corpus:begin (generated from tests/it/tamper; see tamper_corpus_table_matches_docs) -->";
const TABLE_END: &str = "<!-- attack-corpus:end -->";

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|")
}

/// The Markdown table of every variant, as docs/security.md holds it.
pub(crate) fn corpus_table() -> String {
    let mut t = String::from("| id | what it does | expected | reference |\n|---|---|---|---|\n");
    for c in corpus() {
        let expected = match (c.expect, c.how) {
            (Expect::Refused { reason, .. }, How::Elsewhere(_)) => {
                format!("refused by the decoder: {}", md_escape(reason))
            }
            (Expect::Refused { code, reason }, _) => format!("`{code}`: {}", md_escape(reason)),
            (Expect::Accepted(ids), _) if ids == ALICE => "accepted as the signed alice".to_owned(),
            (Expect::Accepted(ids), _) => {
                let shown: Vec<String> = ids.iter().map(|(k, v)| format!("{k} = {v}")).collect();
                format!("accepted, {}", md_escape(&shown.join(", ")))
            }
        };
        let what = match c.how {
            How::Elsewhere(where_) => format!("{} (tested in {where_})", c.what),
            _ => c.what.to_owned(),
        };
        t.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            c.id,
            md_escape(&what),
            expected,
            md_escape(c.reference)
        ));
    }
    t
}

/// docs/security.md holds exactly the generated table between the markers.
/// On a mismatch the expected block is written to the target's tmp dir.
#[test]
fn tamper_corpus_table_matches_docs() {
    assert_docs_block(
        TABLE_BEGIN,
        TABLE_END,
        &corpus_table(),
        "attack-corpus-table.md",
    );
}

/// docs/security.md holds exactly `table` between `begin` and `end`; on a
/// mismatch the expected block is written to the target's tmp dir as `file`.
pub(crate) fn assert_docs_block(begin: &str, end: &str, table: &str, file: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/security.md");
    let doc = std::fs::read_to_string(&path).unwrap();
    let inner = doc
        .split_once(begin)
        .and_then(|(_, rest)| rest.split_once(end))
        .map(|(inner, _)| inner.trim().to_owned());
    if inner.as_deref() != Some(table.trim()) {
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(file);
        std::fs::write(&out, format!("{begin}\n{table}{end}\n")).unwrap();
        panic!(
            "docs/security.md's table between {begin} and {end} is not the registry's; the expected block is in {}",
            out.display()
        );
    }
}

// ---- the rig ----------------------------------------------------------------

/// What a case builder may use besides the Spec.
pub(crate) struct Env {
    /// IdP "test": the one every Doc login starts at.
    pub idp: TestIdp,
    /// IdP "other": also trusted by the hub, with its own key.
    pub other: TestIdp,
    /// IdP "tenant-b": another entityID sharing "test"'s signing key (as
    /// Entra tenants share one certificate).
    pub tenant_b: TestIdp,
    /// IdP "unsol": allows IdP-initiated login (landing on /session); its
    /// own entityID, "test"'s signing key.
    pub unsol: TestIdp,
    /// A key nobody trusts, with its own certificate.
    pub attacker: TestKey,
    /// An RSA-1024 key (too weak to be trusted by anything).
    pub weak: TestKey,
    /// A port nobody may connect to (see [`Rig::assert_no_connection`]).
    pub evil_port: u16,
}

impl Env {
    pub(crate) fn new(evil_port: u16) -> Env {
        Env {
            idp: TestIdp::new("tamper"),
            other: TestIdp::new("tamper-other"),
            tenant_b: TestIdp {
                entity_id: "https://sts.tenant-b.test/".into(),
                sso_url: "https://sts.tenant-b.test/sso".into(),
                ..TestIdp::new("tamper")
            },
            unsol: TestIdp {
                entity_id: "https://unsolicited-idp.test/".into(),
                sso_url: "https://unsolicited-idp.test/sso".into(),
                ..TestIdp::new("tamper")
            },
            attacker: TestKey::generate("tamper-attacker", 2048),
            weak: TestKey::generate("tamper-weak-1024", 1024),
            evil_port,
        }
    }
    pub(crate) fn signed(&self, spec: &Spec, how: Signing) -> String {
        self.signed_by(spec, how, &self.idp.key)
    }
    pub(crate) fn signed_by(&self, spec: &Spec, how: Signing, key: &TestKey) -> String {
        sign(&spec.to_xml(), spec, how, key, &SignOptions::default())
    }
    pub(crate) fn evil_url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/{path}", self.evil_port)
    }
}

/// A running hub trusting IdPs "test", "other" and "tenant-b", plus a
/// listener that must stay silent.
pub(crate) struct Rig {
    pub hub: Samlhub,
    pub md_path: PathBuf,
    pub md_other_path: PathBuf,
    pub md_tenant_b_path: PathBuf,
    pub md_unsol_path: PathBuf,
    pub env: Env,
    evil: TcpListener,
    files: AtomicUsize,
    /// The login cookie of the browser that started each login, by
    /// RelayState: posts stand in for the IdP's cross-site POST (which the
    /// login cookie does not accompany under http) and then complete the
    /// same-site second hop as that browser.
    login_cookies: std::sync::Mutex<std::collections::HashMap<String, String>>,
}

/// A started SP-initiated login.
pub(crate) struct Login {
    pub relay_state: String,
    pub request_id: String,
}

impl Rig {
    pub(crate) fn start() -> Rig {
        let evil = TcpListener::bind(("127.0.0.1", 0)).unwrap();
        evil.set_nonblocking(true).unwrap();
        let env = Env::new(evil.local_addr().unwrap().port());
        let mut hub = Samlhub::prepare(BIN);
        let md_path = hub.dir().join("idp-metadata.xml");
        let md_other_path = hub.dir().join("idp-other-metadata.xml");
        let md_tenant_b_path = hub.dir().join("idp-tenant-b-metadata.xml");
        let md_unsol_path = hub.dir().join("idp-unsol-metadata.xml");
        std::fs::write(&md_path, env.idp.metadata_xml()).unwrap();
        std::fs::write(&md_other_path, env.other.metadata_xml()).unwrap();
        std::fs::write(&md_tenant_b_path, env.tenant_b.metadata_xml()).unwrap();
        std::fs::write(&md_unsol_path, env.unsol.metadata_xml()).unwrap();
        hub.write_config(&format!(
            "[[idp]]\nid = \"test\"\nmetadata_file = \"{}\"\n\n\
             [[idp]]\nid = \"other\"\nmetadata_file = \"{}\"\n\n\
             [[idp]]\nid = \"tenant-b\"\nmetadata_file = \"{}\"\n\n\
             [[idp]]\nid = \"unsol\"\nmetadata_file = \"{}\"\n\
             allow_unsolicited = true\nunsolicited_target = \"/session\"\n",
            md_path.display(),
            md_other_path.display(),
            md_tenant_b_path.display(),
            md_unsol_path.display()
        ));
        hub.start();
        Rig {
            hub,
            md_path,
            md_other_path,
            md_tenant_b_path,
            md_unsol_path,
            env,
            evil,
            files: AtomicUsize::new(0),
            login_cookies: Default::default(),
        }
    }

    pub(crate) fn entity_id(&self) -> String {
        self.hub.entity_id()
    }

    /// The metadata file of a configured IdP.
    pub(crate) fn metadata_of(&self, idp: &str) -> &Path {
        match idp {
            "test" => &self.md_path,
            "other" => &self.md_other_path,
            "tenant-b" => &self.md_tenant_b_path,
            "unsol" => &self.md_unsol_path,
            _ => panic!("no IdP '{idp}' in the rig"),
        }
    }
    pub(crate) fn acs(&self) -> String {
        self.hub.acs_url()
    }

    /// GET /saml/login?idp=…; RelayState and the AuthnRequest ID.
    pub(crate) fn begin_at(&self, idp: &str) -> Login {
        let mut b = Browser::new();
        let page = b.get(&format!("{}/saml/login?idp={idp}", self.hub.base_url()));
        assert_eq!(page.status, 302, "login: {}", page.head());
        let loc = page.location.clone().unwrap();
        let relay_state = crate::peers::browser::query_param(&loc, "RelayState").unwrap();
        let request_id = samlhub::testing::peers::hub::request_id_of(&loc);
        let cookie = page
            .header_all("set-cookie")
            .into_iter()
            .find(|c| c.starts_with("samlhub_login="))
            .and_then(|c| c.split(';').next())
            .unwrap()
            .to_owned();
        self.login_cookies
            .lock()
            .unwrap()
            .insert(relay_state.clone(), cookie);
        Login {
            relay_state,
            request_id,
        }
    }
    pub(crate) fn begin(&self) -> Login {
        self.begin_at("test")
    }

    /// A valid Spec (IdP "test") answering `login`.
    pub(crate) fn spec_for(&self, login: &Login, at: OffsetDateTime) -> Spec {
        Spec::valid(
            &self.env.idp,
            &self.entity_id(),
            &self.acs(),
            Some(&login.request_id),
            at,
        )
    }

    /// POSTs a raw SAMLResponse form value with a browser that keeps cookies.
    pub(crate) fn post_field(
        &self,
        b: &mut Browser,
        field: &str,
        relay_state: Option<&str>,
    ) -> Page {
        let mut form = vec![("SAMLResponse", field.to_owned())];
        if let Some(rs) = relay_state {
            form.push(("RelayState", rs.to_owned()));
        }
        let page = b.post_form(&self.acs(), &form);
        if page.status != 200 || !page.body.contains("action=\"/saml/continue\"") {
            return page;
        }
        // Accepted: the second hop, as the browser that started the login.
        let ticket = crate::peers::browser::hidden_inputs(&page.body)
            .into_iter()
            .find(|(k, _)| k == "ticket")
            .map(|(_, v)| v)
            .unwrap_or_default();
        let cookie = relay_state
            .and_then(|rs| self.login_cookies.lock().unwrap().get(rs).cloned())
            .unwrap_or_default();
        b.post_form_with_headers(
            &format!("{}/saml/continue", self.hub.base_url()),
            &[("ticket", ticket.as_str())],
            &[("Cookie", cookie.as_str())],
        )
    }

    pub(crate) fn post(&self, xml: &str, relay_state: Option<&str>) -> Page {
        self.post_field(&mut Browser::new(), &b64(xml), relay_state)
    }

    /// `samlhub inspect` on `text` (XML or a base64 value) with every check
    /// on and the given IdP metadata; (exit code, verdict).
    pub(crate) fn inspect_with(
        &self,
        md: &Path,
        text: &[u8],
        request_id: &str,
        at: OffsetDateTime,
        extra: &[&str],
    ) -> (i32, serde_json::Value) {
        let n = self.files.fetch_add(1, Ordering::SeqCst);
        let f = self.hub.dir().join(format!("response-{n}.xml"));
        std::fs::write(&f, text).unwrap();
        inspect_file(
            md,
            &f,
            &self.entity_id(),
            &self.acs(),
            request_id,
            at,
            extra,
        )
    }

    pub(crate) fn inspect(
        &self,
        xml: &str,
        request_id: &str,
        at: OffsetDateTime,
        extra: &[&str],
    ) -> (i32, serde_json::Value) {
        self.inspect_with(&self.md_path, xml.as_bytes(), request_id, at, extra)
    }

    /// The evil listener was never connected to.
    pub(crate) fn assert_no_connection(&self, label: &str) -> Result<(), String> {
        match self.evil.accept() {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Ok(()),
            Ok((_, peer)) => Err(format!(
                "{label}: something connected to the evil URL from {peer}"
            )),
            Err(e) => Err(format!("{label}: accept on the evil listener: {e}")),
        }
    }

    pub(crate) fn log_len(&self) -> usize {
        self.hub.log().len()
    }

    /// The ACS answer matches `expect`: the code and a logged reason for a
    /// refusal (logged after byte `log_from`), or a session showing the
    /// expected identity (read with `b`, which holds the cookie).
    pub(crate) fn check_acs(
        &self,
        page: &Page,
        b: &mut Browser,
        expect: Expect,
        log_from: usize,
    ) -> Result<(), String> {
        match expect {
            Expect::Refused { code, reason } => {
                check_page(page, code)?;
                let log = self.hub.log();
                let new = log.get(log_from..).unwrap_or("");
                if !new.contains(reason) {
                    return Err(format!(
                        "code '{code}' right, but the log does not name '{reason}':\n{}",
                        tail(new, 5)
                    ));
                }
                Ok(())
            }
            Expect::Accepted(want) => {
                check_page(page, "")?;
                let s = b.get(&format!("{}/session?format=json", self.hub.base_url()));
                let v: serde_json::Value = serde_json::from_str(&s.body)
                    .map_err(|e| format!("/session is not JSON ({e}): {}", s.head()))?;
                identity_has(&v, want).map_err(|e| format!("/session: {e}"))
            }
        }
    }

    /// Runs each case and collects every failure, then panics with all.
    pub(crate) fn run(&self, cases: &[Case]) {
        let mut failures = Vec::new();
        for c in cases {
            if let Err(e) = self.run_one(c) {
                failures.push(format!("[{}] {e}", c.id));
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
        match c.how {
            How::Doc(build) => self.run_doc(c, "test", |e, s| b64(build(e, s))),
            How::DocAt(idp, build) => self.run_doc(c, idp, |e, s| b64(build(e, s))),
            How::Field(build) => self.run_doc(c, "test", build),
            How::Unsolicited(build) => unsolicited::run(self, c, build),
            How::Scenario(f) => f(self, c),
            How::Elsewhere(_) => Ok(()),
        }
    }

    /// A fresh login at `idp`; the form value posted to the ACS with its
    /// RelayState, and the same document given to inspect with that IdP's
    /// metadata (a Doc as XML, a Field as the form value).
    fn run_doc(
        &self,
        c: &Case,
        idp: &str,
        field: impl Fn(&Env, Spec) -> String,
    ) -> Result<(), String> {
        let login = self.begin_at(idp);
        let at = now();
        let spec = self.spec_for(&login, at);
        let value = field(&self.env, spec);
        let text = if matches!(c.how, How::Field(_)) {
            value.clone().into_bytes()
        } else {
            base64::engine::general_purpose::STANDARD
                .decode(&value)
                .unwrap()
        };
        let mut errs = Vec::new();
        let from = self.log_len();
        let mut b = Browser::new();
        let page = self.post_field(&mut b, &value, Some(&login.relay_state));
        if let Err(e) = self.check_acs(&page, &mut b, c.expect, from) {
            errs.push(format!("ACS {e}"));
        }
        if let Err(e) = self.assert_no_connection("ACS") {
            errs.push(e);
        }
        let md = self.metadata_of(idp);
        let (rc, v) = self.inspect_with(md, &text, &login.request_id, at, &[]);
        if let Err(e) = check_verdict(rc, &v, c.expect) {
            errs.push(format!("inspect {e}"));
        }
        if let Err(e) = self.assert_no_connection("inspect") {
            errs.push(e);
        }
        if errs.is_empty() {
            Ok(())
        } else {
            Err(errs.join("; "))
        }
    }
}

/// `samlhub inspect` of a file; `request_id` "" means `--unsolicited`.
pub(crate) fn inspect_file(
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
        "--now",
        at.as_str(),
    ];
    // An empty request id: the response must be unsolicited.
    if request_id.is_empty() {
        args.push("--unsolicited");
    } else {
        args.extend(["--in-response-to", request_id]);
    }
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

pub(crate) fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// `code` "" = accepted (303 to /session); else refused 4xx with that code.
pub(crate) fn check_page(page: &Page, code: &str) -> Result<(), String> {
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

/// The identity JSON (inspect's `identity` or `/session`) has these fields.
pub(crate) fn identity_has(v: &serde_json::Value, want: &[(&str, &str)]) -> Result<(), String> {
    for (k, expected) in want {
        let got = match &v[*k] {
            serde_json::Value::Array(a) => a
                .iter()
                .map(|x| x.as_str().unwrap_or("?"))
                .collect::<Vec<_>>()
                .join(","),
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        if got != *expected {
            return Err(format!("{k} is '{got}', expected '{expected}': {v}"));
        }
    }
    Ok(())
}

pub(crate) fn check_verdict(rc: i32, v: &serde_json::Value, expect: Expect) -> Result<(), String> {
    match expect {
        Expect::Accepted(want) => {
            if rc != 0 || v["valid"] != true {
                return Err(format!("expected valid, exit {rc}: {v}"));
            }
            identity_has(&v["identity"], want)
        }
        Expect::Refused { reason, .. } => {
            let got = v["reason"].as_str().unwrap_or("");
            if rc == 1 && v["valid"] == false && got.contains(reason) {
                return Ok(());
            }
            Err(format!(
                "expected exit 1 with a reason containing '{reason}', exit {rc}: {v}"
            ))
        }
    }
}

// ---- reasons, as the hub words them ------------------------------------------

pub(crate) const DIGEST: &str = "digest of the signed element does not match";
pub(crate) const UNSIGNED: &str = "neither the Response nor the Assertion is signed";
pub(crate) const BAD_SIG: &str = "does not verify with any configured certificate";
pub(crate) const REF_URI: &str = "Reference URI";
pub(crate) const TRANSFORMS: &str = "Transforms must be exactly enveloped-signature and exc-c14n";
pub(crate) const SHA1: &str = "SHA-1 is not allowed";
pub(crate) const COUNT2: &str = "Response contains 2 Assertions; exactly one is accepted";
pub(crate) const PLACEMENT: &str = "the Assertion is not a direct child of the Response";
pub(crate) const DOCTYPE: &str = "DOCTYPE declarations are not allowed";

// ---- references -----------------------------------------------------------

pub(crate) const XSW_PAPER: &str =
    "Somorovsky et al., On Breaking SAML: Be Whoever You Want to Be (USENIX Security 2012)";
pub(crate) const SAML_SIG: &str = "SAML Core §5.4; XMLDSig §4.3.3";

// ---- string surgery on signed documents -------------------------------

pub(crate) fn replace_once(xml: &str, from: &str, to: &str) -> String {
    assert_eq!(
        xml.matches(from).count(),
        1,
        "'{from}' is not in the document exactly once:\n{xml}"
    );
    xml.replacen(from, to, 1)
}

/// Byte range of the (first) `<saml:Assertion …>…</saml:Assertion>`.
pub(crate) fn assertion_span(xml: &str) -> std::ops::Range<usize> {
    let start = xml.find("<saml:Assertion ").unwrap();
    let close = "</saml:Assertion>";
    let end = xml.find(close).unwrap() + close.len();
    start..end
}

/// Byte ranges of every `<ds:Signature …>…</ds:Signature>`, in order.
pub(crate) fn signature_spans(xml: &str) -> Vec<std::ops::Range<usize>> {
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

/// The Response's own Signature (before the Assertion), if any.
pub(crate) fn response_signature(xml: &str) -> Option<std::ops::Range<usize>> {
    let a = assertion_span(xml);
    signature_spans(xml).into_iter().find(|r| r.end <= a.start)
}

/// The Assertion's own Signature, if any.
pub(crate) fn assertion_signature(xml: &str) -> Option<std::ops::Range<usize>> {
    let a = assertion_span(xml);
    signature_spans(xml)
        .into_iter()
        .find(|r| a.contains(&r.start))
}

pub(crate) fn cut(xml: &str, r: std::ops::Range<usize>) -> String {
    format!("{}{}", &xml[..r.start], &xml[r.end..])
}

/// Inserts `what` just after the first `</saml:Issuer>` of `xml`.
pub(crate) fn after_first_issuer(xml: &str, what: &str) -> String {
    let close = "</saml:Issuer>";
    let at = xml.find(close).unwrap() + close.len();
    format!("{}{what}{}", &xml[..at], &xml[at..])
}

/// Inserts `what` just before the last occurrence of `close` in `xml`.
pub(crate) fn before_last(xml: &str, close: &str, what: &str) -> String {
    let at = xml.rfind(close).unwrap();
    format!("{}{what}{}", &xml[..at], &xml[at..])
}

/// The Spec of the attacker's forged Assertion: "mallory", an admin.
pub(crate) fn evil_spec(spec: &Spec) -> Spec {
    let mut evil = spec.clone();
    evil.response_id = random_id();
    evil.assertion_id = random_id();
    evil.name_id = "mallory".into();
    evil.attributes = vec![
        Attr::new("uid", &["mallory"]),
        Attr::new("groups", &["ha-admins"]),
    ];
    evil
}

/// An unsigned Assertion for "mallory" with its own fresh ID.
pub(crate) fn evil_assertion(spec: &Spec) -> String {
    evil_spec(spec).assertion_xml()
}

/// An unsigned Response with a fresh ID holding the evil Assertion.
pub(crate) fn evil_response(spec: &Spec) -> String {
    evil_spec(spec).to_xml()
}

/// The DER of a key's certificate.
pub(crate) fn der_of(key: &TestKey) -> Vec<u8> {
    cert_der(key)
}
