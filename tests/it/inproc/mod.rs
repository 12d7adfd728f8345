//! The hub in-process: `samlhub::http::app` driven through
//! `actix_web::test` over a temp data dir, an embedded store and a
//! [`FixedClock`], so rules about time are tested by stepping the clock.
//! Nothing listens on the network: the public URL points at a closed port.
//!
//! The harness: [`Hub`] (config, keys, store, clock, service, the test IdPs),
//! [`Browser`] (a cookie jar over the service that never follows a redirect
//! unless asked), a SAML login answered with generated signed Responses, and
//! OpenID Connect helpers (authorize, code flow, token, refresh, userinfo;
//! PKCE, replies and JWT parts come from `oidc_rig`). Every response that
//! passes through a hub is kept for [`Hub::seen`]; warnings the hub logs are
//! kept by their reference for [`log_line`].
#![allow(dead_code)]

mod chooser;
mod ha;
mod metadata;
mod oidc;
mod ops;
mod routes;
mod session;
mod store_work;
mod subjects;

use crate::oidc_rig::{as_client, attr, authn_request, basic_auth, clients_toml, code_params};
use crate::oidc_rig::{exchange_form, refresh_form, Flow, Pkce, Reply, IDP, SECOND_IDP};
use crate::peers::browser::{query_param, resolve, Page};
use crate::peers::pki::TestKey;
use actix_web::test::{self as atest, TestRequest};
use actix_web::web;
use samlhub::clock::{Clock, FixedClock, SystemClock};
use samlhub::http::AppState;
use samlhub::store::{AnyStore, EmbeddedStore, RedisStore};
use samlhub::testing::idp::{Spec, TestIdp};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Mutex, OnceLock};
use time::{Duration, OffsetDateTime};

/// The hub's public URL. Port 1 on the loopback address: nothing listens.
pub const BASE: &str = "http://127.0.0.1:1";

/// One request through the service: the request and its full URL, for the page.
type Call = dyn Fn(TestRequest, String) -> Pin<Box<dyn Future<Output = Page>>>;

/// What a test hub is made of.
pub struct Setup {
    /// Configure a second IdP (`SECOND_IDP`), so the hub has a choice.
    pub two_idps: bool,
    /// The three OIDC clients of `oidc_rig`.
    pub oidc: bool,
    /// More config text; gets the temp dir to place files in.
    pub extra: Box<dyn FnOnce(&Path) -> String>,
    /// More keys for the `[[idp]]` section of the IdP with this id.
    pub idp_toml: Box<dyn Fn(&str) -> String>,
    /// The test IdP publishes a SingleLogoutService.
    pub slo: bool,
    /// Rewrites each IdP's metadata before it is written (e.g. to add a
    /// `validUntil`).
    pub metadata: Box<dyn Fn(String) -> String>,
    /// The store: this Redis URL instead of an embedded file.
    pub redis: Option<String>,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            two_idps: false,
            oidc: true,
            extra: Box::new(|_| String::new()),
            idp_toml: Box::new(|_| String::new()),
            slo: false,
            metadata: Box::new(|m| m),
            redis: None,
        }
    }
}

/// A hub in this process.
pub struct Hub {
    dir: tempfile::TempDir,
    pub clock: FixedClock,
    pub state: web::Data<AppState>,
    /// The IdP with id `IDP`.
    pub idp: TestIdp,
    /// Every configured IdP by id.
    pub idps: Vec<(String, TestIdp)>,
    call: Rc<Call>,
    seen: Rc<RefCell<Vec<(String, Page)>>>,
}

impl Hub {
    /// The test IdP and the three OIDC clients.
    pub async fn start() -> Hub {
        Self::start_with(Setup::default()).await
    }

