//! The Single Logout attack corpus, in the style of `tamper` (one registry
//! of [`Case`]s: id, description, expected outcome, reference), run against
//! the hub in-process with a fixed clock.
//!
//! A LogoutRequest case signs alice in (with a known SessionIndex), sends
//! the variant to `/saml/slo` as the IdP would, and expects the refusal
//! code and a log line naming the reason; her session must still be alive
//! afterwards, so a silent accept fails the case. A LogoutResponse case
//! signs alice in, starts `/saml/logout` to learn our request's ID, sends
//! the variant, expects the refusal, and then the genuine answer must still
//! be accepted, so a variant that consumed the pending request fails too.
//! Controls (valid messages) must be accepted. docs/security.md holds the
//! generated table.

use crate::inproc::{log_line, Browser, Hub, Setup};
use crate::oidc_rig::IDP;
use crate::peers::browser::{query_param, Page};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use openssl::pkey::{PKey, Private};
use samlhub::crypto::SigAlg;
use samlhub::saml::response::fmt_time;
use samlhub::saml::sign::{sign_enveloped, SignOptions};
use samlhub::testing::idp::{random_id, NS_SAML, NS_SAMLP, STATUS_SUCCESS};
use std::io::{Read as _, Write as _};
use std::path::Path;
use time::{Duration, OffsetDateTime};

const CORE_SIG: &str = "SAML Core §5.4; Profiles §4.4.4.1";
const QUERY_SIG: &str = "SAML Bindings §3.4.4.1";
const STATUS_RESPONDER: &str = "urn:oasis:names:tc:SAML:2.0:status:Responder";

/// What must happen to a variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    /// Refused with this `X-Samlhub-Error` code; the log names `reason`.
    Refused(&'static str, &'static str),
    Accepted,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dir {
    /// An IdP-initiated LogoutRequest.
    Request,
    /// The IdP's LogoutResponse to our LogoutRequest.
    Response,
}

