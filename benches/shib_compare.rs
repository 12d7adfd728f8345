//! Logins over HTTP, samlhub beside Shibboleth SP 3 in the same run: the
//! release `samlhub` on the embedded store and on Redis, and Apache with
//! `mod_shib` and `shibd` (`samlhub::testing::peers::shibboleth`,
//! installed with apt when missing; skipped with the reason when that or
//! its start fails).
//!
//! `SHIB_LOGINS=2000 SHIB_CONCURRENCY=1,16 cargo bench --bench shib_compare`
//!
//! Every login is an unsolicited (IdP-initiated, SAML Profiles §4.1.5)
//! Response from one generated IdP, signed on the Response and the
//! Assertion, shaped as SimpleSAMLphp sends it (seven attributes, basic
//! name format), with its own NameID, IDs, Destination, Recipient and
//! Audience for the SP it goes to. All of a row's Responses are made and
//! signed before its timed phase, and each is posted once:
//! - Shibboleth: `POST /Shibboleth.sso/SAML2/POST` with the protected page
//!   as RelayState; a login is the 302 to that page with the
//!   `_shibsession_` cookie.
//! - samlhub (`allow_unsolicited = true`): `POST /saml/acs`, which answers
//!   the confirmation page with a one-time ticket and the login cookie, and
//!   `POST /saml/continue` with that ticket; a login is the 303 with the
//!   `samlhub_session` cookie. Both requests are in the timed login.
//!
//! Any other answer is an error, and the run exits non-zero if there is
//! one. Before the timed rows each SP gets a probe: a login whose session
//! must open the protected page, and the same Response again, which must be
//! refused (so the check above does tell a refusal from a login).
//!
//! CPU is utime + stime from `/proc` of the SP's own processes over the
//! timed phase: samlhub (and redis-server); shibd and every Apache process.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use samlhub::testing::idp::{Spec, TestIdp};
use samlhub::testing::load::flows::ssp_attributes;
use samlhub::testing::load::procstat::{cpu_of, Proc};
use samlhub::testing::peers::browser::{hidden_inputs, Browser, Page};
use samlhub::testing::peers::hub::Samlhub;
use samlhub::testing::peers::redis::RedisServer;
use samlhub::testing::peers::shibboleth::{self, Shibboleth};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant};
use time::OffsetDateTime;

const BIN: &str = env!("CARGO_BIN_EXE_samlhub");
/// The `[[idp]]` id at samlhub.
const IDP_ID: &str = "compare";

/// One SP under load and how a login at it goes.
struct Sp {
    name: &'static str,
    entity_id: String,
    acs_url: String,
    /// The page a login must open (the probe checks it).
    protected: String,
    kind: Kind,
    procs: Vec<Proc>,
}

enum Kind {
    /// The RelayState: where Shibboleth sends the browser.
    Shibboleth {
        target: String,
    },
    Samlhub {
        base: String,
    },
}

/// What runs an SP (its processes, stopped on drop at the end of its rows).
type Running = Box<dyn std::any::Any>;

fn start_samlhub(idp: &TestIdp, redis: bool) -> (Sp, Running) {
    let redis = redis.then(RedisServer::start);
    let mut hub = Samlhub::prepare(BIN);
    let md = hub.dir().join("idp.xml");
    std::fs::write(&md, idp.metadata_xml()).unwrap();
    let store = redis
        .as_ref()
        .map(|r| format!("store = \"{}\"\n", r.url()))
        .unwrap_or_default();
    hub.write_config(&format!(
        "{store}[[idp]]\nid = \"{IDP_ID}\"\nmetadata_file = \"{}\"\nallow_unsolicited = true\n",
        md.display()
    ));
    hub.start();
    let mut procs = vec![Proc::new("samlhub", hub.pid().unwrap())];
    procs.extend(redis.as_ref().map(|r| Proc::new("redis", r.pid().unwrap())));
    let sp = Sp {
        name: if redis.is_some() {
            "samlhub redis"
        } else {
            "samlhub embedded"
        },
        entity_id: hub.entity_id(),
        acs_url: hub.acs_url(),
        protected: format!("{}/session?format=json", hub.base_url()),
        kind: Kind::Samlhub {
            base: hub.base_url(),
        },
        procs,
    };
    (sp, Box::new((hub, redis)))
}

fn start_shibboleth(idp: &TestIdp, quick: bool) -> Result<(Sp, Running), String> {
    if quick && !shibboleth::installed() {
        return Err("not installed, and `cargo test --benches` does not install it".into());
    }
    let shib = Shibboleth::start(&idp.entity_id, &idp.metadata_xml())?;
    let sp = Sp {
        name: "shibboleth",
        entity_id: shib.entity_id(),
        acs_url: shib.acs_url(),
        protected: shib.target_url(),
        kind: Kind::Shibboleth {
            target: shib.target_url(),
        },
        procs: shib.processes(),
    };
    Ok((sp, Box::new(shib)))
}

fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// Login `n`'s Response for `sp`, both signed, as the posted base64 field.
fn response(idp: &TestIdp, sp: &Sp, n: usize, now: OffsetDateTime) -> String {
    let user = format!("user{n:07}-{}", samlhub::testing::idp::random_id());
    let mut spec = Spec::valid(idp, &sp.entity_id, &sp.acs_url, None, now);
    spec.name_id = user.clone();
    spec.attributes = ssp_attributes(&user);
    spec.post_field(&idp.key)
}

/// The form body of login `n` at `sp`: a fresh Response.
fn prepare(idp: &TestIdp, sp: &Sp, n: usize, now: OffsetDateTime) -> String {
    let b64 = response(idp, sp, n, now);
    match &sp.kind {
        Kind::Shibboleth { target } => form(&[("SAMLResponse", &b64), ("RelayState", target)]),
        Kind::Samlhub { .. } => form(&[("SAMLResponse", &b64)]),
    }
}

fn has_cookie(page: &Page, prefix: &str) -> bool {
    page.header_all("set-cookie")
        .iter()
        .any(|c| c.starts_with(prefix))
}

fn refused(page: &Page) -> String {
    format!(
        "{} answered {} ({})",
        page.url,
        page.status,
        page.header("x-samlhub-error").unwrap_or("-")
    )
}

/// Posts one prepared login as a new browser: `Ok` only for the answer
/// that signs the browser in.
fn login(b: &mut Browser, sp: &Sp, body: &str) -> Result<(), String> {
    const FORM: &str = "application/x-www-form-urlencoded";
    b.agent().cookie_jar_lock().clear();
    let page = b.try_post(&sp.acs_url, FORM, body, &[])?;
    match &sp.kind {
        Kind::Shibboleth { target } => {
            let to = page.location.as_deref() == Some(target.as_str());
            if page.status == 302 && to && has_cookie(&page, Shibboleth::SESSION_COOKIE) {
                Ok(())
            } else {
                Err(refused(&page))
            }
        }
        Kind::Samlhub { base } => {
            if page.status != 200 {
                return Err(refused(&page));
            }
            let ticket = hidden_inputs(&page.body)
                .into_iter()
                .find(|(k, _)| k == "ticket")
                .map(|(_, v)| v)
                .ok_or("no ticket on the confirmation page")?;
            let url = format!("{base}{}", samlhub::routes::SAML_CONTINUE);
            let page = b.try_post(&url, FORM, &form(&[("ticket", &ticket)]), &[])?;
            if page.status == 303 && has_cookie(&page, samlhub::http::SESSION_COOKIE) {
                Ok(())
            } else {
                Err(refused(&page))
            }
        }
    }
}

/// One login whose session must open the protected page, then the same
/// Response again, which must be refused.
fn probe(idp: &TestIdp, sp: &Sp) -> Result<(), String> {
    let mut b = Browser::new();
    let body = prepare(idp, sp, 0, now());
    login(&mut b, sp, &body).map_err(|e| format!("probe login: {e}"))?;
    let page = b.try_get(&sp.protected)?;
    let shows = match &sp.kind {
        Kind::Shibboleth { .. } => Shibboleth::PAGE_TEXT,
        Kind::Samlhub { .. } => "user0000000",
    };
    if page.status != 200 || !page.body.contains(shows) {
        return Err(format!(
            "the session did not open {}: {} {}",
            sp.protected, page.status, page.body
        ));
    }
    match login(&mut b, sp, &body) {
        Ok(()) => Err("a replayed Response was taken as a login".into()),
        Err(_) => Ok(()),
    }
}

#[allow(clippy::disallowed_methods)]
fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

/// The figures of one SP at one concurrency.
struct Row {
    sp: &'static str,
    concurrency: usize,
    logins: usize,
    errors: Vec<String>,
    wall: Duration,
    cpu: f64,
    micros: Vec<u64>,
}

impl Row {
    fn per_sec(&self) -> f64 {
        self.logins as f64 / self.wall.as_secs_f64().max(1e-9)
    }
    fn per_cpu_sec(&self) -> f64 {
        self.logins as f64 / self.cpu.max(1e-9)
    }
    fn quantile_ms(&self, p: f64) -> f64 {
        let mut v = self.micros.clone();
        v.sort_unstable();
        let i = ((v.len() as f64 * p) as usize).min(v.len().saturating_sub(1));
        v.get(i).copied().unwrap_or(0) as f64 / 1e3
    }
}