    pub async fn start_with(setup: Setup) -> Hub {
        capture_logs();
        let dir = tempfile::Builder::new()
            .prefix("samlhub-inproc-")
            .tempdir()
            .unwrap();
        let data = dir.path().join("data");
        write_keys(&data);

        let mut idps = vec![(IDP.to_owned(), TestIdp::new("inproc"))];
        if setup.two_idps {
            idps.push((SECOND_IDP.to_owned(), TestIdp::new("inproc-second")));
        }
        let mut text = format!(
            "listen = \"127.0.0.1:1\"\npublic_url = \"{BASE}\"\ndata_dir = \"{}\"\n",
            data.display()
        );
        text.push_str(&(setup.extra)(dir.path()));
        text.push('\n');
        for (id, idp) in &idps {
            let md = dir.path().join(format!("idp-{id}.xml"));
            let slo = setup.slo.then(|| format!("{}slo", idp.entity_id));
            std::fs::write(
                &md,
                (setup.metadata)(idp.metadata_xml_with_slo(slo.as_deref())),
            )
            .unwrap();
            text.push_str(&format!(
                "[[idp]]\nid = \"{id}\"\ndisplay_name = \"IdP {id}\"\nmetadata_file = \"{}\"\nemail_verified = true\n{}\n",
                md.display(),
                (setup.idp_toml)(id)
            ));
        }
        if setup.oidc {
            text.push_str(&clients_toml());
        }
        let file = dir.path().join("samlhub.toml");
        std::fs::write(&file, &text).unwrap();
        let config = samlhub::outbound::metadata::load_config(Some(&file), &BTreeMap::new())
            .unwrap_or_else(|e| panic!("config: {e}\n{text}"));

        let start = SystemClock.now().replace_nanosecond(0).unwrap();
        let clock = FixedClock::new(start);
        let store = match &setup.redis {
            Some(url) => AnyStore::Redis(RedisStore::new(url).unwrap()),
            None => AnyStore::Embedded(
                EmbeddedStore::open(&dir.path().join("store.redb"), Arc::new(clock.clone()))
                    .unwrap(),
            ),
        };
        let (state, _) = AppState::new(config, Arc::new(clock.clone()), store)
            .unwrap_or_else(|e| panic!("app state: {e}"));
        let state = web::Data::new(state);

        let svc = Rc::new(atest::init_service(samlhub::http::app(state.clone())).await);
        let seen: Rc<RefCell<Vec<(String, Page)>>> = Rc::default();
        let log = seen.clone();
        let call: Rc<Call> = Rc::new(move |req: TestRequest, url: String| {
            let svc = svc.clone();
            let log = log.clone();
            Box::pin(async move {
                let req = req.to_request();
                let method = req.method().to_string();
                let resp = atest::call_service(&*svc, req).await;
                let status = resp.status().as_u16();
                let headers: Vec<(String, String)> = resp
                    .headers()
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.as_str().to_ascii_lowercase(),
                            String::from_utf8_lossy(v.as_bytes()).into_owned(),
                        )
                    })
                    .collect();
                let body = atest::read_body(resp).await;
                let location = headers
                    .iter()
                    .find(|(k, _)| k == "location")
                    .map(|(_, v)| resolve(&url, v));
                let page = Page {
                    url,
                    status,
                    location,
                    body: String::from_utf8_lossy(&body).into_owned(),
                    headers,
                };
                log.borrow_mut().push((method, page.clone()));
                page
            })
        });
        let idp = idps[0].1.clone();
        Hub {
            dir,
            clock,
            state,
            idp,
            idps,
            call,
            seen,
        }
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `BASE` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{BASE}{path}")
    }

    pub fn issuer(&self) -> String {
        BASE.to_owned()
    }

    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    pub fn unix(&self) -> i64 {
        self.clock.now().unix_timestamp()
    }

    /// Steps the hub's clock (and so the store's) by `secs` seconds.
    pub fn advance(&self, secs: i64) {
        self.clock.advance(Duration::seconds(secs));
    }

    pub fn advance_ms(&self, ms: i64) {
        self.clock.advance(Duration::milliseconds(ms));
    }

    /// A browser with an empty cookie jar.
    pub fn browser(&self) -> Browser {
        Browser {
            call: self.call.clone(),
            cookies: BTreeMap::new(),
        }
    }

    /// Every (method, response) that went through this hub so far.
    pub fn seen(&self) -> Vec<(String, Page)> {
        self.seen.borrow().clone()
    }

    pub fn entity_id(&self) -> String {
        self.state.config().entity_id.clone()
    }

    pub fn acs_url(&self) -> String {
        self.state.config().acs_url()
    }

    fn idp_by_sso(&self, url: &str) -> Option<&TestIdp> {
        self.idps
            .iter()
            .map(|(_, i)| i)
            .find(|i| url.starts_with(&i.sso_url))
    }

    fn idp_by_id(&self, id: &str) -> &TestIdp {
        self.idps
            .iter()
            .find(|(i, _)| i == id)
            .map(|(_, i)| i)
            .unwrap_or_else(|| panic!("no IdP {id}"))
    }

    // --- SAML ---------------------------------------------------------------

    /// GET /saml/login?idp=…: the RelayState and the AuthnRequest's ID.
    pub async fn begin_login(&self, b: &mut Browser, idp: &str) -> (String, String) {
        let p = b.get(&format!("/saml/login?idp={idp}")).await;
        assert_eq!(p.status, 302, "login: {}", p.head());
        let (xml, relay) = authn_request(p.location.as_deref().unwrap());
        (relay, attr(&xml, "ID").unwrap())
    }

    /// POSTs to the ACS a Response of `idp` to request `id`, valid at the
    /// hub's now and shaped by `tweak`, signed on Response and Assertion.
    pub async fn answer(
        &self,
        b: &mut Browser,
        idp: &TestIdp,
        id: &str,
        relay: &str,
        tweak: impl FnOnce(&mut Spec),
    ) -> Page {
        let encoded = self.response(idp, id, tweak);
        b.post_form(
            "/saml/acs",
            &[("SAMLResponse", encoded), ("RelayState", relay.to_owned())],
        )
        .await
    }

    /// A Response of `idp` to request `id` as the ACS form carries it
    /// (base64), valid at the hub's now, shaped by `tweak`, signed on
    /// Response and Assertion.
    pub fn response(&self, idp: &TestIdp, id: &str, tweak: impl FnOnce(&mut Spec)) -> String {
        let mut spec = Spec::valid(
            idp,
            &self.entity_id(),
            &self.acs_url(),
            Some(id),
            self.now(),
        );
        tweak(&mut spec);
        spec.post_field(&idp.key)
    }

    /// A whole SP-initiated login at IdP `idp` in `b`; the ACS's answer.
    pub async fn sign_in_with(
        &self,
        b: &mut Browser,
        idp: &str,
        tweak: impl FnOnce(&mut Spec),
    ) -> Page {
        let (relay, id) = self.begin_login(b, idp).await;
        self.answer(b, self.idp_by_id(idp), &id, &relay, tweak)
            .await
    }

    /// A browser signed in as alice at the test IdP (authenticated 5 s ago).
    pub async fn signed_in_browser(&self) -> Browser {
        let mut b = self.browser();
        let r = self.sign_in_with(&mut b, IDP, |_| {}).await;
        assert_eq!(r.status, 303, "{}", r.head());
        b
    }

    // --- OpenID Connect ------------------------------------------------------

    /// `/oidc/authorize?<params>`.
    pub fn authorize_url(&self, params: &[(&str, &str)]) -> String {
        format!("/oidc/authorize?{}", form(params))
    }

    /// Drives `b` from `start` until the hub redirects away from itself or
    /// answers without a redirect. A SAML login on the way is answered by the
    /// IdP it was sent to, as alice, authenticated 5 s before the hub's now.
    pub async fn drive(&self, b: &mut Browser, start: &str) -> Flow {
        let mut page = b.get(start).await;
        let mut authn_requests = Vec::new();
        for _ in 0..8 {
            let Some(loc) = page.location.clone() else {
                break;
            };
            if let Some(idp) = self.idp_by_sso(&loc) {
                let (xml, relay) = authn_request(&loc);
                let id = attr(&xml, "ID").unwrap();
                page = self.answer(b, idp, &id, &relay, |_| {}).await;
                assert_eq!(page.status, 303, "ACS: {}", page.head());
                authn_requests.push(xml);
                continue;
            }
            if !loc.starts_with(BASE) {
                break;
            }
            page = b.get(&loc).await;
        }
        Flow {
            page,
            authn_requests,
        }
    }

    /// The whole code flow for `client` in `b`: the code and the redirect to
    /// the client. `extra` adds or overrides parameters.
    pub async fn code(
        &self,
        b: &mut Browser,
        client: &str,
        pkce: Option<&Pkce>,
        extra: &[(&str, &str)],
    ) -> (String, Flow) {
        let params = code_params(client, pkce, extra);
        let flow = self.drive(b, &self.authorize_url(&params)).await;
        let code = flow.param("code").unwrap_or_else(|| {
            panic!(
                "no code: {} {:?}\n{}",
                flow.page.status,
                flow.page.location,
                flow.page.head()
            )
        });
        (code, flow)
    }

    /// POST /oidc/token with `form`, and Basic credentials if given.
    pub async fn token(&self, form: &[(&str, &str)], basic: Option<(&str, &str)>) -> Reply {
        let auth = basic.map(|(id, secret)| basic_auth(id, secret));
        let headers: Vec<(&str, &str)> =
            auth.iter().map(|a| ("Authorization", a.as_str())).collect();
        Reply::from(
            self.browser()
                .post_form_with_headers("/oidc/token", form, &headers)
                .await,
        )
    }

    /// Exchanges `code` for `client` with its usual authentication.
    pub async fn exchange(&self, client: &str, code: &str, verifier: Option<&str>) -> Reply {
        let (form, basic) = as_client(client, exchange_form(client, code, verifier));
        self.token(&form, basic).await
    }

    /// A refresh for `client` with its usual authentication.
    pub async fn refresh(&self, client: &str, refresh_token: &str) -> Reply {
        let (form, basic) = as_client(client, refresh_form(refresh_token));
        self.token(&form, basic).await
    }

    /// GET /oidc/userinfo with a Bearer token.
    pub async fn userinfo(&self, access_token: &str) -> Reply {
        Reply::from(
            self.browser()
                .get_with_headers(
                    "/oidc/userinfo",
                    &[("Authorization", &format!("Bearer {access_token}"))],
                )
                .await,
        )
    }

    /// The served JSON at `path` (200 expected).
    pub async fn json(&self, path: &str) -> serde_json::Value {
        let p = self.browser().get(path).await;
        assert_eq!(p.status, 200, "{path}: {}", p.head());
        serde_json::from_str(&p.body).unwrap()
    }
}