/// What reaches `/saml/slo`.
enum Sent {
    Query(String),
    Post(Vec<(&'static str, String)>),
}

struct Case {
    id: &'static str,
    what: &'static str,
    dir: Dir,
    expect: Expect,
    reference: &'static str,
    build: fn(&Ctx, Msg) -> Sent,
    /// Send the message twice: the first must be accepted, the second is
    /// the case (replay).
    twice: bool,
}

/// Keys and names a builder may use.
struct Ctx {
    idp: PKey<Private>,
    attacker: PKey<Private>,
    idp_entity: String,
}

/// Every field of a logout message, valid at the hub's now by default.
#[derive(Clone)]
struct Msg {
    id: String,
    issue_instant: OffsetDateTime,
    not_on_or_after: Option<OffsetDateTime>,
    issuer: String,
    destination: Option<String>,
    name_id: String,
    session_index: Option<String>,
    in_response_to: String,
    status: String,
}

impl Msg {
    fn xml(&self, dir: Dir) -> String {
        let dest = self
            .destination
            .as_deref()
            .map(|d| format!(" Destination=\"{d}\""))
            .unwrap_or_default();
        let head = format!(
            "xmlns:samlp=\"{NS_SAMLP}\" xmlns:saml=\"{NS_SAML}\" ID=\"{}\" Version=\"2.0\" IssueInstant=\"{}\"{dest}",
            self.id,
            fmt_time(self.issue_instant)
        );
        let issuer = format!("<saml:Issuer>{}</saml:Issuer>", self.issuer);
        match dir {
            Dir::Request => {
                let noa = self
                    .not_on_or_after
                    .map(|t| format!(" NotOnOrAfter=\"{}\"", fmt_time(t)))
                    .unwrap_or_default();
                let si = self
                    .session_index
                    .as_deref()
                    .map(|s| format!("<samlp:SessionIndex>{s}</samlp:SessionIndex>"))
                    .unwrap_or_default();
                format!(
                    "<samlp:LogoutRequest {head}{noa}>{issuer}<saml:NameID Format=\"urn:oasis:names:tc:SAML:2.0:nameid-format:persistent\">{}</saml:NameID>{si}</samlp:LogoutRequest>",
                    self.name_id
                )
            }
            Dir::Response => format!(
                "<samlp:LogoutResponse {head} InResponseTo=\"{}\">{issuer}<samlp:Status><samlp:StatusCode Value=\"{}\"/></samlp:Status></samlp:LogoutResponse>",
                self.in_response_to, self.status
            ),
        }
    }
}

fn param(dir: Dir) -> &'static str {
    match dir {
        Dir::Request => "SAMLRequest",
        Dir::Response => "SAMLResponse",
    }
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn deflate_b64(xml: &str) -> String {
    let mut z = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(xml.as_bytes()).unwrap();
    enc(&STANDARD.encode(z.finish().unwrap()))
}

/// A Redirect-binding query. `signed` are the octets the signature covers
/// (built from the pairs by `octets`); `sent` is what goes on the wire.
fn query(
    pairs: &[(&str, String)],
    octets: impl Fn(&[(&str, String)]) -> String,
    alg: SigAlg,
    key: &PKey<Private>,
) -> Sent {
    let signed = octets(pairs);
    let sig = samlhub::crypto::sign(key, alg, signed.as_bytes()).unwrap();
    let mut wire: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
    wire.push(format!("Signature={}", enc(&STANDARD.encode(sig))));
    Sent::Query(wire.join("&"))
}

fn join(pairs: &[(&str, String)]) -> String {
    let v: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
    v.join("&")
}

/// The message by Redirect, signed as the binding says.
fn redirect(dir: Dir, xml: &str, alg: SigAlg, key: &PKey<Private>) -> Sent {
    let pairs = [(param(dir), deflate_b64(xml)), ("SigAlg", enc(alg.uri()))];
    query(&pairs, join, alg, key)
}

fn redirect_unsigned(dir: Dir, xml: &str) -> Sent {
    Sent::Query(format!("{}={}", param(dir), deflate_b64(xml)))
}

fn post(dir: Dir, xml: String) -> Sent {
    Sent::Post(vec![(param(dir), STANDARD.encode(xml))])
}

fn post_signed(dir: Dir, m: &Msg, key: &PKey<Private>) -> Sent {
    let signed = sign_enveloped(&m.xml(dir), &m.id, key, &SignOptions::default()).unwrap();
    post(dir, signed)
}

fn valid_redirect(c: &Ctx, m: &Msg, dir: Dir) -> Sent {
    redirect(dir, &m.xml(dir), SigAlg::RsaSha256, &c.idp)
}

/// A request variant: edit the message, then send it validly signed.
macro_rules! req {
    ($m:ident, $body:block) => {
        |c: &Ctx, mut $m: Msg| {
            $body;
            valid_redirect(c, &$m, Dir::Request)
        }
    };
}
macro_rules! resp {
    ($m:ident, $body:block) => {
        |c: &Ctx, mut $m: Msg| {
            $body;
            valid_redirect(c, &$m, Dir::Response)
        }
    };
}

#[allow(clippy::too_many_arguments)]
const fn case(
    id: &'static str,
    what: &'static str,
    dir: Dir,
    expect: Expect,
    reference: &'static str,
    build: fn(&Ctx, Msg) -> Sent,
    twice: bool,
) -> Case {
    Case {
        id,
        what,
        dir,
        expect,
        reference,
        build,
        twice,
    }
}

const SIG: &str = "signature";
const NOT_SIGNED: &str = "is not signed";
const BAD_SIG: &str = "does not verify with any configured certificate";

mod cases;
mod flows;
use cases::corpus;

// ---- the runner ---------------------------------------------------------

async fn hub() -> Hub {
    Hub::start_with(Setup {
        oidc: false,
        slo: true,
        ..Setup::default()
    })
    .await
}

fn ctx(hub: &Hub) -> Ctx {
    let pem = |p: &str| PKey::private_key_from_pem(p.as_bytes()).unwrap();
    let attacker = samlhub::testing::pki::TestKey::generate("slo-attacker", 2048);
    Ctx {
        idp: pem(&hub.idp.key.key_pem),
        attacker: pem(&attacker.key_pem),
        idp_entity: hub.idp.entity_id.clone(),
    }
}

fn base_msg(hub: &Hub, c: &Ctx, session_index: &str, in_response_to: &str) -> Msg {
    let now = hub.now();
    Msg {
        id: random_id(),
        issue_instant: now,
        not_on_or_after: Some(now + Duration::minutes(5)),
        issuer: c.idp_entity.clone(),
        destination: Some(hub.url("/saml/slo")),
        name_id: "alice".into(),
        session_index: Some(session_index.to_owned()),
        in_response_to: in_response_to.to_owned(),
        status: STATUS_SUCCESS.into(),
    }
}

async fn send(b: &mut Browser, s: &Sent) -> Page {
    match s {
        Sent::Query(q) => b.get(&format!("/saml/slo?{q}")).await,
        Sent::Post(f) => b.post_form("/saml/slo", f).await,
    }
}

/// The ID of the LogoutRequest a redirect to the IdP carries.
fn request_id(location: &str) -> String {
    let raw = STANDARD
        .decode(query_param(location, "SAMLRequest").unwrap())
        .unwrap();
    let mut xml = String::new();
    flate2::read::DeflateDecoder::new(raw.as_slice())
        .read_to_string(&mut xml)
        .unwrap();
    crate::oidc_rig::attr(&xml, "ID").unwrap()
}

fn check(page: &Page, expect: Expect, dir: Dir) -> Result<(), String> {
    match expect {
        Expect::Accepted => {
            let ok = match dir {
                Dir::Request => {
                    page.status == 302
                        && page
                            .location
                            .as_deref()
                            .is_some_and(|l| l.contains("SAMLResponse="))
                }
                Dir::Response => {
                    page.status == 200 && page.body.contains("and at the identity provider")
                }
            };
            ok.then_some(())
                .ok_or_else(|| format!("expected acceptance, got {}", page.head()))
        }
        Expect::Refused(code, reason) => {
            let got = page.header("x-samlhub-error").unwrap_or("(none)");
            if !(400..500).contains(&page.status) || got != code {
                return Err(format!(
                    "expected refusal '{code}', got {} '{got}'",
                    page.status
                ));
            }
            let line = log_line(page);
            line.contains(reason)
                .then_some(())
                .ok_or_else(|| format!("log does not name '{reason}': {line}"))
        }
    }
}

async fn run_one(hub: &Hub, c: &Ctx, case: &Case) -> Result<(), String> {
    let session_index = random_id();
    let mut alice = hub.browser();
    let si = session_index.clone();
    let r = hub
        .sign_in_with(&mut alice, IDP, move |s| s.session_index = si)
        .await;
    if r.status != 303 {
        return Err(format!("sign-in: {}", r.head()));
    }
    let mut idp = hub.browser();
    match case.dir {
        Dir::Request => {
            let msg = base_msg(hub, c, &session_index, "");
            let sent = (case.build)(c, msg);
            if case.twice {
                check(&send(&mut idp, &sent).await, Expect::Accepted, case.dir)?;
            }
            let page = send(&mut idp, &sent).await;
            check(&page, case.expect, case.dir)?;
            let alive = alice.get("/session?format=json").await.status == 200;
            match (case.expect, alive, case.twice) {
                (Expect::Refused(..), false, false) => Err("refused, yet the session ended".into()),
                (Expect::Accepted, true, _) => Err("accepted, yet the session lives".into()),
                _ => Ok(()),
            }
        }
        Dir::Response => {
            let start = alice.get("/saml/logout").await;
            let loc = start.location.clone().unwrap_or_default();
            if start.status != 302 {
                return Err(format!("logout start: {}", start.head()));
            }
            let id = request_id(&loc);
            let msg = base_msg(hub, c, &session_index, &id);
            let sent = (case.build)(c, msg.clone());
            if case.twice {
                check(&send(&mut alice, &sent).await, Expect::Accepted, case.dir)?;
            }
            let page = send(&mut alice, &sent).await;
            check(&page, case.expect, case.dir)?;
            if let Expect::Refused(..) = case.expect {
                if !case.twice {
                    // The refusal consumed nothing: the genuine answer works.
                    let mut genuine = msg;
                    genuine.id = random_id();
                    let p = send(&mut alice, &valid_redirect(c, &genuine, Dir::Response)).await;
                    check(&p, Expect::Accepted, case.dir)
                        .map_err(|e| format!("genuine answer after the refusal: {e}"))?;
                }
            }
            Ok(())
        }
    }
}

#[actix_web::test]
async fn slo_tamper_corpus() {
    let hub = hub().await;
    let c = ctx(&hub);
    let mut failures = Vec::new();
    for case in corpus() {
        if let Err(e) = run_one(&hub, &c, &case).await {
            failures.push(format!("[{}] {e}", case.id));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn slo_tamper_corpus_registry_and_docs_table() {
    let all = corpus();
    let attacks = all.iter().filter(|c| c.reference != "control").count();
    assert!(attacks >= 16, "only {attacks} attack variants");
    let mut ids: Vec<&str> = all.iter().map(|c| c.id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), all.len(), "duplicate ids");
    let mut t = String::from("| id | what it does | expected | reference |\n|---|---|---|---|\n");
    for c in &all {
        let expected = match c.expect {
            Expect::Accepted => "accepted".to_owned(),
            Expect::Refused(code, reason) => format!("`{code}`: {reason}"),
        };
        t.push_str(&format!(
            "| `{}` | {} | {expected} | {} |\n",
            c.id, c.what, c.reference
        ));
    }
    let begin = "<!-- slo-corpus:begin (generated from tests/it/slo_tamper) -->";
    let end = "<!-- slo-corpus:end -->";
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/security.md");
    let doc = std::fs::read_to_string(&path).unwrap();
    let inner = doc
        .split_once(begin)
        .and_then(|(_, rest)| rest.split_once(end))
        .map(|(inner, _)| inner.trim().to_owned());
    if inner.as_deref() != Some(t.trim()) {
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("slo-corpus-table.md");
        std::fs::write(&out, format!("{begin}\n{t}{end}\n")).unwrap();
        panic!(
            "docs/security.md's SLO corpus table is not the registry's; the expected block is in {}",
            out.display()
        );
    }
}