/// Prepares `n` logins for `sp` (untimed), then posts them from
/// `concurrency` workers, each post once.
fn run(idp: &TestIdp, sp: &Sp, n: usize, concurrency: usize) -> Row {
    let at = now();
    let bodies: Vec<String> = (0..n).map(|i| prepare(idp, sp, i, at)).collect();
    let next = AtomicUsize::new(0);
    let errors = Mutex::new(Vec::new());
    let micros = Mutex::new(Vec::with_capacity(n));
    let ready = Barrier::new(concurrency + 1);
    let (t0, cpu0) = std::thread::scope(|s| {
        for _ in 0..concurrency {
            s.spawn(|| {
                let mut b = Browser::new();
                let mut mine = Vec::new();
                ready.wait();
                while let Some(body) = bodies.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let t = Instant::now();
                    let outcome = login(&mut b, sp, body);
                    mine.push(t.elapsed().as_micros() as u64);
                    if let Err(e) = outcome {
                        errors.lock().unwrap().push(e);
                    }
                }
                micros.lock().unwrap().extend(mine);
            });
        }
        let cpu0: f64 = cpu_of(&sp.procs).iter().sum();
        let t0 = Instant::now();
        ready.wait();
        // The scope joins the workers before returning; measure at the end.
        (t0, cpu0)
    });
    let wall = t0.elapsed();
    let cpu = cpu_of(&sp.procs).iter().sum::<f64>() - cpu0;
    let errors = errors.into_inner().unwrap();
    Row {
        sp: sp.name,
        concurrency,
        logins: n - errors.len(),
        errors,
        wall,
        cpu,
        micros: micros.into_inner().unwrap(),
    }
}

fn env_list(name: &str, default: &str) -> Vec<usize> {
    std::env::var(name)
        .unwrap_or_else(|_| default.to_owned())
        .split(',')
        .map(|s| {
            s.trim()
                .parse()
                .unwrap_or_else(|_| panic!("{name}: cannot read '{s}'"))
        })
        .collect()
}

fn main() {
    // `cargo test --benches` runs this without `--bench`: keep that quick.
    let quick = !std::env::args().any(|a| a == "--bench");
    let n = samlhub::testing::env_or("SHIB_LOGINS", if quick { 4 } else { 2000 });
    let levels = env_list("SHIB_CONCURRENCY", "1,16");
    let idp = TestIdp::new("compare");
    println!("{n} logins per row, each Response posted once; concurrency {levels:?}");
    println!(
        "{:<17} {:>4} {:>7} {:>7} {:>9} {:>7} {:>7} {:>8} {:>10}",
        "sp", "conc", "logins", "wall s", "logins/s", "p50 ms", "p99 ms", "cpu s", "per cpu-s"
    );
    let mut rows = Vec::new();
    let mut failed = false;
    for name in ["samlhub embedded", "samlhub redis", "shibboleth"] {
        let started = match name {
            "shibboleth" => start_shibboleth(&idp, quick),
            hub => Ok(start_samlhub(&idp, hub == "samlhub redis")),
        };
        let (sp, running) = match started {
            Ok(s) => s,
            Err(e) => {
                println!("{name}: skipped: {e}");
                continue;
            }
        };
        if let Err(e) = probe(&idp, &sp) {
            println!("{name}: probe failed: {e}");
            failed = true;
            continue;
        }
        let field = response(&idp, &sp, 0, now()).len();
        println!("{name}: posted SAMLResponse field (base64) {field} bytes");
        for &c in &levels {
            let r = run(&idp, &sp, n, c);
            println!(
                "{:<17} {:>4} {:>7} {:>7.2} {:>9.0} {:>7.2} {:>7.2} {:>8.2} {:>10.0}",
                r.sp,
                c,
                r.logins,
                r.wall.as_secs_f64(),
                r.per_sec(),
                r.quantile_ms(0.5),
                r.quantile_ms(0.99),
                r.cpu,
                r.per_cpu_sec()
            );
            for e in r.errors.iter().take(5) {
                println!("  error: {e}");
            }
            failed |= !r.errors.is_empty();
            rows.push(r);
        }
        drop(running);
    }
    ratios(&rows);
    if failed {
        eprintln!("some logins were not accepted (see above)");
        std::process::exit(1);
    }
}

/// samlhub's figures over Shibboleth's at each concurrency.
fn ratios(rows: &[Row]) {
    let find = |sp: &str, c: usize| rows.iter().find(|r| r.sp == sp && r.concurrency == c);
    for shib in rows.iter().filter(|r| r.sp == "shibboleth") {
        for hub in ["samlhub embedded", "samlhub redis"] {
            if let Some(h) = find(hub, shib.concurrency) {
                println!(
                    "{hub} / shibboleth at concurrency {}: logins/s ×{:.2}, per cpu-s ×{:.2}",
                    shib.concurrency,
                    h.per_sec() / shib.per_sec().max(1e-9),
                    h.per_cpu_sec() / shib.per_cpu_sec().max(1e-9)
                );
            }
        }
    }
}