/// `application/x-www-form-urlencoded` of `pairs`.
pub fn form<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs.iter().map(|(k, v)| (k.as_ref(), v.as_ref())))
        .finish()
}

/// SP keys and a first OIDC signing key, from the per-process key cache,
/// so no hub spends time on RSA key generation.
fn write_keys(data: &Path) {
    let ring = data.join("oidc-keys");
    std::fs::create_dir_all(&ring).unwrap();
    TestKey::generate("samlhub-sp-signing", 2048).write_to(data, "sp-signing");
    TestKey::generate("samlhub-sp-encryption", 2048).write_to(data, "sp-encryption");
    let kid = "rs256-inproc";
    std::fs::write(
        ring.join(format!("{kid}.pem")),
        TestKey::generate("samlhub-oidc-inproc", 2048).key_pem,
    )
    .unwrap();
    let manifest = serde_json::json!({"keys": [
        {"kid": kid, "alg": "RS256", "active_from": 0, "retired_at": null}
    ]});
    std::fs::write(ring.join("keys.json"), manifest.to_string()).unwrap();
}

/// A browser over one hub: a cookie jar, and redirects only when asked.
/// URLs may be paths or absolute URLs under `BASE`.
pub struct Browser {
    call: Rc<Call>,
    cookies: BTreeMap<String, String>,
}

impl Browser {
    pub async fn get(&mut self, url: &str) -> Page {
        self.get_with_headers(url, &[]).await
    }

    pub async fn get_with_headers(&mut self, url: &str, headers: &[(&str, &str)]) -> Page {
        self.send(TestRequest::get(), url, headers).await
    }

    /// POSTs `application/x-www-form-urlencoded`.
    pub async fn post_form<K: AsRef<str>, V: AsRef<str>>(
        &mut self,
        url: &str,
        pairs: &[(K, V)],
    ) -> Page {
        self.post_form_with_headers(url, pairs, &[]).await
    }

    pub async fn post_form_with_headers<K: AsRef<str>, V: AsRef<str>>(
        &mut self,
        url: &str,
        pairs: &[(K, V)],
        headers: &[(&str, &str)],
    ) -> Page {
        self.post_raw(
            url,
            "application/x-www-form-urlencoded",
            form(pairs).into_bytes(),
            headers,
        )
        .await
    }

    /// POSTs `body` as `content_type`.
    pub async fn post_raw(
        &mut self,
        url: &str,
        content_type: &str,
        body: Vec<u8>,
        headers: &[(&str, &str)],
    ) -> Page {
        let req = TestRequest::post()
            .insert_header(("Content-Type", content_type.to_owned()))
            .set_payload(body);
        self.send(req, url, headers).await
    }

    /// A request with any method and no body.
    pub async fn request(&mut self, method: &str, url: &str) -> Page {
        let m = actix_web::http::Method::from_bytes(method.as_bytes()).unwrap();
        self.send(TestRequest::default().method(m), url, &[]).await
    }

    /// One more GET if `page` redirects within the hub; `page` otherwise.
    pub async fn follow(&mut self, page: Page) -> Page {
        match page.location.as_deref() {
            Some(loc) if page.is_redirect() && loc.starts_with(BASE) => {
                let loc = loc.to_owned();
                self.get(&loc).await
            }
            _ => page,
        }
    }

    /// Follows redirects within the hub (at most 10).
    pub async fn follow_all(&mut self, mut page: Page) -> Page {
        for _ in 0..10 {
            let before = page.url.clone();
            page = self.follow(page).await;
            if page.url == before {
                return page;
            }
        }
        panic!("more than 10 redirects, last {}", page.url);
    }

    /// The value of cookie `name` in the jar.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies.get(name).map(String::as_str)
    }

    pub fn set_cookie(&mut self, name: &str, value: &str) {
        self.cookies.insert(name.to_owned(), value.to_owned());
    }

    async fn send(&mut self, mut req: TestRequest, url: &str, headers: &[(&str, &str)]) -> Page {
        let path = url.strip_prefix(BASE).unwrap_or(url);
        assert!(
            path.starts_with('/'),
            "{url} is not on the hub (nothing listens elsewhere)"
        );
        req = req.uri(path);
        if !self.cookies.is_empty() {
            let jar: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            req = req.insert_header(("Cookie", jar.join("; ")));
        }
        for (k, v) in headers {
            req = req.append_header((k.to_string(), v.to_string()));
        }
        let page = (self.call)(req, format!("{BASE}{path}")).await;
        for raw in page.header_all("set-cookie") {
            let c = actix_web::cookie::Cookie::parse(raw.to_owned())
                .unwrap_or_else(|e| panic!("Set-Cookie {raw:?}: {e}"));
            let gone =
                c.max_age().is_some_and(|a| a.is_zero() || a.is_negative()) || c.value().is_empty();
            if gone {
                self.cookies.remove(c.name());
            } else {
                self.cookies
                    .insert(c.name().to_owned(), c.value().to_owned());
            }
        }
        page
    }
}

/// A query parameter of a page's redirect.
pub fn location_param(p: &Page, name: &str) -> Option<String> {
    p.location.as_deref().and_then(|l| query_param(l, name))
}

// --- Log capture --------------------------------------------------------------

/// Lines logged at warn and above, by any hub of this process.
static LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.level() <= log::Level::Warn && m.target().starts_with("samlhub")
    }
    fn log(&self, r: &log::Record<'_>) {
        if self.enabled(r.metadata()) {
            let mut l = LINES.lock().unwrap_or_else(|e| e.into_inner());
            l.push(r.args().to_string());
        }
    }
    fn flush(&self) {}
}

/// Installs the capturing logger once (a logger set by someone else wins,
/// and then [`log_line`] finds nothing).
fn capture_logs() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        if log::set_logger(&Capture).is_ok() {
            log::set_max_level(log::LevelFilter::Warn);
        }
    });
}

/// The logged line of the error answered by `p` (found by its
/// `X-Samlhub-Reference`).
pub fn log_line(p: &Page) -> String {
    let reference = p
        .header("x-samlhub-reference")
        .unwrap_or_else(|| panic!("no reference on {} {}", p.status, p.head()));
    let tag = format!("[{reference}]");
    LINES
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .find(|l| l.contains(&tag))
        .cloned()
        .unwrap_or_else(|| panic!("no log line for {tag}"))
}
